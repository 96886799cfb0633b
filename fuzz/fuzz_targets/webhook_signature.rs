//! Asana webhook deliveries: the `X-Hook-Signature` check and the `X-Hook-Secret` handshake. Only
//! the genuine signature verifies; nothing panics.
//!
//! The input is `secret \0 header \0 body`.
#![no_main]

use auth_core::SecretString;
use libfuzzer_sys::fuzz_target;
use provider_asana::webhooks::{HOOK_SECRET_HEADER, handshake_secret, sign, verify_signature};
use reqwest::header::{HeaderMap, HeaderValue};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let secret =
        SecretString::from(String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned());
    let header_bytes = parts.next().unwrap_or_default();
    let header = String::from_utf8_lossy(header_bytes);
    let body = parts.next().unwrap_or_default();

    let genuine = sign(&secret, body);
    assert!(verify_signature(&secret, body, &genuine));
    assert_eq!(
        verify_signature(&secret, body, &header),
        header.trim().eq_ignore_ascii_case(&genuine)
    );

    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(header_bytes) {
        headers.insert(HOOK_SECRET_HEADER, value);
    }
    if let Some(echo) = handshake_secret(&headers) {
        assert_eq!(echo.expose_secret().as_bytes(), header_bytes);
    }
});
