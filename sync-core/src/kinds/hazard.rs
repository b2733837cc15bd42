//! Hazards (隐患): reported with photos, then followed through rectification (整改) to
//! acceptance (验收).
//!
//! ```text
//! Reported ──general──▶ Rectifying ──after-photos──▶ PendingAcceptance ──accept──▶ Closed
//!    │                      ▲                               │
//!    └──major (双报告)──▶ PlanPending ──plan──┘              └──reject back──▶ Rectifying
//! any state but Closed ──admin──▶ Void
//! ```
//!
//! `hazard.report` creates a hazard in `reported`. `hazard.transition {from, to, …}` moves it;
//! `from` is the state the sender saw. When the hazard is no longer in `from` — someone else
//! moved it first — the event is a `conflict` (`stale-transition`), never a silent overwrite.
//! A move the diagram does not allow, or one the sender's role may not make, is quarantined.
//! A major hazard (重大隐患) needs both reports (双报告: to the regulator and to the workers'
//! congress) before it leaves `reported`. Overdue (逾期) is derived from `deadline`, not stored.
//!
//! Who may: report — an inspector covering the hazard's grid, the enterprise's safety manager
//! (自查), or an admin; rectify (→ `rectifying` from `plan_pending`, → `pending_acceptance`) —
//! the enterprise's safety manager, or an inspector or admin; accept or reject back, and move out
//! of `reported` — an inspector covering the grid, or an admin; void — an admin only.

use serde::{Deserialize, Serialize};

use crate::access::Role;
use crate::entity::{Entity, EntityScope, EntityType};
use crate::event::EventBody;
use crate::judge::{Actor, Kind, Reject, check_date, check_id, check_text, record_entity};

/// 一般 or 重大.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 一般隐患.
    General,
    /// 重大隐患.
    Major,
}

/// Where a hazard came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Found in an inspection (检查发现).
    #[default]
    Inspection,
    /// Found by the enterprise itself (企业自查).
    SelfCheck,
    /// Reported by someone (举报).
    Report,
}

/// Where a hazard is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// 已上报.
    Reported,
    /// 待制定整改方案 (major hazards).
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

/// A point, in micro-degrees (integers, so the canonical encoding stays exact).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Latitude × 10⁶.
    pub lat_e6: i64,
    /// Longitude × 10⁶.
    pub lng_e6: i64,
}

/// The two reports a major hazard needs (双报告), device time in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoubleReport {
    /// When it was reported to the regulator (向负有安全监管职责的部门报告).
    pub regulator_at_ms: i64,
    /// When it was reported to the workers' congress (向职工大会或职工代表大会报告).
    pub congress_at_ms: i64,
}

/// The `hazard.report` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// The enterprise (企业).
    pub enterprise_id: String,
    /// The grid (网格) it lies in.
    #[serde(default)]
    pub grid_id: Option<String>,
    /// 一般 or 重大.
    pub level: Level,
    /// Where it came from.
    #[serde(default)]
    pub source: Source,
    /// What is wrong (隐患描述).
    pub description: String,
    /// Where.
    #[serde(default)]
    pub location: Option<Location>,
    /// Rectify by (整改期限), `YYYY-MM-DD`.
    #[serde(default)]
    pub deadline: Option<String>,
    /// Measures asked for (整改措施).
    #[serde(default)]
    pub measures: Option<String>,
    /// The inspection that found it, if any.
    #[serde(default)]
    pub inspection_id: Option<String>,
}

/// The `hazard.transition` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    /// The state the sender saw.
    pub from: State,
    /// The state to move to.
    pub to: State,
    /// A note (required to reject back or void).
    #[serde(default)]
    pub note: Option<String>,
    /// The rectification plan (required to leave `plan_pending`).
    #[serde(default)]
    pub plan: Option<String>,
    /// A new deadline, `YYYY-MM-DD`.
    #[serde(default)]
    pub deadline: Option<String>,
    /// The two reports (required for a major hazard to leave `reported`).
    #[serde(default)]
    pub double_report: Option<DoubleReport>,
}

/// One step of a hazard's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The event.
    pub event_id: String,
    /// Who.
    pub by: String,
    /// From (absent for the report).
    pub from: Option<State>,
    /// To.
    pub to: State,
    /// The note, if any.
    pub note: Option<String>,
}

