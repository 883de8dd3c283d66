//! The /pair routes through the real binary: in standalone mode and in embedded mode without
//! `--pair-enable` they answer 503 saying so; with it they call the visor's RPC at
//! `--pair-rpc`, here a test double that speaks real gob `net/rpc` bytes (the visor crate's
//! `ApiServer`), and answer 503 with the reason when nothing listens there or when the visor
//! has no pair methods (as a 2024 visor answers), 503 or 502 with their own reasons when its
//! pairing is off or its bytes are not gob, and the visor's reply as JSON when it has the
//! methods. The double records every call, so the tests also check what reached the visor.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::json;
use skychat_visor::visor_api::{
    self, ApiCall, ApiReply, ApiResult, ApiServer, IncomingApiCall, PairInfo, PairMessage,
};
use skychat_visor::{GoTime, PubKey, Zone};
use skychat_visor_link::fake_visor::FakeVisors;
use support::binaries::SKYCHAT;
use support::http::Response;
use support::node::{Args, Node, keygen};
use support::scratch::Scratch;
use support::visor::{launch, skywire_pk};

/// How the double behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Visor {
    /// A visor without pair-RPC: every pair method is unknown (as in the 2024 visors).
    Without,
    /// A visor with pair-RPC that closes the connection after every answer.
    WithClosing,
    /// A visor with pair-RPC keeping the connection.
    With,
    /// A visor whose pairing manager is off.
    PairingOff,
    /// Something that answers bytes that are not gob.
    Garbage,
}

/// A visor RPC double on 127.0.0.1: one thread per connection, each call answered as `kind`
/// says. Returns its address and the calls it has read.
fn visor_double(kind: Visor) -> (SocketAddr, Arc<Mutex<Vec<IncomingApiCall>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the double");
    let addr = listener.local_addr().expect("its address");
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let seen = seen.clone();
            std::thread::spawn(move || serve(stream, kind, &seen));
        }
    });
    (addr, calls)
}

fn serve(mut stream: TcpStream, kind: Visor, seen: &Mutex<Vec<IncomingApiCall>>) {
    let mut server = ApiServer::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if kind == Visor::Garbage {
            // One message of three bytes that is no gob type definition or value.
            let _ = stream.write_all(&[3, 0xff, 0xff, 0xff]);
            continue;
        }
        server.push(&buf[..n]);
        while let Some(call) = server.poll().expect("the node sends gob net/rpc") {
            let result = answer(kind, &call);
            seen.lock().expect("calls").push(call.clone());
            if stream.write_all(&server.reply(&call, &result)).is_err() {
                return;
            }
            if kind == Visor::WithClosing {
                return;
            }
        }
    }
}

fn key(byte: u8) -> PubKey {
    let mut k = [byte; 33];
    k[0] = 3;
    PubKey(k)
}

fn when() -> GoTime {
    // 2026-12-02T10:00:00.25Z
    GoTime::from_unix(1_796_205_600, 250_000_000, Zone::Utc)
}

fn answer(kind: Visor, call: &IncomingApiCall) -> ApiResult {
    match kind {
        Visor::Without => return Err(visor_api::missing_method_error(&call.service_method)),
        Visor::PairingOff => return Err("pairing: manager not initialized".to_string()),
        _ => {}
    }
    match call.call.as_ref().expect("a pair call") {
        ApiCall::PairList => Ok(ApiReply::Pairs(vec![PairInfo {
            peer_pk: key(0xab),
            status: "active".into(),
            port: 49_321,
            established_at: when(),
            last_message_at: GoTime::default(),
        }])),
        ApiCall::PairPoll(_) => Ok(ApiReply::Messages(
            (1..=3)
                .map(|i| PairMessage {
                    peer_pk: key(0xab),
                    text: format!("m{i}"),
                    ts: GoTime::from_unix(1_796_205_600 + i, 0, Zone::Utc),
                    ..PairMessage::default()
                })
                .collect(),
        )),
        ApiCall::PairSend(req) if req.text == "fail" => {
            Err("pairing: no live pair for peer".to_string())
        }
        ApiCall::PairSend(_) => Ok(ApiReply::Sent(Some("1796205600000000000-0".into()))),
        ApiCall::PairAdd(_) | ApiCall::PairRemove(_) | ApiCall::PairMarkActive(_) => {
            Ok(ApiReply::Done)
        }
    }
}

