//! The command line, as clap parses it. Names here are the product's contract (DESIGN.md).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Field agent for payment terminals: check, back up, rebind, unbind and migrate over USB serial.
#[derive(Debug, Parser)]
#[command(name = "posagent", version, about, propagate_version = true)]
pub struct Cli {
    /// One JSON document on stdout (JSON lines for streams) instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Data directory (database, backups, config, profile overrides).
    #[arg(long, global = true, env = "POSAGENT_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Log to stderr too: -v events, -vv details (the log file in the data directory always
    /// gets them; POSAGENT_LOG sets the filter).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Quiet: no step lines, progress or notes on stderr; results and errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    // The language is read from the raw arguments before parsing (`lang::choose`), so that
    // `--help` and parse errors are in it too; declared here to be listed and validated.
    /// Language of messages: en or zh-CN (else POSAGENT_LANG, else the system locale).
    #[arg(long, global = true, env = "POSAGENT_LANG", value_name = "LANG", value_parser = super::lang::parse)]
    pub lang: Option<crate::i18n::Lang>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serial ports with USB VID:PID, serial number and the matching profile.
    Devices,
    /// Identity and current binding of a terminal (numbers masked).
    Inspect(InspectArgs),
    /// Work orders.
    #[command(subcommand)]
    Order(OrderCommand),
    /// Work orders the provider issued: pull them while online, list and show them.
    Orders {
        #[command(subcommand)]
        action: Option<OrdersCommand>,
    },
    /// A zip for the support desk: logs, the job and queue lists, configuration, versions
    /// and serial ports; numbers masked, no secret in it.
    SupportBundle {
        /// The zip to write.
        #[arg(long, value_name = "FILE.zip")]
        out: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Where settings live and what they are.
    Config {
        #[command(subcommand)]
        action: Option<ConfigCommand>,
    },
    /// Provider profiles.
    Profiles {
        #[command(subcommand)]
        action: Option<ProfilesCommand>,
    },
    /// Encrypted backup of a terminal's binding, parameters and transaction log.
    Backup(BackupArgs),
    /// Put a backed-up binding back on a terminal.
    Restore(RestoreArgs),
    /// Change the bound card, account or phone number.
    Rebind(RebindArgs),
    /// Unbind a terminal (settling first).
    Unbind(JobArgs),
    /// Move a terminal's data to a replacement unit and unbind the old one.
    Migrate(MigrateArgs),
    /// Run a plan of orders (CSV or TOML) over many terminals.
    Run(RunArgs),
    /// The job journal.
    Jobs {
        #[command(subcommand)]
        action: Option<JobsCommand>,
    },
    /// The outbox of submissions for the provider.
    Queue {
        #[command(subcommand)]
        action: Option<QueueCommand>,
    },
    /// Deliver queued submissions to the provider.
    Sync(SyncArgs),
    /// The tamper-evident audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Simulated terminal and provider, for training and tests.
    #[cfg(feature = "sim")]
    #[command(subcommand)]
    Sim(super::sim_cmd::SimCommand),
    /// A full migration against simulated terminals and provider (--json: one document per stage).
    #[cfg(feature = "sim")]
    Demo(super::demo_cmd::DemoArgs),
    /// Shell completion script for SHELL, on stdout.
    Completions { shell: clap_complete::Shell },
    /// The manual page (roff) on stdout, or with --dir every page: posagent(1) and one per
    /// command, posagent-rebind(1) and so on.
    Manpage {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Where the operator secret comes from (never a command-line value).
#[derive(Debug, Args, Clone)]
pub struct SecretArgs {
    /// File holding the operator secret (else POSAGENT_SECRET, else a prompt).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
}

/// Where the terminal is: a port, or found by itself.
#[derive(Debug, Args, Clone)]
pub struct WhereArgs {
    /// Serial port of the terminal (e.g. /dev/ttyUSB0). Without it the terminal is found by
    /// itself among the serial ports (matched to a profile by USB id) and the places
    /// `[ports] extra` in config.toml and POSAGENT_PORTS name; several ask which one.
    #[arg(long, value_name = "P")]
    pub port: Option<PathBuf>,
    /// Of the terminals found, the one with this serial number.
    #[arg(long, value_name = "SN", conflicts_with = "port")]
    pub serial: Option<String>,
}

impl WhereArgs {
    /// The terminal with this serial number, wherever it is found.
    pub fn by_serial(serial: String) -> Self {
        WhereArgs {
            port: None,
            serial: Some(serial),
        }
    }
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub at: WhereArgs,
    /// Profile to use (default: the one its USB id matches, else the one it answers with).
    #[arg(long)]
    pub profile: Option<String>,
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// Validate a work order file offline, every field, no device needed.
    Check {
        /// The order (TOML) or orders (CSV, or TOML with [[order]] tables).
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Where the configuration file, the data and the profile overrides are (the default).
    Path,
    /// The configuration as read, file paths resolved.
    Show,
    /// Write a commented config.toml to fill in.
    Init {
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// List the profiles (the default).
    List,
    /// Show one profile in full.
    Show { name: String },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub action: Option<BackupCommand>,
    #[command(flatten)]
    pub at: WhereArgs,
    /// Archive to write.
    #[arg(long, required = true, value_name = "FILE.zip")]
    pub out: Option<PathBuf>,
    /// Replace an existing archive.
    #[arg(long)]
    pub force: bool,
    /// Profile of the terminal (default: the one its USB id matches, else the one it answers with).
    #[arg(long)]
    pub profile: Option<String>,
    /// Evidence files to include.
    #[arg(long, value_name = "FILE")]
    pub evidence: Vec<PathBuf>,
    /// File holding the backup password (else POSAGENT_BACKUP_PASSWORD, else a prompt).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Check an archive's password, checksums and manifest, without a device.
    Verify {
        file: PathBuf,
        /// File holding the backup password.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// The recorded backups.
    List,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub at: WhereArgs,
    pub file: PathBuf,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// The archive belongs to another unit (a replacement).
    #[arg(long)]
    pub to_replacement: bool,
    /// Profile of the terminal (default: the one recorded in the backup).
    #[arg(long)]
    pub profile: Option<String>,

    /// File holding the backup password (else POSAGENT_BACKUP_PASSWORD, else a prompt).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    #[command(flatten)]
    pub secret: SecretArgs,
}

/// How a migration checks the copy on the new unit.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VerifyArg {
    Digest,
    Full,
}

impl From<VerifyArg> for crate::job::Verify {
    fn from(v: VerifyArg) -> Self {
        match v {
            VerifyArg::Digest => crate::job::Verify::Digest,
            VerifyArg::Full => crate::job::Verify::Full,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// Fetch the orders the provider issued to this technician, verified and kept offline.
    Pull {
        #[command(flatten)]
        provider: ProviderArgs,
    },
    /// The pulled orders, soonest to expire first (the default).
    List,
    /// One pulled order, numbers masked.
    Show { id: String },
}

/// What to rebind.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RebindTarget {
    Card,
    Account,
    Phone,
}

#[derive(Debug, Args)]
pub struct RebindArgs {
    pub target: RebindTarget,
    #[command(flatten)]
    pub job: JobArgs,
}

/// Options every job takes.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// Serial port of the terminal (default: the port where the order's expect.serial
    /// answers, among the serial ports and the places POSAGENT_PORTS names).
    #[arg(long, value_name = "P")]
    pub port: Option<PathBuf>,
    /// The work order (TOML).
    #[arg(long)]
    pub order: PathBuf,
    #[command(flatten)]
    pub common: JobOptions,
}

/// Confirmation, dry-run and secrets, shared by jobs.
#[derive(Debug, Args)]
pub struct JobOptions {
    /// Run every read-only check (find the terminal, authenticate, compare the binding with
    /// the order, documents, cooldown), change nothing, keep no job, print the plan.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// File holding the backup password (else POSAGENT_BACKUP_PASSWORD, else a prompt).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// How a migration checks the new unit's copy: by the terminal's digest (falling back to
    /// reading it back), or by reading every record back.
    #[arg(long, value_enum, default_value = "digest")]
    pub verify: VerifyArg,
    /// The provider confirmed that the merchant's settlement-card cooldown has run out
    /// (needed when the terminal does not say when its card was bound; recorded in the audit).
    #[arg(long)]
    pub cooldown_checked_by_provider: bool,
    /// Read the one-time code the merchant received from FILE once it is written (it is
    /// then removed); else a prompt asks for it.
    #[arg(long, value_name = "FILE")]
    pub sms_code_file: Option<PathBuf>,
    /// Phone change at a counter: you saw the originals of the order's documents (recorded
    /// with your name).
    #[arg(long)]
    pub documents_checked: bool,
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Port of the old unit (default: where the order's expect.serial answers).
    #[arg(long, value_name = "P")]
    pub from: Option<PathBuf>,
    /// Port of the replacement unit (default: where replacement.serial answers).
    #[arg(long, value_name = "P")]
    pub to: Option<PathBuf>,
    #[arg(long)]
    pub order: PathBuf,
    #[command(flatten)]
    pub common: JobOptions,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The plan: CSV (one order per row) or TOML ([[order]] tables).
    #[arg(required_unless_present = "pulled")]
    pub plan: Option<PathBuf>,
    /// Instead of a plan: every pulled order not yet carried out whose terminal is connected.
    #[arg(long, conflicts_with = "plan")]
    pub pulled: bool,
    /// Jobs in parallel, one per terminal.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Probe only these ports (repeatable); default: every serial port of this machine.
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<PathBuf>,
    /// `--dry-run` runs every order's read-only checks on its terminal, changing nothing.
    #[command(flatten)]
    pub common: JobOptions,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Every job, newest first.
    List,
    /// One job with its journal and submission.
    Show { id: String },
    /// Write the job's receipt to print and sign: a bilingual A4 page (HTML, opens offline
    /// in any browser) with the change before → after (masked), the steps, the backup, the
    /// test transaction, the provider's answer and lines to sign. Jobs write one
    /// themselves under the data directory; run this again after `sync` to show the
    /// provider's receipt.
    Receipt {
        id: String,
        /// Where to write it (default: receipts/JOB.html under the data directory).
        #[arg(long, value_name = "FILE.html")]
        out: Option<PathBuf>,
    },
    /// Carry on an interrupted job from its journal.
    Resume {
        id: String,
        #[command(flatten)]
        opts: ResumeOptions,
    },
    /// Roll an unfinished job back to its backup.
    Abort {
        id: String,
        #[command(flatten)]
        opts: ResumeOptions,
    },
}

/// Where the terminals are and the secrets, for resuming or aborting a job.
#[derive(Debug, Args)]
pub struct ResumeOptions {
    /// How a migration still to verify checks the new unit's copy (see `migrate --verify`).
    #[arg(long, value_enum, default_value = "digest")]
    pub verify: VerifyArg,
    /// Where the terminal is now (default: where it was, else the port its serial answers
    /// on, also searching POSAGENT_PORTS); a terminal with another serial is refused.
    #[arg(long, value_name = "P")]
    pub port: Option<PathBuf>,
    /// Where a migration's replacement unit is now (found by its serial otherwise).
    #[arg(long, value_name = "P")]
    pub to: Option<PathBuf>,
    /// File holding the backup password (else POSAGENT_BACKUP_PASSWORD, else a prompt).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Every submission, newest first.
    List,
    /// One submission: state, attempts, the provider's answer, the masked payload.
    Show { id: String },
    /// Queue a rejected or dead submission again.
    Retry { id: String },
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Keep running and deliver whenever the provider is reachable.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: how often to look for work and for the provider, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub interval: u64,
    /// Without --watch: wait for retries that fall due within this many seconds.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub max_wait: u64,
    #[command(flatten)]
    pub provider: ProviderArgs,
}

/// How to reach the provider (each flag overrides the `[provider]` table of config.toml).
#[derive(Debug, Args, Clone, Default)]
pub struct ProviderArgs {
    /// Provider URL, https://host[:port][/prefix] (else provider.url in config.toml).
    #[arg(long = "provider", value_name = "URL")]
    pub url: Option<String>,
    /// PEM bundle of CAs to trust for the provider (else provider.ca, else system roots).
    #[arg(long, value_name = "FILE")]
    pub provider_ca: Option<PathBuf>,
    /// Client certificate for mutual TLS (PEM).
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// Private key of the client certificate (PEM).
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// File holding the agent's signing key, 64 hex digits (else provider.agent_key_file).
    #[arg(long, value_name = "FILE", env = "POSAGENT_AGENT_KEY_FILE")]
    pub agent_key_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain and name the first bad record.
    Verify,
}
