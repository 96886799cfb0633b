//! `POST /api/v1/integrations/connectors/{id}/execute` (and `/api/v1/connectors/sources/{id}/execute`,
//! the path in Airbyte's docs): `{entity, action, params}` run through the library's
//! `AsanaConnector` (same catalog, validation and error classes), answered as
//! `{result, connector_metadata}`; `{entity: "*", action: "check"}` checks the connection.
//! Connectors of providers without a catalog go to [`super::proxy`].

use std::time::Instant;

use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use integrations::CredentialStatus;
use integrations::asana::connector::ActionEffect;
use integrations::asana::{AsanaConnector, AsanaError, ExecuteError, Health, JsonResult};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::connectors::visible;
use super::{ApiJson, ApiPath, AppState, Audit, Status, proxy};
use crate::error::{ApiError, ErrorBody};
use crate::providers::ConnectorType;
use crate::store::ConnectorRecord;
use crate::tokens::Bearer;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/integrations/connectors/{id}/execute",
            post(execute),
        )
        .route("/api/v1/connectors/sources/{id}/execute", post(execute))
        .route("/api/v1/connectors/instances/{id}/execute", post(execute))
}

/// An action of the connector's catalog (Asana), `{entity: "*", action: "check"}`, or, on a
/// connector of a provider without a catalog (GitHub, Google, ...), `{entity: "proxy", action:
/// "request", params: {method, path, query?, headers?, body?}}`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({ "entity": "users", "action": "get", "params": { "user_gid": "me" } }))]
pub(crate) struct ExecuteRequest {
    /// E.g. `tasks`, `proxy`, or `*` for `check`.
    entity: String,
    /// E.g. `list`, `get`, `create`, `request` (of `proxy`), or `check`.
    action: String,
    /// The action's parameters (an object; may be null or absent). For `proxy.request`:
    /// `method` (`GET`, `POST`, `PUT`, `PATCH` or `DELETE`), `path` (below the provider's API
    /// base URL, starting with `/`, without a query), optional `query` (names to strings,
    /// numbers, booleans or lists of them), optional `headers` (at most 32, names to strings; one
    /// replaces the provider's header of its name; `Authorization`, `Cookie`, `Host` and the
    /// framing headers are refused) and optional `body` (JSON); nothing else.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    params: Value,
}

/// What an action answered.
#[derive(Serialize, ToSchema)]
pub(crate) struct ExecuteResponse {
    /// The records themselves: the record for a get, the array for a list; for `proxy.request`,
    /// the provider's body (JSON, else text, or base64 for a body that is not UTF-8 or whose
    /// escapes would more than double it, then said by `body_encoding`; null when empty); for
    /// `check`,
    /// `{status:
    /// "healthy" | "unhealthy", error, checked_entity, checked_action}` (and `checked_request`
    /// for a provider without a catalog).
    #[schema(value_type = Value)]
    result: ResultJson,
    /// The rest, e.g. `{next_page}`; for `proxy.request`, `{status, headers}` of the provider's
    /// answer, whatever its status (every header but `Set-Cookie`, names in lower case, a
    /// repeated header's values joined with `, `: `link` for the next page, rate limits, ...),
    /// and `body_encoding: "base64"` when `result` is the body in base64; never null.
    connector_metadata: Map<String, Value>,
}

/// A result: one the service built, or the JSON text of one the library handed over (a record
/// as Asana wrote it), written out as it is.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum ResultJson {
    Value(Value),
    Text(Box<RawValue>),
}

/// How much room an answer's JSON text gets to start with: one record fits (axum's `Json` starts
/// at 128 bytes and grew its buffer three times for one Asana user).
const ANSWER_CAPACITY: usize = 1024;

impl IntoResponse for ExecuteResponse {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(ANSWER_CAPACITY);
        match serde_json::to_writer(&mut body, &self) {
            Ok(()) => (
                [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                body,
            )
                .into_response(),
            Err(e) => {
                ApiError::misconfigured(format!("the answer could not be written as JSON: {e}"))
                    .into_response()
            }
        }
    }
}

