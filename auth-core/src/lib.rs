//! # auth-core
//!
//! The provider-agnostic heart of `integrations`: the traits [`AuthProvider`], [`UserCredentials`] and
//! [`CredentialStore`]; [`AuthManager`] with its OAuth2 flows ([`OAuth2Flow`]: state, PKCE S256,
//! exchange, refresh, revoke) and [`Session`]s whose token sources refresh by themselves, once,
//! however many callers and processes ask; configuration ([`config`]); the `inventory` registry of
//! providers ([`provider`]); typed errors ([`AuthError`], [`StoreError`]); redacted secrets ([`SecretString`]); the
//! in-memory store, the store conformance suite (feature `testing`) and encryption at rest as a
//! layer over any store (`EncryptedStore`, feature `encryption`).
//!
//! ## Layers
//!
//! Each module imports only modules listed below it (no import circles). Applications use the
//! items re-exported at the crate root; the public modules are for implementers of providers
//! (`config`, `provider`, `token`, `http`, and `secret`'s serde helpers), stores (`store`, `crypto`, `local_files`, `testing`) and
//! pending-state stores (`pending`).
//!
//! | module | its one job |
//! | --- | --- |
//! | `manager` | configured providers, the store and pending states; opens flows and sessions ([`AuthManager`]) |
//! | `session` | a subject's token source per provider, whatever the source ([`Session`]) |
//! | `request` | a raw request to a provider's API with a subject's token ([`ApiRequest`]) |
//! | `cell`, `oauth2` | the refreshing credential of one (provider, subject) ([`RefreshingTokenSource`]); the code flow ([`OAuth2Flow`]) |
//! | `endpoint` | a provider's token and revocation endpoints and the classification of answers ([`TokenEndpoint`]) |
//! | [`provider`] | the [`AuthProvider`] trait, OAuth2 settings and the registry |
//! | [`config`] | layered configuration loading |
//! | [`token`], [`pending`] | credentials and token responses; pending authorizations |
//! | [`store`], `token_source`, [`redact`], [`http`], [`local_files`] | the store trait; the [`TokenSource`] trait; redaction; capped response bodies; owner-only files for stores |
//! | `error`, `secret` | typed errors ([`AuthError`], [`StoreError`]); redacted secrets ([`SecretString`]) |
//!
//! Nothing here names a provider: a provider crate implements [`AuthProvider`] and registers a
//! [`ProviderRegistration`] (or, for providers known only at run time such as definitions read
//! from files, a [`ProviderSource`]); a store crate implements [`CredentialStore`] and runs
//! `auth_core::testing::run_conformance`.
//!
//! ## The flow
//!
//! authorize → exchange → store_credentials → session → token, against a local token endpoint:
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use auth_core::config::EnvSource;
//! use auth_core::provider::OAuth2Settings;
//! use auth_core::{AuthError, AuthManager, AuthProvider, AuthorizeOptions, CredentialSource};
//! use wiremock::matchers::{method, path};
//! use wiremock::{Mock, MockServer, ResponseTemplate};
//!
//! #[derive(Debug)]
//! struct Example(OAuth2Settings);
//!
//! #[async_trait::async_trait]
//! impl AuthProvider for Example {
//!     fn id(&self) -> &str { "example" }
//!     fn oauth2_settings(&self) -> Option<&OAuth2Settings> { Some(&self.0) }
//! }
//!
//! let server = MockServer::start().await;
//! Mock::given(method("POST")).and(path("/token"))
//!     .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
//!         "access_token": "at-1", "token_type": "bearer", "expires_in": 3600, "refresh_token": "rt-1"
//!     })))
//!     .mount(&server).await;
//! let settings = OAuth2Settings::new(
//!     format!("{}/authorize", server.uri()).parse().unwrap(),
//!     format!("{}/token", server.uri()).parse().unwrap(),
//!     "client-id",
//! )
//! .with_client_secret("client-secret".into())
//! .with_redirect_uri("http://127.0.0.1:8765/callback".parse().unwrap());
//! let auth = AuthManager::builder().env(EnvSource::empty()).provider(Example(settings)).build().unwrap();
//!
//! // 1. Send the logged-in user to the consent page; state, PKCE verifier and the user (the
//! //    subject) are remembered.
//! let flow = auth.oauth2("example").unwrap();
//! let options = AuthorizeOptions::for_subject("user-123").scopes(["read"]);
//! let step = flow.authorize(options).await.unwrap();
//! assert!(step.url.as_str().contains("code_challenge_method=S256"));
//!
//! // 2. The provider redirects back with ?code=...&state=...: the state is checked first, and
//! //    must have been issued to the user at the callback (from the app's login session).
//! let credentials = flow.exchange("the-code", &step.state, "user-123").await.unwrap();
//! assert!(flow.exchange("the-code", &step.state, "user-123").await.is_err(), "states are single use");
//! let other = flow.authorize(AuthorizeOptions::for_subject("user-123")).await.unwrap();
//! let refused = flow.exchange("the-code", &other.state, "user-456").await.unwrap_err();
//! assert!(matches!(refused, AuthError::StateSubjectMismatch { .. }), "issued to another user");
//!
//! // 3. Store them under (provider, subject) and open a session.
//! auth.store_credentials("example", "user-123", &credentials).await.unwrap();
//! let session = auth.session("user-123").await.unwrap();
//! assert_eq!(session.source("example"), Some(CredentialSource::Stored));
//! assert_eq!(session.token("example").await.unwrap().expose_secret(), "at-1");
//! # });
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cell;
pub mod config;
#[cfg(feature = "encryption")]
pub mod crypto;
#[cfg(feature = "encryption")]
mod encrypted;
mod endpoint;
mod error;
pub mod http;
pub mod local_files;
mod manager;
mod oauth2;
pub mod pending;
#[cfg(test)]
mod proptests;
pub mod provider;
pub mod redact;
mod request;
pub mod secret;
mod session;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;
mod token_source;

