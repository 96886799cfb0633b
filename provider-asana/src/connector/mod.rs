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

use std::fmt;

use std::sync::Arc;

use auth_core::{
    AuthError, Credentials, OAuth2Token, RefreshingTokenSource, SecretString, Session,
    TokenEndpoint,
};
use base64::Engine;
use reqwest::Method;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::auth::{AsanaAppCredentials, AsanaAuthProvider, AsanaSessionExt, PROVIDER_ID};
use crate::client::{AsanaClient, AsanaClientSettings};
use crate::error::AsanaError;
use catalog::{In, Kind, Operation, Rule, Ty};

/// The subject of a standalone connector's credentials.
const CONNECTOR_SUBJECT: &str = "connector";

/// The largest attachment `attachments.download` returns.
pub const MAX_DOWNLOAD_BYTES: usize = 10 * 1024 * 1024;

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
    /// Asana or the auth layer failed.
    #[error(transparent)]
    Api(#[from] AsanaError),
}

impl ExecuteError {
    /// Whether retrying the same call later can succeed (429, 5xx, network): never for
    /// validation errors.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ExecuteError::Api(e) if e.is_retryable())
    }

    /// Whether the user must connect their Asana account again (ask them; do not retry).
    pub fn needs_reauthorization(&self) -> bool {
        matches!(self, ExecuteError::Api(e) if e.needs_reauthorization())
    }

    /// A machine-readable form for an agent: `{"error": {kind, message, retryable, needs_reauthorization}}`.
    pub fn to_json(&self) -> Value {
        let kind = match self {
            ExecuteError::UnknownEntity { .. } => "unknown_entity",
            ExecuteError::UnknownAction { .. } => "unknown_action",
            ExecuteError::InvalidParams { .. } => "invalid_params",
            ExecuteError::TooLarge { .. } => "too_large",
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
        json!({ "error": error })
    }
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

    /// Uses these endpoints (for tests, or a proxy).
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

/// Executes catalog actions against Asana.
#[derive(Debug, Clone)]
pub struct AsanaConnector {
    client: AsanaClient,
}

impl AsanaConnector {
    /// A connector over an existing client.
    pub fn new(client: AsanaClient) -> Self {
        Self { client }
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

    /// The underlying client.
    pub fn client(&self) -> &AsanaClient {
        &self.client
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
                    .map(|op| ActionInfo {
                        action: op.action,
                        description: op.description,
                        params_schema: op.schema(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// The catalog as LLM tool definitions: one `{name, description, input_schema}` per action,
    /// named `asana_<entity>_<action>`.
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
                for Rule::AnyGroup(groups) in op.rules {
                    description.push_str(&format!(" (needs one of: {})", one_of(groups)));
                }
                json!({
                    "name": format!("asana_{}_{}", op.entity, op.action),
                    "description": description,
                    "input_schema": schema,
                })
            })
            .collect()
    }

    /// Checks `params` for `entity.action` against the catalog without sending anything: the same
    /// check [`AsanaConnector::execute`] makes first.
    pub fn validate(entity: &str, action: &str, params: &Value) -> Result<(), ExecuteError> {
        validate(resolve(entity, action)?, params.clone()).map(|_| ())
    }

    /// Runs `entity.action` with `params` (a JSON object, or null for none). Lists return
    /// `{data: [...], meta: {next_page}}`; other actions return `{data: ...}`.
    pub async fn execute(
        &self,
        entity: &str,
        action: &str,
        params: Value,
    ) -> Result<Value, ExecuteError> {
        let op = resolve(entity, action)?;
        let params = validate(op, params)?;
        let (path, query, body) = build_request(op, &params);
        let query: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let query = query.as_slice();
        let result = match op.kind {
            Kind::List | Kind::OffsetOnly | Kind::Unpaged => {
                let response = self.client.request(Method::GET, &path, query, None).await?;
                let next_page = response.get("next_page").cloned().unwrap_or(Value::Null);
                json!({"data": response.get("data").cloned().unwrap_or(json!([])), "meta": {"next_page": next_page}})
            }
            Kind::Get => data_only(self.client.request(Method::GET, &path, query, None).await?),
            Kind::Create | Kind::Post => data_only(
                self.client
                    .request(Method::POST, &path, query, body)
                    .await?,
            ),
            Kind::Update => data_only(self.client.request(Method::PUT, &path, query, body).await?),
            Kind::Delete => data_only(
                self.client
                    .request(Method::DELETE, &path, query, None)
                    .await?,
            ),
            Kind::Download => self.download(&path, &params).await?,
            Kind::Link => data_only(
                self.client
                    .attachments()
                    .post_link::<Value>(
                        text(&params, "parent"),
                        text(&params, "url"),
                        text(&params, "name"),
                    )
                    .await?,
            ),
        };
        Ok(result)
    }

    async fn download(
        &self,
        path: &str,
        params: &Map<String, Value>,
    ) -> Result<Value, ExecuteError> {
        let gid = text(params, "attachment_gid").to_string();
        let query = [("opt_fields", "name,download_url,size,host,resource_subtype")];
        let meta = data_only(self.client.request(Method::GET, path, &query, None).await?);
        let limit = MAX_DOWNLOAD_BYTES.min(self.client.settings().max_download_bytes);
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
        let bytes = match self
            .client
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
        let mut data = meta["data"].clone();
        if let Some(object) = data.as_object_mut() {
            object.remove("download_url");
            object.insert("size".into(), json!(bytes.len()));
            object.insert(
                "content_base64".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(&bytes)),
            );
        }
        Ok(json!({ "data": data }))
    }
}

/// A string param that validation already required (empty if absent).
fn text<'a>(params: &'a Map<String, Value>, name: &str) -> &'a str {
    params.get(name).and_then(Value::as_str).unwrap_or_default()
}

