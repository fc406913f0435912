//! Every integration test of this crate, in one binary (one link, one run): a module per area.

use minutely_testkit::charging as common;
mod advisor;
mod control;
mod directory;
mod every_reason;
mod guard_replay;
mod idempotency;
mod pool;
mod properties;
mod rating;
mod rerate;
mod scheduled;
mod simulation;
mod wallet;
