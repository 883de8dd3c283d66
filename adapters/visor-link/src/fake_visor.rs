//! A test double of Skywire visors' app servers, for tests without a visor: one TCP listener
//! that serves any number of apps, each registered under its proc key and its visor's key, and
//! relays `Dial`, `Accept`, `Read`, `Write` and `CloseConn` between them as connected visors
//! would. It speaks real gob `net/rpc` bytes (the `skychat-visor` server codec). It records the
//! statuses and app ports the apps set, and can cut an app's connection (a dead visor).
//!
//! Blocking std code with a thread per app: it serves tests of any runtime.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use skychat_visor::server::{IncomingCall, Server};
use skychat_visor::{
    AcceptResp, Addr, Call, DialResp, ProcKey, PubKey, ReadResp, Reply, RpcIoErr, WriteResp,
};

/// The error a 2024 visor gives a `Dial` to a key no visor has.
pub const DIAL_FAILED: &str = "maximum retries attempted without success";

/// The fake visors' shared app server.
#[derive(Clone)]
pub struct FakeVisors {
    addr: SocketAddr,
    state: Arc<(Mutex<State>, Condvar)>,
}

#[derive(Default)]
struct State {
    /// Registered apps, by proc key.
    apps: HashMap<[u8; 16], PubKey>,
    /// Connected apps, by visor key.
    sessions: HashMap<PubKey, Session>,
    /// What each app told its visor, kept after it disconnects.
    statuses: HashMap<PubKey, Vec<String>>,
    app_ports: HashMap<PubKey, Vec<u32>>,
    next_conn: u16,
}

struct Session {
    writer: Arc<Mutex<(TcpStream, Server)>>,
    /// Listener ids by network.
    listeners: HashMap<String, u16>,
    /// Accept calls waiting, by listener id.
    accepts: HashMap<u16, VecDeque<IncomingCall>>,
    /// Connections accepted before an Accept was waiting.
    backlog: HashMap<u16, VecDeque<AcceptResp>>,
    conns: HashMap<u16, Pipe>,
}

struct Pipe {
    remote: PubKey,
    remote_conn: u16,
    inbound: VecDeque<u8>,
    read: Option<(IncomingCall, usize)>,
    closed: bool,
}

