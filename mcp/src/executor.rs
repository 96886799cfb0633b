//! Where tool calls go: an [`Executor`] runs one catalog action for one connection, and hears of
//! the calls the server answers without it ([`AnsweredCall`]).

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

    /// Told of each tool call the server answered without [`Executor::execute`], once answered:
    /// `describe`, a write refused by a read-only server, arguments the tool does not take, a
    /// tool the server does not offer. Together with `execute`, an executor sees every tool call
    /// (a hosted service audits them here). Does nothing unless overridden.
    async fn answered(&self, call: AnsweredCall) {
        let _ = call;
    }
}

/// A tool call the server answered itself, without running an action.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AnsweredCall {
    /// The tool called.
    pub tool: String,
    /// Whether it was `describe` (otherwise `execute`, a per-action tool, or a tool the server
    /// does not offer).
    pub describe: bool,
    /// The entity the call named, if any.
    pub entity: Option<String>,
    /// The action the call named, if any.
    pub action: Option<String>,
    /// The names of the action's params given (never their values).
    pub param_names: Vec<String>,
    /// Why the call was refused (with a tool error, or a protocol error for a tool the server
    /// does not offer); `None` when it succeeded.
    pub refused: Option<Refusal>,
}

/// Why the server refused a call without running an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The action changes data, and the server is read-only.
    ReadOnly,
    /// The arguments are not what the tool takes (`describe` of an unknown entity included).
    InvalidArguments,
    /// The server offers no tool of this name (answered with a JSON-RPC error, not a tool
    /// result): a write hidden by a read-only server, an action not among the selected tools, a
    /// mistyped name.
    UnknownTool,
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
