//! Logs for the support desk: structured events (`tracing`) into a size-capped, rotating
//! file in the data directory, and onto stderr with `-v` (info) or `-vv` (debug).
//! `POSAGENT_LOG` sets the filter (e.g. `posagent=debug`). What is logged is what the
//! journal holds: masked by construction, never a full number or a secret.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Environment variable with the log filter.
pub const LOG_ENV: &str = "POSAGENT_LOG";
/// Largest log file before it is rotated.
pub const MAX_LOG_BYTES: u64 = 1 << 20;
/// Rotated files kept (`posagent.log.1` …).
pub const KEEP_LOGS: usize = 3;
/// The log directory inside the data directory.
pub const LOG_DIR: &str = "logs";

/// A log file that rotates itself once it passes [`MAX_LOG_BYTES`].
#[derive(Clone)]
struct Rotating {
    inner: Arc<Mutex<Option<std::fs::File>>>,
    path: PathBuf,
}

impl Rotating {
    fn open(path: &Path) -> Rotating {
        Rotating {
            inner: Arc::new(Mutex::new(open_append(path))),
            path: path.to_path_buf(),
        }
    }
}

fn open_append(path: &Path) -> Option<std::fs::File> {
    crate::private::options().create(true).append(true).open(path).ok()
}

impl Write for Rotating {
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

impl<'a> MakeWriter<'a> for Rotating {
    type Writer = Rotating;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Starts logging for this run: to `data/logs/posagent.log`, and to stderr at `verbose`
/// (0 none, 1 info, 2+ debug).
pub fn init(data: &Path, verbose: u8) {
    let dir = data.join(LOG_DIR);
    let file_layer = crate::private::dir(&dir).ok().map(|()| {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(Rotating::open(&dir.join("posagent.log")))
    });
    let stderr_layer = (verbose > 0).then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr));
    let default = if verbose > 1 { "debug" } else { "info" };
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new(format!("posagent={default}")));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
}
