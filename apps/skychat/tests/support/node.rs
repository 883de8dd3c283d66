//! A real node process for the tests: spawned with piped output, its banner parsed for the
//! public key and the bound HTTP and TCP addresses, its `/status` and output polled until a
//! condition holds, signalled, and killed on drop. Identity files come from the binary's own
//! `keygen`.

use std::ffi::OsStr;
use std::fmt::Debug;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::binaries::SKYCHAT;
use super::command::command;
use super::http::{self, Response};

/// How long a node may take to print its banner, or to exit after SIGTERM.
const START_LIMIT: Duration = Duration::from_secs(15);

/// How often conditions are re-checked while waiting.
const POLL: Duration = Duration::from_millis(20);

/// An identity file and its public key.
#[derive(Debug, Clone)]
pub struct Keys {
    /// The file to pass with `-c`.
    pub file: String,
    /// The public key, hex.
    pub pk: String,
}

/// Writes a new identity file `<dir>/<name>.json` with `skychat keygen`.
pub fn keygen(dir: &Path, name: &str) -> Keys {
    let file = dir.join(format!("{name}.json"));
    let out = Command::new(SKYCHAT)
        .args(["keygen", "-o"])
        .arg(&file)
        .output()
        .expect("run keygen");
    assert!(out.status.success(), "keygen: {out:?}");
    let pk = String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_string();
    assert_eq!(pk.len(), 64, "keygen printed {pk:?}");
    Keys {
        file: file.to_string_lossy().into_owned(),
        pk,
    }
}

#[derive(Default)]
struct Captured {
    text: Mutex<(String, String)>,
    changed: Condvar,
}

fn pump(reader: impl Read + Send + 'static, captured: Arc<Captured>, to_stderr: bool) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            let mut text = captured.text.lock().expect("output lock");
            if to_stderr {
                text.1.push_str(&line);
            } else {
                text.0.push_str(&line);
            }
            captured.changed.notify_all();
            drop(text);
            line.clear();
        }
    });
}

fn banner_value<'a>(stdout: &'a str, label: &str) -> Option<&'a str> {
    stdout
        .lines()
        .find_map(|line| line.trim_start().strip_prefix(label))
        .map(str::trim)
}

/// A running node.
pub struct Node {
    child: Child,
    captured: Arc<Captured>,
    /// Its public key, from the banner.
    pub pk: String,
    /// Where to reach its HTTP surface (loopback when it binds all interfaces).
    pub http: SocketAddr,
    /// The HTTP address as printed in the banner.
    pub http_banner: String,
    /// Where its TCP-direct listener is bound, if it has one.
    pub tcp_listen: Option<SocketAddr>,
}

impl Node {
    /// Starts `skychat args…` and waits for its banner.
    pub fn start(args: &[String]) -> Self {
        Self::spawn(SKYCHAT, args, &[])
    }

