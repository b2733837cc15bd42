//! Office queries (台账查询): the web side's lists of enterprises, hazards and meetings, filtered,
//! paged and in a stable order (by id; ids are UUIDv7 or derived, so new records sort last among
//! device-made ones). A caller sees exactly what a pull would give them: the entities in their
//! buckets.
//!
//! The lists filter the office's facts ([`crate::store::facts`]): a compact row per record, kept
//! as records change, so a list decodes only the projections of the page it shows.

use std::collections::BTreeSet;

use anjian_sync::entity::EntityType;
use anjian_sync::kinds::commitment::Commitment;
use anjian_sync::protocol::{JudgedEvent, Projection};

use super::accounts::Caller;
use super::sync::{SyncError, SyncService};
use crate::store::facts::{self, FactView};

/// The most items one page returns.
pub const MAX_PAGE: usize = 500;

/// Filters for hazards (隐患).
#[derive(Debug, Default, Clone)]
pub struct HazardFilter {
    /// Lifecycle state (`reported`, `rectifying`, …).
    pub state: Option<String>,
    /// `general` or `major`.
    pub level: Option<String>,
    /// Only open hazards past their deadline (as of `today`), or only those not overdue.
    pub overdue: Option<bool>,
    /// Today, `YYYY-MM-DD`, for `overdue`.
    pub today: String,
    /// Grid.
    pub grid: Option<String>,
    /// Enterprise.
    pub enterprise: Option<String>,
    /// Only evidentially complete records (every cited photo present), or only incomplete ones.
    pub evidence_complete: Option<bool>,
    /// Reported in this month (`YYYY-MM`, China time).
    pub month: Option<String>,
    /// Closed (销号) in this month.
    pub closed_month: Option<String>,
    /// Found in this inspection.
    pub inspection: Option<String>,
}

/// Filters for meetings (班组安全交接会).
#[derive(Debug, Default, Clone)]
pub struct MeetingFilter {
    /// Enterprise.
    pub enterprise: Option<String>,
    /// Team.
    pub team: Option<String>,
    /// First date, `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// Last date, inclusive.
    pub to: Option<String>,
    /// Only evidentially complete records (every cited photo present), or only incomplete ones.
    pub evidence_complete: Option<bool>,
}

/// Filters for inspections (检查).
#[derive(Debug, Default, Clone)]
pub struct InspectionFilter {
    /// Enterprise.
    pub enterprise: Option<String>,
    /// Kind (`grid_patrol`, `enforcement`, …).
    pub kind: Option<String>,
    /// Grid.
    pub grid: Option<String>,
    /// Started at or after, ms.
    pub from_ms: Option<i64>,
    /// Started at or before, ms.
    pub to_ms: Option<i64>,
    /// Only evidentially complete records (every cited photo present), or only incomplete ones.
    pub evidence_complete: Option<bool>,
}

/// Filters for enterprises (企业).
#[derive(Debug, Default, Clone)]
pub struct EnterpriseFilter {
    /// Grid.
    pub grid: Option<String>,
    /// Part of the name or the credit code.
    pub text: Option<String>,
    /// Risk colour.
    pub risk_colour: Option<String>,
}

/// Filters for sync issues (同步问题): events the server kept but did not apply.
#[derive(Debug, Default, Clone)]
pub struct IssueFilter {
    /// `open` or `handled`.
    pub state: Option<String>,
    /// `conflict` or `quarantined`.
    pub verdict: Option<String>,
}

/// Sync issues, newest first.
#[derive(Debug)]
pub struct Issues {
    /// The page asked for.
    pub items: Vec<Projection>,
    /// How many the filter takes in all.
    pub total: usize,
}

/// A page: the items after `after`, and where the next page starts.
#[derive(Debug)]
pub struct Page {
    /// Items in id order.
    pub items: Vec<Projection>,
    /// The last item's id when more follow.
    pub next_after: Option<String>,
}

/// An enterprise on the map (一张图): where it is and its risk colour.
#[derive(Debug, Clone, PartialEq)]
pub struct MapPoint {
    /// The enterprise's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its grid's code.
    pub grid: String,
    /// `red`, `orange`, `yellow`, `blue`, or `None` before it is assessed.
    pub risk_colour: Option<String>,
    /// Its supervision flags that are set (`ammonia_refrigeration` …).
    pub flags: Vec<String>,
    /// Latitude × 10⁶ (WGS 84).
    pub lat_e6: i64,
    /// Longitude × 10⁶.
    pub lng_e6: i64,
}

