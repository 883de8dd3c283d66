//! Deterministic vectors for the Skywire suite: keys, the three handshake messages (ML-KEM,
//! classical, and an offer a classical responder ignores), the handshake hash, the transport keys,
//! records and chat frames, the envelopes, and the order in which a seed becomes randomness.
//!
//! The expected bytes come from `tests/vectors/skywire_vectors.py`, an independent Python
//! implementation (its own secp256k1, Noise XK and ML-KEM-768, checked against OpenSSL's ML-KEM),
//! never from the code under test. To regenerate, from the repository root:
//!
//! ```text
//! python3 core/tests/vectors/skywire_vectors.py > core/tests/vectors/skywire_vectors.json
//! ```

use bytes::BytesMut;
use serde_json::Value;
use skychat_core::fuzzing::skywire::handshake::{HandshakeRandomness, Initiator, Responder};
use skychat_core::{
    PqPolicy, SkywirePayload, SkywirePublicKey, SkywireReceived, SkywireSecretKey, SkywireSession,
};

const VECTORS: &str = include_str!("vectors/skywire_vectors.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("the vector file is JSON")
}

fn bytes(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("a hex string")).expect("valid hex")
}

fn array(value: &Value) -> [u8; 32] {
    bytes(value).try_into().expect("32 bytes")
}

fn secret(value: &Value) -> SkywireSecretKey {
    SkywireSecretKey::from_bytes(array(value)).expect("a valid secret key")
}

fn randomness(case: &Value, side: &str) -> HandshakeRandomness {
    HandshakeRandomness {
        ephemeral: secret(&case[format!("{side}_ephemeral_sk")]),
        mlkem_d: array(&case["mlkem_d"]),
        mlkem_z: array(&case["mlkem_z"]),
        mlkem_m: array(&case["mlkem_m"]),
    }
}

fn policy(on: bool) -> PqPolicy {
    PqPolicy {
        hybrid: on,
        require: false,
    }
}

