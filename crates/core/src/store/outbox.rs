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

/// Where a submission stands: `pending` (waiting, perhaps for a retry), `sending` (in a
/// delivery now), `accepted` (final, with the provider's receipt), `rejected` (the
/// provider said no, with its reason), `dead` (out of retries). Stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxState {
    Pending,
    Sending,
    Accepted,
    Rejected,
    Dead,
}

impl OutboxState {
    const ALL: [OutboxState; 5] = [
        OutboxState::Pending,
        OutboxState::Sending,
        OutboxState::Accepted,
        OutboxState::Rejected,
        OutboxState::Dead,
    ];

    /// The state as stored and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sending => "sending",
            OutboxState::Accepted => "accepted",
            OutboxState::Rejected => "rejected",
            OutboxState::Dead => "dead",
        }
    }

    /// The state as a person reads it, in the current language.
    pub fn label(self) -> String {
        match self {
            OutboxState::Pending => crate::tr!("outbox-pending"),
            OutboxState::Sending => crate::tr!("outbox-sending"),
            OutboxState::Accepted => crate::tr!("outbox-accepted"),
            OutboxState::Rejected => crate::tr!("outbox-rejected"),
            OutboxState::Dead => crate::tr!("outbox-dead"),
        }
    }

    /// The state a stored text names; `None` for a text no state has.
    pub fn parse(text: &str) -> Option<OutboxState> {
        OutboxState::ALL.into_iter().find(|s| s.as_str() == text)
    }
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
    pub state: OutboxState,
    pub attempts: u32,
    pub next_attempt_at: String,
    pub receipt: Option<String>,
    /// The provider's machine code for a rejection (`cooldown`, `verification`, …).
    pub code: Option<String>,
    /// Why, as the provider wrote it (or what went wrong with the delivery).
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
    /// Submissions matching `filter` (SQL after the FROM clause, with `?` parameters).
    fn query_submissions(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<Submission>, StoreError> {
        let sql = format!(
            "SELECT id, idempotency_key, job_id, order_id, kind, payload, state, attempts, next_attempt_at, receipt, reason, created_at, code
             FROM outbox {filter}"
        );
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(args, |r| {
                let payload: String = r.get(5)?;
                Ok(Submission {
                    id: r.get(0)?,
                    idempotency_key: r.get(1)?,
                    job_id: r.get(2)?,
                    order_id: r.get(3)?,
                    kind: r.get(4)?,
                    payload: serde_json::from_str(&payload).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, Box::new(e))
                    })?,
                    state: {
                        let text: String = r.get(6)?;
                        OutboxState::parse(&text).ok_or_else(|| {
                            rusqlite::Error::FromSqlConversionFailure(
                                6,
                                rusqlite::types::Type::Text,
                                format!("unknown outbox state '{text}'").into(),
                            )
                        })?
                    },
                    attempts: r.get(7)?,
                    next_attempt_at: r.get(8)?,
                    receipt: r.get(9)?,
                    reason: r.get(10)?,
                    created_at: r.get(11)?,
                    code: r.get(12)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Every submission, newest first.
    pub fn submissions(&self) -> Result<Vec<Submission>, StoreError> {
        self.query_submissions("ORDER BY created_at DESC, id DESC", [])
    }
}

impl Store {
    /// A submission by id or unique prefix.
    pub fn submission(&self, id: &str) -> Result<Option<Submission>, StoreError> {
        let pattern = format!("{}%", id.replace(['%', '_'], ""));
        let mut found = self.query_submissions("WHERE id LIKE ?1 LIMIT 2", [pattern])?;
        Ok(if found.len() == 1 { found.pop() } else { None })
    }

    /// The submission a job left, if it has one.
    pub fn submission_of_job(&self, job_id: &str) -> Result<Option<Submission>, StoreError> {
        Ok(self.query_submissions("WHERE job_id = ?1 LIMIT 1", [job_id])?.pop())
    }

    /// Puts a rejected or dead submission back in the queue; returns false for other states.
    pub fn retry_submission(&mut self, id: &str, technician: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            let at = super::now();
            let changed = tx.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?2, code = NULL, reason = NULL, updated_at = ?2
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

/// What the provider (or the network) said about one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied; the provider's receipt.
    Accepted { receipt: String },
    /// Refused (a final 4xx); the provider's code and reason, as it wrote them.
    Rejected { code: Option<String>, reason: String },
    /// Not delivered (network, 5xx); try again at `next_attempt_at`.
    Retry { reason: String, next_attempt_at: String },
    /// Not delivered, and no more attempts will be made (`queue retry` revives it).
    GiveUp { reason: String },
}

/// A submission claimed for delivery, with its sealed fields.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub submission: Submission,
    pub sealed: Vec<u8>,
}

impl Store {
    /// Marks up to `limit` due submissions as `sending` (one more attempt) and returns them.
    pub fn claim_due(&mut self, now: &str, limit: usize) -> Result<Vec<Claimed>, StoreError> {
        let due: Vec<(String, Vec<u8>)> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare(
                    "SELECT id, sealed FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?1
                     ORDER BY created_at, id LIMIT ?2",
                )
                .map_err(self.err())?;
            let rows = stmt
                .query_map(params![now, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(self.err())?;
            rows.collect::<Result<_, _>>().map_err(self.err())?
        };
        self.write(|tx| {
            for (id, _) in &due {
                tx.execute(
                    "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ?2 WHERE id = ?1 AND state = 'pending'",
                    params![id, now],
                )?;
            }
            Ok(())
        })?;
        let mut claimed = Vec::with_capacity(due.len());
        for (id, sealed) in due {
            if let Some(submission) = self.query_submissions("WHERE id = ?1", [&id])?.pop() {
                claimed.push(Claimed { submission, sealed });
            }
        }
        Ok(claimed)
    }

    /// After a crash, submissions left `sending` go back to `pending`: the provider applies
    /// each idempotency key once, so sending them again is safe. Returns how many.
    pub fn recover_sending(&mut self) -> Result<usize, StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE outbox SET state = 'pending', updated_at = ?1 WHERE state = 'sending'",
                [super::now()],
            )
        })
    }

    /// Records the outcomes of one delivery attempt, in one transaction; returns each
    /// submission's new state in the same order.
    pub fn record_outcomes(&mut self, outcomes: &[(String, Outcome)]) -> Result<Vec<String>, StoreError> {
        self.write(|tx| {
            let at = super::now();
            let mut states = Vec::with_capacity(outcomes.len());
            for (id, outcome) in outcomes {
                let (state, event) = match outcome {
                    Outcome::Accepted { receipt } => {
                        tx.execute(
                            "UPDATE outbox SET state = 'accepted', receipt = ?2, code = NULL, reason = NULL, updated_at = ?3 WHERE id = ?1",
                            params![id, receipt, at],
                        )?;
                        ("accepted", Some("sync.accepted"))
                    }
                    Outcome::Rejected { code, reason } => {
                        tx.execute(
                            "UPDATE outbox SET state = 'rejected', code = ?2, reason = ?3, updated_at = ?4 WHERE id = ?1",
                            params![id, code, reason, at],
                        )?;
                        ("rejected", Some("sync.rejected"))
                    }
                    Outcome::Retry { reason, next_attempt_at } => {
                        tx.execute(
                            "UPDATE outbox SET state = 'pending', reason = ?2, next_attempt_at = ?3, updated_at = ?4 WHERE id = ?1",
                            params![id, reason, next_attempt_at, at],
                        )?;
                        ("pending", None)
                    }
                    Outcome::GiveUp { reason } => {
                        tx.execute(
                            "UPDATE outbox SET state = 'dead', reason = ?2, updated_at = ?3 WHERE id = ?1",
                            params![id, reason, at],
                        )?;
                        ("dead", Some("sync.dead"))
                    }
                };
                if let Some(event) = event {
                    let detail = serde_json::json!({ "submission": id });
                    super::audit::append(tx, &super::audit::AuditEntry::new("sync", None, None, event, state, detail))?;
                }
                states.push(state.to_string());
            }
            Ok(states)
        })
    }

    /// Undoes a claim whose request never reached the provider (the attempt is not counted).
    pub fn release(&mut self, ids: &[String]) -> Result<(), StoreError> {
        self.write(|tx| {
            let at = super::now();
            for id in ids {
                tx.execute(
                    "UPDATE outbox SET state = 'pending', attempts = MAX(attempts - 1, 0), updated_at = ?2
                     WHERE id = ?1 AND state = 'sending'",
                    params![id, at],
                )?;
            }
            Ok(())
        })
    }

    /// Whether a pending submission is due at `now`.
    pub fn has_due(&self, now: &str) -> Result<bool, StoreError> {
        self.conn()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?1)",
                [now],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// When the earliest pending submission is due, if any is pending.
    pub fn next_attempt_at(&self) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row(
                "SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Submissions by state, with when the next retry is due.
    pub fn queue_state(&self) -> Result<QueueState, StoreError> {
        Ok(QueueState {
            counts: self.outbox_counts()?,
            next_attempt_at: self.next_attempt_at()?,
        })
    }

    /// How many submissions are in each state.
    pub fn outbox_counts(&self) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT state, COUNT(*) FROM outbox GROUP BY state")
            .map_err(self.err())?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }
}

