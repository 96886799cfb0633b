//! Hosted execution: the connector's calls go to a service that holds the customer's Asana
//! credentials (`integrations serve`, or any API of the same shape, such as Airbyte's), not to
//! Asana. The application authenticates with its own client id and secret; the service token is
//! cached (one request at a time fetches it) and renewed before `expires_in` runs out; the
//! customer's connector is looked up once.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_core::SecretString;
use auth_core::redact::Redactor;
use reqwest::Method;
use reqwest::header::RETRY_AFTER;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;
use url::Url;

use crate::client::check_base_url;
use crate::error::{AsanaError, ServiceError};

/// Airbyte's definition id of its Asana connector, which the service also answers to.
pub const ASANA_DEFINITION_ID: &str = "d0243522-dccf-4978-8ba0-37ed47a0bdbf";

/// The `connector_type` of Asana connectors.
const CONNECTOR_TYPE: &str = "Asana";

/// How long one request to the service may take unless configured otherwise
/// ([`HostedConfig::with_timeout`]): an execute includes the service's own calls to Asana.
pub const DEFAULT_HOSTED_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a token lives when the service does not say (it promises at least 900 s).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(840);

/// The most a token is renewed ahead of its expiry.
const MAX_RENEWAL_MARGIN: Duration = Duration::from_secs(60);

/// The largest answer read: an attachment download (10 MiB) in base64, with room to spare.
const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// The longest a token is trusted, whatever the service says.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest text of the service an error keeps, in characters.
const MAX_TEXT_CHARS: usize = 1000;

/// Which connector of the application a hosted connector runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostedTarget {
    /// The only Asana connector of this customer (Airbyte's `external_user_id`), looked up once.
    Customer(String),
    /// This connector id.
    Connector(String),
}

/// Where and as whom a hosted connector runs: the service's URL, the application's client id and
/// secret, and the customer or connector.
///
/// ```
/// use provider_asana::connector::{AsanaConnector, HostedConfig, HostedTarget};
///
/// let config = HostedConfig::new(
///     "https://integrations.example.com".parse().unwrap(),
///     "app-client-id",
///     "app-client-secret".into(),
///     HostedTarget::Customer("acme".into()),
/// );
/// let connector = AsanaConnector::hosted(config).unwrap();
/// assert!(connector.client().is_none());
/// assert!(!format!("{connector:?}").contains("app-client-secret"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct HostedConfig {
    service_url: Url,
    client_id: String,
    client_secret: SecretString,
    target: HostedTarget,
    timeout: Duration,
}

impl fmt::Debug for HostedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostedConfig")
            .field("service", &self.service_url.origin().ascii_serialization())
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("target", &self.target)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HostedConfig {
    /// The service at `service_url` (https, or http on a loopback host; the API's paths are
    /// appended to it), as the application `client_id` with `client_secret`, on `target`.
    pub fn new(
        service_url: Url,
        client_id: impl Into<String>,
        client_secret: SecretString,
        target: HostedTarget,
    ) -> Self {
        Self {
            service_url,
            client_id: client_id.into(),
            client_secret,
            target,
            timeout: DEFAULT_HOSTED_TIMEOUT,
        }
    }

    /// Gives each request to the service at most `timeout` (default
    /// [`DEFAULT_HOSTED_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// What an execute answered: the records and the rest.
pub(crate) struct Answer {
    /// `result`: the bare record or array.
    pub(crate) result: Value,
    /// `connector_metadata`: `{next_page, ...}`.
    pub(crate) metadata: Value,
}

/// What a check answered.
pub(crate) struct CheckAnswer {
    /// The connector checked.
    pub(crate) connector: String,
    /// Whether the service found it healthy.
    pub(crate) healthy: bool,
    /// Why not, in the service's words (cleaned).
    pub(crate) error: Option<String>,
}

/// `status` of a check's result.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum CheckStatus {
    Healthy,
    Unhealthy,
}

/// The client of the hosted service: one HTTP client, the cached token and connector id.
#[derive(Clone)]
pub(crate) struct HostedClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    client_id: String,
    client_secret: SecretString,
    target: HostedTarget,
    timeout: Duration,
    /// How long a connection may take to open: [`CONNECT_TIMEOUT`], or `timeout` if shorter.
    connect_timeout: Duration,
    token: Mutex<Option<ServiceToken>>,
    connector: Mutex<Option<String>>,
}

struct ServiceToken {
    value: SecretString,
    renew_at: Instant,
}

impl fmt::Debug for HostedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostedClient")
            .field("service", &self.service())
            .field("client_id", &self.inner.client_id)
            .field("target", &self.inner.target)
            .finish_non_exhaustive()
    }
}

/// A response read whole.
struct Received {
    status: u16,
    retry_after: Option<Duration>,
    body: bytes::Bytes,
}

