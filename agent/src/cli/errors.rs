//! The error policy in one place: each library error becomes a `CliError` with its exit
//! code (usage 2, data 65, unavailable 69, refused secret or trust 77, interrupted 130,
//! other 1), a stable machine code and a line saying what to do next.

use super::{CliError, Exit};
use crate::backup::BackupError;
use crate::job::JobError;
use crate::order::OrderFileError;
use crate::profile::ProfileError;
use crate::receipt::ReceiptError;
use crate::signed::OrderKeyError;
#[cfg(feature = "sim")]
use crate::sim::demo::DemoError;
use crate::store::StoreError;
use crate::sync::client::SyncError;
use crate::sync::delivery::DeliveryError;
use crate::sync::orders::PulledError;
use crate::sync::settings::SettingsError;
use crate::terminal::TerminalError;
use crate::tr;

impl From<BackupError> for CliError {
    fn from(e: BackupError) -> Self {
        let (exit, help) = match &e {
            BackupError::Io { .. } | BackupError::Record(_) => (Exit::Failure, tr!("help-backup-io")),
            BackupError::WrongPassword(_) => (Exit::DataErr, tr!("help-backup-password")),
            BackupError::Exists(_) | BackupError::WeakPassword => (Exit::DataErr, tr!("help-backup-exists")),
            _ => (Exit::DataErr, tr!("help-backup-damaged")),
        };
        CliError::new(exit, e.to_string()).code(e.code()).help(help)
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::new(Exit::Failure, e.to_string())
    }
}

#[cfg(feature = "sim")]
impl From<DemoError> for CliError {
    fn from(e: DemoError) -> Self {
        match e {
            DemoError::NotReady(e) => CliError::new(Exit::NoPerm, e.to_string()),
            DemoError::Profile(e) => e.into(),
            DemoError::Terminal(e) => e.into(),
            DemoError::Job(e) => e.into(),
            DemoError::Delivery(e) => e.into(),
            DemoError::Pulled(e) => e.into(),
            DemoError::Store(e) => e.into(),
            DemoError::Receipt(e) => e.into(),
            e => CliError::new(Exit::Failure, e.to_string()),
        }
    }
}

/// Exit code and next step for a terminal error.
pub fn terminal_exit(e: &TerminalError) -> (Exit, String) {
    match e {
        TerminalError::Unavailable { .. } => (Exit::Unavailable, tr!("help-terminal-unavailable")),
        TerminalError::WrongSecret { .. } => (Exit::NoPerm, tr!("help-wrong-secret")),
        TerminalError::LockedOut { .. } => (Exit::NoPerm, tr!("help-locked-out")),
        TerminalError::NotGenuine => (Exit::NoPerm, tr!("help-not-genuine")),
        TerminalError::Refused { .. } => (Exit::Failure, tr!("help-terminal-refused")),
        TerminalError::AnotherUnit { .. } => (Exit::Unavailable, tr!("help-another-unit")),
        TerminalError::NotFound(_) => (Exit::Unavailable, tr!("help-terminal-not-found")),
        TerminalError::Invalid(_) | TerminalError::Verification { .. } => (Exit::Failure, tr!("help-terminal-faulty")),
    }
}

impl From<TerminalError> for CliError {
    fn from(e: TerminalError) -> Self {
        let (exit, help) = terminal_exit(&e);
        CliError::new(exit, e.to_string()).code(e.code()).help(help)
    }
}

impl From<JobError> for CliError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Terminal(t) => t.into(),
            JobError::Interrupted {
                ref source, ref job, ..
            } => {
                let exit = match source.as_ref() {
                    JobError::Terminal(t) => terminal_exit(t).0,
                    _ => Exit::Failure,
                };
                let help = tr!("help-job-resume", job = job.as_str());
                CliError::new(exit, e.to_string()).code("interrupted").help(help)
            }
            JobError::Refused {
                code: "provider_unreachable",
                ..
            } => CliError::new(Exit::Unavailable, e.to_string())
                .code("provider_unreachable")
                .help(tr!("help-phone-offline")),
            JobError::Refused { code, .. } => CliError::new(Exit::DataErr, e.to_string()).code(code),
            JobError::Order(_) => CliError::new(Exit::DataErr, e.to_string()).code("order_invalid"),
            JobError::Stopped { ref job, .. } => {
                let help = tr!("help-job-stopped", job = job.as_str());
                CliError::new(Exit::Interrupted, e.to_string())
                    .code("stopped")
                    .help(help)
            }
            JobError::Unauthorised(_) => CliError::new(Exit::NoPerm, e.to_string()).code("order_not_authorised"),
            JobError::Backup(b) => b.into(),
            JobError::Busy { ref job, .. } => {
                let help = tr!("help-job-busy", job = job.as_str());
                CliError::new(Exit::Failure, e.to_string())
                    .code("terminal_busy")
                    .help(help)
            }
            JobError::Verification { .. } => CliError::new(Exit::Failure, e.to_string()).code("verification_failed"),
            JobError::Cancelled => CliError::new(Exit::Failure, e.to_string())
                .code("not_confirmed")
                .help(tr!("help-confirm-or-yes")),
            JobError::NotFound(_) => CliError::new(Exit::Failure, e.to_string())
                .code("job_not_found")
                .help(tr!("help-jobs-list")),
            JobError::NotRunning { .. } => CliError::new(Exit::Failure, e.to_string()).code("job_not_running"),
            JobError::AbortTooLate(_) | JobError::AbortNoBackup => {
                CliError::new(Exit::Failure, e.to_string()).code("abort_refused")
            }
            other => CliError::new(Exit::Failure, other.to_string()),
        }
    }
}

