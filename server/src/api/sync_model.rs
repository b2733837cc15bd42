//! The wire types of devices and sync. They describe, for the spec, exactly the JSON that
//! `anjian_sync::protocol`'s serde types read and write: values cross between the two through
//! JSON ([`via_json`]), so the server emits what the shared client code parses.

use poem_openapi::types::{ParseFromJSON, ToJSON};
use poem_openapi::{Enum, Object};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::text::Text;
use crate::store::model::Device;

/// Converts a serde type to its wire description through their shared JSON. A value that does
/// not fit is a bug in this module: it is logged, and the client gets a plain `internal` error.
pub fn via_json<W: ParseFromJSON, T: serde::Serialize>(
    value: &T,
) -> Result<W, super::error::ApiError> {
    let json = serde_json::to_value(value).map_err(|err| err.to_string());
    json.and_then(|json| W::parse_from_json(Some(json)).map_err(|err| err.into_message()))
        .map_err(|err| {
            tracing::error!(error = %err, "a value does not fit its wire description");
            super::error::ApiError::new(
                poem::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the server failed to encode its answer; it has been logged",
            )
        })
}

/// Projections on the wire.
pub fn projections(
    items: &[anjian_sync::protocol::Projection],
) -> Result<Vec<Projection>, super::error::ApiError> {
    items.iter().map(via_json).collect()
}

/// Converts a wire value to its serde type through JSON.
pub fn from_wire<T: serde::de::DeserializeOwned, W: ToJSON>(wire: &W) -> Result<T, String> {
    serde_json::from_value(wire.to_json().unwrap_or_default()).map_err(|err| err.to_string())
}

/// Enrols a device (登记设备).
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The device's Ed25519 public key, 64 lower-case hex characters. The private key never
    /// leaves the device.
    #[oai(validator(max_length = 64))]
    pub public_key: Text,
    /// A name for people ("李的手机"), 1 to 64 characters.
    #[oai(validator(max_length = 64))]
    pub name: Text,
}

/// An enrolled device.
#[derive(Debug, Object)]
pub struct DeviceView {
    /// Its id: every event it signs names it.
    pub id: Uuid,
    /// The user it is enrolled to.
    pub user_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its public key, hex.
    pub public_key: String,
    /// When it was enrolled.
    pub enrolled_at: OffsetDateTime,
    /// When it was revoked; its pushes are refused since.
    #[oai(skip_serializing_if_is_none)]
    pub revoked_at: Option<OffsetDateTime>,
    /// The highest `seq` the server holds from it.
    pub last_seq: u64,
    /// When it last pushed.
    #[oai(skip_serializing_if_is_none)]
    pub last_push_at: Option<OffsetDateTime>,
}

impl From<&Device> for DeviceView {
    fn from(device: &Device) -> DeviceView {
        DeviceView {
            id: device.id,
            user_id: device.user_id,
            name: device.name.clone(),
            public_key: device.public_key.clone(),
            enrolled_at: device.enrolled_at.to_datetime(),
            revoked_at: device.revoked_at.map(|t| t.to_datetime()),
            last_seq: device.last_seq,
            last_push_at: device.last_push_at.map(|t| t.to_datetime()),
        }
    }
}

/// Devices.
#[derive(Debug, Object)]
pub struct DeviceList {
    /// In enrolment order.
    pub devices: Vec<DeviceView>,
}

/// A fork refused from a device (分叉记录): a verified event of it that reused a taken `seq`
/// with other content.
#[derive(Debug, Object)]
pub struct ForkView {
    /// The `seq` it reused.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// The refused event, whole and signed.
    pub event: Event,
    /// When it was refused.
    pub refused_at: OffsetDateTime,
}

/// A device's recorded forks.
#[derive(Debug, Object)]
pub struct ForkList {
    /// In `seq` order; at most 32 are kept per device.
    pub forks: Vec<ForkView>,
}

/// When the device says something was captured.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct Captured {
    /// The device clock at capture, ms since the Unix epoch.
    pub wall_ms: i64,
    /// The device's offset from UTC, minutes (China: 480).
    pub tz_offset_min: i32,
}

