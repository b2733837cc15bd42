//! The server in a child process, for benchmarks: its CPU time, peak memory and disk are then
//! its own. A benchmark binary starts itself again with `serve <data dir> <port file> [args…]`
//! and answers that by calling [`serve`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use anjian_server::config::Settings;

/// The admin password of a child server.
pub const ADMIN_PASSWORD: &str = "benchmark-admin-password";

/// A server running in a child process of this binary.
#[derive(Debug)]
pub struct ChildServer {
    child: tokio::process::Child,
    pid: u32,
    /// Its base URL on loopback.
    pub url: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    args: Vec<String>,
}

/// The port a child server binds, when set (a restart keeps its address).
const PORT_VARIABLE: &str = "ANJIAN_CHILD_PORT";

impl ChildServer {
    /// Starts this binary as `serve <data_dir> <port file> args…` and waits (bounded) until it
    /// listens.
    pub async fn start(data_dir: &Path, args: &[String]) -> ChildServer {
        Self::start_on(data_dir, args, None, Duration::from_secs(60)).await
    }

    /// [`ChildServer::start`] on `port` when given, waiting up to `bound` for it to listen.
    async fn start_on(
        data_dir: &Path,
        args: &[String],
        port: Option<u16>,
        bound: Duration,
    ) -> ChildServer {
        let port_file = data_dir.with_extension("port");
        let _ = std::fs::remove_file(&port_file);
        let mut command = tokio::process::Command::new(std::env::current_exe().unwrap());
        command
            .arg("serve")
            .arg(data_dir)
            .arg(&port_file)
            .args(args)
            .kill_on_drop(true);
        if let Some(port) = port {
            command.env(PORT_VARIABLE, port.to_string());
        }
        let child = command.spawn().unwrap();
        let pid = child.id().unwrap();
        let started = std::time::Instant::now();
        while started.elapsed() < bound {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                if text.ends_with('\n') {
                    return ChildServer {
                        child,
                        pid,
                        url: format!("http://127.0.0.1:{}", text.trim()),
                        data_dir: data_dir.to_path_buf(),
                        args: args.to_vec(),
                    };
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the server did not start within {bound:?}");
    }

    /// Ends it — killed with SIGKILL, or with `clean` stopped by SIGTERM and waited for until it
    /// has closed its store — then starts it again on the same data directory and port. Returns
    /// the new server and the time from its start until it listened: opening the store
    /// (repairing it after a kill) and everything else the server does before it serves.
    pub async fn restart(mut self, clean: bool) -> (ChildServer, Duration) {
        if clean {
            let sent = tokio::process::Command::new("kill")
                .args(["-TERM", &self.pid.to_string()])
                .status()
                .await
                .unwrap();
            assert!(sent.success());
            let status = tokio::time::timeout(Duration::from_secs(120), self.child.wait())
                .await
                .expect("the server stops within two minutes of SIGTERM")
                .unwrap();
            assert!(status.success(), "the server stopped with {status}");
        } else {
            self.child.kill().await.unwrap();
        }
        let port = self
            .url
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok());
        let started = std::time::Instant::now();
        let again =
            Self::start_on(&self.data_dir, &self.args, port, Duration::from_secs(900)).await;
        (again, started.elapsed())
    }

    /// User and system CPU time so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // After the command name (in parentheses), utime is the 12th field and stime the 13th,
        // both in clock ticks of 1/100 s.
        let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (ticks(11) + ticks(12)) / 100.0
    }

    /// Peak resident memory (VmHWM), KiB.
    pub fn peak_rss_kb(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Stops it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Logs `user` in to the server at `base` (`http://host:port`) and returns the session token.
pub async fn login(http: &reqwest::Client, base: &str, user: &str, password: &str) -> String {
    let answer: serde_json::Value = http
        .post(format!("{base}/v1/auth/login"))
        .json(&serde_json::json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["token"]
        .as_str()
        .unwrap_or_else(|| panic!("cannot log in as {user}: {answer}"))
        .to_string()
}

/// The child's side: serves on the default settings (as `configure` adjusts them) over
/// `data_dir`, with the admin's password [`ADMIN_PASSWORD`], on a free loopback port written to
/// `port_file` (or the port in `ANJIAN_CHILD_PORT`), on the runtime the server binary builds
/// from those settings. SIGTERM stops it cleanly; never returns.
pub fn serve(data_dir: &str, port_file: &str, configure: impl FnOnce(&mut Settings)) -> ! {
    let _ = tracing_subscriber::fmt().with_env_filter("warn").try_init();
    let mut settings = Settings {
        data_dir: data_dir.into(),
        ..Default::default()
    };
    configure(&mut settings);
    let runtime = anjian_server::startup::runtime(&settings).unwrap();
    runtime.block_on(serve_on(settings, port_file))
}

/// [`serve`] on its runtime.
async fn serve_on(settings: Settings, port_file: &str) -> ! {
    let app = anjian_server::startup::Application::build(settings)
        .await
        .unwrap();
    app.ensure_admin(Some(ADMIN_PASSWORD.to_string().into()))
        .await
        .unwrap();
    // SIGTERM is listened for before the port is told, so a stop that follows at once is clean.
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    let port: u16 = std::env::var(PORT_VARIABLE)
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    std::fs::write(port_file, format!("{port}\n")).unwrap();
    let stop = async move {
        terminate.recv().await;
    };
    app.run_until(listener, stop).await.unwrap();
    std::process::exit(0);
}