/// How the outbox stands.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueueState {
    /// Submissions by state (`pending`, `sending`, `accepted` …).
    pub counts: std::collections::BTreeMap<String, i64>,
    /// When the next retry of a pending submission is due.
    pub next_attempt_at: Option<String>,
}

impl QueueState {
    /// Submissions in `state`.
    pub fn count(&self, state: &str) -> i64 {
        self.counts.get(state).copied().unwrap_or(0)
    }

    /// Submissions still to deliver (pending, or left in flight by a killed run).
    pub fn waiting(&self) -> i64 {
        self.count("pending") + self.count("sending")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::jobs::tests::job_record;

    fn store_with_submissions(n: usize) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        for i in 0..n {
            let job = job_record(&format!("job-{i}"), &format!("SN-{i}"));
            s.create_job(&job).unwrap();
            let sub = NewSubmission {
                id: format!("sub-{i}"),
                idempotency_key: format!("job-job-{i}"),
                job_id: job.id.clone(),
                order_id: job.order_id.clone(),
                kind: "unbind".into(),
                payload: serde_json::json!({}),
                sealed: vec![1, 2, 3],
            };
            s.finish_job(&job, &sub, &[]).unwrap();
        }
        (dir, s)
    }

    const LATER: &str = "2999-01-01T00:00:00.000Z";

