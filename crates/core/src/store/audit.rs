//! The audit trail: an append-only, hash-chained table. Each record's hash covers its own
//! fields and the previous record's hash, so editing, deleting, inserting or reordering any
//! record breaks the chain at that point. A head file beside the database (count and last
//! hash, written after each commit) also reveals records cut from the end.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Store, StoreError, now};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Head file, in the data directory.
pub const HEAD_FILE: &str = "audit.head";

/// The head is a count and a hash on one line: anything larger is not one.
const MAX_HEAD_FILE: u64 = 256;

/// A record to append.
pub struct AuditEntry {
    pub at: String,
    pub technician: String,
    pub terminal: Option<String>,
    pub job_id: Option<String>,
    pub event: String,
    pub outcome: String,
    /// Masked details; never a full card or account number.
    pub detail: serde_json::Value,
}

impl AuditEntry {
    /// A record stamped now.
    pub fn new(
        technician: &str,
        terminal: Option<&str>,
        job_id: Option<&str>,
        event: &str,
        outcome: &str,
        detail: serde_json::Value,
    ) -> AuditEntry {
        AuditEntry {
            at: now(),
            technician: technician.to_string(),
            terminal: terminal.map(str::to_string),
            job_id: job_id.map(str::to_string),
            event: event.to_string(),
            outcome: outcome.to_string(),
            detail,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn hash_of(
    id: i64,
    at: &str,
    technician: &str,
    terminal: Option<&str>,
    job: Option<&str>,
    event: &str,
    outcome: &str,
    detail: &str,
    prev: &str,
) -> String {
    let canonical = serde_json::to_string(&(id, at, technician, terminal, job, event, outcome, detail, prev))
        .expect("tuple of strings serialises");
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// The id and hash of the table's last record, if it has one: read by every append and
/// after every commit, so prepared once per connection.
pub(super) fn last_record(conn: &Connection) -> rusqlite::Result<Option<(i64, String)>> {
    conn.prepare_cached("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// Appends a record inside the caller's transaction. It chains from the anchor (the count
/// and hash of the last record written), not from whatever the table ends with: records cut
/// from the end leave a gap the new record does not close, which `audit verify` names, and
/// the write says so in the log.
pub fn append(tx: &Connection, e: &AuditEntry) -> rusqlite::Result<()> {
    // Statements prepared once per connection: every write appends a record.
    let last = last_record(tx)?;
    let anchor: Option<(i64, String)> = tx
        .prepare_cached("SELECT count, hash FROM audit_anchor WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (id, prev) = match (anchor, last) {
        // An anchor of nothing written yet (the store's first state).
        (Some((0, _)), None) | (None, None) => (1, GENESIS.to_string()),
        (Some((n, h)), last) => {
            if last.as_ref().map(|(id, h)| (*id, h.as_str())) != Some((n, h.as_str())) {
                tracing::warn!(
                    "{}",
                    crate::tr!("audit-cut-at-write", count = n, found = last.map_or(0, |(id, _)| id))
                );
            }
            (n + 1, h)
        }
        (None, Some((id, h))) => (id + 1, h),
    };
    let detail = e.detail.to_string();
    let hash = hash_of(
        id,
        &e.at,
        &e.technician,
        e.terminal.as_deref(),
        e.job_id.as_deref(),
        &e.event,
        &e.outcome,
        &detail,
        &prev,
    );
    tx.prepare_cached(
        "INSERT INTO audit (id, at, technician, terminal, job_id, event, outcome, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![id, e.at, e.technician, e.terminal, e.job_id, e.event, e.outcome, detail, prev, hash])?;
    tx.prepare_cached(
        "INSERT INTO audit_anchor (id, count, hash) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET count = excluded.count, hash = excluded.hash",
    )?
    .execute(params![id, hash])?;
    if let Some(job) = &e.job_id {
        tx.prepare_cached("UPDATE jobs SET audit_id = ?2, audit_hash = ?3 WHERE id = ?1")?
            .execute(params![job, id, hash])?;
    }
    Ok(())
}

/// What `audit verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub valid: bool,
    pub records: u64,
    /// The first bad record's id and what is wrong with it.
    pub first_bad: Option<(i64, String)>,
}

impl Store {
    /// Appends a record on its own (for events outside a job step).
    pub fn audit(&mut self, e: &AuditEntry) -> Result<(), StoreError> {
        self.write(|tx| append(tx, e))
    }

    /// The chain's current length and last hash, if it has a record.
    pub(super) fn audit_head(&self) -> Option<(i64, String)> {
        last_record(&self.conn()).ok().flatten()
    }

    /// Records a length and last hash of the chain beside the database.
    pub(super) fn put_audit_head(&self, (n, h): &(i64, String)) {
        if let Some(dir) = self.path.parent() {
            // Best effort: the database's own anchor is the authority; the file is a second copy.
            let _ = crate::private::replace(&dir.join(HEAD_FILE), format!("{n} {h}\n").as_bytes());
        }
    }

    /// Records the chain's current length and last hash beside the database.
    pub fn write_audit_head(&self) {
        if let Some(head) = self.audit_head() {
            self.put_audit_head(&head);
        }
    }

    /// Walks the chain and names the first record that breaks it.
    pub fn verify_audit(&self) -> Result<AuditReport, StoreError> {
        let (mut expected_prev, mut expected_id, mut count) = (GENESIS.to_string(), 1i64, 0u64);
        let mut first_bad = None;
        // The connection is held for the walk only: the checks after it take it again.
        {
            let conn = self.conn();
            let mut stmt = conn
                .prepare("SELECT id, at, technician, terminal, job_id, event, outcome, detail, prev_hash, hash FROM audit ORDER BY id")
                .map_err(self.err())?;
            let mut rows = stmt.query([]).map_err(self.err())?;
            while let Some(r) = rows.next().map_err(self.err())? {
                let get = |i| r.get::<_, String>(i);
                let id: i64 = r.get(0).map_err(self.err())?;
                let (at, technician, event, outcome, detail, prev, hash) =
                    (get(1), get(2), get(5), get(6), get(7), get(8), get(9));
                let (terminal, job): (Option<String>, Option<String>) =
                    (r.get(3).map_err(self.err())?, r.get(4).map_err(self.err())?);
                let [at, technician, event, outcome, detail, prev, hash] =
                    [at, technician, event, outcome, detail, prev, hash].map(|v| v.unwrap_or_default());
                count += 1;
                let problem = if id != expected_id {
                    Some(crate::tr!("audit-gap", expected = expected_id))
                } else if prev != expected_prev {
                    Some(crate::tr!("audit-link-broken"))
                } else if hash_of(
                    id,
                    &at,
                    &technician,
                    terminal.as_deref(),
                    job.as_deref(),
                    &event,
                    &outcome,
                    &detail,
                    &prev,
                ) != hash
                {
                    Some(crate::tr!("audit-edited"))
                } else {
                    None
                };
                if let Some(p) = problem {
                    first_bad = Some((id, p));
                    break;
                }
                expected_prev = hash;
                expected_id = id + 1;
            }
        }
        if first_bad.is_none() {
            first_bad = self.check_anchors(count, &expected_prev)?;
        }
        if first_bad.is_none() {
            first_bad = self.check_head(count, &expected_prev);
        }
        Ok(AuditReport {
            valid: first_bad.is_none(),
            records: count,
            first_bad,
        })
    }

    /// The head as the database keeps it: the anchor row and, for each job, the last
    /// record it wrote. Records cut from the end show as an anchor or a job pointing past
    /// the last record, or at a record with another hash.
    fn check_anchors(&self, count: u64, last_hash: &str) -> Result<Option<(i64, String)>, StoreError> {
        let anchor: Option<(i64, String)> = self
            .conn()
            .query_row("SELECT count, hash FROM audit_anchor WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(self.err())?;
        match anchor {
            None if count > 0 => {
                return Ok(Some((count as i64, crate::tr!("audit-anchor-missing"))));
            }
            Some((n, _)) if n as u64 > count => {
                let msg = crate::tr!("audit-cut-anchor", from = count + 1, to = n);
                return Ok(Some((count as i64 + 1, msg)));
            }
            Some((n, h)) if n as u64 == count && count > 0 && h != last_hash => {
                let msg = crate::tr!("audit-last-differs-anchor");
                return Ok(Some((count as i64, msg)));
            }
            _ => {}
        }
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT j.id, j.audit_id, j.audit_hash, a.hash FROM jobs j LEFT JOIN audit a ON a.id = j.audit_id
                 WHERE j.audit_id IS NOT NULL AND (a.hash IS NULL OR a.hash != j.audit_hash) ORDER BY j.audit_id LIMIT 1",
            )
            .map_err(self.err())?;
        let broken: Option<(String, i64, Option<String>)> = stmt
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(3)?)))
            .optional()
            .map_err(self.err())?;
        Ok(broken.map(|(job, id, found)| {
            let what = if found.is_none() {
                crate::tr!("audit-job-record-missing", record = id, job = job.as_str())
            } else {
                crate::tr!("audit-job-record-differs", record = id, job = job.as_str())
            };
            (id, what)
        }))
    }

    fn check_head(&self, count: u64, last_hash: &str) -> Option<(i64, String)> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let damaged = || Some((count as i64, crate::tr!("audit-head-damaged", file = HEAD_FILE)));
        // Read as any input is: a regular file of a bounded size, else damaged.
        let text = match crate::input::read_text(&dir.join(HEAD_FILE), MAX_HEAD_FILE, HEAD_FILE) {
            Ok(text) => text,
            Err(e) if e.is_not_found() => {
                return (count > 0).then(|| (count as i64, crate::tr!("audit-head-missing", file = HEAD_FILE)));
            }
            Err(_) => return damaged(),
        };
        let Some((n, h)) = text.trim().split_once(' ') else {
            return damaged();
        };
        let Ok(n) = n.parse::<u64>() else {
            return damaged();
        };
        if n > count {
            return Some((count as i64 + 1, crate::tr!("audit-cut-head", from = count + 1, to = n)));
        }
        if n == count && h != last_hash {
            return Some((count as i64, crate::tr!("audit-last-differs-head")));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(n: usize) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        for i in 0..n {
            s.audit(&AuditEntry::new(
                "tech",
                Some("SN-1"),
                None,
                "test",
                "ok",
                serde_json::json!({"i": i}),
            ))
            .unwrap();
        }
        (dir, s)
    }

    #[test]
    fn an_intact_chain_verifies() {
        let (_d, s) = store_with(5);
        let r = s.verify_audit().unwrap();
        assert!(r.valid && r.records == 5, "{r:?}");
    }

    fn head_file(s: &Store) -> std::path::PathBuf {
        s.path.parent().unwrap().join(HEAD_FILE)
    }

    /// The head is read as any input: a FIFO or a link to a device in its place is
    /// reported damaged at once, not waited on or read without end.
    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_device_as_the_head_file_is_damage_not_a_hang() {
        let (_d, s) = store_with(3);
        let head = head_file(&s);
        std::fs::remove_file(&head).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &head).unwrap();
        let r = s.verify_audit().unwrap();
        assert!(!r.valid && r.first_bad.unwrap().1.contains(HEAD_FILE));
        std::fs::remove_file(&head).unwrap();
        let c = std::ffi::CString::new(head.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let r = s.verify_audit().unwrap();
        assert!(!r.valid && r.first_bad.unwrap().1.contains(HEAD_FILE));
    }

    #[test]
    fn cutting_the_last_record_and_the_head_file_is_detected() {
        let (_d, s) = store_with(5);
        s.conn().execute_batch("DELETE FROM audit WHERE id = 5").unwrap();
        std::fs::remove_file(head_file(&s)).unwrap();
        let r = s.verify_audit().unwrap();
        assert!(!r.valid, "{r:?}");
        assert!(r.first_bad.unwrap().1.contains("database anchor"));
    }

    /// Side door: the last records deleted, then any audited command run: the new record
    /// chained from what was left and `audit verify` said intact. It chains from the anchor
    /// now, so the cut stays visible.
    #[test]
    fn records_cut_from_the_end_stay_reported_after_the_next_write() {
        let (_d, mut s) = store_with(4);
        s.conn().execute("DELETE FROM audit WHERE id >= 3", []).unwrap();
        s.audit(&AuditEntry::new("t", None, None, "later", "ok", serde_json::json!({})))
            .unwrap();
        let r = s.verify_audit().unwrap();
        assert!(!r.valid, "{r:?}");
        assert_eq!(r.first_bad.as_ref().map(|b| b.0), Some(5), "{r:?}");
    }

    #[test]
    fn a_missing_or_garbled_head_file_is_reported() {
        let (_d, s) = store_with(3);
        std::fs::write(head_file(&s), "garbage").unwrap();
        let r = s.verify_audit().unwrap();
        assert!(r.first_bad.unwrap().1.contains("is damaged"));
        std::fs::remove_file(head_file(&s)).unwrap();
        let r = s.verify_audit().unwrap();
        assert!(r.first_bad.unwrap().1.contains("is missing"));
    }

    #[test]
    fn a_job_row_still_names_its_last_record_when_anchor_and_head_are_rewritten() {
        let (_d, mut s) = store_with(2);
        let job = crate::store::jobs::tests::job_record("J-1", "SN-1");
        s.create_job(&job).unwrap();
        // Cut the job's record, then make anchor and head agree with what is left.
        s.conn()
            .execute_batch(
                "DELETE FROM audit WHERE id = 3;
                 UPDATE audit_anchor SET count = 2, hash = (SELECT hash FROM audit WHERE id = 2);",
            )
            .unwrap();
        s.write_audit_head();
        let r = s.verify_audit().unwrap();
        assert!(!r.valid, "{r:?}");
        let (id, what) = r.first_bad.unwrap();
        assert_eq!(id, 3);
        assert!(what.contains("job J-1") && what.contains("missing"), "{what}");
    }

    #[test]
    fn edits_deletions_insertions_and_reorders_are_named() {
        let cases: [(&str, i64); 5] = [
            ("UPDATE audit SET outcome = 'failed' WHERE id = 3", 3),
            ("DELETE FROM audit WHERE id = 3", 4),
            (
                "UPDATE audit SET id = id + 100 WHERE id >= 3; UPDATE audit SET id = id - 99 WHERE id >= 103; INSERT INTO audit SELECT 3, at, technician, terminal, job_id, event, outcome, detail, prev_hash, hash FROM audit WHERE id = 2",
                3,
            ),
            (
                "UPDATE audit SET detail = (SELECT detail FROM audit WHERE id = 4), hash = (SELECT hash FROM audit WHERE id = 4) WHERE id = 2",
                2,
            ),
            ("DELETE FROM audit WHERE id = 5", 5),
        ];
        for (sql, bad) in cases {
            let (_d, s) = store_with(5);
            s.conn().execute_batch(sql).unwrap();
            let r = s.verify_audit().unwrap();
            assert!(!r.valid, "{sql}");
            assert_eq!(r.first_bad.as_ref().map(|b| b.0), Some(bad), "{sql}: {r:?}");
        }
    }
}
