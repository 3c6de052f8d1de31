//! Proving a phone number before it is bound (and, where the profile asks, before a card
//! changes): a one-time code through the simulated provider over loopback TLS, read from a
//! code file or typed at a prompt on a pseudo-terminal; the provider's signed attestation
//! offline; the counter path with its documents. Whatever happens, the code is never kept.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::jobs::*;
use common::pty::PtyChild;
use common::sync::Provider;
use common::{Sim, connect, json_of, posagent};

const TECH: &str = "tech-phone";

/// A desk with a terminal and a provider it is configured for.
struct World {
    bench: Bench,
    sim: Sim,
    /// `None` once the network is gone.
    provider: Option<Provider>,
    sms_log: PathBuf,
    _provider_dir: tempfile::TempDir,
}

fn world(provider_args: &[&str]) -> World {
    world_of("lakala", provider_args)
}

/// A desk with a terminal of `profile` and a provider it is configured for.
fn world_of(profile: &str, provider_args: &[&str]) -> World {
    let bench = Bench::default();
    let sim = start_sim(&bench, "ttyP", &["--serial", "PHONE-0001", "--profile", profile]);
    let provider_dir = tempfile::tempdir().unwrap();
    let sms_log = provider_dir.path().join("sms.jsonl");
    let mut args = vec!["--sms-log", sms_log.to_str().unwrap()];
    args.extend_from_slice(provider_args);
    let provider = Provider::start(provider_dir.path(), 0, &args);
    configure(&bench, &provider);
    World {
        bench,
        sim,
        provider: Some(provider),
        sms_log,
        _provider_dir: provider_dir,
    }
}

/// config.toml of `bench`: the technician, and `provider` to reach.
fn configure(bench: &Bench, provider: &Provider) {
    provider.configure(bench.path(), TECH);
}

impl World {
    /// The provider issues `rows` (orders' fields), signed: it starts again with them in
    /// its plan (its keys, ledger and SMS log kept, `args` as given), and the technician
    /// pulls them. Returns the pulled order ids, as the command line takes them.
    fn issue(&mut self, args: &[&str], rows: &[Vec<(&str, String)>]) -> Vec<PathBuf> {
        let plan = provider_plan(&self.bench, TECH, rows);
        let dir = self._provider_dir.path().to_path_buf();
        self.provider = None;
        let mut all = vec![
            "--orders",
            plan.to_str().unwrap(),
            "--sms-log",
            self.sms_log.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        let provider = Provider::start(&dir, 0, &all);
        configure(&self.bench, &provider);
        self.provider = Some(provider);
        let pulled = self.bench.pull();
        assert_eq!(pulled["kept"].as_array().unwrap().len(), rows.len(), "{pulled}");
        rows.iter()
            .map(|r| PathBuf::from(&r.iter().find(|(k, _)| *k == "id").unwrap().1))
            .collect()
    }

    /// The code in the `n`th message (from 1) of the SMS log, waiting for it to be sent.
    fn code(&self, n: usize, to: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&self.sms_log).unwrap_or_default();
            if let Some(line) = text.lines().nth(n - 1) {
                let m: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(m["phone"], to, "{line}");
                assert!(m["expires_at"].is_string(), "{line}");
                return m["code"].as_str().unwrap().to_string();
            }
            assert!(Instant::now() < deadline, "no code was sent");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn report(&self) -> serde_json::Value {
        self.provider.as_ref().expect("a provider").report()
    }

    fn messages(&self) -> usize {
        std::fs::read_to_string(&self.sms_log)
            .unwrap_or_default()
            .lines()
            .count()
    }

    /// `posagent ARGS` on a pseudo-terminal, with the secrets from files.
    fn on_pty(&self, args: &[&str]) -> PtyChild {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("posagent"));
        cmd.env("POSAGENT_HOME", self.bench.path())
            .env("LANG", "C.UTF-8")
            .env_remove("LC_ALL")
            .env_remove("POSAGENT_LANG")
            .args(args)
            .arg("--secret-file")
            .arg(&self.bench.secret)
            .arg("--password-file")
            .arg(&self.bench.password);
        PtyChild::spawn(cmd)
    }

    fn phone(&self) -> String {
        connect(&self.sim)
            .read_binding()
            .unwrap()
            .phone
            .unwrap()
            .as_str()
            .to_string()
    }

