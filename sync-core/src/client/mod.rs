//! The embeddable offline client (feature `client`): a device's local replica, its outbox, and
//! the transport that reconciles them with the server.
//!
//! # What a device keeps
//! One redb file holds: the device's signing key and identity (its `device_id`, its user and
//! grant, its session token); its **event log**, every event it ever signed, by `seq`; the
//! **receipts** the server gave; the **server projections** as of the last complete checkpoint,
//! with the cursor; **staged** pull pages of a checkpoint still in progress; and the **local
//! view**, which is what queries read.
//!
//! # The outbox
//! The outbox is simply the events with `seq` above the highest acknowledged one. Capturing
//! writes the event and its effect on the local view in one transaction, so a captured thing is
//! either fully recorded or not at all. Events are never deleted or rewritten: an acknowledged
//! event stays in the log as the device's own record, and nothing the server says — a reset,
//! a refusal, a scope change — empties the outbox. No amount of offline time forces a reset.
//!
//! # Sync
//! [`Device::sync`] first sends queued photos (see `photos`), then pushes the whole outbox in
//! batches, in `seq` order; each answer's receipts are
//! stored and the acknowledged `seq` advanced in one transaction. If an answer is lost (a crash,
//! a dropped connection), the same events are pushed again and the server answers with the
//! receipts it already gave: nothing is applied twice. A `gap` refusal (the server lacks earlier
//! events, e.g. after a restore) rewinds the acknowledged `seq` to what the server expects and
//! pushes again from there. Any other refusal (fork, broken chain, bad signature) means the log
//! or its key is not what the server knows: sync stops with an error and keeps everything.
//!
//! Then it pulls: pages are staged (one transaction each, with the next cursor), and when a page
//! completes a checkpoint the staged pages replace the server projections, the cursor advances,
//! the replica is checked against the checkpoint's bucket digests, and the local view is
//! **rebased** — the server projections, with every unacknowledged event judged again on top by
//! the same [`crate::judge::judge`] the server uses — all in one transaction. A digest mismatch
//! drops the projections and pulls them again, once per sync. A `reset` answer does the same.
//!
//! Photos come first, then the events that cite them: an event cites its photos by sha256 in
//! `blob_refs`, and a device uploads those files before pushing the event that cites them.
//!
//! Every step is one local transaction, so a process killed anywhere restarts into a state it
//! can continue from; transient network failures are retried with exponential backoff and
//! jitter, a bounded number of times.

mod local;
mod photos;
mod transport;

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use uuid::Uuid;

use crate::access::{Grant, Role, Scopes};
use crate::entity::{Entity, EntityType};
use crate::event::{Captured, DeviceKey, EVENT_VERSION, EventBody, SignedEvent, is_uuid};
use crate::judge::{Actor, Judgement, judge_in};
use crate::protocol::{
    Enrolment, LoginAnswer, MAX_PUSH_EVENTS, Projection, PushRequest, Receipt, UserInfo,
};

pub use photos::{CHUNK_BYTES, Photo, PhotoState, Progress, UploadReport};
pub use transport::{RetryPolicy, Traffic, TransportError};

use local::Local;
use transport::Transport;

/// What can go wrong on a device.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The local replica failed.
    #[error("the local store failed: {0}")]
    Local(String),
    /// The server could not be reached or refused the request.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The event breaks a form rule of the protocol (size, numbers, ids), so it is not logged.
    #[error("the event cannot be recorded: {0}")]
    Unloggable(String),
    /// A photo file cannot be read.
    #[error("{0}")]
    Photo(String),
    /// The server would not apply the event, by the judgement of what this device holds; nothing
    /// was recorded.
    #[error("{code}: {message}")]
    NotApplicable {
        /// The judgement's code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The device is not logged in or not enrolled yet.
    #[error("{0}")]
    NotReady(&'static str),
    /// The server refused the device's log in a way retrying cannot fix.
    #[error("the server refused event {seq}: {code}: {message}")]
    Refused {
        /// The refused seq.
        seq: u64,
        /// The refusal code.
        code: String,
        /// The server's message.
        message: String,
    },
}

/// Who this device is: its id, its user, and what they may do.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// The user's id.
    pub user_id: String,
    /// The user's login name.
    pub username: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// Scopes.
    pub scopes: Scopes,
    /// The enrolled device id, once enrolled.
    pub device_id: Option<String>,
}

