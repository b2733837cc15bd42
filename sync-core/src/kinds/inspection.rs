//! Checklist templates (检查表) and inspections (检查).
//!
//! A template is versioned and immutable once published: `template.publish` of a code and
//! version that already exist is a conflict. Every inspection pins the version it was captured
//! with (the event's `template_ref`, `<code>@<version>`), so a newer version never changes how an
//! older record reads. Templates are reference data every user reads (bucket `reference`).
//!
//! `inspection.submit` records a finished inspection and freezes it: its hash is kept as
//! `content_hash`, a second submit is a conflict, and corrections are `inspection.amend` events,
//! appended with their reason. Enforcement inspections (执法检查, 复查) need at least two
//! inspectors with certificate numbers (执法证号). The enterprise signs (a photo of the signature
//! in `signature`) or its refusal is noted (`refusal_note`). Hazards raised in an inspection name
//! it in their `inspection_id`.

use serde::{Deserialize, Serialize};

use crate::access::Role;
use crate::entity::{Entity, EntityScope, EntityType, derived_id};
use crate::event::EventBody;
use crate::judge::{
    Actor, Kind, Reject, Related, check_cited, check_id, check_text, record_entity,
};

/// The entity id of version `version` of template `code`.
pub fn template_id(code: &str, version: u32) -> String {
    derived_id(&["template", code, &version.to_string()])
}

/// One item of a checklist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateItem {
    /// Its code within the template (`XF-01`).
    pub code: String,
    /// What to check.
    pub text: String,
    /// The legal basis (依据).
    #[serde(default)]
    pub basis: Option<String>,
    /// How to check (检查方法).
    #[serde(default)]
    pub method: Option<String>,
    /// Whether a finding needs a photo.
    #[serde(default)]
    pub photo_required: bool,
}

/// A section (消防, 用电 …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSection {
    /// Title.
    pub title: String,
    /// Items.
    pub items: Vec<TemplateItem>,
}

/// A template version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Its code (`small-enterprise`).
    pub code: String,
    /// Its version, from 1.
    pub version: u32,
    /// Title.
    pub title: String,
    /// Sections.
    pub sections: Vec<TemplateSection>,
}

impl Template {
    fn item(&self, code: &str) -> Option<&TemplateItem> {
        self.sections
            .iter()
            .flat_map(|s| &s.items)
            .find(|i| i.code == code)
    }
}

/// `template.publish`: publish a template version (admin; the server ships one).
#[derive(Debug)]
pub struct TemplatePublish;

impl Kind for TemplatePublish {
    const NAME: &'static str = "template.publish";
    const ENTITY: EntityType = EntityType::Template;
    type Payload = Template;

    fn validate(event: &EventBody, t: &Template) -> Result<(), Reject> {
        check_id("code", &t.code)?;
        check_text("title", &t.title, 1, 100)?;
        if t.version == 0 || t.sections.is_empty() || t.sections.len() > 50 {
            return Err(Reject::quarantine(
                "payload-invalid",
                "a template has a version from 1 and 1 to 50 sections",
            ));
        }
        let mut codes = std::collections::BTreeSet::new();
        for section in &t.sections {
            check_text("sections.title", &section.title, 1, 50)?;
            if section.items.is_empty() || section.items.len() > 100 {
                return Err(Reject::quarantine(
                    "payload-invalid",
                    "a section has 1 to 100 items",
                ));
            }
            for item in &section.items {
                check_id("items.code", &item.code)?;
                check_text("items.text", &item.text, 1, 500)?;
                if !codes.insert(item.code.clone()) {
                    return Err(Reject::quarantine(
                        "payload-invalid",
                        format!("the item code {} is used twice", item.code),
                    ));
                }
            }
        }
        let id = template_id(&t.code, t.version);
        if event.entity_id != id {
            return Err(Reject::quarantine(
                "template-id-mismatch",
                format!(
                    "a template version's entity_id is derived from its code and version: it must be {id}"
                ),
            ));
        }
        Ok(())
    }

