//! An enterprise list (企业名录) as an admin uploads it, planned against a town with two grids and
//! one enterprise: every file is either planned or refused with its bad rows, never a panic.
#![no_main]

use std::sync::OnceLock;

use anjian_server::service::directory::{ImportContext, plan_import};
use anjian_sync::access::{Grant, Role, Scopes};
use anjian_sync::judge::Actor;
use anjian_sync::protocol::Projection;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fn projection(entity_type: &str, id: &str, body: serde_json::Value) -> Projection {
    serde_json::from_value(json!({
        "id": id, "entity_type": entity_type, "deleted": false, "body": body, "blobs": [],
        "scope": {"enterprise": null, "team": null, "grid": null, "users": [], "public": false,
            "directory": false, "review": false, "reference": false},
        "rev": 1, "buckets": ["town"], "last_event_id": id, "captured_at_ms": 0,
        "received_at_ms": 0, "clock": "ok"
    }))
    .expect("a well-formed projection")
}

fn context() -> &'static ImportContext {
    static CONTEXT: OnceLock<ImportContext> = OnceLock::new();
    CONTEXT.get_or_init(|| {
        let grids = [
            projection(
                "grid",
                "0192f3a0-0000-7000-8000-0000000000c1",
                json!({"code": "shacheng", "name": "沙埕村"}),
            ),
            projection(
                "grid",
                "0192f3a0-0000-7000-8000-0000000000c2",
                json!({"code": "haibin", "name": "海滨社区"}),
            ),
        ];
        let enterprises = [projection(
            "enterprise",
            "0192f3a0-0000-7000-8000-0000000000d1",
            json!({"name": "福鼎海带加工厂", "credit_code": "914403001922038216",
                "industry": "紫菜加工", "scale": "below", "grid_id": "shacheng",
                "village": null, "address": "沙埕镇海滨路1号", "location": null,
                "contacts": [{"name": "陈老板", "phone": "13800000001", "role": null}],
                "risk_colour": null, "flags": {}}),
        )];
        let grant = Grant::new([Role::Admin], Scopes::default()).expect("an admin grant");
        let actor = Actor {
            user_id: "0192f3a0-0000-7000-8000-0000000000a1".into(),
            grant,
        };
        ImportContext::new(&grids, &enterprises, actor)
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = plan_import(data, context());
});
