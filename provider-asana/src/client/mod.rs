//! [`AsanaClient`]: a typed client over Asana's REST API.
//!
//! Every call, typed or raw, goes through one core that adds the bearer token from a
//! [`TokenSource`], keeps at most 50 reads and 15 writes in flight, times out each attempt, waits
//! out 429s (`Retry-After`, bounded), retries 5xx, timeouts and connection failures with backoff
//! (never for POST), and on a 401 invalidates the token and retries once with a fresh one; all of
//! it within one deadline per call, reading no response body past its limit
//! ([`AsanaClientSettings`]).
//!
//! A DELETE replayed after an attempt that may have reached Asana (a 5xx, a timeout, a
//! connection lost once the request was sent) and then answered 404 succeeds: the object is
//! gone, whichever attempt removed it. The 404 cannot tell that apart from an object that never
//! existed or that the user cannot see, so such a DELETE succeeds too; a first 404, or one after
//! a 429, is [`AsanaError::NotFound`].
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

mod data_text;
mod download;
mod list;
mod off_origin;
mod resources;
mod retry;
mod settings;
mod transport;

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use asana_endpoints::Op;
use auth_core::TokenSource;
use auth_core::config::is_secure_endpoint;
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;
use url::{Host, Url};

pub use download::{ByteRange, DownloadOptions};
pub use list::{List, MAX_PAGE_SIZE, PageStream};
pub use off_origin::DownloadClient;
pub use resources::{
    Attachments, CustomFields, Events, Projects, Sections, Stories, Tags, Tasks, Teams, Users,
    Webhooks, Workspaces,
};
pub use retry::RetryConfig;
pub use settings::AsanaClientSettings;

use crate::error::AsanaError;
use crate::models::{Page, User};
use transport::{ApiRequest, ApiResponse, RequestBody, decode};

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

/// The `User-Agent` of every request.
const USER_AGENT: &str = concat!("integrations-provider-asana/", env!("CARGO_PKG_VERSION"));

/// How an attachment's `download_url` is fetched, once [`AsanaClient::download_access`] allowed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DownloadAccess {
    /// Under the API base URL: with the token, like any API request.
    WithToken,
    /// On the API origin outside the base path: without the token.
    WithoutToken,
    /// An https host other than the API origin (a storage host): without the token, connecting
    /// only to public addresses.
    OffOrigin,
}

/// A client for one user's (or one app token's) access to Asana. Cloning is cheap and clones share
/// the HTTP client and the concurrency limiter.
#[derive(Clone)]
pub struct AsanaClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// Off-origin downloads' client: the settings', or one of its own.
    downloads: DownloadClient,
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

