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

impl From<ReceiptError> for CliError {
    fn from(e: ReceiptError) -> Self {
        match e {
            ReceiptError::Store(e) => e.into(),
            ReceiptError::NotFound(_) => CliError::new(Exit::DataErr, e.to_string()),
            ReceiptError::Write { .. } => {
                CliError::new(Exit::Failure, e.to_string()).help("name a writable place with --out FILE.html")
            }
        }
    }
}

impl From<JobError> for CliError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Terminal(t) => t.into(),
            JobError::Interrupted { ref source, .. } => {
                let exit = match source.as_ref() {
                    JobError::Terminal(t) => terminal_exit(t).0,
                    _ => Exit::Failure,
                };
                CliError::new(exit, e.to_string()).help(
                    "the journal keeps every step; resuming carries on where it stopped, aborting restores the backup",
                )
            }
            JobError::Refused { .. } | JobError::Order(_) => CliError::new(Exit::DataErr, e.to_string()),
            JobError::Stopped { .. } => CliError::new(Exit::Interrupted, e.to_string()),
            JobError::Unauthorised(_) => CliError::new(Exit::NoPerm, e.to_string()),
            JobError::Backup(b) => b.into(),
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
            eprintln!("  {mark} {k:>width$}/{n} {:<18} {detail}", step.name());
        }
    }

    fn transfer(&mut self, label: &str, done: u64, total: u64) {
        if self.bar.is_none() || self.label != label {
            if let Some(b) = self.bar.take() {
                b.finish_and_clear();
            }
            self.bar = Some(progress::transfer_bar(self.out, label));
            self.label = label.to_string();
        }
        if let Some(b) = &self.bar {
            progress::feed(b)(done, total);
        }
    }

    fn stop_requested(&self) -> bool {
        super::interrupt::requested()
    }

    fn confirm(&mut self, plan: &PlanSummary) -> bool {
        if !self.out.json {
            eprintln!(
                "Job {} — {} of order {} on terminal {}",
                plan.job_id, plan.operation, plan.order_id, plan.terminal
            );
            if let Some(r) = &plan.replacement {
                eprintln!("  replacement unit: {r}");
            }
            for d in &plan.changes {
                eprintln!("  {:<14} {}  →  {}", d.field, d.from, d.to);
            }
            eprintln!("  steps: {}", plan.steps.join(" → "));
        }
        match confirm("All checks passed. Carry out these changes?", self.yes) {
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
        return Err(
            CliError::new(Exit::DataErr, format!("{}: not valid:{list}", file.display()))
                .help("fix the file; `posagent order check` lists every problem"),
        );
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
                CliError::new(Exit::DataErr, format!("pulled order {id} is not valid:{list}"))
            })?;
            if order.operation != op {
                return Err(CliError::new(
                    Exit::DataErr,
                    format!("order {id} is a {} order, not {op}", order.operation),
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
            format!(
                "{} holds {} orders; a job takes one (use `posagent run` for plans)",
                file.display(),
                v.len()
            ),
        )
    })?;
    if order.operation != op {
        return Err(CliError::new(
            Exit::DataErr,
            format!(
                "{}: order {} is a {} order, not {op}",
                file.display(),
                order.id,
                order.operation
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
    let mut human = format!(
        "Job {} {verb}: {} of order {} on {} — {}",
        o.job.id,
        o.plan.operation,
        o.plan.order_id,
        o.plan.terminal,
        o.job.state.as_str()
    );
    if let Some(b) = &o.backup_file {
        human.push_str(&format!("\n  backup: {b}"));
    }
    if let Some(t) = &o.test_transaction {
        human.push_str(&format!(
            "\n  test transaction: {} fen, auth {}, RRN {}",
            t.amount_fen, t.auth_code, t.rrn
        ));
    }
    if let Some(n) = o.transactions_moved {
        human.push_str(&format!("\n  transactions moved and verified: {n}"));
    }
    if let Some(s) = &o.submission_id {
        human.push_str(&format!(
            "\n  queued for the provider: submission {s} (`posagent queue show` lists it)"
        ));
    }
    if let Some(b) = &o.binding_after {
        human.push_str(&format!("\n{}", describe_binding(b)));
    }
    human.push_str(&format!("\n{}", describe_link(&o.link)));
    match (&o.receipt.file, &o.receipt.error) {
        (Some(f), _) => human.push_str(&format!("\n  receipt to print and sign: {f}")),
        (None, Some(e)) => human.push_str(&format!(
            "\n  receipt not written: {e}\n  `posagent jobs receipt {} --out FILE.html` writes it elsewhere",
            o.job.id
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
        sn.cloned().ok_or_else(|| {
            CliError::new(
                Exit::Usage,
                format!("give {flag} P, or {field} in the order so the terminal can be found"),
            )
        })
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
        let mut human = "Dry run: every check passed; nothing was changed and no job was recorded.".to_string();
        for d in &outcome.plan.changes {
            human.push_str(&format!("\n  would change {:<14} {}  →  {}", d.field, d.from, d.to));
        }
        human.push_str(&format!("\n  steps: {}", outcome.plan.steps.join(" → ")));
        out.print(
            &human,
            &Report {
                ok: true,
                outcome: &outcome,
            },
        );
        return Ok(());
    }
    print_outcome(out, &outcome, "finished");
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
        if abort {
            "aborted and rolled back"
        } else {
            "resumed and finished"
        },
    );
    Ok(())
}

pub fn jobs(paths: &Paths, action: Option<JobsCommand>, out: &Output) -> Result<(), CliError> {
    let store = Store::open(&paths.data)?;
    match action.unwrap_or(JobsCommand::List) {
        JobsCommand::List => {
            let rows = store.jobs()?;
            let mut human = format!(
                "{:<36}  {:<14} {:<16} {:<10} {:<16} STEP",
                "JOB", "OPERATION", "TERMINAL", "STATE", "ORDER"
            );
            for j in &rows {
                human.push_str(&format!(
                    "\n{:<36}  {:<14} {:<16} {:<10} {:<16} {}",
                    j.id,
                    j.operation,
                    j.terminal_serial,
                    j.state.as_str(),
                    j.order_id,
                    j.step.as_deref().unwrap_or("-")
                ));
            }
            if rows.is_empty() {
                human = "no jobs yet".into();
            }
            out.print(&human, &rows);
        }
        JobsCommand::Show { id } => {
            let j = store.job(&id)?.ok_or_else(|| {
                CliError::new(
                    Exit::DataErr,
                    format!("job {id} not found (or the prefix is ambiguous)"),
                )
            })?;
            let journal = store.journal_of(&j.id)?;
            let submission = store.submission_of_job(&j.id)?;
            let mut human = format!(
                "Job {}\n  {} of order {} ({}), profile {}\n  terminal {}{}\n  state {}{}\n  started {} by {}",
                j.id,
                j.operation,
                j.order_id,
                j.order_file,
                j.profile,
                j.terminal_serial,
                j.replacement_serial
                    .as_deref()
                    .map(|r| format!(" → replacement {r}"))
                    .unwrap_or_default(),
                j.state.as_str(),
                j.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default(),
                super::local_time(&j.created_at),
                j.technician
            );
            if let Some(b) = &j.backup_file {
                human.push_str(&format!("\n  backup {b}"));
            }
            for e in &journal {
                human.push_str(&format!(
                    "\n  {}  {:<18} {:<11} {}",
                    super::local_time(&e.at),
                    e.step,
                    e.phase,
                    crate::job::describe_detail(&e.detail)
                ));
            }
            if let Some(s) = &submission {
                human.push_str(&format!("\n  submission {}: {}", s.id, s.state));
                if let Some(r) = &s.reason {
                    let code = s.code.as_deref().map(|c| format!(" [{c}]")).unwrap_or_default();
                    human.push_str(&format!(" — {r}{code}\n  way back: `posagent restore --port P {}` from the job's backup, or a corrected order; `posagent queue retry {}` once the cause is gone", j.backup_file.as_deref().unwrap_or("BACKUP"), s.id));
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
                &format!(
                    "Receipt of job {id} written to {} (open it in a browser to print)",
                    file.display()
                ),
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
                None => format!("audit trail intact: {} record(s), every link checks", report.records),
                Some((id, why)) => format!("audit trail BROKEN at record {id}: {why}"),
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