/// An embedded-mode node with `extra` flags, under the app-server test double (which serves
/// on its own threads for the rest of the test).
fn embedded(scratch: &Scratch, extra: &[&str]) -> Node {
    let keys = keygen(scratch.path(), "node");
    let work = scratch.join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    let visors = FakeVisors::start().expect("the app-server double");
    let proc_config = launch(&visors, &skywire_pk(&keys), 7, &work).proc_config;
    let mut args = vec!["--addr", "127.0.0.1:0", "-c", keys.file.as_str()];
    args.extend_from_slice(extra);
    Node::spawn(SKYCHAT, &args, &[("PROC_CONFIG", proc_config.as_str())])
}

/// Asserts a 503 with `reason`; returns the error text.
fn assert_unavailable(response: &Response, reason: &str) -> String {
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.json["reason"], reason, "{response:?}");
    response.json["error"]
        .as_str()
        .expect("an error text")
        .to_string()
}

/// A port nothing listens on (bound, noted, closed).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[test]
fn standalone_keeps_the_pair_routes_at_503() {
    let scratch = Scratch::new();
    let keys = keygen(scratch.path(), "node");
    let args = Args::new(scratch.path()).dialer(&keys, "node", &[], &["--pair-enable"]);
    let node = Node::start(&args);
    let text = node.get("/pair").assert_error(503);
    assert!(text.contains("runs standalone"), "{text}");
    node.wait_stderr(
        "--pair-enable has no effect with --standalone",
        std::time::Duration::from_secs(5),
    );
}

#[test]
fn embedded_without_pair_enable_says_how_to_turn_it_on() {
    let scratch = Scratch::new();
    let node = embedded(&scratch, &[]);
    assert_eq!(node.status()["pairing_enabled"], false);
    for (method, path) in [
        ("GET", "/pair"),
        ("POST", "/pair/x/message"),
        ("GET", "/pair/inbox"),
    ] {
        let response = node.request(method, path, &[], b"{}");
        let text = assert_unavailable(&response, "pair-rpc-disabled");
        assert!(
            text.contains("--pair-enable") && text.contains(path),
            "{text}"
        );
    }
}

#[test]
fn an_unreachable_visor_is_503_visor_rpc_unreachable() {
    let scratch = Scratch::new();
    let addr = format!("127.0.0.1:{}", free_port());
    let node = embedded(&scratch, &["--pair-enable", "--pair-rpc", &addr]);
    let text = assert_unavailable(&node.get("/pair"), "visor-rpc-unreachable");
    assert!(
        text.contains(&addr) && text.contains("cannot connect"),
        "{text}"
    );
}

#[test]
fn a_visor_without_pair_rpc_is_503_visor_has_no_pair_rpc() {
    let scratch = Scratch::new();
    let (addr, calls) = visor_double(Visor::Without);
    let addr = addr.to_string();
    let node = embedded(&scratch, &["--pair-enable", "--pair-rpc", &addr]);
    for _ in 0..2 {
        let text = assert_unavailable(&node.get("/pair"), "visor-has-no-pair-rpc");
        assert!(
            text.contains("rpc: can't find method app-visor.PairList") && text.contains(&addr),
            "{text}"
        );
    }
    let calls = calls.lock().expect("calls");
    assert_eq!(
        calls.len(),
        2,
        "one call per request, on one kept connection"
    );
    assert!(
        calls
            .iter()
            .all(|c| c.service_method == "app-visor.PairList")
    );
}

