//! Sync issues (同步问题): the events the server kept but did not apply — conflicts (冲突: valid,
//! but the record had moved on) and quarantined events (隔离: invalid) — as a queue. An issue's
//! page shows the refused event beside the record it was about as that record stands now, with
//! the reason in words; the office marks it handled (已处理) with a note, which is an
//! `issue.handle` event signed by the office device: nothing is deleted, and the author's phone
//! learns of it at its next sync.

use anjian_sync::access::Role;
use anjian_sync::entity::EntityType;
use anjian_sync::kinds::issue::is_handled;
use anjian_sync::protocol::Projection;
use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::acts::{answered, change, typed};
use super::hazards::Times;
use super::names::Names;
use super::pages::{Frame, People, beijing_time, failed, form_of, message, signed_in};
use super::{State, html, rendered};
use crate::service::accounts::Caller;
use crate::service::office::{IssueFilter, Office};

/// The issues one page of the queue shows (newest first; the count says how many in all).
const SHOWN: usize = 100;

/// A verdict in Chinese.
fn verdict_name(verdict: &str) -> &'static str {
    match verdict {
        "conflict" => "冲突",
        "quarantined" => "隔离",
        _ => "其他",
    }
}

/// What an event kind did, in Chinese.
fn kind_name(kind: &str) -> &'static str {
    match kind {
        "enterprise.save" => "企业登记",
        "grid.save" => "网格登记",
        "team.save" => "班组登记",
        "worker.save" => "从业人员登记",
        "meeting.submit" => "班组会提交",
        "meeting.amend" => "班组会更正",
        "briefing.record" => "岗前一分钟记录",
        "risk.assess" => "风险点评价",
        "risk.retire" => "风险点停用",
        "card.publish" => "岗位告知卡发布",
        "commitment.sign" => "安全承诺签署",
        "notice.publish" => "风险公告发布",
        "notice.withdraw" => "风险公告撤下",
        "schedule.save" => "班组工作日历保存",
        "floorplan.save" => "平面布置图发布",
        "hazard.report" => "隐患上报",
        "hazard.transition" => "隐患办理",
        "hazard.deadline" => "整改期限变更",
        "article.save" => "稿件编辑",
        "article.submit" => "稿件提交审核",
        "article.review" => "稿件审核",
        "article.withdraw" => "稿件撤回",
        "template.publish" => "检查表发布",
        "inspection.submit" => "检查记录提交",
        "inspection.amend" => "检查记录更正",
        "issue.handle" => "同步问题处理",
        _ => "未知操作",
    }
}

/// A record type in Chinese, and where the console shows one.
fn type_name(entity_type: EntityType) -> (&'static str, Option<&'static str>) {
    match entity_type {
        EntityType::Hazard => ("隐患", Some("hazards")),
        EntityType::Inspection => ("检查记录", Some("inspections")),
        EntityType::Meeting => ("班组会", Some("meetings")),
        EntityType::Briefing => ("岗前一分钟", None),
        EntityType::RiskPoint => ("风险点", None),
        EntityType::Card => ("岗位告知卡", None),
        EntityType::Commitment => ("安全承诺", None),
        EntityType::Notice => ("重大安全风险公告", None),
        EntityType::Schedule => ("班组工作日历", None),
        EntityType::FloorPlan => ("平面布置图", None),
        EntityType::Article => ("宣传稿件", Some("articles")),
        EntityType::Enterprise => ("企业", Some("enterprises")),
        EntityType::Team => ("班组", None),
        EntityType::Worker => ("从业人员", None),
        EntityType::Grid => ("网格", None),
        EntityType::Template => ("检查表", None),
        EntityType::SyncIssue => ("同步问题", None),
    }
}

/// A member of a record or a payload, as the page lists it: its name and its value written out
/// (text as it is, anything else as compact JSON).
struct Field {
    name: String,
    value: String,
}

