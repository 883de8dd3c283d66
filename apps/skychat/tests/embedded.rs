//! The real binary in embedded mode, under the app-server test double (real gob `net/rpc`
//! bytes): two apps chat both ways over skynet, each message stored once and acked; `/status`
//! reports the visor link and the network of each peer; an app killed and started again loses
//! nothing; a lost visor ends the app with a message; SIGTERM sets the Stopped status; and the
//! identity must be the visor's.

mod support;

use std::time::Duration;

use serde_json::Value;
use skychat_visor_link::fake_visor::FakeVisors;
use support::binaries::SKYCHAT;
use support::command::run;
use support::node::{Node, keygen, peer_entry};
use support::scratch::Scratch;
use support::visor::{Visor, launch, pub_key, skywire_pk};

const LIMIT: Duration = Duration::from_secs(15);

fn start(visor: &Visor, args: &[&str]) -> Node {
    let mut all = vec!["--addr", "127.0.0.1:0"];
    all.extend_from_slice(args);
    Node::spawn(
        SKYCHAT,
        &all,
        &[("PROC_CONFIG", visor.proc_config.as_str())],
    )
}

fn mesh_ready(status: &Value) -> bool {
    status["visor"]["connected"] == true
        && status["visor"]["listening"] == serde_json::json!(["skynet", "dmsg"])
}

#[test]
fn two_apps_chat_both_ways_over_skynet_and_report_it() {
    let scratch = Scratch::new();
    let visors = FakeVisors::start().unwrap();
    let (a_keys, b_keys) = (keygen(scratch.path(), "a"), keygen(scratch.path(), "b"));
    let a_visor = launch(&visors, &skywire_pk(&a_keys), 1, &scratch.join("a-work"));
    let b_visor = launch(&visors, &skywire_pk(&b_keys), 1, &scratch.join("b-work"));
    let a = start(&a_visor, &["-c", &a_keys.file]);
    let b = start(&b_visor, &[]);
    a.wait_status("a's mesh listeners", LIMIT, mesh_ready);
    let status = b.wait_status("b's mesh listeners", LIMIT, mesh_ready);
    assert_eq!(status["mode"], "embedded");
    assert_eq!(
        status["visor_pk"], b_visor.pk,
        "without -c the node is the visor's key"
    );
    assert!(visors.wait_until(LIMIT, |v| v.statuses(pub_key(&b_visor.pk)) == ["Running"]));

    let id = a.send_acked(&b_visor.pk, "hello over skynet");
    b.wait_for("the message stored at b", LIMIT, |b| {
        (b.received_from(&a_visor.pk) == ["hello over skynet"]).then_some(())
    });
    let sent = a.history(&b_visor.pk);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["id"], id.as_str());
    assert_eq!(sent[0]["network"], "skynet", "{sent:?}");
    assert_eq!(b.history(&a_visor.pk)[0]["network"], "skynet");
    let peer = peer_entry(&a.status(), &b_visor.pk)
        .cloned()
        .expect("b in a's status");
    assert_eq!(peer["transport"], "skynet", "{peer}");
    assert_eq!(peer["networks"], serde_json::json!(["skynet"]), "{peer}");

    b.send_acked(&a_visor.pk, "and back");
    a.wait_for("the reply stored at a", LIMIT, |a| {
        (a.received_from(&b_visor.pk) == ["and back"]).then_some(())
    });
    assert_eq!(
        b.received_from(&a_visor.pk),
        ["hello over skynet"],
        "stored once"
    );
}

#[test]
fn an_app_killed_and_started_again_loses_nothing() {
    let scratch = Scratch::new();
    let visors = FakeVisors::start().unwrap();
    let (a_keys, b_keys) = (keygen(scratch.path(), "a"), keygen(scratch.path(), "b"));
    let a_visor = launch(&visors, &skywire_pk(&a_keys), 1, &scratch.join("a-work"));
    let b_pk = skywire_pk(&b_keys);
    let b_work = scratch.join("b-work");
    let a = start(&a_visor, &[]);
    let b = start(&launch(&visors, &b_pk, 1, &b_work), &[]);
    b.wait_status("b's mesh listeners", LIMIT, mesh_ready);
    a.send_acked(&b_pk, "first");
    b.kill_hard();

    let queued = a.send(&b_pk, "while b is down", None);
    assert_eq!(queued.status, 202, "{queued:?}");
    let b = start(&launch(&visors, &b_pk, 2, &b_work), &[]);
    b.wait_for("both messages at b, once each", LIMIT, |b| {
        (b.received_from(&a_visor.pk) == ["first", "while b is down"]).then_some(())
    });
    a.wait_status("nothing left queued at a", LIMIT, |s| {
        s["counters"]["queued"] == 0
    });
}

