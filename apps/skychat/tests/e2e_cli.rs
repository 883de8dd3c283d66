//! End-to-end tests of the real `skychat` and `skywire` binaries, following the operator guide:
//! the listener/dialer scenario in both spellings, every bad flag value, the ephemeral identity,
//! a restart of the listener while its peer keeps sending, graceful shutdown on SIGTERM and
//! SIGINT, and secrets kept out of logs and `/status`.
//!
//! Every node binds port 0 and the test reads the bound addresses from the node's banner; each
//! node has its own data dir in a scratch folder.

mod support;

use std::time::{Duration, Instant};

use support::binaries::{SKYCHAT, SKYWIRE};
use support::command::{self, Outcome};
use support::http::Response;
use support::node::{Node, connected, peer_entry};
use support::scratch::Scratch;

/// Limit for a one-shot command.
const COMMAND_LIMIT: Duration = Duration::from_secs(20);

/// Limit for a condition that should hold within a few round trips.
const SOON: Duration = Duration::from_secs(10);

/// How one spells the node and the tools: `skychat …` or `skywire app|cli skychat …`.
struct Spelling {
    binary: &'static str,
    node: &'static [&'static str],
    tool: &'static [&'static str],
}

impl Spelling {
    fn skychat() -> Self {
        Self {
            binary: SKYCHAT,
            node: &[],
            tool: &[],
        }
    }

    fn skywire() -> Self {
        Self {
            binary: SKYWIRE,
            node: &["app", "skychat"],
            tool: &["cli", "skychat"],
        }
    }

    fn node(&self, args: &[&str]) -> Node {
        self.node_env(args, &[])
    }

    fn node_env(&self, args: &[&str], env: &[(&str, &str)]) -> Node {
        let all: Vec<&str> = self.node.iter().chain(args).copied().collect();
        Node::spawn(self.binary, &all, env)
    }

    /// Runs a node command line that is expected to exit at once.
    fn node_exits(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let all: Vec<&str> = self.node.iter().chain(args).copied().collect();
        command::run(self.binary, &all, env, COMMAND_LIMIT)
    }

    fn tool(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let all: Vec<&str> = self.tool.iter().chain(args).copied().collect();
        command::run(self.binary, &all, env, COMMAND_LIMIT)
    }

    /// How a usage error of the tool `name` points at its help.
    fn help_hint(&self, name: &str) -> String {
        let program: Vec<&str> = std::iter::once(if self.tool.is_empty() {
            "skychat"
        } else {
            "skywire"
        })
        .chain(self.tool.iter().copied())
        .collect();
        format!(" (run `{} {name} --help` for its flags)", program.join(" "))
    }

    /// `keygen -o <dir>/<name>`; returns the file and the public key it printed.
    fn keygen(&self, dir: &Scratch, name: &str) -> (String, String) {
        let file = dir.join(name);
        let out = self.tool(&["keygen", "-o", &file], &[]);
        assert_eq!(out.code, Some(0), "keygen: {out:?}");
        let pk = out.stdout.trim().to_string();
        assert!(is_key_hex(&pk), "keygen printed {:?}", out.stdout);
        (file, pk)
    }
}

fn is_key_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The `sk` field of an identity file.
fn secret_of(file: &str) -> String {
    let text = std::fs::read_to_string(file).expect("read the identity file");
    let json: serde_json::Value = serde_json::from_str(&text).expect("identity JSON");
    json["sk"].as_str().expect("sk field").to_string()
}

/// Asserts a failed run: exit code, exact stderr, nothing on stdout.
fn assert_fails(out: &Outcome, code: i32, stderr: &str) {
    assert_eq!(out.code, Some(code), "{out:?}");
    assert_eq!(out.stderr, format!("{stderr}\n"), "{out:?}");
    assert_eq!(out.stdout, "", "{out:?}");
}

