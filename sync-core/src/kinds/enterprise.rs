//! Enterprises (企业): the businesses the town supervises, kept by the town safety office.
//!
//! `enterprise.save` creates an enterprise or replaces its record, and only an admin may send it.
//! The office's edits are events like any other: the server signs them with its own device key
//! and judges them through the same pipeline, so every device in the enterprise's buckets
//! (`town`, `grid:<grid>`, `enterprise:<id>`, `directory:<id>`) receives them by pull. The enterprise's id is the
//! event's `entity_id`; users' `enterprise` scopes name it.
//!
//! The unified social credit code (统一社会信用代码) is checked with [`crate::credit_code`]: a
//! malformed code is refused; a check-digit mismatch is kept, with `credit_code_warning` set.

use serde::{Deserialize, Serialize};

use super::hazard::Location;
use crate::credit_code::{CreditCodeCheck, check, normalise};
use crate::entity::{Entity, EntityScope, EntityType};
use crate::event::EventBody;
use crate::judge::{Actor, Kind, Reject, check_id, check_text, record_entity};

/// Above or below the designated size (规模以上 / 规模以下).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// 规上.
    Above,
    /// 规下.
    Below,
}

/// The risk colour (风险等级) the office assigns: red is the highest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskColour {
    /// 红 (major risk).
    Red,
    /// 橙 (high).
    Orange,
    /// 黄 (moderate).
    Yellow,
    /// 蓝 (low).
    Blue,
}

/// Risk flags (重点监管事项).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskFlags {
    /// Confined spaces (有限空间).
    pub confined_space: bool,
    /// Ammonia refrigeration (涉氨制冷).
    pub ammonia_refrigeration: bool,
    /// Combustible dust (粉尘涉爆).
    pub dust: bool,
    /// Special equipment (特种设备).
    pub special_equipment: bool,
    /// Liquefied petroleum gas (液化石油气).
    pub lpg: bool,
}

/// A contact person (联系人).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Name.
    pub name: String,
    /// Phone number.
    pub phone: String,
    /// What they are (法人, 安全员 …).
    #[serde(default)]
    pub role: Option<String>,
}

/// An enterprise's record, as the office keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseRecord {
    /// Registered name (企业名称).
    pub name: String,
    /// 统一社会信用代码.
    pub credit_code: String,
    /// Industry (行业), e.g. 紫菜加工.
    pub industry: String,
    /// 规上 / 规下.
    pub scale: Scale,
    /// The grid (网格 / 村居) it lies in.
    pub grid_id: String,
    /// Village or community (村居), as people name it.
    #[serde(default)]
    pub village: Option<String>,
    /// Address.
    pub address: String,
    /// Where, in micro-degrees.
    #[serde(default)]
    pub location: Option<Location>,
    /// Contact people.
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// Risk colour (风险等级) as the office grades it. Once the enterprise has graded risk points
    /// (`risk.assess`), the highest live one gives its colour instead, unless
    /// `risk_colour_reason` says why the office's stands.
    #[serde(default)]
    pub risk_colour: Option<RiskColour>,
    /// Why the office's `risk_colour` overrides the enterprise's risk points (调整理由).
    #[serde(default)]
    pub risk_colour_reason: Option<String>,
    /// Risk flags.
    #[serde(default)]
    pub flags: RiskFlags,
}

/// An enterprise entity's body: the record and the credit code's check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enterprise {
    /// The record.
    #[serde(flatten)]
    pub record: EnterpriseRecord,
    /// The check character did not match (kept: some early codes fail the check).
    pub credit_code_warning: bool,
}

/// `enterprise.save`: create or replace an enterprise's record (admin).
#[derive(Debug)]
pub struct EnterpriseSave;

impl Kind for EnterpriseSave {
    const NAME: &'static str = "enterprise.save";
    const ENTITY: EntityType = EntityType::Enterprise;
    type Payload = EnterpriseRecord;

    fn validate(_: &EventBody, r: &EnterpriseRecord) -> Result<(), Reject> {
        check_text("name", &r.name, 1, 100)?;
        check_text("industry", &r.industry, 1, 50)?;
        check_text("address", &r.address, 1, 200)?;
        check_id("grid_id", &r.grid_id)?;
        if let Some(village) = &r.village {
            check_text("village", village, 1, 50)?;
        }
        if let Some(reason) = &r.risk_colour_reason {
            check_text("risk_colour_reason", reason, 1, 200)?;
            if r.risk_colour.is_none() {
                return Err(Reject::quarantine(
                    "payload-invalid",
                    "`risk_colour_reason` explains an office's `risk_colour`: give the colour too",
                ));
            }
        }
        if r.credit_code != normalise(&r.credit_code) {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`credit_code` must be written in upper case without spaces",
            ));
        }
        check(&r.credit_code)
            .map_err(|err| Reject::quarantine("credit-code-invalid", err.to_string()))?;
        if r.contacts.len() > 20 {
            return Err(Reject::quarantine("payload-invalid", "at most 20 contacts"));
        }
        for contact in &r.contacts {
            check_text("contacts.name", &contact.name, 1, 50)?;
            let digits = contact.phone.chars().filter(char::is_ascii_digit).count();
            let phone_ok = contact
                .phone
                .chars()
                .all(|c| c.is_ascii_digit() || "+- ".contains(c));
            if !(5..=20).contains(&digits) || !phone_ok {
                return Err(Reject::quarantine(
                    "payload-invalid",
                    "`contacts.phone` must be 5 to 20 digits (with +, - or spaces)",
                ));
            }
            if let Some(role) = &contact.role {
                check_text("contacts.role", role, 1, 50)?;
            }
        }
        Ok(())
    }

    fn scope(
        _: &Actor,
        r: &EnterpriseRecord,
        current: Option<&Entity>,
    ) -> Result<EntityScope, Reject> {
        let _ = current;
        Ok(EntityScope {
            enterprise: None,
            team: None,
            grid: Some(r.grid_id.clone()),
            users: Vec::new(),
            public: false,
            directory: true,
            review: false,
            reference: false,
        })
    }

    fn authorize(
        actor: &Actor,
        _: &EnterpriseRecord,
        _: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        crate::judge::admin_only(actor, "keeps enterprise records")
    }

    fn apply(
        _: &Actor,
        event: &EventBody,
        record: EnterpriseRecord,
        mut scope: EntityScope,
        _: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let credit_code_warning = matches!(
            check(&record.credit_code),
            Ok(CreditCodeCheck::CheckDigitMismatch { .. })
        );
        // The enterprise's own buckets, so its manager and its team leads read its record.
        scope.enterprise = Some(event.entity_id.clone());
        scope.directory = true;
        let enterprise = Enterprise {
            record,
            credit_code_warning,
        };
        record_entity(&event.entity_id, EntityType::Enterprise, scope, &enterprise)
    }
}
