//! Invites through the HTTP API of real `skychat` nodes: `GET /invite` gives a node's key and
//! the address peers dial (its listener's, or `--advertise`), `POST /peers` with another node's
//! invite names that node and links to it, the link is kept across a restart, a peer nothing can
//! reach is said to be unreachable, and bad invites are refused with what is wrong with them.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use support::http::Response;
use support::node::{Args, Node, keygen};

/// Limit for anything that should happen within a few round trips.
const SOON: Duration = Duration::from_secs(10);

fn add_peer(node: &Node, body: Value) -> Response {
    node.post("/peers", &body.to_string())
}

/// The `/peers` entry of `pk`, which must be listed.
fn listed(node: &Node, pk: &str) -> Value {
    node.peers_entry(pk)
        .unwrap_or_else(|| panic!("{pk} in {:#}", node.get("/peers").json))
}

#[test]
fn a_pasted_invite_names_the_peer_links_to_it_and_the_link_survives_a_restart() {
    let dir = TempDir::new().unwrap();
    let args = Args::new(dir.path());
    let (a_keys, c_keys) = (keygen(dir.path(), "a"), keygen(dir.path(), "c"));
    let a = Node::start(&args.listener(&a_keys, "a-data", &[&c_keys.pk], &[]));
    let c_args = args.dialer(&c_keys, "c-data", &[], &[]);
    let c = Node::start(&c_args);
    let listen = a.tcp_listen.unwrap().to_string();

    let own = a.get("/invite?name=Alice%20A");
    assert_eq!(own.status, 200, "{own:?}");
    let invite = format!("skychat:{}?tcp={listen}&name=Alice%20A", a_keys.pk);
    assert_eq!(
        own.json,
        json!({"invite": invite, "pk": a_keys.pk, "tcp": listen, "name": "Alice A", "note": null})
    );

    let added = add_peer(&c, json!({ "invite": invite }));
    assert_eq!(added.status, 200, "{added:?}");
    assert_eq!(added.json["pk"], a_keys.pk);
    assert_eq!(added.json["alias"], "Alice A");
    assert_eq!(added.json["addr"], listen);
    assert_eq!(added.json["persistent"], true);
    assert_eq!(added.json["has_address"], true);
    assert_eq!(added.json["reachable"], true);
    c.wait_connected(&a_keys.pk);
    c.send_acked("alice a", "hello from the invite");
    assert_eq!(a.received_from(&c_keys.pk), ["hello from the invite"]);

    // An explicit alias wins over the invite's name; pasting it again changes nothing else.
    let again = add_peer(&c, json!({ "invite": invite, "alias": "Al" }));
    assert_eq!(again.json["alias"], "Al", "{again:?}");

    c.terminate();
    let c = Node::start(&c_args);
    c.wait_connected(&a_keys.pk);
    let entry = listed(&c, &a_keys.pk);
    assert_eq!(
        (&entry["alias"], &entry["addr"], &entry["persistent"]),
        (&json!("Al"), &json!(listen), &json!(true)),
        "{entry:#}"
    );
    c.send_acked("Al", "after the restart");
    a.wait_for("the second message arrives", SOON, |a| {
        (a.received_from(&c_keys.pk).len() == 2).then_some(())
    });
}

#[test]
fn the_invite_advertises_a_dialable_address_or_says_why_it_has_none() {
    let dir = TempDir::new().unwrap();
    let args = Args::new(dir.path());
    let keys = keygen(dir.path(), "a");
    let everywhere = Node::start(&args.listener_at(&keys, "a", "0.0.0.0:0", &[], &[]));
    let own = everywhere.get("/invite");
    assert_eq!(
        own.json["invite"],
        format!("skychat:{}", keys.pk),
        "{own:?}"
    );
    assert_eq!(own.json["tcp"], Value::Null);
    let note = own.json["note"].as_str().unwrap();
    assert!(note.contains("--advertise tcp://<host>:"), "{note}");
    everywhere.terminate();

    let advertised = Node::start(&args.listener_at(
        &keys,
        "a",
        "0.0.0.0:0",
        &[],
        &["--advertise", "tcp://chat.example.org:8801"],
    ));
    let own = advertised.get("/invite?name=Zo%C3%AB");
    assert_eq!(
        own.json["invite"],
        format!(
            "skychat:{}?tcp=chat.example.org:8801&name=Zo%C3%AB",
            keys.pk
        )
    );
    let bad_name = advertised.get("/invite?name=tcp://x").assert_error(400);
    assert!(bad_name.contains("invalid name"), "{bad_name}");
    advertised.terminate();

    let without = Node::start(&args.dialer(&keys, "a", &[], &[]));
    let note = without.get("/invite").json["note"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(note.contains("no TCP listener"), "{note}");
}

#[test]
fn a_peer_without_an_address_is_unreachable_and_bad_invites_say_what_is_wrong() {
    let dir = TempDir::new().unwrap();
    let args = Args::new(dir.path());
    let keys = keygen(dir.path(), "b");
    let b = Node::start(&args.dialer(&keys, "b", &[], &[]));
    let stranger = keygen(dir.path(), "stranger").pk;

    let added = add_peer(&b, json!({ "invite": stranger, "alias": "Dana" }));
    assert_eq!(added.status, 200, "{added:?}");
    assert_eq!(
        (
            &added.json["alias"],
            &added.json["state"],
            &added.json["has_address"],
            &added.json["reachable"]
        ),
        (
            &json!("Dana"),
            &json!("disconnected"),
            &json!(false),
            &json!(false)
        )
    );
    let queued = b.send("Dana", "waits", None);
    assert_eq!(queued.json["queued"], true, "{queued:?}");
    assert_eq!(listed(&b, &stranger)["reachable"], false);

    for (invite, problem) in [
        ("", "it is empty"),
        ("hello", "neither an invite"),
        ("skychat:1234", "its key \"1234\""),
        (
            &format!("skychat:{stranger}?tcp=nowhere") as &str,
            "not host:port",
        ),
        (&format!("skychat:{stranger}?name=%ZZ"), "two hex digits"),
        (&format!("tcp://{stranger}"), "missing @"),
        (&format!("skychat:{}", keys.pk), "this node's own"),
    ] {
        let text = add_peer(&b, json!({ "invite": invite })).assert_error(400);
        assert!(text.contains("invalid invite"), "{invite:?}: {text}");
        assert!(text.contains(problem), "{invite:?}: {text}");
    }
    let unknown = add_peer(&b, json!({"invite": stranger, "colour": "red"})).assert_error(400);
    assert!(unknown.contains("colour"), "{unknown}");
    let missing = add_peer(&b, json!({})).assert_error(400);
    assert!(missing.contains("invite"), "{missing}");
}
