//! What the test suites of the workspace share, written once:
//!
//! - [`charging`]: the core's fixtures (country table, rate-card rows, a tenant built through the
//!   checked directory API, call builders, a journal re-checked after every operation);
//! - [`fixtures`]: the sample EUR rate card and tenant file the black-box tests load;
//! - [`Rng`]: a small seedable generator, so a seed names a whole randomized test.
//!
//! Every helper panics with a message naming what went wrong when a fixture step is refused: a
//! test that wants to see a refusal calls the code under test directly.

pub mod charging;
pub mod fixtures;
pub mod nats;
mod rng;
pub mod stores;

pub use rng::Rng;
