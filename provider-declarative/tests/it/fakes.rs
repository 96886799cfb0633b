//! What every provider's fake shares: a wiremock server whose URLs the provider's env keys point
//! at, form parsing, rotating refresh tokens, and the steps of a login.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use auth_core::config::EnvSource;
use auth_core::{AuthManager, AuthorizeOptions, Credentials};
use wiremock::{MockServer, Request, ResponseTemplate};

pub const CLIENT_ID: &str = "client-1";
pub const CLIENT_SECRET: &str = "client-secret-1";
pub const SUBJECT: &str = "alice";

/// A provider's fake and the env that points the provider at it.
pub struct Fake {
    pub server: MockServer,
    pub env: Vec<(String, String)>,
}

impl Fake {
    /// A fake for `id`: every endpoint env key points at it (the revocation URL only when
    /// `revocation` is given, the API base URL only when `api` is given).
    pub async fn start(id: &str, revocation: Option<&str>, api: Option<&str>) -> Self {
        let server = MockServer::start().await;
        let prefix = id.to_ascii_uppercase();
        let uri = server.uri();
        let mut env = vec![
            (format!("{prefix}_CLIENT_ID"), CLIENT_ID.to_string()),
            (format!("{prefix}_CLIENT_SECRET"), CLIENT_SECRET.to_string()),
            (
                format!("{prefix}_AUTHORIZATION_URL"),
                format!("{uri}/authorize"),
            ),
            (format!("{prefix}_TOKEN_URL"), format!("{uri}/token")),
            (
                format!("{prefix}_REDIRECT_URI"),
                "http://127.0.0.1:8765/callback".to_string(),
            ),
        ];
        if let Some(path) = revocation {
            env.push((format!("{prefix}_REVOCATION_URL"), format!("{uri}{path}")));
        }
        if let Some(path) = api {
            env.push((format!("{prefix}_API_BASE_URL"), format!("{uri}{path}")));
        }
        Self { server, env }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    pub fn manager(&self) -> AuthManager {
        AuthManager::builder()
            .env(EnvSource::from_pairs(self.env.clone()))
            .build()
            .unwrap()
    }

    /// How many requests reached `path`.
    pub async fn hits(&self, path: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == path)
            .count()
    }
}

/// A form body's fields.
pub fn form(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// The query of a URL as pairs.
pub fn query(url: &url::Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// Whether `request` authenticates the client with its id and secret in the form body.
pub fn client_in_form(request: &Request) -> bool {
    let fields = form(request);
    fields.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && fields.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
}

/// A JSON answer.
pub fn json(status: u16, body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// Refresh tokens that rotate: generation `n` is `rt-n`; refreshing with the current one
/// returns `at-{n+1}`, `rt-{n+1}` and spends it; any other is refused.
#[derive(Default)]
pub struct Rotation {
    generation: Mutex<u32>,
    refreshes: AtomicUsize,
}

impl Rotation {
    /// Starts at generation 1 (`rt-1`, handed out by the exchange).
    pub fn new() -> Self {
        Self {
            generation: Mutex::new(1),
            refreshes: AtomicUsize::new(0),
        }
    }

    /// Spends `presented` if it is the current refresh token; the new generation.
    pub fn spend(&self, presented: Option<&String>) -> Option<u32> {
        let mut generation = self.generation.lock().unwrap();
        if presented.map(String::as_str) != Some(format!("rt-{generation}").as_str()) {
            return None;
        }
        *generation += 1;
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        Some(*generation)
    }

    /// How many refreshes succeeded.
    pub fn refreshes(&self) -> usize {
        self.refreshes.load(Ordering::SeqCst)
    }
}

/// Runs the authorize step and the exchange with `code`, stores the credentials for
/// [`SUBJECT`], and returns the authorize URL and what was stored.
pub async fn log_in(auth: &AuthManager, provider: &str, code: &str) -> (url::Url, Credentials) {
    let flow = auth.oauth2(provider).unwrap();
    let step = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
    let credentials = flow.exchange(code, &step.state, SUBJECT).await.unwrap();
    auth.store_credentials(provider, SUBJECT, &credentials)
        .await
        .unwrap();
    (step.url, credentials)
}

/// Marks the subject's stored access token as expired a minute ago.
pub async fn expire(auth: &AuthManager, provider: &str) {
    let mut credentials = auth
        .load_credentials::<Credentials>(provider, SUBJECT)
        .await
        .unwrap()
        .unwrap();
    credentials.token.expires_at = Some(SystemTime::now() - Duration::from_secs(60));
    auth.store_credentials(provider, SUBJECT, &credentials)
        .await
        .unwrap();
}

/// What the store holds for the subject.
pub async fn stored(auth: &AuthManager, provider: &str) -> Option<Credentials> {
    auth.load_credentials::<Credentials>(provider, SUBJECT)
        .await
        .unwrap()
}

/// The refresh token the store holds for the subject.
pub async fn stored_refresh_token(auth: &AuthManager, provider: &str) -> String {
    stored(auth, provider)
        .await
        .and_then(|c| c.token.refresh_token)
        .map(|t| t.expose_secret().to_string())
        .unwrap_or_default()
}
