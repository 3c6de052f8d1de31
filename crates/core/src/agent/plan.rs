//! Many orders over many terminals (`posagent run`): each order's terminal is found by its
//! serial on whichever port it answers; up to N jobs run at once, one per terminal, a
//! terminal's orders one after another. A failing order does not stop the others; running
//! the plan again skips what is done and resumes what was interrupted, from the journal.
//! Each order is a door like any other: it starts or resumes through the [`Agent`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::Agent;
use crate::job::{At, Credentials, JobError, JobOutcome, Observer, Options, OrderForError, Prepared};
use crate::profile::ProfileError;
use crate::store::jobs::JobState;
use crate::store::{Store, StoreError};

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
    pub order: Prepared,
    pub serial: String,
    pub replacement: Option<String>,
    pub next: Next,
}

/// Where a plan's orders come from.
pub enum Source<'a> {
    /// A CSV or TOML file of orders.
    File(&'a Path),
    /// Every pulled order no job has carried out yet.
    Pulled,
}

/// A plan: its orders, and the pulled orders left alone (with why).
pub struct Plan {
    pub orders: Vec<Planned>,
    pub left_alone: Vec<(String, String)>,
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
    #[error(transparent)]
    Orders(#[from] OrderForError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Ports(#[from] crate::terminal::discover::DiscoverError),
}

/// Decides what to do with each order from the journal (`file` names the plan in errors).
fn decide(store: &Store, orders: Vec<Prepared>, file: &Path) -> Result<Vec<Planned>, PlanError> {
    let jobs = store.jobs()?;
    let mut planned = Vec::with_capacity(orders.len());
    let mut seen = BTreeSet::new();
    for prepared in orders {
        let order = &prepared.order;
        let named = || (file.to_path_buf(), order.id.clone());
        if !seen.insert(order.id.clone()) {
            let (file, order) = named();
            return Err(PlanError::Twice { file, order });
        }
        let Some(serial) = order.expect.serial.clone() else {
            let (file, order) = named();
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
            serial,
            next,
            order: prepared,
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

/// The terminals answering on `ports`, probed at every line setting the planned orders'
/// profiles use: serial → port, and the ports where none answered, with why.
pub type Probed = (HashMap<String, PathBuf>, Vec<(PathBuf, String)>);

impl Agent {
    /// The orders of `source` and what to do with each, from the journal.
    pub fn plan(&self, source: Source<'_>) -> Result<Plan, PlanError> {
        let cx = self.context()?;
        let (orders, left_alone, file) = match source {
            Source::File(f) => (crate::job::orders::every_order(&cx, f)?, Vec::new(), f.to_path_buf()),
            Source::Pulled => {
                let (ready, left) = crate::job::orders::every_pulled(&cx)?;
                (ready, left, PathBuf::from(crate::tr!("pulled-orders")))
            }
        };
        let orders = decide(&self.store()?, orders, &file)?;
        Ok(Plan { orders, left_alone })
    }

    /// Probes `ports` (the machine's, when empty) for the terminals of `planned`.
    pub fn probe(&self, planned: &[Planned], ports: &[PathBuf]) -> Result<Probed, PlanError> {
        let mut settings: Vec<crate::profile::SerialSettings> = Vec::new();
        for p in planned {
            let s = self.profiles().get(&p.order.order.profile)?.serial.clone();
            if !settings.contains(&s) {
                settings.push(s);
            }
        }
        let ports = if ports.is_empty() {
            self.candidates(&[])?.into_iter().map(|c| c.port).collect()
        } else {
            ports.to_vec()
        };
        let began = std::time::Instant::now();
        let probed = crate::terminal::discover::probe(self.opener(), &ports, &settings);
        tracing::info!(
            ports = ports.len(),
            answered = probed.0.len(),
            ms = began.elapsed().as_millis() as u64,
            "ports probed"
        );
        Ok(probed)
    }

    /// Carries out one planned order, reporting to `obs`.
    pub fn run_one(
        &self,
        p: &Planned,
        found: &HashMap<String, PathBuf>,
        run: &RunWith<'_>,
        obs: &mut dyn Observer,
    ) -> Ran {
        let port = found.get(&p.serial);
        let mut ran = Ran {
            order: p.order.order.id.clone(),
            terminal: p.serial.clone(),
            status: "failed",
            job: None,
            port: port.cloned(),
            receipt: None,
            failure: None,
        };
        let at = At {
            port: port.cloned(),
            replacement: p.replacement.as_ref().and_then(|s| found.get(s)).cloned(),
        };
        let outcome: Result<JobOutcome, Failure> = match &p.next {
            Next::Skip(job) => {
                ran.status = "skipped";
                ran.job = Some(job.clone());
                return ran;
            }
            // A dry run does not resume: the interrupted job's checks passed when it began.
            Next::Resume(job) if run.options.dry_run => {
                ran.status = "planned";
                ran.job = Some(job.clone());
                return ran;
            }
            Next::Resume(job) => self
                .resume(job, &at, run.creds, &run.options, obs)
                .map_err(Failure::from),
            Next::Start => match (&at.port, &p.replacement, &at.replacement) {
                (None, ..) => Err(Failure::TerminalAbsent(p.serial.clone())),
                (Some(_), Some(r), None) => Err(Failure::ReplacementAbsent(r.clone())),
                _ => self
                    .start(&p.order, &at, run.creds, &run.options, obs)
                    .map_err(Failure::from),
            },
        };
        match outcome {
            Ok(_) if run.options.dry_run => ran.status = "planned",
            Ok(o) => {
                if o.job.state == JobState::Done {
                    ran.status = "done";
                }
                ran.job = Some(o.job.id.clone());
                ran.receipt = o.receipt.file;
            }
            Err(e) => {
                if let Failure::Job(JobError::Interrupted { job, .. } | JobError::Stopped { job, .. }) = &e {
                    ran.job = Some(job.clone());
                }
                ran.failure = Some(e);
            }
        }
        ran
    }

    /// Runs every planned order, up to `jobs` terminals at once, each with the observer
    /// `watch` makes for it; `done` turns each order's end into what the caller keeps, as it
    /// happens. Results in plan order.
    pub fn run_plan<O: Observer, T: Send>(
        &self,
        planned: &[Planned],
        found: &HashMap<String, PathBuf>,
        run: &RunWith<'_>,
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
                            let ran = self.run_one(p, found, run, &mut obs);
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

/// What every order of a run shares: the secrets and the technician's choices.
pub struct RunWith<'a> {
    pub creds: Credentials<'a>,
    pub options: Options,
}

/// Keeps the orders whose terminals (and replacement) answer now.
pub fn keep_connected(planned: &mut Vec<Planned>, found: &HashMap<String, PathBuf>) {
    let connected = |s: &String| found.contains_key(s);
    planned.retain(|p| connected(&p.serial) && p.replacement.as_ref().is_none_or(connected));
}
