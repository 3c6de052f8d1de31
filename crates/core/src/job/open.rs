//! Starting, resuming and aborting jobs: the terminals opened and identified, the job
//! recorded (or read back with its journal) and held by this process, the gate passed,
//! then the engine. The application layer (`crate::agent`) is the one caller: every door
//! reaches a job through here.

use std::path::{Path, PathBuf};

use super::change::{Change, Grants, Made};
use super::context::Context;
use super::engine::{self, Common, Mode};
use super::orders::Prepared;
use super::restore::{Restore, archive_digest};
use super::{JobError, JobOutcome, Observer, Options, OrderProblem, PULLED, Step, gate};
use crate::backup::Opened;
use crate::config::Paths;
use crate::journal::{Entry, OrderRecord};
use crate::profile::Profile;
use crate::store::Store;
use crate::store::jobs::{JobKind, JobRecord, JobState, NewJob};
use crate::store::live::{self, JobLock};
use crate::terminal::{Secret, Terminal, TerminalError, discover};

/// The secrets a job is given for its run, never kept.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// The operator secret the terminals check.
    pub secret: &'a Secret,
    /// Protects the backups the job takes (and opens those it reads).
    pub password: &'a [u8],
}

/// Where a job's terminals are: `None` for where they were (on a resume), else wherever
/// their serials answer.
#[derive(Debug, Clone, Default)]
pub struct At {
    pub port: Option<PathBuf>,
    pub replacement: Option<PathBuf>,
}

fn open_terminal(cx: &Context<'_>, port: &Path, profile: &Profile) -> Result<Terminal, JobError> {
    Ok(Terminal::open_with(cx.opener.clone(), port, &profile.serial)?)
}

/// Where the unit `serial` answers: `given`, else `last` if it still answers there, else
/// wherever it does.
fn find(
    cx: &Context<'_>,
    serial: &str,
    given: Option<&Path>,
    last: Option<&Path>,
    profile: &Profile,
) -> Result<PathBuf, JobError> {
    match given {
        Some(p) => Ok(p.to_path_buf()),
        None => Ok(discover::locate(&cx.opener, serial, last, &profile.serial).map_err(TerminalError::from)?),
    }
}

/// The unfinished job on `serial`, if any, refuses a new one.
fn not_busy(store: &Store, serial: &str) -> Result<(), JobError> {
    match store.open_job_for(serial)? {
        Some(open) => Err(JobError::Busy {
            serial: serial.to_string(),
            job: open.id,
        }),
        None => Ok(()),
    }
}

/// Takes `job`'s lock for this process, or says who has it.
fn hold(paths: &Paths, job: &str) -> Result<JobLock, JobError> {
    live::take(&paths.data, job)
        .map_err(|e| OrderProblem::CannotCreate {
            dir: paths.data.join(live::LOCK_DIR),
            reason: e.to_string(),
        })?
        .ok_or_else(|| JobError::LiveElsewhere(job.to_string()))
}

fn common<'a>(
    cx: &Context<'a>,
    store: Store,
    job: JobRecord,
    creds: Credentials<'a>,
    observer: &'a mut dyn Observer,
    dry_run: bool,
    live: JobLock,
) -> Common<'a> {
    Common {
        store,
        keys: cx.keys.clone(),
        paths: cx.paths,
        job,
        observer,
        done: Default::default(),
        secret: creds.secret,
        backup_password: creds.password,
        dry_run,
        confirmed: false,
        touched: false,
        _live: live,
    }
}