/// Asserts `Acked by <pk> in <N>ms (via tcp)` and exit 0.
fn assert_acked_line(out: &Outcome, pk: &str) {
    assert_eq!(out.code, Some(0), "{out:?}");
    let ms = out
        .stdout
        .strip_prefix(&format!("Acked by {pk} in "))
        .and_then(|rest| rest.strip_suffix("ms (via tcp)\n"))
        .unwrap_or_else(|| panic!("unexpected send output {:?}", out.stdout));
    assert!(
        !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit()),
        "{ms:?}"
    );
}

fn assert_acked(response: &Response) {
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json["acked"], true, "{response:?}");
}

/// The operator guide's scenario: A listens with B whitelisted, B dials A persistently; messages
/// flow both ways over B's connection, and a one-shot `send --via` round-trips.
fn guide_scenario(spelling: &Spelling) {
    let dir = Scratch::new();
    let (a_file, a_pk) = spelling.keygen(&dir, "a.json");
    let (b_file, b_pk) = spelling.keygen(&dir, "b.json");
    let pk = spelling.tool(&["pk", "-c", &a_file], &[]);
    assert_eq!((pk.code, pk.stdout.trim()), (Some(0), a_pk.as_str()));

    let a = spelling.node(&[
        "--standalone",
        "--addr",
        ":0",
        "--tcp-listen",
        ":0",
        "--tcp-whitelist",
        &b_pk,
        "-c",
        &a_file,
        "--data-dir",
        &dir.join("a-data"),
    ]);
    assert_eq!(a.pk, a_pk);
    assert!(
        a.http_bound().ip().is_loopback(),
        "--addr :0 binds loopback"
    );
    let listen = a.tcp_listen.expect("A listens");
    assert!(listen.ip().is_unspecified(), "--tcp-listen :0 binds all");
    let a_url = format!("tcp://{a_pk}@127.0.0.1:{}", listen.port());

    let b = spelling.node(&[
        "--standalone",
        "--addr",
        ":0",
        "--tcp-peer",
        &a_url,
        "-c",
        &b_file,
        "--data-dir",
        &dir.join("b-data"),
    ]);
    assert_eq!(b.pk, b_pk);
    let status = b.wait_status("B connected to A", SOON, |s| connected(s, &a_pk));
    assert_eq!(status["mode"], "standalone");
    assert_eq!(peer_entry(&status, &a_pk).unwrap()["persistent"], true);
    let status = a.wait_status("A sees B inbound", SOON, |s| connected(s, &b_pk));
    assert_eq!(peer_entry(&status, &b_pk).unwrap()["inbound"], true);
    assert_eq!(status["whitelist"], serde_json::json!([b_pk]));

    assert_acked(&b.send(&a_pk, "hello A", Some(8000)));
    // A has no route to B but B's own connection: this is the inbound direction.
    assert_acked(&a.send(&b_pk, "hello B", Some(8000)));
    assert_eq!(a.received_from(&b_pk), ["hello A"]);
    assert_eq!(b.received_from(&a_pk), ["hello B"]);

    let send = spelling.tool(
        &[
            "send", "--via", &a_url, "-c", &b_file, "--wait", "8s", "-m", "ping",
        ],
        &[],
    );
    assert_acked_line(&send, &a_pk);
    assert_eq!(a.received_from(&b_pk), ["hello A", "ping"]);

    // After the one-shot session, the persistent link still carries A's messages to B.
    assert_acked(&a.send(&b_pk, "still there", Some(8000)));
    assert_eq!(b.received_from(&a_pk), ["hello B", "still there"]);
}

#[test]
fn guide_scenario_with_skychat() {
    guide_scenario(&Spelling::skychat());
}

#[test]
fn guide_scenario_with_skywire() {
    guide_scenario(&Spelling::skywire());
    let out = command::run(SKYWIRE, &["visor", "skychat"], &[], COMMAND_LIMIT);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr
            .starts_with("error: unknown command \"visor skychat\"")
    );
}

