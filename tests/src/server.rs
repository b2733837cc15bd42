//! [`TestServer`]: one real server process-in-a-task over its own temporary data directory.

use std::net::SocketAddr;
use std::sync::Arc;

use anjian_server::api::failures::Undeclared;
use anjian_server::config::Settings;
use anjian_server::startup::Application;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The password of the `admin` user every test server starts with.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
/// The password of users made with [`TestServer::add_user`].
pub const USER_PASSWORD: &str = "user-password-for-tests";

/// The demo town's users: username → password.
#[derive(Debug, Default)]
pub struct DemoTown {
    passwords: std::collections::BTreeMap<String, String>,
}

impl DemoTown {
    /// The password of a demo user (`inspector`, `manager`, `teamlead`, …).
    pub fn password(&self, username: &str) -> &str {
        self.passwords
            .get(username)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("the demo town has no user {username}"))
    }
}

/// A running server.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    dir: Arc<TempDir>,
    settings: Settings,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    http: reqwest::Client,
    undeclared: Arc<Undeclared>,
}

/// An answer: status, `Retry-After`, and the body as JSON (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After` seconds, if sent.
    pub retry_after: Option<u64>,
    /// `Content-Type`, if sent.
    pub content_type: Option<String>,
    /// The body.
    pub body: Value,
}

impl Reply {
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// Asserts an error with this status and code, and a message for a person.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> &Reply {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "unexpected reply: {self:?}"
        );
        let message = self.body["message"].as_str().unwrap_or("");
        assert!(
            message.len() > 10,
            "an error needs a message a person can act on: {self:?}"
        );
        assert_eq!(
            self.body.as_object().map(|o| o.len()),
            Some(2),
            "the error body is exactly {{code, message}}: {self:?}"
        );
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/json; charset=utf-8")
        );
        self
    }

    /// Asserts a success status and returns the body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "unexpected reply: {self:?}");
        &self.body
    }
}

fn test_settings(dir: &TempDir) -> Settings {
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    settings.http.shutdown_grace_secs = 5;
    settings
}

/// Makes the admin with [`ADMIN_PASSWORD`] or, for `demo`, seeds the demo town and keeps its
/// users' passwords there.
async fn seed(app: &Application, demo: Option<&mut DemoTown>) -> anyhow::Result<()> {
    let admin = SecretString::from(ADMIN_PASSWORD.to_string());
    match demo {
        Some(town) => {
            let users = app.seed_demo(Some(admin)).await?.unwrap_or_default();
            for user in users {
                town.passwords
                    .insert(user.username, user.password.expose_secret().to_string());
            }
        }
        None => {
            app.ensure_admin(Some(admin)).await?;
        }
    }
    Ok(())
}

/// The demo town as seeded once for this process: a closed data directory and the passwords.
struct DemoTemplate {
    dir: TempDir,
    passwords: std::collections::BTreeMap<String, String>,
}

/// Seeds the demo town on first use, on a runtime of its own that is gone (and the store
/// closed) before anyone copies the directory.
fn demo_template() -> &'static DemoTemplate {
    static TEMPLATE: std::sync::OnceLock<DemoTemplate> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| {
        std::thread::spawn(|| {
            crate::logs::install();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let template = runtime.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let app = Application::build(test_settings(&dir)).await.unwrap();
                let mut town = DemoTown::default();
                seed(&app, Some(&mut town)).await.unwrap();
                app.close().await.unwrap();
                DemoTemplate {
                    dir,
                    passwords: town.passwords,
                }
            });
            drop(runtime);
            template
        })
        .join()
        .expect("the demo town cannot be seeded")
    })
}

/// Copies the directory `from` into `to`, files and subdirectories.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn http_client() -> reqwest::Client {
    anjian_server::service::wechat::install_tls_provider();
    reqwest::Client::builder().build().unwrap()
}

impl TestServer {
    /// A server with the default settings on a fresh data directory.
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// A server whose settings `configure` adjusts, on a fresh data directory.
    pub async fn start_with(configure: impl FnOnce(&mut Settings)) -> TestServer {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let mut settings = test_settings(&dir);
        configure(&mut settings);
        TestServer::launch(dir, settings).await.unwrap()
    }

    /// A server over the demo town (`anjian-server demo`), and its users' passwords; the admin's
    /// is [`ADMIN_PASSWORD`].
    ///
    /// The town is seeded once per test process (its weeks of history take a while) into a data
    /// directory that is closed and then copied, whole, for each server: every test has a town
    /// of its own, as `anjian-server demo` leaves it.
    pub async fn demo() -> (TestServer, DemoTown) {
        let template = demo_template();
        let dir = Arc::new(tempfile::tempdir().unwrap());
        copy_dir(template.dir.path(), dir.path()).unwrap();
        let settings = test_settings(&dir);
        let town = DemoTown {
            passwords: template.passwords.clone(),
        };
        let server = TestServer::launch(dir, settings).await.unwrap();
        (server, town)
    }

