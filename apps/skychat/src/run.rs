//! Running a node: validates the flags, resolves the identity, locks the data directory and opens
//! the store (refusing another identity's store), restores the outbox and dedup marks, binds the
//! HTTP listener before writing its token, starts the TCP-direct transport, the visor link (in
//! embedded mode) and the HTTP surface, and shuts down gracefully on SIGINT or SIGTERM, or when
//! the visor is lost.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use skychat_core::PqPolicy;
use skychat_core::{NodeConfig, PublicKey, SkywirePublicKey, Whitelist};
use skychat_driver::DriverConfig;
use skychat_smol::SmolRuntime;
use skychat_visor::ProcConfig;
use skychat_visor_link::{LinkConfig, VisorLink};

use crate::address::{self, BarePort, PeerSpec};
use crate::cli::Cli;
use crate::data_dir::{DataDirLock, RunOnlyDir};
use crate::http::{self, Token};
use crate::identity::{self, Source};
use crate::service::storage::{Storage, now_ms};
use crate::service::{Mode, NodeInfo, Service};
use crate::store::{Durability, Owner, PeerFlag, Store, StoreError, StoreOptions};

/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(600);

/// A run failed: the message to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong, for the operator.
    pub message: String,
    /// 2 for bad flags or values, 1 for failures at run time.
    pub code: i32,
}

impl Failure {
    /// A bad flag or value: exit code 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 2,
        }
    }

    /// A failure at run time: exit code 1.
    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 1,
        }
    }
}

/// The checked node settings.
#[derive(Debug)]
pub struct Settings {
    mode: Mode,
    http_addr: SocketAddr,
    tcp_listen: Option<SocketAddr>,
    /// `--advertise`: `host:port`.
    advertise: Option<String>,
    whitelist: Vec<PublicKey>,
    peers: Vec<PeerSpec>,
    /// The visor's `PROC_CONFIG`, in embedded mode.
    visor: Option<ProcConfig>,
}

/// Parses a comma-separated whitelist. An entirely empty value is an empty list.
pub fn parse_whitelist(text: &str) -> Result<Vec<PublicKey>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(str::trim)
        .enumerate()
        .map(|(i, key)| {
            if key.is_empty() {
                return Err(format!("--tcp-whitelist: entry {} is empty", i + 1));
            }
            key.parse::<PublicKey>()
                .map_err(|e| format!("--tcp-whitelist: entry {} ({key:?}): {e}", i + 1))
        })
        .collect()
}

/// Checks every flag; nothing is started yet.
pub fn check(cli: &Cli, proc_config: Option<&str>) -> Result<Settings, Failure> {
    let visor = match (cli.standalone, proc_config) {
        (true, _) => None,
        (false, Some(json)) => Some(ProcConfig::parse(json).map_err(|e| {
            Failure::usage(format!(
                "PROC_CONFIG: {e} (it is set by the Skywire visor that launches this app;                  to run without a visor, add --standalone)"
            ))
        })?),
        (false, None) => {
            return Err(Failure::usage(
                "no parent visor: PROC_CONFIG is not set. To run without a visor, add \
                 --standalone (TCP-direct and the HTTP surface only)",
            ));
        }
    };
    let http_addr = address::parse_http_addr(cli.addr.as_deref()).map_err(Failure::usage)?;
    let tcp_listen = cli
        .tcp_listen
        .as_deref()
        .map(|t| address::parse_bind(t, BarePort::AllInterfaces))
        .transpose()
        .map_err(|e| Failure::usage(format!("--tcp-listen: {e}")))?;
    let whitelist = match (&cli.tcp_whitelist, tcp_listen) {
        (None, Some(_)) => {
            return Err(Failure::usage(
                "--tcp-listen requires --tcp-whitelist: the comma-separated public keys allowed \
                 to connect (--tcp-whitelist \"\" starts with nobody allowed)",
            ));
        }
        (Some(text), _) => parse_whitelist(text).map_err(Failure::usage)?,
        (None, None) => Vec::new(),
    };
    let advertise = match (&cli.advertise, tcp_listen) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(Failure::usage(
                "--advertise needs --tcp-listen: it is the address peers dial to reach that                  listener",
            ));
        }
        (Some(text), Some(_)) => Some(parse_advertise(text).map_err(Failure::usage)?),
    };
    let mut peers = Vec::new();
    for spec in cli
        .tcp_peer
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
    {
        peers.push(
            address::parse_peer_spec(spec)
                .map_err(|e| Failure::usage(format!("--tcp-peer: {e}")))?,
        );
    }
    Ok(Settings {
        mode: if cli.standalone {
            Mode::Standalone
        } else {
            Mode::Embedded
        },
        http_addr,
        tcp_listen,
        advertise,
        whitelist,
        peers,
        visor,
    })
}

