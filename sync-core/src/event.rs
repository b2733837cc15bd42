//! Events: the intents a device records, hash-chained and signed.
//!
//! An *event* is one thing a person did on a device (`hazard.report`, `meeting.submit`, …),
//! recorded with the device's *sequence number* `seq` (1, 2, 3 … without gaps), a UUIDv7 `id`,
//! and the *hash* of the device's previous event (`prev_hash`; 64 zeros for `seq` 1), so a
//! device's events form a chain that cannot be reordered, dropped from the middle or edited
//! without the break showing. The event's *hash* is sha256 of its canonical encoding
//! ([`crate::canonical`]) without the `hash` and `sig` members; the *signature* is Ed25519 by
//! the device's key over the 32 hash bytes. Hashes, keys and signatures travel as lower-case hex.

/// A device's public key, which its events' signatures verify with.
pub use ed25519_dalek::VerifyingKey;
use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::canonical::{CanonicalError, object_to_canonical};

/// The event format version this crate writes and reads.
pub const EVENT_VERSION: u32 = 1;
/// `prev_hash` of a device's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The most blob references one event may carry.
pub const MAX_BLOB_REFS: usize = 32;
/// The largest canonical encoding of one event, in bytes.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// When the device says the thing was captured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Captured {
    /// The device's clock at capture, milliseconds since the Unix epoch.
    pub wall_ms: i64,
    /// The device's time-zone offset from UTC at capture, in minutes (China: 480).
    pub tz_offset_min: i32,
}

/// Everything of an event that is hashed and signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBody {
    /// Format version, [`EVENT_VERSION`].
    pub v: u32,
    /// The enrolled device that recorded it.
    pub device_id: String,
    /// The device's sequence number: 1, 2, 3 … without gaps.
    pub seq: u64,
    /// A UUIDv7 chosen by the device.
    pub id: String,
    /// The hash of the device's previous event, or [`GENESIS_HASH`].
    pub prev_hash: String,
    /// What was done, e.g. `hazard.transition`.
    pub kind: String,
    /// The entity it is about (a UUID chosen by the device that created the entity).
    pub entity_id: String,
    /// The kind's data.
    pub payload: Value,
    /// sha256 (hex) of each photo or file the event cites.
    pub blob_refs: Vec<String>,
    /// The checklist template version the event was captured with, if any.
    pub template_ref: Option<String>,
    /// The entity revision the edit was based on, for editable drafts.
    pub base_rev: Option<u64>,
    /// When the device says it was captured.
    pub captured: Captured,
}

/// An event with its hash and signature, as pushed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "FlatSignedEvent")]
pub struct SignedEvent {
    /// The signed content.
    #[serde(flatten)]
    pub body: EventBody,
    /// sha256 of the canonical encoding of `body`, hex.
    pub hash: String,
    /// Ed25519 signature of the 32 hash bytes, hex.
    pub sig: String,
}

/// A [`SignedEvent`] as its members arrive, all at one level: read directly, without the
/// buffering `flatten` needs (pushes carry hundreds of events).
/// A member the event does not name is refused: it would be neither hashed nor kept.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlatSignedEvent {
    v: u32,
    device_id: String,
    seq: u64,
    id: String,
    prev_hash: String,
    kind: String,
    entity_id: String,
    payload: Value,
    blob_refs: Vec<String>,
    template_ref: Option<String>,
    base_rev: Option<u64>,
    captured: Captured,
    hash: String,
    sig: String,
}

impl From<FlatSignedEvent> for SignedEvent {
    fn from(flat: FlatSignedEvent) -> SignedEvent {
        SignedEvent {
            body: EventBody {
                v: flat.v,
                device_id: flat.device_id,
                seq: flat.seq,
                id: flat.id,
                prev_hash: flat.prev_hash,
                kind: flat.kind,
                entity_id: flat.entity_id,
                payload: flat.payload,
                blob_refs: flat.blob_refs,
                template_ref: flat.template_ref,
                base_rev: flat.base_rev,
                captured: flat.captured,
            },
            hash: flat.hash,
            sig: flat.sig,
        }
    }
}

