//! The agent interface: `execute(entity, action, params)` over a catalog with JSON Schemas, as
//! Airbyte's Asana agent connector offers, with the same entity and action names.
//!
//! [`AsanaConnector::catalog`] lists every entity and action with a JSON Schema of its params,
//! ready to hand to an LLM as tool definitions ([`AsanaConnector::tool_definitions`]). Params are
//! validated against the schema before any request; the error lists what is allowed. Every error
//! says whether retrying can help ([`ExecuteError::is_retryable`]) or whether the user must
//! connect again ([`ExecuteError::needs_reauthorization`]).
//!
//! ```
//! use provider_asana::connector::AsanaConnector;
//!
//! let catalog = AsanaConnector::catalog();
//! let tasks = catalog.iter().find(|e| e.entity == "tasks").unwrap();
//! let create = tasks.actions.iter().find(|a| a.action == "create").unwrap();
//! assert_eq!(create.params_schema["properties"]["name"]["type"], "string");
//! ```

mod catalog;
mod hosted;
mod output;
mod records;

pub use hosted::{ASANA_DEFINITION_ID, DEFAULT_HOSTED_TIMEOUT, HostedConfig, HostedTarget};

use std::fmt;

use std::sync::Arc;

use auth_core::redact::json_kind;
use auth_core::{
    AuthError, Credentials, ErrorClass, OAuth2Token, RefreshingTokenSource, SecretString, Session,
    TokenEndpoint,
};
use base64::Engine;
use reqwest::Method;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::auth::{AsanaAppCredentials, AsanaAuthProvider, AsanaSessionExt, PROVIDER_ID};
use crate::client::{AsanaClient, AsanaClientSettings, method_of};
use crate::error::{AsanaError, ServiceError};
use catalog::{In, Kind, Operation, Rule, Ty};
use hosted::HostedClient;

/// The subject of a standalone connector's credentials.
const CONNECTOR_SUBJECT: &str = "connector";

/// The largest attachment `attachments.download` returns.
pub const MAX_DOWNLOAD_BYTES: usize = 10 * 1024 * 1024;

/// The largest result, in characters of its JSON, that `execute` returns unless configured
/// otherwise ([`AsanaConnector::with_max_result_chars`]).
pub const DEFAULT_MAX_RESULT_CHARS: usize = 100_000;

/// One action of an entity in the catalog.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ActionInfo {
    /// Action name: `list`, `get`, `create`, `update`, `delete`, `download`.
    pub action: &'static str,
    /// What it does.
    pub description: &'static str,
    /// JSON Schema (draft 2020-12 subset) of the params object.
    pub params_schema: Value,
    /// The Asana operations it calls, as `METHOD /path/{param}` in the spec's terms (a few
    /// actions pick one by their params).
    pub endpoints: Vec<String>,
    /// What it does to the data in Asana: for tool annotations and read-only modes.
    pub effect: ActionEffect,
    /// Whether calling it again with the same params changes nothing more (reads, updates,
    /// deletes and removals).
    pub idempotent: bool,
}

/// What an action does to the data in Asana.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ActionEffect {
    /// Reads only (lists, gets, searches, downloads).
    Read,
    /// Creates or changes data.
    Write,
    /// Removes data: a delete, or taking a tag, follower, member ... off an object. `batch.submit`
    /// counts here too, since its calls may delete.
    Delete,
}

impl ActionEffect {
    /// The effect of an operation, and whether it is idempotent.
    fn of(op: &Operation) -> (Self, bool) {
        match op.kind {
            Kind::List | Kind::Unpaged | Kind::Get | Kind::Download => (ActionEffect::Read, true),
            Kind::Delete => (ActionEffect::Delete, true),
            Kind::Update => (ActionEffect::Write, true),
            Kind::Create | Kind::Link => (ActionEffect::Write, false),
            Kind::Post => match op.action {
                "delete" => (ActionEffect::Delete, true),
                "update" => (ActionEffect::Write, true),
                _ if op.entity == "batch" => (ActionEffect::Delete, false),
                _ => (ActionEffect::Write, false),
            },
        }
    }
}

/// One entity in the catalog.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct EntityInfo {
    /// Entity name, e.g. `tasks`, `project_sections`.
    pub entity: &'static str,
    /// Its actions.
    pub actions: Vec<ActionInfo>,
}

/// Why `execute` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecuteError {
    /// No such entity.
    #[error("unknown entity `{entity}`; available entities: {available}")]
    UnknownEntity {
        /// What was asked for.
        entity: String,
        /// Every entity, comma-separated.
        available: String,
    },
    /// The entity has no such action.
    #[error("entity `{entity}` has no action `{action}`; available actions: {available}")]
    UnknownAction {
        /// The entity.
        entity: String,
        /// What was asked for.
        action: String,
        /// The entity's actions, comma-separated.
        available: String,
    },
    /// The params do not match the action's schema. Nothing was sent.
    #[error("invalid params for {entity}.{action}: {}; allowed params: {allowed}", problems.join("; "))]
    InvalidParams {
        /// The entity.
        entity: String,
        /// The action.
        action: String,
        /// Each problem found.
        problems: Vec<String>,
        /// The allowed params with their types, `required` marked.
        allowed: String,
    },
    /// The attachment is larger than [`MAX_DOWNLOAD_BYTES`] (or the client's smaller
    /// `max_download_bytes`), by its metadata or while it was read.
    #[error("attachment {gid} is larger than {max} bytes; fetch its download_url directly")]
    TooLarge {
        /// Attachment gid.
        gid: String,
        /// The limit.
        max: usize,
    },
    /// The result is longer than the connector's cap: nothing is returned, so that an agent never
    /// reads a truncated JSON. The message says how to narrow the call.
    #[error(
        "the result of {entity}.{action} is {chars} characters, over the limit of {max}; {advice}"
    )]
    ResultTooLarge {
        /// The entity.
        entity: String,
        /// The action.
        action: String,
        /// The result's length, in characters of JSON.
        chars: usize,
        /// The cap.
        max: usize,
        /// How to ask for less.
        advice: &'static str,
    },
    /// Asana or the auth layer failed.
    #[error(transparent)]
    Api(#[from] AsanaError),
}

impl ExecuteError {
    /// What the caller can do about this error, as [`AsanaError::class`] and
    /// [`AuthError::class`] say it: one `match` over
    /// [`ErrorClass`] serves all three. An error of the call itself (an unknown entity or action,
    /// bad params, a result too large) is [`ErrorClass::Permanent`].
    pub fn class(&self) -> ErrorClass {
        match self {
            ExecuteError::Api(e) => e.class(),
            _ => ErrorClass::Permanent,
        }
    }

    /// Whether retrying the same call later can succeed (429, 5xx, network): never for
    /// validation errors.
    pub fn is_retryable(&self) -> bool {
        self.class() == ErrorClass::Transient
    }

    /// Whether the user must connect their Asana account again (ask them; do not retry).
    pub fn needs_reauthorization(&self) -> bool {
        self.class() == ErrorClass::NeedsReauthorization
    }

    /// Whether an action that is not idempotent (a create, an add, a duplicate ...) failed after
    /// it may have reached Asana, which may have applied it ([`AsanaError::OutcomeUnknown`]):
    /// such a failure is not retryable, since repeating the call could apply it twice; check
    /// whether it took effect first.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, ExecuteError::Api(AsanaError::OutcomeUnknown { .. }))
    }

    /// A machine-readable form for an agent: `{"error": {kind, message, retryable,
    /// needs_reauthorization}}`, with the HTTP `status` when Asana answered, and
    /// `outcome_unknown: true` when the call may have been applied (see
    /// [`ExecuteError::outcome_unknown`]).
    pub fn to_json(&self) -> Value {
        let kind = match self {
            ExecuteError::UnknownEntity { .. } => "unknown_entity",
            ExecuteError::UnknownAction { .. } => "unknown_action",
            ExecuteError::InvalidParams { .. } => "invalid_params",
            ExecuteError::TooLarge { .. } => "too_large",
            ExecuteError::ResultTooLarge { .. } => "result_too_large",
            ExecuteError::Api(_) => "api",
        };
        let mut error = json!({
            "kind": kind,
            "message": self.to_string(),
            "retryable": self.is_retryable(),
            "needs_reauthorization": self.needs_reauthorization(),
        });
        if let ExecuteError::Api(e) = self
            && let Some(status) = e.status()
        {
            error["status"] = json!(status);
        }
        if self.outcome_unknown() {
            error["outcome_unknown"] = json!(true);
        }
        json!({ "error": error })
    }
}

/// Why [`AsanaConnector::check`] found the connection unhealthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnhealthyReason {
    /// The grant expired or was revoked (or the workspace disabled the app): the user must
    /// connect again.
    Reauthorize,
    /// The token lacks a scope the check needs (`users:read`): reconnect with it.
    MissingScope,
    /// Asana or the network failed (timeout, connection, 429, 5xx): retry later.
    Unavailable,
    /// Anything else; the message says what.
    Failed,
}

