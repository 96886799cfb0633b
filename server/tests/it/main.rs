//! integrations-server's integration tests, in one binary: the service runs in-process on
//! 127.0.0.1:0 against the fake Asana of provider-asana-testkit, and every test talks HTTP to it.

mod applications;
mod audit;
mod bad_input;
mod connectors;
mod oauth;
mod secrets;
mod store;
mod support;
mod tenancy;
mod upstream;
