//! The length-prefixed frame reader, fed one stream in fuzzer-chosen chunks.
//!
//! Input: a u16 phase limit (0 means 65 535), one length byte and that many chunk sizes, then
//! the stream.
//!
//! Property: however the stream is chunked, the reader returns the same messages and stops at
//! the same error as a direct parse of the whole stream, and never holds more bytes than it was
//! given minus what it returned.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skychat_core::FramingError;
use skychat_core::fuzzing::framing::{LENGTH_PREFIX, MAX_NOISE_MESSAGE, NoiseMessageReader};
use skychat_fuzz::{Cursor, chunks};

fuzz_target!(|data: &[u8]| run(data));

/// Parses a complete stream in one go: the messages, then the error or the unfinished tail.
fn reference(stream: &[u8], max: usize) -> (Vec<&[u8]>, Option<FramingError>) {
    let mut messages = Vec::new();
    let mut rest = stream;
    while rest.len() >= LENGTH_PREFIX {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        if len == 0 {
            return (messages, Some(FramingError::ZeroLength));
        }
        if len > max {
            return (messages, Some(FramingError::TooLong { len, max }));
        }
        if rest.len() < LENGTH_PREFIX + len {
            break;
        }
        messages.push(&rest[LENGTH_PREFIX..LENGTH_PREFIX + len]);
        rest = &rest[LENGTH_PREFIX + len..];
    }
    (messages, None)
}

fn run(data: &[u8]) {
    let mut input = Cursor::new(data);
    let max = match usize::from(input.u16()) {
        0 => MAX_NOISE_MESSAGE,
        n => n,
    };
    let sizes = input.field();
    let stream = input.rest();

    let (expected, expected_error) = reference(stream, max);
    let mut reader = NoiseMessageReader::default();
    let mut got = Vec::new();
    let mut error = None;
    let mut pushed = 0;
    let mut taken = 0;
    'feed: for chunk in chunks(stream, sizes) {
        reader.push(chunk);
        pushed += chunk.len();
        loop {
            match reader.next_message(max) {
                Ok(Some(message)) => {
                    assert!(!message.is_empty() && message.len() <= max);
                    taken += LENGTH_PREFIX + message.len();
                    got.push(message);
                }
                Ok(None) => break,
                Err(e) => {
                    // The error is sticky: asking again gives the same answer.
                    assert_eq!(reader.next_message(max), Err(e));
                    error = Some(e);
                    break 'feed;
                }
            }
        }
        assert_eq!(reader.buffered(), pushed - taken);
        reader.shrink_if_empty();
    }
    assert_eq!(error, expected_error);
    assert_eq!(got.len(), expected.len());
    for (got, expected) in got.iter().zip(&expected) {
        assert_eq!(&got[..], *expected);
    }
}
