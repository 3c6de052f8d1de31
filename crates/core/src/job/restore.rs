//! Restoring a backup is a job like the others: journaled and audited step by step, with a
//! verified backup of what it overwrites taken first, and resumable. It has no work order:
//! the archive stands in for one (its path and SHA-256 are kept with the job, and a resume
//! refuses an archive that changed). Nothing is queued for the provider: a restore puts
//! back a binding the provider already knew.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use super::{
    JobError, JobOutcome, Observer, OrderProblem, PlanSummary, Step, StepStatus, file_digest, kill_point, stop_here,
};
use crate::backup::{self, Opened};
use crate::config::Paths;
use crate::link::proto::Object;
use crate::profile::Profile;
use crate::store::Store;
use crate::store::jobs::{JobKind, JobRecord, JobState, NewJob};
use crate::terminal::model::encode_params;
use crate::terminal::{Secret, Terminal};

/// The `operation` a restore job is recorded under.
pub const RESTORE: &str = "restore";

/// The steps of a restore, in order.
pub const RESTORE_PLAN: [Step; 7] = [
    Step::CheckIdentity,
    Step::Authenticate,
    Step::Backup,
    Step::RestoreBinding,
    Step::RestoreParameters,
    Step::Verify,
    Step::Record,
];

/// Everything a restore needs.
pub struct RestoreSetup<'a> {
    pub paths: &'a Paths,
    pub profile: &'a Profile,
    pub archive: &'a Path,
    /// The archive as read and checked ([`backup::read_archive`]).
    pub contents: &'a Opened,
    pub port: &'a Path,
    pub secret: &'a Secret,
    /// Opens the archive, and protects the backup taken of what is overwritten.
    pub backup_password: &'a [u8],
    pub technician: &'a str,
    /// The archive is of another unit (a replacement taking over its binding).
    pub to_replacement: bool,
}

/// Why a restore may not go ahead on the terminal connected.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error(transparent)]
    Terminal(#[from] crate::terminal::TerminalError),
    /// The archive is of another unit, and it is not going to a replacement.
    #[error("{}", crate::tr!("restore-other-terminal", file = .file.display().to_string(), expected = .expected.as_str(), port = .port.display().to_string(), serial = .serial.as_str()))]
    OtherUnit {
        file: std::path::PathBuf,
        expected: String,
        port: std::path::PathBuf,
        serial: String,
    },
}

impl RestoreSetup<'_> {
    /// Checks that `t` is the unit the archive came from (unless the archive goes to a
    /// replacement) and says what restoring it would change there.
    pub fn preview(
        &self,
        t: &mut Terminal,
    ) -> Result<
        (
            crate::terminal::model::Identity,
            Vec<crate::terminal::model::Difference>,
        ),
        PreviewError,
    > {
        let identity = t.identify()?;
        let expected = &self.contents.manifest.terminal.serial;
        if identity.serial != *expected && !self.to_replacement {
            return Err(PreviewError::OtherUnit {
                file: self.archive.to_path_buf(),
                expected: expected.clone(),
                port: self.port.to_path_buf(),
                serial: identity.serial,
            });
        }
        let changes = t.read_binding()?.differences(&self.contents.binding);
        Ok((identity, changes))
    }
}

struct Restore<'a> {
    store: Store,
    setup: &'a RestoreSetup<'a>,
    job: JobRecord,
    main: Terminal,
    observer: &'a mut dyn Observer,
    done: BTreeSet<Step>,
}

/// Starts a restore job on an opened terminal: records the job, then runs its steps.
pub fn start(setup: &RestoreSetup<'_>, main: Terminal, observer: &mut dyn Observer) -> Result<JobOutcome, JobError> {
    let mut store = Store::open(&setup.paths.data)?;
    let mut main = main;
    let serial = main.identify()?.serial;
    if let Some(open) = store.open_job_for(&serial)? {
        return Err(JobError::Busy { serial, job: open.id });
    }
    let archive = std::fs::canonicalize(setup.archive).unwrap_or_else(|_| setup.archive.to_path_buf());
    let job = JobRecord::new(
        NewJob {
            order_id: format!("restore-of-{}", setup.contents.manifest.terminal.serial),
            operation: JobKind::Restore,
            profile: setup.profile.name.clone(),
            order_file: archive.display().to_string(),
            order_sha256: archive_digest(&archive)?,
            terminal_serial: serial,
            replacement_serial: None,
            port: setup.port.display().to_string(),
            replacement_port: None,
            technician: setup.technician.to_string(),
        },
        JobState::Running,
    );
    store.create_job(&job)?;
    Restore {
        store,
        setup,
        job,
        main,
        observer,
        done: BTreeSet::new(),
    }
    .execute()
}

