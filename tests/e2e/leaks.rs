//! Leaks: what a user learns must follow from what they may read. Naming a photo's hash grants
//! nothing.

use anjian_sync::client::Device;
use anjian_tests::devices::meeting_on;
use anjian_tests::photos::{jpeg, sha256_hex};
use anjian_tests::{TestDevice, TestServer, USER_PASSWORD};
use serde_json::json;

async fn user(
    server: &TestServer,
    admin: &str,
    username: &str,
    roles: serde_json::Value,
    scopes: serde_json::Value,
) {
    let user =
        json!({"username": username, "password": USER_PASSWORD, "roles": roles, "scopes": scopes});
    server.create_user(admin, user).await;
}

/// Team t1 of enterprises e1 and e2, led by `chen.a` and `zhao.b`.
async fn two_teams(server: &TestServer, admin: &str) {
    for (enterprise, team, lead) in [("e1", "t1", "chen.a"), ("e2", "t1", "zhao.b")] {
        server.add_team(admin, enterprise, team).await;
        let scopes = json!({"enterprise": enterprise, "team": team});
        user(server, admin, lead, json!(["team_lead"]), scopes).await;
    }
}

#[tokio::test]
async fn naming_a_photos_hash_grants_no_one_reading_it() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    two_teams(&server, &admin).await;
    user(&server, &admin, "xu.wen", json!(["publicist"]), json!({})).await;
    user(&server, &admin, "gao", json!(["reviewer"]), json!({})).await;
    let chen = TestDevice::enrolled(&server, "chen.a", USER_PASSWORD).await;
    let zhao = TestDevice::enrolled(&server, "zhao.b", USER_PASSWORD).await;
    let xu = TestDevice::enrolled(&server, "xu.wen", USER_PASSWORD).await;
    let gao = TestDevice::enrolled(&server, "gao", USER_PASSWORD).await;
    let tokens = [
        server.token("chen.a", USER_PASSWORD).await,
        server.token("zhao.b", USER_PASSWORD).await,
        server.token("xu.wen", USER_PASSWORD).await,
    ];
    let [chen_token, zhao_token, xu_token] = &tokens;

    // Enterprise A's team lead photographs a meeting and records it.
    let photo = jpeg(64, 48, 3, None);
    let sha = sha256_hex(&photo);
    assert_eq!(server.upload(chen_token, &photo, 1 << 20).await.status, 200);
    let (meeting, payload) = meeting_on("e1", "t1", "早班");
    chen.capture("meeting.submit", &meeting, payload, vec![sha.clone()])
        .unwrap();
    chen.sync().await.unwrap();
    let original = format!("/v1/blobs/{sha}");
    assert_eq!(
        server
            .fetch(&original, Some(chen_token), &[])
            .await
            .status(),
        200
    );

    // Enterprise B's team lead learns the hash. Offering the bytes' hash to the upload gets
    // "already held", which is not possession.
    let offered = server
        .create_upload(zhao_token, photo.len() as u64, &sha)
        .await;
    assert_eq!(offered.status, 200, "{offered:?}");
    assert!(offered.body.get("gps").is_none() && offered.body.get("taken_at").is_none());
    // They cite it in a meeting of their own (applied) and in one of A's team (quarantined).
    let (own, payload) = meeting_on("e2", "t1", "早班");
    zhao.capture("meeting.submit", &own, payload, vec![sha.clone()])
        .unwrap();
    let (_, payload) = meeting_on("e1", "t1", "中班");
    let theirs = anjian_sync::kinds::meeting::meeting_id(
        "e1",
        "t1",
        "2026-11-28",
        "中班",
        anjian_sync::kinds::meeting::Slot::PreShift,
    );
    zhao.capture("meeting.submit", &theirs, payload, vec![sha.clone()])
        .unwrap();
    zhao.sync().await.unwrap();
    let receipts = zhao.receipts().unwrap();
    let verdicts: Vec<_> = receipts.iter().map(|r| r.verdict).collect();
    use anjian_sync::judge::Verdict;
    assert_eq!(verdicts, vec![Verdict::Applied, Verdict::Quarantined]);
    for path in [
        original.clone(),
        format!("/v1/blobs/{sha}/thumbnail"),
        format!("/v1/blobs/{sha}/info"),
    ] {
        let refused = server.fetch(&path, Some(zhao_token), &[]).await;
        assert_eq!(refused.status(), 404, "{path}");
    }
    // Their meeting does not count a photo they never held as its evidence.
    let own_meeting = zhao.server_entity(&own).unwrap().unwrap();
    assert_eq!(own_meeting.missing_blobs, vec![sha.clone()]);

    // A publicist who cites it as an article's cover does not make it public on publishing.
    let article = Device::new_entity_id();
    let draft =
        json!({"column": "safety365", "title": "班前会", "body": "交接会现场。", "cover": sha});
    xu.capture("article.save", &article, draft, vec![sha.clone()])
        .unwrap();
    xu.capture("article.submit", &article, json!({}), vec![])
        .unwrap();
    xu.sync().await.unwrap();
    gao.sync().await.unwrap();
    gao.capture(
        "article.review",
        &article,
        json!({"decision": "publish"}),
        vec![],
    )
    .unwrap();
    gao.sync().await.unwrap();
    let published = server
        .get(&format!("/v1/public/articles/{article}"), None)
        .await;
    assert_eq!(published.ok(200)["cover"], sha.as_str(), "{published:?}");
    let public = server
        .fetch(&format!("/v1/public/blobs/{sha}"), None, &[])
        .await;
    assert_eq!(public.status(), 404);
    assert_eq!(
        server.fetch(&original, Some(xu_token), &[]).await.status(),
        404
    );

    // The one who took it still reads it.
    assert_eq!(
        server
            .fetch(&original, Some(chen_token), &[])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn whether_a_record_exists_is_told_only_to_those_who_may_know() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server.add_grid(&admin, "g1", "一网格").await;
    two_teams(&server, &admin).await;
    let inspector = server.add_inspector(&admin, "lili").await;

    // The office's directory: a non-admin is refused before any grid, name or code is looked up.
    let enterprise = |grid: &str| {
        json!({"name": "某厂", "credit_code": "914403001922038216",
        "industry": "紫菜加工", "scale": "below", "grid_id": grid, "address": "某路1号",
        "contacts": [], "risk_colour": "blue", "flags": {}})
    };
    for grid in ["g1", "no-such-grid"] {
        server
            .post("/v1/admin/enterprises", Some(&inspector), enterprise(grid))
            .await
            .assert_error(403, "forbidden");
    }
    for grid in [
        json!({"code": "g2", "name": "一网格"}),
        json!({"code": "g3", "name": "三网格"}),
    ] {
        server
            .post("/v1/admin/grids", Some(&inspector), grid)
            .await
            .assert_error(403, "forbidden");
    }

    // Team A's meeting of a slot is recorded; team B's lead sends the same slot, and another.
    let chen = TestDevice::enrolled(&server, "chen.a", USER_PASSWORD).await;
    let zhao = TestDevice::enrolled(&server, "zhao.b", USER_PASSWORD).await;
    chen.submit_meeting("e1", "t1", "早班");
    chen.sync().await.unwrap();
    zhao.submit_meeting("e1", "t1", "早班");
    zhao.submit_meeting("e1", "t1", "晚班");
    zhao.sync().await.unwrap();
    // The same answer whether the meeting exists or not.
    let reasons: Vec<String> = zhao
        .receipts()
        .unwrap()
        .iter()
        .map(|r| {
            r.reason
                .as_ref()
                .map(|r| r.code.clone())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(reasons, vec!["not-permitted", "not-permitted"]);
    // And nothing of it reaches team A's view.
    chen.sync().await.unwrap();
    assert!(
        chen.issues().unwrap().is_empty(),
        "{:?}",
        chen.issues().unwrap()
    );
    assert_eq!(zhao.issues().unwrap().len(), 2, "shown to its author");
}
