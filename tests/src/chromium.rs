//! A real browser for the console's tests: Debian's headless Chromium driven through
//! ChromeDriver (WebDriver) on loopback.
//!
//! The binaries are `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's `chromium` and
//! `chromium-driver`), or the paths in `CHROMIUM` and `CHROMEDRIVER`. When either is missing the
//! test fails at once and says how to install them: a browser test never passes without a
//! browser. Screenshots go to `target/console-screenshots/`, kept as test artifacts.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// The console's viewport: an office PC's screen.
pub const WIDTH: u32 = 1366;
/// The viewport's height.
pub const HEIGHT: u32 = 768;

/// A headless Chromium session, its driver, and its download directory.
#[allow(
    missing_debug_implementations,
    reason = "the WebDriver client is not Debug"
)]
pub struct Chromium {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
    downloads: TempDir,
    base: String,
}

fn binary(variable: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "the console's browser tests need {} ({variable}); install Debian's packages \
         `chromium` and `chromium-driver` (scripts/test does), or set {variable}",
        path.display()
    );
    path
}

/// Where the screenshots go.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/console-screenshots")
        .to_path_buf()
}

/// The browser's log (`goog:loggingPrefs`), read through ChromeDriver's log command.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

impl Chromium {
    /// Starts ChromeDriver and a headless Chromium at 1366×768 that talks to `base`
    /// (`http://127.0.0.1:port`) only.
    pub async fn start(base: &str) -> Chromium {
        let chromium = binary("CHROMIUM", "/usr/bin/chromium");
        let chromedriver = binary("CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", chromedriver.display()));
        let downloads = tempfile::tempdir().unwrap();
        let mut capabilities = Capabilities::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-default-apps",
                    "--disable-sync",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--lang=zh-CN",
                    format!("--window-size={WIDTH},{HEIGHT}"),
                    // Everything but loopback (which Chromium never proxies) goes to a
                    // closed port: a page cannot reach the internet.
                    "--proxy-server=http://127.0.0.1:9",
                ],
                "prefs": {
                    "download.default_directory": downloads.path(),
                    "download.prompt_for_download": false,
                },
            }),
        );
        capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        // ChromeDriver takes a moment to listen: up to 10 s.
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    // The viewport, not the window, is 1366×768: add what the window's frame
                    // takes.
                    client.set_window_size(WIDTH, HEIGHT).await.unwrap();
                    let frame = client
                        .execute(
                            "return [window.outerWidth - window.innerWidth, \
                                     window.outerHeight - window.innerHeight]",
                            vec![],
                        )
                        .await
                        .unwrap();
                    let extra =
                        |i: usize| u32::try_from(frame[i].as_u64().unwrap_or(0)).unwrap_or(0);
                    client
                        .set_window_size(WIDTH + extra(0), HEIGHT + extra(1))
                        .await
                        .unwrap();
                    return Chromium {
                        client,
                        driver,
                        downloads,
                        base: base.to_string(),
                    };
                }
                Err(err) => last = Some(err),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("ChromeDriver did not start a Chromium session: {last:?}");
    }

    /// Opens a console path (`/console/…`).
    pub async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|err| panic!("cannot open {path}: {err}"));
    }

    /// The page's path and query.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The element matching `css`; the test fails when there is none.
    pub async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("nothing matches {css}: {err}"))
    }

    /// The visible text of the element matching `css`.
    pub async fn text_of(&self, css: &str) -> String {
        self.element(css).await.text().await.unwrap()
    }

    /// The attribute `name` of the element matching `css`.
    pub async fn attr_of(&self, css: &str, name: &str) -> String {
        self.element(css)
            .await
            .attr(name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{css} has no {name}"))
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// Runs `script` in the page (to take a page apart as a hostile or careless user would).
    pub async fn run(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Clicks the link matching `css` that downloads a file: the page stays.
    pub async fn click_download(&self, css: &str) {
        self.element(css).await.click().await.unwrap();
    }

    /// Chooses `file` in the file field matching `css`.
    pub async fn choose_file(&self, css: &str, file: &Path) {
        self.element(css)
            .await
            .send_keys(&file.to_string_lossy())
            .await
            .unwrap();
    }

    /// Fills the form field `name` (inside the form matching `form`) with `value`.
    pub async fn fill(&self, form: &str, name: &str, value: &str) {
        let field = self
            .client
            .find(Locator::Css(&format!("{form} [name=\"{name}\"]")))
            .await
            .unwrap_or_else(|err| panic!("no field {name} in {form}: {err}"));
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Clicks the element matching `css` (a link or a form's button) and waits until the next
    /// page has replaced this one.
    pub async fn click(&self, css: &str) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        self.element(css).await.click().await.unwrap();
        self.replaced(old).await;
    }

    /// Waits up to 10 s until `old` (the root of the page before) is gone, and the new page
    /// has loaded.
    pub async fn replaced(&self, old: fantoccini::elements::Element) {
        for _ in 0..100 {
            if old.tag_name().await.is_err() {
                let ready = self
                    .client
                    .execute("return document.readyState", vec![])
                    .await
                    .unwrap();
                if ready == "complete" {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page did not change");
    }

    /// Runs `script`, which submits a form or follows a link, and waits for the next page.
    pub async fn navigate_by(&self, script: &str) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        self.client.execute(script, vec![]).await.unwrap();
        self.replaced(old).await;
    }

    /// Signs in on the sign-in page as `username`.
    pub async fn sign_in(&self, username: &str, password: &str) {
        self.open("/console/login").await;
        self.fill("form", "username", username).await;
        self.fill("form", "password", password).await;
        self.click("form button[type=submit]").await;
        assert_eq!(self.path().await, "/console/", "{}", self.text().await);
    }

    /// Signs out with the button every page carries.
    pub async fn sign_out(&self) {
        self.click("form.logout button").await;
        assert_eq!(self.path().await, "/console/login");
    }

    /// Saves a screenshot of the page as `target/console-screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Prints the page on A4 as the browser's print would (the print stylesheet applies), keeps
    /// the PDF beside the screenshots as `{name}.pdf`, and returns its bytes.
    pub async fn print_a4(&self, name: &str) -> Vec<u8> {
        let config = fantoccini::wd::PrintConfiguration::builder()
            .size(fantoccini::wd::PrintSize::A4)
            .build()
            .unwrap();
        let pdf = self.client.print(config).await.unwrap();
        assert!(pdf.starts_with(b"%PDF"), "{name}: not a PDF");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.pdf")), &pdf).unwrap();
        pdf
    }

    /// The errors the browser logged since the last call: script errors, refused resources
    /// (a CSP violation, a missing asset), failed loads.
    pub async fn errors(&self) -> Vec<String> {
        let log = self.client.issue_cmd(BrowserLog).await.unwrap();
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Opens `path`, checks it rendered without a browser error, and keeps its screenshot.
    pub async fn visit(&self, path: &str, name: &str) -> String {
        self.open(path).await;
        let errors = self.errors().await;
        assert!(errors.is_empty(), "{path}: the browser logged {errors:?}");
        self.screenshot(name).await;
        self.text().await
    }

    /// Waits up to 10 s for a finished download whose name ends with `suffix`; its bytes.
    pub async fn downloaded(&self, suffix: &str) -> Vec<u8> {
        for _ in 0..100 {
            let found = std::fs::read_dir(self.downloads.path())
                .unwrap()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(suffix));
            if let Some(path) = found {
                return std::fs::read(path).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no download ending in {suffix} arrived");
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill().await;
    }
}
