//! Risk points (风险点) and their grading (风险分级管控).
//!
//! An enterprise identifies its risk points — a place, a piece of equipment or an operation —
//! and grades each: the accident types it may cause (GB 6441's classes), an assessment by the
//! risk matrix (L×S) or by LEC with its inputs kept, the level that follows (重大 / 较大 / 一般 /
//! 低, shown red / orange / yellow / blue), and the control measures with the level of the
//! organisation that owns each (公司 / 车间 / 班组 / 岗位). A risk is major without scoring when
//! one of the direct criteria (重大风险直接判定) holds: the assessor says which.
//!
//! `risk.assess` records a risk point or re-assesses it. A re-assessment names the version it
//! replaces (`supersedes`), so two people re-assessing at once cannot overwrite each other: the
//! second is a conflict. Every earlier assessment stays in `history`. `risk.retire` takes a
//! risk point out of use (the equipment is gone), keeping it. Sent by the enterprise's safety
//! manager (企业安全员) or an admin; read by the enterprise's people (its directory) and the
//! office. The server keeps each enterprise's colour from its highest live risk point.

use serde::{Deserialize, Serialize};

use super::enterprise::RiskColour;
use crate::entity::{Entity, EntityScope, EntityType};
use crate::event::EventBody;
use crate::judge::{
    Actor, Kind, Reject, Related, check_id, check_text, in_enterprise_grid, manager_or_admin,
    record_entity, registered_enterprise,
};

/// The accident types of GB 6441-86 (企业职工伤亡事故分类), the classes a risk may cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccidentType {
    /// 物体打击.
    StruckByObject,
    /// 车辆伤害.
    Vehicle,
    /// 机械伤害.
    Machinery,
    /// 起重伤害.
    Lifting,
    /// 触电.
    ElectricShock,
    /// 淹溺.
    Drowning,
    /// 灼烫.
    Scald,
    /// 火灾.
    Fire,
    /// 高处坠落.
    FallFromHeight,
    /// 坍塌.
    Collapse,
    /// 冒顶片帮.
    RoofFall,
    /// 透水.
    WaterInrush,
    /// 放炮.
    Blasting,
    /// 火药爆炸.
    ExplosiveExplosion,
    /// 瓦斯爆炸.
    GasExplosion,
    /// 锅炉爆炸.
    BoilerExplosion,
    /// 容器爆炸.
    VesselExplosion,
    /// 其它爆炸.
    OtherExplosion,
    /// 中毒和窒息.
    PoisoningAsphyxiation,
    /// 其它伤害.
    OtherInjury,
}

impl AccidentType {
    /// The name GB 6441 gives it.
    pub fn chinese(self) -> &'static str {
        match self {
            AccidentType::StruckByObject => "物体打击",
            AccidentType::Vehicle => "车辆伤害",
            AccidentType::Machinery => "机械伤害",
            AccidentType::Lifting => "起重伤害",
            AccidentType::ElectricShock => "触电",
            AccidentType::Drowning => "淹溺",
            AccidentType::Scald => "灼烫",
            AccidentType::Fire => "火灾",
            AccidentType::FallFromHeight => "高处坠落",
            AccidentType::Collapse => "坍塌",
            AccidentType::RoofFall => "冒顶片帮",
            AccidentType::WaterInrush => "透水",
            AccidentType::Blasting => "放炮",
            AccidentType::ExplosiveExplosion => "火药爆炸",
            AccidentType::GasExplosion => "瓦斯爆炸",
            AccidentType::BoilerExplosion => "锅炉爆炸",
            AccidentType::VesselExplosion => "容器爆炸",
            AccidentType::OtherExplosion => "其它爆炸",
            AccidentType::PoisoningAsphyxiation => "中毒和窒息",
            AccidentType::OtherInjury => "其它伤害",
        }
    }
}

/// A risk level (风险等级), highest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// 重大风险 (red).
    Major,
    /// 较大风险 (orange).
    High,
    /// 一般风险 (yellow).
    General,
    /// 低风险 (blue).
    Low,
}

impl RiskLevel {
    /// Its colour (四色).
    pub fn colour(self) -> RiskColour {
        match self {
            RiskLevel::Major => RiskColour::Red,
            RiskLevel::High => RiskColour::Orange,
            RiskLevel::General => RiskColour::Yellow,
            RiskLevel::Low => RiskColour::Blue,
        }
    }

    /// Its name in Chinese.
    pub fn chinese(self) -> &'static str {
        match self {
            RiskLevel::Major => "重大风险",
            RiskLevel::High => "较大风险",
            RiskLevel::General => "一般风险",
            RiskLevel::Low => "低风险",
        }
    }
}

