//! A tide hello world served exactly like the real surface (own accept loop, TCP_NODELAY, the
//! same connection limits): the baseline the HTTP benchmark compares `POST /message` against.
//! It lives here so that tide stays confined to this crate.

use std::net::SocketAddr;

/// Serves `POST /message` answering "Hello, world!" on `addr`; returns the bound address.
pub async fn serve_hello_world(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let mut app = tide::new();
    app.at("/message").post(|_| async { Ok("Hello, world!") });
    let listener = smol::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let gate = super::Gate::new(super::connection_cap(None));
    skychat_smol::spawn(super::accept_loop(listener, app, gate));
    Ok(bound)
}
