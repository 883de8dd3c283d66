//! Tests of every route of the HTTP API through real `skychat` node processes over real
//! sockets: status, sending with each outcome, every error status with its JSON body, history
//! paging, peers, search, read receipts end to end, the SSE streams with resume after a
//! disconnect, the pair-RPC routes of a standalone node, the bearer token beyond loopback, a
//! full message store, and restarts (graceful and killed) that keep history, outbox and read
//! states.
//!
//! Nodes bind port 0 and the tests read the bound addresses from their banners; every wait is a
//! bounded poll of a condition.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use support::node::{Args, Keys, Node, keygen, peer_entry};
use support::pair::{Pair, counter, pair};
use support::sse::{Event, Stream};

/// Limit for anything that should happen within a few round trips.
const SOON: Duration = Duration::from_secs(10);

/// A node without peers.
fn lone(dir: &TempDir, name: &str, extra: &[&str]) -> (Keys, Node) {
    let keys = keygen(dir.path(), name);
    let args = Args::new(dir.path());
    let node = Node::start(&args.dialer(&keys, &format!("{name}-data"), &[], extra));
    (keys, node)
}

fn is_id(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn keys_of(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// The bodies of the messages in `history` that went in direction `dir`.
fn bodies(history: &[Value], dir: &str) -> Vec<String> {
    history
        .iter()
        .filter(|m| m["dir"] == dir)
        .map(|m| m["message"].as_str().expect("text").to_string())
        .collect()
}

fn find<'a>(history: &'a [Value], id: &str) -> Option<&'a Value> {
    history.iter().find(|m| m["id"] == id)
}

#[test]
fn status_reports_identity_mode_addresses_peers_and_counters() {
    let p = pair(&[], &[]);
    let a = p.a.status();
    assert_eq!(a["public_key"], p.a_keys.pk);
    assert_eq!(a["mode"], "standalone");
    assert_eq!(a["http_addr"], p.a.http.to_string());
    assert_eq!(a["tcp_listen"], p.a.tcp_listen.unwrap().to_string());
    assert_eq!(a["whitelist"], json!([p.b_keys.pk]));
    let b_entry = peer_entry(&a, &p.b_keys.pk).expect("A lists B");
    assert_eq!(b_entry["state"], "connected");
    assert_eq!(b_entry["transport"], "tcp-direct");
    assert_eq!(b_entry["inbound"], true);
    assert_eq!(b_entry["persistent"], false);
    for name in ["in", "out", "acked", "queued", "failed", "dropped"] {
        assert_eq!(counter(&a, name), 0, "{name} in {a:#}");
    }
    assert!(a["uptime_sec"].is_u64(), "{a:#}");

    let b = p.b.status();
    assert_eq!(b["public_key"], p.b_keys.pk);
    assert_eq!(b["tcp_listen"], Value::Null);
    let a_entry = peer_entry(&b, &p.a_keys.pk).expect("B lists A");
    assert_eq!(a_entry["state"], "connected");
    assert_eq!(a_entry["transport"], "tcp-direct");
    assert_eq!(a_entry["persistent"], true);
    assert_eq!(a_entry["inbound"], false);
    assert_eq!(a_entry["addr"], p.a.tcp_listen.unwrap().to_string());

    p.b.send_acked(&p.a_keys.pk, "one");
    p.b.send_acked(&p.a_keys.pk, "two");
    let absent = keygen(p.dir.path(), "absent");
    let queued = p.b.send(&absent.pk, "for someone who never comes", None);
    assert_eq!(queued.status, 202, "{queued:?}");

    let b = p.b.status();
    assert_eq!(counter(&b, "out"), 3, "{b:#}");
    assert_eq!(counter(&b, "acked"), 2, "{b:#}");
    assert_eq!(counter(&b, "queued"), 1, "{b:#}");
    assert_eq!(counter(&b, "failed"), 0, "{b:#}");
    let absent_entry = peer_entry(&b, &absent.pk).expect("B lists the peer it queues for");
    assert_eq!(
        (
            absent_entry["state"].as_str(),
            absent_entry["queued"].as_u64()
        ),
        (Some("disconnected"), Some(1))
    );
    p.a.wait_for("A counts two incoming", SOON, |a| {
        (counter(&a.status(), "in") == 2).then_some(())
    });
    assert_eq!(counter(&p.a.status(), "dropped"), 0);
}