/// A signed event (事件). Every member but `hash` and `sig` is hashed, in the canonical
/// encoding of `openapi/PROTOCOL.md`; absent optional members count as `null`.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct Event {
    /// Format version: 1.
    pub v: u32,
    /// The enrolled device.
    pub device_id: String,
    /// 1, 2, 3 … per device, without gaps.
    pub seq: u64,
    /// A UUIDv7 chosen by the device.
    pub id: String,
    /// The previous event's hash; 64 zeros for seq 1.
    pub prev_hash: String,
    /// What was done: `enterprise.save`, `grid.save`, `team.save`, `worker.save`,
    /// `meeting.submit`, `meeting.amend`, `hazard.report`, `hazard.transition`,
    /// `hazard.deadline`, `article.save`, `article.submit`, `article.review`,
    /// `article.withdraw`, `template.publish`, `inspection.submit`, `inspection.amend`,
    /// `issue.handle`, `briefing.record`, `risk.assess`, `risk.retire`, `card.publish`, `commitment.sign`,
    /// `notice.publish`, `notice.withdraw`, `schedule.save`, `floorplan.save`. Any
    /// other kind is taken and quarantined (`unknown-kind`).
    pub kind: String,
    /// The entity it is about.
    pub entity_id: String,
    /// The kind's data (see PROTOCOL.md).
    pub payload: Value,
    /// sha256 (hex) of each photo or file cited; `[]` when none. Required: it is hashed.
    pub blob_refs: Vec<String>,
    /// The checklist template version used, or `null`.
    #[oai(nullable)]
    pub template_ref: Option<String>,
    /// The entity revision an edit was based on, or `null` (reserved for editable drafts).
    #[oai(nullable)]
    pub base_rev: Option<u64>,
    /// Capture time, as the device says.
    pub captured: Captured,
    /// sha256 of the canonical encoding, hex.
    pub hash: String,
    /// Ed25519 signature of the 32 hash bytes, hex.
    pub sig: String,
}

/// A batch of one device's events.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct PushRequest {
    /// The device.
    pub device_id: String,
    /// The device's clock now, ms since the epoch.
    pub device_clock_ms: i64,
    /// Up to 500 events, ascending `seq`, without gaps.
    #[oai(validator(max_items = 500))]
    pub events: Vec<Event>,
}

/// The three verdicts.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum Verdict {
    /// The entity changed.
    Applied,
    /// Valid but stale; kept as a sync issue for a person to resolve.
    Conflict,
    /// Invalid; kept as a sync issue with the reason, shown to its author.
    Quarantined,
}

/// Why an event was not applied.
#[derive(Debug, Object)]
pub struct Reason {
    /// Stable code, e.g. `stale-transition`, `not-permitted`, `payload-invalid`.
    pub code: String,
    /// For a person.
    pub message: String,
}

/// The acknowledgement of one event; durable once received.
#[derive(Debug, Object)]
pub struct Receipt {
    /// The event's seq.
    pub seq: u64,
    /// The event's id.
    pub event_id: String,
    /// The event's hash.
    pub hash: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, unless applied.
    #[oai(nullable)]
    pub reason: Option<Reason>,
    /// The entity's revision after an applied event.
    #[oai(nullable)]
    pub rev: Option<u64>,
    /// The sync issue kept for a conflict or quarantine.
    #[oai(nullable)]
    pub issue_id: Option<String>,
    /// When the server received it, ms.
    pub received_at_ms: i64,
}

/// Why a push stopped; the events before were taken.
#[derive(Debug, Object)]
pub struct Refusal {
    /// The refused event's seq.
    pub seq: u64,
    /// `gap`, `fork`, `broken-chain`, `bad-signature`, `hash-mismatch`, `malformed-event`,
    /// `wrong-device`.
    pub code: String,
    /// What happened and what to do.
    pub message: String,
    /// The seq the server expects next.
    pub expected_seq: u64,
}

/// The answer to a push.
#[derive(Debug, Object)]
pub struct PushResponse {
    /// One receipt per event taken (replays included), in order.
    pub receipts: Vec<Receipt>,
    /// Set when the push stopped early.
    #[oai(nullable)]
    pub refused: Option<Refusal>,
    /// The highest seq the server holds from the device.
    pub last_seq: u64,
}

