//! `posagent rebind | unbind | migrate`, `posagent jobs …` and `posagent audit verify`.

use std::path::Path;

use indicatif::ProgressBar;
use serde::Serialize;

use super::args::{
    AuditCommand, JobArgs, JobOptions, JobsCommand, MigrateArgs, RebindArgs, RebindTarget, ResumeOptions, WhereArgs,
};
use super::backup_cmd::confirm;
use super::device_cmd::{describe_binding, describe_link, locate, terminal_exit};
use super::secrets::PasswordUse;
use super::{CliError, Exit, Output, load_profiles, progress, secrets};
use crate::config::{Config, Paths};
use crate::job::{self, Continue, JobError, JobOutcome, JobSetup, Observer, PlanSummary, Step, StepStatus};
use crate::order::{Operation, WorkOrder};
use crate::receipt::{self, ReceiptError};
use crate::store::Store;
use crate::tr;

use super::output::pad;

/// An operation's name as a person reads it (`rebind-card` → "rebind card").
pub(super) fn op_label(name: &str) -> String {
    match name.parse::<Operation>() {
        Ok(op) => op.label(),
        Err(_) if name == crate::job::restore::RESTORE => tr!("op-restore"),
        Err(_) => name.to_string(),
    }
}

/// What a transfer moves, as a person reads it (the library names it `backup`, `export` …).
fn transfer_label(label: &str) -> String {
    match label {
        "backup" => tr!("transfer-backup"),
        "export" => tr!("transfer-export"),
        "import" => tr!("transfer-import"),
        "verify" => tr!("transfer-verify"),
        "parameters" => tr!("transfer-parameters"),
        other => other.to_string(),
    }
}

/// A journal entry's phase as a person reads it.
fn phase_label(phase: &str) -> String {
    match phase {
        "intent" => tr!("phase-intent"),
        "done" => tr!("phase-done"),
        "failed" => tr!("phase-failed"),
        other => other.to_string(),
    }
}

/// The steps of a plan, by their labels, joined by arrows.
fn step_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| crate::job::step_label(n))
        .collect::<Vec<_>>()
        .join(" → ")
}

impl From<ReceiptError> for CliError {
    fn from(e: ReceiptError) -> Self {
        match e {
            ReceiptError::Store(e) => e.into(),
            ReceiptError::NotFound(_) => CliError::new(Exit::DataErr, e.to_string())
                .code("job_not_found")
                .help(tr!("help-jobs-list")),
            ReceiptError::Write { .. } => CliError::new(Exit::Failure, e.to_string()).help(tr!("help-receipt-out")),
        }
    }
}

impl From<JobError> for CliError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Terminal(t) => t.into(),
            JobError::Interrupted {
                ref source, ref job, ..
            } => {
                let exit = match source.as_ref() {
                    JobError::Terminal(t) => terminal_exit(t).0,
                    _ => Exit::Failure,
                };
                let help = tr!("help-job-resume", job = job.as_str());
                CliError::new(exit, e.to_string()).code("interrupted").help(help)
            }
            JobError::Refused { code, .. } => CliError::new(Exit::DataErr, e.to_string()).code(code),
            JobError::Order(_) => CliError::new(Exit::DataErr, e.to_string()).code("order_invalid"),
            JobError::Stopped { ref job, .. } => {
                let help = tr!("help-job-stopped", job = job.as_str());
                CliError::new(Exit::Interrupted, e.to_string())
                    .code("stopped")
                    .help(help)
            }
            JobError::Unauthorised(_) => CliError::new(Exit::NoPerm, e.to_string()).code("order_not_authorised"),
            JobError::Backup(b) => b.into(),
            JobError::Busy { ref job, .. } => {
                let help = tr!("help-job-busy", job = job.as_str());
                CliError::new(Exit::Failure, e.to_string())
                    .code("terminal_busy")
                    .help(help)
            }
            JobError::Verification { .. } => CliError::new(Exit::Failure, e.to_string()).code("verification_failed"),
            JobError::Cancelled => CliError::new(Exit::Failure, e.to_string())
                .code("not_confirmed")
                .help(tr!("help-confirm-or-yes")),
            JobError::NotFound(_) => CliError::new(Exit::Failure, e.to_string())
                .code("job_not_found")
                .help(tr!("help-jobs-list")),
            JobError::NotRunning { .. } => CliError::new(Exit::Failure, e.to_string()).code("job_not_running"),
            JobError::Abort(_) => CliError::new(Exit::Failure, e.to_string()).code("abort_refused"),
            other => CliError::new(Exit::Failure, other.to_string()),
        }
    }
}

