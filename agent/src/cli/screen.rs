//! How a job looks on screen: one line per step on stderr with `k/N` and the time still to
//! go, a bar per transfer, the plan to confirm, and the outcome printed at the end.

use indicatif::MultiProgress;
use serde::Serialize;

use super::codes::CodeSource;
use super::output::{describe_binding, describe_link, pad};
use std::io::{BufRead, IsTerminal, Write};

use super::{CliError, Exit, Output, progress};
use crate::job::{CodeAnswer, CodeAsk, Decision, Event, JobOutcome, Observer, PlanSummary, Step, StepStatus};
use crate::tr;

use crate::job::transfer_label;
use crate::job::{operation_label as op_label, step_list};

/// Asks on the terminal; without one, refuses unless `--yes` was given. Ctrl-C at the
/// question ends it at once.
pub fn ask_yes(question: &str, yes: bool) -> Result<Decision, CliError> {
    if yes {
        return Ok(Decision::Yes);
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(Exit::Usage, tr!("confirm-no-terminal"))
            .code("confirmation_needed")
            .help(tr!("help-confirm-yes")));
    }
    match ask_line(&format!("{question} [y/N] "))? {
        None => Ok(Decision::Stop),
        Some(a) if matches!(a.trim(), "y" | "Y" | "yes" | "是") => Ok(Decision::Yes),
        Some(_) => Ok(Decision::No),
    }
}

/// Prints `question` on stderr and reads a line from the terminal, its newline kept (an
/// empty answer is the end of input); `None` when Ctrl-C came first.
pub fn ask_line(question: &str) -> Result<Option<String>, CliError> {
    let question = question.to_string();
    let read = move || {
        eprint!("{question}");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).map(|_| answer)
    };
    match super::prompt::ask(read, |r| {
        r.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::Interrupted)
    }) {
        super::prompt::Asked::Stopped => Ok(None),
        super::prompt::Asked::Answer(Err(e)) => Err(CliError::new(Exit::Failure, e.to_string())),
        super::prompt::Asked::Answer(Ok(a)) => Ok(Some(a)),
    }
}

/// [`ask_yes`] before anything has started: no is the end of the command (exit 1), a stop
/// exits 130; nothing changed either way.
pub fn confirm(question: &str, yes: bool) -> Result<(), CliError> {
    match ask_yes(question, yes)? {
        Decision::Yes => Ok(()),
        Decision::No => Err(CliError::new(Exit::Failure, tr!("not-confirmed")).code("not_confirmed")),
        Decision::Stop => Err(CliError::new(Exit::Interrupted, tr!("stopped-at-question")).code("stopped")),
    }
}

/// Draws job events: one line per step on stderr, a bar for transfers.
pub(super) struct Screen<'a> {
    out: &'a Output,
    /// The bars of the transfers under way, by label (a one-pass copy runs two at once).
    bars: Vec<(String, progress::Transfers)>,
    multi: MultiProgress,
    yes: bool,
    /// The run's plan, to say `step k/N`.
    steps: Vec<Step>,
    /// The job's time still to go, from the line rate measured on its transfers.
    eta: crate::job::eta::Eta,
    /// Where one-time codes come from.
    pub codes: CodeSource,
    /// Why no one could be asked to confirm (no terminal, no `--yes`): what the command
    /// says instead of "not confirmed".
    refusal: Option<CliError>,
}

impl Screen<'_> {
    fn step(&mut self, step: Step, status: StepStatus, detail: &str) {
        for (_, mut b) in self.bars.drain(..) {
            b.finish();
        }
        if !self.out.narrates() {
            return;
        }
        if let Some(mark) = progress::step_mark(status) {
            // `k/N` of the plan, right-aligned so the names line up.
            let n = self.steps.len();
            let k = self.steps.iter().position(|s| *s == step).map_or(0, |i| i + 1);
            let width = n.to_string().len();
            let to_come = self.steps.iter().skip(k).filter(|s| s.moves_data()).count();
            let eta = match status {
                StepStatus::Done | StepStatus::Skipped => progress::eta_suffix(self.eta.remaining(to_come)),
                _ => String::new(),
            };
            let head = format!("  {mark} {k:>width$}/{n} {} ", pad(&step.label(), 18));
            let columns = super::output::columns_of(&console::Term::stderr());
            eprintln!(
                "{}",
                super::output::wrap_items(&head, &format!("{detail}{eta}"), columns)
            );
        }
    }

    fn transfer(&mut self, label: &str, done: u64, total: u64) {
        let i = match self.bars.iter().position(|(l, _)| l == label) {
            Some(i) => i,
            None => {
                let bars = progress::Transfers::new(&self.multi, &transfer_label(label));
                self.bars.push((label.to_string(), bars));
                self.bars.len() - 1
            }
        };
        self.bars[i].1.update(done, total);
        self.eta.transfer(label, done, total);
    }

    fn show_plan(&self, plan: &PlanSummary) {
        if self.out.json {
            return;
        }
        eprintln!(
            "{}",
            tr!(
                "plan-heading",
                job = plan.job_id.as_str(),
                operation = op_label(&plan.operation),
                order = plan.order_id.as_str(),
                terminal = plan.terminal.as_str()
            )
        );
        if let Some(r) = &plan.replacement {
            eprintln!("  {}", tr!("plan-replacement", serial = r.as_str()));
        }
        for d in &plan.changes {
            eprintln!("  {}", super::output::change_line(d));
        }
        eprintln!("  {}", tr!("plan-steps", steps = step_list(&plan.steps)));
    }
}

