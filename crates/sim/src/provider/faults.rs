//! Fault injection for the simulated provider:
//! `--faults unavailable=0.2,delay=100ms,reset_before=0.1,reset_after=0.1,slow_handshake=500ms,reject=0.05`,
//! and, for a hostile provider, `throttle_first=2s`, `no_receipt=1`, `huge_answer=1`.

use std::time::Duration;

use crate::faults::{FaultSpecError, duration, pairs, rate};

/// Which faults the provider injects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderFaults {
    /// Chance per batch of answering 503 with `Retry-After: 1`.
    pub unavailable: f64,
    /// Pause before handling each batch, and between "sending" a one-time code and
    /// answering that it was sent (as an SMS gateway may be slow to confirm).
    pub delay: Option<Duration>,
    /// Chance per batch of dropping the connection before applying anything.
    pub reset_before: f64,
    /// Chance per batch of dropping the connection after committing, before answering.
    pub reset_after: f64,
    /// Pause before each TLS handshake.
    pub slow_handshake: Option<Duration>,
    /// Chance per new submission of a review refusal.
    pub reject: f64,
    /// The first batch is answered 429 with `Retry-After` of this many whole seconds.
    pub throttle_first: Option<Duration>,
    /// Chance per batch of answering "accepted" without the receipts (a broken provider).
    pub no_receipt: f64,
    /// Chance per batch of an answer of 5 MiB (a hostile provider).
    pub huge_answer: f64,
}

impl std::str::FromStr for ProviderFaults {
    type Err = FaultSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut f = ProviderFaults::default();
        for pair in pairs(s) {
            let (k, v) = pair?;
            match k {
                "unavailable" => f.unavailable = rate(k, v)?,
                "reset_before" => f.reset_before = rate(k, v)?,
                "reset_after" => f.reset_after = rate(k, v)?,
                "reject" => f.reject = rate(k, v)?,
                "delay" => f.delay = Some(duration(k, v)?),
                "slow_handshake" => f.slow_handshake = Some(duration(k, v)?),
                "throttle_first" => f.throttle_first = Some(duration(k, v)?),
                "no_receipt" => f.no_receipt = rate(k, v)?,
                "huge_answer" => f.huge_answer = rate(k, v)?,
                other => {
                    return Err(FaultSpecError(format!(
                        "unknown fault '{other}'; known: unavailable, delay, reset_before, reset_after, slow_handshake, reject, throttle_first, no_receipt, huge_answer"
                    )));
                }
            }
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_fault_and_names_the_bad_one() {
        let f: ProviderFaults =
            "unavailable=0.2,delay=100ms,reset_before=0.1,reset_after=0.1,slow_handshake=500ms,reject=0.05"
                .parse()
                .unwrap();
        assert_eq!(f.unavailable, 0.2);
        assert_eq!(f.delay, Some(Duration::from_millis(100)));
        assert_eq!(f.slow_handshake, Some(Duration::from_millis(500)));
        assert_eq!((f.reset_before, f.reset_after, f.reject), (0.1, 0.1, 0.05));
        let e = "reject=2".parse::<ProviderFaults>().unwrap_err().to_string();
        assert!(e.contains("reject=2") && e.contains("between 0 and 1"), "{e}");
        let e = "flood=1".parse::<ProviderFaults>().unwrap_err().to_string();
        assert!(e.contains("unknown fault 'flood'"), "{e}");
    }
}
