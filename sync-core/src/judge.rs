//! Judgement: what an event does to the entity it is about.
//!
//! Each event gets exactly one *verdict*:
//! - `applied`: the entity changed (or was created);
//! - `conflict`: the event is valid but no longer fits the entity as it stands (a hazard
//!   transition whose `from` is stale, a second submission of a frozen meeting); it is kept for a
//!   person to resolve;
//! - `quarantined`: the event is invalid (unknown kind, malformed payload, not permitted, about an
//!   entity that does not exist); it is kept with the reason and shown back to its author.
//!
//! [`judge`] is a pure function of the event, the actor and the entity's current state. The
//! server calls it to decide; a device calls it to show the result at once, offline, and again
//! after every pull to re-apply its unacknowledged events on top of the server's state.
//!
//! Adding a kind is one type implementing [`Kind`] (its name, payload, scope, who may send it,
//! and what it does) and its name in the `kinds!` list below.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::access::Grant;
use crate::entity::{Entity, EntityScope, EntityType};
use crate::event::EventBody;
use crate::kinds::{
    article, briefing, card, commitment, enterprise, floorplan, grid, hazard, inspection, issue,
    meeting, notice, risk, schedule, team, worker,
};

/// The person behind an event: the user its device is enrolled to, with their grant at judgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The user's id.
    pub user_id: String,
    /// Their roles and scopes.
    pub grant: Grant,
}

/// The three verdicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The entity changed.
    Applied,
    /// Valid, but does not fit the current state; kept for a person to resolve.
    Conflict,
    /// Invalid; kept with the reason, shown to its author.
    Quarantined,
}

impl Verdict {
    /// Its name in the protocol: `applied`, `conflict` or `quarantined`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Applied => "applied",
            Verdict::Conflict => "conflict",
            Verdict::Quarantined => "quarantined",
        }
    }
}

/// Why an event was not applied: a stable code and a sentence for a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable machine-readable code, e.g. `stale-transition`.
    pub code: String,
    /// What happened, for a person.
    pub message: String,
}

/// A refusal from a kind: which verdict, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reject {
    /// The event is valid but does not fit.
    Conflict(Reason),
    /// The event is invalid.
    Quarantine(Reason),
}

impl Reject {
    /// A conflict with this code and message.
    pub fn conflict(code: &str, message: impl Into<String>) -> Reject {
        Reject::Conflict(Reason {
            code: code.into(),
            message: message.into(),
        })
    }

    /// A quarantine with this code and message.
    pub fn quarantine(code: &str, message: impl Into<String>) -> Reject {
        Reject::Quarantine(Reason {
            code: code.into(),
            message: message.into(),
        })
    }
}

/// The result of judging one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// The verdict.
    pub verdict: Verdict,
    /// Why, unless applied.
    pub reason: Option<Reason>,
    /// The entity as it now stands, when applied.
    pub entity: Option<Entity>,
    /// The scope of the entity the event was about, when known (a conflict is shown to those
    /// who see that entity).
    pub target_scope: Option<EntityScope>,
}

/// Entities, other than the one an event is about, that its judgement reads (a meeting's team),
/// by id. The caller fetches the ids [`related_ids`] names.
pub type Related = std::collections::BTreeMap<String, Entity>;

/// An event kind: everything about it in one place.
pub trait Kind {
    /// The `kind` string, e.g. `hazard.report`.
    const NAME: &'static str;
    /// The type of entity it is about.
    const ENTITY: EntityType;
    /// Its payload.
    type Payload: DeserializeOwned;

    /// Checks the payload and the event on their own (lengths, dates, photos).
    fn validate(event: &EventBody, payload: &Self::Payload) -> Result<(), Reject>;

    /// The ids of other entities the judgement reads; none by default.
    fn related(_payload: &Self::Payload) -> Vec<String> {
        Vec::new()
    }

    /// Checks the payload against those entities (absent ones are missing from `related`).
    fn check_related(_payload: &Self::Payload, _related: &Related) -> Result<(), Reject> {
        Ok(())
    }

