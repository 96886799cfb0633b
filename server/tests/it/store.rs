//! The service store's conformance checks, on SQLite and on PostgreSQL.

use std::sync::Arc;

use integrations_server::ServiceStore;
use integrations_server::testing::{
    application, claim_of, connector, ms, oauth_secret, run_conformance,
};
use integrations_server::{PostgresServiceStore, ServiceStoreError, SqliteServiceStore};
use store_postgres::PostgresCredentialStore;

#[tokio::test]
async fn the_sqlite_store_passes_the_conformance_checks() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteServiceStore::open(dir.path().join("service.db"))
        .await
        .unwrap();
    run_conformance(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_passes_the_conformance_checks() {
    let Some(db) = store_postgres::testing::database().await else {
        return;
    };
    let credentials = PostgresCredentialStore::builder(&db.url())
        .unencrypted()
        .open()
        .await
        .unwrap()
        .into_inner();
    let store = PostgresServiceStore::open(credentials.clone())
        .await
        .unwrap();
    run_conformance(Arc::new(store)).await;
    // Opening again finds the schema migrated; a newer schema is refused.
    PostgresServiceStore::open(credentials.clone())
        .await
        .unwrap();
    // A database of version 1 gains the consent flows' secret ids.
    db.connect()
        .await
        .batch_execute(
            "DROP TABLE integrations_service_oauth_secrets; \
             UPDATE integrations_schema SET version = 1 WHERE component = 'service'",
        )
        .await
        .unwrap();
    let store = PostgresServiceStore::open(credentials.clone())
        .await
        .unwrap();
    store
        .create_application(application("migrated", "migrated-client"))
        .await
        .unwrap();
    store
        .insert_connector(connector("migrated-conn", "migrated", "c"))
        .await
        .unwrap();
    let secret = oauth_secret(
        "migrated-h",
        "migrated-conn",
        "migrated",
        ms(4_000_000_000_000),
    );
    store.put_oauth_secret(secret.clone()).await.unwrap();
    assert_eq!(
        store
            .claim_oauth_secret(&claim_of(&secret), ms(1))
            .await
            .unwrap(),
        Some(secret)
    );
    db.connect()
        .await
        .execute(
            "UPDATE integrations_schema SET version = 99 WHERE component = 'service'",
            &[],
        )
        .await
        .unwrap();
    assert!(matches!(
        PostgresServiceStore::open(credentials).await,
        Err(ServiceStoreError::UnsupportedVersion {
            found: 99,
            supported: 2,
            ..
        })
    ));
}
