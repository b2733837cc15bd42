//! `anjian-load`: many devices, one server, over loopback: the whole system under a town's (or a
//! county's) load, phase by phase, beside what the storage alone can do.
//!
//! `cargo run --release -p anjian-tests --bin anjian-load -- --devices 100 --records-per-device 200`
//!
//! The server runs in a child process (this binary, started with `serve`) on the default
//! settings over a temporary data directory, so its CPU time, peak memory and disk are its own;
//! or `--server URL` (with `ANJIAN_ADMIN_PASSWORD`) loads a server already running. The devices
//! are real `sync-core` clients, each with its own replica on disk.
//!
//! The workload: grids of two devices; an enterprise per grid; an inspector (a user) per grid,
//! whose devices capture `--records-per-device` inspections each offline (about 1.2 KB of JSON:
//! 20 checklist items with verdict and note), every tenth citing a photo of `--photo-kb` KB.
//! Phases, each timed alone:
//! - **push**: every device sends at once (at most `--concurrency` at a time): its photos, then
//!   its events;
//! - **pull**: a fresh town-wide device pulls everything;
//! - **incremental**: every device amends 10% of its records and syncs;
//! - **conflict**: pairs of devices of a grid move the same hazard offline, then sync; every
//!   change ends applied or kept as a conflict for a person.
//!
//! With `--restart`, between the push and the pull the server is killed with SIGKILL and started
//! again (timed: the store is repaired on opening), then stopped cleanly and started again
//! (timed); the pulls after it then check that every record survived.
//!
//! Then the ceiling: the same events and projections written in-process straight into redb,
//! 200 per durable commit, each under its own device as the events table keys it, and read
//! back by the same bucket pages; and the same events verified alone (form, hash, strict
//! signature), the other half of a push's work.
//!
//! Prints a readable summary, then one JSON line with every figure.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a load generator fails loudly"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anjian_server::store::model::UnixMillis;
use anjian_server::store::{Citer, ProjectionMeta, RedbStore, SyncStore};
use anjian_sync::client::{Batching, Device, RetryPolicy, Traffic};
use anjian_sync::clock::estimate;
use anjian_sync::event::SignedEvent;
use anjian_sync::judge::Verdict;
use anjian_sync::protocol::{JudgedEventRef, Projection, Receipt};
use anjian_tests::child::{ADMIN_PASSWORD, ChildServer, login, serve};
use clap::Parser;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// The load to put on the system.
#[derive(Debug, Parser)]
#[command(name = "anjian-load")]
struct Args {
    /// Devices (phones), two to a grid.
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Inspection records each device captures offline.
    #[arg(long, default_value_t = 100)]
    records_per_device: usize,
    /// Size of the photo every tenth record cites, in KB (0: no photos).
    #[arg(long, default_value_t = 0)]
    photo_kb: usize,
    /// Devices syncing at the same moment.
    #[arg(long, default_value_t = 100)]
    concurrency: usize,
    /// A running server to load (its admin password in ANJIAN_ADMIN_PASSWORD); by default a
    /// server is started in a child process on a temporary data directory.
    #[arg(long)]
    server: Option<String>,
    /// Where the devices' replicas (and the child server's data) go [default: a temporary
    /// directory].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Skip the incremental and conflict phases (for scaling runs).
    #[arg(long)]
    push_and_pull_only: bool,
    /// After the push, kill the server with SIGKILL and time its restart (the store repaired),
    /// then stop it cleanly and time that restart too; the phases after run on it.
    #[arg(long)]
    restart: bool,
    /// Every record that cites a photo also reports a hazard (隐患) with it (needs
    /// `--photo-kb`): a tenth of the records, for the office's ledgers.
    #[arg(long)]
    hazards: bool,
}

/// The allocator the server binary uses, so that the child server measures as it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PASSWORD: &str = "anjian-load-user-password";
/// The most events the ceiling writes: a rate needs no more, and a million held at once would
/// not fit beside a thousand devices.
const CEILING_SAMPLE: usize = 200_000;
const PER_GRID: usize = 2;