    /// Completes the scope from those entities (a record of a registered enterprise lies in that
    /// enterprise's grid, whatever the device said); unchanged by default.
    fn refine_scope(
        scope: EntityScope,
        _payload: &Self::Payload,
        _related: &Related,
    ) -> EntityScope {
        scope
    }

    /// The scope of the entity: from the payload for a new entity, from the entity as it
    /// stands otherwise. Fails when the entity must exist and does not, or must not and does.
    fn scope(
        actor: &Actor,
        payload: &Self::Payload,
        current: Option<&Entity>,
    ) -> Result<EntityScope, Reject>;

    /// Who may send it.
    fn authorize(
        actor: &Actor,
        payload: &Self::Payload,
        scope: &EntityScope,
        current: Option<&Entity>,
    ) -> Result<(), Reject>;

    /// The blobs the entity cites after the event (its evidence). By default every photo any of
    /// its events cited: a record of what happened keeps all its evidence.
    fn blobs(entity: &Entity, event: &EventBody, current: Option<&Entity>) -> Vec<String> {
        let _ = entity;
        let mut blobs: Vec<String> = current.map(|c| c.blobs.clone()).unwrap_or_default();
        blobs.extend(event.blob_refs.iter().cloned());
        blobs.sort();
        blobs.dedup();
        blobs
    }

