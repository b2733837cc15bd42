//! WeChat mini-program login against a fake `jscode2session` on loopback.

use anjian_tests::{FakeWeChat, TestServer, logs};
use serde_json::json;

const APP_ID: &str = "wx-test-app";
const APP_SECRET: &str = "app-secret-that-must-never-be-logged";

async fn server_with(fake: &FakeWeChat) -> TestServer {
    let base = fake.base.clone();
    TestServer::start_with(move |s| {
        s.wechat.app_id = APP_ID.to_string();
        s.wechat.app_secret = APP_SECRET.to_string().into();
        s.wechat.api_base = base;
    })
    .await
}

async fn invitation_for(server: &TestServer, admin: &str, username: &str) -> (String, String) {
    let user = server
        .create_user(admin, json!({"username": username, "roles": ["team_lead"], "scopes": {"enterprise": "e1", "team": "t1"}}))
        .await;
    let id = user["id"].as_str().unwrap().to_string();
    let reply = server
        .post("/v1/admin/invitations", Some(admin), json!({"user_id": id}))
        .await;
    let code = reply.ok(201)["code"].as_str().unwrap().to_string();
    (id, code)
}

#[tokio::test]
async fn binding_by_invitation_then_logging_in_by_openid() {
    let fake = FakeWeChat::start(APP_ID, APP_SECRET).await;
    let server = server_with(&fake).await;
    let admin = server.admin().await;
    let (id, code) = invitation_for(&server, &admin, "lead.wang").await;
    assert_eq!(code.len(), 14, "XXXX-XXXX-XXXX: {code}");

    // Unbound, no invitation: told to ask for one.
    server
        .post("/v1/auth/wechat", None, json!({"code": "user:wang:1"}))
        .await
        .assert_error(403, "wechat-not-bound");

    // With the invitation, typed the way people type: lower case, spaces.
    let typed = code.to_lowercase().replace('-', " ");
    let reply = server
        .post(
            "/v1/auth/wechat",
            None,
            json!({"code": "user:wang", "invitation": typed}),
        )
        .await;
    let body = reply.ok(200).clone();
    assert_eq!(body["user"]["id"], id.as_str());
    assert_eq!(body["user"]["wechat_bound"], true);
    let token = body["token"].as_str().unwrap();
    assert_eq!(
        server.get("/v1/me", Some(token)).await.ok(200)["username"],
        "lead.wang"
    );

    // Later: a fresh code alone (wx.login() gives a new one each time) logs in the same user.
    let later = server
        .post("/v1/auth/wechat", None, json!({"code": "user:wang:2"}))
        .await;
    assert_eq!(later.ok(200)["user"]["id"], id.as_str());
    // WeChat codes are one-time: a replayed code is refused by WeChat.
    server
        .post("/v1/auth/wechat", None, json!({"code": "user:wang"}))
        .await
        .assert_error(400, "wechat-invalid-code");

    // The invitation is spent: it cannot bind a second WeChat account.
    server
        .post(
            "/v1/auth/wechat",
            None,
            json!({"code": "user:zhang", "invitation": code}),
        )
        .await
        .assert_error(400, "invitation-used");

    // The session_key never leaves the server: not in any answer, not in any log.
    let logs = logs::captured();
    for key in fake.session_keys() {
        assert!(!body.to_string().contains(&key));
        assert!(!logs.contains(&key), "session_key logged");
    }
    assert!(!logs.contains(APP_SECRET), "app secret logged");
}

