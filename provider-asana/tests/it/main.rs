//! provider-asana's integration tests, in one binary: the typed client (requests, errors,
//! pagination, retries, the rate limiter, tracing, webhooks), the agent connector, and the auth
//! manager end to end against the fake Asana.

mod client_changes;
mod client_errors;
mod client_limiter;
mod client_pagination;
mod client_requests;
mod client_retries;
mod client_support;
mod client_tracing;
mod client_webhooks;
mod connector_execute;
mod connector_failures;
mod connector_hosted;
mod connector_standalone;
mod connector_testkit_walk;
mod e2e_auth_manager;
