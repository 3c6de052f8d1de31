//! The Windows build, under Wine, against the Linux simulators: the simulated terminal's
//! pseudo-terminal appears to `posagent.exe` as COM5 (`$WINEPREFIX/dosdevices/com5`), the
//! simulated provider serves TLS on loopback. `tests/windows/run` (the Windows lane of CI)
//! builds the release zip, unpacks it and runs these with `POSAGENT_WINDOWS_EXE` and
//! `WINEPREFIX` set (`-- --ignored`); anywhere else they show as ignored, with that reason.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::jobs::*;
use common::sync::Provider;
use common::{Sim, connect};

/// `posagent.exe` and the Wine prefix it runs in.
struct Windows {
    exe: PathBuf,
    prefix: PathBuf,
    wine: String,
}

impl Windows {
    fn from_env() -> Windows {
        let (Some(exe), Some(prefix)) = (std::env::var_os("POSAGENT_WINDOWS_EXE"), std::env::var_os("WINEPREFIX"))
        else {
            panic!(
                "the Windows lane (tests/windows/run) sets POSAGENT_WINDOWS_EXE and WINEPREFIX to run these under Wine"
            );
        };
        Windows {
            exe: exe.into(),
            prefix: prefix.into(),
            wine: std::env::var("WINE").unwrap_or_else(|_| "wine".into()),
        }
    }

    /// `posagent.exe ARGS` with the data directory `home` (none: the Windows default).
    fn run(&self, home: Option<&Path>, args: &[&str]) -> Output {
        self.command(home, args).output().expect("run posagent.exe under Wine")
    }

    /// Makes `sim`'s pseudo-terminal the Windows port `COM<n>`, registered where Windows
    /// lists serial ports (`HKLM\HARDWARE\DEVICEMAP\SERIALCOMM`, which a port's driver
    /// fills on Windows and the lane's persistent wine server keeps).
    fn plug(&self, sim: &Sim, n: u8) -> String {
        self.plug_path(&sim.port, n)
    }

    fn plug_path(&self, target: &Path, n: u8) -> String {
        let link = self.prefix.join(format!("dosdevices/com{n}"));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(target, &link).expect("link the pty as a COM port");
        let com = format!("COM{n}");
        let out = Command::new(&self.wine)
            .args(["reg", "add", "HKLM\\HARDWARE\\DEVICEMAP\\SERIALCOMM", "/v"])
            .arg(format!("posagent-test-{com}"))
            .args(["/d", &com, "/f"])
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("wine reg");
        assert!(out.success(), "wine reg add failed: {out}");
        com
    }

    /// `posagent.exe ARGS` with the data directory `home`, not started yet.
    fn command(&self, home: Option<&Path>, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.wine);
        cmd.arg(&self.exe)
            .args(args)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            .env("LANG", "C.UTF-8")
            .env_remove("POSAGENT_LANG")
            .env_remove("POSAGENT_HOME");
        if let Some(h) = home {
            cmd.env("POSAGENT_HOME", windows_path(h));
        }
        cmd
    }
}

/// Sets `sim`'s pseudo-terminal back to a standard rate: the library on Linux sets its rate
/// through `termios2`, which leaves the classic speed field at 0, a rate Wine's serial
/// driver refuses ("Invalid parameter") when it opens the port next.
fn reset_line(sim: &Sim) {
    let out = Command::new("stty")
        .arg("-F")
        .arg(&sim.port)
        .arg("115200")
        .output()
        .expect("stty (coreutils)");
    assert!(out.status.success(), "{}", text(&out));
}

/// `rebind card` on `com` with `order` and the bench's secrets, as the Windows program
/// takes them.
fn rebind_card_args(bench: &Bench, com: &str, order: &Path) -> Vec<String> {
    [
        "rebind",
        "card",
        "--port",
        com,
        "--order",
        &order_arg(order),
        "--yes",
        "--json",
        "--secret-file",
        &windows_path(&bench.secret),
        "--password-file",
        &windows_path(&bench.password),
    ]
    .map(String::from)
    .to_vec()
}

