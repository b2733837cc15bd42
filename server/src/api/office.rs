//! Office queries (台账): lists for the web side, filtered and paged in a stable order. Each
//! caller sees what their roles and scopes let them pull, nothing more.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{Enum, Object, OpenApi};

use super::enterprises::RiskColour;
use super::error::ApiError;
use super::security::Auth;
use super::sync_model::{Projection, projections};
use super::{ApiTags, AppState};
use crate::service::office::{
    EnterpriseFilter, HazardFilter, InspectionFilter, MeetingFilter, Office, Page,
};

/// The `Office` tag.
#[derive(Debug)]
pub struct OfficeApi;

/// A hazard's state (隐患状态).
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum HazardState {
    /// 已上报.
    Reported,
    /// 待制定整改方案.
    PlanPending,
    /// 整改中.
    Rectifying,
    /// 待验收.
    PendingAcceptance,
    /// 已销号.
    Closed,
    /// 作废.
    Void,
}

/// A hazard's level.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum HazardLevel {
    /// 一般.
    General,
    /// 重大.
    Major,
}

/// An inspection's kind.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum InspectionKind {
    /// 企业自查.
    SelfCheck,
    /// 网格巡查.
    GridPatrol,
    /// 执法检查.
    Enforcement,
    /// 专项检查.
    SpecialCampaign,
    /// 复查.
    Recheck,
}

/// The protocol name of a filter value.
fn name<T: ToJSON>(value: Option<T>) -> Option<String> {
    value.and_then(|v| v.to_json()?.as_str().map(str::to_string))
}

/// A `YYYY-MM-DD` date parameter.
fn date(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        None => Ok(None),
        Some(text) => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(&text, &format).map(|_| Some(text.clone())).map_err(|_| {
                ApiError::new(
                    poem::http::StatusCode::BAD_REQUEST,
                    "invalid-parameter",
                    format!("the parameter `{field}` must be a date written YYYY-MM-DD, not `{text}`"),
                )
            })
        }
    }
}

/// A risk colour to filter the map by, or enterprises not yet assessed.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum MapColour {
    /// 红.
    Red,
    /// 橙.
    Orange,
    /// 黄.
    Yellow,
    /// 蓝.
    Blue,
    /// 未评定.
    None,
}

/// A GeoJSON point (RFC 7946).
#[derive(Debug, Object)]
pub struct Point {
    /// `Point`.
    #[oai(rename = "type")]
    pub kind: String,
    /// Longitude and latitude, degrees (WGS 84).
    pub coordinates: Vec<f64>,
}

/// What the map says of an enterprise.
#[derive(Debug, Object)]
pub struct MapProperties {
    /// Its name (企业名称).
    pub name: String,
    /// Its grid's code (网格).
    pub grid: String,
    /// `red`, `orange`, `yellow`, `blue`; absent before it is assessed.
    #[oai(skip_serializing_if_is_none)]
    pub risk_colour: Option<String>,
    /// Its supervision flags that are set (重点监管事项).
    pub flags: Vec<String>,
}

/// An enterprise on the map: a GeoJSON feature.
#[derive(Debug, Object)]
pub struct Feature {
    /// `Feature`.
    #[oai(rename = "type")]
    pub kind: String,
    /// The enterprise's id.
    pub id: String,
    /// Where it is.
    pub geometry: Point,
    /// What it is.
    pub properties: MapProperties,
}

/// The map (一张图): a GeoJSON feature collection.
#[derive(Debug, Object)]
pub struct FeatureCollection {
    /// `FeatureCollection`.
    #[oai(rename = "type")]
    pub kind: String,
    /// One per enterprise.
    pub features: Vec<Feature>,
}

/// One page of a list.
#[derive(Debug, Object)]
pub struct ListPage {
    /// Items in id order.
    pub items: Vec<Projection>,
    /// Pass as `after` for the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_after: Option<String>,
}

