//! The tools that talk to the local node, through the real binaries: `alias`, `send --to` by
//! alias, `history`, `peers` and `status` (readable and `--json`), `--flag=value` forms, help and
//! `--version`, `skywire cli skychat` alone, and the errors: a node that is not running, a value
//! the node refuses, a bad flag, each pointing at what to fix; and the banner's web page line.

mod support;

use std::time::Duration;

use serde_json::Value;

use support::binaries::{SKYCHAT, SKYWIRE};
use support::command::{Outcome, run};
use support::node::{Args, Node, keygen};
use support::pair::pair;

/// Limit for a tool run.
const TOOL_LIMIT: Duration = Duration::from_secs(20);

fn tool(args: &[&str]) -> Outcome {
    run(SKYCHAT, args, &[], TOOL_LIMIT)
}

fn ok(out: Outcome) -> String {
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(!out.stderr.contains("panicked"), "{out:?}");
    out.stdout
}

fn json(out: Outcome) -> Value {
    serde_json::from_str(&ok(out)).expect("the tool printed JSON")
}

fn usage_error(out: &Outcome, needle: &str, help: &str) {
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains(needle), "{out:?}");
    assert!(out.stderr.contains(help), "{out:?}");
}

#[test]
fn aliases_name_peers_in_every_tool_that_talks_to_the_node() {
    let p = pair(&[], &[]);
    let b = p.b.http.to_string();
    let a_pk = p.a_keys.pk.as_str();
    let addr_flag = format!("--addr={b}");

    let named = ok(tool(&["alias", a_pk, "alice", &addr_flag]));
    assert_eq!(named.trim(), format!("{a_pk} is now called alice"));

    let sent = ok(tool(&[
        "send", "--to", "Alice", "-m", "hi alice", "--addr", &b,
    ]));
    assert!(sent.starts_with("Acked by Alice in "), "{sent}");
    // `--flag=value` splits at the first `=` only, and never inside another option's value.
    ok(tool(&["send", "--to=alice", "--msg=a=b", &addr_flag]));
    ok(tool(&[
        "send",
        "--to",
        "alice",
        "-m",
        "--limit=5",
        &addr_flag,
    ]));
    assert_eq!(
        p.a.received_from(&p.b_keys.pk),
        ["hi alice", "a=b", "--limit=5"]
    );

    let history = ok(tool(&[
        "history",
        "--peer=alice",
        "--limit",
        "2",
        &addr_flag,
    ]));
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 2, "{history}");
    for (line, text) in lines.iter().zip(["a=b", "--limit=5"]) {
        assert!(line.contains(" -> alice "), "{line}");
        assert!(line.contains(" acked "), "{line}");
        assert!(line.ends_with(text), "{line}");
    }
    let on_a = ok(tool(&["history", "--addr", &p.a.http.to_string()]));
    let short = format!(" <- {}…", &p.b_keys.pk[..8]);
    assert!(on_a.lines().all(|l| l.contains(&short)), "{on_a}");
    let all = json(tool(&["history", "--json", &addr_flag]));
    assert_eq!(all.as_array().map(Vec::len), Some(3), "{all:#}");
    assert_eq!(all[0]["message"], "hi alice");

    let peers = ok(tool(&["peers", &addr_flag]));
    assert!(
        peers
            .lines()
            .any(|l| l.starts_with(a_pk) && l.contains(" alice ") && l.contains(" connected ")),
        "{peers}"
    );
    let listed = json(tool(&["peers", "--json", &addr_flag]));
    assert_eq!(listed[0]["pk"], a_pk);
    assert_eq!(listed[0]["alias"], "alice");

    let status = ok(tool(&["status", &addr_flag]));
    assert!(
        status.contains(&format!("node:      {} (standalone)", p.b_keys.pk)),
        "{status}"
    );
    assert!(
        status.contains(&format!("web page:  http://{b}/")),
        "{status}"
    );
    assert!(status.contains(" alice "), "{status}");
    let document = json(tool(&["status", "--json", &addr_flag]));
    assert_eq!(document["public_key"], p.b_keys.pk);

    // The Skywire spelling runs the same tools.
    let via_skywire = run(
        SKYWIRE,
        &["cli", "skychat", "peers", &addr_flag],
        &[],
        TOOL_LIMIT,
    );
    assert!(ok(via_skywire).contains(" alice "));

    let cleared = ok(tool(&["alias", "alice", "--clear", &addr_flag]));
    assert_eq!(cleared.trim(), "alice has no alias now");
    let listed = json(tool(&["peers", "--json", &addr_flag]));
    assert_eq!(listed[0]["alias"], Value::Null);
    usage_error(
        &tool(&["send", "--to", "alice", "-m", "x", &addr_flag]),
        "no peer key or alias \"alice\"; set one with PUT /peers/<pk>/alias",
        "run `skychat send --help`",
    );
    usage_error(
        &tool(&["alias", a_pk, &p.b_keys.pk, &addr_flag]),
        "an alias must not look like one",
        "run `skychat alias --help`",
    );
}

