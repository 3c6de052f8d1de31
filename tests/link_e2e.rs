//! The agent's real serial code against the simulated terminal on real pseudo-terminals.

mod common;

use common::{DEMO_SECRET, Sim, json_of, posagent, secret_file};
use posagent::link::proto::Object;
use posagent::profile::ProfileSet;
use posagent::terminal::model::decode_log;
use posagent::terminal::{Secret, Terminal, TerminalError};

fn inspect_json(dir: &std::path::Path, sim: &Sim) -> (Option<i32>, serde_json::Value) {
    let secret = secret_file(dir, "secret", DEMO_SECRET);
    let out = posagent(dir)
        .args(["inspect", "--json", "--port"])
        .arg(&sim.port)
        .arg("--secret-file")
        .arg(&secret)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    (out.status.code(), json_of(&out))
}

fn inspect_under(faults: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), "tty", &["--faults", faults, "--seed", "7"]);
    let (code, doc) = inspect_json(dir.path(), &sim);
    assert_eq!(code, Some(0), "inspect under {faults}: {doc}");
    assert_eq!(doc["identity"]["serial"], sim.serial.as_str());
    assert_eq!(doc["binding"]["status"], "bound");
    doc
}

#[test]
fn inspect_shows_identity_and_masked_binding() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), "tty", &["--transactions", "40"]);
    let (code, doc) = inspect_json(dir.path(), &sim);
    assert_eq!(code, Some(0));
    let pan = doc["binding"]["card"]["pan"].as_str().unwrap();
    assert!(pan.starts_with("622202") && pan.contains("*********"), "{pan}");
    assert!(doc["binding"]["phone"].as_str().unwrap().contains("****"));
    assert_eq!(doc["status"]["transactions"], 40);
    assert_eq!(doc["status"]["unsettled"], 2);
    for key in [
        "wire_bytes_out",
        "wire_bytes_in",
        "payload_bytes",
        "frames_out",
        "retransmissions",
        "elapsed_seconds",
    ] {
        assert!(doc["link"].get(key).is_some(), "link stats lack {key}");
    }
}

#[test]
fn inspect_survives_bit_flips() {
    inspect_under("bitflip=3e-3");
}

#[test]
fn inspect_survives_dropped_bytes() {
    inspect_under("drop=3e-3");
}

#[test]
fn inspect_survives_stalls() {
    inspect_under("stall=200ms");
}

#[test]
fn inspect_survives_busy_replies() {
    inspect_under("busy=0.4");
}

#[test]
fn inspect_survives_slow_replies() {
    inspect_under("slow=50ms");
}

#[test]
fn inspect_survives_an_unplug() {
    let doc = inspect_under("unplug=250");
    assert_eq!(doc["link"]["reconnects"], 1);
}

#[test]
fn wrong_secret_is_refused_and_repeated_failures_lock_out() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), "tty", &[]);
    let bad = secret_file(dir.path(), "bad", "not-the-secret");
    let good = secret_file(dir.path(), "good", DEMO_SECRET);
    let run = |secret: &std::path::Path| {
        let out = posagent(dir.path())
            .args(["inspect", "--port"])
            .arg(&sim.port)
            .arg("--secret-file")
            .arg(secret)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    for left in (1..5).rev() {
        let (code, err) = run(&bad);
        assert_eq!(code, Some(77));
        assert!(err.contains(&format!("{left} attempt(s) left")), "{err}");
    }
    let (code, err) = run(&bad);
    assert_eq!(code, Some(77));
    assert!(err.contains("locked"), "{err}");
    // Even the right secret is refused while locked.
    let (code, err) = run(&good);
    assert_eq!(code, Some(77));
    assert!(err.contains("locked"), "{err}");
    assert!(!err.contains(DEMO_SECRET));
}

fn generic_serial() -> posagent::profile::SerialSettings {
    let mut s = ProfileSet::builtin().unwrap().get("generic").unwrap().serial.clone();
    s.baud = 921_600;
    s
}

