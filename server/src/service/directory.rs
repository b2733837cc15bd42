//! The town's directory as the office keeps it: grids and enterprises, and the CSV import and
//! export of the town's enterprise lists (企业名录).
//!
//! Every change goes through [`SyncService::record_office_events`], so it is an event signed by
//! the office device and reaches the devices by pull.
//!
//! An *import* reads the columns 企业名称 (name), 统一社会信用代码 (credit code), 网格 / 村居
//! (grid: a grid's name or code), 行业 (industry), 规模 (scale: 规上 / 规下), 地址 (address),
//! 联系人 (contact person) and 联系电话 (phone), with Chinese or English headers, from UTF-8 (a BOM
//! is fine) or GBK. It is all or nothing: every bad row is reported with its line and reason and
//! nothing changes. A row whose credit code is already known updates that enterprise (its risk
//! colour, flags, location and other contacts stay); a row that would change nothing is counted
//! as unchanged, so importing the same file again changes nothing. The *export* writes the same
//! columns (UTF-8 with a BOM, which spreadsheet programs read as UTF-8), so an exported file
//! imports back unchanged. A cell that a spreadsheet would run as a formula (one starting with
//! `=`, `+`, `-`, `@`, a tab or a carriage return) is exported with a `'` before it, which
//! spreadsheets show as text; the import takes that `'` away again, and the stored value is
//! never changed.

use std::collections::HashMap;

use anjian_sync::access::Role;
use anjian_sync::credit_code::{CreditCodeCheck, check, normalise};
use anjian_sync::entity::{Entity, EntityType};
use anjian_sync::event::{Captured, EventBody, GENESIS_HASH};
use anjian_sync::judge::{Actor, Verdict, judge};
use anjian_sync::kinds::enterprise::{Contact, EnterpriseRecord, RiskFlags, Scale};
use anjian_sync::kinds::grid::{GridRecord, grid_id};
use anjian_sync::kinds::team::{TeamRecord, team_id};
use anjian_sync::protocol::Projection;
use uuid::Uuid;

use super::accounts::Caller;
use super::sync::{OfficeChange, Rejection, SyncError, SyncService};

/// The most rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 5000;

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Enterprises added.
    pub created: usize,
    /// Enterprises whose record changed.
    pub updated: usize,
    /// Rows that matched the record as it was.
    pub unchanged: usize,
    /// Rows taken with a warning (a credit code whose check character does not match).
    pub warnings: Vec<(u64, String)>,
}

/// Why an office change to the directory was refused before it was judged.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// It clashes with what exists: a stable code and a message.
    #[error("{1}")]
    Conflict(&'static str, String),
    /// It names something that does not exist.
    #[error("{1}")]
    Invalid(&'static str, String),
    /// The caller lacks a role, or storage failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

/// Why an import changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file or some rows are not acceptable: (line, reason) for each, line 0 for the file.
    #[error("the file was not imported; fix these and import it again: {}", list(.0))]
    Rows(Vec<(u64, String)>),
    /// The caller lacks a role, or storage failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

fn list(rows: &[(u64, String)]) -> String {
    let shown: Vec<String> = rows
        .iter()
        .take(50)
        .map(|(line, reason)| {
            if *line == 0 {
                reason.clone()
            } else {
                format!("line {line}: {reason}")
            }
        })
        .collect();
    let more = rows.len().saturating_sub(50);
    let tail = if more > 0 {
        format!("; and {more} more")
    } else {
        String::new()
    };
    format!("{}{tail}", shown.join("; "))
}

/// A column of the enterprise list: its field and the headers that name it.
const COLUMNS: [(&str, &[&str]); 8] = [
    ("name", &["企业名称", "名称", "name"]),
    (
        "credit_code",
        &["统一社会信用代码", "信用代码", "credit_code", "credit code"],
    ),
    (
        "grid",
        &[
            "网格",
            "村居",
            "网格/村居",
            "grid",
            "village",
            "grid/village",
        ],
    ),
    ("industry", &["行业", "industry"]),
    ("scale", &["规模", "scale"]),
    ("address", &["地址", "address"]),
    ("contact", &["联系人", "contact", "contact person"]),
    ("phone", &["联系电话", "电话", "phone"]),
];

/// Export headers, in column order.
const EXPORT_HEADERS: [&str; 8] = [
    "企业名称",
    "统一社会信用代码",
    "网格",
    "行业",
    "规模",
    "地址",
    "联系人",
    "联系电话",
];

/// An uploaded list's text (UTF-8, or GBK as Excel saves it in China), if it is text.
pub fn decoded(bytes: &[u8]) -> Option<String> {
    decode(bytes).ok()
}

fn decode(bytes: &[u8]) -> Result<String, ImportError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_string());
    }
    encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| text.into_owned())
        .ok_or_else(|| {
            ImportError::Rows(vec![(
                0,
                "文件既不是 UTF-8 也不是 GBK 编码的文本（the file is neither UTF-8 nor GBK text）"
                    .into(),
            )])
        })
}

