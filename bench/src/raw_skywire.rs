//! The Skywire-suite raw baselines, in memory and in one thread: complete handshakes between an
//! initiator and a responder `SkywireSession` (with and without the ML-KEM-768 hybrid), and
//! pipelined chat frames through `send_frame` and `push`/`next` with cumulative acks the other
//! way. The wire is a reused buffer, so the figures are the suite's own cost; they sit beside the
//! same measurements on snow in [`crate::raw_noise`].

use std::time::Instant;

use bytes::BytesMut;
use skychat_core::{
    Established, PqPolicy, SkywirePayload, SkywireReceived, SkywireSecretKey, SkywireSession,
};

use crate::raw_noise::IN_MEMORY_BATCH;

/// The Skywire secret key number `n` (deterministic, distinct per `n`, always in range).
pub fn secret(n: u32) -> SkywireSecretKey {
    let mut bytes = [0x42; 32];
    bytes[4..8].copy_from_slice(&n.to_le_bytes());
    SkywireSecretKey::from_bytes(bytes).expect("0x42.. is below the group order")
}

/// Offers and answers the ML-KEM-768 hybrid if `pq`, else completes classically.
pub fn policy(pq: bool) -> PqPolicy {
    PqPolicy {
        hybrid: pq,
        require: false,
    }
}

/// The session seed of handshake `round` for one side.
fn seed(round: u64, side: u8) -> [u8; 32] {
    let mut seed = [side; 32];
    seed[..8].copy_from_slice(&round.to_le_bytes());
    seed
}

/// Runs a handshake between two fresh sessions to the end; returns both ends' view of it
/// (initiator's first) and the sessions.
fn handshake(
    initiator_key: &SkywireSecretKey,
    responder_key: &SkywireSecretKey,
    policy: PqPolicy,
    round: u64,
) -> (Established, Established, SkywireSession, SkywireSession) {
    let mut wire = BytesMut::with_capacity(2048);
    let mut reply = BytesMut::with_capacity(2048);
    let mut initiator = SkywireSession::initiator(
        initiator_key,
        &responder_key.public_key(),
        policy,
        seed(round, 1),
        &mut wire,
    );
    let mut responder = SkywireSession::responder(responder_key, policy, seed(round, 2));
    responder.push(&wire);
    wire.clear();
    assert_eq!(responder.next(&mut reply), Ok(None), "message 1");
    initiator.push(&reply);
    reply.clear();
    let Ok(Some(SkywireReceived::Established(initiator_view))) = initiator.next(&mut wire) else {
        panic!("the initiator did not finish on message 2");
    };
    responder.push(&wire);
    wire.clear();
    let Ok(Some(SkywireReceived::Established(responder_view))) = responder.next(&mut reply) else {
        panic!("the responder did not finish on message 3");
    };
    (initiator_view, responder_view, initiator, responder)
}

/// One complete XK handshake with both sides in this thread. Checks that both ends agree and
/// that the responder learnt the initiator's key; returns whether the hybrid was used.
pub fn handshake_in_memory(
    initiator_key: &SkywireSecretKey,
    responder_key: &SkywireSecretKey,
    policy: PqPolicy,
    round: u64,
) -> bool {
    let (i, r, _, _) = handshake(initiator_key, responder_key, policy, round);
    assert_eq!(i.handshake_hash, r.handshake_hash, "both ends agree");
    assert_eq!(r.remote, initiator_key.public_key(), "initiator proven");
    i.pq && r.pq
}

/// The frame's bytes, however the reader classified them.
fn frame_bytes(payload: &SkywirePayload) -> &[u8] {
    match payload {
        SkywirePayload::Text(text) => text.as_bytes(),
        SkywirePayload::Binary(bytes) => bytes,
        other => panic!("the bench sends no envelopes, got {other:?}"),
    }
}

/// Sends `count` chat frames of `size` bytes from an initiator to a responder (a hybrid session),
/// [`IN_MEMORY_BATCH`] frames per write; the responder reads each write whole and answers with
/// one cumulative 8-byte ack frame, which the sender reads. Returns acked frames per second.
pub fn pipelined_in_memory(count: u64, size: usize) -> f64 {
    let (mut sender, mut receiver) = {
        let (_, _, i, r) = handshake(&secret(1), &secret(2), policy(true), 0);
        (i, r)
    };
    let payload = vec![0x5a; size];
    let mut to_receiver = BytesMut::with_capacity(IN_MEMORY_BATCH as usize * (size + 64));
    let mut to_sender = BytesMut::with_capacity(256);
    // Handshake replies only; nothing is written here once the session is established.
    let mut no_reply = BytesMut::new();
    let (mut sent, mut received, mut acked) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    while acked < count {
        for _ in 0..IN_MEMORY_BATCH.min(count - sent) {
            sender
                .send_frame(&payload, &mut to_receiver)
                .expect("send frame");
            sent += 1;
        }
        receiver.push(&to_receiver);
        to_receiver.clear();
        while let Some(got) = receiver.next(&mut no_reply).expect("receive frame") {
            let SkywireReceived::Payload(frame) = got else {
                panic!("a second handshake event");
            };
            assert_eq!(frame_bytes(&frame).len(), size);
            received += 1;
        }
        receiver
            .send_frame(&received.to_be_bytes(), &mut to_sender)
            .expect("send ack");
        sender.push(&to_sender);
        to_sender.clear();
        while let Some(got) = sender.next(&mut no_reply).expect("receive ack") {
            let SkywireReceived::Payload(ack) = got else {
                panic!("a second handshake event");
            };
            acked = u64::from_be_bytes(frame_bytes(&ack).try_into().expect("8-byte ack"));
        }
    }
    let elapsed = started.elapsed();
    assert!(no_reply.is_empty() && sent == count && received == count);
    count as f64 / elapsed.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshakes_complete_with_and_without_the_hybrid() {
        let (a, b) = (secret(1), secret(2));
        assert!(handshake_in_memory(&a, &b, policy(true), 1));
        assert!(!handshake_in_memory(&a, &b, policy(false), 2));
    }

    #[test]
    fn pipelined_sender_gets_every_ack() {
        for size in [64, 1024, 5000] {
            let rate = pipelined_in_memory(200, size);
            assert!(rate.is_finite() && rate > 0.0);
        }
    }
}
