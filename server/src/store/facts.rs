//! Office facts (台账要素): for each record the office's ledgers and dashboard filter and count
//! on, a compact row kept beside its projection, and the counters that follow those rows.
//!
//! A [`Fact`] is derived from a projection (and the record's previous fact, which remembers when
//! a hazard was reported and closed) in the same write transaction that stores the projection.
//! Each fact contributes +1 to a few counters ([`counts`]): keyed `metric|period|grid`
//! (a month `2026-12`, a day for deadlines and for teams' registration, `-` for "now"), or
//! `metric|period|grid|enterprise`
//! for the enterprises inspected in a month (a distinct count is the number of such keys). A
//! change takes the old fact's contributions away and adds the new one's, so the dashboard reads
//! a few hundred counters, whatever the store holds, and the ledgers filter facts without
//! decoding a projection they do not show.

use anjian_sync::entity::EntityType;
use anjian_sync::protocol::Projection;
use serde::{Deserialize, Serialize};

/// What the office counts and filters on, for one record. Its buckets are named (`B` is
/// `String`) where the office reads it, and numbered (`u32`, the bucket index's numbers) where
/// the store keeps it: a record's buckets are most of its fact's bytes when named.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact<B = String> {
    /// The grid (网格) the record lies in (`""` when none).
    pub grid: String,
    /// Its enterprise (`""` when none).
    pub enterprise: String,
    /// Its team, for meetings and teams.
    pub team: String,
    /// The buckets that read it.
    pub buckets: Vec<B>,
    /// Whether the record is deleted.
    pub deleted: bool,
    /// A hazard's state, an inspection's kind, an enterprise's risk colour, a sync issue's
    /// `open` or `handled`.
    pub state: String,
    /// A hazard's level (`general`, `major`); a sync issue's verdict (`conflict`,
    /// `quarantined`).
    pub level: String,
    /// When it happened, ms: an inspection's start, else the capture time of its first event
    /// seen.
    pub at_ms: i64,
    /// The day it happened, China time: a hazard's report, an inspection's start, a meeting's
    /// working day. `YYYY-MM-DD`.
    pub day: String,
    /// The day a hazard was closed (销号), when it was.
    pub closed_day: String,
    /// A hazard's deadline (整改期限), `YYYY-MM-DD`, when it has one.
    pub deadline: String,
    /// Whether a major hazard has both reports (双报告).
    pub double_reported: bool,
    /// Whether every photo it cites is held (evidence complete).
    pub evidence_complete: bool,
    /// A team's meetings per working day.
    pub slots: u32,
    /// The record a hazard was found in (its inspection), when it names one; the record a sync
    /// issue is about.
    pub parent: String,
    /// An enterprise's unified social credit code (统一社会信用代码); a sync issue's reason code.
    pub code: String,
    /// The record's own words to search and show (a hazard's description, an enterprise's
    /// name), cut to 200 characters.
    pub label: String,
}

impl<B> Fact<B> {
    /// The same fact with its buckets named or numbered by `f`.
    pub fn map_buckets<C, E>(self, f: impl FnMut(B) -> Result<C, E>) -> Result<Fact<C>, E> {
        Ok(Fact {
            buckets: self.buckets.into_iter().map(f).collect::<Result<_, _>>()?,
            grid: self.grid,
            enterprise: self.enterprise,
            team: self.team,
            deleted: self.deleted,
            state: self.state,
            level: self.level,
            at_ms: self.at_ms,
            day: self.day,
            closed_day: self.closed_day,
            deadline: self.deadline,
            double_reported: self.double_reported,
            evidence_complete: self.evidence_complete,
            slots: self.slots,
            parent: self.parent,
            code: self.code,
            label: self.label,
        })
    }
}

/// A stored [`Fact`] as a scan reads it: the same fields in the same order, its text borrowed
/// from the stored bytes and its buckets numbered, so that filtering a list allocates nothing
/// per record but the bucket list.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[allow(missing_docs, reason = "the fields are those of `Fact`")]
pub struct FactView<'a> {
    #[serde(borrow)]
    pub grid: &'a str,
    pub enterprise: &'a str,
    pub team: &'a str,
    pub buckets: Vec<u32>,
    pub deleted: bool,
    pub state: &'a str,
    pub level: &'a str,
    pub at_ms: i64,
    pub day: &'a str,
    pub closed_day: &'a str,
    pub deadline: &'a str,
    pub double_reported: bool,
    pub evidence_complete: bool,
    pub slots: u32,
    pub parent: &'a str,
    pub code: &'a str,
    pub label: &'a str,
}

