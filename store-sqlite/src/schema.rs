//! Opening connections: file creation and permissions, pragmas, the schema and its migrations, and
//! the mapping of SQLite errors to [`StoreError`].

use std::fs::OpenOptions;
use std::io;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use auth_core::StoreError;
use auth_core::local_files::{create_private_dir, restrict_to_owner, sibling};
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

/// Store kind in errors.
pub(crate) const STORE: &str = "sqlite";

/// The schema version this build writes and the newest it reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = 3;

/// `PRAGMA application_id`: "INTG". Marks the file as ours, so that another application's database
/// is refused rather than modified.
const APPLICATION_ID: i32 = 0x494e_5447;

/// `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    "
    CREATE TABLE credentials (
        provider         TEXT    NOT NULL,
        subject          TEXT    NOT NULL,
        version          INTEGER NOT NULL,
        status           TEXT    NOT NULL,
        lease_holder     TEXT,
        lease_expires_ms INTEGER,
        created_ms       INTEGER NOT NULL,
        updated_ms       INTEGER NOT NULL,
        key_id           TEXT,
        nonce            BLOB,
        payload          BLOB    NOT NULL,
        PRIMARY KEY (provider, subject)
    ) WITHOUT ROWID;
",
    "
    -- What a sealed payload's associated data binds it to (auth_core::crypto::SealFormat). NULL
    -- beside a key id is format 1, what releases before schema 2 wrote (and still write, while
    -- one already running shares the file with a newer one): bound to provider and subject only.
    ALTER TABLE credentials ADD COLUMN seal_format INTEGER;
",
    "
    -- Nothing changes in the table: from schema 3 on, `payload` holds opaque bytes (an encrypted
    -- payload is an auth_core::crypto::Envelope written by EncryptedStore) and new writes leave
    -- `key_id`, `nonce` and `seal_format` empty; rows that still use them are read as before. The
    -- version tells earlier releases, which would take an envelope for plaintext, not to open it.
    SELECT 1;
",
];

/// Which connection of a store is being opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The one connection that writes, opened at the store's first write.
    Writer,
    /// The query-only connection for reads, opened when the store is opened.
    Reader,
}

/// Opens a connection to the database file at `path`. Either role creates the file if it is
/// missing, restricts it to its owner, checks that it is ours and whole, switches it to WAL and
/// migrates the schema, so that whichever connection opens first finds every error the file has;
/// the reader is then made query-only.
pub(crate) fn open_file(
    path: &Path,
    location: &str,
    busy_timeout: Duration,
    role: Role,
) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    create_file(path, location)?;
    for suffix in ["", "-wal", "-shm"] {
        restrict_to_owner(&sibling(path, suffix), STORE, location, |e| {
            io_error(location, e)
        })?;
    }
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| sql_error(location, e))?;
    conn.busy_timeout(busy_timeout)
        .map_err(|e| sql_error(location, e))?;
    // Processes opening a new file at the same time race to switch it to WAL and to create the
    // schema; some of those steps fail with "busy" at once instead of waiting, so the whole
    // initialization is retried until the busy timeout.
    match retry_while_busy(
        busy_timeout,
        || init(&mut conn, path, location),
        |e| matches!(e, Init::Busy(_)),
    ) {
        Ok(()) => {}
        Err(Init::Busy(e)) => return Err(sql_error(location, e)),
        Err(Init::Failed(e)) => return Err(e),
    }
    if role == Role::Reader {
        conn.pragma_update(None, "query_only", true)
            .map_err(|e| sql_error(location, e))?;
    }
    Ok(conn)
}

