//! `anjian inspect`: an inspection (检查) against a pinned checklist, from flags, a file or an
//! interview on standard input.

use std::collections::BTreeMap;
use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};

use anjian_sync::client::Device;
use anjian_sync::entity::{Entity, EntityType};
use anyhow::{anyhow, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::capture::{attach, capture, known_enterprise, now_ms, read_record};
use crate::out;

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The whole inspection as a JSON or TOML file (the `inspection.submit` payload). Photo
    /// members may name files, which are attached.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Enterprise id.
    #[arg(long)]
    enterprise: Option<String>,
    /// The checklist, `code@version` [default: the newest small-enterprise checklist].
    #[arg(long)]
    template: Option<String>,
    /// self_check, grid_patrol, enforcement, special_campaign or recheck.
    #[arg(long, default_value = "grid_patrol")]
    kind: String,
    /// An inspector: `name` or `name:certificate`; repeat.
    #[arg(long = "inspector")]
    inspectors: Vec<String>,
    /// An item's result: `CODE=ok`, `CODE=na` or `CODE=hazard:note`; repeat.
    #[arg(long = "result")]
    results: Vec<String>,
    /// A photo for an item: `CODE=path`; repeat.
    #[arg(long = "item-photo")]
    item_photos: Vec<String>,
    /// Go through the checklist item by item, answering on standard input.
    #[arg(long)]
    interactive: bool,
    /// The conclusion (检查结论).
    #[arg(long)]
    summary: Option<String>,
    /// A photo of the enterprise's signature.
    #[arg(long)]
    signature: Option<PathBuf>,
    /// Why there is no signature (拒签说明).
    #[arg(long)]
    refusal_note: Option<String>,
    /// For a team's self-check (班组自查, --kind self_check): the team's code.
    #[arg(long)]
    team: Option<String>,
}

/// The checklist to use: `code@version`, or the newest `small-enterprise` one this device holds.
pub(crate) fn template(
    device: &Device,
    wanted: Option<&str>,
) -> anyhow::Result<(String, u64, Entity)> {
    let templates = device.entities(EntityType::Template)?;
    let (code, version) = match wanted {
        Some(text) => {
            let (code, version) = text
                .split_once('@')
                .ok_or_else(|| anyhow!("--template is code@version, e.g. small-enterprise@1"))?;
            (code.to_string(), Some(version.parse::<u64>()?))
        }
        None => ("small-enterprise".to_string(), None),
    };
    templates
        .into_iter()
        .filter(|t| t.body["code"] == code.as_str())
        .filter(|t| version.is_none_or(|v| t.body["version"].as_u64() == Some(v)))
        .max_by_key(|t| t.body["version"].as_u64())
        .map(|t| {
            let version = t.body["version"].as_u64().unwrap_or(0);
            (code.clone(), version, t)
        })
        .ok_or_else(|| {
            anyhow!(
                "this device does not hold checklist {code}: run `anjian sync` once with signal"
            )
        })
}

pub(crate) fn inspect(device: &Device, args: InspectArgs) -> anyhow::Result<()> {
    let mut record = match &args.file {
        Some(path) => read_record(path)?,
        None => json!({}),
    };
    let wanted = args.template.clone().or_else(|| {
        let code = record["template"].as_str()?;
        Some(format!("{code}@{}", record["template_version"].as_u64()?))
    });
    let (code, version, checklist) = template(device, wanted.as_deref())?;
    if let Some(enterprise) = args
        .enterprise
        .as_deref()
        .or_else(|| record["enterprise_id"].as_str())
    {
        known_enterprise(device, enterprise)?;
    }
    let object = record
        .as_object_mut()
        .ok_or_else(|| anyhow!("the inspection file must hold an object"))?;
    let now = now_ms();
    object.insert("template".into(), json!(code));
    object.insert("template_version".into(), json!(version));
    if let Some(enterprise) = &args.enterprise {
        object.insert("enterprise_id".into(), json!(enterprise));
    }
    object.entry("kind").or_insert(json!(args.kind));
    object
        .entry("started_at_ms")
        .or_insert(json!(now - 30 * 60_000));
    object.entry("ended_at_ms").or_insert(json!(now));
    if !args.inspectors.is_empty() {
        let inspectors: Vec<Value> = args
            .inspectors
            .iter()
            .map(|i| match i.split_once(':') {
                Some((name, certificate)) => json!({"name": name, "certificate": certificate}),
                None => json!({"name": i}),
            })
            .collect();
        object.insert("inspectors".into(), json!(inspectors));
    }
    if let Some(summary) = &args.summary {
        object.insert("summary".into(), json!(summary));
    }
    if let Some(note) = &args.refusal_note {
        object.insert("refusal_note".into(), json!(note));
    }
    if let Some(team) = &args.team {
        object.insert("team_id".into(), json!(team));
    }
    let mut results: BTreeMap<String, Value> = BTreeMap::new();
    for result in object
        .get("results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        if let Some(item) = result["item"].as_str() {
            results.insert(item.to_string(), result.clone());
        }
    }
    for text in &args.results {
        let (item, verdict) = text
            .split_once('=')
            .ok_or_else(|| anyhow!("--result is CODE=ok, CODE=na or CODE=hazard:note"))?;
        results.insert(item.to_string(), result_of(item, verdict)?);
    }
    if args.interactive {
        interview(&checklist, &mut results)?;
    }
    for text in &args.item_photos {
        let (item, path) = text
            .split_once('=')
            .ok_or_else(|| anyhow!("--item-photo is CODE=path"))?;
        let result = results
            .get_mut(item)
            .ok_or_else(|| anyhow!("--item-photo names {item}, which has no --result"))?;
        result["photos"]
            .as_array_mut()
            .ok_or_else(|| anyhow!("the result of {item} has no photo list"))?
            .push(json!(path));
    }
    // Photo members may name files: attach them and cite their hashes.
    let mut cited = Vec::new();
    for result in results.values_mut() {
        if let Some(photos) = result["photos"].as_array_mut() {
            for photo in photos.iter_mut() {
                *photo = json!(cite(device, photo, &mut cited)?);
            }
        }
    }
    object.insert(
        "results".into(),
        json!(results.into_values().collect::<Vec<_>>()),
    );
    if let Some(signature) = &args.signature {
        object.insert("signature".into(), json!(signature));
    }
    if let Some(signature) = object.get("signature").cloned() {
        object.insert(
            "signature".into(),
            json!(cite(device, &signature, &mut cited)?),
        );
    }
    // What an inspection must hold is the judgement's to say (`capture` passes its reason on).
    let id = Device::new_entity_id();
    let pinned = format!("{code}@{version}");
    capture(
        device,
        "inspection",
        "inspection.submit",
        &id,
        record,
        cited,
        Some(&pinned),
    )
}

