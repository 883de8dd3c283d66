//! The Noise baseline written directly on snow (ring resolver, `Noise_XK_25519_ChaChaPoly_BLAKE2s`)
//! over blocking TCP with a 2-byte big-endian length before each Noise message: handshakes in
//! memory and over a socket, and a pipelined sender that batches many messages per write against
//! a receiver that acks cumulatively, once per read (over TCP, and in memory in one thread).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use snow::{Builder, HandshakeState, Keypair, StatelessTransportState};

/// The Noise protocol name the core also uses.
pub const PATTERN: &str = "Noise_XK_25519_ChaChaPoly_BLAKE2s";

/// Messages in flight before the sender waits for acks (the core's default in-flight window).
const WINDOW: u64 = 1024;
/// Messages encrypted into one write.
const BATCH: u64 = 64;
/// Messages encrypted into one write of the in-memory pipelines (here and in
/// [`crate::raw_skywire`]): the same batch as over TCP.
pub const IN_MEMORY_BATCH: u64 = BATCH;
/// AEAD tag length.
const TAG: usize = 16;

fn builder() -> Builder<'static> {
    Builder::new(PATTERN.parse().expect("noise params"))
}

/// A fresh static key pair.
pub fn keypair() -> Keypair {
    builder().generate_keypair().expect("keypair")
}

fn initiator(local: &Keypair, remote_public: &[u8]) -> HandshakeState {
    builder()
        .local_private_key(&local.private)
        .and_then(|b| b.remote_public_key(remote_public))
        .and_then(|b| b.build_initiator())
        .expect("initiator")
}

fn responder(local: &Keypair) -> HandshakeState {
    builder()
        .local_private_key(&local.private)
        .and_then(|b| b.build_responder())
        .expect("responder")
}

/// Runs a complete XK handshake with both sides in this thread; returns both finished states.
fn finished_handshake(
    initiator_keys: &Keypair,
    responder_keys: &Keypair,
) -> (HandshakeState, HandshakeState) {
    let mut i = initiator(initiator_keys, &responder_keys.public);
    let mut r = responder(responder_keys);
    let (mut a, mut b) = ([0u8; 256], [0u8; 256]);
    let n = i.write_message(&[], &mut a).expect("msg 1");
    r.read_message(&a[..n], &mut b).expect("read 1");
    let n = r.write_message(&[], &mut a).expect("msg 2");
    i.read_message(&a[..n], &mut b).expect("read 2");
    let n = i.write_message(&[], &mut a).expect("msg 3");
    r.read_message(&a[..n], &mut b).expect("read 3");
    assert!(i.is_handshake_finished() && r.is_handshake_finished());
    (i, r)
}

/// One complete XK handshake with both sides in this thread; returns the responder's view of the
/// initiator's static key length (so the work cannot be optimised away).
pub fn handshake_in_memory(initiator_keys: &Keypair, responder_keys: &Keypair) -> usize {
    let (_, r) = finished_handshake(initiator_keys, responder_keys);
    r.get_remote_static().map_or(0, <[u8]>::len)
}

/// Completes an in-memory handshake and returns the initiator's and the responder's transports.
fn transports_in_memory() -> (StatelessTransportState, StatelessTransportState) {
    let (i, r) = finished_handshake(&keypair(), &keypair());
    (
        i.into_stateless_transport_mode().expect("transport"),
        r.into_stateless_transport_mode().expect("transport"),
    )
}

/// Appends one Noise message (`plain` encrypted with `nonce`) with its 2-byte length to `wire`.
fn seal_framed(transport: &StatelessTransportState, nonce: u64, plain: &[u8], wire: &mut Vec<u8>) {
    let start = wire.len();
    wire.resize(start + 2 + plain.len() + TAG, 0);
    let n = transport
        .write_message(nonce, plain, &mut wire[start + 2..])
        .expect("encrypt");
    wire[start..start + 2].copy_from_slice(&(n as u16).to_be_bytes());
    wire.truncate(start + 2 + n);
}

