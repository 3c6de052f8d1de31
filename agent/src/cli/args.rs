//! The command line, as clap parses it. Names here are the product's contract
//! (docs/architecture.md, "The contract").

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use super::job_args::*;
pub use super::sync_args::*;

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
    /// The web console for branch staff, served on this laptop (loopback only).
    Console(super::console_cmd::ConsoleArgs),
    /// Simulated terminal and provider, for training and tests.
    #[cfg(feature = "sim")]
    #[command(subcommand)]
    Sim(crate::sim::command::SimCommand),
    /// A full migration against simulated terminals and provider (--json: one document, the summary).
    #[cfg(feature = "sim")]
    Demo(DemoArgs),
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
    /// The provider's pulled restore order: needed when the restore changes the binding of
    /// a terminal whose profile takes signed orders only.
    #[arg(long, value_name = "ID")]
    pub order: Option<String>,

    /// File holding the backup password (else POSAGENT_BACKUP_PASSWORD, else a prompt).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    #[command(flatten)]
    pub secret: SecretArgs,
}

/// `posagent demo`'s size.
#[cfg(feature = "sim")]
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Transactions on the old unit.
    #[arg(long, default_value_t = 200)]
    pub transactions: u32,
    /// Line rate of the simulated terminals.
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
}
