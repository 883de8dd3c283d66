//! The tools that change what the local node keeps, through its HTTP surface: `block` and
//! `mute` (a peer's flags), `export` and `import` (the whole history as one file).

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use crate::cli::{BlockArgs, ExportArgs, ImportArgs, MuteArgs};
use crate::http_client::encode_component;
use crate::local_node::LocalNode;
use crate::run::Failure;

/// How long `export` and `import` wait for the node: a large history takes a while.
const FILE_WAIT: Duration = Duration::from_secs(600);

/// `skychat block`.
pub fn block(args: &BlockArgs) -> Result<(), Failure> {
    let node = LocalNode::from_flags(args.addr.as_deref(), args.token_file.as_deref())?;
    set_flag(&node, &args.peer, "block", !args.undo)
}

/// `skychat mute`.
pub fn mute(args: &MuteArgs) -> Result<(), Failure> {
    let node = LocalNode::from_flags(args.addr.as_deref(), args.token_file.as_deref())?;
    set_flag(&node, &args.peer, "mute", !args.undo)
}

fn set_flag(node: &LocalNode, peer: &str, flag: &str, on: bool) -> Result<(), Failure> {
    let method = if on { "PUT" } else { "DELETE" };
    let path = format!("/peers/{}/{flag}", encode_component(peer));
    let answer = node.call(method, &path, None)?;
    let pk = answer["pk"].as_str().unwrap_or(peer);
    let done = match (flag, on) {
        ("block", true) => "blocked",
        ("block", false) => "unblocked",
        (_, true) => "muted",
        (_, false) => "unmuted",
    };
    println!("{pk} is {done}");
    Ok(())
}

/// `skychat export`.
pub fn export(args: &ExportArgs) -> Result<(), Failure> {
    let node = LocalNode::from_flags(args.addr.as_deref(), args.token_file.as_deref())?;
    let file = node.call_text("GET", "/export", None, FILE_WAIT)?;
    match &args.output {
        None => std::io::stdout()
            .write_all(file.as_bytes())
            .map_err(|e| Failure::runtime(format!("standard output: {e}"))),
        Some(path) => {
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| {
                    Failure::usage(format!(
                        "--output {path}: {e} (it must not exist yet: export refuses to overwrite)"
                    ))
                })?;
            out.write_all(file.as_bytes())
                .and_then(|()| out.sync_all())
                .map_err(|e| Failure::runtime(format!("--output {path}: {e}")))?;
            eprintln!("wrote {} messages to {path}", count_messages(&file));
            Ok(())
        }
    }
}

/// `skychat import`.
pub fn import(args: &ImportArgs) -> Result<(), Failure> {
    let node = LocalNode::from_flags(args.addr.as_deref(), args.token_file.as_deref())?;
    let file = std::fs::read_to_string(&args.file)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.file)))?;
    let answer = node.call_text("POST", "/import", Some(&file), FILE_WAIT)?;
    let report: Value = serde_json::from_str(&answer).unwrap_or_default();
    println!(
        "imported {} messages ({} already here), {} aliases ({} skipped)",
        report["messages_added"],
        report["messages_present"],
        report["aliases_added"],
        report["aliases_skipped"]
    );
    Ok(())
}

fn count_messages(file: &str) -> usize {
    file.lines()
        .filter(|line| line.contains(r#""type":"message""#))
        .count()
}
