//! # store-file
//!
//! [`FileCredentialStore`]: every credential in one JSON document, for tools and small deployments
//! that want a file they can read, back up and diff.
//!
//! - **Human-inspectable.** The document has a `format` and a `format_version` ([`FORMAT_VERSION`])
//!   and lists records ordered by (provider, subject). A plaintext payload is embedded as the JSON it
//!   is (a payload that is not JSON, an encrypted one say, is stored as `payload_base64`).
//! - **Atomic writes.** Every write goes to `<file>.tmp` in the same directory, is fsynced, renamed
//!   over the file, and the directory is fsynced: a crash leaves the old document or the new one,
//!   never a mix, and an acknowledged write survives a power loss. A path that is (or leads
//!   through) a symbolic link is resolved when the store is opened: writes replace the link's
//!   target and leave the link in place, and the `.lock` and `.tmp` files sit beside the target,
//!   so processes that open the file through the link and through its real path share one lock.
//! - **Safe across processes.** Each read-modify-write holds an exclusive advisory lock
//!   (`flock`) on the sidecar `<file>.lock` (the data file itself is replaced by every write, so it
//!   cannot carry the lock): two processes never lose each other's updates. Reads take no lock; the
//!   rename makes them see a whole document. Do not delete the `.lock` file while the store is in use.
//!   A write waits at most [`DEFAULT_LOCK_TIMEOUT`] (see [`FileStoreBuilder::lock_timeout`]) for
//!   another process to release the lock, then fails with a transient [`StoreError::Io`].
//! - **Never silently overwritten.** A corrupt file, or one of an unknown format version, is
//!   reported with [`StoreError::Corrupt`] or [`StoreError::UnsupportedVersion`] naming the path, and
//!   is left untouched: every write refuses to run on it.
//! - **Private.** The file and its lock are created with mode 0600, a directory the store creates
//!   with 0700 (unix). An existing file, lock or leftover temp file that other users may read or
//!   write is restricted to its owner at open, with a warning (or the open fails if that is not
//!   possible); an existing directory is left as it is.
//! - **Encrypted at rest** when a key is configured: [`FileCredentialStore::open`] and the builder
//!   return the store inside an [`EncryptedStore`], which seals each payload bound to the record's
//!   provider, subject and version ([`auth_core::crypto`]); the store itself keeps payloads as
//!   opaque bytes. Provider, subject, version, status, lease and timestamps stay in clear. A
//!   plaintext record is refused while a key is configured ([`StoreError::Unencrypted`]) until
//!   [`rotate`](EncryptedStore::rotate) encrypts it. Without a key the store is plaintext and says
//!   so once at open with a `tracing` warning. Payloads the store encrypted itself in earlier
//!   releases (an `encrypted` object in format versions 1 and 2) are still read, and
//!   [`rotate`](EncryptedStore::rotate) rewrites them as opaque payloads.
//!
//! Blocking file work runs on tokio's blocking thread pool, never on a runtime worker thread.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use auth_core::{CredentialRecord, CredentialStore, Payload, PutMode, StoreError};
//! use store_file::FileCredentialStore;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("credentials.json");
//! let store = FileCredentialStore::builder(&path).unencrypted().open().await?;
//!
//! let record = CredentialRecord::new("asana", "user-1", Payload::new(br#"{"access_token":"t1"}"#.to_vec()));
//! let v1 = store.put(record, PutMode::Create).await?;
//! let next = CredentialRecord::new("asana", "user-1", Payload::new(br#"{"access_token":"t2"}"#.to_vec()));
//! store.put(next.clone(), PutMode::Update(v1)).await?;
//! assert!(matches!(
//!     store.put(next, PutMode::Update(v1)).await,
//!     Err(StoreError::VersionMismatch { .. })
//! ));
//!
//! let text = std::fs::read_to_string(&path).unwrap();
//! assert!(text.contains(r#""format_version": 3"#));
//! assert!(text.contains(r#""payload": {"access_token":"t2"}"#));
//! assert_eq!(store.describe(), format!("file:{}", path.display()));
//! # Ok::<(), StoreError>(())
//! # }).unwrap();
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod document;

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use auth_core::crypto::{KeyRing, KeySource, log_encryption_status};
use auth_core::local_files::{create_private_dir, restrict_to_owner, sibling};
use auth_core::store::{PayloadReplacement, millis_since_epoch as to_millis, next_version};
use auth_core::{
    CredentialRecord, CredentialStore, EncryptedStore, PutMode, StoreError, StoredCredential,
    Version,
};

