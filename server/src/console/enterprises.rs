//! The enterprise registry (企业台账): search and filters, exports, an enterprise's page (its
//! hazards, inspections, meetings, teams and workers, certificates expiring within 30 days
//! marked), and the CSV import, which shows every bad line — or what it would change — before
//! anything is kept.

use std::collections::HashMap;

use anjian_sync::access::Role;
use anjian_sync::entity::EntityType;
use anjian_sync::kinds::commitment::Commitment;
use anjian_sync::kinds::enterprise::{Enterprise, RiskColour, Scale};
use anjian_sync::kinds::notice::Notice;
use anjian_sync::kinds::risk::{RiskLevel, RiskPoint};
use anjian_sync::kinds::schedule::Schedule;
use anjian_sync::kinds::team::TeamRecord;
use anjian_sync::kinds::worker::Worker;
use anjian_sync::protocol::Projection;
use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Multipart, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::exports::{Sheet, csv_download, xlsx_download};
use super::names::Names;
use super::pages::{Frame, failed, forbidden, form_of, message, signed_in, wire_name};
use super::{State, html};
use crate::service::accounts::Caller;
use crate::service::directory::{Directory, ImportError, ImportReport};
use crate::service::office::{HazardFilter, InspectionFilter, MeetingFilter, Office};

/// A risk colour in Chinese.
pub(crate) fn colour_name(colour: Option<RiskColour>) -> &'static str {
    match colour {
        Some(RiskColour::Red) => "红",
        Some(RiskColour::Orange) => "橙",
        Some(RiskColour::Yellow) => "黄",
        Some(RiskColour::Blue) => "蓝",
        None => "未评定",
    }
}

