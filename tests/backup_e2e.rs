//! Backups and restores against the simulated terminal, checked with 7z.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{DEMO_SECRET, FAST_BAUD, Sim, bound_card, connect, json_of, posagent, secret_file};
use posagent::link::proto::Object;
use posagent::terminal::model::{Binding, CardBinding, decode_params};

const PASSWORD: &str = "counter-7-backup";

struct Setup {
    dir: tempfile::TempDir,
    sim: Sim,
    secret: PathBuf,
    password: PathBuf,
}

fn setup(transactions: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(
        dir.path(),
        "tty",
        &["--transactions", transactions, "--baud", FAST_BAUD],
    );
    let secret = secret_file(dir.path(), "secret", DEMO_SECRET);
    let password = secret_file(dir.path(), "password", PASSWORD);
    Setup {
        dir,
        sim,
        secret,
        password,
    }
}

impl Setup {
    /// posagent with the operator secret and backup password appended after `args`.
    fn posagent(&self, args: &[&std::ffi::OsStr]) -> std::process::Output {
        posagent(self.dir.path())
            .args(args)
            .arg("--secret-file")
            .arg(&self.secret)
            .arg("--password-file")
            .arg(&self.password)
            .output()
            .unwrap()
    }

    fn backup(&self, out: &Path) -> std::process::Output {
        self.posagent(&[
            "backup".as_ref(),
            "--json".as_ref(),
            "--port".as_ref(),
            self.sim.port.as_ref(),
            "--out".as_ref(),
            out.as_ref(),
        ])
    }

    fn verify(&self, file: &Path, password: &Path) -> (Option<i32>, String) {
        let out = posagent(self.dir.path())
            .args(["backup", "verify"])
            .arg(file)
            .arg("--password-file")
            .arg(password)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
    }
}

fn params_of(t: &mut posagent::terminal::Terminal) -> posagent::terminal::model::Params {
    decode_params(&t.export(Object::Parameters, &mut |_, _| {}).unwrap().data).unwrap()
}