    /// Starts `binary args…` with extra environment `env` (see [`command`]) and waits for its
    /// banner.
    pub fn spawn(binary: &str, args: &[impl AsRef<OsStr> + Debug], env: &[(&str, &str)]) -> Self {
        let mut child = command(binary, args, env).spawn().expect("spawn the node");
        let captured = Arc::new(Captured::default());
        pump(
            child.stdout.take().expect("stdout"),
            captured.clone(),
            false,
        );
        pump(child.stderr.take().expect("stderr"), captured.clone(), true);
        let deadline = Instant::now() + START_LIMIT;
        let mut text = captured.text.lock().expect("output lock");
        while banner_value(&text.0, "tcp listen:").is_none() {
            if let Some(status) = child.try_wait().expect("poll the node") {
                panic!(
                    "node {args:?} exited with {status} before starting\nstdout:\n{}\nstderr:\n{}",
                    text.0, text.1
                );
            }
            let now = Instant::now();
            assert!(now < deadline, "no banner from {args:?}:\n{}", text.1);
            text = captured
                .changed
                .wait_timeout(text, POLL.min(deadline - now))
                .expect("output lock")
                .0;
        }
        let stdout = text.0.clone();
        drop(text);
        let pk = banner_value(&stdout, "public key:")
            .expect("pk")
            .to_string();
        let http_banner = banner_value(&stdout, "http:").expect("http").to_string();
        let mut http: SocketAddr = http_banner
            .strip_prefix("http://")
            .and_then(|v| v.parse().ok())
            .expect("the banner's http address");
        if http.ip().is_unspecified() {
            http.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        let tcp_listen = banner_value(&stdout, "tcp listen:")
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok());
        Self {
            child,
            captured,
            pk,
            http,
            http_banner,
            tcp_listen,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `tcp://<pk>@<listen address>`, for peers to dial.
    pub fn tcp_url(&self) -> String {
        format!(
            "tcp://{}@{}",
            self.pk,
            self.tcp_listen.expect("a TCP listener")
        )
    }

    /// The HTTP address the node bound, as its banner says (unspecified when it binds all
    /// interfaces).
    pub fn http_bound(&self) -> SocketAddr {
        self.http_banner
            .strip_prefix("http://")
            .and_then(|v| v.parse().ok())
            .expect("the banner's http address")
    }

    /// Everything on stdout so far.
    pub fn stdout(&self) -> String {
        self.captured.text.lock().expect("output lock").0.clone()
    }

    /// Everything on stderr so far.
    pub fn stderr(&self) -> String {
        self.captured.text.lock().expect("output lock").1.clone()
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

    /// Any request.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        http::request(self.http, method, path, headers, body)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"")
    }

    /// `POST path` with a raw body.
    pub fn post(&self, path: &str, body: &str) -> Response {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    /// `POST /message` to `recipient`, waiting `wait_ms` for the ack when given.
    pub fn send(&self, recipient: &str, message: &str, wait_ms: Option<u64>) -> Response {
        let mut body = json!({ "recipient": recipient, "message": message });
        if let Some(wait) = wait_ms {
            body["wait_ms"] = json!(wait);
        }
        self.post("/message", &body.to_string())
    }

    /// Sends and asserts the ack; returns the message id.
    pub fn send_acked(&self, recipient: &str, message: &str) -> String {
        let response = self.send(recipient, message, Some(10_000));
        assert_eq!(response.status, 200, "{response:?}");
        assert_eq!(response.json["acked"], true, "{response:?}");
        response.json["id"].as_str().expect("id").to_string()
    }

    /// The `/status` document.
    pub fn status(&self) -> Value {
        let response = self.get("/status");
        assert_eq!(response.status, 200, "{response:?}");
        response.json
    }

    /// The `/peers` entry of `pk`, if it is listed.
    pub fn peers_entry(&self, pk: &str) -> Option<Value> {
        let response = self.get("/peers");
        assert_eq!(response.status, 200, "{response:?}");
        let peers = response.json.as_array().cloned().expect("a list");
        peers.into_iter().find(|p| p["pk"] == pk)
    }

    /// The whole conversation with `peer`, oldest first.
    pub fn history(&self, peer: &str) -> Vec<Value> {
        let response = self.get(&format!("/history?peer={peer}&limit=1000"));
        assert_eq!(response.status, 200, "{response:?}");
        response.json.as_array().cloned().expect("a list")
    }

    /// Bodies of the messages received from `peer`, oldest first.
    pub fn received_from(&self, peer: &str) -> Vec<String> {
        self.history(peer)
            .iter()
            .filter(|m| m["dir"] == "in")
            .map(|m| m["message"].as_str().expect("message text").to_string())
            .collect()
    }

    /// Polls `probe` until it returns `Some`; panics after `limit`.
    pub fn wait_for<T>(
        &self,
        what: &str,
        limit: Duration,
        mut probe: impl FnMut(&Self) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(value) = probe(self) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {limit:?}\nstatus: {:#}\nstderr:\n{}",
                self.status(),
                self.stderr()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Polls `/status` until `holds` is true of it; panics after `limit`. Returns the status
    /// that satisfied it.
    pub fn wait_status(
        &self,
        what: &str,
        limit: Duration,
        holds: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_for(what, limit, |node| {
            let status = node.status();
            holds(&status).then_some(status)
        })
    }

    /// Waits until a session with `pk` is up.
    pub fn wait_connected(&self, pk: &str) {
        self.wait_for("session up", START_LIMIT, |node| {
            connected(&node.status(), pk).then_some(())
        });
    }

    /// Sends `signal` (a name such as `TERM`, `INT` or `KILL`) with the `kill` command.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn terminate(mut self) {
        self.signal("TERM");
        let exit = self.wait_exit(START_LIMIT);
        assert!(
            exit.success(),
            "exit after SIGTERM: {exit}\n{}",
            self.stderr()
        );
    }

    /// SIGKILL: no chance to flush or say goodbye.
    pub fn kill_hard(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.wait_exit(START_LIMIT);
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
                "the node did not exit within {limit:?}\nstderr:\n{}",
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

/// The entry for `pk` in a `/status` document's `peers`.
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

/// Command lines for the usual two nodes: A listens with B whitelisted; B dials A.
pub struct Args {
    dir: PathBuf,
}

impl Args {
    /// Command lines with data dirs under `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// The data dir named `name`.
    pub fn data_dir(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// A listener on loopback (or `listen`) whitelisting `allowed`, plus `extra`.
    pub fn listener(
        &self,
        keys: &Keys,
        name: &str,
        allowed: &[&str],
        extra: &[&str],
    ) -> Vec<String> {
        self.listener_at(keys, name, "127.0.0.1:0", allowed, extra)
    }

    /// A listener with its TCP listener at `listen`.
    pub fn listener_at(
        &self,
        keys: &Keys,
        name: &str,
        listen: &str,
        allowed: &[&str],
        extra: &[&str],
    ) -> Vec<String> {
        let mut args = self.base(keys, name);
        args.extend(
            [
                "--tcp-listen",
                listen,
                "--tcp-whitelist",
                &allowed.join(","),
            ]
            .map(String::from),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// A node dialling each of `peers` (`tcp://pk@addr`), plus `extra`.
    pub fn dialer(&self, keys: &Keys, name: &str, peers: &[String], extra: &[&str]) -> Vec<String> {
        let mut args = self.base(keys, name);
        for peer in peers {
            args.extend(["--tcp-peer".to_string(), peer.clone()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    fn base(&self, keys: &Keys, name: &str) -> Vec<String> {
        [
            "--standalone",
            "--addr",
            "127.0.0.1:0",
            "-c",
            &keys.file,
            "--data-dir",
            &self.data_dir(name),
        ]
        .map(String::from)
        .to_vec()
    }
}
