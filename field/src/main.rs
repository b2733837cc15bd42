//! `anjian`: the field client as a command. It acts as one device: its directory holds the
//! replica, the photos and the server's address. Capturing never needs the network; `anjian sync`
//! sends and fetches when there is signal.
//!
//! One module a command (or group of commands); `capture` holds what they share.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anjian_sync::client::{ClientError, Device, TransportError};
use anyhow::anyhow;
use clap::{Parser, Subcommand};

/// Prints a line to standard output; a closed output (`anjian list | head`) ends the program
/// quietly.
macro_rules! say {
    ($($arg:tt)*) => {
        out(format_args!($($arg)*))
    };
}

pub(crate) fn out(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{args}").is_err() {
        std::process::exit(0);
    }
}

/// The file in the device directory that holds the server's address.
pub(crate) const SERVER_FILE: &str = "server";

mod article;
mod briefing;
mod capture;
mod card;
mod commitment;
mod hazard;
mod inspect;
mod meeting;
mod notice;
mod records;
mod risk;
mod schedule;
mod session;

use article::ArticleCommand;
use hazard::HazardCommand;
use inspect::InspectArgs;
use meeting::MeetingArgs;
use records::ListArgs;
use session::LoginArgs;

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
    /// Record a worker's pre-shift one-minute briefing (岗前一分钟培训).
    Briefing(briefing::BriefingArgs),
    /// A post's three cards (三卡): publish them, read them offline.
    #[command(subcommand)]
    Card(card::CardCommand),
    /// Record the principal's yearly safety commitment (主体责任告知承诺).
    Commitment(commitment::CommitmentArgs),
    /// Notices of major safety risks (重大安全风险公告): post and take down.
    #[command(subcommand)]
    Notice(notice::NoticeCommand),
    /// Set a team's duty schedule (班组工作日历) from a day on.
    Schedule(schedule::ScheduleArgs),
    /// Risk points (风险点): grade, re-grade and retire them.
    #[command(subcommand)]
    Risk(risk::RiskCommand),
    /// Record an inspection (检查) with a checklist.
    Inspect(InspectArgs),
    /// Hazards (隐患): report and move them through rectification.
    #[command(subcommand)]
    Hazard(HazardCommand),
    /// Safety-awareness articles (宣传稿件).
    #[command(subcommand)]
    Article(ArticleCommand),
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
        Command::Login(args) => session::login(&dir, args).await,
        Command::Sync => session::sync(open(&dir)?).await,
        Command::Status => records::status(&open(&dir)?, &dir),
        Command::Dismiss { ids, all } => records::dismiss(&open(&dir)?, &dir, ids, all),
        Command::List(args) => records::list(&open(&dir)?, args),
        Command::Show { id } => records::show(&open(&dir)?, &id),
        Command::Receipts => records::receipts(&open(&dir)?),
        Command::Meeting(args) => meeting::meeting(&open(&dir)?, args),
        Command::Briefing(args) => briefing::briefing(&open(&dir)?, args),
        Command::Risk(command) => risk::risk(&open(&dir)?, command),
        Command::Schedule(args) => schedule::schedule(&open(&dir)?, args),
        Command::Card(command) => card::card(&open(&dir)?, command),
        Command::Commitment(args) => commitment::commitment(&open(&dir)?, args),
        Command::Notice(command) => notice::notice(&open(&dir)?, command),
        Command::Inspect(args) => inspect::inspect(&open(&dir)?, args),
        Command::Hazard(command) => hazard::hazard(&open(&dir)?, command),
        Command::Article(command) => article::article(&open(&dir)?, command),
    }
}
