//! [`TestDevice`]: a real offline client (`anjian_sync::client::Device`) over its own temporary
//! replica, logged in and enrolled against a [`TestServer`], plus helpers that capture the
//! shipped event kinds.

use std::ops::Deref;
use std::path::{Path, PathBuf};

use anjian_sync::client::{Device, RetryPolicy};
use anjian_sync::judge::Judgement;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::TestServer;

/// A photo's sha256, as events cite it.
pub const PHOTO: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// A device with its replica directory.
#[derive(Debug)]
pub struct TestDevice {
    device: Device,
    dir: TempDir,
    server: String,
}

impl Deref for TestDevice {
    type Target = Device;

    fn deref(&self) -> &Device {
        &self.device
    }
}

impl std::ops::DerefMut for TestDevice {
    fn deref_mut(&mut self) -> &mut Device {
        &mut self.device
    }
}

/// Quick retries: tests should not wait seconds for a server that is down on purpose.
pub fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base: std::time::Duration::from_millis(20),
        max: std::time::Duration::from_millis(100),
        timeout: std::time::Duration::from_secs(10),
        busy_for: std::time::Duration::from_secs(20),
    }
}

impl TestDevice {
    /// A device logged in as `username` and enrolled.
    pub async fn enrolled(server: &TestServer, username: &str, password: &str) -> TestDevice {
        let dir = tempfile::tempdir().unwrap();
        let url = server.url("");
        let mut device = Device::open_with(dir.path(), &url, quick_retries()).unwrap();
        device.login(username, password).await.unwrap();
        device.enrol(&format!("{username}'s phone")).await.unwrap();
        TestDevice {
            device,
            dir,
            server: url,
        }
    }

    /// The replica directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Closes the replica and opens it again, as after a restart of the app.
    pub fn reopen(self) -> TestDevice {
        let TestDevice {
            device,
            dir,
            server,
        } = self;
        drop(device);
        let device = Device::open_with(dir.path(), &server, quick_retries()).unwrap();
        TestDevice {
            device,
            dir,
            server,
        }
    }

    /// Closes the replica and opens it again talking to `server` (a restarted server listens
    /// on a new port).
    pub fn reopen_at(self, server: &TestServer) -> TestDevice {
        let TestDevice { device, dir, .. } = self;
        drop(device);
        TestDevice::from_parts(dir, &server.url(""))
    }

    /// Gives the replica directory away (for a child process to use), keeping it alive.
    pub fn into_parts(self) -> (TempDir, String) {
        (self.dir, self.server)
    }

    /// Opens the replica in `dir` again, talking to the server at `url`.
    pub fn from_parts(dir: TempDir, url: &str) -> TestDevice {
        let device = Device::open_with(dir.path(), url, quick_retries()).unwrap();
        TestDevice {
            device,
            dir,
            server: url.to_string(),
        }
    }

    /// Captures an event that pins checklist `template` (`code@version`).
    pub fn capture_with_template(
        &self,
        kind: &str,
        id: &str,
        payload: Value,
        template: &str,
    ) -> (anjian_sync::event::SignedEvent, Judgement) {
        // Cite every photo the record names, as a client does.
        let mut photos: Vec<String> = payload["results"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["photos"].as_array().cloned().unwrap_or_default())
            .chain(payload.get("signature").cloned())
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect();
        photos.sort();
        photos.dedup();
        self.device
            .capture_pinned(kind, id, payload, photos, template)
            .unwrap()
    }

    /// Reports a hazard in enterprise `e1`, grid `g1`; returns its id and the local judgement.
    pub fn report_hazard(&self, level: &str) -> (String, Judgement) {
        let id = Device::new_entity_id();
        let payload = json!({"enterprise_id": "e1", "grid_id": "g1", "level": level,
            "description": "配电箱未接地", "deadline": "2026-12-05"});
        let (_, judgement) = self
            .capture("hazard.report", &id, payload, vec![PHOTO.into()])
            .unwrap();
        (id, judgement)
    }

    /// Moves a hazard.
    pub fn move_hazard(&self, id: &str, from: &str, to: &str, photos: usize) -> Judgement {
        let payload = json!({"from": from, "to": to});
        self.capture(
            "hazard.transition",
            id,
            payload,
            vec![PHOTO.to_string(); photos],
        )
        .unwrap()
        .1
    }

    /// Moves a hazard, citing these photos.
    pub fn move_hazard_to(&self, id: &str, from: &str, to: &str, photos: Vec<String>) -> Judgement {
        let payload = json!({"from": from, "to": to});
        self.capture("hazard.transition", id, payload, photos)
            .unwrap()
            .1
    }

    /// Submits a shift meeting of `enterprise`/`team` on 2026-11-28 in `shift`; returns its id
    /// and the local judgement.
    pub fn submit_meeting(&self, enterprise: &str, team: &str, shift: &str) -> (String, Judgement) {
        let (id, payload) = meeting_on(enterprise, team, shift);
        let (_, judgement) = self
            .capture("meeting.submit", &id, payload, vec![PHOTO.into()])
            .unwrap();
        (id, judgement)
    }
}

/// A pre-shift meeting of `enterprise`/`team` on 2026-11-28 in `shift`, and its id.
pub fn meeting_on(enterprise: &str, team: &str, shift: &str) -> (String, Value) {
    let mut payload = meeting(enterprise, team);
    payload["shift"] = json!(shift);
    let id = anjian_sync::kinds::meeting::meeting_id(
        enterprise,
        team,
        "2026-11-28",
        shift,
        anjian_sync::kinds::meeting::Slot::PreShift,
    );
    (id, payload)
}

/// A meeting payload (早班, pre-shift, 2026-11-28).
pub fn meeting(enterprise: &str, team: &str) -> Value {
    json!({
        "enterprise_id": enterprise, "team_id": team, "date": "2026-11-28", "shift": "早班",
        "slot": "pre_shift", "host": "王班长", "started_at_ms": 1_764_300_000_000_i64,
        "ended_at_ms": 1_764_300_300_000_i64, "place": "加工车间",
        "attendance": [{"name": "李四", "status": "present", "fit_for_duty": true, "ppe_ok": true}],
        "topics": ["液氨泄漏应急处置"]
    })
}

/// Where a test binary is, next to the test executable (for the crash runner).
pub fn sibling_binary(name: &str) -> PathBuf {
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.join(name)
}