/// The outcome of [`AsanaConnector::check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Health {
    /// Whether Asana answered with the user.
    pub healthy: bool,
    /// Why not, when not healthy.
    pub reason: Option<UnhealthyReason>,
    /// Who the connector acts as, or what failed and what to do next.
    pub message: String,
}

/// Standalone OAuth credentials, as Airbyte's `AsanaOauth2AuthConfig`: a refresh token and the app's
/// client id and secret; the connector refreshes by itself.
#[derive(Clone)]
#[non_exhaustive]
pub struct AsanaOAuthConfig {
    /// A current access token, if you have one (otherwise the first call refreshes).
    pub access_token: Option<SecretString>,
    /// The refresh token.
    pub refresh_token: SecretString,
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: SecretString,
    /// Endpoints and defaults (`api_base_url`, `token_url` ...): Asana's unless changed.
    pub app: AsanaAppCredentials,
    on_refresh: Option<auth_core::RefreshCallback>,
}

impl fmt::Debug for AsanaOAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsanaOAuthConfig")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

impl AsanaOAuthConfig {
    /// Config with Asana's endpoints.
    pub fn new(
        refresh_token: SecretString,
        client_id: impl Into<String>,
        client_secret: SecretString,
    ) -> Self {
        Self {
            access_token: None,
            refresh_token,
            client_id: client_id.into(),
            client_secret,
            app: AsanaAppCredentials::default(),
            on_refresh: None,
        }
    }

    /// Starts with this access token.
    pub fn with_access_token(mut self, token: SecretString) -> Self {
        self.access_token = Some(token);
        self
    }

    /// Uses these endpoints (for tests, or a proxy): https, or plain http only on a loopback host
    /// ([`AsanaConnector::with_oauth`] refuses others).
    pub fn with_app(mut self, app: AsanaAppCredentials) -> Self {
        self.app = app;
        self
    }

    /// Called with the new credentials after each refresh, to persist them.
    pub fn on_refresh(mut self, callback: impl Fn(&Credentials) + Send + Sync + 'static) -> Self {
        self.on_refresh = Some(Arc::new(move |_: &str, _: &str, c: &Credentials| {
            callback(c)
        }));
        self
    }
}

/// Executes catalog actions against Asana, directly or through a hosted service
/// ([`AsanaConnector::hosted`]): the same catalog, validation, results and error classes either way.
#[derive(Debug, Clone)]
pub struct AsanaConnector {
    backend: Backend,
    max_result_chars: usize,
}

/// Where the calls go.
#[derive(Debug, Clone)]
enum Backend {
    /// To Asana, with this client.
    Local(AsanaClient),
    /// To a hosted service that holds the credentials.
    Hosted(HostedClient),
}

impl AsanaConnector {
    /// A connector over an existing client.
    pub fn new(client: AsanaClient) -> Self {
        Self {
            backend: Backend::Local(client),
            max_result_chars: DEFAULT_MAX_RESULT_CHARS,
        }
    }

    /// A connector that executes through a hosted service (`integrations serve`, or any API of
    /// the same shape) on a connector the application created there for its customer, as
    /// Airbyte's hosted mode does: the customer's Asana credentials stay in the service.
    ///
    /// Params are validated here first, with the same catalog (nothing is sent when they are
    /// invalid); the service token is cached and renewed before it expires (a 401 renews it once
    /// and repeats the call once); a customer's connector is looked up once. The service's errors
    /// keep their classes ([`ExecuteError::is_retryable`], [`ExecuteError::needs_reauthorization`]
    /// for its 409, [`ExecuteError::InvalidParams`] for its 400 and 422), carried as
    /// [`AsanaError::Service`]. Nothing is sent until the first call.
    ///
    /// Fails if the URL is not https (plain http only on a loopback host), has a query, fragment
    /// or credentials, or if the customer or connector id is empty.
    pub fn hosted(config: HostedConfig) -> Result<Self, AsanaError> {
        Ok(Self {
            backend: Backend::Hosted(HostedClient::new(config)?),
            max_result_chars: DEFAULT_MAX_RESULT_CHARS,
        })
    }

    /// Caps the results of `execute` at `max` characters of JSON (default
    /// [`DEFAULT_MAX_RESULT_CHARS`]); a longer result is [`ExecuteError::ResultTooLarge`].
    /// `attachments.download` has its own limit ([`MAX_DOWNLOAD_BYTES`]) and is not capped here.
    pub fn with_max_result_chars(mut self, max: usize) -> Self {
        self.max_result_chars = max;
        self
    }

    /// A connector for a session's subject.
    pub fn from_session(session: &Session) -> Result<Self, AsanaError> {
        Ok(Self::new(session.asana()?))
    }

    /// A connector with a personal access token, against Asana.
    pub fn with_token(token: SecretString) -> Result<Self, AsanaError> {
        Self::with_token_and_settings(token, AsanaClientSettings::default())
    }

    /// A connector with a personal access token and explicit client settings.
    pub fn with_token_and_settings(
        token: SecretString,
        settings: AsanaClientSettings,
    ) -> Result<Self, AsanaError> {
        let source = auth_core::StaticTokenSource::new(PROVIDER_ID, CONNECTOR_SUBJECT, token);
        Ok(Self::new(AsanaClient::new(Arc::new(source), settings)?))
    }

    /// A connector with OAuth credentials that refreshes by itself (in memory; persist refreshed
    /// credentials with [`AsanaOAuthConfig::on_refresh`]).
    pub async fn with_oauth(config: AsanaOAuthConfig) -> Result<Self, AsanaError> {
        let mut app = config.app.clone();
        app.client_id = Some(config.client_id.clone());
        app.client_secret = Some(config.client_secret.clone());
        let provider = Arc::new(AsanaAuthProvider::new(app).map_err(AuthError::from)?);
        let settings = provider
            .client_settings(None)
            .with_limiter(provider.limiter_for(CONNECTOR_SUBJECT));
        let endpoint = Arc::new(TokenEndpoint::new(provider)?);
        let mut token = OAuth2Token::bearer(
            config
                .access_token
                .clone()
                .unwrap_or_else(|| SecretString::from("")),
        );
        token.refresh_token = Some(config.refresh_token.clone());
        if config.access_token.is_none() {
            token.expires_at = Some(std::time::UNIX_EPOCH);
        }
        let source = RefreshingTokenSource::in_memory(
            endpoint,
            CONNECTOR_SUBJECT,
            Credentials::new(token),
            config.on_refresh.clone(),
        );
        Ok(Self::new(AsanaClient::new(Arc::new(source), settings)?))
    }

    /// The underlying Asana client, or `None` for a hosted connector.
    pub fn client(&self) -> Option<&AsanaClient> {
        match &self.backend {
            Backend::Local(client) => Some(client),
            Backend::Hosted(_) => None,
        }
    }

    /// What `entity.action` does to the data in Asana, or `None` when the catalog has no such
    /// action: what a read-only caller checks before it sends one.
    ///
    /// ```
    /// use provider_asana::connector::{ActionEffect, AsanaConnector};
    ///
    /// assert_eq!(AsanaConnector::effect_of("tasks", "list"), Some(ActionEffect::Read));
    /// assert_eq!(AsanaConnector::effect_of("tasks", "delete"), Some(ActionEffect::Delete));
    /// assert_eq!(AsanaConnector::effect_of("tasks", "fly"), None);
    /// ```
    pub fn effect_of(entity: &str, action: &str) -> Option<ActionEffect> {
        catalog::find(entity, action).map(|op| ActionEffect::of(op).0)
    }

    /// Every entity and action with the JSON Schema of its params.
    pub fn catalog() -> Vec<EntityInfo> {
        catalog::entities()
            .into_iter()
            .map(|entity| EntityInfo {
                entity,
                actions: catalog::OPERATIONS
                    .iter()
                    .filter(|op| op.entity == entity)
                    .map(|op| {
                        let (effect, idempotent) = ActionEffect::of(op);
                        ActionInfo {
                            action: op.action,
                            description: op.description,
                            params_schema: op.schema(),
                            endpoints: op.endpoints(),
                            effect,
                            idempotent,
                        }
                    })
                    .collect(),
            })
            .collect()
    }

    /// The JSON Schema (draft 2020-12) of the records `entity` returns (its lists' items, the
    /// `data` of its other actions), or `None` for an entity not in the catalog. Every schema
    /// requires only `gid` (Asana returns few fields unless asked for more with `opt_fields` or
    /// `select_fields`) and allows properties it does not list.
    ///
    /// ```
    /// use provider_asana::connector::AsanaConnector;
    ///
    /// let tasks = AsanaConnector::entity_schema("tasks").unwrap();
    /// assert_eq!(tasks["properties"]["completed"]["type"], "boolean");
    /// assert!(AsanaConnector::entity_schema("taskz").is_none());
    /// ```
    pub fn entity_schema(entity: &str) -> Option<Value> {
        catalog::find_entity(entity).and_then(records::schema)
    }

