//! Restoring a backup is a procedure like the others, run by the same engine: journaled
//! and audited step by step, confirmed after its checks, with a verified backup of what it
//! overwrites taken first, resumable and abortable. The archive says what to write (its
//! path and SHA-256 are kept with the job, and a resume refuses an archive that changed).
//! A restore that writes a binding changes what the terminal settles to: where the profile
//! takes signed orders only it needs the provider's restore order (and a terminal that
//! enforces the provider's authority needs that order's authorisation for it), and it
//! queues a submission for the provider like any change.

use std::path::{Path, PathBuf};

use super::engine::{Common, Procedure};
use super::{JobError, JobOutcome, OrderProblem, Step, file_digest};
use crate::backup::{self, Opened};
use crate::journal::{self as j, StepRecord};
use crate::link::proto::Object;
use crate::profile::Profile;
use crate::signed::Verified;
use crate::store::outbox::NewSubmission;
use crate::terminal::model::Binding;
use crate::terminal::model::{Difference, Identity, encode_params};
use crate::terminal::{Authority, Terminal};

pub use crate::journal::RESTORE;

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

/// Why a restore may not go ahead on the terminal connected.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error(transparent)]
    Terminal(#[from] crate::terminal::TerminalError),
    /// The archive is of another unit, and it is not going to a replacement.
    #[error("{}", crate::tr!("restore-other-terminal", file = .file.display().to_string(), expected = .expected.as_str(), port = .port.display().to_string(), serial = .serial.as_str()))]
    OtherUnit {
        file: PathBuf,
        expected: String,
        port: PathBuf,
        serial: String,
    },
}

/// Checks that `t` is the unit `archive` came from (unless it goes to a replacement) and
/// says what restoring it would change there.
pub fn preview(
    archive: &Path,
    contents: &Opened,
    to_replacement: bool,
    port: &Path,
    t: &mut Terminal,
) -> Result<(Identity, Vec<Difference>), PreviewError> {
    let identity = t.identify()?;
    let expected = &contents.manifest.terminal.serial;
    if identity.serial != *expected && !to_replacement {
        return Err(PreviewError::OtherUnit {
            file: archive.to_path_buf(),
            expected: expected.clone(),
            port: port.to_path_buf(),
            serial: identity.serial,
        });
    }
    let changes = t.read_binding()?.differences(&contents.binding);
    Ok((identity, changes))
}

/// SHA-256 of a backup archive, hex.
pub(crate) fn archive_digest(path: &Path) -> Result<String, JobError> {
    file_digest(path, crate::input::MAX_ARCHIVE_FILE, &crate::tr!("what-backup-archive"))
        .map_err(|e| OrderProblem::ArchiveUnreadable(e.to_string()).into())
}

/// A restore being carried out.
pub(crate) struct Restore<'a> {
    pub c: Common<'a>,
    pub profile: &'a Profile,
    /// The archive as read and checked ([`backup::read_archive`]).
    pub contents: Opened,
    pub main: Terminal,
    /// The archive is of another unit (a replacement taking over its binding).
    pub to_replacement: bool,
    /// The provider's restore order, when there is one.
    pub order: Option<Verified>,
    /// What the binding's write carries to a terminal that enforces the provider's
    /// authority.
    pub grant: Option<Authority>,
    /// What the terminal held before (from the backup this job took).
    pub before: Option<Binding>,
    pub after: Option<Binding>,
}

