//! Two of our nodes over the Skywire suite, and addressing by 66-hex keys through the real
//! binaries: A keeps a link to `tcp://<B's 66-hex key>@…` and B whitelists A's 66-hex key, with
//! acks both ways shown as "delivered"; a node started with a visor-style config prints the
//! visor's key and `send --via tcp://<that key>@…` from another node is acked; every place a peer
//! is named takes a 66-hex key, and a wrong one is explained.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::binaries::SKYCHAT;
use support::command::run;
use support::node::{Args, Node, connected, keygen, peer_entry};
use support::scratch::Scratch;

/// How long a condition may take to hold.
const LIMIT: Duration = Duration::from_secs(20);

/// A secret key, and its Skywire public key as Python's `cryptography` derives it (recorded and
/// cross-checked in identity_keys.rs).
const SK: &str = "3ea53432d096c89af9352683ceb55854734c61d41a8c991d9728abe2c312aadd";
const SKYWIRE_PK: &str = "03724ceb1952187171536fe98044752d7c0c84f546481be90403eba192f8d39a9c";

/// The Skywire key `keygen` wrote into a key file (its `"pk"`).
fn file_pk(file: &str) -> String {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    doc["pk"].as_str().expect("pk").to_string()
}

/// The value after `label` on the first banner line that starts with it.
fn banner(node: &Node, label: &str) -> String {
    node.stdout()
        .lines()
        .find_map(|line| line.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {label:?} in the banner:\n{}", node.stdout()))
        .to_string()
}

#[test]
fn two_nodes_chat_over_the_skywire_suite() {
    let scratch = Scratch::new();
    let args = Args::new(scratch.path());
    let a_keys = keygen(scratch.path(), "a");
    let b_keys = keygen(scratch.path(), "b");
    let a_sky = file_pk(&a_keys.file);
    let b_sky = file_pk(&b_keys.file);
    assert_eq!(a_sky.len(), 66);

    let b = Node::start(&args.listener(&b_keys, "b-data", &[&a_sky], &[]));
    assert_eq!(banner(&b, "skywire pk:"), b_sky);
    let b_url = format!("tcp://{b_sky}@{}", b.tcp_listen.unwrap());
    let a = Node::start(&args.dialer(&a_keys, "a-data", &[b_url], &[]));
    a.wait_connected(&b_sky);
    b.wait_connected(&a_sky);
    // Over the Skywire suite the native keys are not in play.
    assert!(peer_entry(&a.status(), &b.pk).is_none());
    assert!(!connected(&b.status(), &a.pk));

    let to_b = a.send(&b_sky, "over the skywire suite", Some(10_000));
    assert_eq!(to_b.status, 200, "{to_b:?}");
    assert_eq!(to_b.json["acked"], true);
    assert_eq!(to_b.json["status"], "delivered");
    let to_a = b.send(&a_sky, "and back", Some(10_000));
    assert_eq!(to_a.status, 200, "{to_a:?}");
    assert_eq!(to_a.json["status"], "delivered");

    assert_eq!(b.received_from(&a_sky), ["over the skywire suite"]);
    assert_eq!(a.received_from(&b_sky), ["and back"]);
    let at_a = a.history(&b_sky);
    let sent = at_a.iter().find(|m| m["dir"] == "out").unwrap();
    assert_eq!(sent["status"], "delivered", "{sent}");
    assert_eq!(sent["from"], a_sky.as_str());
    assert_eq!(sent["to"], b_sky.as_str());
    let got = at_a.iter().find(|m| m["dir"] == "in").unwrap();
    assert_eq!(got["from"], b_sky.as_str());
    assert_eq!(got["to"], a_sky.as_str());
    assert_eq!(got["suite"], "skywire");

    // `send --to` through the node says what the ack means.
    let out = run(
        SKYCHAT,
        &[
            "send",
            "--to",
            &b_sky,
            "-m",
            "via the cli",
            "--addr",
            &a.http.to_string(),
            "--wait",
            "8s",
        ],
        &[],
        LIMIT,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.starts_with(&format!("Delivered to {b_sky} in ")),
        "{out:?}"
    );
    assert!(out.stdout.contains("decoded by the peer"), "{out:?}");
}

/// A config shaped like a visor's skywire-config.json.
fn visor_config(sk: &str, pk: &str) -> String {
    json!({
        "version": "v1.3.0",
        "sk": sk,
        "pk": pk,
        "dmsg": {"discovery": "http://127.0.0.1:9090", "sessions_count": 1, "servers": []},
        "launcher": {"apps": [{"name": "skychat", "auto_start": true, "port": 1}]},
    })
    .to_string()
}

#[test]
fn a_node_with_a_visor_config_shows_the_visors_pk_and_send_via_it_is_acked() {
    let scratch = Scratch::new();
    let config = scratch.join("skywire-config.json");
    std::fs::write(&config, visor_config(SK, SKYWIRE_PK)).unwrap();
    let sender = keygen(scratch.path(), "sender");
    let sender_sky = file_pk(&sender.file);
    let node = Node::start(
        &[
            "--standalone",
            "--addr",
            "127.0.0.1:0",
            "--tcp-listen",
            "127.0.0.1:0",
            "--tcp-whitelist",
            &sender_sky,
            "-c",
            &config,
            "--data-dir",
            &scratch.join("data"),
        ]
        .map(String::from),
    );
    assert_eq!(banner(&node, "skywire pk:"), SKYWIRE_PK);
    let status = node.status();
    assert_eq!(status["visor_pk"], SKYWIRE_PK, "{status:#}");
    assert_eq!(status["skywire_pk"], SKYWIRE_PK);
    assert_eq!(status["public_key"], node.pk.as_str());

    let via = format!("tcp://{SKYWIRE_PK}@{}", node.tcp_listen.unwrap());
    let out = run(
        SKYCHAT,
        &[
            "send",
            "--via",
            &via,
            "-m",
            "hello visor",
            "--wait",
            "8s",
            "-c",
            &sender.file,
        ],
        &[],
        LIMIT,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let line = out.stdout.trim_end();
    let ms = line
        .strip_prefix(&format!("Acked by {SKYWIRE_PK} in "))
        .and_then(|r| r.strip_suffix("ms (via tcp)"))
        .unwrap_or_else(|| panic!("not the Go line: {line:?}"));
    assert!(ms.parse::<u64>().is_ok(), "{line:?}");
    let got = node.history(&sender_sky);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0]["message"], "hello visor");
    assert_eq!(got[0]["to"], SKYWIRE_PK);
}

