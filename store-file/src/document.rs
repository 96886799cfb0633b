//! The on-disk document: its JSON form, parsing with clear errors, and conversion of records to and
//! from [`StoredCredential`].

use std::collections::BTreeMap;

use auth_core::crypto::{Envelope, NONCE_LEN, SealFormat, SealedPayload};
use auth_core::store::{
    MAX_VERSION, millis_since_epoch as to_millis, time_from_millis as from_millis,
};
use auth_core::{
    CredentialRecord, CredentialStatus, Payload, RefreshLease, StoreError, StoredCredential,
    Version,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Store kind in errors.
pub(crate) const STORE: &str = "file";

/// The value of the document's `format` field.
pub const FORMAT: &str = "integrations-credentials";

/// The document format version this build writes and the newest it reads.
///
/// Version 3 keeps every payload as opaque bytes (an encrypted one is an
/// [`Envelope`] written by [`EncryptedStore`](auth_core::EncryptedStore), in `payload_base64`).
/// Version 2 added `seal_format` to the `encrypted` objects in which the store itself kept
/// encrypted payloads, bound to their record's version; version 1 documents have only legacy ones.
/// Both are read too (an `encrypted` object as an envelope of its seal format), and written back as
/// version 3.
pub const FORMAT_VERSION: u64 = 3;

/// The oldest document format version this build reads.
const OLDEST_FORMAT_VERSION: u64 = 1;

/// All records, keyed by (provider, subject).
#[derive(Default)]
pub(crate) struct Document {
    pub(crate) records: BTreeMap<(String, String), FileRecord>,
}

/// One record as stored. Exactly one of `payload`, `payload_base64` and `encrypted` is set;
/// `encrypted` only in documents of format versions 1 and 2, and only until parsing turns it into
/// `payload_base64`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileRecord {
    provider: String,
    subject: String,
    pub(crate) version: Version,
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease: Option<FileLease>,
    pub(crate) created_at_ms: i64,
    updated_at_ms: i64,
    /// A JSON payload, embedded as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload: Option<Box<RawValue>>,
    /// A payload that is not JSON (or whose bytes JSON cannot reproduce), as base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload_base64: Option<String>,
    /// A payload the store encrypted itself, before [`Envelope`].
    #[serde(default, skip_serializing)]
    encrypted: Option<FileSealed>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLease {
    holder: String,
    expires_at_ms: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSealed {
    key_id: String,
    /// Base64.
    nonce: String,
    /// Base64 of the ciphertext and its tag.
    ciphertext: String,
    /// [`SealFormat::number`]; absent in version 1 documents, whose payloads are all legacy.
    #[serde(default = "legacy_seal_format")]
    seal_format: u8,
}

/// What a version 1 document's encrypted payloads are sealed in.
fn legacy_seal_format() -> u8 {
    SealFormat::Legacy.number()
}

/// The top level, as read: records are parsed only once the version is known.
#[derive(Deserialize)]
struct Header<'a> {
    format: Option<String>,
    format_version: Option<u64>,
    #[serde(borrow)]
    records: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct Out<'a> {
    format: &'static str,
    format_version: u64,
    records: Vec<&'a FileRecord>,
}

/// A store error about the file at `location`.
pub(crate) fn corrupt(location: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        store: STORE,
        location: location.to_string(),
        reason: reason.into(),
    }
}

