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
//! | `POST /api/v1/account/applications/token/revoke` | `{revoked, count}`: the token named (`token`), or every token scoped to the customer named (`customer_name`), ends now |
//! | `POST /api/v1/integrations/connectors` (also `/v1/...`) | 201, the connector |
//! | `GET /api/v1/integrations/connectors` | `{data: [connector, ...], next_cursor}`: a page of at most `limit` connectors (1–1,000, default 100), oldest first; pass `next_cursor` as `cursor` for the next page (`null` on the last) |
//! | `GET`, `PATCH`, `DELETE /api/v1/integrations/connectors/{id}` | the connector |
//! | `POST /api/v1/integrations/connectors/{id}/execute` (also `/api/v1/connectors/sources/{id}/execute`) | `{result, connector_metadata}` |
//! | `POST /api/v1/applications/token`, `GET /api/v1/connectors/instances_for_user`, `POST /api/v1/connectors/instances/{id}/execute` | Airbyte's SDK 0.19.34 and before: the token, the customer's connectors of a type as `{instances}`, execute |
//! | `POST /api/v1/integrations/connectors/oauth/initiate` | `{consent_url}`: the provider's consent page for a customer |
//! | `GET /api/v1/oauth/callback` (from the provider) | 303 to the `redirect_url` with `connector_id` and `secret_id` (or `error`) |
//! | `PUT /api/v1/oauth/credentials`, `GET`, `DELETE /api/v1/oauth/credentials/connector_type/{type}` | the application's own OAuth app (never its secret) |
//! | `GET /api/v1/audit?limit=N` | `{data: [entry, ...]}`, newest first |
//! | `POST /mcp` (`?connector_id=` or `X-Connector-Id`) | MCP, streamable HTTP: `describe` and `execute` on one connector |
//! | `GET /healthz`, `GET /readyz` | `{status}`; `/readyz` is 503 while the store does not answer, or while the encryption keys do not open the stored credentials (`retryable: false`) |
//! | `GET /api/v1/openapi.json` | the OpenAPI 3.1 document of all this, generated from the code |
//! | `GET /metrics` | Prometheus text: requests by route template and status, execute latency, token refreshes, Asana's 429s |
//!
//! A consent flow (`oauth/initiate`, the provider's consent page, the callback) creates the
//! connector itself and sends the user back to the application's `redirect_url` with its
//! `connector_id`, and with a `secret_id` for applications written for Airbyte's older flow:
//! `POST /api/v1/integrations/connectors` with `server_side_oauth_secret_id` set to it (and the
//! same customer and connector type) answers that same connector, once, within
//! [`OAUTH_SECRET_ID_TTL`]; no second connector is created.
//!
//! Errors are `{message, errors: [{message}], retryable, source}`, with `"outcome_unknown": true`
//! added when the request may have been carried out although it failed (a write the provider
//! failed on or did not answer in time, any request but a GET or HEAD cut by the service's
//! deadline, or a `PATCH` whose new credentials were stored before it failed, which the same
//! request completes): check before repeating it. `retryable` says whether the same request may succeed
//! later; `source` is `"provider"` when the failure is the provider's (its refusal passed on, or
//! no answer from it in time; a 404 is then a record the provider does not have) and `"service"`
//! otherwise.
//!
//! The statuses: 400/422 for invalid input, 401 for a bad or expired token, 403 for what the caller
//! may not do (a scoped token's limits, a write on a read-only connector, `/mcp` from a `Host` or
//! `Origin` outside its allow lists) or what Asana refused, 404 for anything the caller does not
//! own or that does not exist, Asana's records included, 405 for a method a path does not take
//! (with `Allow`), 409 when a connector needs re-authorization (`retryable: false`) or, from an
//! update, when other requests kept changing it meanwhile (`retryable: true`: send it again), 413
//! for an oversized body, 500 with `retryable: false` when the service's configuration or stored
//! data needs an operator or its database refused the operation (`retryable: true` only when
//! another request's write raced this one), 503 (`retryable: true`) when a store cannot be reached
//! or is locked, 429 with `Retry-After` (Asana's, or the service's own per-application rate limit,
//! [`DEFAULT_RATE_LIMIT_PER_SECOND`] unless configured, or its bound on an application's calls to
//! providers in flight, [`DEFAULT_MAX_IN_FLIGHT`]), 501 for a consent flow without a public
//! URL, 502/504 when Asana fails, 504 past the request timeout ([`DEFAULT_REQUEST_TIMEOUT`]).
//! Service tokens live [`DEFAULT_TOKEN_TTL`] unless configured (never less than
//! [`MIN_TOKEN_TTL`]); an application holds at most [`DEFAULT_MAX_SERVICE_TOKENS`] of them unless
//! configured, and is issued a scoped token only while it holds fewer than nine tenths of them
//! (one more is 429 until the first expires), and ends one early with
//! `POST /api/v1/account/applications/token/revoke`.
//!
//! ## Providers without a catalog
//!
//! Besides Asana (`connector_type` `Asana`, `definition_id` `d0243522-dccf-4978-8ba0-37ed47a0bdbf`
//! or `asana`), every declarative provider is a connector type: the built-in `github`, `google`,
//! `slack`, `notion`, `microsoft`, `linear`, `hubspot`, `salesforce`, and those of the definition
//! files the service's configuration names ([`ServerBuilder::provider_env`]'s
//! `INTEGRATIONS_PROVIDERS`, the config file's `providers` list). `connector_type` and
//! `definition_id` take the provider id or its display name, in any case. Credentials, OAuth
//! apps (the service's from `{ID}_CLIENT_ID`/`{ID}_CLIENT_SECRET`, or the application's through
//! `PUT /api/v1/oauth/credentials`), consent flows and revocation on `DELETE` work as for Asana.
//! `execute` on such a connector offers two things; anything else is 400 naming them:
//!
//! - `{"entity": "*", "action": "check"}`: the provider's "who am I" call (without one, a token
//!   is obtained, refreshed if due); `{result: {status: "healthy"|"unhealthy", error,
//!   checked_entity: "proxy", checked_action: "request", checked_request: "GET /user"}}`.
//! - `{"entity": "proxy", "action": "request", "params": ...}`: one raw request with the
//!   connector's token, only to the provider's API origin and below its API base URL, with the
//!   headers the provider requires; a 401 refreshes the token once and retries once; each
//!   attempt times out after the upstream timeout; the body read is capped at 16 MiB. The
//!   answer is `{result: <the body as JSON, else as text, null when empty>, connector_metadata:
//!   {status: <the provider's status>, headers: <its headers but Set-Cookie>}}`, 200 whatever
//!   the provider's status (a body that is not UTF-8, or text whose JSON escapes would more than
//!   double it, such as text of which more than a fifth is control characters other than tab,
//!   newline, carriage return, backspace and form feed, is a base64 string, and
//!   `connector_metadata.body_encoding` is `"base64"`); a path that leaves the API, or a request header that carries
//!   credentials or frames the request (`Authorization`, `Cookie`, `Host`, `Content-Length`,
//!   ...), is 400 and nothing is sent. The audit keeps the method, the path with value-like
//!   segments replaced by `{}`, the query parameters' and headers' names and `body` when one was
//!   sent. Its params:
//!
//! ```json
//! {
//!   "type": "object",
//!   "additionalProperties": false,
//!   "required": ["method", "path"],
//!   "properties": {
//!     "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE"],
//!                "description": "any case"},
//!     "path": {"type": "string", "pattern": "^/(?!/)[^?#]*$",
//!              "description": "below the API base URL; no `.`, `..` or encoded `/` segments"},
//!     "query": {"type": "object", "additionalProperties": {
//!       "oneOf": [{"type": ["string", "number", "boolean"]},
//!                 {"type": "array", "items": {"type": ["string", "number", "boolean"]}}]}},
//!     "headers": {"type": "object", "maxProperties": 32, "additionalProperties": {"type": "string"},
//!                 "description": "each replaces the provider's header of its name"},
//!     "body": {"description": "any JSON, sent as the request body"}
//!   }
//! }
//! ```
//!
//! Asana keeps its catalog and offers no `proxy`. `/mcp` serves Asana connectors only: for a
//! connector of a provider without a catalog it answers 400 (no tools to offer). Refreshes of
//! every provider's tokens count in `/metrics`' `integrations_token_refreshes_total`.
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
//! ## One machine or many instances
//!
//! [`StoreLocation`] (what `integrations serve --store` takes) names a directory, where the
//! service keeps SQLite files, or a `postgres://` URL (feature `postgres`, on by default): then
//! the credentials and the service's tables ([`PostgresServiceStore`]) share one database, and
//! any number of instances behind a load balancer serve the same applications and connectors:
//! a consent started on one completes on another, and each expired token is refreshed once
//! between them (the core's refresh lease, fenced by the record's version). A lease left by an
//! instance that died while refreshing lapses after 40 s. While the database is unreachable,
//! requests are answered 503 with `retryable: true` (a service token that cannot be checked
//! too, never 401) and `/readyz` is 503; the instances serve again when it returns.
//!
//! While serving, a background refresher ([`ServerBuilder::refresh_ahead`]) refreshes OAuth
//! tokens of every provider that expire within [`DEFAULT_REFRESH_MARGIN`], claimed in batches
//! that no two instances share, through the same single flight as executes (for a provider
//! without a catalog, the same store lease as its raw requests), so that executes find fresh
//! tokens. A token created without an expiry is refreshed when the provider rejects it, and
//! tracked from then on. Asana does not rotate refresh tokens; for a provider that does
//! (GitHub, Microsoft), an instance that dies between the provider's answer and the write of the
//! new tokens (a store write, usually milliseconds) loses the rotated token, and the connector
//! needs re-authorization (see the core's `RefreshingTokenSource`).
//!
//! ## Layers
//!
//! Each module imports only those above it: `error`; `metrics` (Prometheus text); `limits` (rate
//! limit, the answer past a request's deadline); `edge` (the layer every request passes: its
//! deadline and its count); `listen` (serving connections: the time to send a request's head,
//! the graceful shutdown); `store` ([`ServiceStore`], [`SqliteServiceStore`],
//! `PostgresServiceStore`); `secrets` (random values, hashes, sealing); `keycheck` (whether the
//! configured keys open the stored credentials); `tokens` (the `Principal` extractor);
//! `providers` (connector types, credentials, warm connectors); `admin` ([`Admin`]);
//! `refresher` (the background refresher); `retention` (audit entries past their retention);
//! `routes` (one module per route group); `openapi` (the
//! document); `server` ([`Server`], [`ServerBuilder`]).
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod admin;
mod edge;
mod error;
mod keycheck;
mod limits;
mod listen;
mod metrics;
mod openapi;
mod providers;
mod refresher;
mod retention;
mod routes;
mod secrets;
mod server;
mod store;
mod tokens;

