//! `anjian meeting`: a shift safety meeting (班组安全交接会), from flags or a file.

use std::path::PathBuf;

use anjian_sync::client::Device;
use anyhow::{Context, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::capture::{attach, capture, known_enterprise, now_ms, read_record, team_named, today};

#[derive(Debug, Args)]
pub(crate) struct MeetingArgs {
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

pub(crate) fn meeting(device: &Device, args: MeetingArgs) -> anyhow::Result<()> {
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
    let team = args.team.map(|t| team_named(device, t)).transpose()?;
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
