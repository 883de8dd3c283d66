//! Logging never stalls the node, through the real `skychat` binary: a node logging at trace
//! level whose stderr is a pipe nobody reads keeps answering `/status` promptly and keeps
//! acking a peer's messages while thousands of connections make it log, and `/status` counts
//! the log lines it had to drop.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStderr};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::binaries::SKYCHAT;
use support::command::command;
use support::node::{Args, Node, keygen};
use support::scratch::Scratch;

/// How long `/status` may take while the node is being flooded.
const PROMPT: Duration = Duration::from_secs(5);

/// Rounds of connections; after each, `/status` and a peer's message are checked.
const ROUNDS: usize = 20;

/// Connections opened and closed at once per round; each makes the node log.
const CONNECTIONS_PER_ROUND: usize = 500;

/// A node whose stderr is a pipe that is never read. Killed on drop.
struct Muted {
    child: Child,
    _stderr: ChildStderr,
    pk: String,
    http: SocketAddr,
    tcp: SocketAddr,
}

impl Muted {
    fn start(args: &[String]) -> Self {
        let mut child = command(SKYCHAT, args, &[]).spawn().expect("spawn the node");
        let stderr = child.stderr.take().expect("stderr");
        let stdout = child.stdout.take().expect("stdout");
        let (lines, banner) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if lines.send(line).is_err() {
                    return;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut stdout = Vec::new();
        let value = |stdout: &[String], label: &str| {
            stdout.iter().find_map(|line: &String| {
                line.trim_start()
                    .strip_prefix(label)
                    .and_then(|v| v.split_whitespace().next())
                    .map(str::to_string)
            })
        };
        while value(&stdout, "tcp listen:").is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match banner.recv_timeout(left) {
                Ok(line) => stdout.push(line),
                Err(e) => panic!("no banner ({e}): {stdout:?}"),
            }
        }
        let http = value(&stdout, "http:").expect("http");
        Self {
            child,
            _stderr: stderr,
            pk: value(&stdout, "public key:").expect("pk"),
            http: http
                .trim_start_matches("http://")
                .parse()
                .expect("http addr"),
            tcp: value(&stdout, "tcp listen:")
                .unwrap()
                .parse()
                .expect("tcp addr"),
        }
    }
}

impl Drop for Muted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /status`, answered within `limit` or an error.
fn status_within(addr: SocketAddr, limit: Duration) -> Result<Value, String> {
    let mut stream = TcpStream::connect_timeout(&addr, limit).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(limit))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /status HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("{e} after {} bytes", raw.len()))?;
    let response = support::http::parse(&raw);
    if response.status != 200 {
        return Err(format!("{response:?}"));
    }
    Ok(response.json)
}

#[test]
fn a_node_whose_stderr_nobody_reads_keeps_serving_and_counts_dropped_lines() {
    let dir = Scratch::new();
    let a_keys = keygen(dir.path(), "a");
    let b_keys = keygen(dir.path(), "b");
    let args = Args::new(dir.path());
    let a = Muted::start(&args.listener(&a_keys, "a", &[&b_keys.pk], &["--log-level", "trace"]));
    let b = Node::start(&args.dialer(&b_keys, "b", &[format!("tcp://{}@{}", a.pk, a.tcp)], &[]));
    b.wait_connected(&a.pk);

    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for round in 1..=ROUNDS {
        for _ in 0..CONNECTIONS_PER_ROUND {
            // Refused or timed-out connects are part of the flood too.
            let _ = TcpStream::connect_timeout(&a.tcp, Duration::from_secs(1));
        }
        let connections = round * CONNECTIONS_PER_ROUND;
        let asked = Instant::now();
        if let Err(e) = status_within(a.http, PROMPT) {
            panic!(
                "after {connections} connections ({:?} in), /status got no answer within \
                 {PROMPT:?}: {e}",
                started.elapsed()
            );
        }
        slowest = slowest.max(asked.elapsed());
        let sent = b.send(&a.pk, &format!("round {round}"), Some(5_000));
        assert_eq!(
            sent.json["acked"], true,
            "after {connections} connections, B's message was not acked: {sent:?}"
        );
    }
    let status = status_within(a.http, PROMPT).expect("a last /status");
    let dropped = status["log_lines_dropped"].as_u64();
    eprintln!(
        "{} connections in {:?}; slowest /status {slowest:?}; log lines dropped: {dropped:?}",
        ROUNDS * CONNECTIONS_PER_ROUND,
        started.elapsed()
    );
    assert!(dropped > Some(0), "dropped lines are counted: {status:#}");
    assert_eq!(
        status["counters"]["in"], ROUNDS as u64,
        "every message stored"
    );
}