/// What a member is called, in Chinese, for the members people meet most.
fn label(name: &str) -> Option<&'static str> {
    Some(match name {
        "state" => "状态",
        "from" => "原状态",
        "to" => "新状态",
        "note" => "说明",
        "description" => "描述",
        "level" => "级别",
        "deadline" => "整改期限",
        "measures" => "整改措施",
        "plan" => "整改方案",
        "enterprise_id" => "企业",
        "grid_id" => "网格",
        "team_id" => "班组",
        "date" => "日期",
        "shift" => "班次",
        "slot" => "会次",
        "title" => "标题",
        "body" => "正文",
        "decision" => "审核决定",
        "kind" => "检查类型",
        "summary" => "检查结论",
        "name" => "名称",
        "reported_by" => "上报人",
        "source" => "来源",
        "photos_before" => "整改前照片",
        "photos_after" => "整改后照片",
        "history" => "办理记录",
        _ => return None,
    })
}

/// How a page writes ids: enterprises and grids by name, users by display name.
struct Namer<'a> {
    places: &'a Names,
    people: &'a People,
}

/// The members that name a user.
const USER_FIELDS: [&str; 5] = ["reported_by", "submitted_by", "author", "by", "reviewer"];

/// The user ids a record or payload names in its [`USER_FIELDS`].
fn users_in(value: &Value) -> impl Iterator<Item = &str> + '_ {
    USER_FIELDS
        .iter()
        .filter_map(|field| value[*field].as_str())
}

fn fields(value: &Value, names: &Namer<'_>) -> Vec<Field> {
    let Some(members) = value.as_object() else {
        return Vec::new();
    };
    members
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(name, v)| Field {
            name: match label(name) {
                Some(words) => format!("{words}（{name}）"),
                None => name.clone(),
            },
            value: written(name, v, names),
        })
        .collect()
}

/// A member's value for a person: a hazard's state in Chinese beside its wire name, an
/// enterprise's or a grid's name for its id, a list of
/// texts joined, a list of records counted, anything else as compact JSON.
fn written(name: &str, value: &Value, names: &Namer<'_>) -> String {
    use anjian_sync::kinds::hazard::{Level, Source, State as HazardState};
    let is_photo = |v: &Value| v.as_str().is_some_and(anjian_sync::event::is_sha256_hex);
    match value {
        Value::String(_) if is_photo(value) => "1 张照片".to_string(),
        Value::String(text) => match name {
            "state" | "from" | "to" => serde_json::from_value::<HazardState>(value.clone())
                .map_or_else(
                    |_| text.clone(),
                    |state| format!("{}（{text}）", super::hazards::state_name(state)),
                ),
            "level" => serde_json::from_value::<Level>(value.clone()).map_or_else(
                |_| text.clone(),
                |l| super::hazards::level_name(l).to_string(),
            ),
            "source" => serde_json::from_value::<Source>(value.clone()).map_or_else(
                |_| text.clone(),
                |s| super::hazards::source_name(s).to_string(),
            ),
            "enterprise_id" => names.places.enterprise(text),
            "grid_id" => names.places.grid(text),
            _ if USER_FIELDS.contains(&name) => names.people.name(text),
            _ => text.clone(),
        },
        Value::Array(items) if !items.is_empty() && items.iter().all(is_photo) => {
            format!("{} 张照片", items.len())
        }
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("、"),
        Value::Array(items) if items.iter().all(Value::is_object) => {
            format!("{} 条（详见记录页）", items.len())
        }
        other => other.to_string(),
    }
}

/// One issue as the queue lists it.
struct Row {
    id: String,
    verdict: &'static str,
    words: &'static str,
    code: String,
    kind: &'static str,
    author: String,
    captured: String,
    handled: bool,
}

fn row(issue: &Projection, names: &People) -> Row {
    let body = &issue.entity.body;
    let code = body["reason"]["code"].as_str().unwrap_or_default();
    Row {
        id: issue.entity.id.clone(),
        verdict: verdict_name(body["verdict"].as_str().unwrap_or_default()),
        words: anjian_sync::reasons::words(code),
        code: code.to_string(),
        kind: kind_name(body["event"]["kind"].as_str().unwrap_or_default()),
        author: names.name(body["author"].as_str().unwrap_or_default()),
        captured: beijing_time(body["event"]["captured"]["wall_ms"].as_i64().unwrap_or(0)),
        handled: is_handled(&issue.entity),
    }
}