#[test]
fn backup_then_restore_gives_back_the_same_binding_and_parameters() {
    let s = setup("300");
    let (original, original_params) = {
        let mut t = connect(&s.sim);
        (t.read_binding().unwrap(), params_of(&mut t))
    };
    let zip = s.dir.path().join("before.zip");
    let out = s.backup(&zip);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json_of(&out);
    assert_eq!(doc["verified"], true);
    assert_eq!(doc["transactions"], 300);
    // The log crossed the link (deflated: 300 records are about 27 KB as they are).
    let moved = doc["link"]["payload_bytes"].as_u64().unwrap();
    assert!(moved > 5_000 && moved < 20_000, "{moved}");

    // Change the terminal: another card, no phone, different parameters.
    {
        let mut t = connect(&s.sim);
        let mut changed = original.clone();
        changed.card = Some(CardBinding {
            pan: "6228480011223344554".parse().unwrap(),
            holder: "李四".parse().unwrap(),
            expiry: None,
        });
        changed.phone = None;
        t.apply_binding(&changed, None).unwrap();
        let p = [("receipt.copies".to_string(), "9".to_string())].into_iter().collect();
        let bytes = posagent::terminal::model::encode_params(&p);
        t.import(Object::Parameters, &bytes, 1, &mut |_, _| {}).unwrap();
        assert_ne!(t.read_binding().unwrap(), original);
    }

    let out = s.posagent(&[
        "restore".as_ref(),
        "--yes".as_ref(),
        "--json".as_ref(),
        "--port".as_ref(),
        s.sim.port.as_ref(),
        zip.as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // The restore is a job: verified by reading back, with a backup of what it overwrote.
    let doc = json_of(&out);
    assert_eq!(doc["job"]["state"], "done", "{doc}");
    assert!(doc["plan"]["steps"].as_array().unwrap().iter().any(|s| s == "verify"));
    let mut t = connect(&s.sim);
    let restored: Binding = t.read_binding().unwrap();
    assert_eq!(restored, original);
    assert_eq!(params_of(&mut t), original_params);

    let list = posagent(s.dir.path())
        .args(["backup", "list", "--json"])
        .output()
        .unwrap();
    let rows = json_of(&list);
    assert_eq!(
        rows.as_array().unwrap().len(),
        2,
        "the backup, and the one the restore took first"
    );
    let job = doc["job"]["id"].as_str().unwrap();
    let safety = rows.as_array().unwrap().iter().find(|r| r["job_id"] == job).unwrap();
    assert_eq!(safety["terminal_serial"], s.sim.serial.as_str());
    let overwritten = posagent::backup::read_archive(
        std::path::Path::new(safety["file"].as_str().unwrap()),
        PASSWORD.as_bytes(),
    )
    .unwrap();
    assert_eq!(
        overwritten.binding.card.unwrap().pan.expose_full(),
        "6228480011223344554",
        "the changed binding was kept before it was overwritten"
    );
}

#[test]
fn a_restore_is_journaled_audited_and_resumes_after_a_kill() {
    let s = setup("50");
    let zip = s.dir.path().join("before.zip");
    assert!(s.backup(&zip).status.success());
    let original = connect(&s.sim).read_binding().unwrap();
    {
        let mut t = connect(&s.sim);
        let mut changed = original.clone();
        changed.phone = None;
        t.apply_binding(&changed, None).unwrap();
    }
    let restore = |kill: Option<&str>| {
        let mut cmd = posagent(s.dir.path());
        cmd.args(["restore", "--yes", "--port"])
            .arg(&s.sim.port)
            .arg(&zip)
            .arg("--secret-file")
            .arg(&s.secret)
            .arg("--password-file")
            .arg(&s.password);
        if let Some(k) = kill {
            cmd.env("POSAGENT_KILL_AT", k);
        }
        cmd.output().unwrap()
    };
    let killed = restore(Some("after:restore_binding"));
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&killed.status),
        Some(9),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    let store = posagent::store::Store::open(s.dir.path()).unwrap();
    let job = store.jobs().unwrap().remove(0);
    assert_eq!((job.operation.as_str(), job.state.as_str()), ("restore", "running"));
    let steps: Vec<String> = store
        .journal_of(&job.id)
        .unwrap()
        .into_iter()
        .map(|e| e.entry.subject().to_string())
        .collect();
    assert!(
        steps.contains(&"backup".to_string()) && steps.contains(&"restore_binding".to_string()),
        "{steps:?}"
    );
    drop(store);
    let resumed = posagent(s.dir.path())
        .args(["jobs", "resume", &job.id, "--secret-file"])
        .arg(&s.secret)
        .arg("--password-file")
        .arg(&s.password)
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(connect(&s.sim).read_binding().unwrap(), original);
    let store = posagent::store::Store::open(s.dir.path()).unwrap();
    assert_eq!(store.job(&job.id).unwrap().unwrap().state.as_str(), "done");
    let audit = store.verify_audit().unwrap();
    assert!(audit.valid, "{audit:?}");
}

#[test]
fn seven_zip_opens_the_archive_with_the_password_only() {
    let s = setup("50");
    let zip = s.dir.path().join("b.zip");
    assert!(s.backup(&zip).status.success());
    let full_pan = bound_card(&s.sim);

    let seven = |args: &[&str]| {
        Command::new("7z")
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("7z is installed (p7zip-full)")
    };
    let zip_s = zip.to_str().unwrap();
    assert!(seven(&["t", &format!("-p{PASSWORD}"), zip_s]).status.success());
    let out_dir = s.dir.path().join("x");
    let extracted = seven(&[
        "x",
        &format!("-p{PASSWORD}"),
        &format!("-o{}", out_dir.display()),
        zip_s,
    ]);
    assert!(
        extracted.status.success(),
        "{}",
        String::from_utf8_lossy(&extracted.stdout)
    );
    let binding = std::fs::read_to_string(out_dir.join("binding.json")).unwrap();
    assert!(
        binding.contains(&full_pan),
        "the encrypted entry holds the full number for restores"
    );
    assert!(out_dir.join("transactions.jsonl").exists() && out_dir.join("manifest.json").exists());
    // The entries say they are private: extracted, they are readable by their owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out_dir.join("binding.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    assert!(!seven(&["t", "-pnot-the-password", zip_s]).status.success());
    assert!(
        !seven(&["x", &format!("-o{}", s.dir.path().join("y").display()), zip_s])
            .status
            .success()
    );

    // Nowhere in the archive's raw bytes is the card number in clear.
    let raw = std::fs::read(&zip).unwrap();
    assert!(!raw.windows(full_pan.len()).any(|w| w == full_pan.as_bytes()));
}

#[test]
fn every_kind_of_damage_is_a_distinct_error() {
    let s = setup("50");
    let zip = s.dir.path().join("good.zip");
    assert!(s.backup(&zip).status.success());
    let raw = std::fs::read(&zip).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = s.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };

    let wrong = secret_file(s.dir.path(), "wrong", "wrong-password-here");
    assert_eq!(s.verify(&zip, &s.password).0, Some(0));
    let (code, err) = s.verify(&zip, &wrong);
    assert_eq!(code, Some(65));
    assert!(err.contains("wrong password"), "{err}");

    let truncated = write("truncated.zip", &raw[..raw.len() / 2]);
    let (code, err) = s.verify(&truncated, &s.password);
    assert_eq!(code, Some(65));
    assert!(err.contains("not a complete zip archive"), "{err}");

    let name_at = raw.windows(11).position(|w| w == b"params.json").unwrap();
    let mut altered = raw.clone();
    altered[name_at + 11 + 11 + 40] ^= 0x55;
    let altered = write("altered.zip", &altered);
    let (code, err) = s.verify(&altered, &s.password);
    assert_eq!(code, Some(65));
    assert!(err.contains("params.json") && err.contains("altered"), "{err}");

    let missing = s.dir.path().join("missing.zip");
    {
        let mut src = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
        let mut dst = zip::ZipWriter::new(std::fs::File::create(&missing).unwrap());
        for i in 0..src.len() {
            let f = src.by_index_raw(i).unwrap();
            if f.name().unwrap() != "transactions.jsonl" {
                dst.raw_copy_file(f).unwrap();
            }
        }
        dst.finish().unwrap();
    }
    let (code, err) = s.verify(&missing, &s.password);
    assert_eq!(code, Some(65));
    assert!(err.contains("entry transactions.jsonl is missing"), "{err}");

    let future = s.dir.path().join("future.zip");
    let manifest = br#"{"format_version": 99}"#;
    posagent::backup::write_entries(&future, manifest, &[], PASSWORD.as_bytes()).unwrap();
    let (code, err) = s.verify(&future, &s.password);
    assert_eq!(code, Some(65));
    assert!(err.contains("format version 99"), "{err}");
}

