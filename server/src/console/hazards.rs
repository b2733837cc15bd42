//! The hazard ledger (隐患台账): the office's filtered list with its exports, and a hazard's page
//! — its facts, its photos with their own EXIF time and place beside the times the events
//! claimed and the server received, its whole history as a timeline, and the office's actions
//! (deadline change, acceptance, rejection back, void), each an event signed by the office
//! device and judged by the same rules as a phone's.

use std::collections::HashMap;

use anjian_sync::access::Role;
use anjian_sync::entity::EntityType;
use anjian_sync::kinds::hazard::{Hazard, Level, State};
use anjian_sync::protocol::{JudgedEvent, Projection};
use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;

use super::acts::{answered, change, typed, with_note};
use super::exports::{Sheet, csv_download, xlsx_download};
use super::names::Names;
use super::pages::{Frame, People, failed, form_of, message, signed_in, wire_name};
use super::{State as AppStateRef, html, rendered};
use crate::service::accounts::Caller;
use crate::service::office::{HazardFilter, Office};

/// A hazard state in Chinese, as the office says it.
pub fn state_name(state: State) -> &'static str {
    match state {
        State::Reported => "已上报",
        State::PlanPending => "待制定整改方案",
        State::Rectifying => "整改中",
        State::PendingAcceptance => "待验收",
        State::Closed => "已销号",
        State::Void => "作废",
    }
}

/// Where a hazard came from, in Chinese.
pub fn source_name(source: anjian_sync::kinds::hazard::Source) -> &'static str {
    match source {
        anjian_sync::kinds::hazard::Source::Inspection => "检查发现",
        anjian_sync::kinds::hazard::Source::SelfCheck => "企业自查",
        anjian_sync::kinds::hazard::Source::Report => "举报",
    }
}

/// A hazard level in Chinese.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::General => "一般隐患",
        Level::Major => "重大隐患",
    }
}

/// Today in China, `YYYY-MM-DD`: the day deadlines are counted in.
fn today() -> String {
    anjian_sync::clock::china_date(crate::store::model::UnixMillis::now().0)
}

/// A `YYYY-MM` month filter, or the field and why it is not one.
pub fn month(field: &'static str, value: &str) -> Result<Option<String>, (&'static str, String)> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match time::Date::parse(&format!("{value}-01"), &format) {
        Ok(day) if value.len() == 7 && (2000..=2100).contains(&day.year()) => {
            Ok(Some(value.to_string()))
        }
        _ => Err((
            field,
            format!("“{value}”不是有效的月份：请按“年-月”填写，如 2026-12（2000 至 2100 年）"),
        )),
    }
}

/// The ledger's filters, as the query carries them (every one optional).
#[derive(Debug, Default, Deserialize)]
pub struct LedgerQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    level: String,
    /// `yes` (逾期) or `no`.
    #[serde(default)]
    overdue: String,
    #[serde(default)]
    grid: String,
    #[serde(default)]
    enterprise: String,
    /// `complete` or `incomplete`.
    #[serde(default)]
    evidence: String,
    /// Reported in this month, `YYYY-MM`.
    #[serde(default)]
    month: String,
    /// Closed (销号) in this month, `YYYY-MM`.
    #[serde(default)]
    closed: String,
    /// The last id of the previous page.
    #[serde(default)]
    after: String,
}

