//! Blocking and muting peers through the HTTP API of real `skychat` nodes: a blocked peer is
//! cut off and refused (whitelisted as it is), nothing is sent to it, the block survives a
//! restart, and unblocking lets the peer's queued message through; muting is a flag kept in
//! the store and shown in `/status` and `/peers`.

mod support;

use std::time::Duration;

use serde_json::Value;

use support::http::Response;
use support::node::{Node, peer_entry};
use support::pair::pair;

/// Limit for anything that should happen within a few round trips and a redial.
const SOON: Duration = Duration::from_secs(20);

fn flag(node: &Node, method: &str, peer: &str, what: &str) -> Response {
    node.request(method, &format!("/peers/{peer}/{what}"), &[], b"")
}

fn entry(node: &Node, peer: &str) -> Value {
    let status = node.status();
    peer_entry(&status, peer)
        .cloned()
        .unwrap_or_else(|| panic!("{peer} not in /status: {status:#}"))
}

#[test]
fn a_blocked_peer_is_cut_off_refused_across_a_restart_and_let_back_in() {
    let p = pair(&[], &[]);
    let response = flag(&p.a, "PUT", &p.b.pk, "block");
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json["blocked"], true);

    p.b.wait_for("B cut off", SOON, |b| {
        (entry(b, &p.a.pk)["state"] == "disconnected").then_some(())
    });
    assert_eq!(entry(&p.a, &p.b.pk)["blocked"], true);
    // B keeps trying (A is its --tcp-peer) and is refused after each handshake.
    p.a.wait_for("a refused try", SOON, |a| {
        (a.status()["refused"]["blocked"].as_u64() >= Some(1)).then_some(())
    });
    let queued = p.b.send(&p.a.pk, "let me in", None);
    assert_eq!(queued.status, 202, "{queued:?}");
    let refusal =
        p.a.send(&p.b.pk, "to a blocked peer", None)
            .assert_error(409);
    assert!(refusal.contains("unblock"), "{refusal}");

    // The block is stored: a restarted A still refuses B (restarted too, its message kept).
    let a_args = p.args.listener(&p.a_keys, "a-data", &[&p.b_keys.pk], &[]);
    p.a.terminate();
    p.b.terminate();
    let a = Node::start(&a_args);
    assert_eq!(entry(&a, &p.b_keys.pk)["blocked"], true);
    let b = Node::start(&p.args.dialer(&p.b_keys, "b-data", &[a.tcp_url()], &[]));
    a.wait_for("a refused try after the restart", SOON, |a| {
        (a.status()["refused"]["blocked"].as_u64() >= Some(1)).then_some(())
    });
    assert!(a.received_from(&p.b_keys.pk).is_empty());

    let response = flag(&a, "DELETE", &p.b_keys.pk, "block");
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json["blocked"], false);
    a.wait_for("B's queued message", SOON, |a| {
        a.received_from(&p.b_keys.pk)
            .contains(&"let me in".to_string())
            .then_some(())
    });
    drop(b);
}

#[test]
fn muting_is_kept_and_shown_and_bad_requests_name_the_problem() {
    let p = pair(&[], &[]);
    assert_eq!(entry(&p.a, &p.b_keys.pk)["muted"], false);
    let response = flag(&p.a, "PUT", &p.b_keys.pk, "mute");
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json["muted"], true);
    assert_eq!(entry(&p.a, &p.b_keys.pk)["muted"], true);
    let listed = p.a.get("/peers");
    let b = listed
        .json
        .as_array()
        .and_then(|peers| peers.iter().find(|e| e["pk"] == p.b.pk.as_str()))
        .cloned()
        .expect("B in /peers");
    assert_eq!(b["muted"], true);
    assert_eq!(b["blocked"], false);
    // A muted peer still delivers.
    p.b.send_acked(&p.a.pk, "still delivered");

    let response = flag(&p.a, "DELETE", &p.b_keys.pk, "mute");
    assert_eq!(response.json["muted"], false);
    flag(&p.a, "PUT", "not-a-key", "block").assert_error(400);
    flag(&p.a, "PUT", &p.a.pk, "block").assert_error(400);
}
