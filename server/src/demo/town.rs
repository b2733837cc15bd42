//! The demo town's enterprises at work: from `server/demo/town.json`, each enterprise of the list
//! gets, by its industry, its teams and their workers, the duty calendar the office entered for
//! them, its graded risk points on a floor plan, its posts' cards, the year's commitment (except
//! those the file names as unsigned) and, for the cold stores, a public notice of the major risk —
//! then the weeks of shift meetings (班组"3个5分钟"安全交接会), pre-shift briefings (岗前一分钟) and
//! self-checks its safety manager's phone recorded, mostly kept, some missed, late or short, so
//! that compliance (履职情况) has figures to show.
//!
//! The history goes through the same push a phone makes, signed and with the times it was
//! captured, so what is late is late by the same rule as in the field. Which duties are missed,
//! late or short is drawn from a hash of the duty, so the town is the same on every start.

use std::collections::HashMap;
use std::io::Cursor;

use anjian_sync::access::{Role, Scopes};
use anjian_sync::kinds::card::{CardKind, card_id};
use anjian_sync::kinds::enterprise::RiskColour;
use anjian_sync::kinds::meeting::{Slot, meeting_id};
use anjian_sync::kinds::schedule::{Every, schedule_id, unit_start};
use anjian_sync::kinds::team::TeamRecord;
use anyhow::{Context, anyhow};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::AppState;
use crate::service::accounts::{Caller, NewUser};
use crate::service::directory::Directory;
use crate::service::sync::OfficeChange;

/// The town: its grids, and its industries' duties and risks.
pub const TOWN_JSON: &str = include_str!("../../demo/town.json");

const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// `server/demo/town.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Town {
    /// Which names are invented.
    pub note: String,
    /// Its villages, the grids (网格).
    pub grids: Vec<TownGrid>,
    /// How many days of duties the phones recorded.
    pub history_days: i64,
    /// Enterprises that have entered no duties or risks yet (the office sees what they lack).
    pub unrecorded: Vec<String>,
    /// Enterprises that keep their duties badly.
    pub laggards: Vec<String>,
    /// Enterprises whose principal has not signed the year's commitment.
    pub unsigned: Vec<String>,
    /// The office's own colour for an enterprise, with its reason.
    pub overrides: Vec<Override>,
    /// Surnames the workers' invented names are made from, one character each.
    pub surnames: String,
    /// Given names for them.
    pub given_names: Vec<String>,
    /// What each industry's enterprises have and do.
    pub industries: Vec<Industry>,
}

/// A grid.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TownGrid {
    /// Its code.
    pub code: String,
    /// Its name, as the enterprise list writes it.
    pub name: String,
    /// Where its enterprises stand around (latitude, longitude ×10⁶).
    pub centre: (i64, i64),
}

/// The office's colour for an enterprise.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    enterprise: String,
    colour: RiskColour,
    reason: String,
}

