//! Office queries (台账查询): the web side's lists of enterprises, hazards and meetings, filtered,
//! paged and in a stable order (by id; ids are UUIDv7 or derived, so new records sort last among
//! device-made ones). A caller sees exactly what a pull would give them: the entities in their
//! buckets.
//!
//! The lists read the type index and filter in memory: a town holds thousands of records, which
//! this does in milliseconds. A province-sized store would add per-filter indexes behind the same
//! calls.

use std::collections::BTreeSet;

use anjian_sync::entity::EntityType;
use anjian_sync::kinds::hazard::Hazard;
use anjian_sync::protocol::{JudgedEvent, Projection};

use super::accounts::Caller;
use super::sync::{SyncError, SyncService};

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

/// A page: the items after `after`, and where the next page starts.
#[derive(Debug)]
pub struct Page {
    /// Items in id order.
    pub items: Vec<Projection>,
    /// The last item's id when more follow.
    pub next_after: Option<String>,
}

fn text(body: &serde_json::Value, field: &str) -> String {
    body[field].as_str().unwrap_or_default().to_string()
}

/// The office queries.
#[derive(Debug)]
pub struct Office;

impl Office {
    async fn visible(
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

    fn page(
        items: impl Iterator<Item = Projection>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, SyncError> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(SyncError::Invalid {
                field: "limit",
                message: format!("must be between 1 and {MAX_PAGE}"),
            });
        }
        let mut items: Vec<Projection> = items
            .filter(|p| after.is_none_or(|after| p.entity.id.as_str() > after))
            .collect();
        items.sort_by(|a, b| a.entity.id.cmp(&b.entity.id));
        let more = items.len() > limit;
        items.truncate(limit);
        let next_after = more
            .then(|| items.last().map(|p| p.entity.id.clone()))
            .flatten();
        Ok(Page { items, next_after })
    }

    /// Hazards the caller sees, filtered: a page of them.
    pub async fn hazards(
        sync: &SyncService,
        caller: &Caller,
        filter: &HazardFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, SyncError> {
        let matches = Office::all_hazards(sync, caller, filter).await?;
        Office::page(matches.into_iter(), after, limit)
    }

    /// Every hazard the caller sees that the filter takes, in id order (for exports).
    pub async fn all_hazards(
        sync: &SyncService,
        caller: &Caller,
        filter: &HazardFilter,
    ) -> Result<Vec<Projection>, SyncError> {
        let visible = Office::visible(sync, caller, EntityType::Hazard).await?;
        let mut matches: Vec<Projection> = visible
            .into_iter()
            .filter(|p| {
                let body = &p.entity.body;
                let overdue = serde_json::from_value::<Hazard>(body.clone())
                    .map(|h| h.is_overdue(&filter.today))
                    .unwrap_or(false);
                filter
                    .state
                    .as_deref()
                    .is_none_or(|s| text(body, "state") == s)
                    && filter
                        .level
                        .as_deref()
                        .is_none_or(|l| text(body, "level") == l)
                    && filter.overdue.is_none_or(|o| o == overdue)
                    && filter
                        .grid
                        .as_deref()
                        .is_none_or(|g| text(body, "grid_id") == g)
                    && filter
                        .enterprise
                        .as_deref()
                        .is_none_or(|e| text(body, "enterprise_id") == e)
                    && evidence(p, filter.evidence_complete)
            })
            .collect();
        matches.sort_by(|a, b| a.entity.id.cmp(&b.entity.id));
        Ok(matches)
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

    /// Meetings the caller sees, filtered.
    pub async fn meetings(
        sync: &SyncService,
        caller: &Caller,
        filter: &MeetingFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, SyncError> {
        let visible = Office::visible(sync, caller, EntityType::Meeting).await?;
        let matches = visible.into_iter().filter(|p| {
            let body = &p.entity.body;
            let date = text(body, "date");
            filter
                .enterprise
                .as_deref()
                .is_none_or(|e| text(body, "enterprise_id") == e)
                && filter
                    .team
                    .as_deref()
                    .is_none_or(|t| text(body, "team_id") == t)
                && filter
                    .from
                    .as_deref()
                    .is_none_or(|from| date.as_str() >= from)
                && filter.to.as_deref().is_none_or(|to| date.as_str() <= to)
                && evidence(p, filter.evidence_complete)
        });
        Office::page(matches, after, limit)
    }

    /// Inspections the caller sees, by enterprise, kind and date range (of their start): a page.
    pub async fn inspections(
        sync: &SyncService,
        caller: &Caller,
        filter: &InspectionFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, SyncError> {
        let matches = Office::all_inspections(sync, caller, filter).await?;
        Office::page(matches.into_iter(), after, limit)
    }

    /// Every inspection the caller sees that the filter takes, in id order (for exports).
    pub async fn all_inspections(
        sync: &SyncService,
        caller: &Caller,
        filter: &InspectionFilter,
    ) -> Result<Vec<Projection>, SyncError> {
        let visible = Office::visible(sync, caller, EntityType::Inspection).await?;
        let mut matches: Vec<Projection> = visible
            .into_iter()
            .filter(|p| {
                let body = &p.entity.body;
                let started = body["started_at_ms"].as_i64().unwrap_or(0);
                filter
                    .enterprise
                    .as_deref()
                    .is_none_or(|e| text(body, "enterprise_id") == e)
                    && filter
                        .kind
                        .as_deref()
                        .is_none_or(|k| text(body, "kind") == k)
                    && filter.from_ms.is_none_or(|from| started >= from)
                    && filter.to_ms.is_none_or(|to| started <= to)
                    && evidence(p, filter.evidence_complete)
            })
            .collect();
        matches.sort_by(|a, b| a.entity.id.cmp(&b.entity.id));
        Ok(matches)
    }

    /// Enterprises the caller sees, filtered.
    pub async fn enterprises(
        sync: &SyncService,
        caller: &Caller,
        filter: &EnterpriseFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, SyncError> {
        let visible = Office::visible(sync, caller, EntityType::Enterprise).await?;
        let matches = visible.into_iter().filter(|p| {
            let body = &p.entity.body;
            filter
                .grid
                .as_deref()
                .is_none_or(|g| text(body, "grid_id") == g)
                && filter
                    .risk_colour
                    .as_deref()
                    .is_none_or(|r| text(body, "risk_colour") == r)
                && filter.text.as_deref().is_none_or(|t| {
                    text(body, "name").contains(t)
                        || text(body, "credit_code").contains(&t.to_ascii_uppercase())
                })
        });
        Office::page(matches, after, limit)
    }
}

/// Whether a record's evidence is as asked: complete (no cited photo missing) or not.
fn evidence(projection: &Projection, complete: Option<bool>) -> bool {
    complete.is_none_or(|complete| complete == projection.missing_blobs.is_empty())
}
