//! Cancelling a queued message through the HTTP API of real `skychat` nodes: a message to a
//! peer that is not connected is dropped and never delivered, the later ones take the new ids
//! the node gives them, across a restart of the sender, and are delivered in order once the
//! peer connects; what cannot be cancelled is refused with a reason.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use support::node::{Args, Node, keygen};

/// Limit for anything that should happen within a few round trips.
const SOON: Duration = Duration::from_secs(15);

fn cancel(node: &Node, peer: &str, id: &str) -> support::http::Response {
    node.post("/cancel", &json!({ "pk": peer, "id": id }).to_string())
}

fn queued(node: &Node, peer: &str, text: &str) -> String {
    let response = node.send(peer, text, None);
    assert_eq!(response.status, 202, "{response:?}");
    response.json["id"].as_str().expect("id").to_string()
}

fn outgoing(node: &Node, peer: &str) -> Vec<(String, String)> {
    node.history(peer)
        .iter()
        .filter(|m| m["dir"] == "out")
        .map(|m: &Value| {
            (
                m["id"].as_str().expect("id").to_string(),
                m["message"].as_str().expect("text").to_string(),
            )
        })
        .collect()
}

#[test]
fn a_cancelled_message_is_never_delivered_and_the_rest_arrive_in_order() {
    let dir = TempDir::new().expect("scratch dir");
    let args = Args::new(dir.path());
    let a_keys = keygen(dir.path(), "a");
    let b_keys = keygen(dir.path(), "b");
    let a_args = args.listener(&a_keys, "a-data", &[&b_keys.pk], &[]);
    let a = Node::start(&a_args);

    let first = queued(&a, &b_keys.pk, "one");
    let second = queued(&a, &b_keys.pk, "two, cancelled");
    let third = queued(&a, &b_keys.pk, "three");

    let response = cancel(&a, &b_keys.pk, &second);
    assert_eq!(response.status, 200, "{response:?}");
    let renumbered = response.json["renumbered"].as_array().expect("a list");
    assert_eq!(renumbered.len(), 1, "{response:?}");
    assert_eq!(renumbered[0]["id"], third.as_str());
    let third_now = renumbered[0]["new_id"]
        .as_str()
        .expect("new id")
        .to_string();
    assert_ne!(third_now, third);
    assert_ne!(third_now, second, "no id is given out twice");
    assert_eq!(
        outgoing(&a, &b_keys.pk),
        [
            (first.clone(), "one".to_string()),
            (third_now.clone(), "three".to_string())
        ]
    );
    assert_eq!(a.status()["counters"]["queued"], 2, "{}", a.status());
    cancel(&a, &b_keys.pk, &second).assert_error(404);

    // What the store kept is what the node sends after a restart.
    a.terminate();
    let a = Node::start(&a_args);
    let b = Node::start(&args.dialer(&b_keys, "b-data", &[a.tcp_url()], &[]));
    b.wait_for("the two messages", SOON, |b| {
        (b.received_from(&a_keys.pk).len() >= 2).then_some(())
    });
    a.wait_for("both acked", SOON, |a| {
        (a.status()["counters"]["queued"] == 0).then_some(())
    });
    assert_eq!(b.received_from(&a_keys.pk), ["one", "three"]);
    let ids: Vec<Value> = b
        .history(&a_keys.pk)
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(ids, [json!(first), json!(third_now)]);

    // Delivered messages are past cancelling.
    let refusal = cancel(&a, &b_keys.pk, &first).assert_error(404);
    assert!(refusal.contains("waiting to be sent"), "{refusal}");
    cancel(&a, &b_keys.pk, "zz").assert_error(400);
}
