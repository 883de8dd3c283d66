//! Helpers for the HTTP API tests: real node processes, a raw HTTP client and an SSE reader.

pub mod http;
pub mod node;
pub mod sse;
