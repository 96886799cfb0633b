//! A stored credential payload, as every read of the store decodes it: `Credentials::from_payload`,
//! then the typed Asana credentials. Whatever decodes must decode the same after a rewrite.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use auth_core::{Credentials, Payload, UserCredentials};
use libfuzzer_sys::fuzz_target;
use provider_asana::AsanaUserCredentials;

fuzz_target!(|data: &[u8]| {
    let Ok(credentials) = Credentials::from_payload(&Payload::new(data.to_vec())) else {
        return;
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    credentials
        .token
        .expires_within(Duration::from_secs(60), now);
    if let Ok(typed) = credentials.to_typed::<AsanaUserCredentials>() {
        let _ = typed.expires_at();
        let _ = Credentials::from_typed(&typed);
    }
    let rewritten = credentials.to_payload();
    let again = Credentials::from_payload(&rewritten).expect("rewritten credentials read back");
    let json = |p: &Payload| serde_json::from_slice::<serde_json::Value>(p.expose_bytes()).unwrap();
    assert_eq!(json(&again.to_payload()), json(&rewritten));
});
