//! Simulators as processes of the posagent binary (`posagent sim terminal …`, `posagent sim
//! provider …`), started the same way for the tests, the benchmarks and the demo, and
//! stopped when dropped. A simulator announces itself with one JSON line on stdout (its
//! port, or its URL and files); later lines (a simulated replug) are kept too.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long a simulator may take to announce itself.
const START_WAIT: Duration = Duration::from_secs(30);

/// Why a simulator could not be started.
#[derive(Debug, thiserror::Error)]
#[error("{}", posagent_i18n::tr!("sim-cannot-start", command = .command.as_str(), reason = .reason.as_str()))]
pub struct StartError {
    /// `sim …`, as given.
    pub command: String,
    pub reason: String,
}

/// A running simulator process, killed when dropped.
pub struct SimProcess {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    /// Its first announcement.
    pub announced: serde_json::Value,
}

impl SimProcess {
    /// Starts `EXE sim ARGS…` with `POSAGENT_HOME=home` and waits for its announcement. Its
    /// stderr goes to this process's own, unless `quiet`.
    pub fn start(exe: &Path, home: &Path, args: &[&str], quiet: bool) -> Result<SimProcess, StartError> {
        let fail = |reason: String| StartError {
            command: format!("sim {}", args.join(" ")),
            reason,
        };
        let mut child = Command::new(exe)
            .arg("sim")
            .args(args)
            .env("POSAGENT_HOME", home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if quiet { Stdio::null() } else { Stdio::inherit() })
            .spawn()
            .map_err(|e| fail(e.to_string()))?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            let kept = Arc::clone(&lines);
            // Reads for as long as the simulator writes, so that it never blocks on a full
            // pipe and every announcement is kept.
            std::thread::spawn(move || {
                let mut first = Some(first_tx);
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(tx) = first.take() {
                        let _ = tx.send(line.clone());
                    }
                    kept.lock().unwrap_or_else(PoisonError::into_inner).push(line);
                }
            });
        }
        let mut process = SimProcess {
            child,
            lines,
            announced: serde_json::Value::Null,
        };
        let first = first_rx
            .recv_timeout(START_WAIT)
            .map_err(|_| fail(posagent_i18n::tr!("sim-did-not-announce")))?;
        process.announced = serde_json::from_str(&first)
            .map_err(|_| fail(posagent_i18n::tr!("sim-bad-announcement", line = format!("{first:?}"))))?;
        Ok(process)
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Every line it has announced so far.
    pub fn announcements(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
