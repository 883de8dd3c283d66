//! Socket set-up that the async runtimes do not expose, done through `socket2`: keepalive, and
//! listeners with a backlog fit for bursts of connections.

use std::io;
use std::time::Duration;

/// Turns on TCP keepalive: probes start after `idle` of silence and repeat every `idle`, so the
/// kernel notices a vanished peer even when the application sends nothing.
#[cfg(unix)]
pub fn set_keepalive<S: std::os::fd::AsFd>(socket: &S, idle: Duration) -> io::Result<()> {
    socket2::SockRef::from(socket).set_tcp_keepalive(&keepalive(idle))
}

/// Turns on TCP keepalive: probes start after `idle` of silence and repeat every `idle`, so the
/// kernel notices a vanished peer even when the application sends nothing.
#[cfg(windows)]
pub fn set_keepalive<S: std::os::windows::io::AsSocket>(
    socket: &S,
    idle: Duration,
) -> io::Result<()> {
    socket2::SockRef::from(socket).set_tcp_keepalive(&keepalive(idle))
}

fn keepalive(idle: Duration) -> socket2::TcpKeepalive {
    let params = socket2::TcpKeepalive::new().with_time(idle);
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        windows
    ))]
    let params = params.with_interval(idle);
    params
}

/// Pending connections the kernel queues for a listener before `accept`. The standard library
/// uses 128, which drops SYNs (and delays clients by a second or more) when many peers connect
/// at once.
pub const LISTEN_BACKLOG: i32 = 1024;

/// A non-blocking listener bound to `addr` with address reuse (so a restarted node can bind the
/// port again at once) and a [`LISTEN_BACKLOG`] queue, for a runtime to wrap.
pub fn bind_listener(addr: std::net::SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    #[cfg(not(windows))]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
