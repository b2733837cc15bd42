//! Entities and buckets: what the server's projections hold and how they are partitioned.
//!
//! An *entity* is one thing the town tracks — a shift meeting, a hazard, a sync issue — as the
//! judged events have left it. Its *scope* says whose it is (enterprise, team, grid, the users
//! it concerns), and from the scope follow its *buckets*: the partitions a device pulls. Every
//! entity is in `town`; a grid's in `grid:<id>`; an enterprise's in `enterprise:<id>`; a team's
//! in `team:<enterprise>/<team>`; each concerned user's in `user:<id>`; published articles in
//! `public`; an enterprise's directory (its record, teams, workers) in `directory:<enterprise>`. A caller reads exactly the buckets of its grant ([`crate::access::Grant::buckets`]).
//!
//! A bucket's *digest* lets a device check its replica: the XOR, over the bucket's entities, of
//! sha256(`<entity id>` `\n` `<revision in decimal>`), with the entity count beside it. XOR makes
//! it cheap to keep up to date one change at a time, on the server and on the device.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The bucket every entity is in.
pub const TOWN: &str = "town";
/// The bucket of public articles.
pub const PUBLIC: &str = "public";
/// The bucket of articles waiting for a reviewer.
pub const REVIEW: &str = "review";
/// The bucket of reference data every user reads (checklists).
pub const REFERENCE: &str = "reference";

/// What an entity is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    /// A shift safety meeting (班组安全交接会).
    Meeting,
    /// A hazard (隐患).
    Hazard,
    /// An event the server did not apply: a conflict or a quarantined event, kept for a person.
    SyncIssue,
    /// An enterprise (企业) the town supervises.
    Enterprise,
    /// A grid (网格 / 村居): an area of the town with its inspectors.
    Grid,
    /// A team (班组) of an enterprise.
    Team,
    /// A worker (从业人员) of an enterprise.
    Worker,
    /// A safety-awareness article (宣传稿件).
    Article,
    /// A checklist template version (检查表).
    Template,
    /// An inspection (检查).
    Inspection,
    /// A pre-shift one-minute briefing (岗前一分钟培训) of a worker.
    Briefing,
    /// A risk point (风险点) of an enterprise and its grading.
    RiskPoint,
    /// One of a post's three cards (三卡).
    Card,
    /// An enterprise's yearly safety commitment (主体责任告知承诺).
    Commitment,
    /// A notice of major safety risks (重大安全风险公告).
    Notice,
    /// A team's duty schedule (working calendar and duties).
    Schedule,
    /// An enterprise's floor plan (平面布置图), where its risk points are placed.
    FloorPlan,
}

impl EntityType {
    /// The protocol name (`sync_issue`).
    pub fn name(self) -> &'static str {
        match self {
            EntityType::Meeting => "meeting",
            EntityType::Hazard => "hazard",
            EntityType::SyncIssue => "sync_issue",
            EntityType::Enterprise => "enterprise",
            EntityType::Grid => "grid",
            EntityType::Team => "team",
            EntityType::Worker => "worker",
            EntityType::Article => "article",
            EntityType::Template => "template",
            EntityType::Inspection => "inspection",
            EntityType::Briefing => "briefing",
            EntityType::RiskPoint => "risk_point",
            EntityType::Card => "card",
            EntityType::Commitment => "commitment",
            EntityType::Notice => "notice",
            EntityType::Schedule => "schedule",
            EntityType::FloorPlan => "floor_plan",
        }
    }
}

/// Whose an entity is; its buckets follow from it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityScope {
    /// The enterprise (企业) it belongs to.
    pub enterprise: Option<String>,
    /// The team (班组) of that enterprise.
    pub team: Option<String>,
    /// The grid (网格) it lies in.
    pub grid: Option<String>,
    /// Users it concerns (its author, the author of an issue).
    pub users: Vec<String>,
    /// Whether the public may read it.
    pub public: bool,
    /// Part of its enterprise's directory (the enterprise record, its teams and workers), which
    /// everyone working for the enterprise reads: bucket `directory:<enterprise>`.
    #[serde(default)]
    pub directory: bool,
    /// Waiting for a reviewer: bucket `review`, which reviewers read.
    #[serde(default)]
    pub review: bool,
    /// Reference data every user reads (checklists): bucket `reference`.
    #[serde(default)]
    pub reference: bool,
}

impl EntityScope {
    /// This scope with `user` among the users it concerns (who created or changed the entity).
    pub fn with_user(mut self, user: &str) -> EntityScope {
        if !self.users.iter().any(|u| u == user) {
            self.users.push(user.to_string());
        }
        self
    }

