//! `POST /api/v1/integrations/connectors/{id}/execute` (and `/api/v1/connectors/sources/{id}/execute`,
//! the path in Airbyte's docs): `{entity, action, params}` run through the library's
//! `AsanaConnector` (same catalog, validation and error classes), answered as
//! `{result, connector_metadata}`; `{entity: "*", action: "check"}` checks the connection.

use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use integrations::CredentialStatus;
use integrations::asana::{AsanaConnector, AsanaError, ExecuteError};
use integrations::{AuthError, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::connectors::owned;
use super::{ApiJson, ApiPath, AppState, Audit};
use crate::error::ApiError;
use crate::store::ConnectorRecord;
use crate::tokens::Principal;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/integrations/connectors/{id}/execute",
            post(execute),
        )
        .route("/api/v1/connectors/sources/{id}/execute", post(execute))
}

#[derive(Deserialize)]
struct ExecuteRequest {
    entity: String,
    action: String,
    #[serde(default)]
    params: Value,
}

/// What `check` calls at Asana.
const CHECKED_ENTITY: &str = "users";
const CHECKED_ACTION: &str = "get";

async fn execute(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<ExecuteRequest>,
) -> Result<Json<Value>, ApiError> {
    let started = Instant::now();
    let record = owned(&state, &principal, &id).await?;
    let param_names = match &request.params {
        Value::Object(params) => params.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let answer = run(&state, &record, &request).await;
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
    answer.map(Json)
}

async fn run(
    state: &AppState,
    record: &ConnectorRecord,
    request: &ExecuteRequest,
) -> Result<Value, ApiError> {
    if request.entity == "*" && request.action == "check" {
        return check(state, record).await;
    }
    AsanaConnector::validate(&request.entity, &request.action, &request.params)
        .map_err(|e| execute_error(e, &record.id))?;
    if state.connectors.status(&record.id).await? == CredentialStatus::NeedsReauthorization {
        return Err(ApiError::needs_reauthorization(&record.id));
    }
    let connector = state.connectors.connector(record).await?;
    let mut output = connector
        .execute(&request.entity, &request.action, request.params.clone())
        .await
        .map_err(|e| execute_error(e, &record.id))?;
    let result = output
        .get_mut("data")
        .map(Value::take)
        .unwrap_or(Value::Null);
    let metadata = match output.get_mut("meta").map(Value::take) {
        Some(Value::Object(meta)) => Value::Object(meta),
        _ => json!({}),
    };
    Ok(json!({ "result": result, "connector_metadata": metadata }))
}

async fn check(state: &AppState, record: &ConnectorRecord) -> Result<Value, ApiError> {
    let (healthy, error) =
        if state.connectors.status(&record.id).await? == CredentialStatus::NeedsReauthorization {
            (
                false,
                Some(
                    ApiError::needs_reauthorization(&record.id)
                        .message()
                        .to_string(),
                ),
            )
        } else {
            let health = state.connectors.connector(record).await?.check().await;
            (health.healthy, (!health.healthy).then_some(health.message))
        };
    Ok(json!({
        "result": {
            "status": if healthy { "healthy" } else { "unhealthy" },
            "error": error,
            "checked_entity": CHECKED_ENTITY,
            "checked_action": CHECKED_ACTION,
        },
        "connector_metadata": {},
    }))
}

/// The library's error classes as HTTP answers.
fn execute_error(e: ExecuteError, connector_id: &str) -> ApiError {
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

fn upstream_error(e: AsanaError, connector_id: &str) -> ApiError {
    if e.needs_reauthorization() {
        return ApiError::needs_reauthorization(connector_id);
    }
    let message = e.to_string();
    match &e {
        AsanaError::Auth(
            AuthError::Store(StoreError::Io { .. }) | AuthError::RefreshNotSaved { .. },
        ) => {
            tracing::warn!(connector = connector_id, error = %e, "credential store unavailable");
            ApiError::unavailable("the credential store is unavailable; retry later")
        }
        AsanaError::RateLimited { .. } => ApiError::rate_limited(message, e.retry_after()),
        AsanaError::Timeout { .. } | AsanaError::DeadlineExceeded { .. } => {
            ApiError::new(StatusCode::GATEWAY_TIMEOUT, message).retryable()
        }
        AsanaError::BadRequest(_)
        | AsanaError::InvalidArgument { .. }
        | AsanaError::MissingWorkspace { .. }
        | AsanaError::PremiumRequired(_) => ApiError::unprocessable(message),
        AsanaError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, message),
        AsanaError::Forbidden { .. } => ApiError::new(StatusCode::FORBIDDEN, message),
        _ if e.is_retryable() => ApiError::new(StatusCode::BAD_GATEWAY, message).retryable(),
        _ => ApiError::new(StatusCode::BAD_GATEWAY, message),
    }
}
