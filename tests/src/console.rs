//! A browser's side of the office console over plain HTTP: forms posted as a browser posts them,
//! the session cookie kept as a browser keeps it, redirects not followed, so each answer can be
//! looked at.

use reqwest::header;

use crate::TestServer;

/// One browser signed in (or not) to the console.
#[derive(Debug)]
pub struct Browser {
    base: String,
    http: reqwest::Client,
    /// The session cookie (`name=value`), once signed in.
    pub cookie: Option<String>,
}

/// A console answer.
#[derive(Debug)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// `Location`, for a redirect.
    pub location: Option<String>,
    /// `Set-Cookie`, if sent.
    pub set_cookie: Option<String>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// The body as text.
    pub body: String,
}

impl Page {
    /// The CSRF token the page's forms carry.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).map(|i| i + marker.len());
        start
            .and_then(|s| self.body.get(s..s + 64))
            .unwrap_or_default()
            .to_string()
    }
}

impl Browser {
    /// A browser with no session, pointed at `server`.
    pub fn new(server: &TestServer) -> Browser {
        Browser {
            base: server.url(""),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    /// A browser signed in as `username`.
    pub async fn signed_in(server: &TestServer, username: &str, password: &str) -> Browser {
        let mut browser = Browser::new(server);
        let page = browser
            .post(
                "/console/login",
                &[("username", username), ("password", password)],
            )
            .await;
        assert_eq!(page.status, 303, "sign-in failed: {page:?}");
        browser
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// `POST path` with a form, as the page's form would send it.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_with(path, form, &[]).await
    }

    /// `POST path` with a form and extra headers.
    pub async fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let body = serde_urlencoded::to_string(form).unwrap();
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    async fn send(&mut self, mut request: reqwest::RequestBuilder) -> Page {
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = request.send().await.unwrap();
        let text = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let page = Page {
            status: response.status().as_u16(),
            location: text(header::LOCATION),
            set_cookie: text(header::SET_COOKIE),
            content_type: text(header::CONTENT_TYPE),
            body: String::new(),
        };
        let body = response.text().await.unwrap_or_default();
        if let Some(set) = &page.set_cookie {
            let pair = set.split(';').next().unwrap_or_default().to_string();
            self.cookie = pair
                .split_once('=')
                .filter(|(_, v)| !v.is_empty())
                .map(|_| pair.clone());
        }
        Page { body, ..page }
    }
}
