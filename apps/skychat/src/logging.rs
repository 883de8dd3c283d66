//! Logs to stderr with levels. The level comes from `--log-level`, else `RUST_LOG` (its last
//! bare level word, so `RUST_LOG=debug` and `RUST_LOG=skychat=debug` both work), else `info`.

use std::io::Write;
use std::time::Instant;

use log::{LevelFilter, Log, Metadata, Record};

struct StderrLogger {
    started: Instant,
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let elapsed = self.started.elapsed();
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "[{:>4}.{:03}s {:<5} {}] {}",
            elapsed.as_secs(),
            elapsed.subsec_millis(),
            record.level(),
            record.target(),
            record.args()
        );
    }

    fn flush(&self) {}
}

/// Parses a level name.
pub fn parse_level(text: &str) -> Result<LevelFilter, String> {
    text.trim().parse::<LevelFilter>().map_err(|_| {
        format!("unknown log level {text:?} (use error, warn, info, debug, trace or off)")
    })
}

fn level_from_rust_log(value: &str) -> Option<LevelFilter> {
    value
        .split(',')
        .filter_map(|part| part.rsplit('=').next())
        .filter_map(|word| word.parse::<LevelFilter>().ok())
        .next_back()
}

/// Installs the logger. Call once, first thing.
pub fn init(flag: Option<&str>) -> Result<(), String> {
    let level = match flag {
        Some(text) => parse_level(text)?,
        None => std::env::var("RUST_LOG")
            .ok()
            .and_then(|v| level_from_rust_log(&v))
            .unwrap_or(LevelFilter::Info),
    };
    let logger = Box::new(StderrLogger {
        started: Instant::now(),
    });
    log::set_boxed_logger(logger).map_err(|e| e.to_string())?;
    log::set_max_level(level);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_forms() {
        assert_eq!(level_from_rust_log("debug"), Some(LevelFilter::Debug));
        assert_eq!(
            level_from_rust_log("skychat=trace"),
            Some(LevelFilter::Trace)
        );
        assert_eq!(level_from_rust_log("nonsense"), None);
        assert!(parse_level("loud").is_err());
    }
}
