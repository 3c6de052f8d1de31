//! A job's journal lines wait for the disk only where losing them would be noticed: the
//! lines of a check (which changes nothing and uses nothing up) are committed and go on,
//! and the next line that must reach the disk takes them with it. Its own process, so the
//! count of flushes is this test's alone.

use posagent_core::journal::{Entry, Step};
use posagent_core::procedure::Operation;
use posagent_core::store::jobs::{JobKind, JobRecord, JobState, NewJob};
use posagent_core::store::{Store, wal_flushes};

#[test]
fn a_checks_journal_lines_go_to_disk_with_the_next_change_not_each_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let job = JobRecord::new(
        NewJob {
            order_id: "WO-1".into(),
            operation: JobKind::Procedure(Operation::Unbind),
            profile: "generic".into(),
            order_file: "order.toml".into(),
            order_sha256: "00".into(),
            terminal_serial: "SN-1".into(),
            replacement_serial: None,
            port: "/dev/null".into(),
            replacement_port: None,
            technician: "tester".into(),
        },
        JobState::Running,
    );
    store.create_job(&job).unwrap();

    let before = wal_flushes();
    let checks = [
        Step::CheckIdentity,
        Step::Authenticate,
        Step::CompareBinding,
        Step::CheckDocuments,
    ];
    for step in checks {
        store.journal(&job, &Entry::Intent(step)).unwrap();
    }
    assert_eq!(wal_flushes(), before, "a check's journal line waited for the disk");

    // The phone check spends a code: its line waits, and so does a change's.
    store.journal(&job, &Entry::Intent(Step::VerifyPhone)).unwrap();
    assert_eq!(
        wal_flushes(),
        before + 1,
        "the phone check's line did not wait for the disk"
    );
    store.journal(&job, &Entry::Intent(Step::UnbindOld)).unwrap();
    assert_eq!(wal_flushes(), before + 2, "a change's line did not wait for the disk");

    // Every line is there, in order, read from another connection.
    let steps: Vec<Entry> = Store::open(dir.path())
        .unwrap()
        .journal_of(&job.id)
        .unwrap()
        .into_iter()
        .map(|l| l.entry)
        .collect();
    let want: Vec<Entry> = checks
        .into_iter()
        .chain([Step::VerifyPhone, Step::UnbindOld])
        .map(Entry::Intent)
        .collect();
    assert_eq!(steps, want);
}
