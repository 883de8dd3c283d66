//! The stream of a connection a visor relays (chat frames without records), on arbitrary bytes
//! in arbitrary chunks.
//!
//! Properties: no panic; the first byte picks a split point, and the payloads and the first
//! error read from two chunks equal those read from the whole input at once; after an error the
//! wire yields nothing more; payloads read, written back, read the same (when their encoding
//! still fits a frame: Go's JSON escaping may grow an envelope).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use skychat_core::fuzzing::skywire::mesh::MeshWire;

fn read_all(chunks: &[&[u8]]) -> (Vec<skychat_core::SkywirePayload>, bool) {
    let mut wire = MeshWire::default();
    let mut payloads = Vec::new();
    for chunk in chunks {
        wire.push(chunk);
        loop {
            match wire.next_payload() {
                Ok(Some(payload)) => payloads.push(payload),
                Ok(None) => break,
                Err(_) => {
                    wire.push(b"\0\0\0\x01x");
                    assert_eq!(wire.next_payload(), Ok(None), "a failed wire stays failed");
                    return (payloads, true);
                }
            }
        }
    }
    (payloads, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(split).min(rest.len());
    let whole = read_all(&[rest]);
    assert_eq!(read_all(&[&rest[..at], &rest[at..]]), whole);
    let mut writer = MeshWire::default();
    let mut tx = BytesMut::new();
    for payload in &whole.0 {
        if writer.send(payload, &mut tx).is_err() {
            return;
        }
    }
    assert_eq!(read_all(&[&tx]).0, whole.0);
});
