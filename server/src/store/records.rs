//! How the events and receipts tables keep an event (store format 1).
//!
//! An event is kept as what its device signed: the canonical encoding of its body (packed with
//! the events' dictionary, [`super::codec::Dictionary::Events`]), beside its signature as raw
//! bytes, the user it was recorded for and its times. Its hash is not stored with it: it is the
//! sha256 of those bytes, computed on reading and checked against the hash its receipt holds, so
//! a stored event changed after it was received reads as corrupt instead of as the event.
//!
//! Its receipt is kept apart, small and without the event, keyed the same way: replays of a push
//! and devices fetching their receipts read receipts only.
//!
//! ```text
//! events-1:   (device, seq) → [1] [signature: 64 bytes] postcard(EventMeta) packed(canonical body)
//! receipts-1: (device, seq) → [1] postcard(ReceiptRecord)
//! ```

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use anjian_sync::clock::CaptureTime;
use anjian_sync::event::{EventBody, SignedEvent, canonical_bytes};
use anjian_sync::judge::{Reason, Verdict};
use anjian_sync::protocol::{JudgedEvent, JudgedEventRef, Receipt};

use super::StoreError;
use super::codec::{Dictionary, pack, unpack};

/// The leading byte of both records' format 1.
const FORMAT_V1: u8 = 1;

/// An event's signature length.
const SIG_BYTES: usize = 64;

/// What an event record holds besides its signature and signed bytes.
#[derive(Serialize, Deserialize)]
struct EventMeta {
    /// The user its device was enrolled to.
    user_id: u128,
    /// Its capture time as estimated.
    time: CaptureTime,
}

/// A receipt as stored: its `seq` is the key's.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct ReceiptRecord {
    event_id: u128,
    hash: [u8; 32],
    verdict: Verdict,
    reason: Option<Reason>,
    rev: Option<u64>,
    issue_id: Option<u128>,
    received_at_ms: i64,
}

/// A UUID in its one canonical form (lower-case hex with dashes) as `u128`; any other text,
/// even the same UUID written otherwise, is refused: it would read back as another string.
fn uuid(what: &str, text: &str) -> Result<u128, StoreError> {
    anjian_sync::event::is_uuid(text)
        .then(|| Uuid::try_parse(text).ok())
        .flatten()
        .map(|id| id.as_u128())
        .ok_or_else(|| StoreError::other(format!("{what} {text:?} is not a canonical UUID")))
}

/// An entity id as index keys hold it: every entity's id is a UUID.
pub fn id_key(id: &str) -> Result<u128, StoreError> {
    uuid("entity id", id)
}

fn hash_bytes(hash: &str) -> Result<[u8; 32], StoreError> {
    let mut raw = [0u8; 32];
    hex::decode_to_slice(hash, &mut raw)
        .map_err(|_| StoreError::other(format!("hash {hash:?} is not sha256 hex")))?;
    Ok(raw)
}

fn corrupt(what: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::other(format!("corrupt {what} record: {why}"))
}

/// An event's record, from the event as judged. `canonical` is its body's canonical encoding
/// if the caller has it (it was hashed to verify the event); otherwise it is made again.
pub fn encode_event(
    event: &JudgedEventRef<'_>,
    canonical: Option<&[u8]>,
) -> Result<Vec<u8>, StoreError> {
    let made;
    let canonical = match canonical {
        Some(bytes) => bytes,
        None => {
            made = canonical_bytes(&event.event.body).map_err(StoreError::other)?;
            &made
        }
    };
    let mut bytes = Vec::with_capacity(canonical.len() / 3 + 128);
    bytes.push(FORMAT_V1);
    let start = bytes.len();
    bytes.resize(start + SIG_BYTES, 0);
    hex::decode_to_slice(&event.event.sig, &mut bytes[start..])
        .map_err(|_| StoreError::other("an event's signature is not 64 bytes of hex"))?;
    let meta = EventMeta {
        user_id: uuid("user id", event.user_id)?,
        time: event.time,
    };
    bytes = postcard::to_extend(&meta, bytes)
        .map_err(|err| StoreError::other(format!("cannot encode an event: {err}")))?;
    pack(Dictionary::Events, canonical, &mut bytes)?;
    Ok(bytes)
}

/// An event record's parts: signature, meta, and the packed signed bytes.
fn split_event(bytes: &[u8]) -> Result<(&[u8], EventMeta, &[u8]), StoreError> {
    let rest = match bytes.split_first() {
        Some((&FORMAT_V1, rest)) => rest,
        Some((version, _)) => {
            return Err(corrupt(
                "event",
                format_args!("format version {version}, which this release cannot read"),
            ));
        }
        None => return Err(corrupt("event", "empty")),
    };
    if rest.len() < SIG_BYTES {
        return Err(corrupt("event", "too short"));
    }
    let (sig, rest) = rest.split_at(SIG_BYTES);
    let (meta, packed): (EventMeta, &[u8]) =
        postcard::take_from_bytes(rest).map_err(|err| corrupt("event", err))?;
    Ok((sig, meta, packed))
}

