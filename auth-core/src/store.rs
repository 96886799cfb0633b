//! The [`CredentialStore`] trait, its record types, and [`MemoryCredentialStore`].
//!
//! Stores keep one record per (provider, subject). Writes can be conditional, as in `object_store`'s
//! `PutMode`: create only if absent, or update only if the stored version is still the one the writer
//! read. The session layer builds single-flight refresh across processes on top of that.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use zeroize::Zeroize;

use crate::error::StoreError;

/// A record's version: assigned by the store, strictly increasing for a given (provider, subject).
pub type Version = u64;

/// The highest version a record can have: databases keep versions as signed 64-bit integers
/// (SQLite's `INTEGER`, PostgreSQL's `bigint`), so every store stops where they do. A store reads a
/// record above it as corrupt, and [`next_version`] refuses to go past it.
pub const MAX_VERSION: Version = i64::MAX as Version;

/// A stored credential payload: JSON bytes holding secrets. `Debug` is redacted and the bytes are
/// wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload(Vec<u8>);

impl Payload {
    /// Wraps payload bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes, for a store to persist (encrypted when a key is configured).
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload([REDACTED; {} bytes])", self.0.len())
    }
}

/// Whether stored credentials can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CredentialStatus {
    /// Usable.
    #[default]
    Active,
    /// The provider rejected the grant (`invalid_grant`): the user must authorize again. The
    /// credentials are kept so that the application can tell who to ask.
    NeedsReauthorization,
}

impl CredentialStatus {
    /// The stable string form stores persist.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialStatus::Active => "active",
            CredentialStatus::NeedsReauthorization => "needs_reauthorization",
        }
    }

    /// Parses [`CredentialStatus::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(CredentialStatus::Active),
            "needs_reauthorization" => Some(CredentialStatus::NeedsReauthorization),
            _ => None,
        }
    }
}

/// A short claim, written with a conditional put, that one process is refreshing the token.
/// Others wait for it to clear; a lease left by a crashed holder expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshLease {
    /// Random id of the holder.
    pub holder: String,
    /// When the claim lapses.
    pub expires_at: SystemTime,
}

/// What a writer hands to [`CredentialStore::put`].
#[derive(Debug, Clone)]
pub struct CredentialRecord {
    /// Provider id.
    pub provider: String,
    /// The user (or tenant) the credentials belong to.
    pub subject: String,
    /// The credentials.
    pub payload: Payload,
    /// Usable or not.
    pub status: CredentialStatus,
    /// A refresh in progress, if any.
    pub lease: Option<RefreshLease>,
}

impl CredentialRecord {
    /// An active record without a lease.
    pub fn new(provider: impl Into<String>, subject: impl Into<String>, payload: Payload) -> Self {
        Self {
            provider: provider.into(),
            subject: subject.into(),
            payload,
            status: CredentialStatus::Active,
            lease: None,
        }
    }
}

/// What a reader gets back from a store.
#[derive(Debug, Clone)]
pub struct StoredCredential {
    /// The record as written.
    pub record: CredentialRecord,
    /// The version the store assigned at the last write.
    pub version: Version,
    /// When the record was first created.
    pub created_at: SystemTime,
    /// When the record was last written.
    pub updated_at: SystemTime,
}

/// How [`CredentialStore::put`] treats an existing record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    /// Write whatever is there.
    Overwrite,
    /// Write only if no record exists; otherwise [`StoreError::AlreadyExists`].
    Create,
    /// Write only if the stored version is still this one; otherwise [`StoreError::VersionMismatch`].
    Update(Version),
}

/// One payload for [`CredentialStore::replace_payloads`] to put in place.
#[derive(Debug, Clone)]
pub struct PayloadReplacement {
    /// Provider id.
    pub provider: String,
    /// Subject.
    pub subject: String,
    /// The version the record must still be at.
    pub version: Version,
    /// The new payload.
    pub payload: Payload,
}

/// What [`CredentialStore::update_or_read`] did.
#[derive(Debug, Clone)]
pub enum Updated {
    /// The record was at the expected version and was written: its new version.
    Written(Version),
    /// The record was not at the expected version and was left alone: the record as it is
    /// now (`None` when there is none).
    Changed(Option<StoredCredential>),
}

