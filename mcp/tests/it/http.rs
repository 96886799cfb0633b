//! The streamable-HTTP endpoint, mounted in axum on a loopback port and called through rmcp's
//! streamable-HTTP client: stateless JSON-RPC over POST, each request answered by the server its
//! route chose. What that client cannot send (no token, another `Host` or `Origin`) goes as a
//! plain HTTP request (`testing::post_raw`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use integrations_mcp::testing::{
    assert_server_info, assert_tools_well_formed, call_execute, call_tool, connect,
    initialize_request, invalid_params_message, list_tools_request, post_raw, structured_error,
    structured_ok,
};
use integrations_mcp::{HttpSettings, McpServer, http_service};
use provider_asana_testkit::{MockAsana, seed};
use rmcp::RoleClient;
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

use crate::{
    DESCRIBE_THEN_EXECUTE_READ_ONLY, PER_ACTION, PER_ACTION_READ_ONLY, assert_tasks_tools,
    connector, create_task, hints, instructions, names,
};

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

/// rmcp's streamable-HTTP client after its handshake with `url`, sending `token` as its bearer
/// token.
async fn connect_http(url: &str, token: Option<&str>) -> RunningService<RoleClient, ()> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    connect(StreamableHttpClientTransport::from_config(config)).await
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

#[tokio::test]
async fn rmcp_clients_initialize_list_describe_and_execute_over_stateless_http() {
    let mock = MockAsana::start().await;
    let url = serve(&mock, HttpSettings::default()).await;
    let client = connect_http(&url, None).await;

    assert_server_info(&client);
    assert_eq!(instructions(&client), DESCRIBE_THEN_EXECUTE_READ_ONLY);
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(names(&tools), ["describe", "execute"]);
    assert_tools_well_formed(&tools);
    assert_eq!(hints(&tools[1]), (Some(true), None, None));

    let all = structured_ok(&call_tool(&client, "describe", json!({})).await);
    assert_eq!(all["read_only"], true);
    let tasks = all["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entity"] == "tasks")
        .unwrap();
    assert_eq!(tasks["actions"].as_array().unwrap().len(), 2);
    assert_eq!(mock.api_requests(), 0);

    let read = structured_ok(
        &call_execute(
            &client,
            "tasks",
            "get",
            json!({"task_gid": seed::VENUE_TASK_GID, "select_fields": ["name"]}),
        )
        .await,
    );
    assert_eq!(
        read,
        json!({"data": {"gid": seed::VENUE_TASK_GID, "name": "Book venue"}})
    );
    assert_eq!(mock.api_requests(), 1);

    // A bad param and a write on a read-only server: tool errors, and nothing reaches Asana.
    invalid_params_message(
        &call_execute(&client, "tasks", "get", json!({"task": "1"})).await,
        &["unknown param `task`"],
    );
    let error = structured_error(
        &call_execute(
            &client,
            "tasks",
            "delete",
            json!({"task_gid": seed::VENUE_TASK_GID}),
        )
        .await,
    );
    assert_eq!(error["kind"], "read_only");
    assert_eq!(mock.api_requests(), 1);
    assert!(mock.object(seed::VENUE_TASK_GID).is_some());
}

#[tokio::test]
async fn other_hosts_and_origins_are_refused() {
    let mock = MockAsana::start().await;
    let settings = HttpSettings::default()
        .allowed_hosts(["mcp.example.com", "127.0.0.1"])
        .allowed_origins(["https://app.example.com:443"]);
    let url = serve(&mock, settings).await;

    let (status, _) = post_raw(&url, &initialize_request(), &[("host", "evil.example")]).await;
    assert_eq!(status, 403);
    let (status, _) = post_raw(
        &url,
        &initialize_request(),
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(status, 403);
    let (status, answer) =
        post_raw(&url, &initialize_request(), &[("host", "mcp.example.com")]).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post_raw(
        &url,
        &initialize_request(),
        &[("origin", "https://app.example.com")],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // rmcp's client sends the loopback Host it connects to, which is allowed.
    let client = connect_http(&url, None).await;
    assert_eq!(names(&client.list_all_tools().await.unwrap()).len(), 2);
    assert_eq!(mock.api_requests(), 0);
}

/// The default settings accept no browser origin: a request with an `Origin` is 403 even on a
/// loopback `Host`, while one without (not from a browser) is served.
#[tokio::test]
async fn by_default_every_origin_is_refused() {
    let mock = MockAsana::start().await;
    let url = serve(&mock, HttpSettings::default()).await;
    let (status, answer) = post_raw(&url, &initialize_request(), &[]).await;
    assert_eq!(status, 200, "{answer}");
    for origin in ["https://evil.example", "http://127.0.0.1"] {
        let (status, answer) = post_raw(&url, &initialize_request(), &[("origin", origin)]).await;
        assert_eq!(status, 403, "{origin}: {answer}");
    }
    assert_eq!(mock.api_requests(), 0);
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

    assert_eq!(post_raw(&url, &list_tools_request(), &[]).await.0, 401);
    assert_eq!(
        post_raw(
            &url,
            &list_tools_request(),
            &[("authorization", "Bearer someone-else")]
        )
        .await
        .0,
        404
    );

    // One tool per action: the reader's hide the writes and refuse them as unknown tools.
    let reader = connect_http(&url, Some("reader")).await;
    assert_eq!(instructions(&reader), PER_ACTION_READ_ONLY);
    let tools = reader.list_all_tools().await.unwrap();
    assert_eq!(names(&tools), ["tasks_list", "tasks_get"]);
    assert_tools_well_formed(&tools);
    let unknown = reader
        .call_tool(
            CallToolRequestParams::new("tasks_delete").with_arguments(
                json!({"task_gid": seed::DRAFT_TASK_GID})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap_err();
    assert!(
        unknown.to_string().contains("unknown tool `tasks_delete`"),
        "{unknown}"
    );
    assert_eq!(mock.api_requests(), 0);
    assert!(mock.object(seed::DRAFT_TASK_GID).is_some());

    let writer = connect_http(&url, Some("writer")).await;
    assert_eq!(instructions(&writer), PER_ACTION);
    let tools = writer.list_all_tools().await.unwrap();
    assert_tasks_tools(&tools);
    assert_tools_well_formed(&tools);
    let gid = create_task(&writer, &mock, "Write the MCP docs").await;
    let read = structured_ok(&call_tool(&reader, "tasks_get", json!({"task_gid": gid})).await);
    assert_eq!(read["data"]["name"], "Write the MCP docs");
    invalid_params_message(
        &call_tool(&writer, "tasks_delete", json!({"task_gid": 7})).await,
        &["`task_gid` must be string, got a number"],
    );
    assert_eq!(mock.api_requests(), 2);

    // A route that chose no server answers with a JSON-RPC error, not a tool list.
    let bare =
        listen(axum::Router::new().nest_service("/mcp", http_service(HttpSettings::default())))
            .await;
    let (_, answer) = post_raw(&bare, &list_tools_request(), &[]).await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("no MCP server for this request"),
        "{answer}"
    );
    assert_eq!(mock.api_requests(), 2);
}
