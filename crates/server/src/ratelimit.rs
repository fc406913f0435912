//! Per-key rate limiting: one token bucket per API key id, checked by the gate right after
//! authentication and before any body is read, so that a key over its limit costs a hash
//! lookup and nothing else.
//!
//! A bucket holds at most `burst` tokens and gains `per_s` tokens per second; each request
//! takes one. Arithmetic is in whole nano-tokens, so refills are exact and a test that moves a
//! manual clock sees exactly the same answers on every run.
//!
//! Buckets live in a few shards, each a `Mutex<HashMap>` that is locked only for the few
//! instructions of one refill-and-take, never across an await. Only authenticated key ids get a
//! bucket, so the map is bounded by the number of keys; a bucket that has refilled completely is
//! the same as no bucket at all, and those are dropped when a shard grows large (which is how
//! the buckets of revoked keys go away).

use crate::clock::Clock;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

/// How many requests one key may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Tokens gained per second: the sustained rate (at least 1).
    pub per_s: u32,
    /// Largest number of tokens a bucket holds: how many requests may arrive at once after a
    /// quiet period (at least 1).
    pub burst: u32,
}

impl RateLimit {
    /// The default: 200,000 requests per second per key with a burst of the same size.
    ///
    /// One bridge key carrying the performance target of 50,000 authorize + end pairs per
    /// second makes 100,000 requests per second, plus extensions and ingestion; twice that is
    /// never reached by such a bridge, so real-time call control is not throttled by default.
    /// The limit is still finite: a runaway client (a retry loop without backoff) is cut off
    /// at a known rate instead of taking every request the server can answer. Operators who
    /// share one server between many tenants set a tighter limit for their own traffic.
    pub const DEFAULT: RateLimit = RateLimit {
        per_s: 200_000,
        burst: 200_000,
    };
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        RateLimit::DEFAULT
    }
}

/// Nano-tokens per token: a bucket counts in these so that `elapsed_ns * per_s` is exactly the
/// refill.
const NANO: u128 = 1_000_000_000;

/// Shards of the bucket map: enough that concurrent requests of different keys rarely wait for
/// one another.
const SHARDS: usize = 16;

/// A shard larger than this drops its full buckets before it grows further.
const PRUNE_ABOVE: usize = 1_024;

#[derive(Debug)]
struct Bucket {
    /// Nano-tokens available at `at_ns`.
    nano_tokens: u128,
    /// The instant of the last refill, in nanoseconds since the Unix epoch.
    at_ns: i128,
}

/// The buckets of every key.
pub struct Limiter {
    per_s: u128,
    capacity: u128,
    clock: Clock,
    hasher: RandomState,
    shards: Box<[Mutex<HashMap<String, Bucket>>]>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("per_s", &self.per_s)
            .field("capacity", &(self.capacity / NANO))
            .finish_non_exhaustive()
    }
}

