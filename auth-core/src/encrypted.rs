//! [`EncryptedStore`]: encryption at rest as a layer over any [`CredentialStore`], as
//! `object_store` composes `PrefixStore<T>` (feature `encryption`).
//!
//! The store underneath keeps each payload as opaque bytes; this layer seals what it writes into
//! an [`Envelope`] bound to (provider, subject) and the record's version, and opens what it reads.
//! See [`crate::crypto`] for what that protects against and what it does not.
//!
//! # Binding the version a write will get
//! A payload must be sealed before the store assigns its version, so this layer relies on the
//! version rule of the [`CredentialStore`] contract (checked by the conformance suite): `Create`
//! writes version 1 and `Update(v)` writes `v + 1`. It seals with that version, and refuses the
//! result if the store reports another one. An `Overwrite` becomes a conditional put: the layer
//! reads the current version and writes with `Update` (or `Create`), again after a lost race, so
//! that the version it sealed for is the one written.
//!
//! # Rotation
//! [`EncryptedStore::rotate`] re-seals, under the primary key and in the current [`Envelope`]
//! format, every record that is not: written under an old key, stored in plaintext, or handed up
//! by the store from the layout of earlier releases. It replaces payloads in place with
//! [`CredentialStore::replace_payloads`], so versions, statuses, leases and timestamps are kept.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::crypto::{Envelope, KeyRing, accept_plaintext, unseal};
use crate::error::StoreError;
use crate::store::{
    CredentialRecord, CredentialStore, Payload, PayloadReplacement, PutMode, StoredCredential,
    Updated, Version,
};

/// Store kind in this layer's errors.
const LAYER: &str = "encrypted";

/// How often an `Overwrite` re-reads the version after losing a race before it gives up.
const OVERWRITE_ATTEMPTS: usize = 64;

/// How often `rotate` lists the store again because records changed while it ran.
const ROTATE_ROUNDS: usize = 8;

/// A [`CredentialStore`] whose payloads are encrypted at rest, over any store `S` (feature
/// `encryption`).
///
/// With a [`KeyRing`], every payload written is sealed under its primary key, payloads under any of
/// its keys are read, and a record the store holds in plaintext is refused with
/// [`StoreError::Unencrypted`] until [`EncryptedStore::rotate`] encrypts it. Without one (see
/// [`EncryptedStore::with_keys`]), payloads are written in clear and a sealed one fails to read
/// with [`StoreError::MissingKey`].
///
/// `Debug` shows the store underneath and the key ids, never a key or a payload.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use auth_core::crypto::{EncryptionKey, KeyRing};
/// use auth_core::{CredentialRecord, CredentialStore, EncryptedStore, MemoryCredentialStore, Payload, PutMode};
///
/// let memory = MemoryCredentialStore::new();
/// let store = EncryptedStore::new(memory.clone(), KeyRing::new(EncryptionKey::generate()));
/// let record = CredentialRecord::new("asana", "user-1", Payload::new(br#"{"access_token":"t1"}"#.to_vec()));
/// let version = store.put(record, PutMode::Create).await?;
///
/// let read = store.get("asana", "user-1").await?.expect("stored");
/// assert_eq!((read.version, read.record.payload.expose_bytes()), (version, &br#"{"access_token":"t1"}"#[..]));
/// let underneath = memory.get("asana", "user-1").await?.expect("stored");
/// assert!(!String::from_utf8_lossy(underneath.record.payload.expose_bytes()).contains("t1"));
/// assert_eq!(store.rotate().await?, 0, "already under the primary key");
/// # Ok::<(), auth_core::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct EncryptedStore<S> {
    inner: S,
    keys: Option<Arc<KeyRing>>,
}

impl<S: CredentialStore> EncryptedStore<S> {
    /// `inner`, encrypted with `keys`.
    pub fn new(inner: S, keys: KeyRing) -> Self {
        Self::with_keys(inner, Some(keys))
    }

    /// `inner`, encrypted with `keys` when there are keys; in clear otherwise. Store builders use
    /// it with the key ring they resolved (from `INTEGRATIONS_ENCRYPTION_KEY`, say).
    pub fn with_keys(inner: S, keys: Option<KeyRing>) -> Self {
        Self {
            inner,
            keys: keys.map(Arc::new),
        }
    }

