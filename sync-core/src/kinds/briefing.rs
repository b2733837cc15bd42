//! Pre-shift one-minute briefings (岗前一分钟培训): before a worker takes their post for a
//! shift, the team lead (班组长) goes through the post's risk-notice card (风险告知卡) with them
//! and ticks the points covered — the post's risks, what to check, what to do if it goes wrong.
//!
//! `briefing.record` creates one, frozen from then on, like a meeting. A worker is briefed once
//! per shift: the id is [`briefing_id`] of the enterprise, team, day, shift and worker, the same
//! on every device, so the same briefing recorded on two phones is a conflict shown to the team
//! lead, never counted twice. It may name that shift's meeting (`meeting_id`), held with the
//! briefing or not.
//!
//! Who may send one: the team lead of the team, or the enterprise's safety manager (企业安全员).
//! The worker must be on the enterprise's roster (`worker.save`).

use serde::{Deserialize, Serialize};

use super::card::{CardKind, card_id};
use super::meeting::{Slot, meeting_id};
use crate::entity::{Entity, EntityScope, EntityType, derived_id};
use crate::event::EventBody;
use crate::judge::{
    Actor, Kind, Reject, Related, check_date, check_id, check_text, in_enterprise_grid,
    record_entity,
};

/// The most points one briefing ticks.
const MAX_POINTS: usize = 30;
/// The longest briefing, in seconds: an hour is a training session, not a briefing.
const MAX_SECONDS: u32 = 3600;

/// A briefing as recorded (the `briefing.record` payload).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BriefingContent {
    /// The enterprise (企业).
    pub enterprise_id: String,
    /// The team's code (班组).
    pub team_id: String,
    /// The working day, `YYYY-MM-DD`.
    pub date: String,
    /// The shift's name (早班, 夜班 …).
    pub shift: String,
    /// The worker briefed (从业人员), by their roster id.
    pub worker_id: String,
    /// Their name as the team lead saw it.
    pub worker_name: String,
    /// The post (岗位) they take.
    pub post: String,
    /// The version of the post's risk-notice card (风险告知卡, `card.publish`) read, where the
    /// post has one: a version the card has had.
    #[serde(default)]
    pub card_version: Option<u32>,
    /// The points covered (1 to 30).
    pub points: Vec<String>,
    /// How long it took, in seconds (1 to 3600).
    pub duration_s: u32,
    /// When it began, device clock, ms since the epoch.
    pub started_at_ms: i64,
    /// That shift's meeting, when it was held with one.
    #[serde(default)]
    pub meeting_id: Option<String>,
}

/// A briefing entity's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Briefing {
    /// As recorded.
    #[serde(flatten)]
    pub content: BriefingContent,
    /// Photos taken with it (optional).
    pub photos: Vec<String>,
    /// Who recorded it.
    pub recorded_by: String,
    /// The recording event.
    pub recorded_event: String,
}

/// The id of the briefing of `worker` before `shift` on `date` in team `team` of `enterprise`:
/// [`derived_id`] of `briefing`, then those.
pub fn briefing_id(enterprise: &str, team: &str, date: &str, shift: &str, worker: &str) -> String {
    derived_id(&["briefing", enterprise, team, date, shift, worker])
}

/// `briefing.record`: a new, frozen 岗前一分钟 record.
#[derive(Debug)]
pub struct BriefingRecord;

impl Kind for BriefingRecord {
    const NAME: &'static str = "briefing.record";
    const ENTITY: EntityType = EntityType::Briefing;
    type Payload = BriefingContent;

