//! The central store: the narrow interface the services use, and its embedded redb backend.
//!
//! Services see only the [`AccountStore`] trait, whose methods are named for what they mean
//! (`redeem_invitation`), not for tables. Each method is one transaction, so every rule it states
//! holds even with many requests at once. The methods block: async callers run them on the
//! blocking thread pool. [`RedbStore`] is the embedded default (one file in the data directory);
//! a distributed backend would implement the same trait and pass the same conformance suite
//! (`conformance` below).
//!
//! Words: a *record* is a value as stored ([`model`]); *rev* is a user's revision, which every
//! change increments so that two admins editing at once cannot overwrite each other unseen.

pub mod codec;
pub mod facts;
mod migrate;
pub mod model;
mod records;
mod redb_store;
mod redb_sync;
mod runs;
pub mod snapshot;
pub mod tables;

pub use redb_store::{DEFAULT_CACHE_BYTES, RedbStore};
pub use redb_sync::DictionarySamples;

use anjian_sync::entity::{BucketDigest, Entity};
use anjian_sync::protocol::{JudgedEvent, JudgedEventRef, Projection, Receipt};
use model::{
    BlobMeta, Device, ForkRecord, Invitation, SecretHash, Session, UnixMillis, Upload, User,
};
use uuid::Uuid;

/// What a store call can fail with. Small and matchable on purpose.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing named does not exist.
    #[error("not found")]
    NotFound,
    /// The change does not fit what is stored.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// The database is already open in another server process.
    #[error(
        "the database {path} is in use by another anjian-server; stop that server or choose another data directory"
    )]
    Locked {
        /// The database file.
        path: String,
    },
    /// The disk failed a write or a read (full, or failing): the store writes nothing more
    /// until it is opened again. Logged, never shown to clients.
    #[error("the disk failed: {0}")]
    Io(String),
    /// Anything else: corruption, a broken invariant. Logged, never shown to clients.
    #[error("storage error: {0}")]
    Other(String),
}

impl StoreError {
    /// Wraps any other failure.
    pub fn other(err: impl std::fmt::Display) -> StoreError {
        StoreError::Other(err.to_string())
    }
}

/// Why a change does not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// The username is taken.
    UsernameTaken,
    /// The user changed since the revision the update started from.
    StaleRevision,
    /// The change would leave no enabled admin.
    LastAdmin,
    /// The WeChat account is bound to another user.
    OpenidBoundElsewhere,
    /// The invitation was already redeemed.
    InvitationUsed,
    /// The invitation expired.
    InvitationExpired,
    /// The user the invitation is for is disabled.
    UserDisabled,
    /// The public key is enrolled to another user, or was revoked.
    KeyEnrolled,
}

/// Users, sessions and WeChat bindings.
pub trait AccountStore: Send + Sync + std::fmt::Debug + 'static {
    /// Whether any user exists (an empty store gets a first admin).
    fn has_users(&self) -> Result<bool, StoreError>;

    /// Adds a new user. Fails with [`Conflict::UsernameTaken`].
    fn insert_user(&self, user: &User) -> Result<(), StoreError>;

    /// The user with this id.
    fn user(&self, id: Uuid) -> Result<Option<User>, StoreError>;

    /// The user with this username.
    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;

    /// The user this WeChat openid is bound to.
    fn user_by_openid(&self, openid: &str) -> Result<Option<User>, StoreError>;

    /// Up to `limit` users in id (= creation) order, starting after `after`.
    fn list_users(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<User>, StoreError>;

    /// Replaces a user whose stored revision is `expected_rev` (its username cannot change).
    /// Disabling a user or changing their password ends their sessions in the same transaction. Fails with `NotFound`,
    /// [`Conflict::StaleRevision`], or [`Conflict::LastAdmin`] when no enabled admin would remain.
    fn replace_user(&self, user: &User, expected_rev: u64) -> Result<(), StoreError>;

    /// Stores a new session and drops that user's expired ones (as of `now`).
    fn insert_session(
        &self,
        token: &SecretHash,
        session: &Session,
        now: UnixMillis,
    ) -> Result<(), StoreError>;

    /// The session with this token hash and its user, read together.
    fn session_with_user(&self, token: &SecretHash) -> Result<Option<(Session, User)>, StoreError>;

    /// Ends a session; whether it existed.
    fn delete_session(&self, token: &SecretHash) -> Result<bool, StoreError>;

    /// The invitation with this code hash.
    fn invitation(&self, code: &SecretHash) -> Result<Option<Invitation>, StoreError>;

    /// Stores a new invitation; the user's earlier unredeemed invitations stop working.
    fn insert_invitation(
        &self,
        code: &SecretHash,
        invitation: &Invitation,
    ) -> Result<(), StoreError>;

    /// Redeems an invitation: binds `openid` to the invited user and marks the invitation used,
    /// all at once. Replacing an earlier binding of that user ends the user's WeChat sessions
    /// (the old phone is logged out). Redeeming again for the account it bound succeeds without
    /// change (a retry after a lost answer). Fails with `NotFound`,
    /// [`Conflict::InvitationUsed`], [`Conflict::InvitationExpired`], [`Conflict::UserDisabled`]
    /// or [`Conflict::OpenidBoundElsewhere`]; on failure nothing changes.
    fn redeem_invitation(
        &self,
        code: &SecretHash,
        openid: &str,
        now: UnixMillis,
    ) -> Result<User, StoreError>;
}

