//! A running service over a fresh store directory, with MockAsana as Asana, and HTTP helpers.

use std::time::Duration;

use integrations::asana::{AsanaAppCredentials, RetryConfig};
use integrations::{EncryptionKey, KeyRing};
use integrations_server::{Admin, ApplicationCredentials, Server, ServerBuilder, ServerError};
use provider_asana_testkit::MockAsana;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The service, its Asana, its store directory and an HTTP client.
pub struct Service {
    pub url: String,
    pub asana: std::sync::Arc<MockAsana>,
    pub admin: Admin,
    pub dir: tempfile::TempDir,
    pub keys: KeyRing,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<Result<(), ServerError>>>,
}

/// How a test service runs.
#[derive(Debug, Clone, Copy)]
pub enum Serving {
    /// `Server::serve`.
    Serve,
    /// The test serves `Server::router` itself, as an application that nests it does, with the
    /// tasks of `Server::spawn_background` when `background`.
    Router { background: bool },
}

/// Asana's URLs pointed at the mock, with the mock's app as the service's app when `with_app`.
pub fn asana_app(asana: &MockAsana, with_app: bool) -> AsanaAppCredentials {
    let mut app = AsanaAppCredentials::default();
    app.authorization_url = asana.authorization_url().parse().unwrap();
    app.token_url = asana.token_url().parse().unwrap();
    app.revocation_url = asana.revocation_url().parse().unwrap();
    app.api_base_url = asana.api_base_url().parse().unwrap();
    if with_app {
        app.client_id = Some(asana.client_id().to_string());
        app.client_secret = Some(asana.client_secret().into());
    }
    app
}

impl Service {
    /// A service whose configured Asana app is the mock's.
    pub async fn start() -> Self {
        Self::start_with(true, 64 * 1024).await
    }

    /// A service with or without a configured Asana app, and this body limit.
    pub async fn start_with(with_app: bool, max_body_bytes: usize) -> Self {
        Self::start_on(MockAsana::start().await, with_app, max_body_bytes).await
    }

    /// A service over this Asana.
    pub async fn start_on(asana: MockAsana, with_app: bool, max_body_bytes: usize) -> Self {
        Self::start_configured(asana, with_app, |builder| {
            builder.max_body_bytes(max_body_bytes)
        })
        .await
    }

    /// A service over this Asana, with `configure`'s settings over the tests' defaults.
    pub async fn start_configured(
        asana: MockAsana,
        with_app: bool,
        configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
    ) -> Self {
        let app = asana_app(&asana, with_app);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve_built(asana, app, listener, configure).await
    }

    /// A service over this Asana with this Asana app, on `listener`, told that it is reached at
    /// `public_url`.
    pub async fn serve(
        asana: MockAsana,
        app: AsanaAppCredentials,
        max_body_bytes: usize,
        listener: tokio::net::TcpListener,
        public_url: Option<url::Url>,
    ) -> Self {
        Self::serve_built(asana, app, listener, move |builder| {
            let builder = builder.max_body_bytes(max_body_bytes);
            match public_url {
                Some(url) => builder.public_url(url),
                None => builder,
            }
        })
        .await
    }

    /// A service over this Asana (its app the mock's), run as `how` says, with `configure`'s
    /// settings over the tests' defaults.
    pub async fn start_serving(
        asana: MockAsana,
        how: Serving,
        configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
    ) -> Self {
        let app = asana_app(&asana, true);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::launch_fresh(asana, app, listener, configure, how).await
    }

    /// A service over this Asana with this Asana app, on `listener`, with `configure` applied
    /// to its builder last.
    pub async fn serve_built(
        asana: MockAsana,
        app: AsanaAppCredentials,
        listener: tokio::net::TcpListener,
        configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
    ) -> Self {
        Self::launch_fresh(asana, app, listener, configure, Serving::Serve).await
    }

    /// [`Service::launch`] over a fresh store directory, with a key of its own.
    async fn launch_fresh(
        asana: MockAsana,
        app: AsanaAppCredentials,
        listener: tokio::net::TcpListener,
        configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
        how: Serving,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().to_path_buf();
        let keys = KeyRing::new(EncryptionKey::generate());
        Self::launch(
            asana.into(),
            app,
            listener,
            (dir, &store),
            keys,
            configure,
            how,
        )
        .await
    }

    /// Another instance over this one's store and Asana, with `keys`.
    pub async fn another_instance(&self, keys: KeyRing) -> Self {
        self.another_instance_configured(keys, |b| b).await
    }

    /// Another instance over this one's store and Asana, with `keys` and `configure` applied to
    /// its builder last.
    pub async fn another_instance_configured(
        &self,
        keys: KeyRing,
        configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = asana_app(&self.asana, true);
        let dir = (tempfile::tempdir().unwrap(), self.dir.path());
        Self::launch(
            self.asana.clone(),
            app,
            listener,
            dir,
            keys,
            configure,
            Serving::Serve,
        )
        .await
    }

