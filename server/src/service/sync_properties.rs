//! Properties of push, against the real service on a real redb store in a temporary directory:
//! replaying any prefix is idempotent; any interleaving of several devices' pushes gives the same
//! state; and a device's rebased local view is the server's judgement of its events.

use std::collections::BTreeMap;
use std::sync::Arc;

use anjian_sync::access::{Grant, Role, Scopes};
use anjian_sync::entity::{Entity, EntityType};
use anjian_sync::event::{Captured, DeviceKey, EventBody, GENESIS_HASH, SignedEvent};
use anjian_sync::judge::{Actor, Verdict, judge};
use anjian_sync::protocol::{PushRequest, Receipt};
use proptest::prelude::*;
use serde_json::json;
use uuid::Uuid;

use super::SyncService;
use crate::service::accounts::Caller;
use crate::store::model::{Device, LoginMethod, SecretHash, Session, UnixMillis, User};
use crate::store::{RedbStore, SyncStore};

const STATES: [&str; 6] = [
    "reported",
    "plan_pending",
    "rectifying",
    "pending_acceptance",
    "closed",
    "void",
];

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

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4usize, any::<bool>()).prop_map(|(hazard, major)| Op::Report { hazard, major }),
        (0..4usize, 0..6usize, 0..6usize, any::<bool>()).prop_map(|(hazard, from, to, photo)| {
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
                json!({"from": STATES[*from], "to": STATES[*to], "note": "n", "plan": "p",
                       "double_report": {"regulator_at_ms": 1, "congress_at_ms": 2}}),
                usize::from(*photo),
            ),
        };
        self.seq += 1;
        let body = EventBody {
            v: 1,
            device_id: self.id.to_string(),
            seq: self.seq,
            id: Uuid::now_v7().to_string(),
            prev_hash: self.last_hash.clone(),
            kind: kind.into(),
            entity_id: entity.clone(),
            payload,
            blob_refs: vec!["ab".repeat(32); photos],
            template_ref: None,
            base_rev: None,
            captured: Captured {
                wall_ms: 1_764_300_000_000,
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
    let page = store.pull(&["town".to_string()], 0, 100_000).unwrap();
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
    fn any_interleaving_of_devices_gives_the_same_state(
        ops in proptest::collection::vec(proptest::collection::vec(op(), 1..10), 3),
        order in proptest::collection::vec((0..3usize, 1..4usize), 1..40),
    ) {
        let rt = runtime();
        // The same three logs (each device on its own hazards), pushed one device after another
        // and in a random interleaving of random chunks.
        let logs = |store: &RedbStore| -> Vec<(Phone, Vec<SignedEvent>)> {
            ops.iter().enumerate().map(|(i, ops)| {
                let mut phone = Phone::new(store, i as u8 + 1, if i == 1 { manager() } else { inspector() });
                let hazards: Vec<String> = (0..4).map(|h| format!("00000000-0000-7000-8000-0000000{i}{h:04}")).collect();
                let events = ops.iter().map(|op| phone.sign(op, &hazards)).collect();
                (phone, events)
            }).collect()
        };
        let entities = |snapshot: BTreeMap<String, (Entity, u64)>| -> BTreeMap<String, serde_json::Value> {
            snapshot.into_iter()
                .filter(|(_, (e, _))| e.entity_type == EntityType::Hazard)
                .map(|(id, (mut e, _))| {
                    // Step ids are event ids: fixed per log, so equal across runs of it.
                    e.scope.users.sort();
                    (id, serde_json::to_value(e).unwrap())
                })
                .collect()
        };

        let (_d1, store1, service1) = setup();
        let sequential = logs(&store1);
        let mut total = 0;
        for (phone, events) in &sequential {
            total += push(&rt, &service1, phone, events).len();
        }
        prop_assert_eq!(total, sequential.iter().map(|(_, e)| e.len()).sum::<usize>());

        // The same signed events, on a fresh store where the same devices are enrolled.
        let (_d2, store2, service2) = setup();
        for (phone, _) in &sequential {
            phone.enrol(&store2);
        }
        let mut sent = [0usize; 3];
        for (device, chunk) in order.iter().copied().chain((0..3).map(|d| (d, usize::MAX))) {
            let (phone, events) = &sequential[device];
            let end = sent[device].saturating_add(chunk).min(events.len());
            if end > sent[device] {
                push(&rt, &service2, phone, &events[sent[device]..end]);
                sent[device] = end;
            }
        }
        prop_assert_eq!(entities(snapshot(&store2)), entities(snapshot(&store1)));
    }

    #[test]
    fn a_rebased_local_view_is_the_servers_judgement(
        theirs in proptest::collection::vec(op(), 0..12),
        mine in proptest::collection::vec(op(), 1..12),
    ) {
        let rt = runtime();
        let (_dir, store, service) = setup();
        let hazards = hazard_ids();
        let mut me = Phone::new(&store, 1, inspector());
        let mut other = Phone::new(&store, 2, manager());
        // I capture offline; meanwhile the other device's events reach the server first.
        let my_events: Vec<SignedEvent> = mine.iter().map(|op| me.sign(op, &hazards)).collect();
        let their_events: Vec<SignedEvent> = theirs.iter().map(|op| other.sign(op, &hazards)).collect();
        if !their_events.is_empty() {
            push(&rt, &service, &other, &their_events);
        }
        // I pull and rebase: the server's state, with my pending events judged on top.
        let mut local: BTreeMap<String, Entity> = snapshot(&store).into_iter()
            .filter(|(_, (e, _))| e.entity_type != EntityType::SyncIssue)
            .map(|(id, (e, _))| (id, e)).collect();
        let mut local_verdicts = Vec::new();
        for event in &my_events {
            let related = anjian_sync::judge::Related::new();
            let judgement = judge(&event.body, &me.actor, local.get(&event.body.entity_id), &related);
            local_verdicts.push(judgement.verdict);
            if let (Verdict::Applied, Some(entity)) = (judgement.verdict, judgement.entity) {
                local.insert(entity.id.clone(), entity);
            }
        }
        // Then I push: wherever the server applied my events, it agrees with my local view.
        let receipts = push(&rt, &service, &me, &my_events);
        let server = snapshot(&store);
        let verdicts: Vec<Verdict> = receipts.iter().map(|r| r.verdict).collect();
        prop_assert_eq!(verdicts, local_verdicts, "the device predicted every verdict");
        for (event, receipt) in my_events.iter().zip(&receipts) {
            if receipt.verdict == Verdict::Applied {
                let id = &event.body.entity_id;
                prop_assert_eq!(Some(&server[id].0), local.get(id));
            }
        }
    }
}
