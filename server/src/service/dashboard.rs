//! The office's dashboard figures (考核看板) for a month and a set of grids, read from the
//! counters the store keeps as records change ([`crate::store::facts`]): a few hundred counter
//! reads, whatever the store holds.

use std::collections::BTreeMap;

use anjian_sync::access::Role;

use super::accounts::Caller;
use super::compliance::{Tally, period};
use super::office::Office;
use super::sync::{SyncError, SyncService};
use crate::store::facts::key;

/// What a caller's dashboard covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Coverage {
    /// The whole town: admins, leaders, town-wide inspectors.
    Town,
    /// A grid inspector's grids.
    Grids(Vec<String>),
    /// No dashboard: the other roles' records are not a town's figures.
    Nothing,
}

/// What `caller`'s dashboard covers.
pub fn covered(caller: &Caller) -> Coverage {
    let grant = &caller.user.grant;
    let scopes = grant.scopes();
    if grant.has(Role::Admin)
        || grant.has(Role::Leader)
        || (grant.has(Role::Inspector) && scopes.town)
    {
        Coverage::Town
    } else if grant.has(Role::Inspector) && !scopes.grids.is_empty() {
        Coverage::Grids(scopes.grids.clone())
    } else {
        Coverage::Nothing
    }
}

/// One month's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// Enterprises registered (now).
    pub enterprises: u64,
    /// Enterprises inspected at least once in the month (全覆盖).
    pub inspected: u64,
    /// Inspections started in the month.
    pub inspections: u64,
    /// Of those, by kind (`grid_patrol`, …).
    pub by_kind: BTreeMap<String, u64>,
    /// Hazards reported in the month (void ones aside).
    pub hazards_found: u64,
    /// Of those, closed since (销号).
    pub found_closed: u64,
    /// Hazards closed in the month, whenever reported.
    pub hazards_closed: u64,
    /// Hazards open now.
    pub open_now: u64,
    /// Open hazards past their deadline today (逾期).
    pub overdue_now: u64,
    /// Major hazards open now (重大隐患).
    pub major_open: u64,
    /// Of those, with both reports (双报告).
    pub major_double_reported: u64,
    /// Shift meetings held (on time or late) in the month's days up to yesterday, of those the
    /// teams' working calendars made due ([`Office::compliance`]).
    pub meetings_held: u64,
    /// Shift meetings the teams' working calendars made due in the month up to yesterday.
    pub meetings_expected: u64,
    /// Records of the month (hazards, inspections, meetings).
    pub records: u64,
    /// Of those, with every photo held.
    pub records_complete: u64,
    /// Sync issues (同步问题) waiting for the office now.
    pub sync_issues_open: u64,
}

impl Figures {
    /// The rectification rate (整改率) in per mille: closed of those found in the month.
    pub fn rectification_permille(&self) -> Option<u64> {
        permille(self.found_closed, self.hazards_found)
    }

    /// Coverage (全覆盖) in per mille.
    pub fn coverage_permille(&self) -> Option<u64> {
        permille(self.inspected, self.enterprises)
    }

    /// Shift-meeting compliance in per mille (held of expected, at most 1000).
    pub fn meetings_permille(&self) -> Option<u64> {
        permille(self.meetings_held, self.meetings_expected).map(|p| p.min(1000))
    }

    /// Evidence completeness in per mille.
    pub fn evidence_permille(&self) -> Option<u64> {
        permille(self.records_complete, self.records)
    }
}

fn permille(part: u64, whole: u64) -> Option<u64> {
    (whole > 0).then(|| part.saturating_mul(1000) / whole)
}

/// How many days of `month` (`YYYY-MM`) have begun by `today` (`YYYY-MM-DD`): all of a past
/// month, none of a future one.
pub fn days_begun(month: &str, today: &str) -> u64 {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let Ok(first) = time::Date::parse(&format!("{month}-01"), &format) else {
        return 0;
    };
    let Ok(today) = time::Date::parse(today, &format) else {
        return 0;
    };
    let days_in_month = u64::from(first.month().length(first.year()));
    if today < first {
        0
    } else if crate::store::facts::month(&today.to_string()) == month {
        u64::from(today.day())
    } else {
        days_in_month
    }
}

/// The month before `month` (`YYYY-MM`).
pub fn previous_month(month: &str) -> String {
    let year: i32 = month.get(..4).and_then(|y| y.parse().ok()).unwrap_or(1970);
    let number: u32 = month.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1);
    if number <= 1 {
        format!("{:04}-12", year - 1)
    } else {
        format!("{year:04}-{:02}", number - 1)
    }
}

/// The counters under the keys the figures read, summed over the covered grids.
struct Counters {
    grids: Option<Vec<String>>,
    rows: BTreeMap<String, u64>,
}

impl Counters {
    fn covers(&self, grid: &str) -> bool {
        self.grids
            .as_ref()
            .is_none_or(|grids| grids.iter().any(|g| g == grid))
    }

