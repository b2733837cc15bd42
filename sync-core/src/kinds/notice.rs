//! Notices of major safety risks (重大安全风险公告): what an enterprise posts at its gate and
//! on its board about its major risks (重大风险) — the risk, how it is controlled, what to do
//! in an emergency, whom to call.
//!
//! `notice.publish` posts a notice or a new version of one (`version`, one more than the
//! current; any other is a conflict, and earlier versions stay in `history`). A notice is about
//! the enterprise's live major risk points: it names them, and a risk point graded lower, or
//! retired, cannot be named (`not-major-risk`). `public` puts it on the public endpoint
//! (`GET /v1/public/notices`) as well as before the office and the enterprise's people.
//! `notice.withdraw` takes it down (the risk is gone), keeping it. Sent by the enterprise's
//! safety manager or an admin.

use serde::{Deserialize, Serialize};

use super::risk::{RiskLevel, RiskPoint};
use crate::entity::{Entity, EntityScope, EntityType};
use crate::event::EventBody;
use crate::judge::{
    Actor, Kind, Reject, Related, check_id, check_next_version, check_text, in_enterprise_grid,
    manager_or_admin, record_entity, registered_enterprise,
};

/// The `notice.publish` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeContent {
    /// The enterprise (企业).
    pub enterprise_id: String,
    /// The version this publication makes: 1 for a new notice, then one more than the current.
    pub version: u32,
    /// Title (公告标题).
    pub title: String,
    /// The major risk points it is about (1 to 20).
    pub risk_points: Vec<String>,
    /// The text: the risk, its controls, the emergency measures (1 to 2000 characters).
    pub body: String,
    /// Whom to call (联系人 and 电话).
    pub contact: String,
    /// Whether anyone may read it (公开公告).
    pub public: bool,
}

/// An earlier version, kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlierNotice {
    /// As published.
    pub content: NoticeContent,
    /// Who published it.
    pub published_by: String,
    /// The event.
    pub event_id: String,
}

/// A notice entity's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The current version.
    #[serde(flatten)]
    pub content: NoticeContent,
    /// Who published it.
    pub published_by: String,
    /// The event.
    pub published_event: String,
    /// Taken down, with why.
    pub withdrawn: Option<String>,
    /// Earlier versions, oldest first.
    pub history: Vec<EarlierNotice>,
}

/// Versions a notice keeps at most.
const MAX_VERSIONS: u32 = 100;

fn notice_of(entity: &Entity) -> Result<Notice, Reject> {
    serde::Deserialize::deserialize(&entity.body).map_err(|err| {
        Reject::quarantine(
            "entity-unreadable",
            format!("the stored notice cannot be read: {err}"),
        )
    })
}

/// `notice.publish`: a notice of major risks, new or a new version.
#[derive(Debug)]
pub struct NoticePublish;

impl Kind for NoticePublish {
    const NAME: &'static str = "notice.publish";
    const ENTITY: EntityType = EntityType::Notice;
    type Payload = NoticeContent;

