//! `posagent orders [pull | list | show ID]`: the work orders the provider issued.

use serde::Serialize;

use super::args::OrdersCommand;
use super::job_cmd::technician;
use super::{CliError, Exit, Output, local_time, runtime, sync_cmd};
use crate::config::{Config, Paths};
use crate::order::shown_value;
use crate::seal::LocalKeys;
use crate::signed::OrderKeys;
use crate::store::Store;
use crate::sync::client::Client;

/// The provider's order keys from config.toml.
pub fn order_keys(paths: &Paths) -> Result<OrderKeys, CliError> {
    let config = Config::load(paths).map_err(|e| CliError::new(Exit::DataErr, e))?;
    OrderKeys::load(&config.provider.order_key_files, &paths.config).map_err(|e| CliError::new(Exit::DataErr, e))
}

#[derive(Serialize)]
struct Listed<'a> {
    id: &'a str,
    operation: &'a str,
    serial: Option<&'a str>,
    valid_until: &'a str,
    /// `pulled`, `executed` (a job carried it out or is carrying it out) or `expired`.
    state: String,
    due_today: bool,
}

pub fn run(paths: &Paths, action: Option<OrdersCommand>, out: &Output) -> Result<(), CliError> {
    match action.unwrap_or(OrdersCommand::List) {
        OrdersCommand::Pull { provider } => {
            let (settings, _, _) = sync_cmd::settings(paths, &provider)?;
            let keys = order_keys(paths)?;
            if keys.is_empty() {
                return Err(CliError::new(Exit::Usage, "no order keys to check the provider's signatures with")
                    .help("list the provider's public order key files in order_key_files in the [provider] table of config.toml"));
            }
            let client = Client::new(&settings)?;
            let mut store = Store::open(&paths.data)?;
            let local = LocalKeys::load_or_create(&paths.data).map_err(crate::sync::client::SyncError::from)?;
            let tech = technician(paths)?;
            let pulled = runtime()?.block_on(crate::sync::orders::pull(&client, &tech, &keys, &mut store, &local))?;
            let mut human = format!("{} order(s) pulled for {tech} and verified", pulled.kept.len());
            for o in &pulled.kept {
                human.push_str(&format!(
                    "\n  {}  {}  terminal {}",
                    o.id,
                    o.operation,
                    o.serial.as_deref().unwrap_or("-")
                ));
            }
            for (id, why) in &pulled.refused {
                human.push_str(&format!("\n  refused {id}: {why}"));
            }
            out.print(&human, &pulled);
        }
        OrdersCommand::List => {
            let store = Store::open(&paths.data)?;
            let now = crate::store::now();
            let today = chrono::Local::now().date_naive();
            let rows = store.pulled_orders()?;
            let mut listed = Vec::new();
            for o in &rows {
                let state = if store.job_of_order(&o.id)?.is_some() {
                    "executed"
                } else if o.valid_until < now {
                    "expired"
                } else {
                    "pulled"
                };
                let due_today = chrono::DateTime::parse_from_rfc3339(&o.valid_until)
                    .is_ok_and(|t| t.with_timezone(&chrono::Local).date_naive() == today);
                listed.push(Listed {
                    id: &o.id,
                    operation: &o.operation,
                    serial: o.serial.as_deref(),
                    valid_until: &o.valid_until,
                    state: state.to_string(),
                    due_today,
                });
            }
            let mut human = format!(
                "{:<20} {:<15} {:<18} {:<26} STATE",
                "ORDER", "OPERATION", "TERMINAL", "VALID UNTIL"
            );
            for l in &listed {
                human.push_str(&format!(
                    "\n{:<20} {:<15} {:<18} {:<26} {}{}",
                    l.id,
                    l.operation,
                    l.serial.unwrap_or("-"),
                    local_time(l.valid_until),
                    l.state,
                    if l.due_today { " (due today)" } else { "" }
                ));
            }
            if listed.is_empty() {
                human = "no pulled orders; `posagent orders pull` fetches them".into();
            }
            out.print(&human, &listed);
        }
        OrdersCommand::Show { id } => {
            let store = Store::open(&paths.data)?;
            let local = LocalKeys::load_or_create(&paths.data).map_err(crate::sync::client::SyncError::from)?;
            let doc = crate::sync::orders::document(&store, &local, &id)?.ok_or_else(|| {
                CliError::new(Exit::DataErr, format!("no pulled order {id}")).help("`posagent orders` lists them")
            })?;
            let fields: serde_json::Map<String, serde_json::Value> = doc.order["fields"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), shown_value(k, v.as_str().unwrap_or_default()).into()))
                        .collect()
                })
                .unwrap_or_default();
            let mut human = format!(
                "Order {id} for {}, issued {} valid until {}, signed with key {}",
                doc.order["technician"].as_str().unwrap_or("?"),
                local_time(doc.order["issued_at"].as_str().unwrap_or("")),
                local_time(doc.order["valid_until"].as_str().unwrap_or("")),
                doc.key_id
            );
            for (k, v) in &fields {
                human.push_str(&format!("\n  {k:<28} {}", v.as_str().unwrap_or_default()));
            }
            if let Some(checks) = doc.order["checks"].as_object().filter(|c| !c.is_empty()) {
                for (k, v) in checks {
                    human.push_str(&format!("\n  checks.{k:<21} {}", v.as_str().unwrap_or_default()));
                }
            }
            let shown = serde_json::json!({
                "id": id, "technician": doc.order["technician"], "issued_at": doc.order["issued_at"],
                "valid_until": doc.order["valid_until"], "key_id": doc.key_id, "fields": fields, "checks": doc.order["checks"],
            });
            out.print(&human, &shown);
        }
    }
    Ok(())
}