fn main() {
    anjian_sync::client::install_tls_provider();
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some("serve") {
        serve(&raw[2], &raw[3], |_| {});
    }
    load();
}

/// The benchmark's side.
#[tokio::main]
async fn load() {
    let args = Args::parse();
    let scratch = tempfile::tempdir().unwrap();
    let work = args
        .work_dir
        .clone()
        .unwrap_or_else(|| scratch.path().to_path_buf());
    std::fs::create_dir_all(&work).unwrap();
    let (base, admin_password, mut server) = match &args.server {
        Some(url) => (
            url.trim_end_matches('/').to_string(),
            std::env::var("ANJIAN_ADMIN_PASSWORD").expect("ANJIAN_ADMIN_PASSWORD for --server"),
            None,
        ),
        None => {
            let child = ChildServer::start(&work.join("server-data"), &[]).await;
            (child.url.clone(), ADMIN_PASSWORD.to_string(), Some(child))
        }
    };
    let total = args.devices * args.records_per_device;
    println!(
        "anjian-load: {} devices x {} records = {total} records, photos of {} KB on every tenth, {} at once",
        args.devices, args.records_per_device, args.photo_kb, args.concurrency
    );

    let town = Town::set_up(&base, &admin_password, args.devices).await;
    let started = Instant::now();
    let devices = open_devices(&work, &base, &town, args.devices, args.concurrency).await;
    println!(
        "  set up {} grids, {} devices (login, enrol, first pull) in {:.1} s",
        town.grids.len(),
        devices.len(),
        started.elapsed().as_secs_f64()
    );

    // Capture offline (not part of any figure).
    let started = Instant::now();
    let photo = (args.photo_kb > 0).then(|| Arc::new(photo_of(args.photo_kb)));
    let per_device = args.records_per_device;
    assert!(
        !args.hazards || args.photo_kb > 0,
        "--hazards cites the records' photos: give --photo-kb"
    );
    let with_hazards = args.hazards;
    let captured = run_all(&devices, args.devices, |i, device| {
        let enterprise = town.enterprise_of(i);
        let photo = photo.clone();
        async move {
            let mut ids = Vec::with_capacity(per_device);
            for n in 0..per_device {
                let photo = match (&photo, n % 10) {
                    (Some(photo), 0) => {
                        // Each photo distinct (a tail after the end marker), as real ones are.
                        let mut bytes = photo.as_ref().clone();
                        bytes.extend_from_slice(format!("{i}/{n}").as_bytes());
                        Some(device.add_photo_bytes(&bytes).unwrap())
                    }
                    _ => None,
                };
                let inspection = capture_inspection(&device, &enterprise, n, photo.clone());
                if let (true, Some(photo)) = (with_hazards, photo) {
                    report_hazard(&device, &enterprise, n, &inspection, photo);
                }
                ids.push(inspection);
            }
            ids
        }
    })
    .await;
    let captured: Vec<Vec<String>> = captured.into_iter().map(|(ids, _)| ids).collect();
    println!(
        "  captured {total} records offline in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The ceiling's events: the run's own, up to a sample that keeps a run of a million
    // records within memory.
    let mut events: Vec<SignedEvent> = Vec::new();
    let mut keys = std::collections::HashMap::new();
    for device in &devices {
        if events.len() >= CEILING_SAMPLE {
            break;
        }
        let outbox = device.outbox().unwrap();
        if let Some(first) = outbox.first() {
            let key = anjian_sync::event::parse_public_key(&device.public_key()).unwrap();
            keys.insert(first.body.device_id.clone(), key);
        }
        events.extend(outbox);
    }
    events.truncate(CEILING_SAMPLE);
    let json_bytes: usize = events
        .iter()
        .map(|e| serde_json::to_vec(&e.body.payload).unwrap().len())
        .sum::<usize>()
        * total
        / events.len().max(1);
    let mut figures = json!({
        "devices": args.devices,
        "records_per_device": args.records_per_device,
        "photo_kb": args.photo_kb,
        "concurrency": args.concurrency,
        "record_json_bytes": json_bytes / total.max(1),
    });

    // Push: every device sends at once, photos first, then events.
    let hazards = if args.hazards {
        args.devices * per_device.div_ceil(10)
    } else {
        0
    };
    let phase = Phase::begin(&server, &devices);
    let synced = run_all(&devices, args.concurrency, |_, device| async move {
        device.upload_photos().await?;
        device.push().await.map(|r| r.acknowledged)
    })
    .await;
    let push = phase.end(&server, &devices, &synced, total + hazards);
    let acknowledged: usize = synced.iter().map(|(r, _)| *r.as_ref().unwrap_or(&0)).sum();
    assert_eq!(acknowledged, total + hazards, "every event acknowledged");
    push.print("push", "events", &mut figures);

    if args.restart {
        let child = server
            .take()
            .expect("--restart restarts the child server: leave out --server");
        let store = std::fs::metadata(child.data_dir.join(anjian_server::config::DATABASE_FILE))
            .unwrap()
            .len() as f64
            / 1e6;
        let (child, killed) = child.restart(false).await;
        let (child, clean) = child.restart(true).await;
        println!(
            "  restart: {:.1} s after SIGKILL (the store repaired), {:.1} s after a clean stop, store {store:.0} MB with {total} records",
            killed.as_secs_f64(),
            clean.as_secs_f64()
        );
        figures["restart_after_kill_s"] = json!(killed.as_secs_f64());
        figures["restart_after_clean_stop_s"] = json!(clean.as_secs_f64());
        figures["store_mb_at_restart"] = json!(store);
        server = Some(child);
    }

    // Pull: a fresh town-wide device.
    let fresh = fresh_device(&work.join("fresh-device"), &base, "town").await;
    let entities = fresh_pull(&server, &fresh, "pull", &mut figures).await;
    assert!(entities >= total, "the fresh device was sent every record");

    // Grid pull: a fresh device of one grid's inspector, whose buckets hold that grid's records
    // alone, however large the store.
    let grid_device = fresh_device(&work.join("fresh-grid-device"), &base, "inspector-g0").await;
    let grid_entities = fresh_pull(&server, &grid_device, "grid_pull", &mut figures).await;
    assert!(grid_entities >= per_device.min(total), "the grid's records");

    if !args.push_and_pull_only {
        // Every device catches up with its grid (not timed), so the next phase is incremental.
        let started = Instant::now();
        let caught_up = run_all(&devices, args.concurrency, |_, device| async move {
            device.pull().await
        })
        .await;
        assert!(caught_up.iter().all(|(r, _)| r.is_ok()));
        println!(
            "  devices caught up with their grids in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // Incremental: every device amends 10% of its records, and syncs.
        let amend = per_device.div_ceil(10);
        for (device, ids) in devices.iter().zip(&captured) {
            for id in ids.iter().take(amend) {
                let change =
                    json!({"reason": "补充现场处理措施", "on_site_action": "已责令立即整改并复查"});
                let (_, judged) = device
                    .capture("inspection.amend", id, change, vec![])
                    .unwrap();
                assert_eq!(judged.verdict, Verdict::Applied, "{judged:?}");
            }
        }
        let changes = amend * devices.len();
        let phase = Phase::begin(&server, &devices);
        let synced = run_all(&devices, args.concurrency, |_, device| async move {
            device.sync().await.map(|r| r.acknowledged)
        })
        .await;
        let incremental = phase.end(&server, &devices, &synced, changes);
        incremental.print("incremental", "events", &mut figures);

        // Conflict: pairs of a grid move the same hazard offline.
        let (conflicts, lost) = conflicts(&devices, &town).await;
        println!("  conflict: {conflicts} conflicts detected, {lost} changes lost");
        figures["conflicts_detected"] = json!(conflicts);
        figures["changes_lost"] = json!(lost);
    }

    // The ceiling: the same events and projections straight into redb, and read back.
    assert_eq!(
        fresh[0].server_entity_count().unwrap() as usize,
        entities,
        "the fresh device holds every record"
    );
    let projections: Vec<Projection> = events
        .iter()
        .filter_map(|e| fresh[0].server_entity(&e.body.entity_id).unwrap())
        .collect();
    let (write, read) = ceiling(&events, &projections, &town.user_id);
    let verify = verify_ceiling(&events, &keys);
    // One core verifies while the other writes at best; on one, the two add up.
    let push_ceiling = 1.0 / (1.0 / write + 1.0 / verify);
    println!(
        "  ceiling (redb in-process, durable, 200 a commit, {} events under their own devices): {write:.0} events/s written, {read:.0} entities/s read; {verify:.0} events/s verified alone (hash and strict signature), so {push_ceiling:.0} events/s verified and written on one core",
        events.len()
    );
    figures["ceiling_write_events_per_s"] = json!(write);
    figures["ceiling_read_entities_per_s"] = json!(read);
    figures["ceiling_verify_events_per_s"] = json!(verify);
    figures["ceiling_push_one_core_events_per_s"] = json!(push_ceiling);
    figures["push_share_of_ceiling"] =
        json!(figures["push_events_per_s"].as_f64().unwrap() / write);
    figures["push_share_of_one_core_ceiling"] =
        json!(figures["push_events_per_s"].as_f64().unwrap() / push_ceiling);
    figures["pull_share_of_ceiling"] =
        json!(figures["pull_entities_per_s"].as_f64().unwrap() / read);
    if let Some(server) = &server {
        figures["server_peak_rss_mb"] = json!(server.peak_rss_kb() as f64 / 1024.0);
        figures["disk_mb"] = json!(dir_bytes(&server.data_dir) as f64 / 1e6);
        println!(
            "  server: peak RSS {:.0} MB over the run, disk {:.0} MB",
            figures["server_peak_rss_mb"].as_f64().unwrap(),
            figures["disk_mb"].as_f64().unwrap()
        );
    }
    println!("{figures}");
}

/// Times a fresh device's first pull as phase `name`; returns the projections it was sent.
async fn fresh_pull(
    server: &Option<ChildServer>,
    device: &[Arc<Device>],
    name: &str,
    figures: &mut Value,
) -> usize {
    let phase = Phase::begin(server, device);
    let pulled = run_all(device, 1, |_, device| async move {
        device.pull().await.map(|report| report.pulled)
    })
    .await;
    let entities = *pulled[0].0.as_ref().unwrap();
    phase
        .end(server, device, &pulled, entities)
        .print(name, "entities", figures);
    entities
}

/// A new device of `user`, enrolled, that has pulled nothing yet.
async fn fresh_device(dir: &Path, base: &str, user: &str) -> Vec<Arc<Device>> {
    let mut device = Device::open_with(dir, base, retry()).unwrap();
    device.set_batching(Batching {
        push_events: 200,
        pull_page: 1000,
    });
    device.login(user, PASSWORD).await.unwrap();
    device.enrol("fresh").await.unwrap();
    vec![Arc::new(device)]
}

fn retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 8,
        base: Duration::from_millis(100),
        max: Duration::from_secs(2),
        timeout: Duration::from_secs(120),
        // A thousand devices at once are turned away often; none gives up while the server
        // works through the others.
        busy_for: Duration::from_secs(1800),
    }
}

