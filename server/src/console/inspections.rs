//! Inspection records (检查记录): the office's list with its exports, and an inspection's page,
//! which prints on A4 as the 现场检查记录 — the checklist as it was pinned, every result with its
//! note and photos, the conclusion, the officers, the enterprise's signature photo or its refusal
//! note, the corrections made since, and the hazards the inspection raised.

use anjian_sync::entity::EntityType;
use anjian_sync::kinds::hazard::Hazard;
use anjian_sync::kinds::inspection::{
    InspectionKind, InspectionRecord, ItemVerdict, Template, template_id,
};
use anjian_sync::protocol::Projection;
use askama::Template as _;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::exports::{Sheet, csv_download, xlsx_download};
use super::hazards::state_name;
use super::names::Names;
use super::pages::{Frame, People, beijing_time, failed, message, signed_in};
use super::{State, html};
use crate::service::accounts::Caller;
use crate::service::office::{HazardFilter, InspectionFilter, Office};

/// An inspection's kind in Chinese.
fn kind_name(kind: InspectionKind) -> &'static str {
    match kind {
        InspectionKind::SelfCheck => "企业自查",
        InspectionKind::GridPatrol => "网格巡查",
        InspectionKind::Enforcement => "执法检查",
        InspectionKind::SpecialCampaign => "专项检查",
        InspectionKind::Recheck => "复查",
    }
}

const KINDS: [(&str, InspectionKind); 5] = [
    ("self_check", InspectionKind::SelfCheck),
    ("grid_patrol", InspectionKind::GridPatrol),
    ("enforcement", InspectionKind::Enforcement),
    ("special_campaign", InspectionKind::SpecialCampaign),
    ("recheck", InspectionKind::Recheck),
];

/// The list's filters, as the query carries them.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    enterprise: String,
    #[serde(default)]
    grid: String,
    /// First day, `YYYY-MM-DD` (China time), inclusive.
    #[serde(default)]
    from: String,
    /// Last day, inclusive.
    #[serde(default)]
    to: String,
    #[serde(default)]
    after: String,
}

/// The first millisecond of a day in China (UTC+8).
fn day_start_ms(date: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(date, &format).ok()?;
    let midnight = day
        .midnight()
        .assume_offset(time::UtcOffset::from_hms(8, 0, 0).ok()?);
    Some(midnight.unix_timestamp().saturating_mul(1000))
}

impl ListQuery {
    fn filter(&self) -> Result<InspectionFilter, (&'static str, String)> {
        let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let kind = some(&self.kind);
        if let Some(kind) = &kind {
            if !KINDS.iter().any(|(name, _)| name == kind) {
                return Err(("kind", format!("没有“{kind}”这类检查")));
            }
        }
        let day = |field: &'static str, value: &str, end: bool| match some(value) {
            None => Ok(None),
            Some(date) => day_start_ms(&date)
                .map(|ms| Some(if end { ms + 86_400_000 - 1 } else { ms }))
                .ok_or((field, format!("“{date}”不是 YYYY-MM-DD 格式的日期"))),
        };
        Ok(InspectionFilter {
            enterprise: some(&self.enterprise),
            kind,
            from_ms: day("from", &self.from, false)?,
            to_ms: day("to", &self.to, true)?,
            evidence_complete: None,
            grid: some(&self.grid),
        })
    }

    fn filters_query(&self) -> String {
        serde_urlencoded::to_string([
            ("kind", &self.kind),
            ("enterprise", &self.enterprise),
            ("grid", &self.grid),
            ("from", &self.from),
            ("to", &self.to),
        ])
        .unwrap_or_default()
    }
}

/// One inspection as the list shows it.
struct Row {
    id: String,
    enterprise: String,
    grid: String,
    kind: &'static str,
    started: String,
    inspectors: String,
    findings: usize,
    signed: &'static str,
    evidence_complete: bool,
}

impl Row {
    fn of(projection: &Projection, names: &Names) -> Option<(Row, InspectionRecord)> {
        let record = record_of(projection)?;
        let row = Row {
            id: projection.entity.id.clone(),
            enterprise: names.enterprise(&record.enterprise_id),
            // The grid the judgement settled on (the enterprise's) is the scope's.
            grid: names.grid(
                record
                    .grid_id
                    .as_deref()
                    .or(projection.entity.scope.grid.as_deref())
                    .unwrap_or_default(),
            ),
            kind: kind_name(record.kind),
            started: beijing_time(record.started_at_ms),
            inspectors: record
                .inspectors
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join("、"),
            findings: record
                .results
                .iter()
                .filter(|r| r.verdict == ItemVerdict::Hazard)
                .count(),
            signed: if record.signature.is_some() {
                "已签字"
            } else {
                "拒签"
            },
            evidence_complete: projection.missing_blobs.is_empty(),
        };
        Some((row, record))
    }
}