/// The flags (重点监管事项) a record has, in Chinese.
fn flag_names(enterprise: &Enterprise) -> Vec<&'static str> {
    let f = &enterprise.record.flags;
    [
        (f.confined_space, "有限空间"),
        (f.ammonia_refrigeration, "涉氨制冷"),
        (f.dust, "粉尘涉爆"),
        (f.special_equipment, "特种设备"),
        (f.lpg, "液化石油气"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

/// The registry's filters, as the query carries them.
#[derive(Debug, Default, Deserialize)]
pub struct RegistryQuery {
    /// Part of the name or the credit code.
    #[serde(default)]
    q: String,
    #[serde(default)]
    grid: String,
    #[serde(default)]
    industry: String,
    /// `above` or `below`.
    #[serde(default)]
    scale: String,
    /// `red`, `orange`, `yellow`, `blue` or `none`.
    #[serde(default)]
    colour: String,
    /// One of the flags' names (`ammonia_refrigeration` …).
    #[serde(default)]
    flag: String,
}

const FLAGS: [(&str, &str); 5] = [
    ("confined_space", "有限空间"),
    ("ammonia_refrigeration", "涉氨制冷"),
    ("dust", "粉尘涉爆"),
    ("special_equipment", "特种设备"),
    ("lpg", "液化石油气"),
];

impl RegistryQuery {
    fn takes(&self, enterprise: &Enterprise, colour: Option<RiskColour>) -> bool {
        let r = &enterprise.record;
        let q = self.q.trim();
        let colour = colour.map_or("none".to_string(), wire_name);
        let flags = serde_json::to_value(r.flags).unwrap_or_default();
        (q.is_empty() || r.name.contains(q) || r.credit_code.contains(&q.to_ascii_uppercase()))
            && (self.grid.is_empty() || r.grid_id == self.grid)
            && (self.industry.is_empty() || r.industry == self.industry)
            && (self.scale.is_empty() || (self.scale == "above") == (r.scale == Scale::Above))
            && (self.colour.is_empty() || colour == self.colour)
            && (self.flag.is_empty() || flags[self.flag.as_str()] == true)
    }

    fn query(&self) -> String {
        serde_urlencoded::to_string([
            ("q", &self.q),
            ("grid", &self.grid),
            ("industry", &self.industry),
            ("scale", &self.scale),
            ("colour", &self.colour),
            ("flag", &self.flag),
        ])
        .unwrap_or_default()
    }
}

/// One enterprise as the registry lists it.
struct Row {
    id: String,
    name: String,
    code: String,
    grid: String,
    industry: String,
    scale: &'static str,
    colour: &'static str,
    colour_class: String,
    flags: String,
    address: String,
    contact: String,
}

fn row(id: &str, enterprise: &Enterprise, colour: Option<RiskColour>, names: &Names) -> Row {
    let r = &enterprise.record;
    Row {
        id: id.to_string(),
        name: r.name.clone(),
        code: r.credit_code.clone(),
        grid: names.grid(&r.grid_id),
        industry: r.industry.clone(),
        scale: match r.scale {
            Scale::Above => "规上",
            Scale::Below => "规下",
        },
        colour: colour_name(colour),
        colour_class: colour.map_or("none".into(), wire_name),
        flags: flag_names(enterprise).join("、"),
        address: r.address.clone(),
        contact: r
            .contacts
            .first()
            .map(|c| format!("{} {}", c.name, c.phone))
            .unwrap_or_default(),
    }
}

/// The enterprises the caller reads that the query takes, by name.
/// Each enterprise's colour as the office's facts keep it: its highest live risk point's
/// (风险点), or the office's grading where it has none or the office gives a reason.
pub(crate) async fn colours(
    state: &State,
) -> Result<std::collections::HashMap<String, Option<RiskColour>>, crate::service::sync::SyncError>
{
    Ok(state
        .sync
        .facts(EntityType::Enterprise)
        .await?
        .into_iter()
        .map(|(id, fact)| {
            let colour = serde_json::from_value(serde_json::Value::String(fact.state)).ok();
            (id, colour)
        })
        .collect())
}

async fn listed(
    state: &State,
    caller: &Caller,
    query: &RegistryQuery,
) -> Result<(Vec<Row>, Vec<String>, Names), Response> {
    let names = Names::load(state).await.map_err(|err| failed(&err))?;
    let mine = caller.user.grant.buckets(&caller.user.id.to_string());
    let colours = colours(state).await.map_err(|err| failed(&err))?;
    let all: Vec<(String, Enterprise)> = state
        .sync
        .entities_of_type(EntityType::Enterprise)
        .await
        .map_err(|err| failed(&err))?
        .into_iter()
        .filter(|p| crate::store::reads_through(p, &mine))
        .filter_map(|p| {
            let enterprise = serde_json::from_value(p.entity.body).ok()?;
            Some((p.entity.id, enterprise))
        })
        .collect();
    let mut industries: Vec<String> = all.iter().map(|(_, e)| e.record.industry.clone()).collect();
    industries.sort();
    industries.dedup();
    let colour_of = |id: &str| colours.get(id).copied().flatten();
    let mut rows: Vec<Row> = all
        .iter()
        .filter(|(id, e)| query.takes(e, colour_of(id)))
        .map(|(id, e)| row(id, e, colour_of(id), &names))
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((rows, industries, names))
}

#[derive(Template)]
#[template(path = "console/enterprises.html")]
struct RegistryPage<'a> {
    frame: Frame,
    query: &'a RegistryQuery,
    filters: String,
    grids: Vec<(String, String)>,
    industries: Vec<String>,
    flags: Vec<(&'static str, &'static str)>,
    rows: Vec<Row>,
    admin: bool,
}

/// The registry (企业台账).
#[handler]
pub async fn registry(req: &Request, Data(state): Data<&State>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let query: RegistryQuery = req.params().unwrap_or_default();
    let (rows, industries, names) = match listed(state, &caller, &query).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let mut grids: Vec<(String, String)> = names.grids.into_iter().collect();
    grids.sort();
    let page = RegistryPage {
        frame: Frame::of(&caller, &token),
        query: &query,
        filters: query.query(),
        grids,
        industries,
        flags: FLAGS.to_vec(),
        rows,
        admin: caller.user.grant.has(Role::Admin),
    };
    html(StatusCode::OK, page.render())
}

fn sheet(rows: Vec<Row>) -> Sheet {
    Sheet {
        name: "企业台账",
        counts: &[],
        header: [
            "企业名称",
            "统一社会信用代码",
            "网格",
            "行业",
            "规模",
            "风险等级",
            "重点监管事项",
            "地址",
            "联系人",
        ]
        .iter()
        .map(|h| (*h).to_string())
        .collect(),
        rows: rows
            .into_iter()
            .map(|r| {
                vec![
                    r.name,
                    r.code,
                    r.grid,
                    r.industry,
                    r.scale.to_string(),
                    r.colour.to_string(),
                    r.flags,
                    r.address,
                    r.contact,
                ]
            })
            .collect(),
    }
}

async fn export(req: &Request, state: &State) -> Result<Sheet, Response> {
    let (caller, _) = signed_in(state, req).await?;
    let query: RegistryQuery = req.params().unwrap_or_default();
    let (rows, _, _) = listed(state, &caller, &query).await?;
    if let Some(refusal) = super::exports::too_many(rows.len()) {
        return Err(refusal);
    }
    Ok(sheet(rows))
}

fn stem() -> String {
    format!(
        "企业台账-{}",
        anjian_sync::clock::china_date(crate::store::model::UnixMillis::now().0)
    )
}

/// The registry as `.xlsx`.
#[handler]
pub async fn registry_xlsx(req: &Request, Data(state): Data<&State>) -> Response {
    match export(req, state).await {
        Ok(sheet) => xlsx_download(&sheet, &stem()),
        Err(answer) => answer,
    }
}

/// The registry as CSV.
#[handler]
pub async fn registry_csv(req: &Request, Data(state): Data<&State>) -> Response {
    match export(req, state).await {
        Ok(sheet) => csv_download(&sheet, &stem()),
        Err(answer) => answer,
    }
}

/// A worker as the enterprise's page lists them.
struct WorkerRow {
    name: String,
    post: String,
    team: String,
    /// Each certificate: (kind and number, expires on, `expired` / `soon` / `ok`).
    certificates: Vec<(String, String, &'static str)>,
}

#[derive(Template)]
#[template(path = "console/enterprise.html")]
struct EnterprisePage {
    frame: Frame,
    row: Row,
    village: String,
    contacts: Vec<(String, String, String)>,
    hazards: Vec<(String, String, &'static str, String)>,
    inspections: Vec<(String, String, String)>,
    meetings: Vec<(String, String)>,
    /// Each team: (code, name, its calendar in words).
    teams: Vec<(String, String, String)>,
    workers: Vec<WorkerRow>,
    /// Where its colour comes from (its risk points, or the office and why).
    colour_source: String,
    /// Its live risk points (风险点) by level, highest first.
    by_level: [usize; 4],
    /// This year's commitment (主体责任告知承诺), signed or not.
    commitment: String,
    /// Its notices of major risks (重大安全风险公告): (title and version, state).
    notices: Vec<(String, String)>,
}

/// The day 30 days after `today` (`YYYY-MM-DD`).
fn in_30_days(today: &str) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(today, &format)
        .ok()
        .and_then(|d| d.checked_add(time::Duration::days(30)))
        .map_or_else(|| today.to_string(), |d| d.to_string())
}

/// An enterprise's page (企业详情).
#[handler]
pub async fn show(req: &Request, Data(state): Data<&State>, Path(id): Path<String>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    match enterprise_page(state, &caller, &token, &id).await {
        Ok(page) => html(StatusCode::OK, page.render()),
        Err(answer) => answer,
    }
}

async fn enterprise_page(
    state: &State,
    caller: &Caller,
    token: &str,
    id: &str,
) -> Result<EnterprisePage, Response> {
    let found = Office::record(&state.sync, caller, EntityType::Enterprise, id)
        .await
        .map_err(|err| failed(&err))?;
    let Some((projection, _)) = found else {
        return Err(message(
            StatusCode::NOT_FOUND,
            "企业不存在",
            "没有这家企业，或您无权查看（404）。",
        ));
    };
    let enterprise: Enterprise =
        serde_json::from_value(projection.entity.body.clone()).map_err(|err| failed(&err))?;
    let names = Names::load(state).await.map_err(|err| failed(&err))?;
    let today = anjian_sync::clock::china_date(crate::store::model::UnixMillis::now().0);
    let hazards = Office::hazards(
        &state.sync,
        caller,
        &HazardFilter {
            enterprise: Some(id.to_string()),
            today: today.clone(),
            ..HazardFilter::default()
        },
        None,
        100,
    )
    .await
    .map_err(|err| failed(&err))?;
    let inspections = Office::inspections(
        &state.sync,
        caller,
        &InspectionFilter {
            enterprise: Some(id.to_string()),
            ..InspectionFilter::default()
        },
        None,
        100,
    )
    .await
    .map_err(|err| failed(&err))?;
    let meetings = Office::meetings(
        &state.sync,
        caller,
        &MeetingFilter {
            enterprise: Some(id.to_string()),
            ..MeetingFilter::default()
        },
        None,
        100,
    )
    .await
    .map_err(|err| failed(&err))?;
    let teams = of_enterprise(state, caller, EntityType::Team, id)
        .await
        .map_err(|err| failed(&err))?;
    let workers = of_enterprise(state, caller, EntityType::Worker, id)
        .await
        .map_err(|err| failed(&err))?;
    let risk_points = of_enterprise(state, caller, EntityType::RiskPoint, id)
        .await
        .map_err(|err| failed(&err))?;
    let year = today.get(..4).unwrap_or_default();
    let commitment = of_enterprise(state, caller, EntityType::Commitment, id)
        .await
        .map_err(|err| failed(&err))?
        .into_iter()
        .filter_map(|p| serde_json::from_value::<Commitment>(p.entity.body).ok())
        .find(|c| c.content.year == year)
        .map_or_else(
            || format!("{year} 年：未签署"),
            |c| {
                format!(
                    "{year} 年：{} 于 {} 签署",
                    c.content.principal, c.content.signed_on
                )
            },
        );
    let mut notices: Vec<(String, String)> = of_enterprise(state, caller, EntityType::Notice, id)
        .await
        .map_err(|err| failed(&err))?
        .into_iter()
        .filter_map(|p| serde_json::from_value::<Notice>(p.entity.body).ok())
        .map(|n| {
            let state = match (&n.withdrawn, n.content.public) {
                (Some(why), _) => format!("已撤下：{why}"),
                (None, true) => "公开".to_string(),
                (None, false) => "企业内部".to_string(),
            };
            (
                format!("{}（第 {} 版）", n.content.title, n.content.version),
                state,
            )
        })
        .collect();
    notices.sort();
    let colour = colours(state)
        .await
        .map_err(|err| failed(&err))?
        .get(id)
        .copied()
        .flatten();
    let live: Vec<RiskPoint> = risk_points
        .iter()
        .filter_map(|p| serde_json::from_value::<RiskPoint>(p.entity.body.clone()).ok())
        .filter(|r| r.retired.is_none())
        .collect();
    let by_level = [
        RiskLevel::Major,
        RiskLevel::High,
        RiskLevel::General,
        RiskLevel::Low,
    ]
    .map(|level| live.iter().filter(|r| r.level == level).count());
    let colour_source = match (&enterprise.record.risk_colour_reason, live.is_empty()) {
        (Some(reason), _) if enterprise.record.risk_colour.is_some() => {
            format!("安委办评定：{reason}")
        }
        (_, false) => "按风险点最高等级".to_string(),
        _ if enterprise.record.risk_colour.is_some() => "安委办评定".to_string(),
        _ => String::new(),
    };
    let soon = in_30_days(&today);
    let team_names: HashMap<String, String> = teams
        .iter()
        .filter_map(|p| serde_json::from_value::<TeamRecord>(p.entity.body.clone()).ok())
        .map(|t| (t.code, t.name))
        .collect();
    let mut workers: Vec<WorkerRow> = workers
        .iter()
        .filter_map(|p| serde_json::from_value::<Worker>(p.entity.body.clone()).ok())
        .map(|w| WorkerRow {
            team: w
                .team_id
                .as_ref()
                .map(|t| team_names.get(t).cloned().unwrap_or_else(|| t.clone()))
                .unwrap_or_default(),
            certificates: w
                .certificates
                .iter()
                .map(|c| {
                    let status = if c.expires_on < today {
                        "expired"
                    } else if c.expires_on <= soon {
                        "soon"
                    } else {
                        "ok"
                    };
                    (
                        format!("{} {}", c.kind, c.number),
                        c.expires_on.clone(),
                        status,
                    )
                })
                .collect(),
            name: w.name,
            post: w.post,
        })
        .collect();
    workers.sort_by(|a, b| (&a.team, &a.name).cmp(&(&b.team, &b.name)));
    let schedules: HashMap<String, Schedule> =
        of_enterprise(state, caller, EntityType::Schedule, id)
            .await
            .map_err(|err| failed(&err))?
            .into_iter()
            .filter_map(|p| serde_json::from_value::<Schedule>(p.entity.body).ok())
            .map(|s| (s.team_id.clone(), s))
            .collect();
    let mut teams: Vec<(String, String, String)> = team_names
        .into_iter()
        .map(|(code, name)| {
            let calendar = schedules.get(&code).map_or_else(
                || "未登记工作日历".to_string(),
                |s| calendar_words(s, &today),
            );
            (code, name, calendar)
        })
        .collect();
    teams.sort();
    Ok(EnterprisePage {
        frame: Frame::of(caller, token),
        village: enterprise.record.village.clone().unwrap_or_default(),
        contacts: enterprise
            .record
            .contacts
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.role.clone().unwrap_or_default(),
                    c.phone.clone(),
                )
            })
            .collect(),
        hazards: hazards
            .items
            .iter()
            .filter_map(|p| {
                let h: anjian_sync::kinds::hazard::Hazard =
                    serde_json::from_value(p.entity.body.clone()).ok()?;
                Some((
                    p.entity.id.clone(),
                    h.report.description.clone(),
                    super::hazards::state_name(h.state),
                    h.report.deadline.clone().unwrap_or_default(),
                ))
            })
            .collect(),
        inspections: inspections
            .items
            .iter()
            .map(|p| {
                (
                    p.entity.id.clone(),
                    super::pages::beijing_time(
                        p.entity.body["started_at_ms"].as_i64().unwrap_or(0),
                    ),
                    p.entity.body["summary"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect(),
        meetings: meetings
            .items
            .iter()
            .map(|p| {
                let body = &p.entity.body;
                (
                    p.entity.id.clone(),
                    format!(
                        "{} {} {}",
                        body["date"].as_str().unwrap_or_default(),
                        body["team_id"].as_str().unwrap_or_default(),
                        body["shift"].as_str().unwrap_or_default()
                    ),
                )
            })
            .collect(),
        teams,
        workers,
        row: row(id, &enterprise, colour, &names),
        colour_source,
        by_level,
        commitment,
        notices,
    })
}

/// A team's calendar as in effect on `today` (or as it will be, when it starts later), in words.
fn calendar_words(schedule: &Schedule, today: &str) -> String {
    let current = schedule
        .versions
        .iter()
        .rev()
        .find(|v| v.version.from.as_str() <= today)
        .or_else(|| schedule.versions.first());
    let Some(kept) = current else {
        return "未登记工作日历".to_string();
    };
    let v = &kept.version;
    const DAYS: [&str; 7] = ["一", "二", "三", "四", "五", "六", "日"];
    let rest: Vec<&str> = v
        .rest_weekdays
        .iter()
        .filter_map(|d| DAYS.get(usize::from(*d).saturating_sub(1)).copied())
        .collect();
    let mut words = format!(
        "自 {} 起：{}；{}",
        v.from,
        v.shifts.join("、"),
        v.slots
            .iter()
            .map(|s| s.chinese())
            .collect::<Vec<_>>()
            .join("、")
    );
    if !rest.is_empty() {
        words.push_str(&format!(
            "；每周{}休息",
            rest.iter()
                .map(|d| format!("周{d}"))
                .collect::<Vec<_>>()
                .join("、")
        ));
    }
    if !v.rest_days.is_empty() {
        words.push_str(&format!("；另休 {} 天", v.rest_days.len()));
    }
    if v.crew > 0 {
        words.push_str(&format!("；岗前一分钟每班 {} 人", v.crew));
    }
    for duty in &v.self_checks {
        let every = match duty.every {
            anjian_sync::kinds::schedule::Every::Day => "每日",
            anjian_sync::kinds::schedule::Every::Week => "每周",
            anjian_sync::kinds::schedule::Every::Month => "每月",
        };
        words.push_str(&format!("；{every}自查（{}）", duty.template));
    }
    words
}

/// The records of `entity_type` of enterprise `id` that the caller reads (its teams, workers,
/// risk points).
pub(crate) async fn of_enterprise(
    state: &State,
    caller: &Caller,
    entity_type: EntityType,
    id: &str,
) -> Result<Vec<Projection>, crate::service::sync::SyncError> {
    let mine = caller.user.grant.buckets(&caller.user.id.to_string());
    let all = state.sync.entities_of_type(entity_type).await?;
    Ok(all
        .into_iter()
        .filter(|p| crate::store::reads_through(p, &mine) && p.entity.body["enterprise_id"] == id)
        .collect())
}

#[derive(Template)]
#[template(path = "console/import.html")]
struct ImportPage {
    frame: Frame,
    /// The file's text, to send again when the office confirms.
    text: String,
    /// Every bad line: (line, why); line 0 is the file.
    errors: Vec<(u64, String)>,
    /// What importing would do (or did).
    report: Option<ImportReport>,
    /// Whether it was kept.
    done: bool,
}

/// The most bytes an uploaded enterprise list may have.
const MAX_IMPORT_BYTES: usize = 2 * 1024 * 1024;

/// An uploaded enterprise list: checked against the registry and shown — every bad line, or
/// what importing would change — with nothing kept yet.
#[handler]
pub async fn import_preview(
    req: &Request,
    Data(state): Data<&State>,
    mut form: Multipart,
) -> Response {
    if super::session::from_another_site(req) {
        return super::pages::refused();
    }
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    if !caller.user.grant.has(Role::Admin) {
        return forbidden();
    }
    let mut csrf = String::new();
    let mut bytes = Vec::new();
    loop {
        match form.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("csrf") => csrf = field.text().await.unwrap_or_default(),
                Some("file") => match field.bytes().await {
                    Ok(read) if read.len() <= MAX_IMPORT_BYTES => bytes = read,
                    _ => {
                        return message(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "文件过大",
                            "企业名单文件不能超过 2 MB。",
                        );
                    }
                },
                _ => {}
            },
            Ok(None) => break,
            Err(_) => {
                return message(
                    StatusCode::BAD_REQUEST,
                    "文件无法读取",
                    "请从企业台账页面选择 CSV 文件上传。",
                );
            }
        }
    }
    if !crate::service::secrets::csrf_holds(&token, &csrf) {
        return super::pages::refused();
    }
    checked(state, &caller, &token, &bytes, false).await
}

/// The confirmation form: the previewed file's text.
#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    text: String,
}

