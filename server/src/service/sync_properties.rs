//! Properties of push, against the real service on a real redb store in a temporary directory:
//! replaying any prefix is idempotent; and devices contending for the same hazards, pushing in
//! any interleaving, end as judging every event once in the server's order says. (That a
//! device's rebased local view is the server's judgement is a property of the real client,
//! in the end-to-end tests.)

use std::collections::BTreeMap;
use std::sync::Arc;

use anjian_sync::access::{Grant, Role, Scopes};
use anjian_sync::entity::{Entity, EntityType};
use anjian_sync::event::{Captured, DeviceKey, EventBody, GENESIS_HASH, SignedEvent};
use anjian_sync::judge::{Actor, Verdict, judge_in};
use anjian_sync::kinds::hazard::State;
use anjian_sync::protocol::{PushRequest, Receipt};
use proptest::prelude::*;
use serde_json::json;
use uuid::Uuid;

use super::SyncService;
use crate::service::accounts::Caller;
use crate::service::office::Office;
use crate::store::model::{Device, LoginMethod, SecretHash, Session, UnixMillis, User};
use crate::store::{RedbStore, SyncStore};

/// One thing a person does to one of a few hazards.
#[derive(Clone, Debug)]
enum Op {
    Report {
        hazard: usize,
        major: bool,
    },
    Move {
        hazard: usize,
        from: usize,
        to: usize,
        photo: bool,
    },
}

/// Moves the hazard lifecycle allows, as indexes into [`State::ALL`]: a device offline moves a
/// hazard from the state it last saw, so most moves are valid where they were made, and stale
/// (a conflict) where another device moved the hazard first.
const LIFECYCLE: [(usize, usize); 7] = [(0, 2), (0, 1), (1, 2), (2, 3), (3, 4), (3, 2), (0, 5)];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..4usize, any::<bool>()).prop_map(|(hazard, major)| Op::Report { hazard, major }),
        1 => (0..4usize, 0..State::ALL.len(), 0..State::ALL.len(), any::<bool>()).prop_map(|(hazard, from, to, photo)| {
            Op::Move {
                hazard,
                from,
                to,
                photo,
            }
        }),
        3 => (0..4usize, 0..LIFECYCLE.len(), any::<bool>()).prop_map(|(hazard, step, photo)| {
            let (from, to) = LIFECYCLE[step];
            Op::Move {
                hazard,
                from,
                to,
                photo,
            }
        }),
    ]
}

/// A device of a user: its key, its enrolment, its caller, and the events it signs.
struct Phone {
    key: DeviceKey,
    id: Uuid,
    caller: Caller,
    actor: Actor,
    seq: u64,
    last_hash: String,
}

fn user(name: &str, roles: &[Role], scopes: Scopes) -> User {
    User {
        id: Uuid::now_v7(),
        username: name.into(),
        display_name: name.into(),
        password_hash: None,
        grant: Grant::new(roles.iter().copied(), scopes).unwrap(),
        disabled: false,
        wechat_openid: None,
        created_at: UnixMillis(0),
        updated_at: UnixMillis(0),
        rev: 0,
    }
}

impl Phone {
    fn new(store: &RedbStore, secret: u8, user: User) -> Phone {
        let key = DeviceKey::from_secret([secret; 32]);
        let id = Uuid::now_v7();
        let actor = Actor {
            user_id: user.id.to_string(),
            grant: user.grant.clone(),
        };
        let caller = Caller {
            session: Session {
                user_id: user.id,
                method: LoginMethod::Password,
                created_at: UnixMillis(0),
                expires_at: UnixMillis(i64::MAX),
            },
            token: SecretHash([0; 32]),
            user,
        };
        let phone = Phone {
            key,
            id,
            caller,
            actor,
            seq: 0,
            last_hash: GENESIS_HASH.into(),
        };
        phone.enrol(store);
        phone
    }