/// What `check` calls at Asana.
const CHECKED_ENTITY: &str = "users";
const CHECKED_ACTION: &str = "get";

/// Runs `{entity, action, params}` on a connector.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/connectors/{id}/execute",
    tag = "execute",
    params(("id" = String, Path, description = "The connector's id")),
    request_body = ExecuteRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The action's records; an unhealthy check is 200 too", body = ExecuteResponse),
        (status = 403, description = "Asana refused the action to this account, or the action changes data (for a raw proxy.request, any method but GET, or for a provider whose GETs can write, such as Slack, a GET of a path its definition does not list as a read) and the connector is read-only (nothing was sent)", body = ErrorBody),
        (status = 404, description = "No such connector of the caller's (`source: service`), or no such record at Asana (`source: provider`)", body = ErrorBody),
        (status = 409, description = "The connector needs re-authorization; the message says how", body = ErrorBody),
        (status = 502, description = "Asana or the provider failed; `outcome_unknown` when a write may have been applied (check before repeating it)", body = ErrorBody),
    )
)]
pub(crate) async fn execute(
    State(state): State<AppState>,
    bearer: Bearer,
    path: Result<ApiPath<String>, ApiError>,
    body: Request,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    // The service token and the connector in one store call; the answers keep the order of a
    // route that takes a `Principal`, a path and a body: 401 (or 429), the path's 404, the
    // body's 4xx, then an unknown connector's 404.
    // Taken before the read: a warm connector forgotten after it may have new credentials.
    let forgotten = state.connectors.forgotten();
    let (principal, read) = match path {
        Ok(ApiPath(id)) => {
            bearer
                .verify_with_connector(state.store.as_ref(), &state.limiter, &id)
                .await?
        }
        Err(unreadable) => {
            bearer.verify(state.store.as_ref(), &state.limiter).await?;
            return Err(unreadable);
        }
    };
    let in_flight = state.in_flight.enter(&principal.application_id)?;
    let ApiJson(mut request) = ApiJson::<ExecuteRequest>::from_request(body, &state).await?;
    let (record, status) = read.unzip();
    let record = visible(&principal, record)?;
    let status = Status {
        joined: status.unwrap_or_default(),
        forgotten,
    };
    let kind = state.connectors.kind_of(&record)?;
    let param_names = proxy::audit_names(&request.entity, &request.action, &request.params);
    let answer = match kind {
        ConnectorType::Asana => run(&state, &record, status, &mut request).await,
        ConnectorType::Api(definition) => proxy::run(
            &state,
            &record,
            &definition,
            status,
            &request.entity,
            &request.action,
            &request.params,
        )
        .await
        .map(|(result, connector_metadata)| ExecuteResponse {
            result: ResultJson::Text(result),
            connector_metadata,
        }),
    };
    state.metrics.execute_latency(started.elapsed());
    // The service's own rate limit answers before the handler runs: a 429 here is Asana's.
    if matches!(&answer, Err(e) if e.status() == StatusCode::TOO_MANY_REQUESTS) {
        state.metrics.upstream_rate_limited();
    }
    Audit {
        principal: &principal,
        customer_name: Some(&record.customer_name),
        connector_id: Some(&record.id),
        operation: "execute",
        entity: Some(&request.entity),
        action: Some(&request.action),
        param_names,
        started,
    }
    .record(
        state.store.as_ref(),
        answer
            .as_ref()
            .map_or_else(ApiError::status, |_| StatusCode::OK),
    )
    .await;
    answer.map(|answer| in_flight.hold(answer.into_response()))
}

