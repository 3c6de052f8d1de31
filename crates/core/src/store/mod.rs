//! The local SQLite database: one file in the data directory, WAL journal, foreign keys on,
//! schema versioned by `PRAGMA user_version` and upgraded by the migrations below, in order,
//! each in its own transaction. A database newer than this binary is refused rather than
//! misread.
//!
//! Every write is on disk when it returns, as with `synchronous = FULL`, but the writers of
//! one process share their flushes (group commit): each commits in its turn without waiting
//! for the disk (`synchronous = NORMAL`, which in WAL mode leaves the commit in the WAL file
//! unflushed), then waits until the WAL file has been flushed past its commit. One flush
//! covers every commit written before it, so a depot's dozens of jobs, each journaling its
//! steps, wait for the disk together instead of one after another.
//!
//! A process keeps one connection to a database, whoever opens it: every [`Store`] opened
//! on the same file shares it, reads and writes alike, each for one statement or one
//! transaction at a time. A depot's jobs then neither open the file and read its schema
//! each, nor read again, after every other job's commit, the pages that commit changed (as
//! separate connections must); and they take their write turns on it instead of on
//! SQLite's lock. Other processes have their own, and meet this one on SQLite's lock.
//!
//! A write made [`Flush::WithNext`] (a journal line of a step that changes nothing, see
//! [`crate::journal::Entry::must_reach_disk`]) does not wait: it is on disk with the next
//! write that does, which every step that changes something makes before it acts.
//!
//! Journal lines written at the same moment also share their transaction
//! (`Store::write_together`): each in a savepoint of its own, committed together, so a
//! depot's jobs take one turn on the connection for a batch of lines instead of one each.

pub mod audit;
pub mod codes;
pub mod jobs;
pub mod live;
pub mod orders;
pub mod outbox;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak, mpsc};
use std::time::Duration;

use rusqlite::{Connection, params};
use serde::Serialize;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "posagent.db";
/// How long a writer waits for another process's lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a writer sleeps between looks at another process's lock. SQLite's own handler
/// backs off to 100 ms, most of it with the lock long free again.
const BUSY_POLL: Duration = Duration::from_millis(2);

/// Times a writer of this process found the database locked by another connection.
static BUSY_WAITS: AtomicU64 = AtomicU64::new(0);

/// How many times a writer of this process has found the database locked by another
/// connection and waited (for the support log and the tests: the writers of one process
/// share its connection, take turns on it and never meet here).
pub fn busy_waits() -> u64 {
    BUSY_WAITS.load(Ordering::Relaxed)
}

/// SQLite's busy handler: waits [`BUSY_POLL`] at a time, up to [`BUSY_TIMEOUT`].
fn on_busy(tries: i32) -> bool {
    BUSY_WAITS.fetch_add(1, Ordering::Relaxed);
    std::thread::sleep(BUSY_POLL);
    BUSY_POLL * (tries.max(0) as u32 + 1) < BUSY_TIMEOUT
}

/// Flushes of the WAL file this process has made (see the module): fewer than its writes
/// when writers wait for the disk together.
static WAL_FLUSHES: AtomicU64 = AtomicU64::new(0);

/// How many times this process has flushed a database's WAL file to disk.
pub fn wal_flushes() -> u64 {
    WAL_FLUSHES.load(Ordering::Relaxed)
}

/// Times this process has rewritten an audit head file (see [`Store::flush_past`]).
static HEAD_WRITES: AtomicU64 = AtomicU64::new(0);

/// How many times this process has rewritten a database's audit head file: fewer than its
/// flushes when writers wait for the disk one after another.
pub fn audit_head_writes() -> u64 {
    HEAD_WRITES.load(Ordering::Relaxed)
}

/// A database as this process has it open: the one connection every [`Store`] on the file
/// shares, and what its writers have committed and flushed (see the module).
struct Shared {
    /// Held for each read, and through each writer's transaction: one at a time, in turn.
    db: Mutex<Db>,
    /// Held while the WAL file is flushed: what is on disk so far.
    flushed: Mutex<Flushed>,
    /// The number of the last commit whose writer waits for the disk (see [`Flush`]).
    last_waiting: AtomicU64,
    /// Whether the database keeps a WAL file (it does wherever SQLite can share memory).
    wal: bool,
    /// Writes waiting to share one transaction (see [`Store::write_together`]).
    batch: Mutex<Batch>,
}

/// A write that may share its transaction with others: its statements, run inside a
/// savepoint of its own.
pub(crate) type Shareable = Box<dyn FnOnce(&Connection) -> rusqlite::Result<()> + Send>;