    /// Enrols this device (its id and key) in a store.
    fn enrol(&self, store: &RedbStore) {
        store
            .insert_device(&Device {
                id: self.id,
                user_id: self.caller.user.id,
                public_key: self.key.public_hex(),
                name: "phone".into(),
                enrolled_at: UnixMillis(0),
                revoked_at: None,
                last_seq: 0,
                last_hash: GENESIS_HASH.into(),
                last_push_at: None,
            })
            .unwrap();
    }
    fn sign(&mut self, op: &Op, hazards: &[String]) -> SignedEvent {
        let (kind, entity, payload, photos) = match op {
            Op::Report { hazard, major } => (
                "hazard.report",
                &hazards[*hazard],
                json!({"enterprise_id": "e1", "grid_id": "g1", "level": if *major { "major" } else { "general" }, "description": "隐患"}),
                1,
            ),
            Op::Move {
                hazard,
                from,
                to,
                photo,
            } => (
                "hazard.transition",
                &hazards[*hazard],
                json!({"from": State::ALL[*from], "to": State::ALL[*to], "note": "n", "plan": "p",
                       "double_report": {"regulator_at_ms": 1, "congress_at_ms": 2}}),
                usize::from(*photo),
            ),
        };
        self.sign_raw(kind, entity, payload, photos)
    }

    /// Signs the next event of this device: `kind` about `entity`, citing `photos` photos.
    fn sign_raw(
        &mut self,
        kind: &str,
        entity: &str,
        payload: serde_json::Value,
        photos: usize,
    ) -> SignedEvent {
        self.sign_at(kind, entity, payload, photos, 1_764_300_000_000)
    }

    /// [`Phone::sign_raw`], captured at `wall_ms` by the device's clock.
    fn sign_at(
        &mut self,
        kind: &str,
        entity: &str,
        payload: serde_json::Value,
        photos: usize,
        wall_ms: i64,
    ) -> SignedEvent {
        self.sign_pinned(kind, entity, payload, photos, wall_ms, None)
    }

    /// [`Phone::sign_at`], pinning checklist `template_ref` (`code@version`).
    fn sign_pinned(
        &mut self,
        kind: &str,
        entity: &str,
        payload: serde_json::Value,
        photos: usize,
        wall_ms: i64,
        template_ref: Option<&str>,
    ) -> SignedEvent {
        self.seq += 1;
        let body = EventBody {
            v: 1,
            device_id: self.id.to_string(),
            seq: self.seq,
            id: Uuid::now_v7().to_string(),
            prev_hash: self.last_hash.clone(),
            kind: kind.into(),
            entity_id: entity.to_string(),
            payload,
            blob_refs: vec!["ab".repeat(32); photos],
            template_ref: template_ref.map(str::to_string),
            base_rev: None,
            captured: Captured {
                wall_ms,
                tz_offset_min: 480,
            },
        };
        let event = self.key.sign(body).unwrap();
        self.last_hash = event.hash.clone();
        event
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn push(
    rt: &tokio::runtime::Runtime,
    service: &SyncService,
    phone: &Phone,
    events: &[SignedEvent],
) -> Vec<Receipt> {
    let request = PushRequest {
        device_id: phone.id.to_string(),
        device_clock_ms: 1_764_300_000_000,
        events: events.to_vec(),
    };
    let response = rt.block_on(service.push(&phone.caller, request)).unwrap();
    assert!(response.refused.is_none(), "{response:?}");
    response.receipts
}

/// Every projection in the store, by id: (entity, revision).
fn snapshot(store: &RedbStore) -> BTreeMap<String, (Entity, u64)> {
    let page = store
        .pull(&["town".to_string()], 0, 100_000, usize::MAX)
        .unwrap();
    page.projections
        .iter()
        .map(|p| p.decode().unwrap())
        .map(|p| (p.entity.id.clone(), (p.entity, p.rev)))
        .collect()
}

fn setup() -> (tempfile::TempDir, Arc<RedbStore>, SyncService) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RedbStore::open(&dir.path().join("p.redb")).unwrap());
    let office = super::OfficeDevice::new(DeviceKey::from_secret([99; 32])).unwrap();
    let service = SyncService::new(store.clone() as Arc<dyn SyncStore>, office);
    (dir, store, service)
}

