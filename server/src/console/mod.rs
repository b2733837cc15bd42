//! The office console (安委办工作台): pages for the town safety office, its leaders and reviewers,
//! rendered on the server at `/console/` from askama templates (`server/templates/console/`), with
//! every asset embedded in the binary.
//!
//! A console session is an API session: signing in makes the same session as
//! `POST /v1/auth/login`, and its token travels in an `HttpOnly`, `SameSite=Strict` cookie
//! ([`session`]), so it expires, ends at logout and stops when the user is disabled exactly as a
//! bearer token does. Every form that changes something carries a token derived from the session
//! ([`crate::service::secrets::csrf_token`]) and is refused without it; a request another site started
//! (`Sec-Fetch-Site: cross-site`, or an `Origin` of another host) is refused before anything is
//! read. Each page does its work through the same services, with the same rules, as the API.

mod acts;
mod articles;
mod commitments;
mod compliance;
mod dashboard;
mod enterprises;
mod exports;
mod hazards;
mod inspections;
mod issues;
mod map;
mod meetings;
mod names;
mod pages;
pub use pages::storage_full_page;
mod people;
mod risks;
pub mod session;

use std::sync::Arc;

use poem::http::StatusCode;
use poem::{EndpointExt, IntoResponse, Response, Route, get, post};

use crate::api::AppState;

/// The stylesheet, embedded.
const STYLE: &str = include_str!("../../console/console.css");
/// The icon, embedded.
const ICON: &str = include_str!("../../console/favicon.svg");

/// An embedded asset's answer.
fn asset(media_type: &'static str, body: &'static str) -> Response {
    Response::builder()
        .content_type(media_type)
        .header("Cache-Control", "no-cache")
        .body(body)
}

/// Every console route, under `/console` (nested without stripping it).
pub fn routes() -> impl poem::Endpoint {
    Route::new()
        .at(
            "/console",
            get(poem::endpoint::make_sync(|_| see_other("/console/"))),
        )
        .at("/console/", get(pages::home))
        .at("/console/login", get(pages::login_form).post(pages::login))
        .at("/console/logout", post(pages::logout))
        .at("/console/users", get(pages::users).post(pages::create_user))
        .at("/console/users/:id", get(people::show).post(people::update))
        .at("/console/users/:id/password", post(people::password))
        .at("/console/users/:id/invitation", post(people::invitation))
        .at("/console/users/:id/disabled", post(pages::set_disabled))
        .at("/console/devices/:id/revoke", post(people::revoke_device))
        .at("/console/enterprises", get(enterprises::registry))
        .at("/console/enterprises.xlsx", get(enterprises::registry_xlsx))
        .at("/console/enterprises.csv", get(enterprises::registry_csv))
        .at(
            "/console/enterprises/import",
            post(enterprises::import_preview),
        )
        .at(
            "/console/enterprises/import/confirm",
            post(enterprises::import_confirm),
        )
        .at("/console/enterprises/:id", get(enterprises::show))
        .at("/console/enterprises/:id/risks", get(risks::lists))
        .at("/console/enterprises/:id/plan", get(risks::plan))
        .at("/console/enterprises/:id/risks/:file", get(risks::export))
        .at("/console/cards/:id", get(risks::show_card))
        .at("/console/commitments", get(commitments::list))
        .at("/console/compliance", get(compliance::page))
        .at("/console/map", get(map::map))
        .at("/console/hazards", get(hazards::ledger))
        .at("/console/hazards.xlsx", get(hazards::ledger_xlsx))
        .at("/console/hazards.csv", get(hazards::ledger_csv))
        .at("/console/hazards/:id", get(hazards::show))
        .at("/console/hazards/:id/deadline", post(hazards::set_deadline))
        .at("/console/hazards/:id/move", post(hazards::move_hazard))
        .at("/console/inspections", get(inspections::list))
        .at("/console/inspections.xlsx", get(inspections::list_xlsx))
        .at("/console/inspections.csv", get(inspections::list_csv))
        .at("/console/inspections/:id", get(inspections::show))
        .at("/console/meetings", get(meetings::calendar))
        .at("/console/meetings.xlsx", get(meetings::ledger_xlsx))
        .at("/console/meetings.csv", get(meetings::ledger_csv))
        .at("/console/meetings/:id", get(meetings::show))
        .at("/console/articles", get(articles::queue))
        .at("/console/articles/:id", get(articles::show))
        .at("/console/articles/:id/review", post(articles::review))
        .at("/console/articles/:id/withdraw", post(articles::withdraw))
        .at("/console/report", get(dashboard::report))
        .at("/console/issues", get(issues::queue))
        .at("/console/issues/:id", get(issues::show))
        .at("/console/issues/:id/handled", post(issues::handle))
        .at("/console/photos/:sha256/:variant", get(pages::photo))
        .at(
            "/console/static/console.css",
            get(poem::endpoint::make_sync(|_| {
                asset("text/css; charset=utf-8", STYLE)
            })),
        )
        .at(
            "/console/static/favicon.svg",
            get(poem::endpoint::make_sync(|_| asset("image/svg+xml", ICON))),
        )
        .catch_error(|_: poem::error::NotFoundError| async { pages::not_found_page() })
}

/// The state every page reaches.
pub(crate) type State = Arc<AppState>;

/// A rendered page with `status`; a template that fails to render is a 500 page.
fn html(status: StatusCode, rendered: askama::Result<String>) -> Response {
    match rendered {
        Ok(body) => Response::builder()
            .status(status)
            .content_type("text/html; charset=utf-8")
            .header("Cache-Control", "no-store")
            .header("X-Frame-Options", "DENY")
            .header(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; form-action 'self'",
            )
            .body(body),
        Err(err) => {
            tracing::error!(error = %err, "a console page failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A page drawn, or the answer given instead (a 404 page, a failure).
fn rendered<P: askama::Template>(status: StatusCode, page: Result<P, Response>) -> Response {
    match page {
        Ok(page) => html(status, page.render()),
        Err(answer) => answer,
    }
}

/// A `303 See Other` to `location`, as after a form is handled.
fn see_other(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("Location", location)
        .finish()
}