#[test]
fn messages_are_acked_sent_or_queued_and_queued_ones_arrive_when_the_peer_connects() {
    let dir = TempDir::new().expect("scratch dir");
    let args = Args::new(dir.path());
    let a_keys = keygen(dir.path(), "a");
    let b_keys = keygen(dir.path(), "b");
    let a = Node::start(&args.listener(&a_keys, "a-data", &[&b_keys.pk], &[]));

    let queued = a.send(&b_keys.pk, "while you were away", Some(2_000));
    assert_eq!(queued.status, 202, "{queued:?}");
    assert_eq!(keys_of(&queued.json), ["id", "queued"]);
    assert_eq!(queued.json["queued"], true);
    assert!(is_id(&queued.json["id"]), "{queued:?}");
    assert_eq!(counter(&a.status(), "queued"), 1);

    let b = Node::start(&args.dialer(&b_keys, "b-data", &[a.tcp_url()], &[]));
    let id = queued.json["id"].as_str().unwrap().to_string();
    b.wait_for("the queued message arrives", SOON, |b| {
        find(&b.history(&a_keys.pk), &id).map(|m| {
            assert_eq!(m["message"], "while you were away");
            assert_eq!(m["dir"], "in");
        })
    });
    a.wait_for("the queued message is acked", SOON, |a| {
        find(&a.history(&b_keys.pk), &id).and_then(|m| (m["status"] == "acked").then_some(()))
    });
    assert_eq!(counter(&a.status(), "queued"), 0);

    let acked = a.send(&b_keys.pk, "hello", Some(5_000));
    assert_eq!(acked.status, 200, "{acked:?}");
    assert_eq!(keys_of(&acked.json), ["acked", "id", "ms", "status"]);
    assert_eq!(acked.json["acked"], true);
    assert_eq!(acked.json["status"], "acked", "a native peer stored it");
    assert!(is_id(&acked.json["id"]));
    assert!(
        acked.json["ms"].as_u64().is_some_and(|ms| ms < 5_000),
        "{acked:?}"
    );

    let sent = a.send(&b_keys.pk, "no wait", None);
    assert_eq!(sent.status, 200, "{sent:?}");
    assert_eq!(sent.json["sent"], true);
    assert_eq!(sent.json["queued"], false);
    assert!(is_id(&sent.json["id"]));
    let sent_id = sent.json["id"].as_str().unwrap().to_string();
    b.wait_for("the unwaited message arrives", SOON, |b| {
        find(&b.history(&a_keys.pk), &sent_id).map(|_| ())
    });
    assert_eq!(
        bodies(&b.history(&a_keys.pk), "in"),
        ["while you were away", "hello", "no wait"]
    );
}

#[test]
fn bad_requests_get_json_errors_with_the_right_status() {
    let dir = TempDir::new().expect("scratch dir");
    let (_, node) = lone(&dir, "a", &[]);
    let pk = keygen(dir.path(), "other").pk;
    let bad = [
        ("not JSON".to_string(), "invalid JSON"),
        ("{\"recipient\":".to_string(), "invalid JSON"),
        // A struct's fields by position: serde would take it, the API does not.
        (json!([pk, "x"]).to_string(), "must be a JSON object"),
        (json!({"message": "x"}).to_string(), "invalid JSON"),
        (
            json!({"recipient": "zz", "message": "x"}).to_string(),
            "recipient",
        ),
        (
            json!({"recipient": &pk[..62], "message": "x"}).to_string(),
            "recipient",
        ),
        (json!({"recipient": pk, "message": ""}).to_string(), "empty"),
        (
            json!({"recipient": pk, "message": "x", "colour": "red"}).to_string(),
            "colour",
        ),
        (
            json!({"recipient": pk, "message": "x", "reply_to": "nothex"}).to_string(),
            "reply_to",
        ),
        (
            json!({"recipient": pk, "message": "x", "network": "pigeon"}).to_string(),
            "network",
        ),
        (
            json!({"recipient": pk, "message": "x", "wait_ms": "soon"}).to_string(),
            "invalid JSON",
        ),
    ];
    for (body, needle) in bad {
        let text = node.post("/message", &body).assert_error(400);
        assert!(text.contains(needle), "{body}: {text}");
    }
    for network in ["skynet", "dmsg"] {
        let body = json!({"recipient": pk, "message": "x", "network": network});
        let text = node.post("/message", &body.to_string()).assert_error(503);
        assert!(text.contains("visor"), "{text}");
    }
    let at_limit = node.send(&pk, &"x".repeat(64_000), None);
    assert_eq!(
        at_limit.status, 202,
        "64,000 bytes is allowed: {at_limit:?}"
    );
    let text = node.send(&pk, &"x".repeat(64_001), None).assert_error(413);
    assert!(text.contains("64000"), "{text}");
    let huge = vec![b' '; 600 * 1024];
    let text = node
        .request("POST", "/message", &[], &huge)
        .assert_error(413);
    assert!(text.contains("524288"), "{text}");

    node.get("/no/such/route").assert_error(404);
    node.post("/status", "{}").assert_error(405);
    node.get("/message").assert_error(405);
    assert_eq!(counter(&node.status(), "queued"), 1);
}

