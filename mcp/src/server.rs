//! The MCP server: [`McpServer`] answers `tools/list` and `tools/call` from its [`ToolSet`] and
//! [`Executor`], over stdio ([`McpServer::serve_stdio`]) or streamable HTTP ([`http_service`],
//! whose [`HttpHandler`] finds the request's server in its extensions).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, DiscoverResult,
    ErrorData, Implementation, InitializeRequestParams, InitializeResult, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;

use crate::executor::{AnsweredCall, Executor, Refusal};
use crate::tools::{Call, DESCRIBE, Resolved, SetupError, ToolError, ToolSet};

/// The name the server gives itself in `serverInfo`.
pub const SERVER_NAME: &str = "integrations";

/// An MCP server over one connection's catalog. Cheap to clone: clones share the executor and
/// the tools.
#[derive(Clone)]
pub struct McpServer {
    executor: Arc<dyn Executor>,
    tools: Arc<ToolSet>,
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("tools", &self.tools)
            .finish_non_exhaustive()
    }
}

/// Builds an [`McpServer`]: read-only or not, `describe` and `execute` or one tool per action.
#[derive(Debug, Clone, Default)]
pub struct McpServerBuilder {
    read_only: bool,
    tools: Vec<String>,
}

impl McpServerBuilder {
    /// Hides every action that changes data and refuses calls to them (nothing is sent).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// One tool per action whose `entity.action` name matches one of `patterns` (`*` stands for
    /// any run of characters: `tasks.*`, `*.list`), named `{entity}_{action}`, instead of
    /// `describe` and `execute`. No patterns keep `describe` and `execute`.
    pub fn tools<S: Into<String>>(mut self, patterns: impl IntoIterator<Item = S>) -> Self {
        self.tools = patterns.into_iter().map(Into::into).collect();
        self
    }

    /// The server, with calls going to `executor`. Fails when a tools pattern selects nothing, or
    /// only writes of a read-only server. Cheap without patterns: servers then share their tools,
    /// computed once, so that a hosted service can build one per request.
    pub fn build(self, executor: Arc<dyn Executor>) -> Result<McpServer, SetupError> {
        let tools = if self.tools.is_empty() {
            describe_and_execute(self.read_only)
        } else {
            Arc::new(ToolSet::new(self.read_only, &self.tools)?)
        };
        Ok(McpServer { executor, tools })
    }
}

/// `describe` and `execute`, read-only or not, computed once.
fn describe_and_execute(read_only: bool) -> Arc<ToolSet> {
    static SETS: OnceLock<[Arc<ToolSet>; 2]> = OnceLock::new();
    let [writable, read_only_set] = SETS.get_or_init(|| {
        [false, true].map(|read_only| Arc::new(ToolSet::describe_and_execute(read_only)))
    });
    if read_only {
        read_only_set.clone()
    } else {
        writable.clone()
    }
}

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The client did not complete the MCP handshake (it closed the stream, or sent something
    /// else first).
    #[error("the MCP client did not complete the handshake: {0}")]
    Handshake(String),
    /// The server's task failed.
    #[error("the MCP server stopped unexpectedly: {0}")]
    Stopped(String),
}

impl McpServer {
    /// A builder: not read-only, with `describe` and `execute`.
    pub fn builder() -> McpServerBuilder {
        McpServerBuilder::default()
    }

    /// Serves one client on standard input and output until it disconnects. Nothing else may
    /// write to standard output meanwhile (log to standard error).
    pub async fn serve_stdio(self) -> Result<(), ServeError> {
        let running = self
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| ServeError::Handshake(e.to_string()))?;
        running
            .waiting()
            .await
            .map_err(|e| ServeError::Stopped(e.to_string()))?;
        Ok(())
    }

    /// Runs one call of `tool`: `describe`, or an action through the executor unless refused.
    /// The executor hears of every call it does not run.
    async fn run(&self, tool: &str, call: Result<Call, ToolError>) -> Result<Value, ToolError> {
        let (heard, outcome) = match call {
            Err(error) => (answered(tool, None, None, Vec::new()), Err(error)),
            Ok(Call::Describe(entity)) => {
                let outcome = self.tools.describe(entity.as_deref());
                (answered(tool, entity, None, Vec::new()), outcome)
            }
            Ok(Call::Execute {
                entity,
                action,
                params,
            }) => match self.tools.refuse(&entity, &action) {
                Ok(()) => return Ok(self.executor.execute(&entity, &action, params).await?),
                Err(error) => {
                    let names = match &params {
                        Value::Object(params) => params.keys().cloned().collect(),
                        _ => Vec::new(),
                    };
                    (
                        answered(tool, Some(entity), Some(action), names),
                        Err(error),
                    )
                }
            },
        };
        self.executor
            .answered(AnsweredCall {
                refused: outcome.as_ref().err().map(ToolError::refusal),
                ..heard
            })
            .await;
        outcome
    }
}

/// A call answered without the executor, its outcome still to be filled in.
fn answered(
    tool: &str,
    entity: Option<String>,
    action: Option<String>,
    param_names: Vec<String>,
) -> AnsweredCall {
    AnsweredCall {
        tool: tool.to_string(),
        describe: tool == DESCRIBE,
        entity,
        action,
        param_names,
        refused: None,
    }
}

