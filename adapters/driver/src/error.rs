//! Why a dial failed.

use std::fmt;

use skychat_core::CloseReason;

/// The failure of [`crate::NodeHandle::dial_once`].
#[derive(Debug)]
pub enum DialError {
    /// The address did not resolve, or the TCP connection could not be made.
    Io(std::io::Error),
    /// The connection closed before the handshake authenticated the peer.
    Handshake(CloseReason),
    /// Connecting or the handshake took longer than the handshake timeout.
    Timeout,
    /// The visor could not open a skynet or dmsg connection to the peer; its words.
    Visor(String),
}

impl fmt::Display for DialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "could not connect: {e}"),
            Self::Handshake(reason) => write!(f, "handshake failed: {reason}"),
            Self::Timeout => f.write_str("timed out connecting or completing the handshake"),
            Self::Visor(text) => write!(f, "the visor could not reach the peer: {text}"),
        }
    }
}

impl std::error::Error for DialError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}