#[cfg(test)]
impl FactView<'_> {
    /// The fact itself (a test holds the view's fields to the fact's, in order).
    pub fn owned(&self) -> Fact<u32> {
        Fact {
            grid: self.grid.into(),
            enterprise: self.enterprise.into(),
            team: self.team.into(),
            buckets: self.buckets.clone(),
            deleted: self.deleted,
            state: self.state.into(),
            level: self.level.into(),
            at_ms: self.at_ms,
            day: self.day.into(),
            closed_day: self.closed_day.into(),
            deadline: self.deadline.into(),
            double_reported: self.double_reported,
            evidence_complete: self.evidence_complete,
            slots: self.slots,
            parent: self.parent.into(),
            code: self.code.into(),
            label: self.label.into(),
        }
    }
}

/// The types the office keeps facts for. Risk points come before enterprises wherever facts
/// are made in turn: an enterprise's colour follows its risk points' counters.
pub const TYPES: [EntityType; 8] = [
    EntityType::Hazard,
    EntityType::Inspection,
    EntityType::Meeting,
    EntityType::Briefing,
    EntityType::RiskPoint,
    EntityType::Enterprise,
    EntityType::Team,
    EntityType::SyncIssue,
];

/// The four colours, highest first.
pub const COLOURS: [&str; 4] = ["red", "orange", "yellow", "blue"];

/// The counter of an enterprise's live risk points of `colour`.
pub fn enterprise_risk_key(colour: &str, enterprise: &str) -> String {
    key(&format!("enterprise_risk:{colour}"), "-", enterprise)
}

/// An enterprise's colour: the office's when it gives a reason for it (or when the enterprise
/// has no live risk point), else its highest live risk point's (`highest`).
pub fn enterprise_colour(body: &serde_json::Value, highest: Option<&str>) -> String {
    let office = text(body, "risk_colour");
    let overridden = body["risk_colour_reason"].is_string() && !office.is_empty();
    match highest {
        Some(colour) if !overridden => colour.to_string(),
        _ => office,
    }
}

fn text(body: &serde_json::Value, field: &str) -> String {
    body[field].as_str().unwrap_or_default().to_string()
}

/// The month of a `YYYY-MM-DD` day (`YYYY-MM`), or `""`.
pub fn month(day: &str) -> &str {
    day.get(..7).unwrap_or_default()
}

fn cut(text: &str) -> String {
    text.chars().take(200).collect()
}

