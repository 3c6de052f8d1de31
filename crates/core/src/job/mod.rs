//! The five field procedures as resumable step machines.
//!
//! A job is a list of named steps decided by the operation and the profile. Before a step
//! runs, the journal records its intent; after, its outcome, each with an audit record.
//! Every step is idempotent (it looks at the terminal before it acts) so that `jobs resume`
//! can run an interrupted step again. Checks come first and change nothing; a failed check
//! ends the job as `refused`. After the checks the caller confirms, then the first write
//! happens only once a verified backup exists. The last step marks the job done and queues
//! its submission for the provider in one transaction.

pub mod batch;
pub mod eta;
pub mod order_for;
mod proof;
pub mod restore;
mod steps;
mod submission;

pub use proof::{Code, CodeAsk, CodeFile, Proof};
pub use steps::describe as describe_detail;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::backup::BackupError;
use crate::config::Paths;
use crate::link::LinkStats;
use crate::link::port::Opener;
pub use crate::link::port::SerialOpener;
use crate::order::{Operation, WorkOrder};
use crate::profile::Profile;
use crate::seal::{LocalKeys, SealError};
use crate::store::jobs::{JobKind, JobRecord, JobState, NewJob};
use crate::store::{Store, StoreError};
use crate::terminal::model::{Binding, Difference};
use crate::terminal::{Secret, Terminal, TerminalError, TestResult, discover};

/// A named step of a procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    CheckIdentity,
    Authenticate,
    CompareBinding,
    CheckDocuments,
    CheckCooldown,
    CheckReplacement,
    VerifyPhone,
    Backup,
    Settle,
    ExportData,
    ActivateNew,
    /// A one-pass migration's copy: one export of the old unit feeds its backup and the
    /// new unit's import at once.
    CopyData,
    ImportData,
    VerifyImport,
    UnbindOld,
    BindNew,
    Reboot,
    Verify,
    TestTransaction,
    Record,
    /// A restore writes the archive's binding, then its parameters.
    RestoreBinding,
    RestoreParameters,
}

impl Step {
    /// The step's name in the journal and on screen.
    pub fn name(self) -> &'static str {
        match self {
            Step::CheckIdentity => "check_identity",
            Step::Authenticate => "authenticate",
            Step::CompareBinding => "compare_binding",
            Step::CheckDocuments => "check_documents",
            Step::CheckCooldown => "check_cooldown",
            Step::CheckReplacement => "check_replacement",
            Step::VerifyPhone => "verify_phone",
            Step::Backup => "backup",
            Step::Settle => "settle",
            Step::ExportData => "export_data",
            Step::ActivateNew => "activate_new",
            Step::CopyData => "copy_data",
            Step::ImportData => "import_data",
            Step::VerifyImport => "verify_import",
            Step::UnbindOld => "unbind_old",
            Step::BindNew => "bind_new",
            Step::Reboot => "reboot",
            Step::Verify => "verify",
            Step::TestTransaction => "test_transaction",
            Step::Record => "record",
            Step::RestoreBinding => "restore_binding",
            Step::RestoreParameters => "restore_parameters",
        }
    }

    /// The step's name as a person reads it, in the current language.
    pub fn label(self) -> String {
        self.label_in(crate::i18n::lang())
    }

    /// The step's name in `lang`.
    pub fn label_in(self, lang: crate::i18n::Lang) -> String {
        let key = match self {
            Step::CheckIdentity => "step-check-identity",
            Step::Authenticate => "step-authenticate",
            Step::CompareBinding => "step-compare-binding",
            Step::CheckDocuments => "step-check-documents",
            Step::CheckCooldown => "step-check-cooldown",
            Step::CheckReplacement => "step-check-replacement",
            Step::VerifyPhone => "step-verify-phone",
            Step::Backup => "step-backup",
            Step::Settle => "step-settle",
            Step::ExportData => "step-export-data",
            Step::ActivateNew => "step-activate-new",
            Step::CopyData => "step-copy-data",
            Step::ImportData => "step-import-data",
            Step::VerifyImport => "step-verify-import",
            Step::UnbindOld => "step-unbind-old",
            Step::BindNew => "step-bind-new",
            Step::Reboot => "step-reboot",
            Step::Verify => "step-verify",
            Step::TestTransaction => "step-test-transaction",
            Step::Record => "step-record",
            Step::RestoreBinding => "step-restore-binding",
            Step::RestoreParameters => "step-restore-parameters",
        };
        crate::i18n::text_in(lang, key, None)
    }

    pub fn from_name(s: &str) -> Option<Step> {
        ALL_STEPS.iter().copied().find(|st| st.name() == s)
    }

    /// Checks change nothing; a failed check refuses the job.
    pub fn is_check(self) -> bool {
        matches!(
            self,
            Step::CheckIdentity
                | Step::Authenticate
                | Step::CompareBinding
                | Step::CheckDocuments
                | Step::CheckCooldown
                | Step::CheckReplacement
                | Step::VerifyPhone
        )
    }

    /// Whether the step moves a terminal's log over a line (what the time still to go of a
    /// job mostly is).
    pub fn moves_data(self) -> bool {
        matches!(
            self,
            Step::Backup | Step::ExportData | Step::ImportData | Step::CopyData
        )
    }

    /// Steps run again on every resume because they establish the session.
    fn always_runs(self) -> bool {
        matches!(self, Step::CheckIdentity | Step::Authenticate)
    }
}

/// The label of a step known by its journal name (a name no step has is shown as is).
pub fn step_label(name: &str) -> String {
    Step::from_name(name).map_or_else(|| name.to_string(), Step::label)
}

