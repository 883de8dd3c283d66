//! Two nodes wired back to back in memory with a virtual clock, for the tests of the node
//! through its public API. The clock moves only when a test says so, to the next deadline of
//! either node.
#![allow(dead_code)]

use std::time::Duration;

use skychat_core::{
    ConnId, ConnKind, Event, Node, NodeConfig, Output, PublicKey, SecretKey, Whitelist,
};

pub struct Pair {
    pub a: Node,
    pub b: Node,
    pub a_conn: ConnId,
    pub b_conn: ConnId,
    pub now: Duration,
    pub a_events: Vec<Event>,
    pub b_events: Vec<Event>,
    /// When each node last asked to be woken (`None`: no deadline).
    pub a_deadline: Option<Duration>,
    pub b_deadline: Option<Duration>,
    /// When each node wrote something to the other.
    pub a_writes: Vec<Duration>,
    pub b_writes: Vec<Duration>,
    /// While set, what `b` writes is lost: `b` has gone silent (a half-open link).
    pub b_muted: bool,
}

pub fn key(byte: u8) -> SecretKey {
    SecretKey::from_bytes([byte; 32])
}

impl Pair {
    /// `a` dials `b`, pinning `pinned`.
    pub fn new(b_whitelist: Vec<PublicKey>, pinned: Option<PublicKey>) -> Self {
        let b_config = NodeConfig {
            whitelist: Whitelist::new(b_whitelist),
            ..Default::default()
        };
        Self::with_configs(NodeConfig::default(), b_config, pinned)
    }

    /// `a` dials `b`, pinning `pinned` (default: `b`'s key), each with its own config.
    pub fn with_configs(
        a_config: NodeConfig,
        b_config: NodeConfig,
        pinned: Option<PublicKey>,
    ) -> Self {
        let now = Duration::ZERO;
        let mut a = Node::new(key(1), a_config, [1; 32]);
        let mut b = Node::new(key(2), b_config, [2; 32]);
        let target = pinned.unwrap_or_else(|| b.public_key());
        let a_conn = a.connect(now, target, ConnKind::OneShot);
        let b_conn = b.accept(now).unwrap();
        Self {
            a,
            b,
            a_conn,
            b_conn,
            now,
            a_events: vec![],
            b_events: vec![],
            a_deadline: None,
            b_deadline: None,
            a_writes: vec![],
            b_writes: vec![],
            b_muted: false,
        }
    }

    /// The earliest deadline of either node.
    pub fn next_deadline(&self) -> Option<Duration> {
        [self.a_deadline, self.b_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// Moves the clock to the next deadline of either node, fires the timers due and lets the
    /// two settle. Returns the new time; panics if neither node has a deadline.
    pub fn advance_to_next_deadline(&mut self) -> Duration {
        let at = self.next_deadline().expect("a node has a deadline");
        self.now = self.now.max(at);
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
        self.drive();
        self.now
    }

    /// Fires every deadline up to `until`, in order, then sets the clock to `until`.
    pub fn run_until(&mut self, until: Duration) {
        while self.next_deadline().is_some_and(|at| at <= until) {
            self.advance_to_next_deadline();
        }
        self.now = until;
    }

    /// Moves bytes and events until both sides are idle. Bounded, so a livelock fails.
    pub fn drive(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            loop {
                match self.a.poll_output() {
                    Output::Transmit(t) => {
                        assert_eq!(t.conn, self.a_conn);
                        self.a_writes.push(self.now);
                        self.b.handle_receive(self.now, self.b_conn, &t.data);
                        moved = true;
                    }
                    Output::Event(e) => self.a_events.push(e),
                    Output::Dial { peer } => panic!("unexpected dial of {peer:?}"),
                    Output::Timeout(at) => {
                        self.a_deadline = at;
                        break;
                    }
                }
            }
            loop {
                match self.b.poll_output() {
                    Output::Transmit(t) => {
                        self.b_writes.push(self.now);
                        if !self.b_muted {
                            self.a.handle_receive(self.now, self.a_conn, &t.data);
                            moved = true;
                        }
                    }
                    Output::Event(e) => self.b_events.push(e),
                    Output::Dial { peer } => panic!("unexpected dial of {peer:?}"),
                    Output::Timeout(at) => {
                        self.b_deadline = at;
                        break;
                    }
                }
            }
            if !moved {
                return;
            }
        }
        panic!("pair did not settle");
    }
}
