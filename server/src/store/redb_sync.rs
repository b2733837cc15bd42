//! The sync store on redb: devices, the event log, projections, the bucket index and digests.

use redb::{ReadableDatabase, ReadableTable, Table, WriteTransaction};
use uuid::Uuid;

use anjian_sync::entity::{BucketDigest, Entity};
use anjian_sync::event::SignedEvent;
use anjian_sync::protocol::{JudgedEvent, Projection, Receipt};

use super::codec::{decode, encode, encode_json};
use super::model::{Device, UnixMillis};
use super::tables::{
    BUCKET_DIGESTS, BUCKET_INDEX, COUNTERS, DEVICES, ENTITIES, EVENTS, FORKS, TYPE_INDEX,
};
use super::{PullPage, RedbStore, StoreError, SyncStore, SyncWrite};

const LAST_REV: &str = "last_rev";

/// The tables of one write transaction, opened once.
struct Write<'txn> {
    devices: Table<'txn, u128, &'static [u8]>,
    events: Table<'txn, (u128, u64), &'static [u8]>,
    forks: Table<'txn, (u128, u64, &'static str), &'static [u8]>,
    entities: Table<'txn, &'static str, &'static [u8]>,
    index: Table<'txn, (&'static str, u64), &'static str>,
    digests: Table<'txn, &'static str, &'static [u8]>,
    counters: Table<'txn, &'static str, u64>,
    types: Table<'txn, (&'static str, &'static str), u64>,
}

impl<'txn> Write<'txn> {
    fn open(txn: &'txn WriteTransaction) -> Result<Write<'txn>, StoreError> {
        Ok(Write {
            devices: txn.open_table(DEVICES)?,
            events: txn.open_table(EVENTS)?,
            forks: txn.open_table(FORKS)?,
            entities: txn.open_table(ENTITIES)?,
            index: txn.open_table(BUCKET_INDEX)?,
            digests: txn.open_table(BUCKET_DIGESTS)?,
            counters: txn.open_table(COUNTERS)?,
            types: txn.open_table(TYPE_INDEX)?,
        })
    }

    fn digest(&self, bucket: &str) -> Result<BucketDigest, StoreError> {
        match self.digests.get(bucket)? {
            Some(bytes) => decode("bucket digest", bytes.value()),
            None => Ok(BucketDigest::default()),
        }
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

    fn event(&mut self, device: Uuid, seq: u64) -> Result<Option<JudgedEvent>, StoreError> {
        match self.events.get((device.as_u128(), seq))? {
            Some(bytes) => Ok(Some(decode("event", bytes.value())?)),
            None => Ok(None),
        }
    }

    fn put_event(&mut self, device: Uuid, event: &JudgedEvent) -> Result<(), StoreError> {
        let key = (device.as_u128(), event.receipt.seq);
        self.events.insert(key, encode_json(event)?.as_slice())?;
        Ok(())
    }

    fn record_fork(
        &mut self,
        device: Uuid,
        event: &SignedEvent,
        at: UnixMillis,
    ) -> Result<(), StoreError> {
        let record = serde_json::json!({"event": event, "refused_at_ms": at.0});
        let key = (device.as_u128(), event.body.seq, event.hash.as_str());
        self.forks.insert(key, encode_json(&record)?.as_slice())?;
        Ok(())
    }

    fn entity(&mut self, id: &str) -> Result<Option<Projection>, StoreError> {
        match self.entities.get(id)? {
            Some(bytes) => Ok(Some(decode("entity", bytes.value())?)),
            None => Ok(None),
        }
    }

    fn put_entity(
        &mut self,
        entity: Entity,
        meta: super::ProjectionMeta,
    ) -> Result<Projection, StoreError> {
        let rev = self.counters.get(LAST_REV)?.map(|v| v.value()).unwrap_or(0) + 1;
        self.counters.insert(LAST_REV, rev)?;
        if let Some(old) = self.entity(&entity.id)? {
            for bucket in &old.buckets {
                self.index.remove((bucket.as_str(), old.rev))?;
                let mut digest = self.digest(bucket)?;
                digest.remove(&old.entity.id, old.rev);
                self.digests
                    .insert(bucket.as_str(), encode(&digest)?.as_slice())?;
            }
        }
        self.types
            .insert((entity.entity_type.name(), entity.id.as_str()), rev)?;
        let buckets = entity.scope.buckets();
        for bucket in &buckets {
            self.index
                .insert((bucket.as_str(), rev), entity.id.as_str())?;
            let mut digest = self.digest(bucket)?;
            digest.add(&entity.id, rev);
            self.digests
                .insert(bucket.as_str(), encode(&digest)?.as_slice())?;
        }
        let projection = Projection {
            entity,
            rev,
            buckets,
            last_event_id: meta.event_id,
            captured_at_ms: meta.time.captured_at_ms,
            received_at_ms: meta.time.received_at_ms,
            clock: meta.time.clock,
        };
        self.entities.insert(
            projection.entity.id.as_str(),
            encode_json(&projection)?.as_slice(),
        )?;
        Ok(projection)
    }
}

impl SyncStore for RedbStore {
    fn insert_device(&self, device: &Device) -> Result<Device, StoreError> {
        let txn = self.db().begin_write()?;
        {
            let mut table = txn.open_table(DEVICES)?;
            // Devices are few (one or two per person), so a scan keeps no second index.
            for entry in table.iter()? {
                let known: Device = decode("device", entry?.1.value())?;
                if known.public_key == device.public_key {
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
        }
        txn.commit()?;
        Ok(())
    }

    fn pull(&self, buckets: &[String], after: u64, limit: usize) -> Result<PullPage, StoreError> {
        let txn = self.db().begin_read()?;
        let last_rev = txn
            .open_table(COUNTERS)?
            .get(LAST_REV)?
            .map(|v| v.value())
            .unwrap_or(0);
        let index = txn.open_table(BUCKET_INDEX)?;
        // Each bucket's changes after the cursor, merged by revision. An entity in several of
        // the caller's buckets has the same revision in each, so equal pairs are one change.
        let mut changes: Vec<(u64, String)> = Vec::new();
        for bucket in buckets {
            let range = index
                .range((bucket.as_str(), after.saturating_add(1))..=(bucket.as_str(), u64::MAX))?;
            for entry in range.take(limit.saturating_add(1)) {
                let (key, id) = entry?;
                changes.push((key.value().1, id.value().to_string()));
            }
        }
        changes.sort();
        changes.dedup();
        let complete = changes.len() <= limit;
        changes.truncate(limit);
        let entities = txn.open_table(ENTITIES)?;
        let mut projections = Vec::with_capacity(changes.len());
        for (_, id) in &changes {
            if let Some(bytes) = entities.get(id.as_str())? {
                projections.push(decode("entity", bytes.value())?);
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
        let txn = self.db().begin_read()?;
        match txn.open_table(ENTITIES)?.get(id)? {
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
        let entities = txn.open_table(ENTITIES)?;
        let name = entity_type.name();
        let mut projections = Vec::new();
        for entry in types.range((name, "")..)? {
            let (key, _) = entry?;
            let (kind, id) = key.value();
            if kind != name {
                break;
            }
            if let Some(bytes) = entities.get(id)? {
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
        let events = txn.open_table(EVENTS)?;
        let id = device.as_u128();
        let mut receipts = Vec::new();
        for entry in events
            .range((id, after_seq.saturating_add(1))..=(id, u64::MAX))?
            .take(limit)
        {
            let event: JudgedEvent = decode("event", entry?.1.value())?;
            receipts.push(event.receipt);
        }
        Ok(receipts)
    }
}
