//! Any payload: the TLV parser and every decoder built on it return errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posagent::link::tlv;
use posagent::terminal::model::{Binding, Identity, decode_log, decode_params};

fuzz_target!(|data: &[u8]| {
    let _ = tlv::validate_nested(data, 0);
    let _ = Binding::decode(data);
    let _ = Identity::decode(data);
    let _ = decode_log(data);
    let _ = decode_params(data);
});
