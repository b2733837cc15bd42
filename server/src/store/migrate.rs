//! Migrations between the store's formats ([`super::tables::FORMAT`]), run at start.
//!
//! A migration copies the tables whose layout changed into their new versions, a chunk of
//! records per transaction, then, in one durable transaction, drops the old tables and records
//! the new format. Until that last commit the store is of its old format and the old tables are
//! untouched: a migration cut short (a crash, a full disk) starts again from the beginning at
//! the next start, and an older server can still open the store. The file is compacted after;
//! redb does not always give all the space back (a large store's file can end larger than it
//! began, its free pages used by the writes that follow), and a backup restored writes the store
//! anew, in full pages.

use std::ops::Bound;

use redb::{AccessGuard, Database, Durability, ReadableTable, TableHandle, WriteTransaction};
use serde_json::value::RawValue;

use anjian_sync::protocol::{JudgedEvent, JudgedEventRef};

use super::StoreError;
use super::codec::{Dictionary, decode, pack};
use super::records;
use super::redb_sync::number_of;
use super::runs::insert_sorted;
use super::tables::{
    BUCKET_INDEX, BUCKET_INDEX_0, BUCKET_INDEX_1, BUCKETS, COUNTERS, ENTITIES, ENTITIES_0,
    ENTITIES_1, ENTITY_EVENTS, ENTITY_EVENTS_0, ENTITY_EVENTS_1, ENTITY_NUMBERS, EVENTS, EVENTS_0,
    FORMAT, META, RECEIPTS, TYPE_INDEX, TYPE_INDEX_0,
};

/// Records copied per transaction: each transaction's pages are held in memory until it
/// commits, so a store of millions of records is copied in steps.
const CHUNK: usize = 5_000;

/// The format a store is of: as its `meta` table says, or, for a store from before the table
/// said, 0 if it holds format 0's tables and [`FORMAT`] if it is new.
pub(super) fn format_of(txn: &WriteTransaction) -> Result<u64, StoreError> {
    if let Some(format) = txn.open_table(META)?.get("format")? {
        return Ok(format.value());
    }
    let old = [EVENTS_0.name(), ENTITIES_0.name()];
    for table in txn.list_tables()? {
        if old.contains(&table.name()) {
            return Ok(0);
        }
    }
    Ok(FORMAT)
}

/// Brings a store of format `from` to [`FORMAT`]; whether it did anything.
pub(super) fn migrate(db: &mut Database, from: u64) -> Result<bool, StoreError> {
    migrate_in_chunks(db, from, CHUNK)
}

/// [`migrate`], copying `chunk` records per transaction. A store of format 0 is brought to
/// format 1 first, then to format 2: each step ends with a durable commit of its format, so a
/// step's copies and the tables they replace are never all on disk at once.
fn migrate_in_chunks(db: &mut Database, from: u64, chunk: usize) -> Result<bool, StoreError> {
    if from >= FORMAT {
        return Ok(false);
    }
    let started = std::time::Instant::now();
    tracing::info!(
        from,
        to = FORMAT,
        "migrating the store to the current format"
    );
    let mut events = 0;
    if from == 0 {
        let writes = [
            EVENTS.name(),
            RECEIPTS.name(),
            ENTITIES_1.name(),
            BUCKET_INDEX_1.name(),
            BUCKETS.name(),
            TYPE_INDEX.name(),
            ENTITY_EVENTS_1.name(),
        ];
        let replaces = [
            EVENTS_0.name(),
            ENTITIES_0.name(),
            BUCKET_INDEX_0.name(),
            TYPE_INDEX_0.name(),
            ENTITY_EVENTS_0.name(),
        ];
        events = step(db, 1, &writes, &replaces, |db| {
            let events = copy_events(db, chunk)?;
            copy_entities(db, chunk)?;
            copy_bucket_index(db, chunk)?;
            copy_type_index(db, chunk)?;
            copy_entity_events(db, chunk)?;
            Ok(events)
        })?;
    }
    let writes = [
        ENTITY_NUMBERS.name(),
        ENTITIES.name(),
        BUCKET_INDEX.name(),
        ENTITY_EVENTS.name(),
    ];
    let replaces = [
        ENTITIES_1.name(),
        BUCKET_INDEX_1.name(),
        ENTITY_EVENTS_1.name(),
    ];
    let entities = step(db, 2, &writes, &replaces, |db| {
        let entities = number_entities(db, chunk)?;
        number_bucket_index(db, chunk)?;
        number_entity_events(db, chunk)?;
        Ok(entities)
    })?;
    tracing::info!(events, entities, "copied; compacting the file");
    db.compact()
        .map_err(|err| StoreError::other(format!("cannot compact the store: {err}")))?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "the store is of format {FORMAT}"
    );
    Ok(true)
}