/// Why an event is not a well-formed link of its device's chain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The body has no canonical encoding.
    #[error("the event has no canonical encoding: {0}")]
    Canonical(#[from] CanonicalError),
    /// The canonical encoding is too large.
    #[error("the event is {0} bytes; at most {MAX_EVENT_BYTES} are accepted")]
    TooLarge(usize),
    /// A field is malformed.
    #[error("{0}")]
    Malformed(String),
    /// `hash` is not the sha256 of the canonical encoding.
    #[error("the hash does not match the event's content (computed {computed})")]
    HashMismatch {
        /// The hash of the content as received.
        computed: String,
    },
    /// The signature does not verify with the device's key.
    #[error("the signature does not verify with the device's key")]
    BadSignature,
}

/// The canonical encoding of a body.
pub fn canonical_bytes(body: &EventBody) -> Result<Vec<u8>, EventError> {
    // The members as `serde_json::to_value(body)` would give them, but the payload by reference
    // rather than copied into a new tree. Naming every field (no `..`) keeps a field added to
    // the body from being left out of what is signed.
    let EventBody {
        v,
        device_id,
        seq,
        id,
        prev_hash,
        kind,
        entity_id,
        payload,
        blob_refs,
        template_ref,
        base_rev,
        captured,
    } = body;
    let small = [
        ("v", json!(v)),
        ("device_id", json!(device_id)),
        ("seq", json!(seq)),
        ("id", json!(id)),
        ("prev_hash", json!(prev_hash)),
        ("kind", json!(kind)),
        ("entity_id", json!(entity_id)),
        ("blob_refs", json!(blob_refs)),
        ("template_ref", json!(template_ref)),
        ("base_rev", json!(base_rev)),
        ("captured", json!(captured)),
    ];
    let mut members: Vec<(&str, &Value)> = small.iter().map(|(k, v)| (*k, v)).collect();
    members.push(("payload", payload));
    let bytes = object_to_canonical(&mut members)?;
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(EventError::TooLarge(bytes.len()));
    }
    Ok(bytes)
}

/// sha256 of a body's canonical encoding, as hex.
pub fn hash_body(body: &EventBody) -> Result<String, EventError> {
    Ok(hex::encode(Sha256::digest(canonical_bytes(body)?)))
}

/// Whether `s` is a sha256 in lower-case hex, the form blobs are named by.
pub fn is_sha256_hex(s: &str) -> bool {
    is_hex(s, 64)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `s` is a UUID in its one canonical form: lower-case hex with dashes. The same UUID
/// in upper case is another string, and would be another key; it is refused, never folded.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => matches!(b, b'0'..=b'9' | b'a'..=b'f'),
        })
}

/// The most a `seq` may be: the largest integer a JavaScript number holds exactly, as the
/// canonical encoding allows, so every client can count to it and one past it never overflows.
pub const MAX_SEQ: u64 = crate::canonical::MAX_SAFE_INTEGER as u64;

/// A device's signing key. Its `Debug` does not print the secret.
pub struct DeviceKey(SigningKey);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKey(public {})", self.public_hex())
    }
}

impl DeviceKey {
    /// A key from 32 secret bytes (drawn from the operating system's generator by the caller).
    pub fn from_secret(secret: [u8; 32]) -> DeviceKey {
        DeviceKey(SigningKey::from_bytes(&secret))
    }

    /// The 32 secret bytes, to store on the device.
    pub fn secret(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key, hex, as enrolled with the server.
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().to_bytes())
    }

    /// Hashes and signs a body.
    pub fn sign(&self, body: EventBody) -> Result<SignedEvent, EventError> {
        let hash = hash_body(&body)?;
        let raw = hex::decode(&hash).map_err(|err| EventError::Malformed(err.to_string()))?;
        let sig = hex::encode(self.0.sign(&raw).to_bytes());
        Ok(SignedEvent { body, hash, sig })
    }
}

