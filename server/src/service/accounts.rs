//! Accounts: users, logins, sessions, WeChat binding, and the admin operations on users.
//!
//! A *caller* is the user behind a valid session token. Tokens are checked on every request
//! against the store, so disabling a user or logging out takes effect at once. Failed password
//! logins, and failed invitation codes, count against the [`LoginThrottle`].

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use anjian_sync::access::{AccessError, Grant, Role, Scopes};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::blocking;
use super::secrets;
use super::throttle::{LoginThrottle, ThrottleKey};
use super::wechat::{WeChatClient, WeChatError};
use crate::config::AuthSettings;
use crate::store::model::{
    Invitation, LoginMethod, PasswordHash, SecretHash, Session, UnixMillis, User,
};
use crate::store::{AccountStore, Conflict, StoreError};

/// Username rules: 3 to 32 characters from `a-z 0-9 . _ -`, starting with a letter or digit.
pub const USERNAME_RULE: &str =
    "3 to 32 characters from a-z, 0-9, `.`, `_` and `-`, starting with a letter or digit";
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted (hashing cost is bounded by it).
pub const MAX_PASSWORD_CHARS: usize = 128;
/// The longest display name.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// The most users one page of the list returns.
pub const MAX_PAGE: usize = 200;

/// Why an account operation failed. Each variant is one stable error code in the API.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Unknown username or wrong password (deliberately not told apart).
    #[error("the username or password is wrong")]
    InvalidCredentials,
    /// Too many failures; try again after the wait.
    #[error("too many failed attempts; try again in {} seconds", retry_after.as_secs_f64().ceil().max(1.0))]
    Throttled {
        /// How long to wait.
        retry_after: std::time::Duration,
    },
    /// The token is unknown or was revoked.
    #[error("the session token is not valid; log in again")]
    InvalidToken,
    /// The token's session expired.
    #[error("the session has expired; log in again")]
    SessionExpired,
    /// The user is disabled.
    #[error("this account is disabled; ask the town safety office (安委办) to enable it")]
    AccountDisabled,
    /// The caller lacks a role.
    #[error("this needs the {role} ({zh}) role", zh = role.label_zh())]
    Forbidden {
        /// The role needed.
        role: Role,
    },
    /// A field is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        /// The field, as named on the wire.
        field: &'static str,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// Roles and scopes do not fit together.
    #[error("roles and scopes: {0}")]
    Access(#[from] AccessError),
    /// The username is taken.
    #[error("the username is already taken; choose another")]
    UsernameTaken,
    /// No such user.
    #[error("no user has this id")]
    UserNotFound,
    /// The change would leave the town without an enabled admin.
    #[error("this would leave no enabled admin; make another user admin first")]
    LastAdmin,
    /// Someone else changed the user at the same moment, repeatedly.
    #[error("the user was changed by someone else at the same time; reload and try again")]
    EditConflict,
    /// WeChat login is not configured on this server.
    #[error("WeChat login is not configured on this server (wechat.app_id)")]
    WeChatDisabled,
    /// WeChat refused or failed.
    #[error(transparent)]
    WeChat(#[from] WeChatError),
    /// The WeChat account is bound to no user and no invitation was given.
    #[error(
        "this WeChat account is not linked to an Anjian user yet; ask the town safety office (安委办) for an invitation code"
    )]
    WeChatNotBound,
    /// The invitation code is unknown.
    #[error("the invitation code is not valid; check it, or ask for a new one")]
    InvitationUnknown,
    /// The invitation code was used already.
    #[error("the invitation code has been used already; ask for a new one")]
    InvitationUsed,
    /// The invitation code expired.
    #[error("the invitation code has expired; ask for a new one")]
    InvitationExpired,
    /// The WeChat account is bound to a different user.
    #[error("this WeChat account is already linked to another user")]
    OpenidBoundElsewhere,
    /// Storage failed; the cause is logged.
    #[error("storage failed")]
    Storage(#[source] StoreError),
}

