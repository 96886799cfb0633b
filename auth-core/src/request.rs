//! [`ApiRequest`]: a raw authenticated request to a provider's API, for providers without a typed
//! client. The subject's token goes only to the origin of the provider's API base URL; a 401
//! refreshes the token once and retries once; the headers the provider requires are added.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use tracing::Instrument;

use crate::error::AuthError;
use crate::http::{client_once, read_limited};
use crate::provider::ApiSettings;
use crate::secret::SecretString;
use crate::token_source::TokenSource;

/// The most read of a response body.
pub const MAX_API_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The default timeout of one request.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Request headers a caller may not set (lower case): the connector's own credentials, and what
/// frames the request, which the client writes itself. [`ApiRequest::header`] refuses them; a
/// provider's fixed headers may not name them either.
pub const REFUSED_HEADERS: [&str; 12] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "expect",
];

/// One HTTP client for raw requests: connections are reused across sessions. Redirects are not
/// followed, so the token never leaves the API's origin.
fn client() -> Result<&'static reqwest::Client, reqwest::Error> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    client_once(&CLIENT, || {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("integrations/", env!("CARGO_PKG_VERSION")))
            .build()
    })
}

/// A request to a provider's API on behalf of a session's subject, from
/// [`Session::request`](crate::Session::request): a method (default GET), a path below the API
/// base URL, and an optional JSON body.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use auth_core::config::EnvSource;
/// use auth_core::provider::{ApiSettings, OAuth2Settings};
/// use auth_core::{AuthManager, AuthProvider, OAuth2Token};
/// use wiremock::matchers::{header, method, path};
/// use wiremock::{Mock, MockServer, ResponseTemplate};
///
/// #[derive(Debug)]
/// struct Example(ApiSettings);
/// #[async_trait::async_trait]
/// impl AuthProvider for Example {
///     fn id(&self) -> &str { "example" }
///     fn oauth2_settings(&self) -> Option<&OAuth2Settings> { None }
///     fn api(&self, _: &serde_json::Map<String, serde_json::Value>) -> Option<ApiSettings> {
///         Some(self.0.clone())
///     }
/// }
///
/// let server = MockServer::start().await;
/// Mock::given(method("GET")).and(path("/v1/me")).and(header("authorization", "Bearer at-1"))
///     .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "u1"})))
///     .mount(&server).await;
/// let api = ApiSettings::new(format!("{}/v1", server.uri()).parse().unwrap());
/// let auth = AuthManager::builder().env(EnvSource::empty()).provider(Example(api)).build().unwrap();
/// auth.store_credentials("example", "alice", &OAuth2Token::bearer("at-1")).await.unwrap();
/// let session = auth.session("alice").await.unwrap();
/// let response = session.request("example").unwrap().path("/me").send().await.unwrap();
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.json().unwrap()["id"], "u1");
/// assert!(session.request("example").unwrap().path("https://evil.example/").send().await.is_err());
/// # });
/// ```
pub struct ApiRequest {
    source: Arc<dyn TokenSource>,
    api: ApiSettings,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    timeout: Duration,
}

impl fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiRequest")
            .field("provider", &self.source.provider())
            .field("subject", &self.source.subject())
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A provider API's answer, whatever its status. `Debug` shows the status, the header names and
/// the body's length: an API may answer credentials (an installation's access token, a new API
/// key), and header values may be tokens too.
#[derive(Clone)]
#[non_exhaustive]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: u16,
    /// Every header of the answer whose value is visible ASCII, names in lower case, in the
    /// order received; `Set-Cookie` is left out.
    pub headers: Vec<(String, String)>,
    /// The body (at most [`MAX_API_RESPONSE_BYTES`]).
    pub body: Vec<u8>,
}

impl fmt::Debug for ApiResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            status,
            headers,
            body,
        } = self;
        let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("ApiResponse")
            .field("status", status)
            .field("headers", &names)
            .field("body_bytes", &body.len())
            .finish()
    }
}

impl ApiResponse {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The headers as a JSON object of names to strings, a repeated header's values joined with
    /// `, ` as HTTP joins them.
    pub fn headers_json(&self) -> serde_json::Map<String, Value> {
        let mut headers = serde_json::Map::new();
        for (name, value) in &self.headers {
            match headers.get_mut(name) {
                Some(Value::String(joined)) => {
                    joined.push_str(", ");
                    joined.push_str(value);
                }
                _ => {
                    headers.insert(name.clone(), Value::String(value.clone()));
                }
            }
        }
        headers
    }

