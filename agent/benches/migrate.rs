//! Migration speed: `posagent migrate` of a terminal with 10,000 transactions to a blank
//! replacement, both at 115200 baud, and of one with 1,000 at 9600 baud; each copied one
//! transfer after another (`--copy sequential`, the first release's procedure) and in one
//! pass (`--copy one-pass`, the default), with terminals that send objects as they are
//! (`--plain`) and with terminals that deflate them (agreed in HELLO). The wall time of the
//! whole job is set against one pass of the uncompressed log at line rate.
//!
//! Run: `cargo bench --bench migrate` (about 15 minutes; `MIGRATE_RECORDS` changes the
//! 115200 log, the 9600 one has a tenth of it).

mod common;
#[path = "../../tests/common/mod.rs"]
mod e2e;

use posagent::link::proto::Object;
use posagent::profile::ProfileSet;
use posagent::sim::terminal::activation_code_for;
use posagent::terminal::{Secret, Terminal};

fn main() {
    let records: u32 = std::env::var("MIGRATE_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    println!(
        "| transactions | baud | copy | objects | payload bytes moved (both lines) | wall time (s) | one pass of the log (s) | wall time / one pass |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (records, baud) in [(records, 115_200), (records / 10, 9_600)] {
        for copy in ["sequential", "one-pass"] {
            for plain in [true, false] {
                migrate(records, baud, copy, plain);
            }
        }
    }
}

/// One migration; prints its row.
fn migrate(records: u32, baud_rate: u32, copy: &str, plain: bool) {
    let dir = tempfile::tempdir().unwrap();
    let baud = baud_rate.to_string();
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
                "generic",
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
                "generic",
            ][..],
            encoding,
        ]
        .concat(),
    );
    let (secret, password) = common::secrets(dir.path());
    // The profile says the line's baud, as it would for a terminal of that speed (the
    // generic profile's terminals take the local order below).
    let profiles = dir.path().join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    let generic = ProfileSet::builtin().unwrap();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../profiles/generic.toml")).unwrap();
    std::fs::write(
        profiles.join("generic.toml"),
        text.replace("baud = 115200", &format!("baud = {baud_rate}")),
    )
    .unwrap();
    let mut settings = generic.get("generic").unwrap().serial.clone();
    settings.baud = baud_rate;
    let mut t = Terminal::open(&old.port, &settings).unwrap();
    t.authenticate(&Secret::new(b"posagent-demo-secret".to_vec())).unwrap();
    let b = t.read_binding().unwrap();
    let serial = t.identify().unwrap().serial;
    // The log as it is, for "one pass": its length at line rate.
    let log_len = t.digest(Object::TransactionLog).unwrap().expect("DIGEST").len;
    drop(t);
    let model = Terminal::open(&new.port, &settings).unwrap().identify().unwrap().model;
    let order = dir.path().join("order.toml");
    std::fs::write(
        &order,
        format!(
            "id = \"BENCH-1\"\noperation = \"migrate\"\nprofile = \"generic\"\nreason = \"device-replaced\"\n\
             merchant.mid = \"{}\"\nmerchant.name = \"Bench\"\nmerchant.kind = \"individual\"\nmerchant.legal_rep_id = \"110105194910010023\"\n\
             expect.serial = \"{serial}\"\nexpect.tid = \"{}\"\n\
             replacement.serial = \"NEW-BENCH\"\nreplacement.model = \"{model}\"\nreplacement.activation_code = \"{}\"\n",
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
            "--copy",
            copy,
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
    let (payload, _) = common::line_time(&doc, baud_rate);
    let one_pass = f64::from(log_len) / (f64::from(baud_rate) / 10.0);
    println!(
        "| {records} | {baud_rate} | {copy} | {} | {payload} | {wall:.2} | {one_pass:.2} | **{:.2}** |",
        if plain { "as they are" } else { "deflated" },
        wall / one_pass
    );
}
