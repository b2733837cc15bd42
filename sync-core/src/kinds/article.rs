//! Safety-awareness articles (宣传稿件): written by publicists, reviewed, published to the public.
//!
//! ```text
//! draft ──submit──▶ pending_review ──publish──▶ published ──withdraw──▶ withdrawn
//!   ▲                    │
//!   └──────reject────────┘
//! ```
//!
//! `article.save` creates a draft or edits one (only in `draft`). An article counts its edits in
//! `version`, and remembers for each field the version that last changed it. An edit names the
//! version it started from in the event's `base_rev`: fields changed since then by someone else
//! make the edit a `conflict` (both versions are kept: the article as it stands, and the edit in
//! the sync issue); edits to other fields merge. `article.submit` sends it for review;
//! `article.review` publishes or rejects it (back to draft), by a reviewer (审核员) who is not its
//! author; `article.withdraw` takes a published article down.
//!
//! Drafts are seen by their author; articles pending review, and withdrawn ones, also by
//! reviewers (bucket `review`); published ones by everyone (bucket `public`, and
//! `GET /v1/public/articles` without login).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::Role;
use crate::entity::{Entity, EntityScope, EntityType};
use crate::event::EventBody;
use crate::judge::{Actor, Kind, Reject, check_cited, check_text};

/// A column (栏目).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    /// 安全365.
    Safety365,
    /// 七进 activities (进企业、进农村、进社区、进学校、进家庭、进公共场所、进机关).
    SevenEntries,
    /// Warning education (警示教育).
    Warning,
    /// Policy (政策法规).
    Policy,
}

/// Where an article is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArticleState {
    /// Being written (草稿).
    Draft,
    /// Waiting for a reviewer (待审核).
    PendingReview,
    /// Public (已发布).
    Published,
    /// Taken down (已撤回).
    Withdrawn,
}

/// The fields an edit may set; absent ones stay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArticleEdit {
    /// Column.
    #[serde(default)]
    pub column: Option<Column>,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Text.
    #[serde(default)]
    pub body: Option<String>,
    /// The cover image's sha256.
    #[serde(default)]
    pub cover: Option<String>,
    /// The images' sha256, in order.
    #[serde(default)]
    pub images: Option<Vec<String>>,
}

impl ArticleEdit {
    fn fields(&self) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if self.column.is_some() {
            fields.push("column");
        }
        if self.title.is_some() {
            fields.push("title");
        }
        if self.body.is_some() {
            fields.push("body");
        }
        if self.cover.is_some() {
            fields.push("cover");
        }
        if self.images.is_some() {
            fields.push("images");
        }
        fields
    }
}

/// An article entity's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    /// Column.
    pub column: Option<Column>,
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// Cover image.
    pub cover: Option<String>,
    /// Images.
    pub images: Vec<String>,
    /// Who wrote it.
    pub author: String,
    /// Where it is.
    pub state: ArticleState,
    /// Edits so far.
    pub version: u64,
    /// For each field, the version that last changed it.
    pub field_versions: BTreeMap<String, u64>,
    /// Who published it.
    pub reviewed_by: Option<String>,
    /// The last reviewer's or withdrawer's note.
    pub note: Option<String>,
}

fn article_of(entity: &Entity) -> Result<Article, Reject> {
    serde::Deserialize::deserialize(&entity.body).map_err(|err| {
        Reject::quarantine(
            "entity-unreadable",
            format!("the stored article cannot be read: {err}"),
        )
    })
}

fn entity(id: &str, article: &Article) -> Result<Entity, Reject> {
    let body: Value = serde_json::to_value(article)
        .map_err(|err| Reject::quarantine("entity-unreadable", err.to_string()))?;
    Ok(Entity {
        id: id.to_string(),
        entity_type: EntityType::Article,
        scope: EntityScope {
            users: vec![article.author.clone()],
            public: article.state == ArticleState::Published,
            // Reviewers keep seeing what they took down: a withdrawn article stays in their
            // queue, as the record of why it went.
            review: matches!(
                article.state,
                ArticleState::PendingReview | ArticleState::Withdrawn
            ),
            ..EntityScope::default()
        },
        deleted: false,
        body,
        blobs: article_blobs(article),
    })
}

/// The images an article shows now: its cover, then its images, sorted, without repeats.
fn article_blobs(article: &Article) -> Vec<String> {
    let mut blobs: Vec<String> = article
        .cover
        .iter()
        .chain(&article.images)
        .cloned()
        .collect();
    blobs.sort();
    blobs.dedup();
    blobs
}

fn existing(current: Option<&Entity>) -> Result<EntityScope, Reject> {
    current
        .map(|c| c.scope.clone())
        .ok_or_else(|| Reject::quarantine("unknown-entity", "there is no article with this id"))
}

/// `article.save`: create a draft, or edit one.
#[derive(Debug)]
pub struct ArticleSave;

impl Kind for ArticleSave {
    const NAME: &'static str = "article.save";
    const ENTITY: EntityType = EntityType::Article;
    type Payload = ArticleEdit;

