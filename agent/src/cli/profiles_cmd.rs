//! `posagent profiles [list | show NAME]`.

use serde::Serialize;

use super::args::ProfilesCommand;
use super::{CliError, Output, load_profiles};
use crate::config::Paths;
use crate::tr;

#[derive(Serialize)]
struct Row<'a> {
    name: &'a str,
    display_name: &'a str,
    /// The name in the language of the output.
    shown_name: String,
    source: String,
    operations: Vec<String>,
    usb: Vec<String>,
    card_cooldown_days: u32,
}

pub fn run(paths: &Paths, action: Option<ProfilesCommand>, out: &Output) -> Result<(), CliError> {
    let set = load_profiles(paths)?;
    match action.unwrap_or(ProfilesCommand::List) {
        ProfilesCommand::List => {
            let rows: Vec<Row> = set
                .iter()
                .map(|(p, src)| Row {
                    name: &p.name,
                    display_name: &p.display_name,
                    shown_name: p.shown_name(),
                    source: src.to_string(),
                    operations: p.operations.keys().map(|o| o.to_string()).collect(),
                    usb: p.usb.iter().map(|u| u.to_string()).collect(),
                    card_cooldown_days: p.settlement.card_cooldown_days,
                })
                .collect();
            let mut table = super::output::Table::new([
                (tr!("col-name"), 10),
                (tr!("col-provider"), 40),
                (tr!("col-cooldown"), 10),
                (tr!("col-usb"), 0),
            ]);
            for r in &rows {
                table.row([
                    r.name.to_string(),
                    r.shown_name.clone(),
                    tr!("cooldown-days", days = r.card_cooldown_days),
                    r.usb.join(" "),
                ]);
            }
            let human = table.render();
            out.print(&human, &rows);
        }
        ProfilesCommand::Show { name } => {
            let p = set.get(&name)?;
            let human = toml::to_string_pretty(p).map_err(|e| CliError::new(super::Exit::Failure, e.to_string()))?;
            out.print(&human, p);
        }
    }
    Ok(())
}
