//! The service's own secrets: random values (client secrets, service tokens, OAuth states,
//! consent flows' secret ids),
//! their SHA-256 hashes (what the store keeps), constant-time comparison of hashes, and the
//! [`Sealer`] that encrypts values kept in the service's store with the core's key ring.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integrations::KeyRing;
use integrations::auth_core::crypto::Envelope;
use integrations::{SecretString, StoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ServiceStoreError;
use crate::store::{Sealed, SealedAt, SealedValue};

/// What a value the service seals is. It is bound into the seal with the value's id, so that a
/// sealed value moved to another record does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// An application's own OAuth app's client secret, sealed for [`oauth_app_key`].
    OAuthApp,
    /// A pending consent flow's PKCE verifier, sealed for its state's hash.
    PkceVerifier,
}

impl Purpose {
    /// What the seal binds: changing it would leave every stored value unopenable.
    fn as_str(self) -> &'static str {
        match self {
            Self::OAuthApp => "oauth_app",
            Self::PkceVerifier => "oauth_state",
        }
    }

    /// What such a value is, for an operator.
    fn described(self) -> String {
        match self {
            Self::OAuthApp => "an application's OAuth client secret",
            Self::PkceVerifier => "a consent flow's PKCE verifier",
        }
        .into()
    }
}

/// The id an application's OAuth client secret is sealed for.
pub(crate) fn oauth_app_key(application_id: &str, connector_type: &str) -> String {
    format!("{application_id}/{connector_type}")
}

/// The purpose and id the value kept at `at` is sealed for.
fn sealed_for(at: &SealedAt) -> (Purpose, String) {
    match at {
        SealedAt::OAuthApp {
            application_id,
            connector_type,
        } => (
            Purpose::OAuthApp,
            oauth_app_key(application_id, connector_type),
        ),
        SealedAt::OAuthState { state_hash } => (Purpose::PkceVerifier, state_hash.clone()),
    }
}

/// 32 random bytes from the OS, base64url without padding (43 characters).
pub(crate) fn random_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    SecretString::from(URL_SAFE_NO_PAD.encode(bytes))
}