#[test]
fn every_place_a_peer_is_named_takes_a_66_hex_key_and_explains_a_wrong_one() {
    let scratch = Scratch::new();
    let keys = keygen(scratch.path(), "me");
    let own_sky = file_pk(&keys.file);
    let other = keygen(scratch.path(), "other");
    let other_sky = file_pk(&other.file);
    let short = &other_sky[..65];
    let base = [
        "--standalone",
        "--addr",
        "127.0.0.1:0",
        "-c",
        &keys.file,
        "--data-dir",
        &scratch.join("data"),
    ];
    let refused = |extra: &[&str], needle: &str| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        let out = run(SKYCHAT, &args, &[], LIMIT);
        assert_eq!(out.code, Some(2), "{extra:?}: {out:?}");
        assert!(out.stderr.contains(needle), "{extra:?}: {out:?}");
        out
    };
    let explained =
        "expected 64 hex characters (a native X25519 key) or 66 (a Skywire key), found 65";
    let wrong_list = format!("{},{short}", other.pk);
    refused(
        &[
            "--tcp-listen",
            "127.0.0.1:0",
            "--tcp-whitelist",
            &wrong_list,
        ],
        &format!("--tcp-whitelist: entry 2 (\"{short}\"): {explained}"),
    );
    let wrong_peer = format!("tcp://{short}@127.0.0.1:9");
    refused(&["--tcp-peer", &wrong_peer], explained);
    let own = format!("tcp://{own_sky}@127.0.0.1:9");
    refused(&["--tcp-peer", &own], "that is this node's own public key");
    let out = run(
        SKYCHAT,
        &["send", "--via", &wrong_peer, "-m", "x", "-c", &keys.file],
        &[],
        LIMIT,
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains(explained), "{out:?}");

    // A node naming the other peer by its Skywire key in every flag starts, and its HTTP API
    // takes the key too.
    let peer = format!("tcp://{other_sky}@127.0.0.1:9");
    let whitelist = format!("{},{other_sky}", other.pk);
    let mut args: Vec<String> = base.map(String::from).to_vec();
    args.extend(
        [
            "--tcp-listen",
            "127.0.0.1:0",
            "--tcp-whitelist",
            &whitelist,
            "--tcp-peer",
            &peer,
        ]
        .map(String::from),
    );
    let node = Node::start(&args);
    let status = node.status();
    assert_eq!(
        status["whitelist"],
        json!([other.pk, other_sky]),
        "{status:#}"
    );
    let entry = peer_entry(&status, &other_sky).expect("the persistent Skywire peer");
    assert_eq!(entry["persistent"], true);
    let queued = node.send(&other_sky, "for later", None);
    assert_eq!(queued.status, 202, "{queued:?}");
    let bad = node.send(short, "x", None);
    let error = bad.assert_error(400);
    assert!(error.contains(explained), "{error}");
    let history = node.get(&format!("/history?peer={other_sky}"));
    assert_eq!(history.status, 200);
    assert_eq!(history.json[0]["message"], "for later");
    assert_eq!(history.json[0]["from"], own_sky.as_str());
    assert_eq!(history.json[0]["status"], "queued");
}
