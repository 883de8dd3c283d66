//! Property tests: every typed call and reply survives the client and the server double in
//! any chunking and any answer order, and no byte sequence makes the client panic.

use proptest::prelude::*;
use skychat_visor::server::Server;
use skychat_visor::{
    AcceptResp, Addr, Call, Client, Completion, DeadlineReq, DialResp, GoTime, ProcKey, PubKey,
    ReadReq, ReadResp, Reply, RpcIoErr, WriteReq, WriteResp, Zone,
};

fn pub_key() -> impl Strategy<Value = PubKey> {
    prop::array::uniform32(any::<u8>()).prop_map(|k| {
        let mut key = [2u8; 33];
        key[1..].copy_from_slice(&k);
        PubKey(key)
    })
}

fn addr() -> impl Strategy<Value = Addr> {
    (
        prop_oneof![
            Just("skynet".to_string()),
            Just("dmsg".to_string()),
            ".{0,8}"
        ],
        pub_key(),
        any::<u32>(),
    )
        .prop_map(|(net, pub_key, port)| Addr { net, pub_key, port })
}

fn deadline() -> impl Strategy<Value = DeadlineReq> {
    // Zones Go can marshal: UTC, or whole minutes other than -1 (which means UTC on the wire).
    let zone = prop_oneof![
        Just(Zone::Utc),
        (-720i32..=840)
            .prop_filter("-1 minute is UTC's mark", |m| *m != -1)
            .prop_map(|m| Zone::Offset(m * 60)),
    ];
    (any::<u16>(), any::<i64>(), 0..1_000_000_000i32, zone).prop_map(
        |(conn_id, sec, nsec, zone)| DeadlineReq {
            conn_id,
            deadline: GoTime { sec, nsec, zone },
        },
    )
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        addr().prop_map(Call::Listen),
        any::<u16>().prop_map(Call::Accept),
        addr().prop_map(Call::Dial),
        (any::<u16>(), any::<i64>())
            .prop_map(|(conn_id, buf_len)| Call::Read(ReadReq { conn_id, buf_len })),
        (any::<u16>(), prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(conn_id, b)| Call::Write(WriteReq { conn_id, b })),
        any::<u16>().prop_map(Call::CloseConn),
        any::<u16>().prop_map(Call::CloseListener),
        deadline().prop_map(Call::SetDeadline),
        deadline().prop_map(Call::SetReadDeadline),
        deadline().prop_map(Call::SetWriteDeadline),
        ".{0,16}".prop_map(Call::SetDetailedStatus),
        ".{0,16}".prop_map(Call::SetError),
        any::<u32>().prop_map(Call::SetAppPort),
        any::<i64>().prop_map(Call::SetConnectionDuration),
    ]
}

fn io_err() -> impl Strategy<Value = Option<RpcIoErr>> {
    prop::option::of(
        (".{0,8}", any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(text, is_net_err, is_timeout_err, is_temporary_err)| RpcIoErr {
                text,
                is_net_err,
                is_timeout_err,
                is_temporary_err,
            },
        ),
    )
}

/// A reply of the type `call`'s method returns (`seed` picks the values).
fn reply_for(call: &Call) -> BoxedStrategy<Result<Reply, String>> {
    let ok = match call {
        Call::Listen(_) => any::<u16>().prop_map(Reply::Listener).boxed(),
        Call::Accept(_) => (addr(), any::<u16>())
            .prop_map(|(remote, conn_id)| Reply::Accepted(AcceptResp { remote, conn_id }))
            .boxed(),
        Call::Dial(_) => (any::<u16>(), any::<u32>())
            .prop_map(|(conn_id, local_port)| {
                Reply::Dialed(DialResp {
                    conn_id,
                    local_port,
                })
            })
            .boxed(),
        Call::Read(_) => (
            prop::collection::vec(any::<u8>(), 0..64),
            any::<i64>(),
            io_err(),
        )
            .prop_map(|(b, n, err)| Reply::Read(ReadResp { b, n, err }))
            .boxed(),
        Call::Write(_) => (any::<i64>(), io_err())
            .prop_map(|(n, err)| Reply::Written(WriteResp { n, err }))
            .boxed(),
        _ => Just(Reply::Done).boxed(),
    };
    prop_oneof![3 => ok.prop_map(Ok), 1 => ".{1,16}".prop_map(Err)].boxed()
}

