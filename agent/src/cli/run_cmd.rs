//! `posagent run PLAN`: many orders over many terminals (`job::batch` runs them): finds the
//! terminals, asks for confirmation and secrets, draws a line per job, and reports.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::RunArgs;
use super::job_cmd::technician;
use super::run_report::{OrderResult, dry_run_report, result_label, summary};
use super::screen::confirm;
use super::secrets::PasswordUse;
use super::{CliError, Output, json_line, secrets};
use crate::config::Paths;
use crate::job::batch::{self, Batch, Next, Ran};
use crate::job::{Observer, PlanSummary, Step, StepStatus};
use crate::order::WorkOrder;
use crate::profile::ProfileSet;
use crate::store::Store;
use crate::sync::orders::Ready;
use crate::terminal::Secret;
use crate::tr;

fn ports_to_probe(a: &RunArgs) -> Result<Vec<PathBuf>, CliError> {
    if !a.ports.is_empty() {
        return Ok(a.ports.clone());
    }
    Ok(crate::terminal::discover::candidates()?)
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
    let mut ready = Vec::new();
    for checked in Ready::open(paths)?.all(profiles)? {
        match checked {
            Ok((order, v)) => ready.push((order, Some(v))),
            Err(why) => eprintln!("{}", tr!("pulled-left-alone", reason = why.to_string())),
        }
    }
    Ok(ready)
}

pub fn run(paths: &Paths, a: &RunArgs, out: &Output) -> Result<(), CliError> {
    let (orders, profiles, plan) = match &a.plan {
        Some(plan) => {
            let (orders, profiles) = crate::job::order_for::every_order(paths, plan)?;
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
    let mut planned = batch::plan(&store, orders, &plan)?;
    drop(store);
    let work = planned.iter().filter(|p| !matches!(p.next, Next::Skip(_))).count();
    let dry = a.common.dry_run;
    // Every order done already: no terminal, secret or password is needed.
    let idle = work == 0 && !dry;
    let (found, silent) = if idle {
        (HashMap::new(), Vec::new())
    } else {
        batch::probe(&planned, &profiles, &ports_to_probe(a)?)?
    };
    if a.pulled {
        // Pulled orders wait for their terminal: only those connected now are run.
        batch::keep_connected(&mut planned, &found);
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
    let batch = Batch {
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
        copying: a.common.copy,
        order_keys: &super::orders_cmd::order_keys(paths)?,
        dry_run: dry,
    };
    let results = execute(&planned, &batch, usize::from(a.jobs), out);
    if dry {
        dry_run_report(&results, &silent, out)
    } else {
        summary(&results, &crate::receipt::dir(&paths.data), out)
    }
}

/// Runs every planned order, up to `jobs` terminals at once, a line in the multi-bar each
/// (or JSON events); results in plan order.
fn execute(planned: &[batch::Planned], batch: &Batch<'_>, jobs: usize, out: &Output) -> Vec<OrderResult> {
    let draw = if !out.narrates() || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let multi = MultiProgress::with_draw_target(draw);
    let json = out.json && !batch.dry_run;
    let watch = |p: &batch::Planned| RunLine {
        bar: bar_for(&multi, &p.serial),
        json,
        order: p.order.id.clone(),
    };
    let done = |r: Ran, line: RunLine| {
        let r = OrderResult::from(r);
        line.bar.finish_with_message(match &r.error {
            Some(e) => tr!("run-line-failed", reason = e.as_str()),
            None => result_label(r.status),
        });
        if json {
            let mut doc = serde_json::to_value(&r).unwrap_or_default();
            doc["event"] = "result".into();
            json_line(&doc);
        }
        r
    };
    batch.run_all(planned, jobs, watch, done)
}
