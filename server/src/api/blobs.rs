//! Photos (照片) and other blobs: resumable uploads (a tus 1.0 subset), the one-request form for
//! `wx.uploadFile`, and reading blobs and their thumbnails.

use std::sync::Arc;

use poem::web::{Data, StaticFileRequest, StaticFileResponse};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::types::multipart::Upload as FormFile;
use poem_openapi::{ApiRequest, ApiResponse, Enum, Multipart, Object, OpenApi};
use uuid::Uuid;

use super::error::ApiError;
use super::security::Auth;
use super::{ApiTags, AppState};
use crate::service::accounts::Caller;
use crate::service::blobs::{BlobError, Created, Served, Variant};
use crate::store::model::BlobMeta;

/// The tus protocol version spoken.
const TUS_VERSION: &str = "1.0.0";

/// The `Blobs` tag.
#[derive(Debug)]
pub struct BlobsApi;

/// What the server knows about a stored photo.
#[derive(Debug, Object)]
pub struct BlobInfo {
    /// Its sha256, lower-case hex: its name.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub media_type: String,
    /// Width in pixels as stored (before the EXIF orientation is applied).
    pub width: u32,
    /// Height in pixels as stored.
    pub height: u32,
    /// EXIF orientation, 1 to 8; thumbnails are already turned upright.
    pub orientation: u8,
    /// When the camera says it took the photo (EXIF 拍摄时间), as the camera wrote it, ISO 8601.
    #[oai(skip_serializing_if_is_none)]
    pub taken_at: Option<String>,
    /// Where the camera says it was (EXIF GPS), WGS 84.
    #[oai(skip_serializing_if_is_none)]
    pub gps: Option<BlobGps>,
    /// When the server received it, ms since the epoch.
    pub received_at_ms: i64,
}

/// A photo's EXIF position.
#[derive(Debug, Object)]
pub struct BlobGps {
    /// Latitude, degrees, north positive.
    pub lat: f64,
    /// Longitude, degrees, east positive.
    pub lon: f64,
    /// Altitude in metres, when recorded.
    #[oai(skip_serializing_if_is_none)]
    pub alt: Option<f64>,
}

impl From<BlobMeta> for BlobInfo {
    fn from(meta: BlobMeta) -> BlobInfo {
        BlobInfo {
            sha256: meta.sha256,
            size: meta.size,
            media_type: meta.media_type,
            width: meta.width,
            height: meta.height,
            orientation: meta.orientation,
            taken_at: meta.taken_at,
            gps: meta.gps.map(|g| BlobGps {
                lat: g.lat,
                lon: g.lon,
                alt: g.alt,
            }),
            received_at_ms: meta.received_at.0,
        }
    }
}

impl BlobInfo {
    /// Without the evidence metadata (capture time, position): what a caller who only named the
    /// file's hash may learn.
    fn without_evidence(mut self) -> BlobInfo {
        self.taken_at = None;
        self.gps = None;
        self
    }
}

/// The answer to creating an upload.
#[derive(Debug, ApiResponse)]
pub enum CreateUploadResponse {
    /// Created: send the bytes to `Location` (`PATCH`, or `POST` with
    /// `X-HTTP-Method-Override: PATCH`) from offset 0.
    #[oai(status = 201)]
    Created(
        #[oai(header = "Location")] String,
        #[oai(header = "Upload-Expires")] String,
        #[oai(header = "Tus-Resumable")] String,
    ),
    /// The server already holds this file: nothing needs sending, and nothing more is to be done
    /// with this photo (do not PATCH `Location`, which is the blob). The body has no evidence
    /// metadata (`taken_at`, `gps`): naming a hash does not grant reading the photo.
    #[oai(status = 200)]
    Exists(
        Json<BlobInfo>,
        #[oai(header = "Location")] String,
        #[oai(header = "Tus-Resumable")] String,
    ),
}