    /// The sum of `metric|period|*` over the covered grids.
    fn sum(&self, metric: &str, period: &str) -> u64 {
        let prefix = key(metric, period, "");
        self.rows
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| {
                let grid = &k[prefix.len()..];
                !grid.contains('|') && self.covers(grid)
            })
            .map(|(_, v)| *v)
            .sum()
    }

    /// How many enterprises the office inspected in `month` over the covered grids: the
    /// `office_inspected|month|grid|enterprise` keys (an enterprise's own self-check is not the
    /// office's coverage, 全覆盖).
    fn distinct_inspected(&self, month: &str) -> u64 {
        let prefix = format!("office_inspected|{month}|");
        let count = self
            .rows
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| {
                let rest = &k[prefix.len()..];
                rest.split_once('|')
                    .is_some_and(|(grid, _)| self.covers(grid))
            })
            .count();
        u64::try_from(count).unwrap_or(u64::MAX)
    }
}

/// The dashboard's figures for `months` (each `YYYY-MM`), over `grids` (`None`: the town), as
/// of `today`, as `caller` reads them; the shift meetings are the compliance of the month
/// ([`Office::compliance`]), of `grid` when one grid is asked for.
pub async fn figures(
    sync: &SyncService,
    caller: &Caller,
    (grids, grid): (Option<Vec<String>>, Option<&str>),
    months: &[String],
    today: &str,
) -> Result<Vec<Figures>, SyncError> {
    let mut prefixes: Vec<String> = [
        "enterprises|-|",
        "hazards_open|-|",
        "major_open|-|",
        "major_open_double_reported|-|",
        "open_by_deadline|",
        "sync_issues_open|-|",
    ]
    .iter()
    .map(|p| (*p).to_string())
    .collect();
    for month in months {
        for metric in [
            "inspections",
            "hazards_found",
            "hazards_found_closed",
            "hazards_closed",
            "meetings",
            "records",
            "records_complete",
        ] {
            prefixes.push(key(metric, month, ""));
        }
        prefixes.push(format!("office_inspected|{month}|"));
        for kind in KINDS {
            prefixes.push(key(&format!("inspections:{kind}"), month, ""));
        }
    }
    let mut rows = BTreeMap::new();
    for prefix in prefixes {
        rows.extend(sync.counts(&prefix).await?);
    }
    let counters = Counters { grids, rows };
    let overdue_now: u64 = counters
        .rows
        .range("open_by_deadline|".to_string()..)
        .take_while(|(k, _)| k.starts_with("open_by_deadline|"))
        .filter(|(k, _)| {
            let mut parts = k.splitn(3, '|').skip(1);
            let (day, grid) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            day < today && counters.covers(grid)
        })
        .map(|(_, v)| *v)
        .sum();
    let area = Office::compliance_area(sync, caller, grid, None).await?;
    let mut meetings = Vec::with_capacity(months.len());
    for month in months {
        let first = format!("{month}-01");
        let Ok((from, _)) = period(&first, &first) else {
            meetings.push(Tally::default());
            continue;
        };
        let to = from
            .replace_day(from.month().length(from.year()))
            .unwrap_or(from);
        meetings.push(area.count(sync, (from, to)).await?.town);
    }
    Ok(months
        .iter()
        .zip(meetings)
        .map(|(month, meetings)| Figures {
            month: month.clone(),
            enterprises: counters.sum("enterprises", "-"),
            inspected: counters.distinct_inspected(month),
            inspections: counters.sum("inspections", month),
            by_kind: KINDS
                .iter()
                .map(|kind| {
                    let n = counters.sum(&format!("inspections:{kind}"), month);
                    ((*kind).to_string(), n)
                })
                .collect(),
            hazards_found: counters.sum("hazards_found", month),
            found_closed: counters.sum("hazards_found_closed", month),
            hazards_closed: counters.sum("hazards_closed", month),
            open_now: counters.sum("hazards_open", "-"),
            overdue_now,
            major_open: counters.sum("major_open", "-"),
            major_double_reported: counters.sum("major_open_double_reported", "-"),
            meetings_held: meetings.on_time + meetings.late,
            meetings_expected: meetings.due,
            records: counters.sum("records", month),
            records_complete: counters.sum("records_complete", month),
            sync_issues_open: counters.sum("sync_issues_open", "-"),
        })
        .collect())
}

/// The inspection kinds, as the protocol names them.
pub const KINDS: [&str; 5] = [
    "self_check",
    "grid_patrol",
    "enforcement",
    "special_campaign",
    "recheck",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_counts_the_days_begun() {
        assert_eq!(days_begun("2026-12", "2026-12-01"), 1);
        assert_eq!(days_begun("2026-11", "2026-12-01"), 30);
        assert_eq!(days_begun("2027-01", "2026-12-01"), 0);
        assert_eq!(days_begun("2024-02", "2026-12-01"), 29);
        assert_eq!(previous_month("2026-01"), "2025-12");
        assert_eq!(previous_month("2026-12"), "2026-11");
    }

    #[test]
    fn rates_are_per_mille_and_absent_without_a_whole() {
        let figures = Figures {
            hazards_found: 3,
            found_closed: 2,
            meetings_held: 9,
            meetings_expected: 6,
            ..Figures::default()
        };
        assert_eq!(figures.rectification_permille(), Some(666));
        assert_eq!(figures.meetings_permille(), Some(1000));
        assert_eq!(figures.coverage_permille(), None);
    }
}
