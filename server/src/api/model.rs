//! The wire types of the API: what requests carry and responses return, and how they convert
//! to and from the service's types. Only this module and the operation files know them.

use anjian_sync::access::{Role, Scopes};
use poem_openapi::{Enum, Object};
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use uuid::Uuid;

use super::text::Text;
use crate::service::accounts::{IssuedInvitation, LoggedIn};
use crate::store::model::User;

/// A role (角色).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum RoleName {
    /// Town safety office administrator (安委办管理员).
    Admin,
    /// Town leader (领导), reads everything.
    Leader,
    /// Inspector (执法人员 / 网格员).
    Inspector,
    /// Enterprise safety manager (企业安全员).
    EnterpriseManager,
    /// Team lead (班组长).
    TeamLead,
    /// Publicist (宣传员).
    Publicist,
    /// Reviewer of articles (审核员).
    Reviewer,
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Role {
        match role {
            RoleName::Admin => Role::Admin,
            RoleName::Leader => Role::Leader,
            RoleName::Inspector => Role::Inspector,
            RoleName::EnterpriseManager => Role::EnterpriseManager,
            RoleName::TeamLead => Role::TeamLead,
            RoleName::Publicist => Role::Publicist,
            RoleName::Reviewer => Role::Reviewer,
        }
    }
}

impl From<Role> for RoleName {
    fn from(role: Role) -> RoleName {
        match role {
            Role::Admin => RoleName::Admin,
            Role::Leader => RoleName::Leader,
            Role::Inspector => RoleName::Inspector,
            Role::EnterpriseManager => RoleName::EnterpriseManager,
            Role::TeamLead => RoleName::TeamLead,
            Role::Publicist => RoleName::Publicist,
            Role::Reviewer => RoleName::Reviewer,
        }
    }
}

/// The part of the town a user's work covers (管辖范围). Inspectors need `town` or grids;
/// enterprise managers an enterprise; team leads an enterprise and a team. A scope that none of
/// the user's roles uses is refused.
#[derive(Debug, Clone, Default, Object)]
#[oai(deny_unknown_fields)]
pub struct ScopesBody {
    /// The whole town (全镇).
    #[oai(default)]
    pub town: bool,
    /// Grid ids (网格).
    #[oai(default, validator(max_items = 256))]
    pub grids: Vec<Text>,
    /// Enterprise id (企业).
    #[oai(skip_serializing_if_is_none)]
    pub enterprise: Option<Text>,
    /// Team id (班组).
    #[oai(skip_serializing_if_is_none)]
    pub team: Option<Text>,
}

impl From<ScopesBody> for Scopes {
    fn from(body: ScopesBody) -> Scopes {
        Scopes {
            town: body.town,
            grids: body.grids.into_iter().map(String::from).collect(),
            enterprise: body.enterprise.map(String::from),
            team: body.team.map(String::from),
        }
    }
}

impl From<&Scopes> for ScopesBody {
    fn from(scopes: &Scopes) -> ScopesBody {
        ScopesBody {
            town: scopes.town,
            grids: scopes.grids.iter().cloned().map(Text).collect(),
            enterprise: scopes.enterprise.clone().map(Text),
            team: scopes.team.clone().map(Text),
        }
    }
}

/// A user (用户) as the API shows it. Password hashes and WeChat ids are never shown.
#[derive(Debug, Clone, Object)]
pub struct UserView {
    /// The user's id.
    pub id: Uuid,
    /// Login name.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Roles.
    pub roles: Vec<RoleName>,
    /// Scopes.
    pub scopes: ScopesBody,
    /// Whether the user is disabled (cannot log in; sessions ended).
    pub disabled: bool,
    /// Whether the user can log in with a password.
    pub has_password: bool,
    /// Whether a WeChat account is bound (微信已绑定).
    pub wechat_bound: bool,
    /// When the user was created.
    pub created_at: OffsetDateTime,
    /// When the user was last changed.
    pub updated_at: OffsetDateTime,
}