    /// Whether new writes are encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.keys.is_some()
    }

    /// The store underneath.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The store underneath, for what only it does (closing a SQLite store, say).
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Re-seals under the key ring's primary key, bound to its version and in the current
    /// [`Envelope`] format, every record written under an old key, stored in plaintext (the only
    /// way such a record is read while a key is configured), sealed by an earlier release without
    /// its version, or kept in a store's earlier layout; returns how many it rewrote. Versions,
    /// statuses, leases and timestamps are kept. If any record cannot be decrypted nothing is
    /// changed.
    ///
    /// Fails with [`StoreError::InvalidKey`] when the store has no key ring.
    pub async fn rotate(&self) -> Result<usize, StoreError> {
        let Some(keys) = self.keys.as_deref() else {
            return Err(StoreError::InvalidKey {
                reason: format!(
                    "{}: no encryption key is configured, so there is nothing to rotate to; set INTEGRATIONS_ENCRYPTION_KEY or pass a KeyRing to the builder",
                    self.describe()
                ),
            });
        };
        let mut rewritten = 0;
        for _ in 0..ROTATE_ROUNDS {
            let replacements = self.resealed(keys).await?;
            if replacements.is_empty() {
                return Ok(rewritten);
            }
            rewritten += self.inner.replace_payloads(replacements).await?;
        }
        Err(StoreError::Backend {
            store: LAYER,
            message: format!(
                "{}: records kept changing while rotate ran ({rewritten} re-encrypted so far); run it again",
                self.describe()
            ),
        })
    }

    /// Every record that is not current, re-sealed. Reads them all before anything is written, so
    /// that one that cannot be decrypted stops the rotation before it starts.
    async fn resealed(&self, keys: &KeyRing) -> Result<Vec<PayloadReplacement>, StoreError> {
        let mut replacements = Vec::new();
        for stored in self.inner.list(None).await? {
            let record = stored.record;
            let (provider, subject) = (record.provider.as_str(), record.subject.as_str());
            let payload = match self.envelope(provider, subject, &record.payload)? {
                Some(envelope) if envelope.is_current(keys) => continue,
                Some(envelope) => {
                    keys.open(provider, subject, stored.version, envelope.sealed())?
                }
                // The one place a plaintext record is read while a key is configured: to encrypt it.
                None => record.payload,
            };
            replacements.push(PayloadReplacement {
                payload: keys.seal_envelope(
                    &record.provider,
                    &record.subject,
                    stored.version,
                    payload.expose_bytes(),
                )?,
                provider: record.provider,
                subject: record.subject,
                version: stored.version,
            });
        }
        Ok(replacements)
    }

    /// The envelope a stored payload holds, `None` for a plaintext one.
    fn envelope(
        &self,
        provider: &str,
        subject: &str,
        payload: &Payload,
    ) -> Result<Option<Envelope>, StoreError> {
        envelope(provider, subject, payload, || self.inner.describe())
    }

    /// The record as its writer put it: decrypted, or refused.
    fn open(&self, stored: StoredCredential) -> Result<StoredCredential, StoreError> {
        open(self.keys.as_deref(), stored, || self.inner.describe())
    }

    /// What opens records read from the store underneath by other means (a query that joins its
    /// table, say) as [`CredentialStore::get`] answers them. The service reads a connector's
    /// record with the connector this way, and hands it to the connector's token source
    /// ([`RefreshingTokenSource::offer`](crate::RefreshingTokenSource::offer)).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use auth_core::crypto::{EncryptionKey, KeyRing};
    /// use auth_core::{CredentialRecord, CredentialStore, EncryptedStore, MemoryCredentialStore, Payload, PutMode};
    ///
    /// let memory = MemoryCredentialStore::new();
    /// let store = EncryptedStore::new(memory.clone(), KeyRing::new(EncryptionKey::generate()));
    /// let record = CredentialRecord::new("asana", "user-1", Payload::new(br#"{"access_token":"t1"}"#.to_vec()));
    /// store.put(record, PutMode::Create).await?;
    ///
    /// let sealed = memory.get("asana", "user-1").await?.expect("stored");
    /// let opened = store.opener().open(sealed)?;
    /// assert_eq!(opened.record.payload.expose_bytes(), br#"{"access_token":"t1"}"#);
    /// # Ok::<(), auth_core::StoreError>(())
    /// # }).unwrap();
    /// ```
    pub fn opener(&self) -> RecordOpener {
        RecordOpener {
            keys: self.keys.clone(),
            location: self.inner.describe().into(),
        }
    }

    /// Writes `record` sealed for `version`, the version `mode` gives it by the store contract.
    async fn put_sealed(
        &self,
        keys: &KeyRing,
        mut record: CredentialRecord,
        mode: PutMode,
        version: Version,
    ) -> Result<Version, StoreError> {
        seal(keys, &mut record, version)?;
        let (provider, subject) = (record.provider.clone(), record.subject.clone());
        let written = self.inner.put(record, mode).await?;
        if written != version {
            return Err(self.misnumbered(&provider, &subject, written, version));
        }
        Ok(written)
    }

    /// The inner store wrote (provider, subject) as `written` where the contract says `version`.
    fn misnumbered(
        &self,
        provider: &str,
        subject: &str,
        written: Version,
        version: Version,
    ) -> StoreError {
        StoreError::Backend {
            store: LAYER,
            message: format!(
                "{} wrote {provider}/{subject} as version {written} where the CredentialStore contract says {version}, so the payload sealed for {version} will not decrypt; this store cannot be encrypted with EncryptedStore until it numbers versions as the contract says",
                self.describe()
            ),
        }
    }

    /// `Overwrite` as conditional puts, so that the version sealed for is the one written.
    async fn overwrite(
        &self,
        keys: &KeyRing,
        record: CredentialRecord,
    ) -> Result<Version, StoreError> {
        let mut last = None;
        for _ in 0..OVERWRITE_ATTEMPTS {
            let current = self
                .inner
                .get(&record.provider, &record.subject)
                .await?
                .map(|stored| stored.version);
            let (mode, version) = match current {
                Some(v) => (PutMode::Update(v), next(&record, v)?),
                None => (PutMode::Create, 1),
            };
            match self.put_sealed(keys, record.clone(), mode, version).await {
                Err(
                    lost @ (StoreError::VersionMismatch { .. } | StoreError::AlreadyExists { .. }),
                ) => last = Some(lost),
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| StoreError::Backend {
            store: LAYER,
            message: format!(
                "{}: other writers kept changing {}/{}; retry later",
                self.describe(),
                record.provider,
                record.subject
            ),
        }))
    }
}

