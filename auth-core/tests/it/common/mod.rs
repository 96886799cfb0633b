//! A minimal provider and token-endpoint mocks shared by the auth-core integration tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use auth_core::config::EnvSource;
use auth_core::provider::OAuth2Settings;
use auth_core::{
    AuthManager, AuthManagerBuilder, AuthProvider, CredentialStore, Credentials, OAuth2Token,
    SecretString,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[derive(Debug)]
pub struct TestProvider {
    pub id: &'static str,
    pub settings: Option<OAuth2Settings>,
    pub app_token: Option<SecretString>,
}

#[async_trait::async_trait]
impl AuthProvider for TestProvider {
    fn id(&self) -> &str {
        self.id
    }
    fn oauth2_settings(&self) -> Option<&OAuth2Settings> {
        self.settings.as_ref()
    }
    fn app_token(&self) -> Option<&SecretString> {
        self.app_token.as_ref()
    }
}

pub fn settings(uri: &str) -> OAuth2Settings {
    OAuth2Settings::new(
        format!("{uri}/authorize").parse().unwrap(),
        format!("{uri}/token").parse().unwrap(),
        "client-1",
    )
    .with_client_secret("client-secret-canary".into())
    .with_redirect_uri("http://127.0.0.1:9999/callback".parse().unwrap())
    .with_revocation_url(format!("{uri}/revoke").parse().unwrap())
    .with_request_timeout(Duration::from_secs(5))
}

pub fn provider(uri: &str) -> TestProvider {
    TestProvider {
        id: "test",
        settings: Some(settings(uri)),
        app_token: None,
    }
}

pub fn builder(uri: &str) -> AuthManagerBuilder {
    AuthManager::builder()
        .env(EnvSource::empty())
        .auto_configure(false)
        .provider(provider(uri))
}

pub fn manager_with_store(uri: &str, store: Arc<dyn CredentialStore>) -> AuthManager {
    builder(uri).shared_store(store).build().unwrap()
}

/// Credentials whose access token expired a minute ago.
pub fn expired(access: &str, refresh: &str) -> OAuth2Token {
    let mut t = OAuth2Token::bearer(access);
    t.refresh_token = Some(refresh.into());
    t.expires_in = Some(3600);
    t.expires_at = Some(SystemTime::now() - Duration::from_secs(60));
    t
}

pub fn valid(access: &str, refresh: &str) -> OAuth2Token {
    let mut t = expired(access, refresh);
    t.expires_at = Some(SystemTime::now() + Duration::from_secs(3600));
    t
}

pub fn form(req: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}

pub fn form_value(req: &Request, key: &str) -> Option<String> {
    form(req)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// A token endpoint that answers refresh grants with `access-N` (N counting from 1), without a new
/// refresh token, after an optional delay, and counts requests.
#[derive(Clone, Default)]
pub struct RefreshResponder {
    pub calls: Arc<AtomicUsize>,
    pub delay: Duration,
}

impl Respond for RefreshResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        assert_eq!(
            form_value(req, "grant_type").as_deref(),
            Some("refresh_token")
        );
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({
                "access_token": format!("access-{n}"), "token_type": "bearer", "expires_in": 3600
            }))
            .set_delay(self.delay)
    }
}

pub fn stored_access(c: &Credentials) -> String {
    c.token.access_token.expose_secret().to_string()
}

/// Awaits every task, in order, then yields once. Awaiting many finished tasks spends the test
/// task's cooperative budget (tokio's `coop`), and a wiremock `MockServer` dropped while none is
/// left spins forever: its `Drop` blocks on a tokio lock whose budget check never passes. After
/// the yield the task runs on a fresh budget.
pub async fn joined<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut done = Vec::with_capacity(tasks.len());
    for task in tasks {
        done.push(task.await.expect("the task panicked"));
    }
    tokio::task::yield_now().await;
    done
}

/// Mounts on `server` a token endpoint (`POST /token`) that answers `first` once, then `then`
/// to every later request.
pub async fn token_endpoint_answering_once(
    server: &MockServer,
    first: ResponseTemplate,
    then: ResponseTemplate,
) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(first)
        .up_to_n_times(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(then)
        .mount(server)
        .await;
}
