//! The refreshing credential of one (provider, subject): its cached token, the single-flight
//! refresh, the refresh lease in the store, and the marking of a rejected grant.
//!
//! [`RefreshingTokenSource`] is that credential on its own, built from a [`TokenEndpoint`] and
//! credentials (kept in memory, or in a store); sessions share one cell per (provider, subject)
//! and process. A cell hands
//! out its cached token while it is fresh (a read lock and an atomic increment). When the token is
//! within the provider's expiry margin, or a caller reported it rejected with
//! [`TokenSource::invalidate`], exactly one task refreshes it while the others wait:
//!
//! 1. re-read the store: another process may already have refreshed (adopt its token). A record
//!    its caller read moments ago by other means, offered with [`RefreshingTokenSource::offer`],
//!    stands in for this read when no other process held its lease: step 2 claims on it;
//! 2. take a short *refresh lease* on the record with a conditional put; if another process holds an
//!    unexpired lease, wait and re-read (a lease left by a crashed holder expires). A claim lost
//!    to another process's write returns the record as it is now
//!    ([`CredentialStore::update_or_read`]), which is examined as a read is. The store
//!    decides how to wait ([`CredentialStore::wait_for_change`]): most sleep a poll interval, one
//!    that hears of other processes' writes wakes the waiter as soon as the holder writes. The
//!    wait starts (is polled once) before each read and lasts through the claim, so that a write
//!    landing between the read (or the lost claim) and the wait is heard too;
//! 3. call the token endpoint, then write the new credentials with a conditional put on the leased
//!    version (clearing the lease). A store that is busy is retried for [`STORE_WRITE_BUDGET`];
//!    if the write still fails, the call fails with [`AuthError::RefreshNotSaved`] and the cell
//!    keeps the new credentials, writing them at its next call and, meanwhile, from a task of its
//!    own that holds the cell until the store takes them (for up to an hour). A writer that finds the record
//!    changed compares: if the record still holds the credentials it refreshed from (perhaps
//!    marked as rejected by a process that spent the same refresh token after it), its own are
//!    the newer grant and are written; otherwise it adopts the record's (the user connected
//!    again meanwhile);
//! 4. on `invalid_grant`, re-read once more (another process may have rotated the grant), then mark
//!    the record as needing re-authorization, without deleting it; on a transient failure (5xx,
//!    timeout, connection) release the lease and leave the credentials untouched, and fail the
//!    tasks of this process that waited for this refresh with the same error. A refresh that
//!    fails in any other way, or panics, releases its lease too.
//!
//! A refresh runs as a task of its own, which its caller awaits: a caller that gives up (its
//! timeout, a request dropped) does not cut it short, so it never stops between the provider's
//! answer and the store write, where a rotated refresh token would be lost and the lease released
//! for another process to spend the spent one. It keeps the cell alive until it ends. A runtime
//! shutting down still stops it, as a crash would (below).
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

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Waker};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::endpoint::TokenEndpoint;
use crate::error::{AuthError, OAuthErrorCode, StoreError, TokenOperation};
use crate::secret::SecretString;
use crate::store::{
    CredentialRecord, CredentialStatus, CredentialStore, PutMode, RefreshLease, StoredCredential,
    Updated, Version,
};
use crate::token::{Credentials, MAX_TOKEN_LIFETIME, OAuth2Token};
use crate::token_source::{CredentialSource, TokenSource};

/// Called with (provider, subject, new credentials) after every successful refresh, so that
/// credentials held outside the store (session overrides, standalone connectors) can be persisted.
pub type RefreshCallback = Arc<dyn Fn(&str, &str, &Credentials) + Send + Sync>;

/// How long writing refreshed credentials is retried while the store reports a busy lock or an
/// I/O error (the default; see `AuthManagerBuilder::store_write_budget`). No attempt starts later.
pub const STORE_WRITE_BUDGET: Duration = Duration::from_secs(10);

/// How long a cell's task keeps writing refreshed credentials that could not be stored
/// ([`TokenCell::keep_unsaved`]).
const KEEP_UNSAVED_FOR: Duration = Duration::from_secs(3600);

/// The longest the write of a refresh lease may take for the lease to be used: [`LEASE_MARGIN`]
/// counts on it. A lease whose write took longer may lapse before the token request and the
/// save it must cover are done, and another process spend the same refresh token: it is given
/// back unused.
const LEASE_WRITE_ALLOWANCE: Duration = Duration::from_secs(5);

/// How long before expiry a token is refreshed when the provider has no OAuth2 settings.
const DEFAULT_EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// What a refresh lease lasts beyond the token request's timeout and the store write budget: the
/// wait of the lease's own write and of the last write attempt for the store's lock (5 s each by
/// default for the SQLite and file stores), and clock differences between the processes that
/// share the store.
pub(crate) const LEASE_MARGIN: Duration = Duration::from_secs(15);

/// Timings of the cross-process refresh protocol.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefreshPolicy {
    /// The shortest lease; [`RefreshPolicy::lease_for`] lengthens it as the request needs.
    pub(crate) lease_ttl: Duration,
    /// How long a caller waits for another process's lease to clear.
    pub(crate) max_wait: Duration,
    pub(crate) poll_interval: Duration,
    /// After a transient refresh failure while the old token is still valid, wait this long
    /// (or until the token expires, if sooner) before trying again.
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
    /// When the cached token expires, if known: what the credentials it came from say.
    expires_at: Option<SystemTime>,
    /// The last token a caller reported as rejected.
    rejected: Option<SecretString>,
    can_refresh: bool,
    /// Refreshed credentials the store did not take yet: while they are here, every call goes
    /// through the slow path, which writes them first.
    unsaved: Option<Box<Unsaved>>,
    /// The transient failure of the flight numbered here (see [`TokenCell::flights`]), for the
    /// tasks that waited for it.
    failed_flight: Option<(u64, Box<TransientFailure>)>,
    /// A record its caller read moments ago ([`TokenCell::offer`]) whose credentials are due
    /// and not leased by another: the next refresh claims the lease on it instead of reading
    /// the store first.
    offered: Option<Box<StoredCredential>>,
}

/// What [`AuthError::Transient`] says, kept to hand the same error to a refresh's waiters.
struct TransientFailure {
    operation: TokenOperation,
    detail: String,
    retry_after: Option<Duration>,
}

/// Refreshed credentials that are not in the store yet: being written, or kept after the write
/// failed for the next call to write.
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

/// What a writer does after its conditional write found the record changed.
enum Conflict {
    /// Stop: with this token (ours are stored, or theirs adopted), or this error.
    Done(Result<SecretString, AuthError>),
    /// Ours are newer: write them at this version.
    WriteAt(Version),
}