impl LedgerQuery {
    /// The service's filter, or the field that holds a value the ledger does not know and why.
    fn filter(&self) -> Result<HazardFilter, (&'static str, String)> {
        let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let state = some(&self.state);
        if let Some(state) = &state {
            if !State::ALL.iter().any(|s| wire_name(s) == *state) {
                return Err(("state", format!("没有“{state}”这个状态")));
            }
        }
        let level = some(&self.level);
        if let Some(level) = &level {
            if level != "general" && level != "major" {
                return Err(("level", format!("没有“{level}”这个级别")));
            }
        }
        let yes_no = |field: &'static str, value: &str, yes: &str, no: &str| match value {
            "" => Ok(None),
            v if v == yes => Ok(Some(true)),
            v if v == no => Ok(Some(false)),
            other => Err((field, format!("“{other}”不是可选的值"))),
        };
        Ok(HazardFilter {
            state,
            level,
            overdue: yes_no("overdue", &self.overdue, "yes", "no")?,
            today: today(),
            grid: some(&self.grid),
            enterprise: some(&self.enterprise),
            evidence_complete: yes_no("evidence", &self.evidence, "complete", "incomplete")?,
            month: month("month", &self.month)?,
            closed_month: month("closed", &self.closed)?,
            inspection: None,
        })
    }

    /// The query string of these filters (without `after`), for links.
    fn filters_query(&self) -> String {
        serde_urlencoded::to_string([
            ("state", &self.state),
            ("level", &self.level),
            ("overdue", &self.overdue),
            ("grid", &self.grid),
            ("enterprise", &self.enterprise),
            ("evidence", &self.evidence),
            ("month", &self.month),
            ("closed", &self.closed),
        ])
        .unwrap_or_default()
    }
}

/// One hazard as the ledger lists it.
struct Row {
    id: String,
    enterprise: String,
    grid: String,
    level: &'static str,
    major: bool,
    state: &'static str,
    description: String,
    measures: String,
    deadline: String,
    overdue: bool,
    evidence_complete: bool,
    updated: String,
}

impl Row {
    fn of(projection: &Projection, names: &Names, today: &str) -> Option<Row> {
        let hazard: Hazard = serde_json::from_value(projection.entity.body.clone()).ok()?;
        let grid = hazard.report.grid_id.clone().unwrap_or_default();
        Some(Row {
            id: projection.entity.id.clone(),
            enterprise: names.enterprise(&hazard.report.enterprise_id),
            grid: names.grid(&grid),
            level: level_name(hazard.report.level),
            major: hazard.report.level == Level::Major,
            state: state_name(hazard.state),
            overdue: hazard.is_overdue(today),
            description: hazard.report.description,
            measures: hazard.report.measures.unwrap_or_default(),
            deadline: hazard.report.deadline.unwrap_or_default(),
            evidence_complete: projection.missing_blobs.is_empty(),
            updated: super::pages::beijing_time(projection.received_at_ms),
        })
    }
}

