//! The data directory through the real binary: one node per directory (a second one exits
//! naming the holder's PID, in standalone and embedded mode alike), a store refuses a node with
//! another identity, a path that is a file gets a clear message, and a run-only (ephemeral)
//! directory is removed when the start fails.

mod support;

use skychat_visor_link::fake_visor::FakeVisors;

use std::net::TcpListener;
use std::time::Duration;

use support::binaries::SKYCHAT;
use support::command::run;
use support::node::{Args, Node, keygen};
use support::scratch::Scratch;
use support::visor::{launch, skywire_pk};

/// Limit for a node that is expected to refuse to start.
const REFUSAL: Duration = Duration::from_secs(15);

fn node_args(keys_file: &str, data_dir: &str) -> Vec<String> {
    [
        "--standalone",
        "--addr",
        "127.0.0.1:0",
        "-c",
        keys_file,
        "--data-dir",
        data_dir,
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn a_second_node_on_the_same_data_dir_exits_naming_the_first_ones_pid() {
    let scratch = Scratch::new();
    let keys = keygen(scratch.path(), "a");
    let data = scratch.join("data");
    let first = Node::start(&node_args(&keys.file, &data));
    let queued = first.send(&keygen(scratch.path(), "b").pk, "before the second", None);
    assert_eq!(queued.status, 202, "{queued:?}");

    let second = run(SKYCHAT, &node_args(&keys.file, &data), &[], REFUSAL);
    assert_eq!(second.code, Some(1), "{second:?}");
    let pid = format!("pid {}", first.pid());
    assert!(second.stderr.contains(&pid), "{second:?}");
    assert!(second.stderr.contains("in use by another skychat node"));
    assert!(second.stderr.contains("--data-dir"), "{second:?}");
    assert!(second.stdout.is_empty(), "never started: {second:?}");

    // The first node is untouched and keeps working.
    let status = first.status();
    assert_eq!(status["public_key"], keys.pk);
    let peer = keygen(scratch.path(), "c").pk;
    assert_eq!(first.send(&peer, "after the second", None).status, 202);
    let history = first.get("/history?limit=10");
    assert_eq!(
        history.json.as_array().map(Vec::len),
        Some(2),
        "{history:?}"
    );
    first.terminate();
}

#[test]
fn a_node_with_another_key_refuses_an_existing_data_dir() {
    let scratch = Scratch::new();
    let a = keygen(scratch.path(), "a");
    let b = keygen(scratch.path(), "b");
    let data = scratch.join("data");
    let owner = Node::start(&node_args(&a.file, &data));
    assert_eq!(owner.send(&b.pk, "queued for b", None).status, 202);
    owner.terminate();

    let intruder = run(SKYCHAT, &node_args(&b.file, &data), &[], REFUSAL);
    assert_eq!(intruder.code, Some(1), "{intruder:?}");
    assert!(
        intruder.stderr.contains("another identity") && intruder.stderr.contains(&a.pk),
        "names whose store it is: {intruder:?}"
    );
    assert!(
        intruder.stderr.contains("--data-dir"),
        "says what to do: {intruder:?}"
    );

    // The owner still opens it, with its outbox intact.
    let owner = Node::start(&node_args(&a.file, &data));
    let history = owner.get("/history?limit=10");
    assert_eq!(history.json[0]["message"], "queued for b", "{history:?}");
    owner.terminate();
}

#[test]
fn the_embedded_default_data_dir_is_locked_too() {
    let scratch = Scratch::new();
    let keys = keygen(scratch.path(), "a");
    let work = scratch.join("visor-work");
    std::fs::create_dir(&work).unwrap();
    let visors = FakeVisors::start().unwrap();
    let proc_config = launch(&visors, &skywire_pk(&keys), 1, &work).proc_config;
    let env = [("PROC_CONFIG", proc_config.as_str())];
    let args = ["--addr", "127.0.0.1:0", "-c", &keys.file];
    let first = Node::spawn(SKYCHAT, &args, &env);
    assert!(
        scratch
            .path()
            .join("visor-work/skychat/skychat.lock")
            .is_file(),
        "the embedded store lives in <work dir>/skychat"
    );
    let second = run(SKYCHAT, &args, &env, REFUSAL);
    assert_eq!(second.code, Some(1), "{second:?}");
    assert!(
        second.stderr.contains(&format!("pid {}", first.pid())),
        "{second:?}"
    );
    assert_eq!(first.status()["public_key"], keys.pk);
}

#[test]
fn a_data_dir_that_is_a_file_gets_a_message_naming_the_fix() {
    let scratch = Scratch::new();
    let keys = keygen(scratch.path(), "a");
    let file = scratch.join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let out = run(SKYCHAT, &node_args(&keys.file, &file), &[], REFUSAL);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("is not a directory") && out.stderr.contains("--data-dir"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("File exists"), "{out:?}");
    assert_eq!(std::fs::read(&file).unwrap(), b"not a directory");
}

/// An ephemeral node (no identity) started with `TMPDIR` pointing at `tmp`, its HTTP surface on
/// `addr`, and `extra` flags.
fn ephemeral_start(tmp: &str, addr: &str, extra: &[&str]) -> support::command::Outcome {
    let mut args = vec!["--standalone", "--addr", addr];
    args.extend_from_slice(extra);
    run(SKYCHAT, &args, &[("TMPDIR", tmp)], REFUSAL)
}

fn entries(dir: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_failed_start_removes_its_ephemeral_data_dir() {
    let scratch = Scratch::new();
    let tmp = scratch.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();

    // The TCP listener fails after the store has been opened in the ephemeral dir.
    let out = ephemeral_start(
        &tmp,
        "127.0.0.1:0",
        &["--tcp-listen", &taken, "--tcp-whitelist", ""],
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("cannot listen"), "{out:?}");
    assert!(
        out.stderr.contains("skychat-ephemeral-"),
        "the run did use an ephemeral dir: {out:?}"
    );
    assert_eq!(entries(&tmp), Vec::<String>::new(), "{out:?}");

    // The HTTP address in use: bound after the store has been opened too.
    let out = ephemeral_start(&tmp, &taken, &[]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("Address already in use"), "{out:?}");
    assert_eq!(entries(&tmp), Vec::<String>::new(), "{out:?}");
}

#[test]
fn a_node_that_stops_cleanly_removes_its_ephemeral_data_dir_and_a_kept_one_stays() {
    let scratch = Scratch::new();
    let tmp = scratch.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let node = Node::spawn(
        SKYCHAT,
        &["--standalone", "--addr", "127.0.0.1:0"],
        &[("TMPDIR", tmp.as_str())],
    );
    assert_eq!(entries(&tmp).len(), 1, "one ephemeral dir while running");
    node.terminate();
    assert_eq!(entries(&tmp), Vec::<String>::new());

    let keys = keygen(scratch.path(), "a");
    let args = Args::new(scratch.path());
    let node = Node::start(&args.dialer(&keys, "kept", &[], &[]));
    node.terminate();
    assert!(scratch.path().join("kept/skychat.db").is_file());
}
