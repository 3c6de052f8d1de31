//! Finding terminals: which serial numbers answer on which ports. The ports to look at are
//! the machine's serial ports plus extra places given as globs (`POSAGENT_PORTS`, globs
//! separated by `:`), which is how pseudo-terminals and network serial devices are found.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Terminal, TerminalError};
use crate::profile::SerialSettings;

/// Environment variable with extra places to look for terminals: globs separated by `:`.
pub const PORTS_ENV: &str = "POSAGENT_PORTS";

/// The ports could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("cannot list serial ports: {0}")]
    List(String),
    #[error("{PORTS_ENV}: '{glob}' is not a valid pattern: {message}")]
    Pattern { glob: String, message: String },
    #[error(
        "terminal {serial} answers on none of the ports looked at ({looked}); connect it, or name its port with --port"
    )]
    NotFound { serial: String, looked: String },
}

/// Every port worth probing: the machine's serial ports, then the extra globs.
pub fn candidates() -> Result<Vec<PathBuf>, DiscoverError> {
    let mut ports: Vec<PathBuf> = serialport::available_ports()
        .map_err(|e| DiscoverError::List(e.to_string()))?
        .into_iter()
        .map(|p| PathBuf::from(p.port_name))
        .collect();
    let extra = std::env::var(PORTS_ENV).unwrap_or_default();
    for pattern in extra.split(':').filter(|g| !g.is_empty()) {
        let paths = glob::glob(pattern).map_err(|e| DiscoverError::Pattern {
            glob: pattern.to_string(),
            message: e.to_string(),
        })?;
        ports.extend(paths.filter_map(Result::ok));
    }
    ports.sort();
    ports.dedup();
    Ok(ports)
}

/// The serial number answering on `port`, trying each line setting until one answers.
pub fn serial_on(port: &Path, settings: &[SerialSettings]) -> Result<String, String> {
    let mut last = String::from("no profile's line settings got an answer");
    for set in settings {
        match Terminal::open(port, set).and_then(|mut t| t.identify()) {
            Ok(id) => return Ok(id.serial),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// Which serial answers on each port, probed in parallel; and the ports where none did,
/// with why.
pub fn probe(ports: &[PathBuf], settings: &[SerialSettings]) -> (HashMap<String, PathBuf>, Vec<(PathBuf, String)>) {
    let answers: Vec<(PathBuf, Result<String, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = ports
            .iter()
            .map(|port| s.spawn(move || (port.clone(), serial_on(port, settings))))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut found = HashMap::new();
    let mut silent = Vec::new();
    for (port, answer) in answers {
        match answer {
            Ok(serial) => {
                found.insert(serial, port);
            }
            Err(e) => silent.push((port, e)),
        }
    }
    (found, silent)
}

/// Where terminal `serial` is now: `last` if it still answers there (a port path can lead
/// to another device after a replug), else whichever candidate port it answers on.
pub fn locate(serial: &str, last: Option<&Path>, settings: &SerialSettings) -> Result<PathBuf, DiscoverError> {
    let settings = std::slice::from_ref(settings);
    if let Some(p) = last
        && serial_on(p, settings).is_ok_and(|s| s == serial)
    {
        return Ok(p.to_path_buf());
    }
    let ports = candidates()?;
    let (mut found, _) = probe(&ports, settings);
    found.remove(serial).ok_or_else(|| DiscoverError::NotFound {
        serial: serial.to_string(),
        looked: if ports.is_empty() {
            "none found".to_string()
        } else {
            ports
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        },
    })
}

impl From<DiscoverError> for TerminalError {
    fn from(e: DiscoverError) -> Self {
        TerminalError::NotFound(e.to_string())
    }
}
