//! Duty schedules (值班与班组安全活动安排): a team's working calendar and the duties it gives.
//!
//! A team works its `shifts` (早班, 夜班 …) on every day but its rest days (weekdays off and
//! single days off, such as holidays). Each working shift holds the team's meeting `slots`
//! (企业班组"3个5分钟"安全交接会: 班前, 班中, 交接班) and a pre-shift briefing (岗前一分钟) for
//! each of the `crew` workers on it. What is due on a day is a function of the schedule in
//! effect that day ([`Schedule::due_on`]), so compliance never scans the records.
//!
//! `schedule.save` adds a version that takes effect `from` a day. Versions only go forward: a
//! new version starts after the current one, and the enterprise's safety manager cannot change a
//! day already begun (the office may correct the past). So the duties of a past day stay what
//! they were, even after the team's slots change mid-month. The id is [`schedule_id`] of the
//! enterprise and team. Once a team has a schedule, a meeting or briefing recorded for a day it
//! does not work, or a shift it does not have, is refused with its reason.

use serde::{Deserialize, Serialize};

use super::meeting::Slot;
use crate::access::Role;
use crate::entity::{Entity, EntityScope, EntityType, derived_id};
use crate::event::EventBody;
use crate::judge::{
    Actor, Kind, Reject, Related, check_date, check_id, check_text, in_enterprise_grid,
    manager_or_admin, record_entity,
};

/// What a version of the schedule says (the `schedule.save` payload).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleVersion {
    /// The enterprise (企业).
    pub enterprise_id: String,
    /// The team's code (班组).
    pub team_id: String,
    /// The first day it is in effect, `YYYY-MM-DD`.
    pub from: String,
    /// The shifts worked each working day (1 to 4, each once).
    pub shifts: Vec<String>,
    /// The meetings each shift holds (1 to 3, each once).
    pub slots: Vec<Slot>,
    /// Weekdays off, 1 (Monday) to 7 (Sunday).
    #[serde(default)]
    pub rest_weekdays: Vec<u8>,
    /// Single days off (holidays, 停产检修), `YYYY-MM-DD`, at most 400.
    #[serde(default)]
    pub rest_days: Vec<String>,
    /// Workers on each shift, each briefed before it (岗前一分钟), 0 to 500.
    pub crew: u32,
    /// The self-checks (自查) the team owes, each with its checklist (at most 10).
    #[serde(default)]
    pub self_checks: Vec<SelfCheckDuty>,
    /// How many versions the schedule had when this one was made (0 for the first): two people
    /// changing it at once cannot overwrite each other — the second is a conflict.
    pub supersedes: u32,
}

/// How often a self-check is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Every {
    /// Each working day (班组日检).
    Day,
    /// Each week with a working day, Monday to Sunday (车间周检).
    Week,
    /// Each month with a working day (企业月检).
    Month,
}

/// A self-check the team owes: how often, with which checklist (检查表 code).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfCheckDuty {
    /// How often.
    pub every: Every,
    /// The checklist's code.
    pub template: String,
}

/// The first day of the unit of `every` that holds `day`: the day itself, its week's Monday,
/// its month's first.
pub fn unit_start(every: Every, day: time::Date) -> time::Date {
    match every {
        Every::Day => day,
        Every::Week => day
            .checked_sub(time::Duration::days(i64::from(
                day.weekday().number_days_from_monday(),
            )))
            .unwrap_or(day),
        Every::Month => day.replace_day(1).unwrap_or(day),
    }
}

/// A version as kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    /// What it says.
    #[serde(flatten)]
    pub version: ScheduleVersion,
    /// Who saved it.
    pub saved_by: String,
    /// The event.
    pub event_id: String,
}

/// A schedule entity's body: every version, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// The enterprise.
    pub enterprise_id: String,
    /// The team's code.
    pub team_id: String,
    /// The versions, by `from`, oldest first.
    pub versions: Vec<Kept>,
}

/// What is due on one day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Due {
    /// Each meeting: (shift, slot).
    pub meetings: Vec<(String, Slot)>,
    /// Briefings (岗前一分钟).
    pub briefings: u32,
}

/// Why a day has no duties, or which version gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Day<'a> {
    /// Before the first version.
    Before,
    /// A rest day.
    Rest,
    /// A working day under this version.
    Working(&'a ScheduleVersion),
}

/// The weekday of `day` (`YYYY-MM-DD`), 1 (Monday) to 7 (Sunday).
fn weekday(day: &str) -> Option<u8> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(day, &format)
        .ok()
        .map(|d| d.weekday().number_from_monday())
}