/// Starts a job on `order`: opens its terminal at `at` (found by the order's serial when
/// not given), refuses if it or the replacement has an unfinished job, passes the gate,
/// records the job and runs its plan. A dry run runs the gate and leaves no job behind.
pub fn start<'a>(
    cx: &Context<'a>,
    order: &Prepared,
    at: &At,
    creds: Credentials<'a>,
    opts: &Options,
    observer: &'a mut dyn Observer,
) -> Result<JobOutcome, JobError> {
    let mut store = Store::open(&cx.paths.data)?;
    let profile = cx.profiles.get(&order.order.profile)?;
    let wanted = |sn: Option<&String>| -> Result<String, JobError> {
        sn.cloned().ok_or_else(|| {
            TerminalError::NotFound(crate::tr!("job-where", flag = "--port", field = "expect.serial")).into()
        })
    };
    let port = match &at.port {
        Some(p) => p.clone(),
        None => find(cx, &wanted(order.order.expect.serial.as_ref())?, None, None, profile)?,
    };
    let replacement_serial = order.order.replacement.as_ref().and_then(|r| r.serial.clone());
    let replacement_port = match (&at.replacement, order.order.operation) {
        (Some(p), _) => Some(p.clone()),
        (None, crate::order::Operation::Migrate) => Some(find(
            cx,
            &replacement_serial.clone().ok_or_else(|| {
                JobError::from(TerminalError::NotFound(crate::tr!(
                    "job-where",
                    flag = "--to",
                    field = "replacement.serial"
                )))
            })?,
            None,
            None,
            profile,
        )?),
        (None, _) => None,
    };
    let mut main = open_terminal(cx, &port, profile)?;
    let serial = main.identify()?.serial;
    not_busy(&store, &serial)?;
    if let Some(r) = &replacement_serial {
        not_busy(&store, r)?;
    }
    let grant = gate::authorise(cx, order, profile, &store, &mut main, &port, &serial, None)?;
    let (order_file, order_sha256) = order.recorded()?;
    let job = JobRecord::new(
        NewJob {
            order_id: order.order.id.clone(),
            operation: JobKind::Procedure(order.order.operation),
            profile: profile.name.clone(),
            order_file,
            order_sha256,
            terminal_serial: serial,
            replacement_serial,
            port: port.display().to_string(),
            replacement_port: replacement_port.as_ref().map(|p| p.display().to_string()),
            technician: cx.technician.to_string(),
        },
        if opts.dry_run {
            JobState::Planned
        } else {
            JobState::Running
        },
    );
    let live = hold(cx.paths, &job.id)?;
    store.create_job(&job)?;
    let record = match &order.signed {
        Some(s) => OrderRecord {
            signed: true,
            key_id: Some(s.key_id.clone()),
            issued_at: Some(s.issued_at.to_rfc3339()),
            valid_until: Some(s.valid_until.to_rfc3339()),
            laptop_clock: Some(crate::store::now()),
            file: None,
            documents_checked: opts.documents_checked,
            copying: Some(opts.copying),
        },
        None => OrderRecord {
            signed: false,
            key_id: None,
            issued_at: None,
            valid_until: None,
            laptop_clock: None,
            file: Some(job.order_file.clone()),
            documents_checked: opts.documents_checked,
            copying: Some(opts.copying),
        },
    };
    store.journal(&job, &Entry::Order(record))?;
    let c = common(cx, store, job, creds, observer, opts.dry_run, live);
    let mut change = change(
        cx,
        c,
        profile,
        order.clone(),
        (main, grant),
        replacement_port,
        opts.clone(),
    );
    let mode = if opts.dry_run { Mode::DryRun } else { Mode::Run };
    let result = engine::execute(&mut change, mode);
    if opts.dry_run {
        // A dry run leaves no job behind, only its audit records (it did authenticate).
        change.c.store.forget_job(&change.c.job)?;
    }
    result
}

/// A backup archive to restore, read and checked.
pub struct Archive<'a> {
    pub file: &'a Path,
    pub contents: Opened,
    /// The archive is of another unit, going to a replacement taking over its binding.
    pub to_replacement: bool,
}

/// Starts a restore of `archive` onto the terminal at `port`, on the provider's pulled
/// restore order `order` when there is one (the gate says when there must be).
#[allow(clippy::too_many_arguments)]
pub fn start_restore<'a>(
    cx: &Context<'a>,
    archive: Archive<'_>,
    port: &Path,
    profile: &'a Profile,
    order: Option<&str>,
    creds: Credentials<'a>,
    observer: &'a mut dyn Observer,
) -> Result<JobOutcome, JobError> {
    let mut store = Store::open(&cx.paths.data)?;
    let mut main = open_terminal(cx, port, profile)?;
    let serial = main.identify()?.serial;
    not_busy(&store, &serial)?;
    let order = match order {
        Some(id) => Some(
            super::orders::restore_order(cx, &store, id, Some(chrono::Utc::now())).map_err(|e| match e {
                super::OrderForError::Unauthorised(a) => JobError::from(super::Unauthorised::from(a)),
                other => JobError::Order(OrderProblem::Unreadable {
                    file: PathBuf::from(format!("{PULLED}{id}")),
                    reason: other.to_string(),
                }),
            })?,
        ),
        None => None,
    };
    main.authenticate(creds.secret)?;
    let writes_binding = main.read_binding()? != archive.contents.binding;
    let grant = gate::authorise_restore(
        cx,
        order.as_ref(),
        profile,
        &store,
        &mut main,
        port,
        &serial,
        writes_binding,
        None,
    )?;
    let file = std::fs::canonicalize(archive.file).unwrap_or_else(|_| archive.file.to_path_buf());
    let job = JobRecord::new(
        NewJob {
            order_id: order.as_ref().map_or_else(
                || format!("restore-of-{}", archive.contents.manifest.terminal.serial),
                |o| o.id.clone(),
            ),
            operation: JobKind::Restore,
            profile: profile.name.clone(),
            order_file: file.display().to_string(),
            order_sha256: archive_digest(&file)?,
            terminal_serial: serial,
            replacement_serial: None,
            port: port.display().to_string(),
            replacement_port: None,
            technician: cx.technician.to_string(),
        },
        JobState::Running,
    );
    let live = hold(cx.paths, &job.id)?;
    store.create_job(&job)?;
    let mut restore = Restore {
        c: common(cx, store, job, creds, observer, false, live),
        profile,
        contents: archive.contents,
        main,
        to_replacement: archive.to_replacement,
        order,
        grant,
        before: None,
        after: None,
    };
    engine::execute(&mut restore, Mode::Run)
}