fn calls_with_replies() -> impl Strategy<Value = Vec<(Call, Result<Reply, String>)>> {
    prop::collection::vec(call(), 1..12).prop_flat_map(|calls| {
        let replies: Vec<_> = calls.iter().map(reply_for).collect();
        (Just(calls), replies).prop_map(|(calls, replies)| calls.into_iter().zip(replies).collect())
    })
}

/// Feeds `bytes` in chunks of the given sizes (cycled; 0 counts as 1).
fn feed_in_chunks(bytes: &[u8], sizes: &[usize], mut feed: impl FnMut(&[u8])) {
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let size = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        feed(chunk);
        rest = tail;
        i += 1;
    }
}

const KEY: ProcKey = ProcKey([0x71; 16]);

proptest! {
    #[test]
    fn calls_and_replies_round_trip_in_any_order_and_chunking(
        exchange in calls_with_replies(),
        order in any::<prop::sample::Index>(),
        call_chunks in prop::collection::vec(1usize..40, 1..8),
        reply_chunks in prop::collection::vec(1usize..40, 1..8),
    ) {
        let mut client = Client::new(&KEY);
        let mut server = Server::new();
        let mut wire = Vec::new();
        let mut seqs = Vec::new();
        for (call, _) in &exchange {
            let (seq, bytes) = client.call(call).unwrap();
            seqs.push(seq);
            wire.extend(bytes);
        }
        prop_assert_eq!(client.in_flight(), exchange.len());

        let mut incoming = Vec::new();
        feed_in_chunks(&wire, &call_chunks, |chunk| {
            server.push(chunk);
            while let Some(call) = server.poll().unwrap() {
                incoming.push(call);
            }
        });
        let received: Vec<Call> = incoming.iter().map(|c| c.call.clone()).collect();
        let sent: Vec<Call> = exchange.iter().map(|(c, _)| c.clone()).collect();
        prop_assert_eq!(received, sent);

        // Answer in a rotated order, so replies come out of `Seq` order.
        let start = order.index(exchange.len());
        let mut answers = Vec::new();
        let mut expected = Vec::new();
        for i in 0..exchange.len() {
            let k = (start + i) % exchange.len();
            answers.extend(server.reply(&incoming[k], &exchange[k].1));
            expected.push(Completion {
                seq: seqs[k],
                method: exchange[k].0.method(),
                result: exchange[k].1.clone(),
            });
        }
        let mut got = Vec::new();
        feed_in_chunks(&answers, &reply_chunks, |chunk| {
            client.push(chunk);
            while let Some(done) = client.poll().unwrap() {
                got.push(done);
            }
        });
        prop_assert_eq!(got, expected);
        prop_assert_eq!(client.in_flight(), 0);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_client(
        calls in prop::collection::vec(call(), 0..6),
        prefix_len in 0usize..400,
        garbage in prop::collection::vec(any::<u8>(), 0..400),
        sizes in prop::collection::vec(1usize..32, 1..8),
    ) {
        // Start from a genuine reply stream cut anywhere, then garbage.
        let mut client = Client::new(&KEY);
        let mut server = Server::new();
        let mut wire = Vec::new();
        for call in &calls {
            wire.extend(client.call(call).unwrap().1);
        }
        server.push(&wire);
        let mut answers = Vec::new();
        while let Some(call) = server.poll().unwrap() {
            answers.extend(server.reply(&call, &Ok(Reply::Done)));
        }
        answers.truncate(prefix_len);
        answers.extend(garbage);
        let mut failed = false;
        feed_in_chunks(&answers, &sizes, |chunk| {
            client.push(chunk);
            loop {
                match client.poll() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
        });
        // Once failed, the client stays failed.
        if failed {
            prop_assert_eq!(client.poll(), Err(skychat_visor::ProtocolError::Broken));
        }
    }
}
