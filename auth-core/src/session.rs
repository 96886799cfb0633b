//! Sessions: per-subject handles that always yield a valid access token.
//!
//! Each (provider, subject) has one token cell per process, shared by every session. A cell hands
//! out its cached token while it is fresh (a read lock and an atomic increment). When the token is
//! within the provider's expiry margin, or a caller reported it rejected with
//! [`TokenSource::invalidate`], exactly one task refreshes it while the others wait:
//!
//! 1. re-read the store: another process may already have refreshed (adopt its token);
//! 2. take a short *refresh lease* on the record with a conditional put; if another process holds an
//!    unexpired lease, wait and re-read (a lease left by a crashed holder expires);
//! 3. call the token endpoint, then write the new credentials with a conditional put on the leased
//!    version (clearing the lease). A store that is busy is retried for [`STORE_WRITE_BUDGET`];
//!    if the write still fails, the call fails with [`AuthError::RefreshNotSaved`] and the cell
//!    keeps the new credentials, writing them at its next call. A writer that finds the record
//!    changed compares: if the record still holds the credentials it refreshed from (perhaps
//!    marked as rejected by a process that spent the same refresh token after it), or a grant
//!    that expires earlier, its own are the newer grant and are written; otherwise it adopts the
//!    record's;
//! 4. on `invalid_grant`, re-read once more (another process may have rotated the grant), then mark
//!    the record as needing re-authorization, without deleting it; on a transient failure (5xx,
//!    timeout, connection) release the lease and leave the credentials untouched. A refresh that
//!    fails in any other way, panics, or is dropped by its caller releases its lease too.
//!
//! The lease lasts longer than the token request may take plus the store write budget (see
//! [`LEASE_MARGIN`]), so no other process takes over, and spends the same refresh token, while the
//! holder may still be waiting for the endpoint or writing its answer.
//!
//! # The window in which a rotated refresh token can be lost
//!
//! Providers that rotate refresh tokens invalidate the old one when they answer a refresh. From
//! that answer until the conditional put has stored the new credentials, the only copy of the new
//! refresh token is in this process's memory. If the process dies in that window (usually
//! milliseconds; up to [`STORE_WRITE_BUDGET`] while the store is busy), the store still holds the
//! spent token: once the dead holder's lease expires, the next refresh is refused with
//! `invalid_grant` and the user must connect again. No client can close the window alone (it cannot
//! store a token before the provider has issued it); it stays as short as a store write.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::error::{AuthError, StoreError};
use crate::manager::{AuthManager, ProviderEntry};
use crate::oauth2::refresh_request;
use crate::provider::AuthProvider;
use crate::secret::SecretString;
use crate::store::{
    CredentialRecord, CredentialStatus, CredentialStore, PutMode, RefreshLease, StoredCredential,
    Version,
};
use crate::token::{Credentials, MAX_TOKEN_LIFETIME, UserCredentials};
use crate::token_source::{CredentialSource, TokenSource};

/// Called with (provider, subject, new credentials) after every successful refresh, so that
/// credentials held outside the store (session overrides, standalone connectors) can be persisted.
pub type RefreshCallback = Arc<dyn Fn(&str, &str, &Credentials) + Send + Sync>;

/// How long writing refreshed credentials is retried while the store reports a busy lock or an
/// I/O error (the default; see `AuthManagerBuilder::store_write_budget`). No attempt starts later.
pub const STORE_WRITE_BUDGET: Duration = Duration::from_secs(10);

/// What a refresh lease lasts beyond the token request's timeout and the store write budget: the
/// wait of the lease's own write and of the last write attempt for the store's lock (5 s each by
/// default for the SQLite and file stores), and clock differences between the processes that
/// share the store.
pub const LEASE_MARGIN: Duration = Duration::from_secs(15);

/// Timings of the cross-process refresh protocol.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefreshPolicy {
    /// The shortest lease; [`RefreshPolicy::lease_for`] lengthens it as the request needs.
    pub(crate) lease_ttl: Duration,
    /// How long a caller waits for another process's lease to clear.
    pub(crate) max_wait: Duration,
    pub(crate) poll_interval: Duration,
    /// After a transient refresh failure while the old token is still valid, wait this long
    /// before trying again.
    pub(crate) retry_after_transient: Duration,
    /// How long writing refreshed credentials is retried.
    pub(crate) store_write_budget: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            lease_ttl: Duration::from_secs(30),
            // Longer than the default lease (55 s), so that a waiter outlasts a crashed holder's.
            max_wait: Duration::from_secs(60),
            poll_interval: Duration::from_millis(25),
            retry_after_transient: Duration::from_secs(5),
            store_write_budget: STORE_WRITE_BUDGET,
        }
    }
}

impl RefreshPolicy {
    /// The lease a refresh takes when its token request may last `request_timeout`: it outlasts
    /// the request, the store write budget and [`LEASE_MARGIN`], and is never shorter than
    /// `lease_ttl` (nor longer than a year, so that adding it to a clock cannot overflow).
    pub(crate) fn lease_for(&self, request_timeout: Duration) -> Duration {
        request_timeout
            .saturating_add(self.store_write_budget)
            .saturating_add(LEASE_MARGIN)
            .max(self.lease_ttl)
            .min(MAX_TOKEN_LIFETIME)
    }
}