impl<'a> Procedure<'a> for Restore<'a> {
    fn common(&mut self) -> &mut Common<'a> {
        &mut self.c
    }

    fn steps(&self) -> Vec<Step> {
        RESTORE_PLAN.to_vec()
    }

    fn exec(&mut self, step: Step) -> Result<StepRecord, JobError> {
        let wanted = &self.contents;
        match step {
            Step::CheckIdentity => {
                let id = self.main.identify()?;
                let of = &wanted.manifest.terminal.serial;
                if id.serial != self.c.job.terminal_serial || (id.serial != *of && !self.to_replacement) {
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
                Ok(StepRecord::Identity(j::Identified {
                    serial: id.serial,
                    vendor: None,
                    model: None,
                    firmware: None,
                    archive_of: Some(of.clone()),
                }))
            }
            Step::Authenticate => {
                self.main.authenticate(self.c.secret)?;
                Ok(StepRecord::Authenticated(j::Authenticated { authenticated: true }))
            }
            Step::Backup => self.backup_current(),
            Step::RestoreBinding => {
                // Nothing to write, nothing to authorise.
                if self.main.read_binding()? != wanted.binding {
                    self.main.apply_binding(&wanted.binding, self.grant.as_ref())?;
                }
                Ok(StepRecord::Binding(j::BindingSeen {
                    binding: wanted.binding.masked(),
                }))
            }
            Step::RestoreParameters => {
                if !wanted.params.is_empty() {
                    let bytes = encode_params(&wanted.params);
                    let observer = &mut *self.c.observer;
                    let mut cb = |done, total| {
                        observer.event(&super::Event::Transfer {
                            what: "parameters",
                            done,
                            total,
                        })
                    };
                    self.main
                        .import(Object::Parameters, &bytes, wanted.params.len() as u32, &mut cb)?;
                }
                Ok(StepRecord::Parameters(j::ParametersWritten {
                    parameters: wanted.params.len() as u64,
                }))
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
                let record = StepRecord::Binding(j::BindingSeen { binding: now.masked() });
                self.after = Some(now);
                Ok(record)
            }
            Step::Record => {
                let before = self.before()?;
                let submission = if before != self.contents.binding {
                    let s = self.submission(&before)?;
                    self.c.store.finish_job(&self.c.job, &s, &[])?;
                    Some(s.id)
                } else {
                    self.c
                        .store
                        .end_job(&self.c.job, crate::store::jobs::JobState::Done, None)?;
                    None
                };
                let record = StepRecord::Recorded(j::Recorded {
                    submission,
                    restored_from: Some(self.c.job.order_file.clone()),
                });
                self.c.journal(&j::Entry::Done(Step::Record, record.clone()))?;
                Ok(record)
            }
            other => Err(JobError::NotInPlan {
                step: other.label(),
                operation: crate::tr!("op-restore"),
            }),
        }
    }

    fn reconnect(&mut self) -> Result<(), JobError> {
        Ok(self.main.reconnect()?)
    }

    fn changes(&mut self) -> Vec<Difference> {
        self.main
            .read_binding()
            .map(|now| now.differences(&self.contents.binding))
            .unwrap_or_default()
    }

    fn terminal_state(&self) -> String {
        if self.c.done.contains_key(&Step::RestoreBinding) {
            crate::tr!("state-restored-unverified")
        } else {
            crate::tr!("state-unchanged")
        }
    }

    /// What the restore overwrote comes back from the backup it took.
    fn roll_back(&mut self) -> Result<Vec<String>, JobError> {
        let touched = self.c.store.journal_of(&self.c.job.id)?.iter().any(|e| {
            matches!(
                e.entry,
                j::Entry::Intent(Step::RestoreBinding | Step::RestoreParameters)
            )
        });
        self.main.authenticate(self.c.secret)?;
        if super::gate::spent(self.grant.as_ref(), &mut self.main)? {
            return Err(JobError::AuthorisationSpent(self.c.job.id.clone()));
        }
        let mut undone = Vec::new();
        if touched {
            let Some(file) = &self.c.job.backup_file else {
                return Err(JobError::AbortNoBackup);
            };
            let before = backup::read_archive(Path::new(file), self.c.backup_password)?;
            if self.main.read_binding()? != before.binding {
                self.main.apply_binding(&before.binding, self.grant.as_ref())?;
            }
            if !before.params.is_empty() {
                let bytes = encode_params(&before.params);
                self.main
                    .import(Object::Parameters, &bytes, before.params.len() as u32, &mut |_, _| {})?;
            }
            if self.main.read_binding()? != before.binding {
                return Err(JobError::Verification {
                    step: "abort",
                    what: crate::tr!("verify-restore-readback"),
                });
            }
            undone.push("binding and parameters put back from the backup taken before the restore".to_string());
        }
        Ok(undone)
    }

    fn outcome(&mut self, changes: Vec<Difference>) -> Result<JobOutcome, JobError> {
        let job = self.c.store.job(&self.c.job.id)?.unwrap_or_else(|| self.c.job.clone());
        let after = match self.after.clone() {
            Some(b) => b,
            None => self.main.read_binding()?,
        };
        let submission_id = self.c.store.submission_of_job(&job.id)?.map(|s| s.id);
        Ok(JobOutcome {
            receipt: Default::default(),
            backup_file: job.backup_file.clone(),
            plan: self.summary(changes),
            job,
            submission_id,
            test_transaction: None,
            transactions_moved: None,
            binding_after: Some(after),
            link: self.main.stats(),
        })
    }
}

impl Restore<'_> {
    /// A verified backup of what the restore will overwrite.
    fn backup_current(&mut self) -> Result<StepRecord, JobError> {
        let taken = self
            .c
            .take_backup(&mut self.main, &self.profile.name, Vec::new(), None, &mut |_| {})?;
        self.before = Some(taken.contents.binding.clone());
        Ok(StepRecord::Backup(j::BackupKept {
            file: taken.record.file,
            sha256: taken.written.sha256,
            transactions: u64::from(taken.contents.log.records),
        }))
    }

    /// What the terminal held before the restore: from this run's backup, else the job's.
    fn before(&mut self) -> Result<Binding, JobError> {
        if let Some(b) = &self.before {
            return Ok(b.clone());
        }
        let file = self.c.job.backup_file.clone().ok_or(JobError::AbortNoBackup)?;
        let b = backup::read_archive(Path::new(&file), self.c.backup_password)?.binding;
        self.before = Some(b.clone());
        Ok(b)
    }

    /// The submission of a restore that changed the binding: what it was, what it is now,
    /// from which archive, on whose order.
    fn submission(&self, before: &Binding) -> Result<NewSubmission, JobError> {
        let job = &self.c.job;
        let after = self.after.as_ref().unwrap_or(&self.contents.binding);
        let payload = serde_json::json!({
            "kind": "restore",
            "order_id": job.order_id,
            "job_id": job.id,
            "profile": self.profile.name,
            "merchant": { "mid": after.mid.as_ref().or(before.mid.as_ref()).map(|m| m.to_string()) },
            "terminal": job.terminal_serial,
            "replacement": serde_json::Value::Null,
            "before": before,
            "after": after,
            "archive_sha256": job.order_sha256,
            "archive_of": self.contents.manifest.terminal.serial,
            "backup_sha256": job.backup_sha256,
            "technician": job.technician,
            "completed_at": crate::store::now(),
            "order_signed": self.order.is_some(),
            "order_key_id": self.order.as_ref().map(|o| o.key_id.clone()),
        });
        Ok(NewSubmission {
            id: uuid::Uuid::now_v7().to_string(),
            idempotency_key: format!("job-{}", job.id),
            job_id: job.id.clone(),
            order_id: job.order_id.clone(),
            kind: "restore".into(),
            payload,
            sealed: self.c.keys.seal(b"{}"),
        })
    }
}
