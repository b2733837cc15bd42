//! Health and metadata.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::error::ApiError;
use super::model::Health;
use super::{ApiTags, AppState};

/// Each readiness check and how it went.
#[derive(Debug, Object)]
pub struct Readiness {
    /// `ready`.
    pub status: String,
    /// `store` (the store takes a durable write), `reserve` (the disk's free space is above
    /// `storage.reserve_mb`), `blobs` (the blob directory takes a file): each `ok`.
    pub checks: Vec<ReadyCheck>,
}

/// One readiness check.
#[derive(Debug, Object)]
pub struct ReadyCheck {
    /// Its name.
    pub name: String,
    /// `ok`, or why not.
    pub result: String,
}

/// The `System` tag.
#[derive(Debug)]
pub struct SystemApi;

#[OpenApi(tag = "ApiTags::System")]
impl SystemApi {
    /// Whether the server is up (健康检查).
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Json<Health> {
        Json(Health {
            status: "ok".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        })
    }

    /// Whether the server can do its work (就绪检查): the store takes a durable write, the disk's
    /// free space is above its reserve, and the blob directory takes a file. Unready, it answers
    /// `503 not-ready` naming each check that failed; a load balancer stops sending it requests
    /// until it is ready again.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self, state: Data<&Arc<AppState>>) -> Result<Json<Readiness>, ApiError> {
        let health = state.health.clone();
        let now = u64::try_from(crate::store::model::UnixMillis::now().0).unwrap_or(0);
        let store = match tokio::task::spawn_blocking(move || health.heartbeat(now)).await {
            Ok(wrote) => wrote.map_err(|err| err.to_string()),
            Err(err) => Err(err.to_string()),
        };
        let blobs = state.blobs.ready().await;
        let reserve = state.space.check().map_err(|full| full.to_string());
        let checks = [("store", store), ("reserve", reserve), ("blobs", blobs)];
        let failed: Vec<String> = checks
            .iter()
            .filter_map(|(name, result)| result.as_ref().err().map(|why| format!("{name}: {why}")))
            .collect();
        if !failed.is_empty() {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                format!("not ready (未就绪): {}", failed.join("; ")),
            ));
        }
        Ok(Json(Readiness {
            status: "ready".to_string(),
            checks: checks
                .into_iter()
                .map(|(name, _)| ReadyCheck {
                    name: name.to_string(),
                    result: "ok".to_string(),
                })
                .collect(),
        }))
    }
}
