//! The one error body of the API, `{code, message}`, and how every failure becomes one.
//!
//! `code` is stable and machine-readable (`invalid-credentials`); clients branch on it.
//! `message` is for a person: it says what happened and what to do. Internal causes (storage
//! errors) are logged with detail and answered with a plain `internal` code.
//!
//! Failures that happen before an operation runs — an unknown route, a wrong method, a body that
//! is not JSON, a missing content type, a body over the size limit, a missing token — come out of
//! poem as `poem::Error`s; [`into_error_response`] gives them the same body.

use poem::IntoResponse;
use poem::error::{MethodNotAllowedError, NotFoundError, ReadBodyError, ResponseError};
use poem::http::StatusCode;
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseMultipartError, ParseParamError, ParsePathError,
    ParseRequestPayloadError,
};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::service::accounts::AccountError;
use crate::service::blobs::BlobError;
use crate::service::images::ImageError;
use crate::service::sync::SyncError;
use crate::service::wechat::WeChatError;

/// The body of every error response.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `invalid-credentials`.
    pub code: String,
    /// What happened and what to do, for a person.
    pub message: String,
}

/// Every error an operation can answer with. Its `Display` (`code: message`) is what request
/// logs show.
#[derive(Debug, ApiResponse)]
#[oai(display)]
pub enum ApiError {
    /// The request is malformed or a field is not acceptable (`malformed-body`, `invalid-field`,
    /// `invalid-parameter`, `wechat-invalid-code`, `invitation-*`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No valid session (`unauthenticated`, `invalid-token`, `session-expired`,
    /// `invalid-credentials`).
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The caller may not do this (`forbidden`, `account-disabled`, `wechat-not-bound`,
    /// `wechat-user-blocked`).
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such thing (`not-found`, `user-not-found`).
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The method is not allowed on this path (`method-not-allowed`).
    #[oai(status = 405)]
    MethodNotAllowed(Json<ErrorBody>),
    /// The change does not fit the current state (`username-taken`, `last-admin`,
    /// `edit-conflict`, `wechat-bound-elsewhere`).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// It was here and is gone (`upload-expired`).
    #[oai(status = 410)]
    Gone(Json<ErrorBody>),
    /// The request body sent nothing for `http.body_read_timeout_secs` (`body-stalled`).
    #[oai(status = 408)]
    RequestTimeout(Json<ErrorBody>),
    /// A precondition header does not hold (`tus-version`: only `Tus-Resumable: 1.0.0`).
    #[oai(status = 412)]
    PreconditionFailed(Json<ErrorBody>),
    /// The body is larger than the limit (`payload-too-large`, `blob-too-large`).
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The body is not of the media type the operation takes (`unsupported-media-type`), or a
    /// file is not a JPEG, PNG or WebP image (`image-unsupported`).
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// The file arrived whole but cannot be accepted (`blob-hash-mismatch`, `image-too-large`,
    /// `image-damaged`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// Too many attempts (`login-throttled`, `wechat-rate-limited`); retry after the header's seconds.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// A chunk does not match its `Upload-Checksum` (`checksum-mismatch`, tus status 460).
    #[oai(status = 460)]
    ChecksumMismatch(Json<ErrorBody>),
    /// The server failed (`internal`); the cause is in the server log.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// WeChat answered something unexpected (`wechat-error`).
    #[oai(status = 502)]
    BadGateway(Json<ErrorBody>),
    /// The disk is nearly full (`storage-full`): nothing was written; retry after the header's
    /// seconds.
    #[oai(status = 507)]
    InsufficientStorage(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// Temporarily unavailable (`server-busy`, `upload-capacity`, `wechat-busy`,
    /// `wechat-unreachable`, `wechat-disabled`); retryable when `Retry-After` is present.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>, #[oai(header = "Retry-After")] Option<u64>),
}

impl ApiError {
    /// An error with this status, code and message. Statuses without a variant become 500.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        let body = Json(ErrorBody {
            code: code.to_string(),
            message: message.into(),
        });
        match status {
            StatusCode::BAD_REQUEST => ApiError::BadRequest(body),
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized(body),
            StatusCode::FORBIDDEN => ApiError::Forbidden(body),
            StatusCode::NOT_FOUND => ApiError::NotFound(body),
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed(body),
            StatusCode::CONFLICT => ApiError::Conflict(body),
            StatusCode::GONE => ApiError::Gone(body),
            StatusCode::REQUEST_TIMEOUT => ApiError::RequestTimeout(body),
            StatusCode::PRECONDITION_FAILED => ApiError::PreconditionFailed(body),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(body),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(body),
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::Unprocessable(body),
            status if status.as_u16() == 460 => ApiError::ChecksumMismatch(body),
            StatusCode::TOO_MANY_REQUESTS => ApiError::TooManyRequests(body, 1),
            StatusCode::BAD_GATEWAY => ApiError::BadGateway(body),
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable(body, None),
            StatusCode::INSUFFICIENT_STORAGE => ApiError::InsufficientStorage(body, 60),
            _ => ApiError::Internal(body),
        }
    }

    /// The error body.
    pub fn body(&self) -> &ErrorBody {
        match self {
            ApiError::BadRequest(body)
            | ApiError::Unauthorized(body)
            | ApiError::Forbidden(body)
            | ApiError::NotFound(body)
            | ApiError::MethodNotAllowed(body)
            | ApiError::Conflict(body)
            | ApiError::Gone(body)
            | ApiError::RequestTimeout(body)
            | ApiError::PreconditionFailed(body)
            | ApiError::PayloadTooLarge(body)
            | ApiError::UnsupportedMediaType(body)
            | ApiError::Unprocessable(body)
            | ApiError::ChecksumMismatch(body)
            | ApiError::TooManyRequests(body, _)
            | ApiError::InsufficientStorage(body, _)
            | ApiError::Internal(body)
            | ApiError::BadGateway(body)
            | ApiError::Unavailable(body, _) => &body.0,
        }
    }

    fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle this request; it has been logged, try again later",
        )
    }

    fn retry_after(self, secs: u64) -> ApiError {
        match self {
            ApiError::TooManyRequests(body, _) => ApiError::TooManyRequests(body, secs.max(1)),
            ApiError::Unavailable(body, _) => ApiError::Unavailable(body, Some(secs.max(1))),
            other => other,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body = self.body();
        write!(f, "{}: {}", body.code, body.message)
    }
}