impl From<StoreError> for AccountError {
    fn from(err: StoreError) -> AccountError {
        match err {
            StoreError::Conflict(Conflict::UsernameTaken) => AccountError::UsernameTaken,
            StoreError::Conflict(Conflict::LastAdmin) => AccountError::LastAdmin,
            StoreError::Conflict(Conflict::StaleRevision) => AccountError::EditConflict,
            StoreError::Conflict(Conflict::OpenidBoundElsewhere) => {
                AccountError::OpenidBoundElsewhere
            }
            StoreError::Conflict(Conflict::InvitationUsed) => AccountError::InvitationUsed,
            StoreError::Conflict(Conflict::InvitationExpired) => AccountError::InvitationExpired,
            StoreError::Conflict(Conflict::UserDisabled) => AccountError::AccountDisabled,
            other => AccountError::Storage(other),
        }
    }
}

/// The user behind a valid token, and that token's hash (to log out).
#[derive(Clone, Debug)]
pub struct Caller {
    /// The user, as stored when the request began.
    pub user: User,
    /// The session's token hash.
    pub token: SecretHash,
    /// The session.
    pub session: Session,
}

impl Caller {
    /// `Ok` when the caller holds `role`.
    pub fn require(&self, role: Role) -> Result<(), AccountError> {
        if self.user.grant.has(role) {
            Ok(())
        } else {
            Err(AccountError::Forbidden { role })
        }
    }
}

/// A new session, as handed to the client.
#[derive(Debug)]
pub struct LoggedIn {
    /// The bearer token; shown once.
    pub token: SecretString,
    /// The session.
    pub session: Session,
    /// Who logged in.
    pub user: User,
}

/// A new user, as an admin describes it.
#[derive(Debug)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Shown name; the username when absent.
    pub display_name: Option<String>,
    /// Password; absent for WeChat-only users.
    pub password: Option<SecretString>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Scopes.
    pub scopes: Scopes,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Default)]
pub struct UserChanges {
    /// New shown name.
    pub display_name: Option<String>,
    /// New password.
    pub password: Option<SecretString>,
    /// New roles (checked together with the scopes).
    pub roles: Option<Vec<Role>>,
    /// New scopes (checked together with the roles).
    pub scopes: Option<Scopes>,
    /// Disable or enable.
    pub disabled: Option<bool>,
}

/// A new invitation code, shown once.
#[derive(Debug)]
pub struct IssuedInvitation {
    /// The code to give the person (`XXXX-XXXX-XXXX`).
    pub code: String,
    /// The invitation.
    pub invitation: Invitation,
}

/// The accounts service.
#[derive(Debug)]
pub struct Accounts {
    store: Arc<dyn AccountStore>,
    settings: AuthSettings,
    throttle: LoginThrottle,
    hashing: tokio::sync::Semaphore,
    wechat: Option<WeChatClient>,
}

impl Accounts {
    /// The service over a store.
    pub fn new(
        store: Arc<dyn AccountStore>,
        settings: AuthSettings,
        wechat: Option<WeChatClient>,
    ) -> Accounts {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Accounts {
            throttle: LoginThrottle::new(&settings),
            hashing: tokio::sync::Semaphore::new(cores),
            store,
            settings,
            wechat,
        }
    }

    /// On an empty store, creates the `admin` user with `password`, or with a random password
    /// that is returned so it can be shown once. Does nothing when users exist.
    pub async fn bootstrap_admin(
        &self,
        password: Option<SecretString>,
    ) -> Result<Option<SecretString>, AccountError> {
        let store = self.store.clone();
        if blocking(move || store.has_users()).await? {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(password) => (password, false),
            None => (secrets::new_password(), true),
        };
        self.create(NewUser {
            username: "admin".into(),
            display_name: Some("管理员 Admin".into()),
            password: Some(password.clone()),
            roles: vec![Role::Admin],
            scopes: Scopes::default(),
        })
        .await?;
        Ok(generated.then_some(password))
    }

