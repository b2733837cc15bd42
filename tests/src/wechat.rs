//! A fake of WeChat's `jscode2session` on loopback, speaking the documented protocol.
//!
//! `GET /sns/jscode2session?appid=…&secret=…&js_code=…&grant_type=authorization_code` answers,
//! as WeChat does, with HTTP 200, `Content-Type: text/plain` and a JSON body. A wrong AppID or
//! AppSecret gets `40013`/`40125`; a wrong grant type `40002`. Each code works once (`40163`
//! after). The code decides the rest:
//!
//! | `js_code`        | answer                                                   |
//! |------------------|----------------------------------------------------------|
//! | `user:<name>[:n]` | success: openid `openid-<name>`, a fresh session_key     |
//! | `busy`           | `-1` system busy                                         |
//! | `limited`        | `45011` rate limited                                     |
//! | `blocked`        | `40226` high-risk user blocked                           |
//! | anything else    | `40029` invalid code                                     |

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Query};
use poem::{EndpointExt, Route, Server, get, handler};
use serde_json::json;

#[derive(Debug, Default)]
struct State {
    app_id: String,
    secret: String,
    used: HashSet<String>,
    session_keys: Vec<String>,
    calls: usize,
}

/// The fake, running until dropped.
#[derive(Debug)]
pub struct FakeWeChat {
    /// Its base URL, for `wechat.api_base`.
    pub base: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

#[handler]
fn jscode2session(
    Query(query): Query<HashMap<String, String>>,
    state: Data<&Arc<Mutex<State>>>,
) -> poem::Response {
    let mut state = state.lock().unwrap();
    state.calls += 1;
    let param = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
    let code = param("js_code").to_string();
    let answer = if param("appid") != state.app_id {
        json!({"errcode": 40013, "errmsg": "invalid appid"})
    } else if param("secret") != state.secret {
        json!({"errcode": 40125, "errmsg": "invalid appsecret"})
    } else if param("grant_type") != "authorization_code" {
        json!({"errcode": 40002, "errmsg": "invalid grant_type"})
    } else if !state.used.insert(code.clone()) {
        json!({"errcode": 40163, "errmsg": "code been used"})
    } else if code == "busy" {
        json!({"errcode": -1, "errmsg": "system error"})
    } else if code == "limited" {
        json!({"errcode": 45011, "errmsg": "api minute-quota reach limit"})
    } else if code == "blocked" {
        json!({"errcode": 40226, "errmsg": "code blocked"})
    } else if let Some(rest) = code.strip_prefix("user:") {
        // `user:wang` and `user:wang:2` are two codes of the same person.
        let name = rest.split(':').next().unwrap_or(rest);
        let session_key = format!("SESSIONKEY{}{}", name.len(), state.calls);
        state.session_keys.push(session_key.clone());
        json!({"openid": format!("openid-{name}"), "session_key": session_key, "unionid": format!("union-{name}")})
    } else {
        json!({"errcode": 40029, "errmsg": "invalid code"})
    };
    // Busy and limited codes may be retried with the same code, as WeChat allows after -1.
    if matches!(code.as_str(), "busy" | "limited" | "blocked") {
        state.used.remove(&code);
    }
    poem::Response::builder()
        .content_type("text/plain")
        .body(answer.to_string())
}

impl FakeWeChat {
    /// Starts the fake for one app.
    pub async fn start(app_id: &str, secret: &str) -> FakeWeChat {
        let state = Arc::new(Mutex::new(State {
            app_id: app_id.to_string(),
            secret: secret.to_string(),
            ..State::default()
        }));
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
        let app = Route::new()
            .at("/sns/jscode2session", get(jscode2session))
            .data(state.clone());
        let task = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(app).await;
        });
        FakeWeChat {
            base: format!("http://{addr}"),
            state,
            task,
        }
    }

    /// Every session_key the fake has handed out.
    pub fn session_keys(&self) -> Vec<String> {
        self.state.lock().unwrap().session_keys.clone()
    }

    /// How many calls it has answered.
    pub fn calls(&self) -> usize {
        self.state.lock().unwrap().calls
    }
}

impl Drop for FakeWeChat {
    fn drop(&mut self) {
        self.task.abort();
    }
}
