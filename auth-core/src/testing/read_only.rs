//! The read-only directory check (feature `testing`, unix): in a directory the user cannot write,
//! a store fails with [`StoreError::ReadOnly`] and creates nothing.
//!
//! Root writes anywhere, so when the tests run as root the check runs in a child process as the
//! unprivileged user `nobody` (uid and gid 65534): the store crate's own test binary, linked or
//! copied into the test's directory (so that `nobody` can reach it wherever the checkout lives)
//! and re-executed with `--exact <child test> --ignored`. A child that cannot start fails the
//! test. The crate declares an `#[ignore]`d child test
//! that calls [`child_read_only`] with its check, and a parent test that calls
//! [`run_read_only_directory`] with the name of that child test and the same check.
//!
//! Also here, for the same stores: [`parent_that_is_a_file_is_an_io_error`], a store path below a
//! plain file.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::StoreError;

/// Where the parent tells the child which directory to check.
const CHILD_DIR_ENV: &str = "INTEGRATIONS_TEST_READ_ONLY_DIR";
/// What the child prints when its check passed.
const PASSED: &str = "read-only check passed";
/// The user and group `nobody`.
const NOBODY: u32 = 65534;

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<OsString> {
    let mut names: Vec<OsString> = std::fs::read_dir(dir)
        .expect("list the read-only directory")
        .map(|entry| entry.expect("directory entry").file_name())
        .collect();
    names.sort();
    names
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// Makes `dir/ro`, lets `prepare` put the store's files in it while it is still writable (and
/// leave them readable, and writable where the store needs it, for `nobody`), then makes it
/// read-only (0o555) and runs `check` on it: in this process, or, as root, in the child test
/// `child_test` (which calls [`child_read_only`] with the same check) as `nobody`, whose stdout
/// must say the check passed. Afterwards `dir/ro` must hold exactly the names it held before.
/// `dir` is made traversable for everyone (0o755).
pub async fn run_read_only_directory<P, C>(dir: &Path, child_test: &str, prepare: P, check: C)
where
    P: AsyncFnOnce(&Path),
    C: AsyncFnOnce(&Path),
{
    set_mode(dir, 0o755);
    let ro = dir.join("ro");
    std::fs::create_dir(&ro).expect("create the read-only directory");
    prepare(&ro).await;
    let before = listing(&ro);
    set_mode(&ro, 0o555);
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        check(&ro).await;
    } else {
        // Root writes anywhere: check as the unprivileged user `nobody` in a child process,
        // running this test binary from `dir` (a link to it, or a copy), which `nobody` can
        // reach wherever the checkout lives.
        let binary = std::env::current_exe().expect("test binary path");
        let reachable = dir.join("read-only-child");
        if std::fs::hard_link(&binary, &reachable).is_err() {
            std::fs::copy(&binary, &reachable)
                .unwrap_or_else(|e| panic!("copy the test binary to {}: {e}", reachable.display()));
        }
        set_mode(&reachable, 0o755);
        let output = Command::new(&reachable)
            .args(["--exact", child_test, "--nocapture", "--ignored"])
            .env(CHILD_DIR_ENV, &ro)
            .uid(NOBODY)
            .gid(NOBODY)
            .output();
        match output {
            Ok(output) => {
                let stdout = String::from_utf8_lossy(&output.stdout);
                assert!(
                    output.status.success() && stdout.contains(PASSED),
                    "child failed: {stdout}\n{}",
                    String::from_utf8_lossy(&output.stderr)
                );
                println!("{PASSED} in a child process as nobody");
            }
            Err(err) => panic!(
                "cannot start the read-only child as `nobody` from {}: {err}",
                reachable.display()
            ),
        }
    }
    assert_eq!(
        listing(&ro),
        before,
        "nothing may be created in a read-only directory"
    );
    set_mode(&ro, 0o755);
}

/// The child of [`run_read_only_directory`]: runs `check` on the directory its parent passed and
/// prints that it passed; returns at once when the test runs on its own.
pub async fn child_read_only<C>(check: C)
where
    C: AsyncFnOnce(&Path),
{
    let Some(ro) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    check(&PathBuf::from(ro)).await;
    println!("{PASSED}");
}

/// Makes a plain file in `dir` and has `open` open a store at `file_name` below it: the open must
/// fail with [`StoreError::Io`] of kind `NotADirectory`.
pub async fn parent_that_is_a_file_is_an_io_error<S, O>(dir: &Path, file_name: &str, open: O)
where
    S: fmt::Debug,
    O: AsyncFnOnce(PathBuf) -> Result<S, StoreError>,
{
    let file = dir.join("plain-file");
    std::fs::write(&file, b"x").expect("write the plain file");
    match open(file.join(file_name)).await {
        Err(StoreError::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotADirectory)
        }
        other => panic!("expected Io, got {other:?}"),
    }
}
