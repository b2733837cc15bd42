//! Backups that restore: a backup made while devices push is whole by its manifest; restored
//! after more was captured, the devices fill the hole — their events by the `gap` answer, their
//! photos because the records say the server lacks them — and nothing is missing or doubled.

use std::collections::BTreeSet;

use anjian_server::backup;
use anjian_sync::client::{Device, PhotoState};
use anjian_sync::judge::Verdict;
use anjian_tests::{TestDevice, TestServer, USER_PASSWORD};
use redb::TableHandle as _;
use serde_json::json;

/// Reports a hazard in e1/g1 with a photo of its own (`seed`); returns its id.
fn report(device: &TestDevice, seed: u32) -> String {
    let photo = anjian_tests::photos::jpeg(320, 240, seed, None);
    let sha = device.add_photo_bytes(&photo).unwrap();
    let id = Device::new_entity_id();
    let payload = json!({"enterprise_id": "e1", "grid_id": "g1", "level": "general",
        "description": format!("隐患 {seed}"), "deadline": "2026-12-31"});
    let (_, judged) = device
        .capture("hazard.report", &id, payload, vec![sha])
        .unwrap();
    assert_eq!(judged.verdict, Verdict::Applied, "{judged:?}");
    id
}

/// Every hazard the office lists, by id.
async fn hazards_on(server: &TestServer) -> Vec<String> {
    let admin = server.admin().await;
    let page = server
        .get("/v1/office/hazards?limit=500", Some(&admin))
        .await;
    page.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_backup_made_while_devices_push_restores_and_the_devices_fill_the_hole() {
    let mut server = TestServer::start().await;
    let admin = server.admin().await;
    for (username, roles, scopes) in [
        ("lili", json!(["inspector"]), json!({"grids": ["g1"]})),
        ("chen", json!(["inspector"]), json!({"grids": ["g1"]})),
        (
            "zhou",
            json!(["enterprise_manager"]),
            json!({"enterprise": "e1"}),
        ),
    ] {
        server
            .create_user(
                &admin,
                json!({"username": username, "password": USER_PASSWORD, "roles": roles, "scopes": scopes}),
            )
            .await;
    }
    let mut devices = Vec::new();
    for name in ["lili", "chen", "zhou"] {
        devices.push(TestDevice::enrolled(&server, name, USER_PASSWORD).await);
    }
    let mut captured = BTreeSet::new();
    let mut seed = 0;
    for device in &devices {
        for _ in 0..4 {
            seed += 1;
            captured.insert(report(device, seed));
        }
        device.sync().await.unwrap();
    }

    // A backup while two devices keep capturing and pushing.
    let backups = tempfile::tempdir().unwrap();
    let to = backups.path().join("nightly");
    let pushing = async {
        let mut ids = Vec::new();
        for round in 0..5 {
            for (k, device) in devices[..2].iter().enumerate() {
                ids.push(report(device, 100 + round * 2 + k as u32));
                device.sync().await.unwrap();
            }
        }
        ids
    };
    let (pushed, answer) = tokio::join!(pushing, backup::ask_server(server.data_dir(), &to));
    captured.extend(pushed);
    let answer = answer
        .unwrap()
        .expect("the running server answers on its control socket");
    assert!(answer.ok, "{}", answer.message);
    let manifest = backup::verify(&to).unwrap();
    let in_backup = manifest.tables[anjian_server::store::tables::ENTITIES.name()];
    assert!(
        in_backup > 0
            && manifest
                .summary()
                .starts_with(&format!("{in_backup} records, ")),
        "{}",
        manifest.summary()
    );
    assert!(manifest.blobs.len() >= 12, "{}", manifest.summary());

    // More after the backup: each device, each with new photos.
    for device in &devices {
        for _ in 0..3 {
            seed += 1;
            captured.insert(report(device, 1000 + seed));
        }
        device.sync().await.unwrap();
    }
    assert_eq!(hazards_on(&server).await.len(), captured.len());

    // The disk is lost: the backup is restored into an empty data directory.
    server.stop().await;
    let data = server.data_dir().to_path_buf();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let restored = backup::restore(&to, server.settings()).unwrap();
    assert_eq!(restored, manifest);
    let server = server.restart().await;
    let before = hazards_on(&server).await.len();
    assert!(
        before < captured.len(),
        "the backup is older than the devices"
    );
    assert!(before as u64 <= in_backup);

    // The devices sync: events again from where the server's chains end, then the photos.
    let mut devices: Vec<TestDevice> = devices.into_iter().map(|d| d.reopen_at(&server)).collect();
    let mut again = 0;
    for device in &mut devices {
        let report = device.sync().await.unwrap();
        again += report.photos_again.uploaded;
        device.sync().await.unwrap();
    }
    assert!(
        again >= 9,
        "the photos taken after the backup were sent again: {again}"
    );
    let listed = hazards_on(&server).await;
    let unique: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(unique.len(), listed.len(), "nothing doubled");
    assert_eq!(unique, captured, "nothing any device captured is missing");
    for device in &devices {
        for receipt in device.receipts().unwrap() {
            assert_eq!(receipt.verdict, Verdict::Applied, "{receipt:?}");
        }
        assert!(
            device
                .photos()
                .unwrap()
                .iter()
                .all(|p| p.state == PhotoState::Uploaded)
        );
        for id in &captured {
            if let Some(projection) = device.server_entity(id).unwrap() {
                assert!(projection.missing_blobs.is_empty(), "{projection:?}");
            }
        }
    }
    // And a backup of the restored store is whole again.
    let again_to = backups.path().join("after");
    let answer = backup::ask_server(server.data_dir(), &again_to)
        .await
        .unwrap()
        .unwrap();
    assert!(answer.ok, "{}", answer.message);
    backup::verify(&again_to).unwrap();

    // Backing up into the earlier backup's directory copies only the photos it lacks: the files
    // it held are left as they were (the same inode), the new ones join them, and it verifies.
    use std::os::unix::fs::MetadataExt as _;
    let inode = |path: &str| std::fs::metadata(to.join(path)).unwrap().ino();
    let held: Vec<(String, u64)> = manifest
        .blobs
        .iter()
        .flat_map(|b| &b.files)
        .map(|f| (f.path.clone(), inode(&f.path)))
        .collect();
    let answer = backup::ask_server(server.data_dir(), &to)
        .await
        .unwrap()
        .unwrap();
    assert!(answer.ok, "{}", answer.message);
    let later = backup::verify(&to).unwrap();
    assert!(
        later.blobs.len() > manifest.blobs.len(),
        "{}",
        later.summary()
    );
    for (path, before) in held {
        assert_eq!(inode(&path), before, "{path} was copied again");
    }
}

#[tokio::test]
async fn a_backup_that_does_not_match_its_manifest_is_refused_and_not_restored() {
    let server = TestServer::start().await;
    let device = {
        let admin = server.admin().await;
        server.add_inspector(&admin, "lili").await;
        TestDevice::enrolled(&server, "lili", USER_PASSWORD).await
    };
    report(&device, 7);
    device.sync().await.unwrap();
    let backups = tempfile::tempdir().unwrap();
    let to = backups.path().join("b");
    assert!(
        backup::ask_server(server.data_dir(), &to)
            .await
            .unwrap()
            .unwrap()
            .ok
    );
    let manifest = backup::verify(&to).unwrap();

    // A photo changed on the backup's disk: named, and nothing restored.
    let photo = to.join(&manifest.blobs[0].files[0].path);
    let mut bytes = std::fs::read(&photo).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&photo, &bytes).unwrap();
    let err = backup::verify(&to).unwrap_err().to_string();
    assert!(err.contains(&manifest.blobs[0].files[0].path), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let settings = anjian_server::config::Settings {
        data_dir: empty.path().join("data"),
        ..server.settings().clone()
    };
    assert!(backup::restore(&to, &settings).is_err());
    assert!(!settings.database_path().exists());

    // Without its manifest it is not a backup; a relative path is refused by the server.
    std::fs::remove_file(to.join(backup::MANIFEST)).unwrap();
    assert!(
        backup::verify(&to)
            .unwrap_err()
            .to_string()
            .contains("not a backup")
    );
    let answer = backup::ask_server(server.data_dir(), std::path::Path::new("relative/dir"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !answer.ok && answer.message.contains("absolute"),
        "{}",
        answer.message
    );
    // A restore never overwrites a store.
    let fresh = backups.path().join("c");
    backup::ask_server(server.data_dir(), &fresh)
        .await
        .unwrap()
        .unwrap();
    let err = backup::restore(&fresh, server.settings())
        .unwrap_err()
        .to_string();
    assert!(err.contains("already holds a store"), "{err}");
}
