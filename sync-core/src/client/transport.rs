//! The device's way to the server: JSON over HTTP with timeouts, and retries with exponential
//! backoff and full jitter for what is worth retrying (no connection, timeouts, 429, 5xx).
//! Requests are idempotent on the server's side (a replayed push returns the same receipts),
//! so retrying one whose answer was lost is safe.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::protocol::{PushRequest, PushResponse};

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
    /// How long a server that answers busy (`503` with `Retry-After`: its queue is full) is
    /// waited out without those answers counting as tries. Each wait is what it asks, up to
    /// `max`, and then up to as long again at random, so devices turned away together come
    /// back apart.
    pub busy_for: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(200),
            max: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            busy_for: Duration::from_secs(300),
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

/// A pull page as it arrives, its entities kept as the server wrote them: the device stores
/// those bytes, reading only what it needs of each (see `local::Head`).
#[derive(serde::Deserialize)]
pub(super) struct PullPage {
    /// As in [`crate::protocol::PullResponse`].
    pub reset: bool,
    /// The projections, as JSON text.
    pub entities: Vec<Box<serde_json::value::RawValue>>,
    /// As in [`crate::protocol::PullResponse`].
    pub next_cursor: String,
    /// As in [`crate::protocol::PullResponse`].
    pub complete: bool,
    /// As in [`crate::protocol::PullResponse`].
    pub checkpoint: Option<Vec<crate::protocol::BucketState>>,
    /// As in [`crate::protocol::PullResponse`].
    #[serde(default)]
    pub device_seq: Option<u64>,
}

/// A successful answer.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: bytes::Bytes,
}

impl Answer {
    fn header_u64(&self, name: &str) -> Option<u64> {
        self.headers.get(name)?.to_str().ok()?.parse().ok()
    }
}

/// What creating an upload gave.
pub(super) enum NewUpload {
    /// The server holds the file already.
    Exists,
    /// Send the bytes here (a path on the server).
    At(String),
}

/// What an append gave.
pub(super) enum AppendOutcome {
    /// The upload holds this many bytes.
    Continue(u64),
    /// The file is complete and stored.
    Stored,
}

/// What a device has sent and received: requests (every try counts) and body bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// HTTP requests sent.
    pub requests: u64,
    /// Request body bytes sent.
    pub bytes_sent: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
}

