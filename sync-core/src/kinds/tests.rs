//! Judgement of the shipped kinds.

use serde_json::{Value, json};

use crate::access::{Grant, Role, Scopes};
use crate::entity::Entity;
use crate::event::{Captured, EventBody, GENESIS_HASH};
use crate::judge::{Actor, Judgement, Related, Verdict};

pub(crate) fn actor(user: &str, roles: &[Role], scopes: Scopes) -> Actor {
    Actor {
        user_id: user.into(),
        grant: Grant::new(roles.iter().copied(), scopes).unwrap(),
    }
}

pub(crate) fn inspector(user: &str, grids: &[&str]) -> Actor {
    let scopes = Scopes {
        grids: grids.iter().map(|g| g.to_string()).collect(),
        ..Scopes::default()
    };
    actor(user, &[Role::Inspector], scopes)
}

pub(crate) fn manager(user: &str, enterprise: &str) -> Actor {
    let scopes = Scopes {
        enterprise: Some(enterprise.into()),
        ..Scopes::default()
    };
    actor(user, &[Role::EnterpriseManager], scopes)
}

pub(crate) fn lead(user: &str, enterprise: &str, team: &str) -> Actor {
    let scopes = Scopes {
        enterprise: Some(enterprise.into()),
        team: Some(team.into()),
        ..Scopes::default()
    };
    actor(user, &[Role::TeamLead], scopes)
}

/// The teams the tests' meetings are held by: e1/t1 and e1/t2 hold every slot, e2/t1 too.
pub(crate) fn teams() -> Related {
    let mut related = Related::new();
    for (enterprise, team) in [("e1", "t1"), ("e1", "t2"), ("e2", "t1")] {
        let id = crate::kinds::team::team_id(enterprise, team);
        let entity = Entity {
            id: id.clone(),
            entity_type: crate::entity::EntityType::Team,
            scope: crate::entity::EntityScope::default(),
            deleted: false,
            blobs: Vec::new(),
            body: json!({"enterprise_id": enterprise, "code": team, "name": "一班",
                "slots": ["pre_shift", "mid_shift", "handover"]}),
        };
        related.insert(id, entity);
    }
    // And one worker of e1 on its roster.
    let worker = Entity {
        id: "w1".into(),
        entity_type: crate::entity::EntityType::Worker,
        scope: crate::entity::EntityScope {
            enterprise: Some("e1".into()),
            directory: true,
            ..crate::entity::EntityScope::default()
        },
        deleted: false,
        blobs: Vec::new(),
        body: json!({"enterprise_id": "e1", "name": "李四", "post": "制冷工", "certificates": []}),
    };
    related.insert("w1".into(), worker);
    // And the risk-notice card of its post 制冷工, at version 2.
    let card =
        crate::kinds::card::card_id("e1", "制冷工", crate::kinds::card::CardKind::RiskNotice);
    related.insert(
        card.clone(),
        Entity {
            id: card,
            entity_type: crate::entity::EntityType::Card,
            scope: crate::entity::EntityScope::default(),
            deleted: false,
            blobs: Vec::new(),
            body: json!({"enterprise_id": "e1", "post": "制冷工", "card": "risk_notice", "version": 2}),
        },
    );
    related
}

/// Judges with the tests' teams at hand.
pub(crate) fn judge(event: &EventBody, actor: &Actor, current: Option<&Entity>) -> Judgement {
    crate::judge::judge(event, actor, current, &teams())
}

pub(crate) const ENTITY: &str = "0192f3a0-0000-7000-8000-0000000000a1";
const PHOTO: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// The id an entity of `kind` takes from its payload, for the kinds whose ids are derived.
fn derived_entity_id(kind: &str, payload: &Value) -> Option<String> {
    let text = |key: &str| payload[key].as_str().unwrap_or_default();
    Some(match kind {
        "meeting.submit" => crate::kinds::meeting::meeting_id(
            text("enterprise_id"),
            text("team_id"),
            text("date"),
            text("shift"),
            serde_json::from_value(payload["slot"].clone()).ok()?,
        ),
        "briefing.record" => crate::kinds::briefing::briefing_id(
            text("enterprise_id"),
            text("team_id"),
            text("date"),
            text("shift"),
            text("worker_id"),
        ),
        "card.publish" => crate::kinds::card::card_id(
            text("enterprise_id"),
            text("post"),
            serde_json::from_value(payload["card"].clone()).ok()?,
        ),
        "schedule.save" => {
            crate::kinds::schedule::schedule_id(text("enterprise_id"), text("team_id"))
        }
        "floorplan.save" => crate::kinds::floorplan::floorplan_id(text("enterprise_id")),
        "commitment.sign" => {
            crate::kinds::commitment::commitment_id(text("enterprise_id"), text("year"))
        }
        _ => return None,
    })
}

pub(crate) fn event(kind: &str, payload: Value, photos: usize) -> EventBody {
    // Meetings, briefings, cards and commitments take their ids from what they are.
    let entity_id = derived_entity_id(kind, &payload).unwrap_or_else(|| ENTITY.into());
    EventBody {
        v: 1,
        device_id: "0192f3a0-0000-7000-8000-000000000001".into(),
        seq: 1,
        id: "0192f3a0-0000-7000-8000-0000000000e1".into(),
        prev_hash: GENESIS_HASH.into(),
        kind: kind.into(),
        entity_id,
        payload,
        blob_refs: vec![PHOTO.to_string(); photos],
        template_ref: None,
        base_rev: None,
        captured: Captured {
            wall_ms: 1_764_300_000_000,
            tz_offset_min: 480,
        },
    }
}

pub(crate) fn meeting_payload(enterprise: &str, team: &str) -> Value {
    json!({
        "enterprise_id": enterprise, "team_id": team, "date": "2026-11-28", "shift": "早班",
        "slot": "pre_shift", "host": "王班长", "started_at_ms": 1_764_300_000_000_i64,
        "ended_at_ms": 1_764_300_300_000_i64, "place": "加工车间",
        "attendance": [{"name": "李四", "status": "present", "fit_for_duty": true, "ppe_ok": true}],
        "topics": ["液氨泄漏应急处置"]
    })
}

pub(crate) fn briefing_payload(enterprise: &str, team: &str) -> Value {
    json!({
        "enterprise_id": enterprise, "team_id": team, "date": "2026-11-28", "shift": "早班",
        "worker_id": "w1", "worker_name": "李四", "post": "制冷工", "card_version": 2,
        "points": ["液氨泄漏的危害", "氨气报警器的位置", "撤离路线"], "duration_s": 75,
        "started_at_ms": 1_764_300_000_000_i64
    })
}

pub(crate) fn risk_payload(supersedes: u32) -> Value {
    json!({
        "enterprise_id": "e1", "name": "液氨储罐区", "place": "冷库机房东侧",
        "posts": ["制冷工"], "accident_types": ["poisoning_asphyxiation", "vessel_explosion"],
        "hazards": "液氨泄漏、储罐超压", "assessment": {"method": "ls", "l": 3, "s": 4},
        "measures": [{"text": "安装氨气泄漏报警器并与排风机联锁", "owner": "company"},
                     {"text": "每班巡检压力表", "owner": "post"}],
        "supersedes": supersedes
    })
}

/// The related records of a risk point of e1: the enterprise, registered in grid g1.
pub(crate) fn enterprise_e1() -> Related {
    let mut related = Related::new();
    related.insert(
        "e1".into(),
        Entity {
            id: "e1".into(),
            entity_type: crate::entity::EntityType::Enterprise,
            scope: crate::entity::EntityScope {
                enterprise: Some("e1".into()),
                grid: Some("g1".into()),
                ..crate::entity::EntityScope::default()
            },
            deleted: false,
            blobs: Vec::new(),
            body: json!({"name": "海晟冷链", "grid_id": "g1"}),
        },
    );
    related
}

pub(crate) fn card_payload(risk_point: &str, version: u32) -> Value {
    json!({
        "enterprise_id": "e1", "post": "制冷工", "card": "risk_notice", "version": version,
        "risk_points": [risk_point],
        "sections": [{"heading": "危险因素", "items": ["液氨泄漏", "储罐超压"]},
                     {"heading": "防范措施", "items": ["巡检压力表", "佩戴防毒面具"]}],
        "phones": [{"name": "厂区值班室", "number": "0513-88880000"}]
    })
}

