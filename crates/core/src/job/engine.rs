//! The one loop every procedure runs in (the five and restore): skip what is done, honour
//! stop requests, kill points, journal every step, run a step once more after a
//! disconnect, ask for the confirmation (journaled), tell a refusal from an interruption.

use std::collections::BTreeMap;

use super::{Decision, Event, JobError, JobOutcome, Observer, PlanSummary, Step, StepStatus, kill_point};
use crate::config::Paths;
use crate::journal::{Entry, StepRecord};
use crate::seal::LocalKeys;
use crate::store::Store;
use crate::store::jobs::{JobRecord, JobState};
use crate::terminal::model::Difference;
use crate::terminal::{Secret, TerminalError};

/// What every job has, whatever its procedure: the store, the journal so far, the
/// secrets it was given and who follows it.
pub(crate) struct Common<'a> {
    pub store: Store,
    pub keys: LocalKeys,
    pub paths: &'a Paths,
    pub job: JobRecord,
    pub observer: &'a mut dyn Observer,
    /// What the steps done so far recorded, from the journal and this run.
    pub done: BTreeMap<Step, StepRecord>,
    pub secret: &'a Secret,
    pub backup_password: &'a [u8],
    /// Checks only: nothing is changed, and no code is sent.
    pub dry_run: bool,
    /// The technician confirmed the change, in this run or an earlier one.
    pub confirmed: bool,
    /// A step that changes something has begun, in this run or an earlier one.
    pub touched: bool,
    /// Held while this process carries the job on (see [`crate::store::live`]).
    pub _live: crate::store::live::JobLock,
}

impl Common<'_> {
    /// Takes the job's verified backup of terminal `t` (spoken to as `profile`, with the
    /// order's `evidence`) and records it with the job, passing the log on to `feed` as it
    /// arrives; `also` is called at every step of progress.
    pub fn take_backup(
        &mut self,
        t: &mut crate::terminal::Terminal,
        profile: &str,
        evidence: Vec<(String, Vec<u8>)>,
        feed: Option<&crate::terminal::Feed>,
        also: &mut dyn FnMut(&mut dyn Observer),
    ) -> Result<crate::backup::Taken, JobError> {
        let dir = super::backups_dir(self.paths)?;
        let job_id = self.job.id.clone();
        let observer = &mut *self.observer;
        let taken = crate::backup::take(
            t,
            evidence,
            &mut |done, total| {
                observer.event(&Event::Transfer {
                    what: "backup",
                    done,
                    total,
                });
                super::kill_point_in("backup", done, total);
                also(observer);
            },
            |id| dir.join(format!("{}-{job_id}.zip", id.serial)),
            crate::backup::Taking {
                profile: profile.to_string(),
                technician: Some(self.job.technician.clone()),
                job_id: Some(self.job.id.clone()),
                password: self.backup_password,
                force: true,
                store: &mut self.store,
                feed,
            },
        )?;
        self.store
            .set_job_backup(&self.job.id, &taken.record.file, &taken.written.sha256)?;
        self.job.backup_file = Some(taken.record.file.clone());
        self.job.backup_sha256 = Some(taken.written.sha256.clone());
        Ok(taken)
    }

    /// Journals `entry` for this job.
    pub fn journal(&mut self, entry: &Entry) -> Result<(), JobError> {
        Ok(self.store.journal(&self.job, entry)?)
    }

    /// Tells the observer how `step` goes.
    pub fn tell(&mut self, step: Step, status: StepStatus, detail: &str) {
        self.observer.event(&Event::Step { step, status, detail });
    }

    /// Reads the journal back into what it says is done, confirmed and begun.
    pub fn read_journal(&mut self) -> Result<Vec<Entry>, JobError> {
        let entries: Vec<Entry> = self
            .store
            .journal_of(&self.job.id)?
            .into_iter()
            .map(|e| e.entry)
            .collect();
        for e in &entries {
            match e {
                Entry::Done(step, record) => {
                    self.done.insert(*step, record.clone());
                }
                Entry::Intent(step) | Entry::Failed(step, _) => {
                    self.done.remove(step);
                }
                Entry::Confirmed => self.confirmed = true,
                Entry::Order(_) | Entry::RolledBack(_) => {}
            }
            // A step that changes something was begun: the job was confirmed then (jobs
            // from before the confirmation was journaled have no `confirm` line).
            if let Entry::Intent(step) = e
                && !step.is_check()
            {
                self.touched = true;
                self.confirmed = true;
            }
        }
        Ok(entries)
    }
}

/// A procedure the engine runs: its plan, its steps and its roll-back.
pub(crate) trait Procedure<'a> {
    fn common(&mut self) -> &mut Common<'a>;
    /// The steps, in order.
    fn steps(&self) -> Vec<Step>;
    /// Runs one step; it looks at the terminal before it acts.
    fn exec(&mut self, step: Step) -> Result<StepRecord, JobError>;
    /// Reopens the terminals after a disconnect.
    fn reconnect(&mut self) -> Result<(), JobError>;
    /// The changes to confirm, masked.
    fn changes(&mut self) -> Vec<Difference>;
    /// What the main terminal holds after the steps done so far, in words.
    fn terminal_state(&self) -> String;
    /// Undoes what the job did; what it undid, in words.
    fn roll_back(&mut self) -> Result<Vec<String>, JobError>;
    /// What the job produced, as recorded now.
    fn outcome(&mut self, changes: Vec<Difference>) -> Result<JobOutcome, JobError>;

    /// What the technician confirms.
    fn summary(&mut self, changes: Vec<Difference>) -> PlanSummary {
        let steps = self.steps().into_iter().map(Step::name).collect();
        let job = &self.common().job;
        PlanSummary {
            job_id: job.id.clone(),
            order_id: job.order_id.clone(),
            operation: job.operation.as_str().to_string(),
            terminal: job.terminal_serial.clone(),
            replacement: job.replacement_serial.clone(),
            changes,
            steps,
        }
    }
}

