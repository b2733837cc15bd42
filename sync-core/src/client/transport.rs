//! The device's way to the server: JSON over HTTP with timeouts, and retries with exponential
//! backoff and full jitter for what is worth retrying (no connection, timeouts, 429, 5xx).
//! Requests are idempotent on the server's side (a replayed push returns the same receipts),
//! so retrying one whose answer was lost is safe.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::protocol::{PullResponse, PushRequest, PushResponse};

/// How hard to try.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Tries per request, the first included.
    pub attempts: u32,
    /// The first backoff; it doubles per retry.
    pub base: Duration,
    /// The longest backoff.
    pub max: Duration,
    /// The longest a single request may take.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(200),
            max: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The server could not be reached, or kept failing, after every retry.
    #[error("the server could not be reached after {attempts} tries: {last}")]
    Unreachable {
        /// Tries made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The server answered with an error body.
    #[error("the server answered {status} {code}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The stable error code.
        code: String,
        /// The message.
        message: String,
    },
    /// The answer was not what the protocol says.
    #[error("the server's answer does not fit the protocol: {0}")]
    Decode(String),
}

pub(super) struct Transport {
    http: reqwest::Client,
    base: String,
    token: Mutex<Option<String>>,
    retry: RetryPolicy,
}

fn jitter(max: Duration) -> Duration {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    let fraction = f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX);
    max.mul_f64(fraction)
}

impl Transport {
    pub(super) fn new(
        base: &str,
        token: Option<String>,
        retry: RetryPolicy,
    ) -> Result<Transport, super::ClientError> {
        let http = reqwest::Client::builder()
            .timeout(retry.timeout)
            .connect_timeout(retry.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|err| super::ClientError::Local(err.to_string()))?;
        Ok(Transport {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: Mutex::new(token),
            retry,
        })
    }

    pub(super) fn set_token(&self, token: Option<String>) {
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = token;
    }

    fn token(&self) -> Option<String> {
        self.token.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn send<T: DeserializeOwned>(
        &self,
        make: impl Fn(&reqwest::Client, Option<&str>) -> reqwest::RequestBuilder,
    ) -> Result<T, TransportError> {
        let token = self.token();
        let mut last = String::new();
        for attempt in 0..self.retry.attempts.max(1) {
            if attempt > 0 {
                let backoff = self
                    .retry
                    .base
                    .saturating_mul(1 << (attempt - 1).min(16))
                    .min(self.retry.max);
                tokio::time::sleep(jitter(backoff)).await;
            }
            let response = match make(&self.http, token.as_deref()).send().await {
                Ok(response) => response,
                Err(err) => {
                    last = err.without_url().to_string();
                    continue;
                }
            };
            let status = response.status();
            if status.as_u16() == 429 || status.is_server_error() {
                if let Some(wait) = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                {
                    tokio::time::sleep(Duration::from_secs(wait).min(self.retry.max)).await;
                }
                last = format!("HTTP {status}");
                continue;
            }
            let bytes = match response.bytes().await {
                Ok(bytes) => bytes,
                Err(err) => {
                    last = err.without_url().to_string();
                    continue;
                }
            };
            if !status.is_success() {
                let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                return Err(TransportError::Http {
                    status: status.as_u16(),
                    code: body["code"].as_str().unwrap_or_default().to_string(),
                    message: body["message"].as_str().unwrap_or_default().to_string(),
                });
            }
            return serde_json::from_slice(&bytes)
                .map_err(|err| TransportError::Decode(err.to_string()));
        }
        Err(TransportError::Unreachable {
            attempts: self.retry.attempts.max(1),
            last,
        })
    }

    pub(super) async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, TransportError> {
        let url = format!("{}{path}", self.base);
        self.send(|http, token| {
            let request = http.post(&url).json(body);
            match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
        })
        .await
    }

    pub(super) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, TransportError> {
        let url = format!("{}{path}", self.base);
        self.send(|http, token| {
            let request = http.get(&url);
            match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
        })
        .await
    }

    pub(super) async fn push(&self, request: &PushRequest) -> Result<PushResponse, TransportError> {
        self.post_json("/v1/sync/push", request).await
    }

    pub(super) async fn pull(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<PullResponse, TransportError> {
        let url = format!("{}/v1/sync/pull", self.base);
        let limit = limit.to_string();
        self.send(|http, token| {
            let mut query: Vec<(&str, &str)> = vec![("limit", limit.as_str())];
            if let Some(cursor) = cursor {
                query.push(("cursor", cursor));
            }
            let request = http.get(&url).query(&query);
            match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
        })
        .await
    }
}
