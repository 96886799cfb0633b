//! The service store's conformance checks, on SQLite and on PostgreSQL, and its reads of the
//! credential store's table.

use std::sync::Arc;

use crate::support::mark_needs_reauthorization;
use integrations::auth_core::{CredentialRecord, Payload, PutMode, RefreshLease};
use integrations::{
    CredentialStatus, CredentialStore, EncryptionKey, KeyRing, RecordOpener, SqliteCredentialStore,
};
use integrations_server::testing::{
    application, claim_of, connector, ms, oauth_secret, run_conformance,
};
use integrations_server::{
    ConnectorRecord, JoinedCredentials, PostgresServiceStore, ServiceStoreError,
    SqliteServiceStore, TokenRecord,
};
use integrations_server::{Issuer, ServiceStore, TokenInsert};
use store_postgres::PostgresCredentialStore;

/// The credential store on `db`, without its encryption layer (as the service store takes it).
async fn unencrypted(db: &store_postgres::testing::TestDatabase) -> PostgresCredentialStore {
    PostgresCredentialStore::builder(&db.url())
        .unencrypted()
        .open()
        .await
        .unwrap()
        .into_inner()
}

/// An encrypted SQLite credential store at `credentials_path`, and a service store in `dir`
/// opened beside it (the credential file attached).
async fn encrypted_beside(
    credentials_path: &std::path::Path,
    dir: &std::path::Path,
) -> (
    integrations::EncryptedStore<SqliteCredentialStore>,
    Arc<dyn ServiceStore>,
) {
    let credentials = SqliteCredentialStore::builder(credentials_path)
        .key_ring(KeyRing::new(EncryptionKey::generate()))
        .open()
        .await
        .unwrap();
    let service =
        SqliteServiceStore::open_with_credentials(dir.join("service.db"), credentials_path)
            .await
            .unwrap();
    (credentials, Arc::new(service))
}

/// An encrypted credential store on `db`, and the service store on the same database.
async fn encrypted_on_postgres(
    db: &store_postgres::testing::TestDatabase,
) -> (
    integrations::EncryptedStore<PostgresCredentialStore>,
    Arc<dyn ServiceStore>,
) {
    let credentials = PostgresCredentialStore::builder(&db.url())
        .key_ring(KeyRing::new(EncryptionKey::generate()))
        .open()
        .await
        .unwrap();
    let service = PostgresServiceStore::open(credentials.inner().clone())
        .await
        .unwrap();
    (credentials, Arc::new(service))
}

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
    let credentials = unencrypted(&db).await;
    let store = PostgresServiceStore::open(credentials.clone())
        .await
        .unwrap();
    run_conformance(Arc::new(store)).await;
    // Opening again finds the schema migrated; a newer schema is refused.
    PostgresServiceStore::open(credentials.clone())
        .await
        .unwrap();
    // A database of version 1 gains the consent flows' secret ids and the listing's index.
    db.connect()
        .await
        .batch_execute(
            "DROP TABLE integrations_service_oauth_secrets; \
             DROP INDEX integrations_service_connectors_in_order; \
             UPDATE integrations_schema SET version = 1 WHERE component = 'service'",
        )
        .await
        .unwrap();
    let store = PostgresServiceStore::open(credentials.clone())
        .await
        .unwrap();
    let indexes = db
        .connect()
        .await
        .query(
            "SELECT 1 FROM pg_indexes WHERE indexname = 'integrations_service_connectors_in_order'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(indexes.len(), 1);
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
            supported: 3,
            ..
        })
    ));
}

