//! The Skywire record and chat-frame readers, fed a stream of records built from the fuzzer's
//! description (plaintext, nonce steps, tampering, raw bodies) in fuzzer-chosen chunks.
//!
//! Input: the chunk sizes field, then records: an op byte (bits 0-1 the nonce step 0..3, bit 2
//! flip a ciphertext bit, bit 3 the field is a raw body instead of plaintext) and a field.
//!
//! Properties: no panic; the readers yield exactly the chat frames a direct parse of the genuine
//! plaintext gives, and stop at the first refused record (nonce not above the last, tampered or
//! raw body that does not decrypt, a body below 24 bytes) or refused frame header (0 or above
//! 65 536), whichever the stream reaches first.
#![no_main]

use bytes::{BufMut, BytesMut};
use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit};
use libfuzzer_sys::fuzz_target;
use skychat_core::fuzzing::skywire::chat::ChatFrameReader;
use skychat_core::fuzzing::skywire::record::{
    MAX_BODY_LEN, MIN_RECORD_LEN, RecordOpener, WireReader,
};
use skychat_core::{ChatFrameError, RecordError, WireError};
use skychat_fuzz::{Cursor, chunks};

fuzz_target!(|data: &[u8]| run(data));

const KEY: [u8; 32] = [7; 32];

#[derive(Debug, PartialEq, Eq)]
enum Stop {
    Wire(WireError),
    Record(RecordError),
    Frame(ChatFrameError),
}

/// One record body with an explicit nonce, sealed directly with the AEAD.
fn sealed(nonce: u64, plain: &[u8]) -> Vec<u8> {
    let mut aead_nonce = [0u8; 12];
    aead_nonce[4..].copy_from_slice(&nonce.to_le_bytes());
    let cipher = ChaCha20Poly1305::new(&KEY.into());
    let mut body = nonce.to_be_bytes().to_vec();
    body.extend(
        cipher
            .encrypt(&aead_nonce.into(), plain)
            .expect("small record"),
    );
    body
}

/// Frames from a plaintext buffer, as the Go reader parses them.
fn take_frames(plain: &mut Vec<u8>, frames: &mut Vec<Vec<u8>>) -> Result<(), ChatFrameError> {
    while plain.len() >= 4 {
        let len = u32::from_be_bytes(plain[..4].try_into().expect("four bytes")) as usize;
        if len == 0 {
            return Err(ChatFrameError::Empty);
        }
        if len > 65_536 {
            return Err(ChatFrameError::TooLong { len: len as u64 });
        }
        if plain.len() < 4 + len {
            break;
        }
        frames.push(plain[4..4 + len].to_vec());
        plain.drain(..4 + len);
    }
    Ok(())
}

fn run(data: &[u8]) {
    let mut input = Cursor::new(data);
    let sizes = input.field();
    let mut wire = BytesMut::new();
    let mut expected = Vec::new();
    let mut expected_stop = None;
    let mut plain = Vec::new();
    let mut nonce = 0u64;
    let mut last_accepted = 0u64;
    while !input.is_empty() {
        let op = input.byte();
        let field = input.field();
        nonce += u64::from(op & 3);
        let body = if op & 8 != 0 {
            field.to_vec()
        } else {
            let mut body = sealed(nonce.max(1), field);
            if op & 4 != 0 {
                body[8] ^= 1;
            }
            body
        };
        wire.put_u16(body.len() as u16);
        wire.put_slice(&body);
        if expected_stop.is_some() {
            continue;
        }
        // What a correct reader does with this record.
        expected_stop = if body.len() < MIN_RECORD_LEN {
            Some(Stop::Wire(WireError::TooShort {
                len: body.len(),
                min: MIN_RECORD_LEN,
            }))
        } else {
            let record_nonce = u64::from_be_bytes(body[..8].try_into().expect("eight bytes"));
            if record_nonce <= last_accepted {
                Some(Stop::Record(RecordError::NonceNotIncreasing {
                    nonce: record_nonce,
                    last: last_accepted,
                }))
            } else if op & 12 != 0 {
                Some(Stop::Record(RecordError::DecryptFailed))
            } else {
                last_accepted = record_nonce;
                plain.extend_from_slice(field);
                take_frames(&mut plain, &mut expected)
                    .err()
                    .map(Stop::Frame)
            }
        };
    }

    let mut reader = WireReader::default();
    let mut opener = RecordOpener::new(&KEY);
    let mut frames = ChatFrameReader::default();
    let mut got = Vec::new();
    let mut stop = None;
    'feed: for chunk in chunks(&wire, sizes) {
        reader.push(chunk);
        loop {
            match frames.next_frame() {
                Ok(Some(frame)) => {
                    got.push(frame.to_vec());
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    stop = Some(Stop::Frame(e));
                    break 'feed;
                }
            }
            match reader.next_body(MIN_RECORD_LEN, MAX_BODY_LEN) {
                Ok(Some(mut body)) => match opener.open(&mut body) {
                    Ok(plain) => frames.push(plain),
                    Err(e) => {
                        stop = Some(Stop::Record(e));
                        break 'feed;
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    stop = Some(Stop::Wire(e));
                    break 'feed;
                }
            }
        }
    }
    assert_eq!(stop, expected_stop);
    assert_eq!(got, expected);
}
