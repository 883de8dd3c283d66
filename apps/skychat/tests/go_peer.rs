//! The real node against a Go skychat peer, played by `wirepeer.py` (an independent
//! implementation of the Go TCP-direct wire): it dials us with and without the post-quantum
//! hybrid and each ack follows storage; a 10,000-byte message spanning records arrives whole; we
//! dial it and our message ends "delivered"; `send --via` prints the Go line; `--require-pq`
//! refuses a classical peer; a peer with the Noise-spec key direction fails without harming the
//! node; and a Go peer's `chat-read` and `chat-delete` (sent by a small script on wirepeer's
//! primitives) reach the history.
//!
//! Each test prints a "SKIPPED" line and passes without running when `python3` with
//! `cryptography>=45` is missing.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use support::binaries::SKYCHAT;
use support::command::run;
use support::node::{Args, Node, keygen};
use support::sse;
use support::wirepeer::{self, KeyPair, Peer};
use tempfile::TempDir;

/// How long a condition may take to hold.
const LIMIT: Duration = Duration::from_secs(20);

/// This node's Skywire key, from its banner.
fn skywire_pk(node: &Node) -> String {
    node.stdout()
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("skywire pk:"))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a \"skywire pk:\" banner line")
        .to_string()
}

/// What a Go peer dials to reach `node`.
fn skywire_url(node: &Node) -> String {
    format!(
        "tcp://{}@{}",
        skywire_pk(node),
        node.tcp_listen.expect("a TCP listener")
    )
}

/// A node and the directory holding its key file and data (removed after the node stops).
struct Fixture {
    node: Node,
    /// The node's Skywire key.
    sky: String,
    _dir: TempDir,
}

/// A node listening on loopback that lets in `allowed`, with `extra` flags.
fn listening(allowed: &[&str], extra: &[&str]) -> Fixture {
    let dir = TempDir::new().expect("scratch dir");
    let keys = keygen(dir.path(), "node");
    let args = Args::new(dir.path()).listener(&keys, "data", allowed, extra);
    let node = Node::start(&args);
    let sky = skywire_pk(&node);
    Fixture {
        node,
        sky,
        _dir: dir,
    }
}

/// A node that keeps a link to `peers`, with `extra` flags.
fn dialing(peers: &[String], extra: &[&str]) -> Fixture {
    let dir = TempDir::new().expect("scratch dir");
    let keys = keygen(dir.path(), "node");
    let args = Args::new(dir.path()).dialer(&keys, "data", peers, extra);
    let node = Node::start(&args);
    let sky = skywire_pk(&node);
    Fixture {
        node,
        sky,
        _dir: dir,
    }
}

/// `wirepeer.py dial` to `node` as `peer`, with `extra` arguments.
fn dial(node: &Node, peer: &KeyPair, extra: &[&str]) -> Peer {
    let url = skywire_url(node);
    let mut args = vec!["dial", url.as_str(), "--sk", peer.sk.as_str()];
    args.extend_from_slice(extra);
    Peer::start(&args)
}

/// `wirepeer.py listen` on a free loopback port as `peer`; returns it and its address once it
/// listens.
fn listen(peer: &KeyPair, extra: &[&str]) -> (Peer, String) {
    let addr = format!("127.0.0.1:{}", wirepeer::free_port());
    let mut args = vec![
        "listen",
        "--addr",
        addr.as_str(),
        "--sk",
        peer.sk.as_str(),
        "--exit-after",
        "40",
    ];
    args.extend_from_slice(extra);
    let mut go = Peer::start(&args);
    go.event("listening");
    (go, addr)
}

/// The messages received from `peer`, oldest first.
fn incoming(node: &Node, peer: &str) -> Vec<Value> {
    node.history(peer)
        .into_iter()
        .filter(|m| m["dir"] == "in")
        .collect()
}

/// The message with `id` in the history with `peer`.
fn message(node: &Node, peer: &str, id: &str) -> Option<Value> {
    node.history(peer).into_iter().find(|m| m["id"] == id)
}