/// An execute's one store call also reads the connector's credential status from the credential
/// store's table, as that store answers it: a connector marked by another instance is seen at
/// once; one without credentials needs re-authorization; another provider's record under the same
/// id is not the connector's. On PostgreSQL (one database) and on SQLite opened beside the
/// credential store's file (attached, encrypted credentials and all); SQLite opened alone leaves
/// the status to the credential store. PostgreSQL reads the record too, sealed: opened, it is
/// what the credential store's `get` answers, version, lease and payload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execute_s_store_call_reads_the_credential_status_with_the_token_and_the_connector() {
    let dir = tempfile::tempdir().unwrap();
    let credentials_path = dir.path().join("credentials.db");
    let (sqlite_credentials, beside) = encrypted_beside(&credentials_path, dir.path()).await;
    reads_statuses(&beside, &sqlite_credentials, None).await;
    let alone: Arc<dyn ServiceStore> = Arc::new(
        SqliteServiceStore::open(dir.path().join("alone.db"))
            .await
            .unwrap(),
    );
    let (token, record) = token_and_connector(&alone).await;
    assert_eq!(
        alone
            .token_and_connector(&token.token_hash, &record.id)
            .await
            .unwrap(),
        Some((token, Some((record, JoinedCredentials::default()))))
    );
    let Some(db) = store_postgres::testing::database().await else {
        return;
    };
    let (credentials, postgres) = encrypted_on_postgres(&db).await;
    reads_statuses(&postgres, &credentials, Some(&credentials.opener())).await;
}

/// The key of the first credential record (by provider, then subject), which `/readyz` opens to
/// check the encryption key: on SQLite opened beside the credential store's file and on
/// PostgreSQL; none while there is none, and none on SQLite opened alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_names_the_first_stored_credential() {
    let dir = tempfile::tempdir().unwrap();
    let credentials_path = dir.path().join("credentials.db");
    let (sqlite_credentials, beside) = encrypted_beside(&credentials_path, dir.path()).await;
    names_the_first_credential(&beside, &sqlite_credentials).await;
    let alone = SqliteServiceStore::open(dir.path().join("alone.db"))
        .await
        .unwrap();
    assert_eq!(alone.first_credential().await.unwrap(), None);
    let Some(db) = store_postgres::testing::database().await else {
        return;
    };
    let (credentials, postgres) = encrypted_on_postgres(&db).await;
    names_the_first_credential(&postgres, &credentials).await;
}

async fn names_the_first_credential(
    store: &Arc<dyn ServiceStore>,
    credentials: &dyn CredentialStore,
) {
    assert_eq!(store.first_credential().await.unwrap(), None);
    for (provider, subject) in [("github", "a"), ("asana", "b"), ("asana", "a2")] {
        let record = CredentialRecord::new(provider, subject, Payload::new(b"{}".to_vec()));
        credentials.put(record, PutMode::Create).await.unwrap();
    }
    assert_eq!(
        store.first_credential().await.unwrap(),
        Some(("asana".to_string(), "a2".to_string()))
    );
    credentials.delete("asana", "a2").await.unwrap();
    assert_eq!(
        store.first_credential().await.unwrap(),
        Some(("asana".to_string(), "b".to_string()))
    );
}

/// A service token and a connector of its application, stored in `store`.
async fn token_and_connector(store: &Arc<dyn ServiceStore>) -> (TokenRecord, ConnectorRecord) {
    let token = TokenRecord {
        token_hash: "status-token".into(),
        application_id: "status-app".into(),
        customer: None,
        expires_at: ms(4_000_000_000_000),
    };
    let record = connector("status-conn", "status-app", "alice");
    store
        .create_application(application("status-app", "status-client"))
        .await
        .unwrap();
    let issuer = Issuer::ClientSecret("hash");
    let inserted = store.insert_token(token.clone(), issuer, 1).await.unwrap();
    assert_eq!(inserted, TokenInsert::Stored);
    store.insert_connector(record.clone()).await.unwrap();
    (token, record)
}