fn hex_of(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

#[test]
fn public_keys_are_derived_as_skywire_derives_them() {
    for key in vectors()["keys"].as_array().unwrap() {
        let pk = secret(&key["sk"]).public_key();
        assert_eq!(pk.to_hex(), key["pk"].as_str().unwrap());
        assert_eq!(pk.to_hex().parse::<SkywirePublicKey>().unwrap(), pk);
    }
}

#[test]
fn handshake_messages_hash_and_transport_keys_match() {
    for case in vectors()["handshakes"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let initiator_static = secret(&case["initiator_static_sk"]);
        let responder_static = secret(&case["responder_static_sk"]);
        let offers = case["initiator_offers_pq"].as_bool().unwrap();
        let answers = case["responder_answers_pq"].as_bool().unwrap();
        assert_eq!(
            hex_of(initiator_static.public_key().as_bytes()),
            case["initiator_static_pk"].as_str().unwrap()
        );

        let (initiator, msg1) = Initiator::start(
            &initiator_static,
            &responder_static.public_key(),
            policy(offers),
            randomness(case, "initiator"),
        );
        let msg1_wire = bytes(&case["msg1"]);
        assert_eq!(hex_of(&msg1), hex_of(&msg1_wire[2..]), "{name}: message 1");

        let responder = Responder::new(
            &responder_static,
            policy(answers),
            randomness(case, "responder"),
        );
        let (awaiting, msg2) = responder.read_message1(&msg1).unwrap();
        let msg2_wire = bytes(&case["msg2"]);
        assert_eq!(hex_of(&msg2), hex_of(&msg2_wire[2..]), "{name}: message 2");

        let (done_i, msg3) = initiator.read_message2(&msg2).unwrap();
        let msg3_wire = bytes(&case["msg3"]);
        assert_eq!(hex_of(&msg3), hex_of(&msg3_wire[2..]), "{name}: message 3");
        let done_r = awaiting.read_message3(&msg3).unwrap();

        let pq = case["pq"].as_bool().unwrap();
        assert_eq!((done_i.pq, done_r.pq), (pq, pq), "{name}: pq");
        assert_eq!(done_r.remote, initiator_static.public_key());
        assert_eq!(done_i.remote, responder_static.public_key());
        for done in [&done_i, &done_r] {
            assert_eq!(
                hex_of(&done.handshake_hash),
                case["handshake_hash"].as_str().unwrap(),
                "{name}: handshake hash"
            );
        }
        let send = case["initiator_send_key"].as_str().unwrap();
        let recv = case["initiator_recv_key"].as_str().unwrap();
        assert_eq!(
            hex_of(&done_i.keys.send),
            send,
            "{name}: initiator send key"
        );
        assert_eq!(
            hex_of(&done_i.keys.recv),
            recv,
            "{name}: initiator recv key"
        );
        assert_eq!(
            hex_of(&done_r.keys.send),
            recv,
            "{name}: responder send key"
        );
        assert_eq!(
            hex_of(&done_r.keys.recv),
            send,
            "{name}: responder recv key"
        );
        if !pq {
            // Without ML-KEM the transport keys are the split keys, initiator sending with k2.
            assert_eq!(send, case["k2"].as_str().unwrap());
            assert_eq!(recv, case["k1"].as_str().unwrap());
        }
    }
}

/// Both sessions of a case, established through the vector's messages.
fn sessions(case: &Value) -> (SkywireSession, SkywireSession) {
    let initiator_static = secret(&case["initiator_static_sk"]);
    let responder_static = secret(&case["responder_static_sk"]);
    let mut tx = BytesMut::new();
    let mut initiator = SkywireSession::initiator_with(
        &initiator_static,
        &responder_static.public_key(),
        policy(case["initiator_offers_pq"].as_bool().unwrap()),
        randomness(case, "initiator"),
        &mut tx,
    );
    assert_eq!(hex_of(&tx), case["msg1"].as_str().unwrap());
    let mut responder = SkywireSession::responder_with(
        &responder_static,
        policy(case["responder_answers_pq"].as_bool().unwrap()),
        randomness(case, "responder"),
    );
    responder.push(&tx.split());
    assert_eq!(responder.next(&mut tx).unwrap(), None);
    assert_eq!(hex_of(&tx), case["msg2"].as_str().unwrap());
    initiator.push(&tx.split());
    let Some(SkywireReceived::Established(established)) = initiator.next(&mut tx).unwrap() else {
        panic!("the initiator finishes on message 2");
    };
    assert_eq!(established.pq, case["pq"].as_bool().unwrap());
    assert_eq!(hex_of(&tx), case["msg3"].as_str().unwrap());
    responder.push(&tx.split());
    assert!(matches!(
        responder.next(&mut tx).unwrap(),
        Some(SkywireReceived::Established(_))
    ));
    (initiator, responder)
}

#[test]
fn records_and_chat_frames_match_and_decode() {
    for case in vectors()["handshakes"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (mut initiator, mut responder) = sessions(case);
        let mut tx = BytesMut::new();

        let text = bytes(&case["initiator_text"]);
        initiator.send_frame(&text, &mut tx).unwrap();
        assert_eq!(
            hex_of(&tx),
            case["initiator_text_wire"].as_str().unwrap(),
            "{name}: short frame (records 1 and 2)"
        );
        let long = bytes(&case["initiator_long_text"]);
        let mut long_wire = BytesMut::new();
        initiator.send_frame(&long, &mut long_wire).unwrap();
        assert_eq!(
            hex_of(&long_wire),
            case["initiator_long_text_wire"].as_str().unwrap(),
            "{name}: 10,000-byte frame (records 3 to 6)"
        );
        responder.push(&tx);
        responder.push(&long_wire);
        let mut scratch = BytesMut::new();
        for expected in [&text, &long] {
            let expected = String::from_utf8(expected.clone()).unwrap();
            assert_eq!(
                responder.next(&mut scratch).unwrap(),
                Some(SkywireReceived::Payload(SkywirePayload::Text(expected)))
            );
        }
        assert_eq!(responder.next(&mut scratch).unwrap(), None);
        assert!(scratch.is_empty());

        let ack = SkywirePayload::parse(&bytes(&case["responder_ack"]));
        assert_eq!(
            ack,
            SkywirePayload::Ack {
                id: "0011223344556677".into()
            }
        );
        let mut ack_wire = BytesMut::new();
        responder.send(&ack, &mut ack_wire).unwrap();
        assert_eq!(
            hex_of(&ack_wire),
            case["responder_ack_wire"].as_str().unwrap(),
            "{name}: chat-ack frame"
        );
        initiator.push(&ack_wire);
        assert_eq!(
            initiator.next(&mut scratch).unwrap(),
            Some(SkywireReceived::Payload(ack))
        );
    }
}

#[test]
fn envelopes_round_trip_byte_for_byte() {
    for text in vectors()["envelopes"].as_array().unwrap() {
        let text = text.as_str().unwrap();
        let payload = SkywirePayload::parse(text.as_bytes());
        assert!(
            !matches!(payload, SkywirePayload::Text(_)),
            "{text} is an envelope"
        );
        assert_eq!(String::from_utf8(payload.encode()).unwrap(), text);
    }
}

#[test]
fn a_seed_becomes_randomness_in_the_documented_order() {
    let seeded = &vectors()["seeded_randomness"];
    let randomness = HandshakeRandomness::from_seed(array(&seeded["seed"]));
    assert_eq!(
        hex_of(&randomness.ephemeral.to_bytes()),
        seeded["ephemeral_sk"].as_str().unwrap()
    );
    assert_eq!(
        hex_of(&randomness.mlkem_d),
        seeded["mlkem_d"].as_str().unwrap()
    );
    assert_eq!(
        hex_of(&randomness.mlkem_z),
        seeded["mlkem_z"].as_str().unwrap()
    );
    assert_eq!(
        hex_of(&randomness.mlkem_m),
        seeded["mlkem_m"].as_str().unwrap()
    );
}