/// A Linux path as the Windows program names it: Wine's drive Z: is `/`.
fn windows_path(p: &Path) -> String {
    format!("Z:{}", p.display()).replace('/', "\\")
}

/// An order as `--order` takes it: a pulled order's id as it is, a file by its Windows path.
fn order_arg(order: &Path) -> String {
    if order.is_absolute() {
        windows_path(order)
    } else {
        order.display().to_string()
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

#[test]
#[ignore = "runs under Wine in the Windows lane: tests/windows/run"]
fn the_windows_build_keeps_its_files_where_windows_programs_do() {
    let win = Windows::from_env();
    let out = win.run(None, &["--version"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(env!("CARGO_PKG_VERSION")), "{}", text(&out));
    let doc = json(&win.run(None, &["config", "path", "--json"]));
    let config = doc["config_file"].as_str().unwrap();
    let data = doc["data_dir"].as_str().unwrap();
    assert!(
        config.contains("\\AppData\\Roaming\\") && config.ends_with("\\config.toml"),
        "{doc}"
    );
    assert!(data.contains("\\AppData\\Local\\"), "{doc}");
    // Chinese when asked, as on Linux.
    let zh = win
        .command(None, &["jobs", "show", "NOPE"])
        .env("POSAGENT_LANG", "zh-CN")
        .output()
        .unwrap();
    assert_eq!(zh.status.code(), Some(65), "{}", text(&zh));
    assert!(text(&zh).contains("未找到作业 NOPE"), "{}", text(&zh));
}

#[test]
#[ignore = "runs under Wine in the Windows lane: tests/windows/run"]
fn a_rebind_over_com5_backs_up_verifies_and_is_delivered_over_tls() {
    let win = Windows::from_env();
    let bench = Bench::default();
    // A generic terminal and a local order: what the provider receives is the point here.
    let sim = start_sim(&bench, "tty", &["--profile", "generic"]);
    let com = win.plug(&sim, 5);
    let home = Some(bench.path());
    let secret = windows_path(&bench.secret);
    let password = windows_path(&bench.password);

    let inspect = win.run(home, &["inspect", "--port", &com, "--json", "--secret-file", &secret]);
    assert!(inspect.status.success(), "{}", text(&inspect));
    assert_eq!(json(&inspect)["identity"]["serial"], sim.serial.as_str());

    // The same port named the long way.
    let long = format!("\\\\.\\{com}");
    let again = win.run(home, &["inspect", "--port", &long, "--json", "--secret-file", &secret]);
    assert!(again.status.success(), "{}", text(&again));

    let archive = bench.path().join("by-windows.zip");
    let backup = win.run(
        home,
        &[
            "backup",
            "--port",
            &com,
            "--out",
            &windows_path(&archive),
            "--json",
            "--secret-file",
            &secret,
            "--password-file",
            &password,
        ],
    );
    assert!(backup.status.success(), "{}", text(&backup));
    let listed = Command::new("7z")
        .args(["t", &format!("-p{BACKUP_PASSWORD}")])
        .arg(&archive)
        .output()
        .expect("7z is installed (p7zip-full)");
    assert!(
        listed.status.success(),
        "7z opens the Windows build's archive: {}",
        text(&listed)
    );

    let order = card_order_as(&bench, &sim, "WO-WIN-1", NEW_CARD, "generic");
    // The order was written from what the library read over the line; Windows opens it
    // next (a real port is only ever opened by the one program).
    reset_line(&sim);
    let job = win.run(
        home,
        &rebind_card_args(&bench, &com, &order)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(job.status.success(), "{}", text(&job));
    let doc = json(&job);
    assert_eq!(doc["job"]["state"], "done", "{doc}");
    let receipt = doc["receipt"]["file"].as_str().expect("a receipt");
    assert!(receipt.starts_with("Z:\\") && receipt.ends_with(".html"), "{receipt}");
    assert_eq!(
        connect(&sim).read_binding().unwrap().card.unwrap().pan.expose_full(),
        NEW_CARD
    );

    let provider_dir = tempfile::tempdir().unwrap();
    let provider = Provider::start(provider_dir.path(), 0, &[]);
    let sync = win.run(
        home,
        &[
            "sync",
            "--json",
            "--provider",
            &provider.url,
            "--provider-ca",
            &windows_path(&provider.ca),
            "--agent-key-file",
            &windows_path(&provider.agent_key),
        ],
    );
    assert!(sync.status.success(), "{}", text(&sync));
    assert_eq!(json(&sync)["tally"]["accepted"], 1, "{}", text(&sync));
    let applied = provider.report();
    assert_eq!(applied["accepted"].as_u64(), Some(1), "{applied}");
}

#[test]
#[ignore = "runs under Wine in the Windows lane: tests/windows/run"]
fn without_a_port_the_terminal_is_found_among_the_com_ports_posagent_ports_names() {
    let win = Windows::from_env();
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let com = win.plug(&sim, 7);
    let secret = windows_path(&bench.secret);
    let out = win
        .command(
            Some(bench.path()),
            &["inspect", "--serial", &sim.serial, "--json", "--secret-file", &secret],
        )
        .env("POSAGENT_PORTS", format!("COM9;{com}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let doc = json(&out);
    assert_eq!(
        (doc["port"].as_str(), doc["identity"]["serial"].as_str()),
        (Some(com.as_str()), Some(sim.serial.as_str()))
    );
}

/// The simulated terminal served by the Windows build on an existing port (`--port COM6`,
/// one end of a socat pseudo-terminal pair), reached by the Linux build on the other end.
#[test]
#[ignore = "runs under Wine in the Windows lane: tests/windows/run"]
fn the_simulated_terminal_serves_on_a_com_port_on_windows() {
    let win = Windows::from_env();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let mut socat = Command::new("socat")
        .arg(format!("pty,raw,echo=0,link={}", a.display()))
        .arg(format!("pty,raw,echo=0,link={}", b.display()))
        .spawn()
        .expect("socat is installed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !(a.exists() && b.exists()) {
        assert!(std::time::Instant::now() < deadline, "socat made no pty pair");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let link = win.prefix.join("dosdevices/com6");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&a, &link).unwrap();
    let mut served = win
        .command(
            Some(dir.path()),
            &[
                "sim",
                "terminal",
                "--port",
                "COM6",
                "--profile",
                "lakala",
                "--serial",
                "WIN-SIM-0006",
            ],
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(served.stdout.take().unwrap()), &mut line).unwrap();
    assert!(line.contains("WIN-SIM-0006"), "announced {line:?}");
    let secret = common::secret_file(dir.path(), "secret", common::DEMO_SECRET);
    let out = common::posagent(dir.path())
        .args(["inspect", "--profile", "lakala", "--json", "--port"])
        .arg(&b)
        .arg("--secret-file")
        .arg(&secret)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    for child in [&mut served, &mut socat] {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(json(&out)["identity"]["serial"], "WIN-SIM-0006");
}

#[test]
#[ignore = "runs under Wine in the Windows lane: tests/windows/run"]
fn orders_are_checked_and_com_ports_listed_as_on_linux() {
    let win = Windows::from_env();
    let home = tempfile::tempdir().unwrap();
    let fixtures = common::fixtures().join("orders");
    let good = win.run(
        Some(home.path()),
        &["order", "check", &windows_path(&fixtures.join("rebind-card.toml"))],
    );
    assert_eq!(good.status.code(), Some(0), "{}", text(&good));
    let bad = win.run(
        Some(home.path()),
        &[
            "order",
            "check",
            "--json",
            &windows_path(&fixtures.join("bad-card.toml")),
        ],
    );
    assert_eq!(bad.status.code(), Some(65), "{}", text(&bad));
    assert_eq!(json(&bad)["errors"].as_array().map(Vec::len), Some(4));

    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let com = win.plug(&sim, 4);
    let devices = win.run(Some(bench.path()), &["devices", "--json"]);
    assert!(devices.status.success(), "{}", text(&devices));
    let listed: Vec<String> = json(&devices)
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["port"].as_str().map(str::to_string))
        .collect();
    assert!(listed.contains(&com), "{com} among {listed:?}");
}

#[test]
#[ignore = "runs under Wine in the Windows lane: tests/windows/run"]
fn a_migration_between_two_com_ports_moves_everything() {
    let win = Windows::from_env();
    let bench = Bench::default();
    let old = start_sim(&bench, "old", &[]);
    let new = start_sim(&bench, "new", &["--blank", "--serial", "WIN-NEW-0008"]);
    let order = migrate_order(&bench, &old, "WIN-NEW-0008", "WO-WIN-MIG");
    for sim in [&old, &new] {
        reset_line(sim);
    }
    let (from, to) = (win.plug(&old, 8), win.plug(&new, 9));
    let out = win.run(
        Some(bench.path()),
        &[
            "migrate",
            "--from",
            &from,
            "--to",
            &to,
            "--order",
            &order_arg(&order),
            "--yes",
            "--json",
            "--secret-file",
            &windows_path(&bench.secret),
            "--password-file",
            &windows_path(&bench.password),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(json(&out)["job"]["state"], "done");
    let (was, now) = (
        connect(&old).read_binding().unwrap(),
        connect(&new).read_binding().unwrap(),
    );
    assert_eq!(was.status, posagent::domain::DeviceStatus::Unbound);
    assert!(now.card.is_some() && now.mid.is_some(), "{now:?}");
}

/// The Windows process killed while the backup streams the log, then `jobs resume`.
#[test]
#[ignore = "runs under Wine in the Windows lane: tests/windows/run"]
fn a_job_killed_mid_transfer_resumes_to_the_end() {
    let win = Windows::from_env();
    let bench = Bench::default();
    // A log long enough to be mid-transfer when the process is killed.
    let sim = Sim::start(
        bench.path(),
        "tty",
        &["--transactions", "1500", "--baud", "115200", "--profile", "lakala"],
    );
    let order = card_order(&bench, &sim, "WO-WIN-KILL", NEW_CARD);
    reset_line(&sim);
    let com = win.plug(&sim, 10);
    let (secret, password) = (windows_path(&bench.secret), windows_path(&bench.password));
    let args = rebind_card_args(&bench, &com, &order);
    let mut job = win
        .command(Some(bench.path()), &args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once the backup step has started moving the log.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let started = posagent::store::Store::open(bench.path())
            .ok()
            .and_then(|s| s.jobs().ok())
            .and_then(|jobs| jobs.into_iter().next())
            .and_then(|j| posagent::store::Store::open(bench.path()).ok()?.journal_of(&j.id).ok())
            .is_some_and(|journal| {
                journal
                    .iter()
                    .any(|e| e.entry == posagent::journal::Entry::Intent(posagent::journal::Step::Backup))
            });
        if started {
            std::thread::sleep(std::time::Duration::from_millis(300));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the job never reached its backup");
        assert!(
            job.try_wait().unwrap().is_none(),
            "the job ended before it could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    job.kill().unwrap();
    job.wait().unwrap();
    // The Windows process itself is gone, not only the program that started it.
    let gone = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !common::processes_mentioning("WO-WIN-KILL.toml").is_empty() {
        assert!(
            std::time::Instant::now() < gone,
            "still running: {:?}",
            common::processes_mentioning("WO-WIN-KILL.toml")
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let id = the_job(&bench).id;
    assert_ne!(the_job(&bench).state, posagent::store::jobs::JobState::Done);
    reset_line(&sim);
    let resumed = win.run(
        Some(bench.path()),
        &[
            "jobs",
            "resume",
            &id,
            "--port",
            &com,
            "--json",
            "--secret-file",
            &secret,
            "--password-file",
            &password,
        ],
    );
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert_eq!(json(&resumed)["job"]["state"], "done");
    assert_eq!(
        connect(&sim).read_binding().unwrap().card.unwrap().pan.expose_full(),
        NEW_CARD
    );
}
