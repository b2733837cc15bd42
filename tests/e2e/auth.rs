//! Password login, logout, expiry, throttling, `GET /v1/me`.

use anjian_tests::{ADMIN_PASSWORD, TestServer, USER_PASSWORD};
use serde_json::json;

#[tokio::test]
async fn login_right_and_wrong() {
    let server = TestServer::start().await;
    let reply = server.login("admin", ADMIN_PASSWORD).await;
    let body = reply.ok(200);
    let token = body["token"].as_str().unwrap();
    assert!(
        token.starts_with("anj_") && token.len() >= 4 + 43,
        "a 256-bit opaque token: {token}"
    );
    assert!(body["expires_at"].as_str().unwrap().len() >= 20);
    assert_eq!(body["user"]["username"], "admin");
    assert_eq!(body["user"]["roles"], json!(["admin"]));

    // Username case does not matter; wrong password and unknown user look the same.
    server.login("ADMIN", ADMIN_PASSWORD).await.ok(200);
    server
        .login("admin", "wrong-password")
        .await
        .assert_error(401, "invalid-credentials");
    let unknown = server.login("nobody", "wrong-password").await;
    unknown.assert_error(401, "invalid-credentials");

    let me = server.get("/v1/me", Some(token)).await;
    assert_eq!(me.ok(200)["username"], "admin");
    assert!(me.body.get("password_hash").is_none());
}

#[tokio::test]
async fn logout_revokes_the_token_only() {
    let server = TestServer::start().await;
    let first = server.admin().await;
    let second = server.admin().await;
    assert_ne!(first, second);
    let reply = server
        .post("/v1/auth/logout", Some(&first), json!({}))
        .await;
    assert_eq!(reply.status, 204);
    server
        .get("/v1/me", Some(&first))
        .await
        .assert_error(401, "invalid-token");
    server.get("/v1/me", Some(&second)).await.ok(200);
    server
        .post("/v1/auth/logout", Some(&first), json!({}))
        .await
        .assert_error(401, "invalid-token");
}

#[tokio::test]
async fn sessions_expire() {
    let server = TestServer::start_with(|s| s.auth.session_ttl_secs = 1).await;
    let token = server.admin().await;
    server.get("/v1/me", Some(&token)).await.ok(200);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    server
        .get("/v1/me", Some(&token))
        .await
        .assert_error(401, "session-expired");
    // A new login works and prunes the expired session.
    let fresh = server.admin().await;
    server.get("/v1/me", Some(&fresh)).await.ok(200);
    server
        .get("/v1/me", Some(&token))
        .await
        .assert_error(401, "invalid-token");
}

#[tokio::test]
async fn no_token_or_a_bad_one_is_refused() {
    let server = TestServer::start().await;
    server
        .get("/v1/me", None)
        .await
        .assert_error(401, "unauthenticated");
    server
        .get("/v1/admin/users", None)
        .await
        .assert_error(401, "unauthenticated");
    server
        .get("/v1/me", Some("anj_not-a-real-token"))
        .await
        .assert_error(401, "invalid-token");
    server
        .get("/v1/me", Some(&"x".repeat(5000)))
        .await
        .assert_error(401, "invalid-token");
}

#[tokio::test]
async fn repeated_failures_are_refused_per_user() {
    let server = TestServer::start_with(|s| {
        s.auth.max_failures_per_user = 3;
        s.auth.max_failures_per_address = 100;
    })
    .await;
    let admin = server.admin().await;
    server.add_user(&admin, "reviewer", &["reviewer"]).await;
    for _ in 0..3 {
        server
            .login("admin", "wrong-password")
            .await
            .assert_error(401, "invalid-credentials");
    }
    // Locked: even the right password is refused, and the client is told when to retry.
    let locked = server.login("admin", ADMIN_PASSWORD).await;
    locked.assert_error(429, "login-throttled");
    let retry = locked.retry_after.expect("a Retry-After header");
    assert!((1..=30).contains(&retry), "{retry}");
    // Another user from the same address is not affected, and the admin's session still works.
    server.login("reviewer", USER_PASSWORD).await.ok(200);
    server.get("/v1/me", Some(&admin)).await.ok(200);
}

#[tokio::test]
async fn repeated_failures_are_refused_per_address() {
    let server = TestServer::start_with(|s| {
        s.auth.max_failures_per_user = 100;
        s.auth.max_failures_per_address = 4;
    })
    .await;
    for i in 0..4 {
        server
            .login(&format!("guess{i}"), "wrong-password")
            .await
            .assert_error(401, "invalid-credentials");
    }
    let reply = server.login("admin", ADMIN_PASSWORD).await;
    reply.assert_error(429, "login-throttled");
    assert!(reply.retry_after.is_some());
}

#[tokio::test]
async fn a_parallel_burst_of_guesses_is_held_to_the_limit() {
    let server = TestServer::start_with(|s| {
        s.auth.max_failures_per_user = 3;
        s.auth.max_failures_per_address = 100;
    })
    .await;
    let guesses = (0..20).map(|i| {
        let server = &server;
        async move { server.login("admin", &format!("wrong-password-{i}")).await }
    });
    let replies = futures_util::future::join_all(guesses).await;
    let checked = replies.iter().filter(|r| r.status == 401).count();
    let refused = replies.iter().filter(|r| r.status == 429).count();
    assert_eq!(
        (checked, refused),
        (3, 17),
        "only the limit's worth of passwords is ever checked"
    );
}
