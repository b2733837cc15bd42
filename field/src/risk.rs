//! `anjian risk`: an enterprise's risk points (风险点), graded and re-graded from a file, and
//! retired.

use std::path::PathBuf;

use anjian_sync::client::Device;
use anjian_sync::entity::EntityType;
use anyhow::{anyhow, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::capture::{capture, known_enterprise, read_record};

#[derive(Debug, Subcommand)]
pub(crate) enum RiskCommand {
    /// Grade a risk point from a JSON or TOML file (the `risk.assess` payload), or re-grade one
    /// with `--id`: the file then names the new assessment whole, and `supersedes` is taken
    /// from the version this device holds unless the file gives it. For example:
    /// `enterprise_id = "ID"`, `name = "烘干炉"`, `place = "烘干车间"`, `posts = ["烘干工"]`,
    /// `accident_types = ["scald", "fire"]`, `hazards = "炉体高温"`,
    /// `assessment = { method = "ls", l = 3, s = 4 }`, and `[[measures]]` tables with
    /// `text = "…"` and `owner = "company" | "workshop" | "team" | "post"`.
    Assess {
        /// The file.
        #[arg(long)]
        file: PathBuf,
        /// The risk point to re-grade (`anjian list --type risk`).
        #[arg(long)]
        id: Option<String>,
    },
    /// Publish the enterprise's floor plan (平面布置图), on which risk points are placed
    /// (`plan_point`): a new version of it when there is one.
    Plan {
        /// Enterprise id.
        #[arg(long)]
        enterprise: String,
        /// The plan's image (JPEG, PNG or WebP).
        #[arg(long)]
        image: PathBuf,
        /// What it shows.
        #[arg(long, default_value = "厂区平面布置图")]
        title: String,
    },
    /// Take a risk point out of use (the equipment is gone); it stays on record.
    Retire {
        /// The risk point's id.
        id: String,
        /// Why.
        #[arg(long)]
        note: String,
    },
}

pub(crate) fn risk(device: &Device, command: RiskCommand) -> anyhow::Result<()> {
    match command {
        RiskCommand::Assess { file, id } => {
            let mut record = read_record(&file)?;
            let object = record
                .as_object_mut()
                .ok_or_else(|| anyhow!("the risk point file must hold an object"))?;
            let id = match id {
                Some(id) => {
                    let Some(current) = device.entity(&id)? else {
                        bail!(
                            "this device holds no risk point {id}: `anjian list --type risk` \
                             shows them (`anjian sync` first if the list is old)"
                        );
                    };
                    if current.entity_type != EntityType::RiskPoint {
                        bail!("{id} is not a risk point");
                    }
                    let version = current.body["version"].clone();
                    object.entry("supersedes").or_insert(version);
                    id
                }
                None => {
                    object.entry("supersedes").or_insert(json!(0));
                    Device::new_entity_id()
                }
            };
            if let Some(enterprise) = object.get("enterprise_id").and_then(Value::as_str) {
                known_enterprise(device, enterprise)?;
            }
            capture(
                device,
                "risk point",
                "risk.assess",
                &id,
                record,
                Vec::new(),
                None,
            )
        }
        RiskCommand::Plan {
            enterprise,
            image,
            title,
        } => {
            known_enterprise(device, &enterprise)?;
            let id = anjian_sync::kinds::floorplan::floorplan_id(&enterprise);
            let held = device
                .entity(&id)?
                .and_then(|p| p.body["version"].as_u64())
                .unwrap_or(0);
            let sha = crate::capture::attach(device, &image)?;
            capture(
                device,
                "floor plan",
                "floorplan.save",
                &id,
                json!({"enterprise_id": enterprise, "version": held.saturating_add(1),
                       "title": title, "image": sha}),
                vec![sha],
                None,
            )
        }
        RiskCommand::Retire { id, note } => capture(
            device,
            "risk point's retirement",
            "risk.retire",
            &id,
            json!({"note": note}),
            Vec::new(),
            None,
        ),
    }
}
