//! [`AsanaClientSettings`]: where the API lives and how patiently to call it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::redact::shown_url;

use url::Url;

use super::{ConcurrencyLimiter, DownloadClient, RetryConfig};
use crate::defaults::DEFAULT_API_BASE_URL;

/// Settings of an [`AsanaClient`](crate::AsanaClient), built with `with_*` methods.
///
/// ```
/// use std::time::Duration;
/// use provider_asana::{AsanaClientSettings, RetryConfig};
///
/// let settings = AsanaClientSettings::default()
///     .with_workspace_gid("1200")
///     .with_timeout(Duration::from_secs(10))
///     .with_retry(RetryConfig::default().with_max_retries(3));
/// assert_eq!(settings.api_base_url.as_str(), "https://app.asana.com/api/1.0");
/// assert_eq!(settings.retry.max_rate_limit_wait, Duration::from_secs(60));
/// assert_eq!(settings.deadline, Duration::from_secs(120));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct AsanaClientSettings {
    /// The API base URL (default [`DEFAULT_API_BASE_URL`](crate::DEFAULT_API_BASE_URL)). The token is only ever sent to
    /// this origin, under this path. It must be https, except on 127.0.0.1, ::1 and localhost.
    pub api_base_url: Url,
    /// The default workspace for calls that need one and were not given one.
    pub workspace_gid: Option<String>,
    /// Timeout of each attempt, from connecting until the response body is read (default 30 s).
    pub timeout: Duration,
    /// The longest one call may take in all: every attempt, the waits between them (backoff and
    /// `Retry-After`) and getting the token (default 120 s, room for the full rate-limit wait and
    /// two whole attempts). When it runs out the call fails with
    /// [`AsanaError::DeadlineExceeded`](crate::AsanaError::DeadlineExceeded); a retry whose wait
    /// would not end before it is not attempted, and the last error is returned at once.
    pub deadline: Duration,
    /// The largest response body read from the API (default 32 MiB, far above a page of 100
    /// records with every field). A larger one is not read to the end: the call fails with
    /// [`AsanaError::ResponseTooLarge`](crate::AsanaError::ResponseTooLarge) and is not retried.
    /// Error responses are read up to 1 MiB whatever this says.
    pub max_response_bytes: usize,
    /// The largest file [`Attachments::download`](crate::client::Attachments::download) reads (default
    /// 100 MiB, the largest file Asana accepts as an attachment); a larger one fails with
    /// [`AsanaError::DownloadTooLarge`](crate::AsanaError::DownloadTooLarge) as soon as its size
    /// is known, without reading the rest.
    pub max_download_bytes: usize,
    /// How often and how patiently a call is retried after a 429, a 5xx, a timeout or a
    /// connection failure (default [`RetryConfig::default`]: 5 retries, backoff 1 s doubling up
    /// to 16 s, `Retry-After` honoured up to 24 h, 60 s of rate-limit waits in all).
    pub retry: RetryConfig,
    /// An HTTP client to share with the rest of the application. When `None`, the client builds
    /// its own (redirects off). Timeouts are applied per request either way. Attachment
    /// downloads from hosts other than the API origin never use it: they go through
    /// [`AsanaClientSettings::download_client`], whose resolver lets them connect only to public
    /// addresses, a check a client built elsewhere cannot be made to do.
    pub http_client: Option<reqwest::Client>,
    /// The client of attachment downloads from hosts other than the API origin, to share with
    /// other clients. When `None`, the client makes its own at its first such download.
    pub download_client: Option<DownloadClient>,
    /// The concurrency limiter to share with other clients of the same token. When `None`, the
    /// client has its own.
    pub limiter: Option<Arc<ConcurrencyLimiter>>,
    /// API changes to opt into before Asana makes them the default, sent as `Asana-Enable` on every
    /// request (e.g. `new_goal_memberships`).
    pub enable_changes: Vec<String>,
    /// API changes to opt out of while Asana still allows it, sent as `Asana-Disable`.
    pub disable_changes: Vec<String>,
}

/// Every field, the base URL as [`shown_url`] prints it (a gateway's key in its query is not
/// shown; a URL with user information is refused when a client is built, but may be printed
/// before).
impl fmt::Debug for AsanaClientSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written out whole, so that a new field cannot be left out of `Debug` unnoticed.
        let Self {
            api_base_url,
            workspace_gid,
            timeout,
            deadline,
            max_response_bytes,
            max_download_bytes,
            retry,
            http_client,
            download_client,
            limiter,
            enable_changes,
            disable_changes,
        } = self;
        f.debug_struct("AsanaClientSettings")
            .field("api_base_url", &shown_url(api_base_url))
            .field("workspace_gid", workspace_gid)
            .field("timeout", timeout)
            .field("deadline", deadline)
            .field("max_response_bytes", max_response_bytes)
            .field("max_download_bytes", max_download_bytes)
            .field("retry", retry)
            .field("http_client", http_client)
            .field("download_client", download_client)
            .field("limiter", limiter)
            .field("enable_changes", enable_changes)
            .field("disable_changes", disable_changes)
            .finish()
    }
}

impl Default for AsanaClientSettings {
    fn default() -> Self {
        Self::new(Url::parse(DEFAULT_API_BASE_URL).expect("the default base URL is valid"))
    }
}

impl AsanaClientSettings {
    /// Default settings for the API at `api_base_url` (e.g. a mock server in tests).
    pub fn new(api_base_url: Url) -> Self {
        Self {
            api_base_url,
            workspace_gid: None,
            timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
            max_response_bytes: 32 * 1024 * 1024,
            max_download_bytes: 100 * 1024 * 1024,
            retry: RetryConfig::default(),
            http_client: None,
            download_client: None,
            limiter: None,
            enable_changes: Vec::new(),
            disable_changes: Vec::new(),
        }
    }

    /// Sets the default workspace.
    pub fn with_workspace_gid(mut self, workspace_gid: impl Into<String>) -> Self {
        self.workspace_gid = Some(workspace_gid.into());
        self
    }

    /// Sets the timeout of each attempt.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the overall deadline of one call, retries and waits included.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets the largest API response body that is read.
    pub fn with_max_response_bytes(mut self, max_response_bytes: usize) -> Self {
        self.max_response_bytes = max_response_bytes;
        self
    }

    /// Sets the largest attachment download that is read.
    pub fn with_max_download_bytes(mut self, max_download_bytes: usize) -> Self {
        self.max_download_bytes = max_download_bytes;
        self
    }

    /// Sets how calls are retried.
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Uses this HTTP client instead of building one.
    pub fn with_http_client(mut self, http_client: reqwest::Client) -> Self {
        self.http_client = Some(http_client);
        self
    }

    /// Downloads attachments from hosts other than the API origin through `downloads` (shared
    /// with the other clients given it) instead of a client of its own.
    pub fn with_download_client(mut self, downloads: DownloadClient) -> Self {
        self.download_client = Some(downloads);
        self
    }

    /// Opts into the API change `name` (the `Asana-Enable` header). Asana announces changes that
    /// affect a request in its `Asana-Change` response header; the client logs each one it sees
    /// once, as a warning.
    pub fn with_enable_change(mut self, name: impl Into<String>) -> Self {
        self.enable_changes.push(name.into());
        self
    }

    /// Opts out of the API change `name` while Asana allows it (the `Asana-Disable` header).
    pub fn with_disable_change(mut self, name: impl Into<String>) -> Self {
        self.disable_changes.push(name.into());
        self
    }

    /// Shares `limiter` with other clients of the same token.
    pub fn with_limiter(mut self, limiter: Arc<ConcurrencyLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }
}
