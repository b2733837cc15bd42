//! Forgery and integrity: keys in one canonical form and never weak, ids in one canonical form,
//! and forks believed (and recorded) only once their signature holds.

use anjian_sync::client::Device;
use anjian_tests::TestServer;
use anjian_tests::devices::PHOTO;
use anjian_tests::raw::{RawDevice, hazard_report};
use serde_json::json;

/// The server, the admin's token and two inspectors' tokens.
async fn town() -> (TestServer, String, String, String) {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let li = server.add_inspector(&admin, "lili").await;
    let wang = server.add_inspector(&admin, "wang").await;
    (server, admin, li, wang)
}

async fn enrol(server: &TestServer, token: &str, key: &str) -> anjian_tests::Reply {
    server
        .post(
            "/v1/devices",
            Some(token),
            json!({"public_key": key, "name": "手机"}),
        )
        .await
}

#[tokio::test]
async fn keys_are_taken_only_in_lower_case_and_compared_as_bytes() {
    let (server, admin, li, wang) = town().await;
    let device = RawDevice::enrol(&server, &li, [5; 32]).await;
    let key = device.key.public_hex();
    let upper = key.to_uppercase();
    let mut mixed = key.clone();
    mixed.replace_range(..1, &key[..1].to_uppercase());
    let mixed = if mixed == key {
        // The first digit is a number: capitalise the first letter instead.
        let at = key.find(|c: char| c.is_ascii_alphabetic()).unwrap();
        let mut m = key.clone();
        m.replace_range(at..=at, &key[at..=at].to_uppercase());
        m
    } else {
        mixed
    };
    assert_ne!(mixed, key);
    for (token, form) in [(&li, &upper), (&wang, &upper), (&wang, &mixed)] {
        enrol(&server, token, form)
            .await
            .assert_error(400, "invalid-field");
    }
    // The same bytes, for another user or after revocation, are the same key.
    enrol(&server, &wang, &key)
        .await
        .assert_error(409, "device-key-enrolled");
    let path = format!("/v1/admin/devices/{}/revoke", device.id);
    server.post(&path, Some(&admin), json!({})).await.ok(200);
    enrol(&server, &li, &key)
        .await
        .assert_error(409, "device-key-enrolled");
    let devices = server.get("/v1/devices", Some(&admin)).await;
    let devices = devices.ok(200)["devices"].as_array().unwrap().clone();
    assert_eq!(
        devices.len(),
        2,
        "the office device and the one enrolled: {devices:?}"
    );
}

#[tokio::test]
async fn weak_keys_are_refused_at_enrolment() {
    let (server, _, li, _) = town().await;
    // The identity point, and the point of order 2: under either, a "signature" verifies for
    // any message without any secret.
    let identity = format!("01{}", "00".repeat(31));
    let order_two = format!("ec{}7f", "ff".repeat(30));
    for key in [identity, order_two] {
        let reply = enrol(&server, &li, &key).await;
        reply.assert_error(400, "invalid-field");
        assert!(
            reply.body["message"].as_str().unwrap().contains("weak"),
            "{reply:?}"
        );
    }
}

#[tokio::test]
async fn ids_in_upper_case_are_malformed_not_a_second_entity() {
    let (server, admin, li, _) = town().await;
    let mut device = RawDevice::enrol(&server, &li, [6; 32]).await;
    let hazard = Device::new_entity_id();
    let report = device.next(
        "hazard.report",
        &hazard,
        hazard_report("配电箱未接地"),
        &[PHOTO],
    );
    let reply = device.push(&server, &[report]).await;
    assert_eq!(
        reply.ok(200)["receipts"][0]["verdict"],
        "applied",
        "{reply:?}"
    );

    let twin = device.next(
        "hazard.report",
        &hazard.to_uppercase(),
        hazard_report("同一隐患的大写孪生"),
        &[PHOTO],
    );
    let reply = device.push(&server, &[twin]).await;
    let body = reply.ok(200);
    assert_eq!(body["refused"]["code"], "malformed-event", "{body}");
    assert_eq!(body["receipts"], json!([]));

    let upper_device = json!({"device_id": device.id.to_uppercase(), "device_clock_ms": 0,
        "events": []});
    server
        .post("/v1/sync/push", Some(&li), upper_device)
        .await
        .assert_error(400, "invalid-field");

    let hazards = server.get("/v1/office/hazards", Some(&admin)).await;
    let hazards = hazards.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(hazards.len(), 1, "{hazards:?}");
}

