//! `skychat keygen`: writes a new identity file in the form of a Skywire config's key pair,
//! `{"pk": <66-hex Skywire key>, "sk": <64 hex>}`, readable only by its owner, and never over an
//! existing file. Also draws the ephemeral keys and the node's seed from OS randomness.

use std::io::Write;
use std::path::Path;

use skychat_core::{SecretKey, SkywireSecretKey};

use crate::identity::PublicKeys;

/// Generates a key from OS randomness and writes it to `path` with mode 0600. Returns the key
/// and its two public keys.
pub fn write_new(path: &Path) -> Result<(SecretKey, PublicKeys), String> {
    let (secret, keys) = random_identity()?;
    let body = serde_json::json!({
        "pk": keys.skywire.to_hex(),
        "sk": secret.to_hex(),
    });
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            format!(
                "{} already exists; refusing to overwrite an identity",
                path.display()
            )
        }
        _ => format!("cannot create {}: {e}", path.display()),
    })?;
    let text = serde_json::to_string_pretty(&body).expect("JSON of strings");
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((secret, keys))
}

/// A fresh key from OS randomness, for an ephemeral identity.
pub fn ephemeral() -> Result<SecretKey, String> {
    random_identity().map(|(secret, _)| secret)
}

/// A secret key from OS randomness that is also a secp256k1 secret key, with its public keys.
fn random_identity() -> Result<(SecretKey, PublicKeys), String> {
    let secret = first_valid_secret(|| {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|e| format!("no OS randomness: {e}"))?;
        Ok(bytes)
    })?;
    let keys = PublicKeys::of(&secret).map_err(|e| format!("generated key: {e}"))?;
    Ok((secret, keys))
}

/// Draws 32 bytes until they form a secp256k1 secret key (not zero, below the group order).
/// Almost every draw does: the chance of a redraw is about 2^-128.
fn first_valid_secret(
    mut draw: impl FnMut() -> Result<[u8; 32], String>,
) -> Result<SecretKey, String> {
    loop {
        let bytes = draw()?;
        if SkywireSecretKey::from_bytes(bytes).is_ok() {
            return Ok(SecretKey::from_bytes(bytes));
        }
    }
}

/// A seed for the node's randomness, from the OS.
pub fn seed() -> Result<[u8; 32], String> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| format!("no OS randomness: {e}"))?;
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_again_until_the_bytes_are_a_secp256k1_secret() {
        let mut draws = vec![[0u8; 32], [0xff; 32], [7; 32]].into_iter();
        let mut count = 0;
        let secret = first_valid_secret(|| {
            count += 1;
            Ok(draws.next().expect("a draw"))
        })
        .unwrap();
        assert_eq!(secret.to_bytes(), [7; 32]);
        assert_eq!(count, 3);
    }

    #[test]
    fn a_failing_draw_is_an_error() {
        let err = first_valid_secret(|| Err("no OS randomness: test".to_string())).unwrap_err();
        assert_eq!(err, "no OS randomness: test");
    }
}
