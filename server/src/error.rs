//! Errors: [`ApiError`], what an HTTP client gets (`{message, errors: [{message}], retryable}`
//! with an honest status and, for 429, `Retry-After`); [`ServerError`], what starting the service
//! or an admin operation reports; [`ServiceStoreError`], what the service's store reports.
//!
//! No error carries a secret: messages name what failed and what to do next, never a token, a
//! client secret or a value from a request body.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use integrations::{AuthError, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// What the service's own store ([`crate::ServiceStore`]) reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceStoreError {
    /// The database refused the operation (a constraint, a permission, a statement it cannot
    /// run, a store that cannot be written): the same request would fail the same way.
    /// `operation` names what was being done.
    #[error(
        "the service store failed while it {operation}: {message}; check that {location} is reachable and writable"
    )]
    Backend {
        /// What the store was doing, e.g. `read an application`.
        operation: &'static str,
        /// The backend's message (never a stored value).
        message: String,
        /// Where the store is.
        location: String,
    },
    /// The database cannot be reached, dropped the connection, is restarting or did not answer
    /// in time: retrying later may succeed.
    #[error(
        "the service store is unavailable while it {operation}: {message}; retry when {location} is reachable again"
    )]
    Unavailable {
        /// What the store was doing, e.g. `read a service token`.
        operation: &'static str,
        /// The driver's message (never a stored value).
        message: String,
        /// Where the store is (never a password).
        location: String,
    },
    /// A record with the same key exists already.
    #[error("the service store already holds {what}")]
    AlreadyExists {
        /// What collided, e.g. `application client id 1234`.
        what: String,
    },
    /// The store was written by a newer release.
    #[error(
        "{location} has schema version {found}, newer than the {supported} this release knows; upgrade integrations-server"
    )]
    UnsupportedVersion {
        /// Where the store is.
        location: String,
        /// The version found.
        found: i64,
        /// The newest version this release reads.
        supported: i64,
    },
    /// A stored value could not be read back (a damaged row, or a sealed secret that does not
    /// open; one sealed under a key that is not configured is [`ServiceStoreError::UnknownKey`]).
    #[error("the service store holds an unreadable {what}: {reason}")]
    Corrupt {
        /// What could not be read.
        what: String,
        /// Why (never the value).
        reason: String,
    },
    /// A value the service sealed names a key that is not configured: it was sealed under
    /// another key, which must be added as an old key to read it.
    #[error(
        "the service store holds {what} sealed under key `{key_id}`, which is not configured: add that key to INTEGRATIONS_ENCRYPTION_OLD_KEYS (or to the server builder's key ring)"
    )]
    UnknownKey {
        /// What was sealed.
        what: String,
        /// The id of the key it was sealed under.
        key_id: String,
    },
}

impl ServiceStoreError {
    /// `what` (a store thread, a batch writer) stopped before answering while the store did
    /// `operation` at `location`: the service is shutting down, and another instance may answer.
    pub(crate) fn stopped(operation: &'static str, location: &str, what: &str) -> Self {
        ServiceStoreError::Unavailable {
            operation,
            message: format!("{what} stopped"),
            location: location.to_string(),
        }
    }

    /// The failure `e` of the store layer under the service's tables (PostgreSQL's pool, SQLite's
    /// classification) while the store did `operation` at `location`: an outage stays retryable,
    /// damaged data stays corrupt, anything else is the backend's refusal.
    pub(crate) fn from_store(operation: &'static str, location: &str, e: StoreError) -> Self {
        match e {
            StoreError::Io { source, .. } => ServiceStoreError::Unavailable {
                operation,
                message: source.to_string(),
                location: location.to_string(),
            },
            StoreError::Corrupt { reason, .. } => ServiceStoreError::Corrupt {
                what: format!("row or file (when it {operation})"),
                reason,
            },
            other => ServiceStoreError::Backend {
                operation,
                message: other.to_string(),
                location: location.to_string(),
            },
        }
    }
}

