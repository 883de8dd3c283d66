//! `skychat`: runs a node, or a tool given as a subcommand.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(skychat::main_with(&args));
}