#[test]
fn a_go_peer_dials_us_and_each_ack_comes_after_the_message_is_stored() {
    if !wirepeer::available("a_go_peer_dials_us") {
        return;
    }
    let go = wirepeer::keygen();
    let f = listening(&[&go.pk], &[]);
    let mut peer = dial(
        &f.node,
        &go,
        &["-m", "hello", "--count", "3", "--ack", "--wait", "10"],
    );
    let handshake = peer.event("handshake");
    assert_eq!(handshake["pq"], true, "{handshake}");
    assert_eq!(handshake["remote_pk"], f.sky.as_str());
    let mut ids = Vec::new();
    for n in 1..=3 {
        let acked = peer.event("acked");
        assert_eq!(acked["n"], n);
        let id = acked["id"].as_str().expect("id").to_string();
        // The ack is sent only once the message is stored: it is in the history already.
        let stored = message(&f.node, &go.pk, &id)
            .unwrap_or_else(|| panic!("acked message {id} is not in the history"));
        assert_eq!(stored["message"], format!("hello #{n}"));
        ids.push(id);
    }
    assert_eq!(peer.finish(), 0, "{:#?}", peer.seen);

    let history = incoming(&f.node, &go.pk);
    assert_eq!(history.len(), 3, "{history:#?}");
    for (m, id) in history.iter().zip(&ids) {
        assert_eq!(m["id"], id.as_str(), "Go's 16-hex ids keep their form");
        assert_eq!(m["sender"], go.pk.as_str());
        assert_eq!(m["from"], go.pk.as_str());
        assert_eq!(m["to"], f.sky.as_str(), "our key in the peer's suite: {m}");
        assert_eq!(m["status"], "received");
        assert_eq!(m["suite"], "skywire");
        // The Go wire has no send time: the receive time stands in for it.
        assert!(m["sent_at"].as_u64().unwrap() > 0, "{m}");
        assert_eq!(m["sent_at"], m["timestamp"], "{m}");
    }
    let status = f.node.status();
    assert_eq!(status["post_quantum"]["downgrades"], 0, "{status:#}");
    assert_eq!(status["visor_pk"], f.sky.as_str());
    assert!(!f.node.stderr().contains("DOWNGRADE"));
}

#[test]
fn a_classical_go_peer_gets_a_downgrade_warning_and_is_refused_under_require_pq() {
    if !wirepeer::available("a_classical_go_peer") {
        return;
    }
    let go = wirepeer::keygen();
    let open = listening(&[&go.pk], &[]);
    let mut peer = dial(&open.node, &go, &["-m", "old", "--ack", "--classical"]);
    assert_eq!(peer.event("handshake")["pq"], false);
    assert_eq!(peer.finish(), 0, "{:#?}", peer.seen);
    assert_eq!(open.node.received_from(&go.pk), ["old"]);
    open.node.wait_stderr(
        &format!("post-quantum DOWNGRADE: Skywire peer {}", go.pk),
        LIMIT,
    );
    assert!(open.node.stderr().contains("--require-pq"));
    let status = open.node.status();
    assert_eq!(status["post_quantum"]["downgrades"], 1, "{status:#}");
    assert_eq!(status["post_quantum"]["required"], false);

    let strict = listening(&[&go.pk], &["--require-pq"]);
    let mut refused = dial(
        &strict.node,
        &go,
        &["-m", "old", "--ack", "--classical", "--wait", "3"],
    );
    assert_ne!(refused.finish(), 0, "{:#?}", refused.seen);
    assert!(refused.seen("acked").is_empty());
    strict.node.wait_stderr(
        "without the post-quantum hybrid (classical only): --require-pq",
        LIMIT,
    );
    assert!(strict.node.history(&go.pk).is_empty());
    let status = strict.node.status();
    assert_eq!(status["post_quantum"]["required"], true, "{status:#}");
    assert_eq!(status["post_quantum"]["refused_classical"], 1);
    // A post-quantum peer still gets in.
    let mut modern = dial(&strict.node, &go, &["-m", "new", "--ack"]);
    assert_eq!(modern.finish(), 0, "{:#?}", modern.seen);
    assert_eq!(strict.node.received_from(&go.pk), ["new"]);
}

