//! The command line: node flags at the top level, tools as subcommands.

use argh::FromArgs;

/// skychat: peer-to-peer chat over Noise XK. Without a subcommand, runs a node.
#[derive(FromArgs, Debug, PartialEq)]
pub struct Cli {
    /// run without a parent visor: TCP-direct and the HTTP surface only
    #[argh(switch)]
    pub standalone: bool,

    /// HTTP control surface: ":PORT" is loopback, "*:PORT" all interfaces, or "host:port"
    /// (default 127.0.0.1:8001)
    #[argh(option)]
    pub addr: Option<String>,

    /// accept Noise XK over TCP here: ":PORT" (all interfaces) or "host:port"; needs
    /// --tcp-whitelist
    #[argh(option)]
    pub tcp_listen: Option<String>,

    /// comma-separated public keys allowed to connect to --tcp-listen: 64 hex (native) or 66
    /// hex (Skywire, the key a Go skychat peer dials with); "" rejects everyone
    #[argh(option)]
    pub tcp_whitelist: Option<String>,

    /// the address peers dial to reach --tcp-listen, put in this node's invite:
    /// tcp://host:port or host:port (needed when listening on every interface, 0.0.0.0)
    #[argh(option)]
    pub advertise: Option<String>,

    /// keep a persistent link to tcp://<pk>@host:port (repeatable, or comma-separated); a 64-hex
    /// pk speaks the native suite, a 66-hex pk (a Go skychat's visor key) the Skywire suite
    #[argh(option)]
    pub tcp_peer: Vec<String>,

    /// refuse Skywire-suite peers that complete the handshake without the post-quantum ML-KEM
    /// hybrid (by default they are accepted with a DOWNGRADE warning)
    #[argh(switch)]
    pub require_pq: bool,

    /// identity secret key as 64 hex characters (visible to other local users in `ps`; prefer
    /// -c or DMSGCURL_SK)
    #[argh(option)]
    pub sk: Option<String>,

    /// skywire-config.json to read the identity from (its "sk"; a "pk" must match it)
    #[argh(option, short = 'c')]
    pub config: Option<String>,

    /// directory for the message store (default: ~/.local/share/skychat/<pk prefix>, or the
    /// visor's work dir)
    #[argh(option)]
    pub data_dir: Option<String>,

    /// fsync every commit so that accepted messages also survive power loss
    #[argh(switch)]
    pub fsync: bool,

    /// cap the message store at this many bytes: writes beyond it fail (HTTP 507 for sends;
    /// incoming messages stay unacked and are resent) until retention or a larger cap frees
    /// room (default: only the disk limits it)
    #[argh(option)]
    pub max_db_bytes: Option<u64>,

    /// log level: error, warn, info, debug or trace (default info; RUST_LOG also works)
    #[argh(option)]
    pub log_level: Option<String>,

    /// embedded mode: serve the /pair routes through the visor's own RPC (--pair-rpc); without
    /// it they answer 503
    #[argh(switch)]
    pub pair_enable: bool,

    /// the visor's RPC address for --pair-enable: host:port, the visor's "cli_addr" (default
    /// localhost:3435)
    #[argh(option)]
    pub pair_rpc: Option<String>,

    /// tool to run instead of a node
    #[argh(subcommand)]
    pub command: Option<Command>,
}

/// The tools.
#[derive(FromArgs, Debug, PartialEq)]
#[argh(subcommand)]
pub enum Command {
    /// Send a message.
    Send(SendArgs),
    /// Create an identity file.
    Keygen(KeygenArgs),
    /// Print the public keys of the resolved identity.
    Pk(PkArgs),
    /// Print or add the launcher.apps[] entry of a visor config.
    LauncherEntry(LauncherEntryArgs),
    /// Show the local node's message history.
    History(HistoryArgs),
    /// Show the local node's status.
    Status(StatusArgs),
    /// List the peers the local node knows, with their aliases.
    Peers(PeersArgs),
    /// Give a peer a local name, or remove it.
    Alias(AliasArgs),
    /// Block a peer, or unblock it.
    Block(BlockArgs),
    /// Mute a peer, or unmute it.
    Mute(MuteArgs),
    /// Write the local node's history to a file.
    Export(ExportArgs),
    /// Add the messages of an export file to the local node's history.
    Import(ImportArgs),
}

