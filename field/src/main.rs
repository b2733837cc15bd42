//! `anjian`: the field client as a command. It acts as one device: its directory holds the
//! replica, the photos and the server's address. Capturing never needs the network; `anjian sync`
//! sends and fetches when there is signal.

use std::collections::BTreeMap;
use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anjian_sync::client::{ClientError, Device, PhotoState, Step, TransportError};
use anjian_sync::entity::{Entity, EntityType};
use anjian_sync::judge::Verdict;
use anyhow::{Context, anyhow, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

/// Prints a line to standard output; a closed output (`anjian list | head`) ends the program
/// quietly.
macro_rules! say {
    ($($arg:tt)*) => {
        out(format_args!($($arg)*))
    };
}

fn out(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{args}").is_err() {
        std::process::exit(0);
    }
}

/// The file in the device directory that holds the server's address.
const SERVER_FILE: &str = "server";

/// Anjian (安检) field client: capture inspections, hazards, meetings and articles offline,
/// and sync them when there is signal.
#[derive(Debug, Parser)]
#[command(name = "anjian", version)]
struct Cli {
    /// The device directory: its replica, its photos and the server's address.
    #[arg(
        long,
        env = "ANJIAN_DIR",
        default_value = "./anjian-device",
        global = true
    )]
    dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Log in and enrol this device (needs the network once).
    Login(LoginArgs),
    /// Send photos and records, fetch what changed (needs the network).
    Sync,
    /// What is waiting to be sent, what the server refused, the last sync, the clock.
    Status,
    /// Records this device holds.
    List(ListArgs),
    /// One record, as this device sees it and as the server last judged it.
    Show {
        /// The record's id.
        id: String,
    },
    /// The server's receipts for this device's events: proof of what arrived.
    Receipts,
    /// Mark conflicts or quarantined events as dealt with, so `status` stops listing them.
    Dismiss {
        /// The issues' ids, as `anjian status` shows them.
        ids: Vec<String>,
        /// Every issue this device holds.
        #[arg(long)]
        all: bool,
    },
    /// Record a shift safety meeting (班组安全交接会).
    Meeting(MeetingArgs),
    /// Record an inspection (检查) with a checklist.
    Inspect(InspectArgs),
    /// Hazards (隐患): report and move them through rectification.
    #[command(subcommand)]
    Hazard(HazardCommand),
    /// Safety-awareness articles (宣传稿件).
    #[command(subcommand)]
    Article(ArticleCommand),
}

