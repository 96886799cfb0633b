//! Sessions: refresh on expiry and on 401, single flight in one process and across processes,
//! invalid_grant and transient failures, overrides and the app-token fallback.
use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use auth_core::store::StoredCredential;
use auth_core::{
    AuthError, CredentialRecord, CredentialSource, CredentialStatus, CredentialStore, Credentials,
    MemoryCredentialStore, OAuth2Token, PutMode, RefreshLease, SessionOptions,
};
use common::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

async fn refresh_server(delay: Duration) -> (MockServer, Arc<AtomicUsize>) {
    let server = MockServer::start().await;
    let responder = RefreshResponder {
        delay,
        ..Default::default()
    };
    let calls = responder.calls.clone();
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(responder)
        .mount(&server)
        .await;
    (server, calls)
}

async fn stored(store: &dyn CredentialStore, subject: &str) -> (StoredCredential, Credentials) {
    let record = store.get("test", subject).await.unwrap().expect("record");
    let credentials = Credentials::from_payload(&record.record.payload).unwrap();
    (record, credentials)
}

#[tokio::test]
async fn refresh_without_refresh_token_in_response_keeps_the_old_one() {
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let store = Arc::new(MemoryCredentialStore::new());
    let auth = manager_with_store(&server.uri(), store.clone());
    auth.store_credentials("test", "u", &expired("old-access", "keep-me"))
        .await
        .unwrap();

    let session = auth.session("u").await.unwrap();
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "access-1"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let received = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        form_value(received, "refresh_token").as_deref(),
        Some("keep-me")
    );
    assert_eq!(
        form_value(received, "client_id").as_deref(),
        Some("client-1")
    );

    let (record, credentials) = stored(&*store, "u").await;
    assert_eq!(stored_access(&credentials), "access-1");
    assert_eq!(
        credentials.token.refresh_token.unwrap().expose_secret(),
        "keep-me"
    );
    assert_eq!(
        record.record.lease, None,
        "the lease must be cleared after the refresh"
    );
    assert_eq!(record.record.status, CredentialStatus::Active);
    let memory: OAuth2Token = auth.load_credentials("test", "u").await.unwrap().unwrap();
    assert_eq!(memory.refresh_token.unwrap().expose_secret(), "keep-me");
    // The refreshed token is now cached: no more token requests.
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "access-1"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_callers_cause_one_refresh() {
    let (server, calls) = refresh_server(Duration::from_millis(50)).await;
    let auth = builder(&server.uri()).build().unwrap();
    auth.store_credentials("test", "u", &expired("old", "rt"))
        .await
        .unwrap();
    let session = Arc::new(auth.session("u").await.unwrap());
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let session = session.clone();
            tokio::spawn(async move {
                session
                    .token("test")
                    .await
                    .map(|t| t.expose_secret().to_string())
            })
        })
        .collect();
    for token in joined(tasks).await {
        assert_eq!(token.unwrap(), "access-1");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "exactly one token request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_managers_sharing_a_store_refresh_once() {
    let (server, calls) = refresh_server(Duration::from_millis(100)).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
    let a = manager_with_store(&server.uri(), store.clone());
    let b = manager_with_store(&server.uri(), store.clone());
    a.store_credentials("test", "u", &expired("old", "rt"))
        .await
        .unwrap();
    let (sa, sb) = (
        Arc::new(a.session("u").await.unwrap()),
        Arc::new(b.session("u").await.unwrap()),
    );
    let mut tasks = Vec::new();
    for i in 0..100 {
        let session = if i % 2 == 0 { sa.clone() } else { sb.clone() };
        tasks.push(tokio::spawn(async move {
            session
                .token("test")
                .await
                .unwrap()
                .expose_secret()
                .to_string()
        }));
    }
    for token in joined(tasks).await {
        assert_eq!(
            token, "access-1",
            "both managers must use the single refresh's token"
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "exactly one token request across both managers"
    );
    let (record, credentials) = stored(&*store, "u").await;
    assert_eq!(stored_access(&credentials), "access-1");
    assert_eq!(record.record.lease, None);
}

/// A manager over `store` that waits up to `max_wait` for another holder's refresh lease, with
/// the expired credentials of `u` stored under a lease of `holder` lasting `lease`.
async fn leased_by_another(
    server: &MockServer,
    store: Arc<dyn CredentialStore>,
    max_wait: Duration,
    holder: &str,
    lease: Duration,
) -> auth_core::AuthManager {
    let auth = auth_core::AuthManager::builder()
        .env(auth_core::config::EnvSource::empty())
        .auto_configure(false)
        .provider(provider(&server.uri()))
        .shared_store(store.clone())
        .max_refresh_wait(max_wait)
        .build()
        .unwrap();
    let mut record = CredentialRecord::new(
        "test",
        "u",
        Credentials::new(expired("old", "rt")).to_payload(),
    );
    record.lease = Some(RefreshLease {
        holder: holder.into(),
        expires_at: SystemTime::now() + lease,
    });
    store.put(record, PutMode::Create).await.unwrap();
    auth
}

#[tokio::test]
async fn a_lease_left_by_a_crashed_holder_expires() {
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
    let auth = leased_by_another(
        &server,
        store.clone(),
        Duration::from_secs(5),
        "crashed-process",
        Duration::from_millis(300),
    )
    .await;
    let started = std::time::Instant::now();
    let session = auth.session("u").await.unwrap();
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "access-1"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "must wait for the foreign lease"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_live_foreign_lease_makes_callers_wait_then_give_up() {
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
    let auth = leased_by_another(
        &server,
        store.clone(),
        Duration::from_millis(200),
        "busy",
        Duration::from_secs(60),
    )
    .await;
    let err = auth
        .session("u")
        .await
        .unwrap()
        .token("test")
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::RefreshContended { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// A store that hears of other processes' writes: its `wait_for_change` records what it was
/// asked, and the first time plays the lease holder finishing its refresh as soon as the caller
/// has read the record after starting that wait (the write lands between the read and the
/// wait). With `loses_claim`, another instance claims the refresh lease just before the caller
/// does (once), and the first wait ends with its write as soon as the caller lost that claim. A
/// lost claim returns the record without a `get` (as a store that reads it in the same round
/// trip does).
#[derive(Debug, Default)]
struct HearsOfWrites {
    inner: MemoryCredentialStore,
    waits: Mutex<Vec<(Duration, Duration)>>,
    gets: AtomicUsize,
    loses_claim: bool,
    lost: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl CredentialStore for HearsOfWrites {
    async fn get(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<StoredCredential>, auth_core::StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(provider, subject).await
    }
    async fn put(
        &self,
        record: CredentialRecord,
        mode: PutMode,
    ) -> Result<auth_core::Version, auth_core::StoreError> {
        if let (true, Some(_), PutMode::Update(expected)) = (self.loses_claim, &record.lease, mode)
            && !self.lost.swap(true, Ordering::SeqCst)
        {
            let mut theirs =
                CredentialRecord::new(&record.provider, &record.subject, record.payload.clone());
            theirs.lease = Some(RefreshLease {
                holder: "another-instance".into(),
                expires_at: SystemTime::now() + Duration::from_secs(60),
            });
            self.inner
                .put(theirs, PutMode::Update(expected))
                .await
                .unwrap();
        }
        self.inner.put(record, mode).await
    }
    async fn update_or_read(
        &self,
        record: CredentialRecord,
        expected: auth_core::Version,
    ) -> Result<auth_core::Updated, auth_core::StoreError> {
        let (provider, subject) = (record.provider.clone(), record.subject.clone());
        match self.put(record, PutMode::Update(expected)).await {
            Ok(version) => Ok(auth_core::Updated::Written(version)),
            Err(auth_core::StoreError::VersionMismatch { .. }) => Ok(auth_core::Updated::Changed(
                self.inner.get(&provider, &subject).await?,
            )),
            Err(e) => Err(e),
        }
    }
    async fn delete(&self, provider: &str, subject: &str) -> Result<bool, auth_core::StoreError> {
        self.inner.delete(provider, subject).await
    }
    async fn list(
        &self,
        provider: Option<&str>,
    ) -> Result<Vec<StoredCredential>, auth_core::StoreError> {
        self.inner.list(provider).await
    }
    async fn wait_for_change(
        &self,
        provider: &str,
        subject: &str,
        poll_interval: Duration,
        max_wait: Duration,
    ) {
        let first = {
            let mut waits = self.waits.lock().unwrap();
            waits.push((poll_interval, max_wait));
            waits.len() == 1
        };
        if first {
            let read = self.gets.load(Ordering::SeqCst);
            while if self.loses_claim {
                !self.lost.load(Ordering::SeqCst)
            } else {
                self.gets.load(Ordering::SeqCst) == read
            } {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let done = CredentialRecord::new(
                provider,
                subject,
                Credentials::new(valid("refreshed-elsewhere", "rt")).to_payload(),
            );
            self.inner.put(done, PutMode::Overwrite).await.unwrap();
        }
    }
    async fn replace_payloads(
        &self,
        replacements: Vec<auth_core::store::PayloadReplacement>,
    ) -> Result<usize, auth_core::StoreError> {
        self.inner.replace_payloads(replacements).await
    }
    fn describe(&self) -> String {
        "hears-of-writes".into()
    }
}

/// The caller that started at `started` was woken by the holder's write (not polled out) and
/// adopted its token without a token request of its own.
fn woken_and_adopted(started: std::time::Instant, calls: &AtomicUsize) {
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woken, not polled out"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the holder's refresh is adopted"
    );
}

#[tokio::test]
async fn a_lost_lease_claim_waits_on_the_record_it_returned_without_reading_it_again() {
    use auth_core::{RefreshingTokenSource, TokenSource};
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let store = Arc::new(HearsOfWrites {
        loses_claim: true,
        ..Default::default()
    });
    let payload = Credentials::new(expired("stale", "rt")).to_payload();
    store
        .inner
        .put(CredentialRecord::new("test", "u", payload), PutMode::Create)
        .await
        .unwrap();
    let source = RefreshingTokenSource::stored(endpoint(&server.uri()), "u", store.clone());
    let started = std::time::Instant::now();
    assert_eq!(
        source.token().await.unwrap().expose_secret(),
        "refreshed-elsewhere"
    );
    woken_and_adopted(started, &calls);
    assert_eq!(
        store.gets.load(Ordering::SeqCst),
        2,
        "read, claim lost (the record returned), woken by the winner's write, read again"
    );
    assert_eq!(
        store.waits.lock().unwrap().len(),
        2,
        "the wait started before the first read lasted through the claim"
    );
}

#[tokio::test]
async fn a_waiter_asks_the_store_to_wait_until_the_lease_lapses_and_adopts_the_holders_token() {
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let store = Arc::new(HearsOfWrites::default());
    let auth = leased_by_another(
        &server,
        store.clone(),
        Duration::from_secs(60),
        "another-instance",
        Duration::from_secs(30),
    )
    .await;
    let started = std::time::Instant::now();
    let token = auth
        .session("u")
        .await
        .unwrap()
        .token("test")
        .await
        .unwrap();
    assert_eq!(token.expose_secret(), "refreshed-elsewhere");
    woken_and_adopted(started, &calls);
    // One wait started before each read: the first ended by the holder's write, the second
    // not needed (the record held the holder's token).
    let waits = store.waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 2, "{waits:?}");
    let (poll_interval, max_wait) = waits[0];
    assert_eq!(poll_interval, Duration::from_millis(25));
    assert!(
        max_wait > Duration::from_secs(55) && max_wait <= Duration::from_secs(60),
        "may wait as long as the caller would (the cell ends the wait when the lease lapses): {max_wait:?}"
    );
    assert_eq!(
        store.gets.load(Ordering::SeqCst),
        3,
        "loaded by the session, then read, woken by the write, read again"
    );
}

#[tokio::test]
async fn invalid_grant_marks_the_credentials_and_keeps_them() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_grant", "error_description": "Refresh token is revoked."
        })))
        .expect(1)
        .mount(&server)
        .await;
    let store = Arc::new(MemoryCredentialStore::new());
    let auth = manager_with_store(&server.uri(), store.clone());
    auth.store_credentials("test", "u", &expired("old", "rt"))
        .await
        .unwrap();
    let session = auth.session("u").await.unwrap();
    let err = session.token("test").await.unwrap_err();
    match &err {
        AuthError::NeedsReauthorization {
            provider,
            subject,
            reason,
        } => {
            assert_eq!((provider.as_str(), subject.as_str()), ("test", "u"));
            assert_eq!(reason, "invalid_grant: Refresh token is revoked.");
        }
        other => panic!("expected NeedsReauthorization, got {other:?}"),
    }
    assert!(err.needs_reauthorization());
    let (record, credentials) = stored(&*store, "u").await;
    assert_eq!(record.record.status, CredentialStatus::NeedsReauthorization);
    assert_eq!(record.record.lease, None);
    assert_eq!(
        stored_access(&credentials),
        "old",
        "credentials are kept, not deleted"
    );
    // Later calls fail fast without another token request (expect(1) above).
    assert!(
        session
            .token("test")
            .await
            .unwrap_err()
            .needs_reauthorization()
    );
    assert!(
        auth.session("u")
            .await
            .unwrap()
            .token("test")
            .await
            .unwrap_err()
            .needs_reauthorization()
    );
    // Storing fresh credentials reactivates the subject.
    auth.store_credentials("test", "u", &valid("new", "rt2"))
        .await
        .unwrap();
    assert_eq!(
        auth.session("u")
            .await
            .unwrap()
            .token("test")
            .await
            .unwrap()
            .expose_secret(),
        "new"
    );
}

