//! The bench's child processes: this same program started with a `__` argument. Scenarios that
//! pin CPUs or measure a process's memory run their work in a fresh child.

use std::process::{Command, Stdio};

use crate::measure::Scale;

/// Runs this program with `args` and returns its standard output; panics if it fails.
pub fn spawn_and_read(args: &[&str]) -> String {
    let exe = std::env::current_exe().expect("current exe");
    let args: Vec<&str> = args.iter().copied().filter(|a| !a.is_empty()).collect();
    let out = Command::new(exe)
        .args(&args)
        .stderr(Stdio::inherit())
        .output()
        .expect("start the child");
    assert!(
        out.status.success(),
        "child {args:?} failed: {}",
        out.status
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Dispatches a child invocation.
pub fn run(args: &[String]) {
    let scale = Scale {
        smoke: args.iter().any(|a| a == "--smoke"),
    };
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--smoke")
        .collect();
    crate::sys::raise_nofile_limit();
    match args.as_slice() {
        ["__rtt", placement] => crate::scenarios::rtt::child(*placement == "pinned", scale),
        ["__mem_listen", kind, count] => {
            crate::scenarios::memory::listener(kind, count.parse().expect("count"))
        }
        ["__mem_dial", kind, addr, key, count] => {
            crate::scenarios::memory::dialer(kind, addr, key, count.parse().expect("count"))
        }
        ["__connect", addr] => {
            std::net::TcpStream::connect(addr).expect("connect");
        }
        other => panic!("unknown child invocation {other:?}"),
    }
}
