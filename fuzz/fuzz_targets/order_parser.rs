//! Any text as a TOML or CSV order: reading and validating report errors, never panic. The
//! profiles are built once per process, so this runs at the speed of the order parser.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use posagent::order;
use posagent::profile::ProfileSet;

static PROFILES: OnceLock<ProfileSet> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let profiles = PROFILES.get_or_init(|| ProfileSet::builtin().expect("built-in profiles"));
    for parsed in [order::parse_toml(text, Path::new("f.toml")), order::parse_csv(text, Path::new("f.csv"))] {
        if let Ok(raws) = parsed {
            for raw in &raws {
                let _ = order::validate(raw, profiles);
            }
        }
    }
});