/// Where an upload stands.
#[derive(Debug, ApiResponse)]
pub enum UploadStateResponse {
    /// `Upload-Offset` bytes are held; continue from there.
    #[oai(status = 200)]
    Ok(
        #[oai(header = "Upload-Offset")] u64,
        #[oai(header = "Upload-Length")] u64,
        #[oai(header = "Upload-Expires")] String,
        #[oai(header = "Tus-Resumable")] String,
        #[oai(header = "Cache-Control")] String,
    ),
}

/// The answer to an append.
#[derive(Debug, ApiResponse)]
pub enum AppendResponse {
    /// The chunk is kept; the upload holds `Upload-Offset` bytes.
    #[oai(status = 204)]
    Continue(
        #[oai(header = "Upload-Offset")] u64,
        #[oai(header = "Tus-Resumable")] String,
    ),
    /// The file is complete, checked and stored: this is the blob.
    #[oai(status = 200)]
    Stored(
        Json<BlobInfo>,
        #[oai(header = "Upload-Offset")] u64,
        #[oai(header = "Tus-Resumable")] String,
    ),
}

/// What the upload endpoint supports (tus discovery).
#[derive(Debug, ApiResponse)]
pub enum UploadOptionsResponse {
    /// The tus version, extensions, checksum algorithm and largest file.
    #[oai(status = 204)]
    Ok(
        #[oai(header = "Tus-Resumable")] String,
        #[oai(header = "Tus-Version")] String,
        #[oai(header = "Tus-Extension")] String,
        #[oai(header = "Tus-Checksum-Algorithm")] String,
        #[oai(header = "Tus-Max-Size")] u64,
    ),
}

/// A stored blob's presence.
#[derive(Debug, ApiResponse)]
pub enum BlobHeadResponse {
    /// The server holds it.
    #[oai(status = 200)]
    Ok(
        #[oai(header = "Content-Length")] u64,
        #[oai(header = "Content-Type")] String,
    ),
}

/// A chunk of an upload.
#[derive(Debug, ApiRequest)]
pub enum Chunk {
    /// The bytes, starting at `Upload-Offset`.
    #[oai(content_type = "application/offset+octet-stream")]
    Bytes(Binary<poem::Body>),
}

/// A whole photo in one `multipart/form-data` request, as `wx.uploadFile` sends it
/// (`name: "file"`, `formData: {sha256}`).
#[derive(Debug, Multipart)]
pub struct BlobForm {
    /// The file's sha256, lower-case hex.
    pub sha256: String,
    /// The file.
    pub file: FormFile,
}

/// A thumbnail size.
#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ThumbnailSize {
    /// At most 320 pixels a side, for lists.
    Small,
    /// At most 1280 pixels a side, for viewing on a phone.
    Large,
}

impl From<ThumbnailSize> for Variant {
    fn from(size: ThumbnailSize) -> Variant {
        match size {
            ThumbnailSize::Small => Variant::Small,
            ThumbnailSize::Large => Variant::Large,
        }
    }
}

fn tus() -> String {
    TUS_VERSION.to_string()
}

/// Refuses a `Tus-Resumable` other than 1.0.0 (an absent one is taken as 1.0.0, since
/// `wx.request` clients may not send it).
fn check_tus(version: &Option<String>) -> Result<(), ApiError> {
    match version.as_deref() {
        None | Some(TUS_VERSION) => Ok(()),
        Some(other) => Err(ApiError::new(
            poem::http::StatusCode::PRECONDITION_FAILED,
            "tus-version",
            format!(
                "this server speaks tus {TUS_VERSION}, not {other}; send Tus-Resumable: {TUS_VERSION}"
            ),
        )),
    }
}

/// The `sha256` entry of a tus `Upload-Metadata` header (`key base64value,key base64value`).
pub fn metadata_sha256(header: &str) -> Result<String, ApiError> {
    use base64::Engine as _;
    let invalid = |message: &str| {
        ApiError::new(
            poem::http::StatusCode::BAD_REQUEST,
            "invalid-header",
            message,
        )
    };
    for pair in header.split(',') {
        let mut parts = pair.trim().splitn(2, ' ');
        if parts.next() != Some("sha256") {
            continue;
        }
        let value = parts.next().unwrap_or_default().trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| invalid("the sha256 in Upload-Metadata is not base64"))?;
        return String::from_utf8(bytes)
            .map_err(|_| invalid("the sha256 in Upload-Metadata is not text"));
    }
    Err(invalid(
        "Upload-Metadata must carry `sha256 <base64 of the file's sha256 in hex>`",
    ))
}