impl HostedClient {
    /// Checks the URL and builds the HTTP client; nothing is sent yet.
    pub(crate) fn new(config: HostedConfig) -> Result<Self, AsanaError> {
        let mut base = config.service_url;
        check_base_url(&base, "hosted service URL")?;
        let target = match &config.target {
            HostedTarget::Customer(name) if name.is_empty() => Some("customer"),
            HostedTarget::Connector(id) if !usable_id(id) => Some("connector id"),
            _ => None,
        };
        if let Some(name) = target {
            return Err(AsanaError::InvalidArgument {
                name,
                reason: "must not be empty (nor `.` or `..`)".into(),
            });
        }
        let path = base.path().trim_end_matches('/').to_string();
        base.set_path(&path);
        let connect_timeout = CONNECT_TIMEOUT.min(config.timeout);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .user_agent(concat!(
                "integrations-provider-asana/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(AsanaError::HttpClient)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                client_id: config.client_id,
                client_secret: config.client_secret,
                target: config.target,
                timeout: config.timeout,
                connect_timeout,
                token: Mutex::new(None),
                connector: Mutex::new(None),
            }),
        })
    }

    /// Runs `entity.action` with `params` (already validated) on the connector.
    pub(crate) async fn execute(
        &self,
        entity: &str,
        action: &str,
        params: &Map<String, Value>,
    ) -> Result<Answer, AsanaError> {
        let (connector, mut answer) = self
            .execute_raw(json!({"entity": entity, "action": action, "params": params}))
            .await?;
        let Some(object) = answer.as_object_mut() else {
            return Err(self.invalid_answer(&connector, "not a JSON object").into());
        };
        let Some(result) = object.remove("result") else {
            return Err(self.invalid_answer(&connector, "no `result`").into());
        };
        let metadata = match object.remove("connector_metadata") {
            Some(Value::Object(metadata)) => Value::Object(metadata),
            _ => json!({"next_page": null}),
        };
        Ok(Answer { result, metadata })
    }

    /// The service's check of the connector: `{entity: "*", action: "check"}`.
    pub(crate) async fn check(&self) -> Result<CheckAnswer, AsanaError> {
        let (connector, answer) = self
            .execute_raw(json!({"entity": "*", "action": "check", "params": {}}))
            .await?;
        let result = &answer["result"];
        let status = CheckStatus::deserialize(&result["status"]).map_err(|_| {
            self.invalid_answer(&connector, "`result.status` is not healthy or unhealthy")
        })?;
        let error = result["error"]
            .as_str()
            .filter(|e| !e.is_empty())
            .map(|e| self.redactor(None).clean(e, MAX_TEXT_CHARS));
        Ok(CheckAnswer {
            connector,
            healthy: matches!(status, CheckStatus::Healthy),
            error,
        })
    }

    /// Posts `body` to the connector's execute path; a 404 of the service's own (not Asana's,
    /// passed on) forgets a looked-up connector.
    async fn execute_raw(&self, body: Value) -> Result<(String, Value), AsanaError> {
        let connector = self.connector_id().await?;
        let url = self.url(&[
            "api",
            "v1",
            "integrations",
            "connectors",
            &connector,
            "execute",
        ]);
        match self.call(Method::POST, url, Some(&body)).await {
            Ok(answer) => Ok((connector, answer)),
            Err(ServiceError::Status {
                status: 404,
                from_provider: false,
                ..
            }) => {
                self.forget_connector(&connector).await;
                Err(ServiceError::ConnectorNotFound {
                    service: self.service(),
                    connector,
                }
                .into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The connector to run on: the configured id, or the customer's only Asana connector
    /// (looked up once; one lookup at a time).
    async fn connector_id(&self) -> Result<String, ServiceError> {
        let customer = match &self.inner.target {
            HostedTarget::Connector(id) => return Ok(id.clone()),
            HostedTarget::Customer(customer) => customer,
        };
        let mut cached = self.inner.connector.lock().await;
        if let Some(id) = cached.as_ref() {
            return Ok(id.clone());
        }
        let mut url = self.url(&["api", "v1", "integrations", "connectors"]);
        url.query_pairs_mut()
            .append_pair("customer_name", customer)
            .append_pair("connector_type", CONNECTOR_TYPE);
        let answer = self.call(Method::GET, url, None).await?;
        let Some(listed) = answer["data"].as_array() else {
            return Err(ServiceError::InvalidAnswer {
                operation: "GET /api/v1/integrations/connectors".into(),
                status: 200,
                reason: "no `data` array".into(),
            });
        };
        let ids: Vec<String> = listed
            .iter()
            .filter(|c| is_asana(c))
            .filter_map(|c| c["id"].as_str().filter(|id| usable_id(id)))
            .map(str::to_string)
            .collect();
        match ids.as_slice() {
            [] => Err(ServiceError::NoConnector {
                service: self.service(),
                customer: customer.clone(),
            }),
            [id] => {
                *cached = Some(id.clone());
                Ok(id.clone())
            }
            _ => Err(ServiceError::SeveralConnectors {
                service: self.service(),
                customer: customer.clone(),
                ids,
            }),
        }
    }

    /// Drops the cached lookup if it still names `connector`.
    async fn forget_connector(&self, connector: &str) {
        let mut cached = self.inner.connector.lock().await;
        if cached.as_deref() == Some(connector) {
            *cached = None;
        }
    }

    /// An authorized call: a 401 renews the token once and repeats the call once.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Value, ServiceError> {
        let token = self.token().await?;
        let mut received = self.send(&method, &url, body, Some(&token)).await?;
        let mut used = token;
        if received.status == 401 {
            self.invalidate(&used).await;
            used = self.token().await?;
            received = self.send(&method, &url, body, Some(&used)).await?;
        }
        self.decode(&method, &url, received, Some(&used))
    }

    /// The cached service token, or a new one when there is none or it is due for renewal. The
    /// lock is held while fetching, so concurrent callers wait for one request.
    async fn token(&self) -> Result<SecretString, ServiceError> {
        let mut cached = self.inner.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.value.clone());
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    /// Drops the cached token if it is still `used` (a concurrent caller may have renewed it).
    async fn invalidate(&self, used: &SecretString) {
        let mut cached = self.inner.token.lock().await;
        if cached
            .as_ref()
            .is_some_and(|t| t.value.expose_secret() == used.expose_secret())
        {
            *cached = None;
        }
    }

    /// `POST /api/v1/account/applications/token`.
    async fn fetch_token(&self) -> Result<ServiceToken, ServiceError> {
        #[derive(Deserialize)]
        struct TokenAnswer {
            access_token: String,
            expires_in: Option<u64>,
        }
        let url = self.url(&["api", "v1", "account", "applications", "token"]);
        let body = json!({
            "client_id": self.inner.client_id,
            "client_secret": self.inner.client_secret.expose_secret(),
        });
        let started = Instant::now();
        let received = self.send(&Method::POST, &url, Some(&body), None).await?;
        if matches!(received.status, 401 | 403) {
            return Err(ServiceError::AppCredentials {
                service: self.service(),
                status: received.status,
            });
        }
        let answer = self.decode(&Method::POST, &url, received, None)?;
        let operation = operation(&Method::POST, &url);
        let answer =
            TokenAnswer::deserialize(&answer).map_err(|_| ServiceError::InvalidAnswer {
                operation: operation.clone(),
                status: 200,
                reason: "no `access_token` string".into(),
            })?;
        if answer.access_token.is_empty() {
            return Err(ServiceError::InvalidAnswer {
                operation,
                status: 200,
                reason: "an empty `access_token`".into(),
            });
        }
        let lifetime = answer
            .expires_in
            .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs)
            .min(MAX_TOKEN_LIFETIME);
        let margin = (lifetime / 10).min(MAX_RENEWAL_MARGIN);
        Ok(ServiceToken {
            value: SecretString::from(answer.access_token),
            renew_at: started + (lifetime - margin),
        })
    }

    /// Sends one request (with the bearer `token`, if any) and reads the answer.
    async fn send(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        token: Option<&SecretString>,
    ) -> Result<Received, ServiceError> {
        let mut request = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .timeout(self.inner.timeout)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = token {
            request = request.bearer_auth(token.expose_secret());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let failed = |e: reqwest::Error| {
            let operation = operation(method, url);
            if e.is_timeout() {
                // A connection that did not open in time ran out the connect timeout.
                let timeout = if e.is_connect() {
                    self.inner.connect_timeout
                } else {
                    self.inner.timeout
                };
                ServiceError::Timeout { operation, timeout }
            } else {
                ServiceError::Network {
                    operation,
                    source: e.without_url(),
                }
            }
        };
        let response = request.send().await.map_err(failed)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let Some(body) = auth_core::http::read_limited(response, MAX_ANSWER_BYTES)
            .await
            .map_err(failed)?
        else {
            return Err(ServiceError::InvalidAnswer {
                operation: operation(method, url),
                status,
                reason: format!("larger than {MAX_ANSWER_BYTES} bytes"),
            });
        };
        Ok(Received {
            status,
            retry_after,
            body,
        })
    }

    /// The JSON of a 2xx answer, or the error an error answer stands for.
    fn decode(
        &self,
        method: &Method,
        url: &Url,
        received: Received,
        token: Option<&SecretString>,
    ) -> Result<Value, ServiceError> {
        let operation = || operation(method, url);
        let parsed = serde_json::from_slice::<Value>(&received.body);
        if (200..300).contains(&received.status) {
            return parsed.map_err(|_| ServiceError::InvalidAnswer {
                operation: operation(),
                status: received.status,
                reason: "not JSON".into(),
            });
        }
        let error = parsed.unwrap_or(Value::Null);
        let redactor = self.redactor(token);
        let clean = |text: &str| redactor.clean(text, MAX_TEXT_CHARS);
        let errors: Vec<String> = error["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["message"].as_str().or(e.as_str()))
                    .map(clean)
                    .collect()
            })
            .unwrap_or_default();
        let message = match error["message"].as_str().or(error["detail"].as_str()) {
            Some(message) => clean(message),
            None => errors
                .first()
                .cloned()
                .unwrap_or_else(|| format!("no error message (HTTP {})", received.status)),
        };
        Err(ServiceError::Status {
            operation: operation(),
            status: received.status,
            message,
            errors,
            // The service's own flag; an answer without one (a proxy's) is retryable when its
            // status says so.
            retryable: error["retryable"]
                .as_bool()
                .unwrap_or(received.status == 429 || received.status >= 500),
            retry_after: received.retry_after,
            from_provider: error["source"] == "provider",
            outcome_unknown: error["outcome_unknown"] == true,
        })
    }

    fn invalid_answer(&self, connector: &str, reason: &str) -> ServiceError {
        let url = self.url(&[
            "api",
            "v1",
            "integrations",
            "connectors",
            connector,
            "execute",
        ]);
        ServiceError::InvalidAnswer {
            operation: operation(&Method::POST, &url),
            status: 200,
            reason: reason.into(),
        }
    }

    /// Removes the application's secret and the token from the service's texts.
    fn redactor(&self, token: Option<&SecretString>) -> Redactor {
        let mut redactor = Redactor::new().with_secret(&self.inner.client_secret);
        if let Some(token) = token {
            redactor.add(token);
        }
        redactor
    }

    /// The service URL with `segments` appended (each percent-encoded: an id never leaves the
    /// service's origin or its API paths).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// The service's origin, as errors name it.
    fn service(&self) -> String {
        self.inner.base.origin().ascii_serialization()
    }
}

/// Whether a listed connector is an Asana one (a connector that does not say is taken at the
/// service's word: it was asked for Asana connectors).
fn is_asana(connector: &Value) -> bool {
    let by_type = connector["connector_type"]
        .as_str()
        .map(|t| t.eq_ignore_ascii_case(CONNECTOR_TYPE));
    let by_definition = connector["definition_id"]
        .as_str()
        .map(|d| d == ASANA_DEFINITION_ID || d.eq_ignore_ascii_case("asana"));
    match (by_type, by_definition) {
        (None, None) => true,
        (by_type, by_definition) => by_type == Some(true) || by_definition == Some(true),
    }
}

/// Whether `id` can be a path segment: `.` and `..` would change the path.
fn usable_id(id: &str) -> bool {
    !matches!(id, "" | "." | "..")
}

/// `METHOD /path`, without the query.
fn operation(method: &Method, url: &Url) -> String {
    format!("{method} {}", url.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(url: &str) -> Result<HostedClient, AsanaError> {
        HostedClient::new(HostedConfig::new(
            url.parse().unwrap(),
            "id",
            "secret".into(),
            HostedTarget::Connector("c".into()),
        ))
    }

    #[test]
    fn service_urls_follow_the_crates_rules() {
        for bad in [
            "http://service.example",
            "https://user:pw@service.example",
            "https://service.example/?q=1",
            "ftp://service.example",
        ] {
            assert!(
                matches!(client(bad), Err(AsanaError::InvalidUrl { .. })),
                "{bad}"
            );
        }
        let local = client("http://127.0.0.1:8080/prefix/").unwrap();
        assert_eq!(
            local
                .url(&[
                    "api",
                    "v1",
                    "integrations",
                    "connectors",
                    "a/../b?",
                    "execute"
                ])
                .as_str(),
            "http://127.0.0.1:8080/prefix/api/v1/integrations/connectors/a%2F..%2Fb%3F/execute"
        );
        assert!(client("https://service.example").is_ok());
        let dots = HostedClient::new(HostedConfig::new(
            "https://service.example".parse().unwrap(),
            "id",
            "secret".into(),
            HostedTarget::Connector("..".into()),
        ));
        assert!(matches!(
            dots,
            Err(AsanaError::InvalidArgument {
                name: "connector id",
                ..
            })
        ));
    }

    #[test]
    fn listed_connectors_of_other_types_are_skipped() {
        assert!(is_asana(&json!({"id": "1"})));
        assert!(is_asana(&json!({"id": "1", "connector_type": "asana"})));
        assert!(is_asana(
            &json!({"id": "1", "connector_type": "Other", "definition_id": ASANA_DEFINITION_ID})
        ));
        assert!(!is_asana(&json!({"id": "1", "connector_type": "Jira"})));
    }
}
