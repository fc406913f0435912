//! Every integration test of this crate, in one binary (one link, one run): a module per area.

mod advise;
mod audit;
mod backup;
mod cgrates;
mod cli;
mod cluster;
mod crash;
mod deck;
mod events_nats;
mod floor;
mod fraud;
mod import_cdr;
mod keys;
mod offline_tenants;
mod postgres;
mod secrets;
mod serve;
mod soak;
mod storage_faults;
mod support;