/// Checks a base URL that requests carry a token to: https (plain http only on 127.0.0.1, ::1
/// and localhost), absolute with a host, without a query, fragment or credentials.
pub(crate) fn check_base_url(base: &Url, what: &'static str) -> Result<(), AsanaError> {
    let invalid = |reason: &str| AsanaError::InvalidUrl {
        what,
        reason: reason.to_string(),
    };
    if !is_secure_endpoint(base) {
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
    Ok(())
}

impl AsanaClient {
    /// A client that takes its tokens from `token_source`.
    ///
    /// Fails if the base URL is not https (plain http is allowed only on 127.0.0.1, ::1 and
    /// localhost), has a query, fragment or credentials, if the retry backoff's base is below 1
    /// or not finite, or if the HTTP client cannot be built.
    pub fn new(
        token_source: Arc<dyn TokenSource>,
        mut settings: AsanaClientSettings,
    ) -> Result<Self, AsanaError> {
        let mut base = settings.api_base_url.clone();
        check_base_url(&base, "API base URL")?;
        if let Some(reason) = settings.retry.problem() {
            return Err(AsanaError::InvalidArgument {
                name: "retry.base",
                reason: reason.into(),
            });
        }
        let base_path = base.path().trim_end_matches('/').to_string();
        base.set_path(&base_path);
        let http = match &settings.http_client {
            Some(http) => http.clone(),
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(USER_AGENT)
                .build()
                .map_err(AsanaError::HttpClient)?,
        };
        let limiter = settings.limiter.clone().unwrap_or_default();
        // Kept in the settings too, so that a client built from these settings shares it.
        let downloads = settings
            .download_client
            .get_or_insert_with(DownloadClient::new)
            .clone();
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
                downloads,
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
        self.request_with_len(method, path_or_url, query, body)
            .await
            .map(|(value, _)| value)
    }

    /// [`AsanaClient::request`], with the length in bytes of the body Asana answered.
    pub(crate) async fn request_with_len(
        &self,
        method: Method,
        path_or_url: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<(Value, usize), AsanaError> {
        let (req, response) = self.exchange(method, path_or_url, query, body).await?;
        Ok((decode(&req, &response)?, response.body.len()))
    }

    /// [`AsanaClient::request`] for a caller that writes the answer's `data` out as JSON:
    /// `data`'s text as Asana wrote it, once the whole answer passed the checks of reading it
    /// into a `Value` (with its errors); and, when `as_value_too` says so of the answer's length
    /// in bytes, the whole answer as a `Value` too.
    pub(crate) async fn request_data(
        &self,
        method: Method,
        path_or_url: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
        as_value_too: impl FnOnce(usize) -> bool,
    ) -> Result<DataAnswer, AsanaError> {
        let (req, response) = self.exchange(method, path_or_url, query, body).await?;
        let text = data_text::data_text(&req, &response)?;
        let value = if as_value_too(response.body.len()) {
            Some(decode(&req, &response)?)
        } else {
            None
        };
        Ok(DataAnswer { text, value })
    }

    /// Sends a raw request (see [`AsanaClient::request`]); the answer undecoded, beside the
    /// request it answers.
    async fn exchange(
        &self,
        method: Method,
        path_or_url: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<(ApiRequest, ApiResponse), AsanaError> {
        let mut url = self.resolve(path_or_url)?;
        append_query(&mut url, query);
        let body = match body {
            Some(body) => RequestBody::Json(json_bytes(&body)?),
            None => RequestBody::Empty,
        };
        let req = ApiRequest::new(method, url, body);
        let response = self.execute(&req).await?;
        Ok((req, response))
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
            Err(url::ParseError::RelativeUrlWithoutBase) => self
                .below_base(path_or_url)
                .map_err(|e| invalid(e.to_string()))?,
            Err(e) => return Err(invalid(e.to_string())),
        };
        if !self.on_origin(&url) || !self.under_base_path(&url) {
            return Err(AsanaError::OffOrigin {
                origin: url.origin().ascii_serialization(),
                api: base.to_string(),
            });
        }
        Ok(url)
    }

    /// The base URL, `/`, then `path` without its leading slashes: the URL
    /// `{base}/{path}` parses to. Without a query or fragment in either, and without the trailing
    /// spaces or control characters a whole URL's parse trims, only the path is parsed.
    fn below_base(&self, path: &str) -> Result<Url, url::ParseError> {
        let base = &self.inner.base;
        let path = path.trim_start_matches('/');
        if base.query().is_some()
            || base.fragment().is_some()
            || path.contains(['?', '#'])
            || path.ends_with(|c: char| c <= ' ')
        {
            return Url::parse(&format!("{}/{path}", base.as_str().trim_end_matches('/')));
        }
        let mut url = base.clone();
        url.set_path(&format!("{}/{path}", self.inner.base_path));
        Ok(url)
    }

    /// Whether `url` is on the API origin (scheme, host and port) and carries no credentials.
    fn on_origin(&self, url: &Url) -> bool {
        let base = &self.inner.base;
        url.scheme() == base.scheme()
            && url.host() == base.host()
            && url.port_or_known_default() == base.port_or_known_default()
            && url.username().is_empty()
            && url.password().is_none()
    }

    /// Whether `url`'s path is the base path or below it.
    fn under_base_path(&self, url: &Url) -> bool {
        let base_path = self.inner.base_path.as_str();
        url.path() == base_path
            || url
                .path()
                .strip_prefix(base_path)
                .is_some_and(|rest| rest.starts_with('/'))
    }

    /// Whether an attachment's `download_url`, which the API (or whoever answers in its place)
    /// chose, may be fetched, and how. On the API origin it may, with the token only under the
    /// base path. Anywhere else it must be https on a host that is not, as written, a loopback,
    /// private, link-local or otherwise non-public name or address ([`is_local_ip`]) nor the host
    /// of a proxy set in the environment, and goes without the token. Anything else is
    /// refused here, before a byte is sent, so that a download cannot reach local services (SSRF)
    /// or carry the token away.
    ///
    /// A host name allowed here is judged again on what it resolves to:
    /// [`DownloadAccess::OffOrigin`] goes through a client that connects only to the public
    /// addresses among those the name resolves to when it connects (so the name cannot change
    /// in between), and refuses a name that resolves to none with the same
    /// [`AsanaError::InvalidUrl`]. That client is this crate's even when the application gave its
    /// own ([`AsanaClientSettings::http_client`]). Behind a proxy set in the environment
    /// (`HTTPS_PROXY`, `ALL_PROXY`) the proxy resolves the name and connects, so only the check
    /// as written applies; the proxy's own name is not judged. A NAT64 gateway on a prefix of the
    /// network's own (not `64:ff9b::/96`) is not recognised.
    pub(crate) fn download_access(&self, url: &Url) -> Result<DownloadAccess, AsanaError> {
        let refuse = |reason: String| AsanaError::InvalidUrl {
            what: "attachment download",
            reason,
        };
        let origin = url.origin().ascii_serialization();
        let api_origin = self.inner.base.origin().ascii_serialization();
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse(format!(
                "a URL on {origin} with credentials in it is never fetched"
            )));
        }
        if self.on_origin(url) {
            return Ok(if self.under_base_path(url) {
                DownloadAccess::WithToken
            } else {
                DownloadAccess::WithoutToken
            });
        }
        if url.scheme() != "https" {
            return Err(refuse(format!(
                "{origin} is not https; plain http is only fetched from the API origin {api_origin}"
            )));
        }
        if is_local_host(url) {
            return Err(refuse(format!(
                "{origin} is a loopback, private, link-local or otherwise non-public host; of those only the API origin {api_origin} is fetched"
            )));
        }
        if url
            .host_str()
            .is_some_and(|host| self.inner.downloads.is_proxy_host(host))
        {
            return Err(refuse(format!(
                "{origin} is the host of a proxy set in the environment; downloads are not fetched from it"
            )));
        }
        Ok(DownloadAccess::OffOrigin)
    }

    /// The HTTP client of [`DownloadAccess::OffOrigin`] downloads.
    fn off_origin_http(&self) -> Result<&reqwest::Client, AsanaError> {
        self.inner.downloads.http()
    }

    /// The URL of `op`'s endpoint under the base, `params` filling its path params in order;
    /// each segment is percent-encoded, so a gid can never change the path's shape.
    fn endpoint(&self, op: Op, params: &[&str]) -> Result<Url, AsanaError> {
        let mut params = params.iter();
        let segments: Vec<&str> = op
            .endpoint()
            .path
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(|segment| {
                if segment.starts_with('{') {
                    params.next().copied().unwrap_or_default()
                } else {
                    segment
                }
            })
            .collect();
        let mut url = self.inner.base.clone();
        for segment in &segments {
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
            .extend(&segments);
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
        op: Op,
        params: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, AsanaError> {
        let mut url = self.endpoint(op, params)?;
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
        op: Op,
        params: &[&str],
        body: Option<Map<String, Value>>,
    ) -> Result<(), AsanaError> {
        let url = self.endpoint(op, params)?;
        self.data_call::<serde::de::IgnoredAny>(method_of(op), url, body)
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

/// Whether `url`'s host, as written, names this machine or a private, link-local or otherwise
/// non-public network: `localhost` and its subdomains, and literal addresses that
/// [`is_local_ip`] refuses.
fn is_local_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => is_local_ip(ip.into()),
        Some(Host::Ipv6(ip)) => is_local_ip(ip.into()),
        None => true,
    }
}

/// Whether `ip` is this machine, on a private, link-local or shared network, or in a range that is
/// not routed on the internet (reserved, benchmarking, documentation); an IPv6 address that
/// carries an IPv4 address (mapped, compatible, NAT64, 6to4) is judged as that address. The rules
/// of both the check of a host as written and the resolver of off-origin downloads.
fn is_local_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_local_v4(ip),
        IpAddr::V6(ip) => match embedded_v4(ip) {
            Some(ip) => is_local_v4(ip),
            None => {
                let [first, second, third, ..] = ip.segments();
                ip.is_loopback()
                    || ip.is_unspecified()
                    || ip.is_unique_local()
                    || ip.is_unicast_link_local()
                    || ip.is_multicast()
                    // fec0::/10 (site-local, deprecated but still routed inside sites),
                    // 64:ff9b:1::/48 (NAT64 for local use) and 2001:db8::/32 (documentation).
                    || first & 0xffc0 == 0xfec0
                    || (first, second, third) == (0x64, 0xff9b, 1)
                    || (first, second) == (0x2001, 0xdb8)
            }
        },
    }
}