    /// The entity after the event.
    fn apply(
        actor: &Actor,
        event: &EventBody,
        payload: Self::Payload,
        scope: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject>;
}

/// Declares the kinds the server accepts, once: the list of their names and the dispatch of
/// an event to its kind's judgement both come from this one list.
macro_rules! kinds {
    ($($kind:ty),* $(,)?) => {
        /// Every kind the server accepts.
        pub const KINDS: &[&str] = &[$(<$kind as Kind>::NAME),*];

        fn dispatch(
            event: &EventBody,
            actor: &Actor,
            current: Option<&Entity>,
            related: &Related,
        ) -> Option<Judgement> {
            $(
                if event.kind == <$kind as Kind>::NAME {
                    return Some(run::<$kind>(event, actor, current, related));
                }
            )*
            None
        }

        /// The type of entity events of `kind` are about, if it is a kind.
        pub fn entity_type_of(kind: &str) -> Option<EntityType> {
            $(
                if kind == <$kind as Kind>::NAME {
                    return Some(<$kind as Kind>::ENTITY);
                }
            )*
            None
        }

        /// The ids of the other entities `event`'s judgement reads ([`Related`]).
        pub fn related_ids(event: &EventBody) -> Vec<String> {
            $(
                if event.kind == <$kind as Kind>::NAME {
                    return <<$kind as Kind>::Payload as serde::Deserialize>::deserialize(&event.payload)
                        .map(|payload| <$kind as Kind>::related(&payload))
                        .unwrap_or_default();
                }
            )*
            Vec::new()
        }
    };
}

kinds!(
    enterprise::EnterpriseSave,
    grid::GridSave,
    team::TeamSave,
    worker::WorkerSave,
    meeting::MeetingSubmit,
    meeting::MeetingAmend,
    briefing::BriefingRecord,
    risk::RiskAssess,
    risk::RiskRetire,
    card::CardPublish,
    commitment::CommitmentSign,
    notice::NoticePublish,
    notice::NoticeWithdraw,
    schedule::ScheduleSave,
    floorplan::FloorPlanSave,
    hazard::HazardReport,
    hazard::HazardTransition,
    hazard::HazardDeadline,
    article::ArticleSave,
    article::ArticleSubmit,
    article::ArticleReview,
    article::ArticleWithdraw,
    inspection::TemplatePublish,
    inspection::InspectionSubmit,
    inspection::InspectionAmend,
    issue::IssueHandle,
);

/// Judges `event`, sent by `actor`, against the entity it is about as it stands (`current`)
/// and the other entities it reads (`related`, fetched by the ids of [`related_ids`]).
pub fn judge(
    event: &EventBody,
    actor: &Actor,
    current: Option<&Entity>,
    related: &Related,
) -> Judgement {
    dispatch(event, actor, current, related).unwrap_or_else(|| {
        refused(
            Reject::quarantine(
                "unknown-kind",
                format!(
                    "`{}` is not an event kind this server knows ({})",
                    event.kind,
                    KINDS.join(", ")
                ),
            ),
            current,
        )
    })
}

fn refused(reject: Reject, current: Option<&Entity>) -> Judgement {
    let (verdict, reason) = match reject {
        Reject::Conflict(reason) => (Verdict::Conflict, reason),
        Reject::Quarantine(reason) => (Verdict::Quarantined, reason),
    };
    Judgement {
        verdict,
        reason: Some(reason),
        entity: None,
        target_scope: current.map(|c| c.scope.clone()),
    }
}

/// Where a caller keeps entities: the server's write transaction, a device's local view.
pub trait Entities {
    /// What reading can fail with.
    type Error;
    /// The entity with this id.
    fn entity(&mut self, id: &str) -> Result<Option<Entity>, Self::Error>;
}

/// Reads the entity `event` is about and the ones its kind relates to from `entities`, and
/// judges it: the way both ends judge.
pub fn judge_in<E: Entities>(
    event: &EventBody,
    actor: &Actor,
    entities: &mut E,
) -> Result<Judgement, E::Error> {
    let current = entities.entity(&event.entity_id)?;
    let mut related = Related::new();
    for id in related_ids(event) {
        if let Some(entity) = entities.entity(&id)? {
            related.insert(id, entity);
        }
    }
    Ok(judge(event, actor, current.as_ref(), &related))
}

/// Judges an event with kind `K`. Permission before existence: when the entity the event names
/// exists but the actor cannot read it, the event is judged as if it did not exist (so its
/// verdict tells nothing of the entity), and its sync issue is shown to the actor alone. Should
/// the event be one the actor could apply to a new entity, the id is simply taken: a conflict
/// that names nothing of what holds it.
fn run<K: Kind>(
    event: &EventBody,
    actor: &Actor,
    current: Option<&Entity>,
    related: &Related,
) -> Judgement {
    let hidden = current.is_some_and(|c| !actor.grant.reads(&actor.user_id, &c.scope));
    if hidden {
        return match outcome::<K>(event, actor, None, related) {
            Ok(_) => refused(
                Reject::conflict(
                    "id-taken",
                    "this id is taken by a record you cannot see; capture it again with a new id",
                ),
                None,
            ),
            Err(reject) => refused(reject, None),
        };
    }
    match outcome::<K>(event, actor, current, related) {
        Ok(entity) => Judgement {
            verdict: Verdict::Applied,
            reason: None,
            target_scope: Some(entity.scope.clone()),
            entity: Some(entity),
        },
        Err(reject) => refused(reject, current),
    }
}

/// What an event of kind `K` makes of `current`: the entity after it, or why not.
fn outcome<K: Kind>(
    event: &EventBody,
    actor: &Actor,
    current: Option<&Entity>,
    related: &Related,
) -> Result<Entity, Reject> {
    if let Some(current) = current {
        if current.entity_type != K::ENTITY {
            return Err(Reject::quarantine(
                "wrong-entity-type",
                format!(
                    "`{}` is about an entity of type {}, but this one is of type {}",
                    K::NAME,
                    K::ENTITY.name(),
                    current.entity_type.name()
                ),
            ));
        }
    }
    let payload: K::Payload = serde::Deserialize::deserialize(&event.payload).map_err(|err| {
        Reject::quarantine(
            "payload-invalid",
            format!("the `{}` payload does not fit: {err}", K::NAME),
        )
    })?;
    K::validate(event, &payload)?;
    let scope = K::refine_scope(K::scope(actor, &payload, current)?, &payload, related);
    K::authorize(actor, &payload, &scope, current)?;
    // Permission before existence: what the related records say (a team's calendar, a card's
    // version, whether a risk point exists) is told only to one who may send the event.
    K::check_related(&payload, related)?;
    let mut entity = K::apply(actor, event, payload, scope, current)?;
    entity.blobs = K::blobs(&entity, event, current);
    Ok(entity)
}

/// `scope` in the grid of a registered enterprise (when `related` holds its record), whatever the
/// device said: a record of an enterprise lies where the enterprise does, so the inspectors of
/// that grid see it.
pub fn in_enterprise_grid(
    mut scope: EntityScope,
    related: &Related,
    enterprise_id: &str,
) -> EntityScope {
    if let Some(grid) = enterprise_grid(related, enterprise_id) {
        scope.grid = Some(grid);
    }
    scope
}

/// The grid of a registered enterprise, when `related` holds its record.
pub fn enterprise_grid(related: &Related, enterprise_id: &str) -> Option<String> {
    let enterprise = related.get(enterprise_id)?;
    (enterprise.entity_type == EntityType::Enterprise)
        .then(|| enterprise.body["grid_id"].as_str().map(str::to_string))
        .flatten()
}

/// Lets the town safety office (admin) alone through; `doing` ends the refusal's sentence
/// ("only the town safety office (admin) …").
pub fn admin_only(actor: &Actor, doing: &str) -> Result<(), Reject> {
    if actor.grant.has(crate::access::Role::Admin) {
        Ok(())
    } else {
        Err(Reject::quarantine(
            "not-permitted",
            format!("only the town safety office (admin) {doing}"),
        ))
    }
}

/// The entity a record-keeping kind makes: `record` as the body of entity `id`.
pub fn record_entity<T: Serialize>(
    id: &str,
    entity_type: EntityType,
    scope: EntityScope,
    record: &T,
) -> Result<Entity, Reject> {
    let body = serde_json::to_value(record)
        .map_err(|err| Reject::quarantine("entity-unreadable", err.to_string()))?;
    Ok(Entity {
        id: id.to_string(),
        entity_type,
        scope,
        deleted: false,
        blobs: Vec::new(),
        body,
    })
}

/// Checks that a publication making `version` of a versioned record (a card, a notice) follows
/// the current version `now` (0 when there is none): any other is a conflict, so two people
/// publishing at once never overwrite each other.
pub fn check_next_version(now: u32, version: u32, what: &str) -> Result<(), Reject> {
    if version == now.saturating_add(1) {
        Ok(())
    } else {
        Err(Reject::conflict(
            "stale-version",
            format!(
                "this publication makes version {version} but the {what} is at version {now}: someone published first; look at it again"
            ),
        ))
    }
}

/// Checks that `enterprise` is a registered enterprise among the `related` records.
pub fn registered_enterprise(related: &Related, enterprise: &str) -> Result<(), Reject> {
    match related.get(enterprise) {
        Some(e) if e.entity_type == EntityType::Enterprise && !e.deleted => Ok(()),
        _ => Err(Reject::quarantine(
            "unknown-enterprise",
            format!("there is no enterprise {enterprise}; the office registers it first"),
        )),
    }
}

/// Whether `actor` may keep enterprise `enterprise`'s own records (its teams, workers, risk
/// points, cards): its safety manager (企业安全员) or an admin. `what` says what is refused.
pub fn manager_or_admin(actor: &Actor, enterprise: &str, what: &str) -> Result<(), Reject> {
    if actor.grant.has(crate::access::Role::Admin) || actor.grant.manages(enterprise) {
        Ok(())
    } else {
        Err(Reject::quarantine(
            "not-permitted",
            format!("only the enterprise's safety manager (企业安全员) or an admin {what}"),
        ))
    }
}

/// Checks a text field: trimmed length between `min` and `max` characters, no control characters
/// but newlines.
pub fn check_text(field: &str, value: &str, min: usize, max: usize) -> Result<(), Reject> {
    let chars = value.trim().chars().count();
    if chars < min || chars > max || value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Reject::quarantine(
            "payload-invalid",
            format!("`{field}` must be {min} to {max} characters, without control characters"),
        ));
    }
    Ok(())
}

