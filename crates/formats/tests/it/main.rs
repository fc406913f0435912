//! Every integration test of this crate, in one binary (one link, one run): a module per area.

mod acc;
mod fuzz_corpus;
