//! No deadlock: 100 subjects × 10 concurrent refreshers for 30 s over three store instances
//! (each with its own pool and listener, as three service instances have) on one database,
//! through the core's refresh path with its leases. Tokens live 2 s, so the core refreshes each
//! about every second; the token endpoint rotates refresh tokens, so that a generation spent
//! twice shows in what it received.

use crate::support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use auth_core::{
    CredentialRecord, CredentialStatus, CredentialStore, Credentials, OAuth2Token, PutMode,
    RefreshingTokenSource, TokenEndpoint, TokenSource,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SUBJECTS: usize = 100;
const REFRESHERS: usize = 10;
const INSTANCES: usize = 3;
const RUN_FOR: Duration = Duration::from_secs(30);
/// Every token's lifetime (`expires_in`); the core refreshes it at half of that.
const LIFETIME_S: u64 = 2;
const ENDPOINT_DELAY: Duration = Duration::from_millis(20);
/// The token request timeout, as the service sets it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The background refresher's margin in the service; the core caps it at half the lifetime.
const AHEAD: Duration = Duration::from_secs(300);
/// Each subject must have been refreshed at least this often, so that the run had expiries
/// throughout (about 30 are due in 30 s).
const MIN_REFRESHES: usize = 10;

/// What the token endpoint answered: the refresh token presented, and what it issued.
#[derive(Debug, Clone)]
struct Issued {
    presented: String,
    access: String,
    refresh: String,
}

/// The token endpoint: a new access token and a new refresh token for each request,
/// `at-{subject}-{n}` and `rt-{subject}-{n}` (the subject read from the refresh token presented,
/// `rt-{subject}-…`), logged in the order they were issued.
#[derive(Clone, Default)]
struct Issuer {
    log: Arc<Mutex<Vec<Issued>>>,
}

impl Issuer {
    fn log(&self) -> Vec<Issued> {
        self.log.lock().unwrap().clone()
    }
}

impl Respond for Issuer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&request.body);
        let presented = body
            .split('&')
            .find_map(|pair| pair.strip_prefix("refresh_token="))
            .unwrap_or_default()
            .to_string();
        let subject = subject_of(&presented).unwrap_or("unknown").to_string();
        let mut log = self.log.lock().unwrap();
        let n = log.len();
        let issued = Issued {
            presented,
            access: format!("at-{subject}-{n}"),
            refresh: format!("rt-{subject}-{n}"),
        };
        let answer = serde_json::json!({
            "access_token": issued.access, "refresh_token": issued.refresh,
            "token_type": "bearer", "expires_in": LIFETIME_S,
        });
        log.push(issued);
        ResponseTemplate::new(200)
            .set_body_json(answer)
            .set_delay(ENDPOINT_DELAY)
    }
}

/// The subject a token of this test belongs to (`at-{subject}-…` or `rt-{subject}-…`).
fn subject_of(token: &str) -> Option<&str> {
    let rest = token
        .strip_prefix("rt-")
        .or_else(|| token.strip_prefix("at-"))?;
    rest.rsplit_once('-').map(|(subject, _)| subject)
}

/// What one refresher saw.
#[derive(Debug, Default)]
struct Calls {
    count: usize,
    tokens: HashSet<String>,
    slowest: Duration,
}

