//! Photos (照片): resumable uploads and their failure modes, the forms a mini-program sends, the
//! image pipeline, who may read a photo, and evidence completeness.

use std::io::{Read as _, Write as _};

use anjian_sync::client::{Device, PhotoState, Step};
use anjian_tests::photos::{self, Exif, checksum, jpeg, sha256_hex};
use anjian_tests::{TestDevice, TestServer, USER_PASSWORD};
use serde_json::json;

async fn inspector(server: &TestServer, admin: &str, name: &str, grid: &str) -> String {
    let user = json!({"username": name, "password": USER_PASSWORD, "roles": ["inspector"],
        "scopes": {"grids": [grid]}});
    server.create_user(admin, user).await;
    server.token(name, USER_PASSWORD).await
}

/// Sends the head of a PATCH declaring `declared` bytes, then `sent` of them, and hangs up: an
/// upload cut off by a lost signal.
fn cut_off_append(
    server: &TestServer,
    token: &str,
    location: &str,
    offset: usize,
    bytes: &[u8],
    sent: usize,
) {
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Tus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        bytes.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&bytes[..sent]).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    drop(stream);
}

#[tokio::test]
async fn an_upload_cut_off_at_random_offsets_resumes_to_the_whole_photo() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let photo = jpeg(640, 480, 1, None);
    let sha = sha256_hex(&photo);
    let created = server.create_upload(&admin, photo.len() as u64, &sha).await;
    assert_eq!(created.status, 201, "{created:?}");
    assert!(created.header("upload-expires").unwrap().ends_with(" GMT"));
    let location = created.header("location").unwrap().to_string();

    // A fixed-seed walk: each round sends the rest but is cut off somewhere inside it.
    let mut seed: u64 = 0x5eed;
    let mut offset = 0usize;
    for _ in 0..5 {
        let rest = &photo[offset..];
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let cut = 1 + (seed >> 33) as usize % (rest.len() - 1);
        cut_off_append(&server, &admin, &location, offset, rest, cut);
        // The server keeps what arrived (no checksum was sent): ask where it stands, until it
        // has taken in the cut-off request (the offset moved, and stays where it is).
        let mut held = offset;
        for _ in 0..100 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let head = server.upload_offset(&admin, &location).await;
            assert_eq!(head.status, 200);
            let now = head
                .header("upload-offset")
                .unwrap()
                .parse::<usize>()
                .unwrap();
            let settled = now > offset && now == held;
            held = now;
            if settled {
                break;
            }
        }
        assert!(
            held >= offset && held <= offset + cut,
            "{held} after cutting at {}",
            offset + cut
        );
        offset = held;
    }
    let rest = &photo[offset..];
    let done = server
        .append(
            &admin,
            &location,
            offset as u64,
            rest,
            Some(checksum(rest)),
            false,
        )
        .await;
    assert_eq!(done.status, 200, "{done:?}");
    assert_eq!(done.body["sha256"], sha.as_str());
    assert_eq!(
        (done.body["width"].as_u64(), done.body["height"].as_u64()),
        (Some(640), Some(480))
    );
    assert_eq!(
        server.upload_offset(&admin, &location).await.status,
        404,
        "a finished upload is gone"
    );
}

