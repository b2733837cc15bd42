//! Articles (宣传稿件): written and edited offline, reviewed by someone else, read by the public.

use anjian_sync::judge::Verdict;
use anjian_tests::{TestDevice, TestServer, USER_PASSWORD};
use serde_json::json;

#[tokio::test]
async fn an_article_is_written_reviewed_published_and_read_without_login() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    for (username, roles) in [
        ("xu.wen", json!(["publicist"])),
        ("gao", json!(["reviewer"])),
    ] {
        server
            .create_user(
                &admin,
                json!({"username": username, "password": USER_PASSWORD, "roles": roles}),
            )
            .await;
    }
    let xu = TestDevice::enrolled(&server, "xu.wen", USER_PASSWORD).await;
    let gao = TestDevice::enrolled(&server, "gao", USER_PASSWORD).await;

    let id = anjian_sync::client::Device::new_entity_id();
    let draft = json!({"column": "safety365", "title": "暑期防溺水", "body": "夏季游泳注意安全。"});
    let (_, judged) = xu.capture("article.save", &id, draft, vec![]).unwrap();
    assert_eq!(judged.verdict, Verdict::Applied);
    xu.sync().await.unwrap();
    // A draft is not public, and the reviewer does not see it yet.
    let public = server.get("/v1/public/articles", None).await;
    assert_eq!(public.ok(200)["articles"], json!([]));
    gao.sync().await.unwrap();
    assert!(gao.server_entity(&id).unwrap().is_none());

    xu.capture("article.submit", &id, json!({}), vec![])
        .unwrap();
    xu.sync().await.unwrap();
    gao.sync().await.unwrap();
    assert_eq!(
        gao.entity(&id).unwrap().unwrap().body["state"],
        "pending_review",
        "the reviewer sees it now"
    );
    gao.capture(
        "article.review",
        &id,
        json!({"decision": "publish"}),
        vec![],
    )
    .unwrap();
    gao.sync().await.unwrap();

    let public = server.get("/v1/public/articles", None).await;
    let articles = public.ok(200)["articles"].as_array().unwrap().clone();
    assert_eq!(articles.len(), 1);
    assert_eq!(articles[0]["title"], "暑期防溺水");

    // One article, with a cache validator.
    let http = reqwest::Client::new();
    let first = http
        .get(server.url(&format!("/v1/public/articles/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    assert!(
        first.headers()["last-modified"]
            .to_str()
            .unwrap()
            .ends_with(" GMT")
    );
    let again = http
        .get(server.url(&format!("/v1/public/articles/{id}")))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    for header in [
        format!("W/{etag}"),
        "*".to_string(),
        format!("\"0\", {etag}"),
    ] {
        let weak = http
            .get(server.url(&format!("/v1/public/articles/{id}")))
            .header("if-none-match", header.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(weak.status(), 304, "{header}");
    }
    server
        .get(
            "/v1/public/articles/0192f3a0-0000-7000-8000-000000000000",
            None,
        )
        .await
        .assert_error(404, "article-not-found");

    // Withdrawn, it is public no more.
    xu.sync().await.unwrap();
    xu.capture("article.withdraw", &id, json!({"note": "数据有误"}), vec![])
        .unwrap();
    xu.sync().await.unwrap();
    assert_eq!(
        server.get("/v1/public/articles", None).await.ok(200)["articles"],
        json!([])
    );
}

#[tokio::test]
async fn overlapping_offline_edits_conflict_and_keep_both_versions() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server
        .create_user(
            &admin,
            json!({"username": "xu.wen", "password": USER_PASSWORD, "roles": ["publicist"]}),
        )
        .await;
    let phone = TestDevice::enrolled(&server, "xu.wen", USER_PASSWORD).await;
    let laptop = TestDevice::enrolled(&server, "xu.wen", USER_PASSWORD).await;
    let id = anjian_sync::client::Device::new_entity_id();
    phone
        .capture(
            "article.save",
            &id,
            json!({"title": "防火", "body": "冬季防火。"}),
            vec![],
        )
        .unwrap();
    phone.sync().await.unwrap();
    laptop.sync().await.unwrap();

    // Both edit version 1 offline: the phone the title, the laptop the title and the body.
    phone
        .capture_with(
            "article.save",
            &id,
            json!({"title": "冬季防火"}),
            vec![],
            Some(1),
        )
        .unwrap();
    laptop
        .capture_with(
            "article.save",
            &id,
            json!({"title": "防火须知", "body": "冬季用电防火。"}),
            vec![],
            Some(1),
        )
        .unwrap();
    phone.sync().await.unwrap();
    let report = laptop.sync().await.unwrap();
    assert_eq!(report.not_applied, 1);
    let issue = &laptop.issues().unwrap()[0];
    assert_eq!(issue.entity.body["reason"]["code"], "edit-overlap");
    assert_eq!(
        issue.entity.body["event"]["payload"]["title"], "防火须知",
        "the other version is kept"
    );
    assert_eq!(
        laptop.entity(&id).unwrap().unwrap().body["title"],
        "冬季防火"
    );
}