/// Carries an interrupted restore on from its journal, on the terminal at `port`.
pub fn resume(
    setup: &RestoreSetup<'_>,
    store: Store,
    job: JobRecord,
    main: Terminal,
    observer: &mut dyn Observer,
) -> Result<JobOutcome, JobError> {
    if archive_digest(Path::new(&job.order_file))? != job.order_sha256 {
        return Err(OrderProblem::ArchiveChanged(job.order_file.clone()).into());
    }
    let done = store
        .journal_of(&job.id)?
        .into_iter()
        .filter(|e| e.phase == "done")
        .filter_map(|e| Step::from_name(&e.step))
        .collect();
    Restore {
        store,
        setup,
        job,
        main,
        observer,
        done,
    }
    .execute()
}

fn archive_digest(path: &Path) -> Result<String, JobError> {
    file_digest(path, crate::input::MAX_ARCHIVE_FILE, &crate::tr!("what-backup-archive"))
        .map_err(|e| OrderProblem::ArchiveUnreadable(e.to_string()).into())
}

impl Restore<'_> {
    fn execute(mut self) -> Result<JobOutcome, JobError> {
        self.observer.begin(&RESTORE_PLAN);
        for step in RESTORE_PLAN {
            if self.done.contains(&step) && !step.always_runs() {
                self.observer
                    .step(step, StepStatus::Skipped, &crate::tr!("detail-done-before"));
                continue;
            }
            if self.observer.stop_requested() {
                let terminal = if self.done.contains(&Step::RestoreBinding) {
                    crate::tr!("state-restored-unverified")
                } else {
                    crate::tr!("state-unchanged")
                };
                return Err(stop_here(&mut self.store, &self.job, step, terminal));
            }
            kill_point(&format!("before:{}", step.name()));
            self.observer.step(step, StepStatus::Started, "");
            if step != Step::Record {
                self.store.journal(&self.job, step.name(), "intent", json!({}))?;
            }
            match self.exec(step) {
                Ok(detail) => {
                    self.store.journal(&self.job, step.name(), "done", detail.clone())?;
                    self.observer
                        .step(step, StepStatus::Done, &super::steps::describe(&detail));
                    self.done.insert(step);
                    kill_point(&format!("after:{}", step.name()));
                }
                Err(e) => {
                    let message = e.to_string();
                    self.store
                        .journal(&self.job, step.name(), "failed", json!({ "error": message }))?;
                    self.observer.step(step, StepStatus::Failed, &message);
                    let state = if step.is_check() {
                        JobState::Refused
                    } else {
                        JobState::Interrupted
                    };
                    self.store.end_job(&self.job, state, Some(&message))?;
                    return Err(if step.is_check() {
                        e
                    } else {
                        JobError::Interrupted {
                            step: step.name(),
                            job: self.job.id.clone(),
                            source: Box::new(e),
                        }
                    });
                }
            }
        }
        outcome(&self.store, self.setup.paths, &self.job, &mut self.main)
    }

    fn exec(&mut self, step: Step) -> Result<Value, JobError> {
        let wanted = &self.setup.contents;
        match step {
            Step::CheckIdentity => {
                let id = self.main.identify()?;
                let of = &wanted.manifest.terminal.serial;
                if id.serial != self.job.terminal_serial || (id.serial != *of && !self.setup.to_replacement) {
                    return Err(JobError::Refused {
                        step: step.name(),
                        code: "another_unit",
                        reason: crate::tr!(
                            "restore-other-unit",
                            expected = of.as_str(),
                            serial = id.serial.as_str()
                        ),
                    });
                }
                Ok(json!({ "serial": id.serial, "archive_of": of }))
            }
            Step::Authenticate => {
                self.main.authenticate(self.setup.secret)?;
                Ok(json!({ "authenticated": true }))
            }
            Step::Backup => self.backup_current(),
            Step::RestoreBinding => {
                self.main.apply_binding(&wanted.binding)?;
                Ok(json!({ "binding": wanted.binding }))
            }
            Step::RestoreParameters => {
                if !wanted.params.is_empty() {
                    let bytes = encode_params(&wanted.params);
                    let mut cb = |done, total| self.observer.transfer("parameters", done, total);
                    self.main
                        .import(Object::Parameters, &bytes, wanted.params.len() as u32, &mut cb)?;
                }
                Ok(json!({ "parameters": wanted.params.len() }))
            }
            Step::Verify => {
                let now = self.main.read_binding()?;
                let left = now.differences(&wanted.binding);
                if !left.is_empty() {
                    return Err(JobError::Verification {
                        step: "verify",
                        what: crate::tr!(
                            "restore-readback-differs",
                            fields = left.iter().map(|d| d.label()).collect::<Vec<_>>().join(", ")
                        ),
                    });
                }
                Ok(json!({ "binding": now }))
            }
            Step::Record => {
                self.store.end_job(&self.job, JobState::Done, None)?;
                Ok(json!({ "restored_from": self.job.order_file }))
            }
            other => Err(JobError::NotInPlan {
                step: other.label(),
                operation: crate::tr!("op-restore"),
            }),
        }
    }

    /// A verified backup of what the restore will overwrite.
    fn backup_current(&mut self) -> Result<Value, JobError> {
        let mut cb = |done, total| self.observer.transfer("backup", done, total);
        let dir = super::backups_dir(self.setup.paths)?;
        let job_id = self.job.id.clone();
        let taken = backup::take(
            &mut self.main,
            Vec::new(),
            &mut cb,
            |id| dir.join(format!("{}-{job_id}.zip", id.serial)),
            backup::Taking {
                profile: self.setup.profile.name.clone(),
                technician: Some(self.job.technician.clone()),
                job_id: Some(self.job.id.clone()),
                password: self.setup.backup_password,
                force: true,
                store: &self.store,
                feed: None,
            },
        )?;
        let (written, record, contents) = (taken.written, taken.record, taken.contents);
        self.store.set_job_backup(&self.job.id, &record.file, &written.sha256)?;
        self.job.backup_file = Some(record.file.clone());
        Ok(json!({ "file": record.file, "sha256": written.sha256, "transactions": contents.transactions.len() }))
    }
}