impl Observer for Screen<'_> {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::Begin { steps } => self.steps = steps.to_vec(),
            Event::Step { step, status, detail } => self.step(*step, *status, detail),
            Event::Transfer { what, done, total } => self.transfer(what, *done, *total),
            Event::Confirm { plan } => self.show_plan(plan),
            // The code's question is asked with the answer (`one_time_code`).
            Event::Code { .. } => {}
        }
    }

    fn stop_requested(&self) -> bool {
        super::interrupt::requested()
    }

    fn can_ask_codes(&self) -> bool {
        self.codes.available()
    }

    fn one_time_code(&mut self, ask: &CodeAsk) -> CodeAnswer {
        self.codes.code(ask, self.out.narrates())
    }

    fn confirm(&mut self, _plan: &PlanSummary) -> Decision {
        match ask_yes(&tr!("plan-confirm"), self.yes) {
            Ok(d) => d,
            // No one to ask: the job ends cancelled, and the command says why (`ended`).
            Err(e) => {
                self.refusal = Some(e);
                Decision::No
            }
        }
    }
}

pub(super) fn screen(out: &Output, yes: bool) -> Screen<'_> {
    Screen {
        out,
        bars: Vec::new(),
        multi: progress::transfer_bars(out),
        yes,
        steps: Vec::new(),
        eta: crate::job::eta::Eta::default(),
        codes: CodeSource::default(),
        refusal: None,
    }
}

impl Screen<'_> {
    /// The command's result from the job's: a job cancelled because no one could be
    /// asked says that (exit 2, pass `--yes`), not that someone said no.
    pub fn ended(&mut self, result: Result<JobOutcome, crate::job::JobError>) -> Result<JobOutcome, CliError> {
        match (result, self.refusal.take()) {
            (Err(crate::job::JobError::Cancelled), Some(refusal)) => Err(refusal),
            (result, _) => Ok(result?),
        }
    }
}

/// A job's outcome as one JSON document.
#[derive(Serialize)]
pub(super) struct Report<'a> {
    pub ok: bool,
    #[serde(flatten)]
    pub outcome: &'a JobOutcome,
}

pub(super) fn print_outcome(out: &Output, o: &JobOutcome, verb: &str) {
    let mut human = tr!(
        "outcome-heading",
        job = o.job.id.as_str(),
        verb = verb,
        operation = op_label(&o.plan.operation),
        order = o.plan.order_id.as_str(),
        terminal = o.plan.terminal.as_str()
    );
    if let Some(b) = &o.backup_file {
        human.push_str(&format!("\n  {}", tr!("outcome-backup", file = b.as_str())));
    }
    if let Some(t) = &o.test_transaction {
        human.push_str(&format!(
            "\n  {}",
            tr!(
                "outcome-test",
                fen = t.amount_fen,
                auth = t.auth_code.as_str(),
                rrn = t.rrn.as_str()
            )
        ));
    }
    if let Some(n) = o.transactions_moved {
        human.push_str(&format!("\n  {}", tr!("outcome-moved", count = n)));
    }
    if let Some(s) = &o.submission_id {
        human.push_str(&format!("\n  {}", tr!("outcome-queued", submission = s.as_str())));
    }
    if let Some(b) = &o.binding_after {
        human.push_str(&format!("\n{}", describe_binding(b)));
    }
    human.push_str(&format!("\n{}", describe_link(&o.link)));
    match (&o.receipt.file, &o.receipt.error) {
        (Some(f), _) => human.push_str(&format!("\n  {}", tr!("outcome-receipt", file = f.as_str()))),
        (None, Some(e)) => human.push_str(&format!(
            "\n  {}",
            tr!("outcome-receipt-failed", reason = e.as_str(), job = o.job.id.as_str())
        )),
        (None, None) => {}
    }
    out.print(&human, &Report { ok: true, outcome: o });
}
