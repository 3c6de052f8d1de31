//! Files only the technician's account may read: the data directory (0700) and every file
//! in it that holds personal data or keys (0600): the database and its WAL, backups, the
//! audit head, keys, and what the demo writes. On Windows a file under the user's profile
//! directory is private to that user by default, so nothing more is done there.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Open options that create a file readable and writable by its owner only.
pub fn options() -> OpenOptions {
    #[cfg(unix)]
    {
        let mut o = OpenOptions::new();
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        o
    }
    #[cfg(not(unix))]
    OpenOptions::new()
}

/// Creates (or truncates) a private file for writing.
pub fn create(path: &Path) -> std::io::Result<File> {
    options().write(true).create(true).truncate(true).open(path)
}

/// Writes a new private file; fails if it exists.
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    options()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
}

/// Replaces a private file whole: written under a unique name, then renamed over it, so a
/// reader sees the old or the new content, never half.
pub fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::now_v7().simple()));
    let written = write_new(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Makes an existing file private (for files another library created, e.g. SQLite's).
pub fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates a directory (and its parents) and makes it private to its owner.
pub fn dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_owner_only() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("data");
        dir(&sub).unwrap();
        assert_eq!(mode(&sub), 0o700);
        let f = sub.join("a");
        write_new(&f, b"x").unwrap();
        assert_eq!(mode(&f), 0o600);
        replace(&f, b"y").unwrap();
        assert_eq!((mode(&f), std::fs::read(&f).unwrap()), (0o600, b"y".to_vec()));
        assert_eq!(std::fs::read_dir(&sub).unwrap().count(), 1, "no temporary file left");
    }
}