/// What a waiting writer is told: its write's outcome (the number of the commit that took
/// it, or why it failed), or that it is its turn to carry out the writes waiting.
enum Told {
    Done(rusqlite::Result<u64>),
    Lead,
}

/// A write waiting for a transaction, and where its writer waits to be told.
type Waiting = (Flush, Shareable, mpsc::Sender<Told>);

/// Writes waiting for a transaction, in the order they came.
#[derive(Default)]
struct Batch {
    waiting: Vec<Waiting>,
    /// A writer is carrying out writes (its own among them).
    busy: bool,
}

/// The connection, the commits made on it, numbered, and the audit chain's head after the
/// last.
struct Db {
    conn: Connection,
    count: u64,
    head: Option<(i64, String)>,
}

/// The shared connection, held (see [`Store::conn`]).
pub(crate) struct Conn<'a>(MutexGuard<'a, Db>);

impl std::ops::Deref for Conn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.0.conn
    }
}

/// The last commit known to be on disk, and the audit head last written beside the database.
#[derive(Default)]
struct Flushed {
    count: u64,
    head: Option<(i64, String)>,
}

/// When a write must be on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Before the write returns.
    Now,
    /// With the next write that waits for the disk (a commit is in the WAL file already,
    /// and one flush of it covers every commit before).
    WithNext,
}

impl Shared {
    fn lock_batch(&self) -> MutexGuard<'_, Batch> {
        self.batch.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A writer's turn at carrying out the waiting writes: when it ends, the first write that
/// came meanwhile is told to carry out the next batch, or, none waiting, the next writer
/// to come will.
struct Leading<'a>(&'a Shared);

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        let mut batch = self.0.lock_batch();
        match batch.waiting.first() {
            Some((.., next)) => {
                let _ = next.send(Told::Lead);
            }
            None => batch.busy = false,
        }
    }
}

/// Begins a write-locked transaction. One left open by a writer that stopped half way (it
/// panicked) is rolled back first: nothing of it stays, and the connection serves on. The
/// statements that begin and end a transaction are prepared once per connection, as a
/// depot's jobs write dozens of times each.
fn begin(conn: &Connection) -> rusqlite::Result<()> {
    if !conn.is_autocommit() {
        conn.execute_batch("ROLLBACK")?;
    }
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([]).map(drop)
}

/// Carries out `writes` in one transaction, each in a savepoint: each with its outcome
/// (the commit's number, or why it failed).
fn commit_together<W>(shared: &Shared, writes: Vec<(Flush, Shareable, W)>) -> Vec<(W, rusqlite::Result<u64>)> {
    let mut db = shared.db.lock().unwrap_or_else(PoisonError::into_inner);
    let Db { conn, count, head } = &mut *db;
    let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(drop);
    let mut parts = Vec::with_capacity(writes.len());
    let mut failed = begin(conn).err();
    let mut waits = false;
    for (flush, write, to) in writes {
        if failed.is_some() {
            parts.push((to, Ok(())));
            continue;
        }
        let done = match run("SAVEPOINT line").and_then(|()| write(conn)) {
            Ok(()) => run("RELEASE line"),
            // SQLite ended the whole transaction (a full disk, an I/O error): nothing of
            // the batch stays.
            Err(e) if conn.is_autocommit() => {
                failed = Some(e);
                Ok(())
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK TO line; RELEASE line");
                Err(e)
            }
        };
        waits |= done.is_ok() && flush == Flush::Now;
        parts.push((to, done));
    }
    if failed.is_none()
        && let Err(e) = run("COMMIT")
    {
        failed = Some(e);
    }
    if let Some(e) = failed {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        return parts.into_iter().map(|(to, _)| (to, Err(copy_error(&e)))).collect();
    }
    *count += 1;
    *head = audit::last_record(conn).ok().flatten();
    if waits {
        shared.last_waiting.store(*count, Ordering::Release);
    }
    let mine = *count;
    parts.into_iter().map(|(to, done)| (to, done.map(|()| mine))).collect()
}

/// The same failure again, for each of the writes a failed transaction held.
fn copy_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(f, message) => rusqlite::Error::SqliteFailure(*f, message.clone()),
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

/// The databases this process has open, by file: each while a [`Store`] on it is.
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<Shared>>>> = LazyLock::new(Default::default);

