//! How PostgreSQL and pool failures become [`StoreError`]s.
//!
//! A lost, refused or timed-out connection, a server shutting down, too many connections, a full
//! disk or another shortage of resources, an I/O error, a serialization failure or a deadlock are
//! worth retrying: they become [`StoreError::Io`]
//! (which `AuthError::class` calls transient), with an `io::ErrorKind` that says which. Anything
//! else the server refused (a constraint, a permission, a malformed statement) is
//! [`StoreError::Backend`]. Messages name the operation and the database, never a payload.

use std::io;

use auth_core::StoreError;
use deadpool_postgres::{PoolError, TimeoutType};
use tokio_postgres::error::SqlState;

/// Store kind in errors.
pub(crate) const STORE: &str = "postgres";

/// What the store was doing, for messages: "get", "conditional put", "migrate", ...
pub(crate) type Op = &'static str;

/// Whether SQLSTATE `code` reports a condition that may clear on its own.
fn retryable_state(code: &SqlState) -> bool {
    let class = &code.code()[..2];
    // 08: connection exception; 53000-53300: a shortage of resources, a full disk, out of
    // memory, too many connections (not 53400, a configured limit the same statement exceeds
    // again); 57P01-3: the server is shutting down, crashed or starting; 57014: cancelled
    // (statement_timeout); 58030: an I/O error; 40001/40P01: serialization failure, deadlock.
    // The disk and I/O failures are outages of the server, as SQLite's are for its store.
    class == "08"
        || [
            SqlState::INSUFFICIENT_RESOURCES,
            SqlState::DISK_FULL,
            SqlState::OUT_OF_MEMORY,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::QUERY_CANCELED,
            SqlState::IO_ERROR,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
        ]
        .contains(code)
}

/// The retryable error: the database could not be reached or dropped the connection.
pub(crate) fn unavailable(location: &str, op: Op, kind: io::ErrorKind, cause: &str) -> StoreError {
    StoreError::Io {
        store: STORE,
        location: location.to_string(),
        source: io::Error::new(
            kind,
            format!(
                "{op} failed: {cause}; {}",
                match kind {
                    io::ErrorKind::TimedOut => "the database did not answer in time, retry later",
                    _ => "the database is unreachable or restarting, retry later",
                }
            ),
        ),
    }
}

/// A non-retryable failure.
pub(crate) fn backend(location: &str, op: Op, cause: &str) -> StoreError {
    StoreError::Backend {
        store: STORE,
        message: format!("{op} at {location} failed: {cause}"),
    }
}

/// Maps a tokio-postgres error.
pub(crate) fn pg_error(location: &str, op: Op, e: &tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let cause = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        return if retryable_state(db.code()) {
            let kind = if *db.code() == SqlState::QUERY_CANCELED {
                io::ErrorKind::TimedOut
            } else {
                io::ErrorKind::ConnectionAborted
            };
            unavailable(location, op, kind, &cause)
        } else {
            backend(location, op, &cause)
        };
    }
    let text = match std::error::Error::source(e) {
        Some(cause) if !e.to_string().contains(&cause.to_string()) => format!("{e}: {cause}"),
        _ => e.to_string(),
    };
    let io_source = std::error::Error::source(e).and_then(|s| s.downcast_ref::<io::Error>());
    match io_source {
        // A certificate the TLS handshake refused, or bytes that are not PostgreSQL's protocol:
        // a configuration to fix, not an outage to wait out.
        Some(io) if io.kind() == io::ErrorKind::InvalidData => backend(location, op, &text),
        Some(io) => unavailable(location, op, io.kind(), &text),
        None if e.is_closed() => unavailable(location, op, io::ErrorKind::ConnectionAborted, &text),
        None => backend(location, op, &text),
    }
}

/// Maps a failure to get a pooled connection.
pub(crate) fn pool_error(location: &str, op: Op, e: &PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => pg_error(location, op, e),
        PoolError::Timeout(what) => {
            let cause = match what {
                TimeoutType::Wait => "no pooled connection became free in time",
                TimeoutType::Create => "connecting timed out",
                TimeoutType::Recycle => "checking a pooled connection timed out",
            };
            unavailable(location, op, io::ErrorKind::TimedOut, cause)
        }
        other => backend(location, op, &other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_states_are_retryable_and_others_are_not() {
        for code in [
            SqlState::CONNECTION_FAILURE,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::INSUFFICIENT_RESOURCES,
            SqlState::DISK_FULL,
            SqlState::OUT_OF_MEMORY,
            SqlState::IO_ERROR,
            SqlState::T_R_DEADLOCK_DETECTED,
        ] {
            assert!(retryable_state(&code), "{code:?}");
        }
        for code in [
            SqlState::UNIQUE_VIOLATION,
            SqlState::CONFIGURATION_LIMIT_EXCEEDED,
            SqlState::INSUFFICIENT_PRIVILEGE,
            SqlState::UNDEFINED_TABLE,
        ] {
            assert!(!retryable_state(&code), "{code:?}");
        }
    }

    #[test]
    fn pool_timeouts_are_retryable_io_errors_naming_the_operation() {
        let e = pool_error(
            "postgres://db",
            "get",
            &PoolError::Timeout(TimeoutType::Create),
        );
        match e {
            StoreError::Io {
                store,
                location,
                source,
            } => {
                assert_eq!((store, location.as_str()), (STORE, "postgres://db"));
                assert_eq!(source.kind(), io::ErrorKind::TimedOut);
                assert!(
                    source
                        .to_string()
                        .starts_with("get failed: connecting timed out")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
