//! `POST /message` either accepts a message (stored, and it will be delivered) or refuses it
//! (never sent), through real `skychat` node processes: a refusal for a full disk is never
//! delivered, a retry with an idempotency key sends nothing new, nothing goes to the peer
//! before the sender's store has committed the message, and the `dm` event of a message always
//! comes before its `acked` event.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use support::node::{Node, keygen};
use support::pair::{Pair, counter, pair};
use support::sse::{Event, Stream};

/// Limit for anything that should happen within a few round trips.
const SOON: Duration = Duration::from_secs(10);

/// `POST /message` with an optional `Idempotency-Key` header and extra body fields.
fn send_keyed(node: &Node, header: Option<&str>, body: Value) -> support::http::Response {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(key) = header {
        headers.push(("Idempotency-Key", key));
    }
    node.request("POST", "/message", &headers, body.to_string().as_bytes())
}

#[test]
fn a_send_refused_for_a_full_disk_is_never_delivered_even_after_space_is_freed() {
    let p = pair(&[], &["--max-db-bytes", "1"]);
    let big = "z".repeat(60_000);
    let refused = p.b.send(&p.a_keys.pk, &big, None);
    let text = refused.assert_error(507);
    assert!(text.contains("NOT accepted"), "{text}");
    assert!(text.contains("safe to retry"), "{text}");
    assert_eq!(counter(&p.b.status(), "failed"), 1);
    assert_eq!(counter(&p.b.status(), "queued"), 0, "nothing stays queued");

    // Room again: B restarts without the cap and sends a marker, which A gets; the refused
    // message never arrived before or after.
    let Pair {
        dir: _dir,
        args,
        a_keys,
        b_keys,
        a,
        b,
    } = p;
    assert!(
        a.received_from(&b_keys.pk).is_empty(),
        "A got the refused message while B ran"
    );
    b.terminate();
    let b = Node::start(&args.dialer(&b_keys, "b-data", &[a.tcp_url()], &[]));
    b.wait_connected(&a_keys.pk);
    b.send_acked(&a_keys.pk, "after the disk had room");
    assert_eq!(a.received_from(&b_keys.pk), ["after the disk had room"]);
    assert!(
        b.history(&a_keys.pk).iter().all(|m| m["len"] != 60_000),
        "B kept no trace of the refused message"
    );
}

#[test]
fn a_retry_with_the_same_idempotency_key_returns_the_first_message_and_sends_nothing_new() {
    let p = pair(&[], &[]);
    let to_a = |text: &str| json!({"recipient": p.a_keys.pk, "message": text, "wait_ms": 10_000});

    let first = send_keyed(&p.b, Some("retry-1"), to_a("hello once"));
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.json["acked"], true, "{first:?}");
    let id = first.json["id"].as_str().expect("id").to_string();

    let again = send_keyed(&p.b, Some("retry-1"), to_a("hello once"));
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.json["id"], id.as_str());
    assert_eq!(again.json["replayed"], true);
    assert_eq!(again.json["status"], "acked");

    let mut in_body = to_a("hello once");
    in_body["idempotency_key"] = json!("retry-1");
    let from_field = send_keyed(&p.b, None, in_body);
    assert_eq!(from_field.status, 200, "{from_field:?}");
    assert_eq!(from_field.json["id"], id.as_str());

    // The same key for another body or another recipient is refused.
    let other_body = send_keyed(&p.b, Some("retry-1"), to_a("hello twice"));
    let text = other_body.assert_error(422);
    assert!(
        text.contains("retry-1") && text.contains("new key"),
        "{text}"
    );
    let c_keys = keygen(p.dir.path(), "c");
    let other_peer = send_keyed(
        &p.b,
        Some("retry-1"),
        json!({"recipient": c_keys.pk, "message": "hello once"}),
    );
    other_peer.assert_error(422);

    // Malformed keys are 400.
    let long = "k".repeat(129);
    for bad in ["", long.as_str(), "has space", "tab\there", "é"] {
        let mut body = to_a("bad key");
        body["idempotency_key"] = json!(bad);
        let text = send_keyed(&p.b, None, body).assert_error(400);
        assert!(text.contains("idempotency key"), "{bad:?}: {text}");
    }
    send_keyed(&p.b, Some(&long), to_a("bad key")).assert_error(400);
    let mut differs = to_a("two keys");
    differs["idempotency_key"] = json!("field-key");
    send_keyed(&p.b, Some("header-key"), differs).assert_error(400);

    // Keys survive a restart with their message.
    let Pair {
        dir: _dir,
        args,
        a_keys,
        b_keys,
        a,
        b,
    } = p;
    b.terminate();
    let b = Node::start(&args.dialer(&b_keys, "b-data", &[a.tcp_url()], &[]));
    let after_restart = send_keyed(
        &b,
        Some("retry-1"),
        json!({"recipient": a_keys.pk, "message": "hello once"}),
    );
    assert_eq!(after_restart.status, 200, "{after_restart:?}");
    assert_eq!(after_restart.json["id"], id.as_str());

    b.wait_connected(&a_keys.pk);
    b.send_acked(&a_keys.pk, "marker");
    assert_eq!(a.received_from(&b_keys.pk), ["hello once", "marker"]);
    let sent: Vec<Value> = b
        .history(&a_keys.pk)
        .into_iter()
        .filter(|m| m["dir"] == "out")
        .collect();
    assert_eq!(sent.len(), 2, "{sent:#?}");
}

