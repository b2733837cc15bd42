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

/// A client that speaks HTTP/2 without upgrading (prior knowledge), as any h2c client may.
fn h2_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

/// A body of `total` bytes sent in 64 KiB pieces as a stream, so that no length is declared.
fn streamed(total: usize) -> reqwest::Body {
    let piece = vec![b'{'; 64 * 1024];
    let pieces = total.div_ceil(piece.len());
    reqwest::Body::wrap_stream(futures_util::stream::iter(
        (0..pieces).map(move |_| Ok::<_, std::io::Error>(piece.clone())),
    ))
}

#[tokio::test]
async fn bodies_without_a_length_are_counted_as_they_are_read_over_http2() {
    let server = TestServer::start_with(|s| {
        s.blobs.max_bytes = 1024 * 1024;
        s.blobs.max_reserved_upload_bytes = 1024 * 1024;
    })
    .await;
    let admin = server.admin().await;
    let h2 = h2_client();
    // 8 MiB with neither Content-Length nor Transfer-Encoding: refused at the 1 MiB JSON limit,
    // before login or the push's token are looked at.
    for path in ["/v1/auth/login", "/v1/sync/push"] {
        let response = h2
            .post(server.url(path))
            .header("content-type", "application/json")
            .body(streamed(8 * 1024 * 1024))
            .send()
            .await
            .unwrap();
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        let reply = anjian_tests::server::reply(response).await;
        reply.assert_error(413, "payload-too-large");
    }
    // The photo form, whose limit is the largest photo: its text fields are counted too.
    let response = h2
        .post(server.url("/v1/blobs"))
        .bearer_auth(&admin)
        .header("content-type", "multipart/form-data; boundary=X")
        .body(streamed(4 * 1024 * 1024))
        .send()
        .await
        .unwrap();
    let reply = anjian_tests::server::reply(response).await;
    reply.assert_error(413, "payload-too-large");
    assert_serving(&server).await;
}

#[tokio::test]
async fn a_body_that_stalls_is_cut_off() {
    let server = TestServer::start_with(|s| s.http.body_read_timeout_secs = 1).await;
    let head = "POST /v1/auth/login HTTP/1.1\r\nContent-Type: application/json";
    let mut stalled = stalled_request(&server, head, 100, 10).await;
    let answer = tokio::time::timeout(ANSWER, read_answer(&mut stalled))
        .await
        .expect("a stalled body was never cut off");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body-stalled"), "{answer}");
}

#[tokio::test]
async fn a_body_sent_a_byte_at_a_time_is_cut_off() {
    let server = TestServer::start_with(|s| {
        s.http.body_read_timeout_secs = 1;
        s.http.min_body_bytes_per_sec = 1000;
    })
    .await;
    let head = "POST /v1/auth/login HTTP/1.1\r\nContent-Type: application/json";
    let (mut answer, mut trickle) = stalled_request(&server, head, 1000, 1).await.into_split();
    // A byte every quarter second: never silent for the second `stall` allows, but far below
    // the rate. The trickle stops by itself after ten seconds.
    let sender = tokio::spawn(async move {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if trickle.write_all(b"x").await.is_err() {
                break;
            }
        }
    });
    let answer = tokio::time::timeout(ANSWER, read_answer(&mut answer))
        .await
        .expect("a trickling body was never cut off");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body-stalled"), "{answer}");
    assert!(
        answer.contains("slower than 1000 bytes a second"),
        "{answer}"
    );
    sender.abort();
    assert_serving(&server).await;
}

