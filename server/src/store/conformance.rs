//! The behaviour every [`AccountStore`] must show, as one suite run against each backend.

use anjian_sync::access::{Grant, Role, Scopes};
use uuid::Uuid;

use super::model::{Invitation, LoginMethod, PasswordHash, SecretHash, Session, UnixMillis, User};
use super::{AccountStore, Conflict, StoreError};

fn user(username: &str, roles: &[Role]) -> User {
    User {
        id: Uuid::now_v7(),
        username: username.to_string(),
        display_name: username.to_uppercase(),
        password_hash: None,
        grant: Grant::new(roles.iter().copied(), Scopes::default()).unwrap(),
        disabled: false,
        wechat_openid: None,
        created_at: UnixMillis(1_000),
        updated_at: UnixMillis(1_000),
        rev: 0,
    }
}

fn session(user: &User, expires_at: i64) -> Session {
    Session {
        user_id: user.id,
        method: LoginMethod::Password,
        created_at: UnixMillis(1_000),
        expires_at: UnixMillis(expires_at),
    }
}

fn conflict(result: Result<impl std::fmt::Debug, StoreError>) -> Conflict {
    match result {
        Err(StoreError::Conflict(conflict)) => conflict,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Runs the whole suite on an empty store.
pub(crate) fn run(store: &dyn AccountStore) {
    users(store);
    last_admin(store);
    sessions(store);
    invitations(store);
}

fn users(store: &dyn AccountStore) {
    assert!(!store.has_users().unwrap());
    let admin = user("admin", &[Role::Admin]);
    store.insert_user(&admin).unwrap();
    assert!(store.has_users().unwrap());
    assert_eq!(store.user(admin.id).unwrap(), Some(admin.clone()));
    assert_eq!(
        store.user_by_username("admin").unwrap(),
        Some(admin.clone())
    );
    assert_eq!(store.user_by_username("nobody").unwrap(), None);
    assert_eq!(store.user(Uuid::now_v7()).unwrap(), None);

    let mut twin = user("admin", &[Role::Leader]);
    assert_eq!(conflict(store.insert_user(&twin)), Conflict::UsernameTaken);
    twin.username = "leader".into();
    store.insert_user(&twin).unwrap();

    let ids: Vec<Uuid> = store
        .list_users(None, 10)
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(ids, vec![admin.id, twin.id], "users list in creation order");
    let page: Vec<Uuid> = store
        .list_users(Some(admin.id), 10)
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(page, vec![twin.id]);
    assert_eq!(store.list_users(None, 1).unwrap().len(), 1);

    let mut changed = twin.clone();
    changed.display_name = "Changed".into();
    changed.rev = 1;
    store.replace_user(&changed, 0).unwrap();
    assert_eq!(
        conflict(store.replace_user(&changed, 0)),
        Conflict::StaleRevision
    );
    assert_eq!(
        store.user(twin.id).unwrap().unwrap().display_name,
        "Changed"
    );
    let ghost = user("ghost", &[Role::Leader]);
    assert!(matches!(
        store.replace_user(&ghost, 0),
        Err(StoreError::NotFound)
    ));
}

fn last_admin(store: &dyn AccountStore) {
    let admin = store.user_by_username("admin").unwrap().unwrap();
    let mut disabled = admin.clone();
    disabled.disabled = true;
    disabled.rev += 1;
    assert_eq!(
        conflict(store.replace_user(&disabled, admin.rev)),
        Conflict::LastAdmin
    );

    let second = user("admin2", &[Role::Admin, Role::Reviewer]);
    store.insert_user(&second).unwrap();
    store.replace_user(&disabled, admin.rev).unwrap();
    let mut demoted = second.clone();
    demoted.grant = Grant::new([Role::Reviewer], Scopes::default()).unwrap();
    demoted.rev += 1;
    assert_eq!(
        conflict(store.replace_user(&demoted, second.rev)),
        Conflict::LastAdmin
    );

    // Bring the first admin back for the rest of the suite.
    let mut enabled = disabled.clone();
    enabled.disabled = false;
    enabled.rev += 1;
    store.replace_user(&enabled, disabled.rev).unwrap();
}

fn sessions(store: &dyn AccountStore) {
    let owner = user("session-owner", &[Role::Publicist]);
    store.insert_user(&owner).unwrap();
    let old = SecretHash([1; 32]);
    let live = SecretHash([2; 32]);
    store
        .insert_session(&old, &session(&owner, 5_000), UnixMillis(1_000))
        .unwrap();
    assert_eq!(store.session_with_user(&old).unwrap().unwrap().1, owner);
    // Opening a session at 6_000 prunes the one that expired at 5_000.
    store
        .insert_session(&live, &session(&owner, 90_000), UnixMillis(6_000))
        .unwrap();
    assert!(store.session_with_user(&old).unwrap().is_none());
    assert!(store.session_with_user(&live).unwrap().is_some());
    assert!(store.delete_session(&live).unwrap());
    assert!(!store.delete_session(&live).unwrap());
    assert!(store.session_with_user(&live).unwrap().is_none());

    // Changing the password ends the sessions (a reset after a compromise must lock out).
    let token = SecretHash([5; 32]);
    store
        .insert_session(&token, &session(&owner, 90_000), UnixMillis(6_000))
        .unwrap();
    let mut repassworded = owner.clone();
    repassworded.password_hash = Some(PasswordHash("$argon2id$new".into()));
    repassworded.rev += 1;
    store.replace_user(&repassworded, owner.rev).unwrap();
    assert!(store.session_with_user(&token).unwrap().is_none());
    let owner = repassworded;

    // Disabling a user ends every session of theirs in the same change.
    let tokens = [SecretHash([3; 32]), SecretHash([4; 32])];
    for token in &tokens {
        store
            .insert_session(token, &session(&owner, 90_000), UnixMillis(6_000))
            .unwrap();
    }
    let mut disabled = owner.clone();
    disabled.disabled = true;
    disabled.rev += 1;
    store.replace_user(&disabled, owner.rev).unwrap();
    for token in &tokens {
        assert!(store.session_with_user(token).unwrap().is_none());
    }
}

fn invitations(store: &dyn AccountStore) {
    let admin = store.user_by_username("admin").unwrap().unwrap();
    let invitee = user("invitee", &[Role::Publicist]);
    store.insert_user(&invitee).unwrap();
    let invite = |user_id, expires_at| Invitation {
        user_id,
        created_by: admin.id,
        created_at: UnixMillis(1_000),
        expires_at: UnixMillis(expires_at),
        redeemed_at: None,
    };
    let code = SecretHash([9; 32]);
    store
        .insert_invitation(&code, &invite(invitee.id, 10_000))
        .unwrap();

    assert!(matches!(
        store.redeem_invitation(&SecretHash([8; 32]), "openid-a", UnixMillis(2_000)),
        Err(StoreError::NotFound)
    ));
    // Only the newest code of a user works.
    let superseded = SecretHash([7; 32]);
    store
        .insert_invitation(&superseded, &invite(invitee.id, 10_000))
        .unwrap();
    store
        .insert_invitation(&code, &invite(invitee.id, 10_000))
        .unwrap();
    assert_eq!(store.invitation(&superseded).unwrap(), None);
    assert!(matches!(
        store.redeem_invitation(&superseded, "openid-a", UnixMillis(2_000)),
        Err(StoreError::NotFound)
    ));
    let bound = store
        .redeem_invitation(&code, "openid-a", UnixMillis(2_000))
        .unwrap();
    assert!(
        store
            .invitation(&code)
            .unwrap()
            .unwrap()
            .redeemed_at
            .is_some()
    );
    // A retry by the same account succeeds and changes nothing.
    assert_eq!(
        store
            .redeem_invitation(&code, "openid-a", UnixMillis(2_500))
            .unwrap(),
        bound
    );
    assert_eq!(bound.wechat_openid.as_deref(), Some("openid-a"));
    assert_eq!(
        store.user_by_openid("openid-a").unwrap().unwrap().id,
        invitee.id
    );
    assert_eq!(
        conflict(store.redeem_invitation(&code, "openid-z", UnixMillis(3_000))),
        Conflict::InvitationUsed
    );

    let late = SecretHash([10; 32]);
    store
        .insert_invitation(&late, &invite(invitee.id, 10_000))
        .unwrap();
    assert_eq!(
        conflict(store.redeem_invitation(&late, "openid-b", UnixMillis(10_000))),
        Conflict::InvitationExpired
    );

    // The admin cannot take over an openid that is bound to the invitee.
    let steal = SecretHash([11; 32]);
    store
        .insert_invitation(&steal, &invite(admin.id, 10_000))
        .unwrap();
    assert_eq!(
        conflict(store.redeem_invitation(&steal, "openid-a", UnixMillis(3_000))),
        Conflict::OpenidBoundElsewhere
    );
    assert_eq!(
        store.user(admin.id).unwrap().unwrap().wechat_openid,
        None,
        "a refusal changes nothing"
    );

    // A new invitation rebinds the invitee to a new WeChat account and frees the old openid;
    // the old account's WeChat sessions end, a password session stays.
    let wechat_session = SecretHash([20; 32]);
    let password_session = SecretHash([21; 32]);
    let mut by_wechat = session(&invitee, 90_000);
    by_wechat.method = LoginMethod::WeChat;
    store
        .insert_session(&wechat_session, &by_wechat, UnixMillis(2_000))
        .unwrap();
    store
        .insert_session(
            &password_session,
            &session(&invitee, 90_000),
            UnixMillis(2_000),
        )
        .unwrap();
    let rebind = SecretHash([12; 32]);
    store
        .insert_invitation(&rebind, &invite(invitee.id, 10_000))
        .unwrap();
    store
        .redeem_invitation(&rebind, "openid-c", UnixMillis(3_000))
        .unwrap();
    assert_eq!(store.user_by_openid("openid-a").unwrap(), None);
    assert!(store.session_with_user(&wechat_session).unwrap().is_none());
    assert!(
        store
            .session_with_user(&password_session)
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.user_by_openid("openid-c").unwrap().unwrap().id,
        invitee.id
    );

    // A disabled user cannot be bound.
    let disabled = store.user_by_username("session-owner").unwrap().unwrap();
    let code = SecretHash([13; 32]);
    store
        .insert_invitation(&code, &invite(disabled.id, 10_000))
        .unwrap();
    assert_eq!(
        conflict(store.redeem_invitation(&code, "openid-d", UnixMillis(3_000))),
        Conflict::UserDisabled
    );
}
