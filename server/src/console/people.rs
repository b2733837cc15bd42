//! A user's page (用户与设备), for the admin: change their name, roles and scopes; set a new
//! password (which ends their sessions); give them a one-time invitation code for the WeChat
//! mini-program, shown once with a QR code to scan; see their devices and revoke one.

use std::collections::HashMap;

use anjian_sync::access::Role;
use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};
use secrecy::SecretString;
use uuid::Uuid;

use super::pages::{
    Frame, beijing_time, failed, field_error, forbidden, form_of, message, role_name, scope_text,
    scopes_of, signed_in,
};
use super::{State, html, see_other};
use crate::service::accounts::{AccountError, Caller, UserChanges};

/// One device as the page lists it.
struct DeviceRow {
    id: String,
    name: String,
    enrolled: String,
    last_push: String,
    revoked: String,
}

/// An invitation code just made, shown once.
struct Issued {
    code: String,
    qr_svg: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage {
    frame: Frame,
    id: String,
    username: String,
    display_name: String,
    disabled: bool,
    roles: Vec<(&'static str, &'static str, bool)>,
    scopes: String,
    town: bool,
    grids: String,
    enterprise: String,
    team: String,
    devices: Vec<DeviceRow>,
    issued: Option<Issued>,
    /// The form an error is about, and the error.
    error: Option<(&'static str, String)>,
}

/// The QR code of `text`, as an SVG (black modules on white).
fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            // Inline in HTML: without the XML declaration.
            svg.find("<svg")
                .map_or(svg.clone(), |at| svg[at..].to_string())
        }
        Err(err) => {
            tracing::error!(error = %err, "an invitation code did not fit a QR code");
            String::new()
        }
    }
}

async fn user_page(
    state: &State,
    caller: &Caller,
    token: &str,
    id: Uuid,
    issued: Option<Issued>,
    error: Option<(&'static str, String)>,
) -> Response {
    if !caller.user.grant.has(Role::Admin) {
        return forbidden();
    }
    let user = match state.accounts.user(caller, id).await {
        Ok(user) => user,
        Err(AccountError::UserNotFound) => return not_found(),
        Err(err) => return failed(&err),
    };
    let devices = match state.sync.devices(caller, Some(id)).await {
        Ok(devices) => devices,
        Err(err) => return failed(&err),
    };
    let scopes = user.grant.scopes();
    let status = match &error {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    let page = UserPage {
        frame: Frame::of(caller, token),
        id: id.to_string(),
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        disabled: user.disabled,
        roles: Role::ALL
            .iter()
            .map(|r| (r.as_str(), role_name(*r), user.grant.has(*r)))
            .collect(),
        scopes: scope_text(scopes),
        town: scopes.town,
        grids: scopes.grids.join(","),
        enterprise: scopes.enterprise.clone().unwrap_or_default(),
        team: scopes.team.clone().unwrap_or_default(),
        devices: devices
            .iter()
            .map(|d| DeviceRow {
                id: d.id.to_string(),
                name: d.name.clone(),
                enrolled: beijing_time(d.enrolled_at.0),
                last_push: d.last_push_at.map_or("—".into(), |t| beijing_time(t.0)),
                revoked: d.revoked_at.map_or(String::new(), |t| beijing_time(t.0)),
            })
            .collect(),
        issued,
        error,
    };
    html(status, page.render())
}

fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "用户不存在", "没有这个用户（404）。")
}

/// The id in a user page's address.
fn user_id(id: &str) -> Option<Uuid> {
    Uuid::parse_str(id).ok()
}

/// A form about a user: the caller, their session token, the fields, and the user's id; or the
/// answer to give instead (a refused form, an id that names no user).
async fn user_form(
    state: &State,
    req: &Request,
    body: &str,
    id: &str,
) -> Result<(Caller, String, HashMap<String, String>, Uuid), Response> {
    let (caller, token, form) = form_of::<HashMap<String, String>>(state, req, body).await?;
    let id = user_id(id).ok_or_else(not_found)?;
    Ok((caller, token, form, id))
}