    /// A service on `listener` whose store is in `store`; `dir` is the directory it owns.
    async fn launch(
        asana: std::sync::Arc<MockAsana>,
        app: AsanaAppCredentials,
        listener: tokio::net::TcpListener,
        (dir, store): (tempfile::TempDir, &std::path::Path),
        keys: KeyRing,
        configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
        how: Serving,
    ) -> Self {
        let builder = Server::builder()
            .store_dir(store)
            .encryption_keys(keys.clone())
            .asana_app(app)
            .upstream_retry(RetryConfig::default().with_max_retries(0))
            .max_body_bytes(64 * 1024)
            .upstream_timeout(Duration::from_millis(800));
        let server = configure(builder).build().await.unwrap();
        let admin = server.admin();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stop) = oneshot::channel::<()>();
        let stop = async move {
            stop.await.ok();
        };
        let served = match how {
            Serving::Serve => tokio::spawn(server.serve(listener, stop)),
            // As an application that serves the router itself does.
            Serving::Router { background } => {
                let background = background.then(|| server.spawn_background());
                let router = server.router();
                tokio::spawn(async move {
                    let _background = background;
                    axum::serve(listener, router)
                        .with_graceful_shutdown(stop)
                        .await
                        .map_err(ServerError::from)
                })
            }
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        Self {
            url,
            asana,
            admin,
            dir,
            keys,
            http,
            shutdown: Some(shutdown),
            served: Some(served),
        }
    }

