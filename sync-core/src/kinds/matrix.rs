//! The role × kind matrix: for every event kind, which roles may send it and which are refused.

use serde_json::json;

use super::tests::{
    briefing_payload, card_payload, commitment_payload, enterprise_e1, event, inspector, lead,
    manager, meeting_payload, notice_payload, report_payload, risk_payload, schedule_payload,
    teams, transition,
};
use crate::access::{Role, Scopes};
use crate::entity::Entity;
use crate::event::EventBody;
use crate::judge::{Actor, Related, Verdict, judge};

const ROLES: [&str; 7] = [
    "admin",
    "leader",
    "inspector",
    "enterprise_manager",
    "team_lead",
    "publicist",
    "reviewer",
];

fn actors() -> Vec<(&'static str, Actor)> {
    let plain = |user: &str, role: Role| super::tests::actor(user, &[role], Scopes::default());
    vec![
        ("admin", plain("admin", Role::Admin)),
        ("leader", plain("leader", Role::Leader)),
        ("inspector", inspector("inspector", &["g1"])),
        ("enterprise_manager", manager("manager", "e1")),
        ("team_lead", lead("lead", "e1", "t1")),
        ("publicist", plain("publicist", Role::Publicist)),
        ("reviewer", plain("reviewer", Role::Reviewer)),
    ]
}

struct Case {
    name: &'static str,
    event: EventBody,
    current: Option<Entity>,
    related: Related,
    allowed: &'static [&'static str],
}

/// The entity an event makes when `actor` sends it (the fixture's set-up).
fn made(event: &EventBody, actor: &Actor, current: Option<&Entity>, related: &Related) -> Entity {
    let judgement = judge(event, actor, current, related);
    assert_eq!(
        judgement.verdict,
        Verdict::Applied,
        "fixture: {judgement:?}"
    );
    judgement.entity.unwrap()
}

fn with_id(mut event: EventBody, id: String) -> EventBody {
    event.entity_id = id;
    event
}

