//! Property tests of the Skywire suite's readers: whatever bytes arrive, split however, the
//! session never panics, and it refuses exactly what the wire rules say it must: a length prefix
//! above 4094 or below the phase's minimum, a record nonce that does not increase, a record that
//! does not decrypt, a chat frame of length 0 or above 65,536.

use bytes::{BufMut, BytesMut};
use proptest::prelude::*;
use skychat_core::fuzzing::skywire::handshake::{
    HandshakeRandomness, Initiator, Responder, TransportKeys,
};
use skychat_core::fuzzing::skywire::record::RecordSealer;
use skychat_core::{
    ChatFrameError, PqPolicy, RecordError, SkywireError, SkywirePayload, SkywireReceived,
    SkywireSecretKey, SkywireSession, WireError,
};

fn key(byte: u8) -> SkywireSecretKey {
    SkywireSecretKey::from_bytes([byte; 32]).unwrap()
}

const POLICY: PqPolicy = PqPolicy {
    hybrid: false,
    require: false,
};

/// An established pair (classical, for speed) and the initiator's transport keys.
fn established() -> (SkywireSession, SkywireSession, TransportKeys) {
    let (initiator_key, responder_key) = (key(1), key(2));
    let randomness = |seed| HandshakeRandomness::from_seed([seed; 32]);
    // The same handshake through the message-level API, for the keys.
    let (i, m1) = Initiator::start(
        &initiator_key,
        &responder_key.public_key(),
        POLICY,
        randomness(10),
    );
    let (r, m2) = Responder::new(&responder_key, POLICY, randomness(11))
        .read_message1(&m1)
        .unwrap();
    let (done, m3) = i.read_message2(&m2).unwrap();
    r.read_message3(&m3).unwrap();

    let mut tx = BytesMut::new();
    let mut initiator = SkywireSession::initiator(
        &initiator_key,
        &responder_key.public_key(),
        POLICY,
        [10; 32],
        &mut tx,
    );
    let mut responder = SkywireSession::responder(&responder_key, POLICY, [11; 32]);
    responder.push(&tx.split());
    responder.next(&mut tx).unwrap();
    initiator.push(&tx.split());
    initiator.next(&mut tx).unwrap();
    responder.push(&tx.split());
    assert!(matches!(
        responder.next(&mut tx),
        Ok(Some(SkywireReceived::Established(_)))
    ));
    (initiator, responder, done.keys)
}

/// Feeds `wire` in chunks of the given sizes; collects payloads until the first error.
fn feed(
    session: &mut SkywireSession,
    wire: &[u8],
    cuts: &[usize],
) -> (Vec<SkywirePayload>, Option<SkywireError>) {
    let mut got = Vec::new();
    let mut tx = BytesMut::new();
    let mut rest = wire;
    let mut cut_iter = cuts.iter().copied().cycle();
    while !rest.is_empty() {
        let n = cut_iter.next().unwrap_or(rest.len()).clamp(1, rest.len());
        session.push(&rest[..n]);
        rest = &rest[n..];
        loop {
            match session.next(&mut tx) {
                Ok(Some(SkywireReceived::Payload(p))) => got.push(p),
                Ok(Some(SkywireReceived::Established(_))) => {}
                Ok(None) => break,
                Err(e) => return (got, Some(e)),
            }
        }
    }
    (got, None)
}