/// Parses `--advertise`: `tcp://host:port` or `host:port`, to `host:port`.
pub fn parse_advertise(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    let addr = trimmed.strip_prefix("tcp://").unwrap_or(trimmed);
    let valid = addr.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && !host.contains(['/', '@', ' ', '?', '&'])
            && port.parse::<u16>().is_ok_and(|p| p != 0)
    });
    if valid {
        Ok(addr.to_string())
    } else {
        Err(format!(
            "--advertise {text:?}: give the address peers dial, as tcp://host:port or host:port              (for example tcp://chat.example.org:8801)"
        ))
    }
}

/// The visor's key as a node key.
fn visor_key(proc_config: &ProcConfig) -> Result<PublicKey, Failure> {
    SkywirePublicKey::from_bytes(proc_config.visor_pk.0)
        .map(PublicKey::from)
        .map_err(|e| Failure::usage(format!("PROC_CONFIG visor_pk: {e}")))
}

/// Under a visor the node's mesh identity is the visor's key; an identity given with `-c`,
/// `--sk` or `DMSGCURL_SK` must be that key's secret (TCP-direct peers would otherwise know this
/// node by another key than skynet and dmsg peers). Without one, TCP-direct is off and the node
/// uses a key of its own for nothing but its internal state. Returns the identity, and the
/// visor's key when it is not the identity's own.
fn embedded_identity(
    found: Result<identity::Identity, identity::IdentityError>,
    settings: &Settings,
    visor: PublicKey,
) -> Result<(identity::Identity, Option<PublicKey>), Failure> {
    match found {
        Ok(identity) => {
            let own = PublicKey::from(identity.public_keys().skywire);
            if own != visor {
                return Err(Failure::usage(format!(
                    "the identity given ({}) has the Skywire key {own}, but the visor running \
                     this app is {visor} (PROC_CONFIG visor_pk): give the visor's own \
                     config (-c skywire-config.json of that visor), or no identity at all to \
                     use the visor's key on skynet and dmsg only",
                    identity.source
                )));
            }
            Ok((identity, None))
        }
        Err(identity::IdentityError::Missing) => {
            if settings.tcp_listen.is_some() || !settings.peers.is_empty() {
                return Err(Failure::usage(
                    "TCP-direct beside the visor (--tcp-listen, --tcp-peer) needs the visor's \
                     secret key: pass -c with the visor's skywire-config.json (or --sk, or \
                     DMSGCURL_SK)",
                ));
            }
            Ok((ephemeral_identity()?, Some(visor)))
        }
        Err(e) => Err(Failure::usage(e.to_string())),
    }
}

/// A fresh key drawn from OS randomness, for this run only.
fn ephemeral_identity() -> Result<identity::Identity, Failure> {
    let secret = crate::keyfile::ephemeral().map_err(Failure::runtime)?;
    identity::Identity::new(secret, Source::Ephemeral)
        .map_err(|e| Failure::runtime(format!("ephemeral key: {e}")))
}

fn default_data_dir(pk: &PublicKey) -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("skychat").join(&pk.to_hex()[..16])
}