/// Calls `source` until `until`: `token()` as an execute does, every 10 ms, or, with `ahead`,
/// `refresh_ahead` as the service's background refresher does, every 200 ms. Each call must
/// complete within `limit` and succeed.
async fn refresher(
    source: RefreshingTokenSource,
    ahead: bool,
    until: Instant,
    limit: Duration,
) -> Result<Calls, String> {
    let subject = source.subject().to_string();
    let mut calls = Calls::default();
    while Instant::now() < until {
        let started = Instant::now();
        let call = async {
            if ahead {
                source.refresh_ahead(AHEAD).await.map(|()| None)
            } else {
                source.token().await.map(Some)
            }
        };
        let token = match tokio::time::timeout(limit, call).await {
            Err(_) => return Err(format!("a call for {subject} hung for {limit:?}")),
            Ok(Err(e)) => return Err(format!("a call for {subject} failed: {e}")),
            Ok(Ok(token)) => token,
        };
        calls.slowest = calls.slowest.max(started.elapsed());
        calls.count += 1;
        if let Some(token) = token {
            calls.tokens.insert(token.expose_secret().to_string());
        }
        let pause = if ahead { 200 } else { 10 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    Ok(calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshers_on_three_instances_never_deadlock_and_refresh_each_expiry_once() {
    let Some(db) = support::database().await else {
        return;
    };
    let server = MockServer::start().await;
    let issuer = Issuer::default();
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(issuer.clone())
        .mount(&server)
        .await;
    let settings = support::settings(&server).with_request_timeout(REQUEST_TIMEOUT);
    let subjects: Vec<String> = (0..SUBJECTS).map(|s| format!("subject{s}")).collect();

    // Three instances: each its own store (pool and listener), token endpoint (HTTP client) and
    // one token source per subject, shared by that instance's refreshers of the subject.
    let mut stores = Vec::new();
    let mut sources = Vec::new();
    for _ in 0..INSTANCES {
        let store = Arc::new(support::open(&db).await);
        let provider = Arc::new(support::Provider(settings.clone()));
        let endpoint = Arc::new(TokenEndpoint::new(provider).unwrap());
        let shared: Arc<dyn CredentialStore> = store.clone();
        sources.push(
            subjects
                .iter()
                .map(|s| RefreshingTokenSource::stored(endpoint.clone(), s, shared.clone()))
                .collect::<Vec<_>>(),
        );
        stores.push(store);
    }
    // Every token due at once at the start.
    for subject in &subjects {
        let mut token = OAuth2Token::bearer(format!("at-{subject}-init"));
        token.refresh_token = Some(format!("rt-{subject}-init").into());
        token.expires_in = Some(LIFETIME_S);
        token.expires_at = Some(SystemTime::now());
        let record =
            CredentialRecord::new("example", subject, Credentials::new(token).to_payload());
        stores[0].put(record, PutMode::Create).await.unwrap();
    }

    let limit = sources[0][0].refresh_lease() + Duration::from_secs(20);
    let until = Instant::now() + RUN_FOR;
    let mut tasks = Vec::new();
    for s in 0..SUBJECTS {
        for k in 0..REFRESHERS {
            let source = sources[(s + k) % INSTANCES][s].clone();
            tasks.push(tokio::spawn(refresher(source, k == 0, until, limit)));
        }
    }
    let mut handed_out: HashMap<String, HashSet<String>> = HashMap::new();
    let (mut count, mut slowest) = (0, Duration::ZERO);
    for task in futures::future::join_all(tasks).await {
        let calls = task.unwrap().unwrap_or_else(|why| panic!("{why}"));
        count += calls.count;
        slowest = slowest.max(calls.slowest);
        for token in calls.tokens {
            let subject = subject_of(&token)
                .expect("a token of this test")
                .to_string();
            handed_out.entry(subject).or_default().insert(token);
        }
    }

    let log = issuer.log();
    let presented: HashSet<&str> = log.iter().map(|i| i.presented.as_str()).collect();
    assert_eq!(
        presented.len(),
        log.len(),
        "every token request spent a refresh token no other request spent"
    );
    // Per subject, each request spent the refresh token the previous one issued: one refresh
    // per expiry, in sequence, none from an older generation.
    let mut last: HashMap<&str, &Issued> = HashMap::new();
    let mut refreshes: HashMap<&str, usize> = HashMap::new();
    for issued in &log {
        let subject = subject_of(&issued.presented).expect("a refresh token of this test");
        let expected = last
            .get(subject)
            .map_or_else(|| format!("rt-{subject}-init"), |i| i.refresh.clone());
        assert_eq!(issued.presented, expected, "{subject}'s refreshes in order");
        last.insert(subject, issued);
        *refreshes.entry(subject).or_default() += 1;
    }
    for subject in &subjects {
        let refreshed = refreshes.get(subject.as_str()).copied().unwrap_or_default();
        assert!(
            refreshed >= MIN_REFRESHES,
            "{subject} was refreshed {refreshed} times in {RUN_FOR:?}"
        );
        let issued: HashSet<&str> = log
            .iter()
            .filter(|i| subject_of(&i.access) == Some(subject))
            .map(|i| i.access.as_str())
            .collect();
        let init = format!("at-{subject}-init");
        for token in &handed_out[subject] {
            assert!(
                issued.contains(token.as_str()) || *token == init,
                "{subject} was handed {token}, which the endpoint never issued for it"
            );
        }
        // The store holds the last token issued for the subject, unleased.
        let stored = stores[1].get("example", subject).await.unwrap().unwrap();
        assert_eq!(stored.record.status, CredentialStatus::Active);
        assert_eq!(stored.record.lease, None, "{subject}'s lease was cleared");
        let credentials = Credentials::from_payload(&stored.record.payload).unwrap();
        let last = last[subject.as_str()];
        assert_eq!(credentials.token.access_token.expose_secret(), last.access);
        assert_eq!(
            credentials.token.refresh_token.unwrap().expose_secret(),
            last.refresh
        );
    }
    eprintln!(
        "{count} calls by {} refreshers, {} token requests, slowest call {slowest:?}",
        SUBJECTS * REFRESHERS,
        log.len()
    );
}
