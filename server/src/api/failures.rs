//! Which errors each operation answers, said once and held to: every error code with its status
//! and meaning ([`CODES`]); what each operation can answer beyond what its shape implies
//! ([`OPERATIONS`]); the spec's error responses, made from the two ([`document`]); and the check
//! of every error the server answers against that spec ([`SpecRoutes::check`]).
//!
//! An operation's shape implies some errors: any request may meet a full server (`server-busy`)
//! or a failure (`internal`); one with a session may find it missing or ended; one with a body
//! may send too much, too slowly, or the wrong type; one with parameters may send one that does
//! not parse. The rest are the operation's own, listed by code in [`OPERATIONS`].
//!
//! The check runs on every error answer, in production as in tests: an answer the spec does not
//! list for its operation is logged as an error and remembered ([`Undeclared`]), and the test
//! server fails any test during which one was given.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use serde_json::{Value, json};

/// An error code: its status, and what it means, for the spec.
#[derive(Debug, Clone, Copy)]
pub struct Code {
    /// The stable code, as in the body's `code`.
    pub code: &'static str,
    /// The HTTP status it is answered with.
    pub status: u16,
    /// What it means and what to do, for the spec.
    pub meaning: &'static str,
    /// Whether the answer carries the `{code, message}` body; a file answer's own refusals
    /// (`412`, `416`) carry none.
    pub body: bool,
}

const fn code(code: &'static str, status: u16, meaning: &'static str) -> Code {
    Code {
        code,
        status,
        meaning,
        body: true,
    }
}

const fn bare(code: &'static str, status: u16, meaning: &'static str) -> Code {
    Code {
        code,
        status,
        meaning,
        body: false,
    }
}

