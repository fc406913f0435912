//! Every integration test of this crate, in one binary (one link, one run): a module per area.

mod advise;
mod audit;
mod backup;
mod cli;
mod crash;
mod events_nats;
mod keys;
mod secrets;
mod serve;
mod soak;
mod storage_faults;
mod support;
