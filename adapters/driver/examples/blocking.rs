//! Porting guide: the skychat core driven with blocking `std::net` sockets and threads, no async.
//!
//! One thread owns each [`Node`]. Everything that happens (an accepted socket, bytes read, end of
//! stream) reaches it as an [`Input`] over a channel; one thread per connection reads its socket.
//! The node thread writes transmits itself and waits for the next input no longer than the
//! node's next deadline. A listener and a dialer exchange one message and its ack, then the dialer
//! closes the connection with a close frame.
//!
//! Run it with `cargo run -p skychat-driver --example blocking`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread;
use std::time::{Duration, Instant};

use skychat_core::{
    ChatMessage, CloseCode, CloseReason, ConnId, ConnKind, Event, Node, NodeConfig, Output,
    PublicKey, SecretKey, Whitelist,
};

/// What the node thread is told.
enum Input {
    Accepted(TcpStream),
    Received(ConnId, Vec<u8>),
    Closed(ConnId),
}

/// A node, its sockets, and the clock origin.
struct Host {
    node: Node,
    start: Instant,
    sockets: HashMap<ConnId, TcpStream>,
    inputs: Sender<Input>,
}

impl Host {
    fn new(node: Node, inputs: Sender<Input>) -> Self {
        Self {
            node,
            start: Instant::now(),
            sockets: HashMap::new(),
            inputs,
        }
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Starts the reader thread of a registered connection.
    fn add_socket(&mut self, conn: ConnId, stream: TcpStream) -> std::io::Result<()> {
        stream.set_nodelay(true)?;
        let mut reader = stream.try_clone()?;
        let inputs = self.inputs.clone();
        thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            loop {
                match reader.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if inputs
                            .send(Input::Received(conn, buffer[..n].to_vec()))
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
            let _ = inputs.send(Input::Closed(conn));
        });
        self.sockets.insert(conn, stream);
        Ok(())
    }

    fn handle(&mut self, input: Input) -> std::io::Result<()> {
        let now = self.now();
        match input {
            Input::Accepted(stream) => match self.node.accept(now) {
                Ok(conn) => self.add_socket(conn, stream)?,
                // Every pending handshake is one we dialed: close at once (the node counts it).
                Err(_) => drop(stream),
            },
            Input::Received(conn, bytes) => self.node.handle_receive(now, conn, &bytes),
            Input::Closed(conn) => self.node.handle_socket_closed(now, conn),
        }
        Ok(())
    }

    /// Carries out outputs until the node waits; returns its events and next deadline.
    fn flush(&mut self, events: &mut Vec<Event>) -> Option<Duration> {
        loop {
            match self.node.poll_output() {
                Output::Transmit(transmit) => {
                    let written = self
                        .sockets
                        .get_mut(&transmit.conn)
                        .map(|socket| socket.write_all(&transmit.data));
                    if let Some(Err(_)) = written {
                        let now = self.now();
                        self.node.handle_socket_closed(now, transmit.conn);
                    }
                }
                Output::Dial { peer } => {
                    // A host with persistent peers looks up the peer's address, dials it on a
                    // thread, and reports back with `connect` (kind `Persistent`) or
                    // `dial_failed`. This example keeps no persistent peers and no addresses.
                    let now = self.now();
                    self.node.dial_failed(now, peer);
                }
                Output::Event(event) => {
                    // The final transmit for a closed connection came before this event.
                    if let Event::ConnectionClosed { conn, .. } = &event
                        && let Some(socket) = self.sockets.remove(conn)
                    {
                        let _ = socket.shutdown(Shutdown::Both);
                    }
                    events.push(event);
                }
                Output::Timeout(deadline) => return deadline,
            }
        }
    }

