//! `posagent devices` and `posagent inspect`.

use std::io::IsTerminal;
use std::path::PathBuf;

use serde::Serialize;

use super::args::{InspectArgs, WhereArgs};
use super::output::{Table, describe_binding, describe_link, field};
use super::{CliError, Exit, Output, load_profiles, secrets};
use crate::agent::Agent;
use crate::config::Paths;
use crate::profile::Profile;
use crate::terminal::{Terminal, discover};
use crate::tr;

/// Lists serial ports with their USB identity and matching profile.
pub fn devices(paths: &Paths, out: &Output) -> Result<(), CliError> {
    let extra = crate::config::Config::load(paths)?.ports.extra;
    let rows = discover::ports(&load_profiles(paths)?, &extra)?;
    let mut table = Table::new([
        (tr!("col-port"), 24),
        (tr!("col-usb-id"), 10),
        (tr!("col-manufacturer"), 24),
        (tr!("col-serial-no"), 16),
        (tr!("col-profile"), 0),
    ]);
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
    for r in &rows {
        table.row([
            r.port.clone(),
            or_dash(&r.usb_id),
            or_dash(&r.manufacturer),
            or_dash(&r.serial_number),
            or_dash(&r.profile),
        ]);
    }
    let human = if rows.is_empty() {
        tr!("ports-none")
    } else {
        table.render()
    };
    out.print(&human, &rows);
    Ok(())
}

/// Where the terminal is and which profile speaks to it: `--port` as given (its profile
/// from `--profile`, else its USB id, else generic), else the one terminal found among the
/// ports, or the one with `serial`; several found without a serial ask on a terminal, or
/// stop with the list (exit 2) where no one can answer.
pub fn locate<'a>(
    agent: &'a Agent,
    at: &WhereArgs,
    profile: Option<&str>,
    out: &Output,
) -> Result<(PathBuf, &'a Profile), CliError> {
    let profiles = agent.profiles();
    let forced = profile.map(|n| profiles.get(n)).transpose()?;
    let choice = discover::choose_among(
        agent.opener(),
        &agent.candidates(&[])?,
        profiles,
        at.port.as_deref(),
        at.serial.as_deref(),
        forced,
    )?;
    let (chosen, profile) = match choice {
        discover::Choice::One {
            port,
            profile,
            found: None,
        } => return Ok((port, profile)),
        discover::Choice::One {
            profile,
            found: Some(f),
            ..
        } => (f, profile),
        discover::Choice::Several(found) => {
            let f = pick(found, out)?;
            let profile = forced.map_or_else(|| profiles.get(&f.profile), Ok)?;
            (f, profile)
        }
    };
    if out.narrates() {
        eprintln!(
            "{}",
            tr!(
                "using-terminal",
                serial = chosen.serial.as_str(),
                vendor = chosen.vendor.as_str(),
                model = chosen.model.as_str(),
                port = chosen.port.display().to_string()
            )
        );
    }
    Ok((chosen.port, profile))
}

/// One line about a terminal found, for the picker and the list.
fn describe_found(f: &discover::Found) -> String {
    tr!(
        "found-terminal",
        port = f.port.display().to_string(),
        usb = f.usb_id.as_deref().unwrap_or("-"),
        serial = f.serial.as_str(),
        vendor = f.vendor.as_str(),
        model = f.model.as_str()
    )
}

/// Several terminals answer: a person chooses, a script is told how to.
fn pick(found: Vec<discover::Found>, out: &Output) -> Result<discover::Found, CliError> {
    let lines: Vec<String> = found.iter().map(describe_found).collect();
    if !out.json && std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        return match choose(&lines)? {
            Some(i) => Ok(found.into_iter().nth(i).expect("an item of the list")),
            None => Err(CliError::new(Exit::Usage, tr!("pick-none")).code("no_terminal_chosen")),
        };
    }
    Err(CliError::new(
        Exit::Usage,
        tr!("several-terminals", count = found.len(), list = lines.join("\n  ")),
    )
    .code("several_terminals")
    .help(tr!("help-several-terminals")))
}

/// Lists `lines` numbered from 1 and asks for a number (Enter: the first); asked again on
/// anything else, three times at most. `None`: none chosen (also at Ctrl-C, or at the end
/// of input, which is no answer, not Enter).
fn choose(lines: &[String]) -> Result<Option<usize>, CliError> {
    eprintln!("{}", tr!("several-terminals-heading", count = lines.len()));
    for (i, line) in lines.iter().enumerate() {
        eprintln!("  {}) {line}", i + 1);
    }
    for _ in 0..3 {
        let Some(answer) = super::screen::ask_line(&format!("{} ", tr!("pick-prompt", count = lines.len())))?
            .filter(|a| !a.is_empty())
        else {
            return Ok(None);
        };
        let answer = answer.trim();
        if answer.is_empty() {
            return Ok(Some(0));
        }
        match answer.parse::<usize>() {
            Ok(n) if (1..=lines.len()).contains(&n) => return Ok(Some(n - 1)),
            _ => eprintln!("{}", tr!("pick-again", answer = answer, count = lines.len())),
        }
    }
    Ok(None)
}

#[derive(Serialize)]
struct Inspected {
    port: String,
    profile: String,
    #[serde(flatten)]
    found: crate::terminal::Inspection,
}

/// Shows a terminal's identity and binding.
pub fn inspect(paths: &Paths, a: &InspectArgs, out: &Output) -> Result<(), CliError> {
    let agent = super::agent(paths)?;
    let (port, profile) = locate(&agent, &a.at, a.profile.as_deref(), out)?;
    let secret = secrets::operator_secret(a.secret.secret_file.as_deref())?;
    let report = Inspected {
        port: port.display().to_string(),
        profile: profile.name.clone(),
        found: Terminal::open_authenticated(&port, &profile.serial, &secret)?.inspect()?,
    };
    let id = &report.found.identity;
    let human = [
        field(
            tr!("field-terminal"),
            tr!(
                "terminal-line",
                vendor = id.vendor.as_str(),
                model = id.model.as_str(),
                serial = id.serial.as_str(),
                firmware = id.firmware.as_str()
            ),
        ),
        describe_binding(&report.found.binding),
        field(
            tr!("field-log"),
            tr!(
                "log-line",
                transactions = report.found.status.transactions,
                unsettled = report.found.status.unsettled
            ),
        ),
        describe_link(&report.found.link),
    ]
    .join("\n");
    out.print(&human, &report);
    Ok(())
}