/// Draws job events: one line per step on stderr, a bar for transfers.
pub(super) struct Screen<'a> {
    out: &'a Output,
    bar: Option<ProgressBar>,
    label: String,
    yes: bool,
    /// The run's plan, to say `step k/N`.
    steps: Vec<Step>,
    /// The job's time still to go, from the line rate measured on its transfers.
    eta: progress::Eta,
}

impl Observer for Screen<'_> {
    fn begin(&mut self, steps: &[Step]) {
        self.steps = steps.to_vec();
    }

    fn step(&mut self, step: Step, status: StepStatus, detail: &str) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
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
            eprintln!("  {mark} {k:>width$}/{n} {} {detail}{eta}", pad(&step.label(), 18));
        }
    }

    fn transfer(&mut self, label: &str, done: u64, total: u64) {
        if self.bar.is_none() || self.label != label {
            if let Some(b) = self.bar.take() {
                b.finish_and_clear();
            }
            self.bar = Some(progress::transfer_bar(self.out, &transfer_label(label)));
            self.label = label.to_string();
        }
        if let Some(b) = &self.bar {
            progress::feed(b)(done, total);
        }
        self.eta.transfer(label, done, total);
    }

    fn stop_requested(&self) -> bool {
        super::interrupt::requested()
    }

    fn confirm(&mut self, plan: &PlanSummary) -> bool {
        if !self.out.json {
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
                eprintln!("  {} {}  →  {}", pad(&d.label(), 14), d.from, d.to);
            }
            eprintln!("  {}", tr!("plan-steps", steps = step_list(&plan.steps)));
        }
        match confirm(&tr!("plan-confirm"), self.yes) {
            Ok(()) => true,
            Err(e) => {
                if !self.out.json {
                    eprintln!("{}", e.message);
                }
                false
            }
        }
    }
}

pub(super) fn screen(out: &Output, yes: bool) -> Screen<'_> {
    Screen {
        out,
        bar: None,
        label: String::new(),
        yes,
        steps: Vec::new(),
        eta: progress::Eta::default(),
    }
}

/// Who is working: config, else the login name.
pub fn technician(paths: &Paths) -> Result<String, CliError> {
    let config = Config::load(paths).map_err(|e| CliError::new(Exit::DataErr, e))?;
    Ok(config
        .technician
        .or_else(|| std::env::var("POSAGENT_TECHNICIAN").ok())
        .or_else(|| std::env::var("USER").ok().map(|u| format!("user:{u}")))
        .unwrap_or_else(|| "unknown".to_string()))
}

/// Reads and validates every order in `file`; any problem refuses the whole file.
pub fn valid_orders(paths: &Paths, file: &Path) -> Result<(Vec<WorkOrder>, crate::profile::ProfileSet), CliError> {
    let profiles = load_profiles(paths)?;
    let (orders, report) = crate::order::check_file(file, &profiles)?;
    if !report.valid {
        let list = report.errors.iter().map(|p| format!("\n  {p}")).collect::<String>();
        return Err(CliError::new(
            Exit::DataErr,
            tr!(
                "orders-file-invalid",
                file = file.display().to_string(),
                problems = list
            ),
        )
        .help(tr!("help-order-check")));
    }
    Ok((orders, profiles))
}