fn inspector() -> User {
    user(
        "inspector",
        &[Role::Inspector],
        Scopes {
            grids: vec!["g1".into()],
            ..Scopes::default()
        },
    )
}

fn manager() -> User {
    user(
        "manager",
        &[Role::EnterpriseManager],
        Scopes {
            enterprise: Some("e1".into()),
            ..Scopes::default()
        },
    )
}

/// The state the shared rules make of events judged one after another: hazards by id.
#[derive(Default)]
struct Model(BTreeMap<String, Entity>);

impl anjian_sync::judge::Entities for Model {
    type Error = std::convert::Infallible;

    fn entity(&mut self, id: &str) -> Result<Option<Entity>, Self::Error> {
        Ok(self.0.get(id).cloned())
    }
}

#[test]
fn the_contention_property_contends() {
    // The property below says something only if its devices do share hazards: its strategy,
    // run here, gives logs of three devices over four hazards that share one in most cases.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = proptest::collection::vec(proptest::collection::vec(op(), 1..10), 3);
    let mut shared = 0;
    for _ in 0..100 {
        let logs = proptest::strategy::ValueTree::current(&strategy.new_tree(&mut runner).unwrap());
        let touched: Vec<std::collections::BTreeSet<usize>> = logs
            .iter()
            .map(|ops| {
                ops.iter()
                    .map(|op| match op {
                        Op::Report { hazard, .. } | Op::Move { hazard, .. } => *hazard,
                    })
                    .collect()
            })
            .collect();
        if (0..4).any(|h| touched.iter().filter(|t| t.contains(&h)).count() > 1) {
            shared += 1;
        }
    }
    assert!(shared > 80, "only {shared} of 100 cases share a hazard");
}

#[test]
fn a_store_without_the_offices_facts_gets_them_at_open() {
    // A store written before the facts were kept: its facts and counters are made when it is
    // opened, the same as those kept change by change.
    let rt = runtime();
    let (dir, store, service) = setup();
    let mut phone = Phone::new(&store, 1, inspector());
    let hazards = hazard_ids();
    let ops = [
        Op::Report {
            hazard: 0,
            major: true,
        },
        Op::Report {
            hazard: 1,
            major: false,
        },
        Op::Move {
            hazard: 1,
            from: 0,
            to: 2,
            photo: false,
        },
        Op::Move {
            hazard: 1,
            from: 2,
            to: 3,
            photo: true,
        },
        Op::Report {
            hazard: 2,
            major: false,
        },
    ];
    let events: Vec<SignedEvent> = ops.iter().map(|op| phone.sign(op, &hazards)).collect();
    push(&rt, &service, &phone, &events);
    let kept = kept_counts(&store);
    let facts = store.facts(EntityType::Hazard).unwrap();
    assert_eq!(facts.len(), 3);
    assert_eq!(kept.get("hazards_open|-|g1"), Some(&3), "{kept:?}");
    assert_eq!(kept.get("major_open|-|g1"), Some(&1), "{kept:?}");
    drop((service, phone));
    let store = Arc::into_inner(store).unwrap();
    store.forget_facts().unwrap();
    store.close().unwrap();

    let reopened = RedbStore::open(&dir.path().join("p.redb")).unwrap();
    assert_eq!(kept_counts(&reopened), kept);
    assert_eq!(reopened.facts(EntityType::Hazard).unwrap(), facts);
    let tables = reopened.table_names().unwrap();
    for old in crate::store::tables::OLD_OFFICE_TABLES {
        assert!(
            !tables.iter().any(|t| t == old),
            "{old} is dropped: {tables:?}"
        );
    }
}

#[test]
fn facts_made_again_keep_what_an_earlier_versions_remembered() {
    // The version before, and those before that (a store that skipped versions).
    for version in [2, 1, 0] {
        facts_made_again_from(version);
    }
}

