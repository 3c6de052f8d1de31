//! Fault injection for the simulated terminal: `--faults bitflip=1e-5,drop=1e-5,...`.

use std::time::Duration;

use rand::Rng;
use rand::rngs::StdRng;

/// Chance per frame the terminal sends that a configured stall happens before it.
pub const STALL_CHANCE_PER_FRAME: f64 = 0.02;

/// Which faults to inject, parsed from a comma-separated `key=value` list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    /// Chance per byte (either direction) that one bit flips.
    pub bitflip: f64,
    /// Chance per byte (either direction) that it is lost.
    pub drop: f64,
    /// A pause before a frame, with [`STALL_CHANCE_PER_FRAME`].
    pub stall: Option<Duration>,
    /// Chance per command that the terminal answers BUSY.
    pub busy: f64,
    /// Delay before every response.
    pub slow: Option<Duration>,
    /// Close the port once after this many bytes (both directions), then come back.
    pub unplug_after: Option<u64>,
    /// Close the port once when this command arrives: before carrying it out (`false`) or
    /// after carrying it out but before answering (`true`).
    pub unplug_on: Option<(u8, bool)>,
    /// A terminal that misreports, to test that the agent checks what it is told.
    pub lie: Option<Lie>,
}

impl FaultSpec {
    /// Only `unplug=BYTES`.
    pub const fn unplug_after_bytes(bytes: u64) -> FaultSpec {
        FaultSpec {
            bitflip: 0.0,
            drop: 0.0,
            stall: None,
            busy: 0.0,
            slow: None,
            unplug_after: Some(bytes),
            unplug_on: None,
            lie: None,
        }
    }
}

/// How a misbehaving terminal lies (`lie=NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// EXPORT_BEGIN announces one record more than the object holds.
    ExportCount,
    /// EXPORT_BEGIN of the transaction log announces a deflated object of 1 GiB and sends
    /// a deflate stream that inflates that far: a decompression bomb.
    InflatedSize,
    /// AUTH_PROVE succeeds without the terminal's proof (`DF22`).
    NoProof,
    /// An export of more than two chunks sends its first half, then nothing more, ever,
    /// while it answers commands: a transfer that stops making progress.
    StuckExport,
}

/// The command code for a lower-case command name (`bind`, `import_commit`, …).
fn command_code(name: &str) -> Option<u8> {
    (0..=u8::MAX).find(|c| {
        crate::link::command_name(*c).eq_ignore_ascii_case(name) && crate::link::command_name(*c) != "UNKNOWN"
    })
}

/// A fault spec that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("--faults: {0}")]
pub struct FaultSpecError(pub String);

pub fn duration(key: &str, v: &str) -> Result<Duration, FaultSpecError> {
    let (num, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0)
    } else {
        return Err(FaultSpecError(format!(
            "{key}={v}: give a duration such as 200ms or 2s"
        )));
    };
    let x: f64 = num
        .parse()
        .map_err(|_| FaultSpecError(format!("{key}={v}: not a number")))?;
    if !(x.is_finite() && x >= 0.0) {
        return Err(FaultSpecError(format!("{key}={v}: must be 0 or more")));
    }
    Ok(Duration::from_secs_f64(x * scale))
}

pub fn rate(key: &str, v: &str) -> Result<f64, FaultSpecError> {
    let x: f64 = v
        .parse()
        .map_err(|_| FaultSpecError(format!("{key}={v}: not a number")))?;
    if !(0.0..=1.0).contains(&x) {
        return Err(FaultSpecError(format!("{key}={v}: a rate must be between 0 and 1")));
    }
    Ok(x)
}

/// The `key=value` items of a comma-separated fault list.
pub fn pairs(s: &str) -> impl Iterator<Item = Result<(&str, &str), FaultSpecError>> {
    s.split(',').map(str::trim).filter(|i| !i.is_empty()).map(|item| {
        item.split_once('=')
            .ok_or_else(|| FaultSpecError(format!("'{item}' is not key=value")))
    })
}

