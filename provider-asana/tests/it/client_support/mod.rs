//! Shared helpers for the client tests: a counting token source, client builders, and a raw HTTP
//! server ([`raw`]).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use auth_core::{AuthError, CredentialSource, SecretString, TokenSource};
use provider_asana::{AsanaClient, AsanaClientSettings, RetryConfig};
use url::Url;
use wiremock::MockServer;

pub mod raw;

/// Hands out `tokens` in order: `invalidate` with the current token moves to the next one (and
/// returns true) while there is a next one. Counts calls. Built with [`CountingTokenSource::caching`],
/// it also hands out the current token from `cached_token`.
#[derive(Debug)]
pub struct CountingTokenSource {
    tokens: Vec<String>,
    current: Mutex<usize>,
    pub token_calls: AtomicUsize,
    pub cached_calls: AtomicUsize,
    pub invalidations: AtomicUsize,
    caching: bool,
    /// When set, `token()` never returns: a refresh stuck on an unresponsive endpoint.
    stuck: bool,
    /// When set, `token()` fails with this reason (as `NeedsReauthorization`).
    pub fail_with: Option<String>,
}

impl CountingTokenSource {
    pub fn new(tokens: &[&str]) -> Arc<Self> {
        Arc::new(Self {
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            current: Mutex::new(0),
            token_calls: AtomicUsize::new(0),
            cached_calls: AtomicUsize::new(0),
            invalidations: AtomicUsize::new(0),
            caching: false,
            stuck: false,
            fail_with: None,
        })
    }

    pub fn caching(tokens: &[&str]) -> Arc<Self> {
        let mut source = Arc::into_inner(Self::new(tokens)).unwrap();
        source.caching = true;
        Arc::new(source)
    }

    /// A source whose `token()` never returns (and that caches nothing).
    pub fn stuck() -> Arc<Self> {
        let mut source = Arc::into_inner(Self::new(&[])).unwrap();
        source.stuck = true;
        Arc::new(source)
    }

    pub fn failing(reason: &str) -> Arc<Self> {
        Arc::new(Self {
            tokens: vec![],
            current: Mutex::new(0),
            token_calls: AtomicUsize::new(0),
            cached_calls: AtomicUsize::new(0),
            invalidations: AtomicUsize::new(0),
            caching: false,
            stuck: false,
            fail_with: Some(reason.to_string()),
        })
    }

    pub fn invalidations(&self) -> usize {
        self.invalidations.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenSource for CountingTokenSource {
    async fn token(&self) -> Result<SecretString, AuthError> {
        self.token_calls.fetch_add(1, Ordering::SeqCst);
        if self.stuck {
            return std::future::pending().await;
        }
        if let Some(reason) = &self.fail_with {
            return Err(AuthError::NeedsReauthorization {
                provider: "asana".into(),
                subject: "alice".into(),
                reason: reason.clone(),
            });
        }
        let current = *self.current.lock().unwrap();
        Ok(SecretString::from(self.tokens[current].as_str()))
    }

    fn cached_token(&self) -> Option<SecretString> {
        self.cached_calls.fetch_add(1, Ordering::SeqCst);
        let current = *self.current.lock().unwrap();
        self.caching
            .then(|| SecretString::from(self.tokens[current].as_str()))
    }

    fn invalidate(&self, rejected: &SecretString) -> bool {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        let mut current = self.current.lock().unwrap();
        if rejected.expose_secret() != self.tokens[*current] {
            return true;
        }
        if *current + 1 < self.tokens.len() {
            *current += 1;
            true
        } else {
            false
        }
    }

    fn provider(&self) -> &str {
        "asana"
    }

    fn subject(&self) -> &str {
        "alice"
    }

    fn source(&self) -> CredentialSource {
        CredentialSource::Stored
    }
}

/// Settings for the API mounted at `{server}/api/1.0`.
pub fn settings(server: &MockServer) -> AsanaClientSettings {
    settings_at(&server.uri())
}

/// Settings for the API mounted at `{uri}/api/1.0`.
pub fn settings_at(uri: &str) -> AsanaClientSettings {
    AsanaClientSettings::new(Url::parse(&format!("{uri}/api/1.0")).unwrap())
}

/// The default retries a twentieth as patient, for real-time tests: backoff from 50 ms doubling
/// up to 800 ms (so 50, 100, 200 ms before jitter, each scaled into [50%, 100%]), 500 ms of
/// rate-limit waits in all.
pub fn fast_retry() -> RetryConfig {
    RetryConfig::default()
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(800))
        .with_max_rate_limit_wait(Duration::from_millis(500))
}

/// No retries at all: a test of what one attempt reports.
pub fn no_retries() -> RetryConfig {
    RetryConfig::default().with_max_retries(0)
}

/// A backoff so long that any wait shows: at least 5 s before the first retry. Tests that must
/// not back off assert that they end well before.
pub fn slow_backoff() -> RetryConfig {
    RetryConfig::default().with_initial_backoff(Duration::from_secs(10))
}

/// A client for `server` whose token source hands out `token-1`, then `token-2`.
pub fn client_with(settings: AsanaClientSettings) -> (AsanaClient, Arc<CountingTokenSource>) {
    let tokens = CountingTokenSource::new(&["token-1", "token-2"]);
    let client = AsanaClient::new(tokens.clone(), settings).unwrap();
    (client, tokens)
}

/// A client for `server` with default settings.
pub fn client(server: &MockServer) -> (AsanaClient, Arc<CountingTokenSource>) {
    client_with(settings(server))
}

/// The `name="…"` text fields of a multipart body, in order.
pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    let body = String::from_utf8_lossy(body);
    body.split("Content-Disposition: form-data; name=\"")
        .skip(1)
        .map(|part| {
            let (name, rest) = part.split_once("\"\r\n\r\n").expect("a text field");
            let (value, _) = rest
                .split_once("\r\n--")
                .expect("a boundary after the value");
            (name.to_string(), value.to_string())
        })
        .collect()
}
