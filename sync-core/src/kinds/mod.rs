//! The event kinds, one module per entity type.
//!
//! - [`meeting`]: `meeting.submit`, `meeting.amend` — single-owner records, frozen once submitted.
//! - [`briefing`]: `briefing.record` — pre-shift one-minute briefings (岗前一分钟培训), frozen
//!   once recorded, one per worker and shift.
//! - [`hazard`]: `hazard.report`, `hazard.transition` — a lifecycle where a stale `from` is a
//!   conflict.
//! - [`enterprise`]: `enterprise.save` — the office's records, sent by the server itself.
//! - [`grid`]: `grid.save` — the town's grids (网格 / 村居), likewise.
//! - [`team`]: `team.save` — an enterprise's teams (班组) and the meetings they hold.
//! - [`worker`]: `worker.save` — an enterprise's workers (从业人员) and their certificates.
//! - [`inspection`]: `template.publish`, `inspection.submit`, `inspection.amend` — checklists
//!   (检查表) and the inspections (检查) that pin them.
//! - [`article`]: `article.save`, `article.submit`, `article.review`, `article.withdraw` —
//!   safety-awareness articles (宣传稿件), with field-level merge of draft edits.
//! - [`risk`]: `risk.assess`, `risk.retire` — risk points (风险点), graded by L×S or LEC, each
//!   re-assessment a new version with the earlier kept.
//! - [`card`]: `card.publish` — a post's three cards (三卡), versioned, covering its graded risks.
//! - [`commitment`]: `commitment.sign` — the principal's yearly commitment (主体责任告知承诺).
//! - [`notice`]: `notice.publish`, `notice.withdraw` — notices of major risks (重大安全风险公告).
//! - [`schedule`]: `schedule.save` — a team's working calendar and the duties it makes due.
//! - [`floorplan`]: `floorplan.save` — an enterprise's floor plan, where its risk points are
//!   placed (一图).
//! - [`issue`]: `issue.handle` — the office marks a sync issue (同步问题) handled, with a note.

pub mod article;
pub mod briefing;
pub mod card;
pub mod commitment;
pub mod enterprise;
pub mod floorplan;
pub mod grid;
pub mod hazard;
pub mod inspection;
pub mod issue;
pub mod meeting;
pub mod notice;
pub mod risk;
pub mod schedule;
pub mod team;
pub mod worker;

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod matrix;