    /// A state or payload no posagent writes is an error when read, not a guess.
    #[test]
    fn an_unknown_state_or_a_damaged_payload_is_refused_on_reading() {
        let (_d, s) = store_with_submissions(1);
        assert_eq!(s.submissions().unwrap()[0].state, OutboxState::Pending);
        // The table's CHECK keeps such a state out; a file edited by hand may not have it.
        s.conn().execute_batch("PRAGMA ignore_check_constraints = ON").unwrap();
        s.conn().execute("UPDATE outbox SET state = 'parked'", []).unwrap();
        let e = s.submissions().unwrap_err().to_string();
        assert!(e.contains("unknown outbox state 'parked'"), "{e}");
        s.conn()
            .execute("UPDATE outbox SET state = 'pending', payload = '{not json'", [])
            .unwrap();
        assert!(s.submissions().is_err(), "a damaged payload is not read as null");
    }

    #[test]
    fn claiming_marks_sending_and_counts_the_attempt() {
        let (_d, mut s) = store_with_submissions(3);
        let claimed = s.claim_due(LATER, 2).unwrap();
        assert_eq!(claimed.len(), 2);
        assert_eq!(claimed[0].sealed, vec![1, 2, 3]);
        let all = s.submissions().unwrap();
        assert_eq!(
            all.iter()
                .filter(|x| x.state == OutboxState::Sending && x.attempts == 1)
                .count(),
            2
        );
        assert_eq!(s.claim_due(LATER, 10).unwrap().len(), 1, "only the one still pending");
        assert_eq!(s.submission_of_job("job-1").unwrap().unwrap().id, "sub-1");
        assert!(s.submission_of_job("job-9").unwrap().is_none());
        assert!(
            s.claim_due("2000-01-01T00:00:00.000Z", 10).unwrap().is_empty(),
            "nothing due before its time"
        );
    }