impl FakeVisors {
    /// Starts the app server on 127.0.0.1.
    pub fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let visors = Self {
            addr,
            state: Arc::new((Mutex::new(State::default()), Condvar::new())),
        };
        let server = visors.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                thread::spawn(move || server.serve(stream));
            }
        });
        Ok(visors)
    }

    /// The app server's address, for `PROC_CONFIG`'s `app_server_addr`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Registers an app under `proc_key`, run by the visor with key `visor_pk`.
    pub fn register(&self, proc_key: ProcKey, visor_pk: PubKey) {
        self.lock().apps.insert(proc_key.0, visor_pk);
    }

    /// The `PROC_CONFIG` JSON for an app registered under `proc_key` and `visor_pk`.
    pub fn proc_config(&self, proc_key: ProcKey, visor_pk: PubKey, work_dir: &str) -> String {
        format!(
            r#"{{"app_name":"skychat","app_server_addr":"{}","proc_key":"{}","proc_args":[],"proc_envs":null,"proc_work_dir":"{}","visor_pk":"{}","routing_port":1,"binary_loc":"skychat","log_db_loc":"","log_store_path":""}}"#,
            self.addr,
            proc_key.to_hex(),
            work_dir.replace('\\', "\\\\").replace('"', "\\\""),
            visor_pk.to_hex()
        )
    }

    /// The statuses the app of `visor_pk` set, in order.
    pub fn statuses(&self, visor_pk: PubKey) -> Vec<String> {
        self.lock()
            .statuses
            .get(&visor_pk)
            .cloned()
            .unwrap_or_default()
    }

    /// The app ports the app of `visor_pk` set.
    pub fn app_ports(&self, visor_pk: PubKey) -> Vec<u32> {
        self.lock()
            .app_ports
            .get(&visor_pk)
            .cloned()
            .unwrap_or_default()
    }

    /// The networks the app of `visor_pk` listens on.
    pub fn listening(&self, visor_pk: PubKey) -> Vec<String> {
        let state = self.lock();
        let mut nets: Vec<String> = state
            .sessions
            .get(&visor_pk)
            .map(|s| s.listeners.keys().cloned().collect())
            .unwrap_or_default();
        nets.sort();
        nets
    }

    /// Waits until `ready` holds of the app server's state, or `limit` passes.
    pub fn wait_until(&self, limit: Duration, ready: impl Fn(&FakeVisors) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if ready(self) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let (lock, changed) = &*self.state;
            let guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = changed.wait_timeout(guard, (deadline - now).min(Duration::from_millis(50)));
        }
    }

    /// Cuts the app server's connection to the app of `visor_pk`, as a visor that dies does.
    pub fn cut(&self, visor_pk: PubKey) {
        if let Some(session) = self.lock().sessions.remove(&visor_pk) {
            let writer = session
                .writer
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let _ = writer.0.shutdown(Shutdown::Both);
        }
        self.state.1.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn serve(&self, mut stream: TcpStream) {
        let Some(visor_pk) = self.hello(&mut stream) else {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        };
        let Ok(write_half) = stream.try_clone() else {
            return;
        };
        let writer = Arc::new(Mutex::new((write_half, Server::new())));
        self.lock().sessions.insert(
            visor_pk,
            Session {
                writer: writer.clone(),
                listeners: HashMap::new(),
                accepts: HashMap::new(),
                backlog: HashMap::new(),
                conns: HashMap::new(),
            },
        );
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut calls = Vec::new();
            {
                let mut guard = writer.lock().unwrap_or_else(PoisonError::into_inner);
                guard.1.push(&buf[..n]);
                loop {
                    match guard.1.poll() {
                        Ok(Some(call)) => calls.push(call),
                        Ok(None) => break,
                        Err(_) => return,
                    }
                }
            }
            for call in calls {
                self.handle(visor_pk, call);
            }
            self.state.1.notify_all();
        }
        self.disconnect(visor_pk, &writer);
    }

    fn hello(&self, stream: &mut TcpStream) -> Option<PubKey> {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).ok()?;
        let mut json = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut json).ok()?;
        let text = String::from_utf8(json).ok()?;
        let key_hex = text.split('"').nth(3)?;
        let mut key = [0u8; 16];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(key_hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        self.lock().apps.get(&key).copied()
    }

    /// The app of `visor_pk` went away: its peers' connections end.
    fn disconnect(&self, visor_pk: PubKey, writer: &Arc<Mutex<(TcpStream, Server)>>) {
        let mut state = self.lock();
        let ours = state
            .sessions
            .get(&visor_pk)
            .is_some_and(|s| Arc::ptr_eq(&s.writer, writer));
        if ours && let Some(session) = state.sessions.remove(&visor_pk) {
            for pipe in session.conns.into_values() {
                close_remote(&mut state, pipe.remote, pipe.remote_conn);
            }
        }
        drop(state);
        self.state.1.notify_all();
    }

    fn handle(&self, app: PubKey, call: IncomingCall) {
        let mut state = self.lock();
        if !state.sessions.contains_key(&app) {
            // Cut while its last bytes were read.
            return;
        }
        let reply: Option<Result<Reply, String>> = match &call.call {
            Call::Listen(addr) => {
                state.next_conn += 1;
                let id = state.next_conn;
                let session = state.sessions.get_mut(&app).expect("connected app");
                session.listeners.insert(addr.net.clone(), id);
                Some(Ok(Reply::Listener(id)))
            }
            Call::Accept(listener) => {
                let listener = *listener;
                let session = state.sessions.get_mut(&app).expect("connected app");
                match session
                    .backlog
                    .get_mut(&listener)
                    .and_then(VecDeque::pop_front)
                {
                    Some(accepted) => Some(Ok(Reply::Accepted(accepted))),
                    None => {
                        session.accepts.entry(listener).or_default().push_back(call);
                        return;
                    }
                }
            }
            Call::Dial(addr) => Some(dial(&mut state, app, addr)),
            Call::Write(write) => {
                let (remote, remote_conn, open) = match state
                    .sessions
                    .get(&app)
                    .and_then(|s| s.conns.get(&write.conn_id))
                {
                    Some(pipe) => (pipe.remote, pipe.remote_conn, !pipe.closed),
                    None => {
                        drop(state);
                        return self.send(app, &call, Err("no such connection".into()));
                    }
                };
                let delivered = open && deliver(&mut state, remote, remote_conn, &write.b);
                Some(Ok(Reply::Written(if delivered {
                    WriteResp {
                        n: write.b.len() as i64,
                        err: None,
                    }
                } else {
                    WriteResp {
                        n: 0,
                        err: Some(io_error("io: read/write on closed pipe")),
                    }
                })))
            }
            Call::Read(read) => {
                let session = state.sessions.get_mut(&app).expect("connected app");
                match session.conns.get_mut(&read.conn_id) {
                    None => Some(Err("no such connection".into())),
                    Some(pipe) => {
                        pipe.read = Some((call.clone(), read.buf_len.max(1) as usize));
                        let writer = session.writer.clone();
                        answer_read(pipe, &writer);
                        return;
                    }
                }
            }
            Call::CloseConn(id) => {
                let session = state.sessions.get_mut(&app).expect("connected app");
                if let Some(mut pipe) = session.conns.remove(id) {
                    pipe.closed = true;
                    let writer = session.writer.clone();
                    answer_read(&mut pipe, &writer);
                    close_remote(&mut state, pipe.remote, pipe.remote_conn);
                }
                Some(Ok(Reply::Done))
            }
            Call::SetDetailedStatus(status) => {
                state.statuses.entry(app).or_default().push(status.clone());
                Some(Ok(Reply::Done))
            }
            Call::SetAppPort(port) => {
                state.app_ports.entry(app).or_default().push(*port);
                Some(Ok(Reply::Done))
            }
            _ => Some(Ok(Reply::Done)),
        };
        drop(state);
        if let Some(reply) = reply {
            self.send(app, &call, reply);
        }
    }

    fn send(&self, app: PubKey, call: &IncomingCall, reply: Result<Reply, String>) {
        let writer = self.lock().sessions.get(&app).map(|s| s.writer.clone());
        if let Some(writer) = writer {
            send_on(&writer, call, &reply);
        }
    }
}

