//! The three cards of a post (三卡): its risk-notice card (风险告知卡), its emergency-response
//! card (应急处置卡) and its safety-commitment card (安全承诺卡).
//!
//! `card.publish` publishes a version of one card of one post of an enterprise. A post has one
//! of each card: the entity id is [`card_id`] of the enterprise, post and card, the same on every
//! device, and each publication names the version it makes (`version`, one more than the
//! current), so two people publishing at once cannot overwrite each other — the second is a
//! conflict. Earlier versions stay in `history`: a 岗前一分钟 record names the version it read.
//!
//! A card covers the post's risks as the enterprise graded them: it names its risk points, and
//! each must be a live risk point of the enterprise that lists the post. A post no risk point
//! names has no card (`unknown-post`): grade its risks first. Sent by the enterprise's safety
//! manager or an admin; read by the enterprise's people (its directory), so a team lead's phone
//! holds the cards of the posts it briefs, offline.

use serde::{Deserialize, Serialize};

use super::risk::RiskPoint;
use crate::entity::{Entity, EntityScope, EntityType, derived_id};
use crate::event::EventBody;
use crate::judge::{
    Actor, Kind, Reject, Related, check_id, check_next_version, check_text, in_enterprise_grid,
    manager_or_admin, record_entity,
};

/// Which of the three cards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    /// 岗位风险告知卡: the post's risks, their consequences and how they are controlled.
    RiskNotice,
    /// 岗位应急处置卡: what to do when it goes wrong, and whom to call.
    Emergency,
    /// 岗位安全承诺卡: what the worker at the post undertakes.
    Commitment,
}

impl CardKind {
    /// The card's title.
    pub fn title(self) -> &'static str {
        match self {
            CardKind::RiskNotice => "岗位风险告知卡",
            CardKind::Emergency => "岗位应急处置卡",
            CardKind::Commitment => "岗位安全承诺卡",
        }
    }

    /// Its protocol name.
    pub fn name(self) -> &'static str {
        match self {
            CardKind::RiskNotice => "risk_notice",
            CardKind::Emergency => "emergency",
            CardKind::Commitment => "commitment",
        }
    }
}

/// A section of a card: a heading and its lines (危险因素, 防范措施, 处置步骤 …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// The heading.
    pub heading: String,
    /// Its lines (1 to 30).
    pub items: Vec<String>,
}

/// A number to call (应急电话).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phone {
    /// Who (厂区值班室, 火警 …).
    pub name: String,
    /// The number.
    pub number: String,
}

/// The `card.publish` payload: one version of one card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardContent {
    /// The enterprise (企业).
    pub enterprise_id: String,
    /// The post (岗位).
    pub post: String,
    /// Which card.
    pub card: CardKind,
    /// The version this publication makes: 1 for the first, then one more than the current.
    pub version: u32,
    /// The risk points it covers (1 to 20): live ones of the enterprise that list the post.
    pub risk_points: Vec<String>,
    /// Its sections (1 to 10).
    pub sections: Vec<Section>,
    /// Numbers to call (at most 10).
    #[serde(default)]
    pub phones: Vec<Phone>,
}

/// An earlier version, kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlierCard {
    /// As published.
    pub content: CardContent,
    /// Who published it.
    pub published_by: String,
    /// The event.
    pub event_id: String,
}

/// A card entity's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// The current version.
    #[serde(flatten)]
    pub content: CardContent,
    /// Who published it.
    pub published_by: String,
    /// The event.
    pub published_event: String,
    /// Earlier versions, oldest first.
    pub history: Vec<EarlierCard>,
}

/// The id of card `card` of `post` at `enterprise`: [`derived_id`] of `card`, then those (the
/// post trimmed).
pub fn card_id(enterprise: &str, post: &str, card: CardKind) -> String {
    derived_id(&["card", enterprise, post.trim(), card.name()])
}

/// Versions a card keeps at most.
const MAX_VERSIONS: u32 = 100;

fn card_of(entity: &Entity) -> Result<Card, Reject> {
    serde::Deserialize::deserialize(&entity.body).map_err(|err| {
        Reject::quarantine(
            "entity-unreadable",
            format!("the stored card cannot be read: {err}"),
        )
    })
}

/// `card.publish`: a new version of one of a post's three cards.
#[derive(Debug)]
pub struct CardPublish;

impl Kind for CardPublish {
    const NAME: &'static str = "card.publish";
    const ENTITY: EntityType = EntityType::Card;
    type Payload = CardContent;

