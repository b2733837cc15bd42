//! The sync store on redb: devices, the event log, projections, the bucket index and digests.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

use redb::{
    AccessGuard, ReadableDatabase, ReadableTable, ReadableTableMetadata, Table, WriteTransaction,
};
use uuid::Uuid;

use anjian_sync::entity::{BucketDigest, Entity, EntityType};
use anjian_sync::event::SignedEvent;
use anjian_sync::protocol::{JudgedEvent, JudgedEventRef, Projection, Receipt};

use super::codec::{Dictionary, decode, decode_borrowed, encode, encode_json, encode_packed};
use super::facts::{self, Fact, FactView};
use super::model::{BlobMeta, Device, ForkRecord, UnixMillis, Upload};
use super::records;
use super::runs::insert_sorted;
use super::tables::{
    BLOB_CITATIONS, BLOB_CITERS, BLOBS, BUCKET_DIGESTS, BUCKET_INDEX, BUCKETS, COUNTERS, DEVICES,
    ENTITIES, ENTITY_EVENTS, ENTITY_NUMBERS, EVENTS, FORKS, OFFICE_COUNTS, OFFICE_FACTS,
    OLD_OFFICE_FACTS, OLD_OFFICE_TABLES, OLDER_OFFICE_FACTS, OLDEST_OFFICE_FACTS, RECEIPTS,
    TYPE_INDEX, UPLOADS,
};
use super::{
    BlobStore, Citation, Citer, PullPage, RedbStore, StoreError, StoredProjection, SyncStore,
    SyncWrite,
};

const LAST_REV: &str = "last_rev";
const LAST_BUCKET: &str = "last_bucket";
const LAST_ENTITY: &str = "last_entity";

/// An entity's id as the store keys it: a UUID in its one canonical form. Other text names no
/// entity.
fn entity_key(id: &str) -> Option<u128> {
    records::id_key(id).ok()
}

/// An entity's number ([`ENTITY_NUMBERS`]), if the store has seen it. An index entry of an
/// earlier format that names an entity without a projection names nothing a read would find.
pub(super) fn number_of(
    numbers: &impl ReadableTable<u128, u64>,
    id: u128,
) -> Result<Option<u64>, StoreError> {
    Ok(numbers.get(id)?.map(|n| n.value()))
}

/// A projection's row by its entity's id: the entity's number, then the row under it.
fn projection_row<'e, N, E>(
    numbers: &N,
    entities: &'e E,
    id: u128,
) -> Result<Option<AccessGuard<'e, &'static [u8]>>, StoreError>
where
    N: ReadableTable<u128, u64>,
    E: ReadableTable<u64, &'static [u8]>,
{
    let Some(number) = number_of(numbers, id)? else {
        return Ok(None);
    };
    Ok(entities.get(number)?)
}

/// An event to write: its key, its record and its receipt's.
type PendingEvent = ((u128, u64), Vec<u8>, Vec<u8>);

/// What the record dictionaries are trained on: events' signed bytes, projections' JSON.
#[derive(Debug)]
pub struct DictionarySamples {
    /// Every event's canonical encoding.
    pub events: Vec<Vec<u8>>,
    /// Every projection's JSON.
    pub projections: Vec<Vec<u8>>,
}

/// The tables of one write transaction, opened once.
struct Write<'txn> {
    devices: Table<'txn, u128, &'static [u8]>,
    events: Table<'txn, (u128, u64), &'static [u8]>,
    receipts: Table<'txn, (u128, u64), &'static [u8]>,
    forks: Table<'txn, (u128, u64, &'static str), &'static [u8]>,
    numbers: Table<'txn, u128, u64>,
    entities: Table<'txn, u64, &'static [u8]>,
    index: Table<'txn, (u32, u64), u64>,
    buckets: Table<'txn, &'static str, u32>,
    digests: Table<'txn, &'static str, &'static [u8]>,
    counters: Table<'txn, &'static str, u64>,
    types: Table<'txn, (&'static str, u128), u64>,
    blobs: Table<'txn, &'static str, &'static [u8]>,
    citations: Table<'txn, (&'static str, &'static str), ()>,
    citers: Table<'txn, (&'static str, &'static str), (u128, bool)>,
    entity_events: Table<'txn, (u64, u64), (u128, u64)>,
    facts: Table<'txn, (&'static str, &'static str), &'static [u8]>,
    counts: Table<'txn, &'static str, u64>,
    /// Bucket digests as this transaction changes them, written once by [`Write::finish`]: a
    /// batch of events into the same buckets reads and writes each digest once, not per event.
    pending_digests: HashMap<String, BucketDigest>,
    /// The last revision given out, likewise.
    last_rev: Option<u64>,
    /// Keys that arrive in ascending runs, written sorted by [`Write::finish`] so that their
    /// pages are full ([`super::runs`]): events and receipts by (device, seq)…
    pending_events: Vec<PendingEvent>,
    /// … the bucket index's new entries ((bucket number, revision) → entity number)…
    pending_index: BTreeMap<(u32, u64), u64>,
    /// … each entity's new revisions ((entity number, revision) → (device, seq))…
    pending_entity_events: BTreeMap<(u64, u64), (u128, u64)>,
    /// … and the projections written, by entity number: new entities' numbers follow the
    /// table's last, so they go in as one run at its end.
    pending_entities: BTreeMap<u64, Vec<u8>>,
    /// The last entity number given out, once one is.
    last_entity: Option<u64>,
    /// Bucket numbers read or given out in this transaction.
    bucket_numbers: HashMap<String, u32>,
    /// The last bucket number given out, once one is.
    last_bucket: Option<u32>,
    /// Projections read in this transaction and not written since, so that an event's judgement
    /// and the write that follows it decode its entity once: `entity` keeps a copy,
    /// `put_entity` takes it back. Bounded by what one transaction reads.
    read: HashMap<String, Projection>,
}