    async fn launch(dir: Arc<TempDir>, settings: Settings) -> anyhow::Result<TestServer> {
        crate::logs::install();
        let app = Application::build(settings.clone()).await?;
        seed(&app, None).await?;
        let undeclared = app.undeclared_answers();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(listener, async {
            let _ = stop.await;
        }));
        Ok(TestServer {
            addr,
            dir,
            settings,
            shutdown: Some(shutdown),
            task: Some(task),
            http: http_client(),
            undeclared,
        })
    }

    /// Tries to build a second server on this server's data directory.
    pub async fn second_on_same_dir(&self) -> anyhow::Result<()> {
        Application::build(self.settings.clone()).await.map(drop)
    }

    /// Stops the server as SIGTERM would and waits until its database is closed.
    pub async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// Stops the server and starts a new one on the same data directory and settings.
    pub async fn restart(mut self) -> TestServer {
        self.stop().await;
        TestServer::launch(self.dir.clone(), self.settings.clone())
            .await
            .unwrap()
    }

    /// Waits, at most `timeout`, for the server to stop by itself, and gives how it ended.
    pub async fn ended_by_itself(
        &mut self,
        timeout: std::time::Duration,
    ) -> Option<anyhow::Result<()>> {
        let task = self.task.as_mut()?;
        let joined = tokio::time::timeout(timeout, task).await.ok()?;
        self.task = None;
        self.shutdown = None;
        Some(joined.unwrap())
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Any request, with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        reply(request.send().await.unwrap()).await
    }

    /// A request with a raw body and content type.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        reply(request.send().await.unwrap()).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::PATCH, path, token, Some(body)).await
    }

    /// Password login.
    pub async fn login(&self, username: &str, password: &str) -> Reply {
        self.post(
            "/v1/auth/login",
            None,
            json!({"username": username, "password": password}),
        )
        .await
    }

    /// Logs in and returns the token, failing the test otherwise.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let reply = self.login(username, password).await;
        reply.ok(200)["token"].as_str().unwrap().to_string()
    }

    /// The admin's token.
    pub async fn admin(&self) -> String {
        self.token("admin", ADMIN_PASSWORD).await
    }

    /// Creates a user as `admin_token` and returns it.
    pub async fn create_user(&self, admin_token: &str, user: Value) -> Value {
        self.post("/v1/admin/users", Some(admin_token), user)
            .await
            .ok(201)
            .clone()
    }

    /// Creates a user with town-wide roles and [`USER_PASSWORD`], logs them in, and returns
    /// their id and token.
    pub async fn add_user(
        &self,
        admin_token: &str,
        username: &str,
        roles: &[&str],
    ) -> (String, String) {
        let user = self
            .create_user(
                admin_token,
                json!({"username": username, "password": USER_PASSWORD, "roles": roles}),
            )
            .await;
        let token = self.token(username, USER_PASSWORD).await;
        (user["id"].as_str().unwrap().to_string(), token)
    }

    /// Creates a town-wide inspector with [`USER_PASSWORD`], logs them in, and returns their
    /// token.
    pub async fn add_inspector(&self, admin_token: &str, username: &str) -> String {
        let user = json!({"username": username, "password": USER_PASSWORD,
            "roles": ["inspector"], "scopes": {"town": true}});
        self.create_user(admin_token, user).await;
        self.token(username, USER_PASSWORD).await
    }

    /// Adds a grid, as the admin `admin_token`.
    pub async fn add_grid(&self, admin_token: &str, code: &str, name: &str) {
        let grid = json!({"code": code, "name": name});
        self.post("/v1/admin/grids", Some(admin_token), grid)
            .await
            .ok(200);
    }

    /// Adds a team holding every meeting slot, as the admin `admin_token`.
    pub async fn add_team(&self, admin_token: &str, enterprise: &str, code: &str) {
        let team = json!({"enterprise_id": enterprise, "code": code, "name": format!("{code}班组"),
            "slots": ["pre_shift", "mid_shift", "handover"]});
        self.post("/v1/admin/teams", Some(admin_token), team)
            .await
            .ok(200);
    }

    /// `PATCH /v1/admin/users/{id}` as `token`.
    pub async fn update_user(&self, token: &str, id: &str, changes: Value) -> Reply {
        self.patch(&format!("/v1/admin/users/{id}"), Some(token), changes)
            .await
    }

    /// All users, as the admin sees them.
    pub async fn users(&self, admin_token: &str) -> Vec<Value> {
        let reply = self
            .get("/v1/admin/users?limit=200", Some(admin_token))
            .await;
        reply.ok(200)["users"].as_array().unwrap().clone()
    }
}

/// Reads a response into a [`Reply`].
pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        retry_after,
        content_type,
        body,
    }
}

impl Drop for TestServer {
    /// Stops the server, and fails the test if it answered an error the spec does not list for
    /// its operation.
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let undeclared = self.undeclared.take();
        if !undeclared.is_empty() && !std::thread::panicking() {
            panic!(
                "the server answered errors its spec does not list for their operations \
                 (add them to OPERATIONS in server/src/api/failures.rs, or stop answering them):\n{}",
                undeclared.join("\n")
            );
        }
    }
}
