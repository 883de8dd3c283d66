//! The link task: one task owns the app-server socket and the RPC client, and carries every
//! mesh connection between the visor's calls and the node's pipes. It polls the socket, the
//! host's commands and every pipe itself, with one waker, in the manner of the driver.
//!
//! Per connection at most one `Read` and one `Write` are in flight: a `Read` blocks at the visor
//! until bytes arrive, and is issued only while the pipe has room, so a node that does not read
//! stops the visor from reading; a `Write` carries at most [`WRITE_CHUNK`] bytes, below the
//! largest data packet a skynet route takes.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use async_channel::{Receiver, Sender};
use bytes::Bytes;
use futures_lite::{AsyncRead, AsyncWrite, Stream};
use skychat_core::{Network, PublicKey, SkywirePublicKey};
use skychat_driver::mesh::{MeshDial, MeshDialer, MeshInlet, MeshPort, MeshStream, Outbound, pipe};
use skychat_driver::runtime::timeout;
use skychat_driver::{DialError, NodeHandle, Runtime};
use skychat_visor::{Addr, Call, Client, Completion, ProcConfig, PubKey, ReadReq, Reply, WriteReq};

use crate::status::LinkStatus;

/// Bytes asked for by one `Read`, as the Go skychat asks.
const READ_LEN: i64 = 32 * 1024;
/// Bytes carried by one `Write`.
const WRITE_CHUNK: usize = 32 * 1024;
/// How long [`VisorLink::stop`] waits for the visor to take the "Stopped" status.
const STOP_LIMIT: Duration = Duration::from_secs(2);

/// How the link is set up.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// The networks to listen on and dial over, in the order dials try them.
    pub networks: Vec<Network>,
    /// How long connecting to the app server may take.
    pub connect_timeout: Duration,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            networks: vec![Network::Skynet, Network::Dmsg],
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Why the link could not start.
#[derive(Debug)]
pub enum LinkError {
    /// The app server's address did not resolve or did not answer.
    Connect {
        /// The address from `PROC_CONFIG`.
        addr: String,
        /// What failed.
        error: io::Error,
    },
    /// The config asks for no mesh network.
    NoNetwork,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect { addr, error } => write!(
                f,
                "cannot reach the visor's app server at {addr} (PROC_CONFIG app_server_addr): \
                 {error}; is the visor running?"
            ),
            Self::NoNetwork => f.write_str("no mesh network to listen on (skynet or dmsg)"),
        }
    }
}

impl std::error::Error for LinkError {}

/// The host's side of a running link.
pub struct VisorLink {
    status: Arc<Mutex<LinkStatus>>,
    commands: Sender<Command>,
    ended: Receiver<()>,
}

enum Command {
    Dial {
        peer: PublicKey,
        reply: Sender<Result<(Network, MeshStream), DialError>>,
    },
    Prefer {
        peer: PublicKey,
        network: Option<Network>,
    },
    Stop,
}

impl VisorLink {
    /// What the link is doing now.
    pub fn status(&self) -> LinkStatus {
        lock(&self.status).clone()
    }

    /// Dials of `peer` go over `network` only, from now on (`None`: skynet, then dmsg). A
    /// session already up stays in use, whatever its network.
    pub fn prefer(&self, peer: PublicKey, network: Option<Network>) {
        let _ = self.commands.try_send(Command::Prefer { peer, network });
    }

    /// Completes when the link has ended: the visor closed the app-server connection or broke
    /// its protocol (the status says which), or [`VisorLink::stop`] ran.
    pub async fn ended(&self) {
        let _ = self.ended.recv().await;
    }

    /// Tells the visor the app has stopped, closes the app-server connection (which closes
    /// every mesh connection), and waits for the task to end, within a bounded time.
    pub async fn stop<R: Runtime>(&self, runtime: &R) {
        let _ = self.commands.try_send(Command::Stop);
        let _ = timeout(runtime, STOP_LIMIT, self.ended()).await;
    }
}

fn lock(status: &Mutex<LinkStatus>) -> MutexGuard<'_, LinkStatus> {
    status.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Dials for the driver by asking the link task.
struct Dialer {
    commands: Sender<Command>,
}

