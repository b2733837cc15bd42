//! How records become bytes: one format-version byte, then postcard.
//!
//! postcard is compact and not self-describing, so a record's field list is its format. The
//! leading version byte lets a later release read old records and migrate them; a record with an
//! unknown version, or bytes that do not decode, is reported as corrupt instead of panicking.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

/// The format version written today.
const FORMAT_V1: u8 = 1;

/// Encodes a record.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![FORMAT_V1];
    bytes.extend(
        postcard::to_stdvec(value)
            .map_err(|err| StoreError::other(format!("cannot encode a record: {err}")))?,
    );
    Ok(bytes)
}

/// Decodes a record written by [`encode`]; `what` names it in the error.
pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&FORMAT_V1, rest)) => postcard::from_bytes(rest)
            .map_err(|err| StoreError::other(format!("corrupt {what} record: {err}"))),
        Some((version, _)) => Err(StoreError::other(format!(
            "{what} record has format version {version}, which this release cannot read"
        ))),
        None => Err(StoreError::other(format!("empty {what} record"))),
    }
}
