//! Typed settings for the server process.
//!
//! Settings come, each later layer winning, from: the built-in defaults, an optional TOML file
//! (`--config`), `ANJIAN_*` environment variables, and command-line flags. The file's keys are
//! exactly [`DEFAULT_CONFIG`], which `anjian-server default-config` prints; unknown keys are an
//! error so a misspelt setting is never silently ignored. Secrets are [`SecretString`]s, whose
//! `Debug` prints `[REDACTED]`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use secrecy::SecretString;
use serde::Deserialize;

/// The commented default configuration, as printed by `anjian-server default-config`.
/// A test checks that it parses to exactly [`Settings::default`].
pub const DEFAULT_CONFIG: &str = include_str!("default-config.toml");

/// The file name of the database inside the data directory.
pub const DATABASE_FILE: &str = "anjian.redb";
/// The directory name of the blob store inside the data directory.
pub const BLOB_DIR: &str = "blobs";

/// Everything the server can be told.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Directory holding the database file and the blob directory.
    pub data_dir: PathBuf,
    /// HTTP limits and behaviour.
    pub http: HttpSettings,
    /// Sessions, login throttling, invitations.
    pub auth: AuthSettings,
    /// WeChat mini-program login.
    pub wechat: WeChatSettings,
    /// Photos and other blobs: uploads and the image pipeline.
    pub blobs: BlobSettings,
    /// HTTPS served directly.
    pub tls: TlsSettings,
    /// The database.
    pub storage: StorageSettings,
    /// Scheduled backups.
    pub backup: BackupSettings,
    /// Prometheus metrics.
    pub metrics: MetricsSettings,
    /// Logging.
    pub log: LogSettings,
}

/// HTTP limits and behaviour.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Largest JSON request body accepted, in bytes; larger bodies get 413.
    pub max_json_body_bytes: usize,
    /// Reverse proxies in front of the server: from these peers only, the client's address is
    /// taken from `X-Forwarded-For` and HTTPS from `X-Forwarded-Proto`.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The setting `trusted_proxies` replaced, which believed `X-Forwarded-For` from anyone:
    /// refused at start with a message naming its replacement, not silently ignored.
    pub trust_forwarded_for: Option<bool>,
    /// Seconds that in-flight requests get to finish after SIGINT or SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Push and pull requests handled at once; more wait their turn.
    pub max_concurrent_syncs: usize,
    /// Push and pull requests that may wait for a turn, their bodies read; more wait in line
    /// for a place, their bodies unread.
    pub max_waiting_syncs: usize,
    /// A pull page ends once its entities' JSON reaches this many bytes (or at the request's
    /// `limit`); the device asks for the next.
    pub max_pull_page_bytes: usize,
    /// Seconds a push or pull may wait in line, its body unread, for a place among those
    /// waiting; one that waits longer is answered 503 with `Retry-After`. At most
    /// [`MAX_SYNC_QUEUE_SECS`].
    pub sync_queue_secs: u64,
    /// Connections open at once; a connection past this is answered 503 with `Retry-After`
    /// and closed.
    pub max_connections: usize,
    /// Seconds a client has to send a request's whole head (HTTP/1).
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may stay open with no request being handled and nothing sent or
    /// received of an answer before it is closed.
    pub idle_timeout_secs: u64,
    /// Seconds a request body may send nothing before the request is cut off.
    pub body_read_timeout_secs: u64,
    /// Bytes a second a request body must average once it has been arriving for
    /// `body_read_timeout_secs`; a slower one is cut off, so that a body sent a byte at a time
    /// cannot hold a connection, an upload place or a sync turn for hours.
    pub min_body_bytes_per_sec: u64,
    /// Upload chunks and photo forms handled at once; more are answered 503 with `Retry-After`.
    pub max_concurrent_uploads: usize,
    /// Streams one HTTP/2 connection may have open at once.
    pub max_http2_streams: u32,
}

/// Sessions, login throttling, invitations.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// How long a session token stays valid, in seconds.
    pub session_ttl_secs: u64,
    /// How long an invitation code stays redeemable, in seconds.
    pub invitation_ttl_secs: u64,
    /// Failed logins for one username, within the window, before further tries are refused.
    pub max_failures_per_user: u32,
    /// Failed logins from one client address, within the window, before further tries are refused.
    pub max_failures_per_address: u32,
    /// The window in which failures are counted, in seconds.
    pub failure_window_secs: u64,
    /// The first lock-out, in seconds; it doubles with each further failure, up to the window.
    pub lockout_secs: u64,
}

/// WeChat mini-program login (微信小程序登录).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WeChatSettings {
    /// The mini-program's AppID; WeChat login is off while it is empty.
    pub app_id: String,
    /// The mini-program's AppSecret.
    pub app_secret: SecretString,
    /// Base URL of the WeChat API.
    pub api_base: String,
    /// Seconds to wait for WeChat before answering 503.
    pub timeout_secs: u64,
}

