//! [`AsanaError`]: everything that can go wrong when calling Asana, classified so that callers know
//! whether to retry, to ask the user to connect their account again, or to fix their request.
//!
//! No error carries a token, an `Authorization` header, a query string or a raw response body; the
//! texts Asana sends are kept without control characters and with the request's token redacted,
//! even when a server echoes it.

use std::fmt;
use std::time::Duration;

use auth_core::redact::Redactor;
use auth_core::{AuthError, ErrorClass};
use serde::Deserialize;

/// The longest provider text an error entry keeps, in characters.
const MAX_TEXT_CHARS: usize = 1000;

/// One entry of Asana's `{"errors": [...]}` envelope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ApiErrorDetail {
    /// What went wrong, e.g. `project: Missing input`.
    #[serde(default)]
    pub message: String,
    /// A hint on how to fix it, when Asana gives one.
    #[serde(default)]
    pub help: Option<String>,
    /// A phrase identifying the incident on 500 responses (quote it to Asana support).
    #[serde(default)]
    pub phrase: Option<String>,
}

impl ApiErrorDetail {
    /// This entry as an error keeps it: control characters and escape sequences stripped, the
    /// secrets of `secrets` (the bearer token the request carried) redacted, each text cut to
    /// 1000 characters.
    pub(crate) fn cleaned(self, secrets: &Redactor) -> Self {
        let clean = |text: &str| secrets.clean(text, MAX_TEXT_CHARS);
        Self {
            message: clean(&self.message),
            help: self.help.as_deref().map(clean),
            phrase: self.phrase.as_deref().map(clean),
        }
    }
}

/// Where an error response came from and what Asana said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiErrorInfo {
    /// HTTP method of the request.
    pub method: String,
    /// Path of the request (never the query string, whose values may be sensitive).
    pub path: String,
    /// HTTP status code.
    pub status: u16,
    /// The `errors[]` entries of the response (empty when the body had none).
    pub errors: Vec<ApiErrorDetail>,
}

impl ApiErrorInfo {
    /// The messages of all error entries, in order.
    pub fn messages(&self) -> Vec<&str> {
        self.errors.iter().map(|e| e.message.as_str()).collect()
    }

    /// The first `help` text, if any entry has one.
    pub fn help(&self) -> Option<&str> {
        self.errors.iter().find_map(|e| e.help.as_deref())
    }

    /// The first `phrase`, if any entry has one.
    pub fn phrase(&self) -> Option<&str> {
        self.errors.iter().find_map(|e| e.phrase.as_deref())
    }
}

impl fmt::Display for ApiErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Asana {} {} (HTTP {})",
            self.method, self.path, self.status
        )?;
        for (i, e) in self.errors.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            f.write_str(&e.message)?;
            if let Some(help) = &e.help {
                write!(f, " (help: {help})")?;
            }
            if let Some(phrase) = &e.phrase {
                write!(f, " (phrase: {phrase})")?;
            }
        }
        Ok(())
    }
}

