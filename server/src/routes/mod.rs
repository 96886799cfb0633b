//! The HTTP API, one module per route group, over a shared [`AppState`]; and the extractors that
//! turn a request's body, query and path into typed values or a clear 4xx ([`ApiJson`],
//! [`ApiQuery`], [`ApiPath`]) without echoing a value from the request.

pub(crate) mod applications;
pub(crate) mod audit;
pub(crate) mod connectors;
pub(crate) mod execute;
mod mcp;
pub(crate) mod oauth;
pub(crate) mod ops;
pub(crate) mod proxy;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{
    DefaultBodyLimit, FromRef, FromRequest, FromRequestParts, Path, Query, Request,
};
use axum::http::StatusCode;
use axum::http::request::Parts;
use integrations::CredentialStatus;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::task::TaskTracker;
use url::Url;

use crate::error::ApiError;
use crate::keycheck::KeyCheck;
use crate::limits::{InFlight, RateLimiter};
use crate::metrics::Metrics;
use crate::providers::{Connectors, ReadRecord};
use crate::store::{AuditEntry, ConnectorRecord, JoinedCredentials, ServiceStore, check_name};
use crate::tokens::Principal;

pub(crate) use mcp::{Allowed as McpAllowed, McpAccess};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Arc<dyn ServiceStore>,
    pub(crate) connectors: Arc<Connectors>,
    /// How long service tokens live.
    pub(crate) token_ttl: Duration,
    /// The most service tokens one application holds.
    pub(crate) max_service_tokens: u32,
    /// Where clients and providers reach the service (consent flows need it); shared, since
    /// every request clones the state.
    pub(crate) public_url: Option<Arc<Url>>,
    pub(crate) metrics: Arc<Metrics>,
    /// Each application's requests per second.
    pub(crate) limiter: Arc<RateLimiter>,
    /// Each application's calls to providers in flight.
    pub(crate) in_flight: Arc<InFlight>,
    /// Whether consent flows may go through the service's own OAuth apps.
    pub(crate) service_app_consent: bool,
    /// Whether the configured keys open the stored credentials (for `/readyz`).
    pub(crate) keys: Arc<KeyCheck>,
    /// The writes [`to_completion`] runs, which may outlive their request: `serve` waits for
    /// them before it returns.
    pub(crate) writes: TaskTracker,
}

impl FromRef<AppState> for Arc<dyn ServiceStore> {
    fn from_ref(state: &AppState) -> Self {
        state.store.clone()
    }
}

impl FromRef<AppState> for Arc<RateLimiter> {
    fn from_ref(state: &AppState) -> Self {
        state.limiter.clone()
    }
}

/// The service's routes, with a request body limit of `max_body_bytes` and `/mcp` reachable as
/// `mcp` allows.
pub(crate) fn router(state: AppState, max_body_bytes: usize, mcp: McpAllowed) -> Router {
    Router::new()
        .merge(mcp::routes(state.clone(), mcp, max_body_bytes))
        .merge(ops::routes())
        .merge(applications::routes())
        .merge(connectors::routes())
        .merge(execute::routes())
        .merge(oauth::routes())
        .merge(audit::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

/// A JSON body: 413 when over the limit, 400 when not JSON, 422 when a field is missing or of the
/// wrong type (naming the field, never its value). Unknown fields are ignored.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "the request body is larger than the service accepts",
                    )
                } else {
                    ApiError::bad_request("the request body could not be read")
                }
            })?;
        if let Some(parsed) = parse_object(&bytes) {
            return Ok(ApiJson(parsed));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!(
                "the request body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if !value.is_object() {
            return Err(ApiError::unprocessable(
                "the request body must be a JSON object",
            ));
        }
        from_json(value).map(ApiJson)
    }
}

/// `T` read straight from a body that is one JSON object, in one pass without building a `Value`
/// first; `None` when the body is anything else or does not make a `T` (the caller then reads it
/// through a `Value`, which names what is wrong: every error answers as it always did).
fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let mut body = serde_json::Deserializer::from_slice(bytes);
    let parsed = T::deserialize(&mut body).ok()?;
    body.end().ok()?;
    Some(parsed)
}

/// Reads a JSON object into `T`: 422 naming the missing field or the field of the wrong type,
/// never its value.
pub(crate) fn from_json<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.inner().to_string();
        let path = e.path().to_string();
        if let Some(field) = inner.strip_prefix("missing field ") {
            ApiError::unprocessable(format!("the request body misses the field {field}"))
        } else {
            ApiError::unprocessable(format!(
                "the request body's field `{path}` has the wrong type"
            ))
        }
    })
}