impl<'txn> Write<'txn> {
    fn open(txn: &'txn WriteTransaction) -> Result<Write<'txn>, StoreError> {
        Ok(Write {
            devices: txn.open_table(DEVICES)?,
            events: txn.open_table(EVENTS)?,
            receipts: txn.open_table(RECEIPTS)?,
            forks: txn.open_table(FORKS)?,
            numbers: txn.open_table(ENTITY_NUMBERS)?,
            entities: txn.open_table(ENTITIES)?,
            index: txn.open_table(BUCKET_INDEX)?,
            buckets: txn.open_table(BUCKETS)?,
            digests: txn.open_table(BUCKET_DIGESTS)?,
            counters: txn.open_table(COUNTERS)?,
            types: txn.open_table(TYPE_INDEX)?,
            blobs: txn.open_table(BLOBS)?,
            citations: txn.open_table(BLOB_CITATIONS)?,
            citers: txn.open_table(BLOB_CITERS)?,
            entity_events: txn.open_table(ENTITY_EVENTS)?,
            facts: txn.open_table(OFFICE_FACTS)?,
            counts: txn.open_table(OFFICE_COUNTS)?,
            pending_digests: HashMap::new(),
            last_rev: None,
            pending_events: Vec::new(),
            pending_index: BTreeMap::new(),
            pending_entity_events: BTreeMap::new(),
            pending_entities: BTreeMap::new(),
            last_entity: None,
            bucket_numbers: HashMap::new(),
            last_bucket: None,
            read: HashMap::new(),
        })
    }

    /// Writes what the transaction kept aside; called once, before the commit.
    fn finish(mut self) -> Result<(), StoreError> {
        for (bucket, digest) in std::mem::take(&mut self.pending_digests) {
            self.digests
                .insert(bucket.as_str(), encode(&digest)?.as_slice())?;
        }
        if let Some(rev) = self.last_rev {
            self.counters.insert(LAST_REV, rev)?;
        }
        if let Some(number) = self.last_bucket {
            self.counters.insert(LAST_BUCKET, u64::from(number))?;
        }
        if let Some(number) = self.last_entity {
            self.counters.insert(LAST_ENTITY, number)?;
        }
        let entities = std::mem::take(&mut self.pending_entities);
        let rows: Vec<_> = entities.iter().map(|(n, p)| (*n, p.as_slice())).collect();
        insert_sorted(&mut self.entities, &rows)?;
        let mut events = std::mem::take(&mut self.pending_events);
        events.sort_unstable_by_key(|(key, _, _)| *key);
        events.dedup_by_key(|(key, _, _)| *key);
        let rows: Vec<_> = events.iter().map(|(k, e, _)| (*k, e.as_slice())).collect();
        insert_sorted(&mut self.events, &rows)?;
        let rows: Vec<_> = events.iter().map(|(k, _, r)| (*k, r.as_slice())).collect();
        insert_sorted(&mut self.receipts, &rows)?;
        let index = std::mem::take(&mut self.pending_index);
        let rows: Vec<_> = index.into_iter().collect();
        insert_sorted(&mut self.index, &rows)?;
        let entity_events = std::mem::take(&mut self.pending_entity_events);
        let rows: Vec<_> = entity_events.into_iter().collect();
        insert_sorted(&mut self.entity_events, &rows)?;
        Ok(())
    }

    /// A bucket's number in the bucket index, given out if it has none yet.
    fn bucket_number(&mut self, bucket: &str) -> Result<u32, StoreError> {
        if let Some(number) = self.bucket_numbers.get(bucket) {
            return Ok(*number);
        }
        let held = self.buckets.get(bucket)?.map(|n| n.value());
        let number = match held {
            Some(number) => number,
            None => {
                let last = match self.last_bucket {
                    Some(last) => last,
                    None => match self.counters.get(LAST_BUCKET)? {
                        Some(last) => u32::try_from(last.value())
                            .map_err(|_| StoreError::other("the bucket numbers ran out"))?,
                        None => 0,
                    },
                };
                let number = last
                    .checked_add(1)
                    .ok_or_else(|| StoreError::other("the bucket numbers ran out"))?;
                self.buckets.insert(bucket, number)?;
                self.last_bucket = Some(number);
                number
            }
        };
        self.bucket_numbers.insert(bucket.to_string(), number);
        Ok(number)
    }

    /// An entity's number, given out if it has none yet.
    fn entity_number(&mut self, id: u128) -> Result<u64, StoreError> {
        if let Some(number) = number_of(&self.numbers, id)? {
            return Ok(number);
        }
        let last = match self.last_entity {
            Some(last) => last,
            None => self
                .counters
                .get(LAST_ENTITY)?
                .map_or(0, |last| last.value()),
        };
        let number = last
            .checked_add(1)
            .ok_or_else(|| StoreError::other("the entity numbers ran out"))?;
        self.numbers.insert(id, number)?;
        self.last_entity = Some(number);
        Ok(number)
    }

    /// Stores a projection at the next revision, moving it in the bucket index and digests from
    /// where `old` left it; returns it as stored, and its entity's number.
    fn store_projection(
        &mut self,
        mut projection: Projection,
        old: Option<&Projection>,
    ) -> Result<(Projection, u64), StoreError> {
        let rev = match self.last_rev {
            Some(rev) => rev,
            None => self.counters.get(LAST_REV)?.map(|v| v.value()).unwrap_or(0),
        } + 1;
        self.last_rev = Some(rev);
        if let Some(old) = old {
            for bucket in &old.buckets {
                // Written earlier in this transaction, or before it.
                let key = (self.bucket_number(bucket)?, old.rev);
                if self.pending_index.remove(&key).is_none() {
                    self.index.remove(key)?;
                }
                self.digest(bucket)?.remove(&old.entity.id, old.rev);
            }
        }
        let id = records::id_key(&projection.entity.id)?;
        let entity = self.entity_number(id)?;
        self.types
            .insert((projection.entity.entity_type.name(), id), rev)?;
        let buckets = projection.entity.scope.buckets();
        for bucket in &buckets {
            let number = self.bucket_number(bucket)?;
            self.pending_index.insert((number, rev), entity);
            self.digest(bucket)?.add(&projection.entity.id, rev);
        }
        projection.rev = rev;
        projection.buckets = buckets;
        // What this transaction read of the entity is no longer what is stored.
        self.read.remove(&projection.entity.id);
        self.pending_entities
            .insert(entity, encode_packed(Dictionary::Projections, &projection)?);
        self.keep_facts(&projection)?;
        Ok((projection, entity))
    }

    /// Keeps the office's fact of a record and the counters that follow it
    /// ([`super::facts`]): the old fact's counts go, the new one's come.
    fn keep_facts(&mut self, projection: &Projection) -> Result<(), StoreError> {
        self.keep_facts_remembering(projection, None)
    }

    /// [`Write::keep_facts`], with what an earlier version's facts remember of the record
    /// (`prior`: when it was first seen, reported, closed) for a record that has no fact yet.
    fn keep_facts_remembering(
        &mut self,
        projection: &Projection,
        prior: Option<Fact>,
    ) -> Result<(), StoreError> {
        let entity_type = projection.entity.entity_type;
        let key = (entity_type.name(), projection.entity.id.as_str());
        let old: Option<Fact<u32>> = match self.facts.get(key)? {
            Some(bytes) => Some(decode("fact", bytes.value())?),
            None => None,
        };
        // What is remembered of the record: its stored fact, else an earlier version's.
        let remembered = match (&old, prior) {
            (Some(old), _) => Some(old.clone().map_buckets(|_| Ok::<_, StoreError>(()))?),
            (None, prior) => prior
                .map(|p| p.map_buckets(|_| Ok::<_, StoreError>(())))
                .transpose()?,
        };
        let enterprise_grid = |enterprise: &str| -> Option<String> {
            let bytes = self
                .facts
                .get((EntityType::Enterprise.name(), enterprise))
                .ok()??;
            decode_borrowed::<FactView<'_>>("fact", bytes.value())
                .ok()
                .map(|f| f.grid.to_string())
        };
        let counts = &self.counts;
        let highest_risk = |enterprise: &str| -> Option<&'static str> {
            facts::COLOURS.into_iter().find(|colour| {
                counts
                    .get(facts::enterprise_risk_key(colour, enterprise).as_str())
                    .ok()
                    .flatten()
                    .is_some_and(|n| n.value() > 0)
            })
        };
        let Some(new) = facts::derive(
            projection,
            remembered.as_ref(),
            enterprise_grid,
            highest_risk,
        ) else {
            return Ok(());
        };
        let new = new.map_buckets(|bucket| self.bucket_number(&bucket))?;
        if old.as_ref() == Some(&new) {
            return Ok(());
        }
        let gone = old
            .as_ref()
            .map(|old| facts::counts(entity_type, old))
            .unwrap_or_default();
        let come = facts::counts(entity_type, &new);
        for counter in &gone {
            let count = self.counts.get(counter.as_str())?.map_or(0, |v| v.value());
            match count.saturating_sub(1) {
                0 => {
                    self.counts.remove(counter.as_str())?;
                }
                left => {
                    self.counts.insert(counter.as_str(), left)?;
                }
            }
        }
        for counter in &come {
            let count = self.counts.get(counter.as_str())?.map_or(0, |v| v.value());
            self.counts
                .insert(counter.as_str(), count.saturating_add(1))?;
        }
        self.facts.insert(key, encode(&new)?.as_slice())?;
        // A risk point's colour changed: its enterprise's colour may follow.
        if entity_type == EntityType::RiskPoint && gone != come && !new.enterprise.is_empty() {
            let enterprise = self.stored_entity(&new.enterprise)?;
            if let Some(enterprise) =
                enterprise.filter(|p| p.entity.entity_type == EntityType::Enterprise)
            {
                self.keep_facts(&enterprise)?;
            }
        }
        Ok(())
    }