/// A hazard entity's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hazard {
    /// As reported.
    #[serde(flatten)]
    pub report: Report,
    /// Where it is now.
    pub state: State,
    /// Photos of the hazard (整改前).
    pub photos_before: Vec<String>,
    /// Photos of the rectification (整改后).
    pub photos_after: Vec<String>,
    /// Who reported it.
    pub reported_by: String,
    /// The two reports, for a major hazard.
    pub double_report: Option<DoubleReport>,
    /// The rectification plan.
    pub plan: Option<String>,
    /// Every change, oldest first.
    pub history: Vec<Step>,
}

/// The protocol name of a serde enum value (`pending_acceptance`), for messages.
fn name<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Hazard {
    /// Whether the hazard is past its deadline and still open (逾期). `today` is `YYYY-MM-DD`.
    pub fn is_overdue(&self, today: &str) -> bool {
        let open = !matches!(self.state, State::Closed | State::Void);
        open && self
            .report
            .deadline
            .as_deref()
            .is_some_and(|deadline| deadline < today)
    }
}

/// Who may make a move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    /// An inspector covering the grid, or an admin.
    Supervisor,
    /// The enterprise's safety manager, or a supervisor.
    Rectifier,
    /// An admin only.
    Admin,
}

/// The allowed moves: `(from, to)` → who may, or `None`.
fn allowed(from: State, to: State, level: Level) -> Option<Who> {
    use State::*;
    match (from, to) {
        (Reported, Rectifying) if level == Level::General => Some(Who::Rectifier),
        (Reported, PlanPending) if level == Level::Major => Some(Who::Supervisor),
        (PlanPending, Rectifying) => Some(Who::Rectifier),
        (Rectifying, PendingAcceptance) => Some(Who::Rectifier),
        (PendingAcceptance, Closed) => Some(Who::Supervisor),
        (PendingAcceptance, Rectifying) => Some(Who::Supervisor),
        (Closed | Void, _) => None,
        (_, Void) => Some(Who::Admin),
        _ => None,
    }
}

impl State {
    /// Every state, in lifecycle order.
    pub const ALL: [State; 6] = [
        State::Reported,
        State::PlanPending,
        State::Rectifying,
        State::PendingAcceptance,
        State::Closed,
        State::Void,
    ];

    /// The states a hazard of `level` may move to from this one (by someone; whether the
    /// sender may is the judgement's to say), from the one table of allowed moves.
    pub fn next(self, level: Level) -> Vec<State> {
        State::ALL
            .into_iter()
            .filter(|to| allowed(self, *to, level).is_some())
            .collect()
    }
}

fn may(actor: &Actor, who: Who, scope: &EntityScope) -> bool {
    let admin = actor.grant.has(Role::Admin);
    let supervisor = admin || actor.grant.inspects(scope.grid.as_deref());
    let manager = scope
        .enterprise
        .as_deref()
        .is_some_and(|e| actor.grant.manages(e));
    match who {
        Who::Admin => admin,
        Who::Supervisor => supervisor,
        Who::Rectifier => supervisor || manager,
    }
}

fn hazard_of(entity: &Entity) -> Result<Hazard, Reject> {
    serde::Deserialize::deserialize(&entity.body).map_err(|err| {
        Reject::quarantine(
            "entity-unreadable",
            format!("the stored hazard cannot be read: {err}"),
        )
    })
}

/// `hazard.report`: a new hazard.
#[derive(Debug)]
pub struct HazardReport;

impl Kind for HazardReport {
    const NAME: &'static str = "hazard.report";
    const ENTITY: EntityType = EntityType::Hazard;
    type Payload = Report;

    fn validate(event: &EventBody, r: &Report) -> Result<(), Reject> {
        check_id("enterprise_id", &r.enterprise_id)?;
        if let Some(grid) = &r.grid_id {
            check_id("grid_id", grid)?;
        }
        check_text("description", &r.description, 1, 2000)?;
        if let Some(deadline) = &r.deadline {
            check_date("deadline", deadline)?;
        }
        if let Some(measures) = &r.measures {
            check_text("measures", measures, 1, 2000)?;
        }
        if let Some(location) = r.location {
            if location.lat_e6.abs() > 90_000_000 || location.lng_e6.abs() > 180_000_000 {
                return Err(Reject::quarantine(
                    "payload-invalid",
                    "`location` is outside the globe",
                ));
            }
        }
        if event.blob_refs.is_empty() {
            return Err(Reject::quarantine(
                "photo-required",
                "a hazard needs at least one photo in `blob_refs`",
            ));
        }
        Ok(())
    }

