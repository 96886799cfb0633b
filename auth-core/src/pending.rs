//! Pending authorizations: the OAuth `state` of each consent page sent out, with its PKCE
//! verifier, redirect URI, requested scopes and the subject it is bound to, single use and with a
//! time to live, behind the [`PendingStateStore`] trait.
//!
//! [`MemoryPendingStates`] keeps them in this process (the default). A callback that may land on
//! another process or instance needs them in a store every instance shares:
//! [`StoredPendingStates`] keeps them in any [`CredentialStore`], under the reserved provider id
//! [`PENDING_STATES_PROVIDER`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{AuthError, StoreError};
use crate::secret::SecretString;
use crate::store::{CredentialRecord, CredentialStore, Payload, PutMode, Version};

/// How many authorizations [`MemoryPendingStates::new`] keeps at most (used ones included, until
/// they expire or room is needed).
pub const MAX_PENDING_STATES: usize = 10_000;

/// What is remembered about an authorization until its callback: checked and consumed by the
/// code exchange.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PendingState {
    /// The provider the consent page belongs to.
    pub provider: String,
    /// The PKCE verifier, when a challenge was sent.
    pub verifier: Option<SecretString>,
    /// The redirect URI sent with the authorization request (the exchange must repeat it).
    pub redirect_uri: Option<Url>,
    /// The scopes requested: granted when the token response does not name any (RFC 6749 §5.1).
    pub scopes: Vec<String>,
    /// The subject the authorization was started for, if it was bound to one: the exchange
    /// refuses any other. `None` for states issued without one, and for those stored before
    /// states were bound.
    pub subject: Option<String>,
}

impl PendingState {
    /// A pending authorization for `provider`.
    pub fn new(
        provider: impl Into<String>,
        verifier: Option<SecretString>,
        redirect_uri: Option<Url>,
        scopes: Vec<String>,
    ) -> Self {
        Self {
            provider: provider.into(),
            verifier,
            redirect_uri,
            scopes,
            subject: None,
        }
    }

    /// The same pending authorization, bound to `subject`.
    ///
    /// ```
    /// use auth_core::pending::PendingState;
    ///
    /// let pending = PendingState::new("acme", None, None, vec![]).with_subject("user-123");
    /// assert_eq!(pending.subject.as_deref(), Some("user-123"));
    /// ```
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
}

/// Where pending authorizations are kept between the consent page and its callback.
///
/// An implementation must make each state single use, even across processes: of two concurrent
/// [`PendingStateStore::take`]s of one state, one fails with [`AuthError::StateReused`].
#[async_trait]
pub trait PendingStateStore: Send + Sync + fmt::Debug {
    /// Remembers `pending` under `state`. Fails with [`AuthError::StateAlreadyPending`] when
    /// `state` is pending already.
    async fn insert(&self, state: &str, pending: PendingState) -> Result<(), AuthError>;

    /// Consumes `state` for `provider`. An unknown, expired, reused or other-provider state fails
    /// with [`AuthError::UnknownState`], [`AuthError::StateExpired`], [`AuthError::StateReused`] or
    /// [`AuthError::StateProviderMismatch`]; a state that fails so is consumed all the same.
    async fn take(&self, provider: &str, state: &str) -> Result<PendingState, AuthError>;

    /// Puts back `pending`, which [`PendingStateStore::take`] gave for `state`, after a code
    /// exchange the token endpoint did not answer, or answered with a transient failure
    /// ([`AuthError::Transient`]): the code may not have been spent, and the same callback may be
    /// retried. The state keeps its issue time, so its time to live still counts from the
    /// authorization. `Ok(true)` when it is pending again; an expired state, or one no longer
    /// taken, fails.
    ///
    /// The default puts nothing back and answers `Ok(false)`: the exchange then fails with
    /// [`AuthError::ExchangeNotRetryable`], which tells the caller to start again.
    async fn restore(&self, state: &str, pending: PendingState) -> Result<bool, AuthError> {
        let _ = (state, pending);
        Ok(false)
    }
}

