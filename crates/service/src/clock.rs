//! The writer's clock: the system clock, or a manual one that tests move by hand. The core never
//! reads a clock; the writer and the server read this one and pass instants in.

use jiff::Timestamp;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where "now" comes from.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    /// Nanoseconds since the Unix epoch, set by the owner.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock starting at `at`.
    pub fn manual(at: Timestamp) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(
            at.as_nanosecond()
                .try_into()
                .expect("a representable instant"),
        )))
    }

    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Manual(nanos) => {
                Timestamp::from_nanosecond(i128::from(nanos.load(Ordering::SeqCst)))
                    .expect("the manual clock holds a valid instant")
            }
        }
    }

    /// Moves a manual clock to `at` (a system clock cannot be set).
    pub fn set(&self, at: Timestamp) {
        if let Clock::Manual(nanos) = self {
            let value: i64 = at
                .as_nanosecond()
                .try_into()
                .expect("a representable instant");
            nanos.store(value, Ordering::SeqCst);
        }
    }

    /// Moves a manual clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.set(self.now() + jiff::SignedDuration::from_secs(seconds));
    }
}
