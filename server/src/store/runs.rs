//! Writing many keys at once as full pages.
//!
//! redb splits a full leaf in two halves when one key is inserted into it, so keys that arrive
//! in ascending order (a device's events, a bucket's changes) leave every leaf half empty. A run
//! of keys inserted through a cursor into one gap is instead packed into full leaves. A write
//! transaction therefore collects such keys and writes them, sorted, with [`insert_sorted`].

use std::cmp::Ordering;
use std::ops::Bound;

use redb::{Key, Table, Value};

use super::StoreError;

/// Inserts `entries` (sorted by key, without duplicates) into `table`, one cursor per run of
/// keys that fall between the same two existing keys. A key the table already holds is
/// overwritten, as by [`Table::insert`].
pub fn insert_sorted<'k, 'v, K, V>(
    table: &mut Table<'_, K, V>,
    entries: &[(K::SelfType<'k>, V::SelfType<'v>)],
) -> Result<(), StoreError>
where
    K: Key + 'static,
    V: Value + 'static,
{
    let mut i = 0;
    while i < entries.len() {
        let mut cursor = table.lower_bound_mut(Bound::Included(&entries[i].0))?;
        // The first key at or after the run's start: the run ends before it.
        let limit: Option<Vec<u8>> = cursor
            .peek_next()?
            .map(|(key, _)| K::as_bytes(&key.value()).as_ref().to_vec());
        let fits = |key: &K::SelfType<'k>| match &limit {
            Some(limit) => K::compare(K::as_bytes(key).as_ref(), limit) == Ordering::Less,
            None => true,
        };
        while i < entries.len() && fits(&entries[i].0) {
            cursor.insert_before(&entries[i].0, &entries[i].1)?;
            i += 1;
        }
        cursor.close()?;
        // The next key is the one the table holds already: replaced in place.
        if let (Some(limit), Some((key, value))) = (&limit, entries.get(i))
            && K::as_bytes(key).as_ref() == limit.as_slice()
        {
            table.insert(key, value)?;
            i += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

    use super::*;

    const TABLE: TableDefinition<(u128, u64), &[u8]> = TableDefinition::new("t");

    /// Pushes of 200 events from 10 devices in turn, as a store receives them.
    fn pushes(db: &Database, sorted: bool) -> redb::TableStats {
        let value = vec![7u8; 300];
        for round in 0..10u64 {
            for device in 0..10u128 {
                let txn = db.begin_write().unwrap();
                {
                    let mut table = txn.open_table(TABLE).unwrap();
                    let keys = (round * 200 + 1..=round * 200 + 200).map(|seq| (device, seq));
                    if sorted {
                        let entries: Vec<_> = keys.map(|k| (k, value.as_slice())).collect();
                        insert_sorted(&mut table, &entries).unwrap();
                    } else {
                        for key in keys {
                            table.insert(key, value.as_slice()).unwrap();
                        }
                    }
                }
                txn.commit().unwrap();
            }
        }
        let txn = db.begin_write().unwrap();
        let stats = txn.open_table(TABLE).unwrap().stats().unwrap();
        txn.abort().unwrap();
        stats
    }

    #[test]
    fn ascending_runs_are_written_as_full_pages() {
        let dir = tempfile::tempdir().unwrap();
        let one_by_one = pushes(&Database::create(dir.path().join("a")).unwrap(), false);
        let sorted = pushes(&Database::create(dir.path().join("b")).unwrap(), true);
        assert_eq!(one_by_one.stored_bytes(), sorted.stored_bytes());
        // Inserted one by one, a third or more of the leaves is left empty; in runs, little.
        assert!(
            one_by_one.fragmented_bytes() * 3 > one_by_one.stored_bytes(),
            "{one_by_one:?}"
        );
        assert!(
            sorted.fragmented_bytes() * 10 < sorted.stored_bytes(),
            "{sorted:?}"
        );
    }

    #[test]
    fn keys_between_and_equal_to_held_ones_are_placed_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("db")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(TABLE).unwrap();
            for seq in [10, 20, 30] {
                table.insert((1, seq), b"old".as_slice()).unwrap();
            }
            let entries: Vec<((u128, u64), &[u8])> = [5, 10, 11, 12, 30, 31, 40]
                .into_iter()
                .map(|seq| ((1, seq), b"new".as_slice()))
                .chain([((0, 99), b"new".as_slice())])
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .collect();
            insert_sorted(&mut table, &entries).unwrap();
            let all: Vec<(u64, Vec<u8>)> = table
                .iter()
                .unwrap()
                .map(|e| {
                    let (k, v) = e.unwrap();
                    (k.value().1, v.value().to_vec())
                })
                .collect();
            let want: Vec<(u64, Vec<u8>)> = [
                (99, "new"),
                (5, "new"),
                (10, "new"),
                (11, "new"),
                (12, "new"),
                (20, "old"),
                (30, "new"),
                (31, "new"),
                (40, "new"),
            ]
            .into_iter()
            .map(|(s, v)| (s, v.as_bytes().to_vec()))
            .collect();
            assert_eq!(all, want);
        }
        txn.commit().unwrap();
    }
}
