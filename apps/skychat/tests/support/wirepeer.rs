//! `wirepeer.py`, an independent Python implementation of the Go skychat's TCP-direct wire, as a
//! peer for the real binaries: whether it can run here, key pairs from it, and a running peer
//! whose JSON-lines events are read with deadlines.
//!
//! It needs `python3` with `cryptography>=45`; tests call [`available`] first and skip (printing
//! a "SKIPPED" line) when they are missing. The peer is found at `$SKYWIRE_WIREPEER`, else at
//! `../shared/tools/skywire/wirepeer.py` beside the repository.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long to wait for an event or an exit.
pub const WAIT: Duration = Duration::from_secs(20);

/// Where `wirepeer.py` is.
pub fn path() -> PathBuf {
    std::env::var_os("SKYWIRE_WIREPEER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/tools/skywire/wirepeer.py")
        })
}

/// Whether the peer can run here; if not, prints "SKIPPED <test>: <why>".
pub fn available(test: &str) -> bool {
    let probe = Command::new("python3")
        .args([
            "-c",
            "from cryptography.hazmat.primitives.asymmetric import mlkem; mlkem.MLKEM768PrivateKey",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let reason = match probe {
        Err(_) => "python3 is not installed",
        Ok(status) if !status.success() => {
            "python3 lacks cryptography>=45 (python3 -m pip install 'cryptography>=45')"
        }
        Ok(_) => {
            assert!(
                path().is_file(),
                "wirepeer.py not found at {}; set SKYWIRE_WIREPEER to its path",
                path().display()
            );
            return true;
        }
    };
    eprintln!("SKIPPED {test}: {reason}");
    false
}

/// A Skywire key pair.
#[derive(Debug, Clone)]
pub struct KeyPair {
    /// The public key, 66 hex.
    pub pk: String,
    /// The secret key, 64 hex.
    pub sk: String,
}

/// A fresh key pair from `wirepeer.py keygen`.
pub fn keygen() -> KeyPair {
    let out = Command::new("python3")
        .arg(path())
        .arg("keygen")
        .output()
        .expect("run wirepeer.py keygen");
    assert!(out.status.success(), "wirepeer keygen: {out:?}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("keygen prints JSON");
    KeyPair {
        pk: doc["pk"].as_str().expect("pk").to_string(),
        sk: doc["sk"].as_str().expect("sk").to_string(),
    }
}

/// A loopback port that was free a moment ago, for a peer that binds it itself.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// A running Python peer and its JSON-lines events.
pub struct Peer {
    child: Child,
    events: Receiver<Value>,
    /// Every event read so far.
    pub seen: Vec<Value>,
}

impl Peer {
    /// Starts `wirepeer.py args…`.
    pub fn start(args: &[impl AsRef<OsStr>]) -> Self {
        Self::script(path(), args)
    }

    /// Starts `python3 script args…` (a script that prints JSON lines too).
    pub fn script(script: PathBuf, args: &[impl AsRef<OsStr>]) -> Self {
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            events,
            seen: Vec::new(),
        }
    }

    /// The first event from now on for which `matches` holds; panics after [`WAIT`].
    pub fn expect(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    self.seen.push(event.clone());
                    if matches(&event) {
                        return event;
                    }
                }
                Err(_) => panic!("python peer: no {what} event; saw {:#?}", self.seen),
            }
        }
    }

    /// The next event named `name`.
    pub fn event(&mut self, name: &str) -> Value {
        self.expect(name, |e| e["event"] == name)
    }

    /// Reads events until the process exits; returns its exit code.
    pub fn finish(&mut self) -> i32 {
        let deadline = Instant::now() + WAIT;
        let code = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the peer") {
                break status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "the python peer did not exit; saw {:#?}",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader thread ends at EOF: take what it still holds.
        while let Ok(event) = self.events.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(event);
        }
        code
    }

    /// The events named `name` seen so far.
    pub fn seen(&self, name: &str) -> Vec<&Value> {
        self.seen.iter().filter(|e| e["event"] == name).collect()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
