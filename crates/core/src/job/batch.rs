//! Many orders over many terminals (`posagent run`): each order's terminal is found by its
//! serial on whichever port it answers; up to N jobs run at once, one per terminal, a
//! terminal's orders one after another. A failing order does not stop the others; running
//! the plan again skips what is done and resumes what was interrupted, from the journal.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Continue, Copying, JobError, JobOutcome, JobSetup, Observer, Proof, SerialOpener, Verify};
use crate::config::Paths;
use crate::order::WorkOrder;
use crate::profile::{ProfileError, ProfileSet};
use crate::signed::{OrderKeys, Verified};
use crate::store::jobs::JobState;
use crate::store::{Store, StoreError};
use crate::terminal::Secret;

/// What to do with an order, from the journal.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Done before, by this job.
    Skip(String),
    /// Interrupted: carry this job on.
    Resume(String),
    Start,
}

/// One order of a plan, where its terminals are, and what to do.
pub struct Planned {
    pub order: WorkOrder,
    /// The provider's signature, for a pulled order.
    pub signed: Option<Verified>,
    pub serial: String,
    pub replacement: Option<String>,
    pub next: Next,
}

/// Why a plan cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{}", crate::tr!("plan-order-twice", file = .file.display().to_string(), order = .order.as_str()))]
    Twice { file: PathBuf, order: String },
    #[error("{}", crate::tr!("plan-order-no-serial", file = .file.display().to_string(), order = .order.as_str()))]
    NoSerial { file: PathBuf, order: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The terminals answering on `ports`, probed at every line setting the planned orders'
/// profiles use: serial → port, and the ports where none answered, with why.
pub type Probed = (HashMap<String, PathBuf>, Vec<(PathBuf, String)>);

/// Probes `ports` for the terminals of `planned` (see [`Probed`]).
pub fn probe(planned: &[Planned], profiles: &ProfileSet, ports: &[PathBuf]) -> Result<Probed, ProfileError> {
    let mut settings: Vec<crate::profile::SerialSettings> = Vec::new();
    for p in planned {
        let s = profiles.get(&p.order.profile)?.serial.clone();
        if !settings.contains(&s) {
            settings.push(s);
        }
    }
    Ok(crate::terminal::discover::probe(ports, &settings))
}

/// Keeps the orders whose terminals (and replacement) answer now.
pub fn keep_connected(planned: &mut Vec<Planned>, found: &HashMap<String, PathBuf>) {
    let connected = |s: &String| found.contains_key(s);
    planned.retain(|p| connected(&p.serial) && p.replacement.as_ref().is_none_or(connected));
}

/// Decides what to do with each order from the journal (`file` names the plan in errors).
pub fn plan(store: &Store, orders: Vec<(WorkOrder, Option<Verified>)>, file: &Path) -> Result<Vec<Planned>, PlanError> {
    let jobs = store.jobs()?;
    let mut planned = Vec::with_capacity(orders.len());
    let mut seen = BTreeSet::new();
    for (order, signed) in orders {
        let named = |o: &WorkOrder| (file.to_path_buf(), o.id.clone());
        if !seen.insert(order.id.clone()) {
            let (file, order) = named(&order);
            return Err(PlanError::Twice { file, order });
        }
        let Some(serial) = order.expect.serial.clone() else {
            let (file, order) = named(&order);
            return Err(PlanError::NoSerial { file, order });
        };
        let mine = jobs.iter().filter(|j| j.order_id == order.id);
        let next = match mine.clone().find(|j| j.state == JobState::Done).or_else(|| {
            mine.clone()
                .find(|j| matches!(j.state, JobState::Running | JobState::Interrupted))
        }) {
            Some(j) if j.state == JobState::Done => Next::Skip(j.id.clone()),
            Some(j) => Next::Resume(j.id.clone()),
            None => Next::Start,
        };
        planned.push(Planned {
            replacement: order.replacement.as_ref().and_then(|r| r.serial.clone()),
            signed,
            order,
            serial,
            next,
        });
    }
    Ok(planned)
}

/// Why one order of a run did not end done.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{}", crate::tr!("plan-terminal-absent", serial = .0.as_str()))]
    TerminalAbsent(String),
    #[error("{}", crate::tr!("plan-replacement-absent", serial = .0.as_str()))]
    ReplacementAbsent(String),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Job(#[from] JobError),
}

/// What happened to one order.
#[derive(Debug)]
pub struct Ran {
    pub order: String,
    pub terminal: String,
    /// `done`, `skipped` (done before), `failed`, or `planned` (dry run).
    pub status: &'static str,
    pub job: Option<String>,
    pub port: Option<PathBuf>,
    /// The receipt to print and sign, for an order that ran.
    pub receipt: Option<String>,
    pub failure: Option<Failure>,
}

/// What every job of a run shares.
pub struct Batch<'a> {
    pub paths: &'a Paths,
    pub profiles: &'a ProfileSet,
    /// The plan file (a pulled order is named by its id instead).
    pub plan: &'a Path,
    pub secret: &'a Secret,
    pub password: &'a [u8],
    pub technician: &'a str,
    /// Where each serial answered.
    pub found: &'a HashMap<String, PathBuf>,
    pub cooldown_checked_by_provider: bool,
    pub verify: Verify,
    pub copying: Copying,
    pub order_keys: &'a OrderKeys,
    /// Every read-only check against the terminals, nothing changed, no job kept.
    pub dry_run: bool,
    pub proof: Proof,
}

