//! The console's pages: each reads the session, checks the role, calls the same service as the
//! API, and renders its template.

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};
use secrecy::SecretString;
use serde::Deserialize;
use uuid::Uuid;

use super::session;
use super::{State, html, see_other};
use crate::service::accounts::{AccountError, Caller, MAX_PAGE, NewUser, UserChanges};
use crate::service::secrets::{csrf_holds, csrf_token};
use anjian_sync::access::{Grant, Role, Scopes};

/// The Chinese name of a role, as the office says it.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "管理员",
        Role::Leader => "镇领导",
        Role::Inspector => "检查员",
        Role::EnterpriseManager => "企业安全员",
        Role::TeamLead => "班组长",
        Role::Publicist => "宣传员",
        Role::Reviewer => "审核员",
    }
}

/// A grant's roles in Chinese.
fn roles_text(grant: &Grant) -> String {
    grant.roles().map(role_name).collect::<Vec<_>>().join("、")
}

/// What every signed-in page shows at its top: who is signed in, and the CSRF token its forms
/// carry.
pub(super) struct Frame {
    pub(super) name: String,
    pub(super) roles: String,
    pub(super) csrf: String,
    pub(super) admin: bool,
}

impl Frame {
    pub(super) fn of(caller: &Caller, token: &str) -> Frame {
        let grant = &caller.user.grant;
        Frame {
            name: caller.user.display_name.clone(),
            roles: roles_text(grant),
            csrf: csrf_token(token),
            admin: grant.has(Role::Admin),
        }
    }
}

/// The signed-in caller and their session token, or the answer to give instead: the sign-in
/// page for one who is not signed in.
pub(super) async fn signed_in(state: &State, req: &Request) -> Result<(Caller, String), Response> {
    let Some(token) = session::token(req) else {
        return Err(see_other("/console/login"));
    };
    match state.accounts.authenticate(&token).await {
        Ok(caller) => Ok((caller, token)),
        Err(
            AccountError::InvalidToken
            | AccountError::SessionExpired
            | AccountError::AccountDisabled,
        ) => Err(see_other("/console/login?ended=1")),
        Err(err) => Err(failed(&err)),
    }
}

/// A form a signed-in user sent: refused when another site started it or its CSRF token is not
/// the session's.
pub(super) async fn form_of<T: for<'de> Deserialize<'de>>(
    state: &State,
    req: &Request,
    body: &str,
) -> Result<(Caller, String, T), Response> {
    if session::from_another_site(req) {
        return Err(refused());
    }
    let (caller, token) = signed_in(state, req).await?;
    let Ok(form) = serde_urlencoded::from_str::<Csrf<T>>(body) else {
        return Err(message(
            StatusCode::BAD_REQUEST,
            "表单无法读取",
            "表单内容无法读取，请从工作台页面提交。",
        ));
    };
    if !csrf_holds(&token, &form.csrf) {
        return Err(refused());
    }
    Ok((caller, token, form.fields))
}

/// A form's fields with its CSRF token.
#[derive(Deserialize)]
struct Csrf<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    fields: T,
}

pub(super) fn refused() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "请求被拒绝",
        "此表单已失效或来自其他网站，请刷新页面后重试。",
    )
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage<'a> {
    title: &'a str,
    text: &'a str,
}

/// A page that says one thing, with `status`.
pub(super) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    html(status, MessagePage { title, text }.render())
}

/// A change refused because the disk is nearly full: a `507` page, retried after a minute.
pub fn storage_full_page(text: &str) -> Response {
    let mut page = message(StatusCode::INSUFFICIENT_STORAGE, "磁盘空间不足", text);
    page.headers_mut().insert(
        poem::http::header::RETRY_AFTER,
        poem::http::HeaderValue::from_static("60"),
    );
    page
}

/// An unknown console address: a 404 page.
pub fn not_found_page() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "页面不存在",
        "没有这个页面（404）。请从工作台首页进入。",
    )
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage<'a> {
    username: &'a str,
    error: Option<&'a str>,
}

/// Query of the sign-in page.
#[derive(Deserialize, Default)]
struct LoginQuery {
    ended: Option<String>,
}