/// An Asana API call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AsanaError {
    /// 400: the request is invalid. Fix the parameters or the body.
    #[error("{0}: the request was rejected as invalid; fix its parameters or body")]
    BadRequest(ApiErrorInfo),
    /// 400 about the `offset` a request sent: Asana's page offsets expire a while after they
    /// are issued, and one that has expired (or was not Asana's) cannot be fixed by changing
    /// it. List again from the first page, without an offset.
    #[error(
        "{0}: the page offset is invalid or has expired; list again from the first page, without `offset`"
    )]
    OffsetExpired(ApiErrorInfo),
    /// 401: the token was rejected and no fresh token could fix it.
    #[error("{info}: the access token was rejected{}; the user must connect their account again (or the workspace disabled the app)", if *.refreshed { " even after a refresh" } else { " and the token source could not provide a new one" })]
    Unauthorized {
        /// The response.
        info: ApiErrorInfo,
        /// Whether a fresh token was obtained and also rejected.
        refreshed: bool,
    },
    /// 402: the feature needs a premium (paid) Asana workspace.
    #[error("{0}: this feature needs a premium Asana workspace")]
    PremiumRequired(ApiErrorInfo),
    /// 403: the token lacks a scope, or the user lacks access to the resource.
    #[error("{info}: access forbidden; {}", match .likely_missing_scope { Some(scope) => format!("the token probably lacks the `{scope}` scope (reconnect with it) or the user has no access to this resource"), None => "the token lacks a scope or the user has no access to this resource".to_string() })]
    Forbidden {
        /// The response.
        info: ApiErrorInfo,
        /// The OAuth scope this endpoint most likely needs, derived from the method and path.
        likely_missing_scope: Option<String>,
    },
    /// 404: the resource does not exist or is not visible to this user.
    #[error("{0}: not found (or not visible to this user)")]
    NotFound(ApiErrorInfo),
    /// 429 after the bounded retry wait was spent (or when the requested wait would exceed it).
    #[error("{info}: rate limited by Asana{}; waited {}s in total; retry later", match .retry_after { Some(d) => format!(", asked to retry after {}s", d.as_secs()), None => String::new() }, .waited.as_secs())]
    RateLimited {
        /// The last 429 response.
        info: ApiErrorInfo,
        /// The last `Retry-After` Asana sent, if any.
        retry_after: Option<Duration>,
        /// The total time this call already spent waiting for rate limits.
        waited: Duration,
    },
    /// 5xx after the retries (or a POST, which is never retried).
    #[error("{0}: Asana server error; retry later")]
    Server(ApiErrorInfo),
    /// Any other unsuccessful status (409, 412, 451, ...).
    #[error("{0}: unexpected status")]
    UnexpectedStatus(ApiErrorInfo),
    /// The token source could not provide a token.
    #[error("cannot get an Asana access token: {0}")]
    Auth(#[from] AuthError),
    /// The request timed out on every attempt it was allowed.
    #[error("Asana {method} {path} timed out after {}ms ({attempts} attempt(s)); retry later", timeout.as_millis())]
    Timeout {
        /// HTTP method.
        method: String,
        /// Request path (no query).
        path: String,
        /// The per-attempt timeout.
        timeout: Duration,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The call did not finish within its overall deadline
    /// ([`AsanaClientSettings::deadline`](crate::AsanaClientSettings::deadline)), retries and
    /// waits included.
    #[error("Asana {method} {path} did not finish within its {}ms deadline ({attempts} attempt(s)); retry later", deadline.as_millis())]
    DeadlineExceeded {
        /// HTTP method.
        method: String,
        /// Request path (no query).
        path: String,
        /// The deadline.
        deadline: Duration,
        /// How many attempts were started.
        attempts: u32,
    },
    /// A connection or protocol failure on every attempt it was allowed.
    #[error(
        "Asana {method} {path} failed to connect or transfer ({attempts} attempt(s)): {source}"
    )]
    Network {
        /// HTTP method.
        method: String,
        /// Request path (no query).
        path: String,
        /// How many attempts were made.
        attempts: u32,
        /// The underlying error (its URL removed).
        source: reqwest::Error,
    },
    /// A request that is not safe to repeat (a POST: a create, an add, a duplicate ...) failed
    /// after it may have reached Asana: a 5xx, a timeout, or a connection lost once the request
    /// was on its way. Asana may have applied it, so it was not retried, and it is not
    /// retryable: repeating it could apply it twice (two tasks, two comments). Check whether it
    /// took effect before repeating it.
    #[error(
        "{}; the request may have been applied all the same, so it was not retried: check whether it took effect (read the object back) before repeating it, or it may be applied twice",
        failure_of(cause)
    )]
    OutcomeUnknown {
        /// The failure, as a request that is safe to repeat would report it
        /// ([`AsanaError::Server`], [`AsanaError::Timeout`], [`AsanaError::DeadlineExceeded`] or
        /// [`AsanaError::Network`]).
        #[source]
        cause: Box<AsanaError>,
    },
    /// The request could not be built, so nothing was sent: the access token is not a valid HTTP
    /// header value, for instance. Sending it again fails the same way.
    #[error("Asana {method} {path}: the request could not be built, so nothing was sent: {reason}")]
    InvalidRequest {
        /// HTTP method.
        method: String,
        /// Request path (no query).
        path: String,
        /// What could not be built (never the token or another header's value).
        reason: String,
    },
    /// A list's next page pointed back at the page just fetched: its `next_page.offset` was the
    /// offset that had been sent. Following it would never end, so the stream stopped after that
    /// page's items.
    #[error(
        "Asana GET {path}: the next page's offset is the one just sent, so paging would never end; stopped"
    )]
    PagingLoop {
        /// The list's path (no query).
        path: String,
    },
    /// A raw request named a URL outside the configured API origin; nothing was sent.
    #[error(
        "refused to send the Asana token to {origin}: raw requests only go to {api} (pass a path such as `/tasks/123`)"
    )]
    OffOrigin {
        /// Scheme, host and port of the refused URL (never its path or query).
        origin: String,
        /// The configured API base URL.
        api: String,
    },
    /// A URL or path could not be used.
    #[error("invalid URL for {what}: {reason}")]
    InvalidUrl {
        /// Which URL: "raw request", "attachment download", "API base URL".
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An argument is unusable (empty gid, a body that is not a JSON object, ...).
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// Argument name.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The call needs a workspace and none was given or configured.
    #[error(
        "{operation} needs a workspace: pass its gid or configure one with AsanaClientSettings::with_workspace_gid"
    )]
    MissingWorkspace {
        /// What was being done.
        operation: &'static str,
    },
    /// A response could not be decoded into the expected type.
    #[error(
        "Asana {method} {path} (HTTP {status}): cannot decode the response as {expected}: {reason}"
    )]
    Decode {
        /// HTTP method.
        method: String,
        /// Request path (no query).
        path: String,
        /// HTTP status.
        status: u16,
        /// The Rust type that was expected.
        expected: &'static str,
        /// Where and what kind of mismatch (never the body's content).
        reason: String,
    },
    /// A response body was larger than its limit. Reading stopped there, and the call was not
    /// retried: the same request would get the same body.
    #[error("Asana {method} {path} (HTTP {status}): the response is larger than {limit} bytes and was not read{}", if *.status >= 400 { "" } else { "; raise AsanaClientSettings::max_response_bytes if such responses are expected, or ask for fewer fields or a smaller page" })]
    ResponseTooLarge {
        /// HTTP method.
        method: String,
        /// Request path (no query).
        path: String,
        /// HTTP status.
        status: u16,
        /// The limit in bytes (1 MiB for error responses).
        limit: usize,
    },
    /// A download of an attachment's `download_url` failed.
    #[error("attachment download from {host} failed with HTTP {status}{}", if *.status >= 500 { "; retry later" } else { "; the URL may have expired: fetch the attachment again for a fresh download_url" })]
    Download {
        /// The download host.
        host: String,
        /// HTTP status.
        status: u16,
    },
    /// An attachment is larger than the download limit; the rest of it was not read.
    #[error(
        "attachment download from {host} is larger than {limit} bytes and was not read; raise AsanaClientSettings::max_download_bytes (DownloadOptions::max_bytes for a streamed download), or stream it with Attachments::download_to"
    )]
    DownloadTooLarge {
        /// The download host.
        host: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// A ranged download got something else than the range asked for (416: the range starts past
    /// the end of the file; a 206 for other bytes).
    #[error("attachment download from {host}: {reason}; ask for a range within the file's size")]
    DownloadRange {
        /// The download host.
        host: String,
        /// What was asked and what came back.
        reason: String,
    },
    /// Writing a download to the caller's writer failed; what was written so far is incomplete.
    #[error("attachment download from {host} could not be written: {source}")]
    DownloadWrite {
        /// The download host.
        host: String,
        /// The writer's error.
        source: std::io::Error,
    },
    /// A download to a file could not create, sync or rename it; no partial file is left behind.
    #[error("attachment download to {} failed: {source}; check that its directory exists and is writable", .path.display())]
    DownloadFile {
        /// The file that could not be written.
        path: std::path::PathBuf,
        /// The file system's error.
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for Asana: {0}")]
    HttpClient(#[source] reqwest::Error),
    /// A hosted execution service failed or refused the call (a connector built with
    /// [`AsanaConnector::hosted`](crate::connector::AsanaConnector::hosted)).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// What went wrong in a request whose outcome is unknown, without the advice to retry that the
/// error alone would give.
fn failure_of(cause: &AsanaError) -> String {
    match cause {
        AsanaError::Server(info) => format!("{info}: Asana server error"),
        AsanaError::Timeout {
            method,
            path,
            timeout,
            ..
        } => format!(
            "Asana {method} {path} timed out after {}ms",
            timeout.as_millis()
        ),
        AsanaError::DeadlineExceeded {
            method,
            path,
            deadline,
            ..
        } => format!(
            "Asana {method} {path} did not finish within its {}ms deadline",
            deadline.as_millis()
        ),
        AsanaError::Network {
            method,
            path,
            source,
            ..
        } => format!("Asana {method} {path} failed to transfer: {source}"),
        AsanaError::Service(ServiceError::Timeout { operation, timeout }) => format!(
            "hosted service {operation} timed out after {}ms",
            timeout.as_millis()
        ),
        AsanaError::Service(ServiceError::Status {
            operation,
            status,
            message,
            ..
        }) => format!("hosted service {operation} (HTTP {status}): {message}"),
        other => other.to_string(),
    }
}

/// A hosted execution service (`integrations serve`, or any API of the same shape) failed or
/// refused a call. Texts the service sent are kept without control characters and with the
/// application's secret and the service token redacted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The service refused the application's client id and secret.
    #[error(
        "the hosted service at {service} rejected the application's client id or secret (HTTP {status}); check them, or rotate the secret and use the new one"
    )]
    AppCredentials {
        /// The service's origin.
        service: String,
        /// The status it answered.
        status: u16,
    },
    /// The customer has no Asana connector yet.
    #[error(
        "the hosted service at {service} has no Asana connector for customer `{customer}`: create one (POST /api/v1/integrations/connectors with this customer_name and connector_type \"Asana\", or through a consent link), or give a connector id"
    )]
    NoConnector {
        /// The service's origin.
        service: String,
        /// The customer looked up.
        customer: String,
    },
    /// The customer has several Asana connectors: which one to use must be said.
    #[error(
        "customer `{customer}` has {} Asana connectors on the hosted service at {service} ({}): give the connector id of the one to use", ids.len(), ids.join(", ")
    )]
    SeveralConnectors {
        /// The service's origin.
        service: String,
        /// The customer looked up.
        customer: String,
        /// The ids of the customer's Asana connectors.
        ids: Vec<String>,
    },
    /// The connector does not exist, or belongs to another application (404).
    #[error(
        "connector {connector} was not found on the hosted service at {service} (deleted, or owned by another application): look it up again or create one"
    )]
    ConnectorNotFound {
        /// The service's origin.
        service: String,
        /// The connector id.
        connector: String,
    },
    /// The service answered with an error status.
    #[error("hosted service {operation} (HTTP {status}): {message}{}", status_advice(*.status, *.retryable, *.retry_after))]
    Status {
        /// Method and path of the call (never its query).
        operation: String,
        /// HTTP status.
        status: u16,
        /// The service's `message`.
        message: String,
        /// The messages of its `errors` entries.
        errors: Vec<String>,
        /// Whether the same call may succeed later: the service's `retryable` flag, or, in an
        /// answer without one, whether the status is 429 or 5xx.
        retryable: bool,
        /// Its `Retry-After`, on a 429 or 503.
        retry_after: Option<Duration>,
        /// Whether the service passed on the provider's answer (its `source` is `provider`): a
        /// 404 is then a record Asana does not have, not an unknown connector.
        from_provider: bool,
        /// Whether the service said the call may have been carried out although it failed (its
        /// `outcome_unknown`): check before repeating a write.
        outcome_unknown: bool,
    },
    /// The call timed out.
    #[error("hosted service {operation} timed out after {}ms; retry later", timeout.as_millis())]
    Timeout {
        /// Method and path of the call.
        operation: String,
        /// The timeout that ran out: the request's, or, for a connection that did not open in
        /// time, the connection's (10 s, or the request's if shorter).
        timeout: Duration,
    },
    /// A connection or protocol failure.
    #[error("hosted service {operation} failed to connect or transfer: {source}")]
    Network {
        /// Method and path of the call.
        operation: String,
        /// The underlying error (its URL removed).
        source: reqwest::Error,
    },
    /// The answer is not what the API promises (never its content, which may hold a token).
    #[error("hosted service {operation} (HTTP {status}): unexpected answer: {reason}")]
    InvalidAnswer {
        /// Method and path of the call.
        operation: String,
        /// HTTP status.
        status: u16,
        /// What was wrong with it.
        reason: String,
    },
}

