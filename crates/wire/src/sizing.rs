//! The size of a bulk sender's Data frames, from the loss it sees. On a noisy line a long
//! frame is lost whole more often than a short one, while every frame pays the same
//! overhead; the best length balances the two. With `h` bytes of overhead per frame and a
//! chance `e` per byte that the frame is damaged, a frame with `s` data bytes delivers
//! `s / (s + h) · (1 − e)^(s + h)` of the line, which is greatest at
//! `s = (√(h² + 4h/e) − h) / 2`: about 380 bytes at one flipped bit per 10,000 bytes, the
//! whole frame on a clean line.
//!
//! `e` is estimated as frames lost per byte sent, over the recent past (older counts fade
//! by half every [`MEMORY`] bytes), starting from a clean line's prior.
//!
//! How much a sender keeps in flight follows the rate at which its bytes are acknowledged
//! ([`DeliveryRate`]): about a second of the line's work. A port that takes every write at
//! once (a pseudo-terminal, a USB bridge's buffer) otherwise holds a whole window in its
//! queue, and on a slow line that is many seconds: every frame then waits longer than any
//! timeout allows for, and is sent again.

use std::time::{Duration, Instant};

/// Bytes sent after which the counts so far weigh half.
const MEMORY: f64 = 256.0 * 1024.0;
/// The prior: as if this many bytes had gone with [`PRIOR_LOSSES`] frames lost.
const PRIOR_BYTES: f64 = 16.0 * 1024.0;
const PRIOR_LOSSES: f64 = 0.025;

/// Learns the line's damage rate and says how long a Data frame should be.
#[derive(Debug, Clone, Default)]
pub struct FrameSizer {
    bytes: f64,
    losses: f64,
}

impl FrameSizer {
    /// A frame of `wire_bytes` went out.
    pub fn sent(&mut self, wire_bytes: usize) {
        self.bytes += wire_bytes as f64;
        if self.bytes > MEMORY {
            self.bytes /= 2.0;
            self.losses /= 2.0;
        }
    }

    /// `frames` sent frames were lost.
    pub fn lost(&mut self, frames: usize) {
        self.losses += frames as f64;
    }

    /// The estimated chance per byte that a frame is damaged.
    pub fn damage_per_byte(&self) -> f64 {
        (self.losses + PRIOR_LOSSES) / (self.bytes + PRIOR_BYTES)
    }

    /// The data bytes per frame that deliver the most, for `overhead` bytes per frame.
    pub fn best_payload(&self, overhead: usize) -> usize {
        let (h, e) = (overhead as f64, self.damage_per_byte());
        let s = ((h * h + 4.0 * h / e).sqrt() - h) / 2.0;
        s.round() as usize
    }
}

/// How often the delivery rate is measured again.
const RATE_PERIOD: Duration = Duration::from_millis(500);

/// The rate at which a sender's bytes are acknowledged, measured over each
/// [`RATE_PERIOD`]; until the first measurement, the line's nominal rate.
#[derive(Debug, Clone)]
pub struct DeliveryRate {
    bytes_per_second: f64,
    since: Instant,
    bytes: f64,
}

impl DeliveryRate {
    /// Starts at `nominal` bytes per second.
    pub fn new(nominal: f64) -> DeliveryRate {
        DeliveryRate {
            bytes_per_second: nominal,
            since: Instant::now(),
            bytes: 0.0,
        }
    }

    /// `bytes` more were acknowledged.
    pub fn acked(&mut self, bytes: usize) {
        self.bytes += bytes as f64;
        let took = self.since.elapsed();
        if took >= RATE_PERIOD {
            self.bytes_per_second = self.bytes / took.as_secs_f64();
            (self.since, self.bytes) = (Instant::now(), 0.0);
        }
    }

    /// The bytes the line acknowledges in `time`.
    pub fn bytes_in(&self, time: Duration) -> usize {
        (self.bytes_per_second * time.as_secs_f64()) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(bytes: usize, every: usize) -> FrameSizer {
        let mut s = FrameSizer::default();
        for i in 0..bytes / 400 {
            s.sent(400);
            if every > 0 && (i * 400) % every < 400 {
                s.lost(1);
            }
        }
        s
    }

    #[test]
    fn a_clean_line_gets_whole_frames() {
        assert!(FrameSizer::default().best_payload(15) > 2048);
        assert!(after(2_000_000, 0).best_payload(15) > 2048);
    }

    #[test]
    fn one_damaged_frame_per_ten_thousand_bytes_gets_a_few_hundred_bytes() {
        let s = after(2_000_000, 10_000);
        let e = s.damage_per_byte();
        assert!((0.8e-4..1.2e-4).contains(&e), "{e}");
        assert!((300..460).contains(&s.best_payload(15)), "{}", s.best_payload(15));
    }

    #[test]
    fn the_size_recovers_once_the_line_is_clean_again() {
        let mut s = after(500_000, 10_000);
        assert!(s.best_payload(15) < 600);
        for _ in 0..2_000_000 / 400 {
            s.sent(400);
        }
        assert!(s.best_payload(15) > 1500, "{}", s.best_payload(15));
    }
}