/// A token endpoint that, like another process, rotates the stored credentials before answering
/// `invalid_grant` to the spent refresh token.
struct RotatedElsewhere {
    store: Arc<MemoryCredentialStore>,
}

impl Respond for RotatedElsewhere {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let record = CredentialRecord::new(
            "test",
            "u",
            Credentials::new(valid("rotated-elsewhere", "rt-2")).to_payload(),
        );
        futures::executor::block_on(self.store.put(record, PutMode::Overwrite)).unwrap();
        ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": "invalid_grant"}))
    }
}

#[tokio::test]
async fn invalid_grant_after_another_process_rotated_adopts_its_token() {
    let server = MockServer::start().await;
    let store = Arc::new(MemoryCredentialStore::new());
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(RotatedElsewhere {
            store: store.clone(),
        })
        .expect(1)
        .mount(&server)
        .await;
    let auth = manager_with_store(&server.uri(), store.clone());
    auth.store_credentials("test", "u", &expired("old", "rt-1"))
        .await
        .unwrap();
    let token = auth
        .session("u")
        .await
        .unwrap()
        .token("test")
        .await
        .unwrap();
    assert_eq!(token.expose_secret(), "rotated-elsewhere");
    let (record, _) = stored(&*store, "u").await;
    assert_eq!(
        record.record.status,
        CredentialStatus::Active,
        "must not be marked after a rotation elsewhere"
    );
}

#[tokio::test]
async fn transient_failure_leaves_credentials_untouched() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let store = Arc::new(MemoryCredentialStore::new());
    let auth = manager_with_store(&server.uri(), store.clone());
    auth.store_credentials("test", "u", &expired("old", "rt"))
        .await
        .unwrap();
    let (before, _) = stored(&*store, "u").await;
    let err = auth
        .session("u")
        .await
        .unwrap()
        .token("test")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::Transient {
                operation: auth_core::TokenOperation::Refresh,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    let (after, credentials) = stored(&*store, "u").await;
    assert_eq!(after.record.status, CredentialStatus::Active);
    assert_eq!(after.record.lease, None, "the lease is released");
    assert_eq!(
        after.record.payload, before.record.payload,
        "credentials unchanged"
    );
    assert_eq!(
        credentials.token.refresh_token.unwrap().expose_secret(),
        "rt"
    );
}

#[tokio::test]
async fn transient_failure_before_expiry_keeps_serving_the_current_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(502))
        .expect(1)
        .mount(&server)
        .await;
    let auth = builder(&server.uri()).build().unwrap();
    let mut token = valid("still-valid", "rt");
    token.expires_at = Some(SystemTime::now() + Duration::from_secs(30)); // inside the 60 s margin
    auth.store_credentials("test", "u", &token).await.unwrap();
    let session = auth.session("u").await.unwrap();
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "still-valid"
    );
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "still-valid",
        "no retry storm"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidate_after_401_forces_exactly_one_refresh() {
    let (server, calls) = refresh_server(Duration::from_millis(20)).await;
    let auth = builder(&server.uri()).build().unwrap();
    auth.store_credentials("test", "u", &valid("rejected-by-api", "rt"))
        .await
        .unwrap();
    let session = Arc::new(auth.session("u").await.unwrap());
    let source = session.token_source("test").unwrap();
    let first = source.token().await.unwrap();
    assert_eq!(first.expose_secret(), "rejected-by-api");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (source, first) = (source.clone(), first.clone());
            tokio::spawn(async move {
                assert!(
                    source.invalidate(&first),
                    "a refreshable token can be replaced"
                );
                source.token().await.unwrap().expose_secret().to_string()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), "access-1");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "50 callers that saw the same 401 cause one refresh"
    );
}

#[tokio::test]
async fn cached_token_hands_out_only_a_fresh_token_and_never_refreshes() {
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let auth = builder(&server.uri()).build().unwrap();
    auth.store_credentials("test", "u", &expired("stale", "rt"))
        .await
        .unwrap();
    let session = auth.session("u").await.unwrap();
    let source = session.token_source("test").unwrap();
    assert!(
        source.cached_token().is_none(),
        "an expired token is never handed out"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "cached_token never refreshes"
    );

    let refreshed = source.token().await.unwrap();
    assert_eq!(refreshed.expose_secret(), "access-1");
    let cached = source
        .cached_token()
        .expect("the refreshed token is cached");
    assert!(cached.same_secret(&refreshed));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    assert!(source.invalidate(&cached));
    assert!(
        source.cached_token().is_none(),
        "a token reported as rejected is not handed out again"
    );
    assert_eq!(source.token().await.unwrap().expose_secret(), "access-2");
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    auth.delete_credentials("test", "u").await.unwrap();
    assert!(
        source.cached_token().is_none(),
        "deleted credentials are not handed out"
    );
}

/// A manager over a memory store holding user `u`'s token `no-refresh` (no refresh token), its
/// token source and the token it hands out.
async fn stored_token_without_refresh() -> (
    Arc<MemoryCredentialStore>,
    auth_core::AuthManager,
    Arc<dyn auth_core::TokenSource>,
    auth_core::SecretString,
) {
    let store = Arc::new(MemoryCredentialStore::new());
    let auth = manager_with_store("http://127.0.0.1:9", store.clone());
    auth.store_credentials("test", "u", &OAuth2Token::bearer("no-refresh"))
        .await
        .unwrap();
    let source = auth
        .session("u")
        .await
        .unwrap()
        .token_source("test")
        .unwrap();
    let token = source.token().await.unwrap();
    (store, auth, source, token)
}

/// A stored token the provider rejected and nothing can refresh: the record is marked as
/// needing re-authorization, for every reader of the store, until the user connects again.
#[tokio::test]
async fn a_rejected_token_without_refresh_token_marks_its_record() {
    let (store, auth, source, token) = stored_token_without_refresh().await;
    assert!(!source.invalidate(&token), "nothing can replace it");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while stored(&*store, "u").await.0.record.status != CredentialStatus::NeedsReauthorization {
        assert!(
            std::time::Instant::now() < deadline,
            "the record was never marked"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (record, credentials) = stored(&*store, "u").await;
    assert_eq!(stored_access(&credentials), "no-refresh");
    assert_eq!(record.version, 2);
    let err = source.token().await.unwrap_err();
    assert!(
        matches!(err, AuthError::NeedsReauthorization { .. }),
        "{err:?}"
    );

    // Connecting again lifts it.
    auth.store_credentials("test", "u", &OAuth2Token::bearer("replacement"))
        .await
        .unwrap();
    let session = auth.session("u").await.unwrap();
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "replacement"
    );
}

/// A rejected token replaced before its rejection is recorded: the new credentials stay active
/// (the test's runtime has one thread, so the recording task runs only once the test waits).
#[tokio::test]
async fn a_rejected_token_replaced_meanwhile_leaves_the_new_one_active() {
    let (store, auth, source, token) = stored_token_without_refresh().await;
    assert!(!source.invalidate(&token));
    auth.store_credentials("test", "u", &OAuth2Token::bearer("replacement"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (record, credentials) = stored(&*store, "u").await;
    assert_eq!(
        (record.record.status, stored_access(&credentials)),
        (CredentialStatus::Active, "replacement".to_string())
    );
}

#[tokio::test]
async fn app_token_fallback_is_reported_and_can_be_switched_off() {
    let mut p = provider("http://127.0.0.1:9");
    p.app_token = Some("pat-canary".into());
    let auth = auth_core::AuthManager::builder()
        .env(auth_core::config::EnvSource::empty())
        .auto_configure(false)
        .provider(p)
        .build()
        .unwrap();
    let session = auth.session("nobody").await.unwrap();
    assert_eq!(session.source("test"), Some(CredentialSource::AppToken));
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "pat-canary"
    );

    let strict = auth
        .session_with("nobody", SessionOptions::new().allow_app_token(false))
        .await
        .unwrap();
    assert_eq!(strict.source("test"), None);
    let err = strict.token("test").await.unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::NoCredentials {
                fallback_available: true,
                ..
            }
        ),
        "{err:?}"
    );

    auth.store_credentials("test", "someone", &valid("oauth", "rt"))
        .await
        .unwrap();
    let preferred = auth.session("someone").await.unwrap();
    assert_eq!(
        preferred.source("test"),
        Some(CredentialSource::Stored),
        "stored OAuth wins over the PAT"
    );
    assert_eq!(
        preferred.token("test").await.unwrap().expose_secret(),
        "oauth"
    );
}

