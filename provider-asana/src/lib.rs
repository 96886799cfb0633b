//! # provider-asana
//!
//! Asana for `integrations`: the auth provider (OAuth2 with PKCE, personal access tokens), a typed
//! client over Asana's core resources, and an agent-style `execute(entity, action, params)` catalog.
//!
//! The provider registers itself with `inventory`: an `AuthManager` built with Asana configuration
//! present (env keys `ASANA_*`, a TOML `[asana]` section, or values in code) sets it up without any
//! import of this crate.
//!
//! ```
//! use provider_asana::{AsanaAppCredentials, AsanaAuthProvider};
//! use auth_core::AuthProvider;
//!
//! let mut app = AsanaAppCredentials::default();
//! app.client_id = Some("client-id".into());
//! app.client_secret = Some("client-secret".into());
//! let provider = AsanaAuthProvider::new(app).unwrap();
//! assert_eq!(provider.oauth2_settings().unwrap().token_url.as_str(), "https://app.asana.com/-/oauth_token");
//! assert!(!format!("{provider:?}").contains("client-secret"));
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
pub mod client;
pub mod connector;
mod defaults;
pub mod error;
pub mod models;
pub mod webhooks;

pub use auth::{
    AsanaAppCredentials, AsanaAuthProvider, AsanaSessionExt, AsanaUser, AsanaUserCredentials,
    FIELDS, PROVIDER_ID,
};
pub use client::{
    AsanaClient, AsanaClientSettings, ConcurrencyLimiter, DownloadClient, List, PageStream,
    RetryConfig,
};
pub use connector::{
    AsanaConnector, AsanaOAuthConfig, ExecuteError, Health, HostedConfig, HostedTarget, JsonResult,
    UnhealthyReason,
};
pub use defaults::{
    DEFAULT_API_BASE_URL, DEFAULT_AUTHORIZATION_URL, DEFAULT_REVOCATION_URL, DEFAULT_TOKEN_URL,
};
pub use error::{AsanaError, ServiceError};
pub use models::Page;
