//! The job journal: jobs, their steps' intents and outcomes, and the settlement-card history
//! used for the cooldown rule. Every journal entry is written in the same transaction as
//! its audit record.

use std::path::Path;

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::audit::{AuditEntry, append};
use super::{Flush, Store, StoreError, now};
use crate::journal::Entry;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Started and not finished: in progress, or interrupted and waiting for `jobs resume`.
    Running,
    Done,
    /// A check failed before anything was changed.
    Refused,
    /// Rolled back by `jobs abort`.
    Aborted,
    /// Stopped at a safe point (Ctrl-C, or a failed step after the backup): resumable.
    Interrupted,
    /// The technician declined at the confirmation.
    Cancelled,
    /// A dry run: checks only.
    Planned,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Interrupted => "interrupted",
            JobState::Done => "done",
            JobState::Refused => "refused",
            JobState::Aborted => "aborted",
            JobState::Cancelled => "cancelled",
            JobState::Planned => "planned",
        }
    }

    /// The state as a person reads it, in the current language.
    pub fn label(self) -> String {
        match self {
            JobState::Running => crate::tr!("jobstate-running"),
            JobState::Interrupted => crate::tr!("jobstate-interrupted"),
            JobState::Done => crate::tr!("jobstate-done"),
            JobState::Refused => crate::tr!("jobstate-refused"),
            JobState::Aborted => crate::tr!("jobstate-aborted"),
            JobState::Cancelled => crate::tr!("jobstate-cancelled"),
            JobState::Planned => crate::tr!("jobstate-planned"),
        }
    }

    /// Every state, for reading them back.
    const ALL: [JobState; 7] = [
        JobState::Running,
        JobState::Interrupted,
        JobState::Done,
        JobState::Refused,
        JobState::Aborted,
        JobState::Cancelled,
        JobState::Planned,
    ];

    /// A stored state; a value this build does not know is an error, never a guess.
    fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// What a job carries out: one of the five procedures, or the restore of a backup. Stored
/// as its name; a name this build does not know is an error, never a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Procedure(crate::procedure::Operation),
    Restore,
}

impl JobKind {
    /// The name in the database and in JSON (`rebind-card` …, `restore`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Procedure(op) => op.as_str(),
            JobKind::Restore => "restore",
        }
    }

    /// The name as a person reads it, in the current language.
    pub fn label(self) -> String {
        match self {
            JobKind::Procedure(op) => op.label(),
            JobKind::Restore => crate::tr!("op-restore"),
        }
    }

    fn parse(s: &str) -> Option<JobKind> {
        match s {
            "restore" => Some(JobKind::Restore),
            other => crate::procedure::Operation::ALL
                .into_iter()
                .find(|op| op.as_str() == other)
                .map(JobKind::Procedure),
        }
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JobKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A job as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct JobRecord {
    pub id: String,
    pub order_id: String,
    pub operation: JobKind,
    pub profile: String,
    pub order_file: String,
    pub order_sha256: String,
    pub terminal_serial: String,
    pub replacement_serial: Option<String>,
    pub port: String,
    pub replacement_port: Option<String>,
    pub state: JobState,
    pub step: Option<String>,
    pub backup_file: Option<String>,
    pub backup_sha256: Option<String>,
    pub error: Option<String>,
    pub technician: String,
    pub created_at: String,
    pub updated_at: String,
}

/// What a job is about, given when it starts; the rest of its record starts empty.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub order_id: String,
    pub operation: JobKind,
    pub profile: String,
    /// The order file, `pulled:ID` for a pulled order, or the archive a restore reads.
    pub order_file: String,
    pub order_sha256: String,
    pub terminal_serial: String,
    pub replacement_serial: Option<String>,
    pub port: String,
    pub replacement_port: Option<String>,
    pub technician: String,
}

impl JobRecord {
    /// A job starting now in `state`, with a new id (UUIDv7) and no step, backup or error yet.
    pub fn new(n: NewJob, state: JobState) -> JobRecord {
        let at = super::now();
        JobRecord {
            id: uuid::Uuid::now_v7().to_string(),
            order_id: n.order_id,
            operation: n.operation,
            profile: n.profile,
            order_file: n.order_file,
            order_sha256: n.order_sha256,
            terminal_serial: n.terminal_serial,
            replacement_serial: n.replacement_serial,
            port: n.port,
            replacement_port: n.replacement_port,
            state,
            step: None,
            backup_file: None,
            backup_sha256: None,
            error: None,
            technician: n.technician,
            created_at: at.clone(),
            updated_at: at,
        }
    }
}