/// Runs `work` as a task of its own, tracked by `writes` ([`AppState::writes`]), and answers
/// its outcome: a client that leaves, or the request's deadline, does not stop it between writes
/// that must land together (credentials and the row that describes them, a grant and the
/// connector that holds it), nor does a shutdown. A task that ended without an outcome (it
/// panicked) answers `lost()`.
pub(crate) async fn to_completion<T: Send + 'static, E: Send + 'static>(
    writes: TaskTracker,
    work: impl Future<Output = Result<T, E>> + Send + 'static,
    lost: impl FnOnce() -> E,
) -> Result<T, E> {
    writes.spawn(work).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "a request's writes ended without an outcome");
        Err(lost())
    })
}

/// [`to_completion`]'s answer when an API request's writes ended without an outcome: a 500.
pub(crate) fn writes_lost() -> ApiError {
    ApiError::misconfigured("the request's writes failed; the service's log says why")
}

/// Query parameters: 400 naming what could not be read.
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

/// A path parameter: a path that cannot be read, or that holds a control character (no id has
/// one, and PostgreSQL's text cannot hold a NUL), names no connector (404).
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let not_found = || ApiError::new(StatusCode::NOT_FOUND, "not found");
        if encodes_a_control(parts.uri.path()) {
            return Err(not_found());
        }
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|_| not_found())
    }
}

/// Whether a request path percent-encodes a control character (`%00`–`%1F`, `%7F`); a path as it
/// arrives holds none unencoded.
fn encodes_a_control(path: &str) -> bool {
    path.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && std::str::from_utf8(&w[1..])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .is_some_and(|byte| byte < 0x20 || byte == 0x7f)
    })
}

/// The customer a request names with `customer_name`, `workspace_name` or `external_user_id`
/// (Airbyte's three names for it): `None` when none is given, 422 when they disagree, are empty,
/// are longer than [`MAX_NAME_BYTES`](crate::store::MAX_NAME_BYTES) or hold a control character.
pub(crate) fn customer_of(
    customer_name: Option<&str>,
    workspace_name: Option<&str>,
    external_user_id: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let mut found: Option<&str> = None;
    for name in [customer_name, workspace_name, external_user_id]
        .into_iter()
        .flatten()
    {
        let name = name.trim();
        if let Err(reason) = check_name(name) {
            return Err(ApiError::unprocessable(format!(
                "customer_name, workspace_name and external_user_id {reason}"
            )));
        }
        match found {
            Some(other) if other != name => {
                return Err(ApiError::unprocessable(
                    "customer_name, workspace_name and external_user_id name different customers; give one",
                ));
            }
            _ => found = Some(name),
        }
    }
    Ok(found.map(str::to_string))
}

/// The longest entity, action or param name an audit entry keeps, in bytes; a longer one is cut
/// at a character boundary and ends with `…`.
const MAX_AUDITED_NAME_BYTES: usize = 128;

/// How many param names an audit entry keeps; the last of them then says how many more the
/// request had.
const MAX_AUDITED_PARAMS: usize = 64;

/// What an audit entry records about one request.
pub(crate) struct Audit<'a> {
    pub(crate) principal: &'a Principal,
    pub(crate) customer_name: Option<&'a str>,
    pub(crate) connector_id: Option<&'a str>,
    pub(crate) operation: &'static str,
    pub(crate) entity: Option<&'a str>,
    pub(crate) action: Option<&'a str>,
    pub(crate) param_names: Vec<String>,
    pub(crate) started: Instant,
}

impl Audit<'_> {
    /// Appends the entry with the request's outcome. A failure to write it is logged; the request
    /// already happened.
    pub(crate) async fn record(self, store: &dyn ServiceStore, status: StatusCode) {
        let entry = AuditEntry {
            // Time-ordered (version 7): an entry's id lands at the end of the store's unique
            // index, as its row does in the table, instead of on a random page of it.
            id: uuid::Uuid::now_v7().to_string(),
            at: SystemTime::now(),
            application_id: self.principal.application_id.clone(),
            customer_name: self.customer_name.map(storable),
            connector_id: self.connector_id.map(storable),
            operation: self.operation.to_string(),
            entity: self.entity.map(storable),
            action: self.action.map(storable),
            param_names: audited_params(self.param_names),
            outcome: if status.is_success() { "ok" } else { "error" }.to_string(),
            status: status.as_u16(),
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        if let Err(e) = store.append_audit(entry).await {
            tracing::error!(error = %e, "could not write an audit entry");
        }
    }
}