/// Durable storage of user credentials by (provider, subject).
///
/// A store keeps payloads as opaque bytes: encryption at rest is a layer over any store
/// (`EncryptedStore`, feature `encryption`), as are other layers.
///
/// Implementations must make `put` atomic with respect to its [`PutMode`] across every handle and
/// process sharing the same backing storage, must number versions as [`next_version`] does
/// (`Create` writes version 1, `Update(v)` writes `v + 1`, `Overwrite` one more than the stored
/// version, or 1; never past [`MAX_VERSION`]): layers above rely on it, `EncryptedStore` binds each
/// payload to the version its put will write. They must pass the conformance suite in
/// `auth_core::testing` (feature `testing`).
///
/// Versions fence writers of one record, not of its successors: a record deleted and created
/// again starts at version 1 again, so a writer still holding a version of the deleted record
/// writes over the new one if that has reached the same version meanwhile. For a refresh, that
/// takes a delete, a new login and a write to the new record (a lease, a rejection) all within
/// the refresh's token request; the service never creates a deleted connector's record again
/// (every connector has a new id).
#[async_trait]
pub trait CredentialStore: Send + Sync + fmt::Debug {
    /// The record for (provider, subject), if any.
    async fn get(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<StoredCredential>, StoreError>;

    /// Writes a record under `mode` and returns its new version, numbered as [`next_version`] does.
    async fn put(&self, record: CredentialRecord, mode: PutMode) -> Result<Version, StoreError>;

    /// Writes `record` if it is at version `expected` (as `put` with [`PutMode::Update`]);
    /// otherwise returns the record as it is now, for a caller that would read it next (one
    /// that lost a race for a refresh lease reads who holds it and until when).
    ///
    /// The default is that `put`, and a `get` after a [`StoreError::VersionMismatch`]; a store
    /// that can read the record in the same round trip overrides it.
    async fn update_or_read(
        &self,
        record: CredentialRecord,
        expected: Version,
    ) -> Result<Updated, StoreError> {
        match self.put(record, PutMode::Update(expected)).await {
            Ok(version) => Ok(Updated::Written(version)),
            Err(StoreError::VersionMismatch {
                provider, subject, ..
            }) => Ok(Updated::Changed(self.get(&provider, &subject).await?)),
            Err(e) => Err(e),
        }
    }

    /// Deletes the record; `true` if there was one.
    async fn delete(&self, provider: &str, subject: &str) -> Result<bool, StoreError>;

    /// Every record, or those of one provider, ordered by (provider, subject).
    async fn list(&self, provider: Option<&str>) -> Result<Vec<StoredCredential>, StoreError>;

    /// The (provider, subject) of every record, or of those of one provider, ordered, without
    /// decoding or decrypting their payloads: a record that cannot be read is still named, so a
    /// caller can read the others one by one when [`CredentialStore::list`] fails.
    ///
    /// The default takes the keys from [`CredentialStore::list`]; stores whose `list` decodes
    /// payloads override it.
    async fn list_subjects(
        &self,
        provider: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .list(provider)
            .await?
            .into_iter()
            .map(|stored| {
                (
                    stored.record.provider.clone(),
                    stored.record.subject.clone(),
                )
            })
            .collect())
    }

    /// Replaces the payload of each record still at the given version, keeping its version,
    /// status, lease and timestamps, and returns how many it replaced: a record written or deleted
    /// since is left alone. For rewriting how a payload is stored without changing what it holds
    /// (`EncryptedStore::rotate` re-seals payloads under a new key this way, so that no process
    /// holding the record sees its version move). Stores apply the batch in one transaction where
    /// they can, and leave no earlier form of a replaced payload behind where they can.
    ///
    /// Required, so that every store's credentials can move to a new key; a store that wraps
    /// another passes it on.
    async fn replace_payloads(
        &self,
        replacements: Vec<PayloadReplacement>,
    ) -> Result<usize, StoreError>;

    /// Waits before a caller reads the record of (provider, subject) again, after finding it
    /// leased by another holder: the token cell calls it while it waits for that holder's
    /// refresh. `poll_interval` is how often the caller would poll; `max_wait` how long it may
    /// wait at most (until the lease lapses, or the caller gives up).
    ///
    /// The default sleeps `poll_interval` (at most `max_wait`): the caller polls. A store that
    /// hears of writes made by other processes (PostgreSQL's `LISTEN`/`NOTIFY`) may instead wait
    /// up to `max_wait` and return as soon as the record is written. Returning early for any
    /// reason is allowed (the caller reads again); waiting past `max_wait` is not.
    ///
    /// The token cell starts the wait before it reads the record (it polls the future once) and
    /// awaits it only when the read finds another holder's lease, ending it when that lease
    /// lapses: so such a store should start listening for writes at the first poll, and a
    /// write that lands between the caller's read and its wait then still ends the wait.
    async fn wait_for_change(
        &self,
        provider: &str,
        subject: &str,
        poll_interval: Duration,
        max_wait: Duration,
    ) {
        let _ = (provider, subject);
        tokio::time::sleep(poll_interval.min(max_wait)).await;
    }