/// Decrypts every length-prefixed Noise message in `wire`, numbering them from `*nonce`; calls
/// `each` with every plaintext.
fn open_framed(
    transport: &StatelessTransportState,
    nonce: &mut u64,
    wire: &[u8],
    plain: &mut [u8],
    mut each: impl FnMut(&[u8]),
) {
    let mut at = 0;
    while at < wire.len() {
        let len = u16::from_be_bytes([wire[at], wire[at + 1]]) as usize;
        let n = transport
            .read_message(*nonce, &wire[at + 2..at + 2 + len], plain)
            .expect("decrypt");
        *nonce += 1;
        each(&plain[..n]);
        at += 2 + len;
    }
}

/// Sends `count` messages of `size` bytes over one in-memory Noise session in this thread,
/// [`IN_MEMORY_BATCH`] per write; the receiver decrypts each write whole and answers with one
/// cumulative 8-byte ack, which the sender decrypts. Returns acked messages per second.
pub fn pipelined_in_memory(count: u64, size: usize) -> f64 {
    let (sender, receiver) = transports_in_memory();
    let payload = vec![0x5a; size];
    let mut to_receiver = Vec::with_capacity(IN_MEMORY_BATCH as usize * (2 + size + TAG));
    let mut to_sender = Vec::with_capacity(64);
    let mut plain = vec![0u8; size.max(8)];
    let (mut sent, mut received, mut acked) = (0u64, 0u64, 0u64);
    let (mut ack_sent, mut ack_received) = (0u64, 0u64);
    let started = Instant::now();
    while acked < count {
        for _ in 0..IN_MEMORY_BATCH.min(count - sent) {
            seal_framed(&sender, sent, &payload, &mut to_receiver);
            sent += 1;
        }
        let mut nonce = received;
        open_framed(&receiver, &mut nonce, &to_receiver, &mut plain, |message| {
            assert_eq!(message.len(), size);
        });
        received = nonce;
        to_receiver.clear();
        seal_framed(&receiver, ack_sent, &received.to_be_bytes(), &mut to_sender);
        ack_sent += 1;
        open_framed(&sender, &mut ack_received, &to_sender, &mut plain, |ack| {
            acked = u64::from_be_bytes(ack.try_into().expect("8-byte ack"));
        });
        to_sender.clear();
    }
    let elapsed = started.elapsed();
    assert!(sent == count && received == count);
    count as f64 / elapsed.as_secs_f64()
}

fn write_frame(stream: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    let mut frame = Vec::with_capacity(2 + body.len());
    frame.extend_from_slice(&(body.len() as u16).to_be_bytes());
    frame.extend_from_slice(body);
    stream.write_all(&frame)
}

fn read_frame(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut body)?;
    Ok(body)
}

/// Runs the initiator side of the handshake on `stream`.
pub fn connect(
    stream: &mut TcpStream,
    local: &Keypair,
    remote_public: &[u8],
) -> StatelessTransportState {
    let mut hs = initiator(local, remote_public);
    let mut buf = [0u8; 256];
    let n = hs.write_message(&[], &mut buf).expect("msg 1");
    write_frame(stream, &buf[..n]).expect("send msg 1");
    let reply = read_frame(stream).expect("read msg 2");
    hs.read_message(&reply, &mut buf).expect("msg 2");
    let n = hs.write_message(&[], &mut buf).expect("msg 3");
    write_frame(stream, &buf[..n]).expect("send msg 3");
    hs.into_stateless_transport_mode().expect("transport")
}

/// Runs the responder side of the handshake on `stream`.
pub fn accept(stream: &mut TcpStream, local: &Keypair) -> StatelessTransportState {
    let mut hs = responder(local);
    let mut buf = [0u8; 256];
    let first = read_frame(stream).expect("read msg 1");
    hs.read_message(&first, &mut buf).expect("msg 1");
    let n = hs.write_message(&[], &mut buf).expect("msg 2");
    write_frame(stream, &buf[..n]).expect("send msg 2");
    let third = read_frame(stream).expect("read msg 3");
    hs.read_message(&third, &mut buf).expect("msg 3");
    hs.into_stateless_transport_mode().expect("transport")
}