#[test]
fn an_existing_archive_is_never_overwritten_without_force() {
    let s = setup("10");
    let zip = s.dir.path().join("b.zip");
    std::fs::write(&zip, b"an older backup").unwrap();
    let out = s.backup(&zip);
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(std::fs::read(&zip).unwrap(), b"an older backup");
}

#[test]
fn restore_refuses_another_terminal_and_needs_confirmation() {
    let s = setup("10");
    let zip = s.dir.path().join("b.zip");
    assert!(s.backup(&zip).status.success());
    let other = Sim::start(s.dir.path(), "tty2", &["--seed", "99", "--baud", FAST_BAUD]);
    let before = connect(&other).read_binding().unwrap();
    let restore = |port: &Path, extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec!["restore".as_ref()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        args.extend([std::ffi::OsStr::new("--port"), port.as_os_str(), zip.as_os_str()]);
        s.posagent(&args)
    };
    let out = restore(&other.port, &["--yes"]);
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--to-replacement"));
    // No terminal to ask on and no --yes: refuse, change nothing.
    let out = restore(&other.port, &["--to-replacement"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(connect(&other).read_binding().unwrap(), before);
}

/// An archive whose manifest truthfully lists `copies` entries of `entry_mib` MiB of zeros
/// each (deflate makes each a few hundred KB), besides a valid binding, parameters and log.
fn zero_bomb(dir: &Path, copies: usize, entry_mib: usize) -> PathBuf {
    use sha2::{Digest, Sha256};
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let aes = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .with_aes_encryption(zip::AesMode::Aes256, PASSWORD);
    // One compressed entry, copied raw under every name.
    let one = dir.join("one.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&one).unwrap());
    w.start_file("zeros", aes).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut sha = Sha256::new();
    for _ in 0..entry_mib {
        w.write_all(&chunk).unwrap();
        sha.update(&chunk);
    }
    w.finish().unwrap();
    let zeros_sha = hex::encode(sha.finalize());
    let binding = br#"{"status":"bound","mid":"822100000000001","tid":"AB12CD34","merchant_name":"Shop","card":null,"account":null,"phone":null}"#;
    let small: [(&str, &[u8]); 3] = [
        ("binding.json", binding),
        ("params.json", b"{}"),
        ("transactions.jsonl", b""),
    ];
    let mut entries: Vec<serde_json::Value> = small
        .iter()
        .map(|(n, b)| serde_json::json!({"name": n, "size": b.len(), "sha256": hex::encode(Sha256::digest(b))}))
        .collect();
    let names: Vec<String> = (0..copies).map(|i| format!("evidence/zeros-{i}.bin")).collect();
    for n in &names {
        entries.push(serde_json::json!({"name": n, "size": entry_mib << 20, "sha256": zeros_sha}));
    }
    let manifest = serde_json::json!({
        "format_version": 1, "agent_version": "0.1.0", "profile": "generic",
        "terminal": {"vendor": "V", "model": "M", "serial": "SN-BOMB", "firmware": "1"},
        "created_at": "2026-11-23T00:00:00Z", "technician": null, "job_id": null, "entries": entries,
    });
    let path = dir.join("bomb.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    w.start_file("manifest.json", aes).unwrap();
    w.write_all(manifest.to_string().as_bytes()).unwrap();
    for (n, b) in small {
        w.start_file(n, aes).unwrap();
        w.write_all(b).unwrap();
    }
    let mut src = zip::ZipArchive::new(std::fs::File::open(&one).unwrap()).unwrap();
    for n in &names {
        w.raw_copy_file_rename(src.by_index_raw(0).unwrap(), n).unwrap();
    }
    w.finish().unwrap();
    path
}

/// Runs `backup verify` on `archive` within [`MAX_VERIFY_MEMORY`] and returns (exit code,
/// stderr).
fn verify_within_memory_limit(home: &Path, archive: &Path, password: &Path) -> (i32, String) {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("posagent"));
    cmd.env("POSAGENT_HOME", home)
        .arg("backup")
        .arg("verify")
        .arg(archive)
        .arg("--password-file")
        .arg(password);
    common::within_memory(cmd, MAX_VERIFY_MEMORY)
}

/// Memory allowed for verifying any archive.
const MAX_VERIFY_MEMORY: u64 = 64 << 20;

#[test]
fn a_zip_bomb_is_refused_within_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let password = secret_file(dir.path(), "password", PASSWORD);
    let bomb = zero_bomb(dir.path(), 12, 250);
    assert!(std::fs::metadata(&bomb).unwrap().len() < 8 << 20);
    let (code, stderr) = verify_within_memory_limit(dir.path(), &bomb, &password);
    assert_eq!(code, 65, "{stderr}");
    assert!(
        stderr.contains(&format!("at most {}", posagent::backup::MAX_TOTAL_SIZE)),
        "{stderr}"
    );
}

#[test]
fn large_entries_within_the_limits_are_verified_by_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let password = secret_file(dir.path(), "password", PASSWORD);
    // 3 × 250 MiB: within the total limit, so every byte is decompressed and hashed.
    let archive = zero_bomb(dir.path(), 3, 250);
    let (code, stderr) = verify_within_memory_limit(dir.path(), &archive, &password);
    assert_eq!(code, 0, "{stderr}");
}

/// A terminal announcing a deflated log of 1 GiB (a decompression bomb of about 1 MiB on
/// the line) is refused at the announcement, before anything is allocated or inflated for
/// it, within the memory a backup needs.
#[test]
fn a_deflated_object_announced_over_the_cap_is_refused_within_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(
        dir.path(),
        "tty",
        &[
            "--transactions",
            "50",
            "--baud",
            FAST_BAUD,
            "--faults",
            "lie=inflated_size",
        ],
    );
    let cmd = common::backup_command(dir.path(), &sim, PASSWORD);
    let (code, stderr) = common::within_memory(cmd, MAX_VERIFY_MEMORY);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("total_len") && stderr.contains("exceeds the limit of 67108864 bytes"),
        "{stderr}"
    );
    assert!(!dir.path().join("b.posbak").exists());
}

