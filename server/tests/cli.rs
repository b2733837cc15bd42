//! The `anjian-server` binary as an operator runs it: subcommands, environment, signals, and a
//! second process on the same data directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::process::Stdio;
use std::time::Duration;

use redb::ReadableDatabase as _;

#[path = "../../tests/src/tls.rs"]
mod tls;
use tls::{TestCa, presented};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_anjian-server");

fn command(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("ANJIAN_DATA_DIR", data_dir)
        .env("ANJIAN_LISTEN", "127.0.0.1:0")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs a command that must finish by itself (bounded), and returns its output.
async fn finish(command: &mut Command) -> std::process::Output {
    tokio::time::timeout(Duration::from_secs(20), command.output())
        .await
        .expect("the command finishes by itself")
        .unwrap()
}

/// Reads lines from `pipe` into a shared buffer until the stream ends.
fn collect(
    pipe: impl AsyncRead + Unpin + Send + 'static,
) -> std::sync::Arc<std::sync::Mutex<String>> {
    let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = text.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut sink = sink.lock().unwrap();
            sink.push_str(&line);
            sink.push('\n');
        }
    });
    text
}

struct Running {
    child: Child,
    stdout: std::sync::Arc<std::sync::Mutex<String>>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    addr: String,
}

async fn start(data_dir: &std::path::Path) -> Running {
    start_with(data_dir, &[]).await
}

async fn start_with(data_dir: &std::path::Path, args: &[&str]) -> Running {
    let mut child = command(data_dir).args(args).spawn().unwrap();
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    // Wait (bounded: two minutes, for the demo town's seeding on a busy machine) for the log
    // line that names the bound address.
    for _ in 0..2400 {
        let found = stderr.lock().unwrap().lines().find_map(|line| {
            line.split("local_addr=")
                .nth(1)
                .map(|rest| rest.split_whitespace().next().unwrap_or("").to_string())
        });
        if let Some(addr) = found {
            return Running {
                child,
                stdout,
                stderr,
                addr,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start: {}", stderr.lock().unwrap());
}

/// Sends the server a signal (`-HUP`, `-TERM`).
async fn signal(running: &Running, which: &str) {
    let pid = running.child.id().unwrap().to_string();
    let sent = Command::new("kill")
        .args([which, &pid])
        .status()
        .await
        .unwrap();
    assert!(sent.success());
}

/// Sends SIGHUP to the server.
async fn hangup(running: &Running) {
    signal(running, "-HUP").await;
}

/// Waits (bounded) until the server has logged `text`.
async fn logs(running: &Running, text: &str) {
    for _ in 0..100 {
        if running.stderr.lock().unwrap().contains(text) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the server did not log {text:?}: {}",
        running.stderr.lock().unwrap()
    );
}

async fn terminate(mut running: Running) -> (std::process::ExitStatus, String, String) {
    signal(&running, "-TERM").await;
    let status = tokio::time::timeout(Duration::from_secs(20), running.child.wait())
        .await
        .expect("the server stops within the grace period")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stdout = running.stdout.lock().unwrap().clone();
    let stderr = running.stderr.lock().unwrap().clone();
    (status, stdout, stderr)
}

#[tokio::test]
async fn serve_print_the_password_once_refuse_a_second_server_and_stop_cleanly_on_sigterm() {
    anjian_server::service::wechat::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path()).await;

    let health = reqwest::get(format!("http://{}/healthz", first.addr))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // A second server on the same data directory fails at once, saying why.
    let second = finish(&mut command(dir.path())).await;
    assert!(!second.status.success());
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(
        message.contains("in use by another anjian-server"),
        "{message}"
    );
    assert!(!message.contains("stack backtrace"), "{message}");

    let (status, stdout, stderr) = terminate(first).await;
    assert!(status.success(), "exit status {status}: {stderr}");
    assert!(
        stdout.contains("Created the first user `admin` with the password: "),
        "{stdout}"
    );
    assert!(stderr.contains("database closed cleanly"), "{stderr}");

    // The next start finds the admin and prints no password, and needs no repair.
    let again = start(dir.path()).await;
    let (status, stdout, stderr) = terminate(again).await;
    assert!(status.success());
    assert!(!stdout.contains("password"), "{stdout}");
    assert!(!stderr.contains("repaired"), "{stderr}");
}

#[tokio::test]
async fn default_config_prints_the_commented_defaults() {
    let output = Command::new(BIN)
        .arg("default-config")
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text, anjian_server::config::DEFAULT_CONFIG);
    assert!(text.contains("# Address and port to listen on"));
    anjian_server::config::Settings::parse(&text).unwrap();
}

#[tokio::test]
async fn openapi_prints_the_spec() {
    let output = Command::new(BIN).arg("openapi").output().await.unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        anjian_server::api::spec_yaml()
    );
}

