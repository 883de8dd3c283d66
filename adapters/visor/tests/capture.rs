//! Replays the recorded app ↔ visor session (tests/data): our encoder against the Go app's
//! bytes, our decoder against the visor's, and PROC_CONFIG and the Hello against theirs.

use std::collections::HashMap;

use gobwire::{Progress, WireField, WireType};
use skychat_visor::{
    Addr, Call, Client, Completion, Method, ProcConfig, ProcKey, PubKey, ReadReq, ReadResp, Reply,
    RpcIoErr, WriteReq, WriteResp, encode_hello,
};

const PROC_CONFIG: &str = include_str!("data/proc_config.json");
const SESSION: &str = include_str!("data/appserver-session.jsonl");

const PROC_KEY: &str = "7170953f48c34dc1a5cbe92f9dc08bf6";
const VISOR_A: &str = "0314a4aa1f8b488140955e6060fc92bde568577b5561337c2a734a38e84a55ed8f";
const VISOR_B: &str = "02095c97f47501cd2c8ca50bba194c62a0e29f700f73cbf80ea7cb3de826049566";
const NO_VISOR: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
const DIAL_FAILED: &str = "maximum retries attempted without success";

/// The recorded chunks of one direction (`c2s` app → visor, `s2c` visor → app), in order.
fn chunks(dir: &str) -> Vec<Vec<u8>> {
    SESSION
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a JSON line"))
        .filter(|event| event["event"] == "chunk" && event["dir"] == dir)
        .map(|event| hex::decode(event["hex"].as_str().expect("hex")).expect("hex bytes"))
        .collect()
}

fn stream(dir: &str) -> Vec<u8> {
    chunks(dir).concat()
}

fn key(hex_key: &str) -> PubKey {
    PubKey(hex::decode(hex_key).unwrap().try_into().unwrap())
}

fn proc_key() -> ProcKey {
    ProcKey(hex::decode(PROC_KEY).unwrap().try_into().unwrap())
}

fn skynet(hex_key: &str) -> Addr {
    Addr {
        net: "skynet".into(),
        pub_key: key(hex_key),
        port: 1,
    }
}

/// The Go app's calls, in `Seq` order.
fn app_calls() -> Vec<Call> {
    let read = Call::Read(ReadReq {
        conn_id: 7,
        buf_len: 32768,
    });
    let mut calls = vec![
        Call::SetDetailedStatus("Running".into()),
        Call::Listen(skynet(VISOR_A)),
        Call::SetAppPort(1),
        Call::Accept(1),
    ];
    calls.extend(std::iter::repeat_n(Call::Dial(skynet(NO_VISOR)), 5));
    calls.push(Call::Dial(skynet(VISOR_B)));
    calls.push(Call::Write(WriteReq {
        conn_id: 7,
        b: b"hello from a to b (74add2a7)".to_vec(),
    }));
    calls.push(read.clone());
    calls.push(read);
    calls
}

/// What the visor answered, in the order it answered.
fn visor_replies() -> Vec<Completion> {
    let done = |seq, method| Completion {
        seq,
        method,
        result: Ok(Reply::Done),
    };
    let mut replies = vec![
        Completion {
            seq: 1,
            method: Method::Listen,
            result: Ok(Reply::Listener(1)),
        },
        done(2, Method::SetAppPort),
        done(0, Method::SetDetailedStatus),
    ];
    replies.extend((4..=8).map(|seq| Completion {
        seq,
        method: Method::Dial,
        result: Err(DIAL_FAILED.into()),
    }));
    replies.extend([
        Completion {
            seq: 9,
            method: Method::Dial,
            result: Ok(Reply::Dialed(skychat_visor::DialResp {
                conn_id: 7,
                local_port: 49158,
            })),
        },
        Completion {
            seq: 10,
            method: Method::Write,
            result: Ok(Reply::Written(WriteResp { n: 28, err: None })),
        },
        Completion {
            seq: 11,
            method: Method::Read,
            result: Ok(Reply::Read(ReadResp {
                b: b"hello from b to a (0f9c6065)".to_vec(),
                n: 28,
                err: None,
            })),
        },
        Completion {
            seq: 12,
            method: Method::Read,
            result: Ok(Reply::Read(ReadResp {
                b: Vec::new(),
                n: 0,
                err: Some(RpcIoErr {
                    text: "EOF".into(),
                    is_net_err: true,
                    ..RpcIoErr::default()
                }),
            })),
        },
    ]);
    replies
}

#[test]
fn proc_config_parses_every_field_of_the_recorded_one() {
    let config = ProcConfig::parse(PROC_CONFIG).unwrap();
    assert_eq!(config.app_name, "skychat");
    assert_eq!(config.app_server_addr, "localhost:5505");
    assert_eq!(config.proc_key, proc_key());
    assert_eq!(config.proc_args, ["--addr", ":8001"]);
    assert!(config.proc_envs.is_empty());
    assert_eq!(
        config.proc_work_dir,
        "/home/operator/.cache/skywire-kit/run/localnet/A/local/skychat"
    );
    assert_eq!(config.visor_pk, key(VISOR_A));
    assert_eq!(config.routing_port, 1);
    assert_eq!(
        config.binary_loc,
        "/home/operator/.cache/skywire-kit/run/localnet/bin/skychat-a"
    );
    assert_eq!(
        config.log_db_loc,
        "/home/operator/.cache/skywire-kit/run/localnet/A/local/skychat_log.db"
    );
    assert_eq!(config.log_store_path, "");
}

#[test]
fn hello_is_the_recorded_bytes() {
    let recorded = stream("c2s");
    let hello = encode_hello(&proc_key());
    assert_eq!(hello.len(), 49);
    assert_eq!(hello, recorded[..49]);
}

