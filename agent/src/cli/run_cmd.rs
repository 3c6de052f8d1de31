//! `posagent run PLAN`: many orders over many terminals (the agent's plan runner carries
//! them out): finds the terminals, asks for confirmation and secrets, draws a line per
//! job, and reports.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::RunArgs;
use super::run_report::{OrderResult, dry_run_report, result_label, summary};
use super::screen::confirm;
use super::secrets::PasswordUse;
use super::{CliError, Output, json_line, secrets};
use crate::agent::Agent;
use crate::agent::plan::{self as batch, Next, Ran, RunWith, Source};
use crate::config::Paths;
use crate::job::{Credentials, Decision, Event, Observer, PlanSummary, StepStatus};
use crate::terminal::Secret;
use crate::tr;

/// Draws one job of a run: a line in the multi-bar, or JSON events (each the job's own
/// event, as the console's live page gets it, with its order).
struct RunLine {
    bar: ProgressBar,
    json: bool,
    order: String,
}

impl Observer for RunLine {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::Begin { steps } => self.bar.set_length(steps.len() as u64),
            Event::Step { step, status, .. } => {
                if matches!(status, StepStatus::Done | StepStatus::Skipped) {
                    self.bar.inc(1);
                }
                self.bar.set_message(format!("{} {}", step.label(), status.label()));
            }
            Event::Transfer { what, done, total } => {
                if let Some(percent) = (done * 100).checked_div(*total) {
                    self.bar
                        .set_message(format!("{} {percent}%", crate::job::transfer_label(what)));
                }
            }
            Event::Confirm { .. } | Event::Code { .. } => {}
        }
        if self.json && matches!(event, Event::Step { .. }) {
            let mut line = serde_json::to_value(event).unwrap_or_default();
            line["order"] = self.order.clone().into();
            json_line(&line);
        }
    }

    fn stop_requested(&self) -> bool {
        super::interrupt::requested()
    }

    fn confirm(&mut self, _plan: &PlanSummary) -> Decision {
        // The whole plan was confirmed before the run began.
        Decision::Yes
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

pub fn run(paths: &Paths, a: &RunArgs, out: &Output) -> Result<(), CliError> {
    let agent = super::agent(paths)?;
    let (source, plan_name) = match &a.plan {
        Some(plan) => (Source::File(plan), plan.clone()),
        None => (Source::Pulled, PathBuf::from(tr!("pulled-orders"))),
    };
    let plan = agent.plan(source)?;
    // Pulled orders that may not be carried out now are named and left alone.
    for (_, why) in &plan.left_alone {
        eprintln!("{}", tr!("pulled-left-alone", reason = why.as_str()));
    }
    let mut planned = plan.orders;
    let work = planned.iter().filter(|p| !matches!(p.next, Next::Skip(_))).count();
    let dry = a.common.dry_run;
    // Every order done already: no terminal, secret or password is needed.
    let idle = work == 0 && !dry;
    // Nothing planned (no pulled order waits): no port to probe, and none said silent.
    let (found, silent) = if idle || planned.is_empty() {
        (HashMap::new(), Vec::new())
    } else {
        agent.probe(&planned, &a.ports)?
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
            &tr!("plan-confirm-run", count = work, file = plan_name.display().to_string()),
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
    super::interrupt::install();
    let run = RunWith {
        creds: Credentials {
            secret: &secret,
            password: &pw,
        },
        options: super::job_cmd::options(&a.common, &a.migration),
    };
    let results = execute(&agent, &planned, &found, &run, usize::from(a.jobs), out);
    if dry {
        dry_run_report(&results, &silent, out)
    } else {
        summary(&results, &crate::receipt::dir(&paths.data), out)
    }
}

/// Runs every planned order, up to `jobs` terminals at once, a line in the multi-bar each
/// (or JSON events); results in plan order.
fn execute(
    agent: &Agent,
    planned: &[batch::Planned],
    found: &HashMap<String, PathBuf>,
    run: &RunWith<'_>,
    jobs: usize,
    out: &Output,
) -> Vec<OrderResult> {
    let draw = if !out.narrates() || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let multi = MultiProgress::with_draw_target(draw);
    let json = out.json && !run.options.dry_run;
    let watch = |p: &batch::Planned| RunLine {
        bar: bar_for(&multi, &p.serial),
        json,
        order: p.order.order.id.clone(),
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
    agent.run_plan(planned, found, run, jobs, watch, done)
}
