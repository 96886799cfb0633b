//! Figures 10 and 11, on PostgreSQL: the store's `get` and conditional put against the same
//! statements sent by hand with tokio-postgres, and the multi-instance refresh storm; and the
//! rows figure 8 adds to a hosted service's tables there.
//!
//! The database is a throwaway cluster started from the system's PostgreSQL binaries by
//! `store_postgres::testing` (fsync off, a Unix socket), or the server `DATABASE_URL` names; each
//! figure creates a database of its own there. Without either, both figures are skipped.

use std::time::{Duration, Instant};

use futures::future::join_all;
use integrations::asana::{AsanaAppCredentials, RetryConfig};
use integrations::{EncryptionKey, KeyRing};
use integrations_server::{Server, StoreLocation};
use serde_json::json;
use store_postgres::PostgresCredentialStore;
use store_postgres::testing::TestDatabase;
use store_postgres::tokio_postgres::{Client, Statement};

use crate::service::{Services, create_connector, execute, execute_body};
use crate::support::server::ServerHandle;
use crate::support::stores::{Ours, payload};
use crate::support::{CLIENT_ID, CLIENT_SECRET, PROVIDER, REFRESH_TOKEN};

/// A fresh database, or why there is none.
pub async fn database() -> Result<TestDatabase, String> {
    // Under CI the harness panics when it cannot start PostgreSQL; here that is a skipped figure.
    match tokio::spawn(store_postgres::testing::database()).await {
        Ok(Some(database)) => Ok(database),
        Ok(None) => Err("no PostgreSQL: DATABASE_URL is unset and no cluster could be started from the system's binaries".into()),
        Err(e) => Err(format!("no PostgreSQL: starting one failed ({e})")),
    }
}

/// The raw side's row, beside the store's in the same table.
const RAW_SUBJECT: &str = "bench-raw";

/// The store's `get`, as it sends it.
const SELECT_ONE: &str = "SELECT provider, subject, version, status, lease_holder, lease_expires_ms, \
     (extract(epoch FROM created_at) * 1000)::bigint, (extract(epoch FROM updated_at) * 1000)::bigint, payload \
     FROM integrations_credentials WHERE provider = $1 AND subject = $2";

/// The store's conditional put, as it sends it.
const UPDATE: &str = "UPDATE integrations_credentials SET version = version + 1, status = $3, \
     lease_holder = $4, lease_expires_ms = $5, payload = $6, updated_at = now() \
     WHERE provider = $1 AND subject = $2 AND version = $7 RETURNING version";

/// One row as the baseline reads it: the same columns into owned values.
type RawRow = (
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<i64>,
    i64,
    i64,
    Vec<u8>,
);

/// Figure 10: the store (unencrypted, as figure 6's SQLite store) and one raw tokio-postgres
/// connection with the statements prepared, on the same database and table.
pub struct Stores {
    /// Ours: the store.
    pub ours: Ours<PostgresCredentialStore>,
    raw: Client,
    select: Statement,
    update: Statement,
    raw_version: i64,
}

impl Stores {
    /// Opens the store on `database`, writes its record, then connects the raw side and writes
    /// its row.
    pub async fn new(database: &TestDatabase) -> Stores {
        let store = PostgresCredentialStore::builder(&database.url())
            .unencrypted()
            .open()
            .await
            .expect("open the store")
            .into_inner();
        let ours = Ours::new(store).await;
        let raw = database.connect().await;
        raw.execute(
            "INSERT INTO integrations_credentials (provider, subject, version, status, payload) VALUES ($1, $2, 1, 'active', $3)",
            &[&PROVIDER, &RAW_SUBJECT, &payload()],
        )
        .await
        .expect("the raw side's row");
        let select = raw.prepare(SELECT_ONE).await.expect("prepare the SELECT");
        let update = raw.prepare(UPDATE).await.expect("prepare the UPDATE");
        Stores {
            ours,
            raw,
            select,
            update,
            raw_version: 1,
        }
    }

    /// Baseline: the same SELECT, decoded into owned values.
    pub async fn raw_get(&self) {
        let row = self
            .raw
            .query_opt(&self.select, &[&PROVIDER, &RAW_SUBJECT])
            .await
            .expect("the raw SELECT")
            .expect("the raw row");
        let row: RawRow = (
            row.get(0),
            row.get(1),
            row.get(2),
            row.get(3),
            row.get(4),
            row.get(5),
            row.get(6),
            row.get(7),
            row.get(8),
        );
        std::hint::black_box(row);
    }

    /// Baseline: the same conditional UPDATE; checks that the version matched.
    pub async fn raw_put(&mut self) {
        let (holder, expires) = (None::<&str>, None::<i64>);
        let rows = self
            .raw
            .query(
                &self.update,
                &[
                    &PROVIDER,
                    &RAW_SUBJECT,
                    &"active",
                    &holder,
                    &expires,
                    &payload(),
                    &self.raw_version,
                ],
            )
            .await
            .expect("the raw UPDATE");
        let version: i64 = rows.first().expect("the version matched").get(0);
        self.raw_version = version;
    }
}