    /// The buckets of an entity with this scope, sorted, without repeats.
    pub fn buckets(&self) -> Vec<String> {
        let mut buckets = vec![TOWN.to_string()];
        if let Some(grid) = &self.grid {
            buckets.push(format!("grid:{grid}"));
        }
        if let Some(enterprise) = &self.enterprise {
            buckets.push(format!("enterprise:{enterprise}"));
            if let Some(team) = &self.team {
                buckets.push(format!("team:{enterprise}/{team}"));
            }
        }
        if let (true, Some(enterprise)) = (self.directory, &self.enterprise) {
            buckets.push(format!("directory:{enterprise}"));
        }
        buckets.extend(self.users.iter().map(|u| format!("user:{u}")));
        if self.public {
            buckets.push(PUBLIC.to_string());
        }
        if self.review {
            buckets.push(REVIEW.to_string());
        }
        if self.reference {
            buckets.push(REFERENCE.to_string());
        }
        buckets.sort();
        buckets.dedup();
        buckets
    }
}

/// An entity as judged: the same on the server and, after a pull, on every device that reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// Its id (a UUID chosen by the device that created it, or derived for sync issues).
    pub id: String,
    /// What it is.
    pub entity_type: EntityType,
    /// Whose it is.
    pub scope: EntityScope,
    /// A tombstone: the entity is gone, and devices should drop it.
    pub deleted: bool,
    /// The type's data (see the kinds).
    pub body: Value,
    /// The blobs (photos, by sha256) it cites, sorted: the evidence behind it. For records of
    /// what happened (hazards, meetings, inspections) every photo any of its events cited; for
    /// an article, the images it shows now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<String>,
}

/// A UUIDv8 determined by `parts`: the first 16 bytes of sha256 of the parts joined by `\n`, with
/// the version and variant bits set (byte 6: `0x8_`, byte 8: `0b10…`). Entities that must be
/// unique by some key (a team's meeting in a slot, a grid by its code) take such an id, so two
/// devices that make "the same" entity make the same id.
pub fn derived_id(parts: &[&str]) -> String {
    let digest = Sha256::digest(parts.join("\n").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::new_v8(bytes).to_string()
}

/// One entity's contribution to its buckets' digests.
pub fn digest_item(entity_id: &str, rev: u64) -> [u8; 32] {
    Sha256::digest(format!("{entity_id}\n{rev}").as_bytes()).into()
}

/// A bucket's entity count and digest, kept up to date one change at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketDigest {
    /// How many entities (tombstones included) the bucket holds.
    pub count: u64,
    /// XOR of [`digest_item`] over them.
    pub digest: [u8; 32],
}

impl BucketDigest {
    /// Adds an entity at a revision.
    pub fn add(&mut self, entity_id: &str, rev: u64) {
        self.count = self.count.saturating_add(1);
        self.xor(entity_id, rev);
    }

    /// Removes an entity at the revision it had.
    pub fn remove(&mut self, entity_id: &str, rev: u64) {
        self.count = self.count.saturating_sub(1);
        self.xor(entity_id, rev);
    }

    fn xor(&mut self, entity_id: &str, rev: u64) {
        for (d, i) in self.digest.iter_mut().zip(digest_item(entity_id, rev)) {
            *d ^= i;
        }
    }

    /// The digest as hex.
    pub fn digest_hex(&self) -> String {
        hex::encode(self.digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_the_scope() {
        let scope = EntityScope {
            enterprise: Some("e1".into()),
            team: Some("t1".into()),
            grid: Some("g1".into()),
            users: vec!["u1".into(), "u1".into()],
            public: false,
            directory: false,
            review: false,
            reference: false,
        };
        assert_eq!(
            scope.buckets(),
            vec!["enterprise:e1", "grid:g1", "team:e1/t1", "town", "user:u1"]
        );
        assert_eq!(EntityScope::default().buckets(), vec!["town"]);
    }

    #[test]
    fn digests_do_not_depend_on_order_and_undo_exactly() {
        let mut a = BucketDigest::default();
        a.add("x", 1);
        a.add("y", 2);
        let mut b = BucketDigest::default();
        b.add("y", 2);
        b.add("x", 1);
        assert_eq!(a, b);
        b.remove("x", 1);
        b.add("x", 5);
        assert_ne!(a, b);
        b.remove("x", 5);
        b.add("x", 1);
        assert_eq!(a, b);
    }
}
