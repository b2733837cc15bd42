//! What anyone may read without logging in: published safety-awareness articles (宣传稿件) and
//! the notices of major safety risks (重大安全风险公告) enterprises make public.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::error::ApiError;
use super::{ApiTags, AppState};
use anjian_sync::entity::EntityType;
use anjian_sync::kinds::article::{Article, ArticleState};
use anjian_sync::kinds::notice::Notice;
use anjian_sync::protocol::Projection;
use serde_json::Value;

/// The `Public` tag.
#[derive(Debug)]
pub struct PublicApi;

/// A published article.
#[derive(Debug, Object)]
pub struct PublicArticle {
    /// Its id.
    pub id: String,
    /// Column (栏目): `safety365`, `seven_entries`, `warning`, `policy`.
    #[oai(skip_serializing_if_is_none)]
    pub column: Option<String>,
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// The cover image's sha256.
    #[oai(skip_serializing_if_is_none)]
    pub cover: Option<String>,
    /// The images' sha256.
    pub images: Vec<String>,
    /// When it was last changed (published), ms since the epoch.
    pub updated_at_ms: i64,
}

/// Published articles.
#[derive(Debug, Object)]
pub struct PublicArticles {
    /// Newest change first.
    pub articles: Vec<PublicArticle>,
}

/// One article, cacheable.
#[derive(Debug, ApiResponse)]
pub enum OneArticle {
    /// The article.
    #[oai(status = 200)]
    Ok(
        Json<PublicArticle>,
        #[oai(header = "ETag")] String,
        #[oai(header = "Last-Modified")] String,
    ),
    /// Unchanged since the `If-None-Match` tag.
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String),
}

fn published(projection: &Projection) -> Option<PublicArticle> {
    let article: Article = serde::Deserialize::deserialize(&projection.entity.body).ok()?;
    (article.state == ArticleState::Published && !projection.entity.deleted).then(|| {
        PublicArticle {
            id: projection.entity.id.clone(),
            column: projection.entity.body["column"]
                .as_str()
                .map(str::to_string),
            title: article.title,
            body: article.body,
            cover: article.cover,
            images: article.images,
            updated_at_ms: projection.received_at_ms,
        }
    })
}

/// A notice of major safety risks (重大安全风险公告) its enterprise made public.
#[derive(Debug, Object)]
pub struct PublicNotice {
    /// Its id.
    pub id: String,
    /// The enterprise's name (企业名称).
    pub enterprise: String,
    /// Title (公告标题).
    pub title: String,
    /// The text: the risk, its controls, the emergency measures.
    pub body: String,
    /// Whom to call.
    pub contact: String,
    /// The risks it is about (风险点名称).
    pub risks: Vec<String>,
    /// Its version.
    pub version: u32,
    /// When it was last changed, ms since the epoch.
    pub updated_at_ms: i64,
}

/// The most public notices listed.
const MAX_PUBLIC_NOTICES: usize = 200;

/// Public notices.
#[derive(Debug, Object)]
pub struct PublicNotices {
    /// Newest change first.
    pub notices: Vec<PublicNotice>,
}

