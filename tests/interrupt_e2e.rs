//! Interruptions: the agent killed with SIGKILL at every step boundary and in the middle of
//! each transfer, and the terminal unplugged at the same points. After `jobs resume` every
//! terminal must hold exactly the binding the job set out to make, no unsettled transaction
//! may be lost, no transaction may be duplicated on a new unit, and the job must have left
//! exactly one submission.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;

use common::jobs::*;
use common::{Sim, connect, posagent};
use posagent::domain::DeviceStatus;
use posagent::link::proto::Object;
use posagent::order::Operation;
use posagent::profile::ProfileSet;
use posagent::terminal::model::{AccountBinding, Binding, CardBinding, TxnRecord, decode_log};

#[derive(Clone, Copy, Debug)]
enum Op {
    Card,
    Account,
    Phone,
    Migrate,
}

impl Op {
    fn operation(self) -> Operation {
        match self {
            Op::Card => Operation::RebindCard,
            Op::Account => Operation::RebindAccount,
            Op::Phone => Operation::RebindPhone,
            Op::Migrate => Operation::Migrate,
        }
    }

    fn profile(self) -> &'static str {
        match self {
            Op::Card | Op::Migrate | Op::Account | Op::Phone => "lakala",
        }
    }

    /// The step names of this procedure, from the agent's own plan.
    fn steps(self) -> Vec<&'static str> {
        let set = ProfileSet::builtin().unwrap();
        posagent::job::plan(self.operation(), set.get(self.profile()).unwrap())
            .into_iter()
            .map(|s| s.name())
            .collect()
    }
}