/// The town the load runs in: its grids, their enterprises, and the users.
struct Town {
    grids: Vec<String>,
    enterprises: Vec<String>,
    user_id: String,
}

impl Town {
    async fn set_up(base: &str, admin_password: &str, devices: usize) -> Town {
        let http = reqwest::Client::new();
        let token = login(&http, base, "admin", admin_password).await;
        let post = |path: &str, body: Value| {
            let request = http
                .post(format!("{base}{path}"))
                .bearer_auth(&token)
                .json(&body);
            async move {
                let answer = request.send().await.unwrap();
                let status = answer.status();
                let body: Value = answer.json().await.unwrap_or_default();
                assert!(status.is_success(), "{status}: {body}");
                body
            }
        };
        let grids: Vec<String> = (0..devices.div_ceil(PER_GRID))
            .map(|g| format!("g{g}"))
            .collect();
        let mut enterprises = Vec::new();
        for (g, grid) in grids.iter().enumerate() {
            post(
                "/v1/admin/grids",
                json!({"code": grid, "name": format!("网格{g}")}),
            )
            .await;
            let record = json!({"name": format!("负载测试紫菜加工厂{g}"), "credit_code": credit_code(g),
                "industry": "紫菜加工", "scale": "below", "grid_id": grid, "address": format!("沙埕镇{g}号")});
            let enterprise = post("/v1/admin/enterprises", record).await;
            enterprises.push(enterprise["id"].as_str().unwrap().to_string());
            post(
                "/v1/admin/users",
                json!({"username": format!("inspector-{grid}"), "password": PASSWORD,
                    "roles": ["inspector"], "scopes": {"grids": [grid]}}),
            )
            .await;
        }
        let town = post(
            "/v1/admin/users",
            json!({"username": "town", "password": PASSWORD, "roles": ["inspector"],
                "scopes": {"town": true}}),
        )
        .await;
        Town {
            grids,
            enterprises,
            user_id: town["id"].as_str().unwrap().to_string(),
        }
    }

