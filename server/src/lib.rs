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
//! | `POST /api/v1/integrations/connectors/oauth/initiate` | `{consent_url}`: Asana's consent page for a customer |
//! | `GET /api/v1/oauth/callback` (from Asana) | 303 to the `redirect_url` with `connector_id` (or `error`) |
//! | `PUT /api/v1/oauth/credentials`, `GET`, `DELETE /api/v1/oauth/credentials/connector_type/{type}` | the application's own OAuth app (never its secret) |
//! | `GET /api/v1/audit?limit=N` | `{data: [entry, ...]}`, newest first |
//! | `GET /healthz`, `GET /readyz` | `{status}` |
//!
//! Errors are `{message, errors: [{message}], retryable}`: 400/422 for invalid input, 401 for a
//! bad or expired token, 404 for anything the caller does not own, 409 when a connector needs
//! re-authorization, 413 for an oversized body, 429 with `Retry-After`, 502/504 when Asana fails.
//! Service tokens live [`DEFAULT_TOKEN_TTL`] unless configured (never less than
//! [`MIN_TOKEN_TTL`]).
//!
//! ## The hosted life
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use integrations::asana::AsanaAppCredentials;
//! use integrations::{EncryptionKey, KeyRing};
//! use integrations_server::Server;
//! use provider_asana_testkit::MockAsana;
//! use serde_json::{Value, json};
//!
//! // The service, over a fake Asana, on a free port.
//! let asana = MockAsana::start().await;
//! let mut app = AsanaAppCredentials::default();
//! app.api_base_url = asana.api_base_url().parse()?;
//! let dir = tempfile::tempdir()?;
//! let server = Server::builder()
//!     .store_dir(dir.path())
//!     .encryption_keys(KeyRing::new(EncryptionKey::generate()))
//!     .asana_app(app)
//!     .build()
//!     .await?;
//! let created = server.admin().create_application("acme", &[]).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("http://{}", listener.local_addr()?);
//! tokio::spawn(server.serve(listener, std::future::pending()));
//!
//! // The application's token, a connector for its customer, and an execute.
//! let http = reqwest::Client::new();
//! let token: Value = http
//!     .post(format!("{url}/api/v1/account/applications/token"))
//!     .json(&json!({
//!         "client_id": created.application.client_id,
//!         "client_secret": created.client_secret.expose_secret(),
//!     }))
//!     .send().await?.json().await?;
//! let bearer = token["access_token"].as_str().unwrap_or_default();
//! let connector: Value = http
//!     .post(format!("{url}/api/v1/integrations/connectors"))
//!     .bearer_auth(bearer)
//!     .json(&json!({
//!         "external_user_id": "customer-1",
//!         "connector_type": "Asana",
//!         "credentials": { "token": asana.personal_access_token() },
//!     }))
//!     .send().await?.json().await?;
//! let id = connector["id"].as_str().unwrap_or_default();
//! let me: Value = http
//!     .post(format!("{url}/api/v1/integrations/connectors/{id}/execute"))
//!     .bearer_auth(bearer)
//!     .json(&json!({ "entity": "users", "action": "get", "params": { "user_gid": "me" } }))
//!     .send().await?.json().await?;
//! assert_eq!(me["result"]["name"], "Greg Sanchez");
//! # Ok(())
//! # }
//! ```
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
mod refresher;
mod routes;
mod secrets;
mod server;
mod store;
mod tokens;

pub use admin::{Admin, Application, ApplicationCredentials};
pub use error::{ServerError, ServiceStoreError};
pub use providers::ASANA_DEFINITION_ID;
pub use server::{
    DEFAULT_CONNECTOR_CACHE, DEFAULT_MAX_BODY_BYTES, DEFAULT_REFRESH_INTERVAL,
    DEFAULT_REFRESH_MARGIN, DEFAULT_TOKEN_TTL, DEFAULT_UPSTREAM_TIMEOUT, MIN_TOKEN_TTL, Server,
    ServerBuilder, StoreLocation,
};
#[cfg(feature = "postgres")]
pub use store::PostgresServiceStore;
#[cfg(feature = "testing")]
pub use store::testing;
pub use store::{
    ApplicationRecord, AuditEntry, AuthKind, ConnectorFilter, ConnectorRecord, OAuthAppRecord,
    OAuthAppSource, OAuthStateRecord, Sealed, ServiceStore, SqliteServiceStore, TokenRecord,
};
