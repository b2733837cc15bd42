//! Town safety office administration: users and invitation codes. Every operation needs the
//! `admin` role.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::error::ApiError;
use super::model::{
    CreateInvitationRequest, CreateUserRequest, InvitationView, UpdateUserRequest, UserPage,
    UserView, secret,
};
use super::security::Auth;
use super::{ApiTags, AppState};
use crate::service::accounts::{NewUser, UserChanges};

/// The `Admin` tag.
#[derive(Debug)]
pub struct AdminApi;

/// A new thing was made.
#[derive(Debug, ApiResponse)]
pub enum Created<T: ParseFromJSON + ToJSON> {
    /// It was made.
    #[oai(status = 201)]
    Created(Json<T>),
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminApi {
    /// Create a user (新建用户).
    ///
    /// Users who log in only through WeChat need no password: create them, then give them an
    /// invitation code.
    #[oai(
        path = "/v1/admin/users",
        method = "post",
        operation_id = "create_user"
    )]
    async fn create_user(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<CreateUserRequest>,
    ) -> Result<Created<UserView>, ApiError> {
        let Json(body) = body;
        let new = NewUser {
            username: body.username.0,
            display_name: body.display_name.map(String::from),
            password: body.password.map(secret),
            roles: body.roles.into_iter().map(Into::into).collect(),
            scopes: body.scopes.into(),
        };
        let user = state.accounts.create_user(&auth.0, new).await?;
        Ok(Created::Created(Json(UserView::from(&user))))
    }

    /// List users (用户列表), oldest first, a page at a time.
    #[oai(path = "/v1/admin/users", method = "get", operation_id = "list_users")]
    async fn list_users(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// Start after this user id (the previous page's `next_after`).
        after: Query<Option<Uuid>>,
        /// Users per page, 1 to 200.
        #[oai(
            default = "default_page",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
    ) -> Result<Json<UserPage>, ApiError> {
        let limit = limit.0 as usize;
        // One more than asked tells whether there is a next page.
        let mut users = state
            .accounts
            .list_users(&auth.0, after.0, limit + 1)
            .await?;
        let next_after = (users.len() > limit).then(|| {
            users.truncate(limit);
            users.last().map(|u| u.id)
        });
        let next_after = next_after.flatten();
        Ok(Json(UserPage {
            users: users.iter().map(UserView::from).collect(),
            next_after,
        }))
    }

    /// One user (用户详情).
    #[oai(
        path = "/v1/admin/users/:id",
        method = "get",
        operation_id = "get_user"
    )]
    async fn get_user(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// The user's id.
        id: Path<Uuid>,
    ) -> Result<Json<UserView>, ApiError> {
        let user = state.accounts.user(&auth.0, id.0).await?;
        Ok(Json(UserView::from(&user)))
    }

    /// Change a user (修改用户): name, password, roles and scopes, or disable them.
    ///
    /// Disabling ends all the user's sessions at once. The last enabled admin cannot be
    /// disabled or lose the admin role (409 `last-admin`).
    #[oai(
        path = "/v1/admin/users/:id",
        method = "patch",
        operation_id = "update_user"
    )]
    async fn update_user(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// The user's id.
        id: Path<Uuid>,
        body: Json<UpdateUserRequest>,
    ) -> Result<Json<UserView>, ApiError> {
        let Json(body) = body;
        let changes = UserChanges {
            display_name: body.display_name.map(String::from),
            password: body.password.map(secret),
            roles: body
                .roles
                .map(|roles| roles.into_iter().map(Into::into).collect()),
            scopes: body.scopes.map(Into::into),
            disabled: body.disabled,
        };
        let user = state.accounts.update_user(&auth.0, id.0, changes).await?;
        Ok(Json(UserView::from(&user)))
    }

    /// Create a one-time invitation code (邀请码) that links a WeChat account to a user.
    ///
    /// Give the code to the person; they enter it in the mini-program at their first login.
    /// A new code for the same user replaces the WeChat account linked before.
    #[oai(
        path = "/v1/admin/invitations",
        method = "post",
        operation_id = "create_invitation"
    )]
    async fn create_invitation(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<CreateInvitationRequest>,
    ) -> Result<Created<InvitationView>, ApiError> {
        let issued = state
            .accounts
            .create_invitation(&auth.0, body.0.user_id)
            .await?;
        Ok(Created::Created(Json(issued.into())))
    }
}

fn default_page() -> u32 {
    50
}
