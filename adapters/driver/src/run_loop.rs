//! The run loop: one task owns the [`Node`]. It waits for a socket input, a host command or the
//! node's next deadline, feeds what arrived (and whatever else is already queued) into the node,
//! then carries out the node's outputs: transmits go to connection writers, events to the host
//! and to the host duties (dialing, closing sockets, answering one-shot dials).

use std::collections::HashMap;
use std::pin::Pin;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use skychat_core::{CloseReason, ConnId, ConnKind, Event, Node, Output, PublicKey};

use crate::connection::{read_loop, read_ready, write_loop};
use crate::dial::{DialSpec, dial};
use crate::error::DialError;
use crate::handle::Command;
use crate::listener::accept_loop;
use crate::refusal_log::RefusalLog;
use crate::runtime::Runtime;
use crate::tasks::{DialPurpose, Input, TaskContext, Write};

/// Inputs handled per wake-up before the node's outputs are carried out, so that bytes arriving
/// on many sockets at once produce one transmit per socket.
const BATCH: usize = 256;

/// The run loop's state: the node and what the host tracks around it.
pub(crate) struct RunLoop<R: Runtime> {
    pub node: Node,
    pub start: Instant,
    pub ctx: TaskContext<R>,
    pub inputs: Receiver<Input<R::TcpStream>>,
    pub commands: Receiver<Command>,
    pub events: Sender<Event>,
    /// Dropped at shutdown, which stops listeners and dials.
    pub stop: Sender<()>,
    pub alive: Receiver<()>,
    pub keepalive: Option<std::time::Duration>,
    writers: HashMap<ConnId, Sender<Write>>,
    addresses: HashMap<PublicKey, String>,
    one_shots: HashMap<ConnId, Sender<Result<ConnId, DialError>>>,
    deadline: Option<Duration>,
    refusal_log: RefusalLog,
}

enum Wake<S> {
    Input(Input<S>),
    Command(Option<Command>),
    Timer,
}

type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

