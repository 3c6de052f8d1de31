//! Finding terminals: which serial numbers answer on which ports. The ports to look at are
//! the machine's serial ports plus extra places given as globs (`POSAGENT_PORTS`, globs
//! separated by `:`, `;` on Windows), which is how pseudo-terminals and network serial devices are found.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Terminal, TerminalError};
use crate::link::port::Opener;
use crate::profile::{Profile, ProfileSet, SerialSettings, UsbId};

/// Environment variable with extra places to look for terminals: globs separated by `:` (`;` on Windows).
pub const PORTS_ENV: &str = "POSAGENT_PORTS";

/// The ports could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{}", crate::tr!("ports-unlisted", reason = .0.as_str()))]
    List(String),
    #[error("{}", crate::tr!("ports-bad-pattern", env = PORTS_ENV, glob = .glob.as_str(), reason = .message.as_str()))]
    Pattern { glob: String, message: String },
    #[error("{}", crate::tr!("ports-serial-absent", serial = .serial.as_str(), looked = .looked.as_str()))]
    NotFound { serial: String, looked: String },
}

/// A port worth probing, with the USB id the system reports for it (none for a
/// pseudo-terminal or a port found through a glob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub port: PathBuf,
    pub usb: Option<UsbId>,
}

/// What separates the places in `POSAGENT_PORTS`: `:` as in `PATH` on Unix, `;` on
/// Windows (where `:` is part of a drive name).
pub const PORTS_SEPARATOR: char = if cfg!(windows) { ';' } else { ':' };

/// The serial ports the machine lists. On Linux the list is read from `/sys/class/tty`,
/// and `serialport` panics where that cannot be read (a container without sysfs): there
/// the machine lists none, and the places `[ports] extra` and `POSAGENT_PORTS` name are
/// all there is.
pub fn machine_ports() -> Result<Vec<serialport::SerialPortInfo>, DiscoverError> {
    machine_ports_under(Path::new("/sys/class/tty"))
}

fn machine_ports_under(sys: &Path) -> Result<Vec<serialport::SerialPortInfo>, DiscoverError> {
    if cfg!(target_os = "linux") && std::fs::read_dir(sys).is_err() {
        return Ok(Vec::new());
    }
    serialport::available_ports().map_err(|e| DiscoverError::List(e.to_string()))
}

/// Every port worth probing, with USB ids: the machine's serial ports, then the places
/// `extra` (config `[ports] extra`) and `POSAGENT_PORTS` name as globs (on Windows, names
/// without wildcards such as `COM5` as they are).
pub fn candidates_from(extra: &[String]) -> Result<Vec<Candidate>, DiscoverError> {
    candidates_among(&machine_ports()?, extra)
}

/// [`candidates_from`], the machine's ports being `machine`.
fn candidates_among(machine: &[serialport::SerialPortInfo], extra: &[String]) -> Result<Vec<Candidate>, DiscoverError> {
    let mut found: Vec<Candidate> = machine
        .iter()
        .map(|p| Candidate {
            usb: usb_of(p),
            port: PathBuf::from(&p.port_name),
        })
        .collect();
    let env = std::env::var(PORTS_ENV).unwrap_or_default();
    let patterns = extra.iter().map(String::as_str).chain(env.split(PORTS_SEPARATOR));
    for pattern in patterns.filter(|g| !g.is_empty()) {
        // A device name such as COM5 is no file a glob could find on Windows: taken as is.
        if cfg!(windows) && !pattern.contains(['*', '?', '[']) {
            found.push(Candidate {
                port: PathBuf::from(pattern),
                usb: None,
            });
            continue;
        }
        let paths = glob::glob(pattern).map_err(|e| DiscoverError::Pattern {
            glob: pattern.to_string(),
            message: e.to_string(),
        })?;
        found.extend(paths.filter_map(Result::ok).map(|port| Candidate { port, usb: None }));
    }
    found.sort_by(|a, b| a.port.cmp(&b.port));
    found.dedup_by(|a, b| a.port == b.port);
    Ok(found)
}

/// Every port worth probing (see [`candidates_from`]), without extra globs from config.
pub fn candidates() -> Result<Vec<PathBuf>, DiscoverError> {
    Ok(candidates_from(&[])?.into_iter().map(|c| c.port).collect())
}