impl MeshDialer for Dialer {
    fn dial(&self, peer: PublicKey) -> MeshDial {
        let commands = self.commands.clone();
        Box::pin(async move {
            let (reply, answer) = async_channel::bounded(1);
            if commands.send(Command::Dial { peer, reply }).await.is_err() {
                return Err(DialError::Visor("the visor link has ended".into()));
            }
            answer
                .recv()
                .await
                .unwrap_or_else(|_| Err(DialError::Visor("the visor link has ended".into())))
        })
    }
}

/// Connects to the visor's app server, says Hello, attaches the link to `node` as its mesh
/// transport, and starts the link task on `runtime`.
pub async fn connect<R: Runtime>(
    runtime: Arc<R>,
    proc_config: &ProcConfig,
    node: &NodeHandle,
    config: LinkConfig,
) -> Result<VisorLink, LinkError> {
    if config.networks.is_empty() {
        return Err(LinkError::NoNetwork);
    }
    let addr = proc_config.app_server_addr.clone();
    let connect_error = |error| LinkError::Connect {
        addr: addr.clone(),
        error,
    };
    let connecting = open_socket(&*runtime, &addr);
    let stream = timeout(&*runtime, config.connect_timeout, connecting)
        .await
        .unwrap_or_else(|| Err(io::ErrorKind::TimedOut.into()))
        .map_err(connect_error)?;
    let _ = R::set_nodelay(&stream);
    let status = Arc::new(Mutex::new(LinkStatus {
        connected: true,
        app_server: addr.clone(),
        visor_pk: proc_config.visor_pk.to_hex(),
        ..LinkStatus::default()
    }));
    let (commands, command_rx) = async_channel::unbounded();
    let (ended_tx, ended) = async_channel::bounded(1);
    let inlet = node.attach_mesh(Arc::new(Dialer {
        commands: commands.clone(),
    }));
    let mut task = LinkTask::<R> {
        runtime: runtime.clone(),
        stream,
        client: Client::new(&proc_config.proc_key),
        out: VecDeque::new(),
        calls: HashMap::new(),
        conns: HashMap::new(),
        commands: Box::pin(command_rx),
        inlet,
        networks: config.networks,
        local: proc_config.visor_pk,
        port: proc_config.routing_port,
        listens_pending: 0,
        preferred: HashMap::new(),
        status: status.clone(),
        read_buf: vec![0; 64 * 1024],
        stopping: false,
        _ended: ended_tx,
    };
    task.out.push_back(Bytes::from(skychat_visor::encode_hello(
        &proc_config.proc_key,
    )));
    task.start_listening();
    runtime.spawn(async move {
        let outcome = std::future::poll_fn(|cx| task.poll(cx)).await;
        task.end(outcome);
    });
    Ok(VisorLink {
        status,
        commands,
        ended,
    })
}

