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

/// Creates `dir` and its missing parents, owner-only (mode 0700), and syncs each new directory's
/// entry into its parent, so that a power loss soon after the store's first durable write cannot
/// lose the directory holding it. A component that exists and is not a directory fails with
/// [`io::ErrorKind::NotADirectory`], naming `dir`.
///
/// ```
/// use auth_core::local_files::create_private_dir;
///
/// let root = tempfile::tempdir()?;
/// let dir = root.path().join("a/b");
/// create_private_dir(&dir)?;
/// assert!(dir.is_dir());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(path) = at.filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        missing.push(path);
        at = path.parent();
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{} is not a directory", dir.display()),
        ),
        _ => e,
    })?;
    #[cfg(unix)]
    for created in missing {
        let parent = match created.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) => parent,
            None => Path::new("."),
        };
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// Restricts `file`, if it exists and other users may read or write it, to its owner (mode 0600,
/// or 0400 if the owner could not write it either), with a warning: a file created by another tool
/// or an older release, or copied with a permissive umask, must not stay readable by every local
/// user. Fails when it cannot (another user owns the file, say) rather than keep using it, and
/// when `file` is not a regular file (a directory named as a store's file is never touched).
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
        let meta = match std::fs::metadata(file) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error(e)),
        };
        if !meta.is_file() {
            let (kind, what) = if meta.is_dir() {
                (io::ErrorKind::IsADirectory, "a directory")
            } else {
                (io::ErrorKind::InvalidInput, "not a regular file")
            };
            return Err(StoreError::Io {
                store,
                location: location.to_string(),
                source: io::Error::new(
                    kind,
                    format!(
                        "{} is {what}, not a store's file; name a file (a new one is created)",
                        file.display()
                    ),
                ),
            });
        }
        let mode = meta.permissions().mode() & 0o777;
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

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_private_dir_is_created_owner_only_with_its_parents_and_a_file_in_the_way_fails() {
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = root.path().join("a/b/c");
        create_private_dir(&dir).unwrap();
        for created in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&root.path().join(created)), 0o700, "{created}");
        }
        assert_eq!(
            mode(root.path()),
            0o755,
            "an existing directory is left as it is"
        );
        create_private_dir(&dir).unwrap();

        let file = root.path().join("file");
        std::fs::write(&file, b"").unwrap();
        let error = create_private_dir(&file.join("d")).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotADirectory);
        let error = create_private_dir(&file).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotADirectory);
        assert_eq!(
            error.to_string(),
            format!("{} is not a directory", file.display())
        );
    }

    #[test]
    fn only_a_regular_file_is_restricted_and_a_directory_named_as_one_is_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let io_error = |e: io::Error| StoreError::Io {
            store: "test",
            location: "loc".into(),
            source: e,
        };
        let file = root.path().join("creds.db");
        std::fs::write(&file, b"").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        restrict_to_owner(&file, "test", "loc", io_error).unwrap();
        assert_eq!(mode(&file), 0o600);
        restrict_to_owner(&root.path().join("absent"), "test", "loc", io_error).unwrap();

        let dir = root.path().join("dir");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let error = restrict_to_owner(&dir, "test", "loc", io_error).unwrap_err();
        let StoreError::Io {
            store,
            location,
            source,
        } = error
        else {
            panic!("expected StoreError::Io, got {error:?}");
        };
        assert_eq!((store, location.as_str()), ("test", "loc"));
        assert_eq!(source.kind(), io::ErrorKind::IsADirectory);
        assert_eq!(
            source.to_string(),
            format!(
                "{} is a directory, not a store's file; name a file (a new one is created)",
                dir.display()
            )
        );
        assert_eq!(mode(&dir), 0o755, "the directory keeps its mode");
    }

    /// A store's file that its group (or others) may read or write is restricted to its owner:
    /// 0o640, 0o660 and 0o604 all become 0o600 (the owner's bits kept, every other bit cleared).
    #[test]
    fn a_file_open_to_its_group_is_restricted_too() {
        let root = tempfile::tempdir().unwrap();
        let io_error = |e: io::Error| StoreError::Io {
            store: "test",
            location: "loc".into(),
            source: e,
        };
        for open in [0o640, 0o660, 0o604] {
            let file = root.path().join(format!("creds-{open:o}.db"));
            std::fs::write(&file, b"").unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(open)).unwrap();
            restrict_to_owner(&file, "test", "loc", io_error).unwrap();
            assert_eq!(mode(&file), 0o600, "a file at {open:o}");
        }
    }
}
