//! Parallel migrations: `posagent run` migrating 16 terminals to 16 replacements at once at
//! 115200 baud, against the same run with one terminal. Targets: wall time of the 16 at most
//! 1.25 × the one alone (the work is the lines', the agent must not serialise it), and the
//! agent's peak memory (max RSS) under 100 MB.
//!
//! Run: `cargo bench --bench parallel` (`PARALLEL_TERMINALS`, `PARALLEL_RECORDS` change the
//! sizes).

#[path = "../../tests/common/mod.rs"]
mod e2e;

use std::time::Instant;

use e2e::Sim;
use e2e::jobs::{Bench, migrate_fields};

const BAUD: &str = "115200";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs a plan migrating `n` terminals; wall seconds, the agent's max RSS in MB and its CPU
/// seconds (user and system).
fn migrate_in_parallel(n: usize, records: usize) -> (f64, f64, f64) {
    let bench = Bench::default();
    let mut sims = Vec::new();
    let mut plan = String::new();
    for i in 0..n {
        let (old_serial, new_serial) = (format!("PAR-OLD-{i:03}"), format!("PAR-NEW-{i:03}"));
        let seed = (500 + i).to_string();
        let records = records.to_string();
        let old = Sim::start(
            bench.path(),
            &format!("old{i}"),
            &[
                "--baud",
                BAUD,
                "--profile",
                "generic",
                "--transactions",
                &records,
                "--serial",
                &old_serial,
                "--seed",
                &seed,
            ],
        );
        let new = Sim::start(
            bench.path(),
            &format!("new{i}"),
            &[
                "--baud",
                BAUD,
                "--profile",
                "generic",
                "--blank",
                "--serial",
                &new_serial,
            ],
        );
        // A plan is local orders: the generic profile's terminals take them.
        let model = e2e::connect(&new).identify().unwrap().model;
        plan.push_str("[[order]]\n");
        for (k, v) in migrate_fields(&old, &new_serial, &model, &format!("WO-PAR-{i:03}"), "generic") {
            plan.push_str(&format!("{k} = \"{v}\"\n"));
        }
        sims.push(old);
        sims.push(new);
    }
    let plan_file = bench.path().join("plan.toml");
    std::fs::write(&plan_file, plan).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_posagent"));
    cmd.env("POSAGENT_HOME", bench.path())
        .args([
            "run",
            plan_file.to_str().unwrap(),
            "--jobs",
            &n.to_string(),
            "--yes",
            "--json",
        ])
        .arg("--secret-file")
        .arg(&bench.secret)
        .arg("--password-file")
        .arg(&bench.password)
        .stdout(std::process::Stdio::null());
    for s in &sims {
        cmd.arg("--port").arg(&s.port);
    }
    let start = Instant::now();
    #[expect(
        clippy::zombie_processes,
        reason = "reaped below with wait4, which also gives its rusage"
    )]
    let child = cmd.spawn().unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = start.elapsed().as_secs_f64();
    assert_eq!(pid, child.id() as i32);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "run failed: {status}"
    );
    let jobs = bench.store().jobs().unwrap();
    assert_eq!(jobs.iter().filter(|j| j.state.as_str() == "done").count(), n);
    let cpu = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        wall,
        usage.ru_maxrss as f64 / 1024.0,
        cpu(usage.ru_utime) + cpu(usage.ru_stime),
    )
}

fn main() {
    let n = env_or("PARALLEL_TERMINALS", 16);
    let records = env_or("PARALLEL_RECORDS", 2000);
    let (one, one_rss, one_cpu) = migrate_in_parallel(1, records);
    let (many, many_rss, many_cpu) = migrate_in_parallel(n, records);
    println!("| terminals | records each | wall time (s) | ratio to one | agent max RSS (MB) | agent CPU (s) |");
    println!("|---|---|---|---|---|---|");
    println!("| 1 | {records} | {one:.2} | 1.00 | {one_rss:.1} | {one_cpu:.2} |");
    println!(
        "| {n} | {records} | {many:.2} | **{:.3}** | {many_rss:.1} | {many_cpu:.2} |",
        many / one
    );
}
