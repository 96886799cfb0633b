//! # integrations-server
//!
//! Hosted execution for `integrations`: a multi-tenant HTTP service with the paths and shapes of
//! Airbyte's hosted agent API. An application trades its client id and secret for a short-lived
//! service token, registers its customers' Asana accounts as connectors (token or OAuth
//! credentials, kept encrypted in the core's credential store), and executes
//! `{entity, action, params}` on them without ever holding their tokens again.
//!
//! | method and path | answer |
//! | --- | --- |
//! | `POST /api/v1/account/applications/token` | `{access_token, token_type: "bearer", expires_in, organization_id}` |
//! | `POST /api/v1/account/applications/scoped-token` | `{token, expires_in}`, limited to one customer |
//! | `POST /api/v1/integrations/connectors` (also `/v1/...`) | 201, the connector |
//! | `GET /api/v1/integrations/connectors` | `{data: [connector, ...]}` |
//! | `GET`, `PATCH`, `DELETE /api/v1/integrations/connectors/{id}` | the connector |
//! | `POST /api/v1/integrations/connectors/{id}/execute` (also `/api/v1/connectors/sources/{id}/execute`) | `{result, connector_metadata}` |
//! | `GET /api/v1/audit?limit=N` | `{data: [entry, ...]}`, newest first |
//! | `GET /healthz`, `GET /readyz` | `{status}` |
//!
//! Errors are `{message, errors: [{message}], retryable}`: 400/422 for invalid input, 401 for a
//! bad or expired token, 404 for anything the caller does not own, 409 when a connector needs
//! re-authorization, 413 for an oversized body, 429 with `Retry-After`, 502/504 when Asana fails.
//! Service tokens live [`DEFAULT_TOKEN_TTL`] unless configured (never less than
//! [`MIN_TOKEN_TTL`]).
//!
//! ## Layers
//!
//! Each module imports only those above it: `error`; `store` ([`ServiceStore`],
//! [`SqliteServiceStore`]); `secrets` (random values, hashes, sealing); `tokens` (the `Principal` extractor);
//! `providers` (connector types, credentials, warm connectors); `admin` ([`Admin`]); `routes`
//! (one module per route group); `server` ([`Server`], [`ServerBuilder`]).
#![warn(missing_docs)]

mod admin;
mod error;
mod providers;
mod routes;
mod secrets;
mod server;
mod store;
mod tokens;

pub use admin::{Admin, Application, ApplicationCredentials};
pub use error::{ServerError, ServiceStoreError};
pub use providers::ASANA_DEFINITION_ID;
pub use server::{
    DEFAULT_CONNECTOR_CACHE, DEFAULT_MAX_BODY_BYTES, DEFAULT_TOKEN_TTL, DEFAULT_UPSTREAM_TIMEOUT,
    MIN_TOKEN_TTL, Server, ServerBuilder,
};
pub use store::{
    ApplicationRecord, AuditEntry, AuthKind, ConnectorFilter, ConnectorRecord, OAuthAppRecord,
    OAuthAppSource, OAuthStateRecord, Sealed, ServiceStore, SqliteServiceStore, TokenRecord,
};