/// An export cut by an unplug resumes at the offset it reached: with the log as it is
/// (`--plain`), and deflated, where offsets count in the deflated stream.
#[test]
fn unplug_mid_export_resumes_from_the_offset() {
    for (plain, unplug) in [(true, "unplug=120000"), (false, "unplug=30000")] {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["--transactions", "3000", "--baud", "921600", "--faults", unplug];
        if plain {
            args.push("--plain");
        }
        let sim = Sim::start(dir.path(), "tty", &args);
        let mut t = Terminal::open(&sim.port, &generic_serial()).unwrap();
        t.authenticate(&Secret::new(DEMO_SECRET.as_bytes().to_vec())).unwrap();
        let mut seen = Vec::new();
        let exported = t
            .export(Object::TransactionLog, &mut |done, _| seen.push(done))
            .unwrap();
        let records = decode_log(&exported.data).unwrap();
        assert_eq!(records.len(), 3000);
        assert_eq!(exported.records, 3000);
        let stats = t.stats();
        assert_eq!(stats.reconnects, 1, "plain: {plain}");
        // Resumed, not restarted: at most one window of chunks is fetched twice.
        let carried = if plain {
            exported.data.len()
        } else {
            posagent::link::encoding::deflate(&exported.data).len()
        };
        let window_bytes = 8 * 2044;
        assert!(
            stats.payload_bytes <= carried as u64 + window_bytes,
            "plain: {plain}, {carried} bytes to carry: {stats:?}"
        );
        // Progress after the reconnect starts where the first attempt stopped, not at zero.
        let restart = seen.windows(2).find(|w| w[1] < w[0]).map(|w| w[1]);
        assert!(restart.is_none_or(|r| r > 0), "progress went back to zero: {seen:?}");
    }
}

#[test]
fn export_under_bit_errors_is_verified_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(
        dir.path(),
        "tty",
        &["--transactions", "2000", "--baud", "921600", "--faults", "bitflip=1e-4"],
    );
    let mut t = Terminal::open(&sim.port, &generic_serial()).unwrap();
    t.authenticate(&Secret::new(DEMO_SECRET.as_bytes().to_vec())).unwrap();
    let exported = t.export(Object::TransactionLog, &mut |_, _| {}).unwrap();
    assert_eq!(decode_log(&exported.data).unwrap().len(), 2000);
    // The terminal resends; the agent sees the damaged frames it had to discard.
    assert!(
        t.stats().corrupt_frames > 0,
        "bit errors should have damaged some frames"
    );
}

#[test]
fn commands_need_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), "tty", &[]);
    let mut t = Terminal::open(&sim.port, &generic_serial()).unwrap();
    assert_eq!(t.identify().unwrap().serial, sim.serial);
    assert!(matches!(t.read_binding(), Err(TerminalError::Refused { .. })));
}

#[test]
fn a_port_held_by_another_program_is_waited_for_then_reported() {
    use posagent::link::port::SerialPort;
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), "tty", &[]);
    let settings = generic_serial();
    let holder = SerialPort::open(&sim.port, &settings).unwrap();
    let err = SerialPort::open(&sim.port, &settings)
        .err()
        .expect("the port is held")
        .to_string();
    assert!(err.contains("in use by another program"), "{err}");
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(holder);
    });
    assert!(
        SerialPort::open(&sim.port, &settings).is_ok(),
        "released during the wait, so the open succeeds"
    );
    release.join().unwrap();
}

#[test]
fn devices_lists_ports_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = posagent(dir.path()).args(["devices", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // Pseudo-terminals are not USB devices, so the list may be empty here; its shape is fixed.
    for row in json_of(&out).as_array().expect("a list of ports") {
        assert!(row["port"].is_string() && row["kind"].is_string(), "{row}");
    }
}

#[test]
fn a_reconnect_does_not_accept_another_unit_on_the_same_path() {
    let dir = tempfile::tempdir().unwrap();
    let a = Sim::start(dir.path(), "a", &["--serial", "UNIT-A"]);
    let b = Sim::start(dir.path(), "b", &["--serial", "UNIT-B", "--seed", "9"]);
    let path = dir.path().join("cable");
    let point_at = |sim: &Sim| {
        let tmp = dir.path().join("cable.tmp");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(std::fs::read_link(&sim.port).unwrap(), &tmp).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    };
    point_at(&a);
    let mut t = Terminal::open(&path, &generic_serial()).unwrap();
    t.authenticate(&Secret::new(DEMO_SECRET.as_bytes().to_vec())).unwrap();
    let a_binding = t.read_binding().unwrap();
    // The cable now leads to another unit; unit A comes back half a second later.
    point_at(&b);
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(500));
            point_at(&a);
        });
        t.reconnect().unwrap();
    });
    assert_eq!(
        t.read_binding().unwrap(),
        a_binding,
        "the session is with unit A again, not B"
    );
}

#[test]
fn a_terminal_reporting_a_lowercase_serial_authenticates() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), "tty", &["--serial", "old-x7"]);
    let (code, doc) = inspect_json(dir.path(), &sim);
    assert_eq!(code, Some(0), "{doc}");
    // Compared with orders in normal form; the key came from the reported bytes.
    assert_eq!(doc["identity"]["serial"], "OLD-X7");
}

