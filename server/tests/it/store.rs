//! The service store's conformance checks, on SQLite and on PostgreSQL.

use std::sync::Arc;

use integrations_server::testing::run_conformance;
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
            supported: 1,
            ..
        })
    ));
}
