//! Wiring: from settings and an already-bound listener to a running server, and a clean stop.
//!
//! [`Application::build`] opens the store (refusing at once when another server holds the data
//! directory), creates the first admin on an empty store, and assembles the services.
//! [`Application::run_until`] serves on an already-bound listener until the shutdown future
//! resolves, lets in-flight requests finish (up to `http.shutdown_grace_secs`), then closes the
//! database cleanly. `main` binds the configured address and passes a SIGINT/SIGTERM future; the
//! end-to-end tests bind `127.0.0.1:0` and pass their own.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;

use crate::api::{self, AppState};
use crate::config::Settings;
use crate::connections::{self, ConnectionLimits};
use crate::service::accounts::Accounts;
use crate::service::blobs::Blobs;
use crate::service::sync::{OfficeDevice, SyncService};
use crate::service::wechat::WeChatClient;
use crate::store::{AccountStore, BlobStore, RedbStore, StoreError, SyncStore};

/// The async runtime a server runs on: one worker thread a core, and at most
/// `storage.threads` threads for blocking work. Tokio's default would start a thread for each
/// blocking call waiting (up to 512), and each thread keeps allocator memory of its own: with a
/// hundred devices syncing that was some 50 MB of the server's peak (BENCHMARKS.md, Memory).
pub fn runtime(settings: &Settings) -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(settings.storage.threads.max(1))
        .build()
        .context("cannot start the async runtime")
}

/// A server that is built, not yet serving.
#[derive(Debug)]
pub struct Application {
    state: Arc<AppState>,
    store: Arc<RedbStore>,
    settings: Settings,
    tls: Option<Arc<crate::tls::Tls>>,
    #[cfg(unix)]
    hangups: Option<tokio::signal::unix::Signal>,
}

