//! Duty schedules and compliance (履职情况) through the real server: the office sets a team's
//! calendar, the team lead's meetings follow it, and compliance says what was due, done late and
//! missed, to the office and to the team lead, over HTTP and in the console.

use anjian_sync::judge::Verdict;
use anjian_sync::kinds::meeting::{Slot, meeting_id};
use anjian_tests::console::Browser;
use anjian_tests::devices::TestDevice;
use anjian_tests::{ADMIN_PASSWORD, TestServer};
use serde_json::json;

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
        "shifts": ["早班"], "slots": ["pre_shift"], "rest_weekdays": [7], "rest_days": [], "crew": 0});
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
}