#[derive(Default)]
struct Cache {
    token: Option<SecretString>,
    /// `None` with a token: never stale (no known expiry).
    /// On the coarse monotonic clock: reading it costs a few nanoseconds where `Instant::now()`
    /// costs tens, and its millisecond granularity is nothing against an expiry margin of
    /// seconds. This check runs on every API call.
    refresh_at: Option<coarsetime::Instant>,
    /// The last token a caller reported as rejected.
    rejected: Option<SecretString>,
    can_refresh: bool,
    /// Refreshed credentials the store did not take yet: while they are here, every call goes
    /// through the slow path, which writes them first.
    unsaved: Option<Box<Unsaved>>,
}

/// Refreshed credentials that are not in the store yet: being written, or kept after the write
/// failed (or was dropped by its caller) for the next call to write.
#[derive(Clone)]
struct Unsaved {
    credentials: Credentials,
    /// The access token of the credentials they replace: a record that still holds it is older.
    replaced: SecretString,
    /// The version the conditional write expects (the leased one, at first).
    version: Version,
    /// How many writes of them failed.
    failures: u64,
    /// The store's error at the last failed write.
    last_error: Option<String>,
}

/// Who holds the newer grant when a refreshed writer finds the record changed.
enum Newer {
    /// Ours: write them over the record at this version.
    Ours(Version),
    /// The record's: adopt them.
    Theirs(Credentials),
    /// The record already holds ours.
    Stored,
}

/// Releases a refresh lease that no write replaced: awaited on the error paths, and spawned from
/// `Drop` when the refresh unwinds from a panic or its future is dropped (a caller's timeout), so
/// that no lease outlives its holder's attempt.
struct LeaseRelease {
    store: Arc<dyn CredentialStore>,
    /// The record as it was before the lease, until released or disarmed.
    record: Option<CredentialRecord>,
    version: Version,
}

impl LeaseRelease {
    async fn release(mut self) {
        if let Some(record) = self.record.take() {
            release_lease(self.store.as_ref(), record, self.version).await;
        }
    }

    /// The lease is gone already (a later write replaced it).
    fn disarm(mut self) {
        self.record = None;
    }
}

impl Drop for LeaseRelease {
    fn drop(&mut self) {
        if let Some(record) = self.record.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (store, version) = (self.store.clone(), self.version);
            runtime.spawn(async move { release_lease(store.as_ref(), record, version).await });
        }
    }
}

/// Writes `record` (the leased record without its lease) back if the lease is still the last
/// write; a record that changed since needs nothing.
async fn release_lease(store: &dyn CredentialStore, record: CredentialRecord, version: Version) {
    let (provider, subject) = (record.provider.clone(), record.subject.clone());
    match store.put(record, PutMode::Update(version)).await {
        Ok(_) | Err(StoreError::VersionMismatch { .. }) => {}
        Err(e) => tracing::debug!(provider, subject, error = %e,
            "could not release the refresh lease; it will expire"),
    }
}

/// Whether a failed write may succeed if tried again soon (a busy lock, an I/O hiccup).
fn worth_retrying(e: &StoreError) -> bool {
    matches!(e, StoreError::Io { .. } | StoreError::Backend { .. })
}

/// What to do with the credentials at hand.
enum Decision {
    /// Hand out this access token.
    Use(SecretString),
    /// Refresh with this refresh token.
    Refresh(SecretString),
}

enum Backing {
    Store(Arc<dyn CredentialStore>),
    /// Override credentials, refreshed in memory only.
    Memory(Mutex<Credentials>),
}

/// No credentials known in this process (none stored, deleted, or not read yet).
const UNLOADED: u8 = 0;
/// Credentials are loaded: the cell hands out and refreshes their token.
const LOADED: u8 = 1;
/// The grant was rejected (`invalid_grant`): the user must connect again.
const NEEDS_REAUTHORIZATION: u8 = 2;

/// The token of one (provider, subject): cached, refreshed by one task at a time.
pub(crate) struct TokenCell {
    entry: Arc<ProviderEntry>,
    /// [`UNLOADED`], [`LOADED`] or [`NEEDS_REAUTHORIZATION`]: what sessions bound to this cell
    /// use, so that storing, deleting or rejecting credentials reaches every live session.
    state: AtomicU8,
    subject: String,
    backing: Backing,
    source: CredentialSource,
    cache: RwLock<Cache>,
    refresh_lock: tokio::sync::Mutex<()>,
    policy: RefreshPolicy,
    holder: String,
    on_refresh: Option<RefreshCallback>,
}

