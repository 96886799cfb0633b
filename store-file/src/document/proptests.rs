//! Property tests of the document: whatever bytes the file holds, reading it never panics; what the
//! store writes, it reads back as it was; a document read and written back stays the same. The
//! cargo-fuzz target `file_document` feeds the same reader.

use auth_core::crypto::{EncryptionKey, KEY_LEN, KeyRing, NONCE_LEN};
use auth_core::store::{MAX_VERSION, time_from_millis};
use auth_core::{CredentialRecord, CredentialStatus, Payload, RefreshLease, StoredCredential};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{Document, FORMAT, FileRecord};

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn ring() -> KeyRing {
    KeyRing::new(EncryptionKey::from_bytes([3; KEY_LEN]))
}

/// A small JSON value: what a record's fields could hold instead of what they should.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        Just(json!(1e30)),
        Just(json!(-1.5)),
        any::<String>().prop_map(Value::String),
    ]
}

/// Mostly `valid`, sometimes any small value, rarely missing.
fn field(valid: impl Strategy<Value = Value> + 'static) -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(0.99, prop_oneof![40 => valid, 1 => scalar()])
}

/// One record as a damaged or hand-edited file could hold it: each field usually valid, so that
/// whole documents get past parsing and their records get decoded.
fn record_like() -> impl Strategy<Value = Value> {
    let text = || "[a-z0-9-]{0,6}".prop_map(Value::String);
    let millis = || any::<i64>().prop_map(Value::from);
    let base64_of = |len: std::ops::Range<usize>| {
        prop_oneof![
            6 => prop::collection::vec(any::<u8>(), len).prop_map(|b| Value::String(STANDARD.encode(b))),
            1 => "[ -~]{0,8}".prop_map(Value::String),
        ]
    };
    let sealed = (
        field(prop_oneof![
            Just(Value::String(ring().primary_id().into())),
            text()
        ]),
        field(base64_of(NONCE_LEN..NONCE_LEN + 1)),
        field(base64_of(0..48)),
    )
        .prop_map(|(key_id, nonce, ciphertext)| {
            object([
                ("key_id", key_id),
                ("nonce", nonce),
                ("ciphertext", ciphertext),
            ])
        })
        .boxed();
    let lease = (field(text()), field(millis()))
        .prop_map(|(h, e)| object([("holder", h), ("expires_at_ms", e)]));
    let payload = prop_oneof![
        scalar(),
        Just(json!({"access_token": "t", "expires_at": 1e30})),
        prop::collection::btree_map("[a-z_]{1,6}", scalar(), 0..3).prop_map(|m| json!(m)),
    ]
    .boxed();
    let body = prop_oneof![
        6 => payload.clone().prop_map(|p| ("payload", Some(p))),
        3 => base64_of(0..16).prop_map(|p| ("payload_base64", Some(p))),
        6 => sealed.clone().prop_map(|p| ("encrypted", Some(p))),
        1 => Just(("payload", None)),
    ];
    let status = prop_oneof![
        6 => Just(json!("active")),
        3 => Just(json!("needs_reauthorization")),
        1 => prop::sample::select(vec!["Active", ""]).prop_map(Value::from),
    ];
    (
        (
            field(text()),
            field(text()),
            field(any::<u64>().prop_map(Value::from)),
            field(status),
        ),
        (
            field(millis()),
            field(millis()),
            prop::option::weighted(0.3, lease),
        ),
        body,
        prop::option::weighted(0.05, (payload, sealed)),
        prop::option::weighted(0.02, scalar()),
    )
        .prop_map(
            |(
                (provider, subject, version, status),
                (created, updated, lease),
                body,
                second,
                unknown,
            )| {
                let mut map = object([
                    ("provider", provider),
                    ("subject", subject),
                    ("version", version),
                    ("status", status),
                    ("created_at_ms", created),
                    ("updated_at_ms", updated),
                    ("lease", lease),
                    (body.0, body.1),
                    ("unknown", unknown),
                ]);
                if let (Some((payload, sealed)), Value::Object(map)) = (second, &mut map) {
                    map.entry("payload").or_insert(payload);
                    map.entry("encrypted").or_insert(sealed);
                }
                map
            },
        )
}

