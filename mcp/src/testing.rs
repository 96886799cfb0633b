//! Helpers for tests that drive a server through rmcp's client (feature `testing`): call a tool
//! with JSON arguments, and read a result's structured content after checking how it is shaped.
//! They panic on anything unexpected, with the result in the message.

use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::{Peer, RoleClient};
use serde_json::Value;

/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

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
