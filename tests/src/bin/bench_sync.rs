//! Sync throughput: what one server takes from many devices, and what a fresh device pulls.
//!
//! `cargo run --release -p anjian-tests --bin bench-sync -- [devices] [events per device]`
//!
//! Prints, for N devices × M `hazard.report` events:
//! - push: events/s from N concurrent devices over HTTP into the real server (loopback), with the
//!   server's durable commit per batch of 200;
//! - pull: entities/s for a fresh town-wide device's initial pull to a complete checkpoint;
//! - ceiling: the raw in-process rate of writing the same events and projections into redb in
//!   batches of 200 with the same durability, without HTTP, JSON, signatures or judgement;
//!
//! and each rate's ratio to the ceiling. Everything runs on 127.0.0.1.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark fails loudly"
)]

use std::sync::Arc;
use std::time::Instant;

use anjian_server::store::model::UnixMillis;
use anjian_server::store::{ProjectionMeta, RedbStore, SyncStore};
use anjian_sync::client::{Batching, Device};
use anjian_sync::clock::estimate;
use anjian_sync::judge::{Verdict, judge};
use anjian_sync::protocol::{JudgedEvent, Receipt};
use anjian_tests::devices::{TestDevice, quick_retries};
use anjian_tests::{TestServer, USER_PASSWORD};
use serde_json::json;

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let devices = args.first().copied().unwrap_or(8);
    let per_device = args.get(1).copied().unwrap_or(1000);
    let total = devices * per_device;
    // Warnings only: the test harness would otherwise capture every debug line in memory.
    let _ = tracing_subscriber::fmt().with_env_filter("warn").try_init();
    println!("bench-sync: {devices} devices x {per_device} events = {total} events");

    let server = TestServer::start().await;
    let admin = server.admin().await;
    server
        .create_user(
            &admin,
            json!({"username": "inspector", "password": USER_PASSWORD, "roles": ["inspector"], "scopes": {"town": true}}),
        )
        .await;

    // Capture offline on every device (not part of the push figure).
    let mut phones = Vec::new();
    let started = Instant::now();
    for _ in 0..devices {
        let phone = TestDevice::enrolled(&server, "inspector", USER_PASSWORD).await;
        for _ in 0..per_device {
            phone.report_hazard("general");
        }
        phones.push(phone);
    }
    let capture = total as f64 / started.elapsed().as_secs_f64();
    let events: Vec<_> = phones.iter().flat_map(|p| p.log().unwrap()).collect();
    let identity = phones[0].identity().unwrap().unwrap();

    // Push: all devices at once.
    let phones: Vec<Arc<TestDevice>> = phones.into_iter().map(Arc::new).collect();
    let started = Instant::now();
    let tasks: Vec<_> = phones
        .iter()
        .map(|phone| {
            let phone = phone.clone();
            tokio::spawn(async move { phone.push().await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let push_secs = started.elapsed().as_secs_f64();
    let push = total as f64 / push_secs;

    // Initial pull of a fresh town-wide device.
    let dir = tempfile::tempdir().unwrap();
    let mut fresh = Device::open_with(dir.path(), &server.url(""), quick_retries()).unwrap();
    fresh.set_batching(Batching {
        push_events: 200,
        pull_page: 1000,
    });
    fresh.login("inspector", USER_PASSWORD).await.unwrap();
    fresh.enrol("fresh").await.unwrap();
    let started = Instant::now();
    let report = fresh.pull().await.unwrap();
    let pull_secs = started.elapsed().as_secs_f64();
    let pulled = fresh.server_entities().unwrap().len();
    // Every hazard, and the checklist the server ships.
    assert_eq!(pulled, total + 1, "every hazard arrived");
    let pull = pulled as f64 / pull_secs;

    // The ceiling: the same events and projections straight into redb, 200 per durable commit.
    let ceiling_dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(&ceiling_dir.path().join("ceiling.redb")).unwrap();
    let grant =
        anjian_sync::access::Grant::new(identity.roles.iter().copied(), identity.scopes.clone())
            .unwrap();
    let actor = anjian_sync::judge::Actor {
        user_id: identity.user_id.clone(),
        grant,
    };
    let prepared: Vec<_> = events
        .iter()
        .map(|event| {
            let judgement = judge(
                &event.body,
                &actor,
                None,
                &anjian_sync::judge::Related::new(),
            );
            assert_eq!(judgement.verdict, Verdict::Applied);
            (event.clone(), judgement.entity.unwrap())
        })
        .collect();
    let device = uuid::Uuid::now_v7();
    let started = Instant::now();
    for batch in prepared.chunks(200) {
        store
            .write(&mut |tx| {
                let now = UnixMillis::now();
                for (event, entity) in batch {
                    let time = estimate(event.body.captured.wall_ms, now.0, now.0);
                    let meta = ProjectionMeta {
                        event_id: event.body.id.clone(),
                        time,
                    };
                    let rev = tx.put_entity(entity.clone(), meta)?.rev;
                    let receipt = Receipt {
                        seq: event.body.seq,
                        event_id: event.body.id.clone(),
                        hash: event.hash.clone(),
                        verdict: Verdict::Applied,
                        reason: None,
                        rev: Some(rev),
                        issue_id: None,
                        received_at_ms: now.0,
                    };
                    tx.put_event(
                        device,
                        &JudgedEvent {
                            event: event.clone(),
                            receipt,
                            time,
                            user_id: actor.user_id.clone(),
                        },
                    )?;
                }
                Ok(())
            })
            .unwrap();
    }
    let ceiling = total as f64 / started.elapsed().as_secs_f64();

    println!("capture (local, per device, sequential): {capture:>10.0} events/s");
    println!(
        "push over HTTP ({devices} devices at once):  {push:>10.0} events/s  ({:.2} of ceiling, {push_secs:.2} s)",
        push / ceiling
    );
    println!(
        "initial pull (fresh device):          {pull:>10.0} entities/s ({:.2} of ceiling, {pull_secs:.2} s, {} pages)",
        pull / ceiling,
        report.pages
    );
    println!("ceiling (redb in-process, durable):   {ceiling:>10.0} events/s");
}
