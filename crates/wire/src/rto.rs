//! The bulk sender's retransmission timeout, from the acknowledgements' measured round
//! trips (RFC 6298): a smoothed round-trip time and its variation, the line's nominal baud
//! only as the first estimate, doubled after each timeout until a new measurement comes.
//! A resent chunk's acknowledgement is not measured (Karn's algorithm): it cannot tell
//! which of the sends it answers.

use std::time::Duration;

/// The timer's resolution in the formula (RFC 6298's G).
const GRANULARITY: Duration = Duration::from_millis(10);
/// Never wait less: a terminal may take this long to acknowledge a chunk it is storing.
const FLOOR: Duration = Duration::from_millis(100);

/// A retransmission timeout that learns from the line.
#[derive(Debug, Clone)]
pub struct Rto {
    srtt: Option<Duration>,
    rttvar: Duration,
    base: Duration,
    ceiling: Duration,
    backoff: u32,
}

impl Rto {
    /// Starts at `initial` (from the nominal baud), never above `ceiling`.
    pub fn new(initial: Duration, ceiling: Duration) -> Rto {
        Rto {
            srtt: None,
            rttvar: Duration::ZERO,
            base: initial.min(ceiling),
            ceiling,
            backoff: 0,
        }
    }

    /// Takes one round-trip measurement (RFC 6298 §2.2 and §2.3).
    pub fn sample(&mut self, r: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((srtt * 7 + r) / 8);
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        self.base = (srtt + GRANULARITY.max(self.rttvar * 4)).clamp(FLOOR, self.ceiling);
        self.backoff = 0;
    }

    /// A timeout fired: wait twice as long next time (§5.5), until a new measurement.
    pub fn back_off(&mut self) {
        self.backoff = (self.backoff + 1).min(16);
    }

    /// The timeout now.
    pub fn current(&self) -> Duration {
        self.base
            .checked_mul(1 << self.backoff)
            .unwrap_or(self.ceiling)
            .min(self.ceiling)
    }

    /// The smoothed round trip, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn the_first_estimate_holds_until_a_measurement_replaces_it() {
        let mut rto = Rto::new(MS(480), MS(2500));
        assert_eq!(rto.current(), MS(480));
        rto.sample(MS(1500));
        // SRTT 1.5 s, RTTVAR 0.75 s: 1.5 + 4 × 0.75 = 4.5 s, held at the ceiling.
        assert_eq!(rto.current(), MS(2500));
        for _ in 0..20 {
            rto.sample(MS(1500));
        }
        // A steady line: the variation decays and the timeout settles just above the trip.
        let settled = rto.current();
        assert!(settled > MS(1500) && settled < MS(1700), "{settled:?}");
        assert_eq!(rto.srtt(), Some(MS(1500)));
    }

    #[test]
    fn timeouts_double_until_a_new_measurement_and_never_pass_the_ceiling() {
        let mut rto = Rto::new(MS(300), MS(2000));
        rto.back_off();
        assert_eq!(rto.current(), MS(600));
        rto.back_off();
        rto.back_off();
        assert_eq!(rto.current(), MS(2000));
        rto.sample(MS(40));
        // 40 ms + 4 × 20 ms = 120 ms, and the backoff is forgotten.
        assert_eq!(rto.current(), MS(120));
        rto.sample(MS(1));
        assert!(rto.current() >= FLOOR);
    }
}
