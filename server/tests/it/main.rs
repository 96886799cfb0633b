//! integrations-server's integration tests, in one binary: the service runs in-process on
//! 127.0.0.1:0 against the fake Asana of provider-asana-testkit, and every test talks HTTP to it;
//! `instances` and `store` also run on a throwaway PostgreSQL (`store_postgres::testing`).

mod applications;
mod audit;
mod bad_input;
mod connectors;
mod instances;
mod mcp;
mod oauth;
mod openapi;
mod operations;
mod providers;
mod secrets;
mod store;
mod support;
mod tenancy;
mod upstream;