#[tokio::test]
async fn a_bad_chunk_is_460_a_wrong_offset_409_and_a_wrong_file_stores_nothing() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let photo = jpeg(320, 240, 2, None);
    let sha = sha256_hex(&photo);
    let location = server
        .upload_location(&admin, photo.len() as u64, &sha)
        .await;
    let first = &photo[..1000];
    let bad = server
        .append(
            &admin,
            &location,
            0,
            first,
            Some(checksum(b"something else")),
            false,
        )
        .await;
    assert_eq!((bad.status, bad.code()), (460, "checksum-mismatch"));
    let head = server.upload_offset(&admin, &location).await;
    assert_eq!(
        head.header("upload-offset"),
        Some("0"),
        "nothing of a bad chunk is kept"
    );
    let good = server
        .append(&admin, &location, 0, first, Some(checksum(first)), false)
        .await;
    assert_eq!(
        (good.status, good.header("upload-offset")),
        (204, Some("1000"))
    );
    let stale = server
        .append(&admin, &location, 0, first, Some(checksum(first)), false)
        .await;
    assert_eq!((stale.status, stale.code()), (409, "offset-mismatch"));
    let unsupported = server
        .append(
            &admin,
            &location,
            1000,
            &photo[1000..1100],
            Some("md5 AAAA".into()),
            false,
        )
        .await;
    assert_eq!(
        (unsupported.status, unsupported.code()),
        (400, "invalid-header")
    );
    let overrun = server
        .append(&admin, &location, 1000, &[0; 1_000_000], None, false)
        .await;
    assert_eq!((overrun.status, overrun.code()), (400, "upload-overrun"));
    assert_eq!(
        server
            .upload_offset(&admin, &location)
            .await
            .header("upload-offset"),
        Some("1000")
    );

    // Another file of the same length, announced as this one: refused whole, nothing stored.
    let other = {
        let mut other = jpeg(300, 200, 3, None);
        other.resize(photo.len(), 0);
        other
    };
    let location = server
        .upload_location(&admin, photo.len() as u64, &sha)
        .await;
    let wrong = server
        .append(&admin, &location, 0, &other, Some(checksum(&other)), false)
        .await;
    assert_eq!((wrong.status, wrong.code()), (422, "blob-hash-mismatch"));
    for hash in [&sha, &sha256_hex(&other)] {
        let head = reqwest::Client::new()
            .head(server.url(&format!("/v1/blobs/{hash}")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 404);
    }
    let objects = walk(&server.data_dir().join("blobs/objects"));
    assert!(objects.is_empty(), "nothing stored: {objects:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            files.extend(walk(&entry.path()));
        } else {
            files.push(entry.path());
        }
    }
    files
}

#[tokio::test]
async fn the_forms_a_mini_program_sends_work_and_a_second_upload_stores_nothing_new() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let photo = jpeg(400, 300, 4, None);
    let sha = sha256_hex(&photo);

    // wx.request cannot PATCH: POST with X-HTTP-Method-Override.
    let location = server
        .upload_location(&admin, photo.len() as u64, &sha)
        .await;
    let stored = server
        .append(&admin, &location, 0, &photo, Some(checksum(&photo)), true)
        .await;
    assert_eq!(stored.status, 200, "{stored:?}");
    let files = walk(&server.data_dir().join("blobs/objects")).len();

    // The same file again: creation says it is there, the form changes nothing.
    let again = server.create_upload(&admin, photo.len() as u64, &sha).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.header("location"),
        Some(format!("/v1/blobs/{sha}").as_str())
    );
    let form = server.upload_form(&admin, &photo, &sha).await;
    assert_eq!(
        (form.status, form.body["sha256"].as_str()),
        (200, Some(sha.as_str()))
    );
    assert_eq!(walk(&server.data_dir().join("blobs/objects")).len(), files);

    // wx.uploadFile: one multipart form.
    let other = jpeg(200, 100, 5, None);
    let form = server
        .upload_form(&admin, &other, &sha256_hex(&other))
        .await;
    assert_eq!(form.status, 200, "{form:?}");
    assert_eq!(form.body["media_type"], "image/jpeg");
    let wrong = server
        .upload_form(&admin, &other, &sha256_hex(b"another file"))
        .await;
    assert_eq!((wrong.status, wrong.code()), (422, "blob-hash-mismatch"));
    let unreadable = server.upload_form(&admin, &other, "not a sha256").await;
    assert_eq!(
        (unreadable.status, unreadable.code()),
        (400, "invalid-field")
    );

    let options = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, server.url("/v1/uploads"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        options.headers()["tus-extension"],
        "creation,checksum,expiration"
    );
    assert_eq!(options.headers()["tus-checksum-algorithm"], "sha256");
}