    fn enterprise_of(&self, device: usize) -> String {
        self.enterprises[device / PER_GRID].clone()
    }
}

/// A valid 统一社会信用代码 for enterprise `n`.
fn credit_code(n: usize) -> String {
    let body = format!("91350982{n:09}");
    match anjian_sync::credit_code::check(&format!("{body}0")).unwrap() {
        anjian_sync::credit_code::CreditCodeCheck::Valid => format!("{body}0"),
        anjian_sync::credit_code::CreditCodeCheck::CheckDigitMismatch { expected } => {
            format!("{body}{expected}")
        }
    }
}

async fn open_devices(
    work: &Path,
    base: &str,
    town: &Town,
    count: usize,
    concurrency: usize,
) -> Vec<Arc<Device>> {
    let gate = Arc::new(Semaphore::new(concurrency.clamp(1, 32)));
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let dir = work.join(format!("device-{i}"));
            let base = base.to_string();
            let user = format!("inspector-{}", town.grids[i / PER_GRID]);
            let gate = gate.clone();
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.unwrap();
                let mut device = Device::open_with(&dir, &base, retry()).unwrap();
                device.login(&user, PASSWORD).await.unwrap();
                device.enrol(&format!("load device {i}")).await.unwrap();
                device.pull().await.unwrap();
                Arc::new(device)
            })
        })
        .collect();
    let mut devices = Vec::with_capacity(count);
    for task in tasks {
        devices.push(task.await.unwrap());
    }
    devices
}

