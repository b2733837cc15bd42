//! Structured logs through `tracing`: human-readable lines or JSON, filtered by `log.level` or
//! `RUST_LOG`. Secrets never reach a log: they are `SecretString`s whose `Debug` is redacted, and
//! request logs carry the method and path, never bodies or headers.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber; logs go to stderr so stdout stays for command output.
/// A `log.level` (or `RUST_LOG`) that is not a valid filter is an error, not silence.
pub fn init(settings: &LogSettings) -> anyhow::Result<()> {
    // A bare word is read by tracing as a module name, so a misspelt level ("inof") would
    // quietly log nothing: a filter without `=` or `,` must be a level.
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let level = settings.level.trim();
    if !level.contains(['=', ',']) && !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
        anyhow::bail!(
            "log.level = {level:?} is not a level: use one of {} or a filter such as \"anjian_server=debug,info\"",
            LEVELS.join(", ")
        );
    }
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) => EnvFilter::try_new(&env)
            .map_err(|err| anyhow::anyhow!("RUST_LOG={env:?} is not a valid log filter: {err}"))?,
        Err(_) => EnvFilter::try_new(&settings.level).map_err(|err| {
            anyhow::anyhow!(
                "log.level = {:?} is not a valid log filter (try \"info\"): {err}",
                settings.level
            )
        })?,
    };
    // Colours only for a terminal: a log file gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let result = match settings.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Journald => builder.with_ansi(false).without_time().try_init(),
    };
    // A second init (in tests) keeps the first subscriber.
    drop(result);
    Ok(())
}
