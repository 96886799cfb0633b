//! Rotating refresh tokens (GitHub's, Microsoft's) are never spent twice: many concurrent callers
//! in one process cause exactly one refresh.

use std::sync::Arc;

use futures::future::join_all;

use crate::builtins::{github_fake, microsoft_fake};
use crate::fakes::{Rotation, SUBJECT, expire, log_in, stored_refresh_token};

async fn one_refresh_for_many_callers(
    provider: &str,
    fake: crate::fakes::Fake,
    rotation: Arc<Rotation>,
    code: &str,
) {
    let auth = fake.manager();
    log_in(&auth, provider, code).await;
    expire(&auth, provider).await;
    let sessions = join_all((0..20).map(|_| auth.session(SUBJECT))).await;
    let tokens = join_all(sessions.iter().map(|s| {
        let session = s.as_ref().unwrap().clone();
        let provider = provider.to_string();
        async move { session.token(&provider).await }
    }))
    .await;
    for token in tokens {
        assert_eq!(token.unwrap().expose_secret(), "at-2", "{provider}");
    }
    assert_eq!(rotation.refreshes(), 1, "{provider}");
    assert_eq!(
        fake.hits("/token").await,
        2,
        "{provider}: one exchange, one refresh"
    );
    assert_eq!(stored_refresh_token(&auth, provider).await, "rt-2");
}

#[tokio::test]
async fn github_refreshes_once_for_twenty_concurrent_callers() {
    let rotation = Arc::new(Rotation::new());
    let fake = github_fake(rotation.clone()).await;
    one_refresh_for_many_callers("github", fake, rotation, "gh-code").await;
}

#[tokio::test]
async fn microsoft_refreshes_once_for_twenty_concurrent_callers() {
    let rotation = Arc::new(Rotation::new());
    let fake = microsoft_fake(rotation.clone()).await;
    one_refresh_for_many_callers("microsoft", fake, rotation, "ms-code").await;
}
