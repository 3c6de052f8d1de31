//! `posagent queue [list | show ID | retry ID]`: what waits for the provider.

use super::args::QueueCommand;
use super::output::Table;
use super::{CliError, Exit, Output};
use crate::config::Paths;
use crate::store::Store;
use crate::tr;

pub fn run(paths: &Paths, action: Option<QueueCommand>, technician: &str, out: &Output) -> Result<(), CliError> {
    let mut store = Store::open(&paths.data)?;
    let not_found = |id: &str| {
        CliError::new(Exit::DataErr, tr!("submission-not-found", submission = id))
            .code("submission_not_found")
            .help(tr!("help-queue-list"))
    };
    match action.unwrap_or(QueueCommand::List) {
        QueueCommand::List => {
            let rows = store.submissions()?;
            let mut table = Table::new([
                (tr!("col-submission"), 8),
                (tr!("col-state"), 0),
                (tr!("col-attempts"), 0),
                (tr!("col-kind"), 0),
                (tr!("col-order"), 0),
                (tr!("col-created"), 0),
            ])
            .whole(0);
            // Ids as short as tells them apart: `queue show` takes a prefix.
            let ids = super::output::short_ids(&rows.iter().map(|s| s.id.as_str()).collect::<Vec<_>>());
            for (s, id) in rows.iter().zip(ids) {
                table.row([
                    id,
                    s.state.label(),
                    s.attempts.to_string(),
                    crate::job::operation_label(&s.kind),
                    s.order_id.clone(),
                    super::local_time(&s.created_at),
                ]);
            }
            let human = if rows.is_empty() {
                tr!("queue-empty")
            } else {
                table.render()
            };
            out.print(&human, &rows);
        }
        QueueCommand::Show { id } => {
            let s = store.submission(&id)?.ok_or_else(|| not_found(&id))?;
            let mut human = tr!(
                "submission-show",
                submission = s.id.as_str(),
                kind = crate::job::operation_label(&s.kind.to_string()),
                job = s.job_id.as_str(),
                order = s.order_id.as_str(),
                state = s.state.label(),
                attempts = s.attempts,
                next = super::local_time(&s.next_attempt_at),
                key = s.idempotency_key.as_str()
            );
            if let Some(r) = &s.reason {
                human.push_str(&format!("\n  {}", tr!("submission-reason", reason = r.as_str())));
            }
            if let Some(c) = &s.code {
                human.push_str(&format!("\n  {}", tr!("submission-code", code = c.as_str())));
            }
            if let Some(r) = &s.receipt {
                human.push_str(&format!("\n  {}", tr!("submission-receipt", receipt = r.as_str())));
            }
            let payload = serde_json::to_string_pretty(&s.payload).unwrap_or_default();
            human.push_str(&format!("\n  {}\n{payload}", tr!("submission-payload")));
            out.print(&human, &s);
        }
        QueueCommand::Retry { id } => {
            let s = store.submission(&id)?.ok_or_else(|| not_found(&id))?;
            if !store.retry_submission(&s.id, technician)? {
                return Err(CliError::new(
                    Exit::Failure,
                    tr!(
                        "submission-not-retryable",
                        submission = s.id.as_str(),
                        state = s.state.label()
                    ),
                )
                .code("not_retryable")
                .help(tr!("help-not-retryable", submission = s.id.as_str())));
            }
            out.print(
                &tr!("submission-requeued", submission = s.id.as_str()),
                &serde_json::json!({ "id": s.id, "state": "pending" }),
            );
        }
    }
    Ok(())
}
