//! The persisted bytes of every record type, pinned (`persisted-1.txt`): a change to a record's
//! fields, their order or their encoding changes its bytes, which these tests catch before a
//! release writes records an earlier one reads wrongly.
//!
//! For each record, a fixed value: the bytes pinned in the file must read back as that value
//! (what a store holds stays readable), and the value must be written as those bytes (the
//! format did not drift). Packed records (events, projections) are compared by what they hold,
//! not byte for byte: a new zstd may compress the same bytes otherwise.
//! `UPDATE_SNAPSHOTS=1` writes the file again, for a deliberate new format.

use std::collections::BTreeMap;

use anjian_sync::access::{Grant, Role, Scopes};
use anjian_sync::clock::{CaptureTime, ClockFlag};
use anjian_sync::entity::{BucketDigest, Entity, EntityScope, EntityType};
use anjian_sync::event::{Captured, DeviceKey, EventBody, GENESIS_HASH, canonical_bytes};
use anjian_sync::judge::{Reason, Verdict};
use anjian_sync::protocol::{JudgedEvent, JudgedEventRef, Projection, Receipt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use uuid::Uuid;

use super::codec::{Dictionary, decode, encode, encode_json, encode_packed, unpack};
use super::facts::Fact;
use super::model::{
    BlobMeta, Device, ForkRecord, GpsPoint, Invitation, LoginMethod, PasswordHash, Session,
    UnixMillis, Upload, User,
};
use super::records;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/persisted-1.txt");

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0192_f3a0_0000_7000_8000_0000_0000_0000 | n)
}

fn at(n: i64) -> UnixMillis {
    UnixMillis(1_764_000_000_000 + n)
}

