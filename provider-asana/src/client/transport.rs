//! The HTTP core every call goes through: bearer token, concurrency limiter, timeouts and one
//! deadline per call, retries (429 with `Retry-After`, 5xx and transport failures with backoff),
//! one refresh on 401, response bodies read up to a limit, tracing, and typed errors. A DELETE
//! replayed after an attempt that may have reached Asana and then answered 404 is done.

use std::time::{Duration, Instant};

use auth_core::SecretString;
use auth_core::http::read_limited;
use auth_core::redact::Redactor;
use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use url::Url;

use super::{AsanaClient, DownloadAccess, off_origin};
use crate::error::{ApiErrorDetail, ApiErrorInfo, AsanaError};
use crate::models::AttachmentUpload;

/// The most read of an unsuccessful response: Asana's `errors[]` takes a few hundred bytes.
const MAX_ERROR_BODY_BYTES: usize = 1024 * 1024;

/// One API call, replayable for retries.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: RequestBody,
    /// A non-2xx status the caller handles itself (412 for events).
    pub(crate) also_ok: Option<StatusCode>,
}

/// A request body that can be sent again on a retry.
#[derive(Debug, Clone)]
pub(crate) enum RequestBody {
    Empty,
    Json(Bytes),
    /// A file upload: multipart `parent` and `file`.
    File(Box<AttachmentUpload>),
    /// Multipart text fields only (an external attachment's `parent`, `url` and `name`).
    Fields(Box<[(&'static str, String)]>),
}

/// A response whose status the core accepted.
#[derive(Debug)]
pub(crate) struct ApiResponse {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    /// The token the request carried, to redact from an error built from this response.
    pub(crate) token: SecretString,
}

#[derive(Debug)]
struct Received {
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Bytes,
}

enum Failure {
    Timeout,
    Http(reqwest::Error),
    /// The request could not be built, for this reason; nothing was sent.
    Unbuildable(String),
    /// The body of a response with this status passed `limit` bytes; the rest was not read.
    TooLarge {
        status: StatusCode,
        limit: usize,
    },
}

/// The attempt's own timer: the request's timeout (see `send_once`) and when the attempt began.
struct AttemptTimer {
    began: Instant,
    timeout: Duration,
}

impl AttemptTimer {
    /// `e` as a failure of this attempt: [`Failure::Timeout`] when it is the attempt's timer that
    /// went off. Any other timeout (a connection that could not be made in time, a shared
    /// client's read timeout, the system's) is a transport failure like any other.
    fn failure(&self, e: reqwest::Error) -> Failure {
        if e.is_timeout() && !e.is_connect() && self.began.elapsed() >= self.timeout {
            Failure::Timeout
        } else {
            Failure::Http(e)
        }
    }
}

/// The time one call may still take.
struct Budget {
    /// When the call must be over; `None` when that is too far away to represent.
    ends: Option<Instant>,
}

impl Budget {
    fn start(deadline: Duration) -> Self {
        Self {
            ends: Instant::now().checked_add(deadline),
        }
    }

    /// The time left (`Duration::MAX` without an end).
    fn remaining(&self) -> Duration {
        self.ends.map_or(Duration::MAX, |ends| {
            ends.saturating_duration_since(Instant::now())
        })
    }

    /// `step`, or `None` if the call's deadline passes first. The timer is armed only if `step`
    /// has to wait (`tokio::time::timeout` polls the step first): a cached token and a free permit
    /// cost no timer, so a call in the common case runs with one timer, its attempt's.
    async fn bound<F: Future>(&self, step: F) -> Option<F::Output> {
        tokio::time::timeout(self.remaining(), step).await.ok()
    }

    /// Whether waiting `wait` would leave no time for another attempt.
    fn spent_by(&self, wait: Duration) -> bool {
        wait >= self.remaining()
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    #[serde(default)]
    errors: Vec<ApiErrorDetail>,
}

impl ApiRequest {
    pub(crate) fn new(method: Method, url: Url, body: RequestBody) -> Self {
        Self {
            method,
            url,
            body,
            also_ok: None,
        }
    }
}

impl AsanaClient {
    /// Sends `req` with retries, the limiter and 401 handling, all within the call's deadline;
    /// returns a 2xx (or `also_ok`) response, or the typed error for the final status.
    pub(crate) async fn execute(&self, req: &ApiRequest) -> Result<ApiResponse, AsanaError> {
        let span = tracing::debug_span!(
            "asana_request",
            method = %req.method,
            path = %req.url.path(),
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        let budget = Budget::start(self.inner.settings.deadline);
        self.execute_in_span(req, &budget).instrument(span).await
    }

    fn deadline_exceeded(&self, req: &ApiRequest, attempts: u32) -> AsanaError {
        let deadline = self.inner.settings.deadline;
        tracing::debug!(
            deadline_ms = deadline.as_millis() as u64,
            attempts,
            "call deadline reached"
        );
        AsanaError::DeadlineExceeded {
            method: req.method.to_string(),
            path: req.url.path().to_string(),
            deadline,
            attempts,
        }
    }

    /// Every wait of the call is cut at its deadline: getting the token and a limiter permit
    /// ([`Budget::bound`]), each attempt (its timeout is never past the deadline), and no backoff
    /// or `Retry-After` wait is started that would end past it.
    async fn execute_in_span(
        &self,
        req: &ApiRequest,
        budget: &Budget,
    ) -> Result<ApiResponse, AsanaError> {
        let inner = &*self.inner;
        let retry = &inner.settings.retry;
        // A POST may have been applied before a 5xx or a lost connection: never replay it, and
        // report such a failure as `OutcomeUnknown`, which is not retryable either.
        // 429 and 401 are replayed for every method: Asana did not process those requests.
        let replayable = req.method != Method::POST;
        // A DELETE replayed after an attempt that may have reached Asana (a timeout, a lost
        // connection, a 5xx) and then answered 404 was deleted by that attempt, or was gone
        // already: either way what the caller asked for holds. Set on the retry paths only.
        let mut may_have_deleted = false;
        let mut retries = 0u32;
        let mut rate_limit_wait = Duration::ZERO;
        let mut refreshed = false;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            tracing::Span::current().record("attempt", attempt);
            let Some(token) = budget.bound(inner.token_source.current_token()).await else {
                return Err(self.deadline_exceeded(req, attempt));
            };
            let token = token.map_err(AsanaError::Auth)?;
            let limiter = inner.limiter.for_method(&req.method);
            let Some(permit) = budget.bound(limiter.acquire()).await else {
                return Err(self.deadline_exceeded(req, attempt));
            };
            let outcome = {
                // The semaphores are never closed, so acquiring cannot fail.
                let _permit = permit.ok();
                self.send_once(req, &token, budget).await
            };
            let received = match outcome {
                Ok(received) => received,
                Err(Failure::Timeout) if budget.remaining().is_zero() => {
                    let e = self.deadline_exceeded(req, attempt);
                    return Err(if replayable { e } else { outcome_unknown(e) });
                }
                Err(failure) => {
                    let retryable = match &failure {
                        Failure::Timeout => true,
                        Failure::Http(e) => !e.is_builder(),
                        Failure::Unbuildable(_) | Failure::TooLarge { .. } => false,
                    };
                    // A request that never got a connection did not reach Asana.
                    let may_have_reached = match &failure {
                        Failure::Timeout => true,
                        Failure::Http(e) => !e.is_builder() && !e.is_connect(),
                        Failure::Unbuildable(_) | Failure::TooLarge { .. } => false,
                    };
                    let wait = retry.backoff(retries);
                    if replayable
                        && retryable
                        && retries < retry.max_retries
                        && !budget.spent_by(wait)
                    {
                        retries += 1;
                        may_have_deleted |= may_have_reached && req.method == Method::DELETE;
                        tracing::debug!(
                            wait_ms = wait.as_millis() as u64,
                            "transport failure; retrying"
                        );
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    let e = self.transport_error(req, failure, attempt);
                    return Err(if !replayable && may_have_reached {
                        outcome_unknown(e)
                    } else {
                        e
                    });
                }
            };
            let status = received.status;
            tracing::Span::current().record("status", status.as_u16());
            tracing::debug!(status = status.as_u16(), attempt, "asana response");
            if status.is_success() || req.also_ok == Some(status) {
                return Ok(ApiResponse {
                    status,
                    body: received.body,
                    token,
                });
            }
            if may_have_deleted && status == StatusCode::NOT_FOUND {
                return Ok(deleted_already(token));
            }
            match status {
                StatusCode::UNAUTHORIZED => {
                    if !refreshed && inner.token_source.invalidate(&token) {
                        refreshed = true;
                        tracing::debug!("token rejected; retrying once with a fresh token");
                        continue;
                    }
                    return Err(AsanaError::Unauthorized {
                        info: error_info(req, status, &received.body, &token),
                        refreshed,
                    });
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let wait = received
                        .retry_after
                        .unwrap_or_else(|| retry.backoff(retries));
                    if retries < retry.max_retries
                        && rate_limit_wait.saturating_add(wait) <= retry.max_rate_limit_wait
                        && !budget.spent_by(wait)
                    {
                        retries += 1;
                        rate_limit_wait += wait;
                        tracing::debug!(wait_ms = wait.as_millis() as u64, "rate limited; waiting");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(AsanaError::RateLimited {
                        info: error_info(req, status, &received.body, &token),
                        retry_after: received.retry_after,
                        waited: rate_limit_wait,
                    });
                }
                StatusCode::INTERNAL_SERVER_ERROR
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
                    if replayable =>
                {
                    let wait = retry.backoff(retries);
                    if retries < retry.max_retries && !budget.spent_by(wait) {
                        retries += 1;
                        may_have_deleted |= req.method == Method::DELETE;
                        tracing::debug!(
                            wait_ms = wait.as_millis() as u64,
                            "server error; retrying"
                        );
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(self.status_error(req, status, &received.body, &token));
                }
                _ if status.is_server_error() && !replayable => {
                    let e = self.status_error(req, status, &received.body, &token);
                    return Err(outcome_unknown(e));
                }
                _ => return Err(self.status_error(req, status, &received.body, &token)),
            }
        }
    }

    async fn send_once(
        &self,
        req: &ApiRequest,
        token: &SecretString,
        budget: &Budget,
    ) -> Result<Received, Failure> {
        let inner = &*self.inner;
        // The attempt's timeout is set on the request, so it is `settings.timeout` even over a
        // shared client with a timeout of its own; reqwest's timer covers reading the body too.
        let timer = AttemptTimer {
            began: Instant::now(),
            timeout: inner.settings.timeout.min(budget.remaining()),
        };
        let authorization = bearer(token).map_err(|reason| Failure::Unbuildable(reason.into()))?;
        let mut builder = inner
            .http
            .request(req.method.clone(), req.url.clone())
            .timeout(timer.timeout)
            .header(AUTHORIZATION, authorization)
            .header(ACCEPT, "application/json");
        for (name, value) in &inner.change_headers {
            builder = builder.header(*name, value.clone());
        }
        builder = match &req.body {
            RequestBody::Empty => builder,
            RequestBody::Json(json) => builder
                .header(CONTENT_TYPE, "application/json")
                .body(json.clone()),
            RequestBody::File(upload) => {
                builder.multipart(multipart_form(upload).map_err(Failure::Http)?)
            }
            RequestBody::Fields(fields) => builder.multipart(
                fields
                    .iter()
                    .fold(reqwest::multipart::Form::new(), |form, (name, value)| {
                        form.text(*name, value.clone())
                    }),
            ),
        };
        let response = builder.send().await.map_err(|e| timer.failure(e))?;
        let status = response.status();
        let retry_after =
            parse_retry_after(response.headers(), inner.settings.retry.max_retry_after);
        self.log_announced_changes(req, response.headers());
        let limit = if status.is_success() || req.also_ok == Some(status) {
            inner.settings.max_response_bytes
        } else {
            MAX_ERROR_BODY_BYTES
        };
        let Some(body) = read_limited(response, limit)
            .await
            .map_err(|e| timer.failure(e))?
        else {
            return Err(Failure::TooLarge { status, limit });
        };
        Ok(Received {
            status,
            retry_after,
            body,
        })
    }

    /// Logs each `Asana-Change` announcement once per client, as a warning: Asana sends one on every
    /// request that a coming change affects.
    fn log_announced_changes(&self, req: &ApiRequest, headers: &HeaderMap) {
        for value in headers.get_all("asana-change") {
            let Ok(change) = value.to_str() else { continue };
            let first_time = self
                .inner
                .announced
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(change.to_string());
            if first_time {
                tracing::warn!(
                    method = %req.method,
                    path = req.url.path(),
                    change,
                    "Asana announces an API change that affects this request; opt in or out with AsanaClientSettings::with_enable_change / with_disable_change"
                );
            }
        }
    }

    /// A GET of a `download_url` that [`AsanaClient::download_access`] allowed, carrying the
    /// bearer token only for [`DownloadAccess::WithToken`], sent through the client that connects
    /// only to public addresses for [`DownloadAccess::OffOrigin`].
    pub(crate) async fn download_request(
        &self,
        url: Url,
        access: DownloadAccess,
    ) -> Result<reqwest::RequestBuilder, AsanaError> {
        // The callers time a download themselves: the whole exchange for one read into memory,
        // each read for a stream, which may take longer than any fixed limit. Set on the request,
        // "no total timeout" replaces the one a shared HTTP client may have, which would cut a
        // long stream short.
        let url_path = url.path().to_string();
        let http = match access {
            DownloadAccess::OffOrigin => self.off_origin_http()?,
            DownloadAccess::WithToken | DownloadAccess::WithoutToken => &self.inner.http,
        };
        let request = http.get(url).timeout(Duration::MAX);
        if access != DownloadAccess::WithToken {
            return Ok(request);
        }
        let token = self
            .inner
            .token_source
            .current_token()
            .await
            .map_err(AsanaError::Auth)?;
        let authorization = bearer(&token).map_err(|reason| AsanaError::InvalidRequest {
            method: Method::GET.to_string(),
            path: url_path.clone(),
            reason: reason.into(),
        })?;
        Ok(request.header(AUTHORIZATION, authorization))
    }

    /// GETs an attachment's `download_url`, which [`AsanaClient::download_access`] allowed: with
    /// the token only for [`DownloadAccess::WithToken`], reading at most `limit` bytes, with the
    /// per-attempt timeout and no retries.
    pub(crate) async fn fetch_download(
        &self,
        url: Url,
        access: DownloadAccess,
        limit: usize,
    ) -> Result<Bytes, AsanaError> {
        let host = url.host_str().unwrap_or_default().to_string();
        let req = ApiRequest::new(Method::GET, url, RequestBody::Empty);
        let span =
            tracing::debug_span!("asana_download", host = %host, status = tracing::field::Empty);
        async {
            let request = self.download_request(req.url.clone(), access).await?;
            let exchange = async {
                let response = match request.send().await {
                    Ok(response) => response,
                    Err(e) => {
                        return match off_origin::refusal(&e) {
                            Some(refused) => Ok(Err(refused)),
                            None => Err(Failure::Http(e)),
                        };
                    }
                };
                let status = response.status();
                tracing::Span::current().record("status", status.as_u16());
                if !status.is_success() {
                    return Ok(Err(AsanaError::Download {
                        host: host.clone(),
                        status: status.as_u16(),
                    }));
                }
                match read_limited(response, limit).await.map_err(Failure::Http)? {
                    // The file goes to the caller, who may keep it: copied to its own size, it
                    // does not hold on to the connection's read buffer it may have been cut from.
                    Some(body) => Ok(Ok(Bytes::copy_from_slice(&body))),
                    None => Ok(Err(AsanaError::DownloadTooLarge {
                        host: host.clone(),
                        limit,
                    })),
                }
            };
            match tokio::time::timeout(self.inner.settings.timeout, exchange).await {
                Err(_) => Err(self.transport_error(&req, Failure::Timeout, 1)),
                Ok(Err(failure)) => Err(self.transport_error(&req, failure, 1)),
                Ok(Ok(outcome)) => outcome,
            }
        }
        .instrument(span)
        .await
    }

    fn transport_error(&self, req: &ApiRequest, failure: Failure, attempts: u32) -> AsanaError {
        match failure {
            Failure::Timeout => AsanaError::Timeout {
                method: req.method.to_string(),
                path: req.url.path().to_string(),
                timeout: self.inner.settings.timeout,
                attempts,
            },
            Failure::Http(e) if e.is_builder() => AsanaError::InvalidRequest {
                method: req.method.to_string(),
                path: req.url.path().to_string(),
                reason: error_chain(&e.without_url()),
            },
            Failure::Unbuildable(reason) => AsanaError::InvalidRequest {
                method: req.method.to_string(),
                path: req.url.path().to_string(),
                reason,
            },
            Failure::Http(e) => AsanaError::Network {
                method: req.method.to_string(),
                path: req.url.path().to_string(),
                attempts,
                source: e.without_url(),
            },
            Failure::TooLarge { status, limit } => AsanaError::ResponseTooLarge {
                method: req.method.to_string(),
                path: req.url.path().to_string(),
                status: status.as_u16(),
                limit,
            },
        }
    }

    fn status_error(
        &self,
        req: &ApiRequest,
        status: StatusCode,
        body: &[u8],
        token: &SecretString,
    ) -> AsanaError {
        let info = error_info(req, status, body, token);
        match status.as_u16() {
            400 if about_offset(req, &info) => AsanaError::OffsetExpired(info),
            400 => AsanaError::BadRequest(info),
            402 => AsanaError::PremiumRequired(info),
            403 => AsanaError::Forbidden {
                likely_missing_scope: likely_scope(&req.method, self.relative_path(req.url.path())),
                info,
            },
            404 => AsanaError::NotFound(info),
            500..=599 => AsanaError::Server(info),
            _ => AsanaError::UnexpectedStatus(info),
        }
    }

    /// The part of `path` after the API base path.
    fn relative_path<'a>(&self, path: &'a str) -> &'a str {
        path.strip_prefix(self.inner.base_path.as_str())
            .unwrap_or(path)
    }
}

/// Whether a 400 is Asana's refusal of the `offset` the request sent alone: every entry's
/// message names the `offset` parameter, as Asana's field errors do (`offset: ...`). A refusal
/// that names another parameter too is one to fix first.
fn about_offset(req: &ApiRequest, info: &ApiErrorInfo) -> bool {
    req.url.query_pairs().any(|(name, _)| name == "offset")
        && !info.errors.is_empty()
        && info.errors.iter().all(|e| e.message.starts_with("offset:"))
}

/// The answer to a DELETE whose replay found nothing after an attempt that may have deleted it:
/// Asana's answer to a delete. Out of line, so that the rare path costs every call nothing.
#[cold]
#[inline(never)]
fn deleted_already(token: SecretString) -> ApiResponse {
    tracing::debug!("404 after an attempt that may have deleted it: deleted");
    ApiResponse {
        status: StatusCode::OK,
        body: Bytes::from_static(br#"{"data":{}}"#),
        token,
    }
}

/// The `Authorization` header carrying `token`, marked sensitive; or why the token cannot be a
/// header value (never the token itself).
fn bearer(token: &SecretString) -> Result<HeaderValue, &'static str> {
    auth_core::http::authorization(token, false).ok_or(
        "the access token is not a valid HTTP header value (it holds a line break or another \
         character a header cannot carry): check the token that was configured",
    )
}

/// `e` and its sources, `: `-separated (reqwest's own text is only "builder error").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `e`, the failure of a request that is not safe to repeat after it may have reached Asana, as
/// an error that says so and is not retryable.
fn outcome_unknown(e: AsanaError) -> AsanaError {
    AsanaError::OutcomeUnknown { cause: Box::new(e) }
}

/// Decodes a JSON body into `T`, describing a mismatch by position only (never by content).
pub(crate) fn decode<T: DeserializeOwned>(
    req: &ApiRequest,
    response: &ApiResponse,
) -> Result<T, AsanaError> {
    serde_json::from_slice(body_of(response))
        .map_err(|e| decode_error(req, response, std::any::type_name::<T>(), &e))
}

/// The JSON text of `response`'s body: `null` when it is empty.
pub(crate) fn body_of(response: &ApiResponse) -> &[u8] {
    if response.body.is_empty() {
        b"null"
    } else {
        &response.body
    }
}

/// Why `response`'s body did not decode as `expected`, by position only (never by content).
pub(crate) fn decode_error(
    req: &ApiRequest,
    response: &ApiResponse,
    expected: &'static str,
    e: &serde_json::Error,
) -> AsanaError {
    AsanaError::Decode {
        method: req.method.to_string(),
        path: req.url.path().to_string(),
        status: response.status.as_u16(),
        expected,
        reason: format!(
            "{} error at line {} column {}",
            match e.classify() {
                serde_json::error::Category::Io => "I/O",
                serde_json::error::Category::Syntax => "JSON syntax",
                serde_json::error::Category::Data => "shape",
                serde_json::error::Category::Eof => "truncated JSON",
            },
            e.line(),
            e.column()
        ),
    }
}

/// The error entries of `body`, cleaned of control characters and of `token` (a server may echo
/// the `Authorization` header).
pub(crate) fn error_info(
    req: &ApiRequest,
    status: StatusCode,
    body: &[u8],
    token: &SecretString,
) -> ApiErrorInfo {
    let secrets = Redactor::new().with_secret(token);
    ApiErrorInfo {
        method: req.method.to_string(),
        path: req.url.path().to_string(),
        status: status.as_u16(),
        errors: serde_json::from_slice::<ErrorEnvelope>(body)
            .map(|envelope| envelope.errors)
            .unwrap_or_default()
            .into_iter()
            .map(|detail| detail.cleaned(&secrets))
            .collect(),
    }
}

fn multipart_form(upload: &AttachmentUpload) -> Result<reqwest::multipart::Form, reqwest::Error> {
    let file = reqwest::multipart::Part::stream_with_length(
        reqwest::Body::from(upload.content.clone()),
        upload.content.len() as u64,
    )
    .file_name(upload.file_name.clone())
    .mime_str(&upload.content_type)?;
    Ok(reqwest::multipart::Form::new()
        .text("parent", upload.parent.clone())
        .part("file", file))
}

/// `Retry-After` in seconds (Asana sends an integer; fractions are accepted). `None`, meaning
/// "use our own backoff", for anything else: an HTTP date, a negative, NaN or infinite number, or
/// a wait longer than `max` ([`RetryConfig::max_retry_after`](super::RetryConfig::max_retry_after)).
fn parse_retry_after(headers: &HeaderMap, max: Duration) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let seconds: f64 = value.parse().ok()?;
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|wait| *wait <= max)
}

/// The OAuth scope an endpoint most likely needs: `<resource>:<read|write|delete>`, where the
/// resource is the last collection named in the path (`/projects/1/tasks` -> `tasks`).
pub(crate) fn likely_scope(method: &Method, relative_path: &str) -> Option<String> {
    let action = match *method {
        Method::GET | Method::HEAD => "read",
        Method::DELETE => "delete",
        _ => "write",
    };
    let mut resource = None;
    for segment in relative_path.split('/').filter(|s| !s.is_empty()) {
        let is_collection = segment.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if !is_collection {
            continue;
        }
        let mapped = match segment {
            "tasks" | "subtasks" | "dependencies" | "dependents" | "user_task_list" => "tasks",
            "projects" | "sections" => "projects",
            "custom_fields" | "custom_field_settings" => "custom_fields",
            "users" | "workspaces" | "teams" | "stories" | "tags" | "attachments" | "webhooks" => {
                segment
            }
            // Events need the read scope of the watched resource, which the path does not name.
            "events" => {
                resource = None;
                continue;
            }
            // `me`, `search`, `insert`...: keep the collection named before.
            _ => continue,
        };
        resource = Some(mapped);
    }
    resource.map(|resource| format!("{resource}:{action}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_follow_the_last_collection_and_the_method() {
        let s = |m: Method, p: &str| likely_scope(&m, p);
        assert_eq!(s(Method::GET, "/tasks/1"), Some("tasks:read".into()));
        assert_eq!(s(Method::POST, "/tasks"), Some("tasks:write".into()));
        assert_eq!(s(Method::PUT, "/tasks/1"), Some("tasks:write".into()));
        assert_eq!(s(Method::DELETE, "/tasks/1"), Some("tasks:delete".into()));
        assert_eq!(
            s(Method::GET, "/projects/1/tasks"),
            Some("tasks:read".into())
        );
        assert_eq!(
            s(Method::POST, "/tasks/1/addTag"),
            Some("tasks:write".into())
        );
        assert_eq!(
            s(Method::GET, "/tasks/1/stories"),
            Some("stories:read".into())
        );
        assert_eq!(
            s(Method::GET, "/workspaces/1/tasks/search"),
            Some("tasks:read".into())
        );
        assert_eq!(
            s(Method::GET, "/projects/1/custom_field_settings"),
            Some("custom_fields:read".into())
        );
        assert_eq!(s(Method::GET, "/users/me"), Some("users:read".into()));
        assert_eq!(s(Method::GET, "/events"), None);
    }

    #[test]
    fn retry_after_is_seconds_up_to_the_configured_maximum() {
        let day = Duration::from_secs(86_400);
        let mut h = HeaderMap::new();
        assert_eq!(parse_retry_after(&h, day), None);
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(parse_retry_after(&h, day), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(&h, Duration::from_secs(7)),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse_retry_after(&h, Duration::from_secs(6)), None);
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h, day), None);
    }
}