/// The enterprise e1, and its risk point `ENTITY` (液氨储罐区, for the post 制冷工).
pub(crate) fn graded_e1() -> (Related, Entity) {
    let mut related = enterprise_e1();
    let point = crate::judge::judge(
        &event("risk.assess", risk_payload(0), 0),
        &manager("zhou", "e1"),
        None,
        &related,
    )
    .entity
    .expect("the fixture's risk point is applied");
    related.insert(point.id.clone(), point.clone());
    (related, point)
}

pub(crate) fn commitment_payload() -> Value {
    json!({"enterprise_id": "e1", "year": "2026", "principal": "刘建国",
           "pledges": ["严格落实安全生产主体责任", "每月组织一次隐患自查"], "signed_on": "2026-01-05"})
}

pub(crate) fn notice_payload(risk_point: &str, version: u32) -> Value {
    json!({"enterprise_id": "e1", "version": version, "title": "液氨储罐区重大安全风险公告",
           "risk_points": [risk_point], "body": "液氨泄漏可致中毒；已设泄漏报警与喷淋；泄漏时向上风向撤离。",
           "contact": "刘建国 13800000000", "public": true})
}

/// A schedule of e1/t1 from `from`: 早班 and 夜班, the pre-shift meeting, Sundays off, a crew
/// of 4.
pub(crate) fn schedule_payload(from: &str) -> Value {
    json!({"enterprise_id": "e1", "team_id": "t1", "from": from, "shifts": ["早班", "夜班"],
           "slots": ["pre_shift"], "rest_weekdays": [7], "rest_days": ["2026-11-30"], "crew": 4,
           "supersedes": 0})
}

pub(crate) fn report_payload(level: &str) -> Value {
    json!({"enterprise_id": "e1", "grid_id": "g1", "level": level, "description": "配电箱未接地", "deadline": "2026-12-05"})
}

pub(crate) fn transition(from: &str, to: &str) -> Value {
    json!({"from": from, "to": to})
}

fn applied(judgement: Judgement) -> Entity {
    assert_eq!(judgement.verdict, Verdict::Applied, "{judgement:?}");
    judgement.entity.unwrap()
}

fn refused(judgement: &Judgement, verdict: Verdict, code: &str) {
    assert_eq!(judgement.verdict, verdict, "{judgement:?}");
    assert_eq!(
        judgement.reason.as_ref().unwrap().code,
        code,
        "{judgement:?}"
    );
    assert!(judgement.entity.is_none());
}

#[test]
fn meetings_are_frozen_and_amended() {
    let wang = lead("wang", "e1", "t1");
    let submit = event("meeting.submit", meeting_payload("e1", "t1"), 1);
    let meeting = applied(judge(&submit, &wang, None));
    assert_eq!(
        meeting.scope.buckets(),
        vec!["enterprise:e1", "team:e1/t1", "town", "user:wang"]
    );
    assert_eq!(meeting.body["content_hash"].as_str().unwrap().len(), 64);

    refused(
        &judge(&submit, &wang, Some(&meeting)),
        Verdict::Conflict,
        "already-submitted",
    );

    let amend = event(
        "meeting.amend",
        json!({"reason": "漏记", "changes": {"risks": ["地面湿滑"]}}),
        0,
    );
    let amended = applied(judge(&amend, &manager("zhou", "e1"), Some(&meeting)));
    assert_eq!(amended.body["risks"], json!(["地面湿滑"]));
    assert_eq!(
        amended.body["topics"], meeting.body["topics"],
        "unchanged fields stay"
    );
    assert_eq!(amended.body["amendments"][0]["reason"], "漏记");
    assert_eq!(
        amended.body["content_hash"], meeting.body["content_hash"],
        "the original stays recorded"
    );

    refused(
        &judge(&amend, &wang, None),
        Verdict::Quarantined,
        "unknown-entity",
    );
}

#[test]
fn meetings_are_checked() {
    let wang = lead("wang", "e1", "t1");
    refused(
        &judge(
            &event("meeting.submit", meeting_payload("e1", "t1"), 0),
            &wang,
            None,
        ),
        Verdict::Quarantined,
        "photo-required",
    );
    refused(
        &judge(
            &event("meeting.submit", meeting_payload("e2", "t1"), 1),
            &wang,
            None,
        ),
        Verdict::Quarantined,
        "not-permitted",
    );
    refused(
        &judge(
            &event("meeting.submit", meeting_payload("e1", "t2"), 1),
            &wang,
            None,
        ),
        Verdict::Quarantined,
        "not-permitted",
    );
    let mut bad = meeting_payload("e1", "t1");
    bad["date"] = json!("28/11/2026");
    refused(
        &judge(&event("meeting.submit", bad, 1), &wang, None),
        Verdict::Quarantined,
        "payload-invalid",
    );
    let mut extra = meeting_payload("e1", "t1");
    extra["colour"] = json!("red");
    refused(
        &judge(&event("meeting.submit", extra, 1), &wang, None),
        Verdict::Quarantined,
        "payload-invalid",
    );
    refused(
        &judge(&event("meeting.fly", json!({}), 1), &wang, None),
        Verdict::Quarantined,
        "unknown-kind",
    );
}

#[test]
fn a_general_hazard_goes_round_and_a_stale_move_conflicts() {
    let li = inspector("li", &["g1"]);
    let zhou = manager("zhou", "e1");
    let hazard = applied(judge(
        &event("hazard.report", report_payload("general"), 1),
        &li,
        None,
    ));
    assert_eq!(hazard.body["state"], "reported");
    assert_eq!(
        hazard.scope.buckets(),
        vec!["enterprise:e1", "grid:g1", "town", "user:li"]
    );

    let start = event("hazard.transition", transition("reported", "rectifying"), 0);
    let rectifying = applied(judge(&start, &zhou, Some(&hazard)));
    // The same move again, from a device that had not seen the first: a conflict, nothing lost.
    refused(
        &judge(&start, &li, Some(&rectifying)),
        Verdict::Conflict,
        "stale-transition",
    );

    refused(
        &judge(
            &event(
                "hazard.transition",
                transition("rectifying", "pending_acceptance"),
                0,
            ),
            &zhou,
            Some(&rectifying),
        ),
        Verdict::Quarantined,
        "photo-required",
    );
    let pending = applied(judge(
        &event(
            "hazard.transition",
            transition("rectifying", "pending_acceptance"),
            1,
        ),
        &zhou,
        Some(&rectifying),
    ));
    assert_eq!(pending.body["photos_after"].as_array().unwrap().len(), 1);
    refused(
        &judge(
            &event(
                "hazard.transition",
                transition("pending_acceptance", "closed"),
                0,
            ),
            &zhou,
            Some(&pending),
        ),
        Verdict::Quarantined,
        "not-permitted",
    );
    let closed = applied(judge(
        &event(
            "hazard.transition",
            transition("pending_acceptance", "closed"),
            0,
        ),
        &li,
        Some(&pending),
    ));
    assert_eq!(closed.body["state"], "closed");
    assert_eq!(closed.body["history"].as_array().unwrap().len(), 4);
    refused(
        &judge(
            &event(
                "hazard.transition",
                json!({"from": "closed", "to": "void", "note": "x"}),
                0,
            ),
            &actor("root", &[Role::Admin], Scopes::default()),
            Some(&closed),
        ),
        Verdict::Quarantined,
        "invalid-transition",
    );
}