#[test]
fn a_full_store_answers_507_and_a_peer_that_cannot_store_never_acks_until_it_has_room() {
    let p = pair(&[], &["--max-db-bytes", "1"]);
    let big = "y".repeat(60_000);

    // A full store on the sending side: the send is refused with 507.
    let full = p.b.send(&p.a_keys.pk, &big, Some(1_000));
    let text = full.assert_error(507);
    assert!(text.contains("full"), "{text}");
    assert_eq!(counter(&p.b.status(), "failed"), 1);

    // A full store on the receiving side: the peer is connected but never acks.
    let timeout = p.a.send(&p.b_keys.pk, &big, Some(1_500));
    assert_eq!(timeout.status, 504, "{timeout:?}");
    assert_eq!(timeout.json["acked"], false);
    assert_eq!(timeout.json["reason"], "timeout");
    assert!(is_id(&timeout.json["id"]));
    let id = timeout.json["id"].as_str().unwrap().to_string();
    p.b.wait_for("B counts the message it could not store", SOON, |b| {
        (counter(&b.status(), "dropped") >= 1).then_some(())
    });
    assert!(find(&p.b.history(&p.a_keys.pk), &id).is_none());
    let pending = find(&p.a.history(&p.b_keys.pk), &id)
        .cloned()
        .expect("A keeps it");
    assert_eq!(pending["status"], "queued");

    // Room again (the same store without the cap): the message arrives, once.
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
    let got = b.wait_for("the message arrives once B has room", SOON, |b| {
        let history = b.history(&a_keys.pk);
        find(&history, &id).is_some().then_some(history)
    });
    let copies: Vec<&Value> = got.iter().filter(|m| m["id"] == id).collect();
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0]["len"], 60_000);
    a.wait_for("A sees the ack", SOON, |a| {
        find(&a.history(&b_keys.pk), &id).and_then(|m| (m["status"] == "acked").then_some(()))
    });
}

