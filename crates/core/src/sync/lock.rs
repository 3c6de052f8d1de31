//! One delivery run per data directory: a second run could put the first one's submissions
//! in flight back in the queue. The lock is the operating system's own file lock on
//! `<data>/sync.lock` (`flock` on Unix, `LockFileEx` on Windows), released when the file is
//! closed, so a run that crashes never leaves it held.

use std::fs::{File, TryLockError};
use std::path::Path;

/// The lock file under the data directory.
pub const LOCK_FILE: &str = "sync.lock";

/// Takes the delivery lock of `data`: the open, locked file to keep for as long as the
/// run lasts, or `None` when another run holds it.
pub fn one_delivery_run(data: &Path) -> std::io::Result<Option<File>> {
    crate::private::dir(data)?;
    let file = crate::private::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data.join(LOCK_FILE))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_finds_the_lock_held_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let first = one_delivery_run(dir.path()).unwrap().expect("free at first");
        assert!(one_delivery_run(dir.path()).unwrap().is_none(), "held by the first run");
        drop(first);
        assert!(one_delivery_run(dir.path()).unwrap().is_some(), "free again");
    }
}