    fn validate(event: &EventBody, b: &BriefingContent) -> Result<(), Reject> {
        check_id("enterprise_id", &b.enterprise_id)?;
        check_id("team_id", &b.team_id)?;
        check_date("date", &b.date)?;
        check_text("shift", &b.shift, 1, 32)?;
        check_id("worker_id", &b.worker_id)?;
        check_text("worker_name", &b.worker_name, 1, 64)?;
        check_text("post", &b.post, 1, 50)?;
        let id = briefing_id(
            &b.enterprise_id,
            &b.team_id,
            &b.date,
            b.shift.trim(),
            &b.worker_id,
        );
        if event.entity_id != id {
            return Err(Reject::quarantine(
                "briefing-id-mismatch",
                format!(
                    "a briefing's entity_id is derived from its team, day, shift and worker: it must be {id}"
                ),
            ));
        }
        if b.card_version == Some(0) {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`card_version` counts from 1; leave it out where the post has no card",
            ));
        }
        if b.points.is_empty() || b.points.len() > MAX_POINTS {
            return Err(Reject::quarantine(
                "payload-invalid",
                format!("`points` names 1 to {MAX_POINTS} points covered"),
            ));
        }
        for point in &b.points {
            check_text("points", point, 1, 200)?;
        }
        if b.duration_s == 0 || b.duration_s > MAX_SECONDS {
            return Err(Reject::quarantine(
                "payload-invalid",
                format!("`duration_s` is 1 to {MAX_SECONDS} seconds"),
            ));
        }
        if let Some(meeting) = &b.meeting_id {
            let shift = b.shift.trim();
            let of_shift = [Slot::PreShift, Slot::MidShift, Slot::Handover]
                .into_iter()
                .any(|slot| {
                    *meeting == meeting_id(&b.enterprise_id, &b.team_id, &b.date, shift, slot)
                });
            if !of_shift {
                return Err(Reject::quarantine(
                    "payload-invalid",
                    "`meeting_id` names a meeting of the same team, day and shift",
                ));
            }
        }
        Ok(())
    }

    fn related(b: &BriefingContent) -> Vec<String> {
        vec![
            super::team::team_id(&b.enterprise_id, &b.team_id),
            b.enterprise_id.clone(),
            b.worker_id.clone(),
            card_id(&b.enterprise_id, &b.post, CardKind::RiskNotice),
            super::schedule::schedule_id(&b.enterprise_id, &b.team_id),
        ]
    }

    fn check_related(b: &BriefingContent, related: &Related) -> Result<(), Reject> {
        if related
            .get(&super::team::team_id(&b.enterprise_id, &b.team_id))
            .is_none_or(|t| t.entity_type != EntityType::Team)
        {
            return Err(Reject::quarantine(
                "unknown-team",
                format!(
                    "enterprise {} has no team {}; its safety manager adds it first",
                    b.enterprise_id, b.team_id
                ),
            ));
        }
        let on_roster = related.get(&b.worker_id).is_some_and(|w| {
            w.entity_type == EntityType::Worker
                && w.scope.enterprise.as_deref() == Some(b.enterprise_id.as_str())
        });
        if !on_roster {
            return Err(Reject::quarantine(
                "unknown-worker",
                format!(
                    "enterprise {} has no worker {} on its roster; its safety manager adds them first",
                    b.enterprise_id, b.worker_id
                ),
            ));
        }
        // A team with a schedule is briefed on the days and shifts it works.
        if let Some(schedule) = super::schedule::schedule_of(related, &b.enterprise_id, &b.team_id)
        {
            schedule.check_duty(&b.date, &b.shift)?;
        }
        // The card read is a version the post's risk-notice card (风险告知卡) has had.
        if let Some(version) = b.card_version {
            let published = related
                .get(&card_id(&b.enterprise_id, &b.post, CardKind::RiskNotice))
                .and_then(|c| c.body["version"].as_u64())
                .unwrap_or(0);
            if u64::from(version) > published {
                return Err(Reject::quarantine(
                    "unknown-card",
                    format!(
                        "the post {} has no risk-notice card (风险告知卡) version {version}: it is at version {published}",
                        b.post.trim()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn refine_scope(scope: EntityScope, b: &BriefingContent, related: &Related) -> EntityScope {
        in_enterprise_grid(scope, related, &b.enterprise_id)
    }

    fn scope(
        actor: &Actor,
        b: &BriefingContent,
        current: Option<&Entity>,
    ) -> Result<EntityScope, Reject> {
        if current.is_some() {
            return Err(Reject::conflict(
                "already-submitted",
                "this worker's briefing for this shift is already recorded and frozen",
            ));
        }
        Ok(EntityScope {
            enterprise: Some(b.enterprise_id.clone()),
            team: Some(b.team_id.clone()),
            users: vec![actor.user_id.clone()],
            ..EntityScope::default()
        })
    }

    fn authorize(
        actor: &Actor,
        b: &BriefingContent,
        _: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        super::meeting::authorize_team_record(actor, &b.enterprise_id, &b.team_id)
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        content: BriefingContent,
        scope: EntityScope,
        _: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let briefing = Briefing {
            content,
            photos: event.blob_refs.clone(),
            recorded_by: actor.user_id.clone(),
            recorded_event: event.id.clone(),
        };
        record_entity(&event.entity_id, EntityType::Briefing, scope, &briefing)
    }
}
