//! Inspections (检查) against the checklist the server ships.

use anjian_sync::entity::EntityType;
use anjian_sync::judge::Verdict;
use anjian_tests::devices::PHOTO;
use anjian_tests::{TestDevice, TestServer, USER_PASSWORD};
use serde_json::json;

#[tokio::test]
async fn an_inspector_inspects_with_the_shipped_checklist_and_links_the_hazards() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server
        .create_user(&admin, json!({"username": "insp.li", "password": USER_PASSWORD, "roles": ["inspector"], "scopes": {"grids": ["g1"]}}))
        .await;
    let li = TestDevice::enrolled(&server, "insp.li", USER_PASSWORD).await;
    li.sync().await.unwrap();
    // Every device has the checklist (reference data), with all twelve sections.
    let template = li
        .server_entities()
        .unwrap()
        .into_iter()
        .find(|p| p.entity.entity_type == EntityType::Template)
        .expect("the shipped checklist");
    let sections: Vec<&str> = template.entity.body["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        sections,
        [
            "消防",
            "用电",
            "特种设备",
            "有限空间",
            "危化品",
            "粉尘",
            "液氨",
            "机械防护",
            "管理",
            "培训",
            "劳保",
            "应急"
        ]
    );

    let inspection_id = anjian_sync::client::Device::new_entity_id();
    let record = json!({"enterprise_id": "e1", "grid_id": "g1", "kind": "grid_patrol",
        "template": "small-enterprise", "template_version": 1,
        "inspectors": [{"name": "李执法"}], "started_at_ms": 1_764_300_000_000_i64, "ended_at_ms": 1_764_300_900_000_i64,
        "results": [{"item": "XF-01", "verdict": "ok"}, {"item": "XF-02", "verdict": "hazard", "note": "通道堆放杂物", "photos": [PHOTO]}],
        "summary": "发现一处隐患，已责令整改", "refusal_note": "负责人不在场"});
    let (event, local) = li.capture_with_template(
        "inspection.submit",
        &inspection_id,
        record,
        "small-enterprise@1",
    );
    assert_eq!(local.verdict, Verdict::Applied, "{local:?}");
    assert_eq!(
        event.body.template_ref.as_deref(),
        Some("small-enterprise@1")
    );
    let hazard = anjian_sync::client::Device::new_entity_id();
    let report = json!({"enterprise_id": "e1", "grid_id": "g1", "level": "general", "description": "疏散通道堆放杂物",
        "inspection_id": inspection_id});
    li.capture("hazard.report", &hazard, report, vec![PHOTO.into()])
        .unwrap();
    li.sync().await.unwrap();
    let receipts = li.receipts().unwrap();
    assert!(
        receipts.iter().all(|r| r.verdict == Verdict::Applied),
        "{receipts:?}"
    );
    let stored = li.server_entity(&inspection_id).unwrap().unwrap();
    assert_eq!(stored.entity.body["content_hash"], event.hash.as_str());
    assert_eq!(
        li.server_entity(&hazard).unwrap().unwrap().entity.body["inspection_id"],
        inspection_id.as_str()
    );

    // A checklist version nobody published is quarantined with a clear reason, and kept.
    let other = anjian_sync::client::Device::new_entity_id();
    let mut unknown = stored.entity.body.clone();
    for derived in ["submitted_by", "content_hash", "amendments"] {
        unknown.as_object_mut().unwrap().remove(derived);
    }
    unknown["template_version"] = json!(9);
    li.capture_with_template("inspection.submit", &other, unknown, "small-enterprise@9");
    li.sync().await.unwrap();
    let issue = &li.issues().unwrap()[0];
    assert_eq!(issue.entity.body["reason"]["code"], "unknown-template");
}

#[tokio::test]
async fn a_new_checklist_version_never_changes_records_made_with_an_older_one() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server
        .create_user(&admin, json!({"username": "insp.li", "password": USER_PASSWORD, "roles": ["inspector"], "scopes": {"grids": ["g1"]}}))
        .await;
    let v1 = json!({"code": "campaign", "version": 1, "title": "液氨专项检查表", "sections": [
        {"title": "液氨", "items": [{"code": "YA-01", "text": "阀门无泄漏"}, {"code": "YA-02", "text": "报警器有效"}]}]});
    server
        .post("/v1/admin/templates", Some(&admin), v1.clone())
        .await
        .ok(201);
    server
        .post("/v1/admin/templates", Some(&admin), v1)
        .await
        .assert_error(409, "template-published");

    let li = TestDevice::enrolled(&server, "insp.li", USER_PASSWORD).await;
    li.sync().await.unwrap();
    let record = |version: u32, item: &str| {
        json!({"enterprise_id": "e1", "grid_id": "g1", "kind": "special_campaign",
        "template": "campaign", "template_version": version, "inspectors": [{"name": "李执法"}],
        "started_at_ms": 1_764_300_000_000_i64, "ended_at_ms": 1_764_300_900_000_i64,
        "results": [{"item": item, "verdict": "ok"}], "summary": "符合", "refusal_note": "不在场"})
    };
    let old = anjian_sync::client::Device::new_entity_id();
    li.capture_with_template("inspection.submit", &old, record(1, "YA-02"), "campaign@1");
    li.sync().await.unwrap();

    // Version 2 drops an item; the record made with version 1 is untouched and still reads.
    let v2 = json!({"code": "campaign", "version": 2, "title": "液氨专项检查表（修订）", "sections": [
        {"title": "液氨", "items": [{"code": "YA-01", "text": "阀门无泄漏"}]}]});
    server
        .post("/v1/admin/templates", Some(&admin), v2)
        .await
        .ok(201);
    li.sync().await.unwrap();
    let kept = li.server_entity(&old).unwrap().unwrap();
    assert_eq!(kept.entity.body["template_version"], 1);
    assert_eq!(kept.entity.body["results"][0]["item"], "YA-02");
    // A device still on version 1 can record with it; version 2 refuses the dropped item.
    let offline = anjian_sync::client::Device::new_entity_id();
    li.capture_with_template(
        "inspection.submit",
        &offline,
        record(1, "YA-02"),
        "campaign@1",
    );
    let newer = anjian_sync::client::Device::new_entity_id();
    li.capture_with_template(
        "inspection.submit",
        &newer,
        record(2, "YA-02"),
        "campaign@2",
    );
    li.sync().await.unwrap();
    let verdicts: Vec<Verdict> = li.receipts().unwrap().iter().map(|r| r.verdict).collect();
    assert_eq!(
        verdicts,
        [Verdict::Applied, Verdict::Applied, Verdict::Quarantined]
    );
    let leader = server.token("insp.li", USER_PASSWORD).await;
    server
        .post("/v1/admin/templates", Some(&leader), json!({"code": "x", "version": 1, "title": "t", "sections": [{"title": "s", "items": [{"code": "a", "text": "b"}]}]}))
        .await
        .assert_error(403, "not-permitted");
}
