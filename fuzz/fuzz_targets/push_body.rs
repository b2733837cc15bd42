//! A push body as it arrives: decoded, each event's form, hash and signature checked, its capture
//! time estimated, and judged as a town-wide inspector's against an empty store. Nothing may
//! panic, whatever the bytes.
#![no_main]

use anjian_sync::access::{Grant, Role, Scopes};
use anjian_sync::clock::estimate;
use anjian_sync::event::{DeviceKey, parse_public_key, verify_all};
use anjian_sync::judge::{Actor, Related, judge};
use anjian_sync::protocol::PushRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<PushRequest>(data) else {
        return;
    };
    let key = DeviceKey::from_secret([7; 32]);
    let Ok(public) = parse_public_key(&key.public_hex()) else {
        return;
    };
    let _ = verify_all(&request.events, &public);
    let scopes = Scopes {
        town: true,
        ..Scopes::default()
    };
    let Ok(grant) = Grant::new([Role::Inspector], scopes) else {
        return;
    };
    let actor = Actor {
        user_id: "0192f3a0-0000-7000-8000-0000000000b1".into(),
        grant,
    };
    let related = Related::new();
    for event in &request.events {
        let _ = judge(&event.body, &actor, None, &related);
        let _ = estimate(
            event.body.captured.wall_ms,
            request.device_clock_ms,
            1_764_300_000_000,
        );
    }
});
