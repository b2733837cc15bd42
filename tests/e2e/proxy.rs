//! The reverse-proxy sample, `deploy/nginx.conf`, run under a real nginx (Debian's `nginx`, or
//! the binary in `NGINX`) in front of the real server: HTTPS and HTTP/2 at the proxy, the
//! redirect from plain HTTP, metrics kept in, and client addresses believed from the proxy
//! alone. When nginx is missing the test fails and says how to install it.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anjian_tests::server::{ADMIN_PASSWORD, Reply, TestServer, USER_PASSWORD, reply};
use anjian_tests::tls::{TestCa, presented};
use serde_json::json;

const SAMPLE: &str = include_str!("../../deploy/nginx.conf");

/// nginx over the sample, in a directory of its own; stopped when dropped.
struct Nginx {
    child: tokio::process::Child,
    https: u16,
    http: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Replaces `from` in `text`, which must hold it: the test follows the sample, not a copy.
fn replace(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "deploy/nginx.conf no longer has {from:?}"
    );
    text.replace(from, to)
}

impl Nginx {
    /// Runs the sample with only its addresses, upstream and certificate paths changed.
    async fn start(dir: &Path, upstream: &str, cert: &Path, key: &Path) -> Nginx {
        let binary = std::env::var_os("NGINX")
            .map_or_else(|| PathBuf::from("/usr/sbin/nginx"), PathBuf::from);
        assert!(
            binary.exists(),
            "the proxy test needs nginx: apt-get install nginx-light (or set NGINX to its path)"
        );
        let (https, http) = (free_port(), free_port());
        let mut site = replace(
            SAMPLE,
            "server 127.0.0.1:8080;",
            &format!("server {upstream};"),
        );
        site = replace(
            &site,
            "listen 443 ssl http2;",
            &format!("listen 127.0.0.1:{https} ssl http2;"),
        );
        site = replace(&site, "listen 80;", &format!("listen 127.0.0.1:{http};"));
        site = replace(&site, "    listen [::]:443 ssl http2;\n", "");
        site = replace(&site, "    listen [::]:80;\n", "");
        site = replace(
            &site,
            "/etc/letsencrypt/live/anjian.example.gov.cn/fullchain.pem",
            &cert.display().to_string(),
        );
        site = replace(
            &site,
            "/etc/letsencrypt/live/anjian.example.gov.cn/privkey.pem",
            &key.display().to_string(),
        );
        std::fs::write(dir.join("anjian.conf"), site).unwrap();
        // What /etc/nginx/nginx.conf gives the site, with everything kept in `dir`; one
        // process, as the user running the test.
        let d = dir.display();
        let main = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 128; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             \x20 fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             \x20 include {d}/anjian.conf;\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), main).unwrap();
        let child = tokio::process::Command::new(&binary)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", binary.display()));
        let nginx = Nginx { child, https, http };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", https))
                .await
                .is_ok()
            {
                return nginx;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
        panic!("nginx did not start: {log}");
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.https)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Signs in to the API through `client` at `url`.
async fn login(client: &reqwest::Client, url: &str, username: &str, password: &str) -> Reply {
    reply(
        client
            .post(url)
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[tokio::test]
async fn the_nginx_sample_serves_https_and_names_the_client_which_only_the_proxy_may_do() {
    let server = TestServer::start_with(|s| {
        s.http.trusted_proxies = vec![ip("127.0.0.1")];
        s.auth.max_failures_per_user = 100;
        s.auth.max_failures_per_address = 3;
        s.metrics.enabled = true;
    })
    .await;
    let admin = server.admin().await;
    server.add_user(&admin, "reviewer", &["reviewer"]).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let cert = ca.server();
    let (cert_file, key_file) = cert.write_to(dir.path());
    let nginx = Nginx::start(dir.path(), &server.addr.to_string(), &cert_file, &key_file).await;

    // HTTPS at the proxy, with its certificate, over HTTP/2.
    let anyone = ca.client();
    assert_eq!(presented(&anyone, &nginx.url("/healthz")).await, cert.der);
    let answer = anyone.get(nginx.url("/readyz")).send().await.unwrap();
    assert_eq!(answer.version(), reqwest::Version::HTTP_2);
    assert_eq!(answer.status(), 200);
    // Plain HTTP is sent to HTTPS.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{}/readyz", nginx.http))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 301);
    assert_eq!(
        plain.headers()["location"].to_str().unwrap(),
        "https://127.0.0.1/readyz"
    );
    // Metrics: open to this machine straight to the server, closed through the proxy.
    let direct = reqwest::Client::new();
    let metrics = direct.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let through = anyone.get(nginx.url("/metrics")).send().await.unwrap();
    assert_eq!(through.status(), 404);
    // And the server itself never takes a forwarded request for a local one, whatever path the
    // proxy lets through.
    let forwarded = direct
        .get(server.url("/metrics"))
        .header("x-forwarded-for", "198.51.100.9")
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), 404);

    // Clients behind the proxy are told apart: three failures from 127.0.0.2 lock it out, not
    // 127.0.0.3, though both reach the server from nginx's address.
    let api = nginx.url("/v1/auth/login");
    let guesser = ca.client_from(Some(ip("127.0.0.2")));
    for i in 0..3 {
        login(&guesser, &api, &format!("guess{i}"), "wrong-password")
            .await
            .assert_error(401, "invalid-credentials");
    }
    login(&guesser, &api, "admin", ADMIN_PASSWORD)
        .await
        .assert_error(429, "login-throttled");
    let neighbour = ca.client_from(Some(ip("127.0.0.3")));
    login(&neighbour, &api, "reviewer", USER_PASSWORD)
        .await
        .ok(200);

    // A client cannot name another: an X-Forwarded-For sent through the proxy is replaced by
    // the address nginx saw, and one sent straight to the server is not believed.
    let framer = ca.client_from(Some(ip("127.0.0.4")));
    for i in 0..3 {
        let framed = framer
            .post(&api)
            .header("x-forwarded-for", "127.0.0.3")
            .json(&json!({"username": format!("frame{i}"), "password": "wrong-password"}));
        reply(framed.send().await.unwrap())
            .await
            .assert_error(401, "invalid-credentials");
    }
    let direct_framer = reqwest::Client::builder()
        .local_address(ip("127.0.0.5"))
        .build()
        .unwrap();
    for i in 0..3 {
        let framed = direct_framer
            .post(server.url("/v1/auth/login"))
            .header("x-forwarded-for", "127.0.0.3")
            .json(&json!({"username": format!("direct{i}"), "password": "wrong-password"}));
        reply(framed.send().await.unwrap())
            .await
            .assert_error(401, "invalid-credentials");
    }
    login(&neighbour, &api, "reviewer", USER_PASSWORD)
        .await
        .ok(200);
    login(&framer, &api, "reviewer", USER_PASSWORD)
        .await
        .assert_error(429, "login-throttled");

    // The console's session cookie is Secure through the proxy (X-Forwarded-Proto), and not
    // over plain HTTP straight to the server.
    let form = format!("username=reviewer&password={USER_PASSWORD}");
    let cookie_of =
        |answer: &reqwest::Response| answer.headers()["set-cookie"].to_str().unwrap().to_string();
    let secure = ca
        .client_from(Some(ip("127.0.0.6")))
        .post(nginx.url("/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(secure.status(), 303);
    assert!(
        cookie_of(&secure).contains("; Secure"),
        "{}",
        cookie_of(&secure)
    );
    // Straight to the server over plain HTTP, from a peer that is not the proxy: a claimed
    // X-Forwarded-Proto is not believed.
    let insecure = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(ip("127.0.0.7"))
        .build()
        .unwrap()
        .post(server.url("/console/login"))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-for", "127.0.0.8")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(insecure.status(), 303);
    assert!(
        !cookie_of(&insecure).contains("Secure"),
        "{}",
        cookie_of(&insecure)
    );
    drop(nginx);
}
