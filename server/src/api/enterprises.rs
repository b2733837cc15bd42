//! Enterprises (企业) and grids (网格), as the town safety office keeps them. Each change is an
//! event signed by the server's office device, so it reaches the devices by pull.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiRequest, ApiResponse, Enum, Object, OpenApi};
use serde_json::Value;
use uuid::Uuid;

use super::admin::Created;
use super::error::ApiError;
use super::security::Auth;
use super::sync_model::{Projection, from_wire, projections as wire_projections, via_json};
use super::text::Text;
use super::{ApiTags, AppState};
use crate::service::directory::{Directory, DirectoryError, ImportError, ImportReport};
use crate::service::sync::Rejection;
use anjian_sync::entity::EntityType;
use anjian_sync::judge::Verdict;
use anjian_sync::kinds::grid::GridRecord;
use anjian_sync::kinds::team::TeamRecord;

/// A grid (网格 / 村居).
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct GridInput {
    /// The code scopes and enterprises use: 1 to 64 of A-Z, a-z, 0-9, `-`, `_`.
    #[oai(validator(max_length = 64))]
    pub code: Text,
    /// The name people use (村居名称), e.g. 老坝港社区.
    #[oai(validator(max_length = 50))]
    pub name: Text,
}

/// Which of the three meetings (班组安全交接会).
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum Slot {
    /// Before the shift (班前).
    PreShift,
    /// During the shift (班中).
    MidShift,
    /// At handover (交接班).
    Handover,
}

/// A team (班组) of an enterprise.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct TeamInput {
    /// The enterprise's id.
    #[oai(validator(max_length = 64))]
    pub enterprise_id: Text,
    /// The code team leads' scopes and meetings use: 1 to 64 of A-Z, a-z, 0-9, `-`, `_`.
    #[oai(validator(max_length = 64))]
    pub code: Text,
    /// The name people use (一车间早班).
    #[oai(validator(max_length = 50))]
    pub name: Text,
    /// The meetings it holds each working day: one to three different slots.
    #[oai(validator(min_items = 1, max_items = 3))]
    pub slots: Vec<Slot>,
}

/// A checklist item.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct TemplateItemInput {
    /// Its code in the checklist (`XF-01`).
    #[oai(validator(max_length = 64))]
    pub code: Text,
    /// What to check.
    #[oai(validator(max_length = 500))]
    pub text: Text,
    /// The legal basis (依据).
    pub basis: Option<Text>,
    /// How to check (检查方法).
    pub method: Option<Text>,
    /// Whether a finding needs a photo.
    #[oai(default)]
    pub photo_required: bool,
}

/// A checklist section (消防, 用电 …).
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct TemplateSectionInput {
    /// Title.
    #[oai(validator(max_length = 50))]
    pub title: Text,
    /// Items, 1 to 100.
    #[oai(validator(max_items = 100))]
    pub items: Vec<TemplateItemInput>,
}

/// A checklist version (检查表).
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct TemplateInput {
    /// Its code (`small-enterprise`).
    #[oai(validator(max_length = 64))]
    pub code: Text,
    /// Its version, from 1; a published version never changes.
    pub version: u32,
    /// Title.
    #[oai(validator(max_length = 100))]
    pub title: Text,
    /// Sections, 1 to 50.
    #[oai(validator(max_items = 50))]
    pub sections: Vec<TemplateSectionInput>,
}

/// Projections of one type.
#[derive(Debug, Object)]
pub struct ProjectionList {
    /// In id order.
    pub items: Vec<Projection>,
}

/// A CSV enterprise list (企业名录).
#[derive(Debug, ApiRequest)]
pub enum CsvUpload {
    /// Columns 企业名称, 统一社会信用代码, 网格 (or 村居), 行业, 规模, 地址, 联系人, 联系电话 (or
    /// their English names), UTF-8 or GBK.
    #[oai(content_type = "text/csv")]
    Csv(Binary<Vec<u8>>),
    /// The same file sent with another content type (`text/csv; charset=gbk`, …): the encoding
    /// is detected from the bytes either way.
    Bytes(Binary<Vec<u8>>),
}

