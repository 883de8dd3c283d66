//! The `PROC_CONFIG` JSON a visor hands the app it starts: where its app server listens, the
//! key the app proves itself with, the visor's public key and the app's routing port.

use std::fmt;

use serde::Deserialize;

use crate::calls::PubKey;

/// The 16-byte key that identifies one app process to its visor (32 hex characters on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcKey(pub [u8; 16]);

impl ProcKey {
    /// The key as the visor prints it: 32 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for ProcKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Everything the visor's `PROC_CONFIG` holds, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcConfig {
    /// The app's name in the visor's launcher (`skychat`).
    pub app_name: String,
    /// `host:port` of the visor's app server, where the app connects and sends its Hello.
    pub app_server_addr: String,
    /// The key the Hello carries and that prefixes every RPC method name.
    pub proc_key: ProcKey,
    /// The app's arguments as the launcher configured them.
    pub proc_args: Vec<String>,
    /// Extra `KEY=value` environment entries (`null` in the visor's JSON reads as empty).
    pub proc_envs: Vec<String>,
    /// The working directory the visor started the app in.
    pub proc_work_dir: String,
    /// The visor's own public key: the local address of the app's listeners.
    pub visor_pk: PubKey,
    /// The app's port in the visor's routing (`launcher.apps[].port`).
    pub routing_port: u32,
    /// The path of the binary the visor ran.
    pub binary_loc: String,
    /// The visor's per-app log database.
    pub log_db_loc: String,
    /// The visor's log store path (may be empty).
    pub log_store_path: String,
}

/// Why a `PROC_CONFIG` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcConfigError {
    /// Not JSON of the expected shape (a field missing or of the wrong type).
    Json(String),
    /// `proc_key` is not 32 hex characters.
    BadProcKey(String),
    /// `visor_pk` is not 66 hex characters (a 33-byte compressed key).
    BadVisorKey(String),
}

impl fmt::Display for ProcConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "PROC_CONFIG is not the visor's JSON: {e}"),
            Self::BadProcKey(k) => {
                write!(f, "PROC_CONFIG proc_key {k:?} is not 32 hex characters")
            }
            Self::BadVisorKey(k) => {
                write!(f, "PROC_CONFIG visor_pk {k:?} is not 66 hex characters")
            }
        }
    }
}

impl std::error::Error for ProcConfigError {}

/// The JSON as the visor writes it, before the keys are checked.
#[derive(Deserialize)]
struct RawProcConfig {
    app_name: String,
    app_server_addr: String,
    proc_key: String,
    #[serde(default)]
    proc_args: Option<Vec<String>>,
    #[serde(default)]
    proc_envs: Option<Vec<String>>,
    proc_work_dir: String,
    visor_pk: String,
    routing_port: u32,
    #[serde(default)]
    binary_loc: String,
    #[serde(default)]
    log_db_loc: String,
    #[serde(default)]
    log_store_path: String,
}

impl ProcConfig {
    /// Parse the value of the `PROC_CONFIG` environment variable.
    pub fn parse(json: &str) -> Result<Self, ProcConfigError> {
        let raw: RawProcConfig =
            serde_json::from_str(json).map_err(|e| ProcConfigError::Json(e.to_string()))?;
        let proc_key = decode_hex::<16>(&raw.proc_key)
            .map(ProcKey)
            .ok_or_else(|| ProcConfigError::BadProcKey(raw.proc_key.clone()))?;
        let visor_pk = decode_hex::<33>(&raw.visor_pk)
            .map(PubKey)
            .ok_or_else(|| ProcConfigError::BadVisorKey(raw.visor_pk.clone()))?;
        Ok(Self {
            app_name: raw.app_name,
            app_server_addr: raw.app_server_addr,
            proc_key,
            proc_args: raw.proc_args.unwrap_or_default(),
            proc_envs: raw.proc_envs.unwrap_or_default(),
            proc_work_dir: raw.proc_work_dir,
            visor_pk,
            routing_port: raw.routing_port,
            binary_loc: raw.binary_loc,
            log_db_loc: raw.log_db_loc,
            log_store_path: raw.log_store_path,
        })
    }
}

fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = hex::decode(text).ok()?;
    bytes.try_into().ok()
}