#[test]
fn history_pages_newest_first_with_a_cursor_and_lists_peers_and_searches() {
    let p = pair(&[], &[]);
    let (a, b) = (&p.a, &p.b);
    let words = ["alpha", "bravo", "charlie", "delta", "echo"];
    let mut ids = Vec::new();
    for word in words {
        ids.push(b.send_acked(&p.a_keys.pk, &format!("{word} from b")));
    }
    a.wait_for("A stored all five", SOON, |a| {
        (a.history(&p.b_keys.pk).len() == 5).then_some(())
    });

    let mut pages = Vec::new();
    let mut path = format!("/history?peer={}&limit=2", p.b_keys.pk);
    loop {
        let page = a.get(&path);
        assert_eq!(page.status, 200, "{page:?}");
        let items = page.json.as_array().cloned().expect("a list");
        let Some(cursor) = page.header("x-next-before") else {
            assert!(
                items.is_empty(),
                "only an empty page has no cursor: {page:?}"
            );
            break;
        };
        assert_eq!(
            cursor,
            items[0]["row"].to_string(),
            "the cursor is the oldest row of the page"
        );
        pages.push(items);
        path = format!("/history?peer={}&limit=2&before={cursor}", p.b_keys.pk);
    }
    let page_ids: Vec<Vec<&str>> = pages
        .iter()
        .map(|page| page.iter().map(|m| m["id"].as_str().unwrap()).collect())
        .collect();
    assert_eq!(
        page_ids,
        [
            vec![&*ids[3], &*ids[4]],
            vec![&*ids[1], &*ids[2]],
            vec![&*ids[0]]
        ],
        "oldest to newest within a page, the newest page first"
    );
    let all = a.get("/history");
    assert_eq!(all.status, 200);
    assert_eq!(all.json.as_array().map(Vec::len), Some(5));

    for bad in [
        "/history?limit=0",
        "/history?limit=1001",
        "/history?limit=ten",
        "/history?peer=nothex",
        "/history?before=yesterday",
    ] {
        a.get(bad).assert_error(400);
    }

    let peers = a.get("/history/peers");
    assert_eq!(peers.json, json!([p.b_keys.pk]), "{peers:?}");
    let detail = a.get("/history/peers?detail=1");
    let entry = &detail.json[0];
    assert_eq!(entry["peer"], p.b_keys.pk, "{detail:?}");
    assert_eq!(entry["count"], 5);
    assert_eq!(entry["unread"], 5);
    assert_eq!(entry["connected"], true);

    let hits = a.get("/search?q=charlie");
    assert_eq!(hits.status, 200, "{hits:?}");
    let hit_ids: Vec<&str> = hits
        .json
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(hit_ids, [&*ids[2]]);
    let from_b = a.get("/search?q=from&limit=2");
    assert_eq!(from_b.json.as_array().map(Vec::len), Some(2), "{from_b:?}");
    a.get("/search").assert_error(400);
    a.get("/search?q=").assert_error(400);
    a.get("/search?q=x&limit=0").assert_error(400);
    for q in [
        "%22", "*", "(", ")", "a%22b", "NEAR(", "delta*", "-", ":", "'", "%22echo",
    ] {
        let response = a.get(&format!("/search?q={q}"));
        assert!(
            response.status == 200 || response.status == 400,
            "q={q}: {response:?}"
        );
        if response.status == 400 {
            response.assert_error(400);
        } else {
            assert!(response.json.is_array(), "q={q}: {response:?}");
        }
    }
    let quoted = a.get("/search?q=%22echo");
    assert_eq!(quoted.json[0]["id"], ids[4], "{quoted:?}");
}

#[test]
fn read_receipts_travel_to_the_sender_and_show_in_its_history_and_events() {
    let p = pair(&[], &[]);
    let mut events = Stream::open(p.b.http, "/events?channel=status", &[]);
    assert_eq!(events.status, 200);
    let first = p.b.send_acked(&p.a_keys.pk, "please read");
    let second = p.b.send_acked(&p.a_keys.pk, "this too");
    let third = p.b.send_acked(&p.a_keys.pk, "and this");

    let body = json!({"pk": p.b_keys.pk, "id": first}).to_string();
    let done = p.a.post("/read-receipt", &body);
    assert_eq!((done.status, done.body.as_str()), (204, ""), "{done:?}");
    let read = events.until(SOON, |e| e.json()["status"] == "read");
    let read = read.last().unwrap().json();
    assert_eq!(read["id"], first);
    assert_eq!(read["peer"], p.a_keys.pk);
    assert_eq!(read["channel"], "status");

    let body = json!({"pk": p.b_keys.pk, "ids": [second, third]}).to_string();
    assert_eq!(p.a.post("/read-receipt", &body).status, 204);
    p.b.wait_for("B's history shows all three read", SOON, |b| {
        let history = b.history(&p.a_keys.pk);
        history
            .iter()
            .all(|m| m["status"] == "read" && m["read_at"].is_u64())
            .then_some(())
    });
    let mine = p.a.history(&p.b_keys.pk);
    assert!(mine.iter().all(|m| m["read_at"].is_u64()), "{mine:#?}");
    let detail = p.a.get("/history/peers?detail=1");
    assert_eq!(detail.json[0]["unread"], 0, "{detail:?}");

    for body in [
        json!({"pk": p.b_keys.pk}),
        json!({"pk": p.b_keys.pk, "ids": []}),
        json!({"pk": "nothex", "id": first}),
        json!({"id": first}),
        json!({"pk": p.b_keys.pk, "ids": ["nothex"]}),
    ] {
        p.a.post("/read-receipt", &body.to_string())
            .assert_error(400);
    }
    p.a.post("/read-receipt", "{").assert_error(400);
}

