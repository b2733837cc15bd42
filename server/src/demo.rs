//! The demo town (演示乡镇): what `anjian-server demo` puts in an empty store so that people can
//! try Anjian at once.
//!
//! The town is 海安市老坝港滨海新区（角斜镇）, whose 2020 work-safety plan Anjian follows; its villages
//! (grids), enterprises and people are invented (`server/demo/town.json` and
//! `server/demo/enterprises.csv` say so). Everything goes through the same services the API uses:
//! six villages as grids; the town's enterprise list loaded by the CSV import (small seaweed
//! processors (规模以下紫菜加工), fishing-net makers, magnetic-materials and food factories, two
//! cold stores refrigerated with ammonia, fisheries, an LPG station); and, from `town.json`, each
//! enterprise at work by its industry (the `town` module): its teams and calendars, graded risk points on
//! its floor plan, its posts' cards, the year's commitment, and three weeks of shift meetings,
//! briefings and self-checks recorded by its safety manager's phone — mostly kept, some missed,
//! late or short — so that compliance (履职情况) has figures.
//!
//! One seaweed plant (海晟) is where the demo's people work: one user of each role, a few open
//! hazards (隐患) reported by the town's inspector with a photo each, one of them rectified and
//! waiting for acceptance (待验收), the grid patrol that found the first two, two sync issues
//! (同步问题) from the manager's phone (a stale transition and a hazard without its photo), a
//! team's shift meetings of yesterday and today, and a safety article waiting for review
//! (待审核). It has not yet entered its calendar or graded its risks, so the office sees what it
//! lacks. The shipped small-enterprise checklist is published at start as on any server.

mod town;

/// The demo town's name.
pub const TOWN: &str = "海安市老坝港滨海新区（角斜镇）";

use std::io::Cursor;
use std::net::IpAddr;

use anjian_sync::access::{Role, Scopes};
use anjian_sync::entity::EntityType;
use anjian_sync::kinds::enterprise::{Enterprise, EnterpriseRecord};
use anjian_sync::kinds::grid::GridRecord;
use anjian_sync::kinds::meeting::Slot;
use anjian_sync::kinds::team::TeamRecord;
use anyhow::{Context, anyhow};
use image::{ImageEncoder, Rgb, RgbImage};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::AppState;
use crate::service::accounts::{Caller, NewUser};
use crate::service::directory::Directory;
use crate::service::secrets;
use crate::service::sync::OfficeChange;

/// The town's enterprise list, as a safety office keeps it (UTF-8 CSV, Chinese headers).
pub const ENTERPRISES_CSV: &str = include_str!("../demo/enterprises.csv");

/// A user the demo made, with the password to show once.
#[derive(Debug)]
pub struct DemoUser {
    /// Login name.
    pub username: String,
    /// What they do.
    pub role: &'static str,
    /// Their password.
    pub password: SecretString,
}