/// The subcommands' names, as typed.
pub const SUBCOMMANDS: [&str; 12] = [
    "send",
    "keygen",
    "pk",
    "launcher-entry",
    "history",
    "status",
    "peers",
    "alias",
    "block",
    "mute",
    "export",
    "import",
];

/// Send one message: directly over TCP with --via, or through the local node with --to.
#[derive(FromArgs, Debug, PartialEq)]
#[argh(subcommand, name = "send")]
pub struct SendArgs {
    /// dial this peer directly as a one-shot Noise peer: tcp://<pk>@host:port (64-hex pk:
    /// native suite; 66-hex pk: Skywire suite, as a Go skychat listens)
    #[argh(option)]
    pub via: Option<String>,

    /// with --via to a 66-hex pk: fail unless the handshake completes with the post-quantum
    /// ML-KEM hybrid
    #[argh(switch)]
    pub require_pq: bool,

    /// recipient: a public key (64 or 66 hex), a tcp://<pk>@host:port address or an alias (sent
    /// through the local node's HTTP surface)
    #[argh(option, short = 't')]
    pub to: Option<String>,

    /// the message text
    #[argh(option, short = 'm')]
    pub msg: String,

    /// wait this long for the ack, e.g. 8s or 500ms (default 5s, at most 60s; 0 = do not wait)
    #[argh(option, short = 'w')]
    pub wait: Option<String>,

    /// identity secret key (64 hex) for --via
    #[argh(option)]
    pub sk: Option<String>,

    /// skywire-config.json holding the identity for --via
    #[argh(option, short = 'c')]
    pub config: Option<String>,

    /// local node HTTP address for --to (default 127.0.0.1:8001)
    #[argh(option)]
    pub addr: Option<String>,

    /// bearer token file for a node whose HTTP surface requires one
    #[argh(option)]
    pub token_file: Option<String>,
}

/// Write a new identity file holding "sk" and the Skywire "pk" (mode 0600). Refuses to
/// overwrite.
#[derive(FromArgs, Debug, PartialEq)]
#[argh(subcommand, name = "keygen")]
pub struct KeygenArgs {
    /// where to write the file
    #[argh(option, short = 'o')]
    pub output: String,
}

/// Print the public keys of the identity given by --sk, DMSGCURL_SK or -c: the native key on
/// stdout, both keys labelled on stderr.
#[derive(FromArgs, Debug, PartialEq)]
#[argh(subcommand, name = "pk")]
pub struct PkArgs {
    /// identity secret key (64 hex)
    #[argh(option)]
    pub sk: Option<String>,

    /// skywire-config.json holding the identity
    #[argh(option, short = 'c')]
    pub config: Option<String>,

    /// print {"pk", "native_pk", "skywire_pk"} as one JSON line instead
    #[argh(switch)]
    pub json: bool,
}

/// Print the launcher.apps[] entry that has a Skywire visor start this program, or add it to
/// the visor's config with --write (refusing a taken name; the rest of the file is kept as it
/// is).
#[derive(FromArgs, Debug, PartialEq)]
#[argh(subcommand, name = "launcher-entry")]
pub struct LauncherEntryArgs {
    /// the visor's skywire-config.json (the node reads its identity from it too)
    #[argh(option, short = 'c')]
    pub config: String,

    /// add the entry to the file's launcher.apps[] (atomically; the rest of the file is kept)
    #[argh(switch)]
    pub write: bool,

    /// with --write: replace an entry of the same name instead of refusing
    #[argh(switch)]
    pub replace: bool,

    /// the entry's name (default skychat)
    #[argh(option)]
    pub name: Option<String>,

    /// the program's file name inside launcher.bin_path (default skychat)
    #[argh(option)]
    pub binary: Option<String>,

