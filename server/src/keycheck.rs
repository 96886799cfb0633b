//! [`KeyCheck`]: whether the configured encryption keys open the credentials already stored. A
//! service started with the wrong key would otherwise answer `/readyz` and fail every connector
//! call with 500; the check makes `/readyz` say so (503) and logs, once, what the operator must
//! set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use integrations::{CredentialStore, StoreError};

use crate::error::ApiError;
use crate::store::ServiceStore;

/// Reads and opens one stored credential record until one opens: from then on the keys are
/// known to match and nothing more is read. A store without records is no verdict (the keys
/// will seal the first one), and neither is a record that is damaged in another way.
#[derive(Debug)]
pub(crate) struct KeyCheck {
    store: Arc<dyn ServiceStore>,
    credentials: Arc<dyn CredentialStore>,
    /// Set once a stored record opened.
    matched: AtomicBool,
    /// Set once a mismatch was logged, so that a probe polling `/readyz` does not log it again.
    reported: AtomicBool,
}

impl KeyCheck {
    pub(crate) fn new(store: Arc<dyn ServiceStore>, credentials: Arc<dyn CredentialStore>) -> Self {
        Self {
            store,
            credentials,
            matched: AtomicBool::new(false),
            reported: AtomicBool::new(false),
        }
    }

    /// `Ok` unless the configured keys cannot open the stored credentials (503, not retryable:
    /// an operator must configure the key they were stored with), or the stores do not answer
    /// (503, retryable).
    pub(crate) async fn check(&self) -> Result<(), ApiError> {
        if self.matched.load(Ordering::Relaxed) {
            return Ok(());
        }
        let Some((provider, subject)) = self.store.first_credential().await? else {
            return Ok(());
        };
        match self.credentials.get(&provider, &subject).await {
            Ok(Some(_)) => {
                self.matched.store(true, Ordering::Relaxed);
                Ok(())
            }
            // Deleted between the two reads: the next check reads another.
            Ok(None) => Ok(()),
            Err(e) => match unusable_keys(&e) {
                Some(answer) => {
                    if !self.reported.swap(true, Ordering::Relaxed) {
                        tracing::error!(
                            error = %e,
                            "{}; /readyz answers 503 until the service is restarted with the right key",
                            answer.message()
                        );
                    }
                    Err(answer)
                }
                None if matches!(e, StoreError::Io { .. }) => {
                    tracing::warn!(error = %e, "not ready: the credential store does not answer");
                    Err(ApiError::unavailable(
                        "the credential store does not answer",
                    ))
                }
                None => {
                    tracing::warn!(
                        error = %e,
                        "the first stored credential record cannot be read, so the encryption key could not be checked"
                    );
                    Ok(())
                }
            },
        }
    }
}

/// The answer when `e` says the configured keys cannot open stored records: none of them is the
/// key a record names, or the one it names does not decrypt it, or there are none for an
/// encrypted record, or one is configured for a plaintext record.
fn unusable_keys(e: &StoreError) -> Option<ApiError> {
    let message = match e {
        StoreError::UnknownKey { .. } | StoreError::Decrypt { .. } => {
            "the encryption key does not match the stored credentials: set INTEGRATIONS_ENCRYPTION_KEY to the key they were stored with (a key being replaced goes in INTEGRATIONS_ENCRYPTION_OLD_KEYS)"
        }
        StoreError::MissingKey { .. } => {
            "the stored credentials are encrypted but no encryption key is configured: set INTEGRATIONS_ENCRYPTION_KEY to the key they were stored with"
        }
        StoreError::Unencrypted { .. } => {
            "the stored credentials are not encrypted but an encryption key is configured: encrypt them with `integrations apps reencrypt` (with the service's --store and this key), or start the service without the key"
        }
        _ => return None,
    };
    Some(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keys_that_cannot_open_a_record_make_the_service_unready() {
        let (provider, subject) = ("asana".to_string(), "c".to_string());
        let unusable = [
            (
                StoreError::UnknownKey {
                    provider: provider.clone(),
                    subject: subject.clone(),
                    key_id: "k1".into(),
                },
                "the encryption key does not match the stored credentials",
            ),
            (
                StoreError::Decrypt {
                    provider: provider.clone(),
                    subject: subject.clone(),
                    key_id: "k1".into(),
                },
                "the encryption key does not match the stored credentials",
            ),
            (
                StoreError::MissingKey {
                    provider: provider.clone(),
                    subject: subject.clone(),
                },
                "the stored credentials are encrypted but no encryption key is configured",
            ),
            (
                StoreError::Unencrypted {
                    provider: provider.clone(),
                    subject: subject.clone(),
                },
                "the stored credentials are not encrypted but an encryption key is configured",
            ),
        ];
        for (e, start) in unusable {
            let answer = unusable_keys(&e).expect("unusable keys");
            assert_eq!(
                (answer.status(), answer.is_retryable()),
                (StatusCode::SERVICE_UNAVAILABLE, false),
                "{e}"
            );
            assert!(answer.message().starts_with(start), "{}", answer.message());
        }
        let other = [
            StoreError::Corrupt {
                store: "sqlite",
                location: "db".into(),
                reason: "bad row".into(),
            },
            StoreError::Io {
                store: "sqlite",
                location: "db".into(),
                source: std::io::Error::from(std::io::ErrorKind::TimedOut),
            },
        ];
        for e in other {
            assert_eq!(unusable_keys(&e), None, "{e}");
        }
    }
}
