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
        ["__store_alone", count] => {
            // The store-alone baseline of the app scenario on its own, for profiling it.
            let count: usize = count.parse().expect("count");
            let started = crate::sys::cpu_time();
            use crate::scenarios::app_store::{SENDERS, STORE_BATCH};
            let rate = crate::store_alone::StorePair::open().rate(count, STORE_BATCH, SENDERS, 64);
            let cpu = crate::sys::cpu_time().saturating_sub(started);
            println!(
                "{rate:.0} msg/s, {:.2} us CPU per message",
                cpu.as_secs_f64() * 1e6 / count as f64
            );
        }
        ["__pipelined", size, count] => {
            // Scenario 1's system side alone on smol, for profiling it.
            let pair = crate::nodes::Pair::start(crate::nodes::Adapter::Smol, 100);
            let rate = pair.pipelined(count.parse().expect("count"), size.parse().expect("size"));
            println!("{rate:.0} msg/s");
            pair.stop();
        }
        ["__raw_pipelined", size, count] => {
            // Scenario 1's raw snow baseline alone, for comparing CPU time with `__pipelined`.
            let rate = crate::raw_noise::pipelined_throughput(
                count.parse().expect("count"),
                size.parse().expect("size"),
            );
            println!("{rate:.0} msg/s");
        }
        ["__connect", addr] => {
            std::net::TcpStream::connect(addr).expect("connect");
        }
        other => panic!("unknown child invocation {other:?}"),
    }
}
