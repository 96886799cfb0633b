//! Token cells of several instances over one database: one refresh between them, the others
//! woken by its write.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use auth_core::{
    CredentialRecord, CredentialStore, Credentials, OAuth2Token, RefreshingTokenSource,
    TokenEndpoint, TokenSource,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Instances sharing the database, and callers in each.
const INSTANCES: usize = 4;
const CALLERS: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_the_database_refresh_an_expired_token_once() {
    let Some(db) = support::database().await else {
        return;
    };
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({
                    "access_token": "at-2", "token_type": "bearer", "expires_in": 3600
                }))
                .set_delay(Duration::from_millis(500)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let provider = support::Provider(support::settings(&server));
    let endpoint = Arc::new(TokenEndpoint::new(Arc::new(provider)).unwrap());
    let mut token = OAuth2Token::bearer("at-1");
    token.refresh_token = Some("rt-1".into());
    token.expires_at = Some(SystemTime::now() - Duration::from_secs(60));

    let mut sources = Vec::new();
    for _ in 0..INSTANCES {
        let store: Arc<dyn CredentialStore> = Arc::new(support::open(&db).await);
        sources.push(RefreshingTokenSource::stored(
            endpoint.clone(),
            "user-1",
            store,
        ));
    }
    let first = support::open(&db).await;
    first
        .put(
            CredentialRecord::new("example", "user-1", Credentials::new(token).to_payload()),
            auth_core::PutMode::Create,
        )
        .await
        .unwrap();

    let started = Instant::now();
    let calls = sources
        .iter()
        .flat_map(|source| (0..CALLERS).map(move |_| source.token()));
    for token in futures::future::join_all(calls).await {
        assert_eq!(token.unwrap().expose_secret(), "at-2");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the waiting instances were not woken: {:?}",
        started.elapsed()
    );
    let stored = first.get("example", "user-1").await.unwrap().unwrap();
    assert_eq!(stored.record.lease, None);
    assert_eq!(stored.version, 3, "created, leased, refreshed");
    server.verify().await;
}
