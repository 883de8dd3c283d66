//! Hostile command-line input through the real binary: an enormous `--wait`, a config path that
//! is a device, a FIFO or an oversized file, and a `--tcp-peer` carrying the node's own key. Each
//! gets a clear error and a usage exit code, never a panic or a hang; so does an `--advertise`
//! without a listener or with no address in it.

mod support;

use std::time::Duration;

use support::binaries::SKYCHAT;
use support::command::{Outcome, run};
use support::node::{Args, Keys, keygen};
use support::scratch::Scratch;

/// Limit for a command that is expected to refuse at once.
const AT_ONCE: Duration = Duration::from_secs(10);

fn assert_usage_error(out: &Outcome, needle: &str) {
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains(needle), "{out:?}");
    assert!(!out.stderr.contains("panicked"), "{out:?}");
}

#[test]
fn an_enormous_wait_is_refused_not_a_panic() {
    let scratch = Scratch::new();
    let keys = keygen(scratch.path(), "a");
    for via in [
        vec!["--to", keys.pk.as_str()],
        vec![
            "--via",
            "tcp://0000000000000000000000000000000000000000000000000000000000000001@127.0.0.1:9",
        ],
    ] {
        let mut args = vec![
            "send",
            "-c",
            &keys.file,
            "-m",
            "hi",
            "--wait",
            "18446744073709551615",
        ];
        args.extend(via);
        let out = run(SKYCHAT, &args, &[], AT_ONCE);
        assert_usage_error(&out, "--wait");
        assert!(out.stderr.contains("60s"), "names the limit: {out:?}");
    }
}

#[test]
fn a_config_that_is_not_a_regular_file_is_refused_without_reading_it() {
    let scratch = Scratch::new();
    let fifo = scratch.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    for path in ["/dev/zero", fifo.as_str(), scratch.path().to_str().unwrap()] {
        let out = run(SKYCHAT, &["pk", "-c", path], &[], AT_ONCE);
        assert_usage_error(&out, "not a regular file");
        assert!(out.stderr.contains(path), "{out:?}");
        let node = run(SKYCHAT, &["--standalone", "-c", path], &[], AT_ONCE);
        assert_usage_error(&node, "not a regular file");
    }
}

#[test]
fn an_oversized_config_file_is_refused() {
    let scratch = Scratch::new();
    let big = scratch.join("big.json");
    let mut text = String::from("{\"pad\": \"");
    text.push_str(&"x".repeat(2 * 1024 * 1024));
    text.push_str("\"}");
    std::fs::write(&big, text).unwrap();
    let out = run(SKYCHAT, &["pk", "-c", &big], &[], AT_ONCE);
    assert_usage_error(&out, "larger than 1048576 bytes");
}

/// Runs a standalone node with the identity `keys`, its data under `scratch`, and `extra`
/// flags; expected to refuse at once.
fn refused_node(scratch: &Scratch, keys: &Keys, extra: &[&str]) -> Outcome {
    let args = Args::new(scratch.path()).dialer(keys, "data", &[], extra);
    run(SKYCHAT, &args, &[], AT_ONCE)
}

#[test]
fn a_tcp_peer_with_the_nodes_own_key_is_refused() {
    let scratch = Scratch::new();
    let keys = keygen(scratch.path(), "a");
    let own = format!("tcp://{}@127.0.0.1:9", keys.pk);
    let out = refused_node(&scratch, &keys, &["--tcp-peer", &own]);
    assert_usage_error(&out, "own public key");
    assert!(out.stderr.contains("--tcp-peer"), "{out:?}");
    assert!(!scratch.path().join("data").exists(), "nothing was created");
}

#[test]
fn an_advertised_address_needs_a_listener_and_the_form_of_one() {
    let scratch = Scratch::new();
    let keys = keygen(scratch.path(), "a");
    let alone = refused_node(
        &scratch,
        &keys,
        &["--advertise", "tcp://chat.example.org:8801"],
    );
    assert_usage_error(&alone, "--advertise needs --tcp-listen");
    for bad in ["chat.example.org", "tcp://x:0", "tcp://a@b:1"] {
        let listening = [
            "--tcp-listen",
            "127.0.0.1:0",
            "--tcp-whitelist",
            "",
            "--advertise",
            bad,
        ];
        let out = refused_node(&scratch, &keys, &listening);
        assert_usage_error(&out, "give the address peers dial, as tcp://host:port");
    }
    assert!(!scratch.path().join("data").exists(), "nothing was created");
}