#[derive(Template)]
#[template(path = "console/hazards.html")]
struct LedgerPage<'a> {
    frame: Frame,
    query: &'a LedgerQuery,
    filters: String,
    states: Vec<(String, &'static str)>,
    grids: Vec<(String, String)>,
    rows: Vec<Row>,
    next_after: Option<String>,
    error: Option<(&'static str, String)>,
}

/// The hazard ledger (隐患台账): the hazards the caller reads, filtered, a page at a time.
#[handler]
pub async fn ledger(req: &Request, Data(state): Data<&AppStateRef>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let query: LedgerQuery = req.params().unwrap_or_default();
    let names = match Names::load(state).await {
        Ok(names) => names,
        Err(err) => return failed(&err),
    };
    let mut grids: Vec<(String, String)> = names
        .grids
        .iter()
        .map(|(c, n)| (c.clone(), n.clone()))
        .collect();
    grids.sort();
    let mut page = LedgerPage {
        frame: Frame::of(&caller, &token),
        query: &query,
        filters: query.filters_query(),
        states: State::ALL
            .iter()
            .map(|s| (wire_name(s), state_name(*s)))
            .collect(),
        grids,
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
    let after = Some(query.after.as_str()).filter(|a| !a.is_empty());
    let found = match Office::hazards(&state.sync, &caller, &filter, after, 100).await {
        Ok(found) => found,
        Err(err) => return failed(&err),
    };
    page.rows = found
        .items
        .iter()
        .filter_map(|p| Row::of(p, &names, &filter.today))
        .collect();
    page.next_after = found.next_after;
    html(StatusCode::OK, page.render())
}

/// The ledger's rows for an export: every hazard the filters take.
async fn export_rows(req: &Request, state: &AppStateRef) -> Result<(Vec<Row>, Caller), Response> {
    let (caller, _) = signed_in(state, req).await?;
    let query: LedgerQuery = req.params().unwrap_or_default();
    let filter = query
        .filter()
        .map_err(|(_, text)| message(StatusCode::BAD_REQUEST, "筛选条件有误", &text))?;
    let names = Names::load(state).await.map_err(|err| failed(&err))?;
    let all = Office::all_hazards(&state.sync, &caller, &filter)
        .await
        .map_err(|err| failed(&err))?;
    if let Some(refusal) = super::exports::too_many(all.len()) {
        return Err(refusal);
    }
    let rows = all
        .iter()
        .filter_map(|p| Row::of(p, &names, &filter.today))
        .collect();
    Ok((rows, caller))
}

/// The ledger as a sheet: a header row, then a row per hazard.
fn sheet(rows: &[Row]) -> Sheet {
    let header = [
        "编号",
        "企业",
        "网格",
        "级别",
        "状态",
        "隐患描述",
        "整改措施",
        "整改期限",
        "是否逾期",
        "证据完整",
        "最近更新（北京时间）",
    ];
    let yes = |b: bool| if b { "是" } else { "否" }.to_string();
    Sheet {
        name: "隐患台账",
        counts: &[],
        header: header.iter().map(|h| (*h).to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    r.enterprise.clone(),
                    r.grid.clone(),
                    r.level.to_string(),
                    r.state.to_string(),
                    r.description.clone(),
                    r.measures.clone(),
                    r.deadline.clone(),
                    yes(r.overdue),
                    yes(r.evidence_complete),
                    r.updated.clone(),
                ]
            })
            .collect(),
    }
}

/// The ledger as `.xlsx`, with the list's filters.
#[handler]
pub async fn ledger_xlsx(req: &Request, Data(state): Data<&AppStateRef>) -> Response {
    match export_rows(req, state).await {
        Ok((rows, _)) => xlsx_download(&sheet(&rows), &format!("隐患台账-{}", today())),
        Err(answer) => answer,
    }
}

/// The ledger as CSV (UTF-8 with BOM), with the list's filters.
#[handler]
pub async fn ledger_csv(req: &Request, Data(state): Data<&AppStateRef>) -> Response {
    match export_rows(req, state).await {
        Ok((rows, _)) => csv_download(&sheet(&rows), &format!("隐患台账-{}", today())),
        Err(answer) => answer,
    }
}

/// Times of one event, as the timeline shows them.
pub(super) struct Times {
    /// What the device's clock said at capture (声称时间).
    pub(super) claimed: String,
    /// The server's estimate of the capture time, and how far to trust it.
    pub(super) estimated: String,
    pub(super) clock: &'static str,
    /// When the server received it (接收时间).
    pub(super) received: String,
}

impl Times {
    pub(super) fn of(event: &JudgedEvent) -> Times {
        use anjian_sync::clock::ClockFlag;
        Times {
            claimed: super::pages::beijing_time(event.event.body.captured.wall_ms),
            estimated: super::pages::beijing_time(event.time.captured_at_ms),
            clock: match event.time.clock {
                ClockFlag::Ok => "设备时钟正常",
                ClockFlag::Corrected => "设备时钟有偏差，已校正",
                ClockFlag::Unreliable => "设备时钟不可信",
            },
            received: super::pages::beijing_time(event.receipt.received_at_ms),
        }
    }
}

/// One step of the timeline.
struct Step {
    by: String,
    what: String,
    note: String,
    times: Option<Times>,
}

/// One photo with what its file and its event say.
struct Photo {
    sha256: String,
    /// Whether the server holds it (and the caller may see it).
    held: bool,
    taken_at: String,
    place: String,
    /// The times of the event that first cited it.
    times: Option<Times>,
}

