//! Length-prefixed framing of Noise messages on a byte stream: a 2-byte big-endian length, then
//! that many bytes. A length of 0 is invalid.

use bytes::{BufMut, BytesMut};

use crate::prefixed::PrefixedBuffer;

/// Largest Noise message, and so the largest length prefix.
pub const MAX_NOISE_MESSAGE: usize = 65_535;

/// Bytes taken by the length prefix.
pub const LENGTH_PREFIX: usize = 2;

/// The stream broke the framing rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FramingError {
    /// A length prefix of zero.
    ZeroLength,
    /// A message longer than the current phase allows.
    TooLong {
        /// The announced length.
        len: usize,
        /// The most this phase accepts.
        max: usize,
    },
}

impl std::fmt::Display for FramingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ZeroLength => f.write_str("zero length prefix"),
            Self::TooLong { len, max } => write!(f, "message of {len} bytes exceeds {max}"),
        }
    }
}

/// Reassembles length-prefixed Noise messages (still encrypted, one frame each once decrypted)
/// from arbitrarily chunked input.
#[derive(Debug, Default)]
pub struct NoiseMessageReader {
    buffer: PrefixedBuffer<LENGTH_PREFIX>,
}

impl NoiseMessageReader {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.push(bytes);
    }

    /// Takes the next complete message, if one has fully arrived. `max_len` bounds the length
    /// prefix for the current phase; a violation is reported as soon as the prefix is seen.
    pub fn next_message(&mut self, max_len: usize) -> Result<Option<BytesMut>, FramingError> {
        let Some(len) = self.buffer.announced_len() else {
            return Ok(None);
        };
        if len == 0 {
            return Err(FramingError::ZeroLength);
        }
        if len > max_len {
            return Err(FramingError::TooLong { len, max: max_len });
        }
        Ok(self.buffer.take(len))
    }

    /// Bytes received but not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.buffer.buffered()
    }

    /// Releases memory held for an idle connection.
    pub fn shrink_if_empty(&mut self) {
        self.buffer.shrink_if_empty();
    }
}

/// Appends `message` to `out` with its length prefix. `message` must be 1..=65535 bytes.
pub fn write_message(out: &mut BytesMut, message: &[u8]) {
    debug_assert!(!message.is_empty() && message.len() <= MAX_NOISE_MESSAGE);
    out.reserve(LENGTH_PREFIX + message.len());
    out.put_u16(message.len() as u16);
    out.put_slice(message);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_length_is_invalid() {
        let mut reader = NoiseMessageReader::default();
        reader.push(&[0, 0, 1]);
        assert_eq!(reader.next_message(100), Err(FramingError::ZeroLength));
    }

    #[test]
    fn oversized_length_is_refused_before_the_body_arrives() {
        let mut reader = NoiseMessageReader::default();
        reader.push(&[0x01, 0x00]);
        assert_eq!(
            reader.next_message(48),
            Err(FramingError::TooLong { len: 256, max: 48 })
        );
    }

    proptest! {
        #[test]
        fn any_chunking_yields_the_same_messages(
            messages in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 0..20),
            cuts in prop::collection::vec(1usize..50, 0..40),
        ) {
            let mut wire = BytesMut::new();
            for m in &messages { write_message(&mut wire, m); }
            let mut reader = NoiseMessageReader::default();
            let mut got = Vec::new();
            let mut rest = &wire[..];
            let mut cut_iter = cuts.into_iter().cycle();
            while !rest.is_empty() {
                let n = cut_iter.next().unwrap_or(rest.len()).min(rest.len());
                reader.push(&rest[..n]);
                rest = &rest[n..];
                while let Some(m) = reader.next_message(MAX_NOISE_MESSAGE).unwrap() {
                    got.push(m.to_vec());
                }
            }
            prop_assert_eq!(got, messages);
        }
    }
}
