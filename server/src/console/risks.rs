//! An enterprise's two risk lists (两单): the 风险点辨识清单 — each risk point (风险点), where it
//! is, the posts exposed, its hazards and the accident types it may cause — and the 风险分级管控
//! 清单 — its assessment with the inputs, the level, and the control measures by the level of
//! the organisation that owns each. A printable page (A4 landscape) and an export of each list.

use anjian_sync::entity::EntityType;
use anjian_sync::kinds::card::{Card, CardKind, card_id};
use anjian_sync::kinds::floorplan::FloorPlan;
use anjian_sync::kinds::risk::{Assessment, Owner, RiskPoint};
use anjian_sync::protocol::Projection;
use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::enterprises::{colour_name, of_enterprise};
use super::exports::{Sheet, csv_download, xlsx_download};
use super::pages::{Frame, failed, message, signed_in, wire_name};
use super::{State, html};
use crate::service::accounts::Caller;
use crate::service::office::Office;

/// `v` tenths written as a number (5 → 0.5, 30 → 3).
fn tenths(v: u32) -> String {
    if v % 10 == 0 {
        (v / 10).to_string()
    } else {
        format!("{}.{}", v / 10, v % 10)
    }
}

/// A score × 100 written as a number (1200 → 12, 25 → 0.25).
fn hundredths(v: u64) -> String {
    let (whole, part) = (v / 100, v % 100);
    match part {
        0 => whole.to_string(),
        p if p % 10 == 0 => format!("{whole}.{}", p / 10),
        p => format!("{whole}.{p:02}"),
    }
}

/// One risk point as both lists show it.
struct RiskRow {
    name: String,
    place: String,
    posts: String,
    post_list: Vec<String>,
    hazards: String,
    accidents: String,
    method: &'static str,
    inputs: String,
    score: String,
    level: &'static str,
    colour_class: String,
    /// The control measures by owner: 公司级, 车间级, 班组级, 岗位级.
    measures: [String; 4],
    version: u32,
    /// Why it was retired, when it was.
    retired: String,
}

fn row(point: RiskPoint) -> RiskRow {
    let a = &point.assessment;
    let (method, inputs) = match a.assessment {
        Assessment::Ls { l, s } => ("风险矩阵法（LS）", format!("L={l} S={s}")),
        Assessment::Lec { l_x10, e_x10, c } => (
            "作业条件危险性评价法（LEC）",
            format!("L={} E={} C={c}", tenths(l_x10), tenths(e_x10)),
        ),
    };
    let owned = |owner: Owner| {
        a.measures
            .iter()
            .filter(|m| m.owner == owner)
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>()
            .join("；")
    };
    let mut inputs = inputs;
    if let Some(reason) = &a.direct_major {
        inputs.push_str(&format!("；直接判定：{reason}"));
    }
    RiskRow {
        name: a.name.clone(),
        place: a.place.clone(),
        posts: a.posts.join("、"),
        post_list: a.posts.iter().map(|p| p.trim().to_string()).collect(),
        hazards: a.hazards.clone(),
        accidents: a
            .accident_types
            .iter()
            .map(|t| t.chinese())
            .collect::<Vec<_>>()
            .join("、"),
        method,
        inputs,
        score: hundredths(point.score_x100),
        level: point.level.chinese(),
        colour_class: wire_name(point.colour),
        measures: [
            owned(Owner::Company),
            owned(Owner::Workshop),
            owned(Owner::Team),
            owned(Owner::Post),
        ],
        version: point.version,
        retired: point.retired.clone().unwrap_or_default(),
    }
}