/// Opens a connection to the database at `path`, set up and its schema brought up to date;
/// and whether it keeps a WAL file.
fn connect(path: &Path) -> Result<(Connection, bool), StoreError> {
    let err = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let mut conn = Connection::open(path).map_err(err)?;
    // SQLite gives its WAL and shared-memory files the database file's mode.
    crate::private::restrict(path).map_err(|e| StoreError::Dir(path.to_path_buf(), e))?;
    conn.busy_handler(Some(on_busy)).map_err(err)?;
    // A job's writes (journal, audit chain, commit) and its reads (its record, the order
    // keys, the unfinished job on a unit) are all prepared once per connection.
    conn.set_prepared_statement_cache_capacity(32);
    // Switching a fresh file to WAL needs an exclusive lock, and SQLite answers BUSY at
    // once, without its busy handler, while another process holds a shared one (several
    // processes opening a fresh data directory at once): ask again until BUSY_TIMEOUT.
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mode: String = loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => break other.map_err(err)?,
        }
    };
    // A file system that cannot share memory keeps SQLite's rollback journal, whose
    // commits each wait for the disk themselves (`synchronous = FULL` stays).
    let wal = mode.eq_ignore_ascii_case("wal");
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;")
        .map_err(err)?;
    migrate(&conn, path)?;
    if wal {
        // From here on every write waits for its own flush (see the module).
        conn.execute_batch("PRAGMA synchronous = NORMAL;").map_err(err)?;
    }
    // On only after the migrations: a table rebuild must not cascade (SQLite's own
    // procedure for schema changes).
    conn.execute_batch("PRAGMA foreign_keys = ON;").map_err(err)?;
    Ok((conn, wal))
}

/// Brings the schema of the database at `path` up to date.
fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let err = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        // Write-locked from the start (waiting up to BUSY_TIMEOUT for another process), and
        // the version read again under the lock: several processes opening a fresh data
        // directory at once apply each migration exactly once.
        conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
        let applied = conn
            .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .and_then(|now_at| {
                if now_at <= i as i64 {
                    conn.execute_batch(sql)?;
                    conn.pragma_update(None, "user_version", i as i64 + 1)?;
                }
                conn.execute_batch("COMMIT")
            });
        if let Err(e) = applied {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(err(e));
        }
    }
    Ok(())
}

/// Schema migrations; entry *i* takes the schema from version *i* to *i + 1*.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE backups (
        id              INTEGER PRIMARY KEY,
        created_at      TEXT NOT NULL,
        terminal_serial TEXT NOT NULL,
        profile         TEXT NOT NULL,
        file            TEXT NOT NULL,
        size            INTEGER NOT NULL,
        sha256          TEXT NOT NULL,
        transactions    INTEGER NOT NULL,
        job_id          TEXT
    );
    CREATE INDEX backups_by_terminal ON backups (terminal_serial, created_at);
