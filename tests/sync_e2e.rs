//! Delivery to the simulated provider over real TLS on loopback: queueing while it is down,
//! exactly-once application however the network or the agent fails, and refusals.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::jobs::*;
use common::posagent;
use common::sync::{Provider, assert_applied_once, fill_outbox, free_port, outbox_counts, report};
use posagent::sim::provider::certs::{ServerValidity, generate};
use posagent::sync::client::{Client, ProviderSettings};

fn sync(home: &Path, flags: &[String]) -> std::process::Output {
    posagent(home)
        .arg("sync")
        .args(flags)
        .timeout(Duration::from_secs(400))
        .output()
        .unwrap()
}

fn count(home: &Path, state: &str) -> i64 {
    outbox_counts(home).get(state).copied().unwrap_or(0)
}

fn integrity_ok(db: &Path) {
    let c = rusqlite::Connection::open(db).unwrap();
    let r: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(r, "ok", "{}", db.display());
}

#[test]
fn jobs_queue_while_the_provider_is_down_and_each_is_accepted_once_when_it_is_up() {
    let bench = Bench::default();
    let providers = tempfile::tempdir().unwrap();
    let port = free_port();
    // Certificates exist before the provider first runs, as with a provider's real CA.
    generate(providers.path(), ServerValidity::Current).unwrap();
    let flags = vec![
        "--provider".to_string(),
        format!("https://127.0.0.1:{port}"),
        "--provider-ca".to_string(),
        providers.path().join("ca.pem").display().to_string(),
        "--agent-key-file".to_string(),
        providers.path().join("agent.key").display().to_string(),
    ];
    // Generic terminals and local orders: what is delivered is the point here.
    let a = start_sim(&bench, "a", &["--profile", "generic"]);
    let b = start_sim(&bench, "b", &["--seed", "2", "--profile", "generic"]);
    for (sim, id) in [(&a, "WO-Q-1"), (&b, "WO-Q-2")] {
        let order = phone_order_as(&bench, sim, id, "counter", "generic");
        let out = bench.rebind("phone", sim, &order);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    assert_eq!(count(bench.path(), "pending"), 2);

    let down = sync(bench.path(), &flags);
    assert_eq!(down.status.code(), Some(69), "{}", stderr(&down));
    assert!(stderr(&down).contains("cannot reach the provider"), "{}", stderr(&down));
    let queued = bench.store().submissions().unwrap();
    assert!(
        queued.iter().all(|s| s.state.as_str() == "pending" && s.attempts == 0),
        "an unreachable provider costs no attempt: {queued:?}"
    );

    let provider = Provider::start(providers.path(), port, &[]);
    let up = sync(bench.path(), &flags);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    assert_eq!(count(bench.path(), "accepted"), 2);
    let again = sync(bench.path(), &flags);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let r = provider.report();
    assert_eq!(
        (r["accepted"].as_u64(), r["deliveries"].as_u64()),
        (Some(2), Some(2)),
        "{r}"
    );
    assert_applied_once(&r);
    for s in bench.store().submissions().unwrap() {
        assert!(s.receipt.as_deref().unwrap_or("").starts_with("PRV-"), "{s:?}");
    }
}

#[test]
fn a_refused_submission_shows_on_its_job_with_the_reason() {
    let bench = Bench::default();
    let providers = tempfile::tempdir().unwrap();
    let provider = Provider::start(providers.path(), 0, &["--faults", "reject=1"]);
    let sim = start_sim(&bench, "tty", &["--profile", "generic"]);
    let order = phone_order_as(&bench, &sim, "WO-REJ-1", "counter", "generic");
    assert_eq!(bench.rebind("phone", &sim, &order).status.code(), Some(0));
    let out = sync(bench.path(), &provider.flags());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("refused by the provider"), "{}", stderr(&out));
    let job = the_job(&bench);
    let show = posagent(bench.path()).args(["jobs", "show", &job.id]).output().unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("review"), "{text}");
    assert!(text.contains("restore"), "the way back is named: {text}");
    assert_eq!(provider.report()["rejected"].as_u64(), Some(1));
}