#[tokio::test]
async fn overrides_refresh_in_memory_and_report_through_the_callback() {
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let store = Arc::new(MemoryCredentialStore::new());
    let auth = manager_with_store(&server.uri(), store.clone());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let options = SessionOptions::new()
        .with_credentials("test", &expired("given", "given-rt"))
        .on_refresh(move |p, s, c| {
            sink.lock()
                .unwrap()
                .push((p.to_string(), s.to_string(), stored_access(c)))
        });
    let session = auth.session_with("u", options).await.unwrap();
    assert_eq!(session.source("test"), Some(CredentialSource::Override));
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "access-1"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        [("test".to_string(), "u".to_string(), "access-1".to_string())]
    );
    assert!(
        store.get("test", "u").await.unwrap().is_none(),
        "overrides never reach the store"
    );
}

#[tokio::test]
async fn session_filters_and_unknown_providers() {
    let auth = builder("http://127.0.0.1:9").build().unwrap();
    let err = auth
        .session_with("u", SessionOptions::new().providers(["nope"]))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::UnknownProvider { .. }), "{err:?}");
    let session = auth.session("u").await.unwrap();
    let err = session.token("test").await.unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::NoCredentials {
                fallback_available: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "test: no credentials for `u`; run the OAuth flow and store_credentials, or configure an app-level token"
    );
}

#[tokio::test]
async fn live_sessions_and_their_token_sources_follow_stored_credentials() {
    let mut p = provider("http://127.0.0.1:9");
    p.app_token = Some("app-token".into());
    let auth = auth_core::AuthManager::builder()
        .env(auth_core::config::EnvSource::empty())
        .auto_configure(false)
        .provider(p)
        .build()
        .unwrap();
    let session = auth.session("u").await.unwrap();
    let source = session.token_source("test").unwrap();
    assert_eq!(session.source("test"), Some(CredentialSource::AppToken));
    assert_eq!(source.token().await.unwrap().expose_secret(), "app-token");

    auth.store_credentials("test", "u", &valid("users-own", "rt"))
        .await
        .unwrap();
    assert_eq!(session.source("test"), Some(CredentialSource::Stored));
    assert_eq!(source.source(), CredentialSource::Stored);
    assert_eq!(
        source.token().await.unwrap().expose_secret(),
        "users-own",
        "a client built earlier switches too"
    );

    assert!(auth.delete_credentials("test", "u").await.unwrap());
    assert_eq!(session.source("test"), Some(CredentialSource::AppToken));
    assert_eq!(source.token().await.unwrap().expose_secret(), "app-token");

    let strict = auth
        .session_with("u", SessionOptions::new().allow_app_token(false))
        .await
        .unwrap();
    assert!(matches!(
        strict.token_source("test"),
        Err(AuthError::NoCredentials {
            fallback_available: true,
            ..
        })
    ));
    auth.store_credentials("test", "u", &valid("again", "rt"))
        .await
        .unwrap();
    assert_eq!(strict.token("test").await.unwrap().expose_secret(), "again");
}

/// The longest lifetime kept from a token response (`auth_core::token::MAX_TOKEN_LIFETIME`).
const YEAR: u64 = 365 * 24 * 60 * 60;

/// The `expires_in` values that used to panic: a huge float, `u64::MAX` and a huge numeric string.
fn huge_lifetimes() -> [serde_json::Value; 3] {
    [
        serde_json::json!(1e30),
        serde_json::json!(18_446_744_073_709_551_615u64),
        serde_json::json!("9223372036854775807"),
    ]
}

