//! The sync service: device enrolment, push (judging each device's events exactly once, in
//! order) and pull (the caller's buckets, page by page up to a checkpoint).
//!
//! Push, for one device, in one write transaction: each event in `seq` order is either a replay
//! of an event already taken (same hash: its stored receipt again), or the next link of the
//! device's chain (verified, judged, stored with its receipt), or refused — a fork (a taken `seq`
//! with another hash, recorded for audit), a gap, a broken chain or a bad signature — which stops
//! the push there. Every judged event advances the device's `last_seq` whatever its verdict, so
//! the queue never jams on a business error. The transaction commits durably before the answer.
//!
//! Pull: a *cursor* is `v1.<revision>.<buckets-fingerprint>`; it is opaque to clients. When the
//! caller's buckets are not the ones the cursor was made for (their scope changed), or the
//! revision is beyond the store's (a restored server), the answer is an explicit `reset`.

use std::sync::Arc;

use anjian_sync::clock::estimate;
use anjian_sync::entity::EntityType;
use anjian_sync::event::{
    Captured, DeviceKey, EVENT_VERSION, EventBody, EventError, GENESIS_HASH, SignedEvent,
    parse_public_key, verify_all,
};
use anjian_sync::judge::{Actor, Entities, Judgement, Reason, Verdict, issue_entity, judge_in};
use anjian_sync::protocol::{
    BucketState, JudgedEvent, JudgedEventRef, MAX_PULL_LIMIT, MAX_PUSH_EVENTS, Projection,
    PullResponse, PushRequest, PushResponse, Receipt, Refusal,
};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::accounts::Caller;
use super::blocking;
use crate::store::model::{Device, ForkRecord, UnixMillis};
use crate::store::{Citer, ProjectionMeta, StoreError, SyncStore, SyncWrite};
use anjian_sync::access::Role;

/// Why a sync operation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No device has this id.
    #[error("no device has this id; enrol the device first (POST /v1/devices)")]
    DeviceUnknown,
    /// The device is enrolled to another user.
    #[error(
        "this device is enrolled to another user; log in as that user or enrol this device anew"
    )]
    DeviceNotYours,
    /// An admin revoked the device.
    #[error(
        "this device was revoked by the town safety office (安委办); enrol it anew after checking with them"
    )]
    DeviceRevoked,
    /// A field is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The public key belongs to another user's device, or to a revoked one.
    #[error(
        "this public key is enrolled to another user or was revoked; make a new key pair and enrol again"
    )]
    KeyEnrolled,
    /// The device's enrolled key is weak: nothing signed with it is taken.
    #[error(
        "this device's key is a weak Ed25519 key, under which signatures can be forged; nothing signed with it is taken. Enrol the device again with a new key"
    )]
    KeyRefused,
    /// The caller lacks a role.
    #[error("this needs the {0} role")]
    Forbidden(Role),
    /// Storage failed.
    #[error("storage failed")]
    Storage(#[from] StoreError),
}

/// The sync service.
#[derive(Debug)]
pub struct SyncService {
    store: Arc<dyn SyncStore>,
    office: Arc<OfficeDevice>,
    pull_page_bytes: usize,
}

/// The JSON bytes of the entities a pull page ends after, unless configured otherwise
/// (`http.max_pull_page_bytes`): a page is built and sent whole, so this bounds the memory each
/// pull in hand takes.
pub const PULL_PAGE_BYTES: usize = 2 * 1024 * 1024;

/// The server's own device: it signs the events the office makes through the admin API
/// (an enterprise record, …), so they travel the same pipeline as a phone's and reach the devices
/// by pull. Its user is the nil UUID (the server itself); no login can push as it.
#[derive(Debug)]
pub struct OfficeDevice {
    key: DeviceKey,
    verifying: ed25519_dalek::VerifyingKey,
    id: Uuid,
}

