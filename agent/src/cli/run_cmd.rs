//! `posagent run PLAN`: many orders over many terminals. Every order's terminal is found
//! by its serial number on whichever port it answers; up to `--jobs` jobs run at once, one
//! per terminal. A failing order does not stop the others; running the plan again skips
//! what is done and resumes what was interrupted, from the journal.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::args::RunArgs;
use super::backup_cmd::confirm;
use super::job_cmd::{technician, valid_orders};
use super::output::Table;
use super::secrets::PasswordUse;
use super::{CliError, Exit, Output, json_line, secrets};
use crate::config::Paths;
use crate::job::{self, Continue, JobSetup, Observer, PlanSummary, Step, StepStatus};
use crate::order::WorkOrder;
use crate::profile::{ProfileSet, SerialSettings};
use crate::store::Store;
use crate::store::jobs::JobState;
use crate::terminal::Secret;
use crate::tr;

/// What happened to one order.
#[derive(Debug, Clone, Serialize)]
struct OrderResult {
    order: String,
    terminal: String,
    /// `done`, `skipped` (done before), `failed`, or `planned` (dry run).
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    job: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The receipt to print and sign, for an order that ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<String>,
    #[serde(skip)]
    exit: Option<Exit>,
}

/// What to do with an order, from the journal.
#[derive(Debug, Clone)]
enum Next {
    Skip(String),
    Resume(String),
    Start,
}

/// One order, where its terminals are, and what to do.
struct Planned {
    order: WorkOrder,
    /// The provider's signature, for a pulled order.
    signed: Option<crate::signed::Verified>,
    serial: String,
    replacement: Option<String>,
    next: Next,
}

fn ports_to_probe(a: &RunArgs) -> Result<Vec<PathBuf>, CliError> {
    if !a.ports.is_empty() {
        return Ok(a.ports.clone());
    }
    crate::terminal::discover::candidates().map_err(|e| CliError::new(Exit::Failure, e.to_string()))
}

