//! The terminal's answers that set up a session or a transfer, read from their bytes: what
//! HELLO agreed, what an export announced, what DIGEST holds. Each reads untrusted bytes
//! into checked values, apart from the link, so the fuzz targets feed them directly.

use crate::link::bulk::MAX_OBJECT_LEN;
use crate::link::encoding;
use crate::link::proto::{self, cmd, tag};
use crate::link::tlv::Fields;

use super::model::ModelError;
use super::{StoredDigest, TerminalError, check};

/// What a session runs on, from the terminal's answer to our HELLO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    /// The largest payload of one frame: 64 up to what we offered.
    pub max_payload: usize,
    /// Frames in flight: 1 up to what we offered.
    pub window: usize,
    /// Data frames sized to the line: the block we offered, when the terminal answered it
    /// and a chunk holds one; else fixed chunks.
    pub block: Option<usize>,
    /// Objects may travel deflated (the terminal listed it).
    pub encoding: Option<u8>,
    /// The fingerprint of the provider root the terminal judges by (DF46).
    pub authority_root: Option<[u8; 8]>,
}

impl Terms {
    /// Reads HELLO's answer (result included).
    pub fn from_hello(rsp: &[u8]) -> Result<Terms, TerminalError> {
        let f = check(cmd::HELLO, rsp)?;
        let max = u16::from_be_bytes(f.need_array::<2>(tag::MAX_PAYLOAD)?);
        if usize::from(max) < 64 {
            return Err(TerminalError::Invalid(ModelError::Invalid {
                field: "max_payload",
                message: format!("{max} is too small"),
            }));
        }
        let max_payload = usize::from(max.min(proto::DEFAULT_MAX_PAYLOAD));
        let block = usize::from(proto::BLOCK_SIZE);
        Ok(Terms {
            max_payload,
            window: usize::from(f.need_u8(tag::WINDOW)?.clamp(1, proto::DEFAULT_WINDOW)),
            block: (f.get(tag::BLOCKS) == Some(&proto::BLOCK_SIZE.to_be_bytes()[..])
                && block <= max_payload - proto::DATA_OFFSET_LEN)
                .then_some(block),
            // A terminal of the first release says nothing of encodings: objects travel as
            // they are.
            encoding: f
                .get(tag::ENCODINGS)
                .is_some_and(|e| e.contains(&encoding::DEFLATE))
                .then_some(encoding::DEFLATE),
            authority_root: f.need_array::<8>(tag::AUTHORITY_ROOT).ok(),
        })
    }
}

/// What a terminal announced for an export: the object (length, SHA-256, records) and,
/// when it travels encoded, the encoding and the encoded stream's length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    pub len: usize,
    pub sha256: [u8; 32],
    pub records: u32,
    pub encoded: Option<(u8, usize)>,
}

impl Announced {
    /// Reads EXPORT_BEGIN's answer (its result already checked).
    ///
    /// The object and, when it travels encoded, its stream are each at most
    /// [`MAX_OBJECT_LEN`]: a larger announcement is refused here, before anything is
    /// allocated for it (the inflated bytes are then bounded by the announcement).
    pub fn decode(rsp: &[u8]) -> Result<Announced, TerminalError> {
        let f = Fields::parse(rsp)?;
        let a = Announced {
            len: f.need_u32(tag::TOTAL_LEN)? as usize,
            sha256: f.need_array::<32>(tag::SHA256)?,
            records: f.need_u32(tag::RECORD_COUNT)?,
            // The terminal may send any object as it is, whatever was agreed.
            encoded: match f.get(tag::ENCODING) {
                Some(_) => Some((f.need_u8(tag::ENCODING)?, f.need_u32(tag::ENCODED_LEN)? as usize)),
                None => None,
            },
        };
        for (field, n) in [("total_len", Some(a.len)), ("encoded_len", a.encoded.map(|(_, n)| n))] {
            if let Some(n) = n.filter(|n| *n > MAX_OBJECT_LEN) {
                return Err(TerminalError::Invalid(ModelError::Invalid {
                    field,
                    message: format!("an object of {n} bytes exceeds the limit of {MAX_OBJECT_LEN} bytes"),
                }));
            }
        }
        Ok(a)
    }

    /// The length of the stream on the line: encoded when it travels encoded.
    pub fn stream_len(&self) -> usize {
        self.encoded.map_or(self.len, |(_, n)| n)
    }
}

impl StoredDigest {
    /// Reads DIGEST's answer (its result already checked).
    pub fn decode(rsp: &[u8]) -> Result<StoredDigest, TerminalError> {
        let f = Fields::parse(rsp)?;
        Ok(StoredDigest {
            len: f.need_u32(tag::TOTAL_LEN)?,
            sha256: f.need_array::<32>(tag::SHA256)?,
            records: f.need_u32(tag::RECORD_COUNT)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::proto::result;
    use crate::link::tlv::Writer;

    fn export_answer(len: u32, encoded: Option<u32>) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(tag::RESULT, result::OK)
            .u32(tag::TOTAL_LEN, len)
            .bytes(tag::SHA256, &[0; 32])
            .u32(tag::RECORD_COUNT, 1);
        if let Some(n) = encoded {
            w.u8(tag::ENCODING, encoding::DEFLATE).u32(tag::ENCODED_LEN, n);
        }
        w.finish()
    }

    #[test]
    fn an_export_announced_over_the_cap_is_refused_raw_or_encoded() {
        let cap = MAX_OBJECT_LEN as u32;
        assert_eq!(
            Announced::decode(&export_answer(cap, None)).unwrap().len,
            MAX_OBJECT_LEN
        );
        assert_eq!(
            Announced::decode(&export_answer(cap, Some(cap))).unwrap().stream_len(),
            MAX_OBJECT_LEN
        );
        for (len, encoded, field) in [
            (cap + 1, None, "total_len"),
            // A small deflated stream announcing a huge object: a decompression bomb.
            (1 << 30, Some(1 << 20), "total_len"),
            (1024, Some(cap + 1), "encoded_len"),
        ] {
            let e = Announced::decode(&export_answer(len, encoded)).unwrap_err();
            assert!(
                matches!(e, TerminalError::Invalid(ModelError::Invalid { field: f, .. }) if f == field),
                "{len} {encoded:?}: {e}"
            );
        }
    }
}