/// Runs `attempt` until it succeeds, fails in a way `busy` does not call a lock conflict, or
/// `patience` has passed: for the steps SQLite answers "busy" at once, without waiting in its busy
/// handler, such as switching a file to WAL while another connection does. It sleeps between
/// attempts (1 ms, then a millisecond longer each time, up to 10 ms), so it belongs on a blocking
/// thread.
///
/// ```
/// use std::time::Duration;
///
/// let mut tries = 0;
/// let opened = store_sqlite::retry_while_busy(
///     Duration::from_secs(1),
///     || {
///         tries += 1;
///         if tries < 3 { Err("busy") } else { Ok(tries) }
///     },
///     |e| *e == "busy",
/// );
/// assert_eq!(opened, Ok(3));
/// ```
pub fn retry_while_busy<T, E>(
    patience: Duration,
    mut attempt: impl FnMut() -> Result<T, E>,
    busy: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let deadline = Instant::now() + patience;
    let mut attempts = 0;
    loop {
        match attempt() {
            Err(e) if busy(&e) && Instant::now() < deadline => {
                attempts += 1;
                thread::sleep(Duration::from_millis(attempts.min(10)));
            }
            done => return done,
        }
    }
}

/// Why an initialization step failed.
enum Init {
    /// SQLite reported a lock conflict: worth retrying.
    Busy(rusqlite::Error),
    /// Anything else.
    Failed(StoreError),
}

impl From<StoreError> for Init {
    fn from(e: StoreError) -> Self {
        Init::Failed(e)
    }
}

/// Maps a SQLite error of an initialization step.
fn init_error(location: &str) -> impl Fn(rusqlite::Error) -> Init + '_ {
    move |e| match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
        {
            Init::Busy(e)
        }
        _ => Init::Failed(sql_error(location, e)),
    }
}

/// Checks that the file is ours and whole, switches it to WAL, sets the pragmas and migrates the
/// schema.
fn init(conn: &mut Connection, path: &Path, location: &str) -> Result<(), Init> {
    // Refuse a file that is not ours before anything writes to it (switching to WAL does).
    check(conn, location)?;
    check_whole_pages(conn, path, location)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(init_error(location))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Init::Failed(StoreError::Backend {
            store: STORE,
            message: format!(
                "{location}: cannot switch the database to WAL mode (got `{mode}`); put it on a local file system"
            ),
        }));
    }
    durable_pragmas(conn, location)?;
    migrate(conn, location)
}

/// Opens a private in-memory database with the schema.
pub(crate) fn open_memory() -> Result<Connection, StoreError> {
    let location = ":memory:";
    let mut conn = Connection::open_in_memory().map_err(|e| sql_error(location, e))?;
    match durable_pragmas(&conn, location).and_then(|()| migrate(&mut conn, location)) {
        Ok(()) => Ok(conn),
        Err(Init::Busy(e)) => Err(sql_error(location, e)),
        Err(Init::Failed(e)) => Err(e),
    }
}

/// `synchronous=FULL`: in WAL mode every commit is fsynced, so an acknowledged write survives a
/// power loss, not only a crash. `fullfsync` and `checkpoint_fullfsync`: on macOS, where a plain
/// `fsync` leaves the data in the drive's cache, the sync is `F_FULLFSYNC` (other systems ignore
/// them). `secure_delete`: overwritten and deleted payloads are zeroed in the file instead of
/// lingering in free space.
fn durable_pragmas(conn: &Connection, location: &str) -> Result<(), Init> {
    conn.pragma_update(None, "synchronous", "FULL")
        .and_then(|()| conn.pragma_update(None, "fullfsync", true))
        .and_then(|()| conn.pragma_update(None, "checkpoint_fullfsync", true))
        .and_then(|()| conn.pragma_update(None, "secure_delete", true))
        .map_err(init_error(location))
}

/// Creates the parent directory (0700) and the database file (0600) if they are missing, so that
/// SQLite, which gives its `-wal` and `-shm` files the main file's mode, never creates a
/// world-readable file.
fn create_file(path: &Path, location: &str) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(|e| io_error(location, e))?;
    }
    // Only a file that does not exist yet is opened here: closing any descriptor of a file drops
    // every POSIX lock this process holds on it, so opening an existing database (which another
    // handle in this process may have open) would take SQLite's locks away, and another process
    // could then checkpoint and delete the WAL under it.
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_error(location, e)),
    }
}

