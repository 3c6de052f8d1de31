//! `posagent queue [list | show ID | retry ID]`: what waits for the provider.

use super::args::QueueCommand;
use super::{CliError, Exit, Output};
use crate::config::Paths;
use crate::store::Store;

pub fn run(paths: &Paths, action: Option<QueueCommand>, technician: &str, out: &Output) -> Result<(), CliError> {
    let mut store = Store::open(&paths.data)?;
    let not_found = |id: &str| {
        CliError::new(
            Exit::DataErr,
            format!("submission {id} not found (or the prefix is ambiguous); `posagent queue` lists them"),
        )
    };
    match action.unwrap_or(QueueCommand::List) {
        QueueCommand::List => {
            let rows = store.submissions()?;
            let mut human = format!(
                "{:<36}  {:<9} {:>8}  {:<15} {:<16} CREATED",
                "SUBMISSION", "STATE", "ATTEMPTS", "KIND", "ORDER"
            );
            for s in &rows {
                human.push_str(&format!(
                    "\n{:<36}  {:<9} {:>8}  {:<15} {:<16} {}",
                    s.id,
                    s.state,
                    s.attempts,
                    s.kind,
                    s.order_id,
                    super::local_time(&s.created_at)
                ));
            }
            if rows.is_empty() {
                human = "the queue is empty".into();
            }
            out.print(&human, &rows);
        }
        QueueCommand::Show { id } => {
            let s = store.submission(&id)?.ok_or_else(|| not_found(&id))?;
            let mut human = format!(
                "Submission {} ({}) for job {}, order {}\n  state {}, {} attempt(s), next {}\n  idempotency key {}",
                s.id,
                s.kind,
                s.job_id,
                s.order_id,
                s.state,
                s.attempts,
                super::local_time(&s.next_attempt_at),
                s.idempotency_key
            );
            if let Some(r) = &s.reason {
                human.push_str(&format!("\n  provider's reason: {r}"));
            }
            if let Some(c) = &s.code {
                human.push_str(&format!("\n  provider's code: {c}"));
            }
            if let Some(r) = &s.receipt {
                human.push_str(&format!("\n  receipt: {r}"));
            }
            let payload = serde_json::to_string_pretty(&s.payload).unwrap_or_default();
            human.push_str(&format!(
                "\n  payload (sensitive fields sealed, numbers masked):\n{payload}"
            ));
            out.print(&human, &s);
        }
        QueueCommand::Retry { id } => {
            let s = store.submission(&id)?.ok_or_else(|| not_found(&id))?;
            if !store.retry_submission(&s.id, technician)? {
                return Err(CliError::new(
                    Exit::Failure,
                    format!(
                        "submission {} is {}; only rejected or dead submissions can be retried",
                        s.id, s.state
                    ),
                ));
            }
            out.print(
                &format!("submission {} is queued again", s.id),
                &serde_json::json!({ "id": s.id, "state": "pending" }),
            );
        }
    }
    Ok(())
}
