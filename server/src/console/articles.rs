//! Publicity (宣传): the review queue of safety articles, an article's preview as the public
//! will see it, and the reviewer's and the office's actions — publish (发布), reject with a note
//! (退回), withdraw a published one (撤回).

use anjian_sync::access::Role;
use anjian_sync::entity::EntityType;
use anjian_sync::kinds::article::{Article, ArticleState, Column};
use anjian_sync::protocol::Projection;
use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;

use super::acts::{answered, change, with_note};
use super::pages::{Frame, People, beijing_time, failed, form_of, message, signed_in};
use super::{State, html, rendered};
use crate::service::accounts::Caller;
use crate::service::office::Office;

/// An article's state in Chinese.
fn state_name(state: ArticleState) -> &'static str {
    match state {
        ArticleState::Draft => "草稿",
        ArticleState::PendingReview => "待审核",
        ArticleState::Published => "已发布",
        ArticleState::Withdrawn => "已撤回",
    }
}

/// A column (栏目) in Chinese.
fn column_name(column: Option<Column>) -> &'static str {
    match column {
        Some(Column::Safety365) => "安全365",
        Some(Column::SevenEntries) => "安全宣传“七进”",
        Some(Column::Warning) => "警示教育",
        Some(Column::Policy) => "政策法规",
        None => "未分栏目",
    }
}

/// One article as the queue lists it.
struct Row {
    id: String,
    title: String,
    column: &'static str,
    author: String,
    state: &'static str,
    updated: String,
}

/// The articles the caller reads, each with its article, newest change first.
async fn readable(state: &State, caller: &Caller) -> Result<Vec<(Projection, Article)>, Response> {
    let mut all: Vec<(Projection, Article)> = Office::articles(&state.sync, caller)
        .await
        .map_err(|err| failed(&err))?
        .into_iter()
        .filter_map(|p| {
            let article = serde_json::from_value(p.entity.body.clone()).ok()?;
            Some((p, article))
        })
        .collect();
    all.sort_by_key(|(p, _)| std::cmp::Reverse(p.rev));
    Ok(all)
}

#[derive(Template)]
#[template(path = "console/articles.html")]
struct QueuePage {
    frame: Frame,
    /// The lists in order: 待审核, 已发布, 已撤回, 草稿 — each with its rows.
    lists: Vec<(&'static str, &'static str, Vec<Row>)>,
}

/// The review queue (稿件审核): articles waiting for review first, then the published,
/// withdrawn and draft ones the caller reads.
#[handler]
pub async fn queue(req: &Request, Data(state): Data<&State>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let all = match readable(state, &caller).await {
        Ok(all) => all,
        Err(answer) => return answer,
    };
    let names = match People::load(state, all.iter().map(|(_, a)| a.author.as_str())).await {
        Ok(names) => names,
        Err(answer) => return answer,
    };
    let lists = [
        ("pending", ArticleState::PendingReview),
        ("published", ArticleState::Published),
        ("withdrawn", ArticleState::Withdrawn),
        ("drafts", ArticleState::Draft),
    ]
    .into_iter()
    .map(|(key, wanted)| {
        let rows = all
            .iter()
            .filter(|(_, a)| a.state == wanted)
            .map(|(p, a)| Row {
                id: p.entity.id.clone(),
                title: a.title.clone(),
                column: column_name(a.column),
                author: names.name(&a.author),
                state: state_name(a.state),
                updated: beijing_time(p.received_at_ms),
            })
            .collect();
        (key, state_name(wanted), rows)
    })
    .collect();
    let page = QueuePage {
        frame: Frame::of(&caller, &token),
        lists,
    };
    html(StatusCode::OK, page.render())
}

