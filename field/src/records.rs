//! What the device holds, for a person: `anjian status`, `dismiss`, `list`, `show` and
//! `receipts`.

use std::collections::BTreeMap;
use std::path::Path;

use anjian_sync::client::{Device, PhotoState};
use anjian_sync::entity::{Entity, EntityType};
use anjian_sync::judge::Verdict;
use anyhow::{anyhow, bail};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use crate::capture::now_ms;
use crate::out;

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only records of this type.
    #[arg(long = "type", value_enum)]
    entity_type: Option<TypeArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum TypeArg {
    Hazard,
    Meeting,
    Briefing,
    Risk,
    Card,
    Commitment,
    Notice,
    Schedule,
    Plan,
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
            TypeArg::Briefing => EntityType::Briefing,
            TypeArg::Risk => EntityType::RiskPoint,
            TypeArg::Card => EntityType::Card,
            TypeArg::Commitment => EntityType::Commitment,
            TypeArg::Notice => EntityType::Notice,
            TypeArg::Schedule => EntityType::Schedule,
            TypeArg::Plan => EntityType::FloorPlan,
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

/// Roles by their protocol names (`enterprise_manager`).
pub(crate) fn roles(roles: &[anjian_sync::access::Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A size for a person.
pub(crate) fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1_000_000 => format!("{:.0} KB", b as f64 / 1e3),
        b => format!("{:.1} MB", b as f64 / 1e6),
    }
}

pub(crate) fn ago(ms: i64) -> String {
    let minutes = (now_ms() - ms) / 60_000;
    match minutes {
        m if m < 1 => "just now".into(),
        m if m < 120 => format!("{m} minutes ago"),
        m if m < 48 * 60 => format!("{} hours ago", m / 60),
        m => format!("{} days ago", m / (24 * 60)),
    }
}

/// The file in the device directory listing the sync issues a person has dealt with.
pub(crate) const DISMISSED_FILE: &str = "dismissed-issues";

pub(crate) fn dismissed(dir: &Path) -> anyhow::Result<Vec<String>> {
    match std::fs::read_to_string(dir.join(DISMISSED_FILE)) {
        Ok(text) => Ok(text.lines().map(str::to_string).collect()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(err.into()),
    }
}

pub(crate) fn dismiss(
    device: &Device,
    dir: &Path,
    ids: Vec<String>,
    all: bool,
) -> anyhow::Result<()> {
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

pub(crate) fn status(device: &Device, dir: &Path) -> anyhow::Result<()> {
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
    let issues = device.issues()?;
    let (handled, issues): (Vec<_>, Vec<_>) = issues
        .into_iter()
        .partition(|issue| anjian_sync::kinds::issue::is_handled(&issue.entity));
    let (done, open): (Vec<_>, Vec<_>) = issues
        .into_iter()
        .partition(|issue| dismissed.contains(&issue.entity.id));
    say!(
        "conflicts and quarantined: {} to look at ({} handled by the office, {} dismissed)",
        open.len(),
        handled.len(),
        done.len()
    );
    for issue in &open {
        let body = &issue.entity.body;
        let code = body["reason"]["code"].as_str().unwrap_or("?");
        say!(
            "  {} {code} ({}): {} — {} of record {}\n    `anjian show {}` has the whole event; `anjian dismiss {}` once dealt with",
            body["verdict"].as_str().unwrap_or("?"),
            anjian_sync::reasons::words(code),
            body["reason"]["message"].as_str().unwrap_or(""),
            body["event"]["kind"].as_str().unwrap_or(""),
            body["about_entity"].as_str().unwrap_or("?"),
            issue.entity.id,
            issue.entity.id,
        );
    }
    for issue in &handled {
        let body = &issue.entity.body;
        say!(
            "  handled by the office (已处理): {} of record {}: {}",
            body["event"]["kind"].as_str().unwrap_or(""),
            body["about_entity"].as_str().unwrap_or("?"),
            body["handled"]["note"].as_str().unwrap_or(""),
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

pub(crate) fn summary(entity: &Entity) -> String {
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
        EntityType::Briefing => format!(
            "{} {} {} {} {} s",
            text("date"),
            text("shift"),
            text("worker_name"),
            text("post"),
            body["duration_s"]
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
        EntityType::RiskPoint => format!(
            "{} {} v{} {}{}",
            text("colour"),
            text("level"),
            body["version"],
            text("name"),
            if body["retired"].is_null() {
                ""
            } else {
                " (retired)"
            }
        ),
        EntityType::Card => format!("{} {} v{}", text("post"), text("card"), body["version"]),
        EntityType::Commitment => format!(
            "{} {} signed {}",
            text("year"),
            text("principal"),
            text("signed_on")
        ),
        EntityType::Notice => format!(
            "v{} {}{}{}",
            body["version"],
            text("title"),
            if body["public"] == true {
                " (public)"
            } else {
                ""
            },
            if body["withdrawn"].is_null() {
                ""
            } else {
                " (withdrawn)"
            }
        ),
        EntityType::Schedule => {
            let last = &body["versions"][body["versions"]
                .as_array()
                .map_or(0, |v| v.len().saturating_sub(1))];
            format!(
                "{} from {}: {} × {}",
                text("team_id"),
                last["from"].as_str().unwrap_or_default(),
                last["shifts"],
                last["slots"]
            )
        }
        EntityType::FloorPlan => format!("v{} {}", body["version"], text("title")),
        EntityType::Template => format!("{} {}@{}", text("title"), text("code"), body["version"]),
        _ => {
            let name = text("name");
            if name.is_empty() { text("title") } else { name }
        }
    }
}

pub(crate) fn list(device: &Device, args: ListArgs) -> anyhow::Result<()> {
    let types: Vec<EntityType> = match args.entity_type {
        Some(t) => vec![t.entity_type()],
        None => vec![
            EntityType::Hazard,
            EntityType::Inspection,
            EntityType::Meeting,
            EntityType::Briefing,
            EntityType::RiskPoint,
            EntityType::Card,
            EntityType::Commitment,
            EntityType::Notice,
            EntityType::Schedule,
            EntityType::FloorPlan,
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

pub(crate) fn show(device: &Device, id: &str) -> anyhow::Result<()> {
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

pub(crate) fn receipts(device: &Device) -> anyhow::Result<()> {
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
            r.hash.get(..16).unwrap_or(&r.hash)
        );
    }
    Ok(())
}