    /// Signals shutdown and waits until the server has stopped.
    pub async fn stop(&mut self) -> Result<(), ServerError> {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.send(()).ok();
        }
        match self.served.take() {
            Some(served) => served.await.unwrap(),
            None => Ok(()),
        }
    }

    /// Registers an application.
    pub async fn application(&self, name: &str) -> ApplicationCredentials {
        self.admin
            .create_application(name, &["https://app.example.com".to_string()])
            .await
            .unwrap()
    }

    /// `POST /api/v1/account/applications/token` with this client id and secret.
    pub async fn token_request(&self, client_id: &str, client_secret: &str) -> (u16, Value) {
        self.post(
            "/api/v1/account/applications/token",
            None,
            json!({ "client_id": client_id, "client_secret": client_secret }),
        )
        .await
    }

    /// An application token for `app`.
    pub async fn app_token(&self, app: &ApplicationCredentials) -> String {
        let (status, body) = self
            .token_request(
                &app.application.client_id,
                app.client_secret.expose_secret(),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// A token limited to `customer`.
    pub async fn scoped_token(&self, app_token: &str, customer: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/account/applications/scoped-token",
                Some(app_token),
                json!({ "customer_name": customer }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// Creates a connector for `customer` with `credentials`; its answer.
    pub async fn connector(&self, token: &str, customer: &str, credentials: Value) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/integrations/connectors",
                Some(token),
                json!({
                    "customer_name": customer,
                    "connector_type": "Asana",
                    "credentials": credentials,
                }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// An OAuth connector of customer `c` with only a refresh token (refreshed at first use) and
    /// the mock's client as its own; its id.
    pub async fn own_client_connector(&self, token: &str) -> String {
        let issued = self.asana.issue_tokens("default");
        let connector = self
            .connector(
                token,
                "c",
                json!({
                    "refresh_token": issued.refresh_token,
                    "client_id": self.asana.client_id(),
                    "client_secret": self.asana.client_secret(),
                }),
            )
            .await;
        connector["id"].as_str().unwrap().to_string()
    }

    /// `GET path` without a token: status, content type and the body as text.
    pub async fn get_text(&self, path: &str) -> (u16, String, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, content_type, response.text().await.unwrap())
    }

    /// A new application's token and a token connector of its customer `c`.
    pub async fn pat_connector(&self) -> (String, String) {
        let app = self.application("acme").await;
        let token = self.app_token(&app).await;
        let id = self.token_connector(&token, "c").await;
        (token, id)
    }

    /// A connector of `customer` with the mock's personal access token, created with the
    /// application's `token`; its id.
    pub async fn token_connector(&self, token: &str, customer: &str) -> String {
        let connector = self
            .connector(
                token,
                customer,
                json!({ "token": self.asana.personal_access_token() }),
            )
            .await;
        connector["id"].as_str().unwrap().to_string()
    }

    /// Writes `record` into the service's credential store sealed under a key the service does
    /// not have, as after a key was dropped too soon; the store under that key, to look again.
    pub async fn seal_under_another_key(
        &self,
        record: integrations::auth_core::CredentialRecord,
    ) -> integrations::EncryptedStore<integrations::SqliteCredentialStore> {
        use integrations::CredentialStore;

        let foreign =
            integrations::SqliteCredentialStore::builder(self.dir.path().join("credentials.db"))
                .key_ring(KeyRing::new(EncryptionKey::generate()))
                .open()
                .await
                .unwrap();
        foreign
            .put(record, integrations::auth_core::PutMode::Overwrite)
            .await
            .unwrap();
        foreign
    }

    /// A new application's token, an OAuth connector of its customer `c` (with tokens the mock
    /// issued and the service's app to refresh them), and its first access token.
    pub async fn oauth_connector(&self) -> (String, String, String) {
        let app = self.application("acme").await;
        let token = self.app_token(&app).await;
        let issued = self.asana.issue_tokens("default");
        let connector = self
            .connector(
                &token,
                "c",
                json!({ "access_token": issued.access_token, "refresh_token": issued.refresh_token }),
            )
            .await;
        let id = connector["id"].as_str().unwrap().to_string();
        (token, id, issued.access_token)
    }

    /// `{entity, action, params}` on a connector.
    pub async fn execute(
        &self,
        token: &str,
        id: &str,
        entity: &str,
        action: &str,
        params: Value,
    ) -> (u16, Value) {
        self.post(
            &format!("/api/v1/integrations/connectors/{id}/execute"),
            Some(token),
            json!({ "entity": entity, "action": action, "params": params }),
        )
        .await
    }

    /// `POST .../connectors/{id}/execute` of `users.get` for `user_gid`, the answer as it came.
    pub async fn execute_users_get(
        &self,
        token: &str,
        id: &str,
        user_gid: &str,
    ) -> reqwest::Response {
        self.http
            .post(format!(
                "{}/api/v1/integrations/connectors/{id}/execute",
                self.url
            ))
            .bearer_auth(token)
            .json(
                &json!({ "entity": "users", "action": "get", "params": { "user_gid": user_gid } }),
            )
            .send()
            .await
            .unwrap()
    }

    /// The service's credential store, opened beside it.
    pub async fn credentials(
        &self,
    ) -> integrations::EncryptedStore<integrations::SqliteCredentialStore> {
        integrations::SqliteCredentialStore::builder(self.dir.path().join("credentials.db"))
            .key_ring(self.keys.clone())
            .open()
            .await
            .unwrap()
    }

    /// The access token stored for a connector.
    pub async fn stored_access_token(&self, id: &str) -> Option<String> {
        use integrations::CredentialStore;
        let stored = self.credentials().await.get("asana", id).await.unwrap()?;
        let credentials = integrations::Credentials::from_payload(&stored.record.payload).unwrap();
        Some(credentials.token.access_token.expose_secret().to_string())
    }

    /// Sends `method path` with a bearer token and an optional raw body; status and JSON answer
    /// (`Null` when the answer is not JSON). A JSON answer must say so in its `Content-Type`.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type").cloned();
        let text = response.text().await.unwrap();
        let answer = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !answer.is_null() {
            assert_eq!(
                content_type.as_ref().and_then(|v| v.to_str().ok()),
                Some("application/json"),
                "the content type of {path}'s answer"
            );
        }
        (status, answer)
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.send(
            reqwest::Method::POST,
            path,
            token,
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, token, None).await
    }
}

/// Asserts that `body` is the service's error shape and returns its message.
pub fn error_message(body: &Value) -> String {
    let message = body["message"]
        .as_str()
        .expect("an error message")
        .to_string();
    assert_eq!(body["errors"][0]["message"], message.as_str());
    assert!(body["retryable"].is_boolean());
    message
}

/// Marks the stored credentials of `provider` and `subject` as needing re-authorization, with a
/// conditional put as another instance that saw the grant rejected would.
pub async fn mark_needs_reauthorization(
    store: &dyn integrations::CredentialStore,
    provider: &str,
    subject: &str,
) {
    let stored = store.get(provider, subject).await.unwrap().unwrap();
    let mut marked = stored.record;
    marked.status = integrations::CredentialStatus::NeedsReauthorization;
    store
        .put(
            marked,
            integrations::auth_core::PutMode::Update(stored.version),
        )
        .await
        .unwrap();
}

/// The token expiry the SQLite service store in `dir` tracks for `connector_id`, in
/// milliseconds since the epoch.
pub fn tracked_expiry(dir: &std::path::Path, connector_id: &str) -> Option<i64> {
    rusqlite::Connection::open(dir.join("service.db"))
        .unwrap()
        .query_row(
            "SELECT expires_ms FROM token_expiry WHERE connector_id = ?1",
            [connector_id],
            |r| r.get(0),
        )
        .ok()
}

/// Everything logged, once it is a subscriber's writer.
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Captures the info lines (and above) of this thread, as `integrations serve` prints them,
    /// until the guard is dropped: in a current-thread test, those of the services it starts.
    pub fn capture(&self) -> tracing::subscriber::DefaultGuard {
        self.capture_at(tracing::Level::INFO)
    }

    /// As [`Logs::capture`], the lines at `level` and above (the dependencies' too, those they
    /// log through the `log` crate included, as the CLI's subscriber prints them).
    pub fn capture_at(&self, level: tracing::Level) -> tracing::subscriber::DefaultGuard {
        static LOG_RECORDS: std::sync::Once = std::sync::Once::new();
        // Fails only when the process already has a `log` logger, which then stays.
        LOG_RECORDS.call_once(|| drop(tracing_log::LogTracer::init()));
        let logs = self.clone();
        tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_max_level(level)
                .with_ansi(false)
                .with_writer(move || logs.clone())
                .finish(),
        )
    }
}
