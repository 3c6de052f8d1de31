//! The support bundle: what a support desk asks for, in one zip. Everything in it is what
//! posagent shows people already: numbers masked, no secret, no key, no password (the
//! configuration holds paths to keys, never keys).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use zip::write::SimpleFileOptions;

use crate::config::{Config, ConfigError, Paths};
use crate::input::InputError;
use crate::store::{Store, StoreError};

/// The log directory inside the data directory.
pub const LOG_DIR: &str = "logs";
/// Largest log file before it is rotated.
pub const MAX_LOG_BYTES: u64 = 1 << 20;
/// Rotated files kept (`posagent.log.1` …).
pub const KEEP_LOGS: usize = 3;

/// A log file that rotates itself once it passes [`MAX_LOG_BYTES`].
#[derive(Clone)]
pub struct LogFile {
    inner: Arc<Mutex<Option<std::fs::File>>>,
    path: PathBuf,
}

impl LogFile {
    /// Appends to `path` (made private), rotating it as it fills.
    pub fn open(path: &Path) -> LogFile {
        LogFile {
            inner: Arc::new(Mutex::new(open_append(path))),
            path: path.to_path_buf(),
        }
    }
}

/// The log file, only when it is the data directory's own regular file: a symbolic link
/// planted at its path is not followed, and a FIFO or device there is not written to (nor
/// waited on). Without it the work goes on unlogged.
fn open_append(path: &Path) -> Option<std::fs::File> {
    let mut o = crate::private::options();
    o.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut o, libc::O_NOFOLLOW | libc::O_NONBLOCK);
    #[cfg(not(unix))]
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return None;
    }
    o.open(path).ok().filter(|f| f.metadata().is_ok_and(|m| m.is_file()))
}

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut file = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let full = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .is_some_and(|m| m.len() + buf.len() as u64 > MAX_LOG_BYTES);
        if full {
            for i in (1..KEEP_LOGS).rev() {
                let _ = std::fs::rename(
                    self.path.with_extension(format!("log.{i}")),
                    self.path.with_extension(format!("log.{}", i + 1)),
                );
            }
            let _ = std::fs::rename(&self.path, self.path.with_extension("log.1"));
            *file = open_append(&self.path);
        }
        // Logging never stops the work: a log that cannot be written is skipped.
        if let Some(f) = file.as_mut() {
            let _ = f.write_all(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why no bundle was written.
#[derive(Debug, thiserror::Error)]
pub enum SupportError {
    #[error("{}", crate::tr!("file-exists", file = .0.display().to_string()))]
    Exists(PathBuf),
    #[error("{}", crate::tr!("cannot-write", file = .file.display().to_string(), reason = .reason.as_str()))]
    Write { file: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Log(#[from] InputError),
}

/// Writes the bundle of `paths`' data directory to `file` (replacing it only with
/// `force`); returns the names of its entries.
pub fn bundle(paths: &Paths, file: &Path, force: bool) -> Result<Vec<String>, SupportError> {
    if file.exists() && !force {
        return Err(SupportError::Exists(file.to_path_buf()));
    }
    let fail = |e: String| SupportError::Write {
        file: file.to_path_buf(),
        reason: e,
    };
    let json = |v: serde_json::Result<Vec<u8>>| v.map_err(|e| fail(e.to_string()));
    let store = Store::open(&paths.data)?;
    let config = Config::load(paths)?;
    let ports: Vec<String> = crate::terminal::discover::machine_ports()
        .map(|ps| {
            ps.into_iter()
                .map(|p| format!("{} {:?}", p.port_name, p.port_type))
                .collect()
        })
        .unwrap_or_default();
    let jobs = store.jobs()?;
    let journals = jobs
        .iter()
        .map(|j| Ok((j.id.clone(), store.journal_of(&j.id)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let versions = serde_json::json!({
        "posagent": env!("CARGO_PKG_VERSION"),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "schema": store.schema_version()?,
        "made_at": crate::store::now(),
    });
    let mut entries: Vec<(String, Vec<u8>)> = vec![
        ("versions.json".into(), json(serde_json::to_vec_pretty(&versions))?),
        (
            "config.toml".into(),
            toml::to_string(&config).map_err(|e| fail(e.to_string()))?.into_bytes(),
        ),
        ("jobs.json".into(), json(serde_json::to_vec_pretty(&jobs))?),
        ("journal.json".into(), json(serde_json::to_vec_pretty(&journals))?),
        (
            "queue.json".into(),
            json(serde_json::to_vec_pretty(&store.submissions()?))?,
        ),
        (
            "audit.json".into(),
            json(serde_json::to_vec_pretty(&store.verify_audit()?))?,
        ),
        ("devices.txt".into(), ports.join("\n").into_bytes()),
    ];
    if let Ok(dir) = std::fs::read_dir(paths.data.join(LOG_DIR)) {
        let mut names: Vec<_> = dir.filter_map(Result::ok).map(|e| e.path()).collect();
        names.sort();
        for p in names {
            let bytes = crate::input::read_regular(&p, MAX_LOG_BYTES * 2, &crate::tr!("what-log-file"))?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            entries.push((format!("logs/{name}"), bytes));
        }
    }
    let tmp = file.with_extension("partial");
    let written = (|| {
        let io = |e: std::io::Error| crate::input::describe_io(&e);
        let zipped = |e: zip::result::ZipError| match e {
            zip::result::ZipError::Io(e) => io(e),
            other => other.to_string(),
        };
        let mut zip = zip::ZipWriter::new(crate::private::create(&tmp).map_err(io)?);
        for (name, bytes) in &entries {
            zip.start_file(name.as_str(), SimpleFileOptions::default())
                .map_err(zipped)?;
            zip.write_all(bytes).map_err(io)?;
        }
        zip.finish().map_err(zipped)?;
        std::fs::rename(&tmp, file).map_err(io)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(entries.into_iter().map(|(n, _)| n).collect())
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::Write;

    use super::LogFile;

    #[test]
    fn a_symlink_or_a_fifo_at_the_log_path_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "kept").unwrap();
        let link = dir.path().join("linked.log");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        LogFile::open(&link).write_all(b"a log line\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "kept");

        // A FIFO with no reader: opening it for writing would wait for ever.
        let fifo = dir.path().join("fifo.log");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        LogFile::open(&fifo).write_all(b"a log line\n").unwrap();

        let plain = dir.path().join("posagent.log");
        LogFile::open(&plain).write_all(b"a log line\n").unwrap();
        assert_eq!(std::fs::read_to_string(&plain).unwrap(), "a log line\n");
    }
}