    /// The catalog as LLM tool definitions: one `{name, description, input_schema}` per action,
    /// named `asana_<entity>_<action>` ([`AsanaConnector::tool_call`] reads a name back).
    ///
    /// LLM APIs refuse `anyOf`, `oneOf` and `allOf` at the top level of an input schema (Anthropic
    /// rejects the whole request), so the "one of these params" rules that
    /// [`EntityInfo`]'s `params_schema` states with `anyOf` are said in the description instead;
    /// [`AsanaConnector::execute`] enforces them either way.
    pub fn tool_definitions() -> Vec<Value> {
        catalog::OPERATIONS
            .iter()
            .map(|op| {
                let mut schema = op.schema();
                if let Some(object) = schema.as_object_mut() {
                    object.remove("anyOf");
                }
                let mut description = op.description.to_string();
                for rule in op.rules {
                    if let Rule::AnyGroup(groups) = rule {
                        description.push_str(&format!(" (needs one of: {})", one_of(groups)));
                    }
                }
                json!({
                    "name": format!("asana_{}_{}", op.entity, op.action),
                    "description": description,
                    "input_schema": schema,
                })
            })
            .collect()
    }

    /// The `(entity, action)` a tool of [`AsanaConnector::tool_definitions`] runs, from its name
    /// (`asana_<entity>_<action>`, where an entity may hold underscores), to hand to
    /// [`AsanaConnector::execute`] with the tool call's input as params; `None` for a name that
    /// is no tool of the catalog.
    ///
    /// ```
    /// use provider_asana::connector::AsanaConnector;
    ///
    /// assert_eq!(AsanaConnector::tool_call("asana_tasks_list"), Some(("tasks", "list")));
    /// assert_eq!(AsanaConnector::tool_call("tasks_list"), None);
    /// ```
    pub fn tool_call(name: &str) -> Option<(&'static str, &'static str)> {
        let rest = name.strip_prefix("asana_")?;
        catalog::OPERATIONS
            .iter()
            .find(|op| {
                rest.strip_prefix(op.entity)
                    .and_then(|tail| tail.strip_prefix('_'))
                    == Some(op.action)
            })
            .map(|op| (op.entity, op.action))
    }

    /// Checks `params` for `entity.action` against the catalog without sending anything: the same
    /// check [`AsanaConnector::execute`] makes first.
    pub fn validate(entity: &str, action: &str, params: &Value) -> Result<(), ExecuteError> {
        validate(resolve(entity, action)?, params.clone()).map(|_| ())
    }

    /// Runs `entity.action` with `params` (a JSON object, or null for none). Lists return
    /// `{data: [...], meta: {next_page}}`; other actions return `{data: ...}`.
    ///
    /// Reads take `select_fields` (sent to Asana as `opt_fields`, and applied to the result) and
    /// `exclude_fields` (applied to the result). A result longer than the cap
    /// ([`AsanaConnector::with_max_result_chars`]) is [`ExecuteError::ResultTooLarge`].
    pub async fn execute(
        &self,
        entity: &str,
        action: &str,
        params: Value,
    ) -> Result<Value, ExecuteError> {
        let op = resolve(entity, action)?;
        let params = validate(op, params)?;
        self.run(op, params)
            .await
            .map_err(|e| outcome_for_action(op, e))
    }

    /// [`AsanaConnector::execute`], with the result's `data` as JSON text, for a caller that
    /// writes it out as JSON (a service's answer, an agent's tool result): a record Asana
    /// answered is handed over as Asana wrote it (its fields in Asana's order, its numbers and
    /// escapes as written), with no `serde_json::Value` built and written again. The same
    /// validation, checks of the answer, errors and cap apply: the cap counts the result as
    /// `execute` writes it, so Asana's own text may be a little longer (whitespace, escapes).
    /// When `select_fields` or `exclude_fields` reshape the record, and for lists, downloads
    /// and hosted connectors, the text is `execute`'s `data` written compact.
    ///
    /// ```no_run
    /// # async fn example(connector: provider_asana::AsanaConnector) -> Result<(), provider_asana::ExecuteError> {
    /// let me = connector
    ///     .execute_json("users", "get", serde_json::json!({"user_gid": "me"}))
    ///     .await?;
    /// println!("{}", me.data.get());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn execute_json(
        &self,
        entity: &str,
        action: &str,
        params: Value,
    ) -> Result<JsonResult, ExecuteError> {
        let op = resolve(entity, action)?;
        let params = validate(op, params)?;
        if let Backend::Local(client) = &self.backend
            && answers_one_record(op.kind)
            && !reshapes(&params)
        {
            return self
                .record_as_sent(client, op, &params)
                .await
                .map_err(|e| outcome_for_action(op, e));
        }
        let mut result = self
            .run(op, params)
            .await
            .map_err(|e| outcome_for_action(op, e))?;
        let data = serde_json::value::to_raw_value(&result["data"])
            .expect("a Value is always written as JSON");
        let meta = match result.get_mut("meta").map(Value::take) {
            Some(Value::Object(meta)) => meta,
            _ => Map::new(),
        };
        Ok(JsonResult { data, meta })
    }

    /// A read or a write whose `data` is not reshaped: Asana's `data` as its JSON text, after
    /// the whole answer was checked as `execute` reads it; measured against the cap as `execute`
    /// measures it when the answer's length cannot rule it out.
    async fn record_as_sent(
        &self,
        client: &AsanaClient,
        op: &Operation,
        params: &Map<String, Value>,
    ) -> Result<JsonResult, ExecuteError> {
        let (path, query, body) = build_request(op, params);
        let answer = client
            .request_data(
                method_of(op.endpoint),
                &path,
                &pairs(&query),
                body,
                |bytes| result_chars_bound(bytes) > self.max_result_chars,
            )
            .await?;
        if let Some(value) = answer.value {
            self.cap(op, &data_only(value))?;
        }
        Ok(JsonResult {
            data: answer.text,
            meta: Map::new(),
        })
    }

    /// Runs a validated call.
    async fn run(&self, op: &Operation, params: Map<String, Value>) -> Result<Value, ExecuteError> {
        let client = match &self.backend {
            Backend::Local(client) => client,
            Backend::Hosted(hosted) => return self.execute_hosted(hosted, op, params).await,
        };
        let (path, query, body) = build_request(op, &params);
        let query = pairs(&query);
        let query = query.as_slice();
        let method = method_of(op.endpoint);
        let (result, answered_bytes) = match op.kind {
            Kind::List | Kind::Unpaged => {
                let (mut response, bytes) =
                    client.request_with_len(method, &path, query, None).await?;
                let mut take = |field| response.get_mut(field).map(Value::take);
                let next_page = take("next_page").unwrap_or(Value::Null);
                let data = take("data").unwrap_or_else(|| Value::Array(Vec::new()));
                let result = object([("data", data), ("meta", object([("next_page", next_page)]))]);
                (result, Some(bytes))
            }
            Kind::Get | Kind::Create | Kind::Post | Kind::Update | Kind::Delete => {
                let (response, bytes) = client.request_with_len(method, &path, query, body).await?;
                (data_only(response), Some(bytes))
            }
            Kind::Download => (self.download(client, &path, &params).await?, None),
            Kind::Link => {
                let response = client
                    .attachments()
                    .post_link::<Value>(
                        text(&params, "parent"),
                        text(&params, "url"),
                        text(&params, "name"),
                    )
                    .await?;
                (data_only(response), None)
            }
        };
        self.finish(op, result, &params, answered_bytes)
    }

    /// A cheap health check: `GET /users/me` (for a hosted connector, the service's check of
    /// the connector). Says whether the connection works and, if not, why: the grant expired or
    /// was revoked, a scope is missing, or Asana, the service or the network failed.
    pub async fn check(&self) -> Health {
        self.check_or_error().await.unwrap_or_else(Health::from)
    }

    /// [`AsanaConnector::check`], with the error that made a local connection unhealthy given
    /// whole rather than as an unhealthy [`Health`] (`Health::from` makes that): for a caller
    /// that tells its own failures apart, as the hosted service tells its credential store's
    /// from the connection's. A local connector's `Ok` is always healthy; a hosted connector's
    /// answer is always `Ok`, healthy or not, as the service reported it.
    pub async fn check_or_error(&self) -> Result<Health, AsanaError> {
        let client = match &self.backend {
            Backend::Local(client) => client,
            Backend::Hosted(hosted) => return Ok(check_hosted(hosted).await),
        };
        let query = [("opt_fields", "name")];
        let me = client
            .request(Method::GET, "/users/me", &query, None)
            .await?;
        Ok(Health {
            healthy: true,
            reason: None,
            message: format!(
                "connected to Asana as {} (user {})",
                me["data"]["name"].as_str().unwrap_or("an unnamed user"),
                me["data"]["gid"].as_str().unwrap_or("?")
            ),
        })
    }

    /// [`AsanaConnector::execute`] through the service, after the same validation: its
    /// `{result, connector_metadata}` become the library's `{data, meta}` (lists) or `{data}`.
    async fn execute_hosted(
        &self,
        hosted: &HostedClient,
        op: &Operation,
        params: Map<String, Value>,
    ) -> Result<Value, ExecuteError> {
        let answer = hosted
            .execute(op.entity, op.action, &params)
            .await
            .map_err(|e| match e {
                AsanaError::Service(ServiceError::Status {
                    status: 400 | 422,
                    message,
                    errors,
                    ..
                }) => ExecuteError::InvalidParams {
                    entity: op.entity.to_string(),
                    action: op.action.to_string(),
                    problems: if errors.is_empty() {
                        vec![message]
                    } else {
                        errors
                    },
                    allowed: allowed(op),
                },
                // The call reached the service (or may have), which may have run the action:
                // for one that is not idempotent, repeating it could run it twice.
                AsanaError::Service(ref failure) if failure.may_have_run() => outcome_for_action(
                    op,
                    ExecuteError::Api(AsanaError::OutcomeUnknown { cause: Box::new(e) }),
                ),
                other => other.into(),
            })?;
        let result = match op.kind {
            Kind::List | Kind::Unpaged => {
                object([("data", answer.result), ("meta", answer.metadata)])
            }
            _ => object([("data", answer.result)]),
        };
        self.finish(op, result, &params, None)
    }

    /// Applies `select_fields` and `exclude_fields` to a result, and the cap (downloads have
    /// their own limit). `answered_bytes`, when the result was made of one answer of Asana's, is
    /// that answer's length: a result that cannot reach the cap is not measured.
    fn finish(
        &self,
        op: &Operation,
        mut result: Value,
        params: &Map<String, Value>,
        answered_bytes: Option<usize>,
    ) -> Result<Value, ExecuteError> {
        shape(&mut result["data"], params);
        let within_cap =
            answered_bytes.is_some_and(|bytes| result_chars_bound(bytes) <= self.max_result_chars);
        if op.kind != Kind::Download && !within_cap {
            self.cap(op, &result)?;
        }
        Ok(result)
    }

    /// Refuses a result over the cap, with advice on how to narrow the call.
    fn cap(&self, op: &Operation, result: &Value) -> Result<(), ExecuteError> {
        let chars = json_chars(result);
        if chars <= self.max_result_chars {
            return Ok(());
        }
        let advice = match op.kind {
            Kind::List => {
                "ask for fewer records with a smaller `limit` (and page on with `offset`), or fewer fields with `select_fields` or `exclude_fields`"
            }
            Kind::Unpaged => {
                "narrow the search with more filters or a smaller `limit`, or ask for fewer fields with `select_fields` or `exclude_fields`"
            }
            Kind::Get => "ask for fewer fields with `select_fields` or `exclude_fields`",
            _ if op.params.iter().any(|p| p.name == "opt_fields") => {
                "the change was made; pass `opt_fields` to get fewer fields back"
            }
            _ => {
                "the change was made; read the object back with its get action and `select_fields`"
            }
        };
        Err(ExecuteError::ResultTooLarge {
            entity: op.entity.to_string(),
            action: op.action.to_string(),
            chars,
            max: self.max_result_chars,
            advice,
        })
    }

    async fn download(
        &self,
        client: &AsanaClient,
        path: &str,
        params: &Map<String, Value>,
    ) -> Result<Value, ExecuteError> {
        let gid = text(params, "attachment_gid").to_string();
        let query = [("opt_fields", "name,download_url,size,host,resource_subtype")];
        let mut meta = data_only(client.request(Method::GET, path, &query, None).await?);
        let limit = MAX_DOWNLOAD_BYTES.min(client.settings().max_download_bytes);
        let size = meta["data"]["size"].as_u64().unwrap_or(0);
        if size > limit as u64 {
            return Err(ExecuteError::TooLarge { gid, max: limit });
        }
        let Some(download_url) = meta["data"]["download_url"].as_str() else {
            return Err(ExecuteError::Api(AsanaError::InvalidArgument {
                name: "attachment",
                reason: "has no download_url (externally hosted files cannot be downloaded)".into(),
            }));
        };
        let bytes = match client
            .attachments()
            .download_within(download_url, limit)
            .await
        {
            Ok(bytes) => bytes,
            Err(AsanaError::DownloadTooLarge { .. }) => {
                return Err(ExecuteError::TooLarge { gid, max: limit });
            }
            Err(e) => return Err(e.into()),
        };
        let mut data = meta["data"].take();
        if let Some(object) = data.as_object_mut() {
            object.remove("download_url");
            object.insert("size".into(), bytes.len().into());
            object.insert(
                "content_base64".into(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(&bytes)),
            );
        }
        Ok(object([("data", data)]))
    }
}