#[test]
fn hazard_rules() {
    let li = inspector("li", &["g1"]);
    let outsider = inspector("zhao", &["g9"]);
    refused(
        &judge(
            &event("hazard.report", report_payload("general"), 1),
            &outsider,
            None,
        ),
        Verdict::Quarantined,
        "not-permitted",
    );
    refused(
        &judge(
            &event("hazard.report", report_payload("general"), 0),
            &li,
            None,
        ),
        Verdict::Quarantined,
        "photo-required",
    );

    let major = applied(judge(
        &event("hazard.report", report_payload("major"), 1),
        &li,
        None,
    ));
    refused(
        &judge(
            &event("hazard.transition", transition("reported", "rectifying"), 0),
            &li,
            Some(&major),
        ),
        Verdict::Quarantined,
        "invalid-transition",
    );
    refused(
        &judge(
            &event(
                "hazard.transition",
                transition("reported", "plan_pending"),
                0,
            ),
            &li,
            Some(&major),
        ),
        Verdict::Quarantined,
        "double-report-required",
    );
    let with_reports = json!({"from": "reported", "to": "plan_pending",
        "double_report": {"regulator_at_ms": 1_764_300_000_000_i64, "congress_at_ms": 1_764_300_000_000_i64}});
    let planning = applied(judge(
        &event("hazard.transition", with_reports, 0),
        &li,
        Some(&major),
    ));
    refused(
        &judge(
            &event(
                "hazard.transition",
                transition("plan_pending", "rectifying"),
                0,
            ),
            &li,
            Some(&planning),
        ),
        Verdict::Quarantined,
        "plan-required",
    );
    let void = json!({"from": "plan_pending", "to": "void", "note": "重复上报"});
    refused(
        &judge(
            &event("hazard.transition", void.clone(), 0),
            &li,
            Some(&planning),
        ),
        Verdict::Quarantined,
        "not-permitted",
    );
    let admin = actor("root", &[Role::Admin], Scopes::default());
    assert_eq!(
        applied(judge(
            &event("hazard.transition", void, 0),
            &admin,
            Some(&planning)
        ))
        .body["state"],
        "void"
    );
    refused(
        &judge(
            &event("hazard.transition", transition("reported", "rectifying"), 0),
            &li,
            None,
        ),
        Verdict::Quarantined,
        "unknown-entity",
    );
    // A meeting event cannot touch a hazard.
    refused(
        &judge(
            &event(
                "meeting.amend",
                json!({"reason": "x", "changes": {"topics": ["y"]}}),
                0,
            ),
            &li,
            Some(&major),
        ),
        Verdict::Quarantined,
        "wrong-entity-type",
    );
}

#[test]
fn overdue_is_derived() {
    let hazard: crate::kinds::hazard::Hazard = serde_json::from_value(
        applied(judge(
            &event("hazard.report", report_payload("general"), 1),
            &inspector("li", &["g1"]),
            None,
        ))
        .body,
    )
    .unwrap();
    assert!(!hazard.is_overdue("2026-12-05"));
    assert!(hazard.is_overdue("2026-12-06"));
}

fn enterprise_record(code: &str) -> Value {
    json!({"name": "福鼎海带加工厂", "credit_code": code, "industry": "紫菜加工", "scale": "below",
        "grid_id": "g1", "village": "沙埕村", "address": "沙埕镇海滨路1号",
        "contacts": [{"name": "陈老板", "phone": "138 0000 0000", "role": "法人"}],
        "risk_colour": "yellow", "flags": {"ammonia_refrigeration": true}})
}

#[test]
fn enterprises_are_kept_by_the_office() {
    let admin = actor("root", &[Role::Admin], Scopes::default());
    let save = event(
        "enterprise.save",
        enterprise_record("914403001922038216"),
        0,
    );
    let saved = applied(judge(&save, &admin, None));
    assert_eq!(saved.body["credit_code_warning"], false);
    assert_eq!(saved.body["flags"]["ammonia_refrigeration"], true);
    assert_eq!(
        saved.scope.buckets(),
        vec![
            format!("directory:{ENTITY}"),
            format!("enterprise:{ENTITY}"),
            "grid:g1".into(),
            "town".into()
        ]
    );
    // Saving again replaces the record.
    let mut renamed = enterprise_record("914403001922038216");
    renamed["name"] = json!("福鼎海带加工有限公司");
    let again = applied(judge(
        &event("enterprise.save", renamed, 0),
        &admin,
        Some(&saved),
    ));
    assert_eq!(again.body["name"], "福鼎海带加工有限公司");

    let mismatch = applied(judge(
        &event(
            "enterprise.save",
            enterprise_record("914403001922038217"),
            0,
        ),
        &admin,
        None,
    ));
    assert_eq!(mismatch.body["credit_code_warning"], true, "kept, flagged");
    refused(
        &judge(
            &event("enterprise.save", enterprise_record("91440300192203821"), 0),
            &admin,
            None,
        ),
        Verdict::Quarantined,
        "credit-code-invalid",
    );
    refused(
        &judge(
            &event(
                "enterprise.save",
                enterprise_record("91440300192203821O"),
                0,
            ),
            &admin,
            None,
        ),
        Verdict::Quarantined,
        "credit-code-invalid",
    );
    refused(
        &judge(
            &event(
                "enterprise.save",
                enterprise_record("914403001922038216"),
                0,
            ),
            &inspector("li", &["g1"]),
            None,
        ),
        Verdict::Quarantined,
        "not-permitted",
    );
}

#[test]
fn a_meetings_id_follows_from_its_slot() {
    use crate::kinds::meeting::{Slot, meeting_id};
    let wang = lead("wang", "e1", "t1");
    let id = meeting_id("e1", "t1", "2026-11-28", "早班", Slot::PreShift);
    assert_eq!(
        id,
        meeting_id("e1", "t1", "2026-11-28", "早班", Slot::PreShift),
        "the same on every device"
    );
    assert_ne!(
        id,
        meeting_id("e1", "t1", "2026-11-28", "早班", Slot::Handover)
    );
    // As PROTOCOL.md gives it, computed independently (Python's hashlib and uuid).
    assert_eq!(id, "90da6ba4-9741-8c65-a425-8fb3533fd73e");
    let mut wrong = event("meeting.submit", meeting_payload("e1", "t1"), 1);
    wrong.entity_id = ENTITY.into();
    refused(
        &judge(&wrong, &wang, None),
        Verdict::Quarantined,
        "meeting-id-mismatch",
    );
}

#[test]
fn grids_are_kept_by_the_office_under_their_code() {
    use crate::kinds::grid::grid_id;
    let admin = actor("root", &[Role::Admin], Scopes::default());
    let mut save = event(
        "grid.save",
        json!({"code": "shacheng", "name": "沙埕村"}),
        0,
    );
    refused(
        &judge(&save, &admin, None),
        Verdict::Quarantined,
        "grid-id-mismatch",
    );
    save.entity_id = grid_id("shacheng");
    let grid = applied(judge(&save, &admin, None));
    assert_eq!(grid.scope.buckets(), vec!["grid:shacheng", "town"]);
    assert_eq!(grid.body["name"], "沙埕村");
    refused(
        &judge(&save, &inspector("li", &["shacheng"]), None),
        Verdict::Quarantined,
        "not-permitted",
    );
    let mut bad = event("grid.save", json!({"code": "沙埕", "name": "沙埕村"}), 0);
    bad.entity_id = grid_id("沙埕");
    refused(
        &judge(&bad, &admin, None),
        Verdict::Quarantined,
        "payload-invalid",
    );
}

#[test]
fn teams_are_kept_by_their_enterprise_and_name_the_meetings_they_hold() {
    use crate::kinds::team::team_id;
    let zhou = manager("zhou", "e1");
    let team = |slots: Value| {
        let mut save = event(
            "team.save",
            json!({"enterprise_id": "e1", "code": "t9", "name": "九班", "slots": slots}),
            0,
        );
        save.entity_id = team_id("e1", "t9");
        save
    };
    let saved = applied(judge(&team(json!(["pre_shift"])), &zhou, None));
    assert_eq!(
        saved.scope.buckets(),
        vec!["directory:e1", "enterprise:e1", "team:e1/t9", "town"]
    );
    refused(
        &judge(&team(json!([])), &zhou, None),
        Verdict::Quarantined,
        "payload-invalid",
    );
    refused(
        &judge(&team(json!(["handover", "handover"])), &zhou, None),
        Verdict::Quarantined,
        "payload-invalid",
    );
    refused(
        &judge(&team(json!(["pre_shift"])), &manager("qian", "e2"), None),
        Verdict::Quarantined,
        "not-permitted",
    );
    let mut stray = team(json!(["pre_shift"]));
    stray.entity_id = ENTITY.into();
    refused(
        &judge(&stray, &zhou, None),
        Verdict::Quarantined,
        "team-id-mismatch",
    );

    // A meeting must be of a known team, in a slot it holds.
    let lead9 = lead("wu", "e1", "t9");
    let mut only_pre = Related::new();
    only_pre.insert(saved.id.clone(), saved.clone());
    let mut handover = meeting_payload("e1", "t9");
    handover["slot"] = json!("handover");
    let meeting = event("meeting.submit", handover, 1);
    let judged = crate::judge::judge(&meeting, &lead9, None, &only_pre);
    refused(&judged, Verdict::Quarantined, "slot-not-held");
    let judged = crate::judge::judge(&meeting, &lead9, None, &Related::new());
    refused(&judged, Verdict::Quarantined, "unknown-team");
    let pre = event("meeting.submit", meeting_payload("e1", "t9"), 1);
    assert_eq!(
        crate::judge::judge(&pre, &lead9, None, &only_pre).verdict,
        Verdict::Applied
    );
}