/// Parses a public key in its one canonical form, 64 lower-case hex characters, and refuses
/// weak keys (points of small order), under which a signature can verify without the secret.
pub fn parse_public_key(hex_key: &str) -> Result<VerifyingKey, EventError> {
    let mut bytes = [0u8; 32];
    if !is_hex(hex_key, 64) || hex::decode_to_slice(hex_key, &mut bytes).is_err() {
        return Err(EventError::Malformed(
            "a public key is 64 lower-case hex characters (32 bytes)".into(),
        ));
    }
    let key = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| EventError::Malformed("not an Ed25519 public key".into()))?;
    if key.is_weak() {
        return Err(EventError::Malformed(
            "a weak Ed25519 public key (a point of small order) cannot be enrolled; generate a new key pair".into(),
        ));
    }
    Ok(key)
}

impl SignedEvent {
    /// Checks the event's own form, that `hash` is the hash of its content, and that `sig`
    /// verifies with `key`. The chain (`seq`, `prev_hash`) is the caller's to check.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), EventError> {
        self.verify_canonical(key).map(drop)
    }

    /// As [`SignedEvent::verify`], returning the canonical encoding of the body that was
    /// hashed: what a store keeps, without encoding it again.
    pub fn verify_canonical(&self, key: &VerifyingKey) -> Result<Vec<u8>, EventError> {
        let (signed, canonical) = self.signed()?;
        signed.verify(key)?;
        Ok(canonical)
    }

    /// Checks everything but the signature, and returns what the signature is checked against
    /// and the canonical encoding hashed.
    fn signed(&self) -> Result<(Signed, Vec<u8>), EventError> {
        let body = &self.body;
        let malformed = |what: &str| Err(EventError::Malformed(what.to_string()));
        if body.v != EVENT_VERSION {
            return malformed("`v` must be 1");
        }
        if body.seq == 0 || body.seq > MAX_SEQ {
            return malformed("`seq` starts at 1 and is at most 2^53 - 1");
        }
        if !is_uuid(&body.id) || !is_uuid(&body.entity_id) || !is_uuid(&body.device_id) {
            return malformed(
                "`id`, `entity_id` and `device_id` must be UUIDs (lower-case, with dashes)",
            );
        }
        if !is_hex(&body.prev_hash, 64) || !is_hex(&self.hash, 64) || !is_hex(&self.sig, 128) {
            return malformed(
                "`prev_hash` and `hash` are 64 and `sig` 128 lower-case hex characters",
            );
        }
        if body.kind.is_empty() || body.kind.len() > 64 {
            return malformed("`kind` must be 1 to 64 characters");
        }
        if body.blob_refs.len() > MAX_BLOB_REFS || !body.blob_refs.iter().all(|r| is_hex(r, 64)) {
            return malformed("`blob_refs` holds at most 32 sha256 hashes as lower-case hex");
        }
        let canonical = canonical_bytes(body)?;
        let computed = hex::encode(Sha256::digest(&canonical));
        if computed != self.hash {
            return Err(EventError::HashMismatch { computed });
        }
        let mut raw = [0u8; 32];
        hex::decode_to_slice(&self.hash, &mut raw)
            .map_err(|err| EventError::Malformed(err.to_string()))?;
        let mut sig = [0u8; 64];
        hex::decode_to_slice(&self.sig, &mut sig).map_err(|_| EventError::BadSignature)?;
        Ok((
            Signed {
                hash: raw,
                sig: Signature::from_bytes(&sig),
            },
            canonical,
        ))
    }
}

/// What an event's signature covers (the 32 hash bytes), and the signature.
struct Signed {
    hash: [u8; 32],
    sig: Signature,
}

impl Signed {
    /// Strict verification (RFC 8032 with the checks of `verify_strict`): a weak key or a
    /// signature whose `R` is of small order is refused, so no signature made without the
    /// secret key verifies. Batch verification is not used: it can accept a signature the
    /// strict check refuses.
    fn verify(&self, key: &VerifyingKey) -> Result<(), EventError> {
        key.verify_strict(&self.hash, &self.sig)
            .map_err(|_| EventError::BadSignature)
    }
}

