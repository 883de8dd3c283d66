//! A small HTTP/1.1 load generator: keep-alive connections, one thread each, sending the same
//! `POST` back to back for a while and counting responses by status.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Responses counted by a load run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// 2xx responses.
    pub ok: u64,
    /// Any other status.
    pub failed: u64,
}

/// Sends `POST path` with a JSON `body` on `connections` keep-alive connections for `duration`;
/// returns the counts and the 2xx responses per second.
pub fn post_rate(
    addr: SocketAddr,
    path: &str,
    body: &str,
    connections: usize,
    duration: Duration,
) -> (Counts, f64) {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let request = request.clone();
            std::thread::spawn(move || client(addr, request.as_bytes(), deadline))
        })
        .collect();
    let mut total = Counts::default();
    for worker in workers {
        let counts = worker.join().expect("load thread");
        total.ok += counts.ok;
        total.failed += counts.failed;
    }
    let rate = total.ok as f64 / started.elapsed().as_secs_f64();
    (total, rate)
}

fn client(addr: SocketAddr, request: &[u8], deadline: Instant) -> Counts {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut counts = Counts::default();
    let mut buffer = Vec::with_capacity(4096);
    while Instant::now() < deadline {
        stream.write_all(request).expect("write request");
        let status = read_response(&mut stream, &mut buffer);
        if (200..300).contains(&status) {
            counts.ok += 1;
        } else {
            counts.failed += 1;
        }
    }
    counts
}

/// Reads one response with a `Content-Length` body; returns its status. Bytes past it stay in
/// `buffer`.
pub fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> u16 {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end]).expect("ascii head");
            let status: u16 = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .expect("status line");
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .expect("responses carry a Content-Length");
            let total = end + 4 + length;
            while buffer.len() < total {
                let n = stream.read(&mut chunk).expect("read body");
                assert!(n > 0, "server closed mid-response");
                buffer.extend_from_slice(&chunk[..n]);
            }
            buffer.drain(..total);
            return status;
        }
        let n = stream.read(&mut chunk).expect("read head");
        assert!(n > 0, "server closed the connection");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
