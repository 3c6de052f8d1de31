//! Backup speed: `posagent backup` of a terminal with 10,000 transactions at 115200 baud,
//! wall time of the whole command against the line-rate time of the payload it moved
//! (payload bytes / (baud / 10)). Target: at most 1.10.
//!
//! Run: `cargo bench --bench backup` (`BACKUP_RECORDS` changes the log size).

mod common;

const BAUD: u32 = 115_200;

fn main() {
    let records: u32 = std::env::var("BACKUP_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let sim = common::start_sim(
        dir.path(),
        "tty",
        &["--baud", &BAUD.to_string(), "--transactions", &records.to_string()],
    );
    let (doc, wall) = common::timed_backup(dir.path(), &sim.port, "b");
    let (payload, line_time) = common::line_time(&doc, BAUD);
    println!("| transactions | payload bytes | line-rate time (s) | wall time (s) | ratio | archive bytes |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {records} | {payload} | {line_time:.2} | {wall:.2} | {:.4} | {} |",
        wall / line_time,
        doc["size"]
    );
}