fn facts_made_again_from(version: u8) {
    let rt = runtime();
    let (dir, store, service) = setup();
    let mut phone = Phone::new(&store, 1, inspector());
    let hazards = hazard_ids();
    let ops = [
        Op::Report {
            hazard: 0,
            major: false,
        },
        Op::Report {
            hazard: 1,
            major: false,
        },
    ];
    let events: Vec<SignedEvent> = ops.iter().map(|op| phone.sign(op, &hazards)).collect();
    push(&rt, &service, &phone, &events);
    drop((service, phone));
    let store = Arc::into_inner(store).unwrap();
    // The earlier version saw these hazards reported in January 2020; their projections say
    // only when they last changed.
    store
        .age_facts(version, |fact| fact.day = "2020-01-15".into())
        .unwrap();
    store.close().unwrap();

    let reopened = RedbStore::open(&dir.path().join("p.redb")).unwrap();
    let facts = reopened.facts(EntityType::Hazard).unwrap();
    assert_eq!(facts.len(), 2);
    assert!(
        facts.iter().all(|(_, f)| f.day == "2020-01-15"),
        "{facts:?}"
    );
    assert_eq!(
        kept_counts(&reopened).get("hazards_found|2020-01|g1"),
        Some(&2)
    );
    let tables = reopened.table_names().unwrap();
    for old in crate::store::tables::OLD_OFFICE_TABLES {
        assert!(!tables.iter().any(|t| t == old), "{old}: {tables:?}");
    }
}

#[test]
fn an_enterprises_colour_made_again_at_open_follows_its_risk_points() {
    // Facts made at open take risk points before enterprises' colours are final: the same
    // colour as kept change by change.
    let rt = runtime();
    let (dir, store, service) = setup();
    let enterprise = Uuid::now_v7().to_string();
    let mut office = Phone::new(&store, 2, user("office", &[Role::Admin], Scopes::default()));
    let registered = office.sign_raw(
        "enterprise.save",
        &enterprise,
        json!({"name": "海晟冷链", "credit_code": "91350982MA2YQ1234X", "industry": "冷库",
               "scale": "below", "grid_id": "g1", "address": "沙埕村1号", "risk_colour": "blue"}),
        0,
    );
    push(&rt, &service, &office, &[registered]);
    let mut manager = Phone::new(
        &store,
        3,
        user(
            "manager",
            &[Role::EnterpriseManager],
            Scopes {
                enterprise: Some(enterprise.clone()),
                ..Scopes::default()
            },
        ),
    );
    let graded = manager.sign_raw(
        "risk.assess",
        &Uuid::now_v7().to_string(),
        json!({"enterprise_id": enterprise, "name": "液氨储罐", "place": "机房",
               "accident_types": ["poisoning_asphyxiation"], "hazards": "液氨泄漏",
               "assessment": {"method": "ls", "l": 4, "s": 5},
               "measures": [{"text": "氨泄漏报警联锁", "owner": "company"}], "supersedes": 0}),
        0,
    );
    let receipts = push(&rt, &service, &manager, &[graded]);
    assert_eq!(receipts[0].verdict, Verdict::Applied, "{receipts:?}");
    let colour = |store: &RedbStore| {
        store
            .facts(EntityType::Enterprise)
            .unwrap()
            .into_iter()
            .find(|(id, _)| *id == enterprise)
            .map(|(_, f)| f.state)
    };
    assert_eq!(colour(&store).as_deref(), Some("red"));
    let kept = kept_counts(&store);
    assert_eq!(kept.get("risk_points:red|-|g1"), Some(&1), "{kept:?}");
    drop((service, office, manager));
    let store = Arc::into_inner(store).unwrap();
    store.forget_facts().unwrap();
    store.close().unwrap();

    let reopened = RedbStore::open(&dir.path().join("p.redb")).unwrap();
    assert_eq!(colour(&reopened).as_deref(), Some("red"));
    assert_eq!(kept_counts(&reopened), kept);
}