fn parse_scale(text: &str) -> Option<Scale> {
    match text.trim() {
        "规上" | "规模以上" | "above" => Some(Scale::Above),
        "规下" | "规模以下" | "below" => Some(Scale::Below),
        _ => None,
    }
}

fn scale_name(scale: Scale) -> &'static str {
    match scale {
        Scale::Above => "规上",
        Scale::Below => "规下",
    }
}

/// The directory service.
#[derive(Debug)]
pub struct Directory;

impl Directory {
    /// Creates or renames a grid (admin). Grid names are unique, so an import can go by them.
    pub async fn save_grid(
        sync: &SyncService,
        caller: &Caller,
        record: GridRecord,
    ) -> Result<Result<Projection, Rejection>, DirectoryError> {
        require_admin(caller)?;
        let taken = sync
            .entities_of_type(EntityType::Grid)
            .await?
            .into_iter()
            .filter_map(|g| serde_json::from_value::<GridRecord>(g.entity.body).ok())
            .find(|g| g.name == record.name && g.code != record.code);
        if let Some(other) = taken {
            return Err(DirectoryError::Conflict(
                "grid-name-taken",
                format!(
                    "the grid `{}` already has the name {}; names must tell grids apart",
                    other.code, other.name
                ),
            ));
        }
        let id = Uuid::parse_str(&grid_id(&record.code)).map_err(|err| SyncError::Invalid {
            field: "code",
            message: err.to_string(),
        })?;
        let payload = serde_json::to_value(&record).map_err(|err| SyncError::Invalid {
            field: "grid",
            message: err.to_string(),
        })?;
        Ok(sync
            .record_office_event(caller, "grid.save", id, payload)
            .await?)
    }

    /// Registers (`create`) or replaces an enterprise's record (admin): its grid must exist, its
    /// credit code must not be another enterprise's, and a replaced enterprise must exist.
    pub async fn save_enterprise(
        sync: &SyncService,
        caller: &Caller,
        id: Uuid,
        record: EnterpriseRecord,
        create: bool,
    ) -> Result<Result<Projection, Rejection>, DirectoryError> {
        // Permission before existence: whether a grid, an enterprise or a credit code exists is
        // the office's to know.
        require_admin(caller)?;
        let grids = sync.entities_of_type(EntityType::Grid).await?;
        let grid_known = grids
            .iter()
            .filter_map(|g| serde_json::from_value::<GridRecord>(g.entity.body.clone()).ok())
            .any(|g| g.code == record.grid_id);
        if !grid_known {
            return Err(DirectoryError::Invalid(
                "unknown-grid",
                format!(
                    "no grid has the code `{}`; add it first (POST /v1/admin/grids)",
                    record.grid_id
                ),
            ));
        }
        let enterprises = sync.entities_of_type(EntityType::Enterprise).await?;
        let id_text = id.to_string();
        if !create && !enterprises.iter().any(|e| e.entity.id == id_text) {
            return Err(DirectoryError::NotFound("no enterprise has this id".into()));
        }
        if let Some(other) = enterprises.iter().find(|e| {
            e.entity.id != id_text && e.entity.body["credit_code"] == record.credit_code.as_str()
        }) {
            return Err(DirectoryError::Conflict(
                "credit-code-taken",
                format!(
                    "the credit code {} is already enterprise {}",
                    record.credit_code, other.entity.id
                ),
            ));
        }
        let payload = serde_json::to_value(&record).map_err(|err| SyncError::Invalid {
            field: "enterprise",
            message: err.to_string(),
        })?;
        Ok(sync
            .record_office_event(caller, "enterprise.save", id, payload)
            .await?)
    }

