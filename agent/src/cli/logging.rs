//! Logs for the support desk: structured events (`tracing`) into a size-capped, rotating
//! file in the data directory, and onto stderr with `-v` (info) or `-vv` (debug).
//! `POSAGENT_LOG` sets the filter (e.g. `posagent=debug`). What is logged is what the
//! journal holds: masked by construction, never a full number or a secret.

use std::path::Path;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::support::{LOG_DIR, LogFile};

/// Environment variable with the log filter.
pub const LOG_ENV: &str = "POSAGENT_LOG";
/// Starts logging for this run: to `data/logs/posagent.log`, and to stderr at `verbose`
/// (0 none, 1 info, 2+ debug).
pub fn init(data: &Path, verbose: u8) {
    let dir = data.join(LOG_DIR);
    let file_layer = crate::private::dir(&dir).ok().map(|()| {
        tracing_subscriber::fmt::layer().with_ansi(false).with_writer({
            let file = LogFile::open(&dir.join("posagent.log"));
            move || file.clone()
        })
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
