//! The tools that read and name things on the local node through its HTTP surface: `history`,
//! `status`, `peers` and `alias`. Each prints the node's JSON with `--json`, else lines for a
//! person to read; peers are shown by alias where they have one.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::cli::{AliasArgs, HistoryArgs, PeersArgs, StatusArgs};
use crate::http_client::encode_component;
use crate::local_node::LocalNode;
use crate::run::Failure;

/// Messages `history` shows when `--limit` is not given.
pub const DEFAULT_HISTORY_LIMIT: u32 = 20;

/// `skychat history`.
pub fn history(args: &HistoryArgs) -> Result<(), Failure> {
    let node = LocalNode::from_flags(args.addr.as_deref(), args.token_file.as_deref())?;
    let mut path = format!(
        "/history?limit={}",
        args.limit.unwrap_or(DEFAULT_HISTORY_LIMIT)
    );
    if let Some(peer) = &args.peer {
        path.push_str(&format!("&peer={}", encode_component(peer)));
    }
    let messages = node.call("GET", &path, None)?;
    if args.json {
        return emit_json(&messages);
    }
    let names = aliases(&node)?;
    emit_lines(&messages, "no messages", |m| history_line(m, &names))
}

/// `skychat status`.
pub fn status(args: &StatusArgs) -> Result<(), Failure> {
    let node = LocalNode::from_flags(args.addr.as_deref(), args.token_file.as_deref())?;
    let status = node.call("GET", "/status", None)?;
    if args.json {
        return emit_json(&status);
    }
    let text = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let counters = &status["counters"];
    let peers = status["peers"].as_array().cloned().unwrap_or_default();
    let mut lines = vec![
        format!(
            "node:      {} ({})",
            text(&status["public_key"]),
            text(&status["mode"])
        ),
        format!("skywire:   {}", text(&status["skywire_pk"])),
        format!(
            "web page:  {}",
            status["http_addr"]
                .as_str()
                .and_then(|a| a.parse().ok())
                .map_or_else(|| "-".to_string(), crate::address::web_page_url)
        ),
        format!(
            "tcp:       {}",
            status["tcp_listen"].as_str().unwrap_or("off")
        ),
        format!(
            "messages:  in {}, out {}, acked {}, queued {}, failed {}",
            counters["in"],
            counters["out"],
            counters["acked"],
            counters["queued"],
            counters["failed"]
        ),
        format!(
            "peers:     {} ({} connected)",
            peers.len(),
            status["active_peer_conns"]
        ),
    ];
    lines.extend(peers.iter().map(|p| format!("  {}", peer_line(p))));
    emit(&lines.join("\n"))
}

/// `skychat peers`.
pub fn peers(args: &PeersArgs) -> Result<(), Failure> {
    let node = LocalNode::from_flags(args.addr.as_deref(), args.token_file.as_deref())?;
    let peers = node.call("GET", "/peers", None)?;
    if args.json {
        return emit_json(&peers);
    }
    emit_lines(&peers, "no peers known yet", peer_line)
}

/// `skychat alias`.
pub fn alias(args: &AliasArgs) -> Result<(), Failure> {
    let path = format!("/peers/{}/alias", encode_component(args.peer.trim()));
    match (&args.name, args.clear) {
        (Some(_), true) => Err(Failure::usage(
            "give either a new <name> or --clear, not both",
        )),
        (None, false) => Err(Failure::usage(
            "give the peer's new <name>, or --clear to remove its alias",
        )),
        (Some(name), false) => {
            let node = LocalNode::from_flags(args.addr.as_deref(), args.token_file.as_deref())?;
            let set = node.call("PUT", &path, Some(&json!({ "alias": name })))?;
            emit(&format!(
                "{} is now called {}",
                set["pk"].as_str().unwrap_or(&args.peer),
                set["alias"].as_str().unwrap_or(name)
            ))
        }
        (None, true) => {
            let node = LocalNode::from_flags(args.addr.as_deref(), args.token_file.as_deref())?;
            node.call("DELETE", &path, None)?;
            emit(&format!("{} has no alias now", args.peer.trim()))
        }
    }
}

/// Every peer's alias, by key.
fn aliases(node: &LocalNode) -> Result<HashMap<String, String>, Failure> {
    let peers = node.call("GET", "/peers", None)?;
    Ok(peers
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p["pk"].as_str()?.to_string(),
                p["alias"].as_str()?.to_string(),
            ))
        })
        .collect())
}

/// The start of a key, for a person to recognise it.
fn short_key(key: &str) -> String {
    match key.get(..8) {
        Some(start) if key.len() > 8 => format!("{start}…"),
        _ => key.to_string(),
    }
}

/// One message: time (UTC), direction, peer, delivery state, text on one line.
fn history_line(message: &Value, names: &HashMap<String, String>) -> String {
    let peer = message["peer"].as_str().unwrap_or("?");
    let name = names.get(peer).cloned().unwrap_or_else(|| short_key(peer));
    let time = message["timestamp"]
        .as_u64()
        .map(|ms| {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
        })
        .unwrap_or_else(|| "?".into());
    let arrow = if message["dir"] == "out" { "->" } else { "<-" };
    let deleted = !message["deleted_at"].is_null();
    let state = if deleted {
        "deleted"
    } else {
        message["status"].as_str().unwrap_or("?")
    };
    let text: String = message["message"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    format!("{time}  {arrow} {name:<12} {state:<9} {text}")
}

/// One peer: key, alias, state, network, messages waiting.
fn peer_line(peer: &Value) -> String {
    format!(
        "{}  {:<12} {:<12} {:<10} queued {}",
        peer["pk"].as_str().unwrap_or("?"),
        peer["alias"].as_str().unwrap_or("-"),
        peer["state"].as_str().unwrap_or("?"),
        peer["transport"].as_str().unwrap_or("?"),
        peer["queued"]
    )
}

/// Prints one line per item of the JSON list `items`, or `none` on stderr when it is empty.
fn emit_lines(items: &Value, none: &str, line: impl Fn(&Value) -> String) -> Result<(), Failure> {
    let items = items.as_array().map(Vec::as_slice).unwrap_or_default();
    if items.is_empty() {
        eprintln!("{none}");
    }
    let lines: Vec<String> = items.iter().map(line).collect();
    emit(&lines.join("\n"))
}

fn emit_json(value: &Value) -> Result<(), Failure> {
    emit(&serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()))
}

/// Prints `text` and a newline (nothing for empty text). A reader that went away (`| head`)
/// ends the output quietly.
fn emit(text: &str) -> Result<(), Failure> {
    if text.is_empty() {
        return Ok(());
    }
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::runtime(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_line_shows_the_alias_or_the_start_of_the_key_and_escapes_controls() {
        let key = "ab".repeat(32);
        let message = json!({
            "peer": key, "timestamp": 1_796_219_699_999u64, "dir": "out", "status": "acked",
            "deleted_at": null, "message": "two\nlines",
        });
        let mut names = HashMap::new();
        assert_eq!(
            history_line(&message, &names),
            "2026-12-02T13:54:59Z  -> abababab…    acked     two\\nlines"
        );
        names.insert(key, "alice".to_string());
        assert!(history_line(&message, &names).contains("-> alice        acked"));
    }
}