/// The steps of a plan, by their labels, joined by arrows.
pub fn step_list(names: &[&str]) -> String {
    names.iter().map(|n| step_label(n)).collect::<Vec<_>>().join(" → ")
}

/// A job's operation as a person reads it (`rebind-card` → "rebind card", `restore`).
pub fn operation_label(name: &str) -> String {
    match name.parse::<crate::order::Operation>() {
        Ok(op) => op.label(),
        Err(_) if name == restore::RESTORE => crate::tr!("op-restore"),
        Err(_) => name.to_string(),
    }
}

/// What a transfer moves, as a person reads it (the observer is told `backup`, `export` …).
pub fn transfer_label(label: &str) -> String {
    match label {
        "backup" => crate::tr!("transfer-backup"),
        "export" => crate::tr!("transfer-export"),
        "import" => crate::tr!("transfer-import"),
        "verify" => crate::tr!("transfer-verify"),
        "parameters" => crate::tr!("transfer-parameters"),
        other => other.to_string(),
    }
}

const ALL_STEPS: [Step; 22] = [
    Step::CheckIdentity,
    Step::Authenticate,
    Step::CompareBinding,
    Step::CheckDocuments,
    Step::CheckCooldown,
    Step::CheckReplacement,
    Step::VerifyPhone,
    Step::Backup,
    Step::Settle,
    Step::ExportData,
    Step::ActivateNew,
    Step::CopyData,
    Step::ImportData,
    Step::VerifyImport,
    Step::UnbindOld,
    Step::BindNew,
    Step::Reboot,
    Step::Verify,
    Step::TestTransaction,
    Step::Record,
    Step::RestoreBinding,
    Step::RestoreParameters,
];

/// How a migration moves the old unit's data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Copying {
    /// Settle, then one export feeds the backup and the new unit's import at once, on
    /// both lines together (one pass of the log).
    #[default]
    OnePass,
    /// Back up, settle, export again, then import: one transfer after another (three
    /// passes), as the first release did.
    Sequential,
}

impl Copying {
    /// The names on the command line and in the journal, in the order of the variants.
    pub const NAMES: [&'static str; 2] = ["one-pass", "sequential"];
}

impl std::str::FromStr for Copying {
    type Err = String;

    fn from_str(s: &str) -> Result<Copying, String> {
        match s {
            "one-pass" => Ok(Copying::OnePass),
            "sequential" => Ok(Copying::Sequential),
            other => Err(format!("{other}: give one of {}", Copying::NAMES.join(", "))),
        }
    }
}

/// The steps of `op` under `profile`, in order (a migration copies in one pass).
pub fn plan(op: Operation, profile: &Profile) -> Vec<Step> {
    plan_with(op, profile, Copying::default())
}

/// The steps of `op` under `profile`, a migration copying as `copying` says.
pub fn plan_with(op: Operation, profile: &Profile, copying: Copying) -> Vec<Step> {
    use Step::*;
    let test = profile.test_transaction.required;
    let mut steps = vec![CheckIdentity, Authenticate, CompareBinding, CheckDocuments];
    match op {
        Operation::RebindCard => {
            if profile.settlement.card_cooldown_days > 0 {
                steps.push(CheckCooldown);
            }
            if profile.operations.get(&op).is_some_and(|r| r.confirm_by_sms) {
                steps.push(VerifyPhone);
            }
            steps.extend([Backup, UnbindOld, BindNew, Verify]);
        }
        Operation::RebindAccount => steps.extend([Backup, UnbindOld, BindNew, Verify]),
        Operation::RebindPhone => steps.extend([VerifyPhone, Backup, BindNew, Reboot, Verify]),
        Operation::Unbind => steps.extend([Backup, Settle, UnbindOld, Verify]),
        Operation::Migrate => {
            steps.push(CheckReplacement);
            steps.extend(match copying {
                Copying::OnePass => &[Settle, ActivateNew, CopyData][..],
                Copying::Sequential => &[Backup, Settle, ExportData, ActivateNew, ImportData][..],
            });
            steps.extend([VerifyImport, UnbindOld, BindNew, Verify]);
        }
    }
    if test && op != Operation::Unbind && op != Operation::RebindPhone {
        steps.push(TestTransaction);
    }
    steps.push(Record);
    steps
}

/// How a step went, for observers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Started,
    Done,
    /// Already done before this run (resume).
    Skipped,
    Failed,
}

/// What the technician is asked to confirm once every check has passed.
#[derive(Debug, Clone, Serialize)]
pub struct PlanSummary {
    pub job_id: String,
    pub order_id: String,
    /// The procedure (`rebind-card` …), or `restore`.
    pub operation: String,
    pub terminal: String,
    pub replacement: Option<String>,
    /// Changes to the main terminal's binding, masked.
    pub changes: Vec<Difference>,
    pub steps: Vec<&'static str>,
}

/// Receives a job's events; the CLI draws them. Jobs never print.
pub trait Observer {
    /// The steps this run goes through, in order, before the first (a resumed job lists
    /// them all; those done before are reported skipped).
    fn begin(&mut self, _steps: &[Step]) {}
    fn step(&mut self, step: Step, status: StepStatus, detail: &str);
    fn transfer(&mut self, label: &str, done: u64, total: u64);
    /// Called once the checks have passed; `false` stops the job before any change.
    fn confirm(&mut self, plan: &PlanSummary) -> bool;
    /// Whether the technician asked to stop (Ctrl-C): the job stops before its next step,
    /// at a point from which `jobs resume` carries on.
    fn stop_requested(&self) -> bool {
        false
    }
    /// Whether a person can be asked for a one-time code (a run of many jobs cannot).
    fn can_ask_codes(&self) -> bool {
        false
    }
    /// The one-time code the merchant received; `None`: none was given (the job is
    /// refused before any change).
    fn one_time_code(&mut self, _ask: &CodeAsk) -> Option<Code> {
        None
    }
}