#[test]
fn nothing_reaches_the_peer_before_the_store_commits_and_the_dm_event_precedes_its_ack() {
    let p = pair(&[], &[]);
    let mut events = Stream::open(p.b.http, "/events", &[]);

    // Hold B's database write lock, as a slow disk or another writer would: B's commit of the
    // message waits for it (within B's 2 s busy timeout).
    let db = p.dir.path().join("b-data").join("skychat.db");
    let lock = rusqlite::Connection::open(&db).expect("open B's database");
    lock.execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");

    let b_http = p.b.http;
    let a_pk = p.a_keys.pk.clone();
    let sender = std::thread::spawn(move || {
        let body = json!({"recipient": a_pk, "message": "ordered", "wait_ms": 10_000});
        support::http::request(
            b_http,
            "POST",
            "/message",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    });

    // For as long as the commit waits, A receives nothing...
    let window = Instant::now() + Duration::from_millis(300);
    while Instant::now() < window {
        assert!(
            p.a.received_from(&p.b_keys.pk).is_empty(),
            "A got the message before B had stored it"
        );
    }
    // ... while the message waits in B's outbox.
    p.b.wait_for("B holds the message", SOON, |b| {
        (counter(&b.status(), "queued") == 1).then_some(())
    });
    lock.execute_batch("ROLLBACK").expect("release the lock");

    let response = sender.join().expect("the sending thread");
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json["acked"], true, "{response:?}");
    let id = response.json["id"].as_str().expect("id").to_string();
    assert_eq!(p.a.received_from(&p.b_keys.pk), ["ordered"]);

    let seen = events.until(SOON, |e| {
        let data = e.json();
        data["id"] == id.as_str() && data["status"] == "acked"
    });
    let dm = seen
        .iter()
        .map(Event::json)
        .position(|d| d["channel"] == "dm" && d["id"] == id.as_str());
    assert!(
        dm.is_some(),
        "the acked event came before the dm event it acknowledges: {seen:#?}"
    );
}

#[test]
fn concurrent_requests_with_one_key_send_one_message() {
    let p = pair(&[], &[]);
    let b_http = p.b.http;
    let body = json!({"recipient": p.a_keys.pk, "message": "only once"}).to_string();
    let requests: Vec<_> = (0..8)
        .map(|_| {
            let body = body.clone();
            std::thread::spawn(move || {
                support::http::request(
                    b_http,
                    "POST",
                    "/message",
                    &[
                        ("Content-Type", "application/json"),
                        ("Idempotency-Key", "concurrent"),
                    ],
                    body.as_bytes(),
                )
            })
        })
        .collect();
    let ids: Vec<String> = requests
        .into_iter()
        .map(|r| {
            let response = r.join().expect("a request thread");
            assert!(matches!(response.status, 200 | 202), "{response:?}");
            response.json["id"].as_str().expect("id").to_string()
        })
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    p.b.send_acked(&p.a_keys.pk, "marker");
    assert_eq!(p.a.received_from(&p.b_keys.pk), ["only once", "marker"]);
}

#[test]
fn send_to_gives_every_invocation_a_key_of_its_own() {
    let p = pair(&[], &[]);
    let addr = p.b.http.to_string();
    for text in ["first", "second"] {
        let out = support::command::run(
            support::binaries::SKYCHAT,
            &[
                "send",
                "--to",
                &p.a_keys.pk,
                "--addr",
                &addr,
                "--wait",
                "8s",
                "-m",
                text,
            ],
            &[],
            SOON,
        );
        assert_eq!(out.code, Some(0), "{out:?}");
        assert!(out.stdout.contains("Acked"), "{out:?}");
    }
    assert_eq!(p.a.received_from(&p.b_keys.pk), ["first", "second"]);
    let db = rusqlite::Connection::open(p.dir.path().join("b-data").join("skychat.db"))
        .expect("open B's database");
    let keys: Vec<String> = db
        .prepare("SELECT idempotency_key FROM messages WHERE direction = 'out' ORDER BY row_id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .expect("every message sent by `send --to` has a key");
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1]);
}