/// Runs `work` on every device, at most `concurrency` at once, and times each.
async fn run_all<T, F, Fut>(
    devices: &[Arc<Device>],
    concurrency: usize,
    work: F,
) -> Vec<(T, Duration)>
where
    T: Send + 'static,
    F: Fn(usize, Arc<Device>) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let tasks: Vec<_> = devices
        .iter()
        .enumerate()
        .map(|(i, device)| {
            let future = work(i, device.clone());
            let gate = gate.clone();
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.unwrap();
                let started = Instant::now();
                let value = future.await;
                (value, started.elapsed())
            })
        })
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

/// The checklist items an inspection answers: the first twenty of the shipped checklist.
const ITEMS: [&str; 20] = [
    "XF-01", "XF-02", "XF-03", "YD-01", "YD-02", "YD-03", "TZ-01", "TZ-02", "YX-01", "YX-02",
    "WH-01", "WH-02", "FC-01", "FC-02", "YA-01", "YA-02", "JX-01", "JX-02", "GL-01", "GL-02",
];

fn capture_inspection(
    device: &Device,
    enterprise: &str,
    n: usize,
    photo: Option<String>,
) -> String {
    let results: Vec<Value> = ITEMS
        .iter()
        .enumerate()
        .map(|(k, item)| {
            let photos: Vec<&String> = photo.iter().filter(|_| k == 0).collect();
            let mut result = json!({"item": item,
                "verdict": if k % 7 == 3 { "not_applicable" } else { "ok" }, "photos": photos});
            if k % 3 == 0 {
                result["note"] = json!("现场查看符合要求");
            }
            result
        })
        .collect();
    let started = 1_764_300_000_000_i64 + n as i64 * 3_600_000;
    let record = json!({"enterprise_id": enterprise, "kind": "grid_patrol",
        "template": "small-enterprise", "template_version": 1,
        "inspectors": [{"name": "李明"}, {"name": "王芳"}], "started_at_ms": started,
        "ended_at_ms": started + 1_800_000, "results": results,
        "summary": "检查未发现隐患，企业安全生产主体责任落实到位",
        "refusal_note": "负责人外出"});
    let id = Device::new_entity_id();
    let (_, judged) = device
        .capture_pinned(
            "inspection.submit",
            &id,
            record,
            photo.into_iter().collect(),
            "small-enterprise@1",
        )
        .unwrap();
    assert_eq!(judged.verdict, Verdict::Applied, "{judged:?}");
    id
}