/// The name of enterprise `id`; a 404 page when the caller cannot read it.
async fn enterprise_name(state: &State, caller: &Caller, id: &str) -> Result<String, Response> {
    let found = Office::record(&state.sync, caller, EntityType::Enterprise, id)
        .await
        .map_err(|err| failed(&err))?;
    let Some((enterprise, _)) = found else {
        return Err(message(
            StatusCode::NOT_FOUND,
            "企业不存在",
            "没有这家企业，或您无权查看（404）。",
        ));
    };
    Ok(enterprise.entity.body["name"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// The enterprise's name and its risk points the caller reads, live ones by level (highest
/// first) then name, retired ones last; a 404 page when the caller cannot read the enterprise.
async fn listed(
    state: &State,
    caller: &Caller,
    id: &str,
) -> Result<(String, Vec<RiskRow>), Response> {
    let name = enterprise_name(state, caller, id).await?;
    let points: Vec<Projection> = of_enterprise(state, caller, EntityType::RiskPoint, id)
        .await
        .map_err(|err| failed(&err))?;
    let mut points: Vec<RiskPoint> = points
        .into_iter()
        .filter_map(|p| serde_json::from_value(p.entity.body).ok())
        .collect();
    points.sort_by(|a, b| {
        (a.retired.is_some(), a.level, &a.assessment.name).cmp(&(
            b.retired.is_some(),
            b.level,
            &b.assessment.name,
        ))
    });
    Ok((name, points.into_iter().map(row).collect()))
}

#[derive(Template)]
#[template(path = "console/risks.html")]
struct RisksPage {
    frame: Frame,
    id: String,
    name: String,
    colour: &'static str,
    rows: Vec<RiskRow>,
    /// Each post its live risk points name, with its three cards.
    posts: Vec<PostCards>,
}

/// A post and its three cards (三卡) as published.
struct PostCards {
    post: String,
    /// Each card: (its title, its id, its version or 0 when not published).
    cards: Vec<(&'static str, String, u64)>,
}

/// The posts the live risk points name, each with its three cards (三卡) as published.
async fn posts(
    state: &State,
    caller: &Caller,
    id: &str,
    rows: &[RiskRow],
) -> Result<Vec<PostCards>, Response> {
    let cards = of_enterprise(state, caller, EntityType::Card, id)
        .await
        .map_err(|err| failed(&err))?;
    let mut posts: Vec<String> = rows
        .iter()
        .filter(|r| r.retired.is_empty())
        .flat_map(|r| r.post_list.iter().cloned())
        .collect();
    posts.sort();
    posts.dedup();
    Ok(posts
        .into_iter()
        .map(|post| {
            let three = [
                CardKind::RiskNotice,
                CardKind::Emergency,
                CardKind::Commitment,
            ]
            .map(|kind| {
                let card = card_id(id, &post, kind);
                let version = cards
                    .iter()
                    .find(|c| c.entity.id == card)
                    .and_then(|c| c.entity.body["version"].as_u64())
                    .unwrap_or(0);
                (kind.title(), card, version)
            })
            .to_vec();
            PostCards { post, cards: three }
        })
        .collect())
}

/// The two lists of an enterprise, printable.
#[handler]
pub async fn lists(req: &Request, Data(state): Data<&State>, Path(id): Path<String>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let (name, rows) = match listed(state, &caller, &id).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let colour = match super::enterprises::colours(state).await {
        Ok(colours) => colour_name(colours.get(&id).copied().flatten()),
        Err(err) => return failed(&err),
    };
    let posts = match posts(state, &caller, &id, &rows).await {
        Ok(posts) => posts,
        Err(answer) => return answer,
    };
    let page = RisksPage {
        frame: Frame::of(&caller, &token),
        id,
        name,
        colour,
        rows,
        posts,
    };
    html(StatusCode::OK, page.render())
}

fn identification(rows: Vec<RiskRow>) -> Sheet {
    Sheet {
        name: "风险点辨识清单",
        counts: &[0],
        header: [
            "序号",
            "风险点名称",
            "场所/部位",
            "涉及岗位",
            "危险有害因素",
            "可能导致的事故类型",
            "停用说明",
        ]
        .map(str::to_string)
        .to_vec(),
        rows: rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                vec![
                    (i + 1).to_string(),
                    r.name,
                    r.place,
                    r.posts,
                    r.hazards,
                    r.accidents,
                    r.retired,
                ]
            })
            .collect(),
    }
}

fn control(rows: Vec<RiskRow>) -> Sheet {
    Sheet {
        name: "风险分级管控清单",
        counts: &[0],
        header: [
            "序号",
            "风险点名称",
            "评价方法",
            "评价取值",
            "风险值",
            "风险等级",
            "公司级管控措施",
            "车间级管控措施",
            "班组级管控措施",
            "岗位级管控措施",
            "版本",
            "停用说明",
        ]
        .map(str::to_string)
        .to_vec(),
        rows: rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let [company, workshop, team, post] = r.measures;
                vec![
                    (i + 1).to_string(),
                    r.name,
                    r.method.to_string(),
                    r.inputs,
                    r.score,
                    r.level.to_string(),
                    company,
                    workshop,
                    team,
                    post,
                    r.version.to_string(),
                    r.retired,
                ]
            })
            .collect(),
    }
}