#[test]
fn an_export_short_of_its_announced_record_count_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(
        dir.path(),
        "tty",
        &["--transactions", "300", "--faults", "lie=export_count"],
    );
    let mut t = Terminal::open(&sim.port, &generic_serial()).unwrap();
    t.authenticate(&Secret::new(DEMO_SECRET.as_bytes().to_vec())).unwrap();
    match t.export(Object::TransactionLog, &mut |_, _| {}) {
        Err(TerminalError::Verification { what, .. }) => {
            assert!(what.contains("announced 301 record(s) but sent 300"), "{what}")
        }
        other => panic!("expected a verification failure, got {other:?}"),
    }
}

/// A transfer that stops making progress (the terminal answers commands but sends no more
/// of its log) is resumed once over a new session, then abandoned: within three stall
/// timeouts of its last progress (docs/protocol.md §7), not after eight reconnects.
#[test]
fn a_transfer_that_makes_no_progress_is_abandoned_after_one_resume() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(
        dir.path(),
        "tty",
        &[
            "--transactions",
            "3000",
            "--baud",
            "921600",
            "--faults",
            "lie=stuck_export",
        ],
    );
    let mut t = Terminal::open(&sim.port, &generic_serial()).unwrap();
    t.authenticate(&Secret::new(DEMO_SECRET.as_bytes().to_vec())).unwrap();
    let mut last_progress = std::time::Instant::now();
    let mut held = 0;
    let r = t.export(Object::TransactionLog, &mut |done, _| {
        if done > held {
            held = done;
            last_progress = std::time::Instant::now();
        }
    });
    let quiet = last_progress.elapsed();
    match r {
        Err(TerminalError::Unavailable { source, .. }) => {
            assert!(source.to_string().contains("no progress"), "{source}")
        }
        other => panic!("expected the transfer abandoned, got {other:?}"),
    }
    assert!(held > 0, "the first half came");
    assert_eq!(t.stats().reconnects, 1, "resumed once, not again and again");
    let limit = 3 * posagent::link::proto::BULK_STALL_TIMEOUT + std::time::Duration::from_secs(2);
    assert!(quiet < limit, "abandoned {quiet:?} after the last progress");
}

#[test]
fn a_terminal_that_answers_without_its_proof_is_refused_with_77() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), "tty", &["--faults", "lie=no_proof"]);
    let secret = secret_file(dir.path(), "secret", DEMO_SECRET);
    let out = posagent(dir.path())
        .args(["inspect", "--port"])
        .arg(&sim.port)
        .arg("--secret-file")
        .arg(&secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not prove"));
}

/// Two simulated terminals in one directory, found through `POSAGENT_PORTS`.
fn two_terminals(dir: &std::path::Path) -> (Sim, Sim) {
    (
        Sim::start(dir, "ttyA", &["--serial", "FIND-AAAA"]),
        Sim::start(dir, "ttyB", &["--serial", "FIND-BBBB", "--seed", "2"]),
    )
}

fn inspect_found(dir: &std::path::Path, glob: &str, extra: &[&str]) -> std::process::Output {
    let secret = secret_file(dir, "secret", DEMO_SECRET);
    posagent(dir)
        .env("POSAGENT_PORTS", dir.join(glob))
        .args(["inspect", "--json", "--secret-file"])
        .arg(&secret)
        .args(extra)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap()
}

#[test]
fn without_a_port_the_terminal_is_found_by_itself_or_by_its_serial() {
    let dir = tempfile::tempdir().unwrap();
    let (_a, _b) = two_terminals(dir.path());
    // The only one among the places looked at.
    let out = inspect_found(dir.path(), "ttyA", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_of(&out)["identity"]["serial"], "FIND-AAAA");
    // By serial among several.
    let out = inspect_found(dir.path(), "tty*", &["--serial", "FIND-BBBB"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_of(&out)["identity"]["serial"], "FIND-BBBB");
    // A serial that is not there.
    let out = inspect_found(dir.path(), "tty*", &["--serial", "FIND-CCCC"]);
    assert_eq!(out.status.code(), Some(69));
}

#[test]
fn several_terminals_and_no_one_to_ask_is_a_usage_error_listing_them() {
    let dir = tempfile::tempdir().unwrap();
    let (_a, _b) = two_terminals(dir.path());
    let out = inspect_found(dir.path(), "tty*", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stdout));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FIND-AAAA") && text.contains("FIND-BBBB"), "{text}");
    assert!(text.contains("--port P or --serial SN"), "{text}");
}