/// One journal line as stored: what it says, and when.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    pub entry: Entry,
    pub at: String,
}

impl Serialize for JournalEntry {
    /// As stored: `{step, phase, detail, at}`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("JournalEntry", 4)?;
        st.serialize_field("step", self.entry.subject())?;
        st.serialize_field("phase", &self.entry.phase())?;
        st.serialize_field("detail", &self.entry.detail())?;
        st.serialize_field("at", &self.at)?;
        st.end()
    }
}

/// An audit record about `job`, stamped now.
fn audit_of(job: &JobRecord, event: &str, outcome: &str, detail: serde_json::Value) -> AuditEntry {
    AuditEntry::new(
        &job.technician,
        Some(&job.terminal_serial),
        Some(&job.id),
        event,
        outcome,
        detail,
    )
}

const JOB_COLUMNS: &str = "id, order_id, operation, profile, order_file, order_sha256, terminal_serial, replacement_serial, \
     port, replacement_port, state, step, backup_file, backup_sha256, error, technician, created_at, updated_at";

fn job_from_row(r: &Row<'_>) -> rusqlite::Result<JobRecord> {
    Ok(JobRecord {
        id: r.get(0)?,
        order_id: r.get(1)?,
        operation: {
            let text: String = r.get(2)?;
            JobKind::parse(&text).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    2,
                    rusqlite::types::Type::Text,
                    format!("unknown job operation '{text}'").into(),
                )
            })?
        },
        profile: r.get(3)?,
        order_file: r.get(4)?,
        order_sha256: r.get(5)?,
        terminal_serial: r.get(6)?,
        replacement_serial: r.get(7)?,
        port: r.get(8)?,
        replacement_port: r.get(9)?,
        state: {
            let text: String = r.get(10)?;
            JobState::parse(&text).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    10,
                    rusqlite::types::Type::Text,
                    format!("unknown job state '{text}'").into(),
                )
            })?
        },
        step: r.get(11)?,
        backup_file: r.get(12)?,
        backup_sha256: r.get(13)?,
        error: r.get(14)?,
        technician: r.get(15)?,
        created_at: r.get(16)?,
        updated_at: r.get(17)?,
    })
}

/// A card event for the cooldown history.
pub struct CardEvent {
    pub card_id: String,
    pub terminal: String,
    pub bound: bool,
}

