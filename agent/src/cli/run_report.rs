//! What `posagent run` reports: a result per order, the table, the summary and the dry
//! run's report, with the exit code the results call for.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::output::Table;
use super::{CliError, Exit, Output, json_line};
use crate::agent::plan::{self as batch, Ran};
use crate::tr;

/// What happened to one order.
#[derive(Debug, Clone, Serialize)]
pub(super) struct OrderResult {
    pub order: String,
    pub terminal: String,
    /// `done`, `skipped` (done before), `failed`, or `planned` (dry run).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    job: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The receipt to print and sign, for an order that ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<String>,
    #[serde(skip)]
    exit: Option<Exit>,
}

impl From<Ran> for OrderResult {
    fn from(r: Ran) -> OrderResult {
        let failed = r.failure.map(|f| match f {
            batch::Failure::TerminalAbsent(_) | batch::Failure::ReplacementAbsent(_) => {
                CliError::new(Exit::Unavailable, f.to_string())
            }
            batch::Failure::Profile(e) => e.into(),
            batch::Failure::Job(e) => e.into(),
        });
        OrderResult {
            order: r.order,
            terminal: r.terminal,
            status: r.status,
            job: r.job,
            port: r.port.map(|p| p.display().to_string()),
            error: failed.as_ref().map(|e| e.message.clone()),
            receipt: r.receipt,
            exit: failed.map(|e| e.exit),
        }
    }
}

/// A result's status as a person reads it (JSON keeps `done`, `skipped` …).
pub(super) fn result_label(status: &str) -> String {
    match status {
        "done" => tr!("status-done"),
        "skipped" => tr!("status-skipped"),
        "failed" => tr!("status-failed"),
        "planned" => tr!("status-planned"),
        other => other.to_string(),
    }
}

fn table(results: &[OrderResult]) -> String {
    let mut table = Table::new([
        (tr!("col-order"), 16),
        (tr!("col-terminal"), 18),
        (tr!("col-result"), 8),
        (tr!("col-job"), 36),
        (tr!("col-note"), 0),
    ]);
    for r in results {
        table.row([
            r.order.clone(),
            r.terminal.clone(),
            result_label(r.status),
            r.job.clone().unwrap_or_else(|| "-".to_string()),
            r.error.as_deref().or(r.port.as_deref()).unwrap_or("").to_string(),
        ]);
    }
    table.render()
}

/// The exit code for a run with `failed` orders: none when none failed; unavailable when
/// every failure was a terminal or provider not there; else `otherwise`.
fn failed_exit(failed: &[&OrderResult], otherwise: Exit) -> Option<Exit> {
    if failed.is_empty() {
        None
    } else if failed.iter().all(|r| r.exit == Some(Exit::Unavailable)) {
        Some(Exit::Unavailable)
    } else {
        Some(otherwise)
    }
}

pub(super) fn summary(results: &[OrderResult], receipts: &Path, out: &Output) -> Result<(), CliError> {
    let failed: Vec<&OrderResult> = results.iter().filter(|r| r.status == "failed").collect();
    let count = |s: &str| results.iter().filter(|r| r.status == s).count();
    let written = results.iter().filter(|r| r.receipt.is_some()).count();
    let doc = serde_json::json!({
        "event": "summary",
        "ok": failed.is_empty(),
        "done": count("done"),
        "skipped": count("skipped"),
        "failed": failed.len(),
        "receipts": written,
        "receipts_dir": receipts,
    });
    if out.json {
        json_line(&doc);
    } else {
        println!(
            "{}\n{}",
            table(results),
            tr!(
                "run-summary",
                done = count("done"),
                skipped = count("skipped"),
                failed = failed.len()
            )
        );
        if written > 0 {
            println!(
                "{}",
                tr!("run-receipts", count = written, dir = receipts.display().to_string())
            );
        }
    }
    let Some(exit) = failed_exit(&failed, Exit::Failure) else {
        return Ok(());
    };
    Err(
        CliError::new(exit, tr!("run-failed", failed = failed.len(), total = results.len()))
            .code("orders_failed")
            .help(tr!("help-run-failed")),
    )
}

pub(super) fn dry_run_report(
    results: &[OrderResult],
    silent: &[(PathBuf, String)],
    out: &Output,
) -> Result<(), CliError> {
    let mut human = format!("{}\n{}", tr!("run-dry"), table(results));
    for (port, e) in silent {
        let note = tr!(
            "run-no-terminal-on",
            port = port.display().to_string(),
            reason = e.as_str()
        );
        human.push('\n');
        human.push_str(&super::output::wrap_note("  ", &note, super::output::screen_columns()));
    }
    let failed: Vec<&OrderResult> = results.iter().filter(|r| r.status == "failed").collect();
    out.print(
        &human,
        &serde_json::json!({ "ok": failed.is_empty(), "orders": results }),
    );
    let first = failed.iter().find_map(|r| r.exit).unwrap_or(Exit::Failure);
    let Some(exit) = failed_exit(&failed, first) else {
        return Ok(());
    };
    Err(CliError::new(
        exit,
        tr!("run-dry-failed", failed = failed.len(), total = results.len()),
    )
    .code("orders_would_fail")
    .help(tr!("help-run-dry-failed")))
}
