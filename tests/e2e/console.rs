//! The office console over real HTTP: sign-in, the session cookie, CSRF, roles, and the users
//! page's forms.

use anjian_tests::console::Browser;
use anjian_tests::{ADMIN_PASSWORD, TestServer, USER_PASSWORD};

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_the_session() {
    let server = TestServer::start().await;
    let mut browser = Browser::new(&server);
    let page = browser.get("/console/").await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/console/login"))
    );

    let wrong = browser
        .post(
            "/console/login",
            &[("username", "admin"), ("password", "wrong")],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("用户名或密码不正确"), "{}", wrong.body);
    assert!(
        wrong.body.contains("value=\"admin\""),
        "the username is kept"
    );
    assert!(browser.cookie.is_none());

    let page = browser
        .post(
            "/console/login",
            &[("username", "admin"), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/console/"))
    );
    let cookie = page.set_cookie.unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age="] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure");

    let home = browser.get("/console/").await;
    assert_eq!(home.status, 200);
    assert_eq!(
        home.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert!(home.body.contains("工作台首页") && home.body.contains("管理员"));

    // The console session is an API session: its token works as a bearer token until sign-out.
    let token = browser.cookie.clone().unwrap();
    let token = token.split_once('=').unwrap().1.to_string();
    assert_eq!(server.get("/v1/me", Some(&token)).await.status, 200);

    let csrf = home.csrf();
    let out = browser.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
    assert!(browser.cookie.is_none());
    server
        .get("/v1/me", Some(&token))
        .await
        .assert_error(401, "invalid-token");
}

#[tokio::test]
async fn a_form_without_the_sessions_csrf_token_or_from_another_site_changes_nothing() {
    let server = TestServer::start().await;
    let mut admin = Browser::signed_in(&server, "admin", ADMIN_PASSWORD).await;
    let mut other = Browser::signed_in(&server, "admin", ADMIN_PASSWORD).await;
    let page = admin.get("/console/users").await;
    let csrf = page.csrf();
    assert_eq!(csrf.len(), 64);
    let others_csrf = other.get("/console/users").await.csrf();
    assert_ne!(csrf, others_csrf, "each session has its own token");

    let user = [("username", "leader1"), ("role", "leader")];
    let without = admin.post("/console/users", &user).await;
    assert_eq!(without.status, 403);
    let with_another = [("csrf", others_csrf.as_str()), user[0], user[1]];
    assert_eq!(
        admin.post("/console/users", &with_another).await.status,
        403
    );
    let with = [("csrf", csrf.as_str()), user[0], user[1]];
    let cross = admin
        .post_with("/console/users", &with, &[("Sec-Fetch-Site", "cross-site")])
        .await;
    assert_eq!(cross.status, 403);
    let foreign = admin
        .post_with(
            "/console/users",
            &with,
            &[("Origin", "http://evil.example")],
        )
        .await;
    assert_eq!(foreign.status, 403);
    let token = server.admin().await;
    assert_eq!(server.users(&token).await.len(), 1, "nothing was created");

    let done = admin.post("/console/users", &with).await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some("/console/users"))
    );
    let users = server.users(&token).await;
    assert!(
        users.iter().any(|u| u["username"] == "leader1"),
        "{users:?}"
    );
}

#[tokio::test]
async fn a_bad_field_is_shown_beside_it_and_nothing_is_kept() {
    let server = TestServer::start().await;
    let mut admin = Browser::signed_in(&server, "admin", ADMIN_PASSWORD).await;
    let csrf = admin.get("/console/users").await.csrf();
    let page = admin
        .post(
            "/console/users",
            &[
                ("csrf", &csrf),
                ("username", "Bad Name!"),
                ("display_name", "张三"),
                ("role", "leader"),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
    let username = page.body.find("name=\"username\"").unwrap();
    let error = page.body.find("class=\"error\"").unwrap();
    let display_name = page.body.find("name=\"display_name\"").unwrap();
    assert!(
        username < error && error < display_name,
        "the error sits under the username field"
    );
    assert!(
        page.body.contains("value=\"张三\""),
        "what was typed is kept"
    );

    // A leader with a town scope does not fit: the error is at the role.
    let page = admin
        .post(
            "/console/users",
            &[
                ("csrf", &csrf),
                ("username", "leader2"),
                ("role", "leader"),
                ("town", "1"),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("角色与范围不匹配"), "{}", page.body);
    let token = server.admin().await;
    assert_eq!(server.users(&token).await.len(), 1, "nothing was created");
}

#[tokio::test]
async fn a_leader_reads_but_cannot_reach_the_admins_pages_or_forms() {
    let server = TestServer::start().await;
    let token = server.admin().await;
    server.add_user(&token, "leader1", &["leader"]).await;
    let mut leader = Browser::signed_in(&server, "leader1", USER_PASSWORD).await;
    let home = leader.get("/console/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("镇领导"));
    assert!(
        !home.body.contains("/console/users"),
        "no link to the admin's page"
    );
    assert_eq!(leader.get("/console/users").await.status, 403);
    let csrf = home.csrf();
    let attempt = leader
        .post(
            "/console/users",
            &[("csrf", &csrf), ("username", "sneaky"), ("role", "admin")],
        )
        .await;
    assert_eq!(attempt.status, 403);
    assert_eq!(server.users(&token).await.len(), 2, "nothing was created");
}

#[tokio::test]
async fn disabling_a_user_ends_their_console_session_at_once() {
    let server = TestServer::start().await;
    let token = server.admin().await;
    let (id, _) = server.add_user(&token, "leader1", &["leader"]).await;
    let mut leader = Browser::signed_in(&server, "leader1", USER_PASSWORD).await;
    assert_eq!(leader.get("/console/").await.status, 200);

    let mut admin = Browser::signed_in(&server, "admin", ADMIN_PASSWORD).await;
    let csrf = admin.get("/console/users").await.csrf();
    let path = format!("/console/users/{id}/disabled");
    let done = admin
        .post(&path, &[("csrf", &csrf), ("disabled", "true")])
        .await;
    assert_eq!(done.status, 303);
    let page = leader.get("/console/").await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/console/login?ended=1"))
    );
    let users = admin.get("/console/users").await;
    assert!(users.body.contains("已停用"));

    let unknown = admin
        .post(
            "/console/users/0190a0a0-0000-7000-8000-000000000000/disabled",
            &[("csrf", &csrf), ("disabled", "true")],
        )
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn an_unknown_console_page_is_a_404_page() {
    let server = TestServer::start().await;
    let mut browser = Browser::new(&server);
    let page = browser.get("/console/no/such/page").await;
    assert_eq!(page.status, 404);
    assert!(page.body.contains("页面不存在"), "{}", page.body);
    let style = browser.get("/console/static/console.css").await;
    assert_eq!(
        (style.status, style.content_type.as_deref()),
        (200, Some("text/css; charset=utf-8"))
    );
}
