//! Scenario 6: the HTTP surface. `POST /message` requests per second on the app (a connected
//! peer, SQLite on both sides, no ack wait) against a tide hello world in this process that
//! accepts its own connections with TCP_NODELAY, both under the same keep-alive load generator.
//! And SSE latency: from `Service::send` on one node to the `dm` event on an `/sse` client of
//! the receiving node, against a raw TCP ping-pong round trip.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::app_nodes::AppPair;
use crate::http_load::post_rate;
use crate::measure::{Goal, Row, Scale, interleave, micros, percentile};
use crate::ping::PingPong;

/// Keep-alive connections of the load generator.
const CONNECTIONS: usize = 32;

/// Runs the scenario.
pub fn run(scale: Scale) -> Vec<Row> {
    let rounds = scale.pick(3, 1);
    let duration = scale.pick(Duration::from_secs(3), Duration::from_millis(200));
    let pair = AppPair::start(700);
    let app = smol::block_on(skychat::http::serve(
        pair.sender.service.clone(),
        "127.0.0.1:0".parse().unwrap(),
        None,
    ))
    .expect("serve the app");
    let hello = smol::block_on(hello_world()).expect("serve hello world");
    let body = format!(
        "{{\"recipient\":\"{}\",\"message\":\"hello\"}}",
        pair.receiver.service.public_key().to_hex()
    );
    let mut failed = 0;
    let (b, s) = interleave(
        rounds,
        || post_rate(hello, "/message", &body, CONNECTIONS, duration).1,
        || {
            let (counts, rate) = post_rate(app, "/message", &body, CONNECTIONS, duration);
            failed += counts.failed;
            rate
        },
    );
    if failed > 0 {
        eprintln!("http: {failed} POST /message answers were not 2xx");
    }
    let mut rows = vec![Row::new(
        "6. POST /message (app vs tide hello)",
        s,
        b,
        "req/s",
        Goal::RatioAtLeast(0.8),
    )];
    rows.push(sse_latency(&pair, scale));
    pair.stop();
    rows
}

/// The tide hello world the app crate provides as the HTTP baseline.
async fn hello_world() -> std::io::Result<SocketAddr> {
    skychat::http::baseline::serve_hello_world("127.0.0.1:0".parse().expect("address")).await
}

/// Median SSE delivery latency against the raw TCP round trip.
fn sse_latency(pair: &AppPair, scale: Scale) -> Row {
    let rounds = scale.pick(5, 1);
    let per_round = scale.pick(200, 5);
    let addr = smol::block_on(skychat::http::serve(
        pair.receiver.service.clone(),
        "127.0.0.1:0".parse().unwrap(),
        None,
    ))
    .expect("serve the receiver");
    let (seen_tx, seen) = mpsc::channel::<(String, Instant)>();
    let (ready_tx, ready) = mpsc::channel::<()>();
    std::thread::spawn(move || sse_client(addr, ready_tx, seen_tx));
    ready
        .recv_timeout(Duration::from_secs(30))
        .expect("SSE stream connected");
    let mut ping = PingPong::start();
    let peer = pair.receiver.service.public_key();
    let service = pair.sender.service.clone();
    let (mut base, mut sys) = (Vec::new(), Vec::new());
    let mut n = 0;
    for _ in 0..rounds {
        base.extend(ping.round_trips(per_round));
        for _ in 0..per_round {
            n += 1;
            let marker = format!("sse-{n}");
            let started = Instant::now();
            smol::block_on(service.send(peer, marker.clone(), None, None, None)).expect("send");
            loop {
                let (text, at) = seen
                    .recv_timeout(Duration::from_secs(30))
                    .expect("SSE event within 30 s");
                if text == marker {
                    sys.push(at - started);
                    break;
                }
            }
        }
    }
    ping.stop();
    let (b, s) = (
        micros(percentile(&mut base, 50.0)),
        micros(percentile(&mut sys, 50.0)),
    );
    Row::new(
        "6. send -> SSE event p50 (vs TCP RTT)",
        s / 1000.0,
        b / 1000.0,
        "ms",
        Goal::AtMost(1.0),
    )
}

/// Reads `/sse` and reports the body of every chat message event with the time it arrived.
fn sse_client(addr: SocketAddr, ready: mpsc::Sender<()>, seen: mpsc::Sender<(String, Instant)>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    write!(
        stream,
        "GET /sse HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("request");
    let mut lines = BufReader::new(stream);
    let mut line = String::new();
    let mut connected = false;
    while lines.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
        let at = Instant::now();
        if !connected && line.contains(": connected") {
            connected = true;
            let _ = ready.send(());
        }
        let body = line
            .trim_end()
            .strip_prefix("data: ")
            .and_then(message_field);
        if let Some(body) = body
            && seen.send((body, at)).is_err()
        {
            return;
        }
        line.clear();
    }
}

/// The `"message"` field of a chat event's JSON.
fn message_field(json: &str) -> Option<String> {
    let start = json.find("\"message\":\"")? + "\"message\":\"".len();
    let end = json[start..].find('"')? + start;
    Some(json[start..end].to_string())
}
