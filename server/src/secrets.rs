//! The service's own secrets: random values (client secrets, service tokens, OAuth states,
//! consent flows' secret ids),
//! their SHA-256 hashes (what the store keeps), constant-time comparison of hashes, and the
//! [`Sealer`] that encrypts values kept in the service's store with the core's key ring.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integrations::KeyRing;
use integrations::SecretString;
use integrations::auth_core::crypto::Envelope;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ServiceStoreError;
use crate::store::Sealed;

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

    /// Seals `value`, bound to `purpose` (e.g. `oauth_app`) and `id` (the record's key): a sealed
    /// value moved to another record does not open.
    pub(crate) fn seal(
        &self,
        purpose: &str,
        id: &str,
        value: &SecretString,
    ) -> Result<Sealed, ServiceStoreError> {
        let bytes = value.expose_secret().as_bytes();
        match &self.keys {
            None => Ok(Sealed(bytes.to_vec())),
            Some(ring) => {
                let sealed = ring
                    .seal(purpose, id, 1, bytes)
                    .map_err(|e| corrupt(purpose, e.to_string()))?;
                Ok(Sealed(Envelope::from_earlier_layout(sealed).to_bytes()))
            }
        }
    }

    /// Opens what [`Sealer::seal`] sealed for the same `purpose` and `id`.
    pub(crate) fn open(
        &self,
        purpose: &str,
        id: &str,
        sealed: &Sealed,
    ) -> Result<SecretString, ServiceStoreError> {
        let envelope = Envelope::parse(&sealed.0).map_err(|reason| corrupt(purpose, reason))?;
        let bytes = match (&self.keys, envelope) {
            (None, None) => sealed.0.clone(),
            (Some(ring), Some(envelope)) => ring
                .open(purpose, id, 1, envelope.sealed())
                .map_err(|e| corrupt(purpose, e.to_string()))?
                .expose_bytes()
                .to_vec(),
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
        String::from_utf8(bytes)
            .map(SecretString::from)
            .map_err(|_| corrupt(purpose, "it is not UTF-8".into()))
    }
}

fn corrupt(purpose: &str, reason: String) -> ServiceStoreError {
    ServiceStoreError::Corrupt {
        what: format!("sealed {purpose}"),
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
        let sealed = sealer.seal("oauth_app", "app-1/asana", &secret).unwrap();
        assert!(!sealed.0.windows(12).any(|w| w == b"s3cret-value"));
        let opened = sealer.open("oauth_app", "app-1/asana", &sealed).unwrap();
        assert_eq!(opened.expose_secret(), "s3cret-value");
        assert!(matches!(
            sealer.open("oauth_app", "app-2/asana", &sealed),
            Err(ServiceStoreError::Corrupt { .. })
        ));
        let other = Sealer::new(Some(KeyRing::new(EncryptionKey::generate())));
        assert!(other.open("oauth_app", "app-1/asana", &sealed).is_err());
        assert!(
            Sealer::new(None)
                .open("oauth_app", "app-1/asana", &sealed)
                .is_err()
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
