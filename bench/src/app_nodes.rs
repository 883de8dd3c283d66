//! App nodes for the scenarios that go through the application: a `Service` over a smol node and
//! a SQLite `Storage` in a temporary directory, with its event loop and send committer running,
//! and a connected pair of them.

use std::time::Duration;

use skychat::service::storage::Storage;
use skychat::service::{Mode, NodeInfo, Service};
use skychat::store::{Store, StoreOptions};
use skychat_core::PublicKey;

use crate::nodes::{Adapter, config};

/// One app node.
pub struct AppNode {
    /// The service.
    pub service: Service,
    /// Its node.
    pub node: skychat_driver::NodeHandle,
    storage: Storage,
    /// Holds the database until the node is dropped.
    _dir: tempfile::TempDir,
}

impl AppNode {
    /// Starts identity `n` accepting `whitelist`, with a fresh store.
    pub fn start(n: u32, whitelist: Vec<PublicKey>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), StoreOptions::default()).expect("open store");
        let node = Adapter::Smol.start(config(n, whitelist.clone()));
        let storage = Storage::start(store);
        let info = NodeInfo {
            mode: Mode::Standalone,
            http_addr: None,
            tcp_listen: None,
            tcp_peers: Vec::new(),
            whitelist,
        };
        let service = Service::new(node.clone(), storage.clone(), info);
        skychat_smol::spawn(service.clone().run_events());
        skychat_smol::spawn(service.clone().run_committer());
        Self {
            service,
            node,
            storage,
            _dir: dir,
        }
    }

    /// Stops the node and waits until the store has committed everything.
    pub fn stop(self) {
        smol::block_on(self.service.shutdown());
        self.storage.close_and_wait();
    }
}

/// A sender app node connected to a receiver app node.
pub struct AppPair {
    /// Sends.
    pub sender: AppNode,
    /// Receives and stores.
    pub receiver: AppNode,
}

impl AppPair {
    /// Starts both and waits (at most 30 s) until the service of the sender sees the session.
    pub fn start(first_id: u32) -> Self {
        let sender = AppNode::start(first_id, Vec::new());
        let receiver = AppNode::start(first_id + 1, vec![sender.service.public_key()]);
        smol::block_on(async {
            let node = &receiver.node;
            let addr = node
                .listen("127.0.0.1:0".parse().unwrap())
                .await
                .expect("listen");
            sender
                .node
                .keep_connected(receiver.service.public_key(), addr.to_string())
                .await;
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while sender.service.status().await.active_peer_conns != 1 {
                assert!(std::time::Instant::now() < deadline, "no session in 30 s");
                smol::Timer::after(Duration::from_millis(5)).await;
            }
        });
        Self { sender, receiver }
    }

    /// Stops both.
    pub fn stop(self) {
        self.sender.stop();
        self.receiver.stop();
    }
}
