//! What this crate's test modules share.

use std::path::Path;

use auth_core::crypto::KeyRing;
use store_sqlite::{SqliteCredentialStore, SqliteStoreBuilder};

/// The builder for `path` with `keys`, or unencrypted for `None`.
pub fn builder(path: impl AsRef<Path>, keys: Option<KeyRing>) -> SqliteStoreBuilder {
    let builder = SqliteCredentialStore::builder(path);
    match keys {
        Some(keys) => builder.key_ring(keys),
        None => builder.unencrypted(),
    }
}