impl OfficeDevice {
    /// The office device of a key; its id is derived from the public key, so it is stable.
    pub fn new(key: DeviceKey) -> Result<OfficeDevice, StoreError> {
        let public = key.public_hex();
        let verifying =
            parse_public_key(&public).map_err(|err| StoreError::other(err.to_string()))?;
        let digest = Sha256::digest(public.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Ok(OfficeDevice {
            id: Uuid::new_v8(bytes),
            key,
            verifying,
        })
    }

    /// Its device id.
    pub fn id(&self) -> Uuid {
        self.id
    }
}

/// The checklist the server ships, published on first start.
pub(crate) const SHIPPED_TEMPLATE: &str = include_str!("../../templates/small-enterprise-v1.json");

/// Marks a transaction abandoned on purpose by [`SyncService::record_office_events`].
const ABANDONED: &str = "office change abandoned";

/// One change the office makes.
#[derive(Debug, Clone)]
pub struct OfficeChange {
    /// The event kind.
    pub kind: &'static str,
    /// The entity.
    pub entity_id: Uuid,
    /// The payload.
    pub payload: serde_json::Value,
    /// The photos it cites (sha256).
    pub blob_refs: Vec<String>,
    /// The checklist version it pins (`code@version`), for an inspection.
    pub template_ref: Option<String>,
}

/// Why the office's change was not made: the judgement's verdict and reason.
#[derive(Debug)]
pub struct Rejection {
    /// `conflict` or `quarantined`.
    pub verdict: Verdict,
    /// Why.
    pub reason: Reason,
}

/// Refuses a caller without `role`.
pub(crate) fn require(caller: &Caller, role: Role) -> Result<(), SyncError> {
    caller.require(role).map_err(|_| SyncError::Forbidden(role))
}

fn invalid(field: &'static str, message: impl Into<String>) -> SyncError {
    SyncError::Invalid {
        field,
        message: message.into(),
    }
}

/// The fingerprint of a bucket set, as carried in cursors.
fn fingerprint(buckets: &[String]) -> String {
    let digest = Sha256::digest(buckets.join("\n").as_bytes());
    hex::encode(&digest[..8])
}

fn cursor(rev: u64, buckets: &[String]) -> String {
    format!("v1.{rev}.{}", fingerprint(buckets))
}

fn parse_cursor(cursor: &str) -> Option<(u64, &str)> {
    let rest = cursor.strip_prefix("v1.")?;
    let (rev, print) = rest.split_once('.')?;
    Some((rev.parse().ok()?, print))
}

impl SyncService {
    /// The service over a store, signing the office's events with `office`'s key.
    pub fn new(store: Arc<dyn SyncStore>, office: OfficeDevice) -> SyncService {
        SyncService {
            store,
            office: Arc::new(office),
            pull_page_bytes: PULL_PAGE_BYTES,
        }
    }

    /// The same service, its pull pages ending after `bytes` of entities' JSON.
    pub fn with_pull_page_bytes(mut self, bytes: usize) -> SyncService {
        self.pull_page_bytes = bytes.max(1);
        self
    }

    /// Enrols the office device (once; later calls find it).
    pub fn ensure_office_device(&self) -> Result<(), StoreError> {
        self.store
            .insert_device(&Device {
                id: self.office.id,
                user_id: Uuid::nil(),
                public_key: self.office.key.public_hex(),
                name: "town safety office (server)".into(),
                enrolled_at: UnixMillis::now(),
                revoked_at: None,
                last_seq: 0,
                last_hash: GENESIS_HASH.to_string(),
                last_push_at: None,
            })
            .map(drop)
    }

    /// Makes a change on the office's behalf: signs `kind` about `entity_id` with the office
    /// device, judges it as `caller`, and stores it like any pushed event — or, when the
    /// judgement does not apply it, changes nothing and says why.
    pub async fn record_office_event(
        &self,
        caller: &Caller,
        kind: &'static str,
        entity_id: Uuid,
        payload: serde_json::Value,
    ) -> Result<Result<Projection, Rejection>, SyncError> {
        let change = OfficeChange {
            kind,
            entity_id,
            payload,
            blob_refs: Vec::new(),
            template_ref: None,
        };
        let outcome = self.record_office_events(caller, vec![change]).await?;
        Ok(outcome
            .map(|mut projections| projections.remove(0))
            .map_err(|(_, rejection)| rejection))
    }