/// How the engine runs a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The gate's checks only; the job is left `planned`.
    DryRun,
    /// Every step not done yet.
    Run,
}

/// Runs `p`'s plan: the steps not done yet, the confirmation before the first change.
pub(crate) fn execute<'a>(p: &mut impl Procedure<'a>, mode: Mode) -> Result<JobOutcome, JobError> {
    let steps = p.steps();
    p.common().observer.event(&Event::Begin { steps: &steps });
    let mut changes = Vec::new();
    for step in steps {
        if !step.is_check() && !p.common().confirmed {
            changes = p.changes();
            if mode == Mode::DryRun {
                let c = p.common();
                c.store.end_job(&c.job, JobState::Planned, None)?;
                return p.outcome(changes);
            }
            let summary = p.summary(changes.clone());
            let c = p.common();
            c.observer.event(&Event::Confirm { plan: &summary });
            match c.observer.confirm(&summary) {
                Decision::Yes => {
                    c.journal(&Entry::Confirmed)?;
                    c.confirmed = true;
                }
                Decision::No => {
                    c.store.end_job(&c.job, JobState::Cancelled, None)?;
                    return Err(JobError::Cancelled);
                }
                Decision::Stop => return Err(stop_here(p, step)),
            }
        }
        if p.common().done.contains_key(&step) && !step.always_runs() {
            p.common()
                .tell(step, StepStatus::Skipped, &crate::tr!("detail-done-before"));
            continue;
        }
        if p.common().observer.stop_requested() {
            return Err(stop_here(p, step));
        }
        run_step(p, step)?;
    }
    p.outcome(changes)
}

/// Rolls `p` back and ends it `aborted`.
pub(crate) fn roll_back<'a>(p: &mut impl Procedure<'a>) -> Result<JobOutcome, JobError> {
    let undone = p.roll_back()?;
    let c = p.common();
    c.journal(&Entry::RolledBack(undone))?;
    c.store.end_job(&c.job, JobState::Aborted, None)?;
    p.outcome(Vec::new())
}

fn run_step<'a>(p: &mut impl Procedure<'a>, step: Step) -> Result<(), JobError> {
    kill_point(&format!("before:{}", step.name()));
    let c = p.common();
    c.tell(step, StepStatus::Started, "");
    if step != Step::Record {
        c.journal(&Entry::Intent(step))?;
        c.touched |= !step.is_check();
    }
    let mut result = p.exec(step);
    // A step cut off by a disconnect is run once more after the port comes back: every
    // step first looks at the terminal, so running it again is safe.
    if let Err(JobError::Terminal(TerminalError::Unavailable { source, .. })) = &result
        && source.is_disconnect()
    {
        p.common()
            .tell(step, StepStatus::Started, &crate::tr!("detail-reconnected"));
        result = p.reconnect().and_then(|()| p.exec(step));
    }
    match result {
        Ok(record) => {
            let c = p.common();
            tracing::info!(job = %c.job.id, step = step.name(), detail = %record.describe(), "step done");
            let detail = record.shown();
            if step != Step::Record {
                c.journal(&Entry::Done(step, record.clone()))?;
            }
            c.tell(step, StepStatus::Done, &detail);
            c.done.insert(step, record);
            kill_point(&format!("after:{}", step.name()));
            Ok(())
        }
        // Asked to stop while it waited for the technician: resumable, nothing failed.
        Err(JobError::StopRequested) => Err(stop_here(p, step)),
        Err(e) => {
            let c = p.common();
            let message = e.to_string();
            tracing::warn!(job = %c.job.id, step = step.name(), error = %message, "step failed");
            c.journal(&Entry::Failed(step, message.clone()))?;
            c.tell(step, StepStatus::Failed, &message);
            if step.is_check() && !c.touched {
                c.store.end_job(&c.job, JobState::Refused, Some(&message))?;
                return Err(e);
            }
            c.store.end_job(&c.job, JobState::Interrupted, Some(&message))?;
            Err(JobError::Interrupted {
                step: step.name(),
                job: c.job.id.clone(),
                source: Box::new(e),
            })
        }
    }
}

/// Ends a job as interrupted before `next`, at the technician's request; the error says
/// what the terminal holds and how to carry on.
fn stop_here<'a>(p: &mut impl Procedure<'a>, next: Step) -> JobError {
    let terminal = p.terminal_state();
    let c = p.common();
    match c.store.end_job(
        &c.job,
        JobState::Interrupted,
        Some("stopped at the technician's request"),
    ) {
        Ok(()) => JobError::Stopped {
            job: c.job.id.clone(),
            next: next.name(),
            terminal,
        },
        Err(e) => e.into(),
    }
}