/// How the job is disturbed.
#[derive(Clone, Debug)]
enum Fault {
    /// `POSAGENT_KILL_AT` for the agent.
    Kill(String),
    /// `--faults` for the main (old) terminal.
    Unplug(&'static str),
    /// `--faults` for the replacement unit.
    UnplugNew(&'static str),
}

/// Numbers the units of each scenario.
static NEXT_UNIT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

struct World {
    bench: Bench,
    main: Sim,
    new: Option<Sim>,
    order: PathBuf,
    before: Binding,
    old_log: Vec<TxnRecord>,
}

/// Transactions on each unit: enough that the deflated log spans several chunks, so the
/// kill and unplug points below fall inside transfers.
const UNIT_TRANSACTIONS: &str = "600";

fn world(op: Op, fault: &Fault) -> World {
    let bench = Bench::default();
    let faults = |f: Option<&'static str>| f.map(|s| vec!["--faults", s]).unwrap_or_default();
    let main_faults = faults(if let Fault::Unplug(s) = fault { Some(s) } else { None });
    let new_faults = faults(if let Fault::UnplugNew(s) = fault { Some(s) } else { None });
    let state = bench.path().join("main.state");
    let state_arg = state.to_str().unwrap();
    // Prepare the unit and read its starting state unarmed, then power-cycle it with the
    // fault armed: otherwise a byte-count unplug would fire during this setup, not the job.
    // Every scenario's units have their own serials, so talking to the wrong one is caught.
    let n = NEXT_UNIT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (main_serial, new_serial) = (format!("MAIN-{n:04}"), format!("NEW-{n:04}"));
    let mut args = vec![
        "--state",
        state_arg,
        "--serial",
        &main_serial,
        "--transactions",
        UNIT_TRANSACTIONS,
    ];
    if let Op::Account = op {
        args.push("--account");
    }
    let plain = start_sim(&bench, "main", &args);
    let order = match op {
        Op::Card => card_order(&bench, &plain, "WO-K", NEW_CARD),
        Op::Account => account_order(&bench, &plain, "WO-K"),
        Op::Phone => phone_order(&bench, &plain, "WO-K"),
        Op::Migrate => migrate_order(&bench, &plain, &new_serial, "WO-K"),
    };
    let mut t = connect(&plain);
    let before = t.read_binding().unwrap();
    let old_log = decode_log(&t.export(Object::TransactionLog, &mut |_, _| {}).unwrap().data).unwrap();
    drop(t);
    drop(plain);
    let main = start_sim(&bench, "main", &[&["--state", state_arg][..], &main_faults].concat());
    let new = matches!(op, Op::Migrate).then(|| {
        let mut args = vec!["--blank", "--serial", new_serial.as_str()];
        args.extend(new_faults);
        start_sim(&bench, "new", &args)
    });
    World {
        bench,
        main,
        new,
        order,
        before,
        old_log,
    }
}

fn job_args(op: Op, w: &World) -> Vec<String> {
    let port = |s: &Sim| s.port.display().to_string();
    let order = w.order.display().to_string();
    match op {
        Op::Card => vec![
            "rebind".into(),
            "card".into(),
            "--port".into(),
            port(&w.main),
            "--order".into(),
            order,
        ],
        Op::Account => vec![
            "rebind".into(),
            "account".into(),
            "--port".into(),
            port(&w.main),
            "--order".into(),
            order,
        ],
        Op::Phone => vec![
            "rebind".into(),
            "phone".into(),
            "--documents-checked".into(),
            "--port".into(),
            port(&w.main),
            "--order".into(),
            order,
        ],
        Op::Migrate => {
            let new = w.new.as_ref().unwrap();
            vec![
                "migrate".into(),
                "--from".into(),
                port(&w.main),
                "--to".into(),
                port(new),
                "--order".into(),
                order,
            ]
        }
    }
}

/// Runs one disturbed job, resumes it if it did not finish, and checks every invariant.
fn scenario(op: Op, fault: Fault) {
    let w = world(op, &fault);
    let mut cmd = posagent(w.bench.path());
    cmd.args(job_args(op, &w))
        .args(["--yes", "--secret-file"])
        .arg(&w.bench.secret)
        .arg("--password-file")
        .arg(&w.bench.password);
    if let Fault::Kill(at) = &fault {
        cmd.env("POSAGENT_KILL_AT", at);
        // The new unit is read back only when asked to (else its digest is asked for).
        if at.starts_with("transfer:verify") {
            cmd.args(["--verify", "full"]);
        }
        // A second export happens only when the data is copied one transfer after another.
        if at.starts_with("transfer:export") {
            cmd.args(["--copy", "sequential"]);
        }
    }
    let first = cmd.timeout(std::time::Duration::from_secs(120)).output().unwrap();
    let ctx = format!("{op:?} {fault:?}");
    if let Fault::Kill(_) = fault {
        assert_eq!(
            first.status.signal(),
            Some(9),
            "{ctx}: the kill point was not reached: {}",
            stderr(&first)
        );
    }
    if !first.status.success() {
        assert_eq!(w.bench.store().jobs().unwrap().len(), 1, "{ctx}: {}", stderr(&first));
        let job = the_job(&w.bench);
        let resumed = posagent(w.bench.path())
            .args(["jobs", "resume", &job.id, "--yes", "--secret-file"])
            .arg(&w.bench.secret)
            .arg("--password-file")
            .arg(&w.bench.password)
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap();
        assert_eq!(
            resumed.status.code(),
            Some(0),
            "{ctx}: resume failed: {}",
            stderr(&resumed)
        );
    }
    // An unplug scenario proves the unplug happened during the job, exactly once.
    let replugs = match &fault {
        Fault::Unplug(_) => Some(w.main.replugs()),
        Fault::UnplugNew(_) => w.new.as_ref().map(Sim::replugs),
        Fault::Kill(_) => None,
    };
    if let Some(n) = replugs {
        assert_eq!(n, 1, "{ctx}: the unplug happened during the job");
    }
    check_invariants(op, &w, &ctx);
}

fn check_invariants(op: Op, w: &World, ctx: &str) {
    let job = the_job(&w.bench);
    assert_eq!(job.state.as_str(), "done", "{ctx}");
    let store = w.bench.store();
    let subs: Vec<_> = store
        .submissions()
        .unwrap()
        .into_iter()
        .filter(|s| s.job_id == job.id)
        .collect();
    assert_eq!(subs.len(), 1, "{ctx}: one submission per job");
    assert!(store.verify_audit().unwrap().valid, "{ctx}: audit chain");
    let db = rusqlite::Connection::open(w.bench.path().join("posagent.db")).unwrap();
    let integrity: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok", "{ctx}: database integrity after a kill");
    let b = &w.before;
    let expected = match op {
        Op::Card => Binding {
            card: Some(CardBinding {
                pan: NEW_CARD.parse().unwrap(),
                holder: "李四".parse().unwrap(),
                expiry: Some("0939".into()),
            }),
            ..b.clone()
        },
        Op::Account => Binding {
            account: Some(AccountBinding {
                number: NEW_ACCOUNT.parse().unwrap(),
                holder: "王五".parse().unwrap(),
                bank: "中国工商银行".into(),
                branch: "102100099996".parse().unwrap(),
            }),
            ..b.clone()
        },
        Op::Phone => Binding {
            phone: Some("13900001111".parse().unwrap()),
            ..b.clone()
        },
        Op::Migrate => b.clone(),
    };
    let mut main = connect(&w.main);
    let main_now = main.read_binding().unwrap();
    match op {
        Op::Migrate => {
            assert_eq!(main_now.status, DeviceStatus::Unbound, "{ctx}: old unit unbound");
            let mut n = connect(w.new.as_ref().unwrap());
            assert_eq!(
                n.read_binding().unwrap(),
                expected,
                "{ctx}: new unit holds the old binding"
            );
            let new_log = decode_log(&n.export(Object::TransactionLog, &mut |_, _| {}).unwrap().data).unwrap();
            for r in &w.old_log {
                let copies = new_log.iter().filter(|x| x.rrn == r.rrn).count();
                assert_eq!(
                    copies, 1,
                    "{ctx}: transaction {} (settled before: {}) on the new unit {copies} times",
                    r.rrn, r.settled
                );
            }
            let unique: std::collections::BTreeSet<_> = new_log.iter().map(|r| &r.rrn).collect();
            assert_eq!(unique.len(), new_log.len(), "{ctx}: no duplicate on the new unit");
        }
        _ => {
            assert_eq!(main_now, expected, "{ctx}: terminal holds the new binding");
            let log = decode_log(&main.export(Object::TransactionLog, &mut |_, _| {}).unwrap().data).unwrap();
            for r in w.old_log.iter().filter(|r| !r.settled) {
                assert!(
                    log.iter().any(|x| x.rrn == r.rrn),
                    "{ctx}: unsettled transaction {} lost",
                    r.rrn
                );
            }
        }
    }
}

fn kills_at_every_step_boundary(op: Op) {
    for step in op.steps().into_iter().filter(|s| *s != "record") {
        scenario(op, Fault::Kill(format!("after:{step}")));
    }
}

#[test]
fn rebind_card_killed_at_every_step_boundary_resumes() {
    kills_at_every_step_boundary(Op::Card);
}

#[test]
fn rebind_account_killed_at_every_step_boundary_resumes() {
    kills_at_every_step_boundary(Op::Account);
}

#[test]
fn rebind_phone_killed_at_every_step_boundary_resumes() {
    kills_at_every_step_boundary(Op::Phone);
}

#[test]
fn migrate_killed_at_every_step_boundary_resumes() {
    kills_at_every_step_boundary(Op::Migrate);
}

#[test]
fn killed_in_the_middle_of_each_transfer_resumes() {
    for op in [Op::Card, Op::Account, Op::Phone, Op::Migrate] {
        scenario(op, Fault::Kill("transfer:backup:4000".into()));
    }
    // A one-pass copy's two lines (`backup` above is its export), and the read-back; then
    // the second export of a copy made one transfer after another.
    for label in ["import", "verify", "export"] {
        scenario(Op::Migrate, Fault::Kill(format!("transfer:{label}:4000")));
    }
}

#[test]
fn rebinds_unplugged_at_each_change_complete() {
    for op in [Op::Card, Op::Account] {
        for f in [
            "unplug_after=unbind",
            "unplug_before=bind",
            "unplug_after=bind",
            "unplug_after=test_transaction",
            "unplug=6000",
        ] {
            scenario(op, Fault::Unplug(f));
        }
    }
    for f in ["unplug_after=bind", "unplug_after=reboot", "unplug=6000"] {
        scenario(Op::Phone, Fault::Unplug(f));
    }
}

#[test]
fn migrate_unplugged_at_each_change_completes() {
    for f in ["unplug_after=settle", "unplug=6000", "unplug_after=unbind"] {
        scenario(Op::Migrate, Fault::Unplug(f));
    }
    for f in [
        "unplug_after=activate",
        "unplug_after=import_commit",
        "unplug_before=bind",
        "unplug_after=bind",
        "unplug_after=test_transaction",
        "unplug=5000",
    ] {
        scenario(Op::Migrate, Fault::UnplugNew(f));
    }
}

/// `jobs resume ID` with the secret files and `extra` arguments, and this environment.
fn resume(w: &World, id: &str, extra: &[&std::ffi::OsStr], env: &[(&str, &std::ffi::OsStr)]) -> std::process::Output {
    let mut cmd = posagent(w.bench.path());
    // Stopped before its confirmation, a job asks again: --yes answers for the script.
    cmd.args(["jobs", "resume", id, "--yes"])
        .args(extra)
        .arg("--secret-file")
        .arg(&w.bench.secret)
        .arg("--password-file")
        .arg(&w.bench.password);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.timeout(std::time::Duration::from_secs(120)).output().unwrap()
}

#[test]
fn a_terminal_replugged_under_another_name_is_found_by_its_serial_and_another_unit_is_refused() {
    let mut w = world(Op::Card, &Fault::Kill("after:backup".into()));
    let first = posagent(w.bench.path())
        .args(job_args(Op::Card, &w))
        .args(["--yes", "--secret-file"])
        .arg(&w.bench.secret)
        .arg("--password-file")
        .arg(&w.bench.password)
        .env("POSAGENT_KILL_AT", "after:backup")
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(first.status.signal(), Some(9), "{}", stderr(&first));
    let job = the_job(&w.bench);
    // Unplugged, and back in another socket: the old name is gone, a new one appears.
    let serial = w.main.serial.clone();
    let state = w.bench.path().join("main.state");
    drop(std::mem::replace(
        &mut w.main,
        start_sim(&w.bench, "elsewhere-ttyUSB7", &["--state", state.to_str().unwrap()]),
    ));
    let _ = std::fs::remove_file(w.bench.path().join("main"));
    // Another unit on a port named explicitly is refused, and the job stays resumable.
    let stranger = start_sim(&w.bench, "stranger", &["--serial", "STRANGER-1"]);
    let out = resume(&w, &job.id, &["--port".as_ref(), stranger.port.as_os_str()], &[]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&serial) && stderr(&out).contains("STRANGER-1"),
        "{}",
        stderr(&out)
    );
    assert_eq!(the_job(&w.bench).state.as_str(), "running");
    // Without --port it is found by its serial among the places to look.
    let glob = w.bench.path().join("*ttyUSB*");
    let out = resume(&w, &job.id, &[], &[("POSAGENT_PORTS", glob.as_os_str())]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let job = the_job(&w.bench);
    assert_eq!(job.state.as_str(), "done");
    assert!(job.port.ends_with("elsewhere-ttyUSB7"), "{}", job.port);
    check_invariants(Op::Card, &w, "replugged elsewhere");
}

/// Starts `cmd` with stderr piped and returns the child and a channel of its stderr lines.
fn spawn_reading_stderr(mut cmd: std::process::Command) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Collects lines until one contains `needle`; panics with what was seen after a minute.
fn wait_for_line(rx: &std::sync::mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            let hit = l.contains(needle);
            seen.push(l);
            if hit {
                return;
            }
        }
    }
    panic!("never saw {needle:?}: {seen:#?}");
}

