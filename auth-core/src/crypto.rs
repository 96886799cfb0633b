//! Encryption at rest (feature `encryption`): XChaCha20-Poly1305 over credential payloads.
//!
//! [`EncryptedStore`](crate::EncryptedStore) seals every payload it writes with [`KeyRing::seal`]
//! into an [`Envelope`], the self-describing bytes the store underneath keeps as an opaque payload,
//! and opens what it reads with [`KeyRing::open`]. Stores themselves never encrypt.
//!
//! # What is encrypted, and what is not
//! Only the payload (the tokens and other secrets) is encrypted. The provider id, the subject, the
//! version, the status, the refresh lease and the timestamps stay in clear so that stores can look
//! records up, list them and run conditional puts without a key. Provider, subject and the record's
//! version are bound to the ciphertext as associated data: a ciphertext copied onto another record,
//! or onto another version of the same record, fails to decrypt with [`StoreError::Decrypt`].
//!
//! Every write uses a fresh random 24-byte nonce (XChaCha20's extended nonce makes random nonces
//! safe for any realistic number of writes under one key).
//!
//! # Plaintext records while a key is configured
//! A store with a key ring never uses a record it holds in plaintext: reading one fails with
//! [`StoreError::Unencrypted`], since anyone who can write the store, key or not, could have put it
//! there. Only `rotate` reads such records, to encrypt them: run it once after turning encryption
//! on for a store that already holds credentials.
//!
//! # Rollback, and what it takes
//! Someone who can write the store but has no key cannot read or forge a payload, nor move one to
//! another record. Binding the version means that an older ciphertext of the same record, put back
//! over a newer version, is refused ([`StoreError::Decrypt`]). What no store can refuse without
//! state kept out of that person's reach:
//!
//! - replaying a whole earlier record, its clear version included (or the whole store from a
//!   backup): the older credentials read as the older version. The version then goes backwards,
//!   which a process holding the newer version sees (its next conditional put fails with
//!   [`StoreError::VersionMismatch`]), but the store itself accepts it. Versions also start at 1
//!   again when a record is deleted and created anew, so a ciphertext of an earlier incarnation of
//!   the same (provider, subject) at the same version number opens too;
//! - replaying a payload sealed before versions were bound ([`SealFormat::Legacy`], written by
//!   earlier releases): such payloads are still read, for compatibility, whatever the record's
//!   version. `rotate` re-seals every one of them with its version; to make the ones kept in old
//!   copies of the store unreadable as well, rotate to a new primary key and then drop the old key.
//!
//! A replayed record can only hold credentials this application was once given for that same
//! (provider, subject): the damage is using an older grant (an older account connection, or a
//! refresh token the provider has since rotated, which fails with `invalid_grant` and asks the user
//! to log in again), never disclosure.
//!
//! # Keys and rotation
//! A [`KeyRing`] holds one primary key, used for every new write, and any number of old keys, used
//! only to read records written before a rotation. Every sealed record names the id of its key. A
//! key's id is the first 8 hex digits of the SHA-256 of the key unless it was named with
//! [`EncryptionKey::with_id`].
//!
//! [`KeyRing::from_env`] reads [`KEY_ENV`] (`INTEGRATIONS_ENCRYPTION_KEY`, the base64 of 32 random
//! bytes) and, optionally, [`OLD_KEYS_ENV`] (`INTEGRATIONS_ENCRYPTION_OLD_KEYS`, comma-separated).
//! Each value may be prefixed by an id and a colon, as in `2024-06:q0v...=`.
//!
//! ```
//! use auth_core::crypto::{EncryptionKey, KeyRing};
//!
//! let old = EncryptionKey::generate();
//! let ring = KeyRing::new(old.clone());
//! let sealed = ring.seal("asana", "user-1", 7, br#"{"access_token":"secret"}"#)?;
//! assert_eq!(sealed.key_id, old.id());
//!
//! // Later: a new primary key; the old one still reads what it wrote.
//! let rotated = KeyRing::new(EncryptionKey::generate()).with_old_key(old);
//! let payload = rotated.open("asana", "user-1", 7, &sealed)?;
//! assert_eq!(payload.expose_bytes(), br#"{"access_token":"secret"}"#);
//!
//! // The ciphertext is bound to its record and to its version.
//! assert!(rotated.open("asana", "user-2", 7, &sealed).is_err());
//! assert!(rotated.open("asana", "user-1", 8, &sealed).is_err());
//! # Ok::<(), auth_core::StoreError>(())
//! ```

use std::ffi::OsString;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload as AeadPayload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::StoreError;
use crate::secret::SecretString;
use crate::store::{Payload, Version};

/// The environment variable holding the primary key: base64 of 32 bytes, optionally `id:base64`.
pub const KEY_ENV: &str = "INTEGRATIONS_ENCRYPTION_KEY";

/// The environment variable holding old keys that still decrypt: comma-separated, each base64 of
/// 32 bytes, optionally `id:base64`.
pub const OLD_KEYS_ENV: &str = "INTEGRATIONS_ENCRYPTION_OLD_KEYS";

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;

/// Length of a nonce in bytes.
pub const NONCE_LEN: usize = 24;

/// Longest key id accepted.
const MAX_ID_LEN: usize = 64;

/// Room for decoding a key: base64 longer than this decodes to more is refused unread.
const MAX_DECODED: usize = 96;

/// Domain separation for the associated data of [`SealFormat::Legacy`] payloads, so that our
/// ciphertexts mean nothing elsewhere.
const AAD_CONTEXT_LEGACY: &[u8] = b"integrations credential payload v1\0";