/// Sends `count` messages of `size` bytes over one Noise session on loopback TCP, pipelined
/// (batched writes, a window of unacked messages, cumulative acks) and returns messages per
/// second from the first write to the last ack.
pub fn pipelined_throughput(count: u64, size: usize) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server_keys = keypair();
    let server_public = server_keys.public.clone();
    let receiver = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        let transport = accept(&mut stream, &server_keys);
        receive_and_ack(&mut stream, &transport, count);
    });
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let transport = Arc::new(connect(&mut stream, &keypair(), &server_public));
    let acked = Arc::new(AtomicU64::new(0));
    let writer = std::thread::current();
    let ack_reader = {
        let (mut stream, transport, acked) = (
            stream.try_clone().expect("clone"),
            transport.clone(),
            acked.clone(),
        );
        std::thread::spawn(move || {
            let mut nonce = 0;
            let mut plain = [0u8; 64];
            while acked.load(Ordering::Acquire) < count {
                let frame = read_frame(&mut stream).expect("read ack");
                let n = transport
                    .read_message(nonce, &frame, &mut plain)
                    .expect("decrypt ack");
                nonce += 1;
                let upto = u64::from_be_bytes(plain[..n].try_into().expect("8-byte ack"));
                acked.store(upto, Ordering::Release);
                writer.unpark();
            }
        })
    };
    let payload = vec![0x5a; size];
    let mut out = Vec::with_capacity(BATCH as usize * (2 + size + TAG));
    let started = Instant::now();
    let mut sent = 0u64;
    while sent < count {
        let room = WINDOW - (sent - acked.load(Ordering::Acquire));
        if room == 0 {
            std::thread::park();
            continue;
        }
        let batch = room.min(BATCH).min(count - sent);
        out.clear();
        for _ in 0..batch {
            let start = out.len();
            out.resize(start + 2 + size + TAG, 0);
            let n = transport
                .write_message(sent, &payload, &mut out[start + 2..])
                .expect("encrypt");
            out[start..start + 2].copy_from_slice(&(n as u16).to_be_bytes());
            sent += 1;
        }
        stream.write_all(&out).expect("write batch");
    }
    while acked.load(Ordering::Acquire) < count {
        std::thread::park();
    }
    let elapsed = started.elapsed();
    ack_reader.join().expect("ack reader");
    receiver.join().expect("receiver");
    count as f64 / elapsed.as_secs_f64()
}

/// Reads and decrypts messages until `count` arrived, acking cumulatively after every read.
fn receive_and_ack(stream: &mut TcpStream, transport: &StatelessTransportState, count: u64) {
    let mut buffer = vec![0u8; 1 << 16];
    let mut filled = 0;
    let mut plain = vec![0u8; 1 << 16];
    let mut received = 0u64;
    let mut ack_nonce = 0;
    let mut ack = [0u8; 64];
    while received < count {
        let n = stream.read(&mut buffer[filled..]).expect("read");
        assert!(n > 0, "sender hung up early");
        filled += n;
        let mut at = 0;
        let before = received;
        while filled - at >= 2 {
            let len = u16::from_be_bytes([buffer[at], buffer[at + 1]]) as usize;
            if filled - at < 2 + len {
                break;
            }
            transport
                .read_message(received, &buffer[at + 2..at + 2 + len], &mut plain)
                .expect("decrypt");
            received += 1;
            at += 2 + len;
        }
        buffer.copy_within(at..filled, 0);
        filled -= at;
        if received > before {
            let n = transport
                .write_message(ack_nonce, &received.to_be_bytes(), &mut ack)
                .expect("encrypt ack");
            ack_nonce += 1;
            write_frame(stream, &ack[..n]).expect("write ack");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_handshake_authenticates_the_initiator() {
        assert_eq!(handshake_in_memory(&keypair(), &keypair()), 32);
    }

    #[test]
    fn pipelined_sender_gets_every_ack() {
        let rate = pipelined_throughput(3000, 64);
        assert!(rate.is_finite() && rate > 0.0);
    }

    #[test]
    fn in_memory_pipeline_gets_every_ack() {
        for size in [64, 1024] {
            let rate = pipelined_in_memory(200, size);
            assert!(rate.is_finite() && rate > 0.0);
        }
    }
}
