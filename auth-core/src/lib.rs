//! # auth-core
//!
//! The provider-agnostic heart of `integrations`: the traits [`AuthProvider`], [`UserCredentials`] and
//! [`CredentialStore`], the OAuth2 lifecycle, configuration, sessions and errors.
#![warn(missing_docs)]

#[cfg(feature = "encryption")]
pub mod crypto;
pub mod error;
pub mod secret;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;
pub mod token_source;

pub use error::{AuthError, ConfigError, ConfigSource, ErrorClass, StoreError};
pub use secret::SecretString;
pub use store::{
    CredentialRecord, CredentialStatus, CredentialStore, MemoryCredentialStore, Payload, PutMode,
    RefreshLease, StoredCredential, Version,
};
pub use token::{Credentials, OAuth2Token, UserCredentials};
pub use token_source::{CredentialSource, StaticTokenSource, TokenSource};
