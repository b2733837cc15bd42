//! `anjian hazard`: reporting a hazard (隐患) and moving it through its lifecycle.

use std::path::PathBuf;

use anjian_sync::client::Device;
use anjian_sync::entity::Entity;
use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::capture::{attach, capture, known_enterprise, refused};
use crate::out;

#[derive(Debug, Subcommand)]
pub(crate) enum HazardCommand {
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
pub(crate) struct MoveArgs {
    /// The hazard's id.
    id: String,
    /// A note.
    #[arg(long)]
    note: Option<String>,
    /// A photo; repeat.
    #[arg(long = "photo")]
    photos: Vec<PathBuf>,
}

pub(crate) fn hazard(device: &Device, command: HazardCommand) -> anyhow::Result<()> {
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
pub(crate) fn move_hazard(device: &Device, args: MoveArgs, to: &str) -> anyhow::Result<()> {
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
pub(crate) fn next_moves(hazard: &Entity) -> String {
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
