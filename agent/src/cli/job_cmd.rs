//! `posagent rebind | unbind | migrate`: one order, one job.

use std::path::Path;

use super::args::{JobArgs, JobOptions, MigrateArgs, RebindArgs, RebindTarget, WhereArgs};
use super::device_cmd::locate;
use super::screen::{Report, print_outcome, screen};
use super::secrets::PasswordUse;
use super::{CliError, Exit, Output, secrets};
use crate::config::{Config, Paths};
use crate::job::step_list;
use crate::job::{self, JobSetup};
use crate::order::Operation;
use crate::tr;

use super::output::change_line;

/// Who is working (`Config::technician`).
pub fn technician(paths: &Paths) -> Result<String, CliError> {
    Ok(Config::load(paths)?.technician())
}

/// What may prove a phone number: the provider's settings from config.toml, when a
/// provider is configured, and whether the technician saw the documents' originals.
pub fn proof(paths: &Paths, documents_checked: bool) -> Result<job::Proof, CliError> {
    Ok(job::Proof::configured(paths, documents_checked)?)
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
    let (order, profiles, signed) = crate::job::order_for::one_order(paths, order_file, op)?;
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
        copying: opts.copy,
        signed,
        proof: proof(paths, opts.documents_checked)?,
    };
    let mut screen = screen(out, opts.yes);
    screen.codes = super::codes::CodeSource::from_file(opts.sms_code_file.clone());
    super::interrupt::install();
    let outcome = job::start(setup, &mut screen)?;
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
