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
pub mod failures;
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
    /// The reverse proxies whose forwarding headers are believed.
    pub proxies: crate::proxy::TrustedProxies,
    /// Error answers the spec does not list for their operation.
    pub undeclared: Arc<failures::Undeclared>,
    /// The store's health: whether it takes a durable write.
    pub health: Arc<dyn crate::store::HealthStore>,
    /// The disk's reserve.
    pub space: Arc<crate::space::Space>,
    /// Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Who may read them.
    pub metrics_access: crate::config::MetricsSettings,
}

impl AppState {
    /// The address a request came from, for login throttling: the peer, or the client a
    /// trusted proxy names.
    pub fn client_ip(&self, req: &Request) -> IpAddr {
        self.proxies.origin(req).client
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

/// The spec: what the operations generate, with each operation's error responses listed by
/// [`failures::document`], and every object a request carries closed to members it does not
/// name, as the server reads them (`deny_unknown_fields`).
pub fn spec() -> serde_json::Value {
    documented(&service().spec())
}

/// The spec poem-openapi `generated`, documented as [`spec`] says.
fn documented(generated: &str) -> serde_json::Value {
    let mut spec = failures::document(generated);
    for name in request_objects(&spec) {
        spec["components"]["schemas"][&name]["additionalProperties"] = false.into();
    }
    spec
}

/// The docs page (Swagger UI) showing `served`: poem-openapi embeds the spec it `generated`
/// in the page, and that is swapped for the one the server serves.
fn docs_page(api: &OpenApiService<Api, ()>, generated: &str, served: &str) -> String {
    api.swagger_ui_html().replacen(generated, served, 1)
}

/// The names of the object schemas a request body carries, at any depth.
fn request_objects(spec: &serde_json::Value) -> std::collections::BTreeSet<String> {
    fn refs(
        value: &serde_json::Value,
        schemas: &serde_json::Value,
        seen: &mut std::collections::BTreeSet<String>,
    ) {
        match value {
            serde_json::Value::Object(members) => {
                for (key, member) in members {
                    match member
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    {
                        Some(name) if key == "$ref" => {
                            if seen.insert(name.to_string()) {
                                refs(&schemas[name], schemas, seen);
                            }
                        }
                        _ => refs(member, schemas, seen),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| refs(i, schemas, seen)),
            _ => {}
        }
    }
    let schemas = &spec["components"]["schemas"];
    let mut seen = std::collections::BTreeSet::new();
    for operations in spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for operation in operations.as_object().into_iter().flat_map(|o| o.values()) {
            refs(&operation["requestBody"], schemas, &mut seen);
        }
    }
    seen.retain(|name| schemas[name]["type"] == "object");
    seen
}

/// The spec as YAML, as checked in at `openapi/openapi.yaml`.
pub fn spec_yaml() -> String {
    serde_yaml::to_string(&spec()).unwrap_or_default()
}

/// The body limits: JSON requests, and the bytes of a photo upload; and how many sync requests
/// are handled at once.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    /// Push and pull requests handled at once; more wait, their bodies read (within `json`)
    /// but not decoded. A push batch or a pull page is decoded into memory whole, so this
    /// bounds the memory many devices syncing together take; it costs no throughput, since the
    /// writes take turns anyway.
    pub concurrent_syncs: usize,
    /// Push and pull requests that may wait for a turn, their bodies read, beyond those
    /// handled. A place is taken before the body is read, so the bodies the server holds are at
    /// most (`concurrent_syncs` + this) × `json`, however many devices sync at once.
    pub waiting_syncs: usize,
    /// How long a push or pull may wait, its body unread, for one of those places; one that
    /// waits longer is answered `503` with `Retry-After`. `0` answers it at once.
    pub queue_wait: std::time::Duration,
    /// Push and pull requests that may wait for a place at once; one more is answered `503` at
    /// once. Each holds only its request's head.
    pub queued_syncs: usize,
    /// Any request but an upload.
    pub json: usize,
    /// A request carrying a file (`/v1/uploads/…`, `POST /v1/blobs`): the largest file and room
    /// for a multipart form's framing.
    pub blob: usize,
    /// How long a body may send nothing before it is cut off.
    pub stall: std::time::Duration,
    /// Bytes a second a body must average once it has been arriving for `stall`.
    pub min_rate: u64,
    /// Requests carrying files handled at once.
    pub concurrent_uploads: usize,
}

/// Every route of the server, with its middleware, over `state`.
pub fn routes(state: Arc<AppState>, limits: BodyLimits) -> impl Endpoint {
    let api = service();
    let syncs = Arc::new(tokio::sync::Semaphore::new(limits.concurrent_syncs.max(1)));
    let places = Arc::new(tokio::sync::Semaphore::new(
        limits
            .concurrent_syncs
            .max(1)
            .saturating_add(limits.waiting_syncs),
    ));
    let queue = Arc::new(tokio::sync::Semaphore::new(limits.queued_syncs.max(1)));
    let uploads = Arc::new(tokio::sync::Semaphore::new(
        limits.concurrent_uploads.max(1),
    ));
    let generated = api.spec();
    let spec = documented(&generated);
    let json = serde_json::to_string_pretty(&spec).unwrap_or_default();
    let yaml = serde_yaml::to_string(&spec).unwrap_or_default();
    let docs = docs_page(&api, &generated, &json);
    let answers = Arc::new(failures::SpecRoutes::from_spec(&spec));
    let undeclared = state.undeclared.clone();
    let space = state.space.clone();
    let metrics = state.metrics.clone();
    let operations = answers.clone();
    let waiting = state.metrics.clone();
    let receiving = state.metrics.clone();
    Route::new()
        .at(
            "/docs",
            poem::endpoint::make_sync(move |_| poem::web::Html(docs.clone())),
        )
        .at("/openapi.json", spec_file(json, "application/json"))
        .at("/openapi.yaml", spec_file(yaml, "application/x-yaml"))
        .at("/metrics", poem::get(metrics_page))
        .nest_no_strip("/console", crate::console::routes())
        .nest("/", api)
        .around(move |ep, req| take_turns(ep, req, syncs.clone(), waiting.clone()))
        .around(move |ep, req| limit_body(ep, req, limits, uploads.clone(), receiving.clone()))
        .around(move |ep, req| hold_place(ep, req, places.clone(), queue.clone(), limits))
        .around(move |ep, req| keep_reserve(ep, req, space.clone()))
        .data(state)
        .with(Tracing)
        .catch_all_error(|err| async move { error::into_error_response(err) })
        .around(move |ep, req| held_to_spec(ep, req, answers.clone(), undeclared.clone()))
        .around(move |ep, req| measure(ep, req, operations.clone(), metrics.clone()))
}

/// Counts every answer by its operation and status, and times it.
async fn measure<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    operations: Arc<failures::SpecRoutes>,
    metrics: Arc<crate::metrics::Metrics>,
) -> poem::Result<poem::Response> {
    let started = std::time::Instant::now();
    let path = req.uri().path();
    let operation = match operations.operation_id(req.method().as_str(), path) {
        Some(id) => id.to_string(),
        None if path.starts_with("/console") => "console".to_string(),
        None => "other".to_string(),
    };
    let response = poem::IntoResponse::into_response(ep.call(req).await?);
    metrics.answered(&operation, response.status().as_u16(), started.elapsed());
    Ok(response)
}

/// `GET /metrics`: the Prometheus text, when `metrics.enabled`, to a scraper with the token (or,
/// without one configured, on this machine); `404` otherwise, so a closed page says nothing.
#[poem::handler]
fn metrics_page(req: &Request, state: poem::web::Data<&Arc<AppState>>) -> poem::Response {
    use secrecy::ExposeSecret as _;
    use subtle::ConstantTimeEq as _;
    let access = &state.metrics_access;
    let token = access.token.expose_secret();
    let allowed = access.enabled
        && if token.is_empty() {
            state.proxies.origin(req).local()
        } else {
            req.headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(token.as_bytes())))
        };
    if !allowed {
        return poem::Response::builder()
            .status(poem::http::StatusCode::NOT_FOUND)
            .finish();
    }
    poem::Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}

