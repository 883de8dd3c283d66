//! The HTTP control surface on tide. Handlers are thin: they parse, call the service, and render
//! its typed answer as JSON (`render`, which also maps each service error to its status).
//! Connections are accepted here, with TCP_NODELAY set (tide's own listener leaves Nagle on,
//! which holds every response for ~40 ms), admitted against a cap on concurrent connections, and
//! served one by one under the limits of [`connection`].

mod auth;
pub mod baseline;
pub mod connection;
mod pair;
mod render;
mod routes;
mod sse;

use std::net::SocketAddr;

use crate::service::Service;

pub use auth::Token;
pub use connection::{Gate, connection_cap};
pub use render::error_status;
pub use routes::{MAX_WAIT_MS, MessageSend, parse_message_request};

/// Binds the HTTP listener, before anything is served on it.
pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    std::net::TcpListener::bind(addr)
}

/// Binds `addr` and serves the API there until the process ends, with the connection cap for an
/// unlimited open-file limit. Returns the bound address.
pub async fn serve(
    service: Service,
    addr: SocketAddr,
    token: Option<Token>,
) -> std::io::Result<SocketAddr> {
    serve_on(
        service,
        bind(addr)?,
        token,
        Gate::new(connection_cap(None)),
        None,
    )
}

/// Serves the API on `listener` until the process ends, at most `gate.cap()` connections at
/// once, the /pair routes through `pair` when given. Returns the bound address.
pub fn serve_on(
    service: Service,
    listener: std::net::TcpListener,
    token: Option<Token>,
    gate: Gate,
    pair: Option<crate::pair_rpc::PairRpc>,
) -> std::io::Result<SocketAddr> {
    let listener = smol::net::TcpListener::try_from(listener)?;
    let bound = listener.local_addr()?;
    let app = routes::app(service, token, pair);
    skychat_smol::spawn(accept_loop(listener, app, gate));
    Ok(bound)
}

async fn accept_loop<State: Clone + Send + Sync + 'static>(
    listener: smol::net::TcpListener,
    app: tide::Server<State>,
    gate: Gate,
) {
    let mut backoff = std::time::Duration::from_millis(10);
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                backoff = std::time::Duration::from_millis(10);
                let _ = stream.set_nodelay(true);
                match gate.admit() {
                    connection::Admission::Serve(place) => {
                        let app = app.clone();
                        skychat_smol::spawn(async move {
                            connection::serve(stream, app).await;
                            drop(place);
                        });
                    }
                    connection::Admission::Refuse(place) => {
                        let cap = gate.cap();
                        skychat_smol::spawn(async move {
                            connection::refuse_over_cap(stream, cap).await;
                            drop(place);
                        });
                    }
                    connection::Admission::Drop => drop(stream),
                }
            }
            Err(e) => {
                log::warn!("http accept failed: {e}; retrying in {backoff:?}");
                smol::Timer::after(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(1));
            }
        }
    }
}