async fn open_socket<R: Runtime>(runtime: &R, addr: &str) -> io::Result<R::TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "resolved to no address");
    for candidate in runtime.resolve(addr.to_owned()).await? {
        match runtime.connect(candidate).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// What a call in flight is for.
enum Pending {
    Listen(Network),
    Accept(Network, u16),
    Dial {
        peer: PublicKey,
        network: Network,
        reply: Sender<Result<(Network, MeshStream), DialError>>,
    },
    Read(u16),
    Write(u16),
    CloseConn(u16),
    /// `SetAppPort`, `SetDetailedStatus("Running")`: only failures matter, and are logged.
    Notice(&'static str),
    /// `SetDetailedStatus("Stopped")`: the link ends when it is answered.
    Stopped,
}

/// One connection the visor relays.
struct Conn {
    port: MeshPort,
    peer: PublicKey,
    network: Network,
    reading: bool,
    writing: bool,
    /// `CloseConn` was sent: nothing more is read or written.
    closing: bool,
}

struct LinkTask<R: Runtime> {
    runtime: Arc<R>,
    stream: R::TcpStream,
    client: Client,
    /// Call bytes not yet taken by the socket.
    out: VecDeque<Bytes>,
    calls: HashMap<u64, Pending>,
    conns: HashMap<u16, Conn>,
    commands: Pin<Box<Receiver<Command>>>,
    inlet: MeshInlet,
    networks: Vec<Network>,
    local: PubKey,
    port: u32,
    listens_pending: usize,
    /// Peers whose dials go over one network only.
    preferred: HashMap<PublicKey, Network>,
    status: Arc<Mutex<LinkStatus>>,
    read_buf: Vec<u8>,
    stopping: bool,
    /// Dropped when the task ends, which completes [`VisorLink::ended`].
    _ended: Sender<()>,
}

/// Why the task ended.
enum Outcome {
    Stopped,
    Lost(String),
}

impl<R: Runtime> LinkTask<R> {
    fn call(&mut self, call: Call, pending: Pending) {
        match self.client.call(&call) {
            Ok((seq, bytes)) => {
                self.calls.insert(seq, pending);
                self.out.push_back(Bytes::from(bytes));
            }
            // Only a deadline Go cannot marshal fails, and the link sets none.
            Err(e) => log::warn!("visor call {:?} not sent: {e}", call.method()),
        }
    }

    fn start_listening(&mut self) {
        for network in self.networks.clone() {
            let addr = self.addr(network, self.local);
            self.listens_pending += 1;
            self.call(Call::Listen(addr), Pending::Listen(network));
        }
    }

    fn addr(&self, network: Network, key: PubKey) -> Addr {
        Addr {
            net: network.as_str().to_owned(),
            pub_key: key,
            port: self.port,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Outcome> {
        loop {
            self.take_commands(cx);
            if let Some(outcome) = self.read_socket(cx) {
                return Poll::Ready(outcome);
            }
            self.serve_pipes(cx);
            match self.write_socket(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Outcome::Lost(format!(
                        "writing to the visor's app server failed: {e}"
                    )));
                }
                Poll::Pending => return Poll::Pending,
            }
            // Everything is written; loop again only if serving produced more to write.
            if self.out.is_empty() {
                return Poll::Pending;
            }
        }
    }

    fn take_commands(&mut self, cx: &mut Context<'_>) {
        while let Poll::Ready(Some(command)) = self.commands.as_mut().poll_next(cx) {
            match command {
                Command::Dial { peer, reply } => {
                    let first = self.preferred.get(&peer).or(self.networks.first()).copied();
                    match first {
                        Some(network) if !self.stopping => self.dial(peer, network, reply),
                        _ => {
                            let _ =
                                reply.try_send(Err(DialError::Visor("the app is stopping".into())));
                        }
                    }
                }
                Command::Prefer { peer, network } => match network {
                    Some(network) if self.networks.contains(&network) => {
                        self.preferred.insert(peer, network);
                    }
                    _ => {
                        self.preferred.remove(&peer);
                    }
                },
                Command::Stop => {
                    if !self.stopping {
                        self.stopping = true;
                        self.call(Call::SetDetailedStatus("Stopped".into()), Pending::Stopped);
                    }
                }
            }
        }
    }

    fn dial(
        &mut self,
        peer: PublicKey,
        network: Network,
        reply: Sender<Result<(Network, MeshStream), DialError>>,
    ) {
        let Some(key) = peer.as_skywire() else {
            let _ = reply.try_send(Err(DialError::Visor(
                "only Skywire keys (66 hex) are reachable on the mesh".into(),
            )));
            return;
        };
        let addr = self.addr(network, PubKey(key.to_bytes()));
        self.call(
            Call::Dial(addr),
            Pending::Dial {
                peer,
                network,
                reply,
            },
        );
    }

    /// Reads what the visor sent and acts on every complete reply; `Some` if the link ended.
    fn read_socket(&mut self, cx: &mut Context<'_>) -> Option<Outcome> {
        loop {
            match Pin::new(&mut self.stream).poll_read(cx, &mut self.read_buf) {
                Poll::Ready(Ok(0)) => {
                    return Some(Outcome::Lost(
                        "the visor closed the app-server connection".into(),
                    ));
                }
                Poll::Ready(Ok(n)) => {
                    self.client.push(&self.read_buf[..n]);
                    loop {
                        match self.client.poll() {
                            Ok(Some(completion)) => {
                                if let Some(outcome) = self.on_completion(completion) {
                                    return Some(outcome);
                                }
                            }
                            Ok(None) => break,
                            Err(e) => return Some(Outcome::Lost(e.to_string())),
                        }
                    }
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => {
                    return Some(Outcome::Lost(format!(
                        "reading from the visor's app server failed: {e}"
                    )));
                }
                Poll::Pending => return None,
            }
        }
    }

    fn on_completion(&mut self, completion: Completion) -> Option<Outcome> {
        let pending = self.calls.remove(&completion.seq)?;
        let result = completion.result;
        match pending {
            Pending::Listen(network) => self.on_listen(network, result),
            Pending::Accept(network, listener) => self.on_accept(network, listener, result),
            Pending::Dial {
                peer,
                network,
                reply,
            } => self.on_dial(peer, network, reply, result),
            Pending::Read(id) => self.on_read(id, result),
            Pending::Write(id) => self.on_write(id, result),
            Pending::CloseConn(id) => {
                self.conns.remove(&id);
                self.count_connections();
            }
            Pending::Notice(what) => {
                if let Err(e) = result {
                    log::warn!("the visor refused {what}: {e}");
                }
            }
            Pending::Stopped => return Some(Outcome::Stopped),
        }
        None
    }

    fn on_listen(&mut self, network: Network, result: Result<Reply, String>) {
        self.listens_pending -= 1;
        match result {
            Ok(Reply::Listener(id)) => {
                log::info!("listening on {network} port {}", self.port);
                let order = |n: &Network| self.networks.iter().position(|m| m == n);
                let mut status = lock(&self.status);
                status.listening.push(network);
                // In the configured order, however the visor's answers came.
                status.listening.sort_by_key(order);
                drop(status);
                self.call(Call::Accept(id), Pending::Accept(network, id));
                if network == Network::Skynet {
                    self.call(Call::SetAppPort(self.port), Pending::Notice("SetAppPort"));
                }
            }
            Ok(other) => log::warn!("the visor answered Listen with {other:?}"),
            Err(e) => {
                log::warn!("cannot listen on {network}: {e}");
                lock(&self.status).error = Some(format!("listen on {network}: {e}"));
            }
        }
        if self.listens_pending == 0 && !lock(&self.status).listening.is_empty() {
            self.call(
                Call::SetDetailedStatus("Running".into()),
                Pending::Notice("the Running status"),
            );
        }
    }

    fn on_accept(&mut self, network: Network, listener: u16, result: Result<Reply, String>) {
        match result {
            Ok(Reply::Accepted(accepted)) => {
                let id = accepted.conn_id;
                match SkywirePublicKey::from_bytes(accepted.remote.pub_key.0) {
                    Ok(key) => {
                        let peer = PublicKey::from(key);
                        log::debug!("{network} connection {id} from {}", peer.short());
                        let stream = self.open_conn(id, peer, network);
                        let inlet = self.inlet.clone();
                        self.runtime.spawn(async move {
                            inlet.accepted(peer, network, stream).await;
                        });
                    }
                    Err(e) => {
                        log::warn!("{network} connection {id} has an invalid remote key: {e}");
                        self.call(Call::CloseConn(id), Pending::CloseConn(id));
                    }
                }
                if !self.stopping {
                    self.call(Call::Accept(listener), Pending::Accept(network, listener));
                }
            }
            Ok(other) => log::warn!("the visor answered Accept with {other:?}"),
            Err(e) => {
                // A listener that fails once fails for good (the visor closed it): accepting
                // again would spin.
                if !self.stopping {
                    log::warn!("accepting on {network} failed: {e}; no longer listening there");
                    let mut status = lock(&self.status);
                    status.listening.retain(|n| *n != network);
                    status.error = Some(format!("accept on {network}: {e}"));
                }
            }
        }
    }

    fn on_dial(
        &mut self,
        peer: PublicKey,
        network: Network,
        reply: Sender<Result<(Network, MeshStream), DialError>>,
        result: Result<Reply, String>,
    ) {
        match result {
            Ok(Reply::Dialed(dialed)) => {
                log::debug!("dialed {} over {network}", peer.short());
                let stream = self.open_conn(dialed.conn_id, peer, network);
                let _ = reply.try_send(Ok((network, stream)));
            }
            outcome => {
                let text = match outcome {
                    Err(e) => e,
                    Ok(other) => format!("unexpected reply {other:?}"),
                };
                // A peer pinned to one network is not tried on another.
                let next = self
                    .networks
                    .iter()
                    .skip_while(|n| **n != network)
                    .nth(1)
                    .copied()
                    .filter(|_| !self.preferred.contains_key(&peer));
                match next {
                    Some(next) if !self.stopping => {
                        log::debug!(
                            "dialing {} over {network} failed ({text}); trying {next}",
                            peer.short()
                        );
                        self.dial(peer, next, reply);
                    }
                    _ => {
                        let _ = reply.try_send(Err(DialError::Visor(format!("{network}: {text}"))));
                    }
                }
            }
        }
    }

    fn open_conn(&mut self, id: u16, peer: PublicKey, network: Network) -> MeshStream {
        let (stream, port) = pipe();
        if let Some(old) = self.conns.insert(
            id,
            Conn {
                port,
                peer,
                network,
                reading: false,
                writing: false,
                closing: false,
            },
        ) {
            // The visor reuses an id only after closing it; whatever had it is over.
            old.port.finish();
        }
        self.count_connections();
        stream
    }

    fn on_read(&mut self, id: u16, result: Result<Reply, String>) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        conn.reading = false;
        let failed = match result {
            Ok(Reply::Read(read)) => {
                let n = usize::try_from(read.n).unwrap_or(0).min(read.b.len());
                conn.port.deliver(&read.b[..n]);
                read.err.map(|e| e.text)
            }
            Ok(other) => Some(format!("unexpected reply {other:?}")),
            Err(e) => Some(e),
        };
        if let Some(reason) = failed {
            self.conn_failed(id, "read", &reason);
        }
    }

    fn on_write(&mut self, id: u16, result: Result<Reply, String>) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        conn.writing = false;
        let failed = match result {
            Ok(Reply::Written(written)) => written.err.map(|e| e.text),
            Ok(other) => Some(format!("unexpected reply {other:?}")),
            Err(e) => Some(e),
        };
        if let Some(reason) = failed {
            self.conn_failed(id, "write", &reason);
        }
    }

    /// The visor reported an error on connection `id`: the node reads the end of its stream,
    /// and the connection is closed at the visor.
    fn conn_failed(&mut self, id: u16, what: &str, reason: &str) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        log::debug!(
            "{} connection {id} with {}: {what} ended: {reason}",
            conn.network,
            conn.peer.short()
        );
        conn.port.finish();
        if !conn.closing {
            conn.closing = true;
            self.call(Call::CloseConn(id), Pending::CloseConn(id));
        }
    }

    /// Issues the `Read` and `Write` each connection is ready for.
    fn serve_pipes(&mut self, cx: &mut Context<'_>) {
        let mut calls = Vec::new();
        for (id, conn) in &mut self.conns {
            if conn.closing {
                continue;
            }
            if !conn.writing {
                match conn.port.poll_outbound(cx, WRITE_CHUNK) {
                    Poll::Ready(Outbound::Data(data)) => {
                        conn.writing = true;
                        let write = WriteReq {
                            conn_id: *id,
                            b: data.to_vec(),
                        };
                        calls.push((Call::Write(write), Pending::Write(*id)));
                    }
                    Poll::Ready(Outbound::Closed) => {
                        conn.closing = true;
                        calls.push((Call::CloseConn(*id), Pending::CloseConn(*id)));
                        continue;
                    }
                    Poll::Pending => {}
                }
            }
            if !conn.reading && conn.port.has_room(cx) {
                conn.reading = true;
                let read = ReadReq {
                    conn_id: *id,
                    buf_len: READ_LEN,
                };
                calls.push((Call::Read(read), Pending::Read(*id)));
            }
        }
        for (call, pending) in calls {
            self.call(call, pending);
        }
    }

    fn write_socket(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(front) = self.out.front_mut() {
            match Pin::new(&mut self.stream).poll_write(cx, front) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    if n == front.len() {
                        self.out.pop_front();
                    } else {
                        let _ = front.split_to(n);
                    }
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    fn count_connections(&self) {
        lock(&self.status).connections = self.conns.len();
    }

    /// Ends every mesh connection and records why the link ended.
    fn end(self, outcome: Outcome) {
        for conn in self.conns.values() {
            conn.port.finish();
        }
        for pending in self.calls.into_values() {
            if let Pending::Dial { reply, .. } = pending {
                let _ = reply.try_send(Err(DialError::Visor("the visor link has ended".into())));
            }
        }
        R::shutdown(&self.stream);
        let mut status = lock(&self.status);
        status.connected = false;
        status.listening.clear();
        status.connections = 0;
        match outcome {
            Outcome::Stopped => log::info!("visor link closed"),
            Outcome::Lost(reason) => {
                log::error!("lost the visor: {reason}");
                status.error = Some(reason);
            }
        }
    }
}