#[tokio::test]
async fn bombs_truncated_files_and_other_formats_are_refused_cleanly() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bomb = photos::png_bomb(100_000);
    assert!(bomb.len() < 500);
    let refused = server.upload(&admin, &bomb, 64 * 1024).await;
    assert_eq!((refused.status, refused.code()), (422, "image-too-large"));
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("100000×100000"),
        "{refused:?}"
    );

    // Within the pixel limit (50 million), but 16 bits a channel: 400 MB decoded. Refused for
    // its memory before any pixel buffer is made, not decoded and found damaged.
    let deep = photos::png_declaring(7071, 16);
    let refused = server.upload(&admin, &deep, 64 * 1024).await;
    assert_eq!((refused.status, refused.code()), (422, "image-too-large"));
    assert!(
        refused.body["message"].as_str().unwrap().contains("memory"),
        "{refused:?}"
    );

    let whole = jpeg(800, 600, 6, None);
    let truncated = &whole[..whole.len() * 2 / 3];
    let refused = server.upload(&admin, truncated, 64 * 1024).await;
    assert_eq!((refused.status, refused.code()), (422, "image-damaged"));

    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic");
    heic.extend_from_slice(&[0; 200]);
    let refused = server.upload(&admin, &heic, 64 * 1024).await;
    assert_eq!((refused.status, refused.code()), (415, "image-unsupported"));
    assert!(refused.body["message"].as_str().unwrap().contains("HEIC"));
    let refused = server.upload(&admin, b"%PDF-1.7 not a photo", 64).await;
    assert_eq!((refused.status, refused.code()), (415, "image-unsupported"));
    assert!(walk(&server.data_dir().join("blobs/objects")).is_empty());

    let too_long = server.create_upload(&admin, 1 << 40, &"a".repeat(64)).await;
    assert_eq!((too_long.status, too_long.code()), (413, "blob-too-large"));
}

/// Reports a hazard citing `photo` in grid `grid`; returns its id.
fn report_with(device: &Device, grid: &str, photo: &str) -> String {
    let id = Device::new_entity_id();
    let payload = json!({"enterprise_id": "e1", "grid_id": grid, "level": "general",
        "description": "消防通道堆放杂物", "deadline": "2026-12-05"});
    let (_, judged) = device
        .capture("hazard.report", &id, payload, vec![photo.to_string()])
        .unwrap();
    assert_eq!(
        judged.verdict,
        anjian_sync::judge::Verdict::Applied,
        "{judged:?}"
    );
    id
}

