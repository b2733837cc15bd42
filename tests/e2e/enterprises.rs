//! Enterprises (企业): the office's records, made through the admin API as server-signed events
//! and received by the devices that should see them.

use anjian_sync::entity::EntityType;
use anjian_tests::{TestDevice, TestServer, USER_PASSWORD};
use serde_json::{Value, json};

fn record(code: &str, grid: &str) -> Value {
    json!({"name": "福鼎海带加工厂", "credit_code": code, "industry": "紫菜加工", "scale": "below",
        "grid_id": grid, "address": "沙埕镇海滨路1号",
        "contacts": [{"name": "陈老板", "phone": "13800000000", "role": "法人"}],
        "risk_colour": "orange", "flags": {"ammonia_refrigeration": true, "confined_space": true}})
}

#[tokio::test]
async fn the_office_registers_enterprises_and_devices_receive_them() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    // Typed the way people type it: lower case, spaces around.
    let created = server
        .post(
            "/v1/admin/enterprises",
            Some(&admin),
            record(" 914403001922038216 ", "g1"),
        )
        .await;
    let created = created.ok(201).clone();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["entity_type"], "enterprise");
    assert_eq!(created["body"]["credit_code"], "914403001922038216");
    assert_eq!(created["body"]["credit_code_warning"], false);
    assert_eq!(
        created["buckets"],
        json!([
            format!("directory:{id}"),
            format!("enterprise:{id}"),
            "grid:g1",
            "town"
        ])
    );

    let flagged = server
        .post(
            "/v1/admin/enterprises",
            Some(&admin),
            record("914403001922038217", "g2"),
        )
        .await;
    assert_eq!(
        flagged.ok(201)["body"]["credit_code_warning"],
        true,
        "kept, with a warning"
    );

    let renamed = json!({"name": "福鼎海带加工有限公司"});
    let mut update = record("914403001922038216", "g1");
    update["name"] = renamed["name"].clone();
    let updated = server
        .call(
            reqwest::Method::PUT,
            &format!("/v1/admin/enterprises/{id}"),
            Some(&admin),
            Some(update),
        )
        .await;
    let updated = updated.ok(200);
    assert_eq!(updated["body"]["name"], "福鼎海带加工有限公司");
    assert!(updated["rev"].as_u64() > created["rev"].as_u64());

    // Who receives it: the enterprise's team lead, an inspector of its grid; not another grid's.
    for (username, roles, scopes) in [
        (
            "lead.chen",
            json!(["team_lead"]),
            json!({"enterprise": id, "team": "t1"}),
        ),
        ("insp.g1", json!(["inspector"]), json!({"grids": ["g1"]})),
        ("insp.g9", json!(["inspector"]), json!({"grids": ["g9"]})),
    ] {
        server
            .create_user(&admin, json!({"username": username, "password": USER_PASSWORD, "roles": roles, "scopes": scopes}))
            .await;
    }
    let enterprises = |device: &TestDevice| -> Vec<String> {
        device
            .server_entities()
            .unwrap()
            .into_iter()
            .filter(|p| p.entity.entity_type == EntityType::Enterprise)
            .map(|p| p.entity.body["name"].as_str().unwrap().to_string())
            .collect()
    };
    for (username, expected) in [("lead.chen", 1), ("insp.g1", 1), ("insp.g9", 0)] {
        let device = TestDevice::enrolled(&server, username, USER_PASSWORD).await;
        device.sync().await.unwrap();
        let seen = enterprises(&device);
        assert_eq!(seen.len(), expected, "{username}: {seen:?}");
        if expected == 1 {
            assert_eq!(seen[0], "福鼎海带加工有限公司");
        }
    }
}

#[tokio::test]
async fn bad_enterprises_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let cases = [
        (
            record("91440300192203821", "g1"),
            400,
            "credit-code-invalid",
        ),
        (
            record("91440300192203821O", "g1"),
            400,
            "credit-code-invalid",
        ),
        (record("914403001922038216", "g 1"), 400, "payload-invalid"),
        (json!({"name": "x"}), 400, "malformed-body"),
    ];
    for (body, status, code) in cases {
        server
            .post("/v1/admin/enterprises", Some(&admin), body)
            .await
            .assert_error(status, code);
    }
    let (_, leader) = server.add_user(&admin, "leader", &["leader"]).await;
    server
        .post(
            "/v1/admin/enterprises",
            Some(&leader),
            record("914403001922038216", "g1"),
        )
        .await
        .assert_error(403, "not-permitted");
    // Nothing reached the store: a town-wide reader pulls no enterprise.
    let device = TestDevice::enrolled(&server, "leader", anjian_tests::USER_PASSWORD).await;
    device.sync().await.unwrap();
    assert!(device.server_entities().unwrap().is_empty());
}
