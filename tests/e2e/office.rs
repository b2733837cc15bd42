//! Office lists (台账): filtered, paged, and limited to what the caller may see.

use anjian_tests::devices::PHOTO;
use anjian_tests::{TestDevice, TestServer, USER_PASSWORD};
use serde_json::{Value, json};

async fn list(server: &TestServer, token: &str, path: &str) -> Value {
    server.get(path, Some(token)).await.ok(200).clone()
}

fn count(page: &Value) -> usize {
    page["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn hazards_and_meetings_are_listed_by_filter_and_scope() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server.add_team(&admin, "e1", "t1").await;
    for (username, roles, scopes) in [
        ("insp.g1", json!(["inspector"]), json!({"grids": ["g1"]})),
        ("insp.g2", json!(["inspector"]), json!({"grids": ["g2"]})),
        (
            "lead.t1",
            json!(["team_lead"]),
            json!({"enterprise": "e1", "team": "t1"}),
        ),
    ] {
        server
            .create_user(&admin, json!({"username": username, "password": USER_PASSWORD, "roles": roles, "scopes": scopes}))
            .await;
    }
    let g1 = TestDevice::enrolled(&server, "insp.g1", USER_PASSWORD).await;
    let g2 = TestDevice::enrolled(&server, "insp.g2", USER_PASSWORD).await;
    let lead = TestDevice::enrolled(&server, "lead.t1", USER_PASSWORD).await;

    let (moved, _) = g1.report_hazard("general");
    g1.move_hazard(&moved, "reported", "rectifying", 0);
    g1.report_hazard("major");
    let late = anjian_sync::client::Device::new_entity_id();
    let overdue = json!({"enterprise_id": "e1", "grid_id": "g1", "level": "general", "description": "消防通道堵塞", "deadline": "2026-01-01"});
    g1.capture("hazard.report", &late, overdue, vec![PHOTO.into()])
        .unwrap();
    let elsewhere = anjian_sync::client::Device::new_entity_id();
    let theirs = json!({"enterprise_id": "e2", "grid_id": "g2", "level": "general", "description": "电线老化"});
    g2.capture("hazard.report", &elsewhere, theirs, vec![PHOTO.into()])
        .unwrap();
    lead.submit_meeting("e1", "t1", "早班");
    lead.submit_meeting("e1", "t1", "夜班");
    for device in [&g1, &g2, &lead] {
        device.sync().await.unwrap();
    }

    let all = list(&server, &admin, "/v1/office/hazards").await;
    assert_eq!(count(&all), 4, "the admin sees the town");
    let g1_token = server.token("insp.g1", USER_PASSWORD).await;
    assert_eq!(
        count(&list(&server, &g1_token, "/v1/office/hazards").await),
        3,
        "an inspector sees their grid"
    );
    let g2_token = server.token("insp.g2", USER_PASSWORD).await;
    let g2_page = list(&server, &g2_token, "/v1/office/hazards").await;
    assert_eq!(count(&g2_page), 1);
    assert_eq!(g2_page["items"][0]["id"], elsewhere.as_str());

    assert_eq!(
        count(&list(&server, &admin, "/v1/office/hazards?state=rectifying").await),
        1
    );
    assert_eq!(
        count(&list(&server, &admin, "/v1/office/hazards?level=major").await),
        1
    );
    let overdue = list(&server, &admin, "/v1/office/hazards?overdue=true").await;
    assert_eq!(count(&overdue), 1);
    assert_eq!(overdue["items"][0]["id"], late.as_str());
    assert_eq!(
        count(&list(&server, &admin, "/v1/office/hazards?enterprise=e2").await),
        1
    );
    assert_eq!(
        count(&list(&server, &admin, "/v1/office/hazards?grid=g1&state=reported").await),
        2
    );

    // Pages in a stable order.
    let first = list(&server, &admin, "/v1/office/hazards?limit=3").await;
    assert_eq!(count(&first), 3);
    let after = first["next_after"].as_str().unwrap();
    let second = list(
        &server,
        &admin,
        &format!("/v1/office/hazards?limit=3&after={after}"),
    )
    .await;
    assert_eq!(count(&second), 1);
    assert!(second.get("next_after").is_none());
    let mut ids: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    let listed = ids.clone();
    ids.sort();
    assert_eq!(ids, listed, "ordered by id");

    let meetings = list(
        &server,
        &admin,
        "/v1/office/meetings?enterprise=e1&team=t1&from=2026-11-28&to=2026-11-28",
    )
    .await;
    assert_eq!(count(&meetings), 2);
    assert_eq!(
        count(&list(&server, &admin, "/v1/office/meetings?from=2026-11-29").await),
        0
    );
    let lead_token = server.token("lead.t1", USER_PASSWORD).await;
    assert_eq!(
        count(&list(&server, &lead_token, "/v1/office/meetings").await),
        2
    );
    assert_eq!(
        count(&list(&server, &g2_token, "/v1/office/meetings").await),
        0,
        "not in their grid"
    );

    for bad in [
        "/v1/office/hazards?limit=0",
        "/v1/office/hazards?state=bogus",
        "/v1/office/hazards?level=minor",
        "/v1/office/inspections?kind=bogus",
        "/v1/office/enterprises?risk_colour=green",
        "/v1/office/meetings?from=2026-13-01",
        "/v1/office/meetings?to=tomorrow",
    ] {
        server
            .get(bad, Some(&admin))
            .await
            .assert_error(400, "invalid-parameter");
    }
    server
        .get("/v1/office/hazards", None)
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn enterprises_are_searched_by_name_code_grid_and_risk() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server.add_grid(&admin, "g1", "一网格").await;
    server.add_grid(&admin, "g2", "二网格").await;
    for (name, code, grid, risk) in [
        ("福鼎海带加工厂", "914403001922038216", "g1", "red"),
        ("海丰渔网厂", "9144030071526726XG", "g2", "blue"),
    ] {
        let record = json!({"name": name, "credit_code": code, "industry": "紫菜加工", "scale": "below",
            "grid_id": grid, "address": "沙埕镇", "risk_colour": risk});
        server
            .post("/v1/admin/enterprises", Some(&admin), record)
            .await
            .ok(201);
    }
    assert_eq!(
        count(&list(&server, &admin, "/v1/office/enterprises").await),
        2
    );
    let by_name = list(
        &server,
        &admin,
        "/v1/office/enterprises?q=%E6%B8%94%E7%BD%91",
    )
    .await;
    assert_eq!(count(&by_name), 1);
    assert_eq!(by_name["items"][0]["body"]["name"], "海丰渔网厂");
    assert_eq!(
        count(&list(&server, &admin, "/v1/office/enterprises?q=9144030019").await),
        1
    );
    assert_eq!(
        count(&list(&server, &admin, "/v1/office/enterprises?grid=g2").await),
        1
    );
    assert_eq!(
        count(&list(&server, &admin, "/v1/office/enterprises?risk_colour=red").await),
        1
    );
}

#[tokio::test]
async fn a_registered_enterprises_records_lie_in_its_grid() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server.add_grid(&admin, "g1", "一网格").await;
    server.add_grid(&admin, "g2", "二网格").await;
    let record = json!({"name": "福鼎海带加工厂", "credit_code": "914403001922038216", "industry": "紫菜加工",
        "scale": "below", "grid_id": "g1", "address": "沙埕镇"});
    let enterprise = server
        .post("/v1/admin/enterprises", Some(&admin), record)
        .await;
    let enterprise = enterprise.ok(201)["id"].as_str().unwrap().to_string();
    server.add_team(&admin, &enterprise, "t1").await;
    for (username, roles, scopes) in [
        ("insp.town", json!(["inspector"]), json!({"town": true})),
        ("insp.g1", json!(["inspector"]), json!({"grids": ["g1"]})),
        (
            "lead.t1",
            json!(["team_lead"]),
            json!({"enterprise": enterprise, "team": "t1"}),
        ),
    ] {
        server
            .create_user(&admin, json!({"username": username, "password": USER_PASSWORD, "roles": roles, "scopes": scopes}))
            .await;
    }
    // A town-wide inspector reports a hazard naming the wrong grid: it lies in the enterprise's.
    let town = TestDevice::enrolled(&server, "insp.town", USER_PASSWORD).await;
    let hazard = anjian_sync::client::Device::new_entity_id();
    let report = json!({"enterprise_id": enterprise, "grid_id": "g2", "level": "general", "description": "电线老化"});
    town.capture("hazard.report", &hazard, report, vec![PHOTO.into()])
        .unwrap();
    town.sync().await.unwrap();
    let stored = town.server_entity(&hazard).unwrap().unwrap();
    assert_eq!(stored.entity.body["grid_id"], "g1");
    assert!(stored.buckets.contains(&"grid:g1".to_string()));

    // The team's meetings are seen by the grid's inspector too.
    let lead = TestDevice::enrolled(&server, "lead.t1", USER_PASSWORD).await;
    lead.sync().await.unwrap();
    lead.submit_meeting(&enterprise, "t1", "早班");
    lead.sync().await.unwrap();
    let g1 = server.token("insp.g1", USER_PASSWORD).await;
    assert_eq!(count(&list(&server, &g1, "/v1/office/meetings").await), 1);
    assert_eq!(
        count(&list(&server, &g1, "/v1/office/hazards?grid=g1").await),
        1
    );
}
