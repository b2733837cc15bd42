//! A full disk: under the reserve, writes are refused with `507 storage-full` and `Retry-After`
//! while reads and sign-ins go on, `/readyz` says why it is not ready, and writes come back by
//! themselves once space returns; a write the disk fails stops the server (exit non-zero, for
//! its supervisor to start it again), and nothing acknowledged is lost.
//!
//! Each test mounts a small tmpfs of its own for the data directory (the test runs as root).

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anjian_tests::console::Browser;
use anjian_tests::{ADMIN_PASSWORD, TestServer};
use serde_json::json;

/// A tmpfs of `mb` MiB, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mb: u32) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(
            mounted.success(),
            "the full-disk tests mount a small tmpfs and need root for it"
        );
        SmallDisk { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Bytes free on it.
    fn free(&self) -> u64 {
        let stat = rustix::fs::statvfs(self.dir.path()).unwrap();
        stat.f_bavail * stat.f_frsize
    }

    /// Fills it with a ballast file until `leave` bytes are free.
    fn fill(&self, leave: u64) -> PathBuf {
        let ballast = self.dir.path().join("ballast");
        let mut file = std::fs::File::create(&ballast).unwrap();
        let chunk = vec![0xa5u8; 64 * 1024];
        // Bounded: the tmpfs is small.
        for _ in 0..100_000 {
            let free = self.free();
            if free <= leave {
                break;
            }
            let take = usize::try_from((free - leave).min(chunk.len() as u64)).unwrap();
            if file.write_all(&chunk[..take]).is_err() {
                break;
            }
            file.flush().unwrap();
        }
        ballast
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn server_on(disk: &SmallDisk, reserve_mb: u64) -> TestServer {
    let data: PathBuf = disk.path();
    TestServer::start_with(move |settings| {
        settings.data_dir = data;
        settings.storage.reserve_mb = reserve_mb;
    })
    .await
}

fn grid(code: &str) -> serde_json::Value {
    json!({"code": code, "name": format!("{code} 村")})
}

#[tokio::test]
async fn under_the_reserve_writes_get_507_reads_go_on_and_writes_come_back_when_space_returns() {
    let disk = SmallDisk::mount(48);
    let server = server_on(&disk, 16).await;
    let admin = server.admin().await;
    server
        .post("/v1/admin/grids", Some(&admin), grid("g1"))
        .await
        .ok(200);
    assert_eq!(server.get("/readyz", None).await.ok(200)["status"], "ready");

    // Something else fills the disk to under the reserve.
    let ballast = disk.fill(8 * 1024 * 1024);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refused = server
        .post("/v1/admin/grids", Some(&admin), grid("g2"))
        .await;
    refused.assert_error(507, "storage-full");
    assert_eq!(refused.retry_after, Some(60));
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("磁盘空间不足")
    );
    // Reads go on, and signing in still works.
    let grids = server.get("/v1/admin/grids", Some(&admin)).await;
    assert_eq!(grids.ok(200)["items"].as_array().unwrap().len(), 1);
    server.login("admin", ADMIN_PASSWORD).await.ok(200);
    // At the console, a change is refused with a page that says why.
    let mut browser = Browser::signed_in(&server, "admin", ADMIN_PASSWORD).await;
    let csrf = browser.get("/console/users").await.csrf();
    let page = browser
        .post("/console/users", &[("csrf", &csrf), ("username", "zhao")])
        .await;
    assert_eq!(page.status, 507);
    assert!(
        page.content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("text/html")),
        "{page:?}"
    );
    assert!(page.body.contains("磁盘空间不足"), "{}", page.body);
    let unready = server.get("/readyz", None).await;
    unready.assert_error(503, "not-ready");
    assert!(
        unready.body["message"]
            .as_str()
            .unwrap()
            .contains("reserve"),
        "{unready:?}"
    );

    // Space returns: writes come back without a restart.
    std::fs::remove_file(&ballast).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    server
        .post("/v1/admin/grids", Some(&admin), grid("g2"))
        .await
        .ok(200);
    assert_eq!(server.get("/readyz", None).await.ok(200)["status"], "ready");
}

#[tokio::test]
async fn a_write_the_disk_fails_stops_the_server_and_nothing_acknowledged_is_lost() {
    let disk = SmallDisk::mount(32);
    // No reserve: the disk itself runs out.
    let mut server = server_on(&disk, 0).await;
    let admin = server.admin().await;
    let mut acknowledged = Vec::new();
    for n in 0..5 {
        let code = format!("k{n}");
        server
            .post("/v1/admin/grids", Some(&admin), grid(&code))
            .await
            .ok(200);
        acknowledged.push(code);
    }
    let ballast = disk.fill(64 * 1024);
    // Writes until the disk refuses one (bounded).
    let mut failed = false;
    for n in 0..2000 {
        let code = format!("f{n}");
        let reply = server
            .post("/v1/admin/grids", Some(&admin), grid(&code))
            .await;
        match reply.status {
            200 => acknowledged.push(code),
            500 => {
                failed = true;
                break;
            }
            other => panic!("unexpected answer {other}: {reply:?}"),
        }
    }
    assert!(failed, "the disk never failed a write");
    // The server stops by itself, with an error for its supervisor.
    let ended = server
        .ended_by_itself(Duration::from_secs(30))
        .await
        .expect("the server stopped by itself");
    let err = ended.unwrap_err().to_string();
    assert!(err.contains("cannot write to the disk"), "{err}");

    // Space is freed and the server started again: everything acknowledged is there.
    std::fs::remove_file(&ballast).unwrap();
    let server = server.restart().await;
    let admin = server.admin().await;
    let grids = server.get("/v1/admin/grids", Some(&admin)).await;
    let held: Vec<String> = grids.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["body"]["code"].as_str().unwrap().to_string())
        .collect();
    for code in &acknowledged {
        assert!(held.contains(code), "{code} was acknowledged and is lost");
    }
}