#[derive(Template)]
#[template(path = "console/hazard.html")]
struct HazardPage {
    frame: Frame,
    id: String,
    row: Row,
    state_wire: String,
    source: &'static str,
    reporter: String,
    location: String,
    plan: String,
    double_report: String,
    /// Photos before (整改前) and after (整改后) the rectification.
    galleries: Vec<(&'static str, Vec<Photo>)>,
    steps: Vec<Step>,
    /// May set the deadline, accept and reject back (an inspector covering the grid, an admin).
    supervises: bool,
    /// May void (an admin).
    voids: bool,
    open: bool,
    pending_acceptance: bool,
    /// A refusal of the last action: which form, and what to say.
    notice: Option<(&'static str, String)>,
}

/// A hazard's page, or the answer to give instead.
async fn hazard_page(
    state: &AppStateRef,
    caller: &Caller,
    token: &str,
    id: &str,
    notice: Option<(&'static str, String)>,
) -> Result<HazardPage, Response> {
    let record = Office::record(&state.sync, caller, EntityType::Hazard, id)
        .await
        .map_err(|err| failed(&err))?;
    let Some((projection, events)) = record else {
        return Err(not_found());
    };
    let hazard: Hazard =
        serde_json::from_value(projection.entity.body.clone()).map_err(|err| failed(&err))?;
    let names = Names::load(state).await.map_err(|err| failed(&err))?;
    let by_event: HashMap<&str, &JudgedEvent> = events
        .iter()
        .map(|e| (e.event.body.id.as_str(), e))
        .collect();
    let people = People::load(
        state,
        hazard
            .history
            .iter()
            .map(|s| s.by.as_str())
            .chain([hazard.reported_by.as_str()]),
    )
    .await?;
    let person = |id: &str| people.name(id);
    let steps = hazard
        .history
        .iter()
        .map(|step| Step {
            by: person(&step.by),
            what: match step.from {
                None => format!("上报（{}）", state_name(step.to)),
                Some(from) if from == step.to => "修改整改期限".to_string(),
                Some(from) => format!("{} → {}", state_name(from), state_name(step.to)),
            },
            note: step.note.clone().unwrap_or_default(),
            times: by_event.get(step.event_id.as_str()).map(|e| Times::of(e)),
        })
        .collect();
    let mut photos = Vec::new();
    for list in [&hazard.photos_before, &hazard.photos_after] {
        let mut shown = Vec::new();
        for sha256 in list {
            let info = state.blobs.info(caller, sha256).await.ok();
            let cited_by = events
                .iter()
                .find(|e| e.event.body.blob_refs.contains(sha256));
            shown.push(Photo {
                sha256: sha256.clone(),
                held: info.is_some(),
                taken_at: info
                    .as_ref()
                    .and_then(|i| i.taken_at.clone())
                    .unwrap_or_else(|| "—".into()),
                place: info
                    .as_ref()
                    .and_then(|i| i.gps)
                    .map(|g| format!("北纬 {:.5}°，东经 {:.5}°", g.lat, g.lon))
                    .unwrap_or_else(|| "—".into()),
                times: cited_by.map(Times::of),
            });
        }
        photos.push(shown);
    }
    let after = photos.pop().unwrap_or_default();
    let before = photos.pop().unwrap_or_default();
    let grant = &caller.user.grant;
    let supervises = grant.has(Role::Admin) || grant.inspects(hazard.report.grid_id.as_deref());
    let today = today();
    let row = Row::of(&projection, &names, &today).ok_or_else(|| failed(&"unreadable hazard"))?;
    Ok(HazardPage {
        frame: Frame::of(caller, token),
        id: id.to_string(),
        state_wire: wire_name(hazard.state),
        source: source_name(hazard.report.source),
        reporter: person(&hazard.reported_by),
        location: hazard
            .report
            .location
            .map(|l| {
                format!(
                    "北纬 {:.5}°，东经 {:.5}°",
                    l.lat_e6 as f64 / 1e6,
                    l.lng_e6 as f64 / 1e6
                )
            })
            .unwrap_or_else(|| "—".into()),
        plan: hazard.plan.clone().unwrap_or_default(),
        double_report: hazard
            .double_report
            .map(|d| {
                format!(
                    "已向监管部门报告 {}；已向职工（代表）大会报告 {}",
                    super::pages::beijing_time(d.regulator_at_ms),
                    super::pages::beijing_time(d.congress_at_ms)
                )
            })
            .unwrap_or_default(),
        galleries: vec![("整改前照片", before), ("整改后照片", after)],
        steps,
        supervises,
        voids: grant.has(Role::Admin),
        open: !matches!(hazard.state, State::Closed | State::Void),
        pending_acceptance: hazard.state == State::PendingAcceptance,
        notice,
        row,
    })
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "隐患不存在",
        "没有这条隐患，或您无权查看（404）。",
    )
}

/// A hazard's page (隐患详情).
#[handler]
pub async fn show(
    req: &Request,
    Data(state): Data<&AppStateRef>,
    Path(id): Path<String>,
) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    rendered(
        StatusCode::OK,
        hazard_page(state, &caller, &token, &id, None).await,
    )
}

/// The deadline form (修改整改期限).
#[derive(Deserialize)]
struct DeadlineForm {
    #[serde(default)]
    deadline: String,
    #[serde(default)]
    note: String,
}

/// The lifecycle form: the state the page showed, where to move, and why.
#[derive(Deserialize)]
struct MoveForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    note: String,
}

