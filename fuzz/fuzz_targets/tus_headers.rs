//! The tus headers a client writes: `Upload-Metadata` and `Upload-Checksum`, read from any text.
#![no_main]

use anjian_server::api::blobs::metadata_sha256;
use anjian_server::service::blobs::parse_checksum;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = metadata_sha256(text);
    let _ = parse_checksum(text);
});
