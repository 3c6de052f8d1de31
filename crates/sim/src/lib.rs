//! Simulators for training, tests, benchmarks and the demo: a terminal on a pseudo-terminal
//! speaking the real protocol at a real line rate, with fault injection, and a provider
//! serving the sync API over TLS. Not part of the product packages.

pub mod command;
pub mod demo;
pub mod harness;
pub mod line;
pub mod provider;

// The simulated terminal lives with the engine it tests (posagent-core's `testkit`).
pub use posagent_core::testkit::{DEMO_SECRET, faults, inproc, issuer, terminal};

// The agent's own modules under the names the simulators' code uses.
pub(crate) use posagent_core::{authority, domain, input, job, link, order, private, profile, signed, store, sync};

use std::path::PathBuf;
use std::time::Duration;

use faults::FaultSpec;
use line::{LinePort, open_pty};
use terminal::{Seed, SimTerminal, TerminalState};

use crate::link::Link;
use crate::link::port::{PortError, SerialPort};
use crate::profile::Profile;

/// What a line slower than its terminal believes buffers unless `--buffer` says more: the
/// queue of a USB-serial bridge and the operating system.
pub const LINE_BUFFER: usize = 64 << 10;

/// Pause between a simulated unplug and the port coming back.
pub const REPLUG_DELAY: Duration = Duration::from_millis(300);

/// Where the simulated terminal is reachable.
pub enum Attach {
    /// A new pseudo-terminal, optionally with a stable symlink to it.
    Pty { link: Option<PathBuf> },
    /// An existing serial device.
    Port(PathBuf),
}

/// Everything `posagent sim terminal` needs.
pub struct TerminalOptions {
    pub attach: Attach,
    pub profile: Profile,
    pub transactions: u32,
    pub seed: u64,
    /// The baud the terminal believes its line runs at (it sizes its timeouts by it).
    pub baud: u32,
    /// The rate the line really carries, when it differs from `baud` (its buffer is then at
    /// least [`LINE_BUFFER`]).
    pub line_baud: Option<u32>,
    /// Bytes the line buffers ahead of its rate (0: none, writes wait for the line).
    pub buffer: usize,
    pub faults: FaultSpec,
    pub state: Option<PathBuf>,
    pub blank: bool,
    pub serial: Option<String>,
    /// Bound to a bank account instead of a settlement card.
    pub account: bool,
    /// No DIGEST command and no encodings, as a terminal of the first protocol release.
    pub legacy: bool,
    /// Offers no encoding: bulk objects travel as they are.
    pub plain: bool,
    /// When the settlement was bound (`YYYYMMDD`); `None`: the terminal does not say.
    pub settlement_since: Option<String>,
    pub secret: Vec<u8>,
}

/// Why the simulator stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("{0}")]
    State(String),
    #[error(transparent)]
    Link(#[from] crate::link::LinkError),
}

/// Loads the state file if it exists, else generates a unit (and saves it there).
pub fn load_or_generate(o: &TerminalOptions) -> Result<TerminalState, SimError> {
    if let Some(p) = &o.state
        && p.exists()
    {
        return TerminalState::load(p).map_err(SimError::State);
    }
    let seed = Seed {
        profile: &o.profile.name,
        seed: o.seed,
        transactions: o.transactions,
        blank: o.blank,
        serial: o.serial.clone(),
        account: o.account,
        settlement_since: o.settlement_since.clone(),
    };
    let state = TerminalState::generate(&seed);
    if let Some(p) = &o.state {
        state
            .save(p)
            .map_err(|e| SimError::State(format!("cannot write {}: {e}", p.display())))?;
    }
    Ok(state)
}

/// Runs a simulated terminal until killed; `announce` receives one JSON value each time
/// the port (re)appears.
pub fn run_terminal(o: TerminalOptions, mut announce: impl FnMut(serde_json::Value)) -> Result<(), SimError> {
    let state = load_or_generate(&o)?;
    let serial = state.identity.serial.clone();
    let mut sim = SimTerminal::new(state, o.state.clone(), o.secret.clone(), o.faults.clone(), o.seed);
    sim.legacy = o.legacy;
    sim.plain = o.plain;
    if !o.legacy && !o.plain {
        sim.prepare_export();
    }
    let mut unplug = o.faults.unplug_after;
    let mut round = 0u64;
    loop {
        let (port, path) = match &o.attach {
            Attach::Pty { link } => open_pty(link.as_deref())?,
            Attach::Port(p) => (SerialPort::open(p, &o.profile.serial)?, p.clone()),
        };
        let link_path = match &o.attach {
            Attach::Pty { link } => link.clone(),
            Attach::Port(_) => None,
        };
        let mut said = serde_json::json!({ "port": path, "serial": serial, "link": link_path, "replugged": round > 0 });
        // A blank unit's one-time activation code, as the simulated provider issues it:
        // what a trainee writes into a migration order's `replacement.activation_code`.
        if o.blank {
            said["activation_code"] = posagent_core::testkit::terminal::activation_code_for(&serial).into();
        }
        announce(said);
        let faults = FaultSpec {
            unplug_after: unplug.take(),
            ..o.faults.clone()
        };
        // A line slower than the terminal believes: its UART fills the line's buffer at the
        // baud it believes, and the line empties it at its own rate.
        let (buffer, uart) = match o.line_baud {
            Some(l) if l != o.baud => (o.buffer.max(LINE_BUFFER), Some(o.baud)),
            _ => (o.buffer, None),
        };
        let line = LinePort::new(port, o.line_baud.unwrap_or(o.baud), faults, o.seed.wrapping_add(round))?
            .buffered(buffer, uart)?;
        let mut link = Link::new(line, o.baud);
        match sim.serve(&mut link) {
            Err(e) if e.is_disconnect() => {
                drop(link);
                std::thread::sleep(REPLUG_DELAY);
                round += 1;
            }
            Err(e) => return Err(e.into()),
            Ok(()) => return Ok(()),
        }
    }
}