    fn related(r: &Report) -> Vec<String> {
        vec![r.enterprise_id.clone()]
    }

    fn refine_scope(
        scope: EntityScope,
        r: &Report,
        related: &crate::judge::Related,
    ) -> EntityScope {
        crate::judge::in_enterprise_grid(scope, related, &r.enterprise_id)
    }

    fn scope(actor: &Actor, r: &Report, current: Option<&Entity>) -> Result<EntityScope, Reject> {
        if current.is_some() {
            return Err(Reject::conflict(
                "already-reported",
                "a hazard with this id was already reported",
            ));
        }
        Ok(EntityScope {
            enterprise: Some(r.enterprise_id.clone()),
            team: None,
            grid: r.grid_id.clone(),
            users: vec![actor.user_id.clone()],
            public: false,
            directory: false,
            review: false,
            reference: false,
        })
    }

    fn authorize(
        actor: &Actor,
        _: &Report,
        scope: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        if may(actor, Who::Rectifier, scope) {
            Ok(())
        } else {
            Err(Reject::quarantine(
                "not-permitted",
                "only an inspector covering this grid, the enterprise's safety manager or an admin may report a hazard here",
            ))
        }
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        report: Report,
        scope: EntityScope,
        _: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        // The grid the scope settled on (the enterprise's, when registered) is the hazard's.
        let mut report = report;
        report.grid_id = scope.grid.clone();
        let hazard = Hazard {
            report,
            state: State::Reported,
            photos_before: event.blob_refs.clone(),
            photos_after: Vec::new(),
            reported_by: actor.user_id.clone(),
            double_report: None,
            plan: None,
            history: vec![Step {
                event_id: event.id.clone(),
                by: actor.user_id.clone(),
                from: None,
                to: State::Reported,
                note: None,
            }],
        };
        record_entity(&event.entity_id, EntityType::Hazard, scope, &hazard)
    }
}

/// The `hazard.deadline` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineChange {
    /// The new deadline, `YYYY-MM-DD`.
    pub deadline: String,
    /// Why (延期原因).
    pub note: String,
}

/// `hazard.deadline`: a new rectification deadline (整改期限), recorded in the history. Sent by an
/// inspector covering the grid or an admin, while the hazard is open.
#[derive(Debug)]
pub struct HazardDeadline;

impl Kind for HazardDeadline {
    const NAME: &'static str = "hazard.deadline";
    const ENTITY: EntityType = EntityType::Hazard;
    type Payload = DeadlineChange;

    fn validate(_: &EventBody, d: &DeadlineChange) -> Result<(), Reject> {
        check_date("deadline", &d.deadline)?;
        check_text("note", &d.note, 1, 2000)
    }

    fn scope(
        _: &Actor,
        _: &DeadlineChange,
        current: Option<&Entity>,
    ) -> Result<EntityScope, Reject> {
        current
            .map(|c| c.scope.clone())
            .ok_or_else(|| Reject::quarantine("unknown-entity", "there is no hazard with this id"))
    }

    fn authorize(
        actor: &Actor,
        _: &DeadlineChange,
        scope: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        if may(actor, Who::Supervisor, scope) {
            Ok(())
        } else {
            Err(Reject::quarantine(
                "not-permitted",
                "only an inspector covering this grid or an admin sets a hazard's deadline",
            ))
        }
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        d: DeadlineChange,
        scope: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let current = current.ok_or_else(|| {
            Reject::quarantine("unknown-entity", "there is no hazard with this id")
        })?;
        let mut hazard = hazard_of(current)?;
        if matches!(hazard.state, State::Closed | State::Void) {
            return Err(Reject::conflict(
                "hazard-closed",
                format!(
                    "the hazard is already {}; its deadline no longer matters",
                    name(hazard.state)
                ),
            ));
        }
        hazard.report.deadline = Some(d.deadline.clone());
        hazard.history.push(Step {
            event_id: event.id.clone(),
            by: actor.user_id.clone(),
            from: Some(hazard.state),
            to: hazard.state,
            note: Some(format!("deadline {}: {}", d.deadline, d.note)),
        });
        record_entity(
            &current.id,
            EntityType::Hazard,
            scope.with_user(&actor.user_id),
            &hazard,
        )
    }
}

/// `hazard.transition`: a move in the lifecycle.
#[derive(Debug)]
pub struct HazardTransition;

