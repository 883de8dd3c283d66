//! Postcard frame decoding of arbitrary plaintext.
//!
//! Properties: decoding never panics; a decoded frame re-encodes to bytes that decode to the
//! same frame, no longer than the input (the input may hold non-minimal varints, which the
//! decoder accepts: docs/protocol.md, section 6.2); a canonical re-encoding is a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skychat_core::MAX_BODY_BYTES;
use skychat_core::fuzzing::frame::{Decoded, Frame, decode, encode};

fuzz_target!(|data: &[u8]| {
    match decode(data) {
        Ok(Decoded::Frame(frame)) => {
            if let Frame::Chat(message) = &frame {
                assert!(message.body.len() <= MAX_BODY_BYTES);
            }
            let encoded = encode(&frame);
            assert!(encoded.len() <= data.len(), "re-encoding grew");
            assert_eq!(decode(&encoded), Ok(Decoded::Frame(frame.clone())));
            assert_eq!(encode(&frame), encoded);
            if encoded.len() == data.len() {
                assert_eq!(encoded, data, "same length, so the input was canonical");
            }
        }
        Ok(Decoded::UnknownKind(kind)) => assert!(kind > 0x06 && data[0] == kind),
        Err(_) => {}
    }
});