impl Application {
    /// Builds the server over its data directory, which it holds from now on.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.validate()?;
        // The certificate first: a start that cannot serve HTTPS should not touch the store.
        let tls = if settings.tls.enabled() {
            Some(Arc::new(crate::tls::Tls::load(&settings.tls)?))
        } else {
            None
        };
        for dir in [&settings.data_dir, &settings.blob_dir()] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the directory {}", dir.display()))?;
        }
        // The database holds password and token hashes: only the server's user may read it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&settings.data_dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot restrict {}", settings.data_dir.display()))?;
        }
        let path = settings.database_path();
        let cache = settings.storage.cache_mb * 1024 * 1024;
        let store = tokio::task::spawn_blocking(move || RedbStore::open_with_cache(&path, cache))
            .await?
            .map_err(|err| match err {
                StoreError::Locked { .. } => anyhow::anyhow!("{err}"),
                other => anyhow::anyhow!(other),
            })?;
        if store.was_repaired() {
            tracing::warn!("the database was not closed cleanly last time and has been repaired");
        }
        let store = Arc::new(store);
        let wechat = WeChatClient::new(&settings.wechat)?;
        if wechat.is_none() {
            tracing::info!("WeChat login is off: wechat.app_id is not set");
        }
        let accounts = Accounts::new(
            store.clone() as Arc<dyn AccountStore>,
            settings.auth.clone(),
            wechat,
        );
        let office = OfficeDevice::new(office_key(&settings)?)?;
        let sync = SyncService::new(store.clone() as Arc<dyn SyncStore>, office)
            .with_pull_page_bytes(settings.http.max_pull_page_bytes);
        let sync = tokio::task::spawn_blocking(move || sync.ensure_office_device().map(|()| sync))
            .await??;
        sync.ensure_shipped_template()
            .await
            .map_err(|err| anyhow::anyhow!("cannot publish the shipped checklist: {err}"))?;
        let blobs = Blobs::new(
            store.clone() as Arc<dyn BlobStore>,
            &settings.blob_dir(),
            settings.blobs.clone(),
        )
        .map_err(|err| anyhow::anyhow!("cannot set up the blob directory: {err}"))?;
        let state = Arc::new(AppState {
            accounts,
            sync,
            blobs,
            health: store.clone() as Arc<dyn crate::store::HealthStore>,
            proxies: crate::proxy::TrustedProxies::new(&settings.http.trusted_proxies),
            undeclared: Arc::default(),
            space: Arc::new(crate::space::Space::new(
                &settings.data_dir,
                settings.storage.reserve_mb,
            )),
            metrics: Arc::new(crate::metrics::Metrics::new(&settings.data_dir)),
            metrics_access: settings.metrics.clone(),
        });
        Ok(Application {
            state,
            store,
            settings,
            tls,
            #[cfg(unix)]
            hangups: None,
        })
    }

    /// Answers SIGHUP from `hangups` (listened for from the start of the process, so that one
    /// arriving while the store is opened does not end it) once serving: the certificate is
    /// reloaded.
    #[cfg(unix)]
    pub fn reload_on(mut self, hangups: tokio::signal::unix::Signal) -> Application {
        self.hangups = Some(hangups);
        self
    }

    /// Where the server notes error answers the spec does not list for their operation.
    pub fn undeclared_answers(&self) -> Arc<crate::api::failures::Undeclared> {
        self.state.undeclared.clone()
    }

    /// On an empty store, creates the `admin` user with `password`, or with a random password
    /// that is returned to be shown once. Does nothing when users exist.
    pub async fn ensure_admin(
        &self,
        password: Option<SecretString>,
    ) -> anyhow::Result<Option<SecretString>> {
        self.state
            .accounts
            .bootstrap_admin(password)
            .await
            .map_err(|err| anyhow::anyhow!("cannot create the first admin user: {err}"))
    }

    /// Sets a user's password offline (the server must be stopped) and ends their sessions;
    /// a random password is made and returned when none is given.
    pub async fn reset_password(
        &self,
        username: &str,
        password: Option<SecretString>,
    ) -> anyhow::Result<SecretString> {
        self.state
            .accounts
            .reset_password(username, password)
            .await
            .map_err(|err| anyhow::anyhow!("cannot reset the password of `{username}`: {err}"))
    }

    /// On an empty store, seeds the demo town and returns its users with their passwords (the
    /// admin's is `admin_password` when given); a store with users is left as it is (`None`).
    pub async fn seed_demo(
        &self,
        admin_password: Option<SecretString>,
    ) -> anyhow::Result<Option<Vec<crate::demo::DemoUser>>> {
        crate::demo::seed(&self.state, admin_password).await
    }

    /// Closes the store without serving.
    pub async fn close(self) -> anyhow::Result<()> {
        let Application { state, store, .. } = self;
        drop(state);
        close_store(store).await
    }

    /// Serves on `listener` until `shutdown` resolves, then finishes in-flight requests and
    /// closes the store.
    pub async fn run_until(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let Application {
            state,
            store,
            settings,
            tls,
            #[cfg(unix)]
            hangups,
        } = self;
        let local_addr = listener.local_addr()?;
        let grace = Duration::from_secs(settings.http.shutdown_grace_secs);
        let limits = api::BodyLimits {
            concurrent_syncs: settings.http.max_concurrent_syncs,
            waiting_syncs: settings.http.max_waiting_syncs,
            queue_wait: Duration::from_secs(settings.http.sync_queue_secs),
            queued_syncs: settings.http.max_connections,
            json: settings.http.max_json_body_bytes,
            blob: usize::try_from(settings.blobs.max_bytes)
                .unwrap_or(usize::MAX)
                .saturating_add(64 * 1024),
            stall: settings.http.body_read_timeout(),
            min_rate: settings.http.min_body_bytes_per_sec,
            concurrent_uploads: settings.http.max_concurrent_uploads,
        };
        let sweeper = tokio::spawn(sweep_uploads(state.clone()));
        // The control socket (`anjian-server backup`) and the scheduled backups hold the store
        // until they are stopped, before it is closed.
        #[cfg(unix)]
        let control = tokio::spawn(crate::backup::serve_control(
            store.clone(),
            settings.clone(),
        ));
        let scheduled = tokio::spawn(scheduled_backups(store.clone(), settings.clone()));
        let routes = api::routes(state, limits);
        let http = &settings.http;
        let connections = ConnectionLimits {
            max_connections: http.max_connections,
            header_read_timeout: http.header_read_timeout(),
            idle_timeout: http.idle_timeout(),
            max_http2_streams: http.max_http2_streams,
            shutdown_grace: grace,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(%local_addr, scheme, data_dir = %settings.data_dir.display(), "serving; API docs at /docs");
        #[cfg(unix)]
        let reloader =
            hangups.map(|hangups| tokio::spawn(crate::tls::reload_on(hangups, tls.clone())));
        // A disk that failed a write leaves the store refusing every later one: stop, so that
        // the supervisor starts the server again (the store is repaired on opening), rather
        // than answer while nothing can be recorded.
        let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<String>();
        let watchdog = tokio::spawn(watch_the_disk(store.clone(), failed_tx));
        let failure = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
        let noted = failure.clone();
        let stop = async move {
            tokio::select! {
                () = shutdown => {}
                Ok(why) = failed_rx => {
                    *noted.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why);
                }
            }
        };
        connections::serve(listener, tls.as_deref(), routes, connections, stop)
            .await
            .context("the HTTP server failed")?;
        #[cfg(unix)]
        if let Some(reloader) = reloader {
            reloader.abort();
        }
        watchdog.abort();
        let _ = watchdog.await;
        sweeper.abort();
        let _ = sweeper.await;
        #[cfg(unix)]
        {
            control.abort();
            let _ = control.await;
        }
        scheduled.abort();
        let _ = scheduled.await;
        let failed = failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(why) = failed {
            drop(store);
            anyhow::bail!(
                "the store cannot write to the disk ({why}); stopped so that the supervisor restarts the server"
            );
        }
        close_store(store).await
    }
}