#[test]
fn workers_are_kept_by_their_enterprise() {
    use crate::kinds::worker::Worker;
    let zhou = manager("zhou", "e1");
    let payload = json!({"enterprise_id": "e1", "team_id": "t1", "name": "李四", "post": "制冷工",
        "certificates": [{"kind": "制冷与空调作业", "number": "T350102198001010011", "expires_on": "2026-06-30"}]});
    let saved = applied(judge(
        &event("worker.save", payload.clone(), 0),
        &zhou,
        None,
    ));
    assert_eq!(
        saved.scope.buckets(),
        vec!["directory:e1", "enterprise:e1", "team:e1/t1", "town"]
    );
    let worker: Worker = serde_json::from_value(saved.body.clone()).unwrap();
    assert_eq!(worker.expired_certificates("2026-11-28").count(), 1);
    assert_eq!(worker.expired_certificates("2026-06-30").count(), 0);
    refused(
        &judge(
            &event("worker.save", payload.clone(), 0),
            &manager("qian", "e2"),
            None,
        ),
        Verdict::Quarantined,
        "not-permitted",
    );
    refused(
        &judge(
            &event("worker.save", payload.clone(), 0),
            &lead("wang", "e1", "t1"),
            None,
        ),
        Verdict::Quarantined,
        "not-permitted",
    );
    let mut moved = payload.clone();
    moved["enterprise_id"] = json!("e2");
    refused(
        &judge(
            &event("worker.save", moved, 0),
            &actor("root", &[Role::Admin], Scopes::default()),
            Some(&saved),
        ),
        Verdict::Quarantined,
        "payload-invalid",
    );
    let mut bad = payload;
    bad["certificates"][0]["expires_on"] = json!("2026/06/30");
    refused(
        &judge(&event("worker.save", bad, 0), &zhou, None),
        Verdict::Quarantined,
        "payload-invalid",
    );
}

#[test]
fn the_acceptor_is_not_the_owner_and_deadlines_are_events() {
    let li = inspector("li", &["g1"]);
    let zhao = inspector("zhao", &["g1"]);
    let hazard = applied(judge(
        &event("hazard.report", report_payload("general"), 1),
        &li,
        None,
    ));
    let rectifying = applied(judge(
        &event("hazard.transition", transition("reported", "rectifying"), 0),
        &li,
        Some(&hazard),
    ));
    let pending = applied(judge(
        &event(
            "hazard.transition",
            transition("rectifying", "pending_acceptance"),
            1,
        ),
        &li,
        Some(&rectifying),
    ));
    // The inspector who rectified cannot also accept.
    refused(
        &judge(
            &event(
                "hazard.transition",
                transition("pending_acceptance", "closed"),
                0,
            ),
            &li,
            Some(&pending),
        ),
        Verdict::Quarantined,
        "acceptor-is-owner",
    );
    let closed = applied(judge(
        &event(
            "hazard.transition",
            transition("pending_acceptance", "closed"),
            0,
        ),
        &zhao,
        Some(&pending),
    ));

    let later = json!({"deadline": "2026-12-31", "note": "设备到货延迟"});
    let extended = applied(judge(
        &event("hazard.deadline", later.clone(), 0),
        &li,
        Some(&rectifying),
    ));
    assert_eq!(extended.body["deadline"], "2026-12-31");
    assert_eq!(extended.body["state"], "rectifying");
    let step = extended.body["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (step["from"].as_str(), step["to"].as_str()),
        (Some("rectifying"), Some("rectifying"))
    );
    refused(
        &judge(
            &event("hazard.deadline", later.clone(), 0),
            &manager("zhou", "e1"),
            Some(&rectifying),
        ),
        Verdict::Quarantined,
        "not-permitted",
    );
    refused(
        &judge(&event("hazard.deadline", later, 0), &li, Some(&closed)),
        Verdict::Conflict,
        "hazard-closed",
    );
}

#[test]
fn articles_merge_disjoint_edits_and_are_reviewed_by_someone_else() {
    let writer = actor("xu", &[Role::Publicist], Scopes::default());
    let also = actor("he", &[Role::Publicist, Role::Reviewer], Scopes::default());
    let reviewer = actor("gao", &[Role::Reviewer], Scopes::default());
    let edit = |payload: Value, base: Option<u64>| {
        let mut e = event("article.save", payload, 0);
        e.base_rev = base;
        e
    };
    refused(
        &judge(&edit(json!({"title": "防溺水"}), None), &writer, None),
        Verdict::Quarantined,
        "payload-invalid",
    );
    refused(
        &judge(
            &edit(json!({"title": "防溺水", "body": "夏季"}), None),
            &reviewer,
            None,
        ),
        Verdict::Quarantined,
        "not-permitted",
    );
    let draft = applied(judge(
        &edit(
            json!({"title": "防溺水", "body": "夏季", "column": "safety365"}),
            None,
        ),
        &writer,
        None,
    ));
    assert_eq!(
        (draft.body["version"].as_u64(), draft.body["state"].as_str()),
        (Some(1), Some("draft"))
    );
    assert_eq!(
        draft.scope.buckets(),
        vec!["town", "user:xu"],
        "a draft is its author's"
    );

    // Two edits from version 1: disjoint fields merge, the same field conflicts.
    let titled = applied(judge(
        &edit(json!({"title": "暑期防溺水"}), Some(1)),
        &writer,
        Some(&draft),
    ));
    let both = applied(judge(
        &edit(json!({"body": "夏季游泳注意安全"}), Some(1)),
        &writer,
        Some(&titled),
    ));
    assert_eq!(
        (both.body["title"].as_str(), both.body["body"].as_str()),
        (Some("暑期防溺水"), Some("夏季游泳注意安全"))
    );
    refused(
        &judge(
            &edit(json!({"title": "防溺水提示"}), Some(1)),
            &writer,
            Some(&both),
        ),
        Verdict::Conflict,
        "edit-overlap",
    );
    applied(judge(
        &edit(json!({"title": "防溺水提示"}), Some(3)),
        &writer,
        Some(&both),
    ));

    let submitted = applied(judge(
        &event("article.submit", json!({}), 0),
        &writer,
        Some(&both),
    ));
    assert!(submitted.scope.buckets().contains(&"review".to_string()));
    refused(
        &judge(
            &edit(json!({"body": "改"}), Some(3)),
            &writer,
            Some(&submitted),
        ),
        Verdict::Conflict,
        "article-not-draft",
    );
    let own = applied(judge(
        &edit(json!({"title": "自己的", "body": "稿"}), None),
        &also,
        None,
    ));
    let own = applied(judge(
        &event("article.submit", json!({}), 0),
        &also,
        Some(&own),
    ));
    refused(
        &judge(
            &event("article.review", json!({"decision": "publish"}), 0),
            &also,
            Some(&own),
        ),
        Verdict::Quarantined,
        "reviewer-is-author",
    );
    refused(
        &judge(
            &event("article.review", json!({"decision": "reject"}), 0),
            &reviewer,
            Some(&submitted),
        ),
        Verdict::Quarantined,
        "note-required",
    );
    let rejected = applied(judge(
        &event(
            "article.review",
            json!({"decision": "reject", "note": "标题不准确"}),
            0,
        ),
        &reviewer,
        Some(&submitted),
    ));
    assert_eq!(
        rejected.body["state"], "draft",
        "rejected goes back to draft"
    );
    let again = applied(judge(
        &event("article.submit", json!({}), 0),
        &writer,
        Some(&rejected),
    ));
    let published = applied(judge(
        &event("article.review", json!({"decision": "publish"}), 0),
        &reviewer,
        Some(&again),
    ));
    assert!(published.scope.buckets().contains(&"public".to_string()));
    assert_eq!(published.body["reviewed_by"], "gao");
    refused(
        &judge(
            &event("article.review", json!({"decision": "publish"}), 0),
            &reviewer,
            Some(&published),
        ),
        Verdict::Conflict,
        "stale-state",
    );
    refused(
        &judge(
            &event("article.withdraw", json!({}), 0),
            &writer,
            Some(&published),
        ),
        Verdict::Quarantined,
        "note-required",
    );
    let withdrawn = applied(judge(
        &event("article.withdraw", json!({"note": "数据有误"}), 0),
        &writer,
        Some(&published),
    ));
    assert!(!withdrawn.scope.buckets().contains(&"public".to_string()));
}