/// Releases a refresh lease that no write replaced: awaited on the error paths, and spawned from
/// `Drop` when the refresh unwinds from a panic or its task is stopped (a runtime shutting
/// down), so that no lease outlives its holder's attempt.
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

    /// The lease is gone already (a later write replaced it, or will); returns its version.
    fn disarm(mut self) -> Version {
        self.record = None;
        self.version
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

/// A started [`CredentialStore::wait_for_change`] (see [`TokenCell::watch`]); `None` when it
/// ended at its first poll.
type Watch<'a> = Option<Pin<Box<dyn Future<Output = ()> + Send + 'a>>>;

/// Whether a failed write may succeed if tried again soon (a busy lock, an I/O hiccup).
fn worth_retrying(e: &StoreError) -> bool {
    matches!(e, StoreError::Io { .. } | StoreError::Backend { .. })
}

/// What to do with the credentials at hand.
enum Decision {
    /// Hand out this access token.
    Use(SecretString),
    /// Refresh them (they have a refresh token).
    Refresh,
}

/// What the store holds when a refresh may be due.
enum Read {
    /// Credentials that can be used as they are: their token.
    Token(SecretString),
    /// Credentials to refresh, and the record they came from.
    Refresh(Box<(StoredCredential, Credentials)>),
}

/// How a claim of the refresh lease ended.
enum Claim {
    /// Ours: the lease, released unless a write replaces it.
    Taken(LeaseRelease),
    /// Another writer changed the record first: the record as it is now, if any.
    Lost(Option<StoredCredential>),
}

/// How a refresh under our lease ended, when it did not fail.
enum Spent {
    /// A token to hand out.
    Token(SecretString),
    /// The grant was rejected but another process rewrote the record meanwhile: read it again.
    ReadAgain,
}

/// Whether a cell holds usable credentials: what sessions bound to it decide on at each call, so
/// that storing, deleting or rejecting credentials reaches every live session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellState {
    /// No credentials known in this process (none stored, deleted, or not read yet).
    Unloaded,
    /// Credentials are loaded: the cell hands out and refreshes their token.
    Loaded,
    /// The grant was rejected (`invalid_grant`): the user must connect again.
    NeedsReauthorization,
}

enum Backing {
    Store(Arc<dyn CredentialStore>),
    /// Override credentials, refreshed in memory only.
    Memory(Mutex<Credentials>),
}

/// [`CellState::Unloaded`] in the cell's atomic.
const UNLOADED: u8 = 0;
/// [`CellState::Loaded`] in the cell's atomic.
const LOADED: u8 = 1;
/// [`CellState::NeedsReauthorization`] in the cell's atomic.
const NEEDS_REAUTHORIZATION: u8 = 2;

/// The token of one (provider, subject): cached, refreshed by one task at a time.
pub(crate) struct TokenCell {
    endpoint: Arc<TokenEndpoint>,
    /// [`UNLOADED`], [`LOADED`] or [`NEEDS_REAUTHORIZATION`]: what sessions bound to this cell
    /// use, so that storing, deleting or rejecting credentials reaches every live session.
    state: AtomicU8,
    subject: String,
    backing: Backing,
    source: CredentialSource,
    cache: RwLock<Cache>,
    /// Set while one task of this process refreshes (see [`TokenCell::flight`]).
    refreshing: AtomicBool,
    /// Wakes every task waiting for that refresh at once when it ends.
    landed: tokio::sync::Notify,
    /// How many refreshes of this process have ended.
    flights: AtomicU64,
    policy: RefreshPolicy,
    /// Who this cell is when it holds a refresh lease (kept as 16 bytes, written as text only
    /// into a lease: a cell that never refreshes costs no allocation for it).
    holder: uuid::Uuid,
    on_refresh: Option<RefreshCallback>,
    /// Set while a task keeps writing refreshed credentials a save could not store
    /// ([`TokenCell::keep_unsaved`]).
    keeping: AtomicBool,
}

/// The cell's refresh flag, held by one task ([`TokenCell::hold`]): while it is held no other
/// task of this process refreshes the cell. Dropped, it clears the flag and wakes the tasks that
/// waited for it. An offer ([`TokenCell::offer`]) holds it alone while it examines the record
/// offered: no refresh runs, so none is counted as ended, and the waiters of one that failed
/// transiently still share its failure.
struct Held<'a>(&'a TokenCell);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.refreshing.store(false, Ordering::Release);
        self.0.landed.notify_waiters();
    }
}

/// This process's refresh of a cell ([`TokenCell::flight`]): the flag held, and, once the
/// refresh ends, fails or is dropped, counted among the ended refreshes before the flag is
/// cleared and its waiters woken.
struct Flight<'a>(Held<'a>);

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.0.0.flights.fetch_add(1, Ordering::Release);
    }
}

impl fmt::Debug for TokenCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCell")
            .field("provider", &self.endpoint.id())
            .field("subject", &self.subject)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Writes `current` back as needing re-authorization (its lease, if any, cleared) with a
