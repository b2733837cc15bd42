//! Sync issues (同步问题): what the office does with an event the server kept but did not apply.
//!
//! A conflict or a quarantined event becomes a `sync_issue` entity ([`crate::judge::issue_entity`])
//! holding the whole signed event and the reason. Nothing is deleted: the office looks at it
//! beside the record it was about, does what it takes (asks the inspector, captures it again), and
//! marks it handled with `issue.handle` and a note. The issue then carries `handled` (who and
//! why), and its author's device learns of it at the next pull.

use serde::{Deserialize, Serialize};

use crate::entity::{Entity, EntityScope, EntityType};
use crate::event::EventBody;
use crate::judge::{Actor, Kind, Reject, check_text};

/// `issue.handle`'s payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handle {
    /// What was done about it (处理说明), 1–2000 characters.
    pub note: String,
}

/// How an issue was handled, kept in its body as `handled`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handled {
    /// The user who marked it.
    pub by: String,
    /// Their note.
    pub note: String,
    /// The event that marked it.
    pub event_id: String,
}

/// Whether a sync issue has been marked handled.
pub fn is_handled(issue: &Entity) -> bool {
    !issue.body["handled"].is_null()
}

/// `issue.handle`: the office marks a sync issue handled, with a note (admin).
#[derive(Debug)]
pub struct IssueHandle;

impl Kind for IssueHandle {
    const NAME: &'static str = "issue.handle";
    const ENTITY: EntityType = EntityType::SyncIssue;
    type Payload = Handle;

    fn validate(_: &EventBody, h: &Handle) -> Result<(), Reject> {
        check_text("note", &h.note, 1, 2000)
    }

    fn scope(_: &Actor, _: &Handle, current: Option<&Entity>) -> Result<EntityScope, Reject> {
        current.map(|c| c.scope.clone()).ok_or_else(|| {
            Reject::quarantine("unknown-entity", "there is no sync issue with this id")
        })
    }

    fn authorize(
        actor: &Actor,
        _: &Handle,
        _: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        crate::judge::admin_only(actor, "marks sync issues handled")
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        h: Handle,
        scope: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let current = current.ok_or_else(|| {
            Reject::quarantine("unknown-entity", "there is no sync issue with this id")
        })?;
        if is_handled(current) {
            return Err(Reject::conflict(
                "already-handled",
                "this sync issue was already marked handled; its note stands",
            ));
        }
        let mut body = current.body.clone();
        body["handled"] = serde_json::to_value(Handled {
            by: actor.user_id.clone(),
            note: h.note.trim().to_string(),
            event_id: event.id.clone(),
        })
        .map_err(|err| Reject::quarantine("entity-unreadable", err.to_string()))?;
        Ok(Entity {
            id: current.id.clone(),
            entity_type: EntityType::SyncIssue,
            scope,
            deleted: false,
            blobs: current.blobs.clone(),
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::is_handled;
    use crate::access::{Role, Scopes};
    use crate::entity::Entity;
    use crate::event::SignedEvent;
    use crate::judge::{Verdict, issue_entity};
    use crate::kinds::tests::{actor, event, judge, report_payload, transition};

    /// A hazard just reported.
    fn reported() -> Entity {
        judge(
            &event("hazard.report", report_payload("general"), 1),
            &crate::kinds::tests::inspector("wang", &["g1"]),
            None,
        )
        .entity
        .unwrap()
    }

    /// A conflict's issue: a stale transition of a hazard that has moved on.
    fn conflict() -> Entity {
        let hazard = reported();
        let stale = event(
            "hazard.transition",
            transition("rectifying", "pending_acceptance"),
            1,
        );
        let judgement = judge(
            &stale,
            &crate::kinds::tests::manager("li", "e1"),
            Some(&hazard),
        );
        assert_eq!(
            judgement.verdict,
            Verdict::Conflict,
            "fixture: {judgement:?}"
        );
        let signed = SignedEvent {
            body: stale,
            hash: String::new(),
            sig: String::new(),
        };
        issue_entity(&signed, &judgement, "li")
    }

    fn handle(note: &str, issue: &Entity) -> crate::event::EventBody {
        let mut e = event("issue.handle", json!({ "note": note }), 0);
        e.entity_id = issue.id.clone();
        e
    }

    #[test]
    fn the_office_marks_an_issue_handled_once_keeping_everything() {
        let admin = actor("root", &[Role::Admin], Scopes::default());
        let issue = conflict();
        assert!(!is_handled(&issue));
        let judgement = judge(
            &handle(" 已电话核实，隐患已验收 ", &issue),
            &admin,
            Some(&issue),
        );
        assert_eq!(judgement.verdict, Verdict::Applied, "{judgement:?}");
        let handled = judgement.entity.unwrap();
        assert!(is_handled(&handled));
        assert_eq!(handled.body["handled"]["note"], "已电话核实，隐患已验收");
        assert_eq!(handled.body["handled"]["by"], "root");
        assert_eq!(handled.scope, issue.scope, "still shown to whoever saw it");
        assert_eq!(handled.blobs, issue.blobs, "its photos are still cited");
        for field in ["verdict", "reason", "about_entity", "author", "event"] {
            assert_eq!(handled.body[field], issue.body[field], "{field} is kept");
        }
        let again = judge(&handle("再次处理", &handled), &admin, Some(&handled));
        assert_eq!(
            (again.verdict, again.reason.unwrap().code.as_str()),
            (Verdict::Conflict, "already-handled")
        );
    }

    #[test]
    fn handling_needs_a_note_and_an_issue() {
        let admin = actor("root", &[Role::Admin], Scopes::default());
        let issue = conflict();
        let blank = judge(&handle("  ", &issue), &admin, Some(&issue));
        assert_eq!(blank.reason.unwrap().code, "payload-invalid");
        let missing = judge(&handle("处理", &issue), &admin, None);
        assert_eq!(missing.reason.unwrap().code, "unknown-entity");
        let hazard = reported();
        let wrong = judge(&handle("处理", &hazard), &admin, Some(&hazard));
        assert_eq!(wrong.reason.unwrap().code, "wrong-entity-type");
    }
}