    /// A short description for messages and logs, e.g. `sqlite:/var/lib/app/creds.db`.
    fn describe(&self) -> String;
}

#[async_trait]
impl<T: CredentialStore + ?Sized> CredentialStore for Arc<T> {
    async fn get(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<StoredCredential>, StoreError> {
        (**self).get(provider, subject).await
    }
    async fn put(&self, record: CredentialRecord, mode: PutMode) -> Result<Version, StoreError> {
        (**self).put(record, mode).await
    }
    async fn update_or_read(
        &self,
        record: CredentialRecord,
        expected: Version,
    ) -> Result<Updated, StoreError> {
        (**self).update_or_read(record, expected).await
    }
    async fn delete(&self, provider: &str, subject: &str) -> Result<bool, StoreError> {
        (**self).delete(provider, subject).await
    }
    async fn list(&self, provider: Option<&str>) -> Result<Vec<StoredCredential>, StoreError> {
        (**self).list(provider).await
    }
    async fn list_subjects(
        &self,
        provider: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        (**self).list_subjects(provider).await
    }
    async fn replace_payloads(
        &self,
        replacements: Vec<PayloadReplacement>,
    ) -> Result<usize, StoreError> {
        (**self).replace_payloads(replacements).await
    }
    async fn wait_for_change(
        &self,
        provider: &str,
        subject: &str,
        poll_interval: Duration,
        max_wait: Duration,
    ) {
        (**self)
            .wait_for_change(provider, subject, poll_interval, max_wait)
            .await
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// Checks `mode` against the current version and computes the next one. Shared by every store so
/// that conditional-put semantics are identical everywhere.
///
/// A record at [`MAX_VERSION`] or above cannot be written again: no store counts that far, so it
/// is [`StoreError::Corrupt`], naming the store kind `store` (`"sqlite"`, `"file"`) and its
/// `location` (a path), and the record is left as it is.
pub fn next_version(
    store: &'static str,
    location: &str,
    provider: &str,
    subject: &str,
    current: Option<Version>,
    mode: PutMode,
) -> Result<Version, StoreError> {
    match (mode, current) {
        (PutMode::Create, Some(_)) => Err(StoreError::AlreadyExists {
            provider: provider.to_string(),
            subject: subject.to_string(),
        }),
        (PutMode::Update(expected), found) if found != Some(expected) => {
            Err(StoreError::VersionMismatch {
                provider: provider.to_string(),
                subject: subject.to_string(),
                expected,
                found,
            })
        }
        (_, None) => Ok(1),
        (_, Some(current)) => current
            .checked_add(1)
            .filter(|next| *next <= MAX_VERSION)
            .ok_or_else(|| StoreError::Corrupt {
                store,
                location: location.to_string(),
                reason: format!(
                    "the record for {provider}/{subject} is at version {current}, and versions stop at {MAX_VERSION}: it was damaged or edited by hand"
                ),
            }),
    }
}

/// Milliseconds since the Unix epoch (negative before it, saturating far from it): how stores
/// persist timestamps and lease expiries.
pub fn millis_since_epoch(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// The inverse of [`millis_since_epoch`].
pub fn time_from_millis(ms: i64) -> SystemTime {
    let offset = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH.checked_add(offset).unwrap_or(UNIX_EPOCH)
    } else {
        UNIX_EPOCH.checked_sub(offset).unwrap_or(UNIX_EPOCH)
    }
}

/// Credentials held in this process's memory: for tests, examples and short-lived tools.
#[derive(Debug, Default, Clone)]
pub struct MemoryCredentialStore {
    records: Arc<Mutex<BTreeMap<(String, String), StoredCredential>>>,
}

impl MemoryCredentialStore {
    /// An empty store. Clones share the same records.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), StoredCredential>> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl CredentialStore for MemoryCredentialStore {
    async fn get(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<StoredCredential>, StoreError> {
        Ok(self
            .lock()
            .get(&(provider.to_string(), subject.to_string()))
            .cloned())
    }

    async fn put(&self, record: CredentialRecord, mode: PutMode) -> Result<Version, StoreError> {
        let mut records = self.lock();
        let key = (record.provider.clone(), record.subject.clone());
        let existing = records.get(&key);
        let version = next_version(
            "memory",
            "memory",
            &key.0,
            &key.1,
            existing.map(|r| r.version),
            mode,
        )?;
        let now = SystemTime::now();
        let created_at = existing.map_or(now, |r| r.created_at);
        records.insert(
            key,
            StoredCredential {
                record,
                version,
                created_at,
                updated_at: now,
            },
        );
        Ok(version)
    }

    async fn delete(&self, provider: &str, subject: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .remove(&(provider.to_string(), subject.to_string()))
            .is_some())
    }

    async fn list(&self, provider: Option<&str>) -> Result<Vec<StoredCredential>, StoreError> {
        Ok(self
            .lock()
            .values()
            .filter(|r| provider.is_none_or(|p| r.record.provider == p))
            .cloned()
            .collect())
    }

    async fn replace_payloads(
        &self,
        replacements: Vec<PayloadReplacement>,
    ) -> Result<usize, StoreError> {
        let mut records = self.lock();
        let mut replaced = 0;
        for r in replacements {
            if let Some(stored) = records
                .get_mut(&(r.provider, r.subject))
                .filter(|stored| stored.version == r.version)
            {
                stored.record.payload = r.payload;
                replaced += 1;
            }
        }
        Ok(replaced)
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_default_wait_for_change_sleeps_the_poll_interval() {
        let store = MemoryCredentialStore::new();
        let start = tokio::time::Instant::now();
        store
            .wait_for_change("p", "s", Duration::from_millis(25), Duration::from_secs(30))
            .await;
        assert_eq!(start.elapsed(), Duration::from_millis(25));
        let start = tokio::time::Instant::now();
        store
            .wait_for_change(
                "p",
                "s",
                Duration::from_millis(25),
                Duration::from_millis(10),
            )
            .await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(10),
            "never past max_wait"
        );
    }

    #[test]
    fn payload_debug_is_redacted() {
        let p = Payload::new(b"{\"access_token\":\"canary\"}".to_vec());
        assert_eq!(format!("{p:?}"), "Payload([REDACTED; 25 bytes])");
    }

    #[test]
    fn millis_round_trip_both_sides_of_the_epoch() {
        for ms in [0i64, 1, 1_700_000_000_123, -1, -86_400_000] {
            assert_eq!(millis_since_epoch(time_from_millis(ms)), ms);
        }
        assert_eq!(
            millis_since_epoch(UNIX_EPOCH + Duration::from_micros(1_999)),
            1,
            "sub-millisecond parts are dropped"
        );
    }

    #[test]
    fn next_version_rules() {
        assert_eq!(
            next_version("memory", "memory", "p", "s", None, PutMode::Create).unwrap(),
            1
        );
        assert!(matches!(
            next_version("memory", "memory", "p", "s", Some(1), PutMode::Create),
            Err(StoreError::AlreadyExists { .. })
        ));
        assert_eq!(
            next_version("memory", "memory", "p", "s", Some(4), PutMode::Update(4)).unwrap(),
            5
        );
        assert!(matches!(
            next_version("memory", "memory", "p", "s", Some(5), PutMode::Update(4)),
            Err(StoreError::VersionMismatch {
                expected: 4,
                found: Some(5),
                ..
            })
        ));
        assert!(matches!(
            next_version("memory", "memory", "p", "s", None, PutMode::Update(4)),
            Err(StoreError::VersionMismatch { found: None, .. })
        ));
        assert_eq!(
            next_version("memory", "memory", "p", "s", Some(9), PutMode::Overwrite).unwrap(),
            10
        );
        assert_eq!(
            next_version(
                "memory",
                "memory",
                "p",
                "s",
                Some(MAX_VERSION - 1),
                PutMode::Update(MAX_VERSION - 1)
            )
            .unwrap(),
            MAX_VERSION
        );
    }

    #[test]
    fn next_version_never_goes_past_the_highest_version() {
        assert_eq!(MAX_VERSION, 9_223_372_036_854_775_807);
        for (current, mode) in [
            (MAX_VERSION, PutMode::Update(MAX_VERSION)),
            (MAX_VERSION, PutMode::Overwrite),
            (MAX_VERSION + 1, PutMode::Overwrite),
            (u64::MAX, PutMode::Update(u64::MAX)),
            (u64::MAX, PutMode::Overwrite),
        ] {
            match next_version("file", "/tmp/c.json", "p", "s", Some(current), mode) {
                Err(e @ StoreError::Corrupt { .. }) => assert_eq!(
                    e.to_string(),
                    format!(
                        "file store at /tmp/c.json is corrupt: the record for p/s is at version {current}, and versions stop at 9223372036854775807: it was damaged or edited by hand; it was left untouched, restore it from a backup or move it away"
                    )
                ),
                other => panic!("{current}, {mode:?}: expected Corrupt, got {other:?}"),
            }
        }
    }
}
