//! [`AsanaClient`]: a typed client over Asana's REST API.
//!
//! Every call, typed or raw, goes through one core that adds the bearer token from a
//! [`TokenSource`], keeps at most 50 reads and 15 writes in flight, times out each attempt, waits
//! out 429s (`Retry-After`, bounded), retries 5xx, timeouts and connection failures with backoff
//! (never for POST), and on a 401 invalidates the token and retries once with a fresh one.
//!
//! ```no_run
//! # async fn run() -> Result<(), provider_asana::AsanaError> {
//! use std::sync::Arc;
//! use auth_core::StaticTokenSource;
//! use provider_asana::{AsanaClient, AsanaClientSettings};
//!
//! let tokens = Arc::new(StaticTokenSource::new("asana", "default", "my-pat".into()));
//! let client = AsanaClient::new(tokens, AsanaClientSettings::default().with_workspace_gid("1200"))?;
//! let me = client.get_user("me").await?;
//! let projects = client.projects().list_for_workspace(None).page().await?;
//! # let _ = (me, projects); Ok(()) }
//! ```

mod list;
mod resources;
mod settings;
mod transport;

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use auth_core::TokenSource;
use auth_core::config::is_secure_endpoint;
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;
use url::Url;

pub use list::{List, MAX_PAGE_SIZE, PageStream};
pub use resources::{
    Attachments, CustomFields, Events, Projects, Sections, Stories, Tags, Tasks, Teams, Users,
    Webhooks, Workspaces,
};
pub use settings::{AsanaClientSettings, DEFAULT_API_BASE_URL};

use crate::error::AsanaError;
use crate::models::{Page, User};
use transport::{ApiRequest, RequestBody, decode};

/// Asana's limit of concurrent GET requests per token.
pub const MAX_CONCURRENT_READS: usize = 50;
/// Asana's limit of concurrent POST, PUT and DELETE requests per token.
pub const MAX_CONCURRENT_WRITES: usize = 15;

/// Asana's per-token concurrency limits: at most [`MAX_CONCURRENT_READS`] GETs and
/// [`MAX_CONCURRENT_WRITES`] other requests in flight. Share one between every client that uses the
/// same token ([`AsanaClientSettings::with_limiter`]); `session.asana()` does so per subject.
#[derive(Debug)]
pub struct ConcurrencyLimiter {
    reads: Semaphore,
    writes: Semaphore,
}

impl ConcurrencyLimiter {
    /// Asana's limits: 50 reads and 15 writes.
    pub fn new() -> Self {
        Self::with_limits(MAX_CONCURRENT_READS, MAX_CONCURRENT_WRITES)
    }

    /// Other limits (for example a share of the token's budget).
    pub fn with_limits(reads: usize, writes: usize) -> Self {
        Self {
            reads: Semaphore::new(reads),
            writes: Semaphore::new(writes),
        }
    }

    /// The semaphore a request with `method` waits on.
    pub(crate) fn for_method(&self, method: &Method) -> &Semaphore {
        if method == Method::GET || method == Method::HEAD {
            &self.reads
        } else {
            &self.writes
        }
    }
}

impl Default for ConcurrencyLimiter {
    fn default() -> Self {
        Self::new()
    }
}

/// A client for one user's (or one app token's) access to Asana. Cloning is cheap and clones share
/// the HTTP client and the concurrency limiter.
#[derive(Clone)]
pub struct AsanaClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    token_source: Arc<dyn TokenSource>,
    settings: AsanaClientSettings,
    /// The base URL without a trailing slash.
    base: Url,
    /// The base URL's path without a trailing slash (`/api/1.0`, or empty).
    base_path: String,
    limiter: Arc<ConcurrencyLimiter>,
    /// `Asana-Enable` and `Asana-Disable`, validated once.
    change_headers: Vec<(&'static str, HeaderValue)>,
    /// The `Asana-Change` announcements already logged.
    announced: Mutex<HashSet<String>>,
}

