//! `posagent devices` and `posagent inspect`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::args::{InspectArgs, WhereArgs};
use super::{CliError, Exit, Output, load_profiles, secrets};
use crate::config::Paths;
use crate::link::LinkStats;
use crate::profile::{Profile, ProfileSet, UsbId};
use crate::terminal::Secret;
use crate::terminal::model::{Binding, Identity, Status};
use crate::terminal::{Terminal, TerminalError, discover};

/// Exit code and next step for a terminal error.
pub fn terminal_exit(e: &TerminalError) -> (Exit, &'static str) {
    match e {
        TerminalError::Unavailable { .. } => (
            Exit::Unavailable,
            "check the cable and the port name (`posagent devices` lists ports), then try again",
        ),
        TerminalError::WrongSecret { .. } => (
            Exit::NoPerm,
            "check the operator secret; repeated failures lock the terminal",
        ),
        TerminalError::LockedOut { .. } => (Exit::NoPerm, "wait for the lockout to end; do not retry with guesses"),
        TerminalError::NotGenuine => (
            Exit::NoPerm,
            "check the secret; if it is right, stop: the device may not be genuine",
        ),
        TerminalError::Refused { .. } => (Exit::Failure, "see the terminal's reason above"),
        TerminalError::AnotherUnit { .. } => (Exit::Unavailable, "plug the right terminal back in, then resume"),
        TerminalError::NotFound(_) => (
            Exit::Unavailable,
            "check the cable; extra places to look can be given in POSAGENT_PORTS (globs separated by ':')",
        ),
        TerminalError::Invalid(_) | TerminalError::Verification { .. } => (
            Exit::Failure,
            "try again; if it repeats, the terminal or cable is faulty",
        ),
    }
}

impl From<TerminalError> for CliError {
    fn from(e: TerminalError) -> Self {
        let (exit, help) = terminal_exit(&e);
        CliError::new(exit, e.to_string()).help(help)
    }
}

#[derive(Serialize)]
struct DeviceRow {
    port: String,
    kind: &'static str,
    usb_id: Option<String>,
    manufacturer: Option<String>,
    product: Option<String>,
    serial_number: Option<String>,
    profile: Option<String>,
}

/// Lists serial ports with their USB identity and matching profile.
pub fn devices(paths: &Paths, out: &Output) -> Result<(), CliError> {
    let profiles = load_profiles(paths)?;
    let ports = serialport::available_ports()
        .map_err(|e| CliError::new(Exit::Failure, format!("cannot list serial ports: {e}")))?;
    let rows: Vec<DeviceRow> = ports
        .into_iter()
        .map(|p| match p.port_type {
            serialport::SerialPortType::UsbPort(u) => DeviceRow {
                port: p.port_name,
                kind: "usb",
                usb_id: Some(UsbId { vid: u.vid, pid: u.pid }.to_string()),
                manufacturer: u.manufacturer,
                product: u.product,
                serial_number: u.serial_number,
                profile: profiles
                    .match_usb(UsbId { vid: u.vid, pid: u.pid })
                    .map(|p| p.name.clone()),
            },
            other => DeviceRow {
                port: p.port_name,
                kind: match other {
                    serialport::SerialPortType::PciPort => "pci",
                    serialport::SerialPortType::BluetoothPort => "bluetooth",
                    _ => "unknown",
                },
                usb_id: None,
                manufacturer: None,
                product: None,
                serial_number: None,
                profile: None,
            },
        })
        .collect();
    let mut human = format!(
        "{:<24} {:<10} {:<24} {:<16} PROFILE",
        "PORT", "USB ID", "MANUFACTURER", "SERIAL NO."
    );
    for r in &rows {
        human.push_str(&format!(
            "\n{:<24} {:<10} {:<24} {:<16} {}",
            r.port,
            r.usb_id.as_deref().unwrap_or("-"),
            r.manufacturer.as_deref().unwrap_or("-"),
            r.serial_number.as_deref().unwrap_or("-"),
            r.profile.as_deref().unwrap_or("-")
        ));
    }
    if rows.is_empty() {
        human = "no serial ports found; check the cable and that you are in the dialout group".into();
    }
    out.print(&human, &rows);
    Ok(())
}

/// Where the terminal is and which profile speaks to it: `--port` as given (its profile
/// from `--profile`, else its USB id, else generic), else the one terminal found among the
/// ports, or the one with `serial`; several found without a serial ask on a terminal, or
/// stop with the list (exit 2) where no one can answer.
pub fn locate<'a>(
    paths: &Paths,
    profiles: &'a ProfileSet,
    at: &WhereArgs,
    profile: Option<&str>,
    out: &Output,
) -> Result<(PathBuf, &'a Profile), CliError> {
    let (port, serial) = (at.port.as_deref(), at.serial.as_deref());
    let forced = profile.map(|n| profiles.get(n)).transpose()?;
    let config = crate::config::Config::load(paths).map_err(|e| CliError::new(Exit::DataErr, e))?;
    let candidates =
        discover::candidates_from(&config.ports.extra).map_err(|e| CliError::new(Exit::DataErr, e.to_string()))?;
    if let Some(p) = port {
        let by_usb = candidates
            .iter()
            .find(|c| c.port == p)
            .and_then(|c| c.usb)
            .and_then(|u| profiles.match_usb(u));
        return Ok((
            p.to_path_buf(),
            forced.or(by_usb).map_or_else(|| profiles.get("generic"), Ok)?,
        ));
    }
    let mut found = discover::find(&candidates, profiles, forced);
    if let Some(sn) = serial {
        let wanted = crate::order::parse_serial(sn).unwrap_or_else(|_| sn.to_string());
        found.retain(|f| f.serial == wanted);
        if found.is_empty() {
            return Err(CliError::new(
                Exit::Unavailable,
                format!(
                    "no terminal with serial {sn} answers on the {} port(s) looked at",
                    candidates.len()
                ),
            )
            .help("check the cable; `posagent devices` lists the ports; more places to look go in POSAGENT_PORTS"));
        }
    }
    let chosen = match found.len() {
        0 => {
            return Err(CliError::new(Exit::Unavailable, "no terminal answers on any port")
                .help("check the cable and `posagent devices`; name the port with --port P"));
        }
        1 => found.remove(0),
        _ => pick(found, out)?,
    };
    if out.narrates() {
        eprintln!(
            "Using terminal {} ({} {}) on {}",
            chosen.serial,
            chosen.vendor,
            chosen.model,
            chosen.port.display()
        );
    }
    let profile = forced.map_or_else(|| profiles.get(&chosen.profile), Ok)?;
    Ok((chosen.port, profile))
}

