//! Where the node's secret key comes from: `--sk`, then `DMSGCURL_SK`, then `-c` config file.
//! Every bad value is an error that names its source; the key itself never appears in messages.

use std::fmt;
use std::path::Path;

use skychat_core::SecretKey;

/// The environment variable that may hold the secret key.
pub const SK_ENV: &str = "DMSGCURL_SK";

/// Where an identity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--sk`.
    Flag,
    /// `DMSGCURL_SK`.
    Env,
    /// `-c` config file.
    Config,
    /// Generated at start-up; changes at every restart.
    Ephemeral,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Flag => "flag",
            Self::Env => "env",
            Self::Config => "config",
            Self::Ephemeral => "ephemeral",
        })
    }
}

/// A resolved identity.
#[derive(Debug)]
pub struct Identity {
    /// The key.
    pub secret: SecretKey,
    /// Where it came from.
    pub source: Source,
}

/// Why no identity could be resolved.
#[derive(Debug, PartialEq, Eq)]
pub enum IdentityError {
    /// `--sk` is malformed.
    Flag(String),
    /// `DMSGCURL_SK` is set but malformed.
    Env(String),
    /// The config file could not be used.
    Config {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No source was given.
    Missing,
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag(reason) => write!(f, "--sk: {reason}"),
            Self::Env(reason) => write!(f, "{SK_ENV}: {reason}"),
            Self::Config { path, reason } => write!(f, "-c {path}: {reason}"),
            Self::Missing => write!(
                f,
                "no identity configured (set --sk, {SK_ENV} env, or -c /path/to/skywire-config.json)"
            ),
        }
    }
}

impl std::error::Error for IdentityError {}

/// Resolves the identity from the flag, the environment value, then the config file.
pub fn resolve(
    flag: Option<&str>,
    env: Option<&str>,
    config: Option<&str>,
) -> Result<Identity, IdentityError> {
    if let Some(text) = flag {
        let secret = SecretKey::from_hex(text).map_err(|e| IdentityError::Flag(e.to_string()))?;
        return Ok(Identity {
            secret,
            source: Source::Flag,
        });
    }
    if let Some(text) = env {
        let secret = SecretKey::from_hex(text).map_err(|e| IdentityError::Env(e.to_string()))?;
        return Ok(Identity {
            secret,
            source: Source::Env,
        });
    }
    if let Some(path) = config {
        let secret = read_config(Path::new(path)).map_err(|reason| IdentityError::Config {
            path: path.to_string(),
            reason,
        })?;
        return Ok(Identity {
            secret,
            source: Source::Config,
        });
    }
    Err(IdentityError::Missing)
}

/// Resolves from the process's own flag, environment and config.
pub fn resolve_from_env(
    flag: Option<&str>,
    config: Option<&str>,
) -> Result<Identity, IdentityError> {
    let env = std::env::var(SK_ENV).ok().filter(|v| !v.is_empty());
    resolve(flag, env.as_deref(), config)
}

/// The largest config file read. A skywire config is a few KB; anything far larger is not one.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

fn read_config(path: &Path) -> Result<SecretKey, String> {
    // Checked before opening: opening a FIFO would wait for a writer.
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file: give the path of a JSON config file".to_string());
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(file, MAX_CONFIG_BYTES + 1),
        &mut text,
    )
    .map_err(|e| format!("cannot read: {e}"))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!(
            "larger than {MAX_CONFIG_BYTES} bytes: this is not a skywire config file"
        ));
    }
    parse_config(&text)
}

/// Takes the secret key from the text of a skywire-style JSON config (its `"sk"` field). The
/// error says what is wrong without repeating the key.
pub fn parse_config(text: &str) -> Result<SecretKey, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let sk = value
        .get("sk")
        .ok_or_else(|| "has no \"sk\" field".to_string())?
        .as_str()
        .ok_or_else(|| "\"sk\" is not a string".to_string())?;
    SecretKey::from_hex(sk).map_err(|e| format!("\"sk\": {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SK: &str = "0101010101010101010101010101010101010101010101010101010101010101";

    #[test]
    fn flag_wins_over_env_and_config() {
        let id = resolve(Some(SK), Some("zz"), Some("/nonexistent")).unwrap();
        assert_eq!(id.source, Source::Flag);
    }

    #[test]
    fn a_bad_env_value_is_an_error_not_skipped() {
        let err = resolve(None, Some("abc"), None).unwrap_err();
        assert!(
            err.to_string().starts_with("DMSGCURL_SK: expected 64 hex"),
            "{err}"
        );
    }

    #[test]
    fn config_errors_name_the_file_and_problem() {
        let dir = std::env::temp_dir().join(format!("skychat-id-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let no_sk = dir.join("no-sk.json");
        std::fs::write(&no_sk, r#"{"pk":"x"}"#).unwrap();
        let err = resolve(None, None, Some(no_sk.to_str().unwrap())).unwrap_err();
        assert!(err.to_string().ends_with("has no \"sk\" field"), "{err}");
        let bad = dir.join("bad.json");
        std::fs::write(&bad, "{").unwrap();
        let err = resolve(None, None, Some(bad.to_str().unwrap())).unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn errors_never_echo_the_secret() {
        let almost = &SK[..63];
        let err = resolve(Some(almost), None, None).unwrap_err();
        assert!(!err.to_string().contains(almost));
    }
}
