//! Two connected nodes, the fixture most HTTP tests start from: A listens with B whitelisted,
//! B dials A; and reading a `/status` counter.

use serde_json::Value;
use tempfile::TempDir;

use super::node::{Args, Keys, Node, keygen};

/// Two connected nodes and what started them. `dir` holds both data dirs and key files.
pub struct Pair {
    pub dir: TempDir,
    pub args: Args,
    pub a_keys: Keys,
    pub b_keys: Keys,
    pub a: Node,
    pub b: Node,
}

/// Starts A (listening, B whitelisted, with `a_extra` flags) and B (dialing A, with
/// `b_extra`), and waits until each sees the other connected.
pub fn pair(a_extra: &[&str], b_extra: &[&str]) -> Pair {
    let dir = TempDir::new().expect("scratch dir");
    let args = Args::new(dir.path());
    let a_keys = keygen(dir.path(), "a");
    let b_keys = keygen(dir.path(), "b");
    let a = Node::start(&args.listener(&a_keys, "a-data", &[&b_keys.pk], a_extra));
    let b = Node::start(&args.dialer(&b_keys, "b-data", &[a.tcp_url()], b_extra));
    a.wait_connected(&b.pk);
    b.wait_connected(&a.pk);
    Pair {
        dir,
        args,
        a_keys,
        b_keys,
        a,
        b,
    }
}

/// The `/status` counter `name`; panics with the document if it is missing.
pub fn counter(status: &Value, name: &str) -> u64 {
    status["counters"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("counter {name} in {status:#}"))
}
