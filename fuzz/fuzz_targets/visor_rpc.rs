//! The visor app-server client's reply decoder, with calls in flight, fed fuzzer bytes as the
//! visor's side of the socket in fuzzer-chosen chunks.
//!
//! Input: the chunk sizes field, a count byte and that many method bytes (the calls in flight,
//! `Seq` 0, 1, …), then the reply stream.
//!
//! Properties: no panic; the completions and the first error are the same however the stream
//! is chunked; after an error the client stays failed; a completion answers a call in flight.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skychat_fuzz::{Cursor, chunks};
use skychat_visor::{
    Addr, Call, Client, Completion, DeadlineReq, Method, ProcKey, ProtocolError, ReadReq, WriteReq,
};

fuzz_target!(|data: &[u8]| run(data));

const KEY: ProcKey = ProcKey([0x71; 16]);

/// A call of `method` with fixed arguments: the replies' decoding depends only on the method.
fn call_of(method: Method) -> Call {
    let addr = Addr::default();
    let deadline = DeadlineReq::default();
    match method {
        Method::Listen => Call::Listen(addr),
        Method::Accept => Call::Accept(1),
        Method::Dial => Call::Dial(addr),
        Method::Read => Call::Read(ReadReq {
            conn_id: 1,
            buf_len: 32768,
        }),
        Method::Write => Call::Write(WriteReq {
            conn_id: 1,
            b: b"x".to_vec(),
        }),
        Method::CloseConn => Call::CloseConn(1),
        Method::CloseListener => Call::CloseListener(1),
        Method::SetDeadline => Call::SetDeadline(deadline),
        Method::SetReadDeadline => Call::SetReadDeadline(deadline),
        Method::SetWriteDeadline => Call::SetWriteDeadline(deadline),
        Method::SetDetailedStatus => Call::SetDetailedStatus("Running".into()),
        Method::SetError => Call::SetError(String::new()),
        Method::SetAppPort => Call::SetAppPort(1),
        Method::SetConnectionDuration => Call::SetConnectionDuration(0),
    }
}

fn client_with(methods: &[Method]) -> Client {
    let mut client = Client::new(&KEY);
    for &method in methods {
        client
            .call(&call_of(method))
            .expect("fixed arguments encode");
    }
    client
}

/// Everything the client yields for `stream` fed in the given chunks, up to its first error.
fn replay<'a>(
    methods: &[Method],
    pieces: impl Iterator<Item = &'a [u8]>,
) -> (Vec<Completion>, Option<ProtocolError>) {
    let mut client = client_with(methods);
    let mut done = Vec::new();
    for piece in pieces {
        client.push(piece);
        loop {
            match client.poll() {
                Ok(Some(completion)) => {
                    assert!((completion.seq as usize) < methods.len());
                    assert_eq!(completion.method, methods[completion.seq as usize]);
                    done.push(completion);
                }
                Ok(None) => break,
                Err(e) => {
                    assert_eq!(client.poll(), Err(ProtocolError::Broken));
                    return (done, Some(e));
                }
            }
        }
    }
    (done, None)
}

fn run(data: &[u8]) {
    let mut input = Cursor::new(data);
    let sizes = input.field();
    let methods: Vec<Method> = input
        .field()
        .iter()
        .map(|&b| Method::ALL[usize::from(b) % Method::ALL.len()])
        .collect();
    let stream = input.rest();
    let whole = replay(&methods, std::iter::once(stream));
    let chunked = replay(&methods, chunks(stream, sizes));
    assert_eq!(whole, chunked);
}
