//! The skychat application: the `skychat` and `skywire` binaries share this code. It holds the
//! CLI, identity loading, the node runner, the one-shot sender, the service layer, the HTTP
//! surface and the message store.

pub mod address;
pub mod cli;
pub mod cli_args;
pub mod data_dir;
pub mod duration;
pub mod fd_limit;
pub mod http;
pub mod http_client;
pub mod identity;
pub mod keyfile;
pub mod launcher_entry;
pub mod local_node;
pub mod logging;
pub mod node_tools;
pub mod oneshot;
pub mod pair_rpc;
pub mod peer_tools;
pub mod run;
pub mod send;
pub mod service;
pub mod store;

/// Runs the `skychat` command line with `args` (without the program name); returns the exit
/// code.
pub fn main_with(args: &[String]) -> i32 {
    main_as("skychat", args)
}

/// [`main_with`] for a program spelt `program` (`skywire cli skychat`, say), as its help and
/// errors name it.
pub fn main_as(program: &str, args: &[String]) -> i32 {
    if args.first().map(String::as_str) == Some("--version") {
        println!("skychat {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let args = cli_args::normalize(args);
    let help = match cli_args::subcommand(&args) {
        Some(name) => format!("run `{program} {name} --help` for its flags"),
        None => format!("run `{program} --help` for the flags"),
    };
    let strs: Vec<&str> = args.iter().map(String::as_str).collect();
    let cli = match <cli::Cli as argh::FromArgs>::from_args(&[program], &strs) {
        Ok(cli) => cli,
        Err(early) => {
            return match early.status {
                Ok(()) => {
                    println!("{}", early.output);
                    0
                }
                Err(()) => {
                    eprintln!("{}\n{}.", early.output.trim_end(), capitalized(&help));
                    2
                }
            };
        }
    };
    // Held to the end: dropping it writes out the log lines still buffered.
    let _log_writer = match logging::init(cli.log_level.as_deref()) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let tool = cli.command.is_some();
    let result = match cli.command {
        Some(cli::Command::Send(ref args)) => send::run(args),
        Some(cli::Command::Keygen(ref args)) => keygen(args),
        Some(cli::Command::Pk(ref args)) => print_pk(args),
        Some(cli::Command::LauncherEntry(ref args)) => launcher_entry::run(args),
        Some(cli::Command::History(ref args)) => node_tools::history(args),
        Some(cli::Command::Status(ref args)) => node_tools::status(args),
        Some(cli::Command::Peers(ref args)) => node_tools::peers(args),
        Some(cli::Command::Alias(ref args)) => node_tools::alias(args),
        Some(cli::Command::Block(ref args)) => peer_tools::block(args),
        Some(cli::Command::Mute(ref args)) => peer_tools::mute(args),
        Some(cli::Command::Export(ref args)) => peer_tools::export(args),
        Some(cli::Command::Import(ref args)) => peer_tools::import(args),
        None => run::run(cli),
    };
    match result {
        Ok(()) => 0,
        Err(failure) => {
            if tool && failure.code == 2 {
                eprintln!("error: {} ({help})", failure.message);
            } else {
                eprintln!("error: {}", failure.message);
            }
            failure.code
        }
    }
}

/// The tools (the subcommands) and what each does, for `skywire cli skychat` alone: the
/// commands part of the help, under a usage line for `program`.
pub fn tools_help(program: &str) -> String {
    let help = <cli::Cli as argh::FromArgs>::from_args(&["skychat"], &["--help"])
        .map(|_| String::new())
        .unwrap_or_else(|early| early.output);
    let commands = help
        .find("Commands:")
        .map(|at| help[at..].trim_end())
        .unwrap_or_default();
    format!(
        "Usage: {program} <command> [<args>]\n\n{commands}\n\nRun `{program} <command> --help` for a \
         command's flags."
    )
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn keygen(args: &cli::KeygenArgs) -> Result<(), run::Failure> {
    let (_, keys) =
        keyfile::write_new(std::path::Path::new(&args.output)).map_err(run::Failure::runtime)?;
    // Stdout keeps its one line, the native key, for scripts; the labelled keys go to stderr.
    println!("{}", keys.native);
    eprintln!("wrote {} (mode 0600); pass it with -c", args.output);
    eprint!("{}", labelled_keys(&keys));
    Ok(())
}

fn print_pk(args: &cli::PkArgs) -> Result<(), run::Failure> {
    let identity = identity::resolve_from_env(args.sk.as_deref(), args.config.as_deref())
        .map_err(|e| run::Failure::usage(e.to_string()))?;
    if let Some(note) = identity.note() {
        eprintln!("note: {note}");
    }
    let keys = identity.public_keys();
    if args.json {
        let doc = serde_json::json!({
            "pk": keys.native.to_hex(),
            "native_pk": keys.native.to_hex(),
            "skywire_pk": keys.skywire.to_hex(),
        });
        println!("{doc}");
    } else {
        // Stdout keeps its one line, the native key, for scripts; the labelled keys go to stderr.
        println!("{}", keys.native);
        eprint!("{}", labelled_keys(&keys));
    }
    Ok(())
}

/// Both public keys, one labelled line each, for an operator to read.
fn labelled_keys(keys: &identity::PublicKeys) -> String {
    format!(
        "skywire pk: {}  (secp256k1, as a Skywire visor derives it: give it to Go skychat peers)\n\
         native pk:  {}  (X25519, the native suite: the line on stdout)\n",
        keys.skywire, keys.native
    )
}
