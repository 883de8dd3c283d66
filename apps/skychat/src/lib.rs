//! The skychat application: the `skychat` and `skywire` binaries share this code. It holds the
//! CLI, identity loading, the node runner, the one-shot sender, the service layer, the HTTP
//! surface and the message store.

pub mod address;
pub mod cli;
pub mod data_dir;
pub mod duration;
pub mod fd_limit;
pub mod http;
pub mod http_client;
pub mod identity;
pub mod keyfile;
pub mod launcher_entry;
pub mod logging;
pub mod oneshot;
pub mod pair_rpc;
pub mod run;
pub mod send;
pub mod service;
pub mod store;

/// Runs the `skychat` command line with `args` (without the program name); returns the exit
/// code.
pub fn main_with(args: &[String]) -> i32 {
    let strs: Vec<&str> = args.iter().map(String::as_str).collect();
    let cli = match <cli::Cli as argh::FromArgs>::from_args(&["skychat"], &strs) {
        Ok(cli) => cli,
        Err(early) => {
            return match early.status {
                Ok(()) => {
                    println!("{}", early.output);
                    0
                }
                Err(()) => {
                    eprintln!(
                        "{}\nRun `skychat --help` for the flags.",
                        early.output.trim_end()
                    );
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
    let result = match cli.command {
        Some(cli::Command::Send(ref args)) => send::run(args),
        Some(cli::Command::Keygen(ref args)) => keygen(args),
        Some(cli::Command::Pk(ref args)) => print_pk(args),
        Some(cli::Command::LauncherEntry(ref args)) => launcher_entry::run(args),
        None => run::run(cli),
    };
    match result {
        Ok(()) => 0,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            failure.code
        }
    }
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
