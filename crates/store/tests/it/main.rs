//! Every integration test of this crate, in one binary (one link, one run): a module per area.

mod audit;
mod backup;
mod checkpoint;
mod integrity;
mod server_tables;
mod store;
