//! The canonical encoding of any JSON: it never panics, and what it writes is JSON whose
//! canonical encoding is itself.
#![no_main]

use anjian_sync::canonical::to_canonical;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(bytes) = to_canonical(&value) {
        let again: serde_json::Value =
            serde_json::from_slice(&bytes).expect("the canonical encoding is JSON");
        assert_eq!(
            to_canonical(&again).ok().as_deref(),
            Some(bytes.as_slice()),
            "the canonical encoding is its own canonical encoding"
        );
    }
});