impl ScheduleVersion {
    /// Whether `day` is worked under this version.
    pub fn works(&self, day: &str) -> bool {
        !self.rest_days.iter().any(|d| d == day)
            && weekday(day).is_some_and(|w| !self.rest_weekdays.contains(&w))
    }
}

impl Schedule {
    /// What `day` is under the schedule.
    pub fn day(&self, day: &str) -> Day<'_> {
        match self
            .versions
            .iter()
            .rev()
            .find(|v| v.version.from.as_str() <= day)
        {
            None => Day::Before,
            Some(kept) if kept.version.works(day) => Day::Working(&kept.version),
            Some(_) => Day::Rest,
        }
    }

    /// What is due on `day`.
    pub fn due_on(&self, day: &str) -> Due {
        match self.day(day) {
            Day::Working(v) => Due {
                meetings: v
                    .shifts
                    .iter()
                    .flat_map(|shift| v.slots.iter().map(move |slot| (shift.clone(), *slot)))
                    .collect(),
                briefings: v
                    .crew
                    .saturating_mul(u32::try_from(v.shifts.len()).unwrap_or(u32::MAX)),
            },
            _ => Due::default(),
        }
    }

    /// Checks a duty recorded for `day` in `shift`: a refusal when the schedule makes nothing
    /// due then (a rest day, a shift the team does not work); the version in effect, or `None`
    /// for a day before the schedule (a record made offline before it was set is judged as
    /// without one).
    pub fn check_duty(&self, day: &str, shift: &str) -> Result<Option<&ScheduleVersion>, Reject> {
        match self.day(day) {
            Day::Before => Ok(None),
            Day::Rest => Err(Reject::quarantine(
                "not-a-working-day",
                format!("{day} is a rest day in the team's schedule: nothing was due that day"),
            )),
            Day::Working(v) if v.shifts.iter().any(|s| s == shift.trim()) => Ok(Some(v)),
            Day::Working(v) => Err(Reject::quarantine(
                "unknown-shift",
                format!(
                    "the team works {} on {day}, not {}",
                    v.shifts.join("、"),
                    shift.trim()
                ),
            )),
        }
    }
}

/// The id of team `team`'s schedule at `enterprise`.
pub fn schedule_id(enterprise: &str, team: &str) -> String {
    derived_id(&["schedule", enterprise, team])
}

/// The schedule among `related`, if the team has one.
pub fn schedule_of(related: &Related, enterprise: &str, team: &str) -> Option<Schedule> {
    related
        .get(&schedule_id(enterprise, team))
        .filter(|e| e.entity_type == EntityType::Schedule)
        .and_then(|e| serde_json::from_value(e.body.clone()).ok())
}

fn schedule_of_entity(entity: &Entity) -> Result<Schedule, Reject> {
    serde::Deserialize::deserialize(&entity.body).map_err(|err| {
        Reject::quarantine(
            "entity-unreadable",
            format!("the stored schedule cannot be read: {err}"),
        )
    })
}

/// Versions a schedule keeps at most.
const MAX_VERSIONS: usize = 500;

/// `schedule.save`: a new version of a team's schedule.
#[derive(Debug)]
pub struct ScheduleSave;

impl Kind for ScheduleSave {
    const NAME: &'static str = "schedule.save";
    const ENTITY: EntityType = EntityType::Schedule;
    type Payload = ScheduleVersion;