/// Opens the records of an [`EncryptedStore`] read from the store underneath by other means, as
/// the store's `get` answers them: decrypted, or refused (a plaintext record while the store has
/// a key ring, a payload no key opens). Cheap to clone. See [`EncryptedStore::opener`]. Needs the
/// `encryption` feature.
///
/// `Debug` shows the store underneath and whether there are keys, never a key.
#[derive(Clone)]
pub struct RecordOpener {
    keys: Option<Arc<KeyRing>>,
    location: Arc<str>,
}

impl RecordOpener {
    /// `stored` as the store's `get` would answer it. `stored` must be the record as the store
    /// underneath holds it, version included (the payload is bound to it).
    pub fn open(&self, stored: StoredCredential) -> Result<StoredCredential, StoreError> {
        open(self.keys.as_deref(), stored, || self.location.to_string())
    }
}

impl fmt::Debug for RecordOpener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordOpener")
            .field("location", &self.location)
            .field("encrypted", &self.keys.is_some())
            .finish()
    }
}

/// The envelope a stored payload holds, `None` for a plaintext one; `location` names the store
/// in an error.
fn envelope(
    provider: &str,
    subject: &str,
    payload: &Payload,
    location: impl FnOnce() -> String,
) -> Result<Option<Envelope>, StoreError> {
    Envelope::parse(payload.expose_bytes()).map_err(|reason| StoreError::Corrupt {
        store: LAYER,
        location: location(),
        reason: format!("the record for {provider}/{subject} holds {reason}"),
    })
}

