//! BER-TLV payloads (ISO/IEC 8825-1 as EMV uses it): 1–3 byte tags, definite lengths up to
//! three length bytes. Tags are held as `u32` with their bytes big-endian (`0x9F1C`).
//! Parsing is one level at a time and never panics; constructed values are parsed on demand.

/// Largest value length accepted (16 MiB); a longer one is an error, not an allocation.
pub const MAX_VALUE_LEN: usize = 16 << 20;
/// Deepest nesting [`validate_nested`] follows.
pub const MAX_DEPTH: usize = 8;

/// Why bytes are not valid TLV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    #[error("{}", crate::tr!("tlv-truncated", at = *.0))]
    Truncated(usize),
    #[error("{}", crate::tr!("tlv-long-tag", at = *.0))]
    LongTag(usize),
    #[error("{}", crate::tr!("tlv-length-form", form = format!("{:02X}", .0)))]
    LengthForm(u8),
    #[error("{}", crate::tr!("tlv-too-long", bytes = *.0))]
    TooLong(usize),
    #[error("{}", crate::tr!("tlv-too-deep", max = MAX_DEPTH))]
    TooDeep,
    #[error("{}", crate::tr!("tlv-missing", tag = format!("{:X}", .0)))]
    Missing(u32),
    #[error("{}", crate::tr!("tlv-bad", tag = format!("{:X}", .tag), what = *.what))]
    Bad { tag: u32, what: &'static str },
}

/// Whether a tag's first byte marks a constructed (nested) value.
pub fn is_constructed(tag: u32) -> bool {
    let first = tag.to_be_bytes().into_iter().find(|b| *b != 0).unwrap_or(0);
    first & 0x20 != 0
}

/// Parses one level of TLV items.
pub fn parse(bytes: &[u8]) -> Result<Vec<(u32, &[u8])>, TlvError> {
    let mut items = room_for(bytes);
    each_item(bytes, |(t, v, _)| items.push((t, v)))?;
    Ok(items)
}

/// One TLV item: its tag, its value, and the offset at which its tag begins.
pub type Item<'a> = (u32, &'a [u8], usize);

/// Parses one level of TLV items, each with the offset at which its tag begins.
pub fn parse_items(bytes: &[u8]) -> Result<Vec<Item<'_>>, TlvError> {
    let mut items = room_for(bytes);
    each_item(bytes, |item| items.push(item))?;
    Ok(items)
}

/// An empty list with room for a record's items (each takes at least two bytes): a log's
/// thousands of records are parsed one level each, and a list that grew from nothing
/// would be allocated three times for each.
fn room_for<T>(bytes: &[u8]) -> Vec<T> {
    Vec::with_capacity((bytes.len() / 2).min(16))
}

/// Hands `each` the items of one level in order.
fn each_item<'a>(bytes: &'a [u8], mut each: impl FnMut(Item<'a>)) -> Result<(), TlvError> {
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let first = bytes[i];
        let mut tag = u32::from(first);
        i += 1;
        if first & 0x1F == 0x1F {
            loop {
                let b = *bytes.get(i).ok_or(TlvError::Truncated(i))?;
                tag = (tag << 8) | u32::from(b);
                i += 1;
                if b & 0x80 == 0 {
                    break;
                }
                if i - start >= 3 {
                    return Err(TlvError::LongTag(start));
                }
            }
        }
        let l0 = *bytes.get(i).ok_or(TlvError::Truncated(i))?;
        i += 1;
        let len = match l0 {
            0x00..=0x7F => usize::from(l0),
            0x81..=0x83 => {
                let n = usize::from(l0 - 0x80);
                let raw = bytes.get(i..i + n).ok_or(TlvError::Truncated(i))?;
                i += n;
                raw.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
            }
            other => return Err(TlvError::LengthForm(other)),
        };
        if len > MAX_VALUE_LEN {
            return Err(TlvError::TooLong(len));
        }
        let value = bytes.get(i..i + len).ok_or(TlvError::Truncated(i))?;
        i += len;
        each((tag, value, start));
    }
    Ok(())
}