fn is_local_v4(ip: Ipv4Addr) -> bool {
    let [first, second, third, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        // 0.0.0.0/8 ("this network"), 100.64.0.0/10 (carrier-grade NAT), 192.0.0.0/24 (protocol
        // assignments), 198.18.0.0/15 (benchmarking), 240.0.0.0/4 (reserved, with the broadcast
        // address) and the three documentation networks.
        || first == 0
        || (first == 100 && second & 0xc0 == 64)
        || (first, second, third) == (192, 0, 0)
        || (first == 198 && second & 0xfe == 18)
        || first >= 240
        || matches!((first, second, third), (192, 0, 2) | (198, 51, 100) | (203, 0, 113))
}

/// The IPv4 address an IPv6 address carries, for the forms that reach it: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`,
/// `::` and `::1` included), NAT64
/// (`64:ff9b::a.b.c.d`, which a NAT64 gateway forwards to `a.b.c.d`) and 6to4
/// (`2002:AABB:CCDD::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let v4 = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    match ip.segments() {
        [0, 0, 0, 0, 0, 0xffff | 0, high, low]
        | [0, 0, 0, 0, 0xffff, 0, high, low]
        | [0x64, 0xff9b, 0, 0, 0, 0, high, low] => Some(v4(high, low)),
        [0x2002, high, low, ..] => Some(v4(high, low)),
        _ => None,
    }
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