/// Writes a heartbeat to the store every few seconds; sends why on `failed` once the disk fails
/// a write.
async fn watch_the_disk(store: Arc<RedbStore>, failed: tokio::sync::oneshot::Sender<String>) {
    use crate::store::HealthStore as _;
    let mut every = tokio::time::interval(Duration::from_secs(5));
    loop {
        every.tick().await;
        let beating = store.clone();
        let now = u64::try_from(crate::store::model::UnixMillis::now().0).unwrap_or(0);
        match tokio::task::spawn_blocking(move || beating.heartbeat(now)).await {
            Ok(Err(crate::store::StoreError::Io(why))) => {
                tracing::error!(error = %why, "the store cannot write to the disk; stopping");
                let _ = failed.send(why);
                return;
            }
            Ok(Err(err)) => tracing::warn!(error = %err, "the heartbeat write failed"),
            Ok(Ok(())) | Err(_) => {}
        }
    }
}

/// Backs up into `backup.dir` every `backup.every_hours`, when a directory is set.
async fn scheduled_backups(store: Arc<RedbStore>, settings: Settings) {
    if settings.backup.dir.as_os_str().is_empty() {
        return;
    }
    let period = Duration::from_secs(settings.backup.every_hours.saturating_mul(3600));
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        every.tick().await;
        let to = settings.backup.dir.clone();
        let answer = crate::backup::run_backup(store.clone(), settings.clone(), to).await;
        if !answer.ok {
            tracing::error!(message = %answer.message, "the scheduled backup failed");
        }
    }
}

/// Drops expired uploads at start and every hour after.
async fn sweep_uploads(state: Arc<AppState>) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        match state.blobs.sweep().await {
            Ok(0) => {}
            Ok(dropped) => tracing::info!(dropped, "expired uploads dropped"),
            Err(err) => tracing::warn!(error = %err, "cannot sweep expired uploads"),
        }
    }
}

/// The office device's signing key: `office.key` in the data directory, made on first start and
/// readable by the server's user only.
fn office_key(settings: &Settings) -> anyhow::Result<anjian_sync::event::DeviceKey> {
    let path = settings.data_dir.join(OFFICE_KEY_FILE);
    let secret: [u8; 32] = match std::fs::read(&path) {
        Ok(bytes) => bytes.try_into().map_err(|_| {
            anyhow::anyhow!(
                "{} is not a 32-byte key; restore it from a backup",
                path.display()
            )
        })?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret)
                .map_err(|err| anyhow::anyhow!("no randomness for the office key: {err}"))?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            std::io::Write::write_all(&mut options.open(&path)?, &secret)
                .with_context(|| format!("cannot write {}", path.display()))?;
            secret
        }
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    Ok(anjian_sync::event::DeviceKey::from_secret(secret))
}

/// The file of the office device's key in the data directory.
pub const OFFICE_KEY_FILE: &str = "office.key";

/// Closes the store once the last request's storage task has let go of it.
async fn close_store(mut store: Arc<RedbStore>) -> anyhow::Result<()> {
    // Requests cut off by the grace period may leave a blocking storage call running for a
    // moment; wait for it (bounded), so the close is clean rather than abandoned.
    for _ in 0..100 {
        match Arc::try_unwrap(store) {
            Ok(store) => {
                tokio::task::spawn_blocking(move || store.close()).await??;
                tracing::info!("database closed cleanly");
                return Ok(());
            }
            Err(shared) => {
                store = shared;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    tracing::warn!(
        "storage tasks were still running after 5 s; the database will be repaired at next start"
    );
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_does_blocking_work_on_at_most_the_configured_threads() {
        let mut settings = Settings::default();
        settings.storage.threads = 3;
        let runtime = runtime(&settings).unwrap();
        let threads = runtime.block_on(async {
            // Twelve calls at once that each hold their thread for a moment: without the
            // limit each would get a thread of its own.
            let calls: Vec<_> = (0..12)
                .map(|_| {
                    tokio::task::spawn_blocking(|| {
                        std::thread::sleep(Duration::from_millis(50));
                        std::thread::current().id()
                    })
                })
                .collect();
            let mut threads = std::collections::HashSet::new();
            for call in calls {
                threads.insert(call.await.unwrap());
            }
            threads
        });
        assert_eq!(threads.len(), 3, "{threads:?}");
    }
}
