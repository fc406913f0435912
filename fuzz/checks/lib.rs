//! The checks behind each fuzz target. A target hands its input to one function here; the
//! replay tests of the formats and server crates include the same files and hand them every
//! input of the committed corpus, so a failure found by fuzzing stays fixed on stable.

pub mod api;
pub mod formats;
pub mod imports;