/// File answers fail with `poem::Error` (the `{code, message}` body all the same); the spec's
/// error responses come from `failures`, as every operation's do.
fn file_error(err: BlobError) -> poem::Error {
    ApiError::from(err).into()
}

/// A blob's file for `caller` (the public when `None`), if they may see it.
pub(crate) async fn serve(
    state: &AppState,
    caller: Option<&Caller>,
    sha256: &str,
    variant: Variant,
    request: StaticFileRequest,
) -> poem::Result<StaticFileResponse> {
    let file = state
        .blobs
        .serve(caller, sha256, variant)
        .await
        .map_err(file_error)?;
    served(file, request)
}

fn served(file: Served, request: StaticFileRequest) -> poem::Result<StaticFileResponse> {
    let mut response = request.create_response(&file.path, false, false).map_err(|err| {
        tracing::error!(path = %file.path.display(), error = %err, "a stored blob cannot be read");
        file_error(BlobError::Storage(err.to_string()))
    })?;
    if let StaticFileResponse::Ok {
        content_type,
        cache_control,
        ..
    } = &mut response
    {
        *content_type = Some(file.media_type);
        // A blob never changes; who may see it can, so shared caches keep public ones only.
        *cache_control = Some(if file.public {
            "public, max-age=31536000, immutable".to_string()
        } else {
            "private, max-age=31536000, immutable".to_string()
        });
    }
    Ok(response)
}

