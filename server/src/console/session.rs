//! The console's session cookie, and the refusal of requests from other sites. (The CSRF
//! token a session's forms carry is `secrets::csrf_token`.)

use poem::Request;
use poem::http::header;

use crate::store::model::UnixMillis;

/// The cookie that carries the session token.
pub const COOKIE: &str = "anjian_console";

/// The session token from the request's cookie, if it has one.
pub fn token(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_string())
}

/// Whether the request came over TLS (directly, or through a proxy the server trusts).
fn secure(state: &super::State, req: &Request) -> bool {
    state.proxies.origin(req).https
}

/// The `Set-Cookie` value that opens a session with `token` until `expires_at`.
pub fn opened(state: &super::State, req: &Request, token: &str, expires_at: UnixMillis) -> String {
    let seconds = (expires_at.0 - UnixMillis::now().0).max(0) / 1000;
    let cookie = cookie::Cookie::build((COOKIE, token.to_string()))
        .path("/console")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(secure(state, req))
        .max_age(cookie::time::Duration::seconds(seconds));
    cookie.build().to_string()
}

/// The `Set-Cookie` value that ends the session in the browser.
pub fn closed(state: &super::State, req: &Request) -> String {
    cookie::Cookie::build((COOKIE, ""))
        .path("/console")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(secure(state, req))
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

/// Whether another site started this request: the browser says so (`Sec-Fetch-Site`), or its
/// `Origin` is not this host.
pub fn from_another_site(req: &Request) -> bool {
    let headers = req.headers();
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    origin_host != host
}
