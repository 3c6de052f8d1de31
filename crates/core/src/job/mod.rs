//! Jobs: the five field procedures and the restore of a backup, each a plan of steps run
//! by one engine.
//!
//! - `engine`: the one loop every procedure runs in. Before a step runs, the journal
//!   records its intent; after, its outcome, each with an audit record. Steps already done
//!   are skipped on a resume; a stop request ends the job at the next step boundary; a step
//!   cut off by a disconnect runs once more after the port comes back; a check that fails
//!   before anything changed refuses the job, any other failure leaves it interrupted.
//! - `gate`: the provider's authority over an order, checked before a job is recorded and
//!   before a resume that has not yet changed anything; the check steps that follow it
//!   (identity, binding, documents, cooldown, replacement, phone) are the rest of the gate.
//!   A dry run runs the gate and nothing after it.
//! - `change` (with `steps`, `proof`, `submission`): the five procedures; `restore`: the
//!   restore of a backup. Each gives its plan, the body of each step and its roll-back.
//!
//! Every step is idempotent (it looks at the terminal before it acts) so that a resume
//! can run an interrupted step again. After the checks the technician confirms (the
//! confirmation is journaled: a job stopped before it asks again on resume); the first
//! write happens only once a verified backup exists. The last step marks the job done and
//! queues its submission for the provider in one transaction.

mod change;
mod context;
mod engine;
pub mod eta;
pub mod gate;
mod open;
pub mod orders;
mod proof;
pub mod restore;
mod steps;
mod submission;
#[cfg(test)]
mod tests;

pub use change::{plan, plan_with, rebind_items};
pub use context::Context;
pub use open::{Archive, At, Credentials, abort, resume, start, start_restore};
pub use orders::{OrderForError, OrderRef, Origin, Prepared};
pub use proof::{Code, CodeAsk, CodeFile};

pub use crate::journal::{Copying, RESTORE, Step, StepStatus, operation_label, step_label, step_list, transfer_label};

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::backup::BackupError;
use crate::link::LinkStats;
pub use crate::link::port::SerialOpener;
use crate::seal::SealError;
use crate::store::StoreError;
use crate::store::jobs::{JobRecord, JobState};
use crate::terminal::model::{Binding, Difference};
use crate::terminal::{TerminalError, TestResult};

/// What the technician answers when asked to confirm a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Yes,
    /// Do not make the change: the job ends cancelled, nothing changed.
    No,
    /// Stop now (Ctrl-C, the console's Stop): the job ends interrupted, resumable, and asks
    /// again on resume.
    Stop,
}

/// What the technician answers when asked for a one-time code.
pub enum CodeAnswer {
    Code(Code),
    /// None came (nothing typed, the file never written): the job is refused.
    None,
    /// Stop now: the job ends interrupted before its phone was proven.
    Stop,
}