/// Seeds an empty store (no users yet) with the demo town and returns its users; a store that
/// has users is left as it is (`None`). The admin's password is `admin_password` when given.
pub async fn seed(
    state: &AppState,
    admin_password: Option<SecretString>,
) -> anyhow::Result<Option<Vec<DemoUser>>> {
    let password = admin_password.unwrap_or_else(secrets::new_password);
    // `bootstrap_admin` makes the admin only on a store without users: that is our "empty".
    let generated = state
        .accounts
        .bootstrap_admin(Some(password.clone()))
        .await
        .map_err(|err| anyhow!("cannot create the admin: {err}"))?;
    debug_assert!(generated.is_none(), "a given password is never generated");
    let admin = match login(state, "admin", &password).await {
        Ok(admin) => admin,
        // The admin existed already with another password: the store is not empty.
        Err(_) => return Ok(None),
    };
    if !state
        .sync
        .entities_of_type(EntityType::Enterprise)
        .await?
        .is_empty()
    {
        return Ok(None);
    }
    let mut users = vec![DemoUser {
        username: "admin".into(),
        role: "admin (安委办管理员)",
        password,
    }];

    let town = town::town()?;
    tracing::info!(town = TOWN, note = %town.note, "seeding the demo town");
    for grid in &town.grids {
        let code = &grid.code;
        let record = GridRecord {
            code: code.clone(),
            name: grid.name.clone(),
        };
        Directory::save_grid(&state.sync, &admin, record)
            .await
            .map_err(|err| anyhow!("cannot save grid {code}: {err}"))?
            .map_err(|rejection| anyhow!("grid {code} refused: {rejection:?}"))?;
    }
    let report = Directory::import_enterprises(&state.sync, &admin, ENTERPRISES_CSV.as_bytes())
        .await
        .map_err(|err| anyhow!("the demo enterprise list does not import: {err}"))?;
    tracing::info!(created = report.created, "demo enterprises imported");

    let enterprises = state.sync.entities_of_type(EntityType::Enterprise).await?;
    let find = |part: &str| {
        enterprises
            .iter()
            .find(|p| {
                p.entity.body["name"]
                    .as_str()
                    .is_some_and(|n| n.contains(part))
            })
            .map(|p| (p.entity.id.clone(), p.entity.body.clone()))
            .ok_or_else(|| anyhow!("the demo list has no enterprise named like {part}"))
    };
    // Every enterprise where it stands (一张图), around its village; the cold stores refrigerate
    // with ammonia (涉氨制冷) in confined spaces; the office's own colour where it has a reason.
    let placed = state.sync.entities_of_type(EntityType::Enterprise).await?;
    for (n, projection) in placed.iter().enumerate() {
        let mut record: EnterpriseRecord =
            serde_json::from_value::<Enterprise>(projection.entity.body.clone())
                .context("a demo enterprise does not read back")?
                .record;
        let (lat, lng) = town
            .grids
            .iter()
            .find(|g| g.code == record.grid_id)
            .map_or((32_600_000, 120_890_000), |g| g.centre);
        let step = i64::try_from(n).unwrap_or(0);
        record.location = Some(anjian_sync::kinds::hazard::Location {
            lat_e6: lat + (step % 5 - 2) * 1_800,
            lng_e6: lng + (step % 7 - 3) * 1_600,
        });
        if town.industry(&record.industry).is_some_and(|i| i.ammonia()) {
            record.flags.ammonia_refrigeration = true;
            record.flags.confined_space = true;
        }
        if let Some((colour, reason)) = town.override_of(&record.name) {
            record.risk_colour = Some(colour);
            record.risk_colour_reason = Some(reason);
        }
        let id = Uuid::parse_str(&projection.entity.id)?;
        Directory::save_enterprise(&state.sync, &admin, id, record, false)
            .await
            .map_err(|err| anyhow!("cannot place {}: {err}", projection.entity.id))?
            .map_err(|rejection| anyhow!("placing refused: {rejection:?}"))?;
    }

    let (seaweed, _) = find("海晟紫菜")?;
    let (cold_store, _) = find("冷链物流")?;
    let slots = vec![Slot::PreShift, Slot::MidShift, Slot::Handover];
    for (enterprise, code, name) in [(&seaweed, "t1", "烘干一班"), (&seaweed, "t2", "包装二班")]
    {
        let record = TeamRecord {
            enterprise_id: enterprise.clone(),
            code: code.into(),
            name: name.into(),
            slots: slots.clone(),
        };
        Directory::save_team(&state.sync, &admin, record)
            .await
            .map_err(|err| anyhow!("cannot save team {name}: {err}"))?
            .map_err(|rejection| anyhow!("team {name} refused: {rejection:?}"))?;
    }
    // An electrician's certificate runs out in twenty days: the registry marks it.
    let soon =
        anjian_sync::clock::china_date(crate::store::model::UnixMillis::now().0 + 20 * 86_400_000);
    let workers = [
        (&seaweed, "t1", "陈阿妹", "烘干工", None),
        (
            &seaweed,
            "t1",
            "林国强",
            "锅炉工",
            Some(("特种设备作业人员证 G1", "G1-2024-0315", "2028-03-14")),
        ),
        (
            &seaweed,
            "t2",
            "黄秀兰",
            "电工",
            Some(("特种作业操作证 电工作业", "T350982-0877", soon.as_str())),
        ),
    ];
    let changes = workers
        .into_iter()
        .map(|(enterprise, team, name, post, certificate)| OfficeChange {
            kind: "worker.save",
            entity_id: Uuid::now_v7(),
            payload: json!({
                "enterprise_id": enterprise, "team_id": team, "name": name, "post": post,
                "certificates": certificate.map(|(kind, number, expires_on)|
                    json!([{"kind": kind, "number": number, "expires_on": expires_on}]))
                    .unwrap_or(json!([])),
            }),
            blob_refs: Vec::new(),
            template_ref: None,
        })
        .collect();
    state
        .sync
        .record_office_events(&admin, changes)
        .await?
        .map_err(|(i, rejection)| anyhow!("demo worker {i} refused: {rejection:?}"))?;

    // The rest of the town at work, each enterprise by its industry.
    let placed = state.sync.entities_of_type(EntityType::Enterprise).await?;
    for (n, projection) in placed.iter().enumerate() {
        let body = &projection.entity.body;
        let text = |field: &str| body[field].as_str().unwrap_or_default();
        let (name, industry) = (text("name"), text("industry"));
        if town.unrecorded.iter().any(|u| u == name) {
            continue;
        }
        let plan = town
            .industry(industry)
            .ok_or_else(|| anyhow!("town.json has no industry {industry} for {name}"))?;
        let enterprise = town::Enterprise {
            id: &projection.entity.id,
            name,
            contact: body["contacts"][0]["name"].as_str().unwrap_or("安全员"),
            phone: body["contacts"][0]["phone"].as_str().unwrap_or("119"),
            number: n + 1,
        };
        town::populate(state, &admin, &town, plan, &enterprise)
            .await
            .with_context(|| format!("the demo cannot put {name} to work"))?;
    }

    let people: [(&str, &str, &str, Role, Scopes); 7] = [
        (
            "leader",
            "镇领导 陈镇长",
            "leader (镇领导, reads the whole town)",
            Role::Leader,
            Scopes::default(),
        ),
        (
            "inspector",
            "网格员 李明",
            "inspector (网格员, grids 老坝港社区 and 角斜社区)",
            Role::Inspector,
            Scopes {
                grids: vec!["laobagang".into(), "jiaoxie".into()],
                ..Scopes::default()
            },
        ),
        (
            "manager",
            "安全员 刘建国",
            "enterprise manager (企业安全员, 海晟紫菜加工厂)",
            Role::EnterpriseManager,
            Scopes {
                enterprise: Some(seaweed.clone()),
                ..Scopes::default()
            },
        ),
        (
            "teamlead",
            "班组长 陈阿妹",
            "team lead (班组长, 海晟 烘干一班)",
            Role::TeamLead,
            Scopes {
                enterprise: Some(seaweed.clone()),
                team: Some("t1".into()),
                ..Scopes::default()
            },
        ),
        (
            "coldlead",
            "班组长 冷库值班组",
            "team lead (班组长, 冷链物流 冷库值班组: a calendar, its due list 今日待办)",
            Role::TeamLead,
            Scopes {
                enterprise: Some(cold_store.clone()),
                team: Some("t1".into()),
                ..Scopes::default()
            },
        ),
        (
            "publicist",
            "宣传员 许文",
            "publicist (宣传员)",
            Role::Publicist,
            Scopes::default(),
        ),
        (
            "reviewer",
            "审核员 高磊",
            "reviewer (审核员)",
            Role::Reviewer,
            Scopes::default(),
        ),
    ];
    for (username, display, role_text, role, scopes) in people {
        let password = secrets::new_password();
        let new = NewUser {
            username: username.into(),
            display_name: Some(display.into()),
            password: Some(password.clone()),
            roles: vec![role],
            scopes,
        };
        state
            .accounts
            .create_user(&admin, new)
            .await
            .map_err(|err| anyhow!("cannot create {username}: {err}"))?;
        users.push(DemoUser {
            username: username.into(),
            role: role_text,
            password,
        });
    }

    let inspector = login(state, "inspector", &users[2].password).await?;
    let hazards = [
        (
            &seaweed,
            "general",
            "烘干车间消防通道堆放纸箱，通道宽度不足1米",
            "2026-12-05",
        ),
        (&seaweed, "general", "配电箱未接地，箱门缺失", "2026-12-03"),
        (
            &cold_store,
            "major",
            "液氨储罐区氨气泄漏报警器失效，未设置喷淋装置",
            "2026-12-31",
        ),
        (
            &seaweed,
            "general",
            "包装车间应急照明灯损坏，安全出口指示牌不亮",
            "2026-12-10",
        ),
    ];
    let mut photos = Vec::new();
    for seed in [1, 2, 3, 5, 6] {
        let photo = demo_photo(seed)?;
        let sha = hex::encode(Sha256::digest(&photo));
        state
            .blobs
            .put_whole(&inspector, &sha, Cursor::new(photo))
            .await
            .map_err(|err| anyhow!("cannot store a demo photo: {err}"))?;
        photos.push(sha);
    }
    // The grid patrol (网格巡查) of the seaweed plant that found its first two hazards, signed by
    // the plant (the last photo stands for the signature).
    let inspection = Uuid::now_v7();
    let mut changes = vec![patrol(
        inspection,
        &seaweed,
        [&photos[0], &photos[1]],
        &photos[4],
    )?];
    for (index, (enterprise, level, description, deadline)) in hazards.into_iter().enumerate() {
        let mut payload = json!({"enterprise_id": enterprise, "level": level,
            "description": description, "deadline": deadline});
        if index < 2 {
            payload["inspection_id"] = json!(inspection.to_string());
        }
        changes.push(OfficeChange {
            kind: "hazard.report",
            entity_id: Uuid::now_v7(),
            payload,
            blob_refs: vec![photos[index].clone()],
            template_ref: None,
        });
    }
    let mut reported = state
        .sync
        .record_office_events(&inspector, changes)
        .await?
        .map_err(|(i, rejection)| anyhow!("demo hazard {i} refused: {rejection:?}"))?;
    reported.remove(0);

    // The seaweed plant's safety manager has mended the emergency lights (应急照明) and asks
    // for acceptance with a photo of the work: the office's next step is to accept it (验收).
    let password_of = |username: &str| {
        users
            .iter()
            .find(|u| u.username == username)
            .map(|u| &u.password)
            .ok_or_else(|| anyhow!("the demo has no {username}"))
    };
    let manager = login(state, "manager", password_of("manager")?).await?;
    let lights = Uuid::parse_str(&reported[3].entity.id)?;
    let after = demo_photo(7)?;
    let after_sha = hex::encode(Sha256::digest(&after));
    state
        .blobs
        .put_whole(&manager, &after_sha, Cursor::new(after))
        .await
        .map_err(|err| anyhow!("cannot store a demo photo: {err}"))?;
    let rectified = vec![
        OfficeChange {
            kind: "hazard.transition",
            entity_id: lights,
            payload: json!({"from": "reported", "to": "rectifying"}),
            blob_refs: Vec::new(),
            template_ref: None,
        },
        OfficeChange {
            kind: "hazard.transition",
            entity_id: lights,
            payload: json!({"from": "rectifying", "to": "pending_acceptance",
                "note": "已更换应急照明灯和安全出口指示牌"}),
            blob_refs: vec![after_sha],
            template_ref: None,
        },
    ];
    state
        .sync
        .record_office_events(&manager, rectified)
        .await?
        .map_err(|(i, rejection)| anyhow!("demo rectification {i} refused: {rejection:?}"))?;

    // The manager's phone was offline for hours: it still thought the lights hazard had just
    // been reported, and tried to start the rectification (a conflict: the hazard had moved on),
    // and it lost the photo of a hazard it found itself (quarantined: a hazard needs a photo).
    // Both wait in the office's sync-issue queue (同步问题).
    phone_events(
        state,
        &manager,
        vec![
            (
                "hazard.transition",
                lights,
                json!({"from": "reported", "to": "rectifying", "note": "已安排电工更换"}),
            ),
            (
                "hazard.report",
                Uuid::now_v7(),
                json!({"enterprise_id": seaweed, "level": "general",
                    "description": "晒场配电线路拖地，未架空", "deadline": "2026-12-12"}),
            ),
        ],
    )
    .await?;

    // The drying team (烘干一班) held yesterday's three meetings and today's pre-shift one.
    let teamlead = login(state, "teamlead", password_of("teamlead")?).await?;
    let scene = demo_photo(8)?;
    let scene_sha = hex::encode(Sha256::digest(&scene));
    state
        .blobs
        .put_whole(&teamlead, &scene_sha, Cursor::new(scene))
        .await
        .map_err(|err| anyhow!("cannot store a demo photo: {err}"))?;
    let now = crate::store::model::UnixMillis::now().0;
    let day_ms = 86_400_000;
    let mut held = Vec::new();
    for (days_ago, slot, topic) in [
        (1, Slot::PreShift, "烘干炉温度控制，严禁超温"),
        (1, Slot::MidShift, "巡查消防通道，清理纸箱"),
        (1, Slot::Handover, "交接烘干炉运行记录"),
        (0, Slot::PreShift, "冬季用电安全，配电箱整改期间注意绝缘"),
    ] {
        let at = now - days_ago * day_ms - 3_600_000;
        let date = anjian_sync::clock::china_date(now - days_ago * day_ms);
        let slot_name = serde_json::to_value(slot)?;
        held.push(OfficeChange {
            kind: "meeting.submit",
            entity_id: Uuid::parse_str(&anjian_sync::kinds::meeting::meeting_id(
                &seaweed, "t1", &date, "早班", slot,
            ))?,
            payload: json!({
                "enterprise_id": seaweed, "team_id": "t1", "date": date, "shift": "早班",
                "slot": slot_name, "host": "陈阿妹", "started_at_ms": at,
                "ended_at_ms": at + 6 * 60_000, "place": "烘干车间",
                "attendance": [
                    {"name": "陈阿妹", "status": "present", "fit_for_duty": true, "ppe_ok": true},
                    {"name": "黄小兰", "status": "present", "fit_for_duty": true, "ppe_ok": true},
                    {"name": "吴大海", "status": "late", "fit_for_duty": true, "ppe_ok": false}
                ],
                "topics": [topic],
                "risks": ["高温烫伤"],
                "handover": []
            }),
            blob_refs: vec![scene_sha.clone()],
            template_ref: None,
        });
    }
    state
        .sync
        .record_office_events(&teamlead, held)
        .await?
        .map_err(|(i, rejection)| anyhow!("demo meeting {i} refused: {rejection:?}"))?;

    // The publicist has written a winter safety notice and sent it for review (待审核).
    let publicist = login(state, "publicist", password_of("publicist")?).await?;
    let article = Uuid::now_v7();
    let written = vec![
        OfficeChange {
            kind: "article.save",
            entity_id: article,
            payload: json!({"column": "safety365",
                "title": "冬季紫菜加工安全提示",
                "body": "进入冬季，紫菜加工进入旺季。烘干车间要保持消防通道畅通，\
                    严禁堆放纸箱等可燃物；电气线路要定期检查，配电箱必须可靠接地；\
                    冷库作业人员进入前要检查氨气报警器是否完好。\n\n\
                    班组每班要开好“3个5分钟”安全交接会，发现隐患及时上报网格员。"}),
            blob_refs: Vec::new(),
            template_ref: None,
        },
        OfficeChange {
            kind: "article.submit",
            entity_id: article,
            payload: json!({}),
            blob_refs: Vec::new(),
            template_ref: None,
        },
    ];
    state
        .sync
        .record_office_events(&publicist, written)
        .await?
        .map_err(|(i, rejection)| anyhow!("demo article {i} refused: {rejection:?}"))?;
    Ok(Some(users))
}

