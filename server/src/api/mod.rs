//! The HTTP API: poem-openapi operations, one file per tag, combined here.
//!
//! Only this module knows the wire: request and response types live in [`model`], the one
//! error body in [`error`]. A handler reads in four steps: authenticate (the [`security::Auth`]
//! parameter), convert the request to service types, make one service call with `?`, wrap the
//! result. The spec is built from these types alone, without a database, so tests and
//! `anjian-server openapi` can print it.
//!
//! Outside the operations, [`routes`] adds the docs (`/docs`), the spec (`/openapi.json`,
//! `/openapi.yaml`), the JSON body limit, request logging, and the conversion of every
//! remaining failure into the error body.

pub mod admin;
pub mod auth;
pub mod blobs;
pub mod enterprises;
pub mod error;
pub mod model;
pub mod office;
pub mod public;
pub mod security;
pub mod sync;
pub mod sync_model;
pub mod system;
pub mod text;
pub mod typed;

use std::net::IpAddr;
use std::sync::Arc;

use poem::http::header;
use poem::middleware::Tracing;
use poem::{Endpoint, EndpointExt, Request, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::service::accounts::Accounts;
use crate::service::blobs::Blobs;
use crate::service::sync::SyncService;
use error::{BodyStalled, BodyTooLarge, ServerBusy};

/// What the operations reach through `Data<&Arc<AppState>>`.
#[derive(Debug)]
pub struct AppState {
    /// The accounts service.
    pub accounts: Accounts,
    /// The sync service.
    pub sync: SyncService,
    /// Photos and other blobs.
    pub blobs: Blobs,
    /// Whether the client address comes from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
}

impl AppState {
    /// The address a request came from, for login throttling.
    pub fn client_ip(&self, req: &Request) -> IpAddr {
        let forwarded = self
            .trust_forwarded_for
            .then(|| {
                req.headers()
                    .get("x-forwarded-for")?
                    .to_str()
                    .ok()?
                    .rsplit(',')
                    .next()?
                    .trim()
                    .parse()
                    .ok()
            })
            .flatten();
        forwarded
            .or_else(|| req.remote_addr().as_socket_addr().map(|addr| addr.ip()))
            .unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }
}

/// The API's tags, one per operation file.
#[derive(Debug, Tags)]
pub enum ApiTags {
    /// Health and metadata.
    System,
    /// Logging in and out (登录): password for web users, WeChat for the mini-program.
    Auth,
    /// Town safety office administration (安委办管理): users and invitations.
    Admin,
    /// Devices (设备) that capture offline: enrolment and revocation.
    Devices,
    /// The sync protocol (同步): push signed events, pull judged projections. See PROTOCOL.md.
    Sync,
    /// Enterprises (企业) the town supervises, kept by the safety office.
    Enterprises,
    /// Office lists (台账) for the web side: hazards, meetings, enterprises.
    Office,
    /// What anyone may read without logging in: published articles (宣传稿件).
    Public,
    /// Photos (照片) and other blobs: resumable uploads, thumbnails, evidence metadata.
    Blobs,
}

/// All operations.
pub type Api = (
    system::SystemApi,
    auth::AuthApi,
    admin::AdminApi,
    sync::DevicesApi,
    sync::SyncApi,
    enterprises::EnterprisesApi,
    office::OfficeApi,
    public::PublicApi,
    blobs::BlobsApi,
);

/// The OpenAPI service over all operations.
pub fn service() -> OpenApiService<Api, ()> {
    OpenApiService::new(
        (
            system::SystemApi,
            auth::AuthApi,
            admin::AdminApi,
            sync::DevicesApi,
            sync::SyncApi,
            enterprises::EnterprisesApi,
            office::OfficeApi,
            public::PublicApi,
            blobs::BlobsApi,
        ),
        "Anjian (安检) API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "The central server of Anjian, an offline-first field system for a town's work-safety \
         supervision (安全生产监管). Every error is a JSON body `{code, message}`: `code` is \
         stable and machine-readable, `message` says what to do.",
    )
}

/// The spec as YAML, as checked in at `openapi/openapi.yaml`.
pub fn spec_yaml() -> String {
    service().spec_yaml()
}

/// The body limits: JSON requests, and the bytes of a photo upload; and how many sync requests
/// are handled at once.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    /// Push and pull requests handled at once; more wait, unread. A push batch or a pull page
    /// is decoded into memory whole, so this bounds the memory many devices syncing together
    /// take; it costs no throughput, since the writes take turns anyway.
    pub concurrent_syncs: usize,
    /// Any request but an upload.
    pub json: usize,
    /// A request carrying a file (`/v1/uploads/…`, `POST /v1/blobs`): the largest file and room
    /// for a multipart form's framing.
    pub blob: usize,
    /// How long a body may send nothing before it is cut off.
    pub stall: std::time::Duration,
    /// Requests carrying files handled at once.
    pub concurrent_uploads: usize,
}

