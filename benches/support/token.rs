//! Figure 1, the token hot path: a session handing out a valid cached token, against reading an
//! `Arc<str>` behind an `RwLock` (the floor).

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll, Waker};

use integrations::{AuthError, MemoryCredentialStore, SecretString, Session, TokenSource};

use super::{PROVIDER, SUBJECT, VALID_ACCESS_TOKEN, manager, valid_token};

/// A session over a valid stored token, the token source a client would hold, and the floor.
pub struct HotPath {
    session: Session,
    source: Arc<dyn TokenSource>,
    floor: RwLock<Arc<str>>,
    /// For [`HotPath::floor_with_clock`]: an hour from the start, on the clock the session reads.
    fresh_until: coarsetime::Instant,
}

impl HotPath {
    /// Stores a token valid for an hour in a memory store and opens a session on it.
    pub async fn new(server_url: &str) -> HotPath {
        let auth = manager(server_url, MemoryCredentialStore::new());
        auth.store_credentials(PROVIDER, SUBJECT, &valid_token())
            .await
            .expect("store the valid token");
        let session = auth.session(SUBJECT).await.expect("open the session");
        let source = session
            .token_source(PROVIDER)
            .expect("the session has an Asana token source");
        let hot = HotPath {
            session,
            source,
            floor: RwLock::new(Arc::from(VALID_ACCESS_TOKEN)),
            fresh_until: coarsetime::Instant::now() + coarsetime::Duration::from_secs(3600),
        };
        assert_eq!(hot.session_token().expose_secret(), VALID_ACCESS_TOKEN);
        assert_eq!(hot.source_token().expose_secret(), VALID_ACCESS_TOKEN);
        assert_eq!(&*hot.floor(), VALID_ACCESS_TOKEN);
        hot
    }

    /// Ours: `session.token("asana")`, which completes on its first poll when the token is cached.
    #[inline]
    pub fn session_token(&self) -> SecretString {
        first_poll(self.session.token(PROVIDER))
    }

    /// What a client does before each request: `current_token()` on the session's
    /// `Arc<dyn TokenSource>` (its cached token, or `token()`, an `async_trait` method that boxes a
    /// future per call, when none can be handed out at once).
    #[inline]
    pub fn source_token(&self) -> SecretString {
        first_poll(self.source.current_token())
    }

    /// The floor: clone an `Arc<str>` out of an `RwLock`.
    #[inline]
    pub fn floor(&self) -> Arc<str> {
        self.floor
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The floor plus the one thing a cache of an expiring token cannot skip: reading a monotonic
    /// clock (the coarse one the session reads) to compare it with the refresh deadline.
    #[inline]
    pub fn floor_with_clock(&self) -> Option<Arc<str>> {
        let token = self.floor.read().unwrap_or_else(PoisonError::into_inner);
        (coarsetime::Instant::now() < self.fresh_until).then(|| token.clone())
    }
}

/// Polls `future` once, as an `.await` in an async caller would, and takes the token out of
/// `Ready(Ok(..))`.
#[inline]
fn first_poll(future: impl Future<Output = Result<SecretString, AuthError>>) -> SecretString {
    let future = pin!(future);
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(token)) => token,
        Poll::Ready(Err(e)) => panic!("the cached token: {e}"),
        Poll::Pending => panic!("a cached token is ready on the first poll"),
    }
}
