//! The town's days, end to end: people of the demo town (`anjian-server demo`) working offline on
//! real devices (`sync-core`), with real photos, against the real server.

use anjian_sync::client::{Device, PhotoState};
use anjian_sync::clock::ClockFlag;
use anjian_sync::entity::EntityType;
use anjian_sync::judge::Verdict;
use anjian_sync::kinds::meeting::{Slot, meeting_id};
use anjian_tests::photos::jpeg;
use anjian_tests::{ADMIN_PASSWORD, DemoTown, TestDevice, TestServer, USER_PASSWORD};
use serde_json::{Value, json};

const DAY_MS: i64 = 24 * 3_600_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The id of the enterprise whose name contains `part`, as the device sees it.
fn enterprise(device: &Device, part: &str) -> String {
    device
        .entities(EntityType::Enterprise)
        .unwrap()
        .into_iter()
        .find(|e| e.body["name"].as_str().unwrap().contains(part))
        .unwrap_or_else(|| panic!("no enterprise like {part}"))
        .id
}

async fn person(server: &TestServer, town: &DemoTown, username: &str) -> TestDevice {
    let device = TestDevice::enrolled(server, username, town.password(username)).await;
    device.sync().await.unwrap();
    device
}

fn applied(judged: &anjian_sync::judge::Judgement) {
    assert_eq!(judged.verdict, Verdict::Applied, "{judged:?}");
}

