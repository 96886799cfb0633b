//! Where tool calls go: an [`Executor`] runs one catalog action for one connection.

use async_trait::async_trait;
use provider_asana::connector::{AsanaConnector, ExecuteError};
use serde_json::Value;

/// Runs catalog actions for one connection: the CLI's local [`AsanaConnector`] over the stored
/// credentials of a subject, or a hosted connector.
///
/// An executor validates the params itself (as [`AsanaConnector::execute`] does) and applies its
/// result size cap and field selection; the MCP server refuses writes before calling it when it is
/// read-only.
#[async_trait]
pub trait Executor: Send + Sync + 'static {
    /// Runs `entity.action` with `params` (a JSON object, or null for none).
    async fn execute(
        &self,
        entity: &str,
        action: &str,
        params: Value,
    ) -> Result<Value, ExecuteError>;
}

#[async_trait]
impl Executor for AsanaConnector {
    async fn execute(
        &self,
        entity: &str,
        action: &str,
        params: Value,
    ) -> Result<Value, ExecuteError> {
        AsanaConnector::execute(self, entity, action, params).await
    }
}
