//! Shift safety meetings (班组安全交接会): the "three 5-minute meetings" a team holds before a
//! shift (班前), during it (班中) and at handover (交接班).
//!
//! A meeting is written by one device and frozen once submitted: `meeting.submit` creates it
//! with its attendance, topics and at least one photo, and records the submitting event's hash
//! as `content_hash`. Nothing overwrites it; a correction is a `meeting.amend` event, which
//! changes the named fields and is appended to `amendments` with its reason, so the original is
//! always recoverable. A second `meeting.submit` for the same meeting is a conflict.
//!
//! Who may send them: the team lead (班组长) of the meeting's team, or the safety manager
//! (企业安全员) of its enterprise.
//!
//! A team holds one meeting per day, shift and slot, so a meeting's id is not chosen freely: it
//! is [`meeting_id`] of those, the same on every device. Two devices that record the same meeting
//! therefore write to the same entity, and the second submission is a conflict shown to the team
//! lead — never a second, silently double-counted meeting.

use serde::{Deserialize, Serialize};

use crate::entity::{Entity, EntityScope, EntityType};
use crate::event::EventBody;
use crate::judge::{Actor, Kind, Reject, check_date, check_id, check_text, record_entity};

/// Which of the three meetings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    /// Before the shift (班前会).
    PreShift,
    /// During the shift (班中会).
    MidShift,
    /// At handover (交接班会).
    Handover,
}

impl Slot {
    /// Its protocol name (`pre_shift`).
    pub fn name(self) -> &'static str {
        match self {
            Slot::PreShift => "pre_shift",
            Slot::MidShift => "mid_shift",
            Slot::Handover => "handover",
        }
    }

    /// The meeting's name in Chinese (班前会).
    pub fn chinese(self) -> &'static str {
        match self {
            Slot::PreShift => "班前会",
            Slot::MidShift => "班中会",
            Slot::Handover => "交接班会",
        }
    }

    /// The slot named `name`, if it is one.
    pub fn parse(name: &str) -> Option<Slot> {
        [Slot::PreShift, Slot::MidShift, Slot::Handover]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// Whether a worker attended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Present (出席).
    Present,
    /// Absent (缺席).
    Absent,
    /// Late (迟到).
    Late,
    /// Excused (请假).
    Excused,
}

/// One worker's attendance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attendance {
    /// The worker's name (从业人员).
    pub name: String,
    /// The worker's id, when the enterprise keeps a roster.
    #[serde(default)]
    pub worker_id: Option<String>,
    /// Present, absent, late or excused.
    pub status: Presence,
    /// Fit for duty (身体状况良好): not ill, not drunk, rested.
    pub fit_for_duty: bool,
    /// Wearing the required protective equipment (劳保用品).
    pub ppe_ok: bool,
}

/// The content of a meeting, as submitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingContent {
    /// The enterprise (企业).
    pub enterprise_id: String,
    /// The team (班组).
    pub team_id: String,
    /// The working day, `YYYY-MM-DD`.
    pub date: String,
    /// The shift's name (早班, 夜班 …).
    pub shift: String,
    /// Which meeting.
    pub slot: Slot,
    /// Who held it (主持人).
    pub host: String,
    /// Start, device clock, ms since the epoch.
    pub started_at_ms: i64,
    /// End, device clock, ms since the epoch.
    pub ended_at_ms: i64,
    /// Where it was held.
    pub place: String,
    /// Who attended, and how fit and equipped.
    pub attendance: Vec<Attendance>,
    /// What was said (安全交底内容).
    pub topics: Vec<String>,
    /// Risks raised (风险提示).
    #[serde(default)]
    pub risks: Vec<String>,
    /// Items handed over to the next shift (交接事项).
    #[serde(default)]
    pub handover: Vec<String>,
}

