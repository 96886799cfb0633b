//! Figures 7 and 8, the service: `POST /api/v1/integrations/connectors/{id}/execute` through
//! `integrations-server` (SQLite store, encrypted credentials) reading `users/me` from the local
//! server, against a bare axum handler that forwards the same request with reqwest.
//!
//! Both services run on one tokio runtime of their own (two workers, its own threads), the load
//! comes from the caller's runtime, and Asana is the local server of `benches/support/server.rs`.
//! Figure 11 starts its instances on PostgreSQL on the same runtime ([`Services::serve`]).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use integrations::asana::AsanaAppCredentials;
use integrations::{EncryptionKey, KeyRing};
use integrations_server::{Admin, Server, ServerBuilder, StoreLocation};
use reqwest::header::ACCEPT;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::support::server::ServerHandle;
use crate::support::{REQUEST_TIMEOUT, VALID_ACCESS_TOKEN};

/// The body of every execute: read the caller's own user.
pub fn execute_body() -> Value {
    json!({"entity": "users", "action": "get", "params": {"user_gid": "me"}})
}

/// The services' runtime (its own threads) and the means to stop it.
pub struct Services {
    runtime: Option<tokio::runtime::Runtime>,
    stops: Vec<oneshot::Sender<()>>,
    dirs: Vec<tempfile::TempDir>,
    http: reqwest::Client,
}

/// One `integrations-server` with an application token and its connectors.
pub struct Hosted {
    url: String,
    store: StoreLocation,
    bearer: String,
    /// The connectors created through the API, which executes go to.
    pub connectors: Vec<String>,
    http: reqwest::Client,
    body: Value,
}

/// The bare axum handler: takes the execute body, GETs `users/me` with reqwest, answers
/// `{result}`.
pub struct Forwarder {
    url: String,
    http: reqwest::Client,
    body: Value,
}

#[derive(Clone)]
struct Upstream {
    http: reqwest::Client,
    users_me: String,
}

impl Services {
    /// A runtime of two workers for the services, and a client for the load.
    pub fn new() -> Services {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bench-service")
            .enable_all()
            .build()
            .expect("the services' runtime");
        Services {
            runtime: Some(runtime),
            stops: Vec::new(),
            dirs: Vec::new(),
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .pool_max_idle_per_host(512)
                .build()
                .expect("an HTTP client"),
        }
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the services' runtime")
    }

