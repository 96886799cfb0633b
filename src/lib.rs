//! # integrations
//!
//! Connect your users' SaaS accounts and call those services on their behalf: the OAuth2 consent
//! dance with state and PKCE, durable per-user credential storage, automatic single-flight refresh,
//! and typed provider clients. Asana is the first provider.
//!
//! This crate is a facade. Features:
//!
//! | feature | default | brings |
//! | --- | --- | --- |
//! | `asana` | yes | [`asana`]: `AsanaAuthProvider`, `AsanaClient`, the `execute` catalog |
//! | `declarative` | no | `declarative`: providers described as TOML, the built-in set (GitHub, Google, Slack, Notion, Microsoft, Linear, HubSpot, Salesforce) and your own files |
//! | `sqlite` | yes | [`SqliteCredentialStore`], the embedded default store |
//! | `file` | no | `FileCredentialStore`, one JSON document on disk |
//! | `postgres` | no | `PostgresCredentialStore`, shared by processes on many machines |
//!
//! The root holds what most applications use. The rest of the core is under [`auth_core`], for
//! example `integrations::auth_core::StoredPendingStates` (pending consents shared by several
//! instances), `integrations::auth_core::UserCredentials` and
//! `integrations::auth_core::AuthProvider`; each provider is under its module (`asana`,
//! `declarative`). Each store comes with its builder (`SqliteStoreBuilder` from
//! `SqliteCredentialStore::builder`, and so on), for a key ring chosen in code.
//!
//! Providers register themselves with `inventory`: with the `asana` feature on,
//! `AuthManager::builder()` finds Asana without any import, and configures it when its
//! configuration (env keys `ASANA_*`, a TOML file, or values in code) is present.
//!
//! ```
//! use integrations::{AuthManager, EnvSource};
//!
//! let auth = AuthManager::builder()
//!     .env(EnvSource::empty())
//!     .configure("asana", [("client_id", "my-client-id"), ("client_secret", "my-client-secret")])
//!     .build()
//!     .unwrap();
//! assert_eq!(auth.provider_ids(), ["asana"]);
//! # #[cfg(not(feature = "asana"))] compile_error!("this example needs the asana feature");
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The provider-agnostic core, for implementers of providers and stores: the `AuthProvider` and
/// `UserCredentials` traits, configuration keys and fields, the registry, store records and
/// helpers, encryption envelopes. This crate's root re-exports what most applications use; the
/// rest is reached through this module, for example
/// [`auth_core::StoredPendingStates`] (for consent callbacks that may reach another instance
/// than the one that started the flow), [`auth_core::UserCredentials`] and
/// [`auth_core::AuthProvider`].
pub use auth_core;

pub use auth_core::config::EnvSource;
pub use auth_core::crypto::{EncryptionKey, KeyRing};
pub use auth_core::{
    ApiRequest, ApiResponse, AuthError, AuthManager, AuthManagerBuilder, AuthorizationRequest,
    AuthorizeOptions, ConfigError, ConfigSource, CredentialInfo, CredentialSource,
    CredentialStatus, CredentialStore, Credentials, EncryptedStore, ErrorClass, ListedCredential,
    MemoryCredentialStore, Method, OAuth2Flow, OAuth2Token, OAuthErrorCode, ProviderStatus,
    RecordOpener, RefreshingTokenSource, SecretString, Session, SessionOptions, StaticTokenSource,
    StoreError, TokenOperation, TokenSource, Url,
};

/// Asana: auth provider, typed client, agent catalog (feature `asana`).
#[cfg(feature = "asana")]
pub use provider_asana as asana;

/// Providers described as TOML: the built-in set and users' own definition files (feature
/// `declarative`).
#[cfg(feature = "declarative")]
pub use provider_declarative as declarative;

/// The embedded default credential store, and its builder (feature `sqlite`).
#[cfg(feature = "sqlite")]
pub use store_sqlite::{SqliteCredentialStore, SqliteStoreBuilder};

/// A credential store kept in one JSON document, and its builder (feature `file`).
#[cfg(feature = "file")]
pub use store_file::{FileCredentialStore, FileStoreBuilder};

/// A credential store on PostgreSQL, which processes on many machines share (refresh leases
/// fenced by the database, waiters woken by `LISTEN`/`NOTIFY`), and its builder (feature
/// `postgres`).
#[cfg(feature = "postgres")]
pub use store_postgres::{PostgresCredentialStore, PostgresStoreBuilder};

/// The README's Rust examples, compiled as doctests so that they stay true.
#[cfg(all(doctest, feature = "asana", feature = "sqlite"))]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
