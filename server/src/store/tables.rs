//! Every redb table of the central store, in one place.
//!
//! Table names carry a version (`users-0`): a change to a table's key or value layout gets a new
//! name and a migration, never a silent reinterpretation. Values that are records are bytes
//! written by [`super::codec`].

use redb::{MultimapTableDefinition, TableDefinition};

/// Users by id (UUID as `u128`) → [`super::model::User`].
pub const USERS: TableDefinition<u128, &[u8]> = TableDefinition::new("users-0");
/// Usernames → user id. Usernames are unique.
pub const USERNAMES: TableDefinition<&str, u128> = TableDefinition::new("usernames-0");
/// WeChat openids → user id. An openid is bound to at most one user.
pub const WECHAT_OPENIDS: TableDefinition<&str, u128> = TableDefinition::new("wechat-openids-0");
/// Session token hashes → [`super::model::Session`].
pub const SESSIONS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("sessions-0");
/// User id → the token hashes of that user's sessions, to end them all at once.
pub const USER_SESSIONS: MultimapTableDefinition<u128, &[u8; 32]> =
    MultimapTableDefinition::new("user-sessions-0");
/// Invitation code hashes → [`super::model::Invitation`].
pub const INVITATIONS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("invitations-0");