/// Pushes `events` of `phone` with the device's clock agreeing with the server's: their capture
/// times are believed as claimed.
fn push_now(
    rt: &tokio::runtime::Runtime,
    service: &SyncService,
    phone: &Phone,
    events: &[SignedEvent],
) -> Vec<Receipt> {
    let request = PushRequest {
        device_id: phone.id.to_string(),
        device_clock_ms: UnixMillis::now().0,
        events: events.to_vec(),
    };
    let response = rt.block_on(service.push(&phone.caller, request)).unwrap();
    assert!(response.refused.is_none(), "{response:?}");
    response.receipts
}

/// 08:00 in China on `day` (`YYYY-MM-DD`), ms.
fn morning(day: &str) -> i64 {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(day, &format).unwrap();
    date.midnight().assume_utc().unix_timestamp() * 1000
}

#[test]
fn compliance_over_a_month_is_what_a_count_by_hand_gives() {
    use anjian_sync::kinds::briefing::briefing_id;
    use anjian_sync::kinds::meeting::{Slot, meeting_id};
    use anjian_sync::kinds::schedule::schedule_id;
    let rt = runtime();
    let (_dir, store, service) = setup();
    let e = Uuid::now_v7().to_string();
    let mut office = Phone::new(&store, 4, user("office", &[Role::Admin], Scopes::default()));
    let workers = [Uuid::now_v7().to_string(), Uuid::now_v7().to_string()];
    let mut set_up = vec![
        office.sign_raw(
            "enterprise.save",
            &e,
            json!({"name": "海晟紫菜", "credit_code": "91350982MA2YQ1234X", "industry": "紫菜加工",
                   "scale": "below", "grid_id": "g1", "address": "沙埕村1号"}),
            0,
        ),
        office.sign_raw(
            "team.save",
            &anjian_sync::kinds::team::team_id(&e, "t1"),
            json!({"enterprise_id": e, "code": "t1", "name": "烘干一班", "slots": ["pre_shift", "mid_shift", "handover"]}),
            0,
        ),
    ];
    for (worker, name) in workers.iter().zip(["陈阿妹", "林国强"]) {
        set_up.push(office.sign_raw(
            "worker.save",
            worker,
            json!({"enterprise_id": e, "team_id": "t1", "name": name, "post": "烘干工"}),
            0,
        ));
    }
    // October 2026: the 1st (National Day) off, Sundays off, one shift, the pre-shift meeting,
    // two workers briefed; from the 16th the handover meeting too.
    let schedule = schedule_id(&e, "t1");
    let version = |from: &str, slots: Vec<&str>, supersedes: u32| {
        json!({"enterprise_id": e, "team_id": "t1", "from": from, "shifts": ["早班"],
               "slots": slots, "rest_weekdays": [7], "rest_days": ["2026-10-01"], "crew": 2,
               "self_checks": [{"every": "week", "template": "weekly"}, {"every": "month", "template": "monthly"}],
               "supersedes": supersedes})
    };
    set_up.push(office.sign_raw(
        "schedule.save",
        &schedule,
        version("2026-10-01", vec!["pre_shift"], 0),
        0,
    ));
    for code in ["weekly", "monthly"] {
        set_up.push(office.sign_raw(
            "template.publish",
            &anjian_sync::kinds::inspection::template_id(code, 1),
            json!({"code": code, "version": 1, "title": "自查表",
                   "sections": [{"title": "消防", "items": [{"code": "XF-01", "text": "灭火器在有效期内"}]}]}),
            0,
        ));
    }
    set_up.push(office.sign_raw(
        "schedule.save",
        &schedule,
        version("2026-10-16", vec!["pre_shift", "handover"], 1),
        0,
    ));
    let receipts = push_now(&rt, &service, &office, &set_up);
    assert!(
        receipts.iter().all(|r| r.verdict == Verdict::Applied),
        "{receipts:?}"
    );

    let mut lead = Phone::new(
        &store,
        5,
        user(
            "lead",
            &[Role::TeamLead],
            Scopes {
                enterprise: Some(e.clone()),
                team: Some("t1".into()),
                ..Scopes::default()
            },
        ),
    );
    let meeting = |lead: &mut Phone, day: &str, slot: Slot, minutes: i64, captured: &str| {
        let start = morning(day);
        let payload = json!({"enterprise_id": e, "team_id": "t1", "date": day, "shift": "早班",
            "slot": slot, "host": "陈阿妹", "started_at_ms": start, "ended_at_ms": start + minutes * 60_000,
            "place": "烘干车间", "attendance": [{"name": "陈阿妹", "status": "present", "fit_for_duty": true, "ppe_ok": true}],
            "topics": ["烘干炉温度控制"]});
        lead.sign_at(
            "meeting.submit",
            &meeting_id(&e, "t1", day, "早班", slot),
            payload,
            1,
            morning(captured) + 600_000,
        )
    };
    let briefing = |lead: &mut Phone, day: &str, worker: &str, captured: &str| {
        let payload = json!({"enterprise_id": e, "team_id": "t1", "date": day, "shift": "早班",
            "worker_id": worker, "worker_name": "工人", "post": "烘干工", "points": ["烘干炉高温"],
            "duration_s": 70, "started_at_ms": morning(day)});
        lead.sign_at(
            "briefing.record",
            &briefing_id(&e, "t1", day, "早班", worker),
            payload,
            0,
            morning(captured) + 600_000,
        )
    };
    let self_check = |lead: &mut Phone, template: &str, day: &str, team: Option<&str>| {
        let mut payload = json!({"enterprise_id": e, "kind": "self_check", "template": template,
            "template_version": 1, "inspectors": [{"name": "陈阿妹"}], "started_at_ms": morning(day),
            "ended_at_ms": morning(day) + 1_800_000, "results": [{"item": "XF-01", "verdict": "ok"}],
            "summary": "未发现隐患", "signature": "ab".repeat(32)});
        if let Some(team) = team {
            payload["team_id"] = json!(team);
        }
        let pinned = format!("{template}@1");
        lead.sign_pinned(
            "inspection.submit",
            &Uuid::now_v7().to_string(),
            payload,
            1,
            morning(day),
            Some(&pinned),
        )
    };
    let events = vec![
        meeting(&mut lead, "2026-10-02", Slot::PreShift, 3, "2026-10-02"), // on time, short
        meeting(&mut lead, "2026-10-03", Slot::PreShift, 6, "2026-10-03"), // on time
        meeting(&mut lead, "2026-10-05", Slot::PreShift, 6, "2026-10-07"), // late (补录)
        meeting(&mut lead, "2026-10-16", Slot::PreShift, 6, "2026-10-16"), // on time
        meeting(&mut lead, "2026-10-16", Slot::Handover, 6, "2026-10-16"), // on time, new slot
        meeting(&mut lead, "2026-10-04", Slot::PreShift, 6, "2026-10-04"), // a Sunday: refused
        meeting(&mut lead, "2026-10-01", Slot::PreShift, 6, "2026-10-01"), // a day off: refused
        meeting(&mut lead, "2026-10-06", Slot::Handover, 6, "2026-10-06"), // not held before the 16th
        briefing(&mut lead, "2026-10-02", &workers[0], "2026-10-02"),
        briefing(&mut lead, "2026-10-02", &workers[1], "2026-10-02"),
        briefing(&mut lead, "2026-10-05", &workers[0], "2026-10-07"), // late
        // Weekly self-checks in the weeks of 5 and 19 October; the month's on the 20th.
        self_check(&mut lead, "weekly", "2026-10-07", Some("t1")),
        self_check(&mut lead, "weekly", "2026-10-19", Some("t1")),
        self_check(&mut lead, "monthly", "2026-10-20", None),
    ];
    let receipts = push_now(&rt, &service, &lead, &events);
    let verdicts: Vec<_> = receipts
        .iter()
        .map(|r| (r.verdict, r.reason.as_ref().map(|x| x.code.clone())))
        .collect();
    assert_eq!(
        verdicts[5],
        (Verdict::Quarantined, Some("not-a-working-day".to_string()))
    );
    assert_eq!(
        verdicts[6],
        (Verdict::Quarantined, Some("not-a-working-day".to_string()))
    );
    assert_eq!(
        verdicts[7],
        (Verdict::Quarantined, Some("slot-not-held".to_string()))
    );
    assert_eq!(
        receipts
            .iter()
            .filter(|r| r.verdict == Verdict::Applied)
            .count(),
        10,
        "the team lead's enterprise-wide self-check is the manager's: {verdicts:?}"
    );
    assert_eq!(
        verdicts[13],
        (Verdict::Quarantined, Some("not-permitted".to_string()))
    );
    // The safety manager's month's self-check (企业月检), the enterprise's.
    let mut manager = Phone::new(
        &store,
        6,
        user(
            "manager",
            &[Role::EnterpriseManager],
            Scopes {
                enterprise: Some(e.clone()),
                ..Scopes::default()
            },
        ),
    );
    let monthly = self_check(&mut manager, "monthly", "2026-10-21", None);
    let receipts = push_now(&rt, &service, &manager, &[monthly]);
    assert_eq!(receipts[0].verdict, Verdict::Applied, "{receipts:?}");

    // By hand: October has 31 days; off are the 1st and the Sundays 4, 11, 18, 25. Working days
    // 2–15: 2 3 5 6 7 8 9 10 12 13 14 15 = 12, one meeting each; 16–31: 16 17 19 20 21 22 23 24
    // 26 27 28 29 30 31 = 14, two each. Due 12 + 28 = 40; held on time 4 (2nd, 3rd, 16th × 2),
    // late 1 (5th), missed 35; short 1 (2nd). Briefings: 26 working days × 2 = 52 due; done 3,
    // late 1. Self-checks: the weeks with a working day that have ended by 31 October, from 28
    // Sept (the 2nd of October works) to 19 Oct = 4 weekly (the week of 26 Oct runs into
    // November: not yet due), 2 done; 1 monthly, done by the manager for the enterprise: 5 due,
    // 3 done.
    let found = rt
        .block_on(Office::compliance(
            &service,
            &office.caller,
            crate::service::compliance::period("2026-10-01", "2026-10-31").unwrap(),
            None,
            None,
        ))
        .unwrap();
    let expected = crate::service::compliance::Tally {
        due: 40,
        on_time: 4,
        late: 1,
        missed: 35,
        short: 1,
        briefings_due: 52,
        briefings_done: 3,
        briefings_late: 1,
        self_checks_due: 5,
        self_checks_done: 3,
    };
    assert_eq!(found.town, expected);
    assert_eq!(found.teams.len(), 1);
    assert_eq!(found.enterprises[&e], expected);
    assert_eq!(found.grids["g1"], expected);
    assert_eq!(found.missed.len(), 35);
    let first = &found.missed[0];
    assert_eq!(
        (first.day.as_str(), first.slot.as_str()),
        ("2026-10-06", "pre_shift")
    );
    assert!(
        found
            .missed
            .iter()
            .any(|m| m.day == "2026-10-17" && m.slot == "handover")
    );
    assert!(!found.missed.iter().any(|m| m.day == "2026-10-16"));
    assert!(
        !found.missed.iter().any(|m| m.day == "2026-10-11"),
        "a Sunday is not missed"
    );
    // Another grid's office sees none of it.
    let other = rt
        .block_on(Office::compliance(
            &service,
            &office.caller,
            crate::service::compliance::period("2026-10-01", "2026-10-31").unwrap(),
            Some("g2"),
            None,
        ))
        .unwrap();
    assert_eq!(other.town, crate::service::compliance::Tally::default());
}