fn cases() -> Vec<Case> {
    let admin = super::tests::actor("root", &[Role::Admin], Scopes::default());
    let owner = manager("owner", "e1");
    let author = super::tests::actor("author", &[Role::Publicist], Scopes::default());
    let other_inspector = inspector("other", &["g1"]);
    let hazard = made(
        &event("hazard.report", report_payload("general"), 1),
        &other_inspector,
        None,
        &Related::new(),
    );
    let rectifying = made(
        &event("hazard.transition", transition("reported", "rectifying"), 0),
        &owner,
        Some(&hazard),
        &Related::new(),
    );
    let pending = made(
        &event(
            "hazard.transition",
            transition("rectifying", "pending_acceptance"),
            1,
        ),
        &owner,
        Some(&rectifying),
        &Related::new(),
    );
    let meeting = made(
        &event("meeting.submit", meeting_payload("e1", "t1"), 1),
        &lead("first", "e1", "t1"),
        None,
        &teams(),
    );
    let graded = super::tests::graded_e1();
    let mut major = risk_payload(1);
    major["assessment"] = json!({"method": "ls", "l": 5, "s": 5});
    let major = made(
        &event("risk.assess", major, 0),
        &owner,
        Some(&graded.1),
        &graded.0,
    );
    let mut with_major = graded.0.clone();
    with_major.insert(major.id.clone(), major.clone());
    let notice = made(
        &event("notice.publish", notice_payload(&major.id, 1), 0),
        &owner,
        None,
        &with_major,
    );
    let risk_point = made(
        &event("risk.assess", risk_payload(0), 0),
        &owner,
        None,
        &enterprise_e1(),
    );
    let draft = made(
        &event("article.save", json!({"title": "标题", "body": "正文"}), 0),
        &author,
        None,
        &Related::new(),
    );
    let submitted = made(
        &event("article.submit", json!({}), 0),
        &author,
        Some(&draft),
        &Related::new(),
    );
    let published = made(
        &event("article.review", json!({"decision": "publish"}), 0),
        &super::tests::actor("gao", &[Role::Reviewer], Scopes::default()),
        Some(&submitted),
        &Related::new(),
    );
    let template = json!({"code": "m", "version": 1, "title": "检查表", "sections": [{"title": "消防", "items": [{"code": "A", "text": "灭火器"}]}]});
    let template_event = with_id(
        event("template.publish", template, 0),
        super::inspection::template_id("m", 1),
    );
    let template_entity = made(&template_event, &admin, None, &Related::new());
    let mut with_template = Related::new();
    with_template.insert(template_entity.id.clone(), template_entity);
    let inspection = |kind: &str| {
        let mut e = event(
            "inspection.submit",
            json!({"enterprise_id": "e1", "grid_id": "g1", "kind": kind, "template": "m", "template_version": 1,
                "inspectors": [{"name": "甲"}], "started_at_ms": 1, "ended_at_ms": 2,
                "results": [{"item": "A", "verdict": "ok"}], "summary": "无隐患", "refusal_note": "不在场"}),
            0,
        );
        e.template_ref = Some("m@1".into());
        e
    };
    let submitted_inspection = made(
        &inspection("grid_patrol"),
        &other_inspector,
        None,
        &with_template,
    );
    let enterprise = json!({"name": "厂", "credit_code": "914403001922038216", "industry": "紫菜加工", "scale": "below",
        "grid_id": "g1", "address": "镇上"});
    let stale = event("hazard.transition", transition("reported", "rectifying"), 0);
    let stale_judgement = judge(&stale, &owner, Some(&pending), &Related::new());
    assert_eq!(stale_judgement.verdict, Verdict::Conflict, "fixture");
    let signed = crate::event::SignedEvent {
        body: stale,
        hash: String::new(),
        sig: String::new(),
    };
    let issue = crate::judge::issue_entity(&signed, &stale_judgement, "owner");
    let none = Related::new;
    vec![
        Case {
            name: "issue.handle",
            event: with_id(
                event("issue.handle", json!({"note": "已电话核实"}), 0),
                issue.id.clone(),
            ),
            current: Some(issue),
            related: none(),
            allowed: &["admin"],
        },
        Case {
            name: "enterprise.save",
            event: event("enterprise.save", enterprise, 0),
            current: None,
            related: none(),
            allowed: &["admin"],
        },
        Case {
            name: "grid.save",
            event: with_id(
                event("grid.save", json!({"code": "g1", "name": "沙埕村"}), 0),
                super::grid::grid_id("g1"),
            ),
            current: None,
            related: none(),
            allowed: &["admin"],
        },
        Case {
            name: "team.save",
            event: with_id(
                event(
                    "team.save",
                    json!({"enterprise_id": "e1", "code": "t5", "name": "五班", "slots": ["pre_shift"]}),
                    0,
                ),
                super::team::team_id("e1", "t5"),
            ),
            current: None,
            related: none(),
            allowed: &["admin", "enterprise_manager"],
        },
        Case {
            name: "worker.save",
            event: event(
                "worker.save",
                json!({"enterprise_id": "e1", "name": "李四", "post": "制冷工"}),
                0,
            ),
            current: None,
            related: none(),
            allowed: &["admin", "enterprise_manager"],
        },
        Case {
            name: "meeting.submit",
            event: event("meeting.submit", meeting_payload("e1", "t1"), 1),
            current: None,
            related: teams(),
            allowed: &["enterprise_manager", "team_lead"],
        },
        Case {
            name: "briefing.record",
            event: event("briefing.record", briefing_payload("e1", "t1"), 0),
            current: None,
            related: teams(),
            allowed: &["enterprise_manager", "team_lead"],
        },
        Case {
            name: "risk.assess",
            event: event("risk.assess", risk_payload(0), 0),
            current: None,
            related: enterprise_e1(),
            allowed: &["admin", "enterprise_manager"],
        },
        Case {
            name: "risk.assess (a re-assessment)",
            event: event("risk.assess", risk_payload(1), 0),
            current: Some(risk_point.clone()),
            related: enterprise_e1(),
            allowed: &["admin", "enterprise_manager"],
        },
        Case {
            name: "risk.retire",
            event: event("risk.retire", json!({"note": "设备拆除"}), 0),
            current: Some(risk_point),
            related: enterprise_e1(),
            allowed: &["admin", "enterprise_manager"],
        },
        Case {
            name: "card.publish",
            event: event("card.publish", card_payload(&graded.1.id, 1), 0),
            current: None,
            related: graded.0.clone(),
            allowed: &["admin", "enterprise_manager"],
        },
        Case {
            name: "commitment.sign",
            event: event("commitment.sign", commitment_payload(), 1),
            current: None,
            related: enterprise_e1(),
            allowed: &["admin", "enterprise_manager"],
        },
        Case {
            name: "notice.publish",
            event: event("notice.publish", notice_payload(&major.id, 1), 0),
            current: None,
            related: with_major.clone(),
            allowed: &["admin", "enterprise_manager"],
        },
        Case {
            name: "notice.withdraw",
            event: event("notice.withdraw", json!({"note": "风险已消除"}), 0),
            current: Some(notice),
            related: with_major,
            allowed: &["admin", "enterprise_manager"],
        },
        Case {
            name: "schedule.save",
            event: event("schedule.save", schedule_payload("2026-12-01"), 0),
            current: None,
            related: teams(),
            allowed: &["admin", "enterprise_manager"],
        },
        Case {
            name: "floorplan.save",
            event: event(
                "floorplan.save",
                json!({"enterprise_id": "e1", "version": 1, "title": "厂区平面布置图",
                       "image": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}),
                1,
            ),
            current: None,
            related: enterprise_e1(),
            allowed: &["admin", "enterprise_manager"],
        },
        Case {
            name: "meeting.amend",
            event: event(
                "meeting.amend",
                json!({"reason": "补记", "changes": {"risks": ["地滑"]}}),
                0,
            ),
            current: Some(meeting),
            related: none(),
            allowed: &["enterprise_manager", "team_lead"],
        },
        Case {
            name: "hazard.report",
            event: event("hazard.report", report_payload("general"), 1),
            current: None,
            related: none(),
            allowed: &["admin", "inspector", "enterprise_manager"],
        },
        Case {
            name: "hazard.transition (start rectifying)",
            event: event("hazard.transition", transition("reported", "rectifying"), 0),
            current: Some(hazard.clone()),
            related: none(),
            allowed: &["admin", "inspector", "enterprise_manager"],
        },
        Case {
            name: "hazard.transition (accept)",
            event: event(
                "hazard.transition",
                transition("pending_acceptance", "closed"),
                0,
            ),
            current: Some(pending),
            related: none(),
            allowed: &["admin", "inspector"],
        },
        Case {
            name: "hazard.transition (void)",
            event: event(
                "hazard.transition",
                json!({"from": "reported", "to": "void", "note": "重复"}),
                0,
            ),
            current: Some(hazard.clone()),
            related: none(),
            allowed: &["admin"],
        },
        Case {
            name: "hazard.deadline",
            event: event(
                "hazard.deadline",
                json!({"deadline": "2026-12-31", "note": "延期"}),
                0,
            ),
            current: Some(hazard),
            related: none(),
            allowed: &["admin", "inspector"],
        },
        Case {
            name: "template.publish",
            event: with_id(
                event(
                    "template.publish",
                    json!({"code": "n", "version": 1, "title": "表", "sections": [{"title": "用电", "items": [{"code": "B", "text": "接地"}]}]}),
                    0,
                ),
                super::inspection::template_id("n", 1),
            ),
            current: None,
            related: none(),
            allowed: &["admin"],
        },
        Case {
            name: "inspection.submit (patrol)",
            event: inspection("grid_patrol"),
            current: None,
            related: with_template.clone(),
            allowed: &["admin", "inspector"],
        },
        Case {
            name: "inspection.submit (self-check)",
            event: inspection("self_check"),
            current: None,
            related: with_template,
            allowed: &["enterprise_manager"],
        },
        Case {
            name: "inspection.amend (someone else's)",
            event: event(
                "inspection.amend",
                json!({"reason": "更正", "summary": "已整改"}),
                0,
            ),
            current: Some(submitted_inspection),
            related: none(),
            allowed: &["admin"],
        },
        Case {
            name: "article.submit (someone else's)",
            event: event("article.submit", json!({}), 0),
            current: Some(draft),
            related: none(),
            allowed: &[],
        },
        Case {
            name: "article.save",
            event: event("article.save", json!({"title": "标题", "body": "正文"}), 0),
            current: None,
            related: none(),
            allowed: &["publicist"],
        },
        Case {
            name: "article.review",
            event: event("article.review", json!({"decision": "publish"}), 0),
            current: Some(submitted),
            related: none(),
            allowed: &["reviewer"],
        },
        Case {
            name: "article.withdraw",
            event: event("article.withdraw", json!({"note": "撤回"}), 0),
            current: Some(published),
            related: none(),
            allowed: &["admin", "reviewer"],
        },
    ]
}

