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
//! checked by the MCP service against the server's allow lists (403).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use integrations::asana::{AsanaError, ExecuteError, PROVIDER_ID};
use integrations::{AuthError, StoreError};
use integrations_mcp::{AnsweredCall, Executor, HttpSettings, McpServer, Refusal, http_service};
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

/// `/mcp`, with `Host` and `Origin` checked against `settings` and bodies up to
/// `max_body_bytes`.
pub(super) fn routes(
    state: AppState,
    settings: HttpSettings,
    max_body_bytes: usize,
) -> Router<AppState> {
    Router::new()
        .nest_service("/mcp", http_service(settings))
        .layer(from_fn_with_state(
            Chooser {
                state,
                max_body_bytes,
            },
            choose,
        ))
}

/// What the middleware that picks each request's server needs.
#[derive(Clone)]
struct Chooser {
    state: AppState,
    max_body_bytes: usize,
}

/// Authenticates the caller, finds its connector and puts that connector's MCP server in the
/// request's extensions; a failure is answered with the service's error JSON.
async fn choose(State(chooser): State<Chooser>, request: Request, next: Next) -> Response {
    match server_for(&chooser, request).await {
        Ok(request) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

async fn server_for(chooser: &Chooser, request: Request) -> Result<Request, ApiError> {
    let state = &chooser.state;
    let (mut parts, body) = request.into_parts();
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
        let outcome = run_action(
            &self.state,
            &self.record,
            Status::default(),
            entity,
            action,
            params,
        )
        .await;
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

/// The service's own failure as the library's error class: re-authorization (409), retryable
/// when the service said so (a store it could not reach), else permanent (data it cannot read).
fn service_error(e: &ApiError, connector_id: &str) -> ExecuteError {
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
    /// on loopback. With no host at all, the MCP service accepts loopback only.
    pub(crate) fn allowed(&self, listening: Option<SocketAddr>) -> (Vec<String>, Vec<String>) {
        let loopback = listening.is_some_and(|address| address.ip().is_loopback());
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
        (hosts, origins)
    }

    /// [`McpAccess::allowed`] as the MCP service's settings.
    pub(crate) fn settings(&self, listening: Option<SocketAddr>) -> HttpSettings {
        let (hosts, origins) = self.allowed(listening);
        HttpSettings::default()
            .allowed_hosts(hosts)
            .allowed_origins(origins)
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
    fn defaults_are_the_public_url_and_loopback_only_on_loopback() {
        let public = access(Some("https://mcp.example.com/base"));
        assert_eq!(
            public.allowed(Some("0.0.0.0:8080".parse().unwrap())),
            (
                vec!["mcp.example.com".to_string()],
                vec!["https://mcp.example.com:443".to_string()]
            )
        );
        let (hosts, origins) = public.allowed(Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(hosts, ["mcp.example.com", "localhost", "127.0.0.1", "::1"]);
        assert_eq!(origins[0], "https://mcp.example.com:443");
        assert_eq!(&origins[1..], LOOPBACK_ORIGINS);
        assert_eq!(
            access(Some("http://10.0.0.5:9000")).allowed(None),
            (
                vec!["10.0.0.5".to_string()],
                vec!["http://10.0.0.5:9000".to_string()]
            )
        );
        assert_eq!(access(None).allowed(None), (vec![], vec![]));
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
            (vec!["api.acme.test".to_string()], vec![])
        );
    }
}