/// The queue's filters, as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    /// `open` (the default), `handled` or `all`.
    #[serde(default)]
    state: String,
    /// `conflict`, `quarantined`, or empty for both.
    #[serde(default)]
    verdict: String,
    /// The page, from 1.
    #[serde(default)]
    page: String,
}

#[derive(Template)]
#[template(path = "console/issues.html")]
struct QueuePage {
    frame: Frame,
    rows: Vec<Row>,
    total: usize,
    state: String,
    verdict: String,
    page: usize,
    first: usize,
    last: usize,
    more: bool,
}

/// The queue (同步问题): open issues first by default, newest first.
#[handler]
pub async fn queue(req: &Request, Data(state): Data<&State>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let Ok(query) = req.params::<QueueQuery>() else {
        return bad_filter();
    };
    let wanted_state = match query.state.as_str() {
        "" | "open" => Some("open"),
        "handled" => Some("handled"),
        "all" => None,
        _ => return bad_filter(),
    };
    let wanted_verdict = match query.verdict.as_str() {
        "" => None,
        "conflict" | "quarantined" => Some(query.verdict.as_str()),
        _ => return bad_filter(),
    };
    let page = match query.page.as_str() {
        "" => 1,
        text => match text.parse::<usize>() {
            Ok(page) if (1..=100_000).contains(&page) => page,
            _ => return bad_filter(),
        },
    };
    let filter = IssueFilter {
        state: wanted_state.map(str::to_string),
        verdict: wanted_verdict.map(str::to_string),
    };
    let skip = (page - 1) * SHOWN;
    let issues = match Office::sync_issues(&state.sync, &caller, &filter, skip, SHOWN).await {
        Ok(issues) => issues,
        Err(err) => return failed(&err),
    };
    let authors = issues
        .items
        .iter()
        .filter_map(|p| p.entity.body["author"].as_str());
    let names = match People::load(state, authors).await {
        Ok(names) => names,
        Err(answer) => return answer,
    };
    let shown = issues.items.len();
    let page = QueuePage {
        frame: Frame::of(&caller, &token),
        rows: issues.items.iter().map(|p| row(p, &names)).collect(),
        total: issues.total,
        state: wanted_state.unwrap_or("all").to_string(),
        verdict: wanted_verdict.unwrap_or_default().to_string(),
        page,
        first: skip + 1,
        last: skip + shown,
        more: skip + shown < issues.total,
    };
    html(StatusCode::OK, page.render())
}

fn bad_filter() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "筛选条件无法读取",
        "请在同步问题页面上选择状态（待处理/已处理/全部）和类型（冲突/隔离）；页码从 1 开始。",
    )
}

/// The record an issue was about, as it stands now.
struct About {
    type_name: &'static str,
    link: Option<String>,
    rev: u64,
    updated: String,
    deleted: bool,
    fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "console/issue.html")]
struct IssuePage {
    frame: Frame,
    id: String,
    row: Row,
    message: String,
    kind_wire: String,
    device: String,
    seq: u64,
    /// The refused event's times, when the server has the event itself.
    times: Option<Times>,
    payload: Vec<Field>,
    photos: Vec<String>,
    about_id: String,
    /// `None` when the record does not exist or the caller may not read it (not told apart).
    about: Option<About>,
    /// Who marked it handled, their note, and when the server received it.
    handled: Option<(String, String, String)>,
    /// Recorded by an older version under an id that is not a UUID: no event can name it.
    legacy: bool,
    /// The caller may mark it handled (the office, while it is open).
    handles: bool,
    notice: Option<String>,
}

