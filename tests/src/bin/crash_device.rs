//! Runs one sync of a device replica and aborts the process at the N-th sync step, as a phone
//! killed mid-sync would be: no destructors, no clean close of the replica.
//!
//! Usage: `crash-device <replica dir> <server url> <N>`; N = 0 never aborts. Exits 0 when the sync
//! completed, 2 when it failed, and by abort (SIGABRT) when it was stopped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test helper fails loudly"
)]

use std::sync::atomic::{AtomicU32, Ordering};

use anjian_sync::client::{Batching, Device};
use anjian_tests::devices::quick_retries;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, server, crash_at] = args.as_slice() else {
        eprintln!("usage: crash-device <replica dir> <server url> <N>");
        std::process::exit(64);
    };
    let crash_at: u32 = crash_at.parse().expect("N is a number");
    let mut device = Device::open_with(std::path::Path::new(dir), server, quick_retries()).unwrap();
    device.set_batching(Batching {
        push_events: 2,
        pull_page: 2,
    });
    let steps = AtomicU32::new(0);
    device.on_step(move |step| {
        let n = steps.fetch_add(1, Ordering::SeqCst) + 1;
        if n == crash_at {
            eprintln!("killed at step {n}: {step:?}");
            std::process::abort();
        }
    });
    match device.sync().await {
        Ok(report) => println!("{report:?}"),
        Err(err) => {
            eprintln!("sync failed: {err}");
            std::process::exit(2);
        }
    }
}