/// The fact of `projection`, given its previous fact (`old`) and the grid of its enterprise
/// (for records whose scope does not name one); `None` for types the office does not count.
pub fn derive<B>(
    projection: &Projection,
    old: Option<&Fact<B>>,
    enterprise_grid: impl FnOnce(&str) -> Option<String>,
    highest_risk: impl FnOnce(&str) -> Option<&'static str>,
) -> Option<Fact> {
    let entity = &projection.entity;
    if !TYPES.contains(&entity.entity_type) {
        return None;
    }
    let body = &entity.body;
    let when = anjian_sync::clock::china_date(projection.captured_at_ms);
    let mut fact = Fact {
        grid: entity.scope.grid.clone().unwrap_or_default(),
        enterprise: entity.scope.enterprise.clone().unwrap_or_default(),
        team: entity.scope.team.clone().unwrap_or_default(),
        buckets: projection.buckets.clone(),
        deleted: entity.deleted,
        at_ms: old.map_or(projection.captured_at_ms, |o| o.at_ms),
        evidence_complete: projection.missing_blobs.is_empty(),
        ..Fact::default()
    };
    match entity.entity_type {
        EntityType::Hazard => {
            fact.state = text(body, "state");
            fact.level = text(body, "level");
            fact.deadline = text(body, "deadline");
            fact.double_reported = !body["double_report"].is_null();
            fact.label = cut(&text(body, "description"));
            fact.parent = text(body, "inspection_id");
            // Reported when first seen; closed when first seen closed.
            fact.day = old.map_or(when.clone(), |o| o.day.clone());
            fact.closed_day = match old {
                Some(o) if !o.closed_day.is_empty() => o.closed_day.clone(),
                _ if fact.state == "closed" => when,
                _ => String::new(),
            };
        }
        EntityType::Inspection => {
            fact.state = text(body, "kind");
            fact.at_ms = body["started_at_ms"]
                .as_i64()
                .unwrap_or(projection.captured_at_ms);
            fact.day = anjian_sync::clock::china_date(fact.at_ms);
            fact.enterprise = text(body, "enterprise_id");
            // A self-check's team (none: the enterprise's) and checklist, for compliance.
            fact.team = text(body, "team_id");
            fact.code = text(body, "template");
        }
        EntityType::Meeting => {
            fact.day = text(body, "date");
            fact.enterprise = text(body, "enterprise_id");
            fact.team = text(body, "team_id");
            // The duty it answers: its shift and slot; shorter than five minutes is flagged.
            fact.code = text(body, "shift").trim().to_string();
            fact.state = text(body, "slot");
            let minutes = body["ended_at_ms"]
                .as_i64()
                .unwrap_or(0)
                .saturating_sub(body["started_at_ms"].as_i64().unwrap_or(0));
            if minutes < 5 * 60_000 {
                fact.level = "short".to_string();
            }
        }
        EntityType::Briefing => {
            fact.day = text(body, "date");
            fact.enterprise = text(body, "enterprise_id");
            fact.team = text(body, "team_id");
            fact.code = text(body, "shift").trim().to_string();
        }
        EntityType::Enterprise => {
            fact.grid = text(body, "grid_id");
            fact.enterprise = entity.id.clone();
            fact.state = enterprise_colour(body, highest_risk(&entity.id));
            fact.code = text(body, "credit_code");
            fact.label = cut(&text(body, "name"));
        }
        EntityType::Team => {
            // Registered when first seen: its meetings are expected from that day (an earlier
            // version kept no day for a team, only when it was first seen).
            fact.day = match old {
                Some(o) if !o.day.is_empty() => o.day.clone(),
                Some(o) => anjian_sync::clock::china_date(o.at_ms),
                None => when,
            };
            fact.enterprise = text(body, "enterprise_id");
            fact.team = text(body, "code");
            fact.slots = body["slots"]
                .as_array()
                .map_or(0, |s| u32::try_from(s.len()).unwrap_or(u32::MAX));
            fact.label = cut(&text(body, "name"));
        }
        EntityType::RiskPoint => {
            // A retired risk point is kept, but counts in no colour.
            fact.state = if body["retired"].is_null() {
                text(body, "colour")
            } else {
                "retired".to_string()
            };
            fact.level = text(body, "level");
            fact.label = cut(&text(body, "name"));
            fact.day = when;
        }
        EntityType::SyncIssue => {
            fact.state = if body["handled"].is_null() {
                "open"
            } else {
                "handled"
            }
            .to_string();
            fact.level = text(body, "verdict");
            fact.code = text(&body["reason"], "code");
            fact.parent = text(body, "about_entity");
            fact.label = cut(&text(&body["event"], "kind"));
            fact.day = when;
        }
        _ => return None,
    }
    if fact.grid.is_empty() && !fact.enterprise.is_empty() {
        fact.grid = enterprise_grid(&fact.enterprise).unwrap_or_default();
    }
    Some(fact)
}

/// The counter of the meeting a team held in `slot` of `shift` on `day`:
/// `duty_meeting|day|enterprise/team/shift/slot` (ids have no `/`; the shift's name is between the
/// team and the slot).
pub fn duty_meeting_key(
    day: &str,
    enterprise: &str,
    team: &str,
    shift: &str,
    slot: &str,
) -> String {
    format!("duty_meeting|{day}|{enterprise}/{team}/{shift}/{slot}")
}

/// The companion of a [`duty_meeting_key`] counting that meeting as recorded late (补录):
/// `duty_meeting_late|` and the same rest.
pub fn late_meeting_key(meeting_key: &str) -> String {
    let rest = meeting_key.split_once('|').map_or("", |(_, rest)| rest);
    format!("duty_meeting_late|{rest}")
}

