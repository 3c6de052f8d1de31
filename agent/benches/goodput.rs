//! Link goodput: export a transaction log through the paced simulator and report payload
//! bytes per second as a fraction of the line rate (baud / 10 bytes/s, 8N1). In the same
//! run, the same bytes go through `sz`/`rz` (ZMODEM, Debian's lrzsz) over a relay that uses
//! the simulator's own pacing and fault code, for a side-by-side comparison.
//!
//! Run: `cargo bench --bench goodput` (set `GOODPUT_RECORDS` to change the log size,
//! `GOODPUT_QUICK=1` for the 115200-baud rows only, `GOODPUT_LINES=1` for a clean line against
//! lines the terminal misjudges, `GOODPUT_NOISY=1` for fixed chunks against frames sized to
//! the line on clean and noisy lines, `GOODPUT_PROOF=1` for the lines a technician meets,
//! each against its target, and ten deflated backups on a noisy line). Results go to stdout
//! as a Markdown table.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use posagent::link::port::Port;
use posagent::link::proto::Object;
use posagent::profile::ProfileSet;
use posagent::sim::DEMO_SECRET;
use posagent::sim::faults::FaultSpec;
use posagent::sim::line::{LinePort, open_pty};
use posagent::terminal::{Secret, Terminal};

mod common;

struct Row {
    protocol: &'static str,
    baud: u32,
    faults: String,
    bytes: usize,
    seconds: f64,
    retransmissions: Option<u64>,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.bytes as f64 / self.seconds / (f64::from(self.baud) / 10.0)
    }
}

/// Exports the log as it is (the terminal offers no encoding, so this measures the link);
/// returns the row and the exported bytes.
fn ours(dir: &Path, baud: u32, records: u32, faults: &str) -> (Row, Vec<u8>) {
    ours_on(dir, baud, records, faults, &["--plain"], 42)
}

/// [`ours`] over a line the terminal misjudges: `line` are the simulator's options for it
/// (`--baud` it believes, `--line-baud`, `--buffer`); `baud` is what the line really carries.
/// `seed` gives the log and where the line's faults fall.
fn ours_on(dir: &Path, baud: u32, records: u32, faults: &str, line: &[&str], seed: u64) -> (Row, Vec<u8>) {
    let name = format!(
        "tty-{baud}-{}-{}-{seed}",
        faults.replace(['=', ','], "_"),
        line.join("_")
    );
    let (baud_s, records_s, seed_s) = (baud.to_string(), records.to_string(), seed.to_string());
    let mut args = vec!["--transactions", records_s.as_str(), "--seed", seed_s.as_str()];
    // The line's own `--baud` is what the terminal believes instead of the real rate.
    if !line.contains(&"--baud") {
        args.extend(["--baud", baud_s.as_str()]);
    }
    if !faults.is_empty() {
        args.extend(["--faults", faults]);
    }
    args.extend_from_slice(line);
    let sim = common::start_sim(dir, &name, &args);
    let port = sim.port.clone();
    let mut settings = ProfileSet::builtin().unwrap().get("generic").unwrap().serial.clone();
    settings.baud = baud;
    let mut t = Terminal::open(&port, &settings).expect("open terminal");
    t.authenticate(&Secret::new(DEMO_SECRET.as_bytes().to_vec()))
        .expect("authenticate");
    let start = Instant::now();
    let exported = t.export(Object::TransactionLog, &mut |_, _| {}).expect("export");
    let seconds = start.elapsed().as_secs_f64();
    let stats = t.stats();
    let row = Row {
        protocol: "posagent",
        baud,
        faults: match line {
            ["--plain"] => faults.to_string(),
            [] => format!("{faults} deflate").trim().to_string(),
            _ => format!("{faults} {}", line.join(" ").replace("--plain", ""))
                .trim()
                .to_string(),
        },
        bytes: exported.data.len(),
        seconds,
        retransmissions: Some(stats.corrupt_frames),
    };
    (row, exported.data)
}

/// Copies bytes from one side of the relay to the other until told to stop.
fn pump(
    mut from: impl Port + 'static,
    mut to: impl Port + 'static,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            match from.read_timeout(&mut buf, Duration::from_millis(20)) {
                Ok(0) => {}
                Ok(n) => {
                    let _ = to.write_all(&buf[..n]);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    })
}