    /// Nothing waits for the provider.
    fn nothing_queued(&self) {
        let counts = self.bench.store().outbox_counts().unwrap();
        assert!(counts.values().all(|n| *n == 0), "{counts:?}");
    }
}

/// Every file the agent keeps (database with its journal, logs, backups, receipts) and everything it
/// printed: the code must be in none of them, as a word of its own or inside JSON.
fn assert_code_kept_nowhere(home: &Path, code: &str, printed: &[&str]) {
    let bounded = |hay: &[u8]| {
        hay.windows(code.len() + 2).any(|w| {
            &w[1..=code.len()] == code.as_bytes()
                && !w[0].is_ascii_alphanumeric()
                && !w[code.len() + 1].is_ascii_alphanumeric()
        })
    };
    let mut seen = Vec::new();
    for entry in walk(home) {
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        let kept = name.starts_with(posagent::store::DB_FILE)
            || ["logs", "backups", "receipts"]
                .iter()
                .any(|d| entry.components().any(|c| c.as_os_str() == *d));
        if kept {
            let bytes = std::fs::read(&entry).unwrap();
            assert!(
                !bounded(&[b" ", &bytes[..], b" "].concat()),
                "the code is in {}",
                entry.display()
            );
            seen.push(name);
        }
    }
    assert!(
        seen.iter().any(|n| n == posagent::store::DB_FILE) && seen.iter().any(|n| n.ends_with(".log")),
        "the scan read the database and the log: {seen:?}"
    );
    for p in printed {
        assert!(!bounded(format!(" {p} ").as_bytes()), "the code was printed: {p}");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out
}

fn other_code(code: &str, k: u32) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + k) % 1_000_000)
}

/// The provider confirms it sent the code half a second after the message went out, so the
/// code file is written before the agent hears that a code was sent: a regression, the
/// agent once waited for a write after that moment and missed this one.
#[test]
fn sms_online_with_a_code_file_then_delivered_with_its_confirmation() {
    let mut w = world(&[]);
    let args = ["--faults", "delay=500ms", "--sms-ttl", "20"];
    let order = w.issue(&args, &[phone_fields(&w.sim, "WO-SMS-1", "sms")]).remove(0);
    let code_file = w.bench.path().join("code.txt");
    let mut args = rebind_args("phone", &w.sim, &order);
    args.extend(["--sms-code-file", code_file.to_str().unwrap()]);
    let job = std::thread::scope(|s| {
        let job = s.spawn(|| w.bench.run(&args));
        let code = w.code(1, NEW_PHONE);
        std::fs::write(&code_file, format!("{code}\n")).unwrap();
        (job.join().unwrap(), code)
    });
    let (out, code) = job;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.phone(), NEW_PHONE);
    assert!(!code_file.exists(), "the code file is removed once read");
    let journal = w.bench.store().journal_of(&the_job(&w.bench).id).unwrap();
    let proof = journal
        .iter()
        .find(|e| e.entry.subject() == "verify_phone" && e.entry.phase().as_str() == "done")
        .expect("verify_phone done");
    let confirmation = proof.entry.detail()["confirmation_id"].as_str().unwrap().to_string();
    assert!(confirmation.starts_with("pvc-"), "{proof:?}");
    assert_eq!(proof.entry.detail()["phone"], "139****1111");
    // The provider accepts the change because it issued that confirmation.
    let sync = posagent(w.bench.path()).args(["sync", "--json"]).output().unwrap();
    assert!(sync.status.success(), "{}", stderr(&sync));
    let report = w.report();
    assert_eq!(report["accepted"], 1, "{report}");
    let printed = [
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    ];
    assert_code_kept_nowhere(w.bench.path(), &code, &[&printed[0], &printed[1]]);
}

/// A phone change stopped before its number was proven is resumed by a script, which hands
/// the code over in a file as `rebind phone` takes it.
#[test]
fn a_resumed_phone_change_takes_its_code_from_a_file() {
    let w = world(&[]);
    let order = phone_order_by(&w.bench, &w.sim, "WO-SMS-6", "sms");
    let killed = w
        .bench
        .command(&rebind_args("phone", &w.sim, &order))
        .args(["--yes", "--json"])
        .env("POSAGENT_KILL_AT", "before:verify_phone")
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert_ne!(killed.status.code(), Some(0), "{}", stderr(&killed));
    let job = the_job(&w.bench);
    let code_file = w.bench.path().join("resume-code.txt");
    let resumed = std::thread::scope(|s| {
        let resume = s.spawn(|| {
            w.bench
                .command(&[
                    "jobs",
                    "resume",
                    &job.id,
                    "--yes",
                    "--sms-code-file",
                    code_file.to_str().unwrap(),
                ])
                .args(["--json"])
                .timeout(Duration::from_secs(120))
                .output()
                .unwrap()
        });
        std::fs::write(&code_file, w.code(1, NEW_PHONE)).unwrap();
        resume.join().unwrap()
    });
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert_eq!(w.phone(), NEW_PHONE);
}

