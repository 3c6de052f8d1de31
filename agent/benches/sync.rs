//! Outbox throughput on loopback over TLS against the simulated provider:
//! - enqueue rate: finished jobs queued per second, each durable (SQLite FULL sync);
//! - drain: `posagent sync` delivering 10,000 queued submissions (target ≥ 2,000/s);
//! - the naive client on the same 10,000: one request per submission on a fresh TLS
//!   connection each, recording each answer, against a fresh provider.
//!
//! Run: `cargo bench --bench sync` (`SYNC_SUBMISSIONS` changes the count).

mod common;
#[path = "../../tests/common/sync.rs"]
mod outbox;

use std::time::Instant;

use outbox::{Provider, fill_outbox};
use posagent::seal::LocalKeys;
use posagent::store::Store;
use posagent::store::outbox::Outcome;
use posagent::sync::api::{self, Batch, BatchAnswer, Status};
use posagent::sync::client::{Client, ProviderSettings};
use posagent::sync::drain;

fn settings(p: &Provider) -> ProviderSettings {
    ProviderSettings {
        url: p.url.clone(),
        ca: Some(p.ca.clone()),
        pins: vec![],
        client_cert: None,
        client_key: None,
        agent_key_file: p.agent_key.clone(),
    }
}

/// One request per submission, each on a new connection (TCP, TLS, health probe).
async fn naive(home: &std::path::Path, client: &Client) -> usize {
    let mut store = Store::open(home).unwrap();
    let keys = LocalKeys::load_or_create(home).unwrap();
    let mut accepted = 0;
    while let Some(c) = store.claim_due(&posagent::store::now(), 1).unwrap().pop() {
        let s = &c.submission;
        let item = drain::item(&keys, &c).unwrap();
        let body = serde_json::to_vec(&Batch {
            submissions: vec![item],
        })
        .unwrap();
        let mut session = client.connect().await.unwrap();
        let reply = session.send(&client.sign(api::BATCH_PATH, body)).await.unwrap();
        let answer: BatchAnswer = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(answer.results[0].status, Status::Accepted);
        let outcome = Outcome::Accepted {
            receipt: answer.results[0].receipt.clone().unwrap_or_default(),
        };
        store.record_outcomes(&[(s.id.clone(), outcome)]).unwrap();
        accepted += 1;
    }
    accepted
}

fn main() {
    let n: usize = std::env::var("SYNC_SUBMISSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let (home, naive_home) = (dir.path().join("agent"), dir.path().join("naive"));

    let start = Instant::now();
    fill_outbox(&home, n);
    let enqueue = n as f64 / start.elapsed().as_secs_f64();
    fill_outbox(&naive_home, n);

    let provider = Provider::start(&dir.path().join("provider"), 0, &[]);
    let flags: Vec<String> = provider.flags();
    let args: Vec<&str> = std::iter::once("sync")
        .chain(flags.iter().map(String::as_str))
        .collect();
    let (doc, drain_secs) = common::timed_json(&home, &args);
    assert_eq!(doc["tally"]["accepted"].as_u64(), Some(n as u64), "{doc}");
    assert_eq!(provider.report()["changes_applied"].as_u64(), Some(n as u64));

    let fresh = Provider::start(&dir.path().join("provider-naive"), 0, &[]);
    let client = Client::new(&settings(&fresh)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    let accepted = rt.block_on(naive(&naive_home, &client));
    let naive_secs = start.elapsed().as_secs_f64();
    assert_eq!(accepted, n);

    let (drain, naive_rate) = (n as f64 / drain_secs, n as f64 / naive_secs);
    println!(
        "| submissions | enqueue (/s, durable) | drain time (s) | drain (/s) | naive time (s) | naive (/s) | ratio |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {n} | {enqueue:.0} | {drain_secs:.2} | {drain:.0} | {naive_secs:.2} | {naive_rate:.0} | {:.1}× |",
        drain / naive_rate
    );
}