/// Reads and validates exactly one order for `op`.
/// The order a job runs: `arg` is an order file, or the id of an order pulled from the
/// provider, whose signature, addressee and validity are checked here (exit 77 otherwise).
fn one_order(
    paths: &Paths,
    arg: &Path,
    op: Operation,
) -> Result<(WorkOrder, crate::profile::ProfileSet, Option<crate::signed::Verified>), CliError> {
    if !arg.exists()
        && let Some(id) = arg.to_str()
    {
        let store = Store::open(&paths.data)?;
        let local =
            crate::seal::LocalKeys::load_or_create(&paths.data).map_err(crate::sync::client::SyncError::from)?;
        if let Some(doc) = crate::sync::orders::document(&store, &local, id)? {
            let profiles = load_profiles(paths)?;
            let refused = |e: crate::signed::OrderAuthError| CliError::new(Exit::NoPerm, e.to_string());
            let v = doc.verify(&super::orders_cmd::order_keys(paths)?).map_err(refused)?;
            v.authorise(&technician(paths)?, chrono::Utc::now()).map_err(refused)?;
            let order = crate::order::validate(&v.raw(), &profiles).map_err(|problems| {
                let list = problems.iter().map(|p| format!("\n  {p}")).collect::<String>();
                CliError::new(Exit::DataErr, tr!("pulled-order-invalid", order = id, problems = list))
            })?;
            if order.operation != op {
                return Err(CliError::new(
                    Exit::DataErr,
                    tr!(
                        "order-wrong-operation",
                        order = id,
                        operation = order.operation.label(),
                        wanted = op.label()
                    ),
                ));
            }
            return Ok((order, profiles, Some(v)));
        }
    }
    let file = arg;
    let (orders, profiles) = valid_orders(paths, file)?;
    let [order]: [WorkOrder; 1] = orders.try_into().map_err(|v: Vec<WorkOrder>| {
        CliError::new(
            Exit::DataErr,
            tr!(
                "orders-file-several",
                file = file.display().to_string(),
                count = v.len()
            ),
        )
    })?;
    if order.operation != op {
        return Err(CliError::new(
            Exit::DataErr,
            format!(
                "{}: {}",
                file.display(),
                tr!(
                    "order-wrong-operation",
                    order = order.id.as_str(),
                    operation = order.operation.label(),
                    wanted = op.label()
                )
            ),
        ));
    }
    Ok((order, profiles, None))
}

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    #[serde(flatten)]
    outcome: &'a JobOutcome,
}