/// One app, with no identity given, running under its visor with both listeners up.
fn one_app(scratch: &Scratch, visors: &FakeVisors) -> (Visor, Node) {
    let keys = keygen(scratch.path(), "a");
    let visor = launch(visors, &skywire_pk(&keys), 1, &scratch.join("work"));
    let app = start(&visor, &[]);
    app.wait_status("listeners", LIMIT, mesh_ready);
    (visor, app)
}

#[test]
fn a_lost_visor_ends_the_app_with_a_message_that_says_so() {
    let scratch = Scratch::new();
    let visors = FakeVisors::start().unwrap();
    let (visor, mut a) = one_app(&scratch, &visors);
    visors.cut(pub_key(&visor.pk));
    let exit = a.wait_exit(LIMIT);
    assert_eq!(exit.code(), Some(1), "{}", a.stderr());
    assert!(a.stderr().contains("lost the visor"), "{}", a.stderr());
}

#[test]
fn sigterm_tells_the_visor_the_app_stopped() {
    let scratch = Scratch::new();
    let visors = FakeVisors::start().unwrap();
    let (visor, mut a) = one_app(&scratch, &visors);
    a.signal("TERM");
    assert!(a.wait_exit(LIMIT).success(), "{}", a.stderr());
    assert_eq!(visors.statuses(pub_key(&visor.pk)), ["Running", "Stopped"]);
}

#[test]
fn the_identity_must_be_the_visors_and_tcp_direct_needs_one() {
    let scratch = Scratch::new();
    let visors = FakeVisors::start().unwrap();
    let (mine, other) = (keygen(scratch.path(), "a"), keygen(scratch.path(), "b"));
    let visor = launch(&visors, &skywire_pk(&mine), 1, &scratch.join("work"));
    let env = [("PROC_CONFIG", visor.proc_config.as_str())];
    let wrong = run(
        SKYCHAT,
        &["--addr", "127.0.0.1:0", "-c", &other.file],
        &env,
        LIMIT,
    );
    assert_eq!(wrong.code, Some(2), "{wrong:?}");
    assert!(
        wrong.stderr.contains("visor_pk") && wrong.stderr.contains("-c skywire-config.json"),
        "{wrong:?}"
    );
    let tcp = run(
        SKYCHAT,
        &[
            "--addr",
            "127.0.0.1:0",
            "--tcp-listen",
            "127.0.0.1:0",
            "--tcp-whitelist",
            "",
        ],
        &env,
        LIMIT,
    );
    assert_eq!(tcp.code, Some(2), "{tcp:?}");
    assert!(
        tcp.stderr.contains("needs the visor's secret key"),
        "{tcp:?}"
    );
}

#[test]
fn an_unreachable_app_server_is_named_in_the_error() {
    let scratch = Scratch::new();
    let keys = keygen(scratch.path(), "a");
    let proc_config = serde_json::json!({
        "app_name": "skychat", "app_server_addr": "127.0.0.1:1",
        "proc_key": "00112233445566778899aabbccddeeff",
        "visor_pk": skywire_pk(&keys), "routing_port": 1,
        "proc_work_dir": scratch.join("work"),
    })
    .to_string();
    let out = run(
        SKYCHAT,
        &["--addr", "127.0.0.1:0", "-c", &keys.file],
        &[("PROC_CONFIG", proc_config.as_str())],
        LIMIT,
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("127.0.0.1:1") && out.stderr.contains("is the visor running"),
        "{out:?}"
    );
}

#[test]
fn tcp_direct_keeps_working_beside_the_visor() {
    let scratch = Scratch::new();
    let visors = FakeVisors::start().unwrap();
    let (a_keys, s_keys) = (keygen(scratch.path(), "a"), keygen(scratch.path(), "s"));
    let (a_pk, s_pk) = (skywire_pk(&a_keys), skywire_pk(&s_keys));
    let visor = launch(&visors, &a_pk, 1, &scratch.join("work"));
    let a = start(
        &visor,
        &[
            "-c",
            &a_keys.file,
            "--tcp-listen",
            "127.0.0.1:0",
            "--tcp-whitelist",
            &s_pk,
        ],
    );
    a.wait_status("listeners", LIMIT, mesh_ready);
    let listen = a.status()["tcp_listen"]
        .as_str()
        .expect("a TCP listener")
        .to_string();
    let standalone = Node::start(&[
        "--standalone".into(),
        "--addr".into(),
        "127.0.0.1:0".into(),
        "-c".into(),
        s_keys.file.clone(),
        "--tcp-peer".into(),
        format!("tcp://{a_pk}@{listen}"),
    ]);
    standalone.wait_connected(&a_pk);
    standalone.send_acked(&a_pk, "over tcp-direct");
    a.wait_for("the message at a", LIMIT, |a| {
        (a.received_from(&s_pk) == ["over tcp-direct"]).then_some(())
    });
    let peer = peer_entry(&a.status(), &s_pk)
        .cloned()
        .expect("s in a's status");
    assert_eq!(peer["transport"], "tcp-direct", "{peer}");
}