/// The error for a state that is pending already.
fn already_pending(provider: &str) -> AuthError {
    AuthError::StateAlreadyPending {
        provider: provider.to_string(),
    }
}

struct Entry {
    pending: PendingState,
    issued: Instant,
    used: bool,
}

/// Pending authorizations in this process's memory, single use, with a time to live. Used states
/// are kept as tombstones until they expire so that a replay is reported as such.
///
/// They are bounded: once the limit is reached, a new state first makes room by dropping the
/// expired ones, then the tombstones (a replay of one is then [`AuthError::UnknownState`], refused
/// all the same); when every entry is a live pending authorization, it fails with
/// [`AuthError::TooManyPendingStates`].
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// use auth_core::pending::{PendingState, PendingStateStore};
/// use auth_core::{AuthError, MemoryPendingStates};
///
/// let states = MemoryPendingStates::with_limit(Duration::from_secs(600), 1);
/// let pending = || PendingState::new("acme", None, None, vec![]);
/// states.insert("state-1", pending()).await.unwrap();
/// let full = states.insert("state-2", pending()).await.unwrap_err();
/// assert!(matches!(full, AuthError::TooManyPendingStates { limit: 1, .. }));
/// states.take("acme", "state-1").await.unwrap();
/// states.insert("state-2", pending()).await.unwrap();
/// # });
/// ```
pub struct MemoryPendingStates {
    ttl: Duration,
    limit: usize,
    map: Mutex<HashMap<String, Entry>>,
}

