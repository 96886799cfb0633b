//! The tools a server offers, computed once from the catalog: `describe` and `execute`, or one
//! tool per selected action; what a call to each means; and how its failures read.

use std::collections::BTreeMap;
use std::sync::Arc;

use auth_core::redact::json_kind;
use provider_asana::connector::{ActionEffect, AsanaConnector, EntityInfo, ExecuteError};
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{Map, Value, json};

use crate::executor::Refusal;

/// The name of the tool that lists the catalog.
pub(crate) const DESCRIBE: &str = "describe";
/// The name of the tool that runs one action.
pub(crate) const EXECUTE: &str = "execute";

/// Why a server could not be set up with the tools asked for.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A tools pattern selects no action of the catalog.
    #[error(
        "the tools pattern `{pattern}` matches no action; name actions entity.action, with * for \
         any part, e.g. tasks.list, tasks.*, *.list (the `describe` tool lists them)"
    )]
    NoMatch {
        /// The pattern.
        pattern: String,
    },
    /// Every selected action changes data, and the server is read-only.
    #[error(
        "every action the tools patterns `{patterns}` select changes data, and the server is \
         read-only: select some reads too, or serve without read-only"
    )]
    OnlyWrites {
        /// The patterns, comma-separated.
        patterns: String,
    },
}

/// Why a tool call failed: sent back as a tool result with `isError`, never as a protocol error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ToolError {
    /// The action failed or its params are wrong.
    #[error(transparent)]
    Execute(#[from] ExecuteError),
    /// The action changes data and the server is read-only.
    #[error(
        "{entity}.{action} changes data in Asana, and this server is read-only: nothing was sent; \
         only reads are available"
    )]
    ReadOnly {
        /// The entity.
        entity: String,
        /// The action.
        action: String,
    },
    /// The arguments of `describe` or `execute` are not what its input schema says.
    #[error("invalid arguments for the `{tool}` tool: {problem}")]
    InvalidArguments {
        /// The tool.
        tool: &'static str,
        /// What is wrong, and what it takes.
        problem: String,
    },
}

impl ToolError {
    /// Why the server refused a call it did not run.
    pub(crate) fn refusal(&self) -> Refusal {
        match self {
            ToolError::ReadOnly { .. } => Refusal::ReadOnly,
            ToolError::Execute(_) | ToolError::InvalidArguments { .. } => Refusal::InvalidArguments,
        }
    }

    /// `{"error": {kind, message, retryable, needs_reauthorization}}`, as the catalog reports
    /// errors to agents.
    pub(crate) fn to_json(&self) -> Value {
        let kind = match self {
            ToolError::Execute(e) => return e.to_json(),
            ToolError::ReadOnly { .. } => "read_only",
            ToolError::InvalidArguments { .. } => "invalid_arguments",
        };
        json!({"error": {
            "kind": kind,
            "message": self.to_string(),
            "retryable": false,
            "needs_reauthorization": false,
        }})
    }
}

/// A call resolved to what it asks for.
#[derive(Debug, PartialEq)]
pub(crate) enum Call {
    /// `describe`, of every entity or of one.
    Describe(Option<String>),
    /// One action.
    Execute {
        /// The entity.
        entity: String,
        /// The action.
        action: String,
        /// Its params.
        params: Value,
    },
}

/// Whether a tool name is one of the server's.
#[derive(Debug)]
pub(crate) enum Resolved {
    /// It is: the call, or why its arguments are wrong.
    Call(Result<Call, ToolError>),
    /// No tool has this name.
    UnknownTool,
}

/// The tools of one server.
pub(crate) struct ToolSet {
    read_only: bool,
    catalog: Vec<EntityInfo>,
    /// Per-action tools by name, with their entity and action; `None` for `describe` and
    /// `execute`.
    per_action: Option<BTreeMap<String, (&'static str, &'static str)>>,
    tools: Vec<Tool>,
}

