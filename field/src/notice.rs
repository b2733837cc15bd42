//! `anjian notice`: notices of major safety risks (重大安全风险公告), posted from a file and
//! taken down.

use std::path::PathBuf;

use anjian_sync::client::Device;
use anjian_sync::entity::EntityType;
use anyhow::{anyhow, bail};
use clap::Subcommand;
use serde_json::json;

use crate::capture::{capture, read_record};

#[derive(Debug, Subcommand)]
pub(crate) enum NoticeCommand {
    /// Post a notice from a JSON or TOML file (the `notice.publish` payload), or a new version
    /// of one with `--id` (`version` is one more than the version this device holds unless the
    /// file gives it). For example: `enterprise_id = "ID"`, `title = "液氨制冷系统重大安全风险公告"`,
    /// `risk_points = ["ID"]` (major ones, `anjian list --type risk`), `body = "…"`,
    /// `contact = "郑海波 139…"`, `public = true`.
    Publish {
        /// The file.
        #[arg(long)]
        file: PathBuf,
        /// The notice to publish a new version of (`anjian list --type notice`).
        #[arg(long)]
        id: Option<String>,
    },
    /// Take a notice down (the risk is gone); it stays on record.
    Withdraw {
        /// The notice's id.
        id: String,
        /// Why.
        #[arg(long)]
        note: String,
    },
}

pub(crate) fn notice(device: &Device, command: NoticeCommand) -> anyhow::Result<()> {
    match command {
        NoticeCommand::Publish { file, id } => {
            let mut record = read_record(&file)?;
            let object = record
                .as_object_mut()
                .ok_or_else(|| anyhow!("the notice file must hold an object"))?;
            let (id, held) = match id {
                Some(id) => match device.entity(&id)? {
                    Some(n) if n.entity_type == EntityType::Notice => {
                        let held = n.body["version"].as_u64().unwrap_or(0);
                        (id, held)
                    }
                    _ => bail!(
                        "this device holds no notice {id}: `anjian list --type notice` shows them"
                    ),
                },
                None => (Device::new_entity_id(), 0),
            };
            object
                .entry("version")
                .or_insert(json!(held.saturating_add(1)));
            capture(
                device,
                "notice",
                "notice.publish",
                &id,
                record,
                Vec::new(),
                None,
            )
        }
        NoticeCommand::Withdraw { id, note } => capture(
            device,
            "notice's withdrawal",
            "notice.withdraw",
            &id,
            json!({"note": note}),
            Vec::new(),
            None,
        ),
    }
}