/// One step from a format to the next (`to`): `copy` writes the tables named by `writes`,
/// which are dropped first (what an earlier, unfinished run copied may be part of a chunk);
/// then, in one durable transaction, the tables named by `replaces` are dropped and the format
/// recorded. Until that commit the store is of its old format and its old tables are untouched.
/// A copy that fails drops what it wrote, so the store is left as it was: an older server
/// opens it, and its backups refuse tables they do not know.
fn step(
    db: &Database,
    to: u64,
    writes: &[&str],
    replaces: &[&str],
    copy: impl FnOnce(&Database) -> Result<u64, StoreError>,
) -> Result<u64, StoreError> {
    drop_tables(db, writes)?;
    let copied = match copy(db) {
        Ok(copied) => copied,
        Err(err) => {
            if let Err(left) = drop_tables(db, writes) {
                tracing::error!(%left, "cannot drop what a failed migration copied");
            }
            return Err(err);
        }
    };
    let txn = db.begin_write()?;
    for name in replaces {
        txn.delete_table(redb::TableDefinition::<&str, &[u8]>::new(name))?;
    }
    txn.open_table(META)?.insert("format", to)?;
    txn.commit()?;
    tracing::info!(copied, "the store is of format {to}");
    Ok(copied)
}

/// Drops the tables named, in one durable transaction.
fn drop_tables(db: &Database, names: &[&str]) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    for name in names {
        txn.delete_table(redb::TableDefinition::<&str, &[u8]>::new(name))?;
    }
    txn.commit()?;
    Ok(())
}

/// Copies a table in chunks: `step` copies up to `chunk` records after the cursor it is given
/// (`None` at first) within the transaction, and returns how many and the cursor after them.
/// Each chunk's transaction is one a crash may undo: the migration's last commit makes them all
/// durable.
fn in_chunks<C: Clone + PartialEq>(
    db: &Database,
    chunk: usize,
    what: &str,
    mut step: impl FnMut(&WriteTransaction, Option<C>) -> Result<(usize, Option<C>), StoreError>,
) -> Result<u64, StoreError> {
    let mut after = None;
    let mut copied = 0;
    loop {
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::None)
            .map_err(StoreError::other)?;
        let (taken, next) = step(&txn, after.clone())?;
        txn.commit()?;
        copied += taken as u64;
        if taken < chunk {
            return Ok(copied);
        }
        // Each full chunk moves the cursor on, so the copy ends.
        if next.is_none() || next == after {
            return Err(StoreError::other(format!(
                "the migration of {what} did not move past a chunk"
            )));
        }
        after = next;
        tracing::info!(copied, "copying {what}");
    }
}