/// Parses every constructed value recursively, to check a whole structure.
pub fn validate_nested(bytes: &[u8], depth: usize) -> Result<usize, TlvError> {
    if depth > MAX_DEPTH {
        return Err(TlvError::TooDeep);
    }
    let mut count = 0;
    for (tag, value) in parse(bytes)? {
        count += 1;
        if is_constructed(tag) {
            count += validate_nested(value, depth + 1)?;
        }
    }
    Ok(count)
}

/// Builds a TLV byte string.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    /// Appends a primitive or pre-encoded constructed value.
    pub fn bytes(&mut self, tag: u32, value: &[u8]) -> &mut Self {
        self.tag(tag);
        let (len, n) = length_of(value.len());
        self.buf.extend_from_slice(&len[..n]);
        self.buf.extend_from_slice(value);
        self
    }

    fn tag(&mut self, tag: u32) {
        let tag_bytes = tag.to_be_bytes();
        let skip = tag_bytes.iter().take(3).take_while(|b| **b == 0).count();
        self.buf.extend_from_slice(&tag_bytes[skip..]);
    }

    /// Appends UTF-8 text.
    pub fn str(&mut self, tag: u32, value: &str) -> &mut Self {
        self.bytes(tag, value.as_bytes())
    }

    /// Appends a big-endian u32.
    pub fn u32(&mut self, tag: u32, value: u32) -> &mut Self {
        self.bytes(tag, &value.to_be_bytes())
    }

    /// Appends one byte.
    pub fn u8(&mut self, tag: u32, value: u8) -> &mut Self {
        self.bytes(tag, &[value])
    }

    /// Appends a constructed value built by `f`.
    /// `f` writes the value in place, after room for a one-byte length; a longer length
    /// moves the value along once it is known (a log's thousands of records are short).
    pub fn nested(&mut self, tag: u32, f: impl FnOnce(&mut Writer)) -> &mut Self {
        self.tag(tag);
        let at = self.buf.len();
        self.buf.push(0);
        f(self);
        let (len, n) = length_of(self.buf.len() - at - 1);
        self.buf[at] = len[0];
        if n > 1 {
            self.buf.splice(at + 1..at + 1, len[1..n].iter().copied());
        }
        self
    }

    /// The encoded bytes.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

/// The BER length of a value of `len` bytes, as its first `n` bytes.
fn length_of(len: usize) -> ([u8; 4], usize) {
    match len {
        0..=0x7F => ([len as u8, 0, 0, 0], 1),
        0x80..=0xFF => ([0x81, len as u8, 0, 0], 2),
        0x100..=0xFFFF => ([0x82, (len >> 8) as u8, len as u8, 0], 3),
        _ => ([0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8], 4),
    }
}

/// One parsed level with typed getters. Later duplicates of a tag are ignored.
#[derive(Debug, Clone, Default)]
pub struct Fields<'a> {
    items: Vec<(u32, &'a [u8])>,
}

impl<'a> Fields<'a> {
    /// Parses one level.
    pub fn parse(bytes: &'a [u8]) -> Result<Fields<'a>, TlvError> {
        Ok(Fields { items: parse(bytes)? })
    }

    /// Parses one level in place of the last, in the same room: a log's thousands of
    /// records are parsed one after the other through one `Fields`.
    pub fn reparse(&mut self, bytes: &'a [u8]) -> Result<(), TlvError> {
        self.items.clear();
        each_item(bytes, |(t, v, _)| self.items.push((t, v)))
    }

    /// The raw value of `tag`, if present.
    pub fn get(&self, tag: u32) -> Option<&'a [u8]> {
        self.items.iter().find(|(t, _)| *t == tag).map(|(_, v)| *v)
    }

