//! Scenario 5: resident memory per idle established connection, at 1 k and 10 k connections.
//! Each measurement is a fresh listener process (this program as a child) that records VmRSS,
//! has a dialer process (a grandchild) open N connections, and records VmRSS again once all are
//! up. System: a smol node with N authenticated one-shot sessions from N identities. Baseline:
//! a smol listener holding N raw TCP streams, each with a task waiting to read.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use futures_lite::AsyncReadExt;
use skychat_core::{Event, PublicKey};

use crate::child;
use crate::measure::{Goal, Row, Scale, interleave};
use crate::nodes::{Adapter, config, join_all, secret, within};

/// First identity number of the dialers.
const FIRST_DIALER: u32 = 10_000;
/// Dials in flight at once.
const CONCURRENT_DIALS: usize = 64;

/// Runs the scenario.
pub fn run(scale: Scale) -> Vec<Row> {
    let mut rows = Vec::new();
    for (count, rounds, label) in [(1000, 3, "1 k"), (10_000, 1, "10 k")] {
        let count = scale.pick(count, count / 100);
        let rounds = scale.pick(rounds, 1);
        let measure = |kind: &str| {
            let out = child::spawn_and_read(&["__mem_listen", kind, &count.to_string()]);
            out.trim().parse::<f64>().expect("bytes per connection") / 1024.0
        };
        let (baseline, system) = interleave(rounds, || measure("raw"), || measure("system"));
        rows.push(Row::new(
            format!("5. RSS per idle conn, {label} conns"),
            system,
            baseline,
            "KiB",
            Goal::AtMost(16.0),
        ));
    }
    rows
}

/// What the listener child holds.
enum Held {
    System(skychat_driver::NodeHandle),
    Raw(async_channel::Receiver<()>),
}

impl Held {
    /// Waits until `count` connections are up (authenticated, or accepted).
    async fn wait_up(&self, count: usize) {
        match self {
            Held::System(node) => {
                let events = node.events();
                let mut authenticated = 0;
                while authenticated < count {
                    match within(events.recv()).await.expect("node stopped") {
                        Event::Authenticated { .. } => authenticated += 1,
                        Event::ConnectionClosed { reason, .. } => {
                            panic!("a connection closed: {reason}")
                        }
                        _ => {}
                    }
                }
            }
            Held::Raw(accepted) => {
                for _ in 0..count {
                    within(accepted.recv()).await.expect("accepted");
                }
            }
        }
    }
}

/// Starts the listener of `kind`; returns its address, key and state.
async fn listen(kind: &str, count: usize) -> (String, String, Held) {
    if kind == "system" {
        let keys: Vec<PublicKey> = (0..count as u32)
            .map(|i| secret(FIRST_DIALER + i).public_key())
            .collect();
        let node = Adapter::Smol.start(config(1, keys));
        let addr = node.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let key = node.public_key().to_hex();
        return (addr.to_string(), key, Held::System(node));
    }
    let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (accepted_tx, accepted) = async_channel::unbounded::<()>();
    smol::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let _ = accepted_tx.try_send(());
            smol::spawn(async move {
                let mut byte = [0u8; 1];
                let _ = stream.read(&mut byte).await;
            })
            .detach();
        }
    })
    .detach();
    (addr.to_string(), "-".into(), Held::Raw(accepted))
}

/// The listener child: prints the VmRSS growth per connection in bytes.
pub fn listener(kind: &str, count: usize) {
    check_nofile(count);
    smol::block_on(async {
        let (addr, key, held) = listen(kind, count).await;
        let before = crate::sys::rss_bytes();
        let exe = std::env::current_exe().expect("current exe");
        let mut dialer = Command::new(exe)
            .args(["__mem_dial", kind, &addr, &key, &count.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the dialer");
        let stdout = dialer.stdout.take().expect("stdout");
        let ready = smol::unblock(move || {
            let mut ready = String::new();
            BufReader::new(stdout).read_line(&mut ready).map(|_| ready)
        })
        .await
        .expect("dialer ready line");
        assert_eq!(ready.trim(), "ready", "dialer failed");
        held.wait_up(count).await;
        let after = crate::sys::rss_bytes();
        println!("{}", after.saturating_sub(before) as f64 / count as f64);
        drop(dialer.stdin.take());
        dialer.wait().expect("dialer exit");
    });
}

/// The dialer grandchild: opens `count` connections, prints `ready`, holds them until its
/// standard input closes.
pub fn dialer(kind: &str, addr: &str, key: &str, count: usize) {
    check_nofile(count);
    if kind == "system" {
        let listener: PublicKey = key.parse().expect("listener key");
        let handles = smol::block_on(async {
            let mut handles = Vec::new();
            for chunk in (0..count as u32)
                .collect::<Vec<_>>()
                .chunks(CONCURRENT_DIALS)
            {
                let started: Vec<_> = chunk
                    .iter()
                    .map(|i| Adapter::Smol.start(config(FIRST_DIALER + i, Vec::new())))
                    .collect();
                join_all(
                    started
                        .iter()
                        .map(|h| async move {
                            h.dial_once(listener, addr.to_string()).await.expect("dial");
                        })
                        .collect(),
                )
                .await;
                handles.extend(started);
            }
            handles
        });
        println!("ready");
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        drop(handles);
    } else {
        let streams: Vec<std::net::TcpStream> = (0..count)
            .map(|_| std::net::TcpStream::connect(addr).expect("connect"))
            .collect();
        println!("ready");
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        drop(streams);
    }
}

/// Fails clearly when the open-file limit (already raised to the hard limit) is too low.
fn check_nofile(count: usize) {
    let limit = crate::sys::nofile_limit();
    assert!(
        limit > count as u64 + 256,
        "{count} connections need a higher open-file limit than {limit} (ulimit -Hn)"
    );
}
