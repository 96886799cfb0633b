//! auth-core's integration tests, in one binary: the OAuth flow, sessions and refresh, and the
//! in-memory store's conformance.

mod api_request;
mod common;
#[cfg(feature = "testing")]
mod memory_store;
mod oauth_flow;
mod read_limited;
mod refresh;
mod token_quirks;