/// A grid patrol with the shipped checklist: every item checked, a finding with its photo on
/// the fire exits (XF-02) and the distribution box (YD-01), the ammonia items not applicable.
fn patrol(
    id: Uuid,
    enterprise: &str,
    findings: [&String; 2],
    signature: &str,
) -> anyhow::Result<OfficeChange> {
    let checklist: anjian_sync::kinds::inspection::Template =
        serde_json::from_str(crate::service::sync::SHIPPED_TEMPLATE)?;
    let results: Vec<serde_json::Value> = checklist
        .sections
        .iter()
        .flat_map(|section| &section.items)
        .map(|item| match item.code.as_str() {
            "XF-02" => json!({"item": "XF-02", "verdict": "hazard",
                "note": "烘干车间消防通道堆放纸箱", "photos": [findings[0]]}),
            "YD-01" => json!({"item": "YD-01", "verdict": "hazard",
                "note": "配电箱未接地，箱门缺失", "photos": [findings[1]]}),
            code if code.starts_with("YA-") => json!({"item": code, "verdict": "not_applicable"}),
            code => json!({"item": code, "verdict": "ok"}),
        })
        .collect();
    let now = crate::store::model::UnixMillis::now().0;
    let payload = json!({
        "enterprise_id": enterprise,
        "kind": "grid_patrol",
        "template": checklist.code,
        "template_version": checklist.version,
        "inspectors": [{"name": "李明"}, {"name": "王海", "certificate": "JS-3206-0217"}],
        "started_at_ms": now - 2 * 3_600_000,
        "ended_at_ms": now - 3_600_000 - 1_800_000,
        "results": results,
        "summary": "检查发现一般隐患2处，已当场告知企业并责令限期整改。",
        "on_site_action": "责令立即清理消防通道，配电箱限期整改。",
        "signature": signature,
    });
    Ok(OfficeChange {
        kind: "inspection.submit",
        entity_id: id,
        payload,
        blob_refs: vec![
            findings[0].clone(),
            findings[1].clone(),
            signature.to_string(),
        ],
        template_ref: Some(format!("{}@{}", checklist.code, checklist.version)),
    })
}

