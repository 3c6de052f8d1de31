//! Migration speed: `posagent migrate` of a terminal with 10,000 transactions to a blank
//! replacement, both at 115200 baud, once with terminals that send objects as they are
//! (`--plain`) and once with terminals that deflate them (agreed in HELLO). Wall time of the
//! whole job is set against the line-rate time of the payload bytes moved (the link's
//! efficiency), and against one pass of the uncompressed log at line rate (the procedure's).
//!
//! Run: `cargo bench --bench migrate` (`MIGRATE_RECORDS` changes the log size).

mod common;
#[path = "../../tests/common/mod.rs"]
mod e2e;

use posagent::link::proto::Object;
use posagent::profile::ProfileSet;
use posagent::sim::terminal::activation_code_for;
use posagent::terminal::{Secret, Terminal};

const BAUD: u32 = 115_200;

fn main() {
    let records: u32 = std::env::var("MIGRATE_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    println!(
        "| transactions | objects | payload bytes moved | line-rate time (s) | wall time (s) | ratio | wall time / one pass of the log |"
    );
    println!("|---|---|---|---|---|---|---|");
    for plain in [true, false] {
        migrate(records, plain);
    }
}

/// One migration; prints its row.
fn migrate(records: u32, plain: bool) {
    let dir = tempfile::tempdir().unwrap();
    let baud = BAUD.to_string();
    let encoding: &[&str] = if plain { &["--plain"] } else { &[] };
    let old = common::start_sim(
        dir.path(),
        "old",
        &[
            &[
                "--baud",
                &baud,
                "--transactions",
                &records.to_string(),
                "--profile",
                "lakala",
            ][..],
            encoding,
        ]
        .concat(),
    );
    let new = common::start_sim(
        dir.path(),
        "new",
        &[
            &[
                "--baud",
                &baud,
                "--blank",
                "--serial",
                "NEW-BENCH",
                "--profile",
                "lakala",
            ][..],
            encoding,
        ]
        .concat(),
    );
    let (secret, password) = common::secrets(dir.path());
    e2e::jobs::accept_local_orders(dir.path());
    let settings = ProfileSet::builtin().unwrap().get("lakala").unwrap().serial.clone();
    let mut t = Terminal::open(&old.port, &settings).unwrap();
    t.authenticate(&Secret::new(b"posagent-demo-secret".to_vec())).unwrap();
    let b = t.read_binding().unwrap();
    let serial = t.identify().unwrap().serial;
    // The log as it is, for "one pass": its length at line rate.
    let log_len = t.digest(Object::TransactionLog).unwrap().expect("DIGEST").len;
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
    let one_pass = f64::from(log_len) / (f64::from(BAUD) / 10.0);
    println!(
        "| {records} | {} | {payload} | {line_time:.2} | {wall:.2} | {:.4} | {:.2} |",
        if plain { "as they are" } else { "deflated" },
        wall / line_time,
        wall / one_pass
    );
}