async fn office(server: &TestServer, path: &str) -> Vec<Value> {
    let admin = server.admin().await;
    server.get(path, Some(&admin)).await.ok(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn an_inspectors_day_offline_is_synced_at_night() {
    let (mut server, town) = TestServer::demo().await;
    let li = person(&server, &town, "inspector").await;
    let seaweed = enterprise(&li, "海晟紫菜");
    let hazards_before = office(&server, "/v1/office/hazards").await.len();

    // The signal is gone for the day: the server is not even running.
    server.stop().await;
    let inspection = Device::new_entity_id();
    let findings = [
        ("XF-02", "消防通道堆放纸箱"),
        ("YD-01", "配电箱未接地"),
        ("JX-01", "传送带防护罩缺失"),
    ];
    let mut photos = Vec::new();
    let mut results = vec![json!({"item": "XF-01", "verdict": "ok", "photos": []})];
    for (seed, (item, note)) in findings.iter().enumerate() {
        let photo = li
            .add_photo_bytes(&jpeg(800, 600, 100 + seed as u32, None))
            .unwrap();
        results.push(json!({"item": item, "verdict": "hazard", "note": note, "photos": [photo]}));
        photos.push(photo);
    }
    let signature = li.add_photo_bytes(&jpeg(400, 200, 99, None)).unwrap();
    let record = json!({"enterprise_id": seaweed, "kind": "grid_patrol",
        "template": "small-enterprise", "template_version": 1,
        "inspectors": [{"name": "李明"}], "started_at_ms": now_ms() - 3_600_000,
        "ended_at_ms": now_ms(), "results": results, "summary": "发现三处隐患，已责令限期整改",
        "signature": signature});
    let mut cited = photos.clone();
    cited.push(signature.clone());
    let (_, judged) = li
        .capture_pinned(
            "inspection.submit",
            &inspection,
            record,
            cited,
            "small-enterprise@1",
        )
        .unwrap();
    applied(&judged);
    let mut hazards = Vec::new();
    for ((_, note), photo) in findings.iter().zip(&photos) {
        let id = Device::new_entity_id();
        let report = json!({"enterprise_id": seaweed, "level": "general", "description": note,
            "deadline": "2026-12-10", "inspection_id": inspection});
        applied(
            &li.capture("hazard.report", &id, report, vec![photo.clone()])
                .unwrap()
                .1,
        );
        hazards.push(id);
    }
    assert_eq!(li.outbox().unwrap().len(), 4);
    assert_eq!(
        li.entities(EntityType::Hazard).unwrap().len(),
        hazards_before + 3
    );

    // At night, with signal: one sync sends the photos first, then the records.
    let server = server.restart().await;
    let li = li.reopen_at(&server);
    let report = li.sync().await.unwrap();
    assert_eq!(
        (
            report.photos.uploaded,
            report.acknowledged,
            report.not_applied
        ),
        (4, 4, 0)
    );
    assert!(
        li.photos()
            .unwrap()
            .iter()
            .all(|p| p.state == PhotoState::Uploaded)
    );
    for id in hazards.iter().chain([&inspection]) {
        let projection = li.server_entity(id).unwrap().unwrap();
        assert!(
            projection.missing_blobs.is_empty(),
            "evidence complete: {projection:?}"
        );
        assert_eq!(projection.clock, ClockFlag::Ok);
    }
    let listed = office(&server, &format!("/v1/office/hazards?enterprise={seaweed}")).await;
    let linked: Vec<&Value> = listed
        .iter()
        .filter(|h| h["body"]["inspection_id"] == inspection.as_str())
        .collect();
    assert_eq!(linked.len(), 3);
    // The office lists it beside the demo town's own grid patrol of the plant.
    let inspections = office(
        &server,
        &format!("/v1/office/inspections?enterprise={seaweed}"),
    )
    .await;
    assert_eq!(inspections.len(), 2);
    assert_eq!(
        inspections
            .iter()
            .filter(|i| i["id"] == inspection.as_str())
            .count(),
        1
    );
}

#[tokio::test]
async fn a_team_leads_week_of_meetings_is_captured_offline_and_synced_at_once() {
    let (server, town) = TestServer::demo().await;
    let mut lead = person(&server, &town, "teamlead").await;
    let seaweed = enterprise(&lead, "海晟紫菜");
    let monday = now_ms() - 7 * DAY_MS;
    let mut ids = Vec::new();
    for day in 0..7 {
        let at = monday + day * DAY_MS;
        lead.set_clock(move || at);
        let date = format!("2026-11-{:02}", 16 + day);
        for (n, slot) in [Slot::PreShift, Slot::MidShift, Slot::Handover]
            .into_iter()
            .enumerate()
        {
            let photo = lead
                .add_photo_bytes(&jpeg(320, 240, (day * 3) as u32 + n as u32, None))
                .unwrap();
            let id = meeting_id(&seaweed, "t1", &date, "早班", slot);
            let meeting = json!({"enterprise_id": seaweed, "team_id": "t1", "date": date,
                "shift": "早班", "slot": slot, "host": "陈阿妹", "started_at_ms": at,
                "ended_at_ms": at + 300_000, "place": "烘干车间",
                "attendance": [{"name": "陈阿妹", "status": "present", "fit_for_duty": true, "ppe_ok": true},
                               {"name": "林国强", "status": if day == 2 { "late" } else { "present" },
                                "fit_for_duty": true, "ppe_ok": day != 4}],
                "topics": ["烘干炉温度控制", "消防通道保持畅通"], "risks": ["高温烫伤"]});
            applied(
                &lead
                    .capture("meeting.submit", &id, meeting, vec![photo])
                    .unwrap()
                    .1,
            );
            ids.push(id);
        }
    }
    lead.set_clock(now_ms);
    let report = lead.sync().await.unwrap();
    assert_eq!(
        (
            report.acknowledged,
            report.not_applied,
            report.photos.uploaded
        ),
        (21, 0, 21)
    );
    let meetings = office(
        &server,
        &format!(
            "/v1/office/meetings?enterprise={seaweed}&team=t1&evidence_complete=true\
             &from=2026-11-16&to=2026-11-22"
        ),
    )
    .await;
    assert_eq!(meetings.len(), 21);
    // Captured a week ago on a right clock: the server keeps that time.
    let first = lead.server_entity(&ids[0]).unwrap().unwrap();
    assert_eq!(first.captured_at_ms, monday);
    assert_eq!(first.clock, ClockFlag::Ok);
}

#[tokio::test]
async fn a_publicists_article_is_reviewed_published_and_public_with_its_images() {
    let (server, town) = TestServer::demo().await;
    let xu = person(&server, &town, "publicist").await;
    let gao = person(&server, &town, "reviewer").await;
    let cover = xu.add_photo_bytes(&jpeg(1200, 800, 7, None)).unwrap();
    let image = xu.add_photo_bytes(&jpeg(800, 600, 8, None)).unwrap();
    let id = Device::new_entity_id();
    let draft = json!({"column": "warning", "title": "冷库液氨泄漏事故警示",
        "body": "液氨泄漏须立即疏散，佩戴防毒面具。", "cover": cover, "images": [image]});
    let mut cited = vec![cover.clone(), image.clone()];
    cited.sort();
    applied(&xu.capture("article.save", &id, draft, cited).unwrap().1);
    applied(
        &xu.capture("article.submit", &id, json!({}), vec![])
            .unwrap()
            .1,
    );
    xu.sync().await.unwrap();
    gao.sync().await.unwrap();
    applied(
        &gao.capture(
            "article.review",
            &id,
            json!({"decision": "publish"}),
            vec![],
        )
        .unwrap()
        .1,
    );
    gao.sync().await.unwrap();

    let public = server.get(&format!("/v1/public/articles/{id}"), None).await;
    let article = public.ok(200);
    assert_eq!(article["title"], "冷库液氨泄漏事故警示");
    for sha in [
        article["cover"].as_str().unwrap(),
        article["images"][0].as_str().unwrap(),
    ] {
        let served = server
            .fetch(&format!("/v1/public/blobs/{sha}"), None, &[])
            .await;
        assert_eq!(served.status(), 200);
        let bytes = served.bytes().await.unwrap();
        assert!(image::load_from_memory(&bytes).is_ok());
    }
}

#[tokio::test]
async fn two_inspectors_on_one_hazard_offline_conflict_and_nothing_is_lost() {
    let (server, town) = TestServer::demo().await;
    let admin = server.admin().await;
    server
        .create_user(
            &admin,
            json!({"username": "wang", "password": USER_PASSWORD, "roles": ["inspector"],
                "scopes": {"grids": ["laobagang"]}}),
        )
        .await;
    let li = person(&server, &town, "inspector").await;
    let wang = TestDevice::enrolled(&server, "wang", USER_PASSWORD).await;
    let manager = person(&server, &town, "manager").await;
    let hazard = li
        .entities(EntityType::Hazard)
        .unwrap()
        .into_iter()
        .find(|h| h.body["description"].as_str().unwrap().contains("配电箱"))
        .unwrap()
        .id;
    // The enterprise rectifies and asks for acceptance.
    let after = manager.add_photo_bytes(&jpeg(640, 480, 21, None)).unwrap();
    applied(&manager.move_hazard_to(&hazard, "reported", "rectifying", vec![]));
    applied(&manager.move_hazard_to(&hazard, "rectifying", "pending_acceptance", vec![after]));
    manager.sync().await.unwrap();
    li.sync().await.unwrap();
    wang.sync().await.unwrap();

    // Both inspectors go to the site without signal: one accepts, the other sends it back.
    applied(&li.move_hazard_to(&hazard, "pending_acceptance", "closed", vec![]));
    let back = json!({"from": "pending_acceptance", "to": "rectifying", "note": "接地线未压紧"});
    applied(
        &wang
            .capture("hazard.transition", &hazard, back, vec![])
            .unwrap()
            .1,
    );
    li.sync().await.unwrap();
    let report = wang.sync().await.unwrap();
    assert_eq!(report.not_applied, 1);

    // The first to arrive stands; the other is a conflict both can see, with the whole event.
    assert_eq!(
        wang.entity(&hazard).unwrap().unwrap().body["state"],
        "closed"
    );
    // (The demo town has a conflict of its own, over another hazard.)
    let about = |device: &TestDevice| -> Vec<serde_json::Value> {
        device
            .issues()
            .unwrap()
            .into_iter()
            .map(|p| p.entity.body)
            .filter(|body| body["about_entity"] == hazard.as_str())
            .collect()
    };
    let issues = about(&wang);
    assert_eq!(issues.len(), 1);
    let issue = &issues[0];
    assert_eq!(issue["verdict"], "conflict");
    assert_eq!(issue["reason"]["code"], "stale-transition");
    assert_eq!(issue["event"]["payload"]["note"], "接地线未压紧");
    li.sync().await.unwrap();
    assert_eq!(about(&li).len(), 1, "the other inspector sees it too");
}

#[tokio::test]
async fn a_device_two_days_fast_is_flagged_and_ordering_is_unaffected() {
    let (server, town) = TestServer::demo().await;
    let mut fast = person(&server, &town, "inspector").await;
    let admin = server.admin().await;
    server
        .create_user(
            &admin,
            json!({"username": "wang", "password": USER_PASSWORD, "roles": ["inspector"],
                "scopes": {"grids": ["laobagang"]}}),
        )
        .await;
    let right = TestDevice::enrolled(&server, "wang", USER_PASSWORD).await;
    right.sync().await.unwrap();
    let seaweed = enterprise(&fast, "海晟紫菜");
    fast.set_clock(|| now_ms() + 2 * DAY_MS);

    let report = |device: &Device, what: &str, seed: u32| {
        let photo = device.add_photo_bytes(&jpeg(320, 240, seed, None)).unwrap();
        let id = Device::new_entity_id();
        let payload = json!({"enterprise_id": seaweed, "level": "general", "description": what});
        applied(
            &device
                .capture("hazard.report", &id, payload, vec![photo])
                .unwrap()
                .1,
        );
        id
    };
    let early = report(&fast, "先发现：灭火器压力不足", 31);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let later = report(&right, "后发现：安全出口指示灯不亮", 32);
    right.sync().await.unwrap();
    fast.sync().await.unwrap();

    let early = fast.server_entity(&early).unwrap().unwrap();
    let later = right.server_entity(&later).unwrap().unwrap();
    assert_eq!(early.clock, ClockFlag::Corrected, "flagged");
    assert!(
        (early.captured_at_ms - now_ms()).abs() < 60_000,
        "corrected to the real time: {early:?}"
    );
    assert!(
        early.captured_at_ms < later.captured_at_ms,
        "captured first, ordered first"
    );
    let skew = fast.clock_skew_ms().unwrap().unwrap();
    assert!((skew - 2 * DAY_MS).abs() < 60_000, "{skew}");
}

#[tokio::test]
async fn a_device_offline_for_sixty_days_syncs_everything() {
    let (server, town) = TestServer::demo().await;
    let mut lead = person(&server, &town, "teamlead").await;
    let seaweed = enterprise(&lead, "海晟紫菜");
    let start = now_ms() - 60 * DAY_MS;
    let photo = lead.add_photo_bytes(&jpeg(320, 240, 60, None)).unwrap();
    let mut ids = Vec::new();
    for day in 0..60 {
        let at = start + day * DAY_MS;
        lead.set_clock(move || at);
        let date = format!("2026-{:02}-{:02}", 9 + day / 30, 1 + day % 30);
        let id = meeting_id(&seaweed, "t1", &date, "早班", Slot::PreShift);
        let meeting = json!({"enterprise_id": seaweed, "team_id": "t1", "date": date,
            "shift": "早班", "slot": "pre_shift", "host": "陈阿妹", "started_at_ms": at,
            "ended_at_ms": at + 300_000, "place": "烘干车间",
            "attendance": [{"name": "陈阿妹", "status": "present", "fit_for_duty": true, "ppe_ok": true}],
            "topics": ["班前安全提示"]});
        applied(
            &lead
                .capture("meeting.submit", &id, meeting, vec![photo.clone()])
                .unwrap()
                .1,
        );
        ids.push(id);
    }
    lead.set_clock(now_ms);
    let report = lead.sync().await.unwrap();
    assert_eq!((report.acknowledged, report.not_applied), (60, 0));
    for (day, id) in ids.iter().enumerate() {
        let projection = lead.server_entity(id).unwrap().unwrap();
        assert_eq!(projection.captured_at_ms, start + day as i64 * DAY_MS);
    }
    assert!(lead.outbox().unwrap().is_empty());
}

#[tokio::test]
async fn the_enterprise_rectifies_the_inspector_accepts_and_the_office_sees_it_closed() {
    let (server, town) = TestServer::demo().await;
    let manager = person(&server, &town, "manager").await;
    let li = person(&server, &town, "inspector").await;
    let hazard = manager
        .entities(EntityType::Hazard)
        .unwrap()
        .into_iter()
        .find(|h| h.body["description"].as_str().unwrap().contains("消防通道"))
        .unwrap()
        .id;
    let after = manager.add_photo_bytes(&jpeg(1024, 768, 41, None)).unwrap();
    applied(&manager.move_hazard_to(&hazard, "reported", "rectifying", vec![]));
    applied(&manager.move_hazard_to(
        &hazard,
        "rectifying",
        "pending_acceptance",
        vec![after.clone()],
    ));
    manager.sync().await.unwrap();
    li.sync().await.unwrap();
    assert_eq!(
        li.entity(&hazard).unwrap().unwrap().body["photos_after"],
        json!([after])
    );
    applied(&li.move_hazard_to(&hazard, "pending_acceptance", "closed", vec![]));
    li.sync().await.unwrap();

    let closed = office(&server, "/v1/office/hazards?state=closed").await;
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["id"], hazard.as_str());
    assert!(closed[0]["missing_blobs"].as_array().unwrap().is_empty());
    let history = closed[0]["body"]["history"].as_array().unwrap();
    assert_eq!(
        history.len(),
        4,
        "reported, rectifying, pending acceptance, closed"
    );
    // The after-photo is there for the office to see.
    let admin_token = server.token("admin", ADMIN_PASSWORD).await;
    let photo = server
        .fetch(&format!("/v1/blobs/{after}"), Some(&admin_token), &[])
        .await;
    assert_eq!(photo.status(), 200);
}
