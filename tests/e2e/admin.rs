//! The admin API for users: create, list, update roles and scopes, disable; and who may use it.

use anjian_tests::{TestServer, USER_PASSWORD};
use serde_json::json;

#[tokio::test]
async fn create_list_get_and_update_users() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let inspector = server
        .create_user(
            &admin,
            json!({
                "username": "Inspector.Li",
                "display_name": "李检查",
                "password": "inspector-password",
                "roles": ["inspector"],
                "scopes": {"grids": ["g2", "g1"]}
            }),
        )
        .await;
    assert_eq!(inspector["username"], "inspector.li");
    assert_eq!(inspector["display_name"], "李检查");
    assert_eq!(inspector["scopes"]["grids"], json!(["g1", "g2"]));
    assert_eq!(inspector["has_password"], true);
    assert_eq!(inspector["wechat_bound"], false);
    let id = inspector["id"].as_str().unwrap().to_string();

    let lead = server
        .create_user(
            &admin,
            json!({"username": "lead", "roles": ["team_lead"], "scopes": {"enterprise": "e1", "team": "t1"}}),
        )
        .await;
    assert_eq!(
        lead["has_password"], false,
        "WeChat-only users need no password"
    );

    let users = server.users(&admin).await;
    let names: Vec<&str> = users
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["admin", "inspector.li", "lead"]);

    // Paging: one at a time, following next_after.
    let first = server.get("/v1/admin/users?limit=1", Some(&admin)).await;
    let after = first.ok(200)["next_after"].as_str().unwrap().to_string();
    let second = server
        .get(
            &format!("/v1/admin/users?limit=1&after={after}"),
            Some(&admin),
        )
        .await;
    assert_eq!(second.ok(200)["users"][0]["username"], "inspector.li");
    // A page that holds the last user says there is no next one.
    let all = server.get("/v1/admin/users?limit=3", Some(&admin)).await;
    assert_eq!(all.ok(200)["users"].as_array().unwrap().len(), 3);
    assert!(all.body.get("next_after").is_none(), "{:?}", all.body);
    for bad in ["0", "201", "lots"] {
        server
            .get(&format!("/v1/admin/users?limit={bad}"), Some(&admin))
            .await
            .assert_error(400, "invalid-parameter");
    }

    let got = server
        .get(&format!("/v1/admin/users/{id}"), Some(&admin))
        .await;
    assert_eq!(got.ok(200)["username"], "inspector.li");

    // Roles and scopes change together and are checked together.
    let changed = server
        .update_user(
            &admin,
            &id,
            json!({"roles": ["inspector", "reviewer"], "scopes": {"town": true}}),
        )
        .await;
    let changed = changed.ok(200);
    assert_eq!(changed["roles"], json!(["inspector", "reviewer"]));
    assert_eq!(changed["scopes"]["town"], true);
    assert_eq!(changed["scopes"]["grids"], json!([]));

    server
        .update_user(&admin, &id, json!({"roles": ["team_lead"]}))
        .await
        .assert_error(400, "invalid-field");
    server
        .update_user(&admin, &id, json!({"password": "short"}))
        .await
        .assert_error(400, "invalid-field");

    // A new password works; the old one does not.
    server
        .update_user(&admin, &id, json!({"password": "a-new-password"}))
        .await
        .ok(200);
    server
        .login("inspector.li", "inspector-password")
        .await
        .assert_error(401, "invalid-credentials");
    server.login("inspector.li", "a-new-password").await.ok(200);

    server
        .get(
            "/v1/admin/users/0190d1a0-0000-7000-8000-000000000000",
            Some(&admin),
        )
        .await
        .assert_error(404, "user-not-found");
    server
        .get("/v1/admin/users/not-a-uuid", Some(&admin))
        .await
        .assert_error(400, "invalid-parameter");
}