    /// Sets a user's password without a caller (the offline `reset-password` command), ending
    /// their sessions; a random password is made and returned when none is given.
    pub async fn reset_password(
        &self,
        username: &str,
        password: Option<SecretString>,
    ) -> Result<SecretString, AccountError> {
        let password = password.unwrap_or_else(secrets::new_password);
        let hash = self.hash_new_password(password.clone()).await?;
        let store = self.store.clone();
        let name = username.trim().to_lowercase();
        let mut user = blocking(move || store.user_by_username(&name))
            .await?
            .ok_or(AccountError::UserNotFound)?;
        let rev = user.rev;
        user.password_hash = Some(hash);
        user.updated_at = UnixMillis::now();
        user.rev += 1;
        let store = self.store.clone();
        blocking(move || store.replace_user(&user, rev)).await?;
        tracing::info!(username, "password reset offline");
        Ok(password)
    }

    /// Logs in with username and password from `client`.
    pub async fn login(
        &self,
        username: &str,
        password: SecretString,
        client: IpAddr,
    ) -> Result<LoggedIn, AccountError> {
        let username = username.trim().to_lowercase();
        let keys = [
            ThrottleKey::User(username.clone()),
            ThrottleKey::Addr(client),
        ];
        self.throttle
            .begin(&keys, Instant::now())
            .map_err(|retry_after| AccountError::Throttled { retry_after })?;
        if password.expose_secret().chars().count() > MAX_PASSWORD_CHARS {
            return Err(AccountError::InvalidCredentials);
        }
        let store = self.store.clone();
        let given = password.clone();
        let (user, matches) = self
            .hashing(move || {
                let user = store.user_by_username(&username)?;
                let hash = user.as_ref().and_then(|u| u.password_hash.as_ref());
                let matches = secrets::verify_password(&given, hash);
                Ok((user, matches))
            })
            .await?;
        let Some(user) = user.filter(|_| matches) else {
            return Err(AccountError::InvalidCredentials);
        };
        self.throttle.succeeded(&keys);
        if user.disabled {
            return Err(AccountError::AccountDisabled);
        }
        let user = self.rehash_if_old(user, password).await?;
        self.open_session(user, LoginMethod::Password).await
    }

    /// A user whose password hash was made with older settings, hashed again with the current
    /// ones from the password they just logged in with. Best effort: if the user changed in the
    /// meantime, the old hash stays until the next login.
    async fn rehash_if_old(
        &self,
        user: User,
        password: SecretString,
    ) -> Result<User, AccountError> {
        if user.password_hash.as_ref().is_none_or(secrets::is_current) {
            return Ok(user);
        }
        let mut next = user.clone();
        next.password_hash = Some(self.hash_new_password(password).await?);
        next.rev = user.rev + 1;
        let store = self.store.clone();
        let stored = next.clone();
        match blocking(move || store.replace_user(&stored, user.rev)).await {
            Ok(()) => Ok(next),
            Err(StoreError::Conflict(_)) => Ok(user),
            Err(err) => Err(err.into()),
        }
    }

