//! Duty compliance (履职情况): for a period, what each team's schedule made due — its shift
//! meetings (班组"3个5分钟"安全交接会) and pre-shift briefings (岗前一分钟) — against what was
//! done, done late (recorded after its day, 补录) or missed; shown by team, enterprise, grid and
//! town, with each missed meeting listed.
//!
//! Nothing is scanned: what was due on a day is a function of the schedule in effect that day
//! ([`Schedule::due_on`]), and what was done is in the office's counters, kept as meetings and
//! briefings arrive ([`crate::store::facts`]), read a month at a time.

use std::collections::{BTreeMap, HashMap};

use anjian_sync::entity::EntityType;
use anjian_sync::kinds::schedule::{Every, Schedule, unit_start};
use time::Date;

use super::accounts::Caller;
use super::office::Office;
use super::sync::{SyncError, SyncService};
use crate::store::facts::{duty_meeting_key, duty_self_check_key, duty_team_key, late_meeting_key};

/// The longest period asked for at once, in days.
pub const MAX_DAYS: i64 = 366;
/// The most missed meetings listed.
pub const MAX_MISSED: usize = 2000;

/// Due and done, for a team or a sum of teams.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Meetings due.
    pub due: u64,
    /// Held on their day.
    pub on_time: u64,
    /// Recorded after their day (补录).
    pub late: u64,
    /// Not held.
    pub missed: u64,
    /// Held, but shorter than five minutes.
    pub short: u64,
    /// Briefings due (岗前一分钟).
    pub briefings_due: u64,
    /// Briefings done, at most those due on each day.
    pub briefings_done: u64,
    /// Of those, recorded after their day.
    pub briefings_late: u64,
    /// Self-checks due (自查: a day's, a week's or a month's with a working day).
    pub self_checks_due: u64,
    /// Self-checks done in their day, week or month.
    pub self_checks_done: u64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.due += other.due;
        self.on_time += other.on_time;
        self.late += other.late;
        self.missed += other.missed;
        self.short += other.short;
        self.briefings_due += other.briefings_due;
        self.briefings_done += other.briefings_done;
        self.briefings_late += other.briefings_late;
        self.self_checks_due += other.self_checks_due;
        self.self_checks_done += other.self_checks_done;
    }

    /// Meetings held (on time or late) per hundred due, or `None` when none were due.
    pub fn percent(&self) -> Option<u64> {
        (self.due > 0).then(|| (self.on_time + self.late) * 100 / self.due)
    }
}

/// One team's line.
#[derive(Clone, Debug)]
pub struct TeamLine {
    /// Its enterprise.
    pub enterprise: String,
    /// Its code.
    pub team: String,
    /// Its enterprise's grid.
    pub grid: String,
    /// Its figures.
    pub tally: Tally,
}

/// A meeting due and not held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missed {
    /// The day.
    pub day: String,
    /// The enterprise.
    pub enterprise: String,
    /// The team's code.
    pub team: String,
    /// The shift.
    pub shift: String,
    /// The slot (`pre_shift`, `mid_shift`, `handover`).
    pub slot: String,
}

/// Compliance over a period.
#[derive(Clone, Debug)]
pub struct Compliance {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day counted: the period's, or yesterday when it reaches today (a day is counted once
    /// it is over).
    pub to: String,
    /// Each team with a schedule, by enterprise and code.
    pub teams: Vec<TeamLine>,
    /// Sums by enterprise.
    pub enterprises: BTreeMap<String, Tally>,
    /// Sums by grid.
    pub grids: BTreeMap<String, Tally>,
    /// The town's sum (what the caller reads).
    pub town: Tally,
    /// Missed meetings, by day (at most [`MAX_DAYS`]).
    pub missed: Vec<Missed>,
    /// Whether more were missed than listed.
    pub missed_cut: bool,
    /// The principals' commitments (安全承诺) of the year the period ends in.
    pub commitments: Commitments,
}

/// The year's commitments (主体责任告知承诺) of the enterprises counted.
#[derive(Clone, Debug, Default)]
pub struct Commitments {
    /// The year, `YYYY`.
    pub year: String,
    /// How many of the enterprises have signed it.
    pub signed: u64,
    /// The enterprises that have not, by id.
    pub unsigned: Vec<String>,
}

/// Why a period cannot be counted.
#[derive(Debug, thiserror::Error)]
pub enum PeriodError {
    /// A day not written `YYYY-MM-DD`.
    #[error("`{0}` is not a day written YYYY-MM-DD")]
    Day(String),
    /// `to` before `from`, or too long.
    #[error("the period runs from `from` to `to`, at most {MAX_DAYS} days")]
    Span,
}

fn parse(day: &str) -> Result<Date, PeriodError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(day, &format).map_err(|_| PeriodError::Day(day.to_string()))
}

