//! What an error means for whoever meets it: its kind (which the command line turns into
//! its exit code), a stable machine code for scripts, and a line saying what to do next.
//! Every library error is diagnosed here, so the command line, the console and the demo
//! give the same advice for the same failure.

use crate::agent::OpenError;
use crate::agent::plan::PlanError;
use crate::backup::{BackupError, TakeError};
use crate::config::{ConfigError, InitError};
use crate::input::InputError;
use crate::job::restore::PreviewError;
use crate::job::{JobError, OrderForError, OrderProblem};
use crate::order::OrderFileError;
use crate::profile::ProfileError;
use crate::receipt::ReceiptError;
use crate::store::StoreError;
use crate::support::SupportError;
use crate::sync::client::SyncError;
use crate::sync::delivery::DeliveryError;
use crate::sync::orders::{NotReady, PulledError};
use crate::sync::settings::SettingsError;
use crate::terminal::TerminalError;
use crate::terminal::discover::{ChooseError, DiscoverError};
use crate::tr;

/// What kind of failure: each is one exit code of the command line's contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Anything else that went wrong.
    Failure,
    /// The request (command line, settings) was wrong.
    Usage,
    /// Input data (an order, a file, an archive) is invalid or missing.
    Data,
    /// A terminal or the provider is unavailable.
    Unavailable,
    /// Refused: a wrong secret, an untrusted provider, an order not authorised.
    Refused,
    /// Stopped on request at a safe point.
    Interrupted,
}

/// An error's kind, machine code (`None`: the kind's own) and next step.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub kind: Kind,
    pub code: Option<&'static str>,
    pub help: Option<String>,
}

impl Diagnosis {
    /// A failure of `kind` with no more to say.
    pub fn of(kind: Kind) -> Diagnosis {
        Diagnosis {
            kind,
            code: None,
            help: None,
        }
    }

    /// With a machine code.
    pub fn code(mut self, code: &'static str) -> Diagnosis {
        self.code = Some(code);
        self
    }

    /// With a next step.
    pub fn help(mut self, help: String) -> Diagnosis {
        self.help = Some(help);
        self
    }
}

/// An error that knows what it means.
pub trait Diagnose: std::error::Error {
    fn diagnosis(&self) -> Diagnosis;
}

impl Diagnose for BackupError {
    fn diagnosis(&self) -> Diagnosis {
        let (kind, help) = match self {
            BackupError::Io { .. } | BackupError::Record(_) => (Kind::Failure, tr!("help-backup-io")),
            BackupError::WrongPassword(_) => (Kind::Data, tr!("help-backup-password")),
            BackupError::Exists(_) | BackupError::WeakPassword => (Kind::Data, tr!("help-backup-exists")),
            _ => (Kind::Data, tr!("help-backup-damaged")),
        };
        Diagnosis::of(kind).code(self.code()).help(help)
    }
}

impl Diagnose for StoreError {
    fn diagnosis(&self) -> Diagnosis {
        Diagnosis::of(Kind::Failure)
    }
}

impl Diagnose for TerminalError {
    fn diagnosis(&self) -> Diagnosis {
        let (kind, help) = match self {
            TerminalError::Unavailable { .. } => (Kind::Unavailable, tr!("help-terminal-unavailable")),
            TerminalError::WrongSecret { .. } => (Kind::Refused, tr!("help-wrong-secret")),
            TerminalError::LockedOut { .. } => (Kind::Refused, tr!("help-locked-out")),
            TerminalError::NotGenuine => (Kind::Refused, tr!("help-not-genuine")),
            TerminalError::Refused { .. } => (Kind::Failure, tr!("help-terminal-refused")),
            TerminalError::AnotherUnit { .. } => (Kind::Unavailable, tr!("help-another-unit")),
            TerminalError::NotFound(_) => (Kind::Unavailable, tr!("help-terminal-not-found")),
            TerminalError::NotAuthorised { .. } => (Kind::Refused, tr!("help-terminal-not-authorised")),
            TerminalError::Invalid(_) | TerminalError::Verification { .. } => {
                (Kind::Failure, tr!("help-terminal-faulty"))
            }
        };
        Diagnosis::of(kind).code(self.code()).help(help)
    }
}

