//! Properties of the real client against the real server: a device's local view, rebased after a
//! pull, is what the server makes of its unsent events.

use anjian_sync::kinds::hazard::State;
use anjian_tests::{TestDevice, TestServer, USER_PASSWORD};
use proptest::prelude::*;
use serde_json::json;

/// One thing a person does to one of a few hazards: report it, or move it from one state to
/// another (with an after-photo or not).
#[derive(Clone, Debug)]
enum Op {
    Report(usize),
    Move(usize, usize, usize, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize).prop_map(Op::Report),
        (
            0..3usize,
            0..State::ALL.len(),
            0..State::ALL.len(),
            any::<bool>()
        )
            .prop_map(|(h, from, to, photo)| Op::Move(h, from, to, photo)),
    ]
}

fn capture(device: &TestDevice, op: &Op, hazards: &[String], enterprise: &str) {
    let (kind, id, payload, photos) = match op {
        Op::Report(h) => (
            "hazard.report",
            &hazards[*h],
            // The device says grid g1; the enterprise is registered in g2, which the judgement
            // reads from the related enterprise, on either end.
            json!({"enterprise_id": enterprise, "grid_id": "g1", "level": "general",
                "description": "隐患", "deadline": "2026-12-31"}),
            1,
        ),
        Op::Move(h, from, to, photo) => (
            "hazard.transition",
            &hazards[*h],
            json!({"from": State::ALL[*from], "to": State::ALL[*to], "note": "n"}),
            usize::from(*photo),
        ),
    };
    let photos = vec![anjian_tests::devices::PHOTO.to_string(); photos];
    device.capture(kind, id, payload, photos).unwrap();
}

async fn rebase_case(theirs: Vec<Op>, mine: Vec<Op>) -> Result<(), TestCaseError> {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server.add_grid(&admin, "g1", "一网格").await;
    server.add_grid(&admin, "g2", "二网格").await;
    let enterprise = json!({"name": "海晟紫菜加工厂", "credit_code": "914403001922038216",
        "industry": "紫菜加工", "scale": "below", "grid_id": "g2", "address": "沙埕镇1号",
        "contacts": [], "risk_colour": "blue", "flags": {}});
    let enterprise = server
        .post("/v1/admin/enterprises", Some(&admin), enterprise)
        .await;
    let enterprise = enterprise.ok(201)["id"].as_str().unwrap().to_string();
    for (username, roles, scopes) in [
        ("lili", json!(["inspector"]), json!({"grids": ["g1", "g2"]})),
        (
            "zhou",
            json!(["enterprise_manager"]),
            json!({"enterprise": enterprise}),
        ),
    ] {
        let user = json!({"username": username, "password": USER_PASSWORD, "roles": roles,
            "scopes": scopes});
        server.create_user(&admin, user).await;
    }
    let me = TestDevice::enrolled(&server, "lili", USER_PASSWORD).await;
    let other = TestDevice::enrolled(&server, "zhou", USER_PASSWORD).await;
    me.sync().await.unwrap();
    other.sync().await.unwrap();
    let hazards: Vec<String> = (0..3)
        .map(|_| anjian_sync::client::Device::new_entity_id())
        .collect();

    // I capture offline; meanwhile the other device's work reaches the server first.
    for op in &mine {
        capture(&me, op, &hazards, &enterprise);
    }
    for op in &theirs {
        capture(&other, op, &hazards, &enterprise);
    }
    other.sync().await.unwrap();
    // I pull: the client rebases my unsent events on the server's state.
    me.pull().await.unwrap();
    let rebased: Vec<_> = hazards.iter().map(|h| me.entity(h).unwrap()).collect();
    // Then I push: the server makes of my events exactly what my local view showed.
    me.push().await.unwrap();
    me.pull().await.unwrap();
    prop_assert!(me.outbox().unwrap().is_empty());
    for (id, local) in hazards.iter().zip(&rebased) {
        let server_view = me.server_entity(id).unwrap().map(|p| p.entity);
        prop_assert_eq!(&server_view, local, "hazard {}", id);
        if let Some(entity) = local {
            prop_assert_eq!(
                entity.scope.grid.as_deref(),
                Some("g2"),
                "the related enterprise was read"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn a_rebased_local_view_is_what_the_server_makes_of_it(
        theirs in proptest::collection::vec(op(), 0..8),
        mine in proptest::collection::vec(op(), 1..8),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(rebase_case(theirs, mine))?;
    }
}