/// Why a job stopped.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{}", crate::tr!("job-refused", step = step_label(.step), reason = .reason.as_str()))]
    Refused {
        step: &'static str,
        /// A stable machine code (`cooldown_active`).
        code: &'static str,
        reason: String,
    },
    #[error("{}", crate::tr!("job-busy", serial = .serial.as_str(), job = .job.as_str()))]
    Busy { serial: String, job: String },
    #[error("{0}")]
    Terminal(#[from] TerminalError),
    #[error("{}", crate::tr!("job-interrupted", step = step_label(.step), reason = .source.to_string(), job = .job.as_str()))]
    Interrupted {
        step: &'static str,
        job: String,
        source: Box<JobError>,
    },
    #[error("{}", crate::tr!("job-stopped", next = step_label(.next), terminal = .terminal.as_str(), job = .job.as_str()))]
    Stopped {
        job: String,
        next: &'static str,
        /// What the terminal holds now, in words.
        terminal: String,
    },
    /// The order is not the provider's authorisation for this job (see the variants).
    #[error(transparent)]
    Unauthorised(#[from] Unauthorised),
    #[error("{}", crate::tr!("job-verification", step = step_label(.step), what = .what.as_str()))]
    Verification { step: &'static str, what: String },
    #[error("{}", crate::tr!("job-cancelled"))]
    Cancelled,
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Backup(#[from] BackupError),
    #[error("{0}")]
    Seal(#[from] SealError),
    #[error("{}", crate::tr!("job-not-found", job = .0.as_str()))]
    NotFound(String),
    #[error("{}", crate::tr!("job-not-running", job = .job.as_str(), state = .state.label()))]
    NotRunning { job: String, state: JobState },
    /// The job's order (or a restore's archive) cannot be read or no longer holds.
    #[error(transparent)]
    Order(#[from] OrderProblem),
    #[error("{}", crate::tr!("abort-too-late", job = .0.as_str()))]
    AbortTooLate(String),
    #[error("{}", crate::tr!("restore-no-backup"))]
    AbortNoBackup,
    /// A step asked of a procedure that has no such step (a defect, not bad input).
    #[error("{}", crate::tr!("step-not-in-plan", step = .step.as_str(), operation = .operation.as_str()))]
    NotInPlan { step: String, operation: String },
}

/// Why an order may not be carried out here and now.
#[derive(Debug, thiserror::Error)]
pub enum Unauthorised {
    #[error("{}", crate::tr!("order-unsigned-refused", profile = .profile.as_str(), file = .file.display().to_string()))]
    Unsigned { profile: String, file: PathBuf },
    #[error("{}", crate::tr!("order-other-terminal", order = .order.as_str(), expected = .expected.as_str(), serial = .serial.as_str()))]
    OtherTerminal {
        order: String,
        expected: String,
        serial: String,
    },
    #[error("{}", crate::tr!("order-already-done", order = .order.as_str(), job = .job.as_str()))]
    AlreadyDone { order: String, job: String },
    #[error(transparent)]
    Signature(#[from] crate::signed::OrderAuthError),
}

/// What is wrong with a job's order, its file, or a restore's archive.
#[derive(Debug, thiserror::Error)]
pub enum OrderProblem {
    #[error("{}", crate::tr!("cannot-read", file = .file.display().to_string(), reason = .reason.as_str()))]
    Unreadable { file: PathBuf, reason: String },
    #[error("{}", crate::tr!("job-order-unreadable", file = .file.display().to_string(), reason = .reason.as_str()))]
    JobOrderUnreadable { file: PathBuf, reason: String },
    #[error("{}", crate::tr!("job-order-changed", file = .0.display().to_string()))]
    Changed(PathBuf),
    #[error("{}", crate::tr!("job-order-invalid-now", order = .order.as_str(), file = .file.as_str()))]
    InvalidNow { order: String, file: String },
    #[error("{}", crate::tr!("job-pulled-gone", order = .0.as_str()))]
    PulledGone(String),
    #[error("{}", crate::tr!("job-pulled-changed", order = .0.as_str()))]
    PulledChanged(String),
    #[error(transparent)]
    File(#[from] crate::order::OrderFileError),
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    #[error(transparent)]
    Pulled(#[from] crate::sync::client::SyncError),
    #[error("{}", crate::tr!("cannot-create", dir = .dir.display().to_string(), reason = .reason.as_str()))]
    CannotCreate { dir: PathBuf, reason: String },
    #[error("{}", crate::tr!("migrate-needs-replacement"))]
    NoReplacementPort,
    #[error("{}", crate::tr!("restore-archive-changed", file = .0.as_str()))]
    ArchiveChanged(String),
    #[error("{}", crate::tr!("restore-archive-unreadable", reason = .0.as_str()))]
    ArchiveUnreadable(String),
}

impl From<crate::backup::TakeError> for JobError {
    fn from(e: crate::backup::TakeError) -> JobError {
        match e {
            crate::backup::TakeError::Terminal(e) => e.into(),
            crate::backup::TakeError::Backup(e) => e.into(),
        }
    }
}

impl From<crate::profile::ProfileError> for JobError {
    fn from(e: crate::profile::ProfileError) -> JobError {
        JobError::Order(e.into())
    }
}

/// What a finished job produced.
#[derive(Debug, Clone, Serialize)]
pub struct JobOutcome {
    pub job: JobRecord,
    pub plan: PlanSummary,
    pub backup_file: Option<String>,
    pub submission_id: Option<String>,
    pub test_transaction: Option<TestResult>,
    pub transactions_moved: Option<u32>,
    pub binding_after: Option<Binding>,
    pub link: LinkStats,
    /// The receipt to sign, written where receipts are kept.
    pub receipt: Receipt,
}

/// Where a job's receipt went, or why it could not be written (the job stands either way;
/// `posagent jobs receipt ID` writes it again).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Receipt {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Receipt {
    /// Writes the receipt of a job that ran (a planned dry run has none).
    fn keep(store: &Store, paths: &Paths, job: &JobRecord) -> Receipt {
        if job.state == JobState::Planned {
            return Receipt::default();
        }
        match crate::receipt::write(store, &paths.data, &job.id, None) {
            Ok(p) => Receipt {
                file: Some(p.display().to_string()),
                error: None,
            },
            Err(e) => {
                tracing::warn!(job = %job.id, "receipt not written: {e}");
                Receipt {
                    file: None,
                    error: Some(e.to_string()),
                }
            }
        }
    }
}

/// Everything a job needs to start.
pub struct JobSetup<'a> {
    /// How terminals are reached: serial ports ([`SerialOpener`]), or in tests simulated
    /// terminals in the same process.
    pub opener: Arc<dyn Opener>,
    pub paths: &'a Paths,
    pub profile: &'a Profile,
    pub order: WorkOrder,
    pub order_file: &'a Path,
    pub port: &'a Path,
    pub replacement_port: Option<&'a Path>,
    pub secret: &'a Secret,
    pub backup_password: &'a [u8],
    pub technician: &'a str,
    pub dry_run: bool,
    /// The technician confirmed with the provider that the merchant's settlement-card
    /// cooldown has run out, where the agent cannot know it offline (recorded in the audit).
    pub cooldown_checked_by_provider: bool,
    /// How a migration checks the new unit's copy of the data.
    pub verify: Verify,
    /// How a migration moves the data (kept for the whole job, resumes included).
    pub copying: Copying,
    /// The provider's signature over the order, when it was pulled; `None` for a local file.
    pub signed: Option<crate::signed::Verified>,
    /// What may prove a phone number (`verify_phone`).
    pub proof: Proof,
}

/// How a migration checks the copy on the new unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verify {
    /// By the terminal's DIGEST of what it stores (SHA-256 and record count), falling back
    /// to a read-back on a terminal without DIGEST.
    #[default]
    Digest,
    /// By reading every record back.
    Full,
}

/// SHA-256 of an order file, hex.
pub fn file_sha256(path: &Path) -> Result<String, std::io::Error> {
    file_digest(path, crate::input::MAX_ORDER_FILE, &crate::tr!("what-order-file"))
}

/// SHA-256 of a regular file of at most `limit` bytes, hex, read as a stream.
fn file_digest(path: &Path, limit: u64, what: &str) -> Result<String, std::io::Error> {
    let (mut file, _) = crate::input::open_regular(path, limit, what).map_err(std::io::Error::other)?;
    let mut sha = Sha256::new();
    std::io::copy(&mut file, &mut sha)?;
    Ok(hex::encode(sha.finalize()))
}

/// Where a test hook may kill the agent (`POSAGENT_KILL_AT`): `before:STEP`, `after:STEP`
/// or `transfer:LABEL:BYTES` (LABEL: backup, export, import, verify). Used by the interruption
/// tests to stop the process with SIGKILL at exact points; it does nothing unless the
/// variable is set, and it is compiled only with the `test-hooks` feature, which only the
/// test builds enable: a product build has no way to kill itself.
pub const KILL_AT_ENV: &str = "POSAGENT_KILL_AT";

fn kill_point(what: &str) {
    if cfg!(feature = "test-hooks") && std::env::var(KILL_AT_ENV).is_ok_and(|v| v == what) {
        kill_now();
    }
}

#[cfg(feature = "test-hooks")]
fn kill_now() {
    // SIGKILL, as a power cut or `kill -9` would: no destructors, no flushing.
    #[cfg(unix)]
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    // The nearest on Windows: the process ends at once, nothing unwound or flushed.
    #[cfg(not(unix))]
    std::process::abort();
}

#[cfg(not(feature = "test-hooks"))]
fn kill_now() {}

/// `transfer:LABEL:BYTES`: the byte count at which to die during the named transfer.
fn kill_after_bytes(label: &str) -> Option<u64> {
    if !cfg!(feature = "test-hooks") {
        return None;
    }
    let spec = std::env::var(KILL_AT_ENV).ok()?;
    let rest = spec.strip_prefix("transfer:")?.strip_prefix(label)?.strip_prefix(':')?;
    rest.parse().ok()
}

/// What a run's steps produce, for later steps and the outcome. Empty at the start of
/// every run: a resumed run recovers what it needs from the terminal or the job's backup.
#[derive(Default)]
struct Made {
    /// The binding before the job, from the terminal or the job's backup.
    original: Option<Binding>,
    exported: Option<steps::Exported>,
    test: Option<TestResult>,
    moved: Option<u32>,
    after: Option<Binding>,
}

/// A job being carried out.
struct Run<'a> {
    opener: Arc<dyn Opener>,
    store: Store,
    keys: LocalKeys,
    paths: &'a Paths,
    profile: &'a Profile,
    order: WorkOrder,
    job: JobRecord,
    secret: &'a Secret,
    backup_password: &'a [u8],
    main: Terminal,
    replacement: Option<Terminal>,
    replacement_port: Option<PathBuf>,
    observer: &'a mut dyn Observer,
    /// Details of steps done, from the journal and this run.
    done: BTreeMap<Step, serde_json::Value>,
    /// What this run's steps have produced so far.
    made: Made,
    /// See [`JobSetup::cooldown_checked_by_provider`].
    cooldown_checked_by_provider: bool,
    verify: Verify,
    /// See [`JobSetup::copying`].
    copying: Copying,
    /// See [`JobSetup::signed`].
    signed: Option<crate::signed::Verified>,
    /// See [`JobSetup::proof`].
    proof: Proof,
    /// Checks only: nothing is changed, and no code is sent.
    dry_run: bool,
}

fn open_terminal(opener: &Arc<dyn Opener>, path: &Path, profile: &Profile) -> Result<Terminal, JobError> {
    Ok(Terminal::open_with(opener.clone(), path, &profile.serial)?)
}

/// Starts a new job: opens the terminal, refuses if it has an unfinished job, records the
/// job and runs its plan. A dry run stops after the checks and changes nothing.
pub fn start(setup: JobSetup<'_>, observer: &mut dyn Observer) -> Result<JobOutcome, JobError> {
    let mut store = Store::open(&setup.paths.data)?;
    let keys = LocalKeys::load_or_create(&setup.paths.data)?;
    let mut main = open_terminal(&setup.opener, setup.port, setup.profile)?;
    let identity = main.identify()?;
    if let Some(open) = store.open_job_for(&identity.serial)? {
        return Err(JobError::Busy {
            serial: identity.serial,
            job: open.id,
        });
    }
    if let Some(serial) = setup.order.replacement.as_ref().and_then(|r| r.serial.as_ref())
        && let Some(open) = store.open_job_for(serial)?
    {
        return Err(JobError::Busy {
            serial: serial.clone(),
            job: open.id,
        });
    }
    authorised(&setup, &store, &identity.serial)?;
    let (order_file, order_sha) = match &setup.signed {
        Some(s) => (format!("{PULLED}{}", s.id), s.sha256.clone()),
        None => (
            std::fs::canonicalize(setup.order_file)
                .unwrap_or(setup.order_file.to_path_buf())
                .display()
                .to_string(),
            file_sha256(setup.order_file).map_err(|e| OrderProblem::Unreadable {
                file: setup.order_file.to_path_buf(),
                reason: e.to_string(),
            })?,
        ),
    };
    let job = JobRecord::new(
        NewJob {
            order_id: setup.order.id.clone(),
            operation: JobKind::Procedure(setup.order.operation),
            profile: setup.profile.name.clone(),
            order_file,
            order_sha256: order_sha,
            terminal_serial: identity.serial.clone(),
            replacement_serial: setup.order.replacement.as_ref().and_then(|r| r.serial.clone()),
            port: setup.port.display().to_string(),
            replacement_port: setup.replacement_port.map(|p| p.display().to_string()),
            technician: setup.technician.to_string(),
        },
        if setup.dry_run {
            JobState::Planned
        } else {
            JobState::Running
        },
    );
    store.create_job(&job)?;
    let mut source = match &setup.signed {
        Some(s) => serde_json::json!({
            "signed": true, "key_id": s.key_id, "issued_at": s.issued_at, "valid_until": s.valid_until,
            "laptop_clock": crate::store::now(),
        }),
        None => serde_json::json!({ "signed": false, "file": job.order_file }),
    };
    // What the technician attested when starting holds for the whole job, resumes included.
    source[DOCUMENTS_CHECKED] = setup.proof.documents_checked.into();
    source[COPYING] = serde_json::to_value(setup.copying).unwrap_or_default();
    store.journal(&job, "order", "done", source)?;
    let mut run = Run {
        opener: setup.opener.clone(),
        store,
        keys,
        paths: setup.paths,
        profile: setup.profile,
        order: setup.order,
        job,
        secret: setup.secret,
        backup_password: setup.backup_password,
        main,
        replacement: None,
        replacement_port: setup.replacement_port.map(Path::to_path_buf),
        observer,
        done: BTreeMap::new(),
        made: Made::default(),
        cooldown_checked_by_provider: setup.cooldown_checked_by_provider,
        verify: setup.verify,
        copying: setup.copying,
        signed: setup.signed.clone(),
        proof: setup.proof,
        dry_run: setup.dry_run,
    };
    let result = run.execute(true, setup.dry_run);
    if setup.dry_run {
        // A dry run leaves no job behind, only its audit records (it did authenticate).
        run.store.forget_job(&run.job)?;
    }
    result
}

/// The directory where jobs keep the backups they take, created if need be.
fn backups_dir(paths: &Paths) -> Result<PathBuf, JobError> {
    let dir = paths.data.join("backups");
    crate::private::dir(&dir).map_err(|e| OrderProblem::CannotCreate {
        dir: dir.clone(),
        reason: e.to_string(),
    })?;
    Ok(dir)
}

/// The `order` journal entry's record that the technician saw the documents' originals.
const DOCUMENTS_CHECKED: &str = "documents_checked";

/// The `order` journal entry's record of how the job copies a migration's data; a job
/// started before there was a choice has none, and copies one transfer after another.
const COPYING: &str = "copying";

/// What a job's `order_file` says for an order pulled from the provider.
pub const PULLED: &str = "pulled:";

/// Whether this order may be carried out on this terminal: a signed order only on the
/// terminal it names and only once; an unsigned one only where the profile allows.
fn authorised(setup: &JobSetup<'_>, store: &Store, serial: &str) -> Result<(), JobError> {
    let Some(s) = &setup.signed else {
        if setup.profile.orders.require_signed && !setup.dry_run {
            return Err(Unauthorised::Unsigned {
                profile: setup.profile.name.clone(),
                file: setup.order_file.to_path_buf(),
            }
            .into());
        }
        return Ok(());
    };
    if setup.order.expect.serial.as_deref() != Some(serial) {
        return Err(Unauthorised::OtherTerminal {
            order: s.id.clone(),
            expected: setup.order.expect.serial.clone().unwrap_or_else(|| "-".into()),
            serial: serial.to_string(),
        }
        .into());
    }
    if let Some(job) = store.job_of_order(&s.id)? {
        return Err(Unauthorised::AlreadyDone {
            order: s.id.clone(),
            job,
        }
        .into());
    }
    Ok(())
}

/// Ends a job as interrupted before `next`, at the technician's request; the error says
/// what the terminal holds (`terminal`) and how to carry on.
fn stop_here(store: &mut Store, job: &JobRecord, next: Step, terminal: String) -> JobError {
    match store.end_job(job, JobState::Interrupted, Some("stopped at the technician's request")) {
        Ok(()) => JobError::Stopped {
            job: job.id.clone(),
            next: next.name(),
            terminal,
        },
        Err(e) => e.into(),
    }
}

/// Loads a running job and the order it was started from (which must be unchanged).
fn load_running(store: &Store, id: &str) -> Result<JobRecord, JobError> {
    let job = store.job(id)?.ok_or_else(|| JobError::NotFound(id.to_string()))?;
    if !matches!(job.state, JobState::Running | JobState::Interrupted) {
        return Err(JobError::NotRunning {
            job: job.id.clone(),
            state: job.state,
        });
    }
    if job.operation == JobKind::Restore {
        // Its "order" is the archive, checked by the restore itself.
        return Ok(job);
    }
    let order_file = Path::new(&job.order_file);
    let sha = file_sha256(order_file).map_err(|e| OrderProblem::JobOrderUnreadable {
        file: order_file.to_path_buf(),
        reason: e.to_string(),
    })?;
    if sha != job.order_sha256 {
        return Err(OrderProblem::Changed(order_file.to_path_buf()).into());
    }
    Ok(job)
}

/// Everything a resume or an abort needs besides the job id.
pub struct Continue<'a> {
    /// As [`JobSetup::opener`].
    pub opener: Arc<dyn Opener>,
    /// As [`JobSetup::verify`], for the steps still to run.
    pub verify: Verify,
    /// The provider's order keys, to check a pulled order's signature again.
    pub order_keys: &'a crate::signed::OrderKeys,
    pub paths: &'a Paths,
    pub profiles: &'a crate::profile::ProfileSet,
    pub secret: &'a Secret,
    pub backup_password: &'a [u8],
    /// Where the terminal is now; `None`: where it was, else wherever its serial answers.
    pub port: Option<&'a Path>,
    /// The same for a migration's replacement unit.
    pub replacement_port: Option<&'a Path>,
    /// As [`JobSetup::proof`], for a job interrupted before its phone was proven.
    pub proof: Proof,
}

impl<'a> Continue<'a> {
    /// The order a job runs: its local file again, or the pulled order from the store
    /// (verified again, so a record edited since cannot steer the rest of the job).
    fn order_of(
        &self,
        store: &Store,
        job: &JobRecord,
    ) -> Result<(WorkOrder, Option<crate::signed::Verified>), JobError> {
        let no_longer = || {
            JobError::from(OrderProblem::InvalidNow {
                order: job.order_id.clone(),
                file: job.order_file.clone(),
            })
        };
        if let Some(id) = job.order_file.strip_prefix(PULLED) {
            let keys = LocalKeys::load_or_create(&self.paths.data)?;
            let doc = crate::sync::orders::document(store, &keys, id)
                .map_err(OrderProblem::from)?
                .ok_or_else(|| OrderProblem::PulledGone(id.to_string()))?;
            let v = doc.verify(self.order_keys).map_err(Unauthorised::from)?;
            if v.sha256 != job.order_sha256 {
                return Err(OrderProblem::PulledChanged(id.to_string()).into());
            }
            let order = crate::order::validate(&v.raw(), self.profiles).map_err(|_| no_longer())?;
            return Ok((order, Some(v)));
        }
        let (orders, report) =
            crate::order::check_file(Path::new(&job.order_file), self.profiles).map_err(OrderProblem::from)?;
        let order = orders
            .into_iter()
            .find(|o| o.id == job.order_id)
            .filter(|_| report.valid)
            .ok_or_else(no_longer)?;
        Ok((order, None))
    }

    /// The job's terminal, opened where it is now: a USB terminal replugged into another
    /// socket comes back under another name, so it is found by its serial unless the
    /// technician said where it is; another unit is never carried on with.
    fn reach_main(&self, job: &JobRecord, profile: &Profile) -> Result<(PathBuf, Terminal), JobError> {
        let port = match self.port {
            Some(p) => p.to_path_buf(),
            None => discover::locate(&job.terminal_serial, Some(Path::new(&job.port)), &profile.serial)
                .map_err(TerminalError::from)?,
        };
        let mut main = open_terminal(&self.opener, &port, profile)?;
        let found = main.identify()?.serial;
        if found != job.terminal_serial {
            return Err(TerminalError::AnotherUnit {
                path: port,
                expected: job.terminal_serial.clone(),
                found,
            }
            .into());
        }
        Ok((port, main))
    }

    /// Carries on, or rolls back, an interrupted restore.
    fn restore(&self, job: JobRecord, observer: &'a mut dyn Observer, abort: bool) -> Result<JobOutcome, JobError> {
        let mut store = Store::open(&self.paths.data)?;
        let profile = self.profiles.get(&job.profile)?;
        let archive = PathBuf::from(&job.order_file);
        let contents = crate::backup::read_archive(&archive, self.backup_password)?;
        let (port, main) = self.reach_main(&job, profile)?;
        store.set_job_ports(&job.id, &port, None)?;
        if job.state == JobState::Interrupted {
            store.end_job(&job, JobState::Running, None)?;
        }
        let setup = restore::RestoreSetup {
            paths: self.paths,
            profile,
            archive: &archive,
            to_replacement: contents.manifest.terminal.serial != job.terminal_serial,
            contents: &contents,
            port: &port,
            secret: self.secret,
            backup_password: self.backup_password,
            technician: &job.technician.clone(),
        };
        if abort {
            restore::abort(&setup, store, job, main)
        } else {
            restore::resume(&setup, store, job, main, observer)
        }
    }

    fn open(&self, id: &str, observer: &'a mut dyn Observer) -> Result<Run<'a>, JobError> {
        let store = Store::open(&self.paths.data)?;
        let job = load_running(&store, id)?;
        let profile = self.profiles.get(&job.profile)?;
        let (order, signed) = self.order_of(&store, &job)?;
        let (port, main) = self.reach_main(&job, profile)?;
        let replacement_port = match (self.replacement_port, &job.replacement_serial, &job.replacement_port) {
            (Some(p), _, _) => Some(p.to_path_buf()),
            (None, Some(serial), Some(last)) => Some(
                discover::locate(serial, Some(Path::new(last)), &profile.serial)
                    .unwrap_or_else(|_| PathBuf::from(last)),
            ),
            (None, _, last) => last.as_ref().map(PathBuf::from),
        };
        let mut store = store;
        store.set_job_ports(&job.id, &port, replacement_port.as_deref())?;
        if job.state == JobState::Interrupted {
            store.end_job(&job, JobState::Running, None)?;
        }
        let job = store.job(&job.id)?.unwrap_or(job);
        let mut done = BTreeMap::new();
        let mut proof = self.proof.clone();
        let mut copying = Copying::Sequential;
        for e in store.journal_of(&job.id)? {
            if e.step == "order" {
                proof.documents_checked |= e.detail[DOCUMENTS_CHECKED] == true;
                copying = serde_json::from_value(e.detail[COPYING].clone()).unwrap_or(Copying::Sequential);
            }
            if let Some(step) = Step::from_name(&e.step) {
                match e.phase.as_str() {
                    "done" => {
                        done.insert(step, e.detail);
                    }
                    "intent" | "failed" => {
                        done.remove(&step);
                    }
                    _ => {}
                }
            }
        }
        Ok(Run {
            opener: self.opener.clone(),
            keys: LocalKeys::load_or_create(&self.paths.data)?,
            store,
            paths: self.paths,
            profile,
            order,
            replacement_port,
            job,
            secret: self.secret,
            backup_password: self.backup_password,
            main,
            replacement: None,
            observer,
            done,
            made: Made::default(),
            // The checks ran when the job started; a resume does not repeat them.
            cooldown_checked_by_provider: false,
            verify: self.verify,
            copying,
            signed,
            proof,
            dry_run: false,
        })
    }

    /// A restore job, if `id` is one (it has no work order to open).
    fn restore_job(&self, id: &str) -> Result<Option<JobRecord>, JobError> {
        let store = Store::open(&self.paths.data)?;
        let job = load_running(&store, id)?;
        Ok((job.operation == JobKind::Restore).then_some(job))
    }

    /// Continues an interrupted job from its journal.
    pub fn resume(&self, id: &str, observer: &'a mut dyn Observer) -> Result<JobOutcome, JobError> {
        if let Some(job) = self.restore_job(id)? {
            return self.restore(job, observer, false);
        }
        self.open(id, observer)?.execute(false, false)
    }

    /// Rolls an unfinished job back to the binding in its backup.
    pub fn abort(&self, id: &str, observer: &'a mut dyn Observer) -> Result<JobOutcome, JobError> {
        if let Some(job) = self.restore_job(id)? {
            return self.restore(job, observer, true);
        }
        self.open(id, observer)?.abort()
    }
}

impl Run<'_> {
    fn plan(&self) -> Vec<Step> {
        plan_with(self.order.operation, self.profile, self.copying)
    }

    /// What the main terminal holds after the steps done so far, in words.
    fn terminal_state(&self) -> String {
        let last = self
            .plan()
            .into_iter()
            .rev()
            .find(|s| !s.is_check() && self.done.contains_key(s));
        let what = match last {
            None => return crate::tr!("state-unchanged"),
            Some(Step::Backup) => crate::tr!("state-backed-up"),
            Some(Step::Settle) => crate::tr!("state-settled"),
            Some(Step::ExportData | Step::ActivateNew | Step::CopyData | Step::ImportData | Step::VerifyImport) => {
                crate::tr!("state-data-moving")
            }
            Some(Step::UnbindOld) => crate::tr!("state-unbound"),
            Some(Step::BindNew | Step::Reboot) => crate::tr!("state-bound-unverified"),
            Some(_) => crate::tr!("state-bound-verified"),
        };
        crate::tr!(
            "state-last-step",
            step = last.map(Step::label).unwrap_or_default(),
            what = what
        )
    }

    fn summary(&self, changes: Vec<Difference>) -> PlanSummary {
        PlanSummary {
            job_id: self.job.id.clone(),
            order_id: self.order.id.clone(),
            operation: self.order.operation.to_string(),
            terminal: self.job.terminal_serial.clone(),
            replacement: self.job.replacement_serial.clone(),
            changes,
            steps: self.plan().into_iter().map(Step::name).collect(),
        }
    }

    fn outcome(&mut self, changes: Vec<Difference>) -> Result<JobOutcome, JobError> {
        let job = self.store.job(&self.job.id)?.unwrap_or_else(|| self.job.clone());
        let submission_id = self
            .done
            .get(&Step::Record)
            .and_then(|d| d["submission"].as_str().map(str::to_string));
        let mut link = self.main.stats();
        if let Some(r) = &self.replacement {
            link.absorb(&r.stats());
        }
        Ok(JobOutcome {
            receipt: Receipt::keep(&self.store, self.paths, &job),
            backup_file: job.backup_file.clone(),
            job,
            plan: self.summary(changes),
            submission_id,
            test_transaction: self.made.test.clone(),
            transactions_moved: self.made.moved,
            binding_after: self.made.after.clone(),
            link,
        })
    }

    /// Runs the plan. `fresh`: a new job (asks for confirmation after the checks).
    fn execute(&mut self, fresh: bool, dry_run: bool) -> Result<JobOutcome, JobError> {
        let steps = self.plan();
        self.observer.begin(&steps);
        let mut confirmed = !fresh;
        let mut changes = Vec::new();
        for step in steps {
            if !step.is_check() && !confirmed {
                changes = self.planned_changes();
                if dry_run {
                    self.store.end_job(&self.job, JobState::Planned, None)?;
                    return self.outcome(changes);
                }
                let summary = self.summary(changes.clone());
                if !self.observer.confirm(&summary) {
                    self.store.end_job(&self.job, JobState::Cancelled, None)?;
                    return Err(JobError::Cancelled);
                }
                confirmed = true;
            }
            if self.done.contains_key(&step) && !step.always_runs() {
                self.observer
                    .step(step, StepStatus::Skipped, &crate::tr!("detail-done-before"));
                continue;
            }
            if self.observer.stop_requested() {
                let terminal = self.terminal_state();
                return Err(stop_here(&mut self.store, &self.job, step, terminal));
            }
            self.run_step(step)?;
        }
        self.outcome(changes)
    }

    fn run_step(&mut self, step: Step) -> Result<(), JobError> {
        kill_point(&format!("before:{}", step.name()));
        self.observer.step(step, StepStatus::Started, "");
        if step != Step::Record {
            self.store
                .journal(&self.job, step.name(), "intent", serde_json::json!({}))?;
        }
        let mut result = self.exec(step);
        // A step cut off by a disconnect is run once more after the port comes back:
        // every step first looks at the terminal, so running it again is safe.
        if let Err(JobError::Terminal(TerminalError::Unavailable { source, .. })) = &result
            && source.is_disconnect()
        {
            self.observer
                .step(step, StepStatus::Started, &crate::tr!("detail-reconnected"));
            result = self.reconnect().and_then(|()| self.exec(step));
        }
        match result {
            Ok(detail) => {
                tracing::info!(job = %self.job.id, step = step.name(), detail = %steps::describe(&detail), "step done");
                if step != Step::Record {
                    self.store.journal(&self.job, step.name(), "done", detail.clone())?;
                }
                self.observer.step(step, StepStatus::Done, &steps::describe(&detail));
                self.done.insert(step, detail);
                kill_point(&format!("after:{}", step.name()));
                Ok(())
            }
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(job = %self.job.id, step = step.name(), error = %message, "step failed");
                self.store.journal(
                    &self.job,
                    step.name(),
                    "failed",
                    serde_json::json!({ "error": message }),
                )?;
                self.observer.step(step, StepStatus::Failed, &message);
                if step.is_check() && !self.done.contains_key(&Step::Backup) {
                    self.store.end_job(&self.job, JobState::Refused, Some(&message))?;
                    return Err(e);
                }
                self.store.end_job(&self.job, JobState::Interrupted, Some(&message))?;
                Err(JobError::Interrupted {
                    step: step.name(),
                    job: self.job.id.clone(),
                    source: Box::new(e),
                })
            }
        }
    }

    /// Reopens the terminals after a disconnect; each waits for its port to come back
    /// and re-authenticates with the key it derived.
    fn reconnect(&mut self) -> Result<(), JobError> {
        self.main.reconnect()?;
        if let Some(r) = self.replacement.as_mut() {
            r.reconnect()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command line parses the names the journal keeps: a resumed job reads back the
    /// way it was started with.
    #[test]
    fn a_way_of_copying_has_one_name_on_the_command_line_and_in_the_journal() {
        for (name, copying) in Copying::NAMES.iter().zip([Copying::OnePass, Copying::Sequential]) {
            assert_eq!(name.parse::<Copying>(), Ok(copying));
            assert_eq!(serde_json::to_value(copying).unwrap(), *name);
        }
        assert!("both".parse::<Copying>().is_err());
    }
}
