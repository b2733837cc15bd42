//! The demo town (演示乡镇): what `anjian-server demo` puts in an empty store so that people can
//! try Anjian at once.
//!
//! Everything goes through the same services the API uses, as the admin would: four grids (村居)
//! of a fishing town, the town's enterprise list loaded by the CSV import from
//! `server/demo/enterprises.csv` (seaweed processors, fishing-net makers, fisheries, two cold
//! stores with ammonia refrigeration, an LPG station, a shipyard), teams and workers of two
//! enterprises, one user of each role, and a few open hazards (隐患) reported by the town's
//! inspector with a photo each, one of them rectified and waiting for acceptance (待验收), the grid patrol that found the
//! first two, two sync issues (同步问题) from the manager's phone (a stale transition and a
//! hazard without its photo), a team's shift meetings of yesterday and today, a safety article waiting for
//! review (待审核), and the cold store's duties and risk grading — its duty team's calendar from
//! three weeks ago, three graded risk points on its floor plan, a post's risk-notice card, the
//! year's commitment and a public notice of its major risk. The shipped small-enterprise checklist is published at start as
//! on any server.

use std::io::Cursor;
use std::net::IpAddr;

use anjian_sync::access::{Role, Scopes};
use anjian_sync::entity::EntityType;
use anjian_sync::kinds::enterprise::{Enterprise, EnterpriseRecord, RiskColour};
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

