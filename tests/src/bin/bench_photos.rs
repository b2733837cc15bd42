//! Photo throughput: 12-megapixel JPEGs uploaded at once over loopback into the real server.
//!
//! `cargo run --release -p anjian-tests --bin bench-photos -- [photos] [concurrency] [decoders]`
//!
//! (defaults 16, 8 and 2; `decoders` is the server's `blobs.decode_concurrency`)
//!
//! The server runs in a child process (this binary, started with `serve`), so its peak memory
//! is its own. Each photo goes up by the resumable protocol in 1 MiB chunks, in two phases:
//! - transfer: every byte but the last of every photo, `concurrency` uploads at once: MB/s of
//!   bytes received, checksummed and synced to disk;
//! - ingest: the last byte of every photo, which makes the server hash the whole file, inspect
//!   and decode it, and write its two thumbnails: photos/s.
//!
//! Then the server's peak resident memory (VmHWM) is read from /proc. Everything runs on
//! 127.0.0.1.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark fails loudly"
)]

use std::sync::Arc;
use std::time::Instant;

use anjian_tests::photos::{checksum, jpeg, sha256_hex};
use tokio::sync::Semaphore;

const PASSWORD: &str = "bench-photos-admin-password";
const CHUNK: usize = 1024 * 1024;

#[tokio::main]
async fn main() {
    anjian_sync::client::install_tls_provider();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        return serve(&args[2], &args[3], args[4].parse().expect("a number")).await;
    }
    let numbers: Vec<usize> = args[1..]
        .iter()
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let count = numbers.first().copied().unwrap_or(16);
    let concurrency = numbers.get(1).copied().unwrap_or(8);
    let decoders = numbers.get(2).copied().unwrap_or(2);

    println!(
        "bench-photos: {count} photos of 4000x3000 (12 MP), {concurrency} uploads at once, \
         {decoders} decoded at once"
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
    let port_file = dir.path().join("port");
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .arg("serve")
        .arg(dir.path().join("data"))
        .arg(&port_file)
        .arg(decoders.to_string())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut port = String::new();
    for _ in 0..600 {
        if let Ok(text) = std::fs::read_to_string(&port_file) {
            if text.ends_with('\n') {
                port = text.trim().to_string();
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!port.is_empty(), "the server did not start");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("{base}/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let idle_rss = peak_rss_kb(pid);

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
    let peak = peak_rss_kb(pid);
    child.kill().await.ok();

    let mb = bytes as f64 / 1e6;
    println!(
        "  transfer: {:.1} MB/s ({mb:.1} MB in {transfer:.2} s)",
        mb / transfer
    );
    println!(
        "  ingest (hash, decode, 2 thumbnails): {:.2} photos/s ({count} in {ingest:.2} s)",
        count as f64 / ingest
    );
    println!(
        "  server peak RSS: {:.0} MB (idle before uploads: {:.0} MB)",
        peak as f64 / 1024.0,
        idle_rss as f64 / 1024.0
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

/// The process's peak resident set (VmHWM), in KiB.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The server, in this process, on the default settings over `data_dir`, on a free loopback
/// port written to `port_file`.
async fn serve(data_dir: &str, port_file: &str, decoders: usize) {
    let _ = tracing_subscriber::fmt().with_env_filter("warn").try_init();
    let mut settings = anjian_server::config::Settings {
        data_dir: data_dir.into(),
        ..Default::default()
    };
    settings.blobs.decode_concurrency = decoders;
    let app = anjian_server::startup::Application::build(settings)
        .await
        .unwrap();
    app.ensure_admin(Some(PASSWORD.to_string().into()))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    std::fs::write(port_file, format!("{port}\n")).unwrap();
    app.run_until(listener, std::future::pending())
        .await
        .unwrap();
}
