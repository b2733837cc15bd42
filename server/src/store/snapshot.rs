//! A consistent copy of the store: every table copied from one read transaction into a new redb
//! file, with what the copy holds (rows per table, every bucket digest, every blob's metadata),
//! for backups ([`crate::backup`]).
//!
//! The copy fails if the store holds a table this module does not copy, so that a table added
//! later cannot be left out of backups silently.

use std::collections::BTreeMap;
use std::path::Path;

use redb::{
    Database, Key, MultimapTableDefinition, MultimapTableHandle, ReadTransaction, ReadableDatabase,
    ReadableMultimapTable, ReadableTable, TableDefinition, TableHandle, Value, WriteTransaction,
};

use super::StoreError;
use super::codec::decode;
use super::model::BlobMeta;
use super::redb_store::RedbStore;
use super::tables::{
    BLOB_CITATIONS, BLOB_CITERS, BLOBS, BUCKET_DIGESTS, BUCKET_INDEX, COUNTERS, DEVICES, ENTITIES,
    ENTITY_EVENTS, EVENTS, FORKS, HEALTH, INVITATIONS, META, OFFICE_COUNTS, OFFICE_FACTS,
    OLD_OFFICE_FACTS, OLDER_OFFICE_FACTS, OLDEST_OFFICE_FACTS, RECEIPTS, SESSIONS, TYPE_INDEX,
    UPLOADS, USER_INVITATIONS, USER_SESSIONS, USERNAMES, USERS, WECHAT_OPENIDS,
};

/// What a snapshot holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Contents {
    /// Rows per table (for a multimap table, its key–value pairs).
    pub tables: BTreeMap<String, u64>,
    /// Every bucket's digest, hex.
    pub bucket_digests: BTreeMap<String, String>,
    /// Every blob the store knows.
    pub blobs: Vec<BlobMeta>,
}