/// A user's page.
#[handler]
pub async fn show(req: &Request, Data(state): Data<&State>, Path(id): Path<String>) -> Response {
    let (caller, token) = match signed_in(state, req).await {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    match user_id(&id) {
        Some(id) => user_page(state, &caller, &token, id, None, None).await,
        None => not_found(),
    }
}

/// Changes a user's name, roles and scopes (the form's role checkboxes are `role_<name>`).
#[handler]
pub async fn update(
    req: &Request,
    Data(state): Data<&State>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let (caller, token, form, id) = match user_form(state, req, &body, &id).await {
        Ok(sent) => sent,
        Err(answer) => return answer,
    };
    let field = |name: &str| form.get(name).map_or("", String::as_str);
    let roles: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| form.contains_key(&format!("role_{}", r.as_str())))
        .collect();
    if roles.is_empty() {
        let error = Some(("edit", "请至少选择一个角色。".to_string()));
        return user_page(state, &caller, &token, id, None, error).await;
    }
    let changes = UserChanges {
        display_name: Some(field("display_name").trim().to_string()).filter(|n| !n.is_empty()),
        password: None,
        roles: Some(roles),
        scopes: Some(scopes_of(
            form.contains_key("town"),
            field("grids"),
            field("enterprise"),
            field("team"),
        )),
        disabled: None,
    };
    changed(state, &caller, &token, id, changes, "edit").await
}

/// Sets a new password (重置密码): the user's sessions end.
#[handler]
pub async fn password(
    req: &Request,
    Data(state): Data<&State>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let (caller, token, form, id) = match user_form(state, req, &body, &id).await {
        Ok(sent) => sent,
        Err(answer) => return answer,
    };
    let password = form.get("password").cloned().unwrap_or_default();
    let changes = UserChanges {
        display_name: None,
        password: Some(SecretString::from(password)),
        roles: None,
        scopes: None,
        disabled: None,
    };
    changed(state, &caller, &token, id, changes, "password").await
}

/// Makes a change and shows the page again, with the error beside `form` if refused.
async fn changed(
    state: &State,
    caller: &Caller,
    token: &str,
    id: Uuid,
    changes: UserChanges,
    form: &'static str,
) -> Response {
    match state.accounts.update_user(caller, id, changes).await {
        Ok(_) => see_other(&format!("/console/users/{id}")),
        Err(AccountError::UserNotFound) => not_found(),
        Err(AccountError::Forbidden { .. }) => forbidden(),
        Err(err) => match field_error(&err) {
            Some((_, text)) => user_page(state, caller, token, id, None, Some((form, text))).await,
            None => failed(&err),
        },
    }
}

/// Makes a one-time invitation code (邀请码) and shows it once, with its QR code.
#[handler]
pub async fn invitation(
    req: &Request,
    Data(state): Data<&State>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let (caller, token, _, id) = match user_form(state, req, &body, &id).await {
        Ok(sent) => sent,
        Err(answer) => return answer,
    };
    match state.accounts.create_invitation(&caller, id).await {
        Ok(issued) => {
            let shown = Issued {
                qr_svg: qr_svg(&issued.code),
                expires: beijing_time(issued.invitation.expires_at.0),
                code: issued.code,
            };
            let mut answer = user_page(state, &caller, &token, id, Some(shown), None).await;
            // Shown once: never from a cache.
            answer.headers_mut().insert(
                "Cache-Control",
                poem::http::HeaderValue::from_static("no-store"),
            );
            answer
        }
        Err(AccountError::UserNotFound) => not_found(),
        Err(AccountError::Forbidden { .. }) => forbidden(),
        Err(AccountError::AccountDisabled) => {
            let error = Some(("invitation", "此账号已停用，先启用再发邀请码。".to_string()));
            user_page(state, &caller, &token, id, None, error).await
        }
        Err(err) => failed(&err),
    }
}

/// Revokes a device (吊销设备): its pushes are refused from then on.
#[handler]
pub async fn revoke_device(
    req: &Request,
    Data(state): Data<&State>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let (caller, _, _) = match form_of::<HashMap<String, String>>(state, req, &body).await {
        Ok(sent) => sent,
        Err(answer) => return answer,
    };
    let Ok(device) = Uuid::parse_str(&id) else {
        return message(StatusCode::NOT_FOUND, "设备不存在", "没有这台设备（404）。");
    };
    match state.sync.revoke(&caller, device).await {
        Ok(revoked) => see_other(&format!("/console/users/{}", revoked.user_id)),
        Err(crate::service::sync::SyncError::Forbidden(_)) => forbidden(),
        Err(crate::service::sync::SyncError::DeviceUnknown) => {
            message(StatusCode::NOT_FOUND, "设备不存在", "没有这台设备（404）。")
        }
        Err(err) => failed(&err),
    }
}
