//! Recording what a person did: reading record files, attaching photos, and capturing only
//! what the judgement would apply, its reasons passed on as advice.

use std::path::Path;

use anjian_sync::client::{ClientError, Device};
use anjian_sync::entity::EntityType;
use anyhow::{Context, anyhow, bail};
use serde_json::Value;

use crate::out;

/// Reads a JSON or TOML file (by extension) into a JSON value.
pub(crate) fn read_record(path: &Path) -> anyhow::Result<Value> {
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

pub(crate) fn attach(device: &Device, path: &Path) -> anyhow::Result<String> {
    Ok(device.add_photo(path)?)
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Today in China (UTC+8), YYYY-MM-DD.
pub(crate) fn today() -> String {
    anjian_sync::clock::china_date(now_ms())
}

/// A team named by its id (as `anjian list --type team` shows it) or its code (`t1`): its code,
/// and its enterprise when this device holds the team (by code, when only one team it holds has
/// that code — a team lead's device holds their enterprise's teams alone).
pub(crate) fn team_named(
    device: &Device,
    team: String,
) -> anyhow::Result<(String, Option<String>)> {
    let parts = |t: &anjian_sync::entity::Entity| {
        (
            t.body["code"].as_str().unwrap_or_default().to_string(),
            t.body["enterprise_id"].as_str().map(str::to_string),
        )
    };
    if let Some(t) = device.entity(&team)?
        && t.entity_type == EntityType::Team
    {
        return Ok(parts(&t));
    }
    let teams = device.entities(EntityType::Team)?;
    let mut coded = teams.iter().filter(|t| t.body["code"] == team.as_str());
    Ok(match (coded.next(), coded.next()) {
        (Some(only), None) => parts(only),
        _ => (team, None),
    })
}

/// Checks that this device knows the enterprise (its id, as `anjian list --type enterprise`
/// shows it) before anything is asked or recorded.
pub(crate) fn known_enterprise(device: &Device, id: &str) -> anyhow::Result<()> {
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
pub(crate) fn capture(
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
pub(crate) fn refused(err: ClientError, what: &str) -> anyhow::Error {
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
