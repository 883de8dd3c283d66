//! Postcard frame decoding of arbitrary plaintext, and bundles of frames.
//!
//! Properties: decoding never panics; a decoded frame re-encodes to bytes that decode to the
//! same frame, no longer than the input (the input may hold non-minimal varints, which the
//! decoder accepts: docs/protocol.md, section 6.2); a canonical re-encoding is a fixed point.
//! A plaintext of kind 0x08 is also read as a bundle (section 6.5): reading never panics, and
//! the items of a well-formed bundle pack again into the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skychat_core::MAX_BODY_BYTES;
use skychat_core::fuzzing::bundle::{BundleItems, BundleWriter};
use skychat_core::fuzzing::frame::{Decoded, Frame, KIND_BUNDLE, KIND_DELETE, decode, encode};

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
        Ok(Decoded::UnknownKind(kind)) => assert!(kind > KIND_DELETE && data[0] == kind),
        Err(_) => {}
    }
    if data.first() == Some(&KIND_BUNDLE) {
        check_bundle(data);
    }
});

fn check_bundle(data: &[u8]) {
    let Ok(mut items) = BundleItems::new(data.to_vec()) else {
        return;
    };
    let mut writer = BundleWriter::default();
    let mut count = 0;
    loop {
        match items.next_item() {
            Ok(Some(item)) => {
                assert!(!item.is_empty());
                let _ = decode(item);
                writer.push(item);
                count += 1;
            }
            Ok(None) => break,
            Err(_) => return,
        }
    }
    // Varint lengths may have been non-minimal, so compare item by item, not byte by byte.
    let repacked = writer
        .plaintext()
        .expect("a well-formed bundle has items")
        .to_vec();
    if count > 1 {
        let mut again = BundleItems::new(repacked).expect("repacked bundle");
        let mut original = BundleItems::new(data.to_vec()).expect("read before");
        while let Some(item) = original.next_item().expect("read before") {
            assert_eq!(again.next_item().expect("repacked"), Some(item));
        }
        assert_eq!(again.next_item().expect("repacked"), None);
    }
}
