//! The embedded backend: one redb file.
//!
//! Every write commits with redb's immediate durability (the default): when a method returns,
//! the change is on disk. All tables are created when the file is opened, so reads never meet a
//! missing table.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::{
    Database, DatabaseError, ReadableDatabase, ReadableMultimapTable, ReadableTable,
    ReadableTableMetadata,
};
use uuid::Uuid;

use super::codec::{decode, encode};
use super::model::{Invitation, LoginMethod, SecretHash, Session, UnixMillis, User};
use super::tables::{
    BLOB_CITATIONS, BLOB_CITERS, BLOBS, BUCKET_DIGESTS, BUCKET_INDEX, COUNTERS, DEVICES, ENTITIES,
    ENTITY_EVENTS, EVENTS, FORKS, INVITATIONS, OFFICE_COUNTS, OFFICE_FACTS, SESSIONS, TYPE_INDEX,
    UPLOADS, USER_INVITATIONS, USER_SESSIONS, USERNAMES, USERS, WECHAT_OPENIDS,
};
use super::{AccountStore, Conflict, StoreError};

/// The redb-backed store.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
    repaired: bool,
}

/// An I/O failure of the disk (once one happened, redb refuses every later write with
/// `PreviousIo`), or another storage error.
fn storage(err: &redb::StorageError, text: String) -> StoreError {
    match err {
        redb::StorageError::Io(_) | redb::StorageError::PreviousIo => StoreError::Io(text),
        _ => StoreError::Other(text),
    }
}

impl From<redb::StorageError> for StoreError {
    fn from(err: redb::StorageError) -> StoreError {
        storage(&err, err.to_string())
    }
}

impl From<redb::CursorError> for StoreError {
    fn from(err: redb::CursorError) -> StoreError {
        match &err {
            redb::CursorError::Storage(inner) => storage(inner, err.to_string()),
            _ => StoreError::other(err),
        }
    }
}

impl From<redb::TransactionError> for StoreError {
    fn from(err: redb::TransactionError) -> StoreError {
        match &err {
            redb::TransactionError::Storage(inner) => storage(inner, err.to_string()),
            _ => StoreError::other(err),
        }
    }
}

impl From<redb::TableError> for StoreError {
    fn from(err: redb::TableError) -> StoreError {
        match &err {
            redb::TableError::Storage(inner) => storage(inner, err.to_string()),
            _ => StoreError::other(err),
        }
    }
}

impl From<redb::CommitError> for StoreError {
    fn from(err: redb::CommitError) -> StoreError {
        match &err {
            redb::CommitError::Storage(inner) => storage(inner, err.to_string()),
            _ => StoreError::other(err),
        }
    }
}

/// The page cache a store opens with unless told otherwise: 16 MiB (see BENCHMARKS.md: at
/// 100 devices × 2,000 records, 32 MiB peaked 17 MB higher and pushed and pulled no faster).
pub const DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024;

