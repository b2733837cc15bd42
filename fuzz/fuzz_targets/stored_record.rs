//! Records as the store and a device's replica read them back: any bytes, read as a packed
//! record (zstd with a dictionary) or as a stored projection, are an answer or an error, never a
//! panic or an allocation past the bound; and whatever is packed unpacks to itself.
#![no_main]

use anjian_sync::pack::{Dictionary, MAX_UNPACKED_BYTES, pack, unpack};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(bytes) = unpack("fuzz", data) {
        assert!(bytes.len() <= MAX_UNPACKED_BYTES);
    }
    let _ = anjian_server::store::codec::decode::<anjian_sync::protocol::Projection>("fuzz", data);
    for dictionary in Dictionary::ALL {
        let mut packed = Vec::new();
        pack(dictionary, data, &mut packed).expect("a small record packs");
        assert_eq!(
            unpack("fuzz", &packed).expect("a packed record unpacks"),
            data
        );
    }
});