/// A request body over the configured limit.
#[derive(Debug, thiserror::Error)]
#[error("the request body is larger than the {limit}-byte limit")]
pub struct BodyTooLarge {
    /// The limit, in bytes.
    pub limit: usize,
}

impl ResponseError for BodyTooLarge {
    fn status(&self) -> StatusCode {
        StatusCode::PAYLOAD_TOO_LARGE
    }
}

/// A request body that sent nothing for too long, or came too slowly; the message says which.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BodyStalled(pub String);

impl ResponseError for BodyStalled {
    fn status(&self) -> StatusCode {
        StatusCode::REQUEST_TIMEOUT
    }
}

/// The server has as many requests of this kind in hand as it takes at once.
#[derive(Clone, Copy, Debug, thiserror::Error)]
pub enum ServerBusy {
    /// Requests carrying files.
    #[error(
        "the server is handling as many uploads as it takes at once; try again in a few seconds (服务器繁忙)"
    )]
    Uploads,
    /// Pushes and pulls, handled and waiting.
    #[error(
        "the server has as many syncs in hand as it takes at once; try again in a few seconds (服务器繁忙)"
    )]
    Syncs,
}

impl ServerBusy {
    /// Seconds to say in `Retry-After`. A sync is answered busy after it has waited in line
    /// (`http.sync_queue_secs`), or at once when the line is full: either way the device comes
    /// back soon, with its own random wait added. An upload takes seconds.
    fn retry_after(self) -> u64 {
        match self {
            ServerBusy::Uploads => 5,
            ServerBusy::Syncs => 1,
        }
    }
}

