//! The raw TCP ping-pong baseline: 64 bytes echoed over one loopback connection with nodelay,
//! one round trip at a time.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Bytes per ping.
const PING: usize = 64;

/// An echo server and a connected client.
pub struct PingPong {
    client: TcpStream,
    server: std::thread::JoinHandle<()>,
}

impl PingPong {
    /// Starts the echo thread and connects.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            stream.set_nodelay(true).expect("nodelay");
            let mut buf = [0u8; PING];
            while stream.read_exact(&mut buf).is_ok() {
                if stream.write_all(&buf).is_err() {
                    break;
                }
            }
        });
        let client = TcpStream::connect(addr).expect("connect");
        client.set_nodelay(true).expect("nodelay");
        Self { client, server }
    }

    /// `count` round trips; each one's time.
    pub fn round_trips(&mut self, count: usize) -> Vec<Duration> {
        let mut buf = [7u8; PING];
        (0..count)
            .map(|_| {
                let started = Instant::now();
                self.client.write_all(&buf).expect("ping");
                self.client.read_exact(&mut buf).expect("pong");
                started.elapsed()
            })
            .collect()
    }

    /// Closes the connection and joins the echo thread.
    pub fn stop(self) {
        drop(self.client);
        self.server.join().expect("echo thread");
    }
}