pub(super) fn event() -> JudgedEvent {
    let key = DeviceKey::from_secret([7u8; 32]);
    let body = EventBody {
        v: 1,
        device_id: id(1).to_string(),
        seq: 3,
        id: id(0xe1).to_string(),
        prev_hash: GENESIS_HASH.into(),
        kind: "hazard.report".into(),
        entity_id: id(0xa1).to_string(),
        payload: json!({"description": "配电箱未接地", "level": "general", "deadline": "2026-12-05"}),
        blob_refs: vec!["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()],
        template_ref: Some("tpl@1".into()),
        base_rev: None,
        captured: Captured {
            wall_ms: 1_764_000_000_000,
            tz_offset_min: 480,
        },
    };
    let event = key.sign(body).unwrap();
    let receipt = Receipt {
        seq: 3,
        event_id: event.body.id.clone(),
        hash: event.hash.clone(),
        verdict: Verdict::Conflict,
        reason: Some(Reason {
            code: "stale-transition".into(),
            message: "已被他人处理".into(),
        }),
        rev: Some(42),
        issue_id: Some(id(0x15).to_string()),
        received_at_ms: 1_764_000_100_000,
    };
    JudgedEvent {
        event,
        receipt,
        time: CaptureTime {
            claimed_ms: 1_764_000_000_000,
            device_clock_ms: 1_764_000_090_000,
            skew_ms: -10_000,
            captured_at_ms: 1_764_000_010_000,
            clock: ClockFlag::Corrected,
            received_at_ms: 1_764_000_100_000,
        },
        user_id: id(0x5).to_string(),
    }
}

fn projection() -> Projection {
    Projection {
        entity: Entity {
            id: id(0xa1).to_string(),
            entity_type: EntityType::Hazard,
            scope: EntityScope {
                enterprise: Some(id(0xe0).to_string()),
                grid: Some(id(0x90).to_string()),
                users: vec![id(0x5).to_string()],
                ..EntityScope::default()
            },
            deleted: false,
            body: json!({"state": "reported", "description": "配电箱未接地"}),
            blobs: vec!["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()],
        },
        rev: 42,
        buckets: vec![format!("grid:{}", id(0x90))],
        last_event_id: id(0xe1).to_string(),
        captured_at_ms: 1_764_000_010_000,
        received_at_ms: 1_764_000_100_000,
        clock: ClockFlag::Corrected,
        missing_blobs: vec![],
    }
}

/// Whether bytes read as a fixed record.
type Reads = Box<dyn Fn(&[u8]) -> bool>;

/// One record's pinned form: its bytes, and how to check them.
struct Pinned {
    name: &'static str,
    bytes: Vec<u8>,
    /// Reads pinned bytes and says whether they hold the fixed value.
    reads: Reads,
    /// Whether the bytes are compressed (compared by what they hold, not byte for byte).
    packed: bool,
}

fn plain<T>(name: &'static str, value: T, json: bool) -> Pinned
where
    T: Serialize + DeserializeOwned + PartialEq + 'static,
{
    let bytes = if json {
        encode_json(&value)
    } else {
        encode(&value)
    }
    .unwrap();
    Pinned {
        name,
        bytes,
        reads: Box::new(move |bytes| decode::<T>(name, bytes).ok().as_ref() == Some(&value)),
        packed: false,
    }
}

fn every_record() -> Vec<Pinned> {
    let grant = Grant::new(
        [Role::Inspector],
        Scopes {
            grids: [id(0x90).to_string()].into(),
            ..Scopes::default()
        },
    )
    .unwrap();
    let user = User {
        id: id(0x5),
        username: "inspector".into(),
        display_name: "王检查".into(),
        password_hash: Some(PasswordHash(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        )),
        grant,
        disabled: false,
        wechat_openid: Some("o6_bmjrPTlm6_2sgVt7hMZOPfL2M".into()),
        created_at: at(0),
        updated_at: at(5),
        rev: 3,
    };
    let session = Session {
        user_id: id(0x5),
        method: LoginMethod::WeChat,
        created_at: at(0),
        expires_at: at(86_400_000),
    };
    let invitation = Invitation {
        user_id: id(0x5),
        created_by: id(0x1),
        created_at: at(0),
        expires_at: at(1000),
        redeemed_at: Some(at(500)),
    };
    let device = Device {
        id: id(1),
        user_id: id(0x5),
        public_key: DeviceKey::from_secret([7u8; 32]).public_hex(),
        name: "李的手机".into(),
        enrolled_at: at(0),
        revoked_at: None,
        last_seq: 3,
        last_hash: GENESIS_HASH.into(),
        last_push_at: Some(at(9)),
    };
    let blob = BlobMeta {
        sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        size: 123_456,
        media_type: "image/jpeg".into(),
        width: 4000,
        height: 3000,
        orientation: 6,
        taken_at: Some("2026-11-28T09:30:00+08:00".into()),
        gps: Some(GpsPoint {
            lat: 32.6,
            lon: 120.9,
            alt: Some(3.5),
        }),
        received_at: at(7),
        uploaded_by: id(0x5),
    };
    let upload = Upload {
        id: id(0x77),
        sha256: blob.sha256.clone(),
        length: 123_456,
        user_id: id(0x5),
        created_at: at(0),
        expires_at: at(3_600_000),
    };
    let fact: Fact<u32> = Fact {
        grid: id(0x90).to_string(),
        enterprise: id(0xe0).to_string(),
        buckets: vec![3, 300],
        state: "reported".into(),
        level: "general".into(),
        at_ms: 1_764_000_010_000,
        day: "2026-11-25".into(),
        deadline: "2026-12-05".into(),
        evidence_complete: true,
        label: "配电箱未接地".into(),
        ..Fact::default()
    };
    let named_fact: Fact = fact
        .clone()
        .map_buckets(|n| Ok::<_, std::convert::Infallible>(format!("grid:{n}")))
        .unwrap();
    let digest = BucketDigest {
        count: 12,
        digest: [0xab; 32],
    };
    let judged = event();
    let fork = ForkRecord {
        event: judged.event.clone(),
        refused_at: at(11),
    };
    let event_bytes = records::encode_event(
        &JudgedEventRef {
            event: &judged.event,
            receipt: &judged.receipt,
            time: judged.time,
            user_id: &judged.user_id,
        },
        None,
    )
    .unwrap();
    let receipt_bytes = records::encode_receipt(&judged.receipt).unwrap();
    let receipt = judged.receipt.clone();
    let expected = judged.clone();
    let projection = projection();
    let projection_bytes = encode_packed(Dictionary::Projections, &projection).unwrap();
    vec![
        plain("user", user, false),
        plain("session", session, false),
        plain("invitation", invitation, false),
        plain("device", device, false),
        plain("blob", blob, false),
        plain("upload", upload, false),
        // The previous version's facts (buckets named), still read when facts are made again.
        plain("fact-named", named_fact, false),
        plain("fact", fact, false),
        plain("bucket-digest", digest, false),
        plain("fork", fork, true),
        Pinned {
            name: "receipt",
            bytes: receipt_bytes,
            reads: Box::new(move |bytes| {
                records::decode_receipt(receipt.seq, bytes).ok().as_ref() == Some(&receipt)
            }),
            packed: false,
        },
        Pinned {
            name: "event",
            bytes: event_bytes,
            reads: Box::new(move |bytes| {
                records::decode_event(bytes, expected.receipt.clone())
                    .ok()
                    .as_ref()
                    == Some(&expected)
                    && records::signed_bytes(bytes).ok()
                        == Some(canonical_bytes(&expected.event.body).unwrap())
            }),
            packed: true,
        },
        Pinned {
            name: "projection",
            bytes: projection_bytes,
            reads: Box::new(move |bytes| {
                decode::<Projection>("projection", bytes).ok().as_ref() == Some(&projection)
                    && unpack("projection", bytes).ok() == serde_json::to_vec(&projection).ok()
            }),
            packed: true,
        },
    ]
}

fn pinned() -> BTreeMap<String, Vec<u8>> {
    let text = std::fs::read_to_string(FILE).unwrap_or_default();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (name, bytes) = line.split_once(' ').unwrap();
            (name.to_string(), hex::decode(bytes).unwrap())
        })
        .collect()
}

#[test]
fn every_record_is_written_and_read_as_pinned() {
    let records = every_record();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        let mut text = String::from(
            "# The persisted bytes of each record type, hex (store format 1). Written by\n# `UPDATE_SNAPSHOTS=1 cargo test -p anjian-server --lib persisted`; see persisted.rs.\n",
        );
        for record in &records {
            text.push_str(&format!("{} {}\n", record.name, hex::encode(&record.bytes)));
        }
        std::fs::write(FILE, text).unwrap();
    }
    let pinned = pinned();
    assert_eq!(
        pinned.keys().collect::<Vec<_>>(),
        {
            let mut names: Vec<&str> = records.iter().map(|r| r.name).collect();
            names.sort();
            names
        },
        "every record type is pinned"
    );
    for record in &records {
        let bytes = &pinned[record.name];
        assert!(
            (record.reads)(bytes),
            "the pinned bytes of a {} record no longer read as the record",
            record.name
        );
        if record.packed {
            // What the compressor makes may change with zstd; what it holds may not.
            assert!(
                (record.reads)(&record.bytes),
                "a {} record is written as something else",
                record.name
            );
        } else {
            assert_eq!(
                hex::encode(&record.bytes),
                hex::encode(bytes),
                "a {} record is written otherwise than pinned",
                record.name
            );
        }
    }
}