fn small_template() -> Value {
    json!({"code": "small", "version": 1, "title": "小微企业检查表", "sections": [
        {"title": "消防", "items": [
            {"code": "XF-01", "text": "灭火器有效", "photo_required": true},
            {"code": "XF-02", "text": "通道畅通"}]}]})
}

fn inspection(kind: &str, inspectors: Value) -> Value {
    json!({"enterprise_id": "e1", "grid_id": "g1", "kind": kind, "template": "small", "template_version": 1,
        "inspectors": inspectors, "started_at_ms": 1_764_300_000_000_i64, "ended_at_ms": 1_764_300_600_000_i64,
        "results": [{"item": "XF-01", "verdict": "ok"}, {"item": "XF-02", "verdict": "hazard", "note": "堆放杂物"}],
        "summary": "发现一处隐患", "signature": PHOTO})
}

#[test]
fn templates_are_immutable_and_inspections_pin_them() {
    use crate::kinds::inspection::template_id;
    let admin = actor("root", &[Role::Admin], Scopes::default());
    let mut publish = event("template.publish", small_template(), 0);
    publish.entity_id = template_id("small", 1);
    let template = applied(judge(&publish, &admin, None));
    assert_eq!(template.scope.buckets(), vec!["reference", "town"]);
    refused(
        &judge(&publish, &admin, Some(&template)),
        Verdict::Conflict,
        "template-published",
    );
    refused(
        &judge(&publish, &inspector("li", &["g1"]), None),
        Verdict::Quarantined,
        "not-permitted",
    );

    let mut related = Related::new();
    related.insert(template.id.clone(), template.clone());
    let li = inspector("li", &["g1"]);
    let submit = |payload: Value, pinned: Option<&str>| {
        let mut e = event("inspection.submit", payload, 1);
        e.template_ref = pinned.map(str::to_string);
        e
    };
    let one = json!([{"name": "李执法"}]);
    let patrol = submit(inspection("grid_patrol", one.clone()), Some("small@1"));
    let judged = crate::judge::judge(&patrol, &li, None, &related);
    assert_eq!(judged.verdict, Verdict::Applied, "{judged:?}");
    let frozen = judged.entity.unwrap();
    assert_eq!(frozen.body["content_hash"].as_str().unwrap().len(), 64);
    refused(
        &crate::judge::judge(&patrol, &li, Some(&frozen), &related),
        Verdict::Conflict,
        "already-submitted",
    );
    refused(
        &crate::judge::judge(&patrol, &li, None, &Related::new()),
        Verdict::Quarantined,
        "unknown-template",
    );
    refused(
        &crate::judge::judge(
            &submit(inspection("grid_patrol", one.clone()), None),
            &li,
            None,
            &related,
        ),
        Verdict::Quarantined,
        "template-ref-required",
    );
    let enforcement = submit(inspection("enforcement", one), Some("small@1"));
    refused(
        &crate::judge::judge(&enforcement, &li, None, &related),
        Verdict::Quarantined,
        "two-officers-required",
    );
    let two = json!([{"name": "李执法", "certificate": "闽A001"}, {"name": "王执法", "certificate": "闽A002"}]);
    let enforcement = submit(inspection("enforcement", two.clone()), Some("small@1"));
    assert_eq!(
        crate::judge::judge(&enforcement, &li, None, &related).verdict,
        Verdict::Applied
    );
    let mut unsigned = inspection("grid_patrol", two.clone());
    unsigned.as_object_mut().unwrap().remove("signature");
    refused(
        &crate::judge::judge(
            &submit(unsigned.clone(), Some("small@1")),
            &li,
            None,
            &related,
        ),
        Verdict::Quarantined,
        "signature-required",
    );
    unsigned["refusal_note"] = json!("负责人拒绝签字");
    assert_eq!(
        crate::judge::judge(&submit(unsigned, Some("small@1")), &li, None, &related).verdict,
        Verdict::Applied
    );
    let mut no_photo = inspection("grid_patrol", two.clone());
    no_photo["results"] = json!([{"item": "XF-01", "verdict": "hazard"}]);
    refused(
        &crate::judge::judge(&submit(no_photo, Some("small@1")), &li, None, &related),
        Verdict::Quarantined,
        "photo-required",
    );
    let mut stray = inspection("grid_patrol", two);
    stray["results"] = json!([{"item": "ZZ-99", "verdict": "ok"}]);
    refused(
        &crate::judge::judge(&submit(stray, Some("small@1")), &li, None, &related),
        Verdict::Quarantined,
        "unknown-item",
    );

    let amend = event(
        "inspection.amend",
        json!({"reason": "笔误", "summary": "发现一处一般隐患"}),
        0,
    );
    let amended = applied(judge(&amend, &li, Some(&frozen)));
    assert_eq!(amended.body["summary"], "发现一处一般隐患");
    assert_eq!(amended.body["content_hash"], frozen.body["content_hash"]);
    assert_eq!(amended.body["amendments"].as_array().unwrap().len(), 1);
    refused(
        &judge(&amend, &inspector("zhao", &["g1"]), Some(&frozen)),
        Verdict::Quarantined,
        "not-permitted",
    );
}

#[test]
fn an_article_cites_the_images_it_shows_now() {
    let writer = actor("xu", &[Role::Publicist], Scopes::default());
    let other = "ab".repeat(32);
    let mut save = event(
        "article.save",
        json!({"title": "防溺水", "body": "夏季", "cover": PHOTO, "images": [other]}),
        0,
    );
    refused(
        &judge(&save, &writer, None),
        Verdict::Quarantined,
        "payload-invalid",
    );
    save.blob_refs = vec![PHOTO.to_string(), other.clone()];
    let draft = applied(judge(&save, &writer, None));
    let mut cited = vec![PHOTO.to_string(), other.clone()];
    cited.sort();
    assert_eq!(draft.blobs, cited);

    let mut edit = event("article.save", json!({"images": []}), 0);
    edit.base_rev = Some(1);
    let edited = applied(judge(&edit, &writer, Some(&draft)));
    assert_eq!(
        edited.blobs,
        vec![PHOTO.to_string()],
        "an image taken out is no longer cited"
    );
}

#[test]
fn a_hazard_keeps_every_photo_its_events_cited() {
    let li = inspector("li", &["g1"]);
    let zhou = manager("zhou", "e1");
    let hazard = applied(judge(
        &event("hazard.report", report_payload("general"), 1),
        &li,
        None,
    ));
    assert_eq!(hazard.blobs, vec![PHOTO.to_string()]);
    let rectifying = applied(judge(
        &event("hazard.transition", transition("reported", "rectifying"), 0),
        &zhou,
        Some(&hazard),
    ));
    assert_eq!(
        rectifying.blobs, hazard.blobs,
        "a move without photos keeps them"
    );
    let after = "cd".repeat(32);
    let mut done = event(
        "hazard.transition",
        transition("rectifying", "pending_acceptance"),
        0,
    );
    done.blob_refs = vec![after.clone()];
    let pending = applied(judge(&done, &zhou, Some(&rectifying)));
    assert_eq!(pending.blobs, vec![PHOTO.to_string(), after]);
}