    /// An article cites the images it shows now, not those an earlier draft showed: an image
    /// taken out of a draft must not become public when the article is published.
    fn blobs(entity: &Entity, _: &EventBody, _: Option<&Entity>) -> Vec<String> {
        entity.blobs.clone()
    }

    fn validate(event: &EventBody, e: &ArticleEdit) -> Result<(), Reject> {
        if let Some(title) = &e.title {
            check_text("title", title, 1, 100)?;
        }
        if let Some(body) = &e.body {
            check_text("body", body, 1, 20_000)?;
        }
        if let Some(cover) = &e.cover {
            check_cited("cover", cover, event)?;
        }
        if let Some(images) = &e.images {
            if images.len() > 30 {
                return Err(Reject::quarantine("payload-invalid", "at most 30 images"));
            }
            images
                .iter()
                .try_for_each(|i| check_cited("images", i, event))?;
        }
        if e.fields().is_empty() {
            return Err(Reject::quarantine(
                "payload-invalid",
                "an edit must set at least one field",
            ));
        }
        Ok(())
    }

    fn scope(
        actor: &Actor,
        _: &ArticleEdit,
        current: Option<&Entity>,
    ) -> Result<EntityScope, Reject> {
        Ok(current.map_or_else(
            || EntityScope {
                users: vec![actor.user_id.clone()],
                ..EntityScope::default()
            },
            |c| c.scope.clone(),
        ))
    }

    fn authorize(
        actor: &Actor,
        _: &ArticleEdit,
        _: &EntityScope,
        current: Option<&Entity>,
    ) -> Result<(), Reject> {
        let author = match current {
            Some(current) => article_of(current)?.author == actor.user_id,
            None => actor.grant.has(Role::Publicist),
        };
        if author {
            Ok(())
        } else {
            Err(Reject::quarantine(
                "not-permitted",
                "only a publicist (宣传员) writes articles, and only their own",
            ))
        }
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        edit: ArticleEdit,
        _: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let mut article = match current {
            Some(current) => article_of(current)?,
            None => {
                if edit.title.is_none() || edit.body.is_none() {
                    return Err(Reject::quarantine(
                        "payload-invalid",
                        "a new article needs a title and a body",
                    ));
                }
                Article {
                    column: None,
                    title: String::new(),
                    body: String::new(),
                    cover: None,
                    images: Vec::new(),
                    author: actor.user_id.clone(),
                    state: ArticleState::Draft,
                    version: 0,
                    field_versions: BTreeMap::new(),
                    reviewed_by: None,
                    note: None,
                }
            }
        };
        if article.state != ArticleState::Draft {
            return Err(Reject::conflict(
                "article-not-draft",
                "the article is no longer a draft (it was submitted or published); edits are kept here",
            ));
        }
        let base = event.base_rev.unwrap_or(0);
        let overlapping: Vec<&str> = edit
            .fields()
            .into_iter()
            .filter(|field| {
                article
                    .field_versions
                    .get(*field)
                    .is_some_and(|v| *v > base)
            })
            .collect();
        if current.is_some() && !overlapping.is_empty() {
            return Err(Reject::conflict(
                "edit-overlap",
                format!(
                    "{} changed since version {base} was read; both versions are kept: compare them and save again",
                    overlapping.join(", ")
                ),
            ));
        }
        article.version = article.version.saturating_add(1);
        for field in edit.fields() {
            article
                .field_versions
                .insert(field.to_string(), article.version);
        }
        if let Some(column) = edit.column {
            article.column = Some(column);
        }
        if let Some(title) = edit.title {
            article.title = title;
        }
        if let Some(body) = edit.body {
            article.body = body;
        }
        if let Some(cover) = edit.cover {
            article.cover = Some(cover);
        }
        if let Some(images) = edit.images {
            article.images = images;
        }
        entity(&event.entity_id, &article)
    }
}

/// `article.submit` / `article.review` / `article.withdraw` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArticleMove {
    /// For a review: `publish` or `reject`.
    #[serde(default)]
    pub decision: Option<Decision>,
    /// A note (required to reject or withdraw).
    #[serde(default)]
    pub note: Option<String>,
}

/// A reviewer's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// 发布.
    Publish,
    /// 退回.
    Reject,
}

/// `article.submit`: send a draft for review (its author).
#[derive(Debug)]
pub struct ArticleSubmit;

/// `article.review`: publish or reject a submitted article (a reviewer who is not its author).
#[derive(Debug)]
pub struct ArticleReview;

/// `article.withdraw`: take a published article down (its author, a reviewer or an admin).
#[derive(Debug)]
pub struct ArticleWithdraw;

