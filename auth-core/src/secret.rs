//! Secret values: tokens, client secrets, keys.
//!
//! [`SecretString`] is the only type in this workspace that holds a secret string. Its `Debug` prints
//! `[REDACTED]`, it implements neither `Display` nor `Serialize`, and the value is reached only through
//! [`SecretString::expose_secret`], which is called where the secret is sent or deliberately stored.
//! Serializing a secret is an explicit opt-in through [`expose`] with `#[serde(serialize_with = ...)]`.
//!
//! The types that persist tokens opt in: [`OAuth2Token`](crate::OAuth2Token), and through it
//! [`Credentials`](crate::Credentials) and every provider's
//! [`UserCredentials`](crate::UserCredentials) type, serialize their secrets in clear, because
//! that is the form credential stores keep (encrypted at rest by `EncryptedStore` when a key is
//! configured). Serialize them into a credential store only.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroize;

/// A string that must never be printed, logged or serialized by accident.
///
/// Cloning is cheap (an atomic reference count), so a cached access token can be handed to many
/// callers without copying it. When the last clone is dropped the bytes are overwritten with zeros
/// (best effort: a clone dropped concurrently on another thread may skip the wipe).
///
/// Why not [`secrecy`](https://docs.rs/secrecy)'s `SecretString` (a `SecretBox<str>`): both print
/// `[REDACTED]` in `Debug`, have no `Display`, make serialization an explicit opt-in and wipe the
/// bytes on drop. Ours differs where this workspace needs it: a clone shares one allocation
/// (`Arc<str>`) instead of copying the secret, so the access token a cache hands to every call is
/// neither copied nor left behind in one more allocation per call, and the wipe happens once, when
/// the last clone goes; and [`SecretString::same_secret`] compares two secrets without an early
/// exit (`secrecy` offers no comparison). What it does not do: the `String` given to
/// [`SecretString::new`] is copied and that copy's source is not wiped, a wipe can be skipped when
/// the last two clones drop at the same moment on two threads, and a comparison reveals whether
/// the lengths differ.
///
/// ```
/// use auth_core::SecretString;
///
/// let token = SecretString::from("s3cr3t");
/// assert_eq!(format!("{token:?}"), "SecretString([REDACTED])");
/// assert_eq!(token.expose_secret(), "s3cr3t");
/// ```
#[derive(Clone)]
pub struct SecretString(Arc<str>);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        let value: String = value.into();
        Self(Arc::from(value))
    }

    /// The secret itself. Call this only where the secret is sent or deliberately persisted.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether two secrets hold the same value, compared in constant time for equal lengths.
    pub fn same_secret(&self, other: &SecretString) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        if Arc::ptr_eq(&self.0, &other.0) {
            return true;
        }
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for SecretString {
    #[inline]
    fn drop(&mut self) {
        // The count check is a plain load; get_mut alone would pay a compare-and-swap on every drop
        // of a shared token (each hand-out of a cached token ends in one).
        if Arc::strong_count(&self.0) == 1
            && let Some(value) = Arc::get_mut(&mut self.0)
        {
            value.zeroize();
        }
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([REDACTED])")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretString::from)
    }
}

/// `serialize_with` helpers that write a secret's value on purpose (for persistence).
///
/// ```
/// use auth_core::SecretString;
///
/// #[derive(serde::Serialize)]
/// struct Stored {
///     #[serde(serialize_with = "auth_core::secret::expose::serialize")]
///     token: SecretString,
/// }
/// let json = serde_json::to_string(&Stored { token: "abc".into() }).unwrap();
/// assert_eq!(json, r#"{"token":"abc"}"#);
/// ```
pub mod expose {
    use serde::Serializer;

    use super::SecretString;

    /// Serializes the secret's value as a plain string.
    pub fn serialize<S: Serializer>(
        secret: &SecretString,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(secret.expose_secret())
    }

    /// Serializes an optional secret's value as a plain string or `null`.
    pub fn serialize_option<S: Serializer>(
        secret: &Option<SecretString>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match secret {
            Some(secret) => serializer.serialize_some(secret.expose_secret()),
            None => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_and_value_is_reachable() {
        let s = SecretString::from("canary-123");
        assert!(!format!("{s:?}").contains("canary"));
        assert!(!format!("{:?}", Some(s.clone())).contains("canary"));
        assert_eq!(s.expose_secret(), "canary-123");
    }

    #[test]
    fn same_secret_compares_values() {
        let a = SecretString::from("abc");
        assert!(a.same_secret(&a.clone()));
        assert!(a.same_secret(&SecretString::from("abc")));
        assert!(!a.same_secret(&SecretString::from("abd")));
        assert!(!a.same_secret(&SecretString::from("abcd")));
    }

    #[test]
    fn deserializes_from_a_string() {
        let s: SecretString = serde_json::from_str("\"tok\"").unwrap();
        assert_eq!(s.expose_secret(), "tok");
    }
}