impl Kind for HazardTransition {
    const NAME: &'static str = "hazard.transition";
    const ENTITY: EntityType = EntityType::Hazard;
    type Payload = Transition;

    fn validate(event: &EventBody, t: &Transition) -> Result<(), Reject> {
        for (field, text, max) in [("note", &t.note, 2000), ("plan", &t.plan, 5000)] {
            if let Some(text) = text {
                check_text(field, text, 1, max)?;
            }
        }
        if let Some(deadline) = &t.deadline {
            check_date("deadline", deadline)?;
        }
        if t.to == State::PendingAcceptance && event.blob_refs.is_empty() {
            return Err(Reject::quarantine(
                "photo-required",
                "asking for acceptance needs at least one photo of the rectification (整改后照片)",
            ));
        }
        let needs_note = matches!(
            (t.from, t.to),
            (State::PendingAcceptance, State::Rectifying) | (_, State::Void)
        );
        if needs_note && t.note.is_none() {
            return Err(Reject::quarantine(
                "note-required",
                "rejecting back or voiding needs a `note` saying why",
            ));
        }
        if t.from == State::PlanPending && t.to == State::Rectifying && t.plan.is_none() {
            return Err(Reject::quarantine(
                "plan-required",
                "leaving plan_pending needs the rectification `plan`",
            ));
        }
        Ok(())
    }

    fn scope(_: &Actor, _: &Transition, current: Option<&Entity>) -> Result<EntityScope, Reject> {
        current
            .map(|c| c.scope.clone())
            .ok_or_else(|| Reject::quarantine("unknown-entity", "there is no hazard with this id"))
    }

    fn authorize(
        actor: &Actor,
        t: &Transition,
        scope: &EntityScope,
        current: Option<&Entity>,
    ) -> Result<(), Reject> {
        let hazard = current.map(hazard_of).transpose()?;
        let level = hazard.map(|h| h.report.level).unwrap_or(Level::General);
        let Some(who) = allowed(t.from, t.to, level) else {
            return Err(Reject::quarantine(
                "invalid-transition",
                format!(
                    "a {} hazard cannot move from {} to {}",
                    name(level),
                    name(t.from),
                    name(t.to)
                ),
            ));
        };
        if may(actor, who, scope) {
            Ok(())
        } else {
            Err(Reject::quarantine(
                "not-permitted",
                format!(
                    "this user's roles may not move a hazard from {} to {}",
                    name(t.from),
                    name(t.to)
                ),
            ))
        }
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        t: Transition,
        scope: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let current = current.ok_or_else(|| {
            Reject::quarantine("unknown-entity", "there is no hazard with this id")
        })?;
        let mut hazard = hazard_of(current)?;
        if hazard.state != t.from {
            return Err(Reject::conflict(
                "stale-transition",
                format!(
                    "the hazard is now {}, not {}: someone else moved it first; look at it again before acting",
                    name(hazard.state),
                    name(t.from)
                ),
            ));
        }
        if hazard.report.level == Level::Major && t.from == State::Reported {
            match t.double_report {
                Some(report) => hazard.double_report = Some(report),
                None => {
                    return Err(Reject::quarantine(
                        "double-report-required",
                        "a major hazard (重大隐患) needs both reports (双报告: regulator and workers' congress) before it moves on",
                    ));
                }
            }
        }
        if let Some(plan) = &t.plan {
            hazard.plan = Some(plan.clone());
        }
        if let Some(deadline) = &t.deadline {
            hazard.report.deadline = Some(deadline.clone());
        }
        if t.to == State::PendingAcceptance {
            hazard.photos_after.extend(event.blob_refs.iter().cloned());
        }
        if t.to == State::Closed {
            // The acceptor (验收人) is not who asked for acceptance (the rectification's owner).
            let owner = hazard
                .history
                .iter()
                .rev()
                .find(|step| step.to == State::PendingAcceptance)
                .map(|step| step.by.as_str());
            if owner == Some(actor.user_id.as_str()) {
                return Err(Reject::quarantine(
                    "acceptor-is-owner",
                    "the rectification must be accepted by someone other than who rectified it",
                ));
            }
        }
        hazard.state = t.to;
        hazard.history.push(Step {
            event_id: event.id.clone(),
            by: actor.user_id.clone(),
            from: Some(t.from),
            to: t.to,
            note: t.note,
        });
        record_entity(
            &current.id,
            EntityType::Hazard,
            scope.with_user(&actor.user_id),
            &hazard,
        )
    }
}
