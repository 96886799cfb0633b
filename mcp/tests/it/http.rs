//! The streamable-HTTP endpoint, mounted in axum on a loopback port: stateless JSON-RPC over POST,
//! with `Host` and `Origin` checks, and each request answered by the server its route chose.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use integrations_mcp::{HttpSettings, McpServer, http_service};
use provider_asana_testkit::{MockAsana, seed};
use serde_json::{Value, json};

use crate::connector;

/// Serves `/mcp` on a free loopback port with one read-only server for every request; returns
/// its URL.
async fn serve(mock: &MockAsana, settings: HttpSettings) -> String {
    let server = McpServer::builder()
        .read_only(true)
        .build(Arc::new(connector(mock)))
        .unwrap();
    listen(
        axum::Router::new()
            .nest_service("/mcp", http_service(settings))
            .layer(Extension(server)),
    )
    .await
}

async fn listen(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/mcp")
}

/// As a hosted service would: the bearer token names the caller's server; none is 401, an unknown
/// one 404.
async fn choose(
    State(servers): State<Arc<HashMap<&'static str, McpServer>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(token) = token else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Some(server) = servers.get(token).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    request.extensions_mut().insert(server);
    next.run(request).await
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

fn tool_names(answer: &Value) -> Vec<String> {
    answer["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn each_request_is_answered_by_the_server_its_route_chose() {
    let mock = MockAsana::start().await;
    let connector = Arc::new(connector(&mock));
    let servers: HashMap<&'static str, McpServer> = HashMap::from([
        (
            "reader",
            McpServer::builder()
                .read_only(true)
                .tools(["tasks.*"])
                .build(connector.clone())
                .unwrap(),
        ),
        (
            "writer",
            McpServer::builder()
                .tools(["tasks.*"])
                .build(connector)
                .unwrap(),
        ),
    ]);
    let url = listen(
        axum::Router::new()
            .nest_service("/mcp", http_service(HttpSettings::default()))
            .layer(from_fn_with_state(Arc::new(servers), choose)),
    )
    .await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});

    assert_eq!(post(&url, list.clone(), &[]).await.0, 401);
    assert_eq!(
        post(
            &url,
            list.clone(),
            &[("authorization", "Bearer someone-else")]
        )
        .await
        .0,
        404
    );
    let (status, answer) = post(&url, list.clone(), &[("authorization", "Bearer reader")]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(tool_names(&answer), ["tasks_list", "tasks_get"]);
    let (status, answer) = post(&url, list, &[("authorization", "Bearer writer")]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        tool_names(&answer),
        [
            "tasks_list",
            "tasks_get",
            "tasks_create",
            "tasks_update",
            "tasks_delete"
        ]
    );

    // A route that chose no server answers with a JSON-RPC error, not a tool list.
    let bare =
        listen(axum::Router::new().nest_service("/mcp", http_service(HttpSettings::default())))
            .await;
    let (_, answer) = post(
        &bare,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        &[],
    )
    .await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("no MCP server for this request"),
        "{answer}"
    );
    assert_eq!(mock.api_requests(), 0);
}