impl Document {
    /// Parses the file's bytes. Never echoes payload bytes in an error.
    pub(crate) fn parse(bytes: &[u8], location: &str) -> Result<Self, StoreError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(corrupt(location, "the file is empty"));
        }
        let header: Header<'_> = serde_json::from_slice(bytes)
            .map_err(|e| corrupt(location, format!("not valid JSON ({e})")))?;
        if header.format.as_deref() != Some(FORMAT) {
            return Err(corrupt(
                location,
                format!(
                    "not an integrations credential file (its `format` field is not \"{FORMAT}\")"
                ),
            ));
        }
        match header.format_version {
            Some(OLDEST_FORMAT_VERSION..=FORMAT_VERSION) => {}
            Some(found) => {
                return Err(StoreError::UnsupportedVersion {
                    store: STORE,
                    location: location.to_string(),
                    found,
                    supported: FORMAT_VERSION,
                });
            }
            None => return Err(corrupt(location, "the `format_version` field is missing")),
        }
        let raw = header
            .records
            .ok_or_else(|| corrupt(location, "the `records` field is missing"))?;
        let list: Vec<FileRecord> = serde_json::from_str(raw.get())
            .map_err(|e| corrupt(location, format!("invalid `records` ({e})")))?;
        let mut records = BTreeMap::new();
        for mut record in list {
            record.check(location)?;
            record.envelope_earlier_layout(location)?;
            let key = (record.provider.clone(), record.subject.clone());
            if records.insert(key, record).is_some() {
                return Err(corrupt(
                    location,
                    "two records have the same provider and subject",
                ));
            }
        }
        Ok(Self { records })
    }

    /// The document as pretty-printed JSON, ending with a newline.
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>, StoreError> {
        let out = Out {
            format: FORMAT,
            format_version: FORMAT_VERSION,
            records: self.records.values().collect(),
        };
        let mut bytes = serde_json::to_vec_pretty(&out).map_err(|e| StoreError::Backend {
            store: STORE,
            message: format!("cannot serialize the credential document: {e}"),
        })?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

impl FileRecord {
    /// A record of `record`.
    pub(crate) fn new(
        record: &CredentialRecord,
        version: Version,
        created_at_ms: i64,
        updated_at_ms: i64,
    ) -> Self {
        let mut stored = Self {
            provider: record.provider.clone(),
            subject: record.subject.clone(),
            version,
            status: record.status.as_str().to_string(),
            lease: record.lease.as_ref().map(|lease| FileLease {
                holder: lease.holder.clone(),
                expires_at_ms: to_millis(lease.expires_at),
            }),
            created_at_ms,
            updated_at_ms,
            payload: None,
            payload_base64: None,
            encrypted: None,
        };
        stored.set_payload(&record.payload);
        stored
    }

    /// Replaces the payload: embedded as JSON when it is JSON that reads back byte for byte, as
    /// base64 otherwise.
    pub(crate) fn set_payload(&mut self, payload: &Payload) {
        let bytes = payload.expose_bytes();
        (self.payload, self.payload_base64, self.encrypted) = match std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| RawValue::from_string(text.to_string()).ok())
            .filter(|raw| raw.get().as_bytes() == bytes)
        {
            Some(raw) => (Some(raw), None, None),
            None => (None, Some(STANDARD.encode(bytes)), None),
        };
    }

    /// Turns an `encrypted` object of an earlier format version into the [`Envelope`] of its seal
    /// format, kept as opaque bytes.
    fn envelope_earlier_layout(&mut self, location: &str) -> Result<(), StoreError> {
        if let Some(encrypted) = self.encrypted.take() {
            let sealed = self.sealed(&encrypted, location)?;
            self.payload_base64 =
                Some(STANDARD.encode(Envelope::from_earlier_layout(sealed).to_bytes()));
        }
        Ok(())
    }

    /// The provider id.
    pub(crate) fn provider(&self) -> &str {
        &self.provider
    }

    fn corrupt(&self, location: &str, what: &str) -> StoreError {
        corrupt(
            location,
            format!("the record for {}/{} {what}", self.provider, self.subject),
        )
    }

    /// Checks what parsing cannot: a version a store can reach, one payload form, a known status,
    /// a valid encrypted form.
    fn check(&self, location: &str) -> Result<(), StoreError> {
        if self.version > MAX_VERSION {
            return Err(self.corrupt(
                location,
                &format!(
                    "has version {}, above the highest a store keeps ({MAX_VERSION})",
                    self.version
                ),
            ));
        }
        let forms = usize::from(self.payload.is_some())
            + usize::from(self.payload_base64.is_some())
            + usize::from(self.encrypted.is_some());
        if forms != 1 {
            return Err(self.corrupt(
                location,
                "must have exactly one of `payload`, `payload_base64` and `encrypted`",
            ));
        }
        if CredentialStatus::parse(&self.status).is_none() {
            return Err(self.corrupt(location, "has an unknown status"));
        }
        if let Some(encrypted) = &self.encrypted {
            self.sealed(encrypted, location)?;
        }
        Ok(())
    }

    fn sealed(&self, encrypted: &FileSealed, location: &str) -> Result<SealedPayload, StoreError> {
        let nonce = STANDARD
            .decode(&encrypted.nonce)
            .ok()
            .and_then(|n| <[u8; NONCE_LEN]>::try_from(n).ok())
            .ok_or_else(|| self.corrupt(location, "has an invalid nonce"))?;
        let ciphertext = STANDARD
            .decode(&encrypted.ciphertext)
            .map_err(|_| self.corrupt(location, "has a ciphertext that is not base64"))?;
        let format = SealFormat::from_number(encrypted.seal_format).ok_or_else(|| {
            self.corrupt(
                location,
                &format!("has an unknown seal format {}", encrypted.seal_format),
            )
        })?;
        Ok(SealedPayload {
            key_id: encrypted.key_id.clone(),
            nonce,
            ciphertext,
            format,
        })
    }

    /// The payload as stored.
    fn payload(&self, location: &str) -> Result<Payload, StoreError> {
        if let Some(raw) = &self.payload {
            return Ok(Payload::new(raw.get().as_bytes().to_vec()));
        }
        match &self.payload_base64 {
            Some(encoded) => STANDARD
                .decode(encoded)
                .map(Payload::new)
                .map_err(|_| self.corrupt(location, "has a `payload_base64` that is not base64")),
            None => Err(self.corrupt(location, "has no payload")),
        }
    }

    /// The stored credential.
    pub(crate) fn decode(&self, location: &str) -> Result<StoredCredential, StoreError> {
        let status = CredentialStatus::parse(&self.status)
            .ok_or_else(|| self.corrupt(location, "has an unknown status"))?;
        Ok(StoredCredential {
            record: CredentialRecord {
                provider: self.provider.clone(),
                subject: self.subject.clone(),
                payload: self.payload(location)?,
                status,
                lease: self.lease.as_ref().map(|lease| RefreshLease {
                    holder: lease.holder.clone(),
                    expires_at: from_millis(lease.expires_at_ms),
                }),
            },
            version: self.version,
            created_at: from_millis(self.created_at_ms),
            updated_at: from_millis(self.updated_at_ms),
        })
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_json_cannot_reproduce_are_kept_as_base64() {
        for bytes in [
            &b"{\"a\":1}"[..],
            b" {\"a\":1} ",
            b"not json",
            b"\xff\xfe",
            b"",
        ] {
            let record = CredentialRecord::new("p", "s", Payload::new(bytes.to_vec()));
            let stored = FileRecord::new(&record, 1, 0, 0);
            assert_eq!(
                stored.payload.is_some(),
                bytes == b"{\"a\":1}",
                "{bytes:?}: only exact JSON is embedded"
            );
            assert_eq!(stored.payload("x").unwrap().expose_bytes(), bytes);
        }
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let reason = |text: &str| match Document::parse(text.as_bytes(), "loc") {
            Err(StoreError::Corrupt {
                location, reason, ..
            }) => {
                assert_eq!(location, "loc");
                reason
            }
            Err(other) => panic!("expected Corrupt, got {other:?}"),
            Ok(_) => panic!("{text} parsed"),
        };
        assert!(reason("").contains("empty"));
        assert!(reason("{\"format\": \"integrations-cre").contains("not valid JSON"));
        assert!(
            reason("{\"format\": \"other\", \"format_version\": 1, \"records\": []}")
                .contains("not an integrations credential file")
        );
        assert!(
            reason("{\"format\": \"integrations-credentials\", \"records\": []}")
                .contains("format_version")
        );
        let two = r#"{"format": "integrations-credentials", "format_version": 1, "records": [
            {"provider": "p", "subject": "s", "version": 1, "status": "active", "created_at_ms": 0, "updated_at_ms": 0, "payload": {}},
            {"provider": "p", "subject": "s", "version": 1, "status": "active", "created_at_ms": 0, "updated_at_ms": 0, "payload": {}}]}"#;
        assert!(reason(two).contains("same provider and subject"));
        let none = r#"{"format": "integrations-credentials", "format_version": 1, "records": [
            {"provider": "p", "subject": "s", "version": 1, "status": "active", "created_at_ms": 0, "updated_at_ms": 0}]}"#;
        assert!(reason(none).contains("exactly one of"));
        let status = r#"{"format": "integrations-credentials", "format_version": 1, "records": [
            {"provider": "p", "subject": "s", "version": 1, "status": "bogus", "created_at_ms": 0, "updated_at_ms": 0, "payload": {}}]}"#;
        assert!(reason(status).contains("unknown status"));
        let nonce = r#"{"format": "integrations-credentials", "format_version": 1, "records": [
            {"provider": "p", "subject": "s", "version": 1, "status": "active", "created_at_ms": 0, "updated_at_ms": 0,
             "encrypted": {"key_id": "k", "nonce": "AAAA", "ciphertext": ""}}]}"#;
        assert!(reason(nonce).contains("invalid nonce"));
        let seal_format = r#"{"format": "integrations-credentials", "format_version": 2, "records": [
            {"provider": "p", "subject": "s", "version": 1, "status": "active", "created_at_ms": 0, "updated_at_ms": 0,
             "encrypted": {"key_id": "k", "nonce": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "ciphertext": "", "seal_format": 9}}]}"#;
        assert!(reason(seal_format).contains("unknown seal format 9"));
        match Document::parse(
            br#"{"format": "integrations-credentials", "format_version": 4, "records": []}"#,
            "loc",
        ) {
            Err(StoreError::UnsupportedVersion {
                found: 4,
                supported: 3,
                ..
            }) => {}
            Err(other) => panic!("expected UnsupportedVersion, got {other:?}"),
            Ok(_) => panic!("version 4 parsed"),
        }
    }
}