/// Runs the request's action; its params are handed to the connector (taken, not copied).
async fn run(
    state: &AppState,
    record: &ConnectorRecord,
    status: Status,
    request: &mut ExecuteRequest,
) -> Result<ExecuteResponse, ApiError> {
    if request.entity == "*" && request.action == "check" {
        return check(state, record, status).await;
    }
    if record.read_only
        && AsanaConnector::effect_of(&request.entity, &request.action)
            .is_some_and(|effect| effect != ActionEffect::Read)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{}.{} changes data in Asana, and connector {} is read-only: nothing was sent; an application token can PATCH it with \"read_only\": false",
                request.entity, request.action, record.id
            ),
        ));
    }
    let output = run_action_json(
        state,
        record,
        status,
        &request.entity,
        &request.action,
        request.params.take(),
    )
    .await
    .map_err(|failure| failure.into_api(&record.id))?;
    Ok(ExecuteResponse {
        result: ResultJson::Text(output.data),
        connector_metadata: output.meta,
    })
}

/// Why an action failed: the library's error, or the service's own (its stores, a connector that
/// needs re-authorization).
pub(super) enum ActionFailure {
    /// The library refused the call or Asana failed.
    Action(ExecuteError),
    /// The service could not run the call.
    Service(ApiError),
}

impl ActionFailure {
    /// The HTTP answer of `execute` for this failure.
    pub(super) fn to_api(&self, connector_id: &str) -> ApiError {
        match self {
            ActionFailure::Action(e) => execute_error(e, connector_id),
            ActionFailure::Service(e) => e.clone(),
        }
    }

    fn into_api(self, connector_id: &str) -> ApiError {
        match self {
            ActionFailure::Action(e) => execute_error(&e, connector_id),
            ActionFailure::Service(e) => e,
        }
    }
}

impl From<ApiError> for ActionFailure {
    fn from(e: ApiError) -> Self {
        ActionFailure::Service(e)
    }
}

/// Runs `entity.action` on the connector's warm client: a connector that needs
/// re-authorization refused, refreshes through the core. Params are validated once, by the
/// connector's `execute`, before anything is sent; bad params answer that error before any of
/// the service's own refusals, as they would had they been checked first. Answers the library's
/// `{data, meta}` output; a credential store that cannot be reached is the service's failure
/// (503, retryable), for `execute` and `/mcp` alike.
pub(super) async fn run_action(
    state: &AppState,
    record: &ConnectorRecord,
    status: Status,
    entity: &str,
    action: &str,
    params: Value,
) -> Result<Value, ActionFailure> {
    let connector = runnable(state, record, status, entity, action, &params).await?;
    connector
        .execute(entity, action, params)
        .await
        .map_err(|e| action_failure(record, e))
}

/// [`run_action`], with the result's `data` as JSON text ([`AsanaConnector::execute_json`]),
/// for `execute`'s answer.
async fn run_action_json(
    state: &AppState,
    record: &ConnectorRecord,
    status: Status,
    entity: &str,
    action: &str,
    params: Value,
) -> Result<JsonResult, ActionFailure> {
    let connector = runnable(state, record, status, entity, action, &params).await?;
    connector
        .execute_json(entity, action, params)
        .await
        .map_err(|e| action_failure(record, e))
}

/// The warm connector that runs `entity.action`; when the service refuses the call, the params'
/// error comes first (see [`run_action`]).
async fn runnable(
    state: &AppState,
    record: &ConnectorRecord,
    status: Status,
    entity: &str,
    action: &str,
    params: &Value,
) -> Result<std::sync::Arc<AsanaConnector>, ActionFailure> {
    match ready(state, record, status).await {
        Ok(connector) => Ok(connector),
        Err(refused) => {
            AsanaConnector::validate(entity, action, params).map_err(ActionFailure::Action)?;
            Err(refused.into())
        }
    }
}

/// A failed action: the credential store's failure is the service's own, not Asana's.
fn action_failure(record: &ConnectorRecord, e: ExecuteError) -> ActionFailure {
    if let ExecuteError::Api(api) = &e
        && let Some(answer) = store_failure(api, record)
    {
        return answer.into();
    }
    ActionFailure::Action(e)
}

