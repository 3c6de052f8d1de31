//! Helpers shared by the end-to-end tests: the real binary in its own data directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The repository's test fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// The posagent binary, with its data directory set to `home`.
pub fn posagent(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("posagent").expect("posagent binary");
    cmd.env("POSAGENT_HOME", home)
        .env_remove("POSAGENT_SECRET")
        .env_remove("POSAGENT_BACKUP_PASSWORD");
    cmd
}

/// Runs `cmd` and parses its stdout as one JSON document.
pub fn json_of(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