/// Lowercase hex SHA-256 of `value`.
pub(crate) fn hash(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Whether two hashes are equal, in time independent of where they differ.
pub(crate) fn same_hash(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Seals values before they reach the service's store, with the key ring the credential store
/// uses, or keeps them in clear when the service runs without encryption.
#[derive(Debug, Clone)]
pub(crate) struct Sealer {
    keys: Option<KeyRing>,
}

impl Sealer {
    pub(crate) fn new(keys: Option<KeyRing>) -> Self {
        Self { keys }
    }

    /// Whether it seals (the service has a key).
    pub(crate) fn is_encrypted(&self) -> bool {
        self.keys.is_some()
    }

    /// Seals `value`, bound to `purpose` and `id` (the record's key): a sealed value moved to
    /// another record does not open.
    pub(crate) fn seal(
        &self,
        purpose: Purpose,
        id: &str,
        value: &SecretString,
    ) -> Result<Sealed, ServiceStoreError> {
        let bytes = value.expose_secret().as_bytes();
        match &self.keys {
            None => Ok(Sealed(bytes.to_vec())),
            Some(ring) => {
                let sealed = ring
                    .seal(purpose.as_str(), id, 1, bytes)
                    .map_err(|e| corrupt(purpose, e.to_string()))?;
                Ok(Sealed(Envelope::from_earlier_layout(sealed).to_bytes()))
            }
        }
    }

    /// Opens what [`Sealer::seal`] sealed for the same `purpose` and `id`.
    pub(crate) fn open(
        &self,
        purpose: Purpose,
        id: &str,
        sealed: &Sealed,
    ) -> Result<SecretString, ServiceStoreError> {
        let envelope = Envelope::parse(&sealed.0).map_err(|reason| corrupt(purpose, reason))?;
        let bytes = match (&self.keys, envelope) {
            (None, None) => sealed.0.clone(),
            (Some(ring), Some(envelope)) => opened(ring, purpose, id, &envelope)?,
            (None, Some(_)) => {
                return Err(corrupt(
                    purpose,
                    "it is encrypted but no encryption key is configured".into(),
                ));
            }
            (Some(_), None) => {
                return Err(corrupt(
                    purpose,
                    "it is stored in clear while an encryption key is configured; set it again"
                        .into(),
                ));
            }
        };
        text(purpose, bytes)
    }

    /// `value` sealed again under the primary key, when it is not sealed under it yet (it is
    /// sealed under an old key, or kept in clear from before the service had a key); `None` when
    /// it is, or when the service runs without a key. Fails when it does not open.
    pub(crate) fn resealed(
        &self,
        value: &SealedValue,
    ) -> Result<Option<Sealed>, ServiceStoreError> {
        let Some(ring) = &self.keys else {
            return Ok(None);
        };
        let (purpose, id) = sealed_for(&value.at);
        let bytes = match Envelope::parse(&value.sealed.0).map_err(|r| corrupt(purpose, r))? {
            Some(envelope) if ring.is_current(envelope.sealed()) => return Ok(None),
            Some(envelope) => opened(ring, purpose, &id, &envelope)?,
            None => value.sealed.0.clone(),
        };
        self.seal(purpose, &id, &text(purpose, bytes)?).map(Some)
    }
}

/// What `envelope`, sealed for `purpose` and `id`, holds, opened with any key of `ring`.
fn opened(
    ring: &KeyRing,
    purpose: Purpose,
    id: &str,
    envelope: &Envelope,
) -> Result<Vec<u8>, ServiceStoreError> {
    ring.open(purpose.as_str(), id, 1, envelope.sealed())
        .map(|opened| opened.expose_bytes().to_vec())
        .map_err(|e| match e {
            StoreError::UnknownKey { key_id, .. } => ServiceStoreError::UnknownKey {
                what: purpose.described(),
                key_id,
            },
            other => corrupt(purpose, other.to_string()),
        })
}

/// The opened bytes of a value sealed for `purpose`, as the secret text they must be.
fn text(purpose: Purpose, bytes: Vec<u8>) -> Result<SecretString, ServiceStoreError> {
    String::from_utf8(bytes)
        .map(SecretString::from)
        .map_err(|_| corrupt(purpose, "it is not UTF-8".into()))
}

fn corrupt(purpose: Purpose, reason: String) -> ServiceStoreError {
    ServiceStoreError::Corrupt {
        what: purpose.described(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use integrations::EncryptionKey;

    #[test]
    fn sealed_values_open_only_for_their_record_and_key() {
        let sealer = Sealer::new(Some(KeyRing::new(EncryptionKey::generate())));
        let secret = SecretString::from("s3cret-value");
        let sealed = sealer
            .seal(Purpose::OAuthApp, "app-1/asana", &secret)
            .unwrap();
        assert!(!sealed.0.windows(12).any(|w| w == b"s3cret-value"));
        let opened = sealer
            .open(Purpose::OAuthApp, "app-1/asana", &sealed)
            .unwrap();
        assert_eq!(opened.expose_secret(), "s3cret-value");
        assert!(matches!(
            sealer.open(Purpose::OAuthApp, "app-2/asana", &sealed),
            Err(ServiceStoreError::Corrupt { .. })
        ));
        let other = Sealer::new(Some(KeyRing::new(EncryptionKey::generate())));
        assert!(
            other
                .open(Purpose::OAuthApp, "app-1/asana", &sealed)
                .is_err()
        );
        assert!(
            Sealer::new(None)
                .open(Purpose::OAuthApp, "app-1/asana", &sealed)
                .is_err()
        );
    }

    #[test]
    fn values_are_resealed_only_when_not_under_the_primary_key() {
        let (old, new) = (EncryptionKey::generate(), EncryptionKey::generate());
        let app = |sealed: Sealed| SealedValue {
            at: SealedAt::OAuthApp {
                application_id: "app-1".into(),
                connector_type: "asana".into(),
            },
            sealed,
        };
        let secret = SecretString::from("s3cret-value");
        let under_old = Sealer::new(Some(KeyRing::new(old.clone())))
            .seal(Purpose::OAuthApp, "app-1/asana", &secret)
            .unwrap();
        let rotated = Sealer::new(Some(KeyRing::new(new.clone()).with_old_key(old)));
        let resealed = rotated.resealed(&app(under_old)).unwrap().unwrap();
        let only_new = Sealer::new(Some(KeyRing::new(new)));
        assert_eq!(
            only_new
                .open(Purpose::OAuthApp, "app-1/asana", &resealed)
                .unwrap()
                .expose_secret(),
            "s3cret-value"
        );
        assert_eq!(only_new.resealed(&app(resealed.clone())).unwrap(), None);
        assert_eq!(Sealer::new(None).resealed(&app(resealed)).unwrap(), None);

        // Kept in clear from before the service had a key: sealed now, for the verifier's own
        // purpose and state.
        let state = SealedValue {
            at: SealedAt::OAuthState {
                state_hash: "ab12".into(),
            },
            sealed: Sealed(b"verifier".to_vec()),
        };
        let sealed = only_new.resealed(&state).unwrap().unwrap();
        assert!(!sealed.0.windows(8).any(|w| w == b"verifier"));
        assert_eq!(
            only_new
                .open(Purpose::PkceVerifier, "ab12", &sealed)
                .unwrap()
                .expose_secret(),
            "verifier"
        );

        let foreign = Sealer::new(Some(KeyRing::new(EncryptionKey::generate())))
            .seal(Purpose::PkceVerifier, "ab12", &secret)
            .unwrap();
        let foreign = SealedValue {
            sealed: foreign,
            ..state
        };
        assert_eq!(
            only_new.resealed(&foreign).unwrap_err().to_string(),
            format!(
                "the service store holds a consent flow's PKCE verifier sealed under key `{}`, which is not configured: add that key to INTEGRATIONS_ENCRYPTION_OLD_KEYS (or to the server builder's key ring)",
                Envelope::parse(&foreign.sealed.0)
                    .unwrap()
                    .unwrap()
                    .sealed()
                    .key_id
            )
        );
    }

    #[test]
    fn hashes_compare_equal_only_when_equal() {
        let secret = random_secret();
        assert_eq!(secret.expose_secret().len(), 43);
        assert!(same_hash(
            &hash(secret.expose_secret()),
            &hash(secret.expose_secret())
        ));
        assert!(!same_hash(&hash("a"), &hash("b")));
    }
}
