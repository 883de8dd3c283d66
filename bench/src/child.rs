//! stub
pub fn run(_a: &[String]) {}