/// An endpoint answering with the spec as `content_type`.
fn spec_file(text: String, content_type: &'static str) -> impl Endpoint {
    poem::endpoint::make_sync(move |_| {
        poem::Response::builder()
            .content_type(content_type)
            .body(text.clone())
    })
}

/// Paths whose writes go on when the disk is nearly full: signing in and out.
const UNGUARDED_PATHS: &[&str] = &[
    "/v1/auth/login",
    "/v1/auth/wechat",
    "/v1/auth/logout",
    "/console/login",
    "/console/logout",
];

/// Refuses a write with `507 storage-full` while the disk's free space is under the reserve,
/// before its body is read; reads go on.
async fn keep_reserve<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    space: Arc<crate::space::Space>,
) -> poem::Result<poem::Response> {
    if failures::is_write(req.method().as_str()) && !UNGUARDED_PATHS.contains(&req.uri().path()) {
        if let Err(full) = space.check() {
            if req.uri().path().starts_with("/console") {
                // A person at the console gets a page, not the API's JSON.
                return Ok(crate::console::storage_full_page(&full.to_string()));
            }
            return Err(poem::Error::new(
                full,
                poem::http::StatusCode::INSUFFICIENT_STORAGE,
            ));
        }
    }
    Ok(poem::IntoResponse::into_response(ep.call(req).await?))
}