#[tokio::test]
async fn evidence_is_complete_when_the_photo_lands_and_only_the_scope_may_read_it() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    inspector(&server, &admin, "li.g1", "g1").await;
    let stranger = inspector(&server, &admin, "wang.g2", "g2").await;
    let li = TestDevice::enrolled(&server, "li.g1", USER_PASSWORD).await;
    let exif = Exif {
        orientation: Some(6),
        taken_at: Some("2026:11:28 09:30:00"),
        offset: Some("+08:00"),
        gps: Some((26.95, 120.3)),
    };
    let photo = jpeg(40, 20, 7, Some(&exif));
    let sha = sha256_hex(&photo);

    // The event arrives before its photo (pushed alone, as on a weak network).
    let id = report_with(&li, "g1", &sha);
    li.push().await.unwrap();
    li.pull().await.unwrap();
    let pulled = li.server_entity(&id).unwrap().unwrap();
    assert_eq!(pulled.entity.blobs, vec![sha.clone()]);
    assert_eq!(pulled.missing_blobs, vec![sha.clone()]);
    let incomplete = server
        .get("/v1/office/hazards?evidence_complete=false", Some(&admin))
        .await;
    assert_eq!(
        incomplete.ok(200)["items"][0]["missing_blobs"],
        json!([sha])
    );

    // The photo lands: the hazard moves to a new revision, complete.
    let li_token = server.token("li.g1", USER_PASSWORD).await;
    let stored = server.upload(&li_token, &photo, 1024).await;
    assert_eq!(stored.status, 200, "{stored:?}");
    assert_eq!(stored.body["taken_at"], "2026-11-28T09:30:00+08:00");
    assert!((stored.body["gps"]["lat"].as_f64().unwrap() - 26.95).abs() < 1e-4);
    assert!((stored.body["gps"]["lon"].as_f64().unwrap() - 120.3).abs() < 1e-4);
    li.pull().await.unwrap();
    let completed = li.server_entity(&id).unwrap().unwrap();
    assert!(completed.missing_blobs.is_empty());
    assert!(completed.rev > pulled.rev);
    let complete = server
        .get("/v1/office/hazards?evidence_complete=true", Some(&admin))
        .await;
    assert_eq!(complete.ok(200)["items"][0]["id"], id.as_str());

    // The grid's inspector reads the original, whole or by range; another grid's may not.
    let original = server
        .fetch(&format!("/v1/blobs/{sha}"), Some(&li_token), &[])
        .await;
    assert_eq!(original.status(), 200);
    assert!(original.headers().contains_key("etag"));
    assert_eq!(original.bytes().await.unwrap().as_ref(), photo.as_slice());
    let part = server
        .fetch(
            &format!("/v1/blobs/{sha}"),
            Some(&li_token),
            &[("range", "bytes=0-9")],
        )
        .await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &photo[..10]);
    // Arriving made the list thumbnail only; the phone view is made when first asked for, and
    // not for one who may not see the photo.
    let renditions = || {
        let mut names: Vec<String> = walk(&server.data_dir().join("blobs/renditions"))
            .iter()
            .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(renditions(), [format!("{sha}-small.jpg")]);
    for path in [
        format!("/v1/blobs/{sha}"),
        format!("/v1/blobs/{sha}/thumbnail"),
        format!("/v1/blobs/{sha}/thumbnail?size=large"),
        format!("/v1/blobs/{sha}/info"),
        format!("/v1/public/blobs/{sha}"),
    ] {
        let token = (!path.starts_with("/v1/public")).then_some(stranger.as_str());
        let refused = server.fetch(&path, token, &[]).await;
        assert_eq!(refused.status(), 404, "{path}");
    }
    assert_eq!(renditions(), [format!("{sha}-small.jpg")]);

    // Thumbnails are upright: EXIF orientation 6 turns the 40×20 picture to 20×40, red on top.
    let thumbnail = server
        .fetch(
            &format!("/v1/blobs/{sha}/thumbnail?size=large"),
            Some(&li_token),
            &[],
        )
        .await;
    assert_eq!(thumbnail.headers()["content-type"], "image/jpeg");
    assert_eq!(
        renditions(),
        [format!("{sha}-large.jpg"), format!("{sha}-small.jpg")]
    );
    let upright = image::load_from_memory(&thumbnail.bytes().await.unwrap())
        .unwrap()
        .to_rgb8();
    assert_eq!(upright.dimensions(), (20, 40));
    let top = upright.get_pixel(10, 5).0;
    let bottom = upright.get_pixel(10, 35).0;
    assert!(top[0] > 150 && top[2] < 100, "top is red: {top:?}");
    assert!(
        bottom[2] > 150 && bottom[0] < 100,
        "bottom is blue: {bottom:?}"
    );
}

