//! Parallel migrations: `posagent run` migrating N terminals (16 unless told) to N
//! replacements at once at 115200 baud, against the same run with one terminal. Targets
//! for a depot of 64: wall time at most 1.10 × the one alone (the work is the lines', the
//! agent must not serialise it), and the agent's peak memory (max RSS) at most 64 MB.
//!
//! Run: `cargo bench --bench parallel` (`PARALLEL_TERMINALS`, `PARALLEL_RECORDS` change the
//! sizes; `PARALLEL_RUNS=K` measures the pair K times and gives the median ratio;
//! `PARALLEL_LOG=FILE` keeps the last run's log as `FILE.N`, for its step times;
//! `PARALLEL_PAUSE=S` waits S seconds before each run: on ext4 without a journal, as on
//! the machine docs/performance.md was measured on, the file system avoids reusing inodes
//! freed in the last one to five minutes and searches past them, so each run's thousands of
//! files slow the next run's file creation).

#[path = "../../tests/common/mod.rs"]
mod e2e;

use std::time::Instant;

use e2e::Sim;
use e2e::jobs::{Bench, migrate_fields};

const BAUD: &str = "115200";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// CPU seconds (user and system) process `pid` has used so far, from /proc.
fn cpu_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let ticks: f64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<f64>().ok())
        .sum();
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// What one run measured.
struct Measured {
    wall: f64,
    /// The agent's max RSS, MB.
    rss: f64,
    /// CPU seconds (user and system): the agent's, and all the simulators' during the run.
    cpu: f64,
    sims_cpu: f64,
}

/// Runs a plan migrating `n` terminals.
fn migrate_in_parallel(n: usize, records: usize) -> Measured {
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
    let sims_cpu = |sims: &[Sim]| sims.iter().map(|s| cpu_of(s.pid())).sum::<f64>();
    let sims_before = sims_cpu(&sims);
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
    let sims_cpu = sims_cpu(&sims) - sims_before;
    assert_eq!(pid, child.id() as i32);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "run failed: {status}"
    );
    if let Ok(keep) = std::env::var("PARALLEL_LOG") {
        // The job log's step times, for a timeline of the run.
        let log = bench.path().join("logs").join("posagent.log");
        std::fs::copy(log, format!("{keep}.{n}")).unwrap();
    }
    let jobs = bench.store().jobs().unwrap();
    assert_eq!(jobs.iter().filter(|j| j.state.as_str() == "done").count(), n);
    let cpu = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Measured {
        wall,
        rss: usage.ru_maxrss as f64 / 1024.0,
        cpu: cpu(usage.ru_utime) + cpu(usage.ru_stime),
        sims_cpu,
    }
}

fn main() {
    let n = env_or("PARALLEL_TERMINALS", 16);
    let records = env_or("PARALLEL_RECORDS", 2000);
    let runs = env_or("PARALLEL_RUNS", 1).max(1);
    let pause = std::time::Duration::from_secs(env_or("PARALLEL_PAUSE", 0) as u64);
    println!(
        "| terminals | records each | wall time (s) | ratio to one | agent max RSS (MB) | agent CPU (s) | simulators' CPU (s) |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut ratios = Vec::with_capacity(runs);
    for _ in 0..runs {
        // One alone and then the many, each pair measured together: the machine's load
        // drifts over minutes.
        std::thread::sleep(pause);
        let one = migrate_in_parallel(1, records);
        std::thread::sleep(pause);
        let many = migrate_in_parallel(n, records);
        for (count, m) in [(1, &one), (n, &many)] {
            println!(
                "| {count} | {records} | {:.2} | **{:.3}** | {:.1} | {:.2} | {:.2} |",
                m.wall,
                m.wall / one.wall,
                m.rss,
                m.cpu,
                m.sims_cpu
            );
        }
        ratios.push(many.wall / one.wall);
    }
    if runs > 1 {
        ratios.sort_by(f64::total_cmp);
        println!(
            "ratio of {n} to one over {runs} runs: median {:.3}, {:.3}–{:.3}",
            ratios[runs / 2],
            ratios[0],
            ratios[runs - 1]
        );
    }
}
