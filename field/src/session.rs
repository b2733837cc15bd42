//! Logging in (`anjian login`) and syncing (`anjian sync`): the device's way to the server.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anjian_sync::client::{ClientError, Device, Step, TransportError};
use anyhow::{Context, anyhow, bail};
use clap::Args;

use crate::records::roles;
use crate::{SERVER_FILE, out};

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    server: String,
    /// Your username.
    #[arg(long)]
    user: String,
    /// Read the password from standard input instead of asking.
    #[arg(long)]
    password_stdin: bool,
    /// A name for this device.
    #[arg(long, default_value = "anjian command line")]
    name: String,
}

pub(crate) async fn login(dir: &Path, args: LoginArgs) -> anyhow::Result<()> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        rpassword::prompt_password(format!("password for {}: ", args.user)).map_err(|err| {
            anyhow!(
                "cannot ask for the password here ({err}); give it on standard input with \
                 --password-stdin"
            )
        })?
    };
    let server = args.server.trim_end_matches('/').to_string();
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        bail!("--server is a URL such as http://127.0.0.1:8080, not {server:?}");
    }
    let mut device = Device::open(dir, &server)?;
    let identity = match device.login(&args.user, &password).await {
        Ok(identity) => identity,
        Err(ClientError::Transport(TransportError::Http { status: 401, .. })) => {
            bail!("wrong username or password for {}", args.user)
        }
        Err(err) => return Err(anyhow::Error::new(err).context("cannot log in")),
    };
    let device_id = device.enrol(&args.name).await.context("cannot enrol")?;
    std::fs::write(dir.join(SERVER_FILE), format!("{server}\n"))?;
    say!(
        "logged in as {} ({}); this device is {device_id}",
        identity.username,
        roles(&identity.roles)
    );
    say!("run `anjian sync` to fetch what you may see");
    Ok(())
}

pub(crate) async fn sync(mut device: Device) -> anyhow::Result<()> {
    let bars = indicatif::MultiProgress::new();
    let photo_bars: Arc<Mutex<BTreeMap<String, indicatif::ProgressBar>>> = Arc::default();
    let style = indicatif::ProgressStyle::with_template(
        "{prefix:>10} [{bar:30}] {bytes}/{total_bytes} {msg}",
    )?
    .progress_chars("=> ");
    {
        let (bars, photo_bars, style) = (bars.clone(), photo_bars.clone(), style.clone());
        device.on_progress(move |progress| {
            let mut known = photo_bars.lock().unwrap_or_else(|p| p.into_inner());
            let bar = known.entry(progress.sha256.clone()).or_insert_with(|| {
                let bar = bars.add(indicatif::ProgressBar::new(progress.total));
                bar.set_style(style.clone());
                bar.set_prefix("photo");
                bar.set_message(progress.sha256[..12].to_string());
                bar
            });
            bar.set_position(progress.sent);
            if progress.sent >= progress.total {
                bar.finish();
            }
        });
    }
    let pages = bars.add(indicatif::ProgressBar::new_spinner());
    pages.set_prefix("pull");
    pages.set_style(indicatif::ProgressStyle::with_template(
        "{prefix:>10} {spinner} {pos} pages {msg}",
    )?);
    {
        let pages = pages.clone();
        device.on_step(move |step| {
            if step == Step::PageReceived {
                pages.inc(1);
            }
        });
    }
    let report = device.sync().await?;
    pages.finish_and_clear();
    say!(
        "synced: {} photos sent, {} events acknowledged ({} not applied), pages pulled: {}",
        report.photos.uploaded,
        report.acknowledged,
        report.not_applied,
        report.pages
    );
    if report.photos.refused > 0 {
        say!(
            "{} photos were refused by the server: see `anjian status`",
            report.photos.refused
        );
    }
    if report.photos.waiting > 0 {
        say!(
            "{} photos could not be sent yet; they go at the next sync",
            report.photos.waiting
        );
    }
    if report.not_applied > 0 {
        say!("some records were not applied: see `anjian status`");
    }
    Ok(())
}