/// The mode and the tools' names: the catalog and the tools' schemas are some 300 KB.
impl std::fmt::Debug for ToolSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSet")
            .field("read_only", &self.read_only)
            .field(
                "tools",
                &self.tools.iter().map(|tool| &tool.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ToolSet {
    /// `describe` and `execute`.
    pub(crate) fn describe_and_execute(read_only: bool) -> Self {
        let catalog = AsanaConnector::catalog();
        let tools = vec![describe_tool(&catalog, read_only), execute_tool(read_only)];
        Self {
            read_only,
            catalog,
            per_action: None,
            tools,
        }
    }

    /// One tool per action that `patterns` select (none: `describe` and `execute`).
    pub(crate) fn new(read_only: bool, patterns: &[String]) -> Result<Self, SetupError> {
        if patterns.is_empty() {
            return Ok(Self::describe_and_execute(read_only));
        }
        let catalog = AsanaConnector::catalog();
        let definitions: BTreeMap<String, Value> = AsanaConnector::tool_definitions()
            .into_iter()
            .filter_map(|d| Some((d["name"].as_str()?.to_string(), d)))
            .collect();
        let mut per_action = BTreeMap::new();
        let mut tools = Vec::new();
        let mut matched = vec![false; patterns.len()];
        for entity in &catalog {
            for action in &entity.actions {
                let name = format!("{}.{}", entity.entity, action.action);
                let mut selected = false;
                for (i, pattern) in patterns.iter().enumerate() {
                    if glob(pattern, &name) {
                        matched[i] = true;
                        selected = true;
                    }
                }
                if !selected || (read_only && action.effect != ActionEffect::Read) {
                    continue;
                }
                let definition = definitions
                    .get(&format!("asana_{}_{}", entity.entity, action.action))
                    .cloned()
                    .unwrap_or(Value::Null);
                let schema = match &definition["input_schema"] {
                    Value::Object(schema) => schema.clone(),
                    _ => empty_schema(),
                };
                let description = definition["description"]
                    .as_str()
                    .unwrap_or(action.description)
                    .to_string();
                let tool_name = tool_name(entity.entity, action.action);
                let mut tool = Tool::new(tool_name.clone(), description, Arc::new(schema));
                tool.annotations = Some(annotations(action.effect, action.idempotent));
                tools.push(tool);
                per_action.insert(tool_name, (entity.entity, action.action));
            }
        }
        if let Some(i) = matched.iter().position(|m| !m) {
            return Err(SetupError::NoMatch {
                pattern: patterns[i].clone(),
            });
        }
        if tools.is_empty() {
            return Err(SetupError::OnlyWrites {
                patterns: patterns.join(","),
            });
        }
        Ok(Self {
            read_only,
            catalog,
            per_action: Some(per_action),
            tools,
        })
    }

    /// Every tool, in a stable order.
    pub(crate) fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// What the server tells agents at the handshake: how to use the tools it offers, and
    /// whether writes are refused.
    pub(crate) fn instructions(&self) -> &'static str {
        match (self.per_action.is_some(), self.read_only) {
            (false, false) => {
                "Asana through your connection: call `describe` for the entities and actions, \
                 then `execute`."
            }
            (false, true) => {
                "Asana through your connection, read-only: call `describe` for the entities and \
                 actions, then `execute`; actions that change data are refused."
            }
            (true, false) => {
                "Asana through your connection: one tool per action, named {entity}_{action}, \
                 whose input schema lists the action's params."
            }
            (true, true) => {
                "Asana through your connection, read-only: one tool per action that reads, named \
                 {entity}_{action}, whose input schema lists the action's params."
            }
        }
    }

    /// What a call to `name` with `arguments` asks for.
    pub(crate) fn resolve(&self, name: &str, arguments: Option<JsonObject>) -> Resolved {
        let arguments = arguments.unwrap_or_default();
        match &self.per_action {
            Some(tools) => match tools.get(name) {
                Some((entity, action)) => Resolved::Call(Ok(Call::Execute {
                    entity: entity.to_string(),
                    action: action.to_string(),
                    params: Value::Object(arguments),
                })),
                None => Resolved::UnknownTool,
            },
            None if name == DESCRIBE => Resolved::Call(describe_call(arguments)),
            None if name == EXECUTE => Resolved::Call(execute_call(arguments)),
            None => Resolved::UnknownTool,
        }
    }

    /// Whether the server refuses `entity.action` (a write while read-only): checked before the
    /// executor sees the call.
    pub(crate) fn refuse(&self, entity: &str, action: &str) -> Result<(), ToolError> {
        if !self.read_only {
            return Ok(());
        }
        let writes = self
            .catalog
            .iter()
            .filter(|e| e.entity == entity)
            .flat_map(|e| &e.actions)
            .any(|a| a.action == action && a.effect != ActionEffect::Read);
        if writes {
            return Err(ToolError::ReadOnly {
                entity: entity.to_string(),
                action: action.to_string(),
            });
        }
        Ok(())
    }

    /// The answer of `describe`: every entity with its actions and their one-line descriptions,
    /// or one entity with the params schema of each action. Writes are left out when read-only,
    /// and so are entities left with no action.
    pub(crate) fn describe(&self, entity: Option<&str>) -> Result<Value, ToolError> {
        let read_only = self.read_only;
        let entities = || offered(&self.catalog, read_only);
        let Some(name) = entity else {
            let entities: Vec<Value> = entities()
                .map(|e| {
                    let actions: Vec<Value> = e
                        .actions
                        .iter()
                        .filter(|a| visible(a.effect, read_only))
                        .map(|a| {
                            json!({"action": a.action, "description": a.description, "effect": a.effect})
                        })
                        .collect();
                    json!({"entity": e.entity, "actions": actions})
                })
                .collect();
            return Ok(json!({"read_only": read_only, "entities": entities}));
        };
        let Some(info) = entities().find(|e| e.entity == name) else {
            return Err(ExecuteError::UnknownEntity {
                entity: name.to_string(),
                available: entities().map(|e| e.entity).collect::<Vec<_>>().join(", "),
            }
            .into());
        };
        let actions: Vec<Value> = info
            .actions
            .iter()
            .filter(|a| visible(a.effect, read_only))
            .map(|a| {
                json!({
                    "action": a.action,
                    "description": a.description,
                    "effect": a.effect,
                    "idempotent": a.idempotent,
                    "params_schema": a.params_schema,
                })
            })
            .collect();
        Ok(json!({"read_only": self.read_only, "entity": info.entity, "actions": actions}))
    }
}

/// `{entity}_{action}` with every character other than ASCII letters, digits and `_` replaced by
/// `_`, the names every MCP client accepts.
pub(crate) fn tool_name(entity: &str, action: &str) -> String {
    format!("{entity}_{action}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters (none too).
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let middle: Vec<&str> = parts.collect();
    let Some((last, middle)) = middle.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Whether an action with this effect is offered: every action is, only reads when read-only.
fn visible(effect: ActionEffect, read_only: bool) -> bool {
    !read_only || effect == ActionEffect::Read
}

/// The entities `describe` offers: those with an action offered.
fn offered(catalog: &[EntityInfo], read_only: bool) -> impl Iterator<Item = &EntityInfo> {
    catalog
        .iter()
        .filter(move |e| e.actions.iter().any(|a| visible(a.effect, read_only)))
}

/// The hints of an action with this effect.
fn annotations(effect: ActionEffect, idempotent: bool) -> ToolAnnotations {
    let annotations = ToolAnnotations::new().open_world(true);
    match effect {
        ActionEffect::Read => annotations.read_only(true),
        ActionEffect::Write => annotations
            .read_only(false)
            .destructive(false)
            .idempotent(idempotent),
        _ => annotations
            .read_only(false)
            .destructive(true)
            .idempotent(idempotent),
    }
}

fn empty_schema() -> JsonObject {
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(object) => object,
        _ => empty_schema(),
    }
}

fn describe_tool(catalog: &[EntityInfo], read_only: bool) -> Tool {
    let entities: Vec<&str> = offered(catalog, read_only).map(|e| e.entity).collect();
    let schema = object(json!({
        "type": "object",
        "properties": {
            "entity": {
                "type": "string",
                "enum": entities,
                "description": "An entity: its actions are listed with the JSON Schema of their params. Leave out to list every entity with its actions",
            },
        },
        "additionalProperties": false,
    }));
    let description = format!(
        "List what Asana offers through `execute`: every entity with its actions and what each \
         does; with `entity`, also each action's params as a JSON Schema.{}",
        if read_only {
            " Only reads are available."
        } else {
            ""
        }
    );
    let mut tool = Tool::new(DESCRIBE, description, Arc::new(schema));
    tool.annotations = Some(ToolAnnotations::new().read_only(true).open_world(false));
    tool
}

fn execute_tool(read_only: bool) -> Tool {
    let schema = object(json!({
        "type": "object",
        "properties": {
            "entity": {"type": "string", "description": "The entity, e.g. tasks (see `describe`)"},
            "action": {"type": "string", "description": "The action, e.g. list, get, create, update, delete"},
            "params": {"type": "object", "description": "The action's params, as `describe {entity}` lists them, e.g. {\"project\": \"1201\"}"},
        },
        "required": ["entity", "action"],
        "additionalProperties": false,
    }));
    let description = format!(
        "Run one Asana action: {{entity, action, params}}. Call `describe` first for the entities, \
         actions and params. Reads take `select_fields` and `exclude_fields` to return fewer \
         fields; lists page with `limit` and `offset`.{}",
        if read_only {
            " This server is read-only: actions that change data are refused."
        } else {
            ""
        }
    );
    let mut tool = Tool::new(EXECUTE, description, Arc::new(schema));
    let annotations = ToolAnnotations::new().open_world(true);
    tool.annotations = Some(if read_only {
        annotations.read_only(true)
    } else {
        annotations
            .read_only(false)
            .destructive(true)
            .idempotent(false)
    });
    tool
}

/// `describe {entity?}`.
fn describe_call(mut arguments: JsonObject) -> Result<Call, ToolError> {
    let invalid = |problem: String| ToolError::InvalidArguments {
        tool: DESCRIBE,
        problem,
    };
    let entity = match arguments.remove("entity") {
        None | Some(Value::Null) => None,
        Some(Value::String(entity)) => Some(entity),
        Some(other) => {
            return Err(invalid(format!(
                "`entity` must be a string, got {}",
                json_kind(&other)
            )));
        }
    };
    if let Some(name) = arguments.keys().next() {
        return Err(invalid(format!(
            "unknown argument `{name}`; `describe` takes only `entity`"
        )));
    }
    Ok(Call::Describe(entity))
}

/// `execute {entity, action, params?}`.
fn execute_call(mut arguments: JsonObject) -> Result<Call, ToolError> {
    let mut problems = Vec::new();
    let mut text = |name: &str, arguments: &mut JsonObject| match arguments.remove(name) {
        Some(Value::String(value)) => value,
        None | Some(Value::Null) => {
            problems.push(format!("missing `{name}`"));
            String::new()
        }
        Some(other) => {
            problems.push(format!(
                "`{name}` must be a string, got {}",
                json_kind(&other)
            ));
            String::new()
        }
    };
    let entity = text("entity", &mut arguments);
    let action = text("action", &mut arguments);
    let params = match arguments.remove("params") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Object(params)) => Value::Object(params),
        Some(other) => {
            problems.push(format!(
                "`params` must be a JSON object, got {}",
                json_kind(&other)
            ));
            Value::Null
        }
    };
    for name in arguments.keys() {
        problems.push(format!("unknown argument `{name}`"));
    }
    if !problems.is_empty() {
        return Err(ToolError::InvalidArguments {
            tool: EXECUTE,
            problem: format!(
                "{}; `execute` takes {{entity, action, params}}, e.g. {{\"entity\": \"tasks\", \"action\": \"list\", \"params\": {{\"project\": \"1201\"}}}}",
                problems.join("; ")
            ),
        });
    }
    Ok(Call::Execute {
        entity,
        action,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        for (pattern, text) in [
            ("tasks.*", "tasks.list"),
            ("*.list", "project_tasks.list"),
            ("*", "batch.submit"),
            ("tasks.list", "tasks.list"),
            ("task*.d*", "task_tags.delete"),
            ("*a*a*", "aa"),
        ] {
            assert!(glob(pattern, text), "{pattern} {text}");
        }
        for (pattern, text) in [
            ("tasks.*", "project_tasks.list"),
            ("*.list", "tasks.list_all"),
            ("tasks.list", "tasks.lis"),
            ("*a*a*", "a"),
            ("tasks", "tasks.list"),
        ] {
            assert!(!glob(pattern, text), "{pattern} {text}");
        }
    }

    #[test]
    fn tool_names_keep_only_letters_digits_and_underscores() {
        assert_eq!(tool_name("tasks", "list"), "tasks_list");
        assert_eq!(tool_name("a.b-c", "d e"), "a_b_c_d_e");
    }

    #[test]
    fn execute_arguments_are_checked_with_every_problem_named() {
        let call = |arguments: Value| execute_call(object(arguments));
        assert_eq!(
            call(json!({"entity": "tasks", "action": "list"})).unwrap(),
            Call::Execute {
                entity: "tasks".into(),
                action: "list".into(),
                params: Value::Null
            }
        );
        let err = call(json!({"entity": 1, "params": [], "extra": true})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid arguments for the `execute` tool: `entity` must be a string, got a number; \
             missing `action`; `params` must be a JSON object, got an array; unknown argument \
             `extra`; `execute` takes {entity, action, params}, e.g. {\"entity\": \"tasks\", \
             \"action\": \"list\", \"params\": {\"project\": \"1201\"}}"
        );
        assert_eq!(err.to_json()["error"]["kind"], "invalid_arguments");
        let err = describe_call(object(json!({"entity": 3}))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid arguments for the `describe` tool: `entity` must be a string, got a number"
        );
    }
}