/// The fields an amendment may change; absent ones stay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingChanges {
    /// New host.
    #[serde(default)]
    pub host: Option<String>,
    /// New place.
    #[serde(default)]
    pub place: Option<String>,
    /// New attendance list.
    #[serde(default)]
    pub attendance: Option<Vec<Attendance>>,
    /// New topics.
    #[serde(default)]
    pub topics: Option<Vec<String>>,
    /// New risks.
    #[serde(default)]
    pub risks: Option<Vec<String>>,
    /// New handover items.
    #[serde(default)]
    pub handover: Option<Vec<String>>,
}

/// The `meeting.amend` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Amendment {
    /// Why (更正原因).
    pub reason: String,
    /// What changes.
    pub changes: MeetingChanges,
}

/// An amendment as recorded in the meeting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendmentRecord {
    /// The amending event.
    pub event_id: String,
    /// Its hash.
    pub event_hash: String,
    /// Who amended.
    pub by: String,
    /// Why.
    pub reason: String,
    /// What changed.
    pub changes: MeetingChanges,
    /// Photos added with it.
    pub photos: Vec<String>,
}

/// A meeting entity's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meeting {
    /// The content, with amendments applied.
    #[serde(flatten)]
    pub content: MeetingContent,
    /// sha256 of the photos (at least one).
    pub photos: Vec<String>,
    /// Who submitted it.
    pub submitted_by: String,
    /// The submitting event.
    pub submitted_event: String,
    /// The hash of the submitting event: the frozen original.
    pub content_hash: String,
    /// Corrections, oldest first.
    pub amendments: Vec<AmendmentRecord>,
}

const MAX_ITEMS: usize = 200;

fn event_hash(event: &EventBody) -> Result<String, Reject> {
    crate::event::hash_body(event)
        .map_err(|err| Reject::quarantine("payload-invalid", err.to_string()))
}

fn check_list(field: &str, items: &[String]) -> Result<(), Reject> {
    if items.len() > MAX_ITEMS {
        return Err(Reject::quarantine(
            "payload-invalid",
            format!("`{field}` has more than {MAX_ITEMS} items"),
        ));
    }
    items
        .iter()
        .try_for_each(|item| check_text(field, item, 1, 500))
}

fn check_attendance(attendance: &[Attendance]) -> Result<(), Reject> {
    if attendance.is_empty() || attendance.len() > MAX_ITEMS {
        return Err(Reject::quarantine(
            "payload-invalid",
            format!("`attendance` must list 1 to {MAX_ITEMS} workers"),
        ));
    }
    for worker in attendance {
        check_text("attendance.name", &worker.name, 1, 64)?;
        if let Some(id) = &worker.worker_id {
            check_id("attendance.worker_id", id)?;
        }
    }
    Ok(())
}

/// Whether `actor` may record what a team does (its meetings, its briefings): its team lead
/// (班组长) or the enterprise's safety manager (企业安全员).
pub(crate) fn authorize_team_record(
    actor: &Actor,
    enterprise: &str,
    team: &str,
) -> Result<(), Reject> {
    if actor.grant.leads(enterprise, team) || actor.grant.manages(enterprise) {
        Ok(())
    } else {
        Err(Reject::quarantine(
            "not-permitted",
            format!(
                "only the team lead (班组长) of team {team} or the safety manager (企业安全员) of enterprise {enterprise} may record what the team does"
            ),
        ))
    }
}

fn meeting_of(entity: &Entity) -> Result<Meeting, Reject> {
    serde::Deserialize::deserialize(&entity.body).map_err(|err| {
        Reject::quarantine(
            "entity-unreadable",
            format!("the stored meeting cannot be read: {err}"),
        )
    })
}

/// The id of the meeting a team holds in `slot` of `shift` on `date`: a UUIDv8 made of the first
/// 16 bytes of sha256(`meeting\n<enterprise>\n<team>\n<date>\n<shift>\n<slot>`), with the version
/// and variant bits set as RFC 9562 says (byte 6: `0x8_`, byte 8: `0b10…`).
pub fn meeting_id(enterprise: &str, team: &str, date: &str, shift: &str, slot: Slot) -> String {
    crate::entity::derived_id(&["meeting", enterprise, team, date, shift, slot.name()])
}

