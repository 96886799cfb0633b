//! The MCP server in process, through rmcp's client over an in-memory stream, against the Asana
//! testkit: the tools listed, `describe`, tool errors, read-only and one tool per action; and the
//! streamable-HTTP endpoint through rmcp's HTTP client (`http`). `execute` through the CLI's
//! stored connection is tested in `cli/tests/cli.rs`.

mod http;

use std::sync::Arc;

use auth_core::SecretString;
use integrations_mcp::testing::{
    assert_server_info, assert_tools_well_formed, call_tool, connect, invalid_params_message,
    structured_error, structured_ok,
};
use integrations_mcp::{AnsweredCall, Executor, McpServer, SetupError};
use provider_asana::AsanaClientSettings;
use provider_asana::connector::{AsanaConnector, ExecuteError};
use provider_asana_testkit::{MockAsana, seed};
use rmcp::model::{CallToolRequestParams, Tool};
use rmcp::service::RunningService;
use rmcp::{Peer, RoleClient, ServiceExt};
use serde_json::{Value, json};
use url::Url;

/// A connector with the testkit's personal access token, against `mock`.
fn connector(mock: &MockAsana) -> AsanaConnector {
    let settings = AsanaClientSettings::new(Url::parse(&mock.api_base_url()).unwrap());
    AsanaConnector::with_token_and_settings(
        SecretString::from(mock.personal_access_token()),
        settings,
    )
    .unwrap()
}

/// A client connected to `server` over an in-memory stream.
async fn connect_in_memory(server: McpServer) -> RunningService<RoleClient, ()> {
    let (client_side, server_side) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_side).await {
            let _ = running.waiting().await;
        }
    });
    connect(client_side).await
}

/// What a server with `describe` and `execute` tells agents at the handshake.
const DESCRIBE_THEN_EXECUTE: &str =
    "Asana through your connection: call `describe` for the entities and actions, then `execute`.";
/// The same, read-only.
const DESCRIBE_THEN_EXECUTE_READ_ONLY: &str = "Asana through your connection, read-only: call \
    `describe` for the entities and actions, then `execute`; actions that change data are refused.";
/// What a server with one tool per action tells agents.
const PER_ACTION: &str = "Asana through your connection: one tool per action, named \
    {entity}_{action}, whose input schema lists the action's params.";
/// The same, read-only.
const PER_ACTION_READ_ONLY: &str = "Asana through your connection, read-only: one tool per action \
    that reads, named {entity}_{action}, whose input schema lists the action's params.";

/// The instructions the server gave `client` at the handshake.
fn instructions(client: &Peer<RoleClient>) -> String {
    let info = client.peer_info().expect("server info from the handshake");
    info.instructions.clone().expect("instructions")
}

fn names(tools: &[Tool]) -> Vec<String> {
    tools.iter().map(|t| t.name.to_string()).collect()
}

fn hints(tool: &Tool) -> (Option<bool>, Option<bool>, Option<bool>) {
    let a = tool.annotations.clone().expect("annotations");
    (a.read_only_hint, a.destructive_hint, a.idempotent_hint)
}

/// Checks the tools of a server built with `.tools(["tasks.*"])`: one per tasks action, in the
/// catalog's order, with hints from what each does.
fn assert_tasks_tools(tools: &[Tool]) {
    assert_eq!(
        names(tools),
        [
            "tasks_list",
            "tasks_get",
            "tasks_create",
            "tasks_update",
            "tasks_delete"
        ]
    );
    let hints: Vec<_> = tools.iter().map(hints).collect();
    assert_eq!(
        hints,
        [
            (Some(true), None, None),
            (Some(true), None, None),
            (Some(false), Some(false), Some(false)),
            (Some(false), Some(false), Some(true)),
            (Some(false), Some(true), Some(true)),
        ]
    );
}

/// Creates a task named `name` in the launch project through `tasks_create`; returns its gid
/// after checking that the testkit holds it.
async fn create_task(client: &Peer<RoleClient>, mock: &MockAsana, name: &str) -> String {
    let created = structured_ok(
        &call_tool(
            client,
            "tasks_create",
            json!({"name": name, "projects": [seed::LAUNCH_PROJECT_GID]}),
        )
        .await,
    );
    let gid = created["data"]["gid"].as_str().unwrap().to_string();
    assert_eq!(mock.object(&gid).unwrap()["name"], name);
    gid
}