use document::{Document, FileRecord, STORE};
pub use document::{FORMAT, FORMAT_VERSION};

/// A [`CredentialStore`] in one JSON file, keeping payloads as opaque bytes. Cheap to clone: clones
/// share the file and its lock. [`FileCredentialStore::open`] and the builder return it inside an
/// [`EncryptedStore`], which encrypts when a key is configured.
///
/// `Debug` shows the path, never a payload.
#[derive(Clone)]
pub struct FileCredentialStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The file, symbolic links resolved: the lock, the temp file and the directory to fsync are
    /// its siblings and parent.
    path: PathBuf,
    tmp_path: PathBuf,
    /// The path as given, for messages.
    location: String,
    /// The open lock file. The mutex serializes this process's writers; the `flock` on the file,
    /// taken for each write, serializes processes.
    lock: Mutex<File>,
    lock_timeout: Duration,
    /// The file's directory, kept open to fsync it after each rename (unix).
    #[cfg(unix)]
    dir: File,
}

impl FileCredentialStore {
    /// Opens the store at `path` (the file is created by the first write), encrypted with
    /// [`KeyRing::from_env`] when `INTEGRATIONS_ENCRYPTION_KEY` is set and plaintext otherwise.
    /// An existing file is read once to check that it is a valid document.
    ///
    /// Whether the tokens are encrypted is decided by the process environment, not by the code:
    /// without `INTEGRATIONS_ENCRYPTION_KEY`, this writes every token in clear into the JSON
    /// file, and the only sign is one `tracing` warning at open (unseen unless the application
    /// installs a subscriber). To decide in code, use the builder: [`FileStoreBuilder::key_ring`]
    /// always encrypts, whatever the environment says, and [`FileStoreBuilder::unencrypted`]
    /// never does. [`EncryptedStore::is_encrypted`] says which a store is.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use auth_core::crypto::{EncryptionKey, KeyRing};
    /// use store_file::FileCredentialStore;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// // Your key, from wherever you keep secrets (`EncryptionKey::from_base64`).
    /// let ring = KeyRing::new(EncryptionKey::generate());
    /// let encrypted = FileCredentialStore::builder(dir.path().join("credentials.json"))
    ///     .key_ring(ring)
    ///     .open()
    ///     .await?;
    /// assert!(encrypted.is_encrypted());
    ///
    /// // Plaintext on purpose (tests, throwaway tools).
    /// let plain = FileCredentialStore::builder(dir.path().join("plain.json"))
    ///     .unencrypted()
    ///     .open()
    ///     .await?;
    /// assert!(!plain.is_encrypted());
    /// # Ok::<(), auth_core::StoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> Result<EncryptedStore<Self>, StoreError> {
        Self::builder(path).open().await
    }

    /// A builder for the store at `path`, to set the key ring.
    pub fn builder(path: impl AsRef<Path>) -> FileStoreBuilder {
        FileStoreBuilder {
            path: path.as_ref().to_path_buf(),
            encryption: KeySource::FromEnv,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// Runs `f` on the blocking thread pool.
    async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| StoreError::Backend {
                store: STORE,
                message: format!(
                    "{}: the blocking task failed ({e}); the write may or may not have happened",
                    self.inner.location
                ),
            })?
    }
}

impl fmt::Debug for FileCredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileCredentialStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

