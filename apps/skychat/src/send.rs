//! `skychat send`: directly to a peer with `--via`, or through the local node with `--to` (a key,
//! an address or an alias, which the node resolves).

use std::time::Duration;

use skychat_core::PqPolicy;
use skychat_core::PublicKey;

use crate::address;
use crate::cli::SendArgs;
use crate::local_node::{LocalNode, refused};
use crate::run::Failure;
use crate::{duration, identity, oneshot};

/// How long `send` waits for the ack when `--wait` is not given; `--wait 0` does not wait.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// The longest `--wait`: the node's own limit on `wait_ms`.
pub const MAX_WAIT: Duration = Duration::from_millis(crate::http::MAX_WAIT_MS);

/// Runs the subcommand.
pub fn run(args: &SendArgs) -> Result<(), Failure> {
    let wait = match &args.wait {
        Some(text) => duration::parse(text).map_err(|e| Failure::usage(format!("--wait: {e}")))?,
        None => DEFAULT_WAIT,
    };
    if wait > MAX_WAIT {
        return Err(Failure::usage(format!(
            "--wait: {} is longer than the most a send waits for its ack, {}s",
            args.wait.as_deref().unwrap_or_default().trim(),
            MAX_WAIT.as_secs()
        )));
    }
    if args.msg.is_empty() {
        return Err(Failure::usage("-m/--msg: the message is empty"));
    }
    match (&args.via, args.to.as_deref().map(str::trim)) {
        (Some(via), to) => {
            let spec = address::parse_peer_spec(via)
                .map_err(|e| Failure::usage(format!("--via tcp: {e}")))?;
            if let Some(to) = to {
                let to = to.parse::<PublicKey>().map_err(|e| {
                    Failure::usage(format!(
                        "--to with --via: give the key pinned in --via, or leave --to out \
                         (aliases are the local node's, and --via does not use the node): {e}"
                    ))
                })?;
                if to != spec.pk {
                    return Err(Failure::usage(format!(
                        "--to {to} != --via tcp:// pk {} (the pinned pk in --via wins; use one or the other)",
                        spec.pk
                    )));
                }
            }
            let identity = identity::resolve_from_env(args.sk.as_deref(), args.config.as_deref())
                .map_err(|e| match e {
                    identity::IdentityError::Missing => Failure::usage(
                        "--via tcp requires identity: set --sk, DMSGCURL_SK env, or -c skywire-config.json",
                    ),
                    other => Failure::usage(other.to_string()),
                })?;
            let line = oneshot::send_via_with(
                identity.secret,
                &spec,
                args.msg.clone(),
                wait,
                PqPolicy {
                    require: args.require_pq,
                    ..PqPolicy::default()
                },
            )
            .map_err(|e| Failure::runtime(e.to_string()))?;
            println!("{line}");
            Ok(())
        }
        (None, Some("")) => Err(Failure::usage(
            "--to is empty: give the peer's key, tcp://<pk>@host:port address or alias",
        )),
        (None, Some(to)) => send_local(args, to, wait),
        (None, None) => Err(Failure::usage(
            "either --to <pk or alias> or --via tcp://<pk>@host:port is required",
        )),
    }
}

/// A random key for this invocation's `POST /message`: should the request be sent again (by a
/// proxy, or a later retry of the same request), the node sends the message only once.
fn fresh_idempotency_key() -> Result<String, Failure> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| Failure::runtime(format!("no OS randomness: {e}")))?;
    Ok(format!("skychat-send-{}", hex::encode(bytes)))
}

fn send_local(args: &SendArgs, to: &str, wait: Duration) -> Result<(), Failure> {
    let node = LocalNode::from_flags(args.addr.as_deref(), args.token_file.as_deref())?;
    let mut body = serde_json::json!({
        "recipient": to,
        "message": args.msg,
        "idempotency_key": fresh_idempotency_key()?,
    });
    if !wait.is_zero() {
        body["wait_ms"] = serde_json::json!(wait.as_millis() as u64);
    }
    let response = node.request(
        "POST",
        "/message",
        Some(&body),
        wait + Duration::from_secs(5),
    )?;
    let json: serde_json::Value = serde_json::from_str(&response.body).unwrap_or_default();
    let id = json["id"].as_str().unwrap_or("?");
    match response.status {
        200 if json["acked"] == true && json["status"] == "delivered" => {
            // A Skywire-suite peer (a Go skychat) acks on decoding, before storing.
            println!(
                "Delivered to {to} in {}ms (decoded by the peer; id={id})",
                json["ms"]
            );
            Ok(())
        }
        200 if json["acked"] == true => {
            println!("Acked by {to} in {}ms (id={id})", json["ms"]);
            Ok(())
        }
        200 => {
            println!("Message sent to {to} (id={id})");
            Ok(())
        }
        202 => {
            println!(
                "Message queued for {to}: not connected now; it will be delivered when the peer connects (id={id})"
            );
            Ok(())
        }
        504 => Err(Failure::runtime(format!(
            "send to {to} not acked: timeout after {}ms (id={id}; it stays queued)",
            json["ms"]
        ))),
        status => Err(refused(
            status,
            json["error"].as_str().unwrap_or(&response.body),
        )),
    }
}
