//! `posagent sim terminal` and `posagent sim provider`: the simulators' own command line,
//! mounted by the posagent binary when it is built with them.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use posagent_core::config::Paths;
use posagent_core::diagnosis::{Diagnose, Diagnosis, Kind};
use posagent_core::input::InputError;
use posagent_core::profile::{ProfileError, ProfileSet};
use posagent_i18n::tr;

use crate::faults::{FaultSpec, FaultSpecError};
use crate::provider::faults::ProviderFaults;
use crate::provider::{ProviderOptions, report, serve};
use crate::{Attach, DEMO_SECRET, TerminalOptions, run_terminal};

/// Why a simulator did not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The options do not make a simulator.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Secret(#[from] InputError),
    #[error("sim terminal: {0}")]
    Terminal(#[from] crate::SimError),
    #[error("sim provider: {0}")]
    Provider(String),
    /// The provider's directory holds no readable ledger.
    #[error("{0}")]
    Report(String),
}

impl From<FaultSpecError> for CommandError {
    fn from(e: FaultSpecError) -> Self {
        CommandError::Usage(e.to_string())
    }
}

impl Diagnose for CommandError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            CommandError::Usage(_) => Diagnosis::of(Kind::Usage),
            CommandError::Profile(e) => e.diagnosis(),
            CommandError::Secret(e) => e.diagnosis(),
            CommandError::Report(_) => Diagnosis::of(Kind::Data),
            CommandError::Terminal(_) | CommandError::Provider(_) => Diagnosis::of(Kind::Failure),
        }
    }
}

/// Runs a simulator until it is stopped; `announce` prints its JSON lines.
pub fn run(paths: &Paths, c: SimCommand, announce: fn(&serde_json::Value)) -> Result<(), CommandError> {
    match c {
        SimCommand::Terminal(a) => terminal(paths, a, announce),
        SimCommand::Provider(a) => provider(paths, a, announce),
    }
}

fn terminal(paths: &Paths, a: SimTerminalArgs, announce: fn(&serde_json::Value)) -> Result<(), CommandError> {
    let profile = ProfileSet::load(&paths.profile_overrides())?.get(&a.profile)?.clone();
    let faults: FaultSpec = match &a.faults {
        Some(s) => s.parse()?,
        None => FaultSpec::default(),
    };
    let secret = match &a.secret_file {
        Some(f) => posagent_core::input::read_secret(f, &tr!("what-operator-secret"))?.to_vec(),
        None => DEMO_SECRET.as_bytes().to_vec(),
    };
    let attach = match (a.pty, a.port) {
        (_, Some(p)) => Attach::Port(p),
        (true, None) => Attach::Pty { link: a.link },
        (false, None) => return Err(CommandError::Usage(tr!("sim-where"))),
    };
    if a.baud == 0 {
        return Err(CommandError::Usage(tr!("sim-baud-zero")));
    }
    let settlement_since = match a.settlement_since.as_str() {
        "unknown" => None,
        d if chrono::NaiveDate::parse_from_str(d, "%Y%m%d").is_ok() => Some(d.to_string()),
        d => return Err(CommandError::Usage(tr!("sim-bad-since", value = d))),
    };
    let opts = TerminalOptions {
        attach,
        profile,
        transactions: a.transactions,
        seed: a.seed,
        baud: a.baud,
        line_baud: a.line_baud,
        buffer: a.buffer as usize,
        faults,
        state: a.state,
        blank: a.blank,
        serial: a.serial,
        account: a.account,
        legacy: a.legacy,
        plain: a.plain,
        settlement_since,
        secret,
    };
    Ok(run_terminal(opts, |v| announce(&v))?)
}

fn provider(paths: &Paths, a: SimProviderArgs, announce: fn(&serde_json::Value)) -> Result<(), CommandError> {
    let dir = a.tls_dir.unwrap_or_else(|| paths.data.join("sim-provider"));
    if a.report {
        let r = report(&dir).map_err(CommandError::Report)?;
        announce(&serde_json::to_value(&r).unwrap_or_default());
        return Ok(());
    }
    let faults: ProviderFaults = match &a.faults {
        Some(s) => s.parse()?,
        None => ProviderFaults::default(),
    };
    let opts = ProviderOptions {
        listen: a.listen,
        dir,
        faults,
        require_client_cert: a.require_client_cert,
        card_cooldown_days: a.card_cooldown_days,
        seed: a.seed,
        orders: a.orders,
        keys: crate::provider::orders::KeyOptions {
            generation: a.key_generation,
            statement_ttl: std::time::Duration::from_secs(a.statement_ttl),
        },
        sms_log: a.sms_log,
        sms_ttl: std::time::Duration::from_secs(a.sms_ttl),
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::Provider(e.to_string()))?
        .block_on(serve(opts, |v| announce(&v)))
        .map_err(CommandError::Provider)
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// A simulated terminal on a pseudo-terminal or an existing port.
    Terminal(SimTerminalArgs),
    /// A simulated provider serving the sync API over TLS.
    Provider(SimProviderArgs),
}