/// Reports a hazard found in inspection `inspection`, with its photo: general but every fifth
/// major, its deadline in the past for one in three (overdue unless closed).
fn report_hazard(device: &Device, enterprise: &str, n: usize, inspection: &str, photo: String) {
    let deadline = if n % 30 == 0 {
        "2026-01-15"
    } else {
        "2099-12-31"
    };
    let level = if n % 50 == 0 { "major" } else { "general" };
    let payload = json!({"enterprise_id": enterprise, "level": level,
        "description": format!("第{n}号检查发现：消防通道堆放杂物"), "deadline": deadline,
        "inspection_id": inspection});
    let (_, judged) = device
        .capture(
            "hazard.report",
            &Device::new_entity_id(),
            payload,
            vec![photo],
        )
        .unwrap();
    assert_eq!(judged.verdict, Verdict::Applied, "{judged:?}");
}

/// A JPEG of about `kb` KB.
fn photo_of(kb: usize) -> Vec<u8> {
    // Noise compresses badly, so the side follows from the size wanted (about 3 bytes a pixel at
    // quality 90 for this noise).
    let side = ((kb * 1024 / 3) as f64).sqrt().max(16.0) as u32;
    anjian_tests::photos::jpeg(side, side, 7, None)
}

/// Figures of one phase.
struct Measured {
    items_per_s: f64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
    traffic: Traffic,
    cpu_s: f64,
    peak_rss_mb: f64,
}

impl Measured {
    fn print(&self, name: &str, unit: &str, figures: &mut Value) {
        let mb = (self.traffic.bytes_sent + self.traffic.bytes_received) as f64 / 1e6;
        println!(
            "  {name}: {:.0} {unit}/s ({:.2} s), {:.1} MB/s of bodies, sync p50 {:.0} ms p99 {:.0} ms, \
             {} requests, server CPU {:.1} s, server peak RSS so far {:.0} MB, {} errors",
            self.items_per_s,
            self.seconds,
            mb / self.seconds,
            self.p50_ms,
            self.p99_ms,
            self.traffic.requests,
            self.cpu_s,
            self.peak_rss_mb,
            self.errors
        );
        figures[format!("{name}_{unit}_per_s")] = json!(self.items_per_s);
        figures[format!("{name}_seconds")] = json!(self.seconds);
        figures[format!("{name}_mb_per_s")] = json!(mb / self.seconds);
        figures[format!("{name}_p50_ms")] = json!(self.p50_ms);
        figures[format!("{name}_p99_ms")] = json!(self.p99_ms);
        figures[format!("{name}_http_requests")] = json!(self.traffic.requests);
        figures[format!("{name}_bytes_sent")] = json!(self.traffic.bytes_sent);
        figures[format!("{name}_bytes_received")] = json!(self.traffic.bytes_received);
        figures[format!("{name}_server_cpu_s")] = json!(self.cpu_s);
        figures[format!("{name}_errors")] = json!(self.errors);
    }
}

