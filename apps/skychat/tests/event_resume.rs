//! Resuming the event streams (`/events`, `/sse`) through real `skychat` nodes: a subscriber far
//! behind gets its missed events instead of the same refusal on every reconnect, and one that
//! takes nothing is cut off in a way it can resume from; a cursor from before a restart (or one
//! never issued) gets an `event: reset` and then the new events; rejected strangers publish no
//! events and leave the feed as it was.

mod support;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use serde_json::json;
use support::http;
use support::node::{Args, Keys, Node, keygen};
use support::scratch::Scratch;
use support::sse::{Event, Stream};

/// Bound for anything that should happen promptly.
const SOON: Duration = Duration::from_secs(20);

/// The node's documented lag limit: events published while a subscriber takes nothing.
const LAG_LIMIT: u64 = 8_192;

fn lone(dir: &Scratch, name: &str) -> (Keys, Node, Vec<String>) {
    let keys = keygen(dir.path(), name);
    let args = Args::new(dir.path()).dialer(&keys, name, &[], &[]);
    let node = Node::start(&args);
    (keys, node, args)
}

/// A recipient that is never connected: messages to it wait in the outbox, and each one sent
/// publishes one `dm` event.
fn offline_peer(n: u8) -> String {
    format!("{:02x}", 0x40 + n).repeat(32)
}