#[test]
fn a_visor_with_pair_rpc_answers_every_route() {
    for kind in [Visor::With, Visor::WithClosing] {
        let scratch = Scratch::new();
        let (addr, calls) = visor_double(kind);
        let node = embedded(
            &scratch,
            &["--pair-enable", "--pair-rpc", &addr.to_string()],
        );
        let peer = hex::encode(key(0xab).0);
        assert_eq!(node.status()["pairing_enabled"], true);

        let list = node.get("/pair");
        assert_eq!(list.status, 200, "{list:?}");
        assert_eq!(
            list.json,
            json!([{
                "peer_pk": peer,
                "status": "active",
                "port": 49_321,
                "established_at": "2026-12-02T10:00:00.25Z",
                "last_message_at": "0001-01-01T00:00:00Z",
            }])
        );

        let added = node.post("/pair", &json!({ "peer_pk": peer }).to_string());
        assert_eq!(added.status, 204, "{added:?}");

        let sent = node.post(&format!("/pair/{peer}/message"), r#"{"text":"hello"}"#);
        assert_eq!(sent.status, 200, "{sent:?}");
        assert_eq!(
            sent.json,
            json!({ "ok": true, "id": "1796205600000000000-0" })
        );

        let failed = node.post(&format!("/pair/{peer}/message"), r#"{"text":"fail"}"#);
        assert_eq!(failed.status, 502, "{failed:?}");
        assert_eq!(failed.json["reason"], "visor-error");
        assert!(failed.body.contains("no live pair"), "{failed:?}");

        let inbox = node.get("/pair/inbox?since=2026-12-02T09:00:00Z&limit=2");
        assert_eq!(inbox.status, 200, "{inbox:?}");
        let texts: Vec<&str> = inbox
            .json
            .as_array()
            .expect("a list")
            .iter()
            .map(|m| m["text"].as_str().expect("text"))
            .collect();
        assert_eq!(texts, ["m2", "m3"], "the newest two, oldest first");
        assert_eq!(inbox.json[0]["ts"], "2026-12-02T10:00:02Z");

        let removed = node.request("DELETE", &format!("/pair/{peer}"), &[], b"");
        assert_eq!(removed.status, 204, "{removed:?}");

        let calls = calls.lock().expect("calls").clone();
        let made: Vec<ApiCall> = calls.into_iter().map(|c| c.call.expect("known")).collect();
        let since = skychat::pair_rpc::parse_rfc3339("2026-12-02T09:00:00Z").expect("time");
        assert_eq!(
            made,
            [
                ApiCall::PairList,
                ApiCall::PairAdd(key(0xab)),
                ApiCall::PairSend(visor_api::PairSendRequest {
                    peer_pk: key(0xab),
                    text: "hello".into()
                }),
                ApiCall::PairSend(visor_api::PairSendRequest {
                    peer_pk: key(0xab),
                    text: "fail".into()
                }),
                ApiCall::PairPoll(since),
                ApiCall::PairRemove(key(0xab)),
            ]
        );
    }
}

#[test]
fn bad_requests_never_reach_the_visor() {
    let scratch = Scratch::new();
    let (addr, calls) = visor_double(Visor::With);
    let node = embedded(
        &scratch,
        &["--pair-enable", "--pair-rpc", &addr.to_string()],
    );
    let short = node
        .post("/pair", r#"{"peer_pk":"abcd"}"#)
        .assert_error(400);
    assert!(short.contains("66 hex"), "{short}");
    node.post("/pair", "not json").assert_error(400);
    node.request("DELETE", "/pair/zz", &[], b"")
        .assert_error(400);
    let peer = hex::encode(key(0xab).0);
    node.post(&format!("/pair/{peer}/message"), r#"{"text":""}"#)
        .assert_error(400);
    node.get("/pair/inbox?limit=0").assert_error(400);
    node.get("/pair/inbox?since=yesterday").assert_error(400);
    node.request("PUT", "/pair", &[], b"").assert_error(405);
    let invites = node.get("/pair/invites");
    assert_eq!(invites.status, 501, "{invites:?}");
    assert_eq!(invites.json["reason"], "not-implemented");
    assert!(calls.lock().expect("calls").is_empty());
}

#[test]
fn the_visor_is_dialled_again_after_it_went_away() {
    let scratch = Scratch::new();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let node = embedded(&scratch, &["--pair-enable", "--pair-rpc", &addr]);
    assert_unavailable(&node.get("/pair"), "visor-rpc-unreachable");
    // The visor comes up on that address: the next request reaches it.
    let listener = TcpListener::bind(&addr).expect("rebind the port");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let served = seen.clone();
    std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            serve(stream, Visor::With, &served);
        }
    });
    let list = node.get("/pair");
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(list.json.as_array().map(Vec::len), Some(1), "{list:?}");
    assert_eq!(seen.lock().expect("calls").len(), 1);
}

#[test]
fn other_visor_failures_have_their_own_reasons() {
    let scratch = Scratch::new();
    let (off, _) = visor_double(Visor::PairingOff);
    let node = embedded(&scratch, &["--pair-enable", "--pair-rpc", &off.to_string()]);
    let text = assert_unavailable(&node.get("/pair"), "visor-pairing-disabled");
    assert!(text.contains("manager not initialized"), "{text}");
    drop(node);

    let scratch = Scratch::new();
    let (garbage, calls) = visor_double(Visor::Garbage);
    let node = embedded(
        &scratch,
        &["--pair-enable", "--pair-rpc", &garbage.to_string()],
    );
    for _ in 0..2 {
        let response = node.get("/pair");
        assert_eq!(response.status, 502, "{response:?}");
        assert_eq!(
            response.json["reason"], "visor-rpc-protocol",
            "{response:?}"
        );
    }
    assert!(calls.lock().expect("calls").is_empty());
}