/// Why the service could not start, or an admin operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// No encryption key is configured and plaintext storage was not allowed.
    #[error(
        "no encryption key: set INTEGRATIONS_ENCRYPTION_KEY (base64 of 32 random bytes) or pass a key ring to the server builder; to run without encryption at rest (tests only), configure insecure_no_encryption"
    )]
    NoEncryptionKey,
    /// [`Admin::reencrypt`](crate::Admin::reencrypt) still found values sealed under an old key
    /// after each of its rounds: an instance goes on sealing with that key.
    #[error(
        "values sealed under an old key kept appearing while re-encrypting ({done}): an instance still seals with the old key; give every instance the new key as its primary key, then run it again"
    )]
    StillSealedWithOldKey {
        /// How many of each were re-encrypted before it stopped.
        done: String,
    },
    /// A configuration value is unusable.
    #[error("invalid server configuration `{field}`: {reason}")]
    InvalidConfig {
        /// The setting.
        field: &'static str,
        /// What is wrong and what to set instead.
        reason: String,
    },
    /// An argument of an admin operation is unusable.
    #[error("invalid {name}: {reason}")]
    InvalidArgument {
        /// The argument.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A provider definition file (or the configuration naming it) is broken: the error names
    /// the file, the line and the field.
    #[error("cannot load the provider definitions: {0}")]
    ProviderDefinitions(integrations::ConfigError),
    /// The service's store failed.
    #[error(transparent)]
    Store(#[from] ServiceStoreError),
    /// The credential store failed.
    #[error("the credential store failed: {0}")]
    Credentials(#[from] StoreError),
    /// No application has this id.
    #[error("no application with id `{id}`; list them with `integrations apps list`")]
    UnknownApplication {
        /// The id asked for.
        id: String,
    },
    /// The listener failed.
    #[error("the HTTP listener failed: {0}")]
    Io(#[from] std::io::Error),
}

/// An error answer of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
    source: ErrorSource,
    outcome_unknown: bool,
}

/// Whose failure an error answer reports: the service's own, or the provider's (its refusal
/// passed on, or no answer from it in time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErrorSource {
    /// The service (a connector it does not know is a 404 of the service's).
    Service,
    /// The provider (a 404 is then a record the provider does not have).
    Provider,
}

impl ApiError {
    /// An error with this status and message, not retryable.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retryable: false,
            retry_after: None,
            source: ErrorSource::Service,
            outcome_unknown: false,
        }
    }

    /// 400: the request cannot be understood.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 422: the request is well-formed but its values are not acceptable.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 401: no, a bad, or an expired service token (or wrong client credentials).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 404 for a connector that does not exist or belongs to someone else.
    pub fn connector_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "connector not found")
    }

    /// 409: the connector's grant was rejected; says how to reconnect.
    pub fn needs_reauthorization(connector_id: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            format!(
                "connector {connector_id} needs re-authorization: its grant was revoked or expired at the provider; reconnect it with PATCH /api/v1/integrations/connectors/{connector_id} and new credentials, or through the consent flow (POST /api/v1/integrations/connectors/oauth/initiate)"
            ),
        )
    }

    /// 429, retryable, with the delay to send as `Retry-After`.
    pub fn rate_limited(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self {
            retry_after,
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, message).retryable()
        }
    }

    /// 503: a store the service needs is unreachable; retryable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message).retryable()
    }

    /// 500, retryable: the service's store changed under the request (another request's write
    /// won a race), so the same request made again can succeed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message).retryable()
    }

    /// 500, not retryable: the service's configuration or stored data is wrong (a provider set
    /// up badly, a record sealed under a key the service lacks), or its database refused the
    /// operation; the same request would fail the same way.
    pub fn misconfigured(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// Marks the error as one that retrying later may fix.
    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    /// Marks the error as the provider's failure (its refusal passed on, or no answer in time).
    pub fn by_provider(mut self) -> Self {
        self.source = ErrorSource::Provider;
        self
    }

    /// Marks the request as one that may have been carried out although it failed (a write
    /// that reached the provider, whose answer was lost): check before repeating it.
    pub fn outcome_unknown(mut self) -> Self {
        self.outcome_unknown = true;
        self
    }

    /// Marks an error that struck after part of a change was written: the message says what
    /// was (`written`), and that sending the same request again completes the change.
    pub(crate) fn after_writing(mut self, written: &str) -> Self {
        self.message = format!(
            "{}; {written} before this failed: send the same request again to complete the change",
            self.message
        );
        self.outcome_unknown = true;
        self
    }

    /// Whether the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// How long to wait before a retry, when the answer says (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<ServiceStoreError> for ApiError {
    fn from(e: ServiceStoreError) -> Self {
        if matches!(e, ServiceStoreError::Unavailable { .. }) {
            tracing::warn!(error = %e, "service store unavailable");
            return ApiError::unavailable("the service's database is unavailable; retry later");
        }
        tracing::error!(error = %e, "service store failure");
        match e {
            ServiceStoreError::Corrupt { .. }
            | ServiceStoreError::UnknownKey { .. }
            | ServiceStoreError::UnsupportedVersion { .. } => ApiError::misconfigured(
                "the service store holds data this service cannot read; an operator must fix it (see the service's log)",
            ),
            // A key that exists already is refused where it is inserted, with its own answer;
            // here it is a race another request won.
            ServiceStoreError::AlreadyExists { .. } => {
                ApiError::internal("the service store changed under this request; retry")
            }
            _ => ApiError::misconfigured(
                "the service store refused the operation; the same request would fail the same way (the service's log says why: a constraint, such as a resource deleted meanwhile, or a permission)",
            ),
        }
    }
}

