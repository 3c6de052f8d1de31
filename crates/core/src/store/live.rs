//! Which jobs are being carried on right now. A process running a job holds the
//! operating system's lock on a file of the job's own (`<data>/jobs/<id>.lock`: `flock` on
//! Unix, `LockFileEx` on Windows), which the system lets go when the process ends, however
//! it ends. A job recorded `running` whose lock nobody holds was cut off (killed, power
//! lost): it is shown interrupted, and a resume may take it over. A job whose lock is held
//! is not resumed or aborted by anyone else.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use super::jobs::{JobRecord, JobState};

/// The directory of the lock files, under the data directory.
pub const LOCK_DIR: &str = "jobs";

/// A job's lock, held for as long as this value lives. The (empty) file stays: removing
/// it could let two processes lock two different files of the same name.
#[derive(Debug)]
pub struct JobLock {
    _file: File,
}

fn lock_file(data: &Path, job_id: &str) -> PathBuf {
    data.join(LOCK_DIR).join(format!("{job_id}.lock"))
}

/// Takes job `job_id`'s lock: `None` when another process (or another job thread of this
/// one) holds it.
pub fn take(data: &Path, job_id: &str) -> std::io::Result<Option<JobLock>> {
    crate::private::dir(&data.join(LOCK_DIR))?;
    let path = lock_file(data, job_id);
    let file = crate::private::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(JobLock { _file: file })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// Whether some process holds job `job_id`'s lock now.
pub fn is_live(data: &Path, job_id: &str) -> bool {
    let path = lock_file(data, job_id);
    let Ok(file) = std::fs::OpenOptions::new().write(true).open(&path) else {
        return false;
    };
    matches!(file.try_lock(), Err(TryLockError::WouldBlock))
}

/// Where a job stands as people should see it: a job recorded `running` that no process
/// carries on is `interrupted` (it was cut off and waits for a resume).
pub fn state_now(data: &Path, job: &JobRecord) -> JobState {
    if job.state == JobState::Running && !is_live(data, &job.id) {
        JobState::Interrupted
    } else {
        job.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_lock_is_held_until_dropped_and_a_cut_off_job_shows_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let job = super::super::jobs::tests::job_record("J-1", "SN1");
        assert_eq!(state_now(dir.path(), &job), JobState::Interrupted, "nobody runs it");
        let held = take(dir.path(), "J-1").unwrap().expect("free at first");
        assert!(is_live(dir.path(), "J-1"));
        assert_eq!(state_now(dir.path(), &job), JobState::Running);
        assert!(take(dir.path(), "J-1").unwrap().is_none(), "held");
        drop(held);
        assert!(!is_live(dir.path(), "J-1"));
        assert!(take(dir.path(), "J-1").unwrap().is_some(), "free again");
    }
}
