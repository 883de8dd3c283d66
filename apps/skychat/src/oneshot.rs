//! `skychat send --via tcp://<pk>@host:port`: dial the peer directly as a one-shot Noise peer,
//! send one message and, with `--wait`, wait for its ack. A 66-hex pk dials the Skywire suite
//! (as the Go skychat's `send --via` does); its ack means the peer decoded the message. A nonzero `--wait` bounds the whole
//! exchange, handshake included.

use std::time::{Duration, Instant};

use skychat_core::PqPolicy;
use skychat_core::{Event, NodeConfig, SecretKey};
use skychat_driver::{DialError, DriverConfig};

use crate::address::PeerSpec;

/// How a one-shot send ended badly.
#[derive(Debug)]
pub enum SendFailure {
    /// Could not reach or authenticate the peer.
    Dial(String),
    /// The message was refused locally (for example, too large).
    Refused(String),
    /// No ack within the wait.
    NotAcked(String),
}

impl std::fmt::Display for SendFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dial(reason) | Self::Refused(reason) | Self::NotAcked(reason) => {
                f.write_str(reason)
            }
        }
    }
}

fn dial_failure(spec: &PeerSpec, error: DialError) -> SendFailure {
    match error {
        DialError::Handshake(reason) => SendFailure::Dial(format!("handshake failed: {reason}")),
        other => SendFailure::Dial(format!("cannot reach {}: {other}", spec.addr)),
    }
}

/// Sends `body` to `spec` and returns the line to print on success. A Skywire-suite peer may
/// complete the handshake classically (see [`send_via_with`]).
pub fn send_via(
    identity: SecretKey,
    spec: &PeerSpec,
    body: String,
    wait: Duration,
) -> Result<String, SendFailure> {
    send_via_with(identity, spec, body, wait, PqPolicy::default())
}

/// [`send_via`] with the post-quantum policy for a Skywire-suite peer (`--require-pq` sets
/// `require`).
pub fn send_via_with(
    identity: SecretKey,
    spec: &PeerSpec,
    body: String,
    wait: Duration,
    pq_policy: PqPolicy,
) -> Result<String, SendFailure> {
    if body.len() > skychat_core::MAX_BODY_BYTES {
        return Err(SendFailure::Refused(format!(
            "message is {} bytes; the limit is {}",
            body.len(),
            skychat_core::MAX_BODY_BYTES
        )));
    }
    let seed = crate::keyfile::seed().map_err(SendFailure::Refused)?;
    let config = DriverConfig {
        identity,
        node: NodeConfig {
            pq_policy,
            ..NodeConfig::default()
        },
        seed,
        restore_outbox: Vec::new(),
        restore_dedup: Vec::new(),
        tcp_keepalive: None,
    };
    smol::block_on(async {
        let handle = skychat_smol::start(config);
        let events = handle.events();
        let result = async {
            let deadline = Instant::now() + wait;
            let dial = async {
                Some(
                    handle
                        .dial_once(spec.pk, spec.addr.clone())
                        .await
                        .map_err(|e| dial_failure(spec, e)),
                )
            };
            let dialed = if wait.is_zero() {
                dial.await
            } else {
                futures_lite::future::or(dial, async {
                    smol::Timer::at(deadline).await;
                    None
                })
                .await
            };
            match dialed {
                Some(dialed) => dialed?,
                None => {
                    return Err(SendFailure::NotAcked(format!(
                        "send to {} via tcp not acked: the handshake with {} did not complete \
                         within {}",
                        spec.pk,
                        spec.addr,
                        humantime::format_duration(wait)
                    )));
                }
            };
            let started = Instant::now();
            let message = handle
                .send(spec.pk, body, None)
                .await
                .map_err(|e| SendFailure::Refused(e.to_string()))?;
            if wait.is_zero() {
                return Ok(format!(
                    "Message sent to {} via tcp (id={})",
                    spec.pk, message.id
                ));
            }
            loop {
                let remaining = deadline.saturating_duration_since(Instant::now());
                let next = futures_lite::future::or(async { Some(events.recv().await) }, async {
                    smol::Timer::after(remaining).await;
                    None
                })
                .await;
                match next {
                    None => {
                        return Err(SendFailure::NotAcked(format!(
                            "send to {} via tcp not acked: no ack within {}",
                            spec.pk,
                            humantime::format_duration(wait)
                        )));
                    }
                    Some(Err(_)) => {
                        return Err(SendFailure::NotAcked("node stopped unexpectedly".into()));
                    }
                    Some(Ok(Event::MessageAcked { id, peer, .. })) if id == message.id => {
                        let ms = started.elapsed().as_millis();
                        return Ok(format!("Acked by {peer} in {ms}ms (via tcp)"));
                    }
                    Some(Ok(Event::ConnectionClosed {
                        reason,
                        peer: Some(p),
                        ..
                    })) if p == spec.pk => {
                        return Err(SendFailure::NotAcked(format!(
                            "send to {} via tcp not acked: connection closed: {reason}",
                            spec.pk
                        )));
                    }
                    Some(Ok(Event::ClassicalHandshake { peer, .. })) => log::warn!(
                        "post-quantum DOWNGRADE: Skywire peer {peer} completed the handshake \
                         without the ML-KEM hybrid (classical only); pass --require-pq to refuse \
                         such peers"
                    ),
                    Some(Ok(_)) => {}
                }
            }
        }
        .await;
        handle.shutdown().await;
        result
    })
}
