//! Sans-IO client of a Skywire visor's app server.
//!
//! A visor starts an app with `PROC_CONFIG` in its environment ([`proc_config`]); the app
//! connects to `app_server_addr`, sends a Hello frame ([`hello`]) and then speaks Go's `net/rpc`
//! with the gob codec as the client, several calls in flight and answered out of order
//! ([`rpc`], with the call and reply types in [`calls`] and gob message framing in [`gob`]).
//!
//! Nothing here does I/O: the caller writes the bytes [`rpc::Client::call`] returns, feeds the
//! bytes it reads to [`rpc::Client::push`] in whatever chunks they arrive, and takes complete
//! replies from [`rpc::Client::poll`].
#![forbid(unsafe_code)]

pub mod calls;
pub mod gob;
pub mod hello;
pub mod proc_config;
pub mod rpc;
pub mod server;
pub mod visor_api;

pub use calls::{
    AcceptResp, Addr, Call, DeadlineReq, DialResp, Method, PubKey, ReadReq, ReadResp, Reply,
    RpcIoErr, WriteReq, WriteResp,
};
pub use gobwire::{GoTime, Zone};
pub use hello::encode_hello;
pub use proc_config::{ProcConfig, ProcConfigError, ProcKey};
pub use rpc::{Client, Completion, EncodeError, ProtocolError};