/// Format 0's events (each with its receipt, as JSON) into the events and receipts tables.
fn copy_events(db: &Database, chunk: usize) -> Result<u64, StoreError> {
    in_chunks(db, chunk, "events", |txn, after: Option<(u128, u64)>| {
        let old = txn.open_table(EVENTS_0)?;
        let mut events = txn.open_table(EVENTS)?;
        let mut receipts = txn.open_table(RECEIPTS)?;
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let (mut taken, mut last) = (0, after);
        for entry in old
            .range::<(u128, u64)>((start, Bound::Unbounded))?
            .take(chunk)
        {
            let (key, bytes) = entry?;
            let key = key.value();
            let event: JudgedEvent = decode("event", bytes.value())?;
            let judged = JudgedEventRef {
                event: &event.event,
                receipt: &event.receipt,
                time: event.time,
                user_id: &event.user_id,
            };
            events.insert(key, records::encode_event(&judged, None)?.as_slice())?;
            receipts.insert(key, records::encode_receipt(&event.receipt)?.as_slice())?;
            (taken, last) = (taken + 1, Some(key));
        }
        Ok((taken, last))
    })
}

/// Format 0's projections (JSON) into format 1's entities table, packed. Their JSON is checked
/// and kept as it was, byte for byte.
fn copy_entities(db: &Database, chunk: usize) -> Result<u64, StoreError> {
    in_chunks(db, chunk, "projections", |txn, after: Option<String>| {
        let old = txn.open_table(ENTITIES_0)?;
        let mut entities = txn.open_table(ENTITIES_1)?;
        let start = after.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let (mut taken, mut last) = (0, None);
        let mut packed = Vec::new();
        for entry in old.range::<&str>((start, Bound::Unbounded))?.take(chunk) {
            let (key, bytes) = entry?;
            let json: Box<RawValue> = decode("entity", bytes.value())?;
            packed.clear();
            pack(Dictionary::Projections, json.get().as_bytes(), &mut packed)?;
            entities.insert(key.value(), packed.as_slice())?;
            (taken, last) = (taken + 1, Some(key.value().to_string()));
        }
        Ok((taken, last.or(after)))
    })
}