    /// Creates or changes a team (班组) and the meetings it holds (admin; an enterprise's safety
    /// manager sends `team.save` from a device).
    pub async fn save_team(
        sync: &SyncService,
        caller: &Caller,
        record: TeamRecord,
    ) -> Result<Result<Projection, Rejection>, SyncError> {
        require_admin(caller)?;
        let id = Uuid::parse_str(&team_id(&record.enterprise_id, &record.code)).map_err(|err| {
            SyncError::Invalid {
                field: "code",
                message: err.to_string(),
            }
        })?;
        let payload = serde_json::to_value(&record).map_err(|err| SyncError::Invalid {
            field: "team",
            message: err.to_string(),
        })?;
        sync.record_office_event(caller, "team.save", id, payload)
            .await
    }

    /// What the office holds that an import by `caller` (an admin) is read against.
    async fn import_context(
        sync: &SyncService,
        caller: &Caller,
    ) -> Result<ImportContext, ImportError> {
        require_admin(caller)?;
        Ok(ImportContext::new(
            &sync.entities_of_type(EntityType::Grid).await?,
            &sync.entities_of_type(EntityType::Enterprise).await?,
            Actor {
                user_id: caller.user.id.to_string(),
                grant: caller.user.grant.clone(),
            },
        ))
    }

    /// What importing an enterprise list would do — its report, or every bad row — without
    /// changing anything.
    pub async fn preview_import(
        sync: &SyncService,
        caller: &Caller,
        bytes: &[u8],
    ) -> Result<ImportReport, ImportError> {
        let context = Directory::import_context(sync, caller).await?;
        plan_import(bytes, &context).map(|(report, _)| report)
    }

    /// Imports an enterprise list: see the module docs.
    pub async fn import_enterprises(
        sync: &SyncService,
        caller: &Caller,
        bytes: &[u8],
    ) -> Result<ImportReport, ImportError> {
        let context = Directory::import_context(sync, caller).await?;
        let (report, changes) = plan_import(bytes, &context)?;
        if !changes.is_empty() {
            if let Err((index, rejection)) = sync.record_office_events(caller, changes).await? {
                return Err(ImportError::Rows(vec![(
                    0,
                    format!("change {index}: {}", rejection.reason.message),
                )]));
            }
        }
        Ok(report)
    }

    /// The enterprise list as CSV (UTF-8 with a BOM), in the columns an import reads.
    pub async fn export_enterprises(
        sync: &SyncService,
        caller: &Caller,
    ) -> Result<Vec<u8>, SyncError> {
        if !(caller.user.grant.has(Role::Admin) || caller.user.grant.has(Role::Leader)) {
            return Err(SyncError::Forbidden(Role::Admin));
        }
        let grid_names: HashMap<String, String> = sync
            .entities_of_type(EntityType::Grid)
            .await?
            .into_iter()
            .filter_map(|g| serde_json::from_value::<GridRecord>(g.entity.body).ok())
            .map(|g| (g.code, g.name))
            .collect();
        let mut rows = Vec::new();
        for enterprise in sync.entities_of_type(EntityType::Enterprise).await? {
            let Ok(r) =
                serde_json::from_value::<EnterpriseRecord>(strip_derived(&enterprise.entity.body))
            else {
                continue;
            };
            // The grid's name (its code when it has none): imports back to the same grid.
            let grid = grid_names
                .get(&r.grid_id)
                .cloned()
                .unwrap_or_else(|| r.grid_id.clone());
            let (contact, phone) = r
                .contacts
                .first()
                .map(|c| (c.name.clone(), c.phone.clone()))
                .unwrap_or_default();
            rows.push(vec![
                r.name,
                r.credit_code,
                grid,
                r.industry,
                scale_name(r.scale).to_string(),
                r.address,
                contact,
                phone,
            ]);
        }
        let out = spreadsheet_csv(&EXPORT_HEADERS, &rows).map_err(|err| SyncError::Invalid {
            field: "export",
            message: err.to_string(),
        })?;
        Ok(out)
    }
}

