//! `posagent rebind | unbind | migrate`: one order, one job.

use std::path::Path;

use super::args::{JobArgs, JobOptions, MigrateArgs, MigrationOptions, RebindArgs, RebindTarget, WhereArgs};
use super::device_cmd::locate;
use super::screen::{Report, print_outcome, screen};
use super::secrets::PasswordUse;
use super::{CliError, Exit, Output, secrets};
use crate::config::{Config, Paths};
use crate::job::{At, Credentials, Options, OrderRef, step_list};
use crate::order::Operation;
use crate::tr;

use super::output::change_line;

/// Who is working (`Config::technician`).
pub fn technician(paths: &Paths) -> Result<String, CliError> {
    Ok(Config::load(paths)?.technician())
}

/// What the technician chose for a job on the command line.
pub fn options(opts: &JobOptions, migration: &MigrationOptions) -> Options {
    Options {
        dry_run: opts.dry_run,
        cooldown_checked_by_provider: opts.cooldown_checked_by_provider,
        verify: migration.verify.into(),
        copying: migration.copy,
        documents_checked: opts.documents_checked,
    }
}

fn start(
    paths: &Paths,
    op: Operation,
    port: Option<&Path>,
    to: Option<&Path>,
    order_arg: &Path,
    (opts, migration): (&JobOptions, &MigrationOptions),
    out: &Output,
) -> Result<(), CliError> {
    let agent = super::agent(paths)?;
    let prepared = agent.order(&OrderRef::Arg(order_arg), Some(op))?;
    let order = &prepared.order;
    // Without a port, the terminal the order names is found by its serial.
    let serial_of = |sn: Option<&String>, flag: &str, field: &str| {
        sn.cloned()
            .ok_or_else(|| CliError::new(Exit::Usage, tr!("job-where", flag = flag, field = field)))
    };
    let port = match port {
        Some(p) => p.to_path_buf(),
        None => {
            let sn = serial_of(order.expect.serial.as_ref(), "--port", "expect.serial")?;
            locate(&agent, &WhereArgs::by_serial(sn), Some(&order.profile), out)?.0
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
            Some(locate(&agent, &WhereArgs::by_serial(sn), Some(&order.profile), out)?.0)
        }
        (None, _) => None,
    };
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
    let mut screen = screen(out, opts.yes);
    screen.codes = super::codes::CodeSource::from_file(opts.sms_code_file.clone());
    super::interrupt::install();
    let at = At {
        port: Some(port),
        replacement: to,
    };
    let creds = Credentials {
        secret: &secret,
        password: &pw,
    };
    let result = agent.start(&prepared, &at, creds, &options(opts, migration), &mut screen);
    let outcome = screen.ended(result)?;
    if opts.dry_run {
        let mut human = tr!("dry-run-done");
        for d in &outcome.plan.changes {
            human.push_str(&format!("\n  {} {}", tr!("dry-run-would-change"), change_line(d)));
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
    let how = (&a.job.common, &MigrationOptions::default());
    start(paths, op, a.job.port.as_deref(), None, &a.job.order, how, out)
}

pub fn unbind(paths: &Paths, a: &JobArgs, out: &Output) -> Result<(), CliError> {
    start(
        paths,
        Operation::Unbind,
        a.port.as_deref(),
        None,
        &a.order,
        (&a.common, &MigrationOptions::default()),
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
        (&a.common, &a.migration),
        out,
    )
}
