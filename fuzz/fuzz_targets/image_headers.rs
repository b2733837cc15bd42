//! A photo as uploaded: its format, size and EXIF read without decoding, and, when it is small
//! enough to decode quickly, decoded into a thumbnail. Limits are checked before any large
//! allocation, so nothing may panic or run out of memory.
#![no_main]

use anjian_server::service::images::{ImageLimits, Rendition, inspect, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = ImageLimits {
        max_side: 16_384,
        max_pixels: 50_000_000,
    };
    let Ok(inspected) = inspect(data, limits) else {
        return;
    };
    // Decoding is bounded by the limits too; a fuzzer's time is better spent on small images.
    let small = ImageLimits {
        max_side: 512,
        max_pixels: 262_144,
    };
    let thumbnail = Rendition {
        max_side: 64,
        quality: 70,
    };
    let _ = render(data, &inspected, &[thumbnail], small);
});