#[test]
fn ctrl_c_stops_a_job_at_the_next_step_says_how_to_continue_and_exits_130() {
    let bench = Bench::default();
    // Slow answers keep the job busy long enough to be interrupted in the middle.
    let sim = start_sim(&bench, "tty", &["--faults", "slow=150ms", "--serial", "CTRLC-0001"]);
    let before = connect(&sim).read_binding().unwrap();
    let order = card_order(&bench, &sim, "WO-INT-1", NEW_CARD);
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("posagent"));
    cmd.env("POSAGENT_HOME", bench.path())
        .args(rebind_args("card", &sim, &order))
        .args(["--yes", "--secret-file"])
        .arg(&bench.secret)
        .arg("--password-file")
        .arg(&bench.password);
    let (mut child, rx) = spawn_reading_stderr(cmd);
    let mut seen = Vec::new();
    wait_for_line(&rx, "authenticate", &mut seen);
    // SAFETY: kill(2) on the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    seen.extend(rx.iter());
    let text = seen.join("\n");
    assert_eq!(status.code(), Some(130), "{text}");
    let job = the_job(&bench);
    assert!(text.contains("stopped at your request before"), "{text}");
    assert!(text.contains(&format!("posagent jobs resume {}", job.id)), "{text}");
    assert_eq!(job.state.as_str(), "interrupted");
    let list = posagent(bench.path())
        .args(["jobs", "list", "--json"])
        .output()
        .unwrap();
    assert_eq!(common::json_of(&list)[0]["state"], "interrupted");
    if job.backup_file.is_none() {
        assert_eq!(
            connect(&sim).read_binding().unwrap(),
            before,
            "nothing changed before the backup"
        );
    }
    let resumed = posagent(bench.path())
        .args(["jobs", "resume", &job.id, "--yes", "--secret-file"])
        .arg(&bench.secret)
        .arg("--password-file")
        .arg(&bench.password)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert_eq!(the_job(&bench).state.as_str(), "done");
}

