//! The driver task: the one task of a node that owns the sockets of its connections and carries
//! out everything the [`Node`] asks for. At every wake-up it takes what woke it (sockets that
//! became ready, connections from listener and dial tasks, handle requests), feeds what arrived
//! into the node, then drains the node's outputs: transmits are written at once, without waiting
//! (what a socket does not take waits in that socket's buffer under a write deadline), events go
//! to the host, and dial requests become dial tasks. It then sets its one timer to the earliest
//! deadline (the node's, a write deadline, the refusal summary's) and sleeps.
//!
//! Handles change the node directly under its lock and wake this task (see [`crate::shared`]),
//! so the task never waits on a handle and a handle never waits on the task unless it wants an
//! answer only sockets can give (a bound address, a one-shot dial's outcome).

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use futures_lite::Stream;
use skychat_core::{CloseReason, ConnId, ConnKind, Event, Output, PublicKey, Suite};

use crate::dial::{DialSpec, dial};
use crate::error::DialError;
use crate::events::EventSink;
use crate::listener::accept_loop;
use crate::mesh::{MeshDialer, MeshInput};
use crate::refusal_log::RefusalLog;
use crate::runtime::Runtime;
use crate::shared::{NodeState, Request, Shared, SocketWaker};
use crate::socket::{Link, ReadOutcome, Socket, WriteOutcome};
use crate::tasks::{DialPurpose, Input, TaskContext};

/// Size of the node's one read buffer; one read takes at most this much.
pub(crate) const READ_BUFFER: usize = 64 * 1024;

/// Reads from one socket per wake-up before the others get their turn.
const READS_PER_SOCKET: usize = 4;

/// Sockets polled per wake-up before the node's outputs are carried out; the rest wait for the
/// next wake-up, after other tasks have run.
const BATCH: usize = 256;

/// New connections (accepted or dialed) taken per wake-up. Few, so that under a flood of new
/// connections the sockets of handshakes under way are read often: each new connection may
/// evict a pending one at the cap.
const NEW_CONNECTIONS_PER_WAKE: usize = 32;

/// How long the final flush of a closed connection may take (bounded further by the write
/// deadline). Shutdown waits at most this long for peers to take their close frames.
pub(crate) const CLOSE_FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// The driver task's state.
pub(crate) struct Driver<R: Runtime> {
    shared: Arc<Shared>,
    /// The node's clock origin.
    start: Instant,
    /// The node's idle timeout: a socket that takes no bytes for this long fails.
    stall_limit: Duration,
    handshake_timeout: Duration,
    /// Dropped at shutdown: listener and dial tasks see it and end.
    stop: Option<Sender<()>>,
    ctx: Option<TaskContext<R>>,
    alive: Receiver<()>,
    inputs: Pin<Box<Receiver<Input<R::TcpStream>>>>,
    /// Connections from an attached visor transport, and its dials' outcomes.
    mesh_inputs: Pin<Box<Receiver<MeshInput>>>,
    mesh_inputs_tx: Sender<MeshInput>,
    events: EventSink,
    keepalive: Option<Duration>,
    sockets: HashMap<ConnId, Socket<Link<R::TcpStream>>>,
    /// Sockets with bytes waiting (their write deadlines run).
    blocked: HashSet<ConnId>,
    /// Sockets to poll at the next wake-up: new ones, and ones that had more to read.
    carried_over: Vec<ConnId>,
    one_shots: HashMap<ConnId, Sender<Result<ConnId, DialError>>>,
    timer: R::Timer,
    timer_set_at: Option<Duration>,
    node_deadline: Option<Duration>,
    refusal_log: RefusalLog,
    read_buffer: Box<[u8]>,
}