/// `meeting.submit`: a new, frozen meeting.
#[derive(Debug)]
pub struct MeetingSubmit;

impl Kind for MeetingSubmit {
    const NAME: &'static str = "meeting.submit";
    const ENTITY: EntityType = EntityType::Meeting;
    type Payload = MeetingContent;

    fn validate(event: &EventBody, m: &MeetingContent) -> Result<(), Reject> {
        check_id("enterprise_id", &m.enterprise_id)?;
        check_id("team_id", &m.team_id)?;
        check_date("date", &m.date)?;
        check_text("shift", &m.shift, 1, 32)?;
        let id = meeting_id(
            &m.enterprise_id,
            &m.team_id,
            &m.date,
            m.shift.trim(),
            m.slot,
        );
        if event.entity_id != id {
            return Err(Reject::quarantine(
                "meeting-id-mismatch",
                format!(
                    "a meeting's entity_id is derived from its team, date, shift and slot: it must be {id}"
                ),
            ));
        }
        check_text("host", &m.host, 1, 64)?;
        check_text("place", &m.place, 1, 200)?;
        if m.ended_at_ms < m.started_at_ms {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`ended_at_ms` is before `started_at_ms`",
            ));
        }
        check_attendance(&m.attendance)?;
        if m.topics.is_empty() {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`topics` must name at least one topic",
            ));
        }
        check_list("topics", &m.topics)?;
        check_list("risks", &m.risks)?;
        check_list("handover", &m.handover)?;
        if event.blob_refs.is_empty() {
            return Err(Reject::quarantine(
                "photo-required",
                "a meeting needs at least one photo (现场照片) in `blob_refs`",
            ));
        }
        Ok(())
    }

    fn related(m: &MeetingContent) -> Vec<String> {
        vec![
            super::team::team_id(&m.enterprise_id, &m.team_id),
            m.enterprise_id.clone(),
            super::schedule::schedule_id(&m.enterprise_id, &m.team_id),
        ]
    }

    fn refine_scope(
        scope: EntityScope,
        m: &MeetingContent,
        related: &crate::judge::Related,
    ) -> EntityScope {
        crate::judge::in_enterprise_grid(scope, related, &m.enterprise_id)
    }

    fn check_related(m: &MeetingContent, related: &crate::judge::Related) -> Result<(), Reject> {
        let id = super::team::team_id(&m.enterprise_id, &m.team_id);
        let team: super::team::TeamRecord = related
            .get(&id)
            .and_then(|t| serde::Deserialize::deserialize(&t.body).ok())
            .ok_or_else(|| {
                Reject::quarantine(
                    "unknown-team",
                    format!(
                        "enterprise {} has no team {}; its safety manager adds it first",
                        m.enterprise_id, m.team_id
                    ),
                )
            })?;
        // A team with a schedule holds the slots of the version in effect that day, on the days
        // and shifts it works; one without holds its own slots every day.
        let schedule = super::schedule::schedule_of(related, &m.enterprise_id, &m.team_id);
        let version = match &schedule {
            Some(schedule) => schedule.check_duty(&m.date, &m.shift)?,
            None => None,
        };
        let slots = version.map_or(team.slots, |v| v.slots.clone());
        if !slots.contains(&m.slot) {
            return Err(Reject::quarantine(
                "slot-not-held",
                format!(
                    "team {} does not hold this meeting (its slots are set by the safety manager)",
                    m.team_id
                ),
            ));
        }
        Ok(())
    }

    fn scope(
        actor: &Actor,
        m: &MeetingContent,
        current: Option<&Entity>,
    ) -> Result<EntityScope, Reject> {
        if current.is_some() {
            return Err(Reject::conflict(
                "already-submitted",
                "this meeting was already submitted and is frozen; send a meeting.amend to correct it",
            ));
        }
        Ok(EntityScope {
            enterprise: Some(m.enterprise_id.clone()),
            team: Some(m.team_id.clone()),
            grid: None,
            users: vec![actor.user_id.clone()],
            public: false,
            directory: false,
            review: false,
            reference: false,
        })
    }

    fn authorize(
        actor: &Actor,
        m: &MeetingContent,
        _: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        authorize_team_record(actor, &m.enterprise_id, &m.team_id)
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        content: MeetingContent,
        scope: EntityScope,
        _: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let meeting = Meeting {
            content,
            photos: event.blob_refs.clone(),
            submitted_by: actor.user_id.clone(),
            submitted_event: event.id.clone(),
            content_hash: event_hash(event)?,
            amendments: Vec::new(),
        };
        record_entity(&event.entity_id, EntityType::Meeting, scope, &meeting)
    }
}