/// The inspection as submitted (with corrections applied), from its stored body.
fn record_of(projection: &Projection) -> Option<InspectionRecord> {
    let mut body = projection.entity.body.clone();
    if let Some(object) = body.as_object_mut() {
        for derived in ["content_hash", "amendments", "submitted_by"] {
            object.remove(derived);
        }
    }
    serde_json::from_value(body).ok()
}

#[derive(askama::Template)]
#[template(path = "console/inspections.html")]
struct ListPage<'a> {
    frame: Frame,
    query: &'a ListQuery,
    filters: String,
    kinds: Vec<(&'static str, &'static str)>,
    rows: Vec<Row>,
    next_after: Option<String>,
    error: Option<(&'static str, String)>,
}

/// The inspection records (检查记录) the caller reads, filtered, a page at a time.
#[handler]
pub async fn list(req: &Request, Data(state): Data<&State>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let query: ListQuery = req.params().unwrap_or_default();
    let mut page = ListPage {
        frame: Frame::of(&caller, &token),
        query: &query,
        filters: query.filters_query(),
        kinds: KINDS.iter().map(|(n, k)| (*n, kind_name(*k))).collect(),
        rows: Vec::new(),
        next_after: None,
        error: None,
    };
    let filter = match query.filter() {
        Ok(filter) => filter,
        Err(error) => {
            page.error = Some(error);
            return html(StatusCode::BAD_REQUEST, page.render());
        }
    };
    let names = match Names::load(state).await {
        Ok(names) => names,
        Err(err) => return failed(&err),
    };
    let after = Some(query.after.as_str()).filter(|a| !a.is_empty());
    let found = match Office::inspections(&state.sync, &caller, &filter, after, 100).await {
        Ok(found) => found,
        Err(err) => return failed(&err),
    };
    page.rows = found
        .items
        .iter()
        .filter_map(|p| Row::of(p, &names).map(|(row, _)| row))
        .collect();
    page.next_after = found.next_after;
    html(StatusCode::OK, page.render())
}

/// The list as a sheet.
async fn sheet(req: &Request, state: &State) -> Result<Sheet, Response> {
    let (caller, _) = signed_in(state, req).await?;
    let query: ListQuery = req.params().unwrap_or_default();
    let filter = query
        .filter()
        .map_err(|(_, text)| message(StatusCode::BAD_REQUEST, "筛选条件有误", &text))?;
    let names = Names::load(state).await.map_err(|err| failed(&err))?;
    let all = Office::all_inspections(&state.sync, &caller, &filter)
        .await
        .map_err(|err| failed(&err))?;
    if let Some(refusal) = super::exports::too_many(all.len()) {
        return Err(refusal);
    }
    let yes = |b: bool| if b { "是" } else { "否" }.to_string();
    let rows = all
        .iter()
        .filter_map(|p| Row::of(p, &names))
        .map(|(row, record)| {
            vec![
                row.id,
                row.enterprise,
                row.grid,
                row.kind.to_string(),
                row.started,
                row.inspectors,
                row.findings.to_string(),
                record.summary,
                row.signed.to_string(),
                yes(row.evidence_complete),
            ]
        })
        .collect();
    Ok(Sheet {
        name: "检查记录",
        counts: &[6],
        header: [
            "编号",
            "企业",
            "网格",
            "检查类型",
            "开始时间",
            "检查人员",
            "发现隐患",
            "检查结论",
            "企业签字",
            "证据完整",
        ]
        .iter()
        .map(|h| (*h).to_string())
        .collect(),
        rows,
    })
}

fn stem() -> String {
    format!(
        "检查记录-{}",
        anjian_sync::clock::china_date(crate::store::model::UnixMillis::now().0)
    )
}

/// The list as `.xlsx`.
#[handler]
pub async fn list_xlsx(req: &Request, Data(state): Data<&State>) -> Response {
    match sheet(req, state).await {
        Ok(sheet) => xlsx_download(&sheet, &stem()),
        Err(answer) => answer,
    }
}

/// The list as CSV.
#[handler]
pub async fn list_csv(req: &Request, Data(state): Data<&State>) -> Response {
    match sheet(req, state).await {
        Ok(sheet) => csv_download(&sheet, &stem()),
        Err(answer) => answer,
    }
}

/// One checklist item's result as the record prints it.
struct Item {
    code: String,
    text: String,
    verdict: &'static str,
    finding: bool,
    note: String,
    photos: Vec<String>,
}

/// A section of the checklist.
struct Section {
    title: String,
    items: Vec<Item>,
}

/// A correction (更正).
struct Amendment {
    by: String,
    reason: String,
    what: String,
}

/// A hazard the inspection raised.
struct Raised {
    id: String,
    description: String,
    state: &'static str,
    deadline: String,
}

#[derive(askama::Template)]
#[template(path = "console/inspection.html")]
struct RecordPage {
    frame: Frame,
    row: Row,
    address: String,
    ended: String,
    checklist: String,
    officers: Vec<(String, String)>,
    sections: Vec<Section>,
    summary: String,
    on_site_action: String,
    signature: Option<String>,
    refusal_note: String,
    amendments: Vec<Amendment>,
    raised: Vec<Raised>,
    content_hash: String,
}