/// Every route of the server, with its middleware, over `state`.
pub fn routes(state: Arc<AppState>, limits: BodyLimits) -> impl Endpoint {
    let api = service();
    let syncs = Arc::new(tokio::sync::Semaphore::new(limits.concurrent_syncs.max(1)));
    let uploads = Arc::new(tokio::sync::Semaphore::new(
        limits.concurrent_uploads.max(1),
    ));
    let allowed = Arc::new(AllowedMethods::from_spec(&api.spec()));
    Route::new()
        .nest("/docs", api.swagger_ui())
        .at("/openapi.json", api.spec_endpoint())
        .at("/openapi.yaml", api.spec_endpoint_yaml())
        .nest("/", api)
        .around(move |ep, req| limit_body(ep, req, limits, uploads.clone()))
        .around(move |ep, req| take_turns(ep, req, syncs.clone()))
        .data(state)
        .with(Tracing)
        .catch_all_error(|err| async move { error::into_error_response(err) })
        .around(move |ep, req| allow_header(ep, req, allowed.clone()))
}

/// The methods each path of the spec takes, for the `Allow` header of a `405` (RFC 9110).
#[derive(Debug)]
struct AllowedMethods(Vec<(Vec<String>, String)>);

impl AllowedMethods {
    /// From the spec's `paths`: each path's segments (`{id}` matches any) and its methods.
    fn from_spec(spec: &str) -> AllowedMethods {
        let spec: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let paths = spec["paths"].as_object().cloned().unwrap_or_default();
        let routes = paths
            .iter()
            .map(|(path, operations)| {
                let mut methods: Vec<String> = operations
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_ascii_uppercase()).collect())
                    .unwrap_or_default();
                if methods.iter().any(|m| m == "GET") && !methods.iter().any(|m| m == "HEAD") {
                    methods.push("HEAD".into());
                }
                methods.sort();
                let segments = path.split('/').map(str::to_string).collect();
                (segments, methods.join(", "))
            })
            .collect();
        AllowedMethods(routes)
    }

    /// The methods `path` takes, if the spec has it.
    fn of(&self, path: &str) -> Option<&str> {
        let segments: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(template, _)| {
                template.len() == segments.len()
                    && template.iter().zip(&segments).all(|(t, s)| {
                        t == s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty())
                    })
            })
            .map(|(_, methods)| methods.as_str())
    }
}

/// Adds `Allow` to a `405`: the methods the path does take.
async fn allow_header<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    allowed: Arc<AllowedMethods>,
) -> poem::Result<poem::Response> {
    // The URI shares its bytes; the path is looked up only for the rare 405.
    let uri = req.uri().clone();
    let mut response = poem::IntoResponse::into_response(ep.call(req).await?);
    if response.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED {
        let methods = allowed.of(uri.path());
        if let Some(value) = methods.and_then(|m| header::HeaderValue::from_str(m).ok()) {
            response.headers_mut().insert(header::ALLOW, value);
        }
    }
    Ok(response)
}

/// How long an answer keeps its sync turn while it is sent: long enough for a phone on a fair
/// connection to take a page, short enough that one on a poor connection does not hold up the
/// others.
const TURN_WHILE_SENDING: std::time::Duration = std::time::Duration::from_secs(2);

