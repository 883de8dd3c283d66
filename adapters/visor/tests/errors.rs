//! Bad input gets a typed error: malformed PROC_CONFIG, oversized or broken gob framing, a
//! reply nobody asked for, a reply of the wrong type.

use skychat_visor::gob::{FrameError, MessageReader, read_uint};
use skychat_visor::server::{IncomingCall, Server};
use skychat_visor::{Call, Client, ProcConfig, ProcConfigError, ProcKey, ProtocolError, Reply};

const GOOD: &str = include_str!("data/proc_config.json");

#[test]
fn proc_config_that_is_not_json_is_refused() {
    assert!(matches!(
        ProcConfig::parse("not json"),
        Err(ProcConfigError::Json(_))
    ));
}

#[test]
fn proc_config_without_a_required_field_names_it() {
    let mut value: serde_json::Value = serde_json::from_str(GOOD).unwrap();
    value.as_object_mut().unwrap().remove("app_server_addr");
    let Err(ProcConfigError::Json(message)) = ProcConfig::parse(&value.to_string()) else {
        panic!("a missing field is refused");
    };
    assert!(message.contains("app_server_addr"), "{message}");
}

#[test]
fn proc_config_with_bad_keys_is_refused() {
    let short_proc_key = GOOD.replace("7170953f48c34dc1a5cbe92f9dc08bf6", "7170953f");
    assert_eq!(
        ProcConfig::parse(&short_proc_key),
        Err(ProcConfigError::BadProcKey("7170953f".into()))
    );
    let bad_visor_key = GOOD.replace(
        "0314a4aa1f8b488140955e6060fc92bde568577b5561337c2a734a38e84a55ed8f",
        "zz",
    );
    assert_eq!(
        ProcConfig::parse(&bad_visor_key),
        Err(ProcConfigError::BadVisorKey("zz".into()))
    );
}

#[test]
fn proc_config_tolerates_fields_a_newer_visor_adds() {
    let mut value: serde_json::Value = serde_json::from_str(GOOD).unwrap();
    value["something_new"] = serde_json::json!(true);
    assert!(ProcConfig::parse(&value.to_string()).is_ok());
}

#[test]
fn gob_uints_read_as_the_reference_shows() {
    assert_eq!(read_uint(&[0x05]).unwrap(), Some((5, 1)));
    assert_eq!(read_uint(&[0xfe, 0xc0, 0x06]).unwrap(), Some((49158, 3)));
    assert_eq!(read_uint(&[0xfe, 0xc0]).unwrap(), None);
    assert_eq!(read_uint(&[]).unwrap(), None);
    assert_eq!(read_uint(&[0xf7]), Err(FrameError::BadLength));
}

#[test]
fn a_message_above_the_limit_is_refused_before_it_arrives() {
    let mut reader = MessageReader::with_limit(100);
    reader.push(&[0xfe, 0x01, 0x00]); // 256 bytes announced, none sent
    assert_eq!(
        reader.next_message(),
        Err(FrameError::TooLong { len: 256, max: 100 })
    );
}

#[test]
fn a_zero_length_message_is_refused() {
    let mut reader = MessageReader::default();
    reader.push(&[0x00]);
    assert_eq!(reader.next_message(), Err(FrameError::Empty));
}

const KEY: ProcKey = ProcKey([1; 16]);

/// The server double's reading of `calls` sent by a client.
fn served(client: &mut Client, server: &mut Server, calls: &[Call]) -> Vec<IncomingCall> {
    for call in calls {
        server.push(&client.call(call).unwrap().1);
    }
    std::iter::from_fn(|| server.poll().unwrap()).collect()
}

#[test]
fn a_reply_to_an_unknown_seq_is_a_protocol_error() {
    let mut client = Client::new(&KEY);
    let mut server = Server::new();
    let mut incoming = served(&mut client, &mut server, &[Call::SetAppPort(1)]);
    incoming[0].seq = 41;
    client.push(&server.reply(&incoming[0], &Ok(Reply::Done)));
    assert_eq!(client.poll(), Err(ProtocolError::UnknownSeq { seq: 41 }));
    assert_eq!(client.poll(), Err(ProtocolError::Broken));
}

#[test]
fn a_seq_is_answered_once() {
    let mut client = Client::new(&KEY);
    let mut server = Server::new();
    let incoming = served(&mut client, &mut server, &[Call::SetAppPort(1)]);
    client.push(&server.reply(&incoming[0], &Ok(Reply::Done)));
    client.push(&server.reply(&incoming[0], &Ok(Reply::Done)));
    assert!(client.poll().unwrap().is_some());
    assert_eq!(client.poll(), Err(ProtocolError::UnknownSeq { seq: 0 }));
}