/// What a job tells whoever follows it: one typed event for every front end (the CLI's
/// lines and `--json`, the console's live page). Each serialises with its `event` name,
/// the machine names, and the words a person reads beside them.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// The steps this run goes through, in order, before the first (a resumed job lists
    /// them all; those done before are reported skipped).
    Begin { steps: &'a [Step] },
    Step {
        step: Step,
        status: StepStatus,
        detail: &'a str,
    },
    /// Progress of a transfer (`backup`, `export`, `import`, `verify`, `parameters`).
    Transfer { what: &'a str, done: u64, total: u64 },
    /// The checks passed: the change to confirm.
    Confirm { plan: &'a PlanSummary },
    /// A one-time code is asked for.
    Code { ask: &'a CodeAsk },
}

impl Serialize for Event<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde_json::json;
        let v = match self {
            Event::Begin { steps } => json!({
                "event": "begin",
                "steps": steps.iter().map(|s| json!({ "name": s.name(), "label": s.label() })).collect::<Vec<_>>(),
            }),
            Event::Step { step, status, detail } => json!({
                "event": "step",
                "step": step.name(),
                "label": step.label(),
                "status": status,
                "status_label": status.label(),
                "detail": detail,
            }),
            Event::Transfer { what, done, total } => json!({
                "event": "transfer",
                "what": what,
                "label": transfer_label(what),
                "done": done,
                "total": total,
                "percent": (done * 100).checked_div(*total).unwrap_or(100),
            }),
            Event::Confirm { plan } => json!({ "event": "confirm", "plan": plan }),
            Event::Code { ask } => json!({
                "event": "code",
                "phone": ask.phone,
                "purpose": ask.purpose,
                "expires_at": ask.expires_at.to_rfc3339(),
                "attempts_left": ask.attempts_left,
                "again": ask.again,
            }),
        };
        v.serialize(s)
    }
}

/// Receives a job's events and answers its questions; the CLI draws them, the console
/// shows them. Jobs never print.
pub trait Observer {
    fn event(&mut self, event: &Event<'_>);
    /// Called once the checks have passed (after [`Event::Confirm`]).
    fn confirm(&mut self, plan: &PlanSummary) -> Decision;
    /// Whether the technician asked to stop (Ctrl-C): the job stops before its next step,
    /// at a point from which a resume carries on.
    fn stop_requested(&self) -> bool {
        false
    }
    /// Whether a person can be asked for a one-time code (a run of many jobs cannot).
    fn can_ask_codes(&self) -> bool {
        false
    }
    /// The one-time code the merchant received (after [`Event::Code`]).
    fn one_time_code(&mut self, _ask: &CodeAsk) -> CodeAnswer {
        CodeAnswer::None
    }
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
    /// Another process is carrying the job on right now.
    #[error("{}", crate::tr!("job-live-elsewhere", job = .0.as_str()))]
    LiveElsewhere(String),
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
    /// A step was asked to stop while it waited for the technician (a code prompt).
    #[error("{}", crate::tr!("job-cancelled"))]
    StopRequested,
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
    /// The terminal made the change and spent the provider's authorisation for it: undoing
    /// it would be a change of its own.
    #[error("{}", crate::tr!("abort-authorisation-spent", job = .0.as_str()))]
    AuthorisationSpent(String),
    #[error("{}", crate::tr!("restore-no-backup"))]
    AbortNoBackup,
    /// A step asked of a procedure that has no such step (a defect, not bad input).
    #[error("{}", crate::tr!("step-not-in-plan", step = .step.as_str(), operation = .operation.as_str()))]
    NotInPlan { step: String, operation: String },
}

/// Why an order may not be carried out here and now.
#[derive(Debug, thiserror::Error)]
pub enum Unauthorised {
    #[error("{}", crate::tr!("order-unsigned-refused", profile = .profile.as_str(), file = .file.as_str()))]
    Unsigned { profile: String, file: String },
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
    /// The terminal answers as another provider's than the order's profile.
    #[error("{}", crate::tr!("order-other-profile", serial = .serial.as_str(), answered = .answered.as_str(), profile = .profile.as_str()))]
    OtherProfile {
        serial: String,
        profile: String,
        answered: String,
    },
    /// The profile's terminals must enforce the provider's authority, and this one does not.
    #[error("{}", crate::tr!("terminal-not-enforcing", serial = .serial.as_str(), profile = .profile.as_str()))]
    NotEnforcing { serial: String, profile: String },
    /// The order carries no authorisation for a terminal it changes.
    #[error("{}", crate::tr!("order-no-authorisation", order = .order.as_str(), serial = .serial.as_str()))]
    NoAuthorisation { order: String, serial: String },
    /// The order's authorisation for a terminal does not stand.
    #[error("{}", crate::tr!("order-authorisation-invalid", order = .order.as_str(), serial = .serial.as_str(), reason = .reason.as_str()))]
    Authorisation {
        order: String,
        serial: String,
        reason: String,
    },
    /// A restore that writes a binding, without the provider's restore order.
    #[error("{}", crate::tr!("restore-unordered", serial = .serial.as_str(), profile = .profile.as_str()))]
    RestoreUnordered { serial: String, profile: String },
    /// The order given to a restore is not a restore order.
    #[error("{}", crate::tr!("restore-not-a-restore-order", order = .order.as_str(), operation = .operation.as_str()))]
    NotARestore { order: String, operation: String },
    /// The authorisation is for another of the terminal's changes (one made since it was
    /// issued, or one not made yet).
    #[error("{}", crate::tr!("order-authorisation-stale", order = .order.as_str(), serial = .serial.as_str(), counter = *.counter, at = *.at))]
    Stale {
        order: String,
        serial: String,
        counter: u32,
        at: u32,
    },
}

impl Unauthorised {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Unauthorised::Unsigned { .. } => "order_unsigned",
            Unauthorised::OtherTerminal { .. } => "order_other_terminal",
            Unauthorised::AlreadyDone { .. } => "order_already_done",
            Unauthorised::Signature(_) => "order_not_authorised",
            Unauthorised::OtherProfile { .. } => "order_other_profile",
            Unauthorised::NotEnforcing { .. } => "terminal_not_enforcing",
            Unauthorised::NoAuthorisation { .. } => "no_authorisation",
            Unauthorised::Authorisation { .. } => "authorisation_invalid",
            Unauthorised::Stale { .. } => "authorisation_stale",
            Unauthorised::RestoreUnordered { .. } => "restore_needs_order",
            Unauthorised::NotARestore { .. } => "not_a_restore_order",
        }
    }
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
    /// The journal of the job cannot be read back (written by a newer build, or edited).
    #[error("{}", crate::tr!("job-journal-unreadable", job = .job.as_str(), reason = .reason.as_str()))]
    Journal { job: String, reason: String },
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
    /// The receipt to sign, written where receipts are kept by whoever ran the job.
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

/// What a technician chooses for a job, besides the order and its terminals.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Checks only: nothing changed, no code sent, no job kept.
    pub dry_run: bool,
    /// The technician confirmed with the provider that the merchant's settlement-card
    /// cooldown has run out, where the agent cannot know it offline (recorded in the audit).
    pub cooldown_checked_by_provider: bool,
    /// How a migration checks the new unit's copy of the data.
    pub verify: Verify,
    /// How a migration moves the data (kept for the whole job, resumes included).
    pub copying: Copying,
    /// The technician saw the originals of the order's documents (counter path).
    pub documents_checked: bool,
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

/// What a job's `order_file` says for an order pulled from the provider.
pub const PULLED: &str = "pulled:";

/// Where a job's order came from, as people read it: the file, or the pulled order by id.
pub fn order_source_shown(recorded: &str) -> String {
    match recorded.strip_prefix(PULLED) {
        Some(id) => crate::tr!("pulled-order-named", id = id),
        None => recorded.to_string(),
    }
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

/// The transfer kill point (`transfer:LABEL:BYTES`), from any thread.
fn kill_point_in(label: &str, done: u64, total: u64) {
    if kill_after_bytes(label).is_some_and(|n| done >= n && done < total) {
        kill_now();
    }
}

/// The directory where jobs keep the backups they take, created if need be.
fn backups_dir(paths: &crate::config::Paths) -> Result<PathBuf, JobError> {
    let dir = paths.data.join("backups");
    crate::private::dir(&dir).map_err(|e| OrderProblem::CannotCreate {
        dir: dir.clone(),
        reason: e.to_string(),
    })?;
    Ok(dir)
}