/// Rolls an unfinished restore back: what it overwrote comes back from the backup it took.
pub fn abort(
    setup: &RestoreSetup<'_>,
    mut store: Store,
    job: JobRecord,
    mut main: Terminal,
) -> Result<JobOutcome, JobError> {
    let touched = store
        .journal_of(&job.id)?
        .iter()
        .any(|e| e.step == Step::RestoreBinding.name() || e.step == Step::RestoreParameters.name());
    main.authenticate(setup.secret)?;
    let mut undone = Vec::new();
    if touched {
        let Some(file) = &job.backup_file else {
            return Err(JobError::AbortNoBackup);
        };
        let before = backup::read_archive(Path::new(file), setup.backup_password)?;
        main.apply_binding(&before.binding)?;
        if !before.params.is_empty() {
            let bytes = encode_params(&before.params);
            main.import(Object::Parameters, &bytes, before.params.len() as u32, &mut |_, _| {})?;
        }
        if main.read_binding()? != before.binding {
            return Err(JobError::Verification {
                step: "abort",
                what: crate::tr!("verify-restore-readback"),
            });
        }
        undone.push("binding and parameters put back from the backup taken before the restore");
    }
    store.journal(&job, "rollback", "compensated", json!({ "undone": undone }))?;
    store.end_job(&job, JobState::Aborted, None)?;
    outcome(&store, setup.paths, &job, &mut main)
}

/// What a restore job amounts to, as recorded now.
fn outcome(store: &Store, paths: &Paths, job: &JobRecord, main: &mut Terminal) -> Result<JobOutcome, JobError> {
    let job = store.job(&job.id)?.unwrap_or_else(|| job.clone());
    Ok(JobOutcome {
        receipt: super::Receipt::keep(store, paths, &job),
        backup_file: job.backup_file.clone(),
        plan: PlanSummary {
            job_id: job.id.clone(),
            order_id: job.order_id.clone(),
            operation: RESTORE.to_string(),
            terminal: job.terminal_serial.clone(),
            replacement: None,
            changes: Vec::new(),
            steps: RESTORE_PLAN.iter().map(|s| s.name()).collect(),
        },
        job,
        submission_id: None,
        test_transaction: None,
        transactions_moved: None,
        binding_after: Some(main.read_binding()?),
        link: main.stats(),
    })
}
