//! The routes. Each handler parses its input, calls the service, and renders its typed answer
//! ([`render`](super::render)); every error answer is `{"error": "..."}` with the status that
//! fits.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use skychat_core::{MessageId, Network, PublicKey};
use tide::{Request, Response, StatusCode};

use super::auth::{self, Token};
use super::render::{self, error, service_error};
use super::sse::{self, Shape};
use crate::pair_rpc::PairRpc;
use crate::service::{Mode, Service, ServiceError};

/// Largest accepted request body. Above the message limit, to leave room for JSON escaping.
pub const MAX_REQUEST_BODY: usize = 512 * 1024;

/// Largest export file `POST /import` takes.
pub const MAX_IMPORT_BODY: usize = 256 * 1024 * 1024;

/// The longest `wait_ms` a `/message` request may ask for.
pub const MAX_WAIT_MS: u64 = 60_000;

const INDEX_HTML: &str = include_str!("../../web/index.html");

/// Builds the app. `pair` is the visor's pair-RPC for the /pair routes (embedded mode with
/// `--pair-enable`).
pub fn app(service: Service, token: Option<Token>, pair: Option<PairRpc>) -> tide::Server<Service> {
    let mut app = tide::with_state(service);
    app.with(tide::utils::After(|mut response: Response| async move {
        if response.status().is_client_error() || response.status().is_server_error() {
            let empty = response.len().is_none_or(|n| n == 0);
            if empty {
                let reason = response.status().canonical_reason().to_lowercase();
                response.set_body(json!({ "error": reason }));
            }
        }
        Ok(response)
    }));
    if let Some(token) = token {
        app.with(RequireToken(token));
    }
    app.at("/").get(index);
    app.at("/status").get(status);
    app.at("/message").post(message);
    app.at("/history").get(history);
    app.at("/history/peers").get(history_peers);
    app.at("/search").get(search);
    app.at("/read-receipt").post(read_receipt);
    app.at("/delete").post(delete_message);
    app.at("/cancel").post(cancel_message);
    app.at("/export").get(export);
    app.at("/import").post(import);
    app.at("/peers").get(peers).post(add_peer);
    app.at("/invite").get(invite);
    app.at("/peers/:pk/alias")
        .put(put_alias)
        .delete(delete_alias);
    app.at("/peers/:pk/block")
        .put(|r| set_flag(r, Flag::Block, true))
        .delete(|r| set_flag(r, Flag::Block, false));
    app.at("/peers/:pk/mute")
        .put(|r| set_flag(r, Flag::Mute, true))
        .delete(|r| set_flag(r, Flag::Mute, false));
    app.at("/sse").get(|r| stream(r, Shape::Chat));
    app.at("/events").get(|r| stream(r, Shape::Structured));
    for path in ["/pair", "/pair/*"] {
        let pair = pair.clone();
        app.at(path).all(move |request: Request<Service>| {
            let pair = pair.clone();
            async move {
                match (request.state().mode(), pair) {
                    (Mode::Standalone, _) => no_visor(request).await,
                    (Mode::Embedded, None) => Ok(super::pair::disabled(request.url().path())),
                    (Mode::Embedded, Some(rpc)) => super::pair::serve(request, rpc).await,
                }
            }
        });
    }
    for path in [
        "/group",
        "/group/*",
        "/groups",
        "/groups/*",
        "/voice/*",
        "/presence",
        "/presence/*",
        "/profile",
        "/profile/*",
    ] {
        app.at(path).all(no_visor);
    }
    app
}

/// Refuses requests without the bearer token (all but the page itself, which holds no data).
struct RequireToken(Token);

#[tide::utils::async_trait]
impl tide::Middleware<Service> for RequireToken {
    async fn handle(
        &self,
        request: Request<Service>,
        next: tide::Next<'_, Service>,
    ) -> tide::Result {
        let open = request.url().path() == "/";
        if open || auth::presented(&request).is_some_and(|t| self.0.matches(&t)) {
            return Ok(next.run(request).await);
        }
        let mut response = error(
            StatusCode::Unauthorized,
            "authentication required: send Authorization: Bearer <token from the token file>",
        );
        response.insert_header("WWW-Authenticate", "Bearer realm=\"skychat\"");
        // The connection ends with the answer: a client without the token may not keep it open
        // (for example by trickling a body nobody reads).
        response.insert_header("Connection", "close");
        Ok(response)
    }
}