fn data_only(response: Value) -> Value {
    json!({ "data": response.get("data").cloned().unwrap_or(Value::Null) })
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
        Ty::Bool => "boolean".into(),
        Ty::StrList => "array of strings".into(),
        Ty::Enum(values) => format!("one of {}", values.join("|")),
        Ty::Object => "object".into(),
    }
}

fn allowed(op: &Operation) -> String {
    op.params
        .iter()
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
    let object = match params {
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
        let Some(param) = op.params.iter().find(|p| p.name == name) else {
            problems.push(format!("unknown param `{name}`"));
            continue;
        };
        if value.is_null() && op.clearable(param) {
            continue;
        }
        if let Some(problem) = check_type(param.ty, value) {
            problems.push(format!("`{name}` {problem}"));
        } else if param.at == In::Path && matches!(value.as_str(), Some("." | "..")) {
            // A dot segment would be resolved away and change which endpoint is called.
            problems.push(format!("`{name}` must be a gid, not a dot segment"));
        }
    }
    for param in op.params.iter().filter(|p| p.required) {
        if !object.contains_key(param.name) {
            problems.push(format!("missing required param `{}`", param.name));
        }
    }
    for Rule::AnyGroup(groups) in op.rules {
        if !groups
            .iter()
            .any(|group| group.iter().all(|name| object.contains_key(*name)))
        {
            problems.push(format!("needs one of: {}", one_of(groups)));
        }
    }
    if problems.is_empty() {
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

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
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
        Ty::Int(min, max) => match value.as_i64() {
            Some(n) if n < min || n > max => {
                Some(format!("must be between {min} and {max}, got {n}"))
            }
            Some(_) => None,
            None => wrong(),
        },
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
    }
}

/// The path (with encoded path params), query pairs, and `{"data": ...}` body of a validated call.
fn build_request(
    op: &Operation,
    params: &Map<String, Value>,
) -> (String, Vec<(String, String)>, Option<Value>) {
    let mut path = op.path.to_string();
    let mut query = Vec::new();
    let mut body = Map::new();
    for param in op.params {
        let Some(value) = params.get(param.name) else {
            continue;
        };
        match param.at {
            In::Path => {
                let raw = value.as_str().unwrap_or_default();
                path = path.replace(&format!("{{{}}}", param.name), &encode_segment(raw));
            }
            // An empty list asks for nothing: send no pair (as the typed client does), rather
            // than an empty value.
            In::Query if value.as_array().is_some_and(Vec::is_empty) => {}
            In::Query => query.push((param.name.to_string(), query_value(value))),
            In::Body => {
                body.insert(param.name.to_string(), value.clone());
            }
        }
    }
    if matches!(op.kind, Kind::List) && !params.contains_key("limit") {
        query.push(("limit".into(), "100".into()));
    }
    let body = matches!(op.kind, Kind::Create | Kind::Update | Kind::Post)
        .then(|| json!({ "data": body }));
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
mod tests {
    use super::*;

    #[test]
    fn every_listed_entity_and_action_exists() {
        let expected: &[(&str, &[&str])] = &[
            ("tasks", &["list", "get", "create", "update", "delete"]),
            ("project_tasks", &["list"]),
            ("workspace_task_search", &["list"]),
            ("projects", &["list", "get", "create", "update", "delete"]),
            ("task_projects", &["list"]),
            ("team_projects", &["list"]),
            ("workspace_projects", &["list"]),
            ("workspaces", &["list", "get"]),
            ("users", &["list", "get"]),
            ("workspace_users", &["list"]),
            ("team_users", &["list"]),
            ("teams", &["get"]),
            ("workspace_teams", &["list"]),
            ("user_teams", &["list"]),
            ("attachments", &["list", "get", "create", "download"]),
            ("workspace_tags", &["list", "create"]),
            ("tags", &["get", "update", "delete"]),
            ("tag_tasks", &["list"]),
            ("project_sections", &["list", "create"]),
            ("sections", &["get", "update", "delete"]),
            ("section_tasks", &["list", "create"]),
            ("task_subtasks", &["list"]),
            ("task_dependencies", &["list"]),
            ("task_dependents", &["list"]),
            ("task_stories", &["list", "create"]),
            ("task_tags", &["create", "delete"]),
            ("workspace_memberships", &["create"]),
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
            for path_param in op.params.iter().filter(|p| p.at == In::Path) {
                assert!(path_param.required, "path params are required");
                assert!(op.path.contains(&format!("{{{}}}", path_param.name)));
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
            projects.schema()["properties"]["default_view"]["enum"]
                .as_array()
                .unwrap()
                .last(),
            Some(&Value::Null)
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
            "entity `teams` has no action `delete`; available actions: get"
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
        let (_, query, _) = build_request(op, &params);
        assert!(query.is_empty(), "workspace users take no limit");
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