/// The ports `opener` reaches: all it knows of, else the machine's (see
/// [`candidates_from`]).
pub fn candidates_of(opener: &Arc<dyn Opener>, extra: &[String]) -> Result<Vec<Candidate>, DiscoverError> {
    match opener.listed() {
        Some(ports) => Ok(ports.into_iter().map(|port| Candidate { port, usb: None }).collect()),
        None => candidates_from(extra),
    }
}

/// The USB id of `port`, when the machine lists it as a USB serial port: what a terminal
/// that names no authority root is known by. Only the machine's own list has USB ids (the
/// places `[ports] extra` and `POSAGENT_PORTS` name have none), and on Linux that list is
/// the devices directly under `/dev` that `/sys/class/tty` knows: a port elsewhere (a
/// pseudo-terminal under `/dev/pts`) is not looked for in it, which spares each job's
/// check a scan of every tty the machine has.
pub fn usb_id_of(opener: &Arc<dyn Opener>, port: &Path) -> Option<UsbId> {
    if opener.listed().is_some() || (cfg!(target_os = "linux") && port.parent() != Some(Path::new("/dev"))) {
        return None;
    }
    machine_ports()
        .ok()?
        .into_iter()
        .find(|p| Path::new(&p.port_name) == port)
        .and_then(|p| usb_of(&p))
}

/// The USB id of a port the machine listed, if it is a USB port.
fn usb_of(p: &serialport::SerialPortInfo) -> Option<UsbId> {
    match &p.port_type {
        serialport::SerialPortType::UsbPort(u) => Some(UsbId { vid: u.vid, pid: u.pid }),
        _ => None,
    }
}

/// A serial port as the machine lists it, with the profile its USB id matches.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PortInfo {
    pub port: String,
    /// `usb`, `pci`, `bluetooth` or `unknown`; `place` for a place `[ports] extra` or
    /// `POSAGENT_PORTS` names.
    pub kind: &'static str,
    pub usb_id: Option<String>,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial_number: Option<String>,
    pub profile: Option<String>,
}

/// The machine's serial ports, then the places `extra` (config `[ports] extra`) and
/// `POSAGENT_PORTS` name (`posagent devices`): where posagent looks for terminals.
pub fn ports(profiles: &ProfileSet, extra: &[String]) -> Result<Vec<PortInfo>, DiscoverError> {
    // Listed once: listing the machine's ports reads every tty the system has.
    let ports = machine_ports()?;
    let places: Vec<PortInfo> = candidates_among(&ports, extra)?
        .into_iter()
        .map(|c| c.port.display().to_string())
        .filter(|place| !ports.iter().any(|p| p.port_name == *place))
        .map(|port| PortInfo {
            port,
            kind: "place",
            usb_id: None,
            manufacturer: None,
            product: None,
            serial_number: None,
            profile: None,
        })
        .collect();
    Ok(ports
        .into_iter()
        .map(|p| {
            let bare = |kind| PortInfo {
                port: p.port_name.clone(),
                kind,
                usb_id: None,
                manufacturer: None,
                product: None,
                serial_number: None,
                profile: None,
            };
            match p.port_type {
                serialport::SerialPortType::UsbPort(u) => {
                    let id = UsbId { vid: u.vid, pid: u.pid };
                    PortInfo {
                        usb_id: Some(id.to_string()),
                        manufacturer: u.manufacturer,
                        product: u.product,
                        serial_number: u.serial_number,
                        profile: profiles.match_usb(id).map(|p| p.name.clone()),
                        ..bare("usb")
                    }
                }
                serialport::SerialPortType::PciPort => bare("pci"),
                serialport::SerialPortType::BluetoothPort => bare("bluetooth"),
                serialport::SerialPortType::Unknown => bare("unknown"),
            }
        })
        .chain(places)
        .collect())
}

/// A terminal that answered.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Found {
    pub port: PathBuf,
    pub usb_id: Option<String>,
    pub serial: String,
    pub vendor: String,
    pub model: String,
    /// The profile whose line settings it answered with.
    pub profile: String,
}

