//! Encoding and decoding a transaction log: what a terminal does to every export and to
//! every digest of its log, and what the agent does to every log it backs up (a depot of
//! 64 does it for 64 logs at once, on the same cores).
//!
//! Run: `cargo bench --bench records` (`RECORDS=N` changes the log, 2,000 records unless
//! told; `RECORDS_ROUNDS=K` the rounds, 300 unless told). Prints the mean time of one
//! encode and one decode of the whole log, and of one decode that writes each record as
//! the JSON line a backup holds, three times.

use posagent::terminal::model;
use posagent::testkit::terminal::{Seed, TerminalState};

fn env_or(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let records = env_or("RECORDS", 2000);
    let rounds = env_or("RECORDS_ROUNDS", 300).max(1);
    let unit = TerminalState::generate(&Seed {
        profile: "generic",
        seed: 500,
        transactions: records,
        blank: false,
        serial: None,
        account: false,
        settlement_since: None,
    });
    let log = model::encode_log(&unit.transactions);
    println!("| records | log bytes | encode (ms) | decode (ms) | decode to JSON lines (ms) |");
    println!("|---|---|---|---|---|");
    for _ in 0..3 {
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            assert_eq!(model::encode_log(&unit.transactions).len(), log.len());
        }
        let encode = start.elapsed().as_secs_f64() / f64::from(rounds);
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            let n = model::for_each_record(&log, |_| Ok::<_, model::ModelError>(())).expect("the log decodes");
            assert_eq!(n, records);
        }
        let decode = start.elapsed().as_secs_f64() / f64::from(rounds);
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            let mut lines = std::io::sink();
            let n = model::for_each_record(&log, |r| {
                serde_json::to_writer(&mut lines, &r)?;
                std::io::Write::write_all(&mut lines, b"\n")
            })
            .expect("the log decodes");
            assert_eq!(n, records);
        }
        let json = start.elapsed().as_secs_f64() / f64::from(rounds);
        println!(
            "| {records} | {} | {:.3} | {:.3} | {:.3} |",
            log.len(),
            encode * 1e3,
            decode * 1e3,
            json * 1e3
        );
    }
}