#[test]
fn a_reply_of_the_wrong_type_is_a_protocol_error() {
    let mut client = Client::new(&KEY);
    let mut server = Server::new();
    let incoming = served(&mut client, &mut server, &[Call::Accept(1)]);
    // `Accept` answered with a listener id instead of an `AcceptResp`.
    client.push(&server.reply(&incoming[0], &Ok(Reply::Listener(3))));
    assert!(matches!(client.poll(), Err(ProtocolError::Gob(_))));
}

#[test]
fn an_oversized_reply_is_refused() {
    let mut client = Client::with_message_limit(&KEY, 64);
    let mut server = Server::new();
    let incoming = served(
        &mut client,
        &mut server,
        &[Call::Read(skychat_visor::ReadReq {
            conn_id: 1,
            buf_len: 1000,
        })],
    );
    let reply = Reply::Read(skychat_visor::ReadResp {
        b: vec![7; 100],
        n: 100,
        err: None,
    });
    client.push(&server.reply(&incoming[0], &Ok(reply)));
    let mut result = client.poll();
    while let Ok(Some(_)) = result {
        result = client.poll();
    }
    assert!(matches!(
        result,
        Err(ProtocolError::Frame(FrameError::TooLong { .. }))
    ));
}

#[test]
fn a_deadline_gob_cannot_encode_is_refused_and_changes_nothing() {
    let mut client = Client::new(&KEY);
    let mut server = Server::new();
    // Go's Time.MarshalBinary refuses a zone offset of exactly -1 minute.
    let bad = Call::SetDeadline(skychat_visor::DeadlineReq {
        conn_id: 1,
        deadline: skychat_visor::GoTime {
            sec: 63_900_000_000,
            nsec: 0,
            zone: skychat_visor::Zone::Offset(-60),
        },
    });
    assert!(client.call(&bad).is_err());
    assert_eq!(client.in_flight(), 0);
    let good = Call::SetDeadline(skychat_visor::DeadlineReq {
        conn_id: 1,
        deadline: skychat_visor::GoTime {
            sec: 63_900_000_000,
            nsec: 5,
            zone: skychat_visor::Zone::Offset(3600),
        },
    });
    let incoming = served(&mut client, &mut server, std::slice::from_ref(&good));
    assert_eq!(incoming.len(), 1);
    assert_eq!(incoming[0].seq, 0, "the refused call took no Seq");
    assert_eq!(incoming[0].call, good);
}

/// A gob message: its length, then `body`.
fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::try_from(body.len()).unwrap()];
    out.extend_from_slice(body);
    out
}

/// The definition of struct type `id` named `name` with one interface field `X`.
fn struct_with_interface(id: u8, name: u8) -> Vec<u8> {
    // gob int of -id and of id, both two bytes for 64 <= id < 128.
    let def = [0xff, (id << 1) - 1];
    let id_value = [0xff, id << 1];
    let mut body = def.to_vec();
    // wireType.StructT { CommonType { Name, Id }, Field: [{ Name "X", Id 8 (interface) }] }
    body.extend([0x03, 0x01, 0x01, 0x01, name, 0x01]);
    body.extend(id_value);
    body.extend([
        0x00, 0x01, 0x01, 0x01, 0x01, b'X', 0x01, 0x10, 0x00, 0x00, 0x00,
    ]);
    body
}

#[test]
fn a_value_spread_over_messages_is_held_to_the_message_limit() {
    let mut client = Client::with_message_limit(&KEY, 64);
    client.call(&Call::SetAppPort(1)).unwrap();
    client.push(&framed(&struct_with_interface(65, b'R')));
    // A value of type 65 whose interface names a concrete type and then stops at the message's
    // end: gob continues such a value in the next message.
    client.push(&framed(&[0xff, 0x82, 0x01, 0x01, b'T']));
    assert_eq!(client.poll(), Ok(None));
    // Each further message defines one more type inside the interface and stops again.
    let mut result = Ok(None);
    for id in 66..76u8 {
        client.push(&framed(&struct_with_interface(id, b'S')));
        result = client.poll();
        if result.is_err() {
            break;
        }
    }
    assert!(
        matches!(
            result,
            Err(ProtocolError::Frame(FrameError::TooLong { max: 64, .. }))
        ),
        "{result:?}"
    );
}