/// conditional put on the version it was read at: true when written, false when another writer
/// came first.
async fn write_rejected(
    store: &dyn CredentialStore,
    current: StoredCredential,
) -> Result<bool, AuthError> {
    let mut marked = current.record;
    marked.status = CredentialStatus::NeedsReauthorization;
    marked.lease = None;
    match store.put(marked, PutMode::Update(current.version)).await {
        Ok(_) => Ok(true),
        Err(StoreError::VersionMismatch { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

impl TokenCell {
    pub(crate) fn stored(
        endpoint: Arc<TokenEndpoint>,
        subject: &str,
        store: Arc<dyn CredentialStore>,
        policy: RefreshPolicy,
        on_refresh: Option<RefreshCallback>,
    ) -> Self {
        Self::new(
            endpoint,
            subject,
            Backing::Store(store),
            CredentialSource::Stored,
            policy,
            on_refresh,
        )
    }

    pub(crate) fn in_memory(
        endpoint: Arc<TokenEndpoint>,
        subject: &str,
        credentials: Credentials,
        policy: RefreshPolicy,
        on_refresh: Option<RefreshCallback>,
    ) -> Self {
        let backing = Backing::Memory(Mutex::new(credentials.clone()));
        let cell = Self::new(
            endpoint,
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
        endpoint: Arc<TokenEndpoint>,
        subject: &str,
        backing: Backing,
        source: CredentialSource,
        policy: RefreshPolicy,
        on_refresh: Option<RefreshCallback>,
    ) -> Self {
        Self {
            endpoint,
            state: AtomicU8::new(UNLOADED),
            subject: subject.to_string(),
            backing,
            source,
            cache: RwLock::new(Cache::default()),
            refreshing: AtomicBool::new(false),
            landed: tokio::sync::Notify::new(),
            flights: AtomicU64::new(0),
            policy,
            holder: uuid::Uuid::new_v4(),
            on_refresh,
            keeping: AtomicBool::new(false),
        }
    }

    /// How long before its expiry `token` is refreshed: the provider's margin, but never more
    /// than half the token's lifetime, so that a short-lived token is used for half its life
    /// instead of being refreshed at every call.
    fn margin(&self, token: &OAuth2Token) -> Duration {
        let margin = self
            .endpoint
            .provider()
            .oauth2_settings()
            .map_or(DEFAULT_EXPIRY_MARGIN, |s| s.expiry_margin);
        Self::capped(margin, token)
    }

    /// `margin`, but never more than half the token's lifetime (when known).
    fn capped(margin: Duration, token: &OAuth2Token) -> Duration {
        match token.expires_in {
            Some(lifetime) => margin.min(Duration::from_secs(lifetime) / 2),
            None => margin,
        }
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached token if it is still fresh: the hot path.
    #[inline]
    pub(crate) fn fresh(&self) -> Option<SecretString> {
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
                .checked_sub(self.margin(&credentials.token))
                .and_then(|at| at.duration_since(SystemTime::now()).ok())
                .unwrap_or_default()
                .min(MAX_TOKEN_LIFETIME);
            coarsetime::Instant::now() + coarsetime::Duration::from(until_refresh)
        });
        let mut cache = self.write_cache();
        if replace || cache.token.is_none() {
            cache.token = Some(token.clone());
            cache.refresh_at = refresh_at;
            cache.expires_at = credentials.token.expires_at;
            cache.can_refresh = credentials.token.refresh_token.is_some();
            cache.rejected = None;
            cache.unsaved = None;
            cache.offered = None;
        }
        self.state.store(LOADED, Ordering::Release);
        token
    }

    /// See [`RefreshingTokenSource::refreshable_expiry`].
    pub(crate) fn refreshable_expiry(&self) -> Option<SystemTime> {
        if self.state() == CellState::NeedsReauthorization {
            return None;
        }
        let cache = self.read_cache();
        cache.expires_at.filter(|_| cache.can_refresh)
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
    pub(crate) fn state(&self) -> CellState {
        match self.state.load(Ordering::Acquire) {
            LOADED => CellState::Loaded,
            NEEDS_REAUTHORIZATION => CellState::NeedsReauthorization,
            _ => CellState::Unloaded,
        }
    }

    /// The provider id.
    pub(crate) fn provider(&self) -> &str {
        self.endpoint.id()
    }

    /// The subject.
    pub(crate) fn subject(&self) -> &str {
        &self.subject
    }

    /// Where the credentials come from.
    pub(crate) fn source(&self) -> CredentialSource {
        self.source
    }

    /// Reads the stored record into the cell (its token, or its rejected grant) and returns the
    /// credentials' provider-specific fields; an empty map when nothing is stored, or for a cell
    /// whose credentials are not in a store.
    pub(crate) async fn load(&self) -> Result<Map<String, Value>, AuthError> {
        let Backing::Store(store) = &self.backing else {
            return Ok(Map::new());
        };
        let Some(stored) = store.get(self.endpoint.id(), &self.subject).await? else {
            self.clear();
            return Ok(Map::new());
        };
        let credentials = Credentials::from_payload(&stored.record.payload)
            .map_err(|reason| self.corrupt(reason))?;
        if stored.record.status == CredentialStatus::NeedsReauthorization {
            // Refreshed credentials not stored yet are the newer grant: another process spent
            // the refresh token they replace and marked the record for it (see `newer`). They
            // are kept, for their writer to store over the mark.
            if self.unsaved_failures().is_none() {
                self.mark_needs_reauthorization();
            }
        } else {
            self.prime(&credentials, false);
        }
        Ok(credentials.extra)
    }

    /// Serves `credentials`' token until `until` (after a failed refresh).
    fn hold_until(&self, credentials: &Credentials, until: coarsetime::Instant) {
        let mut cache = self.write_cache();
        cache.token = Some(credentials.token.access_token.clone());
        cache.refresh_at = Some(until);
        cache.expires_at = credentials.token.expires_at;
        cache.can_refresh = credentials.token.refresh_token.is_some();
    }

    pub(crate) async fn token(self: &Arc<Self>) -> Result<SecretString, AuthError> {
        match self.fresh() {
            Some(token) => Ok(token),
            None => {
                self.detached(|cell| async move { cell.refresh().await })
                    .await
            }
        }
    }

    /// Runs `refresh` as a task of its own, and answers its outcome. A caller that gives up (its
    /// timeout, a dropped request) does not cut the refresh short: between the provider's answer
    /// and the store write, that would lose a rotated refresh token and release the lease for
    /// another process to spend the old one. The task keeps the cell alive until it ends. (The
    /// refresh future is large, too: spawned, it stays out of every future awaiting this one.)
    async fn detached<T, F>(
        self: &Arc<Self>,
        refresh: impl FnOnce(Arc<Self>) -> F,
    ) -> Result<T, AuthError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, AuthError>> + Send + 'static,
    {
        let (cell, refreshing) = (Arc::clone(self), refresh(Arc::clone(self)));
        let task = tokio::spawn(async move {
            let outcome = refreshing.await;
            // In the task, so that credentials it could not store are kept written after a
            // caller that gave up.
            if let Err(AuthError::RefreshNotSaved { .. }) = &outcome {
                cell.keep_unsaved();
            }
            outcome
        });
        match task.await {
            Ok(outcome) => outcome,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => Err(AuthError::Transient {
                    provider: self.endpoint.id().to_string(),
                    operation: TokenOperation::Refresh,
                    detail: "the runtime shut down during the refresh".into(),
                    retry_after: None,
                }),
            },
        }
    }

    /// The slow path: one task at a time refreshes, or adopts the token another one fetched, or
    /// shares the transient failure of the refresh it waited for: while the token endpoint is
    /// down, the callers waiting together fail together, instead of each trying again in turn.
    async fn refresh(&self) -> Result<SecretString, AuthError> {
        let failures_seen = self.unsaved_failures();
        let landed_before = self.flights.load(Ordering::Acquire);
        let _flight = match self.flight(|| self.outcome_since(landed_before)).await {
            Ok(flight) => flight,
            Err(outcome) => return outcome,
        };
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let rejected = self.read_cache().rejected.clone();
        let refreshed = match &self.backing {
            Backing::Store(store) => {
                self.refresh_stored(store, rejected, failures_seen, None)
                    .await
            }
            Backing::Memory(credentials) => self.refresh_in_memory(credentials, rejected).await,
        };
        if let Err(AuthError::Transient {
            operation,
            detail,
            retry_after,
            ..
        }) = &refreshed
        {
            // Numbered as this flight will be once it ends.
            let flight = self.flights.load(Ordering::Acquire) + 1;
            let failure = TransientFailure {
                operation: *operation,
                detail: detail.clone(),
                retry_after: *retry_after,
            };
            self.write_cache().failed_flight = Some((flight, Box::new(failure)));
        }
        refreshed
    }

    /// For a task woken by the end of a refresh it waited for (one that ended after
    /// `landed_before` had): the token it left fresh, or its transient failure; `None` when
    /// neither (the task may take the next flight).
    fn outcome_since(&self, landed_before: u64) -> Option<Result<SecretString, AuthError>> {
        if let Some(token) = self.fresh() {
            return Some(Ok(token));
        }
        let landed = self.flights.load(Ordering::Acquire);
        let cache = self.read_cache();
        let (flight, failure) = cache.failed_flight.as_ref()?;
        (*flight == landed && landed > landed_before).then(|| {
            Err(AuthError::Transient {
                provider: self.endpoint.id().to_string(),
                operation: failure.operation,
                detail: failure.detail.clone(),
                retry_after: failure.retry_after,
            })
        })
    }

    /// Takes this process's refresh of the cell: at once when no other task holds it, else when
    /// the holder's ends, unless `after_wait` then has something to answer instead (`Err`), such
    /// as the token that refresh left fresh. A refresh that ends wakes all its waiters at once,
    /// not one at a time as a lock's queue hands over: they go on together, and one that is slow
    /// to be polled again holds up none of the others. When `after_wait` has nothing to answer
    /// (a refresh that failed other than transiently, say), one of the woken takes the next
    /// flight and the others wait again: as many attempts as a lock's queue would make, in no
    /// set order, with more wake-ups.
    async fn flight<T>(&self, after_wait: impl Fn() -> Option<T>) -> Result<Flight<'_>, T> {
        loop {
            let mut landed = std::pin::pin!(self.landed.notified());
            // Registered before the attempt, so that a refresh ending in between is heard.
            landed.as_mut().enable();
            if let Some(held) = self.hold() {
                return Ok(Flight(held));
            }
            landed.await;
            if let Some(answer) = after_wait() {
                return Err(answer);
            }
        }
    }

    /// The refresh flag, if no other task of this process holds it.
    fn hold(&self) -> Option<Held<'_>> {
        self.refreshing
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            .then(|| Held(self))
    }

    /// See [`RefreshingTokenSource::offer`].
    pub(crate) fn offer(&self, stored: StoredCredential) {
        let record = &stored.record;
        if !matches!(self.backing, Backing::Store(_))
            || record.provider != self.endpoint.id()
            || record.subject != self.subject
        {
            return;
        }
        // Taken without waiting, so that no refresh of this process is under way: it would have
        // a newer answer than the record offered.
        let Some(_held) = self.hold() else {
            return;
        };
        // A rejected grant is lifted by a read of the store only: the record offered may have
        // been read before the grant was marked (which happens under the flag just taken).
        if self.state() == CellState::NeedsReauthorization {
            return;
        }
        let rejected = {
            let cache = self.read_cache();
            if cache.unsaved.is_some() {
                // Refreshed credentials to write first: newer than any record read.
                return;
            }
            cache.rejected.clone()
        };
        if self.fresh().is_some() {
            return;
        }
        // A token to use is primed by `examine`; an error (no refresh token, a rejected grant)
        // is left for the refresh to find in the store and answer.
        if let Ok(Read::Refresh(read)) = self.examine(Some(stored), rejected.as_ref(), None)
            && self.leased_by_another(&read.0).is_none()
        {
            self.write_cache().offered = Some(Box::new(read.0));
        }
    }

    /// Keeps writing the refreshed credentials that a save could not store within its write
    /// budget, in a task of its own, a write budget's pause (at least a second) between
    /// attempts, until they are
    /// stored (by this task or a call), superseded, or [`KEEP_UNSAVED_FOR`] has passed (then a
    /// later call still writes them). The task holds the cell: the credentials, perhaps a rotated
    /// refresh token that is the grant's only live copy, outlive every session that held the
    /// cell. One such task per cell.
    fn keep_unsaved(self: &Arc<Self>) {
        let Backing::Store(store) = &self.backing else {
            return;
        };
        if self.keeping.swap(true, Ordering::AcqRel) {
            return;
        }
        let (cell, store) = (Arc::clone(self), Arc::clone(store));
        tokio::spawn(async move {
            let give_up_at = Instant::now().checked_add(KEEP_UNSAVED_FOR);
            let pause = cell.policy.store_write_budget.max(Duration::from_secs(1));
            while cell.unsaved_failures().is_some()
                && give_up_at.is_none_or(|at| Instant::now() < at)
            {
                tokio::time::sleep(pause).await;
                let failures = cell.unsaved_failures();
                let Ok(_flight) = cell.flight(|| None::<Infallible>).await;
                // A call may have written them, or failed to, meanwhile: then the next round.
                if let Ok(Some(unsaved)) = cell.take_unsaved(failures) {
                    let _ = cell.save_refreshed(store.as_ref(), unsaved).await;
                }
            }
            if cell.unsaved_failures().is_some() {
                tracing::error!(provider = cell.endpoint.id(), subject = %cell.subject,
                    "refreshed credentials could not be stored in an hour of trying; stopped trying in the background (a later call on this subject, while this process holds them, tries again)");
            }
            cell.keeping.store(false, Ordering::Release);
        });
    }

    /// See [`RefreshingTokenSource::refresh_ahead`].
    pub(crate) async fn refresh_ahead(self: &Arc<Self>, within: Duration) -> Result<(), AuthError> {
        self.detached(move |cell| async move { cell.refresh_ahead_now(within).await })
            .await
    }

    /// [`TokenCell::refresh_ahead`], in the caller's task.
    async fn refresh_ahead_now(&self, within: Duration) -> Result<(), AuthError> {
        let Backing::Store(store) = &self.backing else {
            return Ok(());
        };
        if self.state() == CellState::NeedsReauthorization {
            return Ok(());
        }
        let failures_seen = self.unsaved_failures();
        let Ok(_flight) = self.flight(|| None::<Infallible>).await;
        self.refresh_stored(store, None, failures_seen, Some(within))
            .await
            .map(|_| ())
    }

    /// How many writes of the unsaved credentials failed so far, if there are any.
    fn unsaved_failures(&self) -> Option<u64> {
        self.read_cache().unsaved.as_ref().map(|u| u.failures)
    }

    pub(crate) fn corrupt(&self, reason: String) -> AuthError {
        AuthError::CorruptCredentials {
            provider: self.endpoint.id().to_string(),
            subject: self.subject.clone(),
            reason,
        }
    }

    fn not_saved(&self, reason: &str) -> AuthError {
        AuthError::RefreshNotSaved {
            provider: self.endpoint.id().to_string(),
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

    pub(crate) fn invalidate(self: &Arc<Self>, rejected: &SecretString) -> bool {
        let mut cache = self.write_cache();
        match &cache.token {
            Some(current) if current.same_secret(rejected) => {
                cache.token = None;
                cache.rejected = Some(rejected.clone());
                if !cache.can_refresh {
                    drop(cache);
                    self.record_rejection(rejected.clone());
                    return false;
                }
                true
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

    /// The provider rejected a stored token that cannot be refreshed: in a task (the caller is
    /// not async), its record is marked as needing re-authorization, as a rejected grant is, so
    /// that the store says so to everyone who reads it (a service listing its connectors, other
    /// processes). Not when the record holds other credentials by then (replaced meanwhile).
    fn record_rejection(self: &Arc<Self>, rejected: SecretString) {
        let Backing::Store(store) = &self.backing else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (cell, store) = (Arc::clone(self), Arc::clone(store));
        runtime.spawn(async move {
            match cell.mark_token_rejected(store.as_ref(), &rejected).await {
                Ok(true) => {
                    cell.mark_needs_reauthorization();
                    tracing::warn!(
                        provider = cell.endpoint.id(),
                        subject = %cell.subject,
                        "the provider rejected the stored token, which cannot be refreshed: needs re-authorization"
                    );
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(
                    provider = cell.endpoint.id(),
                    subject = %cell.subject,
                    error = %e,
                    "could not record that the provider rejected the stored token"
                ),
            }
        });
    }

    /// Marks the stored record as needing re-authorization if it still holds `rejected` without
    /// a refresh token (true); false when it holds anything else or changed meanwhile.
    async fn mark_token_rejected(
        &self,
        store: &dyn CredentialStore,
        rejected: &SecretString,
    ) -> Result<bool, AuthError> {
        let Some(current) = store.get(self.endpoint.id(), &self.subject).await? else {
            return Ok(false);
        };
        let still_rejected = current.record.status == CredentialStatus::Active
            && Credentials::from_payload(&current.record.payload).is_ok_and(|c| {
                c.token.refresh_token.is_none() && c.token.access_token.same_secret(rejected)
            });
        if !still_rejected {
            return Ok(false);
        }
        write_rejected(store, current).await
    }

    pub(crate) fn needs_reauthorization(&self, reason: String) -> AuthError {
        AuthError::NeedsReauthorization {
            provider: self.endpoint.id().to_string(),
            subject: self.subject.clone(),
            reason,
        }
    }

    /// Decides whether `credentials` can be used as they are, or must be refreshed (with which
    /// refresh token); an error when they can be neither.
    ///
    /// `ahead`, when given, widens the margin (still capped at half the token's lifetime): a
    /// refresh ahead of use.
    fn decide(
        &self,
        credentials: &Credentials,
        rejected: Option<&SecretString>,
        ahead: Option<Duration>,
    ) -> Result<Decision, AuthError> {
        let now = SystemTime::now();
        let token = &credentials.token;
        let was_rejected = rejected.is_some_and(|r| r.same_secret(&token.access_token));
        let margin = match ahead {
            Some(ahead) => self.margin(token).max(Self::capped(ahead, token)),
            None => self.margin(token),
        };
        if !was_rejected && !token.expires_within(margin, now) {
            return Ok(Decision::Use(self.prime(credentials, true)));
        }
        if token.refresh_token.is_some() {
            return Ok(Decision::Refresh);
        }
        if !was_rejected && !token.expires_within(Duration::ZERO, now) {
            // Expiring soon and not refreshable: use it while it lasts.
            return Ok(Decision::Use(self.prime(credentials, true)));
        }
        Err(AuthError::Unauthorized {
            provider: self.endpoint.id().to_string(),
            subject: self.subject.clone(),
            reason: if was_rejected {
                "the provider rejected the access token and there is no refresh token".into()
            } else {
                "the access token expired and there is no refresh token".into()
            },
        })
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
        let now = SystemTime::now();
        if err.is_transient() && !was_rejected && !token.expires_within(Duration::ZERO, now) {
            tracing::warn!(provider = self.endpoint.id(), subject = %self.subject, error = %err,
                "refresh failed; using the current token until it expires");
            // The hold ends at the token's expiry when that comes first: an expired token is
            // never served from the cache.
            let hold = match token.expires_at {
                Some(expires_at) => self
                    .policy
                    .retry_after_transient
                    .min(expires_at.duration_since(now).unwrap_or_default()),
                None => self.policy.retry_after_transient,
            };
            self.hold_until(
                credentials,
                coarsetime::Instant::now() + coarsetime::Duration::from(hold),
            );
            return Ok(token.access_token.clone());
        }
        Err(err)
    }

    /// The refresh protocol over a store (see the module docs): write refreshed credentials a
    /// previous call could not save, then read the record, wait for another process's lease,
    /// take our own, and spend the refresh token under it.
    #[tracing::instrument(name = "refresh_stored", skip_all, fields(provider = self.endpoint.id(), subject = %self.subject))]
    async fn refresh_stored(
        &self,
        store: &Arc<dyn CredentialStore>,
        rejected: Option<SecretString>,
        failures_seen: Option<u64>,
        ahead: Option<Duration>,
    ) -> Result<SecretString, AuthError> {
        if let Some(unsaved) = self.take_unsaved(failures_seen)? {
            let token = self.save_refreshed(store.as_ref(), unsaved).await?;
            if !rejected.as_ref().is_some_and(|r| r.same_secret(&token)) {
                return Ok(token);
            }
        }
        let deadline = Instant::now().checked_add(self.policy.max_wait);
        // The record as a lost claim of the lease returned it, with the wait started before
        // that claim: a write landing since still ends the wait for a lease found on it.
        let mut known = self.write_cache().offered.take().map(|offered| {
            // Started before the claim on the record offered, as after a lost claim.
            (self.watch(store.as_ref(), deadline), Some(*offered))
        });
        loop {
            let (change, stored) = match known.take() {
                Some(known) => known,
                None => {
                    let change = self.watch(store.as_ref(), deadline);
                    (change, store.get(self.endpoint.id(), &self.subject).await?)
                }
            };
            let (stored, credentials) = match self.examine(stored, rejected.as_ref(), ahead)? {
                Read::Token(token) => return Ok(token),
                Read::Refresh(read) => *read,
            };
            if let Some(lapses_at) = self.leased_by_another(&stored) {
                self.wait_for_lease(change, lapses_at, deadline).await?;
                continue;
            }
            let lease = match self.take_lease(store, stored).await {
                Ok(Claim::Taken(lease)) => lease,
                Ok(Claim::Lost(current)) => {
                    known = Some((change, current));
                    continue;
                }
                // A lease given back unused: a token still valid is served meanwhile.
                Err(slow @ AuthError::Transient { .. }) => {
                    return self.fallback_after_failure(&credentials, rejected.as_ref(), slow);
                }
                Err(e) => return Err(e),
            };
            drop(change);
            match self
                .spend(store, lease, &credentials, rejected.as_ref())
                .await?
            {
                Spent::Token(token) => return Ok(token),
                Spent::ReadAgain => continue,
            }
        }
    }

    /// Step 1: decides whether the credentials of the record read can be used or must be
    /// refreshed (another process may have refreshed them already).
    fn examine(
        &self,
        stored: Option<StoredCredential>,
        rejected: Option<&SecretString>,
        ahead: Option<Duration>,
    ) -> Result<Read, AuthError> {
        let stored = stored.ok_or_else(|| AuthError::NoCredentials {
            provider: self.endpoint.id().to_string(),
            subject: self.subject.clone(),
            fallback_available: false,
        })?;
        if stored.record.status == CredentialStatus::NeedsReauthorization {
            return Err(self.needs_reauthorization("the stored grant was rejected earlier".into()));
        }
        let credentials = Credentials::from_payload(&stored.record.payload)
            .map_err(|reason| self.corrupt(reason))?;
        Ok(match self.decide(&credentials, rejected, ahead)? {
            Decision::Use(token) => Read::Token(token),
            Decision::Refresh => Read::Refresh(Box::new((stored, credentials))),
        })
    }

    /// Whether `lease` is this cell's.
    fn holds(&self, lease: &RefreshLease) -> bool {
        let mut text = uuid::Uuid::encode_buffer();
        lease.holder == *self.holder.hyphenated().encode_lower(&mut text)
    }

    /// When the unexpired refresh lease another process holds on the record lapses, if there is
    /// one.
    fn leased_by_another(&self, stored: &StoredCredential) -> Option<SystemTime> {
        stored
            .record
            .lease
            .as_ref()
            .filter(|lease| !self.holds(lease) && lease.expires_at > SystemTime::now())
            .map(|lease| lease.expires_at)
    }

    /// Starts waiting for a write to the record before it is read (the caller's wait until
    /// `deadline`, if it comes to wait): [`CredentialStore::wait_for_change`] polled once, so that
    /// a store that hears of writes listens from here on, and the holder's write cannot land
    /// unheard between the read and the wait. `None` when the wait ended at once.
    fn watch<'a>(&'a self, store: &'a dyn CredentialStore, deadline: Option<Instant>) -> Watch<'a> {
        let max_wait = deadline.map_or(self.policy.max_wait, |deadline| {
            deadline.saturating_duration_since(Instant::now())
        });
        let mut wait = store.wait_for_change(
            self.endpoint.id(),
            &self.subject,
            self.policy.poll_interval,
            max_wait,
        );
        let started = wait
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending();
        started.then_some(wait)
    }

    /// Step 2: waits for another process's lease (that lapses at `lapses_at`) to clear, with the
    /// wait [`TokenCell::watch`] started before the read: a poll interval, or until the store
    /// hears of a write to the record, at most until the lease lapses; fails when we have waited
    /// longer than the policy allows.
    async fn wait_for_lease(
        &self,
        change: Watch<'_>,
        lapses_at: SystemTime,
        deadline: Option<Instant>,
    ) -> Result<(), AuthError> {
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Err(AuthError::RefreshContended {
                provider: self.endpoint.id().to_string(),
                subject: self.subject.clone(),
            });
        }
        let until_lapse = lapses_at
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        if let Some(change) = change {
            // Elapsed: the lease lapsed; read again.
            let _ = tokio::time::timeout(until_lapse, change).await;
        }
        Ok(())
    }

    /// Step 3: takes the refresh lease with a conditional put on the version read; when another
    /// process wrote the record first, the record as it is now, which the store returns
    /// without another round trip when it can.
    async fn take_lease(
        &self,
        store: &Arc<dyn CredentialStore>,
        stored: StoredCredential,
    ) -> Result<Claim, AuthError> {
        let mut leased = stored.record.clone();
        leased.lease = Some(RefreshLease {
            holder: self.holder.to_string(),
            expires_at: SystemTime::now() + self.policy.lease_for(self.endpoint.request_timeout()),
        });
        let started = Instant::now();
        let version = match store.update_or_read(leased, stored.version).await? {
            Updated::Written(version) => version,
            Updated::Changed(current) => return Ok(Claim::Lost(current)),
        };
        let mut released = stored.record;
        released.lease = None;
        let lease = LeaseRelease {
            store: store.clone(),
            record: Some(released),
            version,
        };
        if started.elapsed() > LEASE_WRITE_ALLOWANCE {
            lease.release().await;
            return Err(AuthError::Transient {
                provider: self.endpoint.id().to_string(),
                operation: TokenOperation::Refresh,
                detail: format!(
                    "the store took longer than {} s to take the refresh lease, which might lapse before the refresh is done; nothing was sent",
                    LEASE_WRITE_ALLOWANCE.as_secs()
                ),
                retry_after: None,
            });
        }
        Ok(Claim::Taken(lease))
    }

    /// Step 4: spends the refresh token under our lease and saves the answer; on `invalid_grant`
    /// marks the grant rejected, on any other failure releases the lease.
    async fn spend(
        &self,
        store: &Arc<dyn CredentialStore>,
        lease: LeaseRelease,
        credentials: &Credentials,
        rejected: Option<&SecretString>,
    ) -> Result<Spent, AuthError> {
        match self.endpoint.refresh(credentials).await {
            Ok(fresh) => {
                // The write of the new credentials clears the lease (or keeps it, and the
                // credentials, until a later call writes them).
                let version = lease.disarm();
                let unsaved = Unsaved {
                    credentials: fresh,
                    replaced: credentials.token.access_token.clone(),
                    version,
                    failures: 0,
                    last_error: None,
                };
                self.save_refreshed(store.as_ref(), unsaved)
                    .await
                    .map(Spent::Token)
            }
            Err(AuthError::OAuth {
                code: OAuthErrorCode::InvalidGrant,
                description,
                ..
            }) => self.reject_grant(store.as_ref(), lease, description).await,
            Err(err) => {
                lease.release().await;
                self.fallback_after_failure(credentials, rejected, err)
                    .map(Spent::Token)
            }
        }
    }

    /// After `invalid_grant` under our lease: marks the record as needing re-authorization,
    /// unless another process rewrote it meanwhile (it may have rotated the grant: read again).
    async fn reject_grant(
        &self,
        store: &dyn CredentialStore,
        lease: LeaseRelease,
        description: Option<String>,
    ) -> Result<Spent, AuthError> {
        match self.mark_rejected(store, lease.version).await {
            Ok(false) => {
                lease.disarm();
                return Ok(Spent::ReadAgain);
            }
            Ok(true) => {
                lease.disarm();
            }
            Err(e) => {
                lease.release().await;
                return Err(e);
            }
        }
        self.mark_needs_reauthorization();
        tracing::warn!(
            provider = self.endpoint.id(),
            subject = %self.subject,
            "grant rejected (invalid_grant): needs re-authorization"
        );
        let reason = match description {
            Some(d) => format!("invalid_grant: {d}"),
            None => "invalid_grant".to_string(),
        };
        Err(self.needs_reauthorization(reason))
    }

    /// After `invalid_grant`: marks the record as needing re-authorization if it is still at our
    /// leased version (true); false when another process wrote it meanwhile (it may have rotated
    /// the grant).
    async fn mark_rejected(
        &self,
        store: &dyn CredentialStore,
        leased_version: Version,
    ) -> Result<bool, AuthError> {
        let Some(current) = store.get(self.endpoint.id(), &self.subject).await? else {
            return Err(self.needs_reauthorization("invalid_grant".into()));
        };
        if current.version != leased_version {
            return Ok(false);
        }
        write_rejected(store, current).await
    }

    /// Writes refreshed credentials with a conditional put (which also clears our lease),
    /// retrying a busy store for the write budget. When the record changed meanwhile, the newer
    /// grant wins (see [`TokenCell::newer`]). Until they are written, the credentials stay in the
    /// cell, so that the next call writes them if this one fails.
    async fn save_refreshed(
        &self,
        store: &dyn CredentialStore,
        mut unsaved: Unsaved,
    ) -> Result<SecretString, AuthError> {
        let provider = self.endpoint.id();
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
                Err(mismatch @ StoreError::VersionMismatch { .. }) => {
                    match self.resolve_conflict(store, &unsaved).await {
                        Ok(Conflict::Done(outcome)) => return outcome,
                        Ok(Conflict::WriteAt(version)) => {
                            unsaved.version = version;
                            if out_of_budget(Duration::ZERO) {
                                break mismatch;
                            }
                            continue;
                        }
                        Err(e) => e,
                    }
                }
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

    /// After our conditional write found the record changed: re-reads it and decides, with
    /// [`TokenCell::newer`], whether our credentials are stored already, theirs are newer, or ours
    /// must be written over theirs. A record deleted meanwhile (a logout) is not brought back.
    async fn resolve_conflict(
        &self,
        store: &dyn CredentialStore,
        unsaved: &Unsaved,
    ) -> Result<Conflict, StoreError> {
        let Some(current) = store.get(self.endpoint.id(), &self.subject).await? else {
            self.clear();
            return Ok(Conflict::Done(Err(AuthError::NoCredentials {
                provider: self.endpoint.id().to_string(),
                subject: self.subject.clone(),
                fallback_available: false,
            })));
        };
        Ok(match self.newer(&current, unsaved) {
            Newer::Stored => Conflict::Done(Ok(self.saved(&unsaved.credentials))),
            Newer::Theirs(theirs) => {
                tracing::info!(
                    provider = self.endpoint.id(),
                    subject = %self.subject,
                    "another process stored a newer grant; using it"
                );
                Conflict::Done(Ok(self.prime(&theirs, true)))
            }
            Newer::Ours(version) => Conflict::WriteAt(version),
        })
    }

    /// Decides who holds the newer grant when our write found the record changed: ours if the
    /// record still holds the credentials we refreshed from (whatever their status: a process
    /// that spent the same refresh token after us may have marked them), if it cannot be read,
    /// or if its grant is rejected; otherwise theirs. Other credentials in the record were
    /// written after our refresh began: the user connecting again (perhaps another account, or
    /// new scopes), which must not be overwritten, or, with a provider that does not rotate,
    /// another refresh of the same grant, as good as ours. Which of them expires later says
    /// nothing about which is meant.
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
        Newer::Theirs(theirs)
    }

    /// The refreshed credentials are stored: serve them.
    fn saved(&self, fresh: &Credentials) -> SecretString {
        tracing::info!(
            provider = self.endpoint.id(),
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
        if self.state() == CellState::NeedsReauthorization {
            return Err(self.needs_reauthorization("invalid_grant".into()));
        }
        let current = credentials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Decision::Use(token) = self.decide(&current, rejected.as_ref(), None)? {
            return Ok(token);
        }
        match self.endpoint.refresh(&current).await {
            Ok(fresh) => {
                *credentials.lock().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
                self.notify(&fresh);
                Ok(self.prime(&fresh, true))
            }
            Err(AuthError::OAuth {
                code: OAuthErrorCode::InvalidGrant,
                ..
            }) => {
                self.mark_needs_reauthorization();
                Err(self.needs_reauthorization("invalid_grant".into()))
            }
            Err(err) => self.fallback_after_failure(&current, rejected.as_ref(), err),
        }
    }

    fn notify(&self, fresh: &Credentials) {
        if let Some(callback) = &self.on_refresh {
            callback(self.endpoint.id(), &self.subject, fresh);
        }
    }
}

/// The refreshing credential of one (provider, subject), on its own: a [`TokenSource`] built from
/// a [`TokenEndpoint`] and credentials, without an [`AuthManager`](crate::AuthManager).
///
/// Its credentials are kept in memory ([`RefreshingTokenSource::in_memory`]: a callback sees each
/// refresh, to persist it) or in a store ([`RefreshingTokenSource::stored`]: refreshed with the
/// store's lease, as sessions do, so that processes sharing the store spend each refresh token
/// once). Either way, concurrent callers cause one refresh, a token rejected by the API is
/// refreshed once, and `invalid_grant` leaves it needing re-authorization.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use auth_core::TokenEndpoint;
/// use auth_core::provider::OAuth2Settings;
/// use auth_core::{AuthProvider, Credentials, OAuth2Token, RefreshingTokenSource, TokenSource};
/// use wiremock::matchers::{method, path};
/// use wiremock::{Mock, MockServer, ResponseTemplate};
///
/// #[derive(Debug)]
/// struct Example(OAuth2Settings);
/// #[async_trait::async_trait]
/// impl AuthProvider for Example {
///     fn id(&self) -> &str { "example" }
///     fn oauth2_settings(&self) -> Option<&OAuth2Settings> { Some(&self.0) }
/// }
///
/// let server = MockServer::start().await;
/// Mock::given(method("POST")).and(path("/token"))
///     .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
///         "access_token": "at-2", "token_type": "bearer", "expires_in": 3600
///     })))
///     .expect(1)
///     .mount(&server).await;
/// let settings = OAuth2Settings::new(
///     format!("{}/authorize", server.uri()).parse().unwrap(),
///     format!("{}/token", server.uri()).parse().unwrap(),
///     "client-id",
/// );
/// let endpoint = Arc::new(TokenEndpoint::new(Arc::new(Example(settings))).unwrap());
/// let mut token = OAuth2Token::bearer("at-1");
/// token.refresh_token = Some("rt-1".into());
/// token.expires_at = Some(std::time::UNIX_EPOCH);
/// let source = RefreshingTokenSource::in_memory(endpoint, "user-1", Credentials::new(token), None);
/// assert_eq!(source.token().await.unwrap().expose_secret(), "at-2");
/// assert_eq!(source.token().await.unwrap().expose_secret(), "at-2", "cached");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct RefreshingTokenSource {
    cell: Arc<TokenCell>,
}

impl RefreshingTokenSource {
    /// Credentials kept in memory and refreshed there; `on_refresh` is called with each refresh.
    pub fn in_memory(
        endpoint: Arc<TokenEndpoint>,
        subject: &str,
        credentials: Credentials,
        on_refresh: Option<RefreshCallback>,
    ) -> Self {
        let cell = TokenCell::in_memory(
            endpoint,
            subject,
            credentials,
            RefreshPolicy::default(),
            on_refresh,
        );
        Self {
            cell: Arc::new(cell),
        }
    }

    /// The credentials `store` holds for (the endpoint's provider, `subject`), read at the first
    /// call and written back after each refresh.
    pub fn stored(
        endpoint: Arc<TokenEndpoint>,
        subject: &str,
        store: Arc<dyn CredentialStore>,
    ) -> Self {
        let cell = TokenCell::stored(endpoint, subject, store, RefreshPolicy::default(), None);
        Self {
            cell: Arc::new(cell),
        }
    }

    /// As [`RefreshingTokenSource::stored`], and `on_refresh` is called after each refresh this
    /// source made and stored (to count or log refreshes; the store holds the new credentials
    /// already).
    pub fn stored_with_callback(
        endpoint: Arc<TokenEndpoint>,
        subject: &str,
        store: Arc<dyn CredentialStore>,
        on_refresh: RefreshCallback,
    ) -> Self {
        let cell = TokenCell::stored(
            endpoint,
            subject,
            store,
            RefreshPolicy::default(),
            Some(on_refresh),
        );
        Self {
            cell: Arc::new(cell),
        }
    }
}

impl RefreshingTokenSource {
    /// Refreshes the stored token now if it expires within `within` (capped, as the expiry
    /// margin is, at half the token's lifetime), through the same single flight and store lease
    /// as [`TokenSource::token`], so that it never races a caller's refresh in this process or
    /// another: what a background refresher calls so that callers find a fresh token. Reads the
    /// store first (or starts from a record [offered](Self::offer)): a token another process
    /// refreshed already is adopted, not refreshed again. A
    /// token without a known expiry is left alone (it is refreshed when the API rejects it).
    /// Does nothing for credentials kept in memory.
    pub async fn refresh_ahead(&self, within: Duration) -> Result<(), AuthError> {
        self.cell.refresh_ahead(within).await
    }

    /// Hands the source a record of its credentials that its caller read from the source's store
    /// by other means just now (the service reads a connector's record in the same query as the
    /// connector), as the store's `get` answers it ([`RecordOpener`](crate::RecordOpener) opens
    /// an encrypted store's). When the source has no fresh token, it takes the record's token if
    /// that is fresh, without reading the store; if the record is due and no other process holds
    /// its refresh lease, the next refresh claims the lease on it directly, its version the
    /// fence, so that a record changed meanwhile loses the claim and is read as it is then.
    /// Ignored while the source has a fresh token, is refreshing, or holds refreshed credentials
    /// not saved yet, after a rejected grant (only a read of the store lifts that), for a record
    /// of other credentials, and for credentials kept in memory. A record kept for the next
    /// refresh is dropped when the source learns newer credentials first.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use auth_core::provider::OAuth2Settings;
    /// use auth_core::{AuthProvider, CredentialRecord, CredentialStore, Credentials,
    ///     MemoryCredentialStore, OAuth2Token, PutMode, RefreshingTokenSource, TokenEndpoint, TokenSource};
    ///
    /// #[derive(Debug)]
    /// struct Example(OAuth2Settings);
    /// #[async_trait::async_trait]
    /// impl AuthProvider for Example {
    ///     fn id(&self) -> &str { "example" }
    ///     fn oauth2_settings(&self) -> Option<&OAuth2Settings> { Some(&self.0) }
    /// }
    ///
    /// let settings = OAuth2Settings::new(
    ///     "https://example.com/authorize".parse().unwrap(),
    ///     "https://example.com/token".parse().unwrap(),
    ///     "client-id",
    /// );
    /// let endpoint = Arc::new(TokenEndpoint::new(Arc::new(Example(settings))).unwrap());
    /// let store = MemoryCredentialStore::new();
    /// let payload = Credentials::new(OAuth2Token::bearer("at-1")).to_payload();
    /// store.put(CredentialRecord::new("example", "user-1", payload), PutMode::Create).await.unwrap();
    ///
    /// let read = store.get("example", "user-1").await.unwrap().expect("stored");
    /// let source = RefreshingTokenSource::stored(endpoint, "user-1", Arc::new(store));
    /// source.offer(read);
    /// assert_eq!(source.cached_token().expect("taken from the record").expose_secret(), "at-1");
    /// # });
    /// ```
    pub fn offer(&self, stored: StoredCredential) {
        self.cell.offer(stored);
    }

    /// When the token this source last handed out expires, for a background refresher to
    /// schedule its refresh ahead of use, without reading the store: known only while its
    /// credentials can be refreshed (they have a refresh token and their grant was not
    /// rejected) and say when they expire; `None` otherwise, and before the first call.
    pub fn refreshable_expiry(&self) -> Option<SystemTime> {
        self.cell.refreshable_expiry()
    }

    /// How long a refresh lease this source takes lasts: a lease left by a process that died
    /// while refreshing lapses after this long, and another process refreshes then.
    pub fn refresh_lease(&self) -> Duration {
        self.cell
            .policy
            .lease_for(self.cell.endpoint.request_timeout())
    }
}

#[async_trait]
impl TokenSource for RefreshingTokenSource {
    async fn token(&self) -> Result<SecretString, AuthError> {
        self.cell.token().await
    }

    fn cached_token(&self) -> Option<SecretString> {
        match self.cell.state() {
            CellState::Loaded => self.cell.fresh(),
            _ => None,
        }
    }

    fn invalidate(&self, rejected: &SecretString) -> bool {
        self.cell.invalidate(rejected)
    }

    fn provider(&self) -> &str {
        self.cell.provider()
    }

    fn subject(&self) -> &str {
        self.cell.subject()
    }

    fn source(&self) -> CredentialSource {
        self.cell.source()
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

    /// A provider whose token endpoint is `uri`/token, for cells built with a policy of their own.
    #[derive(Debug)]
    struct AtUri(OAuth2Settings);

    #[async_trait::async_trait]
    impl crate::AuthProvider for AtUri {
        fn id(&self) -> &str {
            "test"
        }
        fn oauth2_settings(&self) -> Option<&OAuth2Settings> {
            Some(&self.0)
        }
    }

    /// After one transient refresh failure the still-valid token is held for
    /// `retry_after_transient` (here 200 ms) without another request, and once the hold is
    /// over the next call tries the refresh again and gets the new token.
    #[tokio::test]
    async fn the_hold_after_a_transient_failure_ends_and_the_refresh_is_tried_again() {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};

        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(502))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "access_token": "at-2", "token_type": "bearer", "expires_in": 3600
            })))
            .mount(&server)
            .await;
        let settings = OAuth2Settings::new(
            format!("{}/authorize", server.uri()).parse().unwrap(),
            format!("{}/token", server.uri()).parse().unwrap(),
            "client-1",
        );
        let endpoint = Arc::new(TokenEndpoint::new(Arc::new(AtUri(settings))).unwrap());
        let mut token = OAuth2Token::bearer("still-valid");
        token.refresh_token = Some("rt".into());
        token.expires_in = Some(3600);
        // Inside the 60 s margin: due for a refresh, far from expiring during the test.
        token.expires_at = Some(SystemTime::now() + Duration::from_secs(30));
        let policy = RefreshPolicy {
            retry_after_transient: Duration::from_millis(200),
            ..RefreshPolicy::default()
        };
        let cell = Arc::new(TokenCell::in_memory(
            endpoint,
            "u",
            Credentials::new(token),
            policy,
            None,
        ));
        let requests = || async { server.received_requests().await.unwrap().len() };
        assert_eq!(cell.token().await.unwrap().expose_secret(), "still-valid");
        assert_eq!(cell.token().await.unwrap().expose_secret(), "still-valid");
        assert_eq!(
            requests().await,
            1,
            "held: no second request during the hold"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(cell.token().await.unwrap().expose_secret(), "at-2");
        assert_eq!(requests().await, 2);
    }
}
