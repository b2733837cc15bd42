//! The records the store keeps: users (用户), sessions (登录会话) and invitations (邀请码).
//!
//! These types are persisted with [`super::codec`]: the order and types of their fields are a
//! stored format. Add fields only at the end, and only with a new format version in the codec.

use std::fmt;

use anjian_sync::access::{Grant, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A moment, as milliseconds since the Unix epoch, by the server's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    /// The server's clock now.
    pub fn now() -> UnixMillis {
        let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        UnixMillis(i64::try_from(millis).unwrap_or(i64::MAX))
    }

    /// This moment plus `duration`, saturating.
    pub fn plus(self, duration: std::time::Duration) -> UnixMillis {
        let add = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        UnixMillis(self.0.saturating_add(add))
    }

    /// As a calendar time in UTC, for the wire.
    pub fn to_datetime(self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }
}

/// The sha256 of a secret the client holds (a session token or an invitation code). Only this
/// hash is stored, so a copy of the database does not let anyone log in.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash(pub [u8; 32]);

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// A password hash in PHC string form (`$argon2id$…`). Its `Debug` does not print it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordHash(pub String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([REDACTED])")
    }
}

/// A person who can log in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// A UUIDv7, so ids sort by creation.
    pub id: Uuid,
    /// The login name: lower-case, unique, never changes.
    pub username: String,
    /// The name shown to people (may be Chinese).
    pub display_name: String,
    /// `None` for users who log in only through WeChat.
    pub password_hash: Option<PasswordHash>,
    /// Roles and scopes, checked by [`Grant::new`] before they were stored.
    pub grant: Grant,
    /// A disabled user cannot log in and their tokens stop working.
    pub disabled: bool,
    /// The WeChat mini-program openid bound to this user, if any.
    pub wechat_openid: Option<String>,
    /// When the user was created.
    pub created_at: UnixMillis,
    /// When the user was last changed.
    pub updated_at: UnixMillis,
    /// Incremented on every change; updates name the revision they start from.
    pub rev: u64,
}

impl User {
    /// Whether this user is an admin who can still act.
    pub fn is_active_admin(&self) -> bool {
        !self.disabled && self.grant.has(Role::Admin)
    }
}

/// How a session was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoginMethod {
    /// Username and password.
    Password,
    /// WeChat mini-program code.
    WeChat,
}

/// A logged-in session, stored under the hash of its token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Whose session it is.
    pub user_id: Uuid,
    /// How it was opened.
    pub method: LoginMethod,
    /// When it was opened.
    pub created_at: UnixMillis,
    /// When it stops working.
    pub expires_at: UnixMillis,
}

/// A one-time code that binds a WeChat account to a user (微信绑定邀请码), stored under its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// The user a WeChat account will be bound to.
    pub user_id: Uuid,
    /// The admin who created it.
    pub created_by: Uuid,
    /// When it was created.
    pub created_at: UnixMillis,
    /// When it stops being redeemable.
    pub expires_at: UnixMillis,
    /// When it was redeemed, if it was.
    pub redeemed_at: Option<UnixMillis>,
}

/// A fork refused for audit: an event of a device, verified with its key, that reused a `seq`
/// already taken with other content (the device's log has two versions of its history).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkRecord {
    /// The refused event, whole and signed.
    pub event: anjian_sync::event::SignedEvent,
    /// When it was refused.
    #[serde(rename = "refused_at_ms")]
    pub refused_at: UnixMillis,
}

/// An enrolled device (设备): the public half of its signing key and how far its log has come.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Its id, given at enrolment.
    pub id: Uuid,
    /// The user it is enrolled to.
    pub user_id: Uuid,
    /// Its Ed25519 public key, hex.
    pub public_key: String,
    /// A name the person gave it ("李的手机").
    pub name: String,
    /// When it was enrolled.
    pub enrolled_at: UnixMillis,
    /// When an admin revoked it; its pushes are refused from then on.
    pub revoked_at: Option<UnixMillis>,
    /// The highest `seq` taken from it.
    pub last_seq: u64,
    /// The hash of that event (the genesis hash before the first).
    pub last_hash: String,
    /// When it last pushed.
    pub last_push_at: Option<UnixMillis>,
}

/// A blob the store holds (a photo): what was checked and read from it when it arrived.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlobMeta {
    /// Its sha256, lower-case hex: its name.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub media_type: String,
    /// Width in pixels, as stored (before EXIF orientation).
    pub width: u32,
    /// Height in pixels, as stored.
    pub height: u32,
    /// The EXIF orientation (1 to 8; 1 when absent).
    pub orientation: u8,
    /// When the camera says it took the photo (EXIF `DateTimeOriginal`, with
    /// `OffsetTimeOriginal` when present), as the camera wrote it: `2026-11-28T09:30:00+08:00`.
    pub taken_at: Option<String>,
    /// Where the camera says it was (EXIF GPS), WGS 84 degrees.
    pub gps: Option<GpsPoint>,
    /// When the server received it.
    pub received_at: UnixMillis,
    /// The user whose upload made it.
    pub uploaded_by: Uuid,
}

/// A point from a photo's EXIF GPS tags.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GpsPoint {
    /// Latitude, degrees, north positive.
    pub lat: f64,
    /// Longitude, degrees, east positive.
    pub lon: f64,
    /// Altitude, metres, when recorded.
    pub alt: Option<f64>,
}

/// An unfinished resumable upload (tus): the bytes so far are in its file in the blob directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// Its id, in its URL.
    pub id: Uuid,
    /// The sha256 the whole file must have.
    pub sha256: String,
    /// The whole file's length.
    pub length: u64,
    /// Who created it; only they may continue it.
    pub user_id: Uuid,
    /// When it was created.
    pub created_at: UnixMillis,
    /// When it is dropped if unfinished.
    pub expires_at: UnixMillis,
}
