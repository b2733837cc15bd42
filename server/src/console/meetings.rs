//! Shift meetings (班组"3个5分钟"安全交接会): for each team the caller reads, a month calendar of
//! its slots — held, held but recorded late (补录), missed, still to come — and a meeting's page
//! with its attendance, fitness and protective equipment, topics, handover items and photos.
//!
//! Every day counts as a working day until teams keep a working calendar.

use std::collections::{BTreeMap, HashMap};

use anjian_sync::entity::EntityType;
use anjian_sync::kinds::meeting::{Meeting, Presence, Slot};
use anjian_sync::kinds::team::TeamRecord;
use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::names::Names;
use super::pages::{Frame, beijing_time, failed, message, signed_in};
use super::{State, html};
use crate::service::accounts::Caller;
use crate::service::dashboard::days_begun;
use crate::service::office::{MeetingFilter, Office};

/// The calendar's query: the month (default: this one) and, optionally, one team (by its
/// entity id).
#[derive(Debug, Default, Deserialize)]
pub struct CalendarQuery {
    #[serde(default)]
    month: String,
    #[serde(default)]
    team: String,
}

/// One cell of a calendar: a slot on a day.
struct Cell {
    /// `held`, `late` (recorded after its day), `missed`, `due` (today, not yet), `future`, or
    /// `before` the team was registered.
    status: &'static str,
    /// The meeting's id, when held.
    meeting: Option<String>,
    /// On a day before the team was registered: held then (recorded later), but not expected.
    early: bool,
}

/// One day's row.
struct Day {
    date: String,
    cells: Vec<Cell>,
}

/// A team's month.
struct TeamMonth {
    name: String,
    enterprise: String,
    slots: Vec<&'static str>,
    days: Vec<Day>,
    held: usize,
    late: usize,
    missed: usize,
}

#[derive(Template)]
#[template(path = "console/meetings.html")]
struct CalendarPage {
    frame: Frame,
    month: String,
    teams: Vec<TeamMonth>,
    error: Option<String>,
}

/// The days of `month` (`YYYY-MM`), `YYYY-MM-DD`.
fn days_of(month: &str) -> Vec<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let Ok(first) = time::Date::parse(&format!("{month}-01"), &format) else {
        return Vec::new();
    };
    let mut days = Vec::new();
    let mut day = Some(first);
    while let Some(d) = day.filter(|d| d.month() == first.month()) {
        days.push(d.to_string());
        day = d.next_day();
    }
    days
}

/// The calendar of every team the caller reads (or the one asked for), for a month.
#[handler]
pub async fn calendar(req: &Request, Data(state): Data<&State>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let query: CalendarQuery = req.params().unwrap_or_default();
    let today = anjian_sync::clock::china_date(crate::store::model::UnixMillis::now().0);
    let (month, error) = match super::hazards::month("month", &query.month) {
        Ok(Some(month)) => (month, None),
        Ok(None) => (today[..7].to_string(), None),
        Err((_, text)) => (today[..7].to_string(), Some(text)),
    };
    match teams_of(state, &caller, &query.team, &month, &today).await {
        Ok(teams) => {
            let status = if error.is_some() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            let page = CalendarPage {
                frame: Frame::of(&caller, &token),
                month,
                teams,
                error,
            };
            html(status, page.render())
        }
        Err(answer) => answer,
    }
}