/// Every error code the server answers with.
pub const CODES: &[Code] = &[
    // 400
    code(
        "malformed-body",
        400,
        "the body is not JSON or does not fit the operation's schema",
    ),
    code(
        "invalid-parameter",
        400,
        "a query, path or header parameter does not parse",
    ),
    code(
        "invalid-field",
        400,
        "a field is not acceptable; the message names it",
    ),
    code(
        "invalid-header",
        400,
        "an upload header (`Upload-Metadata`, `Upload-Checksum`, `X-HTTP-Method-Override`) is not acceptable",
    ),
    code(
        "upload-overrun",
        400,
        "the chunk goes past the upload's declared length",
    ),
    code(
        "request-incomplete",
        400,
        "the chunk broke off before its declared length; resume from `HEAD`",
    ),
    code("csv-invalid", 400, "the CSV file cannot be read"),
    code(
        "unknown-grid",
        400,
        "the enterprise names a grid (网格) that does not exist",
    ),
    code(
        "wechat-invalid-code",
        400,
        "the WeChat login code is invalid, expired or used; call `wx.login()` again",
    ),
    code(
        "invitation-invalid",
        400,
        "no invitation (邀请码) has this code",
    ),
    code("invitation-used", 400, "the invitation has been used"),
    code(
        "invitation-expired",
        400,
        "the invitation has expired; ask the office for a new one",
    ),
    code(
        "payload-invalid",
        400,
        "the record does not fit its kind's rules (judgement)",
    ),
    code(
        "entity-unreadable",
        400,
        "the stored record cannot be read as its kind (judgement)",
    ),
    code(
        "wrong-entity-type",
        400,
        "the id belongs to a record of another type (judgement)",
    ),
    code(
        "credit-code-invalid",
        400,
        "the unified social credit code (统一社会信用代码) is not valid",
    ),
    code(
        "grid-id-mismatch",
        400,
        "a grid's id is derived from its code (judgement)",
    ),
    code(
        "team-id-mismatch",
        400,
        "a team's id is derived from its enterprise and code (judgement)",
    ),
    code(
        "template-id-mismatch",
        400,
        "a checklist version's id is derived from its code and version (judgement)",
    ),
    // 401
    code(
        "unauthenticated",
        401,
        "no `Authorization: Bearer <token>` header",
    ),
    code(
        "invalid-token",
        401,
        "the token is unknown or has been logged out",
    ),
    code(
        "session-expired",
        401,
        "the session has expired; log in again",
    ),
    code(
        "invalid-credentials",
        401,
        "the username or password is wrong",
    ),
    // 403
    code("forbidden", 403, "the caller's roles do not allow this"),
    code(
        "not-permitted",
        403,
        "the caller may not make this change (judgement)",
    ),
    code("account-disabled", 403, "the account is disabled"),
    code(
        "wechat-not-bound",
        403,
        "this WeChat account is not linked; log in once with an invitation code",
    ),
    code(
        "wechat-user-blocked",
        403,
        "WeChat has blocked this account from logging in",
    ),
    code(
        "device-not-yours",
        403,
        "the device belongs to another user",
    ),
    code(
        "device-revoked",
        403,
        "the device has been revoked; enrol a new one",
    ),
    code(
        "device-key-refused",
        403,
        "the device's enrolled key is a weak Ed25519 key; enrol again with a new key",
    ),
    // 404
    code("not-found", 404, "no such record"),
    code("user-not-found", 404, "no user has this id"),
    code("device-unknown", 404, "no device has this id; enrol first"),
    code(
        "blob-not-found",
        404,
        "no photo with this sha256 is visible to the caller",
    ),
    code(
        "upload-not-found",
        404,
        "no upload has this id for the caller",
    ),
    code("article-not-found", 404, "no published article has this id"),
    // 408
    code(
        "body-stalled",
        408,
        "the body sent nothing for `http.body_read_timeout_secs`, or arrived slower than `http.min_body_bytes_per_sec`; send it again",
    ),
    // 409
    code("username-taken", 409, "another user has this username"),
    code("last-admin", 409, "the change would leave no active admin"),
    code(
        "edit-conflict",
        409,
        "the user changed since it was read (`version`); read it again",
    ),
    code(
        "wechat-bound-elsewhere",
        409,
        "this WeChat account is linked to another user",
    ),
    code(
        "device-key-enrolled",
        409,
        "this public key is already enrolled as another device",
    ),
    code(
        "offset-mismatch",
        409,
        "`Upload-Offset` is not what the server holds; ask with `HEAD`",
    ),
    code(
        "upload-busy",
        409,
        "another request is appending to this upload",
    ),
    code("grid-name-taken", 409, "another grid has this name"),
    code(
        "credit-code-taken",
        409,
        "another enterprise has this credit code",
    ),
    code(
        "id-taken",
        409,
        "the id is taken by a record the caller cannot see (judgement)",
    ),
    code(
        "template-published",
        409,
        "this checklist version is published and cannot change (judgement)",
    ),
    // 410
    code(
        "upload-expired",
        410,
        "the upload expired unfinished; start again",
    ),
    // 412
    code(
        "tus-version",
        412,
        "only `Tus-Resumable: 1.0.0` is supported",
    ),
    bare(
        "precondition-failed",
        412,
        "`If-Match` or `If-Unmodified-Since` does not hold (no body)",
    ),
    // 413
    code(
        "payload-too-large",
        413,
        "the body is larger than the limit",
    ),
    code(
        "blob-too-large",
        413,
        "the file is larger than `blobs.max_bytes`",
    ),
    // 415
    code(
        "unsupported-media-type",
        415,
        "the body is not of the media type the operation takes",
    ),
    code(
        "image-unsupported",
        415,
        "the file is not a JPEG, PNG or WebP image",
    ),
    // 416
    bare(
        "range-not-satisfiable",
        416,
        "the `Range` lies outside the file (no body)",
    ),
    // 422
    code(
        "blob-hash-mismatch",
        422,
        "the bytes do not have the announced sha256",
    ),
    code(
        "image-too-large",
        422,
        "the image's pixels or decoded memory are over the limit",
    ),
    code("image-damaged", 422, "the image cannot be decoded"),
    // 429
    code(
        "login-throttled",
        429,
        "too many failed logins; retry after `Retry-After` seconds",
    ),
    code(
        "wechat-rate-limited",
        429,
        "WeChat is limiting this user's logins; retry after `Retry-After` seconds",
    ),
    code(
        "too-many-uploads",
        429,
        "the caller has too many unfinished uploads; finish or let them expire",
    ),
    // 460
    code(
        "checksum-mismatch",
        460,
        "the chunk does not match its `Upload-Checksum`; send it again",
    ),
    // 500
    code(
        "internal",
        500,
        "the server failed; the cause is in its log",
    ),
    // 502
    code("wechat-error", 502, "WeChat answered something unexpected"),
    // 507
    code(
        "storage-full",
        507,
        "the server's disk is nearly full (磁盘空间不足): nothing was written; reads still work; retry after `Retry-After` seconds, or tell the office",
    ),
    // 503
    code(
        "server-busy",
        503,
        "the server is at its connection or upload limit; retry after `Retry-After` seconds",
    ),
    code(
        "upload-capacity",
        503,
        "unfinished uploads fill the server's reserve; retry after `Retry-After` seconds",
    ),
    code(
        "wechat-busy",
        503,
        "WeChat is busy (微信系统繁忙); retry after `Retry-After` seconds",
    ),
    code(
        "wechat-unreachable",
        503,
        "WeChat cannot be reached; retry after `Retry-After` seconds",
    ),
    code(
        "wechat-disabled",
        503,
        "WeChat login is not configured on this server",
    ),
    code(
        "not-ready",
        503,
        "a readiness check failed (the store takes no write, the disk is under its reserve, or the blob directory takes no file); the message names it",
    ),
];