/// Runs a node until SIGINT or SIGTERM.
pub fn run(cli: Cli) -> Result<(), Failure> {
    let proc_config = std::env::var("PROC_CONFIG").ok();
    let settings = check(&cli, proc_config.as_deref())?;
    let pair_rpc =
        crate::pair_rpc::from_flags(cli.standalone, cli.pair_enable, cli.pair_rpc.as_deref())
            .map_err(Failure::usage)?;
    let found = identity::resolve_from_env(cli.sk.as_deref(), cli.config.as_deref());
    let (identity, mesh_key) = match &settings.visor {
        Some(visor) => embedded_identity(found, &settings, visor_key(visor)?)?,
        None => match found {
            Ok(identity) => (identity, None),
            Err(identity::IdentityError::Missing) => (ephemeral_identity()?, None),
            Err(e) => return Err(Failure::usage(e.to_string())),
        },
    };
    let mut keys = identity.public_keys();
    if let Some(visor) = mesh_key.and_then(|k| k.as_skywire().copied()) {
        // Peers know this node by the visor's key; the internal key stays internal.
        keys.skywire = visor;
    }
    let pk = keys.native;
    let own_skywire = PublicKey::from(keys.skywire);
    if let Some(own) = settings
        .peers
        .iter()
        .find(|peer| peer.pk == pk || peer.pk == own_skywire)
    {
        return Err(Failure::usage(format!(
            "--tcp-peer {own}: that is this node's own public key; a node does not peer with \
             itself (give the other node's tcp://<pk>@host:port)"
        )));
    }
    if identity.source == Source::Ephemeral && mesh_key.is_none() {
        log::warn!("************************************************************************");
        log::warn!("NO IDENTITY GIVEN: using an EPHEMERAL key that CHANGES AT EVERY RESTART.");
        log::warn!("Peers' whitelists and --tcp-peer pins will not match it after a restart.");
        log::warn!("Create one with `skychat keygen -o skychat.json` and pass -c skychat.json.");
        log::warn!("************************************************************************");
    }
    match mesh_key {
        Some(visor) => log::info!(
            "identity: the visor's key {visor} on skynet and dmsg (no secret key given, so \
             TCP-direct is off)"
        ),
        None => log::info!(
            "identity pk={pk} skywire_pk={} (source: {})",
            keys.skywire,
            identity.source
        ),
    }
    if let Some(note) = identity.note() {
        log::info!("{note}");
    }
    if settings.tcp_listen.is_some() && settings.whitelist.is_empty() {
        log::warn!("--tcp-whitelist is empty: every inbound connection will be rejected");
    }
    if settings.tcp_listen.is_none() && !settings.whitelist.is_empty() {
        log::warn!("--tcp-whitelist has no effect without --tcp-listen");
    }
    // Declared before the lock and the store, so that it is removed after they are closed.
    let mut _ephemeral_dir: Option<RunOnlyDir> = None;
    let work_dir = settings
        .visor
        .as_ref()
        .map(|v| PathBuf::from(&v.proc_work_dir))
        .map(|dir| {
            if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir
            }
        });
    let data_dir = match (&cli.data_dir, &work_dir, identity.source) {
        (Some(dir), _, _) => PathBuf::from(dir),
        (None, Some(work), _) => work.join("skychat"),
        (None, None, Source::Ephemeral) => {
            let dir =
                std::env::temp_dir().join(format!("skychat-ephemeral-{}", &pk.to_hex()[..16]));
            log::warn!(
                "ephemeral identity: history is kept in {} only for this run",
                dir.display()
            );
            _ephemeral_dir = Some(RunOnlyDir::new(dir.clone()));
            dir
        }
        (None, None, _) => default_data_dir(&pk),
    };
    let options = StoreOptions {
        durability: if cli.fsync {
            Durability::PowerLoss
        } else {
            Durability::ProcessCrash
        },
        max_db_bytes: cli.max_db_bytes,
        ..StoreOptions::default()
    };
    let _data_dir_lock = DataDirLock::acquire(&data_dir).map_err(Failure::runtime)?;
    let mut store = Store::open(&data_dir, options).map_err(|e| {
        Failure::runtime(format!(
            "cannot open the message store in {}: {e}",
            data_dir.display()
        ))
    })?;
    // Under a visor the store belongs to the visor's key, whatever internal key runs the node.
    let claimant = if settings.visor.is_some() {
        own_skywire
    } else {
        pk
    };
    match store.claim_owner(&claimant.to_hex()) {
        Ok(Owner::Claimed | Owner::Same) => {}
        // A store on a full disk still serves; it is claimed at a later start.
        Err(StoreError::DiskFull(e)) => {
            log::warn!("cannot record the store's identity yet: {e}");
        }
        Err(e) => return Err(Failure::runtime(format!("store: {e}"))),
        Ok(Owner::Other(owner)) => {
            return Err(Failure::runtime(format!(
                "the data directory {} holds the messages of another identity (public key \
                 {owner}), not of this node's {}: run with that identity, or give this node \
                 its own --data-dir",
                data_dir.display(),
                claimant
            )));
        }
    }
    let restore_outbox = store
        .outbox()
        .map_err(|e| Failure::runtime(format!("store: {e}")))?;
    let restored_recipients: Vec<PublicKey> =
        restore_outbox.iter().map(|(peer, _)| *peer).collect();
    let restore_dedup = store
        .dedup_records()
        .map_err(|e| Failure::runtime(format!("store: {e}")))?;
    let aliases = store
        .aliases()
        .map_err(|e| Failure::runtime(format!("store: {e}")))?;
    let links = store
        .dial_addrs()
        .map_err(|e| Failure::runtime(format!("store: {e}")))?;
    let blocked = store
        .peers_with_flag(PeerFlag::Blocked)
        .map_err(|e| Failure::runtime(format!("store: {e}")))?;
    let muted = store
        .peers_with_flag(PeerFlag::Muted)
        .map_err(|e| Failure::runtime(format!("store: {e}")))?;
    if let Err(e) = store.enforce_retention(now_ms()) {
        log::warn!("retention: {e}");
    }
    let nofile = crate::fd_limit::raise_to_hard();
    let http_gate = http::Gate::new(http::connection_cap(nofile));
    // Bound before the token file is written, so that a failed bind leaves no token behind.
    let http_listener = http::bind(settings.http_addr).map_err(|e| {
        Failure::runtime(format!("--addr {}: cannot listen: {e}", settings.http_addr))
    })?;
    let token = if settings.http_addr.ip().is_loopback() {
        None
    } else {
        let path = data_dir.join("http-token");
        let token = Token::load_or_create(&path).map_err(Failure::runtime)?;
        log::warn!(
            "HTTP surface on {} is reachable beyond loopback: requests need \
             `Authorization: Bearer <token>` with the token in {}",
            settings.http_addr,
            path.display()
        );
        Some(token)
    };
    let defaults = NodeConfig::default();
    let budget = crate::fd_limit::listener_budget(
        nofile,
        crate::fd_limit::ListenerBudget {
            silent: defaults.max_silent_connections,
            pending: defaults.max_pending_handshakes,
        },
    );
    let config = DriverConfig {
        identity: identity.secret,
        node: NodeConfig {
            whitelist: Whitelist::new(settings.whitelist.clone()),
            max_silent_connections: budget.silent,
            max_pending_handshakes: budget.pending,
            pq_policy: PqPolicy {
                require: cli.require_pq,
                ..defaults.pq_policy
            },
            // Under a visor any Skywire key is reachable: messages wait in the outbox while the
            // visor dials their peer.
            dial_on_demand: settings.visor.is_some(),
            mesh_key,
            blocked: blocked.clone(),
            ..defaults
        },
        seed: crate::keyfile::seed().map_err(Failure::runtime)?,
        restore_outbox,
        restore_dedup,
        tcp_keepalive: Some(Duration::from_secs(30)),
    };
    let (signals_tx, signals) = async_channel::bounded::<()>(1);
    ctrlc::set_handler(move || {
        let _ = signals_tx.try_send(());
    })
    .map_err(|e| Failure::runtime(format!("cannot install the signal handler: {e}")))?;

    smol::block_on(async move {
        let node = skychat_smol::start(config);
        let tcp_listen = match settings.tcp_listen {
            Some(addr) => Some(node.listen(addr).await.map_err(|e| {
                Failure::runtime(format!("--tcp-listen {addr}: cannot listen: {e}"))
            })?),
            None => None,
        };
        for peer in &settings.peers {
            node.keep_connected(peer.pk, peer.addr.clone()).await;
        }
        // Peers added with an address; a --tcp-peer's address for the same key wins.
        for (peer, addr) in &links {
            if !settings.peers.iter().any(|p| p.pk == *peer) {
                node.keep_connected(*peer, addr.clone()).await;
            }
        }
        let link = match &settings.visor {
            Some(proc_config) => Some(start_link(proc_config, &node).await?),
            None => None,
        };
        let storage = Storage::start(store);
        let info = NodeInfo {
            mode: settings.mode,
            http_addr: None,
            tcp_listen,
            tcp_peers: settings.peers.clone(),
            whitelist: settings.whitelist.clone(),
        };
        let service = Service::new(node.clone(), storage.clone(), info.clone());
        service.note_restored_outbox(restored_recipients);
        service.load_aliases(aliases);
        service.load_links(links);
        service.load_flags(blocked, muted);
        if let Some(addr) = &settings.advertise {
            service.set_advertise(addr.clone());
        }
        service.set_pairing(pair_rpc.is_some());
        service.set_public_keys(keys);
        service.set_require_pq(cli.require_pq);
        // Before the HTTP surface serves: its first /status already shows the link.
        if let Some(link) = &link {
            service.set_visor(link.clone());
        }
        let http_addr = http::serve_on(
            service.clone(),
            http_listener,
            token.clone(),
            http_gate,
            pair_rpc,
        )
        .map_err(|e| {
            Failure::runtime(format!("--addr {}: cannot serve: {e}", settings.http_addr))
        })?;
        service.set_http_addr(http_addr);
        skychat_smol::spawn(service.clone().run_events());
        skychat_smol::spawn(service.clone().run_committer());
        smol::spawn(retention_loop(storage.clone())).detach();
        // What was logged while starting reaches stderr before the banner (unless stderr is
        // stalled: the wait is short).
        crate::logging::settle(Duration::from_millis(200));
        println!("skychat {} node", settings.mode);
        println!("  public key:  {pk}");
        println!("  native pk:   {pk}  (X25519: the native suite)");
        println!(
            "  skywire pk:  {}  (secp256k1, as a Skywire visor derives it: give it to Go skychat peers)",
            keys.skywire
        );
        println!("  http:        http://{http_addr}");
        println!("  web page:    {}", address::web_page_url(http_addr));
        match tcp_listen {
            Some(addr) => {
                println!("  tcp listen:  {addr}");
                println!("  dial native:   {}", keys.native_dial(addr));
                println!("  dial skywire:  {}", keys.skywire_dial(addr));
            }
            None => println!("  tcp listen:  off"),
        }
        for peer in &settings.peers {
            println!("  tcp peer:    {peer}");
        }
        if let Some(link) = &link {
            let status = link.status();
            println!(
                "  visor:       {} (app server {})",
                status.visor_pk, status.app_server
            );
        }
        let lost = futures_lite::future::or(
            async {
                let _ = signals.recv().await;
                None
            },
            async {
                match &link {
                    Some(link) => {
                        link.ended().await;
                        link.status().error
                    }
                    None => std::future::pending().await,
                }
            },
        )
        .await;
        log::info!("shutting down: closing sessions and flushing the store");
        if let Some(link) = &link
            && lost.is_none()
        {
            link.stop(&SmolRuntime).await;
        }
        service.shutdown().await;
        drop(service);
        log::info!("stopped");
        match lost {
            // The visor starts the app again when it comes back (with a new proc key, so this
            // process could not reconnect): exiting frees the data directory for it.
            Some(reason) => Err(Failure::runtime(format!(
                "lost the visor: {reason}; exiting (a visor that comes back starts the app again)"
            ))),
            None => Ok(()),
        }
    })
}

/// Connects to the visor's app server and listens on skynet and dmsg.
async fn start_link(
    proc_config: &ProcConfig,
    node: &skychat_driver::NodeHandle,
) -> Result<Arc<VisorLink>, Failure> {
    let link = skychat_visor_link::connect(
        Arc::new(SmolRuntime),
        proc_config,
        node,
        LinkConfig::default(),
    )
    .await
    .map_err(|e| Failure::runtime(e.to_string()))?;
    Ok(Arc::new(link))
}

async fn retention_loop(storage: Storage) {
    loop {
        smol::Timer::after(RETENTION_EVERY).await;
        match storage.read(|s| s.enforce_retention(now_ms())).await {
            Ok(Ok(report)) if report.deleted() > 0 => log::info!("retention: {report:?}"),
            Ok(Err(e)) => log::warn!("retention: {e}"),
            _ => {}
        }
    }
}
