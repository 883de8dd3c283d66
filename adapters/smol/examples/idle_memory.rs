//! Measures the memory one idle, established connection costs a listening node on smol.
//!
//! The parent process starts a listener, records its resident set size (VmRSS in
//! /proc/self/status), then runs a child process of this same program that opens N one-shot
//! sessions to it from N identities. Once all N are authenticated and idle, it records VmRSS
//! again and prints the difference per connection. Only the listener's process is measured.
//!
//! `cargo run --release -p skychat-smol --example idle_memory -- 1000`

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use skychat_core::{Event, NodeConfig, PublicKey, SecretKey, Whitelist};
use skychat_driver::DriverConfig;

fn secret(n: u32) -> SecretKey {
    let mut bytes = [0x33; 32];
    bytes[4..8].copy_from_slice(&n.to_le_bytes());
    SecretKey::from_bytes(bytes)
}

fn config(n: u32, node: NodeConfig) -> DriverConfig {
    let mut seed = [7u8; 32];
    seed[..4].copy_from_slice(&n.to_le_bytes());
    DriverConfig {
        identity: secret(n),
        node,
        seed,
        restore_outbox: Vec::new(),
        restore_dedup: Vec::new(),
        tcp_keepalive: Some(Duration::from_secs(60)),
    }
}

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

fn listener(count: u32) {
    let keys: Vec<PublicKey> = (1..=count).map(|i| secret(i).public_key()).collect();
    let node = NodeConfig {
        whitelist: Whitelist::new(keys),
        max_pending_handshakes: count as usize,
        keepalive_interval: Duration::from_secs(3600),
        idle_timeout: Duration::from_secs(7200),
        ..NodeConfig::default()
    };
    let handle = skychat_smol::start(config(0, node));
    let events = handle.events();
    smol::block_on(async {
        let addr = handle.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let before = vm_rss_kib();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "dial",
                &addr.to_string(),
                &handle.public_key().to_hex(),
                &count.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the dialer process");
        let mut authenticated = 0;
        while authenticated < count {
            match events.recv().await.expect("events") {
                Event::Authenticated { .. } => authenticated += 1,
                Event::ConnectionClosed { reason, .. } => panic!("a connection closed: {reason}"),
                _ => {}
            }
        }
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready.trim(), "ready");
        let sessions = handle.sessions().await;
        assert_eq!(
            sessions.iter().filter(|s| s.authenticated).count() as u32,
            count
        );
        let after = vm_rss_kib();
        let per = (after.saturating_sub(before)) as f64 * 1024.0 / count as f64;
        println!(
            "{count} idle connections: VmRSS {before} KiB -> {after} KiB, {per:.0} bytes ({:.1} KiB) per connection",
            per / 1024.0
        );
        drop(child.stdin.take());
        child.wait().unwrap();
        handle.shutdown().await;
    });
}

fn dialer(addr: String, listener: PublicKey, count: u32) {
    smol::block_on(async {
        let mut handles = Vec::new();
        for i in 1..=count {
            let handle = skychat_smol::start(config(i, NodeConfig::default()));
            handle
                .dial_once(listener, addr.clone())
                .await
                .unwrap_or_else(|e| panic!("dial {i}: {e}"));
            handles.push(handle);
        }
        println!("ready");
        // Stay connected until the parent closes stdin.
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        for handle in handles {
            handle.shutdown().await;
        }
    });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [mode, addr, key, count] if mode == "dial" => {
            dialer(addr.clone(), key.parse().unwrap(), count.parse().unwrap())
        }
        [count] => listener(count.parse().unwrap()),
        [] => listener(1000),
        _ => eprintln!("usage: idle_memory [COUNT]"),
    }
}
