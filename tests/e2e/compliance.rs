//! Duty schedules and compliance (履职情况) through the real server: the office sets a team's
//! calendar, the team lead's meetings follow it, and compliance says what was due, done late and
//! missed, to the office and to the team lead, over HTTP and in the console.

use anjian_sync::judge::Verdict;
use anjian_sync::kinds::meeting::{Slot, meeting_id};
use anjian_tests::console::Browser;
use anjian_tests::devices::TestDevice;
use anjian_tests::{ADMIN_PASSWORD, TestServer};
use serde_json::{Value, json};

#[tokio::test]
async fn a_teams_calendar_makes_meetings_due_and_compliance_counts_them() {
    let (server, town) = TestServer::demo().await;
    let lead = TestDevice::enrolled(&server, "teamlead", town.password("teamlead")).await;
    lead.sync().await.unwrap();
    let team = lead
        .entities(anjian_sync::entity::EntityType::Team)
        .unwrap()
        .into_iter()
        .find(|t| t.body["code"] == "t1")
        .unwrap();
    let enterprise = team.body["enterprise_id"].as_str().unwrap().to_string();

    // The office sets October's calendar after the fact (the safety manager plans ahead only):
    // one shift, the pre-shift meeting, Sundays off.
    let office = TestDevice::enrolled(&server, "admin", ADMIN_PASSWORD).await;
    office.sync().await.unwrap();
    let schedule = anjian_sync::kinds::schedule::schedule_id(&enterprise, "t1");
    let calendar = json!({"enterprise_id": enterprise, "team_id": "t1", "from": "2026-10-01",
        "shifts": ["早班"], "slots": ["pre_shift"], "rest_weekdays": [7], "rest_days": [], "crew": 0,
        "supersedes": 0});
    let (_, set) = office
        .capture("schedule.save", &schedule, calendar.clone(), vec![])
        .unwrap();
    assert_eq!(set.verdict, Verdict::Applied, "{set:?}");
    office.sync().await.unwrap();
    let manager = TestDevice::enrolled(&server, "manager", town.password("manager")).await;
    manager.sync().await.unwrap();
    let (_, backdated) = manager
        .capture(
            "schedule.save",
            &schedule,
            {
                let mut later = calendar.clone();
                later["from"] = json!("2026-10-20");
                later["supersedes"] = json!(1);
                later
            },
            vec![],
        )
        .unwrap();
    assert_eq!(
        backdated.reason.unwrap().code,
        "payload-invalid",
        "a past day stays as it was"
    );

    // The lead records the meeting of Monday the 5th now (补录), and cannot record a Sunday's.
    lead.sync().await.unwrap();
    let photo = lead
        .add_photo_bytes(&anjian_tests::photos::jpeg(640, 480, 41, None))
        .unwrap();
    let meeting = |day: &str| {
        json!({"enterprise_id": enterprise, "team_id": "t1", "date": day, "shift": "早班",
            "slot": "pre_shift", "host": "陈阿妹", "started_at_ms": 1_759_622_400_000_i64,
            "ended_at_ms": 1_759_622_760_000_i64, "place": "烘干车间",
            "attendance": [{"name": "陈阿妹", "status": "present", "fit_for_duty": true, "ppe_ok": true}],
            "topics": ["烘干炉温度控制"]})
    };
    let (_, held) = lead
        .capture(
            "meeting.submit",
            &meeting_id(&enterprise, "t1", "2026-10-05", "早班", Slot::PreShift),
            meeting("2026-10-05"),
            vec![photo.clone()],
        )
        .unwrap();
    assert_eq!(held.verdict, Verdict::Applied, "{held:?}");
    let (_, sunday) = lead
        .capture(
            "meeting.submit",
            &meeting_id(&enterprise, "t1", "2026-10-04", "早班", Slot::PreShift),
            meeting("2026-10-04"),
            vec![photo],
        )
        .unwrap();
    assert_eq!(sunday.reason.unwrap().code, "not-a-working-day");
    lead.sync().await.unwrap();

    // October: 31 days less the four Sundays (4, 11, 18, 25) = 27 meetings due; 1 held late.
    let admin = server.admin().await;
    let report = server
        .get(
            &format!("/v1/office/compliance?from=2026-10-01&to=2026-10-31&enterprise={enterprise}"),
            Some(&admin),
        )
        .await;
    let report = report.ok(200).clone();
    assert_eq!(report["town"]["due"], 27, "{report}");
    assert_eq!(report["town"]["late"], 1);
    assert_eq!(report["town"]["on_time"], 0);
    assert_eq!(report["town"]["missed"], 26);
    assert_eq!(report["town"]["percent"], 3);
    assert_eq!(report["missed"].as_array().unwrap().len(), 26);
    assert_eq!(report["missed"][0]["day"], "2026-10-01");
    assert_eq!(report["teams"][0]["team"], "t1");
    // The team lead reads the same of their own team.
    let token = server.token("teamlead", town.password("teamlead")).await;
    let theirs = server
        .get(
            "/v1/office/compliance?from=2026-10-01&to=2026-10-31",
            Some(&token),
        )
        .await;
    assert_eq!(theirs.ok(200)["town"]["missed"], 26);
    // A period that is not one.
    server
        .get(
            "/v1/office/compliance?from=2026-10-31&to=2026-10-01",
            Some(&admin),
        )
        .await
        .assert_error(400, "invalid-parameter");
    server
        .get(
            "/v1/office/compliance?from=2026-10-01&to=2027-12-31",
            Some(&admin),
        )
        .await
        .assert_error(400, "invalid-parameter");

    // And in the console.
    let mut browser = Browser::signed_in(&server, "admin", ADMIN_PASSWORD).await;
    let page = browser.get("/console/compliance?month=2026-10").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("2026-10-01 至 2026-10-31"),
        "{}",
        page.body
    );
    assert!(page.body.contains("海晟紫菜加工厂 · t1"), "{}", page.body);
    assert!(page.body.contains("<td>2026-10-06</td>"), "{}", page.body);
    assert!(!page.body.contains("<td>2026-10-05</td>"), "held, if late");
    let bad = browser.get("/console/compliance?month=2026-13").await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        browser.get("/console/compliance?month=2026-1").await.status,
        400
    );
    // The enterprise's page says each team's calendar and leads to its compliance alone.
    let detail = browser
        .get(&format!("/console/enterprises/{enterprise}"))
        .await;
    assert!(
        detail
            .body
            .contains("烘干一班（t1）：自 2026-10-01 起：早班；班前会；每周周日休息"),
        "{}",
        detail.body
    );
    assert!(detail.body.contains("包装二班（t2）：未登记工作日历"));
    let own = browser
        .get(&format!(
            "/console/compliance?month=2026-10&enterprise={enterprise}"
        ))
        .await;
    assert!(own.body.contains("海晟紫菜加工厂 · t1"), "{}", own.body);
    let elsewhere = browser
        .get("/console/compliance?month=2026-10&enterprise=no-such-enterprise")
        .await;
    assert!(!elsewhere.body.contains("海晟紫菜加工厂 · t1"));
}