async fn record_page(
    state: &State,
    caller: &Caller,
    token: &str,
    id: &str,
) -> Result<RecordPage, Response> {
    let found = Office::record(&state.sync, caller, EntityType::Inspection, id)
        .await
        .map_err(|err| failed(&err))?;
    let Some((projection, _)) = found else {
        return Err(message(
            StatusCode::NOT_FOUND,
            "检查记录不存在",
            "没有这条检查记录，或您无权查看（404）。",
        ));
    };
    let names = Names::load(state).await.map_err(|err| failed(&err))?;
    let (row, record) =
        Row::of(&projection, &names).ok_or_else(|| failed(&"unreadable inspection"))?;
    let template_entity = state
        .sync
        .entity(&template_id(&record.template, record.template_version))
        .await
        .map_err(|err| failed(&err))?;
    let template: Option<Template> =
        template_entity.and_then(|p| serde_json::from_value(p.entity.body).ok());
    let verdict = |v: ItemVerdict| match v {
        ItemVerdict::Ok => "符合",
        ItemVerdict::Hazard => "存在隐患",
        ItemVerdict::NotApplicable => "不适用",
    };
    let item = |code: &str, text: String| {
        let result = record.results.iter().find(|r| r.item == code);
        Item {
            code: code.to_string(),
            text,
            verdict: result.map_or("未检查", |r| verdict(r.verdict)),
            finding: result.is_some_and(|r| r.verdict == ItemVerdict::Hazard),
            note: result.and_then(|r| r.note.clone()).unwrap_or_default(),
            photos: result.map(|r| r.photos.clone()).unwrap_or_default(),
        }
    };
    let sections = match &template {
        Some(template) => template
            .sections
            .iter()
            .map(|s| Section {
                title: s.title.clone(),
                items: s
                    .items
                    .iter()
                    .map(|i| item(&i.code, i.text.clone()))
                    .collect(),
            })
            .collect(),
        // The checklist is missing (a store without it): the results as recorded.
        None => vec![Section {
            title: "检查结果".into(),
            items: record
                .results
                .iter()
                .map(|r| item(&r.item, r.item.clone()))
                .collect(),
        }],
    };
    let body = &projection.entity.body;
    let amendments: Vec<&serde_json::Value> = body["amendments"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let people = People::load(state, amendments.iter().filter_map(|a| a["by"].as_str())).await?;
    let amendments = amendments
        .iter()
        .map(|a| {
            let by = a["by"].as_str().unwrap_or_default();
            let mut what = Vec::new();
            if let Some(summary) = a["summary"].as_str() {
                what.push(format!("结论改为：{summary}"));
            }
            if let Some(action) = a["on_site_action"].as_str() {
                what.push(format!("现场处理措施改为：{action}"));
            }
            Amendment {
                by: people.name(by),
                reason: a["reason"].as_str().unwrap_or_default().to_string(),
                what: what.join("；"),
            }
        })
        .collect();
    let found_here = HazardFilter {
        inspection: Some(id.to_string()),
        ..HazardFilter::default()
    };
    let hazards = Office::all_hazards(&state.sync, caller, &found_here)
        .await
        .map_err(|err| failed(&err))?;
    let raised = hazards
        .iter()
        .filter_map(|p| {
            let hazard: Hazard = serde_json::from_value(p.entity.body.clone()).ok()?;
            Some(Raised {
                id: p.entity.id.clone(),
                description: hazard.report.description,
                state: state_name(hazard.state),
                deadline: hazard.report.deadline.unwrap_or_default(),
            })
        })
        .collect();
    let address = state
        .sync
        .entity(&record.enterprise_id)
        .await
        .map_err(|err| failed(&err))?
        .and_then(|p| p.entity.body["address"].as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(RecordPage {
        frame: Frame::of(caller, token),
        address,
        ended: beijing_time(record.ended_at_ms),
        checklist: match &template {
            Some(t) => format!("{}（第 {} 版）", t.title, t.version),
            None => format!("{}@{}", record.template, record.template_version),
        },
        officers: record
            .inspectors
            .iter()
            .map(|i| (i.name.clone(), i.certificate.clone().unwrap_or_default()))
            .collect(),
        sections,
        summary: record.summary.clone(),
        on_site_action: record.on_site_action.clone().unwrap_or_default(),
        signature: record.signature.clone(),
        refusal_note: record.refusal_note.clone().unwrap_or_default(),
        amendments,
        raised,
        content_hash: body["content_hash"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        row,
    })
}

/// An inspection's page: the 现场检查记录, printable on A4.
#[handler]
pub async fn show(req: &Request, Data(state): Data<&State>, Path(id): Path<String>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    match record_page(state, &caller, &token, &id).await {
        Ok(page) => html(StatusCode::OK, page.render()),
        Err(answer) => answer,
    }
}