#[derive(Template)]
#[template(path = "console/article.html")]
struct ArticlePage {
    frame: Frame,
    id: String,
    title: String,
    column: &'static str,
    /// The text's paragraphs, as the public page shows them.
    paragraphs: Vec<String>,
    cover: Option<String>,
    images: Vec<String>,
    author: String,
    state: &'static str,
    note: String,
    updated: String,
    /// May publish or reject: a reviewer who is not the author, while it waits for review.
    reviews: bool,
    /// May withdraw: the author, a reviewer or an admin, while it is published.
    withdraws: bool,
    notice: Option<String>,
}

async fn article_page(
    state: &State,
    caller: &Caller,
    token: &str,
    id: &str,
    notice: Option<String>,
) -> Result<ArticlePage, Response> {
    let record = Office::record(&state.sync, caller, EntityType::Article, id)
        .await
        .map_err(|err| failed(&err))?;
    let Some((projection, _)) = record else {
        return Err(message(
            StatusCode::NOT_FOUND,
            "稿件不存在",
            "没有这篇稿件，或您无权查看（404）。",
        ));
    };
    let article: Article =
        serde_json::from_value(projection.entity.body.clone()).map_err(|err| failed(&err))?;
    let names = People::load(state, [article.author.as_str()]).await?;
    let me = caller.user.id.to_string();
    let grant = &caller.user.grant;
    let author = article.author == me;
    Ok(ArticlePage {
        frame: Frame::of(caller, token),
        id: id.to_string(),
        column: column_name(article.column),
        paragraphs: article
            .body
            .split('\n')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        cover: article.cover.clone(),
        images: article.images.clone(),
        author: names.name(&article.author),
        state: state_name(article.state),
        note: article.note.clone().unwrap_or_default(),
        updated: beijing_time(projection.received_at_ms),
        reviews: article.state == ArticleState::PendingReview
            && grant.has(Role::Reviewer)
            && !author,
        withdraws: article.state == ArticleState::Published
            && (author || grant.has(Role::Reviewer) || grant.has(Role::Admin)),
        title: article.title,
        notice,
    })
}

/// An article's page: its preview as the public will see it, and the actions the caller may
/// take.
#[handler]
pub async fn show(req: &Request, Data(state): Data<&State>, Path(id): Path<String>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    rendered(
        StatusCode::OK,
        article_page(state, &caller, &token, &id, None).await,
    )
}

/// The review form: `publish` or `reject`, and the note (required to reject).
#[derive(Deserialize)]
struct ReviewForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

/// The withdrawal form: why.
#[derive(Deserialize)]
struct WithdrawForm {
    #[serde(default)]
    note: String,
}

/// Makes one change to an article, then shows it again, with the refusal if any.
async fn act(
    state: &State,
    caller: Caller,
    token: String,
    id: &str,
    kind: &'static str,
    payload: serde_json::Value,
) -> Response {
    let outcome = change(state, &caller, EntityType::Article, id, kind, payload).await;
    answered(outcome, &format!("/console/articles/{id}"), |text| {
        article_page(state, &caller, &token, id, Some(text))
    })
    .await
}

/// Publishes (发布) or rejects (退回) an article waiting for review.
#[handler]
pub async fn review(
    req: &Request,
    Data(state): Data<&State>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let (caller, token, form) = match form_of::<ReviewForm>(state, req, &body).await {
        Ok(sent) => sent,
        Err(answer) => return answer,
    };
    if form.decision != "publish" && form.decision != "reject" {
        return message(
            StatusCode::BAD_REQUEST,
            "表单无法读取",
            "请在稿件页面选择“发布”或“退回”。",
        );
    }
    let payload = with_note(json!({"decision": form.decision}), &form.note);
    act(state, caller, token, &id, "article.review", payload).await
}

/// Withdraws (撤回) a published article, with the reason.
#[handler]
pub async fn withdraw(
    req: &Request,
    Data(state): Data<&State>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let (caller, token, form) = match form_of::<WithdrawForm>(state, req, &body).await {
        Ok(sent) => sent,
        Err(answer) => return answer,
    };
    let payload = with_note(json!({}), &form.note);
    act(state, caller, token, &id, "article.withdraw", payload).await
}
