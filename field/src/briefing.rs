//! `anjian briefing`: a worker's pre-shift one-minute briefing (岗前一分钟培训).

use std::path::PathBuf;

use anjian_sync::client::Device;
use anjian_sync::entity::EntityType;
use anjian_sync::kinds::briefing::briefing_id;
use anjian_sync::kinds::meeting::{Slot, meeting_id};
use anyhow::{Context, anyhow, bail};
use clap::Args;
use serde_json::json;

use crate::capture::{attach, capture, now_ms, team_named, today};

#[derive(Debug, Args)]
pub(crate) struct BriefingArgs {
    /// The team's code (e.g. t1), or its id, as `anjian list --type team` shows.
    #[arg(long)]
    team: String,
    /// Enterprise id [default: the team's, when this device holds the team].
    #[arg(long)]
    enterprise: Option<String>,
    /// The worker: their id, or their name on the enterprise's roster (`anjian list --type
    /// worker`).
    #[arg(long)]
    worker: String,
    /// The post (岗位) they take [default: their post on the roster].
    #[arg(long)]
    post: Option<String>,
    /// The version of the post's risk-notice card (风险告知卡) read, where it has one.
    #[arg(long)]
    card_version: Option<u32>,
    /// A point covered; at least one; repeat.
    #[arg(long = "point")]
    points: Vec<String>,
    /// How long it took, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u32,
    /// The working day, YYYY-MM-DD [default: today].
    #[arg(long)]
    date: Option<String>,
    /// The shift's name (早班, 夜班 …).
    #[arg(long, default_value = "早班")]
    shift: String,
    /// Held with that shift's meeting: pre_shift (班前会), mid_shift or handover.
    #[arg(long)]
    meeting: Option<String>,
    /// A photo; repeat.
    #[arg(long = "photo")]
    photos: Vec<PathBuf>,
}

pub(crate) fn briefing(device: &Device, args: BriefingArgs) -> anyhow::Result<()> {
    let (team, team_enterprise) = team_named(device, args.team)?;
    let enterprise = args.enterprise.or(team_enterprise).ok_or_else(|| {
        anyhow!("this device does not hold team {team}: pass --enterprise too (or `anjian sync`)")
    })?;
    // The worker by id, or by name on the enterprise's roster.
    let roster: Vec<_> = device
        .entities(EntityType::Worker)?
        .into_iter()
        .filter(|w| w.body["enterprise_id"] == enterprise.as_str())
        .collect();
    let named: Vec<_> = roster
        .iter()
        .filter(|w| w.id == args.worker || w.body["name"] == args.worker.as_str())
        .collect();
    let worker = match named.as_slice() {
        [one] => *one,
        [] => bail!(
            "enterprise {enterprise} has no worker {} on this device's roster: `anjian list --type \
             worker` shows them (`anjian sync` first if the list is old)",
            args.worker
        ),
        _ => bail!(
            "more than one worker is called {}: pass their id (`anjian list --type worker`)",
            args.worker
        ),
    };
    let worker_name = worker.body["name"].as_str().unwrap_or_default().to_string();
    let post = match args.post {
        Some(post) => post,
        None => worker.body["post"].as_str().unwrap_or_default().to_string(),
    };
    if args.points.is_empty() {
        bail!("name the points covered with --point (at least one; repeat)");
    }
    let date = args.date.unwrap_or_else(today);
    let shift = args.shift.trim().to_string();
    let mut payload = json!({
        "enterprise_id": enterprise, "team_id": team, "date": date, "shift": shift,
        "worker_id": worker.id, "worker_name": worker_name, "post": post,
        "points": args.points, "duration_s": args.seconds,
        "started_at_ms": now_ms() - i64::from(args.seconds) * 1000,
    });
    if let Some(version) = args.card_version {
        payload["card_version"] = json!(version);
    }
    if let Some(slot) = args.meeting {
        let slot: Slot = serde_json::from_value(json!(slot))
            .context("--meeting is pre_shift, mid_shift or handover")?;
        payload["meeting_id"] = json!(meeting_id(&enterprise, &team, &date, &shift, slot));
    }
    let id = briefing_id(&enterprise, &team, &date, &shift, &worker.id);
    let photos = args
        .photos
        .iter()
        .map(|p| attach(device, p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    capture(
        device,
        "briefing",
        "briefing.record",
        &id,
        payload,
        photos,
        None,
    )
}