#[test]
fn every_role_for_every_kind() {
    let actors = actors();
    let mut covered = std::collections::BTreeSet::new();
    for case in cases() {
        covered.insert(case.event.kind.clone());
        for (role, actor) in &actors {
            let judgement = judge(&case.event, actor, case.current.as_ref(), &case.related);
            let allowed = case.allowed.contains(role);
            if allowed {
                assert_eq!(
                    judgement.verdict,
                    Verdict::Applied,
                    "{} by {role}: {judgement:?}",
                    case.name
                );
            } else if case
                .current
                .as_ref()
                .is_some_and(|c| !actor.grant.reads(&actor.user_id, &c.scope))
            {
                // Permission before existence: one who cannot read the entity is answered as
                // if it did not exist, and their issue is not shown to its readers.
                let absent = judge(&case.event, actor, None, &case.related);
                let expected = match absent.verdict {
                    Verdict::Applied => Some("id-taken"),
                    _ => absent.reason.as_ref().map(|r| r.code.as_str()),
                };
                let code = judgement.reason.as_ref().map(|r| r.code.as_str());
                assert_eq!(code, expected, "{} by {role}: {judgement:?}", case.name);
                assert_eq!(judgement.target_scope, None, "{} by {role}", case.name);
            } else {
                let code = judgement.reason.as_ref().map(|r| r.code.as_str());
                assert_eq!(
                    code,
                    Some("not-permitted"),
                    "{} by {role} must be refused: {judgement:?}",
                    case.name
                );
            }
        }
        assert!(case.allowed.iter().all(|r| ROLES.contains(r)));
    }
    let all: std::collections::BTreeSet<String> =
        crate::judge::KINDS.iter().map(|k| k.to_string()).collect();
    assert_eq!(covered, all, "the matrix covers every kind");
}
