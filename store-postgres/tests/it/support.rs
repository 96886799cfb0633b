//! What this crate's test modules share.

use auth_core::AuthProvider;
use auth_core::crypto::KeyRing;
use auth_core::provider::OAuth2Settings;
use auth_core::testing::payload;
use auth_core::{CredentialRecord, CredentialStore, EncryptedStore, PutMode};
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

/// Opens the store on `db`, unencrypted, and creates (p, s) holding 1 at version 1.
pub async fn open_with_record(db: &TestDatabase) -> Store {
    with_record(builder(&db.url(), None)).await
}

/// Opens the store `builder` describes and creates (p, s) holding 1 at version 1.
pub async fn with_record(builder: PostgresStoreBuilder) -> Store {
    let store = builder.open().await.expect("open");
    store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    store
}

/// OAuth settings whose token endpoint is `server`'s `/token`.
pub fn settings(server: &wiremock::MockServer) -> OAuth2Settings {
    OAuth2Settings::new(
        format!("{}/authorize", server.uri()).parse().unwrap(),
        format!("{}/token", server.uri()).parse().unwrap(),
        "client-id",
    )
}

/// An OAuth provider `example` with these settings, whose token cells refresh through them.
#[derive(Debug)]
pub struct Provider(pub OAuth2Settings);

impl AuthProvider for Provider {
    fn id(&self) -> &str {
        "example"
    }
    fn oauth2_settings(&self) -> Option<&OAuth2Settings> {
        Some(&self.0)
    }
}
