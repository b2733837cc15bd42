//! Devices and sync: enrol a device, push its signed events, pull the caller's buckets.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::admin::Created;
use super::error::ApiError;
use super::security::Auth;
use super::sync_model::{
    DeviceList, DeviceView, EnrolRequest, ForkList, ForkView, PullResponse, PushRequest,
    PushResponse, via_json,
};
use super::typed::TypedJson;
use super::{ApiTags, AppState};

/// The `Devices` tag.
#[derive(Debug)]
pub struct DevicesApi;

/// The `Sync` tag.
#[derive(Debug)]
pub struct SyncApi;

#[OpenApi(tag = "ApiTags::Devices")]
impl DevicesApi {
    /// Enrol this device (登记设备) for the logged-in user.
    ///
    /// The device makes an Ed25519 key pair, keeps the private key, and sends the public key.
    /// The returned `id` is the `device_id` of every event it signs.
    #[oai(path = "/v1/devices", method = "post", operation_id = "enrol_device")]
    async fn enrol(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<EnrolRequest>,
    ) -> Result<Created<DeviceView>, ApiError> {
        let device = state
            .sync
            .enrol(&auth.0, &body.0.public_key.0, &body.0.name.0)
            .await?;
        Ok(Created::Created(Json(DeviceView::from(&device))))
    }

    /// The caller's devices (设备列表); an admin sees every device, or one user's with `user_id`.
    #[oai(path = "/v1/devices", method = "get", operation_id = "list_devices")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// Only this user's devices (admin).
        user_id: Query<Option<Uuid>>,
    ) -> Result<Json<DeviceList>, ApiError> {
        let devices = state.sync.devices(&auth.0, user_id.0).await?;
        Ok(Json(DeviceList {
            devices: devices.iter().map(DeviceView::from).collect(),
        }))
    }

    /// A device's forks (设备分叉记录) (admin): events it signed that reused a `seq` already
    /// taken with other content, refused and kept for audit.
    #[oai(
        path = "/v1/admin/devices/:id/forks",
        method = "get",
        operation_id = "list_device_forks"
    )]
    async fn forks(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// The device.
        id: Path<Uuid>,
    ) -> Result<Json<ForkList>, ApiError> {
        let forks = state.sync.forks(&auth.0, id.0).await?;
        let forks = forks
            .iter()
            .map(|fork| {
                Ok(ForkView {
                    seq: fork.event.body.seq,
                    hash: fork.event.hash.clone(),
                    event: via_json(&fork.event)?,
                    refused_at: fork.refused_at.to_datetime(),
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(Json(ForkList { forks }))
    }

    /// Revoke a device (吊销设备) (admin): its pushes are refused from now on.
    #[oai(
        path = "/v1/admin/devices/:id/revoke",
        method = "post",
        operation_id = "revoke_device"
    )]
    async fn revoke(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// The device.
        id: Path<Uuid>,
    ) -> Result<Json<DeviceView>, ApiError> {
        let device = state.sync.revoke(&auth.0, id.0).await?;
        Ok(Json(DeviceView::from(&device)))
    }
}

#[OpenApi(tag = "ApiTags::Sync")]
impl SyncApi {
    /// Push a device's signed events (上传).
    ///
    /// Events are taken strictly in `seq` order. Each taken event gets a receipt with its
    /// verdict (`applied`, `conflict`, `quarantined`); all three advance the device. A replay of
    /// a taken event returns its receipt again. The push stops at the first event the server will
    /// not take (`refused`: a gap, a fork, a broken chain, a bad signature); the events before it
    /// are taken. Everything is on disk before the answer.
    #[oai(path = "/v1/sync/push", method = "post", operation_id = "push")]
    async fn push(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: TypedJson<PushRequest, anjian_sync::protocol::PushRequest>,
    ) -> Result<TypedJson<PushResponse, anjian_sync::protocol::PushResponse>, ApiError> {
        let response = state.sync.push(&auth.0, body.0).await?;
        for receipt in &response.receipts {
            state.metrics.pushed(receipt.verdict.name());
        }
        Ok(TypedJson::new(response))
    }

    /// Pull what changed in the caller's buckets (下载), a page at a time.
    ///
    /// Start without a cursor; pass each page's `next_cursor` to the next call; stage the pages
    /// and apply them together when a page says `complete` (a checkpoint, with bucket digests to
    /// check against). `reset` means: drop every projection (never unsent events) and pull again
    /// from `next_cursor`.
    #[oai(path = "/v1/sync/pull", method = "get", operation_id = "pull")]
    async fn pull(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// The previous page's `next_cursor`; absent for the first pull.
        cursor: Query<Option<String>>,
        /// Entities per page, 1 to 1000; a page also ends once its entities reach the server's
        /// `http.max_pull_page_bytes` (2 MiB by default), so it may hold fewer.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "1000"))
        )]
        limit: Query<u32>,
        /// A device of the caller's whose receipts to include.
        device_id: Query<Option<String>>,
        /// Include that device's receipts after this seq.
        #[oai(default)]
        receipts_after: Query<u64>,
    ) -> Result<TypedJson<PullResponse, anjian_sync::protocol::PullResponse<Box<RawValue>>>, ApiError>
    {
        let response = state
            .sync
            .pull(
                &auth.0,
                cursor.0.as_deref(),
                limit.0 as usize,
                device_id.0.as_deref(),
                receipts_after.0,
            )
            .await?;
        state.metrics.pull_pages.inc();
        // The entities are most of the page; the rest is a few hundred bytes per receipt or
        // bucket and the page's own members.
        let bytes = response
            .entities
            .iter()
            .map(|entity| entity.get().len() + 1)
            .sum::<usize>()
            + 256 * (response.receipts.len() + response.checkpoint.as_ref().map_or(0, Vec::len))
            + 1024;
        Ok(TypedJson::sized(response, bytes))
    }
}

fn default_limit() -> u32 {
    200
}
