//! Export and import of the whole history in one file: JSON Lines, a header line, then one
//! line per named peer and one per message, oldest first (the format is documented in
//! `docs/http-api.md`, "Export and import"). Importing adds what the node does not have and
//! never touches what it has: a message is matched by conversation, direction and id, and an
//! alias is set only where the peer has none and the name is free. The whole file goes in one
//! transaction, so a bad line imports nothing.

use serde::{Deserialize, Serialize};
use skychat_core::{ChatMessage, MessageId, Network, PublicKey};

use super::aliases::check_alias;
use super::storage::now_ms;
use super::{Service, ServiceError};
use crate::store::{Applied, Direction, ImportedTimes, StoredMessage, WriteOp};

/// The `type` of the header line.
pub const FORMAT: &str = "skychat-export";
/// The version of the format this build writes and reads.
pub const VERSION: u32 = 1;
/// Messages read from the store per page while exporting.
const PAGE: usize = 2000;

/// The first line of an export.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    #[serde(rename = "type")]
    kind: String,
    version: u32,
    /// The native key of the node whose history this is.
    node: String,
    exported_at: u64,
}

/// Every line after the header.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Line {
    /// A peer's local name.
    Peer { pk: String, alias: String },
    /// One message of a conversation.
    Message(MessageLine),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageLine {
    peer: String,
    dir: String,
    id: String,
    text: String,
    sent_at: u64,
    stored_at: u64,
    #[serde(default)]
    acked_at: Option<u64>,
    #[serde(default)]
    read_at: Option<u64>,
    #[serde(default)]
    deleted_at: Option<u64>,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    network: Option<String>,
}

impl MessageLine {
    fn of(stored: &StoredMessage) -> Self {
        let m = &stored.message;
        Self {
            peer: stored.peer.to_hex(),
            dir: stored.direction.as_str().to_owned(),
            id: m.id.to_hex(),
            text: m.body.clone(),
            sent_at: m.sent_at_ms,
            stored_at: stored.stored_at_ms,
            acked_at: stored.acked_at_ms,
            read_at: stored.read_at_ms,
            deleted_at: stored.deleted_at_ms,
            reply_to: m.reply_to.map(|id| id.to_hex()),
            network: stored.network.map(|n| n.as_str().to_owned()),
        }
    }

    fn into_write(self) -> Result<WriteOp, String> {
        let peer: PublicKey = self.peer.parse().map_err(|e| format!("peer: {e}"))?;
        let direction = match self.dir.as_str() {
            "in" => Direction::In,
            "out" => Direction::Out,
            other => return Err(format!("dir: {other:?} is neither \"in\" nor \"out\"")),
        };
        let id = parse_id("id", &self.id)?;
        let reply_to = self
            .reply_to
            .as_deref()
            .map(|text| parse_id("reply_to", text))
            .transpose()?;
        let network = match self.network.as_deref() {
            None => None,
            Some("tcp") => Some(Network::Tcp),
            Some("skynet") => Some(Network::Skynet),
            Some("dmsg") => Some(Network::Dmsg),
            Some(other) => return Err(format!("network: unknown {other:?}")),
        };
        if self.text.len() > skychat_core::MAX_BODY_BYTES {
            return Err(format!(
                "text: {} bytes, more than a message may hold",
                self.text.len()
            ));
        }
        Ok(WriteOp::Imported {
            peer,
            direction,
            message: ChatMessage {
                id,
                sent_at_ms: self.sent_at,
                body: self.text,
                reply_to,
            },
            times: ImportedTimes {
                stored_at_ms: self.stored_at,
                acked_at_ms: self.acked_at,
                read_at_ms: self.read_at,
                deleted_at_ms: self.deleted_at,
            },
            network,
        })
    }
}

fn parse_id(field: &str, text: &str) -> Result<MessageId, String> {
    text.parse().map_err(|e| format!("{field}: {e}"))
}