#[tokio::test]
async fn bad_users_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let before = server.users(&admin).await;
    let cases = [
        (
            json!({"username": "admin", "password": "long-enough-pw", "roles": ["leader"]}),
            409,
            "username-taken",
        ),
        (
            json!({"username": "x", "password": "long-enough-pw", "roles": ["leader"]}),
            400,
            "invalid-field",
        ),
        (
            json!({"username": "short-pw", "password": "short", "roles": ["leader"]}),
            400,
            "invalid-field",
        ),
        (
            json!({"username": "no-role", "roles": []}),
            400,
            "invalid-field",
        ),
        (
            json!({"username": "em", "roles": ["enterprise_manager"]}),
            400,
            "invalid-field",
        ),
        (
            json!({"username": "grids", "roles": ["leader"], "scopes": {"grids": ["g1"]}}),
            400,
            "invalid-field",
        ),
        (
            json!({"username": "bad-id", "roles": ["enterprise_manager"], "scopes": {"enterprise": "a b"}}),
            400,
            "invalid-field",
        ),
        (
            json!({"username": "bad-role", "roles": ["root"]}),
            400,
            "malformed-body",
        ),
        (
            json!({"username": "typo", "roles": ["leader"], "scope": {}}),
            400,
            "malformed-body",
        ),
        (
            json!({"username": {"first": "x"}, "roles": ["leader"]}),
            400,
            "malformed-body",
        ),
        (json!({"username": "no-roles-field"}), 400, "malformed-body"),
        (
            json!({"username": 123456, "roles": ["leader"]}),
            400,
            "malformed-body",
        ),
        (
            json!({"username": "num-name", "display_name": 42, "roles": ["leader"]}),
            400,
            "malformed-body",
        ),
        (
            json!({"username": "scope-typo", "roles": ["inspector"], "scopes": {"town": true, "grid": ["g9"]}}),
            400,
            "malformed-body",
        ),
        (
            json!({"username": "num-scope", "roles": ["enterprise_manager"], "scopes": {"enterprise": 7}}),
            400,
            "malformed-body",
        ),
    ];
    for (body, status, code) in cases {
        let reply = server
            .post("/v1/admin/users", Some(&admin), body.clone())
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{body}: {reply:?}"
        );
        reply.assert_error(status, code);
    }
    assert_eq!(server.users(&admin).await, before, "nothing changed");
}

#[tokio::test]
async fn non_admins_get_403_on_admin_endpoints() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let (_, leader) = server.add_user(&admin, "leader", &["leader"]).await;
    let admin_id = server.users(&admin).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    server
        .get("/v1/admin/users", Some(&leader))
        .await
        .assert_error(403, "forbidden");
    server
        .get(&format!("/v1/admin/users/{admin_id}"), Some(&leader))
        .await
        .assert_error(403, "forbidden");
    server
        .post(
            "/v1/admin/users",
            Some(&leader),
            json!({"username": "sneaky", "password": "sneaky-password", "roles": ["admin"]}),
        )
        .await
        .assert_error(403, "forbidden");
    server
        .update_user(&leader, &admin_id, json!({"disabled": true}))
        .await
        .assert_error(403, "forbidden");
    server
        .post(
            "/v1/admin/invitations",
            Some(&leader),
            json!({"user_id": admin_id}),
        )
        .await
        .assert_error(403, "forbidden");
    assert_eq!(server.users(&admin).await.len(), 2, "nothing changed");
    server.get("/v1/me", Some(&leader)).await.ok(200);
}

#[tokio::test]
async fn a_disabled_user_is_locked_out_at_once() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let (id, token) = server.add_user(&admin, "publicist", &["publicist"]).await;
    server.get("/v1/me", Some(&token)).await.ok(200);

    let disabled = server
        .update_user(&admin, &id, json!({"disabled": true}))
        .await;
    assert_eq!(disabled.ok(200)["disabled"], true);
    server
        .get("/v1/me", Some(&token))
        .await
        .assert_error(401, "invalid-token");
    server
        .login("publicist", USER_PASSWORD)
        .await
        .assert_error(403, "account-disabled");
    server
        .post(
            "/v1/admin/invitations",
            Some(&admin),
            json!({"user_id": id}),
        )
        .await
        .assert_error(403, "account-disabled");

    server
        .update_user(&admin, &id, json!({"disabled": false}))
        .await
        .ok(200);
    server.login("publicist", USER_PASSWORD).await.ok(200);
}

#[tokio::test]
async fn a_password_reset_ends_the_users_sessions() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let (id, token) = server.add_user(&admin, "manager", &["leader"]).await;
    server
        .update_user(&admin, &id, json!({"password": "a-brand-new-password"}))
        .await
        .ok(200);
    server
        .get("/v1/me", Some(&token))
        .await
        .assert_error(401, "invalid-token");
    server
        .login("manager", "a-brand-new-password")
        .await
        .ok(200);
}

#[tokio::test]
async fn the_last_admin_cannot_be_disabled_or_demoted() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let admin_id = server.users(&admin).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    server
        .update_user(&admin, &admin_id, json!({"disabled": true}))
        .await
        .assert_error(409, "last-admin");
    server
        .update_user(&admin, &admin_id, json!({"roles": ["leader"]}))
        .await
        .assert_error(409, "last-admin");
    server.get("/v1/me", Some(&admin)).await.ok(200);
}