/// Photos (照片) and other blobs: uploads and the image pipeline.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlobSettings {
    /// Largest file accepted, in bytes.
    pub max_bytes: u64,
    /// Longest image side accepted, in pixels; checked before decoding.
    pub max_image_side: u32,
    /// Most pixels (width × height) accepted; checked before decoding.
    pub max_image_pixels: u64,
    /// Images decoded at once; each may hold up to `max_image_pixels` × 4 bytes.
    pub decode_concurrency: usize,
    /// How long an unfinished upload is kept, in seconds.
    pub upload_ttl_secs: u64,
    /// Unfinished uploads one user may have at once.
    pub max_uploads_per_user: usize,
    /// Bytes all unfinished uploads together may reserve on disk (the sum of their lengths);
    /// a new upload past it is answered 503 with `Retry-After`.
    pub max_reserved_upload_bytes: u64,
}

impl Default for BlobSettings {
    fn default() -> Self {
        BlobSettings {
            max_bytes: 32 * 1024 * 1024,
            max_image_side: 16_384,
            max_image_pixels: 50_000_000,
            decode_concurrency: 2,
            upload_ttl_secs: 7 * 24 * 3600,
            max_uploads_per_user: 64,
            max_reserved_upload_bytes: 4 * 1024 * 1024 * 1024,
        }
    }
}

/// HTTPS served directly (rustls), from PEM files reloaded on SIGHUP.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// The certificate chain, leaf first; empty: plain HTTP.
    pub cert_file: PathBuf,
    /// The certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

impl TlsSettings {
    /// Whether HTTPS is on.
    pub fn enabled(&self) -> bool {
        !self.cert_file.as_os_str().is_empty()
    }
}

/// Prometheus metrics at `/metrics`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Whether `/metrics` answers at all (404 when not).
    pub enabled: bool,
    /// A bearer token the scraper sends; empty: only clients on this machine (loopback) read it.
    pub token: SecretString,
}

/// Backups the server makes by itself (备份): into `dir`, every `every_hours`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupSettings {
    /// Where (an absolute path); empty: no scheduled backups.
    pub dir: PathBuf,
    /// How often, in hours; the first an interval after start.
    pub every_hours: u64,
}

impl Default for BackupSettings {
    fn default() -> Self {
        BackupSettings {
            dir: PathBuf::new(),
            every_hours: 24,
        }
    }
}

/// The database.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// The database's page cache, in MiB: memory it may keep for pages read or written.
    pub cache_mb: usize,
    /// Free space kept on the data directory's filesystem, in MiB: below it writes are refused
    /// with `507 storage-full` until space returns.
    pub reserve_mb: u64,
    /// Threads that do the store's and the files' blocking work (database reads and writes,
    /// thumbnails, photo files). Each keeps allocator memory of its own, and writes take turns
    /// anyway, so more threads cost memory without making syncs faster.
    pub threads: usize,
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            cache_mb: crate::store::DEFAULT_CACHE_BYTES / (1024 * 1024),
            reserve_mb: 256,
            threads: 8,
        }
    }
}

/// Logging.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `anjian_server=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
    /// For journald (under systemd): lines without a time (the journal stamps each) or colours.
    Journald,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./anjian-data"),
            http: HttpSettings::default(),
            auth: AuthSettings::default(),
            wechat: WeChatSettings::default(),
            blobs: BlobSettings::default(),
            tls: TlsSettings::default(),
            storage: StorageSettings::default(),
            backup: BackupSettings::default(),
            metrics: MetricsSettings::default(),
            log: LogSettings::default(),
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_json_body_bytes: 1024 * 1024,
            trusted_proxies: Vec::new(),
            trust_forwarded_for: None,
            shutdown_grace_secs: 30,
            max_concurrent_syncs: 4,
            max_waiting_syncs: 8,
            sync_queue_secs: 10,
            max_pull_page_bytes: crate::service::sync::PULL_PAGE_BYTES,
            max_connections: 1024,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            body_read_timeout_secs: 30,
            min_body_bytes_per_sec: 1024,
            max_concurrent_uploads: 16,
            max_http2_streams: 16,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            session_ttl_secs: 30 * 24 * 3600,
            invitation_ttl_secs: 7 * 24 * 3600,
            max_failures_per_user: 5,
            max_failures_per_address: 30,
            failure_window_secs: 15 * 60,
            lockout_secs: 30,
        }
    }
}

impl Default for WeChatSettings {
    fn default() -> Self {
        WeChatSettings {
            app_id: String::new(),
            app_secret: SecretString::from(String::new()),
            api_base: "https://api.weixin.qq.com".to_string(),
            timeout_secs: 5,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Text,
            level: "info".to_string(),
        }
    }
}

