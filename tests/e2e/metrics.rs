//! Prometheus metrics: off by default; on, read with the configured token only, and the page is
//! Prometheus text holding what the server did.

use anjian_tests::{TestDevice, TestServer, USER_PASSWORD};
use secrecy::SecretString;

/// The scrape token of servers started with metrics on.
pub(crate) const TOKEN: &str = "a-scrape-token-for-tests";

async fn scrape(server: &TestServer, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(server.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

/// The metrics page of `server`, read with [`TOKEN`] and parsed.
pub(crate) async fn scraped(server: &TestServer) -> prometheus_parse::Scrape {
    let (status, text) = scrape(server, Some(TOKEN)).await;
    assert_eq!(status, 200, "{text}");
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
}

/// The value of `name` with these labels.
pub(crate) fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
        .unwrap_or_else(|| panic!("no {name} {labels:?}"))
}

#[tokio::test]
async fn the_metrics_page_is_prometheus_text_of_what_the_server_did_and_needs_its_token() {
    let off = TestServer::start().await;
    assert_eq!(scrape(&off, None).await.0, 404, "off by default");

    let server = TestServer::start_with(|settings| {
        settings.metrics.enabled = true;
        settings.metrics.token = SecretString::from(TOKEN.to_string());
    })
    .await;
    let admin = server.admin().await;
    server.add_inspector(&admin, "lili").await;
    let lili = TestDevice::enrolled(&server, "lili", USER_PASSWORD).await;
    lili.report_hazard("general");
    lili.sync().await.unwrap();
    // Too many wrong passwords: the login is throttled.
    let mut throttled = false;
    for _ in 0..10 {
        if server.login("lili", "a-wrong-password").await.status == 429 {
            throttled = true;
            break;
        }
    }
    assert!(throttled);

    assert_eq!(scrape(&server, None).await.0, 404, "no token");
    assert_eq!(scrape(&server, Some("wrong")).await.0, 404, "a wrong token");
    let parsed = scraped(&server).await;
    assert!(
        value(
            &parsed,
            "anjian_events_pushed_total",
            &[("verdict", "applied")]
        ) >= 1.0
    );
    assert!(value(&parsed, "anjian_pull_pages_total", &[]) >= 1.0);
    assert!(
        value(
            &parsed,
            "anjian_http_requests_total",
            &[("operation", "push"), ("status", "200")]
        ) >= 1.0
    );
    assert!(value(&parsed, "anjian_login_throttled_total", &[]) >= 1.0);
    assert!(value(&parsed, "anjian_store_bytes", &[]) > 0.0);
    assert!(value(&parsed, "anjian_syncs_waiting", &[]) == 0.0);
    assert!(value(&parsed, "anjian_uploads_in_progress", &[]) == 0.0);
    // The sync latencies, as histograms.
    assert!(parsed.samples.iter().any(|s| {
        s.metric == "anjian_http_request_duration_seconds"
            && s.labels.get("operation") == Some("pull")
            && matches!(s.value, prometheus_parse::Value::Histogram(_))
    }));
    // Paths no operation answers are one series, whatever they are.
    for path in ["/no/such/a", "/no/such/b"] {
        server.get(path, None).await;
    }
    let parsed = scraped(&server).await;
    assert!(
        value(
            &parsed,
            "anjian_http_requests_total",
            &[("operation", "other"), ("status", "404")]
        ) >= 2.0
    );
}
