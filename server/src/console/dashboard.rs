//! The home page's dashboard (考核看板): a month's figures for the town or a grid, each with its
//! trend over six months drawn as an SVG on the server, and each linking to the ledger behind it.

use std::fmt::Write as _;

use poem::Request;

use super::State;
use crate::service::accounts::Caller;
use crate::service::dashboard::{self, Coverage, Figures, KINDS, covered, previous_month};

/// The dashboard's query: the month (default: this one) and the grid (default: all the caller
/// covers).
#[derive(Debug, Default, serde::Deserialize)]
pub struct DashboardQuery {
    #[serde(default)]
    pub month: String,
    #[serde(default)]
    pub grid: String,
}

/// One figure as the page shows it: its name (Chinese, with the English term in the page's
/// source), its value, what it is of, the ledger behind it, and its trend.
pub struct Card {
    pub id: &'static str,
    /// A figure of now (open, overdue), not of the month.
    pub now: bool,
    pub title: &'static str,
    pub value: String,
    pub detail: String,
    pub link: String,
    pub trend: String,
}

/// The dashboard of a caller who has one.
pub struct Dashboard {
    pub month: String,
    pub grid: String,
    /// The grid's name, or 全镇 (the whole town) / the caller's grids.
    pub area: String,
    /// The six months of the trends, oldest first.
    pub months: Vec<String>,
    /// Each figure with a trend and its value in each of those months, for the printed report.
    pub history: Vec<(&'static str, Vec<String>)>,
    pub grids: Vec<(String, String)>,
    pub cards: Vec<Card>,
    pub by_kind: Vec<(&'static str, u64, String)>,
    pub error: Option<String>,
}

fn percent(permille: Option<u64>) -> String {
    permille.map_or("—".into(), |p| format!("{}.{}%", p / 10, p % 10))
}

/// The first and last day of a month, `YYYY-MM-DD`.
fn bounds(month: &str) -> (String, String) {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let first = time::Date::parse(&format!("{month}-01"), &format).ok();
    let last = first.map(|d| {
        let days = d.month().length(d.year());
        d.replace_day(days).unwrap_or(d)
    });
    let show = |d: Option<time::Date>| d.map(|d| d.to_string()).unwrap_or_default();
    (show(first), show(last))
}

/// Six bars, oldest first: each month's value (`None`: nothing to measure), scaled to the
/// largest, with the value above and the month below. Only digits and fixed words are drawn.
pub fn trend_svg(points: &[(String, Option<u64>)], unit_permille: bool) -> String {
    let max = points
        .iter()
        .filter_map(|(_, v)| *v)
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = String::from(
        r#"<svg class="trend" viewBox="0 0 240 100" width="240" height="100" role="img" xmlns="http://www.w3.org/2000/svg">"#,
    );
    for (index, (month, value)) in points.iter().enumerate() {
        let x = 10 + index * 38;
        let label = month.get(5..).unwrap_or(month);
        if let Some(value) = value {
            let height = value.saturating_mul(60) / max;
            let top = 80 - height;
            let shown = if unit_permille {
                format!("{}%", value / 10)
            } else {
                value.to_string()
            };
            let _ = write!(
                svg,
                r##"<rect x="{x}" y="{top}" width="26" height="{height}" fill="#0b5fa5"><title>{month}: {shown}</title></rect><text x="{}" y="{}" font-size="10" text-anchor="middle">{shown}</text>"##,
                x + 13,
                top.saturating_sub(3).max(10)
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{}" y="94" font-size="10" text-anchor="middle" fill="#6b7785">{label}月</text>"##,
            x + 13
        );
    }
    svg.push_str("</svg>");
    svg
}

fn history_of(all: &[Figures], value: impl Fn(&Figures) -> String) -> Vec<String> {
    all.iter().map(value).collect()
}

/// The dashboard for `caller`, or `None` when their role has none.
pub async fn dashboard(
    state: &State,
    caller: &Caller,
    req: &Request,
) -> Result<Option<Dashboard>, crate::service::sync::SyncError> {
    let mine = match covered(caller) {
        Coverage::Town => None,
        Coverage::Grids(grids) => Some(grids),
        Coverage::Nothing => return Ok(None),
    };
    let query: DashboardQuery = req.params().unwrap_or_default();
    let today = anjian_sync::clock::china_date(crate::store::model::UnixMillis::now().0);
    let mut error = None;
    let month = match super::hazards::month("month", &query.month) {
        Ok(Some(month)) => month,
        Ok(None) => today[..7].to_string(),
        Err((_, text)) => {
            error = Some(text);
            today[..7].to_string()
        }
    };
    let names = super::names::Names::load(state).await?;
    let mut grids: Vec<(String, String)> = names
        .grids
        .iter()
        .filter(|(code, _)| mine.as_ref().is_none_or(|m| m.contains(code)))
        .map(|(c, n)| (c.clone(), n.clone()))
        .collect();
    grids.sort();
    let grid = query.grid.trim().to_string();
    let covered = if grid.is_empty() {
        mine
    } else if grids.iter().any(|(code, _)| *code == grid) {
        Some(vec![grid.clone()])
    } else {
        error = Some(format!("没有“{grid}”这个网格，或您不负责它"));
        mine
    };
    let mut months = vec![month.clone()];
    for _ in 0..5 {
        let before = previous_month(months.last().map_or(&month, |m| m));
        months.push(before);
    }
    months.reverse();
    let one_grid = (!grid.is_empty() && covered.as_ref().is_some_and(|c| c.len() == 1))
        .then_some(grid.as_str());
    let all = dashboard::figures(
        &state.sync,
        caller,
        (covered.clone(), one_grid),
        &months,
        &today,
    )
    .await?;
    let now = all.last().cloned().unwrap_or_default();
    let trend = |value: &dyn Fn(&Figures) -> Option<u64>| {
        all.iter()
            .map(|f| (f.month.clone(), value(f)))
            .collect::<Vec<_>>()
    };
    let (first, last) = bounds(&month);
    let grid_query = if grid.is_empty() {
        String::new()
    } else {
        format!("&grid={grid}")
    };
    let history = vec![
        (
            "检查覆盖率（全覆盖）",
            history_of(&all, |f| percent(f.coverage_permille())),
        ),
        ("检查次数", history_of(&all, |f| f.inspections.to_string())),
        (
            "发现隐患",
            history_of(&all, |f| f.hazards_found.to_string()),
        ),
        (
            "销号隐患",
            history_of(&all, |f| f.hazards_closed.to_string()),
        ),
        (
            "整改率",
            history_of(&all, |f| percent(f.rectification_permille())),
        ),
        (
            "班组安全交接会",
            history_of(&all, |f| percent(f.meetings_permille())),
        ),
        (
            "证据完整率",
            history_of(&all, |f| percent(f.evidence_permille())),
        ),
    ];
    let area = match (&covered, grid.is_empty()) {
        (_, false) => names.grid(&grid),
        (None, true) => "全镇".to_string(),
        (Some(mine), true) => mine
            .iter()
            .map(|code| names.grid(code))
            .collect::<Vec<_>>()
            .join("、"),
    };
    let cards = vec![
        Card {
            id: "coverage",
            now: false,
            // coverage (全覆盖): enterprises inspected of those registered
            title: "检查覆盖率（全覆盖）",
            value: percent(now.coverage_permille()),
            detail: format!(
                "{} / {} 家企业本月已检查（不含企业自查）",
                now.inspected, now.enterprises
            ),
            link: format!("/console/inspections?from={first}&to={last}{grid_query}"),
            trend: trend_svg(&trend(&|f| f.coverage_permille()), true),
        },
        Card {
            id: "inspections",
            now: false,
            title: "检查次数",
            value: now.inspections.to_string(),
            detail: "本月开始的检查".into(),
            link: format!("/console/inspections?from={first}&to={last}{grid_query}"),
            trend: trend_svg(&trend(&|f| Some(f.inspections)), false),
        },
        Card {
            id: "hazards-found",
            now: false,
            title: "发现隐患",
            value: now.hazards_found.to_string(),
            detail: format!("本月上报；本月销号 {} 条", now.hazards_closed),
            link: format!("/console/hazards?month={month}{grid_query}"),
            trend: trend_svg(&trend(&|f| Some(f.hazards_found)), false),
        },
        Card {
            id: "rectification",
            now: false,
            // rectification rate (整改率): of the month's hazards, those closed
            title: "整改率",
            value: percent(now.rectification_permille()),
            detail: format!(
                "本月发现 {} 条，已销号 {} 条",
                now.hazards_found, now.found_closed
            ),
            link: format!("/console/hazards?month={month}&state=closed{grid_query}"),
            trend: trend_svg(&trend(&|f| f.rectification_permille()), true),
        },
        Card {
            id: "overdue",
            now: true,
            title: "逾期未整改",
            value: now.overdue_now.to_string(),
            detail: format!("当前未销号隐患共 {} 条", now.open_now),
            link: format!("/console/hazards?overdue=yes{grid_query}"),
            trend: String::new(),
        },
        Card {
            id: "major",
            now: true,
            // major hazards (重大隐患) and their double report (双报告)
            title: "重大隐患",
            value: now.major_open.to_string(),
            detail: format!(
                "未销号；已完成双报告 {} 条，未完成 {} 条",
                now.major_double_reported,
                now.major_open.saturating_sub(now.major_double_reported)
            ),
            link: format!("/console/hazards?level=major{grid_query}"),
            trend: String::new(),
        },
        Card {
            id: "meetings",
            now: false,
            // shift-meeting compliance (班组"3个5分钟"安全交接会)
            title: "班组安全交接会",
            value: percent(now.meetings_permille()),
            detail: format!(
                "已开 {} 次 / 应开 {} 次（按工作日历，截至昨日）",
                now.meetings_held, now.meetings_expected
            ),
            link: format!("/console/compliance?month={month}{grid_query}"),
            trend: trend_svg(&trend(&|f| f.meetings_permille()), true),
        },
        Card {
            id: "evidence",
            now: false,
            // evidence completeness: every photo a record cites is held
            title: "证据完整率",
            value: percent(now.evidence_permille()),
            detail: format!(
                "本月 {} 条记录中照片齐全 {} 条",
                now.records, now.records_complete
            ),
            link: format!("/console/hazards?month={month}&evidence=incomplete{grid_query}"),
            trend: trend_svg(&trend(&|f| f.evidence_permille()), true),
        },
        Card {
            id: "sync-issues",
            now: true,
            // sync issues: conflicts and quarantined events waiting for the office
            title: "同步问题",
            value: now.sync_issues_open.to_string(),
            detail: "手机上传未被采用、待处理的记录（冲突、隔离）".into(),
            link: "/console/issues".into(),
            trend: String::new(),
        },
    ];
    let kind_names = ["企业自查", "网格巡查", "执法检查", "专项检查", "复查"];
    let by_kind = KINDS
        .iter()
        .zip(kind_names)
        .map(|(kind, name)| {
            (
                name,
                now.by_kind.get(*kind).copied().unwrap_or(0),
                format!("/console/inspections?kind={kind}&from={first}&to={last}{grid_query}"),
            )
        })
        .collect();
    Ok(Some(Dashboard {
        month,
        grid,
        area,
        months: all.iter().map(|f| f.month.clone()).collect(),
        history,
        grids,
        cards,
        by_kind,
        error,
    }))
}

#[derive(askama::Template)]
#[template(path = "console/report.html")]
struct ReportPage {
    frame: super::pages::Frame,
    board: Dashboard,
    made_at: String,
}

/// The dashboard as a printable report (考核月报) on A4: the month's figures with what they are
/// of, the inspections by kind, six months of each trend as numbers, and lines to sign.
#[poem::handler]
pub async fn report(
    req: &Request,
    poem::web::Data(state): poem::web::Data<&State>,
) -> poem::Response {
    use poem::http::StatusCode;
    let (caller, token) = match super::pages::signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let board = match dashboard(state, &caller, req).await {
        Ok(Some(board)) => board,
        Ok(None) => {
            return super::pages::message(
                StatusCode::FORBIDDEN,
                "没有考核报表",
                "考核报表供安委办、镇领导和网格员使用；您的角色不能查看（403）。",
            );
        }
        Err(err) => return super::pages::failed(&err),
    };
    if let Some(text) = &board.error {
        return super::pages::message(StatusCode::BAD_REQUEST, "报表条件有误", text);
    }
    let page = ReportPage {
        frame: super::pages::Frame::of(&caller, &token),
        made_at: super::pages::beijing_time(crate::store::model::UnixMillis::now().0),
        board,
    };
    super::html(StatusCode::OK, askama::Template::render(&page))
}