impl Diagnose for JobError {
    fn diagnosis(&self) -> Diagnosis {
        let failure = Diagnosis::of(Kind::Failure);
        match self {
            JobError::Terminal(t) => t.diagnosis(),
            JobError::Interrupted { source, job, .. } => {
                let kind = match source.as_ref() {
                    JobError::Terminal(t) => t.diagnosis().kind,
                    _ => Kind::Failure,
                };
                Diagnosis::of(kind)
                    .code("interrupted")
                    .help(tr!("help-job-resume", job = job.as_str()))
            }
            JobError::Refused {
                code: "provider_unreachable",
                ..
            } => Diagnosis::of(Kind::Unavailable)
                .code("provider_unreachable")
                .help(tr!("help-phone-offline")),
            JobError::Refused { code, .. } => Diagnosis::of(Kind::Data).code(code).help(refusal_help(code)),
            JobError::Order(p) => p.diagnosis(),
            JobError::Stopped { job, .. } => Diagnosis::of(Kind::Interrupted)
                .code("stopped")
                .help(tr!("help-job-stopped", job = job.as_str())),
            JobError::Unauthorised(u) => {
                let d = Diagnosis::of(Kind::Refused).code(u.code());
                match u {
                    crate::job::Unauthorised::Stale { .. } => d.help(tr!("help-authorisation-stale")),
                    crate::job::Unauthorised::NotEnforcing { .. } => d.help(tr!("help-terminal-not-enforcing")),
                    crate::job::Unauthorised::OtherProfile { .. } => d.help(tr!("help-order-other-profile")),
                    crate::job::Unauthorised::RestoreUnordered { .. } => d.help(tr!("help-restore-unordered")),
                    crate::job::Unauthorised::AlreadyDone { job, .. } => {
                        d.help(tr!("help-order-already-done", job = job.as_str()))
                    }
                    crate::job::Unauthorised::Unsigned { .. } => d.help(tr!("help-order-unsigned")),
                    _ => d.help(tr!("help-order-not-authorised")),
                }
            }
            JobError::Backup(b) => b.diagnosis(),
            JobError::Busy { job, .. } => failure
                .code("terminal_busy")
                .help(tr!("help-job-busy", job = job.as_str())),
            JobError::LiveElsewhere(_) => Diagnosis::of(Kind::Unavailable)
                .code("job_running_elsewhere")
                .help(tr!("help-job-live-elsewhere")),
            JobError::StopRequested => Diagnosis::of(Kind::Interrupted).code("stopped"),
            JobError::Verification { .. } => failure
                .code("verification_failed")
                .help(tr!("help-verification-failed")),
            JobError::Cancelled => failure.code("not_confirmed").help(tr!("help-not-confirmed")),
            JobError::NotFound(_) => failure.code("job_not_found").help(tr!("help-jobs-list")),
            JobError::NotRunning { job, .. } => failure
                .code("job_not_running")
                .help(tr!("help-job-not-running", job = job.as_str())),
            JobError::AbortTooLate(_) | JobError::AbortNoBackup => {
                failure.code("abort_refused").help(tr!("help-abort-refused"))
            }
            JobError::AuthorisationSpent(job) => failure
                .code("abort_refused")
                .help(tr!("help-job-resume", job = job.as_str())),
            _ => failure,
        }
    }
}

impl Diagnose for OrderProblem {
    fn diagnosis(&self) -> Diagnosis {
        let invalid = Diagnosis::of(Kind::Data).code("order_invalid");
        match self {
            OrderProblem::File(e) => e.diagnosis(),
            OrderProblem::Profile(e) => e.diagnosis(),
            OrderProblem::Pulled(e) => e.diagnosis(),
            OrderProblem::Unreadable { .. } | OrderProblem::JobOrderUnreadable { .. } => {
                invalid.help(tr!("help-file-unreadable"))
            }
            OrderProblem::PulledGone(_) | OrderProblem::PulledChanged(_) => invalid.help(tr!("help-pull-again")),
            OrderProblem::CannotCreate { .. } => Diagnosis::of(Kind::Failure).help(tr!("help-cannot-write")),
            _ => invalid.help(tr!("help-order-check")),
        }
    }
}

impl Diagnose for ReceiptError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            ReceiptError::Store(e) => e.diagnosis(),
            ReceiptError::NotFound(_) => Diagnosis::of(Kind::Data)
                .code("job_not_found")
                .help(tr!("help-jobs-list")),
            ReceiptError::Write { .. } => Diagnosis::of(Kind::Failure).help(tr!("help-receipt-out")),
            ReceiptError::NoBrowser(_) => Diagnosis::of(Kind::Usage).help(tr!("help-receipt-pdf")),
            ReceiptError::Pdf { .. } => Diagnosis::of(Kind::Failure).help(tr!("help-receipt-pdf")),
        }
    }
}

