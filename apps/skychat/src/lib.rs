//! The parts of the skychat app that tests and other crates use directly: the message store.

pub mod store;
