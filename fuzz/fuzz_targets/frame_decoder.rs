//! Any byte stream: the decoder never panics, and every frame it accepts re-encodes to
//! bytes that decode to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posagent::link::frame::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut d = Decoder::new();
    for b in data {
        if let Some(Ok(frame)) = d.push(*b) {
            let mut again = Decoder::new();
            let decoded: Vec<_> = frame.encode().into_iter().filter_map(|b| again.push(b)).collect();
            assert_eq!(decoded, vec![Ok(frame)]);
        }
    }
});
