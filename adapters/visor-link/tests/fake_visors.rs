//! Two nodes, each linked to a visor's app server (the test double, real gob bytes), chat over
//! skynet, fall back to dmsg, and see the link end when their visor dies.

use std::sync::Arc;
use std::time::Duration;

use skychat_core::{ConnKind, Event, Network, NodeConfig, PublicKey};
use skychat_driver::conformance::support::{TestNode, driver_config, node_config};
use skychat_smol::SmolRuntime;
use skychat_visor::{ProcConfig, ProcKey, PubKey};
use skychat_visor_link::fake_visor::FakeVisors;
use skychat_visor_link::{LinkConfig, VisorLink, connect};

const LIMIT: Duration = Duration::from_secs(10);

fn visor_key(key: PublicKey) -> PubKey {
    PubKey(key.as_skywire().expect("a Skywire key").to_bytes())
}

struct App {
    node: TestNode<SmolRuntime>,
    link: VisorLink,
    visor_pk: PubKey,
}

async fn app(visors: &FakeVisors, n: u32, networks: Vec<Network>) -> App {
    let config = NodeConfig {
        dial_on_demand: true,
        ..node_config(&[])
    };
    let node = TestNode::start_with(&SmolRuntime, driver_config(n, config));
    let visor_pk = visor_key(node.skywire_key());
    let proc_key = ProcKey([n as u8; 16]);
    visors.register(proc_key, visor_pk);
    let proc_config = ProcConfig::parse(&visors.proc_config(proc_key, visor_pk, "/tmp"))
        .expect("the double's PROC_CONFIG parses");
    let link = connect(
        Arc::new(SmolRuntime),
        &proc_config,
        &node.handle,
        LinkConfig {
            networks,
            ..LinkConfig::default()
        },
    )
    .await
    .expect("the link connects");
    App {
        node,
        link,
        visor_pk,
    }
}

fn is_received(body: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::MessageReceived { message, .. } if message.body == body)
}

async fn receive_and_store(node: &mut TestNode<SmolRuntime>, body: &'static str) -> PublicKey {
    let Event::MessageReceived { peer, message, .. } = node.wait_for(body, is_received(body)).await
    else {
        unreachable!()
    };
    node.handle.confirm_stored(peer, message.id).await;
    peer
}

/// Sends `body` from `a` to `b`, which stores it, and returns the network of `a`'s session.
async fn network_of_delivery(a: &mut App, b: &mut App, body: &'static str) -> Network {
    let b_key = b.node.skywire_key();
    a.node.handle.send(b_key, body.into(), None).await.unwrap();
    receive_and_store(&mut b.node, body).await;
    let up = a
        .node
        .wait_for(
            "the session",
            |e| matches!(e, Event::Authenticated { peer, .. } if *peer == b_key),
        )
        .await;
    let Event::Authenticated { network, .. } = up else {
        unreachable!("waited for an Authenticated event")
    };
    network
}

#[test]
fn two_apps_chat_both_ways_over_skynet_and_register_with_their_visors() {
    smol::block_on(async {
        let visors = FakeVisors::start().unwrap();
        let both = vec![Network::Skynet, Network::Dmsg];
        let mut a = app(&visors, 1, both.clone()).await;
        let mut b = app(&visors, 2, both).await;
        assert!(visors.wait_until(LIMIT, |v| {
            v.statuses(a.visor_pk) == ["Running"] && v.statuses(b.visor_pk) == ["Running"]
        }));
        assert_eq!(visors.app_ports(a.visor_pk), [1]);
        assert_eq!(visors.listening(b.visor_pk), ["dmsg", "skynet"]);
        assert_eq!(b.link.status().listening, [Network::Skynet, Network::Dmsg]);

        let (a_key, b_key) = (a.node.skywire_key(), b.node.skywire_key());
        let sent = a
            .node
            .handle
            .send(b_key, "hello over skynet".into(), None)
            .await
            .unwrap();
        let from = receive_and_store(&mut b.node, "hello over skynet").await;
        assert_eq!(from, a_key);
        a.node
            .wait_for(
                "the ack",
                |e| matches!(e, Event::MessageAcked { id, .. } if *id == sent.id),
            )
            .await;
        let up = a.node.seen.iter().find_map(|e| match e {
            Event::Authenticated {
                peer,
                network,
                kind,
                ..
            } if *peer == b_key => Some((*network, *kind)),
            _ => None,
        });
        assert_eq!(up, Some((Network::Skynet, ConnKind::Persistent)));

        b.node
            .handle
            .send(a_key, "and back".into(), None)
            .await
            .unwrap();
        assert_eq!(receive_and_store(&mut a.node, "and back").await, b_key);
        assert_eq!(
            a.link.status().connections,
            1,
            "the reply reused the connection"
        );
    });
}

