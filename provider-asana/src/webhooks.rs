//! Receiving Asana webhooks: the handshake and the signature check.
//!
//! When a webhook is created, Asana posts to its target with an `X-Hook-Secret` header; the target
//! answers 200 (or 204) echoing the same header and keeps the secret. Every later delivery carries
//! `X-Hook-Signature`: the hex HMAC-SHA256 of the raw body keyed by that secret.
//!
//! The secret is a [`SecretString`]: its `Debug` prints `[REDACTED]`, and it is exposed only to
//! echo it back and to store it.
//!
//! ```
//! use provider_asana::webhooks::{handshake_secret, sign, verify_signature};
//! use reqwest::header::{HeaderMap, HeaderValue};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("x-hook-secret", HeaderValue::from_static("s3cr3t"));
//! let secret = handshake_secret(&headers).expect("a handshake");
//! // Respond 200 with `X-Hook-Secret: {secret.expose_secret()}`, and store the secret for this
//! // webhook.
//! assert_eq!(secret.expose_secret(), "s3cr3t");
//! assert_eq!(format!("{secret:?}"), "SecretString([REDACTED])");
//!
//! let body = br#"{"events":[]}"#;
//! let header = sign(&secret, body);
//! assert!(verify_signature(&secret, body, &header));
//! assert!(!verify_signature(&secret, b"{}", &header));
//! ```

use auth_core::SecretString;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;

/// The handshake header Asana sends once and expects echoed back.
pub const HOOK_SECRET_HEADER: &str = "x-hook-secret";

/// The header carrying each delivery's signature.
pub const HOOK_SIGNATURE_HEADER: &str = "x-hook-signature";

/// The `X-Hook-Secret` of a handshake request, to echo back in the response (and to keep for
/// verifying later deliveries). `None` when the request is not a handshake or the header is not
/// visible ASCII.
pub fn handshake_secret(headers: &HeaderMap) -> Option<SecretString> {
    headers
        .get(HOOK_SECRET_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|secret| !secret.is_empty())
        .map(SecretString::from)
}

/// Whether `signature_header` (the `X-Hook-Signature` value) is the hex HMAC-SHA256 of `body`
/// keyed by `secret`. The comparison runs in constant time; a malformed header is simply `false`.
pub fn verify_signature(secret: &SecretString, body: &[u8], signature_header: &str) -> bool {
    let Ok(expected) = hex::decode(signature_header.trim()) else {
        return false;
    };
    mac(secret, body).verify_slice(&expected).is_ok()
}

/// The `X-Hook-Signature` value Asana would send for `body` (lower-case hex), for tests and tools.
pub fn sign(secret: &SecretString, body: &[u8]) -> String {
    hex::encode(mac(secret, body).finalize().into_bytes())
}

fn mac(secret: &SecretString, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use reqwest::header::HeaderValue;

    use super::*;

    fn cases() -> ProptestConfig {
        ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(cases())]

        #[test]
        fn verification_never_panics_and_forgeries_fail(
            secret in any::<String>(),
            body in prop::collection::vec(any::<u8>(), 0..256),
            header in prop_oneof![any::<String>(), "[0-9a-fA-F]{0,70}", "[ -~]{0,70}"],
        ) {
            let secret = SecretString::from(secret);
            let genuine = sign(&secret, &body);
            prop_assert_eq!(verify_signature(&secret, &body, &header), header.trim().eq_ignore_ascii_case(&genuine));
        }

        #[test]
        fn signatures_verify_only_for_their_body_and_secret(
            secret in any::<String>(),
            body in prop::collection::vec(any::<u8>(), 0..256),
            flip in any::<prop::sample::Index>(),
            other_secret in any::<String>(),
        ) {
            let (secret, other_secret) = (SecretString::from(secret), SecretString::from(other_secret));
            let header = sign(&secret, &body);
            prop_assert_eq!(header.len(), 64);
            prop_assert!(verify_signature(&secret, &body, &header));
            let padded = format!(" {} ", header.to_uppercase());
            prop_assert!(verify_signature(&secret, &body, &padded));
            if !body.is_empty() {
                let mut tampered = body.clone();
                tampered[flip.index(body.len())] ^= 1;
                prop_assert!(!verify_signature(&secret, &tampered, &header));
            }
            if !other_secret.same_secret(&secret) {
                prop_assert!(!verify_signature(&other_secret, &body, &header));
            }
            prop_assert!(!verify_signature(&secret, &body, &header[..header.len() - 2]));
        }

        #[test]
        fn handshakes_take_any_header_bytes(value in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                headers.insert(HOOK_SECRET_HEADER, value);
            }
            if let Some(secret) = handshake_secret(&headers) {
                prop_assert!(!secret.is_empty());
                prop_assert_eq!(secret.expose_secret().as_bytes(), value.as_slice());
            }
        }
    }
}