/// Domain separation for the associated data of [`SealFormat::Versioned`] payloads: not the legacy
/// context, so that no versioned associated data equals a legacy one.
const AAD_CONTEXT: &[u8] = b"integrations credential payload v2\0";

/// A 32-byte XChaCha20-Poly1305 key and its id.
///
/// `Debug` shows only the id; the key bytes are wiped from memory on drop.
///
/// ```
/// use auth_core::crypto::EncryptionKey;
///
/// let key = EncryptionKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")?;
/// assert_eq!(key.id(), "66687aad");
/// assert_eq!(format!("{key:?}"), r#"EncryptionKey { id: "66687aad", key: "[REDACTED]" }"#);
/// let named = key.with_id("2024-06")?;
/// assert_eq!(named.id(), "2024-06");
/// # Ok::<(), auth_core::StoreError>(())
/// ```
#[derive(Clone)]
pub struct EncryptionKey {
    id: String,
    bytes: Box<Zeroizing<[u8; KEY_LEN]>>,
}

impl EncryptionKey {
    /// Wraps raw key bytes. The id is the first 8 hex digits of the key's SHA-256. The caller should
    /// wipe its own copy of `bytes`.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self::from_boxed(Box::new(Zeroizing::new(bytes)))
    }

    fn from_boxed(bytes: Box<Zeroizing<[u8; KEY_LEN]>>) -> Self {
        let digest = Sha256::digest(bytes.as_slice());
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Self { id, bytes }
    }

    /// Decodes base64 (standard or URL-safe alphabet, padded or not) of exactly 32 bytes. The error
    /// never repeats the input.
    pub fn from_base64(encoded: &str) -> Result<Self, StoreError> {
        let encoded = encoded.trim();
        // Decoded in place into a buffer that is wiped, so that no stray heap copy of the key is
        // left behind by a failed attempt.
        let mut decoded = Zeroizing::new([0u8; MAX_DECODED]);
        let too_long = encoded.len() > MAX_DECODED / 3 * 4;
        let len = [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode_slice(encoded, decoded.as_mut_slice()).ok())
            .filter(|_| !too_long)
            .ok_or_else(|| StoreError::InvalidKey {
                reason: if too_long {
                    format!("the key must be base64 of {KEY_LEN} bytes, but it is far longer")
                } else {
                    "the key is not valid base64; generate one with `openssl rand -base64 32`"
                        .into()
                },
            })?;
        if len != KEY_LEN {
            return Err(StoreError::InvalidKey {
                reason: format!(
                    "the key must be base64 of {KEY_LEN} bytes, but it decodes to {len} bytes"
                ),
            });
        }
        let mut bytes = Box::new(Zeroizing::new([0u8; KEY_LEN]));
        bytes.copy_from_slice(&decoded[..KEY_LEN]);
        Ok(Self::from_boxed(bytes))
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = Box::new(Zeroizing::new([0u8; KEY_LEN]));
        rand::rngs::OsRng.fill_bytes(bytes.as_mut_slice());
        Self::from_boxed(bytes)
    }

    /// Names the key. An id is 1 to 64 ASCII letters, digits, `.`, `_` or `-`; it is stored in
    /// clear beside every record the key encrypts.
    pub fn with_id(mut self, id: impl Into<String>) -> Result<Self, StoreError> {
        let id = id.into();
        let valid = !id.is_empty()
            && id.len() <= MAX_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            return Err(StoreError::InvalidKey {
                reason: format!(
                    "key id {id:?} is not 1 to {MAX_ID_LEN} ASCII letters, digits, '.', '_' or '-'"
                ),
            });
        }
        self.id = id;
        Ok(self)
    }

    /// The key's id, stored beside each record it encrypts.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as standard padded base64, the form [`EncryptionKey::from_base64`] and
    /// [`KEY_ENV`] take. For printing a freshly generated key once; never log it.
    pub fn to_base64(&self) -> SecretString {
        SecretString::new(STANDARD.encode(self.bytes.as_slice()))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.bytes.as_slice().into())
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("id", &self.id)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

/// What a sealed payload's associated data binds it to. An [`Envelope`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealFormat {
    /// Format 1, written by releases before versions were bound: provider and subject only. Still
    /// read, whatever the record's version (see the module docs); `rotate` re-seals it as
    /// [`SealFormat::Versioned`].
    Legacy,
    /// Format 2, what every write uses: provider, subject and the record's version.
    Versioned,
}

impl SealFormat {
    /// Its number: what stores persisted beside the payload before [`Envelope`], and the envelope
    /// format version of such payloads.
    pub fn number(self) -> u8 {
        match self {
            SealFormat::Legacy => 1,
            SealFormat::Versioned => 2,
        }
    }

    /// The format with this [`SealFormat::number`], if any.
    pub fn from_number(number: u8) -> Option<Self> {
        match number {
            1 => Some(SealFormat::Legacy),
            2 => Some(SealFormat::Versioned),
            _ => None,
        }
    }
}

/// An encrypted payload: what an [`Envelope`] holds. None of its fields is secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedPayload {
    /// The id of the key that encrypted it.
    pub key_id: String,
    /// The random nonce of this write.
    pub nonce: [u8; NONCE_LEN],
    /// The ciphertext followed by the 16-byte Poly1305 tag.
    pub ciphertext: Vec<u8>,
    /// What its associated data binds it to.
    pub format: SealFormat,
}

impl fmt::Debug for SealedPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedPayload")
            .field("key_id", &self.key_id)
            .field("format", &self.format)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// The first bytes of every [`Envelope`]: a zero byte, which starts no JSON document and no text a
