//! When to try a failed delivery again: exponential back-off with full jitter, capped, and
//! never sooner than the provider's `Retry-After`.

use std::time::Duration;

use rand::Rng;

/// First retry waits up to this long, unless configured otherwise (`provider.retry_base_ms`).
pub const BASE_DELAY: Duration = Duration::from_secs(2);
/// No retry waits longer than this.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Delivery attempts before a submission is declared dead (`queue retry` revives it).
pub const MAX_ATTEMPTS: u32 = 20;

/// The wait before attempt `attempt + 1` after `attempt` failures: uniform in
/// `[0, min(MAX_DELAY, base · 2^(attempt-1))]`, at least `retry_after`.
pub fn delay(attempt: u32, base: Duration, retry_after: Option<Duration>, rng: &mut impl Rng) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let ceiling = base.saturating_mul(1u32 << exp).min(MAX_DELAY);
    let jittered = Duration::from_secs_f64(rng.random_range(0.0..=ceiling.as_secs_f64()));
    jittered.max(retry_after.unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn delays_grow_stay_capped_and_are_spread() {
        let mut rng = StdRng::seed_from_u64(1);
        for attempt in 1..40 {
            let ceiling = BASE_DELAY.saturating_mul(1 << (attempt - 1).min(30)).min(MAX_DELAY);
            let samples: Vec<Duration> = (0..200).map(|_| delay(attempt, BASE_DELAY, None, &mut rng)).collect();
            assert!(samples.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            let distinct: std::collections::BTreeSet<_> = samples.iter().map(|d| d.as_millis()).collect();
            assert!(distinct.len() > 50, "full jitter spreads retries (attempt {attempt})");
        }
    }

    #[test]
    fn retry_after_is_a_floor() {
        let mut rng = StdRng::seed_from_u64(2);
        for _ in 0..100 {
            assert!(delay(1, BASE_DELAY, Some(Duration::from_secs(30)), &mut rng) >= Duration::from_secs(30));
        }
    }
}
