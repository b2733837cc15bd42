//! `anjian-server`: the Anjian (安检) central server.

use std::path::PathBuf;
use std::process::ExitCode;

use anjian_server::config::{DEFAULT_CONFIG, Settings};
use anjian_server::startup::{self, Application, shutdown_signal};
use anjian_server::{api, telemetry};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};

/// The central server of Anjian (安检), an offline-first field system for work-safety supervision.
///
/// The first admin's password comes from ANJIAN_ADMIN_PASSWORD on the first start (or is made up
/// and printed once); `reset-password` sets a new one while the server is stopped.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Run the server over a demo town (演示): on an empty data directory, first seed grids,
    /// about 30 enterprises, teams, workers, one user of each role (passwords printed once) and
    /// a few open hazards. A data directory that has users is served as it is.
    Demo(ServeArgs),
    /// Print the commented default configuration (TOML).
    DefaultConfig,
    /// Print the OpenAPI document (YAML).
    Openapi,
    /// Set a user's password while the server is stopped (from ANJIAN_ADMIN_PASSWORD, or a new
    /// random one that is printed), and end their sessions.
    ResetPassword(ResetArgs),
    /// Back up the store, its photos and the office key into a directory, with a manifest: the
    /// running server on this data directory makes it (over its control socket), or, when none
    /// runs, this command. Into a directory that holds an earlier backup, only new photos are
    /// copied.
    Backup(BackupArgs),
    /// Check a backup against its manifest: every file's sha256, and what its store holds.
    VerifyBackup {
        /// The backup's directory.
        dir: PathBuf,
    },
    /// Restore a backup into an empty data directory (verified first), then start the server on
    /// it; devices send again what the backup lacks.
    Restore(RestoreArgs),
    /// Print what each table of the store takes on disk (rows; bytes of keys and values, of
    /// bookkeeping and left unused), with the server stopped.
    StoreStats {
        #[command(flatten)]
        location: Location,
    },
    /// For developers: train the record dictionaries on this store's records and write them
    /// into a directory (`sync-core/src/dictionaries`), with the server stopped. A dictionary
    /// is part of the store's format: one in use is never replaced, only added to.
    #[command(hide = true)]
    TrainDictionaries {
        #[command(flatten)]
        location: Location,
        /// The directory to write them into.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
struct BackupArgs {
    #[command(flatten)]
    location: Location,
    /// The directory to back up into (created if missing).
    #[arg(long)]
    to: PathBuf,
}

#[derive(Debug, Args)]
struct RestoreArgs {
    #[command(flatten)]
    location: Location,
    /// The backup's directory.
    #[arg(long)]
    from: PathBuf,
}

/// Where the settings and the data are.
#[derive(Debug, Args)]
struct Location {
    /// A TOML config file (see `anjian-server default-config`).
    #[arg(long, env = "ANJIAN_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for the database and blobs [default: ./anjian-data].
    #[arg(long, env = "ANJIAN_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    location: Location,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "ANJIAN_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// The mini-program's AppID (微信小程序 AppID).
    #[arg(long, env = "ANJIAN_WECHAT_APP_ID")]
    wechat_app_id: Option<String>,
    /// The mini-program's AppSecret; prefer the environment variable over the flag.
    #[arg(long, env = "ANJIAN_WECHAT_APP_SECRET", hide_env_values = true)]
    wechat_app_secret: Option<SecretString>,
}

#[derive(Debug, Args)]
struct ResetArgs {
    #[command(flatten)]
    location: Location,
    /// Whose password.
    #[arg(default_value = "admin")]
    username: String,
}

/// mimalloc rather than the system allocator: the server's work is many short-lived
/// allocations on many threads (request bodies, JSON trees), which glibc's allocator keeps as
/// fragmented, per-thread memory long after it is freed (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::DefaultConfig) => {
            print!("{DEFAULT_CONFIG}");
            Ok(())
        }
        Some(Command::Openapi) => {
            print!("{}", api::spec_yaml());
            Ok(())
        }
        Some(Command::ResetPassword(args)) => reset_password(args),
        Some(Command::Backup(args)) => backup(args),
        Some(Command::VerifyBackup { dir }) => anjian_server::backup::verify(&dir)
            .map(|manifest| {
                println!(
                    "The backup at {} is whole: {}.",
                    dir.display(),
                    manifest.summary()
                )
            })
            .map_err(anyhow::Error::from),
        Some(Command::Restore(args)) => restore(args),
        Some(Command::StoreStats { location }) => store_stats(location),
        Some(Command::TrainDictionaries { location, out }) => train_dictionaries(location, &out),
        Some(Command::Serve(args)) => serve(args, false),
        Some(Command::Demo(args)) => serve(args, true),
        None => serve(cli.serve, false),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line a person can act on, with its causes; no backtrace.
            eprintln!("anjian-server: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn admin_password() -> Option<SecretString> {
    std::env::var("ANJIAN_ADMIN_PASSWORD")
        .ok()
        .map(SecretString::from)
}