#[test]
fn sms_online_through_a_prompt() {
    let w = world(&[]);
    let order = phone_order_by(&w.bench, &w.sim, "WO-SMS-2", "sms");
    let mut p = w.on_pty(&[&rebind_args("phone", &w.sim, &order)[..], &["--yes"]].concat());
    p.expect("Code the merchant received:", Duration::from_secs(60));
    assert!(p.screen.contains("139****1111"), "{}", p.screen);
    let code = w.code(1, NEW_PHONE);
    p.send_secret(&code);
    let status = p.wait(Duration::from_secs(60));
    assert!(status.success(), "{}", p.screen);
    assert_eq!(w.phone(), NEW_PHONE);
    assert_code_kept_nowhere(w.bench.path(), &code, &[&p.screen]);
}

/// Ctrl-C at the code prompt ends the command at once (exit 130): the job is left
/// interrupted (resumable, never `running`), the terminal unchanged, the echo back on. A
/// regression: the prompt once kept waiting after "stopping after the current step".
#[test]
fn ctrl_c_at_the_code_prompt_exits_130_and_changes_nothing() {
    let w = world(&[]);
    let before = w.phone();
    let order = phone_order_by(&w.bench, &w.sim, "WO-SMS-CTRLC", "sms");
    let mut p = w.on_pty(&[&rebind_args("phone", &w.sim, &order)[..], &["--yes"]].concat());
    p.expect("Code the merchant received:", Duration::from_secs(60));
    w.code(1, NEW_PHONE);
    p.send_raw(b"\x03");
    let status = p.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(130), "{}", p.screen);
    assert!(p.terminal_echoes(), "the echo is back on after the hidden prompt");
    assert_eq!(w.phone(), before);
    let job = the_job(&w.bench);
    assert_eq!(job.state.as_str(), "interrupted", "{}", p.screen);
    assert!(
        p.screen.contains(&format!("posagent jobs resume {}", job.id)),
        "{}",
        p.screen
    );
    w.nothing_queued();
}

#[test]
fn three_wrong_codes_refuse_and_change_nothing() {
    let w = world(&[]);
    let before = w.phone();
    let order = phone_order_by(&w.bench, &w.sim, "WO-SMS-3", "sms");
    let mut p = w.on_pty(&[&rebind_args("phone", &w.sim, &order)[..], &["--yes"]].concat());
    let code = w.code(1, NEW_PHONE);
    for k in 1..=3 {
        p.expect(&format!("{} attempts left", 4 - k), Duration::from_secs(60));
        p.send_secret(&other_code(&code, k));
    }
    let status = p.wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(65), "{}", p.screen);
    assert!(p.screen.contains("not the one sent"), "{}", p.screen);
    assert_eq!(w.phone(), before, "the terminal is unchanged");
    assert_eq!(the_job(&w.bench).state.as_str(), "refused");
    w.nothing_queued();
    assert_code_kept_nowhere(w.bench.path(), &code, &[&p.screen]);
}

#[test]
fn an_expired_code_is_refused() {
    let w = world(&["--sms-ttl", "2"]);
    let before = w.phone();
    let order = phone_order_by(&w.bench, &w.sim, "WO-SMS-4", "sms");
    let mut p = w.on_pty(&[&rebind_args("phone", &w.sim, &order)[..], &["--yes"]].concat());
    p.expect("Code the merchant received:", Duration::from_secs(60));
    let code = w.code(1, NEW_PHONE);
    std::thread::sleep(Duration::from_secs(3));
    p.send_secret(&code);
    let status = p.wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(65), "{}", p.screen);
    assert!(p.screen.contains("expired"), "{}", p.screen);
    assert_eq!(w.phone(), before);
    w.nothing_queued();
}

