//! What is due for the signed-in person today (今日待办): what a mini-program's home page shows.
//!
//! - A team lead (班组长): today's shift meetings of their team, held or not, and its
//!   pre-shift briefings (岗前一分钟); meetings of the last seven days not held (still to be
//!   recorded, 补录).
//! - A safety manager (企业安全员): the self-checks their teams' schedules make due today, this
//!   week or this month and not yet done; hazards to rectify (overdue when past their deadline);
//!   workers' certificates expired or expiring within 30 days; the year's commitment
//!   (主体责任告知承诺) when it is missing.
//! - An inspector (网格员): hazards awaiting their acceptance (验收) in their grids; the
//!   enterprises of their grids not inspected this month.
//!
//! Each is read from the schedules, the office's counters (the person's own team's or
//! enterprise's, day by day) and facts, and the records of the person's scope.

use std::collections::BTreeSet;

use anjian_sync::access::Role;
use anjian_sync::entity::EntityType;
use anjian_sync::kinds::schedule::{Day, Every, Schedule, unit_start};
use anjian_sync::kinds::worker::Worker;
use time::Date;

use super::accounts::Caller;
use super::office::Office;
use super::sync::{SyncError, SyncService};
use crate::store::facts::{duty_meeting_key, duty_self_check_key, duty_team_key};

/// One thing due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueItem {
    /// What it is: `meeting`, `briefings`, `self_check`, `rectify`, `certificate`,
    /// `commitment`, `accept`, `inspect`.
    pub kind: &'static str,
    /// What to do, in Chinese.
    pub title: String,
    /// The record it is about, when there is one (a hazard, a worker, an enterprise).
    pub id: Option<String>,
    /// The day it is due, `YYYY-MM-DD`.
    pub day: String,
    /// Whether it is past its day.
    pub overdue: bool,
    /// Whether it is done (today's meetings are listed done or not).
    pub done: bool,
}