#[OpenApi(tag = "ApiTags::Blobs")]
impl BlobsApi {
    /// What uploads support (上传能力, tus discovery).
    #[oai(
        path = "/v1/uploads",
        method = "options",
        operation_id = "upload_options"
    )]
    async fn options(&self, state: Data<&Arc<AppState>>) -> UploadOptionsResponse {
        UploadOptionsResponse::Ok(
            tus(),
            TUS_VERSION.to_string(),
            "creation,checksum,expiration".to_string(),
            "sha256".to_string(),
            state.blobs.max_bytes(),
        )
    }

    /// Start a resumable upload of a photo (创建照片上传). `Upload-Length` is the file's size,
    /// `Upload-Metadata` carries `sha256 <base64 of the hex sha256>`. When the server already
    /// holds the file the answer is 200 and nothing needs sending.
    #[oai(path = "/v1/uploads", method = "post", operation_id = "create_upload")]
    async fn create(
        &self,
        Auth(caller): Auth,
        state: Data<&Arc<AppState>>,
        /// The whole file's size in bytes.
        #[oai(name = "Upload-Length")]
        length: Header<u64>,
        /// `sha256 <base64 of the file's sha256 as lower-case hex>`; other keys are ignored.
        #[oai(name = "Upload-Metadata")]
        metadata: Header<String>,
        /// `1.0.0`.
        #[oai(name = "Tus-Resumable")]
        version: Header<Option<String>>,
    ) -> Result<CreateUploadResponse, ApiError> {
        check_tus(&version.0)?;
        let sha256 = metadata_sha256(&metadata.0)?;
        match state
            .blobs
            .create_upload(&caller, length.0, &sha256)
            .await?
        {
            Created::Exists(blob) => Ok(CreateUploadResponse::Exists(
                Json(BlobInfo::from(blob).without_evidence()),
                format!("/v1/blobs/{sha256}"),
                tus(),
            )),
            Created::Upload(upload) => Ok(CreateUploadResponse::Created(
                format!("/v1/uploads/{}", upload.id),
                super::public::http_date(upload.expires_at.0),
                tus(),
            )),
        }
    }

    /// Where an upload stands (上传进度): how many bytes the server holds.
    #[oai(
        path = "/v1/uploads/:id",
        method = "head",
        operation_id = "upload_offset"
    )]
    async fn offset(
        &self,
        Auth(caller): Auth,
        state: Data<&Arc<AppState>>,
        /// The upload, from `Location`.
        id: Path<Uuid>,
    ) -> Result<UploadStateResponse, ApiError> {
        let (upload, offset) = state.blobs.upload(&caller, id.0).await?;
        Ok(UploadStateResponse::Ok(
            offset,
            upload.length,
            super::public::http_date(upload.expires_at.0),
            tus(),
            "no-store".to_string(),
        ))
    }

    /// Send the next bytes of an upload (续传照片), from `Upload-Offset`, which must be what the
    /// server holds (else 409). With `Upload-Checksum: sha256 <base64>` the chunk is kept only if
    /// it matches (else 460). The chunk that completes the file answers 200 with the stored blob,
    /// or an error if the file is not the announced one or not an acceptable image.
    #[oai(
        path = "/v1/uploads/:id",
        method = "patch",
        operation_id = "append_upload"
    )]
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per header of the tus protocol"
    )]
    async fn append(
        &self,
        Auth(caller): Auth,
        state: Data<&Arc<AppState>>,
        /// The upload, from `Location`.
        id: Path<Uuid>,
        /// Where these bytes start.
        #[oai(name = "Upload-Offset")]
        offset: Header<u64>,
        /// `sha256 <base64 of this chunk's sha256>`.
        #[oai(name = "Upload-Checksum")]
        checksum: Header<Option<String>>,
        /// `1.0.0`.
        #[oai(name = "Tus-Resumable")]
        version: Header<Option<String>>,
        body: Chunk,
    ) -> Result<AppendResponse, ApiError> {
        check_tus(&version.0)?;
        let Chunk::Bytes(Binary(body)) = body;
        let appended = state
            .blobs
            .append(
                &caller,
                id.0,
                offset.0,
                checksum.0.as_deref(),
                body.into_async_read(),
            )
            .await?;
        Ok(match appended.blob {
            Some(blob) => AppendResponse::Stored(Json(blob.into()), appended.offset, tus()),
            None => AppendResponse::Continue(appended.offset, tus()),
        })
    }

    /// The same as `PATCH`, for clients that cannot send PATCH (`wx.request`) (续传照片):
    /// `POST` with `X-HTTP-Method-Override: PATCH`.
    #[oai(
        path = "/v1/uploads/:id",
        method = "post",
        operation_id = "append_upload_override"
    )]
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per header of the tus protocol"
    )]
    async fn append_override(
        &self,
        auth: Auth,
        state: Data<&Arc<AppState>>,
        /// The upload, from `Location`.
        id: Path<Uuid>,
        /// Must be `PATCH`.
        #[oai(name = "X-HTTP-Method-Override")]
        method: Header<String>,
        /// Where these bytes start.
        #[oai(name = "Upload-Offset")]
        offset: Header<u64>,
        /// `sha256 <base64 of this chunk's sha256>`.
        #[oai(name = "Upload-Checksum")]
        checksum: Header<Option<String>>,
        /// `1.0.0`.
        #[oai(name = "Tus-Resumable")]
        version: Header<Option<String>>,
        body: Chunk,
    ) -> Result<AppendResponse, ApiError> {
        if !method.0.eq_ignore_ascii_case("PATCH") {
            return Err(ApiError::new(
                poem::http::StatusCode::BAD_REQUEST,
                "invalid-header",
                "POST to an upload needs X-HTTP-Method-Override: PATCH",
            ));
        }
        self.append(auth, state, id, offset, checksum, version, body)
            .await
    }

    /// Upload a whole photo in one request (上传照片, for `wx.uploadFile`): `multipart/form-data`
    /// with the file as `file` and its sha256 as `sha256`. Best for photos up to a few MB on a
    /// good network; larger ones or weak networks should use the resumable upload.
    #[oai(path = "/v1/blobs", method = "post", operation_id = "upload_blob_form")]
    async fn form(
        &self,
        Auth(caller): Auth,
        state: Data<&Arc<AppState>>,
        form: BlobForm,
    ) -> Result<Json<BlobInfo>, ApiError> {
        let file = form.file.into_async_read();
        let (blob, new) = state.blobs.put_whole(&caller, &form.sha256, file).await?;
        let info = BlobInfo::from(blob);
        Ok(Json(if new { info } else { info.without_evidence() }))
    }

    /// Whether the server holds a photo (照片是否已上传), for any signed-in user; it tells nothing
    /// else. A device asks before uploading.
    #[oai(
        path = "/v1/blobs/:sha256",
        method = "head",
        operation_id = "blob_exists"
    )]
    async fn head(
        &self,
        Auth(_caller): Auth,
        state: Data<&Arc<AppState>>,
        /// The photo's sha256, lower-case hex.
        sha256: Path<String>,
    ) -> Result<BlobHeadResponse, ApiError> {
        let blob = state
            .blobs
            .exists(&sha256.0)
            .await
            .map_err(|err| match err {
                BlobError::Invalid { .. } => BlobError::NotFound,
                other => other,
            })?;
        Ok(BlobHeadResponse::Ok(blob.size, blob.media_type))
    }

    /// A photo (照片原图), byte for byte, with `Range` and `ETag`, to a user who can see a record
    /// citing it. If the only such record is a published article, the public rendition (no EXIF)
    /// is sent instead.
    #[oai(path = "/v1/blobs/:sha256", method = "get", operation_id = "get_blob")]
    async fn get(
        &self,
        Auth(caller): Auth,
        state: Data<&Arc<AppState>>,
        /// The photo's sha256, lower-case hex.
        sha256: Path<String>,
        request: StaticFileRequest,
    ) -> poem::Result<StaticFileResponse> {
        serve(&state, Some(&caller), &sha256.0, Variant::Original, request).await
    }

    /// A photo's thumbnail (缩略图), upright, JPEG without EXIF, to the same users as the photo.
    #[oai(
        path = "/v1/blobs/:sha256/thumbnail",
        method = "get",
        operation_id = "get_thumbnail"
    )]
    async fn thumbnail(
        &self,
        Auth(caller): Auth,
        state: Data<&Arc<AppState>>,
        /// The photo's sha256, lower-case hex.
        sha256: Path<String>,
        /// `small` (320 px) or `large` (1280 px); `small` when absent. The large one is made
        /// when first asked for, so that first answer takes a few tenths of a second longer.
        size: Query<Option<ThumbnailSize>>,
        request: StaticFileRequest,
    ) -> poem::Result<StaticFileResponse> {
        let variant = size.0.unwrap_or(ThumbnailSize::Small).into();
        serve(&state, Some(&caller), &sha256.0, variant, request).await
    }

    /// What the server read from a photo (照片信息): size, format, EXIF capture time and GPS — the
    /// evidence metadata — to a user who can see a record citing it.
    #[oai(
        path = "/v1/blobs/:sha256/info",
        method = "get",
        operation_id = "blob_info"
    )]
    async fn info(
        &self,
        Auth(caller): Auth,
        state: Data<&Arc<AppState>>,
        /// The photo's sha256, lower-case hex.
        sha256: Path<String>,
    ) -> Result<Json<BlobInfo>, ApiError> {
        Ok(Json(state.blobs.info(&caller, &sha256.0).await?.into()))
    }

    /// An image of a published article (公开稿件图片), for anyone: upright, at most 2048 pixels a
    /// side, without EXIF. No login needed.
    #[oai(
        path = "/v1/public/blobs/:sha256",
        method = "get",
        operation_id = "public_blob"
    )]
    async fn public(
        &self,
        state: Data<&Arc<AppState>>,
        /// The image's sha256, from the article's `cover` or `images`.
        sha256: Path<String>,
        /// `small` or `large` for a thumbnail; the public rendition when absent.
        size: Query<Option<ThumbnailSize>>,
        request: StaticFileRequest,
    ) -> poem::Result<StaticFileResponse> {
        let variant = size.0.map_or(Variant::Original, Variant::from);
        serve(&state, None, &sha256.0, variant, request).await
    }
}
