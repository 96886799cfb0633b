//! # provider-declarative
//!
//! Providers described as data: a TOML definition becomes a registered
//! [`AuthProvider`](auth_core::AuthProvider) with the same configuration layering as a provider
//! written in Rust. Built in: `github`, `google`, `slack`, `notion`, `microsoft`, `linear`,
//! `hubspot`, `salesforce`. Your own: list files in the config file
//! (`providers = ["./my-providers.toml"]`, relative to it) or in `INTEGRATIONS_PROVIDERS` (paths
//! separated like `PATH`); a definition with a built-in id replaces the built-in one.
//!
//! The smallest definition (PKCE on, `client_secret_post`, JSON token answers, no "who am I"):
//!
//! ```
//! use auth_core::AuthManager;
//! use auth_core::config::EnvSource;
//! // Linking the crate registers its definitions with the manager's builder.
//! use provider_declarative as _;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let file = dir.path().join("acme.toml");
//! std::fs::write(&file, r#"
//! [[providers]]
//! id = "acme"
//! display_name = "Acme"
//! authorization_url = "https://acme.example/oauth/authorize"
//! token_url = "https://acme.example/oauth/token"
//! api_base_url = "https://api.acme.example"
//! "#).unwrap();
//! let env = EnvSource::from_pairs([
//!     ("INTEGRATIONS_PROVIDERS", file.to_str().unwrap()),
//!     ("ACME_CLIENT_ID", "id-1"),
//!     ("ACME_CLIENT_SECRET", "secret-1"),
//! ]);
//! let auth = AuthManager::builder().env(env).build().unwrap();
//! let settings = auth.provider("acme").unwrap().oauth2_settings().cloned().unwrap();
//! assert_eq!(settings.token_url.as_str(), "https://acme.example/oauth/token");
//! assert!(settings.pkce);
//! ```
//!
//! Every definition reads `{ID}_CLIENT_ID`, `{ID}_CLIENT_SECRET`, `{ID}_REDIRECT_URI`,
//! `{ID}_DEFAULT_SCOPE`, `{ID}_AUTHORIZATION_URL`, `{ID}_TOKEN_URL`, `{ID}_REVOCATION_URL`,
//! `{ID}_API_BASE_URL`, `{ID}_TOKEN_AUTH_METHOD` and `{ID}_{PLACEHOLDER}` (upper-cased id), the
//! `[id]` section of the config file, and values in code. A broken definition fails the
//! manager's build with [`ConfigError::Definition`](auth_core::ConfigError::Definition), naming
//! the file, the line and the field. `docs/adding-a-provider.md` lists every field.
//!
//! Modules, each using only those below it: `source` (where definitions come from, the
//! `inventory` registration), `provider` ([`DeclarativeProvider`]), `fields` (configuration
//! fields), `builtin`, `definition` (the schema and its validation), `error`.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builtin;
mod definition;
mod error;
mod fields;
mod provider;
mod source;

pub use builtin::builtin_definitions;
pub use definition::{Definition, Whoami, WhoamiMethod, parse};
pub use error::DeclarativeError;
pub use provider::{API_BASE_URL_FIELD, DeclarativeProvider, Identity, USER_ID_FIELD};
pub use source::{PROVIDERS_ENV, definitions, load_file};