async fn issue_page(
    state: &State,
    caller: &Caller,
    token: &str,
    id: &str,
    notice: Option<String>,
) -> Result<IssuePage, Response> {
    let record = Office::record(&state.sync, caller, EntityType::SyncIssue, id)
        .await
        .map_err(|err| failed(&err))?;
    let Some((issue, events)) = record else {
        return Err(message(
            StatusCode::NOT_FOUND,
            "同步问题不存在",
            "没有这条同步问题，或您无权查看（404）。",
        ));
    };
    let body = &issue.entity.body;
    let event = &body["event"];
    let about_id = body["about_entity"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let places = Names::load(state).await.map_err(|err| failed(&err))?;
    let about_record = match state.sync.entity(&about_id).await {
        Ok(found) => found.filter(|p| {
            let buckets = caller.user.grant.buckets(&caller.user.id.to_string());
            crate::store::reads_through(p, &buckets)
        }),
        Err(err) => return Err(failed(&err)),
    };
    let handled_by = body["handled"]["by"].as_str().unwrap_or_default();
    let mut people = vec![body["author"].as_str().unwrap_or_default(), handled_by];
    people.extend(users_in(&event["payload"]));
    if let Some(p) = &about_record {
        people.extend(users_in(&p.entity.body));
    }
    let names = People::load(state, people).await?;
    let namer = Namer {
        places: &places,
        people: &names,
    };
    let about = about_record.map(|p| {
        let (type_name, path) = type_name(p.entity.entity_type);
        About {
            type_name,
            link: path.map(|path| format!("/console/{path}/{}", p.entity.id)),
            rev: p.rev,
            updated: beijing_time(p.received_at_ms),
            deleted: p.entity.deleted,
            fields: fields(&p.entity.body, &namer),
        }
    });
    let row = row(&issue, &names);
    let legacy = Uuid::parse_str(id).is_err();
    let seq = event["seq"].as_u64().unwrap_or(0);
    let device = event["device_id"].as_str().unwrap_or_default().to_string();
    // The issue's first revision was made by the refused event itself.
    let times = events
        .iter()
        .find(|e| e.event.body.device_id == device && e.event.body.seq == seq)
        .map(Times::of);
    Ok(IssuePage {
        frame: Frame::of(caller, token),
        id: id.to_string(),
        message: body["reason"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        kind_wire: event["kind"].as_str().unwrap_or_default().to_string(),
        device,
        seq,
        times,
        payload: fields(&event["payload"], &namer),
        photos: issue.entity.blobs.clone(),
        about_id,
        about,
        handled: row.handled.then(|| {
            let marked = body["handled"]["event_id"].as_str().unwrap_or_default();
            (
                names.name(handled_by),
                body["handled"]["note"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                events
                    .iter()
                    .find(|e| e.event.body.id == marked)
                    .map_or_else(
                        || "—".to_string(),
                        |e| beijing_time(e.receipt.received_at_ms),
                    ),
            )
        }),
        legacy,
        handles: !row.handled && !legacy && caller.user.grant.has(Role::Admin),
        row,
        notice,
    })
}

/// An issue's page: the refused event beside the record as it stands, and the office's action.
#[handler]
pub async fn show(req: &Request, Data(state): Data<&State>, Path(id): Path<String>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    rendered(
        StatusCode::OK,
        issue_page(state, &caller, &token, &id, None).await,
    )
}

/// The handling form: what was done about it.
#[derive(Deserialize)]
struct HandleForm {
    #[serde(default)]
    note: String,
}

/// Marks an issue handled (已处理) with a note.
#[handler]
pub async fn handle(
    req: &Request,
    Data(state): Data<&State>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let (caller, token, form) = match form_of::<HandleForm>(state, req, &body).await {
        Ok(sent) => sent,
        Err(answer) => return answer,
    };
    let payload = json!({ "note": typed(&form.note) });
    let outcome = change(
        state,
        &caller,
        EntityType::SyncIssue,
        &id,
        "issue.handle",
        payload,
    )
    .await;
    answered(outcome, &format!("/console/issues/{id}"), |text| {
        issue_page(state, &caller, &token, &id, Some(text))
    })
    .await
}
