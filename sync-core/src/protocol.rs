//! The messages of the sync protocol, as both ends read and write them (JSON).
//!
//! `openapi/PROTOCOL.md` is the prose; `openapi/openapi.yaml` the exact shapes. A *receipt*
//! acknowledges one event for good; a *refusal* stops a push at the first event the server will
//! not take; a *projection* is an entity as the server judged it, with its revision and times; a
//! *checkpoint* ends a pull with the caller's bucket digests.

use serde::{Deserialize, Serialize};

use crate::clock::ClockFlag;
use crate::entity::{BucketDigest, Entity};
use crate::event::SignedEvent;
use crate::judge::{Reason, Verdict};

/// The most events one push may carry.
pub const MAX_PUSH_EVENTS: usize = 500;
/// The most entities one pull page may carry.
pub const MAX_PULL_LIMIT: usize = 1000;

/// A user as a login answer and `GET /v1/me` show them: what a device keeps to judge its own
/// events offline. Other members of the answer are not read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// The user's id (a lower-case UUID).
    pub id: String,
    /// Their login name.
    pub username: String,
    /// Their roles.
    pub roles: Vec<crate::access::Role>,
    /// Their scopes.
    pub scopes: crate::access::Scopes,
}

/// The answer to a login (`POST /v1/auth/login`, `POST /v1/auth/wechat`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginAnswer {
    /// The session's bearer token.
    pub token: String,
    /// Who logged in.
    pub user: UserInfo,
}

/// The answer to an enrolment (`POST /v1/devices`): the device, of which a client reads its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    /// The device's id (a lower-case UUID), which every event it signs names.
    pub id: String,
}

/// `POST /v1/sync/push`. Members it does not name are refused, as the spec says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// The enrolled device.
    pub device_id: String,
    /// The device's clock now, ms since the epoch (for its skew).
    pub device_clock_ms: i64,
    /// Events in ascending `seq`, without gaps.
    pub events: Vec<SignedEvent>,
}

/// The server's acknowledgement of one event: durable once sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The event's `seq`.
    pub seq: u64,
    /// The event's `id`.
    pub event_id: String,
    /// The event's hash.
    pub hash: String,
    /// What the server made of it.
    pub verdict: Verdict,
    /// Why, unless applied.
    pub reason: Option<Reason>,
    /// The entity's revision after an applied event.
    pub rev: Option<u64>,
    /// The sync issue kept for a conflict or quarantine (an entity in the author's bucket).
    pub issue_id: Option<String>,
    /// When the server received it, ms.
    pub received_at_ms: i64,
}

/// Why a push stopped before an event. Events before it were taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The `seq` of the refused event.
    pub seq: u64,
    /// Stable code: `gap`, `fork`, `broken-chain`, `bad-signature`, `hash-mismatch`,
    /// `malformed-event`, `wrong-device`.
    pub code: String,
    /// What happened and what to do.
    pub message: String,
    /// The `seq` the server expects next from this device.
    pub expected_seq: u64,
}

/// The answer to a push.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// One receipt per event taken, in order (replays included).
    pub receipts: Vec<Receipt>,
    /// Set when the push stopped early.
    pub refused: Option<Refusal>,
    /// The highest `seq` the server holds from this device.
    pub last_seq: u64,
}

/// An entity as the server judged it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "FlatProjection")]
pub struct Projection {
    /// The entity.
    #[serde(flatten)]
    pub entity: Entity,
    /// Server-wide revision of its last change; orders all changes.
    pub rev: u64,
    /// Its buckets.
    pub buckets: Vec<String>,
    /// The event that last changed it.
    pub last_event_id: String,
    /// Best estimate of when that event was captured, ms.
    pub captured_at_ms: i64,
    /// When the server received it, ms.
    pub received_at_ms: i64,
    /// How far to trust `captured_at_ms`.
    pub clock: ClockFlag,
    /// The blobs it cites (`blobs`) that the server does not hold yet. Empty means the entity
    /// is *evidentially complete*: every photo it cites is present and matches its hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_blobs: Vec<String>,
}

/// A [`Projection`] as its members arrive, all at one level: read directly, without the
/// buffering `flatten` needs (every stored entity is read this way).
#[derive(Deserialize)]
struct FlatProjection {
    id: String,
    entity_type: crate::entity::EntityType,
    scope: crate::entity::EntityScope,
    deleted: bool,
    body: serde_json::Value,
    #[serde(default)]
    blobs: Vec<String>,
    rev: u64,
    buckets: Vec<String>,
    last_event_id: String,
    captured_at_ms: i64,
    received_at_ms: i64,
    clock: ClockFlag,
    #[serde(default)]
    missing_blobs: Vec<String>,
}