#[tokio::test]
async fn a_slow_push_body_holds_no_sync_turn() {
    let server = TestServer::start_with(|s| s.http.max_concurrent_syncs = 1).await;
    let admin = server.admin().await;
    server.add_inspector(&admin, "li.g1").await;
    let li =
        anjian_tests::TestDevice::enrolled(&server, "li.g1", anjian_tests::USER_PASSWORD).await;
    // The only turn's worth of push, its body begun and then silent (for the default 30 s).
    let _slow = stalled_request(&server, "POST /v1/sync/push HTTP/1.1", 1000, 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::time::timeout(Duration::from_secs(10), li.sync())
        .await
        .expect("a sync waited behind a body still arriving")
        .unwrap();
}

/// A server with one place for a sync and none to wait in with a body read (one waits in line
/// for `queue_secs`, its body unread), bodies cut off after 2 s silent; its admin's token; and
/// an inspector's device holding one unsent hazard.
async fn one_sync_place(queue_secs: u64) -> (TestServer, String, anjian_tests::TestDevice) {
    let server = TestServer::start_with(|s| {
        s.http.max_concurrent_syncs = 1;
        s.http.max_waiting_syncs = 0;
        s.http.sync_queue_secs = queue_secs;
        s.http.body_read_timeout_secs = 2;
        s.metrics.enabled = true;
        s.metrics.token = secrecy::SecretString::from(crate::metrics::TOKEN.to_string());
    })
    .await;
    let admin = server.admin().await;
    server.add_inspector(&admin, "li.g1").await;
    let li =
        anjian_tests::TestDevice::enrolled(&server, "li.g1", anjian_tests::USER_PASSWORD).await;
    li.report_hazard("general");
    (server, admin, li)
}

/// The server's count of syncs waiting in line for a place.
async fn syncs_in_line(server: &TestServer) -> f64 {
    crate::metrics::value(
        &crate::metrics::scraped(server).await,
        "anjian_syncs_in_line",
        &[],
    )
}

#[tokio::test]
async fn a_sync_past_the_queue_is_answered_busy_unread_and_the_device_comes_back() {
    let (server, admin, li) = one_sync_place(0).await;
    let push = "POST /v1/sync/push HTTP/1.1";
    let with_session = format!("{push}\r\nAuthorization: Bearer {admin}");
    // A place is for a session: a body without one, however slow, takes none, and a refused
    // token is answered at once, its body unread.
    let _anonymous = stalled_request(&server, push, 1000, 10).await;
    let mut refused = stalled_request(
        &server,
        &format!("{push}\r\nAuthorization: Bearer not-a-token"),
        100_000,
        0,
    )
    .await;
    let answer = tokio::time::timeout(Duration::from_secs(5), read_answer(&mut refused))
        .await
        .expect("a refused token waited for its body");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    // The only place, taken by a push with a session whose body is still arriving: nothing is
    // answered it while its body may still come.
    let mut slow = stalled_request(&server, &with_session, 1000, 10).await;
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(
        Duration::from_millis(500),
        tokio::io::AsyncReadExt::read(&mut slow, &mut byte),
    )
    .await;
    assert!(early.is_err(), "the place was not free: {early:?}");

    // One more is answered at once, its body never asked for.
    let mut next = stalled_request(&server, &with_session, 100_000, 0).await;
    let answer = tokio::time::timeout(Duration::from_secs(5), read_answer(&mut next))
        .await
        .expect("a sync past the queue waited");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("server-busy"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );

    // A device turned away keeps coming back, more times than its tries (3), without giving
    // up; once the stalled body is cut off (2 s) and its place freed, its sync goes through.
    let started = std::time::Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(20), li.sync())
        .await
        .expect("the device gave up waiting")
        .unwrap();
    assert!(
        started.elapsed() > Duration::from_millis(1000),
        "{report:?}"
    );
    assert!(li.outbox().unwrap().is_empty(), "{report:?}");
    drop(slow);
}

#[tokio::test]
async fn a_sync_waits_in_line_for_a_place_and_is_served_when_one_frees() {
    let (server, admin, li) = one_sync_place(10).await;
    let before = li.traffic().requests;
    li.sync().await.unwrap();
    let alone = li.traffic().requests - before;

    // The only place, taken by a push whose body stalls; it is cut off after 2 s.
    let with_session = format!("POST /v1/sync/push HTTP/1.1\r\nAuthorization: Bearer {admin}");
    let _slow = stalled_request(&server, &with_session, 1000, 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A second push in line, its head sent and its body not: were its body read while it
    // waits, it would be cut off as stalled (2 s) before its place came.
    let mut waiting = stalled_request(&server, &with_session, 100_000, 0).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(syncs_in_line(&server).await, 1.0);
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(
        Duration::from_millis(1200),
        tokio::io::AsyncReadExt::read(&mut waiting, &mut byte),
    )
    .await;
    assert!(early.is_err(), "a sync in line was answered: {early:?}");

    // A device behind them waits in line and is served once a place frees, without being
    // turned away: it sends no more requests than the same sync with the place free.
    li.report_hazard("general");
    let before = li.traffic().requests;
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(20), li.sync())
        .await
        .expect("the device waited too long")
        .unwrap();
    assert!(
        started.elapsed() > Duration::from_millis(1000),
        "the device did not wait for the place"
    );
    assert_eq!(
        li.traffic().requests - before,
        alone,
        "the device was turned away"
    );
    assert!(li.outbox().unwrap().is_empty());
    // The push in line got its place first, and then its body was read and cut off.
    let answer = tokio::time::timeout(Duration::from_secs(10), read_answer(&mut waiting))
        .await
        .expect("the push in line was never answered");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(syncs_in_line(&server).await, 0.0);
}

