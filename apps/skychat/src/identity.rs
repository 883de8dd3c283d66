//! Where the node's secret key comes from (`--sk`, then `DMSGCURL_SK`, then `-c` config file),
//! and the two public keys that one secret gives: the Skywire key (secp256k1, 66 hex, equal to
//! the `pk` a Skywire visor derives from the same `sk`) and the native X25519 key (64 hex). Every
//! bad value is an error that names its source; the secret itself never appears in messages.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use skychat_core::SkywireKeyError;
use skychat_core::{PublicKey, SecretKey, SkywirePublicKey, SkywireSecretKey};

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

/// The two public keys of one secret key. The secret is used as it is in both groups: the
/// secp256k1 scalar and the X25519 scalar are the same 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKeys {
    /// The native suite's X25519 key (64 hex).
    pub native: PublicKey,
    /// The Skywire suite's secp256k1 key (66 hex): the `pk` a Skywire visor derives from the
    /// same `sk`, and the key Go skychat peers know this node by.
    pub skywire: SkywirePublicKey,
}

impl PublicKeys {
    /// Both public keys of `secret`. Fails when its bytes are not a secp256k1 secret key (zero,
    /// or not below the group order), which then has no Skywire key.
    pub fn of(secret: &SecretKey) -> Result<Self, SkywireKeyError> {
        let skywire = SkywireSecretKey::from_bytes(secret.to_bytes())?.public_key();
        Ok(Self {
            native: secret.public_key(),
            skywire,
        })
    }

    /// What peers dial to reach a listener bound to `listen` over the native suite:
    /// `tcp://<64 hex>@host:port`.
    pub fn native_dial(&self, listen: SocketAddr) -> String {
        format!("tcp://{}@{}", self.native, dial_host_port(listen))
    }

    /// What peers (Go skychat among them) dial to reach a listener bound to `listen` over the
    /// Skywire suite: `tcp://<66 hex>@host:port`.
    pub fn skywire_dial(&self, listen: SocketAddr) -> String {
        format!("tcp://{}@{}", self.skywire, dial_host_port(listen))
    }

    /// Both dial strings, as `/status` shows them: `{"native": ..., "skywire": ...}`.
    pub fn dial_json(&self, listen: SocketAddr) -> serde_json::Value {
        serde_json::json!({
            "native": self.native_dial(listen),
            "skywire": self.skywire_dial(listen),
        })
    }
}

/// The `host:port` peers dial: the bound address, or `<this-host>:port` when the listener is on
/// every interface (the node cannot know which of its addresses a peer reaches).
fn dial_host_port(listen: SocketAddr) -> String {
    if listen.ip().is_unspecified() {
        format!("<this-host>:{}", listen.port())
    } else {
        listen.to_string()
    }
}

/// A resolved identity: the secret, where it came from, and its two public keys.
#[derive(Debug)]
pub struct Identity {
    /// The key.
    pub secret: SecretKey,
    /// Where it came from.
    pub source: Source,
    keys: PublicKeys,
    note: Option<String>,
}

impl Identity {
    /// An identity for `secret`; fails when the secret has no Skywire key.
    pub fn new(secret: SecretKey, source: Source) -> Result<Self, SkywireKeyError> {
        let keys = PublicKeys::of(&secret)?;
        Ok(Self {
            secret,
            source,
            keys,
            note: None,
        })
    }

    /// Both public keys.
    pub fn public_keys(&self) -> PublicKeys {
        self.keys
    }

    /// The native suite's X25519 public key (64 hex).
    pub fn native_pk(&self) -> PublicKey {
        self.keys.native
    }

    /// The Skywire public key (66 hex), as a visor derives it from the same `sk`.
    pub fn skywire_pk(&self) -> SkywirePublicKey {
        self.keys.skywire
    }

