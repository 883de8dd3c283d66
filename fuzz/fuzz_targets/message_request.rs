//! The parse-and-validate step of `POST /message`, on arbitrary request bodies.
//!
//! Properties: no panic; an accepted body is a JSON object whose `recipient` (or `to`) is the
//! peer name returned, to be resolved by the service, and whose `message` is the non-empty text
//! returned; a refused body gets a client error
//! status (400, 413) or 503 for a network this node cannot serve, never a server error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skychat::http::{error_status, parse_message_request};

fuzz_target!(|data: &[u8]| {
    match parse_message_request(data) {
        Ok(send) => {
            let body: serde_json::Value = serde_json::from_slice(data).expect("accepted JSON");
            assert!(!send.message.is_empty());
            assert_eq!(body["message"].as_str(), Some(send.message.as_str()));
            let recipient = body["recipient"].as_str().or(body["to"].as_str());
            assert_eq!(recipient, Some(send.recipient.as_str()));
            if let Some(wait) = send.wait {
                assert_eq!(body["wait_ms"].as_u64(), Some(wait.as_millis() as u64));
            }
        }
        Err(error) => {
            let status = u16::from(error_status(&error));
            assert!(matches!(status, 400 | 413 | 503), "status {status}");
            assert!(!error.to_string().is_empty());
        }
    }
});