/// The service's own answer when `e` is its credential store's failure (503 when the store
/// cannot be reached, 500 when what it holds cannot be used); `None` for Asana's failures.
fn store_failure(e: &AsanaError, record: &ConnectorRecord) -> Option<ApiError> {
    match e {
        AsanaError::Auth(auth) => ApiError::from_auth_store(auth, &record.id),
        _ => None,
    }
}

/// The warm connector of a connector whose grant is active.
async fn ready(
    state: &AppState,
    record: &ConnectorRecord,
    status: Status,
) -> Result<std::sync::Arc<AsanaConnector>, ApiError> {
    if status.get(state, record).await? == CredentialStatus::NeedsReauthorization {
        return Err(ApiError::needs_reauthorization(&record.id));
    }
    state.connectors.connector(record, status.record()).await
}

async fn check(
    state: &AppState,
    record: &ConnectorRecord,
    status: Status,
) -> Result<ExecuteResponse, ApiError> {
    let (healthy, error) =
        if status.get(state, record).await? == CredentialStatus::NeedsReauthorization {
            (
                false,
                Some(
                    ApiError::needs_reauthorization(&record.id)
                        .message()
                        .to_string(),
                ),
            )
        } else {
            let connector = state.connectors.connector(record, status.record()).await?;
            let health = match connector.check_or_error().await {
                Ok(health) => health,
                // The service's own store failed: not the connector's health to report.
                Err(e) => match store_failure(&e, record) {
                    Some(answer) => return Err(answer),
                    None => Health::from(e),
                },
            };
            (health.healthy, (!health.healthy).then_some(health.message))
        };
    Ok(ExecuteResponse {
        result: ResultJson::Value(json!({
            "status": if healthy { "healthy" } else { "unhealthy" },
            "error": error,
            "checked_entity": CHECKED_ENTITY,
            "checked_action": CHECKED_ACTION,
        })),
        connector_metadata: Map::new(),
    })
}

/// The library's error classes as HTTP answers.
fn execute_error(e: &ExecuteError, connector_id: &str) -> ApiError {
    let message = e.to_string();
    match e {
        ExecuteError::UnknownEntity { .. } | ExecuteError::UnknownAction { .. } => {
            ApiError::bad_request(message)
        }
        ExecuteError::InvalidParams { .. }
        | ExecuteError::TooLarge { .. }
        | ExecuteError::ResultTooLarge { .. } => ApiError::unprocessable(message),
        ExecuteError::Api(e) => upstream_error(e, connector_id),
        _ => ApiError::new(StatusCode::BAD_GATEWAY, message),
    }
}

fn upstream_error(e: &AsanaError, connector_id: &str) -> ApiError {
    if e.needs_reauthorization() {
        return ApiError::needs_reauthorization(connector_id);
    }
    let answer = asana_answer(e);
    if matches!(e, AsanaError::OutcomeUnknown { .. }) {
        answer.outcome_unknown()
    } else {
        answer
    }
    .by_provider()
}

/// The status and retryability of Asana's refusal, passed on.
fn asana_answer(e: &AsanaError) -> ApiError {
    let message = e.to_string();
    match e {
        AsanaError::RateLimited { .. } => ApiError::rate_limited(message, e.retry_after()),
        AsanaError::Timeout { .. } | AsanaError::DeadlineExceeded { .. } => {
            ApiError::new(StatusCode::GATEWAY_TIMEOUT, message).retryable()
        }
        AsanaError::BadRequest(_)
        | AsanaError::OffsetExpired(_)
        | AsanaError::InvalidArgument { .. }
        | AsanaError::MissingWorkspace { .. }
        | AsanaError::PremiumRequired(_) => ApiError::unprocessable(message),
        AsanaError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, message),
        AsanaError::Forbidden { .. } => ApiError::new(StatusCode::FORBIDDEN, message),
        _ if e.is_retryable() => ApiError::new(StatusCode::BAD_GATEWAY, message).retryable(),
        _ => ApiError::new(StatusCode::BAD_GATEWAY, message),
    }
}