/// Due and done over a period (履职情况).
#[derive(Debug, Object)]
pub struct DutyTally {
    /// Shift meetings due (班组安全交接会).
    pub due: u64,
    /// Held on their day.
    pub on_time: u64,
    /// Recorded after their day (补录).
    pub late: u64,
    /// Not held.
    pub missed: u64,
    /// Held, but shorter than five minutes.
    pub short: u64,
    /// Meetings held per hundred due; absent when none were due.
    #[oai(skip_serializing_if_is_none)]
    pub percent: Option<u64>,
    /// Pre-shift briefings due (岗前一分钟).
    pub briefings_due: u64,
    /// Briefings done (at most those due each day).
    pub briefings_done: u64,
    /// Of those, recorded after their day.
    pub briefings_late: u64,
    /// Self-checks due (自查: a day's, a week's or a month's).
    pub self_checks_due: u64,
    /// Self-checks done in their day, week or month.
    pub self_checks_done: u64,
}

impl From<&crate::service::compliance::Tally> for DutyTally {
    fn from(t: &crate::service::compliance::Tally) -> DutyTally {
        DutyTally {
            due: t.due,
            on_time: t.on_time,
            late: t.late,
            missed: t.missed,
            short: t.short,
            percent: t.percent(),
            briefings_due: t.briefings_due,
            briefings_done: t.briefings_done,
            briefings_late: t.briefings_late,
            self_checks_due: t.self_checks_due,
            self_checks_done: t.self_checks_done,
        }
    }
}

/// One team's compliance.
#[derive(Debug, Object)]
pub struct TeamDuty {
    /// Enterprise id.
    pub enterprise: String,
    /// Team code.
    pub team: String,
    /// The enterprise's grid.
    pub grid: String,
    /// Its figures.
    pub tally: DutyTally,
}

/// A sum by enterprise or grid.
#[derive(Debug, Object)]
pub struct DutySum {
    /// The enterprise id or grid code.
    pub key: String,
    /// Its figures.
    pub tally: DutyTally,
}

/// A meeting due and not held.
#[derive(Debug, Object)]
pub struct MissedDuty {
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// Enterprise id.
    pub enterprise: String,
    /// Team code.
    pub team: String,
    /// The shift (班次).
    pub shift: String,
    /// `pre_shift`, `mid_shift` or `handover`.
    pub slot: String,
}

/// Compliance over a period.
#[derive(Debug, Object)]
pub struct ComplianceReport {
    /// First day.
    pub from: String,
    /// Last day counted (yesterday, when the period reaches today).
    pub to: String,
    /// The sum of all the caller reads.
    pub town: DutyTally,
    /// By grid.
    pub grids: Vec<DutySum>,
    /// By enterprise.
    pub enterprises: Vec<DutySum>,
    /// By team (teams with a schedule).
    pub teams: Vec<TeamDuty>,
    /// Missed meetings, by day (at most 2,000).
    pub missed: Vec<MissedDuty>,
    /// Whether more were missed than listed.
    pub missed_cut: bool,
    /// The year's commitments (安全承诺) of the enterprises counted.
    pub commitments: CommitmentSummary,
}

/// The principals' commitments (主体责任告知承诺, 安全承诺) of a year: how many enterprises signed,
/// and which have not.
#[derive(Debug, Object)]
pub struct CommitmentSummary {
    /// The year the period ends in, `YYYY`.
    pub year: String,
    /// Enterprises that have signed it.
    pub signed: u64,
    /// Enterprises (ids) that have not (未签署).
    pub unsigned: Vec<String>,
}