    /// the node's HTTP control surface under the visor (default :8001)
    #[argh(option)]
    pub addr: Option<String>,

    /// also pass --pair-enable, and --pair-rpc with the config's cli_addr
    #[argh(switch)]
    pub pair_enable: bool,

    /// do not start it with the visor ("auto_start": false)
    #[argh(switch)]
    pub no_auto_start: bool,
}

/// Declares the arguments of a tool that talks to the local node: the fields given, then
/// `--addr` and `--token-file`, which every such tool takes.
macro_rules! node_tool {
    ($(#[$meta:meta])* pub struct $name:ident { $($field:tt)* }) => {
        #[derive(FromArgs, Debug, PartialEq)]
        $(#[$meta])*
        pub struct $name {
            $($field)*

            /// local node HTTP address (default 127.0.0.1:8001)
            #[argh(option)]
            pub addr: Option<String>,

            /// bearer token file for a node whose HTTP surface requires one
            #[argh(option)]
            pub token_file: Option<String>,
        }
    };
}

node_tool! {
/// Show the messages the local node stored, oldest first: time, direction, peer (its alias, or
/// the start of its key), delivery state, text.
#[argh(subcommand, name = "history")]
pub struct HistoryArgs {
    /// only the conversation with this peer: its key or alias
    #[argh(option)]
    pub peer: Option<String>,

    /// the newest N messages, 1 to 1000 (default 20)
    #[argh(option)]
    pub limit: Option<u32>,

    /// print the node's JSON answer instead
    #[argh(switch)]
    pub json: bool,
}
}

node_tool! {
/// Show the local node's identity, addresses, peers and counters.
#[argh(subcommand, name = "status")]
pub struct StatusArgs {
    /// print the node's /status JSON instead
    #[argh(switch)]
    pub json: bool,
}
}

node_tool! {
/// List every peer the local node knows: key, alias, state, network, messages waiting.
#[argh(subcommand, name = "peers")]
pub struct PeersArgs {
    /// print the node's /peers JSON instead
    #[argh(switch)]
    pub json: bool,
}
}

node_tool! {
/// Give the peer <pk> the local name <name> (usable wherever a key is), or remove it with
/// --clear. Names are 1 to 64 bytes, unique on the node ignoring case.
#[argh(subcommand, name = "alias")]
pub struct AliasArgs {
    /// the peer: its key, or its current alias
    #[argh(positional)]
    pub peer: String,

    /// its new alias
    #[argh(positional)]
    pub name: Option<String>,

    /// remove the peer's alias instead
    #[argh(switch)]
    pub clear: bool,
}
}

node_tool! {
/// Block the peer <pk>: the node closes its sessions, refuses it on every network, never dials
/// it and sends it nothing, across restarts. --undo unblocks it.
#[argh(subcommand, name = "block")]
pub struct BlockArgs {
    /// the peer: its key or alias
    #[argh(positional)]
    pub peer: String,

    /// unblock it instead
    #[argh(switch)]
    pub undo: bool,
}
}

node_tool! {
/// Mute the peer <pk>: the web page does not notify of its messages. --undo unmutes it.
#[argh(subcommand, name = "mute")]
pub struct MuteArgs {
    /// the peer: its key or alias
    #[argh(positional)]
    pub peer: String,

    /// unmute it instead
    #[argh(switch)]
    pub undo: bool,
}
}

node_tool! {
/// Write the local node's whole history and aliases as one JSON Lines file (the format of GET
/// /export), to standard output or to --output.
#[argh(subcommand, name = "export")]
pub struct ExportArgs {
    /// write to this file instead of standard output (refuses to overwrite one)
    #[argh(option, short = 'o')]
    pub output: Option<String>,
}
}

node_tool! {
/// Add the messages and aliases of an export file of this node that it does not have; a file
/// with a bad line imports nothing.
#[argh(subcommand, name = "import")]
pub struct ImportArgs {
    /// the export file
    #[argh(positional)]
    pub file: String,
}
}
