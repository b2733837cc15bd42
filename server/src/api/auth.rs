//! Logging in and out.

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::error::ApiError;
use super::model::{LoginRequest, LoginResponse, UserView, WeChatLoginRequest, secret};
use super::security::Auth;
use super::{ApiTags, AppState};

/// The `Auth` tag.
#[derive(Debug)]
pub struct AuthApi;

/// The session has ended.
#[derive(Debug, ApiResponse)]
pub enum LoggedOut {
    /// The token no longer works.
    #[oai(status = 204)]
    Done,
}

#[OpenApi(tag = "ApiTags::Auth")]
impl AuthApi {
    /// Log in with username and password (账号密码登录), for web users.
    ///
    /// Returns a bearer token. Repeated failures for one username or from one address are
    /// refused for a while (429 `login-throttled`, with `Retry-After`).
    #[oai(path = "/v1/auth/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<LoginRequest>,
    ) -> Result<Json<LoginResponse>, ApiError> {
        let client = state.client_ip(req);
        let Json(LoginRequest { username, password }) = body;
        let logged_in = state
            .accounts
            .login(&username.0, secret(password), client)
            .await?;
        Ok(Json(logged_in.into()))
    }

    /// Log in from the WeChat mini-program (微信小程序登录).
    ///
    /// Send the code from `wx.login()`. The first time, also send the invitation code (邀请码)
    /// the town safety office gave you: it links your WeChat account to your Anjian user. Later
    /// logins need only the code.
    #[oai(
        path = "/v1/auth/wechat",
        method = "post",
        operation_id = "wechat_login"
    )]
    async fn wechat_login(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<WeChatLoginRequest>,
    ) -> Result<Json<LoginResponse>, ApiError> {
        let client = state.client_ip(req);
        let Json(WeChatLoginRequest { code, invitation }) = body;
        let logged_in = state
            .accounts
            .login_wechat(&code.0, invitation.as_ref().map(|i| i.0.as_str()), client)
            .await?;
        Ok(Json(logged_in.into()))
    }

    /// Log out (退出登录): the token stops working at once.
    #[oai(path = "/v1/auth/logout", method = "post", operation_id = "logout")]
    async fn logout(&self, state: Data<&Arc<AppState>>, auth: Auth) -> Result<LoggedOut, ApiError> {
        state.accounts.logout(&auth.0).await?;
        Ok(LoggedOut::Done)
    }

    /// Who the token belongs to (当前用户).
    #[oai(path = "/v1/me", method = "get", operation_id = "me")]
    async fn me(&self, auth: Auth) -> Result<Json<UserView>, ApiError> {
        Ok(Json(UserView::from(&auth.0.user)))
    }
}
