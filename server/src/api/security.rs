//! Authentication for operations: `Authorization: Bearer <token>`.
//!
//! An operation that takes an [`Auth`] parameter runs only for a valid session; the token is
//! checked against the store on every request, so logout and disabling take effect at once.

use std::sync::Arc;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

use super::AppState;
use super::error::ApiError;
use crate::service::accounts::Caller;

/// A session token from `POST /v1/auth/login` or `POST /v1/auth/wechat`.
#[derive(Debug, SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "opaque", checker = "check")]
pub struct Auth(pub Caller);

async fn check(req: &Request, bearer: Bearer) -> poem::Result<Caller> {
    let Some(state) = req.data::<Arc<AppState>>() else {
        return Err(ApiError::new(
            poem::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server is not set up to check sessions",
        )
        .into());
    };
    state
        .accounts
        .authenticate(&bearer.token)
        .await
        .map_err(|err| ApiError::from(err).into())
}