/// posagent ARGS at the keyboard (a pseudo-terminal), in English, with the bench's secrets.
fn at_the_keyboard(bench: &Bench, args: &[&str]) -> common::pty::PtyChild {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("posagent"));
    cmd.env("POSAGENT_HOME", bench.path())
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("POSAGENT_LANG")
        .args(args)
        .arg("--secret-file")
        .arg(&bench.secret)
        .arg("--password-file")
        .arg(&bench.password);
    common::pty::PtyChild::spawn(cmd)
}

/// Ctrl-C at `[y/N]` ends the command at once with exit 130 and nothing changed, the job
/// left interrupted; its resume shows the change again and asks again, and a yes then
/// makes it. Regressions: the prompt once kept waiting after Ctrl-C, and a resume of a job
/// stopped at its confirmation made the change without asking.
#[test]
fn ctrl_c_at_the_confirmation_exits_130_and_the_resume_asks_again() {
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &["--serial", "ASK-0001"]);
    let before = connect(&sim).read_binding().unwrap();
    let order = card_order(&bench, &sim, "WO-ASK-1", NEW_CARD);
    let mut p = at_the_keyboard(&bench, &rebind_args("card", &sim, &order));
    p.expect("[y/N]", std::time::Duration::from_secs(60));
    p.send_raw(b"\x03");
    let status = p.wait(std::time::Duration::from_secs(10));
    assert_eq!(status.code(), Some(130), "{}", p.screen);
    assert!(!p.screen.contains("stopping after the current step"), "{}", p.screen);
    let job = the_job(&bench);
    assert_eq!(job.state.as_str(), "interrupted", "{}", p.screen);
    assert_eq!(connect(&sim).read_binding().unwrap(), before, "nothing changed");
    assert!(bench.store().submissions().unwrap().is_empty());

    let mut p = at_the_keyboard(&bench, &["jobs", "resume", &job.id]);
    p.expect("[y/N]", std::time::Duration::from_secs(60));
    assert!(
        p.screen.contains("622848*********4554"),
        "the change is shown again: {}",
        p.screen
    );
    p.send_line("y");
    let status = p.wait(std::time::Duration::from_secs(60));
    assert!(status.success(), "{}", p.screen);
    assert_eq!(the_job(&bench).state.as_str(), "done");
    assert_eq!(
        connect(&sim).read_binding().unwrap().card.unwrap().pan.expose_full(),
        NEW_CARD
    );
}

#[test]
fn the_demo_stops_its_simulators_when_it_is_sent_sigterm() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("posagent"));
    cmd.env("POSAGENT_HOME", home.path()).arg("demo");
    let (mut child, rx) = spawn_reading_stderr(cmd);
    let mut seen = Vec::new();
    wait_for_line(&rx, "Demo data directory", &mut seen);
    let data_dir = seen.last().unwrap().split(": ").nth(1).unwrap().trim().to_string();
    // Once the simulators are up and the job has begun.
    wait_for_line(&rx, "check_identity", &mut seen);
    // SAFETY: kill(2) on the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen:#?}");
    let left = common::processes_mentioning(&data_dir);
    assert!(left.is_empty(), "processes left running: {left:?}");
    let _ = std::fs::remove_dir_all(&data_dir);
}
