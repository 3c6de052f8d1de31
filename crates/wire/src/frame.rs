//! Frames on the wire: SLIP-style byte stuffing around a small header, payload and CRC-16.
//!
//! ```text
//! FLAG | stuffed( version kind seq:u16 code len:u16 payload[len] crc:u16 ) | FLAG
//! ```
//! All integers are big-endian. The CRC is CRC-16/IBM-3740 (CCITT polynomial 0x1021, init
//! 0xFFFF, no reflection, no final XOR; "CRC-16/CCITT-FALSE") over the unstuffed header and
//! payload. `FLAG` (0xC0) separates frames; 0xC0 and 0xDB inside a frame are sent as
//! `DB DC` and `DB DD`. Both bytes are outside ASCII, so text payloads cost nothing to stuff.
//! A receiver that sees garbage simply waits for the next FLAG: resynchronisation needs no
//! state. The length field must match the bytes received exactly, so a dropped or inserted
//! byte after the header is always detected, and any error burst of 16 bits or less (every
//! single corrupted byte) is caught by the CRC.

use crc::{CRC_16_IBM_3740, Crc};

/// Frame separator.
pub const FLAG: u8 = 0xC0;
/// Escape byte.
pub const ESC: u8 = 0xDB;
/// `ESC ESC_FLAG` stands for a FLAG byte inside a frame.
pub const ESC_FLAG: u8 = 0xDC;
/// `ESC ESC_ESC` stands for an ESC byte inside a frame.
pub const ESC_ESC: u8 = 0xDD;

/// Protocol version carried in every frame header.
pub const VERSION: u8 = 1;
/// Bytes of header before the payload: version, kind, seq (2), code, len (2).
pub const HEADER_LEN: usize = 7;
/// Bytes of CRC after the payload.
pub const CRC_LEN: usize = 2;
/// Largest payload any frame may carry; HELLO may agree on less.
pub const MAX_PAYLOAD: usize = 4096;
/// Largest unstuffed frame body (header + payload + CRC).
pub const MAX_BODY: usize = HEADER_LEN + MAX_PAYLOAD + CRC_LEN;

const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

/// What a frame is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A command from the agent.
    Command = 1,
    /// The terminal's answer to the command with the same sequence number.
    Response = 2,
    /// Receipt: of a command (empty payload) or of bulk data (cumulative offset + SACK map).
    Ack = 3,
    /// "Send again": the last command/response (empty payload) or the chunk at an offset.
    Nak = 4,
    /// One chunk of a bulk transfer: offset (u32) then bytes.
    Data = 5,
    /// The terminal cannot take the command now; the agent waits and sends it again.
    Busy = 6,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Command,
            2 => Kind::Response,
            3 => Kind::Ack,
            4 => Kind::Nak,
            5 => Kind::Data,
            6 => Kind::Busy,
            _ => return None,
        })
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: Kind,
    pub seq: u16,
    pub code: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    /// A frame of `kind` with no payload.
    pub fn bare(kind: Kind, seq: u16, code: u8) -> Frame {
        Frame {
            kind,
            seq,
            code,
            payload: Vec::new(),
        }
    }

    /// Encodes into `out` (appending): FLAG, stuffed body, FLAG.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        debug_assert!(self.payload.len() <= MAX_PAYLOAD);
        let len = self.payload.len() as u16;
        let mut body = Vec::with_capacity(HEADER_LEN + self.payload.len() + CRC_LEN);
        body.extend_from_slice(&[VERSION, self.kind as u8]);
        body.extend_from_slice(&self.seq.to_be_bytes());
        body.push(self.code);
        body.extend_from_slice(&len.to_be_bytes());
        body.extend_from_slice(&self.payload);
        let crc = CRC16.checksum(&body);
        body.extend_from_slice(&crc.to_be_bytes());
        out.reserve(body.len() + body.len() / 64 + 2);
        out.push(FLAG);
        for b in body {
            match b {
                FLAG => out.extend_from_slice(&[ESC, ESC_FLAG]),
                ESC => out.extend_from_slice(&[ESC, ESC_ESC]),
                _ => out.push(b),
            }
        }
        out.push(FLAG);
    }

    /// The encoded bytes of this frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Decodes one unstuffed body (the bytes between two FLAGs, already unescaped).
    pub fn decode_body(body: &[u8]) -> Result<Frame, FrameError> {
        if body.len() < HEADER_LEN + CRC_LEN {
            return Err(FrameError::Short(body.len()));
        }
        let (content, crc_bytes) = body.split_at(body.len() - CRC_LEN);
        let crc = u16::from_be_bytes([crc_bytes[0], crc_bytes[1]]);
        if CRC16.checksum(content) != crc {
            return Err(FrameError::Crc);
        }
        if content[0] != VERSION {
            return Err(FrameError::Version(content[0]));
        }
        let kind = Kind::from_u8(content[1]).ok_or(FrameError::Kind(content[1]))?;
        let seq = u16::from_be_bytes([content[2], content[3]]);
        let code = content[4];
        let len = usize::from(u16::from_be_bytes([content[5], content[6]]));
        let payload = &content[HEADER_LEN..];
        if payload.len() != len {
            return Err(FrameError::Length {
                declared: len,
                actual: payload.len(),
            });
        }
        Ok(Frame {
            kind,
            seq,
            code,
            payload: payload.to_vec(),
        })
    }
}