async fn token_server(body: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn huge_expires_in_is_clamped_at_refresh_and_the_lease_released() {
    assert_eq!(auth_core::token::MAX_TOKEN_LIFETIME.as_secs(), YEAR);
    for lifetime in huge_lifetimes() {
        let server = token_server(serde_json::json!({
            "access_token": "long-lived", "token_type": "bearer", "expires_in": lifetime
        }))
        .await;
        let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
        let auth = manager_with_store(&server.uri(), store.clone());
        auth.store_credentials("test", "u", &expired("old", "rt"))
            .await
            .unwrap();
        let before = SystemTime::now();
        let token = auth.session("u").await.unwrap().token("test").await;
        assert_eq!(token.unwrap().expose_secret(), "long-lived", "{lifetime}");
        let (record, credentials) = stored(&*store, "u").await;
        assert_eq!(record.record.lease, None, "{lifetime}");
        assert_eq!(credentials.token.expires_in, Some(YEAR), "{lifetime}");
        let expires_at = credentials.token.expires_at.unwrap();
        assert!(
            expires_at >= before + Duration::from_secs(YEAR),
            "{lifetime}"
        );
        assert!(
            expires_at <= SystemTime::now() + Duration::from_secs(YEAR),
            "{lifetime}"
        );
        // Another process reads the clamped record and uses it without a refresh.
        let other = manager_with_store(&server.uri(), store.clone());
        let again = other.session("u").await.unwrap().token("test").await;
        assert_eq!(again.unwrap().expose_secret(), "long-lived");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn an_unusable_refresh_response_is_invalid_and_releases_the_lease() {
    for (body, reason) in [
        (
            serde_json::json!({"access_token": "x", "expires_in": -31_337}),
            "`expires_in` is not a non-negative number of seconds",
        ),
        (
            serde_json::json!({"access_token": "x", "token_type": "mac", "expires_in": 60}),
            "`token_type` is not `Bearer`, the only type of token this client can send",
        ),
    ] {
        let server = token_server(body).await;
        let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
        let auth = manager_with_store(&server.uri(), store.clone());
        auth.store_credentials("test", "u", &expired("old", "rt"))
            .await
            .unwrap();
        let (before, _) = stored(&*store, "u").await;
        let err = auth
            .session("u")
            .await
            .unwrap()
            .token("test")
            .await
            .unwrap_err();
        match &err {
            AuthError::InvalidTokenResponse {
                provider,
                reason: r,
            } => {
                assert_eq!((provider.as_str(), r.as_str()), ("test", reason));
            }
            other => panic!("expected InvalidTokenResponse, got {other:?}"),
        }
        assert!(!err.to_string().contains("31337") && !err.to_string().contains("mac"));
        let (after, _) = stored(&*store, "u").await;
        assert_eq!(after.record.lease, None, "the lease is released");
        assert_eq!(after.record.payload, before.record.payload);
    }
}

#[tokio::test]
async fn a_refresh_whose_caller_gives_up_completes_and_saves() {
    let (server, calls) = refresh_server(Duration::from_millis(500)).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
    let auth = manager_with_store(&server.uri(), store.clone());
    auth.store_credentials("test", "u", &expired("old", "rt"))
        .await
        .unwrap();
    let session = auth.session("u").await.unwrap();
    // A caller's own timeout gives up while the token endpoint is still answering, and the
    // caller goes away: the refresh goes on, so that a rotated refresh token is not lost between
    // the provider's answer and the store.
    let abandoned = tokio::time::timeout(Duration::from_millis(100), session.token("test")).await;
    assert!(abandoned.is_err(), "the refresh was still running");
    drop((session, auth));
    let (record, credentials) = wait_for_release(&*store).await;
    assert_eq!(
        record.record.lease, None,
        "the refresh's save cleared its lease"
    );
    assert_ne!(
        stored_access(&credentials),
        "old",
        "the refreshed token is stored"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let next = manager_with_store(&server.uri(), store.clone());
    let token = next
        .session("u")
        .await
        .unwrap()
        .token("test")
        .await
        .unwrap();
    assert_eq!(token.expose_secret(), stored_access(&credentials));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "no second refresh");
}

/// The record once its lease is gone, or as it is after two seconds.
async fn wait_for_release(store: &dyn CredentialStore) -> (StoredCredential, Credentials) {
    for _ in 0..200 {
        let (record, credentials) = stored(store, "u").await;
        if record.record.lease.is_none() {
            return (record, credentials);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stored(store, "u").await
}

/// A provider whose code panics while merging a refresh response.
#[derive(Debug)]
struct PanickingMerge(auth_core::provider::OAuth2Settings);

#[async_trait::async_trait]
impl auth_core::AuthProvider for PanickingMerge {
    fn id(&self) -> &str {
        "test"
    }
    fn oauth2_settings(&self) -> Option<&auth_core::provider::OAuth2Settings> {
        Some(&self.0)
    }
    fn merge_refreshed(&self, _: &Credentials, _: OAuth2Token) -> Credentials {
        panic!("provider bug while merging a refresh response");
    }
}

#[tokio::test]
async fn a_refresh_that_panics_releases_its_lease() {
    let (server, _) = refresh_server(Duration::ZERO).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
    let auth = auth_core::AuthManager::builder()
        .env(auth_core::config::EnvSource::empty())
        .auto_configure(false)
        .provider(PanickingMerge(settings(&server.uri())))
        .shared_store(store.clone())
        .build()
        .unwrap();
    auth.store_credentials("test", "u", &expired("old", "rt"))
        .await
        .unwrap();
    let session = auth.session("u").await.unwrap();
    let task = tokio::spawn(async move { session.token("test").await.map(|_| ()) });
    assert!(task.await.unwrap_err().is_panic());
    let (record, credentials) = wait_for_release(&*store).await;
    assert_eq!(record.record.lease, None, "the lease is released");
    assert_eq!(stored_access(&credentials), "old");
}

#[tokio::test]
async fn a_stored_expiry_centuries_away_is_served() {
    let server = MockServer::start().await;
    let auth = builder(&server.uri()).build().unwrap();
    let mut token = valid("far", "rt");
    token.expires_at = Some(SystemTime::now() + Duration::from_secs(1 << 33));
    auth.store_credentials("test", "u", &token).await.unwrap();
    let session = auth.session("u").await.unwrap();
    assert_eq!(session.token("test").await.unwrap().expose_secret(), "far");
    assert_eq!(session.token("test").await.unwrap().expose_secret(), "far");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_damaged_stored_record_is_corrupt_for_its_subject_and_can_be_deleted() {
    for (payload, reason) in [
        (
            serde_json::json!({"access_token": "at", "refresh_token": "rt", "expires_at": 1e30}),
            "`expires_at` is not a Unix timestamp",
        ),
        (
            serde_json::json!({"access_token": 4_242_424}),
            "field `access_token` has an unexpected type or value",
        ),
    ] {
        let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
        let auth = manager_with_store("http://127.0.0.1:9", store.clone());
        let bytes = serde_json::to_vec(&payload).unwrap();
        let record = CredentialRecord::new("test", "u", auth_core::Payload::new(bytes));
        store.put(record, PutMode::Create).await.unwrap();
        let corrupt = |err: AuthError| match err {
            AuthError::CorruptCredentials {
                ref provider,
                ref subject,
                reason: ref r,
            } => {
                assert_eq!((provider.as_str(), subject.as_str()), ("test", "u"));
                assert_eq!(r, reason);
                assert!(err.needs_reauthorization());
                let text = err.to_string();
                assert!(text.contains("connect the account again"), "{text}");
                assert!(
                    !text.contains("1e30") && !text.contains("4242424"),
                    "{text}"
                );
            }
            other => panic!("expected CorruptCredentials, got {other:?}"),
        };
        corrupt(auth.session("u").await.unwrap_err());
        corrupt(
            auth.load_credentials::<Credentials>("test", "u")
                .await
                .unwrap_err(),
        );
        corrupt(auth.credential_info("test", "u").await.unwrap_err());
        corrupt(auth.list_credentials(None).await.unwrap_err());
        assert!(auth.delete_credentials("test", "u").await.unwrap());
        assert!(store.get("test", "u").await.unwrap().is_none());
        let after = auth.session("u").await.unwrap().token("test").await;
        assert!(
            matches!(after, Err(AuthError::NoCredentials { .. })),
            "{after:?}"
        );
    }
}

/// What a [`Gated`] store does before each put of its in-memory records: wait, or fail.
#[async_trait::async_trait]
trait BeforePut: std::fmt::Debug + Send + Sync {
    /// The store's `describe`.
    const NAME: &'static str;

    async fn before_put(&self, record: &CredentialRecord) -> Result<(), auth_core::StoreError>;
}

/// An in-memory store whose puts pass `gate` first; it reads as its gate's fields.
#[derive(Debug, Default)]
struct Gated<G> {
    inner: MemoryCredentialStore,
    gate: G,
}

impl<G> std::ops::Deref for Gated<G> {
    type Target = G;

    fn deref(&self) -> &G {
        &self.gate
    }
}

#[async_trait::async_trait]
impl<G: BeforePut> CredentialStore for Gated<G> {
    async fn get(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<StoredCredential>, auth_core::StoreError> {
        self.inner.get(provider, subject).await
    }
    async fn put(
        &self,
        record: CredentialRecord,
        mode: PutMode,
    ) -> Result<auth_core::Version, auth_core::StoreError> {
        self.gate.before_put(&record).await?;
        self.inner.put(record, mode).await
    }
    async fn delete(&self, provider: &str, subject: &str) -> Result<bool, auth_core::StoreError> {
        self.inner.delete(provider, subject).await
    }
    async fn list(
        &self,
        provider: Option<&str>,
    ) -> Result<Vec<StoredCredential>, auth_core::StoreError> {
        self.inner.list(provider).await
    }
    async fn replace_payloads(
        &self,
        replacements: Vec<auth_core::store::PayloadReplacement>,
    ) -> Result<usize, auth_core::StoreError> {
        self.inner.replace_payloads(replacements).await
    }
    fn describe(&self) -> String {
        G::NAME.into()
    }
}

/// A store whose first write of a refresh lease takes `delay` (a database slow to answer).
type SlowLeaseStore = Gated<SlowLease>;

#[derive(Debug, Default)]
struct SlowLease {
    delay: Duration,
    delayed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl BeforePut for SlowLease {
    const NAME: &'static str = "slow";

    async fn before_put(&self, record: &CredentialRecord) -> Result<(), auth_core::StoreError> {
        if record.lease.is_some() && !self.delayed.swap(true, Ordering::SeqCst) {
            tokio::time::sleep(self.delay).await;
        }
        Ok(())
    }
}

/// A lease whose write took longer than the lease's margin allows may lapse before the refresh
/// it covers is done: it is given back, nothing is sent, and the call fails transiently; the
/// next call refreshes.
#[tokio::test]
async fn a_lease_written_too_slowly_is_given_back_unused() {
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let store = Arc::new(SlowLeaseStore {
        gate: SlowLease {
            delay: Duration::from_millis(5200),
            ..SlowLease::default()
        },
        ..SlowLeaseStore::default()
    });
    let auth = manager_with_store(&server.uri(), store.clone());
    auth.store_credentials("test", "u", &expired("old", "rt"))
        .await
        .unwrap();
    let session = auth.session("u").await.unwrap();
    let err = session.token("test").await.unwrap_err();
    assert!(
        matches!(&err, AuthError::Transient { detail, .. } if detail.contains("longer than 5 s to take the refresh lease")),
        "{err:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing was sent");
    let (record, _) = stored(&store.inner, "u").await;
    assert_eq!(record.record.lease, None, "the lease was given back");

    assert_ne!(session.token("test").await.unwrap().expose_secret(), "old");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A store whose puts fail, as a database locked by another process does, while `failing` is set.
type FlakyStore = Gated<Flaky>;

#[derive(Debug, Default)]
struct Flaky {
    failing: std::sync::atomic::AtomicBool,
    failed_puts: AtomicUsize,
}

#[async_trait::async_trait]
impl BeforePut for Flaky {
    const NAME: &'static str = "flaky";

    async fn before_put(&self, _: &CredentialRecord) -> Result<(), auth_core::StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            self.failed_puts.fetch_add(1, Ordering::SeqCst);
            return Err(auth_core::StoreError::Backend {
                store: "flaky",
                message: "database is locked".into(),
            });
        }
        Ok(())
    }
}

/// A token endpoint that makes the store fail its puts as it answers a refresh.
struct LocksTheStore {
    store: Arc<FlakyStore>,
    calls: Arc<AtomicUsize>,
}

impl Respond for LocksTheStore {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.store.failing.store(true, Ordering::SeqCst);
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "at-unsaved", "refresh_token": "rt-2", "token_type": "bearer", "expires_in": 3600
        }))
    }
}

/// A manager over a [`FlakyStore`] whose token endpoint ([`LocksTheStore`]) makes it refuse
/// writes as it answers, with a write budget of `budget`, and `old`/`rt-1` stored (due); the
/// endpoint's server and its count of token requests.
async fn locked_at_refresh(
    budget: Duration,
) -> (
    MockServer,
    Arc<FlakyStore>,
    Arc<AtomicUsize>,
    auth_core::AuthManager,
) {
    let server = MockServer::start().await;
    let store = Arc::new(FlakyStore::default());
    let calls = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(LocksTheStore {
            store: store.clone(),
            calls: calls.clone(),
        })
        .mount(&server)
        .await;
    let auth = builder(&server.uri())
        .shared_store(store.clone())
        .store_write_budget(budget)
        .build()
        .unwrap();
    auth.store_credentials("test", "u", &expired("old", "rt-1"))
        .await
        .unwrap();
    (server, store, calls, auth)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshed_credentials_that_cannot_be_saved_fail_the_call_and_are_kept() {
    let (_server, store, calls, auth) = locked_at_refresh(Duration::from_millis(400)).await;
    let session = Arc::new(auth.session("u").await.unwrap());

    // Ten callers wait for one refresh whose write fails: they share its failure at once instead
    // of each retrying the write for the whole budget.
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let session = session.clone();
            tokio::spawn(async move { session.token("test").await.map(|_| ()) })
        })
        .collect();
    for answer in joined(tasks).await {
        let err = answer.unwrap_err();
        match &err {
            AuthError::RefreshNotSaved {
                provider,
                subject,
                reason,
            } => {
                assert_eq!((provider.as_str(), subject.as_str()), ("test", "u"));
                assert!(reason.contains("database is locked"), "{reason}");
            }
            other => panic!("expected RefreshNotSaved, got {other:?}"),
        }
        assert!(err.is_transient());
        assert!(!err.to_string().contains("at-unsaved"), "{err}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one refresh");
    assert!(
        store.failed_puts.load(Ordering::SeqCst) >= 2,
        "the write is retried"
    );
    let (record, credentials) = stored(&store.inner, "u").await;
    assert_eq!(stored_access(&credentials), "old", "nothing was written");

    // The next call tries the write again; it still fails, and the grant is not spent again.
    let err = session.token("test").await.unwrap_err();
    assert!(matches!(err, AuthError::RefreshNotSaved { .. }), "{err:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Once the store takes writes again, the kept credentials are saved and served.
    store.failing.store(false, Ordering::SeqCst);
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "at-unsaved"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let (saved, credentials) = stored(&store.inner, "u").await;
    assert_eq!(stored_access(&credentials), "at-unsaved");
    assert_eq!(
        credentials.token.refresh_token.unwrap().expose_secret(),
        "rt-2"
    );
    assert_eq!(saved.record.lease, None);
    assert!(saved.version > record.version);
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "at-unsaved"
    );
}

/// Refreshed credentials the store would not take within the write budget are written by the
/// cell's own task once it does, although every session and the manager were dropped: the
/// rotated refresh token is not lost to a store outage longer than the budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshed_credentials_that_could_not_be_saved_are_written_when_the_store_recovers() {
    // The caller waits for the failure, or gives up before it (the refresh's task goes on).
    for gives_up in [false, true] {
        let (_server, store, calls, auth) = locked_at_refresh(Duration::from_millis(200)).await;
        let session = auth.session("u").await.unwrap();
        if gives_up {
            let abandoned =
                tokio::time::timeout(Duration::from_millis(50), session.token("test")).await;
            assert!(abandoned.is_err(), "the write was still being tried");
            drop((session, auth));
            // The write budget runs out in the refresh's task meanwhile.
            tokio::time::sleep(Duration::from_millis(500)).await;
        } else {
            let err = session.token("test").await.unwrap_err();
            assert!(matches!(err, AuthError::RefreshNotSaved { .. }), "{err:?}");
            drop((session, auth));
        }
        store.failing.store(false, Ordering::SeqCst);

        let waited = std::time::Instant::now();
        let credentials = loop {
            let (record, credentials) = stored(&store.inner, "u").await;
            if stored_access(&credentials) == "at-unsaved" {
                assert_eq!(record.record.lease, None);
                break credentials;
            }
            assert!(
                waited.elapsed() < Duration::from_secs(5),
                "never written (gives up: {gives_up})"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(
            credentials.token.refresh_token.unwrap().expose_secret(),
            "rt-2"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the grant was spent once");
    }
}

/// Refreshed credentials kept unsaved are the newer grant: another process that spent the
/// refresh token they replace, and marked the record rejected, does not make a new session drop
/// them; they are written over the mark once the store takes writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_session_keeps_unsaved_credentials_over_a_record_marked_rejected() {
    let (_server, store, calls, auth) = locked_at_refresh(Duration::from_millis(200)).await;
    let first = auth.session("u").await.unwrap();
    let err = first.token("test").await.unwrap_err();
    assert!(matches!(err, AuthError::RefreshNotSaved { .. }), "{err:?}");
    // Another process, once the lease lapsed, spent rt-1 and marked the record.
    let current = store.inner.get("test", "u").await.unwrap().unwrap();
    let mut marked = current.record.clone();
    marked.status = CredentialStatus::NeedsReauthorization;
    marked.lease = None;
    store
        .inner
        .put(marked, PutMode::Update(current.version))
        .await
        .unwrap();

    let second = auth.session("u").await.unwrap();
    store.failing.store(false, Ordering::SeqCst);
    assert_eq!(
        second.token("test").await.unwrap().expose_secret(),
        "at-unsaved"
    );
    let (record, credentials) = stored(&store.inner, "u").await;
    assert_eq!(record.record.status, CredentialStatus::Active);
    assert_eq!(
        credentials.token.refresh_token.unwrap().expose_secret(),
        "rt-2"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A token endpoint that, as another process would, writes `record` to the store while it
/// answers the refresh with `fresh` (valid for an hour, with refresh token `rt-new`).
struct SomeoneWritesFirst {
    store: Arc<MemoryCredentialStore>,
    record: Mutex<Option<CredentialRecord>>,
}

impl Respond for SomeoneWritesFirst {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        if let Some(record) = self.record.lock().unwrap().take() {
            futures::executor::block_on(self.store.put(record, PutMode::Overwrite)).unwrap();
        }
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "fresh", "refresh_token": "rt-new", "token_type": "bearer", "expires_in": 3600
        }))
    }
}

/// Refreshes `old`/`rt-1` while the endpoint writes `written` first; returns the token served.
async fn refresh_losing_the_race_to(
    written: CredentialRecord,
) -> (String, StoredCredential, Credentials) {
    let server = MockServer::start().await;
    let store = Arc::new(MemoryCredentialStore::new());
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(SomeoneWritesFirst {
            store: store.clone(),
            record: Mutex::new(Some(written)),
        })
        .expect(1)
        .mount(&server)
        .await;
    let auth = manager_with_store(&server.uri(), store.clone());
    auth.store_credentials("test", "u", &expired("old", "rt-1"))
        .await
        .unwrap();
    let token = auth
        .session("u")
        .await
        .unwrap()
        .token("test")
        .await
        .map(|t| t.expose_secret().to_string());
    let (record, credentials) = stored(&*store, "u").await;
    (token.unwrap(), record, credentials)
}

#[tokio::test]
async fn a_writer_that_loses_the_race_keeps_its_grant_when_it_is_newer() {
    // Another process took the lease over, spent the same (rotated) refresh token and was refused:
    // it marked the old credentials. Ours are the live grant: they must be stored, not dropped.
    let mut marked = CredentialRecord::new(
        "test",
        "u",
        Credentials::new(expired("old", "rt-1")).to_payload(),
    );
    marked.status = CredentialStatus::NeedsReauthorization;
    let (token, record, credentials) = refresh_losing_the_race_to(marked).await;
    assert_eq!(token, "fresh");
    assert_eq!(stored_access(&credentials), "fresh");
    assert_eq!(
        credentials.token.refresh_token.unwrap().expose_secret(),
        "rt-new"
    );
    assert_eq!(record.record.status, CredentialStatus::Active);
    assert_eq!(record.record.lease, None);
}

#[tokio::test]
async fn a_writer_that_loses_the_race_to_a_newer_grant_adopts_it() {
    // The user connected again while we refreshed: their new grant wins, whichever expires
    // first (here theirs, issued before our refresh's answer).
    for lifetime in [600, 7200] {
        let mut relogin = valid("relogin", "rt-relogin");
        relogin.expires_at = Some(SystemTime::now() + Duration::from_secs(lifetime));
        let relogin = CredentialRecord::new("test", "u", Credentials::new(relogin).to_payload());
        let (token, record, credentials) = refresh_losing_the_race_to(relogin).await;
        assert_eq!(token, "relogin", "{lifetime}");
        assert_eq!(stored_access(&credentials), "relogin");
        assert_eq!(
            credentials.token.refresh_token.unwrap().expose_secret(),
            "rt-relogin"
        );
        assert_eq!(record.record.status, CredentialStatus::Active);
    }
}

/// A token endpoint that rotates refresh tokens: each one works once, and its refresh issues
/// `access-N`/`rt-N` (short-lived: inside the expiry margin, so every call refreshes again).
#[derive(Clone, Default)]
struct Rotating {
    state: Arc<Mutex<RotatingState>>,
}

#[derive(Default)]
struct RotatingState {
    issued: usize,
    spent: Vec<String>,
    refused: Vec<String>,
}

impl Rotating {
    fn valid(state: &RotatingState) -> String {
        format!("rt-{}", state.issued)
    }
}

impl Respond for Rotating {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let presented = form_value(req, "refresh_token").unwrap_or_default();
        let mut state = self.state.lock().unwrap();
        if presented != Rotating::valid(&state) {
            state.refused.push(presented);
            return ResponseTemplate::new(400)
                .set_body_json(serde_json::json!({"error": "invalid_grant"}));
        }
        state.spent.push(presented);
        state.issued += 1;
        let n = state.issued;
        // Tokens that expire as they are issued: every call refreshes.
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({
                "access_token": format!("access-{n}"), "refresh_token": format!("rt-{n}"),
                "token_type": "bearer", "expires_in": 0
            }))
            .set_delay(Duration::from_millis(5))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_refresh_tokens_are_spent_once_across_managers() {
    let server = MockServer::start().await;
    let endpoint = Rotating::default();
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(endpoint.clone())
        .mount(&server)
        .await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
    let managers: Vec<_> = (0..3)
        .map(|_| manager_with_store(&server.uri(), store.clone()))
        .collect();
    managers[0]
        .store_credentials("test", "u", &expired("old", "rt-0"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for manager in &managers {
        let session = Arc::new(manager.session("u").await.unwrap());
        for _ in 0..8 {
            let session = session.clone();
            tasks.push(tokio::spawn(async move {
                session
                    .token("test")
                    .await
                    .map(|t| t.expose_secret().to_string())
            }));
        }
    }
    let mut served: Vec<String> = joined(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let (record, credentials) = stored(&*store, "u").await;
    let state = endpoint.state.lock().unwrap();
    assert!(state.refused.is_empty(), "spent twice: {:?}", state.refused);
    // The tokens are always inside the expiry margin: each of the 24 calls refreshed once, each
    // with the refresh token the previous refresh issued, whichever manager it ran in.
    assert_eq!(state.issued, 24);
    let expected: Vec<String> = (0..24).map(|n| format!("rt-{n}")).collect();
    assert_eq!(state.spent, expected);
    served.sort_by_key(|t| t.trim_start_matches("access-").parse::<usize>().unwrap());
    let expected: Vec<String> = (1..=24).map(|n| format!("access-{n}")).collect();
    assert_eq!(served, expected, "each call got its own refresh's token");
    assert_eq!(
        credentials.token.refresh_token.unwrap().expose_secret(),
        Rotating::valid(&state),
        "the store holds the live refresh token"
    );
    assert_eq!(record.record.status, CredentialStatus::Active);
    assert_eq!(record.record.lease, None);
}

/// A store whose puts hang while `hanging` is set: a process stuck (or killed) mid-write.
type HangingStore = Gated<Hanging>;

#[derive(Debug, Default)]
struct Hanging {
    hanging: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl BeforePut for Hanging {
    const NAME: &'static str = "hanging";

    async fn before_put(&self, _: &CredentialRecord) -> Result<(), auth_core::StoreError> {
        // Busy while `hanging` is set, as a store whose lock another writer holds.
        while self.hanging.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }
}

/// Hangs the store's puts as it answers, like `Rotating` otherwise.
struct HangsTheStore {
    store: Arc<HangingStore>,
    rotating: Rotating,
}

impl Respond for HangsTheStore {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.store.hanging.store(true, Ordering::SeqCst);
        self.rotating.respond(req)
    }
}

/// A rotating token endpoint whose first answer hangs the puts of the store returned; it
/// answers as `Rotating` (the state returned) after that.
async fn hangs_the_store_once() -> (MockServer, Arc<HangingStore>, Rotating) {
    let server = MockServer::start().await;
    let rotating = Rotating::default();
    let store = Arc::new(HangingStore::default());
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(HangsTheStore {
            store: store.clone(),
            rotating: rotating.clone(),
        })
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(rotating.clone())
        .mount(&server)
        .await;
    (server, store, rotating)
}

#[tokio::test]
async fn a_crash_after_the_token_endpoint_answered_loses_a_rotated_refresh_token() {
    // The window documented in `auth_core::session`: the endpoint rotated the grant, and the
    // process dies before the new credentials reach the store.
    let (server, store, rotating) = hangs_the_store_once().await;
    let crashed = manager_with_store(&server.uri(), store.clone());
    crashed
        .store_credentials("test", "u", &expired("old", "rt-0"))
        .await
        .unwrap();
    // The process that crashes: its own runtime, shut down with every task of it.
    let process = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let session = crashed.session("u").await.unwrap();
    let died = process.spawn(async move { session.token("test").await });
    let waited = std::time::Instant::now();
    while !store.hanging.load(Ordering::SeqCst) {
        assert!(
            waited.elapsed() < Duration::from_secs(5),
            "no refresh answered"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    process.shutdown_background();
    assert!(died.await.is_err(), "the write never finished");
    drop(crashed);
    store.hanging.store(false, Ordering::SeqCst);
    // Its lease expires; the next process finds the spent refresh token.
    let (mut record, _) = stored(&store.inner, "u").await;
    assert!(record.record.lease.is_some(), "the dead holder's lease");
    record.record.lease = None;
    store
        .inner
        .put(record.record, PutMode::Update(record.version))
        .await
        .unwrap();
    let next = manager_with_store(&server.uri(), store.clone());
    let err = next
        .session("u")
        .await
        .unwrap()
        .token("test")
        .await
        .unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");
    let state = rotating.state.lock().unwrap();
    assert_eq!(state.spent, ["rt-0"]);
    assert_eq!(state.refused, ["rt-0"], "the rotated rt-1 was lost");
}

#[tokio::test]
async fn a_refresh_whose_caller_gives_up_while_saving_saves_the_rotated_grant() {
    let (server, store, rotating) = hangs_the_store_once().await;
    let auth = manager_with_store(&server.uri(), store.clone());
    auth.store_credentials("test", "u", &expired("old", "rt-0"))
        .await
        .unwrap();
    let session = auth.session("u").await.unwrap();
    // The caller gives up while the store is still busy with the write, and goes away.
    let abandoned = tokio::time::timeout(Duration::from_millis(300), session.token("test")).await;
    assert!(abandoned.is_err(), "the write was still running");
    drop(session);
    store.hanging.store(false, Ordering::SeqCst);

    // The refresh writes the rotated grant once the store is free.
    let (record, credentials) = wait_for_release(&store.inner).await;
    assert_eq!(stored_access(&credentials), "access-1");
    assert_eq!(
        credentials.token.refresh_token.unwrap().expose_secret(),
        "rt-1"
    );
    assert_eq!(record.record.lease, None);
    // The next call (its tokens expire as they are issued) spends the rotated grant, not the old.
    let token = auth
        .session("u")
        .await
        .unwrap()
        .token("test")
        .await
        .unwrap();
    assert_eq!(token.expose_secret(), "access-2");
    let state = rotating.state.lock().unwrap();
    assert_eq!(state.spent, ["rt-0", "rt-1"]);
    assert!(state.refused.is_empty(), "{:?}", state.refused);
}

/// A token endpoint that answers `invalid_grant`, and expects to be asked exactly once.
async fn rejecting_token_endpoint() -> MockServer {
    let rejecting = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": "invalid_grant"})),
        )
        .expect(1)
        .mount(&rejecting)
        .await;
    rejecting
}

/// The endpoint of the test provider, on its own.
fn endpoint(uri: &str) -> Arc<auth_core::TokenEndpoint> {
    Arc::new(auth_core::TokenEndpoint::new(Arc::new(provider(uri))).unwrap())
}

#[tokio::test]
async fn a_standalone_refreshing_token_source_refreshes_once_and_reports_each_refresh() {
    use auth_core::{RefreshingTokenSource, TokenSource};
    let (server, calls) = refresh_server(Duration::from_millis(50)).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let callback: auth_core::RefreshCallback = {
        let seen = seen.clone();
        Arc::new(move |provider: &str, subject: &str, c: &Credentials| {
            seen.lock().unwrap().push((
                provider.to_string(),
                subject.to_string(),
                stored_access(c),
            ));
        })
    };
    let source = Arc::new(RefreshingTokenSource::in_memory(
        endpoint(&server.uri()),
        "u",
        Credentials::new(expired("stale", "rt")),
        Some(callback),
    ));
    let tokens = futures::future::join_all((0..50).map(|_| {
        let source = source.clone();
        async move { source.token().await.unwrap().expose_secret().to_string() }
    }))
    .await;
    assert!(tokens.iter().all(|t| t == "access-1"), "{tokens:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        [("test".to_string(), "u".to_string(), "access-1".to_string())]
    );
    assert_eq!(source.source(), CredentialSource::Override);
    assert_eq!((source.provider(), source.subject()), ("test", "u"));

    // A 401 with the current token forces exactly one more refresh.
    assert!(source.invalidate(&"access-1".into()));
    assert_eq!(source.token().await.unwrap().expose_secret(), "access-2");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// The tasks waiting for a refresh go on together when it lands: one that is not polled again
/// holds up none of the others (with a lock, the first in line would be handed it, and the rest
/// would wait until that task ran).
#[tokio::test]
async fn a_waiter_that_is_not_polled_again_holds_up_no_other_caller() {
    use auth_core::{RefreshingTokenSource, TokenSource};
    use std::future::Future;
    use std::task::{Context, Waker};
    // The token request is answered after a second: time enough to set up the waiters below
    // on a busy machine.
    let (server, calls) = refresh_server(Duration::from_secs(1)).await;
    let source = Arc::new(RefreshingTokenSource::in_memory(
        endpoint(&server.uri()),
        "u",
        Credentials::new(expired("stale", "rt")),
        None,
    ));
    let caller = |source: Arc<RefreshingTokenSource>| async move {
        source.token().await.map(|t| t.expose_secret().to_string())
    };
    let refresher = tokio::spawn(caller(source.clone()));
    while calls.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The token request is out: this caller waits for it, first in line, and is never polled
    // again.
    let mut stalled = Box::pin(caller(source.clone()));
    assert!(
        stalled
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    );
    let other = tokio::spawn(caller(source.clone()));
    assert_eq!(refresher.await.unwrap().unwrap(), "access-1");
    let other = tokio::time::timeout(Duration::from_secs(5), other)
        .await
        .expect("the other caller went on without the stalled one")
        .unwrap();
    assert_eq!(other.unwrap(), "access-1");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one token request");
    drop(stalled);
}

/// The callers waiting for a refresh that fails transiently (the token endpoint down) fail with
/// its error together: one token request, not one per caller in turn. The next call tries again.
#[tokio::test]
async fn the_waiters_of_a_refresh_that_fails_transiently_share_its_failure() {
    use auth_core::{RefreshingTokenSource, TokenSource};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(503).set_delay(Duration::from_millis(300)))
        .mount(&server)
        .await;
    let source = Arc::new(RefreshingTokenSource::in_memory(
        endpoint(&server.uri()),
        "u",
        Credentials::new(expired("stale", "rt")),
        None,
    ));
    let answers = futures::future::join_all((0..20).map(|_| {
        let source = source.clone();
        async move { source.token().await.map(|t| t.expose_secret().to_string()) }
    }))
    .await;
    let requests = || async { server.received_requests().await.unwrap().len() };
    assert_eq!(
        requests().await,
        1,
        "one token request for the twenty callers"
    );
    let first = answers[0].as_ref().unwrap_err();
    assert!(
        matches!(first, AuthError::Transient { provider, .. } if provider == "test"),
        "{first:?}"
    );
    for answer in &answers {
        assert_eq!(answer.as_ref().unwrap_err().to_string(), first.to_string());
    }
    assert!(matches!(
        source.token().await,
        Err(AuthError::Transient { .. })
    ));
    assert_eq!(requests().await, 2, "a later call tries again");
}

#[tokio::test]
async fn a_standalone_refreshing_token_source_over_a_store_writes_back_and_marks_a_rejected_grant()
{
    use auth_core::{RefreshingTokenSource, TokenSource};
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
    let payload = Credentials::new(expired("stale", "rt")).to_payload();
    store
        .put(CredentialRecord::new("test", "u", payload), PutMode::Create)
        .await
        .unwrap();
    let notified = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = notified.clone();
    let source = RefreshingTokenSource::stored_with_callback(
        endpoint(&server.uri()),
        "u",
        store.clone(),
        Arc::new(move |provider: &str, subject: &str, fresh: &Credentials| {
            seen.lock().unwrap().push((
                provider.to_string(),
                subject.to_string(),
                stored_access(fresh),
            ));
        }),
    );
    assert!(source.cached_token().is_none(), "nothing read yet");
    assert_eq!(source.token().await.unwrap().expose_secret(), "access-1");
    assert_eq!(
        *notified.lock().unwrap(),
        [("test".to_string(), "u".to_string(), "access-1".to_string())],
        "the callback saw the one refresh"
    );
    assert_eq!(source.cached_token().unwrap().expose_secret(), "access-1");
    let (record, credentials) = stored(&*store, "u").await;
    assert_eq!(stored_access(&credentials), "access-1");
    assert_eq!(record.record.lease, None);
    assert_eq!(source.source(), CredentialSource::Stored);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let rejecting = rejecting_token_endpoint().await;
    let source = RefreshingTokenSource::stored(endpoint(&rejecting.uri()), "u", store.clone());
    assert!(source.invalidate(&"access-1".into()));
    let err = source.token().await.unwrap_err();
    assert!(
        matches!(err, AuthError::NeedsReauthorization { .. }),
        "{err:?}"
    );
    let (record, credentials) = stored(&*store, "u").await;
    assert_eq!(record.record.status, CredentialStatus::NeedsReauthorization);
    assert_eq!(stored_access(&credentials), "access-1", "kept, not deleted");
}

#[tokio::test]
async fn a_short_lived_token_is_refreshed_once_not_on_every_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "thirty-seconds", "token_type": "bearer", "expires_in": 30
        })))
        .expect(1)
        .mount(&server)
        .await;
    let auth = builder(&server.uri()).build().unwrap();
    auth.store_credentials("test", "u", &expired("stale", "rt"))
        .await
        .unwrap();
    let session = auth.session("u").await.unwrap();
    for _ in 0..10 {
        assert_eq!(
            session.token("test").await.unwrap().expose_secret(),
            "thirty-seconds"
        );
    }
    let reopened = auth.session("u").await.unwrap();
    assert_eq!(
        reopened.token("test").await.unwrap().expose_secret(),
        "thirty-seconds"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    // The provider's margin is honoured below half the lifetime: 8 s left of a 30 s token is
    // fresh with a 5 s margin (the default 60 s would refresh it).
    let mut p = provider(&server.uri());
    p.settings = p
        .settings
        .map(|s| s.with_expiry_margin(Duration::from_secs(5)));
    let auth = auth_core::AuthManager::builder()
        .env(auth_core::config::EnvSource::empty())
        .auto_configure(false)
        .provider(p)
        .build()
        .unwrap();
    let mut token = valid("eight-seconds-left", "rt");
    token.expires_in = Some(30);
    token.expires_at = Some(SystemTime::now() + Duration::from_secs(8));
    auth.store_credentials("test", "u", &token).await.unwrap();
    let session = auth.session("u").await.unwrap();
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "eight-seconds-left"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_manager_reports_each_refresh_of_stored_credentials_it_makes() {
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
    store
        .put(
            CredentialRecord::new(
                "test",
                "u",
                Credentials::new(expired("stale", "rt")).to_payload(),
            ),
            PutMode::Create,
        )
        .await
        .unwrap();
    let manager = |seen: Arc<Mutex<Vec<(String, String, String)>>>| {
        auth_core::AuthManager::builder()
            .env(auth_core::config::EnvSource::empty())
            .auto_configure(false)
            .provider(provider(&server.uri()))
            .shared_store(store.clone())
            .on_refresh(move |provider, subject, fresh| {
                seen.lock().unwrap().push((
                    provider.to_string(),
                    subject.to_string(),
                    stored_access(fresh),
                ));
            })
            .build()
            .unwrap()
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let auth = manager(seen.clone());
    let tokens = futures::future::join_all((0..10).map(|_| {
        let auth = auth.clone();
        async move {
            let session = auth.session("u").await.unwrap();
            session
                .token("test")
                .await
                .unwrap()
                .expose_secret()
                .to_string()
        }
    }))
    .await;
    assert!(tokens.iter().all(|t| t == "access-1"), "{tokens:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        [("test".to_string(), "u".to_string(), "access-1".to_string())]
    );

    // Another manager over the same store reads the refreshed token: no refresh to report.
    let other_seen = Arc::new(Mutex::new(Vec::new()));
    let other = manager(other_seen.clone());
    let session = other.session("u").await.unwrap();
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "access-1"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(other_seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn refreshing_ahead_refreshes_only_a_token_of_known_expiry_within_the_margin() {
    use auth_core::{RefreshingTokenSource, TokenSource};
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
    let mut soon = valid("soon", "rt");
    soon.expires_at = Some(SystemTime::now() + Duration::from_secs(180));
    let mut unknown = valid("unknown", "rt");
    (unknown.expires_at, unknown.expires_in) = (None, None);
    for (subject, token) in [("soon", soon), ("unknown", unknown)] {
        let payload = Credentials::new(token).to_payload();
        store
            .put(
                CredentialRecord::new("test", subject, payload),
                PutMode::Create,
            )
            .await
            .unwrap();
    }
    let source = RefreshingTokenSource::stored(endpoint(&server.uri()), "soon", store.clone());
    // Three minutes away: outside a one-minute margin (and the provider's), inside five.
    source.refresh_ahead(Duration::from_secs(60)).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(stored_access(&stored(&*store, "soon").await.1), "soon");
    source
        .refresh_ahead(Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let (record, credentials) = stored(&*store, "soon").await;
    assert_eq!(stored_access(&credentials), "access-1");
    assert_eq!(record.record.lease, None);
    assert_eq!(source.cached_token().unwrap().expose_secret(), "access-1");
    source
        .refresh_ahead(Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "fresh now");

    // An unknown expiry is left for a 401 to refresh, however wide the margin.
    let unknown = RefreshingTokenSource::stored(endpoint(&server.uri()), "unknown", store.clone());
    unknown
        .refresh_ahead(Duration::from_secs(30 * 24 * 3600))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        stored_access(&stored(&*store, "unknown").await.1),
        "unknown"
    );

    // The token request's 5 s, the write budget's 10 s and the margin's 15 s, raised to the
    // shortest lease, 30 s.
    assert_eq!(source.refresh_lease(), Duration::from_secs(30));
}

#[tokio::test]
async fn refreshable_expiry_is_the_held_tokens_while_it_can_be_refreshed() {
    use auth_core::{RefreshingTokenSource, TokenSource};
    let (server, _calls) = refresh_server(Duration::ZERO).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
    let put = async |subject: &str, token: OAuth2Token| {
        let payload = Credentials::new(token).to_payload();
        store
            .put(
                CredentialRecord::new("test", subject, payload),
                PutMode::Create,
            )
            .await
            .unwrap();
    };
    put("refreshed", expired("stale", "rt")).await;
    let source = RefreshingTokenSource::stored(endpoint(&server.uri()), "refreshed", store.clone());
    assert_eq!(source.refreshable_expiry(), None, "nothing read yet");
    source.token().await.unwrap();
    let (_, credentials) = stored(&*store, "refreshed").await;
    assert!(credentials.token.expires_at.unwrap() > SystemTime::now());
    assert_eq!(
        source.refreshable_expiry().map(millis),
        credentials.token.expires_at.map(millis),
        "the refreshed token's, as stored"
    );

    // A token read from the store, as another process left it.
    let adopted = valid("adopted", "rt");
    put("adopted", adopted.clone()).await;
    let source = RefreshingTokenSource::stored(endpoint(&server.uri()), "adopted", store.clone());
    assert_eq!(source.token().await.unwrap().expose_secret(), "adopted");
    let (_, credentials) = stored(&*store, "adopted").await;
    assert_eq!(
        source.refreshable_expiry().map(millis),
        credentials.token.expires_at.map(millis)
    );

    // Without a refresh token there is nothing to refresh ahead of use.
    let mut unrefreshable = valid("alone", "rt");
    unrefreshable.refresh_token = None;
    put("alone", unrefreshable).await;
    let source = RefreshingTokenSource::stored(endpoint(&server.uri()), "alone", store.clone());
    assert_eq!(source.token().await.unwrap().expose_secret(), "alone");
    assert_eq!(source.refreshable_expiry(), None);

    // A refresh that failed for a while: the token served meanwhile is still to be refreshed.
    let failing = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&failing)
        .await;
    let mut soon = valid("soon", "rt");
    soon.expires_at = Some(SystemTime::now() + Duration::from_secs(30)); // inside the margin
    put("soon", soon.clone()).await;
    let source = RefreshingTokenSource::stored(endpoint(&failing.uri()), "soon", store.clone());
    assert_eq!(source.token().await.unwrap().expose_secret(), "soon");
    let (_, credentials) = stored(&*store, "soon").await;
    assert_eq!(
        source.refreshable_expiry().map(millis),
        credentials.token.expires_at.map(millis)
    );

    // A rejected grant is no longer refreshed.
    let rejecting = rejecting_token_endpoint().await;
    let source =
        RefreshingTokenSource::stored(endpoint(&rejecting.uri()), "adopted", store.clone());
    assert_eq!(source.token().await.unwrap().expose_secret(), "adopted");
    assert!(source.refreshable_expiry().is_some());
    assert!(source.invalidate(&"adopted".into()));
    assert!(source.token().await.unwrap_err().needs_reauthorization());
    assert_eq!(source.refreshable_expiry(), None);
}

/// A time to the millisecond, as stores and payloads keep it.
fn millis(at: SystemTime) -> u128 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// A store holding `token` for (test, u), and the record as a caller read it. It counts its
/// reads, and its first wait ends only after a read (a wait that starts after the write it
/// waits for is not woken by it, as with PostgreSQL's notifications).
async fn offered(token: OAuth2Token) -> (Arc<HearsOfWrites>, StoredCredential) {
    let store = Arc::new(HearsOfWrites::default());
    let record = CredentialRecord::new("test", "u", Credentials::new(token).to_payload());
    store.inner.put(record, PutMode::Create).await.unwrap();
    let read = store.inner.get("test", "u").await.unwrap().unwrap();
    (store, read)
}

#[tokio::test]
async fn an_offered_record_with_a_fresh_token_is_served_without_reading_the_store() {
    use auth_core::{RefreshingTokenSource, TokenSource};
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let (store, read) = offered(valid("offered", "rt")).await;
    let source = RefreshingTokenSource::stored(endpoint(&server.uri()), "u", store.clone());
    // Another subject's record, or another provider's, is not this source's.
    let mut other = read.clone();
    other.record.subject = "v".into();
    source.offer(other);
    let mut other = read.clone();
    other.record.provider = "other".into();
    source.offer(other);
    assert!(source.cached_token().is_none());
    source.offer(read);
    assert_eq!(source.cached_token().unwrap().expose_secret(), "offered");
    assert_eq!(source.token().await.unwrap().expose_secret(), "offered");
    assert_eq!(store.gets.load(Ordering::SeqCst), 0, "no read of the store");
    // A source with a fresh token keeps it: an offered record is older than what it knows.
    let (_, older) = offered(valid("older", "rt")).await;
    source.offer(older);
    assert_eq!(source.cached_token().unwrap().expose_secret(), "offered");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_due_record_offered_is_claimed_as_read_and_refreshed_once() {
    use auth_core::{RefreshingTokenSource, TokenSource};
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let (store, read) = offered(expired("old", "rt")).await;
    let source = RefreshingTokenSource::stored(endpoint(&server.uri()), "u", store.clone());
    source.offer(read);
    assert!(
        source.cached_token().is_none(),
        "due: refreshed at the next call"
    );
    assert_eq!(source.token().await.unwrap().expose_secret(), "access-1");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        store.gets.load(Ordering::SeqCst),
        0,
        "the lease claimed on the record offered"
    );
    let (saved, credentials) = stored(&store.inner, "u").await;
    assert_eq!(stored_access(&credentials), "access-1");
    assert_eq!((saved.version, saved.record.lease), (3, None));
}

#[tokio::test]
async fn a_due_record_offered_after_another_process_refreshed_loses_its_claim_and_adopts_that_token()
 {
    use auth_core::{RefreshingTokenSource, TokenSource};
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let (store, read) = offered(expired("old", "rt")).await;
    let theirs = CredentialRecord::new(
        "test",
        "u",
        Credentials::new(valid("refreshed-elsewhere", "rt")).to_payload(),
    );
    store
        .inner
        .put(theirs, PutMode::Update(read.version))
        .await
        .unwrap();
    let source = RefreshingTokenSource::stored(endpoint(&server.uri()), "u", store.clone());
    source.offer(read);
    assert_eq!(
        source.token().await.unwrap().expose_secret(),
        "refreshed-elsewhere"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the version is the fence");
    assert_eq!(
        stored(&store.inner, "u").await.0.version,
        2,
        "nothing written"
    );
}

#[tokio::test]
async fn a_record_offered_under_another_process_s_lease_is_read_again_not_waited_on() {
    use auth_core::{RefreshingTokenSource, TokenSource};
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let mut token = Credentials::new(expired("old", "rt")).to_payload();
    let store = Arc::new(HearsOfWrites::default());
    let mut record = CredentialRecord::new("test", "u", token.clone());
    record.lease = Some(RefreshLease {
        holder: "another-instance".into(),
        expires_at: SystemTime::now() + Duration::from_secs(30),
    });
    store.inner.put(record, PutMode::Create).await.unwrap();
    let read = store.inner.get("test", "u").await.unwrap().unwrap();
    // The holder's write lands after the caller's read and before its wait could start: a
    // wait on the record offered would not hear it.
    token = Credentials::new(valid("refreshed-elsewhere", "rt")).to_payload();
    store
        .inner
        .put(
            CredentialRecord::new("test", "u", token),
            PutMode::Update(read.version),
        )
        .await
        .unwrap();
    let source = RefreshingTokenSource::stored(endpoint(&server.uri()), "u", store.clone());
    source.offer(read);
    let answer = tokio::time::timeout(Duration::from_secs(5), source.token())
        .await
        .expect("the store read again, not a wait until the lease lapses");
    assert_eq!(answer.unwrap().expose_secret(), "refreshed-elsewhere");
    assert_eq!(store.gets.load(Ordering::SeqCst), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_record_offered_during_a_refresh_is_ignored() {
    use auth_core::{RefreshingTokenSource, TokenSource};
    let (server, calls) = refresh_server(Duration::from_millis(300)).await;
    let (store, _) = offered(expired("old", "rt")).await;
    let source = RefreshingTokenSource::stored(endpoint(&server.uri()), "u", store.clone());
    let refreshing = tokio::spawn({
        let source = source.clone();
        async move { source.token().await }
    });
    while calls.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Read before the refresh lands, offered after it may have: never taken over its answer.
    let (_, earlier) = offered(valid("read-earlier", "rt")).await;
    source.offer(earlier);
    assert!(source.cached_token().is_none(), "the refresh is under way");
    assert_eq!(
        refreshing.await.unwrap().unwrap().expose_secret(),
        "access-1"
    );
    assert_eq!(source.cached_token().unwrap().expose_secret(), "access-1");
}

/// Credentials valid for twenty minutes more: not due for a caller, due for a refresh ahead of
/// an hour.
fn due_within_the_hour(access: &str, refresh: &str) -> OAuth2Token {
    let mut token = valid(access, refresh);
    token.expires_at = Some(SystemTime::now() + Duration::from_secs(1200));
    token
}

/// A session that found its grant rejected reads the store again at its next call: credentials
/// another process stored since (the user connected again there) are used, not refused.
#[tokio::test]
async fn a_rejected_session_uses_credentials_another_process_stored_since() {
    let rejecting = rejecting_token_endpoint().await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
    let auth = manager_with_store(&rejecting.uri(), store.clone());
    auth.store_credentials("test", "u", &expired("old", "rt"))
        .await
        .unwrap();
    let session = auth.session("u").await.unwrap();
    let err = session.token("test").await.unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");
    let err = session.token("test").await.unwrap_err();
    assert!(err.needs_reauthorization(), "still rejected: {err:?}");

    let elsewhere = manager_with_store(&rejecting.uri(), store.clone());
    elsewhere
        .store_credentials("test", "u", &valid("reconnected", "rt-new"))
        .await
        .unwrap();
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "reconnected"
    );
}

#[tokio::test]
async fn a_record_offered_after_the_grant_was_rejected_is_ignored() {
    use auth_core::{RefreshingTokenSource, TokenSource};
    let rejecting = rejecting_token_endpoint().await;
    let (store, read_before_the_mark) = offered(due_within_the_hour("before", "rt")).await;
    let source = RefreshingTokenSource::stored(endpoint(&rejecting.uri()), "u", store.clone());
    let err = source
        .refresh_ahead(Duration::from_secs(3600))
        .await
        .unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");
    source.offer(read_before_the_mark);
    assert!(source.cached_token().is_none());
    let err = source.token().await.unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");
}

#[tokio::test]
async fn a_record_offered_while_refreshed_credentials_wait_to_be_saved_is_ignored() {
    use auth_core::{RefreshingTokenSource, TokenSource};
    let (server, store, rotating) = hangs_the_store_once().await;
    let record = CredentialRecord::new(
        "test",
        "u",
        Credentials::new(due_within_the_hour("before", "rt-0")).to_payload(),
    );
    store.inner.put(record, PutMode::Create).await.unwrap();
    let read_before = store.inner.get("test", "u").await.unwrap().unwrap();
    let source = RefreshingTokenSource::stored(endpoint(&server.uri()), "u", store.clone());
    // The endpoint rotated the grant; the write of its answer is abandoned.
    let abandoned = tokio::time::timeout(
        Duration::from_millis(300),
        source.refresh_ahead(Duration::from_secs(3600)),
    )
    .await;
    assert!(abandoned.is_err(), "the write was still running");
    // The record read before the refresh holds a token a caller could use, and the spent grant.
    source.offer(read_before);
    store.hanging.store(false, Ordering::SeqCst);
    // The rotated grant is saved and spent next (its tokens expire as they are issued); the
    // spent one is never sent again.
    assert_eq!(source.token().await.unwrap().expose_secret(), "access-2");
    let (_, credentials) = stored(&store.inner, "u").await;
    assert_eq!(stored_access(&credentials), "access-2");
    assert_eq!(
        credentials.token.refresh_token.unwrap().expose_secret(),
        "rt-2",
        "the rotated grant is kept"
    );
    let state = rotating.state.lock().unwrap();
    assert_eq!(state.spent, ["rt-0", "rt-1"]);
    assert!(state.refused.is_empty(), "{:?}", state.refused);
}

/// After the API rejected the current token (a 401 reported through `invalidate`), a refresh
/// that fails transiently (the token endpoint answers 503, once) fails the call with
/// `AuthError::Transient` for the refresh: the rejected token is not handed out again although
/// it has not expired yet.
#[tokio::test]
async fn a_rejected_token_is_not_served_again_after_a_transient_refresh_failure() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    let auth = builder(&server.uri()).build().unwrap();
    auth.store_credentials("test", "u", &valid("rejected-by-api", "rt"))
        .await
        .unwrap();
    let session = auth.session("u").await.unwrap();
    let source = session.token_source("test").unwrap();
    let first = source.token().await.unwrap();
    assert_eq!(first.expose_secret(), "rejected-by-api");
    assert!(source.invalidate(&first));
    let err = source.token().await.unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::Transient {
                operation: auth_core::TokenOperation::Refresh,
                ..
            }
        ),
        "{err:?}"
    );
}

/// A refresh that fails transiently holds the current token for a short while (5 s by
/// default), but never past the token's expiry: a token with 1.5 s left is served during the
/// hold without another request, and once it has expired the next call refreshes again
/// instead of serving the expired token for the rest of the hold.
#[tokio::test]
async fn the_hold_after_a_transient_failure_ends_when_the_token_expires() {
    let server = MockServer::start().await;
    token_endpoint_answering_once(
        &server,
        ResponseTemplate::new(502),
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "at-2", "token_type": "bearer", "expires_in": 3600
        })),
    )
    .await;
    let auth = builder(&server.uri()).build().unwrap();
    let mut token = valid("expiring", "rt");
    let expires_at = SystemTime::now() + Duration::from_millis(1500);
    token.expires_at = Some(expires_at);
    auth.store_credentials("test", "u", &token).await.unwrap();
    let session = auth.session("u").await.unwrap();
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "expiring"
    );
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "expiring"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1, "held");
    let left = expires_at
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(200)).await;
    assert_eq!(session.token("test").await.unwrap().expose_secret(), "at-2");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// A token without a refresh token that is inside the expiry margin (it expires in 30 s, the
