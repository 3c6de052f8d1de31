//! The simulated provider as a process, and an outbox filled through the store calls a
//! finished job uses. Shared by the sync tests and the drain benchmark.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use posagent::sim::harness::SimProcess;

use posagent::seal::LocalKeys;
use posagent::store::Store;
use posagent::store::jobs::{JobKind, JobRecord, JobState, NewJob};
use posagent::store::outbox::NewSubmission;

/// A `posagent sim provider` process, killed when dropped.
pub struct Provider {
    process: SimProcess,
    pub dir: PathBuf,
    pub url: String,
    pub ca: PathBuf,
    pub agent_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Provider {
    /// Starts a provider with its files in `dir` on `127.0.0.1:port` (0: any).
    pub fn start(dir: &Path, port: u16, args: &[&str]) -> Provider {
        let listen = format!("127.0.0.1:{port}");
        let tls_dir = dir.display().to_string();
        let all: Vec<&str> = ["provider", "--listen", &listen, "--tls-dir", &tls_dir]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        let exe = Path::new(env!("CARGO_BIN_EXE_posagent"));
        let process = SimProcess::start(exe, dir, &all, false).expect("start the simulated provider");
        let v = process.announced.clone();
        let path = |k: &str| PathBuf::from(v[k].as_str().unwrap());
        Provider {
            process,
            dir: dir.to_path_buf(),
            url: v["url"].as_str().unwrap().to_string(),
            ca: path("ca"),
            agent_key: path("agent_key"),
            client_cert: path("client_cert"),
            client_key: path("client_key"),
        }
    }

    /// `sync` flags that reach this provider and trust it.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--provider".into(),
            self.url.clone(),
            "--provider-ca".into(),
            self.ca.display().to_string(),
            "--agent-key-file".into(),
            self.agent_key.display().to_string(),
        ]
    }

    /// Writes config.toml in `home`: `technician`, and this provider to reach.
    pub fn configure(&self, home: &Path, technician: &str) {
        std::fs::write(
            home.join("config.toml"),
            format!(
                "technician = \"{technician}\"\n[provider]\nurl = \"{}\"\nca = \"{}\"\nagent_key_file = \"{}\"\n",
                self.url,
                self.ca.display(),
                self.agent_key.display(),
            ),
        )
        .unwrap();
    }

    /// What the provider has applied.
    pub fn report(&self) -> serde_json::Value {
        report(&self.dir)
    }
}

/// `posagent sim provider --report` for the provider files in `dir`.
pub fn report(dir: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_posagent"))
        .args(["sim", "provider", "--report", "--tls-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every submission the provider answered was applied at most once, and the accepted
/// ones exactly once.
pub fn assert_applied_once(report: &serde_json::Value) {
    for s in report["submissions"].as_array().unwrap() {
        let expected = u64::from(s["status"] == "accepted");
        assert_eq!(s["applied"].as_u64(), Some(expected), "{s}");
    }
}

/// Queues `n` finished phone rebinds (each its own merchant) in the outbox of `home`,
/// through `Store::create_job` and `Store::finish_job`, as a job does.
pub fn fill_outbox(home: &Path, n: usize) {
    let mut store = Store::open(home).unwrap();
    let keys = LocalKeys::load_or_create(home).unwrap();
    for i in 0..n {
        let mut job = JobRecord::new(
            NewJob {
                order_id: String::new(),
                operation: JobKind::Procedure(posagent::order::Operation::RebindPhone),
                profile: "generic".into(),
                order_file: "plan.csv".into(),
                order_sha256: "00".repeat(32),
                terminal_serial: format!("SN{i:08}"),
                replacement_serial: None,
                port: "/dev/null".into(),
                replacement_port: None,
                technician: "sync-test".into(),
            },
            JobState::Running,
        );
        job.id = format!("J{i:06}-{}", uuid::Uuid::now_v7().simple());
        // Every job its own order: a provider carries an order out once.
        job.order_id = format!("WO-{}", job.id);
        store.create_job(&job).unwrap();
        let payload = serde_json::json!({
            "kind": "rebind-phone",
            "merchant": { "mid": format!("898{i:012}"), "name": "Test shop" },
            "terminal": job.terminal_serial,
            "verification": { "read_back": "match" },
            "phone_proof": { "path": "counter", "documents": ["scan.holder_id"], "documents_checked_by": "sync-test" },
        });
        let sensitive = serde_json::json!({ "new": { "phone": format!("139{i:08}") } });
        let submission = NewSubmission {
            id: uuid::Uuid::now_v7().to_string(),
            idempotency_key: format!("job-{}", job.id),
            job_id: job.id.clone(),
            order_id: job.order_id.clone(),
            kind: job.operation.to_string(),
            payload,
            sealed: keys.seal(sensitive.to_string().as_bytes()),
        };
        store.finish_job(&job, &submission, &[]).unwrap();
    }
}

/// Counts of the outbox states in `home`.
pub fn outbox_counts(home: &Path) -> std::collections::BTreeMap<String, i64> {
    Store::open(home).unwrap().outbox_counts().unwrap()
}