impl RedbStore {
    /// Opens (or creates) the database file with the default page cache. Fails with
    /// [`StoreError::Locked`] at once when another process has it open.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        RedbStore::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// As [`RedbStore::open`], with a page cache of `cache_bytes` (memory the server may hold
    /// for pages it read or wrote; redb's own default is 1 GiB).
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<RedbStore, StoreError> {
        let repaired = Arc::new(AtomicBool::new(false));
        let flag = repaired.clone();
        let mut db = Database::builder()
            .set_cache_size(cache_bytes)
            .set_repair_callback(move |_| flag.store(true, Ordering::Relaxed))
            .create(path)
            .map_err(|err| match err {
                DatabaseError::DatabaseAlreadyOpen => StoreError::Locked {
                    path: path.display().to_string(),
                },
                other => StoreError::other(format!(
                    "cannot open the database {}: {other}",
                    path.display()
                )),
            })?;
        // The store's format first: a store a newer server wrote is left untouched, an older
        // one is migrated.
        let txn = db.begin_write()?;
        let format = super::migrate::format_of(&txn)?;
        if format > super::tables::FORMAT {
            return Err(StoreError::other(format!(
                "the store {} is of format {format}, written by a newer anjian-server; this one reads format {} and older: run the newer server, or restore a backup of this format",
                path.display(),
                super::tables::FORMAT
            )));
        }
        txn.abort()?;
        super::migrate::migrate(&mut db, format)?;
        let txn = db.begin_write()?;
        txn.open_table(super::tables::META)?
            .insert("format", super::tables::FORMAT)?;
        txn.open_table(USERS)?;
        txn.open_table(USERNAMES)?;
        txn.open_table(WECHAT_OPENIDS)?;
        txn.open_table(SESSIONS)?;
        txn.open_multimap_table(USER_SESSIONS)?;
        txn.open_table(INVITATIONS)?;
        txn.open_multimap_table(USER_INVITATIONS)?;
        txn.open_table(DEVICES)?;
        txn.open_table(EVENTS)?;
        txn.open_table(super::tables::RECEIPTS)?;
        txn.open_table(FORKS)?;
        txn.open_table(super::tables::ENTITY_NUMBERS)?;
        txn.open_table(ENTITIES)?;
        txn.open_table(BUCKET_INDEX)?;
        txn.open_table(super::tables::BUCKETS)?;
        txn.open_table(BUCKET_DIGESTS)?;
        txn.open_table(COUNTERS)?;
        txn.open_table(TYPE_INDEX)?;
        txn.open_table(BLOBS)?;
        txn.open_table(BLOB_CITATIONS)?;
        txn.open_table(BLOB_CITERS)?;
        txn.open_table(ENTITY_EVENTS)?;
        txn.open_table(OFFICE_FACTS)?;
        txn.open_table(OFFICE_COUNTS)?;
        txn.open_table(UPLOADS)?;
        txn.open_table(super::tables::HEALTH)?;
        txn.commit()?;
        let store = RedbStore {
            db,
            repaired: repaired.load(Ordering::Relaxed),
        };
        let made = store.backfill_facts()?;
        if made > 0 {
            tracing::info!(
                facts = made,
                "made the office's facts of a store that had none"
            );
        }
        Ok(store)
    }

    pub(super) fn db(&self) -> &Database {
        &self.db
    }

    /// Whether opening found the file not cleanly closed and repaired it.
    pub fn was_repaired(&self) -> bool {
        self.repaired
    }

    /// Closes the database cleanly, so the next open needs no repair.
    pub fn close(self) -> Result<(), StoreError> {
        self.db.close().map_err(StoreError::other)
    }
}

fn user_from<T: ReadableTable<u128, &'static [u8]>>(
    table: &T,
    id: u128,
) -> Result<Option<User>, StoreError> {
    match table.get(id)? {
        Some(bytes) => Ok(Some(decode("user", bytes.value())?)),
        None => Ok(None),
    }
}

/// Ends a user's sessions, or only those opened by `method`.
fn end_sessions(
    txn: &redb::WriteTransaction,
    user: Uuid,
    method: Option<LoginMethod>,
) -> Result<(), StoreError> {
    let mut sessions = txn.open_table(SESSIONS)?;
    let mut by_user = txn.open_multimap_table(USER_SESSIONS)?;
    let mut ended = Vec::new();
    for hash in by_user.get(user.as_u128())? {
        let hash = *hash?.value();
        let matches = match (method, sessions.get(&hash)?) {
            (None, _) | (_, None) => true,
            (Some(method), Some(bytes)) => {
                decode::<Session>("session", bytes.value())?.method == method
            }
        };
        if matches {
            ended.push(hash);
        }
    }
    for hash in &ended {
        sessions.remove(hash)?;
        by_user.remove(user.as_u128(), hash)?;
    }
    Ok(())
}

impl super::HealthStore for RedbStore {
    fn heartbeat(&self, now: u64) -> Result<(), StoreError> {
        let txn = self.db().begin_write()?;
        txn.open_table(super::tables::HEALTH)?.insert("last", now)?;
        txn.commit()?;
        Ok(())
    }
}