/// Brings an older schema up to date in one transaction, after checking (again, under the write
/// lock) that the database is ours and at a version this build reads.
fn migrate(conn: &mut Connection, location: &str) -> Result<(), Init> {
    let err = init_error(location);
    if check(conn, location)? < i64::from(SCHEMA_VERSION) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        // Another process may have migrated while this one waited for the lock.
        let version = check(&tx, location)?;
        for migration in MIGRATIONS
            .iter()
            .skip(usize::try_from(version).unwrap_or(0))
        {
            tx.execute_batch(migration).map_err(&err)?;
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(&err)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(&err)?;
        tx.commit().map_err(&err)?;
    }
    // Touch the table's root page so that a truncated file is reported now rather than at the
    // first read.
    conn.query_row(
        "SELECT count(*) FROM (SELECT 1 FROM credentials LIMIT 1)",
        [],
        |_| Ok(()),
    )
    .map_err(&err)
}

/// Returns the schema version after checking that the database is ours (or empty) and not newer
/// than this build. One statement, so one consistent snapshot even while another process migrates.
fn check(conn: &Connection, location: &str) -> Result<i64, Init> {
    let (app_id, version, tables): (i64, i64, i64) = conn
        .query_row(
            "SELECT (SELECT application_id FROM pragma_application_id), \
                    (SELECT user_version FROM pragma_user_version), \
                    (SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%')",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .map_err(init_error(location))?;
    let corrupt = |reason: String| {
        Init::Failed(StoreError::Corrupt {
            store: STORE,
            location: location.to_string(),
            reason,
        })
    };
    if app_id != 0 && app_id != i64::from(APPLICATION_ID) {
        return Err(corrupt(format!(
            "application_id is {app_id:#x}, not {APPLICATION_ID:#x}: this is not an integrations credential database"
        )));
    }
    if version > i64::from(SCHEMA_VERSION) || version < 0 {
        return Err(Init::Failed(StoreError::UnsupportedVersion {
            store: STORE,
            location: location.to_string(),
            found: u64::try_from(version).unwrap_or(u64::MAX),
            supported: u64::from(SCHEMA_VERSION),
        }));
    }
    if version == 0 && tables > 0 {
        return Err(corrupt(
            "the database has tables but no credential schema version: it belongs to another application".into(),
        ));
    }
    Ok(version)
}

/// Refuses a database file that is not a whole number of pages. SQLite never leaves one, but it
/// reads the missing end of a page that was cut short as zeros: a file cut inside its last page
/// would open and hand out damaged rows (a wrong-key error for an encrypted payload, or a row of
/// nulls). A file cut at a page boundary SQLite reports itself, as smaller than its header says.
/// Another process's checkpoint, which may be growing the file meanwhile, writes whole pages.
fn check_whole_pages(conn: &Connection, path: &Path, location: &str) -> Result<(), Init> {
    let page_size: u64 = conn
        .pragma_query_value(None, "page_size", |row| row.get(0))
        .map_err(init_error(location))?;
    let len = std::fs::metadata(path)
        .map_err(|e| Init::Failed(io_error(location, e)))?
        .len();
    if page_size > 0 && len % page_size != 0 {
        return Err(Init::Failed(StoreError::Corrupt {
            store: STORE,
            location: location.to_string(),
            reason: format!(
                "the file is {len} bytes, not a whole number of {page_size}-byte pages: it was cut short or damaged"
            ),
        }));
    }
    Ok(())
}

/// Maps an I/O error on the store's path: permission problems and read-only file systems become
/// [`StoreError::ReadOnly`].
pub(crate) fn io_error(location: &str, source: io::Error) -> StoreError {
    match source.kind() {
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
            StoreError::ReadOnly {
                store: STORE,
                location: location.to_string(),
                reason: format!("{source}; make the file and its directory writable by this user"),
            }
        }
        _ => StoreError::Io {
            store: STORE,
            location: location.to_string(),
            source,
        },
    }
}

