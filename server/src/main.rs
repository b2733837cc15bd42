//! `anjian-server`: the Anjian (安检) central server.

use std::path::PathBuf;
use std::process::ExitCode;

use anjian_server::config::{DEFAULT_CONFIG, Settings};
use anjian_server::startup::{Application, shutdown_signal};
use anjian_server::{api, telemetry};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};

/// The central server of Anjian (安检), an offline-first field system for work-safety supervision.
#[derive(Debug, Parser)]
#[command(version, about)]
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
    /// Print the commented default configuration (TOML).
    DefaultConfig,
    /// Print the OpenAPI document (YAML).
    Openapi,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// A TOML config file (see `anjian-server default-config`).
    #[arg(long, env = "ANJIAN_CONFIG")]
    config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "ANJIAN_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// Directory for the database and blobs [default: ./anjian-data].
    #[arg(long, env = "ANJIAN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The mini-program's AppID (微信小程序 AppID).
    #[arg(long, env = "ANJIAN_WECHAT_APP_ID")]
    wechat_app_id: Option<String>,
    /// The mini-program's AppSecret; prefer the environment variable over the flag.
    #[arg(long, env = "ANJIAN_WECHAT_APP_SECRET", hide_env_values = true)]
    wechat_app_secret: Option<SecretString>,
    /// The first admin's password, used only when the store is empty.
    #[arg(long, env = "ANJIAN_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<SecretString>,
}

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
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
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

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut settings = Settings::load(args.config.as_deref())?;
    if let Some(listen) = args.listen {
        settings.listen = listen;
    }
    if let Some(dir) = args.data_dir {
        settings.data_dir = dir;
    }
    if let Some(app_id) = args.wechat_app_id {
        settings.wechat.app_id = app_id;
    }
    if let Some(secret) = args.wechat_app_secret {
        settings.wechat.app_secret = secret;
    }
    settings.validate()?;
    telemetry::init(&settings.log);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listen = settings.listen;
        // The store first: a second server on the same data directory is refused for that,
        // whatever its address.
        let app = Application::build(settings, args.admin_password).await?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        if let Some(password) = app.initial_admin_password() {
            println!(
                "Created the first user `admin` with the password: {}\n\
                 It is shown only this once. Log in at http://{listen}/docs (POST /v1/auth/login) and change it.",
                password.expose_secret(),
            );
        }
        app.run_until(listener, shutdown_signal()).await
    })
}
