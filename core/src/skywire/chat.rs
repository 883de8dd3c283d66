//! Chat frames inside the decrypted Skywire stream: `[u32 BE length][payload]`, length
//! `1..=65536`. Record boundaries carry no meaning: a frame may span records and a record may end
//! inside a header.

use bytes::BytesMut;

use crate::prefixed::PrefixedBuffer;

/// Bytes of a chat frame header.
pub const CHAT_HEADER_LEN: usize = 4;
/// Largest chat frame payload the Go app reads or writes.
pub const MAX_CHAT_FRAME: usize = 65_536;

/// A chat frame was refused; the connection is dropped, as the Go reader does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatFrameError {
    /// A frame of length 0.
    Empty,
    /// A frame longer than `MAX_CHAT_FRAME`.
    TooLong {
        /// The announced length.
        len: u64,
    },
}

impl std::fmt::Display for ChatFrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("skychat: empty frame"),
            Self::TooLong { len } => write!(
                f,
                "skychat: frame {len} > max {MAX_CHAT_FRAME} (peer running old unframed protocol?)"
            ),
        }
    }
}

impl std::error::Error for ChatFrameError {}

/// Reassembles chat frames from decrypted record plaintext.
#[derive(Debug, Default)]
pub struct ChatFrameReader {
    buffer: PrefixedBuffer<CHAT_HEADER_LEN>,
}

impl ChatFrameReader {
    /// Appends decrypted bytes.
    pub fn push(&mut self, plain: &[u8]) {
        self.buffer.push(plain);
    }

    /// Takes the next complete frame payload. The header is checked as soon as it is complete,
    /// so an oversized frame is refused before its payload is buffered.
    pub fn next_frame(&mut self) -> Result<Option<BytesMut>, ChatFrameError> {
        let Some(len) = self.buffer.announced_len() else {
            return Ok(None);
        };
        if len == 0 {
            return Err(ChatFrameError::Empty);
        }
        if len > MAX_CHAT_FRAME {
            return Err(ChatFrameError::TooLong { len: len as u64 });
        }
        Ok(self.buffer.take(len))
    }

    /// Bytes decrypted but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buffer.buffered()
    }

    /// Releases memory held for an idle connection.
    pub fn shrink_if_empty(&mut self) {
        self.buffer.shrink_if_empty();
    }
}

/// The 4-byte header of a frame of `len` bytes, or an error if `len` is not `1..=65536`.
pub fn frame_header(len: usize) -> Result<[u8; CHAT_HEADER_LEN], ChatFrameError> {
    match len {
        0 => Err(ChatFrameError::Empty),
        1..=MAX_CHAT_FRAME => Ok((len as u32).to_be_bytes()),
        _ => Err(ChatFrameError::TooLong { len: len as u64 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere_come_out_whole() {
        let mut wire = Vec::new();
        for payload in [&b"a"[..], &[9u8; 70][..]] {
            wire.extend_from_slice(&frame_header(payload.len()).unwrap());
            wire.extend_from_slice(payload);
        }
        let mut reader = ChatFrameReader::default();
        let mut got = Vec::new();
        for byte in wire {
            reader.push(&[byte]);
            while let Some(frame) = reader.next_frame().unwrap() {
                got.push(frame.to_vec());
            }
        }
        assert_eq!(got, [b"a".to_vec(), vec![9u8; 70]]);
    }

    #[test]
    fn empty_and_oversized_frames_are_refused_at_the_header() {
        let mut reader = ChatFrameReader::default();
        reader.push(&[0, 0, 0, 0]);
        assert_eq!(reader.next_frame(), Err(ChatFrameError::Empty));
        let mut reader = ChatFrameReader::default();
        reader.push(&65_537u32.to_be_bytes());
        assert_eq!(
            reader.next_frame(),
            Err(ChatFrameError::TooLong { len: 65_537 })
        );
        assert_eq!(
            frame_header(65_537),
            Err(ChatFrameError::TooLong { len: 65_537 })
        );
        assert_eq!(frame_header(65_536).unwrap(), [0, 1, 0, 0]);
    }
}