    /// Runs the node until `step` says it is done. `step` sees each event and may give the
    /// node commands.
    fn run(
        &mut self,
        inputs: &Receiver<Input>,
        limit: Duration,
        mut step: impl FnMut(&mut Node, Duration, &Event) -> bool,
    ) -> Result<(), String> {
        let give_up = Instant::now() + limit;
        loop {
            let mut events = Vec::new();
            let deadline = self.flush(&mut events);
            for event in &events {
                let now = self.now();
                if step(&mut self.node, now, event) {
                    self.flush(&mut Vec::new());
                    return Ok(());
                }
            }
            if !events.is_empty() {
                continue; // the step may have given commands with outputs
            }
            let now = self.now();
            if Instant::now() >= give_up {
                return Err(format!("timed out; {:?}", self.node));
            }
            let wait = deadline
                .map_or(Duration::MAX, |at| at.saturating_sub(now))
                .min(give_up - Instant::now());
            match inputs.recv_timeout(wait) {
                Ok(input) => self.handle(input).map_err(|e| e.to_string())?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err("inputs closed".into()),
            }
            while let Ok(input) = inputs.try_recv() {
                self.handle(input).map_err(|e| e.to_string())?;
            }
            let now = self.now();
            self.node.handle_timeout(now);
        }
    }
}

/// What the exchange produced, for checking.
pub struct Outcome {
    /// The message as the dialer sent it.
    pub sent: ChatMessage,
    /// The message as the listener received it.
    pub received: ChatMessage,
    /// Why the listener's connection ended.
    pub listener_close: CloseReason,
}

fn seed(byte: u8) -> [u8; 32] {
    // A real host takes the seed from the OS (for example the `getrandom` crate).
    [byte; 32]
}

/// Runs a listener and a dialer on loopback until a message is delivered and acked.
pub fn run() -> Result<Outcome, String> {
    let limit = Duration::from_secs(20);
    let listener_secret = SecretKey::from_bytes([0x11; 32]);
    let dialer_secret = SecretKey::from_bytes([0x22; 32]);
    let listener_key: PublicKey = listener_secret.public_key();
    let dialer_key = dialer_secret.public_key();

    // Listener: an accept thread feeds the node thread.
    let socket = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = socket.local_addr().map_err(|e| e.to_string())?;
    let (listener_tx, listener_rx) = channel();
    let accepted = listener_tx.clone();
    thread::spawn(move || {
        for stream in socket.incoming() {
            match stream {
                Ok(stream) => {
                    if accepted.send(Input::Accepted(stream)).is_err() {
                        return;
                    }
                }
                Err(e) => eprintln!("accept failed: {e}"), // a real host backs off here
            }
        }
    });
    let config = NodeConfig {
        whitelist: Whitelist::new([dialer_key]),
        ..NodeConfig::default()
    };
    let listener_node = Node::new(listener_secret, config, seed(1));
    let listener = thread::spawn(move || {
        let mut host = Host::new(listener_node, listener_tx);
        let mut received = None;
        let mut close = None;
        host.run(&listener_rx, limit, |node, now, event| match event {
            Event::MessageReceived { peer, message, .. } => {
                // Store the message durably here, then confirm; the ack follows.
                node.confirm_stored(now, *peer, message.id);
                received = Some(message.clone());
                false
            }
            Event::ConnectionClosed { reason, .. } => {
                close = Some(reason.clone());
                true
            }
            _ => false,
        })?;
        Ok::<_, String>((received.ok_or("no message")?, close.ok_or("no close")?))
    });

    // Dialer: connect, register the connection with the pinned key, queue a message.
    let (dialer_tx, dialer_rx) = channel();
    let mut host = Host::new(
        Node::new(dialer_secret, NodeConfig::default(), seed(2)),
        dialer_tx,
    );
    let stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let now = host.now();
    let conn = host.node.connect(now, listener_key, ConnKind::OneShot);
    host.add_socket(conn, stream).map_err(|e| e.to_string())?;
    let sent = host
        .node
        .send_message(
            now,
            listener_key,
            "hello over blocking sockets".into(),
            None,
            0,
        )
        .map_err(|e| e.to_string())?;
    let id = sent.id;
    host.run(&dialer_rx, limit, |node, now, event| match event {
        Event::MessageAcked { id: acked, .. } if *acked == id => {
            node.close(now, conn);
            true
        }
        _ => false,
    })?;

    let (received, listener_close) = listener.join().map_err(|_| "listener panicked")??;
    Ok(Outcome {
        sent,
        received,
        listener_close,
    })
}

fn main() {
    match run() {
        Ok(outcome) => {
            assert_eq!(outcome.sent, outcome.received);
            assert_eq!(
                outcome.listener_close,
                CloseReason::RemoteClosed(CloseCode::Normal)
            );
            println!("delivered and acked: {:?}", outcome.received.body);
        }
        Err(e) => {
            eprintln!("failed: {e}");
            std::process::exit(1);
        }
    }
}