/// What any request may be answered.
const ANY: &[&str] = &["internal", "server-busy"];
/// What a request with a session may be answered.
const SIGNED_IN: &[&str] = &[
    "unauthenticated",
    "invalid-token",
    "session-expired",
    "account-disabled",
];
/// What a request with a body may be answered.
const WITH_BODY: &[&str] = &[
    "malformed-body",
    "unsupported-media-type",
    "payload-too-large",
    "body-stalled",
];
/// What a write may be answered (any `POST`, `PUT`, `PATCH` or `DELETE` but signing in and
/// out, which the disk's reserve is kept for).
const WRITE: &[&str] = &["storage-full"];
/// Writes that are not refused when the disk is nearly full.
pub const UNGUARDED_WRITES: &[&str] = &["login", "wechat_login", "logout"];

/// What a request with parameters may be answered.
const WITH_PARAMETERS: &[&str] = &["invalid-parameter"];

/// A file answer's own refusals.
const FILE: &[&str] = &[
    "blob-not-found",
    "precondition-failed",
    "range-not-satisfiable",
];
/// The judgement's refusals of an office change to the directory.
const JUDGED: &[&str] = &[
    "payload-invalid",
    "entity-unreadable",
    "wrong-entity-type",
    "not-permitted",
    "id-taken",
];
/// What a sync request about the caller's own device may be answered.
const OWN_DEVICE: &[&str] = &[
    "device-unknown",
    "device-not-yours",
    "device-revoked",
    "invalid-field",
];
/// What finishing a file may be answered.
const FINISHED_FILE: &[&str] = &[
    "blob-hash-mismatch",
    "image-unsupported",
    "image-too-large",
    "image-damaged",
    "upload-capacity",
];
/// What sending a chunk of an upload may be answered.
const CHUNK: &[&str] = &[
    "tus-version",
    "upload-not-found",
    "upload-expired",
    "offset-mismatch",
    "upload-busy",
    "upload-overrun",
    "request-incomplete",
    "checksum-mismatch",
    "invalid-header",
];