/// Sends `data` with `sz` to `rz` through a relay paced (and faulted) like the simulator.
fn zmodem(dir: &Path, baud: u32, faults: &str, data: &[u8]) -> Option<Row> {
    if Command::new("sz").arg("--version").output().is_err() {
        eprintln!("sz/rz not found (apt-get install lrzsz): ZMODEM rows skipped");
        return None;
    }
    let spec: FaultSpec = faults.parse().expect("fault spec");
    let src = dir.join("zmodem-src");
    let dst = dir.join("zmodem-dst");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&dst).unwrap();
    let file = src.join("transactions.bin");
    std::fs::write(&file, data).unwrap();
    // Sender side: a pty whose master is the paced, faulty line end.
    let (master_a, slave_a) = open_pty(None).unwrap();
    // Receiver side: a plain pty; the relay copies between the two masters.
    let (master_b, slave_b) = open_pty(None).unwrap();
    let paced = LinePort::new(master_a.try_clone().unwrap(), baud, spec, 42).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // LinePort paces both directions: reads from the sender, writes back to it.
    let (paced_reader, paced_writer) = split(paced);
    let t1 = pump(paced_reader, master_b.try_clone().unwrap(), stop.clone());
    let t2 = pump(master_b, paced_writer, stop.clone());
    let open = |p: &PathBuf| std::fs::OpenOptions::new().read(true).write(true).open(p).unwrap();
    let (ta, tb) = (open(&slave_a), open(&slave_b));
    let start = Instant::now();
    let mut rz = Command::new("rz")
        .args(["-b", "-y", "-q"])
        .current_dir(&dst)
        .stdin(tb.try_clone().unwrap())
        .stdout(tb)
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let sz = Command::new("sz")
        .args(["-b", "-q"])
        .arg(&file)
        .stdin(ta.try_clone().unwrap())
        .stdout(ta)
        .stderr(Stdio::null())
        .status();
    let seconds = start.elapsed().as_secs_f64();
    let _ = rz.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = t1.join();
    let _ = t2.join();
    drop(master_a);
    let received = std::fs::read(dst.join("transactions.bin")).unwrap_or_default();
    if !sz.is_ok_and(|s| s.success()) || received != data {
        eprintln!("ZMODEM at {baud} baud with '{faults}' did not complete intact");
        return None;
    }
    Some(Row {
        protocol: "ZMODEM (lrzsz)",
        baud,
        faults: faults.to_string(),
        bytes: data.len(),
        seconds,
        retransmissions: None,
    })
}

/// One LinePort used from two threads: a reader half and a writer half.
fn split(p: LinePort) -> (Half, Half) {
    let shared = std::sync::Arc::new(std::sync::Mutex::new(p));
    (
        Half {
            inner: shared.clone(),
            read: true,
        },
        Half {
            inner: shared,
            read: false,
        },
    )
}

struct Half {
    inner: std::sync::Arc<std::sync::Mutex<LinePort>>,
    read: bool,
}