impl Limiter {
    pub fn new(limit: RateLimit, clock: Clock) -> Limiter {
        Limiter {
            per_s: u128::from(limit.per_s.max(1)),
            capacity: u128::from(limit.burst.max(1)) * NANO,
            clock,
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// Takes one token from `key_id`'s bucket. When it is empty, the answer is how many whole
    /// seconds to wait before a token is there again (at least 1).
    pub fn take(&self, key_id: &str) -> Result<(), u64> {
        let now_ns = self.clock.now().as_nanosecond();
        let shard = &self.shards[self.hasher.hash_one(key_id) as usize % SHARDS];
        let mut buckets = shard.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(key_id) && buckets.len() >= PRUNE_ABOVE {
            buckets.retain(|_, bucket| self.refilled(bucket, now_ns) < self.capacity);
        }
        let bucket = buckets.entry(key_id.to_string()).or_insert_with(|| Bucket {
            nano_tokens: self.capacity,
            at_ns: now_ns,
        });
        bucket.nano_tokens = self.refilled(bucket, now_ns);
        // A clock set back does not refill twice the same time.
        bucket.at_ns = bucket.at_ns.max(now_ns);
        if bucket.nano_tokens >= NANO {
            bucket.nano_tokens -= NANO;
            return Ok(());
        }
        Err(self.retry_after_s(bucket.nano_tokens))
    }

    /// The nano-tokens `bucket` holds at `now_ns`.
    fn refilled(&self, bucket: &Bucket, now_ns: i128) -> u128 {
        let elapsed_ns = u128::try_from(now_ns.saturating_sub(bucket.at_ns)).unwrap_or(0);
        bucket
            .nano_tokens
            .saturating_add(elapsed_ns.saturating_mul(self.per_s))
            .min(self.capacity)
    }

    /// Whole seconds until a bucket holding `nano_tokens` has one token again, rounded up so
    /// that a client that waits that long is not refused again.
    fn retry_after_s(&self, nano_tokens: u128) -> u64 {
        let missing = NANO - nano_tokens;
        let wait_ns = missing.div_ceil(self.per_s);
        u64::try_from(wait_ns.div_ceil(NANO))
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// How many keys have a bucket (for tests of the bound).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: f64) -> jiff::Timestamp {
        let base: jiff::Timestamp = "2026-03-02T09:00:00Z".parse().expect("an instant");
        base + jiff::SignedDuration::from_secs_f64(seconds)
    }

    fn limiter(per_s: u32, burst: u32) -> (Limiter, Clock) {
        let clock = Clock::manual(at(0.0));
        (
            Limiter::new(RateLimit { per_s, burst }, clock.clone()),
            clock,
        )
    }

    #[test]
    fn the_burst_passes_then_the_bucket_refuses_until_it_refills() {
        let (limiter, clock) = limiter(2, 3);
        for n in 0..3 {
            assert_eq!(limiter.take("a"), Ok(()), "request {n} of the burst");
        }
        // Empty: one token comes back after half a second, which is announced as 1 s.
        assert_eq!(limiter.take("a"), Err(1));
        clock.set(at(0.4));
        assert_eq!(limiter.take("a"), Err(1));
        clock.set(at(0.5));
        assert_eq!(limiter.take("a"), Ok(()));
        assert_eq!(limiter.take("a"), Err(1));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        // One token per second: 0.75 s still to wait is announced as 1 s, never 0.
        let (limiter, clock) = limiter(1, 1);
        assert_eq!(limiter.take("k"), Ok(()));
        clock.set(at(0.25));
        assert_eq!(limiter.take("k"), Err(1));
        clock.set(at(0.999_999_999));
        assert_eq!(limiter.take("k"), Err(1));
        clock.set(at(1.0));
        assert_eq!(limiter.take("k"), Ok(()));
    }

    #[test]
    fn keys_have_separate_buckets() {
        let (limiter, _clock) = limiter(1, 1);
        assert_eq!(limiter.take("a"), Ok(()));
        assert_eq!(limiter.take("a"), Err(1));
        assert_eq!(limiter.take("b"), Ok(()));
    }

    #[test]
    fn a_bucket_never_holds_more_than_the_burst() {
        let (limiter, clock) = limiter(1_000, 2);
        assert_eq!(limiter.take("a"), Ok(()));
        clock.set(at(3_600.0));
        assert_eq!(limiter.take("a"), Ok(()));
        assert_eq!(limiter.take("a"), Ok(()));
        assert_eq!(limiter.take("a"), Err(1));
    }

    #[test]
    fn a_clock_set_back_refills_nothing() {
        let (limiter, clock) = limiter(1, 1);
        clock.set(at(10.0));
        assert_eq!(limiter.take("a"), Ok(()));
        clock.set(at(5.0));
        assert_eq!(limiter.take("a"), Err(1));
        // Time lost going back is not counted twice going forward again.
        clock.set(at(10.5));
        assert_eq!(limiter.take("a"), Err(1));
        clock.set(at(11.0));
        assert_eq!(limiter.take("a"), Ok(()));
    }

    #[test]
    fn full_buckets_are_dropped_when_a_shard_grows() {
        let (limiter, clock) = limiter(1, 1);
        let many = SHARDS * PRUNE_ABOVE * 2;
        for n in 0..many {
            let _ = limiter.take(&format!("key-{n}"));
        }
        assert_eq!(limiter.len(), many, "every bucket is still refilling");
        // Once they have all refilled, new keys push the old ones out.
        clock.set(at(2.0));
        for n in 0..SHARDS * 4 {
            let _ = limiter.take(&format!("new-{n}"));
        }
        assert!(
            limiter.len() < many / 2,
            "{} buckets kept after they refilled",
            limiter.len()
        );
    }

    #[test]
    fn concurrent_takes_never_hand_out_more_than_the_burst() {
        let (limiter, _clock) = limiter(1, 1_000);
        let limiter = std::sync::Arc::new(limiter);
        let passed: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let limiter = limiter.clone();
                    scope.spawn(move || (0..500).filter(|_| limiter.take("k").is_ok()).count())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .sum()
        });
        assert_eq!(passed, 1_000);
    }
}