impl fmt::Debug for MemoryPendingStates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryPendingStates")
            .field("ttl", &self.ttl)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl MemoryPendingStates {
    /// States valid for `ttl` after they were issued, [`MAX_PENDING_STATES`] at most.
    pub fn new(ttl: Duration) -> Self {
        Self::with_limit(ttl, MAX_PENDING_STATES)
    }

    /// States valid for `ttl` after they were issued, `limit` at most.
    pub fn with_limit(ttl: Duration, limit: usize) -> Self {
        Self {
            ttl,
            limit,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl PendingStateStore for MemoryPendingStates {
    async fn insert(&self, state: &str, pending: PendingState) -> Result<(), AuthError> {
        let mut map = self.lock();
        if map.len() >= self.limit {
            let ttl = self.ttl;
            map.retain(|_, p| p.issued.elapsed() < ttl);
        }
        if map.len() >= self.limit {
            map.retain(|_, p| !p.used);
        }
        if map.contains_key(state) {
            return Err(already_pending(&pending.provider));
        }
        if map.len() >= self.limit {
            return Err(AuthError::TooManyPendingStates {
                provider: pending.provider,
                limit: self.limit,
            });
        }
        map.insert(
            state.to_string(),
            Entry {
                pending,
                issued: Instant::now(),
                used: false,
            },
        );
        Ok(())
    }

    async fn take(&self, provider: &str, state: &str) -> Result<PendingState, AuthError> {
        let mut map = self.lock();
        let Some(entry) = map.get_mut(state) else {
            return Err(AuthError::UnknownState {
                provider: provider.to_string(),
            });
        };
        if entry.issued.elapsed() >= self.ttl {
            map.remove(state);
            return Err(AuthError::StateExpired {
                provider: provider.to_string(),
                ttl: self.ttl,
            });
        }
        if entry.used {
            return Err(AuthError::StateReused {
                provider: provider.to_string(),
            });
        }
        entry.used = true;
        if entry.pending.provider != provider {
            return Err(AuthError::StateProviderMismatch {
                provider: provider.to_string(),
                issued_for: entry.pending.provider.clone(),
            });
        }
        // The tombstone keeps no secret.
        Ok(PendingState {
            verifier: entry.pending.verifier.take(),
            ..entry.pending.clone()
        })
    }

    async fn restore(&self, state: &str, pending: PendingState) -> Result<bool, AuthError> {
        let mut map = self.lock();
        let provider = pending.provider.clone();
        let expired = map
            .get(state)
            .is_some_and(|entry| entry.issued.elapsed() >= self.ttl);
        if expired {
            map.remove(state);
            return Err(AuthError::StateExpired {
                provider,
                ttl: self.ttl,
            });
        }
        match map.get_mut(state) {
            Some(entry) if entry.used && entry.pending.provider == provider => {
                entry.pending = pending;
                entry.used = false;
                Ok(true)
            }
            _ => Err(AuthError::UnknownState { provider }),
        }
    }
}

/// The provider id under which [`StoredPendingStates`] keeps pending authorizations. Listings of
/// credentials skip it.
pub const PENDING_STATES_PROVIDER: &str = "_oauth_state";

/// Pending authorizations in a [`CredentialStore`] that every instance shares, so that the
/// callback of a consent page may land on any of them.
///
/// Each state is a record under [`PENDING_STATES_PROVIDER`] whose subject is the SHA-256 of the
/// state (the state itself is not a key); its payload holds the provider, the PKCE verifier, the
/// redirect URI, the requested scopes, the subject the state is bound to (records written before
/// states were bound have none, and are read as bound to no subject) and the issue time. Taking
/// a state rewrites its record as used, without the verifier, with a conditional put: of two
/// processes taking the same state, one wins and the other gets [`AuthError::StateReused`];
/// [`PendingStateStore::restore`] writes it back as it was, conditionally too. Records are deleted once expired: at a
/// take, and by a sweep at most once per time to live when states are inserted.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use auth_core::pending::{PendingState, PendingStateStore, StoredPendingStates};
/// use auth_core::{AuthError, MemoryCredentialStore};
///
/// let shared = Arc::new(MemoryCredentialStore::new());
/// let here = StoredPendingStates::new(shared.clone(), Duration::from_secs(600));
/// let there = StoredPendingStates::new(shared, Duration::from_secs(600));
/// here.insert("state-1", PendingState::new("acme", None, None, vec!["read".into()])).await.unwrap();
/// assert_eq!(there.take("acme", "state-1").await.unwrap().scopes, ["read"]);
/// assert!(matches!(here.take("acme", "state-1").await, Err(AuthError::StateReused { .. })));
/// # });
/// ```
pub struct StoredPendingStates {
    store: Arc<dyn CredentialStore>,
    ttl: Duration,
    last_sweep: Mutex<Option<Instant>>,
}

impl fmt::Debug for StoredPendingStates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredPendingStates")
            .field("store", &self.store.describe())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A pending state as stored.
#[derive(Serialize, Deserialize)]
struct StoredState {
    provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    redirect_uri: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    /// Absent from records written before states were bound to a subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    /// Unix milliseconds.
    issued_at: u64,
    #[serde(default)]
    used: bool,
}

impl StoredPendingStates {
    /// States kept in `store`, valid for `ttl` after they were issued.
    pub fn new(store: Arc<dyn CredentialStore>, ttl: Duration) -> Self {
        Self {
            store,
            ttl,
            last_sweep: Mutex::new(None),
        }
    }

    fn key(state: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(state.as_bytes()))
    }

    fn encode(stored: &StoredState) -> Payload {
        // A struct of strings, numbers and a URL always serializes.
        Payload::new(serde_json::to_vec(stored).unwrap_or_default())
    }

    /// `pending` as stored, not used yet, issued at `issued_at`.
    fn stored(pending: PendingState, issued_at: u64) -> StoredState {
        StoredState {
            provider: pending.provider,
            verifier: pending.verifier.map(|v| v.expose_secret().to_string()),
            redirect_uri: pending.redirect_uri.map(String::from),
            scopes: pending.scopes,
            subject: pending.subject,
            issued_at,
            used: false,
        }
    }

    /// The state under `key`, not expired, with its record's version: [`AuthError::UnknownState`]
    /// when there is none (or it cannot be read), [`AuthError::StateExpired`] when it expired (its
    /// record is then deleted).
    async fn unexpired(
        &self,
        provider: &str,
        key: &str,
    ) -> Result<(StoredState, Version), AuthError> {
        let unknown = || AuthError::UnknownState {
            provider: provider.to_string(),
        };
        let Some(found) = self.store.get(PENDING_STATES_PROVIDER, key).await? else {
            return Err(unknown());
        };
        let Ok(stored) = serde_json::from_slice::<StoredState>(found.record.payload.expose_bytes())
        else {
            return Err(unknown());
        };
        if self.expired(&stored, unix_now()) {
            self.store.delete(PENDING_STATES_PROVIDER, key).await?;
            return Err(AuthError::StateExpired {
                provider: provider.to_string(),
                ttl: self.ttl,
            });
        }
        Ok((stored, found.version))
    }

    fn expired(&self, stored: &StoredState, now: u64) -> bool {
        u128::from(now.saturating_sub(stored.issued_at)) >= self.ttl.as_millis()
    }

    /// Deletes expired records, at most once per time to live.
    async fn sweep(&self) {
        {
            let mut last = self.last_sweep.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| at.elapsed() < self.ttl) {
                return;
            }
            *last = Some(Instant::now());
        }
        let Ok(records) = self.store.list(Some(PENDING_STATES_PROVIDER)).await else {
            return;
        };
        let now = unix_now();
        for record in records {
            let expired =
                serde_json::from_slice::<StoredState>(record.record.payload.expose_bytes())
                    .map_or(true, |stored| self.expired(&stored, now));
            if expired {
                let _ = self
                    .store
                    .delete(PENDING_STATES_PROVIDER, &record.record.subject)
                    .await;
            }
        }
    }
}

/// Milliseconds since the Unix epoch.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[async_trait]
impl PendingStateStore for StoredPendingStates {
    async fn insert(&self, state: &str, pending: PendingState) -> Result<(), AuthError> {
        self.sweep().await;
        let provider = pending.provider.clone();
        let stored = Self::stored(pending, unix_now());
        let record = CredentialRecord::new(
            PENDING_STATES_PROVIDER,
            Self::key(state),
            Self::encode(&stored),
        );
        match self.store.put(record, PutMode::Create).await {
            Ok(_) => Ok(()),
            Err(StoreError::AlreadyExists { .. }) => Err(already_pending(&provider)),
            Err(e) => Err(e.into()),
        }
    }

    async fn take(&self, provider: &str, state: &str) -> Result<PendingState, AuthError> {
        let key = Self::key(state);
        let (mut stored, version) = self.unexpired(provider, &key).await?;
        let reused = || AuthError::StateReused {
            provider: provider.to_string(),
        };
        if stored.used {
            return Err(reused());
        }
        let verifier = stored.verifier.take().map(SecretString::from);
        stored.used = true;
        let tombstone = CredentialRecord::new(PENDING_STATES_PROVIDER, key, Self::encode(&stored));
        match self.store.put(tombstone, PutMode::Update(version)).await {
            Ok(_) => {}
            Err(StoreError::VersionMismatch { .. }) => return Err(reused()),
            Err(e) => return Err(e.into()),
        }
        if stored.provider != provider {
            return Err(AuthError::StateProviderMismatch {
                provider: provider.to_string(),
                issued_for: stored.provider,
            });
        }
        Ok(PendingState {
            provider: stored.provider,
            verifier,
            redirect_uri: stored.redirect_uri.and_then(|uri| Url::parse(&uri).ok()),
            scopes: stored.scopes,
            subject: stored.subject,
        })
    }

    async fn restore(&self, state: &str, pending: PendingState) -> Result<bool, AuthError> {
        let key = Self::key(state);
        let provider = pending.provider.clone();
        let (taken, version) = self.unexpired(&provider, &key).await?;
        if !taken.used || taken.provider != provider {
            return Err(AuthError::UnknownState { provider });
        }
        let record = CredentialRecord::new(
            PENDING_STATES_PROVIDER,
            key,
            Self::encode(&Self::stored(pending, taken.issued_at)),
        );
        self.store.put(record, PutMode::Update(version)).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryCredentialStore;

    /// Short enough that `Instant::now() - TTL` is after the clock's start on a machine up for a
    /// minute, long enough that no state expires while a test runs.
    const TTL: Duration = Duration::from_secs(60);

    /// The JSON payload stored for `state`.
    async fn stored_payload(store: &MemoryCredentialStore, state: &str) -> serde_json::Value {
        let record = store
            .get(PENDING_STATES_PROVIDER, &StoredPendingStates::key(state))
            .await
            .unwrap()
            .unwrap();
        serde_json::from_slice(record.record.payload.expose_bytes()).unwrap()
    }

    #[tokio::test]
    async fn a_stored_state_keeps_the_subject_it_is_bound_to() {
        let store = Arc::new(MemoryCredentialStore::new());
        let states = StoredPendingStates::new(store.clone(), TTL);
        states
            .insert(
                "state-1",
                PendingState::new("acme", None, None, vec![]).with_subject("user-123"),
            )
            .await
            .unwrap();
        assert_eq!(
            stored_payload(&store, "state-1").await["subject"],
            "user-123"
        );
        let taken = states.take("acme", "state-1").await.unwrap();
        assert_eq!(taken.subject.as_deref(), Some("user-123"));
    }

    /// Records written before states were bound to a subject have no `subject` field: they are
    /// still read, as bound to no subject.
    #[tokio::test]
    async fn a_stored_state_of_the_previous_format_is_read_as_bound_to_no_subject() {
        let store = Arc::new(MemoryCredentialStore::new());
        let previous = serde_json::json!({
            "provider": "acme",
            "verifier": "verifier-1",
            "redirect_uri": "http://127.0.0.1:9999/callback",
            "scopes": ["read"],
            "issued_at": unix_now(),
        });
        store
            .put(
                CredentialRecord::new(
                    PENDING_STATES_PROVIDER,
                    StoredPendingStates::key("state-1"),
                    Payload::new(serde_json::to_vec(&previous).unwrap()),
                ),
                PutMode::Create,
            )
            .await
            .unwrap();
        let taken = StoredPendingStates::new(store, TTL)
            .take("acme", "state-1")
            .await
            .unwrap();
        assert_eq!(taken.subject, None);
        assert_eq!(taken.scopes, ["read"]);
        assert_eq!(taken.verifier.unwrap().expose_secret(), "verifier-1");
        assert_eq!(
            taken.redirect_uri.unwrap().as_str(),
            "http://127.0.0.1:9999/callback"
        );
    }

    #[tokio::test]
    async fn a_state_in_memory_keeps_the_subject_it_is_bound_to() {
        let states = MemoryPendingStates::new(TTL);
        states
            .insert(
                "state-1",
                PendingState::new("acme", None, None, vec![]).with_subject("user-123"),
            )
            .await
            .unwrap();
        let taken = states.take("acme", "state-1").await.unwrap();
        assert_eq!(taken.subject.as_deref(), Some("user-123"));
    }

    #[tokio::test]
    async fn a_state_in_memory_is_put_back_only_while_taken_and_not_expired() {
        let states = MemoryPendingStates::new(TTL);
        let pending = || PendingState::new("acme", Some("verifier-1".into()), None, vec![]);
        states.insert("state-1", pending()).await.unwrap();
        assert!(matches!(
            states.restore("state-1", pending()).await,
            Err(AuthError::UnknownState { .. })
        ));
        let taken = states.take("acme", "state-1").await.unwrap();
        assert!(states.restore("state-1", taken).await.unwrap());
        let again = states.take("acme", "state-1").await.unwrap();
        assert_eq!(again.verifier.unwrap().expose_secret(), "verifier-1");

        states.insert("state-2", pending()).await.unwrap();
        let taken = states.take("acme", "state-2").await.unwrap();
        states.lock().get_mut("state-2").unwrap().issued = Instant::now() - TTL;
        assert!(matches!(
            states.restore("state-2", taken).await,
            Err(AuthError::StateExpired { .. })
        ));
        assert!(!states.lock().contains_key("state-2"));
    }

    #[tokio::test]
    async fn a_stored_state_is_put_back_with_its_issue_time_unless_expired() {
        let store = Arc::new(MemoryCredentialStore::new());
        let states = StoredPendingStates::new(store.clone(), TTL);
        let payload = || stored_payload(&store, "state-1");
        states
            .insert(
                "state-1",
                PendingState::new("acme", Some("verifier-1".into()), None, vec![]),
            )
            .await
            .unwrap();
        let issued = payload().await;
        let taken = states.take("acme", "state-1").await.unwrap();
        assert!(states.restore("state-1", taken).await.unwrap());
        assert_eq!(payload().await, issued);

        let taken = states.take("acme", "state-1").await.unwrap();
        let expired = StoredState {
            issued_at: unix_now() - u64::try_from(TTL.as_millis()).unwrap(),
            used: true,
            ..serde_json::from_value(payload().await).unwrap()
        };
        let found = store
            .get(
                PENDING_STATES_PROVIDER,
                &StoredPendingStates::key("state-1"),
            )
            .await
            .unwrap()
            .unwrap();
        store
            .put(
                CredentialRecord::new(
                    PENDING_STATES_PROVIDER,
                    StoredPendingStates::key("state-1"),
                    StoredPendingStates::encode(&expired),
                ),
                PutMode::Update(found.version),
            )
            .await
            .unwrap();
        assert!(matches!(
            states.restore("state-1", taken).await,
            Err(AuthError::StateExpired { .. })
        ));
        assert!(store.list(None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn memory_states_are_bounded_and_make_room_from_expired_then_used_ones() {
        let states = MemoryPendingStates::with_limit(TTL, 3);
        let pending = || PendingState::new("acme", None, None, vec![]);
        for state in ["s1", "s2", "s3"] {
            states.insert(state, pending()).await.unwrap();
        }
        let full = states.insert("s4", pending()).await.unwrap_err();
        assert!(
            matches!(&full, AuthError::TooManyPendingStates { provider, limit: 3 } if provider == "acme"),
            "{full:?}"
        );
        assert!(full.is_transient());
        let mut kept: Vec<String> = states.lock().keys().cloned().collect();
        kept.sort();
        assert_eq!(kept, ["s1", "s2", "s3"]);

        states.lock().get_mut("s1").unwrap().issued = Instant::now() - TTL;
        states.insert("s4", pending()).await.unwrap();
        assert!(!states.lock().contains_key("s1"));

        states.take("acme", "s2").await.unwrap();
        states.insert("s5", pending()).await.unwrap();
        assert!(matches!(
            states.take("acme", "s2").await,
            Err(AuthError::UnknownState { .. })
        ));
        let mut kept: Vec<String> = states.lock().keys().cloned().collect();
        kept.sort();
        assert_eq!(kept, ["s3", "s4", "s5"]);
    }

    /// A state taken for another provider than the one it was issued for fails with
    /// `StateProviderMismatch` naming both, and is consumed all the same: the provider it was
    /// issued for then gets `StateReused`, so a state leaked to a wrong callback cannot be
    /// completed afterwards.
    #[tokio::test]
    async fn a_state_taken_for_another_provider_is_spent() {
        let states = MemoryPendingStates::new(TTL);
        states
            .insert("s-1", PendingState::new("acme", None, None, vec![]))
            .await
            .unwrap();
        let err = states.take("other", "s-1").await.unwrap_err();
        assert!(
            matches!(&err, AuthError::StateProviderMismatch { provider, issued_for }
                if provider == "other" && issued_for == "acme"),
            "{err:?}"
        );
        let err = states.take("acme", "s-1").await.unwrap_err();
        assert!(
            matches!(&err, AuthError::StateReused { provider } if provider == "acme"),
            "{err:?}"
        );
    }
}
