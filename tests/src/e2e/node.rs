//! A long-running node process: spawned with piped output, its start-up banner parsed for the
//! public key and the bound HTTP and TCP addresses, its `/status` polled until a condition holds,
//! signalled, and killed on drop.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::http::{self, Response};

/// How long a node may take to print its banner.
const START_LIMIT: Duration = Duration::from_secs(15);

/// How often conditions are re-checked while waiting.
const POLL: Duration = Duration::from_millis(20);

#[derive(Default)]
struct Captured {
    text: Mutex<(String, String)>,
    changed: Condvar,
}

impl Captured {
    fn append(&self, to_stderr: bool, line: &str) {
        let mut text = self.text.lock().expect("output lock");
        let target = if to_stderr { &mut text.1 } else { &mut text.0 };
        target.push_str(line);
        self.changed.notify_all();
    }
}

fn pump(reader: impl Read + Send + 'static, captured: Arc<Captured>, to_stderr: bool) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            captured.append(to_stderr, &line);
            line.clear();
        }
    });
}

/// A running node.
pub struct Node {
    child: Child,
    captured: Arc<Captured>,
    /// Its public key, from the banner.
    pub pk: String,
    /// Where its HTTP surface listens.
    pub http: SocketAddr,
    /// Where its TCP-direct listener listens, if it has one.
    pub tcp_listen: Option<SocketAddr>,
}

fn banner_value<'a>(stdout: &'a str, label: &str) -> Option<&'a str> {
    stdout
        .lines()
        .find_map(|line| line.trim_start().strip_prefix(label))
        .map(str::trim)
}

impl Node {
    /// Starts `binary args…` with extra environment `env` (and `DMSGCURL_SK`, `PROC_CONFIG` and
    /// `RUST_LOG` removed unless given) and waits for its banner.
    pub fn spawn(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(binary);
        command
            .args(args)
            .env_remove("DMSGCURL_SK")
            .env_remove("PROC_CONFIG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn the node");
        let captured = Arc::new(Captured::default());
        pump(
            child.stdout.take().expect("stdout"),
            captured.clone(),
            false,
        );
        pump(child.stderr.take().expect("stderr"), captured.clone(), true);
        let deadline = Instant::now() + START_LIMIT;
        let mut text = captured.text.lock().expect("output lock");
        loop {
            if banner_value(&text.0, "tcp listen:").is_some() {
                break;
            }
            if let Some(status) = child.try_wait().expect("poll the node") {
                panic!(
                    "node {args:?} exited with {status} before starting\nstdout:\n{}\nstderr:\n{}",
                    text.0, text.1
                );
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "node {args:?} printed no banner within {START_LIMIT:?}\nstderr:\n{}",
                text.1
            );
            text = captured
                .changed
                .wait_timeout(text, POLL.min(deadline - now))
                .expect("output lock")
                .0;
        }
        let stdout = text.0.clone();
        drop(text);
        let pk = banner_value(&stdout, "public key:")
            .expect("banner has the public key")
            .to_string();
        let http = banner_value(&stdout, "http:")
            .and_then(|v| v.strip_prefix("http://"))
            .and_then(|v| v.parse().ok())
            .expect("banner has the http address");
        let tcp_listen = banner_value(&stdout, "tcp listen:")
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok());
        Self {
            child,
            captured,
            pk,
            http,
            tcp_listen,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.captured.text.lock().expect("output lock").0.clone()
    }

    /// Everything printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.captured.text.lock().expect("output lock").1.clone()
    }

    /// `tcp://<pk>@<tcp listen address>`, for peers to dial.
    pub fn tcp_url(&self) -> String {
        let addr = self.tcp_listen.expect("the node has a TCP listener");
        format!("tcp://{}@{addr}", self.pk)
    }

    /// `GET path` on the HTTP surface.
    pub fn get(&self, path: &str) -> Response {
        http::request(self.http, "GET", path, None).expect("GET on the node")
    }

    /// The `/status` document.
    pub fn status(&self) -> Value {
        let response = self.get("/status");
        assert_eq!(response.status, 200, "/status answered {response:?}");
        response.json
    }

    /// `POST /message`.
    pub fn post_message(&self, recipient: &str, message: &str, wait_ms: Option<u64>) -> Response {
        let mut body = json!({ "recipient": recipient, "message": message });
        if let Some(wait) = wait_ms {
            body["wait_ms"] = json!(wait);
        }
        http::request(self.http, "POST", "/message", Some(&body)).expect("POST /message")
    }

    /// The conversation with `peer`, oldest first.
    pub fn history(&self, peer: &str) -> Vec<Value> {
        let response = self.get(&format!("/history?peer={peer}&limit=1000"));
        assert_eq!(response.status, 200, "/history answered {response:?}");
        response
            .json
            .as_array()
            .cloned()
            .expect("history is a list")
    }

    /// Bodies of the messages received from `peer`, oldest first.
    pub fn received_from(&self, peer: &str) -> Vec<String> {
        self.history(peer)
            .iter()
            .filter(|m| m["dir"] == "in")
            .map(|m| m["message"].as_str().expect("message text").to_string())
            .collect()
    }

    /// Polls `/status` until `holds` is true of it; panics after `limit`. Returns the status
    /// that satisfied it.
    pub fn wait_status(
        &self,
        what: &str,
        limit: Duration,
        holds: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let status = self.status();
            if holds(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {limit:?}; last /status: {status:#}\nstderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits until stderr contains `needle`; panics after `limit`.
    pub fn wait_stderr(&self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut text = self.captured.text.lock().expect("output lock");
        while !text.1.contains(needle) {
            let now = Instant::now();
            assert!(
                now < deadline,
                "stderr has no {needle:?} within {limit:?}:\n{}",
                text.1
            );
            text = self
                .captured
                .changed
                .wait_timeout(text, deadline - now)
                .expect("output lock")
                .0;
        }
    }

    /// Sends `signal` (a name such as `TERM` or `INT`) with the `kill` command.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// Waits for the process to exit; panics after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the node") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "node did not exit within {limit:?}\nstderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The entry for `pk` in a `/status` document's `peers` list.
pub fn peer_entry<'a>(status: &'a Value, pk: &str) -> Option<&'a Value> {
    status["peers"]
        .as_array()?
        .iter()
        .find(|p| p["pk"].as_str() == Some(pk))
}

/// Whether `/status` shows a live session with `pk`.
pub fn connected(status: &Value, pk: &str) -> bool {
    peer_entry(status, pk).is_some_and(|p| p["state"] == "connected")
}