#[tokio::test]
async fn a_genuine_fork_is_refused_and_recorded_only_when_signed() {
    let (server, admin, li, _) = town().await;
    let mut device = RawDevice::enrol(&server, &li, [7; 32]).await;
    let hazard = Device::new_entity_id();
    let first = device.next("hazard.report", &hazard, hazard_report("第一版"), &[PHOTO]);
    device
        .push(&server, std::slice::from_ref(&first))
        .await
        .ok(200);

    // The device's own key signs seq 1 again with other content: a device restored from an
    // old backup, or a cloned one. Refused, and kept for audit.
    let mut body = first.body.clone();
    body.payload = hazard_report("第二版");
    body.id = uuid::Uuid::now_v7().to_string();
    let fork = device.key.sign(body.clone()).unwrap();
    let reply = device.push(&server, std::slice::from_ref(&fork)).await;
    let refused = &reply.ok(200)["refused"];
    assert_eq!(
        (refused["code"].as_str(), refused["expected_seq"].as_u64()),
        (Some("fork"), Some(2))
    );

    let forks_path = format!("/v1/admin/devices/{}/forks", device.id);
    let forks = server.get(&forks_path, Some(&admin)).await;
    let forks = forks.ok(200)["forks"].as_array().unwrap().clone();
    assert_eq!(forks.len(), 1, "{forks:?}");
    assert_eq!(
        (forks[0]["seq"].as_u64(), forks[0]["hash"].as_str()),
        (Some(1), Some(fork.hash.as_str()))
    );
    assert_eq!(forks[0]["event"]["payload"]["description"], "第二版");

    // The same content under anyone else's signature is not the device's: refused as such,
    // and nothing is recorded against it.
    let stranger = anjian_sync::event::DeviceKey::from_secret([8; 32]);
    body.payload = hazard_report("栽赃");
    let unsigned = stranger.sign(body.clone()).unwrap();
    let reply = device.push(&server, &[unsigned]).await;
    assert_eq!(reply.ok(200)["refused"]["code"], "bad-signature");
    // `seq` 0 is malformed, not a fork.
    body.seq = 0;
    let zero = device.key.sign(body.clone()).unwrap();
    let reply = device.push(&server, &[zero]).await;
    assert_eq!(reply.ok(200)["refused"]["code"], "malformed-event");
    let forks = server.get(&forks_path, Some(&admin)).await;
    assert_eq!(forks.ok(200)["forks"].as_array().unwrap().len(), 1);

    // Genuine forks without end are refused without end, but only the first 32 are kept.
    body.seq = 1;
    for n in 0..40 {
        body.payload = hazard_report(&format!("第{n}次分叉"));
        let fork = device.key.sign(body.clone()).unwrap();
        let reply = device.push(&server, &[fork]).await;
        assert_eq!(reply.ok(200)["refused"]["code"], "fork");
    }
    let forks = server.get(&forks_path, Some(&admin)).await;
    assert_eq!(forks.ok(200)["forks"].as_array().unwrap().len(), 32);

    // Only an admin reads them.
    server
        .get(&forks_path, Some(&li))
        .await
        .assert_error(403, "forbidden");
    let unknown = format!("/v1/admin/devices/{}/forks", uuid::Uuid::now_v7());
    server
        .get(&unknown, Some(&admin))
        .await
        .assert_error(404, "device-unknown");
}

/// A server on loopback that answers every request with `answer` (an independent, or broken,
/// implementation of the API, as far as the client can tell).
async fn answering(answer: serde_json::Value) -> (String, tokio::task::JoinHandle<()>) {
    use poem::listener::{Acceptor, Listener, TcpListener};
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
    let endpoint = poem::endpoint::make_sync(move |_| {
        poem::Response::builder()
            .content_type("application/json")
            .body(answer.to_string())
    });
    let task = tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(acceptor)
            .run(endpoint)
            .await;
    });
    (format!("http://{addr}"), task)
}

#[tokio::test]
async fn a_client_takes_only_login_and_enrolment_answers_the_protocol_describes() {
    let user = json!({"id": "0192f3a0-0000-7000-8000-0000000000b1", "username": "lili",
        "roles": ["inspector"], "scopes": {"town": true, "grids": []}});
    let mut without_id = user.clone();
    without_id.as_object_mut().unwrap().remove("id");
    let mut upper_id = user.clone();
    upper_id["id"] = json!("0192F3A0-0000-7000-8000-0000000000B1");
    for answer in [
        json!({"user": user}),
        json!({"token": "anj_x", "user": without_id}),
        json!({"token": "anj_x", "user": upper_id}),
        json!({"token": "", "user": user}),
    ] {
        let (url, server) = answering(answer.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let mut device = Device::open(dir.path(), &url).unwrap();
        let refused = device.login("lili", "password").await;
        assert!(
            matches!(refused, Err(anjian_sync::client::ClientError::Transport(_))),
            "{answer}: {refused:?}"
        );
        assert_eq!(device.identity().unwrap(), None, "nothing is stored");
        server.abort();
    }

    // A login the protocol describes, then an enrolment answer without the device's id.
    let (url, server) =
        answering(json!({"token": "anj_x", "user": user, "id": "not-a-uuid"})).await;
    let dir = tempfile::tempdir().unwrap();
    let mut device = Device::open(dir.path(), &url).unwrap();
    device.login("lili", "password").await.unwrap();
    let refused = device.enrol("手机").await;
    assert!(
        matches!(refused, Err(anjian_sync::client::ClientError::Transport(_))),
        "{refused:?}"
    );
    assert_eq!(device.identity().unwrap().unwrap().device_id, None);
    server.abort();
}