/// The days from `from` to `to` (both `YYYY-MM-DD`), checked.
pub fn period(from: &str, to: &str) -> Result<(Date, Date), PeriodError> {
    let (from, to) = (parse(from)?, parse(to)?);
    if to < from || (to - from).whole_days() >= MAX_DAYS {
        return Err(PeriodError::Span);
    }
    Ok((from, to))
}

/// The teams whose duties a compliance count covers, and the enterprises of the area, loaded
/// once for any number of periods.
#[derive(Debug)]
pub struct Area {
    /// Each enterprise the caller reads, with its grid.
    grids: HashMap<String, String>,
    /// The schedules of the teams of the area.
    schedules: Vec<Schedule>,
    grid: Option<String>,
    enterprise: Option<String>,
}

impl Office {
    /// Compliance from `from` to `to` (`YYYY-MM-DD`; days after yesterday are left out) of the
    /// teams with a schedule the caller reads, in `grid` and `enterprise` when given, with the
    /// year's commitments of the area's enterprises.
    pub async fn compliance(
        sync: &SyncService,
        caller: &Caller,
        period: (Date, Date),
        grid: Option<&str>,
        enterprise: Option<&str>,
    ) -> Result<Compliance, SyncError> {
        let area = Office::compliance_area(sync, caller, grid, enterprise).await?;
        let mut result = area.count(sync, period).await?;
        let year = parse(&result.to).map_or(period.1.year(), |to| to.year());
        result.commitments = area.commitments(sync, caller, &year.to_string()).await?;
        Ok(result)
    }

    /// The area a compliance count covers: the teams with a schedule the caller reads, in
    /// `grid` and `enterprise` when given.
    pub async fn compliance_area(
        sync: &SyncService,
        caller: &Caller,
        grid: Option<&str>,
        enterprise: Option<&str>,
    ) -> Result<Area, SyncError> {
        let grids: HashMap<String, String> = Office::visible(sync, caller, EntityType::Enterprise)
            .await?
            .into_iter()
            .map(|p| {
                let grid = p.entity.body["grid_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                (p.entity.id, grid)
            })
            .collect();
        let mut schedules: Vec<Schedule> = Office::visible(sync, caller, EntityType::Schedule)
            .await?
            .into_iter()
            .filter_map(|p| serde_json::from_value::<Schedule>(p.entity.body).ok())
            .filter(|s| enterprise.is_none_or(|e| s.enterprise_id == e))
            .filter(|s| {
                grid.is_none_or(|g| grids.get(&s.enterprise_id).is_some_and(|mine| mine == g))
            })
            .collect();
        schedules
            .sort_by(|a, b| (&a.enterprise_id, &a.team_id).cmp(&(&b.enterprise_id, &b.team_id)));
        Ok(Area {
            grids,
            schedules,
            grid: grid.map(str::to_string),
            enterprise: enterprise.map(str::to_string),
        })
    }
}

impl Area {
    /// The year's commitments of the area's enterprises.
    async fn commitments(
        &self,
        sync: &SyncService,
        caller: &Caller,
        year: &str,
    ) -> Result<Commitments, SyncError> {
        let signed = Office::commitments(sync, caller, year).await?;
        let mut commitments = Commitments {
            year: year.to_string(),
            ..Commitments::default()
        };
        for (id, mine) in &self.grids {
            if self.enterprise.as_deref().is_some_and(|e| e != id)
                || self.grid.as_deref().is_some_and(|g| g != mine)
            {
                continue;
            }
            if signed.contains_key(id) {
                commitments.signed += 1;
            } else {
                commitments.unsigned.push(id.clone());
            }
        }
        commitments.unsigned.sort();
        Ok(commitments)
    }

