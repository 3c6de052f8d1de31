//! A job's time still to go, from the line rate its transfers measured.

use std::time::{Duration, Instant};

/// A job's time still to go: the bytes still to move over the line rate measured so far.
/// Every transfer still to come is expected to move as much as the largest seen (they all
/// carry the same transaction log).
#[derive(Debug, Default)]
pub struct Eta {
    /// Bytes moved and time spent in finished transfers.
    moved: u64,
    spent: Duration,
    /// The transfer under way: its label, when it started, bytes done and its size.
    current: Option<(String, Instant, u64, u64)>,
    largest: u64,
}

impl Eta {
    /// Records a transfer's progress.
    pub fn transfer(&mut self, label: &str, done: u64, total: u64) {
        self.largest = self.largest.max(total);
        match &mut self.current {
            Some((l, _, d, t)) if l == label => {
                (*d, *t) = (done, total);
            }
            _ => {
                self.finish();
                self.current = Some((label.to_string(), Instant::now(), done, total));
            }
        }
        if done >= total {
            self.finish();
        }
    }

    fn finish(&mut self) {
        if let Some((_, started, done, _)) = self.current.take() {
            self.moved += done;
            self.spent += started.elapsed();
        }
    }

    /// The time still to go with `transfers_to_come` more after the current one; `None`
    /// until a rate has been measured.
    pub fn remaining(&self, transfers_to_come: usize) -> Option<Duration> {
        let (done_now, spent_now, left_now) = match &self.current {
            Some((_, started, done, total)) => (*done, started.elapsed(), total.saturating_sub(*done)),
            None => (0, Duration::ZERO, 0),
        };
        let moved = self.moved + done_now;
        let spent = (self.spent + spent_now).as_secs_f64();
        if moved == 0 || spent <= 0.0 {
            return None;
        }
        let left = left_now + self.largest * transfers_to_come as u64;
        Some(Duration::from_secs_f64(left as f64 * spent / moved as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_to_go_counts_the_transfers_still_to_come_at_the_measured_rate() {
        let mut eta = Eta::default();
        assert_eq!(eta.remaining(2), None, "no rate before any transfer");
        eta.transfer("backup", 0, 1000);
        std::thread::sleep(Duration::from_millis(50));
        eta.transfer("backup", 1000, 1000);
        let one = eta.remaining(1).expect("a rate");
        let three = eta.remaining(3).expect("a rate");
        assert!(one > Duration::ZERO, "{one:?}");
        // Three transfers the size of the one seen take three times as long as one.
        let ratio = three.as_secs_f64() / one.as_secs_f64();
        assert!((ratio - 3.0).abs() < 0.01, "{ratio}");
        assert_eq!(eta.remaining(0), Some(Duration::ZERO), "nothing left to move");
    }
}