/// The grids: code and name (the names the enterprise list uses).
const GRIDS: [(&str, &str); 4] = [
    ("shacheng", "沙埕村"),
    ("hougang", "后港村"),
    ("aoyao", "澳腰村"),
    ("xiaobailu", "小白鹭村"),
];

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

    for (code, name) in GRIDS {
        let record = GridRecord {
            code: code.into(),
            name: name.into(),
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
    // The cold stores refrigerate with ammonia (涉氨制冷): the office marks them red.
    for part in ["冷链物流", "海鲜码头冷冻厂"] {
        let (id, body) = find(part)?;
        let mut record: EnterpriseRecord = serde_json::from_value::<Enterprise>(body)
            .context("a demo enterprise does not read back")?
            .record;
        record.flags.ammonia_refrigeration = true;
        record.flags.confined_space = true;
        record.risk_colour = Some(RiskColour::Red);
        let id = Uuid::parse_str(&id)?;
        Directory::save_enterprise(&state.sync, &admin, id, record, false)
            .await
            .map_err(|err| anyhow!("cannot mark {part}: {err}"))?
            .map_err(|rejection| anyhow!("{part} refused: {rejection:?}"))?;
    }

    // Every enterprise where it stands (一张图), around its village's harbour.
    let centres: std::collections::HashMap<&str, (i64, i64)> = [
        ("shacheng", (27_165_000, 120_395_000)),
        ("hougang", (27_180_000, 120_420_000)),
        ("aoyao", (27_150_000, 120_430_000)),
        ("xiaobailu", (27_190_000, 120_380_000)),
    ]
    .into_iter()
    .collect();
    let placed = state.sync.entities_of_type(EntityType::Enterprise).await?;
    for (n, projection) in placed.iter().enumerate() {
        let mut record: EnterpriseRecord =
            serde_json::from_value::<Enterprise>(projection.entity.body.clone())
                .context("a demo enterprise does not read back")?
                .record;
        let (lat, lng) = centres
            .get(record.grid_id.as_str())
            .copied()
            .unwrap_or((27_170_000, 120_400_000));
        let step = i64::try_from(n).unwrap_or(0);
        // The office has assessed most of them (风险分级): the cold stores stay red.
        if record.risk_colour.is_none() {
            record.risk_colour = match n % 4 {
                0 => Some(RiskColour::Orange),
                1 | 2 => Some(RiskColour::Yellow),
                _ => Some(RiskColour::Blue),
            };
        }
        record.location = Some(anjian_sync::kinds::hazard::Location {
            lat_e6: lat + (step % 5 - 2) * 1_800,
            lng_e6: lng + (step % 7 - 3) * 1_600,
        });
        let id = Uuid::parse_str(&projection.entity.id)?;
        Directory::save_enterprise(&state.sync, &admin, id, record, false)
            .await
            .map_err(|err| anyhow!("cannot place {}: {err}", projection.entity.id))?
            .map_err(|rejection| anyhow!("placing refused: {rejection:?}"))?;
    }

    let (seaweed, _) = find("海晟紫菜")?;
    let (cold_store, _) = find("冷链物流")?;
    let slots = vec![Slot::PreShift, Slot::MidShift, Slot::Handover];
    for (enterprise, code, name) in [
        (&seaweed, "t1", "烘干一班"),
        (&seaweed, "t2", "包装二班"),
        (&cold_store, "t1", "冷库值班组"),
    ] {
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
        (
            &cold_store,
            "t1",
            "郑海波",
            "制冷工",
            Some(("特种作业操作证 制冷与空调", "T350982-1199", "2027-06-30")),
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
    grade_cold_store(state, &admin, &cold_store).await?;

    let people: [(&str, &str, &str, Role, Scopes); 6] = [
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
            "inspector (网格员, grids 沙埕村 and 后港村)",
            Role::Inspector,
            Scopes {
                grids: vec!["shacheng".into(), "hougang".into()],
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
/// the phone would after being offline: the push's verdicts are whatever the judgement says.
async fn phone_events(
    state: &AppState,
    caller: &Caller,
    events: Vec<(&str, Uuid, serde_json::Value)>,
) -> anyhow::Result<()> {
    use anjian_sync::event::{Captured, DeviceKey, EVENT_VERSION, EventBody, GENESIS_HASH};
    let key = DeviceKey::from_secret(secrets::random_bytes());
    let device = state
        .sync
        .enrol(caller, &key.public_hex(), "演示手机")
        .await
        .map_err(|err| anyhow!("cannot enrol a demo phone: {err}"))?;
    let now = crate::store::model::UnixMillis::now().0;
    let mut prev_hash = GENESIS_HASH.to_string();
    let mut signed = Vec::new();
    for (seq, (kind, entity_id, payload)) in (1..).zip(events) {
        let event = key.sign(EventBody {
            v: EVENT_VERSION,
            device_id: device.id.to_string(),
            seq,
            id: Uuid::now_v7().to_string(),
            prev_hash: prev_hash.clone(),
            kind: kind.into(),
            entity_id: entity_id.to_string(),
            payload,
            blob_refs: Vec::new(),
            template_ref: None,
            base_rev: None,
            captured: Captured {
                wall_ms: now - 3 * 3_600_000,
                tz_offset_min: 480,
            },
        })?;
        prev_hash = event.hash.clone();
        signed.push(event);
    }
    let request = anjian_sync::protocol::PushRequest {
        device_id: device.id.to_string(),
        device_clock_ms: now,
        events: signed,
    };
    let answer = state
        .sync
        .push(caller, request)
        .await
        .map_err(|err| anyhow!("cannot push from a demo phone: {err}"))?;
    if let Some(refused) = answer.refused {
        return Err(anyhow!("the demo phone's push was refused: {refused:?}"));
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

/// The cold store's routine duties and risk grading, as its safety office would keep them: the
/// duty team's calendar from three weeks ago (早班 and 夜班, the pre-shift and handover meetings,
/// Sundays off, two briefed a shift, a weekly self-check), its three risk points graded (the
/// ammonia machine room 重大 by LEC and by the direct criterion for ammonia refrigeration), its
/// floor plan with them placed, the refrigeration operator's risk-notice card, the year's
/// commitment, and the public notice of its major risk. The office records them (as the
/// enterprise has no safety manager among the demo's users).
async fn grade_cold_store(
    state: &AppState,
    admin: &Caller,
    cold_store: &str,
) -> anyhow::Result<()> {
    let now = crate::store::model::UnixMillis::now().0;
    let day = |back: i64| anjian_sync::clock::china_date(now - back * 86_400_000);
    let year = day(0).get(..4).unwrap_or("2026").to_string();
    let photo = |seed: u32| -> anyhow::Result<(Vec<u8>, String)> {
        let bytes = demo_photo(seed)?;
        let sha = hex::encode(Sha256::digest(&bytes));
        Ok((bytes, sha))
    };
    let (plan_bytes, plan_sha) = photo(21)?;
    let (signed_bytes, signed_sha) = photo(22)?;
    for (bytes, sha) in [(plan_bytes, &plan_sha), (signed_bytes, &signed_sha)] {
        state
            .blobs
            .put_whole(admin, sha, Cursor::new(bytes))
            .await
            .map_err(|err| anyhow!("cannot store a demo photo: {err}"))?;
    }
    let uuid = |id: String| Uuid::parse_str(&id).map_err(|err| anyhow!("a derived id: {err}"));
    let ammonia = Uuid::now_v7();
    let store = Uuid::now_v7();
    let forklift = Uuid::now_v7();
    let change =
        |kind: &'static str, entity_id: Uuid, payload: serde_json::Value, blobs: Vec<String>| {
            OfficeChange {
                kind,
                entity_id,
                payload,
                blob_refs: blobs,
                template_ref: None,
            }
        };
    let risk = |name: &str,
                place: &str,
                types: serde_json::Value,
                hazards: &str,
                assessment: serde_json::Value,
                direct: Option<&str>,
                measures: serde_json::Value,
                at: (u32, u32)| {
        json!({"enterprise_id": cold_store, "name": name, "place": place, "posts": ["制冷工"],
            "accident_types": types, "hazards": hazards, "assessment": assessment,
            "direct_major": direct, "measures": measures,
            "plan_point": {"x_permille": at.0, "y_permille": at.1}, "supersedes": 0})
    };
    let changes = vec![
        change(
            "schedule.save",
            uuid(anjian_sync::kinds::schedule::schedule_id(cold_store, "t1"))?,
            json!({"enterprise_id": cold_store, "team_id": "t1", "from": day(21),
                "shifts": ["早班", "夜班"], "slots": ["pre_shift", "handover"],
                "rest_weekdays": [7], "rest_days": [], "crew": 2,
                "self_checks": [{"every": "week", "template": "small-enterprise"}], "supersedes": 0}),
            Vec::new(),
        ),
        change(
            "risk.assess",
            ammonia,
            risk(
                "液氨制冷机房",
                "冷库东侧机房",
                json!(["poisoning_asphyxiation", "vessel_explosion", "fire"]),
                "液氨泄漏、压力容器超压",
                json!({"method": "lec", "l_x10": 30, "e_x10": 60, "c": 40}),
                Some("涉氨制冷，液氨储量超过规定数量"),
                json!([{"text": "氨气泄漏报警器与事故排风机联锁", "owner": "company"},
                       {"text": "每班巡检压力表、液位计", "owner": "post"},
                       {"text": "配备正压式空气呼吸器并每月检查", "owner": "workshop"}]),
                (220, 300),
            ),
            Vec::new(),
        ),
        change(
            "risk.assess",
            store,
            risk(
                "冷库作业区",
                "一号、二号冷库",
                json!(["other_injury", "struck_by_object"]),
                "低温冻伤、人员被困库内",
                json!({"method": "ls", "l": 3, "s": 3}),
                None,
                json!([{"text": "库门内侧设开门装置和报警按钮", "owner": "company"},
                       {"text": "入库作业两人以上", "owner": "team"}]),
                (600, 450),
            ),
            Vec::new(),
        ),
        change(
            "risk.assess",
            forklift,
            risk(
                "叉车作业",
                "装卸月台",
                json!(["vehicle"]),
                "叉车碰撞",
                json!({"method": "ls", "l": 2, "s": 3}),
                None,
                json!([{"text": "叉车司机持证上岗", "owner": "company"},
                       {"text": "月台划定人车分流通道", "owner": "workshop"}]),
                (800, 750),
            ),
            Vec::new(),
        ),
        change(
            "floorplan.save",
            uuid(anjian_sync::kinds::floorplan::floorplan_id(cold_store))?,
            json!({"enterprise_id": cold_store, "version": 1, "title": "厂区平面布置图", "image": plan_sha}),
            vec![plan_sha.clone()],
        ),
        change(
            "card.publish",
            uuid(anjian_sync::kinds::card::card_id(
                cold_store,
                "制冷工",
                anjian_sync::kinds::card::CardKind::RiskNotice,
            ))?,
            json!({"enterprise_id": cold_store, "post": "制冷工", "card": "risk_notice", "version": 1,
                "risk_points": [ammonia.to_string(), store.to_string()],
                "sections": [
                    {"heading": "主要危险因素", "items": ["液氨泄漏", "压力容器超压", "低温冻伤"]},
                    {"heading": "防范措施", "items": ["作业前检查氨气报警器", "佩戴防护手套、护目镜", "不得单人进入冷库"]},
                    {"heading": "应急措施", "items": ["发现泄漏立即开启事故排风", "佩戴空气呼吸器，向上风向撤离", "拨打厂区值班电话并报告"]}],
                "phones": [{"name": "厂区值班室", "number": "0513-88880000"}, {"name": "火警", "number": "119"}]}),
            Vec::new(),
        ),
        change(
            "commitment.sign",
            uuid(anjian_sync::kinds::commitment::commitment_id(
                cold_store, &year,
            ))?,
            json!({"enterprise_id": cold_store, "year": year, "principal": "郑国华",
                "pledges": ["严格落实安全生产主体责任", "保证液氨制冷系统安全投入", "每月组织一次隐患自查自改"],
                "signed_on": format!("{year}-01-06")}),
            vec![signed_sha.clone()],
        ),
        change(
            "notice.publish",
            Uuid::now_v7(),
            json!({"enterprise_id": cold_store, "version": 1, "title": "液氨制冷机房重大安全风险公告",
                "risk_points": [ammonia.to_string()],
                "body": "风险：液氨泄漏可致中毒、爆炸。\n措施：泄漏报警与事故排风联锁，每班巡检。\n应急：向上风向撤离，拨打119和厂区值班电话。",
                "contact": "郑海波 13900000000", "public": true}),
            Vec::new(),
        ),
    ];
    state
        .sync
        .record_office_events(admin, changes)
        .await?
        .map_err(|(i, rejection)| anyhow!("demo duty or risk record {i} refused: {rejection:?}"))?;
    Ok(())
}
