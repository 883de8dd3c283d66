//! A minimal blocking HTTP/1.1 client for the tools that talk to the local node (`send --to`,
//! `history`, `status`, `peers`, `alias`),
//! and the response parser it uses (also used by the tests' client of the HTTP surface).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response: status code, headers and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// Body text, de-chunked.
    pub body: String,
}

/// POSTs `json` to `path` on `addr` and reads the whole response.
pub fn post_json(
    addr: SocketAddr,
    path: &str,
    json: &str,
    token: Option<&str>,
    timeout: Duration,
) -> Result<Response, String> {
    request(addr, "POST", path, Some(json), token, timeout)
}

/// Sends `method path` to `addr`, with `json` as the body when given, and reads the whole
/// response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json: Option<&str>,
    token: Option<&str>,
    timeout: Duration,
) -> Result<Response, String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| {
        format!(
            "cannot reach the local node at {addr}: {e}; is a node running there? Start one, or \
             point --addr at its HTTP address"
        )
    })?;
    stream.set_read_timeout(Some(timeout)).ok();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let json = json.unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{auth}Connection: close\r\n\r\n{json}",
        json.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send the request to {addr}: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("no response from {addr}: {e}"))?;
    parse_response(&raw)
}

/// `text` percent-encoded for a URL path segment or query value: every byte but ASCII letters,
/// digits and `-._~` becomes `%XX`.
pub fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Parses a complete response (head and whole body), de-chunking a chunked body.
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "malformed HTTP response".to_string())?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "malformed HTTP status line".to_string())?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_bodies() {
        let plain = parse_response(b"HTTP/1.1 202 Accepted\r\nA: b\r\n\r\n{\"x\":1}").unwrap();
        assert_eq!((plain.status, plain.body.as_str()), (202, "{\"x\":1}"));
        assert_eq!(plain.headers, [("a".to_string(), "b".to_string())]);
        let chunked = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.body, "abcde");
    }

    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(encode_component("Bob Smith/é~"), "Bob%20Smith%2F%C3%A9~");
    }
}