/// What to do about an error status of the hosted service.
fn status_advice(status: u16, retryable: bool, retry_after: Option<Duration>) -> String {
    match status {
        401 => "; the service rejected its token even after a fresh one".into(),
        409 => "; the customer must connect their Asana account again (reconnect the connector with new credentials, or through a consent link)".into(),
        429 => match retry_after {
            Some(wait) => format!("; rate limited, retry after {}s", wait.as_secs()),
            None => "; rate limited, retry later".into(),
        },
        500.. if retryable => "; retry later".into(),
        // A 5xx that is not retryable: the service's message says what failed (its own data,
        // or the upstream API's refusal).
        _ => String::new(),
    }
}

impl ServiceError {
    /// Whether the call may have run at the service although it failed, and a retry is offered:
    /// a timeout or a connection lost once the request was on its way (not one that never
    /// opened), an answer the service marked `outcome_unknown`, or a retryable 500, 502 or 504
    /// (the service, or a proxy in front of it, gave up while the call may have been running).
    /// A retryable 503 is the service refusing work.
    pub fn may_have_run(&self) -> bool {
        match self {
            ServiceError::Timeout { .. } => true,
            ServiceError::Network { source, .. } => !source.is_connect(),
            ServiceError::Status {
                status,
                retryable,
                outcome_unknown,
                ..
            } => *outcome_unknown || (*retryable && matches!(status, 500 | 502 | 504)),
            _ => false,
        }
    }

