//! Minutely's server: the `/v1` HTTP API over the charging core, real-time call control with
//! reservations, a single writer per shard with group commit, credentials, localized errors,
//! webhooks, metrics, and the web console.
//!
//! Only this crate knows HTTP and JSON; the core stays pure and the store is reached through
//! the writer (changes) or read-only connections (reports).

pub mod access;
pub mod api;
pub mod app;
pub mod auth;
mod background;
pub mod body;
pub mod cluster;
pub mod console;
pub mod error;
pub mod i18n;
mod listener;
pub mod ratelimit;
pub mod stream;
pub mod webhooks;
pub mod writer;

pub use app::{Config, Server};
pub use listener::{BACKLOG, bind};
/// The writer's clock lives in the service; it is named here as before.
pub use minutely_service::clock;