async fn index(_: Request<Service>) -> tide::Result {
    let mut response = Response::new(StatusCode::Ok);
    response.set_content_type(tide::http::mime::HTML);
    response.set_body(INDEX_HTML);
    Ok(response)
}

async fn status(request: Request<Service>) -> tide::Result {
    Ok(render::json(
        StatusCode::Ok,
        &request.state().status().await,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageRequest {
    #[serde(alias = "to")]
    recipient: String,
    message: String,
    #[serde(default)]
    wait_ms: Option<u64>,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    network: Option<String>,
    #[serde(default)]
    receipts: Option<bool>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// The request header that carries a `/message` idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// The longest idempotency key accepted, in bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 128;

/// Checks a client's idempotency key: 1 to [`MAX_IDEMPOTENCY_KEY_BYTES`] bytes of visible
/// ASCII (`!` to `~`).
fn check_idempotency_key(key: &str) -> Result<(), ServiceError> {
    if key.is_empty() {
        return Err(bad("invalid idempotency key: it is empty"));
    }
    if key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
        return Err(bad(format!(
            "invalid idempotency key: it is {} bytes; the limit is {MAX_IDEMPOTENCY_KEY_BYTES}",
            key.len()
        )));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            "invalid idempotency key: use only visible ASCII characters (no spaces or control \
             characters), for example a UUID",
        ));
    }
    Ok(())
}

fn too_large() -> ServiceError {
    ServiceError::TooLarge(format!("request body exceeds {MAX_REQUEST_BODY} bytes"))
}

fn bad(message: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest(message.into())
}

pub(super) async fn read_json<T: for<'de> Deserialize<'de>>(
    request: &mut Request<Service>,
) -> Result<T, ServiceError> {
    parse_json(&read_body(request).await?)
}

fn parse_json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ServiceError> {
    if bytes.len() > MAX_REQUEST_BODY {
        return Err(too_large());
    }
    // Every body is an object: serde would also fill a struct from an array, by position.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(bad("invalid JSON: the body must be a JSON object"));
    }
    serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid JSON: {e}")))
}

async fn read_body(request: &mut Request<Service>) -> Result<Vec<u8>, ServiceError> {
    if request.len().is_some_and(|n| n > MAX_REQUEST_BODY) {
        return Err(too_large());
    }
    let body = request.take_body();
    let mut bytes = Vec::new();
    let mut reader = futures_lite::AsyncReadExt::take(body, MAX_REQUEST_BODY as u64 + 1);
    futures_lite::AsyncReadExt::read_to_end(&mut reader, &mut bytes)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut => bad(format!(
                "the request body did not arrive within {} s",
                super::connection::REQUEST_TIMEOUT.as_secs()
            )),
            _ => bad(format!("cannot read request body: {e}")),
        })?;
    if bytes.len() > MAX_REQUEST_BODY {
        return Err(too_large());
    }
    Ok(bytes)
}

fn parse_id(field: &str, text: &str) -> Result<MessageId, ServiceError> {
    text.parse()
        .map_err(|e| bad(format!("invalid {field}: {e}")))
}

/// Turns a handler's result into the response, errors as JSON.
fn respond(result: Result<Response, ServiceError>) -> tide::Result {
    Ok(result.unwrap_or_else(|e| service_error(&e)))
}

async fn message(mut request: Request<Service>) -> tide::Result {
    respond(send_message(&mut request).await)
}

/// A `/message` request body that parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSend {
    /// Who gets the message, as the client named it: a key, a `tcp://<pk>@host:port` address or
    /// an alias ([`Service::resolve_peer`]).
    pub recipient: String,
    /// Its text; never empty.
    pub message: String,
    /// The message it answers.
    pub reply_to: Option<MessageId>,
    /// How long to wait for the peer's ack.
    pub wait: Option<Duration>,
    /// The network the client asked for (`None`: any).
    pub network: Option<Network>,
    /// The client's idempotency key from the body's `idempotency_key`, validated.
    pub idempotency_key: Option<String>,
}