fn io_error(text: &str) -> RpcIoErr {
    RpcIoErr {
        text: text.into(),
        is_net_err: true,
        ..RpcIoErr::default()
    }
}

fn send_on(
    writer: &Mutex<(TcpStream, Server)>,
    call: &IncomingCall,
    reply: &Result<Reply, String>,
) {
    let mut guard = writer.lock().unwrap_or_else(PoisonError::into_inner);
    let bytes = guard.1.reply(call, reply);
    let _ = guard.0.write_all(&bytes);
}

/// Connects `app` to the app listening at `addr`, if any.
fn dial(state: &mut State, app: PubKey, addr: &Addr) -> Result<Reply, String> {
    let listener = state
        .sessions
        .get(&addr.pub_key)
        .and_then(|s| s.listeners.get(&addr.net).copied());
    let Some(listener) = listener else {
        return Err(DIAL_FAILED.into());
    };
    state.next_conn += 1;
    let local_conn = state.next_conn;
    state.next_conn += 1;
    let remote_conn = state.next_conn;
    let pipe = |remote, remote_conn| Pipe {
        remote,
        remote_conn,
        inbound: VecDeque::new(),
        read: None,
        closed: false,
    };
    state
        .sessions
        .get_mut(&app)
        .expect("connected app")
        .conns
        .insert(local_conn, pipe(addr.pub_key, remote_conn));
    let remote = state
        .sessions
        .get_mut(&addr.pub_key)
        .expect("listening app");
    remote.conns.insert(remote_conn, pipe(app, local_conn));
    let accepted = AcceptResp {
        remote: Addr {
            net: addr.net.clone(),
            pub_key: app,
            port: 49153,
        },
        conn_id: remote_conn,
    };
    match remote
        .accepts
        .get_mut(&listener)
        .and_then(VecDeque::pop_front)
    {
        Some(waiting) => send_on(&remote.writer, &waiting, &Ok(Reply::Accepted(accepted))),
        None => remote
            .backlog
            .entry(listener)
            .or_default()
            .push_back(accepted),
    }
    Ok(Reply::Dialed(DialResp {
        conn_id: local_conn,
        local_port: 49153,
    }))
}

/// Appends `bytes` to the inbound side of `remote`'s connection; false if it is gone.
fn deliver(state: &mut State, remote: PubKey, conn: u16, bytes: &[u8]) -> bool {
    let Some(session) = state.sessions.get_mut(&remote) else {
        return false;
    };
    let writer = session.writer.clone();
    let Some(pipe) = session.conns.get_mut(&conn) else {
        return false;
    };
    pipe.inbound.extend(bytes);
    answer_read(pipe, &writer);
    true
}

fn close_remote(state: &mut State, remote: PubKey, conn: u16) {
    if let Some(session) = state.sessions.get_mut(&remote) {
        let writer = session.writer.clone();
        if let Some(pipe) = session.conns.get_mut(&conn) {
            pipe.closed = true;
            answer_read(pipe, &writer);
        }
    }
}

/// Answers the `Read` waiting on `pipe`, if there is something to answer with.
fn answer_read(pipe: &mut Pipe, writer: &Mutex<(TcpStream, Server)>) {
    if pipe.inbound.is_empty() && !pipe.closed {
        return;
    }
    let Some((call, max)) = pipe.read.take() else {
        return;
    };
    let reply = if pipe.inbound.is_empty() {
        ReadResp {
            b: Vec::new(),
            n: 0,
            err: Some(io_error("EOF")),
        }
    } else {
        let n = max.min(pipe.inbound.len());
        let b: Vec<u8> = pipe.inbound.drain(..n).collect();
        ReadResp {
            n: b.len() as i64,
            b,
            err: None,
        }
    };
    send_on(writer, &call, &Ok(Reply::Read(reply)));
}