/// Today and `back` days before, in China, `YYYY-MM-DD`.
fn china_day(back: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    anjian_sync::clock::china_date(now - back * 86_400_000)
}

#[tokio::test]
async fn each_person_gets_what_is_due_for_them_today() {
    let (server, town) = TestServer::demo().await;
    let lead = TestDevice::enrolled(&server, "teamlead", town.password("teamlead")).await;
    lead.sync().await.unwrap();
    let enterprise = lead
        .entities(anjian_sync::entity::EntityType::Team)
        .unwrap()
        .into_iter()
        .find(|t| t.body["code"] == "t1")
        .map(|t| t.body["enterprise_id"].as_str().unwrap().to_string())
        .unwrap();
    let due_of = |token: String| {
        let server = &server;
        async move {
            let due = server.get("/v1/me/due", Some(&token)).await;
            due.ok(200)["items"].as_array().unwrap().clone()
        }
    };
    let lead_token = server.token("teamlead", town.password("teamlead")).await;
    assert!(
        due_of(lead_token.clone()).await.is_empty(),
        "no schedule, nothing due"
    );

    // The office's calendar for team t1 from a week ago: every day, the pre-shift and handover
    // meetings, two briefed, a weekly self-check with the shipped checklist.
    let office = TestDevice::enrolled(&server, "admin", ADMIN_PASSWORD).await;
    office.sync().await.unwrap();
    let (_, set) = office
        .capture(
            "schedule.save",
            &anjian_sync::kinds::schedule::schedule_id(&enterprise, "t1"),
            json!({"enterprise_id": enterprise, "team_id": "t1", "from": china_day(7),
                "shifts": ["早班"], "slots": ["pre_shift", "handover"], "crew": 2,
                "self_checks": [{"every": "week", "template": "small-enterprise"}], "supersedes": 0}),
            vec![],
        )
        .unwrap();
    assert_eq!(set.verdict, Verdict::Applied, "{set:?}");
    office.sync().await.unwrap();

    // Today's pre-shift meeting is held (the demo's team lead held it this morning).
    let today = china_day(0);
    let items = due_of(lead_token).await;
    let today_meetings: Vec<_> = items
        .iter()
        .filter(|i| i["kind"] == "meeting" && i["day"] == today.as_str())
        .map(|i| (i["title"].as_str().unwrap(), i["done"].as_bool().unwrap()))
        .collect();
    assert_eq!(today_meetings.len(), 2, "{items:?}");
    assert!(today_meetings.contains(&("早班班前会", true)));
    assert!(today_meetings.contains(&("早班交接班会", false)));
    // Overdue: each meeting of the last seven days that the team has not held (the demo's
    // history holds some), by the records on the lead's phone.
    lead.sync().await.unwrap();
    let held: std::collections::BTreeSet<(String, String)> = lead
        .entities(anjian_sync::entity::EntityType::Meeting)
        .unwrap()
        .into_iter()
        .filter(|m| m.body["team_id"] == "t1" && m.body["shift"] == "早班")
        .map(|m| {
            (
                m.body["date"].as_str().unwrap().to_string(),
                m.body["slot"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut expected = Vec::new();
    for back in (1..=7).rev() {
        for (slot, title) in [("pre_shift", "早班班前会"), ("handover", "早班交接班会")]
        {
            if !held.contains(&(china_day(back), slot.to_string())) {
                expected.push((china_day(back), title.to_string()));
            }
        }
    }
    let mut overdue: Vec<(String, String)> = items
        .iter()
        .filter(|i| i["kind"] == "meeting" && i["overdue"] == true)
        .map(|i| {
            (
                i["day"].as_str().unwrap().to_string(),
                i["title"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    overdue.sort();
    expected.sort();
    assert!(
        expected.len() >= 10,
        "most of the week was not held: {held:?}"
    );
    assert_eq!(overdue, expected, "{items:?}");
    assert_eq!(items[0]["overdue"], true, "overdue first");
    assert!(
        items
            .iter()
            .any(|i| i["kind"] == "briefings" && i["title"] == "岗前一分钟 0/2 人")
    );

    // The safety manager: the week's self-check, a hazard to rectify, a certificate running
    // out in twenty days (the demo's electrician), the year's commitment.
    let manager_token = server.token("manager", town.password("manager")).await;
    let items = due_of(manager_token).await;
    let kinds: std::collections::BTreeSet<&str> =
        items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    for kind in ["self_check", "rectify", "certificate", "commitment"] {
        assert!(kinds.contains(kind), "{kind} missing: {items:?}");
    }
    assert!(
        items
            .iter()
            .any(|i| i["title"] == "本周自查（t1，检查表 small-enterprise）")
    );
    assert!(
        items
            .iter()
            .any(|i| i["kind"] == "certificate" && i["title"].as_str().unwrap().contains("黄秀兰"))
    );

    // The inspector: the hazard awaiting acceptance (the demo's emergency lights).
    let inspector_token = server.token("inspector", town.password("inspector")).await;
    let items = due_of(inspector_token).await;
    assert!(
        items
            .iter()
            .any(|i| i["kind"] == "accept" && i["title"].as_str().unwrap().contains("应急照明")),
        "{items:?}"
    );
    assert!(
        items
            .iter()
            .all(|i| i["kind"] == "accept" || i["kind"] == "inspect")
    );
}

#[tokio::test]
async fn the_demo_shows_an_enterprises_duties_compliance_risk_lists_cards_and_plan() {
    let (server, demo) = TestServer::demo().await;
    let admin = server.admin().await;
    let found = server
        .get("/v1/office/enterprises?q=%E5%86%B7%E9%93%BE", Some(&admin))
        .await;
    let cold_store = found.ok(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Two weeks of its calendar were due, and its phone recorded most of them.
    let report = server
        .get(
            &format!(
                "/v1/office/compliance?from={}&to={}&enterprise={cold_store}",
                china_day(14),
                china_day(1)
            ),
            Some(&admin),
        )
        .await;
    let report = report.ok(200).clone();
    let figure = |name: &str| report["town"][name].as_u64().unwrap();
    assert!(figure("due") >= 40, "{report}");
    assert!(figure("on_time") * 10 >= figure("due") * 7, "{report}");
    assert!(
        figure("briefings_done") * 10 >= figure("briefings_due") * 7,
        "{report}"
    );
    assert!(figure("self_checks_done") > 0, "{report}");

    // The town's three weeks: every enterprise but the seaweed plant keeps a calendar; most
    // meetings are held on time, some late, some missed, some short; those that keep their
    // duties badly show it.
    let town_report = server
        .get(
            &format!(
                "/v1/office/compliance?from={}&to={}",
                china_day(20),
                china_day(1)
            ),
            Some(&admin),
        )
        .await;
    let town_report = town_report.ok(200).clone();
    let town = |name: &str| town_report["town"][name].as_u64().unwrap();
    assert!(town("due") > 1000, "{town_report}");
    assert!(town("on_time") * 10 > town("due") * 8, "{town_report}");
    for name in ["late", "missed", "short", "briefings_late"] {
        assert!(town(name) > 0, "{name}: {town_report}");
    }
    let enterprises = town_report["enterprises"].as_array().unwrap();
    assert_eq!(enterprises.len(), 29, "{town_report}");
    let rate = |e: &Value| {
        e["tally"]["on_time"].as_u64().unwrap() * 100 / e["tally"]["due"].as_u64().unwrap()
    };
    let map = server.get("/v1/office/map", Some(&admin)).await;
    let features = map.ok(200)["features"].as_array().unwrap().clone();
    let feature = |name: &str| {
        features
            .iter()
            .find(|f| f["properties"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not on the map"))
            .clone()
    };
    let laggard = feature("海安市东灶紫菜加工厂")["id"].clone();
    let laggard = enterprises.iter().find(|e| e["key"] == laggard).unwrap();
    assert!(
        rate(laggard) + 10 < town("on_time") * 100 / town("due"),
        "an enterprise that keeps its duties badly shows it: {laggard} in {town_report}"
    );
    // The year's commitments: the three that have not signed, and the seaweed plant that has
    // entered nothing yet (unless the period ended last year: the demo signs this year's).
    if china_day(1)[..4] == china_day(0)[..4] {
        let commitments = &town_report["commitments"];
        assert_eq!(commitments["signed"], 26, "{commitments}");
        let unsigned = commitments["unsigned"].as_array().unwrap();
        assert_eq!(unsigned.len(), 4, "{commitments}");
        assert!(unsigned.contains(&feature("海安市锦纶渔网厂")["id"]));
    }
    // The colours follow the risk points (a fishing-net maker's raw-material store is 较大), but
    // for the office's own colour with its reason.
    let colour = |name: &str| feature(name)["properties"]["risk_colour"].clone();
    assert_eq!(colour("海安市兴达渔具有限公司"), "orange");
    assert_eq!(colour("江苏恒信网业有限公司"), "yellow");
    assert_eq!(
        colour("海安市老坝港冷链物流有限公司（液氨制冷冷库）"),
        "red"
    );
    assert_eq!(colour("海安市滨海紫菜加工厂"), "yellow");
    let mut browser = Browser::signed_in(&server, "admin", ADMIN_PASSWORD).await;
    let lists = browser
        .get(&format!("/console/enterprises/{cold_store}/risks"))
        .await;
    for words in [
        "液氨制冷机房",
        "重大风险",
        "直接判定",
        "冷库作业区",
        "叉车作业",
        "第 1 版",
    ] {
        assert!(
            lists.body.contains(words),
            "{words} missing: {}",
            lists.body
        );
    }
    let plan = browser
        .get(&format!("/console/enterprises/{cold_store}/plan"))
        .await;
    assert_eq!(plan.body.matches("<circle").count(), 3, "{}", plan.body);
    // The enterprises that have not signed the year's commitment are listed, in compliance too.
    let page = browser.get("/console/compliance").await;
    let said = page
        .body
        .split("id=\"compliance-commitments\">")
        .nth(1)
        .unwrap()
        .split("</p>")
        .next()
        .unwrap()
        .to_string();
    if china_day(1)[..4] == china_day(0)[..4] {
        assert!(said.contains("已签署 26 家，未签署 4 家"), "{said}");
        assert!(said.contains("海安市锦纶渔网厂"), "{said}");
    }
    let missing = browser.get("/console/commitments?show=missing").await;
    for name in ["东灶紫菜", "华鼎紫菜", "锦纶渔网", "海晟紫菜"] {
        assert!(missing.body.contains(name), "{name}: {}", missing.body);
    }
    assert!(!missing.body.contains("冷链物流"), "{}", missing.body);
    // The cold store's duty-team lead has today's meetings on a working day (Sunday is off).
    let lead = server.token("coldlead", demo.password("coldlead")).await;
    let due = server.get("/v1/me/due", Some(&lead)).await;
    let today = china_day(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Days since 1970-01-01 (a Thursday) in China: Monday is 0, Sunday 6.
    let sunday = ((now + 8 * 3_600_000) / 86_400_000 + 3) % 7 == 6;
    let items = due.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(
        items
            .iter()
            .any(|i| i["kind"] == "meeting" && i["day"] == today.as_str()),
        !sunday,
        "{items:?}"
    );
    let public = server.get("/v1/public/notices", None).await;
    assert!(
        public.ok(200)["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["title"] == "液氨制冷机房重大安全风险公告")
    );
}