/// A recorded job to carry on or roll back, held by this process, at its terminal.
struct Reopened<'a> {
    store: Store,
    job: JobRecord,
    profile: &'a Profile,
    port: PathBuf,
    main: Terminal,
    live: JobLock,
}

/// Reads job `id` back, takes it for this process and reaches its terminal: `at.port`, else
/// where it was, else wherever its serial answers now (a USB terminal replugged into
/// another socket comes back under another name); another unit is never carried on with.
fn reopen<'a>(cx: &Context<'a>, id: &str, at: &At) -> Result<Reopened<'a>, JobError> {
    let store = Store::open(&cx.paths.data)?;
    let job = store.job(id)?.ok_or_else(|| JobError::NotFound(id.to_string()))?;
    if !matches!(job.state, JobState::Running | JobState::Interrupted) {
        return Err(JobError::NotRunning {
            job: job.id.clone(),
            state: job.state,
        });
    }
    let live = hold(cx.paths, &job.id)?;
    let profile = cx.profiles.get(&job.profile)?;
    let port = find(
        cx,
        &job.terminal_serial,
        at.port.as_deref(),
        Some(Path::new(&job.port)),
        profile,
    )?;
    let mut main = open_terminal(cx, &port, profile)?;
    let found = main.identify()?.serial;
    if found != job.terminal_serial {
        return Err(TerminalError::AnotherUnit {
            path: port,
            expected: job.terminal_serial.clone(),
            found,
        }
        .into());
    }
    Ok(Reopened {
        store,
        job,
        profile,
        port,
        main,
        live,
    })
}

/// What a journal's `order` line says holds for the whole job.
fn order_line(entries: &[Entry]) -> Option<&OrderRecord> {
    entries.iter().find_map(|e| match e {
        Entry::Order(o) => Some(o),
        _ => None,
    })
}

