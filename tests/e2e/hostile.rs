//! Hostile clients: requests that try to hang, exhaust or crash the server. Each test sends what
//! an attacker (or an unlucky phone) would, over real sockets, and checks that the server answers
//! within bounds and keeps serving others.

use std::time::Duration;

use anjian_tests::TestServer;
use tokio::io::AsyncWriteExt as _;

/// How long any answer the tests wait for may take before the test counts the server as hung.
const ANSWER: Duration = Duration::from_secs(20);

/// Opens a raw connection and sends the head of a request declaring `declared` body bytes,
/// then `sent` bytes of it, and keeps the connection open.
async fn stalled_request(
    server: &TestServer,
    head: &str,
    declared: usize,
    sent: usize,
) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "{head}\r\nHost: {}\r\nContent-Length: {declared}\r\n\r\n",
        server.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b'x'; sent]).await.unwrap();
    stream.flush().await.unwrap();
    stream
}

/// Asks `/healthz` and fails the test unless the server answers 200 in time.
async fn assert_serving(server: &TestServer) {
    let reply = tokio::time::timeout(ANSWER, server.get("/healthz", None))
        .await
        .expect("the server no longer answers /healthz");
    reply.ok(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_append_to_a_busy_upload_is_refused_and_the_server_stays_up() {
    let mut server = TestServer::start().await;
    let admin = server.admin().await;
    let length = 4 * 1024 * 1024;
    let location = server
        .upload_location(&admin, length as u64, &"ab".repeat(32))
        .await;

    // A phone starts a 4 MiB chunk, sends 1,000 bytes and stalls with the connection open.
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nAuthorization: Bearer {admin}\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream"
    );
    let slow = stalled_request(&server, &head, length, 1000).await;
    let mut held = 0;
    for _ in 0..200 {
        held = server.upload_offset(&admin, &location).await.offset();
        if held == 1000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(held, 1000, "the stalled append's bytes never arrived");

    // Its retry, while the first is still open, is told the upload is busy.
    let retry = tokio::time::timeout(
        ANSWER,
        server.append(&admin, &location, 1000, b"more", None, false),
    )
    .await
    .expect("a second append to a busy upload was never answered");
    assert_eq!(
        (retry.status, retry.code()),
        (409, "upload-busy"),
        "{retry:?}"
    );
    assert_serving(&server).await;

    // Once the first goes away, the upload is free again and continues where it stands.
    drop(slow);
    let mut next = None;
    for _ in 0..200 {
        let reply = tokio::time::timeout(
            ANSWER,
            server.append(&admin, &location, 1000, b"more", None, false),
        )
        .await
        .expect("an append after the stalled one ended was never answered");
        if reply.status != 409 {
            next = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let next = next.expect("the upload stayed busy after its request ended");
    assert_eq!(next.status, 204, "{next:?}");
    assert_eq!(next.offset(), 1004);
    assert_serving(&server).await;
    tokio::time::timeout(ANSWER, server.stop())
        .await
        .expect("the server did not stop");
}