#[tokio::test]
async fn bindings_survive_a_restart_and_a_new_invitation_rebinds() {
    let fake = FakeWeChat::start(APP_ID, APP_SECRET).await;
    let server = server_with(&fake).await;
    let admin = server.admin().await;
    let (id, code) = invitation_for(&server, &admin, "lead.zhao").await;
    server
        .post(
            "/v1/auth/wechat",
            None,
            json!({"code": "user:zhao", "invitation": code}),
        )
        .await
        .ok(200);

    let server = server.restart().await;
    let reply = server
        .post("/v1/auth/wechat", None, json!({"code": "user:zhao:2"}))
        .await;
    assert_eq!(reply.ok(200)["user"]["id"], id.as_str());
    let old_phone = reply.body["token"].as_str().unwrap().to_string();

    // A new phone and WeChat account: a new invitation moves the binding. Only the newest
    // code works, and the old phone is logged out.
    let issue = || async {
        let reply = server
            .post(
                "/v1/admin/invitations",
                Some(&admin),
                json!({"user_id": id}),
            )
            .await;
        reply.ok(201)["code"].as_str().unwrap().to_string()
    };
    let withdrawn = issue().await;
    let code = issue().await;
    let calls = fake.calls();
    server
        .post(
            "/v1/auth/wechat",
            None,
            json!({"code": "user:thief", "invitation": withdrawn}),
        )
        .await
        .assert_error(400, "invitation-invalid");
    assert_eq!(
        fake.calls(),
        calls,
        "a bad invitation does not use up the wx.login() code"
    );
    let first = json!({"code": "user:zhao-new", "invitation": code});
    server.post("/v1/auth/wechat", None, first).await.ok(200);
    server
        .get("/v1/me", Some(&old_phone))
        .await
        .assert_error(401, "invalid-token");
    // The answer was lost; the app retries with a fresh code and the same invitation.
    let retry = json!({"code": "user:zhao-new:retry", "invitation": code});
    assert_eq!(
        server.post("/v1/auth/wechat", None, retry).await.ok(200)["user"]["id"],
        id.as_str()
    );
    server
        .post("/v1/auth/wechat", None, json!({"code": "user:zhao:3"}))
        .await
        .assert_error(403, "wechat-not-bound");

    // An openid bound to one user cannot be taken by another user's invitation.
    let (_, other) = invitation_for(&server, &admin, "lead.sun").await;
    server
        .post(
            "/v1/auth/wechat",
            None,
            json!({"code": "user:zhao-new:2", "invitation": other}),
        )
        .await
        .assert_error(409, "wechat-bound-elsewhere");
}

#[tokio::test]
async fn wechat_errors_are_mapped() {
    let fake = FakeWeChat::start(APP_ID, APP_SECRET).await;
    let server = server_with(&fake).await;
    let post = |code: &str| server.post("/v1/auth/wechat", None, json!({"code": code}));

    post("no-such-code")
        .await
        .assert_error(400, "wechat-invalid-code");
    let limited = post("limited").await;
    limited.assert_error(429, "wechat-rate-limited");
    assert!(limited.retry_after.is_some());
    let busy = post("busy").await;
    busy.assert_error(503, "wechat-busy");
    assert!(busy.retry_after.is_some(), "busy is retryable");
    post("blocked")
        .await
        .assert_error(403, "wechat-user-blocked");
    post("").await.assert_error(400, "invalid-field");
    post("has space").await.assert_error(400, "invalid-field");
    server
        .post(
            "/v1/auth/wechat",
            None,
            json!({"code": "user:li", "invitation": "not-a-code"}),
        )
        .await
        .assert_error(400, "invitation-invalid");
    server
        .post(
            "/v1/auth/wechat",
            None,
            json!({"code": "user:li", "invitation": "ABCD-EFGH-JKMN"}),
        )
        .await
        .assert_error(400, "invitation-invalid");
}

#[tokio::test]
async fn a_wrong_secret_or_unreachable_wechat_is_reported() {
    let fake = FakeWeChat::start(APP_ID, "the-real-secret").await;
    let server = server_with(&fake).await;
    server
        .post("/v1/auth/wechat", None, json!({"code": "user:li"}))
        .await
        .assert_error(502, "wechat-error");

    // Nothing listens on this port (it was just bound and released).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = TestServer::start_with(move |s| {
        s.wechat.app_id = APP_ID.to_string();
        s.wechat.app_secret = APP_SECRET.to_string().into();
        s.wechat.api_base = format!("http://{closed}");
    })
    .await;
    let reply = server
        .post("/v1/auth/wechat", None, json!({"code": "user:li"}))
        .await;
    reply.assert_error(503, "wechat-unreachable");
    assert!(reply.retry_after.is_some());
    assert!(!logs::captured().contains(APP_SECRET), "app secret logged");
}

#[tokio::test]
async fn wechat_login_is_off_without_an_app_id() {
    let server = TestServer::start().await;
    server
        .post("/v1/auth/wechat", None, json!({"code": "user:li"}))
        .await
        .assert_error(503, "wechat-disabled");
}