/// store holds in clear, then `ice` (integrations credential envelope).
const ENVELOPE_MAGIC: [u8; 4] = *b"\0ice";

/// Magic, format version and key id length.
const ENVELOPE_HEADER_LEN: usize = ENVELOPE_MAGIC.len() + 2;

/// Length of the Poly1305 tag that ends every ciphertext.
const TAG_LEN: usize = 16;

/// A sealed payload as a store keeps it: self-describing bytes that the store persists as an opaque
/// payload and hands back unchanged.
///
/// `magic "\0ice" (4) | format version (1) | key id length (1) | key id | nonce (24) | ciphertext`
///
/// The format version says what the ciphertext is bound to and where it comes from:
///
/// - 3, [`Envelope::CURRENT`]: sealed by `EncryptedStore`, as [`SealFormat::Versioned`];
/// - 2 and 1: a payload a store held in its own columns or fields before `EncryptedStore`, sealed as
///   [`SealFormat::Versioned`] or [`SealFormat::Legacy`] (the [`SealFormat::number`]); stores hand
///   such records up as [`Envelope::from_earlier_layout`]. They are read, and `rotate` rewrites
///   them as version 3.
///
/// ```
/// use auth_core::crypto::{EncryptionKey, Envelope, KeyRing, SealFormat};
///
/// let sealed = KeyRing::new(EncryptionKey::generate()).seal("asana", "user-1", 1, b"{}")?;
/// let bytes = Envelope::from_earlier_layout(sealed.clone()).to_bytes();
/// let envelope = Envelope::parse(&bytes).expect("well formed").expect("an envelope");
/// assert_eq!(envelope.format_version(), SealFormat::Versioned.number());
/// assert_eq!(envelope.sealed(), &sealed);
/// assert_eq!(Envelope::parse(br#"{"access_token":"t"}"#), Ok(None), "plaintext is no envelope");
/// # Ok::<(), auth_core::StoreError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    format_version: u8,
    sealed: SealedPayload,
}

impl Envelope {
    /// The format version `EncryptedStore` writes.
    pub const CURRENT: u8 = 3;

    /// A payload sealed by `EncryptedStore`. `sealed` comes from [`KeyRing::seal`], so it is
    /// [`SealFormat::Versioned`].
    fn current(sealed: SealedPayload) -> Self {
        Self {
            format_version: Self::CURRENT,
            sealed,
        }
    }

    /// A payload a store held in its own layout before `EncryptedStore` (its key id, nonce and
    /// seal format in their own columns or fields), for the store to hand up as an opaque payload.
    pub fn from_earlier_layout(sealed: SealedPayload) -> Self {
        Self {
            format_version: sealed.format.number(),
            sealed,
        }
    }

    /// The format version (see the type's docs).
    pub fn format_version(&self) -> u8 {
        self.format_version
    }

    /// The sealed payload it holds.
    pub fn sealed(&self) -> &SealedPayload {
        &self.sealed
    }

    /// Whether a new write would store it so: the current format, under the primary key.
    pub fn is_current(&self, ring: &KeyRing) -> bool {
        self.format_version == Self::CURRENT && ring.is_current(&self.sealed)
    }

    /// The bytes a store persists.
    pub fn to_bytes(&self) -> Vec<u8> {
        let key_id = self.sealed.key_id.as_bytes();
        let mut bytes = Vec::with_capacity(
            ENVELOPE_HEADER_LEN + key_id.len() + NONCE_LEN + self.sealed.ciphertext.len(),
        );
        bytes.extend_from_slice(&ENVELOPE_MAGIC);
        bytes.push(self.format_version);
        // Key ids are at most MAX_ID_LEN bytes (ids read from a store were parsed from one byte).
        bytes.push(u8::try_from(key_id.len()).unwrap_or(u8::MAX));
        bytes.extend_from_slice(key_id);
        bytes.extend_from_slice(&self.sealed.nonce);
        bytes.extend_from_slice(&self.sealed.ciphertext);
        bytes
    }

    /// Reads a stored payload: `Ok(None)` when it is no envelope (a payload stored in plaintext),
    /// and `Err` with what is wrong (never the payload) when it starts like one but is damaged or
    /// of an unknown format version.
    pub fn parse(bytes: &[u8]) -> Result<Option<Self>, String> {
        let Some(rest) = bytes.strip_prefix(&ENVELOPE_MAGIC) else {
            return Ok(None);
        };
        let cut_short = || "an encrypted payload cut short".to_string();
        let (&format_version, rest) = rest.split_first().ok_or_else(cut_short)?;
        let format = match format_version {
            Self::CURRENT => SealFormat::Versioned,
            number => SealFormat::from_number(number).ok_or_else(|| {
                format!(
                    "an encrypted payload of unknown format version {number}: a newer release may have written it"
                )
            })?,
        };
        let (&id_len, rest) = rest.split_first().ok_or_else(cut_short)?;
        let (key_id, rest) = rest
            .split_at_checked(usize::from(id_len))
            .ok_or_else(cut_short)?;
        let key_id = std::str::from_utf8(key_id)
            .map_err(|_| "an encrypted payload whose key id is not UTF-8".to_string())?;
        let (nonce, ciphertext) = rest.split_at_checked(NONCE_LEN).ok_or_else(cut_short)?;
        if ciphertext.len() < TAG_LEN {
            return Err(cut_short());
        }
        Ok(Some(Self {
            format_version,
            sealed: SealedPayload {
                key_id: key_id.to_string(),
                nonce: nonce.try_into().map_err(|_| cut_short())?,
                ciphertext: ciphertext.to_vec(),
                format,
            },
        }))
    }
}

