//! `posagent jobs …` (list, show, receipt, resume, abort) and `posagent audit verify`.

use super::args::{AuditCommand, JobsCommand, ResumeOptions};
use super::output::{Table, pad};
use super::screen::{print_outcome, screen};
use super::secrets::PasswordUse;
use super::{CliError, Exit, Output, secrets};
use crate::config::Paths;
use crate::job::operation_label as op_label;
use crate::job::{At, Credentials, Options};
use crate::receipt::{self};
use crate::store::Store;
use crate::tr;

/// Carries job `id` on (or rolls it back), whatever its order's origin. A job stopped
/// before its confirmation asks again (or takes `--yes`).
fn continue_job(paths: &Paths, id: &str, opts: &ResumeOptions, out: &Output, abort: bool) -> Result<(), CliError> {
    let agent = super::agent(paths)?;
    let (secret, pw) = secrets::secret_then_password(
        opts.secret.secret_file.as_deref(),
        opts.password_file.as_deref(),
        PasswordUse::Existing,
    )?;
    let at = At {
        port: opts.port.clone(),
        replacement: opts.to.clone(),
    };
    let creds = Credentials {
        secret: &secret,
        password: &pw,
    };
    let mut screen = screen(out, opts.yes);
    screen.codes = super::codes::CodeSource::from_file(opts.sms_code_file.clone());
    super::interrupt::install();
    let result = if abort {
        agent.abort(id, &at, creds, &mut screen)
    } else {
        let options = Options {
            verify: opts.verify.into(),
            ..Options::default()
        };
        agent.resume(id, &at, creds, &options, &mut screen)
    };
    let outcome = screen.ended(result)?;
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
            // A job recorded running that no process carries on was cut off: interrupted.
            let rows: Vec<_> = store
                .jobs()?
                .into_iter()
                .map(|mut j| {
                    j.state = crate::store::live::state_now(&paths.data, &j);
                    j
                })
                .collect();
            let mut table = Table::new([
                (tr!("col-job"), 8),
                (tr!("col-operation"), 0),
                (tr!("col-terminal"), 0),
                (tr!("col-state"), 0),
                (tr!("col-order"), 0),
                (tr!("col-step"), 0),
            ])
            .whole(0)
            .whole(2);
            // Ids as short as tells them apart: `jobs show` takes a prefix.
            let ids = super::output::short_ids(&rows.iter().map(|j| j.id.as_str()).collect::<Vec<_>>());
            for (j, id) in rows.iter().zip(ids) {
                table.row([
                    id,
                    op_label(j.operation.as_str()),
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
            let mut j = store.job(&id)?.ok_or_else(|| {
                CliError::new(Exit::DataErr, tr!("job-not-found-prefix", job = id.as_str()))
                    .code("job_not_found")
                    .help(tr!("help-jobs-list"))
            })?;
            j.state = crate::store::live::state_now(&paths.data, &j);
            let journal = store.journal_of(&j.id)?;
            let submission = store.submission_of_job(&j.id)?;
            let mut human = tr!(
                "job-show",
                job = j.id.as_str(),
                operation = op_label(j.operation.as_str()),
                order = j.order_id.as_str(),
                file = crate::job::order_source_shown(&j.order_file),
                profile = crate::profile::shown_name_of(&j.profile),
                terminal = j.terminal_serial.as_str(),
                replacement = j.replacement_serial.as_deref().unwrap_or("-"),
                state = j.state.label(),
                error = j.error.as_deref().unwrap_or("-"),
                started = super::local_time(&j.created_at),
                technician = crate::config::technician_shown(&j.technician)
            );
            if let Some(b) = &j.backup_file {
                human.push_str(&format!("\n  {}", tr!("outcome-backup", file = b.as_str())));
            }
            for e in &journal {
                human.push_str(&format!(
                    "\n  {}  {} {} {}",
                    super::local_time(&e.at),
                    pad(&crate::job::step_label(e.entry.subject()), 18),
                    pad(&e.entry.phase().label(), 11),
                    e.entry.shown()
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
