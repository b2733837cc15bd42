//! `anjian schedule`: a team's duty schedule (班组工作日历) — its shifts, meetings, rest days
//! and crew — from a day on.

use anjian_sync::client::Device;
use anjian_sync::kinds::schedule::schedule_id;
use anyhow::anyhow;
use clap::Args;
use serde_json::json;

use crate::capture::{capture, team_named, today};

#[derive(Debug, Args)]
pub(crate) struct ScheduleArgs {
    /// The team's code (e.g. t1), or its id.
    #[arg(long)]
    team: String,
    /// Enterprise id [default: the team's, when this device holds it].
    #[arg(long)]
    enterprise: Option<String>,
    /// The first day it is in effect, YYYY-MM-DD [default: today].
    #[arg(long)]
    from: Option<String>,
    /// A shift worked each working day (早班, 夜班 …); repeat.
    #[arg(long = "shift", default_values_t = vec!["早班".to_string()])]
    shifts: Vec<String>,
    /// A meeting each shift holds: pre_shift (班前会), mid_shift (班中会), handover (交接班会);
    /// repeat.
    #[arg(long = "slot", default_values_t = vec!["pre_shift".to_string()])]
    slots: Vec<String>,
    /// A weekday off, 1 (Monday) to 7 (Sunday); repeat.
    #[arg(long = "rest-weekday")]
    rest_weekdays: Vec<u8>,
    /// A day off (holiday, 停产检修), YYYY-MM-DD; repeat.
    #[arg(long = "rest-day")]
    rest_days: Vec<String>,
    /// Workers on each shift, each briefed before it (岗前一分钟).
    #[arg(long, default_value_t = 0)]
    crew: u32,
    /// A self-check the team owes: `day:CHECKLIST` (班组日检), `week:CHECKLIST` (车间周检) or
    /// `month:CHECKLIST` (企业月检); repeat.
    #[arg(long = "self-check")]
    self_checks: Vec<String>,
}

pub(crate) fn schedule(device: &Device, args: ScheduleArgs) -> anyhow::Result<()> {
    let (team, team_enterprise) = team_named(device, args.team)?;
    let enterprise = args.enterprise.or(team_enterprise).ok_or_else(|| {
        anyhow!("this device does not hold team {team}: pass --enterprise too (or `anjian sync`)")
    })?;
    let self_checks = args
        .self_checks
        .iter()
        .map(|s| {
            let (every, template) = s.split_once(':').ok_or_else(|| {
                anyhow!("--self-check is day:CHECKLIST, week:CHECKLIST or month:CHECKLIST")
            })?;
            Ok(json!({"every": every, "template": template}))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let id = schedule_id(&enterprise, &team);
    // The version this one follows: as many as the schedule this device holds has.
    let supersedes = device
        .entity(&id)?
        .and_then(|s| s.body["versions"].as_array().map(Vec::len))
        .unwrap_or(0);
    capture(
        device,
        "schedule",
        "schedule.save",
        &id,
        json!({"enterprise_id": enterprise, "team_id": team,
               "from": args.from.unwrap_or_else(today), "shifts": args.shifts,
               "slots": args.slots, "rest_weekdays": args.rest_weekdays,
               "rest_days": args.rest_days, "crew": args.crew, "self_checks": self_checks,
               "supersedes": supersedes}),
        Vec::new(),
        None,
    )
}