/// Enrols a phone for `caller` and pushes `events` (kind, record, payload) from it, signed, as
/// the phone would after being offline for three hours: the push's verdicts are whatever the
/// judgement says.
async fn phone_events(
    state: &AppState,
    caller: &Caller,
    events: Vec<(&'static str, Uuid, serde_json::Value)>,
) -> anyhow::Result<()> {
    let at_ms = crate::store::model::UnixMillis::now().0 - 3 * 3_600_000;
    let events = events
        .into_iter()
        .map(|(kind, entity_id, payload)| town::Captured {
            kind,
            entity_id,
            payload,
            blob_refs: Vec::new(),
            template_ref: None,
            at_ms,
        })
        .collect();
    push_from_phone(state, caller, events, false).await
}

/// Enrols a phone for `caller` and pushes `events` from it in the order they were captured,
/// signed and chained as the phone logs them, each with the time it was captured; the phone's
/// clock is right. A refused push is an error, and so is any event not applied when
/// `all_applied` (otherwise the verdicts are the judgement's).
async fn push_from_phone(
    state: &AppState,
    caller: &Caller,
    mut events: Vec<town::Captured>,
    all_applied: bool,
) -> anyhow::Result<()> {
    use anjian_sync::event::{Captured, DeviceKey, EVENT_VERSION, EventBody, GENESIS_HASH};
    events.sort_by_key(|e| e.at_ms);
    let key = DeviceKey::from_secret(secrets::random_bytes());
    let device = state
        .sync
        .enrol(caller, &key.public_hex(), "演示手机")
        .await
        .map_err(|err| anyhow!("cannot enrol a demo phone: {err}"))?;
    let mut prev_hash = GENESIS_HASH.to_string();
    let mut signed = Vec::with_capacity(events.len());
    for (seq, event) in (1..).zip(events) {
        let event = key.sign(EventBody {
            v: EVENT_VERSION,
            device_id: device.id.to_string(),
            seq,
            id: Uuid::now_v7().to_string(),
            prev_hash: prev_hash.clone(),
            kind: event.kind.into(),
            entity_id: event.entity_id.to_string(),
            payload: event.payload,
            blob_refs: event.blob_refs,
            template_ref: event.template_ref,
            base_rev: None,
            captured: Captured {
                wall_ms: event.at_ms,
                tz_offset_min: 480,
            },
        })?;
        prev_hash = event.hash.clone();
        signed.push(event);
    }
    for batch in signed.chunks(anjian_sync::protocol::MAX_PUSH_EVENTS) {
        let request = anjian_sync::protocol::PushRequest {
            device_id: device.id.to_string(),
            device_clock_ms: crate::store::model::UnixMillis::now().0,
            events: batch.to_vec(),
        };
        let answer = state
            .sync
            .push(caller, request)
            .await
            .map_err(|err| anyhow!("cannot push from a demo phone: {err}"))?;
        if let Some(refused) = answer.refused {
            return Err(anyhow!("the demo phone's push was refused: {refused:?}"));
        }
        if let Some(receipt) = answer
            .receipts
            .iter()
            .find(|r| all_applied && r.verdict != anjian_sync::judge::Verdict::Applied)
        {
            return Err(anyhow!("a demo event was not applied: {receipt:?}"));
        }
    }
    Ok(())
}

async fn login(
    state: &AppState,
    username: &str,
    password: &SecretString,
) -> anyhow::Result<Caller> {
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let logged_in = state
        .accounts
        .login(username, password.clone(), loopback)
        .await
        .map_err(|err| anyhow!("cannot log in as {username}: {err}"))?;
    state
        .accounts
        .authenticate(logged_in.token.expose_secret())
        .await
        .map_err(|err| anyhow!("cannot use the session of {username}: {err}"))
}

/// A small JPEG for a demo hazard: a made-up scene in the colours of a seed.
fn demo_photo(seed: u32) -> anyhow::Result<Vec<u8>> {
    let image = RgbImage::from_fn(640, 480, |x, y| {
        let band = (y / 60 + seed) % 3;
        let shade = ((x + y * seed) % 64) as u8;
        match band {
            0 => Rgb([180 + shade / 2, 60, 40]),
            1 => Rgb([90, 90 + shade, 100]),
            _ => Rgb([200, 190, 160 + shade / 2]),
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).write_image(
        image.as_raw(),
        640,
        480,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}
