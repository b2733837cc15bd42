//! Anjian (安检) sync core: the words and rules that the central server and the field devices share.
//!
//! This crate is the part of Anjian that both ends run. The server uses it to decide, the devices
//! use it to show the result at once while offline; neither re-implements a rule written here.
//! Its shared part does no I/O at all: no network, no disk, no clock. Callers pass the current
//! time and the data in; the functions here only look at what they are given.
//!
//! - [`access`]: roles (角色) and scopes (管辖范围), and the buckets a grant reads.
//! - [`canonical`]: the canonical JSON encoding that is hashed and signed.
//! - [`event`]: events, their hash chain and signatures, device keys.
//! - [`entity`]: entities, their scopes and buckets, bucket digests.
//! - [`judge`]: verdicts and the judgement of an event against an entity.
//! - [`kinds`]: the event kinds (`meeting.*`, `hazard.*`).
//! - [`clock`]: capture times and device clock skew.
//! - [`protocol`]: the push and pull messages.
//! - `client` (feature `client`): the embeddable offline client: replica, outbox, transport.

// The shared part judges what arrives from the network: no arithmetic in it may overflow or
// panic on a hostile value (overflow checks are on in release), so every operation is checked.
#[warn(clippy::arithmetic_side_effects)]
pub mod access;
#[warn(clippy::arithmetic_side_effects)]
pub mod canonical;
#[cfg(feature = "client")]
pub mod client;
#[warn(clippy::arithmetic_side_effects)]
pub mod clock;
#[warn(clippy::arithmetic_side_effects)]
pub mod credit_code;
#[warn(clippy::arithmetic_side_effects)]
pub mod entity;
#[warn(clippy::arithmetic_side_effects)]
pub mod event;
#[warn(clippy::arithmetic_side_effects)]
pub mod judge;
#[warn(clippy::arithmetic_side_effects)]
pub mod kinds;
#[cfg(feature = "pack")]
pub mod pack;
#[warn(clippy::arithmetic_side_effects)]
pub mod protocol;
pub mod reasons;
