//! An enterprise's floor plan (平面布置图), on which its risk points are placed (一图: the
//! four-colour risk distribution, 四色分布图).
//!
//! `floorplan.save` publishes a version of the plan: a photo or drawing of the site cited in
//! `blob_refs`. An enterprise has one plan: the entity id is [`floorplan_id`] of the enterprise,
//! and each publication names the version it makes (one more than the current; any other is a
//! conflict), the earlier images kept. Risk points place themselves on it (`plan_point`, in
//! thousandths of its width and height). Sent by the enterprise's safety manager or an admin.

use serde::{Deserialize, Serialize};

use crate::entity::{Entity, EntityScope, EntityType, derived_id};
use crate::event::EventBody;
use crate::judge::{
    Actor, Kind, Reject, Related, check_id, check_next_version, check_text, in_enterprise_grid,
    manager_or_admin, record_entity, registered_enterprise,
};

/// The `floorplan.save` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloorPlanContent {
    /// The enterprise (企业).
    pub enterprise_id: String,
    /// The version this publication makes: 1, then one more than the current.
    pub version: u32,
    /// What it shows (厂区平面布置图).
    pub title: String,
    /// The image's sha256, also in the event's `blob_refs`.
    pub image: String,
}

/// A floor plan entity's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloorPlan {
    /// The current version.
    #[serde(flatten)]
    pub content: FloorPlanContent,
    /// Who published it.
    pub published_by: String,
    /// The earlier images, oldest first.
    pub earlier_images: Vec<String>,
}

/// The id of enterprise `enterprise`'s floor plan.
pub fn floorplan_id(enterprise: &str) -> String {
    derived_id(&["floorplan", enterprise])
}

/// `floorplan.save`: a new version of an enterprise's floor plan.
#[derive(Debug)]
pub struct FloorPlanSave;

impl Kind for FloorPlanSave {
    const NAME: &'static str = "floorplan.save";
    const ENTITY: EntityType = EntityType::FloorPlan;
    type Payload = FloorPlanContent;

    fn validate(event: &EventBody, p: &FloorPlanContent) -> Result<(), Reject> {
        check_id("enterprise_id", &p.enterprise_id)?;
        let id = floorplan_id(&p.enterprise_id);
        if event.entity_id != id {
            return Err(Reject::quarantine(
                "floorplan-id-mismatch",
                format!("a floor plan's entity_id is derived from its enterprise: it must be {id}"),
            ));
        }
        if p.version == 0 {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`version` counts from 1",
            ));
        }
        check_text("title", &p.title, 1, 100)?;
        if !event.blob_refs.contains(&p.image) {
            return Err(Reject::quarantine(
                "photo-required",
                "the plan's image (`image`) is one of the event's `blob_refs`",
            ));
        }
        Ok(())
    }

    fn related(p: &FloorPlanContent) -> Vec<String> {
        vec![p.enterprise_id.clone()]
    }

    fn check_related(p: &FloorPlanContent, related: &Related) -> Result<(), Reject> {
        registered_enterprise(related, &p.enterprise_id)
    }

    fn refine_scope(scope: EntityScope, p: &FloorPlanContent, related: &Related) -> EntityScope {
        in_enterprise_grid(scope, related, &p.enterprise_id)
    }

    fn scope(_: &Actor, p: &FloorPlanContent, _: Option<&Entity>) -> Result<EntityScope, Reject> {
        Ok(EntityScope {
            enterprise: Some(p.enterprise_id.clone()),
            directory: true,
            ..EntityScope::default()
        })
    }

    fn authorize(
        actor: &Actor,
        p: &FloorPlanContent,
        _: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        manager_or_admin(actor, &p.enterprise_id, "publishes its floor plan")
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        content: FloorPlanContent,
        scope: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let previous: Option<FloorPlan> = current
            .map(|c| serde::Deserialize::deserialize(&c.body))
            .transpose()
            .map_err(|err| {
                Reject::quarantine(
                    "entity-unreadable",
                    format!("the stored floor plan cannot be read: {err}"),
                )
            })?;
        check_next_version(
            previous.as_ref().map_or(0, |p| p.content.version),
            content.version,
            "floor plan",
        )?;
        let mut earlier_images = Vec::new();
        if let Some(p) = previous {
            earlier_images = p.earlier_images;
            earlier_images.push(p.content.image);
        }
        let plan = FloorPlan {
            content,
            published_by: actor.user_id.clone(),
            earlier_images,
        };
        record_entity(&event.entity_id, EntityType::FloorPlan, scope, &plan)
    }
}