#[test]
fn a_10000_byte_message_spanning_records_arrives_whole() {
    if !wirepeer::available("a_10000_byte_message") {
        return;
    }
    let go = wirepeer::keygen();
    let f = listening(&[&go.pk], &[]);
    let mut peer = dial(&f.node, &go, &["--size", "10000", "--ack"]);
    assert_eq!(peer.finish(), 0, "{:#?}", peer.seen);
    let got = f.node.received_from(&go.pk);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].len(), 10_000);
    assert!(got[0].bytes().all(|b| b == b'x'));
}

#[test]
fn we_dial_a_go_peer_and_our_message_ends_delivered() {
    if !wirepeer::available("we_dial_a_go_peer") {
        return;
    }
    let go = wirepeer::keygen();
    let (mut peer, addr) = listen(
        &go,
        &["--count", "1", "--reply", "pong", "--reply-mode", "ack"],
    );
    let f = dialing(&[format!("tcp://{}@{addr}", go.pk)], &[]);
    f.node.wait_connected(&go.pk);
    let mut stream = sse::Stream::open(f.node.http, "/sse", &[]);

    let response = f.node.send(&go.pk, "ping from rust", Some(10_000));
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json["acked"], true);
    assert_eq!(response.json["status"], "delivered", "{response:?}");
    let id = response.json["id"].as_str().expect("id").to_string();
    let events = stream.until(LIMIT, |e| {
        let data = e.json();
        data["channel"] == "dm-status" && data["id"] == id.as_str()
    });
    let last = events.last().unwrap().json();
    assert_eq!(last["status"], "delivered", "{last}");

    assert_eq!(peer.finish(), 0, "{:#?}", peer.seen);
    let frame = peer
        .seen("frame")
        .into_iter()
        .find(|e| e["kind"] == "chat-msg")
        .cloned()
        .expect("our chat-msg");
    assert_eq!(frame["id"], id.as_str(), "{frame}");
    assert_eq!(frame["ack"], true);
    // Its reply asked for an ack, and got it from us after we stored it.
    assert_eq!(peer.seen("reply-acked").len(), 1, "{:#?}", peer.seen);
    assert_eq!(f.node.received_from(&go.pk), ["pong"]);

    let ours = message(&f.node, &go.pk, &id).expect("our message");
    assert_eq!(ours["status"], "delivered", "{ours}");
    assert_eq!(ours["from"], f.sky.as_str());
    assert_eq!(ours["sender"], f.sky.as_str());
    assert_eq!(ours["to"], go.pk.as_str());
    assert!(ours["acked_at"].as_u64().is_some());
}