#[test]
fn several_terminals_at_the_keyboard_are_offered_in_a_picker() {
    let dir = tempfile::tempdir().unwrap();
    let (_a, _b) = two_terminals(dir.path());
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("posagent"));
    cmd.env("POSAGENT_HOME", dir.path())
        .env("POSAGENT_PORTS", dir.path().join("tty*"))
        .env("POSAGENT_SECRET", DEMO_SECRET)
        .args(["inspect"]);
    let mut p = common::pty::PtyChild::spawn(cmd);
    let wait = std::time::Duration::from_secs(60);
    p.expect("2 terminals answer", wait);
    p.expect("Which one? Type its number (1–2), or Enter for 1:", wait);
    // Something not on the list is asked again, saying how to choose; then a number.
    p.send_line("3");
    p.expect("type a number from 1 to 2", wait);
    let second = if p
        .screen
        .find("2) ")
        .is_some_and(|i| p.screen[i..].lines().next().unwrap().contains("FIND-BBBB"))
    {
        "2"
    } else {
        "1"
    };
    p.send_line(second);
    let status = p.wait(wait);
    assert!(status.success(), "{}", p.screen);
    assert!(p.screen.contains("Using terminal FIND-BBBB"), "{}", p.screen);
    // The list is printed once, numbered; the heading has no placeholder left in it.
    assert!(!p.screen.contains("{$list}"), "{}", p.screen);
}

/// The end of input at the picker (Ctrl-D) chooses nothing: it is no answer, not Enter (it
/// took the first terminal).
#[test]
fn the_end_of_input_at_the_picker_chooses_no_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let (_a, _b) = two_terminals(dir.path());
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("posagent"));
    cmd.env("POSAGENT_HOME", dir.path())
        .env("POSAGENT_PORTS", dir.path().join("tty*"))
        .env("POSAGENT_SECRET", DEMO_SECRET)
        .args(["inspect"]);
    let mut p = common::pty::PtyChild::spawn(cmd);
    let wait = std::time::Duration::from_secs(60);
    p.expect("Which one?", wait);
    p.send_raw(b"\x04");
    let status = p.wait(wait);
    assert_eq!(status.code(), Some(2), "{}", p.screen);
    assert!(p.screen.contains("no terminal chosen"), "{}", p.screen);
    assert!(!p.screen.contains("Using terminal"), "{}", p.screen);
}

/// A phone change for terminal B, from what it holds now, with no port named.
fn phone_order(dir: &std::path::Path, b: &Sim) -> std::path::PathBuf {
    let mut t = common::connect(b);
    let binding = t.read_binding().unwrap();
    drop(t);
    let order = dir.join("phone.toml");
    std::fs::write(
        &order,
        format!(
            "id = \"WO-FIND\"\noperation = \"rebind-phone\"\nprofile = \"generic\"\n\
             [merchant]\nmid = \"{}\"\nname = \"Shop\"\nkind = \"individual\"\nlegal_rep_id = \"110105194910010023\"\n\
             [expect]\nserial = \"FIND-BBBB\"\ntid = \"{}\"\nphone = \"{}\"\n\
             [new]\nphone = \"13900001111\"\nphone_path = \"counter\"\n\
             [scan]\nholder_id = \"holder-id.jpg\"\n",
            binding.mid.unwrap(),
            binding.tid.unwrap(),
            binding.phone.unwrap().as_str()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("holder-id.jpg"), b"scan of the holder's ID").unwrap();
    order
}

#[test]
fn a_job_without_a_port_finds_the_terminal_its_order_names() {
    let dir = tempfile::tempdir().unwrap();
    let (_a, b) = two_terminals(dir.path());
    let secret = secret_file(dir.path(), "secret", DEMO_SECRET);
    let password = secret_file(dir.path(), "password", "a-long-backup-password");
    let order = phone_order(dir.path(), &b);
    let out = posagent(dir.path())
        .env("POSAGENT_PORTS", dir.path().join("tty*"))
        .args(["rebind", "phone", "--yes", "--documents-checked", "--order"])
        .arg(&order)
        .arg("--secret-file")
        .arg(&secret)
        .arg("--password-file")
        .arg(&password)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Using terminal FIND-BBBB"));
    assert!(!stderr.contains('\x1b'), "no colour into a pipe: {stderr}");
    // Every step on its line as `[ok  ] k/N name`, counting up to the plan's length.
    let steps: Vec<(usize, usize)> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("  [ok  ] "))
        .map(|l| {
            let (k, n) = l.split_whitespace().next().unwrap().split_once('/').unwrap();
            (k.parse().unwrap(), n.parse().unwrap())
        })
        .collect();
    let n = steps.len();
    assert!(n > 5, "{stderr}");
    assert_eq!(steps, (1..=n).map(|k| (k, n)).collect::<Vec<_>>(), "{stderr}");
    assert_eq!(
        common::connect(&b).read_binding().unwrap().phone.unwrap().as_str(),
        "13900001111"
    );
}

