//! Every redb table of the central store, in one place.
//!
//! Table names carry a version (`users-0`): a change to a table's key or value layout gets a new
//! name and a migration, never a silent reinterpretation. Values that are records are bytes
//! written by [`super::codec`].

use redb::{MultimapTableDefinition, TableDefinition};

/// What the store is: `format`, the layout version of its tables ([`FORMAT`]).
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The layout version of the tables this server writes. A store of a later version is refused
/// at start (a newer server wrote it); an earlier one is migrated (`store::migrate`).
///
/// - 0: events and projections as JSON, the event with its receipt.
/// - 1: events as their signed bytes, packed, with receipts in a table of their own
///   (`store::records`); projections packed ([`super::codec::Dictionary`]); entity ids in
///   index keys and values as `u128`, bucket names as numbers ([`BUCKETS`]).
/// - 2: projections by entity number ([`ENTITY_NUMBERS`]), given out as entities first
///   arrive, so that new projections fill their pages instead of splitting them; the bucket
///   index and the entity events name entities by number.
pub const FORMAT: u64 = 2;

/// Readiness checks' writes (`/readyz`): the last one's time, by key `last`.
pub const HEALTH: TableDefinition<&str, u64> = TableDefinition::new("health-0");

/// Users by id (UUID as `u128`) → [`super::model::User`].
pub const USERS: TableDefinition<u128, &[u8]> = TableDefinition::new("users-0");
/// Usernames → user id. Usernames are unique.
pub const USERNAMES: TableDefinition<&str, u128> = TableDefinition::new("usernames-0");
/// WeChat openids → user id. An openid is bound to at most one user.
pub const WECHAT_OPENIDS: TableDefinition<&str, u128> = TableDefinition::new("wechat-openids-0");
/// Session token hashes → [`super::model::Session`].
pub const SESSIONS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("sessions-0");
/// User id → the token hashes of that user's sessions, to end them all at once.
pub const USER_SESSIONS: MultimapTableDefinition<u128, &[u8; 32]> =
    MultimapTableDefinition::new("user-sessions-0");
/// Invitation code hashes → [`super::model::Invitation`].
pub const INVITATIONS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("invitations-0");
/// User id → the code hashes of that user's unredeemed invitations, to supersede them.
pub const USER_INVITATIONS: MultimapTableDefinition<u128, &[u8; 32]> =
    MultimapTableDefinition::new("user-invitations-0");

/// Devices by id → [`super::model::Device`].
pub const DEVICES: TableDefinition<u128, &[u8]> = TableDefinition::new("devices-0");
/// Events by (device id, seq) → the event as signed (`store::records`).
pub const EVENTS: TableDefinition<(u128, u64), &[u8]> = TableDefinition::new("events-1");
/// Receipts by (device id, seq) → what the server made of the event (`store::records`).
pub const RECEIPTS: TableDefinition<(u128, u64), &[u8]> = TableDefinition::new("receipts-1");
/// Format 0's events with their receipts, by (device id, seq) →
/// [`anjian_sync::protocol::JudgedEvent`] (JSON): read once, by the migration to format 1.
pub const EVENTS_0: TableDefinition<(u128, u64), &[u8]> = TableDefinition::new("events-0");
/// Refused forks by (device id, seq, hash) → the refused event and when (JSON), for audit.
pub const FORKS: TableDefinition<(u128, u64, &str), &[u8]> = TableDefinition::new("forks-0");
/// Each entity's number: entity id (UUID as `u128`) → the key of its projection in
/// [`ENTITIES`]. Numbers are given out from 1 in the order the store first sees entities
/// (counter `last_entity`), so a batch's new projections go to the end of their table, in full
/// pages, where keys by id would land all over it and leave its pages half empty.
pub const ENTITY_NUMBERS: TableDefinition<u128, u64> = TableDefinition::new("entity-numbers-2");
/// Projections by entity number ([`ENTITY_NUMBERS`]) →
/// [`anjian_sync::protocol::Projection`] (JSON, packed with
/// [`super::codec::Dictionary::Projections`]).
pub const ENTITIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entities-2");
/// Format 1's projections, by entity id (text), as [`ENTITIES`] holds them: read once, by the
/// migration to format 2.
pub const ENTITIES_1: TableDefinition<&str, &[u8]> = TableDefinition::new("entities-1");
/// Format 0's entities, by id → [`anjian_sync::protocol::Projection`] (JSON): read once, by the
/// migration to format 1.
pub const ENTITIES_0: TableDefinition<&str, &[u8]> = TableDefinition::new("entities-0");
/// The per-bucket change index: (bucket number, revision) → entity number
/// ([`ENTITY_NUMBERS`]). An entity has one entry per bucket, at its latest revision, so a pull
/// reads only its buckets' changes.
pub const BUCKET_INDEX: TableDefinition<(u32, u64), u64> = TableDefinition::new("bucket-index-2");
/// Format 1's bucket index, the entity by id (UUID as `u128`): read once, by the migration to
/// format 2.
pub const BUCKET_INDEX_1: TableDefinition<(u32, u64), u128> =
    TableDefinition::new("bucket-index-1");
