//! A blocking server-sent-events client: opens `/sse` or `/events` with any headers, checks the
//! response head, de-chunks the body as it arrives and yields events one at a time, each within
//! a bounded wait. Comments (`: ping`, `: connected`) are kept apart from events.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The `id:` field.
    pub id: Option<String>,
    /// The `event:` field (none for plain messages).
    pub event: Option<String>,
    /// The `data:` lines, joined.
    pub data: String,
}

impl Event {
    /// The id as a number; panics if the event has none.
    pub fn seq(&self) -> u64 {
        self.id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("event without a numeric id: {self:?}"))
    }

    /// The data as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("data is not JSON ({e}): {self:?}"))
    }
}

/// An open stream.
pub struct Stream {
    reader: BufReader<TcpStream>,
    /// The status of the response.
    pub status: u16,
    /// The response headers (names in lower case).
    pub headers: Vec<(String, String)>,
    text: String,
    /// Comment lines seen so far, without the leading colon.
    pub comments: Vec<String>,
}

impl Stream {
    /// Opens `GET path` with `headers` and reads the response head.
    pub fn open(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Self {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
        Self::open_on(stream, path, headers)
    }

    /// The connection's socket, for socket options.
    pub fn socket(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    /// Opens `GET path` with `headers` on a connection already made, and reads the response head.
    pub fn open_on(mut stream: TcpStream, path: &str, headers: &[(&str, &str)]) -> Self {
        let addr = stream.peer_addr().expect("a connected stream");
        let mut head =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("send the request");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set a read timeout");
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).expect("status line");
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header line");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        Self {
            reader,
            status,
            headers,
            text: String::new(),
            comments: Vec::new(),
        }
    }

    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The rest of the body of a non-streaming answer (an error), de-chunked. The body is read
    /// as its framing says (`Content-Length`, or chunks up to the last one), not up to the
    /// close: the server may keep the connection open for the next request.
    pub fn rest(mut self) -> String {
        let mut raw = Vec::new();
        if let Some(length) = self.header("content-length") {
            let length: usize = length.parse().expect("a numeric Content-Length");
            raw.resize(length, 0);
            self.reader.read_exact(&mut raw).expect("the whole body");
        } else if self
            .header("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let mut size_line = String::new();
                self.reader.read_line(&mut size_line).expect("chunk size");
                raw.extend_from_slice(size_line.as_bytes());
                let size = usize::from_str_radix(size_line.trim(), 16).expect("chunk size");
                let mut data = vec![0; size + 2];
                self.reader.read_exact(&mut data).expect("chunk data");
                raw.extend_from_slice(&data);
                if size == 0 {
                    break;
                }
            }
        } else {
            let _ = self.reader.read_to_end(&mut raw);
        }
        let head = format!(
            "HTTP/1.1 {} X\r\n{}\r\n\r\n",
            self.status,
            self.header_block()
        );
        let mut all = head.into_bytes();
        all.extend_from_slice(&raw);
        super::http::parse(&all).body
    }

    fn header_block(&self) -> String {
        self.headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    /// The next event, waiting at most `limit`. Panics when none comes in time or the stream
    /// ends.
    pub fn next(&mut self, limit: Duration) -> Event {
        self.next_or_end(limit)
            .unwrap_or_else(|| panic!("the stream ended; comments {:?}", self.comments))
    }

    /// The next event, or `None` when the stream ends first; waits at most `limit`. Panics when
    /// neither happens in time.
    pub fn next_or_end(&mut self, limit: Duration) -> Option<Event> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(event) = self.take_event() {
                return Some(event);
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "no event within {limit:?}; pending text {:?}",
                self.text
            );
            self.reader
                .get_ref()
                .set_read_timeout(Some(deadline - now))
                .expect("set a read timeout");
            let chunk = self.read_chunk();
            if chunk.is_empty() {
                return None;
            }
            self.text.push_str(&chunk);
        }
    }

    /// Events until one satisfies `last` (included), within `limit` overall.
    pub fn until(&mut self, limit: Duration, last: impl Fn(&Event) -> bool) -> Vec<Event> {
        let deadline = Instant::now() + limit;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self.next(left.max(Duration::from_millis(1)));
            let done = last(&event);
            events.push(event);
            if done {
                return events;
            }
        }
    }

    /// Reads one chunk of the chunked body; empty at the end.
    fn read_chunk(&mut self) -> String {
        let mut size_line = String::new();
        self.reader
            .read_line(&mut size_line)
            .unwrap_or_else(|e| panic!("reading the stream: {e}; pending {:?}", self.text));
        let size = usize::from_str_radix(size_line.trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size line {size_line:?}"));
        let mut data = vec![0; size + 2];
        self.reader.read_exact(&mut data).expect("chunk data");
        data.truncate(size);
        String::from_utf8(data).expect("UTF-8 event text")
    }

    fn take_event(&mut self) -> Option<Event> {
        loop {
            let end = self.text.find("\n\n")?;
            let block: String = self.text[..end].to_string();
            self.text.drain(..end + 2);
            let mut event = Event {
                id: None,
                event: None,
                data: String::new(),
            };
            let mut has_fields = false;
            for line in block.lines() {
                if let Some(comment) = line.strip_prefix(':') {
                    self.comments.push(comment.trim().to_string());
                    continue;
                }
                has_fields = true;
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => event.id = Some(value.to_string()),
                    "event" => event.event = Some(value.to_string()),
                    "data" => {
                        if !event.data.is_empty() {
                            event.data.push('\n');
                        }
                        event.data.push_str(value);
                    }
                    other => panic!("unknown SSE field {other:?} in {block:?}"),
                }
            }
            if has_fields {
                return Some(event);
            }
        }
    }
}