impl Batch<'_> {
    /// Carries out one order, reporting to `obs`.
    pub fn run_one(&self, p: &Planned, obs: &mut dyn Observer) -> Ran {
        let port = self.found.get(&p.serial);
        let mut ran = Ran {
            order: p.order.id.clone(),
            terminal: p.serial.clone(),
            status: "failed",
            job: None,
            port: port.cloned(),
            receipt: None,
            failure: None,
        };
        let outcome = match &p.next {
            Next::Skip(job) => {
                ran.status = "skipped";
                ran.job = Some(job.clone());
                return ran;
            }
            // A dry run does not resume: the interrupted job's checks passed when it began.
            Next::Resume(job) if self.dry_run => {
                ran.status = "planned";
                ran.job = Some(job.clone());
                return ran;
            }
            Next::Resume(job) => self.resume(p, port, job, obs),
            Next::Start => self.start(p, port, obs),
        };
        match outcome {
            Ok(_) if self.dry_run => ran.status = "planned",
            Ok(o) => {
                if o.job.state == JobState::Done {
                    ran.status = "done";
                }
                ran.job = Some(o.job.id.clone());
                ran.receipt = o.receipt.file;
            }
            Err(e) => {
                if let Failure::Job(JobError::Interrupted { job, .. }) = &e {
                    ran.job = Some(job.clone());
                }
                ran.failure = Some(e);
            }
        }
        ran
    }

    fn resume(
        &self,
        p: &Planned,
        port: Option<&PathBuf>,
        job: &str,
        obs: &mut dyn Observer,
    ) -> Result<JobOutcome, Failure> {
        let ctx = Continue {
            opener: Arc::new(SerialOpener),
            order_keys: self.order_keys,
            verify: self.verify,
            paths: self.paths,
            profiles: self.profiles,
            secret: self.secret,
            backup_password: self.password,
            port: port.map(PathBuf::as_path),
            replacement_port: p
                .replacement
                .as_ref()
                .and_then(|s| self.found.get(s))
                .map(PathBuf::as_path),
            proof: self.proof.clone(),
        };
        Ok(ctx.resume(job, obs)?)
    }

    fn start(&self, p: &Planned, port: Option<&PathBuf>, obs: &mut dyn Observer) -> Result<JobOutcome, Failure> {
        let port = port.ok_or_else(|| Failure::TerminalAbsent(p.serial.clone()))?;
        let replacement_port = match &p.replacement {
            Some(r) => Some(
                self.found
                    .get(r)
                    .ok_or_else(|| Failure::ReplacementAbsent(r.clone()))?
                    .as_path(),
            ),
            None => None,
        };
        let setup = JobSetup {
            opener: Arc::new(SerialOpener),
            paths: self.paths,
            profile: self.profiles.get(&p.order.profile)?,
            order: p.order.clone(),
            order_file: p.signed.as_ref().map_or(self.plan, |_| Path::new(&p.order.id)),
            port,
            replacement_port,
            secret: self.secret,
            backup_password: self.password,
            technician: self.technician,
            dry_run: self.dry_run,
            cooldown_checked_by_provider: self.cooldown_checked_by_provider,
            verify: self.verify,
            copying: self.copying,
            signed: p.signed.clone(),
            proof: self.proof.clone(),
        };
        Ok(super::start(setup, obs)?)
    }

    /// Runs every planned order, up to `jobs` terminals at once, each with the observer
    /// `watch` makes for it; `done` turns each order's end into what the caller keeps, as it
    /// happens. Results in plan order.
    pub fn run_all<O: Observer, T: Send>(
        &self,
        planned: &[Planned],
        jobs: usize,
        watch: impl Fn(&Planned) -> O + Sync,
        done: impl Fn(Ran, O) -> T + Sync,
    ) -> Vec<T> {
        // One queue per terminal: a terminal's orders run one after another.
        let mut by_terminal: BTreeMap<&str, Vec<(usize, &Planned)>> = BTreeMap::new();
        for (i, p) in planned.iter().enumerate() {
            by_terminal.entry(p.serial.as_str()).or_default().push((i, p));
        }
        let queue = Mutex::new(by_terminal.into_values().collect::<Vec<_>>());
        let results = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..jobs.max(1) {
                s.spawn(|| {
                    loop {
                        // The queue's lock is let go before the group runs.
                        let Some(group) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop() else {
                            return;
                        };
                        for (i, p) in group {
                            let mut obs = watch(p);
                            let ran = self.run_one(p, &mut obs);
                            let kept = done(ran, obs);
                            results.lock().unwrap_or_else(|p| p.into_inner()).push((i, kept));
                        }
                    }
                });
            }
        });
        let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, t)| t).collect()
    }
}