    /// Whether the citation of `blob` by entity `id` is held: brought by a user who held the
    /// photo. Citations older than the citers table are held.
    fn citation_held(&self, blob: &str, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .citers
            .get((blob, id))?
            .is_none_or(|citer| citer.value().1))
    }

    /// Whether `citer` holds `blob`, which the store has: they uploaded it, or a held citation
    /// of it by an entity other than `except` is in one of their buckets.
    fn holds(
        &self,
        blob: &str,
        meta: &BlobMeta,
        citer: &Citer,
        except: &str,
    ) -> Result<bool, StoreError> {
        if meta.uploaded_by == citer.user {
            return Ok(true);
        }
        for entry in self.citations.range((blob, "")..)? {
            let (key, _) = entry?;
            let (cited, id) = key.value();
            if cited != blob {
                break;
            }
            if id == except || !self.citation_held(blob, id)? {
                continue;
            }
            let Some(projection) = self.stored_entity(id)? else {
                continue;
            };
            if super::reads_through(&projection, &citer.buckets) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A projection as stored (or as written earlier in this transaction), decoded.
    fn stored_entity(&self, id: &str) -> Result<Option<Projection>, StoreError> {
        let Some(id) = entity_key(id) else {
            return Ok(None);
        };
        let Some(number) = number_of(&self.numbers, id)? else {
            return Ok(None);
        };
        if let Some(bytes) = self.pending_entities.get(&number) {
            return Ok(Some(decode("entity", bytes)?));
        }
        match self.entities.get(number)? {
            Some(bytes) => Ok(Some(decode("entity", bytes.value())?)),
            None => Ok(None),
        }
    }

    /// A bucket's digest as this transaction has it so far.
    fn digest(&mut self, bucket: &str) -> Result<&mut BucketDigest, StoreError> {
        Ok(match self.pending_digests.entry(bucket.to_string()) {
            Entry::Occupied(held) => held.into_mut(),
            Entry::Vacant(slot) => slot.insert(match self.digests.get(bucket)? {
                Some(bytes) => decode("bucket digest", bytes.value())?,
                None => BucketDigest::default(),
            }),
        })
    }
}

impl SyncWrite for Write<'_> {
    fn device(&mut self, id: Uuid) -> Result<Option<Device>, StoreError> {
        match self.devices.get(id.as_u128())? {
            Some(bytes) => Ok(Some(decode("device", bytes.value())?)),
            None => Ok(None),
        }
    }

    fn put_device(&mut self, device: &Device) -> Result<(), StoreError> {
        self.devices
            .insert(device.id.as_u128(), encode(device)?.as_slice())?;
        Ok(())
    }

    fn receipt(&mut self, device: Uuid, seq: u64) -> Result<Option<Receipt>, StoreError> {
        let key = (device.as_u128(), seq);
        if let Some((_, _, receipt)) = self.pending_events.iter().rev().find(|e| e.0 == key) {
            return Ok(Some(records::decode_receipt(seq, receipt)?));
        }
        match self.receipts.get(key)? {
            Some(bytes) => Ok(Some(records::decode_receipt(seq, bytes.value())?)),
            None => Ok(None),
        }
    }

    fn put_event(
        &mut self,
        device: Uuid,
        event: &JudgedEventRef<'_>,
        canonical: &[u8],
    ) -> Result<(), StoreError> {
        let key = (device.as_u128(), event.receipt.seq);
        self.pending_events.push((
            key,
            records::encode_event(event, Some(canonical))?,
            records::encode_receipt(event.receipt)?,
        ));
        Ok(())
    }

    fn record_fork(
        &mut self,
        device: Uuid,
        event: &SignedEvent,
        at: UnixMillis,
        cap: usize,
    ) -> Result<(), StoreError> {
        let key = (device.as_u128(), event.body.seq, event.hash.as_str());
        if self.forks.get(key)?.is_some() {
            return Ok(());
        }
        let held = self.forks.range(fork_range(device))?.take(cap).count();
        if held >= cap {
            return Ok(());
        }
        let record = ForkRecord {
            event: event.clone(),
            refused_at: at,
        };
        self.forks.insert(key, encode_json(&record)?.as_slice())?;
        Ok(())
    }

    fn entity(&mut self, id: &str) -> Result<Option<Projection>, StoreError> {
        if let Some(read) = self.read.get(id) {
            return Ok(Some(read.clone()));
        }
        let Some(projection) = self.stored_entity(id)? else {
            return Ok(None);
        };
        self.read.insert(id.to_string(), projection.clone());
        Ok(Some(projection))
    }

    fn put_entity(
        &mut self,
        entity: Entity,
        meta: super::ProjectionMeta,
    ) -> Result<Projection, StoreError> {
        let old = match self.read.remove(&entity.id) {
            Some(read) => Some(read),
            None => self.stored_entity(&entity.id)?,
        };
        let before = old
            .as_ref()
            .map(|o| o.entity.blobs.as_slice())
            .unwrap_or(&[]);
        for blob in before.iter().filter(|b| !entity.blobs.contains(b)) {
            self.citations.remove((blob.as_str(), entity.id.as_str()))?;
            self.citers.remove((blob.as_str(), entity.id.as_str()))?;
        }
        // A photo this event newly cites is held only if its sender held it; one the store
        // lacks is held once its sender uploads it (`add_blob`). Until then it counts as
        // missing: the entity's evidence is complete only with photos its authors held.
        let mut missing_blobs = Vec::new();
        for blob in &entity.blobs {
            let stored = self.blobs.get(blob.as_str())?;
            let held = if before.contains(blob) {
                self.citation_held(blob, &entity.id)?
            } else {
                let held = match &stored {
                    Some(bytes) => {
                        let stored: BlobMeta = decode("blob", bytes.value())?;
                        self.holds(blob, &stored, &meta.citer, &entity.id)?
                    }
                    None => false,
                };
                self.citations
                    .insert((blob.as_str(), entity.id.as_str()), ())?;
                self.citers.insert(
                    (blob.as_str(), entity.id.as_str()),
                    (meta.citer.user.as_u128(), held),
                )?;
                held
            };
            if stored.is_none() || !held {
                missing_blobs.push(blob.clone());
            }
        }
        let projection = Projection {
            entity,
            rev: 0,
            buckets: Vec::new(),
            last_event_id: meta.event_id,
            captured_at_ms: meta.time.captured_at_ms,
            received_at_ms: meta.time.received_at_ms,
            clock: meta.time.clock,
            missing_blobs,
        };
        let (device, seq) = meta.event_key;
        let (stored, number) = self.store_projection(projection, old.as_ref())?;
        self.pending_entity_events
            .insert((number, stored.rev), (device.as_u128(), seq));
        Ok(stored)
    }
}