/// The most `blobs.max_bytes` may be set to (the file is hashed and decoded in memory).
pub const MAX_BLOB_BYTES_LIMIT: u64 = 256 * 1024 * 1024;

/// The most a JSON body limit may be set to: larger uploads go through the blob protocol.
pub const MAX_JSON_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The longest a push or pull may wait in line (`http.sync_queue_secs`): a device gives up on a
/// request after 30 s, and the sync itself needs the time that is left.
pub const MAX_SYNC_QUEUE_SECS: u64 = 20;

impl Settings {
    /// Reads the TOML file at `path`, or the defaults when there is none.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Settings> {
        let settings = match path {
            None => Settings::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the config file {}", path.display()))?;
                Settings::parse(&text)
                    .with_context(|| format!("the config file {} is not valid", path.display()))?
            }
        };
        Ok(settings)
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> anyhow::Result<Settings> {
        Ok(toml::from_str(text)?)
    }

    /// Checks values that parse but make no sense; call after every layer is applied.
    pub fn validate(&self) -> anyhow::Result<()> {
        let http = &self.http;
        if http.max_json_body_bytes == 0 || http.max_json_body_bytes > MAX_JSON_BODY_LIMIT {
            bail!(
                "http.max_json_body_bytes must be between 1 and {MAX_JSON_BODY_LIMIT}, not {}",
                http.max_json_body_bytes
            );
        }
        if http.max_concurrent_syncs == 0 || http.max_concurrent_syncs > 1024 {
            bail!("http.max_concurrent_syncs must be between 1 and 1024");
        }
        if http.max_waiting_syncs > 100_000 {
            bail!("http.max_waiting_syncs must be between 0 and 100000");
        }
        if !(64 * 1024..=MAX_JSON_BODY_LIMIT).contains(&http.max_pull_page_bytes) {
            bail!(
                "http.max_pull_page_bytes must be between 65536 and {MAX_JSON_BODY_LIMIT}, not {}",
                http.max_pull_page_bytes
            );
        }
        if http.sync_queue_secs > MAX_SYNC_QUEUE_SECS {
            bail!(
                "http.sync_queue_secs must be between 0 and {MAX_SYNC_QUEUE_SECS}, not {}: a device \
                 gives up on a request after 30 s, and a sync needs time after its wait",
                http.sync_queue_secs
            );
        }
        if http.max_connections == 0 || http.max_connections > 1_000_000 {
            bail!("http.max_connections must be between 1 and 1000000");
        }
        if http.max_concurrent_uploads == 0 || http.max_concurrent_uploads > 4096 {
            bail!("http.max_concurrent_uploads must be between 1 and 4096");
        }
        if http.min_body_bytes_per_sec == 0 || http.min_body_bytes_per_sec > 1 << 20 {
            bail!("http.min_body_bytes_per_sec must be between 1 and 1048576");
        }
        if http.max_http2_streams == 0 || http.max_http2_streams > 1024 {
            bail!("http.max_http2_streams must be between 1 and 1024");
        }
        for (name, value) in [
            (
                "http.header_read_timeout_secs",
                http.header_read_timeout_secs,
            ),
            ("http.idle_timeout_secs", http.idle_timeout_secs),
            ("http.body_read_timeout_secs", http.body_read_timeout_secs),
        ] {
            if value == 0 || value > 3600 {
                bail!("{name} must be between 1 second and one hour, not {value}");
            }
        }
        if http.trust_forwarded_for.is_some() {
            bail!(
                "http.trust_forwarded_for is replaced by http.trusted_proxies, the addresses of the \
                 reverse proxies whose X-Forwarded-For is believed: for a proxy on this machine, \
                 trusted_proxies = [\"127.0.0.1\"] (and remove trust_forwarded_for)"
            );
        }
        let tls = &self.tls;
        if tls.cert_file.as_os_str().is_empty() != tls.key_file.as_os_str().is_empty() {
            bail!(
                "tls.cert_file and tls.key_file must be set together (both, or neither for plain HTTP)"
            );
        }
        let backup = &self.backup;
        if !backup.dir.as_os_str().is_empty() && !backup.dir.is_absolute() {
            bail!(
                "backup.dir must be an absolute path, not {}",
                backup.dir.display()
            );
        }
        if backup.every_hours == 0 || backup.every_hours > 24 * 366 {
            bail!(
                "backup.every_hours must be between 1 and 8784, not {}",
                backup.every_hours
            );
        }
        let auth = &self.auth;
        for (name, value) in [
            ("auth.session_ttl_secs", auth.session_ttl_secs),
            ("auth.invitation_ttl_secs", auth.invitation_ttl_secs),
            ("auth.failure_window_secs", auth.failure_window_secs),
            ("auth.lockout_secs", auth.lockout_secs),
        ] {
            if value == 0 || value > 366 * 24 * 3600 {
                bail!("{name} must be between 1 second and one year, not {value}");
            }
        }
        if auth.max_failures_per_user == 0 || auth.max_failures_per_address == 0 {
            bail!(
                "auth.max_failures_per_user and auth.max_failures_per_address must be at least 1"
            );
        }
        let base = &self.wechat.api_base;
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            bail!("wechat.api_base must be an http:// or https:// URL, not {base:?}");
        }
        if self.wechat.timeout_secs == 0 || self.wechat.timeout_secs > 120 {
            bail!("wechat.timeout_secs must be between 1 and 120");
        }
        let blobs = &self.blobs;
        if blobs.max_bytes == 0 || blobs.max_bytes > MAX_BLOB_BYTES_LIMIT {
            bail!("blobs.max_bytes must be between 1 and {MAX_BLOB_BYTES_LIMIT}");
        }
        if blobs.max_image_side < 16 || blobs.max_image_pixels < 256 {
            bail!(
                "blobs.max_image_side must be at least 16 and blobs.max_image_pixels at least 256"
            );
        }
        if blobs.max_image_pixels > 200_000_000 {
            bail!("blobs.max_image_pixels must be at most 200000000 (800 MB decoded)");
        }
        if blobs.decode_concurrency == 0 || blobs.decode_concurrency > 64 {
            bail!("blobs.decode_concurrency must be between 1 and 64");
        }
        if blobs.upload_ttl_secs < 60 || blobs.upload_ttl_secs > 366 * 24 * 3600 {
            bail!("blobs.upload_ttl_secs must be between one minute and one year");
        }
        if self.storage.cache_mb < 4 || self.storage.cache_mb > 65_536 {
            bail!("storage.cache_mb must be between 4 and 65536");
        }
        if self.storage.threads == 0 || self.storage.threads > 512 {
            bail!("storage.threads must be between 1 and 512");
        }
        if blobs.max_uploads_per_user == 0 {
            bail!("blobs.max_uploads_per_user must be at least 1");
        }
        if blobs.max_reserved_upload_bytes < blobs.max_bytes {
            bail!("blobs.max_reserved_upload_bytes must be at least blobs.max_bytes");
        }
        Ok(())
    }

    /// The database file inside the data directory.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join(DATABASE_FILE)
    }

    /// The blob directory inside the data directory.
    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir.join(BLOB_DIR)
    }
}

