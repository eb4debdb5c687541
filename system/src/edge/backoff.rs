//! Reconnect backoff: exponential from `min` to `max`, each delay scaled by a seeded factor in
//! [0.5, 1.5) so that followers cut off together do not reconnect in lockstep.

use std::time::Duration;

use rand::Rng;

#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff { min, max, attempt: 0 }
    }

    /// The delay before the next attempt, and that attempt's number (from 1).
    pub fn next(&mut self, rng: &mut impl Rng) -> (Duration, u32) {
        let base = self.min.saturating_mul(1 << self.attempt.min(16)).min(self.max);
        self.attempt += 1;
        (base.mul_f64(rng.random_range(0.5..1.5)), self.attempt)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn grows_to_the_cap_with_bounded_jitter() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let delays: Vec<_> = (0..10).map(|_| b.next(&mut rng).0).collect();
        assert!(delays[0] >= Duration::from_millis(50) && delays[0] < Duration::from_millis(150));
        assert!(delays.iter().all(|d| *d < Duration::from_millis(7500)));
        assert!(delays[9] >= Duration::from_millis(2500));
        b.reset();
        assert!(b.next(&mut rng).0 < Duration::from_millis(150));
    }
}