#[tokio::test]
async fn a_bad_config_file_is_refused_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("anjian.toml");
    std::fs::write(&config, "[http]\nmax_body = 5\n").unwrap();
    let output = finish(
        command(dir.path())
            .arg("serve")
            .arg("--config")
            .arg(&config),
    )
    .await;
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("max_body") && message.contains("anjian.toml"),
        "{message}"
    );
}

#[tokio::test]
async fn flags_before_the_subcommand_are_refused_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let output = finish(command(dir.path()).args(["--listen", "127.0.0.1:1", "serve"])).await;
    assert!(!output.status.success());
    assert!(
        !dir.path().join("anjian.redb").exists(),
        "nothing was started"
    );
}

#[tokio::test]
async fn a_bad_log_level_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("anjian.toml");
    std::fs::write(&config, "[log]\nlevel = \"inof\"\n").unwrap();
    let output = finish(
        command(dir.path())
            .env_remove("RUST_LOG")
            .args(["serve", "--config"])
            .arg(&config),
    )
    .await;
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("log.level"), "{message}");
}

#[tokio::test]
async fn reset_password_works_offline_and_refuses_while_serving() {
    anjian_server::service::wechat::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path()).await;
    // While the server runs, the data directory is held.
    let busy = finish(command(dir.path()).arg("reset-password")).await;
    assert!(!busy.status.success());
    assert!(String::from_utf8_lossy(&busy.stderr).contains("in use"));
    let (status, _, _) = terminate(running).await;
    assert!(status.success());

    let reset = finish(
        command(dir.path())
            .arg("reset-password")
            .env("ANJIAN_ADMIN_PASSWORD", "a-password-set-offline"),
    )
    .await;
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );

    let running = start(dir.path()).await;
    let login = reqwest::Client::new()
        .post(format!("http://{}/v1/auth/login", running.addr))
        .json(&serde_json::json!({"username": "admin", "password": "a-password-set-offline"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let (status, _, _) = terminate(running).await;
    assert!(status.success());

    // With the server stopped, what each table takes: the one admin among the users.
    let stats = finish(command(dir.path()).arg("store-stats")).await;
    let text = String::from_utf8_lossy(&stats.stdout);
    assert!(stats.status.success(), "{text}");
    let users: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("users-0 "))
        .unwrap_or_else(|| panic!("{text}"))
        .split_whitespace()
        .collect();
    assert_eq!(users[1], "1", "{text}");
    assert!(text.contains("the tables take"), "{text}");
}

#[tokio::test]
async fn backup_asks_the_running_server_verify_checks_it_and_restore_fills_an_empty_directory() {
    anjian_server::service::wechat::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    let to = backups.path().join("b");
    let stdout =
        |output: &std::process::Output| String::from_utf8_lossy(&output.stdout).to_string();
    let stderr =
        |output: &std::process::Output| String::from_utf8_lossy(&output.stderr).to_string();
    let running = start(dir.path()).await;
    // The running server makes it, over its control socket.
    let made = finish(command(dir.path()).arg("backup").arg("--to").arg(&to)).await;
    assert!(made.status.success(), "{}", stderr(&made));
    assert!(
        stdout(&made).contains("backed up into"),
        "{}",
        stdout(&made)
    );
    let (status, _, server_log) = terminate(running).await;
    assert!(status.success());
    assert!(server_log.contains("backup made"), "{server_log}");

    let checked = finish(command(dir.path()).arg("verify-backup").arg(&to)).await;
    assert!(checked.status.success(), "{}", stderr(&checked));
    assert!(stdout(&checked).contains("is whole"));

    // Into a directory that holds a store: refused. Into an empty one: restored, and served.
    let refused = finish(command(dir.path()).arg("restore").arg("--from").arg(&to)).await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("already holds a store"),
        "{}",
        stderr(&refused)
    );
    let empty = tempfile::tempdir().unwrap();
    let restored = finish(command(empty.path()).arg("restore").arg("--from").arg(&to)).await;
    assert!(restored.status.success(), "{}", stderr(&restored));
    // With no server running, the command makes the backup itself.
    let offline = backups.path().join("offline");
    let made = finish(
        command(empty.path())
            .arg("backup")
            .arg("--to")
            .arg(&offline),
    )
    .await;
    assert!(made.status.success(), "{}", stderr(&made));
    let running = start(empty.path()).await;
    let (status, _, _) = terminate(running).await;
    assert!(status.success());

    // A changed byte is found.
    let manifest = anjian_server::backup::manifest(&offline).unwrap();
    let store = offline.join(&manifest.store.path);
    let mut bytes = std::fs::read(&store).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&store, bytes).unwrap();
    let checked = finish(command(dir.path()).arg("verify-backup").arg(&offline)).await;
    assert!(!checked.status.success());
    assert!(
        stderr(&checked).contains("anjian.redb"),
        "{}",
        stderr(&checked)
    );
}

