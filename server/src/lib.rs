//! Anjian (安检) central server: the OpenAPI HTTP API over the authoritative store.
//!
//! The layers, each depending only on the ones after it:
//! - [`api`]: the wire. poem-openapi operations, request and response types, the one error body.
//! - [`service`]: what the operations mean: accounts, sessions, login throttling, WeChat login.
//! - [`store`]: the narrow storage interface and its embedded redb backend.
//!
//! [`startup`] wires them together on an already-bound listener, which is what `main` and the
//! end-to-end tests both call; [`connections`] is the accept loop and the bounds on every
//! connection; [`config`] holds the typed settings.

pub mod api;
pub mod backup;
pub mod config;
pub mod connections;
pub mod console;
pub mod demo;
pub mod metrics;
pub mod proxy;
pub mod service;
pub mod space;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]
mod tidy;