/// A phase being timed: the devices' traffic and the server's CPU at its start.
struct Phase {
    started: Instant,
    traffic: Traffic,
    cpu: f64,
}

fn traffic_of(devices: &[Arc<Device>]) -> Traffic {
    devices.iter().fold(Traffic::default(), |sum, d| {
        let t = d.traffic();
        Traffic {
            requests: sum.requests + t.requests,
            bytes_sent: sum.bytes_sent + t.bytes_sent,
            bytes_received: sum.bytes_received + t.bytes_received,
        }
    })
}

impl Phase {
    fn begin(server: &Option<ChildServer>, devices: &[Arc<Device>]) -> Phase {
        Phase {
            started: Instant::now(),
            traffic: traffic_of(devices),
            cpu: server.as_ref().map_or(0.0, ChildServer::cpu_seconds),
        }
    }

    fn end<T, E>(
        self,
        server: &Option<ChildServer>,
        devices: &[Arc<Device>],
        results: &[(Result<T, E>, Duration)],
        items: usize,
    ) -> Measured {
        let seconds = self.started.elapsed().as_secs_f64();
        let mut latencies: Vec<f64> = results
            .iter()
            .map(|(_, d)| d.as_secs_f64() * 1000.0)
            .collect();
        latencies.sort_by(f64::total_cmp);
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
        let now = traffic_of(devices);
        Measured {
            items_per_s: items as f64 / seconds,
            seconds,
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            errors: results.iter().filter(|(r, _)| r.is_err()).count(),
            traffic: Traffic {
                requests: now.requests - self.traffic.requests,
                bytes_sent: now.bytes_sent - self.traffic.bytes_sent,
                bytes_received: now.bytes_received - self.traffic.bytes_received,
            },
            cpu_s: server.as_ref().map_or(0.0, ChildServer::cpu_seconds) - self.cpu,
            peak_rss_mb: server
                .as_ref()
                .map_or(0.0, |s| s.peak_rss_kb() as f64 / 1024.0),
        }
    }
}

/// Pairs of devices of a grid act on the same hazard while offline. Returns the conflicts the
/// server detected and the changes lost (neither applied nor kept): the second must be 0.
async fn conflicts(devices: &[Arc<Device>], town: &Town) -> (usize, usize) {
    let photo = Arc::new(photo_of(16));
    let pairs: Vec<(Arc<Device>, Arc<Device>, String)> = devices
        .chunks(2)
        .enumerate()
        .filter(|(_, pair)| pair.len() == 2)
        .map(|(p, pair)| {
            let first = &pair[0];
            let mut bytes = photo.as_ref().clone();
            bytes.extend_from_slice(format!("hazard {p}").as_bytes());
            let sha = first.add_photo_bytes(&bytes).unwrap();
            let id = Device::new_entity_id();
            let report = json!({"enterprise_id": town.enterprise_of(p * 2), "level": "general",
                "description": "消防通道堆放杂物"});
            first
                .capture("hazard.report", &id, report, vec![sha])
                .unwrap();
            (pair[0].clone(), pair[1].clone(), id)
        })
        .collect();
    // Both devices of each pair see the hazard, then both move it without signal.
    for (first, second, _) in &pairs {
        first.sync().await.unwrap();
        second.sync().await.unwrap();
    }
    for (first, second, id) in &pairs {
        for device in [first, second] {
            let moved = json!({"from": "reported", "to": "rectifying"});
            device
                .capture("hazard.transition", id, moved, vec![])
                .unwrap();
        }
    }
    let everyone: Vec<Arc<Device>> = pairs
        .iter()
        .flat_map(|(a, b, _)| [a.clone(), b.clone()])
        .collect();
    let synced = run_all(&everyone, everyone.len(), |_, device| async move {
        device.sync().await.unwrap()
    })
    .await;
    let not_applied: usize = synced.iter().map(|(r, _)| r.not_applied).sum();
    // Every move is in a receipt: applied, or kept whole as a conflict.
    let mut lost = 0;
    for device in &everyone {
        let receipts = device.receipts().unwrap();
        let last = device.log().unwrap().last().unwrap().body.seq;
        match receipts.iter().find(|r| r.seq == last) {
            Some(r) if r.verdict == Verdict::Applied || r.issue_id.is_some() => {}
            _ => lost += 1,
        }
    }
    (not_applied, lost)
}