/// The sign-in page (登录).
#[handler]
pub fn login_form(req: &Request) -> Response {
    let query: LoginQuery = req.params().unwrap_or_default();
    let error = query
        .ended
        .map(|_| "会话已结束（已退出、过期或账号被停用），请重新登录。");
    html(
        StatusCode::OK,
        LoginPage {
            username: "",
            error,
        }
        .render(),
    )
}

/// The sign-in form.
#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// Signs in with username and password: the session cookie, then the home page.
#[handler]
pub async fn login(req: &Request, Data(state): Data<&State>, body: String) -> Response {
    if session::from_another_site(req) {
        return refused();
    }
    let Ok(form) = serde_urlencoded::from_str::<LoginForm>(&body) else {
        return message(
            StatusCode::BAD_REQUEST,
            "表单无法读取",
            "请从登录页面提交。",
        );
    };
    let client = state.client_ip(req);
    let password = SecretString::from(form.password);
    match state.accounts.login(&form.username, password, client).await {
        Ok(logged_in) => {
            use secrecy::ExposeSecret as _;
            let cookie = session::opened(
                state,
                req,
                logged_in.token.expose_secret(),
                logged_in.session.expires_at,
            );
            let mut answer = see_other("/console/");
            if let Ok(value) = cookie.parse() {
                answer.headers_mut().insert("Set-Cookie", value);
            }
            answer
        }
        Err(err) => {
            let (status, error) = match err {
                AccountError::Throttled { retry_after } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "登录失败次数过多，请 {} 秒后再试。",
                        retry_after.as_secs().max(1)
                    ),
                ),
                AccountError::AccountDisabled => {
                    (StatusCode::FORBIDDEN, "此账号已停用，请联系安委办。".into())
                }
                AccountError::InvalidCredentials => {
                    (StatusCode::UNAUTHORIZED, "用户名或密码不正确。".into())
                }
                other => {
                    tracing::error!(error = %other, "console sign-in failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "服务器出错，请稍后再试。".into(),
                    )
                }
            };
            let page = LoginPage {
                username: &form.username,
                error: Some(&error),
            };
            html(status, page.render())
        }
    }
}

/// Signs out: the session ends for every client that holds it.
#[handler]
pub async fn logout(req: &Request, Data(state): Data<&State>, body: String) -> Response {
    let caller = match form_of::<Empty>(state, req, &body).await {
        Ok((caller, _, Empty {})) => caller,
        Err(answer) => return answer,
    };
    if let Err(err) = state.accounts.logout(&caller).await {
        tracing::error!(error = %err, "console sign-out failed");
    }
    let mut answer = see_other("/console/login");
    if let Ok(value) = session::closed(state, req).parse() {
        answer.headers_mut().insert("Set-Cookie", value);
    }
    answer
}

/// A form with no fields but its CSRF token.
#[derive(Deserialize)]
struct Empty {}

#[derive(Template)]
#[template(path = "console/home.html")]
struct HomePage {
    frame: Frame,
    username: String,
    scopes: String,
    expires: String,
    dashboard: Option<super::dashboard::Dashboard>,
}