pub(super) struct Transport {
    traffic: Mutex<Traffic>,
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
            traffic: Mutex::new(Traffic::default()),
            http,
            base: base.trim_end_matches('/').to_string(),
            token: Mutex::new(token),
            retry,
        })
    }

    fn count(&self, change: impl FnOnce(&mut Traffic)) {
        change(&mut self.traffic.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// What was sent and received so far.
    pub(super) fn traffic(&self) -> Traffic {
        *self.traffic.lock().unwrap_or_else(|p| p.into_inner())
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
        let answer = self.exchange(make).await?;
        serde_json::from_slice(&answer.body).map_err(|err| TransportError::Decode(err.to_string()))
    }

    /// Sends a request (made afresh for each try) and returns a successful answer; retries what
    /// is worth retrying, and turns an error answer into [`TransportError::Http`].
    async fn exchange(
        &self,
        make: impl Fn(&reqwest::Client, Option<&str>) -> reqwest::RequestBuilder,
    ) -> Result<Answer, TransportError> {
        let token = self.token();
        let mut last = String::new();
        let mut busy_since: Option<std::time::Instant> = None;
        let mut attempt = 0;
        // Each pass is a try, or a busy answer waited out within `busy_for`: bounded either way.
        while attempt < self.retry.attempts.max(1) {
            let retried = attempt > 0;
            attempt += 1;
            if retried {
                let backoff = self
                    .retry
                    .base
                    .saturating_mul(1 << (attempt - 1).min(16))
                    .min(self.retry.max);
                tokio::time::sleep(jitter(backoff)).await;
            }
            let request = match make(&self.http, token.as_deref()).build() {
                Ok(request) => request,
                Err(err) => {
                    last = err.without_url().to_string();
                    continue;
                }
            };
            let sent = request
                .body()
                .and_then(reqwest::Body::as_bytes)
                .map_or(0, |b| b.len() as u64);
            self.count(|t| {
                t.requests += 1;
                t.bytes_sent += sent;
            });
            let response = match self.http.execute(request).await {
                Ok(response) => response,
                Err(err) => {
                    last = err.without_url().to_string();
                    continue;
                }
            };
            let status = response.status();
            let response_headers = response.headers().clone();
            if status.as_u16() == 429 || status.is_server_error() {
                last = format!("HTTP {status}");
                let Some(wait) = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                    .map(|secs| Duration::from_secs(secs).min(self.retry.max))
                else {
                    continue;
                };
                // Busy is the server's queue full (`server-busy`), not any other 503.
                let busy = status.as_u16() == 503
                    && response.bytes().await.is_ok_and(|body| {
                        serde_json::from_slice::<serde_json::Value>(&body)
                            .is_ok_and(|v| v["code"] == "server-busy")
                    });
                if !busy {
                    tokio::time::sleep(wait).await;
                    continue;
                }
                let since = *busy_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() < self.retry.busy_for {
                    // Busy: not a try. The wait is taken here, not the backoff.
                    attempt -= 1;
                    tokio::time::sleep(wait + jitter(wait)).await;
                    last = format!("HTTP {status} (busy)");
                    continue;
                }
                tokio::time::sleep(wait).await;
                continue;
            }
            let bytes = match response.bytes().await {
                Ok(bytes) => bytes,
                Err(err) => {
                    last = err.without_url().to_string();
                    continue;
                }
            };
            let received = bytes.len() as u64;
            self.count(|t| t.bytes_received += received);
            if !status.is_success() {
                let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                return Err(TransportError::Http {
                    status: status.as_u16(),
                    code: body["code"].as_str().unwrap_or_default().to_string(),
                    message: body["message"].as_str().unwrap_or_default().to_string(),
                });
            }
            return Ok(Answer {
                status: status.as_u16(),
                headers: response_headers,
                body: bytes,
            });
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

    /// A pull page; with `device` (its id and acknowledged `seq`), the server also says where
    /// that device's chain ends there.
    pub(super) async fn pull(
        &self,
        cursor: Option<String>,
        limit: usize,
        device: Option<(&str, u64)>,
    ) -> Result<PullPage, TransportError> {
        let url = format!("{}/v1/sync/pull", self.base);
        let limit = limit.to_string();
        let acked = device.map(|(_, seq)| seq.to_string());
        self.send(|http, token| {
            let mut query: Vec<(&str, &str)> = vec![("limit", limit.as_str())];
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor));
            }
            if let (Some((id, _)), Some(acked)) = (device, &acked) {
                query.push(("device_id", id));
                query.push(("receipts_after", acked));
            }
            let request = http.get(&url).query(&query);
            match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
        })
        .await
    }

    fn authorized(
        &self,
        request: reqwest::RequestBuilder,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Whether the server holds the blob.
    pub(super) async fn blob_exists(&self, sha256: &str) -> Result<bool, TransportError> {
        let url = format!("{}/v1/blobs/{sha256}", self.base);
        match self
            .exchange(|http, token| self.authorized(http.head(&url), token))
            .await
        {
            Ok(_) => Ok(true),
            Err(TransportError::Http { status: 404, .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Creates an upload of `length` bytes with this sha256 (`POST /v1/uploads`).
    pub(super) async fn create_upload(
        &self,
        length: u64,
        sha256: &str,
    ) -> Result<NewUpload, TransportError> {
        use base64::Engine as _;
        let url = format!("{}/v1/uploads", self.base);
        let metadata = format!(
            "sha256 {}",
            base64::engine::general_purpose::STANDARD.encode(sha256)
        );
        let answer = self
            .exchange(|http, token| {
                let request = http
                    .post(&url)
                    .header("Tus-Resumable", "1.0.0")
                    .header("Upload-Length", length)
                    .header("Upload-Metadata", &metadata);
                self.authorized(request, token)
            })
            .await?;
        if answer.status == 200 {
            return Ok(NewUpload::Exists);
        }
        answer
            .headers
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(|l| NewUpload::At(l.to_string()))
            .ok_or_else(|| TransportError::Decode("a created upload has no Location".into()))
    }

    /// How many bytes the upload at `location` holds; `None` when it is gone (expired).
    pub(super) async fn upload_offset(
        &self,
        location: &str,
    ) -> Result<Option<u64>, TransportError> {
        let url = format!("{}{location}", self.base);
        match self
            .exchange(|http, token| {
                self.authorized(http.head(&url).header("Tus-Resumable", "1.0.0"), token)
            })
            .await
        {
            Ok(answer) => answer
                .header_u64("upload-offset")
                .map(Some)
                .ok_or_else(|| TransportError::Decode("no Upload-Offset".into())),
            Err(TransportError::Http {
                status: 404 | 410, ..
            }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Appends `chunk` at `offset` to the upload at `location`, with its checksum.
    pub(super) async fn append(
        &self,
        location: &str,
        offset: u64,
        chunk: bytes::Bytes,
    ) -> Result<AppendOutcome, TransportError> {
        use base64::Engine as _;
        use sha2::Digest as _;
        let url = format!("{}{location}", self.base);
        let checksum = format!(
            "sha256 {}",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&chunk))
        );
        let answer = self
            .exchange(|http, token| {
                let request = http
                    .patch(&url)
                    .header("Tus-Resumable", "1.0.0")
                    .header("Upload-Offset", offset)
                    .header("Upload-Checksum", &checksum)
                    .header("Content-Type", "application/offset+octet-stream")
                    .body(chunk.clone());
                self.authorized(request, token)
            })
            .await?;
        if answer.status == 200 {
            return Ok(AppendOutcome::Stored);
        }
        answer
            .header_u64("upload-offset")
            .map(AppendOutcome::Continue)
            .ok_or_else(|| TransportError::Decode("no Upload-Offset".into()))
    }
}
