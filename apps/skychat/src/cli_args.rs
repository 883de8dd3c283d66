//! The command line before argh reads it: `--name=value` split into `--name value` (argh takes
//! only the second form), `-h` read as `--help`, and which subcommand the line runs, for errors
//! that point at its help. An argument that is the value of the option before it, and anything
//! after `--`, is left exactly as typed.

use crate::cli::SUBCOMMANDS;

/// Every option that takes a value, in any command (argh's usage lines list the same; a test
/// checks it).
pub const VALUE_OPTIONS: [&str; 26] = [
    "--addr",
    "--tcp-listen",
    "--advertise",
    "--tcp-whitelist",
    "--tcp-peer",
    "--sk",
    "--config",
    "-c",
    "--data-dir",
    "--max-db-bytes",
    "--log-level",
    "--pair-rpc",
    "--via",
    "--to",
    "-t",
    "--msg",
    "-m",
    "--wait",
    "-w",
    "--token-file",
    "--output",
    "-o",
    "--name",
    "--binary",
    "--peer",
    "--limit",
];

fn takes_value(arg: &str) -> bool {
    VALUE_OPTIONS.contains(&arg)
}

/// `args` as argh reads them: `--name=value` of an option that takes a value becomes
/// `--name value`, and `-h` becomes `--help`, except where the argument is the value of the
/// option before it or comes after `--`.
pub fn normalize(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len() + 2);
    let mut is_value = false;
    let mut rest = args.iter();
    for arg in rest.by_ref() {
        if is_value {
            is_value = false;
            out.push(arg.clone());
            continue;
        }
        if arg == "--" {
            out.push(arg.clone());
            break;
        }
        if arg == "-h" {
            out.push("--help".into());
            continue;
        }
        if let Some((name, value)) = arg.split_once('=')
            && name.starts_with("--")
            && takes_value(name)
        {
            out.push(name.to_string());
            out.push(value.to_string());
            continue;
        }
        is_value = takes_value(arg);
        out.push(arg.clone());
    }
    out.extend(rest.cloned());
    out
}

/// The subcommand a normalized command line runs, if any: the first argument that names one and
/// is not an option's value.
pub fn subcommand(args: &[String]) -> Option<&'static str> {
    let mut is_value = false;
    for arg in args {
        if is_value {
            is_value = false;
            continue;
        }
        if arg == "--" {
            return None;
        }
        if let Some(name) = SUBCOMMANDS.iter().find(|name| **name == arg) {
            return Some(name);
        }
        is_value = takes_value(arg);
    }
    None
}

#[cfg(test)]
mod tests {
    use argh::FromArgs;

    use super::*;
    use crate::cli::Cli;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn equals_forms_are_split_except_in_values_and_after_the_separator() {
        assert_eq!(
            normalize(&strings(&[
                "send",
                "--to=alice",
                "-m",
                "--wait=5s",
                "--token-file=a=b",
                "--",
                "--addr=x",
            ])),
            strings(&[
                "send",
                "--to",
                "alice",
                "-m",
                "--wait=5s",
                "--token-file",
                "a=b",
                "--",
                "--addr=x",
            ])
        );
        // A switch has no value to split off: argh names it as unknown.
        assert_eq!(normalize(&strings(&["--json=1"])), strings(&["--json=1"]));
        assert_eq!(
            normalize(&strings(&["history", "-h"])),
            strings(&["history", "--help"])
        );
        assert_eq!(
            normalize(&strings(&["send", "-m", "-h"])),
            strings(&["send", "-m", "-h"])
        );
    }

    #[test]
    fn the_subcommand_is_found_past_option_values() {
        assert_eq!(
            subcommand(&strings(&["--addr", "status", "history"])),
            Some("history")
        );
        assert_eq!(subcommand(&strings(&["--standalone"])), None);
        assert_eq!(subcommand(&strings(&["--", "peers"])), None);
    }

    /// The options argh's usage line of `command` shows with a value (`--name <…>`).
    fn usage_value_options(command: &[&str]) -> Vec<String> {
        let mut args = command.to_vec();
        args.push("--help");
        let help = Cli::from_args(&["skychat"], &args)
            .expect_err("help")
            .output;
        let usage = help.lines().next().expect("a usage line");
        let words: Vec<&str> = usage.split_whitespace().collect();
        words
            .windows(2)
            .filter(|w| w[1].starts_with('<') && !w[0].ends_with(']'))
            .filter(|w| w[0].trim_start_matches('[').starts_with('-'))
            .map(|w| w[0].trim_start_matches('[').to_string())
            .collect()
    }

    #[test]
    fn every_option_with_a_value_is_known() {
        let mut seen = Vec::new();
        for command in std::iter::once(None).chain(SUBCOMMANDS.iter().map(Some)) {
            let args: Vec<&str> = command.into_iter().copied().collect();
            for option in usage_value_options(&args) {
                assert!(takes_value(&option), "{option} of {command:?}");
                seen.push(option);
            }
        }
        for option in VALUE_OPTIONS {
            let long_or_short = seen.contains(&option.to_string())
                || ["--config", "--to", "--msg", "--wait", "--output"].contains(&option);
            assert!(long_or_short, "{option} is no command's option");
        }
    }
}