/// An HTTP date (RFC 9110), e.g. `Sat, 28 Nov 2026 14:00:00 GMT`.
pub(super) fn http_date(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let weekday = &at.weekday().to_string()[..3];
    let month = &at.month().to_string()[..3];
    format!(
        "{weekday}, {:02} {month} {} {:02}:{:02}:{:02} GMT",
        at.day(),
        at.year(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[OpenApi(tag = "ApiTags::Public")]
impl PublicApi {
    /// Published articles (公开的宣传稿件), newest first. No login needed.
    #[oai(
        path = "/v1/public/articles",
        method = "get",
        operation_id = "public_articles"
    )]
    async fn list(&self, state: Data<&Arc<AppState>>) -> Result<Json<PublicArticles>, ApiError> {
        let all = state.sync.entities_of_type(EntityType::Article).await?;
        let mut articles: Vec<PublicArticle> = all.iter().filter_map(published).collect();
        articles.sort_by(|a, b| {
            b.updated_at_ms
                .cmp(&a.updated_at_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(Json(PublicArticles { articles }))
    }

    /// One published article (稿件详情), with `ETag` and `Last-Modified` for caches. No login needed.
    #[oai(
        path = "/v1/public/articles/:id",
        method = "get",
        operation_id = "public_article"
    )]
    async fn one(
        &self,
        state: Data<&Arc<AppState>>,
        /// The article's id.
        id: Path<String>,
        /// The `ETag` of a copy the client holds.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<OneArticle, ApiError> {
        let all = state.sync.entities_of_type(EntityType::Article).await?;
        let found = all
            .iter()
            .find(|p| p.entity.id == id.0)
            .and_then(|p| published(p).map(|article| (article, p.rev)));
        let Some((article, rev)) = found else {
            return Err(ApiError::new(
                poem::http::StatusCode::NOT_FOUND,
                "article-not-found",
                "no published article has this id",
            ));
        };
        let etag = format!("\"{rev}\"");
        // RFC 9110: `*`, or any tag of the list, compared weakly (a proxy may add `W/`).
        let matches = if_none_match.0.as_deref().is_some_and(|header| {
            header
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
        });
        if matches {
            return Ok(OneArticle::NotModified(etag));
        }
        let modified = http_date(article.updated_at_ms);
        Ok(OneArticle::Ok(Json(article), etag, modified))
    }

    /// Notices of major safety risks (重大安全风险公告) that enterprises made public, newest
    /// first, at most 200; withdrawn ones, and those none of whose risk points is still a live
    /// major risk (重大风险), are not listed. No login needed.
    #[oai(
        path = "/v1/public/notices",
        method = "get",
        operation_id = "public_notices"
    )]
    async fn notices(&self, state: Data<&Arc<AppState>>) -> Result<Json<PublicNotices>, ApiError> {
        let all = state.sync.entities_of_type(EntityType::Notice).await?;
        let mut live: Vec<(i64, String, Notice)> = all
            .into_iter()
            .filter(|p| !p.entity.deleted)
            .filter_map(|p| {
                let notice: Notice = serde::Deserialize::deserialize(&p.entity.body).ok()?;
                (notice.content.public && notice.withdrawn.is_none()).then_some((
                    p.received_at_ms,
                    p.entity.id,
                    notice,
                ))
            })
            .collect();
        // The newest first, at most a page of them.
        live.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        live.truncate(MAX_PUBLIC_NOTICES);
        // Only the records they name: their enterprises and risk points.
        let named: Vec<String> = live
            .iter()
            .flat_map(|(_, _, n)| {
                std::iter::once(n.content.enterprise_id.clone())
                    .chain(n.content.risk_points.iter().cloned())
            })
            .collect::<std::collections::BTreeSet<String>>()
            .into_iter()
            .collect();
        let records: std::collections::HashMap<String, Value> = state
            .sync
            .entities(named)
            .await?
            .into_iter()
            .map(|p| (p.entity.id, p.entity.body))
            .collect();
        let mut notices: Vec<PublicNotice> = live
            .into_iter()
            .filter_map(|(at, id, notice)| {
                // A notice stands while one of its risk points is still a live major risk.
                let risks: Vec<String> = notice
                    .content
                    .risk_points
                    .iter()
                    .filter_map(|r| records.get(r))
                    .filter(|r| r["retired"].is_null() && r["level"] == "major")
                    .filter_map(|r| r["name"].as_str().map(str::to_string))
                    .collect();
                (!risks.is_empty()).then(|| PublicNotice {
                    id,
                    enterprise: records
                        .get(&notice.content.enterprise_id)
                        .and_then(|e| e["name"].as_str())
                        .unwrap_or_default()
                        .to_string(),
                    risks,
                    title: notice.content.title,
                    body: notice.content.body,
                    contact: notice.content.contact,
                    version: notice.content.version,
                    updated_at_ms: at,
                })
            })
            .collect();
        notices.sort_by(|a, b| {
            b.updated_at_ms
                .cmp(&a.updated_at_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(Json(PublicNotices { notices }))
    }
}
