//! The HTTP server, one module per concern: `state` (configuration and what every request
//! shares), `extract` (our extractors), `error_body` (the error body and its rendering),
//! `middleware` (the `edge` and `gate` layers and the router) and `startup` (start, listen,
//! metrics, signals and graceful shutdown). Their public items are re-exported here, so that
//! handlers and other crates name them as `crate::app::X`.

mod error_body;
mod extract;
mod middleware;
mod startup;
mod state;

pub(crate) use error_body::new_request_id;
pub use error_body::{ErrorBody, ErrorDetail};
pub use extract::{Caller, Path, Query, RequestId};
pub use middleware::router;
pub use startup::Server;
pub use state::{AppState, Config, Readers, Shared};

pub use crate::body::{Json, JsonOrEmpty};