/// Each operation, by id, and the codes it answers beyond those its shape implies.
pub const OPERATIONS: &[(&str, &[&[&str]])] = &[
    ("healthz", &[]),
    ("readyz", &[&["not-ready"]]),
    (
        "login",
        &[&["invalid-credentials", "account-disabled", "login-throttled"]],
    ),
    (
        "wechat_login",
        &[&[
            "invalid-field",
            "wechat-invalid-code",
            "invitation-invalid",
            "invitation-used",
            "invitation-expired",
            "account-disabled",
            "wechat-not-bound",
            "wechat-user-blocked",
            "wechat-bound-elsewhere",
            "login-throttled",
            "wechat-rate-limited",
            "wechat-error",
            "wechat-busy",
            "wechat-unreachable",
            "wechat-disabled",
        ]],
    ),
    ("logout", &[]),
    ("me", &[]),
    (
        "create_user",
        &[&["forbidden", "invalid-field", "username-taken"]],
    ),
    ("list_users", &[&["forbidden", "invalid-field"]]),
    ("get_user", &[&["forbidden", "user-not-found"]]),
    (
        "update_user",
        &[&[
            "forbidden",
            "invalid-field",
            "user-not-found",
            "username-taken",
            "last-admin",
            "edit-conflict",
        ]],
    ),
    (
        "create_invitation",
        &[&["forbidden", "user-not-found", "account-disabled"]],
    ),
    ("enrol_device", &[&["invalid-field", "device-key-enrolled"]]),
    ("list_devices", &[&["forbidden", "invalid-field"]]),
    ("list_device_forks", &[&["forbidden", "device-unknown"]]),
    (
        "revoke_device",
        &[&["forbidden", "device-unknown", "device-not-yours"]],
    ),
    ("push", &[OWN_DEVICE, &["device-key-refused"]]),
    ("pull", &[OWN_DEVICE]),
    (
        "create_enterprise",
        &[
            JUDGED,
            &[
                "forbidden",
                "credit-code-invalid",
                "unknown-grid",
                "credit-code-taken",
            ],
        ],
    ),
    ("list_enterprises", &[&["forbidden"]]),
    (
        "import_enterprises",
        &[&["forbidden", "csv-invalid", "invalid-field"]],
    ),
    ("export_enterprises", &[&["forbidden"]]),
    (
        "save_grid",
        &[
            JUDGED,
            &["forbidden", "grid-id-mismatch", "grid-name-taken"],
        ],
    ),
    ("list_grids", &[&["forbidden"]]),
    (
        "save_team",
        &[JUDGED, &["forbidden", "team-id-mismatch", "unknown-grid"]],
    ),
    (
        "publish_template",
        &[
            JUDGED,
            &["forbidden", "template-id-mismatch", "template-published"],
        ],
    ),
    (
        "update_enterprise",
        &[
            JUDGED,
            &[
                "forbidden",
                "not-found",
                "credit-code-invalid",
                "unknown-grid",
                "credit-code-taken",
            ],
        ],
    ),
    ("list_hazards", &[&["forbidden"]]),
    ("list_meetings", &[&["forbidden"]]),
    ("duty_compliance", &[&["invalid-parameter"]]),
    ("my_due_list", &[]),
    ("list_inspections", &[&["forbidden"]]),
    ("search_enterprises", &[&["forbidden"]]),
    ("enterprise_map", &[]),
    ("public_articles", &[]),
    ("public_notices", &[]),
    ("public_article", &[&["article-not-found"]]),
    ("upload_options", &[]),
    (
        "create_upload",
        &[&[
            "tus-version",
            "invalid-header",
            "blob-too-large",
            "too-many-uploads",
            "upload-capacity",
        ]],
    ),
    (
        "upload_offset",
        &[&["tus-version", "upload-not-found", "upload-expired"]],
    ),
    ("append_upload", &[CHUNK, FINISHED_FILE]),
    ("append_upload_override", &[CHUNK, FINISHED_FILE]),
    (
        "upload_blob_form",
        &[FINISHED_FILE, &["invalid-field", "blob-too-large"]],
    ),
    ("blob_exists", &[&["blob-not-found"]]),
    ("get_blob", &[FILE]),
    ("get_thumbnail", &[FILE]),
    ("blob_info", &[&["blob-not-found"]]),
    ("public_blob", &[FILE]),
];

