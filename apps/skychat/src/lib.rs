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
pub mod logging;
pub mod oneshot;
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
    let secret =
        keyfile::write_new(std::path::Path::new(&args.output)).map_err(run::Failure::runtime)?;
    println!("{}", secret.public_key());
    eprintln!("wrote {} (mode 0600); pass it with -c", args.output);
    Ok(())
}

fn print_pk(args: &cli::PkArgs) -> Result<(), run::Failure> {
    let identity = identity::resolve_from_env(args.sk.as_deref(), args.config.as_deref())
        .map_err(|e| run::Failure::usage(e.to_string()))?;
    println!("{}", identity.secret.public_key());
    Ok(())
}