    /// Makes several changes on the office's behalf, all or none, in one transaction: when any
    /// is not applied, nothing is written and its index and reason are returned.
    pub async fn record_office_events(
        &self,
        caller: &Caller,
        changes: Vec<OfficeChange>,
    ) -> Result<Result<Vec<Projection>, (usize, Rejection)>, SyncError> {
        let sender = Sender::new(caller.user.id, caller.user.grant.clone());
        self.record_as(sender, changes).await
    }

    /// Publishes the checklist the server ships (检查表 for small enterprises), once: a store
    /// that has it already is left as it is. Made as the server itself (the nil user, as admin).
    pub async fn ensure_shipped_template(&self) -> Result<(), SyncError> {
        let template: anjian_sync::kinds::inspection::Template =
            serde_json::from_str(SHIPPED_TEMPLATE).map_err(|err| {
                StoreError::other(format!("the shipped checklist is not valid: {err}"))
            })?;
        let id = anjian_sync::kinds::inspection::template_id(&template.code, template.version);
        let store = self.store.clone();
        let check = id.clone();
        if blocking(move || store.entity(&check)).await?.is_some() {
            return Ok(());
        }
        let system = Sender::new(
            Uuid::nil(),
            anjian_sync::access::Grant::new([Role::Admin], anjian_sync::access::Scopes::default())
                .map_err(|err| StoreError::other(err.to_string()))?,
        );
        let entity_id = Uuid::parse_str(&id).map_err(|err| StoreError::other(err.to_string()))?;
        let payload =
            serde_json::to_value(&template).map_err(|err| StoreError::other(err.to_string()))?;
        let change = OfficeChange {
            kind: "template.publish",
            entity_id,
            payload,
            blob_refs: Vec::new(),
            template_ref: None,
        };
        match self.record_as(system, vec![change]).await? {
            Ok(_) => Ok(()),
            Err((_, rejection)) => Err(StoreError::other(format!(
                "the shipped checklist was refused: {}",
                rejection.reason.message
            ))
            .into()),
        }
    }

