//! `posagent orders [pull | list | show ID]`: the work orders the provider issued.

use super::args::OrdersCommand;
use super::output::{Table, labelled};
use super::{CliError, Exit, Output, local_time, runtime, sync_cmd};
use crate::config::Paths;
use crate::store::Store;
use crate::tr;

pub fn run(paths: &Paths, action: Option<OrdersCommand>, out: &Output) -> Result<(), CliError> {
    match action.unwrap_or(OrdersCommand::List) {
        OrdersCommand::Pull { provider } => {
            let (pulled, tech) = runtime()?.block_on(crate::sync::orders::pull_configured(
                paths,
                sync_cmd::overrides(&provider),
            ))?;
            let mut human = tr!("orders-pulled", count = pulled.kept.len(), technician = tech.as_str());
            for o in &pulled.kept {
                human.push_str(&format!(
                    "\n  {}",
                    tr!(
                        "orders-pulled-line",
                        order = o.id.as_str(),
                        operation = crate::job::operation_label(&o.operation),
                        terminal = o.serial.as_deref().unwrap_or("-")
                    )
                ));
            }
            for (id, why) in &pulled.refused {
                human.push_str(&format!(
                    "\n  {}",
                    tr!("orders-refused-line", order = id.as_str(), reason = why.to_string())
                ));
            }
            out.print(&human, &pulled);
        }
        OrdersCommand::List => {
            let listed = crate::sync::orders::standings(&Store::open(&paths.data)?, &paths.data)?;
            let mut table = Table::new([
                (tr!("col-order"), 20),
                (tr!("col-operation"), 15),
                (tr!("col-terminal"), 18),
                (tr!("col-valid-until"), 26),
                (tr!("col-state"), 0),
            ]);
            for l in &listed {
                let state = match &l.job {
                    Some(job) => format!("{} {job}", l.state.label()),
                    None => l.state.label(),
                };
                table.row([
                    l.id.to_string(),
                    crate::job::operation_label(&l.operation),
                    l.serial.as_deref().unwrap_or("-").to_string(),
                    local_time(&l.valid_until),
                    if l.due_today {
                        tr!("pulled-due-today", state = state)
                    } else {
                        state
                    },
                ]);
            }
            let human = if listed.is_empty() {
                tr!("orders-none")
            } else {
                table.render()
            };
            out.print(&human, &listed);
        }
        OrdersCommand::Show { id } => {
            let doc = crate::sync::orders::Ready::open(paths)?.document(&id)?.ok_or_else(|| {
                CliError::new(Exit::DataErr, tr!("orders-not-found", order = id.as_str()))
                    .code("order_not_found")
                    .help(tr!("help-orders-not-found"))
            })?;
            let shown = doc.shown();
            let mut human = tr!(
                "orders-show",
                order = id.as_str(),
                technician = crate::config::technician_shown(&shown.technician),
                issued = local_time(&shown.issued_at),
                until = local_time(&shown.valid_until),
                key = shown.key_id.as_str()
            );
            for (k, v) in &shown.fields {
                let value = crate::procedure::value_word(k, v).unwrap_or_else(|| v.clone());
                human.push_str(&format!(
                    "\n  {}",
                    labelled(&crate::procedure::field_label(k), &value, 28)
                ));
            }
            for (k, v) in &shown.checks {
                human.push_str(&format!("\n  {}", labelled(&crate::procedure::check_label(k), v, 28)));
            }
            out.print(&human, &shown);
        }
    }
    Ok(())
}