/// What an entity is.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum EntityType {
    /// Shift safety meeting (班组安全交接会).
    Meeting,
    /// Hazard (隐患).
    Hazard,
    /// A conflict or quarantined event kept for a person.
    SyncIssue,
    /// Enterprise (企业).
    Enterprise,
    /// Grid (网格 / 村居).
    Grid,
    /// Team (班组).
    Team,
    /// Worker (从业人员).
    Worker,
    /// Article (宣传稿件).
    Article,
    /// Checklist template version (检查表).
    Template,
    /// Inspection (检查).
    Inspection,
    /// Pre-shift one-minute briefing (岗前一分钟培训).
    Briefing,
    /// Risk point (风险点).
    RiskPoint,
    /// One of a post's three cards (三卡).
    Card,
    /// Yearly safety commitment (主体责任告知承诺).
    Commitment,
    /// Notice of major safety risks (重大安全风险公告).
    Notice,
    /// A team's duty schedule (班组工作日历与安全活动安排).
    Schedule,
    /// An enterprise's floor plan (平面布置图).
    FloorPlan,
}

/// Whose an entity is.
#[derive(Debug, Object)]
pub struct EntityScope {
    /// Enterprise.
    #[oai(nullable)]
    pub enterprise: Option<String>,
    /// Team.
    #[oai(nullable)]
    pub team: Option<String>,
    /// Grid.
    #[oai(nullable)]
    pub grid: Option<String>,
    /// Users it concerns.
    pub users: Vec<String>,
    /// Public.
    pub public: bool,
    /// Part of the enterprise's directory (bucket `directory:<enterprise>`).
    pub directory: bool,
    /// Waiting for a reviewer (bucket `review`).
    pub review: bool,
    /// Reference data every user reads (bucket `reference`).
    pub reference: bool,
}

/// How far to trust a capture time.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ClockFlag {
    /// The device clock agreed with the server's.
    Ok,
    /// The device clock was off; corrected by its skew.
    Corrected,
    /// Not to be trusted.
    Unreliable,
}

/// An entity as the server judged it (a projection).
#[derive(Debug, Object)]
pub struct Projection {
    /// Its id.
    pub id: String,
    /// What it is.
    pub entity_type: EntityType,
    /// Whose it is.
    pub scope: EntityScope,
    /// A tombstone: drop it.
    pub deleted: bool,
    /// The type's data (see PROTOCOL.md).
    pub body: Value,
    /// The photos it cites (sha256), sorted: its evidence (证据照片).
    #[oai(default)]
    pub blobs: Vec<String>,
    /// The photos it cites that the server does not hold yet. Empty means it is evidentially
    /// complete (证据完整): every photo it cites is present and matches its hash.
    #[oai(default)]
    pub missing_blobs: Vec<String>,
    /// Server-wide revision of its last change.
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
}

/// A bucket at a checkpoint.
#[derive(Debug, Object)]
pub struct BucketState {
    /// The bucket.
    pub bucket: String,
    /// Entities in it, tombstones included.
    pub count: u64,
    /// XOR of sha256(`<id>\n<rev>`) over them, hex.
    pub digest: String,
}

/// A page of a pull.
#[derive(Debug, Object)]
pub struct PullResponse {
    /// Drop every projection (never the outbox) and pull again from `next_cursor`.
    pub reset: bool,
    /// Changed entities, in revision order.
    pub entities: Vec<Projection>,
    /// Where the next page starts.
    pub next_cursor: String,
    /// This page completes a checkpoint: apply the staged pages now.
    pub complete: bool,
    /// At a checkpoint, the caller's buckets.
    #[oai(nullable)]
    pub checkpoint: Option<Vec<BucketState>>,
    /// The named device's receipts after `receipts_after`.
    pub receipts: Vec<Receipt>,
    /// With `device_id`: the last `seq` of that device's chain the server holds. A device whose
    /// acknowledged events go further (the server was restored from an older backup, 备份恢复)
    /// pushes them again from the one after it.
    #[oai(skip_serializing_if_is_none)]
    pub device_seq: Option<u64>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]
mod tests {
    use poem_openapi::types::{ParseFromJSON, ToJSON};
    use serde_json::json;