#[test]
fn step_marks_are_coloured_on_a_terminal_unless_no_color_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let (_a, b) = two_terminals(dir.path());
    let order = phone_order(dir.path(), &b);
    for no_color in [None, Some("1")] {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("posagent"));
        cmd.env("POSAGENT_HOME", dir.path())
            .env("POSAGENT_PORTS", dir.path().join("tty*"))
            .env("POSAGENT_SECRET", DEMO_SECRET)
            .env_remove("NO_COLOR")
            .args(["rebind", "phone", "--dry-run", "--order"])
            .arg(&order);
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let mut p = common::pty::PtyChild::spawn(cmd);
        let status = p.wait(std::time::Duration::from_secs(60));
        assert!(status.success(), "{}", p.screen);
        let green_ok = p.screen.contains("[\x1b[32m\x1b[1mok  \x1b[0m]");
        let plain_ok = p.screen.contains("[ok  ] ");
        match no_color {
            None => assert!(green_ok && !plain_ok, "green on a terminal: {:?}", p.screen),
            Some(_) => assert!(plain_ok && !green_ok, "plain with NO_COLOR: {:?}", p.screen),
        }
    }
}

#[test]
fn quiet_leaves_results_and_errors_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_a, b) = two_terminals(dir.path());
    let order = phone_order(dir.path(), &b);
    let dry_run = |flags: &[&str]| {
        posagent(dir.path())
            .env("POSAGENT_PORTS", dir.path().join("tty*"))
            .env("POSAGENT_SECRET", DEMO_SECRET)
            .args(flags)
            .args(["rebind", "phone", "--dry-run", "--order"])
            .arg(&order)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap()
    };
    let loud = dry_run(&[]);
    let quiet = dry_run(&["-q"]);
    assert!(loud.status.success() && quiet.status.success());
    let loud_err = String::from_utf8_lossy(&loud.stderr);
    assert!(
        loud_err.contains("Using terminal") && loud_err.contains("[ok  ]"),
        "{loud_err}"
    );
    let quiet_err = String::from_utf8_lossy(&quiet.stderr);
    assert!(
        !quiet_err.contains("Using terminal") && !quiet_err.contains("[ok  ]"),
        "{quiet_err}"
    );
    let (q, l) = (
        String::from_utf8_lossy(&quiet.stdout),
        String::from_utf8_lossy(&loud.stdout),
    );
    assert!(
        q.contains("139****1111") && l.contains("139****1111"),
        "the result still says what would change: {q}"
    );
    assert_eq!(q.lines().count(), l.lines().count(), "the same result: {q}");
    let both = dry_run(&["-q", "-v"]);
    assert_eq!(both.status.code(), Some(2), "-q and -v contradict each other");
}

/// What the line went through is in the log at debug level (resends, answers asked for
/// again, timeouts) and counted under `--json`'s `link` for both directions: the
/// terminal's resends as seen here as well as this side's.
#[test]
fn link_events_are_logged_and_counted_in_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(
        dir.path(),
        "tty",
        &[
            "--transactions",
            "2000",
            "--baud",
            "921600",
            "--faults",
            "bitflip=3e-4",
            "--seed",
            "7",
        ],
    );
    let out = common::backup_command(dir.path(), &sim, "link-events-password")
        .env("POSAGENT_LOG", "posagent=debug")
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let link = &json_of(&out)["link"];
    let n = |k: &str| link[k].as_u64().unwrap_or_else(|| panic!("link.{k}: {link}"));
    assert!(n("corrupt_frames") > 0, "{link}");
    assert!(n("peer_retransmissions") > 0, "{link}");
    assert!(n("retransmissions") + n("naks_out") > 0, "{link}");
    let log = std::fs::read_to_string(dir.path().join("logs/posagent.log")).unwrap();
    let events = ["sent again", "asking for the answer again", "retransmission timeout"];
    assert!(
        events.iter().any(|e| log.contains(e)),
        "no link event in the log:\n{log}"
    );
}