/// What one sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Events the server acknowledged in this sync.
    pub acknowledged: usize,
    /// Of those, how many were not applied (conflicts and quarantines).
    pub not_applied: usize,
    /// Pull pages read.
    pub pages: usize,
    /// Projections those pages brought.
    pub pulled: usize,
    /// Whether the replica had to be pulled again (reset or digest mismatch).
    pub repulled: bool,
    /// The photo uploads before the push.
    pub photos: UploadReport,
    /// Photos this device had sent that the server said it lacks (a store restored from an
    /// older backup), sent again after the pull.
    pub photos_again: UploadReport,
    /// The server held fewer of this device's events than it had acknowledged (it was restored
    /// from an older backup): the rest were pushed again.
    pub server_behind: bool,
}

/// A point in a sync, reported to a hook (for tests that stop a process between steps, and for
/// progress displays). The `…Received` points come before their answer is stored: a process
/// stopped there has lost the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A push answer arrived (not yet stored).
    PushReceived,
    /// A push batch's receipts were stored.
    Pushed,
    /// A pull page arrived (not yet stored).
    PageReceived,
    /// A pull page was staged.
    Staged,
    /// A checkpoint was applied and the local view rebased.
    Applied,
    /// A photo chunk was acknowledged and the upload's offset stored.
    ChunkSent,
    /// A photo's upload completed.
    PhotoStored,
}

/// How much one request carries.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// Events per push (at most 500).
    pub push_events: usize,
    /// Entities per pull page (at most 1000).
    pub pull_page: usize,
}

impl Default for Batching {
    fn default() -> Self {
        Batching {
            push_events: 200,
            pull_page: 500,
        }
    }
}

type Hook = Arc<dyn Fn(Step) + Send + Sync>;
type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A device: its replica and its way to the server.
pub struct Device {
    local: Local,
    transport: Transport,
    key: DeviceKey,
    verifying: ed25519_dalek::VerifyingKey,
    tz_offset_min: i32,
    hook: Option<Hook>,
    progress: Option<photos::ProgressHook>,
    clock: Clock,
    batching: Batching,
    dir: std::path::PathBuf,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Makes ring the process's TLS crypto provider, which the transport needs (once per process).
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    i64::try_from(now).unwrap_or(i64::MAX)
}

impl Device {
    /// Opens (or creates) the replica in `dir`, talking to `server` (e.g. `http://127.0.0.1:8080`).
    /// A new replica makes the device's signing key.
    pub fn open(dir: &Path, server: &str) -> Result<Device, ClientError> {
        Device::open_with(dir, server, RetryPolicy::default())
    }