#[test]
fn bad_flag_values_fail_with_a_precise_message() {
    let sp = Spelling::skychat();
    let dir = Scratch::new();
    let (a_file, a_pk) = sp.keygen(&dir, "a.json");
    let secret = secret_of(&a_file);
    let node = |args: &[&str]| {
        let mut all = vec!["--standalone", "--addr", ":0"];
        all.extend_from_slice(args);
        sp.node_exits(&all, &[])
    };

    let not_hex = "zz".repeat(32);
    assert_fails(
        &node(&["--sk", &not_hex]),
        2,
        "error: --sk: not valid hex (expected only 0-9 and a-f)",
    );
    let short = &secret[..63];
    let out = node(&["--sk", short]);
    assert_fails(
        &out,
        2,
        "error: --sk: expected 64 hex characters (a 32-byte key), found 63",
    );
    assert!(!out.stderr.contains(short), "the bad key is not echoed");

    // A malformed DMSGCURL_SK is an error even when -c would have worked.
    let env_bad = [("DMSGCURL_SK", "abc")];
    let out = sp.node_exits(&["--standalone", "--addr", ":0", "-c", &a_file], &env_bad);
    assert_fails(
        &out,
        2,
        "error: DMSGCURL_SK: expected 64 hex characters (a 32-byte key), found 3",
    );
    let out = sp.tool(&["pk", "-c", &a_file], &env_bad);
    assert_fails(
        &out,
        2,
        &format!(
            "error: DMSGCURL_SK: expected 64 hex characters (a 32-byte key), found 3{}",
            sp.help_hint("pk")
        ),
    );
    // The order is --sk, DMSGCURL_SK, -c: a good DMSGCURL_SK wins over -c.
    let (_, b_pk) = sp.keygen(&dir, "b.json");
    let b_secret = secret_of(&dir.join("b.json"));
    let out = sp.tool(&["pk", "-c", &a_file], &[("DMSGCURL_SK", &b_secret)]);
    assert_eq!((out.code, out.stdout.trim()), (Some(0), b_pk.as_str()));
    let out = sp.tool(&["pk", "--sk", &secret], &[("DMSGCURL_SK", &b_secret)]);
    assert_eq!((out.code, out.stdout.trim()), (Some(0), a_pk.as_str()));

    let missing = dir.join("missing.json");
    assert_fails(
        &node(&["-c", &missing]),
        2,
        &format!("error: -c {missing}: cannot read: No such file or directory (os error 2)"),
    );
    let invalid = dir.join("invalid.json");
    std::fs::write(&invalid, "{\"sk\": ").unwrap();
    let out = node(&["-c", &invalid]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr
            .starts_with(&format!("error: -c {invalid}: not valid JSON: ")),
        "{out:?}"
    );
    let no_sk = dir.join("no-sk.json");
    std::fs::write(&no_sk, format!("{{\"pk\": \"{a_pk}\"}}")).unwrap();
    assert_fails(
        &node(&["-c", &no_sk]),
        2,
        &format!("error: -c {no_sk}: has no \"sk\" field"),
    );

    let peer_cases = [
        (
            format!("{a_pk}@127.0.0.1:8801"),
            format!("must start with \"tcp://\": \"{a_pk}@127.0.0.1:8801\""),
        ),
        (
            format!("tcp://{a_pk}"),
            format!("missing @ separator in \"tcp://{a_pk}\""),
        ),
        (
            "tcp://abc@127.0.0.1:8801".to_string(),
            "invalid pk in \"tcp://abc@127.0.0.1:8801\": expected 64 hex characters (a native \
             X25519 key) or 66 (a Skywire key), found 3"
                .to_string(),
        ),
        (
            format!("tcp://{a_pk}@127.0.0.1"),
            format!("invalid host:port in \"tcp://{a_pk}@127.0.0.1\": missing port"),
        ),
        (
            format!("tcp://{a_pk}@127.0.0.1:99999"),
            format!("invalid host:port in \"tcp://{a_pk}@127.0.0.1:99999\""),
        ),
        (
            format!("tcp://{a_pk}@:8801"),
            format!("invalid host:port in \"tcp://{a_pk}@:8801\""),
        ),
    ];
    for (spec, reason) in &peer_cases {
        assert_fails(
            &node(&["--sk", &secret, "--tcp-peer", spec]),
            2,
            &format!("error: --tcp-peer: {reason}"),
        );
    }

    let whitelist = format!("{a_pk},zz");
    assert_fails(
        &node(&[
            "--sk",
            &secret,
            "--tcp-listen",
            "127.0.0.1:0",
            "--tcp-whitelist",
            &whitelist,
        ]),
        2,
        "error: --tcp-whitelist: entry 2 (\"zz\"): expected 64 hex characters (a native X25519 \
         key) or 66 (a Skywire key), found 2",
    );
    assert_fails(
        &node(&["--sk", &secret, "--tcp-listen", "127.0.0.1:0"]),
        2,
        "error: --tcp-listen requires --tcp-whitelist: the comma-separated public keys allowed \
         to connect (--tcp-whitelist \"\" starts with nobody allowed)",
    );
    let no_visor = "error: no parent visor: PROC_CONFIG is not set. To run without a visor, add \
                    --standalone (TCP-direct and the HTTP surface only)";
    assert_fails(&sp.node_exits(&["-c", &a_file], &[]), 2, no_visor);
    assert_fails(
        &Spelling::skywire().node_exits(&["-c", &a_file], &[]),
        2,
        no_visor,
    );
    let out = node(&["--sk", &secret, "--log-level", "loud"]);
    assert_fails(
        &out,
        2,
        "error: --log-level: unknown log level \"loud\" (use error, warn, info, debug, trace or \
         off)",
    );

    let via = format!("tcp://{a_pk}@127.0.0.1:9");
    assert_fails(
        &sp.tool(&["send", "--via", &via, "-m", "x"], &[]),
        2,
        &format!(
            "error: --via tcp requires identity: set --sk, DMSGCURL_SK env, or -c \
             skywire-config.json{}",
            sp.help_hint("send")
        ),
    );

    // keygen never overwrites, and writes a file only its owner can read.
    let before = std::fs::read_to_string(&a_file).unwrap();
    let out = sp.tool(&["keygen", "-o", &a_file], &[]);
    assert_fails(
        &out,
        1,
        &format!("error: {a_file} already exists; refusing to overwrite an identity"),
    );
    assert_eq!(std::fs::read_to_string(&a_file).unwrap(), before);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&a_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "keygen file mode {mode:o}");
}