/// A tool error: the message as text, `{"error": {...}}` as structured content.
fn failure(error: &ToolError) -> CallToolResult {
    let mut result = CallToolResult::structured_error(error.to_json());
    result.content = vec![ContentBlock::text(error.to_string())];
    result
}

/// The server's name and version, and its one capability: tools.
fn server_info() -> ServerConfig {
    ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_server_info(
        Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION"))
            .with_title("integrations (Asana)"),
    )
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        server_info().with_instructions(self.tools.instructions())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.tools().to_vec()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let call = match self.tools.resolve(&request.name, request.arguments) {
            Resolved::Call(call) => call,
            Resolved::UnknownTool => {
                self.executor
                    .answered(AnsweredCall {
                        describe: false,
                        refused: Some(Refusal::UnknownTool),
                        ..answered(&request.name, None, None, Vec::new())
                    })
                    .await;
                return Err(ErrorData::invalid_params(
                    format!("unknown tool `{}`; see tools/list", request.name),
                    None,
                ));
            }
        };
        let outcome = self.run(&request.name, call).await;
        Ok(match outcome {
            Ok(value) => CallToolResult::structured(value),
            Err(error) => {
                tracing::info!(tool = %request.name, error = %error, "tool call failed");
                failure(&error)
            }
        }
        .into())
    }
}

/// Where a streamable-HTTP MCP endpoint may be reached from.
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    /// The `Host` values accepted; empty keeps rmcp's loopback-only default.
    allowed_hosts: Vec<String>,
    /// The browser `Origin`s accepted.
    allowed_origins: Vec<String>,
}

impl HttpSettings {
    /// Accepts these `Host` values (`host` or `host:port`) instead of rmcp's loopback-only
    /// default, which a public deployment must replace with its own host names.
    pub fn allowed_hosts<S: Into<String>>(mut self, hosts: impl IntoIterator<Item = S>) -> Self {
        self.allowed_hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// Accepts these browser origins (scheme, host and port, e.g. `https://app.example.com:443`);
    /// a request with another `Origin` is refused, one without (not from a browser) passes. With
    /// none, every request with an `Origin` is refused.
    pub fn allowed_origins<S: Into<String>>(
        mut self,
        origins: impl IntoIterator<Item = S>,
    ) -> Self {
        self.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }
}

/// The handler of [`http_service`]: each request is answered by the [`McpServer`] found in the
/// HTTP request's extensions, which the mounting application puts there once it knows who is
/// calling (axum's `Extension` layer for one fixed server, or a middleware that picks the
/// caller's connection).
#[derive(Debug, Clone)]
pub struct HttpHandler {
    _private: (),
}

impl HttpHandler {
    /// The server of the request in `context`.
    fn server(context: &RequestContext<RoleServer>) -> Result<McpServer, ErrorData> {
        context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<McpServer>())
            .cloned()
            .ok_or_else(|| {
                ErrorData::internal_error(
                    "no MCP server for this request: the route must put an McpServer in the request's extensions",
                    None,
                )
            })
    }
}

impl ServerHandler for HttpHandler {
    /// What holds for every request's server; `initialize` and `discover` answer with the
    /// instructions of the request's own server.
    fn get_info(&self) -> ServerConfig {
        server_info().with_instructions(
            "Asana through your connection: tools/list gives the tools this connection offers.",
        )
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        Self::server(&context)?.initialize(request, context).await
    }

    async fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, ErrorData> {
        Self::server(&context)?.discover(context).await
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Self::server(&context)?.list_tools(request, context).await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Self::server(&context)?.call_tool(request, context).await
    }
}

/// A stateless streamable-HTTP MCP endpoint, a tower service to mount with axum's
/// `Router::nest_service("/mcp", ...)`: JSON answers, no sessions, `Host` and `Origin` checked
/// against `settings`. Each request is answered by the [`McpServer`] in its extensions (see
/// [`HttpHandler`]); authenticating the caller and choosing it is the mounting application's job.
///
/// ```
/// use std::sync::Arc;
///
/// use auth_core::SecretString;
/// use axum::Extension;
/// use integrations_mcp::{HttpSettings, McpServer, http_service};
/// use provider_asana::connector::AsanaConnector;
///
/// let connector = AsanaConnector::with_token(SecretString::from("a personal access token"))?;
/// let server = McpServer::builder().read_only(true).build(Arc::new(connector))?;
/// let settings = HttpSettings::default()
///     .allowed_hosts(["mcp.example.com"])
///     .allowed_origins(["https://app.example.com:443"]);
/// let app: axum::Router = axum::Router::new()
///     .nest_service("/mcp", http_service(settings))
///     .layer(Extension(server));
/// # drop(app);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn http_service(
    settings: HttpSettings,
) -> StreamableHttpService<HttpHandler, LocalSessionManager> {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .enforce_origin_validation()
        .with_allowed_origins(settings.allowed_origins);
    if !settings.allowed_hosts.is_empty() {
        config = config.with_allowed_hosts(settings.allowed_hosts);
    }
    StreamableHttpService::new(
        || Ok(HttpHandler { _private: () }),
        Default::default(),
        config,
    )
}