    /// The area's compliance from `from` to `to` (days after yesterday are left out), without
    /// the commitments.
    pub async fn count(
        &self,
        sync: &SyncService,
        (from, to): (Date, Date),
    ) -> Result<Compliance, SyncError> {
        let today = parse(&anjian_sync::clock::china_date(
            crate::store::model::UnixMillis::now().0,
        ))
        .unwrap_or(to);
        let to = to.min(today.previous_day().unwrap_or(today));
        let (grids, schedules) = (&self.grids, &self.schedules);
        // What was done, a month of counters at a time.
        let mut done: HashMap<String, u64> = HashMap::new();
        if from <= to {
            // From the month of the Monday of `from`'s week: a week's self-check may be done in
            // the days before the period.
            let first = unit_start(Every::Week, from).min(from);
            let mut month = first.replace_day(1).unwrap_or(first);
            while month <= to {
                let prefix = format!("{:04}-{:02}", month.year(), u8::from(month.month()));
                for metric in [
                    "duty_meeting",
                    "duty_meeting_late",
                    "duty_meeting_short",
                    "duty_briefing",
                    "duty_briefing_late",
                    "duty_self_check",
                ] {
                    done.extend(sync.counts(&format!("{metric}|{prefix}")).await?);
                }
                month = match month.month() {
                    time::Month::December => {
                        Date::from_calendar_date(month.year() + 1, time::Month::January, 1)
                    }
                    m => Date::from_calendar_date(month.year(), m.next(), 1),
                }
                .unwrap_or(to.next_day().unwrap_or(to));
            }
        }
        let count = |key: &str| done.get(key).copied().unwrap_or(0);

        let mut result = Compliance {
            commitments: Commitments::default(),
            from: from.to_string(),
            to: to.to_string(),
            teams: Vec::new(),
            enterprises: BTreeMap::new(),
            grids: BTreeMap::new(),
            town: Tally::default(),
            missed: Vec::new(),
            missed_cut: false,
        };
        for schedule in schedules {
            let (e, t) = (schedule.enterprise_id.as_str(), schedule.team_id.as_str());
            let mut tally = Tally::default();
            let mut day = from;
            while day <= to {
                let d = day.to_string();
                let due = schedule.due_on(&d);
                for (shift, slot) in &due.meetings {
                    let slot = slot.name().to_string();
                    let key = duty_meeting_key(&d, e, t, shift, &slot);
                    tally.due += 1;
                    if count(&key) == 0 {
                        tally.missed += 1;
                        if result.missed.len() < MAX_MISSED {
                            result.missed.push(Missed {
                                day: d.clone(),
                                enterprise: e.to_string(),
                                team: t.to_string(),
                                shift: shift.clone(),
                                slot,
                            });
                        } else {
                            result.missed_cut = true;
                        }
                    } else if count(&late_meeting_key(&key)) > 0 {
                        tally.late += 1;
                    } else {
                        tally.on_time += 1;
                    }
                }
                if !due.meetings.is_empty() {
                    tally.short += count(&duty_team_key("duty_meeting_short", &d, e, t));
                }
                let briefed =
                    count(&duty_team_key("duty_briefing", &d, e, t)).min(u64::from(due.briefings));
                tally.briefings_due += u64::from(due.briefings);
                tally.briefings_done += briefed;
                tally.briefings_late +=
                    count(&duty_team_key("duty_briefing_late", &d, e, t)).min(briefed);
                day = match day.next_day() {
                    Some(next) => next,
                    None => break,
                };
            }
            self_checks(schedule, (from, to), &count, &mut tally);
            let grid = grids.get(e).cloned().unwrap_or_default();
            result
                .enterprises
                .entry(e.to_string())
                .or_default()
                .add(&tally);
            result.grids.entry(grid.clone()).or_default().add(&tally);
            result.town.add(&tally);
            result.teams.push(TeamLine {
                enterprise: e.to_string(),
                team: t.to_string(),
                grid,
                tally,
            });
        }
        result.missed.sort_by(|a, b| {
            (&a.day, &a.enterprise, &a.team).cmp(&(&b.day, &b.enterprise, &b.team))
        });
        Ok(result)
    }
}

/// Adds to `tally` the self-checks `schedule` made due from `from` to `to` and those done: a
/// day's on each working day; a week's or a month's once for each week or month with a working
/// day in the period that has ended by `to` (or is already done), done when a self-check with
/// its checklist, by the team or by its enterprise, was started on any of its days up to `to`.
fn self_checks(
    schedule: &Schedule,
    (from, to): (Date, Date),
    count: &dyn Fn(&str) -> u64,
    tally: &mut Tally,
) {
    let (e, t) = (schedule.enterprise_id.as_str(), schedule.team_id.as_str());
    // Each (how often, checklist, unit's first day) due, with whether it was done.
    let mut units: BTreeMap<(Every, String, Date), bool> = BTreeMap::new();
    let mut day = from;
    while day <= to {
        let d = day.to_string();
        if let anjian_sync::kinds::schedule::Day::Working(version) = schedule.day(&d) {
            for duty in &version.self_checks {
                units
                    .entry((
                        duty.every,
                        duty.template.clone(),
                        unit_start(duty.every, day),
                    ))
                    .or_insert(false);
            }
        }
        day = match day.next_day() {
            Some(next) => next,
            None => break,
        };
    }
    for ((every, template, start), done) in units.iter_mut() {
        let mut day = *start;
        while day <= to && unit_start(*every, day) == *start {
            let d = day.to_string();
            let found = count(&duty_self_check_key(&d, e, t, template))
                + count(&duty_self_check_key(&d, e, "", template));
            if found > 0 {
                *done = true;
                break;
            }
            day = match day.next_day() {
                Some(next) => next,
                None => break,
            };
        }
    }
    // A week or month still running at `to` is due only once done: it is not missed yet.
    let ended = |every: Every, start: Date| match every {
        Every::Day => true,
        Every::Week => start
            .checked_add(time::Duration::days(6))
            .is_some_and(|last| last <= to),
        Every::Month => to
            .next_day()
            .is_some_and(|next| unit_start(Every::Month, next) != start),
    };
    for ((every, _, start), done) in &units {
        if *done || ended(*every, *start) {
            tally.self_checks_due += 1;
            tally.self_checks_done += u64::from(*done);
        }
    }
}