/// Maps a SQLite error to the [`StoreError`] variant that says what a caller can do: a lock
/// held past the busy timeout, an I/O failure, a full disk or a file that cannot be opened may
/// pass ([`StoreError::Io`]); a damaged file or row ([`StoreError::Corrupt`]) or a read-only one
/// ([`StoreError::ReadOnly`]) will not until someone fixes it; anything else SQLite refused is
/// [`StoreError::Backend`].
///
/// Other tables kept in SQLite beside the store (the service's own) report their failures
/// through it too, so that one failure means one thing everywhere.
///
/// ```
/// use auth_core::StoreError;
///
/// let busy = rusqlite::Error::SqliteFailure(
///     rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
///     None,
/// );
/// assert!(matches!(
///     store_sqlite::sql_error("creds.db", busy),
///     StoreError::Io { .. }
/// ));
/// ```
pub fn sql_error(location: &str, err: rusqlite::Error) -> StoreError {
    let code = match &err {
        rusqlite::Error::SqliteFailure(e, _) => Some(e.code),
        _ => None,
    };
    // Only a damaged file makes a column of our own schema hold the wrong type.
    let row_mismatch = matches!(
        err,
        rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
    );
    match code {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            store: STORE,
            location: location.to_string(),
            reason: err.to_string(),
        },
        _ if row_mismatch => StoreError::Corrupt {
            store: STORE,
            location: location.to_string(),
            reason: format!("a row does not match the schema ({err})"),
        },
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly {
            store: STORE,
            location: location.to_string(),
            reason: format!("{err}; make the file and its directory writable by this user"),
        },
        // A timeout, as the file store's lock wait is: transient, worth retrying.
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Io {
            store: STORE,
            location: location.to_string(),
            source: io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{err}: another connection held the database lock for longer than the busy timeout; retry later"
                ),
            ),
        },
        // A failed read or write of the file, or a disk that is full: an outage, not a fault
        // of the data.
        Some(ErrorCode::SystemIoFailure | ErrorCode::DiskFull) => StoreError::Io {
            store: STORE,
            location: location.to_string(),
            source: io::Error::other(format!(
                "{err}; check the disk that holds the database, then retry"
            )),
        },
        Some(ErrorCode::CannotOpen) => StoreError::Io {
            store: STORE,
            location: location.to_string(),
            source: io::Error::other(format!(
                "{err} (SQLite needs to create `-wal` and `-shm` files beside the database: check the directory's permissions)"
            )),
        },
        _ => StoreError::Backend {
            store: STORE,
            message: format!("{location}: {err}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_is_tried_again_until_patience_runs_out_and_nothing_else_is() {
        let patience = Duration::from_millis(200);
        let started = Instant::now();
        let mut tries = 0;
        let always_busy: Result<(), &str> = retry_while_busy(
            patience,
            || {
                tries += 1;
                Err("busy")
            },
            |e| *e == "busy",
        );
        let took = started.elapsed();
        assert_eq!(always_busy, Err("busy"));
        assert!(tries >= 2, "tried {tries} times");
        // It gives up once patience has passed (the bound leaves room for a loaded machine).
        assert!(
            took >= patience && took < patience + Duration::from_secs(1),
            "{took:?}"
        );
        let mut tries = 0;
        let other: Result<(), &str> = retry_while_busy(
            patience,
            || {
                tries += 1;
                Err("disk I/O error")
            },
            |e| *e == "busy",
        );
        assert_eq!((other, tries), (Err("disk I/O error"), 1));
    }

    #[test]
    fn every_connection_syncs_fully_and_zeroes_what_it_deletes() {
        let conn = open_memory().unwrap();
        let pragma = |name: &str| -> i64 {
            conn.pragma_query_value(None, name, |row| row.get(0))
                .unwrap()
        };
        // 2 is FULL.
        assert_eq!(pragma("synchronous"), 2);
        assert_eq!(pragma("fullfsync"), 1);
        assert_eq!(pragma("checkpoint_fullfsync"), 1);
        assert_eq!(pragma("secure_delete"), 1);
    }
}
