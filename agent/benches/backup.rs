//! Backup speed: `posagent backup` of a terminal with 10,000 transactions at 115200 baud,
//! wall time of the whole command against the line-rate time of the payload it moved
//! (payload bytes / (baud / 10)). Target: at most 1.10.
//!
//! Run: `cargo bench --bench backup` (`BACKUP_RECORDS` changes the log size).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

const BAUD: u32 = 115_200;

fn main() {
    let records: u32 = std::env::var("BACKUP_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("tty");
    let mut sim = Command::new(env!("CARGO_BIN_EXE_posagent"))
        .args(["sim", "terminal", "--pty", "--link"])
        .arg(&link)
        .args(["--baud", &BAUD.to_string(), "--transactions", &records.to_string()])
        .env("POSAGENT_HOME", dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(sim.stdout.take().unwrap()).read_line(&mut line).unwrap();
    std::fs::write(dir.path().join("secret"), "posagent-demo-secret").unwrap();
    std::fs::write(dir.path().join("password"), "bench-password-1").unwrap();
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_posagent"))
        .args(["backup", "--json", "--port"])
        .arg(&link)
        .arg("--out")
        .arg(dir.path().join("b.zip"))
        .arg("--secret-file")
        .arg(dir.path().join("secret"))
        .arg("--password-file")
        .arg(dir.path().join("password"))
        .env("POSAGENT_HOME", dir.path())
        .output()
        .unwrap();
    let wall = start.elapsed().as_secs_f64();
    let _ = sim.kill();
    let _ = sim.wait();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let payload = doc["link"]["payload_bytes"].as_u64().unwrap();
    let line_time = payload as f64 / (f64::from(BAUD) / 10.0);
    println!("| transactions | payload bytes | line-rate time (s) | wall time (s) | ratio | archive bytes |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {records} | {payload} | {line_time:.2} | {wall:.2} | {:.4} | {} |",
        wall / line_time,
        doc["size"]
    );
}