/// `e` as `op`'s failure. The client reports a POST that failed after it may have reached Asana
/// as [`AsanaError::OutcomeUnknown`], not retryable: right for an action that is not idempotent
/// (repeating it could apply it twice). An idempotent action sent as a POST (`task_tags.delete`, `task_parent.update`)
/// is safe to repeat, and keeps the retryable failure behind it.
fn outcome_for_action(op: &Operation, e: ExecuteError) -> ExecuteError {
    let (_, idempotent) = ActionEffect::of(op);
    match e {
        ExecuteError::Api(AsanaError::OutcomeUnknown { cause }) if idempotent => {
            ExecuteError::Api(*cause)
        }
        other => other,
    }
}

/// The unhealthy connection behind a failed check: why (a grant to renew, a missing scope, a
/// failure that may pass) and what failed.
impl From<AsanaError> for Health {
    fn from(e: AsanaError) -> Self {
        Health {
            healthy: false,
            reason: Some(if e.needs_reauthorization() {
                UnhealthyReason::Reauthorize
            } else if matches!(e, AsanaError::Forbidden { .. }) {
                UnhealthyReason::MissingScope
            } else if e.is_retryable() {
                UnhealthyReason::Unavailable
            } else {
                UnhealthyReason::Failed
            }),
            message: e.to_string(),
        }
    }
}

/// [`AsanaConnector::check`] through the service: its `healthy` or `unhealthy` (with the
/// service's reason), or the error of the call.
async fn check_hosted(hosted: &HostedClient) -> Health {
    match hosted.check().await {
        Ok(answer) if answer.healthy => Health {
            healthy: true,
            reason: None,
            message: format!("connector {} is healthy", answer.connector),
        },
        Ok(answer) => Health {
            healthy: false,
            reason: Some(UnhealthyReason::Failed),
            message: format!(
                "connector {} is unhealthy: {}",
                answer.connector,
                answer
                    .error
                    .as_deref()
                    .unwrap_or("the service gave no reason")
            ),
        },
        Err(e) => Health::from(e),
    }
}

/// Applies `select_fields` and `exclude_fields` to the records in `data`.
fn shape(data: &mut Value, params: &Map<String, Value>) {
    let names = |name: &str| -> Option<Vec<&str>> {
        params
            .get(name)
            .and_then(Value::as_array)
            .filter(|names| !names.is_empty())
            .map(|names| names.iter().filter_map(Value::as_str).collect())
    };
    if let Some(selected) = names("select_fields") {
        output::select(data, &selected);
    }
    if let Some(excluded) = names("exclude_fields") {
        output::exclude(data, &excluded);
    }
}

/// The path, query pairs and JSON body that [`AsanaConnector::execute`] would send for
/// `entity.action`, after the same validation, without sending anything: for the cargo-fuzz targets
/// in `fuzz/`. Not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[allow(clippy::type_complexity)]
pub fn request_for_fuzzing(
    entity: &str,
    action: &str,
    params: Value,
) -> Result<(String, Vec<(String, String)>, Option<Value>), ExecuteError> {
    let op = resolve(entity, action)?;
    Ok(build_request(op, &validate(op, params)?))
}

/// A string param that validation already required (empty if absent).
fn text<'a>(params: &'a Map<String, Value>, name: &str) -> &'a str {
    params.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// The longest text of a number written by serde_json (`-2.2250738585072014e-308` has 24
/// characters; `-9223372036854775808` has 20).
const MAX_NUMBER_CHARS: usize = 24;

/// What wrapping parts of an answer as a result adds: `{"data":…,"meta":{"next_page":…}}`, or
/// `[]` and `null` for the parts it lacked.
const RESULT_WRAPPING_CHARS: usize = 64;

/// At most how many characters [`json_chars`] counts in a result made of parts of one answer
/// of `bytes` bytes of JSON, picked and shaped by removing only. Written back compact, no part
/// of the text grows but a number (`1e9` becomes `1000000000.0`), and a number's text, at least
/// one byte, becomes at most [`MAX_NUMBER_CHARS`]; strings never grow (escapes are as long
/// or shorter, and a character of several bytes counts once).
fn result_chars_bound(bytes: usize) -> usize {
    bytes
        .saturating_mul(MAX_NUMBER_CHARS)
        .saturating_add(RESULT_WRAPPING_CHARS)
}