/// Checks a payload field naming a photo: a sha256 in lower-case hex that the event also lists in
/// `blob_refs`, which is where a device looks for the files to upload before the event.
pub fn check_cited(field: &str, sha256: &str, event: &EventBody) -> Result<(), Reject> {
    if !crate::event::is_sha256_hex(sha256) {
        return Err(Reject::quarantine(
            "payload-invalid",
            format!("`{field}` is a photo's sha256, 64 lower-case hex"),
        ));
    }
    if !event.blob_refs.iter().any(|r| r == sha256) {
        return Err(Reject::quarantine(
            "payload-invalid",
            format!("`{field}` names photo {sha256}, which the event does not list in `blob_refs`"),
        ));
    }
    Ok(())
}

/// Checks an id field the way scopes are checked (1 to 64 of `A-Z a-z 0-9 - _`).
pub fn check_id(field: &str, value: &str) -> Result<(), Reject> {
    let ok = !value.is_empty()
        && value.len() <= crate::access::MAX_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Reject::quarantine(
            "payload-invalid",
            format!("`{field}` must be 1 to 64 characters from A-Z, a-z, 0-9, `-` and `_`"),
        ))
    }
}

/// Checks a calendar date written `YYYY-MM-DD`.
pub fn check_date(field: &str, value: &str) -> Result<(), Reject> {
    let bytes = value.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    let ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && digits(0..4)
        && digits(5..7)
        && digits(8..10)
        && {
            // A day the calendar has: 2026-02-30 is refused, 2028-02-29 taken.
            let year: i32 = value[0..4].parse().unwrap_or(0);
            let month: u8 = value[5..7].parse().unwrap_or(0);
            let day: u8 = value[8..10].parse().unwrap_or(0);
            time::Month::try_from(month)
                .is_ok_and(|month| time::Date::from_calendar_date(year, month, day).is_ok())
        };
    if ok {
        Ok(())
    } else {
        Err(Reject::quarantine(
            "payload-invalid",
            format!("`{field}` must be a date written YYYY-MM-DD"),
        ))
    }
}

