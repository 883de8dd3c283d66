//! Skywire chat payload recognition on arbitrary bytes.
//!
//! Properties: no panic; whatever is recognised as an envelope is written back as a JSON object
//! of a known type that parses to the same payload; text comes back byte for byte. The id of an
//! envelope maps to a message id deterministically, and an id that claims to round-trip does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skychat_core::SkywirePayload;
use skychat_core::fuzzing::skywire::ids;

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
    let id = match &payload {
        SkywirePayload::Message(message) => message.id.as_str(),
        SkywirePayload::Ack { id }
        | SkywirePayload::Read { id }
        | SkywirePayload::Delete { id } => id.as_str(),
        _ => return,
    };
    let mapped = ids::message_id(id);
    assert_eq!(mapped, ids::message_id(id));
    assert_eq!(
        mapped.is_none(),
        id.is_empty() || id.len() > ids::MAX_WIRE_ID_LEN
    );
    if ids::round_trips(id) {
        assert_eq!(ids::wire_id(mapped.expect("mapped")), id);
    }
});
