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
        /// `red`, `orange`, `yellow`, `blue`.
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
}