/// The canonical encoding of the body an event record holds: what its device signed.
pub fn signed_bytes(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    let (_, _, packed) = split_event(bytes)?;
    unpack("event", packed)
}

/// An event from its record and its receipt (read from the receipts table under the same key).
/// Fails if the signed bytes do not hash to the receipt's hash.
pub fn decode_event(bytes: &[u8], receipt: Receipt) -> Result<JudgedEvent, StoreError> {
    let (sig, meta, packed) = split_event(bytes)?;
    let canonical = unpack("event", packed)?;
    let hash = hex::encode(Sha256::digest(&canonical));
    if hash != receipt.hash {
        return Err(corrupt(
            "event",
            format_args!(
                "its signed bytes hash to {hash}, not to {} as received",
                receipt.hash
            ),
        ));
    }
    let body: EventBody =
        serde_json::from_slice(&canonical).map_err(|err| corrupt("event", err))?;
    Ok(JudgedEvent {
        event: SignedEvent {
            body,
            hash,
            sig: hex::encode(sig),
        },
        receipt,
        time: meta.time,
        user_id: Uuid::from_u128(meta.user_id).to_string(),
    })
}

/// A receipt's record.
pub fn encode_receipt(receipt: &Receipt) -> Result<Vec<u8>, StoreError> {
    let record = ReceiptRecord {
        event_id: uuid("event id", &receipt.event_id)?,
        hash: hash_bytes(&receipt.hash)?,
        verdict: receipt.verdict,
        reason: receipt.reason.clone(),
        rev: receipt.rev,
        issue_id: receipt
            .issue_id
            .as_deref()
            .map(|id| uuid("issue id", id))
            .transpose()?,
        received_at_ms: receipt.received_at_ms,
    };
    postcard::to_extend(&record, vec![FORMAT_V1])
        .map_err(|err| StoreError::other(format!("cannot encode a receipt: {err}")))
}

/// A receipt from its record and the `seq` of its key.
pub fn decode_receipt(seq: u64, bytes: &[u8]) -> Result<Receipt, StoreError> {
    let record: ReceiptRecord = match bytes.split_first() {
        Some((&FORMAT_V1, rest)) => {
            postcard::from_bytes(rest).map_err(|err| corrupt("receipt", err))?
        }
        Some((version, _)) => {
            return Err(corrupt(
                "receipt",
                format_args!("format version {version}, which this release cannot read"),
            ));
        }
        None => return Err(corrupt("receipt", "empty")),
    };
    Ok(Receipt {
        seq,
        event_id: Uuid::from_u128(record.event_id).to_string(),
        hash: hex::encode(record.hash),
        verdict: record.verdict,
        reason: record.reason,
        rev: record.rev,
        issue_id: record.issue_id.map(|id| Uuid::from_u128(id).to_string()),
        received_at_ms: record.received_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged() -> JudgedEvent {
        crate::store::persisted::event()
    }

    fn encoded(event: &JudgedEvent) -> Vec<u8> {
        encode_event(
            &JudgedEventRef {
                event: &event.event,
                receipt: &event.receipt,
                time: event.time,
                user_id: &event.user_id,
            },
            None,
        )
        .unwrap()
    }

    #[test]
    fn an_event_and_its_receipt_read_back_as_received() {
        let event = judged();
        let bytes = encoded(&event);
        let receipt = decode_receipt(3, &encode_receipt(&event.receipt).unwrap()).unwrap();
        assert_eq!(receipt, event.receipt);
        assert_eq!(decode_event(&bytes, receipt).unwrap(), event);
        // Far smaller than the event's JSON with its receipt, as format 0 kept it.
        let json = serde_json::to_vec(&event).unwrap();
        assert!(
            bytes.len() * 2 < json.len(),
            "{} of {}",
            bytes.len(),
            json.len()
        );
    }

    #[test]
    fn a_stored_event_whose_signed_bytes_changed_reads_as_corrupt() {
        let event = judged();
        let mut changed = event.clone();
        changed.event.body.payload["description"] = "配电箱已接地".into();
        // Stored under the original's receipt, as if the record had been rewritten.
        let err = decode_event(&encoded(&changed), event.receipt.clone())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not to") && err.contains("as received"),
            "{err}"
        );
    }

    #[test]
    fn a_receipt_of_ids_that_are_not_uuids_is_not_stored() {
        let mut receipt = judged().receipt;
        receipt.issue_id = Some("issue-1".into());
        assert!(encode_receipt(&receipt).is_err());
        // The same UUID in another form would read back as another id.
        receipt.issue_id = Some(receipt.event_id.to_uppercase());
        assert!(encode_receipt(&receipt).is_err());
        receipt.issue_id = Some(receipt.event_id.clone());
        assert!(encode_receipt(&receipt).is_ok());
        assert!(id_key(&Uuid::from_u128(1).simple().to_string()).is_err());
    }
}