/// Format 1's projections, by entity id, into format 2's, by number: numbers are given out in
/// the order of the ids, and the packed bytes kept as they are.
fn number_entities(db: &Database, chunk: usize) -> Result<u64, StoreError> {
    let mut numbered = 0u64;
    in_chunks(db, chunk, "projections", |txn, after: Option<String>| {
        let old = txn.open_table(ENTITIES_1)?;
        let mut numbers = txn.open_table(ENTITY_NUMBERS)?;
        let mut entities = txn.open_table(ENTITIES)?;
        let start = after.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let (mut taken, mut last) = (0, None);
        // Ids and numbers both ascend, so each table is written at its end as full pages.
        let mut ids = Vec::new();
        let mut rows: Vec<(u64, AccessGuard<'_, &[u8]>)> = Vec::new();
        for entry in old.range::<&str>((start, Bound::Unbounded))?.take(chunk) {
            let (key, bytes) = entry?;
            numbered += 1;
            ids.push((records::id_key(key.value())?, numbered));
            rows.push((numbered, bytes));
            (taken, last) = (taken + 1, Some(key.value().to_string()));
        }
        insert_sorted(&mut numbers, &ids)?;
        let rows: Vec<_> = rows.iter().map(|(n, row)| (*n, row.value())).collect();
        insert_sorted(&mut entities, &rows)?;
        txn.open_table(COUNTERS)?.insert("last_entity", numbered)?;
        Ok((taken, last.or(after)))
    })
}

/// Format 1's bucket index into format 2's, each entity named by its number.
fn number_bucket_index(db: &Database, chunk: usize) -> Result<u64, StoreError> {
    in_chunks(
        db,
        chunk,
        "the bucket index",
        |txn, after: Option<(u32, u64)>| {
            let old = txn.open_table(BUCKET_INDEX_1)?;
            let numbers = txn.open_table(ENTITY_NUMBERS)?;
            let mut index = txn.open_table(BUCKET_INDEX)?;
            let start = after.map_or(Bound::Unbounded, Bound::Excluded);
            let (mut taken, mut last) = (0, after);
            // Each bucket's entries in revision order: written as runs, in full pages.
            let mut rows = Vec::new();
            for entry in old
                .range::<(u32, u64)>((start, Bound::Unbounded))?
                .take(chunk)
            {
                let (key, id) = entry?;
                if let Some(number) = number_of(&numbers, id.value())? {
                    rows.push((key.value(), number));
                }
                (taken, last) = (taken + 1, Some(key.value()));
            }
            insert_sorted(&mut index, &rows)?;
            Ok((taken, last))
        },
    )
}

/// Format 1's entity events into format 2's, each entity named by its number.
fn number_entity_events(db: &Database, chunk: usize) -> Result<u64, StoreError> {
    in_chunks(
        db,
        chunk,
        "the entity events",
        |txn, after: Option<(u128, u64)>| {
            let old = txn.open_table(ENTITY_EVENTS_1)?;
            let numbers = txn.open_table(ENTITY_NUMBERS)?;
            let mut events = txn.open_table(ENTITY_EVENTS)?;
            let start = after.map_or(Bound::Unbounded, Bound::Excluded);
            let (mut taken, mut last) = (0, after);
            // Numbers follow the ids' order, so the rows ascend as they are read.
            let mut rows = Vec::new();
            for entry in old
                .range::<(u128, u64)>((start, Bound::Unbounded))?
                .take(chunk)
            {
                let (key, event) = entry?;
                let (id, rev) = key.value();
                if let Some(number) = number_of(&numbers, id)? {
                    rows.push(((number, rev), event.value()));
                }
                (taken, last) = (taken + 1, Some((id, rev)));
            }
            insert_sorted(&mut events, &rows)?;
            Ok((taken, last))
        },
    )
}

/// Format 0's bucket index into format 1's, each bucket named by its number (given out in the
/// order of the names).
fn copy_bucket_index(db: &Database, chunk: usize) -> Result<u64, StoreError> {
    let mut numbers: std::collections::HashMap<String, u32> = Default::default();
    in_chunks(
        db,
        chunk,
        "the bucket index",
        |txn, after: Option<(String, u64)>| {
            let old = txn.open_table(BUCKET_INDEX_0)?;
            let mut index = txn.open_table(BUCKET_INDEX_1)?;
            let mut buckets = txn.open_table(BUCKETS)?;
            let start = match &after {
                Some((bucket, rev)) => Bound::Excluded((bucket.as_str(), *rev)),
                None => Bound::Unbounded,
            };
            let (mut taken, mut last) = (0, None);
            for entry in old
                .range::<(&str, u64)>((start, Bound::Unbounded))?
                .take(chunk)
            {
                let (key, id) = entry?;
                let (bucket, rev) = key.value();
                let number = match numbers.get(bucket) {
                    Some(number) => *number,
                    None => {
                        let number = u32::try_from(numbers.len() + 1)
                            .map_err(|_| StoreError::other("the bucket numbers ran out"))?;
                        buckets.insert(bucket, number)?;
                        numbers.insert(bucket.to_string(), number);
                        number
                    }
                };
                index.insert((number, rev), records::id_key(id.value())?)?;
                (taken, last) = (taken + 1, Some((bucket.to_string(), rev)));
            }
            let count = u64::try_from(numbers.len()).unwrap_or(u64::MAX);
            txn.open_table(COUNTERS)?.insert("last_bucket", count)?;
            Ok((taken, last.or(after)))
        },
    )
}

/// Format 0's type index into format 1's.
fn copy_type_index(db: &Database, chunk: usize) -> Result<u64, StoreError> {
    in_chunks(
        db,
        chunk,
        "the type index",
        |txn, after: Option<(String, String)>| {
            let old = txn.open_table(TYPE_INDEX_0)?;
            let mut types = txn.open_table(TYPE_INDEX)?;
            let start = match &after {
                Some((kind, id)) => Bound::Excluded((kind.as_str(), id.as_str())),
                None => Bound::Unbounded,
            };
            let (mut taken, mut last) = (0, None);
            for entry in old
                .range::<(&str, &str)>((start, Bound::Unbounded))?
                .take(chunk)
            {
                let (key, rev) = entry?;
                let (kind, id) = key.value();
                types.insert((kind, records::id_key(id)?), rev.value())?;
                (taken, last) = (taken + 1, Some((kind.to_string(), id.to_string())));
            }
            Ok((taken, last.or(after)))
        },
    )
}

/// Format 0's entity events into format 1's.
fn copy_entity_events(db: &Database, chunk: usize) -> Result<u64, StoreError> {
    in_chunks(
        db,
        chunk,
        "the entity events",
        |txn, after: Option<(String, u64)>| {
            let old = txn.open_table(ENTITY_EVENTS_0)?;
            let mut events = txn.open_table(ENTITY_EVENTS_1)?;
            let start = match &after {
                Some((id, rev)) => Bound::Excluded((id.as_str(), *rev)),
                None => Bound::Unbounded,
            };
            let (mut taken, mut last) = (0, None);
            for entry in old
                .range::<(&str, u64)>((start, Bound::Unbounded))?
                .take(chunk)
            {
                let (key, event) = entry?;
                let (id, rev) = key.value();
                events.insert((records::id_key(id)?, rev), event.value())?;
                (taken, last) = (taken + 1, Some((id.to_string(), rev)));
            }
            Ok((taken, last.or(after)))
        },
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use anjian_sync::protocol::{Projection, Receipt};
    use redb::{ReadableDatabase, ReadableTableMetadata};
    use uuid::Uuid;

    use super::*;
    use crate::store::{RedbStore, SyncStore};

    /// A store written by the server of format 0 (release 0.1 before this format): two
    /// devices' inspections, hazards citing photos, their amendments and a conflict, made by
    /// `anjian-load --devices 2 --records-per-device 10 --photo-kb 3 --hazards` against it.
    const FORMAT_0_STORE: &[u8] = include_bytes!("../../tests/fixtures/store-v0.redb.zst");

    /// A store written by the server of format 1, made the same way.
    const FORMAT_1_STORE: &[u8] = include_bytes!("../../tests/fixtures/store-v1.redb.zst");

    /// What an earlier format's tables hold, read as that format wrote them.
    struct Before {
        events: BTreeMap<(u128, u64), JudgedEvent>,
        entities: BTreeMap<String, Projection>,
        /// Each bucket's (revision, entity) entries.
        index: BTreeMap<String, Vec<(u64, String)>>,
        /// Each type's entities.
        types: BTreeMap<String, Vec<String>>,
    }

    fn read_format_0(path: &std::path::Path) -> Before {
        let db = Database::open(path).unwrap();
        let txn = db.begin_read().unwrap();
        let mut events = BTreeMap::new();
        for entry in txn.open_table(EVENTS_0).unwrap().iter().unwrap() {
            let (key, bytes) = entry.unwrap();
            events.insert(key.value(), decode("event", bytes.value()).unwrap());
        }
        let mut entities = BTreeMap::new();
        for entry in txn.open_table(ENTITIES_0).unwrap().iter().unwrap() {
            let (key, bytes) = entry.unwrap();
            entities.insert(
                key.value().to_string(),
                decode("entity", bytes.value()).unwrap(),
            );
        }
        let mut index: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
        for entry in txn.open_table(BUCKET_INDEX_0).unwrap().iter().unwrap() {
            let (key, id) = entry.unwrap();
            let (bucket, rev) = key.value();
            index
                .entry(bucket.to_string())
                .or_default()
                .push((rev, id.value().to_string()));
        }
        let mut types: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for entry in txn.open_table(TYPE_INDEX_0).unwrap().iter().unwrap() {
            let (key, _) = entry.unwrap();
            let (kind, id) = key.value();
            types
                .entry(kind.to_string())
                .or_default()
                .push(id.to_string());
        }
        Before {
            events,
            entities,
            index,
            types,
        }
    }

    fn read_format_1(path: &std::path::Path) -> Before {
        let db = Database::open(path).unwrap();
        let txn = db.begin_read().unwrap();
        let receipts = txn.open_table(RECEIPTS).unwrap();
        let mut events = BTreeMap::new();
        for entry in txn.open_table(EVENTS).unwrap().iter().unwrap() {
            let (key, bytes) = entry.unwrap();
            let (device, seq) = key.value();
            let receipt = receipts.get((device, seq)).unwrap().unwrap();
            let receipt = records::decode_receipt(seq, receipt.value()).unwrap();
            events.insert(
                (device, seq),
                records::decode_event(bytes.value(), receipt).unwrap(),
            );
        }
        let mut entities = BTreeMap::new();
        for entry in txn.open_table(ENTITIES_1).unwrap().iter().unwrap() {
            let (key, bytes) = entry.unwrap();
            entities.insert(
                key.value().to_string(),
                decode("entity", bytes.value()).unwrap(),
            );
        }
        let names: BTreeMap<u32, String> = txn
            .open_table(BUCKETS)
            .unwrap()
            .iter()
            .unwrap()
            .map(|entry| {
                let (name, number) = entry.unwrap();
                (number.value(), name.value().to_string())
            })
            .collect();
        let mut index: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
        for entry in txn.open_table(BUCKET_INDEX_1).unwrap().iter().unwrap() {
            let (key, id) = entry.unwrap();
            let (number, rev) = key.value();
            index
                .entry(names[&number].clone())
                .or_default()
                .push((rev, Uuid::from_u128(id.value()).to_string()));
        }
        let mut types: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for entry in txn.open_table(TYPE_INDEX).unwrap().iter().unwrap() {
            let (key, _) = entry.unwrap();
            let (kind, id) = key.value();
            types
                .entry(kind.to_string())
                .or_default()
                .push(Uuid::from_u128(id).to_string());
        }
        Before {
            events,
            entities,
            index,
            types,
        }
    }

    fn unpacked_fixture(dir: &std::path::Path, fixture: &[u8]) -> std::path::PathBuf {
        let path = dir.join("anjian.redb");
        std::fs::write(&path, zstd::stream::decode_all(fixture).unwrap()).unwrap();
        path
    }

    /// The earlier formats' stores, each with what it holds and its format.
    fn fixtures(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Before, u64)> {
        let mut stores = Vec::new();
        for (fixture, format) in [(FORMAT_0_STORE, 0), (FORMAT_1_STORE, 1)] {
            let dir = dir.join(format!("v{format}"));
            std::fs::create_dir(&dir).unwrap();
            let path = unpacked_fixture(&dir, fixture);
            let before = match format {
                0 => read_format_0(&path),
                _ => read_format_1(&path),
            };
            {
                let mut db = Database::create(&path).unwrap();
                let txn = db.begin_write().unwrap();
                assert_eq!(format_of(&txn).unwrap(), format);
                txn.abort().unwrap();
                assert!(db.check_integrity().unwrap());
            }
            stores.push((path, before, format));
        }
        stores
    }

    /// Every event, receipt, projection and timeline of the format 0 store reads the same
    /// through the store after the migration, and the old tables are gone.
    fn assert_migrated(path: &std::path::Path, before: &Before, compacted_now: bool) {
        let size_before = std::fs::metadata(path).unwrap().len();
        let store = RedbStore::open(path).unwrap();
        let devices: std::collections::BTreeSet<u128> =
            before.events.keys().map(|(device, _)| *device).collect();
        let mut receipts = 0;
        for device in devices {
            let got: Vec<Receipt> = store
                .receipts(Uuid::from_u128(device), 0, usize::MAX)
                .unwrap();
            let want: Vec<Receipt> = before
                .events
                .range((device, 0)..=(device, u64::MAX))
                .map(|(_, event)| event.receipt.clone())
                .collect();
            assert_eq!(got, want);
            receipts += got.len();
        }
        assert_eq!(receipts, before.events.len());
        let mut timelines = 0;
        for (id, projection) in &before.entities {
            assert_eq!(store.entity(id).unwrap().as_ref(), Some(projection));
            for event in store.entity_events(id).unwrap() {
                let key = (
                    Uuid::parse_str(&event.event.body.device_id)
                        .unwrap()
                        .as_u128(),
                    event.event.body.seq,
                );
                assert_eq!(Some(&event), before.events.get(&key));
                timelines += 1;
            }
        }
        assert!(
            timelines > before.entities.len(),
            "the fixture has amended records"
        );
        for (bucket, entries) in &before.index {
            let page = store
                .pull(std::slice::from_ref(bucket), 0, 10_000, usize::MAX)
                .unwrap();
            let got: Vec<(u64, String)> = page
                .projections
                .iter()
                .map(|p| (p.rev, p.decode().unwrap().entity.id))
                .collect();
            assert_eq!(&got, entries, "{bucket}");
        }
        assert!(before.index.len() >= 4, "{:?}", before.index.keys());
        for (kind, ids) in &before.types {
            let entity_type: anjian_sync::entity::EntityType =
                serde_json::from_value(serde_json::json!(kind)).unwrap();
            let got: Vec<String> = store
                .entities_of_type(entity_type)
                .unwrap()
                .into_iter()
                .map(|p| p.entity.id)
                .collect();
            assert_eq!(&got, ids, "{kind}");
        }
        store.close().unwrap();
        let db = Database::open(path).unwrap();
        let txn = db.begin_read().unwrap();
        assert_eq!(
            txn.open_table(META)
                .unwrap()
                .get("format")
                .unwrap()
                .unwrap()
                .value(),
            FORMAT
        );
        let names: Vec<String> = txn
            .list_tables()
            .unwrap()
            .map(|t| t.name().to_string())
            .collect();
        for replaced in [EVENTS_0.name(), ENTITIES_0.name(), BUCKET_INDEX_0.name()]
            .into_iter()
            .chain([
                TYPE_INDEX_0.name(),
                ENTITY_EVENTS_0.name(),
                ENTITIES_1.name(),
            ])
            .chain([BUCKET_INDEX_1.name(), ENTITY_EVENTS_1.name()])
        {
            assert!(!names.iter().any(|n| n == replaced), "{names:?}");
        }
        // Every entity has a number, and the next one given out follows them.
        let count = before.entities.len() as u64;
        assert_eq!(
            txn.open_table(ENTITY_NUMBERS).unwrap().len().unwrap(),
            count
        );
        assert_eq!(txn.open_table(ENTITIES).unwrap().len().unwrap(), count);
        let last = txn
            .open_table(COUNTERS)
            .unwrap()
            .get("last_entity")
            .unwrap();
        assert_eq!(last.map(|n| n.value()), Some(count));
        drop(txn);
        drop(db);
        let size_after = std::fs::metadata(path).unwrap().len();
        assert!(
            !compacted_now || size_after < size_before,
            "compacted: {size_after} bytes, not less than {size_before}"
        );
    }

    #[test]
    fn a_store_of_every_earlier_format_is_migrated_with_every_record_intact() {
        let dir = tempfile::tempdir().unwrap();
        for (path, before, format) in fixtures(dir.path()) {
            assert!(
                before.events.len() >= 20 && before.entities.len() >= 20,
                "format {format}"
            );
            assert!(
                before.events.values().any(|e| e.receipt.issue_id.is_some()),
                "the fixture of format {format} has a conflict kept as an issue"
            );
            assert_migrated(&path, &before, true);
        }
    }

    #[test]
    fn a_migration_in_many_chunks_copies_every_record_once() {
        let dir = tempfile::tempdir().unwrap();
        for (path, before, format) in fixtures(dir.path()) {
            let mut db = Database::create(&path).unwrap();
            assert!(migrate_in_chunks(&mut db, format, 3).unwrap());
            assert!(!migrate_in_chunks(&mut db, FORMAT, 3).unwrap());
            drop(db);
            assert_migrated(&path, &before, false);
        }
    }

    #[test]
    fn a_migration_cut_short_starts_again_from_the_beginning() {
        let dir = tempfile::tempdir().unwrap();
        let half = Uuid::from_u128(7);
        for (path, before, format) in fixtures(dir.path()) {
            // What a run cut short leaves: the new tables partly written (here, with records
            // no migration would write), the old tables whole, the format still the old one.
            {
                let db = Database::create(&path).unwrap();
                let txn = db.begin_write().unwrap();
                if format == 0 {
                    txn.open_table(EVENTS)
                        .unwrap()
                        .insert((7, 7), b"half".as_slice())
                        .unwrap();
                }
                txn.open_table(ENTITY_NUMBERS)
                    .unwrap()
                    .insert(half.as_u128(), 1)
                    .unwrap();
                txn.open_table(ENTITIES)
                    .unwrap()
                    .insert(1, b"half".as_slice())
                    .unwrap();
                txn.commit().unwrap();
            }
            assert_migrated(&path, &before, true);
            let store = RedbStore::open(&path).unwrap();
            assert_eq!(store.entity(&half.to_string()).unwrap(), None);
            assert_eq!(store.receipts(half, 0, 10).unwrap(), vec![]);
        }
    }

    #[test]
    fn a_migration_that_fails_leaves_the_store_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = unpacked_fixture(dir.path(), FORMAT_1_STORE);
        let tables = |db: &Database| -> Vec<String> {
            let txn = db.begin_read().unwrap();
            txn.list_tables()
                .unwrap()
                .map(|t| t.name().to_string())
                .collect()
        };
        let mut db = Database::create(&path).unwrap();
        // A projection under an id that is no UUID, last in the table: the copy fails after
        // several chunks are written.
        let txn = db.begin_write().unwrap();
        txn.open_table(ENTITIES_1)
            .unwrap()
            .insert("not-a-uuid", b"x".as_slice())
            .unwrap();
        txn.commit().unwrap();
        let before = tables(&db);
        let err = migrate_in_chunks(&mut db, 1, 3).unwrap_err();
        assert!(err.to_string().contains("not-a-uuid"), "{err}");
        assert_eq!(tables(&db), before);
        let txn = db.begin_write().unwrap();
        assert_eq!(format_of(&txn).unwrap(), 1);
    }

    #[test]
    fn a_migrated_store_numbers_new_entities_after_its_own() {
        let dir = tempfile::tempdir().unwrap();
        for (path, before, format) in fixtures(dir.path()) {
            let store = RedbStore::open(&path).unwrap();
            let mut entity = crate::store::redb_sync::tests::citing(&[]);
            entity.id = Uuid::from_u128(0x0192_f3a0_0000_7000_8000_0000_00ff_0001).to_string();
            let stored = crate::store::redb_sync::tests::put(&store, entity.clone());
            assert_eq!(store.entity(&entity.id).unwrap(), Some(stored));
            for (id, projection) in &before.entities {
                assert_eq!(
                    store.entity(id).unwrap().as_ref(),
                    Some(projection),
                    "format {format}"
                );
            }
            store.close().unwrap();
            let db = Database::open(&path).unwrap();
            let txn = db.begin_read().unwrap();
            let number = txn
                .open_table(ENTITY_NUMBERS)
                .unwrap()
                .get(Uuid::parse_str(&entity.id).unwrap().as_u128())
                .unwrap()
                .map(|n| n.value());
            assert_eq!(number, Some(before.entities.len() as u64 + 1));
        }
    }
}
