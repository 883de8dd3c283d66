//! Message ids on the Skywire suite. Envelopes carry ids as strings; the node keys messages by
//! [`MessageId`]. Our ids travel as their hex form (32 characters); the Go skychat's 16-hex ids
//! map to stream 0 and come back unchanged. Any other string maps to a digest of itself, which
//! cannot be turned back into the string: the inbox keeps the original for the acks and read
//! receipts it owes.

use sha2::{Digest, Sha256};

use crate::message::MessageId;

/// Longest id string accepted from a peer; a longer one is treated as having no id.
pub const MAX_WIRE_ID_LEN: usize = 128;

/// The id string this node writes for `id`.
pub fn wire_id(id: MessageId) -> String {
    id.to_hex()
}

/// The [`MessageId`] for an id string received from a peer. `None` for an empty or overlong id
/// (such a message cannot be acked or deduplicated).
pub fn message_id(wire: &str) -> Option<MessageId> {
    if wire.is_empty() || wire.len() > MAX_WIRE_ID_LEN {
        return None;
    }
    if is_lower_hex(wire)
        && let Ok(id) = wire.parse::<MessageId>()
    {
        return Some(id);
    }
    let digest = Sha256::digest(wire.as_bytes());
    let half = |range: std::ops::Range<usize>| {
        u64::from_be_bytes(digest[range].try_into().expect("8 bytes"))
    };
    // Never stream 0, so a digest cannot pose as a Go id.
    Some(MessageId {
        stream: half(0..8) | 1 << 63,
        seq: half(8..16),
    })
}

/// True if the id string round-trips exactly through [`message_id`] and [`wire_id`].
#[cfg(any(test, fuzzing, feature = "fuzzing"))]
pub fn round_trips(wire: &str) -> bool {
    message_id(wire).is_some_and(|id| wire_id(id) == wire)
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_and_native_ids_keep_their_form() {
        assert!(round_trips("18ed000000000001"));
        assert!(round_trips("00112233445566778899aabbccddeeff"));
        let go = message_id("cd7d0a0b0c0d0e0f").unwrap();
        assert_eq!(go.stream, 0);
        assert_eq!(wire_id(go), "cd7d0a0b0c0d0e0f");
    }

    #[test]
    fn other_ids_map_to_a_stable_digest_apart_from_go_ids() {
        for odd in ["msg-1", "ABCDEF0123456789", "123"] {
            let id = message_id(odd).unwrap();
            assert_ne!(id.stream, 0);
            assert_eq!(message_id(odd), Some(id));
            assert!(!round_trips(odd));
        }
        assert_ne!(message_id("msg-1"), message_id("msg-2"));
        assert_eq!(message_id(""), None);
        assert_eq!(message_id(&"a".repeat(MAX_WIRE_ID_LEN + 1)), None);
    }
}
