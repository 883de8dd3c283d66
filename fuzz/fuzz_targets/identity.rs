//! Identity resolution from the `--sk` flag and `DMSGCURL_SK` values, and the JSON config
//! parser, on arbitrary text.
//!
//! Input: two fields (flag, env; an empty field means not given), the rest is the config text.
//!
//! Properties: no panic; the flag wins over the environment; a resolved key is exactly the hex
//! that was given; an error never repeats the secret text it was handed (checked for runs of at
//! least 8 hex digits, which no error message contains on its own).
#![no_main]

use libfuzzer_sys::fuzz_target;
use skychat::identity::{Source, parse_config, resolve};
use skychat_fuzz::Cursor;

fuzz_target!(|data: &[u8]| run(data));

fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok().filter(|t| !t.is_empty())
}

/// A secret-looking value: the error must not contain it.
fn secretish(value: &str) -> Option<&str> {
    let value = value.trim();
    (value.len() >= 8 && value.bytes().all(|b| b.is_ascii_hexdigit())).then_some(value)
}

fn assert_not_echoed(error: &str, given: &str) {
    if let Some(secret) = secretish(given) {
        assert!(!error.contains(secret), "error repeats the secret: {error}");
    }
}

fn run(data: &[u8]) {
    let mut input = Cursor::new(data);
    let flag = text(input.field());
    let env = text(input.field());
    let config = input.rest();

    match resolve(flag, env, None) {
        Ok(identity) => {
            let (expected_source, given) = match (flag, env) {
                (Some(flag), _) => (Source::Flag, flag),
                (None, Some(env)) => (Source::Env, env),
                (None, None) => unreachable!("no source resolves"),
            };
            assert_eq!(identity.source, expected_source);
            let hex = hex::encode(identity.secret.to_bytes());
            assert_eq!(hex, given.trim().to_ascii_lowercase());
        }
        Err(error) => {
            let error = error.to_string();
            for given in [flag, env].into_iter().flatten() {
                assert_not_echoed(&error, given);
            }
        }
    }

    let Ok(config) = std::str::from_utf8(config) else {
        return;
    };
    let sk = serde_json::from_str::<serde_json::Value>(config)
        .ok()
        .and_then(|v| v.get("sk").and_then(|s| s.as_str()).map(str::to_owned));
    match parse_config(config) {
        Ok(secret) => {
            let sk = sk.expect("a parsed config has an sk string");
            assert_eq!(
                hex::encode(secret.to_bytes()),
                sk.trim().to_ascii_lowercase()
            );
        }
        Err(error) => {
            if let Some(sk) = &sk {
                assert_not_echoed(&error, sk);
            }
        }
    }
}