/// The counter of self-checks (自查) with checklist `template` started on `day` by `team` of
/// `enterprise` (`team` empty: by the enterprise): `duty_self_check|day|enterprise/team/template`.
pub fn duty_self_check_key(day: &str, enterprise: &str, team: &str, template: &str) -> String {
    format!("duty_self_check|{day}|{enterprise}/{team}/{template}")
}

/// A team's counter of `metric` on `day`: `metric|day|enterprise/team`.
pub fn duty_team_key(metric: &str, day: &str, enterprise: &str, team: &str) -> String {
    format!("{metric}|{day}|{enterprise}/{team}")
}

/// Whether a duty was recorded after its day (补录): first captured after noon of the next day,
/// China time, so that a night shift's meetings after midnight are on time. Twelve hours
/// earlier than the capture falls on a day after the duty's exactly then.
fn late<B>(fact: &Fact<B>) -> bool {
    const TWELVE_HOURS_MS: i64 = 12 * 3_600_000;
    anjian_sync::clock::china_date(fact.at_ms.saturating_sub(TWELVE_HOURS_MS)).as_str()
        > fact.day.as_str()
}

/// A counter's key.
pub fn key(metric: &str, period: &str, grid: &str) -> String {
    format!("{metric}|{period}|{grid}")
}

