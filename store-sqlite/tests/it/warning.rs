//! Without a key the store warns exactly once, at open.

use crate::support;

use std::path::PathBuf;

use auth_core::crypto::KeyRing;
use auth_core::testing::encryption;

#[test]
fn the_missing_key_warning_is_logged_once_at_open_and_only_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    encryption::missing_key_warning_is_logged_once_at_open_and_only_without_a_key(
        dir.path(),
        "db",
        async |path: PathBuf, keys: Option<KeyRing>| {
            support::builder(path, keys).open().await.unwrap()
        },
    );
}