    /// As [`Device::open`], with a retry policy.
    pub fn open_with(dir: &Path, server: &str, retry: RetryPolicy) -> Result<Device, ClientError> {
        install_tls_provider();
        std::fs::create_dir_all(dir).map_err(|err| ClientError::Local(err.to_string()))?;
        let local = Local::open(&dir.join("device.redb"))?;
        let secret = match local.secret()? {
            Some(secret) => secret,
            None => {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).map_err(|err| ClientError::Local(err.to_string()))?;
                local.set_secret(&secret)?;
                secret
            }
        };
        let transport = Transport::new(server, local.token()?, retry)?;
        let key = DeviceKey::from_secret(secret);
        let verifying = crate::event::parse_public_key(&key.public_hex())
            .map_err(|err| ClientError::Local(err.to_string()))?;
        Ok(Device {
            local,
            transport,
            key,
            verifying,
            tz_offset_min: 480,
            hook: None,
            progress: None,
            clock: Arc::new(now_ms),
            batching: Batching::default(),
            dir: dir.to_path_buf(),
        })
    }

    /// Sets how much one request carries.
    pub fn set_batching(&mut self, batching: Batching) {
        self.batching = Batching {
            push_events: batching.push_events.clamp(1, MAX_PUSH_EVENTS),
            pull_page: batching.pull_page.clamp(1, crate::protocol::MAX_PULL_LIMIT),
        };
    }

    /// Replaces the device's clock (ms since the epoch), for simulations: a phone whose clock is
    /// wrong, a week captured offline in a minute.
    pub fn set_clock(&mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) {
        self.clock = Arc::new(clock);
    }

    /// What this device has sent and received since it was opened.
    pub fn traffic(&self) -> Traffic {
        self.transport.traffic()
    }

    /// When the last sync completed, by the device's clock.
    pub fn last_sync_ms(&self) -> Result<Option<i64>, ClientError> {
        self.local.setting("last_sync_ms")
    }

    /// How far the device's clock is ahead of the server's (negative: behind), in ms, as seen
    /// at the last push that carried events.
    pub fn clock_skew_ms(&self) -> Result<Option<i64>, ClientError> {
        self.local.setting("clock_skew_ms")
    }

    /// Calls `hook` at every point of a sync ([`Step`]).
    pub fn on_step(&mut self, hook: impl Fn(Step) + Send + Sync + 'static) {
        self.hook = Some(Arc::new(hook));
    }

    fn step(&self, step: Step) {
        if let Some(hook) = &self.hook {
            hook(step);
        }
    }

    /// The device's public key, hex.
    pub fn public_key(&self) -> String {
        self.key.public_hex()
    }

    /// Who this device is, once logged in.
    pub fn identity(&self) -> Result<Option<Identity>, ClientError> {
        self.local.identity()
    }

    fn actor(&self) -> Result<(Identity, Actor), ClientError> {
        let identity = self
            .identity()?
            .ok_or(ClientError::NotReady("log in first"))?;
        let grant = Grant::new(identity.roles.iter().copied(), identity.scopes.clone())
            .map_err(|err| ClientError::Local(format!("the stored grant is not valid: {err}")))?;
        let actor = Actor {
            user_id: identity.user_id.clone(),
            grant,
        };
        // A replica an upgrade left without its local view gets it before anything reads it.
        self.local.rebase_if_due(&actor)?;
        Ok((identity, actor))
    }

    /// Logs in with username and password and remembers the session and the user's grant.
    pub async fn login(&mut self, username: &str, password: &str) -> Result<Identity, ClientError> {
        let answer: LoginAnswer = self
            .transport
            .post_json(
                "/v1/auth/login",
                &serde_json::json!({"username": username, "password": password}),
            )
            .await?;
        let LoginAnswer { token, user } = answer;
        if token.is_empty() || !is_uuid(&user.id) {
            return Err(TransportError::Decode(
                "a login answer needs a token and the user's id as a lower-case UUID".into(),
            )
            .into());
        }
        let previous = self.identity()?;
        // A replica belongs to one user: its log is signed for that user's enrolment.
        if let Some(previous) = &previous {
            if previous.user_id != user.id {
                return Err(ClientError::NotReady(
                    "this replica belongs to another user; open a replica directory per user",
                ));
            }
        }
        let identity = Identity {
            device_id: previous
                .filter(|p| p.user_id == user.id)
                .and_then(|p| p.device_id),
            user_id: user.id,
            username: user.username,
            roles: user.roles,
            scopes: user.scopes,
        };
        self.local.set_login(&token, &identity)?;
        self.transport.set_token(Some(token));
        Ok(identity)
    }

    /// Reads the user's current roles and scopes from the server (`GET /v1/me`) and keeps them.
    async fn refresh_identity(&self) -> Result<Actor, ClientError> {
        let user: UserInfo = self.transport.get_json("/v1/me").await?;
        let (mut identity, _) = self.actor()?;
        if user.id != identity.user_id {
            return Err(TransportError::Decode(
                "GET /v1/me answered with another user than this replica's".into(),
            )
            .into());
        }
        identity.roles = user.roles;
        identity.scopes = user.scopes;
        let token = self.local.token()?.unwrap_or_default();
        self.local.set_login(&token, &identity)?;
        Ok(self.actor()?.1)
    }

    /// Enrols this device for the logged-in user (once); returns the device id.
    pub async fn enrol(&mut self, name: &str) -> Result<String, ClientError> {
        let (mut identity, _) = self.actor()?;
        if let Some(id) = &identity.device_id {
            return Ok(id.clone());
        }
        let Enrolment { id } = self
            .transport
            .post_json(
                "/v1/devices",
                &serde_json::json!({"public_key": self.key.public_hex(), "name": name}),
            )
            .await?;
        if !is_uuid(&id) {
            return Err(TransportError::Decode(
                "an enrolment answer needs the device's id as a lower-case UUID".into(),
            )
            .into());
        }
        identity.device_id = Some(id.clone());
        let token = self.local.token()?.unwrap_or_default();
        self.local.set_login(&token, &identity)?;
        Ok(id)
    }

    /// Records one thing the person did: signs the event, appends it to the log, and applies it
    /// to the local view, in one transaction. Returns the event and the local judgement (what
    /// the server will most likely say; the server's receipt is the word that counts).
    pub fn capture(
        &self,
        kind: &str,
        entity_id: &str,
        payload: Value,
        blob_refs: Vec<String>,
    ) -> Result<(SignedEvent, Judgement), ClientError> {
        self.capture_with(kind, entity_id, payload, blob_refs, None)
    }

    /// As [`Device::capture`], for an edit of a draft: `base_rev` names the version of the
    /// entity the edit started from (an article's `version`), so the server can merge it.
    pub fn capture_with(
        &self,
        kind: &str,
        entity_id: &str,
        payload: Value,
        blob_refs: Vec<String>,
        base_rev: Option<u64>,
    ) -> Result<(SignedEvent, Judgement), ClientError> {
        self.capture_event(kind, entity_id, payload, blob_refs, base_rev, None, false)
    }

    /// As [`Device::capture`], for a record made with a checklist: `template` (`code@version`)
    /// pins the version used, as the event's `template_ref`.
    pub fn capture_pinned(
        &self,
        kind: &str,
        entity_id: &str,
        payload: Value,
        blob_refs: Vec<String>,
        template: &str,
    ) -> Result<(SignedEvent, Judgement), ClientError> {
        self.capture_event(
            kind,
            entity_id,
            payload,
            blob_refs,
            None,
            Some(template),
            false,
        )
    }

    /// As [`Device::capture`] (with a checklist pin when `template` is given), but records
    /// nothing when the local judgement says the server would not apply the event
    /// ([`ClientError::NotApplicable`]): a person at a form corrects it instead of sending it.
    pub fn capture_if_applicable(
        &self,
        kind: &str,
        entity_id: &str,
        payload: Value,
        blob_refs: Vec<String>,
        template: Option<&str>,
    ) -> Result<(SignedEvent, Judgement), ClientError> {
        self.capture_event(kind, entity_id, payload, blob_refs, None, template, true)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the members of an event, and whether a refusal is recorded"
    )]
    fn capture_event(
        &self,
        kind: &str,
        entity_id: &str,
        payload: Value,
        blob_refs: Vec<String>,
        base_rev: Option<u64>,
        template: Option<&str>,
        only_if_applied: bool,
    ) -> Result<(SignedEvent, Judgement), ClientError> {
        let (identity, actor) = self.actor()?;
        let device_id = identity
            .device_id
            .ok_or(ClientError::NotReady("enrol the device first"))?;
        let wall_ms = (self.clock)();
        self.local.append(|last_seq, last_hash, entities| {
            let body = EventBody {
                v: EVENT_VERSION,
                device_id: device_id.clone(),
                seq: last_seq + 1,
                id: Uuid::now_v7().to_string(),
                prev_hash: last_hash.to_string(),
                kind: kind.to_string(),
                entity_id: entity_id.to_string(),
                payload: payload.clone(),
                blob_refs: blob_refs.clone(),
                template_ref: template.map(str::to_string),
                base_rev,
                captured: Captured {
                    wall_ms,
                    tz_offset_min: self.tz_offset_min,
                },
            };
            let judgement = judge_in(&body, &actor, entities)?;
            if only_if_applied && judgement.verdict != crate::judge::Verdict::Applied {
                let reason = judgement.reason.clone();
                return Err(ClientError::NotApplicable {
                    code: reason.as_ref().map(|r| r.code.clone()).unwrap_or_default(),
                    message: reason.map(|r| r.message).unwrap_or_default(),
                });
            }
            // Check the form the server checks before the event is logged: an event the
            // server would refuse could never be pushed, and would hold back every later one.
            let unloggable =
                |err: crate::event::EventError| ClientError::Unloggable(err.to_string());
            let event = self.key.sign(body).map_err(unloggable)?;
            event.verify(&self.verifying).map_err(unloggable)?;
            Ok((event, judgement))
        })
    }

    /// A new entity id for something captured on this device.
    pub fn new_entity_id() -> String {
        Uuid::now_v7().to_string()
    }

    /// The local view of an entity.
    pub fn entity(&self, id: &str) -> Result<Option<Entity>, ClientError> {
        self.settle()?;
        self.local.local_entity(id)
    }

    /// The local view of every entity of a type.
    pub fn entities(&self, entity_type: EntityType) -> Result<Vec<Entity>, ClientError> {
        self.settle()?;
        self.local.local_entities(Some(entity_type))
    }

    /// Completes what an upgrade left due, when there is a login to judge with (without one,
    /// nothing was captured that the view could lack).
    fn settle(&self) -> Result<(), ClientError> {
        if !self.local.rebase_due() {
            return Ok(());
        }
        match self.actor() {
            Ok(_) | Err(ClientError::NotReady(_)) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// The server's projection of an entity, as of the last checkpoint.
    pub fn server_entity(&self, id: &str) -> Result<Option<Projection>, ClientError> {
        self.local.server_entity(id)
    }

    /// How many server projections the replica holds, tombstones and sync issues included.
    pub fn server_entity_count(&self) -> Result<u64, ClientError> {
        self.local.server_entity_count()
    }

    /// Every server projection, as of the last checkpoint.
    pub fn server_entities(&self) -> Result<Vec<Projection>, ClientError> {
        self.local.server_entities()
    }

    /// Conflicts and quarantined events the server kept for a person (sync issues), as pulled.
    pub fn issues(&self) -> Result<Vec<Projection>, ClientError> {
        Ok(self
            .server_entities()?
            .into_iter()
            .filter(|p| p.entity.entity_type == EntityType::SyncIssue && !p.entity.deleted)
            .collect())
    }

    /// Events not yet acknowledged by the server.
    pub fn outbox(&self) -> Result<Vec<SignedEvent>, ClientError> {
        self.local.outbox(usize::MAX)
    }

    /// Every event this device signed.
    pub fn log(&self) -> Result<Vec<SignedEvent>, ClientError> {
        self.local.log()
    }

    /// The receipts the server gave.
    pub fn receipts(&self) -> Result<Vec<Receipt>, ClientError> {
        self.local.receipts()
    }

    /// Pushes the outbox, pulls to a complete checkpoint, and rebases the local view.
    pub async fn sync(&self) -> Result<SyncReport, ClientError> {
        let mut report = SyncReport {
            photos: self.upload_photos().await?,
            ..SyncReport::default()
        };
        self.push_all(&mut report).await?;
        let mut lacking = self.pull_all(&mut report).await?;
        if report.server_behind {
            // The pull rewound the acknowledged `seq` to where the server's chain ends.
            self.push_all(&mut report).await?;
            lacking.extend(self.pull_all(&mut report).await?);
        }
        // The server lacks photos this device sent (it was restored from an older backup):
        // send them again, now, rather than leave the records without their evidence.
        if self.requeue_photos(&lacking)? > 0 {
            report.photos_again = self.upload_photos().await?;
        }
        self.local.set_setting("last_sync_ms", &(self.clock)())?;
        Ok(report)
    }

    /// Only pushes the outbox (for a device that must hand its work in quickly).
    pub async fn push(&self) -> Result<SyncReport, ClientError> {
        let mut report = SyncReport::default();
        self.push_all(&mut report).await?;
        Ok(report)
    }

    /// Only pulls to a complete checkpoint and rebases.
    pub async fn pull(&self) -> Result<SyncReport, ClientError> {
        let mut report = SyncReport::default();
        self.pull_all(&mut report).await?;
        Ok(report)
    }

    async fn push_all(&self, report: &mut SyncReport) -> Result<(), ClientError> {
        let (identity, _) = self.actor()?;
        let device_id = identity
            .device_id
            .ok_or(ClientError::NotReady("enrol the device first"))?;
        // Large events (long attendance lists, many photos) can make a full batch exceed the
        // server's body limit: on 413 the batch is halved, down to a single event.
        let mut batch_size = self.batching.push_events;
        // Bounded: each round acknowledges at least one event, halves the batch, or stops.
        for _ in 0..100_000 {
            let batch = self.local.outbox(batch_size)?;
            if batch.is_empty() {
                return Ok(());
            }
            let sent = batch.len();
            let request = PushRequest {
                device_id: device_id.clone(),
                device_clock_ms: (self.clock)(),
                events: batch,
            };
            let response = match self.transport.push(&request).await {
                Err(TransportError::Http { status: 413, .. }) if sent > 1 => {
                    batch_size = sent / 2;
                    continue;
                }
                other => other?,
            };
            self.step(Step::PushReceived);
            if let Some(received) = response.receipts.iter().map(|r| r.received_at_ms).max() {
                let skew = request.device_clock_ms.saturating_sub(received);
                self.local.set_setting("clock_skew_ms", &skew)?;
            }
            report.acknowledged += response.receipts.len();
            report.not_applied += response
                .receipts
                .iter()
                .filter(|r| r.verdict != crate::judge::Verdict::Applied)
                .count();
            let progressed = !response.receipts.is_empty();
            self.local.store_receipts(&response.receipts)?;
            self.step(Step::Pushed);
            if let Some(refused) = response.refused {
                if refused.code == "gap" {
                    // The server lacks events from `expected_seq` on: send them again.
                    self.local
                        .rewind_ack(refused.expected_seq.saturating_sub(1))?;
                    continue;
                }
                return Err(ClientError::Refused {
                    seq: refused.seq,
                    code: refused.code,
                    message: refused.message,
                });
            }
            if !progressed {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Pulls to a checkpoint; returns the photos the pulled projections say the server lacks.
    async fn pull_all(
        &self,
        report: &mut SyncReport,
    ) -> Result<std::collections::BTreeSet<String>, ClientError> {
        let mut lacking = std::collections::BTreeSet::new();
        let (identity, mut actor) = self.actor()?;
        let acked = self.local.acked_seq()?;
        let device = identity.device_id.as_deref().map(|id| (id, acked));
        for attempt in 0..2 {
            let limit = self.batching.pull_page;
            let mut fetched = None;
            // Bounded: a checkpoint is reached after at most this many pages.
            for _ in 0..1_000_000 {
                let page = match fetched.take() {
                    Some(page) => page,
                    None => {
                        let cursor = self.local.pull_cursor()?;
                        self.transport.pull(cursor, limit, device).await?
                    }
                };
                self.step(Step::PageReceived);
                report.pages += 1;
                report.pulled += page.entities.len();
                if let Some(seq) = page.device_seq.filter(|seq| *seq < acked) {
                    // The server lacks events it once acknowledged: send them again.
                    if !report.server_behind {
                        self.local.rewind_ack(seq)?;
                        report.server_behind = true;
                    }
                }

                if page.reset {
                    // The caller's buckets changed: its roles or scopes did. Judge with the new.
                    report.repulled = true;
                    actor = self.refresh_identity().await?;
                }
                if !page.complete {
                    // The next page is asked for first, so the server reads it while this one
                    // is written here. Staging persists the same cursor, so a failure of either
                    // leaves the replica where the next pull resumes.
                    let next = self
                        .transport
                        .pull(Some(page.next_cursor.clone()), limit, device);
                    let (next, staged) =
                        tokio::join!(next, async { self.local.stage(page, &actor, &mut lacking) });
                    staged?;
                    self.step(Step::Staged);
                    fetched = Some(next?);
                    continue;
                }
                let mismatched = self.local.stage(page, &actor, &mut lacking)?;
                self.step(Step::Applied);
                if mismatched.is_empty() {
                    return Ok(lacking);
                }
                break;
            }
            if attempt == 0 {
                // The replica disagrees with the server's digests: pull it again from scratch.
                report.repulled = true;
                self.local.forget_projections(&actor)?;
            }
        }
        Err(ClientError::Local(
            "the replica still disagrees with the server after pulling again".into(),
        ))
    }
}