impl From<FlatProjection> for Projection {
    fn from(flat: FlatProjection) -> Projection {
        Projection {
            entity: Entity {
                id: flat.id,
                entity_type: flat.entity_type,
                scope: flat.scope,
                deleted: flat.deleted,
                body: flat.body,
                blobs: flat.blobs,
            },
            rev: flat.rev,
            buckets: flat.buckets,
            last_event_id: flat.last_event_id,
            captured_at_ms: flat.captured_at_ms,
            received_at_ms: flat.received_at_ms,
            clock: flat.clock,
            missing_blobs: flat.missing_blobs,
        }
    }
}

/// One bucket's state at a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketState {
    /// The bucket.
    pub bucket: String,
    /// Entities in it (tombstones included).
    pub count: u64,
    /// Its digest, hex.
    pub digest: String,
}

impl BucketState {
    /// From a digest.
    pub fn new(bucket: &str, digest: &BucketDigest) -> BucketState {
        BucketState {
            bucket: bucket.to_string(),
            count: digest.count,
            digest: digest.digest_hex(),
        }
    }
}

/// The answer to a pull. A server passes its stored projections on as they are (`E` is then
/// their raw JSON); a reader decodes them as [`Projection`]s.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse<E = Projection> {
    /// The caller's buckets, or its scope changed, or the cursor is unknown to this server:
    /// drop every projection (never the outbox), then pull again from `next_cursor`.
    pub reset: bool,
    /// Entities changed after the cursor, in revision order.
    pub entities: Vec<E>,
    /// Where the next page starts.
    pub next_cursor: String,
    /// This page completes a checkpoint: apply the staged pages now.
    pub complete: bool,
    /// At a checkpoint: the caller's buckets with their counts and digests.
    pub checkpoint: Option<Vec<BucketState>>,
    /// Receipts of the named device after `receipts_after`.
    pub receipts: Vec<Receipt>,
    /// The last `seq` of the named device's chain the server holds. A device whose acknowledged
    /// events go further (the server was restored from an older backup) pushes them again from
    /// the one after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_seq: Option<u64>,
}

/// A [`JudgedEvent`] to be written, borrowing its parts: it serializes exactly as the owned
/// form, so a server stores an event without copying it.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct JudgedEventRef<'a> {
    /// As in [`JudgedEvent`].
    pub event: &'a SignedEvent,
    /// As in [`JudgedEvent`].
    pub receipt: &'a Receipt,
    /// As in [`JudgedEvent`].
    pub time: crate::clock::CaptureTime,
    /// As in [`JudgedEvent`].
    pub user_id: &'a str,
}

/// The stored form of an event: the event, its receipt and its times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgedEvent {
    /// The event as signed.
    pub event: SignedEvent,
    /// Its receipt.
    pub receipt: Receipt,
    /// Its capture time as estimated.
    pub time: crate::clock::CaptureTime,
    /// The user its device was enrolled to.
    pub user_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_borrowed_judged_event_is_stored_as_the_owned_one() {
        let (key, mut body) = crate::event::tests::vector();
        body.template_ref = Some("tpl@1".into());
        let event = key.sign(body).unwrap();
        let receipt = Receipt {
            seq: 1,
            event_id: event.body.id.clone(),
            hash: event.hash.clone(),
            verdict: crate::judge::Verdict::Applied,
            reason: None,
            rev: Some(7),
            issue_id: None,
            received_at_ms: 1_700_000_001_000,
        };
        let time = crate::clock::estimate(1_700_000_000_000, 1_700_000_000_500, 1_700_000_001_000);
        let owned = JudgedEvent {
            event: event.clone(),
            receipt: receipt.clone(),
            time,
            user_id: "u1".into(),
        };
        let borrowed = JudgedEventRef {
            event: &event,
            receipt: &receipt,
            time,
            user_id: "u1",
        };
        let bytes = serde_json::to_vec(&borrowed).unwrap();
        assert_eq!(bytes, serde_json::to_vec(&owned).unwrap());
        assert_eq!(
            serde_json::from_slice::<JudgedEvent>(&bytes).unwrap(),
            owned
        );
    }
}
