//! The client for WeChat's mini-program login (`jscode2session`).
//!
//! A mini-program calls `wx.login()` and gets a one-time *code*; the server trades it, with the
//! app's AppID and AppSecret, at `{api_base}/sns/jscode2session` for the user's *openid* (stable
//! per app) and a *session_key*. The session_key is WeChat's key for decrypting data the
//! mini-program may later send; it never leaves this module and is never logged. WeChat answers
//! errors with HTTP 200 and an `errcode`, which [`WeChatError`] names.
//!
//! The AppSecret travels in the query string, as WeChat requires, so request URLs are never
//! logged and reqwest errors are stripped of their URL before they go anywhere.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::WeChatSettings;

/// The largest answer read from WeChat; real ones are a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What WeChat said about a code, when it did not give a session.
#[derive(Debug, thiserror::Error)]
pub enum WeChatError {
    /// `-1`: WeChat is busy; try again shortly.
    #[error("WeChat is busy (errcode -1)")]
    Busy,
    /// `40029` / `40163`: the code is invalid, expired or already used.
    #[error("WeChat refused the login code (errcode {0})")]
    InvalidCode(i64),
    /// `45011`: too many logins for this user; WeChat allows 100 a minute.
    #[error("WeChat rate-limited this user (errcode 45011)")]
    RateLimited,
    /// `40226`: WeChat blocked this user as high-risk.
    #[error("WeChat blocked this user as high-risk (errcode 40226)")]
    Blocked,
    /// WeChat could not be reached, or took too long.
    #[error("WeChat could not be reached: {0}")]
    Unreachable(String),
    /// WeChat answered something this client does not understand.
    #[error("WeChat answered unexpectedly: {0}")]
    Unexpected(String),
}

/// A successful trade of a code.
pub struct WeChatSession {
    /// The user's id within this mini-program.
    pub openid: String,
    /// The user's id across the developer's apps, when WeChat gives one.
    pub unionid: Option<String>,
    /// WeChat's session key for this user; kept, not yet used, never shown.
    #[allow(dead_code, reason = "kept for decrypting wx.getPhoneNumber data later")]
    session_key: SecretString,
}

impl fmt::Debug for WeChatSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeChatSession")
            .field("openid", &self.openid)
            .field("unionid", &self.unionid)
            .field("session_key", &"[REDACTED]")
            .finish()
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    openid: Option<String>,
    unionid: Option<String>,
    session_key: Option<SecretString>,
}

/// Makes ring the process's TLS crypto provider, which reqwest needs before a client is built
/// (it is built without a bundled provider to keep the build lean). Installing twice changes
/// nothing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Calls WeChat for one mini-program.
pub struct WeChatClient {
    http: reqwest::Client,
    endpoint: String,
    app_id: String,
    app_secret: SecretString,
}

impl fmt::Debug for WeChatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeChatClient")
            .field("endpoint", &self.endpoint)
            .field("app_id", &self.app_id)
            .field("app_secret", &"[REDACTED]")
            .finish()
    }
}

impl WeChatClient {
    /// A client for the configured app, or `None` when WeChat login is off (no AppID).
    pub fn new(settings: &WeChatSettings) -> anyhow::Result<Option<WeChatClient>> {
        if settings.app_id.is_empty() {
            return Ok(None);
        }
        if settings.app_secret.expose_secret().is_empty() {
            anyhow::bail!(
                "wechat.app_id is set but wechat.app_secret is empty (set ANJIAN_WECHAT_APP_SECRET)"
            );
        }
        install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs))
            .connect_timeout(Duration::from_secs(settings.timeout_secs))
            .build()?;
        Ok(Some(WeChatClient {
            http,
            endpoint: format!(
                "{}/sns/jscode2session",
                settings.api_base.trim_end_matches('/')
            ),
            app_id: settings.app_id.clone(),
            app_secret: settings.app_secret.clone(),
        }))
    }

    /// Trades a `wx.login()` code for the user's openid.
    pub async fn code_to_session(&self, code: &str) -> Result<WeChatSession, WeChatError> {
        let unreachable =
            |err: reqwest::Error| WeChatError::Unreachable(err.without_url().to_string());
        let mut response = self
            .http
            .get(&self.endpoint)
            .query(&[
                ("appid", self.app_id.as_str()),
                ("secret", self.app_secret.expose_secret()),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(WeChatError::Unexpected(
                    "an answer larger than 64 KiB".into(),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(if status.is_server_error() {
                WeChatError::Unreachable(format!("HTTP {status}"))
            } else {
                WeChatError::Unexpected(format!("HTTP {status}"))
            });
        }
        // WeChat sends JSON labelled text/plain, so the body is parsed whatever its type.
        let answer: Answer = serde_json::from_slice(&body).map_err(|err| {
            WeChatError::Unexpected(format!("an answer that is not the documented JSON: {err}"))
        })?;
        match answer.errcode {
            0 => {}
            -1 => return Err(WeChatError::Busy),
            code @ (40029 | 40163) => return Err(WeChatError::InvalidCode(code)),
            45011 => return Err(WeChatError::RateLimited),
            40226 => return Err(WeChatError::Blocked),
            code => {
                return Err(WeChatError::Unexpected(format!(
                    "errcode {code}: {}",
                    answer.errmsg
                )));
            }
        }
        match (answer.openid, answer.session_key) {
            (Some(openid), Some(session_key)) if !openid.is_empty() && openid.len() <= 128 => {
                Ok(WeChatSession {
                    openid,
                    unionid: answer.unionid,
                    session_key,
                })
            }
            _ => Err(WeChatError::Unexpected(
                "a success without a usable openid and session_key".into(),
            )),
        }
    }
}