/// The statuses `store` reads with the token and the connector, as `credentials` changes; with
/// `opener`, the records it reads too, checked against `credentials`' own reads.
async fn reads_statuses(
    store: &Arc<dyn ServiceStore>,
    credentials: &dyn CredentialStore,
    opener: Option<&RecordOpener>,
) {
    let (token, record) = token_and_connector(store).await;
    let status = || async {
        let read = store
            .token_and_connector("status-token", "status-conn")
            .await
            .unwrap();
        // Concurrent reads share a statement (on PostgreSQL): each answers the same.
        let together = futures::future::join_all(
            (0..4).map(|_| store.token_and_connector("status-token", "status-conn")),
        )
        .await;
        for other in together {
            assert_eq!(other.unwrap(), read);
        }
        let (read_token, connector) = read.unwrap();
        assert_eq!(read_token, token);
        let (read, joined) = connector.unwrap();
        assert_eq!(read, record);
        let expected = credentials.get("asana", "status-conn").await.unwrap();
        match opener {
            None => assert!(joined.record.is_none()),
            Some(opener) => {
                let opened = joined.record.map(|sealed| {
                    assert_ne!(
                        sealed.record.payload.expose_bytes(),
                        br#"{"access_token":"joined"}"#,
                        "read sealed"
                    );
                    opener.open(sealed).unwrap()
                });
                let seen = |stored: Option<integrations::auth_core::StoredCredential>| {
                    stored.map(|stored| {
                        (
                            stored.version,
                            stored.record.status,
                            stored.record.lease,
                            stored.record.payload.expose_bytes().to_vec(),
                            stored.created_at,
                            stored.updated_at,
                        )
                    })
                };
                assert_eq!(seen(opened), seen(expected));
            }
        }
        joined.status
    };
    assert_eq!(status().await, Some(CredentialStatus::NeedsReauthorization));
    let mut written = CredentialRecord::new(
        "asana",
        "status-conn",
        Payload::new(br#"{"access_token":"joined"}"#.to_vec()),
    );
    written.lease = Some(RefreshLease {
        holder: "another instance".into(),
        expires_at: std::time::SystemTime::now() + std::time::Duration::from_secs(30),
    });
    credentials.put(written, PutMode::Overwrite).await.unwrap();
    assert_eq!(status().await, Some(CredentialStatus::Active));
    mark_needs_reauthorization(credentials, "asana", "status-conn").await;
    assert_eq!(status().await, Some(CredentialStatus::NeedsReauthorization));
    credentials.delete("asana", "status-conn").await.unwrap();
    credentials
        .put(
            CredentialRecord::new("github", "status-conn", Payload::new(b"{}".to_vec())),
            PutMode::Overwrite,
        )
        .await
        .unwrap();
    assert_eq!(status().await, Some(CredentialStatus::NeedsReauthorization));
    assert_eq!(
        store
            .token_and_connector("status-token", "missing")
            .await
            .unwrap(),
        Some((token.clone(), None))
    );
}

/// On PostgreSQL, recording the expiry a connector has already, unclaimed (as each instance that
/// adopts another's refreshed token does), writes nothing; one under a claim releases it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_records_an_unchanged_unclaimed_expiry_without_writing() {
    let Some(db) = store_postgres::testing::database().await else {
        return;
    };
    let store = PostgresServiceStore::open(unencrypted(&db).await)
        .await
        .unwrap();
    store
        .create_application(application("expiry-app", "expiry-client"))
        .await
        .unwrap();
    store
        .insert_connector(connector("expiry-conn", "expiry-app", "alice"))
        .await
        .unwrap();
    let raw = db.connect().await;
    // The row's transaction id changes with each write of it.
    let row = async || {
        let row = raw
            .query_one(
                "SELECT xmin::text, expires_ms, claimed_until_ms IS NOT NULL \
                 FROM integrations_service_token_expiry WHERE connector_id = 'expiry-conn'",
                &[],
            )
            .await
            .unwrap();
        (
            row.get::<_, String>(0),
            row.get::<_, i64>(1),
            row.get::<_, bool>(2),
        )
    };
    let at = ms(4_000_000_000_000);
    store
        .set_token_expiry("expiry-conn", Some(at))
        .await
        .unwrap();
    let (written, expires, claimed) = row().await;
    assert_eq!((expires, claimed), (4_000_000_000_000, false));
    store
        .set_token_expiry("expiry-conn", Some(at))
        .await
        .unwrap();
    assert_eq!(
        row().await,
        (written.clone(), expires, false),
        "not written again"
    );

    let later = ms(4_000_000_060_000);
    store
        .set_token_expiry("expiry-conn", Some(later))
        .await
        .unwrap();
    let (changed, expires, _) = row().await;
    assert_ne!(changed, written);
    assert_eq!(expires, 4_000_000_060_000);

    let claimed = store
        .claim_expiring(
            ms(4_100_000_000_000),
            std::time::Duration::from_secs(600),
            10,
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(row().await.2);
    store
        .set_token_expiry("expiry-conn", Some(later))
        .await
        .unwrap();
    let (_, expires, claimed) = row().await;
    assert_eq!(
        (expires, claimed),
        (4_000_000_060_000, false),
        "the claim is released"
    );
}
