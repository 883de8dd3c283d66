//! Logging: `tracing` events (and the `log` records of the app and the driver, bridged in) go
//! through an env filter and a formatter to stderr, by way of a non-blocking writer. A stderr
//! that is read slowly or not at all never stalls the node: when the writer's buffer is full,
//! lines are dropped and counted ([`dropped_lines`], shown in `/status`).
//!
//! The filter comes from `--log-level` (one level for everything), else `RUST_LOG` (any
//! env-filter directives, such as `debug` or `skychat=trace,info`), else `info`.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Lines the writer holds for a slow stderr before it drops new ones.
pub const BUFFERED_LINES: usize = 8_192;

/// Counts of lines, shared by the writer's two ends.
struct Counts {
    /// Handed to the writer by the formatter.
    submitted: AtomicU64,
    /// Written to stderr by the writer's thread.
    written: AtomicU64,
    /// Dropped because the buffer was full.
    dropped: OnceLock<ErrorCounter>,
}

static COUNTS: Counts = Counts {
    submitted: AtomicU64::new(0),
    written: AtomicU64::new(0),
    dropped: OnceLock::new(),
};

/// Log lines dropped so far because stderr did not keep up.
pub fn dropped_lines() -> u64 {
    COUNTS
        .dropped
        .get()
        .map_or(0, |c| u64::try_from(c.dropped_lines()).unwrap_or(u64::MAX))
}

/// Waits, at most `limit`, until every line logged so far has been written to stderr or
/// dropped, so that what was logged before, say, a banner on stdout is on stderr first.
pub fn settle(limit: Duration) {
    let target = COUNTS.submitted.load(Ordering::Acquire);
    let deadline = Instant::now() + limit;
    while COUNTS.written.load(Ordering::Acquire) + dropped_lines() < target
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Keeps the writer's thread; dropping it writes out what is buffered (waiting about a second at
/// most when stderr is stalled). Hold it until the program ends.
#[must_use = "dropping the guard stops the log writer"]
pub struct Guard(#[allow(dead_code)] WorkerGuard);

/// Parses a level name: error, warn, info, debug, trace or off.
pub fn parse_level(text: &str) -> Result<LevelFilter, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "error" => Ok(LevelFilter::ERROR),
        "warn" => Ok(LevelFilter::WARN),
        "info" => Ok(LevelFilter::INFO),
        "debug" => Ok(LevelFilter::DEBUG),
        "trace" => Ok(LevelFilter::TRACE),
        "off" => Ok(LevelFilter::OFF),
        _ => Err(format!(
            "unknown log level {text:?} (use error, warn, info, debug, trace or off)"
        )),
    }
}

/// The filter for `--log-level` (`flag`) and `RUST_LOG` (`rust_log`): the flag wins; an empty or
/// absent `RUST_LOG` means `info`.
pub fn filter(flag: Option<&str>, rust_log: Option<&str>) -> Result<EnvFilter, String> {
    let builder = EnvFilter::builder().with_default_directive(LevelFilter::INFO.into());
    match (flag, rust_log.map(str::trim).filter(|v| !v.is_empty())) {
        (Some(text), _) => {
            let level = parse_level(text).map_err(|e| format!("--log-level: {e}"))?;
            Ok(EnvFilter::default().add_directive(level.into()))
        }
        (None, Some(directives)) => builder.parse(directives).map_err(|e| {
            format!(
                "RUST_LOG={directives:?} is not a valid filter ({e}); use a level (error, warn, \
                 info, debug, trace, off), target=level pairs such as skychat=debug, or \
                 --log-level"
            )
        }),
        (None, None) => Ok(builder.parse_lossy("")),
    }
}

/// Installs the logger. Call once, first thing, and hold the guard until the end.
pub fn init(flag: Option<&str>) -> Result<Guard, String> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = filter(flag, rust_log.as_deref())?;
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(BUFFERED_LINES)
        .thread_name("skychat-log")
        .finish(CountingStderr);
    let _ = COUNTS.dropped.set(writer.error_counter());
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(Counting(writer))
        .with_ansi(std::io::stderr().is_terminal());
    tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init()
        .map_err(|e| format!("cannot install the logger: {e}"))?;
    Ok(Guard(guard))
}

/// The formatter's side of the writer: counts each line handed over.
struct Counting(NonBlocking);

impl<'a> MakeWriter<'a> for Counting {
    type Writer = Counting;

    fn make_writer(&'a self) -> Self::Writer {
        Counting(self.0.clone())
    }
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        COUNTS.submitted.fetch_add(1, Ordering::AcqRel);
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The writer thread's side: stderr, counting each line written.
struct CountingStderr;

impl Write for CountingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let result = std::io::stderr().lock().write_all(buf);
        COUNTS.written.fetch_add(1, Ordering::AcqRel);
        result.map(|()| buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_rust_log_forms() {
        assert_eq!(parse_level("debug"), Ok(LevelFilter::DEBUG));
        assert_eq!(parse_level(" OFF "), Ok(LevelFilter::OFF));
        assert!(parse_level("loud").is_err());
        assert!(parse_level("3").is_err(), "names only");
        let max = |flag, rust_log| filter(flag, rust_log).unwrap().max_level_hint();
        assert_eq!(max(None, None), Some(LevelFilter::INFO));
        assert_eq!(max(None, Some("  ")), Some(LevelFilter::INFO));
        assert_eq!(max(None, Some("debug")), Some(LevelFilter::DEBUG));
        assert_eq!(max(None, Some("skychat=trace")), Some(LevelFilter::TRACE));
        assert_eq!(
            max(None, Some("warn,skychat_driver=debug")),
            Some(LevelFilter::DEBUG)
        );
        assert_eq!(max(Some("error"), Some("trace")), Some(LevelFilter::ERROR));
        assert_eq!(max(Some("off"), None), Some(LevelFilter::OFF));
        let bad = filter(None, Some("skychat=loud")).unwrap_err();
        assert!(
            bad.contains("RUST_LOG") && bad.contains("--log-level"),
            "{bad}"
        );
        let bad = filter(Some("loud"), None).unwrap_err();
        assert!(bad.starts_with("--log-level: unknown log level"), "{bad}");
    }
}