    /// Something the operator should know about where the key came from, such as a config file
    /// whose `"pk"` is the native key written by an older `skychat keygen`. Never holds the
    /// secret.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }
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

/// Parses a 64-hex secret and checks that it gives a Skywire key. The error never repeats it.
fn parse_secret(text: &str) -> Result<(SecretKey, PublicKeys), String> {
    let secret = SecretKey::from_hex(text).map_err(|e| e.to_string())?;
    let keys = PublicKeys::of(&secret).map_err(|_| no_skywire_key())?;
    Ok((secret, keys))
}

fn no_skywire_key() -> String {
    "not a valid secp256k1 secret key (it is zero, or not below the curve order), so it cannot \
     give a Skywire public key: use the \"sk\" of a Skywire config, or create a key with \
     `skychat keygen`"
        .to_string()
}

/// Resolves the identity from the flag, the environment value, then the config file.
pub fn resolve(
    flag: Option<&str>,
    env: Option<&str>,
    config: Option<&str>,
) -> Result<Identity, IdentityError> {
    if let Some(text) = flag {
        let (secret, keys) = parse_secret(text).map_err(IdentityError::Flag)?;
        return Ok(Identity {
            secret,
            source: Source::Flag,
            keys,
            note: None,
        });
    }
    if let Some(text) = env {
        let (secret, keys) = parse_secret(text).map_err(IdentityError::Env)?;
        return Ok(Identity {
            secret,
            source: Source::Env,
            keys,
            note: None,
        });
    }
    if let Some(path) = config {
        let fail = |reason| IdentityError::Config {
            path: path.to_string(),
            reason,
        };
        let loaded = read_config(Path::new(path)).map_err(fail)?;
        return Ok(Identity {
            secret: loaded.secret,
            source: Source::Config,
            keys: loaded.keys,
            note: loaded
                .legacy_pk
                .then(|| legacy_pk_note(path, &loaded.keys.skywire)),
        });
    }
    Err(IdentityError::Missing)
}

fn legacy_pk_note(path: &str, skywire: &SkywirePublicKey) -> String {
    format!(
        "-c {path}: \"pk\" is this key's native (X25519) public key, as an older `skychat keygen` \
         wrote it; the file is used as it is. A Skywire config has the Skywire key there: \
         {skywire}"
    )
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

/// What a config file gave.
#[derive(Debug)]
pub struct ConfigKey {
    /// The `"sk"`.
    pub secret: SecretKey,
    /// Its two public keys.
    pub keys: PublicKeys,
    /// True when `"pk"` is the native key (a file written by an older `skychat keygen`) rather
    /// than the Skywire key.
    pub legacy_pk: bool,
}

fn read_config(path: &Path) -> Result<ConfigKey, String> {
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
    parse_config_key(&text)
}

/// Takes the secret key from the text of a skywire-style JSON config, checked as
/// [`parse_config_key`] checks it.
pub fn parse_config(text: &str) -> Result<SecretKey, String> {
    parse_config_key(text).map(|key| key.secret)
}

/// Takes the secret key from the text of a skywire-style JSON config (its `"sk"` field) and
/// checks its `"pk"` field, when there is one, against the Skywire key derived from `"sk"`. A
/// `"pk"` equal to the native key is accepted too (files written by an older `skychat keygen`).
/// The error says what is wrong without repeating the secret.
pub fn parse_config_key(text: &str) -> Result<ConfigKey, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let sk = value
        .get("sk")
        .ok_or_else(|| "has no \"sk\" field".to_string())?
        .as_str()
        .ok_or_else(|| "\"sk\" is not a string".to_string())?;
    let (secret, keys) = parse_secret(sk).map_err(|e| format!("\"sk\": {e}"))?;
    let mut legacy_pk = false;
    if let Some(pk) = value.get("pk") {
        let pk = pk
            .as_str()
            .ok_or_else(|| "\"pk\" is not a string: fix or remove \"pk\"".to_string())?
            .trim();
        if pk.eq_ignore_ascii_case(&keys.native.to_hex()) {
            legacy_pk = true;
        } else if !pk.eq_ignore_ascii_case(&keys.skywire.to_hex()) {
            return Err(format!(
                "\"pk\" does not match \"sk\" (the Skywire key derived from \"sk\" is {}; fix or \
                 remove \"pk\")",
                keys.skywire
            ));
        }
    }
    Ok(ConfigKey {
        secret,
        keys,
        legacy_pk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SK: &str = "0101010101010101010101010101010101010101010101010101010101010101";

    /// The secret key 1, whose Skywire key is the curve's generator point (SEC 2, secp256k1 `G`
    /// in compressed form).
    const SK_ONE: &str = "0000000000000000000000000000000000000000000000000000000000000001";
    const G: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

    /// The order of the secp256k1 group (SEC 2): the first value that is not a secret key.
    const ORDER: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
    const ORDER_MINUS_ONE: &str =
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140";
    const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("skychat-id-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn file(&self, name: &str, text: &str) -> String {
            let path = self.0.join(name);
            std::fs::write(&path, text).unwrap();
            path.to_str().unwrap().to_string()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn config(sk: &str, pk: Option<&str>) -> String {
        match pk {
            Some(pk) => serde_json::json!({"sk": sk, "pk": pk}).to_string(),
            None => serde_json::json!({"sk": sk}).to_string(),
        }
    }

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
        let dir = TempDir::new("errors");
        let no_sk = dir.file("no-sk.json", r#"{"pk":"x"}"#);
        let err = resolve(None, None, Some(&no_sk)).unwrap_err();
        assert!(err.to_string().ends_with("has no \"sk\" field"), "{err}");
        let bad = dir.file("bad.json", "{");
        let err = resolve(None, None, Some(&bad)).unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }

    #[test]
    fn errors_never_echo_the_secret() {
        let almost = &SK[..63];
        let err = resolve(Some(almost), None, None).unwrap_err();
        assert!(!err.to_string().contains(almost));
    }

    #[test]
    fn both_public_keys_come_from_the_one_secret() {
        let id = resolve(Some(SK_ONE), None, None).unwrap();
        assert_eq!(id.skywire_pk().to_hex(), G);
        let secret = SecretKey::from_hex(SK_ONE).unwrap();
        assert_eq!(id.native_pk(), secret.public_key());
        assert_eq!(id.public_keys().skywire, id.skywire_pk());
        assert_eq!(id.public_keys().native, id.native_pk());
        assert_eq!(id.note(), None);
        // The largest secret key is accepted.
        assert!(resolve(Some(ORDER_MINUS_ONE), None, None).is_ok());
    }

    #[test]
    fn a_secret_without_a_skywire_key_is_refused_naming_its_source() {
        for bad in [ZERO, ORDER, &"ff".repeat(32)] {
            let err = resolve(Some(bad), None, None).unwrap_err().to_string();
            assert!(
                err.starts_with("--sk: not a valid secp256k1 secret key"),
                "{err}"
            );
            assert!(err.contains("cannot give a Skywire public key"), "{err}");
            assert!(!err.contains(bad), "the key is not echoed: {err}");

            let err = resolve(None, Some(bad), None).unwrap_err().to_string();
            assert!(
                err.starts_with("DMSGCURL_SK: not a valid secp256k1 secret key"),
                "{err}"
            );

            let dir = TempDir::new("range");
            let path = dir.file("sk.json", &config(bad, None));
            let err = resolve(None, None, Some(&path)).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!(
                    "-c {path}: \"sk\": not a valid secp256k1 secret key"
                )),
                "{err}"
            );
            assert!(err.contains("Skywire"), "{err}");
            assert!(!err.contains(bad), "the key is not echoed: {err}");
        }
    }

    #[test]
    fn a_config_pk_must_be_the_skywire_key_of_its_sk() {
        let dir = TempDir::new("mismatch");
        let other = SkywireSecretKey::from_bytes([2; 32])
            .unwrap()
            .public_key()
            .to_hex();
        let path = dir.file("mismatch.json", &config(SK_ONE, Some(&other)));
        let err = resolve(None, None, Some(&path)).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "-c {path}: \"pk\" does not match \"sk\" (the Skywire key derived from \"sk\" is \
                 {G}; fix or remove \"pk\")"
            )
        );
        for pk in ["", "02", "not hex at all"] {
            let path = dir.file("odd.json", &config(SK, Some(pk)));
            let err = resolve(None, None, Some(&path)).unwrap_err().to_string();
            assert!(err.contains("\"pk\" does not match \"sk\""), "{err}");
            assert!(!err.contains(SK), "the secret is not echoed: {err}");
        }
        let path = dir.file("number.json", &format!(r#"{{"sk":"{SK}","pk":7}}"#));
        let err = resolve(None, None, Some(&path)).unwrap_err().to_string();
        assert!(err.contains("\"pk\" is not a string"), "{err}");
    }

    #[test]
    fn a_matching_config_pk_is_compared_ignoring_case_and_spaces() {
        let dir = TempDir::new("match");
        let loose = format!("  {}\n", G.to_ascii_uppercase());
        let path = dir.file("match.json", &config(SK_ONE, Some(&loose)));
        let id = resolve(None, None, Some(&path)).unwrap();
        assert_eq!(id.source, Source::Config);
        assert_eq!(id.skywire_pk().to_hex(), G);
        assert_eq!(id.note(), None);
        let path = dir.file("no-pk.json", &config(SK_ONE, None));
        assert!(resolve(None, None, Some(&path)).is_ok());
    }

    #[test]
    fn an_older_keygen_file_with_the_native_pk_still_loads_with_a_note() {
        let dir = TempDir::new("legacy");
        let native = SecretKey::from_hex(SK).unwrap().public_key().to_hex();
        let path = dir.file("old.json", &config(SK, Some(&native)));
        let id = resolve(None, None, Some(&path)).unwrap();
        assert_eq!(id.native_pk().to_hex(), native);
        let note = id.note().expect("a note about the older file");
        assert!(note.starts_with(&format!("-c {path}: ")), "{note}");
        assert!(note.contains(&id.skywire_pk().to_hex()), "{note}");
        assert!(!note.contains(SK), "the secret is not echoed: {note}");
    }

    #[test]
    fn dial_strings_carry_each_key_and_the_bound_address() {
        let keys = resolve(Some(SK_ONE), None, None).unwrap().public_keys();
        let any: SocketAddr = "0.0.0.0:8801".parse().unwrap();
        assert_eq!(
            keys.skywire_dial(any),
            format!("tcp://{G}@<this-host>:8801")
        );
        assert_eq!(
            keys.native_dial(any),
            format!("tcp://{}@<this-host>:8801", keys.native.to_hex())
        );
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        assert_eq!(keys.skywire_dial(v6), format!("tcp://{G}@[::1]:9"));
        let v4: SocketAddr = "127.0.0.2:9".parse().unwrap();
        assert_eq!(
            keys.native_dial(v4),
            format!("tcp://{}@127.0.0.2:9", keys.native.to_hex())
        );
    }
}