/// Devices, the event log, projections and the per-bucket change index.
pub trait SyncStore: Send + Sync + std::fmt::Debug + 'static {
    /// Enrols a device, or returns the enrolment it already has: an unrevoked device of the same
    /// user with the same public key is returned as it is (so a retried enrolment gets the same
    /// id). A key enrolled to another user, or revoked, is [`Conflict::KeyEnrolled`].
    fn insert_device(&self, device: &Device) -> Result<Device, StoreError>;

    /// The device with this id.
    fn device(&self, id: Uuid) -> Result<Option<Device>, StoreError>;

    /// Every device, or those of one user, in enrolment order.
    fn devices(&self, user: Option<Uuid>) -> Result<Vec<Device>, StoreError>;

    /// Marks a device revoked at `now` (once; a second revoke keeps the first time).
    fn revoke_device(&self, id: Uuid, now: UnixMillis) -> Result<Device, StoreError>;

    /// Runs `work` in one write transaction and commits it durably when `work` returns `Ok`;
    /// on `Err` nothing it wrote is kept.
    fn write(
        &self,
        work: &mut dyn FnMut(&mut dyn SyncWrite) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// A page of the projections in `buckets` changed after revision `after`: at most `limit`
    /// of them, and none more once their JSON has reached `max_bytes` (the first is always
    /// taken, so a page is never empty while changes remain).
    fn pull(
        &self,
        buckets: &[String],
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<PullPage, StoreError>;

    /// One entity's projection.
    fn entity(&self, id: &str) -> Result<Option<Projection>, StoreError>;

    /// Every projection of one entity type, in id order.
    fn entities_of_type(
        &self,
        entity_type: anjian_sync::entity::EntityType,
    ) -> Result<Vec<Projection>, StoreError>;

    /// The forks recorded for a device, in `seq` order.
    fn forks(&self, device: Uuid) -> Result<Vec<ForkRecord>, StoreError>;
    /// The office's facts of every record of `entity_type` ([`facts`]), by entity id.
    fn facts(
        &self,
        entity_type: anjian_sync::entity::EntityType,
    ) -> Result<Vec<(String, facts::Fact)>, StoreError>;
    /// Visits the office's facts of `entity_type` in id order, from after `after`, until
    /// `visit` answers `false`: those of records one of `readers` (bucket names) reads, or all
    /// when `None`.
    fn scan_facts(
        &self,
        entity_type: anjian_sync::entity::EntityType,
        after: Option<&str>,
        readers: Option<&[String]>,
        visit: &mut dyn FnMut(&str, &facts::FactView<'_>) -> bool,
    ) -> Result<(), StoreError>;
    /// The office's counters whose keys start with `prefix`, in key order.
    fn counts(&self, prefix: &str) -> Result<Vec<(String, u64)>, StoreError>;
    /// The events that changed an entity, oldest first (those recorded since the entity-events
    /// index exists).
    fn entity_events(&self, id: &str) -> Result<Vec<JudgedEvent>, StoreError>;

    /// Receipts of a device's events after `after_seq`, at most `limit`.
    fn receipts(
        &self,
        device: Uuid,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Receipt>, StoreError>;
}

/// The store's own health: whether its disk still takes a durable write.
pub trait HealthStore: Send + Sync + std::fmt::Debug + 'static {
    /// Writes and commits durably a record of `now`, which nothing reads: the readiness check
    /// and the watch on the disk.
    fn heartbeat(&self, now: u64) -> Result<(), StoreError>;
}

/// Blobs (photos) and unfinished uploads. The files live in the blob directory; the store keeps
/// what is known about them and which entities cite them.
pub trait BlobStore: Send + Sync + std::fmt::Debug + 'static {
    /// The blob with this sha256 (hex), if the store holds it.
    fn blob(&self, sha256: &str) -> Result<Option<BlobMeta>, StoreError>;

    /// Records a blob whose file is in place. Citations of it by its uploader become held, and
    /// every entity whose citation is held and that missed it moves to a new revision without it
    /// in `missing_blobs` (so pulls carry its new completeness), in the same transaction; those
    /// projections are returned. Recording a blob the store already
    /// holds changes nothing and returns none.
    fn add_blob(&self, meta: &BlobMeta) -> Result<Vec<Projection>, StoreError>;

    /// The entities citing a blob, each with whether its citation is held.
    fn citing(&self, sha256: &str) -> Result<Vec<Citation>, StoreError>;

    /// Stores an upload (new or changed).
    fn put_upload(&self, upload: &Upload) -> Result<(), StoreError>;

    /// The upload with this id.
    fn upload(&self, id: Uuid) -> Result<Option<Upload>, StoreError>;

    /// Forgets an upload; whether it existed.
    fn remove_upload(&self, id: Uuid) -> Result<bool, StoreError>;

    /// Every unfinished upload.
    fn uploads(&self) -> Result<Vec<Upload>, StoreError>;
}

/// What one write transaction of the sync store can do.
pub trait SyncWrite {
    /// A device, as of this transaction.
    fn device(&mut self, id: Uuid) -> Result<Option<Device>, StoreError>;
    /// Stores a device's new state.
    fn put_device(&mut self, device: &Device) -> Result<(), StoreError>;
    /// The receipt of a device's event at `seq`.
    fn receipt(&mut self, device: Uuid, seq: u64) -> Result<Option<Receipt>, StoreError>;
    /// Stores a judged event; `canonical` is its body's canonical encoding, as verified.
    fn put_event(
        &mut self,
        device: Uuid,
        event: &JudgedEventRef<'_>,
        canonical: &[u8],
    ) -> Result<(), StoreError>;
    /// Records a refused fork for audit: a verified event of the device that reused a taken
    /// `seq` with other content. At most `cap` are kept per device (the first ones).
    fn record_fork(
        &mut self,
        device: Uuid,
        event: &anjian_sync::event::SignedEvent,
        at: UnixMillis,
        cap: usize,
    ) -> Result<(), StoreError>;
    /// An entity's projection.
    fn entity(&mut self, id: &str) -> Result<Option<Projection>, StoreError>;
    /// Stores an entity at the next revision, moving it in the bucket index and digests;
    /// returns the stored projection.
    fn put_entity(
        &mut self,
        entity: Entity,
        meta: ProjectionMeta,
    ) -> Result<Projection, StoreError>;
}

/// What a projection records about the event that last changed it.
#[derive(Clone, Debug)]
pub struct ProjectionMeta {
    /// The event.
    pub event_id: String,
    /// Its device and `seq`, where the event log keeps it.
    pub event_key: (Uuid, u64),
    /// Its capture time.
    pub time: anjian_sync::clock::CaptureTime,
    /// Who sent it: the photos it newly cites are held, and let the entity's readers read them,
    /// only if this user held them.
    pub citer: std::sync::Arc<Citer>,
}

/// The user whose event cites photos, and what they can read.
#[derive(Clone, Debug)]
pub struct Citer {
    /// The user.
    pub user: Uuid,
    /// The buckets they read: a photo cited by a held citation of an entity in one of them is
    /// theirs to read, and so to cite.
    pub buckets: Vec<String>,
}

/// Whether one who reads `buckets` reads a photo through a held citation by `projection`: the
/// entity is live and in one of their buckets. The one rule for reading a photo through a
/// record and for holding it when citing it.
pub fn reads_through(projection: &Projection, buckets: &[String]) -> bool {
    !projection.entity.deleted && projection.buckets.iter().any(|b| buckets.contains(b))
}

/// An entity citing a photo, and whether the citation lets the entity's readers read it.
#[derive(Clone, Debug)]
pub struct Citation {
    /// The citing entity.
    pub projection: Projection,
    /// Whether the user who brought the citation held the photo (uploaded it, or could read
    /// it) when citing it.
    pub held: bool,
}

/// A projection as stored: its revision and its JSON, served without decoding it.
#[derive(Debug)]
pub struct StoredProjection {
    /// Its revision.
    pub rev: u64,
    /// The projection's JSON as written.
    pub json: Box<serde_json::value::RawValue>,
}

impl StoredProjection {
    /// The projection itself.
    pub fn decode(&self) -> Result<Projection, StoreError> {
        serde_json::from_str(self.json.get())
            .map_err(|err| StoreError::other(format!("corrupt entity record: {err}")))
    }
}

/// A page of a pull.
#[derive(Debug)]
pub struct PullPage {
    /// Projections in revision order, as stored.
    pub projections: Vec<StoredProjection>,
    /// Nothing further is in the buckets: this page ends a checkpoint.
    pub complete: bool,
    /// The highest revision given out in the whole store.
    pub last_rev: u64,
    /// Each bucket's digest, when complete.
    pub digests: Vec<(String, BucketDigest)>,
}

#[cfg(test)]
pub(crate) mod conformance;
#[cfg(test)]
mod persisted;