/// `text` as every store can keep it, and as long as an entry needs: PostgreSQL's text holds no
/// NUL, so a NUL (which a caller can put in an entity, an action or a param's name) is written as
/// U+FFFD, and a name longer than [`MAX_AUDITED_NAME_BYTES`] is cut; the entry is kept rather
/// than lost, and a caller cannot grow the audit log by more than a bounded entry per request.
fn storable(text: &str) -> String {
    let mut kept = text.replace('\0', "\u{FFFD}");
    if kept.len() > MAX_AUDITED_NAME_BYTES {
        cut_to(&mut kept, MAX_AUDITED_NAME_BYTES - '…'.len_utf8());
        kept.push('…');
    }
    kept
}

/// Cuts `text` to at most `max` bytes, at a character boundary.
pub(crate) fn cut_to(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// A request's param names as an entry keeps them: each [`storable`], at most
/// [`MAX_AUDITED_PARAMS`] of them, the last saying how many more there were.
fn audited_params(names: Vec<String>) -> Vec<String> {
    let total = names.len();
    let kept = if total > MAX_AUDITED_PARAMS {
        MAX_AUDITED_PARAMS - 1
    } else {
        total
    };
    let mut audited: Vec<String> = names
        .into_iter()
        .take(kept)
        .map(|name| {
            if name.contains('\0') || name.len() > MAX_AUDITED_NAME_BYTES {
                storable(&name)
            } else {
                name
            }
        })
        .collect();
    if kept < total {
        audited.push(format!("… {} more", total - kept));
    }
    audited
}

/// RFC 3339 UTC, to the second.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t)
        .replace_nanosecond(0)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What a connector's store call read of its credentials, if anything: their status (else the
/// credential store is asked, [`Status::get`]) and their record (offered to the connector's
/// token source, [`Status::record`]), with how many warm connectors had been forgotten before
/// that call ([`Connectors::forgotten`]).
#[derive(Default)]
pub(crate) struct Status {
    pub(crate) joined: JoinedCredentials,
    pub(crate) forgotten: u64,
}

impl Status {
    /// The status read with the connector, or the credential store's.
    pub(crate) async fn get(
        &self,
        state: &AppState,
        record: &ConnectorRecord,
    ) -> Result<CredentialStatus, ApiError> {
        match self.joined.status {
            Some(status) => Ok(status),
            None => state.connectors.status(record).await,
        }
    }

    /// The credential record read with the connector, if it was.
    pub(crate) fn record(self) -> Option<ReadRecord> {
        let forgotten = self.forgotten;
        self.joined
            .record
            .map(|stored| ReadRecord { stored, forgotten })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[test]
    fn a_path_that_encodes_a_control_character_is_told_apart() {
        for path in ["/c/a%00b", "/c/%1f", "/c/%7F", "/c/x%0A"] {
            assert!(encodes_a_control(path), "{path}");
        }
        for path in [
            "/c/abc",
            "/c/a%20b",
            "/c/%7e",
            "/c/%",
            "/c/%0",
            "/c/%zz",
            "/c/%C3%A9",
        ] {
            assert!(!encodes_a_control(path), "{path}");
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Body {
        entity: String,
        #[serde(default)]
        params: Value,
    }

    #[test]
    fn one_object_is_read_in_one_pass_and_anything_else_goes_through_a_value() {
        assert_eq!(
            parse_object::<Body>(
                b" \n{\"entity\": \"tasks\", \"params\": {\"a\": [1]}, \"x\": 2} "
            ),
            Some(Body {
                entity: "tasks".into(),
                params: serde_json::json!({ "a": [1] }),
            })
        );
        for other in [
            &b"[\"tasks\"]"[..],
            b"{\"entity\": \"a\", \"entity\": \"b\"}",
            b"{\"entity\": \"tasks\"} {}",
            b"{\"entity\": 7}",
            b"{\"entity\": ",
            b"",
        ] {
            assert_eq!(parse_object::<Body>(other), None, "{other:?}");
        }
        // The reader through a `Value` keeps its answers: the last of duplicate fields wins.
        let value: Value =
            serde_json::from_slice(b"{\"entity\": \"a\", \"entity\": \"b\"}").unwrap();
        assert_eq!(from_json::<Body>(value).unwrap().entity, "b");
    }
}
