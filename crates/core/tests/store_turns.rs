//! Writers of one process take turns on the database: a depot's jobs, each with its own
//! connection, queue on the process's write turn instead of polling SQLite's lock (which
//! backs off to 100 ms a try, most of it with the lock free again). Its own process, so the
//! count of waits is this test's alone.

use posagent_core::store::{BackupRecord, Store, busy_waits};

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
                }
            });
        }
    });
    assert_eq!(
        Store::open(dir.path()).unwrap().backups().unwrap().len(),
        threads * writes
    );
    assert_eq!(busy_waits(), 0, "writers of one process met on SQLite's lock");
}