/// The LEC method's likelihood (L) values, in tenths: 0.1, 0.2, 0.5, 1, 3, 6, 10.
pub const LEC_L_X10: [u32; 7] = [1, 2, 5, 10, 30, 60, 100];
/// The LEC method's exposure (E) values, in tenths: 0.5, 1, 2, 3, 6, 10.
pub const LEC_E_X10: [u32; 6] = [5, 10, 20, 30, 60, 100];
/// The LEC method's consequence (C) values: 1, 3, 7, 15, 40, 100.
pub const LEC_C: [u32; 6] = [1, 3, 7, 15, 40, 100];

/// An assessment with its inputs (评价方法).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Assessment {
    /// The risk matrix (风险矩阵法): R = L × S, each 1 to 5. R 20–25 重大, 15–16 较大, 9–12
    /// 一般, 1–8 低.
    Ls {
        /// Likelihood (可能性), 1–5.
        l: u32,
        /// Severity (严重性), 1–5.
        s: u32,
    },
    /// 作业条件危险性评价法: D = L × E × C. L and E are given in tenths (L 0.5 is `l_x10: 5`)
    /// so that the record stays in integers. D > 320 重大, 160–320 较大, 70–160 一般, ≤ 70 低.
    Lec {
        /// Likelihood × 10 (one of 1, 2, 5, 10, 30, 60, 100).
        l_x10: u32,
        /// Exposure × 10 (one of 5, 10, 20, 30, 60, 100).
        e_x10: u32,
        /// Consequence (one of 1, 3, 7, 15, 40, 100).
        c: u32,
    },
}

impl Assessment {
    /// The score × 100 (R or D), exact; an error naming the input off its scale.
    pub fn score_x100(self) -> Result<u64, Reject> {
        let off = |what: &str| {
            Reject::quarantine(
                "risk-score-invalid",
                format!("{what} is not on its method's scale"),
            )
        };
        match self {
            Assessment::Ls { l, s } => {
                if !(1..=5).contains(&l) {
                    return Err(off("L (likelihood, 1–5)"));
                }
                if !(1..=5).contains(&s) {
                    return Err(off("S (severity, 1–5)"));
                }
                // Checked on their scales above: the products are small.
                Ok(u64::from(l)
                    .saturating_mul(u64::from(s))
                    .saturating_mul(100))
            }
            Assessment::Lec { l_x10, e_x10, c } => {
                if !LEC_L_X10.contains(&l_x10) {
                    return Err(off("L × 10 (1, 2, 5, 10, 30, 60 or 100)"));
                }
                if !LEC_E_X10.contains(&e_x10) {
                    return Err(off("E × 10 (5, 10, 20, 30, 60 or 100)"));
                }
                if !LEC_C.contains(&c) {
                    return Err(off("C (1, 3, 7, 15, 40 or 100)"));
                }
                Ok(u64::from(l_x10)
                    .saturating_mul(u64::from(e_x10))
                    .saturating_mul(u64::from(c)))
            }
        }
    }

    /// The level its score gives.
    pub fn level(self) -> Result<RiskLevel, Reject> {
        let score = self.score_x100()?;
        Ok(match self {
            Assessment::Ls { .. } => match score {
                2000.. => RiskLevel::Major,
                1500.. => RiskLevel::High,
                900.. => RiskLevel::General,
                _ => RiskLevel::Low,
            },
            Assessment::Lec { .. } => match score {
                32_001.. => RiskLevel::Major,
                16_000.. => RiskLevel::High,
                7_001.. => RiskLevel::General,
                _ => RiskLevel::Low,
            },
        })
    }
}

/// The level of the organisation that owns a control measure (管控层级).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// 公司级.
    Company,
    /// 车间级.
    Workshop,
    /// 班组级.
    Team,
    /// 岗位级.
    Post,
}

/// A control measure (管控措施).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    /// What is done (工程技术、管理、培训教育、个体防护、应急处置 …).
    pub text: String,
    /// Who owns it.
    pub owner: Owner,
}

/// A point on the enterprise's floor plan, in thousandths of its width and height from the top
/// left (一图).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanPoint {
    /// From the left, 0–1000.
    pub x_permille: u32,
    /// From the top, 0–1000.
    pub y_permille: u32,
}