#[derive(Debug, Args)]
struct LoginArgs {
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

#[derive(Debug, Args)]
struct ListArgs {
    /// Only records of this type.
    #[arg(long = "type", value_enum)]
    entity_type: Option<TypeArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TypeArg {
    Hazard,
    Meeting,
    Inspection,
    Article,
    Enterprise,
    Team,
    Worker,
    Grid,
    Template,
    Issue,
}

impl TypeArg {
    fn entity_type(self) -> EntityType {
        match self {
            TypeArg::Hazard => EntityType::Hazard,
            TypeArg::Meeting => EntityType::Meeting,
            TypeArg::Inspection => EntityType::Inspection,
            TypeArg::Article => EntityType::Article,
            TypeArg::Enterprise => EntityType::Enterprise,
            TypeArg::Team => EntityType::Team,
            TypeArg::Worker => EntityType::Worker,
            TypeArg::Grid => EntityType::Grid,
            TypeArg::Template => EntityType::Template,
            TypeArg::Issue => EntityType::SyncIssue,
        }
    }
}

#[derive(Debug, Args)]
struct MeetingArgs {
    /// The whole meeting as a JSON or TOML file (the `meeting.submit` payload; `photos` may list
    /// photo files); the flags below fill in what it leaves out. For example:
    /// `enterprise_id = "ID"`, `team_id = "t1"`, `date = "2026-11-28"`, `host = "陈阿妹"`,
    /// `topics = ["烘干炉温度控制"]`, `photos = ["meeting.jpg"]`, and `[[attendance]]` tables
    /// with `name = "…"` (`status`, `fit_for_duty`, `ppe_ok` optional).
    #[arg(long)]
    file: Option<PathBuf>,
    /// Enterprise id.
    #[arg(long)]
    enterprise: Option<String>,
    /// The team's code (e.g. t1), or its id, as `anjian list --type team` shows.
    #[arg(long)]
    team: Option<String>,
    /// The working day, YYYY-MM-DD [default: today].
    #[arg(long)]
    date: Option<String>,
    /// The shift's name (早班, 夜班 …).
    #[arg(long, default_value = "早班")]
    shift: String,
    /// Which meeting: pre_shift (班前会), mid_shift (班中), handover (交接班).
    #[arg(long, default_value = "pre_shift")]
    slot: String,
    /// Who held it.
    #[arg(long)]
    host: Option<String>,
    /// Where.
    #[arg(long, default_value = "车间")]
    place: String,
    /// An attendee: `name` or `name:present|absent|late|excused`; repeat.
    #[arg(long = "attendee")]
    attendees: Vec<String>,
    /// What was said; repeat.
    #[arg(long = "topic")]
    topics: Vec<String>,
    /// A risk raised; repeat.
    #[arg(long = "risk")]
    risks: Vec<String>,
    /// An item handed over; repeat.
    #[arg(long = "handover")]
    handover: Vec<String>,
    /// A photo of the meeting; at least one; repeat.
    #[arg(long = "photo")]
    photos: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// The whole inspection as a JSON or TOML file (the `inspection.submit` payload). Photo
    /// members may name files, which are attached.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Enterprise id.
    #[arg(long)]
    enterprise: Option<String>,
    /// The checklist, `code@version` [default: the newest small-enterprise checklist].
    #[arg(long)]
    template: Option<String>,
    /// self_check, grid_patrol, enforcement, special_campaign or recheck.
    #[arg(long, default_value = "grid_patrol")]
    kind: String,
    /// An inspector: `name` or `name:certificate`; repeat.
    #[arg(long = "inspector")]
    inspectors: Vec<String>,
    /// An item's result: `CODE=ok`, `CODE=na` or `CODE=hazard:note`; repeat.
    #[arg(long = "result")]
    results: Vec<String>,
    /// A photo for an item: `CODE=path`; repeat.
    #[arg(long = "item-photo")]
    item_photos: Vec<String>,
    /// Go through the checklist item by item, answering on standard input.
    #[arg(long)]
    interactive: bool,
    /// The conclusion (检查结论).
    #[arg(long)]
    summary: Option<String>,
    /// A photo of the enterprise's signature.
    #[arg(long)]
    signature: Option<PathBuf>,
    /// Why there is no signature (拒签说明).
    #[arg(long)]
    refusal_note: Option<String>,
}

#[derive(Debug, Subcommand)]
enum HazardCommand {
    /// Report a hazard (隐患), with its photos.
    Report {
        /// Enterprise id.
        #[arg(long)]
        enterprise: String,
        /// general (一般) or major (重大).
        #[arg(long, default_value = "general")]
        level: String,
        /// What is wrong.
        #[arg(long)]
        description: String,
        /// Rectify by, YYYY-MM-DD.
        #[arg(long)]
        deadline: Option<String>,
        /// Measures asked for.
        #[arg(long)]
        measures: Option<String>,
        /// The grid, when the enterprise is not registered.
        #[arg(long)]
        grid: Option<String>,
        /// The inspection that found it.
        #[arg(long)]
        inspection: Option<String>,
        /// A photo; repeat.
        #[arg(long = "photo")]
        photos: Vec<PathBuf>,
    },
    /// The enterprise starts rectifying (整改).
    Start(MoveArgs),
    /// Rectification is done: photos of it go to the inspector for acceptance.
    Rectify(MoveArgs),
    /// The inspector accepts the rectification (验收销号).
    Accept(MoveArgs),
    /// The inspector sends it back (退回整改); needs a note.
    Reject(MoveArgs),
}

#[derive(Debug, Args)]
struct MoveArgs {
    /// The hazard's id.
    id: String,
    /// A note.
    #[arg(long)]
    note: Option<String>,
    /// A photo; repeat.
    #[arg(long = "photo")]
    photos: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum ArticleCommand {
    /// Write a new draft.
    New {
        /// Title.
        #[arg(long)]
        title: String,
        /// Text.
        #[arg(long)]
        body: String,
        /// safety365, seven_entries, warning or policy.
        #[arg(long)]
        column: Option<String>,
        /// The cover image.
        #[arg(long)]
        cover: Option<PathBuf>,
        /// An image; repeat.
        #[arg(long = "image")]
        images: Vec<PathBuf>,
    },
    /// Send a draft for review.
    Submit {
        /// The article's id.
        id: String,
    },
    /// Review an article: publish it, or reject it with a note.
    Review {
        /// The article's id.
        id: String,
        /// Publish it.
        #[arg(long, conflicts_with = "reject")]
        publish: bool,
        /// Send it back to its author.
        #[arg(long)]
        reject: bool,
        /// Why.
        #[arg(long)]
        note: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", advice(&err));
            ExitCode::FAILURE
        }
    }
}

/// An error as a person can act on it.
fn advice(err: &anyhow::Error) -> String {
    match err.downcast_ref::<ClientError>() {
        Some(ClientError::Transport(TransportError::Unreachable { .. })) => format!(
            "{err:#}\nThe server cannot be reached. Nothing is lost: everything captured stays on \
             this device. Run `anjian sync` again when there is signal."
        ),
        Some(ClientError::Transport(TransportError::Http { status: 401, .. })) => format!(
            "{err:#}\nThe session has ended: run `anjian login --server URL --user NAME` again \
             (nothing captured is lost)."
        ),
        _ => format!("{err:#}"),
    }
}

fn open(dir: &Path) -> anyhow::Result<Device> {
    let server = std::fs::read_to_string(dir.join(SERVER_FILE)).map_err(|_| {
        anyhow!(
            "{} is not a device directory yet: run `anjian login --server URL --user NAME` \
             (or pass --dir / set ANJIAN_DIR)",
            dir.display()
        )
    })?;
    Ok(Device::open(dir, server.trim())?)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let dir = cli.dir;
    match cli.command {
        Command::Login(args) => login(&dir, args).await,
        Command::Sync => sync(open(&dir)?).await,
        Command::Status => status(&open(&dir)?, &dir),
        Command::Dismiss { ids, all } => dismiss(&open(&dir)?, &dir, ids, all),
        Command::List(args) => list(&open(&dir)?, args),
        Command::Show { id } => show(&open(&dir)?, &id),
        Command::Receipts => receipts(&open(&dir)?),
        Command::Meeting(args) => meeting(&open(&dir)?, args),
        Command::Inspect(args) => inspect(&open(&dir)?, args),
        Command::Hazard(command) => hazard(&open(&dir)?, command),
        Command::Article(command) => article(&open(&dir)?, command),
    }
}

async fn login(dir: &Path, args: LoginArgs) -> anyhow::Result<()> {
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

async fn sync(mut device: Device) -> anyhow::Result<()> {
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

/// Roles by their protocol names (`enterprise_manager`).
fn roles(roles: &[anjian_sync::access::Role]) -> String {
    roles
        .iter()
        .map(|r| {
            serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
        })
        .map(Option::unwrap_or_default)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A size for a person.
fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1_000_000 => format!("{:.0} KB", b as f64 / 1e3),
        b => format!("{:.1} MB", b as f64 / 1e6),
    }
}

fn ago(ms: i64) -> String {
    let minutes = (now_ms() - ms) / 60_000;
    match minutes {
        m if m < 1 => "just now".into(),
        m if m < 120 => format!("{m} minutes ago"),
        m if m < 48 * 60 => format!("{} hours ago", m / 60),
        m => format!("{} days ago", m / (24 * 60)),
    }
}

/// The file in the device directory listing the sync issues a person has dealt with.
const DISMISSED_FILE: &str = "dismissed-issues";

fn dismissed(dir: &Path) -> anyhow::Result<Vec<String>> {
    match std::fs::read_to_string(dir.join(DISMISSED_FILE)) {
        Ok(text) => Ok(text.lines().map(str::to_string).collect()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(err.into()),
    }
}

fn dismiss(device: &Device, dir: &Path, ids: Vec<String>, all: bool) -> anyhow::Result<()> {
    let issues: Vec<String> = device.issues()?.into_iter().map(|p| p.entity.id).collect();
    let chosen = if all { issues.clone() } else { ids };
    if chosen.is_empty() {
        bail!("name the issues to dismiss (ids from `anjian status`), or pass --all");
    }
    let mut kept = dismissed(dir)?;
    for id in chosen {
        if !issues.contains(&id) {
            bail!("this device holds no sync issue {id}; `anjian status` lists them");
        }
        if !kept.contains(&id) {
            kept.push(id);
        }
    }
    std::fs::write(dir.join(DISMISSED_FILE), kept.join("\n") + "\n")?;
    say!("dismissed; the issues stay on the server and in `anjian list --type issue`");
    Ok(())
}

fn status(device: &Device, dir: &Path) -> anyhow::Result<()> {
    let identity = device
        .identity()?
        .ok_or_else(|| anyhow!("not logged in: run `anjian login`"))?;
    say!("user: {} ({})", identity.username, roles(&identity.roles));
    say!(
        "device: {}",
        identity.device_id.as_deref().unwrap_or("not enrolled")
    );
    match device.last_sync_ms()? {
        Some(at) => say!("last sync: {}", ago(at)),
        None => say!("last sync: never"),
    }
    let outbox = device.outbox()?;
    say!("pending events: {} (captured, not yet sent)", outbox.len());
    let photos = device.photos()?;
    let unsent: Vec<_> = photos
        .iter()
        .filter(|p| p.state == PhotoState::Queued)
        .collect();
    let bytes: u64 = unsent.iter().map(|p| p.size - p.offset).sum();
    say!("unsent photos: {} ({} to send)", unsent.len(), size(bytes));
    for photo in &photos {
        if let PhotoState::Refused { code, message } = &photo.state {
            say!(
                "  refused photo {}: {code}: {message}\n    the record citing it stays without it: \
                 capture the record again with a JPEG, PNG or WebP photo",
                &photo.sha256[..12]
            );
        }
    }
    let dismissed = dismissed(dir)?;
    let (done, open): (Vec<_>, Vec<_>) = device
        .issues()?
        .into_iter()
        .partition(|issue| dismissed.contains(&issue.entity.id));
    say!(
        "conflicts and quarantined: {} to look at ({} dismissed)",
        open.len(),
        done.len()
    );
    for issue in &open {
        let body = &issue.entity.body;
        say!(
            "  {} {}: {} — {} of record {}\n    `anjian show {}` has the whole event; `anjian dismiss {}` once dealt with",
            body["verdict"].as_str().unwrap_or("?"),
            body["reason"]["code"].as_str().unwrap_or("?"),
            body["reason"]["message"].as_str().unwrap_or(""),
            body["event"]["kind"].as_str().unwrap_or(""),
            body["about_entity"].as_str().unwrap_or("?"),
            issue.entity.id,
            issue.entity.id,
        );
    }
    match device.clock_skew_ms()? {
        Some(skew) if skew.abs() > 5 * 60_000 => {
            let hours = skew.abs() as f64 / 3_600_000.0;
            say!(
                "clock: WARNING this device's clock is {hours:.1} hours {} the server's; capture \
                 times are corrected and flagged by the server. Set the phone's time.",
                if skew > 0 { "ahead of" } else { "behind" }
            );
        }
        Some(_) => say!("clock: agrees with the server"),
        None => say!("clock: not checked yet (it is, at the next sync that sends records)"),
    }
    Ok(())
}

fn summary(entity: &Entity) -> String {
    let body = &entity.body;
    let text = |key: &str| body[key].as_str().unwrap_or("").to_string();
    match entity.entity_type {
        EntityType::Hazard => format!(
            "{} {} {} (by {})",
            text("state"),
            text("level"),
            text("description"),
            text("deadline")
        ),
        EntityType::Meeting => format!(
            "{} {} {} {}",
            text("date"),
            text("shift"),
            text("slot"),
            text("team_id")
        ),
        EntityType::Inspection => format!(
            "{} {} {}",
            text("kind"),
            text("enterprise_id"),
            text("summary")
        ),
        EntityType::Article => format!("{} {}", text("state"), text("title")),
        EntityType::SyncIssue => format!(
            "{} {}",
            text("verdict"),
            body["reason"]["code"].as_str().unwrap_or("")
        ),
        EntityType::Team => format!(
            "{} (code {}, --team {} with --enterprise {})",
            text("name"),
            text("code"),
            text("code"),
            text("enterprise_id")
        ),
        EntityType::Template => format!("{} {}@{}", text("title"), text("code"), body["version"]),
        _ => {
            let name = text("name");
            if name.is_empty() { text("title") } else { name }
        }
    }
}

fn list(device: &Device, args: ListArgs) -> anyhow::Result<()> {
    let types: Vec<EntityType> = match args.entity_type {
        Some(t) => vec![t.entity_type()],
        None => vec![
            EntityType::Hazard,
            EntityType::Inspection,
            EntityType::Meeting,
            EntityType::Article,
            EntityType::SyncIssue,
            EntityType::Enterprise,
            EntityType::Team,
            EntityType::Worker,
            EntityType::Grid,
            EntityType::Template,
        ],
    };
    let mut shown = 0;
    for entity_type in types {
        // Sync issues are the server's: they are in the pulled projections, not the local view.
        let entities = match entity_type {
            EntityType::SyncIssue => device.issues()?.into_iter().map(|p| p.entity).collect(),
            other => device.entities(other)?,
        };
        for entity in entities {
            say!(
                "{:<12} {}  {}",
                entity_type.name(),
                entity.id,
                summary(&entity)
            );
            shown += 1;
        }
    }
    if shown == 0 {
        say!("nothing here yet (capture something, or `anjian sync` to fetch)");
    }
    Ok(())
}

fn show(device: &Device, id: &str) -> anyhow::Result<()> {
    let local = device.entity(id)?;
    let server = device.server_entity(id)?;
    if local.is_none() && server.is_none() {
        bail!("this device holds no record {id}; `anjian list` shows what it holds");
    }
    let shown = json!({
        "local": local,
        "server": server.map(|p| json!({
            "entity": if local.is_none() { json!(p.entity) } else { Value::Null },
            "rev": p.rev,
            "captured_at_ms": p.captured_at_ms,
            "received_at_ms": p.received_at_ms,
            "clock": p.clock,
            "blobs": p.entity.blobs,
            "missing_blobs": p.missing_blobs,
        })),
    });
    say!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(())
}

fn receipts(device: &Device) -> anyhow::Result<()> {
    let receipts = device.receipts()?;
    if receipts.is_empty() {
        say!("no receipts yet: nothing sent, or not synced");
    }
    let log: BTreeMap<u64, (String, String)> = device
        .log()?
        .into_iter()
        .map(|e| (e.body.seq, (e.body.kind, e.body.entity_id)))
        .collect();
    for r in receipts {
        let (kind, record) = log.get(&r.seq).cloned().unwrap_or_default();
        let outcome = match (&r.verdict, r.rev, &r.issue_id) {
            (Verdict::Applied, Some(rev), _) => format!("applied at revision {rev}"),
            (verdict, _, issue) => format!(
                "{verdict:?} ({}), kept as {}",
                r.reason.as_ref().map(|x| x.code.as_str()).unwrap_or(""),
                issue.as_deref().unwrap_or("-")
            )
            .to_lowercase(),
        };
        say!(
            "#{:<4} {kind} of {record}: {outcome} (event {}, hash {})",
            r.seq,
            r.event_id,
            &r.hash[..16]
        );
    }
    Ok(())
}

/// Reads a JSON or TOML file (by extension) into a JSON value.
fn read_record(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "toml") {
        let value: toml::Value = toml::from_str(&text)
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        Ok(serde_json::to_value(value)?)
    } else {
        serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
    }
}

fn attach(device: &Device, path: &Path) -> anyhow::Result<String> {
    Ok(device.add_photo(path)?)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Today in China (UTC+8), YYYY-MM-DD.
fn today() -> String {
    anjian_sync::clock::china_date(now_ms())
}

/// Checks that this device knows the enterprise (its id, as `anjian list --type enterprise`
/// shows it) before anything is asked or recorded.
fn known_enterprise(device: &Device, id: &str) -> anyhow::Result<()> {
    let enterprises = device.entities(EntityType::Enterprise)?;
    if enterprises.is_empty() || enterprises.iter().any(|e| e.id == id) {
        return Ok(());
    }
    bail!(
        "this device knows no enterprise {id}: `anjian list --type enterprise` shows the ids \
         (`anjian sync` first if the list is old)"
    )
}

/// Records one thing the person did, if the server would apply it by what this device holds;
/// otherwise records nothing and says why and what to do.
#[allow(
    clippy::too_many_arguments,
    reason = "the members of the event and what to call it"
)]
fn capture(
    device: &Device,
    what: &str,
    kind: &str,
    id: &str,
    payload: Value,
    photos: Vec<String>,
    template: Option<&str>,
) -> anyhow::Result<()> {
    device
        .capture_if_applicable(kind, id, payload, photos, template)
        .map_err(|err| refused(err, &format!("the {what}")))?;
    say!("recorded {what} {id}; `anjian sync` sends it");
    Ok(())
}

/// A capture the judgement refused, as advice.
fn refused(err: ClientError, what: &str) -> anyhow::Error {
    match err {
        ClientError::NotApplicable { code, message } => {
            let hint = if code.starts_with("stale")
                || code == "unknown-entity"
                || code == "invalid-transition"
            {
                "This device's copy may be behind: run `anjian sync`, look again (`anjian show`), then retry."
            } else if code == "photo-required" {
                "Attach photos with --photo FILE (repeat it for more)."
            } else if code == "payload-invalid" {
                "Give what it names with the command's options (`--help` lists them), or in --file."
            } else {
                "Correct it and run the command again."
            };
            anyhow!("{what} was not recorded: {code}: {message}\n{hint}")
        }
        other => anyhow::Error::new(other),
    }
}

fn meeting(device: &Device, args: MeetingArgs) -> anyhow::Result<()> {
    let mut record = match &args.file {
        Some(path) => read_record(path)?,
        None => json!({}),
    };
    let object = record
        .as_object_mut()
        .ok_or_else(|| anyhow!("the meeting file must hold an object"))?;
    let mut set = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            object.entry(key.to_string()).or_insert(value);
        }
    };
    let started = now_ms();
    // A team is named by its code (`t1`); its id from `anjian list --type team` works too.
    let team = args
        .team
        .map(|team| -> anyhow::Result<(String, Option<String>)> {
            Ok(match device.entity(&team)? {
                Some(t) if t.entity_type == EntityType::Team => (
                    t.body["code"].as_str().unwrap_or_default().to_string(),
                    t.body["enterprise_id"].as_str().map(str::to_string),
                ),
                _ => (team, None),
            })
        })
        .transpose()?;
    let (team, team_enterprise) = team.map_or((None, None), |(code, e)| (Some(code), e));
    set(
        "enterprise_id",
        args.enterprise.or(team_enterprise).map(Value::from),
    );
    set("team_id", team.map(Value::from));
    set("date", Some(Value::from(args.date.unwrap_or_else(today))));
    set("shift", Some(Value::from(args.shift)));
    set("slot", Some(Value::from(args.slot)));
    set("host", args.host.map(Value::from));
    set("place", Some(Value::from(args.place)));
    set("started_at_ms", Some(json!(started - 5 * 60_000)));
    set("ended_at_ms", Some(json!(started)));
    let attendance: Vec<Value> = args
        .attendees
        .iter()
        .map(|a| {
            let (name, status) = a.split_once(':').unwrap_or((a, "present"));
            json!({"name": name, "status": status, "fit_for_duty": true, "ppe_ok": true})
        })
        .collect();
    set(
        "attendance",
        (!attendance.is_empty()).then(|| json!(attendance)),
    );
    set(
        "topics",
        (!args.topics.is_empty()).then(|| json!(args.topics)),
    );
    set("risks", Some(json!(args.risks)));
    set("handover", Some(json!(args.handover)));
    // A meeting's id is made from its team's slot, so those name it; everything else it must
    // hold is the judgement's to say (`capture` passes its reason on).
    if !object.contains_key("enterprise_id") || !object.contains_key("team_id") {
        bail!(
            "a meeting is named by its team: pass --team (and --enterprise), or put them in --file"
        );
    }
    // Attendees in a file default to present, fit for duty and equipped.
    if let Some(attendance) = object.get_mut("attendance").and_then(Value::as_array_mut) {
        for attendee in attendance.iter_mut().filter_map(Value::as_object_mut) {
            attendee.entry("status").or_insert(json!("present"));
            attendee.entry("fit_for_duty").or_insert(json!(true));
            attendee.entry("ppe_ok").or_insert(json!(true));
        }
    }
    // Photo files may be named in the file (`photos = ["a.jpg"]`) as well as with --photo.
    let mut files: Vec<PathBuf> = match object.remove("photos") {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .map(PathBuf::from)
            .collect(),
        _ => Vec::new(),
    };
    files.extend(args.photos.iter().cloned());
    if let Some(enterprise) = object.get("enterprise_id").and_then(Value::as_str) {
        known_enterprise(device, enterprise)?;
    }
    let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
    let slot: anjian_sync::kinds::meeting::Slot =
        serde_json::from_value(object.get("slot").cloned().unwrap_or_default())
            .context("the meeting's slot is pre_shift, mid_shift or handover")?;
    let id = anjian_sync::kinds::meeting::meeting_id(
        text("enterprise_id"),
        text("team_id"),
        text("date"),
        text("shift"),
        slot,
    );
    let photos = files
        .iter()
        .map(|p| attach(device, p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    capture(
        device,
        "meeting",
        "meeting.submit",
        &id,
        record,
        photos,
        None,
    )
}

/// The checklist to use: `code@version`, or the newest `small-enterprise` one this device holds.
fn template(device: &Device, wanted: Option<&str>) -> anyhow::Result<(String, u64, Entity)> {
    let templates = device.entities(EntityType::Template)?;
    let (code, version) = match wanted {
        Some(text) => {
            let (code, version) = text
                .split_once('@')
                .ok_or_else(|| anyhow!("--template is code@version, e.g. small-enterprise@1"))?;
            (code.to_string(), Some(version.parse::<u64>()?))
        }
        None => ("small-enterprise".to_string(), None),
    };
    templates
        .into_iter()
        .filter(|t| t.body["code"] == code.as_str())
        .filter(|t| version.is_none_or(|v| t.body["version"].as_u64() == Some(v)))
        .max_by_key(|t| t.body["version"].as_u64())
        .map(|t| {
            let version = t.body["version"].as_u64().unwrap_or(0);
            (code.clone(), version, t)
        })
        .ok_or_else(|| {
            anyhow!(
                "this device does not hold checklist {code}: run `anjian sync` once with signal"
            )
        })
}

fn inspect(device: &Device, args: InspectArgs) -> anyhow::Result<()> {
    let mut record = match &args.file {
        Some(path) => read_record(path)?,
        None => json!({}),
    };
    let wanted = args.template.clone().or_else(|| {
        let code = record["template"].as_str()?;
        Some(format!("{code}@{}", record["template_version"].as_u64()?))
    });
    let (code, version, checklist) = template(device, wanted.as_deref())?;
    if let Some(enterprise) = args
        .enterprise
        .as_deref()
        .or_else(|| record["enterprise_id"].as_str())
    {
        known_enterprise(device, enterprise)?;
    }
    let object = record
        .as_object_mut()
        .ok_or_else(|| anyhow!("the inspection file must hold an object"))?;
    let now = now_ms();
    object.insert("template".into(), json!(code));
    object.insert("template_version".into(), json!(version));
    if let Some(enterprise) = &args.enterprise {
        object.insert("enterprise_id".into(), json!(enterprise));
    }
    object.entry("kind").or_insert(json!(args.kind));
    object
        .entry("started_at_ms")
        .or_insert(json!(now - 30 * 60_000));
    object.entry("ended_at_ms").or_insert(json!(now));
    if !args.inspectors.is_empty() {
        let inspectors: Vec<Value> = args
            .inspectors
            .iter()
            .map(|i| match i.split_once(':') {
                Some((name, certificate)) => json!({"name": name, "certificate": certificate}),
                None => json!({"name": i}),
            })
            .collect();
        object.insert("inspectors".into(), json!(inspectors));
    }
    if let Some(summary) = &args.summary {
        object.insert("summary".into(), json!(summary));
    }
    if let Some(note) = &args.refusal_note {
        object.insert("refusal_note".into(), json!(note));
    }
    let mut results: BTreeMap<String, Value> = BTreeMap::new();
    for result in object
        .get("results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        if let Some(item) = result["item"].as_str() {
            results.insert(item.to_string(), result.clone());
        }
    }
    for text in &args.results {
        let (item, verdict) = text
            .split_once('=')
            .ok_or_else(|| anyhow!("--result is CODE=ok, CODE=na or CODE=hazard:note"))?;
        results.insert(item.to_string(), result_of(item, verdict)?);
    }
    if args.interactive {
        interview(&checklist, &mut results)?;
    }
    for text in &args.item_photos {
        let (item, path) = text
            .split_once('=')
            .ok_or_else(|| anyhow!("--item-photo is CODE=path"))?;
        let result = results
            .get_mut(item)
            .ok_or_else(|| anyhow!("--item-photo names {item}, which has no --result"))?;
        result["photos"]
            .as_array_mut()
            .ok_or_else(|| anyhow!("the result of {item} has no photo list"))?
            .push(json!(path));
    }
    // Photo members may name files: attach them and cite their hashes.
    let mut cited = Vec::new();
    for result in results.values_mut() {
        if let Some(photos) = result["photos"].as_array_mut() {
            for photo in photos.iter_mut() {
                *photo = json!(cite(device, photo, &mut cited)?);
            }
        }
    }
    object.insert(
        "results".into(),
        json!(results.into_values().collect::<Vec<_>>()),
    );
    if let Some(signature) = &args.signature {
        object.insert("signature".into(), json!(signature));
    }
    if let Some(signature) = object.get("signature").cloned() {
        object.insert(
            "signature".into(),
            json!(cite(device, &signature, &mut cited)?),
        );
    }
    // What an inspection must hold is the judgement's to say (`capture` passes its reason on).
    let id = Device::new_entity_id();
    let pinned = format!("{code}@{version}");
    capture(
        device,
        "inspection",
        "inspection.submit",
        &id,
        record,
        cited,
        Some(&pinned),
    )
}

/// A photo member: a sha256 already, or a file to attach.
fn cite(device: &Device, value: &Value, cited: &mut Vec<String>) -> anyhow::Result<String> {
    let text = value
        .as_str()
        .ok_or_else(|| anyhow!("a photo must be a file path or a sha256"))?;
    let sha = if anjian_sync::event::is_sha256_hex(text) && !Path::new(text).exists() {
        text.to_string()
    } else {
        attach(device, Path::new(text))?
    };
    if !cited.contains(&sha) {
        cited.push(sha.clone());
    }
    Ok(sha)
}

fn result_of(item: &str, verdict: &str) -> anyhow::Result<Value> {
    let (verdict, note) = verdict.split_once(':').unwrap_or((verdict, ""));
    let verdict = match verdict {
        "ok" | "o" => "ok",
        "na" | "n" | "not_applicable" => "not_applicable",
        "hazard" | "h" => "hazard",
        other => bail!(
            "{item}: `{other}` is not an answer: Enter or o (ok), n (not applicable), h <note> (hazard)"
        ),
    };
    let mut result = json!({"item": item, "verdict": verdict, "photos": []});
    if !note.is_empty() {
        result["note"] = json!(note);
    }
    Ok(result)
}

/// Asks for each item of the checklist on standard input: Enter or `o` for ok, `n` for not
/// applicable, `h note` for a finding (`h note @photo.jpg` attaches a photo).
fn interview(checklist: &Entity, results: &mut BTreeMap<String, Value>) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let sections = checklist.body["sections"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    say!("answer each item: Enter or o = ok, n = not applicable, h <note> [@photo] = hazard");
    for section in sections {
        say!("== {}", section["title"].as_str().unwrap_or(""));
        for item in section["items"].as_array().cloned().unwrap_or_default() {
            let code = item["code"].as_str().unwrap_or("").to_string();
            if results.contains_key(&code) {
                continue;
            }
            // A wrong answer is asked again (a few times); input that ends records nothing.
            let mut answered = None;
            for _ in 0..5 {
                print!("{code} {}: ", item["text"].as_str().unwrap_or(""));
                std::io::stdout().flush()?;
                let Some(line) = lines.next().transpose()? else {
                    bail!("\nthe answers ended at item {code}; nothing was recorded");
                };
                match answer(&code, line.trim()) {
                    Ok(result) => {
                        answered = Some(result);
                        break;
                    }
                    Err(err) => eprintln!("\n{err:#}; answer again"),
                }
            }
            let result = answered
                .ok_or_else(|| anyhow!("no usable answer for item {code}; nothing was recorded"))?;
            results.insert(code, result);
        }
    }
    Ok(())
}

/// One answer of the interview: ``, `o`, `n`, or `h <note>` with an optional ` @<photo file>`.
fn answer(code: &str, line: &str) -> anyhow::Result<Value> {
    let (answer, photo) = match line.rsplit_once(" @") {
        Some((answer, photo)) => (answer.trim(), Some(photo.trim().to_string())),
        None => (line, None),
    };
    let verdict = match answer.split_once(' ') {
        Some((v, note)) => format!("{v}:{note}"),
        None if answer.is_empty() => "ok".to_string(),
        None => answer.to_string(),
    };
    let mut result = result_of(code, &verdict)?;
    if let Some(photo) = photo {
        if !Path::new(&photo).is_file() {
            bail!("there is no photo file {photo}");
        }
        result["photos"] = json!([photo]);
    }
    Ok(result)
}

fn hazard(device: &Device, command: HazardCommand) -> anyhow::Result<()> {
    match command {
        HazardCommand::Report {
            enterprise,
            level,
            description,
            deadline,
            measures,
            grid,
            inspection,
            photos,
        } => {
            known_enterprise(device, &enterprise)?;
            let photos = photos
                .iter()
                .map(|p| attach(device, p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut payload = json!({"enterprise_id": enterprise, "level": level,
                "description": description});
            for (key, value) in [
                ("deadline", deadline),
                ("measures", measures),
                ("grid_id", grid),
                ("inspection_id", inspection),
            ] {
                if let Some(value) = value {
                    payload[key] = json!(value);
                }
            }
            let id = Device::new_entity_id();
            capture(
                device,
                "hazard",
                "hazard.report",
                &id,
                payload,
                photos,
                None,
            )?;
        }
        HazardCommand::Start(args) => move_hazard(device, args, "rectifying")?,
        HazardCommand::Rectify(args) => move_hazard(device, args, "pending_acceptance")?,
        HazardCommand::Accept(args) => move_hazard(device, args, "closed")?,
        HazardCommand::Reject(args) => move_hazard(device, args, "rectifying")?,
    }
    Ok(())
}

/// Moves a hazard from where this device sees it to `to`, in one recorded step.
fn move_hazard(device: &Device, args: MoveArgs, to: &str) -> anyhow::Result<()> {
    let current = device.entity(&args.id)?.ok_or_else(|| {
        anyhow!(
            "this device holds no hazard {}; `anjian sync` to fetch, `anjian list --type hazard` to see",
            args.id
        )
    })?;
    let state = current.body["state"].as_str().unwrap_or("").to_string();
    if state == to {
        bail!("hazard {} is already {state}", args.id);
    }
    let photos = args
        .photos
        .iter()
        .map(|p| attach(device, p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut payload = json!({"from": state, "to": to});
    if let Some(note) = &args.note {
        payload["note"] = json!(note);
    }
    device
        .capture_if_applicable("hazard.transition", &args.id, payload, photos, None)
        .map_err(|err| {
            let err = refused(
                err,
                &format!("moving hazard {} from {state} to {to}", args.id),
            );
            anyhow!("{err:#}\n({})", next_moves(&current))
        })?;
    say!("hazard {} is now {to}; `anjian sync` sends it", args.id);
    Ok(())
}

/// Where a hazard may go from where it stands, by the shared rules, as the commands that move it.
fn next_moves(hazard: &Entity) -> String {
    use anjian_sync::kinds::hazard::{Level, State};
    let state = serde_json::from_value::<State>(hazard.body["state"].clone());
    let level = serde_json::from_value::<Level>(hazard.body["level"].clone());
    let (Ok(state), Ok(level)) = (state, level) else {
        return "this device's copy of the hazard is not one it can read; run `anjian sync`".into();
    };
    let moves: Vec<&str> = state
        .next(level)
        .into_iter()
        .filter_map(|to| match (state, to) {
            (_, State::Rectifying) if state == State::PendingAcceptance => {
                Some("`anjian hazard reject`")
            }
            (_, State::Rectifying) => Some("`anjian hazard start`"),
            (_, State::PendingAcceptance) => Some("`anjian hazard rectify`"),
            (_, State::Closed) => Some("`anjian hazard accept`"),
            _ => None,
        })
        .collect();
    if moves.is_empty() {
        "no command of this device moves the hazard on from here".into()
    } else {
        format!("from here the hazard moves on with {}", moves.join(" or "))
    }
}

fn article(device: &Device, command: ArticleCommand) -> anyhow::Result<()> {
    match command {
        ArticleCommand::New {
            title,
            body,
            column,
            cover,
            images,
        } => {
            let mut cited = Vec::new();
            let mut payload = json!({"title": title, "body": body});
            if let Some(column) = column {
                payload["column"] = json!(column);
            }
            if let Some(cover) = cover {
                let sha = attach(device, &cover)?;
                payload["cover"] = json!(sha);
                cited.push(sha);
            }
            let images = images
                .iter()
                .map(|p| attach(device, p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if !images.is_empty() {
                payload["images"] = json!(images);
                cited.extend(images);
            }
            cited.sort();
            cited.dedup();
            let id = Device::new_entity_id();
            capture(device, "article", "article.save", &id, payload, cited, None)?;
            say!("send it for review with `anjian article submit {id}`");
        }
        ArticleCommand::Submit { id } => {
            capture(
                device,
                "submission of article",
                "article.submit",
                &id,
                json!({}),
                vec![],
                None,
            )?;
        }
        ArticleCommand::Review {
            id,
            publish,
            reject,
            note,
        } => {
            let decision = match (publish, reject) {
                (true, _) => "publish",
                (_, true) => "reject",
                _ => bail!("say --publish or --reject (with --note)"),
            };
            let mut payload = json!({"decision": decision});
            if let Some(note) = note {
                payload["note"] = json!(note);
            }
            capture(
                device,
                "review of article",
                "article.review",
                &id,
                payload,
                vec![],
                None,
            )?;
        }
    }
    Ok(())
}