fn settings(location: Location) -> anyhow::Result<Settings> {
    let mut settings = Settings::load(location.config.as_deref())?;
    if let Some(dir) = location.data_dir {
        settings.data_dir = dir;
    }
    Ok(settings)
}

fn serve(args: ServeArgs, demo: bool) -> anyhow::Result<()> {
    let mut settings = settings(args.location)?;
    if let Some(listen) = args.listen {
        settings.listen = listen;
    }
    if let Some(app_id) = args.wechat_app_id {
        settings.wechat.app_id = app_id;
    }
    if let Some(secret) = args.wechat_app_secret {
        settings.wechat.app_secret = secret;
    }
    settings.validate()?;
    telemetry::init(&settings.log)?;
    startup::runtime(&settings)?.block_on(async {
        let listen = settings.listen;
        let scheme = if settings.tls.enabled() { "https" } else { "http" };
        // The data directory first, so a second server on it is refused for that, whatever its
        // address; then the address; only then the first admin, so its password is never made
        // by a start that cannot serve.
        // SIGHUP (systemctl reload) is answered from now on, not left to end the process.
        #[cfg(unix)]
        let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("cannot listen for SIGHUP")?;
        let app = Application::build(settings).await?;
        #[cfg(unix)]
        let app = app.reload_on(hangups);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        if demo {
            match app.seed_demo(admin_password()).await? {
                Some(users) => {
                    println!(
                        "Seeded the demo town {}. Its users (passwords shown only this once):",
                        anjian_server::demo::TOWN
                    );
                    for user in &users {
                        println!(
                            "  {:<10} {:<22} {}",
                            user.username,
                            user.password.expose_secret(),
                            user.role
                        );
                    }
                    println!(
                        "  and each enterprise's safety manager (企业安全员), aq01, aq02 …, who \
                         sign in with WeChat (the admin invites them)."
                    );
                    println!(
                        "Try it: anjian login --server {scheme}://{listen} --user inspector \
                         (see README.md, \"Five minutes with the demo town\")."
                    );
                }
                None => println!(
                    "The data directory already holds users: serving it as it is (the demo \
                     seeds only an empty one)."
                ),
            }
        } else if let Some(password) = app.ensure_admin(admin_password()).await? {
            println!(
                "Created the first user `admin` with the password: {}\n\
                 It is shown only this once. Log in at {scheme}://{listen}/docs (POST /v1/auth/login); \
                 change it with PATCH /v1/admin/users/{{id}}, or `anjian-server reset-password` \
                 while the server is stopped.",
                password.expose_secret(),
            );
        }
        app.run_until(listener, shutdown_signal()).await
    })
}

fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let settings = settings(args.location)?;
    settings.validate()?;
    let to = std::path::absolute(&args.to)
        .with_context(|| format!("cannot make {} absolute", args.to.display()))?;
    startup::runtime(&settings)?.block_on(async {
        #[cfg(unix)]
        if let Some(answer) = anjian_server::backup::ask_server(&settings.data_dir, &to).await? {
            if answer.ok {
                println!("{}", answer.message);
                return Ok(());
            }
            anyhow::bail!("{}", answer.message);
        }
        // No server runs on the data directory: back it up here.
        if !settings.database_path().is_file() {
            anyhow::bail!("{} holds no store to back up", settings.data_dir.display());
        }
        let store = std::sync::Arc::new(
            anjian_server::store::RedbStore::open(&settings.database_path())
                .map_err(|err| anyhow::anyhow!("{err}"))?,
        );
        let answer = anjian_server::backup::run_backup(store, settings, to).await;
        if answer.ok {
            println!("{}", answer.message);
            Ok(())
        } else {
            anyhow::bail!("{}", answer.message)
        }
    })
}

fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let settings = settings(args.location)?;
    settings.validate()?;
    let manifest = anjian_server::backup::restore(&args.from, &settings)?;
    println!(
        "Restored {} into {}: {}. Start the server on it; devices send again what the backup lacks.",
        args.from.display(),
        settings.data_dir.display(),
        manifest.summary()
    );
    Ok(())
}

fn train_dictionaries(location: Location, out: &std::path::Path) -> anyhow::Result<()> {
    use anjian_server::store::codec::Dictionary;
    /// zstd's advice: a dictionary of about 100 KB; records of a few KB gain little beyond.
    const SIZE: usize = 64 * 1024;
    let settings = settings(location)?;
    let store = anjian_server::store::RedbStore::open(&settings.database_path())?;
    let samples = store.dictionary_samples()?;
    for (dictionary, samples) in [
        (Dictionary::Events, samples.events),
        (Dictionary::Projections, samples.projections),
    ] {
        let bytes = zstd::dict::from_samples(&samples, SIZE)
            .with_context(|| format!("cannot train {dictionary:?} on {} samples", samples.len()))?;
        let path = out.join(dictionary.file_name());
        std::fs::write(&path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "{}: {} bytes from {} samples",
            path.display(),
            bytes.len(),
            samples.len()
        );
    }
    Ok(())
}

fn store_stats(location: Location) -> anyhow::Result<()> {
    let settings = settings(location)?;
    let path = settings.database_path();
    let sizes = anjian_server::store::snapshot::table_sizes(&path)?;
    let file = std::fs::metadata(&path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let mb = |bytes: u64| bytes as f64 / 1e6;
    println!(
        "{:<24} {:>10} {:>11} {:>11} {:>11} {:>11}",
        "table", "rows", "stored MB", "B-tree MB", "unused MB", "bytes/row"
    );
    let mut in_tables = 0;
    for table in &sizes {
        in_tables += table.total_bytes();
        println!(
            "{:<24} {:>10} {:>11.1} {:>11.1} {:>11.1} {:>11.0}",
            table.name,
            table.rows,
            mb(table.stored_bytes),
            mb(table.metadata_bytes),
            mb(table.fragmented_bytes),
            table.total_bytes() as f64 / table.rows.max(1) as f64
        );
    }
    println!(
        "{}: {:.1} MB; the tables take {:.1} MB, the rest ({:.1} MB) is free pages and redb's own.",
        path.display(),
        mb(file),
        mb(in_tables),
        mb(file.saturating_sub(in_tables))
    );
    Ok(())
}

fn reset_password(args: ResetArgs) -> anyhow::Result<()> {
    let settings = settings(args.location)?;
    settings.validate()?;
    telemetry::init(&settings.log)?;
    startup::runtime(&settings)?.block_on(async {
        let app = Application::build(settings).await?;
        let given = admin_password();
        let from_env = given.is_some();
        let result = app.reset_password(&args.username, given).await;
        app.close().await?;
        let password = result?;
        if from_env {
            println!("The password of `{}` is now the one in ANJIAN_ADMIN_PASSWORD; their sessions have ended.", args.username);
        } else {
            println!(
                "The new password of `{}` is: {}\nIt is shown only this once; their sessions have ended.",
                args.username,
                password.expose_secret()
            );
        }
        Ok(())
    })
}