#[test]
fn an_agent_killed_mid_sync_loses_nothing_and_nothing_is_applied_twice() {
    let home = tempfile::tempdir().unwrap();
    let providers = tempfile::tempdir().unwrap();
    const N: usize = 1500;
    fill_outbox(home.path(), N);
    let provider = Provider::start(providers.path(), 0, &["--faults", "delay=40ms"]);
    let flags = provider.flags();
    for extra_ms in [0u64, 30, 70, 110] {
        let accepted_before = count(home.path(), "accepted");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_posagent"))
            .env("POSAGENT_HOME", home.path())
            .arg("sync")
            .args(&flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill only once this run has delivered something: in the middle of a sync.
        let deadline = Instant::now() + Duration::from_secs(60);
        while count(home.path(), "accepted") == accepted_before {
            assert!(Instant::now() < deadline, "the sync delivered nothing");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(extra_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        integrity_ok(&home.path().join("posagent.db"));
    }
    assert!(
        count(home.path(), "accepted") < N as i64,
        "every kill hit a sync in progress"
    );
    let out = sync(home.path(), &flags);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(count(home.path(), "accepted"), N as i64);
    let r = provider.report();
    assert_eq!(r["accepted"].as_u64(), Some(N as u64), "every submission arrived");
    assert_eq!(r["changes_applied"].as_u64(), Some(N as u64), "and none twice");
    assert_applied_once(&r);
    integrity_ok(&home.path().join("posagent.db"));
    integrity_ok(&providers.path().join("provider.sqlite"));
}

#[test]
fn resets_after_the_provider_committed_still_apply_each_submission_once() {
    let home = tempfile::tempdir().unwrap();
    let providers = tempfile::tempdir().unwrap();
    const N: usize = 400;
    fill_outbox(home.path(), N);
    // Small batches for many requests; quick retries to keep the test short.
    std::fs::write(
        home.path().join("config.toml"),
        "[provider]\nbatch_size = 25\nretry_base_ms = 50\n",
    )
    .unwrap();
    let provider = Provider::start(
        providers.path(),
        0,
        &[
            "--faults",
            "reset_after=0.4,reset_before=0.1,unavailable=0.1,slow_handshake=50ms",
            "--seed",
            "7",
        ],
    );
    let mut flags = provider.flags();
    flags.extend(["--max-wait".into(), "120".into()]);
    let out = sync(home.path(), &flags);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(count(home.path(), "accepted"), N as i64);
    let r = provider.report();
    assert_eq!(r["accepted"].as_u64(), Some(N as u64));
    assert!(
        r["deliveries"].as_u64().unwrap() > N as u64,
        "some batches were committed, reset and sent again: {}",
        r["deliveries"]
    );
    assert_eq!(r["changes_applied"].as_u64(), Some(N as u64));
    assert_applied_once(&r);
}

#[test]
fn an_untrusted_provider_or_a_refused_client_certificate_stops_with_nothing_sent() {
    let home = tempfile::tempdir().unwrap();
    fill_outbox(home.path(), 5);
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let good = Provider::start(dirs[0].path(), 0, &["--require-client-cert"]);
    generate(dirs[1].path(), ServerValidity::Current).unwrap();
    generate(dirs[2].path(), ServerValidity::Expired).unwrap();
    let expired = Provider::start(dirs[2].path(), 0, &[]);
    let with = |provider: &Provider, ca: &Path, client: Option<&Path>| {
        let mut f = provider.flags();
        f[3] = ca.display().to_string();
        if let Some(dir) = client {
            f.extend([
                "--client-cert".into(),
                dir.join("client.pem").display().to_string(),
                "--client-key".into(),
                dir.join("client.key").display().to_string(),
            ]);
        }
        f
    };
    let other_ca = dirs[1].path().join("ca.pem");
    let cases = [
        (
            with(&good, &other_ca, Some(dirs[0].path())),
            "not signed by a CA this agent trusts",
        ),
        (with(&expired, &expired.ca, None), "expired"),
        (with(&good, &good.ca, None), "requires a client certificate"),
        (
            with(&good, &good.ca, Some(dirs[1].path())),
            "did not accept this agent's client certificate",
        ),
    ];
    for (flags, expected) in &cases {
        let out = sync(home.path(), flags);
        assert_eq!(out.status.code(), Some(77), "{expected}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{expected}: {}", stderr(&out));
        assert_eq!(count(home.path(), "pending"), 5, "nothing marked sent");
        let subs = posagent::store::Store::open(home.path())
            .unwrap()
            .submissions()
            .unwrap();
        assert!(subs.iter().all(|s| s.attempts == 0), "{subs:?}");
    }
    assert_eq!(good.report()["deliveries"].as_u64(), Some(0));
    assert_eq!(report(dirs[2].path())["deliveries"].as_u64(), Some(0));
    let out = sync(home.path(), &with(&good, &good.ca, Some(dirs[0].path())));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(good.report()["accepted"].as_u64(), Some(5));
}

fn pin_of(cert: &Path) -> String {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use sha2::Digest;
    let der = CertificateDer::from_pem_file(cert).unwrap();
    hex::encode(sha2::Sha256::digest(der.as_ref()))
}

#[test]
fn a_pinned_certificate_must_match() {
    let home = tempfile::tempdir().unwrap();
    fill_outbox(home.path(), 3);
    let dir = tempfile::tempdir().unwrap();
    let provider = Provider::start(dir.path(), 0, &[]);
    let other = tempfile::tempdir().unwrap();
    generate(other.path(), ServerValidity::Current).unwrap();
    let config = |pin: &str| {
        std::fs::write(
            home.path().join("config.toml"),
            format!("[provider]\npins = [\"{pin}\"]\n"),
        )
        .unwrap();
    };
    config(&pin_of(&other.path().join("server.pem")));
    let out = sync(home.path(), &provider.flags());
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    assert!(stderr(&out).contains("not one of the pinned"), "{}", stderr(&out));
    assert_eq!(count(home.path(), "pending"), 3);
    config(&pin_of(&dir.path().join("server.pem")));
    let out = sync(home.path(), &provider.flags());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_replayed_or_altered_signed_request_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let provider = Provider::start(dir.path(), 0, &[]);
    let settings = ProviderSettings {
        url: provider.url.clone(),
        ca: Some(provider.ca.clone()),
        pins: vec![],
        client_cert: None,
        client_key: None,
        agent_key_file: provider.agent_key.clone(),
    };
    let client = Client::new(&settings).unwrap();
    let item = serde_json::json!({ "submissions": [{
        "id": "0190-replay", "idempotency_key": "job-replay", "kind": "unbind", "order_id": "WO-R",
        "job_id": "replay", "created_at": "2026-11-22T00:00:00.000Z",
        "payload": { "merchant": { "mid": "898000000000777" }, "verification": { "read_back": "match" } },
        "sensitive": {},
    }]});
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut session = client.connect().await.unwrap();
        let signed = client.sign(posagent::sync::api::BATCH_PATH, item.to_string().into_bytes());
        let first = session.send(&signed).await.unwrap();
        assert_eq!(first.status, 200, "{:?}", first.body);
        let replay = session.send(&signed).await.unwrap();
        assert_eq!(replay.status, 401);
        assert!(String::from_utf8_lossy(&replay.body).contains("replayed"));
        let mut altered = client.sign(posagent::sync::api::BATCH_PATH, item.to_string().into_bytes());
        altered.body = item.to_string().replace("WO-R", "WO-X").into();
        let refused = session.send(&altered).await.unwrap();
        assert_eq!(refused.status, 401);
        assert!(String::from_utf8_lossy(&refused.body).contains("bad_signature"));
    });
    assert_eq!(provider.report()["deliveries"].as_u64(), Some(1));
}

#[test]
fn a_wrong_agent_key_is_refused_and_nothing_is_marked_sent() {
    let home = tempfile::tempdir().unwrap();
    fill_outbox(home.path(), 2);
    let dir = tempfile::tempdir().unwrap();
    let provider = Provider::start(dir.path(), 0, &[]);
    let wrong = home.path().join("wrong.key");
    std::fs::write(&wrong, "ab".repeat(32)).unwrap();
    let mut flags = provider.flags();
    flags[5] = wrong.display().to_string();
    let out = sync(home.path(), &flags);
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    assert!(stderr(&out).contains("unknown_key"), "{}", stderr(&out));
    assert_eq!(count(home.path(), "pending"), 2);
}

#[test]
fn watch_delivers_once_the_provider_appears_and_stops_cleanly_on_ctrl_c() {
    let home = tempfile::tempdir().unwrap();
    fill_outbox(home.path(), 60);
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), ServerValidity::Current).unwrap();
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_posagent"))
        .env("POSAGENT_HOME", home.path())
        .args(["sync", "--watch", "--interval", "1", "--json", "--provider"])
        .arg(format!("https://127.0.0.1:{port}"))
        .arg("--provider-ca")
        .arg(dir.path().join("ca.pem"))
        .arg("--agent-key-file")
        .arg(dir.path().join("agent.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(count(home.path(), "pending"), 60);
    let provider = Provider::start(dir.path(), port, &["--faults", "delay=30ms"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(home.path(), "accepted") < 60 {
        assert!(
            Instant::now() < deadline,
            "watch did not deliver: {:?}",
            outbox_counts(home.path())
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let second = sync(home.path(), &provider.flags());
    assert_eq!(second.status.code(), Some(69), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("another `posagent sync`"),
        "{}",
        stderr(&second)
    );
    fill_outbox(home.path(), 40);
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a clean stop");
    let mut events = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut events).unwrap();
    assert!(events.contains("\"event\":\"unreachable\""), "{events}");
    assert!(events.contains("\"event\":\"connected\""), "{events}");
    for line in events.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["event"].is_string(), "{line}");
    }
    assert!(
        events.lines().last().unwrap().contains("\"event\":\"summary\""),
        "{events}"
    );
    assert_eq!(count(home.path(), "sending"), 0, "nothing left in flight");
    let out = sync(home.path(), &provider.flags());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = provider.report();
    assert_eq!(r["accepted"].as_u64(), Some(100));
    assert_applied_once(&r);
}

#[test]
fn the_openapi_file_names_the_endpoints_and_headers_the_code_uses() {
    use posagent::sync::api;
    let spec = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/sync-api.yaml")).unwrap();
    let lower = spec.to_ascii_lowercase();
    for needle in [
        api::HEALTH_PATH,
        api::BATCH_PATH,
        api::ORDERS_PATH,
        api::KEYS_PATH,
        api::PHONE_VERIFICATIONS_PATH,
        api::HEADER_KEY_ID,
        api::HEADER_TIMESTAMP,
        api::HEADER_NONCE,
        api::HEADER_SIGNATURE,
    ] {
        assert!(lower.contains(needle), "docs/sync-api.yaml lacks {needle}");
    }
    assert!(spec.contains(&format!("maxItems: {}", api::MAX_BATCH)));
    for kind in api::KINDS {
        assert!(spec.contains(kind), "docs/sync-api.yaml lacks kind {kind}");
    }
}

/// Flags for one delivery round that does not wait for retries.
fn once(p: &Provider) -> Vec<String> {
    let mut f = p.flags();
    f.extend(["--max-wait".to_string(), "0".to_string()]);
    f
}

/// `[provider]` settings in the data directory's config.toml.
fn provider_config(home: &Path, lines: &str) {
    std::fs::write(home.join("config.toml"), format!("[provider]\n{lines}\n")).unwrap();
}

#[test]
fn an_answer_over_the_size_limit_is_cut_off_and_nothing_is_marked_delivered() {
    let home = tempfile::tempdir().unwrap();
    let providers = tempfile::tempdir().unwrap();
    let provider = Provider::start(providers.path(), 0, &["--faults", "huge_answer=1"]);
    fill_outbox(home.path(), 3);
    let out = sync(home.path(), &once(&provider));
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert_eq!(count(home.path(), "accepted"), 0);
    assert_eq!(count(home.path(), "pending"), 3);
    for s in posagent::store::Store::open(home.path())
        .unwrap()
        .submissions()
        .unwrap()
    {
        assert!(
            s.reason.as_deref().unwrap_or("").contains("longer than 4194304 bytes"),
            "{s:?}"
        );
    }
}

#[test]
fn an_acceptance_without_a_receipt_is_retried_not_recorded_as_done() {
    let home = tempfile::tempdir().unwrap();
    let providers = tempfile::tempdir().unwrap();
    let port = free_port();
    provider_config(home.path(), "retry_base_ms = 50");
    fill_outbox(home.path(), 2);
    {
        let broken = Provider::start(providers.path(), port, &["--faults", "no_receipt=1"]);
        let out = sync(home.path(), &once(&broken));
        assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
        assert_eq!(count(home.path(), "accepted"), 0, "accepted without a receipt");
    }
    let fixed = Provider::start(providers.path(), port, &[]);
    let out = sync(home.path(), &fixed.flags());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let store = posagent::store::Store::open(home.path()).unwrap();
    for s in store.submissions().unwrap() {
        assert_eq!(s.state.as_str(), "accepted");
        assert!(s.receipt.as_deref().is_some_and(|r| r.starts_with("PRV-")), "{s:?}");
    }
    assert_applied_once(&fixed.report());
}

#[test]
fn retry_after_holds_back_every_batch_on_the_connection() {
    let home = tempfile::tempdir().unwrap();
    let providers = tempfile::tempdir().unwrap();
    let provider = Provider::start(providers.path(), 0, &["--faults", "throttle_first=2s"]);
    fill_outbox(home.path(), 3);
    provider_config(home.path(), "batch_size = 1\nretry_base_ms = 50");
    let asked = chrono::Utc::now();
    let out = sync(home.path(), &provider.flags());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = provider.report();
    for s in r["submissions"].as_array().unwrap() {
        let first = chrono::DateTime::parse_from_rfc3339(s["first_at"].as_str().unwrap()).unwrap();
        assert!(
            first.with_timezone(&chrono::Utc) - asked >= chrono::Duration::milliseconds(1900),
            "{s} arrived before the Retry-After of the first answer ran out"
        );
    }
    assert_eq!(r["accepted"].as_u64(), Some(3));
}

#[test]
fn a_rejected_submission_is_judged_again_after_queue_retry() {
    let bench = Bench::default();
    let providers = tempfile::tempdir().unwrap();
    let port = free_port();
    let sim = start_sim(&bench, "tty", &["--profile", "generic"]);
    let order = phone_order_as(&bench, &sim, "WO-AGAIN-1", "counter", "generic");
    assert_eq!(bench.rebind("phone", &sim, &order).status.code(), Some(0));
    {
        let strict = Provider::start(providers.path(), port, &["--faults", "reject=1"]);
        let out = sync(bench.path(), &once(&strict));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    }
    let store = bench.store();
    let rejected = store.submissions().unwrap().remove(0);
    assert_eq!(rejected.code.as_deref(), Some("review"));
    assert!(
        !rejected.reason.as_deref().unwrap().starts_with("review:"),
        "code and reason apart: {rejected:?}"
    );
    let retry = posagent(bench.path())
        .args(["queue", "retry", &rejected.id])
        .output()
        .unwrap();
    assert!(retry.status.success(), "{}", stderr(&retry));
    let lenient = Provider::start(providers.path(), port, &[]);
    let out = sync(bench.path(), &lenient.flags());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(bench.store().submissions().unwrap()[0].state.as_str(), "accepted");
    assert_applied_once(&lenient.report());
}