impl Port for Half {
    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, posagent::link::port::PortError> {
        assert!(self.read);
        // Hold the lock only briefly so the writer half is not starved.
        let mut waited = Duration::ZERO;
        loop {
            let n = self.inner.lock().unwrap().read_timeout(buf, Duration::from_millis(1))?;
            if n > 0 || waited >= timeout {
                return Ok(n);
            }
            waited += Duration::from_millis(1);
        }
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), posagent::link::port::PortError> {
        assert!(!self.read);
        self.inner.lock().unwrap().write_all(data)
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let records: u32 = std::env::var("GOODPUT_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let quick = std::env::var_os("GOODPUT_QUICK").is_some();
    let dir = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    // Lines the terminal misjudges: it believes 8× the real rate, or the line buffers 16 KiB.
    let misjudged = |rows: &mut Vec<Row>| {
        let told_8x = ["--plain", "--baud", "921600", "--line-baud", "115200"];
        rows.push(ours_on(dir.path(), 115_200, records, "", &told_8x, 42).0);
        let buffered = ["--plain", "--buffer", "16384"];
        rows.push(ours_on(dir.path(), 115_200, records, "", &buffered, 42).0);
    };
    // The log deflated (agreed in HELLO): goodput counts the log's own bytes.
    let deflated = |rows: &mut Vec<Row>| rows.push(ours_on(dir.path(), 115_200, records, "", &[], 42).0);
    if std::env::var_os("GOODPUT_PROOF").is_some() {
        proof(dir.path(), records);
        return;
    }
    if std::env::var_os("GOODPUT_LINES").is_some() {
        rows.push(ours(dir.path(), 115_200, records, "").0);
        misjudged(&mut rows);
        deflated(&mut rows);
        print_rows(&rows);
        return;
    }
    // Noisy lines, fixed chunks (a first-release terminal, `--legacy`) against frames sized
    // to the line.
    if std::env::var_os("GOODPUT_NOISY").is_some() {
        for faults in ["", "bitflip=1e-5", "bitflip=1e-4"] {
            rows.push(ours_on(dir.path(), 115_200, records, faults, &["--legacy"], 42).0);
            rows.push(ours(dir.path(), 115_200, records, faults).0);
        }
        print_rows(&rows);
        return;
    }
    let (clean, data) = ours(dir.path(), 115_200, records, "");
    rows.push(clean);
    rows.extend(zmodem(dir.path(), 115_200, "", &data));
    for faults in ["bitflip=1e-5", "bitflip=1e-4"] {
        rows.push(ours(dir.path(), 115_200, records, faults).0);
        rows.extend(zmodem(dir.path(), 115_200, faults, &data));
    }
    if !quick {
        // At 9600 baud a 10,000-record log takes over 15 minutes; a tenth shows the same.
        rows.push(ours(dir.path(), 9_600, records / 10, "").0);
        rows.push(ours(dir.path(), 921_600, records, "").0);
        rows.push(ours(dir.path(), 921_600, records, "bitflip=1e-5").0);
        misjudged(&mut rows);
        deflated(&mut rows);
    }
    // ZMODEM (ZDLE) escapes these bytes by default, doubling them on the wire.
    let zmodem_escapes = data
        .iter()
        .filter(|b| matches!(**b & 0x7F, 0x10 | 0x11 | 0x13 | 0x18))
        .count();
    let ours_escapes = data.iter().filter(|b| matches!(**b, 0xC0 | 0xDB)).count();
    let pct = |n: usize| 100.0 * n as f64 / data.len() as f64;
    println!(
        "payload: {} bytes; ZMODEM escapes {} of them ({:.1} %), posagent {} ({:.2} %)\n",
        data.len(),
        zmodem_escapes,
        pct(zmodem_escapes),
        ours_escapes,
        pct(ours_escapes)
    );
    print_rows(&rows);
}

/// The median of `v` (sorted in place).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The lines a field technician meets, each against its target: a clean line, one flipped
/// bit per 100,000 and per 10,000 bytes (median of three runs with faults in other places),
/// a terminal that believes 8× its line; then ten whole deflated backups (`posagent backup`)
/// at 1e-4, where a fixed cost would show as a slow tail.
fn proof(dir: &Path, records: u32) {
    println!("| line | runs (goodput / line rate) | median | target |");
    println!("|---|---|---|---|");
    let told_8x = ["--plain", "--baud", "921600", "--line-baud", "115200"];
    let lines: [(&str, &str, &[&str], usize, f64); 4] = [
        ("clean", "", &["--plain"], 1, 0.99),
        ("bitflip=1e-5", "bitflip=1e-5", &["--plain"], 3, 0.97),
        ("bitflip=1e-4", "bitflip=1e-4", &["--plain"], 3, 0.92),
        ("told 8× its real rate", "", &told_8x, 1, 0.95),
    ];
    for (name, faults, line, runs, target) in lines {
        let mut each: Vec<f64> = (0..runs as u64)
            .map(|i| ours_on(dir, 115_200, records, faults, line, 42 + i).0.ratio())
            .collect();
        let shown: Vec<String> = each.iter().map(|g| format!("{g:.4}")).collect();
        let m = median(&mut each);
        println!("| {name} | {} | **{m:.4}** | ≥ {target} |", shown.join(", "));
    }
    let backup_records: u32 = std::env::var("GOODPUT_BACKUP_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let mut seconds = Vec::new();
    let mut wire = Vec::new();
    for seed in 1..=10u64 {
        let name = format!("backup-{seed}");
        let (records_s, seed_s) = (backup_records.to_string(), seed.to_string());
        let sim = common::start_sim(
            dir,
            &name,
            &[
                "--baud",
                "115200",
                "--transactions",
                &records_s,
                "--seed",
                &seed_s,
                "--faults",
                "bitflip=1e-4",
            ],
        );
        let (doc, wall) = common::timed_backup(dir, &sim.port, &name);
        seconds.push(wall);
        wire.push(doc["link"]["payload_bytes"].as_u64().unwrap_or(0));
    }
    let shown: Vec<String> = seconds.iter().map(|s| format!("{s:.2}")).collect();
    let slowest = seconds.iter().copied().fold(0.0, f64::max);
    let m = median(&mut seconds.clone());
    println!(
        "\nTen deflated backups of {backup_records} records at bitflip=1e-4 (payload {}–{} bytes each): {} s; median {m:.2} s, slowest {slowest:.2} s, **slowest / median {:.2}** (target ≤ 1.3)",
        wire.iter().min().unwrap_or(&0),
        wire.iter().max().unwrap_or(&0),
        shown.join(", "),
        slowest / m
    );
}

fn print_rows(rows: &[Row]) {
    println!("| protocol | baud | faults | payload bytes | seconds | goodput / line rate | damaged frames seen |");
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.4} | {} |",
            r.protocol,
            r.baud,
            if r.faults.is_empty() { "none" } else { &r.faults },
            r.bytes,
            r.seconds,
            r.ratio(),
            r.retransmissions.map_or("-".to_string(), |n| n.to_string())
        );
    }
}