#[tokio::test]
async fn the_server_names_itself_and_offers_describe_and_execute() {
    let mock = MockAsana::start().await;
    let server = McpServer::builder()
        .build(Arc::new(connector(&mock)))
        .unwrap();
    assert_eq!(
        format!("{server:?}"),
        r#"McpServer { tools: ToolSet { read_only: false, tools: ["describe", "execute"], .. }, .. }"#,
        "the mode and the tools' names, not the catalog"
    );
    let client = connect_in_memory(server).await;
    assert_server_info(&client);
    assert_eq!(instructions(&client), DESCRIBE_THEN_EXECUTE);

    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(names(&tools), ["describe", "execute"]);
    assert_tools_well_formed(&tools);
    assert_eq!(hints(&tools[0]), (Some(true), None, None));
    assert_eq!(hints(&tools[1]), (Some(false), Some(true), Some(false)));
    assert_eq!(
        tools[1].input_schema["required"],
        json!(["entity", "action"])
    );
    let entities = tools[0].input_schema["properties"]["entity"]["enum"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(entities, AsanaConnector::catalog().len());
    assert_eq!(mock.api_requests(), 0);
}

#[tokio::test]
async fn describe_lists_everything_whatever_the_cap_and_one_entity_with_schemas() {
    let mock = MockAsana::start().await;
    // A cap far below the catalog's size: describe is not an action and is never cut.
    let server = McpServer::builder()
        .build(Arc::new(connector(&mock).with_max_result_chars(50)))
        .unwrap();
    let client = connect_in_memory(server).await;
    let catalog = AsanaConnector::catalog();

    let all = structured_ok(&call_tool(&client, "describe", json!({})).await);
    assert_eq!(all["read_only"], false);
    let entities = all["entities"].as_array().unwrap();
    assert_eq!(entities.len(), catalog.len());
    let actions: usize = entities
        .iter()
        .map(|e| e["actions"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        actions,
        catalog.iter().map(|e| e.actions.len()).sum::<usize>()
    );
    let tasks = entities.iter().find(|e| e["entity"] == "tasks").unwrap();
    assert_eq!(
        tasks["actions"][0],
        json!({"action": "list", "description": catalog[0].actions[0].description, "effect": "read"})
    );
    assert!(tasks["actions"][0].get("params_schema").is_none());

    let one = structured_ok(&call_tool(&client, "describe", json!({"entity": "tasks"})).await);
    assert_eq!(one["entity"], "tasks");
    let delete = one["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "delete")
        .unwrap();
    assert_eq!(delete["effect"], "delete");
    assert_eq!(delete["idempotent"], true);
    let info = catalog.iter().find(|e| e.entity == "tasks").unwrap();
    let schema = &info
        .actions
        .iter()
        .find(|a| a.action == "delete")
        .unwrap()
        .params_schema;
    assert_eq!(&delete["params_schema"], schema);

    let error = structured_error(&call_tool(&client, "describe", json!({"entity": "taskz"})).await);
    assert_eq!(error["kind"], "unknown_entity");
    assert_eq!(mock.api_requests(), 0);
}

#[tokio::test]
async fn bad_params_and_arguments_are_tool_errors_and_nothing_is_sent() {
    let mock = MockAsana::start().await;
    let executor = Arc::new(connector(&mock));
    let client = connect_in_memory(McpServer::builder().build(executor.clone()).unwrap()).await;

    invalid_params_message(
        &call_tool(
            &client,
            "execute",
            json!({"entity": "tasks", "action": "get", "params": {"task": "1"}}),
        )
        .await,
        &["unknown param `task`", "missing required param `task_gid`"],
    );

    let error = structured_error(&call_tool(&client, "execute", json!({"entity": "tasks"})).await);
    assert_eq!(error["kind"], "invalid_arguments");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("missing `action`")
    );
    let error = structured_error(
        &call_tool(
            &client,
            "execute",
            json!({"entity": "tasks", "action": "archive"}),
        )
        .await,
    );
    assert_eq!(error["kind"], "unknown_action");

    let per_action = connect_in_memory(
        McpServer::builder()
            .tools(["tasks.get"])
            .build(executor)
            .unwrap(),
    )
    .await;
    invalid_params_message(
        &call_tool(&per_action, "tasks_get", json!({"task_gid": 7})).await,
        &["`task_gid` must be string, got a number"],
    );
    assert_eq!(mock.api_requests(), 0);

    // An unknown tool is the one protocol error.
    let unknown = per_action
        .call_tool(CallToolRequestParams::new("tasks_list"))
        .await
        .unwrap_err();
    assert!(
        unknown.to_string().contains("unknown tool `tasks_list`"),
        "{unknown}"
    );
}

/// At TRACE, rmcp's lines and the connector's included, no log line holds the connector's token,
/// through a tool list, a read, a provider's refusal and a bad call.
#[tokio::test]
async fn no_log_line_holds_the_connector_s_token() {
    let logs = auth_core::testing::CapturedLogs::default();
    let guard = tracing::subscriber::set_default(logs.subscriber(tracing::Level::TRACE));
    let mock = MockAsana::start().await;
    let client = connect_in_memory(
        McpServer::builder()
            .build(Arc::new(connector(&mock)))
            .unwrap(),
    )
    .await;
    client.list_all_tools().await.unwrap();
    structured_ok(&call_tool(
        &client,
        "execute",
        json!({"entity": "tasks", "action": "get", "params": {"task_gid": seed::VENUE_TASK_GID}}),
    )
    .await);
    structured_error(
        &call_tool(
            &client,
            "execute",
            json!({"entity": "tasks", "action": "get", "params": {"task_gid": "404"}}),
        )
        .await,
    );
    structured_error(&call_tool(&client, "execute", json!({"entity": "tasks"})).await);
    drop(client);
    drop(guard);
    let logged = logs.text();
    assert!(
        logged.contains("TRACE")
            && logged.contains("CallToolRequest")
            && logged.contains("asana_request"),
        "the calls' lines were captured: {logged}"
    );
    assert!(
        !logged.contains(mock.personal_access_token()),
        "a log line holds the token: {logged}"
    );
}

#[tokio::test]
async fn argument_errors_name_the_kind_of_a_value_never_the_value() {
    const CANARY: &str = "canary-7c1d-secret";
    let mock = MockAsana::start().await;
    let client = connect_in_memory(
        McpServer::builder()
            .build(Arc::new(connector(&mock)))
            .unwrap(),
    )
    .await;
    for (tool, arguments, message) in [
        (
            "describe",
            json!({"entity": {"token": CANARY}}),
            "invalid arguments for the `describe` tool: `entity` must be a string, got an object",
        ),
        (
            "execute",
            json!({"entity": [CANARY], "action": "list", "params": CANARY}),
            "invalid arguments for the `execute` tool: `entity` must be a string, got an array; \
             `params` must be a JSON object, got a string; `execute` takes {entity, action, \
             params}, e.g. {\"entity\": \"tasks\", \"action\": \"list\", \"params\": \
             {\"project\": \"1201\"}}",
        ),
    ] {
        let result = call_tool(&client, tool, arguments).await;
        let error = structured_error(&result);
        assert_eq!(error["kind"], "invalid_arguments");
        assert_eq!(error["message"], message);
        assert!(!format!("{result:?}").contains(CANARY), "{result:?}");
    }
    assert_eq!(mock.api_requests(), 0);
}

#[tokio::test]
async fn a_read_only_server_hides_and_refuses_writes() {
    let mock = MockAsana::start().await;
    let executor = Arc::new(connector(&mock));
    let client = connect_in_memory(
        McpServer::builder()
            .read_only(true)
            .build(executor.clone())
            .unwrap(),
    )
    .await;
    assert_eq!(instructions(&client), DESCRIBE_THEN_EXECUTE_READ_ONLY);
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(hints(&tools[1]), (Some(true), None, None));

    let all = structured_ok(&call_tool(&client, "describe", json!({})).await);
    assert_eq!(all["read_only"], true);
    let effects: Vec<&Value> = all["entities"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["actions"].as_array().unwrap())
        .map(|a| &a["effect"])
        .collect();
    assert!(!effects.is_empty());
    assert!(effects.iter().all(|e| *e == "read"), "{effects:?}");
    assert!(
        !all["entities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["entity"] == "batch")
    );
    // Entities left with no action (batch.submit writes) are neither in `describe`'s schema nor
    // described.
    let listed: Vec<&str> = all["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entity"].as_str().unwrap())
        .collect();
    assert!(listed.len() < AsanaConnector::catalog().len());
    assert_eq!(
        tools[0].input_schema["properties"]["entity"]["enum"],
        json!(listed)
    );
    let error = structured_error(&call_tool(&client, "describe", json!({"entity": "batch"})).await);
    assert_eq!(error["kind"], "unknown_entity");
    assert_eq!(
        error["message"],
        format!(
            "unknown entity `batch`; available entities: {}",
            listed.join(", ")
        )
    );
    let tasks = structured_ok(&call_tool(&client, "describe", json!({"entity": "tasks"})).await);
    let actions: Vec<&Value> = tasks["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["action"])
        .collect();
    assert_eq!(actions, [&json!("list"), &json!("get")]);

    for (action, params) in [
        (
            "create",
            json!({"name": "x", "workspace": seed::WORKSPACE_GID}),
        ),
        ("delete", json!({"task_gid": seed::DRAFT_TASK_GID})),
    ] {
        let error = structured_error(
            &call_tool(
                &client,
                "execute",
                json!({"entity": "tasks", "action": action, "params": params}),
            )
            .await,
        );
        assert_eq!(error["kind"], "read_only");
        assert_eq!(
            error["message"],
            format!(
                "tasks.{action} changes data in Asana, and this server is read-only: nothing was sent; only reads are available"
            )
        );
    }
    assert_eq!(mock.api_requests(), 0);
    assert!(mock.object(seed::DRAFT_TASK_GID).is_some());

    let read = structured_ok(&call_tool(
        &client,
        "execute",
        json!({"entity": "tasks", "action": "get", "params": {"task_gid": seed::VENUE_TASK_GID}}),
    )
    .await);
    assert_eq!(read["data"]["name"], "Book venue");

    let per_action = connect_in_memory(
        McpServer::builder()
            .read_only(true)
            .tools(["tasks.*"])
            .build(executor)
            .unwrap(),
    )
    .await;
    assert_eq!(instructions(&per_action), PER_ACTION_READ_ONLY);
    assert_eq!(
        names(&per_action.list_all_tools().await.unwrap()),
        ["tasks_list", "tasks_get"]
    );
}

#[tokio::test]
async fn one_tool_per_selected_action_with_its_schema_and_hints() {
    let mock = MockAsana::start().await;
    let executor = Arc::new(connector(&mock));
    let client = connect_in_memory(
        McpServer::builder()
            .tools(["tasks.*"])
            .build(executor.clone())
            .unwrap(),
    )
    .await;
    assert_eq!(instructions(&client), PER_ACTION);
    let tools = client.list_all_tools().await.unwrap();
    assert_tasks_tools(&tools);
    let definitions = AsanaConnector::tool_definitions();
    let list = definitions
        .iter()
        .find(|d| d["name"] == "asana_tasks_list")
        .unwrap();
    assert_eq!(
        Value::Object((*tools[0].input_schema).clone()),
        list["input_schema"]
    );
    assert_eq!(
        tools[0].description.as_deref(),
        list["description"].as_str()
    );

    let gid = create_task(&client, &mock, "Write the MCP docs").await;
    structured_ok(&call_tool(&client, "tasks_delete", json!({"task_gid": gid})).await);
    assert!(mock.object(&gid).is_none());

    // Every action at once: names unique, schemas objects without a top-level anyOf.
    let all = connect_in_memory(
        McpServer::builder()
            .tools(["*.*"])
            .build(executor.clone())
            .unwrap(),
    )
    .await;
    let tools = all.list_all_tools().await.unwrap();
    let count: usize = AsanaConnector::catalog()
        .iter()
        .map(|e| e.actions.len())
        .sum();
    assert_eq!(tools.len(), count);
    assert_tools_well_formed(&tools);
    for tool in &tools {
        assert!(tool.input_schema["required"].is_array(), "{}", tool.name);
    }

    let lists = connect_in_memory(
        McpServer::builder()
            .tools(["*.list", "tasks.get"])
            .build(executor)
            .unwrap(),
    )
    .await;
    let tools = lists.list_all_tools().await.unwrap();
    assert!(
        tools
            .iter()
            .all(|t| t.name.ends_with("_list") || t.name == "tasks_get")
    );
    assert!(names(&tools).contains(&"project_tasks_list".to_string()));
}

#[tokio::test]
async fn patterns_that_select_nothing_are_refused() {
    let mock = MockAsana::start().await;
    let executor = Arc::new(connector(&mock));
    let err = McpServer::builder()
        .tools(["tasks.*", "taks.*"])
        .build(executor.clone())
        .unwrap_err();
    assert!(
        matches!(&err, SetupError::NoMatch { pattern } if pattern == "taks.*"),
        "{err}"
    );
    let err = McpServer::builder()
        .read_only(true)
        .tools(["tasks.create", "*.delete"])
        .build(executor)
        .unwrap_err();
    assert!(
        matches!(&err, SetupError::OnlyWrites { patterns } if patterns == "tasks.create,*.delete"),
        "{err}"
    );
}

/// Records the calls a server answered without it, and passes actions to a connector.
struct Recording {
    connector: AsanaConnector,
    answered: std::sync::Mutex<Vec<AnsweredCall>>,
}

#[async_trait::async_trait]
impl Executor for Recording {
    async fn execute(
        &self,
        entity: &str,
        action: &str,
        params: Value,
    ) -> Result<Value, ExecuteError> {
        self.connector.execute(entity, action, params).await
    }

    async fn answered(&self, call: AnsweredCall) {
        self.answered.lock().unwrap().push(call);
    }
}

#[tokio::test]
async fn the_executor_hears_of_every_call_it_does_not_run() {
    let mock = MockAsana::start().await;
    let executor = Arc::new(Recording {
        connector: connector(&mock),
        answered: Default::default(),
    });
    let client = connect_in_memory(
        McpServer::builder()
            .read_only(true)
            .build(executor.clone())
            .unwrap(),
    )
    .await;
    structured_ok(&call_tool(&client, "describe", json!({"entity": "tasks"})).await);
    structured_error(&call_tool(&client, "describe", json!({"entity": "taskz"})).await);
    structured_error(
        &call_tool(
            &client,
            "execute",
            json!({"entity": "tasks", "action": "delete", "params": {"task_gid": seed::DRAFT_TASK_GID}}),
        )
        .await,
    );
    structured_error(&call_tool(&client, "execute", json!({"entity": "tasks"})).await);
    structured_ok(&call_tool(
        &client,
        "execute",
        json!({"entity": "tasks", "action": "get", "params": {"task_gid": seed::VENUE_TASK_GID}}),
    )
    .await);
    // Tools the server does not offer: protocol errors, heard all the same (`describe` of a
    // server with one tool per action is not a `describe`).
    let per_action = connect_in_memory(
        McpServer::builder()
            .read_only(true)
            .tools(["tasks.get"])
            .build(executor.clone())
            .unwrap(),
    )
    .await;
    for (client, tool) in [(&client, "tasks_list"), (&per_action, "describe")] {
        let unknown = client
            .call_tool(CallToolRequestParams::new(tool))
            .await
            .unwrap_err();
        assert!(
            unknown
                .to_string()
                .contains(&format!("unknown tool `{tool}`")),
            "{unknown}"
        );
    }

    let heard: Vec<String> = executor
        .answered
        .lock()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {} {:?} {:?} {:?} {:?}",
                c.tool, c.describe, c.entity, c.action, c.param_names, c.refused
            )
        })
        .collect();
    assert_eq!(
        heard,
        [
            r#"describe true Some("tasks") None [] None"#,
            r#"describe true Some("taskz") None [] Some(InvalidArguments)"#,
            r#"execute false Some("tasks") Some("delete") ["task_gid"] Some(ReadOnly)"#,
            r#"execute false None None [] Some(InvalidArguments)"#,
            r#"tasks_list false None None [] Some(UnknownTool)"#,
            r#"describe false None None [] Some(UnknownTool)"#,
        ]
    );
    // The read went to the executor, not to `answered`.
    assert_eq!(mock.api_requests(), 1);
}
