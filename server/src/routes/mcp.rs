//! `/mcp`: the catalog as Model Context Protocol tools over streamable HTTP (stateless, JSON
//! answers), through `integrations_mcp::http_service`, for one connector per request.
//!
//! The caller authenticates as for every route (`Authorization: Bearer`, 401 without). The
//! connector is the one named by the `connector_id` query parameter or the `X-Connector-Id`
//! header; a scoped token whose customer has exactly one Asana connector may name none. A
//! connector the caller does not own is 404; one of a provider without a catalog (GitHub, ...)
//! is 400, as it has no tools. The connector's `read_only` flag hides and refuses
//! its writes. Actions run as `execute` runs them ([`run_action`]: the same warm connector,
//! refresh and error classes, as tool errors), and every tool call is audited
//! (`mcp.execute`, `mcp.describe`; parameter names, never values). `Host` and `Origin` are
//! checked first, against the server's allow lists (403). Every refusal answers the service's
//! error JSON, those of the MCP transport too (its plain-text 406, 415, 405, ...; a body that is
//! not JSON, or JSON that is no JSON-RPC message, is 400).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::uri::Authority;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use integrations::asana::{AsanaError, ExecuteError, PROVIDER_ID, ServiceError};
use integrations::{AuthError, StoreError};
use integrations_mcp::{AnsweredCall, Executor, HttpSettings, McpServer, Refusal, http_service};
use serde::de::IgnoredAny;
use serde_json::Value;
use url::Url;

use super::Status;
use super::connectors::owned;
use super::execute::{ActionFailure, run_action};
use super::{AppState, Audit};
use crate::error::ApiError;
use crate::store::{ConnectorFilter, ConnectorRecord};
use crate::tokens::Principal;

/// The query parameter that names the connector.
const CONNECTOR_PARAM: &str = "connector_id";
/// The header that names the connector.
const CONNECTOR_HEADER: &str = "x-connector-id";

/// `/mcp`, with `Host` and `Origin` checked against `allowed` and bodies up to
/// `max_body_bytes`.
pub(super) fn routes(state: AppState, allowed: Allowed, max_body_bytes: usize) -> Router<AppState> {
    let settings = HttpSettings::default()
        .allowed_hosts(allowed.hosts.clone())
        .allowed_origins(allowed.origins.clone());
    Router::new()
        .nest_service("/mcp", http_service(settings))
        .layer(from_fn_with_state(
            Chooser {
                state,
                guard: Arc::new(Guard::new(&allowed)),
                max_body_bytes,
            },
            choose,
        ))
}

/// What the middleware that picks each request's server needs.
#[derive(Clone)]
struct Chooser {
    state: AppState,
    guard: Arc<Guard>,
    max_body_bytes: usize,
}

/// Checks `Host` and `Origin`, authenticates the caller, finds its connector and puts that
/// connector's MCP server in the request's extensions; a failure is answered with the service's
/// error JSON, and so is a request the MCP service refuses before it reaches the server.
async fn choose(State(chooser): State<Chooser>, request: Request, next: Next) -> Response {
    let json_body = is_json(request.headers());
    match server_for(&chooser, request, json_body).await {
        Ok(request) => refusal_as_json(next.run(request).await, json_body),
        Err(e) => e.into_response(),
    }
}

async fn server_for(
    chooser: &Chooser,
    request: Request,
    json_body: bool,
) -> Result<Request, ApiError> {
    let state = &chooser.state;
    let (mut parts, body) = request.into_parts();
    chooser.guard.check(&parts)?;
    let principal = Principal::from_request_parts(&mut parts, state).await?;
    let record = connector(state, &principal, named_connector(&parts)?).await?;
    if record.connector_type != PROVIDER_ID {
        let kind = state.connectors.kind_of(&record)?;
        return Err(ApiError::bad_request(format!(
            "a {} connector has no catalog, so no MCP tools: /mcp serves Asana connectors; send its requests with execute and proxy.request",
            kind.display_name()
        )));
    }
    let body = axum::body::to_bytes(body, chooser.max_body_bytes)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is larger than the service accepts",
            )
        })?;
    if json_body && let Err(e) = serde_json::from_slice::<IgnoredAny>(&body) {
        return Err(ApiError::bad_request(format!(
            "the request body is not valid JSON (line {}, column {}): send one JSON-RPC message",
            e.line(),
            e.column()
        )));
    }
    let server = McpServer::builder()
        .read_only(record.read_only)
        .build(Arc::new(ServiceExecutor {
            state: state.clone(),
            principal,
            record,
        }))
        .map_err(|e| {
            tracing::error!(error = %e, "cannot set up the MCP server");
            ApiError::misconfigured("cannot set up the MCP server")
        })?;
    parts.extensions.insert(server);
    Ok(Request::from_parts(parts, Body::from(body)))
}

