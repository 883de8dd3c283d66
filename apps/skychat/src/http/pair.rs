//! The /pair routes in embedded mode: each one calls the visor's pair-RPC ([`PairRpc`]) and
//! renders its reply as JSON in the Go skychat's shapes. When the visor cannot give an answer,
//! the status and a `reason` say why: `503` with `pair-rpc-disabled` (started without
//! `--pair-enable`), `visor-rpc-unreachable` or `visor-has-no-pair-rpc`.
//!
//! | route | visor call |
//! |---|---|
//! | `GET /pair` | `PairList` |
//! | `POST /pair {"peer_pk"}` | `PairAdd` (204) |
//! | `DELETE /pair/<pk>` | `PairRemove` (204) |
//! | `POST /pair/<pk>/message {"text"}` | `PairSend` |
//! | `GET /pair/inbox?since=<RFC 3339>&limit=1..1000` | `PairPoll` |
//!
//! Pair invites (`/pair/invites…`) travel as control frames on a DM connection through the
//! visor's mesh, and retracting a message (`DELETE /pair/<pk>/message`) needs a visor call whose
//! argument is not known here: both answer 501.

use serde::Deserialize;
use serde_json::{Value, json};
use skychat_visor::PubKey;
use skychat_visor::visor_api::{ApiCall, ApiReply, PairInfo, PairMessage, PairSendRequest};
use tide::{Request, Response, StatusCode};

use super::render;
use crate::pair_rpc::{self, PairRpc, PairRpcError};
use crate::service::Service;

/// The error text visors send while their pairing manager is not running.
const PAIRING_DISABLED: &str = "pairing: manager not initialized";

/// A refusal: its status, the `reason` (for failures of the visor and what is not
/// implemented) and the message.
struct Refusal {
    status: StatusCode,
    reason: Option<&'static str>,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            reason: Some(reason),
            message: message.into(),
        }
    }

    fn into_response(self) -> Response {
        match self.reason {
            Some(reason) => render::json(
                self.status,
                &json!({ "error": self.message, "reason": reason }),
            ),
            None => render::error(self.status, &self.message),
        }
    }
}

/// `503` with `{"error", "reason"}`.
fn unavailable(reason: &'static str, message: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::ServiceUnavailable, reason, message)
}

/// The answer in embedded mode without `--pair-enable`.
pub fn disabled(path: &str) -> Response {
    unavailable(
        "pair-rpc-disabled",
        format!(
            "{path} needs pair-RPC, which is off: start skychat with --pair-enable (and \
             --pair-rpc <the visor's RPC address>, default {})",
            pair_rpc::DEFAULT_ADDR
        ),
    )
    .into_response()
}

fn failure(rpc: &PairRpc, error: &PairRpcError) -> Refusal {
    match error {
        PairRpcError::Unreachable(e) => unavailable(
            "visor-rpc-unreachable",
            format!("{e} (is the visor running, and is --pair-rpc its cli_addr?)"),
        ),
        PairRpcError::NoPairRpc(e) => unavailable(
            "visor-has-no-pair-rpc",
            format!(
                "the visor at {} has no pair-RPC (it answered: {e}); pairing needs a visor \
                 that has it",
                rpc.addr()
            ),
        ),
        PairRpcError::Visor(e) if e == PAIRING_DISABLED => unavailable(
            "visor-pairing-disabled",
            format!(
                "the visor at {} has pairing turned off (it answered: {e})",
                rpc.addr()
            ),
        ),
        PairRpcError::Visor(e) => {
            Refusal::new(StatusCode::BadGateway, "visor-error", format!("visor: {e}"))
        }
        PairRpcError::Protocol(e) => {
            Refusal::new(StatusCode::BadGateway, "visor-rpc-protocol", e.clone())
        }
    }
}

fn not_implemented(what: &str) -> Refusal {
    Refusal::new(StatusCode::NotImplemented, "not-implemented", what)
}

fn bad(message: impl Into<String>) -> Refusal {
    Refusal {
        status: StatusCode::BadRequest,
        reason: None,
        message: message.into(),
    }
}

/// Serves one /pair request through `rpc`.
pub async fn serve(mut request: Request<Service>, rpc: PairRpc) -> tide::Result {
    let path = request.url().path().to_string();
    let segments: Vec<&str> = path
        .trim_start_matches("/pair")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let method = request.method();
    use tide::http::Method::{Delete, Get, Post};
    let answer = match (method, segments.as_slice()) {
        (Get, []) => call(&rpc, ApiCall::PairList).await.map(list),
        (Post, []) => match read_body::<AddBody>(&mut request)
            .await
            .and_then(|b| peer(&b.peer_pk))
        {
            Ok(pk) => call(&rpc, ApiCall::PairAdd(pk)).await.map(|_| no_content()),
            Err(refusal) => Err(refusal),
        },
        (Get, ["inbox"]) => inbox(&request, &rpc).await,
        (_, ["invites", ..]) => Err(not_implemented(
            "pair invites travel as control frames on a DM connection through the visor's \
             mesh, which this build does not relay yet",
        )),
        (Delete, [pk]) => match peer(pk) {
            Ok(pk) => call(&rpc, ApiCall::PairRemove(pk))
                .await
                .map(|_| no_content()),
            Err(refusal) => Err(refusal),
        },
        (Post, [pk, "message"]) => send(&mut request, &rpc, pk).await,
        (Delete, [_, "message"]) => Err(not_implemented(
            "retracting a pair message needs a visor call (PairDelete) whose argument this \
             build cannot state exactly",
        )),
        (_, [] | ["inbox"] | [_] | [_, "message"]) => Err(Refusal {
            status: StatusCode::MethodNotAllowed,
            reason: None,
            message: format!("method {method} is not allowed on {path}"),
        }),
        _ => Err(Refusal {
            status: StatusCode::NotFound,
            reason: None,
            message: format!("no route {path}"),
        }),
    };
    Ok(answer.unwrap_or_else(Refusal::into_response))
}

