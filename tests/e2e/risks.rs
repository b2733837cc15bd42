//! Risk grading (风险分级管控) through the real server: an enterprise's safety manager grades its
//! risk points from a phone, the enterprise's colour follows the highest live one on the map
//! and in the registry, a re-assessment keeps the earlier version, a stale one is a conflict,
//! the office's colour with a reason stands over them, and the two lists (两单) are pages and
//! exports.

use anjian_sync::judge::Verdict;
use anjian_tests::console::Browser;
use anjian_tests::devices::TestDevice;
use anjian_tests::{ADMIN_PASSWORD, TestServer};
use serde_json::{Value, json};

/// Seaweed's colour on the office's map (GeoJSON), as `who` reads it.
async fn colour_on_map(server: &TestServer, who: &str, enterprise: &str) -> Value {
    let map = server.get("/v1/office/map", Some(who)).await;
    let map = map.ok(200);
    map["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == enterprise)
        .map(|f| f["properties"]["risk_colour"].clone())
        .unwrap_or_else(|| panic!("{enterprise} is not on the map: {map}"))
}

/// How many of the seaweed plant's notices anyone reads at `/v1/public/notices` (the demo's
/// cold store has one of its own).
async fn public_notices(server: &TestServer) -> usize {
    let public = server.get("/v1/public/notices", None).await;
    public.ok(200)["notices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["enterprise"] == "海安市海晟紫菜加工厂")
        .count()
}

/// The enterprise whose teams `device` holds (the demo's seaweed plant, for its people).
fn enterprise_of(device: &TestDevice) -> String {
    device
        .entities(anjian_sync::entity::EntityType::Team)
        .unwrap()
        .first()
        .map(|t| t.body["enterprise_id"].as_str().unwrap().to_string())
        .unwrap()
}

fn risk(enterprise: &str, name: &str, assessment: Value, supersedes: u32) -> Value {
    json!({
        "enterprise_id": enterprise, "name": name, "place": "烘干车间",
        "posts": ["烘干工"], "accident_types": ["scald", "fire"],
        "hazards": "炉体高温、燃气泄漏", "assessment": assessment,
        "measures": [{"text": "燃气管道加装泄漏报警", "owner": "company"},
                     {"text": "班前检查炉门密封", "owner": "team"},
                     {"text": "佩戴隔热手套", "owner": "post"}],
        "supersedes": supersedes
    })
}

#[tokio::test]
async fn an_enterprises_colour_follows_its_highest_live_risk_point_unless_the_office_says_why() {
    let (server, town) = TestServer::demo().await;
    let admin = server.admin().await;
    let found = server
        .get("/v1/office/enterprises?q=%E6%B5%B7%E6%99%9F", Some(&admin))
        .await;
    let seaweed = found.ok(200)["items"][0].clone();
    let id = seaweed["id"].as_str().unwrap().to_string();
    let office_colour = seaweed["body"]["risk_colour"].clone();
    assert_eq!(
        colour_on_map(&server, &admin, &id).await,
        office_colour,
        "no risk points yet: the office's grading"
    );

    // The safety manager grades two risk points from the phone: 3×4 = 12 一般, 2×2 = 4 低.
    let manager = TestDevice::enrolled(&server, "manager", town.password("manager")).await;
    manager.sync().await.unwrap();
    let oven = anjian_sync::client::Device::new_entity_id();
    let store = anjian_sync::client::Device::new_entity_id();
    for (entity, payload) in [
        (
            &oven,
            risk(&id, "烘干炉", json!({"method": "ls", "l": 3, "s": 4}), 0),
        ),
        (
            &store,
            risk(
                &id,
                "成品仓库",
                json!({"method": "lec", "l_x10": 10, "e_x10": 30, "c": 1}),
                0,
            ),
        ),
    ] {
        let (_, local) = manager
            .capture("risk.assess", entity, payload, vec![])
            .unwrap();
        assert_eq!(local.verdict, Verdict::Applied, "{local:?}");
    }
    manager.sync().await.unwrap();
    assert_eq!(colour_on_map(&server, &admin, &id).await, "yellow");
    let yellow = server
        .get("/v1/office/map?risk_colour=yellow", Some(&admin))
        .await;
    assert!(
        yellow.ok(200)["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == id.as_str()),
        "the map's filter takes the same colour"
    );

    // After a scald, re-assessed 4×5 = 20: 重大, red. A second phone's re-assessment of the same
    // version, sent later, is a conflict: nothing is overwritten.
    let (_, local) = manager
        .capture(
            "risk.assess",
            &oven,
            risk(&id, "烘干炉", json!({"method": "ls", "l": 4, "s": 5}), 1),
            vec![],
        )
        .unwrap();
    assert_eq!(local.verdict, Verdict::Applied, "{local:?}");
    let other_phone = TestDevice::enrolled(&server, "manager", town.password("manager")).await;
    other_phone.sync().await.unwrap();
    manager.sync().await.unwrap();
    let (_, stale) = other_phone
        .capture(
            "risk.assess",
            &oven,
            risk(&id, "烘干炉", json!({"method": "ls", "l": 1, "s": 1}), 1),
            vec![],
        )
        .unwrap();
    assert_eq!(
        stale.verdict,
        Verdict::Applied,
        "the other phone has not seen version 2"
    );
    other_phone.sync().await.unwrap();
    assert_eq!(
        other_phone.receipts().unwrap().last().map(|r| r.verdict),
        Some(Verdict::Conflict)
    );
    let point = manager.server_entity(&oven).unwrap().unwrap();
    assert_eq!(point.entity.body["version"], 2);
    assert_eq!(point.entity.body["level"], "major");
    assert_eq!(point.entity.body["history"][0]["level"], "general");
    assert_eq!(colour_on_map(&server, &admin, &id).await, "red");

    // The two lists, as the office reads and exports them.
    let mut browser = Browser::signed_in(&server, "admin", ADMIN_PASSWORD).await;
    let page = browser.get(&format!("/console/enterprises/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("按风险点最高等级"), "{}", page.body);
    assert!(
        page.body
            .contains("重大风险 1 个 · 较大风险 0 个 · 一般风险 0 个 · 低风险 1 个"),
        "{}",
        page.body
    );
    let lists = browser
        .get(&format!("/console/enterprises/{id}/risks"))
        .await;
    assert_eq!(lists.status, 200);
    for words in [
        "风险点辨识清单",
        "风险分级管控清单",
        "烘干炉",
        "成品仓库",
        "灼烫、火灾",
        "L=4 S=5",
        "L=1 E=3 C=1",
        "重大风险",
        "燃气管道加装泄漏报警",
    ] {
        assert!(
            lists.body.contains(words),
            "{words} missing: {}",
            lists.body
        );
    }
    let csv = browser
        .get(&format!("/console/enterprises/{id}/risks/control.csv"))
        .await;
    assert_eq!(csv.status, 200);
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 3, "{}", csv.body);
    assert!(lines[0].contains("风险等级") && lines[0].contains("岗位级管控措施"));
    assert!(lines[1].starts_with("1,烘干炉,风险矩阵法（LS）,L=4 S=5,20,重大风险,燃气管道加装泄漏报警,,班前检查炉门密封,佩戴隔热手套,2"), "{}", lines[1]);
    assert!(
        lines[2].contains("成品仓库") && lines[2].contains(",3,低风险,"),
        "{}",
        lines[2]
    );
    let xlsx = browser
        .get(&format!(
            "/console/enterprises/{id}/risks/identification.xlsx"
        ))
        .await;
    assert_eq!(xlsx.status, 200);
    let unknown = format!("/console/enterprises/{id}/risks/identification.pdf");
    assert_eq!(browser.get(&unknown).await.status, 404);

    // Retired (the oven is replaced by a heat pump): the store's blue is the highest left.
    let (_, local) = manager
        .capture(
            "risk.retire",
            &oven,
            json!({"note": "烘干炉已拆除，改用热泵"}),
            vec![],
        )
        .unwrap();
    assert_eq!(local.verdict, Verdict::Applied, "{local:?}");
    manager.sync().await.unwrap();
    assert_eq!(colour_on_map(&server, &admin, &id).await, "blue");

    // The office grades it orange and says why: that stands over the risk points.
    let mut record = seaweed["body"].clone();
    record
        .as_object_mut()
        .unwrap()
        .remove("credit_code_warning");
    record["risk_colour"] = json!("orange");
    record["risk_colour_reason"] = json!("2026年发生过燃气泄漏，列为较大风险企业重点监管");
    server
        .call(
            reqwest::Method::PUT,
            &format!("/v1/admin/enterprises/{id}"),
            Some(&admin),
            Some(record.clone()),
        )
        .await
        .ok(200);
    assert_eq!(colour_on_map(&server, &admin, &id).await, "orange");
    let page = browser.get(&format!("/console/enterprises/{id}")).await;
    assert!(
        page.body.contains("安委办评定：2026年发生过燃气泄漏"),
        "{}",
        page.body
    );
    // A reason without a colour is refused, and changes nothing.
    record["risk_colour"] = Value::Null;
    server
        .call(
            reqwest::Method::PUT,
            &format!("/v1/admin/enterprises/{id}"),
            Some(&admin),
            Some(record),
        )
        .await
        .assert_error(400, "payload-invalid");
    assert_eq!(colour_on_map(&server, &admin, &id).await, "orange");

    // The colours survive a restart, when the facts are read back (not made again).
    let server = server.restart().await;
    let admin = server.admin().await;
    assert_eq!(colour_on_map(&server, &admin, &id).await, "orange");
}

#[tokio::test]
async fn a_team_lead_reads_the_risk_points_but_cannot_grade_them_and_bad_scores_are_refused() {
    let (server, town) = TestServer::demo().await;
    let lead = TestDevice::enrolled(&server, "teamlead", town.password("teamlead")).await;
    lead.sync().await.unwrap();
    let enterprise = enterprise_of(&lead);
    let point = anjian_sync::client::Device::new_entity_id();
    let (_, local) = lead
        .capture(
            "risk.assess",
            &point,
            risk(
                &enterprise,
                "烘干炉",
                json!({"method": "ls", "l": 3, "s": 4}),
                0,
            ),
            vec![],
        )
        .unwrap();
    assert_eq!(local.reason.unwrap().code, "not-permitted");
    let manager = TestDevice::enrolled(&server, "manager", town.password("manager")).await;
    manager.sync().await.unwrap();
    let (_, off_scale) = manager
        .capture(
            "risk.assess",
            &point,
            risk(
                &enterprise,
                "烘干炉",
                json!({"method": "lec", "l_x10": 4, "e_x10": 30, "c": 15}),
                0,
            ),
            vec![],
        )
        .unwrap();
    assert_eq!(off_scale.reason.unwrap().code, "risk-score-invalid");
    let (_, graded) = manager
        .capture(
            "risk.assess",
            &point,
            risk(
                &enterprise,
                "烘干炉",
                json!({"method": "ls", "l": 3, "s": 4}),
                0,
            ),
            vec![],
        )
        .unwrap();
    assert_eq!(graded.verdict, Verdict::Applied);
    manager.sync().await.unwrap();
    let verdicts: Vec<Verdict> = manager
        .receipts()
        .unwrap()
        .iter()
        .map(|r| r.verdict)
        .collect();
    assert_eq!(verdicts, [Verdict::Quarantined, Verdict::Applied]);
    // The team lead's phone has it (the enterprise's directory), to read offline.
    lead.sync().await.unwrap();
    let read = lead
        .server_entity(&point)
        .unwrap()
        .expect("the team lead reads it");
    assert_eq!(read.entity.body["colour"], "yellow");
}

#[tokio::test]
async fn a_posts_card_is_published_read_offline_printed_and_named_by_briefings() {
    let (server, town) = TestServer::demo().await;
    let manager = TestDevice::enrolled(&server, "manager", town.password("manager")).await;
    manager.sync().await.unwrap();
    let enterprise = enterprise_of(&manager);
    let oven = anjian_sync::client::Device::new_entity_id();
    let (_, graded) = manager
        .capture(
            "risk.assess",
            &oven,
            risk(
                &enterprise,
                "烘干炉",
                json!({"method": "ls", "l": 3, "s": 4}),
                0,
            ),
            vec![],
        )
        .unwrap();
    assert_eq!(graded.verdict, Verdict::Applied, "{graded:?}");
    let card_id = anjian_sync::kinds::card::card_id(
        &enterprise,
        "烘干工",
        anjian_sync::kinds::card::CardKind::RiskNotice,
    );
    let card = |version: u32| {
        json!({"enterprise_id": enterprise, "post": "烘干工", "card": "risk_notice",
            "version": version, "risk_points": [oven],
            "sections": [{"heading": "危险因素", "items": ["炉体高温", "燃气泄漏"]},
                         {"heading": "防范措施", "items": ["佩戴隔热手套", "开炉前检查燃气报警器"]}],
            "phones": [{"name": "厂区值班室", "number": "0513-88880000"}]})
    };
    let (_, published) = manager
        .capture("card.publish", &card_id, card(1), vec![])
        .unwrap();
    assert_eq!(published.verdict, Verdict::Applied, "{published:?}");
    // A card for a post no risk point names is refused on the phone.
    let mut forklift = card(1);
    forklift["post"] = json!("叉车司机");
    let forklift_id = anjian_sync::kinds::card::card_id(
        &enterprise,
        "叉车司机",
        anjian_sync::kinds::card::CardKind::RiskNotice,
    );
    let (_, refused) = manager
        .capture("card.publish", &forklift_id, forklift, vec![])
        .unwrap();
    assert_eq!(refused.reason.unwrap().code, "unknown-post");
    manager.sync().await.unwrap();

    // The team lead's phone holds the card after a sync, and reads it with no network.
    let lead = TestDevice::enrolled(&server, "teamlead", town.password("teamlead")).await;
    lead.sync().await.unwrap();
    let mut server = server;
    server.stop().await;
    let held = lead
        .server_entity(&card_id)
        .unwrap()
        .expect("the card is on the phone");
    assert_eq!(held.entity.body["sections"][0]["items"][1], "燃气泄漏");
    // Offline, the lead briefs 陈阿妹 on version 1 of her post's card: kept; "version 2" is not.
    let worker = lead
        .entities(anjian_sync::entity::EntityType::Worker)
        .unwrap()
        .into_iter()
        .find(|w| w.body["name"] == "陈阿妹")
        .unwrap();
    let briefing = |version: u32| {
        json!({"enterprise_id": enterprise, "team_id": "t1", "date": "2026-11-30", "shift": "早班",
            "worker_id": worker.id, "worker_name": "陈阿妹", "post": "烘干工", "card_version": version,
            "points": ["炉体高温", "燃气泄漏"], "duration_s": 62, "started_at_ms": 1_764_460_000_000_i64})
    };
    let briefing_id = anjian_sync::kinds::briefing::briefing_id(
        &enterprise,
        "t1",
        "2026-11-30",
        "早班",
        &worker.id,
    );
    let (_, ahead) = lead
        .capture("briefing.record", &briefing_id, briefing(2), vec![])
        .unwrap();
    assert_eq!(ahead.reason.unwrap().code, "unknown-card");
    let (_, read) = lead
        .capture("briefing.record", &briefing_id, briefing(1), vec![])
        .unwrap();
    assert_eq!(read.verdict, Verdict::Applied, "{read:?}");
    let server = server.restart().await;
    let lead = lead.reopen_at(&server);
    lead.sync().await.unwrap();
    assert_eq!(
        lead.receipts().unwrap().last().map(|r| r.verdict),
        Some(Verdict::Applied)
    );

    // The office prints it (A5, or A4), and the risk lists show each post's three cards.
    let mut browser = Browser::signed_in(&server, "admin", ADMIN_PASSWORD).await;
    let page = browser.get(&format!("/console/cards/{card_id}")).await;
    assert_eq!(page.status, 200);
    for words in [
        "岗位风险告知卡",
        "烘干工",
        "第 1 版",
        "开炉前检查燃气报警器",
        "0513-88880000",
        "一般风险",
        "card-sheet a5",
    ] {
        assert!(page.body.contains(words), "{words} missing: {}", page.body);
    }
    let a4 = browser
        .get(&format!("/console/cards/{card_id}?paper=a4"))
        .await;
    assert!(a4.body.contains("card-sheet a4"));
    let lists = browser
        .get(&format!("/console/enterprises/{enterprise}/risks"))
        .await;
    assert!(
        lists.body.contains(&format!("/console/cards/{card_id}")),
        "{}",
        lists.body
    );
    assert!(
        lists.body.contains("未发布"),
        "the emergency and commitment cards are not yet"
    );
    assert_eq!(
        browser.get(&format!("/console/cards/{oven}")).await.status,
        404,
        "a risk point is not a card"
    );
    // One who cannot read the enterprise learns nothing of its lists or cards.
    let mut outsider = Browser::signed_in(&server, "publicist", town.password("publicist")).await;
    for path in [
        format!("/console/cards/{card_id}"),
        format!("/console/enterprises/{enterprise}/risks"),
        format!("/console/enterprises/{enterprise}/risks/control.csv"),
    ] {
        assert_eq!(outsider.get(&path).await.status, 404, "{path}");
    }
}

#[tokio::test]
async fn a_commitment_shows_who_signed_and_a_public_notice_of_major_risk_is_read_by_anyone() {
    let (server, town) = TestServer::demo().await;
    let manager = TestDevice::enrolled(&server, "manager", town.password("manager")).await;
    manager.sync().await.unwrap();
    let enterprise = enterprise_of(&manager);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let year = anjian_sync::clock::china_date(now)
        .get(..4)
        .unwrap()
        .to_string();

    // The principal's commitment, with the photo of the signed page.
    let page = manager
        .add_photo_bytes(&anjian_tests::photos::jpeg(800, 600, 31, None))
        .unwrap();
    let commitment = json!({"enterprise_id": enterprise, "year": year, "principal": "刘建国",
        "pledges": ["严格落实安全生产主体责任"], "signed_on": format!("{year}-01-05")});
    let id = anjian_sync::kinds::commitment::commitment_id(&enterprise, &year);
    let (_, unsigned) = manager
        .capture("commitment.sign", &id, commitment.clone(), vec![])
        .unwrap();
    assert_eq!(unsigned.reason.unwrap().code, "photo-required");
    let (_, signed) = manager
        .capture("commitment.sign", &id, commitment, vec![page.clone()])
        .unwrap();
    assert_eq!(signed.verdict, Verdict::Applied, "{signed:?}");

    // A major risk point, and its notice, public.
    let tank = anjian_sync::client::Device::new_entity_id();
    let (_, graded) = manager
        .capture(
            "risk.assess",
            &tank,
            risk(
                &enterprise,
                "燃气储罐",
                json!({"method": "ls", "l": 4, "s": 5}),
                0,
            ),
            vec![],
        )
        .unwrap();
    assert_eq!(graded.verdict, Verdict::Applied, "{graded:?}");
    let notice_id = anjian_sync::client::Device::new_entity_id();
    let notice = |version: u32, public: bool| {
        json!({"enterprise_id": enterprise, "version": version, "title": "燃气储罐重大安全风险公告",
            "risk_points": [tank], "body": "燃气泄漏可致火灾爆炸；储罐区严禁烟火；泄漏时关阀、撤离、报警。",
            "contact": "刘建国 13106658035", "public": public})
    };
    let (_, posted) = manager
        .capture("notice.publish", &notice_id, notice(1, true), vec![])
        .unwrap();
    assert_eq!(posted.verdict, Verdict::Applied, "{posted:?}");
    manager.sync().await.unwrap();
    assert_eq!(
        manager
            .receipts()
            .unwrap()
            .iter()
            .filter(|r| r.verdict == Verdict::Applied)
            .count(),
        3
    );

    // Anyone reads the public notice, with no login.
    let public = server.get("/v1/public/notices", None).await;
    let notices: Vec<Value> = public.ok(200)["notices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["enterprise"] == "海安市海晟紫菜加工厂")
        .cloned()
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["enterprise"], "海安市海晟紫菜加工厂");
    assert_eq!(notices[0]["risks"], json!(["燃气储罐"]));
    assert_eq!(notices[0]["version"], 1);

    // The office sees who signed, and which enterprises have not.
    let mut browser = Browser::signed_in(&server, "admin", ADMIN_PASSWORD).await;
    let list = browser.get("/console/commitments").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("刘建国"), "{}", list.body);
    assert!(
        list.body
            .contains(&format!("/console/photos/{page}/original"))
    );
    assert_eq!(
        browser.get("/console/commitments?year=26").await.status,
        400
    );
    let missing = browser.get("/console/commitments?show=missing").await;
    assert!(!missing.body.contains("海晟紫菜"), "{}", missing.body);
    assert!(
        missing.body.contains("未签署"),
        "other enterprises have not signed"
    );
    let detail = browser
        .get(&format!("/console/enterprises/{enterprise}"))
        .await;
    assert!(
        detail
            .body
            .contains(&format!("{year} 年：刘建国 于 {year}-01-05 签署")),
        "{}",
        detail.body
    );
    assert!(
        detail
            .body
            .contains("燃气储罐重大安全风险公告（第 1 版） · 公开"),
        "{}",
        detail.body
    );

    // The tank re-graded low (1×1): the notice is about no major risk and leaves the public
    // list; graded major again, it is back.
    for (version, l, s, shown) in [(1, 1, 1, 0), (2, 4, 5, 1)] {
        let (_, regraded) = manager
            .capture(
                "risk.assess",
                &tank,
                risk(
                    &enterprise,
                    "燃气储罐",
                    json!({"method": "ls", "l": l, "s": s}),
                    version,
                ),
                vec![],
            )
            .unwrap();
        assert_eq!(regraded.verdict, Verdict::Applied, "{regraded:?}");
        manager.sync().await.unwrap();
        assert_eq!(public_notices(&server).await, shown);
    }
    // Version 2 kept inside the enterprise: off the public list; version 3 public again.
    for (version, public, shown) in [(2, false, 0), (3, true, 1)] {
        let (_, posted) = manager
            .capture(
                "notice.publish",
                &notice_id,
                notice(version, public),
                vec![],
            )
            .unwrap();
        assert_eq!(posted.verdict, Verdict::Applied, "{posted:?}");
        manager.sync().await.unwrap();
        assert_eq!(public_notices(&server).await, shown);
    }
    // Taken down: off the public list.
    let (_, down) = manager
        .capture(
            "notice.withdraw",
            &notice_id,
            json!({"note": "储罐已拆除"}),
            vec![],
        )
        .unwrap();
    assert_eq!(down.verdict, Verdict::Applied, "{down:?}");
    manager.sync().await.unwrap();
    assert_eq!(public_notices(&server).await, 0);
    let detail = browser
        .get(&format!("/console/enterprises/{enterprise}"))
        .await;
    assert!(
        detail.body.contains("已撤下：储罐已拆除"),
        "{}",
        detail.body
    );
}

#[tokio::test]
async fn the_four_colour_plan_places_live_risk_points_on_the_enterprises_floor_plan() {
    let (server, town) = TestServer::demo().await;
    let manager = TestDevice::enrolled(&server, "manager", town.password("manager")).await;
    manager.sync().await.unwrap();
    let enterprise = enterprise_of(&manager);
    let mut browser = Browser::signed_in(&server, "admin", ADMIN_PASSWORD).await;
    let empty = browser
        .get(&format!("/console/enterprises/{enterprise}/plan"))
        .await;
    assert_eq!(empty.status, 200);
    assert!(
        empty.body.contains("企业尚未上传平面布置图"),
        "{}",
        empty.body
    );

    // A 1200 × 800 plan, and two risk points: one placed at (25%, 50%), one not placed.
    let image = manager
        .add_photo_bytes(&anjian_tests::photos::jpeg(1200, 800, 51, None))
        .unwrap();
    let plan_id = anjian_sync::kinds::floorplan::floorplan_id(&enterprise);
    let (_, saved) = manager
        .capture(
            "floorplan.save",
            &plan_id,
            json!({"enterprise_id": enterprise, "version": 1, "title": "厂区平面布置图", "image": image}),
            vec![image.clone()],
        )
        .unwrap();
    assert_eq!(saved.verdict, Verdict::Applied, "{saved:?}");
    let mut oven = risk(
        &enterprise,
        "烘干炉",
        json!({"method": "ls", "l": 4, "s": 5}),
        0,
    );
    oven["plan_point"] = json!({"x_permille": 250, "y_permille": 500});
    let store = risk(
        &enterprise,
        "成品仓库",
        json!({"method": "ls", "l": 1, "s": 2}),
        0,
    );
    for payload in [oven, store] {
        let (_, graded) = manager
            .capture(
                "risk.assess",
                &anjian_sync::client::Device::new_entity_id(),
                payload,
                vec![],
            )
            .unwrap();
        assert_eq!(graded.verdict, Verdict::Applied, "{graded:?}");
    }
    manager.sync().await.unwrap();

    let page = browser
        .get(&format!("/console/enterprises/{enterprise}/plan"))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("viewBox=\"0 0 1200 800\""),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("/console/photos/{image}/large"))
    );
    assert!(
        page.body.contains("cx=\"300\" cy=\"400\"") && page.body.contains("fill=\"#d9362b\""),
        "the oven, red, a quarter across and half down: {}",
        page.body
    );
    assert!(page.body.contains("烘干炉（重大风险）"));
    assert!(
        page.body.contains("未标注位置的风险点：成品仓库"),
        "{}",
        page.body
    );
    // One who cannot read the enterprise learns nothing of it.
    let mut other = Browser::signed_in(&server, "publicist", town.password("publicist")).await;
    assert_eq!(
        other
            .get(&format!("/console/enterprises/{enterprise}/plan"))
            .await
            .status,
        404
    );
}
