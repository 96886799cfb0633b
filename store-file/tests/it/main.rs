//! store-file's integration tests, in one binary: the store against the conformance suite,
//! encryption at rest and its error cases, several processes sharing one store, and the
//! missing-key warning.

mod processes;
mod store;
mod support;
mod warning;