/// The job reopened as the procedure it runs, with its journal read back.
enum Carried<'a> {
    Change(Box<Change<'a>>),
    Restore(Box<Restore<'a>>),
}

/// Whether a job is reopened to carry it on or to roll it back (which must always be
/// possible, so it does not pass the gate again).
#[derive(PartialEq, Eq)]
enum Purpose {
    Resume,
    Abort,
}

fn carry<'a>(
    cx: &Context<'a>,
    id: &str,
    at: &At,
    creds: Credentials<'a>,
    opts: &Options,
    purpose: Purpose,
    observer: &'a mut dyn Observer,
) -> Result<Carried<'a>, JobError> {
    let Reopened {
        mut store,
        job,
        profile,
        port,
        main,
        live,
    } = reopen(cx, id, at)?;
    if job.operation == JobKind::Restore {
        let file = PathBuf::from(&job.order_file);
        if archive_digest(&file)? != job.order_sha256 {
            return Err(OrderProblem::ArchiveChanged(job.order_file.clone()).into());
        }
        let contents = crate::backup::read_archive(&file, creds.password)?;
        let to_replacement = contents.manifest.terminal.serial != job.terminal_serial;
        // A restore on the provider's order carries its authorisation on.
        let order = match store.pulled_document(&job.order_id)? {
            Some(_) => Some(
                super::orders::restore_order(cx, &store, &job.order_id, None).map_err(|e| {
                    OrderProblem::Unreadable {
                        file: PathBuf::from(format!("{PULLED}{}", job.order_id)),
                        reason: e.to_string(),
                    }
                })?,
            ),
            None => None,
        };
        let mut main = main;
        let grant = match &order {
            Some(v) => gate::grant(
                Some(v),
                &cx.order_keys,
                &mut main,
                &job.terminal_serial,
                crate::authority::Operation::Restore,
                true,
            )
            .unwrap_or_else(|e| {
                tracing::warn!(job = %job.id, "no authorisation for the terminal: {e}");
                None
            }),
            None => None,
        };
        store.set_job_ports(&job.id, &port, None)?;
        let job = running(&mut store, job)?;
        let mut c = common(cx, store, job, creds, observer, false, live);
        c.read_journal()?;
        return Ok(Carried::Restore(Box::new(Restore {
            c,
            profile,
            contents,
            main,
            to_replacement,
            order,
            grant,
            before: None,
            after: None,
        })));
    }
    let prepared = super::orders::of_job(cx, &store, &job)?;
    let replacement_port = match (&at.replacement, &job.replacement_serial) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(serial)) => {
            let last = job.replacement_port.as_deref().map(Path::new);
            find(cx, serial, None, last, profile)
                .ok()
                .or_else(|| last.map(Path::to_path_buf))
        }
        (None, None) => None,
    };
    store.set_job_ports(&job.id, &port, replacement_port.as_deref())?;
    let job = running(&mut store, job)?;
    let mut c = common(cx, store, job, creds, observer, false, live);
    let entries = c.read_journal()?;
    let mut options = opts.clone();
    if let Some(o) = order_line(&entries) {
        options.documents_checked |= o.documents_checked;
        // A job started before there was a choice copies one transfer after another.
        options.copying = o.copying.unwrap_or(crate::journal::Copying::Sequential);
    }
    let mut main = main;
    let grant = if !c.confirmed && purpose == Purpose::Resume {
        // Nothing changed yet: the job goes through the gate again, and its checks run
        // again (all but a phone already proven, which would send another code).
        c.done.retain(|s, _| !s.is_check() || *s == Step::VerifyPhone);
        gate::authorise(
            cx,
            &prepared,
            profile,
            &c.store,
            &mut main,
            &port,
            &c.job.terminal_serial,
            Some(&c.job.id),
        )?
    } else {
        // Under way or rolled back: past the gate, with what the terminal needs for it. A
        // job with nothing left to change on it needs none: one that does and has no
        // authorisation standing is refused by the terminal, which says why.
        gate::grant(
            prepared.signed.as_ref(),
            &cx.order_keys,
            &mut main,
            &c.job.terminal_serial,
            gate::main_operation(&prepared),
            true,
        )
        .unwrap_or_else(|e| {
            tracing::warn!(job = %c.job.id, "no authorisation for the terminal: {e}");
            None
        })
    };
    // The checks ran when the job started; a resume does not ask the technician again.
    let options = Options {
        dry_run: false,
        cooldown_checked_by_provider: false,
        ..options
    };
    Ok(Carried::Change(Box::new(change(
        cx,
        c,
        profile,
        prepared,
        (main, grant),
        replacement_port,
        options,
    ))))
}

/// One of the five procedures on `prepared`, ready for the engine: its main terminal open
/// with what its changes carry (`main`), the replacement found when first needed.
fn change<'a>(
    cx: &Context<'a>,
    c: Common<'a>,
    profile: &'a Profile,
    prepared: Prepared,
    main: (Terminal, Option<crate::terminal::Authority>),
    replacement_port: Option<PathBuf>,
    options: Options,
) -> Change<'a> {
    Change {
        c,
        opener: cx.opener.clone(),
        profile,
        order: prepared.order,
        signed: prepared.signed,
        order_keys: cx.order_keys.clone(),
        grants: Grants {
            main: main.1,
            replacement: None,
        },
        main: main.0,
        replacement: None,
        replacement_port,
        made: Made::default(),
        options,
        codes: cx.codes.clone(),
    }
}

/// The job marked running again (it may have been interrupted).
fn running(store: &mut Store, job: JobRecord) -> Result<JobRecord, JobError> {
    if job.state == JobState::Interrupted {
        store.end_job(&job, JobState::Running, None)?;
    }
    Ok(store.job(&job.id)?.unwrap_or(job))
}

/// Carries an unfinished job on from its journal, whatever its order's origin. A job
/// stopped before its confirmation goes through the gate again and asks again.
pub fn resume<'a>(
    cx: &Context<'a>,
    id: &str,
    at: &At,
    creds: Credentials<'a>,
    opts: &Options,
    observer: &'a mut dyn Observer,
) -> Result<JobOutcome, JobError> {
    match carry(cx, id, at, creds, opts, Purpose::Resume, observer)? {
        Carried::Change(mut c) => engine::execute(c.as_mut(), Mode::Run),
        Carried::Restore(mut r) => engine::execute(r.as_mut(), Mode::Run),
    }
}

/// Rolls an unfinished job back to the binding in its backup, whatever its order's origin.
pub fn abort<'a>(
    cx: &Context<'a>,
    id: &str,
    at: &At,
    creds: Credentials<'a>,
    observer: &'a mut dyn Observer,
) -> Result<JobOutcome, JobError> {
    match carry(cx, id, at, creds, &Options::default(), Purpose::Abort, observer)? {
        Carried::Change(mut c) => engine::roll_back(c.as_mut()),
        Carried::Restore(mut r) => engine::roll_back(r.as_mut()),
    }
}