/// How a resuming client says where it left off.
#[derive(Clone, Copy, Debug)]
enum Resume {
    Header,
    Query,
}

/// Reads `stream` until the event carrying message `id`.
fn until_message(stream: &mut Stream, id: &str) -> Vec<Event> {
    stream.until(SOON, |e| {
        e.event.is_none() && e.json().get("id").is_some_and(|v| v == id) && {
            let data = e.json();
            data.get("message").is_some()
        }
    })
}

fn resume_case(path: &str, resume: Resume) {
    let p = pair(&[], &[]);
    let (a, b) = (&p.a, &p.b);
    let mut reference = Stream::open(a.http, path, &[]);
    let mut client = Stream::open(a.http, path, &[]);
    for stream in [&reference, &client] {
        assert_eq!(stream.status, 200);
        assert_eq!(stream.header("content-type"), Some("text/event-stream"));
    }
    let before: Vec<String> = (1..=3)
        .map(|n| b.send_acked(&p.a_keys.pk, &format!("before {n}")))
        .collect();
    let seen = until_message(&mut client, &before[2]);
    let last = seen.last().unwrap().seq();
    drop(client);

    let missed: Vec<String> = (1..=3)
        .map(|n| b.send_acked(&p.a_keys.pk, &format!("missed {n}")))
        .collect();
    let last_text = last.to_string();
    let mut resumed = match resume {
        Resume::Header => Stream::open(a.http, path, &[("Last-Event-ID", &last_text)]),
        Resume::Query => Stream::open(a.http, &format!("{path}?since={last}"), &[]),
    };
    assert_eq!(resumed.status, 200);
    let all = until_message(&mut reference, &missed[2]);
    let expected: Vec<Event> = all.into_iter().filter(|e| e.seq() > last).collect();
    let got = until_message(&mut resumed, &missed[2]);
    assert_eq!(got, expected, "exactly the missed events, in order");
    let got_ids: Vec<String> = got
        .iter()
        .filter_map(|e| e.json()["id"].as_str().map(String::from))
        .collect();
    assert_eq!(got_ids, missed, "{resume:?}");
    assert!(
        got.windows(2).all(|w| w[0].seq() + 1 == w[1].seq()),
        "consecutive ids: {got:?}"
    );

    // Nothing else is pending: the next event on both is the next message.
    let marker = b.send_acked(&p.a_keys.pk, "marker");
    assert_eq!(
        until_message(&mut resumed, &marker),
        until_message(&mut reference, &marker)
    );
}

#[test]
fn sse_resumes_after_last_event_id_with_exactly_the_missed_events() {
    resume_case("/sse", Resume::Header);
}

#[test]
fn events_resume_after_since_with_exactly_the_missed_events() {
    resume_case("/events", Resume::Query);
}

#[test]
fn streams_carry_ids_shapes_and_channel_filters_and_refuse_bad_cursors() {
    let p = pair(&[], &[]);
    let mut chat = Stream::open(p.b.http, "/sse", &[]);
    let mut structured = Stream::open(p.b.http, "/events", &[]);
    let mut status_only = Stream::open(p.b.http, "/events?channel=status", &[]);
    let id = p.b.send_acked(&p.a_keys.pk, "shapes");

    let chat_events = chat.until(SOON, |e| e.json()["status"] == "acked");
    let structured_events = structured.until(SOON, |e| e.json()["status"] == "acked");
    assert_eq!(
        chat_events.iter().map(Event::seq).collect::<Vec<_>>(),
        structured_events.iter().map(Event::seq).collect::<Vec<_>>(),
        "both shapes number the same feed"
    );
    assert!(chat.comments.iter().any(|c| c == "connected"));
    let dm = chat_events
        .iter()
        .map(Event::json)
        .find(|d| d["id"] == id && d["message"] == "shapes")
        .expect("/sse carries the outgoing message");
    assert_eq!(dm["from"], p.b_keys.pk);
    assert_eq!(dm["to"], p.a_keys.pk);
    assert!(
        dm.get("seq").is_none(),
        "/sse data is the chat line itself: {dm}"
    );
    let structured_dm = structured_events
        .iter()
        .map(Event::json)
        .find(|d| d["id"] == id && d["message"] == "shapes")
        .expect("/events carries the outgoing message");
    assert_eq!(structured_dm["channel"], "dm");
    assert!(structured_dm["seq"].is_u64());
    let acked = structured_events.last().unwrap();
    assert_eq!(acked.json()["channel"], "status");
    assert_eq!(acked.json()["seq"].as_u64(), Some(acked.seq()));

    let filtered = status_only.next(SOON);
    assert_eq!(&filtered, acked, "channel=status skips the dm event");

    for path in ["/events?since=abc", "/sse?since=-1"] {
        let stream = Stream::open(p.b.http, path, &[]);
        assert_eq!(stream.status, 400, "{path}");
        let body: Value = serde_json::from_str(&stream.rest()).expect("a JSON error");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("Last-Event-ID"))
        );
    }
    let stream = Stream::open(p.b.http, "/events", &[("Last-Event-ID", "abc")]);
    assert_eq!(stream.status, 400);
}

