//! Simulated terminals served inside this process: each is reached by a name that stands
//! for its port path, over an in-memory port pair, with the same terminal code as
//! `posagent sim terminal` but no pseudo-terminal, no pacing and no subprocess. The job
//! engine's tests run whole procedures this way in milliseconds.
//!
//! Opening a name starts a serving thread for that unit; closing the agent's end (or an
//! unplug fault, which ends the serving) is a disconnect, and opening the name again is
//! the unit coming back, with everything it remembered.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::DEMO_SECRET;
use super::faults::FaultSpec;
use super::terminal::{Seed, SimTerminal, TerminalState};
use crate::link::Link;
use crate::link::port::{Opener, Port, PortError, mem_pair};
use crate::profile::SerialSettings;

/// The line rate the in-process link computes its timeouts with (nothing is paced).
const INPROC_BAUD: u32 = 921_600;

/// A set of simulated terminals, reached by name.
#[derive(Default)]
pub struct InProcess {
    units: Mutex<HashMap<PathBuf, Arc<Mutex<SimTerminal>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl InProcess {
    /// An empty set.
    pub fn new() -> Arc<InProcess> {
        Arc::new(InProcess::default())
    }

    /// Adds a unit made from `seed` (accepting the demo secret) under `name`, with
    /// `faults`; returns the path that opens it.
    pub fn add(&self, name: &str, seed: &Seed<'_>, faults: FaultSpec) -> PathBuf {
        let state = TerminalState::generate(seed);
        let sim = SimTerminal::new(state, None, DEMO_SECRET.as_bytes().to_vec(), faults, seed.seed);
        let path = PathBuf::from(format!("inproc:{name}"));
        lock(&self.units).insert(path.clone(), Arc::new(Mutex::new(sim)));
        path
    }

    /// Runs `f` on the unit at `path` (between sessions: it waits for a session to end).
    pub fn with<T>(&self, path: &Path, f: impl FnOnce(&mut SimTerminal) -> T) -> T {
        let unit = lock(&self.units).get(path).cloned().expect("a unit added to this set");
        let mut sim = lock(&unit);
        f(&mut sim)
    }
}

impl Opener for InProcess {
    fn open(&self, path: &Path, _settings: &SerialSettings) -> Result<Box<dyn Port>, PortError> {
        let unit = lock(&self.units).get(path).cloned().ok_or_else(|| PortError::Open {
            path: path.to_path_buf(),
            message: "no simulated terminal by that name".into(),
        })?;
        let (agent, terminal) = mem_pair();
        std::thread::spawn(move || {
            let mut sim = lock(&unit);
            let terminal = Unplugging {
                inner: terminal,
                left: sim.take_byte_unplug(),
            };
            let mut link = Link::new(terminal, INPROC_BAUD);
            // Ends when the agent closes its end or a fault unplugs the unit.
            let _ = sim.serve(&mut link);
        });
        Ok(Box::new(agent))
    }

    fn listed(&self) -> Option<Vec<PathBuf>> {
        let mut names: Vec<PathBuf> = lock(&self.units).keys().cloned().collect();
        names.sort();
        Some(names)
    }
}

/// The `unplug=BYTES` fault in-process: the unit's end of the line fails once after that
/// many bytes in either direction, as a pulled cable would.
struct Unplugging<P> {
    inner: P,
    left: Option<u64>,
}

impl<P: Port> Unplugging<P> {
    fn count(&mut self, n: usize) -> Result<(), PortError> {
        match &mut self.left {
            Some(left) if *left <= n as u64 => Err(PortError::Disconnected),
            Some(left) => {
                *left -= n as u64;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl<P: Port> Port for Unplugging<P> {
    fn read_timeout(&mut self, buf: &mut [u8], timeout: std::time::Duration) -> Result<usize, PortError> {
        let n = self.inner.read_timeout(buf, timeout)?;
        self.count(n).map(|()| n)
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), PortError> {
        self.count(data.len())?;
        self.inner.write_all(data)
    }
}