fn registered(name: &str) -> Option<&'static Code> {
    CODES.iter().find(|c| c.code == name)
}

/// The codes `operation` (from the spec) may be answered: those its shape implies and its own.
/// `None` for an operation [`OPERATIONS`] does not name.
fn codes_of(method: &str, operation: &Value) -> Option<BTreeSet<&'static str>> {
    let id = operation["operationId"].as_str()?;
    let (_, own) = OPERATIONS.iter().find(|(op, _)| *op == id)?;
    let mut codes: BTreeSet<&'static str> = ANY.iter().copied().collect();
    if is_write(method) && !UNGUARDED_WRITES.contains(&id) {
        codes.extend(WRITE);
    }
    if operation.get("security").is_some() {
        codes.extend(SIGNED_IN);
    }
    if operation.get("requestBody").is_some() {
        codes.extend(WITH_BODY);
    }
    if operation["parameters"]
        .as_array()
        .is_some_and(|p| !p.is_empty())
    {
        codes.extend(WITH_PARAMETERS);
    }
    codes.extend(own.iter().flat_map(|list| list.iter().copied()));
    Some(codes)
}

/// Whether `method` (any case) writes.
pub fn is_write(method: &str) -> bool {
    ["post", "put", "patch", "delete"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
}

/// The spec with each operation's error responses made from what it may answer: one response
/// per status, its description listing the codes, its body's `code` limited to them.
pub fn document(spec: &str) -> Value {
    let mut spec: Value = serde_json::from_str(spec).unwrap_or_default();
    let Some(paths) = spec["paths"].as_object_mut() else {
        return spec;
    };
    for operations in paths.values_mut() {
        let Some(operations) = operations.as_object_mut() else {
            continue;
        };
        for (method, operation) in operations.iter_mut() {
            let codes = codes_of(method, operation).unwrap_or_default();
            let Some(responses) = operation["responses"].as_object_mut() else {
                continue;
            };
            responses.retain(|status, _| status.parse::<u16>().is_ok_and(|s| s < 400));
            let mut by_status: BTreeMap<u16, Vec<&Code>> = BTreeMap::new();
            for code in codes.iter().filter_map(|c| registered(c)) {
                by_status.entry(code.status).or_default().push(code);
            }
            for (status, codes) in by_status {
                responses.insert(status.to_string(), error_response(status, &codes));
            }
        }
    }
    spec
}

/// One status's error response: the codes and what they mean, and the body limited to them.
fn error_response(status: u16, codes: &[&Code]) -> Value {
    let description = codes
        .iter()
        .map(|c| format!("- `{}`: {}", c.code, c.meaning))
        .collect::<Vec<_>>()
        .join("\n");
    let mut response = json!({ "description": description });
    let with_body: Vec<&str> = codes.iter().filter(|c| c.body).map(|c| c.code).collect();
    if !with_body.is_empty() {
        response["content"] = json!({
            "application/json; charset=utf-8": {
                "schema": {
                    "allOf": [
                        { "$ref": "#/components/schemas/ErrorBody" },
                        {
                            "type": "object",
                            "properties": { "code": { "type": "string", "enum": with_body } }
                        }
                    ]
                }
            }
        });
    }
    if status == 429 || status == 503 {
        response["headers"] = json!({
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "required": status == 429,
                "schema": { "type": "integer", "format": "uint64" }
            }
        });
    }
    response
}

/// One path of the spec: its segments (`{id}` matches any one) and its operations.
#[derive(Debug)]
struct Path {
    segments: Vec<String>,
    operations: Vec<Operation>,
}

/// One operation: its method, id, and the error answers its spec lists (status, and code for
/// those with a body).
#[derive(Debug)]
struct Operation {
    method: String,
    id: String,
    answers: Vec<(u16, Option<String>)>,
}