/// A large log is backed up within about twice its size plus a fixed allowance: its
/// records are written to the archive as JSON lines one by one, never held decoded or as
/// text all at once (a 40 MB log took 341 MB; 86 MB now).
#[test]
fn a_large_log_is_backed_up_within_twice_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), "tty", &["--transactions", "250000", "--baud", "50000000"]);
    let mut t = connect(&sim);
    let log = t
        .digest(Object::TransactionLog)
        .unwrap()
        .expect("the simulator has DIGEST");
    drop(t);
    let cmd = common::backup_command(dir.path(), &sim, PASSWORD);
    let limit = MAX_VERIFY_MEMORY + 2 * u64::from(log.len);
    let (code, stderr) = common::within_memory(cmd, limit);
    assert_eq!(code, 0, "{} MB log within {} MB: {stderr}", log.len >> 20, limit >> 20);
}

/// posagent as a person runs it: no secret or password files, no environment.
fn at_the_keyboard(home: &Path, args: &[&std::ffi::OsStr]) -> common::pty::PtyChild {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("posagent"));
    cmd.env("POSAGENT_HOME", home)
        .env_remove("POSAGENT_SECRET")
        .env_remove("POSAGENT_BACKUP_PASSWORD")
        .args(args);
    common::pty::PtyChild::spawn(cmd)
}

