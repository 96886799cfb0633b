//! A token endpoint's response body, as exchange and refresh read it: JSON, then
//! `OAuth2Token::from_response`. A parsed token must survive the store unchanged.
//!
//! The first byte picks the scope separator and the time the response arrived; the rest is the body.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use auth_core::{Credentials, OAuth2Token};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let separator = [" ", ",", "", "::"][usize::from(first & 3)];
    let now = UNIX_EPOCH + Duration::new(1_700_000_000 + u64::from(first), 123_456_789);
    let Ok(response) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let token = match OAuth2Token::from_response(response, separator, now) {
        Ok(token) => token,
        Err(reason) => {
            assert!(!reason.is_empty());
            return;
        }
    };
    assert!(!token.access_token.is_empty());
    for secret in ["access_token", "refresh_token", "id_token"] {
        assert!(!token.raw.contains_key(secret), "{secret} kept in raw");
    }
    token.expires_within(Duration::from_secs(60), now);

    let stored = Credentials::new(token.clone()).to_payload();
    let back = Credentials::from_payload(&stored).expect("a stored token reads back");
    let got = &back.token;
    assert_eq!(
        got.access_token.expose_secret(),
        token.access_token.expose_secret()
    );
    assert_eq!(
        got.refresh_token.as_ref().map(|t| t.expose_secret()),
        token.refresh_token.as_ref().map(|t| t.expose_secret())
    );
    assert_eq!(
        got.id_token.as_ref().map(|t| t.expose_secret()),
        token.id_token.as_ref().map(|t| t.expose_secret())
    );
    assert_eq!(got.token_type, token.token_type);
    assert_eq!(got.scope, token.scope);
    assert_eq!(got.expires_in, token.expires_in);
    assert_eq!(got.raw, token.raw);
    assert!(back.extra.is_empty());
    let seconds = |t: std::time::SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    match (got.expires_at, token.expires_at) {
        (Some(got), Some(sent)) => {
            let drift = (seconds(got) - seconds(sent)).abs();
            assert!(drift < 1e-6, "expiry moved by {drift} s in the store");
        }
        (got, sent) => assert_eq!(got, sent),
    }
});