#[test]
fn sms_offline_without_attestation_exits_69_and_changes_nothing() {
    let mut w = world(&[]);
    let before = w.phone();
    let order = phone_order_by(&w.bench, &w.sim, "WO-SMS-5", "sms");
    w.provider = None;
    let out = w.bench.run(&rebind_args("phone", &w.sim, &order));
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let doc = json_of(&out);
    assert_eq!(doc["code"], "provider_unreachable", "{doc}");
    let message = doc["error"].as_str().unwrap();
    assert!(
        message.contains("counter path") && message.contains("Nothing was changed"),
        "{message}"
    );
    // What the terminal holds, as `inspect` reads it.
    let inspect = posagent(w.bench.path())
        .args(["inspect", "--json", "--port", w.sim.port.to_str().unwrap()])
        .arg("--secret-file")
        .arg(&w.bench.secret)
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    let shown = json_of(&inspect)["binding"]["phone"].as_str().unwrap().to_string();
    assert_eq!(shown, format!("{}****{}", &before[..3], &before[7..]));
    assert_eq!(w.messages(), 0);
    w.nothing_queued();
}

#[test]
fn a_pre_verified_signed_order_succeeds_offline() {
    pre_verified_offline("WO-PRE-1", NEW_PHONE);
}

/// The attested number in international form (`+86…`, as docs/sync-api.md allows) is the
/// same number: it was refused as another one.
#[test]
fn an_attested_number_written_with_plus_86_is_the_same_number() {
    pre_verified_offline("WO-PRE-2", &format!("+86{NEW_PHONE}"));
}

/// A phone change whose signed order attests `attested` as verified, carried out offline.
fn pre_verified_offline(id: &str, attested: &str) {
    let mut w = world(&[]);
    let mut fields = phone_fields(&w.sim, id, "sms");
    fields.extend([
        ("checks.phone_verified_at", "2026-11-01T09:00:00Z".to_string()),
        ("checks.phone_verified_number", attested.to_string()),
    ]);
    // The provider issues the order, the agent pulls it, then the network goes.
    w.issue(&[], &[fields]);
    w.provider = None;
    let out = w
        .bench
        .run(&["rebind", "phone", "--port", w.sim.port.to_str().unwrap(), "--order", id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.phone(), NEW_PHONE);
    let journal = w.bench.store().journal_of(&the_job(&w.bench).id).unwrap();
    let proof = journal
        .iter()
        .find(|e| e.entry.subject() == "verify_phone" && e.entry.phase().as_str() == "done")
        .unwrap();
    assert_eq!(
        proof.entry.detail()["attested_at"],
        "2026-11-01T09:00:00+00:00",
        "{proof:?}"
    );
    assert_eq!(w.messages(), 0, "no code was sent");
}

#[test]
fn the_counter_path_needs_its_documents_and_the_technicians_word() {
    let w = world(&[]);
    let before = w.phone();
    // Without the scan of the holder's ID the order is refused as data (exit 65).
    let mut fields = expect_fields(&w.sim, "WO-CTR-1", "rebind-phone", "lakala");
    fields.extend([
        ("new.phone", NEW_PHONE.to_string()),
        ("new.phone_path", "counter".to_string()),
    ]);
    let bare = w.bench.order("bare.toml", &fields);
    let out = w.bench.rebind("phone", &w.sim, &bare);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(stderr(&out).contains("scan.holder_id"), "{}", stderr(&out));
    // A 0-byte file is no scan of anything: refused the same way, saying so.
    std::fs::write(w.bench.path().join("empty-id.jpg"), b"").unwrap();
    let mut fields = expect_fields(&w.sim, "WO-CTR-0", "rebind-phone", "lakala");
    fields.extend([
        ("new.phone", NEW_PHONE.to_string()),
        ("new.phone_path", "counter".to_string()),
        ("scan.holder_id", "empty-id.jpg".to_string()),
    ]);
    let empty = w.bench.order("empty.toml", &fields);
    let out = w.bench.rebind("phone", &w.sim, &empty);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("scan.holder_id") && stderr(&out).contains("is empty (0 bytes)"),
        "{}",
        stderr(&out)
    );
    // With it but without --documents-checked: refused before any change.
    let order = phone_order_by(&w.bench, &w.sim, "WO-CTR-2", "counter");
    let out = w.bench.run(&rebind_args("phone", &w.sim, &order));
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert_eq!(json_of(&out)["code"], "documents_not_checked");
    assert_eq!(w.phone(), before);
    // With both, it goes through, with the technician's name as the one who saw them.
    let order = phone_order_by(&w.bench, &w.sim, "WO-CTR-3", "counter");
    let out = w.bench.rebind("phone", &w.sim, &order);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.phone(), NEW_PHONE);
    let jobs = w.bench.store().jobs().unwrap();
    let done = jobs.iter().find(|j| j.order_id == "WO-CTR-3").unwrap();
    let journal = w.bench.store().journal_of(&done.id).unwrap();
    let proof = journal
        .iter()
        .find(|e| e.entry.subject() == "verify_phone" && e.entry.phase().as_str() == "done")
        .unwrap();
    assert_eq!(proof.entry.detail()["documents_checked_by"], TECH);
    assert_eq!(w.messages(), 0);
}