/// Holds every error answer to the spec: adds `Allow` to a `405` (RFC 9110), and notes (and
/// logs) an error its operation's spec does not list.
async fn held_to_spec<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    answers: Arc<failures::SpecRoutes>,
    undeclared: Arc<failures::Undeclared>,
) -> poem::Result<poem::Response> {
    // The URI shares its bytes; the path is looked at only for an error.
    let uri = req.uri().clone();
    let method = req.method().clone();
    let mut response = poem::IntoResponse::into_response(ep.call(req).await?);
    let status = response.status();
    if status.as_u16() < 400 {
        return Ok(response);
    }
    if status == poem::http::StatusCode::METHOD_NOT_ALLOWED {
        let methods = answers.allow(uri.path());
        if let Some(value) = methods.and_then(|m| header::HeaderValue::from_str(&m).ok()) {
            response.headers_mut().insert(header::ALLOW, value);
        }
        return Ok(response);
    }
    // An error body is small: read, looked at, and put back.
    let body = response.take_body().into_bytes().await?;
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|b| Some(b.get("code")?.as_str()?.to_string()));
    let (path, status) = (uri.path(), status.as_u16());
    if let Err(operation) = answers.check(method.as_str(), path, status, code.as_deref()) {
        let code = code.unwrap_or_default();
        tracing::error!(%operation, status, %code, "answered an error the spec does not list for this operation");
        undeclared.note(format!("{method} {path} ({operation}) → {status} {code}"));
    }
    response.set_body(body);
    Ok(response)
}

/// How long an answer keeps its sync turn while it is sent: long enough for a phone on a fair
/// connection to take a page, short enough that one on a poor connection does not hold up the
/// others.
const TURN_WHILE_SENDING: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether a request is a push or a pull, which take turns.
fn is_sync(req: &Request) -> bool {
    matches!(req.uri().path(), "/v1/sync/push" | "/v1/sync/pull")
}

/// Gives a push or pull one of `places` before its body is read, and holds it until its answer
/// is made. A place is a turn ([`take_turns`]) or a wait for one, so memory for bodies is bounded
/// by the places, not by how many devices sync at once. Without a free place, the request waits
/// for one in line (first come, first served), its body unread, for up to `queue_wait`; one that
/// waits longer, or that finds `queued_syncs` already in line, is answered `503` `server-busy`
/// with `Retry-After`, its body still unread. A device that waits in line is served as soon as
/// a place frees, rather than coming back at a guess.
///
/// A place is for a session: the bearer token is checked first, and a request whose token is
/// refused is answered as the operation would answer it (`401`, `403`), its body unread; one
/// without a token takes no place and is refused by the operation. So connections without a
/// session, however slowly they send, cannot fill the queue.
///
/// A request cancelled while in line (an HTTP/2 stream reset) leaves it at once. A client that
/// closes its HTTP/1 connection is noticed only when its wait ends, since nothing is read from a
/// connection whose request body is unread: the line is bounded in time for that reason too.
async fn hold_place<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    places: Arc<tokio::sync::Semaphore>,
    queue: Arc<tokio::sync::Semaphore>,
    limits: BodyLimits,
) -> poem::Result<poem::Response> {
    let _place = match (is_sync(&req), bearer(&req), req.data::<Arc<AppState>>()) {
        (true, Some(token), Some(state)) => {
            state
                .accounts
                .authenticate(token)
                .await
                .map_err(error::ApiError::from)?;
            Some(
                take_place(
                    places,
                    &queue,
                    limits.queue_wait,
                    &state.metrics.syncs_in_line,
                )
                .await?,
            )
        }
        _ => None,
    };
    ep.call(req).await.map(poem::IntoResponse::into_response)
}