/// A photo member: a sha256 already, or a file to attach.
pub(crate) fn cite(
    device: &Device,
    value: &Value,
    cited: &mut Vec<String>,
) -> anyhow::Result<String> {
    let text = value
        .as_str()
        .ok_or_else(|| anyhow!("a photo must be a file path or a sha256"))?;
    let sha = if anjian_sync::event::is_sha256_hex(text) && !Path::new(text).exists() {
        text.to_string()
    } else {
        attach(device, Path::new(text))?
    };
    if !cited.contains(&sha) {
        cited.push(sha.clone());
    }
    Ok(sha)
}

pub(crate) fn result_of(item: &str, verdict: &str) -> anyhow::Result<Value> {
    let (verdict, note) = verdict.split_once(':').unwrap_or((verdict, ""));
    let verdict = match verdict {
        "ok" | "o" => "ok",
        "na" | "n" | "not_applicable" => "not_applicable",
        "hazard" | "h" => "hazard",
        other => bail!(
            "{item}: `{other}` is not an answer: Enter or o (ok), n (not applicable), h <note> (hazard)"
        ),
    };
    let mut result = json!({"item": item, "verdict": verdict, "photos": []});
    if !note.is_empty() {
        result["note"] = json!(note);
    }
    Ok(result)
}

/// Asks for each item of the checklist on standard input: Enter or `o` for ok, `n` for not
/// applicable, `h note` for a finding (`h note @photo.jpg` attaches a photo).
pub(crate) fn interview(
    checklist: &Entity,
    results: &mut BTreeMap<String, Value>,
) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let sections = checklist.body["sections"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    say!("answer each item: Enter or o = ok, n = not applicable, h <note> [@photo] = hazard");
    for section in sections {
        say!("== {}", section["title"].as_str().unwrap_or(""));
        for item in section["items"].as_array().cloned().unwrap_or_default() {
            let code = item["code"].as_str().unwrap_or("").to_string();
            if results.contains_key(&code) {
                continue;
            }
            // A wrong answer is asked again (a few times); input that ends records nothing.
            let mut answered = None;
            for _ in 0..5 {
                print!("{code} {}: ", item["text"].as_str().unwrap_or(""));
                std::io::stdout().flush()?;
                let Some(line) = lines.next().transpose()? else {
                    bail!("\nthe answers ended at item {code}; nothing was recorded");
                };
                match answer(&code, line.trim()) {
                    Ok(result) => {
                        answered = Some(result);
                        break;
                    }
                    Err(err) => eprintln!("\n{err:#}; answer again"),
                }
            }
            let result = answered
                .ok_or_else(|| anyhow!("no usable answer for item {code}; nothing was recorded"))?;
            results.insert(code, result);
        }
    }
    Ok(())
}

/// One answer of the interview: ``, `o`, `n`, or `h <note>` with an optional ` @<photo file>`.
pub(crate) fn answer(code: &str, line: &str) -> anyhow::Result<Value> {
    let (answer, photo) = match line.rsplit_once(" @") {
        Some((answer, photo)) => (answer.trim(), Some(photo.trim().to_string())),
        None => (line, None),
    };
    let verdict = match answer.split_once(' ') {
        Some((v, note)) => format!("{v}:{note}"),
        None if answer.is_empty() => "ok".to_string(),
        None => answer.to_string(),
    };
    let mut result = result_of(code, &verdict)?;
    if let Some(photo) = photo {
        if !Path::new(&photo).is_file() {
            bail!("there is no photo file {photo}");
        }
        result["photos"] = json!([photo]);
    }
    Ok(result)
}