/// A row taken with a warning.
#[derive(Debug, Object)]
pub struct RowWarning {
    /// The line in the file.
    pub line: u64,
    /// What to look at.
    pub message: String,
}

/// What an import did.
#[derive(Debug, Object)]
pub struct ImportReportView {
    /// Enterprises added.
    pub created: u64,
    /// Enterprises whose record changed.
    pub updated: u64,
    /// Rows that changed nothing.
    pub unchanged: u64,
    /// Rows taken with a warning.
    pub warnings: Vec<RowWarning>,
}

impl From<ImportReport> for ImportReportView {
    fn from(report: ImportReport) -> ImportReportView {
        ImportReportView {
            created: report.created as u64,
            updated: report.updated as u64,
            unchanged: report.unchanged as u64,
            warnings: report
                .warnings
                .into_iter()
                .map(|(line, message)| RowWarning { line, message })
                .collect(),
        }
    }
}

/// A CSV file.
#[derive(Debug, ApiResponse)]
pub enum CsvFile {
    /// The enterprise list, UTF-8 with a BOM.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Ok(
        Binary<Vec<u8>>,
        #[oai(header = "Content-Disposition")] String,
    ),
}

fn encode(items: Vec<anjian_sync::protocol::Projection>) -> Result<ProjectionList, ApiError> {
    let items = wire_projections(&items)?;
    Ok(ProjectionList { items })
}

fn office_reader(auth: &Auth) -> Result<(), ApiError> {
    let grant = &auth.0.user.grant;
    if grant.has(anjian_sync::access::Role::Admin) || grant.has(anjian_sync::access::Role::Leader) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this needs the admin (管理员) or leader (领导) role",
        ))
    }
}

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
    /// Risk colour (风险等级) as the office grades it. Once the enterprise has graded risk points
    /// (风险点, `risk.assess`), the highest live one gives its colour instead, unless
    /// `risk_colour_reason` says why the office's stands.
    pub risk_colour: Option<RiskColour>,
    /// Why the office's `risk_colour` overrides the enterprise's risk points (调整理由).
    #[oai(validator(max_length = 200))]
    pub risk_colour_reason: Option<Text>,
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
    create: bool,
) -> Result<Projection, ApiError> {
    let record: anjian_sync::kinds::enterprise::EnterpriseRecord =
        serde_json::from_value(payload(input)?).map_err(|err| bad_input(err.to_string()))?;
    let projection = Directory::save_enterprise(&state.sync, &auth.0, id, record, create)
        .await
        .map_err(directory_error)?
        .map_err(rejected)?;
    via_json(&projection)
}

