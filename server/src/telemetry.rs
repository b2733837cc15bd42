//! Structured logs through `tracing`: human-readable lines or JSON, filtered by `log.level` or
//! `RUST_LOG`. Secrets never reach a log: they are `SecretString`s whose `Debug` is redacted, and
//! request logs carry the method and path, never bodies or headers.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber; logs go to stderr so stdout stays for command output.
pub fn init(settings: &LogSettings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match settings.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // A second init (in tests) keeps the first subscriber.
    drop(result);
}
