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
    /// `describe`, a write refused by a read-only server, arguments the tool does not take.
    /// Together with `execute`, an executor sees every tool call (a hosted service audits them
    /// here). Does nothing unless overridden.
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
    /// Whether it was `describe` (otherwise `execute` or a per-action tool).
    pub describe: bool,
    /// The entity the call named, if any.
    pub entity: Option<String>,
    /// The action the call named, if any.
    pub action: Option<String>,
    /// The names of the action's params given (never their values).
    pub param_names: Vec<String>,
    /// Why the call was answered with a tool error; `None` when it succeeded.
    pub refused: Option<Refusal>,
}

/// Why the server answered a call with a tool error without running an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The action changes data, and the server is read-only.
    ReadOnly,
    /// The arguments are not what the tool takes (`describe` of an unknown entity included).
    InvalidArguments,
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