/// The length in characters of `value`'s compact JSON text (`value.to_string()`), counted as
/// the text is written instead of built: every result is measured against the cap.
fn json_chars(value: &Value) -> usize {
    /// Counts the characters of the UTF-8 it is given: every byte that does not continue one.
    struct Chars(usize);
    impl std::io::Write for Chars {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.iter().filter(|&&b| b & 0xC0 != 0x80).count();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut chars = Chars(0);
    // A `Value` always serializes, and the counter never fails a write.
    let _ = serde_json::to_writer(&mut chars, value);
    chars.0
}

/// [`AsanaConnector::execute_json`]'s answer.
#[derive(Debug)]
#[non_exhaustive]
pub struct JsonResult {
    /// The result's `data` as JSON text (`null` when Asana's answer had none).
    pub data: Box<RawValue>,
    /// The result's `meta`: `{next_page}` for lists; empty for other actions.
    pub meta: Map<String, Value>,
}

/// The query pairs of [`build_request`] as the client takes them.
fn pairs(query: &[(String, String)]) -> Vec<(&str, &str)> {
    query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Whether `kind`'s result is `{data}` taken from one answer of Asana's.
fn answers_one_record(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Get | Kind::Create | Kind::Post | Kind::Update | Kind::Delete
    )
}

/// Whether `select_fields` or `exclude_fields` would reshape the result (see [`shape`]).
fn reshapes(params: &Map<String, Value>) -> bool {
    ["select_fields", "exclude_fields"].iter().any(|name| {
        params
            .get(*name)
            .and_then(Value::as_array)
            .is_some_and(|names| !names.is_empty())
    })
}

fn data_only(mut response: Value) -> Value {
    object([(
        "data",
        response
            .get_mut("data")
            .map(Value::take)
            .unwrap_or(Value::Null),
    )])
}

/// `{key: value, ...}` with each value moved in: `json!` would copy a `Value` argument through
/// serde, a second walk over a whole result.
fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(key, value)| (key.to_string(), value))
            .collect(),
    )
}

fn resolve(entity: &str, action: &str) -> Result<&'static Operation, ExecuteError> {
    if let Some(op) = catalog::find(entity, action) {
        return Ok(op);
    }
    let actions = catalog::actions(entity);
    if actions.is_empty() {
        return Err(ExecuteError::UnknownEntity {
            entity: entity.to_string(),
            available: catalog::entities().join(", "),
        });
    }
    Err(ExecuteError::UnknownAction {
        entity: entity.to_string(),
        action: action.to_string(),
        available: actions.join(", "),
    })
}

fn type_name(ty: Ty) -> String {
    match ty {
        Ty::Str => "string".into(),
        Ty::Int(min, max) => format!("integer {min}..={max}"),
        Ty::Integer => "integer".into(),
        Ty::Num => "number".into(),
        Ty::Bool => "boolean".into(),
        Ty::StrList => "array of strings".into(),
        Ty::List => "array".into(),
        Ty::Enum(values) => format!("one of {}", values.join("|")),
        Ty::Object => "object".into(),
        Ty::BatchActions => format!(
            "an array of 1 to {} batch actions {{relative_path, method, data?, options?}}",
            catalog::MAX_BATCH_ACTIONS
        ),
    }
}

