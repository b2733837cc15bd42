//! The event kinds, one module per entity type.
//!
//! - [`meeting`]: `meeting.submit`, `meeting.amend` — single-owner records, frozen once submitted.
//! - [`hazard`]: `hazard.report`, `hazard.transition` — a lifecycle where a stale `from` is a
//!   conflict.
//! - [`enterprise`]: `enterprise.save` — the office's records, sent by the server itself.

pub mod enterprise;
pub mod hazard;
pub mod meeting;

#[cfg(test)]
pub(crate) mod tests;