/// Writes the events and their projections straight into a fresh redb, 200 per durable commit,
/// then reads the town bucket back in pages of 1000: the rates the storage alone allows.
fn ceiling(events: &[SignedEvent], projections: &[Projection], user_id: &str) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(&dir.path().join("ceiling.redb")).unwrap();
    let by_id: std::collections::HashMap<&str, &Projection> = projections
        .iter()
        .map(|p| (p.entity.id.as_str(), p))
        .collect();
    let pairs: Vec<(&SignedEvent, &Projection)> = events
        .iter()
        .filter_map(|e| by_id.get(e.body.entity_id.as_str()).map(|p| (e, *p)))
        .collect();
    let citer = std::sync::Arc::new(Citer {
        user: uuid::Uuid::parse_str(user_id).unwrap_or_default(),
        buckets: vec!["town".to_string()],
    });
    // Each event's canonical encoding, as the push's verification leaves it (timed there).
    let canonical: Vec<Vec<u8>> = pairs
        .iter()
        .map(|(event, _)| anjian_sync::event::canonical_bytes(&event.body).unwrap())
        .collect();
    let started = Instant::now();
    for (batch, canonical) in pairs.chunks(200).zip(canonical.chunks(200)) {
        store
            .write(&mut |tx| {
                let now = UnixMillis::now();
                for ((event, projection), canonical) in batch.iter().zip(canonical) {
                    // Each event under its own device, as the events table keys it.
                    let device = uuid::Uuid::parse_str(&event.body.device_id).unwrap();
                    let time = estimate(event.body.captured.wall_ms, now.0, now.0);
                    let meta = ProjectionMeta {
                        event_id: event.body.id.clone(),
                        event_key: (device, event.body.seq),
                        time,
                        citer: citer.clone(),
                    };
                    let rev = tx.put_entity(projection.entity.clone(), meta)?.rev;
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
                    let judged = JudgedEventRef {
                        event,
                        receipt: &receipt,
                        time,
                        user_id,
                    };
                    tx.put_event(device, &judged, canonical)?;
                }
                Ok(())
            })
            .unwrap();
    }
    let write = pairs.len() as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let buckets = vec!["town".to_string()];
    let mut after = 0;
    let mut read = 0;
    loop {
        let page = store
            .pull(
                &buckets,
                after,
                1000,
                anjian_server::service::sync::PULL_PAGE_BYTES,
            )
            .unwrap();
        read += page.projections.len();
        // The same work as a pull answer: the page's stored projections into one JSON body.
        let entities: Vec<&serde_json::value::RawValue> =
            page.projections.iter().map(|p| p.json.as_ref()).collect();
        std::hint::black_box(serde_json::to_vec(&entities).unwrap());
        after = page.projections.last().map_or(after, |p| p.rev);
        if page.complete {
            break;
        }
    }
    (write, read as f64 / started.elapsed().as_secs_f64())
}

/// Events a second one core verifies as the server does on push (each event's form, the hash
/// of its canonical body, and its strict Ed25519 signature), with nothing else.
fn verify_ceiling(
    events: &[SignedEvent],
    keys: &std::collections::HashMap<String, anjian_sync::event::VerifyingKey>,
) -> f64 {
    let started = Instant::now();
    for event in events {
        event.verify(&keys[&event.body.device_id]).unwrap();
    }
    events.len() as f64 / started.elapsed().as_secs_f64()
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&entry.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
