//! The file store's document, as the store reads its file: parse, decode every record, write back.
//! What is written back reads the same and writes the same bytes. (Encryption is a wrapper over the
//! store, fuzzed by `sealed_payload`.)
#![no_main]

use auth_core::{StoreError, StoredCredential};
use libfuzzer_sys::fuzz_target;
use store_file::read_document_for_fuzzing as read;

fn same(
    a: &Result<StoredCredential, StoreError>,
    b: &Result<StoredCredential, StoreError>,
) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => {
            a.record.provider == b.record.provider
                && a.record.subject == b.record.subject
                && a.record.payload.expose_bytes() == b.record.payload.expose_bytes()
                && a.record.status == b.record.status
                && a.record.lease == b.record.lease
                && a.version == b.version
                && a.created_at == b.created_at
                && a.updated_at == b.updated_at
        }
        (Err(a), Err(b)) => a.to_string() == b.to_string(),
        _ => false,
    }
}

fuzz_target!(|file: &[u8]| {
    let Ok((records, written)) = read(file) else {
        return;
    };
    let (again, rewritten) = read(&written).expect("a written document reads back");
    assert_eq!(written, rewritten, "writing is not stable");
    assert_eq!(records.len(), again.len());
    for (a, b) in records.iter().zip(&again) {
        assert!(same(a, b), "a record changed through a write");
    }
});
