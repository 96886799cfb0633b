//! The encrypted envelope of a stored payload (`auth_core::crypto`): sealing then opening gives the
//! plaintext back; a tampered, moved, rolled-back or made-up envelope is refused, never opened and
//! never a panic; the envelope's byte form parses any input and round-trips; key parsing takes any
//! environment value.
//!
//! The first byte picks the case; the rest is split at zero bytes into its parts.
#![no_main]

use auth_core::crypto::{
    EncryptionKey, Envelope, KEY_LEN, KeyRing, NONCE_LEN, SealFormat, SealedPayload,
};
use auth_core::{Credentials, StoreError};
use libfuzzer_sys::fuzz_target;

fn ring() -> KeyRing {
    KeyRing::new(EncryptionKey::from_bytes([7; KEY_LEN])).with_old_key(
        EncryptionKey::from_bytes([8; KEY_LEN])
            .with_id("old")
            .unwrap(),
    )
}

fn refused(result: &Result<auth_core::Payload, StoreError>) -> bool {
    matches!(
        result,
        Err(StoreError::Decrypt { .. } | StoreError::UnknownKey { .. })
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((&case, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |&b| b == 0);
    let provider = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let subject = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let tail = parts.next().unwrap_or_default();
    let ring = ring();
    let version = u64::from(case);
    match case % 4 {
        0 => {
            let sealed = ring.seal(&provider, &subject, version, tail).unwrap();
            let opened = ring.open(&provider, &subject, version, &sealed).unwrap();
            assert_eq!(opened.expose_bytes(), tail);
            let _ = Credentials::from_payload(&opened);
            assert!(refused(&ring.open(
                &format!("{provider}x"),
                &subject,
                version,
                &sealed
            )));
            assert!(refused(&ring.open(
                &provider,
                &subject,
                version + 1,
                &sealed
            )));
            let mut tampered = sealed.clone();
            let at = usize::from(case) % (NONCE_LEN + tampered.ciphertext.len());
            if at < NONCE_LEN {
                tampered.nonce[at] ^= 1;
            } else {
                tampered.ciphertext[at - NONCE_LEN] ^= 1;
            }
            assert!(refused(&ring.open(&provider, &subject, version, &tampered)));
        }
        1 => {
            let key_id = match case % 4 {
                0 => ring.primary_id().to_string(),
                1 => "old".to_string(),
                _ => provider.to_string(),
            };
            let mut nonce = [0u8; NONCE_LEN];
            let n = tail.len().min(NONCE_LEN);
            nonce[..n].copy_from_slice(&tail[..n]);
            let format = if case & 1 == 0 {
                SealFormat::Versioned
            } else {
                SealFormat::Legacy
            };
            let sealed = SealedPayload {
                key_id,
                nonce,
                ciphertext: tail[n..].to_vec(),
                format,
            };
            assert!(refused(&ring.open(&provider, &subject, version, &sealed)));
        }
        2 => {
            if let Ok(Some(envelope)) = Envelope::parse(tail) {
                let bytes = envelope.to_bytes();
                assert_eq!(Envelope::parse(&bytes), Ok(Some(envelope)));
            }
        }
        _ => {
            let lookup = |name: &str| match name {
                auth_core::crypto::KEY_ENV => Some(provider.to_string()),
                auth_core::crypto::OLD_KEYS_ENV => Some(subject.to_string()),
                _ => None,
            };
            if let Ok(Some(ring)) = KeyRing::from_lookup(lookup) {
                let sealed = ring.seal("p", "s", 1, tail).unwrap();
                assert_eq!(
                    ring.open("p", "s", 1, &sealed).unwrap().expose_bytes(),
                    tail
                );
            }
        }
    }
});