/// Parses and validates a `/message` request body, without touching the node or the store.
pub fn parse_message_request(bytes: &[u8]) -> Result<MessageSend, ServiceError> {
    let body: MessageRequest = parse_json(bytes)?;
    if body.message.is_empty() {
        return Err(bad("message is empty"));
    }
    let network = match body.network.as_deref() {
        None | Some("auto") => None,
        Some("tcp" | "tcp-direct") => Some(Network::Tcp),
        Some("skynet") => Some(Network::Skynet),
        Some("dmsg") => Some(Network::Dmsg),
        Some(other) => {
            return Err(bad(format!(
                "invalid network type {other:?}: use 'auto', 'skynet', 'dmsg' or 'tcp'"
            )));
        }
    };
    let _ = body.receipts;
    let reply_to = body
        .reply_to
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(|text| parse_id("reply_to", text))
        .transpose()?;
    if let Some(ms) = body.wait_ms
        && ms > MAX_WAIT_MS
    {
        return Err(bad(format!(
            "invalid wait_ms {ms}: at most {MAX_WAIT_MS} (60 s); omit it or use 0 not to wait"
        )));
    }
    let wait = body.wait_ms.map(Duration::from_millis);
    if let Some(key) = &body.idempotency_key {
        check_idempotency_key(key)?;
    }
    Ok(MessageSend {
        recipient: body.recipient,
        message: body.message,
        reply_to,
        wait,
        network,
        idempotency_key: body.idempotency_key,
    })
}

async fn send_message(request: &mut Request<Service>) -> Result<Response, ServiceError> {
    let header = match request.header(IDEMPOTENCY_KEY_HEADER) {
        None => None,
        Some(values) if values.iter().count() > 1 => {
            return Err(bad(
                "invalid idempotency key: give one Idempotency-Key header",
            ));
        }
        Some(values) => {
            let key = values.last().as_str().to_string();
            check_idempotency_key(&key)?;
            Some(key)
        }
    };
    let send = parse_message_request(&read_body(request).await?)?;
    let idempotency_key = match (header, send.idempotency_key) {
        (Some(header), Some(field)) if header != field => {
            return Err(bad(
                "the Idempotency-Key header and the idempotency_key field differ; give one",
            ));
        }
        (header, field) => header.or(field),
    };
    let recipient = request.state().resolve_peer("recipient", &send.recipient)?;
    if let Some(network) = send.network {
        request.state().check_network(&recipient, network)?;
    }
    let outcome = request
        .state()
        .send(
            recipient,
            send.message,
            send.reply_to,
            send.wait,
            idempotency_key,
        )
        .await?;
    let (status, body) = render::send_outcome(&recipient, &outcome);
    Ok(render::json(status, &body))
}

pub(super) fn query(request: &Request<Service>, name: &str) -> Option<String> {
    request
        .url()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

fn parse_limit(request: &Request<Service>, default: usize) -> Result<usize, ServiceError> {
    match query(request, "limit") {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => Ok(n),
            _ => Err(bad("invalid limit: use a whole number from 1 to 1000")),
        },
    }
}

async fn history(request: Request<Service>) -> tide::Result {
    respond(history_page(&request).await)
}

async fn history_page(request: &Request<Service>) -> Result<Response, ServiceError> {
    let limit = parse_limit(request, 100)?;
    let peer = query(request, "peer")
        .map(|p| request.state().resolve_peer("peer", &p))
        .transpose()?;
    let before = query(request, "before")
        .map(|b| b.parse::<i64>())
        .transpose()
        .map_err(|_| bad("invalid before: use the row cursor of a history entry"))?;
    let mut page = request.state().history(peer, limit, before).await?;
    page.messages.reverse();
    let mut response = render::json(StatusCode::Ok, &page.messages);
    if let Some(next) = page.next_cursor {
        response.insert_header("X-Next-Before", next.to_string());
    }
    Ok(response)
}

async fn history_peers(request: Request<Service>) -> tide::Result {
    let detail = query(&request, "detail").is_some_and(|v| v != "0" && v != "false");
    respond(request.state().history_peers().await.map(|peers| {
        if detail {
            render::json(StatusCode::Ok, &peers)
        } else {
            let keys: Vec<&str> = peers.iter().map(|p| p.peer.as_str()).collect();
            render::json(StatusCode::Ok, &keys)
        }
    }))
}

async fn search(request: Request<Service>) -> tide::Result {
    respond(search_hits(&request).await)
}

async fn search_hits(request: &Request<Service>) -> Result<Response, ServiceError> {
    let q = query(request, "q").ok_or_else(|| bad("missing q: the text to search for"))?;
    let limit = parse_limit(request, 50)?;
    let hits = request.state().search(q, limit).await?;
    Ok(render::json(StatusCode::Ok, &hits))
}