/// margin is 60 s) but has not expired is served as it is: there is nothing to refresh it with,
/// and the token endpoint is never called.
#[tokio::test]
async fn an_expiring_token_without_refresh_token_is_used_while_it_lasts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let auth = builder(&server.uri()).build().unwrap();
    let mut token = OAuth2Token::bearer("short-lived");
    token.expires_at = Some(SystemTime::now() + Duration::from_secs(30));
    auth.store_credentials("test", "u", &token).await.unwrap();
    let session = auth.session("u").await.unwrap();
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "short-lived"
    );
}

/// A refresh that races another grant (a new login whose record was marked
/// NeedsReauthorization meanwhile) keeps its own freshly refreshed credentials: the caller gets
/// `fresh`, and the store holds `fresh`/`rt-new` with status Active, not the rejected grant.
#[tokio::test]
async fn a_refresh_keeps_its_grant_over_another_grant_marked_rejected_meanwhile() {
    let mut other = CredentialRecord::new(
        "test",
        "u",
        Credentials::new(valid("relogin", "rt-relogin")).to_payload(),
    );
    other.status = CredentialStatus::NeedsReauthorization;
    let (token, stored, credentials) = refresh_losing_the_race_to(other).await;
    assert_eq!(token, "fresh");
    assert_eq!(stored_access(&credentials), "fresh");
    assert_eq!(
        credentials
            .token
            .refresh_token
            .as_ref()
            .map(|rt| rt.expose_secret()),
        Some("rt-new")
    );
    assert_eq!(stored.record.status, CredentialStatus::Active);
    assert!(stored.record.lease.is_none(), "the lease is released");
}