fn directory_error(err: DirectoryError) -> ApiError {
    match err {
        DirectoryError::NotFound(message) => {
            ApiError::new(StatusCode::NOT_FOUND, "not-found", message)
        }
        DirectoryError::Conflict(code, message) => {
            ApiError::new(StatusCode::CONFLICT, code, message)
        }
        DirectoryError::Invalid(code, message) => {
            ApiError::new(StatusCode::BAD_REQUEST, code, message)
        }
        DirectoryError::Sync(err) => err.into(),
    }
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
        let projection = save(&state, &auth, Uuid::now_v7(), &body.0, true).await?;
        Ok(Created::Created(Json(projection)))
    }

    /// List enterprises (企业列表) (admin, leader).
    #[oai(
        path = "/v1/admin/enterprises",
        method = "get",
        operation_id = "list_enterprises"
    )]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> Result<Json<ProjectionList>, ApiError> {
        office_reader(&auth)?;
        let enterprises = state.sync.entities_of_type(EntityType::Enterprise).await?;
        Ok(Json(encode(enterprises)?))
    }

    /// Import the town's enterprise list (导入企业名录) from CSV (admin).
    ///
    /// All or nothing: when any row is bad, nothing changes and the answer (400 `csv-invalid`)
    /// names every bad row by line and reason. Rows whose credit code is known update that
    /// enterprise; rows that match it change nothing, so importing the same file twice is safe.
    #[oai(
        path = "/v1/admin/enterprises/import",
        method = "post",
        operation_id = "import_enterprises"
    )]
    async fn import(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: CsvUpload,
    ) -> Result<Json<ImportReportView>, ApiError> {
        let (CsvUpload::Csv(Binary(bytes)) | CsvUpload::Bytes(Binary(bytes))) = body;
        let report = Directory::import_enterprises(&state.sync, &auth.0, &bytes)
            .await
            .map_err(|err| match err {
                ImportError::Rows(_) => {
                    ApiError::new(StatusCode::BAD_REQUEST, "csv-invalid", err.to_string())
                }
                ImportError::Sync(err) => err.into(),
            })?;
        Ok(Json(report.into()))
    }

    /// Export the enterprise list (导出企业名录) as CSV (admin, leader).
    #[oai(
        path = "/v1/admin/enterprises/export",
        method = "get",
        operation_id = "export_enterprises"
    )]
    async fn export(&self, state: Data<&Arc<AppState>>, auth: Auth) -> Result<CsvFile, ApiError> {
        let bytes = Directory::export_enterprises(&state.sync, &auth.0).await?;
        Ok(CsvFile::Ok(
            Binary(bytes),
            "attachment; filename=\"enterprises.csv\"".to_string(),
        ))
    }

    /// Create or rename a grid (网格 / 村居) (admin).
    #[oai(path = "/v1/admin/grids", method = "post", operation_id = "save_grid")]
    async fn save_grid(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<GridInput>,
    ) -> Result<Json<Projection>, ApiError> {
        let record = GridRecord {
            code: body.0.code.0,
            name: body.0.name.0,
        };
        let projection = Directory::save_grid(&state.sync, &auth.0, record)
            .await
            .map_err(directory_error)?
            .map_err(rejected)?;
        Ok(Json(via_json(&projection)?))
    }

    /// Create or change a team (班组) and the meetings it holds (admin, or the enterprise's
    /// safety manager).
    ///
    /// A safety manager can do the same from a device with a `team.save` event.
    #[oai(path = "/v1/admin/teams", method = "post", operation_id = "save_team")]
    async fn save_team(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<TeamInput>,
    ) -> Result<Json<Projection>, ApiError> {
        let record: TeamRecord = from_wire(&body.0).map_err(bad_input)?;
        let projection = Directory::save_team(&state.sync, &auth.0, record)
            .await?
            .map_err(rejected)?;
        Ok(Json(via_json(&projection)?))
    }

    /// Publish a checklist version (发布检查表) (admin).
    ///
    /// A published version never changes (409 `template-published`): publish a new version.
    /// Records keep the version they were captured with.
    #[oai(
        path = "/v1/admin/templates",
        method = "post",
        operation_id = "publish_template"
    )]
    async fn publish_template(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<TemplateInput>,
    ) -> Result<Created<Projection>, ApiError> {
        let template: anjian_sync::kinds::inspection::Template =
            from_wire(&body.0).map_err(bad_input)?;
        let id = Uuid::parse_str(&anjian_sync::kinds::inspection::template_id(
            &template.code,
            template.version,
        ))
        .map_err(|err| bad_input(err.to_string()))?;
        let payload = serde_json::to_value(&template).map_err(|err| bad_input(err.to_string()))?;
        let projection = state
            .sync
            .record_office_event(&auth.0, "template.publish", id, payload)
            .await?
            .map_err(rejected)?;
        Ok(Created::Created(Json(via_json(&projection)?)))
    }

    /// List grids (网格列表) (admin, leader).
    #[oai(path = "/v1/admin/grids", method = "get", operation_id = "list_grids")]
    async fn list_grids(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> Result<Json<ProjectionList>, ApiError> {
        office_reader(&auth)?;
        let grids = state.sync.entities_of_type(EntityType::Grid).await?;
        Ok(Json(encode(grids)?))
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
        Ok(Json(save(&state, &auth, id.0, &body.0, false).await?))
    }
}