    async fn record_as(
        &self,
        sender: Sender,
        changes: Vec<OfficeChange>,
    ) -> Result<Result<Vec<Projection>, (usize, Rejection)>, SyncError> {
        let store = self.store.clone();
        let office = self.office.clone();
        let outcome = blocking(move || {
            let now = UnixMillis::now();
            let mut outcome = Ok(Vec::new());
            let written = store.write(&mut |tx| {
                let mut projections = Vec::with_capacity(changes.len());
                for (index, change) in changes.iter().enumerate() {
                    let device = tx.device(office.id)?.ok_or(StoreError::NotFound)?;
                    let body = EventBody {
                        v: EVENT_VERSION,
                        device_id: office.id.to_string(),
                        seq: device.last_seq.checked_add(1).ok_or_else(|| {
                            StoreError::other("the office device's event log is full")
                        })?,
                        id: Uuid::now_v7().to_string(),
                        prev_hash: device.last_hash.clone(),
                        kind: change.kind.to_string(),
                        entity_id: change.entity_id.to_string(),
                        payload: change.payload.clone(),
                        blob_refs: change.blob_refs.clone(),
                        template_ref: change.template_ref.clone(),
                        base_rev: None,
                        captured: Captured {
                            wall_ms: now.0,
                            tz_offset_min: 480,
                        },
                    };
                    let event = office
                        .key
                        .sign(body)
                        .map_err(|err| StoreError::other(err.to_string()))?;
                    let judgement = judge_in(
                        &event.body,
                        &sender.actor,
                        &mut TxEntities {
                            tx: &mut *tx,
                            templates: &mut Templates::new(),
                        },
                    )?;
                    if let (Verdict::Conflict | Verdict::Quarantined, Some(reason)) =
                        (judgement.verdict, judgement.reason.clone())
                    {
                        // An office request that does not fit changes nothing: abandon the
                        // transaction (the error only rolls it back; the outcome says why).
                        outcome = Err((
                            index,
                            Rejection {
                                verdict: judgement.verdict,
                                reason,
                            },
                        ));
                        return Err(StoreError::Other(ABANDONED.into()));
                    }
                    // A change that changes nothing makes no event and no new revision, so
                    // devices do not pull the same record again.
                    let current = tx.entity(&change.entity_id.to_string())?;
                    if let Some(current) = current {
                        if judgement.entity.as_ref() == Some(&current.entity) {
                            projections.push(current);
                            continue;
                        }
                    }
                    // Judged once: the judgement above is the one stored. The office's own
                    // event is still verified before it is recorded.
                    let canonical = event
                        .verify_canonical(&office.verifying)
                        .map_err(|err| StoreError::other(err.to_string()))?;
                    let (_, stored) = store_judged(
                        tx,
                        office.id,
                        &sender,
                        (&event, &canonical),
                        judgement,
                        now.0,
                        now,
                    )?;
                    let mut device = device;
                    device.last_seq = event.body.seq;
                    device.last_hash = event.hash.clone();
                    device.last_push_at = Some(now);
                    tx.put_device(&device)?;
                    let projection = stored
                        .ok_or_else(|| StoreError::other("an office event left no projection"))?;
                    projections.push(projection);
                }
                outcome = Ok(projections);
                Ok(())
            });
            match written {
                Err(StoreError::Other(message)) if message == ABANDONED => Ok(outcome),
                Err(err) => Err(err),
                Ok(()) => Ok(outcome),
            }
        })
        .await?;
        Ok(outcome)
    }

    /// An entity's projection, whoever may read it (callers check).
    pub async fn entity(&self, id: &str) -> Result<Option<Projection>, SyncError> {
        let store = self.store.clone();
        let id = id.to_string();
        Ok(blocking(move || store.entity(&id)).await?)
    }

    /// The projections of `ids`, in that order (ids with no entity are left out; callers check
    /// who may read them).
    pub async fn entities(&self, ids: Vec<String>) -> Result<Vec<Projection>, SyncError> {
        let store = self.store.clone();
        Ok(blocking(move || {
            let mut found = Vec::with_capacity(ids.len());
            for id in &ids {
                if let Some(projection) = store.entity(id)? {
                    found.push(projection);
                }
            }
            Ok(found)
        })
        .await?)
    }

    /// The office's facts of every record of a type ([`crate::store::facts`]).
    pub async fn facts(
        &self,
        entity_type: EntityType,
    ) -> Result<Vec<(String, crate::store::facts::Fact)>, SyncError> {
        let store = self.store.clone();
        Ok(blocking(move || store.facts(entity_type)).await?)
    }