impl ApiError {
    /// The credential store's failure inside a provider call (its record could not be read,
    /// opened or written) as the service's own answer, not the provider's: 503 when the store
    /// cannot be reached, 500 when what it holds cannot be used. `None` for any other failure.
    pub(crate) fn from_auth_store(e: &AuthError, connector_id: &str) -> Option<ApiError> {
        let answer = match e {
            AuthError::Store(store) => credential_store_answer(store),
            AuthError::RefreshNotSaved { .. } => unavailable_credential_store(),
            _ => return None,
        };
        Some(answer.logged(e, Some(connector_id)))
    }

    /// Logs the credential store's failure `e` behind this answer: a warning when a retry may
    /// help, an error when not.
    fn logged(self, e: &dyn std::fmt::Display, connector: Option<&str>) -> Self {
        if self.retryable {
            tracing::warn!(connector, error = %e, "credential store unavailable");
        } else {
            tracing::error!(connector, error = %e, "credential store failure");
        }
        self
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        credential_store_answer(&e).logged(&e, None)
    }
}

fn unavailable_credential_store() -> ApiError {
    ApiError::unavailable("the credential store is unavailable; retry later")
}

/// What the credential store's failure `e` answers; the message never names the store's
/// location or a record's key.
fn credential_store_answer(e: &StoreError) -> ApiError {
    match e {
        StoreError::Io { .. } => unavailable_credential_store(),
        // Another writer got there first: the same request, made again, reads its write.
        StoreError::VersionMismatch { .. } | StoreError::AlreadyExists { .. } => {
            ApiError::internal("the credential store changed under this request; retry")
        }
        StoreError::Backend { .. } => ApiError::misconfigured(
            "the credential store refused the operation; the same request would fail the same way (the service's log says why)",
        ),
        _ => ApiError::misconfigured(
            "the credential store holds data this service cannot read or write (a missing encryption key, a damaged or read-only store); an operator must fix it (see the service's log)",
        ),
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody {
    /// What failed and what to do next.
    message: String,
    /// The same message, in the list Airbyte's clients read.
    errors: Vec<ErrorItem>,
    /// Whether the same request may succeed later.
    retryable: bool,
    /// Whose failure it is: `service`, or `provider` for the provider's (its refusal passed on,
    /// or no answer from it in time); a 404 of the provider's is a record it does not have, not
    /// an unknown connector.
    source: ErrorSource,
    /// Present and `true` when the request may have been carried out although it failed (a
    /// write whose answer was lost, or cut by the service's deadline): check before repeating
    /// it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(default = false)]
    outcome_unknown: bool,
}

/// One error of [`ErrorBody::errors`].
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorItem {
    /// What failed.
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            errors: vec![ErrorItem {
                message: self.message.clone(),
            }],
            message: self.message,
            retryable: self.retryable,
            source: self.source,
            outcome_unknown: self.outcome_unknown,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(e: ApiError) -> (StatusCode, bool) {
        (e.status(), e.retryable)
    }

    /// Only failures that may pass say a retry can help (an outage, another writer's race), not
    /// a backend's refusal, data the service cannot read or a key it lacks.
    #[test]
    fn store_errors_say_whether_a_retry_can_help() {
        let io = StoreError::Io {
            store: "sqlite",
            location: "db".into(),
            source: std::io::Error::from(std::io::ErrorKind::TimedOut),
        };
        assert_eq!(answer(io.into()), (StatusCode::SERVICE_UNAVAILABLE, true));
        let raced = StoreError::VersionMismatch {
            provider: "asana".into(),
            subject: "c".into(),
            expected: 1,
            found: Some(2),
        };
        assert_eq!(
            answer(raced.into()),
            (StatusCode::INTERNAL_SERVER_ERROR, true)
        );
        let backend = StoreError::Backend {
            store: "postgres",
            message: "permission denied for table credentials".into(),
        };
        let unknown_key = StoreError::UnknownKey {
            provider: "asana".into(),
            subject: "c".into(),
            key_id: "k2".into(),
        };
        let corrupt = StoreError::Corrupt {
            store: "sqlite",
            location: "db".into(),
            reason: "bad row".into(),
        };
        let (provider, subject) = ("asana".to_string(), "c".to_string());
        let permanent = [
            backend,
            unknown_key,
            corrupt,
            StoreError::UnsupportedVersion {
                store: "sqlite",
                location: "db".into(),
                found: 9,
                supported: 2,
            },
            StoreError::ReadOnly {
                store: "file",
                location: "f".into(),
                reason: "read-only file system".into(),
            },
            StoreError::Decrypt {
                provider: provider.clone(),
                subject: subject.clone(),
                key_id: "k1".into(),
            },
            StoreError::MissingKey {
                provider: provider.clone(),
                subject: subject.clone(),
            },
            StoreError::Unencrypted {
                provider: provider.clone(),
                subject: subject.clone(),
            },
            StoreError::InvalidKey {
                reason: "short".into(),
            },
        ];
        for e in permanent {
            let shown = e.to_string();
            assert_eq!(
                answer(e.into()),
                (StatusCode::INTERNAL_SERVER_ERROR, false),
                "{shown}"
            );
        }
        let created = StoreError::AlreadyExists {
            provider: provider.clone(),
            subject: subject.clone(),
        };
        assert_eq!(
            answer(created.into()),
            (StatusCode::INTERNAL_SERVER_ERROR, true)
        );

        // Inside a provider call: the credential store's failure is the service's own answer.
        let outage = AuthError::Store(StoreError::Io {
            store: "sqlite",
            location: "db".into(),
            source: std::io::Error::from(std::io::ErrorKind::TimedOut),
        });
        let not_saved = AuthError::RefreshNotSaved {
            provider: provider.clone(),
            subject: subject.clone(),
            reason: "database is locked".into(),
        };
        for e in [outage, not_saved] {
            assert_eq!(
                ApiError::from_auth_store(&e, "c").map(answer),
                Some((StatusCode::SERVICE_UNAVAILABLE, true)),
                "{e}"
            );
        }
        let provider_failure = AuthError::Unauthorized {
            provider,
            subject,
            reason: "no refresh token".into(),
        };
        assert!(ApiError::from_auth_store(&provider_failure, "c").is_none());

        let unavailable = ServiceStoreError::Unavailable {
            operation: "read a token",
            message: "closed".into(),
            location: "db".into(),
        };
        assert_eq!(
            answer(unavailable.into()),
            (StatusCode::SERVICE_UNAVAILABLE, true)
        );
        let backend = ServiceStoreError::Backend {
            operation: "read a token",
            message: "permission denied".into(),
            location: "db".into(),
        };
        assert_eq!(
            answer(backend.into()),
            (StatusCode::INTERNAL_SERVER_ERROR, false)
        );
        let corrupt = ServiceStoreError::Corrupt {
            what: "OAuth app".into(),
            reason: "sealed under an unknown key".into(),
        };
        let unknown_key = ServiceStoreError::UnknownKey {
            what: "an OAuth client secret".into(),
            key_id: "k1".into(),
        };
        let newer = ServiceStoreError::UnsupportedVersion {
            location: "db".into(),
            found: 9,
            supported: 4,
        };
        for e in [corrupt, unknown_key, newer] {
            assert_eq!(answer(e.into()), (StatusCode::INTERNAL_SERVER_ERROR, false));
        }
        let raced = ServiceStoreError::AlreadyExists {
            what: "connector c".into(),
        };
        assert_eq!(
            answer(raced.into()),
            (StatusCode::INTERNAL_SERVER_ERROR, true)
        );
    }
}
