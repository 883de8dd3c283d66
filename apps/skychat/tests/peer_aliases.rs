//! Peer aliases through the HTTP API of real `skychat` nodes: set, listed in `/peers`,
//! `/status` and `/history/peers`, used wherever a peer is named (`/message`'s recipient,
//! `/history`'s peer, `/read-receipt`'s pk, the path of the alias routes), refused when they
//! break a rule or are taken, kept across a restart, and removed.

mod support;

use std::time::Duration;

use serde_json::{Value, json};

use support::http::Response;
use support::node::{Node, keygen, peer_entry};
use support::pair::{Pair, pair};

/// Limit for anything that should happen within a few round trips.
const SOON: Duration = Duration::from_secs(10);

fn put_alias(node: &Node, peer: &str, alias: &str) -> Response {
    node.request(
        "PUT",
        &format!("/peers/{peer}/alias"),
        &[("Content-Type", "application/json")],
        json!({ "alias": alias }).to_string().as_bytes(),
    )
}

fn delete_alias(node: &Node, peer: &str) -> Response {
    node.request("DELETE", &format!("/peers/{peer}/alias"), &[], b"")
}

/// The `/peers` entry of `pk`.
fn listed(node: &Node, pk: &str) -> Option<Value> {
    node.peers_entry(pk)
}

#[test]
fn an_alias_names_a_peer_everywhere_a_key_is_taken_and_survives_a_restart() {
    let Pair {
        dir,
        args,
        a_keys,
        b_keys,
        a,
        b,
    } = pair(&[], &[]);
    let set = put_alias(&b, &a_keys.pk, "  Alice ");
    assert_eq!(set.status, 200, "{set:?}");
    assert_eq!(set.json, json!({"pk": a_keys.pk, "alias": "Alice"}));

    let entry = listed(&b, &a_keys.pk).expect("/peers lists A");
    assert_eq!(entry["alias"], "Alice");
    assert_eq!(entry["state"], "connected");
    assert_eq!(entry["persistent"], true);
    let status = b.status();
    assert_eq!(peer_entry(&status, &a_keys.pk).unwrap()["alias"], "Alice");

    // By alias, in any case, and by address: delivered to the real peer.
    let by_name = b.send("alice", "hello by name", Some(10_000));
    assert_eq!(by_name.status, 200, "{by_name:?}");
    assert_eq!(by_name.json["acked"], true, "{by_name:?}");
    let by_address = b.post(
        "/message",
        &json!({"to": a.tcp_url(), "message": "hello by address", "wait_ms": 10_000}).to_string(),
    );
    assert_eq!(by_address.json["acked"], true, "{by_address:?}");
    assert_eq!(
        a.received_from(&b_keys.pk),
        ["hello by name", "hello by address"]
    );
    let history = b.get("/history?peer=ALICE");
    assert_eq!(history.status, 200, "{history:?}");
    assert_eq!(
        history.json.as_array().map(Vec::len),
        Some(2),
        "{history:?}"
    );
    let conversations = b.get("/history/peers?detail=1");
    assert_eq!(conversations.json[0]["alias"], "Alice", "{conversations:?}");
    assert_eq!(conversations.json[0]["peer"], a_keys.pk);

    // A read receipt may name the sender by alias too.
    put_alias(&a, &b_keys.pk, "bob");
    let id = a.history(&b_keys.pk)[0]["id"].clone();
    let read = a.post("/read-receipt", &json!({"pk": "Bob", "id": id}).to_string());
    assert_eq!(read.status, 204, "{read:?}");

    // Unique ignoring case; a peer not seen yet may be named, and is then listed.
    let stranger = keygen(dir.path(), "stranger");
    let taken = put_alias(&b, &stranger.pk, "ALICE").assert_error(400);
    assert!(taken.contains("already the alias of"), "{taken}");
    assert!(taken.contains(&a_keys.pk), "{taken}");
    assert_eq!(put_alias(&b, &stranger.pk, "Carol Smith").status, 200);
    let entry = listed(&b, &stranger.pk).expect("a named peer is listed");
    assert_eq!(
        (entry["alias"].as_str(), entry["state"].as_str()),
        (Some("Carol Smith"), Some("disconnected"))
    );

    // Kept across a restart of the node.
    b.terminate();
    let b = Node::start(&args.dialer(&b_keys, "b-data", &[a.tcp_url()], &[]));
    b.wait_connected(&a_keys.pk);
    assert_eq!(listed(&b, &a_keys.pk).unwrap()["alias"], "Alice");
    assert_eq!(listed(&b, &stranger.pk).unwrap()["alias"], "Carol Smith");
    b.send_acked("Alice", "after the restart");
    a.wait_for("the message after the restart arrives", SOON, |a| {
        (a.received_from(&b_keys.pk).len() == 3).then_some(())
    });

    // Renamed through its old name, then removed (an alias in the path is percent-decoded).
    assert_eq!(put_alias(&b, "alice", "Ally").json["alias"], "Ally");
    assert_eq!(delete_alias(&b, "Ally").status, 204);
    assert_eq!(listed(&b, &a_keys.pk).unwrap()["alias"], Value::Null);
    assert_eq!(delete_alias(&b, "Carol%20Smith").status, 204);
    assert_eq!(listed(&b, &stranger.pk).unwrap()["alias"], Value::Null);
    let gone = b.send("Ally", "to nobody", None).assert_error(400);
    assert!(
        gone.contains("no peer key or alias \"Ally\"; set one with PUT /peers/<pk>/alias"),
        "{gone}"
    );
    // The freed name may go to another peer.
    assert_eq!(put_alias(&b, &stranger.pk, "alice").status, 200);
}

#[test]
fn bad_aliases_and_unknown_names_are_refused_with_the_rule_they_break() {
    let p = pair(&[], &[]);
    let pk = &p.a_keys.pk;
    let skywire_like = format!("02{}", "ab".repeat(32));
    for (alias, rule) in [
        ("   ", "empty"),
        (&"x".repeat(65) as &str, "at most 64 bytes"),
        ("line\nbreak", "control character"),
        (&p.b_keys.pk as &str, "peer key"),
        (&skywire_like as &str, "peer key"),
        ("tcp://somewhere", "tcp://"),
    ] {
        let text = put_alias(&p.b, pk, alias).assert_error(400);
        assert!(text.contains(rule), "{alias:?}: {text}");
    }
    assert_eq!(put_alias(&p.b, pk, &"é".repeat(32)).status, 200, "64 bytes");
    let unknown =
        p.b.request(
            "PUT",
            &format!("/peers/{pk}/alias"),
            &[],
            br#"{"alias":"x","colour":"red"}"#,
        )
        .assert_error(400);
    assert!(unknown.contains("colour"), "{unknown}");
    let nobody = put_alias(&p.b, "nobody", "x").assert_error(400);
    assert!(
        nobody.contains("no peer key or alias \"nobody\""),
        "{nobody}"
    );
    let history = p.b.get("/history?peer=bob").assert_error(400);
    assert!(
        history.contains("invalid peer: no peer key or alias \"bob\""),
        "{history}"
    );
    let mistyped = p.b.send(&pk[..63], "x", None).assert_error(400);
    assert!(mistyped.contains("found 63"), "{mistyped}");
    let address =
        p.b.send("tcp://nothex@127.0.0.1:1", "x", None)
            .assert_error(400);
    assert!(address.contains("invalid recipient"), "{address}");
    assert_eq!(
        p.b.post(
            "/message",
            &json!({"recipient": pk, "to": pk, "message": "x"}).to_string()
        )
        .status,
        400,
        "recipient and to together"
    );
}
