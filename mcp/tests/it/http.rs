//! The streamable-HTTP endpoint, mounted in axum on a loopback port: stateless JSON-RPC over POST,
//! with `Host` and `Origin` checks.

use std::sync::Arc;
use std::time::Duration;

use integrations_mcp::{HttpSettings, McpServer, http_service};
use provider_asana_testkit::{MockAsana, seed};
use serde_json::{Value, json};

use crate::connector;

/// Serves `/mcp` on a free loopback port; returns its URL.
async fn serve(mock: &MockAsana, settings: HttpSettings) -> String {
    let server = McpServer::builder()
        .read_only(true)
        .build(Arc::new(connector(mock)))
        .unwrap();
    let router =
        axum::Router::new().nest_service("/mcp", http_service(move || server.clone(), settings));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/mcp")
}

/// POSTs one JSON-RPC message with extra headers; returns the status and the JSON answer (null
/// when there is none).
async fn post(url: &str, message: Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut request = client
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&message);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    }})
}

#[tokio::test]
async fn stateless_json_rpc_over_post() {
    let mock = MockAsana::start().await;
    let url = serve(&mock, HttpSettings::default()).await;

    let (status, answer) = post(&url, initialize(), &[]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["serverInfo"]["name"], "integrations");

    let (status, answer) = post(
        &url,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let names: Vec<&str> = answer["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["describe", "execute"]);

    let (status, answer) = post(
        &url,
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "execute",
            "arguments": {"entity": "tasks", "action": "get",
                          "params": {"task_gid": seed::VENUE_TASK_GID, "select_fields": ["name"]}},
        }}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["result"]["structuredContent"],
        json!({"data": {"gid": seed::VENUE_TASK_GID, "name": "Book venue"}})
    );

    let (status, answer) = post(
        &url,
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
            "name": "execute",
            "arguments": {"entity": "tasks", "action": "delete", "params": {"task_gid": seed::VENUE_TASK_GID}},
        }}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["isError"], true);
    assert_eq!(
        answer["result"]["structuredContent"]["error"]["kind"],
        "read_only"
    );
    assert!(mock.object(seed::VENUE_TASK_GID).is_some());
}

#[tokio::test]
async fn other_hosts_and_origins_are_refused() {
    let mock = MockAsana::start().await;
    let settings = HttpSettings::default()
        .allowed_hosts(["mcp.example.com", "127.0.0.1"])
        .allowed_origins(["https://app.example.com:443"]);
    let url = serve(&mock, settings).await;

    let (status, _) = post(&url, initialize(), &[("host", "evil.example")]).await;
    assert_eq!(status, 403);
    let (status, _) = post(&url, initialize(), &[("origin", "https://evil.example")]).await;
    assert_eq!(status, 403);
    let (status, answer) = post(&url, initialize(), &[("host", "mcp.example.com")]).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post(&url, initialize(), &[("origin", "https://app.example.com")]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(mock.api_requests(), 0);
}
