//! Minutely's charging core. Pure and deterministic: no IO, no clock (time is an input), no
//! async, no serialization formats. Everything that decides money lives here.

pub mod money;
pub mod numbers;
pub mod reason;

pub use reason::Reason;
pub mod advisor;
pub mod calendar;
pub mod catalogue;
pub mod control;
pub mod digest;
pub mod directory;
pub mod engine;
pub mod explain;
pub mod funding;
pub mod guard;
pub mod ident;
pub mod lang;
pub mod ledger;
pub mod live;
pub mod rating;
pub mod rerate;
pub mod reservations;