/// One of `places`: free now, or the first to free within `wait` while one of `queue`'s
/// permits is held (and counted in `in_line`); `server-busy` otherwise.
async fn take_place(
    places: Arc<tokio::sync::Semaphore>,
    queue: &tokio::sync::Semaphore,
    wait: std::time::Duration,
    in_line: &prometheus_client::metrics::gauge::Gauge,
) -> Result<tokio::sync::OwnedSemaphorePermit, ServerBusy> {
    if let Ok(place) = places.clone().try_acquire_owned() {
        return Ok(place);
    }
    let _in_line = queue.try_acquire().map_err(|_| ServerBusy::Syncs)?;
    let _counted = crate::metrics::Counted::new(in_line);
    match tokio::time::timeout(wait, places.acquire_owned()).await {
        Ok(Ok(place)) => Ok(place),
        _ => Err(ServerBusy::Syncs),
    }
}

/// The token of an `Authorization: Bearer …` header.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Lets at most the gate's permits of push and pull requests in at once; the rest wait. A
/// request's body has been read by then ([`limit_body`]), so a slow sender holds no turn. A
/// turn lasts while the answer is sent (up to [`TURN_WHILE_SENDING`]), so
/// that answers waiting for slow readers do not pile up in memory: a pull page is megabytes.
async fn take_turns<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    gate: Arc<tokio::sync::Semaphore>,
    metrics: Arc<crate::metrics::Metrics>,
) -> poem::Result<poem::Response> {
    if !is_sync(&req) {
        return ep.call(req).await.map(poem::IntoResponse::into_response);
    }
    let waiting = crate::metrics::Counted::new(&metrics.waiting_syncs);
    let permit = gate.acquire_owned().await;
    drop(waiting);
    let permit = permit.map_err(|_| {
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
/// over the limit is refused before anything is read, and every body is counted and timed as it
/// is read ([`bounded`]), so one that grows past the limit is cut off there and answered `413`,
/// and one that sends nothing for `stall`, or arrives slower than `min_rate`, is cut off and
/// answered `408`. Any body but a file is read here, before the operation runs and before a
/// sync request waits for its turn, so a slow sender holds no turn; a file is read by the
/// operation as it streams, never buffered whole. Requests carrying files take one of
/// `uploads`' permits, and get `503` with `Retry-After` when none is free.
async fn limit_body<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    limits: BodyLimits,
    uploads: Arc<tokio::sync::Semaphore>,
    metrics: Arc<crate::metrics::Metrics>,
) -> poem::Result<poem::Response> {
    let file = carries_file(&req);
    let pace = Pace {
        limit: if file { limits.blob } else { limits.json },
        stall: limits.stall,
        min_rate: limits.min_rate,
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > pace.limit as u64) {
        return Err(BodyTooLarge { limit: pace.limit }.into());
    }
    let _permit = if file {
        let permit = uploads
            .try_acquire_owned()
            .map_err(|_| ServerBusy::Uploads)?;
        Some(Receiving::new(permit, &metrics))
    } else {
        None
    };
    let (body, cut) = bounded(req.take_body(), pace);
    if file {
        req.set_body(body);
    } else {
        // An error here is a cut-off, answered below, or a broken connection.
        let read = body.into_bytes().await;
        cut.check(pace)?;
        req.set_body(read?);
    }
    let answer = ep.call(req).await;
    // The operation saw only an error from its body; say why the body was cut off.
    cut.check(pace)?;
    answer.map(poem::IntoResponse::into_response)
}

/// An upload being received: holds its place, and counts in the metrics until dropped.
struct Receiving {
    _permit: tokio::sync::OwnedSemaphorePermit,
    _counted: crate::metrics::Counted,
}

impl Receiving {
    fn new(permit: tokio::sync::OwnedSemaphorePermit, metrics: &crate::metrics::Metrics) -> Self {
        Receiving {
            _permit: permit,
            _counted: crate::metrics::Counted::new(&metrics.uploads),
        }
    }
}

/// How a body may arrive: at most `limit` bytes, never silent for `stall`, and, once it has
/// been arriving for `stall`, at `min_rate` bytes a second on average.
#[derive(Clone, Copy, Debug)]
struct Pace {
    limit: usize,
    stall: std::time::Duration,
    min_rate: u64,
}

/// Why a bounded body was cut off, if it was.
#[derive(Debug, Default)]
struct Cut(std::sync::atomic::AtomicU8);

impl Cut {
    const TOO_LARGE: u8 = 1;
    const STALLED: u8 = 2;
    const TOO_SLOW: u8 = 3;

    fn set(&self, why: u8) {
        self.0.store(why, std::sync::atomic::Ordering::Relaxed);
    }

    /// The error to answer with, when the body was cut off.
    fn check(&self, pace: Pace) -> poem::Result<()> {
        match self.0.load(std::sync::atomic::Ordering::Relaxed) {
            Cut::TOO_LARGE => Err(BodyTooLarge { limit: pace.limit }.into()),
            Cut::STALLED => Err(BodyStalled(format!(
                "the request body sent nothing for {} s and was cut off; send it again",
                pace.stall.as_secs()
            ))
            .into()),
            Cut::TOO_SLOW => Err(BodyStalled(format!(
                "the request body arrived slower than {} bytes a second and was cut off; send it again over a better connection",
                pace.min_rate
            ))
            .into()),
            _ => Ok(()),
        }
    }
}

/// Where the reading of a bounded body stands.
struct Reading<S> {
    chunks: S,
    /// Bytes so far; `usize::MAX` once the body is cut off or broken.
    seen: usize,
    /// When the last chunk came (or the reading began).
    last: tokio::time::Instant,
    cut: Arc<Cut>,
}

/// `body`, cut off with an error once it breaks `pace`; the [`Cut`] says how.
fn bounded(body: poem::Body, pace: Pace) -> (poem::Body, Arc<Cut>) {
    use futures_util::StreamExt as _;
    let cut = Arc::new(Cut::default());
    let start = tokio::time::Instant::now();
    let reading = Reading {
        chunks: Box::pin(body.into_bytes_stream()),
        seen: 0,
        last: start,
        cut: cut.clone(),
    };
    let counted = futures_util::stream::unfold(reading, move |mut r| async move {
        if r.seen > pace.limit {
            return None;
        }
        // The next chunk is due before the body has been silent for `stall`, and before its
        // average falls below `min_rate` (counted from `stall` after it began).
        let earned = (r.seen as u64).saturating_mul(1000) / pace.min_rate.max(1);
        let behind = start + pace.stall + std::time::Duration::from_millis(earned);
        let silent = r.last + pace.stall;
        let why = match tokio::time::timeout_at(behind.min(silent), r.chunks.next()).await {
            Err(_) if behind < silent => Cut::TOO_SLOW,
            Err(_) => Cut::STALLED,
            Ok(None) => return None,
            Ok(Some(Err(err))) => {
                r.seen = usize::MAX;
                return Some((Err(err), r));
            }
            Ok(Some(Ok(chunk))) => {
                r.seen = r.seen.saturating_add(chunk.len());
                r.last = tokio::time::Instant::now();
                if r.seen <= pace.limit {
                    return Some((Ok(chunk), r));
                }
                Cut::TOO_LARGE
            }
        };
        r.cut.set(why);
        r.seen = usize::MAX;
        let err = std::io::Error::other("the request body was cut off");
        Some((Err(err), r))
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

    /// Every object a request carries is read with `deny_unknown_fields`, as its schema says
    /// (`additionalProperties: false`).
    #[test]
    fn request_objects_refuse_members_they_do_not_name() {
        let spec = super::spec();
        let names = super::request_objects(&spec);
        assert!(
            names.contains("PushRequest") && names.contains("ScopesBody"),
            "{names:?}"
        );
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/api");
        let source: String = std::fs::read_dir(dir)
            .unwrap()
            .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
            .collect();
        for name in names {
            assert_eq!(
                spec["components"]["schemas"][&name]["additionalProperties"],
                false
            );
            let declared = source
                .find(&format!("pub struct {name} {{"))
                .unwrap_or_else(|| panic!("no `pub struct {name}` in src/api"));
            let attributes = &source[..declared];
            let attributes = &attributes[attributes.rfind("\n\n").unwrap_or(0)..];
            assert!(
                attributes.contains("deny_unknown_fields"),
                "{name} is carried by a request but not read with deny_unknown_fields"
            );
        }
    }

    /// The docs page shows the spec the server serves, not the one poem-openapi generated.
    #[test]
    fn the_docs_page_shows_the_served_spec() {
        let api = super::service();
        let generated = api.spec();
        let served = serde_json::to_string_pretty(&super::documented(&generated)).unwrap();
        let page = super::docs_page(&api, &generated, &served);
        assert!(page.contains(&served));
        assert!(!page.contains(&generated));
    }

    /// The spec names every event kind the judgement knows.
    #[test]
    fn the_spec_names_every_event_kind() {
        let spec = super::spec();
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
        let spec = super::spec();
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