/// A listener with an explicitly empty whitelist starts, warns, and rejects everyone; a wrong
/// pinned key fails the handshake; a listener that never answers is bounded by `--wait`.
#[test]
fn send_via_failures_name_the_reason() {
    let sp = Spelling::skychat();
    let dir = Scratch::new();
    let (e_file, e_pk) = sp.keygen(&dir, "e.json");
    let (b_file, b_pk) = sp.keygen(&dir, "b.json");
    let e = sp.node(&[
        "--standalone",
        "--addr",
        ":0",
        "--tcp-listen",
        "127.0.0.1:0",
        "--tcp-whitelist",
        "",
        "-c",
        &e_file,
        "--data-dir",
        &dir.join("e-data"),
    ]);
    assert!(
        e.stderr()
            .contains("--tcp-whitelist is empty: every inbound connection will be rejected"),
        "{}",
        e.stderr()
    );
    assert_eq!(e.status()["whitelist"], serde_json::json!([]));

    let out = sp.tool(
        &[
            "send",
            "--via",
            &e.tcp_url(),
            "-c",
            &b_file,
            "--wait",
            "1s",
            "-m",
            "let me in",
        ],
        &[],
    );
    assert_fails(
        &out,
        1,
        &format!(
            "error: send to {e_pk} via tcp not acked: connection closed: the peer rejected us: \
             our key is not on its whitelist"
        ),
    );
    e.wait_status("E counts the rejection", SOON, |s| {
        s["counters"]["rejected"].as_u64() >= Some(1)
            && s["refused"]["not_whitelisted"].as_u64() >= Some(1)
    });
    // One summary line from the driver, not a line per stranger.
    e.wait_stderr("refused 1 inbound connection in the last", SOON);
    e.wait_stderr("(not whitelisted: 1)", SOON);
    assert!(e.history(&b_pk).is_empty(), "nothing from B was stored");

    // Pinning the wrong key: the Noise XK handshake fails and says why.
    let addr = e.tcp_listen.unwrap();
    let wrong = format!("tcp://{b_pk}@{addr}");
    let out = sp.tool(
        &[
            "send", "--via", &wrong, "-c", &b_file, "--wait", "1s", "-m", "x",
        ],
        &[],
    );
    assert_fails(
        &out,
        1,
        "error: handshake failed: the peer closed the connection during the handshake (wrong \
         public key in the address, or not a skychat node)",
    );

    // A TCP listener that never speaks: the kernel completes the connect, nothing answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let url = format!("tcp://{e_pk}@{silent_addr}");
    let out = sp.tool(
        &[
            "send", "--via", &url, "-c", &b_file, "--wait", "1s", "-m", "x",
        ],
        &[],
    );
    assert_fails(
        &out,
        1,
        &format!(
            "error: send to {e_pk} via tcp not acked: the handshake with {silent_addr} did not \
             complete within 1s"
        ),
    );
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
    drop(silent);
}

