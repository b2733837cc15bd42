//! Runs the fake of WeChat's `jscode2session` (`anjian_tests::FakeWeChat`) on loopback, for a
//! server under test that is not in this process (the API conformance run of `scripts/test`).
//!
//! Usage: `fake-wechat <app id> <app secret> <seconds>`. Prints its base URL on one line, then
//! serves for at most `<seconds>` (or until killed).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test helper fails loudly"
)]

use std::io::Write as _;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, app_id, secret, seconds] = args.as_slice() else {
        eprintln!("usage: fake-wechat <app id> <app secret> <seconds>");
        std::process::exit(64);
    };
    let seconds: u64 = seconds.parse().expect("seconds is a number");
    let fake = anjian_tests::FakeWeChat::start(app_id, secret).await;
    println!("{}", fake.base);
    std::io::stdout().flush().unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
}
