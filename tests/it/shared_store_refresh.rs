//! Two AuthManagers, each with its own handle on one SQLite file (standing for two processes),
//! race to refresh an expired token: exactly one token request, whose result both use. The same
//! over the file store.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use integrations::{AuthManager, CredentialStore, EnvSource, OAuth2Token, SqliteCredentialStore};
use provider_asana_testkit::MockAsana;
use store_file::FileCredentialStore;

fn manager(mock: &MockAsana, store: impl CredentialStore + 'static) -> AuthManager {
    AuthManager::builder()
        .env(EnvSource::empty())
        .store(store)
        .configure("asana", mock.app_config())
        .build()
        .unwrap()
}

async fn race(a: AuthManager, b: AuthManager, mock: &MockAsana) {
    let tokens = mock.issue_tokens("default");
    let mut expired = OAuth2Token::bearer(tokens.access_token.clone());
    expired.refresh_token = Some(tokens.refresh_token.clone().into());
    expired.expires_at = Some(SystemTime::now() - Duration::from_secs(5));
    a.store_credentials("asana", "alice", &expired)
        .await
        .unwrap();
    let before = mock.token_requests_for("refresh_token");

    let sessions = [
        Arc::new(a.session("alice").await.unwrap()),
        Arc::new(b.session("alice").await.unwrap()),
    ];
    let distinct = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (session, distinct, done) =
                (sessions[i % 2].clone(), distinct.clone(), done.clone());
            tokio::spawn(async move {
                let token = session.token("asana").await.unwrap();
                distinct
                    .lock()
                    .unwrap()
                    .insert(token.expose_secret().to_string());
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 200);
    assert_eq!(
        mock.token_requests_for("refresh_token") - before,
        1,
        "exactly one refresh across both managers"
    );
    let distinct = distinct.lock().unwrap().clone();
    assert_eq!(
        distinct.len(),
        1,
        "both managers use the one refreshed token"
    );
    assert!(
        !distinct.contains(&tokens.access_token),
        "the expired token is never handed out"
    );
    let stored: OAuth2Token = b.load_credentials("asana", "alice").await.unwrap().unwrap();
    assert_eq!(
        distinct.iter().next().unwrap(),
        stored.access_token.expose_secret()
    );
    assert_eq!(
        stored.refresh_token.unwrap().expose_secret(),
        tokens.refresh_token,
        "the refresh token is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sqlite_handles_refresh_once() {
    let mock = MockAsana::builder()
        .latency(Duration::from_millis(50))
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let open = || SqliteCredentialStore::builder(&path).unencrypted().open();
    let (a, b) = (
        manager(&mock, open().await.unwrap()),
        manager(&mock, open().await.unwrap()),
    );
    race(a, b, &mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_file_store_handles_refresh_once() {
    let mock = MockAsana::builder()
        .latency(Duration::from_millis(50))
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.json");
    let open = || FileCredentialStore::builder(&path).unencrypted().open();
    let (a, b) = (
        manager(&mock, open().await.unwrap()),
        manager(&mock, open().await.unwrap()),
    );
    race(a, b, &mock).await;
}