/// The record as its writer put it: decrypted with `keys`, or refused.
fn open(
    keys: Option<&KeyRing>,
    mut stored: StoredCredential,
    location: impl FnOnce() -> String,
) -> Result<StoredCredential, StoreError> {
    let record = &stored.record;
    let (provider, subject) = (record.provider.as_str(), record.subject.as_str());
    let payload = match envelope(provider, subject, &record.payload, location)? {
        Some(envelope) => unseal(keys, provider, subject, stored.version, envelope.sealed())?,
        None => accept_plaintext(keys, provider, subject, record.payload.clone())?,
    };
    stored.record.payload = payload;
    Ok(stored)
}

/// Seals `record`'s payload for `version`, the version its write will give it.
fn seal(keys: &KeyRing, record: &mut CredentialRecord, version: Version) -> Result<(), StoreError> {
    record.payload = keys.seal_envelope(
        &record.provider,
        &record.subject,
        version,
        record.payload.expose_bytes(),
    )?;
    Ok(())
}

/// The version after `v`, which the store contract gives an `Update(v)`.
fn next(record: &CredentialRecord, v: Version) -> Result<Version, StoreError> {
    v.checked_add(1).ok_or_else(|| StoreError::Backend {
        store: LAYER,
        message: format!(
            "{}/{} is at the last possible version; delete it and store it again",
            record.provider, record.subject
        ),
    })
}

impl<S: fmt::Debug> fmt::Debug for EncryptedStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedStore")
            .field("inner", &self.inner)
            .field("key_ring", &self.keys)
            .finish()
    }
}