", "
    CREATE TABLE jobs (
        id                 TEXT PRIMARY KEY,
        order_id           TEXT NOT NULL,
        operation          TEXT NOT NULL,
        profile            TEXT NOT NULL,
        order_file         TEXT NOT NULL,
        order_sha256       TEXT NOT NULL,
        terminal_serial    TEXT NOT NULL,
        replacement_serial TEXT,
        port               TEXT NOT NULL,
        replacement_port   TEXT,
        state              TEXT NOT NULL CHECK (state IN ('running', 'done', 'refused', 'aborted', 'cancelled', 'planned')),
        step               TEXT,
        backup_file        TEXT,
        backup_sha256      TEXT,
        error              TEXT,
        technician         TEXT NOT NULL,
        created_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL
    );
    CREATE INDEX jobs_by_terminal ON jobs (terminal_serial, state);
    CREATE TABLE journal (
        id     INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL REFERENCES jobs (id),
        step   TEXT NOT NULL,
        phase  TEXT NOT NULL CHECK (phase IN ('intent', 'done', 'failed', 'compensated')),
        detail TEXT NOT NULL,
        at     TEXT NOT NULL
    );
    CREATE INDEX journal_by_job ON journal (job_id, id);
    CREATE TABLE audit (
        id         INTEGER PRIMARY KEY,
        at         TEXT NOT NULL,
        technician TEXT NOT NULL,
        terminal   TEXT,
        job_id     TEXT,
        event      TEXT NOT NULL,
        outcome    TEXT NOT NULL,
        detail     TEXT NOT NULL,
        prev_hash  TEXT NOT NULL,
        hash       TEXT NOT NULL
    );
    CREATE TABLE outbox (
        id              TEXT PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        job_id          TEXT NOT NULL UNIQUE REFERENCES jobs (id),
        order_id        TEXT NOT NULL,
        kind            TEXT NOT NULL,
        payload         TEXT NOT NULL,
        sealed          BLOB NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'accepted', 'rejected', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        receipt         TEXT,
        reason          TEXT,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
    CREATE TABLE card_history (
        card_id  TEXT NOT NULL,
        terminal TEXT NOT NULL,
        event    TEXT NOT NULL CHECK (event IN ('bound', 'unbound')),
        at       TEXT NOT NULL,
        job_id   TEXT REFERENCES jobs (id)
    );
    CREATE INDEX card_history_by_card ON card_history (card_id, at);
", "
    -- The audit head kept inside the database as well as in audit.head: cutting records
    -- from the end now means editing the anchor, the head file and every job row that
    -- names its last record.
    CREATE TABLE audit_anchor (
        id    INTEGER PRIMARY KEY CHECK (id = 1),
        count INTEGER NOT NULL,
        hash  TEXT NOT NULL
    );
    INSERT INTO audit_anchor (id, count, hash)
        SELECT 1, COUNT(*), COALESCE((SELECT hash FROM audit ORDER BY id DESC LIMIT 1), '') FROM audit;
    ALTER TABLE jobs ADD COLUMN audit_id INTEGER;
    ALTER TABLE jobs ADD COLUMN audit_hash TEXT;
", "
    -- A job stopped at a safe point (Ctrl-C, or a step that failed after the backup) is
    -- 'interrupted': resumable, and not running. SQLite cannot alter a CHECK constraint,
    -- so the table is rebuilt (foreign keys are off while migrations run).
    CREATE TABLE jobs_v4 (
        id                 TEXT PRIMARY KEY,
        order_id           TEXT NOT NULL,
        operation          TEXT NOT NULL,
        profile            TEXT NOT NULL,
        order_file         TEXT NOT NULL,
        order_sha256       TEXT NOT NULL,
        terminal_serial    TEXT NOT NULL,
        replacement_serial TEXT,
        port               TEXT NOT NULL,
        replacement_port   TEXT,
        state              TEXT NOT NULL CHECK (state IN ('running', 'interrupted', 'done', 'refused', 'aborted', 'cancelled', 'planned')),
        step               TEXT,
        backup_file        TEXT,
        backup_sha256      TEXT,
        error              TEXT,
        technician         TEXT NOT NULL,
        created_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL,
        audit_id           INTEGER,
        audit_hash         TEXT
    );
    INSERT INTO jobs_v4 SELECT * FROM jobs;
    DROP TABLE jobs;
    ALTER TABLE jobs_v4 RENAME TO jobs;
    CREATE INDEX jobs_by_terminal ON jobs (terminal_serial, state);
", "
    -- The provider's machine code of a rejection, kept apart from its reason as written.
    ALTER TABLE outbox ADD COLUMN code TEXT;
", "
    -- Work orders pulled from the provider. The signed document holds full card and ID
    -- numbers, so it is kept sealed with the local key; the columns beside it are what
    -- `orders list` shows.
    CREATE TABLE orders (
        id          TEXT PRIMARY KEY,
        technician  TEXT NOT NULL,
        operation   TEXT NOT NULL,
        serial      TEXT,
        valid_until TEXT NOT NULL,
        key_id      TEXT NOT NULL,
        document    BLOB NOT NULL,
        pulled_at   TEXT NOT NULL
    );
", "
    -- The key statements of the providers' roots (docs/protocol.md §11), as they signed
    -- them: one per root, the newest version accepted (an older one is refused).
    CREATE TABLE key_statements (
        root_key_id TEXT PRIMARY KEY,
        version     INTEGER NOT NULL,
        statement   BLOB NOT NULL,
        pulled_at   TEXT NOT NULL
    );
    -- Orders the provider served that were not kept, with why: a job asked to run one says
    -- so (instead of not finding it).
    CREATE TABLE orders_refused (
        id        TEXT PRIMARY KEY,
        reason    TEXT NOT NULL,
        refused_at TEXT NOT NULL
    );
", "
    -- One-time codes this agent had sent, within the limits of store/codes.rs: the order,
    -- a keyed digest of the number (never the number) and when. Rows older than the
    -- limits' window are dropped as new ones are added.
    CREATE TABLE code_sends (
        order_id TEXT NOT NULL,
        number   TEXT NOT NULL,
        sent_at  TEXT NOT NULL
    );
    CREATE INDEX code_sends_at ON code_sends (sent_at);
"];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}", describe_sqlite(path, source))]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("{}", crate::tr!("store-too-new", file = .path.display().to_string(), found = *.found, known = *.known))]
    TooNew { path: PathBuf, found: i64, known: i64 },
    #[error("{}", crate::tr!("store-no-dir", dir = .0.display().to_string(), reason = crate::input::describe_io(.1)))]
    Dir(PathBuf, std::io::Error),
    #[error("{}", crate::tr!("store-not-flushed", file = .0.display().to_string(), reason = crate::input::describe_io(.1)))]
    NotFlushed(PathBuf, std::io::Error),
}

