//! Any bytes as an archive's `manifest.json` or `binding.json` (what a restore reads back
//! from a backup, after its password opened it): reading reports errors, never panics, and
//! a binding read back is one the terminal model accepts or is refused with a reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posagent::backup::{Manifest, StoredBinding};

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<Manifest>(data);
    if let Ok(b) = serde_json::from_slice::<StoredBinding>(data)
        && let Ok(binding) = b.to_binding()
    {
        // What reads back writes out and reads back the same.
        let again = posagent::terminal::model::Binding::decode(&binding.encode()).unwrap();
        assert_eq!(again, binding);
    }
});