    /// The ids, in order after `after`, of up to `limit` records of `entity_type` whose facts
    /// `take` accepts, read without decoding a projection: of those one of `readers` (bucket
    /// names) reads, or of all when `None`.
    pub async fn facts_where(
        &self,
        entity_type: EntityType,
        after: Option<String>,
        limit: usize,
        readers: Option<Vec<String>>,
        take: impl Fn(&crate::store::facts::FactView<'_>) -> bool + Send + 'static,
    ) -> Result<Vec<String>, SyncError> {
        let store = self.store.clone();
        Ok(blocking(move || {
            let mut ids = Vec::new();
            let readers = readers.as_deref();
            store.scan_facts(entity_type, after.as_deref(), readers, &mut |id, fact| {
                if take(fact) {
                    ids.push(id.to_string());
                }
                ids.len() < limit
            })?;
            Ok(ids)
        })
        .await?)
    }

    /// The office's counters under a key prefix.
    pub async fn counts(&self, prefix: &str) -> Result<Vec<(String, u64)>, SyncError> {
        let store = self.store.clone();
        let prefix = prefix.to_string();
        Ok(blocking(move || store.counts(&prefix)).await?)
    }

    /// The events that changed an entity, oldest first (callers check who may read them).
    pub async fn entity_events(&self, id: &str) -> Result<Vec<JudgedEvent>, SyncError> {
        let store = self.store.clone();
        let id = id.to_string();
        Ok(blocking(move || store.entity_events(&id)).await?)
    }

    /// Every projection of one type, in id order (the office's lists: grids, enterprises).
    pub async fn entities_of_type(
        &self,
        entity_type: EntityType,
    ) -> Result<Vec<Projection>, SyncError> {
        let store = self.store.clone();
        Ok(blocking(move || store.entities_of_type(entity_type)).await?)
    }

    /// Enrols a device for the caller with its Ed25519 public key. Enrolling the same key again
    /// returns the same device.
    pub async fn enrol(
        &self,
        caller: &Caller,
        public_key: &str,
        name: &str,
    ) -> Result<Device, SyncError> {
        parse_public_key(public_key).map_err(|err| invalid("public_key", err.to_string()))?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(invalid(
                "name",
                "must be 1 to 64 characters, without control characters",
            ));
        }
        let device = Device {
            id: Uuid::now_v7(),
            user_id: caller.user.id,
            public_key: public_key.to_string(),
            name: name.to_string(),
            enrolled_at: UnixMillis::now(),
            revoked_at: None,
            last_seq: 0,
            last_hash: GENESIS_HASH.to_string(),
            last_push_at: None,
        };
        let store = self.store.clone();
        let device = blocking(move || store.insert_device(&device))
            .await
            .map_err(|err| match err {
                StoreError::Conflict(crate::store::Conflict::KeyEnrolled) => SyncError::KeyEnrolled,
                other => other.into(),
            })?;
        tracing::info!(user = %caller.user.username, device = %device.id, "device enrolled");
        Ok(device)
    }

    /// The caller's devices; an admin may name any user, or all.
    pub async fn devices(
        &self,
        caller: &Caller,
        user: Option<Uuid>,
    ) -> Result<Vec<Device>, SyncError> {
        let user = match user {
            Some(user) if user != caller.user.id => {
                require(caller, Role::Admin)?;
                Some(user)
            }
            None if caller.user.grant.has(Role::Admin) => None,
            _ => Some(caller.user.id),
        };
        let store = self.store.clone();
        Ok(blocking(move || store.devices(user)).await?)
    }

    /// The forks refused from a device and recorded for audit (admin only), in `seq` order.
    pub async fn forks(&self, caller: &Caller, id: Uuid) -> Result<Vec<ForkRecord>, SyncError> {
        require(caller, Role::Admin)?;
        let store = self.store.clone();
        let forks = blocking(move || match store.device(id)? {
            Some(_) => store.forks(id).map(Some),
            None => Ok(None),
        })
        .await?;
        forks.ok_or(SyncError::DeviceUnknown)
    }

    /// Revokes a device (admin only): its pushes are refused from now on.
    pub async fn revoke(&self, caller: &Caller, id: Uuid) -> Result<Device, SyncError> {
        require(caller, Role::Admin)?;
        let store = self.store.clone();
        let device = blocking(move || store.revoke_device(id, UnixMillis::now()))
            .await
            .map_err(|err| match err {
                StoreError::NotFound => SyncError::DeviceUnknown,
                other => other.into(),
            })?;
        tracing::info!(by = %caller.user.username, device = %id, "device revoked");
        Ok(device)
    }

    async fn own_device(&self, caller: &Caller, id: &str) -> Result<Device, SyncError> {
        let id = Some(id)
            .filter(|id| anjian_sync::event::is_uuid(id))
            .and_then(|id| Uuid::parse_str(id).ok())
            .ok_or_else(|| {
                invalid(
                    "device_id",
                    "must be the UUID given at enrolment, in lower case",
                )
            })?;
        let store = self.store.clone();
        let device = blocking(move || store.device(id))
            .await?
            .ok_or(SyncError::DeviceUnknown)?;
        if device.user_id != caller.user.id {
            return Err(SyncError::DeviceNotYours);
        }
        Ok(device)
    }