/// Why bytes between two FLAGs were not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("{}", crate::tr!("frame-short", bytes = *.0))]
    Short(usize),
    #[error("{}", crate::tr!("frame-long", max = MAX_BODY))]
    Long,
    #[error("{}", crate::tr!("frame-crc"))]
    Crc,
    #[error("{}", crate::tr!("frame-version", version = *.0))]
    Version(u8),
    #[error("{}", crate::tr!("frame-kind", kind = *.0))]
    Kind(u8),
    #[error("{}", crate::tr!("frame-length", declared = *.declared, actual = *.actual))]
    Length { declared: usize, actual: usize },
    #[error("{}", crate::tr!("frame-escape"))]
    Escape,
}

/// Splits a byte stream into frames, recovering at every FLAG.
#[derive(Debug, Default)]
pub struct Decoder {
    body: Vec<u8>,
    escaped: bool,
    bad: Option<FrameError>,
}

impl Decoder {
    /// A decoder waiting for the first FLAG-delimited frame.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Feeds one byte; returns a result when a FLAG closes a non-empty frame.
    pub fn push(&mut self, byte: u8) -> Option<Result<Frame, FrameError>> {
        if byte == FLAG {
            let had_bytes = !self.body.is_empty() || self.bad.is_some() || self.escaped;
            let result = match (self.bad.take(), self.escaped) {
                (Some(e), _) => Err(e),
                (None, true) => Err(FrameError::Escape),
                (None, false) => Frame::decode_body(&self.body),
            };
            self.body.clear();
            self.escaped = false;
            return had_bytes.then_some(result);
        }
        if self.bad.is_some() {
            return None;
        }
        let b = if self.escaped {
            self.escaped = false;
            match byte {
                ESC_FLAG => FLAG,
                ESC_ESC => ESC,
                _ => {
                    self.bad = Some(FrameError::Escape);
                    return None;
                }
            }
        } else if byte == ESC {
            self.escaped = true;
            return None;
        } else {
            byte
        };
        if self.body.len() >= MAX_BODY {
            self.bad = Some(FrameError::Long);
            self.body.clear();
            return None;
        }
        self.body.push(b);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(bytes: &[u8]) -> Vec<Result<Frame, FrameError>> {
        let mut d = Decoder::new();
        bytes.iter().filter_map(|b| d.push(*b)).collect()
    }

    fn arb_frame() -> impl Strategy<Value = Frame> {
        (
            1u8..=6,
            any::<u16>(),
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..600),
        )
            .prop_map(|(k, seq, code, payload)| Frame {
                kind: Kind::from_u8(k).unwrap(),
                seq,
                code,
                payload,
            })
    }

    #[test]
    fn crc_is_ccitt_false() {
        // The standard check value of CRC-16/IBM-3740 over "123456789".
        assert_eq!(CRC16.checksum(b"123456789"), 0x29B1);
    }

    #[test]
    fn flag_and_escape_bytes_are_stuffed() {
        let f = Frame {
            kind: Kind::Data,
            seq: 0xC0DB,
            code: 0,
            payload: vec![FLAG, ESC, 1],
        };
        let enc = f.encode();
        assert_eq!(enc.iter().filter(|b| **b == FLAG).count(), 2, "only the two delimiters");
        assert_eq!(decode_all(&enc), vec![Ok(f)]);
    }

    #[test]
    fn garbage_before_a_frame_is_skipped() {
        let f = Frame::bare(Kind::Ack, 7, 0);
        let mut bytes = vec![0x55, 0x01, FLAG, 0x33];
        bytes.extend(f.encode());
        let results = decode_all(&bytes);
        assert_eq!(results.last(), Some(&Ok(f)));
        assert!(results[..results.len() - 1].iter().all(Result::is_err));
    }

    #[test]
    fn oversized_garbage_is_bounded() {
        let mut bytes = vec![FLAG];
        bytes.extend(std::iter::repeat_n(0x41, MAX_BODY * 2));
        bytes.push(FLAG);
        assert_eq!(decode_all(&bytes), vec![Err(FrameError::Long)]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn round_trip(f in arb_frame()) {
            prop_assert_eq!(decode_all(&f.encode()), vec![Ok(f)]);
        }

        #[test]
        fn any_single_corrupted_byte_is_detected(f in arb_frame(), pos in any::<prop::sample::Index>(), x in 1u8..=255) {
            let mut enc = f.encode();
            let i = pos.index(enc.len());
            enc[i] ^= x;
            for r in decode_all(&enc) {
                prop_assert!(r.is_err(), "corruption at {} decoded as {:?}", i, r);
            }
        }

        #[test]
        fn any_single_dropped_byte_is_detected(f in arb_frame(), pos in any::<prop::sample::Index>()) {
            let mut enc = f.encode();
            let i = pos.index(enc.len());
            enc.remove(i);
            let is_delimiter = i == 0 || i == enc.len();
            for r in decode_all(&enc) {
                // Losing only a delimiter leaves the frame intact, which is correct decoding.
                if is_delimiter && r.as_ref() == Ok(&f) { continue; }
                prop_assert!(r.is_err(), "drop at {} decoded as {:?}", i, r);
            }
        }

        #[test]
        fn any_single_inserted_byte_is_detected(f in arb_frame(), pos in any::<prop::sample::Index>(), x in any::<u8>()) {
            let mut enc = f.encode();
            let i = 1 + pos.index(enc.len() - 1);
            enc.insert(i, x);
            for r in decode_all(&enc) {
                // A FLAG inserted next to a delimiter only adds an empty frame gap.
                let harmless = x == FLAG && (i == 1 || i == enc.len() - 2) && r.as_ref() == Ok(&f);
                prop_assert!(r.is_err() || harmless, "insert at {} decoded as {:?}", i, r);
            }
        }

        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..5000)) {
            let _ = decode_all(&bytes);
        }
    }
}
