//! `skywire`: accepts the Skywire spelling of the skychat commands, so that
//! `skywire app skychat <flags>` runs a node and `skywire cli skychat <tool> <flags>` runs a tool,
//! exactly like `skychat <flags>` and `skychat <tool> <flags>`.

const USAGE: &str =
    "usage: skywire app skychat [node flags]\n       skywire cli skychat send [flags]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["app", "skychat", ..] | ["cli", "skychat", ..] => args[2..].to_vec(),
        ["--help" | "-h" | "help"] | [] => {
            println!("{USAGE}");
            std::process::exit(if args.is_empty() { 2 } else { 0 });
        }
        _ => {
            eprintln!("error: unknown command {:?}\n{USAGE}", args.join(" "));
            std::process::exit(2);
        }
    };
    std::process::exit(skychat::main_with(&rest));
}
