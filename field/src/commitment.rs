//! `anjian commitment`: the principal's yearly safety commitment (主体责任告知承诺), with the
//! photo of the signed page.

use std::path::PathBuf;

use anjian_sync::client::Device;
use anjian_sync::kinds::commitment::commitment_id;
use anyhow::bail;
use clap::Args;
use serde_json::json;

use crate::capture::{attach, capture, known_enterprise, today};

#[derive(Debug, Args)]
pub(crate) struct CommitmentArgs {
    /// Enterprise id.
    #[arg(long)]
    enterprise: String,
    /// Who signed (主要负责人).
    #[arg(long)]
    principal: String,
    /// An undertaking (承诺事项); at least one; repeat.
    #[arg(long = "pledge")]
    pledges: Vec<String>,
    /// The photo of the signed page; at least one; repeat.
    #[arg(long = "photo")]
    photos: Vec<PathBuf>,
    /// The day it was signed, YYYY-MM-DD [default: today].
    #[arg(long)]
    signed_on: Option<String>,
    /// The year it is for [default: the year it was signed].
    #[arg(long)]
    year: Option<String>,
}

pub(crate) fn commitment(device: &Device, args: CommitmentArgs) -> anyhow::Result<()> {
    if args.pledges.is_empty() {
        bail!("name what the principal undertakes with --pledge (at least one; repeat)");
    }
    known_enterprise(device, &args.enterprise)?;
    let signed_on = args.signed_on.unwrap_or_else(today);
    let year = args
        .year
        .unwrap_or_else(|| signed_on.get(..4).unwrap_or_default().to_string());
    let photos = args
        .photos
        .iter()
        .map(|p| attach(device, p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let id = commitment_id(&args.enterprise, &year);
    capture(
        device,
        "commitment",
        "commitment.sign",
        &id,
        json!({"enterprise_id": args.enterprise, "year": year, "principal": args.principal,
               "pledges": args.pledges, "signed_on": signed_on}),
        photos,
        None,
    )
}