/// The id of the sync issue kept for a device's event that was not applied: a UUID derived from
/// the device and the `seq`, so the same event always names the same issue, and events (such as
/// `issue.handle`) can be about it like any other entity.
pub fn issue_id(device_id: &str, seq: u64) -> String {
    crate::entity::derived_id(&["issue", device_id, &seq.to_string()])
}

/// The sync issue (a conflict or quarantine kept for a person) for an event that was not
/// applied. It holds the whole signed event, so nothing the person captured is lost. Its
/// author sees it; a conflict is also seen by everyone who sees the entity it was about (but
/// for one about a sync issue, which is the office's own business).
pub fn issue_entity(
    event: &crate::event::SignedEvent,
    judgement: &Judgement,
    author: &str,
) -> Entity {
    // A conflict over a sync issue itself (it was already handled) concerns the office alone.
    let about_an_issue = event.body.kind == crate::kinds::issue::IssueHandle::NAME;
    let mut scope = match (judgement.verdict, &judgement.target_scope) {
        (Verdict::Conflict, Some(target)) if !about_an_issue => EntityScope {
            public: false,
            directory: false,
            review: false,
            reference: false,
            ..target.clone()
        },
        _ => EntityScope::default(),
    };
    scope = scope.with_user(author);
    // It cites the event's photos, so those who see the issue can see them too.
    let mut blobs = event.body.blob_refs.clone();
    blobs.sort();
    blobs.dedup();
    Entity {
        id: issue_id(&event.body.device_id, event.body.seq),
        entity_type: EntityType::SyncIssue,
        scope,
        deleted: false,
        blobs,
        body: serde_json::json!({
            "verdict": judgement.verdict,
            "reason": judgement.reason,
            "about_entity": event.body.entity_id,
            "author": author,
            "event": event,
        }),
    }
}
