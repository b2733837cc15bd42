//! Teams (班组) of an enterprise, and the shift meetings each must hold.
//!
//! `team.save` creates or renames a team and sets its *slots*: which of the three meetings
//! (班前, 班中, 交接班) it holds each working day. Its `code` is what team leads' scopes and
//! meetings' `team_id` name; its entity id is [`team_id`] of the enterprise and code. Sent by the
//! enterprise's safety manager (企业安全员) or an admin. A team is part of its enterprise's
//! directory, read by everyone working for the enterprise.

use serde::{Deserialize, Serialize};

use super::meeting::Slot;
use crate::entity::{Entity, EntityScope, EntityType, derived_id};
use crate::event::EventBody;
use crate::judge::{Actor, Kind, Reject, check_id, check_text, manager_or_admin, record_entity};

/// The entity id of team `code` of `enterprise`.
pub fn team_id(enterprise: &str, code: &str) -> String {
    derived_id(&["team", enterprise, code])
}

/// A team's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamRecord {
    /// The enterprise.
    pub enterprise_id: String,
    /// The code scopes and meetings use (1–64 of `A-Z a-z 0-9 - _`).
    pub code: String,
    /// The name people use (一车间早班).
    pub name: String,
    /// The meetings it holds each working day (at least one).
    pub slots: Vec<Slot>,
}

/// `team.save`: create or change a team.
#[derive(Debug)]
pub struct TeamSave;

impl Kind for TeamSave {
    const NAME: &'static str = "team.save";
    const ENTITY: EntityType = EntityType::Team;
    type Payload = TeamRecord;

    fn validate(event: &EventBody, t: &TeamRecord) -> Result<(), Reject> {
        check_id("enterprise_id", &t.enterprise_id)?;
        check_id("code", &t.code)?;
        check_text("name", &t.name, 1, 50)?;
        let repeated = t
            .slots
            .iter()
            .enumerate()
            .any(|(i, slot)| t.slots[..i].contains(slot));
        if t.slots.is_empty() || repeated {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`slots` names one to three different meetings: pre_shift, mid_shift, handover",
            ));
        }
        let id = team_id(&t.enterprise_id, &t.code);
        if event.entity_id != id {
            return Err(Reject::quarantine(
                "team-id-mismatch",
                format!(
                    "a team's entity_id is derived from its enterprise and code: it must be {id}"
                ),
            ));
        }
        Ok(())
    }

    fn scope(_: &Actor, t: &TeamRecord, _: Option<&Entity>) -> Result<EntityScope, Reject> {
        Ok(EntityScope {
            enterprise: Some(t.enterprise_id.clone()),
            team: Some(t.code.clone()),
            directory: true,
            ..EntityScope::default()
        })
    }

    fn authorize(
        actor: &Actor,
        t: &TeamRecord,
        _: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        manager_or_admin(actor, &t.enterprise_id, "keeps its teams")
    }

    fn apply(
        _: &Actor,
        event: &EventBody,
        record: TeamRecord,
        scope: EntityScope,
        _: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        record_entity(&event.entity_id, EntityType::Team, scope, &record)
    }
}
