//! `anjian article`: safety-awareness articles (宣传稿件), written, submitted and reviewed.

use std::path::PathBuf;

use anjian_sync::client::Device;
use anyhow::bail;
use clap::Subcommand;
use serde_json::json;

use crate::capture::{attach, capture};
use crate::out;

#[derive(Debug, Subcommand)]
pub(crate) enum ArticleCommand {
    /// Write a new draft.
    New {
        /// Title.
        #[arg(long)]
        title: String,
        /// Text.
        #[arg(long)]
        body: String,
        /// safety365, seven_entries, warning or policy.
        #[arg(long)]
        column: Option<String>,
        /// The cover image.
        #[arg(long)]
        cover: Option<PathBuf>,
        /// An image; repeat.
        #[arg(long = "image")]
        images: Vec<PathBuf>,
    },
    /// Send a draft for review.
    Submit {
        /// The article's id.
        id: String,
    },
    /// Review an article: publish it, or reject it with a note.
    Review {
        /// The article's id.
        id: String,
        /// Publish it.
        #[arg(long, conflicts_with = "reject")]
        publish: bool,
        /// Send it back to its author.
        #[arg(long)]
        reject: bool,
        /// Why.
        #[arg(long)]
        note: Option<String>,
    },
}

pub(crate) fn article(device: &Device, command: ArticleCommand) -> anyhow::Result<()> {
    match command {
        ArticleCommand::New {
            title,
            body,
            column,
            cover,
            images,
        } => {
            let mut cited = Vec::new();
            let mut payload = json!({"title": title, "body": body});
            if let Some(column) = column {
                payload["column"] = json!(column);
            }
            if let Some(cover) = cover {
                let sha = attach(device, &cover)?;
                payload["cover"] = json!(sha);
                cited.push(sha);
            }
            let images = images
                .iter()
                .map(|p| attach(device, p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if !images.is_empty() {
                payload["images"] = json!(images);
                cited.extend(images);
            }
            cited.sort();
            cited.dedup();
            let id = Device::new_entity_id();
            capture(device, "article", "article.save", &id, payload, cited, None)?;
            say!("send it for review with `anjian article submit {id}`");
        }
        ArticleCommand::Submit { id } => {
            capture(
                device,
                "submission of article",
                "article.submit",
                &id,
                json!({}),
                vec![],
                None,
            )?;
        }
        ArticleCommand::Review {
            id,
            publish,
            reject,
            note,
        } => {
            let decision = match (publish, reject) {
                (true, _) => "publish",
                (_, true) => "reject",
                _ => bail!("say --publish or --reject (with --note)"),
            };
            let mut payload = json!({"decision": decision});
            if let Some(note) = note {
                payload["note"] = json!(note);
            }
            capture(
                device,
                "review of article",
                "article.review",
                &id,
                payload,
                vec![],
                None,
            )?;
        }
    }
    Ok(())
}
