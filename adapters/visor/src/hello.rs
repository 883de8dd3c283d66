//! The Hello frame an app sends first on its app-server connection: a big-endian u16 length,
//! then JSON naming its `proc_key`. The visor does not answer it.

use serde::Serialize;

use crate::proc_config::ProcKey;

#[derive(Serialize)]
struct Hello {
    proc_key: String,
}

/// The bytes of the Hello for `proc_key`, exactly as the Go app sends them.
pub fn encode_hello(proc_key: &ProcKey) -> Vec<u8> {
    let json = serde_json::to_vec(&Hello {
        proc_key: proc_key.to_hex(),
    })
    .expect("a struct of one string serialises");
    // 32 hex characters and the field name: far below the u16 limit.
    let len = u16::try_from(json.len()).expect("the Hello is a few dozen bytes");
    let mut out = Vec::with_capacity(2 + json.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&json);
    out
}
