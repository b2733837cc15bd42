//! The principal's safety commitment (主体责任告知承诺): once a year the enterprise's principal
//! (主要负责人) signs the commitment to the duties the law puts on them, and the town keeps it.
//!
//! `commitment.sign` records one, with the photo of the signed page, frozen once recorded. An
//! enterprise signs once a year: the entity id is [`commitment_id`] of the enterprise and the
//! year, so the same commitment recorded twice is a conflict, never two. The office lists the
//! enterprises whose commitment for the year is missing. Sent by the enterprise's safety
//! manager or an admin.

use serde::{Deserialize, Serialize};

use crate::entity::{Entity, EntityScope, EntityType, derived_id};
use crate::event::EventBody;
use crate::judge::{
    Actor, Kind, Reject, Related, check_date, check_id, check_text, in_enterprise_grid,
    manager_or_admin, record_entity, registered_enterprise,
};

/// The `commitment.sign` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitmentContent {
    /// The enterprise (企业).
    pub enterprise_id: String,
    /// The year it is for, `YYYY`.
    pub year: String,
    /// Who signed (主要负责人).
    pub principal: String,
    /// What they undertake (承诺事项), 1 to 30 lines.
    pub pledges: Vec<String>,
    /// The day they signed, `YYYY-MM-DD`.
    pub signed_on: String,
}

/// A commitment entity's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    /// As signed.
    #[serde(flatten)]
    pub content: CommitmentContent,
    /// The photos of the signed page (at least one).
    pub photos: Vec<String>,
    /// Who recorded it.
    pub recorded_by: String,
}

/// The id of enterprise `enterprise`'s commitment for `year`.
pub fn commitment_id(enterprise: &str, year: &str) -> String {
    derived_id(&["commitment", enterprise, year])
}

/// `commitment.sign`: the year's signed commitment.
#[derive(Debug)]
pub struct CommitmentSign;

impl Kind for CommitmentSign {
    const NAME: &'static str = "commitment.sign";
    const ENTITY: EntityType = EntityType::Commitment;
    type Payload = CommitmentContent;

    fn validate(event: &EventBody, c: &CommitmentContent) -> Result<(), Reject> {
        check_id("enterprise_id", &c.enterprise_id)?;
        let year_ok = c.year.len() == 4
            && c.year.bytes().all(|b| b.is_ascii_digit())
            && ("2000".."2101").contains(&c.year.as_str());
        if !year_ok {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`year` is a year from 2000 to 2100, `YYYY`",
            ));
        }
        let id = commitment_id(&c.enterprise_id, &c.year);
        if event.entity_id != id {
            return Err(Reject::quarantine(
                "commitment-id-mismatch",
                format!(
                    "a commitment's entity_id is derived from its enterprise and year: it must be {id}"
                ),
            ));
        }
        check_text("principal", &c.principal, 1, 50)?;
        if c.pledges.is_empty() || c.pledges.len() > 30 {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`pledges` lists 1 to 30 undertakings",
            ));
        }
        for pledge in &c.pledges {
            check_text("pledges", pledge, 1, 500)?;
        }
        check_date("signed_on", &c.signed_on)?;
        if event.blob_refs.is_empty() {
            return Err(Reject::quarantine(
                "photo-required",
                "a commitment needs the photo of the signed page (签字页照片) in `blob_refs`",
            ));
        }
        Ok(())
    }

    fn related(c: &CommitmentContent) -> Vec<String> {
        vec![c.enterprise_id.clone()]
    }

    fn check_related(c: &CommitmentContent, related: &Related) -> Result<(), Reject> {
        registered_enterprise(related, &c.enterprise_id)
    }

    fn refine_scope(scope: EntityScope, c: &CommitmentContent, related: &Related) -> EntityScope {
        in_enterprise_grid(scope, related, &c.enterprise_id)
    }

    fn scope(
        _: &Actor,
        c: &CommitmentContent,
        current: Option<&Entity>,
    ) -> Result<EntityScope, Reject> {
        if current.is_some() {
            return Err(Reject::conflict(
                "already-submitted",
                "this enterprise's commitment for the year is already recorded and frozen",
            ));
        }
        Ok(EntityScope {
            enterprise: Some(c.enterprise_id.clone()),
            ..EntityScope::default()
        })
    }

    fn authorize(
        actor: &Actor,
        c: &CommitmentContent,
        _: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        manager_or_admin(actor, &c.enterprise_id, "records its commitment")
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        content: CommitmentContent,
        scope: EntityScope,
        _: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let commitment = Commitment {
            content,
            photos: event.blob_refs.clone(),
            recorded_by: actor.user_id.clone(),
        };
        record_entity(&event.entity_id, EntityType::Commitment, scope, &commitment)
    }
}
