//! # integrations-mcp
//!
//! The catalog of `integrations` as Model Context Protocol tools, with the official Rust SDK
//! (`rmcp`).
//!
//! An [`McpServer`] offers two tools by default, which stay small for a large catalog:
//! `describe` (every entity with its actions; with `{entity}`, each action's params schema) and
//! `execute` (`{entity, action, params}`). With [`McpServerBuilder::tools`] it offers one tool per
//! selected action instead, named `{entity}_{action}` with the action's JSON Schema as its input
//! schema and hints from what the action does (`readOnlyHint`, `destructiveHint`,
//! `idempotentHint`). A read-only server hides and refuses every write.
//!
//! Calls go to an [`Executor`]: [`AsanaConnector`](provider_asana::connector::AsanaConnector)
//! implements it, so the CLI serves a stored connection on stdio
//! ([`McpServer::serve_stdio`]); a hosted service mounts [`http_service`], which answers each
//! request with the server its route chose for the caller. Results carry the JSON
//! as structured content and as text; every failure, bad params included, is a tool result with
//! `isError` and `{"error": {kind, message, retryable, needs_reauthorization}}`.
//!
//! ```
//! use std::sync::Arc;
//!
//! use auth_core::SecretString;
//! use integrations_mcp::McpServer;
//! use provider_asana::connector::AsanaConnector;
//!
//! let connector = AsanaConnector::with_token(SecretString::from("a personal access token"))?;
//! let server = McpServer::builder()
//!     .read_only(true)
//!     .tools(["tasks.*", "*.list"])
//!     .build(Arc::new(connector))?;
//! # drop(server);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules, each using only those before it: `executor` (the [`Executor`] trait), `tools` (the
//! tool set, calls and tool errors), `server` (the MCP handler and its transports); `testing`
//! (feature `testing`) helps tests call tools through rmcp's client, and sends what that client
//! cannot as plain HTTP.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod executor;
mod server;
#[cfg(feature = "testing")]
pub mod testing;
mod tools;

pub use executor::{AnsweredCall, Executor, Refusal};
pub use server::{
    HttpHandler, HttpSettings, McpServer, McpServerBuilder, SERVER_NAME, ServeError, http_service,
};
pub use tools::SetupError;