#[test]
fn standalone_without_identity_uses_an_ephemeral_key_and_says_so() {
    let sp = Spelling::skychat();
    let dir = Scratch::new();
    let mut keys = Vec::new();
    for run in ["one", "two"] {
        let node = sp.node(&["--standalone", "--addr", ":0", "--data-dir", &dir.join(run)]);
        let stderr = node.stderr();
        assert!(
            stderr.contains(
                "NO IDENTITY GIVEN: using an EPHEMERAL key that CHANGES AT EVERY RESTART."
            ),
            "{stderr}"
        );
        assert!(stderr.contains("(source: ephemeral)"), "{stderr}");
        assert!(is_key_hex(&node.pk), "{}", node.pk);
        let status = node.status();
        assert_eq!(status["public_key"], node.pk.as_str());
        assert_eq!(status["tcp_listen"], serde_json::Value::Null);
        keys.push(node.pk.clone());
    }
    assert_ne!(keys[0], keys[1], "an ephemeral key changes at every start");
}

/// A's listener is killed outright while B keeps sending; messages B sends while A is down are
/// queued (202); A restarts with the same key and data dir; every message arrives exactly once,
/// in order, and B counts each acked.
#[test]
fn restart_of_the_listener_loses_and_duplicates_nothing() {
    let sp = Spelling::skychat();
    let dir = Scratch::new();
    let (a_file, a_pk) = sp.keygen(&dir, "a.json");
    let (b_file, b_pk) = sp.keygen(&dir, "b.json");
    let a_data = dir.join("a-data");
    let start_a = |listen: &str| {
        sp.node(&[
            "--standalone",
            "--addr",
            ":0",
            "--tcp-listen",
            listen,
            "--tcp-whitelist",
            &b_pk,
            "-c",
            &a_file,
            "--data-dir",
            &a_data,
        ])
    };
    let mut a = start_a("127.0.0.1:0");
    let listen = a.tcp_listen.unwrap();
    let b = sp.node(&[
        "--standalone",
        "--addr",
        ":0",
        "--tcp-peer",
        &a.tcp_url(),
        "-c",
        &b_file,
        "--data-dir",
        &dir.join("b-data"),
    ]);
    b.wait_status("B connected to A", SOON, |s| connected(s, &a_pk));

    let mut expected = Vec::new();
    for i in 0..3 {
        let body = format!("before {i}");
        assert_acked(&b.send(&a_pk, &body, Some(8000)));
        expected.push(body);
    }
    // A burst without waiting for acks, then A dies mid-flight: some of these may be stored by A
    // without B having seen the ack, and B resends them after the restart.
    for i in 0..20 {
        let body = format!("burst {i}");
        let response = b.send(&a_pk, &body, None);
        assert!([200, 202].contains(&response.status), "{response:?}");
        expected.push(body);
    }
    a.signal("KILL");
    a.wait_exit(SOON);
    b.wait_status("B sees A gone", SOON, |s| !connected(s, &a_pk));

    for i in 0..5 {
        let body = format!("while down {i}");
        let response = b.send(&a_pk, &body, Some(2000));
        assert_eq!(response.status, 202, "{response:?}");
        assert_eq!(response.json["queued"], true, "{response:?}");
        expected.push(body);
    }
    let status = b.status();
    assert!(
        status["counters"]["queued"].as_u64() >= Some(5),
        "{status:#}"
    );

    let a = start_a(&listen.to_string());
    assert_eq!(a.tcp_listen, Some(listen));
    let total = expected.len() as u64;
    let status = b.wait_status("B has every message acked", Duration::from_secs(30), |s| {
        s["counters"]["queued"] == 0 && s["counters"]["acked"].as_u64() >= Some(total)
    });
    assert_eq!(status["counters"]["out"], total, "{status:#}");
    assert_eq!(
        status["counters"]["acked"], total,
        "acked once each: {status:#}"
    );
    assert_eq!(a.received_from(&b_pk), expected);
    let b_history = b.history(&a_pk);
    assert_eq!(b_history.len(), expected.len());
    assert!(
        b_history.iter().all(|m| m["status"] == "acked"),
        "{b_history:#?}"
    );

    // And it keeps working after the restart, in both directions.
    assert_acked(&b.send(&a_pk, "after", Some(8000)));
    expected.push("after".to_string());
    assert_acked(&a.send(&b_pk, "back", Some(8000)));

    // A graceful restart: stopped with SIGTERM, the same holds.
    let mut a = a;
    a.signal("TERM");
    assert_eq!(a.wait_exit(SOON).code(), Some(0));
    b.wait_status("B sees A stop", SOON, |s| !connected(s, &a_pk));
    for i in 0..3 {
        let body = format!("while stopped {i}");
        assert_eq!(b.send(&a_pk, &body, None).status, 202);
        expected.push(body);
    }
    let a = start_a(&listen.to_string());
    let total = expected.len() as u64;
    b.wait_status("B has every message acked", Duration::from_secs(30), |s| {
        s["counters"]["queued"] == 0 && s["counters"]["acked"].as_u64() >= Some(total)
    });
    assert_eq!(a.received_from(&b_pk), expected);
    assert_eq!(b.status()["counters"]["acked"], total);
}