    /// Runs password hashing or checking on the blocking pool, at most as many at once as
    /// there are cores: each takes 7 MiB (19 MiB for a hash made with the older settings) and a
    /// few tens of milliseconds, and a flood of logins must queue rather than exhaust memory.
    async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, AccountError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|err| AccountError::Storage(StoreError::other(err)))?;
        Ok(blocking(work).await?)
    }

    async fn hash_new_password(
        &self,
        password: SecretString,
    ) -> Result<PasswordHash, AccountError> {
        check_password(&password)?;
        self.hashing(move || secrets::hash_password(&password).map_err(StoreError::other))
            .await
    }

    /// Logs in with a WeChat `wx.login()` code, binding the WeChat account to a user first when
    /// an invitation code is given.
    ///
    /// An invitation is checked before WeChat is asked, so a mistyped one does not use up the
    /// one-time `wx.login()` code. Redeeming is idempotent for the account it bound: a retry
    /// after a lost answer logs in instead of failing as "used".
    pub async fn login_wechat(
        &self,
        code: &str,
        invitation: Option<&str>,
        client: IpAddr,
    ) -> Result<LoggedIn, AccountError> {
        let wechat = self.wechat.as_ref().ok_or(AccountError::WeChatDisabled)?;
        if code.is_empty() || code.len() > 128 || !code.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AccountError::Invalid {
                field: "code",
                message: "must be the code from wx.login(): 1 to 128 printable ASCII characters"
                    .into(),
            });
        }
        let keys = [ThrottleKey::Addr(client)];
        let invitation = match invitation {
            None => None,
            Some(typed) => {
                self.throttle
                    .begin(&keys, Instant::now())
                    .map_err(|retry_after| AccountError::Throttled { retry_after })?;
                let hash =
                    secrets::invitation_hash(typed).ok_or(AccountError::InvitationUnknown)?;
                let store = self.store.clone();
                let found = blocking(move || store.invitation(&hash))
                    .await?
                    .ok_or(AccountError::InvitationUnknown)?;
                if found.redeemed_at.is_none() && found.expires_at <= UnixMillis::now() {
                    return Err(AccountError::InvitationExpired);
                }
                self.throttle.succeeded(&keys);
                Some(hash)
            }
        };
        let session = wechat.code_to_session(code).await?;
        let openid = session.openid;
        let store = self.store.clone();
        let user = match invitation {
            None => {
                let openid = openid.clone();
                blocking(move || store.user_by_openid(&openid))
                    .await?
                    .ok_or(AccountError::WeChatNotBound)?
            }
            Some(hash) => {
                let now = UnixMillis::now();
                let user = blocking(move || store.redeem_invitation(&hash, &openid, now))
                    .await
                    .map_err(|err| match err {
                        StoreError::NotFound => AccountError::InvitationUnknown,
                        other => other.into(),
                    })?;
                tracing::info!(user = %user.id, username = %user.username, "WeChat account bound by invitation");
                user
            }
        };
        if user.disabled {
            return Err(AccountError::AccountDisabled);
        }
        self.open_session(user, LoginMethod::WeChat).await
    }

    async fn open_session(
        &self,
        user: User,
        method: LoginMethod,
    ) -> Result<LoggedIn, AccountError> {
        let (token, hash) = secrets::new_token();
        let now = UnixMillis::now();
        let session = Session {
            user_id: user.id,
            method,
            created_at: now,
            expires_at: now.plus(self.settings.session_ttl()),
        };
        let store = self.store.clone();
        let stored = session.clone();
        blocking(move || store.insert_session(&hash, &stored, now)).await?;
        tracing::info!(user = %user.id, username = %user.username, ?method, "logged in");
        Ok(LoggedIn {
            token,
            session,
            user,
        })
    }

    /// A session for `user` opened by the server itself, without their password or a WeChat
    /// code: only for seeding the demo town, which records what the enterprises' WeChat users
    /// did on their phones. The session is an ordinary one and expires like any other.
    pub(crate) async fn session_for(&self, user: User) -> Result<Caller, AccountError> {
        let logged_in = self.open_session(user, LoginMethod::WeChat).await?;
        self.authenticate(logged_in.token.expose_secret()).await
    }

    /// The caller behind a bearer token.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, AccountError> {
        if token.len() > 256 {
            return Err(AccountError::InvalidToken);
        }
        let hash = secrets::token_hash(token);
        let store = self.store.clone();
        let (session, user) = blocking(move || store.session_with_user(&hash))
            .await?
            .ok_or(AccountError::InvalidToken)?;
        if session.expires_at <= UnixMillis::now() {
            return Err(AccountError::SessionExpired);
        }
        if user.disabled {
            return Err(AccountError::AccountDisabled);
        }
        Ok(Caller {
            user,
            token: hash,
            session,
        })
    }

    /// Ends the caller's session.
    pub async fn logout(&self, caller: &Caller) -> Result<(), AccountError> {
        let store = self.store.clone();
        let token = caller.token;
        blocking(move || store.delete_session(&token)).await?;
        Ok(())
    }

    /// Creates a user (admin only).
    pub async fn create_user(&self, caller: &Caller, new: NewUser) -> Result<User, AccountError> {
        caller.require(Role::Admin)?;
        let user = self.create(new).await?;
        tracing::info!(by = %caller.user.username, user = %user.id, username = %user.username, "user created");
        Ok(user)
    }

    async fn create(&self, new: NewUser) -> Result<User, AccountError> {
        let username = check_username(&new.username)?;
        let display_name = match new.display_name {
            Some(name) => check_display_name(&name)?,
            None => username.clone(),
        };
        let grant = Grant::new(new.roles, new.scopes)?;
        let password_hash = match new.password {
            Some(password) => Some(self.hash_new_password(password).await?),
            None => None,
        };
        let now = UnixMillis::now();
        let user = User {
            id: Uuid::now_v7(),
            username,
            display_name,
            password_hash,
            grant,
            disabled: false,
            wechat_openid: None,
            created_at: now,
            updated_at: now,
            rev: 0,
        };
        let store = self.store.clone();
        let stored = user.clone();
        blocking(move || store.insert_user(&stored)).await?;
        Ok(user)
    }

    /// A page of users in creation order (admin only).
    pub async fn list_users(
        &self,
        caller: &Caller,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<User>, AccountError> {
        caller.require(Role::Admin)?;
        if limit == 0 || limit > MAX_PAGE + 1 {
            return Err(AccountError::Invalid {
                field: "limit",
                message: format!("must be between 1 and {MAX_PAGE}"),
            });
        }
        let store = self.store.clone();
        Ok(blocking(move || store.list_users(after, limit)).await?)
    }

    /// The names people who acted on a record go by (姓名), for whoever reads the record: the
    /// display name, or `用户 …` for an id no user has (the server itself is `安委办`).
    pub async fn display_names(
        &self,
        ids: Vec<Uuid>,
    ) -> Result<std::collections::HashMap<Uuid, String>, AccountError> {
        let store = self.store.clone();
        Ok(blocking(move || {
            let mut names = std::collections::HashMap::new();
            for id in ids {
                let name = match store.user(id)? {
                    Some(user) => user.display_name,
                    None if id.is_nil() => "安委办".to_string(),
                    None => format!("用户 {}", &id.simple().to_string()[..8]),
                };
                names.insert(id, name);
            }
            Ok(names)
        })
        .await?)
    }

    /// One user (admin only).
    pub async fn user(&self, caller: &Caller, id: Uuid) -> Result<User, AccountError> {
        caller.require(Role::Admin)?;
        let store = self.store.clone();
        blocking(move || store.user(id))
            .await?
            .ok_or(AccountError::UserNotFound)
    }

    /// Changes a user (admin only). Disabling ends the user's sessions at once.
    pub async fn update_user(
        &self,
        caller: &Caller,
        id: Uuid,
        changes: UserChanges,
    ) -> Result<User, AccountError> {
        caller.require(Role::Admin)?;
        let display_name = changes
            .display_name
            .as_deref()
            .map(check_display_name)
            .transpose()?;
        let password_hash = match changes.password {
            Some(password) => Some(self.hash_new_password(password).await?),
            None => None,
        };
        // Optimistic: read, change, write if nobody wrote in between; a few tries, then give up.
        for _ in 0..3 {
            let current = self.user(caller, id).await?;
            let mut next = current.clone();
            if let Some(name) = &display_name {
                next.display_name = name.clone();
            }
            if let Some(hash) = &password_hash {
                next.password_hash = Some(hash.clone());
            }
            if changes.roles.is_some() || changes.scopes.is_some() {
                let roles = changes
                    .roles
                    .clone()
                    .unwrap_or_else(|| current.grant.roles().collect());
                let scopes = changes
                    .scopes
                    .clone()
                    .unwrap_or_else(|| current.grant.scopes().clone());
                next.grant = Grant::new(roles, scopes)?;
            }
            if let Some(disabled) = changes.disabled {
                next.disabled = disabled;
            }
            next.updated_at = UnixMillis::now();
            next.rev = current.rev + 1;
            let store = self.store.clone();
            let stored = next.clone();
            match blocking(move || store.replace_user(&stored, current.rev)).await {
                Ok(()) => {
                    tracing::info!(by = %caller.user.username, user = %next.id, disabled = next.disabled, "user changed");
                    return Ok(next);
                }
                Err(StoreError::Conflict(Conflict::StaleRevision)) => continue,
                Err(StoreError::NotFound) => return Err(AccountError::UserNotFound),
                Err(err) => return Err(err.into()),
            }
        }
        Err(AccountError::EditConflict)
    }

    /// Creates a one-time invitation code that binds a WeChat account to `user_id` (admin only).
    pub async fn create_invitation(
        &self,
        caller: &Caller,
        user_id: Uuid,
    ) -> Result<IssuedInvitation, AccountError> {
        let user = self.user(caller, user_id).await?;
        if user.disabled {
            return Err(AccountError::AccountDisabled);
        }
        let (code, hash) = secrets::new_invitation_code();
        let now = UnixMillis::now();
        let invitation = Invitation {
            user_id,
            created_by: caller.user.id,
            created_at: now,
            expires_at: now.plus(self.settings.invitation_ttl()),
            redeemed_at: None,
        };
        let store = self.store.clone();
        let stored = invitation.clone();
        blocking(move || store.insert_invitation(&hash, &stored)).await?;
        tracing::info!(by = %caller.user.username, user = %user_id, "invitation created");
        Ok(IssuedInvitation { code, invitation })
    }
}