#[test]
fn a_dial_falls_back_to_dmsg_when_the_peer_is_not_on_skynet() {
    smol::block_on(async {
        let visors = FakeVisors::start().unwrap();
        let mut a = app(&visors, 3, vec![Network::Skynet, Network::Dmsg]).await;
        let mut b = app(&visors, 4, vec![Network::Dmsg]).await;
        assert!(visors.wait_until(LIMIT, |v| v.listening(b.visor_pk) == ["dmsg"]));
        assert_eq!(
            network_of_delivery(&mut a, &mut b, "via dmsg").await,
            Network::Dmsg
        );
    });
}

#[test]
fn a_dead_visor_ends_the_link_and_its_connections() {
    smol::block_on(async {
        let visors = FakeVisors::start().unwrap();
        let mut a = app(&visors, 5, vec![Network::Skynet]).await;
        let mut b = app(&visors, 6, vec![Network::Skynet]).await;
        let b_key = b.node.skywire_key();
        a.node
            .handle
            .send(b_key, "before".into(), None)
            .await
            .unwrap();
        receive_and_store(&mut b.node, "before").await;

        visors.cut(a.visor_pk);
        let ended = skychat_driver::runtime::timeout(&SmolRuntime, LIMIT, a.link.ended()).await;
        assert!(ended.is_some(), "the link notices the visor is gone");
        let status = a.link.status();
        assert!(!status.connected);
        assert!(
            status
                .error
                .unwrap()
                .contains("closed the app-server connection")
        );
        a.node
            .wait_for(
                "the mesh session ends",
                |e| matches!(e, Event::ConnectionClosed { peer: Some(p), .. } if *p == b_key),
            )
            .await;
        b.node
            .wait_for("the peer's session ends too", |e| {
                matches!(e, Event::ConnectionClosed { .. })
            })
            .await;
    });
}

#[test]
fn stopping_tells_the_visor_and_ends_the_link() {
    smol::block_on(async {
        let visors = FakeVisors::start().unwrap();
        let a = app(&visors, 7, vec![Network::Skynet]).await;
        assert!(visors.wait_until(LIMIT, |v| v.statuses(a.visor_pk) == ["Running"]));
        a.link.stop(&SmolRuntime).await;
        assert!(visors.wait_until(LIMIT, |v| v.statuses(a.visor_pk) == ["Running", "Stopped"]));
        assert!(!a.link.status().connected);
    });
}

#[test]
fn a_peer_pinned_to_dmsg_is_dialed_there_though_skynet_answers() {
    smol::block_on(async {
        let visors = FakeVisors::start().unwrap();
        let both = vec![Network::Skynet, Network::Dmsg];
        let mut a = app(&visors, 8, both.clone()).await;
        let mut b = app(&visors, 9, both).await;
        assert!(visors.wait_until(LIMIT, |v| v.listening(b.visor_pk) == ["dmsg", "skynet"]));
        let b_key = b.node.skywire_key();
        a.link.prefer(b_key, Some(Network::Dmsg));
        assert_eq!(
            network_of_delivery(&mut a, &mut b, "dmsg only").await,
            Network::Dmsg
        );
    });
}
