//! The tools' link to the local node: its HTTP address and bearer token from `--addr` and
//! `--token-file`, requests to its surface, and its answers as JSON, or as a failure that says
//! what to fix (a refused request is a usage error, exit code 2).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use crate::address;
use crate::http_client::{self, Response};
use crate::run::Failure;

/// How long a tool waits for an answer that involves no peer.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// The local node, as the flags name it.
pub struct LocalNode {
    addr: SocketAddr,
    token: Option<String>,
}

impl LocalNode {
    /// The node at `--addr` (default `127.0.0.1:8001`), with the token in `--token-file`.
    pub fn from_flags(addr: Option<&str>, token_file: Option<&str>) -> Result<Self, Failure> {
        let addr =
            address::parse_http_addr(addr).map_err(|e| Failure::usage(format!("--addr: {e}")))?;
        let token = token_file
            .map(|path| {
                std::fs::read_to_string(path)
                    .map(|t| t.trim().to_string())
                    .map_err(|e| Failure::usage(format!("--token-file {path}: {e}")))
            })
            .transpose()?;
        Ok(Self { addr, token })
    }

    /// Sends `method path` with `body`, waiting up to `wait` for the answer; fails only when
    /// the node cannot be reached or does not answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        wait: Duration,
    ) -> Result<Response, Failure> {
        let body = body.map(Value::to_string);
        http_client::request(
            self.addr,
            method,
            path,
            body.as_deref(),
            self.token.as_deref(),
            wait,
        )
        .map_err(Failure::runtime)
    }

    /// Sends `method path` with the text `body` (not necessarily JSON), waiting up to `wait`,
    /// and returns the answer's text. An error answer is a failure carrying the node's reason.
    pub fn call_text(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        wait: Duration,
    ) -> Result<String, Failure> {
        let response =
            http_client::request(self.addr, method, path, body, self.token.as_deref(), wait)
                .map_err(Failure::runtime)?;
        if (200..300).contains(&response.status) {
            return Ok(response.body);
        }
        let json: Value = serde_json::from_str(&response.body).unwrap_or_default();
        let reason = json["error"].as_str().unwrap_or(&response.body).to_string();
        Err(refused(response.status, &reason))
    }

    /// Sends `method path` with `body` and returns the JSON answer (`null` for none). An error
    /// answer is a failure carrying the node's reason.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Failure> {
        let body = body.map(Value::to_string);
        let text = self.call_text(method, path, body.as_deref(), ANSWER_WAIT)?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    }
}

/// The failure for an error answer `status` with `reason`.
pub fn refused(status: u16, reason: &str) -> Failure {
    match status {
        400 | 404 | 409 | 413 | 422 => Failure::usage(format!("the node refused it: {reason}")),
        401 => Failure::runtime(format!(
            "the node requires its bearer token: pass --token-file <its data dir>/http-token \
             ({reason})"
        )),
        _ => Failure::runtime(format!("the node answered {status}: {reason}")),
    }
}