/// Every fork key of one device.
fn fork_range(device: Uuid) -> std::ops::RangeInclusive<(u128, u64, &'static str)> {
    // Hashes are 64 lower-case hex characters, all below `g`.
    (device.as_u128(), 0, "")..=(device.as_u128(), u64::MAX, "g")
}

impl RedbStore {
    /// Drops the office's facts and counters, as in a store written before they were kept, or
    /// by a version that kept them in an older form: those tables are left behind, with a row.
    #[cfg(test)]
    pub(crate) fn forget_facts(&self) -> Result<(), StoreError> {
        let txn = self.db().begin_write()?;
        txn.delete_table(OFFICE_FACTS)?;
        txn.delete_table(OFFICE_COUNTS)?;
        {
            let mut counts = txn.open_table(redb::TableDefinition::<&str, &[u8]>::new(
                OLD_OFFICE_TABLES[1],
            ))?;
            counts.insert("stale", b"row".as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Moves the office's facts into an earlier version's table, each changed by `edit`, and
    /// drops the current facts and counters: a store as that version left it.
    #[cfg(test)]
    pub(crate) fn age_facts(
        &self,
        version: u8,
        edit: impl Fn(&mut Fact),
    ) -> Result<(), StoreError> {
        let txn = self.db().begin_write()?;
        let current: Vec<((String, String), Fact)> = {
            let table = txn.open_table(OFFICE_FACTS)?;
            let mut names = HashMap::new();
            for entry in txn.open_table(BUCKETS)?.iter()? {
                let (name, number) = entry?;
                names.insert(number.value(), name.value().to_string());
            }
            let mut all = Vec::new();
            for entry in table.iter()? {
                let (key, value) = entry?;
                let (kind, id) = key.value();
                let fact: Fact<u32> = decode("fact", value.value())?;
                let fact =
                    fact.map_buckets(|n| names.get(&n).cloned().ok_or(StoreError::NotFound))?;
                all.push(((kind.to_string(), id.to_string()), fact));
            }
            all
        };
        {
            let table = match version {
                0 => OLDEST_OFFICE_FACTS,
                1 => OLDER_OFFICE_FACTS,
                _ => OLD_OFFICE_FACTS,
            };
            let mut earlier = txn.open_table(table)?;
            for ((kind, id), mut fact) in current {
                edit(&mut fact);
                earlier.insert((kind.as_str(), id.as_str()), encode(&fact)?.as_slice())?;
            }
        }
        txn.delete_table(OFFICE_FACTS)?;
        txn.delete_table(OFFICE_COUNTS)?;
        txn.commit()?;
        Ok(())
    }

    /// The names of the store's tables.
    #[cfg(test)]
    pub(crate) fn table_names(&self) -> Result<Vec<String>, StoreError> {
        use redb::TableHandle as _;
        let txn = self.db().begin_read()?;
        Ok(txn.list_tables()?.map(|t| t.name().to_string()).collect())
    }

    /// Makes the office's facts and counters of a store written before they were kept: once,
    /// when the facts table is empty but the store has counted records (enterprises first, so
    /// that the records of an enterprise find its grid). Returns how many facts it made.
    pub(super) fn backfill_facts(&self) -> Result<usize, StoreError> {
        // The usual start: the facts are there, and a read says so without a write.
        if !self
            .db()
            .begin_read()?
            .open_table(OFFICE_FACTS)?
            .is_empty()?
        {
            return Ok(0);
        }
        let txn = self.db().begin_write()?;
        let mut made = 0;
        {
            // An earlier version's facts remember what a projection no longer says: the day a
            // hazard was reported (its projection has only its last change's time), when a team
            // was registered.
            // The newest earlier version there is: a store that skipped a version has only the
            // one before it.
            use redb::TableHandle as _;
            let names: Vec<String> = txn.list_tables()?.map(|t| t.name().to_string()).collect();
            let earlier = [OLD_OFFICE_FACTS, OLDER_OFFICE_FACTS, OLDEST_OFFICE_FACTS]
                .into_iter()
                .find(|table| names.iter().any(|n| n == table.name()));
            let earlier = match earlier {
                Some(table) => Some(txn.open_table(table)?),
                None => None,
            };
            let mut tables = Write::open(&txn)?;
            if !tables.facts.is_empty()? {
                return Ok(0);
            }
            // Enterprises first (the others take their grid), then risk points (each sets its
            // enterprise's colour again); the rest in any order.
            let mut types = facts::TYPES.to_vec();
            types.sort_by_key(|t| match t {
                EntityType::Enterprise => 0,
                EntityType::RiskPoint => 1,
                _ => 2,
            });
            for entity_type in types {
                let name = entity_type.name();
                let ids: Vec<String> = tables
                    .types
                    .range((name, 0)..)?
                    .map_while(|entry| {
                        let (key, _) = entry.ok()?;
                        let (kind, id) = key.value();
                        (kind == name).then(|| Uuid::from_u128(id).to_string())
                    })
                    .collect();
                for id in ids {
                    let Some(projection) = tables.stored_entity(&id)? else {
                        continue;
                    };
                    let prior = match &earlier {
                        Some(table) => match table.get((name, id.as_str()))? {
                            Some(bytes) => decode::<Fact>("fact", bytes.value()).ok(),
                            None => None,
                        },
                        None => None,
                    };
                    tables.keep_facts_remembering(&projection, prior)?;
                    made += 1;
                }
            }
            tables.finish()?;
            drop(earlier);
        }
        for old in OLD_OFFICE_TABLES {
            txn.delete_table(redb::TableDefinition::<&str, &[u8]>::new(old))?;
        }
        txn.commit()?;
        Ok(made)
    }
}

impl SyncStore for RedbStore {
    fn forks(&self, device: Uuid) -> Result<Vec<ForkRecord>, StoreError> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(FORKS)?;
        let mut forks = Vec::new();
        for entry in table.range(fork_range(device))? {
            forks.push(decode("fork", entry?.1.value())?);
        }
        Ok(forks)
    }

    fn facts(&self, entity_type: EntityType) -> Result<Vec<(String, Fact)>, StoreError> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(OFFICE_FACTS)?;
        // The bucket names by number: a town has a few thousand buckets at most.
        let mut names = HashMap::new();
        for entry in txn.open_table(BUCKETS)?.iter()? {
            let (name, number) = entry?;
            names.insert(number.value(), name.value().to_string());
        }
        let name = entity_type.name();
        let mut found = Vec::new();
        for entry in table.range((name, "")..)? {
            let (key, value) = entry?;
            let (kind, id) = key.value();
            if kind != name {
                break;
            }
            let fact: Fact<u32> = decode("fact", value.value())?;
            let fact = fact.map_buckets(|number| {
                names
                    .get(&number)
                    .cloned()
                    .ok_or_else(|| StoreError::other(format!("fact of {id}: no bucket {number}")))
            })?;
            found.push((id.to_string(), fact));
        }
        Ok(found)
    }

    fn scan_facts(
        &self,
        entity_type: EntityType,
        after: Option<&str>,
        readers: Option<&[String]>,
        visit: &mut dyn FnMut(&str, &FactView<'_>) -> bool,
    ) -> Result<(), StoreError> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(OFFICE_FACTS)?;
        // The readers' buckets by number; one without a number has never held a record.
        let readers: Option<HashSet<u32>> = match readers {
            Some(buckets) => {
                let numbers = txn.open_table(BUCKETS)?;
                let mut found = HashSet::new();
                for bucket in buckets {
                    if let Some(number) = numbers.get(bucket.as_str())? {
                        found.insert(number.value());
                    }
                }
                Some(found)
            }
            None => None,
        };
        let name = entity_type.name();
        let start = (name, after.unwrap_or(""));
        for entry in table.range(start..)? {
            let (key, value) = entry?;
            let (kind, id) = key.value();
            if kind != name {
                break;
            }
            if after == Some(id) {
                continue;
            }
            let fact: FactView<'_> = decode_borrowed("fact", value.value())?;
            let read = readers
                .as_ref()
                .is_none_or(|readers| fact.buckets.iter().any(|b| readers.contains(b)));
            if read && !visit(id, &fact) {
                break;
            }
        }
        Ok(())
    }

    fn counts(&self, prefix: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(OFFICE_COUNTS)?;
        let mut found = Vec::new();
        for entry in table.range(prefix..)? {
            let (key, value) = entry?;
            if !key.value().starts_with(prefix) {
                break;
            }
            found.push((key.value().to_string(), value.value()));
        }
        Ok(found)
    }

    fn entity_events(&self, id: &str) -> Result<Vec<JudgedEvent>, StoreError> {
        let txn = self.db().begin_read()?;
        let index = txn.open_table(ENTITY_EVENTS)?;
        let events = txn.open_table(EVENTS)?;
        let receipts = txn.open_table(RECEIPTS)?;
        let mut found = Vec::new();
        // Every entity's id is a UUID; any other text names none.
        let Some(id) = entity_key(id) else {
            return Ok(found);
        };
        let Some(number) = number_of(&txn.open_table(ENTITY_NUMBERS)?, id)? else {
            return Ok(found);
        };
        for entry in index.range((number, 0)..=(number, u64::MAX))? {
            let (device, seq) = entry?.1.value();
            if let (Some(event), Some(receipt)) =
                (events.get((device, seq))?, receipts.get((device, seq))?)
            {
                let receipt = records::decode_receipt(seq, receipt.value())?;
                found.push(records::decode_event(event.value(), receipt)?);
            }
        }
        Ok(found)
    }

    fn insert_device(&self, device: &Device) -> Result<Device, StoreError> {
        let txn = self.db().begin_write()?;
        {
            let mut table = txn.open_table(DEVICES)?;
            // Devices are few (one or two per person), so a scan keeps no second index.
            for entry in table.iter()? {
                let known: Device = decode("device", entry?.1.value())?;
                // Keys are hex: equal bytes are equal hex but for case, and keys enrolled before
                // only lower case was accepted may be upper case.
                if known.public_key.eq_ignore_ascii_case(&device.public_key) {
                    if known.user_id == device.user_id && known.revoked_at.is_none() {
                        return Ok(known);
                    }
                    return Err(StoreError::Conflict(super::Conflict::KeyEnrolled));
                }
            }
            table.insert(device.id.as_u128(), encode(device)?.as_slice())?;
        }
        txn.commit()?;
        Ok(device.clone())
    }

    fn device(&self, id: Uuid) -> Result<Option<Device>, StoreError> {
        let txn = self.db().begin_read()?;
        match txn.open_table(DEVICES)?.get(id.as_u128())? {
            Some(bytes) => Ok(Some(decode("device", bytes.value())?)),
            None => Ok(None),
        }
    }

    fn devices(&self, user: Option<Uuid>) -> Result<Vec<Device>, StoreError> {
        let txn = self.db().begin_read()?;
        let mut devices = Vec::new();
        for entry in txn.open_table(DEVICES)?.iter()? {
            let device: Device = decode("device", entry?.1.value())?;
            if user.is_none_or(|u| u == device.user_id) {
                devices.push(device);
            }
        }
        Ok(devices)
    }

    fn revoke_device(&self, id: Uuid, now: UnixMillis) -> Result<Device, StoreError> {
        let txn = self.db().begin_write()?;
        let device = {
            let mut table = txn.open_table(DEVICES)?;
            let mut device: Device = match table.get(id.as_u128())? {
                Some(bytes) => decode("device", bytes.value())?,
                None => return Err(StoreError::NotFound),
            };
            device.revoked_at.get_or_insert(now);
            table.insert(id.as_u128(), encode(&device)?.as_slice())?;
            device
        };
        txn.commit()?;
        Ok(device)
    }

    fn write(
        &self,
        work: &mut dyn FnMut(&mut dyn SyncWrite) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let txn = self.db().begin_write()?;
        {
            let mut tables = Write::open(&txn)?;
            work(&mut tables)?;
            tables.finish()?;
        }
        txn.commit()?;
        Ok(())
    }

    fn pull(
        &self,
        buckets: &[String],
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<PullPage, StoreError> {
        let txn = self.db().begin_read()?;
        let last_rev = txn
            .open_table(COUNTERS)?
            .get(LAST_REV)?
            .map(|v| v.value())
            .unwrap_or(0);
        let index = txn.open_table(BUCKET_INDEX)?;
        let numbers = txn.open_table(BUCKETS)?;
        // Each bucket's changes after the cursor, merged by revision. An entity in several of
        // the caller's buckets has the same revision in each, so equal pairs are one change.
        let mut changes: Vec<(u64, u64)> = Vec::new();
        for bucket in buckets {
            // A bucket without a number has never held anything.
            let Some(number) = numbers.get(bucket.as_str())?.map(|n| n.value()) else {
                continue;
            };
            let range = index.range((number, after.saturating_add(1))..=(number, u64::MAX))?;
            for entry in range.take(limit.saturating_add(1)) {
                let (key, id) = entry?;
                changes.push((key.value().1, id.value()));
            }
        }
        changes.sort();
        changes.dedup();
        let mut complete = changes.len() <= limit;
        changes.truncate(limit);
        let entities = txn.open_table(ENTITIES)?;
        let mut projections = Vec::with_capacity(changes.len());
        let mut bytes_taken = 0usize;
        for (rev, number) in &changes {
            if bytes_taken > 0 && bytes_taken >= max_bytes {
                // The page is full: the rest come on the next, after the last one taken.
                complete = false;
                break;
            }
            if let Some(bytes) = entities.get(*number)? {
                // Decoded as raw JSON: checked and passed on, never parsed into a tree.
                let json: Box<serde_json::value::RawValue> = decode("entity", bytes.value())?;
                bytes_taken = bytes_taken.saturating_add(json.get().len());
                projections.push(StoredProjection { rev: *rev, json });
            }
        }
        let mut digests = Vec::new();
        if complete {
            let table = txn.open_table(BUCKET_DIGESTS)?;
            for bucket in buckets {
                let digest = match table.get(bucket.as_str())? {
                    Some(bytes) => decode("bucket digest", bytes.value())?,
                    None => BucketDigest::default(),
                };
                digests.push((bucket.clone(), digest));
            }
        }
        Ok(PullPage {
            projections,
            complete,
            last_rev,
            digests,
        })
    }

    fn entity(&self, id: &str) -> Result<Option<Projection>, StoreError> {
        let Some(id) = entity_key(id) else {
            return Ok(None);
        };
        let txn = self.db().begin_read()?;
        let entities = txn.open_table(ENTITIES)?;
        match projection_row(&txn.open_table(ENTITY_NUMBERS)?, &entities, id)? {
            Some(bytes) => Ok(Some(decode("entity", bytes.value())?)),
            None => Ok(None),
        }
    }

    fn entities_of_type(
        &self,
        entity_type: anjian_sync::entity::EntityType,
    ) -> Result<Vec<Projection>, StoreError> {
        let txn = self.db().begin_read()?;
        let types = txn.open_table(TYPE_INDEX)?;
        let numbers = txn.open_table(ENTITY_NUMBERS)?;
        let entities = txn.open_table(ENTITIES)?;
        let name = entity_type.name();
        let mut projections = Vec::new();
        for entry in types.range((name, 0)..)? {
            let (key, _) = entry?;
            let (kind, id) = key.value();
            if kind != name {
                break;
            }
            if let Some(bytes) = projection_row(&numbers, &entities, id)? {
                projections.push(decode("entity", bytes.value())?);
            }
        }
        Ok(projections)
    }

    fn receipts(
        &self,
        device: Uuid,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Receipt>, StoreError> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(RECEIPTS)?;
        let id = device.as_u128();
        let mut receipts = Vec::new();
        for entry in table
            .range((id, after_seq.saturating_add(1))..=(id, u64::MAX))?
            .take(limit)
        {
            let (key, bytes) = entry?;
            receipts.push(records::decode_receipt(key.value().1, bytes.value())?);
        }
        Ok(receipts)
    }
}

impl RedbStore {
    /// What the record dictionaries are trained on ([`super::codec::Dictionary`]): every
    /// event's signed bytes, and every projection's JSON.
    pub fn dictionary_samples(&self) -> Result<DictionarySamples, StoreError> {
        let txn = self.db().begin_read()?;
        let mut events = Vec::new();
        for entry in txn.open_table(EVENTS)?.iter()? {
            events.push(records::signed_bytes(entry?.1.value())?);
        }
        let mut projections = Vec::new();
        for entry in txn.open_table(ENTITIES)?.iter()? {
            projections.push(super::codec::unpack("entity", entry?.1.value())?);
        }
        Ok(DictionarySamples {
            events,
            projections,
        })
    }
}

impl BlobStore for RedbStore {
    fn blob(&self, sha256: &str) -> Result<Option<BlobMeta>, StoreError> {
        let txn = self.db().begin_read()?;
        match txn.open_table(BLOBS)?.get(sha256)? {
            Some(bytes) => Ok(Some(decode("blob", bytes.value())?)),
            None => Ok(None),
        }
    }

    fn add_blob(&self, meta: &BlobMeta) -> Result<Vec<Projection>, StoreError> {
        let txn = self.db().begin_write()?;
        let mut completed = Vec::new();
        {
            let mut tables = Write::open(&txn)?;
            if tables.blobs.get(meta.sha256.as_str())?.is_some() {
                return Ok(completed);
            }
            tables
                .blobs
                .insert(meta.sha256.as_str(), encode(meta)?.as_slice())?;
            let sha = meta.sha256.as_str();
            let mut citing = Vec::new();
            for entry in tables.citations.range((sha, "")..)? {
                let (key, _) = entry?;
                let (blob, id) = key.value();
                if blob != meta.sha256 {
                    break;
                }
                citing.push(id.to_string());
            }
            for id in citing {
                // The uploader's own citations become held; others stay as they are.
                let citer = tables.citers.get((sha, id.as_str()))?.map(|c| c.value());
                if let Some((user, false)) = citer {
                    if user != meta.uploaded_by.as_u128() {
                        continue;
                    }
                    tables.citers.insert((sha, id.as_str()), (user, true))?;
                }
                let Some(old) = tables.stored_entity(&id)? else {
                    continue;
                };
                if !old.missing_blobs.contains(&meta.sha256) {
                    continue;
                }
                let mut projection = old.clone();
                projection.missing_blobs.retain(|b| *b != meta.sha256);
                completed.push(tables.store_projection(projection, Some(&old))?.0);
            }
            tables.finish()?;
        }
        txn.commit()?;
        Ok(completed)
    }

    fn citing(&self, sha256: &str) -> Result<Vec<Citation>, StoreError> {
        let txn = self.db().begin_read()?;
        let citations = txn.open_table(BLOB_CITATIONS)?;
        let citers = txn.open_table(BLOB_CITERS)?;
        let numbers = txn.open_table(ENTITY_NUMBERS)?;
        let entities = txn.open_table(ENTITIES)?;
        let mut projections = Vec::new();
        for entry in citations.range((sha256, "")..)? {
            let (key, _) = entry?;
            let (blob, id) = key.value();
            if blob != sha256 {
                break;
            }
            let Some(key) = entity_key(id) else {
                continue;
            };
            if let Some(bytes) = projection_row(&numbers, &entities, key)? {
                let held = citers
                    .get((sha256, id))?
                    .is_none_or(|citer| citer.value().1);
                projections.push(Citation {
                    projection: decode("entity", bytes.value())?,
                    held,
                });
            }
        }
        Ok(projections)
    }

    fn put_upload(&self, upload: &Upload) -> Result<(), StoreError> {
        let txn = self.db().begin_write()?;
        txn.open_table(UPLOADS)?
            .insert(upload.id.as_u128(), encode(upload)?.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    fn upload(&self, id: Uuid) -> Result<Option<Upload>, StoreError> {
        let txn = self.db().begin_read()?;
        match txn.open_table(UPLOADS)?.get(id.as_u128())? {
            Some(bytes) => Ok(Some(decode("upload", bytes.value())?)),
            None => Ok(None),
        }
    }

    fn remove_upload(&self, id: Uuid) -> Result<bool, StoreError> {
        let txn = self.db().begin_write()?;
        let existed = txn.open_table(UPLOADS)?.remove(id.as_u128())?.is_some();
        txn.commit()?;
        Ok(existed)
    }

    fn uploads(&self) -> Result<Vec<Upload>, StoreError> {
        let txn = self.db().begin_read()?;
        let mut uploads = Vec::new();
        for entry in txn.open_table(UPLOADS)?.iter()? {
            let (_, bytes) = entry?;
            uploads.push(decode("upload", bytes.value())?);
        }
        Ok(uploads)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use anjian_sync::clock::{CaptureTime, ClockFlag};
    use anjian_sync::entity::{EntityScope, EntityType};

    use super::*;

    /// Entity ids, UUIDs as every entity's is.
    const H1: &str = "0192f3a0-0000-7000-8000-0000000000a1";
    const H2: &str = "0192f3a0-0000-7000-8000-0000000000a2";
    const H3: &str = "0192f3a0-0000-7000-8000-0000000000a3";
    const H4: &str = "0192f3a0-0000-7000-8000-0000000000a4";
    const H5: &str = "0192f3a0-0000-7000-8000-0000000000a5";
    use crate::store::ProjectionMeta;

    fn meta() -> ProjectionMeta {
        meta_by(Uuid::nil(), &[])
    }

    /// The meta of an event sent by `user`, who reads `buckets`.
    fn meta_by(user: Uuid, buckets: &[&str]) -> ProjectionMeta {
        ProjectionMeta {
            citer: std::sync::Arc::new(Citer {
                user,
                buckets: buckets.iter().map(|b| b.to_string()).collect(),
            }),
            event_id: "e".into(),
            event_key: (Uuid::nil(), 1),
            time: CaptureTime {
                claimed_ms: 0,
                device_clock_ms: 0,
                skew_ms: 0,
                captured_at_ms: 0,
                clock: ClockFlag::Ok,
                received_at_ms: 0,
            },
        }
    }

    pub(crate) fn citing(blobs: &[&str]) -> Entity {
        Entity {
            id: H1.into(),
            entity_type: EntityType::Hazard,
            scope: EntityScope {
                grid: Some("g1".into()),
                ..EntityScope::default()
            },
            deleted: false,
            body: serde_json::json!({}),
            blobs: blobs.iter().map(|b| b.to_string()).collect(),
        }
    }

    fn blob(sha256: &str) -> BlobMeta {
        BlobMeta {
            sha256: sha256.into(),
            size: 1,
            media_type: "image/jpeg".into(),
            width: 1,
            height: 1,
            orientation: 1,
            taken_at: None,
            gps: None,
            received_at: UnixMillis(0),
            uploaded_by: Uuid::nil(),
        }
    }

    pub(crate) fn put(store: &RedbStore, entity: Entity) -> Projection {
        put_by(store, entity, meta())
    }

    fn put_by(store: &RedbStore, entity: Entity, meta: ProjectionMeta) -> Projection {
        let mut stored = None;
        store
            .write(&mut |tx| {
                stored = Some(tx.put_entity(entity.clone(), meta.clone())?);
                Ok(())
            })
            .unwrap();
        stored.unwrap()
    }

    #[test]
    fn an_entity_is_complete_once_every_blob_it_cites_arrives() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("test.redb")).unwrap();
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        store.add_blob(&blob(&a)).unwrap();
        let first = put(&store, citing(&[&a, &b]));
        assert_eq!(
            first.missing_blobs,
            vec![b.clone()],
            "a blob already held is not missing"
        );

        let completed = store.add_blob(&blob(&b)).unwrap();
        assert_eq!(completed.len(), 1);
        assert!(completed[0].missing_blobs.is_empty());
        assert!(
            completed[0].rev > first.rev,
            "completeness travels as a new revision"
        );
        let page = store
            .pull(&["grid:g1".to_string()], first.rev, 10, usize::MAX)
            .unwrap();
        let pulled: Vec<Projection> = page
            .projections
            .iter()
            .map(|p| p.decode().unwrap())
            .collect();
        assert_eq!(pulled, completed, "pulls carry the completed entity");
        assert!(
            store.add_blob(&blob(&b)).unwrap().is_empty(),
            "a second add changes nothing"
        );

        assert_eq!(store.citing(&b).unwrap().len(), 1);
        put(&store, citing(&[&a]));
        assert!(
            store.citing(&b).unwrap().is_empty(),
            "a blob no longer cited has no citer"
        );
        assert_eq!(store.citing(&a).unwrap()[0].projection.entity.id, H1);
        assert!(store.citing(&"c".repeat(64)).unwrap().is_empty());
    }

    #[test]
    fn new_projections_fill_their_pages_whatever_their_ids() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("test.redb")).unwrap();
        // Ids scattered over the whole UUID space, as devices make them; ten pushes of 200.
        let id = |n: u128| {
            let scattered = n.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
            Uuid::from_u128(scattered).to_string()
        };
        for push in 0..10u128 {
            store
                .write(&mut |tx| {
                    for n in push * 200..push * 200 + 200 {
                        let entity = Entity {
                            id: id(n),
                            body: serde_json::json!({ "n": n.to_string(), "note": "x".repeat(300) }),
                            ..citing(&[])
                        };
                        tx.put_entity(entity, meta())?;
                    }
                    Ok(())
                })
                .unwrap();
        }
        for n in [0, 777, 1999] {
            let read = store.entity(&id(n)).unwrap().unwrap();
            assert_eq!(read.entity.body["n"], n.to_string());
        }
        let page = store
            .pull(&["grid:g1".to_string()], 0, 5000, usize::MAX)
            .unwrap();
        assert_eq!(page.projections.len(), 2000);
        let txn = store.db().begin_read().unwrap();
        let stats = txn.open_table(ENTITIES).unwrap().stats().unwrap();
        // Keyed by id, a third or more of the leaves would be left empty.
        assert!(
            stats.fragmented_bytes() * 10 < stats.stored_bytes(),
            "{stats:?}"
        );
    }

    #[test]
    fn a_pull_page_ends_at_its_byte_budget_and_the_next_goes_on_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("test.redb")).unwrap();
        let id = |n: u64| format!("00000000-0000-4000-8000-{n:012x}");
        store
            .write(&mut |tx| {
                for n in 0..50 {
                    let entity = Entity {
                        id: id(n),
                        body: serde_json::json!({ "n": format!("{n:03}"), "note": "x".repeat(1000) }),
                        ..citing(&[])
                    };
                    tx.put_entity(entity, meta())?;
                }
                Ok(())
            })
            .unwrap();
        let buckets = ["grid:g1".to_string()];
        let whole = store.pull(&buckets, 0, 1000, usize::MAX).unwrap();
        assert!(whole.complete && whole.projections.len() == 50);
        let budget = whole.projections[0].json.get().len() * 9 + 1;
        // Pages of about ten entities' bytes: the one that reaches the budget ends the page.
        let (mut after, mut pages, mut seen) = (0, 0, Vec::new());
        loop {
            let page = store.pull(&buckets, after, 1000, budget).unwrap();
            pages += 1;
            let sizes: Vec<usize> = page
                .projections
                .iter()
                .map(|p| p.json.get().len())
                .collect();
            let before_last: usize = sizes[..sizes.len() - 1].iter().sum();
            assert!(before_last < budget, "{sizes:?}");
            assert!(page.complete || before_last + sizes[sizes.len() - 1] >= budget);
            assert_eq!(page.complete, page.digests.len() == 1);
            seen.extend(page.projections.iter().map(|p| p.rev));
            after = page.projections.last().map_or(after, |p| p.rev);
            if page.complete || pages > 10 {
                break;
            }
        }
        let all: Vec<u64> = whole.projections.iter().map(|p| p.rev).collect();
        assert!(pages >= 5, "{pages} pages");
        assert_eq!(seen, all, "every change once, in order");
        // A budget smaller than one entity still sends one a page.
        for budget in [0, 1] {
            let one = store.pull(&buckets, 0, 1000, budget).unwrap();
            assert!(!one.complete && one.projections.len() == 1);
        }
    }

    #[test]
    fn a_transaction_reads_back_what_it_wrote_though_it_keeps_what_it_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("test.redb")).unwrap();
        let with_body = |n: u64| Entity {
            body: serde_json::json!({ "n": n }),
            ..citing(&[])
        };
        let mut seen = Vec::new();
        store
            .write(&mut |tx| {
                seen.clear();
                for n in 1..=3 {
                    let put = tx.put_entity(with_body(n), meta())?;
                    // Read twice: the second read is the transaction's own copy.
                    for _ in 0..2 {
                        let read = tx.entity(H1)?.unwrap();
                        assert_eq!(read, put);
                        seen.push((read.rev, read.entity.body["n"].as_u64()));
                    }
                }
                Ok(())
            })
            .unwrap();
        let revs: Vec<u64> = seen.iter().map(|(rev, _)| *rev).collect();
        assert!(revs.windows(2).all(|w| w[0] <= w[1]) && revs[0] < revs[5]);
        assert_eq!(seen[5].1, Some(3));
        // Each write replaced the revision before it: the bucket holds the last one only.
        let page = store
            .pull(&["grid:g1".to_string()], 0, 10, usize::MAX)
            .unwrap();
        let pulled: Vec<Projection> = page
            .projections
            .iter()
            .map(|p| p.decode().unwrap())
            .collect();
        assert_eq!(pulled.len(), 1);
        assert_eq!(
            (pulled[0].rev, pulled[0].entity.body["n"].as_u64()),
            seen[5]
        );
    }

    #[test]
    fn a_citation_lets_readers_read_a_photo_only_when_its_citer_held_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("test.redb")).unwrap();
        let (owner, stranger, colleague) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let photo = "a".repeat(64);
        store
            .add_blob(&BlobMeta {
                uploaded_by: owner,
                ..blob(&photo)
            })
            .unwrap();
        let with_id = |id: &str, grid: &str| Entity {
            id: id.into(),
            scope: EntityScope {
                grid: Some(grid.into()),
                ..EntityScope::default()
            },
            ..citing(&[&photo])
        };
        let held = |id: &str| {
            let citing = store.citing(&photo).unwrap();
            citing
                .iter()
                .find(|c| c.projection.entity.id == id)
                .unwrap()
                .held
        };
        // The uploader's citation is held; a stranger's, naming the same hash, is not, and
        // their entity counts the photo as missing.
        assert!(
            put_by(&store, with_id(H1, "g1"), meta_by(owner, &[]))
                .missing_blobs
                .is_empty()
        );
        let theirs = put_by(&store, with_id(H2, "g2"), meta_by(stranger, &["grid:g2"]));
        assert_eq!(theirs.missing_blobs, vec![photo.clone()]);
        assert!(held(H1) && !held(H2));
        // Someone who can already read it (through h1, in grid g1) may cite it.
        let shared = put_by(&store, with_id(H3, "g3"), meta_by(colleague, &["grid:g1"]));
        assert!(shared.missing_blobs.is_empty() && held(H3));
        // Another event on h2 changes nothing about who brought the photo there.
        put_by(&store, with_id(H2, "g2"), meta_by(owner, &[]));
        assert!(!held(H2));

        // A photo cited before it arrives is held once its citer uploads it, and only then.
        let later = "b".repeat(64);
        let early = |id: &str| Entity {
            id: id.into(),
            ..citing(&[&later])
        };
        put_by(&store, early(H4), meta_by(owner, &[]));
        put_by(&store, early(H5), meta_by(stranger, &[]));
        let completed = store
            .add_blob(&BlobMeta {
                uploaded_by: owner,
                ..blob(&later)
            })
            .unwrap();
        let ids: Vec<&str> = completed.iter().map(|p| p.entity.id.as_str()).collect();
        assert_eq!(ids, vec![H4]);
        let citing = store.citing(&later).unwrap();
        let held: Vec<(&str, bool)> = citing
            .iter()
            .map(|c| (c.projection.entity.id.as_str(), c.held))
            .collect();
        assert_eq!(held, vec![(H4, true), (H5, false)]);
    }

    #[test]
    fn uploads_are_kept_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("test.redb")).unwrap();
        let upload = Upload {
            id: Uuid::now_v7(),
            sha256: "a".repeat(64),
            length: 10,
            user_id: Uuid::nil(),
            created_at: UnixMillis(1),
            expires_at: UnixMillis(2),
        };
        store.put_upload(&upload).unwrap();
        assert_eq!(store.upload(upload.id).unwrap(), Some(upload.clone()));
        assert_eq!(store.uploads().unwrap(), vec![upload.clone()]);
        assert!(store.remove_upload(upload.id).unwrap());
        assert!(!store.remove_upload(upload.id).unwrap());
        assert_eq!(store.upload(upload.id).unwrap(), None);
    }
}