/// A database failure in plain words; a full disk is named as such. SQLite reports a
/// write that ran out of space as SQLITE_FULL only sometimes: growing the WAL or its index
/// reports a plain I/O error, so an I/O error on a file system with almost no space left
/// is named a full disk too.
fn describe_sqlite(path: &Path, e: &rusqlite::Error) -> String {
    let full = match e {
        rusqlite::Error::SqliteFailure(f, _) => {
            f.code == rusqlite::ErrorCode::DiskFull
                || (matches!(
                    f.code,
                    rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::CannotOpen
                ) && crate::input::nearly_full(path))
        }
        _ => false,
    };
    if full {
        crate::tr!("store-disk-full", file = path.display().to_string())
    } else {
        crate::tr!(
            "store-failed",
            file = path.display().to_string(),
            reason = e.to_string()
        )
    }
}

/// A backup as recorded in the database.
#[derive(Debug, Clone, Serialize)]
pub struct BackupRecord {
    pub id: i64,
    pub created_at: String,
    pub terminal_serial: String,
    pub profile: String,
    pub file: String,
    pub size: u64,
    pub sha256: String,
    pub transactions: u32,
    pub job_id: Option<String>,
}

/// Now, as stored: RFC 3339, UTC, milliseconds.
pub fn now() -> String {
    timestamp(chrono::Utc::now())
}

/// A stored time (RFC 3339, UTC) as a person reads it: in this computer's time zone, with
/// its offset (`2026-11-23 09:14:03 +08:00`). JSON and the database keep UTC. Text that is
/// not a time is shown as it is.
pub fn local_time(stored: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(stored).map_or_else(
        |_| stored.to_string(),
        |t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string()
        },
    )
}

