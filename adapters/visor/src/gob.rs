//! Splitting a gob stream into messages: each is a gob `uint` length then that many bytes.
//! Bytes arrive in arbitrary chunks; a message is handed out only once it is whole, and a
//! length above the limit is refused as soon as it is read, without waiting for the body.

use std::fmt;

/// The longest message accepted from the visor. A `Read` reply carries at most the `BufLen` the
/// app asked for (32 KiB in the Go app); this leaves room for larger reads and long errors.
pub const MAX_MESSAGE_LEN: usize = 1 << 20;

/// Why the stream could not be split into messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// A length prefix that is not a gob `uint` (more than eight bytes follow its count byte).
    BadLength,
    /// A message longer than the limit.
    TooLong { len: u64, max: usize },
    /// A zero-length message: gob never sends one.
    Empty,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLength => f.write_str("gob message length is not a valid uint"),
            Self::TooLong { len, max } => {
                write!(
                    f,
                    "gob message of {len} bytes is longer than the {max} allowed"
                )
            }
            Self::Empty => f.write_str("empty gob message"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Reads a gob `uint` from the front of `buf`: `None` when more bytes are needed.
pub fn read_uint(buf: &[u8]) -> Result<Option<(u64, usize)>, FrameError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    if first < 0x80 {
        return Ok(Some((u64::from(first), 1)));
    }
    let count = usize::from(first.wrapping_neg());
    if count > 8 {
        return Err(FrameError::BadLength);
    }
    let Some(bytes) = buf.get(1..=count) else {
        return Ok(None);
    };
    let value = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    Ok(Some((value, 1 + count)))
}

/// Buffers stream bytes and hands out whole message bodies (without their length prefix).
#[derive(Debug)]
pub struct MessageReader {
    buf: Vec<u8>,
    start: usize,
    max_len: usize,
}

impl Default for MessageReader {
    fn default() -> Self {
        Self::with_limit(MAX_MESSAGE_LEN)
    }
}

impl MessageReader {
    /// A reader refusing messages longer than `max_len`.
    pub fn with_limit(max_len: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            max_len,
        }
    }

    /// Append bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        // Drop what was handed out already, so the buffer holds at most one partial message
        // plus the new bytes.
        self.buf.drain(..self.start);
        self.start = 0;
        self.buf.extend_from_slice(bytes);
    }

    /// The longest message this reader accepts.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Bytes buffered but not yet handed out.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole message body, or `None` until more bytes arrive.
    pub fn next_message(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let rest = &self.buf[self.start..];
        let Some((len, width)) = read_uint(rest)? else {
            return Ok(None);
        };
        if len == 0 {
            return Err(FrameError::Empty);
        }
        if len > self.max_len as u64 {
            return Err(FrameError::TooLong {
                len,
                max: self.max_len,
            });
        }
        let len = len as usize;
        if rest.len() < width + len {
            return Ok(None);
        }
        let begin = self.start + width;
        self.start = begin + len;
        Ok(Some(&self.buf[begin..begin + len]))
    }
}