fn allowed(op: &Operation) -> String {
    op.all_params()
        .map(|p| {
            format!(
                "{} ({}{})",
                p.name,
                type_name(p.ty),
                if p.required { ", required" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks `params` against the operation's schema and rules; returns the object.
fn validate(op: &Operation, params: Value) -> Result<Map<String, Value>, ExecuteError> {
    let mut problems = Vec::new();
    // The valid params that are or hold integers, whose `10.0` is sent as `10`.
    let mut integers = Vec::new();
    let mut object = match params {
        Value::Null => Map::new(),
        Value::Object(map) => map,
        other => {
            problems.push(format!(
                "params must be a JSON object, got {}",
                json_kind(&other)
            ));
            Map::new()
        }
    };
    for (name, value) in &object {
        let Some(param) = op.all_params().find(|p| p.name == name) else {
            problems.push(format!("unknown param `{name}`"));
            continue;
        };
        if value.is_null() {
            if !op.clearable(param) {
                problems.push(format!(
                    "`{name}` cannot be null: Asana clears only nullable fields of updates{}",
                    if op.kind == Kind::Update && !param.required {
                        "; leave it out to keep its value"
                    } else {
                        ""
                    }
                ));
            }
            continue;
        }
        if value.as_str() == Some("") && op.cleared_by_empty(param) {
            continue;
        }
        if let Some(problem) = check_type(param.ty, value) {
            problems.push(format!("`{name}` {problem}"));
        } else if matches!(param.ty, Ty::Int(..) | Ty::Integer | Ty::BatchActions) {
            integers.push(name.clone());
        } else if op.in_path(param) && matches!(value.as_str(), Some("." | "..")) {
            // A dot segment would be resolved away and change which endpoint is called.
            problems.push(format!("`{name}` must be a gid, not a dot segment"));
        }
    }
    for param in op.all_params().filter(|p| p.required) {
        if !object.contains_key(param.name) {
            problems.push(format!("missing required param `{}`", param.name));
        }
    }
    for rule in op.rules {
        match rule {
            Rule::AnyGroup(groups) => {
                if !groups
                    .iter()
                    .any(|group| group.iter().all(|name| object.contains_key(*name)))
                {
                    problems.push(format!("needs one of: {}", one_of(groups)));
                }
            }
            Rule::AtMostOne(names) => {
                let given: Vec<&str> = names
                    .iter()
                    .copied()
                    .filter(|name| object.contains_key(*name))
                    .collect();
                if given.len() > 1 {
                    problems.push(format!("give only one of: {}", given.join(", ")));
                }
            }
            Rule::Via { param, with, .. } => {
                if object.contains_key(*param) {
                    // Output control (`select_fields`, `exclude_fields`) is never sent, so it
                    // goes with any endpoint.
                    let is_local = |name: &str| op.all_params().any(|p| p.name == name && p.local);
                    let others: Vec<&str> = object
                        .keys()
                        .map(String::as_str)
                        .filter(|name| name != param && !with.contains(name) && !is_local(name))
                        .collect();
                    if !others.is_empty() {
                        problems.push(format!(
                            "`{param}` cannot be combined with {}: with `{param}` only {} are allowed",
                            others.join(", "),
                            with.join(", ")
                        ));
                    }
                }
            }
        }
    }
    // Fields the endpoint takes one of at most (`insert_before`, `insert_after`); a `null`, where
    // allowed, gives none.
    for group in op.endpoint().exclusive {
        let given: Vec<&str> = op
            .params
            .iter()
            .filter(|p| group.contains(&p.wire) && object.get(p.name).is_some_and(|v| !v.is_null()))
            .map(|p| p.name)
            .collect();
        if given.len() > 1 {
            problems.push(format!("give only one of: {}", given.join(", ")));
        }
    }
    if problems.is_empty() {
        for name in integers {
            match object.get_mut(&name) {
                Some(Value::Array(actions)) => {
                    for action in actions {
                        if let Some(limit) = action.pointer_mut("/options/limit") {
                            write_as_integer(limit);
                        }
                    }
                }
                Some(value) => write_as_integer(value),
                None => {}
            }
        }
        Ok(object)
    } else {
        Err(ExecuteError::InvalidParams {
            entity: op.entity.to_string(),
            action: op.action.to_string(),
            problems,
            allowed: allowed(op),
        })
    }
}

/// `a, or b + c`: the groups of an any-of rule, as people read them.
fn one_of(groups: &[&[&str]]) -> String {
    groups
        .iter()
        .map(|group| group.join(" + "))
        .collect::<Vec<_>>()
        .join(", or ")
}

fn check_type(ty: Ty, value: &Value) -> Option<String> {
    let wrong = || {
        Some(format!(
            "must be {}, got {}",
            type_name(ty),
            json_kind(value)
        ))
    };
    match ty {
        Ty::Str => match value.as_str() {
            Some("") => Some("must not be empty".into()),
            Some(_) => None,
            None => wrong(),
        },
        Ty::Int(min, max) => match value.as_f64().filter(|_| is_integer(value)) {
            // The bounds are small: a float compares with them exactly.
            Some(n) if n < min as f64 || n > max as f64 => {
                Some(format!("must be between {min} and {max}, got {value}"))
            }
            Some(_) => None,
            None => wrong(),
        },
        Ty::Integer => {
            if is_integer(value) {
                None
            } else {
                wrong()
            }
        }
        Ty::Num => {
            if value.is_number() {
                None
            } else {
                wrong()
            }
        }
        Ty::List => {
            if value.is_array() {
                None
            } else {
                wrong()
            }
        }
        Ty::Bool => {
            if value.is_boolean() {
                None
            } else {
                wrong()
            }
        }
        Ty::StrList => match value.as_array() {
            Some(items) if items.iter().all(Value::is_string) => None,
            _ => wrong(),
        },
        Ty::Enum(values) => match value.as_str() {
            Some(s) if values.contains(&s) => None,
            Some(s) => Some(format!("must be one of {}, got \"{s}\"", values.join("|"))),
            None => wrong(),
        },
        Ty::Object => {
            if value.is_object() {
                None
            } else {
                wrong()
            }
        }
        Ty::BatchActions => match value.as_array() {
            Some(actions) => catalog::batch_problems(actions),
            None => wrong(),
        },
    }
}

/// Whether `value` is an integer as JSON Schema's `integer` reads it: a number without a
/// fractional part, written `10` or `10.0`.
pub(crate) fn is_integer(value: &Value) -> bool {
    value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|n| n.fract() == 0.0)
}

/// Writes an integer written with a fraction (`10.0`) as `10`, when it fits in 64 bits, so that
/// Asana reads an integer.
pub(crate) fn write_as_integer(value: &mut Value) {
    let Some(n) = value
        .as_f64()
        .filter(|_| value.is_f64() && is_integer(value))
    else {
        return;
    };
    // 2^63 and 2^64 are exact as floats; the casts below are exact within them.
    if (-(2f64.powi(63))..2f64.powi(63)).contains(&n) {
        *value = Value::from(n as i64);
    } else if (0.0..2f64.powi(64)).contains(&n) {
        *value = Value::from(n as u64);
    }
}

/// The path (with encoded path params), query pairs, and `{"data": ...}` body of a validated call.
fn build_request(
    op: &Operation,
    params: &Map<String, Value>,
) -> (String, Vec<(String, String)>, Option<Value>) {
    let via = op.params.iter().find_map(|param| {
        let endpoint = op.via(param.name)?;
        params
            .contains_key(param.name)
            .then_some((param.name, endpoint))
    });
    let mut path = via
        .map_or(op.path(), |(_, endpoint)| endpoint.path)
        .to_string();
    let mut query = Vec::new();
    let mut body = Map::new();
    for param in op.params {
        let Some(value) = params.get(param.name) else {
            continue;
        };
        match op.at(param) {
            In::Path => {
                // The param of a `Via` fills that endpoint's one path param.
                let placeholder = match via {
                    Some((name, endpoint)) if name == param.name => {
                        endpoint.path_params().next().unwrap_or(param.wire)
                    }
                    _ => param.wire,
                };
                let raw = value.as_str().unwrap_or_default();
                path = path.replace(&format!("{{{placeholder}}}"), &encode_segment(raw));
            }
            // An empty list asks for nothing: send no pair (as the typed client does), rather
            // than an empty value.
            In::Query if value.as_array().is_some_and(Vec::is_empty) => {}
            In::Query => query.push((param.wire.to_string(), query_value(value))),
            In::Body => {
                body.insert(param.wire.to_string(), value.clone());
            }
            In::Local => {}
        }
    }
    // `select_fields` asks Asana for just those fields, with any `opt_fields` given.
    if let Some(selected) = params.get("select_fields").and_then(Value::as_array)
        && op.params.iter().any(|p| p.name == "opt_fields")
        && !selected.is_empty()
    {
        let mut fields: Vec<String> = params
            .get("opt_fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(selected)
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        fields.retain(|field| seen.insert(field.clone()));
        query.retain(|(name, _)| name != "opt_fields");
        query.push(("opt_fields".into(), fields.join(",")));
    }
    if matches!(op.kind, Kind::List) && !params.contains_key("limit") {
        query.push(("limit".into(), "100".into()));
    }
    let body = matches!(op.kind, Kind::Create | Kind::Update | Kind::Post)
        .then(|| object([("data", Value::Object(body))]));
    (path, query, body)
}

/// Percent-encodes `raw` as one path segment. Form encoding writes a space as `+`, which is a
/// literal plus in a path; a literal plus is already `%2B`, so every `+` left is a space.
fn encode_segment(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn query_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_entity_and_action_exists() {
        let expected: &[(&str, &[&str])] = &[
            ("tasks", &["list", "get", "create", "update", "delete"]),
            ("project_tasks", &["list"]),
            ("workspace_task_search", &["list"]),
            ("projects", &["list", "get", "create", "update", "delete"]),
            ("task_projects", &["list", "create", "delete"]),
            ("team_projects", &["list", "create"]),
            ("workspace_projects", &["list", "create"]),
            ("workspaces", &["list", "get", "update"]),
            ("users", &["list", "get"]),
            ("workspace_users", &["list", "get"]),
            ("team_users", &["list"]),
            ("teams", &["get", "create", "update"]),
            ("workspace_teams", &["list"]),
            ("user_teams", &["list"]),
            (
                "attachments",
                &["list", "get", "create", "download", "delete"],
            ),
            ("workspace_tags", &["list", "create"]),
            ("tags", &["get", "update", "delete", "list", "create"]),
            ("tag_tasks", &["list"]),
            ("project_sections", &["list", "create"]),
            ("sections", &["get", "update", "move", "delete"]),
            ("section_tasks", &["list", "create"]),
            ("task_subtasks", &["list", "create"]),
            ("task_dependencies", &["list", "create", "delete"]),
            ("task_dependents", &["list", "create", "delete"]),
            ("task_stories", &["list", "create"]),
            ("task_tags", &["create", "delete", "list"]),
            (
                "workspace_memberships",
                &["create", "delete", "list", "get"],
            ),
            ("workspace_custom_fields", &["list"]),
            ("custom_fields", &["get", "create", "update", "delete"]),
            ("custom_field_enum_options", &["create", "move"]),
            ("enum_options", &["update"]),
            (
                "project_custom_field_settings",
                &["list", "create", "delete"],
            ),
            (
                "portfolio_custom_field_settings",
                &["list", "create", "delete"],
            ),
            ("task_parent", &["update"]),
            ("task_followers", &["create", "delete"]),
            ("task_duplicates", &["create"]),
            ("workspace_task_custom_ids", &["get"]),
            ("workspace_typeahead", &["list"]),
            ("status_updates", &["list", "get", "create", "delete"]),
            ("goals", &["list", "get", "create", "update", "delete"]),
            ("goal_metrics", &["create", "update"]),
            ("goal_followers", &["create", "delete"]),
            ("goal_parent_goals", &["list"]),
            (
                "goal_relationships",
                &["list", "get", "update", "create", "delete"],
            ),
            ("portfolios", &["list", "get", "create", "update", "delete"]),
            ("portfolio_items", &["list", "create", "delete"]),
            ("portfolio_members", &["create", "delete"]),
            ("portfolio_memberships", &["list"]),
            ("task_time_tracking_entries", &["list", "create"]),
            (
                "time_tracking_entries",
                &["list", "get", "update", "delete"],
            ),
            ("user_task_lists", &["get"]),
            ("user_user_task_lists", &["get"]),
            ("user_task_list_tasks", &["list"]),
            (
                "memberships",
                &["list", "get", "create", "update", "delete"],
            ),
            ("project_memberships", &["list", "get"]),
            ("project_members", &["create", "delete"]),
            ("project_followers", &["create", "delete"]),
            ("team_memberships", &["list", "get"]),
            ("team_team_memberships", &["list"]),
            ("user_team_memberships", &["list"]),
            ("team_members", &["create", "delete"]),
            ("user_workspace_memberships", &["list"]),
            ("project_duplicates", &["create"]),
            ("project_task_counts", &["get"]),
            ("project_templates", &["list", "get", "delete", "create"]),
            ("team_project_templates", &["list"]),
            ("project_template_instances", &["create"]),
            ("project_statuses", &["list"]),
            ("stories", &["get", "update", "delete"]),
            ("user_favorites", &["list"]),
            ("webhooks", &["list", "get", "create", "update", "delete"]),
            ("time_periods", &["list", "get"]),
            ("jobs", &["get"]),
            ("batch", &["submit"]),
        ];
        for (entity, actions) in expected {
            assert_eq!(catalog::actions(entity), *actions, "{entity}");
        }
        assert_eq!(catalog::entities().len(), expected.len());
    }

    #[test]
    fn schemas_are_strict_objects_with_required_and_descriptions() {
        for op in catalog::OPERATIONS {
            let schema = op.schema();
            assert_eq!(schema["type"], "object");
            assert_eq!(schema["additionalProperties"], false);
            for (name, prop) in schema["properties"].as_object().unwrap() {
                assert!(
                    prop["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{}.{} {name}",
                    op.entity,
                    op.action
                );
            }
            for path_param in op.params.iter().filter(|p| op.at(p) == In::Path) {
                assert!(path_param.required || op.via(path_param.name).is_some());
            }
        }
        let search = catalog::find("workspace_task_search", "list")
            .unwrap()
            .schema();
        assert_eq!(search["properties"]["sort_by"]["enum"][0], "due_date");
        let list = catalog::find("tasks", "list").unwrap().schema();
        assert_eq!(
            list["anyOf"][3]["required"],
            json!(["assignee", "workspace"])
        );
    }

    #[test]
    fn param_descriptions_say_more_than_the_param_name() {
        let mut bare = Vec::new();
        for op in catalog::OPERATIONS {
            for param in op.all_params() {
                let said = param.description.to_lowercase();
                let said = said.strip_suffix(" (gid)").unwrap_or(&said);
                if said == param.name.replace('_', " ") {
                    bare.push(format!("{}.{} {}", op.entity, op.action, param.name));
                }
            }
        }
        assert!(bare.is_empty(), "{} bare: {bare:#?}", bare.len());
        let custom = catalog::find("custom_fields", "create").unwrap().schema();
        assert_eq!(
            custom["properties"]["precision"]["description"],
            "Decimal places shown, 0 to 6"
        );
    }

    #[test]
    fn validation_lists_every_problem_and_what_is_allowed() {
        let op = catalog::find("tasks", "update").unwrap();
        let err = validate(op, json!({"name": 3, "bogus": true, "completed": "yes"})).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("unknown param `bogus`"), "{text}");
        assert!(
            text.contains("`name` must be string, got a number"),
            "{text}"
        );
        assert!(
            text.contains("`completed` must be boolean, got a string"),
            "{text}"
        );
        assert!(text.contains("missing required param `task_gid`"), "{text}");
        assert!(
            text.contains("allowed params: task_gid (string, required)"),
            "{text}"
        );
        assert!(!err.is_retryable() && !err.needs_reauthorization());
        assert_eq!(err.to_json()["error"]["kind"], "invalid_params");

        let list = catalog::find("tasks", "list").unwrap();
        let err = validate(list, json!({"assignee": "me"})).unwrap_err();
        assert!(
            err.to_string()
                .contains("needs one of: project, or section, or tag, or assignee + workspace"),
            "{err}"
        );
        assert!(validate(list, json!({"assignee": "me", "workspace": "1"})).is_ok());
        let err = validate(list, json!({"project": "1", "limit": 500})).unwrap_err();
        assert!(
            err.to_string()
                .contains("`limit` must be between 1 and 100, got 500"),
            "{err}"
        );
        assert!(validate(list, json!([1])).is_err());
    }

    #[test]
    fn null_clears_optional_fields_of_updates_only() {
        let update = catalog::find("tasks", "update").unwrap();
        let params = validate(
            update,
            json!({"task_gid": "1", "assignee": null, "due_on": null}),
        )
        .unwrap();
        let (_, _, body) = build_request(update, &params);
        assert_eq!(
            body,
            Some(json!({"data": {"assignee": null, "due_on": null}}))
        );
        assert_eq!(
            update.schema()["properties"]["assignee"]["type"],
            json!(["string", "null"])
        );
        assert!(
            validate(update, json!({"task_gid": null})).is_err(),
            "required params are never null"
        );
        let create = catalog::find("tasks", "create").unwrap();
        assert!(validate(create, json!({"workspace": "1", "assignee": null})).is_err());
        let projects = catalog::find("projects", "update").unwrap();
        assert_eq!(
            projects.schema()["properties"]["color"]["enum"]
                .as_array()
                .unwrap()
                .last(),
            Some(&Value::Null)
        );
    }

    #[test]
    fn null_is_refused_where_asanas_schema_does_not_allow_it() {
        let projects = catalog::find("projects", "update").unwrap();
        let err = validate(
            projects,
            json!({"project_gid": "1", "archived": null, "default_view": null}),
        )
        .unwrap_err();
        let ExecuteError::InvalidParams { problems, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(
            problems,
            &[
                "`archived` cannot be null: Asana clears only nullable fields of updates; leave it out to keep its value",
                "`default_view` cannot be null: Asana clears only nullable fields of updates; leave it out to keep its value",
            ]
        );
        let schema = projects.schema();
        assert_eq!(schema["properties"]["archived"]["type"], "boolean");
        assert_eq!(schema["properties"]["default_view"]["type"], "string");
        assert_eq!(
            schema["properties"]["color"]["type"],
            json!(["string", "null"])
        );

        let params = validate(
            projects,
            json!({"project_gid": "1", "color": null, "due_on": null, "start_on": null}),
        )
        .unwrap();
        let (_, _, body) = build_request(projects, &params);
        assert_eq!(
            body,
            Some(json!({"data": {"color": null, "due_on": null, "start_on": null}}))
        );

        let tasks = catalog::find("tasks", "update").unwrap();
        let params = validate(
            tasks,
            json!({"task_gid": "1", "assignee": null, "due_on": null, "due_at": null,
                   "start_on": null, "start_at": null}),
        )
        .unwrap();
        let (_, _, body) = build_request(tasks, &params);
        assert_eq!(
            body,
            Some(
                json!({"data": {"assignee": null, "due_on": null, "due_at": null,
                                 "start_on": null, "start_at": null}})
            )
        );
        for field in ["name", "notes", "html_notes", "completed", "custom_fields"] {
            assert!(
                validate(tasks, json!({"task_gid": "1", field: null})).is_err(),
                "{field} is not nullable"
            );
        }
        let tags = catalog::find("tags", "update").unwrap();
        assert!(validate(tags, json!({"tag_gid": "5", "color": null})).is_ok());
        assert!(validate(tags, json!({"tag_gid": "5", "name": null})).is_err());
    }

    #[test]
    fn batch_actions_are_checked_one_by_one_before_anything_is_sent() {
        let op = catalog::find("batch", "submit").unwrap();
        let problems = |actions: Value| match validate(op, json!({ "actions": actions })) {
            Err(ExecuteError::InvalidParams { problems, .. }) => problems,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            problems(json!([
                {"relative_path": "https://app.asana.com/api/1.0/tasks/1", "method": "get"},
                {"relative_path": "//evil.example/tasks", "method": "GET"},
                {"relative_path": "/tasks?completed_since=now", "method": "get", "data": [1]},
                {"relative_path": "/tasks/../users", "method": "patch", "body": {}},
                {"method": "get", "options": {"limit": 500, "pretty": true, "fields": "name"}},
                "GET /tasks",
            ])),
            [
                "`actions` item 1: `relative_path` must be a path on the API, starting with `/`, \
                 without a host, a query, a fragment or dot segments, got \"https://app.asana.com/api/1.0/tasks/1\"; \
                 item 2: `relative_path` must be a path on the API, starting with `/`, without a \
                 host, a query, a fragment or dot segments, got \"//evil.example/tasks\"; \
                 item 2: `method` must be one of get|post|put|delete|patch|head, got \"GET\"; \
                 item 3: `relative_path` must be a path on the API, starting with `/`, without a \
                 host, a query, a fragment or dot segments, got \"/tasks?completed_since=now\"; \
                 item 3: `data` must be an object; \
                 item 4: unknown field `body` (allowed: relative_path, method, data, options); \
                 item 4: `relative_path` must be a path on the API, starting with `/`, without a \
                 host, a query, a fragment or dot segments, got \"/tasks/../users\"; \
                 item 5: missing `relative_path`; \
                 item 5: `options.limit` must be an integer between 1 and 100; \
                 item 5: `options.fields` must be an array of strings; \
                 item 5: `options.pretty` is not an option (allowed: limit, offset, fields); \
                 item 6: must be an object {relative_path, method, data?, options?}"
            ]
        );
        assert_eq!(
            problems(json!([])),
            ["`actions` must hold 1 to 10 actions, got 0: split the calls into batches of 10"]
        );
        assert_eq!(
            problems(json!({"relative_path": "/tasks", "method": "get"})),
            [
                "`actions` must be an array of 1 to 10 batch actions {relative_path, method, data?, options?}, got an object"
            ]
        );
        let params = validate(
            op,
            json!({"actions": [{"relative_path": "/users/me", "method": "head"}]}),
        )
        .unwrap();
        let (path, query, body) = build_request(op, &params);
        assert_eq!(path, "/batch");
        assert!(query.is_empty());
        assert_eq!(
            body,
            Some(json!({"data": {"actions": [{"relative_path": "/users/me", "method": "head"}]}}))
        );
        let schema = op.schema();
        let actions = &schema["properties"]["actions"];
        assert_eq!(actions["minItems"], 1);
        assert_eq!(actions["maxItems"], 10);
        assert_eq!(
            actions["items"]["required"],
            json!(["relative_path", "method"])
        );
        assert_eq!(
            actions["items"]["properties"]["method"]["enum"],
            json!(["get", "post", "put", "delete", "patch", "head"])
        );
        assert_eq!(actions["items"]["additionalProperties"], false);
        assert_eq!(
            actions["items"]["properties"]["options"]["additionalProperties"],
            false
        );
    }

    #[test]
    fn unknown_entity_and_action_say_what_exists() {
        let err = resolve("taskz", "list").unwrap_err();
        assert!(matches!(err, ExecuteError::UnknownEntity { .. }));
        assert!(err.to_string().contains("tasks, project_tasks"));
        let err = resolve("teams", "delete").unwrap_err();
        assert_eq!(
            err.to_string(),
            "entity `teams` has no action `delete`; available actions: get, create, update"
        );
    }

    #[test]
    fn requests_are_built_exactly() {
        let op = catalog::find("tasks", "list").unwrap();
        let params = validate(
            op,
            json!({"project": "12", "opt_fields": ["name", "assignee.name"]}),
        )
        .unwrap();
        let (path, query, body) = build_request(op, &params);
        assert_eq!(path, "/tasks");
        assert_eq!(
            query,
            [
                ("project".to_string(), "12".to_string()),
                ("opt_fields".into(), "name,assignee.name".into()),
                ("limit".into(), "100".into())
            ]
        );
        assert!(body.is_none());

        let op = catalog::find("tasks", "update").unwrap();
        let params = validate(op, json!({"task_gid": "a/b", "completed": true})).unwrap();
        let (path, _, body) = build_request(op, &params);
        assert_eq!(path, "/tasks/a%2Fb", "path params are encoded");
        assert_eq!(body, Some(json!({"data": {"completed": true}})));

        let op = catalog::find("workspace_users", "list").unwrap();
        let params = validate(op, json!({"workspace_gid": "1"})).unwrap();
        let (path, query, _) = build_request(op, &params);
        assert_eq!(path, "/users", "GET /users pages with limit");
        assert_eq!(
            query,
            [
                ("workspace".to_string(), "1".to_string()),
                ("limit".into(), "100".into())
            ]
        );
    }

    #[test]
    fn tasks_of_a_tag_are_listed_through_the_tag() {
        let op = catalog::find("tasks", "list").unwrap();
        let params = validate(
            op,
            json!({"tag": "5", "opt_fields": ["name"], "limit": 10, "offset": "x"}),
        )
        .unwrap();
        let (path, query, body) = build_request(op, &params);
        assert_eq!(path, "/tags/5/tasks");
        assert_eq!(
            query,
            [
                ("opt_fields".to_string(), "name".to_string()),
                ("limit".into(), "10".into()),
                ("offset".into(), "x".into())
            ]
        );
        assert!(body.is_none());
        let err = validate(
            op,
            json!({"tag": "5", "project": "1", "completed_since": "now"}),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains(
                "`tag` cannot be combined with completed_since, project: with `tag` only \
                 opt_fields, limit, offset are allowed"
            ),
            "{err}"
        );
        let err = validate(op, json!({"tag": ".."})).unwrap_err();
        assert!(
            err.to_string()
                .contains("`tag` must be a gid, not a dot segment"),
            "{err}"
        );
    }

    #[test]
    fn search_takes_airbytes_filters_and_their_snake_case_aliases() {
        let op = catalog::find("workspace_task_search", "list").unwrap();
        let params = validate(
            op,
            json!({"workspace_gid": "1", "assignee_any": "me", "teams.any": "2",
                   "followers_any": "3", "created_at_after": "a", "created_at.before": "b",
                   "modified_at_before": "c", "due_on_after": "2024-01-01",
                   "due_on.before": "2024-02-01", "resource_subtype": "milestone",
                   "sort_by": "relevance"}),
        )
        .unwrap();
        let (_, mut query, _) = build_request(op, &params);
        query.sort();
        let expected: Vec<(String, String)> = [
            ("assignee.any", "me"),
            ("created_at.after", "a"),
            ("created_at.before", "b"),
            ("due_on.after", "2024-01-01"),
            ("due_on.before", "2024-02-01"),
            ("followers.any", "3"),
            ("modified_at.before", "c"),
            ("resource_subtype", "milestone"),
            ("sort_by", "relevance"),
            ("teams.any", "2"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(query, expected);
        let err = validate(
            op,
            json!({"workspace_gid": "1", "assignee_any": "me", "assignee.any": "me"}),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("give only one of: assignee.any, assignee_any"),
            "{err}"
        );
    }

    #[test]
    fn sections_update_only_renames_and_move_is_its_own_action() {
        let update = catalog::find("sections", "update").unwrap();
        let err =
            validate(update, json!({"section_gid": "41", "insert_before": "42"})).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("unknown param `insert_before`"), "{text}");
        assert!(text.contains("missing required param `name`"), "{text}");
        let moved = catalog::find("sections", "move").unwrap();
        let params = validate(
            moved,
            json!({"project_gid": "11", "section": "41", "after_section": "42"}),
        )
        .unwrap();
        let (path, query, body) = build_request(moved, &params);
        assert_eq!(path, "/projects/11/sections/insert");
        assert!(query.is_empty());
        assert_eq!(
            body,
            Some(json!({"data": {"section": "41", "after_section": "42"}}))
        );
        let err = validate(
            moved,
            json!({"project_gid": "11", "section": "41", "after_section": "42", "before_section": "43"}),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("give only one of: before_section, after_section"),
            "{err}"
        );
        assert!(validate(moved, json!({"project_gid": "11", "section": "41"})).is_err());
    }

    #[test]
    fn users_list_needs_neither_workspace_nor_team() {
        let op = catalog::find("users", "list").unwrap();
        let params = validate(op, Value::Null).unwrap();
        let (path, query, _) = build_request(op, &params);
        assert_eq!(path, "/users");
        assert_eq!(query, [("limit".to_string(), "100".to_string())]);
        assert!(
            op.schema()["properties"]["team"]["description"]
                .as_str()
                .is_some()
        );
        let projects = catalog::find("projects", "list").unwrap().schema();
        assert!(
            projects["properties"]["team"]["description"]
                .as_str()
                .unwrap()
                .contains("Deprecated")
        );
    }

    #[test]
    fn every_action_says_what_it_does_to_the_data() {
        let catalog = AsanaConnector::catalog();
        let effect = |entity: &str, action: &str| {
            let info = catalog
                .iter()
                .find(|e| e.entity == entity)
                .and_then(|e| e.actions.iter().find(|a| a.action == action))
                .unwrap();
            (info.effect, info.idempotent)
        };
        assert_eq!(effect("tasks", "list"), (ActionEffect::Read, true));
        assert_eq!(
            effect("attachments", "download"),
            (ActionEffect::Read, true)
        );
        assert_eq!(effect("tasks", "create"), (ActionEffect::Write, false));
        assert_eq!(
            effect("attachments", "create"),
            (ActionEffect::Write, false)
        );
        assert_eq!(effect("tasks", "update"), (ActionEffect::Write, true));
        assert_eq!(effect("task_parent", "update"), (ActionEffect::Write, true));
        assert_eq!(effect("task_tags", "create"), (ActionEffect::Write, false));
        assert_eq!(effect("tasks", "delete"), (ActionEffect::Delete, true));
        assert_eq!(effect("task_tags", "delete"), (ActionEffect::Delete, true));
        assert_eq!(effect("batch", "submit"), (ActionEffect::Delete, false));
        for entity in &catalog {
            for action in &entity.actions {
                let reads = matches!(action.action, "list" | "get" | "download");
                assert_eq!(
                    action.effect == ActionEffect::Read,
                    reads,
                    "{}.{}",
                    entity.entity,
                    action.action
                );
            }
        }
    }

    #[test]
    fn every_param_goes_where_its_endpoint_takes_it() {
        for op in catalog::OPERATIONS {
            let name = format!("{}.{}", op.entity, op.action);
            let endpoint = op.endpoint();
            for param in op.params {
                assert_eq!(
                    param.local,
                    op.at(param) == In::Local,
                    "{name}: `{}` is not taken by {} {}",
                    param.wire,
                    endpoint.method.as_str(),
                    endpoint.path
                );
            }
            for path_param in endpoint.path_params() {
                assert!(
                    op.params.iter().any(|p| p.wire == path_param && p.required),
                    "{name}: nothing fills {{{path_param}}}"
                );
            }
            let method = match op.kind {
                Kind::List | Kind::Unpaged | Kind::Get | Kind::Download => "GET",
                Kind::Create | Kind::Post | Kind::Link => "POST",
                Kind::Update => "PUT",
                Kind::Delete => "DELETE",
            };
            assert_eq!(
                endpoint.method.as_str(),
                method,
                "{name}: its kind and its endpoint disagree"
            );
        }
    }

    #[test]
    fn tool_definitions_are_named_and_schematized() {
        let tools = AsanaConnector::tool_definitions();
        assert_eq!(tools.len(), catalog::OPERATIONS.len());
        assert!(tools.iter().any(|t| t["name"] == "asana_tasks_create" && t["input_schema"]["type"] == "object"));
        for tool in &tools {
            let schema = tool["input_schema"].as_object().unwrap();
            for keyword in ["anyOf", "oneOf", "allOf"] {
                assert!(
                    !schema.contains_key(keyword),
                    "{}: top-level {keyword}",
                    tool["name"]
                );
            }
            let name = tool["name"].as_str().unwrap();
            assert!(
                name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{name}"
            );
        }
        let list = tools
            .iter()
            .find(|t| t["name"] == "asana_tasks_list")
            .unwrap();
        assert_eq!(
            list["description"],
            "List tasks of a project, section or tag, or those assigned to a user in a workspace \
             (needs one of: project, or section, or tag, or assignee + workspace)"
        );
        let comment = tools
            .iter()
            .find(|t| t["name"] == "asana_task_stories_create")
            .unwrap();
        assert_eq!(
            comment["description"],
            "Comment on a task (needs one of: text, or html_text)"
        );
        let get = tools
            .iter()
            .find(|t| t["name"] == "asana_tasks_get")
            .unwrap();
        assert_eq!(get["description"], "Get one task");
        assert_eq!(
            get["input_schema"],
            catalog::find("tasks", "get").unwrap().schema()
        );
    }
}
