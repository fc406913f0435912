//! `minutely-tools`: what drives or feeds a Minutely server without being part of the product:
//! sample data (`gen`), a load generator (`load`), a steady-rate soak run (`soak`) and the
//! floor server the real-time benchmarks are read against (`floor`). The product binary,
//! `minutely`, carries none of it; `minutely-tools` is built beside it.

pub mod floor;
pub mod fraudsim;
pub mod generate;
pub mod load;
pub mod soak;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Sample data, load and soak runs for the Minutely charging engine.
#[derive(Parser)]
#[command(
    name = "minutely-tools",
    version,
    about = "Sample data, load and soak runs for the Minutely charging engine (not part of the product)."
)]
struct Cli {
    /// The embedded store (a SQLite file) of the server under test: `soak` reports its file
    /// sizes when it exists.
    #[arg(
        long,
        global = true,
        env = "MINUTELY_DB",
        default_value = "minutely.db"
    )]
    db: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate sample data: call records or a sample rate card.
    #[command(subcommand)]
    Gen(generate::GenCommand),
    /// Drive authorize + end pairs against a running server and report throughput and latency.
    ///
    /// Example: minutely-tools load --url http://127.0.0.1:8080 --key mk_... --pairs 20000
    Load(load::LoadArgs),
    /// A bounded run at a steady arrival rate with mixed traffic: prints latency, the server's
    /// memory and the store's size every interval, then a verdict on growth. The store's file
    /// sizes are those of --db (the same default as `minutely serve`) when that file exists.
    ///
    /// Example: minutely-tools --db minutely.db soak --key mk_... --rate 800 --duration 600 --pid 4242
    Soak(soak::SoakArgs),
    /// The floor under the real-time figures: an HTTP server on the product's stack that only
    /// appends a record a call to a file and syncs it (group commit) before answering. Driven
    /// by `load` with the product's arguments, it shows what HTTP on loopback, one durable
    /// commit a request and the load generator allow on this machine.
    ///
    /// Example: minutely-tools floor --listen 127.0.0.1:8090 --dir /tmp/floor --seconds 60
    Floor(floor::FloorArgs),
    /// The toll-fraud guard's simulation: seeded tenants over weeks of ordinary dial-outs with
    /// five attacks in the last week, run with no guard, static lists only, a total-cost
    /// threshold and the full guard; prints the losses, the time to the first alert and block,
    /// and the false positives (FRAUD.md).
    ///
    /// Example: minutely-tools fraud-sim --seed 1 --tenants 300 --days 35
    FraudSim {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(10..=5000))]
        tenants: u64,
        #[arg(long, default_value_t = 35, value_parser = clap::value_parser!(u32).range(21..=120))]
        days: u32,
    },
}

/// Parses the command line of `minutely-tools`, runs the command and gives its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gen(c) => generate::run(c),
        Command::Load(args) => load::run(args),
        Command::Soak(args) => soak::run(&cli.db, args),
        Command::Floor(args) => floor::run(args),
        Command::FraudSim {
            seed,
            tenants,
            days,
        } => fraudsim::main(seed, tenants as usize, days),
    };
    minutely_cli::exit_code(result)
}
