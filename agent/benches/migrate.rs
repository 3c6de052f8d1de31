//! Migration speed: `posagent migrate` of a terminal with 10,000 transactions to a blank
//! replacement, both at 115200 baud. The job moves the log four times (backup, export,
//! import, verification read-back) plus parameters; wall time of the whole job is set
//! against the line-rate time of all payload bytes moved. Target: at most 1.15.
//!
//! Run: `cargo bench --bench migrate` (`MIGRATE_RECORDS` changes the log size).

mod common;

use posagent::profile::ProfileSet;
use posagent::sim::terminal::activation_code_for;
use posagent::terminal::{Secret, Terminal};

const BAUD: u32 = 115_200;

fn main() {
    let records: u32 = std::env::var("MIGRATE_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let baud = BAUD.to_string();
    let old = common::start_sim(
        dir.path(),
        "old",
        &[
            "--baud",
            &baud,
            "--transactions",
            &records.to_string(),
            "--profile",
            "lakala",
        ],
    );
    let new = common::start_sim(
        dir.path(),
        "new",
        &[
            "--baud",
            &baud,
            "--blank",
            "--serial",
            "NEW-BENCH",
            "--profile",
            "lakala",
        ],
    );
    let (secret, password) = common::secrets(dir.path());
    let settings = ProfileSet::builtin().unwrap().get("lakala").unwrap().serial.clone();
    let mut t = Terminal::open(&old.port, &settings).unwrap();
    t.authenticate(&Secret::new(b"posagent-demo-secret".to_vec())).unwrap();
    let b = t.read_binding().unwrap();
    let serial = t.identify().unwrap().serial;
    drop(t);
    let order = dir.path().join("order.toml");
    std::fs::write(
        &order,
        format!(
            "id = \"BENCH-1\"\noperation = \"migrate\"\nprofile = \"lakala\"\nreason = \"device-replaced\"\n\
             merchant.mid = \"{}\"\nmerchant.name = \"Bench\"\nmerchant.kind = \"individual\"\nmerchant.legal_rep_id = \"110105194910010023\"\n\
             expect.serial = \"{serial}\"\nexpect.tid = \"{}\"\n\
             replacement.serial = \"NEW-BENCH\"\nreplacement.model = \"A8\"\nreplacement.activation_code = \"{}\"\n",
            b.mid.unwrap(),
            b.tid.unwrap(),
            activation_code_for("NEW-BENCH")
        ),
    )
    .unwrap();
    let (doc, wall) = common::timed_json(
        dir.path(),
        &[
            "migrate",
            "--yes",
            "--from",
            old.port.to_str().unwrap(),
            "--to",
            new.port.to_str().unwrap(),
            "--order",
            order.to_str().unwrap(),
            "--secret-file",
            secret.to_str().unwrap(),
            "--password-file",
            password.to_str().unwrap(),
        ],
    );
    let (payload, line_time) = common::line_time(&doc, BAUD);
    println!("| transactions | payload bytes moved | line-rate time (s) | wall time (s) | ratio |");
    println!("|---|---|---|---|---|");
    println!(
        "| {records} | {payload} | {line_time:.2} | {wall:.2} | {:.4} |",
        wall / line_time
    );
}