/// Checks many events of one device, each as [`SignedEvent::verify_canonical`] checks one.
pub fn verify_all(events: &[SignedEvent], key: &VerifyingKey) -> Vec<Result<Vec<u8>, EventError>> {
    events
        .iter()
        .map(|event| event.verify_canonical(key))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// The test vector of `openapi/PROTOCOL.md`: a fixed key and event. A JavaScript client
    /// checks itself against the same bytes, hash and signature.
    pub(crate) fn vector() -> (DeviceKey, EventBody) {
        let key = DeviceKey::from_secret([7u8; 32]);
        let body = EventBody {
            v: 1,
            device_id: "0192f3a0-0000-7000-8000-000000000001".into(),
            seq: 1,
            id: "0192f3a0-0000-7000-8000-0000000000e1".into(),
            prev_hash: GENESIS_HASH.into(),
            kind: "hazard.report".into(),
            entity_id: "0192f3a0-0000-7000-8000-0000000000a1".into(),
            payload: json!({
                "enterprise_id": "e-seaweed-01",
                "grid_id": "g1",
                "level": "general",
                "description": "配电箱未接地 \"A区\"",
                "deadline": "2026-12-05",
                "location": {"lat_e6": 26657000, "lng_e6": 119543000}
            }),
            blob_refs: vec![
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            ],
            template_ref: None,
            base_rev: None,
            captured: Captured {
                wall_ms: 1_764_300_000_000,
                tz_offset_min: 480,
            },
        };
        (key, body)
    }

    /// The test vector as `openapi/PROTOCOL.md` prints it: the canonical bytes, then the public
    /// key, hash and signature (computed independently, with Python's `cryptography`).
    fn protocol_vector() -> (String, String, String, String) {
        let text = include_str!("../../openapi/PROTOCOL.md");
        let canonical = text
            .split("```json canonical\n")
            .nth(1)
            .and_then(|rest| rest.split("\n```").next())
            .expect("PROTOCOL.md has the canonical block");
        let field = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(&format!("- {name}: `")))
                .and_then(|rest| rest.strip_suffix('`'))
                .unwrap_or_else(|| panic!("PROTOCOL.md has the {name}"))
                .to_string()
        };
        (
            canonical.to_string(),
            field("public key"),
            field("hash"),
            field("sig"),
        )
    }

    #[test]
    fn the_protocol_test_vector_holds() {
        let (key, body) = vector();
        let (canonical, public, hash, sig) = protocol_vector();
        assert_eq!(
            String::from_utf8(canonical_bytes(&body).unwrap()).unwrap(),
            canonical
        );
        assert_eq!(key.public_hex(), public, "public key");
        let signed = key.sign(body).unwrap();
        assert_eq!(signed.hash, hash, "hash");
        assert_eq!(signed.sig, sig, "signature");
        signed.verify(&parse_public_key(&public).unwrap()).unwrap();
    }

    #[test]
    fn the_body_is_encoded_as_its_whole_json_tree_would_be() {
        let (_, mut body) = vector();
        let tree = |body: &EventBody| {
            crate::canonical::to_canonical(&serde_json::to_value(body).unwrap()).unwrap()
        };
        assert_eq!(canonical_bytes(&body).unwrap(), tree(&body));
        body.template_ref = Some("tpl@3".into());
        body.base_rev = Some(9);
        body.blob_refs = vec!["ab".repeat(32)];
        body.payload = json!({"z": [1, {"y": "隐患\n"}], "a": null, "m": {"k": true}});
        assert_eq!(canonical_bytes(&body).unwrap(), tree(&body));
        body.payload = json!({"lat": 30.5});
        assert!(
            matches!(canonical_bytes(&body), Err(EventError::Canonical(CanonicalError::Number { ref path })) if path == "$.payload.lat"),
            "{:?}",
            canonical_bytes(&body)
        );
    }

    #[test]
    fn a_push_check_names_exactly_the_events_that_fail() {
        let (key, body) = vector();
        let public = parse_public_key(&key.public_hex()).unwrap();
        let mut events: Vec<SignedEvent> = (1..=5)
            .map(|seq| {
                key.sign(EventBody {
                    seq,
                    ..body.clone()
                })
                .unwrap()
            })
            .collect();
        assert!(verify_all(&events, &public).iter().all(Result::is_ok));
        // Another event's valid signature on this one, and a body changed after signing.
        events[1].sig = events[2].sig.clone();
        events[3].body.kind = "hazard.accept".into();
        let checked = verify_all(&events, &public);
        assert!(
            matches!(checked[1], Err(EventError::BadSignature)),
            "{checked:?}"
        );
        assert!(
            matches!(checked[3], Err(EventError::HashMismatch { .. })),
            "{checked:?}"
        );
        for i in [0, 2, 4] {
            assert!(checked[i].is_ok(), "event {i}: {:?}", checked[i]);
        }
    }

    #[test]
    fn keys_are_canonical_and_never_weak() {
        let (key, _) = vector();
        let public = key.public_hex();
        assert!(parse_public_key(&public).is_ok());
        assert!(parse_public_key(&public.to_uppercase()).is_err());
        let identity = format!("01{}", "00".repeat(31));
        let order_two = format!("ec{}7f", "ff".repeat(30));
        for weak in [identity, order_two] {
            assert!(
                matches!(parse_public_key(&weak), Err(EventError::Malformed(ref m)) if m.contains("weak")),
                "{weak}"
            );
        }
    }

    #[test]
    fn a_signature_made_without_the_secret_never_verifies() {
        // Under the identity point as a key (one enrolled before weak keys were refused), the
        // "universal" signature R = identity, s = 0 satisfies the plain equation for any
        // message; strict verification refuses it.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = VerifyingKey::from_bytes(&identity).unwrap();
        let (_, body) = vector();
        let hash = hash_body(&body).unwrap();
        let forged = SignedEvent {
            body,
            hash,
            sig: format!("01{}", "00".repeat(63)),
        };
        assert_eq!(forged.verify(&weak), Err(EventError::BadSignature));
        assert_eq!(
            verify_all(std::slice::from_ref(&forged), &weak),
            vec![Err(EventError::BadSignature)]
        );
    }

    #[test]
    fn ids_and_seqs_have_one_form() {
        let (key, body) = vector();
        let public = parse_public_key(&key.public_hex()).unwrap();
        let upper = EventBody {
            entity_id: body.entity_id.to_uppercase(),
            ..body.clone()
        };
        let signed = key.sign(body.clone()).unwrap();
        for bad in [
            upper,
            EventBody {
                seq: 0,
                ..body.clone()
            },
            EventBody {
                seq: MAX_SEQ + 1,
                ..body.clone()
            },
            EventBody {
                seq: u64::MAX,
                ..body.clone()
            },
        ] {
            // What a hostile client sends: any body, with a well-formed hash and signature.
            let signed = SignedEvent {
                body: bad,
                ..signed.clone()
            };
            assert!(
                matches!(signed.verify(&public), Err(EventError::Malformed(_))),
                "{:?}",
                signed.body
            );
        }
        let top = key
            .sign(EventBody {
                seq: MAX_SEQ,
                ..body
            })
            .unwrap();
        assert_eq!(top.verify(&public), Ok(()));
        assert!(is_uuid("0192f3a0-0000-7000-8000-0000000000e1"));
        assert!(!is_uuid("0192F3A0-0000-7000-8000-0000000000E1"));
        assert!(!is_uuid("0192f3a0000070008000-0000000000e1-00"));
    }

    #[test]
    fn any_change_after_signing_is_caught() {
        let (key, body) = vector();
        let public = parse_public_key(&key.public_hex()).unwrap();
        let signed = key.sign(body).unwrap();

        let mut altered = signed.clone();
        altered.body.payload["level"] = json!("major");
        assert!(matches!(
            altered.verify(&public),
            Err(EventError::HashMismatch { .. })
        ));

        let mut rehashed = altered.clone();
        rehashed.hash = hash_body(&rehashed.body).unwrap();
        assert_eq!(
            rehashed.verify(&public),
            Err(EventError::BadSignature),
            "a new hash needs the key"
        );

        let other = DeviceKey::from_secret([8u8; 32]);
        let forged = other.sign(signed.body.clone()).unwrap();
        assert_eq!(forged.verify(&public), Err(EventError::BadSignature));
    }
}