/// What the office holds that an import is read against: its grids (by name and by code), its
/// enterprises (by credit code), and the admin importing.
#[derive(Debug)]
pub struct ImportContext {
    grid_codes: HashMap<String, String>,
    known: HashMap<String, (String, EnterpriseRecord, Entity)>,
    actor: Actor,
}

impl ImportContext {
    /// The context of the grids and enterprises given, for `actor`.
    pub fn new(grids: &[Projection], enterprises: &[Projection], actor: Actor) -> ImportContext {
        let mut grid_codes: HashMap<String, String> = HashMap::new();
        for grid in grids {
            if let Ok(record) = serde_json::from_value::<GridRecord>(grid.entity.body.clone()) {
                grid_codes.insert(record.name.clone(), record.code.clone());
                grid_codes.insert(record.code.clone(), record.code);
            }
        }
        let mut known = HashMap::new();
        for enterprise in enterprises {
            if let Ok(record) =
                serde_json::from_value::<EnterpriseRecord>(strip_derived(&enterprise.entity.body))
            {
                known.insert(
                    record.credit_code.clone(),
                    (
                        enterprise.entity.id.clone(),
                        record,
                        enterprise.entity.clone(),
                    ),
                );
            }
        }
        ImportContext {
            grid_codes,
            known,
            actor,
        }
    }
}

