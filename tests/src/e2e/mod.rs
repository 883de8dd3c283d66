//! Support for end-to-end tests of the real `skychat` and `skywire` binaries: building and
//! locating them, running one-shot commands, spawning long-running nodes that are killed on drop,
//! and a small HTTP client for their control surface.

pub mod binaries;
pub mod command;
pub mod http;
pub mod node;
pub mod scratch;