impl Diagnose for ProfileError {
    fn diagnosis(&self) -> Diagnosis {
        let (kind, code, help) = match self {
            ProfileError::Invalid { .. } => (Kind::Data, "profile_invalid", tr!("help-profile-invalid")),
            ProfileError::Unknown(_) => (Kind::Data, "profile_unknown", tr!("help-profile-unknown")),
            ProfileError::Io(..) => (Kind::Data, "profile_dir_unreadable", tr!("help-check-permissions")),
            ProfileError::Read(_) => (Kind::Data, "profile_unreadable", tr!("help-profile-unreadable")),
            ProfileError::Loosens { .. } => (Kind::Refused, "profile_loosens", tr!("help-profile-loosens")),
        };
        Diagnosis::of(kind).code(code).help(help)
    }
}

impl Diagnose for InputError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            InputError::Empty { .. } => Diagnosis::of(Kind::Data)
                .code("secret_file_empty")
                .help(tr!("help-secret-file-empty")),
            InputError::TooLarge { .. } => Diagnosis::of(Kind::Data)
                .code("file_unreadable")
                .help(tr!("help-file-too-large")),
            _ => Diagnosis::of(Kind::Data)
                .code("file_unreadable")
                .help(tr!("help-file-unreadable")),
        }
    }
}

impl Diagnose for ConfigError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            ConfigError::Read(e) => e.diagnosis(),
            ConfigError::Invalid { .. } => Diagnosis::of(Kind::Data).code("config_invalid"),
        }
    }
}

impl Diagnose for OrderFileError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            OrderFileError::Input(e) => e.diagnosis(),
            _ => Diagnosis::of(Kind::Data)
                .code("order_file_invalid")
                .help(tr!("help-order-check")),
        }
    }
}

impl Diagnose for SyncError {
    fn diagnosis(&self) -> Diagnosis {
        let (kind, code, help) = match self {
            SyncError::Setup(_) => (Kind::Data, "sync_setup", tr!("help-sync-setup")),
            SyncError::Unreachable { .. } => (Kind::Unavailable, "provider_unreachable", tr!("help-sync-unreachable")),
            SyncError::Untrusted { .. } => (Kind::Refused, "provider_untrusted", tr!("help-sync-untrusted")),
            SyncError::Refused { .. } => (Kind::Refused, "provider_refused", tr!("help-sync-refused")),
            SyncError::Store(_) | SyncError::Seal(_) => (Kind::Failure, "store", tr!("help-sync-store")),
        };
        Diagnosis::of(kind).code(code).help(help)
    }
}

impl Diagnose for DeliveryError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            DeliveryError::Settings(e) => e.diagnosis(),
            DeliveryError::Sync(e) => e.diagnosis(),
            DeliveryError::Pulled(e) => e.diagnosis(),
            DeliveryError::Busy => Diagnosis::of(Kind::Unavailable)
                .code("sync_running")
                .help(tr!("help-sync-busy")),
            DeliveryError::Lock { .. } => Diagnosis::of(Kind::Failure),
        }
    }
}

impl Diagnose for PulledError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            PulledError::Sync(e) => e.diagnosis(),
            PulledError::Profile(e) => e.diagnosis(),
            PulledError::Config(e) => e.diagnosis(),
            PulledError::Settings(e) => e.diagnosis(),
        }
    }
}

impl Diagnose for NotReady {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            NotReady::Auth(_) => Diagnosis::of(Kind::Refused)
                .code("order_not_authorised")
                .help(tr!("help-order-not-authorised")),
            NotReady::Invalid(_) => Diagnosis::of(Kind::Data).code("order_invalid"),
        }
    }
}

impl Diagnose for SettingsError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            SettingsError::Config(e) => e.diagnosis(),
            SettingsError::OutOfRange(_) => Diagnosis::of(Kind::Data).code("config_invalid"),
            SettingsError::NoProvider => Diagnosis::of(Kind::Usage)
                .code("no_provider")
                .help(tr!("help-sync-no-provider")),
            SettingsError::NoAgentKey => Diagnosis::of(Kind::Usage)
                .code("no_agent_key")
                .help(tr!("help-sync-no-agent-key")),
        }
    }
}

impl Diagnose for SupportError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            SupportError::Exists(_) => Diagnosis::of(Kind::Data)
                .code("file_exists")
                .help(tr!("help-file-exists")),
            SupportError::Write { .. } => Diagnosis::of(Kind::Failure).help(tr!("help-cannot-write")),
            SupportError::Store(e) => e.diagnosis(),
            SupportError::Config(e) => e.diagnosis(),
            SupportError::Log(e) => e.diagnosis(),
        }
    }
}