fn plan_orders(
    store: &Store,
    orders: Vec<(WorkOrder, Option<crate::signed::Verified>)>,
    plan: &Path,
) -> Result<Vec<Planned>, CliError> {
    let jobs = store.jobs()?;
    let mut planned = Vec::with_capacity(orders.len());
    let mut seen = BTreeSet::new();
    for (order, signed) in orders {
        if !seen.insert(order.id.clone()) {
            return Err(CliError::new(
                Exit::DataErr,
                tr!(
                    "plan-order-twice",
                    file = plan.display().to_string(),
                    order = order.id.as_str()
                ),
            ));
        }
        let serial = order.expect.serial.clone().ok_or_else(|| {
            CliError::new(
                Exit::DataErr,
                tr!(
                    "plan-order-no-serial",
                    file = plan.display().to_string(),
                    order = order.id.as_str()
                ),
            )
        })?;
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

/// Draws one job of a run: a line in the multi-bar, or JSON events.
struct RunLine {
    bar: ProgressBar,
    json: bool,
    order: String,
}

impl Observer for RunLine {
    fn begin(&mut self, steps: &[Step]) {
        self.bar.set_length(steps.len() as u64);
    }

    fn step(&mut self, step: Step, status: StepStatus, detail: &str) {
        if matches!(status, StepStatus::Done | StepStatus::Skipped) {
            self.bar.inc(1);
        }
        let label = match status {
            StepStatus::Started => tr!("status-started"),
            StepStatus::Done => tr!("status-done"),
            StepStatus::Skipped => tr!("status-skipped"),
            StepStatus::Failed => tr!("status-failed"),
        };
        let status = format!("{status:?}").to_lowercase();
        self.bar.set_message(format!("{} {label}", step.label()));
        if self.json {
            json_line(&serde_json::json!({
                "event": "step", "order": self.order, "step": step.name(), "status": status, "detail": detail,
            }));
        }
    }

    fn transfer(&mut self, label: &str, done: u64, total: u64) {
        if let Some(percent) = (done * 100).checked_div(total) {
            self.bar.set_message(format!("{label} {percent}%"));
        }
    }

    fn stop_requested(&self) -> bool {
        super::interrupt::requested()
    }

    fn confirm(&mut self, _plan: &PlanSummary) -> bool {
        // The whole plan was confirmed before the run began.
        true
    }
}

/// What every job of a run shares.
struct Shared<'a> {
    paths: &'a Paths,
    profiles: &'a ProfileSet,
    plan: &'a Path,
    secret: &'a Secret,
    password: &'a [u8],
    technician: &'a str,
    found: &'a HashMap<String, PathBuf>,
    cooldown_checked_by_provider: bool,
    verify: crate::job::Verify,
    order_keys: &'a crate::signed::OrderKeys,
    /// Every read-only check against the terminals, nothing changed, no job kept.
    dry_run: bool,
    proof: crate::job::Proof,
}

impl Shared<'_> {
    fn run_one(&self, p: &Planned, obs: &mut RunLine) -> OrderResult {
        let port = self.found.get(&p.serial);
        let mut result = OrderResult {
            order: p.order.id.clone(),
            terminal: p.serial.clone(),
            status: "failed",
            job: None,
            port: port.map(|x| x.display().to_string()),
            error: None,
            receipt: None,
            exit: None,
        };
        let fail = |mut r: OrderResult, e: CliError| {
            r.error = Some(e.message);
            r.exit = Some(e.exit);
            r
        };
        let outcome = match &p.next {
            Next::Skip(job) => {
                result.status = "skipped";
                result.job = Some(job.clone());
                return result;
            }
            // A dry run does not resume: the interrupted job's checks passed when it began.
            Next::Resume(job) if self.dry_run => {
                result.status = "planned";
                result.job = Some(job.clone());
                return result;
            }
            Next::Resume(job) => Continue {
                opener: std::sync::Arc::new(crate::job::SerialOpener),
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
            }
            .resume(job, obs),
            Next::Start => {
                let Some(port) = port else {
                    let e = CliError::new(
                        Exit::Unavailable,
                        tr!("plan-terminal-absent", serial = p.serial.as_str()),
                    );
                    return fail(result, e);
                };
                let replacement_port = match &p.replacement {
                    Some(r) => match self.found.get(r) {
                        Some(x) => Some(x.as_path()),
                        None => {
                            let e =
                                CliError::new(Exit::Unavailable, tr!("plan-replacement-absent", serial = r.as_str()));
                            return fail(result, e);
                        }
                    },
                    None => None,
                };
                let profile = match self.profiles.get(&p.order.profile) {
                    Ok(x) => x,
                    Err(e) => return fail(result, e.into()),
                };
                job::start(
                    JobSetup {
                        opener: std::sync::Arc::new(crate::job::SerialOpener),
                        paths: self.paths,
                        profile,
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
                        signed: p.signed.clone(),
                        proof: self.proof.clone(),
                    },
                    obs,
                )
            }
        };
        match outcome {
            Ok(_) if self.dry_run => {
                result.status = "planned";
                result
            }
            Ok(o) => {
                result.status = if o.job.state == JobState::Done {
                    "done"
                } else {
                    "failed"
                };
                result.job = Some(o.job.id.clone());
                result.receipt = o.receipt.file;
                result
            }
            Err(e) => {
                if let crate::job::JobError::Interrupted { job, .. } = &e {
                    result.job = Some(job.clone());
                }
                fail(result, e.into())
            }
        }
    }
}

