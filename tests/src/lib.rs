//! The end-to-end harness: the real server on `127.0.0.1:0` over a temporary data directory,
//! reached over real HTTP, and a fake of WeChat's `jscode2session` on loopback.
//!
//! Tests call named helpers (`server.login(..)`, `server.create_user(..)`) rather than building
//! requests by hand. Everything the servers log is captured in memory ([`logs`]) so tests can
//! check that no secret was ever written.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test harness fails loudly on purpose"
)]

pub mod child;
pub mod chromium;
pub mod console;
pub mod devices;
pub mod logs;
pub mod photos;
pub mod raw;
pub mod server;
pub mod tls;
pub mod wechat;

pub use devices::TestDevice;
pub use server::{ADMIN_PASSWORD, DemoTown, Reply, TestServer, USER_PASSWORD};
pub use wechat::FakeWeChat;