impl AccountStore for RedbStore {
    fn has_users(&self) -> Result<bool, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(!txn.open_table(USERS)?.is_empty()?)
    }

    fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut names = txn.open_table(USERNAMES)?;
            if names.get(user.username.as_str())?.is_some() {
                return Err(StoreError::Conflict(Conflict::UsernameTaken));
            }
            names.insert(user.username.as_str(), user.id.as_u128())?;
            txn.open_table(USERS)?
                .insert(user.id.as_u128(), encode(user)?.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    fn user(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        let txn = self.db.begin_read()?;
        user_from(&txn.open_table(USERS)?, id.as_u128())
    }

    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let txn = self.db.begin_read()?;
        let Some(id) = txn
            .open_table(USERNAMES)?
            .get(username)?
            .map(|id| id.value())
        else {
            return Ok(None);
        };
        user_from(&txn.open_table(USERS)?, id)
    }

    fn user_by_openid(&self, openid: &str) -> Result<Option<User>, StoreError> {
        let txn = self.db.begin_read()?;
        let Some(id) = txn
            .open_table(WECHAT_OPENIDS)?
            .get(openid)?
            .map(|id| id.value())
        else {
            return Ok(None);
        };
        user_from(&txn.open_table(USERS)?, id)
    }

    fn list_users(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<User>, StoreError> {
        let txn = self.db.begin_read()?;
        let users = txn.open_table(USERS)?;
        let range = match after {
            Some(after) => users.range((
                std::ops::Bound::Excluded(after.as_u128()),
                std::ops::Bound::Unbounded,
            ))?,
            None => users.range::<u128>(..)?,
        };
        range
            .take(limit)
            .map(|entry| {
                let (_, bytes) = entry?;
                decode("user", bytes.value())
            })
            .collect()
    }

    fn replace_user(&self, user: &User, expected_rev: u64) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut users = txn.open_table(USERS)?;
            let stored = user_from(&users, user.id.as_u128())?.ok_or(StoreError::NotFound)?;
            if stored.rev != expected_rev {
                return Err(StoreError::Conflict(Conflict::StaleRevision));
            }
            if stored.is_active_admin() && !user.is_active_admin() {
                // Is there another enabled admin? Users are few (hundreds), so a scan is cheap
                // and keeps no second index to get wrong.
                let mut others = false;
                for entry in users.iter()? {
                    let (id, bytes) = entry?;
                    if id.value() != user.id.as_u128()
                        && decode::<User>("user", bytes.value())?.is_active_admin()
                    {
                        others = true;
                        break;
                    }
                }
                if !others {
                    return Err(StoreError::Conflict(Conflict::LastAdmin));
                }
            }
            users.insert(user.id.as_u128(), encode(user)?.as_slice())?;
            if user.disabled || user.password_hash != stored.password_hash {
                end_sessions(&txn, user.id, None)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    fn insert_session(
        &self,
        token: &SecretHash,
        session: &Session,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut sessions = txn.open_table(SESSIONS)?;
            let mut by_user = txn.open_multimap_table(USER_SESSIONS)?;
            let user = session.user_id.as_u128();
            let mut expired = Vec::new();
            for hash in by_user.get(user)? {
                let hash = *hash?.value();
                let gone = match sessions.get(&hash)? {
                    Some(bytes) => decode::<Session>("session", bytes.value())?.expires_at <= now,
                    None => true,
                };
                if gone {
                    expired.push(hash);
                }
            }
            for hash in &expired {
                sessions.remove(hash)?;
                by_user.remove(user, hash)?;
            }
            sessions.insert(&token.0, encode(session)?.as_slice())?;
            by_user.insert(user, &token.0)?;
        }
        txn.commit()?;
        Ok(())
    }

    fn session_with_user(&self, token: &SecretHash) -> Result<Option<(Session, User)>, StoreError> {
        let txn = self.db.begin_read()?;
        let Some(bytes) = txn.open_table(SESSIONS)?.get(&token.0)? else {
            return Ok(None);
        };
        let session: Session = decode("session", bytes.value())?;
        let Some(user) = user_from(&txn.open_table(USERS)?, session.user_id.as_u128())? else {
            return Ok(None);
        };
        Ok(Some((session, user)))
    }

    fn delete_session(&self, token: &SecretHash) -> Result<bool, StoreError> {
        let txn = self.db.begin_write()?;
        let existed = {
            let mut sessions = txn.open_table(SESSIONS)?;
            let removed = sessions.remove(&token.0)?;
            match removed {
                Some(bytes) => {
                    let session: Session = decode("session", bytes.value())?;
                    drop(bytes);
                    txn.open_multimap_table(USER_SESSIONS)?
                        .remove(session.user_id.as_u128(), &token.0)?;
                    true
                }
                None => false,
            }
        };
        txn.commit()?;
        Ok(existed)
    }

    fn invitation(&self, code: &SecretHash) -> Result<Option<Invitation>, StoreError> {
        let txn = self.db.begin_read()?;
        match txn.open_table(INVITATIONS)?.get(&code.0)? {
            Some(bytes) => Ok(Some(decode("invitation", bytes.value())?)),
            None => Ok(None),
        }
    }

    fn insert_invitation(
        &self,
        code: &SecretHash,
        invitation: &Invitation,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut invitations = txn.open_table(INVITATIONS)?;
            let mut by_user = txn.open_multimap_table(USER_INVITATIONS)?;
            let user = invitation.user_id.as_u128();
            // Only the newest code of a user works: the earlier unredeemed ones are withdrawn.
            for older in by_user.remove_all(user)? {
                invitations.remove(older?.value())?;
            }
            invitations.insert(&code.0, encode(invitation)?.as_slice())?;
            by_user.insert(user, &code.0)?;
        }
        txn.commit()?;
        Ok(())
    }

    fn redeem_invitation(
        &self,
        code: &SecretHash,
        openid: &str,
        now: UnixMillis,
    ) -> Result<User, StoreError> {
        let txn = self.db.begin_write()?;
        let user = {
            let mut invitations = txn.open_table(INVITATIONS)?;
            let mut invitation: Invitation = match invitations.get(&code.0)? {
                Some(bytes) => decode("invitation", bytes.value())?,
                None => return Err(StoreError::NotFound),
            };
            let mut users = txn.open_table(USERS)?;
            let mut user =
                user_from(&users, invitation.user_id.as_u128())?.ok_or(StoreError::NotFound)?;
            if invitation.redeemed_at.is_some() {
                // A retry after a lost answer: the same account again is a success.
                if user.wechat_openid.as_deref() == Some(openid) {
                    return Ok(user);
                }
                return Err(StoreError::Conflict(Conflict::InvitationUsed));
            }
            if invitation.expires_at <= now {
                return Err(StoreError::Conflict(Conflict::InvitationExpired));
            }
            if user.disabled {
                return Err(StoreError::Conflict(Conflict::UserDisabled));
            }
            let mut openids = txn.open_table(WECHAT_OPENIDS)?;
            let bound_to = openids.get(openid)?.map(|id| id.value());
            if bound_to.is_some_and(|id| id != user.id.as_u128()) {
                return Err(StoreError::Conflict(Conflict::OpenidBoundElsewhere));
            }
            if let Some(old) = user.wechat_openid.take() {
                openids.remove(old.as_str())?;
                if old != openid {
                    // The old WeChat account (the old phone) is logged out.
                    end_sessions(&txn, user.id, Some(LoginMethod::WeChat))?;
                }
            }
            openids.insert(openid, user.id.as_u128())?;
            user.wechat_openid = Some(openid.to_string());
            user.updated_at = now;
            user.rev += 1;
            users.insert(user.id.as_u128(), encode(&user)?.as_slice())?;
            invitation.redeemed_at = Some(now);
            invitations.insert(&code.0, encode(&invitation)?.as_slice())?;
            txn.open_multimap_table(USER_INVITATIONS)?
                .remove(user.id.as_u128(), &code.0)?;
            user
        };
        txn.commit()?;
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redb_store_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::RedbStore::open(&dir.path().join("test.redb")).unwrap();
        crate::store::conformance::run(&store);
    }

    #[test]
    fn a_second_open_is_refused_and_a_clean_close_needs_no_repair() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.redb");
        let first = super::RedbStore::open(&path).unwrap();
        let second = super::RedbStore::open(&path).unwrap_err();
        assert!(
            matches!(second, super::StoreError::Locked { .. }),
            "{second:?}"
        );
        first.close().unwrap();
        let again = super::RedbStore::open(&path).unwrap();
        assert!(!again.was_repaired());
    }
}