impl fmt::Debug for AsanaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsanaClient")
            .field("api_base_url", &self.inner.base.as_str())
            .field("provider", &self.inner.token_source.provider())
            .field("subject", &self.inner.token_source.subject())
            .field("workspace_gid", &self.inner.settings.workspace_gid)
            .finish_non_exhaustive()
    }
}

impl AsanaClient {
    /// A client that takes its tokens from `token_source`.
    ///
    /// Fails if the base URL is not https (plain http is allowed only on 127.0.0.1, ::1 and
    /// localhost), has a query, fragment or credentials, or if the HTTP client cannot be built.
    pub fn new(
        token_source: Arc<dyn TokenSource>,
        settings: AsanaClientSettings,
    ) -> Result<Self, AsanaError> {
        let mut base = settings.api_base_url.clone();
        let invalid = |reason: &str| AsanaError::InvalidUrl {
            what: "API base URL",
            reason: reason.to_string(),
        };
        if !is_secure_endpoint(&base) {
            return Err(invalid(
                "must be https (http only on 127.0.0.1, ::1, localhost)",
            ));
        }
        if base.cannot_be_a_base() || base.host().is_none() {
            return Err(invalid("must be an absolute http(s) URL with a host"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid("must not have a query or fragment"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(invalid("must not contain credentials"));
        }
        let base_path = base.path().trim_end_matches('/').to_string();
        base.set_path(&base_path);
        let http = match &settings.http_client {
            Some(http) => http.clone(),
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!(
                    "integrations-provider-asana/",
                    env!("CARGO_PKG_VERSION")
                ))
                .build()
                .map_err(AsanaError::HttpClient)?,
        };
        let limiter = settings.limiter.clone().unwrap_or_default();
        let mut change_headers = Vec::new();
        for (header, names) in [
            ("asana-enable", &settings.enable_changes),
            ("asana-disable", &settings.disable_changes),
        ] {
            if names.is_empty() {
                continue;
            }
            let value = HeaderValue::from_str(&names.join(",")).map_err(|_| {
                AsanaError::InvalidArgument {
                    name: header,
                    reason: "change names must be visible ASCII, e.g. `new_goal_memberships`"
                        .into(),
                }
            })?;
            change_headers.push((header, value));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                token_source,
                settings,
                base,
                base_path,
                limiter,
                change_headers,
                announced: Mutex::default(),
            }),
        })
    }

    /// The settings this client was built with.
    pub fn settings(&self) -> &AsanaClientSettings {
        &self.inner.settings
    }

    /// The token source.
    pub fn token_source(&self) -> &Arc<dyn TokenSource> {
        &self.inner.token_source
    }

    /// The configured default workspace, if any.
    pub fn default_workspace(&self) -> Option<&str> {
        self.inner.settings.workspace_gid.as_deref()
    }

    /// Users.
    pub fn users(&self) -> Users<'_> {
        Users::new(self)
    }

    /// Workspaces.
    pub fn workspaces(&self) -> Workspaces<'_> {
        Workspaces::new(self)
    }

    /// Teams.
    pub fn teams(&self) -> Teams<'_> {
        Teams::new(self)
    }

    /// Projects.
    pub fn projects(&self) -> Projects<'_> {
        Projects::new(self)
    }

    /// Sections.
    pub fn sections(&self) -> Sections<'_> {
        Sections::new(self)
    }

    /// Tasks.
    pub fn tasks(&self) -> Tasks<'_> {
        Tasks::new(self)
    }

    /// Stories and comments.
    pub fn stories(&self) -> Stories<'_> {
        Stories::new(self)
    }

    /// Tags.
    pub fn tags(&self) -> Tags<'_> {
        Tags::new(self)
    }

    /// Attachments.
    pub fn attachments(&self) -> Attachments<'_> {
        Attachments::new(self)
    }

    /// Custom fields.
    pub fn custom_fields(&self) -> CustomFields<'_> {
        CustomFields::new(self)
    }

    /// Webhooks.
    pub fn webhooks(&self) -> Webhooks<'_> {
        Webhooks::new(self)
    }

    /// Events.
    pub fn events(&self) -> Events<'_> {
        Events::new(self)
    }

    /// A user by gid, email or `me`, with Asana's default fields: `client.get_user("me")`, as the
    /// Python framework documents (and never delivered). Use `users().get(user, opt_fields)` to
    /// choose fields.
    pub async fn get_user(&self, user: &str) -> Result<User, AsanaError> {
        self.users().get(user, &[]).await
    }

    /// Sends any request to the API and returns the whole JSON response (`{"data": ...}`, plus
    /// `next_page`, `sync`... when present; `null` for an empty body).
    ///
    /// `path_or_url` is a path under the API base (`/tasks/1`, `tasks/1?opt_fields=name`) or an
    /// absolute URL on the API origin under the base path; anything else fails with
    /// [`AsanaError::OffOrigin`] before anything is sent, so the token never leaves Asana.
    /// `query` pairs are appended. `body` is sent as is (wrap fields in `{"data": ...}` yourself).
    /// Retries, the limiter and 401 handling apply as for typed calls.
    pub async fn request(
        &self,
        method: Method,
        path_or_url: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Value, AsanaError> {
        let mut url = self.resolve(path_or_url)?;
        append_query(&mut url, query);
        let body = match body {
            Some(body) => RequestBody::Json(json_bytes(&body)?),
            None => RequestBody::Empty,
        };
        let req = ApiRequest::new(method, url, body);
        let response = self.execute(&req).await?;
        decode(&req, &response)
    }

    /// GETs one page of a list endpoint given as in [`AsanaClient::request`]; the query is sent
    /// as given (add `limit` to get `next_page`).
    pub async fn request_page(
        &self,
        path_or_url: &str,
        query: &[(&str, &str)],
    ) -> Result<Page<Value>, AsanaError> {
        let mut url = self.resolve(path_or_url)?;
        append_query(&mut url, query);
        let req = ApiRequest::new(Method::GET, url, RequestBody::Empty);
        let response = self.execute(&req).await?;
        decode(&req, &response)
    }

    /// Any list endpoint, given as in [`AsanaClient::request`], as a [`List`] of `T` (for example
    /// `serde_json::Value`). Pages hold 100 items unless the query sets `limit`.
    pub fn list<T: DeserializeOwned + Send + 'static>(
        &self,
        path_or_url: &str,
        query: &[(&str, &str)],
    ) -> List<T> {
        let target = self.resolve(path_or_url).map(|mut url| {
            append_query(&mut url, query);
            url
        });
        List::new(self.clone(), target, Some(MAX_PAGE_SIZE))
    }

    /// Resolves a raw path or URL, refusing anything outside the API origin and base path.
    fn resolve(&self, path_or_url: &str) -> Result<Url, AsanaError> {
        let base = &self.inner.base;
        let invalid = |reason: String| AsanaError::InvalidUrl {
            what: "raw request",
            reason,
        };
        let url = match Url::parse(path_or_url) {
            Ok(url) => url,
            Err(url::ParseError::RelativeUrlWithoutBase) => Url::parse(&format!(
                "{}/{}",
                base.as_str().trim_end_matches('/'),
                path_or_url.trim_start_matches('/')
            ))
            .map_err(|e| invalid(e.to_string()))?,
            Err(e) => return Err(invalid(e.to_string())),
        };
        let same_origin = url.scheme() == base.scheme()
            && url.host() == base.host()
            && url.port_or_known_default() == base.port_or_known_default()
            && url.username().is_empty()
            && url.password().is_none();
        let base_path = self.inner.base_path.as_str();
        let under_base = url.path() == base_path
            || url
                .path()
                .strip_prefix(base_path)
                .is_some_and(|rest| rest.starts_with('/'));
        if !same_origin || !under_base {
            return Err(AsanaError::OffOrigin {
                origin: url.origin().ascii_serialization(),
                api: base.to_string(),
            });
        }
        Ok(url)
    }

    /// The URL of `segments` under the base; each segment is percent-encoded, so a gid can never
    /// change the path's shape.
    fn endpoint(&self, segments: &[&str]) -> Result<Url, AsanaError> {
        let mut url = self.inner.base.clone();
        for segment in segments {
            if segment.is_empty() || *segment == "." || *segment == ".." {
                return Err(AsanaError::InvalidArgument {
                    name: "gid",
                    reason: format!("`{segment}` is not a valid path segment"),
                });
            }
        }
        url.path_segments_mut()
            .map_err(|()| AsanaError::InvalidUrl {
                what: "API base URL",
                reason: "cannot have path segments".into(),
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// `workspace`, else the default workspace, else [`AsanaError::MissingWorkspace`].
    fn workspace_or_default(
        &self,
        workspace: Option<&str>,
        operation: &'static str,
    ) -> Result<String, AsanaError> {
        workspace
            .or(self.default_workspace())
            .map(str::to_string)
            .ok_or(AsanaError::MissingWorkspace { operation })
    }

    /// GETs `segments` and returns its `data`.
    async fn get_data<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, AsanaError> {
        let mut url = self.endpoint(segments)?;
        append_query(&mut url, query);
        self.data_call(Method::GET, url, None).await
    }

    /// Sends `{"data": body}` (or no body) and returns the response's `data`.
    async fn data_call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Map<String, Value>>,
    ) -> Result<T, AsanaError> {
        let body = match body {
            Some(fields) => RequestBody::Json(json_bytes(&serde_json::json!({ "data": fields }))?),
            None => RequestBody::Empty,
        };
        let req = ApiRequest::new(method, url, body);
        let response = self.execute(&req).await?;
        decode::<DataEnvelope<T>>(&req, &response).map(|envelope| envelope.data)
    }

    /// Sends a write to `segments` whose response data is ignored (`{"data": {}}`).
    async fn write_call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Map<String, Value>>,
    ) -> Result<(), AsanaError> {
        let url = self.endpoint(segments)?;
        self.data_call::<serde::de::IgnoredAny>(method, url, body)
            .await
            .map(|_| ())
    }

    /// A list at `target` with `query`; `page_size` `None` for endpoints that take no `limit`.
    fn list_at<T: DeserializeOwned + Send + 'static>(
        &self,
        target: Result<Url, AsanaError>,
        query: &[(&str, &str)],
        page_size: Option<u32>,
    ) -> List<T> {
        let target = target.map(|mut url| {
            append_query(&mut url, query);
            url
        });
        List::new(self.clone(), target, page_size)
    }
}

#[derive(serde::Deserialize)]
struct DataEnvelope<T> {
    data: T,
}

fn append_query(url: &mut Url, query: &[(&str, &str)]) {
    if query.is_empty() {
        return;
    }
    let mut pairs = url.query_pairs_mut();
    for (key, value) in query {
        pairs.append_pair(key, value);
    }
}

fn json_bytes(value: &Value) -> Result<bytes::Bytes, AsanaError> {
    serde_json::to_vec(value)
        .map(bytes::Bytes::from)
        .map_err(|e| AsanaError::InvalidArgument {
            name: "body",
            reason: e.to_string(),
        })
}

/// Serializes a request body (a typed struct or a `serde_json::Value`) into a JSON object.
fn to_object<B: Serialize + ?Sized>(body: &B) -> Result<Map<String, Value>, AsanaError> {
    match serde_json::to_value(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(AsanaError::InvalidArgument {
            name: "body",
            reason: "must serialize to a JSON object".into(),
        }),
        Err(e) => Err(AsanaError::InvalidArgument {
            name: "body",
            reason: e.to_string(),
        }),
    }
}
