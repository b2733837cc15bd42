//! The office's changes from the console: each is an event signed by the office device and
//! judged, as the caller, by the same rules as a phone's event. A refusal changes nothing and
//! is said in Chinese, with the judgement's own words beside it.

use anjian_sync::entity::EntityType;
use anjian_sync::judge::Verdict;
use poem::Response;
use poem::http::StatusCode;
use uuid::Uuid;

use super::State;
use super::pages::failed;
use crate::service::accounts::Caller;
use crate::service::office::Office;
use crate::service::sync::Rejection;

/// How an office change ended.
pub enum Outcome {
    /// It was made.
    Done,
    /// The judgement refused it: the status to answer with and what to say beside the form.
    Refused(StatusCode, String),
    /// The answer to give instead (no such record for this caller, a server failure).
    Answer(Response),
}

/// What a refusal says, in Chinese, with the judgement's own words.
fn refusal(rejection: &Rejection) -> (StatusCode, String) {
    let reason = &rejection.reason;
    let said = anjian_sync::reasons::words(&reason.code);
    let status = match (rejection.verdict, reason.code.as_str()) {
        (Verdict::Conflict, _) => StatusCode::CONFLICT,
        (_, "not-permitted") => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, format!("{said}（{}）", reason.message))
}

/// Makes one office change, `kind` with `payload`, to the record `id` of `entity_type`. One
/// who cannot read the record learns nothing of it (permission before existence).
pub async fn change(
    state: &State,
    caller: &Caller,
    entity_type: EntityType,
    id: &str,
    kind: &'static str,
    payload: serde_json::Value,
) -> Outcome {
    let not_found = || {
        Outcome::Answer(super::pages::message(
            StatusCode::NOT_FOUND,
            "记录不存在",
            "没有这条记录，或您无权查看（404）。",
        ))
    };
    match Office::record(&state.sync, caller, entity_type, id).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(),
        Err(err) => return Outcome::Answer(failed(&err)),
    }
    let Ok(entity_id) = Uuid::parse_str(id) else {
        return not_found();
    };
    match state
        .sync
        .record_office_event(caller, kind, entity_id, payload)
        .await
    {
        Ok(Ok(_)) => Outcome::Done,
        Ok(Err(rejection)) => {
            let (status, text) = refusal(&rejection);
            Outcome::Refused(status, text)
        }
        Err(err) => Outcome::Answer(failed(&err)),
    }
}

/// A person's text from a form, as the judgement reads text: trimmed, with the line breaks a
/// browser sends from a text area (CR LF) as plain `\n`.
pub fn typed(text: &str) -> String {
    text.trim().replace("\r\n", "\n").replace('\r', "\n")
}

/// `payload` with `note` in it, when one was written (a blank note is no note).
pub fn with_note(mut payload: serde_json::Value, note: &str) -> serde_json::Value {
    let note = typed(note);
    if !note.is_empty() {
        payload["note"] = serde_json::Value::String(note);
    }
    payload
}

/// The answer to an office change made from a record's page: back to the page (`back`) when it
/// was made; else the page again, drawn by `page` with the refusal, under the refusal's status.
pub async fn answered<P, F>(
    outcome: Outcome,
    back: &str,
    page: impl FnOnce(String) -> F,
) -> Response
where
    P: askama::Template,
    F: std::future::Future<Output = Result<P, Response>>,
{
    match outcome {
        Outcome::Done => super::see_other(back),
        Outcome::Refused(status, text) => super::rendered(status, page(text).await),
        Outcome::Answer(answer) => answer,
    }
}