/// An industry's enterprises: their teams, risks and cards.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Industry {
    /// The 行业 of the enterprise list it covers.
    pub industries: Vec<String>,
    /// Refrigerated with ammonia (涉氨制冷).
    #[serde(default)]
    ammonia: bool,
    teams: Vec<TeamPlan>,
    place: String,
    topics: Vec<String>,
    meeting_risks: Vec<String>,
    points: Vec<String>,
    risk_points: Vec<RiskPlan>,
    cards: Vec<CardPlan>,
    #[serde(default)]
    notice: Option<NoticePlan>,
    pledges: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamPlan {
    code: String,
    name: String,
    slots: Vec<Slot>,
    /// (post, how many).
    workers: Vec<(String, u32)>,
    /// (shift, starting hour, hours long).
    shifts: Vec<(String, i64, i64)>,
    rest_weekdays: Vec<u8>,
    crew: u32,
    self_checks: Vec<SelfCheckPlan>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelfCheckPlan {
    every: Every,
    template: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RiskPlan {
    name: String,
    place: String,
    posts: Vec<String>,
    accident_types: Value,
    hazards: String,
    assessment: Value,
    #[serde(default)]
    direct_major: Option<String>,
    /// (measure, owning level).
    measures: Vec<(String, String)>,
    /// Where on the floor plan, ‰ of its width and height.
    at: (u32, u32),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardPlan {
    post: String,
    card: CardKind,
    /// (heading, items).
    sections: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoticePlan {
    title: String,
    body: String,
}

/// Reads the town.
pub fn town() -> anyhow::Result<Town> {
    serde_json::from_str(TOWN_JSON).context("server/demo/town.json does not read")
}

impl Town {
    /// The plan for an enterprise of `industry`.
    pub fn industry(&self, industry: &str) -> Option<&Industry> {
        self.industries
            .iter()
            .find(|plan| plan.industries.iter().any(|i| i == industry))
    }

    /// The office's colour and reason for the enterprise named `name`.
    pub fn override_of(&self, name: &str) -> Option<(RiskColour, String)> {
        self.overrides
            .iter()
            .find(|o| o.enterprise == name)
            .map(|o| (o.colour, o.reason.clone()))
    }

    /// An invented worker's name: the `n`th of the town.
    fn worker_name(&self, n: usize) -> String {
        let surnames: Vec<char> = self.surnames.chars().collect();
        let surname = surnames
            .get(n % surnames.len().max(1))
            .copied()
            .unwrap_or('王');
        let given = self
            .given_names
            .get((n / surnames.len().max(1) + n * 7) % self.given_names.len().max(1))
            .map_or("建国", String::as_str);
        format!("{surname}{given}")
    }
}

impl Industry {
    /// Whether these enterprises refrigerate with ammonia.
    pub fn ammonia(&self) -> bool {
        self.ammonia
    }
}

/// An enterprise of the list, as the demo puts it to work.
pub struct Enterprise<'a> {
    /// Its id.
    pub id: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its contact person, who is its safety manager (安全员).
    pub contact: &'a str,
    /// Its phone.
    pub phone: &'a str,
    /// Its place in the list (from 1), which numbers its safety manager's account.
    pub number: usize,
}

/// A worker made for a team.
struct Member {
    id: String,
    name: String,
    post: String,
}

/// The certificate a special-operations post needs (特种作业), if any.
fn certificate_kind(post: &str) -> Option<&'static str> {
    match post {
        "制冷工" => Some("特种作业操作证 制冷与空调作业"),
        "电工" => Some("特种作业操作证 电工作业"),
        "叉车司机" => Some("特种设备作业人员证 N1 叉车司机"),
        "锅炉工" => Some("特种设备作业人员证 G1 工业锅炉司炉"),
        "充装工" => Some("特种设备作业人员证 P 气瓶充装"),
        _ => None,
    }
}

/// A number from 0 to 255 drawn from `parts`: the same on every start.
fn draw(parts: &[&str]) -> u8 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize()[0]
}

/// Midnight of `day` (`YYYY-MM-DD`) in China, ms since the epoch.
fn china_midnight(day: time::Date) -> i64 {
    let utc = day.midnight().assume_utc().unix_timestamp();
    utc.saturating_mul(1000).saturating_sub(8 * HOUR_MS)
}

/// An event for a phone to sign: kind, record, payload, photos cited, when captured.
pub struct Captured {
    /// Its kind.
    pub kind: &'static str,
    /// Its record.
    pub entity_id: Uuid,
    /// Its payload.
    pub payload: Value,
    /// Photos it cites.
    pub blob_refs: Vec<String>,
    /// The checklist it was made with (`code@version`), for an inspection.
    pub template_ref: Option<String>,
    /// When the phone captured it, ms.
    pub at_ms: i64,
}

/// Stores demo photo `seed` as `caller` uploaded it, and gives its sha256.
async fn store_photo(state: &AppState, caller: &Caller, seed: u32) -> anyhow::Result<String> {
    let photo = super::demo_photo(seed)?;
    let sha = hex::encode(Sha256::digest(&photo));
    state
        .blobs
        .put_whole(caller, &sha, Cursor::new(photo))
        .await
        .map_err(|err| anyhow!("cannot store a demo photo: {err}"))?;
    Ok(sha)
}

fn change(kind: &'static str, entity_id: Uuid, payload: Value, blobs: Vec<String>) -> OfficeChange {
    OfficeChange {
        kind,
        entity_id,
        payload,
        blob_refs: blobs,
        template_ref: None,
    }
}

fn derived(id: String) -> anyhow::Result<Uuid> {
    Uuid::parse_str(&id).map_err(|err| anyhow!("a derived id: {err}"))
}

/// Puts `enterprise` to work as `plan` says: its safety manager (a WeChat user of the
/// mini-program), teams, workers, calendars, risk points, floor plan, cards, commitment, notice
/// and weeks of recorded duties.
pub async fn populate(
    state: &AppState,
    admin: &Caller,
    town: &Town,
    plan: &Industry,
    enterprise: &Enterprise<'_>,
) -> anyhow::Result<()> {
    let now = crate::store::model::UnixMillis::now().0;
    let today = time::OffsetDateTime::from_unix_timestamp(now / 1000)
        .map(|t| t.to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC)))
        .map_err(|err| anyhow!("the clock: {err}"))?
        .date();
    let first = today - time::Duration::days(town.history_days);
    let e = enterprise.id;

    // Its safety manager signs in with WeChat (no password): the admin would invite them.
    let user = state
        .accounts
        .create_user(
            admin,
            NewUser {
                username: format!("aq{:02}", enterprise.number),
                display_name: Some(format!("安全员 {}", enterprise.contact)),
                password: None,
                roles: vec![Role::EnterpriseManager],
                scopes: Scopes {
                    enterprise: Some(e.to_string()),
                    ..Scopes::default()
                },
            },
        )
        .await
        .map_err(|err| {
            anyhow!(
                "cannot create the safety manager of {}: {err}",
                enterprise.name
            )
        })?;
    let manager = state.accounts.session_for(user).await.map_err(|err| {
        anyhow!(
            "cannot sign in the safety manager of {}: {err}",
            enterprise.name
        )
    })?;

    // Teams and their workers, registered by the office; the calendars it entered for them.
    let mut members: HashMap<&str, Vec<Member>> = HashMap::new();
    let mut office = Vec::new();
    for (t, team) in plan.teams.iter().enumerate() {
        Directory::save_team(
            &state.sync,
            admin,
            TeamRecord {
                enterprise_id: e.to_string(),
                code: team.code.clone(),
                name: team.name.clone(),
                slots: team.slots.clone(),
            },
        )
        .await
        .map_err(|err| anyhow!("cannot save team {}: {err}", team.name))?
        .map_err(|rejection| anyhow!("team {} refused: {rejection:?}", team.name))?;
        let mut roster = Vec::new();
        for (post, count) in &team.workers {
            for _ in 0..*count {
                let n = enterprise.number * 17 + t * 5 + roster.len();
                let id = Uuid::now_v7();
                let certificates = match certificate_kind(post) {
                    Some(kind) => json!([{"kind": kind,
                        "number": format!("T320621{:05}", n * 37 % 100_000),
                        "expires_on": format!("{}-{:02}-28", 2027 + n % 3, 1 + n % 12)}]),
                    None => json!([]),
                };
                let member = Member {
                    id: id.to_string(),
                    name: town.worker_name(n),
                    post: post.clone(),
                };
                office.push(change(
                    "worker.save",
                    id,
                    json!({"enterprise_id": e, "team_id": team.code, "name": member.name,
                        "post": post, "certificates": certificates}),
                    Vec::new(),
                ));
                roster.push(member);
            }
        }
        office.push(change(
            "schedule.save",
            derived(schedule_id(e, &team.code))?,
            json!({"enterprise_id": e, "team_id": team.code, "from": first.to_string(),
                "shifts": team.shifts.iter().map(|s| &s.0).collect::<Vec<_>>(),
                "slots": team.slots, "rest_weekdays": team.rest_weekdays, "rest_days": [],
                "crew": team.crew,
                "self_checks": team.self_checks.iter()
                    .map(|c| json!({"every": c.every, "template": c.template}))
                    .collect::<Vec<_>>(),
                "supersedes": 0}),
            Vec::new(),
        ));
        members.insert(team.code.as_str(), roster);
    }
    state
        .sync
        .record_office_events(admin, office)
        .await?
        .map_err(|(i, rejection)| {
            anyhow!(
                "{}: team record {i} refused: {rejection:?}",
                enterprise.name
            )
        })?;

    // What the safety manager keeps: risk points on the floor plan, the posts' cards, the
    // year's commitment, a notice of a major risk.
    // Its own photos: a photo is the evidence of whoever uploaded it, so no two enterprises'
    // managers cite the same one.
    let photo_seed = 1000 + 3 * u32::try_from(enterprise.number).unwrap_or(0);
    let plan_sha = store_photo(state, &manager, photo_seed).await?;
    let signed_sha = store_photo(state, &manager, photo_seed + 1).await?;
    let scene_sha = store_photo(state, &manager, photo_seed + 2).await?;
    let mut kept = Vec::new();
    let mut points: Vec<(Uuid, &RiskPlan)> = Vec::new();
    for risk in &plan.risk_points {
        let id = Uuid::now_v7();
        kept.push(change(
            "risk.assess",
            id,
            json!({"enterprise_id": e, "name": risk.name, "place": risk.place,
                "posts": risk.posts, "accident_types": risk.accident_types,
                "hazards": risk.hazards, "assessment": risk.assessment,
                "direct_major": risk.direct_major,
                "measures": risk.measures.iter()
                    .map(|(text, owner)| json!({"text": text, "owner": owner}))
                    .collect::<Vec<_>>(),
                "plan_point": {"x_permille": risk.at.0, "y_permille": risk.at.1},
                "supersedes": 0}),
            Vec::new(),
        ));
        points.push((id, risk));
    }
    kept.push(change(
        "floorplan.save",
        derived(anjian_sync::kinds::floorplan::floorplan_id(e))?,
        json!({"enterprise_id": e, "version": 1, "title": "厂区平面布置图", "image": plan_sha}),
        vec![plan_sha.clone()],
    ));
    for card in &plan.cards {
        let covered: Vec<String> = points
            .iter()
            .filter(|(_, risk)| risk.posts.contains(&card.post))
            .map(|(id, _)| id.to_string())
            .collect();
        kept.push(change(
            "card.publish",
            derived(card_id(e, &card.post, card.card))?,
            json!({"enterprise_id": e, "post": card.post, "card": card.card, "version": 1,
                "risk_points": covered,
                "sections": card.sections.iter()
                    .map(|(heading, items)| json!({"heading": heading, "items": items}))
                    .collect::<Vec<_>>(),
                "phones": [{"name": "企业值班电话", "number": enterprise.phone},
                           {"name": "火警", "number": "119"}, {"name": "急救", "number": "120"}]}),
            Vec::new(),
        ));
    }
    let year = today.year().to_string();
    if !town.unsigned.iter().any(|n| n == enterprise.name) {
        kept.push(change(
            "commitment.sign",
            derived(anjian_sync::kinds::commitment::commitment_id(e, &year))?,
            json!({"enterprise_id": e, "year": year, "principal": enterprise.contact,
                "pledges": plan.pledges, "signed_on": format!("{year}-01-06")}),
            vec![signed_sha.clone()],
        ));
    }
    if let Some(notice) = &plan.notice {
        let major: Vec<String> = points
            .iter()
            .filter(|(_, risk)| risk.direct_major.is_some())
            .map(|(id, _)| id.to_string())
            .collect();
        kept.push(change(
            "notice.publish",
            Uuid::now_v7(),
            json!({"enterprise_id": e, "version": 1, "title": notice.title,
                "risk_points": major, "body": notice.body,
                "contact": format!("{} {}", enterprise.contact, enterprise.phone), "public": true}),
            Vec::new(),
        ));
    }
    state
        .sync
        .record_office_events(&manager, kept)
        .await?
        .map_err(|(i, rejection)| {
            anyhow!(
                "{}: risk record {i} refused: {rejection:?}",
                enterprise.name
            )
        })?;

    // The weeks its phone recorded.
    let laggard = town.laggards.iter().any(|n| n == enterprise.name);
    let card_posts: Vec<&str> = plan
        .cards
        .iter()
        .filter(|c| c.card == CardKind::RiskNotice)
        .map(|c| c.post.as_str())
        .collect();
    let checklist: anjian_sync::kinds::inspection::Template =
        serde_json::from_str(crate::service::sync::SHIPPED_TEMPLATE)?;
    let mut events = Vec::new();
    for team in &plan.teams {
        let roster = members
            .get(team.code.as_str())
            .map_or(&[][..], Vec::as_slice);
        let history = History {
            plan,
            team,
            roster,
            enterprise: e,
            laggard,
            card_posts: &card_posts,
            scene: &scene_sha,
            signature: &signed_sha,
            checklist: &checklist,
            now,
        };
        let mut day = first;
        while day <= today {
            history.day(day, &mut events)?;
            day = match day.next_day() {
                Some(next) => next,
                None => break,
            };
        }
    }
    super::push_from_phone(state, &manager, events, true).await
}

