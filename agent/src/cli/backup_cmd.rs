//! `posagent backup [verify FILE | list]` and `posagent restore`.

use std::path::Path;

use serde::Serialize;

use super::args::{BackupArgs, BackupCommand, RestoreArgs};
use super::device_cmd::locate;
use super::output::Table;
use super::output::{describe_binding, describe_link};
use super::secrets::{self, PasswordUse};
use super::{CliError, Exit, Output, progress};
use crate::backup::{self, BackupError};
use crate::config::Paths;
use crate::link::LinkStats;
use crate::store::Store;
use crate::terminal::Terminal;
use crate::tr;

pub fn run(paths: &Paths, a: BackupArgs, out: &Output) -> Result<(), CliError> {
    match a.action {
        Some(BackupCommand::Verify {
            ref file,
            ref password_file,
        }) => verify(file, password_file.as_deref(), out),
        Some(BackupCommand::List) => list(paths, out),
        None => create(paths, &a, out),
    }
}

#[derive(Serialize)]
struct Created<'a> {
    file: &'a Path,
    size: u64,
    sha256: &'a str,
    verified: bool,
    terminal: &'a crate::terminal::model::Identity,
    transactions: usize,
    entries: &'a [backup::EntryInfo],
    link: LinkStats,
}

fn create(paths: &Paths, a: &BackupArgs, out: &Output) -> Result<(), CliError> {
    let Some(dest) = a.out.as_deref() else {
        return Err(CliError::new(Exit::Usage, tr!("backup-needs-out")));
    };
    if dest.exists() && !a.force {
        return Err(BackupError::Exists(dest.to_path_buf()).into());
    }
    let agent = super::agent(paths)?;
    let (port, profile) = locate(&agent, &a.at, a.profile.as_deref(), out)?;
    let (secret, pw) = secrets::secret_then_password(
        a.secret.secret_file.as_deref(),
        a.password_file.as_deref(),
        PasswordUse::New,
    )?;
    let evidence = a
        .evidence
        .iter()
        .map(|p| crate::input::read_evidence(p))
        .collect::<Result<Vec<_>, _>>()?;
    // Opened before the terminal is read: a database that cannot record the backup is
    // found before anything is written.
    let mut store = Store::open(&paths.data)?;
    let mut t = Terminal::open_authenticated(&port, &profile.serial, &secret)?;
    let mut bars = progress::Transfers::new(&progress::transfer_bars(out), &tr!("transfer-backup"));
    let how = backup::Taking {
        profile: profile.name.clone(),
        technician: agent.config().technician.clone(),
        job_id: None,
        password: &pw,
        force: a.force,
        store: &mut store,
        feed: None,
    };
    let backup::Taken {
        identity,
        contents,
        written,
        ..
    } = backup::take(&mut t, evidence, &mut bars.feed(), |_| dest.to_path_buf(), how)?;
    bars.finish();
    let link = t.stats();
    let human = format!(
        "{}\n{}\n{}",
        tr!(
            "backup-written",
            serial = identity.serial.as_str(),
            file = dest.display().to_string(),
            size = written.size,
            sha256 = written.sha256.as_str(),
            transactions = contents.log.records,
            params = contents.params.len()
        ),
        describe_binding(&contents.binding),
        describe_link(&link)
    );
    let report = Created {
        file: dest,
        size: written.size,
        sha256: &written.sha256,
        verified: true,
        terminal: &identity,
        transactions: contents.log.records as usize,
        entries: &written.manifest.entries,
        link,
    };
    out.print(&human, &report);
    Ok(())
}

#[derive(Serialize)]
struct Verified<'a> {
    valid: bool,
    file: &'a Path,
    manifest: &'a backup::Manifest,
}

fn verify(file: &Path, password_file: Option<&Path>, out: &Output) -> Result<(), CliError> {
    let pw = secrets::backup_password(password_file, PasswordUse::Existing)?;
    let opened = backup::read_archive(file, &pw)?;
    let manifest = &opened.manifest;
    let human = tr!(
        "backup-valid",
        file = file.display().to_string(),
        serial = manifest.terminal.serial.as_str(),
        vendor = manifest.terminal.vendor.as_str(),
        model = manifest.terminal.model.as_str(),
        taken = super::local_time(&manifest.created_at),
        technician = manifest.technician.as_deref().unwrap_or("-"),
        entries = manifest.entries.len() + 1,
        transactions = opened.transactions
    );
    out.print(
        &human,
        &Verified {
            valid: true,
            file,
            manifest,
        },
    );
    Ok(())
}

fn list(paths: &Paths, out: &Output) -> Result<(), CliError> {
    let rows = Store::open(&paths.data)?.backups()?;
    let mut table = Table::new([
        (tr!("col-id"), 5),
        (tr!("col-taken"), 26),
        (tr!("col-terminal"), 16),
        (tr!("col-transactions"), 7),
        (tr!("col-file"), 0),
    ]);
    for r in &rows {
        table.row([
            r.id.to_string(),
            super::local_time(&r.created_at),
            r.terminal_serial.clone(),
            r.transactions.to_string(),
            r.file.clone(),
        ]);
    }
    let human = if rows.is_empty() {
        tr!("backups-none")
    } else {
        table.render()
    };
    out.print(&human, &rows);
    Ok(())
}

pub fn restore(paths: &Paths, a: &RestoreArgs, out: &Output) -> Result<(), CliError> {
    let (secret, pw) = secrets::secret_then_password(
        a.secret.secret_file.as_deref(),
        a.password_file.as_deref(),
        PasswordUse::Existing,
    )?;
    let agent = super::agent(paths)?;
    let contents = agent.read_archive(&a.file, &pw)?;
    let manifest = &contents.manifest;
    // Without --port or --serial, the terminal the backup came from (unless it goes to a
    // replacement).
    let mut at = a.at.clone();
    if at.port.is_none() && at.serial.is_none() && !a.to_replacement {
        at.serial = Some(manifest.terminal.serial.clone());
    }
    let (port, profile) = locate(
        &agent,
        &at,
        a.profile.as_deref().or(Some(manifest.profile.as_str())),
        out,
    )?;
    // The archive's unit, or a replacement: refused before any job is recorded otherwise.
    let mut t = Terminal::open_authenticated(&port, &profile.serial, &secret)?;
    crate::job::restore::preview(&a.file, &contents, a.to_replacement, &port, &mut t)?;
    drop(t);
    let mut screen = super::screen::screen(out, a.yes);
    super::interrupt::install();
    let archive = crate::job::Archive {
        file: &a.file,
        contents,
        to_replacement: a.to_replacement,
    };
    let creds = crate::job::Credentials {
        secret: &secret,
        password: &pw,
    };
    let result = agent.restore(archive, &port, profile, a.order.as_deref(), creds, &mut screen);
    let outcome = screen.ended(result)?;
    super::screen::print_outcome(out, &outcome, &tr!("verb-restored"));
    Ok(())
}
