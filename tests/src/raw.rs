//! [`RawDevice`]: a device whose key the test holds, so it can sign exactly what a test needs —
//! a fork, a chain that points elsewhere, extreme values — and push it as raw JSON, as an
//! independent client (or an attacker with a device's key) would.

use anjian_sync::event::{
    Captured, DeviceKey, EVENT_VERSION, EventBody, GENESIS_HASH, SignedEvent,
};
use serde_json::{Value, json};

use crate::{Reply, TestServer};

/// An enrolled device driven by hand.
#[derive(Debug)]
pub struct RawDevice {
    /// Its signing key.
    pub key: DeviceKey,
    /// Its id, as enrolled.
    pub id: String,
    /// The session it pushes with.
    pub token: String,
    /// The `seq` and hash of the last event [`RawDevice::next`] made.
    last: (u64, String),
}

impl RawDevice {
    /// Enrols the key made from `secret` for the user of `token`.
    pub async fn enrol(server: &TestServer, token: &str, secret: [u8; 32]) -> RawDevice {
        let key = DeviceKey::from_secret(secret);
        let reply = server
            .post(
                "/v1/devices",
                Some(token),
                json!({"public_key": key.public_hex(), "name": "raw"}),
            )
            .await;
        let id = reply.ok(201)["id"].as_str().unwrap().to_string();
        RawDevice {
            key,
            id,
            token: token.to_string(),
            last: (0, GENESIS_HASH.to_string()),
        }
    }

    /// An event body of this device at `seq` after `prev_hash`.
    pub fn body(
        &self,
        seq: u64,
        prev_hash: &str,
        kind: &str,
        entity: &str,
        payload: Value,
    ) -> EventBody {
        EventBody {
            v: EVENT_VERSION,
            device_id: self.id.clone(),
            seq,
            id: uuid::Uuid::now_v7().to_string(),
            prev_hash: prev_hash.to_string(),
            kind: kind.to_string(),
            entity_id: entity.to_string(),
            payload,
            blob_refs: Vec::new(),
            template_ref: None,
            base_rev: None,
            captured: Captured {
                wall_ms: 1_764_300_000_000,
                tz_offset_min: 480,
            },
        }
    }

    /// Signs the next event of the chain, citing the photos `blobs`.
    pub fn next(
        &mut self,
        kind: &str,
        entity: &str,
        payload: Value,
        blobs: &[&str],
    ) -> SignedEvent {
        let (seq, prev) = &self.last;
        let mut body = self.body(seq + 1, prev, kind, entity, payload);
        body.blob_refs = blobs.iter().map(|b| b.to_string()).collect();
        let signed = self.key.sign(body).unwrap();
        self.last = (signed.body.seq, signed.hash.clone());
        signed
    }

    /// Pushes events given as JSON, with the device's clock at `clock_ms`.
    pub async fn push_json(&self, server: &TestServer, events: Vec<Value>, clock_ms: i64) -> Reply {
        let body = json!({"device_id": self.id, "device_clock_ms": clock_ms, "events": events});
        server.post("/v1/sync/push", Some(&self.token), body).await
    }

    /// Pushes signed events.
    pub async fn push(&self, server: &TestServer, events: &[SignedEvent]) -> Reply {
        let events = events
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        self.push_json(server, events, 1_764_300_000_000).await
    }
}

/// A general hazard's report payload for enterprise `e1` in grid `g1`.
pub fn hazard_report(description: &str) -> Value {
    json!({"enterprise_id": "e1", "grid_id": "g1", "level": "general", "description": description,
        "deadline": "2026-12-31"})
}