#[test]
fn a_card_change_the_provider_confirms_by_sms() {
    let mut w = world_of("shengpay", &[]);
    let bound = w.phone();
    let mut fields = card_fields(&w.sim, "WO-CARD-SMS", NEW_CARD);
    for f in &mut fields {
        if f.0 == "profile" {
            f.1 = "shengpay".into();
        }
    }
    let order = w.issue(&[], &[fields]).remove(0);
    let code_file = w.bench.path().join("card-code.txt");
    let mut args = rebind_args("card", &w.sim, &order);
    args.extend([
        "--sms-code-file",
        code_file.to_str().unwrap(),
        "--cooldown-checked-by-provider",
    ]);
    let out = std::thread::scope(|s| {
        let job = s.spawn(|| w.bench.run(&args));
        // The code goes to the phone bound now.
        let code = w.code(1, &bound);
        std::fs::write(&code_file, &code).unwrap();
        job.join().unwrap()
    });
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(common::bound_card(&w.sim).ends_with(&NEW_CARD[NEW_CARD.len() - 4..]));
    let sync = posagent(w.bench.path()).args(["sync", "--json"]).output().unwrap();
    assert!(sync.status.success(), "{}", stderr(&sync));
    assert_eq!(w.report()["accepted"], 1);
}

/// No order is sent more than 3 codes and no number more than 5 in any hour, however many
/// jobs ask (docs/sync-api.md, "Limits on codes"): the fourth code of an order and the
/// sixth to a number are refused before anything is sent (`code_limit`), and the provider
/// refuses the same to another laptop, which has no record of the codes sent before.
#[test]
fn codes_are_limited_per_order_and_per_number_by_the_agent_and_the_provider() {
    let w = world(&["--sms-ttl", "1"]);
    let attempt = |bench: &Bench, order: &Path| {
        // A code file nobody writes: each job sends its code, which expires unused.
        let never = bench.path().join("never.txt");
        let mut args = rebind_args("phone", &w.sim, order);
        args.extend(["--sms-code-file", never.to_str().unwrap()]);
        let out = bench.run(&args);
        assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
        json_of(&out)
    };
    let first = phone_order_by(&w.bench, &w.sim, "WO-LIM-1", "sms");
    for sent in 1..=3 {
        assert_eq!(attempt(&w.bench, &first)["code"], "code_expired");
        assert_eq!(w.messages(), sent);
    }
    let refused = attempt(&w.bench, &first);
    assert_eq!(refused["code"], "code_limit", "{refused}");
    let message = refused["error"].as_str().unwrap();
    assert!(message.contains("WO-LIM-1") && message.contains("3 codes"), "{message}");
    assert_eq!(w.messages(), 3, "no fourth code for one order");
    // Other orders to the same number: two more codes, then the number's limit.
    for (id, sent) in [("WO-LIM-2", 4), ("WO-LIM-3", 5)] {
        let order = phone_order_by(&w.bench, &w.sim, id, "sms");
        assert_eq!(attempt(&w.bench, &order)["code"], "code_expired");
        assert_eq!(w.messages(), sent);
    }
    let order = phone_order_by(&w.bench, &w.sim, "WO-LIM-4", "sms");
    let refused = attempt(&w.bench, &order);
    assert_eq!(refused["code"], "code_limit", "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("5 codes"), "{refused}");
    assert_eq!(w.messages(), 5, "no sixth code to one number");
    // Another laptop asks for the same number: the provider says no.
    let other = Bench::default();
    configure(&other, w.provider.as_ref().unwrap());
    let order = phone_order_by(&other, &w.sim, "WO-LIM-5", "sms");
    let refused = attempt(&other, &order);
    assert_eq!(refused["code"], "code_limit", "{refused}");
    assert_eq!(w.messages(), 5, "the provider sent no sixth code");
}