impl HttpSettings {
    /// [`HttpSettings::header_read_timeout_secs`].
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    /// [`HttpSettings::idle_timeout_secs`].
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// [`HttpSettings::body_read_timeout_secs`].
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_secs)
    }
}

impl AuthSettings {
    /// Session lifetime.
    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_secs)
    }

    /// Invitation lifetime.
    pub fn invitation_ttl(&self) -> Duration {
        Duration::from_secs(self.invitation_ttl_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn default_config_text_is_the_defaults() {
        let parsed = Settings::parse(DEFAULT_CONFIG).unwrap();
        // Settings has secrets, so it has no PartialEq; the Debug form redacts them and
        // shows everything else, which is what must agree.
        assert_eq!(format!("{parsed:?}"), format!("{:?}", Settings::default()));
        assert_eq!(parsed.wechat.app_secret.expose_secret(), "");
        parsed.validate().unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let err = Settings::parse("lisen = \"127.0.0.1:1\"").unwrap_err();
        assert!(format!("{err:#}").contains("lisen"), "{err:#}");
        let big = Settings::parse("[http]\nmax_json_body_bytes = 5000000").unwrap();
        assert!(big.validate().is_err());
        // The old proxy setting is named with its replacement, not ignored.
        let old = Settings::parse("[http]\ntrust_forwarded_for = true").unwrap();
        let err = format!("{:#}", old.validate().unwrap_err());
        assert!(err.contains("trusted_proxies = [\"127.0.0.1\"]"), "{err}");
        for threads in [0, 513] {
            let bad = Settings::parse(&format!("[storage]\nthreads = {threads}")).unwrap();
            let err = format!("{:#}", bad.validate().unwrap_err());
            assert!(err.contains("storage.threads"), "{err}");
        }
        // A wait in line a device would give up on before its sync is done.
        let long = Settings::parse("[http]\nsync_queue_secs = 21").unwrap();
        let err = format!("{:#}", long.validate().unwrap_err());
        assert!(err.contains("http.sync_queue_secs"), "{err}");
        Settings::parse("[http]\nsync_queue_secs = 20")
            .unwrap()
            .validate()
            .unwrap();
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let settings =
            Settings::parse("[wechat]\napp_id = \"wx1\"\napp_secret = \"s3cr3t-value\"").unwrap();
        let debug = format!("{settings:?}");
        assert!(!debug.contains("s3cr3t-value"), "{debug}");
        assert!(debug.contains("wx1"));
    }
}