impl Diagnose for OrderForError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            OrderForError::Profile(e) => e.diagnosis(),
            OrderForError::File(e) => e.diagnosis(),
            OrderForError::Pulled(e) => e.diagnosis(),
            OrderForError::Invalid { .. } => Diagnosis::of(Kind::Data).help(tr!("help-order-check")),
            OrderForError::Unauthorised(_) => Diagnosis::of(Kind::Refused)
                .code("order_not_authorised")
                .help(tr!("help-order-not-authorised")),
            OrderForError::RefusedAtPull { .. } => Diagnosis::of(Kind::Refused)
                .code("order_refused_at_pull")
                .help(tr!("help-order-refused-at-pull")),
            OrderForError::PulledGone(_) => Diagnosis::of(Kind::Data)
                .code("order_not_found")
                .help(tr!("help-orders-list")),
            OrderForError::Several { .. } => Diagnosis::of(Kind::Data)
                .code("order_invalid")
                .help(tr!("help-order-several")),
            OrderForError::NotInFile { .. } | OrderForError::WrongOperation { .. } => Diagnosis::of(Kind::Data)
                .code("order_invalid")
                .help(tr!("help-order-check")),
            OrderForError::PulledInvalid { .. } => Diagnosis::of(Kind::Data)
                .code("order_invalid")
                .help(tr!("help-order-refused-at-pull")),
        }
    }
}

impl Diagnose for DiscoverError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            DiscoverError::List(_) => Diagnosis::of(Kind::Failure).help(tr!("help-check-permissions")),
            DiscoverError::Pattern { .. } => Diagnosis::of(Kind::Data).help(tr!("help-ports-pattern")),
            DiscoverError::NotFound { .. } => Diagnosis::of(Kind::Unavailable)
                .code("terminal_not_found")
                .help(tr!("help-serial-not-found")),
        }
    }
}

impl Diagnose for ChooseError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            ChooseError::Ports(_) => Diagnosis::of(Kind::Data),
            ChooseError::Profile(e) => e.diagnosis(),
            ChooseError::SerialNotFound { .. } => Diagnosis::of(Kind::Unavailable)
                .code("terminal_not_found")
                .help(tr!("help-serial-not-found")),
            ChooseError::NoneFound => Diagnosis::of(Kind::Unavailable)
                .code("no_terminal")
                .help(tr!("help-no-terminal-found")),
            ChooseError::SeveralAnswer { .. } => Diagnosis::of(Kind::Unavailable)
                .code("terminal_ambiguous")
                .help(tr!("help-serial-several")),
        }
    }
}

impl Diagnose for TakeError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            TakeError::Terminal(e) => e.diagnosis(),
            TakeError::Backup(e) => e.diagnosis(),
        }
    }
}

impl Diagnose for InitError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            InitError::Exists(_) => Diagnosis::of(Kind::Data)
                .code("file_exists")
                .help(tr!("help-config-exists")),
            InitError::Write { .. } => Diagnosis::of(Kind::Failure),
        }
    }
}

impl Diagnose for PlanError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            PlanError::Store(e) => e.diagnosis(),
            PlanError::Orders(e) => e.diagnosis(),
            PlanError::Profile(e) => e.diagnosis(),
            PlanError::Ports(e) => e.diagnosis(),
            PlanError::Twice { .. } | PlanError::NoSerial { .. } => Diagnosis::of(Kind::Data),
        }
    }
}

impl Diagnose for PreviewError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            PreviewError::Terminal(e) => e.diagnosis(),
            PreviewError::OtherUnit { .. } => Diagnosis::of(Kind::Data)
                .code("another_unit")
                .help(tr!("help-restore-other-terminal")),
        }
    }
}

impl Diagnose for OpenError {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            OpenError::Config(e) => e.diagnosis(),
            OpenError::Profile(e) => e.diagnosis(),
            OpenError::Seal(_) => Diagnosis::of(Kind::Failure).code("local_key"),
            OpenError::Settings(e) => e.diagnosis(),
        }
    }
}

/// The next step after a check refused a job (nothing was changed), by the refusal's code.
fn refusal_help(code: &str) -> String {
    match code {
        "binding_mismatch" | "serial_mismatch" | "model_mismatch" => tr!("help-refused-mismatch"),
        "another_unit" => tr!("help-refused-another-unit"),
        "cooldown_active" | "bind_date_in_future" => tr!("help-refused-cooldown"),
        "cooldown_unknown" | "provider_check_invalid" => tr!("help-refused-cooldown-unknown"),
        "card_already_bound" => tr!("help-refused-already-bound"),
        "replacement_not_blank" | "no_replacement" => tr!("help-refused-replacement"),
        "no_activation_code" => tr!("help-refused-activation-code"),
        "documents_not_checked" | "code_needs_technician" => tr!("help-refused-documents"),
        "document_unreadable" | "evidence_unreadable" => tr!("help-refused-document-file"),
        "code_limit" => tr!("help-refused-code-limit"),
        _ => tr!("help-refused-check"),
    }
}