/// Lets at most the gate's permits of push and pull requests in at once; the rest wait, their
/// bodies unread. A turn lasts while the answer is sent (up to [`TURN_WHILE_SENDING`]), so
/// that answers waiting for slow readers do not pile up in memory: a pull page is megabytes.
async fn take_turns<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    gate: Arc<tokio::sync::Semaphore>,
) -> poem::Result<poem::Response> {
    let sync = matches!(req.uri().path(), "/v1/sync/push" | "/v1/sync/pull");
    if !sync {
        return ep.call(req).await.map(poem::IntoResponse::into_response);
    }
    let permit = gate.acquire_owned().await.map_err(|_| {
        poem::Error::from_string(
            "the server is stopping",
            poem::http::StatusCode::SERVICE_UNAVAILABLE,
        )
    })?;
    let mut response = poem::IntoResponse::into_response(ep.call(req).await?);
    let (sent, sending) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        // Ends when the body is sent or dropped (the sender goes with it), or at the limit.
        let _ = tokio::time::timeout(TURN_WHILE_SENDING, sending).await;
        drop(permit);
    });
    let body = response.take_body().into_bytes().await?;
    // Sent in chunks, but framed by its length as a whole body would be.
    response.headers_mut().insert(
        header::CONTENT_LENGTH,
        header::HeaderValue::from(body.len()),
    );
    response.set_body(sent_in_chunks(body, sent));
    Ok(response)
}

/// A body that yields `bytes` in chunks and holds `guard` until the last one is taken.
fn sent_in_chunks<G: Send + 'static>(bytes: bytes::Bytes, guard: G) -> poem::Body {
    const CHUNK: usize = 256 * 1024;
    let chunks = futures_util::stream::unfold((bytes, Some(guard)), |(mut rest, guard)| async {
        if rest.is_empty() {
            return None;
        }
        let chunk = rest.split_to(rest.len().min(CHUNK));
        Some((Ok::<_, std::io::Error>(chunk), (rest, guard)))
    });
    poem::Body::from_bytes_stream(chunks)
}

/// Whether a request carries a file: an upload's chunk (`PATCH`, or `POST` with
/// `X-HTTP-Method-Override`) or the one-request photo form.
fn carries_file(req: &Request) -> bool {
    let path = req.uri().path();
    let post = req.method() == poem::http::Method::POST;
    (path.starts_with("/v1/uploads/") && (post || req.method() == poem::http::Method::PATCH))
        || (path == "/v1/blobs" && post)
}

/// Bounds every request body, whatever the transport (HTTP/1 with or without
/// `Content-Length`, chunked, or HTTP/2, where a body may come with neither): a declared length
/// over the limit is refused before anything is read, and every body is counted as it is read,
/// so one that grows past the limit is cut off there and answered `413`; a body that sends
/// nothing for `stall` is cut off and answered `408`. A JSON body without a declared length is
/// read here, within the limit, before the operation runs; a file is read by the operation as
/// it streams, never buffered whole. Requests carrying files take one of `uploads`' permits,
/// and get `503` with `Retry-After` when none is free.
async fn limit_body<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    limits: BodyLimits,
    uploads: Arc<tokio::sync::Semaphore>,
) -> poem::Result<poem::Response> {
    let file = carries_file(&req);
    let limit = if file { limits.blob } else { limits.json };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(BodyTooLarge { limit }.into());
    }
    let _permit = if file {
        Some(uploads.try_acquire_owned().map_err(|_| ServerBusy)?)
    } else {
        None
    };
    let (body, cut) = bounded(req.take_body(), limit, limits.stall);
    if file || declared.is_some() {
        req.set_body(body);
    } else {
        // An error here is a cut-off, answered below, or a broken connection.
        let read = body.into_bytes().await;
        cut.check(limit, limits.stall)?;
        req.set_body(read?);
    }
    let answer = ep.call(req).await;
    // The operation saw only an error from its body; say why the body was cut off.
    cut.check(limit, limits.stall)?;
    answer.map(poem::IntoResponse::into_response)
}

/// Why a bounded body was cut off, if it was.
#[derive(Debug, Default)]
struct Cut(std::sync::atomic::AtomicU8);

impl Cut {
    const TOO_LARGE: u8 = 1;
    const STALLED: u8 = 2;

