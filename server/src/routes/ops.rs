//! `GET /healthz` (the process answers), `GET /readyz` (its store answers too, and its keys open
//! the stored credentials) and `GET /metrics` (Prometheus text).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::metrics;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The service's state.
#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok` (the process answers) or `ready` (its store answers too, and its keys open the stored
    /// credentials).
    status: &'static str,
}

/// Prometheus text: requests by route template and status, execute latency, token refreshes,
/// Asana's 429s.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain")),
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
}

/// Whether the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "It does", body = Health)),
)]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Whether the process and its store answer, and the configured encryption keys open the
/// credentials stored.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "All do", body = Health),
        (status = 503, description = "The store does not answer (`retryable: true`), or the encryption key does not open the stored credentials (`retryable: false`: an operator must configure the key they were stored with)", body = ErrorBody),
    ),
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "not ready: the service store does not answer");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service store does not answer",
        )
        .retryable()
    })?;
    state.keys.check().await?;
    Ok(Json(Health { status: "ready" }))
}