/// The connector id the request names, by query parameter or header (400 when they differ).
fn named_connector(parts: &axum::http::request::Parts) -> Result<Option<String>, ApiError> {
    let by_query = parts.uri.query().and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == CONNECTOR_PARAM)
            .map(|(_, value)| value.into_owned())
    });
    let by_header = parts
        .headers
        .get(CONNECTOR_HEADER)
        .map(|value| {
            value
                .to_str()
                .map(|id| id.trim().to_string())
                .map_err(|_| ApiError::bad_request("the X-Connector-Id header is not text"))
        })
        .transpose()?;
    match (by_query, by_header) {
        (Some(a), Some(b)) if a != b => Err(ApiError::bad_request(
            "the connector_id query parameter and the X-Connector-Id header name different connectors; give one",
        )),
        (Some(id), _) | (None, Some(id)) => Ok(Some(id)),
        (None, None) => Ok(None),
    }
}

/// The caller's connector: the one named, or a scoped token's customer's only Asana connector.
async fn connector(
    state: &AppState,
    principal: &Principal,
    named: Option<String>,
) -> Result<ConnectorRecord, ApiError> {
    if let Some(id) = named {
        return owned(state, principal, &id).await;
    }
    let Some(customer) = &principal.customer else {
        return Err(ApiError::bad_request(
            "an application token names the connector: add ?connector_id=ID to the MCP URL or send an X-Connector-Id header (or use the customer's scoped token)",
        ));
    };
    let mut records = state
        .store
        .list_connectors(
            &principal.application_id,
            &ConnectorFilter {
                customer_name: Some(customer.clone()),
                connector_type: Some(PROVIDER_ID.to_string()),
                ..ConnectorFilter::default()
            },
        )
        .await?;
    match records.len() {
        0 => Err(ApiError::connector_not_found()),
        1 => Ok(records.remove(0)),
        n => Err(ApiError::bad_request(format!(
            "this customer has {n} Asana connectors; choose one with ?connector_id=ID or an X-Connector-Id header ({})",
            records
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Runs one connector's actions for one caller, and audits every tool call.
struct ServiceExecutor {
    state: AppState,
    principal: Principal,
    record: ConnectorRecord,
}

impl ServiceExecutor {
    async fn audit(
        &self,
        operation: &'static str,
        call: (Option<&str>, Option<&str>, Vec<String>),
        started: Instant,
        status: StatusCode,
    ) {
        let (entity, action, param_names) = call;
        Audit {
            principal: &self.principal,
            customer_name: Some(&self.record.customer_name),
            connector_id: Some(&self.record.id),
            operation,
            entity,
            action,
            param_names,
            started,
        }
        .record(self.state.store.as_ref(), status)
        .await;
    }
}

#[async_trait]
impl Executor for ServiceExecutor {
    async fn execute(
        &self,
        entity: &str,
        action: &str,
        params: Value,
    ) -> Result<Value, ExecuteError> {
        let started = Instant::now();
        let names = match &params {
            Value::Object(params) => params.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let outcome = match self.state.in_flight.enter(&self.principal.application_id) {
            Ok(_in_flight) => {
                run_action(
                    &self.state,
                    &self.record,
                    Status::default(),
                    entity,
                    action,
                    params,
                )
                .await
            }
            Err(e) => Err(ActionFailure::Service(e)),
        };
        let status = match &outcome {
            Ok(_) => StatusCode::OK,
            Err(failure) => failure.to_api(&self.record.id).status(),
        };
        self.audit(
            "mcp.execute",
            (Some(entity), Some(action), names),
            started,
            status,
        )
        .await;
        outcome.map_err(|failure| match failure {
            ActionFailure::Action(e) => e,
            ActionFailure::Service(e) => service_error(&e, &self.record.id),
        })
    }

    /// `describe`, and calls refused before reaching an action: audited with the status
    /// `execute` would answer (403 for a write on a read-only connector).
    async fn answered(&self, call: AnsweredCall) {
        let operation = if call.describe {
            "mcp.describe"
        } else {
            "mcp.execute"
        };
        let status = match call.refused {
            None => StatusCode::OK,
            Some(Refusal::ReadOnly) => StatusCode::FORBIDDEN,
            Some(_) => StatusCode::BAD_REQUEST,
        };
        self.audit(
            operation,
            (
                call.entity.as_deref(),
                call.action.as_deref(),
                call.param_names,
            ),
            Instant::now(),
            status,
        )
        .await;
    }
}

/// The service's own failure as the library's error class: its own limit (429, with when to
/// retry), re-authorization (409), retryable when the service said so (a store it could not
/// reach), else permanent (data it cannot read).
fn service_error(e: &ApiError, connector_id: &str) -> ExecuteError {
    if e.status() == StatusCode::TOO_MANY_REQUESTS {
        return ExecuteError::Api(AsanaError::Service(ServiceError::Status {
            operation: "POST /mcp".to_string(),
            status: StatusCode::TOO_MANY_REQUESTS.as_u16(),
            message: e.message().to_string(),
            errors: Vec::new(),
            retryable: true,
            retry_after: e.retry_after(),
            from_provider: false,
            outcome_unknown: false,
        }));
    }
    let auth = if e.status() == StatusCode::CONFLICT {
        AuthError::NeedsReauthorization {
            provider: PROVIDER_ID.to_string(),
            subject: connector_id.to_string(),
            reason: format!(
                "its Asana grant was revoked or expired; reconnect it with PATCH /api/v1/integrations/connectors/{connector_id} or through the consent flow"
            ),
        }
    } else if e.is_retryable() {
        AuthError::Store(StoreError::Io {
            store: "service",
            location: "integrations-server".to_string(),
            source: std::io::Error::other(e.message().to_string()),
        })
    } else {
        AuthError::Store(StoreError::Backend {
            store: "service",
            message: e.message().to_string(),
        })
    };
    ExecuteError::Api(AsanaError::Auth(auth))
}

/// Whether the request says its body is JSON (`Content-Type: application/json`, any
/// parameters).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The MCP service's answer, with a refusal it answers in plain text (a missing `Accept`, a
/// body that is not a JSON-RPC message, a method it does not take) in the service's error JSON
/// instead, with the same status, except that a JSON body that is no JSON-RPC message is 400 (the
/// MCP service says 415). Its JSON-RPC answers, errors included, pass unchanged.
fn refusal_as_json(response: Response, json_body: bool) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let refusal = match status {
        StatusCode::NOT_ACCEPTABLE => ApiError::new(
            status,
            "an MCP client must accept both JSON and event streams: send Accept: application/json, text/event-stream",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE if json_body => ApiError::bad_request(
            "the request body is JSON but not a JSON-RPC message: send an MCP request such as {\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"tools/list\"}",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            "the request body must be a JSON-RPC message sent with Content-Type: application/json",
        ),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            "this path does not take this method; the Allow header lists those it takes",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "the request body is larger than the service accepts",
        ),
        StatusCode::FORBIDDEN => ApiError::new(
            status,
            "the MCP service refused this request's Host or Origin",
        ),
        StatusCode::NOT_FOUND => ApiError::new(
            status,
            "no such MCP session: /mcp keeps none, so send each request without Mcp-Session-Id",
        ),
        StatusCode::BAD_REQUEST => ApiError::bad_request(
            "the MCP request's headers are not valid: its MCP-Protocol-Version, when sent, must name a version this server supports",
        ),
        _ if status.is_server_error() => {
            ApiError::misconfigured("the MCP service failed; see the service's log")
        }
        _ => ApiError::new(status, "the MCP service refused this request"),
    };
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut answer = refusal.into_response();
    if let Some(allow) = allow {
        answer.headers_mut().insert(header::ALLOW, allow);
    }
    answer
}

/// The allow lists of `/mcp`: `Host` values (`host` or `host:port`) and browser origins
/// (`https://app.example.com:443`, `http://localhost:*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Allowed {
    pub(crate) hosts: Vec<String>,
    pub(crate) origins: Vec<String>,
}

/// [`Allowed`], parsed once, checked before anything else of a request: a `Host` outside it
/// (DNS rebinding) or an `Origin` outside it (a browser page of another site) is 403 in the
/// service's error JSON, and logged as sent. The same rules as the MCP service's own check,
/// which runs after this one: no hosts is loopback names only; a request without `Origin`
/// passes; an origin without a port matches any port, `:*` too.
#[derive(Debug)]
struct Guard {
    /// (host in lowercase without brackets, port when the entry names one).
    hosts: Vec<(String, Option<u16>)>,
    origins: Vec<AllowedOrigin>,
}

#[derive(Debug, PartialEq, Eq)]
enum AllowedOrigin {
    /// The browser's `Origin: null`.
    Null,
    Tuple {
        scheme: String,
        host: String,
        /// `None`: any port.
        port: Option<u16>,
    },
}

impl Guard {
    fn new(allowed: &Allowed) -> Self {
        let hosts: Vec<(String, Option<u16>)> = if allowed.hosts.is_empty() {
            LOOPBACK_HOSTS
                .iter()
                .map(|h| (h.to_string(), None))
                .collect()
        } else {
            allowed
                .hosts
                .iter()
                .filter_map(|entry| {
                    let entry = entry.trim();
                    match Authority::try_from(entry) {
                        Ok(authority) => Some((plain_host(authority.host()), authority.port_u16())),
                        Err(_) => (!entry.is_empty()).then(|| (plain_host(entry), None)),
                    }
                })
                .collect()
        };
        let origins = allowed
            .origins
            .iter()
            .filter_map(|entry| allowed_origin(entry))
            .collect();
        Self { hosts, origins }
    }

    fn check(&self, parts: &Parts) -> Result<(), ApiError> {
        let (host, port, sent) = request_host(parts)?;
        let host_allowed = self.hosts.iter().any(|(allowed, allowed_port)| {
            *allowed == host && allowed_port.is_none_or(|p| Some(p) == port)
        });
        if !host_allowed {
            tracing::warn!(host = %sent, "refused an MCP request: its Host is not allowed (a guard against DNS rebinding)");
            return Err(ApiError::new(StatusCode::FORBIDDEN, HOST_REFUSED));
        }
        let Some(origin) = parts.headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let refused = || ApiError::new(StatusCode::FORBIDDEN, ORIGIN_REFUSED);
        let Some(text) = origin.to_str().ok() else {
            tracing::warn!("refused an MCP request: its Origin is not text");
            return Err(refused());
        };
        let allowed = origin_of(text).is_some_and(|origin| {
            self.origins.iter().any(|allowed| match (allowed, &origin) {
                (AllowedOrigin::Null, Origin::Null) => true,
                (
                    AllowedOrigin::Tuple { scheme, host, port },
                    Origin::Tuple {
                        scheme: sent_scheme,
                        host: sent_host,
                        port: sent_port,
                    },
                ) => {
                    scheme == sent_scheme
                        && host == sent_host
                        && port.is_none_or(|p| Some(p) == *sent_port)
                }
                _ => false,
            })
        });
        if !allowed {
            tracing::warn!(origin = %text, "refused an MCP request: its Origin is not allowed (a guard against other sites' pages)");
            return Err(refused());
        }
        Ok(())
    }
}

/// The 403 of a `Host` outside the allow list.
const HOST_REFUSED: &str = "/mcp does not accept this Host (a guard against DNS rebinding): it accepts the host of the service's public URL (integrations serve --public-url), loopback names when the service listens on loopback or on all addresses, or the hosts given with integrations serve --mcp-allowed-host (ServerBuilder::mcp_allowed_hosts), which replace those";
/// The 403 of an `Origin` outside the allow list.
const ORIGIN_REFUSED: &str = "/mcp does not accept requests from this Origin (a guard against other sites' pages in a browser): it accepts the origin of the service's public URL (integrations serve --public-url), loopback origins when the service listens on loopback or on all addresses, or the origins given with integrations serve --mcp-allowed-origin (ServerBuilder::mcp_allowed_origins), which replace those";

/// The request's host (lowercase, without brackets), its port, and the `Host` as sent (400 when
/// it is missing or not a host with an optional port).
fn request_host(parts: &Parts) -> Result<(String, Option<u16>, String), ApiError> {
    let authority = match parts.headers.get(header::HOST) {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|text| Authority::try_from(text).ok())
            .ok_or_else(|| {
                ApiError::bad_request("the Host header is not a host name with an optional port")
            })?,
        None => parts.uri.authority().cloned().ok_or_else(|| {
            ApiError::bad_request("the request names no host: send a Host header")
        })?,
    };
    Ok((
        plain_host(authority.host()),
        authority.port_u16(),
        authority.to_string(),
    ))
}

/// A host in lowercase, without an IPv6 address's brackets.
fn plain_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

/// An `Origin` as sent.
#[derive(Debug, PartialEq, Eq)]
enum Origin {
    Null,
    Tuple {
        scheme: String,
        host: String,
        /// The port, or the scheme's default.
        port: Option<u16>,
    },
}

/// `value` as an origin: `null`, or scheme, host and port (the scheme's default when it names
/// none); `None` when it is neither.
fn origin_of(value: &str) -> Option<Origin> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("null") {
        return Some(Origin::Null);
    }
    let uri = Uri::try_from(value).ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    let port = authority.port_u16().or(match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    });
    Some(Origin::Tuple {
        host: plain_host(authority.host()),
        scheme,
        port,
    })
}

/// An allow-list entry as an origin: a port of `*`, or none, matches any port.
fn allowed_origin(entry: &str) -> Option<AllowedOrigin> {
    let entry = entry.trim();
    let (base, any_port) = match entry.strip_suffix(":*") {
        Some(base) => (base, true),
        None => (entry, false),
    };
    if !any_port && entry.eq_ignore_ascii_case("null") {
        return Some(AllowedOrigin::Null);
    }
    let uri = Uri::try_from(base).ok()?;
    let authority = uri.authority()?;
    if any_port && authority.port().is_some() {
        return None;
    }
    Some(AllowedOrigin::Tuple {
        scheme: uri.scheme_str()?.to_ascii_lowercase(),
        host: plain_host(authority.host()),
        port: authority.port_u16().filter(|_| !any_port),
    })
}

/// Where `/mcp` may be reached from: the allow lists configured, or defaults derived from the
/// public URL and the listener.
#[derive(Debug, Clone, Default)]
pub(crate) struct McpAccess {
    /// `Host` values accepted, replacing the defaults.
    pub(crate) hosts: Option<Vec<String>>,
    /// Browser `Origin`s accepted, replacing the defaults.
    pub(crate) origins: Option<Vec<String>>,
    /// The URL the service is reached at.
    pub(crate) public_url: Option<Url>,
}

/// Loopback `Host` values.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// Loopback browser origins, any port.
const LOOPBACK_ORIGINS: [&str; 3] = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];