/// The keys a store encrypts and decrypts with: one primary key for new writes, and old keys that
/// still decrypt records written before a rotation. Cloning copies the keys (wiped on drop).
///
/// `Debug` shows key ids only.
#[derive(Clone)]
pub struct KeyRing {
    primary: EncryptionKey,
    old: Vec<EncryptionKey>,
}

impl KeyRing {
    /// A ring with one key, used for every write.
    pub fn new(primary: EncryptionKey) -> Self {
        Self {
            primary,
            old: Vec::new(),
        }
    }

    /// Adds a key that decrypts records written under it but is never used for new writes. If two
    /// keys share an id, decryption tries each of them.
    pub fn with_old_key(mut self, key: EncryptionKey) -> Self {
        self.old.push(key);
        self
    }

    /// Reads [`KEY_ENV`] and [`OLD_KEYS_ENV`] from the process environment. `Ok(None)` when
    /// [`KEY_ENV`] is unset or blank (stores are then plaintext); a value that is not UTF-8 is
    /// refused ([`StoreError::InvalidKey`]), never taken for an unset one.
    pub fn from_env() -> Result<Option<Self>, StoreError> {
        Self::from_os_lookup(|name| std::env::var_os(name))
    }

    /// [`KeyRing::from_lookup`] over values as the OS gives them: one that is not UTF-8 fails.
    fn from_os_lookup(
        lookup: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Option<Self>, StoreError> {
        let text = |name: &str| {
            lookup(name)
                .map(|value| {
                    value
                        .into_string()
                        .map(Zeroizing::new)
                        .map_err(|_| StoreError::InvalidKey {
                            reason: format!(
                                "{name} is set but is not valid UTF-8 (not shown); set it as base64 text, or unset it"
                            ),
                        })
                })
                .transpose()
        };
        let (primary, old) = (text(KEY_ENV)?, text(OLD_KEYS_ENV)?);
        Self::from_lookup(|name| match name {
            KEY_ENV => primary.as_ref().map(|v| v.to_string()),
            OLD_KEYS_ENV => old.as_ref().map(|v| v.to_string()),
            _ => None,
        })
    }

    /// [`KeyRing::from_env`] with an injectable lookup, for tests and other configuration sources.
    ///
    /// ```
    /// use auth_core::crypto::KeyRing;
    ///
    /// let ring = KeyRing::from_lookup(|name| match name {
    ///     "INTEGRATIONS_ENCRYPTION_KEY" => Some("new:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()),
    ///     "INTEGRATIONS_ENCRYPTION_OLD_KEYS" => {
    ///         Some("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=, old:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=".into())
    ///     }
    ///     _ => None,
    /// })?
    /// .expect("a key is set");
    /// assert_eq!(ring.primary_id(), "new");
    /// assert_eq!(ring.key_ids().collect::<Vec<_>>(), ["new", "72cd6e84", "old"]);
    /// # Ok::<(), auth_core::StoreError>(())
    /// ```
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, StoreError> {
        let primary = lookup(KEY_ENV).map(Zeroizing::new);
        let old = lookup(OLD_KEYS_ENV).map(Zeroizing::new);
        let Some(primary) = primary.filter(|v| !v.trim().is_empty()) else {
            if old.is_some_and(|v| !v.trim().is_empty()) {
                return Err(StoreError::InvalidKey {
                    reason: format!(
                        "{OLD_KEYS_ENV} is set but {KEY_ENV} is not; set the primary key too"
                    ),
                });
            }
            return Ok(None);
        };
        let mut ring = Self::new(parse_env_key(KEY_ENV, &primary)?);
        if let Some(old) = old {
            for entry in old.split(',').filter(|e| !e.trim().is_empty()) {
                ring = ring.with_old_key(parse_env_key(OLD_KEYS_ENV, entry)?);
            }
        }
        Ok(Some(ring))
    }

    /// The id of the key new writes use.
    pub fn primary_id(&self) -> &str {
        self.primary.id()
    }

    /// Every key id, primary first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(&self.primary)
            .chain(&self.old)
            .map(EncryptionKey::id)
    }

