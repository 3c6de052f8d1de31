//! The command line of the jobs: `rebind`, `unbind`, `migrate`, `run` and `jobs`.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand, ValueEnum};

use super::args::SecretArgs;
use super::sync_args::ProviderArgs;

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
    pub migration: MigrationOptions,
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

/// How a migration moves and checks the data: options of `migrate` and of plans, which
/// may hold migrations.
#[derive(Debug, Args)]
pub struct MigrationOptions {
    /// How a migration checks the new unit's copy: by the terminal's digest (falling back to
    /// reading it back), or by reading every record back.
    #[arg(long, value_enum, default_value = "digest")]
    pub verify: VerifyArg,
    /// How a migration moves the data: settle, then one export feeding the backup and the
    /// new unit at once (one pass of the log), or back up, settle, export and import one
    /// after another (three passes, as the first release did).
    #[arg(long, default_value = "one-pass", value_parser = PossibleValuesParser::new(crate::job::Copying::NAMES).try_map(|s| s.parse::<crate::job::Copying>()))]
    pub copy: crate::job::Copying,
}

impl Default for MigrationOptions {
    /// What a job that moves no data (a rebind, an unbind) is given.
    fn default() -> MigrationOptions {
        MigrationOptions {
            verify: VerifyArg::Digest,
            copy: crate::job::Copying::OnePass,
        }
    }
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
    pub migration: MigrationOptions,
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
    /// Jobs in parallel, one per terminal (at most 128: a depot's worth).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=128))]
    pub jobs: u16,
    /// Probe only these ports (repeatable); default: every serial port of this machine.
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<PathBuf>,
    #[command(flatten)]
    pub migration: MigrationOptions,
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
        /// Where to write it (default: receipts/JOB.html under the data directory); a
        /// name ending in .pdf gets a PDF, printed by Chromium, Chrome or Edge.
        #[arg(long, value_name = "FILE.html|FILE.pdf")]
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
    /// Do not ask for confirmation (a job stopped before its confirmation asks again).
    #[arg(long)]
    pub yes: bool,
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
    /// Read the one-time code the merchant received from FILE once it is written (it is
    /// then removed); else a prompt asks for it.
    #[arg(long, value_name = "FILE")]
    pub sms_code_file: Option<PathBuf>,
    #[command(flatten)]
    pub secret: SecretArgs,
}