    /// What the caller can do about this error: 409 means the customer must connect again;
    /// timeouts, connection failures and answers marked `retryable` (or, without the service's
    /// flag, 429 and 5xx) may pass on a retry.
    pub fn class(&self) -> ErrorClass {
        match self {
            ServiceError::Status { status: 409, .. } => ErrorClass::NeedsReauthorization,
            ServiceError::Status {
                retryable: true, ..
            } => ErrorClass::Transient,
            ServiceError::Timeout { .. } | ServiceError::Network { .. } => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        }
    }

    /// The HTTP status the service answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ServiceError::AppCredentials { status, .. }
            | ServiceError::Status { status, .. }
            | ServiceError::InvalidAnswer { status, .. } => Some(*status),
            ServiceError::ConnectorNotFound { .. } => Some(404),
            _ => None,
        }
    }
}

impl AsanaError {
    /// What the caller can do about this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            AsanaError::RateLimited { .. }
            | AsanaError::Server(_)
            | AsanaError::Timeout { .. }
            | AsanaError::DeadlineExceeded { .. }
            | AsanaError::Network { .. } => ErrorClass::Transient,
            AsanaError::Download { status, .. } if *status >= 500 => ErrorClass::Transient,
            AsanaError::UnexpectedStatus(info) if info.status >= 500 => ErrorClass::Transient,
            AsanaError::Unauthorized { .. } => ErrorClass::NeedsReauthorization,
            AsanaError::Auth(e) => e.class(),
            AsanaError::Service(e) => e.class(),
            _ => ErrorClass::Permanent,
        }
    }

    /// Whether retrying later may succeed (rate limits, 5xx, timeouts, connection failures,
    /// transient token-source failures). Never for [`AsanaError::OutcomeUnknown`]: repeating a
    /// request that may have been applied could apply it twice.
    ///
    /// The client has already retried such a failure as its [`RetryConfig`](crate::RetryConfig)
    /// allows, within the call's deadline: `true` means "later" (a queued job, the next run;
    /// [`AsanaError::retry_after`] when Asana said how long), not "again at once".
    pub fn is_retryable(&self) -> bool {
        self.class() == ErrorClass::Transient
    }

    /// Whether the user has to connect their Asana account again: the token was rejected, or
    /// cannot be refreshed. A scope the token lacks is not one of these: it is
    /// [`AsanaError::Forbidden`] with `likely_missing_scope`, whose fix is a new consent that
    /// asks for that scope, which only the application can decide to ask for.
    pub fn needs_reauthorization(&self) -> bool {
        self.class() == ErrorClass::NeedsReauthorization
    }

    /// The API response behind this error, for errors that carry one.
    pub fn api_info(&self) -> Option<&ApiErrorInfo> {
        match self {
            AsanaError::BadRequest(info)
            | AsanaError::OffsetExpired(info)
            | AsanaError::PremiumRequired(info)
            | AsanaError::NotFound(info)
            | AsanaError::Server(info)
            | AsanaError::UnexpectedStatus(info)
            | AsanaError::Unauthorized { info, .. }
            | AsanaError::Forbidden { info, .. }
            | AsanaError::RateLimited { info, .. } => Some(info),
            AsanaError::OutcomeUnknown { cause } => cause.api_info(),
            _ => None,
        }
    }

    /// The HTTP status of the response behind this error, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            AsanaError::Decode { status, .. }
            | AsanaError::ResponseTooLarge { status, .. }
            | AsanaError::Download { status, .. } => Some(*status),
            AsanaError::Service(e) => e.status(),
            other => other.api_info().map(|info| info.status),
        }
    }

    /// How long Asana (or the hosted service) asked to wait before retrying.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AsanaError::RateLimited { retry_after, .. }
            | AsanaError::Service(ServiceError::Status { retry_after, .. }) => *retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(status: u16) -> ApiErrorInfo {
        ApiErrorInfo {
            method: "GET".into(),
            path: "/api/1.0/tasks/1".into(),
            status,
            errors: vec![ApiErrorDetail {
                message: "task: Not a recognized ID".into(),
                help: Some("See the docs".into()),
                phrase: None,
            }],
        }
    }

    #[test]
    fn display_names_request_message_and_help() {
        let e = AsanaError::BadRequest(info(400));
        assert_eq!(
            e.to_string(),
            "Asana GET /api/1.0/tasks/1 (HTTP 400): task: Not a recognized ID (help: See the docs): the request was rejected as invalid; fix its parameters or body"
        );
        assert_eq!(e.status(), Some(400));
        assert_eq!(e.class(), ErrorClass::Permanent);
    }

    #[test]
    fn classes() {
        assert!(AsanaError::Server(info(503)).is_retryable());
        assert!(
            AsanaError::RateLimited {
                info: info(429),
                retry_after: Some(Duration::from_secs(3)),
                waited: Duration::ZERO
            }
            .is_retryable()
        );
        assert!(
            AsanaError::Unauthorized {
                info: info(401),
                refreshed: true
            }
            .needs_reauthorization()
        );
        assert!(!AsanaError::NotFound(info(404)).is_retryable());
        assert!(AsanaError::UnexpectedStatus(info(507)).is_retryable());
        let auth = AsanaError::Auth(AuthError::Transient {
            provider: "asana".into(),
            operation: auth_core::TokenOperation::Refresh,
            detail: "HTTP 503".into(),
            retry_after: None,
        });
        assert!(auth.is_retryable());
    }
}
