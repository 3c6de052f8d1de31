//! Any bytes as the terminal's answer to HELLO, EXPORT_BEGIN or DIGEST: read into checked
//! values or refused, never a panic; what HELLO agrees stays within what the agent offered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posagent::link::proto;
use posagent::terminal::{Announced, StoredDigest, Terms};

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Terms::from_hello(data) {
        assert!((64..=usize::from(proto::DEFAULT_MAX_PAYLOAD)).contains(&t.max_payload));
        assert!((1..=usize::from(proto::DEFAULT_WINDOW)).contains(&t.window));
        if let Some(b) = t.block {
            assert_eq!(b, usize::from(proto::BLOCK_SIZE));
            assert!(b <= t.max_payload - proto::DATA_OFFSET_LEN);
        }
    }
    if let Ok(a) = Announced::decode(data) {
        let _ = a.stream_len();
    }
    let _ = StoredDigest::decode(data);
});
