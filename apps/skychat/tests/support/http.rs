//! A minimal blocking HTTP/1.1 client for the node's control surface: one request per
//! connection, any method, extra headers and raw bodies, so that malformed and oversized requests
//! can be sent as well as good ones; and [`KeepAlive`], many requests on one connection, for
//! tests that send thousands. Each request goes out in one write with Nagle off. Responses are parsed by the app's own `skychat::http_client::parse_response`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// A whole response.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body text, de-chunked.
    pub body: String,
    /// The body as JSON (`Value::Null` when it is not JSON).
    pub json: Value,
}

impl Response {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Asserts the status and that the body is `{"error": "<non-empty text>"}`; returns the text.
    pub fn assert_error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        let object = self
            .json
            .as_object()
            .expect("an error body is a JSON object");
        assert_eq!(object.len(), 1, "{self:?}");
        let text = object["error"].as_str().expect("\"error\" is a string");
        assert!(!text.is_empty(), "{self:?}");
        text.to_string()
    }
}

/// Sends one request and reads the whole response. Write errors are ignored: a server may
/// answer (and close) before it has read an oversized body, and the answer is what counts.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to the node");
    stream
        .set_read_timeout(Some(Duration::from_secs(70)))
        .expect("set a read timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    // One write, with Nagle off: a head and a body written apart would wait for the node's
    // delayed ACK (40 ms) in between.
    stream.set_nodelay(true).expect("set TCP_NODELAY");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    let written = stream.write_all(&request);
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    if raw.is_empty() {
        panic!("{method} {path}: no response (write: {written:?}, read: {read:?})");
    }
    parse(&raw)
}

/// Parses a complete response; panics when it is malformed.
pub fn parse(raw: &[u8]) -> Response {
    let parsed = skychat::http_client::parse_response(raw)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(raw)));
    Response {
        status: parsed.status,
        json: serde_json::from_str(&parsed.body).unwrap_or(Value::Null),
        headers: parsed.headers,
        body: parsed.body,
    }
}

/// Requests on one kept-alive connection, each answer read by its `Content-Length`.
pub struct KeepAlive {
    addr: SocketAddr,
    stream: TcpStream,
}

impl KeepAlive {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Self {
        let stream =
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to the node");
        stream
            .set_read_timeout(Some(Duration::from_secs(70)))
            .expect("set a read timeout");
        stream.set_nodelay(true).expect("set TCP_NODELAY");
        Self { addr, stream }
    }

    /// `POST path` with a JSON body; panics if the connection fails.
    pub fn post_json(&mut self, path: &str, body: &str) -> Response {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(body.as_bytes());
        self.stream.write_all(&request).expect("write a request");
        let mut raw = Vec::new();
        let mut byte = [0u8; 4096];
        let body_start = loop {
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let n = self.stream.read(&mut byte).expect("read a response");
            assert!(n > 0, "POST {path}: the node closed the connection");
            raw.extend_from_slice(&byte[..n]);
        };
        let head = String::from_utf8_lossy(&raw[..body_start]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .expect("a response with a Content-Length");
        while raw.len() < body_start + length {
            let n = self.stream.read(&mut byte).expect("read a response body");
            assert!(
                n > 0,
                "POST {path}: the node closed the connection mid-body"
            );
            raw.extend_from_slice(&byte[..n]);
        }
        parse(&raw)
    }
}