/// One thing due for the signed-in person (待办).
#[derive(Debug, Object)]
pub struct DueEntry {
    /// `meeting` (班组会), `briefings` (岗前一分钟), `self_check` (自查), `rectify` (整改),
    /// `certificate` (证书到期), `commitment` (安全承诺), `accept` (验收), `inspect` (本月检查).
    pub kind: String,
    /// What to do, in Chinese.
    pub title: String,
    /// The record it is about, when there is one.
    #[oai(skip_serializing_if_is_none)]
    pub id: Option<String>,
    /// The day it is due, `YYYY-MM-DD`.
    pub day: String,
    /// Past its day.
    pub overdue: bool,
    /// Done (today's meetings are listed held or not).
    pub done: bool,
}

/// What is due today.
#[derive(Debug, Object)]
pub struct DueList {
    /// Today, China time.
    pub today: String,
    /// Overdue first, then by day.
    pub items: Vec<DueEntry>,
}

fn wire(page: Page) -> Result<Json<ListPage>, ApiError> {
    let items = projections(&page.items)?;
    Ok(Json(ListPage {
        items,
        next_after: page.next_after,
    }))
}

/// Today in China (UTC+8), `YYYY-MM-DD`: the day deadlines are counted in.
fn today() -> String {
    anjian_sync::clock::china_date(crate::store::model::UnixMillis::now().0)
}

fn default_limit() -> u32 {
    100
}

