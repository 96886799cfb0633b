//! Sessions: refresh on expiry and on 401, single flight in one process and across processes,
//! invalid_grant and transient failures, overrides and the app-token fallback.
mod common;

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
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "access-1");
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
    for task in tasks {
        assert_eq!(
            task.await.unwrap(),
            "access-1",
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

#[tokio::test]
async fn a_lease_left_by_a_crashed_holder_expires() {
    let (server, calls) = refresh_server(Duration::ZERO).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
    let auth = auth_core::AuthManager::builder()
        .env(auth_core::config::EnvSource::empty())
        .auto_configure(false)
        .provider(provider(&server.uri()))
        .shared_store(store.clone())
        .max_refresh_wait(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut record = CredentialRecord::new(
        "test",
        "u",
        Credentials::new(expired("old", "rt")).to_payload(),
    );
    record.lease = Some(RefreshLease {
        holder: "crashed-process".into(),
        expires_at: SystemTime::now() + Duration::from_millis(300),
    });
    store.put(record, PutMode::Create).await.unwrap();
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
    let auth = auth_core::AuthManager::builder()
        .env(auth_core::config::EnvSource::empty())
        .auto_configure(false)
        .provider(provider(&server.uri()))
        .shared_store(store.clone())
        .max_refresh_wait(Duration::from_millis(200))
        .build()
        .unwrap();
    let mut record = CredentialRecord::new(
        "test",
        "u",
        Credentials::new(expired("old", "rt")).to_payload(),
    );
    record.lease = Some(RefreshLease {
        holder: "busy".into(),
        expires_at: SystemTime::now() + Duration::from_secs(60),
    });
    store.put(record, PutMode::Create).await.unwrap();
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
                operation: "refresh",
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

#[tokio::test]
async fn a_rejected_token_without_refresh_token_is_unauthorized() {
    let auth = builder("http://127.0.0.1:9").build().unwrap();
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
    assert!(!source.invalidate(&token), "nothing can replace it");
    let err = source.token().await.unwrap_err();
    assert!(matches!(err, AuthError::Unauthorized { .. }), "{err:?}");
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
