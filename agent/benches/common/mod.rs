//! Shared by the benchmarks: simulated terminals started from the real binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A simulated terminal process, killed when dropped.
pub struct SimProcess {
    _process: posagent::sim::harness::SimProcess,
    pub port: PathBuf,
}

/// Starts `posagent sim terminal --pty --link DIR/NAME ARGS…` and waits for its port.
pub fn start_sim(dir: &Path, name: &str, args: &[&str]) -> SimProcess {
    let port = dir.join(name);
    let link = port.display().to_string();
    let all: Vec<&str> = ["terminal", "--pty", "--link", &link]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    let exe = Path::new(env!("CARGO_BIN_EXE_posagent"));
    let process = posagent::sim::harness::SimProcess::start(exe, dir, &all, false).expect("start simulator");
    SimProcess {
        _process: process,
        port,
    }
}

/// Writes the demo operator secret and a backup password into `dir`.
pub fn secrets(dir: &Path) -> (PathBuf, PathBuf) {
    let (s, p) = (dir.join("secret"), dir.join("password"));
    std::fs::write(&s, "posagent-demo-secret").unwrap();
    std::fs::write(&p, "bench-password-1").unwrap();
    (s, p)
}

/// `posagent ARGS… --json` in `dir`; the parsed output, the wall time in seconds.
pub fn timed_json(dir: &Path, args: &[&str]) -> (serde_json::Value, f64) {
    let start = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_posagent"))
        .args(args)
        .arg("--json")
        .env("POSAGENT_HOME", dir)
        .output()
        .unwrap();
    let wall = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).unwrap(), wall)
}

/// Payload bytes a command moved (from its `--json` link statistics) and their line-rate
/// time in seconds at `baud`, 8N1.
pub fn line_time(doc: &serde_json::Value, baud: u32) -> (u64, f64) {
    let payload = doc["link"]["payload_bytes"].as_u64().expect("link statistics");
    (payload, payload as f64 / (f64::from(baud) / 10.0))
}

/// `posagent backup` of the terminal at `port` into `dir/NAME.zip`, with the secrets of
/// [`secrets`]; its `--json` document and the wall time in seconds.
pub fn timed_backup(dir: &Path, port: &Path, name: &str) -> (serde_json::Value, f64) {
    let (secret, password) = secrets(dir);
    let zip = dir.join(format!("{name}.zip"));
    timed_json(
        dir,
        &[
            "backup",
            "--port",
            port.to_str().unwrap(),
            "--out",
            zip.to_str().unwrap(),
            "--secret-file",
            secret.to_str().unwrap(),
            "--password-file",
            password.to_str().unwrap(),
        ],
    )
}