#[test]
fn send_via_a_go_peer_prints_the_acked_line() {
    if !wirepeer::available("send_via_a_go_peer") {
        return;
    }
    let go = wirepeer::keygen();
    let (mut peer, addr) = listen(&go, &["--count", "1"]);
    let dir = TempDir::new().unwrap();
    let me = keygen(dir.path(), "me");
    let via = format!("tcp://{}@{addr}", go.pk);
    let out = run(
        SKYCHAT,
        &[
            "send", "--via", &via, "-m", "ping", "--wait", "8s", "-c", &me.file,
        ],
        &[],
        LIMIT,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let line = out.stdout.trim_end();
    let rest = line
        .strip_prefix(&format!("Acked by {} in ", go.pk))
        .and_then(|r| r.strip_suffix("ms (via tcp)"))
        .unwrap_or_else(|| panic!("not the Go line: {line:?}"));
    assert!(rest.parse::<u64>().is_ok(), "{line:?}");
    assert_eq!(peer.finish(), 0, "{:#?}", peer.seen);
    let frame = peer.seen("frame")[0];
    assert!(
        frame["payload"]
            .as_str()
            .unwrap()
            .contains("\"body\":\"ping\"")
    );

    // Demanding the post-quantum hybrid of a classical listener fails clearly.
    let (_classical, addr) = listen(&go, &["--classical"]);
    let via = format!("tcp://{}@{addr}", go.pk);
    let out = run(
        SKYCHAT,
        &[
            "send",
            "--via",
            &via,
            "-m",
            "ping",
            "--wait",
            "8s",
            "-c",
            &me.file,
            "--require-pq",
        ],
        &[],
        LIMIT,
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("handshake failed: protocol violation: skywire: handshake: peer completed the handshake without ML-KEM, which is required"),
        "{out:?}"
    );
    // Without it, the classical listener gets the message and the sender a warning.
    let out = run(
        SKYCHAT,
        &[
            "send", "--via", &via, "-m", "ping", "--wait", "8s", "-c", &me.file,
        ],
        &[],
        LIMIT,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.starts_with(&format!("Acked by {} in ", go.pk)));
    assert!(
        out.stderr.contains(&format!(
            "post-quantum DOWNGRADE: Skywire peer {} completed the handshake without the ML-KEM hybrid",
            go.pk
        )),
        "{out:?}"
    );
}

#[test]
fn a_peer_with_the_spec_key_direction_fails_and_the_node_stays_healthy() {
    if !wirepeer::available("a_spec_direction_peer") {
        return;
    }
    let go = wirepeer::keygen();
    let f = listening(&[&go.pk], &[]);
    let mut bad = dial(
        &f.node,
        &go,
        &["-m", "garbled", "--ack", "--spec-keys", "--wait", "3"],
    );
    assert_ne!(bad.finish(), 0, "{:#?}", bad.seen);
    assert!(bad.seen("acked").is_empty());
    f.node.wait_stderr("did not decrypt", LIMIT);
    assert!(f.node.history(&go.pk).is_empty());

    let mut good = dial(&f.node, &go, &["-m", "fine", "--ack"]);
    assert_eq!(good.finish(), 0, "{:#?}", good.seen);
    assert_eq!(f.node.received_from(&go.pk), ["fine"]);
}

#[test]
fn a_go_peers_read_receipt_and_deletion_reach_the_history() {
    if !wirepeer::available("a_go_peers_read_receipt_and_deletion") {
        return;
    }
    let go = wirepeer::keygen();
    let f = listening(&[&go.pk], &[]);
    let mut stream = sse::Stream::open(f.node.http, "/sse", &[]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/go_peer_receipts.py");
    let (first, second) = ("18ed000000000001", "18ed000000000002");
    let wirepeer_path = wirepeer::path();
    let url = skywire_url(&f.node);
    let mut peer = Peer::script(
        script,
        &[wirepeer_path.to_str().unwrap(), &url, &go.sk, first, second],
    );
    peer.event("ready");
    let got = incoming(&f.node, &go.pk);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0]["id"], first);
    assert_eq!(got[1]["reply_to"], first, "a Go id in reply_to: {}", got[1]);
    assert_eq!(got[0]["reply_to"], Value::Null);

    let response = f.node.send(&go.pk, "read me", Some(10_000));
    assert_eq!(response.json["status"], "delivered", "{response:?}");
    let ours = response.json["id"].as_str().unwrap().to_string();
    let done = peer.event("done");
    assert_eq!(done["node_message"], ours.as_str());

    let events = stream.until(LIMIT, |e| {
        let data = e.json();
        data["channel"] == "dm-status" && data["status"] == "deleted"
    });
    let deleted = events.last().unwrap().json();
    assert_eq!(deleted["id"], first, "{deleted}");
    assert_eq!(deleted["peer"], go.pk.as_str());
    assert!(deleted["deleted_at"].as_u64().is_some());
    assert!(
        events.iter().any(|e| {
            let data = e.json();
            data["status"] == "read" && data["id"] == ours.as_str()
        }),
        "{events:#?}"
    );

    let gone = f.node.wait_for("the deletion stored", LIMIT, |node| {
        message(node, &go.pk, first).filter(|m| !m["deleted_at"].is_null())
    });
    assert_eq!(gone["message"], "", "{gone}");
    assert_eq!(gone["text"], "");
    let search = f.node.get("/search?q=first");
    assert_eq!(search.status, 200);
    assert_eq!(
        search.json,
        Value::Array(Vec::new()),
        "deleted text is not found"
    );
    let kept = message(&f.node, &go.pk, second).unwrap();
    assert_eq!(kept["message"], "second, replying");
    assert_eq!(kept["deleted_at"], Value::Null);
    // The peer read our message; its deletion of our message changed nothing.
    let ours = f.node.wait_for("our message read", LIMIT, |node| {
        message(node, &go.pk, &ours).filter(|m| m["status"] == "read")
    });
    assert_eq!(ours["message"], "read me");
    assert_eq!(ours["deleted_at"], Value::Null);
    let status = f.node.status();
    assert_eq!(status["counters"]["deleted"], 1, "{status:#}");
}