fn bar_for(multi: &MultiProgress, serial: &str) -> ProgressBar {
    let bar = multi.add(ProgressBar::new(1));
    bar.set_style(
        ProgressStyle::with_template("{prefix:<18} [{bar:20}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(serial.to_string());
    bar
}

/// Every pulled order that may be carried out now, checked as a job checks it; the others
/// are named on stderr and left alone.
fn pulled_orders(
    paths: &Paths,
    profiles: &ProfileSet,
) -> Result<Vec<(WorkOrder, Option<crate::signed::Verified>)>, CliError> {
    let store = Store::open(&paths.data)?;
    let local = crate::seal::LocalKeys::load_or_create(&paths.data).map_err(crate::sync::client::SyncError::from)?;
    let keys = super::orders_cmd::order_keys(paths)?;
    let tech = technician(paths)?;
    let mut ready = Vec::new();
    for o in store.pulled_orders()? {
        if store.job_of_order(&o.id)?.is_some() {
            continue;
        }
        let Some(doc) = crate::sync::orders::document(&store, &local, &o.id)? else {
            continue;
        };
        let checked = doc
            .verify(&keys)
            .and_then(|v| v.authorise(&tech, chrono::Utc::now()).map(|()| v))
            .map_err(|e| e.to_string())
            .and_then(|v| match crate::order::validate(&v.raw(), profiles) {
                Ok(order) => Ok((order, Some(v))),
                Err(p) => Err(tr!(
                    "pulled-not-valid",
                    problems = p.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")
                )),
            });
        match checked {
            Ok(x) => ready.push(x),
            Err(why) => eprintln!("{}", tr!("pulled-left-alone", reason = why)),
        }
    }
    Ok(ready)
}

pub fn run(paths: &Paths, a: &RunArgs, out: &Output) -> Result<(), CliError> {
    let (orders, profiles, plan) = match &a.plan {
        Some(plan) => {
            let (orders, profiles) = valid_orders(paths, plan)?;
            (orders.into_iter().map(|o| (o, None)).collect(), profiles, plan.clone())
        }
        None => {
            let profiles = super::load_profiles(paths)?;
            (
                pulled_orders(paths, &profiles)?,
                profiles,
                PathBuf::from(tr!("pulled-orders")),
            )
        }
    };
    let store = Store::open(&paths.data)?;
    let mut planned = plan_orders(&store, orders, &plan)?;
    drop(store);
    let mut settings: Vec<SerialSettings> = Vec::new();
    for p in &planned {
        let s = profiles.get(&p.order.profile)?.serial.clone();
        if !settings.contains(&s) {
            settings.push(s);
        }
    }
    let work = planned.iter().filter(|p| !matches!(p.next, Next::Skip(_))).count();
    let dry = a.common.dry_run;
    // Every order done already: no terminal, secret or password is needed.
    let idle = work == 0 && !dry;
    let (found, silent) = if idle {
        (HashMap::new(), Vec::new())
    } else {
        crate::terminal::discover::probe(&ports_to_probe(a)?, &settings)
    };
    if a.pulled {
        // Pulled orders wait for their terminal: only those connected now are run.
        let connected = |s: &String| found.contains_key(s);
        planned.retain(|p| connected(&p.serial) && p.replacement.as_ref().is_none_or(connected));
        if planned.is_empty() && !out.json {
            eprintln!("{}", tr!("pulled-none-connected"));
        }
    }
    if !dry && !idle {
        confirm(
            &tr!("plan-confirm-run", count = work, file = plan.display().to_string()),
            a.common.yes,
        )?;
    }
    // A dry run authenticates (that is one of its checks) but writes no backup.
    let (secret, pw) = if idle {
        (Secret::new(Vec::new()), zeroize::Zeroizing::new(Vec::new()))
    } else if dry {
        let secret = secrets::operator_secret(a.common.secret.secret_file.as_deref())?;
        (secret, zeroize::Zeroizing::new(Vec::new()))
    } else {
        secrets::secret_then_password(
            a.common.secret.secret_file.as_deref(),
            a.common.password_file.as_deref(),
            PasswordUse::New,
        )?
    };
    let tech = technician(paths)?;
    super::interrupt::install();
    let shared = Shared {
        paths,
        profiles: &profiles,
        plan: &plan,
        secret: &secret,
        password: &pw,
        technician: &tech,
        found: &found,
        cooldown_checked_by_provider: a.common.cooldown_checked_by_provider,
        proof: super::job_cmd::proof(paths, a.common.documents_checked)?,
        verify: a.common.verify.into(),
        order_keys: &super::orders_cmd::order_keys(paths)?,
        dry_run: dry,
    };
    let results = execute(&planned, &shared, usize::from(a.jobs), out);
    if dry {
        dry_run_report(&results, &silent, out)
    } else {
        summary(&results, &crate::receipt::dir(&paths.data), out)
    }
}

/// Runs every planned order, up to `jobs` terminals at once; results in plan order.
fn execute(planned: &[Planned], shared: &Shared<'_>, jobs: usize, out: &Output) -> Vec<OrderResult> {
    let draw = if !out.narrates() || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let multi = MultiProgress::with_draw_target(draw);
    // One queue per terminal: a terminal's orders run one after another.
    let mut by_terminal: BTreeMap<&str, Vec<&Planned>> = BTreeMap::new();
    for p in planned {
        by_terminal.entry(p.serial.as_str()).or_default().push(p);
    }
    let queue = Mutex::new(by_terminal.into_values().collect::<Vec<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let Some(group) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop() else {
                        return;
                    };
                    for p in group {
                        let mut line = RunLine {
                            bar: bar_for(&multi, &p.serial),
                            json: out.json && !shared.dry_run,
                            order: p.order.id.clone(),
                        };
                        let r = shared.run_one(p, &mut line);
                        line.bar.finish_with_message(match &r.error {
                            Some(e) => tr!("run-line-failed", reason = e.as_str()),
                            None => result_label(r.status),
                        });
                        if line.json {
                            let mut doc = serde_json::to_value(&r).unwrap_or_default();
                            doc["event"] = "result".into();
                            json_line(&doc);
                        }
                        results.lock().unwrap_or_else(|p| p.into_inner()).push(r);
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let order_of: HashMap<&str, usize> = planned
        .iter()
        .enumerate()
        .map(|(i, p)| (p.order.id.as_str(), i))
        .collect();
    results.sort_by_key(|r| order_of.get(r.order.as_str()).copied());
    results
}

/// A result's status as a person reads it (JSON keeps `done`, `skipped` …).
fn result_label(status: &str) -> String {
    match status {
        "done" => tr!("status-done"),
        "skipped" => tr!("status-skipped"),
        "failed" => tr!("status-failed"),
        "planned" => tr!("status-planned"),
        other => other.to_string(),
    }
}

fn table(results: &[OrderResult]) -> String {
    let mut table = Table::new([
        (tr!("col-order"), 16),
        (tr!("col-terminal"), 18),
        (tr!("col-result"), 8),
        (tr!("col-job"), 36),
        (tr!("col-note"), 0),
    ]);
    for r in results {
        table.row([
            r.order.clone(),
            r.terminal.clone(),
            result_label(r.status),
            r.job.clone().unwrap_or_else(|| "-".to_string()),
            r.error.as_deref().or(r.port.as_deref()).unwrap_or("").to_string(),
        ]);
    }
    table.render()
}

fn summary(results: &[OrderResult], receipts: &Path, out: &Output) -> Result<(), CliError> {
    let failed: Vec<&OrderResult> = results.iter().filter(|r| r.status == "failed").collect();
    let count = |s: &str| results.iter().filter(|r| r.status == s).count();
    let written = results.iter().filter(|r| r.receipt.is_some()).count();
    let doc = serde_json::json!({
        "event": "summary",
        "ok": failed.is_empty(),
        "done": count("done"),
        "skipped": count("skipped"),
        "failed": failed.len(),
        "receipts": written,
        "receipts_dir": receipts,
    });
    if out.json {
        json_line(&doc);
    } else {
        println!(
            "{}\n{}",
            table(results),
            tr!(
                "run-summary",
                done = count("done"),
                skipped = count("skipped"),
                failed = failed.len()
            )
        );
        if written > 0 {
            println!(
                "{}",
                tr!("run-receipts", count = written, dir = receipts.display().to_string())
            );
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    let exit = if failed.iter().all(|r| r.exit == Some(Exit::Unavailable)) {
        Exit::Unavailable
    } else {
        Exit::Failure
    };
    Err(
        CliError::new(exit, tr!("run-failed", failed = failed.len(), total = results.len()))
            .code("orders_failed")
            .help(tr!("help-run-failed")),
    )
}

fn dry_run_report(results: &[OrderResult], silent: &[(PathBuf, String)], out: &Output) -> Result<(), CliError> {
    let mut human = format!("{}\n{}", tr!("run-dry"), table(results));
    for (port, e) in silent {
        human.push_str(&format!(
            "\n  {}",
            tr!(
                "run-no-terminal-on",
                port = port.display().to_string(),
                reason = e.as_str()
            )
        ));
    }
    let failed: Vec<&OrderResult> = results.iter().filter(|r| r.status == "failed").collect();
    out.print(
        &human,
        &serde_json::json!({ "ok": failed.is_empty(), "orders": results }),
    );
    if failed.is_empty() {
        return Ok(());
    }
    let exit = if failed.iter().all(|r| r.exit == Some(Exit::Unavailable)) {
        Exit::Unavailable
    } else {
        failed.iter().find_map(|r| r.exit).unwrap_or(Exit::Failure)
    };
    Err(CliError::new(
        exit,
        tr!("run-dry-failed", failed = failed.len(), total = results.len()),
    )
    .code("orders_would_fail")
    .help(tr!("help-run-dry-failed")))
}