    /// Takes a device's events: see the module docs.
    pub async fn push(
        &self,
        caller: &Caller,
        request: PushRequest,
    ) -> Result<PushResponse, SyncError> {
        if request.events.len() > MAX_PUSH_EVENTS {
            return Err(invalid(
                "events",
                format!("at most {MAX_PUSH_EVENTS} events per push; send the rest in another"),
            ));
        }
        for pair in request.events.windows(2) {
            if pair[0].body.seq.checked_add(1) != Some(pair[1].body.seq) {
                return Err(invalid(
                    "events",
                    "events must be in ascending `seq` order without gaps",
                ));
            }
        }
        let device = self.own_device(caller, &request.device_id).await?;
        if device.revoked_at.is_some() {
            return Err(SyncError::DeviceRevoked);
        }
        // Keys enrolled before only the canonical form was accepted may be in upper case; a
        // weak one is refused here as it is at enrolment.
        let key = parse_public_key(&device.public_key.to_ascii_lowercase())
            .map_err(|_| SyncError::KeyRefused)?;
        let sender = Sender::new(caller.user.id, caller.user.grant.clone());
        let store = self.store.clone();
        let device_id = device.id;
        let response = blocking(move || {
            // Hashes and signatures need nothing stored: they are checked before the write
            // transaction, so pushes check theirs side by side while one of them writes.
            let checked: Vec<Result<Vec<u8>, EventError>> = verify_all(&request.events, &key);
            let now = UnixMillis::now();
            let mut response = PushResponse {
                receipts: Vec::new(),
                refused: None,
                last_seq: 0,
            };
            store.write(&mut |tx| {
                response = take_events(tx, device_id, &checked, &sender, &request, now)?;
                Ok(())
            })?;
            Ok(response)
        })
        .await?;
        if let Some(refused) = &response.refused {
            tracing::warn!(device = %device_id, seq = refused.seq, code = %refused.code, "push refused");
        }
        Ok(response)
    }

    /// A page of the caller's buckets after `cursor`; with `device_id`, that device's receipts
    /// after `receipts_after` too.
    pub async fn pull(
        &self,
        caller: &Caller,
        cursor_text: Option<&str>,
        limit: usize,
        device_id: Option<&str>,
        receipts_after: u64,
    ) -> Result<PullResponse<Box<RawValue>>, SyncError> {
        if limit == 0 || limit > MAX_PULL_LIMIT {
            return Err(invalid(
                "limit",
                format!("must be between 1 and {MAX_PULL_LIMIT}"),
            ));
        }
        let buckets = caller.user.grant.buckets(&caller.user.id.to_string());
        let print = fingerprint(&buckets);
        let (after, mut reset) = match cursor_text.filter(|c| !c.is_empty()) {
            None => (0, false),
            Some(text) => {
                let (rev, cursor_print) = parse_cursor(text).ok_or_else(|| {
                    invalid(
                        "cursor",
                        "is not a cursor this server gave out; pull without one",
                    )
                })?;
                (rev, cursor_print != print)
            }
        };
        let (receipts, device_seq) = match device_id {
            Some(id) => {
                let device = self.own_device(caller, id).await?;
                let store = self.store.clone();
                let seq = device.last_seq;
                let receipts =
                    blocking(move || store.receipts(device.id, receipts_after, MAX_PULL_LIMIT))
                        .await?;
                (receipts, Some(seq))
            }
            None => (Vec::new(), None),
        };
        let store = self.store.clone();
        let query = buckets.clone();
        let max_bytes = self.pull_page_bytes;
        let page =
            blocking(move || store.pull(&query, if reset { 0 } else { after }, limit, max_bytes))
                .await?;
        if after > page.last_rev {
            reset = true;
        }
        if reset {
            return Ok(PullResponse {
                reset: true,
                entities: Vec::new(),
                next_cursor: cursor(0, &buckets),
                complete: false,
                checkpoint: None,
                receipts,
                device_seq,
            });
        }
        let next = if page.complete {
            page.last_rev.max(after)
        } else {
            page.projections.last().map_or(after, |p| p.rev)
        };
        let checkpoint = page.complete.then(|| {
            page.digests
                .iter()
                .map(|(bucket, digest)| BucketState::new(bucket, digest))
                .collect()
        });
        Ok(PullResponse {
            reset: false,
            entities: page.projections.into_iter().map(|p| p.json).collect(),
            next_cursor: cursor(next, &buckets),
            complete: page.complete,
            checkpoint,
            receipts,
            device_seq,
        })
    }
}

/// Checklist templates already read in a batch. A published template never changes, so a copy
/// stays right for the whole batch; every inspection of a push reads the same one.
type Templates = std::collections::HashMap<String, anjian_sync::entity::Entity>;

/// The entities of a write transaction, as the judgement reads them.
struct TxEntities<'a> {
    tx: &'a mut dyn SyncWrite,
    templates: &'a mut Templates,
}