#[test]
fn a_go_peer_gets_no_ack_for_a_message_we_could_not_store() {
    if !wirepeer::available("a_go_peer_gets_no_ack") {
        return;
    }
    let go = wirepeer::keygen();
    let dir = TempDir::new().expect("scratch dir");
    let keys = keygen(dir.path(), "node");
    let args = Args::new(dir.path());
    let full = Node::start(&args.listener(&keys, "data", &[&go.pk], &["--max-db-bytes", "1"]));
    let id = "18ed00000000abcd";
    let mut peer = dial(
        &full,
        &go,
        &["--size", "60000", "--ack", "--id", id, "--wait", "3"],
    );
    // No ack, ever: the node could not store the message (it closes the session, so the sender
    // keeps the message for its next one).
    assert_eq!(peer.finish(), 1, "{:#?}", peer.seen);
    assert!(peer.seen("acked").is_empty(), "{:#?}", peer.seen);
    let result = peer.seen("result")[0].clone();
    assert_eq!(result["sent"], 1, "{result}");
    assert_eq!(result["acked"], 0);
    full.wait_status("the message that could not be stored", LIMIT, |s| {
        s["counters"]["dropped"].as_u64() >= Some(1)
    });
    assert!(full.history(&go.pk).is_empty());
    full.terminate();

    // With room, the same message (same id) is stored and acked, once.
    let roomy = Node::start(&args.listener(&keys, "data", &[&go.pk], &[]));
    for _ in 0..2 {
        let mut again = dial(&roomy, &go, &["--size", "60000", "--ack", "--id", id]);
        assert_eq!(again.finish(), 0, "{:#?}", again.seen);
    }
    let got = roomy.history(&go.pk);
    assert_eq!(got.len(), 1, "stored once: {got:#?}");
    assert_eq!(got[0]["id"], id);
    assert_eq!(got[0]["len"], 60_000);
}

#[test]
fn a_deletion_for_everyone_reaches_a_go_peer_as_chat_delete() {
    if !wirepeer::available("a_deletion_for_everyone_reaches_a_go_peer") {
        return;
    }
    let go = wirepeer::keygen();
    let (mut peer, addr) = listen(&go, &["--count", "2"]);
    let f = dialing(&[format!("tcp://{}@{addr}", go.pk)], &[]);
    f.node.wait_connected(&go.pk);

    let first = f.node.send(&go.pk, "regretted", Some(10_000));
    assert_eq!(first.status, 200, "{first:?}");
    let id = first.json["id"].as_str().expect("id").to_string();
    let deleted = f.node.post(
        "/delete",
        &serde_json::json!({ "pk": go.pk, "id": id, "for_everyone": true }).to_string(),
    );
    assert_eq!(deleted.status, 200, "{deleted:?}");
    let second = f.node.send(&go.pk, "after the deletion", Some(10_000));
    assert_eq!(second.status, 200, "{second:?}");

    assert_eq!(peer.finish(), 0, "{:#?}", peer.seen);
    let kinds: Vec<(String, String)> = peer
        .seen("frame")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let second_id = second.json["id"].as_str().expect("id").to_string();
    assert_eq!(
        kinds,
        [
            ("chat-msg".to_string(), id.clone()),
            ("chat-delete".to_string(), id.clone()),
            ("chat-msg".to_string(), second_id),
        ],
        "{:#?}",
        peer.seen
    );
    let ours = message(&f.node, &go.pk, &id).expect("our message");
    assert!(ours["deleted_at"].is_u64(), "{ours}");
}