impl McpAccess {
    /// The allow lists for a service listening on `listening` (unknown when only its router is
    /// built): unless configured, the public URL's host and origin, plus loopback when listening
    /// on loopback or on all addresses (which loopback is one of). With no host at all, the MCP
    /// service accepts loopback only.
    pub(crate) fn allowed(&self, listening: Option<SocketAddr>) -> Allowed {
        let loopback = listening
            .is_some_and(|address| address.ip().is_loopback() || address.ip().is_unspecified());
        let public = self.public_url.as_ref();
        let hosts = self.hosts.clone().unwrap_or_else(|| {
            let mut hosts: Vec<String> = public
                .and_then(Url::host_str)
                .map(str::to_string)
                .into_iter()
                .collect();
            if loopback {
                hosts.extend(LOOPBACK_HOSTS.map(str::to_string));
            }
            hosts
        });
        let origins = self.origins.clone().unwrap_or_else(|| {
            let mut origins: Vec<String> = public
                .and_then(|url| {
                    Some(format!(
                        "{}://{}:{}",
                        url.scheme(),
                        url.host_str()?,
                        url.port_or_known_default()?
                    ))
                })
                .into_iter()
                .collect();
            if loopback {
                origins.extend(LOOPBACK_ORIGINS.map(str::to_string));
            }
            origins
        });
        Allowed { hosts, origins }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(public_url: Option<&str>) -> McpAccess {
        McpAccess {
            public_url: public_url.map(|u| u.parse().unwrap()),
            ..McpAccess::default()
        }
    }

    #[test]
    fn defaults_are_the_public_url_and_loopback_on_loopback_or_all_addresses() {
        let public = access(Some("https://mcp.example.com/base"));
        assert_eq!(
            public.allowed(Some("10.0.0.5:8080".parse().unwrap())),
            allowed(&["mcp.example.com"], &["https://mcp.example.com:443"])
        );
        for listening in ["127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080", "[::]:8080"] {
            let Allowed { hosts, origins } = public.allowed(Some(listening.parse().unwrap()));
            assert_eq!(
                hosts,
                ["mcp.example.com", "localhost", "127.0.0.1", "::1"],
                "{listening}"
            );
            assert_eq!(origins[0], "https://mcp.example.com:443");
            assert_eq!(&origins[1..], LOOPBACK_ORIGINS);
        }
        let Allowed { hosts, .. } = access(None).allowed(Some("0.0.0.0:8080".parse().unwrap()));
        assert_eq!(hosts, LOOPBACK_HOSTS);
        assert_eq!(
            access(Some("http://10.0.0.5:9000")).allowed(None),
            allowed(&["10.0.0.5"], &["http://10.0.0.5:9000"])
        );
        assert_eq!(access(None).allowed(None), Allowed::default());
    }

    fn allowed(hosts: &[&str], origins: &[&str]) -> Allowed {
        Allowed {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            origins: origins.iter().map(|o| o.to_string()).collect(),
        }
    }

    /// The request parts of a request with these headers.
    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = axum::http::Request::builder().uri("/mcp");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    /// The status and message of the guard's answer to a request with these headers.
    fn guarded(guard: &Guard, headers: &[(&str, &str)]) -> Result<(), (u16, String)> {
        guard
            .check(&parts(headers))
            .map_err(|e| (e.status().as_u16(), e.message().to_string()))
    }

    #[test]
    fn the_guard_accepts_the_allowed_hosts_and_origins_as_the_mcp_service_does() {
        let guard = Guard::new(&allowed(
            &["API.example.com", "pinned.example.com:8443", "::1"],
            &[
                "https://app.example.com:443",
                "http://localhost:*",
                "https://any-port.example.com",
                "null",
            ],
        ));
        for headers in [
            vec![("host", "api.example.com")],
            vec![("host", "Api.Example.com:8080")],
            vec![("host", "pinned.example.com:8443")],
            vec![("host", "[::1]:3000")],
            vec![
                ("host", "api.example.com"),
                ("origin", "https://app.example.com"),
            ],
            vec![
                ("host", "api.example.com"),
                ("origin", "https://app.example.com:443"),
            ],
            vec![
                ("host", "api.example.com"),
                ("origin", "http://localhost:5173"),
            ],
            vec![
                ("host", "api.example.com"),
                ("origin", "https://any-port.example.com:1"),
            ],
            vec![("host", "api.example.com"), ("origin", "null")],
        ] {
            assert_eq!(guarded(&guard, &headers), Ok(()), "{headers:?}");
        }
        let host = Err((403, HOST_REFUSED.to_string()));
        let origin = Err((403, ORIGIN_REFUSED.to_string()));
        for (headers, expected) in [
            (vec![("host", "evil.example")], &host),
            (vec![("host", "pinned.example.com")], &host),
            (vec![("host", "pinned.example.com:443")], &host),
            (vec![("host", "localhost")], &host),
            (
                vec![
                    ("host", "api.example.com"),
                    ("origin", "http://app.example.com"),
                ],
                &origin,
            ),
            (
                vec![
                    ("host", "api.example.com"),
                    ("origin", "https://app.example.com:8443"),
                ],
                &origin,
            ),
            (
                vec![
                    ("host", "api.example.com"),
                    ("origin", "https://evil.example"),
                ],
                &origin,
            ),
            (
                vec![("host", "api.example.com"), ("origin", "not an origin")],
                &origin,
            ),
        ] {
            assert_eq!(&guarded(&guard, &headers), expected, "{headers:?}");
        }
        assert_eq!(
            guarded(&guard, &[("host", "bad host")]),
            Err((
                400,
                "the Host header is not a host name with an optional port".to_string()
            ))
        );
        assert_eq!(
            guarded(&guard, &[]),
            Err((
                400,
                "the request names no host: send a Host header".to_string()
            ))
        );
        // No hosts at all: loopback names only, as the MCP service's default; no origins: none.
        let loopback = Guard::new(&Allowed::default());
        assert_eq!(guarded(&loopback, &[("host", "127.0.0.1:8080")]), Ok(()));
        assert_eq!(guarded(&loopback, &[("host", "localhost")]), Ok(()));
        assert_eq!(guarded(&loopback, &[("host", "example.com")]), host);
        assert_eq!(
            guarded(
                &loopback,
                &[("host", "localhost"), ("origin", "http://localhost:3000")]
            ),
            origin
        );
    }

    #[test]
    fn configured_lists_replace_the_defaults() {
        let configured = McpAccess {
            hosts: Some(vec!["api.acme.test".into()]),
            origins: Some(vec![]),
            ..access(Some("https://mcp.example.com"))
        };
        assert_eq!(
            configured.allowed(Some("127.0.0.1:1".parse().unwrap())),
            allowed(&["api.acme.test"], &[])
        );
    }
}