pub use admin::{Admin, Application, ApplicationCredentials, Reencrypted};
pub use error::{ServerError, ServiceStoreError};
pub use limits::{
    DEFAULT_MAX_IN_FLIGHT, DEFAULT_RATE_LIMIT_BURST, DEFAULT_RATE_LIMIT_PER_SECOND,
    DEFAULT_REQUEST_TIMEOUT,
};
pub use listen::DEFAULT_HEADER_READ_TIMEOUT;
pub use providers::ASANA_DEFINITION_ID;
pub use routes::oauth::OAUTH_SECRET_ID_TTL;
pub use server::{
    BackgroundTasks, DEFAULT_AUDIT_RETENTION, DEFAULT_CONNECTOR_CACHE, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_SERVICE_TOKENS, DEFAULT_REFRESH_INTERVAL, DEFAULT_REFRESH_MARGIN,
    DEFAULT_TOKEN_TTL, DEFAULT_UPSTREAM_TIMEOUT, MIN_TOKEN_TTL, Server, ServerBuilder,
    StoreLocation,
};
#[cfg(feature = "postgres")]
pub use store::PostgresServiceStore;
#[cfg(feature = "testing")]
pub use store::testing;
pub use store::{
    ApplicationRecord, AuditEntry, AuthKind, ConnectorFilter, ConnectorPosition, ConnectorRecord,
    Issuer, JoinedCredentials, OAuthAppRecord, OAuthAppSource, OAuthSecretClaim, OAuthSecretRecord,
    OAuthStateRecord, Sealed, SealedAt, SealedValue, ServiceStore, SqliteServiceStore,
    TokenAndConnector, TokenInsert, TokenRecord,
};