#[test]
fn pair_rpc_routes_answer_503_with_a_reason_in_standalone_mode() {
    let dir = TempDir::new().expect("scratch dir");
    let (keys, node) = lone(&dir, "a", &[]);
    let routes = [
        ("GET", "/pair".to_string()),
        ("POST", format!("/pair/{}/message", keys.pk)),
        ("POST", "/group".to_string()),
        ("GET", "/groups".to_string()),
        ("POST", "/groups/g1/message".to_string()),
        ("POST", "/voice/call".to_string()),
        ("GET", "/presence".to_string()),
        ("GET", "/profile".to_string()),
        ("PUT", format!("/profile/{}", keys.pk)),
    ];
    for (method, path) in routes {
        let response = node.request(method, &path, &[], b"{}");
        let text = response.assert_error(503);
        assert!(
            text.contains(&path) && text.contains("standalone"),
            "{text}"
        );
    }
}

#[test]
fn beyond_loopback_every_request_needs_the_bearer_token() {
    let dir = TempDir::new().expect("scratch dir");
    let keys = keygen(dir.path(), "a");
    let data = dir.path().join("a-data");
    let args: Vec<String> = [
        "--standalone",
        "--addr",
        "0.0.0.0:0",
        "-c",
        &keys.file,
        "--data-dir",
        data.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let node = Node::start(&args);
    assert!(
        node.http_banner.starts_with("http://0.0.0.0:"),
        "{}",
        node.http_banner
    );
    let token_file = data.join("http-token");
    let token = std::fs::read_to_string(&token_file).expect("the token file");
    let token = token.trim();
    assert_eq!(token.len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let good = format!("Bearer {token}");
    let mut wrong_token = token.to_string();
    let flipped = if wrong_token.ends_with('0') { "1" } else { "0" };
    wrong_token.replace_range(63.., flipped);
    let wrong = format!("Bearer {wrong_token}");

    let refused = node.get("/status");
    refused.assert_error(401);
    assert!(refused.header("www-authenticate").is_some(), "{refused:?}");
    node.request("GET", "/status", &[("Authorization", &wrong)], b"")
        .assert_error(401);
    node.request("GET", "/status", &[("Authorization", token)], b"")
        .assert_error(401);
    let body = json!({"recipient": keys.pk, "message": "x"}).to_string();
    node.request("POST", "/message", &[], body.as_bytes())
        .assert_error(401);
    node.get("/history").assert_error(401);
    assert_eq!(Stream::open(node.http, "/events", &[]).status, 401);

    let status = node.request("GET", "/status", &[("Authorization", &good)], b"");
    assert_eq!(status.status, 200, "{status:?}");
    assert_eq!(status.json["public_key"], keys.pk);
    let history = node.request("GET", "/history", &[("Authorization", &good)], b"");
    assert_eq!(history.status, 200, "{history:?}");
    let stream = Stream::open(node.http, "/events", &[("Authorization", &good)]);
    assert_eq!(stream.status, 200);
    let by_query = Stream::open(node.http, &format!("/sse?token={token}"), &[]);
    assert_eq!(by_query.status, 200, "EventSource clients pass ?token=");

    // The token is kept across restarts.
    drop((stream, by_query));
    node.terminate();
    let again = Node::start(&args);
    let status = again.request("GET", "/status", &[("Authorization", &good)], b"");
    assert_eq!(status.status, 200, "{status:?}");
}

/// B's command line dialling A wherever A now listens.
fn dialer_of(args: &Args, b_keys: &Keys, a: &Node) -> Node {
    Node::start(&args.dialer(b_keys, "b-data", &[a.tcp_url()], &[]))
}

#[test]
fn history_outbox_and_read_states_survive_graceful_and_hard_restarts() {
    let Pair {
        dir: _dir,
        args,
        a_keys,
        b_keys,
        a,
        b,
    } = pair(&[], &[]);
    let from_b = b.send_acked(&a_keys.pk, "from b");
    let from_a = a.send_acked(&b_keys.pk, "from a");
    let read = a.post(
        "/read-receipt",
        &json!({"pk": b_keys.pk, "id": from_b}).to_string(),
    );
    assert_eq!(read.status, 204);
    b.wait_for("B learns its message was read", SOON, |b| {
        find(&b.history(&a_keys.pk), &from_b).and_then(|m| (m["status"] == "read").then_some(()))
    });

    // Graceful: B stops, A queues for it, A stops and starts again, then B comes back.
    b.terminate();
    let first = a.send(&b_keys.pk, "queued before a graceful restart", Some(500));
    assert_eq!(first.status, 202, "{first:?}");
    let first_id = first.json["id"].as_str().unwrap().to_string();
    let a_before = a.history(&b_keys.pk);
    a.terminate();
    let a = Node::start(&args.listener(&a_keys, "a-data", &[&b_keys.pk], &[]));
    let a_after = a.history(&b_keys.pk);
    assert_eq!(a_after, a_before, "A's history is unchanged by the restart");
    assert_eq!(find(&a_after, &first_id).unwrap()["status"], "queued");
    assert!(find(&a_after, &from_b).unwrap()["read_at"].is_u64());
    assert_eq!(counter(&a.status(), "queued"), 1, "the outbox is restored");

    let b = dialer_of(&args, &b_keys, &a);
    let b_history = b.wait_for("the queued message arrives", SOON, |b| {
        let history = b.history(&a_keys.pk);
        find(&history, &first_id).is_some().then_some(history)
    });
    assert_eq!(find(&b_history, &from_b).unwrap()["status"], "read");
    assert!(find(&b_history, &from_a).is_some());
    a.wait_for("A sees the ack", SOON, |a| {
        find(&a.history(&b_keys.pk), &first_id).and_then(|m| (m["status"] == "acked").then_some(()))
    });

    // Hard: B stops, A queues for it and is killed with SIGKILL; B is killed too after it
    // acked, and everything acked or queued is still there.
    b.terminate();
    let second = a.send(&b_keys.pk, "queued before a kill", Some(500));
    assert_eq!(second.status, 202, "{second:?}");
    let second_id = second.json["id"].as_str().unwrap().to_string();
    a.kill_hard();
    let a = Node::start(&args.listener(&a_keys, "a-data", &[&b_keys.pk], &[]));
    let a_after = a.history(&b_keys.pk);
    assert_eq!(find(&a_after, &second_id).unwrap()["status"], "queued");
    assert_eq!(find(&a_after, &first_id).unwrap()["status"], "acked");
    let b = dialer_of(&args, &b_keys, &a);
    b.wait_for("the message queued before the kill arrives", SOON, |b| {
        find(&b.history(&a_keys.pk), &second_id).map(|_| ())
    });
    a.wait_for("A sees the ack", SOON, |a| {
        find(&a.history(&b_keys.pk), &second_id)
            .and_then(|m| (m["status"] == "acked").then_some(()))
    });
    b.kill_hard();
    let b = dialer_of(&args, &b_keys, &a);
    let history = b.history(&a_keys.pk);
    assert_eq!(
        bodies(&history, "in"),
        [
            "from a",
            "queued before a graceful restart",
            "queued before a kill"
        ],
        "each message once, in order"
    );
    assert_eq!(bodies(&history, "out"), ["from b"]);
    assert_eq!(find(&history, &from_b).unwrap()["status"], "read");
    // After the kill B is connected again and nothing is delivered twice.
    b.wait_connected(&a_keys.pk);
    let marker = a.send_acked(&b_keys.pk, "after everything");
    let history = b.wait_for("the marker arrives", SOON, |b| {
        let history = b.history(&a_keys.pk);
        find(&history, &marker).is_some().then_some(history)
    });
    assert_eq!(bodies(&history, "in").len(), 4, "{history:#?}");
}
