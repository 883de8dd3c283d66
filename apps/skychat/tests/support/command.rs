//! Runs the binaries: builds their command lines with a clean environment, and runs a one-shot
//! command (a tool such as `send`, `keygen` or `pk`, or a node expected to exit at once) to
//! completion within a deadline, capturing its exit code and output.

use std::ffi::OsStr;
use std::fmt::Debug;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a finished command did.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

/// `binary args…` with extra environment `env` (and `DMSGCURL_SK`, `PROC_CONFIG` and `RUST_LOG`
/// removed unless given), stdin closed and stdout and stderr piped.
pub fn command(binary: &str, args: &[impl AsRef<OsStr>], env: &[(&str, &str)]) -> Command {
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
    command
}

/// Runs [`command`]`(binary, args, env)` to completion, killing it if it outlives `limit`.
pub fn run(
    binary: &str,
    args: &[impl AsRef<OsStr> + Debug],
    env: &[(&str, &str)],
    limit: Duration,
) -> Outcome {
    let started = Instant::now();
    let mut child = command(binary, args, env)
        .spawn()
        .expect("spawn the binary");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{binary} {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        code: status.code(),
        elapsed: started.elapsed(),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}
