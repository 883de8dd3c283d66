//! Harness for the tests of the real `skychat` and `skywire` binaries: where the binaries are,
//! one-shot commands, node processes killed on drop, the two-node fixture, scratch directories, a raw HTTP client and
//! an SSE reader.
//!
//! Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

pub mod binaries;
pub mod command;
pub mod http;
pub mod node;
pub mod pair;
pub mod scratch;
pub mod sse;
pub mod visor;
pub mod wirepeer;