/// Bucket names → their numbers in the bucket index, given out from 1 as buckets first appear
/// (counter `last_bucket`).
pub const BUCKETS: TableDefinition<&str, u32> = TableDefinition::new("buckets-1");
/// Format 0's bucket index: (bucket, revision) → entity id.
pub const BUCKET_INDEX_0: TableDefinition<(&str, u64), &str> =
    TableDefinition::new("bucket-index-0");
/// Bucket → its [`anjian_sync::entity::BucketDigest`], kept up to date with every change.
pub const BUCKET_DIGESTS: TableDefinition<&str, &[u8]> = TableDefinition::new("bucket-digests-0");
/// Counters: `last_rev`, the highest revision given out; `last_bucket`, the highest bucket
/// number; `last_entity`, the highest entity number.
pub const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters-0");
/// Entities by type: (type name, entity id as `u128`) → revision, for the office's lists.
pub const TYPE_INDEX: TableDefinition<(&str, u128), u64> = TableDefinition::new("type-index-1");
/// Format 0's type index: (type name, entity id) → revision.
pub const TYPE_INDEX_0: TableDefinition<(&str, &str), u64> = TableDefinition::new("type-index-0");
/// Each entity's changes by events: (entity number ([`ENTITY_NUMBERS`]), revision) → (device
/// id, seq) of the event that made that revision, so a record's history (its timeline) reads
/// its events without a scan. Revisions made before this table existed have no entry.
pub const ENTITY_EVENTS: TableDefinition<(u64, u64), (u128, u64)> =
    TableDefinition::new("entity-events-2");
/// Format 1's entity events, the entity by id (UUID as `u128`): read once, by the migration to
/// format 2.
pub const ENTITY_EVENTS_1: TableDefinition<(u128, u64), (u128, u64)> =
    TableDefinition::new("entity-events-1");
/// Format 0's entity events, the entity id as text.
pub const ENTITY_EVENTS_0: TableDefinition<(&str, u64), (u128, u64)> =
    TableDefinition::new("entity-events-0");
/// The office's facts (台账要素) per record: (type name, entity id) →
/// [`super::facts::Fact`] with numbered buckets, kept with each change of a counted type.
/// Derived data: a store whose facts table is empty (or has only an older version's) makes them
/// again at start.
pub const OFFICE_FACTS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("office-facts-3");
/// The office's counters, kept as facts change: `metric|period|grid[|enterprise]` → count
/// (see [`super::facts::counts`]). A counter that falls to 0 is removed.
pub const OFFICE_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("office-counts-3");
/// The facts and counters of earlier versions, dropped once the current ones are made
/// (version 2 counts the duties done: meetings by shift and slot, briefings; version 3 numbers
/// the buckets).
pub const OLD_OFFICE_TABLES: [&str; 6] = [
    "office-facts-0",
    "office-counts-0",
    "office-facts-1",
    "office-counts-1",
    "office-facts-2",
    "office-counts-2",
];
/// The earlier version's facts (buckets named), read once when the current ones are made: they
/// remember when a record was first seen, which its projection no longer says.
pub const OLD_OFFICE_FACTS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("office-facts-2");
/// The version before that, read when a store skipped a version and has only it.
pub const OLDER_OFFICE_FACTS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("office-facts-1");
/// The first version, likewise.
pub const OLDEST_OFFICE_FACTS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("office-facts-0");
/// Blobs the store holds: sha256 (hex) → [`super::model::BlobMeta`]. A blob exists once its file
/// is in place and this entry is committed.
pub const BLOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("blobs-0");
/// Which entities cite which blob: (sha256, entity id) → ().
pub const BLOB_CITATIONS: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("blob-citations-0");
/// Who brought each citation into its entity, and whether they held the photo then (uploaded it,
/// or could read it): (sha256, entity id) → (user id as `u128`, held). Only a held citation lets
/// the readers of its entity read the photo. Citations made before this table existed have no
/// entry here and are held, as they were.
pub const BLOB_CITERS: TableDefinition<(&str, &str), (u128, bool)> =
    TableDefinition::new("blob-citers-0");
/// Unfinished uploads by id (UUID as `u128`) → [`super::model::Upload`].
pub const UPLOADS: TableDefinition<u128, &[u8]> = TableDefinition::new("uploads-0");