#[test]
fn briefings_are_one_per_worker_and_shift_and_frozen() {
    use crate::kinds::briefing::briefing_id;
    use crate::kinds::meeting::{Slot, meeting_id};
    let wang = lead("wang", "e1", "t1");
    let record = event("briefing.record", briefing_payload("e1", "t1"), 0);
    assert_eq!(
        record.entity_id,
        briefing_id("e1", "t1", "2026-11-28", "早班", "w1")
    );
    // The example of openapi/PROTOCOL.md.
    assert_eq!(record.entity_id, "6a101b21-a858-8816-bb62-5bf468f4cbe6");
    let briefing = applied(judge(&record, &wang, None));
    assert_eq!(briefing.body["recorded_by"], "wang");
    assert_eq!(briefing.body["points"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        briefing.scope.buckets(),
        ["enterprise:e1", "team:e1/t1", "town", "user:wang"]
    );
    // The same worker's briefing for the same shift, from another phone: a conflict.
    refused(
        &judge(&record, &wang, Some(&briefing)),
        Verdict::Conflict,
        "already-submitted",
    );
    // Another team's lead may not record it.
    refused(
        &judge(&record, &lead("li", "e1", "t2"), None),
        Verdict::Quarantined,
        "not-permitted",
    );

    let with = |change: &dyn Fn(&mut Value)| {
        let mut payload = briefing_payload("e1", "t1");
        change(&mut payload);
        event("briefing.record", payload, 0)
    };
    // A worker not on the enterprise's roster, a team it does not have.
    let stranger = with(&|p| p["worker_id"] = json!("w9"));
    refused(
        &judge(&stranger, &wang, None),
        Verdict::Quarantined,
        "unknown-worker",
    );
    let other_enterprise = with(&|p| p["enterprise_id"] = json!("e2"));
    refused(
        &judge(&other_enterprise, &lead("zhao", "e2", "t1"), None),
        Verdict::Quarantined,
        "unknown-worker",
    );
    let no_team = with(&|p| p["team_id"] = json!("t7"));
    refused(
        &judge(&no_team, &lead("wang", "e1", "t7"), None),
        Verdict::Quarantined,
        "unknown-team",
    );
    // An id not derived from the worker's shift.
    let mut moved = record.clone();
    moved.entity_id = briefing_id("e1", "t1", "2026-11-29", "早班", "w1");
    refused(
        &judge(&moved, &wang, None),
        Verdict::Quarantined,
        "briefing-id-mismatch",
    );
    // Sizes and ranges.
    for bad in [
        with(&|p| p["points"] = json!([])),
        with(&|p| p["points"] = json!(vec!["要点"; 31])),
        with(&|p| p["points"] = json!([" "])),
        with(&|p| p["duration_s"] = json!(0)),
        with(&|p| p["duration_s"] = json!(3601)),
        with(&|p| p["duration_s"] = json!(-5)),
        with(&|p| p["card_version"] = json!(0)),
        with(&|p| p["date"] = json!("2026-13-01")),
    ] {
        refused(
            &judge(&bad, &wang, None),
            Verdict::Quarantined,
            "payload-invalid",
        );
    }
    // A meeting of that shift may be named; one of another day may not.
    let of_shift = meeting_id("e1", "t1", "2026-11-28", "早班", Slot::PreShift);
    let linked = with(&|p| p["meeting_id"] = json!(of_shift));
    assert_eq!(
        applied(judge(&linked, &wang, None)).body["meeting_id"],
        json!(of_shift)
    );
    let other_day = meeting_id("e1", "t1", "2026-11-27", "早班", Slot::PreShift);
    let mislinked = with(&|p| p["meeting_id"] = json!(other_day));
    refused(
        &judge(&mislinked, &wang, None),
        Verdict::Quarantined,
        "payload-invalid",
    );
}

#[test]
fn risk_points_are_graded_versioned_and_retired() {
    use crate::kinds::risk::{Assessment, RiskLevel};
    let zhou = manager("zhou", "e1");
    let related = enterprise_e1();
    let assess = |payload: Value, current: Option<&Entity>, who: &Actor| {
        crate::judge::judge(&event("risk.assess", payload, 0), who, current, &related)
    };
    // L 3 × S 4 = 12: 一般 (yellow).
    let first = applied(assess(risk_payload(0), None, &zhou));
    assert_eq!(first.body["version"], 1);
    assert_eq!(first.body["score_x100"], 1200);
    assert_eq!(
        (first.body["level"].as_str(), first.body["colour"].as_str()),
        (Some("general"), Some("yellow"))
    );
    assert_eq!(
        first.scope.buckets(),
        ["directory:e1", "enterprise:e1", "grid:g1", "town"]
    );
    // Re-assessed after an incident: L 4 × S 5 = 20, 重大 (red); the first version is kept.
    let mut again = risk_payload(1);
    again["assessment"] = json!({"method": "ls", "l": 4, "s": 5});
    let second = applied(assess(again.clone(), Some(&first), &zhou));
    assert_eq!(
        (
            second.body["version"].as_u64(),
            second.body["level"].as_str()
        ),
        (Some(2), Some("major"))
    );
    assert_eq!(second.body["history"][0]["version"], 1);
    assert_eq!(second.body["history"][0]["level"], "general");
    assert_eq!(
        second.body["history"][0]["assessment"]["assessment"]["l"],
        3
    );
    // A second re-assessment of version 1, made before the first arrived: a conflict.
    refused(
        &assess(again, Some(&second), &zhou),
        Verdict::Conflict,
        "stale-version",
    );
    // A direct criterion makes it major whatever the score.
    let mut direct = risk_payload(2);
    direct["direct_major"] = json!("涉氨制冷储量超过10吨");
    direct["assessment"] = json!({"method": "ls", "l": 1, "s": 1});
    let third = applied(assess(direct, Some(&second), &zhou));
    assert_eq!(
        (
            third.body["score_x100"].as_u64(),
            third.body["level"].as_str()
        ),
        (Some(100), Some("major"))
    );
    // Retired: kept, and no longer re-assessed.
    let retire = event("risk.retire", json!({"note": "储罐已拆除"}), 0);
    let retired = applied(crate::judge::judge(&retire, &zhou, Some(&third), &related));
    assert_eq!(retired.body["retired"], "储罐已拆除");
    assert_eq!(retired.body["version"], 3);
    refused(
        &assess(risk_payload(3), Some(&retired), &zhou),
        Verdict::Conflict,
        "risk-retired",
    );
    refused(
        &crate::judge::judge(&retire, &zhou, Some(&retired), &related),
        Verdict::Conflict,
        "risk-retired",
    );

    // Scores off their scale, and other bad input.
    let with = |change: &dyn Fn(&mut Value)| {
        let mut payload = risk_payload(0);
        change(&mut payload);
        payload
    };
    for (bad, code) in [
        (
            with(&|p| p["assessment"] = json!({"method": "ls", "l": 6, "s": 1})),
            "risk-score-invalid",
        ),
        (
            with(&|p| p["assessment"] = json!({"method": "ls", "l": 0, "s": 1})),
            "risk-score-invalid",
        ),
        (
            with(&|p| p["assessment"] = json!({"method": "lec", "l_x10": 4, "e_x10": 10, "c": 1})),
            "risk-score-invalid",
        ),
        (
            with(&|p| p["assessment"] = json!({"method": "lec", "l_x10": 10, "e_x10": 10, "c": 2})),
            "risk-score-invalid",
        ),
        (
            with(&|p| p["assessment"] = json!({"method": "fmea", "rpn": 10})),
            "payload-invalid",
        ),
        (
            with(&|p| p["accident_types"] = json!([])),
            "payload-invalid",
        ),
        (
            with(&|p| p["accident_types"] = json!(["fire", "fire"])),
            "payload-invalid",
        ),
        (
            with(&|p| p["accident_types"] = json!(["earthquake"])),
            "payload-invalid",
        ),
        (with(&|p| p["measures"] = json!([])), "payload-invalid"),
        (
            with(&|p| p["posts"] = json!(["制冷工", "制冷工"])),
            "payload-invalid",
        ),
        (
            with(&|p| p["posts"] = json!([" 制冷工"])),
            "payload-invalid",
        ),
        (
            with(&|p| p["measures"] = json!([{"text": "巡检", "owner": "town"}])),
            "payload-invalid",
        ),
        (
            with(&|p| p["plan_point"] = json!({"x_permille": 1001, "y_permille": 0})),
            "payload-invalid",
        ),
        (
            with(&|p| p["enterprise_id"] = json!("e9")),
            "unknown-enterprise",
        ),
    ] {
        let zhou_of = if code == "unknown-enterprise" {
            manager("zhou", "e9")
        } else {
            zhou.clone()
        };
        refused(&assess(bad, None, &zhou_of), Verdict::Quarantined, code);
    }
    // The levels each method gives, at its bands' edges.
    let ls = |l, s| Assessment::Ls { l, s }.level().unwrap();
    assert_eq!(
        [ls(4, 5), ls(3, 5), ls(4, 4), ls(3, 4), ls(3, 3), ls(2, 4)],
        [
            RiskLevel::Major,
            RiskLevel::High,
            RiskLevel::High,
            RiskLevel::General,
            RiskLevel::General,
            RiskLevel::Low
        ]
    );
    let lec = |l_x10, e_x10, c| Assessment::Lec { l_x10, e_x10, c }.level().unwrap();
    // D = 10×6×7 = 420, 3×6×15 = 270, 1×10×15 = 150, 1×6×15 = 90, 3×3×7 = 63.
    assert_eq!(lec(100, 60, 7), RiskLevel::Major);
    assert_eq!(lec(30, 60, 15), RiskLevel::High);
    assert_eq!(lec(10, 100, 15), RiskLevel::General);
    assert_eq!(lec(10, 60, 15), RiskLevel::General);
    assert_eq!(lec(30, 30, 7), RiskLevel::Low);
    // D = 1×10×7 = 70 is the low band's top (320 and 160 cannot be reached by the scales).
    assert_eq!(lec(10, 100, 7), RiskLevel::Low);
    // In hundredths, exact: L 0.5 × E 0.5 × C 1 = 0.25.
    assert_eq!(
        Assessment::Lec {
            l_x10: 5,
            e_x10: 5,
            c: 1
        }
        .score_x100()
        .unwrap(),
        25
    );
}

#[test]
fn a_posts_cards_are_versioned_and_cover_its_graded_risks() {
    use crate::kinds::card::{CardKind, card_id};
    let zhou = manager("zhou", "e1");
    let (related, point) = graded_e1();
    let publish = |payload: Value, current: Option<&Entity>, related: &Related| {
        crate::judge::judge(&event("card.publish", payload, 0), &zhou, current, related)
    };
    let first = applied(publish(card_payload(&point.id, 1), None, &related));
    assert_eq!(first.id, card_id("e1", "制冷工", CardKind::RiskNotice));
    assert_eq!(
        first.scope.buckets(),
        ["directory:e1", "enterprise:e1", "grid:g1", "town"]
    );
    // Version 2 keeps version 1; a second "version 2", or a version skipped, is a conflict.
    let mut changed = card_payload(&point.id, 2);
    changed["sections"][0]["items"] = json!(["液氨泄漏", "储罐超压", "管道腐蚀"]);
    let second = applied(publish(changed.clone(), Some(&first), &related));
    assert_eq!(second.body["version"], 2);
    assert_eq!(second.body["history"][0]["content"]["version"], 1);
    assert_eq!(
        second.body["sections"][0]["items"].as_array().map(Vec::len),
        Some(3)
    );
    refused(
        &publish(changed, Some(&second), &related),
        Verdict::Conflict,
        "stale-version",
    );
    refused(
        &publish(card_payload(&point.id, 4), Some(&second), &related),
        Verdict::Conflict,
        "stale-version",
    );
    // A card for a post no risk point names, or naming a risk point not graded, is refused.
    let mut other_post = card_payload(&point.id, 1);
    other_post["post"] = json!("叉车司机");
    refused(
        &publish(other_post, None, &related),
        Verdict::Quarantined,
        "unknown-post",
    );
    let mut ungraded = card_payload(&point.id, 1);
    ungraded["risk_points"] = json!(["0192f3a0-0000-7000-8000-0000000000f9"]);
    refused(
        &publish(ungraded, None, &related),
        Verdict::Quarantined,
        "unknown-post",
    );
    let retired = applied(crate::judge::judge(
        &event("risk.retire", json!({"note": "拆除"}), 0),
        &zhou,
        Some(&point),
        &related,
    ));
    let mut after = related.clone();
    after.insert(retired.id.clone(), retired);
    refused(
        &publish(card_payload(&point.id, 1), None, &after),
        Verdict::Quarantined,
        "unknown-post",
    );
    // Its id is the post's card's; its parts are bounded.
    let mut moved = event("card.publish", card_payload(&point.id, 1), 0);
    moved.entity_id = card_id("e1", "制冷工", CardKind::Emergency);
    refused(
        &crate::judge::judge(&moved, &zhou, None, &related),
        Verdict::Quarantined,
        "card-id-mismatch",
    );
    for change in [
        json!({"version": 0}),
        json!({"risk_points": []}),
        json!({"sections": []}),
        json!({"sections": [{"heading": "空", "items": []}]}),
        json!({"card": "fire_drill"}),
    ] {
        let mut bad = card_payload(&point.id, 1);
        for (k, v) in change.as_object().unwrap() {
            bad[k] = v.clone();
        }
        refused(
            &publish(bad, None, &related),
            Verdict::Quarantined,
            "payload-invalid",
        );
    }
    // A team lead reads cards but does not publish them.
    refused(
        &crate::judge::judge(
            &event("card.publish", card_payload(&point.id, 1), 0),
            &lead("wang", "e1", "t1"),
            None,
            &related,
        ),
        Verdict::Quarantined,
        "not-permitted",
    );
    // A briefing names a version the post's card has had.
    let wang = lead("wang", "e1", "t1");
    let mut read_ahead = briefing_payload("e1", "t1");
    read_ahead["card_version"] = json!(3);
    refused(
        &judge(&event("briefing.record", read_ahead, 0), &wang, None),
        Verdict::Quarantined,
        "unknown-card",
    );
}

#[test]
fn a_commitment_is_signed_once_a_year_with_its_photo() {
    use crate::kinds::commitment::commitment_id;
    let zhou = manager("zhou", "e1");
    let related = enterprise_e1();
    let sign = |payload: Value, photos: usize, current: Option<&Entity>| {
        crate::judge::judge(
            &event("commitment.sign", payload, photos),
            &zhou,
            current,
            &related,
        )
    };
    let signed = applied(sign(commitment_payload(), 1, None));
    assert_eq!(signed.id, commitment_id("e1", "2026"));
    assert_eq!(signed.body["photos"].as_array().map(Vec::len), Some(1));
    assert_eq!(signed.scope.buckets(), ["enterprise:e1", "grid:g1", "town"]);
    refused(
        &sign(commitment_payload(), 1, Some(&signed)),
        Verdict::Conflict,
        "already-submitted",
    );
    refused(
        &sign(commitment_payload(), 0, None),
        Verdict::Quarantined,
        "photo-required",
    );
    let mut moved = event("commitment.sign", commitment_payload(), 1);
    moved.entity_id = commitment_id("e1", "2025");
    refused(
        &crate::judge::judge(&moved, &zhou, None, &related),
        Verdict::Quarantined,
        "commitment-id-mismatch",
    );
    for (field, bad) in [
        ("year", json!("26")),
        ("year", json!("1999")),
        ("pledges", json!([])),
        ("signed_on", json!("2026-02-30")),
    ] {
        let mut payload = commitment_payload();
        payload[field] = bad;
        refused(
            &sign(payload, 1, None),
            Verdict::Quarantined,
            "payload-invalid",
        );
    }
    // A leap day is a day; the thirtieth of February is not.
    let mut leap = commitment_payload();
    leap["year"] = json!("2028");
    leap["signed_on"] = json!("2028-02-29");
    applied(sign(leap, 1, None));
    refused(
        &crate::judge::judge(
            &event("commitment.sign", commitment_payload(), 1),
            &lead("wang", "e1", "t1"),
            None,
            &related,
        ),
        Verdict::Quarantined,
        "not-permitted",
    );
}

#[test]
fn a_notice_is_about_live_major_risks_and_versioned() {
    let zhou = manager("zhou", "e1");
    let (mut related, general) = graded_e1();
    // The fixture's risk point is 一般 (3×4): no notice names it.
    let publish = |payload: Value, current: Option<&Entity>, related: &Related| {
        crate::judge::judge(
            &event("notice.publish", payload, 0),
            &zhou,
            current,
            related,
        )
    };
    refused(
        &publish(notice_payload(&general.id, 1), None, &related),
        Verdict::Quarantined,
        "not-major-risk",
    );
    let mut major = risk_payload(1);
    major["assessment"] = json!({"method": "ls", "l": 4, "s": 5});
    let major = applied(crate::judge::judge(
        &event("risk.assess", major, 0),
        &zhou,
        Some(&general),
        &related,
    ));
    related.insert(major.id.clone(), major.clone());
    let first = applied(publish(notice_payload(&major.id, 1), None, &related));
    assert_eq!(first.body["public"], true);
    assert_eq!(
        first.scope.buckets(),
        ["directory:e1", "enterprise:e1", "grid:g1", "town"]
    );
    let second = applied(publish(
        notice_payload(&major.id, 2),
        Some(&first),
        &related,
    ));
    assert_eq!(second.body["history"][0]["content"]["version"], 1);
    refused(
        &publish(notice_payload(&major.id, 2), Some(&second), &related),
        Verdict::Conflict,
        "stale-version",
    );
    let withdraw = event("notice.withdraw", json!({"note": "储罐已拆除"}), 0);
    let withdrawn = applied(crate::judge::judge(
        &withdraw,
        &zhou,
        Some(&second),
        &related,
    ));
    assert_eq!(withdrawn.body["withdrawn"], "储罐已拆除");
    refused(
        &publish(notice_payload(&major.id, 3), Some(&withdrawn), &related),
        Verdict::Conflict,
        "notice-withdrawn",
    );
    refused(
        &crate::judge::judge(&withdraw, &zhou, Some(&withdrawn), &related),
        Verdict::Conflict,
        "notice-withdrawn",
    );
    for change in [
        json!({"version": 0}),
        json!({"risk_points": []}),
        json!({"title": ""}),
        json!({"body": "字".repeat(2001)}),
    ] {
        let mut bad = notice_payload(&major.id, 1);
        for (k, v) in change.as_object().unwrap() {
            bad[k] = v.clone();
        }
        refused(
            &publish(bad, None, &related),
            Verdict::Quarantined,
            "payload-invalid",
        );
    }
}

#[test]
fn a_schedule_makes_duties_due_and_refuses_duties_outside_it() {
    use crate::kinds::meeting::Slot;
    use crate::kinds::schedule::{Day, Schedule};
    let zhou = manager("zhou", "e1");
    let office = actor("office", &[Role::Admin], Scopes::default());
    // The event's capture time is 2025-11-28 (China): the manager plans from then on.
    let save = |payload: Value, who: &Actor, current: Option<&Entity>| {
        judge(&event("schedule.save", payload, 0), who, current)
    };
    let first = applied(save(schedule_payload("2026-11-01"), &zhou, None));
    assert_eq!(
        first.scope.buckets(),
        ["directory:e1", "enterprise:e1", "team:e1/t1", "town"]
    );
    // From 2026-11-16 the team adds the handover meeting (交接班会).
    let mut more = schedule_payload("2026-11-16");
    more["slots"] = json!(["pre_shift", "handover"]);
    more["supersedes"] = json!(1);
    let second = applied(save(more.clone(), &zhou, Some(&first)));
    let schedule: Schedule = serde_json::from_value(second.body.clone()).unwrap();
    // 2026-11-02 is a Monday: two shifts, one meeting each, 4 briefings a shift.
    let monday = schedule.due_on("2026-11-02");
    assert_eq!(
        monday.meetings,
        [
            ("早班".to_string(), Slot::PreShift),
            ("夜班".to_string(), Slot::PreShift)
        ]
    );
    assert_eq!(monday.briefings, 8);
    assert_eq!(
        schedule.due_on("2026-11-17").meetings.len(),
        4,
        "the second version"
    );
    assert_eq!(schedule.day("2026-11-08"), Day::Rest, "a Sunday");
    assert_eq!(schedule.day("2026-11-30"), Day::Rest, "a day off");
    assert_eq!(schedule.day("2026-10-31"), Day::Before);
    assert!(schedule.due_on("2026-11-08").meetings.is_empty());
    // Versions only go forward; the manager cannot change a past day, the office can.
    refused(
        &save(more.clone(), &zhou, Some(&second)),
        Verdict::Conflict,
        "stale-version",
    );
    // Two managers changing it at once, each from the version they saw: the second is a
    // conflict even with a later day.
    let mut other = more;
    other["from"] = json!("2026-11-20");
    refused(
        &save(other.clone(), &zhou, Some(&second)),
        Verdict::Conflict,
        "stale-version",
    );
    other["supersedes"] = json!(2);
    applied(save(other, &zhou, Some(&second)));
    refused(
        &save(schedule_payload("2025-11-01"), &zhou, None),
        Verdict::Quarantined,
        "payload-invalid",
    );
    applied(save(schedule_payload("2025-11-01"), &office, None));
    // A schedule that makes nothing due; a team that does not exist.
    let mut idle = schedule_payload("2026-12-01");
    idle["rest_weekdays"] = json!([1, 2, 3, 4, 5, 6, 7]);
    refused(
        &save(idle, &zhou, None),
        Verdict::Quarantined,
        "schedule-empty",
    );
    let mut ghost = schedule_payload("2026-12-01");
    ghost["team_id"] = json!("t9");
    refused(
        &save(ghost, &zhou, None),
        Verdict::Quarantined,
        "unknown-team",
    );
    for change in [
        json!({"shifts": []}),
        json!({"shifts": ["早班", "早班"]}),
        json!({"slots": []}),
        json!({"rest_weekdays": [8]}),
        json!({"crew": 501}),
        json!({"rest_days": ["2026-02-30"]}),
        json!({"self_checks": [{"every": "fortnight", "template": "daily"}]}),
        json!({"self_checks": [{"every": "day", "template": "no spaces"}]}),
    ] {
        let mut bad = schedule_payload("2026-12-01");
        for (k, v) in change.as_object().unwrap() {
            bad[k] = v.clone();
        }
        refused(
            &save(bad, &zhou, None),
            Verdict::Quarantined,
            "payload-invalid",
        );
    }

    // With the schedule among the related records, meetings and briefings follow it.
    let mut related = teams();
    related.insert(second.id.clone(), second.clone());
    let wang = lead("wang", "e1", "t1");
    let meeting = |date: &str, shift: &str, slot: &str| {
        let mut m = meeting_payload("e1", "t1");
        m["date"] = json!(date);
        m["shift"] = json!(shift);
        m["slot"] = json!(slot);
        crate::judge::judge(&event("meeting.submit", m, 1), &wang, None, &related)
    };
    applied(meeting("2026-11-02", "夜班", "pre_shift"));
    refused(
        &meeting("2026-11-08", "早班", "pre_shift"),
        Verdict::Quarantined,
        "not-a-working-day",
    );
    // A day before the schedule: judged as without one (recorded offline before it was set).
    applied(meeting("2026-10-30", "早班", "mid_shift"));
    refused(
        &meeting("2026-11-02", "中班", "pre_shift"),
        Verdict::Quarantined,
        "unknown-shift",
    );
    refused(
        &meeting("2026-11-02", "早班", "handover"),
        Verdict::Quarantined,
        "slot-not-held",
    );
    applied(meeting("2026-11-17", "早班", "handover"));
    let mut briefing = briefing_payload("e1", "t1");
    briefing["date"] = json!("2026-11-29");
    refused(
        &crate::judge::judge(
            &event("briefing.record", briefing.clone(), 0),
            &wang,
            None,
            &related,
        ),
        Verdict::Quarantined,
        "not-a-working-day",
    );
    briefing["date"] = json!("2026-11-27");
    applied(crate::judge::judge(
        &event("briefing.record", briefing, 0),
        &wang,
        None,
        &related,
    ));
}

#[test]
fn a_floor_plan_is_versioned_and_cites_its_image() {
    use crate::kinds::floorplan::floorplan_id;
    let zhou = manager("zhou", "e1");
    let related = enterprise_e1();
    let plan = |version: u32| {
        json!({"enterprise_id": "e1", "version": version, "title": "厂区平面布置图",
               "image": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"})
    };
    let save = |payload: Value, photos: usize, current: Option<&Entity>| {
        crate::judge::judge(
            &event("floorplan.save", payload, photos),
            &zhou,
            current,
            &related,
        )
    };
    let first = applied(save(plan(1), 1, None));
    assert_eq!(first.id, floorplan_id("e1"));
    assert_eq!(
        first.scope.buckets(),
        ["directory:e1", "enterprise:e1", "grid:g1", "town"]
    );
    let second = applied(save(plan(2), 1, Some(&first)));
    assert_eq!(
        second.body["earlier_images"].as_array().map(Vec::len),
        Some(1)
    );
    refused(
        &save(plan(2), 1, Some(&second)),
        Verdict::Conflict,
        "stale-version",
    );
    refused(
        &save(plan(1), 0, None),
        Verdict::Quarantined,
        "photo-required",
    );
    refused(
        &crate::judge::judge(
            &event("floorplan.save", plan(1), 1),
            &lead("wang", "e1", "t1"),
            None,
            &related,
        ),
        Verdict::Quarantined,
        "not-permitted",
    );
}

#[test]
fn one_who_may_not_send_an_event_learns_nothing_from_its_related_records() {
    // A team lead of another enterprise names e1's team, worker and card version: refused as
    // not permitted, not told that version 9 does not exist (nor the team's calendar).
    let outsider = lead("sun", "e2", "t1");
    let mut briefing = briefing_payload("e1", "t1");
    briefing["card_version"] = json!(9);
    refused(
        &judge(&event("briefing.record", briefing, 0), &outsider, None),
        Verdict::Quarantined,
        "not-permitted",
    );
    // Another enterprise's manager names e1's risk point in a card of their own post.
    let (related, point) = graded_e1();
    let mut card = card_payload(&point.id, 1);
    card["enterprise_id"] = json!("e2");
    refused(
        &crate::judge::judge(
            &event("card.publish", card, 0),
            &manager("qian", "e3"),
            None,
            &related,
        ),
        Verdict::Quarantined,
        "not-permitted",
    );
}