/// `meeting.amend`: a correction to a submitted meeting.
#[derive(Debug)]
pub struct MeetingAmend;

impl Kind for MeetingAmend {
    const NAME: &'static str = "meeting.amend";
    const ENTITY: EntityType = EntityType::Meeting;
    type Payload = Amendment;

    fn validate(_: &EventBody, a: &Amendment) -> Result<(), Reject> {
        check_text("reason", &a.reason, 1, 500)?;
        let c = &a.changes;
        if let Some(host) = &c.host {
            check_text("changes.host", host, 1, 64)?;
        }
        if let Some(place) = &c.place {
            check_text("changes.place", place, 1, 200)?;
        }
        if let Some(attendance) = &c.attendance {
            check_attendance(attendance)?;
        }
        for (field, list) in [
            ("changes.topics", &c.topics),
            ("changes.risks", &c.risks),
            ("changes.handover", &c.handover),
        ] {
            if let Some(list) = list {
                check_list(field, list)?;
            }
        }
        if *c == MeetingChanges::default() {
            return Err(Reject::quarantine(
                "payload-invalid",
                "an amendment must change at least one field",
            ));
        }
        Ok(())
    }

    fn scope(_: &Actor, _: &Amendment, current: Option<&Entity>) -> Result<EntityScope, Reject> {
        current.map(|c| c.scope.clone()).ok_or_else(|| {
            Reject::quarantine(
                "unknown-entity",
                "there is no submitted meeting with this id to amend",
            )
        })
    }

    fn authorize(
        actor: &Actor,
        _: &Amendment,
        scope: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        authorize_team_record(
            actor,
            scope.enterprise.as_deref().unwrap_or_default(),
            scope.team.as_deref().unwrap_or_default(),
        )
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        amendment: Amendment,
        scope: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let current =
            current.ok_or_else(|| Reject::quarantine("unknown-entity", "no meeting to amend"))?;
        let mut meeting = meeting_of(current)?;
        let c = &amendment.changes;
        let content = &mut meeting.content;
        if let Some(host) = &c.host {
            content.host = host.clone();
        }
        if let Some(place) = &c.place {
            content.place = place.clone();
        }
        if let Some(attendance) = &c.attendance {
            content.attendance = attendance.clone();
        }
        if let Some(topics) = &c.topics {
            content.topics = topics.clone();
        }
        if let Some(risks) = &c.risks {
            content.risks = risks.clone();
        }
        if let Some(handover) = &c.handover {
            content.handover = handover.clone();
        }
        meeting.photos.extend(event.blob_refs.iter().cloned());
        meeting.amendments.push(AmendmentRecord {
            event_id: event.id.clone(),
            event_hash: event_hash(event)?,
            by: actor.user_id.clone(),
            reason: amendment.reason,
            changes: amendment.changes,
            photos: event.blob_refs.clone(),
        });
        record_entity(
            &current.id,
            EntityType::Meeting,
            scope.with_user(&actor.user_id),
            &meeting,
        )
    }
}