const PROMPT_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// `posagent backup --port P --out OUT` at the keyboard, answered up to the secret.
fn backup_at_the_keyboard(s: &Setup, out: &Path) -> common::pty::PtyChild {
    let mut p = at_the_keyboard(
        s.dir.path(),
        &[
            "backup".as_ref(),
            "--port".as_ref(),
            s.sim.port.as_ref(),
            "--out".as_ref(),
            out.as_ref(),
        ],
    );
    p.expect("operator secret:", PROMPT_WAIT);
    assert!(
        !p.screen.contains("password"),
        "the password was asked first:\n{}",
        p.screen
    );
    p.send_secret(DEMO_SECRET);
    p
}

#[test]
fn backup_asks_the_secret_first_then_a_new_password_twice() {
    let s = setup("20");
    let out = s.dir.path().join("typed.zip");
    let mut p = backup_at_the_keyboard(&s, &out);
    p.expect("new backup password:", PROMPT_WAIT);
    p.send_secret(PASSWORD);
    p.expect("repeat the new backup password:", PROMPT_WAIT);
    p.send_secret(PASSWORD);
    let status = p.wait(PROMPT_WAIT);
    assert!(status.success(), "{}", p.screen);
    assert!(
        !p.screen.contains(DEMO_SECRET) && !p.screen.contains(PASSWORD),
        "echoed:\n{}",
        p.screen
    );
    assert!(out.exists());
}

#[test]
fn a_mistyped_new_password_or_a_short_one_writes_nothing() {
    let s = setup("20");
    let out = s.dir.path().join("typed.zip");
    for (first, second, expected) in [
        (PASSWORD, "counter-7-backuq", "the two backup passwords differ"),
        ("開心面館開心面館", "", "at least 12 characters"),
    ] {
        let mut p = backup_at_the_keyboard(&s, &out);
        p.expect("new backup password:", PROMPT_WAIT);
        p.send_secret(first);
        if !second.is_empty() {
            p.expect("repeat the new backup password:", PROMPT_WAIT);
            p.send_secret(second);
        }
        let status = p.wait(PROMPT_WAIT);
        assert_eq!(status.code(), Some(65), "{}", p.screen);
        assert!(p.screen.contains(expected), "{}", p.screen);
        assert!(!out.exists());
    }
}

#[test]
fn restore_asks_the_secret_before_the_password() {
    let s = setup("20");
    let archive = s.dir.path().join("b.zip");
    assert!(s.backup(&archive).status.success());
    let mut p = at_the_keyboard(
        s.dir.path(),
        &[
            "restore".as_ref(),
            "--port".as_ref(),
            s.sim.port.as_ref(),
            archive.as_ref(),
        ],
    );
    p.expect("operator secret:", PROMPT_WAIT);
    assert!(
        !p.screen.contains("password"),
        "the password was asked first:\n{}",
        p.screen
    );
    p.send_secret(DEMO_SECRET);
    p.expect("backup password:", PROMPT_WAIT);
    assert!(!p.screen.contains("repeat"), "{}", p.screen);
}