impl std::str::FromStr for FaultSpec {
    type Err = FaultSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut spec = FaultSpec::default();
        for pair in pairs(s) {
            let (k, v) = pair?;
            match k {
                "bitflip" => spec.bitflip = rate(k, v)?,
                "drop" => spec.drop = rate(k, v)?,
                "busy" => spec.busy = rate(k, v)?,
                "stall" => spec.stall = Some(duration(k, v)?),
                "slow" => spec.slow = Some(duration(k, v)?),
                "unplug" => {
                    spec.unplug_after = Some(
                        v.parse()
                            .map_err(|_| FaultSpecError(format!("unplug={v}: give a byte count")))?,
                    )
                }
                "unplug_before" | "unplug_after" => {
                    let code = command_code(v)
                        .ok_or_else(|| FaultSpecError(format!("{k}={v}: not a command name (e.g. bind, settle)")))?;
                    spec.unplug_on = Some((code, k == "unplug_after"));
                }
                "lie" => {
                    spec.lie = Some(match v {
                        "export_count" => Lie::ExportCount,
                        "no_proof" => Lie::NoProof,
                        "inflated_size" => Lie::InflatedSize,
                        "stuck_export" => Lie::StuckExport,
                        _ => {
                            return Err(FaultSpecError(format!(
                                "lie={v}: known lies are export_count, no_proof, inflated_size and stuck_export"
                            )));
                        }
                    })
                }
                other => {
                    return Err(FaultSpecError(format!(
                        "unknown fault '{other}'; known: bitflip, drop, stall, busy, slow, unplug, unplug_before, unplug_after, lie"
                    )));
                }
            }
        }
        Ok(spec)
    }
}

/// Applies byte faults in place; returns the bytes that survive.
pub fn corrupt(spec: &FaultSpec, rng: &mut StdRng, bytes: &[u8]) -> Vec<u8> {
    if spec.bitflip == 0.0 && spec.drop == 0.0 {
        return bytes.to_vec();
    }
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if spec.drop > 0.0 && rng.random_bool(spec.drop) {
            continue;
        }
        if spec.bitflip > 0.0 && rng.random_bool(spec.bitflip) {
            out.push(b ^ (1 << rng.random_range(0..8)));
        } else {
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parses_the_documented_example() {
        let s: FaultSpec = "bitflip=1e-5,drop=1e-5,stall=200ms,busy=0.1,slow=50ms,unplug=4096"
            .parse()
            .unwrap();
        assert_eq!(s.bitflip, 1e-5);
        assert_eq!(s.stall, Some(Duration::from_millis(200)));
        assert_eq!(s.slow, Some(Duration::from_millis(50)));
        assert_eq!(s.unplug_after, Some(4096));
        let s: FaultSpec = "unplug_after=import_commit".parse().unwrap();
        assert_eq!(s.unplug_on, Some((crate::link::proto::cmd::IMPORT_COMMIT, true)));
        assert!("unplug_before=explode".parse::<FaultSpec>().is_err());
    }

    #[test]
    fn bad_specs_name_the_problem() {
        for (spec, needle) in [
            ("bitflip=2", "between 0 and 1"),
            ("stall=5", "duration"),
            ("flood=1", "unknown fault"),
            ("busy", "key=value"),
        ] {
            let e = spec.parse::<FaultSpec>().unwrap_err().to_string();
            assert!(e.contains(needle), "{spec}: {e}");
        }
    }

    #[test]
    fn corruption_rates_are_roughly_honoured() {
        let spec = FaultSpec {
            drop: 0.01,
            ..FaultSpec::default()
        };
        let mut rng = StdRng::seed_from_u64(3);
        let out = corrupt(&spec, &mut rng, &[0u8; 100_000]);
        assert!((98_500..99_500).contains(&out.len()), "{}", out.len());
    }
}