/// One of the lists as a file: `identification.xlsx`, `identification.csv`, `control.xlsx` or
/// `control.csv`.
#[handler]
pub async fn export(
    req: &Request,
    Data(state): Data<&State>,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    let (list, xlsx): (fn(Vec<RiskRow>) -> Sheet, bool) = match file.as_str() {
        "identification.xlsx" => (identification, true),
        "identification.csv" => (identification, false),
        "control.xlsx" => (control, true),
        "control.csv" => (control, false),
        _ => return super::pages::not_found_page(),
    };
    let (caller, _) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let (name, rows) = match listed(state, &caller, &id).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let sheet = list(rows);
    let stem = format!("{}-{name}", sheet.name);
    if xlsx {
        xlsx_download(&sheet, &stem)
    } else {
        csv_download(&sheet, &stem)
    }
}

/// The paper a card prints on.
#[derive(Debug, Default, serde::Deserialize)]
struct Paper {
    /// `a4`, or A5 by default.
    #[serde(default)]
    paper: String,
}

#[derive(Template)]
#[template(path = "console/card.html")]
struct CardPage {
    frame: Frame,
    enterprise_id: String,
    enterprise: String,
    title: &'static str,
    card: Card,
    /// The risk points it covers: (name, level, colour class).
    risks: Vec<(String, &'static str, String)>,
    a4: bool,
}

/// One of a post's cards (三卡), printable on A5 (or A4 with `?paper=a4`).
#[handler]
pub async fn show_card(
    req: &Request,
    Data(state): Data<&State>,
    Path(id): Path<String>,
) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let missing = || {
        message(
            StatusCode::NOT_FOUND,
            "告知卡不存在",
            "没有这张告知卡，或您无权查看（404）。",
        )
    };
    let found = match Office::record(&state.sync, &caller, EntityType::Card, &id).await {
        Ok(found) => found,
        Err(err) => return failed(&err),
    };
    let Some((projection, _)) = found else {
        return missing();
    };
    let Ok(card) = serde_json::from_value::<Card>(projection.entity.body) else {
        return missing();
    };
    let enterprise_id = card.content.enterprise_id.clone();
    let enterprise = match enterprise_name(state, &caller, &enterprise_id).await {
        Ok(name) => name,
        Err(answer) => return answer,
    };
    let points = match of_enterprise(state, &caller, EntityType::RiskPoint, &enterprise_id).await {
        Ok(points) => points,
        Err(err) => return failed(&err),
    };
    let risks = card
        .content
        .risk_points
        .iter()
        .filter_map(|rid| points.iter().find(|p| p.entity.id == *rid))
        .filter_map(|p| serde_json::from_value::<RiskPoint>(p.entity.body.clone()).ok())
        .map(|p| (p.assessment.name, p.level.chinese(), wire_name(p.colour)))
        .collect();
    let paper: Paper = req.params().unwrap_or_default();
    let page = CardPage {
        frame: Frame::of(&caller, &token),
        enterprise_id,
        enterprise,
        title: card.content.card.title(),
        card,
        risks,
        a4: paper.paper == "a4",
    };
    html(StatusCode::OK, page.render())
}

