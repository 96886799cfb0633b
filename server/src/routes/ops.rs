//! `GET /healthz` (the process answers) and `GET /readyz` (its store answers too).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::AppState;
use crate::error::ApiError;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "not ready: the service store does not answer");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service store does not answer",
        )
        .retryable()
    })?;
    Ok(Json(json!({ "status": "ready" })))
}