impl From<&User> for UserView {
    fn from(user: &User) -> UserView {
        UserView {
            id: user.id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            roles: user.grant.roles().map(RoleName::from).collect(),
            scopes: ScopesBody::from(user.grant.scopes()),
            disabled: user.disabled,
            has_password: user.password_hash.is_some(),
            wechat_bound: user.wechat_openid.is_some(),
            created_at: user.created_at.to_datetime(),
            updated_at: user.updated_at.to_datetime(),
        }
    }
}

/// Username and password.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name (case does not matter).
    #[oai(validator(max_length = 64))]
    pub username: Text,
    /// Password.
    #[oai(validator(max_length = 1024))]
    pub password: Text,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A WeChat mini-program login.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct WeChatLoginRequest {
    /// The code from `wx.login()`; valid once, for five minutes.
    #[oai(validator(max_length = 256))]
    pub code: Text,
    /// An invitation code (邀请码) from the town safety office, needed the first time only.
    #[oai(validator(max_length = 64))]
    pub invitation: Option<Text>,
}

/// A new session.
#[derive(Debug, Object)]
pub struct LoginResponse {
    /// The bearer token: send it as `Authorization: Bearer <token>`. Shown only here.
    pub token: String,
    /// When the token stops working.
    pub expires_at: OffsetDateTime,
    /// Who is logged in.
    pub user: UserView,
}

impl From<LoggedIn> for LoginResponse {
    fn from(logged_in: LoggedIn) -> LoginResponse {
        LoginResponse {
            token: logged_in.token.expose_secret().to_string(),
            expires_at: logged_in.session.expires_at.to_datetime(),
            user: UserView::from(&logged_in.user),
        }
    }
}

/// A new user.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Login name: 3 to 32 characters from a-z, 0-9, `.`, `_`, `-`.
    #[oai(validator(max_length = 32))]
    pub username: Text,
    /// Shown name (may be Chinese), 1 to 64 characters; the username when absent.
    #[oai(validator(max_length = 64))]
    pub display_name: Option<Text>,
    /// Password, 10 to 128 characters; absent for users who log in only through WeChat.
    #[oai(validator(max_length = 128))]
    pub password: Option<Text>,
    /// Roles; at least one.
    #[oai(validator(max_items = 16))]
    pub roles: Vec<RoleName>,
    /// Scopes the roles need.
    #[oai(default)]
    pub scopes: ScopesBody,
}

impl std::fmt::Debug for CreateUserRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUserRequest")
            .field("username", &self.username)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// Changes to a user; absent fields stay as they are. Roles and scopes are checked together.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// New shown name, 1 to 64 characters.
    #[oai(validator(max_length = 64))]
    pub display_name: Option<Text>,
    /// New password, 10 to 128 characters. Ends the user's sessions.
    #[oai(validator(max_length = 128))]
    pub password: Option<Text>,
    /// New roles.
    #[oai(validator(max_items = 16))]
    pub roles: Option<Vec<RoleName>>,
    /// New scopes.
    pub scopes: Option<ScopesBody>,
    /// `true` disables the user and ends their sessions at once; `false` enables them again.
    pub disabled: Option<bool>,
}

impl std::fmt::Debug for UpdateUserRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateUserRequest")
            .field("roles", &self.roles)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// One page of users.
#[derive(Debug, Object)]
pub struct UserPage {
    /// Users in creation order.
    pub users: Vec<UserView>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_after: Option<Uuid>,
}

/// A request for an invitation code.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    /// The user whose WeChat account the code will bind.
    pub user_id: Uuid,
}

/// A one-time invitation code (邀请码) that binds a WeChat account to a user.
#[derive(Debug, Object)]
pub struct InvitationView {
    /// The code to give the person, `XXXX-XXXX-XXXX`. Shown only here.
    pub code: String,
    /// The user it binds to.
    pub user_id: Uuid,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

impl From<IssuedInvitation> for InvitationView {
    fn from(issued: IssuedInvitation) -> InvitationView {
        InvitationView {
            code: issued.code,
            user_id: issued.invitation.user_id,
            expires_at: issued.invitation.expires_at.to_datetime(),
        }
    }
}

/// The server is up.
#[derive(Debug, Object)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
    /// The server's version.
    pub version: String,
}

/// A password from the wire, held as a secret from the moment it arrives.
pub fn secret(text: Text) -> SecretString {
    SecretString::from(text.0)
}