/// Which terminals answer among `candidates`, probed in parallel: each with `forced` when
/// given, else with the profile its USB id matches, else with every profile's line settings.
pub fn find(
    opener: &Arc<dyn Opener>,
    candidates: &[Candidate],
    profiles: &ProfileSet,
    forced: Option<&Profile>,
) -> Vec<Found> {
    let all = one_per_setting(profiles);
    std::thread::scope(|s| {
        let handles: Vec<_> = candidates
            .iter()
            .map(|c| {
                let to_try: Vec<&Profile> = match (forced, c.usb.and_then(|u| profiles.match_usb(u))) {
                    (Some(p), _) | (None, Some(p)) => vec![p],
                    (None, None) => all.clone(),
                };
                s.spawn(move || {
                    for p in to_try {
                        let Ok(mut t) = Terminal::open_with(opener.clone(), &c.port, &p.serial) else {
                            continue;
                        };
                        if let Ok(id) = t.identify() {
                            // A terminal that enforces a provider's authority says whose it is.
                            let by_root = (forced.is_none())
                                .then(|| {
                                    t.authority_root()
                                        .and_then(|root| crate::authority::profile_of_root(profiles, root))
                                })
                                .flatten();
                            return Some(Found {
                                port: c.port.clone(),
                                usb_id: c.usb.map(|u| u.to_string()),
                                serial: id.serial,
                                vendor: id.vendor,
                                model: id.model,
                                profile: by_root.unwrap_or(p).name.clone(),
                            });
                        }
                    }
                    None
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok().flatten()).collect()
    })
}

/// The first profile of each line setting, in the set's order: each setting worth trying
/// on a port, once.
fn one_per_setting(profiles: &ProfileSet) -> Vec<&Profile> {
    let mut out: Vec<&Profile> = Vec::new();
    for (p, _) in profiles.iter() {
        if !out.iter().any(|o| o.serial == p.serial) {
            out.push(p);
        }
    }
    out
}

/// The profile of the terminal on `port` by the provider root it names when it answers (on
/// the first line settings it answers with); `None` when it names none or does not answer.
fn answered_as<'a>(opener: &Arc<dyn Opener>, port: &Path, profiles: &'a ProfileSet) -> Option<&'a Profile> {
    for p in one_per_setting(profiles) {
        if let Ok(t) = Terminal::open_with(opener.clone(), port, &p.serial) {
            return t
                .authority_root()
                .and_then(|root| crate::authority::profile_of_root(profiles, root));
        }
    }
    None
}

/// The serial number answering on `port`, trying each line setting until one answers.
pub fn serial_on(opener: &Arc<dyn Opener>, port: &Path, settings: &[SerialSettings]) -> Result<String, String> {
    let mut last = crate::tr!("probe-no-answer");
    for set in settings {
        match Terminal::open_with(opener.clone(), port, set).and_then(|mut t| t.identify()) {
            Ok(id) => return Ok(id.serial),
            // The port is named beside the reason already: the link's own words.
            Err(crate::terminal::TerminalError::Unavailable { source, .. }) => last = source.to_string(),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// Which serial answers on each port, probed in parallel; and the ports where none did,
/// with why.
pub fn probe(
    opener: &Arc<dyn Opener>,
    ports: &[PathBuf],
    settings: &[SerialSettings],
) -> (HashMap<String, PathBuf>, Vec<(PathBuf, String)>) {
    let answers: Vec<(PathBuf, Result<String, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = ports
            .iter()
            .map(|port| s.spawn(move || (port.clone(), serial_on(opener, port, settings))))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut found = HashMap::new();
    let mut silent = Vec::new();
    for (port, answer) in answers {
        match answer {
            Ok(serial) => {
                found.insert(serial, port);
            }
            Err(e) => silent.push((port, e)),
        }
    }
    (found, silent)
}

/// Where terminal `serial` is now: `last` if it still answers there (a port path can lead
/// to another device after a replug), else whichever port `opener` reaches it on.
pub fn locate(
    opener: &Arc<dyn Opener>,
    serial: &str,
    last: Option<&Path>,
    settings: &SerialSettings,
) -> Result<PathBuf, DiscoverError> {
    let settings = std::slice::from_ref(settings);
    if let Some(p) = last
        && serial_on(opener, p, settings).is_ok_and(|s| s == serial)
    {
        return Ok(p.to_path_buf());
    }
    let ports: Vec<PathBuf> = candidates_of(opener, &[])?.into_iter().map(|c| c.port).collect();
    let (mut found, _) = probe(opener, &ports, settings);
    found.remove(serial).ok_or_else(|| DiscoverError::NotFound {
        serial: serial.to_string(),
        looked: if ports.is_empty() {
            crate::tr!("probe-no-ports")
        } else {
            ports
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        },
    })
}

impl From<DiscoverError> for TerminalError {
    fn from(e: DiscoverError) -> Self {
        TerminalError::NotFound(e.to_string())
    }
}

/// Where a command's terminal is, as [`choose`] decides it.
#[derive(Debug)]
pub enum Choice<'a> {
    /// One terminal: its port and the profile that speaks to it.
    One {
        port: PathBuf,
        profile: &'a Profile,
        /// What answered there, when it was found rather than named.
        found: Option<Found>,
    },
    /// Several answer and nothing says which: a person must choose (`profile` forced, if any).
    Several(Vec<Found>),
}

/// Why no terminal could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum ChooseError {
    #[error(transparent)]
    Ports(#[from] DiscoverError),
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    #[error("{}", crate::tr!("serial-not-found", serial = .serial.as_str(), ports = *.ports))]
    SerialNotFound { serial: String, ports: usize },
    #[error("{}", crate::tr!("no-terminal-found"))]
    NoneFound,
    /// The same serial answers on several ports (a unit on two cables, or a clone).
    #[error("{}", crate::tr!("console-several-answer", serial = .serial.as_str(), ports = .ports.as_str()))]
    SeveralAnswer { serial: String, ports: String },
}

/// The terminal a command works on: `port` as given (its profile `forced`, else by its USB
/// id, else generic), else the one found among the candidates (`extra` and the machine's
/// ports), or the one with `serial`.
pub fn choose<'a>(
    opener: &Arc<dyn Opener>,
    extra: &[String],
    profiles: &'a ProfileSet,
    port: Option<&Path>,
    serial: Option<&str>,
    forced: Option<&'a Profile>,
) -> Result<Choice<'a>, ChooseError> {
    choose_among(opener, &candidates_of(opener, extra)?, profiles, port, serial, forced)
}

/// [`choose`] among `candidates` (a caller that must leave some ports alone passes the
/// rest).
pub fn choose_among<'a>(
    opener: &Arc<dyn Opener>,
    candidates: &[Candidate],
    profiles: &'a ProfileSet,
    port: Option<&Path>,
    serial: Option<&str>,
    forced: Option<&'a Profile>,
) -> Result<Choice<'a>, ChooseError> {
    if let Some(p) = port {
        let usb = candidates.iter().find(|c| c.port == p).and_then(|c| c.usb);
        let by_usb = usb.and_then(|u| profiles.match_usb(u));
        // Neither named nor known by its USB id: the profile the terminal answers as, when
        // it says (its provider's root), else the generic one.
        let profile = match forced.or(by_usb).or_else(|| answered_as(opener, p, profiles)) {
            Some(profile) => profile,
            None => profiles.get("generic")?,
        };
        return Ok(Choice::One {
            port: p.to_path_buf(),
            profile,
            found: None,
        });
    }
    let mut found = find(opener, candidates, profiles, forced);
    if let Some(sn) = serial {
        let wanted = crate::order::parse_serial(sn).unwrap_or_else(|_| sn.to_string());
        found.retain(|f| f.serial == wanted);
        if found.is_empty() {
            return Err(ChooseError::SerialNotFound {
                serial: sn.to_string(),
                ports: candidates.len(),
            });
        }
    }
    match found.len() {
        0 => Err(ChooseError::NoneFound),
        1 => {
            let f = found.remove(0);
            let profile = forced.map_or_else(|| profiles.get(&f.profile), Ok)?;
            Ok(Choice::One {
                port: f.port.clone(),
                profile,
                found: Some(f),
            })
        }
        _ => Ok(Choice::Several(found)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn a_machine_without_its_tty_list_lists_no_ports_instead_of_failing() {
        let none = tempfile::tempdir().unwrap().path().join("class/tty");
        assert!(machine_ports_under(&none).unwrap().is_empty());
    }
}