/// The `risk.assess` payload: a risk point as assessed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskAssessment {
    /// The enterprise (企业).
    pub enterprise_id: String,
    /// The risk point's name (风险点名称): 液氨储罐区, 烘干炉 ….
    pub name: String,
    /// Where it is (场所 / 部位).
    pub place: String,
    /// The posts (岗位) exposed to it, whose cards name it.
    #[serde(default)]
    pub posts: Vec<String>,
    /// The accident types it may cause (1 to 20, each once).
    pub accident_types: Vec<AccidentType>,
    /// The hazards it holds (危险有害因素), in words.
    pub hazards: String,
    /// The assessment and its inputs.
    pub assessment: Assessment,
    /// Which direct criterion makes it major whatever its score (重大风险直接判定), if one does.
    #[serde(default)]
    pub direct_major: Option<String>,
    /// Control measures (1 to 50).
    pub measures: Vec<Measure>,
    /// Where it is on the floor plan, when placed.
    #[serde(default)]
    pub plan_point: Option<PlanPoint>,
    /// The version this assessment replaces: 0 for a new risk point.
    pub supersedes: u32,
}

/// An earlier assessment, kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Earlier {
    /// Its version.
    pub version: u32,
    /// As assessed.
    pub assessment: RiskAssessment,
    /// Its level.
    pub level: RiskLevel,
    /// Its score × 100.
    pub score_x100: u64,
    /// Who assessed it.
    pub assessed_by: String,
    /// The event.
    pub event_id: String,
}

/// A risk point entity's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskPoint {
    /// The current assessment.
    #[serde(flatten)]
    pub assessment: RiskAssessment,
    /// Its version, from 1.
    pub version: u32,
    /// The score × 100 (R or D).
    pub score_x100: u64,
    /// The level: the score's, or major by a direct criterion.
    pub level: RiskLevel,
    /// The level's colour.
    pub colour: RiskColour,
    /// Who assessed this version.
    pub assessed_by: String,
    /// The event.
    pub assessed_event: String,
    /// Taken out of use, with why (the risk point stays on record).
    pub retired: Option<String>,
    /// Earlier versions, oldest first.
    pub history: Vec<Earlier>,
}

/// Versions a risk point keeps at most.
const MAX_VERSIONS: u32 = 100;

fn risk_point_of(entity: &Entity) -> Result<RiskPoint, Reject> {
    serde::Deserialize::deserialize(&entity.body).map_err(|err| {
        Reject::quarantine(
            "entity-unreadable",
            format!("the stored risk point cannot be read: {err}"),
        )
    })
}

fn authorize(actor: &Actor, enterprise: &str) -> Result<(), Reject> {
    manager_or_admin(actor, enterprise, "grades its risks")
}

fn scope_of(enterprise: &str) -> EntityScope {
    EntityScope {
        enterprise: Some(enterprise.to_string()),
        directory: true,
        ..EntityScope::default()
    }
}

/// `risk.assess`: a risk point, new or re-assessed.
#[derive(Debug)]
pub struct RiskAssess;

impl Kind for RiskAssess {
    const NAME: &'static str = "risk.assess";
    const ENTITY: EntityType = EntityType::RiskPoint;
    type Payload = RiskAssessment;

