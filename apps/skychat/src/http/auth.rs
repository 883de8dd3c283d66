//! Bearer-token authentication for an HTTP surface bound beyond loopback. The token lives in a
//! file created on first start with mode 0600 and is compared in constant time.

use std::io::Write;
use std::path::Path;

use subtle::ConstantTimeEq;

/// The expected bearer token.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Reads the token from `path`, creating it (32 random bytes as hex, mode 0600) if absent.
    pub fn load_or_create(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let token = text.trim().to_string();
                if token.len() < 16 {
                    return Err(format!(
                        "{}: token is shorter than 16 characters; delete the file to regenerate it",
                        path.display()
                    ));
                }
                Ok(Self(token))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                getrandom::getrandom(&mut bytes).map_err(|e| format!("no OS randomness: {e}"))?;
                let token = hex::encode(bytes);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options
                    .open(path)
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                file.write_all(format!("{token}\n").as_bytes())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                Ok(Self(token))
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Whether `presented` matches, in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        let expected = self.0.as_bytes();
        let presented = presented.as_bytes();
        expected.len() == presented.len() && bool::from(expected.ct_eq(presented))
    }
}

/// The token a request presents: `Authorization: Bearer <t>`, or `?token=<t>` for clients that
/// cannot set headers (a browser's EventSource).
pub fn presented(request: &tide::Request<crate::service::Service>) -> Option<String> {
    if let Some(value) = request.header("Authorization")
        && let Some(token) = bearer_token(value.last().as_str())
    {
        return Some(token.to_string());
    }
    request
        .url()
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// The token of an `Authorization` value using the Bearer scheme, whose name is
/// case-insensitive (RFC 9110, section 11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_name_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    #[test]
    fn matches_only_the_exact_token() {
        let token = Token("0123456789abcdef0123".into());
        assert!(token.matches("0123456789abcdef0123"));
        assert!(!token.matches("0123456789abcdef0124"));
        assert!(!token.matches("0123"));
    }
}