/// A team's recorded duties, day by day.
struct History<'a> {
    plan: &'a Industry,
    team: &'a TeamPlan,
    roster: &'a [Member],
    enterprise: &'a str,
    laggard: bool,
    card_posts: &'a [&'a str],
    scene: &'a str,
    signature: &'a str,
    /// The shipped checklist, which the self-checks use.
    checklist: &'a anjian_sync::kinds::inspection::Template,
    now: i64,
}

impl History<'_> {
    /// Whether the duty named by `parts` was missed; otherwise whether it was recorded late.
    fn fate(&self, parts: &[&str]) -> Fate {
        let drawn = draw(parts);
        let (missed, late, short) = if self.laggard {
            (90, 120, 135)
        } else {
            (6, 16, 24)
        };
        match drawn {
            d if d < missed => Fate::Missed,
            d if d < late => Fate::Late,
            d if d < short => Fate::Short,
            _ => Fate::Kept,
        }
    }

    /// When a duty done at `end_ms` on `day` was captured: at once, or the next afternoon.
    fn captured(fate: Fate, end_ms: i64, day: time::Date) -> i64 {
        match fate {
            Fate::Late => china_midnight(day) + 24 * HOUR_MS + 15 * HOUR_MS,
            _ => end_ms + MINUTE_MS,
        }
    }

    fn day(&self, day: time::Date, events: &mut Vec<Captured>) -> anyhow::Result<()> {
        let weekday = day.weekday().number_from_monday();
        if self.team.rest_weekdays.contains(&weekday) {
            return Ok(());
        }
        let d = day.to_string();
        let (e, t) = (self.enterprise, self.team.code.as_str());
        let midnight = china_midnight(day);
        let host = self.roster.first().map_or("班组长", |m| m.name.as_str());
        for (shift_index, (shift, start_hour, hours)) in self.team.shifts.iter().enumerate() {
            let start = midnight + start_hour * HOUR_MS;
            let mut pre_shift = None;
            for (slot_index, slot) in self.team.slots.iter().enumerate() {
                let fate = self.fate(&[e, t, &d, shift, slot.name()]);
                if fate == Fate::Missed {
                    continue;
                }
                let begins = match slot {
                    Slot::PreShift => start - 15 * MINUTE_MS,
                    Slot::MidShift => start + hours * HOUR_MS / 2,
                    Slot::Handover => start + hours * HOUR_MS - 20 * MINUTE_MS,
                };
                let minutes = if fate == Fate::Short {
                    4
                } else {
                    6 + (slot_index as i64)
                };
                let ends = begins + minutes * MINUTE_MS;
                let at_ms = Self::captured(fate, ends, day);
                if at_ms > self.now - MINUTE_MS {
                    continue;
                }
                let id = derived(meeting_id(e, t, &d, shift, *slot))?;
                if *slot == Slot::PreShift {
                    pre_shift = Some(id);
                }
                let crew = self.crew(day, shift_index);
                let topic = self
                    .plan
                    .topics
                    .get((day.ordinal() as usize + slot_index) % self.plan.topics.len().max(1))
                    .cloned()
                    .unwrap_or_default();
                events.push(Captured {
                    kind: "meeting.submit",
                    entity_id: id,
                    payload: json!({
                        "enterprise_id": e, "team_id": t, "date": d, "shift": shift,
                        "slot": slot, "host": host, "started_at_ms": begins, "ended_at_ms": ends,
                        "place": self.plan.place,
                        "attendance": crew.iter().map(|m| json!({"name": m.name,
                            "status": "present", "fit_for_duty": true, "ppe_ok": true}))
                            .collect::<Vec<_>>(),
                        "topics": [topic],
                        "risks": self.plan.meeting_risks,
                        "handover": []
                    }),
                    blob_refs: vec![self.scene.to_string()],
                    template_ref: None,
                    at_ms,
                });
            }
            // 岗前一分钟: each of the shift's crew, before the shift.
            for (k, member) in self.crew(day, shift_index).into_iter().enumerate() {
                let fate = self.fate(&[e, t, &d, shift, &member.id]);
                if fate == Fate::Missed {
                    continue;
                }
                let begins = start - 10 * MINUTE_MS + (k as i64) * 2 * MINUTE_MS;
                let seconds = 60 + i64::from(draw(&[&member.id, &d]) % 60);
                let at_ms = Self::captured(fate, begins + seconds * 1000, day);
                if at_ms > self.now - MINUTE_MS {
                    continue;
                }
                let card = self.card_posts.contains(&member.post.as_str()).then_some(1);
                events.push(Captured {
                    kind: "briefing.record",
                    entity_id: derived(anjian_sync::kinds::briefing::briefing_id(
                        e, t, &d, shift, &member.id,
                    ))?,
                    payload: json!({
                        "enterprise_id": e, "team_id": t, "date": d, "shift": shift,
                        "worker_id": member.id, "worker_name": member.name, "post": member.post,
                        "card_version": card, "points": self.plan.points,
                        "duration_s": seconds, "started_at_ms": begins,
                        "meeting_id": pre_shift.map(|id| id.to_string()),
                    }),
                    blob_refs: Vec::new(),
                    template_ref: None,
                    at_ms,
                });
            }
        }
        // Self-checks: on the first working day of their day, week or month.
        let first_shift = self.team.shifts.first().map_or(8, |s| s.1);
        for duty in &self.team.self_checks {
            let unit = unit_start(duty.every, day);
            let first_working = {
                let mut candidate = unit;
                while self
                    .team
                    .rest_weekdays
                    .contains(&candidate.weekday().number_from_monday())
                {
                    candidate = candidate.next_day().unwrap_or(candidate);
                    if candidate >= day {
                        break;
                    }
                }
                candidate
            };
            if first_working != day {
                continue;
            }
            let every = serde_json::to_value(duty.every)?;
            let every = every.as_str().unwrap_or("week");
            if self.fate(&[e, t, &d, every, &duty.template]) == Fate::Missed {
                continue;
            }
            let begins = midnight + (first_shift + 2) * HOUR_MS;
            let ends = begins + 40 * MINUTE_MS;
            if ends + MINUTE_MS > self.now - MINUTE_MS {
                continue;
            }
            let (payload, template_ref) = self.self_check(&duty.template, host, begins, ends)?;
            events.push(Captured {
                kind: "inspection.submit",
                entity_id: Uuid::now_v7(),
                payload,
                blob_refs: vec![self.signature.to_string()],
                template_ref: Some(template_ref),
                at_ms: ends + MINUTE_MS,
            });
        }
        Ok(())
    }

    /// The workers on `shift_index` of `day`: `crew` of the roster, taking turns.
    fn crew(&self, day: time::Date, shift_index: usize) -> Vec<&Member> {
        let len = self.roster.len();
        if len == 0 {
            return Vec::new();
        }
        let crew = usize::try_from(self.team.crew).unwrap_or(len).min(len);
        let offset = day.ordinal() as usize + shift_index * crew;
        (0..crew)
            .map(|k| &self.roster[(offset + k) % len])
            .collect()
    }

    fn self_check(
        &self,
        template: &str,
        inspector: &str,
        begins: i64,
        ends: i64,
    ) -> anyhow::Result<(Value, String)> {
        let checklist = self.checklist;
        if checklist.code != template {
            return Err(anyhow!(
                "the demo's self-checks use the shipped checklist only"
            ));
        }
        let results: Vec<Value> = checklist
            .sections
            .iter()
            .flat_map(|section| &section.items)
            .map(|item| {
                let verdict = if item.code.starts_with("YA-") && !self.plan.ammonia {
                    "not_applicable"
                } else {
                    "ok"
                };
                json!({"item": item.code, "verdict": verdict})
            })
            .collect();
        let template_ref = format!("{}@{}", checklist.code, checklist.version);
        let payload = json!({
            "enterprise_id": self.enterprise, "kind": "self_check", "team_id": self.team.code,
            "template": checklist.code, "template_version": checklist.version,
            "inspectors": [{"name": inspector}], "started_at_ms": begins, "ended_at_ms": ends,
            "results": results, "summary": format!("{}自查，未发现隐患。", self.team.name),
            "signature": self.signature,
        });
        Ok((payload, template_ref))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Kept,
    Short,
    Late,
    Missed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_town_reads_and_names_an_industry_for_every_enterprise_of_the_list() {
        let town = town().unwrap();
        assert!(town.note.contains("invented"));
        let mut reader = csv::Reader::from_reader(super::super::ENTERPRISES_CSV.as_bytes());
        for row in reader.records() {
            let row = row.unwrap();
            let (name, grid, industry) = (&row[0], &row[2], &row[3]);
            assert!(town.grids.iter().any(|g| g.name == grid), "{name}: {grid}");
            assert!(town.industry(industry).is_some(), "{name}: {industry}");
            assert!(row[8].contains("虚构"), "{name}");
        }
        for listed in town
            .unrecorded
            .iter()
            .chain(&town.laggards)
            .chain(&town.unsigned)
            .chain(town.overrides.iter().map(|o| &o.enterprise))
        {
            assert!(
                super::super::ENTERPRISES_CSV.contains(listed.as_str()),
                "{listed}"
            );
        }
    }

    #[test]
    fn the_china_midnight_is_sixteen_hours_utc_the_day_before() {
        let day = time::macros::date!(2026 - 12 - 01);
        assert_eq!(
            anjian_sync::clock::china_date(china_midnight(day)),
            "2026-12-01"
        );
        assert_eq!(
            anjian_sync::clock::china_date(china_midnight(day) - 1),
            "2026-11-30"
        );
    }
}
