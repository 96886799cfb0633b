//! The facade's integration tests, in one binary: no secret leaks through a public type, an error
//! or a log line; providers register through `inventory`; and processes sharing a store refresh
//! a token once.

mod canary;
mod registry;
mod shared_store_refresh;
