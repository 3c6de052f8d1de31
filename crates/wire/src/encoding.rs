//! How a bulk object may travel (docs/protocol.md §7, "Encodings"): as it is, or deflated
//! (RFC 1951) when both sides offered it in HELLO. The object's length, SHA-256 and record
//! count always describe the decoded bytes; offsets count in the encoded stream.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

/// Deflate, RFC 1951 (raw, no zlib or gzip header).
pub const DEFLATE: u8 = 1;

/// The level every sender uses, so that an interrupted transfer resumed later (even by
/// another process) sends the same encoded bytes.
const LEVEL: u32 = 6;

/// Why encoded bytes do not decode to the object announced.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EncodingError {
    #[error("{}", crate::tr!("encoding-unknown", encoding = *.0))]
    Unknown(u8),
    #[error("{}", crate::tr!("encoding-corrupt", reason = .0.as_str()))]
    Corrupt(String),
    #[error("{}", crate::tr!("encoding-length", expected = *.expected, got = *.got))]
    Length { expected: usize, got: usize },
}

/// `data` deflated.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::with_capacity(data.len() / 2), Compression::new(LEVEL));
    // Writing into a Vec cannot fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// Decodes `encoded` (in `encoding`) into exactly `len` bytes; never produces more than
/// `len + 1` bytes, so a small stream that would inflate to gigabytes is refused early.
pub fn decode(encoding: u8, encoded: &[u8], len: usize) -> Result<Vec<u8>, EncodingError> {
    if encoding != DEFLATE {
        return Err(EncodingError::Unknown(encoding));
    }
    let mut out = Vec::with_capacity(len.min(64 << 20));
    DeflateDecoder::new(encoded)
        .take(len as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| EncodingError::Corrupt(e.to_string()))?;
    if out.len() != len {
        return Err(EncodingError::Length {
            expected: len,
            got: out.len(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflate_round_trips_and_is_the_same_every_time() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| (i % 1000).to_be_bytes()).collect();
        let a = deflate(&data);
        assert_eq!(a, deflate(&data), "a resumed transfer must send the same bytes");
        assert!(a.len() < data.len() / 4);
        assert_eq!(decode(DEFLATE, &a, data.len()).unwrap(), data);
    }

    #[test]
    fn a_bomb_a_short_stream_or_garbage_is_refused() {
        let zeros = deflate(&vec![0u8; 10 << 20]);
        assert!(zeros.len() < 20_000);
        assert_eq!(
            decode(DEFLATE, &zeros, 1000),
            Err(EncodingError::Length {
                expected: 1000,
                got: 1001
            })
        );
        let short = deflate(b"abc");
        assert!(matches!(decode(DEFLATE, &short, 4), Err(EncodingError::Length { .. })));
        assert!(matches!(
            decode(DEFLATE, &[0xFF; 16], 10),
            Err(EncodingError::Corrupt(_))
        ));
        assert_eq!(decode(9, &short, 3), Err(EncodingError::Unknown(9)));
    }
}