impl Path {
    fn matches(&self, segments: &[&str]) -> bool {
        self.segments.len() == segments.len()
            && self
                .segments
                .iter()
                .zip(segments)
                .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty()))
    }

    /// How many segments are literal: a literal path wins over a template.
    fn literal(&self) -> usize {
        self.segments.iter().filter(|s| !s.starts_with('{')).count()
    }
}

/// The spec's paths and what each operation may answer, for the `Allow` header, the check of
/// error answers and the metrics' labels (asked on every request). Paths are kept by their
/// shape (`shape()`), so a request is matched against the few of its shape, not every path.
#[derive(Debug)]
pub struct SpecRoutes(HashMap<(usize, String), Vec<Path>>);

/// The shape of a path's segments: how many, and the third (`office` in `/v1/office/hazards`)
/// when it is literal, else empty.
fn shape(segments: &[&str]) -> (usize, String) {
    let third = segments
        .get(2)
        .filter(|s| !s.starts_with('{'))
        .map_or_else(String::new, |s| (*s).to_string());
    (segments.len(), third)
}

impl SpecRoutes {
    /// From a spec made by [`document`].
    pub fn from_spec(spec: &Value) -> SpecRoutes {
        let paths = spec["paths"].as_object().cloned().unwrap_or_default();
        let mut shapes: HashMap<(usize, String), Vec<Path>> = HashMap::new();
        for (path, operations) in &paths {
            let operations = operations
                .as_object()
                .map(|o| o.iter().map(|(m, op)| operation(m, op)).collect())
                .unwrap_or_default();
            let segments: Vec<&str> = path.split('/').collect();
            shapes.entry(shape(&segments)).or_default().push(Path {
                segments: segments.iter().map(|s| (*s).to_string()).collect(),
                operations,
            });
        }
        SpecRoutes(shapes)
    }

    fn path(&self, path: &str) -> Option<&Path> {
        let segments: Vec<&str> = path.split('/').collect();
        let (count, third) = shape(&segments);
        let literal = self.0.get(&(count, third));
        let template = self.0.get(&(count, String::new()));
        literal
            .into_iter()
            .chain(template)
            .flatten()
            .filter(|p| p.matches(&segments))
            .max_by_key(|p| p.literal())
    }

    /// The operation (`operationId`) answering `method` on `path`, if the spec has one (`HEAD`
    /// as `GET`).
    pub fn operation_id(&self, method: &str, path: &str) -> Option<&str> {
        let method = if method.eq_ignore_ascii_case("HEAD") {
            "GET"
        } else {
            method
        };
        self.path(path)?
            .operations
            .iter()
            .find(|o| o.method.eq_ignore_ascii_case(method))
            .map(|o| o.id.as_str())
    }

    /// The methods `path` takes, if the spec has it, for an `Allow` header; `HEAD` with `GET`.
    pub fn allow(&self, path: &str) -> Option<String> {
        let mut methods: Vec<String> = self
            .path(path)?
            .operations
            .iter()
            .map(|o| o.method.clone())
            .collect();
        if methods.iter().any(|m| m == "GET") && !methods.iter().any(|m| m == "HEAD") {
            methods.push("HEAD".into());
        }
        methods.sort();
        Some(methods.join(", "))
    }

    /// Whether the spec lists this error answer (its status and body's code, if any) for the
    /// operation `method` and `path` reach; `Err` names the operation when it does not. An
    /// answer to no operation (an unknown path, another method) is not an operation's to list.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        code: Option<&str>,
    ) -> Result<(), String> {
        let Some(path) = self.path(path) else {
            return Ok(());
        };
        let find = |m: &str| path.operations.iter().find(|o| o.method == m);
        let operation = find(method).or_else(|| (method == "HEAD").then(|| find("GET")).flatten());
        let Some(operation) = operation else {
            return Ok(());
        };
        let listed = operation
            .answers
            .iter()
            .any(|(s, c)| *s == status && c.as_deref() == code);
        if listed {
            Ok(())
        } else {
            Err(operation.id.clone())
        }
    }
}