#[derive(Debug, Args)]
pub struct SimTerminalArgs {
    /// Create a pseudo-terminal and print {"port": ..., "serial": ...} on stdout.
    #[arg(long, conflicts_with = "port")]
    pub pty: bool,
    /// Keep a symlink at PATH to the current pseudo-terminal (survives simulated replugs).
    #[arg(long, requires = "pty", value_name = "PATH")]
    pub link: Option<PathBuf>,
    /// Serve on an existing serial device.
    #[arg(long)]
    pub port: Option<PathBuf>,
    /// Profile whose terminal to simulate.
    #[arg(long, default_value = "generic")]
    pub profile: String,
    /// Transactions in the log (some unsettled).
    #[arg(long, default_value_t = 200)]
    pub transactions: u32,
    /// Seed for reproducible data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Line rate to pace at, in baud (8N1: bytes/s = baud / 10).
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    /// The rate the line really carries, when slower (or faster) than --baud, which the
    /// terminal believes and sizes its timeouts by.
    #[arg(long, value_name = "BAUD", value_parser = clap::value_parser!(u32).range(300..))]
    pub line_baud: Option<u32>,
    /// Bytes the line buffers ahead of its rate, as a USB-serial bridge or the OS queue do
    /// (0: none).
    #[arg(long, value_name = "BYTES", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=(1 << 20)))]
    pub buffer: u64,
    /// Faults, e.g. bitflip=1e-5,drop=1e-5,stall=200ms,busy=0.1,slow=50ms,unplug=4096.
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
    /// State file; a restart with the same file is a power cycle.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// A new, unbound replacement unit.
    #[arg(long)]
    pub blank: bool,
    /// Serial number for the simulated unit (default: derived from the seed).
    #[arg(long)]
    pub serial: Option<String>,
    /// Start bound to a bank account instead of a settlement card.
    #[arg(long, conflicts_with = "blank")]
    pub account: bool,
    /// Behave as a terminal of the first protocol release (no DIGEST command, no encodings).
    #[arg(long)]
    pub legacy: bool,
    /// Offer no encoding in HELLO: bulk objects travel as they are (not deflated).
    #[arg(long)]
    pub plain: bool,
    /// When the settlement card or account was bound, YYYYMMDD, as STATUS reports it;
    /// `unknown` makes a terminal that does not say.
    #[arg(long, value_name = "DATE", default_value = crate::terminal::DEFAULT_SETTLEMENT_SINCE)]
    pub settlement_since: String,
    /// Operator secret the terminal accepts (default: the documented demo secret).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SimProviderArgs {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Certificates, agent key and ledger (made on first start; default DATA/sim-provider).
    #[arg(long, value_name = "DIR")]
    pub tls_dir: Option<PathBuf>,
    /// Faults, e.g. unavailable=0.2,delay=100ms,reset_before=0.1,reset_after=0.1,slow_handshake=500ms,reject=0.05.
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
    /// Refuse agents without a client certificate from the directory's CA.
    #[arg(long)]
    pub require_client_cert: bool,
    /// Days between two settlement-card changes of one merchant.
    #[arg(long, default_value_t = 30)]
    pub card_cooldown_days: u32,
    /// Issue these work orders, signed (CSV: the plan's columns plus `technician`, and
    /// optionally `valid_until`, `checks.NAME` and `authority.NAME`: see docs/sync-api.md).
    #[arg(long, value_name = "PLAN.csv")]
    pub orders: Option<PathBuf>,
    /// The key generation: the version of the key statements served, and which order key
    /// signs (a new generation makes a new key and retires the one before).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub key_generation: u32,
    /// Seconds the key statements stand from start.
    #[arg(long, value_name = "SECONDS", default_value_t = 365 * 24 * 3600)]
    pub statement_ttl: u64,
    /// "Send" one-time codes by appending one JSON line per message to FILE (default:
    /// sms.jsonl in the directory).
    #[arg(long, value_name = "FILE")]
    pub sms_log: Option<PathBuf>,
    /// Seconds a one-time code is accepted.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub sms_ttl: u64,
    /// Seed for the fault dice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print what the provider in the directory has applied (JSON) and exit.
    #[arg(long)]
    pub report: bool,
}
