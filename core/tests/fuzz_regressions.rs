//! Inputs found by the fuzz targets in `fuzz/`, kept as regression tests of the properties those
//! targets check.

use skychat_core::fuzzing::frame::{Decoded, Frame, KIND_PING, decode, encode};

/// `frame_decode`: a non-minimal varint (0 written as `80 00`) is accepted, so a decoded frame
/// re-encodes shorter than its input, to bytes that decode to the same frame.
#[test]
fn a_non_minimal_varint_decodes_and_re_encodes_to_the_same_frame() {
    let input = [KIND_PING, 0x80, 0x00];
    let Ok(Decoded::Frame(frame)) = decode(&input) else {
        panic!("a non-minimal varint is accepted");
    };
    assert_eq!(frame, Frame::Ping { nonce: 0 });
    let encoded = encode(&frame);
    assert_eq!(encoded, [KIND_PING, 0x00]);
    assert_ne!(encoded, input);
    assert_eq!(decode(&encoded), Ok(Decoded::Frame(frame)));
}