    /// Encrypts `plaintext` for version `version` of (provider, subject) under the primary key,
    /// with a fresh random nonce, as [`SealFormat::Versioned`]. Each write is sealed with the
    /// version the store assigns to it.
    pub fn seal(
        &self,
        provider: &str,
        subject: &str,
        version: Version,
        plaintext: &[u8],
    ) -> Result<SealedPayload, StoreError> {
        let format = SealFormat::Versioned;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(format, provider, subject, version);
        let ciphertext = self
            .primary
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                AeadPayload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Backend {
                store: "encryption",
                message: format!(
                    "cannot encrypt credentials for {provider}/{subject}: payload too large"
                ),
            })?;
        Ok(SealedPayload {
            key_id: self.primary.id.clone(),
            nonce,
            ciphertext,
            format,
        })
    }

    /// [`KeyRing::seal`] in an [`Envelope`] of the current format, as the payload a store keeps.
    pub(crate) fn seal_envelope(
        &self,
        provider: &str,
        subject: &str,
        version: Version,
        plaintext: &[u8],
    ) -> Result<Payload, StoreError> {
        let sealed = self.seal(provider, subject, version, plaintext)?;
        Ok(Payload::new(Envelope::current(sealed).to_bytes()))
    }

    /// Decrypts a payload sealed for version `version` of (provider, subject) with any key of the
    /// ring. A [`SealFormat::Legacy`] payload is bound to provider and subject only.
    ///
    /// Fails with [`StoreError::UnknownKey`] if no key has the payload's id, and with
    /// [`StoreError::Decrypt`] if the keys with that id do not authenticate it (wrong key, tampered
    /// data, a ciphertext moved from another record, or one put back from another version).
    pub fn open(
        &self,
        provider: &str,
        subject: &str,
        version: Version,
        sealed: &SealedPayload,
    ) -> Result<Payload, StoreError> {
        let aad = associated_data(sealed.format, provider, subject, version);
        let mut candidates = std::iter::once(&self.primary)
            .chain(&self.old)
            .filter(|k| k.id == sealed.key_id)
            .peekable();
        if candidates.peek().is_none() {
            return Err(StoreError::UnknownKey {
                provider: provider.to_string(),
                subject: subject.to_string(),
                key_id: sealed.key_id.clone(),
            });
        }
        candidates
            .find_map(|key| {
                key.cipher()
                    .decrypt(
                        XNonce::from_slice(&sealed.nonce),
                        AeadPayload {
                            msg: &sealed.ciphertext,
                            aad: &aad,
                        },
                    )
                    .ok()
            })
            .map(Payload::new)
            .ok_or_else(|| StoreError::Decrypt {
                provider: provider.to_string(),
                subject: subject.to_string(),
                key_id: sealed.key_id.clone(),
            })
    }

    /// Whether `sealed` is as a new write would seal it: under the primary key and in the current
    /// [`SealFormat`]. `rotate` re-seals every payload that is not (see also
    /// [`Envelope::is_current`]).
    pub fn is_current(&self, sealed: &SealedPayload) -> bool {
        sealed.key_id == self.primary.id && sealed.format == SealFormat::Versioned
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("primary", &self.primary.id)
            .field(
                "old",
                &self.old.iter().map(EncryptionKey::id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Decrypts `sealed`, stored at version `version` of (provider, subject), with `ring`, or fails
/// with [`StoreError::MissingKey`] when the store has no key ring. See [`KeyRing::open`] for the
/// other errors.
pub(crate) fn unseal(
    ring: Option<&KeyRing>,
    provider: &str,
    subject: &str,
    version: Version,
    sealed: &SealedPayload,
) -> Result<Payload, StoreError> {
    match ring {
        Some(ring) => ring.open(provider, subject, version, sealed),
        None => Err(StoreError::MissingKey {
            provider: provider.to_string(),
            subject: subject.to_string(),
        }),
    }
}

/// Hands out the payload of a record a store holds in plaintext, only when the store has no key
/// ring. With one, fails with [`StoreError::Unencrypted`] naming (provider, subject), and never the
/// payload: only `rotate` reads such a record, to encrypt it.
pub(crate) fn accept_plaintext(
    ring: Option<&KeyRing>,
    provider: &str,
    subject: &str,
    payload: Payload,
) -> Result<Payload, StoreError> {
    match ring {
        None => Ok(payload),
        Some(_) => Err(StoreError::Unencrypted {
            provider: provider.to_string(),
            subject: subject.to_string(),
        }),
    }
}

/// `context || len(provider) || provider || len(subject) || subject`, then `version` for
/// [`SealFormat::Versioned`]; numbers as big-endian u64, so that no two (provider, subject,
/// version) share associated data. The context tells the formats apart.
fn associated_data(format: SealFormat, provider: &str, subject: &str, version: Version) -> Vec<u8> {
    let context = match format {
        SealFormat::Legacy => AAD_CONTEXT_LEGACY,
        SealFormat::Versioned => AAD_CONTEXT,
    };
    let mut aad = Vec::with_capacity(context.len() + 24 + provider.len() + subject.len());
    aad.extend_from_slice(context);
    for part in [provider, subject] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    if format == SealFormat::Versioned {
        aad.extend_from_slice(&version.to_be_bytes());
    }
    aad
}

/// Parses `base64` or `id:base64` from an environment variable; errors name the variable only.
fn parse_env_key(var: &str, value: &str) -> Result<EncryptionKey, StoreError> {
    let in_var = |e: StoreError| match e {
        StoreError::InvalidKey { reason } => StoreError::InvalidKey {
            reason: format!("{var}: {reason}"),
        },
        other => other,
    };
    match value.trim().split_once(':') {
        Some((id, key)) => EncryptionKey::from_base64(key)
            .and_then(|k| k.with_id(id.trim()))
            .map_err(in_var),
        None => EncryptionKey::from_base64(value).map_err(in_var),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> EncryptionKey {
        EncryptionKey::from_bytes([byte; KEY_LEN])
    }

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    /// A key variable that is not UTF-8 is refused, not taken for unset (which would leave the
    /// stores in clear), and its value is not shown.
    #[cfg(unix)]
    #[test]
    fn key_variables_that_are_not_utf8_are_refused() {
        use std::os::unix::ffi::OsStringExt;
        let primary = key(1).to_base64().expose_secret().to_string();
        let canary = || OsString::from_vec(b"zq-canary-\xff".to_vec());
        for (name, vars) in [
            (KEY_ENV, vec![(KEY_ENV, canary())]),
            (
                OLD_KEYS_ENV,
                vec![
                    (KEY_ENV, OsString::from(&primary)),
                    (OLD_KEYS_ENV, canary()),
                ],
            ),
        ] {
            let err = KeyRing::from_os_lookup(|n| {
                vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone())
            })
            .unwrap_err();
            assert!(
                matches!(&err, StoreError::InvalidKey { reason } if *reason == format!(
                    "{name} is set but is not valid UTF-8 (not shown); set it as base64 text, or unset it"
                )),
                "{err:?}"
            );
            assert!(!format!("{err} {err:?}").contains("canary"));
        }
        let ring = KeyRing::from_os_lookup(|n| (n == KEY_ENV).then(|| OsString::from(&primary)))
            .unwrap()
            .unwrap();
        assert_eq!(ring.primary_id(), key(1).id());
    }

    #[test]
    fn seal_then_open_round_trips_with_fresh_nonces() {
        let ring = KeyRing::new(key(1));
        let a = ring.seal("p", "s", 1, b"{\"t\":\"canary\"}").unwrap();
        let b = ring.seal("p", "s", 1, b"{\"t\":\"canary\"}").unwrap();
        assert_ne!(a.nonce, b.nonce, "every write needs a fresh nonce");
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_eq!(a.ciphertext.len(), 14 + 16, "ciphertext plus tag");
        assert!(
            !a.ciphertext.windows(6).any(|w| w == b"canary"),
            "plaintext must not show through"
        );
        assert_eq!(a.key_id, key(1).id());
        let opened = ring.open("p", "s", 1, &a).unwrap();
        assert_eq!(opened.expose_bytes(), b"{\"t\":\"canary\"}");
    }

    #[test]
    fn ciphertext_is_bound_to_provider_and_subject() {
        let ring = KeyRing::new(key(1));
        let sealed = ring.seal("ab", "c", 1, b"x").unwrap();
        for (p, s) in [("ab", "d"), ("a", "bc"), ("other", "c")] {
            assert!(
                matches!(ring.open(p, s, 1, &sealed), Err(StoreError::Decrypt { ref key_id, .. }) if *key_id == sealed.key_id),
                "moved to {p}/{s} must not decrypt"
            );
        }
    }

    #[test]
    fn ciphertext_is_bound_to_its_version() {
        let ring = KeyRing::new(key(1));
        let sealed = ring.seal("p", "s", 3, b"third").unwrap();
        assert_eq!(sealed.format, SealFormat::Versioned);
        assert_eq!(
            ring.open("p", "s", 3, &sealed).unwrap().expose_bytes(),
            b"third"
        );
        for version in [0, 2, 4, u64::MAX] {
            assert!(
                matches!(
                    ring.open("p", "s", version, &sealed),
                    Err(StoreError::Decrypt { .. })
                ),
                "put back at version {version}, it must not decrypt"
            );
        }
        let relabelled = SealedPayload {
            format: SealFormat::Legacy,
            ..sealed
        };
        assert!(
            matches!(
                ring.open("p", "s", 3, &relabelled),
                Err(StoreError::Decrypt { .. })
            ),
            "a versioned payload relabelled as legacy must not decrypt"
        );
    }

    #[cfg(feature = "testing")]
    #[test]
    fn legacy_payloads_of_earlier_releases_still_open_at_any_version() {
        use crate::testing::encryption::{LEGACY_PAYLOAD, legacy_sealed};
        let sealed = legacy_sealed();
        let ring = KeyRing::new(key(1));
        assert_eq!(sealed.format, SealFormat::Legacy);
        for version in [1, 3, 1000] {
            assert_eq!(
                ring.open("p", "legacy", version, &sealed)
                    .unwrap()
                    .expose_bytes(),
                LEGACY_PAYLOAD.as_bytes()
            );
        }
        assert!(matches!(
            ring.open("p", "other", 3, &sealed),
            Err(StoreError::Decrypt { .. })
        ));
        assert!(!ring.is_current(&sealed), "rotate re-seals legacy payloads");
    }

    #[test]
    fn is_current_means_primary_key_and_versioned_format() {
        let ring = KeyRing::new(key(2)).with_old_key(key(1));
        let current = ring.seal("p", "s", 1, b"x").unwrap();
        assert!(ring.is_current(&current));
        let old_key = KeyRing::new(key(1)).seal("p", "s", 1, b"x").unwrap();
        assert!(!ring.is_current(&old_key));
        let legacy = SealedPayload {
            format: SealFormat::Legacy,
            ..current
        };
        assert!(!ring.is_current(&legacy));
        for format in [SealFormat::Legacy, SealFormat::Versioned] {
            assert_eq!(SealFormat::from_number(format.number()), Some(format));
        }
        assert_eq!(SealFormat::from_number(0), None);
        assert_eq!(SealFormat::from_number(3), None);
    }

    #[test]
    fn plaintext_is_refused_with_a_key_and_the_error_holds_no_payload() {
        let payload = || Payload::new(b"{\"access_token\":\"planted-canary\"}".to_vec());
        assert_eq!(
            accept_plaintext(None, "p", "s", payload()).unwrap(),
            payload()
        );
        let err = accept_plaintext(Some(&KeyRing::new(key(1))), "asana", "user-1", payload())
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Unencrypted { provider, subject } if (provider.as_str(), subject.as_str()) == ("asana", "user-1")),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("asana/user-1"), "{message}");
        assert!(message.contains("unencrypted"), "{message}");
        assert!(!message.contains("planted-canary"), "{message}");
    }

    #[test]
    fn envelopes_round_trip_and_damaged_ones_say_what_is_wrong() {
        let ring = KeyRing::new(key(1).with_id("k-1").unwrap());
        let sealed = ring.seal("p", "s", 4, b"{}").unwrap();
        let current = Payload::new(
            ring.seal_envelope("p", "s", 4, b"{}")
                .unwrap()
                .expose_bytes()
                .to_vec(),
        );
        let parsed = Envelope::parse(current.expose_bytes()).unwrap().unwrap();
        assert_eq!(parsed.format_version(), Envelope::CURRENT);
        assert!(parsed.is_current(&ring));
        assert_eq!(
            ring.open("p", "s", 4, parsed.sealed())
                .unwrap()
                .expose_bytes(),
            b"{}"
        );
        for format in [SealFormat::Legacy, SealFormat::Versioned] {
            let earlier = Envelope::from_earlier_layout(SealedPayload {
                format,
                ..sealed.clone()
            });
            let bytes = earlier.to_bytes();
            assert_eq!(&bytes[..4], b"\0ice");
            assert_eq!(bytes[4], format.number());
            let parsed = Envelope::parse(&bytes).unwrap().unwrap();
            assert_eq!(parsed, earlier);
            assert!(!parsed.is_current(&ring), "rotate rewrites earlier layouts");
        }
        for plaintext in [&b""[..], b"{}", b"\0ic", b"\xff\0ice"] {
            assert_eq!(Envelope::parse(plaintext), Ok(None), "{plaintext:?}");
        }
        let bytes = current.expose_bytes();
        for len in 4..bytes.len() - 2 {
            let reason = Envelope::parse(&bytes[..len]).unwrap_err();
            assert!(reason.contains("cut short"), "{len}: {reason}");
        }
        for version in [0, 4, 255] {
            let mut unknown = bytes.to_vec();
            unknown[4] = version;
            let reason = Envelope::parse(&unknown).unwrap_err();
            assert!(
                reason.contains(&format!("unknown format version {version}")),
                "{reason}"
            );
        }
        let mut not_utf8 = bytes.to_vec();
        not_utf8[6] = 0xff;
        assert!(
            Envelope::parse(&not_utf8)
                .unwrap_err()
                .contains("not UTF-8")
        );
    }

    #[test]
    fn tampered_ciphertext_fails_to_decrypt() {
        let ring = KeyRing::new(key(1));
        let mut sealed = ring.seal("p", "s", 1, b"payload").unwrap();
        sealed.ciphertext[0] ^= 1;
        assert!(matches!(
            ring.open("p", "s", 1, &sealed),
            Err(StoreError::Decrypt { .. })
        ));
    }

    #[test]
    fn old_keys_decrypt_and_unknown_ids_are_reported() {
        let old_ring = KeyRing::new(key(1));
        let sealed = old_ring.seal("p", "s", 1, b"old").unwrap();
        let rotated = KeyRing::new(key(2)).with_old_key(key(1));
        assert_eq!(rotated.primary_id(), key(2).id());
        assert_eq!(
            rotated.open("p", "s", 1, &sealed).unwrap().expose_bytes(),
            b"old"
        );
        assert_eq!(
            rotated.seal("p", "s", 1, b"new").unwrap().key_id,
            key(2).id()
        );
        let without_old = KeyRing::new(key(2));
        match without_old.open("p", "s", 1, &sealed) {
            Err(StoreError::UnknownKey {
                provider,
                subject,
                key_id,
            }) => assert_eq!(
                (provider.as_str(), subject.as_str(), key_id),
                ("p", "s", key(1).id().to_string())
            ),
            other => panic!("expected UnknownKey, got {other:?}"),
        }
        assert!(matches!(
            unseal(None, "p", "s", 1, &sealed),
            Err(StoreError::MissingKey { .. })
        ));
    }

    #[test]
    fn same_id_with_another_key_is_a_decrypt_error() {
        let sealed = KeyRing::new(key(1).with_id("k").unwrap())
            .seal("p", "s", 1, b"x")
            .unwrap();
        let wrong = KeyRing::new(key(2).with_id("k").unwrap());
        assert!(matches!(
            wrong.open("p", "s", 1, &sealed),
            Err(StoreError::Decrypt { key_id, .. }) if key_id == "k"
        ));
        let both = wrong.with_old_key(key(1).with_id("k").unwrap());
        assert_eq!(
            both.open("p", "s", 1, &sealed).unwrap().expose_bytes(),
            b"x"
        );
    }

    #[test]
    fn key_id_is_sha256_prefix_unless_named() {
        let k = key(0);
        let digest = Sha256::digest([0u8; KEY_LEN]);
        assert_eq!(
            k.id(),
            format!(
                "{:02x}{:02x}{:02x}{:02x}",
                digest[0], digest[1], digest[2], digest[3]
            )
        );
        assert_eq!(k.id(), "66687aad");
        assert!(matches!(
            key(0).with_id(""),
            Err(StoreError::InvalidKey { .. })
        ));
        assert!(matches!(
            key(0).with_id("has space"),
            Err(StoreError::InvalidKey { .. })
        ));
        assert!(matches!(
            key(0).with_id("x".repeat(65)),
            Err(StoreError::InvalidKey { .. })
        ));
        assert_eq!(key(0).with_id("2024-06_a.b").unwrap().id(), "2024-06_a.b");
    }

    #[test]
    fn base64_forms_and_bad_keys() {
        let generated = EncryptionKey::generate();
        let encoded = generated.to_base64();
        let decoded = EncryptionKey::from_base64(encoded.expose_secret()).unwrap();
        assert_eq!(decoded.id(), generated.id());
        let url = URL_SAFE_NO_PAD.encode([0xfbu8; KEY_LEN]);
        assert_eq!(
            EncryptionKey::from_base64(&url).unwrap().id(),
            key(0xfb).id()
        );
        match EncryptionKey::from_base64("c2hvcnQ=") {
            Err(StoreError::InvalidKey { reason }) => {
                assert!(reason.contains("decodes to 5 bytes"), "{reason}");
                assert!(!reason.contains("c2hvcnQ"), "never echo the key: {reason}");
            }
            other => panic!("expected InvalidKey, got {other:?}"),
        }
        match EncryptionKey::from_base64(&STANDARD.encode([7u8; 200])) {
            Err(StoreError::InvalidKey { reason }) => {
                assert!(reason.contains("longer"), "{reason}")
            }
            other => panic!("expected InvalidKey, got {other:?}"),
        }
        match EncryptionKey::from_base64(&STANDARD.encode([7u8; 64])) {
            Err(StoreError::InvalidKey { reason }) => {
                assert!(reason.contains("decodes to 64 bytes"), "{reason}")
            }
            other => panic!("expected InvalidKey, got {other:?}"),
        }
        match EncryptionKey::from_base64("not base64 at all!") {
            Err(StoreError::InvalidKey { reason }) => {
                assert!(reason.contains("not valid base64"), "{reason}");
                assert!(!reason.contains("at all"), "never echo the key: {reason}");
            }
            other => panic!("expected InvalidKey, got {other:?}"),
        }
    }

    #[test]
    fn debug_output_never_shows_key_bytes() {
        let k = key(0x41);
        let encoded = k.to_base64();
        let ring = KeyRing::new(k.clone()).with_old_key(key(2).with_id("old").unwrap());
        for shown in [
            format!("{k:?}"),
            format!("{ring:?}"),
            format!("{encoded:?}"),
        ] {
            assert!(!shown.contains(encoded.expose_secret()), "{shown}");
            assert!(
                !shown.contains("AAAA") && !shown.contains("QUFB"),
                "{shown}"
            );
        }
        assert_eq!(
            format!("{ring:?}"),
            format!("KeyRing {{ primary: {:?}, old: [\"old\"] }}", k.id())
        );
    }

    #[test]
    fn from_lookup_reads_primary_and_old_keys() {
        let a = STANDARD.encode([1u8; KEY_LEN]);
        let b = STANDARD.encode([2u8; KEY_LEN]);
        let c = STANDARD.encode([3u8; KEY_LEN]);
        let old = format!(" {b} ,, named:{c} ,");
        let vars = [(KEY_ENV, a.as_str()), (OLD_KEYS_ENV, old.as_str())];
        let ring = KeyRing::from_lookup(lookup(&vars)).unwrap().unwrap();
        assert_eq!(
            ring.key_ids().collect::<Vec<_>>(),
            [key(1).id(), key(2).id(), "named"]
        );
        let sealed = KeyRing::new(key(3)).seal("p", "s", 1, b"x").unwrap();
        assert!(
            matches!(
                ring.open("p", "s", 1, &sealed),
                Err(StoreError::UnknownKey { .. })
            ),
            "the id of a named key is its name"
        );
    }

    #[test]
    fn from_lookup_without_key_is_none_and_bad_values_are_errors() {
        assert!(KeyRing::from_lookup(lookup(&[])).unwrap().is_none());
        assert!(
            KeyRing::from_lookup(lookup(&[(KEY_ENV, "  ")]))
                .unwrap()
                .is_none()
        );
        let b = STANDARD.encode([2u8; KEY_LEN]);
        match KeyRing::from_lookup(lookup(&[(OLD_KEYS_ENV, b.as_str())])) {
            Err(StoreError::InvalidKey { reason }) => {
                assert!(reason.contains(KEY_ENV), "{reason}");
                assert!(!reason.contains(&b), "{reason}");
            }
            other => panic!("expected InvalidKey, got {other:?}"),
        }
        match KeyRing::from_lookup(lookup(&[(KEY_ENV, "c2hvcnQ=")])) {
            Err(StoreError::InvalidKey { reason }) => {
                assert!(reason.starts_with(KEY_ENV), "{reason}")
            }
            other => panic!("expected InvalidKey, got {other:?}"),
        }
        let bad_old = format!("{b},bad id:{b}");
        match KeyRing::from_lookup(lookup(&[(KEY_ENV, b.as_str()), (OLD_KEYS_ENV, &bad_old)])) {
            Err(StoreError::InvalidKey { reason }) => {
                assert!(reason.starts_with(OLD_KEYS_ENV), "{reason}");
                assert!(reason.contains("bad id"), "{reason}");
                assert!(!reason.contains(&b), "{reason}");
            }
            other => panic!("expected InvalidKey, got {other:?}"),
        }
    }
}

/// Where a store's key ring comes from: what store builders hold until `open`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KeySource {
    /// [`KeyRing::from_env`]: encrypted when `INTEGRATIONS_ENCRYPTION_KEY` is set.
    FromEnv,
    /// This key ring.
    Keys(KeyRing),
    /// No encryption, whatever the environment says.
    Plaintext,
}

impl KeySource {
    /// The key ring to use, if any.
    pub fn resolve(self) -> Result<Option<KeyRing>, StoreError> {
        match self {
            KeySource::FromEnv => KeyRing::from_env(),
            KeySource::Keys(ring) => Ok(Some(ring)),
            KeySource::Plaintext => Ok(None),
        }
    }
}

/// Says once, when a store opens, whether it encrypts: a debug line naming the primary key id, or a
/// warning that credentials are stored in clear and how to change that.
pub fn log_encryption_status(store: &str, keys: Option<&KeyRing>) {
    match keys {
        Some(ring) => tracing::debug!(
            store,
            key_id = ring.primary_id(),
            "credential payloads are encrypted at rest"
        ),
        None => tracing::warn!(
            store,
            "credentials are stored unencrypted; to encrypt them at rest, give the store a key: INTEGRATIONS_ENCRYPTION_KEY (base64 of 32 random bytes) for a store opened with `open`, or the builder's key_ring in place of unencrypted()"
        ),
    }
}
