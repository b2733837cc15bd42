//! The sync protocol end to end: real devices (the `client` feature) against the real server.

use anjian_sync::client::{PhotoState, Step};
use anjian_sync::entity::EntityType;
use anjian_sync::judge::Verdict;
use anjian_tests::devices::{PHOTO, meeting_on};
use anjian_tests::{ADMIN_PASSWORD, TestDevice, TestServer, USER_PASSWORD};
use redb::ReadableTable as _;
use serde_json::{Value, json};

/// A town with an inspector of grid g1, the safety manager of e1, and team leads of e1/t1 and
/// e2/t1.
async fn town() -> (TestServer, String) {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    for (enterprise, team) in [("e1", "t1"), ("e1", "t2"), ("e2", "t1")] {
        server.add_team(&admin, enterprise, team).await;
    }
    for (username, roles, scopes) in [
        ("lili", json!(["inspector"]), json!({"grids": ["g1"]})),
        (
            "zhou",
            json!(["enterprise_manager"]),
            json!({"enterprise": "e1"}),
        ),
        (
            "wang",
            json!(["team_lead"]),
            json!({"enterprise": "e1", "team": "t1"}),
        ),
        (
            "sun",
            json!(["team_lead"]),
            json!({"enterprise": "e2", "team": "t1"}),
        ),
    ] {
        server
            .create_user(
                &admin,
                json!({"username": username, "password": USER_PASSWORD, "roles": roles, "scopes": scopes}),
            )
            .await;
    }
    (server, admin)
}

fn state(device: &TestDevice, id: &str) -> Value {
    device
        .entity(id)
        .unwrap()
        .expect("the entity is in the local view")
        .body["state"]
        .clone()
}

#[tokio::test]
async fn two_devices_offline_then_a_stale_transition_is_a_conflict_both_see() {
    let (server, _) = town().await;
    let li = TestDevice::enrolled(&server, "lili", USER_PASSWORD).await;
    let zhou = TestDevice::enrolled(&server, "zhou", USER_PASSWORD).await;

    // The inspector reports a hazard offline; the local view shows it at once.
    let (hazard, judgement) = li.report_hazard("general");
    assert_eq!(judgement.verdict, Verdict::Applied);
    assert_eq!(state(&li, &hazard), "reported");
    li.sync().await.unwrap();
    zhou.sync().await.unwrap();
    assert_eq!(state(&zhou, &hazard), "reported", "the manager pulled it");

    // Both go offline and both move it from `reported`.
    assert_eq!(
        zhou.move_hazard(&hazard, "reported", "rectifying", 0)
            .verdict,
        Verdict::Applied
    );
    assert_eq!(
        li.move_hazard(&hazard, "reported", "rectifying", 0).verdict,
        Verdict::Applied
    );
    assert_eq!(zhou.outbox().unwrap().len(), 1);

    let first = zhou.sync().await.unwrap();
    assert_eq!((first.acknowledged, first.not_applied), (1, 0));
    let second = li.sync().await.unwrap();
    assert_eq!((second.acknowledged, second.not_applied), (1, 1));

    // The inspector's move is a conflict: kept with its event, seen by both.
    let receipts = li.receipts().unwrap();
    let last = receipts.last().unwrap();
    assert_eq!(last.verdict, Verdict::Conflict);
    assert_eq!(last.reason.as_ref().unwrap().code, "stale-transition");
    zhou.sync().await.unwrap();
    for device in [&li, &zhou] {
        let issues = device.issues().unwrap();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].entity.body["verdict"], "conflict");
        assert_eq!(
            issues[0].entity.body["event"]["payload"]["to"], "rectifying",
            "nothing lost"
        );
        assert_eq!(state(device, &hazard), "rectifying");
    }
    let server_view = li.server_entity(&hazard).unwrap().unwrap();
    assert_eq!(
        server_view.entity.body["history"].as_array().unwrap().len(),
        2
    );
    assert!(li.outbox().unwrap().is_empty() && zhou.outbox().unwrap().is_empty());
}