/// The frames a correct reader yields from a plaintext stream, and the error it stops at.
fn model_frames(plain: &[u8]) -> (Vec<Vec<u8>>, Option<ChatFrameError>) {
    let mut frames = Vec::new();
    let mut rest = plain;
    while rest.len() >= 4 {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        if len == 0 {
            return (frames, Some(ChatFrameError::Empty));
        }
        if len > 65_536 {
            return (frames, Some(ChatFrameError::TooLong { len: len as u64 }));
        }
        if rest.len() < 4 + len {
            break;
        }
        frames.push(rest[4..4 + len].to_vec());
        rest = &rest[4 + len..];
    }
    (frames, None)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Arbitrary bytes at a responder: no panic; the first prefix decides the refusal.
    #[test]
    fn garbage_before_the_handshake_is_refused_by_the_rules(
        wire in prop::collection::vec(any::<u8>(), 0..6000),
        cuts in prop::collection::vec(1usize..700, 1..20),
    ) {
        let mut responder = SkywireSession::responder(&key(2), PqPolicy::default(), [1; 32]);
        let (payloads, error) = feed(&mut responder, &wire, &cuts);
        prop_assert!(payloads.is_empty());
        if wire.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([wire[0], wire[1]]));
            if len > 4094 {
                prop_assert_eq!(error, Some(SkywireError::Wire(WireError::TooLong { len, max: 4094 })));
            } else if len < 49 {
                prop_assert_eq!(error, Some(SkywireError::Wire(WireError::TooShort { len, min: 49 })));
            } else if wire.len() >= 2 + len {
                // A random message 1 fails to authenticate (or names no curve point).
                prop_assert!(matches!(error, Some(SkywireError::Handshake(_))));
            } else {
                prop_assert_eq!(error, None);
            }
        }
        prop_assert!(!responder.is_established());
    }

    /// Arbitrary plaintext in records with increasing nonces (gaps allowed), split anywhere:
    /// the frames a correct reader yields, then its error if any.
    #[test]
    fn any_plaintext_in_any_records_yields_the_model_frames(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..9000), 0..4),
        junk in prop::collection::vec(any::<u8>(), 0..12),
        record_sizes in prop::collection::vec(0usize..4071, 1..10),
        gaps in prop::collection::vec(0u64..3, 1..10),
        cuts in prop::collection::vec(1usize..5000, 1..20),
    ) {
        let (_, mut responder, keys) = established();
        let mut plain = Vec::new();
        for frame in &frames {
            plain.extend_from_slice(&(frame.len() as u32).to_be_bytes());
            plain.extend_from_slice(frame);
        }
        plain.extend_from_slice(&junk);
        // Records of arbitrary sizes (empty ones included) with nonces that skip ahead.
        let mut wire = BytesMut::new();
        let mut nonce = 0u64;
        let mut rest = &plain[..];
        // The trailing 1 keeps the loop moving when every drawn size is 0.
        let mut sizes = record_sizes.iter().copied().chain([1]).cycle();
        let mut gap_iter = gaps.iter().copied().cycle();
        while !rest.is_empty() {
            let n = sizes.next().unwrap().min(rest.len());
            nonce += 1 + gap_iter.next().unwrap();
            seal_with_nonce(&keys.send, nonce, &rest[..n], &mut wire);
            rest = &rest[n..];
        }
        let (payloads, error) = feed(&mut responder, &wire, &cuts);
        let (expected, expected_error) = model_frames(&plain);
        let expected: Vec<SkywirePayload> =
            expected.iter().map(|f| SkywirePayload::parse(f)).collect();
        prop_assert_eq!(payloads, expected);
        prop_assert_eq!(error, expected_error.map(SkywireError::Frame));
    }

    /// Arbitrary bytes after the handshake: no panic, never a payload from forged records.
    #[test]
    fn garbage_after_the_handshake_never_yields_a_payload(
        wire in prop::collection::vec(any::<u8>(), 0..9000),
        cuts in prop::collection::vec(1usize..3000, 1..20),
    ) {
        let (_, mut responder, _) = established();
        let (payloads, error) = feed(&mut responder, &wire, &cuts);
        prop_assert!(payloads.is_empty());
        if wire.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([wire[0], wire[1]]));
            let expected_kind = if len > 4094 {
                Some(SkywireError::Wire(WireError::TooLong { len, max: 4094 }))
            } else if len < 24 {
                Some(SkywireError::Wire(WireError::TooShort { len, min: 24 }))
            } else if wire.len() >= 2 + len {
                let nonce = u64::from_be_bytes(wire[2..10].try_into().unwrap());
                Some(SkywireError::Record(if nonce == 0 {
                    RecordError::NonceNotIncreasing { nonce: 0, last: 0 }
                } else {
                    RecordError::DecryptFailed
                }))
            } else {
                None
            };
            prop_assert_eq!(error, expected_kind);
        }
    }

    /// A replayed or lower nonce ends the session, whatever came before.
    #[test]
    fn a_nonce_that_does_not_increase_is_refused(first in 1u64..1000, back in 0u64..1000) {
        let (_, mut responder, keys) = established();
        let mut wire = BytesMut::new();
        seal_with_nonce(&keys.send, first, &[0, 0, 0, 1, b'a'], &mut wire);
        let second = first.saturating_sub(back);
        seal_with_nonce(&keys.send, second, &[0, 0, 0, 1, b'b'], &mut wire);
        let (payloads, error) = feed(&mut responder, &wire, &[wire.len()]);
        prop_assert_eq!(payloads, vec![SkywirePayload::Text("a".into())]);
        prop_assert_eq!(
            error,
            Some(SkywireError::Record(RecordError::NonceNotIncreasing { nonce: second, last: first }))
        );
    }

    /// Envelope recognition never panics, and what it recognises it writes back the same way.
    #[test]
    fn payload_parsing_never_panics(frame in prop::collection::vec(any::<u8>(), 0..300)) {
        let payload = SkywirePayload::parse(&frame);
        if !matches!(payload, SkywirePayload::Text(_) | SkywirePayload::Binary(_)) {
            prop_assert_eq!(SkywirePayload::parse(&payload.encode()), payload);
        }
    }
}

/// One record with an explicit nonce, sealed directly with the AEAD (the sealer only counts up).
fn seal_with_nonce(key: &[u8; 32], nonce: u64, plain: &[u8], out: &mut BytesMut) {
    let body = sealed_body(key, nonce, plain);
    out.put_u16(body.len() as u16);
    out.put_slice(&body);
}

fn sealed_body(key: &[u8; 32], nonce: u64, plain: &[u8]) -> Vec<u8> {
    use chacha20poly1305::aead::{Aead, KeyInit};
    let mut aead_nonce = [0u8; 12];
    aead_nonce[4..].copy_from_slice(&nonce.to_le_bytes());
    let cipher = chacha20poly1305::ChaCha20Poly1305::new(key.into());
    let mut body = nonce.to_be_bytes().to_vec();
    body.extend(cipher.encrypt(&aead_nonce.into(), plain).unwrap());
    body
}

#[test]
fn the_sealer_and_the_test_helper_agree() {
    let mut sealer = RecordSealer::new(&[9; 32]);
    let mut wire = BytesMut::new();
    sealer.seal(b"abc", &mut wire).unwrap();
    let mut expected = BytesMut::new();
    seal_with_nonce(&[9; 32], 1, b"abc", &mut expected);
    assert_eq!(wire, expected);
}