impl From<ReceiptError> for CliError {
    fn from(e: ReceiptError) -> Self {
        match e {
            ReceiptError::Store(e) => e.into(),
            ReceiptError::NotFound(_) => CliError::new(Exit::DataErr, e.to_string())
                .code("job_not_found")
                .help(tr!("help-jobs-list")),
            ReceiptError::Write { .. } => CliError::new(Exit::Failure, e.to_string()).help(tr!("help-receipt-out")),
        }
    }
}

impl From<OrderKeyError> for CliError {
    fn from(e: OrderKeyError) -> Self {
        match e {
            OrderKeyError::Config(e) => e.into(),
            OrderKeyError::Read(e) => e.into(),
            e => CliError::new(Exit::DataErr, e.to_string()).code("order_key_invalid"),
        }
    }
}

impl From<ProfileError> for CliError {
    fn from(e: ProfileError) -> Self {
        let (code, help) = match &e {
            ProfileError::Invalid { .. } => ("profile_invalid", tr!("help-profile-invalid")),
            ProfileError::Unknown(_) => ("profile_unknown", tr!("help-profile-unknown")),
            ProfileError::Io(..) => ("profile_dir_unreadable", tr!("help-check-permissions")),
            ProfileError::Read(_) => ("profile_unreadable", tr!("help-profile-unreadable")),
        };
        CliError::new(Exit::DataErr, e.to_string()).code(code).help(help)
    }
}

impl From<crate::input::InputError> for CliError {
    fn from(e: crate::input::InputError) -> Self {
        CliError::new(Exit::DataErr, e.to_string()).code("file_unreadable")
    }
}

impl From<crate::config::ConfigError> for CliError {
    fn from(e: crate::config::ConfigError) -> Self {
        match e {
            crate::config::ConfigError::Read(e) => e.into(),
            crate::config::ConfigError::Invalid { .. } => {
                CliError::new(Exit::DataErr, e.to_string()).code("config_invalid")
            }
        }
    }
}

impl From<OrderFileError> for CliError {
    fn from(e: OrderFileError) -> Self {
        CliError::new(Exit::DataErr, e.to_string()).code("order_file_invalid")
    }
}

impl From<SyncError> for CliError {
    fn from(e: SyncError) -> Self {
        let (exit, code, help) = match &e {
            SyncError::Setup(_) => (Exit::DataErr, "sync_setup", tr!("help-sync-setup")),
            SyncError::Unreachable { .. } => (Exit::Unavailable, "provider_unreachable", tr!("help-sync-unreachable")),
            SyncError::Untrusted { .. } => (Exit::NoPerm, "provider_untrusted", tr!("help-sync-untrusted")),
            SyncError::Refused { .. } => (Exit::NoPerm, "provider_refused", tr!("help-sync-refused")),
            SyncError::Store(_) | SyncError::Seal(_) => (Exit::Failure, "store", tr!("help-sync-store")),
        };
        CliError::new(exit, e.to_string()).code(code).help(help)
    }
}

impl From<DeliveryError> for CliError {
    fn from(e: DeliveryError) -> Self {
        match e {
            DeliveryError::Settings(e) => e.into(),
            DeliveryError::Sync(e) => e.into(),
            DeliveryError::Config(e) => e.into(),
            DeliveryError::OrderKeys(e) => e.into(),
            DeliveryError::Busy => CliError::new(Exit::Unavailable, e.to_string())
                .code("sync_running")
                .help(tr!("help-sync-busy")),
            DeliveryError::Lock { .. } => CliError::new(Exit::Failure, e.to_string()),
        }
    }
}

impl From<PulledError> for CliError {
    fn from(e: PulledError) -> Self {
        match e {
            PulledError::Sync(e) => e.into(),
            PulledError::Keys(e) => e.into(),
            PulledError::Config(e) => e.into(),
        }
    }
}

impl From<SettingsError> for CliError {
    fn from(e: SettingsError) -> Self {
        match e {
            SettingsError::Config(e) => e.into(),
            SettingsError::OutOfRange(e) => CliError::new(Exit::DataErr, e.to_string()).code("config_invalid"),
            SettingsError::NoProvider => CliError::new(Exit::Usage, e.to_string())
                .code("no_provider")
                .help(tr!("help-sync-no-provider")),
            SettingsError::NoAgentKey => CliError::new(Exit::Usage, e.to_string())
                .code("no_agent_key")
                .help(tr!("help-sync-no-agent-key")),
        }
    }
}