#[tokio::test]
async fn a_push_in_line_over_http2_holds_at_most_a_window_of_its_body_and_one_cancelled_leaves_the_line()
 {
    let (server, admin, _li) = one_sync_place(10).await;
    // The only place, taken by a push whose body stalls; it is cut off after 2 s.
    let with_session = format!("POST /v1/sync/push HTTP/1.1\r\nAuthorization: Bearer {admin}");
    let _slow = stalled_request(&server, &with_session, 1000, 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A push over HTTP/2 whose 896 KiB body is all ready to go, in 8 KiB pieces counted as the
    // client takes them to send: while it waits in line, the server takes only what its
    // flow-control window lets the client send.
    const PIECE: usize = 8 * 1024;
    let taken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = taken.clone();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter((0..112).map(move |_| {
        counted.fetch_add(PIECE, std::sync::atomic::Ordering::SeqCst);
        Ok::<_, std::io::Error>(vec![b'{'; PIECE])
    })));
    let push = h2_client()
        .post(server.url("/v1/sync/push"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(body)
        .send();
    tokio::pin!(push);
    let early = tokio::time::timeout(Duration::from_millis(600), &mut push).await;
    assert!(early.is_err(), "a push in line was answered: {early:?}");
    // A second push in line that its client cancels (the stream is reset) leaves the line.
    let cancelled = tokio::spawn(
        h2_client()
            .post(server.url("/v1/sync/push"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body("{}")
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(syncs_in_line(&server).await, 2.0);
    cancelled.abort();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(syncs_in_line(&server).await, 1.0);
    let held = taken.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        held <= 64 * 1024 + 2 * PIECE,
        "{held} bytes of a body waiting in line were taken"
    );
    // Once the place frees, the body is read whole and judged: it is not JSON.
    let response = tokio::time::timeout(Duration::from_secs(15), push)
        .await
        .expect("the push in line was never answered")
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let reply = anjian_tests::server::reply(response).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(taken.load(std::sync::atomic::Ordering::SeqCst), 112 * PIECE);
}

/// Reads what the server sends until it closes the connection or stops sending for a second,
/// for ten seconds at most.
async fn read_answer(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    for _ in 0..10 {
        let read = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buffer)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buffer[..n]),
            Err(_) if !answer.is_empty() => break,
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Waits until the server closes `stream`, reading and dropping what it sends; says how long
/// that took, or `None` when it stayed open for `within`.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> Option<Duration> {
    use tokio::io::AsyncReadExt as _;
    let start = std::time::Instant::now();
    let mut buffer = [0u8; 4096];
    while start.elapsed() < within {
        match tokio::time::timeout(within, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
    None
}

#[tokio::test]
async fn idle_and_slow_connections_are_closed() {
    let server = TestServer::start_with(|s| {
        s.http.idle_timeout_secs = 1;
        s.http.header_read_timeout_secs = 1;
    })
    .await;
    // A connection that never sends anything.
    let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    assert!(
        closed_within(&mut idle, Duration::from_secs(10))
            .await
            .is_some(),
        "an idle connection stayed open"
    );
    // A connection that trickles a request head, a byte at a time, never finishing it.
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let trickle = async {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if slow.write_all(b"X").await.is_err() {
                return true;
            }
        }
        false
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(10), trickle)
            .await
            .unwrap_or(false),
        "a connection trickling its request head stayed open"
    );
    // A keep-alive connection is closed once idle after its answer.
    let mut kept = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr);
    kept.write_all(request.as_bytes()).await.unwrap();
    assert!(
        closed_within(&mut kept, Duration::from_secs(10))
            .await
            .is_some(),
        "a keep-alive connection stayed open after its answer"
    );
    assert_serving(&server).await;
}

#[tokio::test]
async fn connections_past_the_limit_are_told_to_come_back() {
    let server = TestServer::start_with(|s| s.http.max_connections = 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr);
        stream.write_all(request.as_bytes()).await.unwrap();
        let answer = read_answer(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        held.push(stream);
    }
    let mut fifth = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let answer = read_answer(&mut fifth).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("Retry-After: 5"), "{answer}");
    assert!(answer.contains("server-busy"), "{answer}");
    held.clear();
    let mut answered = false;
    for _ in 0..100 {
        let reply = tokio::time::timeout(ANSWER, server.get("/healthz", None)).await;
        if reply.is_ok_and(|r| r.status == 200) {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "the server did not take connections again");
}

#[tokio::test]
async fn uploads_at_once_and_the_disk_they_reserve_are_bounded() {
    let server = TestServer::start_with(|s| {
        s.http.max_concurrent_uploads = 1;
        s.blobs.max_bytes = 1024 * 1024;
        s.blobs.max_reserved_upload_bytes = 3 * 1024 * 1024;
    })
    .await;
    let admin = server.admin().await;
    let mib = 1024 * 1024;
    let first = server
        .upload_location(&admin, mib as u64, &"01".repeat(32))
        .await;
    let second = server
        .upload_location(&admin, mib as u64, &"02".repeat(32))
        .await;
    server
        .upload_location(&admin, mib as u64, &"03".repeat(32))
        .await;
    // Three unfinished uploads of 1 MiB reserve all 3 MiB: a fourth must wait.
    let fourth = server
        .create_upload(&admin, mib as u64, &"04".repeat(32))
        .await;
    assert_eq!(
        (fourth.status, fourth.code()),
        (503, "upload-capacity"),
        "{fourth:?}"
    );
    assert!(fourth.header("retry-after").is_some(), "{fourth:?}");

    // One append in hand is all the server takes at once.
    let head = format!(
        "PATCH {first} HTTP/1.1\r\nAuthorization: Bearer {admin}\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream"
    );
    let slow = stalled_request(&server, &head, mib, 1000).await;
    let mut busy = None;
    for _ in 0..200 {
        let reply = server.append(&admin, &second, 0, b"x", None, false).await;
        if reply.status == 503 {
            busy = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let busy = busy.expect("a second upload was taken while the first was in hand");
    assert_eq!(busy.code(), "server-busy", "{busy:?}");
    assert_eq!(busy.header("retry-after"), Some("5"));
    drop(slow);
}

#[tokio::test]
async fn extreme_numbers_are_answered_not_crashed_on() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let li = server.add_inspector(&admin, "lili").await;
    let mut device = anjian_tests::raw::RawDevice::enrol(&server, &li, [9; 32]).await;
    // What a hostile client sends: a well-formed event whose `seq` is then set to anything.
    let event = |seq: u64| {
        let body = device.body(
            1,
            anjian_sync::event::GENESIS_HASH,
            "hazard.report",
            &anjian_sync::client::Device::new_entity_id(),
            anjian_tests::raw::hazard_report("极端数值"),
        );
        let mut json = serde_json::to_value(device.key.sign(body).unwrap()).unwrap();
        json["seq"] = serde_json::json!(seq);
        json
    };
    // `seq` at the top of u64: one event alone, and two "in order" past it.
    let reply = device.push_json(&server, vec![event(u64::MAX)], 0).await;
    assert_eq!(
        reply.ok(200)["refused"]["code"],
        "malformed-event",
        "{reply:?}"
    );
    let reply = device
        .push_json(&server, vec![event(u64::MAX), event(1)], 0)
        .await;
    reply.assert_error(400, "invalid-field");

    // A payload number that has no absolute value in i64: no canonical encoding, refused.
    let mut extreme = event(1);
    extreme["payload"]["count"] = serde_json::json!(i64::MIN);
    let reply = device.push_json(&server, vec![extreme], 0).await;
    assert_eq!(
        reply.ok(200)["refused"]["code"],
        "malformed-event",
        "{reply:?}"
    );

    // A device clock at either end of i64: the event is taken, its time marked unreliable.
    let first = device.next(
        "hazard.report",
        &anjian_sync::client::Device::new_entity_id(),
        anjian_tests::raw::hazard_report("时钟错乱"),
        &[anjian_tests::devices::PHOTO],
    );
    let second = device.next(
        "hazard.report",
        &anjian_sync::client::Device::new_entity_id(),
        anjian_tests::raw::hazard_report("时钟错乱"),
        &[anjian_tests::devices::PHOTO],
    );
    for (signed, clock) in [(first, i64::MIN), (second, i64::MAX)] {
        let json = serde_json::to_value(&signed).unwrap();
        let reply = device.push_json(&server, vec![json], clock).await;
        let receipt = &reply.ok(200)["receipts"][0];
        assert_eq!(receipt["seq"].as_u64(), Some(signed.body.seq), "{reply:?}");
    }
    assert_serving(&server).await;
}
