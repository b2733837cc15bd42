//! `anjian card`: a post's three cards (三卡) — published from a file by the safety manager,
//! read offline by anyone of the enterprise.

use std::path::PathBuf;

use anjian_sync::client::Device;
use anjian_sync::entity::EntityType;
use anjian_sync::kinds::card::{Card, CardKind, card_id};
use anyhow::{Context, anyhow, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::capture::{capture, read_record};
use crate::out;

#[derive(Debug, Subcommand)]
pub(crate) enum CardCommand {
    /// Publish a card from a JSON or TOML file (the `card.publish` payload); `version` is one
    /// more than the version this device holds unless the file gives it. For example:
    /// `enterprise_id = "ID"`, `post = "烘干工"`, `card = "risk_notice" | "emergency" |
    /// "commitment"`, `risk_points = ["ID"]` (`anjian list --type risk`), `[[sections]]` tables
    /// with `heading = "危险因素"` and `items = ["…"]`, and `[[phones]]` with `name`, `number`.
    Publish {
        /// The file.
        #[arg(long)]
        file: PathBuf,
    },
    /// Show a post's card as this device holds it (offline).
    Show {
        /// The post (岗位).
        #[arg(long)]
        post: String,
        /// risk_notice (风险告知卡), emergency (应急处置卡) or commitment (安全承诺卡).
        #[arg(long, default_value = "risk_notice")]
        card: String,
        /// Enterprise id [default: the one enterprise whose cards this device holds].
        #[arg(long)]
        enterprise: Option<String>,
    },
}

fn kind_of(name: &str) -> anyhow::Result<CardKind> {
    serde_json::from_value(json!(name))
        .with_context(|| format!("{name} is not a card: risk_notice, emergency or commitment"))
}

pub(crate) fn card(device: &Device, command: CardCommand) -> anyhow::Result<()> {
    match command {
        CardCommand::Publish { file } => {
            let mut record = read_record(&file)?;
            let object = record
                .as_object_mut()
                .ok_or_else(|| anyhow!("the card file must hold an object"))?;
            let text = |key: &str| {
                object
                    .get(key)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| anyhow!("the card file names its `{key}`"))
            };
            let enterprise = text("enterprise_id")?;
            let post = text("post")?;
            let kind = kind_of(&text("card")?)?;
            let id = card_id(&enterprise, &post, kind);
            let held = device
                .entity(&id)?
                .and_then(|c| c.body["version"].as_u64())
                .unwrap_or(0);
            object
                .entry("version")
                .or_insert(json!(held.saturating_add(1)));
            capture(
                device,
                "card",
                "card.publish",
                &id,
                record,
                Vec::new(),
                None,
            )
        }
        CardCommand::Show {
            post,
            card,
            enterprise,
        } => {
            let kind = kind_of(&card)?;
            let cards = device.entities(EntityType::Card)?;
            let found = cards.iter().find(|c| {
                c.body["post"].as_str().map(str::trim) == Some(post.trim())
                    && c.body["card"] == kind.name()
                    && enterprise
                        .as_deref()
                        .is_none_or(|e| c.body["enterprise_id"] == e)
            });
            let Some(found) = found else {
                bail!(
                    "this device holds no {} for the post {post} (`anjian sync` first, or \
                     `anjian list --type card`)",
                    kind.title()
                );
            };
            let content = serde_json::from_value::<Card>(found.body.clone())?.content;
            say!(
                "{} · {} · 第 {} 版",
                kind.title(),
                content.post,
                content.version
            );
            for section in &content.sections {
                say!("\n{}", section.heading);
                for (i, item) in section.items.iter().enumerate() {
                    say!("  {}. {item}", i + 1);
                }
            }
            if !content.phones.is_empty() {
                say!("\n应急电话");
                for phone in &content.phones {
                    say!("  {} {}", phone.name, phone.number);
                }
            }
            Ok(())
        }
    }
}
