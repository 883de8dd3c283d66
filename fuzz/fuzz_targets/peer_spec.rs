//! The `tcp://<pk>@host:port` peer spec parser and the bind-address parser, on arbitrary text.
//!
//! Properties: no panic; a spec that parses prints (`to_string`) as a spec that parses to the
//! same value, and prints the same again; a bind address that parses prints as one that parses
//! to the same socket address.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skychat::address::{BarePort, parse_bind, parse_peer_spec};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = parse_peer_spec(text) {
        let printed = spec.to_string();
        let again = parse_peer_spec(&printed).expect("a printed spec parses");
        assert_eq!(again, spec);
        assert_eq!(again.to_string(), printed);
        assert!(text.ends_with(&spec.addr));
    }
    for bare in [BarePort::Loopback, BarePort::AllInterfaces] {
        if let Ok(addr) = parse_bind(text, bare) {
            assert_eq!(parse_bind(&addr.to_string(), bare), Ok(addr));
        }
    }
});
