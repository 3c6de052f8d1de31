//! Any bytes as a deflated bulk object, with any announced length: decoding reports
//! errors, never panics, and never yields other than exactly the announced length (so a
//! small stream cannot inflate past what the terminal announced).
#![no_main]

use libfuzzer_sys::fuzz_target;
use posagent::link::encoding;

fuzz_target!(|data: &[u8]| {
    let Some((len, encoded)) = data.split_first_chunk::<2>() else { return };
    let len = usize::from(u16::from_be_bytes(*len)) * 8;
    if let Ok(out) = encoding::decode(encoding::DEFLATE, encoded, len) {
        assert_eq!(out.len(), len);
    }
    // What deflates comes back as it was.
    let round = encoding::decode(encoding::DEFLATE, &encoding::deflate(encoded), encoded.len()).unwrap();
    assert_eq!(round, encoded);
});
