//! `skywire`: accepts the Skywire spelling of the skychat commands, so that
//! `skywire app skychat <flags>` runs a node and `skywire cli skychat <tool> <flags>` runs a tool,
//! exactly like `skychat <flags>` and `skychat <tool> <flags>`; `skywire cli skychat` alone lists
//! the tools.

const USAGE: &str =
    "usage: skywire app skychat [node flags]\n       skywire cli skychat <command> [flags]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let (program, rest) = match words.as_slice() {
        ["cli", "skychat"] => {
            // The tools, not a node: list them.
            println!("{}", skychat::tools_help("skywire cli skychat"));
            std::process::exit(0);
        }
        ["app", "skychat", ..] => ("skywire app skychat", &args[2..]),
        ["cli", "skychat", ..] => ("skywire cli skychat", &args[2..]),
        ["--help" | "-h" | "help"] | [] => {
            println!("{USAGE}");
            std::process::exit(if args.is_empty() { 2 } else { 0 });
        }
        _ => {
            eprintln!("error: unknown command {:?}\n{USAGE}", args.join(" "));
            std::process::exit(2);
        }
    };
    std::process::exit(skychat::main_as(program, rest));
}