/// Options for opening a [`FileCredentialStore`] inside an [`EncryptedStore`].
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use auth_core::crypto::{EncryptionKey, KeyRing};
/// use store_file::FileCredentialStore;
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = FileCredentialStore::builder(dir.path().join("creds.json"))
///     .key_ring(KeyRing::new(EncryptionKey::generate()))
///     .open()
///     .await?;
/// assert!(store.is_encrypted());
/// # Ok::<(), auth_core::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
#[must_use]
pub struct FileStoreBuilder {
    path: PathBuf,
    encryption: KeySource,
    lock_timeout: Duration,
}

/// How long a write waits for another process to release the file's lock, by default (the same as
/// the SQLite store's busy timeout).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

impl FileStoreBuilder {
    /// Encrypts payloads with `ring` (new writes use its primary key), whatever the environment says.
    pub fn key_ring(mut self, ring: KeyRing) -> Self {
        self.encryption = KeySource::Keys(ring);
        self
    }

    /// Stores payloads in plaintext, whatever the environment says. Encrypted records then fail to
    /// read with [`StoreError::MissingKey`].
    pub fn unencrypted(mut self) -> Self {
        self.encryption = KeySource::Plaintext;
        self
    }

    /// How long a write waits for the lock, held by another process or by this process's other
    /// writers, in all, before it fails with [`StoreError::Io`] (kind `TimedOut`, a transient
    /// error). Default [`DEFAULT_LOCK_TIMEOUT`].
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Opens the store: creates the directory (0700) if needed, resolves symbolic links in the
    /// path (the store then reads and replaces the file a link leads to), creates the lock file
    /// (0600) beside that file if needed, restricts existing files to their owner, and checks an
    /// existing document.
    pub async fn open(self) -> Result<EncryptedStore<FileCredentialStore>, StoreError> {
        let keys = self.encryption.resolve()?;
        let (path, lock_timeout) = (self.path, self.lock_timeout);
        let inner = tokio::task::spawn_blocking(move || Inner::open(path, lock_timeout))
            .await
            .map_err(|e| StoreError::Backend {
                store: STORE,
                message: format!("opening the store failed: {e}"),
            })??;
        log_encryption_status(&format!("file:{}", inner.location), keys.as_ref());
        let store = FileCredentialStore {
            inner: Arc::new(inner),
        };
        Ok(EncryptedStore::with_keys(store, keys))
    }
}

/// Holds the cross-process lock until dropped.
struct Flock<'a>(&'a File);

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        // Closing the file would release it too; an error here leaves nothing to do.
        let _ = self.0.unlock();
    }
}

impl Inner {
    fn open(path: PathBuf, lock_timeout: Duration) -> Result<Self, StoreError> {
        let location = path.display().to_string();
        let dir = parent(&path);
        create_private_dir(&dir).map_err(|e| io_error(&location, e))?;
        let path = real_path(&path).map_err(|e| io_error(&location, e))?;
        let lock = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(sibling(&path, ".lock"))
            .map_err(|e| io_error(&location, e))?;
        for suffix in ["", ".lock", ".tmp"] {
            restrict_to_owner(&sibling(&path, suffix), STORE, &location, |e| {
                io_error(&location, e)
            })?;
        }
        let inner = Self {
            tmp_path: sibling(&path, ".tmp"),
            #[cfg(unix)]
            dir: File::open(parent(&path)).map_err(|e| io_error(&location, e))?,
            path,
            location,
            lock: Mutex::new(lock),
            lock_timeout,
        };
        inner.read()?;
        Ok(inner)
    }

    /// The current document; empty if the file does not exist yet.
    fn read(&self) -> Result<Document, StoreError> {
        match fs::read(&self.path) {
            Ok(bytes) => {
                let bytes = zeroize::Zeroizing::new(bytes);
                Document::parse(&bytes, &self.location)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Document::default()),
            Err(e) => Err(io_error(&self.location, e)),
        }
    }

