//! Every integration test of this crate, in one binary (one link, one run): a module per area.

/// Returns from a test that looks inside the SQLite file (its pragmas, or rows changed behind
/// the store's back) when this run's stores are on PostgreSQL.
macro_rules! sqlite_only {
    () => {
        if minutely_testkit::stores::on_postgres() {
            eprintln!("SQLite only: this test reads or changes the database file directly");
            return;
        }
    };
}

mod audit;
mod backup;
mod checkpoint;
mod integrity;
mod leases;
mod server_tables;
mod store;