    fn set(&self, why: u8) {
        self.0.store(why, std::sync::atomic::Ordering::Relaxed);
    }

    /// The error to answer with, when the body was cut off.
    fn check(&self, limit: usize, stall: std::time::Duration) -> poem::Result<()> {
        match self.0.load(std::sync::atomic::Ordering::Relaxed) {
            Cut::TOO_LARGE => Err(BodyTooLarge { limit }.into()),
            Cut::STALLED => Err(BodyStalled {
                secs: stall.as_secs(),
            }
            .into()),
            _ => Ok(()),
        }
    }
}

/// `body`, cut off with an error once more than `limit` bytes have come or nothing has come
/// for `stall`; the [`Cut`] says which.
fn bounded(body: poem::Body, limit: usize, stall: std::time::Duration) -> (poem::Body, Arc<Cut>) {
    use futures_util::StreamExt as _;
    let cut = Arc::new(Cut::default());
    let chunks = Box::pin(body.into_bytes_stream());
    let state = (chunks, 0usize, cut.clone());
    let counted = futures_util::stream::unfold(state, move |(mut chunks, seen, cut)| async move {
        if seen > limit {
            return None;
        }
        let why = match tokio::time::timeout(stall, chunks.next()).await {
            Err(_) => Cut::STALLED,
            Ok(None) => return None,
            Ok(Some(Err(err))) => return Some((Err(err), (chunks, usize::MAX, cut))),
            Ok(Some(Ok(chunk))) => {
                let seen = seen.saturating_add(chunk.len());
                if seen <= limit {
                    return Some((Ok(chunk), (chunks, seen, cut)));
                }
                Cut::TOO_LARGE
            }
        };
        cut.set(why);
        let err = std::io::Error::other("the request body was cut off");
        Some((Err(err), (chunks, usize::MAX, cut)))
    });
    (poem::Body::from_bytes_stream(counted), cut)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    /// The checked-in spec must be exactly what the code generates.
    #[test]
    fn checked_in_spec_matches_the_code() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.yaml");
        let generated = super::spec_yaml();
        if std::env::var_os("UPDATE_SPEC").is_some() {
            std::fs::write(&path, &generated).unwrap();
            return;
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        if checked_in != generated {
            let diff = similar::TextDiff::from_lines(&checked_in, &generated);
            panic!(
                "openapi/openapi.yaml differs from the spec the code generates:\n{}\n\
                 If the change is intended, rewrite the file with:\n    \
                 UPDATE_SPEC=1 cargo test -p anjian-server checked_in_spec_matches_the_code",
                diff.unified_diff()
                    .header("openapi/openapi.yaml (checked in)", "generated")
            );
        }
    }

    /// The spec names every event kind the judgement knows.
    #[test]
    fn the_spec_names_every_event_kind() {
        let spec: serde_json::Value = serde_json::from_str(&super::service().spec()).unwrap();
        let kind = spec["components"]["schemas"]["Event"]["properties"]["kind"]["description"]
            .as_str()
            .unwrap();
        for name in anjian_sync::judge::KINDS {
            assert!(
                kind.contains(&format!("`{name}`")),
                "{name} is not in: {kind}"
            );
        }
    }

    /// Every operation has a tag, a summary with the Chinese term beside the English one, and an
    /// operation id.
    #[test]
    fn every_operation_is_documented() {
        let spec: serde_json::Value = serde_json::from_str(&super::service().spec()).unwrap();
        let paths = spec["paths"].as_object().unwrap();
        assert!(!paths.is_empty());
        for (path, methods) in paths {
            for (method, operation) in methods.as_object().unwrap() {
                let what = format!("{method} {path}");
                let summary = operation["summary"].as_str().unwrap_or_default();
                assert!(
                    summary
                        .chars()
                        .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                    "{what}: the summary names no Chinese term: {summary}"
                );
                assert!(
                    operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
                    "{what} has no tag"
                );
                assert!(
                    operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                    "{what} has no summary"
                );
                assert!(
                    operation["operationId"]
                        .as_str()
                        .is_some_and(|s| !s.is_empty()),
                    "{what} has no operation_id"
                );
            }
        }
    }
}
