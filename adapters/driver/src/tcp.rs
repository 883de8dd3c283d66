//! Socket options that the async runtimes do not expose, set through `socket2` on the raw socket.

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