#[OpenApi(tag = "ApiTags::Office")]
impl OfficeApi {
    /// Hazards (隐患台账), by state, level, overdue (逾期), grid and enterprise.
    #[oai(
        path = "/v1/office/hazards",
        method = "get",
        operation_id = "list_hazards"
    )]
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per query parameter"
    )]
    async fn hazards(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// `reported`, `plan_pending`, `rectifying`, `pending_acceptance`, `closed`, `void`.
        #[oai(name = "state")]
        hazard_state: Query<Option<HazardState>>,
        /// `general` (一般) or `major` (重大).
        level: Query<Option<HazardLevel>>,
        /// Only open hazards past their deadline (`true`), or only the others (`false`).
        overdue: Query<Option<bool>>,
        /// Grid code.
        grid: Query<Option<String>>,
        /// Enterprise id.
        enterprise: Query<Option<String>>,
        /// Only records whose every cited photo the server holds (证据完整, `true`), or only those
        /// still missing some (`false`).
        evidence_complete: Query<Option<bool>>,
        /// Start after this id (the previous page's `next_after`).
        after: Query<Option<String>>,
        /// Items per page, 1 to 500.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<u32>,
    ) -> Result<Json<ListPage>, ApiError> {
        let filter = HazardFilter {
            state: name(hazard_state.0),
            level: name(level.0),
            overdue: overdue.0,
            today: today(),
            grid: grid.0,
            enterprise: enterprise.0,
            evidence_complete: evidence_complete.0,
            ..HazardFilter::default()
        };
        let page = Office::hazards(
            &state.sync,
            &auth.0,
            &filter,
            after.0.as_deref(),
            limit.0 as usize,
        )
        .await?;
        wire(page)
    }

    /// Shift meetings (班组安全交接会台账), by enterprise, team and date range.
    #[oai(
        path = "/v1/office/meetings",
        method = "get",
        operation_id = "list_meetings"
    )]
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per query parameter"
    )]
    async fn meetings(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// Enterprise id.
        enterprise: Query<Option<String>>,
        /// Team id.
        team: Query<Option<String>>,
        /// First date, `YYYY-MM-DD`, inclusive.
        from: Query<Option<String>>,
        /// Last date, inclusive.
        to: Query<Option<String>>,
        /// Only records whose every cited photo the server holds (证据完整, `true`), or only those
        /// still missing some (`false`).
        evidence_complete: Query<Option<bool>>,
        /// Start after this id.
        after: Query<Option<String>>,
        /// Items per page, 1 to 500.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<u32>,
    ) -> Result<Json<ListPage>, ApiError> {
        let filter = MeetingFilter {
            enterprise: enterprise.0,
            team: team.0,
            from: date("from", from.0)?,
            to: date("to", to.0)?,
            evidence_complete: evidence_complete.0,
        };
        let page = Office::meetings(
            &state.sync,
            &auth.0,
            &filter,
            after.0.as_deref(),
            limit.0 as usize,
        )
        .await?;
        wire(page)
    }

    /// Inspections (检查台账), by enterprise, kind and start time.
    #[oai(
        path = "/v1/office/inspections",
        method = "get",
        operation_id = "list_inspections"
    )]
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per query parameter"
    )]
    async fn inspections(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// Enterprise id.
        enterprise: Query<Option<String>>,
        /// `self_check`, `grid_patrol`, `enforcement`, `special_campaign`, `recheck`.
        kind: Query<Option<InspectionKind>>,
        /// Started at or after, ms since the epoch.
        from_ms: Query<Option<i64>>,
        /// Started at or before, ms since the epoch.
        to_ms: Query<Option<i64>>,
        /// Only records whose every cited photo the server holds (证据完整, `true`), or only those
        /// still missing some (`false`).
        evidence_complete: Query<Option<bool>>,
        /// Start after this id.
        after: Query<Option<String>>,
        /// Items per page, 1 to 500.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<u32>,
    ) -> Result<Json<ListPage>, ApiError> {
        let filter = InspectionFilter {
            enterprise: enterprise.0,
            kind: name(kind.0),
            from_ms: from_ms.0,
            to_ms: to_ms.0,
            evidence_complete: evidence_complete.0,
            grid: None,
        };
        let page = Office::inspections(
            &state.sync,
            &auth.0,
            &filter,
            after.0.as_deref(),
            limit.0 as usize,
        )
        .await?;
        wire(page)
    }

    /// The town's enterprises on a map (一张图) as GeoJSON: a point per enterprise the caller
    /// reads that has a location, with its name, grid, risk colour (风险等级) and supervision
    /// flags, by grid and risk colour (`none`: not yet assessed).
    #[oai(
        path = "/v1/office/map",
        method = "get",
        operation_id = "enterprise_map"
    )]
    async fn map(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// Grid code.
        grid: Query<Option<String>>,
        /// `red`, `orange`, `yellow`, `blue` or `none`.
        risk_colour: Query<Option<MapColour>>,
    ) -> Result<Json<FeatureCollection>, ApiError> {
        let points = Office::map(
            &state.sync,
            &auth.0,
            grid.0.as_deref(),
            name(risk_colour.0).as_deref(),
        )
        .await?;
        Ok(Json(FeatureCollection {
            kind: "FeatureCollection".into(),
            features: points
                .into_iter()
                .map(|p| Feature {
                    kind: "Feature".into(),
                    id: p.id.clone(),
                    geometry: Point {
                        kind: "Point".into(),
                        // GeoJSON: longitude first, in degrees.
                        coordinates: vec![p.lng_e6 as f64 / 1e6, p.lat_e6 as f64 / 1e6],
                    },
                    properties: MapProperties {
                        name: p.name,
                        grid: p.grid,
                        risk_colour: p.risk_colour,
                        flags: p.flags,
                    },
                })
                .collect(),
        }))
    }

    /// Enterprises (企业台账), by grid, risk colour, and name or credit code.
    #[oai(
        path = "/v1/office/enterprises",
        method = "get",
        operation_id = "search_enterprises"
    )]
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per query parameter"
    )]
    async fn enterprises(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// Grid code.
        grid: Query<Option<String>>,
        /// `red`, `orange`, `yellow`, `blue`: the enterprise's colour — its highest live risk
        /// point's (风险点), or the office's grading where it has none or gives a reason. The
        /// records returned carry the office's own `risk_colour`; the map (`/v1/office/map`)
        /// gives the colour itself.
        risk_colour: Query<Option<RiskColour>>,
        /// Part of the name, or of the credit code.
        q: Query<Option<String>>,
        /// Start after this id.
        after: Query<Option<String>>,
        /// Items per page, 1 to 500.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<u32>,
    ) -> Result<Json<ListPage>, ApiError> {
        let filter = EnterpriseFilter {
            grid: grid.0,
            text: q.0,
            risk_colour: name(risk_colour.0),
        };
        let page = Office::enterprises(
            &state.sync,
            &auth.0,
            &filter,
            after.0.as_deref(),
            limit.0 as usize,
        )
        .await?;
        wire(page)
    }

    /// Duty compliance (履职情况) from `from` to `to`: for each team with a schedule (班组工作日历)
    /// the caller reads, its shift meetings and pre-shift briefings (岗前一分钟) due, done on
    /// time, late (补录) and missed, summed by enterprise, grid and town, with the missed meetings
    /// listed. A day is counted once it is over.
    #[oai(
        path = "/v1/office/compliance",
        method = "get",
        operation_id = "duty_compliance"
    )]
    async fn compliance(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// First day, `YYYY-MM-DD`.
        from: Query<String>,
        /// Last day, `YYYY-MM-DD`; at most 366 days after `from`.
        to: Query<String>,
        /// Grid code.
        grid: Query<Option<String>>,
        /// Enterprise id.
        enterprise: Query<Option<String>>,
    ) -> Result<Json<ComplianceReport>, ApiError> {
        let period = crate::service::compliance::period(&from.0, &to.0).map_err(|err| {
            ApiError::new(
                poem::http::StatusCode::BAD_REQUEST,
                "invalid-parameter",
                format!("{err} (履职统计期间)"),
            )
        })?;
        let found = Office::compliance(
            &state.sync,
            &auth.0,
            period,
            grid.0.as_deref(),
            enterprise.0.as_deref(),
        )
        .await?;
        let sums = |map: &std::collections::BTreeMap<String, crate::service::compliance::Tally>| {
            map.iter()
                .map(|(key, tally)| DutySum {
                    key: key.clone(),
                    tally: tally.into(),
                })
                .collect()
        };
        Ok(Json(ComplianceReport {
            town: (&found.town).into(),
            grids: sums(&found.grids),
            enterprises: sums(&found.enterprises),
            teams: found
                .teams
                .iter()
                .map(|t| TeamDuty {
                    enterprise: t.enterprise.clone(),
                    team: t.team.clone(),
                    grid: t.grid.clone(),
                    tally: (&t.tally).into(),
                })
                .collect(),
            missed: found
                .missed
                .into_iter()
                .map(|m| MissedDuty {
                    day: m.day,
                    enterprise: m.enterprise,
                    team: m.team,
                    shift: m.shift,
                    slot: m.slot,
                })
                .collect(),
            missed_cut: found.missed_cut,
            commitments: CommitmentSummary {
                year: found.commitments.year,
                signed: found.commitments.signed,
                unsigned: found.commitments.unsigned,
            },
            from: found.from,
            to: found.to,
        }))
    }

    /// What is due for me today (今日待办): a team lead's meetings and briefings (岗前一分钟), a
    /// safety manager's self-checks, hazards to rectify, certificates expiring within 30 days
    /// and the year's commitment, an inspector's acceptances and the enterprises of their grids
    /// not inspected this month — overdue first.
    #[oai(path = "/v1/me/due", method = "get", operation_id = "my_due_list")]
    async fn due(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> Result<Json<DueList>, ApiError> {
        let today_s = today();
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let day = time::Date::parse(&today_s, &format).map_err(|err| {
            ApiError::new(
                poem::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("today's date: {err}"),
            )
        })?;
        let items = Office::due(&state.sync, &auth.0, day).await?;
        Ok(Json(DueList {
            today: today_s,
            items: items
                .into_iter()
                .map(|i| DueEntry {
                    kind: i.kind.to_string(),
                    title: i.title,
                    id: i.id,
                    day: i.day,
                    overdue: i.overdue,
                    done: i.done,
                })
                .collect(),
        }))
    }
}