impl<R: Runtime> RunLoop<R> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        node: Node,
        ctx: TaskContext<R>,
        inputs: Receiver<Input<R::TcpStream>>,
        commands: Receiver<Command>,
        events: Sender<Event>,
        stop: Sender<()>,
        alive: Receiver<()>,
        keepalive: Option<Duration>,
    ) -> Self {
        Self {
            node,
            start: Instant::now(),
            ctx,
            inputs,
            commands,
            events,
            stop,
            alive,
            keepalive,
            writers: HashMap::new(),
            addresses: HashMap::new(),
            one_shots: HashMap::new(),
            deadline: None,
            refusal_log: RefusalLog::default(),
        }
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Runs until shutdown is asked for or every handle is dropped.
    pub async fn run(mut self) {
        let mut sleep: Option<(Duration, Sleep)> = None;
        let mut shutdown_replies = Vec::new();
        self.flush();
        'run: loop {
            if sleep.as_ref().map(|(at, _)| Some(*at)) != Some(self.deadline) {
                sleep = self.deadline.map(|at| {
                    let timer: Sleep = Box::pin(self.ctx.runtime.sleep_until(self.start + at));
                    (at, timer)
                });
            }
            let wake = {
                let input = async { self.inputs.recv().await.map_or(Wake::Timer, Wake::Input) };
                let command = async { Wake::Command(self.commands.recv().await.ok()) };
                let timer = async {
                    match sleep.as_mut() {
                        Some((_, timer)) => timer.as_mut().await,
                        None => std::future::pending().await,
                    }
                    Wake::Timer
                };
                futures_lite::future::or(input, futures_lite::future::or(command, timer)).await
            };
            match wake {
                Wake::Input(input) => self.on_input(input),
                Wake::Command(Some(command)) => {
                    if let Some(reply) = self.on_command(command) {
                        shutdown_replies.push(reply);
                        break 'run;
                    }
                }
                Wake::Command(None) => break 'run,
                Wake::Timer => sleep = None,
            }
            for _ in 0..BATCH {
                let Ok(input) = self.inputs.try_recv() else {
                    break;
                };
                self.on_input(input);
            }
            for _ in 0..BATCH {
                let Ok(command) = self.commands.try_recv() else {
                    break;
                };
                if let Some(reply) = self.on_command(command) {
                    shutdown_replies.push(reply);
                    break 'run;
                }
            }
            self.node.handle_timeout(self.now());
            self.flush();
        }
        self.shut_down().await;
        drop(shutdown_replies);
    }

    /// Closes everything, waits for every task to end, and refuses queued commands.
    async fn shut_down(mut self) {
        self.node.close_all(self.now());
        self.flush();
        for (_, reply) in self.one_shots.drain() {
            let _ = reply.try_send(Err(DialError::Handshake(CloseReason::ClosedByHost)));
        }
        self.writers.clear();
        self.inputs.close();
        self.commands.close();
        let RunLoop {
            ctx,
            stop,
            alive,
            inputs,
            commands,
            events,
            ..
        } = self;
        drop(stop);
        drop(ctx);
        // Drain so that readers blocked on a full queue see it closed and end.
        while inputs.try_recv().is_ok() {}
        let _ = alive.recv().await;
        while commands.try_recv().is_ok() {}
        drop(events);
    }

    fn on_input(&mut self, input: Input<R::TcpStream>) {
        let now = self.now();
        match input {
            Input::Received(conn, bytes) => self.node.handle_receive(now, conn, &bytes),
            Input::SocketClosed(conn) => self.node.handle_socket_closed(now, conn),
            Input::Accepted(mut stream) => match self.node.accept(now) {
                Ok(conn) => {
                    if let Some(bytes) = read_ready(&mut stream) {
                        self.node.handle_receive(now, conn, &bytes);
                    }
                    self.spawn_connection(conn, stream);
                }
                Err(e) => {
                    // Counted by the node and summarised by the refusal log.
                    log::debug!("refusing an inbound connection: {e}");
                    R::shutdown(&stream);
                }
            },
            Input::Dialed {
                peer,
                purpose,
                result,
            } => match (purpose, result) {
                (DialPurpose::Persistent, Ok(stream)) => {
                    let conn = self.node.connect(now, peer, ConnKind::Persistent);
                    self.spawn_connection(conn, stream);
                }
                (DialPurpose::Persistent, Err(_)) => self.node.dial_failed(now, peer),
                (DialPurpose::OneShot(reply), Ok(stream)) => {
                    let conn = self.node.connect(now, peer, ConnKind::OneShot);
                    self.one_shots.insert(conn, reply);
                    self.spawn_connection(conn, stream);
                }
                (DialPurpose::OneShot(reply), Err(e)) => {
                    let _ = reply.try_send(Err(e));
                }
            },
        }
    }

    /// Handles one host command; returns the reply channel if it asks for shutdown.
    fn on_command(&mut self, command: Command) -> Option<Sender<()>> {
        let now = self.now();
        match command {
            Command::Listen(addr, reply) => {
                let ctx = self.ctx.clone();
                let keepalive = self.keepalive;
                self.ctx.spawn(async move {
                    let bound = ctx.runtime.bind(addr).await.and_then(|listener| {
                        R::local_addr(&listener).map(|local| (listener, local))
                    });
                    match bound {
                        Ok((listener, local)) => {
                            let _ = reply.try_send(Ok(local));
                            log::info!("listening on {local}");
                            accept_loop(ctx, listener, keepalive).await;
                        }
                        Err(e) => {
                            let _ = reply.try_send(Err(e));
                        }
                    }
                });
            }
            Command::KeepConnected(peer, addr) => {
                self.addresses.insert(peer, addr);
                self.node.add_persistent_peer(now, peer);
            }
            Command::DialOnce(peer, addr, reply) => {
                self.spawn_dial(peer, addr, DialPurpose::OneShot(reply));
            }
            Command::Send {
                peer,
                body,
                reply_to,
                sent_at_ms,
                reply,
            } => {
                let result = self
                    .node
                    .send_message(now, peer, body, reply_to, sent_at_ms);
                let _ = reply.try_send(result);
            }
            Command::Hold(drafts, sent_at_ms, reply) => {
                let results = drafts
                    .into_iter()
                    .map(|d| {
                        self.node
                            .hold_message(now, d.peer, d.body, d.reply_to, sent_at_ms)
                    })
                    .collect();
                let _ = reply.try_send(results);
            }
            Command::Release(messages) => {
                for (peer, id) in messages {
                    self.node.release_message(now, peer, id);
                }
            }
            Command::Withdraw(messages) => {
                // Newest first: withdrawing one message also withdraws the later ones of its
                // peer, which then need no call of their own.
                for (peer, id) in messages.into_iter().rev() {
                    self.node.withdraw_message(now, peer, id);
                }
            }
            Command::ConfirmStored(messages) => {
                for (peer, id) in messages {
                    self.node.confirm_stored(now, peer, id);
                }
            }
            Command::StorageFailed(peer, id) => self.node.storage_failed(now, peer, id),
            Command::ReadReceipt(peer, id) => self.node.send_read_receipt(now, peer, id),
            Command::Close(conn) => self.node.close(now, conn),
            Command::Sessions(reply) => {
                let _ = reply.try_send(self.node.sessions());
            }
            Command::QueuedFor(peer, reply) => {
                let _ = reply.try_send(self.node.queued_for(&peer));
            }
            Command::Outbox(reply) => {
                let entries = self
                    .node
                    .outbox_entries()
                    .map(|(peer, message)| (*peer, message.clone()))
                    .collect();
                let _ = reply.try_send(entries);
            }
            Command::Dedup(reply) => {
                let _ = reply.try_send(self.node.dedup_records());
            }
            Command::Refusals(reply) => {
                let _ = reply.try_send(self.node.refusals());
            }
            Command::Shutdown(reply) => return Some(reply),
        }
        None
    }

    /// Carries out the node's outputs until it has nothing more to do.
    fn flush(&mut self) {
        loop {
            match self.node.poll_output() {
                Output::Transmit(transmit) => {
                    if let Some(writer) = self.writers.get(&transmit.conn) {
                        let _ = writer.try_send(Write::Data(transmit.data));
                    }
                }
                Output::Dial { peer } => match self.addresses.get(&peer) {
                    Some(addr) => self.spawn_dial(peer, addr.clone(), DialPurpose::Persistent),
                    None => self.node.dial_failed(self.now(), peer),
                },
                Output::Event(event) => {
                    self.on_event(&event);
                    let _ = self.events.try_send(event);
                }
                Output::Timeout(deadline) => {
                    if let Some(line) = self.refusal_log.observe(self.now(), self.node.refusals()) {
                        log::warn!("{line}");
                    }
                    self.deadline = match (deadline, self.refusal_log.deadline()) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    return;
                }
            }
        }
    }

    fn on_event(&mut self, event: &Event) {
        match event {
            Event::Authenticated { conn, .. } => {
                if let Some(reply) = self.one_shots.remove(conn) {
                    let _ = reply.try_send(Ok(*conn));
                }
            }
            Event::ConnectionClosed { conn, reason, .. } => {
                if let Some(writer) = self.writers.remove(conn) {
                    let _ = writer.try_send(Write::Close);
                }
                if let Some(reply) = self.one_shots.remove(conn) {
                    let error = match reason {
                        CloseReason::HandshakeTimeout => DialError::Timeout,
                        other => DialError::Handshake(other.clone()),
                    };
                    let _ = reply.try_send(Err(error));
                }
            }
            _ => {}
        }
    }

    fn spawn_dial(&self, peer: PublicKey, addr: String, purpose: DialPurpose) {
        let spec = DialSpec {
            peer,
            addr,
            purpose,
            limit: self.node.config().handshake_timeout,
            keepalive: self.keepalive,
        };
        self.ctx.spawn(dial(self.ctx.clone(), spec));
    }

    fn spawn_connection(&mut self, conn: ConnId, stream: R::TcpStream) {
        let (queue, writes) = async_channel::unbounded();
        self.writers.insert(conn, queue);
        let stall_limit = self.node.config().idle_timeout;
        self.ctx
            .spawn(read_loop(self.ctx.clone(), conn, stream.clone()));
        self.ctx.spawn(write_loop(
            self.ctx.clone(),
            conn,
            stream,
            writes,
            stall_limit,
        ));
    }
}
