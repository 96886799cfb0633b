//! Without a key the store warns exactly once, at open. Alone in its test binary: a thread-local
//! tracing subscriber shares tracing's global callsite-interest cache with tests running
//! concurrently in the same binary, which makes log capture flaky.

mod support;

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