/// What an import added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Messages stored from the file.
    pub messages_added: u64,
    /// Messages of the file the node had already.
    pub messages_present: u64,
    /// Aliases set from the file.
    pub aliases_added: u64,
    /// Aliases of the file not set: the peer had one, or the name was taken.
    pub aliases_skipped: u64,
}

impl Service {
    /// The whole history and every alias as one export file.
    pub async fn export(&self) -> Result<String, ServiceError> {
        let header = Header {
            kind: FORMAT.to_owned(),
            version: VERSION,
            node: self.public_key().to_hex(),
            exported_at: now_ms(),
        };
        let mut out = to_line(&header);
        for (pk, alias) in self.0.aliases.snapshot() {
            out.push_str(&to_line(&Line::Peer {
                pk: pk.to_hex(),
                alias,
            }));
        }
        let mut pages = Vec::new();
        let mut before = None;
        loop {
            let page = self
                .0
                .storage
                .read(move |store| store.history(None, PAGE, before))
                .await??;
            let Some(oldest) = page.last() else {
                break;
            };
            before = Some(oldest.row);
            pages.push(page);
        }
        for stored in pages.iter().rev().flat_map(|page| page.iter().rev()) {
            out.push_str(&to_line(&Line::Message(MessageLine::of(stored))));
        }
        Ok(out)
    }

    /// Imports an export file of this node (see the module documentation).
    pub async fn import(&self, file: &str) -> Result<ImportReport, ServiceError> {
        let mut lines = file
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, first) = lines.next().ok_or_else(|| {
            bad(
                1,
                "the file is empty; an export starts with its header line",
            )
        })?;
        let header: Header =
            serde_json::from_str(first).map_err(|e| bad(1, &format!("not a header: {e}")))?;
        if header.kind != FORMAT || header.version != VERSION {
            return Err(bad(
                1,
                &format!(
                    "a {FORMAT} file of version {VERSION} was expected, found {:?} version {}",
                    header.kind, header.version
                ),
            ));
        }
        let own = self.own_keys();
        let mine = [Some(own.native), own.skywire]
            .into_iter()
            .flatten()
            .any(|key| key.to_hex() == header.node);
        if !mine {
            return Err(ServiceError::BadRequest(format!(
                "this export holds the history of node {}, not of this node ({}); import it \
                 there",
                header.node,
                own.native.to_hex()
            )));
        }
        let mut writes = Vec::new();
        let mut aliases = Vec::new();
        for (index, text) in lines {
            let line: Line =
                serde_json::from_str(text).map_err(|e| bad(index + 1, &e.to_string()))?;
            match line {
                Line::Peer { pk, alias } => {
                    let peer: PublicKey = pk
                        .parse()
                        .map_err(|e| bad(index + 1, &format!("pk: {e}")))?;
                    let alias = check_alias(&alias).map_err(|e| bad(index + 1, &e))?;
                    aliases.push((peer, alias));
                }
                Line::Message(message) => {
                    writes.push(message.into_write().map_err(|e| bad(index + 1, &e))?);
                }
            }
        }
        let mut report = ImportReport::default();
        for applied in self.0.storage.write_all(writes).await? {
            match applied {
                Applied::Inserted(_) => report.messages_added += 1,
                _ => report.messages_present += 1,
            }
        }
        for (peer, alias) in aliases {
            // A taken name is refused by `set_alias`; a peer's own alias is kept.
            let named = self.0.aliases.alias_of(&peer).is_some();
            if !named && self.set_alias(peer, &alias).await.is_ok() {
                report.aliases_added += 1;
            } else {
                report.aliases_skipped += 1;
            }
        }
        Ok(report)
    }
}

fn to_line(value: &impl Serialize) -> String {
    let mut line = serde_json::to_string(value).expect("export lines serialize");
    line.push('\n');
    line
}

fn bad(line: usize, reason: &str) -> ServiceError {
    ServiceError::BadRequest(format!("line {line}: {reason}; nothing was imported"))
}
