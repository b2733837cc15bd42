//! Health and metadata.

use poem_openapi::OpenApi;
use poem_openapi::payload::Json;

use super::ApiTags;
use super::model::Health;

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
}