    fn spawn_serving(
        &mut self,
        serve: impl FnOnce(
            tokio::net::TcpListener,
            oneshot::Receiver<()>,
        ) -> tokio::task::JoinHandle<()>,
    ) -> String {
        let _entered = self.runtime().enter();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("the bound address")
        );
        let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
        let (stop, stopped) = oneshot::channel();
        serve(listener, stopped);
        self.stops.push(stop);
        url
    }

    /// Starts an `integrations-server` over a fresh directory whose Asana is `asana`, with one
    /// application and `connectors` token connectors of one customer each.
    pub async fn hosted(&mut self, asana: &ServerHandle, connectors: usize) -> Hosted {
        let dir = tempfile::tempdir().expect("a store directory");
        let store = StoreLocation::Directory(dir.path().to_path_buf());
        self.dirs.push(dir);
        self.hosted_on(asana, connectors, store).await
    }

    /// [`Services::hosted`] over `store`.
    pub async fn hosted_on(
        &mut self,
        asana: &ServerHandle,
        connectors: usize,
        store: StoreLocation,
    ) -> Hosted {
        let mut app = AsanaAppCredentials::default();
        app.api_base_url = format!("{}/api/1.0", asana.url())
            .parse()
            .expect("the local API URL");
        let builder = Server::builder()
            .store(store.clone())
            .encryption_keys(KeyRing::new(EncryptionKey::generate()))
            .asana_app(app)
            // The load sends one application far more than its default rate (100/s), and more
            // calls at once than its default 64: these figures measure the execute path (the
            // limiters still run on every request), not the limits' 429s.
            .rate_limit(u32::MAX, u32::MAX)
            .max_in_flight(u32::MAX);
        let (url, admin) = self.serve(builder).await;
        let bearer = self.app_token(&url, admin).await;
        let mut hosted = Hosted {
            url,
            store,
            bearer,
            connectors: Vec::new(),
            http: self.http.clone(),
            body: execute_body(),
        };
        for n in 0..connectors {
            hosted.create_connector(&format!("customer-{n}")).await;
        }
        hosted
    }

    /// Builds `builder`'s server on the services' runtime and serves it on a fresh port until
    /// `self` is dropped; returns its URL and its admin handle.
    pub async fn serve(&mut self, builder: ServerBuilder) -> (String, Admin) {
        let server = self
            .runtime()
            .spawn(builder.build())
            .await
            .expect("build the server")
            .expect("a server");
        let admin = server.admin();
        let url = self.spawn_serving(|listener, stopped| {
            tokio::spawn(async move {
                server
                    .serve(listener, async move {
                        stopped.await.ok();
                    })
                    .await
                    .expect("the service failed");
            })
        });
        (url, admin)
    }

    /// Registers an application through `admin` and returns an access token for it from the
    /// service at `url`.
    pub async fn app_token(&self, url: &str, admin: Admin) -> String {
        let created = self
            .runtime()
            .spawn(async move { admin.create_application("bench", &[]).await })
            .await
            .expect("create the application")
            .expect("an application");
        let token: Value = self
            .http
            .post(format!("{url}/api/v1/account/applications/token"))
            .json(&json!({
                "client_id": created.application.client_id,
                "client_secret": created.client_secret.expose_secret(),
            }))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("an application token")
            .json()
            .await
            .expect("the token answer");
        token["access_token"]
            .as_str()
            .expect("an access token")
            .to_string()
    }

    /// The client the load is sent with.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Starts the bare forwarding handler.
    pub fn forwarder(&mut self, asana: &ServerHandle) -> Forwarder {
        let upstream = Upstream {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("an HTTP client"),
            users_me: format!("{}/api/1.0/users/me", asana.url()),
        };
        let app = Router::new()
            .route("/execute", post(forward))
            .with_state(upstream);
        let url = self.spawn_serving(|listener, stopped| {
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        stopped.await.ok();
                    })
                    .await
                    .expect("the forwarder failed");
            })
        });
        Forwarder {
            url,
            http: self.http.clone(),
            body: execute_body(),
        }
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The baseline's handler: the same read, forwarded with reqwest, decoded and answered.
async fn forward(State(upstream): State<Upstream>, Json(request): Json<Value>) -> Json<Value> {
    let user = request["params"]["user_gid"].as_str().unwrap_or("me");
    debug_assert_eq!(user, "me");
    let mut answer: Value = upstream
        .http
        .get(&upstream.users_me)
        .bearer_auth(VALID_ACCESS_TOKEN)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("GET users/me")
        .json()
        .await
        .expect("a user");
    Json(json!({"result": answer["data"].take(), "connector_metadata": {}}))
}

impl Hosted {
    /// Where the service keeps its data.
    pub fn store(&self) -> &StoreLocation {
        &self.store
    }

    /// Creates a token connector for `customer` through the API.
    pub async fn create_connector(&mut self, customer: &str) {
        let credentials = json!({"token": VALID_ACCESS_TOKEN});
        let id = create_connector(&self.http, &self.url, &self.bearer, customer, credentials).await;
        self.connectors.push(id);
    }

    /// One execute on connector `n` (modulo the count); checks the answer.
    pub async fn execute(&self, n: usize) {
        let id = &self.connectors[n % self.connectors.len()];
        execute(&self.http, &self.url, &self.bearer, id, &self.body).await;
    }
}

impl Forwarder {
    /// One forwarded execute; checks the answer.
    pub async fn execute(&self, _n: usize) {
        let answer: Value = self
            .http
            .post(format!("{}/execute", self.url))
            .json(&self.body)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("forward")
            .json()
            .await
            .expect("the forwarded answer");
        assert_eq!(answer["result"]["name"], "Greg Sanchez");
    }
}