#[async_trait]
impl<S: CredentialStore> CredentialStore for EncryptedStore<S> {
    async fn get(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<StoredCredential>, StoreError> {
        self.inner
            .get(provider, subject)
            .await?
            .map(|stored| self.open(stored))
            .transpose()
    }

    async fn put(&self, record: CredentialRecord, mode: PutMode) -> Result<Version, StoreError> {
        let Some(keys) = self.keys.as_deref() else {
            return self.inner.put(record, mode).await;
        };
        match mode {
            PutMode::Create => self.put_sealed(keys, record, mode, 1).await,
            PutMode::Update(v) => {
                let version = next(&record, v)?;
                self.put_sealed(keys, record, mode, version).await
            }
            PutMode::Overwrite => self.overwrite(keys, record).await,
        }
    }

    async fn update_or_read(
        &self,
        mut record: CredentialRecord,
        expected: Version,
    ) -> Result<Updated, StoreError> {
        let Some(keys) = self.keys.as_deref() else {
            return Ok(match self.inner.update_or_read(record, expected).await? {
                Updated::Changed(current) => {
                    Updated::Changed(current.map(|c| self.open(c)).transpose()?)
                }
                written => written,
            });
        };
        let version = next(&record, expected)?;
        seal(keys, &mut record, version)?;
        let (provider, subject) = (record.provider.clone(), record.subject.clone());
        match self.inner.update_or_read(record, expected).await? {
            Updated::Written(written) if written != version => {
                Err(self.misnumbered(&provider, &subject, written, version))
            }
            Updated::Written(written) => Ok(Updated::Written(written)),
            Updated::Changed(current) => {
                Ok(Updated::Changed(current.map(|c| self.open(c)).transpose()?))
            }
        }
    }

    async fn delete(&self, provider: &str, subject: &str) -> Result<bool, StoreError> {
        self.inner.delete(provider, subject).await
    }

    async fn list(&self, provider: Option<&str>) -> Result<Vec<StoredCredential>, StoreError> {
        self.inner
            .list(provider)
            .await?
            .into_iter()
            .map(|stored| self.open(stored))
            .collect()
    }

    async fn list_subjects(
        &self,
        provider: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.list_subjects(provider).await
    }

    async fn replace_payloads(
        &self,
        replacements: Vec<PayloadReplacement>,
    ) -> Result<usize, StoreError> {
        let sealed = match self.keys.as_deref() {
            None => replacements,
            Some(keys) => replacements
                .into_iter()
                .map(|r| {
                    Ok(PayloadReplacement {
                        payload: keys.seal_envelope(
                            &r.provider,
                            &r.subject,
                            r.version,
                            r.payload.expose_bytes(),
                        )?,
                        ..r
                    })
                })
                .collect::<Result<_, StoreError>>()?,
        };
        self.inner.replace_payloads(sealed).await
    }

    async fn wait_for_change(
        &self,
        provider: &str,
        subject: &str,
        poll_interval: std::time::Duration,
        max_wait: std::time::Duration,
    ) {
        self.inner
            .wait_for_change(provider, subject, poll_interval, max_wait)
            .await
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::crypto::{EncryptionKey, SealFormat};
    use crate::store::{CredentialStatus, MemoryCredentialStore, RefreshLease};

    fn key(byte: u8) -> EncryptionKey {
        EncryptionKey::from_bytes([byte; 32])
    }

    fn json(n: u64) -> Payload {
        Payload::new(format!(r#"{{"access_token":"canary-{n}"}}"#).into_bytes())
    }

    fn record(subject: &str, n: u64) -> CredentialRecord {
        CredentialRecord::new("p", subject, json(n))
    }

    /// An encrypted store over `memory`, with key 1.
    fn encrypted(memory: &MemoryCredentialStore) -> EncryptedStore<MemoryCredentialStore> {
        EncryptedStore::new(memory.clone(), KeyRing::new(key(1)))
    }

    /// The envelope the memory store holds for `p`/`subject`.
    async fn stored_envelope(memory: &MemoryCredentialStore, subject: &str) -> Envelope {
        let stored = memory.get("p", subject).await.unwrap().unwrap();
        Envelope::parse(stored.record.payload.expose_bytes())
            .unwrap()
            .expect("an envelope")
    }

    #[tokio::test]
    async fn the_store_underneath_holds_current_envelopes_and_no_token() {
        let memory = MemoryCredentialStore::new();
        let store = encrypted(&memory);
        let v1 = store.put(record("s", 1), PutMode::Create).await.unwrap();
        let v2 = store
            .put(record("s", 2), PutMode::Update(v1))
            .await
            .unwrap();
        let raw = memory.get("p", "s").await.unwrap().unwrap();
        assert_eq!(raw.version, v2);
        assert!(
            !String::from_utf8_lossy(raw.record.payload.expose_bytes()).contains("canary"),
            "the token must not be stored in clear"
        );
        let envelope = stored_envelope(&memory, "s").await;
        assert_eq!(envelope.format_version(), Envelope::CURRENT);
        assert_eq!(envelope.sealed().key_id, key(1).id());
        assert_eq!(envelope.sealed().format, SealFormat::Versioned);
        let read = store.get("p", "s").await.unwrap().unwrap();
        assert_eq!((read.version, read.record.payload), (v2, json(2)));
    }

    #[tokio::test]
    async fn a_plaintext_record_is_refused_until_rotate_encrypts_it_in_place() {
        let memory = MemoryCredentialStore::new();
        let mut planted = record("planted", 1);
        planted.status = CredentialStatus::NeedsReauthorization;
        planted.lease = Some(RefreshLease {
            holder: "h".into(),
            expires_at: SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000),
        });
        memory.put(planted.clone(), PutMode::Create).await.unwrap();
        let v = memory.put(planted, PutMode::Update(1)).await.unwrap();
        let store = encrypted(&memory);
        let err = store.get("p", "planted").await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Unencrypted { provider, subject } if (provider.as_str(), subject.as_str()) == ("p", "planted")),
            "{err:?}"
        );
        assert!(!format!("{err} {err:?}").contains("canary"));
        assert!(matches!(
            store.list(None).await,
            Err(StoreError::Unencrypted { .. })
        ));
        assert_eq!(
            store.list_subjects(None).await.unwrap(),
            [("p".to_string(), "planted".to_string())]
        );

        assert_eq!(store.rotate().await.unwrap(), 1);
        assert_eq!(store.rotate().await.unwrap(), 0, "nothing left to rotate");
        let read = store.get("p", "planted").await.unwrap().unwrap();
        assert_eq!(read.version, v, "rotate keeps the version");
        assert_eq!(read.record.payload, json(1));
        assert_eq!(read.record.status, CredentialStatus::NeedsReauthorization);
        assert_eq!(read.record.lease.map(|l| l.holder), Some("h".into()));
        assert!(
            stored_envelope(&memory, "planted")
                .await
                .is_current(&KeyRing::new(key(1)))
        );
    }

    #[tokio::test]
    async fn without_a_key_sealed_records_are_missing_key_and_writes_are_in_clear() {
        let memory = MemoryCredentialStore::new();
        encrypted(&memory)
            .put(record("sealed", 1), PutMode::Create)
            .await
            .unwrap();
        let plain = EncryptedStore::with_keys(memory.clone(), None);
        assert!(!plain.is_encrypted());
        assert!(matches!(
            plain.get("p", "sealed").await,
            Err(StoreError::MissingKey { provider, subject }) if subject == "sealed" && provider == "p"
        ));
        plain
            .put(record("clear", 2), PutMode::Create)
            .await
            .unwrap();
        assert_eq!(
            memory
                .get("p", "clear")
                .await
                .unwrap()
                .unwrap()
                .record
                .payload,
            json(2)
        );
        assert!(matches!(
            plain.rotate().await,
            Err(StoreError::InvalidKey { reason }) if reason.contains("memory")
        ));
    }

    #[tokio::test]
    async fn a_payload_moved_to_another_record_or_put_back_over_a_newer_version_is_refused() {
        let memory = MemoryCredentialStore::new();
        let store = encrypted(&memory);
        let v1 = store.put(record("a", 1), PutMode::Create).await.unwrap();
        store.put(record("b", 2), PutMode::Create).await.unwrap();
        let first = memory.get("p", "a").await.unwrap().unwrap().record.payload;
        let v2 = store
            .put(record("a", 3), PutMode::Update(v1))
            .await
            .unwrap();

        let put_back = PayloadReplacement {
            provider: "p".into(),
            subject: "a".into(),
            version: v2,
            payload: first.clone(),
        };
        assert_eq!(memory.replace_payloads(vec![put_back]).await.unwrap(), 1);
        assert!(matches!(
            store.get("p", "a").await,
            Err(StoreError::Decrypt { subject, .. }) if subject == "a"
        ));
        let moved = PayloadReplacement {
            provider: "p".into(),
            subject: "b".into(),
            version: 1,
            payload: first,
        };
        assert_eq!(memory.replace_payloads(vec![moved]).await.unwrap(), 1);
        assert!(matches!(
            store.get("p", "b").await,
            Err(StoreError::Decrypt { subject, .. }) if subject == "b"
        ));
        assert_eq!(
            store.rotate().await.unwrap(),
            0,
            "current envelopes are left as they are, readable or not"
        );
    }

    #[tokio::test]
    async fn rotate_reads_every_record_before_it_writes_any() {
        let memory = MemoryCredentialStore::new();
        memory
            .put(record("a-plain", 1), PutMode::Create)
            .await
            .unwrap();
        EncryptedStore::new(memory.clone(), KeyRing::new(key(9)))
            .put(record("b-unknown-key", 2), PutMode::Create)
            .await
            .unwrap();
        let store = encrypted(&memory);
        assert!(matches!(
            store.rotate().await,
            Err(StoreError::UnknownKey { key_id, .. }) if key_id == key(9).id()
        ));
        assert_eq!(
            memory
                .get("p", "a-plain")
                .await
                .unwrap()
                .unwrap()
                .record
                .payload,
            json(1),
            "nothing was rewritten"
        );
    }

    #[tokio::test]
    async fn old_keys_and_earlier_layouts_read_and_rotate_rewrites_them_as_current() {
        let memory = MemoryCredentialStore::new();
        EncryptedStore::new(memory.clone(), KeyRing::new(key(2)))
            .put(record("old-key", 1), PutMode::Create)
            .await
            .unwrap();
        let earlier = KeyRing::new(key(1))
            .seal("p", "earlier", 1, json(2).expose_bytes())
            .unwrap();
        memory
            .put(
                CredentialRecord::new(
                    "p",
                    "earlier",
                    Payload::new(Envelope::from_earlier_layout(earlier).to_bytes()),
                ),
                PutMode::Create,
            )
            .await
            .unwrap();
        let ring = KeyRing::new(key(1)).with_old_key(key(2));
        let store = EncryptedStore::new(memory.clone(), ring.clone());
        assert_eq!(
            store
                .get("p", "old-key")
                .await
                .unwrap()
                .unwrap()
                .record
                .payload,
            json(1)
        );
        assert_eq!(
            store
                .get("p", "earlier")
                .await
                .unwrap()
                .unwrap()
                .record
                .payload,
            json(2)
        );
        assert_eq!(
            stored_envelope(&memory, "earlier").await.format_version(),
            2
        );

        assert_eq!(store.rotate().await.unwrap(), 2);
        for subject in ["earlier", "old-key"] {
            assert!(
                stored_envelope(&memory, subject).await.is_current(&ring),
                "{subject}"
            );
        }
        let new_only = EncryptedStore::new(memory.clone(), KeyRing::new(key(1)));
        assert_eq!(new_only.list(None).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_damaged_envelope_is_corrupt_names_the_record_and_can_be_deleted() {
        let memory = MemoryCredentialStore::new();
        let store = encrypted(&memory);
        store.put(record("s", 1), PutMode::Create).await.unwrap();
        let bytes = memory.get("p", "s").await.unwrap().unwrap().record.payload;
        for damaged in [
            bytes.expose_bytes()[..12].to_vec(),
            [&bytes.expose_bytes()[..4], &[9u8][..]].concat(),
        ] {
            memory
                .put(
                    CredentialRecord::new("p", "s", Payload::new(damaged)),
                    PutMode::Overwrite,
                )
                .await
                .unwrap();
            match store.get("p", "s").await {
                Err(StoreError::Corrupt {
                    location, reason, ..
                }) => {
                    assert_eq!(location, "memory");
                    assert!(reason.contains("p/s"), "{reason}");
                }
                other => panic!("expected Corrupt, got {other:?}"),
            }
        }
        assert!(store.delete("p", "s").await.unwrap());
    }

    /// A memory store that numbers versions one too high.
    #[derive(Debug)]
    struct Skewed(MemoryCredentialStore);

    #[async_trait]
    impl CredentialStore for Skewed {
        async fn get(
            &self,
            provider: &str,
            subject: &str,
        ) -> Result<Option<StoredCredential>, StoreError> {
            self.0.get(provider, subject).await
        }
        async fn put(
            &self,
            record: CredentialRecord,
            mode: PutMode,
        ) -> Result<Version, StoreError> {
            self.0.put(record, mode).await.map(|v| v + 1)
        }
        async fn delete(&self, provider: &str, subject: &str) -> Result<bool, StoreError> {
            self.0.delete(provider, subject).await
        }
        async fn list(&self, provider: Option<&str>) -> Result<Vec<StoredCredential>, StoreError> {
            self.0.list(provider).await
        }
        async fn replace_payloads(
            &self,
            replacements: Vec<PayloadReplacement>,
        ) -> Result<usize, StoreError> {
            self.0.replace_payloads(replacements).await
        }
        fn describe(&self) -> String {
            "skewed".into()
        }
    }

    #[tokio::test]
    async fn a_store_that_numbers_versions_otherwise_is_refused() {
        let memory = MemoryCredentialStore::new();
        memory
            .put(record("plain", 1), PutMode::Create)
            .await
            .unwrap();
        let store = EncryptedStore::new(Skewed(memory), KeyRing::new(key(1)));
        match store.put(record("s", 1), PutMode::Create).await {
            Err(StoreError::Backend { message, .. }) => {
                assert!(message.contains("version 2"), "{message}");
                assert!(message.contains("contract says 1"), "{message}");
            }
            other => panic!("expected Backend, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn debug_shows_key_ids_and_no_key() {
        let k = key(0x41);
        let store = EncryptedStore::new(MemoryCredentialStore::new(), KeyRing::new(k.clone()));
        store.put(record("s", 1), PutMode::Create).await.unwrap();
        let debug = format!("{store:?}");
        assert!(debug.contains(k.id()), "{debug}");
        assert!(!debug.contains(k.to_base64().expose_secret()), "{debug}");
        assert!(!debug.contains("canary"), "{debug}");
        assert!(store.is_encrypted());
        assert_eq!(store.describe(), "memory");
    }
}