    fn validate(_: &EventBody, n: &NoticeContent) -> Result<(), Reject> {
        check_id("enterprise_id", &n.enterprise_id)?;
        if n.version == 0 || n.version > MAX_VERSIONS {
            return Err(Reject::quarantine(
                "payload-invalid",
                format!("`version` is 1 to {MAX_VERSIONS}"),
            ));
        }
        check_text("title", &n.title, 1, 100)?;
        check_text("body", &n.body, 1, 2000)?;
        check_text("contact", &n.contact, 1, 100)?;
        let repeated = n
            .risk_points
            .iter()
            .enumerate()
            .any(|(i, r)| n.risk_points[..i].contains(r));
        if n.risk_points.is_empty() || n.risk_points.len() > 20 || repeated {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`risk_points` names 1 to 20 major risk points, each once",
            ));
        }
        for point in &n.risk_points {
            check_id("risk_points", point)?;
        }
        Ok(())
    }

    fn related(n: &NoticeContent) -> Vec<String> {
        let mut ids = vec![n.enterprise_id.clone()];
        ids.extend(n.risk_points.iter().cloned());
        ids
    }

    fn check_related(n: &NoticeContent, related: &Related) -> Result<(), Reject> {
        registered_enterprise(related, &n.enterprise_id)?;
        for id in &n.risk_points {
            let major = related
                .get(id)
                .filter(|p| {
                    p.entity_type == EntityType::RiskPoint
                        && p.scope.enterprise.as_deref() == Some(n.enterprise_id.as_str())
                })
                .and_then(|p| serde_json::from_value::<RiskPoint>(p.body.clone()).ok())
                .is_some_and(|p| p.retired.is_none() && p.level == RiskLevel::Major);
            if !major {
                return Err(Reject::quarantine(
                    "not-major-risk",
                    format!(
                        "{id} is not a live major risk point (重大风险) of enterprise {}: a notice is about major risks",
                        n.enterprise_id
                    ),
                ));
            }
        }
        Ok(())
    }

    fn refine_scope(scope: EntityScope, n: &NoticeContent, related: &Related) -> EntityScope {
        in_enterprise_grid(scope, related, &n.enterprise_id)
    }

    fn scope(
        _: &Actor,
        n: &NoticeContent,
        current: Option<&Entity>,
    ) -> Result<EntityScope, Reject> {
        if let Some(current) = current {
            if current.scope.enterprise.as_deref() != Some(n.enterprise_id.as_str()) {
                return Err(Reject::quarantine(
                    "payload-invalid",
                    "a notice cannot move to another enterprise",
                ));
            }
        }
        Ok(EntityScope {
            enterprise: Some(n.enterprise_id.clone()),
            directory: true,
            ..EntityScope::default()
        })
    }

    fn authorize(
        actor: &Actor,
        n: &NoticeContent,
        _: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        manager_or_admin(actor, &n.enterprise_id, "posts its notices")
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        content: NoticeContent,
        scope: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let previous = current.map(notice_of).transpose()?;
        let now = previous.as_ref().map_or(0, |p| p.content.version);
        check_next_version(now, content.version, "notice")?;
        if previous.as_ref().is_some_and(|p| p.withdrawn.is_some()) {
            return Err(Reject::conflict(
                "notice-withdrawn",
                "this notice was withdrawn; post a new one",
            ));
        }
        let mut history = Vec::new();
        if let Some(p) = previous {
            history = p.history;
            history.push(EarlierNotice {
                content: p.content,
                published_by: p.published_by,
                event_id: p.published_event,
            });
        }
        let notice = Notice {
            content,
            published_by: actor.user_id.clone(),
            published_event: event.id.clone(),
            withdrawn: None,
            history,
        };
        record_entity(&event.entity_id, EntityType::Notice, scope, &notice)
    }
}

/// The `notice.withdraw` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Withdrawal {
    /// Why (风险已消除 …).
    pub note: String,
}

/// `notice.withdraw`: a notice taken down, kept on record.
#[derive(Debug)]
pub struct NoticeWithdraw;

impl Kind for NoticeWithdraw {
    const NAME: &'static str = "notice.withdraw";
    const ENTITY: EntityType = EntityType::Notice;
    type Payload = Withdrawal;

    fn validate(_: &EventBody, w: &Withdrawal) -> Result<(), Reject> {
        check_text("note", &w.note, 1, 500)
    }

    fn scope(_: &Actor, _: &Withdrawal, current: Option<&Entity>) -> Result<EntityScope, Reject> {
        let current = current.ok_or_else(|| {
            Reject::quarantine("unknown-entity", "there is no notice with this id")
        })?;
        Ok(current.scope.clone())
    }

    fn authorize(
        actor: &Actor,
        _: &Withdrawal,
        scope: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        manager_or_admin(
            actor,
            scope.enterprise.as_deref().unwrap_or_default(),
            "takes its notices down",
        )
    }

    fn apply(
        _: &Actor,
        event: &EventBody,
        w: Withdrawal,
        scope: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let current = current.ok_or_else(|| {
            Reject::quarantine("unknown-entity", "there is no notice with this id")
        })?;
        let mut notice = notice_of(current)?;
        if notice.withdrawn.is_some() {
            return Err(Reject::conflict(
                "notice-withdrawn",
                "this notice was already withdrawn",
            ));
        }
        notice.withdrawn = Some(w.note.trim().to_string());
        record_entity(&event.entity_id, EntityType::Notice, scope, &notice)
    }
}
