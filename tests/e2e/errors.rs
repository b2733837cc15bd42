//! One error body for everything that goes wrong before or inside an operation.

use anjian_tests::TestServer;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn unknown_routes_and_methods() {
    let server = TestServer::start().await;
    server
        .get("/v1/nothing-here", None)
        .await
        .assert_error(404, "not-found");
    server
        .call(Method::DELETE, "/v1/auth/login", None, None)
        .await
        .assert_error(405, "method-not-allowed");
    server
        .call(Method::PUT, "/healthz", None, None)
        .await
        .assert_error(405, "method-not-allowed");
    // A 405 says what the path does take (RFC 9110), path parameters and all.
    for (method, path, allow) in [
        (Method::TRACE, "/healthz", "GET, HEAD"),
        (Method::DELETE, "/v1/auth/login", "POST"),
        (Method::PUT, "/v1/blobs/ab", "GET, HEAD"),
    ] {
        let response = reqwest::Client::new()
            .request(method.clone(), server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
    }
}

#[tokio::test]
async fn malformed_and_wrongly_typed_bodies_change_nothing() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let before = server.users(&admin).await;
    let path = "/v1/admin/users";
    let cases: [(&str, &[u8], u16, &str); 5] = [
        (
            "application/json",
            b"{\"username\": ",
            400,
            "malformed-body",
        ),
        ("application/json", b"[1, 2]", 400, "malformed-body"),
        ("application/json", b"\xff\xfe\x00", 400, "malformed-body"),
        (
            "application/x-www-form-urlencoded",
            b"username=x&roles=admin",
            415,
            "unsupported-media-type",
        ),
        ("text/plain", b"{}", 415, "unsupported-media-type"),
    ];
    for (content_type, body, status, code) in cases {
        server
            .call_raw(
                Method::POST,
                path,
                Some(&admin),
                content_type,
                body.to_vec(),
            )
            .await
            .assert_error(status, code);
    }
    let reply = server
        .post(
            path,
            Some(&admin),
            json!({"username": "ok-name", "roles": "leader"}),
        )
        .await;
    reply.assert_error(400, "malformed-body");

    assert_eq!(server.users(&admin).await, before, "nothing changed");
}

#[tokio::test]
async fn a_photo_form_without_its_file_is_a_malformed_body() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let boundary = "----wxUploadBoundary7MA4YWxkTrZu0gW";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"sha256\"\r\n\r\n{}\r\n--{boundary}--\r\n",
        "0".repeat(64)
    );
    server
        .call_raw(
            Method::POST,
            "/v1/blobs",
            Some(&admin),
            &format!("multipart/form-data; boundary={boundary}"),
            body.into_bytes(),
        )
        .await
        .assert_error(400, "malformed-body");
}

#[tokio::test]
async fn oversized_bodies_get_413_and_change_nothing() {
    let server = TestServer::start_with(|s| s.http.max_json_body_bytes = 2048).await;
    let admin = server.admin().await;
    let before = server.users(&admin).await;
    let big = json!({"username": "big", "display_name": "x".repeat(4096), "roles": ["leader"]});

    // With a Content-Length: refused before the body is read.
    let reply = server
        .post("/v1/admin/users", Some(&admin), big.clone())
        .await;
    reply.assert_error(413, "payload-too-large");
    assert!(reply.body["message"].as_str().unwrap().contains("2048"));

    // Without one (chunked): refused once the limit is passed.
    let body = big.to_string();
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /v1/admin/users HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        server.addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("\"code\":\"payload-too-large\""),
        "{answer}"
    );

    assert_eq!(server.users(&admin).await, before, "nothing changed");
}

#[tokio::test]
async fn bad_query_parameters_get_the_error_body() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server
        .get("/v1/admin/users?limit=lots", Some(&admin))
        .await
        .assert_error(400, "invalid-parameter");
    server
        .get("/v1/admin/users?after=yesterday", Some(&admin))
        .await
        .assert_error(400, "invalid-parameter");
}