fn copy<K: Key + 'static, V: Value + 'static>(
    from: &ReadTransaction,
    to: &WriteTransaction,
    table: TableDefinition<K, V>,
    counts: &mut BTreeMap<String, u64>,
) -> Result<(), StoreError> {
    let source = match from.open_table(table) {
        Ok(source) => source,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    let mut target = to.open_table(table)?;
    let mut rows = 0u64;
    for entry in source.iter()? {
        let (key, value) = entry?;
        target.insert(key.value(), value.value())?;
        rows += 1;
    }
    counts.insert(table.name().to_string(), rows);
    Ok(())
}

fn copy_multimap<K: Key + 'static, V: Key + 'static>(
    from: &ReadTransaction,
    to: &WriteTransaction,
    table: MultimapTableDefinition<K, V>,
    counts: &mut BTreeMap<String, u64>,
) -> Result<(), StoreError> {
    let source = match from.open_multimap_table(table) {
        Ok(source) => source,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    let mut target = to.open_multimap_table(table)?;
    let mut rows = 0u64;
    for entry in source.iter()? {
        let (key, values) = entry?;
        for value in values {
            target.insert(key.value(), value?.value())?;
            rows += 1;
        }
    }
    counts.insert(table.name().to_string(), rows);
    Ok(())
}

/// Copies every table of `from` into `to`, returning the rows of each.
fn copy_all(
    from: &ReadTransaction,
    to: &WriteTransaction,
) -> Result<BTreeMap<String, u64>, StoreError> {
    let mut counts = BTreeMap::new();
    copy(from, to, USERS, &mut counts)?;
    copy(from, to, USERNAMES, &mut counts)?;
    copy(from, to, WECHAT_OPENIDS, &mut counts)?;
    copy(from, to, SESSIONS, &mut counts)?;
    copy_multimap(from, to, USER_SESSIONS, &mut counts)?;
    copy(from, to, INVITATIONS, &mut counts)?;
    copy_multimap(from, to, USER_INVITATIONS, &mut counts)?;
    copy(from, to, DEVICES, &mut counts)?;
    copy(from, to, EVENTS, &mut counts)?;
    copy(from, to, RECEIPTS, &mut counts)?;
    copy(from, to, FORKS, &mut counts)?;
    copy(from, to, super::tables::ENTITY_NUMBERS, &mut counts)?;
    copy(from, to, ENTITIES, &mut counts)?;
    copy(from, to, BUCKET_INDEX, &mut counts)?;
    copy(from, to, super::tables::BUCKETS, &mut counts)?;
    copy(from, to, BUCKET_DIGESTS, &mut counts)?;
    copy(from, to, COUNTERS, &mut counts)?;
    copy(from, to, TYPE_INDEX, &mut counts)?;
    copy(from, to, BLOBS, &mut counts)?;
    copy(from, to, BLOB_CITATIONS, &mut counts)?;
    copy(from, to, BLOB_CITERS, &mut counts)?;
    copy(from, to, ENTITY_EVENTS, &mut counts)?;
    copy(from, to, OFFICE_FACTS, &mut counts)?;
    copy(from, to, OFFICE_COUNTS, &mut counts)?;
    copy(from, to, OLD_OFFICE_FACTS, &mut counts)?;
    copy(from, to, OLDER_OFFICE_FACTS, &mut counts)?;
    copy(from, to, OLDEST_OFFICE_FACTS, &mut counts)?;
    copy(from, to, UPLOADS, &mut counts)?;
    copy(from, to, HEALTH, &mut counts)?;
    copy(from, to, META, &mut counts)?;
    // Tables that only ever held counters of an older layout are rebuilt at start; any other
    // table would be lost by a restore, so the copy refuses to leave one out.
    let left_out: Vec<String> = from
        .list_tables()?
        .map(|t| t.name().to_string())
        .chain(from.list_multimap_tables()?.map(|t| t.name().to_string()))
        .filter(|name| !counts.contains_key(name))
        .collect();
    if !left_out.is_empty() {
        return Err(StoreError::other(format!(
            "the backup does not know how to copy the tables {}",
            left_out.join(", ")
        )));
    }
    Ok(counts)
}

/// What a store (or a snapshot of one) holds, read in `txn`.
fn contents_of(
    txn: &ReadTransaction,
    tables: BTreeMap<String, u64>,
) -> Result<Contents, StoreError> {
    let mut bucket_digests = BTreeMap::new();
    for entry in txn.open_table(BUCKET_DIGESTS)?.iter()? {
        let (bucket, digest) = entry?;
        bucket_digests.insert(bucket.value().to_string(), hex::encode(digest.value()));
    }
    let mut blobs = Vec::new();
    for entry in txn.open_table(BLOBS)?.iter()? {
        let (_, meta) = entry?;
        blobs.push(decode::<BlobMeta>("blob", meta.value())?);
    }
    Ok(Contents {
        tables,
        bucket_digests,
        blobs,
    })
}

impl RedbStore {
    /// Copies the whole store, as it stands at one moment, into a new database file at `path`
    /// (which must not exist), and says what the copy holds. Writers carry on meanwhile.
    pub fn snapshot_to(&self, path: &Path) -> Result<Contents, StoreError> {
        let from = self.db().begin_read()?;
        let copy = Database::create(path)
            .map_err(|err| StoreError::other(format!("cannot create {}: {err}", path.display())))?;
        let to = copy.begin_write()?;
        let tables = copy_all(&from, &to)?;
        to.commit()?;
        contents_of(&from, tables)
    }
}

/// Reads what the database file at `path` holds, opening it read-only on its own (no server may
/// hold it).
pub fn contents(path: &Path) -> Result<Contents, StoreError> {
    // Read-only: checking a backup must not change a byte of it.
    let db = redb::ReadOnlyDatabase::open(path)
        .map_err(|err| StoreError::other(format!("cannot open {}: {err}", path.display())))?;
    let txn = db.begin_read()?;
    let mut tables = BTreeMap::new();
    for table in txn.list_tables()? {
        let name = table.name().to_string();
        let untyped = txn.open_untyped_table(table)?;
        tables.insert(name, redb::ReadableTableMetadata::len(&untyped)?);
    }
    for table in txn.list_multimap_tables()? {
        let name = table.name().to_string();
        let untyped = txn.open_untyped_multimap_table(table)?;
        tables.insert(name, redb::ReadableTableMetadata::len(&untyped)?);
    }
    contents_of(&txn, tables)
}

/// One table's share of a store file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSize {
    /// Its name (with its layout version).
    pub name: String,
    /// Rows (for a multimap table, its key–value pairs).
    pub rows: u64,
    /// Bytes of keys and values.
    pub stored_bytes: u64,
    /// Bytes of the B-tree's own bookkeeping (branch pages, offsets).
    pub metadata_bytes: u64,
    /// Bytes of its pages left unused.
    pub fragmented_bytes: u64,
}

impl TableSize {
    /// Everything the table takes in the file.
    pub fn total_bytes(&self) -> u64 {
        self.stored_bytes + self.metadata_bytes + self.fragmented_bytes
    }
}

/// What each table of the store file at `path` takes, largest first, opened read-only on its
/// own (no server may hold it).
pub fn table_sizes(path: &Path) -> Result<Vec<TableSize>, StoreError> {
    let db = redb::ReadOnlyDatabase::open(path)
        .map_err(|err| StoreError::other(format!("cannot open {}: {err}", path.display())))?;
    let txn = db.begin_read()?;
    let size = |name: &str, rows: u64, stats: redb::TableStats| TableSize {
        name: name.to_string(),
        rows,
        stored_bytes: stats.stored_bytes(),
        metadata_bytes: stats.metadata_bytes(),
        fragmented_bytes: stats.fragmented_bytes(),
    };
    let mut sizes = Vec::new();
    for table in txn.list_tables()? {
        let untyped = txn.open_untyped_table(table.clone())?;
        let (rows, stats) = (
            redb::ReadableTableMetadata::len(&untyped)?,
            redb::ReadableTableMetadata::stats(&untyped)?,
        );
        sizes.push(size(table.name(), rows, stats));
    }
    for table in txn.list_multimap_tables()? {
        let untyped = txn.open_untyped_multimap_table(table.clone())?;
        let (rows, stats) = (
            redb::ReadableTableMetadata::len(&untyped)?,
            redb::ReadableTableMetadata::stats(&untyped)?,
        );
        sizes.push(size(table.name(), rows, stats));
    }
    sizes.sort_by(|a, b| {
        b.total_bytes()
            .cmp(&a.total_bytes())
            .then(a.name.cmp(&b.name))
    });
    Ok(sizes)
}
