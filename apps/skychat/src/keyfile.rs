//! `skychat keygen`: writes a new identity file, `{"sk": ..., "pk": ...}`, readable only by its
//! owner, and never over an existing file.

use std::io::Write;
use std::path::Path;

use skychat_core::SecretKey;

/// Generates a key from OS randomness and writes it to `path` with mode 0600.
pub fn write_new(path: &Path) -> Result<SecretKey, String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| format!("no OS randomness: {e}"))?;
    let secret = SecretKey::from_bytes(bytes);
    let body = serde_json::json!({
        "pk": secret.public_key().to_hex(),
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
    Ok(secret)
}

/// A fresh key from OS randomness, for an ephemeral identity.
pub fn ephemeral() -> Result<SecretKey, String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| format!("no OS randomness: {e}"))?;
    Ok(SecretKey::from_bytes(bytes))
}

/// A seed for the node's randomness, from the OS.
pub fn seed() -> Result<[u8; 32], String> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| format!("no OS randomness: {e}"))?;
    Ok(seed)
}