/// The office queries.
#[derive(Debug)]
pub struct Office;

/// Whether one who reads `mine` (sorted) reads a record that is not `deleted` and lies in
/// `buckets`.
fn readable<'b>(
    deleted: bool,
    mut buckets: impl Iterator<Item = &'b str>,
    mine: &[String],
) -> bool {
    !deleted && buckets.any(|b| mine.binary_search_by(|m| m.as_str().cmp(b)).is_ok())
}

fn is(wanted: Option<&str>, value: &str) -> bool {
    wanted.is_none_or(|w| w == value)
}

impl Office {
    pub(crate) async fn visible(
        sync: &SyncService,
        caller: &Caller,
        entity_type: EntityType,
    ) -> Result<Vec<Projection>, SyncError> {
        let mine: BTreeSet<String> = caller
            .user
            .grant
            .buckets(&caller.user.id.to_string())
            .into_iter()
            .collect();
        let all = sync.entities_of_type(entity_type).await?;
        Ok(all
            .into_iter()
            .filter(|p| !p.entity.deleted && p.buckets.iter().any(|b| mine.contains(b)))
            .collect())
    }

    /// The principals' commitments (安全承诺, `commitment.sign`) of `year` the caller reads, by
    /// enterprise id.
    pub(crate) async fn commitments(
        sync: &SyncService,
        caller: &Caller,
        year: &str,
    ) -> Result<std::collections::HashMap<String, Commitment>, SyncError> {
        Ok(Office::visible(sync, caller, EntityType::Commitment)
            .await?
            .into_iter()
            .filter_map(|p| serde_json::from_value::<Commitment>(p.entity.body).ok())
            .filter(|c| c.content.year == year)
            .map(|c| (c.content.enterprise_id.clone(), c))
            .collect())
    }

    /// The ids, in order after `after`, of up to `limit` records of `entity_type` the caller
    /// reads whose facts `take` accepts: read from the facts, in id order, stopping once
    /// `limit` are found, without decoding a projection.
    async fn matching(
        sync: &SyncService,
        caller: &Caller,
        entity_type: EntityType,
        after: Option<&str>,
        limit: usize,
        take: impl Fn(&FactView<'_>) -> bool + Send + 'static,
    ) -> Result<Vec<String>, SyncError> {
        let mine = caller.user.grant.buckets(&caller.user.id.to_string());
        sync.facts_where(
            entity_type,
            after.map(str::to_string),
            limit,
            Some(mine),
            move |fact| !fact.deleted && take(fact),
        )
        .await
    }

    /// A page of the records `take` accepts after `after`: their projections, decoded now.
    async fn page(
        sync: &SyncService,
        caller: &Caller,
        entity_type: EntityType,
        after: Option<&str>,
        limit: usize,
        take: impl Fn(&FactView<'_>) -> bool + Send + 'static,
    ) -> Result<Page, SyncError> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(SyncError::Invalid {
                field: "limit",
                message: format!("must be between 1 and {MAX_PAGE}"),
            });
        }
        let mut chosen =
            Office::matching(sync, caller, entity_type, after, limit + 1, take).await?;
        let more = chosen.len() > limit;
        chosen.truncate(limit);
        let items = sync.entities(chosen).await?;
        let next_after = more
            .then(|| items.last().map(|p| p.entity.id.clone()))
            .flatten();
        Ok(Page { items, next_after })
    }

