//! Helpers for tests that drive a server through rmcp's client (feature `testing`): connect,
//! call a tool with JSON arguments, read a result's structured content after checking how it is
//! shaped, and check a tool list as clients rely on it. For what rmcp's client cannot send or
//! report (no token, a refused `Host` or `Origin`, an over-sized body), [`post_raw`] sends one
//! JSON-RPC message to a streamable-HTTP endpoint as a plain HTTP request. They panic on anything
//! unexpected, with the result in the message.

use std::collections::HashSet;
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject, Tool};
use rmcp::service::RunningService;
use rmcp::transport::IntoTransport;
use rmcp::{Peer, RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::SERVER_NAME;

/// How long one call, a handshake or a raw request may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The protocol version raw requests announce.
const PROTOCOL_VERSION: &str = "2025-06-18";

/// A client after its handshake over `transport` (an in-memory stream, a child process, rmcp's
/// streamable-HTTP client); panics when the handshake fails or times out.
pub async fn connect<T, E, A>(transport: T) -> RunningService<RoleClient, ()>
where
    T: IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    tokio::time::timeout(CALL_TIMEOUT, ().serve(transport))
        .await
        .unwrap_or_else(|_| panic!("the handshake within {CALL_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("the handshake: {e}"))
}

/// Checks what the server told `client` in the handshake: its name is [`SERVER_NAME`]
/// ("integrations", not the SDK's default), and it offers tools.
pub fn assert_server_info(client: &Peer<RoleClient>) {
    assert_eq!(SERVER_NAME, "integrations");
    let info = client.peer_info().expect("server info from the handshake");
    let name = info.server_info.as_ref().map(|server| server.name.as_str());
    assert_eq!(name, Some(SERVER_NAME), "{info:?}");
    assert!(info.capabilities.tools.is_some(), "{info:?}");
}

/// Calls `tool` with `arguments` (a JSON object); panics on a protocol error or a timeout.
pub async fn call_tool(client: &Peer<RoleClient>, tool: &str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("tool arguments must be a JSON object, got {arguments}");
    };
    let request = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
    tokio::time::timeout(CALL_TIMEOUT, client.call_tool(request))
        .await
        .unwrap_or_else(|_| panic!("`{tool}` answered within {CALL_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("`{tool}` gave a tool result, not a protocol error: {e}"))
}

/// Calls the `execute` tool with `{entity, action, params}`, as [`call_tool`] does.
pub async fn call_execute(
    client: &Peer<RoleClient>,
    entity: &str,
    action: &str,
    params: Value,
) -> CallToolResult {
    call_tool(
        client,
        "execute",
        json!({"entity": entity, "action": action, "params": params}),
    )
    .await
}

/// The structured content of a successful result, after checking that its text is the same
/// JSON.
pub fn structured_ok(result: &CallToolResult) -> Value {
    assert_eq!(result.is_error, Some(false), "{result:?}");
    let value = result
        .structured_content
        .clone()
        .unwrap_or_else(|| panic!("structured content in {result:?}"));
    assert_eq!(text_of(result).parse::<Value>().ok(), Some(value.clone()));
    value
}

/// The `error` object of a failed result (`isError`), after checking that its text is the
/// error's message.
pub fn structured_error(result: &CallToolResult) -> Value {
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let error = result
        .structured_content
        .as_ref()
        .map(|content| content["error"].clone())
        .unwrap_or_else(|| panic!("structured content in {result:?}"));
    assert_eq!(
        error["message"].as_str(),
        Some(text_of(result)),
        "{result:?}"
    );
    error
}

/// The message of a failed result whose class is `invalid_params` (neither retryable nor a
/// matter of re-authorization), after checking that it names each of `fragments`.
pub fn invalid_params_message(result: &CallToolResult, fragments: &[&str]) -> String {
    let error = structured_error(result);
    assert_eq!(error["kind"], "invalid_params", "{error}");
    assert_eq!(error["retryable"], false, "{error}");
    assert_eq!(error["needs_reauthorization"], false, "{error}");
    let message = error["message"].as_str().unwrap_or_default().to_string();
    for fragment in fragments {
        assert!(message.contains(fragment), "`{fragment}` in {message}");
    }
    message
}

/// The text of the result's one content block.
fn text_of(result: &CallToolResult) -> &str {
    match result.content.as_slice() {
        [block] => match block.as_text() {
            Some(text) => &text.text,
            None => panic!("a text block in {result:?}"),
        },
        _ => panic!("one content block in {result:?}"),
    }
}

/// Checks a tool list as clients rely on it: names unique and made of ASCII letters, digits and
/// `_` only, and each input schema a JSON Schema of an object (see [`assert_schema_object`]).
pub fn assert_tools_well_formed(tools: &[Tool]) {
    let mut seen = HashSet::new();
    for tool in tools {
        let name = tool.name.as_ref();
        assert!(seen.insert(name), "`{name}` is listed twice");
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{name}"
        );
        assert_schema_object(&tool.input_schema, name);
    }
}

/// A JSON Schema of an object: valid against the 2020-12 meta-schema, typed properties, required
/// ones (when listed) among them, no top-level combinators.
pub fn assert_schema_object(schema: &JsonObject, name: &str) {
    let location = format!("urn:integrations:tool:{name}");
    let mut compiler = boon::Compiler::new();
    compiler.set_default_draft(boon::Draft::V2020_12);
    if let Err(e) = compiler
        .add_resource(&location, Value::Object(schema.clone()))
        .and_then(|()| compiler.compile(&location, &mut boon::Schemas::new()))
    {
        panic!("{name}: not a valid JSON Schema: {e:#}");
    }
    assert_eq!(schema["type"], "object", "{name}");
    for keyword in ["anyOf", "oneOf", "allOf"] {
        assert!(!schema.contains_key(keyword), "{name}: {keyword}");
    }
    let properties = schema["properties"].as_object().expect("properties");
    for (param, property) in properties {
        assert!(
            property["type"].is_string() || property["type"].is_array(),
            "{name}.{param}"
        );
    }
    if let Some(required) = schema.get("required") {
        for required in required.as_array().expect("required is an array") {
            assert!(
                properties.contains_key(required.as_str().unwrap_or_default()),
                "{name}: {required}"
            );
        }
    }
}

/// The JSON-RPC `initialize` request of a raw client.
pub fn initialize_request() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    }})
}

/// A JSON-RPC `tools/list` request.
pub fn list_tools_request() -> Value {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
}

/// POSTs one JSON-RPC message to the streamable-HTTP endpoint at `url` as a plain HTTP request,
/// with `headers` added (`authorization`, `host`, `origin`, ...); returns the status and the JSON
/// answer (`Null` when the body is not JSON). Panics when the request cannot be sent.
pub async fn post_raw(url: &str, message: &Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let client = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .build()
        .expect("an HTTP client");
    let mut request = client
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", PROTOCOL_VERSION)
        .json(message);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("the body from {url}: {e}"));
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