/// Adds `extra` connectors straight to the hosted service's tables in `database` (its connector
/// rows, and their credentials), copying the rows of connector `template`, one statement each,
/// then vacuums and analyses both tables as autovacuum would. The copies are never executed:
/// they make the tables as large as a service holding that many connectors.
pub async fn add_rows(database: &TestDatabase, template: &str, extra: usize) {
    let client = database.connect().await;
    let extra = i64::try_from(extra).expect("a row count");
    for (what, copy) in [
        (
            "the connector rows",
            "INSERT INTO integrations_service_connectors (id, application_id, customer_name, connector_type, definition_id, name, auth_kind, oauth_app, created_ms, updated_ms, read_only) \
             SELECT c.id || '-copy-' || n, c.application_id, 'copied-customer-' || n, c.connector_type, c.definition_id, c.name, c.auth_kind, c.oauth_app, c.created_ms, c.updated_ms, c.read_only \
             FROM integrations_service_connectors c, generate_series(1::bigint, $2) AS n WHERE c.id = $1",
        ),
        (
            "their credentials",
            "INSERT INTO integrations_credentials (provider, subject, version, status, lease_holder, lease_expires_ms, payload) \
             SELECT k.provider, k.subject || '-copy-' || n, k.version, k.status, k.lease_holder, k.lease_expires_ms, k.payload \
             FROM integrations_credentials k, generate_series(1::bigint, $2) AS n WHERE k.provider = 'asana' AND k.subject = $1",
        ),
    ] {
        let copied = client
            .execute(copy, &[&template, &extra])
            .await
            .unwrap_or_else(|e| panic!("copy {what}: {e}"));
        assert_eq!(
            copied, extra as u64,
            "the template rows of {template} exist"
        );
    }
    client
        .batch_execute("VACUUM (ANALYZE) integrations_service_connectors, integrations_credentials")
        .await
        .expect("vacuum and analyse the copies");
}

/// How many instances of the service share the database in figure 11.
pub const INSTANCES: usize = 3;

/// Figure 11: instances of the service on one database, an application, and a client.
pub struct Storm {
    urls: Vec<String>,
    bearer: String,
    http: reqwest::Client,
    asana: ServerHandle,
    created: usize,
}

/// What one storm did.
pub struct StormOutcome {
    /// From the first execute's start until every execute had answered.
    pub elapsed: Duration,
    /// Token requests the token endpoint received meanwhile.
    pub token_requests: usize,
}

impl Storm {
    /// [`INSTANCES`] instances on `database` (the background refresher off, so that every
    /// refresh is one an execute waits for), whose Asana and token endpoint are `asana`.
    pub async fn new(
        services: &mut Services,
        asana: &ServerHandle,
        database: &TestDatabase,
    ) -> Storm {
        let mut app = AsanaAppCredentials::default();
        app.token_url = format!("{}/oauth/token", asana.url())
            .parse()
            .expect("the local token URL");
        app.api_base_url = format!("{}/api/1.0", asana.url())
            .parse()
            .expect("the local API URL");
        app.client_id = Some(CLIENT_ID.to_string());
        app.client_secret = Some(CLIENT_SECRET.into());
        let keys = KeyRing::new(EncryptionKey::generate());
        let mut urls = Vec::new();
        let mut admin = None;
        for _ in 0..INSTANCES {
            let builder = Server::builder()
                .store(StoreLocation::Postgres(database.postgres_url()))
                .encryption_keys(keys.clone())
                .asana_app(app.clone())
                .upstream_retry(RetryConfig::default().with_max_retries(0))
                // The storm sends more than an application's default rate, and more calls at
                // once, to each instance: the figure is about refreshes, not the limits.
                .rate_limit(u32::MAX, u32::MAX)
                .max_in_flight(u32::MAX)
                .no_refresh_ahead();
            let (url, instance_admin) = services.serve(builder).await;
            urls.push(url);
            admin.get_or_insert(instance_admin);
        }
        let admin = admin.expect("at least one instance");
        let bearer = services.app_token(&urls[0], admin).await;
        Storm {
            urls,
            bearer,
            http: services.http().clone(),
            asana: asana.clone(),
            created: 0,
        }
    }

    /// Creates `count` OAuth connectors (a refresh token and no access token: each is due at
    /// once), spread over the instances; returns their ids.
    pub async fn due_connectors(&mut self, count: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for _ in 0..count {
            let n = self.created;
            self.created += 1;
            let url = &self.urls[n % self.urls.len()];
            let customer = format!("storm-customer-{n}");
            let credentials = json!({"refresh_token": REFRESH_TOKEN});
            ids.push(create_connector(&self.http, url, &self.bearer, &customer, credentials).await);
        }
        ids
    }

    /// `executes` concurrent executes (users/me), the k-th on connector `k % ids.len()` through
    /// instance `k % INSTANCES`; checks every answer.
    pub async fn run(&self, ids: &[String], executes: usize) -> StormOutcome {
        let before = self.asana.token_requests();
        let body = execute_body();
        let started = Instant::now();
        let calls = (0..executes).map(|k| {
            let url = &self.urls[k % self.urls.len()];
            execute(&self.http, url, &self.bearer, &ids[k % ids.len()], &body)
        });
        join_all(calls).await;
        StormOutcome {
            elapsed: started.elapsed(),
            token_requests: self.asana.token_requests() - before,
        }
    }
}
