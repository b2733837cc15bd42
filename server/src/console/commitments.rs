//! The yearly safety commitments (主体责任告知承诺): for a year, every enterprise the signed-in
//! person reads, with its principal's signed commitment or marked missing (未签署).

use anjian_sync::entity::EntityType;
use askama::Template;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::names::Names;
use super::pages::{Frame, failed, signed_in};
use super::{State, html};
use crate::service::office::Office;

/// The year asked for.
#[derive(Debug, Default, Deserialize)]
struct Query {
    /// `YYYY`; this year by default.
    #[serde(default)]
    year: String,
    /// `missing`: the enterprises that have not signed only.
    #[serde(default)]
    show: String,
}

/// One enterprise's line.
struct Line {
    id: String,
    name: String,
    grid: String,
    /// Who signed and when, or empty.
    signed: String,
    /// The signed page's photo, when signed.
    photo: String,
}

#[derive(Template)]
#[template(path = "console/commitments.html")]
struct CommitmentsPage {
    frame: Frame,
    year: String,
    missing_only: bool,
    lines: Vec<Line>,
    signed: usize,
    missing: usize,
}

/// The commitments of a year (安全承诺).
#[handler]
pub async fn list(req: &Request, Data(state): Data<&State>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let query: Query = req.params().unwrap_or_default();
    let this_year = anjian_sync::clock::china_date(crate::store::model::UnixMillis::now().0)
        .get(..4)
        .unwrap_or_default()
        .to_string();
    let year = if query.year.is_empty() {
        this_year
    } else if query.year.len() == 4
        && query.year.bytes().all(|b| b.is_ascii_digit())
        && ("2000".."2101").contains(&query.year.as_str())
    {
        query.year.clone()
    } else {
        return super::pages::message(
            StatusCode::BAD_REQUEST,
            "年度不正确",
            "年度写作四位数字，2000 至 2100，例如 2026。",
        );
    };
    let names = match Names::load(state).await {
        Ok(names) => names,
        Err(err) => return failed(&err),
    };
    let (enterprises, signed) = match (
        Office::visible(&state.sync, &caller, EntityType::Enterprise).await,
        Office::commitments(&state.sync, &caller, &year).await,
    ) {
        (Ok(e), Ok(c)) => (e, c),
        (Err(err), _) | (_, Err(err)) => return failed(&err),
    };
    let mut lines: Vec<Line> = enterprises
        .into_iter()
        .map(|p| {
            let body = &p.entity.body;
            let commitment = signed.get(&p.entity.id);
            Line {
                name: body["name"].as_str().unwrap_or_default().to_string(),
                grid: names.grid(body["grid_id"].as_str().unwrap_or_default()),
                signed: commitment
                    .map(|c| format!("{} {}", c.content.principal, c.content.signed_on))
                    .unwrap_or_default(),
                photo: commitment
                    .and_then(|c| c.photos.first().cloned())
                    .unwrap_or_default(),
                id: p.entity.id,
            }
        })
        .collect();
    let signed_count = lines.iter().filter(|l| !l.signed.is_empty()).count();
    let missing = lines.len() - signed_count;
    let missing_only = query.show == "missing";
    if missing_only {
        lines.retain(|l| l.signed.is_empty());
    }
    lines.sort_by(|a, b| (&a.grid, &a.name).cmp(&(&b.grid, &b.name)));
    let page = CommitmentsPage {
        frame: Frame::of(&caller, &token),
        year,
        missing_only,
        lines,
        signed: signed_count,
        missing,
    };
    html(StatusCode::OK, page.render())
}
