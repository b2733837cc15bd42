//! Enterprises (企业), as the town safety office keeps them. Each change is an `enterprise.save`
//! event signed by the server's office device, so it reaches the devices by pull.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use serde_json::Value;
use uuid::Uuid;

use super::admin::Created;
use super::error::ApiError;
use super::security::Auth;
use super::sync_model::{Projection, from_wire, via_json};
use super::text::Text;
use super::{ApiTags, AppState};
use crate::service::sync::Rejection;
use anjian_sync::judge::Verdict;

/// The `Enterprises` tag.
#[derive(Debug)]
pub struct EnterprisesApi;

/// 规上 / 规下.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum Scale {
    /// Above the designated size (规模以上).
    Above,
    /// Below it (规模以下).
    Below,
}

/// Risk colour (风险等级).
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum RiskColour {
    /// 红.
    Red,
    /// 橙.
    Orange,
    /// 黄.
    Yellow,
    /// 蓝.
    Blue,
}

/// A point in micro-degrees.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct Location {
    /// Latitude × 10⁶.
    pub lat_e6: i64,
    /// Longitude × 10⁶.
    pub lng_e6: i64,
}

/// A contact person (联系人).
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct Contact {
    /// Name.
    pub name: Text,
    /// Phone, 5 to 20 digits.
    pub phone: Text,
    /// Role (法人, 安全员 …).
    pub role: Option<Text>,
}

/// Risk flags (重点监管事项).
#[derive(Debug, Default, Object)]
#[oai(deny_unknown_fields)]
pub struct RiskFlags {
    /// Confined spaces (有限空间).
    #[oai(default)]
    pub confined_space: bool,
    /// Ammonia refrigeration (涉氨制冷).
    #[oai(default)]
    pub ammonia_refrigeration: bool,
    /// Combustible dust (粉尘涉爆).
    #[oai(default)]
    pub dust: bool,
    /// Special equipment (特种设备).
    #[oai(default)]
    pub special_equipment: bool,
    /// Liquefied petroleum gas (液化石油气).
    #[oai(default)]
    pub lpg: bool,
}

/// An enterprise's record (企业信息).
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct EnterpriseInput {
    /// Registered name (企业名称).
    #[oai(validator(max_length = 100))]
    pub name: Text,
    /// Unified social credit code (统一社会信用代码): 18 characters; case and surrounding spaces
    /// do not matter. A wrong check character is kept and flagged (`credit_code_warning`).
    #[oai(validator(max_length = 40))]
    pub credit_code: Text,
    /// Industry (行业), e.g. 紫菜加工.
    #[oai(validator(max_length = 50))]
    pub industry: Text,
    /// 规上 / 规下.
    pub scale: Scale,
    /// Grid (网格 / 村居) id.
    #[oai(validator(max_length = 64))]
    pub grid_id: Text,
    /// Village or community (村居).
    #[oai(validator(max_length = 50))]
    pub village: Option<Text>,
    /// Address (地址).
    #[oai(validator(max_length = 200))]
    pub address: Text,
    /// Location.
    pub location: Option<Location>,
    /// Contact people, at most 20.
    #[oai(default, validator(max_items = 20))]
    pub contacts: Vec<Contact>,
    /// Risk colour, once assessed.
    pub risk_colour: Option<RiskColour>,
    /// Risk flags.
    #[oai(default)]
    pub flags: RiskFlags,
}

fn bad_input(err: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "malformed-body",
        format!("the enterprise does not fit: {err}"),
    )
}

fn payload(input: &EnterpriseInput) -> Result<Value, ApiError> {
    let mut value: Value = from_wire(input).map_err(bad_input)?;
    // The event carries the code as the law writes it: upper case, no spaces.
    let code = anjian_sync::credit_code::normalise(&input.credit_code.0);
    value["credit_code"] = Value::String(code);
    Ok(value)
}

fn rejected(rejection: Rejection) -> ApiError {
    let status = match rejection.verdict {
        Verdict::Conflict => StatusCode::CONFLICT,
        _ if rejection.reason.code == "not-permitted" => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, &rejection.reason.code, rejection.reason.message)
}

async fn save(
    state: &AppState,
    auth: &Auth,
    id: Uuid,
    input: &EnterpriseInput,
) -> Result<Projection, ApiError> {
    let payload = payload(input)?;
    let outcome = state
        .sync
        .record_office_event(&auth.0, "enterprise.save", id, payload)
        .await?;
    let projection = outcome.map_err(rejected)?;
    via_json(&projection).map_err(|err| {
        tracing::error!(error = %err, "an enterprise does not fit its wire description");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to encode its answer",
        )
    })
}

#[OpenApi(tag = "ApiTags::Enterprises")]
impl EnterprisesApi {
    /// Register an enterprise (登记企业) (admin).
    ///
    /// The record reaches every device of its grid and enterprise by pull. The answer is the
    /// enterprise's projection; its `id` is what users' `enterprise` scopes name.
    #[oai(
        path = "/v1/admin/enterprises",
        method = "post",
        operation_id = "create_enterprise"
    )]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<EnterpriseInput>,
    ) -> Result<Created<Projection>, ApiError> {
        let projection = save(&state, &auth, Uuid::now_v7(), &body.0).await?;
        Ok(Created::Created(Json(projection)))
    }

    /// Replace an enterprise's record (更新企业信息) (admin).
    #[oai(
        path = "/v1/admin/enterprises/:id",
        method = "put",
        operation_id = "update_enterprise"
    )]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// The enterprise.
        id: Path<Uuid>,
        body: Json<EnterpriseInput>,
    ) -> Result<Json<Projection>, ApiError> {
        Ok(Json(save(&state, &auth, id.0, &body.0).await?))
    }
}
