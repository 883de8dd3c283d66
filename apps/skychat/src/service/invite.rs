//! Invites: the string one user copies from their page and another pastes to start a chat.
//! `skychat:<pk>?tcp=<host:port>&name=<name>` carries a node's key and, optionally, where it
//! can be dialled and the name it suggests for itself (percent-encoded UTF-8). This module owns
//! the format both ways ([`Invite::to_string`], [`parse_peer_text`], which also takes a bare key
//! or a `tcp://<pk>@host:port` address) and nothing else.

use std::fmt::{self, Write as _};

use skychat_core::PublicKey;

use super::aliases::check_alias;
use crate::address::parse_peer_spec;

/// What an invite (or a key, or a `tcp://` address) says about a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// Its key.
    pub pk: PublicKey,
    /// Where to dial it over TCP-direct: `host:port`.
    pub tcp: Option<String>,
    /// The name it suggests for itself, checked as an alias is.
    pub name: Option<String>,
}

/// The scheme that starts an invite.
pub const SCHEME: &str = "skychat:";

impl fmt::Display for Invite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}", self.pk)?;
        let mut separator = '?';
        if let Some(tcp) = &self.tcp {
            write!(f, "{separator}tcp={}", encode(tcp))?;
            separator = '&';
        }
        if let Some(name) = &self.name {
            write!(f, "{separator}name={}", encode(name))?;
        }
        Ok(())
    }
}

/// Reads what a user pasted to name a peer: an invite, a `tcp://<pk>@host:port` address or a
/// bare key (64 or 66 hex). The error says what is wrong, starting with "invalid invite".
pub fn parse_peer_text(text: &str) -> Result<Invite, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(
            "invalid invite: it is empty; paste an invite (skychat:<key>…), a \
                    tcp://<key>@host:port address or a key"
                .into(),
        );
    }
    if let Ok(pk) = text.parse::<PublicKey>() {
        return Ok(Invite {
            pk,
            tcp: None,
            name: None,
        });
    }
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("tcp://") {
        let spec = parse_peer_spec(text).map_err(|e| format!("invalid invite: address {e}"))?;
        return Ok(Invite {
            pk: spec.pk,
            tcp: Some(spec.addr),
            name: None,
        });
    }
    if !lower.starts_with(SCHEME) {
        return Err(
            "invalid invite: it is neither an invite (skychat:<key>…), a \
                    tcp://<key>@host:port address nor a key (64 or 66 hex)"
                .into(),
        );
    }
    let rest = &text[SCHEME.len()..];
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (key, query) = rest.split_once('?').unwrap_or((rest, ""));
    let pk = key
        .parse::<PublicKey>()
        .map_err(|e| format!("invalid invite: its key {key:?}: {e}"))?;
    let mut invite = Invite {
        pk,
        tcp: None,
        name: None,
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (field, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode(value).map_err(|e| format!("invalid invite: {field}: {e}"))?;
        match field {
            "tcp" => {
                let spec = parse_peer_spec(&format!("tcp://{pk}@{value}"))
                    .map_err(|_| format!("invalid invite: tcp {value:?} is not host:port"))?;
                invite.tcp = Some(spec.addr);
            }
            "name" => {
                let name = check_alias(&value)
                    .map_err(|e| format!("invalid invite: name: {}", strip_rule(&e)))?;
                invite.name = Some(name);
            }
            // Fields of later versions are skipped, so that older nodes still take the key.
            _ => {}
        }
    }
    Ok(invite)
}

/// An alias rule's reason without its leading "invalid alias: ".
fn strip_rule(reason: &str) -> &str {
    reason.strip_prefix("invalid alias: ").unwrap_or(reason)
}

/// Percent-encodes everything but unreserved characters and `:` (readable `host:port`).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (a space, as HTML forms write it) into UTF-8 text.
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let byte = text
                    .get(i + 1..i + 3)
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or_else(|| format!("a % at byte {i} is not followed by two hex digits"))?;
                out.push(byte);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "its escapes are not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PublicKey {
        PublicKey::native([5; 32])
    }

    #[test]
    fn an_invite_reads_back_as_written() {
        let invite = Invite {
            pk: key(),
            tcp: Some("example.org:8801".into()),
            name: Some("Zoë & co".into()),
        };
        let text = invite.to_string();
        assert_eq!(
            text,
            format!(
                "skychat:{}?tcp=example.org:8801&name=Zo%C3%AB%20%26%20co",
                key()
            )
        );
        assert_eq!(parse_peer_text(&text).unwrap(), invite);
        assert_eq!(
            parse_peer_text(&format!("  SKYCHAT://{}?name=Bob+B&v=2  ", key())).unwrap(),
            Invite {
                pk: key(),
                tcp: None,
                name: Some("Bob B".into())
            }
        );
    }

    #[test]
    fn keys_and_addresses_are_invites_too() {
        let bare = parse_peer_text(&key().to_hex()).unwrap();
        assert_eq!((bare.pk, bare.tcp), (key(), None));
        let spec = parse_peer_text(&format!("tcp://{}@10.0.0.1:9", key())).unwrap();
        assert_eq!((spec.pk, spec.tcp.as_deref()), (key(), Some("10.0.0.1:9")));
    }

    #[test]
    fn bad_invites_name_their_problem() {
        let k = key();
        for (text, problem) in [
            ("", "empty"),
            ("hello", "neither an invite"),
            ("skychat:abc", "its key \"abc\""),
            (&format!("skychat:{k}?tcp=nohost") as &str, "not host:port"),
            (&format!("skychat:{k}?tcp=h:0"), "not host:port"),
            (&format!("skychat:{k}?name=%zz"), "two hex digits"),
            (&format!("skychat:{k}?name=%FF"), "not UTF-8"),
            (&format!("skychat:{k}?name=a%0Ab"), "control character"),
            (&format!("tcp://{k}"), "missing @"),
        ] {
            let error = parse_peer_text(text).unwrap_err();
            assert!(error.starts_with("invalid invite"), "{text:?}: {error}");
            assert!(error.contains(problem), "{text:?}: {error}");
        }
    }
}