#[tokio::test]
async fn a_lost_push_answer_is_retried_and_applied_exactly_once() {
    let (server, _) = town().await;
    let li = TestDevice::enrolled(&server, "lili", USER_PASSWORD).await;
    let (hazard, _) = li.report_hazard("general");
    let token = server.token("lili", USER_PASSWORD).await;
    let push = json!({
        "device_id": li.identity().unwrap().unwrap().device_id,
        "device_clock_ms": 1_764_300_000_000_i64,
        "events": li.outbox().unwrap(),
    });
    // The first answer is "lost": the device never sees it.
    let first = server
        .post("/v1/sync/push", Some(&token), push.clone())
        .await;
    let first = first.ok(200).clone();
    // The device pushes the same events again and gets the same receipts.
    let again = server.post("/v1/sync/push", Some(&token), push).await;
    assert_eq!(again.ok(200)["receipts"], first["receipts"]);
    li.sync().await.unwrap();
    assert!(li.outbox().unwrap().is_empty());
    let projection = li.server_entity(&hazard).unwrap().unwrap();
    assert_eq!(
        projection.rev,
        first["receipts"][0]["rev"].as_u64().unwrap(),
        "applied once"
    );
    assert_eq!(
        projection.entity.body["history"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn gaps_tampering_and_renamed_events_are_refused() {
    let (server, _) = town().await;
    let li = TestDevice::enrolled(&server, "lili", USER_PASSWORD).await;
    li.report_hazard("general");
    li.report_hazard("general");
    let token = server.token("lili", USER_PASSWORD).await;
    let device_id = li.identity().unwrap().unwrap().device_id.unwrap();
    let events: Vec<Value> = li
        .outbox()
        .unwrap()
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    let push = |events: Vec<Value>| json!({"device_id": device_id, "device_clock_ms": 0, "events": events});

    // A gap: seq 2 without seq 1.
    let reply = server
        .post("/v1/sync/push", Some(&token), push(vec![events[1].clone()]))
        .await;
    let refused = &reply.ok(200)["refused"];
    assert_eq!(
        (refused["code"].as_str(), refused["expected_seq"].as_u64()),
        (Some("gap"), Some(1))
    );
    assert_eq!(reply.body["receipts"], json!([]));

    // Altered after signing: the hash no longer matches; re-hashed, the signature fails.
    let mut altered = events[0].clone();
    altered["payload"]["level"] = json!("major");
    let reply = server
        .post("/v1/sync/push", Some(&token), push(vec![altered.clone()]))
        .await;
    assert_eq!(reply.ok(200)["refused"]["code"], "hash-mismatch");
    let body: anjian_sync::event::EventBody = serde_json::from_value(altered.clone()).unwrap();
    altered["hash"] = json!(anjian_sync::event::hash_body(&body).unwrap());
    let reply = server
        .post("/v1/sync/push", Some(&token), push(vec![altered]))
        .await;
    assert_eq!(reply.ok(200)["refused"]["code"], "bad-signature");

    // The real events are taken.
    let reply = server
        .post("/v1/sync/push", Some(&token), push(events.clone()))
        .await;
    assert_eq!(reply.ok(200)["receipts"].as_array().unwrap().len(), 2);

    // A broken chain: a device whose key the test holds signs seq 1 naming a predecessor.
    let key = anjian_sync::event::DeviceKey::from_secret([42; 32]);
    let enrolled = server
        .post(
            "/v1/devices",
            Some(&token),
            json!({"public_key": key.public_hex(), "name": "raw"}),
        )
        .await;
    let raw_id = enrolled.ok(201)["id"].as_str().unwrap().to_string();
    let mut body: anjian_sync::event::EventBody =
        serde_json::from_value(events[0].clone()).unwrap();
    body.device_id = raw_id.clone();
    body.prev_hash = "ab".repeat(32);
    let signed = key.sign(body).unwrap();
    let reply = server
        .post(
            "/v1/sync/push",
            Some(&token),
            json!({"device_id": raw_id, "device_clock_ms": 0, "events": [signed]}),
        )
        .await;
    assert_eq!(reply.ok(200)["refused"]["code"], "broken-chain");

    // Another device's event renamed to this device is not a fork of it: its hash (which
    // covers `device_id`) no longer holds, so it is refused before any seq is looked at. A
    // genuine fork, signed with the device's own key, is `forgery::a_genuine_fork_…`.
    let other = TestDevice::enrolled(&server, "lili", USER_PASSWORD).await;
    let forged = other.capture("hazard.report", &anjian_sync::client::Device::new_entity_id(),
        json!({"enterprise_id": "e1", "grid_id": "g1", "level": "general", "description": "另一个"}),
        vec![PHOTO.into()]).unwrap().0;
    let mut forked = serde_json::to_value(&forged).unwrap();
    forked["device_id"] = json!(device_id);
    let reply = server
        .post("/v1/sync/push", Some(&token), push(vec![forked]))
        .await;
    assert_eq!(reply.ok(200)["refused"]["code"], "hash-mismatch");

    // None of this changed what was taken.
    li.sync().await.unwrap();
    assert_eq!(li.receipts().unwrap().len(), 2);
    let hazards = li
        .server_entities()
        .unwrap()
        .into_iter()
        .filter(|p| p.entity.entity_type == EntityType::Hazard)
        .count();
    assert_eq!(hazards, 2);
}

#[tokio::test]
async fn enrolment_is_idempotent_and_a_key_belongs_to_one_user() {
    let (server, _) = town().await;
    let lili = server.token("lili", USER_PASSWORD).await;
    let zhou = server.token("zhou", USER_PASSWORD).await;
    let key = anjian_sync::event::DeviceKey::from_secret([5; 32]);
    let enrol = json!({"public_key": key.public_hex(), "name": "phone"});
    let first = server.post("/v1/devices", Some(&lili), enrol.clone()).await;
    let again = server.post("/v1/devices", Some(&lili), enrol.clone()).await;
    assert_eq!(
        first.ok(201)["id"],
        again.ok(201)["id"],
        "a retried enrolment gets the same device"
    );
    server
        .post("/v1/devices", Some(&zhou), enrol)
        .await
        .assert_error(409, "device-key-enrolled");
    server
        .post(
            "/v1/devices",
            Some(&zhou),
            json!({"public_key": "xyz", "name": "phone"}),
        )
        .await
        .assert_error(400, "invalid-field");
    let mine = server.get("/v1/devices", Some(&lili)).await;
    assert_eq!(mine.ok(200)["devices"].as_array().unwrap().len(), 1);
    let theirs = server.get("/v1/devices", Some(&zhou)).await;
    assert_eq!(theirs.ok(200)["devices"], json!([]));
}

#[tokio::test]
async fn a_revoked_device_cannot_push() {
    let (server, admin) = town().await;
    let li = TestDevice::enrolled(&server, "lili", USER_PASSWORD).await;
    li.report_hazard("general");
    li.sync().await.unwrap();
    let device_id = li.identity().unwrap().unwrap().device_id.unwrap();
    let token = server.token("lili", USER_PASSWORD).await;
    server
        .post(
            &format!("/v1/admin/devices/{device_id}/revoke"),
            Some(&token),
            json!({}),
        )
        .await
        .assert_error(403, "forbidden");
    let revoked = server
        .post(
            &format!("/v1/admin/devices/{device_id}/revoke"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert!(revoked.ok(200)["revoked_at"].is_string());

    li.report_hazard("general");
    let err = li.sync().await.unwrap_err();
    assert!(err.to_string().contains("device-revoked"), "{err}");
    assert_eq!(li.outbox().unwrap().len(), 1, "the unsent event is kept");
}

#[tokio::test]
async fn team_leads_see_and_write_only_their_own_team() {
    let (server, _) = town().await;
    let wang = TestDevice::enrolled(&server, "wang", USER_PASSWORD).await;
    let sun = TestDevice::enrolled(&server, "sun", USER_PASSWORD).await;
    let zhou = TestDevice::enrolled(&server, "zhou", USER_PASSWORD).await;

    let (mine, _) = wang.submit_meeting("e1", "t1", "早班");
    let (theirs, _) = sun.submit_meeting("e2", "t1", "早班");
    // Sun tries to write into enterprise e1: the server quarantines it, and keeps it.
    let (intruder, payload) = meeting_on("e1", "t1", "夜班");
    let (_, local) = sun
        .capture("meeting.submit", &intruder, payload, vec![PHOTO.into()])
        .unwrap();
    assert_eq!(
        local.verdict,
        Verdict::Quarantined,
        "the device already knows"
    );
    for device in [&wang, &sun, &zhou] {
        device.sync().await.unwrap();
    }
    let seen = |device: &TestDevice| -> Vec<String> {
        device
            .server_entities()
            .unwrap()
            .into_iter()
            .filter(|p| p.entity.entity_type == EntityType::Meeting)
            .map(|p| p.entity.id)
            .collect()
    };
    assert_eq!(seen(&wang), vec![mine.clone()]);
    assert_eq!(seen(&sun), vec![theirs.clone()]);
    assert_eq!(
        seen(&zhou),
        vec![mine.clone()],
        "the manager of e1 sees e1 only"
    );
    let issues = sun.issues().unwrap();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].entity.body["reason"]["code"], "not-permitted");
    assert!(
        wang.issues().unwrap().is_empty(),
        "another user's quarantine is not shown"
    );
    for device in [&wang, &sun, &zhou] {
        for projection in device.server_entities().unwrap() {
            let buckets = projection.buckets;
            assert!(
                !buckets.contains(&"enterprise:e2".to_string())
                    || device.identity().unwrap().unwrap().username == "sun"
            );
        }
    }
}

#[tokio::test]
async fn the_same_meeting_recorded_on_two_devices_is_a_conflict_not_a_double_count() {
    let (server, _) = town().await;
    let wang = TestDevice::enrolled(&server, "wang", USER_PASSWORD).await;
    let zhou = TestDevice::enrolled(&server, "zhou", USER_PASSWORD).await;
    // The team lead and the safety manager both record this morning's pre-shift meeting offline.
    let (id, _) = wang.submit_meeting("e1", "t1", "早班");
    let (same, _) = zhou.submit_meeting("e1", "t1", "早班");
    assert_eq!(id, same, "the same meeting has the same id on every device");
    zhou.sync().await.unwrap();
    let report = wang.sync().await.unwrap();
    assert_eq!(report.not_applied, 1);
    let meetings: Vec<_> = wang
        .server_entities()
        .unwrap()
        .into_iter()
        .filter(|p| p.entity.entity_type == EntityType::Meeting)
        .collect();
    assert_eq!(meetings.len(), 1, "counted once");
    let issues = wang.issues().unwrap();
    assert_eq!(issues.len(), 1, "shown to the team lead");
    assert_eq!(issues[0].entity.body["reason"]["code"], "already-submitted");
}

#[tokio::test]
async fn the_office_marks_a_conflict_handled_and_its_author_learns_at_the_next_sync() {
    let (server, _) = town().await;
    let wang = TestDevice::enrolled(&server, "wang", USER_PASSWORD).await;
    let zhou = TestDevice::enrolled(&server, "zhou", USER_PASSWORD).await;
    let office = TestDevice::enrolled(&server, "admin", ADMIN_PASSWORD).await;
    wang.submit_meeting("e1", "t1", "早班");
    zhou.submit_meeting("e1", "t1", "早班");
    zhou.sync().await.unwrap();
    wang.sync().await.unwrap();
    let issue = wang.issues().unwrap().remove(0);
    assert!(!anjian_sync::kinds::issue::is_handled(&issue.entity));

    // The manager, who only reads the issue, cannot mark it; the office can, once.
    zhou.sync().await.unwrap();
    office.sync().await.unwrap();
    let note = json!({"note": "同一场会两台手机都记了，以先到的为准"});
    let (_, mine) = zhou
        .capture("issue.handle", &issue.entity.id, note.clone(), vec![])
        .unwrap();
    assert_eq!(mine.reason.unwrap().code, "not-permitted");
    let (_, local) = office
        .capture("issue.handle", &issue.entity.id, note.clone(), vec![])
        .unwrap();
    assert_eq!(local.verdict, Verdict::Applied, "{local:?}");
    let (_, twice) = office
        .capture("issue.handle", &issue.entity.id, note, vec![])
        .unwrap();
    assert_eq!(twice.reason.unwrap().code, "already-handled");
    let report = office.sync().await.unwrap();
    assert_eq!(
        report.not_applied, 1,
        "the second mark is a conflict on the server too"
    );
    zhou.sync().await.unwrap();

    wang.sync().await.unwrap();
    let handled = wang.issues().unwrap();
    assert_eq!(
        handled.len(),
        1,
        "the same issue, and not the office's own conflict about it"
    );
    let body = &handled[0].entity.body;
    assert!(anjian_sync::kinds::issue::is_handled(&handled[0].entity));
    assert_eq!(
        body["handled"]["note"],
        "同一场会两台手机都记了，以先到的为准"
    );
    assert_eq!(
        body["event"], issue.entity.body["event"],
        "the refused event is kept"
    );
    assert_eq!(body["reason"]["code"], "already-submitted");
}

#[tokio::test]
async fn a_scope_change_resets_the_replica_but_never_the_outbox() {
    let (server, admin) = town().await;
    let wang = TestDevice::enrolled(&server, "wang", USER_PASSWORD).await;
    let (first, _) = wang.submit_meeting("e1", "t1", "早班");
    wang.sync().await.unwrap();
    // Offline, a second meeting; meanwhile the admin moves wang to team t2.
    let (second, _) = wang.submit_meeting("e1", "t1", "夜班");
    let id = server
        .users(&admin)
        .await
        .into_iter()
        .find(|u| u["username"] == "wang")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    server
        .update_user(
            &admin,
            &id,
            json!({"scopes": {"enterprise": "e1", "team": "t2"}}),
        )
        .await
        .ok(200);
    let report = wang.sync().await;
    // The device's grant is as of its login; the server judges with the current one.
    let report = report.unwrap();
    assert!(report.repulled, "the changed buckets forced a fresh pull");
    let identity = wang.identity().unwrap().unwrap();
    assert_eq!(
        identity.scopes.team.as_deref(),
        Some("t2"),
        "the device re-read its scopes"
    );
    assert!(
        wang.outbox().unwrap().is_empty(),
        "the unsent meeting was pushed, not dropped"
    );
    let receipts = wang.receipts().unwrap();
    assert_eq!(
        receipts.last().unwrap().verdict,
        Verdict::Quarantined,
        "t1 is no longer wang's team"
    );
    // Their own earlier meeting stays visible to its author (the `user:` bucket); the team's
    // bucket is no longer read.
    let kept = wang.server_entity(&first).unwrap().unwrap();
    assert!(!kept.buckets.iter().any(|b| b == "team:e1/t2"));
    assert!(
        wang.server_entity(&second).unwrap().is_none(),
        "the quarantined meeting was not applied"
    );
    assert_eq!(
        wang.issues().unwrap().len(),
        1,
        "the quarantined meeting is shown to its author"
    );
}

#[tokio::test]
async fn an_event_the_server_would_refuse_is_not_logged() {
    let (server, _) = town().await;
    let lili = TestDevice::enrolled(&server, "lili", USER_PASSWORD).await;
    let id = anjian_sync::client::Device::new_entity_id();
    let report =
        json!({"enterprise_id": "e1", "grid_id": "g1", "level": "general", "description": "x"});
    let too_many = vec![PHOTO.to_string(); 33];
    assert!(
        lili.capture("hazard.report", &id, report.clone(), too_many)
            .is_err()
    );
    let mut fraction = report.clone();
    fraction["location"] = json!({"lat_e6": 26.5, "lng_e6": 119});
    assert!(
        lili.capture("hazard.report", &id, fraction, vec![PHOTO.into()])
            .is_err()
    );
    let huge =
        json!({"enterprise_id": "e1", "level": "general", "description": "长".repeat(30_000)});
    assert!(
        lili.capture("hazard.report", &id, huge, vec![PHOTO.into()])
            .is_err()
    );
    assert!(lili.log().unwrap().is_empty(), "nothing was logged");
    // The device carries on: the next event is seq 1 and goes through.
    lili.report_hazard("general");
    assert_eq!(lili.sync().await.unwrap().acknowledged, 1);
}

#[tokio::test]
async fn a_restart_of_the_app_loses_nothing() {
    let (server, _) = town().await;
    let li = TestDevice::enrolled(&server, "lili", USER_PASSWORD).await;
    let (hazard, _) = li.report_hazard("major");
    let li = li.reopen();
    assert_eq!(li.outbox().unwrap().len(), 1);
    assert_eq!(state(&li, &hazard), "reported");
    li.sync().await.unwrap();
    assert!(li.outbox().unwrap().is_empty());
    let li = li.reopen();
    assert_eq!(
        li.server_entity(&hazard).unwrap().unwrap().entity.body["level"],
        "major"
    );
}

/// A device with work to push (five events and a photo of several chunks) and work to pull (three
/// hazards of the manager's), as it stands before its sync: the server, its replica's directory
/// and the server's URL, and what it captured.
struct CrashScene {
    /// Kept running while the scene lives.
    _server: TestServer,
    dir: tempfile::TempDir,
    url: String,
    captured: Vec<anjian_sync::event::SignedEvent>,
    first: String,
}

async fn crash_scene() -> CrashScene {
    let (server, _) = town().await;
    let lili = TestDevice::enrolled(&server, "lili", USER_PASSWORD).await;
    let zhou = TestDevice::enrolled(&server, "zhou", USER_PASSWORD).await;
    for _ in 0..3 {
        zhou.report_hazard("general");
    }
    zhou.sync().await.unwrap();
    // A photo of more than one chunk, so that its upload takes several steps.
    let photo = anjian_tests::photos::jpeg(1000, 800, 1, None);
    assert!(
        photo.len() > anjian_sync::client::CHUNK_BYTES,
        "{}",
        photo.len()
    );
    let sha = lili.add_photo_bytes(&photo).unwrap();
    let first = anjian_sync::client::Device::new_entity_id();
    let payload = json!({"enterprise_id": "e1", "grid_id": "g1", "level": "general",
        "description": "配电箱未接地", "deadline": "2026-12-05"});
    lili.capture("hazard.report", &first, payload, vec![sha])
        .unwrap();
    lili.move_hazard(&first, "reported", "rectifying", 0);
    for _ in 0..3 {
        lili.report_hazard("major");
    }
    let captured = lili.log().unwrap();
    let (dir, url) = lili.into_parts();
    CrashScene {
        _server: server,
        dir,
        url,
        captured,
        first,
    }
}

impl CrashScene {
    /// Runs one sync in a separate process, aborted at its `n`-th step (never, for 0).
    async fn sync_killed_at(&self, n: u32) -> std::process::Output {
        let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_crash-device"))
            .arg(self.dir.path())
            .arg(&self.url)
            .arg(n.to_string())
            .output();
        tokio::time::timeout(std::time::Duration::from_secs(60), run)
            .await
            .unwrap()
            .unwrap()
    }

    /// After a last, uninterrupted sync: everything arrived exactly once, nothing is left.
    async fn assert_converged(&self) {
        let device = anjian_sync::client::Device::open(self.dir.path(), &self.url).unwrap();
        device.sync().await.unwrap();
        assert!(device.outbox().unwrap().is_empty());
        assert_eq!(
            device.log().unwrap(),
            self.captured,
            "the log is as captured"
        );
        let receipts = device.receipts().unwrap();
        assert_eq!(receipts.len(), self.captured.len());
        assert!(
            receipts.iter().all(|r| r.verdict == Verdict::Applied),
            "{receipts:?}"
        );
        let hazards: Vec<_> = device
            .server_entities()
            .unwrap()
            .into_iter()
            .filter(|p| p.entity.entity_type == EntityType::Hazard)
            .collect();
        assert_eq!(
            hazards.len(),
            4 + 3,
            "own four hazards and the manager's three"
        );
        let first = device.server_entity(&self.first).unwrap().unwrap();
        assert_eq!(
            first.entity.body["history"].as_array().unwrap().len(),
            2,
            "each event applied once"
        );
        assert!(
            first.missing_blobs.is_empty(),
            "the photo arrived: {first:?}"
        );
        for hazard in &hazards {
            assert_eq!(
                device.entity(&hazard.entity.id).unwrap().as_ref(),
                Some(&hazard.entity)
            );
        }
        assert!(
            device
                .photos()
                .unwrap()
                .iter()
                .all(|p| p.state == PhotoState::Uploaded)
        );
    }
}

/// The step a crashed run says it was killed at, by name.
fn killed_at(output: &std::process::Output, n: u32) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let prefix = format!("killed at step {n}: ");
    stderr
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("the run failed instead of being killed at step {n}: {stderr}"))
        .to_string()
}

#[tokio::test]
async fn a_client_killed_at_each_step_of_a_sync_converges() {
    // The same scene, killed at step 1, then afresh at step 2, and so on, until a sync runs
    // through: every step of the sync is interrupted once, and each time the device converges.
    let mut reached = std::collections::BTreeSet::new();
    let mut steps = None;
    for n in 1..=80 {
        let scene = crash_scene().await;
        let crashed = scene.sync_killed_at(n).await;
        if crashed.status.success() {
            steps = Some(n - 1);
            break;
        }
        reached.insert(killed_at(&crashed, n));
        scene.assert_converged().await;
    }
    let steps = steps.expect("a sync of this scene has fewer than 80 steps");
    assert!(steps >= 10, "{steps} steps");
    let every: std::collections::BTreeSet<String> = [
        Step::ChunkSent,
        Step::PhotoStored,
        Step::PushReceived,
        Step::Pushed,
        Step::PageReceived,
        Step::Staged,
        Step::Applied,
    ]
    .iter()
    .map(|step| format!("{step:?}"))
    .collect();
    assert_eq!(reached, every, "every kind of step was interrupted");
}

#[tokio::test]
async fn a_client_killed_again_and_again_converges() {
    // One device killed at the first step of each sync, again and again: each run starts where
    // the last one left off, so the work gets done by runs of one step each.
    let scene = crash_scene().await;
    let mut kills = 0;
    for _ in 0..80 {
        let crashed = scene.sync_killed_at(1).await;
        if crashed.status.success() {
            break;
        }
        killed_at(&crashed, 1);
        kills += 1;
    }
    assert!(
        kills >= 10,
        "{kills} runs were killed before one ran through"
    );
    scene.assert_converged().await;
}

#[tokio::test]
async fn batches_too_large_for_the_body_limit_are_split() {
    let server = TestServer::start_with(|s| s.http.max_json_body_bytes = 16 * 1024).await;
    let admin = server.admin().await;
    server
        .create_user(
            &admin,
            json!({"username": "wang", "password": USER_PASSWORD, "roles": ["team_lead"], "scopes": {"enterprise": "e1", "team": "t1"}}),
        )
        .await;
    server.add_team(&admin, "e1", "t1").await;
    let wang = TestDevice::enrolled(&server, "wang", USER_PASSWORD).await;
    // Ten meetings of about 6 KiB each: one batch of ten is over the 16 KiB limit.
    let topic = "液氨泄漏应急处置，佩戴防护用品，检查阀门与管道".repeat(4);
    for shift in 0..10 {
        let (id, mut long) = meeting_on("e1", "t1", &format!("第{shift}班"));
        long["topics"] = json!(vec![topic.clone(); 20]);
        wang.capture("meeting.submit", &id, long, vec![PHOTO.into()])
            .unwrap();
    }
    let report = wang.sync().await.unwrap();
    assert_eq!(report.acknowledged, 10);
    assert!(wang.outbox().unwrap().is_empty());
}

#[tokio::test]
async fn a_safety_manager_keeps_teams_from_a_device_and_meetings_follow_their_slots() {
    let (server, _) = town().await;
    let zhou = TestDevice::enrolled(&server, "zhou", USER_PASSWORD).await;
    let wang = TestDevice::enrolled(&server, "wang", USER_PASSWORD).await;
    // The manager limits team t1 to the pre-shift meeting, from the phone.
    let team = json!({"enterprise_id": "e1", "code": "t1", "name": "一班", "slots": ["pre_shift"]});
    let id = anjian_sync::kinds::team::team_id("e1", "t1");
    let (_, local) = zhou.capture("team.save", &id, team, vec![]).unwrap();
    assert_eq!(local.verdict, Verdict::Applied);
    // And records a worker of that team, with a certificate.
    let worker_id = anjian_sync::client::Device::new_entity_id();
    let worker = json!({"enterprise_id": "e1", "team_id": "t1", "name": "李四", "post": "制冷工",
        "certificates": [{"kind": "制冷与空调作业", "number": "T350102", "expires_on": "2027-06-30"}]});
    let (_, local) = zhou
        .capture("worker.save", &worker_id, worker, vec![])
        .unwrap();
    assert_eq!(local.verdict, Verdict::Applied);
    zhou.sync().await.unwrap();
    // The team lead reads the team (its enterprise's directory) and holds only that meeting.
    wang.sync().await.unwrap();
    let pulled = wang
        .server_entity(&id)
        .unwrap()
        .expect("the team lead reads the team");
    assert_eq!(pulled.entity.body["slots"], json!(["pre_shift"]));
    let worker = wang
        .server_entity(&worker_id)
        .unwrap()
        .expect("the team lead reads the team's workers");
    assert_eq!(worker.entity.body["post"], "制冷工");
    let (_, pre) = wang.submit_meeting("e1", "t1", "早班");
    assert_eq!(pre.verdict, Verdict::Applied);
    let mut handover = meeting_on("e1", "t1", "早班").1;
    handover["slot"] = json!("handover");
    let handover_id = anjian_sync::kinds::meeting::meeting_id(
        "e1",
        "t1",
        "2026-11-28",
        "早班",
        anjian_sync::kinds::meeting::Slot::Handover,
    );
    let (_, local) = wang
        .capture("meeting.submit", &handover_id, handover, vec![PHOTO.into()])
        .unwrap();
    assert_eq!(
        local.reason.unwrap().code,
        "slot-not-held",
        "the device knows at once, offline"
    );
    wang.sync().await.unwrap();
    let receipts = wang.receipts().unwrap();
    assert_eq!(
        receipts.iter().map(|r| r.verdict).collect::<Vec<_>>(),
        vec![Verdict::Applied, Verdict::Quarantined]
    );

    // The worker's 岗前一分钟 before that shift, recorded offline on both phones: the first to
    // arrive stands, the other is a conflict its sender sees; one briefing, counted once.
    let briefing = json!({"enterprise_id": "e1", "team_id": "t1", "date": "2026-11-28",
        "shift": "早班", "worker_id": worker_id, "worker_name": "李四", "post": "制冷工",
        "points": ["液氨泄漏的危害", "撤离路线"], "duration_s": 65,
        "started_at_ms": 1_764_290_000_000_i64});
    let briefing_id =
        anjian_sync::kinds::briefing::briefing_id("e1", "t1", "2026-11-28", "早班", &worker_id);
    for device in [&wang, &zhou] {
        let (_, local) = device
            .capture("briefing.record", &briefing_id, briefing.clone(), vec![])
            .unwrap();
        assert_eq!(local.verdict, Verdict::Applied, "{local:?}");
    }
    wang.sync().await.unwrap();
    zhou.sync().await.unwrap();
    let first = wang.receipts().unwrap().last().cloned().unwrap();
    assert_eq!(first.verdict, Verdict::Applied);
    assert_eq!(
        zhou.receipts().unwrap().last().map(|r| r.verdict),
        Some(Verdict::Conflict)
    );
    let conflict = zhou.issues().unwrap();
    assert!(
        conflict
            .iter()
            .any(|i| i.entity.body["reason"]["code"] == "already-submitted"),
        "{conflict:?}"
    );
    let stood = zhou
        .server_entity(&briefing_id)
        .unwrap()
        .expect("the manager reads the team's briefing");
    assert_eq!(stood.entity.body["recorded_event"], first.event_id.as_str());
    // A worker the roster does not have is quarantined at the server as on the device.
    let mut stranger = briefing.clone();
    stranger["worker_id"] = json!(anjian_sync::client::Device::new_entity_id());
    let stranger_id = anjian_sync::kinds::briefing::briefing_id(
        "e1",
        "t1",
        "2026-11-28",
        "早班",
        stranger["worker_id"].as_str().unwrap(),
    );
    let (_, local) = wang
        .capture("briefing.record", &stranger_id, stranger, vec![])
        .unwrap();
    assert_eq!(local.reason.unwrap().code, "unknown-worker");
    wang.sync().await.unwrap();
    assert_eq!(
        wang.receipts().unwrap().last().map(|r| r.verdict),
        Some(Verdict::Quarantined)
    );
}

#[tokio::test]
async fn a_major_hazard_goes_through_every_path_of_its_lifecycle() {
    let (server, admin) = town().await;
    server
        .create_user(&admin, json!({"username": "zhao", "password": USER_PASSWORD, "roles": ["inspector"], "scopes": {"grids": ["g1"]}}))
        .await;
    let lili = TestDevice::enrolled(&server, "lili", USER_PASSWORD).await;
    let zhao = TestDevice::enrolled(&server, "zhao", USER_PASSWORD).await;
    let zhou = TestDevice::enrolled(&server, "zhou", USER_PASSWORD).await;
    let office = TestDevice::enrolled(&server, "admin", anjian_tests::ADMIN_PASSWORD).await;
    let step = |device: &TestDevice, id: &str, payload: Value, photos: usize| {
        let (_, judged) = device
            .capture(
                "hazard.transition",
                id,
                payload,
                vec![PHOTO.to_string(); photos],
            )
            .unwrap();
        judged
    };

    let (hazard, _) = lili.report_hazard("major");
    lili.sync().await.unwrap();
    // A major hazard needs both reports (双报告) before it moves on.
    let reports = json!({"from": "reported", "to": "plan_pending", "double_report": {"regulator_at_ms": 1_764_300_000_000_i64, "congress_at_ms": 1_764_300_000_000_i64}});
    assert_eq!(step(&lili, &hazard, reports, 0).verdict, Verdict::Applied);
    lili.sync().await.unwrap();
    zhou.sync().await.unwrap();
    let plan =
        json!({"from": "plan_pending", "to": "rectifying", "plan": "更换氨阀门并加装泄漏报警"});
    assert_eq!(step(&zhou, &hazard, plan, 0).verdict, Verdict::Applied);
    assert_eq!(
        step(
            &zhou,
            &hazard,
            json!({"from": "rectifying", "to": "pending_acceptance"}),
            1
        )
        .verdict,
        Verdict::Applied
    );
    zhou.sync().await.unwrap();
    // Rejected back, rectified again, then accepted by an inspector.
    lili.sync().await.unwrap();
    let back = json!({"from": "pending_acceptance", "to": "rectifying", "note": "报警器未接电"});
    assert_eq!(step(&lili, &hazard, back, 0).verdict, Verdict::Applied);
    lili.sync().await.unwrap();
    zhou.sync().await.unwrap();
    assert_eq!(
        step(
            &zhou,
            &hazard,
            json!({"from": "rectifying", "to": "pending_acceptance"}),
            1
        )
        .verdict,
        Verdict::Applied
    );
    zhou.sync().await.unwrap();
    zhao.sync().await.unwrap();
    assert_eq!(
        step(
            &zhao,
            &hazard,
            json!({"from": "pending_acceptance", "to": "closed"}),
            0
        )
        .verdict,
        Verdict::Applied
    );
    zhao.sync().await.unwrap();
    let closed = zhao.server_entity(&hazard).unwrap().unwrap();
    assert_eq!(closed.entity.body["state"], "closed");
    let path: Vec<&str> = closed.entity.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        path,
        [
            "reported",
            "plan_pending",
            "rectifying",
            "pending_acceptance",
            "rectifying",
            "pending_acceptance",
            "closed"
        ]
    );
    assert_eq!(
        closed.entity.body["photos_after"].as_array().unwrap().len(),
        2
    );
    assert!(closed.entity.body["double_report"]["regulator_at_ms"].is_i64());

    // Another hazard is voided by the office with a reason; a voided hazard moves no more.
    let (second, _) = lili.report_hazard("general");
    lili.sync().await.unwrap();
    office.sync().await.unwrap();
    let void = json!({"from": "reported", "to": "void", "note": "重复上报"});
    assert_eq!(step(&office, &second, void, 0).verdict, Verdict::Applied);
    office.sync().await.unwrap();
    lili.sync().await.unwrap();
    let late = step(
        &lili,
        &second,
        json!({"from": "void", "to": "rectifying"}),
        0,
    );
    assert_eq!(late.reason.unwrap().code, "invalid-transition");
    assert_eq!(state(&lili, &second), "void");
}

