//! What the API's operations mean, apart from how they travel.
//!
//! - [`accounts`]: users, logins, sessions, WeChat binding; the [`accounts::Accounts`] service.
//! - [`secrets`]: session tokens, invitation codes and password hashes.
//! - [`throttle`]: refusing repeated failed logins per username and per client address.
//! - [`wechat`]: the client for WeChat's `jscode2session`.
//!
//! Services take plain values and return domain types or a service error; they know nothing of
//! HTTP. Store calls block, so services run them on the blocking thread pool (`blocking`).

pub mod accounts;
pub mod blobs;
pub mod compliance;
pub mod dashboard;
pub mod directory;
pub mod due;
pub mod images;
pub mod office;
pub mod secrets;
// The push path judges what arrives from the network: its arithmetic is checked.
#[warn(clippy::arithmetic_side_effects)]
pub mod sync;
pub mod throttle;
pub mod wechat;

use crate::store::StoreError;

/// Runs a blocking store call off the async executor.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|err| StoreError::other(format!("a storage task failed: {err}")))?
}
