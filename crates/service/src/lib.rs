//! Minutely's application layer: every use case once, shared by the HTTP API and the command
//! line. Writes run in the single writer (`writer`), which owns every tenant's state machine and
//! the store's write connection; reads are query functions over a store. Every use case fails
//! with one error type, `ServiceError`, which knows no protocol.

pub mod advice;
pub mod audit;
pub mod clock;
pub mod cluster;
pub mod commands;
pub mod error;
pub mod ingest;
pub mod input;
pub mod keys;
pub mod statements;
pub mod tenants;
pub mod writer;
mod written;

pub use commands::{Answer, Command};
pub use error::{Kind, ServiceError, ServiceResult, unknown_tenant};
