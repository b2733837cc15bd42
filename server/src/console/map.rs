//! The map (一张图): the town's enterprises at their coordinates, coloured by risk (风险等级),
//! drawn as an SVG on the server without map tiles (town intranets often have no internet),
//! with each village's name at the middle of its enterprises. The same data is GeoJSON at
//! `GET /v1/office/map`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use askama::Template;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::names::Names;
use super::pages::{Frame, failed, signed_in};
use super::{State, html};
use crate::service::office::{MapPoint, Office};

/// The map's filters.
#[derive(Debug, Default, Deserialize)]
pub struct MapQuery {
    #[serde(default)]
    grid: String,
    /// `red`, `orange`, `yellow`, `blue` or `none`.
    #[serde(default)]
    colour: String,
}

const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 620.0;
const PAD: f64 = 40.0;

fn fill(colour: Option<&str>) -> &'static str {
    match colour {
        Some("red") => "#c62828",
        Some("orange") => "#ef6c00",
        Some("yellow") => "#f9a825",
        Some("blue") => "#1565c0",
        _ => "#9e9e9e",
    }
}

/// Text for SVG, escaped.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The SVG of `points`, fitted to the drawing with the same scale on both axes.
fn svg(points: &[MapPoint], names: &Names) -> String {
    let mut out = format!(
        r##"<svg id="map" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" xmlns="http://www.w3.org/2000/svg"><rect width="{WIDTH}" height="{HEIGHT}" fill="#eef4f8"/>"##
    );
    if points.is_empty() {
        out.push_str("</svg>");
        return out;
    }
    let lat = |p: &MapPoint| p.lat_e6 as f64 / 1e6;
    let lng = |p: &MapPoint| p.lng_e6 as f64 / 1e6;
    let (min_lat, max_lat) = points
        .iter()
        .map(lat)
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let (min_lng, max_lng) = points
        .iter()
        .map(lng)
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    // A degree of longitude is shorter than one of latitude by the cosine of the latitude.
    let squeeze = ((min_lat + max_lat) / 2.0).to_radians().cos();
    let span_x = ((max_lng - min_lng) * squeeze).max(1e-4);
    let span_y = (max_lat - min_lat).max(1e-4);
    let scale = ((WIDTH - 2.0 * PAD) / span_x).min((HEIGHT - 2.0 * PAD) / span_y);
    let at = |p: &MapPoint| {
        (
            PAD + (lng(p) - min_lng) * squeeze * scale,
            HEIGHT - PAD - (lat(p) - min_lat) * scale,
        )
    };
    // Each village's name above its enterprises: centred, over the topmost.
    let mut villages: BTreeMap<&str, (f64, f64, f64)> = BTreeMap::new();
    for point in points {
        let (x, y) = at(point);
        let entry = villages
            .entry(point.grid.as_str())
            .or_insert((0.0, 0.0, f64::MAX));
        *entry = (entry.0 + x, entry.1 + 1.0, entry.2.min(y));
    }
    for (grid, (x, n, top)) in &villages {
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="18" fill="#6b7785" text-anchor="middle" opacity="0.8">{}</text>"##,
            x / n,
            (top - 16.0).max(18.0),
            escaped(&names.grid(grid))
        );
    }
    for point in points {
        let (x, y) = at(point);
        let _ = write!(
            out,
            r##"<a href="/console/enterprises/{}"><circle class="enterprise" cx="{x:.1}" cy="{y:.1}" r="8" fill="{}" stroke="#fff" stroke-width="2"><title>{}</title></circle></a>"##,
            escaped(&point.id),
            fill(point.risk_colour.as_deref()),
            escaped(&point.name)
        );
    }
    out.push_str("</svg>");
    out
}

#[derive(Template)]
#[template(path = "console/map.html")]
struct MapPage<'a> {
    frame: Frame,
    query: &'a MapQuery,
    grids: Vec<(String, String)>,
    svg: String,
    counts: Vec<(&'static str, &'static str, usize)>,
    geojson: String,
}

/// The map page (一张图).
#[handler]
pub async fn map(req: &Request, Data(state): Data<&State>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let query: MapQuery = req.params().unwrap_or_default();
    fn some(s: &str) -> Option<&str> {
        Some(s.trim()).filter(|s| !s.is_empty())
    }
    let points =
        match Office::map(&state.sync, &caller, some(&query.grid), some(&query.colour)).await {
            Ok(points) => points,
            Err(err) => return failed(&err),
        };
    let names = match Names::load(state).await {
        Ok(names) => names,
        Err(err) => return failed(&err),
    };
    let counts = [
        ("red", "红"),
        ("orange", "橙"),
        ("yellow", "黄"),
        ("blue", "蓝"),
        ("none", "未评定"),
    ]
    .into_iter()
    .map(|(value, label)| {
        let n = points
            .iter()
            .filter(|p| p.risk_colour.as_deref().unwrap_or("none") == value)
            .count();
        (value, label, n)
    })
    .collect();
    let geojson = format!(
        "/v1/office/map?{}",
        serde_urlencoded::to_string(
            [
                ("grid", query.grid.trim()),
                ("risk_colour", query.colour.trim())
            ]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect::<Vec<_>>()
        )
        .unwrap_or_default()
    );
    let mut grids: Vec<(String, String)> = names.grids.clone().into_iter().collect();
    grids.sort();
    let page = MapPage {
        frame: Frame::of(&caller, &token),
        query: &query,
        grids,
        svg: svg(&points, &names),
        counts,
        geojson,
    };
    html(StatusCode::OK, page.render())
}
