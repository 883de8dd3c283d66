//! Scenario 7: the one-shot CLI. Whole-process time of `skychat send --via tcp://… --wait 8s`
//! against a smol node in this process that confirms storage at once, against the whole-process
//! time of a raw TCP connect (this program's `__connect` child: start, connect to the same
//! listener, exit). The `skychat` binary is built with cargo in the bench's own profile if it is
//! not next to the bench.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::measure::{Goal, Row, Scale, interleave};
use crate::nodes::{Adapter, config, confirm_all, secret};

/// Identity number of the CLI's key.
const CLI_ID: u32 = 900;

/// Runs the scenario.
pub fn run(scale: Scale) -> Vec<Row> {
    let rounds = scale.pick(31, 3);
    let skychat = skychat_binary();
    let node = Adapter::Smol.start(config(901, vec![secret(CLI_ID).public_key()]));
    skychat_smol::spawn(confirm_all(node.clone()));
    let addr = smol::block_on(node.listen("127.0.0.1:0".parse().unwrap())).expect("listen");
    let via = format!("tcp://{}@{addr}", node.public_key().to_hex());
    let sk = hex::encode(secret(CLI_ID).to_bytes());
    let exe = std::env::current_exe().expect("current exe");
    let time = |command: &mut Command| {
        let started = Instant::now();
        let status = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("start");
        let elapsed = started.elapsed();
        assert!(status.success(), "{command:?} failed: {status}");
        elapsed.as_secs_f64() * 1000.0
    };
    let (b, s) = interleave(
        rounds,
        || time(Command::new(&exe).args(["__connect", &addr.to_string()])),
        || {
            time(Command::new(&skychat).args([
                "send", "--via", &via, "--sk", &sk, "-m", "hello", "--wait", "8s",
            ]))
        },
    );
    smol::block_on(node.shutdown());
    vec![Row::new(
        "7. skychat send --via --wait (vs TCP connect process)",
        s,
        b,
        "ms",
        Goal::AtMost(20.0),
    )]
}

/// The `skychat` binary of the same profile as this program, built if missing.
fn skychat_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe dir");
    let path = dir.join("skychat");
    let release = dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "-q", "-p", "skychat", "--bin", "skychat"]);
    if release {
        build.arg("--release");
    }
    // Always ask cargo: it rebuilds only if the sources changed since the last build.
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "building skychat failed");
    assert!(path.exists(), "no skychat binary at {}", path.display());
    path
}