/// Creates an Asana connector of `customer` with `credentials` through the API of the service at
/// `url`; returns its id.
pub async fn create_connector(
    http: &reqwest::Client,
    url: &str,
    bearer: &str,
    customer: &str,
    credentials: Value,
) -> String {
    let connector: Value = http
        .post(format!("{url}/api/v1/integrations/connectors"))
        .bearer_auth(bearer)
        .json(&json!({
            "external_user_id": customer,
            "connector_type": "Asana",
            "credentials": credentials,
        }))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("create a connector")
        .json()
        .await
        .expect("the connector");
    connector["id"]
        .as_str()
        .expect("a connector id")
        .to_string()
}

/// One execute of `body` on connector `id` of the service at `url`; checks the answer.
pub async fn execute(http: &reqwest::Client, url: &str, bearer: &str, id: &str, body: &Value) {
    let answer: Value = http
        .post(format!("{url}/api/v1/integrations/connectors/{id}/execute"))
        .bearer_auth(bearer)
        .json(body)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("execute")
        .json()
        .await
        .expect("the execute answer");
    assert_eq!(answer["result"]["name"], "Greg Sanchez");
}

/// Requests completed and each one's latency, from `clients` concurrent callers sending requests
/// back to back until `window` has passed.
pub async fn load<F, Fut>(clients: usize, window: Duration, call: F) -> Load
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let counter = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..clients)
        .map(|_| {
            let (call, counter) = (call.clone(), counter.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while started.elapsed() < window {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let sent = Instant::now();
                    call(n).await;
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for caller in callers {
        latencies.extend(caller.await.expect("a caller"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Load { elapsed, latencies }
}

/// What [`load`] measured.
pub struct Load {
    /// From the start until the last caller finished.
    pub elapsed: Duration,
    /// Every request's latency, sorted.
    pub latencies: Vec<Duration>,
}

impl Load {
    /// Requests per second.
    pub fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency below which `q` (0..=1) of the requests finished.
    pub fn quantile(&self, q: f64) -> Duration {
        let n = self.latencies.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let index = ((n as f64 * q).ceil() as usize).clamp(1, n) - 1;
        self.latencies[index]
    }
}

/// Adds `extra` connectors straight to both SQLite files of the hosted service in `dir` (its
/// `service.db` rows, and their credentials in `credentials.db`), copying the rows of connector
/// `template`, in one transaction per file. The copies are never executed: they make the tables
/// as large as a service holding that many connectors. (On PostgreSQL: `postgres::add_rows`.)
pub fn add_rows(dir: &Path, template: &str, extra: usize) {
    let service = rusqlite::Connection::open(dir.join("service.db")).expect("open service.db");
    copy_rows(
        &service,
        "INSERT INTO connectors (id, application_id, customer_name, connector_type, definition_id, name, auth_kind, oauth_app, created_ms, updated_ms) \
         SELECT ?1, application_id, ?2, connector_type, definition_id, name, auth_kind, oauth_app, created_ms, updated_ms FROM connectors WHERE id = ?3",
        template,
        extra,
    );
    let credentials =
        rusqlite::Connection::open(dir.join("credentials.db")).expect("open credentials.db");
    copy_rows(
        &credentials,
        "INSERT INTO credentials (provider, subject, version, status, lease_holder, lease_expires_ms, created_ms, updated_ms, key_id, nonce, payload) \
         SELECT provider, ?1, version, status, lease_holder, lease_expires_ms, created_ms, updated_ms, key_id, nonce, payload FROM credentials WHERE provider = 'asana' AND subject = ?3 AND ?2 = ?2",
        template,
        extra,
    );
}

fn copy_rows(connection: &rusqlite::Connection, sql: &str, template: &str, extra: usize) {
    connection
        .busy_timeout(Duration::from_secs(10))
        .expect("a busy timeout");
    connection.execute_batch("BEGIN IMMEDIATE").expect("begin");
    {
        let mut insert = connection.prepare(sql).expect("prepare the copy");
        for n in 0..extra {
            let id = format!("{template}-copy-{n}");
            let customer = format!("copied-customer-{n}");
            let copied = insert
                .execute(rusqlite::params![id, customer, template])
                .expect("copy a row");
            assert_eq!(copied, 1, "the template row {template} exists");
        }
    }
    connection.execute_batch("COMMIT").expect("commit");
}
