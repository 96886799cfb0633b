//! # auth-core
//!
//! The provider-agnostic heart of `integrations`: the traits [`AuthProvider`], [`UserCredentials`] and
//! [`CredentialStore`], the OAuth2 lifecycle, configuration, sessions and errors.
#![warn(missing_docs)]

pub mod config;
#[cfg(feature = "encryption")]
pub mod crypto;
pub mod error;
pub mod manager;
pub mod oauth2;
pub mod provider;
pub mod secret;
pub mod session;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;
pub mod token_source;

pub use error::{AuthError, ConfigError, ConfigSource, ErrorClass, StoreError};
pub use manager::{AuthManager, AuthManagerBuilder, CredentialInfo, ProviderStatus};
pub use oauth2::{AuthorizationRequest, AuthorizeOptions, OAuth2Flow};
pub use provider::{AuthProvider, OAuth2Settings, ProviderRegistration};
pub use secret::SecretString;
pub use session::{RefreshCallback, Session, SessionOptions};
pub use store::{
    CredentialRecord, CredentialStatus, CredentialStore, MemoryCredentialStore, Payload, PutMode,
    RefreshLease, StoredCredential, Version,
};
pub use token::{Credentials, OAuth2Token, UserCredentials};
pub use token_source::{CredentialSource, StaticTokenSource, TokenSource};

/// Re-exported so provider crates can register with `auth_core::inventory::submit!`.
pub use inventory;
