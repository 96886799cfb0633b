//! `GET /api/v1/audit?limit=N`: the caller's audit entries, newest first (a scoped token sees its
//! customer's only).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiQuery, AppState, rfc3339};
use crate::error::{ApiError, ErrorBody};
use crate::tokens::Principal;

/// Entries answered without a `limit`.
const DEFAULT_LIMIT: usize = 100;
/// The most entries one request answers.
const MAX_LIMIT: usize = 1000;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/audit", get(list))
}

/// How many entries to answer.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// One audited operation: never a parameter's value.
#[derive(Serialize, ToSchema)]
pub(crate) struct AuditEntryView {
    id: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    at: String,
    customer_name: Option<String>,
    connector_id: Option<String>,
    /// E.g. `execute`, `connector.create`.
    operation: String,
    entity: Option<String>,
    action: Option<String>,
    /// The names of the parameters sent (or of the fields changed).
    param_names: Vec<String>,
    /// `ok` or `error`.
    outcome: String,
    /// The HTTP status answered.
    status: u16,
    duration_ms: u64,
}

/// Audit entries, newest first.
#[derive(Serialize, ToSchema)]
pub(crate) struct AuditList {
    data: Vec<AuditEntryView>,
}

/// The caller's audit entries, newest first (a scoped token: its customer's).
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "list_audit",
    tag = "audit",
    params(AuditQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Audit entries", body = AuditList),
        (status = 400, description = "The query cannot be read", body = ErrorBody),
        (status = 422, description = "limit is out of range", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
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
    let data = entries
        .into_iter()
        .map(|entry| AuditEntryView {
            id: entry.id,
            at: rfc3339(entry.at),
            customer_name: entry.customer_name,
            connector_id: entry.connector_id,
            operation: entry.operation,
            entity: entry.entity,
            action: entry.action,
            param_names: entry.param_names,
            outcome: entry.outcome,
            status: entry.status,
            duration_ms: entry.duration_ms,
        })
        .collect();
    Ok(Json(AuditList { data }))
}