/// The home page (工作台首页): the dashboard (考核看板) for those who have one, and who is
/// signed in, with which roles and scopes, until when.
#[handler]
pub async fn home(req: &Request, Data(state): Data<&State>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let dashboard = match super::dashboard::dashboard(state, &caller, req).await {
        Ok(dashboard) => dashboard,
        Err(err) => return failed(&err),
    };
    let status = if dashboard.as_ref().is_some_and(|d| d.error.is_some()) {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = HomePage {
        frame: Frame::of(&caller, &token),
        username: caller.user.username.clone(),
        scopes: scope_text(caller.user.grant.scopes()),
        expires: beijing_time(caller.session.expires_at.0),
        dashboard,
    };
    html(status, page.render())
}

/// The protocol name of a serde enum value (`pending_acceptance`, `red`).
pub(super) fn wire_name<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A moment as the town reads it: Beijing time (UTC+8), to the minute.
pub fn beijing_time(ms: i64) -> String {
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let at = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    format!(
        "{}-{:02}-{:02} {:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// Scopes in words.
pub(super) fn scope_text(scopes: &Scopes) -> String {
    let mut parts = Vec::new();
    if scopes.town {
        parts.push("全镇".to_string());
    }
    if !scopes.grids.is_empty() {
        parts.push(format!("网格 {}", scopes.grids.join("、")));
    }
    if let Some(enterprise) = &scopes.enterprise {
        parts.push(format!("企业 {enterprise}"));
    }
    if let Some(team) = &scopes.team {
        parts.push(format!("班组 {team}"));
    }
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join("；")
    }
}

/// One user as the users page lists them.
struct UserRow {
    id: String,
    username: String,
    display_name: String,
    roles: String,
    scopes: String,
    disabled: bool,
}

/// The fields of the new-user form, as sent, to show again beside an error.
#[derive(Deserialize, Default)]
struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    town: Option<String>,
    #[serde(default)]
    grids: String,
    #[serde(default)]
    enterprise: String,
    #[serde(default)]
    team: String,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage<'a> {
    frame: Frame,
    users: Vec<UserRow>,
    roles: Vec<(&'static str, &'static str)>,
    form: &'a NewUserForm,
    /// The field an error is about (`username`, `password`, `role` …), and the error.
    error: Option<(&'a str, String)>,
}

/// The users page (用户管理), for the admin: every user, and the form to add one.
#[handler]
pub async fn users(req: &Request, Data(state): Data<&State>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    users_page(state, &caller, &token, &NewUserForm::default(), None).await
}

async fn users_page(
    state: &State,
    caller: &Caller,
    token: &str,
    form: &NewUserForm,
    error: Option<(&str, String)>,
) -> Response {
    if !caller.user.grant.has(Role::Admin) {
        return forbidden();
    }
    // The office has at most a few hundred users: read them all, a page at a time.
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = match state.accounts.list_users(caller, after, MAX_PAGE).await {
            Ok(page) => page,
            Err(err) => return failed(&err),
        };
        let full = page.len() == MAX_PAGE;
        after = page.last().map(|u| u.id);
        all.extend(page);
        if !full || all.len() >= 10_000 {
            break;
        }
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = UsersPage {
        frame: Frame::of(caller, token),
        users: all
            .iter()
            .map(|u| UserRow {
                id: u.id.to_string(),
                username: u.username.clone(),
                display_name: u.display_name.clone(),
                roles: u
                    .grant
                    .roles()
                    .map(role_name)
                    .collect::<Vec<_>>()
                    .join("、"),
                scopes: scope_text(u.grant.scopes()),
                disabled: u.disabled,
            })
            .collect(),
        roles: Role::ALL
            .iter()
            .map(|r| (r.as_str(), role_name(*r)))
            .collect(),
        form,
        error,
    };
    html(status, page.render())
}

pub(super) fn forbidden() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "无权访问",
        "您的角色不能使用此页面（403）。",
    )
}

pub(super) fn failed(err: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %err, "a console page failed");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "服务器出错",
        "服务器处理失败，已记录日志，请稍后再试。",
    )
}

/// Adds a user from the users page's form; an error is shown beside its field, nothing kept.
#[handler]
pub async fn create_user(req: &Request, Data(state): Data<&State>, body: String) -> Response {
    let (caller, token, form) = match form_of::<NewUserForm>(state, req, &body).await {
        Ok(sent) => sent,
        Err(answer) => return answer,
    };
    if !caller.user.grant.has(Role::Admin) {
        return forbidden();
    }
    let Some(role) = Role::parse(&form.role) else {
        let error = Some(("role", "请选择角色。".to_string()));
        return users_page(state, &caller, &token, &form, error).await;
    };
    let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let new = NewUser {
        username: form.username.clone(),
        display_name: text(&form.display_name),
        password: text(&form.password).map(SecretString::from),
        roles: vec![role],
        scopes: scopes_of(
            form.town.is_some(),
            &form.grids,
            &form.enterprise,
            &form.team,
        ),
    };
    match state.accounts.create_user(&caller, new).await {
        Ok(_) => see_other("/console/users"),
        Err(err) => match field_error(&err) {
            Some(error) => users_page(state, &caller, &token, &form, Some(error)).await,
            None if matches!(err, AccountError::Forbidden { .. }) => forbidden(),
            None => failed(&err),
        },
    }
}