impl Entities for TxEntities<'_> {
    type Error = StoreError;

    fn entity(&mut self, id: &str) -> Result<Option<anjian_sync::entity::Entity>, StoreError> {
        if let Some(template) = self.templates.get(id) {
            return Ok(Some(template.clone()));
        }
        let entity = self.tx.entity(id)?.map(|p| p.entity);
        if let Some(template) = entity
            .as_ref()
            .filter(|e| e.entity_type == anjian_sync::entity::EntityType::Template)
        {
            self.templates.insert(id.to_string(), template.clone());
        }
        Ok(entity)
    }
}

/// Forks recorded per device: enough to show what happened, bounded so a device (or its stolen
/// key) cannot fill the disk with them.
pub const MAX_FORKS_PER_DEVICE: usize = 32;

fn refuse(seq: u64, code: &str, message: impl Into<String>, expected: u64) -> Option<Refusal> {
    Some(Refusal {
        seq,
        code: code.to_string(),
        message: message.into(),
        expected_seq: expected,
    })
}

/// Who sent a push: the actor its events are judged as, and the citer the photos they cite
/// are held by (or not). Made once a push, outside its write transaction.
struct Sender {
    actor: Actor,
    citer: Arc<Citer>,
}

impl Sender {
    fn new(user: Uuid, grant: anjian_sync::access::Grant) -> Sender {
        let user_id = user.to_string();
        let citer = Citer {
            user,
            buckets: grant.buckets(&user_id),
        };
        Sender {
            actor: Actor { user_id, grant },
            citer: Arc::new(citer),
        }
    }
}

/// The push's work inside its transaction.
fn take_events(
    tx: &mut dyn SyncWrite,
    device_id: Uuid,
    checked: &[Result<Vec<u8>, EventError>],
    sender: &Sender,
    request: &PushRequest,
    now: UnixMillis,
) -> Result<PushResponse, StoreError> {
    let mut device = tx.device(device_id)?.ok_or(StoreError::NotFound)?;
    let mut receipts = Vec::with_capacity(request.events.len());
    let mut refused = None;
    let mut templates = Templates::new();
    for (event, check) in request.events.iter().zip(checked) {
        let seq = event.body.seq;
        // Stored seqs are at most `MAX_SEQ`, so this never saturates.
        let expected = device.last_seq.saturating_add(1);
        if event.body.device_id != device_id.to_string() {
            refused = refuse(
                seq,
                "wrong-device",
                "the event names another device than the push",
                expected,
            );
            break;
        }
        // Verified first: nothing about an event is believed, or recorded, before its form,
        // hash and signature hold.
        let canonical = match check {
            Ok(canonical) => canonical,
            Err(err) => {
                let code = match err {
                    EventError::BadSignature => "bad-signature",
                    EventError::HashMismatch { .. } => "hash-mismatch",
                    _ => "malformed-event",
                };
                refused = refuse(seq, code, err.to_string(), expected);
                break;
            }
        };
        if seq < expected {
            match tx.receipt(device_id, seq)? {
                Some(stored) if stored.hash == event.hash => {
                    receipts.push(stored);
                    continue;
                }
                _ => {
                    tx.record_fork(device_id, event, now, MAX_FORKS_PER_DEVICE)?;
                    refused = refuse(
                        seq,
                        "fork",
                        "this seq was already taken with different content; the device's log has forked and has been recorded for audit",
                        expected,
                    );
                    break;
                }
            }
        }
        if seq > expected {
            refused = refuse(
                seq,
                "gap",
                format!("events are missing before seq {seq}; send from seq {expected}"),
                expected,
            );
            break;
        }
        if event.body.prev_hash != device.last_hash {
            refused = refuse(
                seq,
                "broken-chain",
                "prev_hash is not the hash of this device's previous event",
                expected,
            );
            break;
        }
        receipts.push(judge_and_store(
            tx,
            &mut templates,
            device_id,
            sender,
            (event, canonical),
            request.device_clock_ms,
            now,
        )?);
        device.last_seq = seq;
        device.last_hash = event.hash.clone();
    }
    device.last_push_at = Some(now);
    tx.put_device(&device)?;
    Ok(PushResponse {
        receipts,
        refused,
        last_seq: device.last_seq,
    })
}