/// SIGTERM and SIGINT stop a node with exit code 0 and close its sessions, so the peer sees the
/// disconnect at once rather than after its idle timeout (30 s).
#[test]
fn sigterm_and_sigint_shut_down_gracefully() {
    let sp = Spelling::skychat();
    let dir = Scratch::new();
    let (a_file, a_pk) = sp.keygen(&dir, "a.json");
    let (b_file, b_pk) = sp.keygen(&dir, "b.json");
    let a = sp.node(&[
        "--standalone",
        "--addr",
        ":0",
        "--tcp-listen",
        "127.0.0.1:0",
        "--tcp-whitelist",
        &b_pk,
        "-c",
        &a_file,
        "--data-dir",
        &dir.join("a-data"),
    ]);
    let start_b = || {
        sp.node(&[
            "--standalone",
            "--addr",
            ":0",
            "--tcp-peer",
            &a.tcp_url(),
            "-c",
            &b_file,
            "--data-dir",
            &dir.join("b-data"),
        ])
    };
    let prompt = Duration::from_secs(3);

    let mut b = start_b();
    a.wait_status("A sees B", SOON, |s| connected(s, &b_pk));
    assert_acked(&b.send(&a_pk, "hi", Some(8000)));
    let signalled = Instant::now();
    b.signal("INT");
    let exit = b.wait_exit(SOON);
    assert_eq!(exit.code(), Some(0), "SIGINT: {exit:?}\n{}", b.stderr());
    assert!(b.stderr().contains("stopped"), "{}", b.stderr());
    a.wait_status("A sees B close", prompt, |s| !connected(s, &b_pk));
    assert!(signalled.elapsed() < prompt);
    drop(b);

    let mut b = start_b();
    b.wait_status("B reconnects", SOON, |s| connected(s, &a_pk));
    let mut a = a;
    let signalled = Instant::now();
    a.signal("TERM");
    let exit = a.wait_exit(SOON);
    assert_eq!(exit.code(), Some(0), "SIGTERM: {exit:?}\n{}", a.stderr());
    b.wait_status("B sees A close", prompt, |s| !connected(s, &a_pk));
    assert!(signalled.elapsed() < prompt);
    b.wait_stderr("the peer closed the session (Normal)", SOON);
    // A node whose only peer is gone, between reconnect attempts, stops just as cleanly.
    b.signal("TERM");
    let exit = b.wait_exit(SOON);
    assert_eq!(exit.code(), Some(0), "SIGTERM: {exit:?}\n{}", b.stderr());
}

