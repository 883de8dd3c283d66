//! `skychat-bench`: runs the benchmark scenarios, each against a baseline measured in the same
//! run (interleaved rounds, medians), and prints a table of figure, baseline, ratio, goal, met.
//!
//! `skychat-bench all [--smoke]` runs every scenario; `skychat-bench messages rtt` runs some.
//! `--smoke` runs each one tiny: it checks that the bench works, not the figures.
//! Arguments starting with `__` are the bench's own child processes (see [`child`]).

mod app_nodes;
mod child;
mod http_load;
mod measure;
mod nodes;
mod ping;
mod raw_noise;
mod raw_skywire;
mod scenarios;
mod store_alone;
mod sys;
mod table;

use measure::{Row, Scale};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a.starts_with("__")) {
        child::run(&args);
        return;
    }
    let smoke = args.iter().any(|a| a == "--smoke");
    let mut names: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if names.is_empty() || names.contains(&"all") {
        names = scenarios::ALL.to_vec();
    }
    if let Some(unknown) = names.iter().find(|n| !scenarios::ALL.contains(n)) {
        eprintln!(
            "unknown scenario {unknown:?}; use `all` or some of: {}",
            scenarios::ALL.join(" ")
        );
        std::process::exit(2);
    }
    sys::raise_nofile_limit();
    let scale = Scale { smoke };
    let mut rows: Vec<Row> = Vec::new();
    for name in names {
        let started = std::time::Instant::now();
        eprintln!("running {name}{}", if smoke { " (smoke)" } else { "" });
        let new = match name {
            "messages" => scenarios::messages::run(scale),
            "app" => scenarios::app_store::run(scale),
            "rtt" => scenarios::rtt::run(scale),
            "handshakes" => scenarios::handshakes::run(scale),
            "memory" => scenarios::memory::run(scale),
            "http" => scenarios::http::run(scale),
            "cli" => scenarios::cli::run(scale),
            "skywire" => scenarios::skywire::run(scale),
            _ => unreachable!("checked above"),
        };
        for row in &new {
            assert!(
                row.figure.is_finite()
                    && row.figure > 0.0
                    && row.baseline.is_finite()
                    && row.baseline > 0.0,
                "scenario {name} gave an empty figure: {row:?}"
            );
        }
        eprint!("{}", table::render(&new, !smoke));
        eprintln!("{name} took {:.1} s", started.elapsed().as_secs_f64());
        rows.extend(new);
    }
    println!("{}", table::render(&rows, !smoke));
    if smoke {
        println!(
            "smoke run: every scenario ran once on a tiny sample; its figures are not judged \
             (run without --smoke to measure)"
        );
    }
}