/// An object of the fields that are present.
fn object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_string(), value?)))
            .collect(),
    )
}

/// A whole document, mostly well-formed at the top so that the records get read.
fn document_like() -> impl Strategy<Value = Value> {
    (
        prop_oneof![40 => Just(json!(FORMAT)), 1 => scalar()],
        prop_oneof![40 => Just(json!(1)), 1 => scalar()],
        prop_oneof![
            40 => prop::collection::vec(record_like(), 0..4).prop_map(Value::Array),
            1 => scalar(),
        ],
    )
        .prop_map(|(format, version, records)| {
            json!({"format": format, "format_version": version, "records": records})
        })
}

/// A record as a writer hands it to the store, at a version a store can reach.
fn credential_record() -> impl Strategy<Value = (CredentialRecord, u64, i64, i64)> {
    (
        any::<String>(),
        any::<String>(),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            Just(br#"{"access_token":"t","refresh_token":"r"}"#.to_vec()),
            Just(br#" {"a": 1} "#.to_vec()),
        ],
        prop::sample::select(vec![
            CredentialStatus::Active,
            CredentialStatus::NeedsReauthorization,
        ]),
        prop::option::of((any::<String>(), any::<i64>())),
        (0..=MAX_VERSION, any::<i64>(), any::<i64>()),
    )
        .prop_map(
            |(provider, subject, payload, status, lease, (version, created, updated))| {
                let mut record = CredentialRecord::new(provider, subject, Payload::new(payload));
                record.status = status;
                record.lease = lease.map(|(holder, ms)| RefreshLease {
                    holder,
                    expires_at: time_from_millis(ms),
                });
                (record, version, created, updated)
            },
        )
}

fn read_all(doc: &Document) -> Vec<Result<StoredCredential, String>> {
    doc.records
        .values()
        .map(|r| r.decode("loc").map_err(|e| e.to_string()))
        .collect()
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn reading_any_file_never_panics(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            document_like().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        ],
    ) {
        if let Ok(doc) = Document::parse(&bytes, "loc") {
            for record in doc.records.values() {
                let _ = record.decode("loc");
            }
            let written = doc.to_bytes().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(Document::parse(&written, "loc").is_ok());
        }
    }

    #[test]
    fn a_file_read_then_written_reads_the_same(doc in document_like()) {
        let bytes = serde_json::to_vec(&doc).unwrap();
        let Ok(first) = Document::parse(&bytes, "loc") else {
            return Ok(());
        };
        let written = first.to_bytes().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let second = Document::parse(&written, "loc").map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(second.to_bytes().unwrap(), written);
        let (a, b) = (read_all(&first), read_all(&second));
        prop_assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(&b) {
            match (a, b) {
                (Ok(a), Ok(b)) => prop_assert!(same(a, b)),
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                _ => prop_assert!(false, "{:?} then {:?}", a.as_ref().err(), b.as_ref().err()),
            }
        }
    }

    #[test]
    fn records_written_are_read_back(
        records in prop::collection::vec(credential_record(), 0..4),
    ) {
        let mut doc = Document::default();
        let mut expected = std::collections::BTreeMap::new();
        for (record, version, created, updated) in records {
            let stored = FileRecord::new(&record, version, created, updated);
            let key = (record.provider.clone(), record.subject.clone());
            doc.records.insert(key.clone(), stored);
            expected.insert(key, StoredCredential {
                record,
                version,
                created_at: time_from_millis(created),
                updated_at: time_from_millis(updated),
            });
        }
        let read = Document::parse(&doc.to_bytes().unwrap(), "loc")
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(read.records.len(), expected.len());
        for (key, want) in &expected {
            let got = read.records[key].decode("loc").unwrap();
            prop_assert!(same(&got, want), "{key:?}");
        }
    }
}

/// Whether two stored credentials hold the same record, payload bytes included.
fn same(a: &StoredCredential, b: &StoredCredential) -> bool {
    a.record.provider == b.record.provider
        && a.record.subject == b.record.subject
        && a.record.payload.expose_bytes() == b.record.payload.expose_bytes()
        && a.record.status == b.record.status
        && a.record.lease == b.record.lease
        && a.version == b.version
        && a.created_at == b.created_at
        && a.updated_at == b.updated_at
}