#[test]
fn tool_errors_name_the_fix_and_help_and_version_answer_without_a_node() {
    let dir = tempfile::TempDir::new().expect("scratch dir");
    let keys = keygen(dir.path(), "lone");
    let node = Node::start(&Args::new(dir.path()).dialer(&keys, "lone-data", &[], &[]));
    let addr = node.http.to_string();
    // The banner names the web page, and the page is there.
    assert!(
        node.stdout()
            .contains(&format!("\n  web page:    http://{addr}/\n")),
        "{}",
        node.stdout()
    );
    let page = node.get("/");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );

    // Nothing listens on a port just freed.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed = free.local_addr().unwrap().to_string();
    drop(free);
    for command in ["history", "status", "peers"] {
        let out = tool(&[command, "--addr", &closed]);
        assert_eq!(out.code, Some(1), "{out:?}");
        assert!(
            out.stderr
                .contains(&format!("cannot reach the local node at {closed}")),
            "{out:?}"
        );
        assert!(out.stderr.contains("--addr"), "{out:?}");
    }

    usage_error(
        &tool(&["history", "--limit", "0", "--addr", &addr]),
        "invalid limit: use a whole number from 1 to 1000",
        "run `skychat history --help` for its flags",
    );
    usage_error(
        &tool(&["history", "--peer", "nobody", "--addr", &addr]),
        "no peer key or alias \"nobody\"",
        "run `skychat history --help`",
    );
    usage_error(
        &tool(&["history", "--colour", "red"]),
        "--colour",
        "Run `skychat history --help` for its flags.",
    );
    usage_error(
        &tool(&["alias", &keys.pk]),
        "give the peer's new <name>, or --clear",
        "run `skychat alias --help`",
    );
    usage_error(
        &tool(&["alias", &keys.pk, "x", "--clear"]),
        "not both",
        "run `skychat alias --help`",
    );

    for help in [
        vec!["-h"],
        vec!["--help"],
        vec!["history", "-h"],
        vec!["alias", "--help"],
    ] {
        let out = ok(tool(&help));
        assert!(out.starts_with("Usage: skychat"), "{help:?}: {out}");
    }
    assert!(ok(tool(&["history", "-h"])).contains("--peer"));
    assert!(ok(tool(&["--help"])).contains("history"));
    assert_eq!(
        ok(tool(&["--version"])).trim(),
        format!("skychat {}", env!("CARGO_PKG_VERSION"))
    );

    // `skywire cli skychat` alone lists the tools instead of starting a node.
    let tools = ok(run(SKYWIRE, &["cli", "skychat"], &[], TOOL_LIMIT));
    for name in [
        "send", "history", "status", "peers", "alias", "keygen", "pk",
    ] {
        assert!(tools.contains(&format!("  {name} ")), "{name}: {tools}");
    }
    assert!(
        tools.contains("skywire cli skychat <command> --help"),
        "{tools}"
    );
    assert!(!tools.contains("public key:"), "no node started: {tools}");
}

#[test]
fn beyond_loopback_the_tools_need_the_token_file_and_show_the_page_at_loopback() {
    let dir = tempfile::TempDir::new().expect("scratch dir");
    let keys = keygen(dir.path(), "open");
    let data = dir.path().join("open-data");
    let node = Node::start(&[
        "--standalone".to_string(),
        "--addr".into(),
        "0.0.0.0:0".into(),
        "-c".into(),
        keys.file.clone(),
        "--data-dir".into(),
        data.to_string_lossy().into_owned(),
    ]);
    let addr = node.http.to_string();
    let page = format!("http://{addr}/");
    assert!(
        node.stdout().contains(&format!("  web page:    {page}\n")),
        "{}",
        node.stdout()
    );

    let refused = tool(&["peers", "--addr", &addr]);
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert!(refused.stderr.contains("pass --token-file"), "{refused:?}");

    let token_flag = format!("--token-file={}", data.join("http-token").display());
    let other = keygen(dir.path(), "other");
    ok(tool(&[
        "alias",
        &other.pk,
        "bob",
        "--addr",
        &addr,
        &token_flag,
    ]));
    let listed = json(tool(&["peers", "--json", "--addr", &addr, &token_flag]));
    assert_eq!(listed[0]["alias"], "bob", "{listed:#}");
    let status = ok(tool(&["status", "--addr", &addr, &token_flag]));
    assert!(status.contains(&format!("web page:  {page}\n")), "{status}");
}
