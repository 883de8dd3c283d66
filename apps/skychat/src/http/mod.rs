//! The HTTP control surface on tide. Handlers are thin: they parse, call the service, and shape
//! JSON. Connections are accepted here, with TCP_NODELAY set, and handed to tide one by one
//! (tide's own listener leaves Nagle on, which holds every response for ~40 ms).

mod auth;
pub mod baseline;
mod routes;
mod sse;

use std::net::SocketAddr;

use crate::service::Service;

pub use auth::Token;
pub use routes::{MessageSend, parse_message_request};

/// Binds `addr` and serves the API there until the process ends. Returns the bound address.
pub async fn serve(
    service: Service,
    addr: SocketAddr,
    token: Option<Token>,
) -> std::io::Result<SocketAddr> {
    let listener = smol::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = routes::app(service, token);
    smol::spawn(accept_loop(listener, app)).detach();
    Ok(bound)
}

async fn accept_loop<State: Clone + Send + Sync + 'static>(
    listener: smol::net::TcpListener,
    app: tide::Server<State>,
) {
    let mut backoff = std::time::Duration::from_millis(10);
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                backoff = std::time::Duration::from_millis(10);
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                smol::spawn(async move {
                    let served = async_h1::accept(stream, |req| {
                        let app = app.clone();
                        async move { app.respond(req).await }
                    })
                    .await;
                    if let Err(e) = served {
                        log::debug!("http connection ended: {e}");
                    }
                })
                .detach();
            }
            Err(e) => {
                log::warn!("http accept failed: {e}; retrying in {backoff:?}");
                smol::Timer::after(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(1));
            }
        }
    }
}