impl Office {
    /// What is due for `caller` on `today`.
    pub async fn due(
        sync: &SyncService,
        caller: &Caller,
        today: Date,
    ) -> Result<Vec<DueItem>, SyncError> {
        let grant = &caller.user.grant;
        let scopes = grant.scopes();
        let day = today.to_string();
        let mut items = Vec::new();

        // Team leads: their team's meetings and briefings.
        if let (true, Some(enterprise), Some(team)) =
            (grant.has(Role::TeamLead), &scopes.enterprise, &scopes.team)
        {
            let schedules = Office::visible(sync, caller, EntityType::Schedule).await?;
            let schedule = schedules
                .into_iter()
                .filter_map(|p| serde_json::from_value::<Schedule>(p.entity.body).ok())
                .find(|s| s.enterprise_id == *enterprise && s.team_id == *team);
            if let Some(schedule) = schedule {
                let week: Vec<Date> = (0..=7)
                    .filter_map(|back| today.checked_sub(time::Duration::days(back)))
                    .collect();
                // The team's own counters, a day at a time (`…|day|enterprise/team/` and the
                // briefings' exact key): nothing of other teams is read.
                let mut done = std::collections::HashMap::new();
                for date in &week {
                    let d = date.to_string();
                    done.extend(
                        sync.counts(&format!("duty_meeting|{d}|{enterprise}/{team}/"))
                            .await?,
                    );
                    let briefed = duty_team_key("duty_briefing", &d, enterprise, team);
                    done.extend(
                        sync.counts(&briefed)
                            .await?
                            .into_iter()
                            .filter(|(key, _)| *key == briefed),
                    );
                }
                for date in &week {
                    let d = date.to_string();
                    for (shift, slot) in schedule.due_on(&d).meetings {
                        let held = done.contains_key(&duty_meeting_key(
                            &d,
                            enterprise,
                            team,
                            &shift,
                            slot.name(),
                        ));
                        if *date == today || !held {
                            items.push(DueItem {
                                kind: "meeting",
                                title: format!("{shift}{}", slot.chinese()),
                                id: None,
                                day: d.clone(),
                                overdue: *date < today,
                                done: held,
                            });
                        }
                    }
                }
                let due = schedule.due_on(&day).briefings;
                if due > 0 {
                    let briefed = done
                        .get(&duty_team_key("duty_briefing", &day, enterprise, team))
                        .copied()
                        .unwrap_or(0);
                    items.push(DueItem {
                        kind: "briefings",
                        title: format!("岗前一分钟 {briefed}/{due} 人"),
                        id: None,
                        day: day.clone(),
                        overdue: false,
                        done: briefed >= u64::from(due),
                    });
                }
            }
        }

        // Safety managers: self-checks, hazards, certificates, the commitment.
        if let (true, Some(enterprise)) = (grant.has(Role::EnterpriseManager), &scopes.enterprise) {
            let schedules: Vec<Schedule> = Office::visible(sync, caller, EntityType::Schedule)
                .await?
                .into_iter()
                .filter_map(|p| serde_json::from_value::<Schedule>(p.entity.body).ok())
                .filter(|s| s.enterprise_id == *enterprise)
                .collect();
            let month_start = unit_start(Every::Month, today);
            // The enterprise's own self-check counters, a day at a time from the earliest unit
            // that may be due (this week's Monday or the month's first).
            let mut counted = std::collections::HashMap::new();
            let mut date = unit_start(Every::Week, today).min(month_start);
            while date <= today {
                counted.extend(
                    sync.counts(&format!("duty_self_check|{date}|{enterprise}/"))
                        .await?,
                );
                date = match date.next_day() {
                    Some(next) => next,
                    None => break,
                };
            }
            let mut owed: BTreeSet<(String, Every, String)> = BTreeSet::new();
            for schedule in &schedules {
                if let Day::Working(version) = schedule.day(&day) {
                    for duty in &version.self_checks {
                        owed.insert((schedule.team_id.clone(), duty.every, duty.template.clone()));
                    }
                }
            }
            for (team, every, template) in owed {
                let start = unit_start(every, today);
                let mut date = start;
                let mut done = false;
                while date <= today {
                    let d = date.to_string();
                    if counted.contains_key(&duty_self_check_key(&d, enterprise, &team, &template))
                        || counted.contains_key(&duty_self_check_key(&d, enterprise, "", &template))
                    {
                        done = true;
                        break;
                    }
                    date = match date.next_day() {
                        Some(next) => next,
                        None => break,
                    };
                }
                if !done {
                    let when = match every {
                        Every::Day => "今日",
                        Every::Week => "本周",
                        Every::Month => "本月",
                    };
                    items.push(DueItem {
                        kind: "self_check",
                        title: format!("{when}自查（{team}，检查表 {template}）"),
                        id: None,
                        day: day.clone(),
                        overdue: false,
                        done: false,
                    });
                }
            }
            let wanted = enterprise.clone();
            let today_s = day.clone();
            let hazards = sync
                .facts_where(EntityType::Hazard, None, 500, None, move |f| {
                    f.enterprise == wanted
                        && !f.deleted
                        && matches!(f.state, "reported" | "plan_pending" | "rectifying")
                })
                .await?;
            for projection in sync.entities(hazards).await? {
                let id = projection.entity.id.clone();
                let body = &projection.entity.body;
                let deadline = body["deadline"].as_str().unwrap_or_default().to_string();
                items.push(DueItem {
                    kind: "rectify",
                    title: format!(
                        "整改隐患：{}",
                        body["description"].as_str().unwrap_or_default()
                    ),
                    id: Some(id),
                    overdue: !deadline.is_empty() && deadline < today_s,
                    day: if deadline.is_empty() {
                        today_s.clone()
                    } else {
                        deadline
                    },
                    done: false,
                });
            }
            let soon = today
                .checked_add(time::Duration::days(30))
                .unwrap_or(today)
                .to_string();
            for p in Office::visible(sync, caller, EntityType::Worker).await? {
                let Ok(worker) = serde_json::from_value::<Worker>(p.entity.body.clone()) else {
                    continue;
                };
                if worker.enterprise_id != *enterprise {
                    continue;
                }
                for c in worker.certificates.iter().filter(|c| c.expires_on <= soon) {
                    items.push(DueItem {
                        kind: "certificate",
                        title: format!("{} 的{}（{}）到期", worker.name, c.kind, c.number),
                        id: Some(p.entity.id.clone()),
                        day: c.expires_on.clone(),
                        overdue: c.expires_on < day,
                        done: false,
                    });
                }
            }
            let year = day.get(..4).unwrap_or_default();
            let signed = Office::commitments(sync, caller, year)
                .await?
                .contains_key(enterprise.as_str());
            if !signed {
                items.push(DueItem {
                    kind: "commitment",
                    title: format!("{year} 年主体责任告知承诺书未签署"),
                    id: Some(enterprise.clone()),
                    day: day.clone(),
                    overdue: false,
                    done: false,
                });
            }
        }

        // Inspectors: acceptances and enterprises not inspected this month.
        if grant.has(Role::Inspector) {
            let town = scopes.town;
            let grids: BTreeSet<String> = scopes.grids.iter().cloned().collect();
            let mine = grids.clone();
            let waiting = sync
                .facts_where(EntityType::Hazard, None, 500, None, move |f| {
                    f.state == "pending_acceptance" && !f.deleted && (town || mine.contains(f.grid))
                })
                .await?;
            for projection in sync.entities(waiting).await? {
                items.push(DueItem {
                    kind: "accept",
                    title: format!(
                        "验收隐患：{}",
                        projection.entity.body["description"]
                            .as_str()
                            .unwrap_or_default()
                    ),
                    id: Some(projection.entity.id.clone()),
                    day: day.clone(),
                    overdue: false,
                    done: false,
                });
            }
            let month = day.get(..7).unwrap_or_default().to_string();
            let inspected: BTreeSet<String> = sync
                .counts(&format!("office_inspected|{month}|"))
                .await?
                .into_iter()
                .filter_map(|(key, _)| key.rsplit('|').next().map(str::to_string))
                .collect();
            for p in Office::visible(sync, caller, EntityType::Enterprise).await? {
                let grid = p.entity.body["grid_id"].as_str().unwrap_or_default();
                if (town || grids.contains(grid)) && !inspected.contains(&p.entity.id) {
                    items.push(DueItem {
                        kind: "inspect",
                        title: format!(
                            "本月未检查：{}",
                            p.entity.body["name"].as_str().unwrap_or_default()
                        ),
                        id: Some(p.entity.id),
                        day: day.clone(),
                        overdue: false,
                        done: false,
                    });
                }
            }
        }
        items.sort_by(|a, b| {
            (b.overdue, a.done, &a.day, a.kind).cmp(&(a.overdue, b.done, &b.day, b.kind))
        });
        Ok(items)
    }
}
