//! Outbound dials: resolve `"host:port"`, connect to the first address that answers, all within
//! a time limit, and report the result to the driver task.

use std::io;
use std::time::Duration;

use skychat_core::PublicKey;

use crate::error::DialError;
use crate::listener::configure;
use crate::runtime::{Runtime, timeout};
use crate::tasks::{DialPurpose, Input, TaskContext};

/// How one dial is made.
pub(crate) struct DialSpec {
    pub peer: PublicKey,
    pub addr: String,
    pub purpose: DialPurpose,
    pub limit: Duration,
    pub keepalive: Option<Duration>,
}

/// Dials and reports [`Input::Dialed`], unless the node stops first.
pub(crate) async fn dial<R: Runtime>(ctx: TaskContext<R>, spec: DialSpec) {
    let connecting = timeout(&*ctx.runtime, spec.limit, connect::<R>(&ctx, &spec.addr));
    let Some(outcome) = ctx.until_stopped(connecting).await else {
        return;
    };
    let result = match outcome {
        None => Err(DialError::Timeout),
        Some(Err(e)) => Err(DialError::Io(e)),
        Some(Ok(stream)) => {
            configure::<R>(&stream, spec.keepalive);
            Ok(stream)
        }
    };
    if let Err(e) = &result {
        log::debug!("dial {} at {} failed: {e}", spec.peer.short(), spec.addr);
    }
    let _ = ctx
        .input
        .send(Input::Dialed {
            peer: spec.peer,
            purpose: spec.purpose,
            result,
        })
        .await;
}

async fn connect<R: Runtime>(ctx: &TaskContext<R>, addr: &str) -> io::Result<R::TcpStream> {
    let addrs = ctx.runtime.resolve(addr.to_owned()).await?;
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        format!("{addr} resolved to no address"),
    );
    for candidate in addrs {
        match ctx.runtime.connect(candidate).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = io::Error::new(e.kind(), format!("{candidate}: {e}")),
        }
    }
    Err(last)
}
