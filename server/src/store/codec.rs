//! How records become bytes: one format byte, then postcard, JSON, or JSON compressed.
//!
//! postcard is compact and not self-describing, so a record's field list is its format; records
//! that carry free-form JSON (event payloads, entity bodies) are stored as JSON instead, which
//! postcard cannot hold, compressed with zstd and a dictionary trained on the project's own
//! records ([`Dictionary`]). The leading byte says which, and lets a later release read old
//! records and migrate them; a record with an unknown format byte, or bytes that do not decode,
//! is reported as corrupt instead of panicking.

use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

/// postcard, version 1.
const FORMAT_V1: u8 = 1;
/// JSON, version 1.
const FORMAT_JSON_V1: u8 = 2;
/// JSON compressed by [`pack`] (the byte is [`anjian_sync::pack`]'s).
use anjian_sync::pack::{FORMAT_PACKED, unpack_frame};

pub use anjian_sync::pack::Dictionary;

impl From<anjian_sync::pack::PackError> for StoreError {
    fn from(err: anjian_sync::pack::PackError) -> StoreError {
        StoreError::other(err)
    }
}

/// Compresses `bytes` with `dictionary` onto `out` as a packed record
/// ([`anjian_sync::pack`]).
pub fn pack(dictionary: Dictionary, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), StoreError> {
    Ok(anjian_sync::pack::pack(dictionary, bytes, out)?)
}

/// The bytes a packed record holds; `what` names it in the error.
pub fn unpack(what: &str, bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    Ok(anjian_sync::pack::unpack(what, bytes)?)
}

/// Encodes a record that holds free-form JSON, compressed with `dictionary`.
pub fn encode_packed<T: Serialize>(
    dictionary: Dictionary,
    value: &T,
) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(value)
        .map_err(|err| StoreError::other(format!("cannot encode a record: {err}")))?;
    let mut bytes = Vec::with_capacity(json.len() / 4 + 16);
    pack(dictionary, &json, &mut bytes)?;
    Ok(bytes)
}

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
        Some((&FORMAT_PACKED, rest)) => serde_json::from_slice(&unpack_frame(what, rest)?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_record_reads_back_as_written() {
        let value = serde_json::json!({"id": "x", "items": [1, 2, 3], "note": "隐患 整改"});
        for dictionary in Dictionary::ALL {
            let bytes = encode_packed(dictionary, &value).unwrap();
            let back: serde_json::Value = decode("test", &bytes).unwrap();
            assert_eq!(back, value);
        }
    }
}