/// Publishes `count` events on `node` (queued messages) from four threads; returns the message
/// ids.
fn publish(node: &Node, count: usize) -> Vec<String> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4u8)
            .map(|w| {
                scope.spawn(move || {
                    let to = offline_peer(w);
                    let mut client = http::KeepAlive::connect(node.http);
                    (w as usize..count)
                        .step_by(4)
                        .map(|i| {
                            let body = json!({ "recipient": to, "message": format!("event {i}") });
                            let response = client.post_json("/message", &body.to_string());
                            assert_eq!(response.status, 202, "{response:?}");
                            response.json["id"].as_str().expect("id").to_string()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("publisher"))
            .collect()
    })
}

/// A connection to `addr` with a small receive buffer, so that a client that stops reading
/// stops taking data soon, as it would over a slow link.
fn small_window(addr: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).expect("a socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket
        .connect_timeout(&addr.into(), Duration::from_secs(5))
        .expect("connect");
    socket.into()
}

/// Reads `stream` until the event with id `last`; asserts the ids are consecutive from
/// `first`.
fn read_through(stream: &mut Stream, first: u64, last: u64) -> Vec<Event> {
    let events = stream.until(SOON, |e| e.seq() >= last);
    let ids: Vec<u64> = events.iter().map(Event::seq).collect();
    assert_eq!(ids.first(), Some(&first), "resumes right after the cursor");
    assert!(
        ids.windows(2).all(|w| w[0] + 1 == w[1]) && ids.last() == Some(&last),
        "consecutive ids from {first} to {last}: {} events, first {:?} last {:?}",
        ids.len(),
        ids.first(),
        ids.last()
    );
    events
}

/// A client more than the lag limit behind used to be told `too slow; reconnect with
/// Last-Event-ID: N` on every reconnect with N. Now any cursor still in the feed, however far
/// behind, continues exactly after it, on both streams, every time.
#[test]
fn a_client_far_behind_gets_its_missed_events_on_every_reconnect() {
    let dir = Scratch::new();
    let (_keys, node, _) = lone(&dir, "a");
    let mut early = Stream::open(node.http, "/events", &[]);
    publish(&node, 1);
    let cursor = early.next(SOON).seq();
    drop(early);

    let count = LAG_LIMIT as usize + 100;
    publish(&node, count);
    let head = cursor + count as u64;
    let text = cursor.to_string();
    for path in ["/events", "/sse", "/events"] {
        let mut old = Stream::open(node.http, path, &[("Last-Event-ID", &text)]);
        let events = read_through(&mut old, cursor + 1, head);
        assert_eq!(events.len(), count, "{path}");
    }
}

/// A subscriber that takes nothing while more than the lag limit is published is cut off: it
/// receives what was queued for it, then a last comment naming the id it was last sent, and
/// reconnecting with that id continues exactly after it.
#[test]
fn a_stalled_subscriber_is_cut_off_and_resumes_where_it_stopped() {
    let dir = Scratch::new();
    let (_keys, node, _) = lone(&dir, "a");
    let mut stalled = Stream::open_on(small_window(node.http), "/events?channel=dm", &[]);
    assert_eq!(stalled.status, 200);
    let mut early = Stream::open(node.http, "/events", &[]);
    publish(&node, 1);
    let first = early.next(SOON).seq();
    drop(early);

    // Far more than the lag limit is published while `stalled` reads nothing (the kernel's
    // socket buffers take a few thousand events first).
    let count = (LAG_LIMIT as usize) * 3;
    publish(&node, count);
    let head = first + count as u64;
    node.wait_status("the stalled subscriber is cut off", SOON, |s| {
        s["sse_subscribers"] == 0
    });
    // Now read what the kernel holds for it with a normal window: through the 4 KiB one, smaller
    // than a loopback segment, the sender's silly-window avoidance sends only when its persist
    // timer fires, and a megabyte takes minutes.
    socket2::SockRef::from(stalled.socket())
        .set_recv_buffer_size(4 << 20)
        .expect("SO_RCVBUF");
    let mut received = Vec::new();
    while let Some(event) = stalled.next_or_end(SOON) {
        received.push(event.seq());
    }
    let last = *received.last().expect("some events before the cut-off");
    eprintln!(
        "the stalled subscriber took {} of {} events before it was cut off",
        received.len(),
        count + 1
    );
    assert!(last < head, "cut off before the head");
    let farewell = format!("too slow; reconnect with Last-Event-ID: {last}");
    assert_eq!(
        stalled.comments.last(),
        Some(&farewell),
        "{:?}",
        stalled.comments
    );

    let text = last.to_string();
    let mut resumed = Stream::open(node.http, "/events", &[("Last-Event-ID", &text)]);
    read_through(&mut resumed, last + 1, head);
}

/// After a restart, an old `Last-Event-ID` used to skip every new event up to that number.
/// Now ids of a later run are all larger than those of an earlier one, and an old cursor gets
/// a `reset` (reason `restarted`) followed by every event of the new run; so does a cursor that
/// was never issued (reason `unknown`).
#[test]
fn a_cursor_from_before_a_restart_gets_a_reset_and_then_every_new_event() {
    let dir = Scratch::new();
    let (_keys, node, args) = lone(&dir, "a");
    let mut stream = Stream::open(node.http, "/events", &[]);
    publish(&node, 20);
    let before: Vec<u64> = (0..20).map(|_| stream.next(SOON).seq()).collect();
    let old_cursor = *before.last().unwrap();
    drop(stream);
    node.terminate();

    let node = Node::start(&args);
    let mut fresh = Stream::open(node.http, "/events", &[]);
    let new_ids = publish(&node, 11);
    let new_events: Vec<u64> = (0..11).map(|_| fresh.next(SOON).seq()).collect();
    let (first_id, head) = (new_events[0], new_events[10]);

    let text = old_cursor.to_string();
    for path in ["/events", "/sse"] {
        let mut resumed = Stream::open(node.http, path, &[("Last-Event-ID", &text)]);
        let reset = resumed.next(SOON);
        assert_eq!(reset.event.as_deref(), Some("reset"), "{path}: {reset:?}");
        assert_eq!(reset.seq(), first_id - 1, "{path}: resume after");
        let data = reset.json();
        assert_eq!(data["reason"], "restarted", "{path}: {data}");
        assert_eq!(data["oldest"], first_id, "{path}: {data}");
        assert_eq!(data["resume_after"], first_id - 1, "{path}: {data}");
        let events = read_through(&mut resumed, first_id, head);
        let mut got: Vec<String> = events
            .iter()
            .map(|e| e.json()["id"].as_str().unwrap().to_string())
            .collect();
        let mut want = new_ids.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{path}: all 11 new events");
    }
    assert!(
        first_id > old_cursor,
        "ids grow across restarts: {first_id} after {old_cursor}"
    );

    // A cursor ahead of anything issued is not this feed's either.
    let ahead = (head + 1_000_000).to_string();
    let mut stream = Stream::open(node.http, "/events", &[("Last-Event-ID", &ahead)]);
    let reset = stream.next(SOON);
    assert_eq!(reset.event.as_deref(), Some("reset"), "{reset:?}");
    assert_eq!(reset.json()["reason"], "unknown");
    read_through(&mut stream, first_id, head);
}

/// Every rejected handshake used to publish a `peer` event with the stranger's key, filling the
/// feed (and the web page's contact list). Now strangers are only counted: the streams carry
/// nothing for them and the feed stays as it was.
#[test]
fn rejected_strangers_publish_no_events_and_leave_the_feed_flat() {
    const STRANGERS: u64 = 60;
    let dir = Scratch::new();
    let a_keys = keygen(dir.path(), "a");
    let b_keys = keygen(dir.path(), "b");
    let args = Args::new(dir.path());
    let a = Node::start(&args.listener(&a_keys, "a", &[&b_keys.pk], &[]));
    let b = Node::start(&args.dialer(&b_keys, "b", &[a.tcp_url()], &[]));
    a.wait_connected(&b_keys.pk);
    let mut events = Stream::open(a.http, "/events", &[]);
    let mut chat = Stream::open(a.http, "/sse?channel=all", &[]);
    let before = a.status();

    let spec = skychat::address::parse_peer_spec(&a.tcp_url()).expect("A's address");
    for n in 0..STRANGERS {
        let stranger = skychat::keyfile::ephemeral().expect("a key");
        let outcome = skychat::oneshot::send_via(
            stranger,
            &spec,
            format!("let me in {n}"),
            Duration::from_secs(5),
        );
        assert!(outcome.is_err(), "stranger {n} got in: {outcome:?}");
    }
    let after = a.wait_status("every stranger rejected", SOON, |s| {
        s["counters"]["rejected"].as_u64() >= Some(STRANGERS)
    });
    assert_eq!(after["counters"]["rejected"], STRANGERS);

    let marker = b.send_acked(&a_keys.pk, "after the strangers");
    for (what, stream) in [("/events", &mut events), ("/sse", &mut chat)] {
        let next = stream.next(SOON);
        assert_eq!(
            next.json()["id"],
            marker.as_str(),
            "{what}: the first event after the strangers is the marker: {next:?}"
        );
    }
    let before_feed = &before["event_feed"];
    let after_feed = a.status()["event_feed"].clone();
    assert!(before_feed.is_object(), "{before:#}");
    assert_eq!(
        after_feed["last_id"].as_u64(),
        before_feed["last_id"].as_u64().map(|n| n + 1),
        "only the marker was published: {before_feed} then {after_feed}"
    );
    assert_eq!(
        after_feed["kept"].as_u64(),
        before_feed["kept"].as_u64().map(|n| n + 1)
    );
    let peers: Vec<String> = a.status()["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pk"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(peers, vec![b_keys.pk], "no stranger in /status");
}