fn judge_and_store(
    tx: &mut dyn SyncWrite,
    templates: &mut Templates,
    device_id: Uuid,
    sender: &Sender,
    (event, canonical): (&SignedEvent, &[u8]),
    device_clock_ms: i64,
    now: UnixMillis,
) -> Result<Receipt, StoreError> {
    let judgement = judge_in(
        &event.body,
        &sender.actor,
        &mut TxEntities {
            tx: &mut *tx,
            templates,
        },
    )?;
    let (receipt, _) = store_judged(
        tx,
        device_id,
        sender,
        (event, canonical),
        judgement,
        device_clock_ms,
        now,
    )?;
    Ok(receipt)
}

/// Stores an event as it was judged: the entity it made (or the sync issue of a refusal), the
/// event and its receipt. Returns the receipt and, when the event applied, the stored
/// projection of its entity.
fn store_judged(
    tx: &mut dyn SyncWrite,
    device_id: Uuid,
    sender: &Sender,
    (event, canonical): (&SignedEvent, &[u8]),
    mut judgement: Judgement,
    device_clock_ms: i64,
    now: UnixMillis,
) -> Result<(Receipt, Option<Projection>), StoreError> {
    let actor = &sender.actor;
    let time = estimate(event.body.captured.wall_ms, device_clock_ms, now.0);
    let meta = ProjectionMeta {
        event_id: event.body.id.clone(),
        event_key: (device_id, event.body.seq),
        time,
        citer: sender.citer.clone(),
    };
    let applied = match judgement.verdict {
        Verdict::Applied => judgement.entity.take(),
        _ => None,
    };
    let (stored, issue_id) = match applied {
        Some(entity) => (Some(tx.put_entity(entity, meta)?), None),
        None => {
            let issue = issue_entity(event, &judgement, &actor.user_id);
            let id = issue.id.clone();
            tx.put_entity(issue, meta)?;
            (None, Some(id))
        }
    };
    let rev = stored.as_ref().map(|p| p.rev);
    let receipt = Receipt {
        seq: event.body.seq,
        event_id: event.body.id.clone(),
        hash: event.hash.clone(),
        verdict: judgement.verdict,
        reason: judgement.reason.clone(),
        rev,
        issue_id,
        received_at_ms: now.0,
    };
    tx.put_event(
        device_id,
        &JudgedEventRef {
            event,
            receipt: &receipt,
            time,
            user_id: &actor.user_id,
        },
        canonical,
    )?;
    Ok((receipt, stored))
}

#[cfg(test)]
#[path = "sync_properties.rs"]
#[allow(
    clippy::arithmetic_side_effects,
    reason = "tests build their inputs with small numbers"
)]
mod properties;