async fn teams_of(
    state: &State,
    caller: &Caller,
    only: &str,
    month: &str,
    today: &str,
) -> Result<Vec<TeamMonth>, Response> {
    let names = Names::load(state).await.map_err(|err| failed(&err))?;
    let mine = caller.user.grant.buckets(&caller.user.id.to_string());
    // Each team from the day it was registered (a day before it is no missed meeting).
    let since: HashMap<String, String> = state
        .sync
        .facts(EntityType::Team)
        .await
        .map_err(|err| failed(&err))?
        .into_iter()
        .filter(|(id, fact)| {
            !fact.deleted
                && fact.buckets.iter().any(|b| mine.contains(b))
                && (only.is_empty() || id == only)
        })
        .map(|(id, fact)| (id, fact.day))
        .collect();
    let team_ids: Vec<String> = since.keys().cloned().collect();
    let teams = state
        .sync
        .entities(team_ids)
        .await
        .map_err(|err| failed(&err))?;
    // The month's meetings, read once for every team: (enterprise, team, day, slot) → the
    // meeting and whether it was recorded after its day.
    let filter = MeetingFilter {
        from: Some(format!("{month}-01")),
        to: Some(format!("{month}-31")),
        ..MeetingFilter::default()
    };
    let mut held: HashMap<(String, String, String, &'static str), (String, bool)> = HashMap::new();
    for projection in Office::all_meetings(&state.sync, caller, &filter)
        .await
        .map_err(|err| failed(&err))?
    {
        if let Ok(meeting) = serde_json::from_value::<Meeting>(projection.entity.body) {
            let received = anjian_sync::clock::china_date(projection.received_at_ms);
            let late = received > meeting.content.date;
            let content = meeting.content;
            held.entry((
                content.enterprise_id,
                content.team_id,
                content.date,
                content.slot.chinese(),
            ))
            .or_insert((projection.entity.id, late));
        }
    }
    let days = days_of(month);
    let begun = usize::try_from(days_begun(month, today)).unwrap_or(0);
    let mut shown = Vec::new();
    for team in teams {
        let registered = since.get(&team.entity.id).cloned().unwrap_or_default();
        let Ok(record) = serde_json::from_value::<TeamRecord>(team.entity.body.clone()) else {
            continue;
        };
        let mut counts = BTreeMap::new();
        let rows = days
            .iter()
            .enumerate()
            .map(|(index, date)| Day {
                date: date.clone(),
                cells: record
                    .slots
                    .iter()
                    .map(|slot| {
                        let key = (
                            record.enterprise_id.clone(),
                            record.code.clone(),
                            date.clone(),
                            slot.chinese(),
                        );
                        let found = held.get(&key);
                        let status = match found {
                            Some((_, true)) => "late",
                            Some((_, false)) => "held",
                            None if date.as_str() < registered.as_str() => "before",
                            None if date.as_str() == today => "due",
                            None if index < begun => "missed",
                            None => "future",
                        };
                        *counts.entry(status).or_insert(0) += 1;
                        Cell {
                            status,
                            meeting: found.map(|(id, _)| id.clone()),
                            early: date.as_str() < registered.as_str(),
                        }
                    })
                    .collect(),
            })
            .collect();
        shown.push(TeamMonth {
            name: record.name.clone(),
            enterprise: names.enterprise(&record.enterprise_id),
            slots: record.slots.iter().map(|s| s.chinese()).collect(),
            days: rows,
            held: counts.get("held").copied().unwrap_or(0),
            late: counts.get("late").copied().unwrap_or(0),
            missed: counts.get("missed").copied().unwrap_or(0),
        });
    }
    shown.sort_by(|a, b| (&a.enterprise, &a.name).cmp(&(&b.enterprise, &b.name)));
    Ok(shown)
}

/// One attendee as the meeting's page lists them.
struct Attendee {
    name: String,
    status: &'static str,
    fit: bool,
    ppe: bool,
}

#[derive(Template)]
#[template(path = "console/meeting.html")]
struct MeetingPage {
    frame: Frame,
    enterprise: String,
    team: String,
    date: String,
    shift: String,
    slot: &'static str,
    host: String,
    place: String,
    started: String,
    minutes: i64,
    short: bool,
    attendees: Vec<Attendee>,
    topics: Vec<String>,
    risks: Vec<String>,
    handover: Vec<String>,
    photos: Vec<String>,
    amendments: Vec<String>,
    received: String,
}

/// A meeting's page (交接会记录).
#[handler]
pub async fn show(req: &Request, Data(state): Data<&State>, Path(id): Path<String>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let found = match Office::record(&state.sync, &caller, EntityType::Meeting, &id).await {
        Ok(found) => found,
        Err(err) => return failed(&err),
    };
    let Some((projection, _)) = found else {
        return message(
            StatusCode::NOT_FOUND,
            "交接会记录不存在",
            "没有这条交接会记录，或您无权查看（404）。",
        );
    };
    let meeting: Meeting = match serde_json::from_value(projection.entity.body.clone()) {
        Ok(meeting) => meeting,
        Err(err) => return failed(&err),
    };
    let names = match Names::load(state).await {
        Ok(names) => names,
        Err(err) => return failed(&err),
    };
    let content = &meeting.content;
    let minutes = content
        .ended_at_ms
        .saturating_sub(content.started_at_ms)
        .div_euclid(60_000);
    let page = MeetingPage {
        frame: Frame::of(&caller, &token),
        enterprise: names.enterprise(&content.enterprise_id),
        team: content.team_id.clone(),
        date: content.date.clone(),
        shift: content.shift.clone(),
        slot: content.slot.chinese(),
        host: content.host.clone(),
        place: content.place.clone(),
        started: beijing_time(content.started_at_ms),
        minutes,
        short: minutes < 5,
        attendees: content
            .attendance
            .iter()
            .map(|a| Attendee {
                name: a.name.clone(),
                status: match a.status {
                    Presence::Present => "出席",
                    Presence::Absent => "缺席",
                    Presence::Late => "迟到",
                    Presence::Excused => "请假",
                },
                fit: a.fit_for_duty,
                ppe: a.ppe_ok,
            })
            .collect(),
        topics: content.topics.clone(),
        risks: content.risks.clone(),
        handover: content.handover.clone(),
        photos: meeting.photos.clone(),
        amendments: meeting
            .amendments
            .iter()
            .map(|a| a.reason.clone())
            .collect(),
        received: beijing_time(projection.received_at_ms),
    };
    html(StatusCode::OK, page.render())
}

/// The month's meetings as a ledger (班组会台账): one row a meeting, with its attendance
/// counted, for the month of the calendar's query.
async fn sheet(req: &Request, state: &State) -> Result<(super::exports::Sheet, String), Response> {
    let (caller, _) = signed_in(state, req).await?;
    let query: CalendarQuery = req.params().unwrap_or_default();
    let today = anjian_sync::clock::china_date(crate::store::model::UnixMillis::now().0);
    let month = match super::hazards::month("month", &query.month) {
        Ok(Some(month)) => month,
        Ok(None) => today[..7].to_string(),
        Err((_, text)) => return Err(message(StatusCode::BAD_REQUEST, "筛选条件有误", &text)),
    };
    let names = Names::load(state).await.map_err(|err| failed(&err))?;
    let teams: HashMap<(String, String), String> = state
        .sync
        .facts(EntityType::Team)
        .await
        .map_err(|err| failed(&err))?
        .into_iter()
        .map(|(_, fact)| ((fact.enterprise, fact.team), fact.label))
        .collect();
    let filter = MeetingFilter {
        from: Some(format!("{month}-01")),
        to: Some(format!("{month}-31")),
        ..MeetingFilter::default()
    };
    let all = Office::all_meetings(&state.sync, &caller, &filter)
        .await
        .map_err(|err| failed(&err))?;
    if let Some(refusal) = super::exports::too_many(all.len()) {
        return Err(refusal);
    }
    let count = |m: &Meeting, wanted: &dyn Fn(&anjian_sync::kinds::meeting::Attendance) -> bool| {
        m.content
            .attendance
            .iter()
            .filter(|a| wanted(a))
            .count()
            .to_string()
    };
    let mut rows = Vec::with_capacity(all.len());
    for projection in &all {
        let Ok(meeting) = serde_json::from_value::<Meeting>(projection.entity.body.clone()) else {
            continue;
        };
        let c = &meeting.content;
        let minutes = (c.ended_at_ms - c.started_at_ms).max(0) / 60_000;
        // By day, enterprise, team and shift, the slots in the order they are held.
        let rank = match c.slot {
            Slot::PreShift => 0,
            Slot::MidShift => 1,
            Slot::Handover => 2,
        };
        let order = (
            c.date.clone(),
            c.enterprise_id.clone(),
            c.team_id.clone(),
            c.shift.clone(),
            rank,
        );
        let late = anjian_sync::clock::china_date(projection.received_at_ms) > c.date;
        rows.push((
            order,
            vec![
                projection.entity.id.clone(),
                names.enterprise(&c.enterprise_id),
                teams
                    .get(&(c.enterprise_id.clone(), c.team_id.clone()))
                    .cloned()
                    .unwrap_or_else(|| c.team_id.clone()),
                c.date.clone(),
                c.shift.clone(),
                c.slot.chinese().to_string(),
                c.host.clone(),
                beijing_time(c.started_at_ms),
                minutes.to_string(),
                c.attendance.len().to_string(),
                count(&meeting, &|a| {
                    matches!(a.status, Presence::Present | Presence::Late)
                }),
                count(&meeting, &|a| a.status == Presence::Absent),
                count(&meeting, &|a| !a.fit_for_duty),
                count(&meeting, &|a| !a.ppe_ok),
                c.topics.join("；"),
                if late { "是" } else { "否" }.to_string(),
                if projection.missing_blobs.is_empty() {
                    "是"
                } else {
                    "否"
                }
                .to_string(),
            ],
        ));
    }
    rows.sort();
    let rows = rows.into_iter().map(|(_, row)| row).collect();
    let sheet = super::exports::Sheet {
        name: "班组会台账",
        counts: &[8, 9, 10, 11, 12, 13],
        header: [
            "编号",
            "企业",
            "班组",
            "日期",
            "班次",
            "会次",
            "主持人",
            "开始时间",
            "时长（分钟）",
            "应到人数",
            "实到人数",
            "缺席人数",
            "身体状况异常",
            "劳保用品不合格",
            "议题",
            "事后补录",
            "照片齐全",
        ]
        .map(str::to_string)
        .to_vec(),
        rows,
    };
    Ok((sheet, month))
}

/// The month's meetings as `.xlsx`.
#[handler]
pub async fn ledger_xlsx(req: &Request, Data(state): Data<&State>) -> Response {
    match sheet(req, state).await {
        Ok((sheet, month)) => super::exports::xlsx_download(&sheet, &format!("班组会台账-{month}")),
        Err(answer) => answer,
    }
}

/// The month's meetings as CSV (UTF-8 with BOM).
#[handler]
pub async fn ledger_csv(req: &Request, Data(state): Data<&State>) -> Response {
    match sheet(req, state).await {
        Ok((sheet, month)) => super::exports::csv_download(&sheet, &format!("班组会台账-{month}")),
        Err(answer) => answer,
    }
}
