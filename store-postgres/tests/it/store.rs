//! `PostgresCredentialStore` against the conformance suite, with and without encryption, its
//! migrations, and what it shows of itself.

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use auth_core::crypto::Envelope;
use auth_core::crypto::KeyRing;
use auth_core::testing::encryption::{self, key};
use auth_core::testing::{DynStore, payload, payload_n, run_conformance};
use auth_core::{CredentialRecord, CredentialStore, PutMode, StoreError};
use store_postgres::SCHEMA_VERSION;
use store_postgres::testing::TestDatabase;

use crate::support::Store;

/// Runs the suite, each check on a fresh database.
async fn conformance(keys: Option<KeyRing>) {
    if support::database().await.is_none() {
        return;
    }
    run_conformance(|| {
        let keys = keys.clone();
        async move {
            let db = support::database().await.expect("a database");
            let encrypted = keys.is_some();
            let store = support::builder(&db.url(), keys)
                .open()
                .await
                .expect("open");
            assert_eq!(store.is_encrypted(), encrypted);
            Arc::new(store) as DynStore
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_without_key() {
    conformance(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_with_key() {
    conformance(Some(KeyRing::new(key(7)))).await;
}

/// The tables in the public schema.
async fn tables(admin: &tokio_postgres::Client) -> Vec<String> {
    admin
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<_, String>(0))
        .collect()
}

#[tokio::test]
async fn an_empty_database_is_migrated_and_opening_again_changes_nothing() {
    let Some(db) = support::database().await else {
        return;
    };
    let admin = db.connect().await;
    assert!(tables(&admin).await.is_empty(), "the database starts empty");

    let first = support::open(&db).await;
    assert_eq!(
        tables(&admin).await,
        ["integrations_credentials", "integrations_schema"]
    );
    let version: i32 = admin
        .query_one(
            "SELECT version FROM integrations_schema WHERE component = 'credentials'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, SCHEMA_VERSION as i32);
    first
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();

    // Three more opens, two of them at once: the schema and the record stay as they are.
    let (a, b) = tokio::join!(support::open(&db), support::open(&db));
    let again = support::open(&db).await;
    for store in [&a, &b, &again] {
        let got = store.get("p", "s").await.unwrap().expect("the record");
        assert_eq!((got.version, payload_n(&got.record.payload)), (1, 1));
    }
    let rows: i64 = admin
        .query_one("SELECT count(*) FROM integrations_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
}

/// A role that may only read and write the store's tables (no CREATE on the schema, as
/// PostgreSQL 15 and later give `public` by default) opens a store whose schema is current.
#[tokio::test]
async fn a_role_without_create_opens_a_current_schema() {
    let Some(db) = support::database().await else {
        return;
    };
    drop(support::open_with_record(&db).await);
    let role = format!("dml_{}", db.name());
    db.connect()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'dml-pw';
             REVOKE CREATE ON SCHEMA public FROM PUBLIC;
             GRANT USAGE ON SCHEMA public TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};"
        ))
        .await
        .unwrap();
    let url = format!("{} user={role} password=dml-pw", db.url());
    let store = support::builder(&url, None)
        .open()
        .await
        .expect("open as a role without CREATE");
    let got = store.get("p", "s").await.unwrap().expect("the record");
    assert_eq!((got.version, payload_n(&got.record.payload)), (1, 1));
    store
        .put(CredentialRecord::new("p", "t", payload(2)), PutMode::Create)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let Some(db) = support::database().await else {
        return;
    };
    drop(support::open(&db).await);
    db.connect()
        .await
        .execute(
            "UPDATE integrations_schema SET version = $1 WHERE component = 'credentials'",
            &[&(SCHEMA_VERSION as i32 + 1)],
        )
        .await
        .unwrap();
    let err = support::builder(&db.url(), None).open().await.unwrap_err();
    match err {
        StoreError::UnsupportedVersion {
            store,
            found,
            supported,
            ..
        } => {
            assert_eq!(store, "postgres");
            assert_eq!(
                (found, supported),
                (u64::from(SCHEMA_VERSION) + 1, u64::from(SCHEMA_VERSION))
            );
        }
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
}

#[tokio::test]
async fn describe_debug_and_errors_name_the_database_and_never_the_password_or_a_payload() {
    let Some(db) = support::database().await else {
        return;
    };
    let store = support::builder(&db.url(), Some(KeyRing::new(key(3))))
        .open()
        .await
        .unwrap();
    let describe = store.describe();
    assert!(
        describe.starts_with("postgres:postgres://postgres@"),
        "{describe}"
    );
    assert!(describe.ends_with(&format!("/{}", db.name())), "{describe}");
    let debug = format!("{:?}", store.inner());
    assert!(debug.contains(db.name()), "{debug}");

    // A password in the URL shows nowhere, even when connecting fails.
    let url = "host=127.0.0.1 port=1 user=someone password=hunter2-secret dbname=nothing";
    let err = support::builder(url, None)
        .connect_timeout(std::time::Duration::from_secs(2))
        .open()
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        text.contains("postgres://someone@127.0.0.1:1/nothing"),
        "{text}"
    );
    assert!(
        matches!(err, StoreError::Io { .. }),
        "a refused connection is retryable: {err:?}"
    );
}

#[tokio::test]
async fn payloads_are_stored_as_the_encryption_layer_hands_them_over() {
    let Some(db) = support::database().await else {
        return;
    };
    let store = support::builder(&db.url(), Some(KeyRing::new(key(5))))
        .open()
        .await
        .unwrap();
    let secret = "canary-access-token-42";
    let body = format!(r#"{{"access_token":"{secret}","n":1}}"#);
    store
        .put(
            CredentialRecord::new("p", "s", auth_core::Payload::new(body.into_bytes())),
            PutMode::Create,
        )
        .await
        .unwrap();
    let stored: Vec<u8> = db
        .connect()
        .await
        .query_one("SELECT payload FROM integrations_credentials", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!stored.is_empty());
    assert!(
        !String::from_utf8_lossy(&stored).contains(secret),
        "the token is in the table in clear"
    );
    let got = store.get("p", "s").await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(got.record.payload.expose_bytes()).contains(secret));
}

/// The key id of each record's envelope (`None`: plaintext), ordered by subject, read with a
/// connection of the test's own.
fn key_ids(db: &TestDatabase) -> Vec<Option<String>> {
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(async {
            db.connect()
                .await
                .query(
                    "SELECT payload FROM integrations_credentials ORDER BY subject",
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|row| {
                    Envelope::parse(row.get::<_, &[u8]>(0))
                        .expect("a well-formed envelope or plaintext")
                        .map(|envelope| envelope.sealed().key_id.clone())
                })
                .collect()
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_keys_still_read_and_rotate_moves_records_to_the_primary_key() {
    let Some(db) = support::database().await else {
        return;
    };
    // The checks name a file; here every "file" is the test's database, and the directory they
    // search for a plaintext token stays empty.
    let dir = tempfile::tempdir().unwrap();
    encryption::old_keys_still_read_and_rotate_moves_records_to_the_primary_key(
        dir.path(),
        "pg",
        async |_: PathBuf, keys: Option<KeyRing>| {
            support::builder(&db.url(), keys).open().await.unwrap()
        },
        Store::rotate,
        async |_: Store| Ok(()),
        |_: &Path| key_ids(&db),
    )
    .await;
}

/// Another component's statements ([`PostgresCredentialStore::with_connection`]) use at most
/// three quarters of the pool, and never its last connection: with all of those busy, the
/// credential records still find a connection at once, and a further statement of that
/// component waits for one of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_components_leave_a_quarter_of_the_pool_to_the_credential_records() {
    let Some(db) = support::database().await else {
        return;
    };
    // (pool size, connections the other component may hold)
    for (size, shared) in [(4, 3), (2, 1)] {
        let store = support::with_record(support::builder(&db.url(), None).pool_size(size)).await;
        let inner = store.inner().clone();
        let busy = async |inner: store_postgres::PostgresCredentialStore| {
            inner
                .with_connection("sleeping", 1, async |client| {
                    client.batch_execute("SELECT pg_sleep(1)").await
                })
                .await
                .unwrap();
            std::time::Instant::now()
        };
        let sleepers: Vec<_> = (0..=shared)
            .map(|_| tokio::spawn(busy(inner.clone())))
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let started = std::time::Instant::now();
        assert_eq!(store.get("p", "s").await.unwrap().unwrap().version, 1);
        assert!(
            started.elapsed() < std::time::Duration::from_millis(500),
            "pool of {size}: the credential record waited {:?} for a connection",
            started.elapsed()
        );
        let mut finished: Vec<std::time::Instant> = Vec::new();
        for sleeper in sleepers {
            finished.push(sleeper.await.unwrap());
        }
        finished.sort();
        assert!(
            finished[shared] - finished[shared - 1] > std::time::Duration::from_millis(500),
            "pool of {size}: the last statement waited for one of the {shared} connections to be free"
        );
        store.delete("p", "s").await.unwrap();
    }
}

/// The connections a burst opened are closed once unused for longer than `max_idle`, with
/// no call to the store; the next call opens one again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_unused_for_longer_than_max_idle_are_closed() {
    let Some(db) = support::database().await else {
        return;
    };
    let store = support::with_record(
        support::builder(&db.url(), None)
            .pool_size(4)
            .max_idle(std::time::Duration::from_secs(1)),
    )
    .await;
    let pooled = async || db.store_connections().await.pooled;
    let burst = (0..3).map(|_| {
        store
            .inner()
            .with_connection("sleeping", 1, async |client| {
                client.batch_execute("SELECT pg_sleep(0.2)").await
            })
    });
    for slept in futures::future::join_all(burst).await {
        slept.unwrap();
    }
    assert_eq!(pooled().await, 3, "the burst's connections stay pooled");
    let started = std::time::Instant::now();
    while pooled().await > 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "idle connections still open after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(store.get("p", "s").await.unwrap().unwrap().version, 1);
    assert_eq!(pooled().await, 1);
}

/// A pooled connection unused for longer than `max_idle` is not lent again: the next call
/// runs on a new one (another server process), and works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_idle_longer_than_max_idle_is_replaced() {
    let Some(db) = support::database().await else {
        return;
    };
    let store = support::with_record(
        support::builder(&db.url(), None)
            .pool_size(1)
            .max_idle(std::time::Duration::from_millis(300)),
    )
    .await;
    let backend = async || -> i32 {
        store
            .inner()
            .with_connection("reading the backend", 1, async |client| {
                client
                    .query_one("SELECT pg_backend_pid()", &[])
                    .await
                    .map(|row| row.get(0))
            })
            .await
            .unwrap()
    };
    let first = backend().await;
    assert_eq!(
        backend().await,
        first,
        "a connection just used is lent again"
    );
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let after_idle = backend().await;
    assert_ne!(after_idle, first, "the idle connection was replaced");
    assert_eq!(store.get("p", "s").await.unwrap().unwrap().version, 1);
    assert_eq!(backend().await, after_idle);
}

/// A builder holds the URL, password and all: its `Debug` shows neither.
#[test]
fn a_builder_s_debug_never_shows_the_url_s_password() {
    for url in [
        "postgres://app:canary-pg-password@db.internal/app",
        "postgres://app@db.internal/app?password=canary-pg-password",
    ] {
        let shown = format!(
            "{:?}",
            store_postgres::PostgresCredentialStore::builder(url)
        );
        assert!(!shown.contains("canary-pg-password"), "{shown}");
        assert!(shown.starts_with("PostgresStoreBuilder"), "{shown}");
    }
}