impl ResponseError for ServerBusy {
    fn status(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> ApiError {
        use AccountError as E;
        let message = err.to_string();
        let (status, code) = match &err {
            E::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid-credentials"),
            E::Throttled { retry_after } => {
                return ApiError::new(StatusCode::TOO_MANY_REQUESTS, "login-throttled", message)
                    .retry_after(retry_after.as_secs_f64().ceil() as u64);
            }
            E::InvalidToken => (StatusCode::UNAUTHORIZED, "invalid-token"),
            E::SessionExpired => (StatusCode::UNAUTHORIZED, "session-expired"),
            E::AccountDisabled => (StatusCode::FORBIDDEN, "account-disabled"),
            E::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            E::Invalid { .. } | E::Access(_) => (StatusCode::BAD_REQUEST, "invalid-field"),
            E::UsernameTaken => (StatusCode::CONFLICT, "username-taken"),
            E::UserNotFound => (StatusCode::NOT_FOUND, "user-not-found"),
            E::LastAdmin => (StatusCode::CONFLICT, "last-admin"),
            E::EditConflict => (StatusCode::CONFLICT, "edit-conflict"),
            E::WeChatDisabled => (StatusCode::SERVICE_UNAVAILABLE, "wechat-disabled"),
            E::WeChat(wechat) => return from_wechat(wechat),
            E::WeChatNotBound => (StatusCode::FORBIDDEN, "wechat-not-bound"),
            E::InvitationUnknown => (StatusCode::BAD_REQUEST, "invitation-invalid"),
            E::InvitationUsed => (StatusCode::BAD_REQUEST, "invitation-used"),
            E::InvitationExpired => (StatusCode::BAD_REQUEST, "invitation-expired"),
            E::OpenidBoundElsewhere => (StatusCode::CONFLICT, "wechat-bound-elsewhere"),
            E::Storage(cause) => {
                tracing::error!(error = %cause, "storage failure");
                return ApiError::internal();
            }
        };
        ApiError::new(status, code, message)
    }
}

impl From<BlobError> for ApiError {
    fn from(err: BlobError) -> ApiError {
        let message = err.to_string();
        let (status, code) = match &err {
            BlobError::NotFound => (StatusCode::NOT_FOUND, "blob-not-found"),
            BlobError::UploadNotFound => (StatusCode::NOT_FOUND, "upload-not-found"),
            BlobError::UploadExpired => (StatusCode::GONE, "upload-expired"),
            // The tus headers are `Upload-…`; the rest are fields of the photo form.
            BlobError::Invalid { field, .. } if field.starts_with("Upload-") => {
                (StatusCode::BAD_REQUEST, "invalid-header")
            }
            BlobError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid-field"),
            BlobError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "blob-too-large"),
            BlobError::OffsetMismatch { .. } => (StatusCode::CONFLICT, "offset-mismatch"),
            BlobError::Overrun { .. } => (StatusCode::BAD_REQUEST, "upload-overrun"),
            BlobError::BrokenOff(_) => (StatusCode::BAD_REQUEST, "request-incomplete"),
            BlobError::Busy => (StatusCode::CONFLICT, "upload-busy"),
            BlobError::ChecksumMismatch => (CHECKSUM_MISMATCH, "checksum-mismatch"),
            BlobError::HashMismatch { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "blob-hash-mismatch")
            }
            BlobError::Image(ImageError::Unsupported(_)) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "image-unsupported")
            }
            BlobError::Image(ImageError::TooLarge { .. } | ImageError::TooMuchMemory { .. }) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "image-too-large")
            }
            BlobError::Image(ImageError::Damaged(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "image-damaged")
            }
            BlobError::TooManyUploads(_) => {
                return ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too-many-uploads", message)
                    .retry_after(3600);
            }
            BlobError::AtCapacity => {
                return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "upload-capacity", message)
                    .retry_after(600);
            }
            BlobError::Storage(cause) => {
                tracing::error!(error = %cause, "blob storage failure");
                return ApiError::internal();
            }
        };
        ApiError::new(status, code, message)
    }
}

/// tus's status for a chunk that does not match its checksum.
const CHECKSUM_MISMATCH: StatusCode = match StatusCode::from_u16(460) {
    Ok(status) => status,
    Err(_) => StatusCode::BAD_REQUEST,
};

impl From<SyncError> for ApiError {
    fn from(err: SyncError) -> ApiError {
        let message = err.to_string();
        let (status, code) = match &err {
            SyncError::DeviceUnknown => (StatusCode::NOT_FOUND, "device-unknown"),
            SyncError::DeviceNotYours => (StatusCode::FORBIDDEN, "device-not-yours"),
            SyncError::DeviceRevoked => (StatusCode::FORBIDDEN, "device-revoked"),
            SyncError::KeyEnrolled => (StatusCode::CONFLICT, "device-key-enrolled"),
            SyncError::KeyRefused => (StatusCode::FORBIDDEN, "device-key-refused"),
            SyncError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid-field"),
            SyncError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            SyncError::Storage(cause) => {
                tracing::error!(error = %cause, "storage failure");
                return ApiError::internal();
            }
        };
        ApiError::new(status, code, message)
    }
}