    /// Read-modify-write under the lock. `change` returns its result and whether to write.
    fn modify<R>(
        &self,
        change: impl FnOnce(&mut Document) -> Result<(R, bool), StoreError>,
    ) -> Result<R, StoreError> {
        // One deadline for both locks: a writer queued behind this process's other writers
        // (each waiting for another process) waits `lock_timeout` in all, not that much each.
        let deadline = Instant::now() + self.lock_timeout;
        let lock = self.wait_for(deadline, || match self.lock.try_lock() {
            Ok(lock) => Ok(Some(lock)),
            Err(std::sync::TryLockError::Poisoned(p)) => Ok(Some(p.into_inner())),
            Err(std::sync::TryLockError::WouldBlock) => Ok(None),
        })?;
        let _flock = self.wait_for(deadline, || match lock.try_lock() {
            Ok(()) => Ok(Some(Flock(&lock))),
            Err(TryLockError::Error(e)) => Err(io_error(&self.location, e)),
            Err(TryLockError::WouldBlock) => Ok(None),
        })?;
        let mut doc = self.read()?;
        let (result, write) = change(&mut doc)?;
        if write {
            self.write(&doc)?;
        }
        Ok(result)
    }

    /// Tries `attempt` until it answers, or `deadline` passes with the store's lock still held
    /// by another writer (this runs on a blocking thread, so it sleeps between attempts).
    fn wait_for<T>(
        &self,
        deadline: Instant,
        mut attempt: impl FnMut() -> Result<Option<T>, StoreError>,
    ) -> Result<T, StoreError> {
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(taken) = attempt()? {
                return Ok(taken);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StoreError::Io {
                    store: STORE,
                    location: self.location.clone(),
                    source: io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "another writer held the store's lock (`{}`) for more than {:?}; retry later, or find the process that holds it",
                            sibling(&self.path, ".lock").display(),
                            self.lock_timeout
                        ),
                    ),
                });
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Replaces the file atomically and durably: temp file, fsync, rename, fsync the directory.
    fn write(&self, doc: &Document) -> Result<(), StoreError> {
        let bytes = zeroize::Zeroizing::new(doc.to_bytes()?);
        // A leftover from a writer that crashed; only lock holders create it.
        match fs::remove_file(&self.tmp_path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_error(&self.location, e));
            }
            _ => {}
        }
        let written = private_options()
            .write(true)
            .create_new(true)
            .open(&self.tmp_path)
            .and_then(|mut tmp| {
                tmp.write_all(&bytes)?;
                tmp.sync_all()
            })
            .and_then(|()| fs::rename(&self.tmp_path, &self.path));
        if let Err(e) = written {
            let _ = fs::remove_file(&self.tmp_path);
            return Err(io_error(&self.location, e));
        }
        #[cfg(unix)]
        self.dir
            .sync_all()
            .map_err(|e| io_error(&self.location, e))?;
        Ok(())
    }
}

/// The records of a document as the store reads them, and the document as the store would write
/// it back: the store's reading path without a file, for the cargo-fuzz targets in `fuzz/`. Not
/// part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[allow(clippy::type_complexity)]
pub fn read_document_for_fuzzing(
    bytes: &[u8],
) -> Result<(Vec<Result<StoredCredential, StoreError>>, Vec<u8>), StoreError> {
    let doc = Document::parse(bytes, "fuzz")?;
    let records = doc.records.values().map(|r| r.decode("fuzz")).collect();
    Ok((records, doc.to_bytes()?))
}

/// The directory of `file` (`.` for a bare file name).
fn parent(file: &Path) -> PathBuf {
    match file.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from("."),
    }
}

/// How many symbolic links [`real_path`] follows to a file that does not exist yet (Linux's own
/// limit for a path).
const MAX_LINKS: usize = 40;

/// The file the store at `path` reads and replaces: `path` with every symbolic link resolved, so
/// that a write through a link replaces its target rather than the link, and processes that name
/// the same file by different paths take the same lock. `path`'s directory must exist.
fn real_path(path: &Path) -> io::Result<PathBuf> {
    match fs::canonicalize(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        resolved => return resolved,
    }
    // No file yet, or a link to one that does not exist yet: follow the links to the name the
    // file will have, then resolve the directory it will be created in.
    let mut file = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::read_link(&file) {
            Ok(target) => file = parent(&file).join(target),
            // Not a link (`InvalidInput`), or nothing there.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::InvalidInput | io::ErrorKind::NotFound
                ) =>
            {
                let name = file.file_name().ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "{} does not name a file; pass the path of a file",
                            file.display()
                        ),
                    )
                })?;
                let dir = fs::canonicalize(parent(&file)).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!(
                            "{} leads to {}, whose directory cannot be resolved ({e}); create the directory or change the link",
                            path.display(),
                            file.display()
                        ),
                    )
                })?;
                return Ok(dir.join(name));
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{} leads through more than {MAX_LINKS} symbolic links; point it at the file directly",
        path.display()
    )))
}