async fn call(rpc: &PairRpc, call: ApiCall) -> Result<ApiReply, Refusal> {
    rpc.call(&call).await.map_err(|e| failure(rpc, &e))
}

fn no_content() -> Response {
    Response::new(StatusCode::NoContent)
}

#[derive(Deserialize)]
struct AddBody {
    #[serde(default)]
    peer_pk: String,
}

#[derive(Deserialize)]
struct MessageBody {
    #[serde(default)]
    text: String,
}

async fn read_body<T: for<'de> Deserialize<'de>>(
    request: &mut Request<Service>,
) -> Result<T, Refusal> {
    super::routes::read_json(request)
        .await
        .map_err(|e| Refusal {
            status: render::error_status(&e),
            reason: None,
            message: e.to_string(),
        })
}

/// A peer's Skywire public key: 66 hex characters of a compressed secp256k1 point.
fn peer(text: &str) -> Result<PubKey, Refusal> {
    let invalid = |why: &str| bad(format!("invalid peer_pk {text:?}: {why}"));
    let bytes = hex::decode(text.trim())
        .map_err(|_| invalid("expected 66 hex characters (a Skywire public key)"))?;
    let key: [u8; 33] = bytes
        .try_into()
        .map_err(|_| invalid("expected 66 hex characters (a Skywire public key)"))?;
    if !matches!(key[0], 2 | 3) {
        return Err(invalid("a Skywire public key starts with 02 or 03"));
    }
    Ok(PubKey(key))
}

fn pair_json(p: &PairInfo) -> Value {
    json!({
        "peer_pk": p.peer_pk.to_hex(),
        "status": p.status,
        "port": p.port,
        "established_at": pair_rpc::format_rfc3339(&p.established_at),
        "last_message_at": pair_rpc::format_rfc3339(&p.last_message_at),
    })
}

fn message_json(m: &PairMessage) -> Value {
    let mut value = json!({
        "peer_pk": m.peer_pk.to_hex(),
        "text": m.text,
        "ts": pair_rpc::format_rfc3339(&m.ts),
    });
    for (key, field) in [("id", &m.id), ("type", &m.kind)] {
        if !field.is_empty() {
            value[key] = Value::from(field.as_str());
        }
    }
    value
}

fn list(reply: ApiReply) -> Response {
    match reply {
        ApiReply::Pairs(pairs) => {
            let pairs: Vec<Value> = pairs.iter().map(pair_json).collect();
            render::json(StatusCode::Ok, &pairs)
        }
        other => unexpected(&other).into_response(),
    }
}

fn unexpected(reply: &ApiReply) -> Refusal {
    Refusal::new(
        StatusCode::BadGateway,
        "visor-rpc-protocol",
        format!("the visor's reply does not fit the call: {reply:?}"),
    )
}

async fn inbox(request: &Request<Service>, rpc: &PairRpc) -> Result<Response, Refusal> {
    let query = |name: &str| super::routes::query(request, name);
    let limit = match query("limit") {
        None => 100,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => return Err(bad("invalid limit: use a whole number from 1 to 1000")),
        },
    };
    let since = match query("since") {
        None => skychat_visor::GoTime::default(),
        Some(text) => {
            pair_rpc::parse_rfc3339(&text).map_err(|e| bad(format!("invalid since: {e}")))?
        }
    };
    match call(rpc, ApiCall::PairPoll(since)).await? {
        ApiReply::Messages(messages) => {
            // The newest `limit`, oldest first, as the Go skychat answers.
            let skip = messages.len().saturating_sub(limit);
            let out: Vec<Value> = messages[skip..].iter().map(message_json).collect();
            Ok(render::json(StatusCode::Ok, &out))
        }
        other => Err(unexpected(&other)),
    }
}

async fn send(
    request: &mut Request<Service>,
    rpc: &PairRpc,
    pk: &str,
) -> Result<Response, Refusal> {
    let pk = peer(pk)?;
    let body: MessageBody = read_body(request).await?;
    if body.text.is_empty() {
        return Err(bad("text is empty"));
    }
    let call_args = PairSendRequest {
        peer_pk: pk,
        text: body.text,
    };
    match call(rpc, ApiCall::PairSend(call_args)).await? {
        ApiReply::Sent(id) => Ok(render::json(
            StatusCode::Ok,
            &json!({ "ok": true, "id": id }),
        )),
        other => Err(unexpected(&other)),
    }
}
