//! Photo throughput: 12-megapixel JPEGs uploaded at once over loopback into the real server.
//!
//! `cargo run --release -p anjian-tests --bin bench-photos -- [photos] [concurrency] [decoders] [--http2]`
//!
//! (defaults 16, 8 and 2; `decoders` is the server's `blobs.decode_concurrency`; with
//! `--http2` every request goes over one HTTP/2 connection, prior knowledge, as h2c)
//!
//! The server runs in a child process (this binary, started with `serve`), so its peak memory
//! is its own. Each photo goes up by the resumable protocol in 1 MiB chunks, in two phases:
//! - transfer: every byte but the last of every photo, `concurrency` uploads at once: MB/s of
//!   bytes received, checksummed and synced to disk;
//! - ingest: the last byte of every photo, which makes the server hash the whole file, inspect
//!   and decode it, and write its list thumbnail: photos/s;
//!
//! then, after reading the server's peak resident memory (VmHWM) from /proc,
//! - first views: each photo's 1280-pixel phone view asked for once, `concurrency` at once,
//!   which the server makes from the original on that first request: photos/s, and the peak
//!   memory over the whole run.
//!
//! Everything runs on 127.0.0.1.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark fails loudly"
)]

use std::sync::Arc;
use std::time::Instant;

use anjian_tests::child::{ADMIN_PASSWORD, ChildServer, login, serve};
use anjian_tests::photos::{checksum, jpeg, sha256_hex};
use tokio::sync::Semaphore;

const CHUNK: usize = 1024 * 1024;

/// The allocator the server binary uses, so that the child server measures as it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    anjian_sync::client::install_tls_provider();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        let decoders: usize = args[4].parse().expect("a number");
        serve(&args[2], &args[3], |settings| {
            settings.blobs.decode_concurrency = decoders;
        });
    }
    bench(&args);
}

/// The benchmark's side.
#[tokio::main]
async fn bench(args: &[String]) {
    let http2 = args.iter().any(|a| a == "--http2");
    let numbers: Vec<usize> = args[1..]
        .iter()
        .filter(|a| *a != "--http2")
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let count = numbers.first().copied().unwrap_or(16);
    let concurrency = numbers.get(1).copied().unwrap_or(8);
    let decoders = numbers.get(2).copied().unwrap_or(2);

    println!(
        "bench-photos: {count} photos of 4000x3000 (12 MP), {concurrency} uploads at once, \
         {decoders} decoded at once, over {}",
        if http2 {
            "one HTTP/2 connection"
        } else {
            "HTTP/1.1"
        }
    );
    let started = Instant::now();
    let photos: Vec<Arc<Vec<u8>>> = (0..count)
        .map(|seed| Arc::new(jpeg(4000, 3000, seed as u32 + 1, None)))
        .collect();
    let bytes: usize = photos.iter().map(|p| p.len()).sum();
    println!(
        "  made {count} JPEGs, {:.1} MB in all, in {:.1} s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir().unwrap();
    let server = ChildServer::start(&dir.path().join("data"), &[decoders.to_string()]).await;
    let base = server.url.clone();
    let http = if http2 {
        reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .unwrap()
    } else {
        reqwest::Client::new()
    };
    let token = login(&http, &base, "admin", ADMIN_PASSWORD).await;
    let idle_rss = server.peak_rss_kb();

    // Create every upload.
    let mut locations = Vec::new();
    for photo in &photos {
        use base64::Engine as _;
        let metadata = format!(
            "sha256 {}",
            base64::engine::general_purpose::STANDARD.encode(sha256_hex(photo))
        );
        let created = http
            .post(format!("{base}/v1/uploads"))
            .bearer_auth(&token)
            .header("Upload-Length", photo.len())
            .header("Upload-Metadata", metadata)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        locations.push(created.headers()["location"].to_str().unwrap().to_string());
    }

    // Transfer: all but the last byte.
    let gate = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (photo, location) in photos.iter().zip(&locations) {
        let (photo, url, token, http, gate) = (
            photo.clone(),
            format!("{base}{location}"),
            token.clone(),
            http.clone(),
            gate.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let mut offset = 0;
            while offset < photo.len() - 1 {
                let end = (offset + CHUNK).min(photo.len() - 1);
                append(&http, &url, &token, offset, &photo[offset..end], 204).await;
                offset = end;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let transfer = started.elapsed().as_secs_f64();

    // Ingest: the last byte of each, which completes, checks and decodes the photo.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (photo, location) in photos.iter().zip(&locations) {
        let (photo, url, token, http, gate) = (
            photo.clone(),
            format!("{base}{location}"),
            token.clone(),
            http.clone(),
            gate.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let last = photo.len() - 1;
            append(&http, &url, &token, last, &photo[last..], 200).await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let ingest = started.elapsed().as_secs_f64();
    let peak = server.peak_rss_kb();

    // First views: the phone view of each, made from the original when first asked for.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for photo in &photos {
        let (url, token, http, gate) = (
            format!("{base}/v1/blobs/{}/thumbnail?size=large", sha256_hex(photo)),
            token.clone(),
            http.clone(),
            gate.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let answer = http.get(&url).bearer_auth(&token).send().await.unwrap();
            assert_eq!(answer.status(), 200);
            let view = image::load_from_memory(&answer.bytes().await.unwrap()).unwrap();
            assert_eq!((view.width(), view.height()), (1280, 960));
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let views = started.elapsed().as_secs_f64();
    let views_peak = server.peak_rss_kb();
    server.stop().await;

    let mb = bytes as f64 / 1e6;
    println!(
        "  transfer: {:.1} MB/s ({mb:.1} MB in {transfer:.2} s)",
        mb / transfer
    );
    println!(
        "  ingest (hash, decode, list thumbnail): {:.2} photos/s ({count} in {ingest:.2} s)",
        count as f64 / ingest
    );
    println!(
        "  server peak RSS: {:.0} MB (idle before uploads: {:.0} MB)",
        peak as f64 / 1024.0,
        idle_rss as f64 / 1024.0
    );
    println!(
        "  first views (1280 px, made on request): {:.2} photos/s ({count} in {views:.2} s), \
         server peak RSS {:.0} MB",
        count as f64 / views,
        views_peak as f64 / 1024.0
    );
    println!(
        "{}",
        serde_json::json!({
            "photos": count,
            "concurrency": concurrency,
            "decode_concurrency": decoders,
            "mb": mb,
            "upload_mb_per_s": mb / transfer,
            "thumbnail_photos_per_s": count as f64 / ingest,
            "server_peak_rss_mb": peak as f64 / 1024.0,
            "first_view_photos_per_s": count as f64 / views,
            "server_peak_rss_mb_with_views": views_peak as f64 / 1024.0,
        })
    );
}

async fn append(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    offset: usize,
    chunk: &[u8],
    expect: u16,
) {
    let answer = http
        .patch(url)
        .bearer_auth(token)
        .header("Upload-Offset", offset)
        .header("Upload-Checksum", checksum(chunk))
        .header("Content-Type", "application/offset+octet-stream")
        .body(chunk.to_vec())
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    assert_eq!(status, expect, "{:?}", answer.text().await);
}
