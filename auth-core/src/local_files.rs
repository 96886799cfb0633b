//! For store implementers: the rules shared by stores that keep credentials in local files.
//!
//! A store's files (the database or document, and siblings such as SQLite's `-wal` or a lock file)
//! hold tokens; another local user must never be able to read them. Stores create their files
//! owner-only and call [`restrict_to_owner`] on files that already exist when they open.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::StoreError;

/// `path` with `suffix` appended to its file name (`creds.db` + `-wal` → `creds.db-wal`).
///
/// ```
/// use std::path::Path;
/// use auth_core::local_files::sibling;
///
/// assert_eq!(sibling(Path::new("/d/creds.db"), "-wal"), Path::new("/d/creds.db-wal"));
/// ```
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// Restricts `file`, if it exists and other users may read or write it, to its owner (mode 0600,
/// or 0400 if the owner could not write it either), with a warning: a file created by another tool
/// or an older release, or copied with a permissive umask, must not stay readable by every local
/// user. Fails when it cannot (another user owns the file, say) rather than keep using it.
///
/// `store` and `location` name the store in errors; `io_error` maps a failure to read the file's
/// metadata the way the store maps its other I/O errors. Without unix modes this does nothing.
pub fn restrict_to_owner(
    file: &Path,
    store: &'static str,
    location: &str,
    io_error: impl FnOnce(io::Error) -> StoreError,
) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match std::fs::metadata(file) {
            Ok(meta) => meta.permissions().mode() & 0o777,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error(e)),
        };
        if mode & 0o077 == 0 {
            return Ok(());
        }
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode & 0o600)).map_err(
            |e| StoreError::Io {
                store,
                location: location.to_string(),
                source: io::Error::new(
                    e.kind(),
                    format!(
                        "{} is open to other users (mode {mode:o}) and could not be restricted to its owner ({e}); run `chmod 600` on it as its owner",
                        file.display()
                    ),
                ),
            },
        )?;
        tracing::warn!(
            file = %file.display(),
            old_mode = format!("{mode:o}"),
            "the credential store's file was open to other users; it is now readable by its owner only (if others could read it, consider logging in again)"
        );
    }
    #[cfg(not(unix))]
    let _ = (file, store, location, io_error);
    Ok(())
}