pub(super) fn print_outcome(out: &Output, o: &JobOutcome, verb: &str) {
    let mut human = tr!(
        "outcome-heading",
        job = o.job.id.as_str(),
        verb = verb,
        operation = op_label(&o.plan.operation),
        order = o.plan.order_id.as_str(),
        terminal = o.plan.terminal.as_str(),
        state = o.job.state.label()
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

#[allow(clippy::too_many_arguments)]
fn start(
    paths: &Paths,
    op: Operation,
    port: Option<&Path>,
    to: Option<&Path>,
    order_file: &Path,
    opts: &JobOptions,
    out: &Output,
) -> Result<(), CliError> {
    let (order, profiles, signed) = one_order(paths, order_file, op)?;
    let profile = profiles.get(&order.profile)?;
    // Without a port, the terminal the order names is found by its serial.
    let serial_of = |sn: Option<&String>, flag: &str, field: &str| {
        sn.cloned()
            .ok_or_else(|| CliError::new(Exit::Usage, tr!("job-where", flag = flag, field = field)))
    };
    let port = match port {
        Some(p) => p.to_path_buf(),
        None => {
            let sn = serial_of(order.expect.serial.as_ref(), "--port", "expect.serial")?;
            locate(paths, &profiles, &WhereArgs::by_serial(sn), Some(&order.profile), out)?.0
        }
    };
    let to = match (to, op) {
        (Some(p), _) => Some(p.to_path_buf()),
        (None, Operation::Migrate) => {
            let sn = serial_of(
                order.replacement.as_ref().and_then(|r| r.serial.as_ref()),
                "--to",
                "replacement.serial",
            )?;
            Some(locate(paths, &profiles, &WhereArgs::by_serial(sn), Some(&order.profile), out)?.0)
        }
        (None, _) => None,
    };
    let (port, to) = (port.as_path(), to.as_deref());
    let (secret, pw) = if opts.dry_run {
        let secret = secrets::operator_secret(opts.secret.secret_file.as_deref())?;
        (secret, zeroize::Zeroizing::new(Vec::new()))
    } else {
        secrets::secret_then_password(
            opts.secret.secret_file.as_deref(),
            opts.password_file.as_deref(),
            PasswordUse::New,
        )?
    };
    let tech = technician(paths)?;
    let setup = JobSetup {
        opener: std::sync::Arc::new(crate::job::SerialOpener),
        paths,
        profile,
        order,
        order_file,
        port,
        replacement_port: to,
        secret: &secret,
        backup_password: &pw,
        technician: &tech,
        dry_run: opts.dry_run,
        cooldown_checked_by_provider: opts.cooldown_checked_by_provider,
        verify: opts.verify.into(),
        signed,
    };
    let mut screen = screen(out, opts.yes);
    super::interrupt::install();
    let outcome = job::start(setup, &mut screen)?;
    if opts.dry_run {
        let mut human = tr!("dry-run-done");
        for d in &outcome.plan.changes {
            human.push_str(&format!(
                "\n  {} {} {}  →  {}",
                tr!("dry-run-would-change"),
                pad(&d.label(), 14),
                d.from,
                d.to
            ));
        }
        human.push_str(&format!(
            "\n  {}",
            tr!("plan-steps", steps = step_list(&outcome.plan.steps))
        ));
        out.print(
            &human,
            &Report {
                ok: true,
                outcome: &outcome,
            },
        );
        return Ok(());
    }
    print_outcome(out, &outcome, &tr!("verb-finished"));
    Ok(())
}

pub fn rebind(paths: &Paths, a: &RebindArgs, out: &Output) -> Result<(), CliError> {
    let op = match a.target {
        RebindTarget::Card => Operation::RebindCard,
        RebindTarget::Account => Operation::RebindAccount,
        RebindTarget::Phone => Operation::RebindPhone,
    };
    start(paths, op, a.job.port.as_deref(), None, &a.job.order, &a.job.common, out)
}

pub fn unbind(paths: &Paths, a: &JobArgs, out: &Output) -> Result<(), CliError> {
    start(
        paths,
        Operation::Unbind,
        a.port.as_deref(),
        None,
        &a.order,
        &a.common,
        out,
    )
}

pub fn migrate(paths: &Paths, a: &MigrateArgs, out: &Output) -> Result<(), CliError> {
    start(
        paths,
        Operation::Migrate,
        a.from.as_deref(),
        a.to.as_deref(),
        &a.order,
        &a.common,
        out,
    )
}

fn continue_job(paths: &Paths, id: &str, opts: &ResumeOptions, out: &Output, abort: bool) -> Result<(), CliError> {
    let profiles = load_profiles(paths)?;
    let (secret, pw) = secrets::secret_then_password(
        opts.secret.secret_file.as_deref(),
        opts.password_file.as_deref(),
        PasswordUse::Existing,
    )?;
    let ctx = Continue {
        opener: std::sync::Arc::new(crate::job::SerialOpener),
        order_keys: &super::orders_cmd::order_keys(paths)?,
        verify: opts.verify.into(),
        paths,
        profiles: &profiles,
        secret: &secret,
        backup_password: &pw,
        port: opts.port.as_deref(),
        replacement_port: opts.to.as_deref(),
    };
    let mut screen = screen(out, true);
    super::interrupt::install();
    let outcome = if abort {
        ctx.abort(id, &mut screen)?
    } else {
        ctx.resume(id, &mut screen)?
    };
    print_outcome(
        out,
        &outcome,
        &if abort {
            tr!("verb-aborted")
        } else {
            tr!("verb-resumed")
        },
    );
    Ok(())
}

pub fn jobs(paths: &Paths, action: Option<JobsCommand>, out: &Output) -> Result<(), CliError> {
    let store = Store::open(&paths.data)?;
    match action.unwrap_or(JobsCommand::List) {
        JobsCommand::List => {
            let rows = store.jobs()?;
            let mut table = super::output::Table::new([
                (tr!("col-job"), 36),
                (tr!("col-operation"), 14),
                (tr!("col-terminal"), 16),
                (tr!("col-state"), 10),
                (tr!("col-order"), 16),
                (tr!("col-step"), 0),
            ]);
            for j in &rows {
                table.row([
                    j.id.clone(),
                    op_label(&j.operation),
                    j.terminal_serial.clone(),
                    j.state.label(),
                    j.order_id.clone(),
                    j.step
                        .as_deref()
                        .map_or_else(|| "-".to_string(), crate::job::step_label),
                ]);
            }
            let human = if rows.is_empty() {
                tr!("jobs-none")
            } else {
                table.render()
            };
            out.print(&human, &rows);
        }
        JobsCommand::Show { id } => {
            let j = store.job(&id)?.ok_or_else(|| {
                CliError::new(Exit::DataErr, tr!("job-not-found-prefix", job = id.as_str()))
                    .code("job_not_found")
                    .help(tr!("help-jobs-list"))
            })?;
            let journal = store.journal_of(&j.id)?;
            let submission = store.submission_of_job(&j.id)?;
            let mut human = tr!(
                "job-show",
                job = j.id.as_str(),
                operation = op_label(&j.operation),
                order = j.order_id.as_str(),
                file = j.order_file.as_str(),
                profile = j.profile.as_str(),
                terminal = j.terminal_serial.as_str(),
                replacement = j.replacement_serial.as_deref().unwrap_or("-"),
                state = j.state.label(),
                error = j.error.as_deref().unwrap_or("-"),
                started = super::local_time(&j.created_at),
                technician = j.technician.as_str()
            );
            if let Some(b) = &j.backup_file {
                human.push_str(&format!("\n  {}", tr!("outcome-backup", file = b.as_str())));
            }
            for e in &journal {
                human.push_str(&format!(
                    "\n  {}  {} {} {}",
                    super::local_time(&e.at),
                    pad(&crate::job::step_label(&e.step), 18),
                    pad(&phase_label(&e.phase), 11),
                    crate::job::describe_detail(&e.detail)
                ));
            }
            if let Some(s) = &submission {
                human.push_str(&format!(
                    "\n  {}",
                    tr!(
                        "job-show-submission",
                        submission = s.id.as_str(),
                        state = s.state.label()
                    )
                ));
                if let Some(r) = &s.reason {
                    human.push_str(&format!(
                        "\n  {}",
                        tr!(
                            "job-show-rejected",
                            reason = r.as_str(),
                            code = s.code.as_deref().unwrap_or("-"),
                            backup = j.backup_file.as_deref().unwrap_or("BACKUP"),
                            submission = s.id.as_str()
                        )
                    ));
                }
            }
            out.print(
                &human,
                &serde_json::json!({ "job": j, "journal": journal, "submission": submission }),
            );
        }
        JobsCommand::Receipt { id, out: dest } => {
            let file = receipt::write(&store, &paths.data, &id, dest.as_deref())?;
            out.print(
                &tr!("receipt-written", job = id.as_str(), file = file.display().to_string()),
                &serde_json::json!({ "job": id, "receipt": file }),
            );
        }
        JobsCommand::Resume { id, opts } => continue_job(paths, &id, &opts, out, false)?,
        JobsCommand::Abort { id, opts } => continue_job(paths, &id, &opts, out, true)?,
    }
    Ok(())
}

pub fn audit(paths: &Paths, c: AuditCommand, out: &Output) -> Result<(), CliError> {
    match c {
        AuditCommand::Verify => {
            let report = Store::open(&paths.data)?.verify_audit()?;
            let human = match &report.first_bad {
                None => tr!("audit-intact", records = report.records),
                Some((id, why)) => tr!("audit-broken", record = *id, reason = why.as_str()),
            };
            out.print(&human, &report);
            if report.valid {
                Ok(())
            } else {
                Err(CliError::silent(Exit::DataErr))
            }
        }
    }
}