#[tokio::test]
async fn a_published_articles_images_are_public_without_exif() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    for (username, roles) in [
        ("xu.wen", json!(["publicist"])),
        ("gao", json!(["reviewer"])),
    ] {
        let user = json!({"username": username, "password": USER_PASSWORD, "roles": roles});
        server.create_user(&admin, user).await;
    }
    let mut xu = TestDevice::enrolled(&server, "xu.wen", USER_PASSWORD).await;
    let gao = TestDevice::enrolled(&server, "gao", USER_PASSWORD).await;
    let exif = Exif {
        orientation: Some(1),
        taken_at: Some("2026:11:20 15:00:00"),
        offset: None,
        gps: Some((26.9, 120.2)),
    };
    let photo = jpeg(64, 48, 8, Some(&exif));
    let sha = xu.add_photo_bytes(&photo).unwrap();
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = progress.clone();
    xu.on_progress(move |p| seen.lock().unwrap().push(p.sent));
    let id = Device::new_entity_id();
    let draft = json!({"title": "冬季防火", "body": "用电安全。", "cover": sha});
    xu.capture("article.save", &id, draft, vec![sha.clone()])
        .unwrap();
    xu.capture("article.submit", &id, json!({}), vec![])
        .unwrap();
    let report = xu.sync().await.unwrap();
    assert_eq!(report.photos.uploaded, 1);
    assert_eq!(progress.lock().unwrap().last(), Some(&(photo.len() as u64)));
    assert_eq!(xu.photos().unwrap()[0].state, PhotoState::Uploaded);

    // Before publication, the public cannot see it.
    let hidden = server
        .fetch(&format!("/v1/public/blobs/{sha}"), None, &[])
        .await;
    assert_eq!(hidden.status(), 404);
    gao.sync().await.unwrap();
    gao.capture(
        "article.review",
        &id,
        json!({"decision": "publish"}),
        vec![],
    )
    .unwrap();
    gao.sync().await.unwrap();

    let public = server
        .fetch(&format!("/v1/public/blobs/{sha}"), None, &[])
        .await;
    assert_eq!(public.status(), 200);
    assert!(
        public.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public")
    );
    let bytes = public.bytes().await.unwrap();
    assert!(image::load_from_memory(&bytes).is_ok());
    assert!(
        exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(&bytes))
            .is_err(),
        "the public rendition carries no EXIF"
    );
    // The author still reads the original, EXIF and all.
    let xu_token = server.token("xu.wen", USER_PASSWORD).await;
    let original = server
        .fetch(&format!("/v1/blobs/{sha}"), Some(&xu_token), &[])
        .await;
    let mut original_bytes = Vec::new();
    std::io::Cursor::new(original.bytes().await.unwrap())
        .read_to_end(&mut original_bytes)
        .unwrap();
    assert_eq!(original_bytes, photo);
}

#[tokio::test]
async fn a_device_killed_mid_upload_resumes_where_the_server_stands() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    inspector(&server, &admin, "li.g1", "g1").await;
    let li = TestDevice::enrolled(&server, "li.g1", USER_PASSWORD).await;
    // About 800 KB of JPEG: four chunks.
    let photo = jpeg(1600, 1200, 9, None);
    assert!(
        photo.len() > 3 * anjian_sync::client::CHUNK_BYTES,
        "{}",
        photo.len()
    );
    let sha = li.add_photo_bytes(&photo).unwrap();
    let id = report_with(&li, "g1", &sha);
    let (dir, url) = li.into_parts();

    // Killed after the second chunk was acknowledged (the second step of this sync).
    let crashed = tokio::process::Command::new(env!("CARGO_BIN_EXE_crash-device"))
        .args([dir.path().to_str().unwrap(), &url, "2"])
        .output()
        .await
        .unwrap();
    assert!(!crashed.status.success(), "{crashed:?}");
    let said = String::from_utf8_lossy(&crashed.stderr);
    assert!(said.contains(&format!("{:?}", Step::ChunkSent)), "{said}");
    let device = Device::open(dir.path(), &url).unwrap();
    let queued = device.photos().unwrap().pop().unwrap();
    assert_eq!(queued.state, PhotoState::Queued);
    assert!(
        queued.upload.is_some() && queued.offset >= 2 * anjian_sync::client::CHUNK_BYTES as u64
    );
    drop(device);

    let finished = tokio::process::Command::new(env!("CARGO_BIN_EXE_crash-device"))
        .args([dir.path().to_str().unwrap(), &url, "0"])
        .output()
        .await
        .unwrap();
    assert!(finished.status.success(), "{finished:?}");
    let device = Device::open(dir.path(), &url).unwrap();
    assert_eq!(device.photos().unwrap()[0].state, PhotoState::Uploaded);
    let hazard = device.server_entity(&id).unwrap().unwrap();
    assert!(
        hazard.missing_blobs.is_empty(),
        "the photo went before the event: {hazard:?}"
    );
    let token = server.token("li.g1", USER_PASSWORD).await;
    let stored = server
        .fetch(&format!("/v1/blobs/{sha}"), Some(&token), &[])
        .await;
    assert_eq!(stored.bytes().await.unwrap().as_ref(), photo.as_slice());
}
