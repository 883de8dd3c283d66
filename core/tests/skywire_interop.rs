//! The Skywire suite against `wirepeer.py`, an independent Python implementation of the Go
//! skychat's TCP-direct wire, over real TCP on loopback: we dial it and it dials us, with and
//! without ML-KEM, a 10,000-byte message that spans records, `chat-msg` with `ack` answered by
//! `chat-ack` both ways, and a peer that uses the Noise-spec key direction, which must fail.
//!
//! Needs `python3` with `cryptography>=45` (`python3 -m pip install 'cryptography>=45'`); without
//! them each test prints why and passes without running. The peer is found at
//! `$SKYWIRE_WIREPEER`, else at `../shared/tools/skywire/wirepeer.py` beside the repository.
//! Sockets and threads live in this test only; the core stays sans-IO.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use serde_json::Value;
use skychat_core::{
    ChatMsg, PqPolicy, RecordError, SkywireError, SkywirePayload, SkywireReceived,
    SkywireSecretKey, SkywireSession,
};

const WAIT: Duration = Duration::from_secs(20);

fn wirepeer_path() -> PathBuf {
    std::env::var_os("SKYWIRE_WIREPEER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/tools/skywire/wirepeer.py")
        })
}

/// `None` if the peer can run here; else the reason to skip.
fn skip_reason() -> Option<String> {
    let probe = Command::new("python3")
        .args([
            "-c",
            "from cryptography.hazmat.primitives.asymmetric import mlkem; mlkem.MLKEM768PrivateKey",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match probe {
        Err(_) => Some("python3 is not installed".into()),
        Ok(status) if !status.success() => Some(
            "python3 lacks cryptography>=45 (python3 -m pip install 'cryptography>=45')".into(),
        ),
        Ok(_) => {
            let path = wirepeer_path();
            assert!(
                path.is_file(),
                "wirepeer.py not found at {}; set SKYWIRE_WIREPEER to its path",
                path.display()
            );
            None
        }
    }
}

macro_rules! require_peer {
    () => {
        if let Some(reason) = skip_reason() {
            eprintln!("SKIPPED: {reason}");
            return;
        }
    };
}

/// A running wirepeer and its JSON-lines events.
struct Peer {
    child: Child,
    events: Receiver<Value>,
    seen: Vec<Value>,
}

impl Peer {
    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new("python3")
            .arg(wirepeer_path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start wirepeer.py");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            events,
            seen: Vec::new(),
        }
    }

    /// The first event (from now on) for which `matches` holds; panics after [`WAIT`].
    fn expect(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    self.seen.push(event.clone());
                    if matches(&event) {
                        return event;
                    }
                }
                Err(_) => panic!("wirepeer: no {what} event; saw {:#?}", self.seen),
            }
        }
    }

    fn event(&mut self, name: &str) -> Value {
        self.expect(name, |e| e["event"] == name)
    }

    /// Waits for the process to exit and returns its status code.
    fn exit_code(&mut self) -> i32 {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for wirepeer") {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "wirepeer did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
enum End {
    Eof,
    Session(SkywireError),
}

/// Our session driven over a blocking socket.
struct Conn {
    stream: TcpStream,
    session: SkywireSession,
    tx: BytesMut,
}

impl Conn {
    fn new(stream: TcpStream, session: SkywireSession, tx: BytesMut) -> Self {
        stream.set_nodelay(true).unwrap();
        let mut conn = Self {
            stream,
            session,
            tx,
        };
        conn.flush();
        conn
    }

    fn flush(&mut self) {
        if !self.tx.is_empty() {
            // The peer may already have closed (a refused handshake); reads report that.
            let _ = self.stream.write_all(&self.tx);
            self.tx.clear();
        }
    }

    fn next(&mut self) -> Result<SkywireReceived, End> {
        let deadline = Instant::now() + WAIT;
        let mut buf = [0u8; 8192];
        loop {
            let event = self.session.next(&mut self.tx).map_err(End::Session);
            self.flush();
            if let Some(event) = event? {
                return Ok(event);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no event from the peer in time");
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(End::Eof),
                Ok(n) => self.session.push(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Err(End::Eof),
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    fn payload(&mut self) -> SkywirePayload {
        match self.next() {
            Ok(SkywireReceived::Payload(payload)) => payload,
            other => panic!("expected a payload, got {other:?}"),
        }
    }

    fn send(&mut self, payload: &SkywirePayload) {
        self.session.send(payload, &mut self.tx).unwrap();
        self.flush();
    }
}

fn key(byte: u8) -> SkywireSecretKey {
    SkywireSecretKey::from_bytes([byte; 32]).unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn msg(id: &str, body: &str) -> SkywirePayload {
    SkywirePayload::Message(ChatMsg {
        id: id.into(),
        body: body.into(),
        ack: true,
        reply_to: String::new(),
    })
}

fn we_dial(classical_peer: bool) {
    let peer_sk = key(0x21);
    let port = free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let sk_hex = hex::encode(peer_sk.to_bytes());
    let mut args = vec![
        "listen",
        "--addr",
        &addr,
        "--sk",
        &sk_hex,
        "--reply",
        "pong <b> & co",
        "--reply-mode",
        "ack",
        "--once",
        "--exit-after",
        "30",
    ];
    if classical_peer {
        args.push("--classical");
    }
    let mut peer = Peer::spawn(&args);
    peer.event("listening");

    let local = key(0x12);
    let mut tx = BytesMut::new();
    let session = SkywireSession::initiator(
        &local,
        &peer_sk.public_key(),
        PqPolicy::default(),
        [3; 32],
        &mut tx,
    );
    let mut conn = Conn::new(TcpStream::connect(&addr).unwrap(), session, tx);
    let SkywireReceived::Established(established) = conn.next().unwrap() else {
        panic!("expected the handshake first");
    };
    assert_eq!(established.pq, !classical_peer);
    let theirs = peer.event("handshake");
    assert_eq!(theirs["pq"], !classical_peer);
    assert_eq!(theirs["remote_pk"], local.public_key().to_hex());
    assert_eq!(
        theirs["handshake_hash"],
        hex::encode(established.handshake_hash)
    );

    // A 10,000-byte raw text spans three records; wirepeer answers it with an acked chat-msg.
    let long = "y".repeat(10_000);
    conn.send(&SkywirePayload::Text(long.clone()));
    let frame = peer.expect("10,000-byte frame", |e| e["event"] == "frame");
    assert_eq!(frame["len"], 10_000);
    assert_eq!(frame["kind"], "text");
    let SkywirePayload::Message(reply) = conn.payload() else {
        panic!("expected wirepeer's reply");
    };
    assert_eq!(reply.body, "pong <b> & co");
    assert!(reply.ack);
    conn.send(&SkywirePayload::Ack {
        id: reply.id.clone(),
    });
    let acked = peer.event("reply-acked");
    assert_eq!(acked["id"], reply.id.as_str());

    // Our chat-msg with ack: the ack comes back on the same connection before the reply.
    conn.send(&msg("00c0ffee00000001", "ping"));
    assert_eq!(
        conn.payload(),
        SkywirePayload::Ack {
            id: "00c0ffee00000001".into()
        }
    );
    let SkywirePayload::Message(reply) = conn.payload() else {
        panic!("expected the second reply");
    };
    conn.send(&SkywirePayload::Ack {
        id: reply.id.clone(),
    });
    peer.expect("second reply-acked", |e| {
        e["event"] == "reply-acked" && e["id"] == reply.id.as_str()
    });
    drop(conn);
    let result = peer.event("result");
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["received"], 2);
    assert_eq!(peer.exit_code(), 0);
}

fn peer_dials_us(classical_peer: bool) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let local = key(0x34);
    let spec = format!("tcp://{}@127.0.0.1:{port}", local.public_key());
    let peer_sk = key(0x43);
    let sk_hex = hex::encode(peer_sk.to_bytes());
    let mut args = vec![
        "dial", &spec, "--sk", &sk_hex, "--size", "10000", "--ack", "--count", "2", "--linger", "1",
    ];
    if classical_peer {
        args.push("--classical");
    }
    let mut peer = Peer::spawn(&args);
    let (stream, _) = listener.accept().unwrap();
    let session = SkywireSession::responder(&local, PqPolicy::default(), [4; 32]);
    let mut conn = Conn::new(stream, session, BytesMut::new());
    let SkywireReceived::Established(established) = conn.next().unwrap() else {
        panic!("expected the handshake first");
    };
    assert_eq!(established.pq, !classical_peer);
    assert_eq!(established.remote, peer_sk.public_key());
    let theirs = peer.event("handshake");
    assert_eq!(
        theirs["handshake_hash"],
        hex::encode(established.handshake_hash)
    );

    for round in 0..2 {
        let SkywirePayload::Message(message) = conn.payload() else {
            panic!("expected wirepeer's chat-msg {round}");
        };
        assert!(message.ack);
        assert!(message.body.starts_with(&"x".repeat(10_000)));
        conn.send(&SkywirePayload::Ack { id: message.id });
        if round == 0 {
            // Ours travels while wirepeer waits for its second ack; it acks it on the way.
            conn.send(&msg("b1", "hello from the core"));
        }
    }
    assert_eq!(conn.payload(), SkywirePayload::Ack { id: "b1".into() });
    assert!(matches!(conn.next(), Err(End::Eof)));
    let result = peer.event("result");
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["acked"], 2);
    assert_eq!(result["pq"], !classical_peer);
    assert_eq!(peer.exit_code(), 0);
}

#[test]
fn we_dial_wirepeer_with_ml_kem() {
    require_peer!();
    we_dial(false);
}

#[test]
fn we_dial_a_classical_wirepeer() {
    require_peer!();
    we_dial(true);
}

#[test]
fn wirepeer_dials_us_with_ml_kem() {
    require_peer!();
    peer_dials_us(false);
}

#[test]
fn a_classical_wirepeer_dials_us() {
    require_peer!();
    peer_dials_us(true);
}

#[test]
fn a_classical_wirepeer_is_refused_when_pq_is_required() {
    require_peer!();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let local = key(0x35);
    let spec = format!("tcp://{}@127.0.0.1:{port}", local.public_key());
    let mut peer = Peer::spawn(&["dial", spec.as_str(), "--classical", "-m", "hi"]);
    let (stream, _) = listener.accept().unwrap();
    let policy = PqPolicy {
        hybrid: true,
        require: true,
    };
    let session = SkywireSession::responder(&local, policy, [5; 32]);
    let mut conn = Conn::new(stream, session, BytesMut::new());
    assert!(matches!(
        conn.next(),
        Err(End::Session(SkywireError::Handshake(
            skychat_core::HandshakeError::PqRequired
        )))
    ));
    drop(conn);
    peer.event("result");
}

#[test]
fn a_spec_direction_peer_that_dials_us_fails_at_its_first_record() {
    require_peer!();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let local = key(0x36);
    let spec = format!("tcp://{}@127.0.0.1:{port}", local.public_key());
    let mut peer = Peer::spawn(&["dial", spec.as_str(), "--spec-keys", "-m", "hi"]);
    let (stream, _) = listener.accept().unwrap();
    let session = SkywireSession::responder(&local, PqPolicy::default(), [6; 32]);
    let mut conn = Conn::new(stream, session, BytesMut::new());
    assert!(matches!(conn.next(), Ok(SkywireReceived::Established(_))));
    assert!(matches!(
        conn.next(),
        Err(End::Session(SkywireError::Record(
            RecordError::DecryptFailed
        )))
    ));
    peer.event("result");
}

#[test]
fn a_spec_direction_peer_that_we_dial_cannot_read_us() {
    require_peer!();
    let peer_sk = key(0x37);
    let port = free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let sk_hex = hex::encode(peer_sk.to_bytes());
    let mut peer = Peer::spawn(&[
        "listen",
        "--addr",
        &addr,
        "--sk",
        &sk_hex,
        "--spec-keys",
        "--once",
        "--exit-after",
        "30",
    ]);
    peer.event("listening");
    let mut tx = BytesMut::new();
    let session = SkywireSession::initiator(
        &key(0x73),
        &peer_sk.public_key(),
        PqPolicy::default(),
        [7; 32],
        &mut tx,
    );
    let mut conn = Conn::new(TcpStream::connect(&addr).unwrap(), session, tx);
    assert!(matches!(conn.next(), Ok(SkywireReceived::Established(_))));
    conn.send(&msg("c1", "can you read this?"));
    let closed = peer.event("closed");
    assert!(
        closed["error"]
            .as_str()
            .unwrap_or_default()
            .contains("InvalidTag"),
        "{closed}"
    );
    assert!(matches!(conn.next(), Err(End::Eof)));
    let result = peer.event("result");
    assert_eq!(result["ok"], false, "{result}");
}