pub use cell::{RefreshCallback, RefreshingTokenSource, STORE_WRITE_BUDGET};
#[cfg(feature = "encryption")]
pub use encrypted::{EncryptedStore, RecordOpener};
pub use endpoint::TokenEndpoint;
pub use error::{
    AuthError, ConfigError, ConfigSource, ErrorClass, OAuthErrorCode, StoreError, TokenOperation,
};
pub use manager::{
    AuthManager, AuthManagerBuilder, CredentialInfo, ListedCredential, ProviderStatus,
};
pub use oauth2::{AuthorizationRequest, AuthorizeOptions, OAuth2Flow, is_reserved_authorize_param};
pub use pending::{MemoryPendingStates, PendingStateStore, StoredPendingStates};
pub use provider::{
    AuthProvider, OAuth2Settings, ProviderFactory, ProviderRegistration, ProviderSource,
};
pub use request::{ApiRequest, ApiResponse, MAX_API_RESPONSE_BYTES, REFUSED_HEADERS};
pub use secret::SecretString;
pub use session::{Session, SessionOptions};
pub use store::{
    CredentialRecord, CredentialStatus, CredentialStore, MemoryCredentialStore, Payload, PutMode,
    RefreshLease, StoredCredential, Updated, Version,
};
pub use token::{Credentials, OAuth2Token, UserCredentials};
pub use token_source::{CredentialSource, StaticTokenSource, TokenSource};

/// The method of an [`ApiRequest`] (reqwest's, re-exported).
pub use reqwest::Method;

/// The URL of every setting and option that takes one (an API base URL, a redirect URI), the
/// `url` crate's, re-exported so that an application needs no dependency of its own to set one:
/// `let base: Url = "http://127.0.0.1:8080/api/1.0".parse()?;`.
pub use url::Url;

/// Re-exported so provider crates can register with `auth_core::inventory::submit!`.
pub use inventory;
