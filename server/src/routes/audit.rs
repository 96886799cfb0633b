//! `GET /api/v1/audit?limit=N`: the caller's audit entries, newest first (a scoped token sees its
//! customer's only).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiQuery, AppState, rfc3339};
use crate::error::ApiError;
use crate::tokens::Principal;

/// Entries answered without a `limit`.
const DEFAULT_LIMIT: usize = 100;
/// The most entries one request answers.
const MAX_LIMIT: usize = 1000;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/audit", get(list))
}

#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<usize>,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::unprocessable(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let entries = state
        .store
        .list_audit(
            &principal.application_id,
            principal.customer.as_deref(),
            limit,
        )
        .await?;
    let data: Vec<Value> = entries
        .into_iter()
        .map(|entry| {
            json!({
                "id": entry.id,
                "at": rfc3339(entry.at),
                "customer_name": entry.customer_name,
                "connector_id": entry.connector_id,
                "operation": entry.operation,
                "entity": entry.entity,
                "action": entry.action,
                "param_names": entry.param_names,
                "outcome": entry.outcome,
                "status": entry.status,
                "duration_ms": entry.duration_ms,
            })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}