/// Reads an enterprise list against `context` and decides, without changing anything, what
/// importing it does: the report and the office events to record, or every bad row. Pure: the
/// import runs it before recording, and the fuzzer runs it on anything.
pub fn plan_import(
    bytes: &[u8],
    context: &ImportContext,
) -> Result<(ImportReport, Vec<OfficeChange>), ImportError> {
    let text = decode(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|err| {
            ImportError::Rows(vec![(
                1,
                format!("表头无法读取（the header row cannot be read: {err}）"),
            )])
        })?
        .clone();
    let mut columns: HashMap<&str, usize> = HashMap::new();
    let mut missing = Vec::new();
    for (field, names) in COLUMNS {
        match headers
            .iter()
            .position(|h| names.iter().any(|n| n.eq_ignore_ascii_case(h)))
        {
            Some(index) => {
                columns.insert(field, index);
            }
            None => missing.push(format!(
                "缺少“{0}”列（the column {0} ({field}) is missing）",
                names[0]
            )),
        }
    }
    if !missing.is_empty() {
        return Err(ImportError::Rows(
            missing.into_iter().map(|m| (1, m)).collect(),
        ));
    }

    let mut errors = Vec::new();
    let mut report = ImportReport::default();
    let mut changes = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (index, row) in reader.records().enumerate() {
        if index >= MAX_IMPORT_ROWS {
            errors.push((
                0,
                format!(
                    "一次最多导入 {MAX_IMPORT_ROWS} 行，请拆分文件（at most {MAX_IMPORT_ROWS} rows can be imported at once; split the file）"
                ),
            ));
            break;
        }
        let row = match row {
            Ok(row) => row,
            Err(err) => {
                let line = err.position().map_or(0, |p| p.line());
                errors.push((
                    line,
                    format!("此行无法读取（the row cannot be read: {err}）"),
                ));
                continue;
            }
        };
        let line = row.position().map_or(0, |p| p.line());
        if row.iter().all(|cell| cell.trim().is_empty()) {
            continue; // A blank row (spreadsheets save them as `,,,,`).
        }
        if row.len() < headers.len() {
            errors.push((
                line,
                format!(
                    "此行有 {0} 个单元格，表头有 {1} 个（the row has {0} cells, the header {1}）",
                    row.len(),
                    headers.len()
                ),
            ));
            continue;
        }
        let cell = |field: &str| {
            let raw = row.get(columns[field]).unwrap_or("").trim();
            imported_cell(raw).to_string()
        };
        if cell("contact").is_empty() && !cell("phone").is_empty() {
            errors.push((
                line,
                "填了联系电话但没有联系人（联系电话 is given without 联系人, the contact person）"
                    .to_string(),
            ));
            continue;
        }
        let code = normalise(&cell("credit_code"));
        if let Some(first) = seen.insert(code.clone(), line) {
            errors.push((
                line,
                format!(
                    "统一社会信用代码 {code} 与第 {first} 行重复（the credit code {code} is also on line {first}）"
                ),
            ));
            continue;
        }
        let grid_text = cell("grid");
        let Some(grid) = context.grid_codes.get(&grid_text).cloned() else {
            errors.push((
                line,
                format!(
                    "没有名称或代码为“{grid_text}”的网格，请先添加该网格（no grid is named or coded `{grid_text}`; add it first: POST /v1/admin/grids）"
                ),
            ));
            continue;
        };
        let Some(scale) = parse_scale(&cell("scale")) else {
            errors.push((
                line,
                format!(
                    "企业规模“{0}”应为“规上”或“规下”（the scale `{0}` is not 规上 or 规下）",
                    cell("scale")
                ),
            ));
            continue;
        };

        let contact = Contact {
            name: cell("contact"),
            phone: cell("phone"),
            role: None,
        };
        let (id, record, existing) = match context.known.get(&code) {
            Some((id, old, entity)) => {
                let mut record = old.clone();
                record.name = cell("name");
                record.grid_id = grid.clone();
                record.industry = cell("industry");
                record.scale = scale;
                record.address = cell("address");
                if !contact.name.is_empty() {
                    let same = |c: &Contact| c.name == contact.name && c.phone == contact.phone;
                    if !record.contacts.first().is_some_and(same) {
                        record.contacts.retain(|c| !same(c));
                        record.contacts.insert(0, contact);
                    }
                }
                (id.clone(), record, Some((old.clone(), entity.clone())))
            }
            None => {
                let record = EnterpriseRecord {
                    name: cell("name"),
                    credit_code: code.clone(),
                    industry: cell("industry"),
                    scale,
                    grid_id: grid,
                    village: None,
                    address: cell("address"),
                    location: None,
                    contacts: if contact.name.is_empty() {
                        Vec::new()
                    } else {
                        vec![contact]
                    },
                    risk_colour: None,
                    risk_colour_reason: None,
                    flags: RiskFlags::default(),
                };
                (Uuid::now_v7().to_string(), record, None)
            }
        };
        if let Some((old, _)) = &existing {
            if *old == record {
                report.unchanged += 1;
                continue;
            }
        }
        // The shared rules decide, as they will when the change is made.
        let payload = match serde_json::to_value(&record) {
            Ok(payload) => payload,
            Err(err) => {
                errors.push((line, err.to_string()));
                continue;
            }
        };
        let trial = trial_event(&id, payload.clone());
        let related = anjian_sync::judge::Related::new();
        let judgement = judge(
            &trial,
            &context.actor,
            existing.as_ref().map(|(_, entity)| entity),
            &related,
        );
        if judgement.verdict != Verdict::Applied {
            let reason = judgement.reason.map_or_else(String::new, |r| {
                format!("{}（{}）", anjian_sync::reasons::words(&r.code), r.message)
            });
            errors.push((line, reason));
            continue;
        }
        if let Ok(CreditCodeCheck::CheckDigitMismatch { expected }) = check(&code) {
            report.warnings.push((
                line,
                format!(
                    "统一社会信用代码 {code} 校验位不符（应为 {expected}），已保留并标记（the credit code {code} fails its check, expected check character {expected}; kept, flagged）"
                ),
            ));
        }
        if existing.is_some() {
            report.updated += 1;
        } else {
            report.created += 1;
        }
        let entity_id = Uuid::parse_str(&id).map_err(|err| SyncError::Invalid {
            field: "id",
            message: err.to_string(),
        })?;
        changes.push(OfficeChange {
            kind: "enterprise.save",
            entity_id,
            payload,
            blob_refs: Vec::new(),
            template_ref: None,
        });
    }
    if !errors.is_empty() {
        return Err(ImportError::Rows(errors));
    }
    Ok((report, changes))
}

