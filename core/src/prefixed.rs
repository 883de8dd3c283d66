//! The buffer behind every length-prefixed reader of the core (the native suite's Noise framing,
//! the Skywire suite's records and chat frames): bytes arrive in arbitrary chunks, a big-endian
//! length prefix of `PREFIX` bytes announces each unit, and the unit is taken once it has fully
//! arrived. The readers keep their own length rules and errors.

use bytes::{Buf, BytesMut};

/// Received bytes not yet taken as units, with a `PREFIX`-byte big-endian length before each.
#[derive(Debug, Default)]
pub(crate) struct PrefixedBuffer<const PREFIX: usize> {
    buffer: BytesMut,
}

impl<const PREFIX: usize> PrefixedBuffer<PREFIX> {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The length the next prefix announces, once all its bytes have arrived; check it before
    /// calling [`PrefixedBuffer::take`].
    pub fn announced_len(&self) -> Option<usize> {
        let prefix = self.buffer.get(..PREFIX)?;
        let len = prefix
            .iter()
            .fold(0u64, |len, byte| (len << 8) | u64::from(*byte));
        Some(usize::try_from(len).unwrap_or(usize::MAX))
    }

    /// Takes the next unit of `len` bytes (as announced) if it has fully arrived.
    pub fn take(&mut self, len: usize) -> Option<BytesMut> {
        if self.buffer.len() < PREFIX.saturating_add(len) {
            return None;
        }
        self.buffer.advance(PREFIX);
        Some(self.buffer.split_to(len))
    }

    /// Bytes received but not yet taken.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Releases memory held for an idle connection.
    pub fn shrink_if_empty(&mut self) {
        if self.buffer.is_empty() && self.buffer.capacity() > 0 {
            self.buffer = BytesMut::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_is_taken_only_once_it_has_fully_arrived() {
        let mut buffer = PrefixedBuffer::<4>::default();
        buffer.push(&[0, 0, 1]);
        assert_eq!(buffer.announced_len(), None);
        buffer.push(&[2, 7]);
        assert_eq!(buffer.announced_len(), Some(258));
        assert_eq!(buffer.take(258), None);
        buffer.push(&[9; 257]);
        let unit = buffer.take(258).expect("complete");
        assert_eq!(unit.len(), 258);
        assert_eq!(unit[0], 7);
        assert_eq!(buffer.buffered(), 0);
        buffer.shrink_if_empty();
        assert_eq!(buffer.announced_len(), None);
    }
}