    fn scope(_: &Actor, _: &Template, current: Option<&Entity>) -> Result<EntityScope, Reject> {
        if current.is_some() {
            return Err(Reject::conflict(
                "template-published",
                "this template version is published and cannot change; publish a new version",
            ));
        }
        Ok(EntityScope {
            reference: true,
            ..EntityScope::default()
        })
    }

    fn authorize(
        actor: &Actor,
        _: &Template,
        _: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        crate::judge::admin_only(actor, "publishes checklists")
    }

    fn apply(
        _: &Actor,
        event: &EventBody,
        template: Template,
        scope: EntityScope,
        _: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        record_entity(&event.entity_id, EntityType::Template, scope, &template)
    }
}

/// The kinds of inspection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InspectionKind {
    /// The enterprise's own check (企业自查).
    SelfCheck,
    /// A grid patrol (网格巡查).
    GridPatrol,
    /// Law enforcement (执法检查).
    Enforcement,
    /// A special campaign (专项检查).
    SpecialCampaign,
    /// A re-check of earlier findings (复查).
    Recheck,
}

/// An inspector present.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inspector {
    /// Name.
    pub name: String,
    /// Enforcement certificate number (执法证号), needed for enforcement kinds.
    #[serde(default)]
    pub certificate: Option<String>,
}

/// An item's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemVerdict {
    /// 符合.
    Ok,
    /// 存在隐患.
    Hazard,
    /// 不适用.
    NotApplicable,
}

/// One item checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemResult {
    /// The template item's code.
    pub item: String,
    /// The result.
    pub verdict: ItemVerdict,
    /// A note.
    #[serde(default)]
    pub note: Option<String>,
    /// Photos (sha256), when the item asks for them on a finding.
    #[serde(default)]
    pub photos: Vec<String>,
}

/// The `inspection.submit` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectionRecord {
    /// The enterprise.
    pub enterprise_id: String,
    /// Its grid.
    #[serde(default)]
    pub grid_id: Option<String>,
    /// What kind of inspection.
    pub kind: InspectionKind,
    /// The template's code.
    pub template: String,
    /// The template's version.
    pub template_version: u32,
    /// Who inspected.
    pub inspectors: Vec<Inspector>,
    /// Start, device clock, ms.
    pub started_at_ms: i64,
    /// End, device clock, ms.
    pub ended_at_ms: i64,
    /// Results per item.
    pub results: Vec<ItemResult>,
    /// Summary (检查结论).
    pub summary: String,
    /// Action taken on site (现场处理措施).
    #[serde(default)]
    pub on_site_action: Option<String>,
    /// The enterprise representative's signature, a photo's sha256.
    #[serde(default)]
    pub signature: Option<String>,
    /// Why there is no signature (拒签说明).
    #[serde(default)]
    pub refusal_note: Option<String>,
    /// The team whose self-check it is (班组自查), for a self-check by a team; without it a
    /// self-check is the enterprise's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
}

/// `inspection.submit`: a finished inspection, frozen.
#[derive(Debug)]
pub struct InspectionSubmit;

fn template_of(related: &Related, code: &str, version: u32) -> Result<Template, Reject> {
    related
        .get(&template_id(code, version))
        .and_then(|t| serde::Deserialize::deserialize(&t.body).ok())
        .ok_or_else(|| {
            Reject::quarantine(
                "unknown-template",
                format!("checklist {code} version {version} is not published; pull, or ask the office to publish it"),
            )
        })
}

impl Kind for InspectionSubmit {
    const NAME: &'static str = "inspection.submit";
    const ENTITY: EntityType = EntityType::Inspection;
    type Payload = InspectionRecord;