/// The HTTP method of `op`'s endpoint.
pub(crate) fn method_of(op: Op) -> Method {
    match op.endpoint().method {
        asana_endpoints::Method::Get => Method::GET,
        asana_endpoints::Method::Post => Method::POST,
        asana_endpoints::Method::Put => Method::PUT,
        asana_endpoints::Method::Delete => Method::DELETE,
    }
}

/// What [`AsanaClient::request_data`] answers.
pub(crate) struct DataAnswer {
    /// `data`'s text (`null` when the answer has none).
    pub(crate) text: Box<serde_json::value::RawValue>,
    /// The whole answer, when asked for.
    pub(crate) value: Option<Value>,
}

#[cfg(test)]
mod tests {
    use auth_core::StaticTokenSource;

    use super::*;

    fn client_at(base: &str) -> AsanaClient {
        let tokens = Arc::new(StaticTokenSource::new("asana", "default", "pat".into()));
        AsanaClient::new(tokens, AsanaClientSettings::new(base.parse().unwrap())).unwrap()
    }

    fn access(client: &AsanaClient, url: &str) -> Result<DownloadAccess, String> {
        client
            .download_access(&url.parse().unwrap())
            .map_err(|e| e.to_string())
    }

    /// A download from the host of a proxy the client's [`DownloadClient`] goes through is
    /// refused, in any case; other hosts are not.
    #[test]
    fn a_proxys_host_is_refused() {
        let tokens = Arc::new(StaticTokenSource::new("asana", "default", "pat".into()));
        let downloads = DownloadClient::built(reqwest::Client::new(), &["proxy.corp.example"]);
        let settings = AsanaClientSettings::new("https://app.asana.com/api/1.0".parse().unwrap())
            .with_download_client(downloads);
        let client = AsanaClient::new(tokens, settings).unwrap();
        assert_eq!(
            access(&client, "https://PROXY.corp.example:8443/x"),
            Err("invalid URL for attachment download: https://proxy.corp.example:8443 is the host of a proxy set in the environment; downloads are not fetched from it".into())
        );
        assert_eq!(
            access(&client, "https://files.example.com/x"),
            Ok(DownloadAccess::OffOrigin)
        );
    }

    /// A client made without a download client keeps the one it makes in its settings, so that
    /// a client built from them shares it.
    #[tokio::test]
    async fn a_client_built_from_another_s_settings_shares_its_download_client() {
        let first = client_at("https://app.asana.com/api/1.0");
        let tokens = Arc::new(StaticTokenSource::new("asana", "default", "pat".into()));
        let second = AsanaClient::new(tokens, first.settings().clone()).unwrap();
        let built: *const reqwest::Client = first.off_origin_http().unwrap();
        assert!(std::ptr::eq(built, second.off_origin_http().unwrap()));
    }

    #[test]
    fn a_path_below_the_base_resolves_as_the_whole_url_would_parse() {
        for base in [
            "https://app.asana.com/api/1.0",
            "https://app.asana.com/api/1.0/",
            "http://127.0.0.1:8080",
        ] {
            let client = client_at(base);
            for path in [
                "/users/me",
                "users/me",
                "//users//me",
                "/tasks/1/../2",
                "/tasks/%2E%2E/x",
                "/a b/ü/%zz",
                "/a\\b",
                "/tasks?opt_fields=name#frag",
                "users/me ",
                "x\u{0}",
                " ",
                "\tusers/\nme",
                "",
                "/",
            ] {
                let whole = Url::parse(&format!(
                    "{}/{}",
                    client.inner.base.as_str().trim_end_matches('/'),
                    path.trim_start_matches('/')
                ))
                .unwrap();
                assert_eq!(client.below_base(path).unwrap(), whole, "{base} {path:?}");
            }
        }
    }