/// Makes one office change to a hazard and shows its page: the page again on success, or
/// with the refusal beside the form it came from (nothing changed).
async fn act(
    state: &AppStateRef,
    id: &str,
    form: &'static str,
    caller: Caller,
    token: String,
    kind: &'static str,
    payload: serde_json::Value,
) -> Response {
    let outcome = change(state, &caller, EntityType::Hazard, id, kind, payload).await;
    answered(outcome, &format!("/console/hazards/{id}"), |text| {
        hazard_page(state, &caller, &token, id, Some((form, text)))
    })
    .await
}

/// Changes a hazard's rectification deadline (修改整改期限), with the reason.
#[handler]
pub async fn set_deadline(
    req: &Request,
    Data(state): Data<&AppStateRef>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let (caller, token, form) = match form_of::<DeadlineForm>(state, req, &body).await {
        Ok(sent) => sent,
        Err(answer) => return answer,
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    if time::Date::parse(form.deadline.trim(), &format).is_err() {
        let text = "请选择新的整改期限（YYYY-MM-DD）。".to_string();
        return match hazard_page(state, &caller, &token, &id, Some(("deadline", text))).await {
            Ok(page) => html(StatusCode::BAD_REQUEST, page.render()),
            Err(answer) => answer,
        };
    }
    let payload = json!({"deadline": form.deadline.trim(), "note": typed(&form.note)});
    act(
        state,
        &id,
        "deadline",
        caller,
        token,
        "hazard.deadline",
        payload,
    )
    .await
}

/// Moves a hazard: accept (验收销号), reject back (退回整改) or void (作废).
#[handler]
pub async fn move_hazard(
    req: &Request,
    Data(state): Data<&AppStateRef>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let (caller, token, form) = match form_of::<MoveForm>(state, req, &body).await {
        Ok(sent) => sent,
        Err(answer) => return answer,
    };
    let known = |s: &str| State::ALL.iter().any(|state| wire_name(state) == s);
    if !known(&form.from) || !known(&form.to) {
        return message(
            StatusCode::BAD_REQUEST,
            "表单无法读取",
            "表单中的状态无法识别，请从隐患页面提交。",
        );
    }
    let payload = with_note(json!({"from": form.from, "to": form.to}), &form.note);
    let which = if form.to == "void" { "void" } else { "move" };
    act(
        state,
        &id,
        which,
        caller,
        token,
        "hazard.transition",
        payload,
    )
    .await
}
