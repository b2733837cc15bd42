//! `console-bench`: how long the office console's pages take over a large store.
//!
//! ```sh
//! anjian-load --devices 100 --records-per-device 2000 --photo-kb 1 --hazards \
//!     --push-and-pull-only --work-dir /tmp/big      # 200,000 inspections, 20,000 hazards
//! console-bench --data-dir /tmp/big/server-data --rounds 20
//! ```
//!
//! Starts the server (this binary, as `serve`) over the data directory in a child process,
//! signs in as the admin (the console's cookie carries the same session as the API), and
//! requests each page `--rounds` times, one at a time over loopback: the time from sending
//! the request to the last byte of the answer is the server's time plus a loopback round trip.
//! Prints the median and the slowest time of each page, then one JSON line.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark fails loudly"
)]

use std::path::PathBuf;
use std::time::Instant;

use anjian_tests::child::{ADMIN_PASSWORD, ChildServer, login, serve};
use clap::Parser;
use serde_json::json;

/// What to measure.
#[derive(Debug, Parser)]
#[command(name = "console-bench")]
struct Args {
    /// The server's data directory (as `anjian-load --work-dir W` leaves it: `W/server-data`).
    #[arg(long)]
    data_dir: PathBuf,
    /// Requests of each page.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
}

/// The server allocates as its own binary does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The first link to `prefix…` in a page, as a path.
fn first_link(page: &str, prefix: &str) -> Option<String> {
    let start = page.find(&format!("href=\"{prefix}"))? + "href=\"".len();
    let end = start + page[start..].find('"')?;
    Some(page[start..end].replace("&amp;", "&"))
}

fn main() {
    anjian_sync::client::install_tls_provider();
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some("serve") {
        serve(&raw[2], &raw[3], |_| {});
    }
    bench();
}

/// The benchmark's side.
#[tokio::main]
async fn bench() {
    let args = Args::parse();
    let started = Instant::now();
    let server = ChildServer::start(&args.data_dir, &[]).await;
    println!(
        "console-bench: server over {} up in {:.1} s",
        args.data_dir.display(),
        started.elapsed().as_secs_f64()
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = login(&http, &server.url, "admin", ADMIN_PASSWORD).await;
    let cookie = format!("anjian_console={token}");
    let get = |path: String| {
        let http = http.clone();
        let cookie = cookie.clone();
        let url = format!("{}{path}", server.url);
        async move {
            let sent = Instant::now();
            let answer = http
                .get(&url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            let status = answer.status().as_u16();
            let body = answer.bytes().await.unwrap();
            (sent.elapsed().as_secs_f64() * 1000.0, status, body)
        }
    };
    // Pages found by following the lists, as a person would.
    let (_, _, ledger) = get("/console/hazards".into()).await;
    let ledger = String::from_utf8_lossy(&ledger).to_string();
    let hazard = first_link(&ledger, "/console/hazards/").expect("a hazard in the ledger");
    let next = first_link(&ledger, "/console/hazards?").filter(|l| l.contains("after="));
    let (_, _, list) = get("/console/inspections".into()).await;
    let list = String::from_utf8_lossy(&list).to_string();
    let inspection = first_link(&list, "/console/inspections/").expect("an inspection in the list");
    let mut pages = vec![
        ("dashboard", "/console/".to_string()),
        ("hazard ledger", "/console/hazards".to_string()),
        (
            "hazard ledger, filtered",
            "/console/hazards?state=reported&level=general&overdue=yes&grid=g0".to_string(),
        ),
        ("hazard", hazard),
        ("inspections", "/console/inspections".to_string()),
        (
            "inspections, filtered",
            "/console/inspections?kind=grid_patrol&grid=g1&from=2025-11-28&to=2025-12-31"
                .to_string(),
        ),
        // A filter nothing matches reads every fact: the slowest list.
        (
            "inspections, no match",
            "/console/inspections?kind=recheck".to_string(),
        ),
        ("inspection record", inspection),
        ("meetings calendar", "/console/meetings".to_string()),
        ("articles", "/console/articles".to_string()),
        ("users", "/console/users".to_string()),
        ("enterprises", "/console/enterprises".to_string()),
        ("map", "/console/map".to_string()),
        ("sync issues, all", "/console/issues?state=all".to_string()),
        ("monthly report (考核月报)", "/console/report".to_string()),
    ];
    if let Some(next) = next {
        pages.insert(3, ("hazard ledger, page 2", next));
    }
    let exports = [
        (
            "hazard ledger .xlsx (one grid)",
            "/console/hazards.xlsx?grid=g0",
        ),
        ("hazard ledger .csv (all)", "/console/hazards.csv"),
    ];
    let mut figures = json!({"rounds": args.rounds});
    println!(
        "{:<34} {:>10} {:>10} {:>9}",
        "page", "median ms", "max ms", "bytes"
    );
    for (name, path) in pages
        .iter()
        .map(|(n, p)| (*n, p.clone()))
        .chain(exports.iter().map(|(n, p)| (*n, p.to_string())))
    {
        let mut times = Vec::with_capacity(args.rounds);
        let mut size = 0;
        for _ in 0..args.rounds {
            let (ms, status, body) = get(path.clone()).await;
            assert_eq!(status, 200, "{path} answered {status}");
            size = body.len();
            times.push(ms);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let max = times[times.len() - 1];
        println!("{name:<34} {median:>10.1} {max:>10.1} {size:>9}");
        figures[name] = json!({"median_ms": median, "max_ms": max, "bytes": size});
    }
    figures["server_peak_rss_mb"] = json!(server.peak_rss_kb() as f64 / 1024.0);
    println!("{figures}");
    server.stop().await;
}