    /// Every record `take` accepts, decoded (for exports).
    async fn all(
        sync: &SyncService,
        caller: &Caller,
        entity_type: EntityType,
        take: impl Fn(&FactView<'_>) -> bool + Send + 'static,
    ) -> Result<Vec<Projection>, SyncError> {
        let ids = Office::matching(sync, caller, entity_type, None, usize::MAX, take).await?;
        sync.entities(ids).await
    }

    fn hazard_filter(filter: &HazardFilter) -> impl Fn(&FactView<'_>) -> bool + Send + 'static {
        let filter = filter.clone();
        move |f: &FactView<'_>| {
            let open = f.state != "closed" && f.state != "void";
            let overdue = open && !f.deadline.is_empty() && f.deadline < filter.today.as_str();
            is(filter.state.as_deref(), f.state)
                && is(filter.level.as_deref(), f.level)
                && filter.overdue.is_none_or(|o| o == overdue)
                && is(filter.grid.as_deref(), f.grid)
                && is(filter.enterprise.as_deref(), f.enterprise)
                && is(filter.inspection.as_deref(), f.parent)
                && is(filter.month.as_deref(), facts::month(f.day))
                && filter
                    .closed_month
                    .as_deref()
                    .is_none_or(|m| f.state == "closed" && facts::month(f.closed_day) == m)
                && filter
                    .evidence_complete
                    .is_none_or(|e| e == f.evidence_complete)
        }
    }

    /// Hazards the caller sees, filtered: a page of them.
    pub async fn hazards(
        sync: &SyncService,
        caller: &Caller,
        filter: &HazardFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, SyncError> {
        let take = Office::hazard_filter(filter);
        Office::page(sync, caller, EntityType::Hazard, after, limit, take).await
    }

    /// Every hazard the caller sees that the filter takes, in id order (for exports).
    pub async fn all_hazards(
        sync: &SyncService,
        caller: &Caller,
        filter: &HazardFilter,
    ) -> Result<Vec<Projection>, SyncError> {
        Office::all(
            sync,
            caller,
            EntityType::Hazard,
            Office::hazard_filter(filter),
        )
        .await
    }

    /// The enterprises the caller reads that have a location, by grid and risk colour
    /// (`none`: not assessed), for the map (一张图). The colour is the highest of the
    /// enterprise's live risk points (风险点), or the office's grading where it has none or the
    /// office gives a reason for its own.
    pub async fn map(
        sync: &SyncService,
        caller: &Caller,
        grid: Option<&str>,
        risk_colour: Option<&str>,
    ) -> Result<Vec<MapPoint>, SyncError> {
        let visible = Office::visible(sync, caller, EntityType::Enterprise).await?;
        // The colour the facts keep: the highest live risk point's, or the office's.
        let colours: std::collections::HashMap<String, String> = sync
            .facts(EntityType::Enterprise)
            .await?
            .into_iter()
            .map(|(id, fact)| (id, fact.state))
            .collect();
        let mut points: Vec<MapPoint> = visible
            .into_iter()
            .filter_map(|p| {
                let body = &p.entity.body;
                let location = &body["location"];
                let colour = colours.get(&p.entity.id).filter(|c| !c.is_empty()).cloned();
                let point = MapPoint {
                    name: body["name"].as_str()?.to_string(),
                    grid: body["grid_id"].as_str().unwrap_or_default().to_string(),
                    flags: body["flags"]
                        .as_object()
                        .map(|flags| {
                            flags
                                .iter()
                                .filter(|(_, on)| on.as_bool() == Some(true))
                                .map(|(name, _)| name.clone())
                                .collect()
                        })
                        .unwrap_or_default(),
                    lat_e6: location["lat_e6"].as_i64()?,
                    lng_e6: location["lng_e6"].as_i64()?,
                    id: p.entity.id.clone(),
                    risk_colour: colour,
                };
                let colour_matches = risk_colour
                    .is_none_or(|wanted| point.risk_colour.as_deref().unwrap_or("none") == wanted);
                (is(grid, &point.grid) && colour_matches).then_some(point)
            })
            .collect();
        points.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(points)
    }

    /// Every article (宣传稿件) the caller reads: their own drafts, those waiting for review
    /// when they review, the published ones.
    pub async fn articles(
        sync: &SyncService,
        caller: &Caller,
    ) -> Result<Vec<Projection>, SyncError> {
        Office::visible(sync, caller, EntityType::Article).await
    }

    /// One record of `entity_type` the caller reads, with the events that changed it, oldest
    /// first; `None` when there is no such record or the caller may not read it (the two are
    /// not told apart).
    pub async fn record(
        sync: &SyncService,
        caller: &Caller,
        entity_type: EntityType,
        id: &str,
    ) -> Result<Option<(Projection, Vec<JudgedEvent>)>, SyncError> {
        let Some(projection) = sync.entity(id).await? else {
            return Ok(None);
        };
        let buckets = caller.user.grant.buckets(&caller.user.id.to_string());
        if projection.entity.entity_type != entity_type
            || !crate::store::reads_through(&projection, &buckets)
        {
            return Ok(None);
        }
        let events = sync.entity_events(id).await?;
        Ok(Some((projection, events)))
    }

    fn meeting_filter(filter: &MeetingFilter) -> impl Fn(&FactView<'_>) -> bool + Send + 'static {
        let filter = filter.clone();
        move |f: &FactView<'_>| {
            is(filter.enterprise.as_deref(), f.enterprise)
                && is(filter.team.as_deref(), f.team)
                && filter.from.as_deref().is_none_or(|from| f.day >= from)
                && filter.to.as_deref().is_none_or(|to| f.day <= to)
                && filter
                    .evidence_complete
                    .is_none_or(|e| e == f.evidence_complete)
        }
    }

    /// Meetings the caller sees, filtered.
    pub async fn meetings(
        sync: &SyncService,
        caller: &Caller,
        filter: &MeetingFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, SyncError> {
        let take = Office::meeting_filter(filter);
        Office::page(sync, caller, EntityType::Meeting, after, limit, take).await
    }

    /// Every meeting the caller sees that the filter takes, in id order.
    pub async fn all_meetings(
        sync: &SyncService,
        caller: &Caller,
        filter: &MeetingFilter,
    ) -> Result<Vec<Projection>, SyncError> {
        let take = Office::meeting_filter(filter);
        Office::all(sync, caller, EntityType::Meeting, take).await
    }

    fn inspection_filter(
        filter: &InspectionFilter,
    ) -> impl Fn(&FactView<'_>) -> bool + Send + 'static {
        let filter = filter.clone();
        move |f: &FactView<'_>| {
            is(filter.enterprise.as_deref(), f.enterprise)
                && is(filter.kind.as_deref(), f.state)
                && is(filter.grid.as_deref(), f.grid)
                && filter.from_ms.is_none_or(|from| f.at_ms >= from)
                && filter.to_ms.is_none_or(|to| f.at_ms <= to)
                && filter
                    .evidence_complete
                    .is_none_or(|e| e == f.evidence_complete)
        }
    }

    /// Inspections the caller sees, by enterprise, kind and date range (of their start): a page.
    pub async fn inspections(
        sync: &SyncService,
        caller: &Caller,
        filter: &InspectionFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, SyncError> {
        let take = Office::inspection_filter(filter);
        Office::page(sync, caller, EntityType::Inspection, after, limit, take).await
    }

    /// Every inspection the caller sees that the filter takes, in id order (for exports).
    pub async fn all_inspections(
        sync: &SyncService,
        caller: &Caller,
        filter: &InspectionFilter,
    ) -> Result<Vec<Projection>, SyncError> {
        let take = Office::inspection_filter(filter);
        Office::all(sync, caller, EntityType::Inspection, take).await
    }

    /// The sync issues the caller reads that the filter takes, newest first (by the time their
    /// event was captured): `limit` of them after the first `skip`, and how many there are. Their ids are derived, so their
    /// order comes from the facts, and only the shown ones are decoded.
    pub async fn sync_issues(
        sync: &SyncService,
        caller: &Caller,
        filter: &IssueFilter,
        skip: usize,
        limit: usize,
    ) -> Result<Issues, SyncError> {
        let mine = caller.user.grant.buckets(&caller.user.id.to_string());
        let mut taken: Vec<(i64, String)> = sync
            .facts(EntityType::SyncIssue)
            .await?
            .into_iter()
            .filter(|(_, f)| {
                readable(f.deleted, f.buckets.iter().map(String::as_str), &mine)
                    && is(filter.state.as_deref(), &f.state)
                    && is(filter.verdict.as_deref(), &f.level)
            })
            .map(|(id, f)| (f.at_ms, id))
            .collect();
        let total = taken.len();
        taken.sort_unstable_by(|a, b| b.cmp(a));
        let shown = taken
            .into_iter()
            .skip(skip)
            .take(limit)
            .map(|(_, id)| id)
            .collect();
        let items = sync.entities(shown).await?;
        Ok(Issues { items, total })
    }

    /// Enterprises the caller sees, filtered.
    pub async fn enterprises(
        sync: &SyncService,
        caller: &Caller,
        filter: &EnterpriseFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, SyncError> {
        let filter = filter.clone();
        let upper = filter.text.as_deref().map(str::to_ascii_uppercase);
        let take = move |f: &FactView<'_>| {
            is(filter.grid.as_deref(), f.grid)
                && is(filter.risk_colour.as_deref(), f.state)
                && filter.text.as_deref().is_none_or(|t| {
                    f.label.contains(t) || upper.as_deref().is_some_and(|u| f.code.contains(u))
                })
        };
        Office::page(sync, caller, EntityType::Enterprise, after, limit, take).await
    }
}