    #[test]
    fn downloads_go_to_https_public_hosts_off_origin() {
        let client = client_at("https://app.asana.com/api/1.0");
        for url in [
            "https://asana-user-private-us-east-1.s3.amazonaws.com/assets/1/file.pdf?X-Amz-Signature=a",
            "https://8.8.8.8/file",
            "https://[2001:4860::8888]/file",
            "https://[64:ff9b::808:808]/file",
            "https://[2002:808:808::1]/file",
            "https://198.20.0.1/file",
            "https://223.255.255.1/file",
            "https://100.128.0.1/file",
            "https://192.0.1.1/file",
            "https://192.0.3.1/file",
            "https://198.51.101.1/file",
            "https://203.0.114.1/file",
            "https://[::ffff:0:808:808]/file",
            "https://app.asana.com:8443/file",
        ] {
            assert_eq!(access(&client, url), Ok(DownloadAccess::OffOrigin), "{url}");
        }
    }

    #[test]
    fn on_the_api_origin_the_token_goes_only_under_the_base_path() {
        let client = client_at("https://app.asana.com/api/1.0");
        let cases = [
            (
                "https://app.asana.com/api/1.0/attachments/1/content",
                DownloadAccess::WithToken,
            ),
            ("https://app.asana.com/api/1.0", DownloadAccess::WithToken),
            (
                "https://APP.asana.com:443/api/1.0/x",
                DownloadAccess::WithToken,
            ),
            (
                "https://app.asana.com/app/asana/-/get_asset?asset_id=1",
                DownloadAccess::WithoutToken,
            ),
            (
                "https://app.asana.com/api/1.0x/file",
                DownloadAccess::WithoutToken,
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(access(&client, url), Ok(expected), "{url}");
        }
        let local = client_at("http://127.0.0.1:8080/api/1.0");
        assert_eq!(
            access(&local, "http://127.0.0.1:8080/api/1.0/files/1"),
            Ok(DownloadAccess::WithToken)
        );
        assert_eq!(
            access(&local, "http://127.0.0.1:8080/-/attachments/1/a.txt"),
            Ok(DownloadAccess::WithoutToken)
        );
    }

    #[test]
    fn plain_http_local_and_private_hosts_and_credentials_are_refused() {
        let client = client_at("http://127.0.0.1:8080/api/1.0");
        for url in [
            "http://127.0.0.1:8081/file",
            "http://localhost:8080/api/1.0/file",
            "http://storage.example.com/file",
            "https://127.0.0.1:8080/api/1.0/file",
            "https://127.0.0.2/file",
            "https://0x7f000001/file",
            "https://0.0.0.0/file",
            "https://10.1.2.3/file",
            "https://172.16.0.1/file",
            "https://192.168.1.1/file",
            "https://100.64.0.1/file",
            "https://169.254.169.254/latest/meta-data",
            "https://255.255.255.255/file",
            "https://[::1]/file",
            "https://[::]/file",
            "https://[fd00::1]/file",
            "https://[fe80::1]/file",
            "https://[::ffff:127.0.0.1]/file",
            "https://[::ffff:10.0.0.1]/file",
            "https://[::7f00:1]/file",
            "https://[64:ff9b::a00:5]/file",
            "https://[64:ff9b:1::1]/file",
            "https://[2002:a9fe:a9fe::1]/file",
            "https://[fec0::1]/file",
            "https://[2001:db8::1]/file",
            "https://[::ffff:0:a00:1]/file",
            "https://[feff::1]/file",
            "https://198.19.255.1/file",
            "https://100.127.255.255/file",
            "https://240.0.0.1/file",
            "https://192.0.0.8/file",
            "https://192.0.2.1/file",
            "https://198.18.0.1/file",
            "https://198.51.100.1/file",
            "https://203.0.113.1/file",
            "https://localhost/file",
            "https://LOCALHOST./file",
            "https://api.localhost/file",
            "https://user:pass@storage.example.com/file",
            "http://user@127.0.0.1:8080/api/1.0/file",
            "ftp://storage.example.com/file",
        ] {
            let refused = access(&client, url);
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|e| e.starts_with("invalid URL for attachment download: ")),
                "{url}: {refused:?}"
            );
            assert!(!refused.unwrap_err().contains("pass"), "{url}");
        }
    }
}