/// A risk point as the plan shows it: where, its colour, its name.
struct Placed {
    x: u64,
    y: u64,
    colour: &'static str,
    name: String,
    level: &'static str,
}

#[derive(Template)]
#[template(path = "console/plan.html")]
struct PlanPage {
    frame: Frame,
    id: String,
    name: String,
    /// The plan's image and its size in pixels as shown, when there is a plan.
    image: Option<(String, u64, u64)>,
    title: String,
    version: u32,
    placed: Vec<Placed>,
    /// Live risk points not placed on the plan.
    unplaced: Vec<String>,
}

/// The colour a level is drawn in.
fn fill(colour: anjian_sync::kinds::enterprise::RiskColour) -> &'static str {
    use anjian_sync::kinds::enterprise::RiskColour;
    match colour {
        RiskColour::Red => "#d9362b",
        RiskColour::Orange => "#f08a24",
        RiskColour::Yellow => "#f2c500",
        RiskColour::Blue => "#1f6fd1",
    }
}

/// An enterprise's four-colour risk distribution (一图, 四色分布图): its live risk points on
/// the floor plan it published.
#[handler]
pub async fn plan(req: &Request, Data(state): Data<&State>, Path(id): Path<String>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let name = match enterprise_name(state, &caller, &id).await {
        Ok(name) => name,
        Err(answer) => return answer,
    };
    let (plans, points) = match (
        of_enterprise(state, &caller, EntityType::FloorPlan, &id).await,
        of_enterprise(state, &caller, EntityType::RiskPoint, &id).await,
    ) {
        (Ok(plans), Ok(points)) => (plans, points),
        (Err(err), _) | (_, Err(err)) => return failed(&err),
    };
    let plan = plans
        .into_iter()
        .find_map(|p| serde_json::from_value::<FloorPlan>(p.entity.body).ok());
    let image = match &plan {
        Some(plan) => state
            .blobs
            .info(&caller, &plan.content.image)
            .await
            .ok()
            .map(|meta| {
                // Orientations 5 to 8 turn the picture a quarter: width and height swap.
                let (w, h) = if meta.orientation >= 5 {
                    (meta.height, meta.width)
                } else {
                    (meta.width, meta.height)
                };
                (
                    plan.content.image.clone(),
                    u64::from(w.max(1)),
                    u64::from(h.max(1)),
                )
            }),
        None => None,
    };
    let (width, height) = image.as_ref().map_or((1000, 1000), |(_, w, h)| (*w, *h));
    let mut placed = Vec::new();
    let mut unplaced = Vec::new();
    for point in points
        .into_iter()
        .filter_map(|p| serde_json::from_value::<RiskPoint>(p.entity.body).ok())
        .filter(|p| p.retired.is_none())
    {
        match point.assessment.plan_point {
            Some(at) => placed.push(Placed {
                x: u64::from(at.x_permille) * width / 1000,
                y: u64::from(at.y_permille) * height / 1000,
                colour: fill(point.colour),
                name: point.assessment.name,
                level: point.level.chinese(),
            }),
            None => unplaced.push(point.assessment.name),
        }
    }
    let page = PlanPage {
        frame: Frame::of(&caller, &token),
        id,
        name,
        image,
        title: plan
            .as_ref()
            .map(|p| p.content.title.clone())
            .unwrap_or_default(),
        version: plan.as_ref().map_or(0, |p| p.content.version),
        placed,
        unplaced,
    };
    html(StatusCode::OK, page.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_written_as_people_write_them() {
        assert_eq!(
            [tenths(5), tenths(30), tenths(1), tenths(100)],
            ["0.5", "3", "0.1", "10"]
        );
        assert_eq!(
            [
                hundredths(1200),
                hundredths(25),
                hundredths(4500),
                hundredths(50)
            ],
            ["12", "0.25", "45", "0.5"]
        );
    }
}