    /// The `Content-Type`, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// The first value of the header `name` (any case), if the answer has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

impl ApiRequest {
    pub(crate) fn new(source: Arc<dyn TokenSource>, api: ApiSettings) -> Self {
        Self {
            source,
            api,
            method: Method::GET,
            path: "/".into(),
            headers: Vec::new(),
            body: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the method (default GET).
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Sets the path, relative to the API base URL (`/user`, `/users/me?fields=id`). An absolute
    /// URL, or a path that leaves the base URL, is refused when sent.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Adds a request header, which replaces the provider's own header of that name (an
    /// `Accept` for another media type, say). Headers that carry credentials or frame the request
    /// (`Authorization`, `Cookie`, `Host`, `Content-Length`, `Transfer-Encoding`, `Connection`,
    /// ...), and invalid names or values, are refused when the request is sent; the error names
    /// the header, never its value.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends `body` as JSON.
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Sets the timeout of each attempt (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The URL the request goes to: the path below the API base URL, on its origin.
    pub fn url(&self) -> Result<url::Url, AuthError> {
        let refuse = |reason: &str| AuthError::ApiRequest {
            provider: self.source.provider().to_string(),
            reason: reason.into(),
        };
        if !self.path.starts_with('/') || self.path.starts_with("//") {
            return Err(refuse(
                "the path must start with a single `/` and be relative to the API base URL",
            ));
        }
        let base = &self.api.base_url;
        if !crate::config::is_secure_endpoint(base) {
            return Err(refuse(
                "the API base URL is not https (plain http only on 127.0.0.1, ::1 or localhost), so the token is not sent there",
            ));
        }
        let joined = format!("{}{}", base.as_str().trim_end_matches('/'), self.path);
        let url =
            url::Url::parse(&joined).map_err(|_| refuse("the path is not a valid URL path"))?;
        let base_path = base.path().trim_end_matches('/');
        let inside = url.path() == base_path
            || url.path().starts_with(&format!("{base_path}/"))
            || base_path.is_empty();
        if url.origin() != base.origin() || !inside {
            return Err(refuse("the path leaves the provider's API base URL"));
        }
        Ok(url)
    }

    /// Sends the request with the subject's token; on a 401, refreshes the token once and sends
    /// the request once more. Any status is an `Ok` answer: the caller decides what a 4xx means.
    pub async fn send(self) -> Result<ApiResponse, AuthError> {
        let url = self.url()?;
        let headers = self.checked_headers()?;
        let span = tracing::info_span!(
            "api.request",
            provider = self.source.provider(),
            method = %self.method,
            path = url.path(),
        );
        async {
            let token = self.source.current_token().await?;
            let first = self.attempt(&url, &headers, &token).await?;
            if first.status != 401 || !self.source.invalidate(&token) {
                return Ok(first);
            }
            tracing::debug!("the API rejected the token: refreshing once and retrying");
            let fresh = self.source.token().await?;
            self.attempt(&url, &headers, &fresh).await
        }
        .instrument(span)
        .await
    }

    /// The caller's headers, checked: refused names and invalid names or values fail the request.
    fn checked_headers(&self) -> Result<reqwest::header::HeaderMap, AuthError> {
        let refuse = |reason: String| AuthError::ApiRequest {
            provider: self.source.provider().to_string(),
            reason,
        };
        let mut checked = reqwest::header::HeaderMap::new();
        for (name, value) in &self.headers {
            let parsed = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| refuse("a request header has an invalid name".into()))?;
            if REFUSED_HEADERS.contains(&parsed.as_str()) {
                return Err(refuse(format!(
                    "the request header `{parsed}` is the client's own and cannot be set"
                )));
            }
            let value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                refuse(format!(
                    "the request header `{parsed}` has an invalid value (visible ASCII only)"
                ))
            })?;
            checked.append(parsed, value);
        }
        Ok(checked)
    }

    async fn attempt(
        &self,
        url: &url::Url,
        headers: &reqwest::header::HeaderMap,
        token: &SecretString,
    ) -> Result<ApiResponse, AuthError> {
        let failed = |detail: &str| AuthError::ApiUnreachable {
            provider: self.source.provider().to_string(),
            detail: detail.into(),
        };
        let http = client().map_err(|source| AuthError::HttpClient {
            provider: self.source.provider().to_string(),
            source,
        })?;
        let request = http
            .request(self.method.clone(), url.clone())
            .timeout(self.timeout);
        // Built here rather than by reqwest's `bearer_auth`, whose failure on a token that is no
        // header value would surface at `send` as a retryable transport error.
        let authorization =
            crate::http::authorization(token, self.api.sends_bare(token.expose_secret()))
                .ok_or_else(|| AuthError::ApiRequest {
                    provider: self.source.provider().to_string(),
                    reason: "the token is not a valid header value (visible ASCII only)".into(),
                })?;
        let mut request = request.header(reqwest::header::AUTHORIZATION, authorization);
        for (name, value) in &self.api.headers {
            if !headers.contains_key(name.as_str()) {
                request = request.header(name.as_str(), value.as_str());
            }
        }
        request = request.headers(headers.clone());
        if let Some(body) = &self.body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_builder() {
                return AuthError::ApiRequest {
                    provider: self.source.provider().to_string(),
                    reason: "the request could not be built (a header or the body is not valid)"
                        .into(),
                };
            }
            failed(if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "connection failed"
            } else {
                "request failed"
            })
        })?;
        let status = response.status().as_u16();
        let answered = response
            .headers()
            .iter()
            .filter(|(name, _)| *name != reqwest::header::SET_COOKIE)
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
            .collect();
        let body = read_limited(response, MAX_API_RESPONSE_BYTES)
            .await
            .map_err(|_| failed("the connection failed while reading the response"))?
            .ok_or_else(|| {
                failed(&format!(
                    "the response is larger than {MAX_API_RESPONSE_BYTES} bytes and was not read"
                ))
            })?;
        Ok(ApiResponse {
            status,
            headers: answered,
            body: Vec::from(body),
        })
    }
}