/// Options that create files readable by their owner only (unix).
fn private_options() -> OpenOptions {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Maps an I/O error on the store's files: permission problems and read-only file systems become
/// [`StoreError::ReadOnly`].
fn io_error(location: &str, source: io::Error) -> StoreError {
    match source.kind() {
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
            StoreError::ReadOnly {
                store: STORE,
                location: location.to_string(),
                reason: format!(
                    "{source}; make the file, its `.lock` and `.tmp` siblings and its directory writable by this user"
                ),
            }
        }
        _ => StoreError::Io {
            store: STORE,
            location: location.to_string(),
            source,
        },
    }
}

#[async_trait]
impl CredentialStore for FileCredentialStore {
    async fn get(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<StoredCredential>, StoreError> {
        let key = (provider.to_string(), subject.to_string());
        self.blocking(move |inner| {
            inner
                .read()?
                .records
                .get(&key)
                .map(|r| r.decode(&inner.location))
                .transpose()
        })
        .await
    }

    async fn put(&self, record: CredentialRecord, mode: PutMode) -> Result<Version, StoreError> {
        self.blocking(move |inner| {
            inner.modify(|doc| {
                let key = (record.provider.clone(), record.subject.clone());
                let existing = doc.records.get(&key);
                let version = next_version(
                    STORE,
                    &inner.location,
                    &record.provider,
                    &record.subject,
                    existing.map(|r| r.version),
                    mode,
                )?;
                let now = to_millis(SystemTime::now());
                let created = existing.map_or(now, |r| r.created_at_ms);
                let stored = FileRecord::new(&record, version, created, now);
                doc.records.insert(key, stored);
                Ok((version, true))
            })
        })
        .await
    }

    async fn delete(&self, provider: &str, subject: &str) -> Result<bool, StoreError> {
        let key = (provider.to_string(), subject.to_string());
        self.blocking(move |inner| {
            inner.modify(|doc| {
                let deleted = doc.records.remove(&key).is_some();
                Ok((deleted, deleted))
            })
        })
        .await
    }

    async fn list(&self, provider: Option<&str>) -> Result<Vec<StoredCredential>, StoreError> {
        let provider = provider.map(str::to_string);
        self.blocking(move |inner| {
            inner
                .read()?
                .records
                .values()
                .filter(|r| provider.as_deref().is_none_or(|p| r.provider() == p))
                .map(|r| r.decode(&inner.location))
                .collect()
        })
        .await
    }

    async fn list_subjects(
        &self,
        provider: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let provider = provider.map(str::to_string);
        self.blocking(move |inner| {
            Ok(inner
                .read()?
                .records
                .into_keys()
                .filter(|(p, _)| provider.as_deref().is_none_or(|wanted| p == wanted))
                .collect())
        })
        .await
    }

    /// In one atomic rewrite of the file.
    async fn replace_payloads(
        &self,
        replacements: Vec<PayloadReplacement>,
    ) -> Result<usize, StoreError> {
        self.blocking(move |inner| {
            inner.modify(|doc| {
                let mut count = 0;
                for r in replacements {
                    if let Some(stored) = doc
                        .records
                        .get_mut(&(r.provider, r.subject))
                        .filter(|stored| stored.version == r.version)
                    {
                        stored.set_payload(&r.payload);
                        count += 1;
                    }
                }
                Ok((count, count > 0))
            })
        })
        .await
    }

    fn describe(&self) -> String {
        format!("file:{}", self.inner.location)
    }
}