/// Runs `script` (sh) in a private mount namespace where `dir` is a tmpfs of `size`, so
/// that a full disk can be had without touching the machine. `None` when this machine
/// cannot make namespaces (the test then says so and checks nothing).
fn on_a_tiny_disk(dir: &Path, size: &str, script: &str, args: &[&std::ffi::OsStr]) -> Option<std::process::Output> {
    std::fs::create_dir_all(dir).unwrap();
    let probe = std::process::Command::new("unshare").args(["-Urm", "true"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: this machine cannot create a mount namespace (unshare -Urm)");
        return None;
    }
    let full = format!("mount -t tmpfs -o size={size} tmpfs '{}' && {script}", dir.display());
    Some(
        std::process::Command::new("unshare")
            .args(["-Urm", "sh", "-c", &full])
            .arg(assert_cmd::cargo::cargo_bin("posagent"))
            .args(args)
            .env_remove("POSAGENT_SECRET")
            .env_remove("POSAGENT_BACKUP_PASSWORD")
            .output()
            .unwrap(),
    )
}

#[test]
fn a_full_disk_is_named_and_leaves_no_partial_or_unrecorded_archive() {
    let s = setup("3000");
    let small = s.dir.path().join("small");
    let out = small.join("b.zip");
    let script = format!(
        "POSAGENT_HOME='{}' \"$0\" \"$@\"; code=$?; ls -A '{}'; exit $code",
        s.dir.path().display(),
        small.display()
    );
    let Some(run) = on_a_tiny_disk(
        &small,
        "32k",
        &script,
        &[
            "backup".as_ref(),
            "--port".as_ref(),
            s.sim.port.as_ref(),
            "--out".as_ref(),
            out.as_ref(),
            "--secret-file".as_ref(),
            s.secret.as_ref(),
            "--password-file".as_ref(),
            s.password.as_ref(),
        ],
    ) else {
        return;
    };
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the disk is full") && stderr.contains("small"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("os error") && !stderr.contains("disk I/O error"),
        "{stderr}"
    );
    let left = String::from_utf8_lossy(&run.stdout);
    assert_eq!(left.trim(), "", "files left on the full disk: {left}");
    let list = posagent(s.dir.path())
        .args(["backup", "list", "--json"])
        .output()
        .unwrap();
    assert_eq!(json_of(&list), serde_json::json!([]));
}

#[test]
fn a_full_disk_under_the_database_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let script = format!(
        "head -c 1000000 /dev/zero > '{0}/filler' 2>/dev/null; POSAGENT_HOME='{0}' \"$0\" \"$@\"",
        home.display()
    );
    let Some(run) = on_a_tiny_disk(&home, "64k", &script, &["queue".as_ref(), "list".as_ref()]) else {
        return;
    };
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the disk is full") && stderr.contains("posagent.db"),
        "{stderr}"
    );
}

/// A backup's progress on a terminal: one bar per object, each starting empty, never going
/// back, ending at its total; no bar for an empty object; every line within 80 columns
/// (a phantom full bar of 0 B/0 B was drawn first, and one bar restarted per object).
#[test]
fn backup_progress_starts_empty_never_goes_back_and_fits_80_columns() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), "tty", &["--transactions", "3000", "--baud", "115200"]);
    let mut p = common::pty::PtyChild::spawn(common::backup_command(dir.path(), &sim, PASSWORD));
    let bars = common::pty::bars_of_success(&mut p);
    common::pty::assert_progress(&bars, 2, &p.screen);
}

/// A terminal named by its port alone is backed up as the profile it answers as (the
/// provider root it names), not as the generic one: restoring the archive on it is then
/// that profile's restore, not a refusal of the archive's profile.
#[test]
fn a_terminal_named_by_its_port_is_backed_up_as_the_profile_it_answers_as() {
    use common::jobs::{BACKUP_PASSWORD, Bench, start_sim};
    let bench = Bench::default();
    let sim = start_sim(&bench, "tty", &[]);
    let port = sim.port.to_str().unwrap();
    let zip = bench.path().join("lakala.zip");
    let out = bench
        .command(&["backup", "--json", "--port", port, "--out", zip.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let opened = posagent::backup::read_archive(&zip, BACKUP_PASSWORD.as_bytes()).unwrap();
    assert_eq!(opened.manifest.profile, "lakala");

    let restore = bench
        .command(&["restore", zip.to_str().unwrap(), "--port", port, "--yes", "--json"])
        .output()
        .unwrap();
    let doc = json_of(&restore);
    // What the terminal holds is what the archive holds: nothing to write, no order needed.
    assert_eq!(
        (doc["job"]["state"].as_str(), doc["job"]["profile"].as_str()),
        (Some("done"), Some("lakala")),
        "{doc}"
    );
}