/// The counters a record of `entity_type` with this fact adds one to: none for a deleted
/// record or a void hazard (作废).
pub fn counts<B>(entity_type: EntityType, fact: &Fact<B>) -> Vec<String> {
    if fact.deleted || (entity_type == EntityType::Hazard && fact.state == "void") {
        return Vec::new();
    }
    let grid = fact.grid.as_str();
    let month = month(&fact.day);
    let mut keys = Vec::new();
    let evidence = |keys: &mut Vec<String>| {
        keys.push(key("records", month, grid));
        if fact.evidence_complete {
            keys.push(key("records_complete", month, grid));
        }
    };
    match entity_type {
        EntityType::Hazard => {
            keys.push(key("hazards_found", month, grid));
            let open = fact.state != "closed";
            if fact.state == "closed" {
                keys.push(key("hazards_found_closed", month, grid));
                keys.push(key("hazards_closed", self::month(&fact.closed_day), grid));
            }
            if open {
                keys.push(key("hazards_open", "-", grid));
                if !fact.deadline.is_empty() {
                    keys.push(key("open_by_deadline", &fact.deadline, grid));
                }
                if fact.level == "major" {
                    keys.push(key("major_open", "-", grid));
                    if fact.double_reported {
                        keys.push(key("major_open_double_reported", "-", grid));
                    }
                }
            }
            evidence(&mut keys);
        }
        EntityType::Inspection => {
            keys.push(key("inspections", month, grid));
            keys.push(key(&format!("inspections:{}", fact.state), month, grid));
            if fact.state == "self_check" {
                keys.push(duty_self_check_key(
                    &fact.day,
                    &fact.enterprise,
                    &fact.team,
                    &fact.code,
                ));
            } else {
                // Inspected by the office, not the enterprise's own check: inspectors' lists.
                keys.push(format!(
                    "office_inspected|{month}|{grid}|{}",
                    fact.enterprise
                ));
            }
            evidence(&mut keys);
        }
        EntityType::Meeting => {
            keys.push(key("meetings", month, grid));
            let duty = duty_meeting_key(
                &fact.day,
                &fact.enterprise,
                &fact.team,
                &fact.code,
                &fact.state,
            );
            if late(fact) {
                keys.push(late_meeting_key(&duty));
            }
            keys.push(duty);
            if fact.level == "short" {
                keys.push(duty_team_key(
                    "duty_meeting_short",
                    &fact.day,
                    &fact.enterprise,
                    &fact.team,
                ));
            }
            evidence(&mut keys);
        }
        EntityType::Briefing => {
            keys.push(duty_team_key(
                "duty_briefing",
                &fact.day,
                &fact.enterprise,
                &fact.team,
            ));
            if late(fact) {
                keys.push(duty_team_key(
                    "duty_briefing_late",
                    &fact.day,
                    &fact.enterprise,
                    &fact.team,
                ));
            }
        }
        EntityType::Enterprise => keys.push(key("enterprises", "-", grid)),
        EntityType::RiskPoint if COLOURS.contains(&fact.state.as_str()) => {
            keys.push(key(&format!("risk_points:{}", fact.state), "-", grid));
            keys.push(enterprise_risk_key(&fact.state, &fact.enterprise));
        }
        EntityType::SyncIssue if fact.state == "open" => {
            keys.push(key("sync_issues_open", "-", grid));
        }
        EntityType::Team => {
            for _ in 0..fact.slots {
                keys.push(key("meeting_slots", &fact.day, grid));
            }
        }
        _ => {}
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use anjian_sync::clock::ClockFlag;
    use anjian_sync::entity::{Entity, EntityScope};
    use serde_json::json;

    const DEC_1: i64 = 1_764_547_200_000; // 2025-12-01T00:00:00Z, 08:00 in China
    const DAY: i64 = 86_400_000;

    fn hazard(body: serde_json::Value, at: i64) -> Projection {
        Projection {
            entity: Entity {
                id: "h".into(),
                entity_type: EntityType::Hazard,
                scope: EntityScope {
                    grid: Some("g1".into()),
                    enterprise: Some("e1".into()),
                    ..EntityScope::default()
                },
                deleted: false,
                body,
                blobs: Vec::new(),
            },
            rev: 1,
            buckets: vec!["town".into()],
            last_event_id: "e".into(),
            captured_at_ms: at,
            received_at_ms: at,
            clock: ClockFlag::Ok,
            missing_blobs: Vec::new(),
        }
    }

    #[test]
    fn a_hazard_remembers_when_it_was_reported_and_closed() {
        let reported = hazard(
            json!({"state": "reported", "level": "major", "deadline": "2025-12-10"}),
            DEC_1,
        );
        let first = derive(&reported, None::<&Fact>, |_| None, |_| None).unwrap();
        assert_eq!(first.day, "2025-12-01");
        assert_eq!(
            counts(EntityType::Hazard, &first),
            [
                "hazards_found|2025-12|g1",
                "hazards_open|-|g1",
                "open_by_deadline|2025-12-10|g1",
                "major_open|-|g1",
                "records|2025-12|g1",
                "records_complete|2025-12|g1",
            ]
        );
        let closed = hazard(
            json!({"state": "closed", "level": "major", "double_report": {}}),
            DEC_1 + 40 * DAY,
        );
        let second = derive(&closed, Some(&first), |_| None, |_| None).unwrap();
        assert_eq!(
            (second.day.as_str(), second.closed_day.as_str()),
            ("2025-12-01", "2026-01-10")
        );
        assert_eq!(
            counts(EntityType::Hazard, &second),
            [
                "hazards_found|2025-12|g1",
                "hazards_found_closed|2025-12|g1",
                "hazards_closed|2026-01|g1",
                "records|2025-12|g1",
                "records_complete|2025-12|g1",
            ]
        );
        let void = hazard(json!({"state": "void", "level": "general"}), DEC_1 + DAY);
        let voided = derive(&void, Some(&first), |_| None, |_| None).unwrap();
        assert!(
            counts(EntityType::Hazard, &voided).is_empty(),
            "a void hazard counts nothing"
        );
    }

    #[test]
    fn a_record_without_a_grid_takes_its_enterprises() {
        let mut meeting = hazard(
            json!({"date": "2025-12-02", "enterprise_id": "e9", "team_id": "t1", "shift": "早班",
                "slot": "pre_shift", "started_at_ms": DEC_1, "ended_at_ms": DEC_1 + 300_000}),
            DEC_1,
        );
        meeting.entity.entity_type = EntityType::Meeting;
        meeting.entity.scope.grid = None;
        meeting.missing_blobs = vec!["a".repeat(64)];
        let fact = derive(
            &meeting,
            None::<&Fact>,
            |e| (e == "e9").then(|| "g7".to_string()),
            |_| None,
        )
        .unwrap();
        assert_eq!(fact.grid, "g7");
        assert_eq!(
            counts(EntityType::Meeting, &fact),
            [
                "meetings|2025-12|g7",
                "duty_meeting|2025-12-02|e9/t1/早班/pre_shift",
                "records|2025-12|g7"
            ],
            "incomplete evidence is not counted complete"
        );
    }

    #[test]
    fn a_duty_recorded_after_its_day_is_late_and_a_meeting_under_five_minutes_short() {
        let mut meeting = hazard(
            json!({"date": "2025-11-30", "enterprise_id": "e1", "team_id": "t1", "shift": "夜班",
                "slot": "handover", "started_at_ms": DEC_1, "ended_at_ms": DEC_1 + 299_999}),
            // 12:00:01 on 1 December, China time: after noon of the next day, late.
            DEC_1 + 4 * 3_600_000 + 1_000,
        );
        meeting.entity.entity_type = EntityType::Meeting;
        let fact = derive(&meeting, None::<&Fact>, |_| None, |_| None).unwrap();
        assert_eq!(
            counts(EntityType::Meeting, &fact),
            [
                "meetings|2025-11|g1",
                "duty_meeting_late|2025-11-30|e1/t1/夜班/handover",
                "duty_meeting|2025-11-30|e1/t1/夜班/handover",
                "duty_meeting_short|2025-11-30|e1/t1",
                "records|2025-11|g1",
                "records_complete|2025-11|g1",
            ]
        );
        // A night shift's meeting of 30 November captured at 11:59 the next morning is on time.
        let mut night = meeting.clone();
        night.captured_at_ms = DEC_1 + 4 * 3_600_000 - 60_000;
        let fact = derive(&night, None::<&Fact>, |_| None, |_| None).unwrap();
        assert!(
            !counts(EntityType::Meeting, &fact)
                .iter()
                .any(|k| k.starts_with("duty_meeting_late")),
            "on time"
        );
        // Captured on its own day (08:00 China time on 2025-12-01): on time.
        let mut briefing = hazard(
            json!({"date": "2025-12-01", "enterprise_id": "e1", "team_id": "t1", "shift": "早班"}),
            DEC_1,
        );
        briefing.entity.entity_type = EntityType::Briefing;
        let fact = derive(&briefing, None::<&Fact>, |_| None, |_| None).unwrap();
        assert_eq!(
            counts(EntityType::Briefing, &fact),
            ["duty_briefing|2025-12-01|e1/t1"]
        );
    }

    #[test]
    fn a_stored_fact_reads_back_as_its_borrowed_view() {
        let fact = Fact {
            grid: "g1".into(),
            enterprise: "e1".into(),
            team: "t1".into(),
            buckets: vec![7, 70_000],
            deleted: true,
            state: "rectifying".into(),
            level: "major".into(),
            at_ms: -5,
            day: "2026-12-01".into(),
            closed_day: "2026-12-02".into(),
            deadline: "2026-12-03".into(),
            double_reported: true,
            evidence_complete: true,
            slots: 3,
            parent: "p".into(),
            code: "c".into(),
            label: "配电箱未接地".into(),
        };
        let bytes = crate::store::codec::encode(&fact).unwrap();
        let view: FactView<'_> = crate::store::codec::decode_borrowed("fact", &bytes).unwrap();
        assert_eq!(view.owned(), fact);
    }

    #[test]
    fn an_open_sync_issue_counts_until_it_is_handled() {
        let mut issue = hazard(
            json!({"verdict": "conflict", "reason": {"code": "stale-transition", "message": ""},
                "about_entity": "h9", "author": "u1", "event": {"kind": "hazard.transition"}}),
            DEC_1,
        );
        issue.entity.entity_type = EntityType::SyncIssue;
        let open = derive(&issue, None::<&Fact>, |_| None, |_| None).unwrap();
        assert_eq!(
            (open.state.as_str(), open.level.as_str(), open.code.as_str()),
            ("open", "conflict", "stale-transition")
        );
        assert_eq!(open.parent, "h9");
        assert_eq!(
            counts(EntityType::SyncIssue, &open),
            ["sync_issues_open|-|g1"]
        );
        issue.entity.body["handled"] = json!({"by": "admin", "note": "已处理", "event_id": "e"});
        let handled = derive(&issue, Some(&open), |_| None, |_| None).unwrap();
        assert_eq!(handled.state, "handled");
        assert!(counts(EntityType::SyncIssue, &handled).is_empty());
    }
}