/// One line about a terminal found, for the picker and the list.
fn describe_found(f: &discover::Found) -> String {
    format!(
        "{}  USB {}  serial {}  {} {}",
        f.port.display(),
        f.usb_id.as_deref().unwrap_or("-"),
        f.serial,
        f.vendor,
        f.model
    )
}

/// Several terminals answer: a person chooses, a script is told how to.
fn pick(found: Vec<discover::Found>, out: &Output) -> Result<discover::Found, CliError> {
    let lines: Vec<String> = found.iter().map(describe_found).collect();
    if !out.json && std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let choice = dialoguer::Select::new()
            .with_prompt("Several terminals answer; which one?")
            .items(&lines)
            .default(0)
            .interact_on_opt(&dialoguer::console::Term::stderr())
            .map_err(|e| CliError::new(Exit::Failure, format!("cannot ask which terminal: {e}")))?;
        return match choice {
            Some(i) => Ok(found.into_iter().nth(i).expect("an item of the list")),
            None => Err(CliError::new(Exit::Usage, "no terminal chosen; nothing was done")),
        };
    }
    Err(CliError::new(
        Exit::Usage,
        format!("{} terminals answer:\n  {}", found.len(), lines.join("\n  ")),
    )
    .help("choose one with --port P or --serial SN"))
}

/// Opens a terminal and authenticates.
pub fn connect(port: &Path, profile: &Profile, secret: &Secret) -> Result<Terminal, CliError> {
    let mut t = Terminal::open(port, &profile.serial)?;
    t.authenticate(secret)?;
    Ok(t)
}

#[derive(Serialize)]
struct Inspection {
    port: String,
    profile: String,
    identity: Identity,
    status: Status,
    binding: Binding,
    link: LinkStats,
}

/// Human lines for a binding, numbers masked.
pub fn describe_binding(b: &Binding) -> String {
    let mut s = format!("Status    {}", b.status);
    if let (Some(mid), Some(tid)) = (&b.mid, &b.tid) {
        s.push_str(&format!("\nMID       {mid}    TID {tid}"));
    }
    if let Some(n) = &b.merchant_name {
        s.push_str(&format!("\nMerchant  {n}"));
    }
    if let Some(c) = &b.card {
        s.push_str(&format!(
            "\nCard      {}  {}  exp {}",
            c.pan,
            c.holder,
            c.expiry.as_deref().unwrap_or("-")
        ));
    }
    if let Some(a) = &b.account {
        s.push_str(&format!(
            "\nAccount   {}  {}  {} ({})",
            a.number, a.holder, a.bank, a.branch
        ));
    }
    if let Some(p) = &b.phone {
        s.push_str(&format!("\nPhone     {p}"));
    }
    s
}

/// Human line for link counters.
pub fn describe_link(l: &LinkStats) -> String {
    format!(
        "Link      {} bytes out, {} in, {} frames, {} retransmission(s), {} reconnect(s), {:.2} s",
        l.wire_bytes_out,
        l.wire_bytes_in,
        l.frames_out + l.frames_in,
        l.retransmissions,
        l.reconnects,
        l.elapsed_seconds
    )
}

/// Shows a terminal's identity and binding.
pub fn inspect(paths: &Paths, a: &InspectArgs, out: &Output) -> Result<(), CliError> {
    let profiles = load_profiles(paths)?;
    let (port, profile) = locate(paths, &profiles, &a.at, a.profile.as_deref(), out)?;
    let secret = secrets::operator_secret(a.secret.secret_file.as_deref())?;
    let mut t = connect(&port, profile, &secret)?;
    let identity = t.identify()?;
    let status = t.status()?;
    let binding = t.read_binding()?;
    let report = Inspection {
        port: port.display().to_string(),
        profile: profile.name.clone(),
        identity,
        status,
        binding,
        link: t.stats(),
    };
    let id = &report.identity;
    let human = format!(
        "Terminal  {} {}  serial {}  firmware {}\n{}\nLog       {} transaction(s), {} unsettled\n{}",
        id.vendor,
        id.model,
        id.serial,
        id.firmware,
        describe_binding(&report.binding),
        report.status.transactions,
        report.status.unsettled,
        describe_link(&report.link)
    );
    out.print(&human, &report);
    Ok(())
}