    fn validate(event: &EventBody, c: &CardContent) -> Result<(), Reject> {
        check_id("enterprise_id", &c.enterprise_id)?;
        check_text("post", &c.post, 1, 50)?;
        let id = card_id(&c.enterprise_id, &c.post, c.card);
        if event.entity_id != id {
            return Err(Reject::quarantine(
                "card-id-mismatch",
                format!(
                    "a card's entity_id is derived from its enterprise, post and card: it must be {id}"
                ),
            ));
        }
        if c.version == 0 || c.version > MAX_VERSIONS {
            return Err(Reject::quarantine(
                "payload-invalid",
                format!("`version` is 1 to {MAX_VERSIONS}"),
            ));
        }
        let repeated = c
            .risk_points
            .iter()
            .enumerate()
            .any(|(i, r)| c.risk_points[..i].contains(r));
        if c.risk_points.is_empty() || c.risk_points.len() > 20 || repeated {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`risk_points` names 1 to 20 of the post's risk points, each once",
            ));
        }
        for point in &c.risk_points {
            check_id("risk_points", point)?;
        }
        if c.sections.is_empty() || c.sections.len() > 10 {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`sections` holds 1 to 10 sections",
            ));
        }
        for section in &c.sections {
            check_text("sections.heading", &section.heading, 1, 50)?;
            if section.items.is_empty() || section.items.len() > 30 {
                return Err(Reject::quarantine(
                    "payload-invalid",
                    "each section holds 1 to 30 lines",
                ));
            }
            for item in &section.items {
                check_text("sections.items", item, 1, 200)?;
            }
        }
        if c.phones.len() > 10 {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`phones` names at most 10 numbers",
            ));
        }
        for phone in &c.phones {
            check_text("phones.name", &phone.name, 1, 50)?;
            check_text("phones.number", &phone.number, 1, 30)?;
        }
        Ok(())
    }

    fn related(c: &CardContent) -> Vec<String> {
        let mut ids = vec![c.enterprise_id.clone()];
        ids.extend(c.risk_points.iter().cloned());
        ids
    }

    fn check_related(c: &CardContent, related: &Related) -> Result<(), Reject> {
        let post = c.post.trim();
        for id in &c.risk_points {
            let point = related
                .get(id)
                .filter(|p| {
                    p.entity_type == EntityType::RiskPoint
                        && p.scope.enterprise.as_deref() == Some(c.enterprise_id.as_str())
                })
                .and_then(|p| serde_json::from_value::<RiskPoint>(p.body.clone()).ok())
                .filter(|p| p.retired.is_none());
            match point {
                Some(point) if point.assessment.posts.iter().any(|p| p.trim() == post) => {}
                Some(_) => {
                    return Err(Reject::quarantine(
                        "unknown-post",
                        format!(
                            "risk point {id} does not list the post {post}: a card covers the risks graded for its post"
                        ),
                    ));
                }
                None => {
                    return Err(Reject::quarantine(
                        "unknown-post",
                        format!(
                            "{id} is not a live risk point of enterprise {}: grade the post's risks (risk.assess) before its cards",
                            c.enterprise_id
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn refine_scope(scope: EntityScope, c: &CardContent, related: &Related) -> EntityScope {
        in_enterprise_grid(scope, related, &c.enterprise_id)
    }

    fn scope(_: &Actor, c: &CardContent, _: Option<&Entity>) -> Result<EntityScope, Reject> {
        Ok(EntityScope {
            enterprise: Some(c.enterprise_id.clone()),
            directory: true,
            ..EntityScope::default()
        })
    }

    fn authorize(
        actor: &Actor,
        c: &CardContent,
        _: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        manager_or_admin(actor, &c.enterprise_id, "publishes its cards")
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        content: CardContent,
        scope: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let previous = current.map(card_of).transpose()?;
        let now = previous.as_ref().map_or(0, |p| p.content.version);
        check_next_version(now, content.version, "card")?;
        let mut history = Vec::new();
        if let Some(p) = previous {
            history = p.history;
            history.push(EarlierCard {
                content: p.content,
                published_by: p.published_by,
                event_id: p.published_event,
            });
        }
        let card = Card {
            content,
            published_by: actor.user_id.clone(),
            published_event: event.id.clone(),
            history,
        };
        record_entity(&event.entity_id, EntityType::Card, scope, &card)
    }
}