async fn peers(request: Request<Service>) -> tide::Result {
    respond(
        request
            .state()
            .known_peers()
            .await
            .map(|peers| render::json(StatusCode::Ok, &peers)),
    )
}

async fn invite(request: Request<Service>) -> tide::Result {
    let name = query(&request, "name");
    respond(
        request
            .state()
            .invite(name.as_deref())
            .map(|invite| render::json(StatusCode::Ok, &invite)),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddPeerRequest {
    /// An invite, a `tcp://<pk>@host:port` address or a key.
    invite: String,
    #[serde(default)]
    alias: Option<String>,
}

async fn add_peer(mut request: Request<Service>) -> tide::Result {
    respond(add_peer_from(&mut request).await)
}

async fn add_peer_from(request: &mut Request<Service>) -> Result<Response, ServiceError> {
    let body: AddPeerRequest = read_json(request).await?;
    let alias = body.alias.as_deref().filter(|a| !a.trim().is_empty());
    let peer = request.state().add_peer(&body.invite, alias).await?;
    Ok(render::json(StatusCode::Ok, &peer))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasRequest {
    alias: String,
}

/// The peer named by the path's `:pk`: a key or an alias.
fn path_peer(request: &Request<Service>) -> Result<PublicKey, ServiceError> {
    let text = request.param("pk").unwrap_or_default();
    request.state().resolve_peer("pk", &percent_decode(text))
}

/// A per-peer choice the routes set.
#[derive(Clone, Copy)]
enum Flag {
    Block,
    Mute,
}

async fn set_flag(request: Request<Service>, flag: Flag, on: bool) -> tide::Result {
    respond(change_flag(&request, flag, on).await)
}

async fn change_flag(
    request: &Request<Service>,
    flag: Flag,
    on: bool,
) -> Result<Response, ServiceError> {
    let peer = path_peer(request)?;
    let service = request.state();
    let change = match flag {
        Flag::Block => service.set_blocked(peer, on).await?,
        Flag::Mute => service.set_muted(peer, on).await?,
    };
    Ok(render::json(StatusCode::Ok, &change))
}

async fn put_alias(mut request: Request<Service>) -> tide::Result {
    respond(set_alias(&mut request).await)
}

async fn set_alias(request: &mut Request<Service>) -> Result<Response, ServiceError> {
    let peer = path_peer(request)?;
    let body: AliasRequest = read_json(request).await?;
    let alias = request.state().set_alias(peer, &body.alias).await?;
    Ok(render::json(
        StatusCode::Ok,
        &json!({ "pk": peer.to_hex(), "alias": alias }),
    ))
}

async fn delete_alias(request: Request<Service>) -> tide::Result {
    respond(match path_peer(&request) {
        Ok(peer) => request
            .state()
            .clear_alias(peer)
            .await
            .map(|_| Response::new(StatusCode::NoContent)),
        Err(e) => Err(e),
    })
}

/// `text` with its `%XX` escapes decoded (a path segment as a client encoded it); an escape that
/// does not decode to UTF-8 is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

#[derive(Deserialize)]
struct ReadReceiptRequest {
    pk: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    ids: Vec<String>,
}

async fn read_receipt(mut request: Request<Service>) -> tide::Result {
    respond(mark_read(&mut request).await)
}

async fn mark_read(request: &mut Request<Service>) -> Result<Response, ServiceError> {
    let body: ReadReceiptRequest = read_json(request).await?;
    let peer = request.state().resolve_peer("pk", &body.pk)?;
    let ids = body
        .id
        .iter()
        .chain(body.ids.iter())
        .map(|text| parse_id("id", text))
        .collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        return Err(bad("give \"id\" or \"ids\": the messages that were read"));
    }
    request.state().mark_read(peer, ids).await?;
    Ok(Response::new(StatusCode::NoContent))
}

async fn export(request: Request<Service>) -> tide::Result {
    respond(export_file(&request).await)
}

async fn export_file(request: &Request<Service>) -> Result<Response, ServiceError> {
    let service = request.state();
    let file = service.export().await?;
    let name = format!(
        "skychat-export-{}.jsonl",
        &service.public_key().to_hex()[..8]
    );
    let mut response = Response::new(StatusCode::Ok);
    response.set_content_type("application/x-ndjson");
    response.insert_header(
        "content-disposition",
        format!("attachment; filename=\"{name}\""),
    );
    response.set_body(file);
    Ok(response)
}

async fn import(mut request: Request<Service>) -> tide::Result {
    respond(import_file(&mut request).await)
}

async fn import_file(request: &mut Request<Service>) -> Result<Response, ServiceError> {
    let too_large =
        || ServiceError::TooLarge(format!("an import file may hold {MAX_IMPORT_BODY} bytes"));
    if request.len().is_some_and(|n| n > MAX_IMPORT_BODY) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    let body = request.take_body();
    let mut reader = futures_lite::AsyncReadExt::take(body, MAX_IMPORT_BODY as u64 + 1);
    futures_lite::AsyncReadExt::read_to_end(&mut reader, &mut bytes)
        .await
        .map_err(|e| bad(format!("could not read the file: {e}")))?;
    if bytes.len() > MAX_IMPORT_BODY {
        return Err(too_large());
    }
    let text = String::from_utf8(bytes).map_err(|_| bad("the file is not UTF-8 text"))?;
    let report = request.state().import(&text).await?;
    Ok(render::json(StatusCode::Ok, &report))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelRequest {
    pk: String,
    id: String,
}

async fn cancel_message(mut request: Request<Service>) -> tide::Result {
    respond(cancel(&mut request).await)
}

async fn cancel(request: &mut Request<Service>) -> Result<Response, ServiceError> {
    let body: CancelRequest = read_json(request).await?;
    let peer = request.state().resolve_peer("pk", &body.pk)?;
    let id = parse_id("id", &body.id)?;
    let cancelled = request.state().cancel_message(peer, id).await?;
    let renumbered: Vec<_> = cancelled
        .renumbered
        .iter()
        .map(|(old, new)| json!({ "id": old.to_hex(), "new_id": new.to_hex() }))
        .collect();
    Ok(render::json(
        StatusCode::Ok,
        &json!({ "id": cancelled.id.to_hex(), "cancelled": true, "renumbered": renumbered }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteRequest {
    pk: String,
    id: String,
    #[serde(default)]
    for_everyone: bool,
}

async fn delete_message(mut request: Request<Service>) -> tide::Result {
    respond(delete(&mut request).await)
}

async fn delete(request: &mut Request<Service>) -> Result<Response, ServiceError> {
    let body: DeleteRequest = read_json(request).await?;
    let peer = request.state().resolve_peer("pk", &body.pk)?;
    let id = parse_id("id", &body.id)?;
    let deleted = request
        .state()
        .delete_message(peer, id, body.for_everyone)
        .await?;
    Ok(render::json(
        StatusCode::Ok,
        &json!({
            "id": deleted.id.to_hex(),
            "deleted_at": deleted.deleted_at_ms,
            "for_everyone": deleted.for_everyone,
        }),
    ))
}

async fn stream(request: Request<Service>, shape: Shape) -> tide::Result {
    let service = request.state().clone();
    let last_id = request
        .header("Last-Event-ID")
        .map(|v| v.last().as_str().to_string())
        .or_else(|| query(&request, "since"))
        .or_else(|| query(&request, "last_event_id"));
    let cursor = match last_id {
        Some(text) => match text.trim().parse::<u64>() {
            Ok(n) => n,
            Err(_) => {
                return Ok(error(
                    StatusCode::BadRequest,
                    "invalid since / Last-Event-ID: expected a sequence number",
                ));
            }
        },
        None => service.feed().head(),
    };
    let channels = query(&request, "channel").map(|c| {
        c.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let body = sse::open(service, shape, cursor, channels);
    let mut response = Response::new(StatusCode::Ok);
    response.set_content_type("text/event-stream");
    response.insert_header("Cache-Control", "no-cache");
    response.insert_header("X-Accel-Buffering", "no");
    response.set_body(tide::Body::from_reader(body, None));
    Ok(response)
}

async fn no_visor(request: Request<Service>) -> tide::Result {
    let why = match request.state().mode() {
        Mode::Standalone => "this node runs standalone",
        Mode::Embedded => "this build does not connect to the visor's RPC yet",
    };
    let path = request.url().path();
    Ok(error(
        StatusCode::ServiceUnavailable,
        &format!("{path} needs a visor to relay through (pair-RPC); {why}"),
    ))
}