impl fmt::Debug for TokenCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCell")
            .field("provider", &self.entry.id())
            .field("subject", &self.subject)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl TokenCell {
    pub(crate) fn stored(
        entry: Arc<ProviderEntry>,
        subject: &str,
        store: Arc<dyn CredentialStore>,
        policy: RefreshPolicy,
    ) -> Self {
        Self::new(
            entry,
            subject,
            Backing::Store(store),
            CredentialSource::Stored,
            policy,
            None,
        )
    }

    fn in_memory(
        entry: Arc<ProviderEntry>,
        subject: &str,
        credentials: Credentials,
        policy: RefreshPolicy,
        on_refresh: Option<RefreshCallback>,
    ) -> Self {
        let backing = Backing::Memory(Mutex::new(credentials.clone()));
        let cell = Self::new(
            entry,
            subject,
            backing,
            CredentialSource::Override,
            policy,
            on_refresh,
        );
        cell.prime(&credentials, true);
        cell
    }

    fn new(
        entry: Arc<ProviderEntry>,
        subject: &str,
        backing: Backing,
        source: CredentialSource,
        policy: RefreshPolicy,
        on_refresh: Option<RefreshCallback>,
    ) -> Self {
        Self {
            entry,
            state: AtomicU8::new(UNLOADED),
            subject: subject.to_string(),
            backing,
            source,
            cache: RwLock::new(Cache::default()),
            refresh_lock: tokio::sync::Mutex::new(()),
            policy,
            holder: uuid::Uuid::new_v4().to_string(),
            on_refresh,
        }
    }

    fn margin(&self) -> Duration {
        self.entry
            .provider
            .oauth2_settings()
            .map_or(Duration::from_secs(60), |s| s.expiry_margin)
    }

    /// The longest a token request may take.
    fn request_timeout(&self) -> Duration {
        self.entry
            .provider
            .oauth2_settings()
            .map_or(Duration::from_secs(30), |s| s.request_timeout)
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached token if it is still fresh: the hot path.
    #[inline]
    fn fresh(&self) -> Option<SecretString> {
        let cache = self.read_cache();
        if cache.unsaved.is_some() {
            return None;
        }
        match (&cache.token, cache.refresh_at) {
            (Some(token), None) => Some(token.clone()),
            (Some(token), Some(at)) if coarsetime::Instant::now() < at => Some(token.clone()),
            _ => None,
        }
    }

    /// Caches `credentials`' token; with `replace`, also forgets an earlier rejection and any
    /// unsaved refreshed credentials (these are newer).
    pub(crate) fn prime(&self, credentials: &Credentials, replace: bool) -> SecretString {
        let token = credentials.token.access_token.clone();
        let refresh_at = credentials.token.expires_at.map(|expires_at| {
            // However far the stored expiry, the coarse clock only ever adds a year or less.
            let until_refresh = expires_at
                .checked_sub(self.margin())
                .and_then(|at| at.duration_since(SystemTime::now()).ok())
                .unwrap_or_default()
                .min(MAX_TOKEN_LIFETIME);
            coarsetime::Instant::now() + coarsetime::Duration::from(until_refresh)
        });
        let mut cache = self.write_cache();
        if replace || cache.token.is_none() {
            cache.token = Some(token.clone());
            cache.refresh_at = refresh_at;
            cache.can_refresh = credentials.token.refresh_token.is_some();
            cache.rejected = None;
            cache.unsaved = None;
        }
        self.state.store(LOADED, Ordering::Release);
        token
    }

    /// Forgets the cached token (after the credentials were deleted).
    pub(crate) fn clear(&self) {
        *self.write_cache() = Cache::default();
        self.state.store(UNLOADED, Ordering::Release);
    }

    /// Forgets the cached token and remembers that the grant was rejected.
    pub(crate) fn mark_needs_reauthorization(&self) {
        *self.write_cache() = Cache::default();
        self.state.store(NEEDS_REAUTHORIZATION, Ordering::Release);
    }

    #[inline]
    fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    fn hold_until(&self, token: &SecretString, until: coarsetime::Instant) {
        let mut cache = self.write_cache();
        cache.token = Some(token.clone());
        cache.refresh_at = Some(until);
    }

    pub(crate) async fn token(&self) -> Result<SecretString, AuthError> {
        match self.fresh() {
            Some(token) => Ok(token),
            // The refresh future is large (it holds every store and HTTP future of a refresh):
            // boxed, it stays out of this future and of every future awaiting it, so the hot
            // path never copies it.
            None => Box::pin(self.refresh()).await,
        }
    }

    /// The slow path: one task at a time refreshes, or adopts the token another one fetched.
    async fn refresh(&self) -> Result<SecretString, AuthError> {
        let failures_seen = self.unsaved_failures();
        let _single_flight = self.refresh_lock.lock().await;
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let rejected = self.read_cache().rejected.clone();
        match &self.backing {
            Backing::Store(store) => self.refresh_stored(store, rejected, failures_seen).await,
            Backing::Memory(credentials) => self.refresh_in_memory(credentials, rejected).await,
        }
    }

    /// How many writes of the unsaved credentials failed so far, if there are any.
    fn unsaved_failures(&self) -> Option<u64> {
        self.read_cache().unsaved.as_ref().map(|u| u.failures)
    }

    fn corrupt(&self, reason: String) -> AuthError {
        AuthError::CorruptCredentials {
            provider: self.entry.id().to_string(),
            subject: self.subject.clone(),
            reason,
        }
    }

    fn not_saved(&self, reason: &str) -> AuthError {
        AuthError::RefreshNotSaved {
            provider: self.entry.id().to_string(),
            subject: self.subject.clone(),
            reason: reason.to_string(),
        }
    }

    /// The unsaved credentials to write now, if any. A caller that waited while a write of them
    /// failed shares that failure instead of spending another write budget.
    fn take_unsaved(&self, failures_seen: Option<u64>) -> Result<Option<Unsaved>, AuthError> {
        let mut cache = self.write_cache();
        if let Some(unsaved) = &cache.unsaved
            && let Some(error) = &unsaved.last_error
            && Some(unsaved.failures) != failures_seen
        {
            return Err(self.not_saved(error));
        }
        Ok(cache.unsaved.take().map(|u| *u))
    }

    fn invalidate(&self, rejected: &SecretString) -> bool {
        let mut cache = self.write_cache();
        match &cache.token {
            Some(current) if current.same_secret(rejected) => {
                cache.token = None;
                cache.rejected = Some(rejected.clone());
                cache.can_refresh
            }
            Some(_) => true,
            None => {
                if cache.rejected.is_none() {
                    cache.rejected = Some(rejected.clone());
                }
                cache.can_refresh || matches!(self.backing, Backing::Store(_))
            }
        }
    }

    fn needs_reauthorization(&self, reason: String) -> AuthError {
        AuthError::NeedsReauthorization {
            provider: self.entry.id().to_string(),
            subject: self.subject.clone(),
            reason,
        }
    }

    /// Decides whether `credentials` can be used as they are, or must be refreshed (with which
    /// refresh token); an error when they can be neither.
    fn decide(
        &self,
        credentials: &Credentials,
        rejected: Option<&SecretString>,
    ) -> Result<Decision, AuthError> {
        let now = SystemTime::now();
        let token = &credentials.token;
        let was_rejected = rejected.is_some_and(|r| r.same_secret(&token.access_token));
        if !was_rejected && !token.expires_within(self.margin(), now) {
            return Ok(Decision::Use(self.prime(credentials, true)));
        }
        if let Some(refresh_token) = &token.refresh_token {
            return Ok(Decision::Refresh(refresh_token.clone()));
        }
        if !was_rejected && !token.expires_within(Duration::ZERO, now) {
            // Expiring soon and not refreshable: use it while it lasts.
            return Ok(Decision::Use(self.prime(credentials, true)));
        }
        Err(AuthError::Unauthorized {
            provider: self.entry.id().to_string(),
            subject: self.subject.clone(),
            reason: if was_rejected {
                "the provider rejected the access token and there is no refresh token".into()
            } else {
                "the access token expired and there is no refresh token".into()
            },
        })
    }

    /// Calls the token endpoint and merges the answer into `credentials`.
    async fn request_refresh(
        &self,
        credentials: &Credentials,
        refresh_token: &SecretString,
    ) -> Result<Credentials, AuthError> {
        let settings = self.entry.oauth2_settings()?;
        let token = refresh_request(&self.entry, settings, refresh_token).await?;
        Ok(self.entry.provider.merge_refreshed(credentials, token))
    }

    /// After a failed refresh: keep serving a token that has not expired yet (and was not
    /// rejected) for a short while instead of failing every caller.
    fn fallback_after_failure(
        &self,
        credentials: &Credentials,
        rejected: Option<&SecretString>,
        err: AuthError,
    ) -> Result<SecretString, AuthError> {
        let token = &credentials.token;
        let was_rejected = rejected.is_some_and(|r| r.same_secret(&token.access_token));
        if err.is_transient()
            && !was_rejected
            && !token.expires_within(Duration::ZERO, SystemTime::now())
        {
            tracing::warn!(provider = self.entry.id(), subject = %self.subject, error = %err,
                "refresh failed; using the current token until it expires");
            self.hold_until(
                &token.access_token,
                coarsetime::Instant::now()
                    + coarsetime::Duration::from(self.policy.retry_after_transient),
            );
            return Ok(token.access_token.clone());
        }
        Err(err)
    }

    #[tracing::instrument(name = "refresh_stored", skip_all, fields(provider = self.entry.id(), subject = %self.subject))]
    async fn refresh_stored(
        &self,
        store: &Arc<dyn CredentialStore>,
        rejected: Option<SecretString>,
        failures_seen: Option<u64>,
    ) -> Result<SecretString, AuthError> {
        let provider = self.entry.id();
        let subject = self.subject.as_str();
        if let Some(unsaved) = self.take_unsaved(failures_seen)? {
            let token = self.save_refreshed(store.as_ref(), unsaved).await?;
            if !rejected.as_ref().is_some_and(|r| r.same_secret(&token)) {
                return Ok(token);
            }
        }
        let deadline = Instant::now().checked_add(self.policy.max_wait);
        let lease_ttl = self.policy.lease_for(self.request_timeout());
        loop {
            let stored =
                store
                    .get(provider, subject)
                    .await?
                    .ok_or_else(|| AuthError::NoCredentials {
                        provider: provider.to_string(),
                        subject: subject.to_string(),
                        fallback_available: false,
                    })?;
            if stored.record.status == CredentialStatus::NeedsReauthorization {
                return Err(
                    self.needs_reauthorization("the stored grant was rejected earlier".into())
                );
            }
            let credentials = Credentials::from_payload(&stored.record.payload)
                .map_err(|reason| self.corrupt(reason))?;
            let refresh_token = match self.decide(&credentials, rejected.as_ref())? {
                Decision::Use(token) => return Ok(token),
                Decision::Refresh(refresh_token) => refresh_token,
            };
            let now = SystemTime::now();
            if let Some(lease) = &stored.record.lease
                && lease.holder != self.holder
                && lease.expires_at > now
            {
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    return Err(AuthError::RefreshContended {
                        provider: provider.to_string(),
                        subject: subject.to_string(),
                    });
                }
                tokio::time::sleep(self.policy.poll_interval).await;
                continue;
            }
            let mut leased = stored.record.clone();
            leased.lease = Some(RefreshLease {
                holder: self.holder.clone(),
                expires_at: now + lease_ttl,
            });
            let leased_version = match store.put(leased, PutMode::Update(stored.version)).await {
                Ok(version) => version,
                Err(StoreError::VersionMismatch { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let mut released = stored.record;
            released.lease = None;
            let lease = LeaseRelease {
                store: store.clone(),
                record: Some(released),
                version: leased_version,
            };
            match self.request_refresh(&credentials, &refresh_token).await {
                Ok(fresh) => {
                    // The write of the new credentials clears the lease (or keeps it, and the
                    // credentials, until a later call writes them).
                    lease.disarm();
                    let unsaved = Unsaved {
                        credentials: fresh,
                        replaced: credentials.token.access_token.clone(),
                        version: leased_version,
                        failures: 0,
                        last_error: None,
                    };
                    return self.save_refreshed(store.as_ref(), unsaved).await;
                }
                Err(AuthError::OAuth {
                    code, description, ..
                }) if code == "invalid_grant" => {
                    match self.mark_rejected(store.as_ref(), leased_version).await {
                        // Another process rotated the grant meanwhile: adopt its credentials.
                        Ok(false) => {
                            lease.disarm();
                            continue;
                        }
                        Ok(true) => lease.disarm(),
                        Err(e) => {
                            lease.release().await;
                            return Err(e);
                        }
                    }
                    self.mark_needs_reauthorization();
                    tracing::warn!(
                        provider,
                        subject,
                        "grant rejected (invalid_grant): needs re-authorization"
                    );
                    let reason = match description {
                        Some(d) => format!("invalid_grant: {d}"),
                        None => "invalid_grant".to_string(),
                    };
                    return Err(self.needs_reauthorization(reason));
                }
                Err(err) => {
                    lease.release().await;
                    return self.fallback_after_failure(&credentials, rejected.as_ref(), err);
                }
            }
        }
    }

    /// After `invalid_grant`: marks the record as needing re-authorization if it is still at our
    /// leased version (true); false when another process wrote it meanwhile (it may have rotated
    /// the grant).
    async fn mark_rejected(
        &self,
        store: &dyn CredentialStore,
        leased_version: Version,
    ) -> Result<bool, AuthError> {
        let Some(current) = store.get(self.entry.id(), &self.subject).await? else {
            return Err(self.needs_reauthorization("invalid_grant".into()));
        };
        if current.version != leased_version {
            return Ok(false);
        }
        let mut marked = current.record;
        marked.status = CredentialStatus::NeedsReauthorization;
        marked.lease = None;
        match store.put(marked, PutMode::Update(leased_version)).await {
            Ok(_) => Ok(true),
            Err(StoreError::VersionMismatch { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes refreshed credentials with a conditional put (which also clears our lease),
    /// retrying a busy store for the write budget. When the record changed meanwhile, the newer
    /// grant wins (see [`TokenCell::newer`]). Until they are written, the credentials stay in the
    /// cell, so that the next call writes them if this one fails or is dropped by its caller.
    async fn save_refreshed(
        &self,
        store: &dyn CredentialStore,
        mut unsaved: Unsaved,
    ) -> Result<SecretString, AuthError> {
        let provider = self.entry.id();
        let subject = self.subject.as_str();
        self.write_cache().unsaved = Some(Box::new(unsaved.clone()));
        let give_up_at = Instant::now().checked_add(self.policy.store_write_budget);
        let out_of_budget = |pause: Duration| {
            give_up_at.is_some_and(|at| Instant::now().checked_add(pause).is_none_or(|t| t >= at))
        };
        let mut pause = Duration::from_millis(25);
        let failure = loop {
            let record = CredentialRecord::new(provider, subject, unsaved.credentials.to_payload());
            let error = match store.put(record, PutMode::Update(unsaved.version)).await {
                Ok(_) => return Ok(self.saved(&unsaved.credentials)),
                Err(StoreError::VersionMismatch {
                    expected, found, ..
                }) => match store.get(provider, subject).await {
                    Ok(None) => {
                        // Deleted meanwhile (a logout): not brought back.
                        self.clear();
                        return Err(AuthError::NoCredentials {
                            provider: provider.to_string(),
                            subject: subject.to_string(),
                            fallback_available: false,
                        });
                    }
                    Ok(Some(current)) => match self.newer(&current, &unsaved) {
                        Newer::Stored => return Ok(self.saved(&unsaved.credentials)),
                        Newer::Theirs(theirs) => {
                            tracing::info!(
                                provider,
                                subject,
                                "another process stored a newer grant; using it"
                            );
                            return Ok(self.prime(&theirs, true));
                        }
                        Newer::Ours(version) => {
                            unsaved.version = version;
                            if out_of_budget(Duration::ZERO) {
                                break StoreError::VersionMismatch {
                                    provider: provider.to_string(),
                                    subject: subject.to_string(),
                                    expected,
                                    found,
                                };
                            }
                            continue;
                        }
                    },
                    Err(e) => e,
                },
                Err(e) => e,
            };
            if !worth_retrying(&error) || out_of_budget(pause) {
                break error;
            }
            tracing::warn!(provider, subject, error = %error,
                "could not store the refreshed credentials; retrying");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        };
        tracing::warn!(provider, subject, error = %failure,
            "refreshed credentials could not be stored; kept in memory until a later call stores them");
        let err = self.not_saved(&failure.to_string());
        unsaved.failures += 1;
        unsaved.last_error = Some(failure.to_string());
        self.write_cache().unsaved = Some(Box::new(unsaved));
        Err(err)
    }

    /// Decides who holds the newer grant when our write found the record changed: ours if the
    /// record still holds the credentials we refreshed from (whatever their status: a process
    /// that spent the same refresh token after us may have marked them), if it cannot be read,
    /// or if its grant is rejected or expires before ours; otherwise theirs.
    fn newer(&self, current: &StoredCredential, unsaved: &Unsaved) -> Newer {
        let Ok(theirs) = Credentials::from_payload(&current.record.payload) else {
            return Newer::Ours(current.version);
        };
        let (their_token, our_token) = (&theirs.token, &unsaved.credentials.token);
        if their_token
            .access_token
            .same_secret(&our_token.access_token)
        {
            return Newer::Stored;
        }
        if their_token.access_token.same_secret(&unsaved.replaced)
            || current.record.status != CredentialStatus::Active
        {
            return Newer::Ours(current.version);
        }
        match (their_token.expires_at, our_token.expires_at) {
            (Some(theirs_at), Some(ours_at)) if theirs_at < ours_at => Newer::Ours(current.version),
            _ => Newer::Theirs(theirs),
        }
    }

    /// The refreshed credentials are stored: serve them.
    fn saved(&self, fresh: &Credentials) -> SecretString {
        tracing::info!(
            provider = self.entry.id(),
            subject = %self.subject,
            "access token refreshed"
        );
        self.notify(fresh);
        self.prime(fresh, true)
    }

    async fn refresh_in_memory(
        &self,
        credentials: &Mutex<Credentials>,
        rejected: Option<SecretString>,
    ) -> Result<SecretString, AuthError> {
        if self.state() == NEEDS_REAUTHORIZATION {
            return Err(self.needs_reauthorization("invalid_grant".into()));
        }
        let current = credentials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let refresh_token = match self.decide(&current, rejected.as_ref())? {
            Decision::Use(token) => return Ok(token),
            Decision::Refresh(refresh_token) => refresh_token,
        };
        match self.request_refresh(&current, &refresh_token).await {
            Ok(fresh) => {
                *credentials.lock().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
                self.notify(&fresh);
                Ok(self.prime(&fresh, true))
            }
            Err(AuthError::OAuth { code, .. }) if code == "invalid_grant" => {
                self.mark_needs_reauthorization();
                Err(self.needs_reauthorization("invalid_grant".into()))
            }
            Err(err) => self.fallback_after_failure(&current, rejected.as_ref(), err),
        }
    }

    fn notify(&self, fresh: &Credentials) {
        if let Some(callback) = &self.on_refresh {
            callback(self.entry.id(), &self.subject, fresh);
        }
    }
}

/// Options for [`AuthManager::session_with`].
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct SessionOptions {
    overrides: BTreeMap<String, Result<Credentials, String>>,
    providers: Option<Vec<String>>,
    deny_app_token: bool,
    on_refresh: Option<RefreshCallback>,
}

impl fmt::Debug for SessionOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionOptions")
            .field("overrides", &self.overrides.keys().collect::<Vec<_>>())
            .field("providers", &self.providers)
            .field("allow_app_token", &!self.deny_app_token)
            .finish_non_exhaustive()
    }
}

impl SessionOptions {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses these credentials for `provider` instead of the stored ones. They are refreshed in
    /// memory (never written to the store); see [`SessionOptions::on_refresh`] to persist them.
    pub fn with_credentials<C: UserCredentials>(
        mut self,
        provider: impl Into<String>,
        credentials: &C,
    ) -> Self {
        let converted = Credentials::from_typed(credentials)
            .map_err(|_| "the credentials do not serialize as a flat JSON object".to_string());
        self.overrides.insert(provider.into(), converted);
        self
    }

    /// Only these providers are part of the session.
    pub fn providers<S: Into<String>>(mut self, providers: impl IntoIterator<Item = S>) -> Self {
        self.providers = Some(providers.into_iter().map(Into::into).collect());
        self
    }

    /// Whether a provider's app-level token (e.g. a personal access token) may stand in when the
    /// subject has no stored credentials (default: allowed, as in the Python framework;
    /// [`Session::source`] says which source was used).
    pub fn allow_app_token(mut self, allow: bool) -> Self {
        self.deny_app_token = !allow;
        self
    }

    /// Called after each refresh of override credentials.
    pub fn on_refresh(
        mut self,
        callback: impl Fn(&str, &str, &Credentials) + Send + Sync + 'static,
    ) -> Self {
        self.on_refresh = Some(Arc::new(callback));
        self
    }
}

/// A session's binding to one provider: the shared token cell of (provider, subject), and the
/// app-level token when the session allows it to stand in. Which one answers is decided at each
/// call from the cell's state, so credentials stored, deleted or rejected after the session was
/// opened take effect at once, for the session and for every client built from it.
#[derive(Debug)]
struct Binding {
    cell: Arc<TokenCell>,
    /// The app-level token, when the session allows it to stand in.
    fallback: Option<SecretString>,
    /// An app-level token exists but the session did not allow it (for the error message).
    fallback_denied: bool,
}

impl Binding {
    /// The token when it can be handed out at once (the cell's, loaded and fresh, or the app-level
    /// token standing in): the hot path, which creates no future.
    #[inline]
    fn cached(&self) -> Option<SecretString> {
        match (self.cell.state(), &self.fallback) {
            (LOADED, _) => self.cell.fresh(),
            (UNLOADED, Some(app_token)) => Some(app_token.clone()),
            _ => None,
        }
    }

    async fn token(&self) -> Result<SecretString, AuthError> {
        match (self.cell.state(), &self.fallback) {
            (LOADED, _) => self.cell.token().await,
            (NEEDS_REAUTHORIZATION, _) => Err(self.grant_rejected()),
            (_, Some(app_token)) => Ok(app_token.clone()),
            (_, None) => self.cell.token().await.map_err(|e| match e {
                AuthError::NoCredentials {
                    provider, subject, ..
                } => AuthError::NoCredentials {
                    provider,
                    subject,
                    fallback_available: self.fallback_denied,
                },
                other => other,
            }),
        }
    }

    fn grant_rejected(&self) -> AuthError {
        self.cell.needs_reauthorization(
            "the stored grant was rejected; the user must connect again".into(),
        )
    }

    /// Why no token can be had right now, if so.
    fn unavailable(&self) -> Option<AuthError> {
        match (self.cell.state(), &self.fallback) {
            (NEEDS_REAUTHORIZATION, _) => Some(self.grant_rejected()),
            (UNLOADED, None) => Some(AuthError::NoCredentials {
                provider: self.cell.entry.id().to_string(),
                subject: self.cell.subject.clone(),
                fallback_available: self.fallback_denied,
            }),
            _ => None,
        }
    }

    fn source(&self) -> Option<CredentialSource> {
        match (self.cell.state(), &self.fallback) {
            (LOADED, _) => Some(self.cell.source),
            (NEEDS_REAUTHORIZATION, _) => None,
            (_, Some(_)) => Some(CredentialSource::AppToken),
            (_, None) => None,
        }
    }
}

#[async_trait]
impl TokenSource for Binding {
    async fn token(&self) -> Result<SecretString, AuthError> {
        match self.cached() {
            Some(token) => Ok(token),
            // Boxed so that the future `async_trait` allocates for each call stays small.
            None => Box::pin(Binding::token(self)).await,
        }
    }

    fn cached_token(&self) -> Option<SecretString> {
        self.cached()
    }

    fn invalidate(&self, rejected: &SecretString) -> bool {
        match (self.cell.state(), &self.fallback) {
            // An app-level token cannot be refreshed.
            (UNLOADED, Some(_)) => false,
            _ => self.cell.invalidate(rejected),
        }
    }

    fn provider(&self) -> &str {
        self.cell.entry.id()
    }

    fn subject(&self) -> &str {
        &self.cell.subject
    }

    fn source(&self) -> CredentialSource {
        Binding::source(self).unwrap_or(self.cell.source)
    }
}

#[derive(Clone)]
struct Entry {
    provider: Arc<dyn AuthProvider>,
    binding: Arc<Binding>,
    extra: Map<String, Value>,
}

/// A subject's connections: a valid token per provider, whatever the source.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use auth_core::{AuthManager, OAuth2Token};
/// use auth_core::config::EnvSource;
/// # #[derive(Debug)] struct Demo(auth_core::provider::OAuth2Settings);
/// # #[async_trait::async_trait]
/// # impl auth_core::AuthProvider for Demo {
/// #     fn id(&self) -> &str { "demo" }
/// #     fn oauth2_settings(&self) -> Option<&auth_core::provider::OAuth2Settings> { Some(&self.0) }
/// #     fn as_any(&self) -> &dyn std::any::Any { self }
/// # }
/// # let settings = auth_core::provider::OAuth2Settings::new(
/// #     "https://demo.example/authorize".parse().unwrap(), "https://demo.example/token".parse().unwrap(), "id");
/// let auth = AuthManager::builder().env(EnvSource::empty()).provider(Demo(settings)).build().unwrap();
/// auth.store_credentials("demo", "user-123", &OAuth2Token::bearer("token-abc")).await.unwrap();
/// let session = auth.session("user-123").await.unwrap();
/// assert_eq!(session.token("demo").await.unwrap().expose_secret(), "token-abc");
/// assert_eq!(session.source("demo"), Some(auth_core::CredentialSource::Stored));
/// # });
/// ```
#[derive(Clone)]
pub struct Session {
    manager: AuthManager,
    subject: String,
    /// By provider id, sorted. A session has a handful of providers: a scan that compares lengths
    /// first finds one faster than a `BTreeMap` descent, and this lookup runs on every token.
    entries: Box<[(String, Entry)]>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sources: BTreeMap<&str, Option<CredentialSource>> =
            self.providers().map(|p| (p, self.source(p))).collect();
        f.debug_struct("Session")
            .field("subject", &self.subject)
            .field("sources", &sources)
            .finish()
    }
}

impl Session {
    pub(crate) async fn open(
        manager: AuthManager,
        subject: &str,
        options: SessionOptions,
    ) -> Result<Session, AuthError> {
        let mut entries = BTreeMap::new();
        for provider_id in manager.provider_ids() {
            if options
                .providers
                .as_ref()
                .is_some_and(|only| !only.contains(&provider_id))
            {
                continue;
            }
            let entry = manager.entry(&provider_id)?.clone();
            let provider = entry.provider.clone();
            let app_token = provider.app_token().cloned();
            let (cell, extra) = if let Some(credentials) = options.overrides.get(&provider_id) {
                let credentials =
                    credentials
                        .clone()
                        .map_err(|reason| AuthError::InvalidCredentials {
                            provider: provider_id.clone(),
                            subject: subject.to_string(),
                            reason,
                        })?;
                let extra = credentials.extra.clone();
                let policy = manager.inner().policy;
                let cell = TokenCell::in_memory(
                    entry,
                    subject,
                    credentials,
                    policy,
                    options.on_refresh.clone(),
                );
                (Arc::new(cell), extra)
            } else {
                let cell = manager.cell(&entry, subject);
                let extra = match manager.store().get(&provider_id, subject).await? {
                    Some(stored) => {
                        let credentials = Credentials::from_payload(&stored.record.payload)
                            .map_err(|reason| cell.corrupt(reason))?;
                        if stored.record.status == CredentialStatus::NeedsReauthorization {
                            cell.mark_needs_reauthorization();
                        } else {
                            cell.prime(&credentials, false);
                        }
                        credentials.extra
                    }
                    None => {
                        cell.clear();
                        Map::new()
                    }
                };
                (cell, extra)
            };
            let overridden = options.overrides.contains_key(&provider_id);
            let fallback = match (&app_token, options.deny_app_token || overridden) {
                (Some(token), false) => Some(token.clone()),
                _ => None,
            };
            let binding = Arc::new(Binding {
                cell,
                fallback,
                fallback_denied: app_token.is_some() && options.deny_app_token,
            });
            entries.insert(
                provider_id,
                Entry {
                    provider,
                    binding,
                    extra,
                },
            );
        }
        if let Some(only) = &options.providers
            && let Some(unknown) = only.iter().find(|p| !entries.contains_key(*p))
        {
            return Err(AuthError::UnknownProvider {
                provider: unknown.clone(),
                configured: manager.provider_ids().join(", "),
            });
        }
        tracing::debug!(subject, providers = entries.len(), "session opened");
        Ok(Session {
            manager,
            subject: subject.to_string(),
            entries: entries.into_iter().collect(),
        })
    }

    /// The subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The manager the session came from.
    pub fn manager(&self) -> &AuthManager {
        &self.manager
    }

    /// Provider ids in this session.
    pub fn providers(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(id, _)| id.as_str())
    }

    /// The configured provider, for extension traits (downcast with `as_any`).
    pub fn provider(&self, id: &str) -> Option<&Arc<dyn AuthProvider>> {
        self.get(id).map(|e| &e.provider)
    }

    /// Where the provider's token comes from now; `None` when the subject has no usable
    /// credentials (none stored and no app-level token allowed, or the grant was rejected).
    pub fn source(&self, provider: &str) -> Option<CredentialSource> {
        self.get(provider)?.binding.source()
    }

    /// Provider-specific fields of the subject's credentials when the session was opened (for
    /// Asana: `workspace_gid`, `user`).
    pub fn credentials_extra(&self, provider: &str) -> Option<&Map<String, Value>> {
        self.get(provider).map(|e| &e.extra)
    }

    #[inline]
    fn get(&self, provider: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|(id, _)| id == provider)
            .map(|(_, entry)| entry)
    }

    #[inline]
    fn entry(&self, provider: &str) -> Result<&Entry, AuthError> {
        self.get(provider)
            .ok_or_else(|| self.unknown_provider(provider))
    }

    #[cold]
    fn unknown_provider(&self, provider: &str) -> AuthError {
        AuthError::UnknownProvider {
            provider: provider.to_string(),
            configured: self.providers().collect::<Vec<_>>().join(", "),
        }
    }

    /// A valid access token for `provider`: cached, refreshed when needed.
    pub async fn token(&self, provider: &str) -> Result<SecretString, AuthError> {
        let binding = &self.entry(provider)?.binding;
        match binding.cached() {
            Some(token) => Ok(token),
            // Boxed so that this future stays a few words large on the hot path.
            None => Box::pin(binding.token()).await,
        }
    }

    /// The token source for `provider`, to hand to a client; an error when the subject has no
    /// usable credentials right now. Once handed out, it follows the subject's credentials as they
    /// are stored, refreshed, deleted or rejected.
    pub fn token_source(&self, provider: &str) -> Result<Arc<dyn TokenSource>, AuthError> {
        let binding = &self.entry(provider)?.binding;
        match binding.unavailable() {
            Some(error) => Err(error),
            None => Ok(binding.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::OAuth2Settings;

    #[test]
    fn a_lease_outlasts_the_token_request_and_the_store_write() {
        let default_timeout = OAuth2Settings::new(
            "https://p.example/authorize".parse().unwrap(),
            "https://p.example/token".parse().unwrap(),
            "id",
        )
        .request_timeout;
        let policy = RefreshPolicy::default();
        assert_eq!(policy.store_write_budget, STORE_WRITE_BUDGET);
        for timeout in [
            default_timeout,
            Duration::from_secs(1),
            Duration::from_secs(300),
        ] {
            let lease = policy.lease_for(timeout);
            assert!(
                lease > timeout + policy.store_write_budget,
                "lease {lease:?} for a {timeout:?} request"
            );
            assert!(lease >= timeout + policy.store_write_budget + LEASE_MARGIN);
        }
        assert_eq!(policy.lease_for(default_timeout), Duration::from_secs(55));
        assert!(
            policy.max_wait > policy.lease_for(default_timeout),
            "a waiter outlasts a crashed holder's lease"
        );
        let short = RefreshPolicy {
            lease_ttl: Duration::from_millis(1),
            store_write_budget: Duration::from_secs(2),
            ..policy
        };
        assert_eq!(
            short.lease_for(default_timeout),
            default_timeout + Duration::from_secs(2) + LEASE_MARGIN,
            "a short lease setting cannot undercut the request"
        );
        let long = RefreshPolicy {
            lease_ttl: Duration::from_secs(600),
            ..policy
        };
        assert_eq!(long.lease_for(default_timeout), Duration::from_secs(600));
        assert_eq!(policy.lease_for(Duration::MAX), MAX_TOKEN_LIFETIME);
    }
}