/// Refuses anyone but an admin.
fn require_admin(caller: &Caller) -> Result<(), SyncError> {
    super::sync::require(caller, Role::Admin)
}

/// Whether a spreadsheet would take a cell starting with `c` as a formula (CSV injection).
fn starts_formula(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// Whether a value is formula-like once any `'` before it is set aside: `=x`, `'=x`, `''=x`.
fn quoted_formula(value: &str) -> bool {
    value.trim_start_matches('\'').starts_with(starts_formula)
}

/// A value as an exported cell: one a spreadsheet would run as a formula gets a `'` before it,
/// so the spreadsheet shows it as text; so does one already so quoted (`'=x`), so that
/// importing the cell gives the value back.
pub fn exported_cell(value: &str) -> std::borrow::Cow<'_, str> {
    if quoted_formula(value) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// A table as CSV for a spreadsheet: a UTF-8 BOM (so Excel reads the Chinese), then the header
/// and the rows, every cell a spreadsheet would run as a formula neutralised
/// ([`exported_cell`]).
pub fn spreadsheet_csv<H: AsRef<str>, C: AsRef<str>>(
    header: &[H],
    rows: &[Vec<C>],
) -> Result<Vec<u8>, csv::Error> {
    let mut out = b"\xef\xbb\xbf".to_vec();
    {
        let mut writer = csv::Writer::from_writer(&mut out);
        let cells = |row: &mut dyn Iterator<Item = &str>| {
            row.map(|c| exported_cell(c).into_owned())
                .collect::<Vec<String>>()
        };
        writer.write_record(cells(&mut header.iter().map(AsRef::as_ref)))?;
        for row in rows {
            writer.write_record(cells(&mut row.iter().map(AsRef::as_ref)))?;
        }
        writer.flush()?;
    }
    Ok(out)
}

/// An imported cell's value: without the `'` [`exported_cell`] put before a formula-like one.
fn imported_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if quoted_formula(rest) => rest,
        _ => cell,
    }
}

/// An enterprise body without the members the judgement adds.
fn strip_derived(body: &serde_json::Value) -> serde_json::Value {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove("credit_code_warning");
    }
    body
}

/// An unsigned event to try a change against the shared rules before making it.
fn trial_event(entity_id: &str, payload: serde_json::Value) -> EventBody {
    EventBody {
        v: 1,
        device_id: Uuid::nil().to_string(),
        seq: 1,
        id: Uuid::nil().to_string(),
        prev_hash: GENESIS_HASH.into(),
        kind: "enterprise.save".into(),
        entity_id: entity_id.to_string(),
        payload,
        blob_refs: Vec::new(),
        template_ref: None,
        base_rev: None,
        captured: Captured {
            wall_ms: 0,
            tz_offset_min: 480,
        },
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{exported_cell, imported_cell, starts_formula};

    proptest! {
        /// An exported cell never starts a formula, and imports back as the value it was.
        #[test]
        fn a_cell_exported_imports_back_unchanged(value in "['=+@ a-z-]{0,6}") {
            let cell = exported_cell(&value);
            prop_assert!(!cell.starts_with(starts_formula));
            prop_assert_eq!(imported_cell(&cell), value.as_str());
        }
    }
}
