//! End-to-end tests: the real server on 127.0.0.1:0 with a temporary data directory, over HTTP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

mod admin;
mod articles;
mod auth;
mod backup;
mod blobs;
mod compliance;
mod console;
mod console_browser;
mod disk;
mod enterprises;
mod errors;
mod forgery;
mod hostile;
mod inspections;
mod leaks;
mod lifecycle;
mod metrics;
mod office;
mod properties;
mod proxy;
mod risks;
mod scenarios;
mod sync;
mod wechat;