/// Splits a gob stream into its message bodies (length prefix removed).
fn messages(mut stream: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !stream.is_empty() {
        let (len, width) = skychat_visor::gob::read_uint(stream).unwrap().unwrap();
        let end = width + len as usize;
        out.push(stream[width..end].to_vec());
        stream = &stream[end..];
    }
    out
}

/// A message body's type id (negative: the definition of that type follows) and the rest.
fn type_id(body: &[u8]) -> (i64, &[u8]) {
    let (u, width) = skychat_visor::gob::read_uint(body).unwrap().unwrap();
    let id = if u & 1 == 0 {
        (u >> 1) as i64
    } else {
        !((u >> 1) as i64)
    };
    (id, &body[width..])
}

/// The type definitions a gob stream sends, by id.
fn definitions(bodies: &[&[u8]]) -> HashMap<i64, WireType> {
    let mut decoder = gobwire::Decoder::new();
    let mut out = HashMap::new();
    for body in bodies {
        match decoder.push_message(body).unwrap() {
            Progress::TypeDefinition(id) => {
                out.insert(id, (**decoder.types().get(id).unwrap()).clone());
            }
            Progress::Ready => decoder.discard().unwrap(),
            Progress::NeedMore => {}
        }
    }
    out
}

/// Gob type ids are chosen by each process (Go numbers the types it has seen since it started,
/// from 64; gobwire numbers a stream's types from 65), so the app's bytes cannot be reproduced
/// where an id is written, nor the order of the definitions sent together. Everything else is:
/// the same messages in the same places, every value byte for byte after its type id, and every
/// definition the same type (name, kind, field names and field types) once ids are mapped.
#[test]
fn calls_encode_to_the_go_apps_bytes_up_to_type_ids() {
    let recorded = stream("c2s");
    let mut client = Client::new(&proc_key());
    let mut ours = Vec::new();
    for (expected_seq, call) in app_calls().iter().enumerate() {
        let (seq, bytes) = client.call(call).unwrap();
        assert_eq!(seq, expected_seq as u64);
        ours.extend(bytes);
    }
    let theirs = messages(&recorded[49..]);
    let ours = messages(&ours);
    assert_eq!(ours.len(), theirs.len());

    let our_types = definitions(&ours.iter().map(|m| m.as_slice()).collect::<Vec<_>>());
    let their_types = definitions(&theirs.iter().map(|m| m.as_slice()).collect::<Vec<_>>());
    let map = |ids: &HashMap<i64, i64>, id: i64| if id < 64 { id } else { ids[&id] };
    // Go sends a struct's definition before its fields' (Addr, then PubKey); gobwire sends the
    // fields' first. Both are valid gob, so definitions between two values are paired by name.
    let mut ids = HashMap::new();
    let mut our_run = Vec::new();
    let mut their_run = Vec::new();
    for (our, their) in ours.iter().zip(&theirs) {
        let (our_id, our_rest) = type_id(our);
        let (their_id, their_rest) = type_id(their);
        if our_id < 0 {
            assert!(their_id < 0, "both define a type here");
            our_run.push(-our_id);
            their_run.push(-their_id);
            continue;
        }
        assert!(their_id >= 0, "both send a value here");
        for id in our_run.drain(..) {
            let name = our_types[&id].name();
            let theirs = their_run
                .iter()
                .find(|t| their_types[*t].name() == name)
                .unwrap_or_else(|| panic!("the Go app defined {name} here too"));
            ids.insert(id, *theirs);
        }
        their_run.clear();
        assert_eq!(map(&ids, our_id), their_id);
        assert_eq!(our_rest, their_rest, "value bytes after the type id");
    }
    // Five definitions: Request, Addr, PubKey, WriteReq, ReadReq.
    assert_eq!(ids.len(), 5);

    for (our_id, their_id) in &ids {
        let remapped = match our_types[our_id].clone() {
            WireType::Struct { name, fields } => WireType::Struct {
                name,
                fields: fields
                    .into_iter()
                    .map(|f| WireField {
                        id: map(&ids, f.id),
                        ..f
                    })
                    .collect(),
            },
            other => other,
        };
        assert_eq!(remapped, their_types[their_id]);
    }
}

#[test]
fn the_visors_replies_decode_whole() {
    check_replies(&[stream("s2c")]);
}

#[test]
fn the_visors_replies_decode_in_the_recorded_chunks() {
    check_replies(&chunks("s2c"));
}

#[test]
fn the_visors_replies_decode_byte_by_byte() {
    let bytes = stream("s2c");
    let singles: Vec<Vec<u8>> = bytes.iter().map(|&b| vec![b]).collect();
    check_replies(&singles);
}

fn check_replies(input: &[Vec<u8>]) {
    let mut client = Client::new(&proc_key());
    for call in app_calls() {
        client.call(&call).unwrap();
    }
    let mut got = Vec::new();
    for chunk in input {
        client.push(chunk);
        while let Some(completion) = client.poll().unwrap() {
            got.push(completion);
        }
    }
    assert_eq!(got, visor_replies());
    // `Accept` (seq 3) was never answered: no one dialed visor A.
    assert_eq!(client.in_flight(), 1);
}

#[test]
fn the_go_apps_calls_decode_on_the_server_side() {
    let recorded = stream("c2s");
    let mut server = skychat_visor::server::Server::new();
    server.push(&recorded[49..]);
    let mut got = Vec::new();
    while let Some(call) = server.poll().unwrap() {
        assert_eq!(
            call.service_method,
            format!("{PROC_KEY}.{}", call.call.method().name())
        );
        got.push((call.seq, call.call));
    }
    let expected: Vec<(u64, Call)> = (0..).zip(app_calls()).collect();
    assert_eq!(got, expected);
}
