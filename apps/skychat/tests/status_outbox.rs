//! `/status` with many peers waiting for messages, through a real `skychat` node: every peer
//! with messages in the outbox is listed with its own count, the total adds up, and both hold
//! after a restart restores the outbox from the store.

mod support;

use std::collections::BTreeMap;

use serde_json::Value;
use tempfile::TempDir;

use support::node::{Args, Node, keygen, peer_entry};
use support::pair::counter;

/// A native key nobody holds: any 32 bytes name a peer the node can queue for.
fn absent_peer(n: usize) -> String {
    format!("{n:064x}")
}

/// The peers of `status` with their `queued` counts.
fn queued_per_peer(status: &Value) -> BTreeMap<String, u64> {
    status["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .map(|p| {
            (
                p["pk"].as_str().expect("pk").to_string(),
                p["queued"].as_u64().expect("queued"),
            )
        })
        .collect()
}

#[test]
fn status_lists_every_peer_with_its_outbox_before_and_after_a_restart() {
    let dir = TempDir::new().expect("scratch dir");
    let keys = keygen(dir.path(), "a");
    let args = Args::new(dir.path()).dialer(&keys, "a-data", &[], &[]);
    let node = Node::start(&args);

    // Peer i gets i % 3 + 1 messages; none of them is ever connected.
    let mut expected = BTreeMap::new();
    for i in 1..=120 {
        let pk = absent_peer(i);
        for _ in 0..i % 3 + 1 {
            let sent = node.send(&pk, "for someone who never comes", None);
            assert_eq!(sent.status, 202, "{sent:?}");
        }
        expected.insert(pk, (i % 3 + 1) as u64);
    }
    let total: u64 = expected.values().sum();

    let check = |node: &Node| {
        let status = node.status();
        assert_eq!(queued_per_peer(&status), expected, "{status:#}");
        assert_eq!(counter(&status, "queued"), total, "{status:#}");
        let entry = peer_entry(&status, &absent_peer(7)).expect("listed");
        assert_eq!(entry["state"], "disconnected");
        assert_eq!(entry["sessions"], 0);
        assert_eq!(entry["persistent"], false);
        assert_eq!(entry["addr"], Value::Null);
    };
    check(&node);

    node.terminate();
    let node = Node::start(&args);
    check(&node);
}
