//! What this crate's test modules share.

use auth_core::EncryptedStore;
use auth_core::crypto::KeyRing;
use store_postgres::testing::{self, TestDatabase};
use store_postgres::{PostgresCredentialStore, PostgresStoreBuilder};

/// The store as applications open it: the database inside the encryption layer.
pub type Store = EncryptedStore<PostgresCredentialStore>;

/// A fresh database, or `None` (the test returns early) when there is no PostgreSQL outside CI.
pub async fn database() -> Option<TestDatabase> {
    testing::database().await
}

/// The builder for `url` with `keys`, or unencrypted for `None`.
pub fn builder(url: &str, keys: Option<KeyRing>) -> PostgresStoreBuilder {
    let builder = PostgresCredentialStore::builder(url);
    match keys {
        Some(keys) => builder.key_ring(keys),
        None => builder.unencrypted(),
    }
}

/// Opens the store on `db`, unencrypted.
pub async fn open(db: &TestDatabase) -> Store {
    builder(&db.url(), None).open().await.expect("open")
}
