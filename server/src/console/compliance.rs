//! Duty compliance (履职情况) in the console: for a month (or any period), each scheduled team's
//! meetings and briefings due, done on time, late and missed, summed by enterprise and grid, and
//! the missed meetings listed.

use askama::Template;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::names::Names;
use super::pages::{Frame, failed, message, signed_in};
use super::{State, html};
use crate::service::compliance::{Missed, Tally, period};
use crate::service::office::Office;

/// The period and area asked for.
#[derive(Debug, Default, Deserialize)]
struct Query {
    /// `YYYY-MM`: that month (this month by default).
    #[serde(default)]
    month: String,
    /// Grid code.
    #[serde(default)]
    grid: String,
    /// Enterprise id.
    #[serde(default)]
    enterprise: String,
}

/// A line of the page: who, and their figures.
struct Line {
    name: String,
    tally: Tally,
}

#[derive(Template)]
#[template(path = "console/compliance.html")]
struct CompliancePage {
    frame: Frame,
    month: String,
    grid: String,
    enterprise: String,
    grids: Vec<(String, String)>,
    from: String,
    to: String,
    town: Tally,
    by_grid: Vec<Line>,
    by_enterprise: Vec<Line>,
    by_team: Vec<Line>,
    missed: Vec<(String, String, String, &'static str)>,
    missed_cut: bool,
    commitment_year: String,
    commitments_signed: u64,
    unsigned: Vec<String>,
}

/// The compliance page (履职情况).
#[handler]
pub async fn page(req: &Request, Data(state): Data<&State>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let query: Query = req.params().unwrap_or_default();
    let today = anjian_sync::clock::china_date(crate::store::model::UnixMillis::now().0);
    let month = if query.month.is_empty() {
        today.get(..7).unwrap_or_default().to_string()
    } else {
        query.month.clone()
    };
    let first = format!("{month}-01");
    let Ok((from, _)) = period(&first, &first) else {
        return message(
            StatusCode::BAD_REQUEST,
            "月份不正确",
            "月份写作 YYYY-MM，例如 2026-11。",
        );
    };
    let to = from
        .replace_day(from.month().length(from.year()))
        .unwrap_or(from);
    let grid = (!query.grid.is_empty()).then_some(query.grid.as_str());
    let enterprise = (!query.enterprise.is_empty()).then_some(query.enterprise.as_str());
    let found = match Office::compliance(&state.sync, &caller, (from, to), grid, enterprise).await {
        Ok(found) => found,
        Err(err) => return failed(&err),
    };
    let names = match Names::load(state).await {
        Ok(names) => names,
        Err(err) => return failed(&err),
    };
    let mut grids: Vec<(String, String)> = names.grids.clone().into_iter().collect();
    grids.sort();
    let by = |map: &std::collections::BTreeMap<String, Tally>, name: &dyn Fn(&str) -> String| {
        let mut lines: Vec<Line> = map
            .iter()
            .map(|(key, tally)| Line {
                name: name(key),
                tally: tally.clone(),
            })
            .collect();
        lines.sort_by(|a, b| a.name.cmp(&b.name));
        lines
    };
    let page = CompliancePage {
        frame: Frame::of(&caller, &token),
        grid: query.grid.clone(),
        enterprise: query.enterprise.clone(),
        grids,
        from: found.from.clone(),
        to: found.to.clone(),
        town: found.town.clone(),
        by_grid: by(&found.grids, &|g| names.grid(g)),
        by_enterprise: by(&found.enterprises, &|e| names.enterprise(e)),
        by_team: found
            .teams
            .iter()
            .map(|t| Line {
                name: format!("{} · {}", names.enterprise(&t.enterprise), t.team),
                tally: t.tally.clone(),
            })
            .collect(),
        missed: found
            .missed
            .iter()
            .map(|m: &Missed| {
                (
                    m.day.clone(),
                    format!("{} · {}", names.enterprise(&m.enterprise), m.team),
                    m.shift.clone(),
                    anjian_sync::kinds::meeting::Slot::parse(&m.slot)
                        .map_or("班组会", |s| s.chinese()),
                )
            })
            .collect(),
        missed_cut: found.missed_cut,
        commitment_year: found.commitments.year.clone(),
        commitments_signed: found.commitments.signed,
        unsigned: found
            .commitments
            .unsigned
            .iter()
            .map(|e| names.enterprise(e))
            .collect(),
        month,
    };
    html(StatusCode::OK, page.render())
}