/// Records the expiry of every refresh lease put through a [`Gated`] store.
#[derive(Debug, Default)]
struct SeesLeases {
    leases: Mutex<Vec<SystemTime>>,
}

#[async_trait::async_trait]
impl BeforePut for SeesLeases {
    const NAME: &'static str = "sees-leases";

    async fn before_put(&self, record: &CredentialRecord) -> Result<(), auth_core::StoreError> {
        if let Some(lease) = &record.lease {
            self.leases.lock().unwrap().push(lease.expires_at);
        }
        Ok(())
    }
}

/// With a provider whose token requests may take 120 s, the refresh lease written to the store
/// lasts `refresh_lease()` (145 s: the request timeout, the store write budget and the margin),
/// not the shortest lease (30 s): one lease is written, expiring 145 s after the refresh began
/// (up to 160 s on a slow machine).
#[tokio::test]
async fn the_lease_written_outlasts_a_long_token_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "at-2", "token_type": "bearer", "expires_in": 3600
        })))
        .expect(1)
        .mount(&server)
        .await;
    let mut provider = provider(&server.uri());
    provider.settings = provider
        .settings
        .map(|s| s.with_request_timeout(Duration::from_secs(120)));
    let endpoint = Arc::new(auth_core::TokenEndpoint::new(Arc::new(provider)).unwrap());
    let store = Arc::new(Gated::<SeesLeases>::default());
    let payload = Credentials::new(expired("at-1", "rt")).to_payload();
    store
        .put(CredentialRecord::new("test", "u", payload), PutMode::Create)
        .await
        .unwrap();
    let source = auth_core::RefreshingTokenSource::stored(endpoint, "u", store.clone());
    assert_eq!(source.refresh_lease(), Duration::from_secs(145));
    let began = SystemTime::now();
    assert_eq!(
        auth_core::TokenSource::token(&source)
            .await
            .unwrap()
            .expose_secret(),
        "at-2"
    );
    let leases = store.leases.lock().unwrap().clone();
    assert_eq!(leases.len(), 1, "{leases:?}");
    let lasts = leases[0].duration_since(began).unwrap();
    assert!(
        lasts >= Duration::from_secs(144) && lasts <= Duration::from_secs(160),
        "{lasts:?}"
    );
}