/// Imports the previewed list (确认导入): checked again, then kept, all or nothing.
#[handler]
pub async fn import_confirm(req: &Request, Data(state): Data<&State>, body: String) -> Response {
    let (caller, token, form) = match form_of::<ConfirmForm>(state, req, &body).await {
        Ok(sent) => sent,
        Err(answer) => return answer,
    };
    checked(state, &caller, &token, form.text.as_bytes(), true).await
}

/// Checks (and, when `keep`, imports) a list, and shows what happened.
async fn checked(
    state: &State,
    caller: &Caller,
    token: &str,
    bytes: &[u8],
    keep: bool,
) -> Response {
    let text = crate::service::directory::decoded(bytes).unwrap_or_default();
    let outcome = if keep {
        Directory::import_enterprises(&state.sync, caller, bytes).await
    } else {
        Directory::preview_import(&state.sync, caller, bytes).await
    };
    let (status, errors, report) = match outcome {
        Ok(report) => (StatusCode::OK, Vec::new(), Some(report)),
        Err(ImportError::Rows(rows)) => (StatusCode::BAD_REQUEST, rows, None),
        Err(ImportError::Sync(crate::service::sync::SyncError::Forbidden(_))) => {
            return forbidden();
        }
        Err(ImportError::Sync(err)) => return failed(&err),
    };
    let page = ImportPage {
        frame: Frame::of(caller, token),
        done: keep && report.is_some(),
        text,
        errors,
        report,
    };
    html(status, page.render())
}
