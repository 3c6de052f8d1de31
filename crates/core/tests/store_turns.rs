//! Writers of one process take turns on the database: a depot's jobs, each with its own
//! store, share the process's one connection and queue on it instead of polling SQLite's
//! lock (which backs off to 100 ms a try, most of it with the lock free again). Its own
//! process, so the count of waits is this test's alone. They also wait for the disk together: one flush of
//! the WAL file covers every commit written before it, and the audit head file is rewritten
//! by the last of a run of them.

use posagent_core::store::audit::AuditEntry;
use posagent_core::store::{BackupRecord, Store, audit_head_writes, busy_waits, wal_flushes};

#[test]
fn writers_in_one_process_never_wait_on_the_database_lock() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path()).unwrap();
    let (threads, writes) = (16, 25);
    std::thread::scope(|s| {
        for t in 0..threads {
            let dir = dir.path();
            s.spawn(move || {
                let mut store = Store::open(dir).unwrap();
                for i in 0..writes {
                    store
                        .record_backup(&BackupRecord {
                            id: 0,
                            created_at: format!("2026-12-05T10:{t:02}:{i:02}Z"),
                            terminal_serial: format!("SN-{t}"),
                            profile: "generic".into(),
                            file: format!("/backups/{t}-{i}.zip"),
                            size: 1,
                            sha256: "00".into(),
                            transactions: 0,
                            job_id: None,
                        })
                        .unwrap();
                    store
                        .audit(&AuditEntry::new(
                            "tester",
                            Some(&format!("SN-{t}")),
                            None,
                            "backup.recorded",
                            "ok",
                            serde_json::json!({ "n": i }),
                        ))
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(
        Store::open(dir.path()).unwrap().backups().unwrap().len(),
        threads * writes
    );
    assert_eq!(busy_waits(), 0, "writers of one process met on SQLite's lock");
    // Each write returned only after a flush that covered it; writers that committed while
    // another flushed shared the next one.
    let flushes = wal_flushes();
    assert!(flushes > 0, "no write was flushed");
    assert!(
        flushes < (2 * threads * writes) as u64,
        "{flushes} flushes for {} writes: every writer waited for the disk alone",
        2 * threads * writes
    );
    // The head file is rewritten once a run of writers waiting one after another, not once
    // a flush; and it ends naming the chain's last record.
    let heads = audit_head_writes();
    assert!(heads > 0, "the audit head was never written");
    // (Written each flush that covered a new audit record, it was most of them: 102 of 124.)
    assert!(
        heads * 2 < flushes,
        "{heads} audit head files written for {flushes} flushes"
    );
    let store = Store::open(dir.path()).unwrap();
    let report = store.verify_audit().unwrap();
    assert!(report.valid, "{report:?}");
    let head = std::fs::read_to_string(dir.path().join(posagent_core::store::audit::HEAD_FILE)).unwrap();
    assert!(
        head.starts_with(&format!("{} ", threads * writes)),
        "head {head:?} is not the chain's last record"
    );
}