    fn validate(event: &EventBody, r: &InspectionRecord) -> Result<(), Reject> {
        check_id("enterprise_id", &r.enterprise_id)?;
        if let Some(grid) = &r.grid_id {
            check_id("grid_id", grid)?;
        }
        if let Some(team) = &r.team_id {
            check_id("team_id", team)?;
            if r.kind != InspectionKind::SelfCheck {
                return Err(Reject::quarantine(
                    "payload-invalid",
                    "`team_id` names the team of a self-check (self_check) only",
                ));
            }
        }
        check_text("summary", &r.summary, 1, 5000)?;
        if r.ended_at_ms < r.started_at_ms {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`ended_at_ms` is before `started_at_ms`",
            ));
        }
        if r.inspectors.is_empty() || r.inspectors.len() > 20 {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`inspectors` names 1 to 20 people",
            ));
        }
        for inspector in &r.inspectors {
            check_text("inspectors.name", &inspector.name, 1, 50)?;
        }
        if matches!(
            r.kind,
            InspectionKind::Enforcement | InspectionKind::Recheck
        ) {
            let certified = r
                .inspectors
                .iter()
                .filter(|i| {
                    i.certificate
                        .as_deref()
                        .is_some_and(|c| !c.trim().is_empty())
                })
                .count();
            if certified < 2 {
                return Err(Reject::quarantine(
                    "two-officers-required",
                    "an enforcement inspection needs at least two inspectors with certificate numbers (执法证号)",
                ));
            }
        }
        if r.signature.is_none() && r.refusal_note.is_none() {
            return Err(Reject::quarantine(
                "signature-required",
                "the enterprise signs (`signature`), or its refusal is noted (`refusal_note`)",
            ));
        }
        if let Some(signature) = &r.signature {
            check_cited("signature", signature, event)?;
        }
        for result in &r.results {
            result
                .photos
                .iter()
                .try_for_each(|photo| check_cited("results.photos", photo, event))?;
        }
        let pinned = format!("{}@{}", r.template, r.template_version);
        if event.template_ref.as_deref() != Some(pinned.as_str()) {
            return Err(Reject::quarantine(
                "template-ref-required",
                format!("the event's template_ref must pin the checklist used: {pinned}"),
            ));
        }
        Ok(())
    }

    fn related(r: &InspectionRecord) -> Vec<String> {
        let mut ids = vec![
            template_id(&r.template, r.template_version),
            r.enterprise_id.clone(),
        ];
        if let Some(team) = &r.team_id {
            ids.push(super::team::team_id(&r.enterprise_id, team));
        }
        ids
    }

    fn refine_scope(scope: EntityScope, r: &InspectionRecord, related: &Related) -> EntityScope {
        crate::judge::in_enterprise_grid(scope, related, &r.enterprise_id)
    }

    fn check_related(r: &InspectionRecord, related: &Related) -> Result<(), Reject> {
        if let Some(team) = &r.team_id {
            let known = related
                .get(&super::team::team_id(&r.enterprise_id, team))
                .is_some_and(|t| t.entity_type == EntityType::Team && !t.deleted);
            if !known {
                return Err(Reject::quarantine(
                    "unknown-team",
                    format!(
                        "enterprise {} has no team {team}; its safety manager adds it first",
                        r.enterprise_id
                    ),
                ));
            }
        }
        let template = template_of(related, &r.template, r.template_version)?;
        for result in &r.results {
            let Some(item) = template.item(&result.item) else {
                return Err(Reject::quarantine(
                    "unknown-item",
                    format!(
                        "item {} is not in checklist {} version {}",
                        result.item, r.template, r.template_version
                    ),
                ));
            };
            if item.photo_required
                && result.verdict == ItemVerdict::Hazard
                && result.photos.is_empty()
            {
                return Err(Reject::quarantine(
                    "photo-required",
                    format!("a finding on item {} needs a photo", item.code),
                ));
            }
        }
        Ok(())
    }

    fn scope(
        actor: &Actor,
        r: &InspectionRecord,
        current: Option<&Entity>,
    ) -> Result<EntityScope, Reject> {
        if current.is_some() {
            return Err(Reject::conflict(
                "already-submitted",
                "this inspection was already submitted and is frozen; send an inspection.amend to correct it",
            ));
        }
        Ok(EntityScope {
            enterprise: Some(r.enterprise_id.clone()),
            grid: r.grid_id.clone(),
            users: vec![actor.user_id.clone()],
            ..EntityScope::default()
        })
    }

    fn authorize(
        actor: &Actor,
        r: &InspectionRecord,
        scope: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        let allowed = match r.kind {
            // A team's self-check (班组自查) by its lead; any self-check by the safety manager.
            InspectionKind::SelfCheck => {
                actor.grant.manages(&r.enterprise_id)
                    || r.team_id
                        .as_deref()
                        .is_some_and(|team| actor.grant.leads(&r.enterprise_id, team))
            }
            _ => actor.grant.has(Role::Admin) || actor.grant.inspects(scope.grid.as_deref()),
        };
        if allowed {
            Ok(())
        } else {
            Err(Reject::quarantine(
                "not-permitted",
                "inspections are by inspectors covering the grid (a self-check by the enterprise's safety manager)",
            ))
        }
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        record: InspectionRecord,
        scope: EntityScope,
        _: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let hash = crate::event::hash_body(event)
            .map_err(|err| Reject::quarantine("payload-invalid", err.to_string()))?;
        let mut body = serde_json::to_value(&record)
            .map_err(|err| Reject::quarantine("entity-unreadable", err.to_string()))?;
        body["submitted_by"] = actor.user_id.clone().into();
        body["content_hash"] = hash.into();
        body["amendments"] = serde_json::json!([]);
        Ok(Entity {
            id: event.entity_id.clone(),
            entity_type: EntityType::Inspection,
            scope,
            deleted: false,
            blobs: Vec::new(),
            body,
        })
    }
}