fn moved(
    current: Option<&Entity>,
    from: ArticleState,
    to: ArticleState,
    update: impl FnOnce(&mut Article),
) -> Result<Entity, Reject> {
    let current = current
        .ok_or_else(|| Reject::quarantine("unknown-entity", "there is no article with this id"))?;
    let mut article = article_of(current)?;
    if article.state != from {
        let name = |s: ArticleState| {
            serde_json::to_value(s)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        return Err(Reject::conflict(
            "stale-state",
            format!(
                "the article is {}, not {}: someone else acted on it first",
                name(article.state),
                name(from)
            ),
        ));
    }
    article.state = to;
    update(&mut article);
    entity(&current.id, &article)
}

fn note_text(m: &ArticleMove) -> Result<(), Reject> {
    match &m.note {
        Some(note) => check_text("note", note, 1, 1000),
        None => Ok(()),
    }
}

impl Kind for ArticleSubmit {
    const NAME: &'static str = "article.submit";
    const ENTITY: EntityType = EntityType::Article;
    type Payload = ArticleMove;

    fn validate(_: &EventBody, m: &ArticleMove) -> Result<(), Reject> {
        note_text(m)
    }

    fn scope(_: &Actor, _: &ArticleMove, current: Option<&Entity>) -> Result<EntityScope, Reject> {
        existing(current)
    }

    fn authorize(
        actor: &Actor,
        _: &ArticleMove,
        _: &EntityScope,
        current: Option<&Entity>,
    ) -> Result<(), Reject> {
        let article =
            article_of(current.ok_or_else(|| Reject::quarantine("unknown-entity", "no article"))?)?;
        if article.author == actor.user_id {
            Ok(())
        } else {
            Err(Reject::quarantine(
                "not-permitted",
                "only the article's author submits it",
            ))
        }
    }

    fn apply(
        _: &Actor,
        _: &EventBody,
        _: ArticleMove,
        _: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        moved(
            current,
            ArticleState::Draft,
            ArticleState::PendingReview,
            |_| {},
        )
    }
}

impl Kind for ArticleReview {
    const NAME: &'static str = "article.review";
    const ENTITY: EntityType = EntityType::Article;
    type Payload = ArticleMove;

    fn validate(_: &EventBody, m: &ArticleMove) -> Result<(), Reject> {
        note_text(m)?;
        match (m.decision, &m.note) {
            (None, _) => Err(Reject::quarantine(
                "payload-invalid",
                "a review needs a `decision`: publish or reject",
            )),
            (Some(Decision::Reject), None) => Err(Reject::quarantine(
                "note-required",
                "rejecting needs a `note` saying why",
            )),
            _ => Ok(()),
        }
    }

    fn scope(_: &Actor, _: &ArticleMove, current: Option<&Entity>) -> Result<EntityScope, Reject> {
        existing(current)
    }

    fn authorize(
        actor: &Actor,
        _: &ArticleMove,
        _: &EntityScope,
        current: Option<&Entity>,
    ) -> Result<(), Reject> {
        let article =
            article_of(current.ok_or_else(|| Reject::quarantine("unknown-entity", "no article"))?)?;
        if !actor.grant.has(Role::Reviewer) {
            return Err(Reject::quarantine(
                "not-permitted",
                "only a reviewer (审核员) reviews articles",
            ));
        }
        if article.author == actor.user_id {
            return Err(Reject::quarantine(
                "reviewer-is-author",
                "an article is reviewed by someone other than its author",
            ));
        }
        Ok(())
    }

    fn apply(
        actor: &Actor,
        _: &EventBody,
        m: ArticleMove,
        _: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let to = match m.decision {
            Some(Decision::Publish) => ArticleState::Published,
            _ => ArticleState::Draft,
        };
        moved(current, ArticleState::PendingReview, to, |article| {
            article.reviewed_by = Some(actor.user_id.clone());
            article.note = m.note;
        })
    }
}

impl Kind for ArticleWithdraw {
    const NAME: &'static str = "article.withdraw";
    const ENTITY: EntityType = EntityType::Article;
    type Payload = ArticleMove;

    fn validate(_: &EventBody, m: &ArticleMove) -> Result<(), Reject> {
        note_text(m)?;
        if m.note.is_none() {
            return Err(Reject::quarantine(
                "note-required",
                "withdrawing needs a `note` saying why",
            ));
        }
        Ok(())
    }

    fn scope(_: &Actor, _: &ArticleMove, current: Option<&Entity>) -> Result<EntityScope, Reject> {
        existing(current)
    }

    fn authorize(
        actor: &Actor,
        _: &ArticleMove,
        _: &EntityScope,
        current: Option<&Entity>,
    ) -> Result<(), Reject> {
        let article =
            article_of(current.ok_or_else(|| Reject::quarantine("unknown-entity", "no article"))?)?;
        if article.author == actor.user_id
            || actor.grant.has(Role::Reviewer)
            || actor.grant.has(Role::Admin)
        {
            Ok(())
        } else {
            Err(Reject::quarantine(
                "not-permitted",
                "only the author, a reviewer or an admin withdraws an article",
            ))
        }
    }

    fn apply(
        _: &Actor,
        _: &EventBody,
        m: ArticleMove,
        _: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        moved(
            current,
            ArticleState::Published,
            ArticleState::Withdrawn,
            |article| {
                article.note = m.note;
            },
        )
    }
}
