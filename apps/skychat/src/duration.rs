//! Durations on the command line: `8s`, `500ms`, `1m`, `1m30s`, or a bare number of seconds.

use std::time::Duration;

/// Parses a `--wait` value.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration like 8s or 500ms: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("8s").unwrap(), Duration::from_secs(8));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("3").unwrap(), Duration::from_secs(3));
        assert!(parse("soon").is_err());
    }
}
