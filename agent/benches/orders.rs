//! Checking the largest order files taken: a CSV plan of 10,000 rows of 10 cells and a TOML
//! order with 10,000 unknown keys (100,000 fields in all, the most one file may hold),
//! each through the real binary (`posagent order check`). Every value's line is found from
//! a mark every 4 KiB, so the time grows with the file, not with its square. Target: under
//! 10 s each on the 2-core build machine.
//!
//! Run: `cargo bench --bench orders` (`ORDERS_ROWS` changes the size).

use std::io::Write;
use std::time::Instant;

fn check(path: &std::path::Path, home: &std::path::Path) -> (f64, Option<i32>) {
    let start = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_posagent"))
        .args(["order", "check", "--json"])
        .arg(path)
        .env("POSAGENT_HOME", home)
        .output()
        .expect("run posagent");
    (start.elapsed().as_secs_f64(), out.status.code())
}

fn main() {
    let rows: usize = std::env::var("ORDERS_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    // A resident ID with its real check character, for every row.
    let body = "11010519491001002";
    let id = format!("{body}{}", posagent::domain::resident_id_check_char(body.as_bytes()));

    let plan = dir.path().join("plan.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&plan).unwrap());
    writeln!(
        f,
        "id,operation,profile,merchant.mid,merchant.name,merchant.kind,merchant.legal_rep_id,expect.serial,expect.tid,reason"
    )
    .unwrap();
    for i in 0..rows {
        writeln!(
            f,
            "U{i},unbind,ums,8221{i:011},Shop {i},individual,{id},SN-{i:08},T{:07},device-replaced",
            i % 10_000_000
        )
        .unwrap();
    }
    drop(f);

    let keys = dir.path().join("keys.toml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&keys).unwrap());
    writeln!(f, "id = \"WO-KEYS\"\noperation = \"unbind\"\nprofile = \"ums\"").unwrap();
    for i in 0..rows {
        writeln!(f, "unknown_{i} = \"x\"").unwrap();
    }
    drop(f);

    println!("| file | size | seconds | exit |");
    println!("|---|---|---|---|");
    for (name, path) in [
        ("CSV plan, one order per row", &plan),
        ("one order, unknown keys", &keys),
    ] {
        let size = std::fs::metadata(path).unwrap().len();
        let (secs, code) = check(path, dir.path());
        println!(
            "| {name}: {rows} | {:.1} MiB | {secs:.2} | {code:?} |",
            size as f64 / (1 << 20) as f64
        );
    }
}