fn from_wechat(err: &WeChatError) -> ApiError {
    let message = err.to_string();
    match err {
        WeChatError::Busy => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "wechat-busy",
            "WeChat is busy; try again in a moment (微信系统繁忙)",
        )
        .retry_after(2),
        WeChatError::InvalidCode(_) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "wechat-invalid-code",
            "the WeChat login code is invalid, expired or already used; call wx.login() again for a new one",
        ),
        WeChatError::RateLimited => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "wechat-rate-limited",
            "WeChat is limiting logins for this user; wait a minute and try again",
        )
        .retry_after(60),
        WeChatError::Blocked => ApiError::new(
            StatusCode::FORBIDDEN,
            "wechat-user-blocked",
            "WeChat has blocked this account from logging in (高风险用户); it cannot be used here",
        ),
        WeChatError::Unreachable(_) => {
            tracing::warn!(error = %message, "WeChat unreachable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "wechat-unreachable",
                "WeChat could not be reached; try again shortly",
            )
            .retry_after(5)
        }
        WeChatError::Unexpected(_) => {
            tracing::warn!(error = %message, "WeChat answered unexpectedly");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "wechat-error",
                "WeChat answered in a way this server does not understand; the details are in the server log",
            )
        }
    }
}

/// Turns any error that reached the outside of the app into a response with the error body.
pub fn into_error_response(err: poem::Error) -> poem::Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let api_error = if err.is::<NotFoundError>() {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "there is no such path; the API is described at /docs",
        )
    } else if err.is::<MethodNotAllowedError>() {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "this path does not take this method; the API is described at /docs",
        )
    } else if let Some(payload) = err.downcast_ref::<ParseRequestPayloadError>() {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            format!(
                "the request body does not fit this operation: {}",
                payload.reason
            ),
        )
    } else if let Some(form) = err.downcast_ref::<ParseMultipartError>() {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            format!("the form does not fit this operation: {}", form.reason),
        )
    } else if let Some(param) = err.downcast_ref::<ParseParamError>() {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            format!(
                "the parameter `{}` is not valid: {}",
                param.name, param.reason
            ),
        )
    } else if let Some(path) = err.downcast_ref::<ParsePathError>() {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            format!("a parameter in the path is not valid: {}", path.reason),
        )
    } else if let Some(content_type) = err.downcast_ref::<ContentTypeError>() {
        let message = match content_type {
            ContentTypeError::NotSupported { content_type } => format!(
                "this operation does not take `{content_type}`: send JSON with `Content-Type: application/json` (the operations that take files say so at /docs)"
            ),
            ContentTypeError::ExpectContentType => {
                "the body must be `application/json`; send a `Content-Type: application/json` header".to_string()
            }
        };
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            message,
        )
    } else if err.is::<AuthorizationError>() {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "this needs a session: send `Authorization: Bearer <token>` with a token from POST /v1/auth/login",
        )
    } else if let Some(stalled) = err.downcast_ref::<BodyStalled>() {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body-stalled",
            stalled.to_string(),
        )
    } else if let Some(full) = err.downcast_ref::<crate::space::StorageFull>() {
        ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "storage-full",
            full.to_string(),
        )
    } else if let Some(busy) = err.downcast_ref::<ServerBusy>() {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server-busy",
            busy.to_string(),
        )
        .retry_after(busy.retry_after())
    } else if let Some(too_large) = err.downcast_ref::<BodyTooLarge>() {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            too_large.to_string(),
        )
    } else if err.status() == StatusCode::PAYLOAD_TOO_LARGE
        || matches!(
            err.downcast_ref::<ReadBodyError>(),
            Some(ReadBodyError::PayloadTooLarge)
        )
    {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "the request body is too large",
        )
    } else if err.status().is_client_error() {
        // A refusal from inside poem that has no variant of its own keeps its status.
        let body = Json(ErrorBody {
            code: "bad-request".to_string(),
            message: format!("the request was refused: {err}"),
        });
        return body.with_status(err.status()).into_response();
    } else {
        tracing::error!(error = %err, status = %err.status(), "unhandled error");
        ApiError::internal()
    };
    api_error.into_response()
}
