//! The event kinds, one module per entity type.
//!
//! - [`meeting`]: `meeting.submit`, `meeting.amend` — single-owner records, frozen once submitted.
//! - [`hazard`]: `hazard.report`, `hazard.transition` — a lifecycle where a stale `from` is a
//!   conflict.

pub mod hazard;
pub mod meeting;

#[cfg(test)]
pub(crate) mod tests;