/// Scopes as a form gives them: town-wide or not, grids separated by commas or spaces, an
/// enterprise and a team.
pub(super) fn scopes_of(town: bool, grids: &str, enterprise: &str, team: &str) -> Scopes {
    let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    Scopes {
        town,
        grids: grids
            .split([',', '，', ' '])
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect(),
        enterprise: text(enterprise),
        team: text(team),
    }
}

/// The form field an account error is about, and the error in Chinese with the server's words.
pub(super) fn field_error(err: &AccountError) -> Option<(&'static str, String)> {
    match err {
        AccountError::UsernameTaken => Some(("username", "此用户名已被使用。".into())),
        AccountError::Invalid { field, .. } => {
            let field = match *field {
                "username" => "username",
                "display_name" => "display_name",
                "password" => "password",
                _ => "role",
            };
            Some((field, format!("不符合要求：{err}")))
        }
        AccountError::Access(_) => Some(("role", format!("角色与范围不匹配：{err}"))),
        AccountError::LastAdmin => Some(("role", "不能停用最后一位管理员。".into())),
        _ => None,
    }
}

/// The enable/disable form of one user.
#[derive(Deserialize)]
struct DisabledForm {
    disabled: String,
}

/// Disables (停用) or enables (启用) a user; their sessions stop at once when disabled.
#[handler]
pub async fn set_disabled(
    req: &Request,
    Data(state): Data<&State>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let (caller, token, form) = match form_of::<DisabledForm>(state, req, &body).await {
        Ok(sent) => sent,
        Err(answer) => return answer,
    };
    if !caller.user.grant.has(Role::Admin) {
        return forbidden();
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return not_found_user();
    };
    let changes = UserChanges {
        display_name: None,
        password: None,
        roles: None,
        scopes: None,
        disabled: Some(form.disabled == "true"),
    };
    match state.accounts.update_user(&caller, id, changes).await {
        Ok(_) => see_other("/console/users"),
        Err(AccountError::UserNotFound) => not_found_user(),
        Err(err) => match field_error(&err) {
            Some(error) => {
                users_page(state, &caller, &token, &NewUserForm::default(), Some(error)).await
            }
            None => failed(&err),
        },
    }
}

fn not_found_user() -> Response {
    message(StatusCode::NOT_FOUND, "用户不存在", "没有这个用户（404）。")
}

/// A photo's file for one signed-in who may see it (the same rule as the API's blob
/// answers): `original`, `small` (a thumbnail) or `large`.
#[handler]
pub async fn photo(
    req: &Request,
    Data(state): Data<&State>,
    Path((sha256, variant)): Path<(String, String)>,
) -> Response {
    use crate::service::blobs::Variant;
    let (caller, _) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let variant = match variant.as_str() {
        "original" => Variant::Original,
        "small" => Variant::Small,
        "large" => Variant::Large,
        _ => return not_found_page(),
    };
    let request =
        match <poem::web::StaticFileRequest as poem::FromRequest>::from_request_without_body(req)
            .await
        {
            Ok(request) => request,
            Err(_) => return not_found_page(),
        };
    match crate::api::blobs::serve(state, Some(&caller), &sha256, variant, request).await {
        Ok(file) => poem::IntoResponse::into_response(file),
        Err(err) if err.status() == StatusCode::NOT_FOUND => message(
            StatusCode::NOT_FOUND,
            "照片不存在",
            "没有这张照片，或您无权查看（404）。",
        ),
        Err(err) => failed(&err),
    }
}

/// The display names of the users some records name, read once for a page; an id that names
/// no user is shown as it is.
pub(super) struct People(std::collections::HashMap<Uuid, String>);

impl People {
    /// The names of the users among `ids` (text that is not a user id is skipped).
    pub(super) async fn load<'a>(
        state: &State,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<People, Response> {
        let ids = ids
            .into_iter()
            .filter_map(|id| Uuid::parse_str(id).ok())
            .collect();
        let names = state
            .accounts
            .display_names(ids)
            .await
            .map_err(|err| failed(&err))?;
        Ok(People(names))
    }

    /// The display name of the user `id`, or `id` itself.
    pub(super) fn name(&self, id: &str) -> String {
        Uuid::parse_str(id)
            .ok()
            .and_then(|id| self.0.get(&id).cloned())
            .unwrap_or_else(|| id.to_string())
    }
}