    /// Every value of `tag`, in order (lists of records).
    pub fn all(&self, tag: u32) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.items.iter().filter(move |(t, _)| *t == tag).map(|(_, v)| *v)
    }

    /// The value of `tag`, or an error naming it.
    pub fn need(&self, tag: u32) -> Result<&'a [u8], TlvError> {
        self.get(tag).ok_or(TlvError::Missing(tag))
    }

    /// `tag` as UTF-8 text.
    pub fn text(&self, tag: u32) -> Result<Option<&'a str>, TlvError> {
        self.get(tag)
            .map(|v| std::str::from_utf8(v).map_err(|_| TlvError::Bad { tag, what: "not UTF-8" }))
            .transpose()
    }

    /// `tag` as required UTF-8 text.
    pub fn need_text(&self, tag: u32) -> Result<&'a str, TlvError> {
        self.text(tag)?.ok_or(TlvError::Missing(tag))
    }

    /// `tag` as a required big-endian u32.
    pub fn need_u32(&self, tag: u32) -> Result<u32, TlvError> {
        let v = self.need(tag)?;
        let arr: [u8; 4] = v.try_into().map_err(|_| TlvError::Bad {
            tag,
            what: "not 4 bytes",
        })?;
        Ok(u32::from_be_bytes(arr))
    }

    /// `tag` as a required single byte.
    pub fn need_u8(&self, tag: u32) -> Result<u8, TlvError> {
        match self.need(tag)? {
            [b] => Ok(*b),
            _ => Err(TlvError::Bad {
                tag,
                what: "not 1 byte",
            }),
        }
    }

    /// `tag` as a required fixed-size array.
    pub fn need_array<const N: usize>(&self, tag: u32) -> Result<[u8; N], TlvError> {
        self.need(tag)?.try_into().map_err(|_| TlvError::Bad {
            tag,
            what: "wrong length",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emv_and_private_tags_round_trip() {
        let bytes = Writer::new()
            .str(0x9F1C, "AB12CD34")
            .str(0x9F16, "822100000000001")
            .u32(0xDF51, 0x0102_0304)
            .nested(0xE1, |w| {
                w.u8(0x9C, 0);
            })
            .bytes(0xDF53, &[7; 300])
            .finish();
        assert_eq!(&bytes[..3], &[0x9F, 0x1C, 8]);
        let f = Fields::parse(&bytes).unwrap();
        assert_eq!(f.need_text(0x9F1C).unwrap(), "AB12CD34");
        assert_eq!(f.need_u32(0xDF51).unwrap(), 0x0102_0304);
        assert_eq!(f.need(0xDF53).unwrap().len(), 300);
        assert!(is_constructed(0xE1) && !is_constructed(0x9F1C));
        assert_eq!(validate_nested(&bytes, 0).unwrap(), 6);
        assert_eq!(f.need(0xDF99), Err(TlvError::Missing(0xDF99)));
    }

    #[test]
    fn a_nested_value_is_written_as_its_bytes_would_be_at_every_length_form() {
        for len in [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x1_0000] {
            let value: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut nested = Writer::new();
            nested.u8(0x9C, 1).nested(0xE1, |w| {
                w.bytes(0xDF53, &value);
            });
            let inner = Writer::new().bytes(0xDF53, &value).finish();
            let expected = Writer::new().u8(0x9C, 1).bytes(0xE1, &inner).finish();
            assert_eq!(nested.finish(), expected, "a value of {len} bytes");
        }
    }

    #[test]
    fn malformed_inputs_are_errors() {
        assert_eq!(parse(&[0x9F]), Err(TlvError::Truncated(1)));
        assert_eq!(parse(&[0x5A, 0x05, 1, 2]), Err(TlvError::Truncated(2)));
        assert_eq!(parse(&[0x5A, 0x80]), Err(TlvError::LengthForm(0x80)));
        assert_eq!(parse(&[0x9F, 0x81, 0x81, 0x01, 0x00]), Err(TlvError::LongTag(0)));
        let mut deep = vec![0x01, 0x00];
        for _ in 0..12 {
            let mut outer = vec![0xE1, deep.len() as u8];
            outer.extend(deep);
            deep = outer;
        }
        assert_eq!(validate_nested(&deep, 0), Err(TlvError::TooDeep));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = validate_nested(&bytes, 0);
        }

        #[test]
        fn writer_output_parses_back(items in proptest::collection::vec(
            (prop_oneof![Just(0x5Au32), Just(0x9F1Cu32), Just(0xDF51u32), Just(0xDF7Fu32)], proptest::collection::vec(any::<u8>(), 0..300)), 0..8)
        ) {
            let mut w = Writer::new();
            for (t, v) in &items { w.bytes(*t, v); }
            let bytes = w.finish();
            let parsed: Vec<(u32, Vec<u8>)> = parse(&bytes).unwrap().into_iter().map(|(t, v)| (t, v.to_vec())).collect();
            prop_assert_eq!(parsed, items);
        }
    }
}