fn check_username(raw: &str) -> Result<String, AccountError> {
    let name = raw.trim().to_lowercase();
    let ok = (3..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(name)
    } else {
        Err(AccountError::Invalid {
            field: "username",
            message: format!("must be {USERNAME_RULE}"),
        })
    }
}

fn check_display_name(raw: &str) -> Result<String, AccountError> {
    let name = raw.trim();
    if name.is_empty()
        || name.chars().count() > MAX_DISPLAY_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AccountError::Invalid {
            field: "display_name",
            message: format!(
                "must be 1 to {MAX_DISPLAY_NAME_CHARS} characters, without control characters"
            ),
        });
    }
    Ok(name.to_string())
}

fn check_password(password: &SecretString) -> Result<(), AccountError> {
    let chars = password.expose_secret().chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(AccountError::Invalid {
            field: "password",
            message: format!("must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"),
        });
    }
    if password.expose_secret().trim().is_empty() {
        return Err(AccountError::Invalid {
            field: "password",
            message: "must not be only spaces".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(check_username("  Li.Ming ").unwrap(), "li.ming");
        for bad in ["ab", "-lead", "有名字", "a b c", &"x".repeat(33)] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_password_hashed_with_older_settings_is_hashed_again_at_login() {
        use argon2::password_hash::{PasswordHasher as _, SaltString, rand_core::OsRng};
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(crate::store::RedbStore::open(&dir.path().join("a.redb")).unwrap());
        let accounts = Accounts::new(store.clone(), AuthSettings::default(), None);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let password = SecretString::from("correct horse battery".to_string());
        let client = IpAddr::from([127, 0, 0, 1]);
        runtime.block_on(async {
            let user = accounts
                .create(NewUser {
                    username: "li.ming".into(),
                    display_name: None,
                    password: Some(password.clone()),
                    roles: vec![Role::Inspector],
                    scopes: Scopes {
                        town: true,
                        ..Scopes::default()
                    },
                })
                .await
                .unwrap();
            // As an earlier version hashed it: the library's defaults, 19 MiB and two passes.
            let older = argon2::Argon2::default()
                .hash_password(
                    password.expose_secret().as_bytes(),
                    &SaltString::generate(&mut OsRng),
                )
                .unwrap()
                .to_string();
            let mut aged = user.clone();
            aged.password_hash = Some(PasswordHash(older.clone()));
            aged.rev = user.rev + 1;
            store.replace_user(&aged, user.rev).unwrap();

            let logged_in = accounts
                .login("li.ming", password.clone(), client)
                .await
                .unwrap();
            let stored = store.user_by_username("li.ming").unwrap().unwrap();
            let hash = stored.password_hash.clone().unwrap();
            assert_ne!(hash.0, older);
            assert!(secrets::is_current(&hash), "{}", hash.0);
            assert_eq!(logged_in.user.rev, stored.rev);
            // The new hash is the same password's.
            accounts.login("li.ming", password, client).await.unwrap();
            let wrong = SecretString::from("wrong".to_string());
            assert!(accounts.login("li.ming", wrong, client).await.is_err());
        });
    }

    #[test]
    fn display_names_are_checked() {
        assert_eq!(check_display_name(" 王安全 ").unwrap(), "王安全");
        assert!(check_display_name("  ").is_err());
        assert!(check_display_name("a\u{0}b").is_err());
        assert!(check_display_name(&"名".repeat(65)).is_err());
    }
}
