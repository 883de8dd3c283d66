//! Skywire chat payload recognition on arbitrary bytes.
//!
//! Properties: no panic; whatever is recognised as an envelope is written back as a JSON object
//! of a known type that parses to the same payload; text comes back byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skychat_core::skywire::SkywirePayload;

fuzz_target!(|data: &[u8]| {
    let payload = SkywirePayload::parse(data);
    let encoded = payload.encode();
    match &payload {
        SkywirePayload::Text(_) | SkywirePayload::Binary(_) => assert_eq!(encoded, data),
        _ => {
            assert!(encoded.starts_with(b"{\"type\":\"chat-"));
            assert_eq!(SkywirePayload::parse(&encoded), payload);
        }
    }
});