/// A time as stored (so stored times compare as strings).
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An open database.
pub struct Store {
    path: PathBuf,
    /// This process's connection to the file.
    shared: Arc<Shared>,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir` and brings its schema up to
    /// date; or, when this process has it open already, shares that connection.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        crate::private::dir(data_dir).map_err(|e| StoreError::Dir(data_dir.to_path_buf(), e))?;
        let path = data_dir.join(DB_FILE);
        let key = std::fs::canonicalize(data_dir).map_or_else(|_| path.clone(), |d| d.join(DB_FILE));
        // Held while a first connection opens: two jobs starting at once share one.
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        let shared = match open.get(&key).and_then(Weak::upgrade) {
            Some(shared) => shared,
            None => {
                let (conn, wal) = connect(&path)?;
                let shared = Arc::new(Shared {
                    db: Mutex::new(Db {
                        conn,
                        count: 0,
                        head: None,
                    }),
                    flushed: Mutex::default(),
                    last_waiting: AtomicU64::new(0),
                    wal,
                    batch: Mutex::default(),
                });
                open.retain(|_, w| w.strong_count() > 0);
                open.insert(key, Arc::downgrade(&shared));
                shared
            }
        };
        Ok(Store { path, shared })
    }

    /// The connection, held until the value returned is dropped: for one statement or one
    /// read (a method that holds it calls no other that takes it).
    pub(crate) fn conn(&self) -> Conn<'_> {
        Conn(self.shared.db.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Runs `f` in an immediate (write-locked) transaction, commits it and returns once the
    /// commit is on disk (see the module); refreshes the audit head file, since every writer
    /// may have appended audit records.
    pub(crate) fn write<T>(&mut self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        self.write_then(Flush::Now, f)
    }

    /// As [`write`](Self::write); with [`Flush::WithNext`] it returns once committed, and
    /// the next write of this process that waits for the disk takes it there too.
    pub(crate) fn write_then<T>(
        &mut self,
        flush: Flush,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let shared = Arc::clone(&self.shared);
        let (value, mine) = {
            let mut db = shared.db.lock().unwrap_or_else(PoisonError::into_inner);
            let Db { conn, count, head } = &mut *db;
            begin(conn).map_err(err)?;
            let done = f(conn).and_then(|value| {
                conn.prepare_cached("COMMIT")?.execute([])?;
                Ok(value)
            });
            let value = match done {
                Ok(value) => value,
                Err(e) => {
                    // Nothing of a failed write stays.
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(err(e));
                }
            };
            *count += 1;
            *head = audit::last_record(conn).ok().flatten();
            if flush == Flush::Now {
                shared.last_waiting.store(*count, Ordering::Release);
            }
            (value, *count)
        };
        if flush == Flush::Now {
            self.flush_past(&shared, mine)?;
        }
        Ok(value)
    }

    /// As [`write_then`](Self::write_then), for a write whose statements need nothing of
    /// the caller's but what it owns: writes that come while others are being carried out
    /// wait and then share one transaction (each in a savepoint of its own: one that fails
    /// leaves no trace and the others stand), so a depot's jobs, journaling at once, take
    /// one turn on the connection and write the pages they share once, instead of one
    /// commit each. A writer that finds none being carried out carries out all that wait,
    /// its own among them, tells each writer its outcome and hands over to the first that
    /// came meanwhile; each returns once its write is committed (and, with [`Flush::Now`],
    /// on disk).
    pub(crate) fn write_together(&mut self, flush: Flush, write: Shareable) -> Result<(), StoreError> {
        let shared = Arc::clone(&self.shared);
        let (tell, told) = mpsc::channel();
        let mut leads = {
            let mut batch = shared.lock_batch();
            batch.waiting.push((flush, write, tell));
            !std::mem::replace(&mut batch.busy, true)
        };
        let outcome = loop {
            if leads {
                // Hands over when dropped, however this writer's turn ends.
                let _turn = Leading(&shared);
                let writes = std::mem::take(&mut shared.lock_batch().waiting);
                for (tell, outcome) in commit_together(&shared, writes) {
                    let _ = tell.send(Told::Done(outcome));
                }
            }
            match told.recv() {
                Ok(Told::Done(outcome)) => break outcome,
                Ok(Told::Lead) => leads = true,
                // The writer carrying this write out stopped before it could tell (it
                // panicked): the write may not have been committed.
                Err(mpsc::RecvError) => {
                    break Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                        Some("the write was abandoned".into()),
                    ));
                }
            }
        };
        let mine = outcome.map_err(|source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        })?;
        if flush == Flush::Now {
            self.flush_past(&shared, mine)?;
        }
        Ok(())
    }

    /// Waits until commit number `mine` is on disk: flushes the WAL file unless a flush
    /// begun after that commit has already done so, then writes the audit head of what the
    /// flush covered (a head never ahead of the disk, and never one overtaken), unless a
    /// writer of a later commit waits for the disk too: its flush comes next and writes a
    /// later head. A depot's writers, one after another, rewrite the file once a burst
    /// instead of once a flush (each time a new file and a rename).
    fn flush_past(&self, shared: &Shared, mine: u64) -> Result<(), StoreError> {
        let mut flushed = shared.flushed.lock().unwrap_or_else(PoisonError::into_inner);
        if flushed.count >= mine {
            return Ok(());
        }
        let (count, head) = {
            let db = shared.db.lock().unwrap_or_else(PoisonError::into_inner);
            (db.count, db.head.clone())
        };
        if shared.wal {
            let mut wal = self.path.clone().into_os_string();
            wal.push("-wal");
            // Opened for writing: on Windows only a handle that may write can flush.
            let synced = std::fs::OpenOptions::new()
                .write(true)
                .open(&wal)
                .and_then(|f| f.sync_data());
            synced.map_err(|e| StoreError::NotFlushed(self.path.clone(), e))?;
            WAL_FLUSHES.fetch_add(1, Ordering::Relaxed);
        }
        flushed.count = count;
        if shared.last_waiting.load(Ordering::Acquire) > count {
            return Ok(());
        }
        if let Some(h) = &head
            && flushed.head.as_ref() != Some(h)
        {
            self.put_audit_head(h);
            HEAD_WRITES.fetch_add(1, Ordering::Relaxed);
            flushed.head = head;
        }
        Ok(())
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The schema version on disk.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(self.err())
    }

    /// Records a written backup; returns its id.
    pub fn record_backup(&mut self, b: &BackupRecord) -> Result<i64, StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO backups (created_at, terminal_serial, profile, file, size, sha256, transactions, job_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    b.created_at,
                    b.terminal_serial,
                    b.profile,
                    b.file,
                    b.size as i64,
                    b.sha256,
                    b.transactions,
                    b.job_id
                ],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// Backups matching `filter` (SQL after the FROM clause, with `?` parameters).
    fn query_backups(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<BackupRecord>, StoreError> {
        let sql = format!(
            "SELECT id, created_at, terminal_serial, profile, file, size, sha256, transactions, job_id FROM backups {filter}"
        );
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(args, |r| {
                Ok(BackupRecord {
                    id: r.get(0)?,
                    created_at: r.get(1)?,
                    terminal_serial: r.get(2)?,
                    profile: r.get(3)?,
                    file: r.get(4)?,
                    size: r.get::<_, i64>(5)? as u64,
                    sha256: r.get(6)?,
                    transactions: r.get(7)?,
                    job_id: r.get(8)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Every recorded backup, newest first.
    pub fn backups(&self) -> Result<Vec<BackupRecord>, StoreError> {
        self.query_backups("ORDER BY created_at DESC, id DESC", [])
    }

    /// The newest backup of a terminal, if any.
    pub fn latest_backup(&self, serial: &str) -> Result<Option<BackupRecord>, StoreError> {
        let mut rows = self.query_backups(
            "WHERE terminal_serial = ?1 ORDER BY created_at DESC, id DESC LIMIT 1",
            [serial],
        )?;
        Ok(rows.pop())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(serial: &str, at: &str) -> BackupRecord {
        BackupRecord {
            id: 0,
            created_at: at.into(),
            terminal_serial: serial.into(),
            profile: "generic".into(),
            file: "/tmp/x.zip".into(),
            size: 10,
            sha256: "00".into(),
            transactions: 3,
            job_id: None,
        }
    }

    #[test]
    fn opens_with_wal_and_current_schema_and_commits_that_wait_for_their_flush() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        let mode: String = s.conn().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = s.conn().query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        // Commits leave the WAL unflushed; `write` flushes it (see the module).
        assert_eq!(sync, 1, "NORMAL");
        let fk: i64 = s.conn().query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert_eq!(fk, 1);
    }

    #[test]
    fn many_processes_opening_a_fresh_directory_at_once_all_succeed() {
        // The race (one opener switching the file to WAL while another reads it) is lost
        // only now and then, so it is run on many fresh directories. Each thread opens its
        // own connection, as a process of its own would (the stores of one process share
        // theirs).
        for _ in 0..100 {
            let dir = tempfile::tempdir().unwrap();
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let path = dir.path().join(DB_FILE);
                    std::thread::spawn(move || {
                        connect(&path).map(|(c, wal)| {
                            let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
                            (version, wal)
                        })
                    })
                })
                .collect();
            for t in threads {
                assert_eq!(t.join().unwrap().unwrap(), (SCHEMA_VERSION, true));
            }
        }
    }

    #[test]
    fn the_stores_of_one_process_share_its_connection_until_the_last_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Store::open(dir.path()).unwrap();
        let second = Store::open(dir.path()).unwrap();
        assert!(
            Arc::ptr_eq(&first.shared, &second.shared),
            "a second connection was opened"
        );
        // A write through one is read through the other.
        first.record_backup(&record("SN-1", "2026-12-07T10:00:00Z")).unwrap();
        assert_eq!(second.backups().unwrap().len(), 1);
        let shared = Arc::downgrade(&first.shared);
        drop((first, second));
        // Once none is left, the file is closed, and the next store opens it again.
        assert!(shared.upgrade().is_none(), "the connection outlived its stores");
        let third = Store::open(dir.path()).unwrap();
        assert_eq!(third.backups().unwrap().len(), 1);
        // Another database has its own.
        let other = tempfile::tempdir().unwrap();
        assert!(!Arc::ptr_eq(&third.shared, &Store::open(other.path()).unwrap().shared));
    }

    /// A store with a table `t` of numbers.
    fn with_table_t() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .conn()
            .execute_batch("CREATE TABLE t (n INTEGER NOT NULL)")
            .unwrap();
        (dir, store)
    }

    /// The numbers in table `t`, in order.
    fn numbers_in_t(store: &Store) -> Vec<i64> {
        let conn = store.conn();
        let mut numbers = conn.prepare("SELECT n FROM t ORDER BY n").unwrap();
        numbers
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Waits until `done` holds (the writers a test started have queued).
    fn until(done: impl Fn() -> bool) {
        while !done() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A write that records `n` in table `t`, and then fails when told to.
    fn put(n: i64, fails: bool) -> Shareable {
        Box::new(move |c| {
            c.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
            if fails {
                c.execute("INSERT INTO no_such_table VALUES (1)", [])?;
            }
            Ok(())
        })
    }

    #[test]
    fn writes_waiting_at_once_share_one_commit_and_one_that_fails_leaves_no_trace() {
        let (dir, store) = with_table_t();
        let commits = || store.shared.db.lock().unwrap().count;
        let before = commits();
        let writers = 8;
        let outcomes: Vec<bool> = {
            // With the connection held, the first write to come waits for it alone, and the
            // others wait behind it.
            let held = store.conn();
            let threads: Vec<_> = (0..writers)
                .map(|n| {
                    let mut s = Store::open(dir.path()).unwrap();
                    std::thread::spawn(move || s.write_together(Flush::Now, put(n, n == 5)).is_ok())
                })
                .collect();
            until(|| store.shared.lock_batch().waiting.len() >= writers as usize - 1);
            drop(held);
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        };
        assert_eq!(commits() - before, 2, "the waiting writes were not committed together");
        let failed: Vec<i64> = (0..writers).filter(|n| !outcomes[*n as usize]).collect();
        assert_eq!(failed, [5], "only the failing write fails");
        assert_eq!(
            numbers_in_t(&store),
            [0, 1, 2, 3, 4, 6, 7],
            "the failed write left a row, or took others with it"
        );
        assert!(store.conn().is_autocommit(), "a transaction was left open");
    }

    #[test]
    fn a_write_that_panics_takes_nothing_with_it_and_the_next_batch_goes_on() {
        let (dir, store) = with_table_t();
        let spawn = |write: Shareable| {
            let mut s = Store::open(dir.path()).unwrap();
            std::thread::spawn(move || s.write_together(Flush::Now, write).is_ok())
        };
        let waiting = || store.shared.lock_batch().waiting.len();
        let (panics, others) = {
            let held = store.conn();
            // The first writer takes its own write and waits for the connection...
            let panics = spawn(Box::new(|c: &Connection| {
                c.execute("INSERT INTO t (n) VALUES (1)", [])?;
                panic!("a bug in a write")
            }));
            until(|| store.shared.lock_batch().busy && waiting() == 0);
            // ... and two more wait behind it.
            let others = [spawn(put(2, false)), spawn(put(3, false))];
            until(|| waiting() >= 2);
            drop(held);
            (panics, others)
        };
        assert!(panics.join().is_err(), "the write did not panic");
        for other in others {
            assert!(other.join().unwrap(), "a write after the panic failed");
        }
        assert_eq!(numbers_in_t(&store), [2, 3], "the panicked write's row stayed");
        assert!(!store.shared.lock_batch().busy, "the batch was not handed on");
    }

    #[test]
    fn a_batch_whose_transaction_sqlite_ended_fails_whole() {
        // SQLite ends the whole transaction on a full disk or an I/O error; a write that
        // rolls it back stands in for that here.
        let (_dir, store) = with_table_t();
        let ends: Shareable = Box::new(|c| {
            c.execute_batch("ROLLBACK")?;
            c.execute("INSERT INTO no_such_table VALUES (1)", []).map(drop)
        });
        let writes = vec![
            (Flush::Now, put(1, false), ()),
            (Flush::Now, ends, ()),
            (Flush::Now, put(3, false), ()),
        ];
        let outcomes = commit_together(&store.shared, writes);
        assert_eq!(outcomes.len(), 3);
        assert!(
            outcomes.iter().all(|(_, o)| o.is_err()),
            "a write of the ended batch stood"
        );
        let rows: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0, "a write of the ended batch was committed on its own");
        assert!(store.conn().is_autocommit());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        drop(c);
        let e = Store::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains("newer than this posagent knows"), "{e}");
    }

    #[test]
    fn backups_are_recorded_and_listed_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.record_backup(&record("SN-1", "2026-11-20T10:00:00Z")).unwrap();
        s.record_backup(&record("SN-1", "2026-11-21T10:00:00Z")).unwrap();
        s.record_backup(&record("SN-2", "2026-11-22T10:00:00Z")).unwrap();
        let all = s.backups().unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].terminal_serial, "SN-2");
        assert_eq!(
            s.latest_backup("SN-1").unwrap().unwrap().created_at,
            "2026-11-21T10:00:00Z"
        );
        assert!(s.latest_backup("SN-3").unwrap().is_none());
    }
}
