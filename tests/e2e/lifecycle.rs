//! Starting, stopping and restarting: what survives, what is refused, and the public endpoints.

use std::time::Duration;

use anjian_server::store::RedbStore;
use anjian_tests::{ADMIN_PASSWORD, TestServer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn users_and_sessions_survive_a_restart() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let (_, reviewer) = server.add_user(&admin, "reviewer", &["reviewer"]).await;

    let server = server.restart().await;
    assert_eq!(
        server.get("/v1/me", Some(&reviewer)).await.ok(200)["username"],
        "reviewer"
    );
    server.get("/v1/me", Some(&admin)).await.ok(200);
    assert_eq!(
        server.users(&admin).await.len(),
        2,
        "no second admin was created"
    );
    server.login("admin", ADMIN_PASSWORD).await.ok(200);
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_is_refused() {
    let server = TestServer::start().await;
    let err = server.second_on_same_dir().await.unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("in use by another anjian-server"),
        "{message}"
    );
    // The first server is unaffected.
    server.admin().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_and_closes_cleanly() {
    let mut server = TestServer::start().await;
    let body = json!({"username": "admin", "password": ADMIN_PASSWORD}).to_string();
    let (first, rest) = body.split_at(10);

    // A request is in flight: its head and part of its body have arrived.
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /v1/auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
        server.addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Shutdown begins while it is in flight; the rest of the body still gets an answer.
    let dir = server.data_dir().to_path_buf();
    let stopping = tokio::spawn(async move {
        server.stop().await;
        server
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"token\""), "{answer}");

    let server = tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .unwrap()
        .unwrap();
    // New connections are refused, and the database was closed cleanly.
    assert!(tokio::net::TcpStream::connect(server.addr).await.is_err());
    let store = RedbStore::open(&dir.join(anjian_server::config::DATABASE_FILE)).unwrap();
    assert!(!store.was_repaired(), "the database was closed cleanly");
}

#[tokio::test]
async fn health_docs_and_spec_are_served() {
    let server = TestServer::start().await;
    let health = server.get("/healthz", None).await;
    assert_eq!(health.ok(200)["status"], "ok");

    let spec = server.get("/openapi.json", None).await;
    let spec = spec.ok(200);
    assert_eq!(spec["info"]["title"], "Anjian (安检) API");
    assert!(spec["paths"]["/v1/auth/login"]["post"].is_object());

    let http = reqwest::Client::new();
    let yaml = http.get(server.url("/openapi.yaml")).send().await.unwrap();
    assert_eq!(yaml.status(), 200);
    assert_eq!(yaml.text().await.unwrap(), anjian_server::api::spec_yaml());

    let docs = http.get(server.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "interactive docs"
    );
}
