//! Receiving webhooks: handshake secret and `X-Hook-Signature` verification.

use auth_core::SecretString;
use hmac::{Hmac, Mac};
use provider_asana::webhooks::{handshake_secret, sign, verify_signature};
use reqwest::header::{HeaderMap, HeaderValue};
use sha2::Sha256;

const SECRET_TEXT: &str = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81";
const BODY: &[u8] =
    br#"{"events":[{"action":"changed","resource":{"gid":"1","resource_type":"task"}}]}"#;

fn secret() -> SecretString {
    SecretString::from(SECRET_TEXT)
}

/// The signature computed independently of the crate.
fn reference_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn a_valid_signature_verifies() {
    let header = reference_signature(SECRET_TEXT, BODY);
    assert_eq!(sign(&secret(), BODY), header);
    assert!(verify_signature(&secret(), BODY, &header));
    assert!(verify_signature(&secret(), BODY, &header.to_uppercase()));
    assert!(verify_signature(&secret(), BODY, &format!(" {header}\n")));
}

#[test]
fn a_tampered_body_fails() {
    let header = reference_signature(SECRET_TEXT, BODY);
    let mut tampered = BODY.to_vec();
    tampered[20] ^= 1;
    assert!(!verify_signature(&secret(), &tampered, &header));
    assert!(!verify_signature(
        &secret(),
        &BODY[..BODY.len() - 1],
        &header
    ));
}

#[test]
fn a_wrong_secret_fails() {
    let header = reference_signature("another-secret", BODY);
    assert!(!verify_signature(&secret(), BODY, &header));
}

#[test]
fn malformed_headers_fail() {
    let header = reference_signature(SECRET_TEXT, BODY);
    for bad in [
        "",
        "not-hex",
        &header[..header.len() - 2],
        &header[..header.len() - 1],
        &format!("{header}00"),
        &format!("sha256={header}"),
    ] {
        assert!(!verify_signature(&secret(), BODY, bad), "{bad:?}");
    }
}

#[test]
fn handshake_returns_the_secret_to_echo() {
    let mut headers = HeaderMap::new();
    assert!(handshake_secret(&headers).is_none());
    headers.insert("X-Hook-Secret", HeaderValue::from_static(SECRET_TEXT));
    let echoed = handshake_secret(&headers).expect("a handshake");
    assert_eq!(echoed.expose_secret(), SECRET_TEXT);
    assert!(!format!("{echoed:?}").contains(SECRET_TEXT));
    headers.insert("X-Hook-Secret", HeaderValue::from_static(""));
    assert!(handshake_secret(&headers).is_none());
}