    fn validate(event: &EventBody, s: &ScheduleVersion) -> Result<(), Reject> {
        check_id("enterprise_id", &s.enterprise_id)?;
        check_id("team_id", &s.team_id)?;
        check_date("from", &s.from)?;
        let id = schedule_id(&s.enterprise_id, &s.team_id);
        if event.entity_id != id {
            return Err(Reject::quarantine(
                "schedule-id-mismatch",
                format!(
                    "a schedule's entity_id is derived from its enterprise and team: it must be {id}"
                ),
            ));
        }
        let once = |items: &[String]| {
            items
                .iter()
                .enumerate()
                .all(|(i, x)| !items[..i].contains(x))
        };
        if s.shifts.is_empty() || s.shifts.len() > 4 || !once(&s.shifts) {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`shifts` names 1 to 4 shifts, each once",
            ));
        }
        for shift in &s.shifts {
            check_text("shifts", shift, 1, 32)?;
            if shift.trim() != shift {
                return Err(Reject::quarantine(
                    "payload-invalid",
                    "a shift's name has no spaces around it",
                ));
            }
        }
        let slots_once = s
            .slots
            .iter()
            .enumerate()
            .all(|(i, x)| !s.slots[..i].contains(x));
        if s.slots.is_empty() || !slots_once {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`slots` names one to three different meetings: pre_shift, mid_shift, handover",
            ));
        }
        let weekdays_once = s
            .rest_weekdays
            .iter()
            .enumerate()
            .all(|(i, x)| !s.rest_weekdays[..i].contains(x));
        if !weekdays_once || s.rest_weekdays.iter().any(|d| !(1..=7).contains(d)) {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`rest_weekdays` names weekdays 1 (Monday) to 7 (Sunday), each once",
            ));
        }
        if s.rest_weekdays.len() == 7 {
            return Err(Reject::quarantine(
                "schedule-empty",
                "every weekday is a rest day: the schedule makes nothing due",
            ));
        }
        if s.rest_days.len() > 400 || !once(&s.rest_days) {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`rest_days` names at most 400 days, each once",
            ));
        }
        for day in &s.rest_days {
            check_date("rest_days", day)?;
        }
        if s.self_checks.len() > 10 {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`self_checks` names at most 10 self-checks",
            ));
        }
        for duty in &s.self_checks {
            check_id("self_checks.template", &duty.template)?;
        }
        if s.crew > 500 {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`crew` is 0 to 500 workers a shift",
            ));
        }
        Ok(())
    }

    fn related(s: &ScheduleVersion) -> Vec<String> {
        vec![
            super::team::team_id(&s.enterprise_id, &s.team_id),
            s.enterprise_id.clone(),
        ]
    }

    fn check_related(s: &ScheduleVersion, related: &Related) -> Result<(), Reject> {
        let team = related
            .get(&super::team::team_id(&s.enterprise_id, &s.team_id))
            .is_some_and(|t| t.entity_type == EntityType::Team && !t.deleted);
        if team {
            Ok(())
        } else {
            Err(Reject::quarantine(
                "unknown-team",
                format!(
                    "enterprise {} has no team {}; its safety manager adds it first",
                    s.enterprise_id, s.team_id
                ),
            ))
        }
    }

    fn refine_scope(scope: EntityScope, s: &ScheduleVersion, related: &Related) -> EntityScope {
        in_enterprise_grid(scope, related, &s.enterprise_id)
    }

    fn scope(_: &Actor, s: &ScheduleVersion, _: Option<&Entity>) -> Result<EntityScope, Reject> {
        Ok(EntityScope {
            enterprise: Some(s.enterprise_id.clone()),
            team: Some(s.team_id.clone()),
            directory: true,
            ..EntityScope::default()
        })
    }

    fn authorize(
        actor: &Actor,
        s: &ScheduleVersion,
        _: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        manager_or_admin(actor, &s.enterprise_id, "keeps its teams' schedules")
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        version: ScheduleVersion,
        scope: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let mut schedule = match current {
            Some(current) => schedule_of_entity(current)?,
            None => Schedule {
                enterprise_id: version.enterprise_id.clone(),
                team_id: version.team_id.clone(),
                versions: Vec::new(),
            },
        };
        if usize::try_from(version.supersedes).ok() != Some(schedule.versions.len()) {
            return Err(Reject::conflict(
                "stale-version",
                format!(
                    "this version follows {} versions but the schedule has {}: someone changed it first; look at it again",
                    version.supersedes,
                    schedule.versions.len()
                ),
            ));
        }
        if let Some(last) = schedule.versions.last() {
            if version.from <= last.version.from {
                return Err(Reject::conflict(
                    "stale-version",
                    format!(
                        "the schedule already has a version from {}: a new one starts after it",
                        last.version.from
                    ),
                ));
            }
        }
        // The safety manager plans from today on; only the office corrects a past day.
        let today = crate::clock::china_date(event.captured.wall_ms);
        if version.from < today && !actor.grant.has(Role::Admin) {
            return Err(Reject::quarantine(
                "payload-invalid",
                format!(
                    "a schedule takes effect from today ({today}) or later: the duties of past days stay what they were"
                ),
            ));
        }
        if schedule.versions.len() >= MAX_VERSIONS {
            return Err(Reject::quarantine(
                "payload-invalid",
                format!("a schedule keeps at most {MAX_VERSIONS} versions"),
            ));
        }
        schedule.versions.push(Kept {
            version,
            saved_by: actor.user_id.clone(),
            event_id: event.id.clone(),
        });
        record_entity(&event.entity_id, EntityType::Schedule, scope, &schedule)
    }
}