impl Store {
    /// Records a new job (state running) with its audit record.
    pub fn create_job(&mut self, j: &JobRecord) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO jobs ({JOB_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
                ),
                params![
                    j.id, j.order_id, j.operation.as_str(), j.profile, j.order_file, j.order_sha256, j.terminal_serial,
                    j.replacement_serial, j.port, j.replacement_port, j.state.as_str(), j.step, j.backup_file,
                    j.backup_sha256, j.error, j.technician, j.created_at, j.updated_at
                ],
            )?;
            let detail = serde_json::json!({"order": j.order_id, "operation": j.operation, "profile": j.profile, "replacement": j.replacement_serial});
            append(tx, &audit_of(j, "job.start", "ok", detail))
        })
    }

    /// Appends a journal line (and its audit record) and moves the job's current step.
    pub fn journal(&mut self, job: &JobRecord, entry: &Entry) -> Result<(), StoreError> {
        let (step, phase, detail) = (entry.subject(), entry.phase().as_str(), entry.detail());
        let flush = if entry.must_reach_disk() {
            Flush::Now
        } else {
            Flush::WithNext
        };
        let mut audit = audit_of(job, &format!("step.{step}"), phase, detail.clone());
        let (id, detail) = (job.id.clone(), detail.to_string());
        // Shared with the other jobs' lines written at the same moment.
        self.write_together(
            flush,
            Box::new(move |tx| {
                // Stamped as written: the audit chain's times run in its order.
                audit.at = now();
                let at = audit.at.clone();
                // Prepared once per connection: a job journals dozens of times.
                tx.prepare_cached("INSERT INTO journal (job_id, step, phase, detail, at) VALUES (?1, ?2, ?3, ?4, ?5)")?
                    .execute(params![id, step, phase, detail, at])?;
                tx.prepare_cached("UPDATE jobs SET step = ?2, updated_at = ?3 WHERE id = ?1")?
                    .execute(params![id, step, at])?;
                append(tx, &audit)
            }),
        )
    }

    /// Ends a job in `state` (not `done`: see [`finish_job`](Self::finish_job)).
    pub fn end_job(&mut self, job: &JobRecord, state: JobState, error: Option<&str>) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE jobs SET state = ?2, error = ?3, updated_at = ?4 WHERE id = ?1",
                params![job.id, state.as_str(), error, now()],
            )?;
            let detail = serde_json::json!({ "error": error });
            append(tx, &audit_of(job, &format!("job.{}", state.as_str()), "ok", detail))
        })
    }

    /// Removes a dry run's job and journal; its audit records stay, closed by one more.
    pub fn forget_job(&mut self, job: &JobRecord) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute("DELETE FROM journal WHERE job_id = ?1", [&job.id])?;
            tx.execute("DELETE FROM jobs WHERE id = ?1", [&job.id])?;
            append(tx, &audit_of(job, "job.dry_run_ended", "ok", serde_json::json!({})))
        })
    }

    /// Records where a job's terminals are now (after a replug to another socket).
    pub fn set_job_ports(&mut self, job_id: &str, port: &Path, replacement: Option<&Path>) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE jobs SET port = ?2, replacement_port = COALESCE(?3, replacement_port) WHERE id = ?1",
                params![
                    job_id,
                    port.display().to_string(),
                    replacement.map(|p| p.display().to_string())
                ],
            )
            .map(drop)
        })
    }

    /// Records the job's verified backup.
    pub fn set_job_backup(&mut self, job_id: &str, file: &str, sha256: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE jobs SET backup_file = ?2, backup_sha256 = ?3, updated_at = ?4 WHERE id = ?1",
                params![job_id, file, sha256, now()],
            )
            .map(drop)
        })
    }

    /// Marks a job done, queues its submission and records card events, all in one
    /// transaction: a job is never done without its submission, nor the reverse.
    pub fn finish_job(
        &mut self,
        job: &JobRecord,
        submission: &super::outbox::NewSubmission,
        cards: &[CardEvent],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let at = now();
            super::outbox::insert(tx, submission, &at)?;
            for c in cards {
                tx.execute(
                    "INSERT INTO card_history (card_id, terminal, event, at, job_id) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        c.card_id,
                        c.terminal,
                        if c.bound { "bound" } else { "unbound" },
                        at,
                        job.id
                    ],
                )?;
            }
            let recorded = Entry::Done(
                crate::journal::Step::Record,
                crate::journal::StepRecord::Recorded(crate::journal::Recorded {
                    submission: Some(submission.id.clone()),
                    restored_from: None,
                }),
            );
            tx.execute(
                "INSERT INTO journal (job_id, step, phase, detail, at) VALUES (?1, 'record', 'done', ?2, ?3)",
                params![job.id, recorded.detail().to_string(), at],
            )?;
            tx.execute(
                "UPDATE jobs SET state = 'done', step = 'record', error = NULL, updated_at = ?2 WHERE id = ?1",
                params![job.id, at],
            )?;
            let detail =
                serde_json::json!({ "submission": submission.id, "idempotency_key": submission.idempotency_key });
            append(tx, &audit_of(job, "job.done", "ok", detail))
        })
    }

    /// A job by id or by a unique prefix of it.
    pub fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let pattern = format!("{}%", id.replace(['%', '_'], ""));
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id LIKE ?1 LIMIT 2"))
            .map_err(self.err())?;
        let rows: Vec<JobRecord> = stmt
            .query_map([pattern], job_from_row)
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        Ok(if rows.len() == 1 { rows.into_iter().next() } else { None })
    }

    /// Every job, newest first.
    pub fn jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs ORDER BY created_at DESC, id DESC"
            ))
            .map_err(self.err())?;
        let rows = stmt.query_map([], job_from_row).map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// The unfinished job on a terminal (as the main or the replacement unit), if any.
    pub fn open_job_for(&self, serial: &str) -> Result<Option<JobRecord>, StoreError> {
        self.conn()
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('running', 'interrupted') AND (terminal_serial = ?1 OR replacement_serial = ?1) LIMIT 1"
            ))
            .and_then(|mut s| s.query_row([serial], job_from_row).optional())
            .map_err(self.err())
    }

    /// The journal of a job, in order; a line this build cannot read is an error.
    pub fn journal_of(&self, job_id: &str) -> Result<Vec<JournalEntry>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT step, phase, detail, at FROM journal WHERE job_id = ?1 ORDER BY id")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([job_id], |r| {
                let (step, phase, detail): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
                let entry = Entry::parse(&step, &phase, &detail).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
                })?;
                Ok(JournalEntry { entry, at: r.get(3)? })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// When this card was last unbound anywhere this agent worked, if ever.
    /// When this agent last queued a settlement-card change for merchant `mid` (on any
    /// terminal) that the provider has not rejected.
    pub fn last_card_change_for_merchant(&self, mid: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .prepare_cached(
                "SELECT created_at FROM outbox WHERE kind = 'rebind-card' AND state != 'rejected'
                 AND json_extract(payload, '$.merchant.mid') = ?1 ORDER BY created_at DESC LIMIT 1",
            )
            .and_then(|mut s| s.query_row([mid], |r| r.get(0)).optional())
            .map_err(self.err())
    }

    pub fn card_last_unbound(&self, card_id: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .prepare_cached("SELECT MAX(at) FROM card_history WHERE card_id = ?1 AND event = 'unbound'")
            .and_then(|mut s| s.query_row([card_id], |r| r.get(0)))
            .map_err(self.err())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A running job record for store tests.
    pub(crate) fn job_record(id: &str, serial: &str) -> JobRecord {
        let mut job = JobRecord::new(
            NewJob {
                order_id: format!("O-{id}"),
                operation: JobKind::Procedure(crate::procedure::Operation::Unbind),
                profile: "generic".into(),
                order_file: "o.toml".into(),
                order_sha256: "00".into(),
                terminal_serial: serial.into(),
                replacement_serial: None,
                port: "/dev/null".into(),
                replacement_port: None,
                technician: "t".into(),
            },
            JobState::Running,
        );
        job.id = id.into();
        job
    }

    #[test]
    fn jobs_journaling_at_once_keep_every_line_in_order_and_the_audit_chain_whole() {
        use crate::journal::{Nothing, Step, StepRecord};
        // Lines written at the same moment share transactions (see `Store::write_together`).
        let dir = tempfile::tempdir().unwrap();
        Store::open(dir.path()).unwrap();
        // Checks' lines (which go on before the disk) and changes' (which wait for it).
        let done = |s| Entry::Done(s, StepRecord::Nothing(Nothing {}));
        let lines = [
            Entry::Intent(Step::CheckIdentity),
            Entry::Intent(Step::Authenticate),
            Entry::Intent(Step::CompareBinding),
            Entry::Intent(Step::CheckDocuments),
            Entry::Intent(Step::UnbindOld),
            done(Step::UnbindOld),
            Entry::Intent(Step::BindNew),
            done(Step::BindNew),
        ];
        let jobs: Vec<JobRecord> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..16)
                .map(|t| {
                    let (dir, lines) = (dir.path(), &lines);
                    s.spawn(move || {
                        let mut store = Store::open(dir).unwrap();
                        let job = job_record(&format!("J-{t:02}"), &format!("SN-{t}"));
                        store.create_job(&job).unwrap();
                        for line in lines {
                            store.journal(&job, line).unwrap();
                        }
                        job
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let store = Store::open(dir.path()).unwrap();
        for job in &jobs {
            let written: Vec<Entry> = store
                .journal_of(&job.id)
                .unwrap()
                .into_iter()
                .map(|l| l.entry)
                .collect();
            assert_eq!(written, lines, "job {}'s lines", job.id);
            assert_eq!(store.job(&job.id).unwrap().unwrap().step.as_deref(), Some("bind_new"));
        }
        let report = store.verify_audit().unwrap();
        assert!(report.valid, "{report:?}");
        assert_eq!(report.records, 16 * (1 + lines.len()) as u64, "{report:?}");
    }

    /// An operation or state no posagent writes is an error when read, not a guess; what
    /// it does write reads back as it was.
    #[test]
    fn a_job_reads_back_its_kind_and_an_unknown_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = crate::store::Store::open(dir.path()).unwrap();
        let mut restore = job_record("J-2", "SN2");
        restore.operation = JobKind::Restore;
        s.create_job(&job_record("J-1", "SN1")).unwrap();
        s.create_job(&restore).unwrap();
        let kinds: Vec<JobKind> = s.jobs().unwrap().iter().map(|j| j.operation).collect();
        assert!(kinds.contains(&JobKind::Restore), "{kinds:?}");
        assert!(kinds.contains(&JobKind::Procedure(crate::procedure::Operation::Unbind)));
        s.conn()
            .execute("UPDATE jobs SET operation = 'rebind-fax' WHERE id = 'J-1'", [])
            .unwrap();
        let e = s.jobs().unwrap_err().to_string();
        assert!(e.contains("unknown job operation 'rebind-fax'"), "{e}");
    }
}
