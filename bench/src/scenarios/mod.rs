//! The scenarios, one module each. Every scenario interleaves its baseline and its system and
//! returns rows for the table.

pub mod app_store;
pub mod cli;
pub mod handshakes;
pub mod http;
pub mod memory;
pub mod messages;
pub mod rtt;
pub mod skywire;

/// A scenario's name, as given on the command line, and what it runs.
pub const ALL: [&str; 8] = [
    "messages",
    "app",
    "rtt",
    "handshakes",
    "memory",
    "http",
    "cli",
    "skywire",
];