/// The `inspection.amend` payload: a correction, with its reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectionAmendment {
    /// Why (更正原因).
    pub reason: String,
    /// A corrected summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// A corrected on-site action.
    #[serde(default)]
    pub on_site_action: Option<String>,
}

/// `inspection.amend`: a correction to a submitted inspection.
#[derive(Debug)]
pub struct InspectionAmend;

impl Kind for InspectionAmend {
    const NAME: &'static str = "inspection.amend";
    const ENTITY: EntityType = EntityType::Inspection;
    type Payload = InspectionAmendment;

    fn validate(_: &EventBody, a: &InspectionAmendment) -> Result<(), Reject> {
        check_text("reason", &a.reason, 1, 1000)?;
        if a.summary.is_none() && a.on_site_action.is_none() {
            return Err(Reject::quarantine(
                "payload-invalid",
                "an amendment changes `summary` or `on_site_action`",
            ));
        }
        Ok(())
    }

    fn scope(
        _: &Actor,
        _: &InspectionAmendment,
        current: Option<&Entity>,
    ) -> Result<EntityScope, Reject> {
        current.map(|c| c.scope.clone()).ok_or_else(|| {
            Reject::quarantine(
                "unknown-entity",
                "there is no submitted inspection with this id",
            )
        })
    }

    fn authorize(
        actor: &Actor,
        _: &InspectionAmendment,
        _: &EntityScope,
        current: Option<&Entity>,
    ) -> Result<(), Reject> {
        let by = current.and_then(|c| c.body["submitted_by"].as_str().map(str::to_string));
        if by.as_deref() == Some(actor.user_id.as_str()) || actor.grant.has(Role::Admin) {
            Ok(())
        } else {
            Err(Reject::quarantine(
                "not-permitted",
                "only who submitted an inspection, or an admin, amends it",
            ))
        }
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        a: InspectionAmendment,
        scope: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let current =
            current.ok_or_else(|| Reject::quarantine("unknown-entity", "no inspection"))?;
        let mut body = current.body.clone();
        if let Some(summary) = &a.summary {
            body["summary"] = summary.clone().into();
        }
        if let Some(action) = &a.on_site_action {
            body["on_site_action"] = action.clone().into();
        }
        let record = serde_json::json!({"event_id": event.id, "by": actor.user_id, "reason": a.reason,
            "summary": a.summary, "on_site_action": a.on_site_action});
        match body["amendments"].as_array_mut() {
            Some(amendments) => amendments.push(record),
            None => body["amendments"] = serde_json::json!([record]),
        }
        Ok(Entity {
            id: current.id.clone(),
            entity_type: EntityType::Inspection,
            scope,
            deleted: false,
            blobs: Vec::new(),
            body,
        })
    }
}