/// Changes the device's replica at rest, as another release (or damage) would leave it, and
/// opens it again.
fn edit_replica(device: TestDevice, change: &dyn Fn(&redb::WriteTransaction)) -> TestDevice {
    let path = device.dir().join("device.redb");
    let (dir, url) = device.into_parts();
    let db = redb::Database::open(&path).unwrap();
    let txn = db.begin_write().unwrap();
    change(&txn);
    txn.commit().unwrap();
    drop(db);
    TestDevice::from_parts(dir, &url)
}

#[tokio::test]
async fn a_replica_of_the_earlier_layout_gets_its_local_view_back_from_its_log() {
    let (server, _) = town().await;
    let li = TestDevice::enrolled(&server, "lili", USER_PASSWORD).await;
    let (synced, _) = li.report_hazard("general");
    li.sync().await.unwrap();
    // Offline: a move of the synced hazard and a new report, neither acknowledged.
    li.move_hazard(&synced, "reported", "rectifying", 0);
    let (offline, _) = li.report_hazard("general");

    // The replica as an earlier release left it: the copy of the local view and the table of
    // modified entities, and no overlay.
    let li = edit_replica(li, &|txn| {
        let overlay: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("overlay-1");
        txn.delete_table(overlay).unwrap();
        for name in ["local-0", "modified-0"] {
            txn.open_table(redb::TableDefinition::<&str, &[u8]>::new(name))
                .unwrap();
        }
    });

    assert_eq!(
        state(&li, &synced),
        "rectifying",
        "the unsent move is shown"
    );
    assert_eq!(
        state(&li, &offline),
        "reported",
        "the unsent report is shown"
    );
    li.sync().await.unwrap();
    assert_eq!(state(&li, &synced), "rectifying");
    assert!(li.outbox().unwrap().is_empty());
}