/// A secret given with `--sk` (node) or `--sk` and `DMSGCURL_SK` (one-shot sender) never shows up
/// in stdout, stderr at trace level, or `/status`.
#[test]
fn secrets_never_appear_in_logs_or_status() {
    let sp = Spelling::skychat();
    let dir = Scratch::new();
    let (a_file, a_pk) = sp.keygen(&dir, "a.json");
    let (b_file, b_pk) = sp.keygen(&dir, "b.json");
    let a_secret = secret_of(&a_file);
    let b_secret = secret_of(&b_file);
    std::fs::remove_file(&a_file).unwrap();
    let trace = [("RUST_LOG", "trace")];
    let a = sp.node_env(
        &[
            "--standalone",
            "--addr",
            ":0",
            "--tcp-listen",
            "127.0.0.1:0",
            "--tcp-whitelist",
            &b_pk,
            "--sk",
            &a_secret,
            "--data-dir",
            &dir.join("a-data"),
        ],
        &trace,
    );
    assert_eq!(a.pk, a_pk);
    let via = sp.tool(
        &[
            "send",
            "--via",
            &a.tcp_url(),
            "--sk",
            &b_secret,
            "--wait",
            "8s",
            "-m",
            "secret?",
        ],
        &trace,
    );
    assert_acked_line(&via, &a_pk);
    let env_sk = [("RUST_LOG", "trace"), ("DMSGCURL_SK", b_secret.as_str())];
    let via_env = sp.tool(
        &["send", "--via", &a.tcp_url(), "--wait", "8s", "-m", "env"],
        &env_sk,
    );
    assert_acked_line(&via_env, &a_pk);
    assert_eq!(a.received_from(&b_pk), ["secret?", "env"]);
    let queued = a.send(&b_pk, "queued for B", Some(500));
    assert_eq!(queued.status, 202, "{queued:?}");

    let a_stderr = a.stderr();
    assert!(
        a_stderr.contains(" DEBUG ") && a_stderr.contains(&format!("identity pk={a_pk}")),
        "RUST_LOG=trace took effect: {a_stderr}"
    );
    let surfaces = [
        ("A stdout", a.stdout()),
        ("A stderr", a_stderr),
        ("A /status", a.status().to_string()),
        (
            "A /history",
            serde_json::Value::Array(a.history(&b_pk)).to_string(),
        ),
        ("send --sk stdout", via.stdout),
        ("send --sk stderr", via.stderr),
        ("send DMSGCURL_SK stdout", via_env.stdout),
        ("send DMSGCURL_SK stderr", via_env.stderr),
    ];
    for secret in [&a_secret, &b_secret] {
        let upper = secret.to_uppercase();
        let bytes = hex_bytes(secret);
        let debug_form = format!("{bytes:?}");
        for (what, text) in &surfaces {
            assert!(!text.contains(secret.as_str()), "{what} holds a secret");
            assert!(!text.contains(&upper), "{what} holds a secret (upper case)");
            assert!(!text.contains(&debug_form), "{what} holds a secret (bytes)");
        }
    }
}

fn hex_bytes(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}