    fn validate(_: &EventBody, r: &RiskAssessment) -> Result<(), Reject> {
        check_id("enterprise_id", &r.enterprise_id)?;
        check_text("name", &r.name, 1, 100)?;
        check_text("place", &r.place, 1, 100)?;
        check_text("hazards", &r.hazards, 1, 1000)?;
        if r.posts.len() > 50 {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`posts` names at most 50 posts",
            ));
        }
        for (i, post) in r.posts.iter().enumerate() {
            check_text("posts", post, 1, 50)?;
            if post.trim() != post || r.posts[..i].contains(post) {
                return Err(Reject::quarantine(
                    "payload-invalid",
                    "`posts` names each post once, without spaces around it",
                ));
            }
        }
        let repeated = r
            .accident_types
            .iter()
            .enumerate()
            .any(|(i, t)| r.accident_types[..i].contains(t));
        if r.accident_types.is_empty() || repeated {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`accident_types` names one or more of GB 6441's classes, each once",
            ));
        }
        r.assessment.score_x100()?;
        if let Some(reason) = &r.direct_major {
            check_text("direct_major", reason, 1, 200)?;
        }
        if r.measures.is_empty() || r.measures.len() > 50 {
            return Err(Reject::quarantine(
                "payload-invalid",
                "`measures` names 1 to 50 control measures (管控措施)",
            ));
        }
        for measure in &r.measures {
            check_text("measures.text", &measure.text, 1, 500)?;
        }
        if let Some(point) = r.plan_point {
            if point.x_permille > 1000 || point.y_permille > 1000 {
                return Err(Reject::quarantine(
                    "payload-invalid",
                    "`plan_point` is in thousandths of the plan: 0 to 1000 each",
                ));
            }
        }
        Ok(())
    }

    fn related(r: &RiskAssessment) -> Vec<String> {
        vec![r.enterprise_id.clone()]
    }

    fn check_related(r: &RiskAssessment, related: &Related) -> Result<(), Reject> {
        registered_enterprise(related, &r.enterprise_id)
    }

    fn refine_scope(scope: EntityScope, r: &RiskAssessment, related: &Related) -> EntityScope {
        in_enterprise_grid(scope, related, &r.enterprise_id)
    }

    fn scope(
        _: &Actor,
        r: &RiskAssessment,
        current: Option<&Entity>,
    ) -> Result<EntityScope, Reject> {
        if let Some(current) = current {
            if current.scope.enterprise.as_deref() != Some(r.enterprise_id.as_str()) {
                return Err(Reject::quarantine(
                    "payload-invalid",
                    "a risk point cannot move to another enterprise",
                ));
            }
        }
        Ok(scope_of(&r.enterprise_id))
    }

    fn authorize(
        actor: &Actor,
        r: &RiskAssessment,
        _: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        authorize(actor, &r.enterprise_id)
    }

    fn apply(
        actor: &Actor,
        event: &EventBody,
        assessment: RiskAssessment,
        scope: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let previous = current.map(risk_point_of).transpose()?;
        let version_now = previous.as_ref().map_or(0, |p| p.version);
        if assessment.supersedes != version_now {
            return Err(Reject::conflict(
                "stale-version",
                format!(
                    "this assessment replaces version {} but the risk point is at version {version_now}: someone re-assessed it first; look at it again",
                    assessment.supersedes
                ),
            ));
        }
        if previous.as_ref().is_some_and(|p| p.retired.is_some()) {
            return Err(Reject::conflict(
                "risk-retired",
                "this risk point was retired; record a new one",
            ));
        }
        if version_now >= MAX_VERSIONS {
            return Err(Reject::quarantine(
                "payload-invalid",
                format!("a risk point keeps at most {MAX_VERSIONS} versions; record a new one"),
            ));
        }
        let score_x100 = assessment.assessment.score_x100()?;
        let level = if assessment.direct_major.is_some() {
            RiskLevel::Major
        } else {
            assessment.assessment.level()?
        };
        let mut history = Vec::new();
        if let Some(p) = previous {
            history = p.history;
            history.push(Earlier {
                version: p.version,
                assessment: p.assessment,
                level: p.level,
                score_x100: p.score_x100,
                assessed_by: p.assessed_by,
                event_id: p.assessed_event,
            });
        }
        let point = RiskPoint {
            assessment,
            version: version_now.saturating_add(1),
            score_x100,
            level,
            colour: level.colour(),
            assessed_by: actor.user_id.clone(),
            assessed_event: event.id.clone(),
            retired: None,
            history,
        };
        record_entity(&event.entity_id, EntityType::RiskPoint, scope, &point)
    }
}

/// The `risk.retire` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retirement {
    /// Why (设备拆除、工艺取消 …).
    pub note: String,
}

/// `risk.retire`: a risk point taken out of use, kept on record.
#[derive(Debug)]
pub struct RiskRetire;

impl Kind for RiskRetire {
    const NAME: &'static str = "risk.retire";
    const ENTITY: EntityType = EntityType::RiskPoint;
    type Payload = Retirement;

    fn validate(_: &EventBody, r: &Retirement) -> Result<(), Reject> {
        check_text("note", &r.note, 1, 500)
    }

    fn scope(_: &Actor, _: &Retirement, current: Option<&Entity>) -> Result<EntityScope, Reject> {
        let current = current.ok_or_else(|| {
            Reject::quarantine("unknown-entity", "there is no risk point with this id")
        })?;
        Ok(current.scope.clone())
    }

    fn authorize(
        actor: &Actor,
        _: &Retirement,
        scope: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        authorize(actor, scope.enterprise.as_deref().unwrap_or_default())
    }

    fn apply(
        _: &Actor,
        event: &EventBody,
        r: Retirement,
        scope: EntityScope,
        current: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        let current = current.ok_or_else(|| {
            Reject::quarantine("unknown-entity", "there is no risk point with this id")
        })?;
        let mut point = risk_point_of(current)?;
        if point.retired.is_some() {
            return Err(Reject::conflict(
                "risk-retired",
                "this risk point was already retired",
            ));
        }
        point.retired = Some(r.note.trim().to_string());
        record_entity(&event.entity_id, EntityType::RiskPoint, scope, &point)
    }
}