/// One operation of the spec, under `method`.
fn operation(method: &str, op: &Value) -> Operation {
    let id = op["operationId"].as_str().unwrap_or_default().to_string();
    let answers = codes_of(method, op)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| registered(c))
        .map(|c| (c.status, c.body.then(|| c.code.to_string())))
        .collect();
    Operation {
        method: method.to_ascii_uppercase(),
        id,
        answers,
    }
}

/// Error answers the spec does not list for their operation, as `METHOD path → status code`:
/// the first few, kept for whoever checks (the test server fails its test on any).
#[derive(Debug, Default)]
pub struct Undeclared(Mutex<Vec<String>>);

impl Undeclared {
    const KEPT: usize = 32;

    /// Notes one.
    pub fn note(&self, answer: String) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() < Undeclared::KEPT {
            seen.push(answer);
        }
    }

    /// The ones noted so far, taken.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        document(&super::super::service().spec())
    }

    /// Every operation of the spec is named in [`OPERATIONS`], and every name there is an
    /// operation; every code listed is registered, once.
    #[test]
    fn every_operation_lists_its_errors_by_registered_codes() {
        let spec = spec();
        let mut ids = BTreeSet::new();
        for operations in spec["paths"].as_object().unwrap().values() {
            for (method, operation) in operations.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap();
                assert!(
                    codes_of(method, operation).is_some(),
                    "{id} is not in OPERATIONS"
                );
                ids.insert(id);
            }
        }
        for (id, lists) in OPERATIONS {
            assert!(ids.contains(id), "{id} in OPERATIONS is no operation");
            for code in lists.iter().flat_map(|l| l.iter()) {
                assert!(registered(code).is_some(), "{id}: `{code}` is not in CODES");
            }
        }
        let mut seen = BTreeSet::new();
        for code in CODES {
            assert!(seen.insert(code.code), "`{}` is in CODES twice", code.code);
        }
    }

    /// An operation lists only the statuses it can answer: `me` cannot be answered a conflict,
    /// and logging in needs no session.
    #[test]
    fn the_spec_lists_per_operation_errors_only() {
        let spec = spec();
        let me = &spec["paths"]["/v1/me"]["get"]["responses"];
        assert!(me.get("409").is_none() && me.get("401").is_some(), "{me}");
        let login = &spec["paths"]["/v1/auth/login"]["post"]["responses"];
        let unauthorized = login["401"]["content"]["application/json; charset=utf-8"]["schema"]
            ["allOf"][1]["properties"]["code"]["enum"]
            .clone();
        assert_eq!(unauthorized, json!(["invalid-credentials"]));
        assert!(login["429"]["headers"]["Retry-After"]["required"] == json!(true));
    }

    /// The check finds the operation by method and path, a literal path before a template, and
    /// accepts exactly what its spec lists.
    #[test]
    fn the_check_holds_an_answer_to_its_operations_list() {
        let routes = SpecRoutes::from_spec(&spec());
        assert_eq!(
            routes.check("GET", "/v1/me", 401, Some("invalid-token")),
            Ok(())
        );
        assert_eq!(
            routes.check("GET", "/v1/me", 409, Some("edit-conflict")),
            Err("me".to_string())
        );
        assert_eq!(
            routes.check(
                "POST",
                "/v1/admin/enterprises/import",
                400,
                Some("csv-invalid")
            ),
            Ok(())
        );
        assert_eq!(
            routes.check("PUT", "/v1/admin/enterprises/x", 400, Some("csv-invalid")),
            Err("update_enterprise".to_string())
        );
        assert_eq!(
            routes.check("GET", "/v1/blobs/ab", 416, None),
            Ok(()),
            "a file's range refusal has no body"
        );
        assert_eq!(
            routes.check("GET", "/v1/nothing", 404, Some("not-found")),
            Ok(())
        );
        assert_eq!(
            routes.allow("/v1/admin/enterprises/import").as_deref(),
            Some("POST")
        );
    }
}
