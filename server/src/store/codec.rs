//! How records become bytes: one format byte, then postcard or JSON.
//!
//! postcard is compact and not self-describing, so a record's field list is its format; records
//! that carry free-form JSON (event payloads, entity bodies) are stored as JSON instead, which
//! postcard cannot hold. The leading byte says which, and lets a later release read old records
//! and migrate them; a record with an unknown format byte, or bytes that do not decode, is
//! reported as corrupt instead of panicking.

use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

/// postcard, version 1.
const FORMAT_V1: u8 = 1;
/// JSON, version 1.
const FORMAT_JSON_V1: u8 = 2;

/// Encodes a record.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![FORMAT_V1];
    bytes.extend(
        postcard::to_stdvec(value)
            .map_err(|err| StoreError::other(format!("cannot encode a record: {err}")))?,
    );
    Ok(bytes)
}

/// Encodes a record that holds free-form JSON.
pub fn encode_json<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![FORMAT_JSON_V1];
    serde_json::to_writer(&mut bytes, value)
        .map_err(|err| StoreError::other(format!("cannot encode a record: {err}")))?;
    Ok(bytes)
}

/// Decodes a record written by [`encode`] or [`encode_json`]; `what` names it in the error.
pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&FORMAT_V1, rest)) => postcard::from_bytes(rest)
            .map_err(|err| StoreError::other(format!("corrupt {what} record: {err}"))),
        Some((&FORMAT_JSON_V1, rest)) => serde_json::from_slice(rest)
            .map_err(|err| StoreError::other(format!("corrupt {what} record: {err}"))),
        Some((version, _)) => Err(StoreError::other(format!(
            "{what} record has format version {version}, which this release cannot read"
        ))),
        None => Err(StoreError::other(format!("empty {what} record"))),
    }
}

/// Decodes a postcard record written by [`encode`] into a view that borrows its text from
/// `bytes` (no allocation per string): for scans that look at many records and keep few.
pub fn decode_borrowed<'a, T: Deserialize<'a>>(
    what: &str,
    bytes: &'a [u8],
) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&FORMAT_V1, rest)) => postcard::from_bytes(rest)
            .map_err(|err| StoreError::other(format!("corrupt {what} record: {err}"))),
        Some((version, _)) => Err(StoreError::other(format!(
            "{what} record has format version {version}, which this scan cannot read"
        ))),
        None => Err(StoreError::other(format!("empty {what} record"))),
    }
}