impl<R: Runtime> Driver<R> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        shared: Arc<Shared>,
        runtime: &R,
        ctx: TaskContext<R>,
        stop: Sender<()>,
        alive: Receiver<()>,
        inputs: Receiver<Input<R::TcpStream>>,
        mesh_inputs: (Sender<MeshInput>, Receiver<MeshInput>),
        events: EventSink,
        keepalive: Option<Duration>,
    ) -> Self {
        let timer = runtime.timer();
        let (start, stall_limit, handshake_timeout) = {
            let state = shared.lock();
            let config = state.node.config();
            (state.start(), config.idle_timeout, config.handshake_timeout)
        };
        Self {
            shared,
            start,
            stall_limit,
            handshake_timeout,
            stop: Some(stop),
            ctx: Some(ctx),
            alive,
            inputs: Box::pin(inputs),
            mesh_inputs: Box::pin(mesh_inputs.1),
            mesh_inputs_tx: mesh_inputs.0,
            events,
            keepalive,
            sockets: HashMap::new(),
            blocked: HashSet::new(),
            carried_over: Vec::new(),
            one_shots: HashMap::new(),
            timer,
            timer_set_at: None,
            node_deadline: None,
            refusal_log: RefusalLog::default(),
            read_buffer: vec![0; READ_BUFFER].into_boxed_slice(),
        }
    }

    /// Runs until shutdown is asked for or every handle is dropped, then shuts down.
    pub async fn run(mut self) {
        std::future::poll_fn(|cx| self.poll_running(cx)).await;
        self.shut_down().await;
    }

    /// One wake-up while the node runs; ready when it is time to shut down.
    fn poll_running(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let wakes = self.shared.wakeup.take(cx.waker());
            if wakes.stop {
                return Poll::Ready(());
            }
            for request in wakes.requests {
                self.on_request(request);
            }
            let shared = self.shared.clone();
            let mut state = shared.lock();
            let mut budget = BATCH;
            let mut ready = std::mem::take(&mut self.carried_over);
            ready.extend(wakes.ready);
            for (i, conn) in ready.iter().enumerate() {
                if budget == 0 {
                    self.carried_over.extend_from_slice(&ready[i..]);
                    break;
                }
                budget -= 1;
                self.poll_socket(&mut state, *conn);
            }
            // New connections after the sockets that woke: a connection mid-handshake is read
            // before a flood of new ones can push it out of the pending handshakes.
            let mut budget = NEW_CONNECTIONS_PER_WAKE;
            let mut inputs_left = true;
            while budget > 0 {
                match self.inputs.as_mut().poll_next(cx) {
                    Poll::Ready(Some(input)) => self.on_input(&mut state, input),
                    _ => {
                        inputs_left = false;
                        break;
                    }
                }
                budget -= 1;
            }
            let mut mesh_left = true;
            while budget > 0 {
                match self.mesh_inputs.as_mut().poll_next(cx) {
                    Poll::Ready(Some(input)) => self.on_mesh_input(&mut state, input),
                    _ => {
                        mesh_left = false;
                        break;
                    }
                }
                budget -= 1;
            }
            let now = state.now();
            if self.node_deadline.is_some_and(|at| at <= now) {
                state.node.handle_timeout(now);
            }
            self.fail_stalled_writes(&mut state, now);
            self.carry_out(&mut state);
            drop(state);
            if inputs_left || mesh_left || !self.carried_over.is_empty() {
                // More to do: let other tasks run first.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if self.arm_timer(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }

    /// Sets the timer to the earliest deadline and polls it: ready if that deadline has passed.
    fn arm_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = [
            self.node_deadline,
            self.refusal_log.deadline(),
            self.next_write_deadline(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(deadline) = deadline else {
            // A timer still set fires for nothing, once: cheaper than resetting it.
            return Poll::Pending;
        };
        // Reset only for an earlier deadline. The node moves its deadline later at almost every
        // message (the keepalive restarts), and resetting the runtime's timer each time costs a
        // round through its reactor; a timer that fires early only wakes this loop once, which
        // then sets it to the deadline of that time.
        if self.timer_set_at.is_none_or(|set| deadline < set) {
            R::set_timer(&mut self.timer, self.start + deadline);
            self.timer_set_at = Some(deadline);
        }
        match R::poll_timer(&mut self.timer, cx) {
            Poll::Ready(()) => {
                self.timer_set_at = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn on_request(&mut self, request: Request) {
        let Some(ctx) = self.ctx.clone() else {
            return;
        };
        match request {
            Request::Listen(addr, reply) => {
                let keepalive = self.keepalive;
                self.spawn(async move {
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
            Request::DialOnce(peer, addr, reply) => {
                self.spawn_dial(peer, addr, DialPurpose::OneShot(reply));
            }
        }
    }

    fn on_input(&mut self, state: &mut NodeState, input: Input<R::TcpStream>) {
        let now = state.now();
        match input {
            Input::Accepted(stream) => match state.node.accept(now) {
                Ok(conn) => self.add_socket(state, conn, Link::Tcp(stream)),
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
                    let conn = state.node.connect(now, peer, ConnKind::Persistent);
                    self.add_socket(state, conn, Link::Tcp(stream));
                }
                (DialPurpose::Persistent, Err(_)) => state.node.dial_failed(now, peer),
                (DialPurpose::OneShot(reply), Ok(stream)) => {
                    let conn = state.node.connect(now, peer, ConnKind::OneShot);
                    self.one_shots.insert(conn, reply);
                    self.add_socket(state, conn, Link::Tcp(stream));
                }
                (DialPurpose::OneShot(reply), Err(e)) => {
                    let _ = reply.try_send(Err(e));
                }
            },
        }
    }

    fn on_mesh_input(&mut self, state: &mut NodeState, input: MeshInput) {
        let now = state.now();
        match input {
            MeshInput::Accepted {
                peer,
                network,
                stream,
            } => match state.node.accept_mesh(now, peer, network) {
                Ok(conn) => self.add_socket(state, conn, Link::Mesh(stream)),
                Err(e) => {
                    log::debug!("refusing a {network} connection from {}: {e}", peer.short());
                    stream.shutdown();
                }
            },
            MeshInput::Dialed { peer, result } => match result {
                Ok((network, stream)) => {
                    match state
                        .node
                        .connect_mesh(now, peer, network, ConnKind::Persistent)
                    {
                        Ok(conn) => self.add_socket(state, conn, Link::Mesh(stream)),
                        Err(e) => {
                            log::debug!("dropping a {network} dial to {}: {e}", peer.short());
                            stream.shutdown();
                            state.node.dial_failed(now, peer);
                        }
                    }
                }
                Err(e) => {
                    log::debug!("mesh dial to {} failed: {e}", peer.short());
                    state.node.dial_failed(now, peer);
                }
            },
        }
    }

    /// Takes a connection's socket and polls it at once: an initiator's first message, usually
    /// there already, reaches the node before newer connections can crowd it out of the pending
    /// handshakes, and the read registers the socket's waker.
    fn add_socket(&mut self, state: &mut NodeState, conn: ConnId, stream: Link<R::TcpStream>) {
        let waker = SocketWaker::new(conn, self.shared.wakeup.clone());
        self.sockets.insert(conn, Socket::new(stream, waker));
        self.poll_socket(state, conn);
    }

    /// Polls a socket that woke: flushes what waits for it, and reads what arrived.
    fn poll_socket(&mut self, state: &mut NodeState, conn: ConnId) {
        let Some(socket) = self.sockets.get_mut(&conn) else {
            return;
        };
        socket.polling();
        let now = state.now();
        if socket.has_unwritten() {
            match socket.flush(now) {
                WriteOutcome::Done => {
                    self.blocked.remove(&conn);
                }
                WriteOutcome::Blocked => {}
                WriteOutcome::Failed => {
                    self.socket_failed(state, conn);
                    return;
                }
            }
        }
        let Some(socket) = self.sockets.get_mut(&conn) else {
            return;
        };
        if socket.closing_since.is_some() {
            if !socket.has_unwritten() {
                self.close_socket(conn);
            }
            return;
        }
        for _ in 0..READS_PER_SOCKET {
            match socket.read(&mut self.read_buffer) {
                ReadOutcome::Data(n) => {
                    state.node.handle_receive(now, conn, &self.read_buffer[..n])
                }
                ReadOutcome::Closed => {
                    state.node.handle_socket_closed(now, conn);
                    return;
                }
                ReadOutcome::Pending => return,
            }
        }
        self.carried_over.push(conn);
    }

    /// A socket failed or its write stalled: nothing more can be written to it, so it closes at
    /// once, and the node hears of it unless it closed the connection itself.
    fn socket_failed(&mut self, state: &mut NodeState, conn: ConnId) {
        let closing = self
            .sockets
            .get(&conn)
            .is_some_and(|s| s.closing_since.is_some());
        self.close_socket(conn);
        if !closing {
            state.node.handle_socket_closed(state.now(), conn);
        }
    }

    fn close_socket(&mut self, conn: ConnId) {
        self.blocked.remove(&conn);
        if let Some(socket) = self.sockets.remove(&conn) {
            shutdown::<R>(&socket.stream);
        }
    }

    /// The earliest write deadline: a socket that has taken nothing for the idle timeout (or,
    /// once closed by the node, the close flush limit) fails.
    fn next_write_deadline(&self) -> Option<Duration> {
        let limit = self.stall_limit;
        self.blocked
            .iter()
            .filter_map(|conn| self.sockets.get(conn))
            .filter_map(|socket| write_deadline(socket, limit))
            .min()
    }

    fn fail_stalled_writes(&mut self, state: &mut NodeState, now: Duration) {
        if self.blocked.is_empty() {
            return;
        }
        let limit = self.stall_limit;
        let stalled: Vec<ConnId> = self
            .blocked
            .iter()
            .filter(|conn| {
                self.sockets
                    .get(conn)
                    .and_then(|socket| write_deadline(socket, limit))
                    .is_some_and(|at| at <= now)
            })
            .copied()
            .collect();
        for conn in stalled {
            log::debug!("a write made no progress in time; closing the connection");
            self.socket_failed(state, conn);
        }
    }

    /// Carries out the node's outputs until it has nothing more to do.
    fn carry_out(&mut self, state: &mut NodeState) {
        let now = state.now();
        loop {
            match state.node.poll_output() {
                Output::Transmit(transmit) => {
                    let Some(socket) = self.sockets.get_mut(&transmit.conn) else {
                        continue;
                    };
                    match socket.send(transmit.data, now) {
                        WriteOutcome::Done => {}
                        WriteOutcome::Blocked => {
                            self.blocked.insert(transmit.conn);
                        }
                        WriteOutcome::Failed => self.socket_failed(state, transmit.conn),
                    }
                }
                Output::Dial { peer } => match (state.addresses.get(&peer), &state.mesh) {
                    (Some(addr), _) => {
                        self.spawn_dial(peer, addr.clone(), DialPurpose::Persistent);
                    }
                    (None, Some(mesh)) if peer.suite() == Suite::Skywire => {
                        self.spawn_mesh_dial(peer, mesh.clone());
                    }
                    (None, _) => state.node.dial_failed(now, peer),
                },
                Output::Event(event) => {
                    self.on_event(&event, now);
                    self.events.push(event);
                }
                Output::Timeout(deadline) => {
                    if let Some(line) = self.refusal_log.observe(now, state.node.refusals()) {
                        log::warn!("{line}");
                    }
                    self.node_deadline = deadline;
                    self.events.publish();
                    return;
                }
            }
        }
    }

    fn on_event(&mut self, event: &Event, now: Duration) {
        match event {
            Event::Authenticated { conn, .. } => {
                if let Some(reply) = self.one_shots.remove(conn) {
                    let _ = reply.try_send(Ok(*conn));
                }
            }
            Event::ConnectionClosed { conn, reason, .. } => {
                if let Some(socket) = self.sockets.get_mut(conn) {
                    if socket.has_unwritten() {
                        socket.closing_since = Some(now);
                    } else {
                        self.close_socket(*conn);
                    }
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
        let Some(ctx) = self.ctx.clone() else {
            return;
        };
        let spec = DialSpec {
            peer,
            addr,
            purpose,
            limit: self.handshake_timeout,
            keepalive: self.keepalive,
        };
        ctx.spawn(dial(ctx.clone(), spec));
    }

    fn spawn_mesh_dial(&self, peer: PublicKey, mesh: Arc<dyn MeshDialer>) {
        let Some(ctx) = self.ctx.clone() else {
            return;
        };
        let dialing = mesh.dial(peer);
        let task_ctx = ctx.clone();
        let inputs = self.mesh_inputs_tx.clone();
        ctx.spawn(async move {
            let Some(result) = task_ctx.until_stopped(dialing).await else {
                return;
            };
            let _ = inputs.send(MeshInput::Dialed { peer, result }).await;
        });
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        if let Some(ctx) = &self.ctx {
            ctx.spawn(task);
        }
    }

    /// Closes every connection with a close frame, gives the sockets up to the close flush limit
    /// to take what waits, closes them, and waits for every task of the node to end.
    async fn shut_down(mut self) {
        {
            let shared = self.shared.clone();
            let mut state = shared.lock();
            state.stopped = true;
            let now = state.now();
            state.node.close_all(now);
            self.carry_out(&mut state);
            // Connections the node no longer knew (closed, flushing) close the same way.
            for socket in self.sockets.values_mut() {
                socket.closing_since.get_or_insert(now);
            }
        }
        for (_, reply) in self.one_shots.drain() {
            let _ = reply.try_send(Err(DialError::Handshake(CloseReason::ClosedByHost)));
        }
        // Listeners and dials stop.
        self.stop = None;
        self.ctx = None;
        let flush_until = self.now() + CLOSE_FLUSH_LIMIT;
        std::future::poll_fn(|cx| self.poll_final_flush(cx, flush_until)).await;
        for (_, socket) in self.sockets.drain() {
            shutdown::<R>(&socket.stream);
        }
        self.inputs.close();
        // Drain so that tasks blocked on a full queue see it closed and end.
        while let Ok(input) = self.inputs.try_recv() {
            match input {
                Input::Accepted(stream) => R::shutdown(&stream),
                Input::Dialed { result, .. } => {
                    if let Ok(stream) = result {
                        R::shutdown(&stream);
                    }
                }
            }
        }
        self.mesh_inputs.close();
        while let Ok(input) = self.mesh_inputs.try_recv() {
            match input {
                MeshInput::Accepted { stream, .. }
                | MeshInput::Dialed {
                    result: Ok((_, stream)),
                    ..
                } => stream.shutdown(),
                MeshInput::Dialed { result: Err(_), .. } => {}
            }
        }
        let _ = self.alive.recv().await;
        self.events.close();
        self.shared.wakeup.finish();
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Flushes every socket until all have taken their bytes or `until` passes.
    fn poll_final_flush(&mut self, cx: &mut Context<'_>, until: Duration) -> Poll<()> {
        loop {
            let _ = self.shared.wakeup.take(cx.waker());
            let now = self.now();
            let conns: Vec<ConnId> = self.sockets.keys().copied().collect();
            for conn in conns {
                let Some(socket) = self.sockets.get_mut(&conn) else {
                    continue;
                };
                socket.polling();
                if socket.flush(now) != WriteOutcome::Blocked {
                    self.close_socket(conn);
                }
            }
            if self.sockets.is_empty() || now >= until {
                return Poll::Ready(());
            }
            if self.timer_set_at != Some(until) {
                R::set_timer(&mut self.timer, self.start + until);
                self.timer_set_at = Some(until);
            }
            if R::poll_timer(&mut self.timer, cx).is_pending() {
                return Poll::Pending;
            }
            self.timer_set_at = None;
        }
    }
}

/// Closes a connection's socket or mesh pipe for both directions.
fn shutdown<R: Runtime>(link: &Link<R::TcpStream>) {
    match link {
        Link::Tcp(stream) => R::shutdown(stream),
        Link::Mesh(stream) => stream.shutdown(),
    }
}

/// When a socket's write deadline passes, if bytes wait for it.
fn write_deadline<S>(socket: &Socket<S>, stall_limit: Duration) -> Option<Duration> {
    let progress = socket.last_progress?;
    let stalled = progress + stall_limit;
    Some(match socket.closing_since {
        Some(closed) => stalled.min(closed + CLOSE_FLUSH_LIMIT.min(stall_limit)),
        None => stalled,
    })
}