fn hazard_ids() -> Vec<String> {
    (0..4).map(|_| Uuid::now_v7().to_string()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn replaying_any_prefix_is_idempotent(ops in proptest::collection::vec(op(), 1..24), cut in any::<prop::sample::Index>()) {
        let rt = runtime();
        let (_dir, store, service) = setup();
        let mut phone = Phone::new(&store, 1, inspector());
        let hazards = hazard_ids();
        let events: Vec<SignedEvent> = ops.iter().map(|op| phone.sign(op, &hazards)).collect();
        let receipts = push(&rt, &service, &phone, &events);
        prop_assert_eq!(receipts.len(), events.len());
        let before = snapshot(&store);
        let k = cut.index(events.len()) + 1;
        let again = push(&rt, &service, &phone, &events[..k]);
        prop_assert_eq!(&again[..], &receipts[..k]);
        prop_assert_eq!(snapshot(&store), before);
    }

    #[test]
    fn devices_contending_for_the_same_hazards_end_as_the_servers_order_says(
        ops in proptest::collection::vec(proptest::collection::vec(op(), 1..10), 3),
        order in proptest::collection::vec((0..3usize, 1..4usize), 1..40),
    ) {
        // Three devices (two inspectors and a manager) move the same four hazards, and push in a
        // random interleaving of random chunks. Whatever the interleaving, the server's state
        // and verdicts are those of judging every event once, in the order the server took
        // them, with the shared rules: nothing is lost, doubled, or decided twice.
        let rt = runtime();
        let (_dir, store, service) = setup();
        let hazards = hazard_ids();
        let mut phones: Vec<(Phone, Vec<SignedEvent>)> = ops.iter().enumerate().map(|(i, ops)| {
            let mut phone = Phone::new(&store, i as u8 + 1, if i == 1 { manager() } else { inspector() });
            let events = ops.iter().map(|op| phone.sign(op, &hazards)).collect();
            (phone, events)
        }).collect();
        let mut model = Model::default();
        let mut taken = Vec::new();
        let mut sent = [0usize; 3];
        for (device, chunk) in order.iter().copied().chain((0..3).map(|d| (d, usize::MAX))) {
            let (phone, events) = &mut phones[device];
            let end = sent[device].saturating_add(chunk).min(events.len());
            if end > sent[device] {
                let batch = &events[sent[device]..end];
                let receipts = push(&rt, &service, phone, batch);
                prop_assert_eq!(receipts.len(), batch.len());
                for (event, receipt) in batch.iter().zip(receipts) {
                    let judgement = judge_in(&event.body, &phone.actor, &mut model).unwrap();
                    prop_assert_eq!(receipt.verdict, judgement.verdict, "{:?}", event.body);
                    if let (Verdict::Applied, Some(entity)) = (judgement.verdict, judgement.entity) {
                        model.0.insert(entity.id.clone(), entity);
                    }
                    taken.push(receipt);
                }
                sent[device] = end;
            }
        }
        // The revisions of the applied events rise in the order they were taken.
        let revs: Vec<u64> = taken.iter().filter_map(|r| r.rev).collect();
        prop_assert!(revs.windows(2).all(|w| w[0] < w[1]), "{:?}", revs);
        let server: BTreeMap<String, Entity> = snapshot(&store).into_iter()
            .filter(|(_, (e, _))| e.entity_type == EntityType::Hazard)
            .map(|(id, (e, _))| (id, e))
            .collect();
        prop_assert_eq!(&server, &model.0);
        prop_assert_eq!(kept_counts(&store), recounted(&store));
    }
}

/// The office's counters as the store kept them, change by change.
fn kept_counts(store: &RedbStore) -> BTreeMap<String, u64> {
    store.counts("").unwrap().into_iter().collect()
}

/// The office's counters recounted from the facts the store holds now.
fn recounted(store: &RedbStore) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for entity_type in crate::store::facts::TYPES {
        for (_, fact) in store.facts(entity_type).unwrap() {
            for key in crate::store::facts::counts(entity_type, &fact) {
                *counts.entry(key).or_insert(0) += 1;
            }
        }
    }
    counts
}