    /// What the protocol type writes, the wire type (the spec) reads; and what the wire type
    /// writes, the protocol type reads back to the same value.
    fn agree<W, T>(value: &T)
    where
        W: ParseFromJSON + ToJSON,
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let json = serde_json::to_value(value).unwrap();
        let wire = W::parse_from_json(Some(json.clone()))
            .unwrap_or_else(|err| panic!("the spec does not take {json}: {}", err.into_message()));
        let back: T = serde_json::from_value(wire.to_json().unwrap()).unwrap();
        assert_eq!(&back, value);
    }

    /// The same JSON refused by both: the spec and the runtime agree on what they refuse.
    fn both_refuse<W: ParseFromJSON, T: serde::de::DeserializeOwned>(value: serde_json::Value) {
        assert!(
            W::parse_from_json(Some(value.clone())).is_err(),
            "the spec takes {value}"
        );
        assert!(
            serde_json::from_value::<T>(value.clone()).is_err(),
            "the server takes {value}"
        );
    }

    fn event() -> serde_json::Value {
        let key = anjian_sync::event::DeviceKey::from_secret([7; 32]);
        let body = anjian_sync::event::EventBody {
            v: 1,
            device_id: "0192f3a0-0000-7000-8000-000000000001".into(),
            seq: 1,
            id: "0192f3a0-0000-7000-8000-0000000000e1".into(),
            prev_hash: anjian_sync::event::GENESIS_HASH.into(),
            kind: "hazard.report".into(),
            entity_id: "0192f3a0-0000-7000-8000-0000000000a1".into(),
            payload: json!({"level": "general", "description": "配电箱未接地"}),
            blob_refs: vec!["ab".repeat(32)],
            template_ref: None,
            base_rev: Some(3),
            captured: anjian_sync::event::Captured {
                wall_ms: 1_764_300_000_000,
                tz_offset_min: 480,
            },
        };
        serde_json::to_value(key.sign(body).unwrap()).unwrap()
    }

    #[test]
    fn the_mirrored_sync_types_read_and_write_what_the_protocol_types_do() {
        let push = json!({"device_id": "0192f3a0-0000-7000-8000-000000000001",
            "device_clock_ms": 1_764_300_000_000_i64, "events": [event()]});
        let parsed: anjian_sync::protocol::PushRequest =
            serde_json::from_value(push.clone()).unwrap();
        agree::<super::PushRequest, _>(&parsed);

        let receipt = anjian_sync::protocol::Receipt {
            seq: 1,
            event_id: "0192f3a0-0000-7000-8000-0000000000e1".into(),
            hash: "ab".repeat(32),
            verdict: anjian_sync::judge::Verdict::Quarantined,
            reason: Some(anjian_sync::judge::Reason {
                code: "not-permitted".into(),
                message: "m".into(),
            }),
            rev: None,
            issue_id: Some("issue".into()),
            received_at_ms: 1,
        };
        let response = anjian_sync::protocol::PushResponse {
            receipts: vec![receipt],
            refused: Some(anjian_sync::protocol::Refusal {
                seq: 2,
                code: "gap".into(),
                message: "m".into(),
                expected_seq: 2,
            }),
            last_seq: 1,
        };
        agree::<super::PushResponse, _>(&response);

        for missing in [json!([]), json!(["ab".repeat(32)])] {
            let mut projection = json!({"id": "0192f3a0-0000-7000-8000-0000000000a1",
                "entity_type": "hazard", "deleted": false, "body": {"state": "reported"},
                "blobs": ["ab".repeat(32)], "missing_blobs": missing, "rev": 7,
                "buckets": ["grid:g1", "town"], "last_event_id": "e", "captured_at_ms": 1,
                "received_at_ms": 2, "clock": "ok",
                "scope": {"enterprise": null, "team": null, "grid": "g1", "users": [],
                    "public": false, "directory": false, "review": false, "reference": false}});
            let parsed: anjian_sync::protocol::Projection =
                serde_json::from_value(projection.clone()).unwrap();
            projection = serde_json::to_value(&parsed).unwrap();
            let pull = json!({"reset": false, "entities": [projection], "next_cursor": "c",
                "complete": true, "checkpoint": null, "receipts": []});
            let parsed: anjian_sync::protocol::PullResponse = serde_json::from_value(pull).unwrap();
            agree::<super::PullResponse, _>(&parsed);
        }

        // What both refuse: a member no one named, in the push and in an event. Too many events
        // is the service's to refuse (400); the spec's `maxItems` is its limit.
        let spec = super::super::spec();
        assert_eq!(
            spec["components"]["schemas"]["PushRequest"]["properties"]["events"]["maxItems"],
            json!(anjian_sync::protocol::MAX_PUSH_EVENTS)
        );
        let mut extra = push.clone();
        extra["extra"] = json!(1);
        both_refuse::<super::PushRequest, anjian_sync::protocol::PushRequest>(extra);
        let mut extra = push;
        extra["events"][0]["note"] = json!("not hashed");
        both_refuse::<super::PushRequest, anjian_sync::protocol::PushRequest>(extra);
    }
}
