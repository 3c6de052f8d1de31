//! Any text as `config.toml` or as a profile override: reading reports errors naming what
//! is wrong, never panics; an override that reads is checked against the built-in profile
//! of its name (loosening refused).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use posagent::config::Config;
use posagent::profile::{Profile, ProfileSet};

static BUILTIN: OnceLock<ProfileSet> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = toml::from_str::<Config>(text);
    let builtin = BUILTIN.get_or_init(|| ProfileSet::builtin().expect("built-in profiles"));
    for name in ["lakala", "generic"] {
        if let Ok(p) = Profile::parse(text, "override.toml", name) {
            let _ = p.loosens(builtin.get(name).unwrap());
        }
    }
});
