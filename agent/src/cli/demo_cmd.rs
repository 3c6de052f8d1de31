//! `posagent demo`: a full migration on a fresh machine with nothing else running
//! (`posagent_sim::demo` runs it); this draws it and says what happened and where the
//! backup is.

use super::screen::{print_outcome, screen};
use super::{CliError, Exit, Output};
use crate::sim::demo::{self, DemoEvent, DemoOptions};
use crate::tr;

pub fn run(a: &super::args::DemoArgs, out: &Output) -> Result<(), CliError> {
    // Ctrl-C or a termination signal stops the simulators at once (they are registered as
    // they start) and whatever the demo was doing then fails: report it as the stop it is.
    super::interrupt::install();
    demo(a, out).map_err(|e| {
        if super::interrupt::requested() {
            CliError::new(Exit::Interrupted, tr!("demo-stopped"))
        } else {
            e
        }
    })
}

fn demo(a: &super::args::DemoArgs, out: &Output) -> Result<(), CliError> {
    let exe = std::env::current_exe().map_err(|e| CliError::new(Exit::Failure, e.to_string()))?;
    let narrate = |text: String| {
        if out.narrates() {
            eprintln!("{text}");
        }
    };
    let mut say = |event: DemoEvent<'_>| match event {
        DemoEvent::Home(dir) => narrate(tr!("demo-data-dir", dir = dir.display().to_string())),
        DemoEvent::Spawned(pid) => super::interrupt::register_child(pid),
        DemoEvent::Started {
            old_port,
            new_port,
            url,
        } => narrate(tr!(
            "demo-started",
            old = demo::OLD_SERIAL,
            old_port = old_port.display().to_string(),
            new = demo::NEW_SERIAL,
            new_port = new_port.display().to_string(),
            url = url
        )),
        DemoEvent::Pulled(p) => narrate(format!(
            "{}\n  {}",
            tr!("demo-pulling"),
            tr!("orders-pulled", count = p.kept.len(), technician = demo::TECHNICIAN)
        )),
        DemoEvent::Migrating { old, new, order } => narrate(tr!("demo-migrating", old = old, new = new, order = order)),
        DemoEvent::Delivering => narrate(tr!("demo-delivering")),
        DemoEvent::Delivered(t) => narrate(format!(
            "  {}",
            tr!(
                "sync-delivered",
                accepted = t.accepted,
                rejected = t.rejected,
                retried = t.retried,
                dead = t.dead
            )
        )),
    };
    let mut view = screen(out, true);
    let opts = DemoOptions {
        transactions: a.transactions,
        baud: a.baud,
    };
    let run = demo::run(&exe, opts, &mut say, &mut view)?;
    if !out.json {
        // Under --json the summary below is the one document, the job's state in it.
        print_outcome(out, &run.outcome, &tr!("verb-finished"));
    }
    let backup = run.outcome.backup_file.clone().unwrap_or_default();
    let human = tr!(
        "demo-finished",
        backup = backup.as_str(),
        password_file = run.password_file.display().to_string(),
        provider_receipt = run
            .submission
            .as_ref()
            .and_then(|s| s.receipt.as_deref())
            .unwrap_or("-"),
        receipt = run.receipt.display().to_string(),
        home = run.home.display().to_string(),
        job = run.outcome.job.id.as_str(),
    );
    out.print(
        &human,
        &serde_json::json!({
            "ok": true,
            "data_dir": run.home,
            "job": run.outcome.job.id,
            "job_state": run.outcome.job.state.as_str(),
            "backup": backup,
            "backup_password_file": run.password_file,
            "submission": run.submission,
            "receipt": run.receipt,
        }),
    );
    Ok(())
}