    #[test]
    fn a_released_claim_costs_no_attempt_and_due_times_are_reported() {
        let (_d, mut s) = store_with_submissions(2);
        assert!(s.has_due(LATER).unwrap());
        let claimed = s.claim_due(LATER, 10).unwrap();
        assert!(!s.has_due(LATER).unwrap(), "claimed ones are not due");
        assert_eq!(s.next_attempt_at().unwrap(), None);
        let ids: Vec<String> = claimed.iter().map(|c| c.submission.id.clone()).collect();
        s.release(&ids).unwrap();
        assert!(
            s.submissions()
                .unwrap()
                .iter()
                .all(|x| x.state == OutboxState::Pending && x.attempts == 0)
        );
        let later = Outcome::Retry {
            reason: "503".into(),
            next_attempt_at: "2998-01-01T00:00:00.000Z".into(),
        };
        s.claim_due(LATER, 10).unwrap();
        s.record_outcomes(&[(ids[0].clone(), later.clone()), (ids[1].clone(), later)])
            .unwrap();
        assert_eq!(
            s.next_attempt_at().unwrap().as_deref(),
            Some("2998-01-01T00:00:00.000Z")
        );
        assert!(!s.has_due("2997-12-31T23:59:59.999Z").unwrap());
        assert_eq!(s.outbox_counts().unwrap().get("pending"), Some(&2));
    }

    #[test]
    fn a_crash_mid_send_puts_submissions_back_in_the_queue() {
        let (_d, mut s) = store_with_submissions(2);
        s.claim_due(LATER, 10).unwrap();
        assert_eq!(s.recover_sending().unwrap(), 2);
        assert_eq!(s.claim_due(LATER, 10).unwrap().len(), 2);
    }

    #[test]
    fn outcomes_set_the_state_and_the_retry_budget_ends_in_dead() {
        let (_d, mut s) = store_with_submissions(3);
        s.claim_due(LATER, 10).unwrap();
        assert_eq!(
            s.record_outcomes(&[("sub-0".into(), Outcome::Accepted { receipt: "R-1".into() })])
                .unwrap(),
            ["accepted"]
        );
        assert_eq!(
            s.record_outcomes(&[(
                "sub-1".into(),
                Outcome::Rejected {
                    code: Some("cooldown".into()),
                    reason: "changed too recently".into()
                }
            )])
            .unwrap(),
            ["rejected"]
        );
        let retry = Outcome::Retry {
            reason: "503".into(),
            next_attempt_at: "2000-01-01T00:00:00.000Z".into(),
        };
        assert_eq!(
            s.record_outcomes(&[("sub-2".into(), retry.clone())]).unwrap(),
            ["pending"]
        );
        s.claim_due(LATER, 10).unwrap();
        let give_up = Outcome::GiveUp { reason: "503".into() };
        assert_eq!(s.record_outcomes(&[("sub-2".into(), give_up)]).unwrap(), ["dead"]);
        let all = s.submissions().unwrap();
        let by_id = |id: &str| all.iter().find(|x| x.id == id).unwrap().clone();
        assert_eq!(by_id("sub-0").receipt.as_deref(), Some("R-1"));
        assert_eq!(by_id("sub-1").code.as_deref(), Some("cooldown"));
        assert_eq!(by_id("sub-1").reason.as_deref(), Some("changed too recently"));
        assert!(s.retry_submission("sub-2", "t").unwrap(), "dead ones can be revived");
        assert!(s.verify_audit().unwrap().valid);
    }
}
