//! Reading the files a user hands to posagent (orders, plans, archives, config, profile
//! overrides, key, secret and password files, evidence) with bounded time and memory.
//!
//! Anything that is not a regular file (a FIFO, a device, a socket) is refused before it is
//! opened, because opening a FIFO for reading blocks until a writer appears and a device
//! such as `/dev/zero` never ends. Pseudo-files (`/proc`, `/sys`) pass as regular files
//! but report a size that is not what they hold; they are refused when the bytes read
//! differ from the size the file system reported. Every read is capped.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest order file or plan read (a 100,000-row plan is about 20 MiB of CSV at most
/// with long names; real plans are far smaller).
pub const MAX_ORDER_FILE: u64 = 32 << 20;
/// Largest `config.toml` or profile override read.
pub const MAX_CONFIG_FILE: u64 = 1 << 20;
/// Largest key, secret, password or SMS-code file read.
pub const MAX_SECRET_FILE: u64 = 4 << 10;
/// Largest certificate or CA bundle read.
pub const MAX_CERT_FILE: u64 = 1 << 20;
/// Largest evidence scan attached to an order or a backup.
pub const MAX_EVIDENCE_FILE: u64 = 16 << 20;
/// Largest backup archive opened.
pub const MAX_ARCHIVE_FILE: u64 = 1 << 30;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{}", crate::tr!("input-not-regular", what = .what.as_str(), path = .path.display().to_string(), kind = kind_label(.kind)))]
    NotRegular {
        what: String,
        path: PathBuf,
        kind: &'static str,
    },
    #[error("{}", crate::tr!("input-too-large", what = .what.as_str(), path = .path.display().to_string(), limit = *.limit))]
    TooLarge { what: String, path: PathBuf, limit: u64 },
    #[error("{}", crate::tr!("input-unstable", what = .what.as_str(), path = .path.display().to_string()))]
    Unstable { what: String, path: PathBuf },
    /// A secret file with nothing in it but a newline.
    #[error("{}", crate::tr!("secret-file-empty", what = .what.as_str(), file = .path.display().to_string()))]
    Empty { what: String, path: PathBuf },
    #[error("{}", crate::tr!("input-io", what = .what.as_str(), path = .path.display().to_string(), reason = describe_io(.source)))]
    Io {
        what: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl InputError {
    /// Whether the file simply does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Reads a secret file (`what`: whose secret); one trailing newline (LF or CRLF) is not part
/// of the secret.
pub fn read_secret(path: &Path, what: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, InputError> {
    let mut bytes = zeroize::Zeroizing::new(read_regular(
        path,
        MAX_SECRET_FILE,
        &crate::tr!("what-secret-file", what = what),
    )?);
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    if bytes.is_empty() {
        return Err(InputError::Empty {
            what: what.to_string(),
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
}

/// What kind of special file `kind_of` found, as a person reads it.
fn kind_label(kind: &str) -> String {
    match kind {
        "fifo" => crate::tr!("filekind-fifo"),
        "device" => crate::tr!("filekind-device"),
        "socket" => crate::tr!("filekind-socket"),
        "directory" => crate::tr!("filekind-directory"),
        _ => crate::tr!("filekind-special"),
    }
}

fn kind_of(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "fifo";
        }
        if ft.is_char_device() || ft.is_block_device() {
            return "device";
        }
        if ft.is_socket() {
            return "socket";
        }
    }
    if ft.is_dir() { "directory" } else { "special" }
}

/// Opens a regular file of at most `limit` bytes, checking its type before opening it.
/// Returns the file and its size.
pub fn open_regular(path: &Path, limit: u64, what: &str) -> Result<(File, u64), InputError> {
    let io = |source| InputError::Io {
        what: what.to_string(),
        path: path.to_path_buf(),
        source,
    };
    let check = |meta: &std::fs::Metadata| {
        if !meta.is_file() {
            return Err(InputError::NotRegular {
                what: what.to_string(),
                path: path.to_path_buf(),
                kind: kind_of(meta.file_type()),
            });
        }
        if meta.len() > limit {
            return Err(InputError::TooLarge {
                what: what.to_string(),
                path: path.to_path_buf(),
                limit,
            });
        }
        Ok(meta.len())
    };
    check(&std::fs::metadata(path).map_err(io)?)?;
    let file = File::open(path).map_err(io)?;
    // The path may have been swapped between the check and the open.
    let len = check(&file.metadata().map_err(io)?)?;
    Ok((file, len))
}

/// Reads a whole regular file of at most `limit` bytes.
pub fn read_regular(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, InputError> {
    let (file, len) = open_regular(path, limit, what)?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(len + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Io {
            what: what.to_string(),
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 != len {
        return Err(InputError::Unstable {
            what: what.to_string(),
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
}

/// Reads a whole regular UTF-8 text file of at most `limit` bytes, without the byte-order
/// mark an editor may have put first. More than one is refused: the second would be read
/// as part of the first name or value.
pub fn read_text(path: &Path, limit: u64, what: &str) -> Result<String, InputError> {
    let invalid = |reason: String| InputError::Io {
        what: what.to_string(),
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, reason),
    };
    let mut text = String::from_utf8(read_regular(path, limit, what)?)
        .map_err(|e| invalid(crate::tr!("input-not-utf8", reason = e.to_string())))?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
        if text.starts_with('\u{feff}') {
            return Err(invalid(crate::tr!("input-two-boms")));
        }
    }
    Ok(text)
}

/// An I/O failure in words a technician can act on, in the current language: a full disk
/// says so plainly instead of "No space left on device (os error 28)" or SQLite's "disk
/// I/O error"; a kind the catalogue does not name keeps the system's words after its own.
pub fn describe_io(e: &std::io::Error) -> String {
    crate::i18n::io_reason(e)
}

/// Space below which a file system counts as full: a write that fails with an I/O error
/// there has run out of space (SQLite needs a few pages at once for its journal).
const NEARLY_FULL: u64 = 1024 * 1024;

/// Whether the file system holding `path` (or its nearest existing parent) has less than
/// [`NEARLY_FULL`] left for this user. `false` when that cannot be told.
pub fn nearly_full(path: &Path) -> bool {
    available_space(path).is_some_and(|free| free < NEARLY_FULL)
}

#[cfg(unix)]
fn available_space(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let existing = path.ancestors().find(|p| p.exists())?;
    let c = std::ffi::CString::new(existing.as_os_str().as_bytes()).ok()?;
    let mut s = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a NUL-terminated path and `s` a buffer statvfs fills on success.
    let s = unsafe {
        if libc::statvfs(c.as_ptr(), s.as_mut_ptr()) != 0 {
            return None;
        }
        s.assume_init()
    };
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Some(s.f_bavail as u64 * s.f_frsize as u64)
}

#[cfg(not(unix))]
fn available_space(_path: &Path) -> Option<u64> {
    None
}

/// Reads an evidence scan: (its path as shown, its bytes).
pub fn read_evidence(path: &Path) -> Result<(String, Vec<u8>), InputError> {
    let bytes = read_regular(path, MAX_EVIDENCE_FILE, &crate::tr!("what-evidence-file"))?;
    Ok((path.display().to_string(), bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_byte_order_mark_is_dropped_and_two_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (dir.path().join("one.toml"), dir.path().join("two.toml"));
        std::fs::write(&one, "\u{feff}id = 1\n").unwrap();
        std::fs::write(&two, "\u{feff}\u{feff}id = 1\n").unwrap();
        assert_eq!(read_text(&one, 100, "order file").unwrap(), "id = 1\n");
        let e = read_text(&two, 100, "order file").unwrap_err().to_string();
        assert!(e.contains("byte-order mark") && e.contains("two.toml"), "{e}");
    }

    #[test]
    fn devices_are_refused_before_reading() {
        let e = read_regular(Path::new("/dev/zero"), MAX_ORDER_FILE, "order file").unwrap_err();
        assert!(matches!(e, InputError::NotRegular { kind: "device", .. }), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.toml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_regular(&fifo, MAX_ORDER_FILE, "order file").unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
    }

    #[test]
    fn proc_pseudo_files_are_refused() {
        let p = Path::new("/proc/self/status");
        if p.exists() {
            let e = read_regular(p, MAX_ORDER_FILE, "order file").unwrap_err();
            assert!(matches!(e, InputError::Unstable { .. }), "{e}");
        }
    }

    #[test]
    fn size_is_capped_and_directories_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("key");
        std::fs::write(&f, vec![b'a'; 5000]).unwrap();
        let e = read_regular(&f, MAX_SECRET_FILE, "key file").unwrap_err();
        assert!(e.to_string().contains("limit of 4096 bytes"), "{e}");
        assert!(read_regular(&f, 5000, "key file").is_ok());
        let e = read_regular(dir.path(), 10, "order file").unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
    }
}