#[tokio::test]
async fn a_replica_whose_digests_disagree_pulls_again_and_one_without_them_counts_them() {
    let (server, _) = town().await;
    let li = TestDevice::enrolled(&server, "lili", USER_PASSWORD).await;
    let (first, _) = li.report_hazard("general");
    li.sync().await.unwrap();

    let digests: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("digests-1");

    // Digests that disagree with the server's: the next checkpoint pulls everything again.
    let li = edit_replica(li, &|txn| {
        let mut table = txn.open_table(digests).unwrap();
        let json = serde_json::to_vec(&json!({"count": 99, "digest": vec![0u8; 32]})).unwrap();
        let mut wrong = Vec::new();
        anjian_sync::pack::pack(
            anjian_sync::pack::Dictionary::Projections,
            &json,
            &mut wrong,
        )
        .unwrap();
        let buckets: Vec<String> = table
            .iter()
            .unwrap()
            .map(|entry| entry.unwrap().0.value().to_string())
            .collect();
        assert!(
            !buckets.is_empty(),
            "the replica keeps its buckets' digests"
        );
        for bucket in buckets {
            table.insert(bucket.as_str(), wrong.as_slice()).unwrap();
        }
    });
    li.report_hazard("general");
    let report = li.sync().await.unwrap();
    assert!(report.repulled, "a disagreeing digest forces a fresh pull");
    assert_eq!(state(&li, &first), "reported");

    // A replica of a release that kept no digests counts them once, and agrees.
    let li = edit_replica(li, &|txn| {
        txn.delete_table(digests).unwrap();
        txn.open_table(redb::TableDefinition::<&str, &[u8]>::new("meta-0"))
            .unwrap()
            .remove("digests_kept")
            .unwrap();
    });
    li.report_hazard("general");
    let report = li.sync().await.unwrap();
    assert!(!report.repulled, "counted digests agree with the server");
    let again = li.sync().await.unwrap();
    assert!(!again.repulled && li.outbox().unwrap().is_empty());
}
