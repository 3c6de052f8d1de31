//! A job's time still to go, from the line rate its transfers measured.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A job's time still to go: the bytes still to move over the line rate measured so far.
/// Every transfer still to come is expected to move as much as the largest seen (they all
/// carry the same transaction log). Transfers may run at the same time on two lines (a
/// one-pass migration's export and import): each is measured on its own.
#[derive(Debug, Default)]
pub struct Eta {
    /// Bytes moved and time spent in finished transfers.
    moved: u64,
    spent: Duration,
    /// The transfers under way, by label: when each started, bytes done and its size.
    current: BTreeMap<String, (Instant, u64, u64)>,
    largest: u64,
}

impl Eta {
    /// Records a transfer's progress.
    pub fn transfer(&mut self, label: &str, done: u64, total: u64) {
        self.largest = self.largest.max(total);
        let now = self
            .current
            .entry(label.to_string())
            .or_insert((Instant::now(), done, total));
        // The same label with another size is the next transfer of that kind.
        if now.2 != total {
            *now = (Instant::now(), done, total);
        }
        now.1 = done;
        if done >= total
            && let Some((started, done, _)) = self.current.remove(label)
        {
            self.moved += done;
            self.spent += started.elapsed();
        }
    }

    /// The time still to go with `transfers_to_come` more after those under way; `None`
    /// until a rate has been measured.
    pub fn remaining(&self, transfers_to_come: usize) -> Option<Duration> {
        let (mut moved, mut spent) = (self.moved, self.spent);
        let mut left_now = 0;
        for (started, done, total) in self.current.values() {
            moved += done;
            spent += started.elapsed();
            // Those under way run side by side: the longest is what is left of them.
            left_now = left_now.max(total.saturating_sub(*done));
        }
        let spent = spent.as_secs_f64();
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

    /// A one-pass migration reports its export and its import in turn, many times each:
    /// that is two transfers side by side, not a new transfer at every report.
    #[test]
    fn transfers_side_by_side_are_measured_each_on_its_own() {
        let mut eta = Eta::default();
        for done in [0, 250, 500] {
            eta.transfer("backup", done, 1000);
            eta.transfer("import", done, 1000);
            std::thread::sleep(Duration::from_millis(20));
        }
        let half = eta.remaining(0).expect("a rate");
        // 500 of 1000 done on each line at the same rate: as long again, not a quarter.
        let spent = Duration::from_millis(60);
        assert!(half >= spent.mul_f64(0.8) && half < spent * 3, "{half:?}");
        eta.transfer("backup", 1000, 1000);
        eta.transfer("import", 1000, 1000);
        assert_eq!(eta.remaining(0), Some(Duration::ZERO));
    }
}
