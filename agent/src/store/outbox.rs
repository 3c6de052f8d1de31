//! The outbox: what the provider must receive, queued durably until it is delivered.
//! Masked fields are kept as plain JSON; full numbers and ID numbers only sealed.

use rusqlite::{Connection, params};
use serde::Serialize;

use super::{Store, StoreError};

/// A submission to queue.
pub struct NewSubmission {
    /// UUIDv7.
    pub id: String,
    /// Sent with every delivery attempt; the provider applies each key once.
    pub idempotency_key: String,
    pub job_id: String,
    pub order_id: String,
    pub kind: String,
    /// Masked JSON.
    pub payload: serde_json::Value,
    /// Sensitive JSON, sealed with the local key.
    pub sealed: Vec<u8>,
}

/// A queued submission as listed.
#[derive(Debug, Clone, Serialize)]
pub struct Submission {
    pub id: String,
    pub idempotency_key: String,
    pub job_id: String,
    pub order_id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at: String,
    pub receipt: Option<String>,
    pub reason: Option<String>,
    pub created_at: String,
}

/// Inserts inside the caller's transaction.
pub fn insert(tx: &Connection, s: &NewSubmission, at: &str) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO outbox (id, idempotency_key, job_id, order_id, kind, payload, sealed, state, attempts, next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?8, ?8, ?8)",
        params![s.id, s.idempotency_key, s.job_id, s.order_id, s.kind, s.payload.to_string(), s.sealed, at],
    )?;
    Ok(())
}

impl Store {
    /// Every submission, newest first.
    pub fn submissions(&self) -> Result<Vec<Submission>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, idempotency_key, job_id, order_id, kind, payload, state, attempts, next_attempt_at, receipt, reason, created_at
                 FROM outbox ORDER BY created_at DESC, id DESC",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                let payload: String = r.get(5)?;
                Ok(Submission {
                    id: r.get(0)?,
                    idempotency_key: r.get(1)?,
                    job_id: r.get(2)?,
                    order_id: r.get(3)?,
                    kind: r.get(4)?,
                    payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
                    state: r.get(6)?,
                    attempts: r.get(7)?,
                    next_attempt_at: r.get(8)?,
                    receipt: r.get(9)?,
                    reason: r.get(10)?,
                    created_at: r.get(11)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }
}

impl Store {
    /// A submission by id or unique prefix.
    pub fn submission(&self, id: &str) -> Result<Option<Submission>, StoreError> {
        let all = self.submissions()?;
        let mut found = all.into_iter().filter(|s| s.id.starts_with(id));
        Ok(match (found.next(), found.next()) {
            (Some(s), None) => Some(s),
            _ => None,
        })
    }

    /// Puts a rejected or dead submission back in the queue; returns false for other states.
    pub fn retry_submission(&mut self, id: &str, technician: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            let at = super::now();
            let changed = tx.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?2, reason = NULL, updated_at = ?2
                 WHERE id = ?1 AND state IN ('rejected', 'dead')",
                params![id, at],
            )?;
            if changed == 1 {
                let detail = serde_json::json!({ "submission": id });
                super::audit::append(
                    tx,
                    &super::audit::AuditEntry::new(technician, None, None, "queue.retry", "ok", detail),
                )?;
            }
            Ok(changed == 1)
        })
    }
}
