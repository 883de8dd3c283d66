//! Bundles: several frames in one Noise transport message (kind `0x08`, `docs/protocol.md`
//! section 6.5). A bundle is the kind byte followed by items, each a varint length and that many
//! bytes of one frame, to the end of the plaintext. Only sent to a peer that announced
//! [`FEATURE_BUNDLE`] in its features frame, so older peers never see one.

use crate::frame::{DecodeError, KIND_BUNDLE};

/// Feature bit: the sender of the features frame accepts bundles.
pub const FEATURE_BUNDLE: u64 = 1;

/// The features this version announces.
pub const SUPPORTED_FEATURES: u64 = FEATURE_BUNDLE;

/// Plaintext a sender packs into one bundle before sealing it and starting another. Bigger
/// bundles save little more (one AEAD call per bundle) and hold frames back from the receiver
/// until the whole Noise message has arrived.
pub const BUNDLE_TARGET: usize = 16 * 1024;

/// Reads a bundle's items: the encoded frames in the order they were packed.
#[derive(Debug, Clone, Default)]
pub struct BundleItems {
    plain: Vec<u8>,
    at: usize,
}

impl BundleItems {
    /// Starts reading `plain`, a whole decrypted bundle (kind byte included). An empty bundle is
    /// malformed.
    pub fn new(plain: Vec<u8>) -> Result<Self, DecodeError> {
        if plain.first() != Some(&KIND_BUNDLE) {
            return Err(DecodeError::Malformed(KIND_BUNDLE));
        }
        if plain.len() == 1 {
            return Err(DecodeError::Malformed(KIND_BUNDLE));
        }
        Ok(Self { plain, at: 1 })
    }

    /// True once every item has been read.
    pub fn is_done(&self) -> bool {
        self.at >= self.plain.len()
    }

    /// The next item's bytes, `None` at the end, or an error if the item's length is zero,
    /// overflows or runs past the end.
    pub fn next_item(&mut self) -> Result<Option<&[u8]>, DecodeError> {
        if self.is_done() {
            return Ok(None);
        }
        let (len, header) =
            read_varint(&self.plain[self.at..]).ok_or(DecodeError::Malformed(KIND_BUNDLE))?;
        let start = self.at + header;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| start.checked_add(len))
            .filter(|&end| len != 0 && end <= self.plain.len())
            .ok_or(DecodeError::Malformed(KIND_BUNDLE))?;
        self.at = end;
        Ok(Some(&self.plain[start..end]))
    }
}

/// Packs encoded frames into one bundle plaintext.
#[derive(Debug, Default)]
pub struct BundleWriter {
    plain: Vec<u8>,
    items: usize,
    first_item_at: usize,
}

impl BundleWriter {
    /// Plaintext bytes the bundle would take with `frame_len` more bytes of frame.
    pub fn len_with(&self, frame_len: usize) -> usize {
        self.plain.len().max(1) + varint_len(frame_len as u64) + frame_len
    }

    /// Appends one encoded frame (not empty).
    pub fn push(&mut self, frame: &[u8]) {
        debug_assert!(!frame.is_empty());
        if self.plain.is_empty() {
            self.plain.push(KIND_BUNDLE);
        }
        write_varint(&mut self.plain, frame.len() as u64);
        if self.items == 0 {
            self.first_item_at = self.plain.len();
        }
        self.plain.extend_from_slice(frame);
        self.items += 1;
    }

    /// The plaintext to seal: the lone frame itself when only one was packed (a bundle of one
    /// would only cost bytes), else the bundle. `None` when nothing was packed.
    pub fn plaintext(&self) -> Option<&[u8]> {
        match self.items {
            0 => None,
            1 => Some(&self.plain[self.first_item_at..]),
            _ => Some(&self.plain),
        }
    }

    /// Forgets what was packed, keeping the memory.
    pub fn clear(&mut self) {
        self.plain.clear();
        self.items = 0;
    }

    /// Releases the memory of an idle writer.
    pub fn shrink(&mut self) {
        if self.items == 0 {
            self.plain = Vec::new();
        }
    }
}

fn varint_len(mut value: u64) -> usize {
    let mut len = 1;
    while value >= 0x80 {
        value >>= 7;
        len += 1;
    }
    len
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads an unsigned LEB128 varint of at most 10 bytes: the value and the bytes it took.
fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().take(10).enumerate() {
        let bits = u64::from(byte & 0x7f);
        let shifted = bits.checked_shl(7 * i as u32)?;
        if i == 9 && bits > 1 {
            return None;
        }
        value |= shifted;
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read_all(plain: Vec<u8>) -> Result<Vec<Vec<u8>>, DecodeError> {
        let mut items = BundleItems::new(plain)?;
        let mut out = Vec::new();
        while let Some(item) = items.next_item()? {
            out.push(item.to_vec());
        }
        Ok(out)
    }

    #[test]
    fn a_lone_frame_is_sealed_as_itself() {
        let mut writer = BundleWriter::default();
        assert_eq!(writer.plaintext(), None);
        writer.push(&[0x04, 0x05]);
        assert_eq!(writer.plaintext(), Some(&[0x04, 0x05][..]));
        writer.push(&[0x05, 0x05]);
        assert_eq!(
            writer.plaintext(),
            Some(&[KIND_BUNDLE, 2, 0x04, 0x05, 2, 0x05, 0x05][..])
        );
        writer.clear();
        assert_eq!(writer.plaintext(), None);
    }

    #[test]
    fn empty_zero_length_and_overlong_items_are_malformed() {
        let malformed = Err(DecodeError::Malformed(KIND_BUNDLE));
        assert_eq!(read_all(vec![KIND_BUNDLE]), malformed);
        assert_eq!(read_all(vec![KIND_BUNDLE, 0]), malformed);
        assert_eq!(read_all(vec![KIND_BUNDLE, 3, 1, 2]), malformed);
        assert_eq!(read_all(vec![KIND_BUNDLE, 0x80]), malformed);
        let mut huge = vec![KIND_BUNDLE];
        huge.extend([0xff; 9]);
        huge.push(0x01);
        huge.push(0x04);
        assert_eq!(read_all(huge), malformed);
    }

    proptest! {
        #[test]
        fn items_come_back_in_order(
            frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 2..40)
        ) {
            let mut writer = BundleWriter::default();
            for (packed, frame) in frames.iter().enumerate() {
                let expected = writer.len_with(frame.len());
                writer.push(frame);
                if packed > 0 {
                    prop_assert_eq!(writer.plaintext().map(<[u8]>::len), Some(expected));
                }
            }
            let plain = writer.plaintext().expect("packed").to_vec();
            prop_assert_eq!(read_all(plain).expect("well formed"), frames);
        }

        #[test]
        fn arbitrary_bundles_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let mut plain = vec![KIND_BUNDLE];
            plain.extend(bytes);
            let _ = read_all(plain);
        }
    }
}