#[tokio::test]
async fn a_store_of_a_newer_format_is_refused_at_start_and_left_as_it_is() {
    anjian_server::service::wechat::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path()).await;
    let (status, _, _) = terminate(running).await;
    assert!(status.success());
    let path = dir.path().join("anjian.redb");
    let meta = redb::TableDefinition::<&str, u64>::new("meta");
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_read().unwrap();
        let format = txn
            .open_table(meta)
            .unwrap()
            .get("format")
            .unwrap()
            .unwrap()
            .value();
        assert_eq!(format, anjian_server::store::tables::FORMAT);
        drop(txn);
        let txn = db.begin_write().unwrap();
        txn.open_table(meta).unwrap().insert("format", 99).unwrap();
        txn.commit().unwrap();
    }
    let refused = finish(&mut command(dir.path())).await;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("format 99") && said.contains("newer anjian-server"),
        "{said}"
    );
    let db = redb::Database::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    assert_eq!(
        txn.open_table(meta)
            .unwrap()
            .get("format")
            .unwrap()
            .unwrap()
            .value(),
        99
    );
}

#[tokio::test]
async fn the_shipped_service_unit_and_config_start_the_server_logging_for_journald() {
    anjian_server::service::wechat::install_tls_provider();
    let unit = include_str!("../../deploy/anjian.service");
    for line in [
        "User=anjian",
        "StateDirectory=anjian",
        "Restart=on-failure",
        "Environment=MIMALLOC_ALLOW_THP=0",
        "Environment=MIMALLOC_PURGE_DELAY=0",
        "KillSignal=SIGTERM",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.lines().any(|l| l.trim() == line), "{line} missing");
    }
    let config = include_str!("../../deploy/anjian.toml");
    let settings = anjian_server::config::Settings::parse(config).unwrap();
    settings.validate().unwrap();
    assert_eq!(
        settings.log.format,
        anjian_server::config::LogFormat::Journald
    );

    // ExecStart as written, with the config and the data directory put in temporary places.
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/anjian-server"));
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("anjian.toml");
    std::fs::write(
        &config_path,
        config.replace(
            "/var/backups/anjian",
            &dir.path().join("backups").display().to_string(),
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let args: Vec<String> = words
        .map(|w| match w {
            "/etc/anjian/anjian.toml" => config_path.display().to_string(),
            "/var/lib/anjian" => data.display().to_string(),
            other => other.to_string(),
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let running = start_with(&data, &args).await;
    // `systemctl reload` (the unit's ExecReload) on a server without HTTPS: it carries on.
    hangup(&running).await;
    logs(&running, "nothing to reload").await;
    let health = reqwest::get(format!("http://{}/healthz", running.addr))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let (status, _, log) = terminate(running).await;
    assert!(status.success(), "{log}");
    // journald stamps each line itself: the lines start with their level, not a time.
    let first = log.lines().next().unwrap();
    assert!(
        ["INFO", "WARN", "ERROR"]
            .iter()
            .any(|l| first.trim_start().starts_with(l)),
        "{first}"
    );
}

#[tokio::test]
async fn demo_seeds_an_empty_store_once_and_prints_every_users_password() {
    anjian_server::service::wechat::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let demo = start_with(dir.path(), &["demo"]).await;
    // The town is seeded before the server answers; wait (bounded) for the printed table.
    for _ in 0..400 {
        if demo.stdout.lock().unwrap().contains("Try it:") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let printed = demo.stdout.lock().unwrap().clone();
    let password = |user: &str| {
        printed
            .lines()
            .find_map(|line| {
                let mut words = line.split_whitespace();
                (words.next() == Some(user)).then(|| words.next().unwrap().to_string())
            })
            .unwrap_or_else(|| panic!("no password for {user}: {printed}"))
    };
    for user in [
        "admin",
        "leader",
        "inspector",
        "manager",
        "teamlead",
        "coldlead",
        "publicist",
        "reviewer",
    ] {
        assert!(password(user).len() >= 16, "{user}");
    }
    let http = reqwest::Client::new();
    let login = json_of(
        http.post(format!("http://{}/v1/auth/login", demo.addr))
            .json(&serde_json::json!({"username": "admin", "password": password("admin")})),
    )
    .await;
    let token = login["token"].as_str().unwrap();
    let list = |path: &'static str| {
        let http = http.clone();
        let url = format!("http://{}{path}", demo.addr);
        let token = token.to_string();
        async move {
            let page = json_of(http.get(url).bearer_auth(token)).await;
            page["items"].as_array().unwrap().clone()
        }
    };
    let enterprises = list("/v1/office/enterprises").await;
    assert_eq!(enterprises.len(), 30);
    let red = list("/v1/office/enterprises?risk_colour=red").await;
    assert!(
        red.iter()
            .all(|e| e["body"]["flags"]["ammonia_refrigeration"] == true)
    );
    assert_eq!(red.len(), 2, "the two ammonia-refrigerated cold stores");
    let hazards = list("/v1/office/hazards?state=reported&evidence_complete=true").await;
    assert_eq!(hazards.len(), 3, "open hazards, each with its photo");
    let (status, _, stderr) = terminate(demo).await;
    assert!(status.success(), "{stderr}");

    // Started again, the town is served as it is.
    let again = start_with(dir.path(), &["demo"]).await;
    for _ in 0..100 {
        if again.stdout.lock().unwrap().contains("serving it as it is") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, stdout, _) = terminate(again).await;
    assert!(stdout.contains("serving it as it is"), "{stdout}");
    assert!(!stdout.contains("Seeded"), "{stdout}");
}

/// Sends `request` and reads its answer as JSON.
async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Writes `anjian.toml` in `dir`: `before`, then `[tls]` with the two files; returns its path.
fn https_config(
    dir: &std::path::Path,
    before: &str,
    cert_file: &std::path::Path,
    key_file: &std::path::Path,
) -> String {
    let config = dir.join("anjian.toml");
    std::fs::write(
        &config,
        format!(
            "{before}\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n",
            cert_file.display().to_string(),
            key_file.display().to_string()
        ),
    )
    .unwrap();
    config.display().to_string()
}

#[tokio::test]
async fn https_from_the_configured_files_and_sighup_takes_a_renewed_certificate_but_not_a_bad_one()
{
    anjian_server::service::wechat::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let first = ca.server();
    let (cert_file, key_file) = first.write_to(dir.path());
    let config_arg = https_config(dir.path(), "", &cert_file, &key_file);
    let data = dir.path().join("data");
    let running = start_with(&data, &["--config", &config_arg]).await;
    let url = format!("https://{}/healthz", running.addr);
    let client = ca.client();
    assert_eq!(presented(&client, &url).await, first.der);
    // Plain HTTP is not served on the HTTPS port.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", running.addr))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");

    // Renewed files, then SIGHUP: new connections get the new certificate.
    let second = ca.server();
    std::fs::write(&cert_file, &second.cert_pem).unwrap();
    std::fs::write(&key_file, &second.key_pem).unwrap();
    hangup(&running).await;
    let mut renewed = false;
    for _ in 0..100 {
        if presented(&client, &url).await == second.der {
            renewed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(renewed, "{}", running.stderr.lock().unwrap());

    // A key that does not go with the certificate: refused, and the pair in use is kept.
    std::fs::write(&key_file, &first.key_pem).unwrap();
    hangup(&running).await;
    logs(&running, "were not reloaded").await;
    assert_eq!(presented(&client, &url).await, second.der);
    let (status, _, log) = terminate(running).await;
    assert!(status.success(), "{log}");
    assert!(log.contains("does not go with"), "{log}");

    // At start, such a pair is refused before the store is touched, with the files named.
    let refused = finish(command(&dir.path().join("other")).args(["--config", &config_arg])).await;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("does not go with") && said.contains("key.pem"),
        "{said}"
    );
    assert!(!dir.path().join("other").exists());
}

#[tokio::test]
async fn a_tls_handshake_that_never_comes_is_cut_off_and_its_connection_place_given_back() {
    anjian_server::service::wechat::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let cert = ca.server();
    let (cert_file, key_file) = cert.write_to(dir.path());
    let config_arg = https_config(
        dir.path(),
        "[http]\nheader_read_timeout_secs = 1\nmax_connections = 1\n",
        &cert_file,
        &key_file,
    );
    let running = start_with(&dir.path().join("data"), &["--config", &config_arg]).await;
    let url = format!("https://{}/healthz", running.addr);
    let client = ca.client();

    // A client that connects and says nothing holds the one place...
    let mut silent = tokio::net::TcpStream::connect(&running.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = client.get(&url).send().await;
    assert!(refused.is_err(), "the only place is taken: {refused:?}");
    // ...until its handshake's second is up: the server closes it.
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut silent, &mut byte),
    )
    .await
    .expect("the silent connection is closed within the handshake deadline");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    // Its place is given back (a moment after the close, hence a few tries).
    let mut served = None;
    for _ in 0..50 {
        if let Ok(answer) = client.get(&url).send().await {
            served = Some(answer.status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served, Some(reqwest::StatusCode::OK));
    let (status, _, log) = terminate(running).await;
    assert!(status.success(), "{log}");
}
