//! Workers (从业人员) of an enterprise: their post and their special-operation certificates
//! (特种作业操作证), each with an expiry date.
//!
//! `worker.save` creates or changes a worker; the entity id is chosen by the device that first
//! records them. Sent by the enterprise's safety manager or an admin. A worker is part of the
//! enterprise's directory, and of their team's bucket when they have one. Whether a certificate
//! has expired is derived ([`Worker::expired_certificates`]), not stored.

use serde::{Deserialize, Serialize};

use crate::entity::{Entity, EntityScope, EntityType};
use crate::event::EventBody;
use crate::judge::{
    Actor, Kind, Reject, check_date, check_id, check_text, manager_or_admin, record_entity,
};

/// A special-operation certificate (特种作业操作证).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// What it certifies (电工作业, 焊接与热切割作业, 制冷与空调作业 …).
    pub kind: String,
    /// Its number.
    pub number: String,
    /// Valid until, `YYYY-MM-DD`.
    pub expires_on: String,
}

/// A worker's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Worker {
    /// The enterprise.
    pub enterprise_id: String,
    /// Their team's code, if they are in one.
    #[serde(default)]
    pub team_id: Option<String>,
    /// Name.
    pub name: String,
    /// Post (岗位).
    pub post: String,
    /// Certificates, at most 20.
    #[serde(default)]
    pub certificates: Vec<Certificate>,
}

impl Worker {
    /// The certificates past their date on `today` (`YYYY-MM-DD`).
    pub fn expired_certificates<'a>(
        &'a self,
        today: &'a str,
    ) -> impl Iterator<Item = &'a Certificate> + 'a {
        self.certificates
            .iter()
            .filter(move |c| c.expires_on.as_str() < today)
    }
}

/// `worker.save`: create or change a worker.
#[derive(Debug)]
pub struct WorkerSave;

impl Kind for WorkerSave {
    const NAME: &'static str = "worker.save";
    const ENTITY: EntityType = EntityType::Worker;
    type Payload = Worker;

    fn validate(_: &EventBody, w: &Worker) -> Result<(), Reject> {
        check_id("enterprise_id", &w.enterprise_id)?;
        if let Some(team) = &w.team_id {
            check_id("team_id", team)?;
        }
        check_text("name", &w.name, 1, 50)?;
        check_text("post", &w.post, 1, 50)?;
        if w.certificates.len() > 20 {
            return Err(Reject::quarantine(
                "payload-invalid",
                "at most 20 certificates",
            ));
        }
        for certificate in &w.certificates {
            check_text("certificates.kind", &certificate.kind, 1, 50)?;
            check_text("certificates.number", &certificate.number, 1, 50)?;
            check_date("certificates.expires_on", &certificate.expires_on)?;
        }
        Ok(())
    }

    fn scope(_: &Actor, w: &Worker, current: Option<&Entity>) -> Result<EntityScope, Reject> {
        if let Some(current) = current {
            if current.scope.enterprise.as_deref() != Some(w.enterprise_id.as_str()) {
                return Err(Reject::quarantine(
                    "payload-invalid",
                    "a worker cannot move to another enterprise; record them there anew",
                ));
            }
        }
        Ok(EntityScope {
            enterprise: Some(w.enterprise_id.clone()),
            team: w.team_id.clone(),
            directory: true,
            ..EntityScope::default()
        })
    }

    fn authorize(
        actor: &Actor,
        w: &Worker,
        _: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        manager_or_admin(actor, &w.enterprise_id, "keeps its workers")
    }

    fn apply(
        _: &Actor,
        event: &EventBody,
        worker: Worker,
        scope: EntityScope,
        _: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        record_entity(&event.entity_id, EntityType::Worker, scope, &worker)
    }
}
