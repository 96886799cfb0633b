//! `/mcp` with the service's tokens, called through rmcp's streamable-HTTP client as MCP clients
//! call it: the tools, reads and writes against MockAsana, read-only connectors, error classes as
//! tool errors, refresh under concurrent calls, and the audit log. What that client cannot send or
//! report goes as a plain HTTP request (`testing::post_raw`): no token (401), a connector the
//! caller does not own (404), `Host`/`Origin` outside the allow lists (403), an over-sized body,
//! and what the transport refuses (malformed JSON, a missing `Accept`, ...), in the service's
//! error JSON.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use integrations_mcp::testing::{
    assert_server_info, assert_tools_well_formed, call_execute, call_tool, connect,
    initialize_request, invalid_params_message, list_tools_request, post_raw, structured_error,
    structured_ok,
};
use provider_asana_testkit::{MockAsana, seed};
use rmcp::RoleClient;
use rmcp::model::Tool;
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

use crate::support::{Service, error_message};

/// How a request to `/mcp` is sent.
#[derive(Default)]
struct Call<'a> {
    token: Option<&'a str>,
    /// Appended to `/mcp`, e.g. `?connector_id=...`.
    query: String,
    headers: Vec<(&'a str, String)>,
}

impl<'a> Call<'a> {
    fn token(token: &'a str) -> Self {
        Self {
            token: Some(token),
            ..Self::default()
        }
    }

    fn connector(mut self, id: &str) -> Self {
        self.query = format!("?connector_id={id}");
        self
    }

    fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn url(&self, service: &Service) -> String {
        format!("{}/mcp{}", service.url, self.query)
    }
}

/// rmcp's streamable-HTTP client after its handshake with `/mcp`, sending what `call` says with
/// every request.
async fn client(service: &Service, call: &Call<'_>) -> RunningService<RoleClient, ()> {
    let headers: HashMap<HeaderName, HeaderValue> = call
        .headers
        .iter()
        .map(|(name, value)| {
            (
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            )
        })
        .collect();
    let mut config = StreamableHttpClientTransportConfig::with_uri(call.url(service))
        .custom_headers(headers)
        .max_concurrent_requests(CONCURRENT_CALLS);
    if let Some(token) = call.token {
        config = config.auth_header(token);
    }
    connect(StreamableHttpClientTransport::from_config(config)).await
}

/// POSTs one JSON-RPC message to `/mcp` as a plain HTTP request; the status and the JSON answer
/// (`Null` when none).
async fn post(service: &Service, call: &Call<'_>, message: Value) -> (u16, Value) {
    let bearer = call.token.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|value| ("authorization", value.as_str()))
        .chain(
            call.headers
                .iter()
                .map(|(name, value)| (*name, value.as_str())),
        )
        .collect();
    post_raw(&call.url(service), &message, &headers).await
}

/// A JSON-RPC `tools/call` of `execute`, for a plain HTTP request.
fn execute_request(entity: &str, action: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "execute",
        "arguments": {"entity": entity, "action": action, "params": params},
    }})
}

fn tool_names(tools: &[Tool]) -> Vec<&str> {
    tools.iter().map(|t| t.name.as_ref()).collect()
}

/// The `readOnlyHint` of the `execute` tool.
fn execute_read_only_hint(tools: &[Tool]) -> Option<bool> {
    assert_eq!(tools[1].name, "execute");
    tools[1].annotations.as_ref().and_then(|a| a.read_only_hint)
}

/// The caller's audit entries, newest first.
async fn audit(service: &Service, token: &str) -> Vec<Value> {
    let (status, body) = service.get("/api/v1/audit", Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

/// `operation entity.action [param names] outcome status` of an audit entry.
fn line(entry: &Value) -> String {
    format!(
        "{} {}.{} {} {} {}",
        entry["operation"].as_str().unwrap(),
        entry["entity"].as_str().unwrap_or("-"),
        entry["action"].as_str().unwrap_or("-"),
        entry["param_names"],
        entry["outcome"].as_str().unwrap(),
        entry["status"],
    )
}

/// Tool calls sent at once in the refresh test, and so the client's concurrent requests.
const CONCURRENT_CALLS: usize = 20;

#[tokio::test]
async fn a_scoped_token_lists_describes_reads_and_writes_and_every_call_is_audited() {
    let service = Service::start().await;
    let (app_token, id) = service.pat_connector().await;
    let scoped = service.scoped_token(&app_token, "c").await;
    let call = Call::token(&scoped);
    let client = client(&service, &call).await;

    assert_server_info(&client);
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tool_names(&tools), ["describe", "execute"]);
    assert_tools_well_formed(&tools);
    assert_eq!(execute_read_only_hint(&tools), Some(false));

    let all = structured_ok(&call_tool(&client, "describe", json!({})).await);
    assert_eq!(all["read_only"], false);
    assert!(
        all["entities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["entity"] == "tasks")
    );
    let tasks = structured_ok(&call_tool(&client, "describe", json!({"entity": "tasks"})).await);
    let create = tasks["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "create")
        .unwrap();
    assert_eq!(create["params_schema"]["type"], "object");
    assert_eq!(service.asana.api_requests(), 0);

    let get_task = |params: Value| call_execute(&client, "tasks", "get", params);
    let read = structured_ok(
        &get_task(json!({"task_gid": seed::VENUE_TASK_GID, "select_fields": ["name"]})).await,
    );
    assert_eq!(
        read,
        json!({"data": {"gid": seed::VENUE_TASK_GID, "name": "Book venue"}})
    );
    let written = structured_ok(
        &call_execute(
            &client,
            "tasks",
            "create",
            json!({"name": "Plan the MCP launch", "projects": [seed::LAUNCH_PROJECT_GID]}),
        )
        .await,
    );
    let gid = written["data"]["gid"].as_str().unwrap().to_string();
    assert_eq!(
        service.asana.object(&gid).unwrap()["name"],
        "Plan the MCP launch"
    );

    // Errors are tool errors with the library's classes: a bad param (nothing sent), Asana's 404.
    let sent = service.asana.api_requests();
    invalid_params_message(
        &get_task(json!({"task": "1"})).await,
        &["unknown param `task`"],
    );
    assert_eq!(service.asana.api_requests(), sent);
    let error = structured_error(&get_task(json!({"task_gid": "999"})).await);
    assert_eq!(
        (&error["kind"], &error["status"], &error["retryable"]),
        (&json!("api"), &json!(404), &json!(false))
    );

    let entries = audit(&service, &scoped).await;
    let lines: Vec<String> = entries.iter().take(6).map(line).collect();
    assert_eq!(
        lines,
        [
            r#"mcp.execute tasks.get ["task_gid"] error 404"#,
            r#"mcp.execute tasks.get ["task"] error 422"#,
            r#"mcp.execute tasks.create ["name","projects"] ok 200"#,
            r#"mcp.execute tasks.get ["select_fields","task_gid"] ok 200"#,
            r#"mcp.describe tasks.- [] ok 200"#,
            r#"mcp.describe -.- [] ok 200"#,
        ]
    );
    assert_eq!(entries[6]["operation"], "connector.create");
    assert!(
        entries[..6]
            .iter()
            .all(|e| e["connector_id"] == id.as_str() && e["customer_name"] == "c")
    );
    let text = Value::from(entries).to_string();
    assert!(
        !text.contains("Plan the MCP launch"),
        "values never audited"
    );
    assert!(!text.contains(seed::VENUE_TASK_GID));

    // A body over the service's limit (64 KiB here) is refused before it is read as JSON-RPC.
    let huge = execute_request(
        "tasks",
        "create",
        json!({"name": "x".repeat(70_000), "projects": [seed::LAUNCH_PROJECT_GID]}),
    );
    let (status, body) = post(&service, &call, huge).await;
    assert_eq!(status, 413, "{body}");
    assert!(error_message(&body).contains("larger than the service accepts"));
    assert_eq!(audit(&service, &scoped).await.len(), 7);
}

#[tokio::test]
async fn no_token_is_401_and_a_connector_the_caller_does_not_own_is_404() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let pat = json!({ "token": service.asana.personal_access_token() });
    let first = service.connector(&token, "c1", pat.clone()).await;
    let first = first["id"].as_str().unwrap();
    let second = service.connector(&token, "c2", pat.clone()).await;
    let second = second["id"].as_str().unwrap();
    let scoped = service.scoped_token(&token, "c1").await;

    let (status, body) = post(&service, &Call::default(), initialize_request()).await;
    assert_eq!(status, 401, "{body}");
    assert!(error_message(&body).contains("service token"));
    let (status, body) = post(&service, &Call::token("forged"), list_tools_request()).await;
    assert_eq!(status, 401, "{body}");

    // Another customer's connector through a scoped token, another application's connector, an
    // unknown id: 404, the same answer.
    let other = service.application("other").await;
    let other_token = service.app_token(&other).await;
    for (caller, id) in [
        (scoped.as_str(), second),
        (other_token.as_str(), first),
        (token.as_str(), "no-such-connector"),
    ] {
        let (status, body) = post(
            &service,
            &Call::token(caller).connector(id),
            list_tools_request(),
        )
        .await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(error_message(&body), "connector not found");
        let (status, _) = post(
            &service,
            &Call::token(caller).header("x-connector-id", id),
            list_tools_request(),
        )
        .await;
        assert_eq!(status, 404);
    }
    // A customer with no connector has nothing to reach either.
    let nobody = service.scoped_token(&token, "c3").await;
    let (status, _) = post(&service, &Call::token(&nobody), list_tools_request()).await;
    assert_eq!(status, 404);

    // An application token names the connector; a scoped token may, and must when its customer
    // has several.
    let (status, body) = post(&service, &Call::token(&token), list_tools_request()).await;
    assert_eq!(status, 400, "{body}");
    assert!(error_message(&body).contains("connector_id"));
    for call in [
        Call::token(&token).connector(first),
        Call::token(&token).header("x-connector-id", first),
        Call::token(&scoped),
        Call::token(&scoped).connector(first),
    ] {
        let client = client(&service, &call).await;
        assert_eq!(client.list_all_tools().await.unwrap().len(), 2);
    }
    let (status, body) = post(
        &service,
        &Call::token(&token)
            .connector(first)
            .header("x-connector-id", second),
        list_tools_request(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let again = service.connector(&token, "c1", pat).await;
    let again = again["id"].as_str().unwrap();
    let (status, body) = post(&service, &Call::token(&scoped), list_tools_request()).await;
    assert_eq!(status, 400, "{body}");
    let message = error_message(&body);
    assert!(
        message.contains(first) && message.contains(again),
        "{message}"
    );
    let chosen = client(&service, &Call::token(&scoped).connector(again)).await;
    assert_eq!(
        tool_names(&chosen.list_all_tools().await.unwrap()),
        ["describe", "execute"]
    );

    assert_eq!(service.asana.api_requests(), 0);
    assert!(
        audit(&service, &token)
            .await
            .iter()
            .all(|e| e["operation"] == "connector.create")
    );
}

/// A request to `/mcp` with this method, these headers and this body, with the token and the
/// connector of `call`; the status, the `Allow` header and the answer, which is the service's
/// error JSON (its content type checked).
async fn raw(
    service: &Service,
    call: &Call<'_>,
    method: reqwest::Method,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Option<String>, Value) {
    let mut request = service
        .http
        .request(method, call.url(service))
        .body(body.to_string());
    if let Some(token) = call.token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let (content_type, allow) = (header("content-type"), header("allow"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(content_type.as_deref(), Some("application/json"), "{body}");
    (status, allow, body)
}

/// The service's error JSON with this message, not retryable.
fn refusal(message: &str) -> Value {
    json!({ "message": message, "errors": [{ "message": message }], "retryable": false, "source": "service" })
}

/// What the MCP transport refuses before any tool runs answers the service's error JSON, like
/// every other route: malformed JSON and JSON that is no JSON-RPC message are 400, a missing
/// `Accept` 406, another content type 415, another method 405 with `Allow`, a `Host` or
/// `Origin` outside the allow lists 403 (before the token is looked at) naming the settings.
#[tokio::test]
async fn refusals_of_the_mcp_transport_answer_the_service_s_error_json() {
    let service = Service::start().await;
    let (token, id) = service.pat_connector().await;
    let call = Call::token(&token).connector(&id);
    let accept = ("accept", "application/json, text/event-stream");
    let json_type = ("content-type", "application/json");
    let list = list_tools_request().to_string();
    let post = reqwest::Method::POST;

    let malformed = raw(
        &service,
        &call,
        post.clone(),
        &[accept, json_type],
        "{not json",
    )
    .await;
    assert_eq!(
        malformed,
        (
            400,
            None,
            refusal(
                "the request body is not valid JSON (line 1, column 2): send one JSON-RPC message"
            )
        )
    );
    let not_rpc = raw(
        &service,
        &call,
        post.clone(),
        &[accept, json_type],
        r#"{"a": 1}"#,
    )
    .await;
    assert_eq!(
        not_rpc,
        (
            400,
            None,
            refusal(
                r#"the request body is JSON but not a JSON-RPC message: send an MCP request such as {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}"#
            )
        )
    );
    let no_accept = raw(&service, &call, post.clone(), &[json_type], &list).await;
    assert_eq!(
        no_accept,
        (
            406,
            None,
            refusal(
                "an MCP client must accept both JSON and event streams: send Accept: application/json, text/event-stream"
            )
        )
    );
    let text = raw(
        &service,
        &call,
        post.clone(),
        &[accept, ("content-type", "text/plain")],
        &list,
    )
    .await;
    assert_eq!(
        text,
        (
            415,
            None,
            refusal(
                "the request body must be a JSON-RPC message sent with Content-Type: application/json"
            )
        )
    );
    let get = raw(&service, &call, reqwest::Method::GET, &[accept], "").await;
    assert_eq!(
        get,
        (
            405,
            Some("POST".to_string()),
            refusal("this path does not take this method; the Allow header lists those it takes")
        )
    );
    let host = refusal(
        "/mcp does not accept this Host (a guard against DNS rebinding): it accepts the host of the service's public URL (integrations serve --public-url), loopback names when the service listens on loopback or on all addresses, or the hosts given with integrations serve --mcp-allowed-host (ServerBuilder::mcp_allowed_hosts), which replace those",
    );
    let origin = refusal(
        "/mcp does not accept requests from this Origin (a guard against other sites' pages in a browser): it accepts the origin of the service's public URL (integrations serve --public-url), loopback origins when the service listens on loopback or on all addresses, or the origins given with integrations serve --mcp-allowed-origin (ServerBuilder::mcp_allowed_origins), which replace those",
    );
    for caller in [&call, &Call::default()] {
        let refused = raw(
            &service,
            caller,
            post.clone(),
            &[accept, json_type, ("host", "evil.example")],
            &list,
        )
        .await;
        assert_eq!(refused, (403, None, host.clone()));
        let refused = raw(
            &service,
            caller,
            post.clone(),
            &[accept, json_type, ("origin", "https://evil.example")],
            &list,
        )
        .await;
        assert_eq!(refused, (403, None, origin.clone()));
    }
    // The same request, well formed, is answered.
    let (status, body) = self::post(&service, &call, list_tools_request()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["tools"][0]["name"], "describe");
}

#[tokio::test]
async fn hosts_and_origins_outside_the_allow_lists_are_refused() {
    let service = Service::start_configured(MockAsana::start().await, true, |builder| {
        builder.public_url("https://mcp.example.com/".parse().unwrap())
    })
    .await;
    let (token, id) = service.pat_connector().await;
    let call = || Call::token(&token).connector(&id);
    let status = |(status, _): (u16, Value)| status;

    // The defaults: the public URL's host and origin, and loopback since it listens there.
    for allowed in [
        call(),
        call().header("host", "mcp.example.com"),
        call().header("origin", "https://mcp.example.com"),
        call().header("origin", "http://localhost:3000"),
    ] {
        assert_eq!(
            status(post(&service, &allowed, initialize_request()).await),
            200
        );
    }
    for refused in [
        call().header("host", "evil.example"),
        call().header("origin", "https://evil.example"),
        call().header("origin", "http://mcp.example.com"),
    ] {
        assert_eq!(
            status(
                post(
                    &service,
                    &refused,
                    execute_request("tasks", "delete", json!({"task_gid": seed::DRAFT_TASK_GID}))
                )
                .await
            ),
            403
        );
    }
    assert_eq!(service.asana.api_requests(), 0);
    assert!(service.asana.object(seed::DRAFT_TASK_GID).is_some());
    assert!(
        audit(&service, &token)
            .await
            .iter()
            .all(|e| e["operation"] == "connector.create")
    );

    // Configured lists replace the defaults, loopback included.
    let service = Service::start_configured(MockAsana::start().await, true, |builder| {
        builder
            .public_url("https://mcp.example.com/".parse().unwrap())
            .mcp_allowed_hosts(["api.acme.test"])
            .mcp_allowed_origins(["https://app.acme.test:443"])
    })
    .await;
    let (token, id) = service.pat_connector().await;
    let call = || Call::token(&token).connector(&id);
    for (allowed, request) in [
        (false, call()),
        (false, call().header("host", "mcp.example.com")),
        (true, call().header("host", "api.acme.test")),
        (
            true,
            call()
                .header("host", "api.acme.test")
                .header("origin", "https://app.acme.test"),
        ),
        (
            false,
            call()
                .header("host", "api.acme.test")
                .header("origin", "https://mcp.example.com"),
        ),
    ] {
        let expected = if allowed { 200 } else { 403 };
        assert_eq!(
            status(post(&service, &request, initialize_request()).await),
            expected
        );
    }
}

/// Listening on all addresses, which loopback is one of, `/mcp` accepts loopback `Host` names
/// (and loopback origins) as on loopback, with or without a public URL; others stay refused.
#[tokio::test]
async fn on_all_addresses_loopback_hosts_are_accepted() {
    for public_url in [None, Some("https://mcp.example.com/".parse().unwrap())] {
        let asana = MockAsana::start().await;
        let app = crate::support::asana_app(&asana, true);
        let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut service = Service::serve(asana, app, 64 * 1024, listener, public_url).await;
        service.url = format!("http://127.0.0.1:{port}");
        let (token, id) = service.pat_connector().await;
        let call = || Call::token(&token).connector(&id);
        let status = |(status, _): (u16, Value)| status;
        let localhost = format!("localhost:{port}");
        for allowed in [
            call(),
            call().header("host", localhost.as_str()),
            call().header("host", "[::1]"),
            call().header("origin", "http://localhost:3000"),
        ] {
            assert_eq!(
                status(post(&service, &allowed, initialize_request()).await),
                200
            );
        }
        for refused in [
            call().header("host", "evil.example"),
            call().header("host", "0.0.0.0"),
            call().header("origin", "https://evil.example"),
        ] {
            assert_eq!(
                status(post(&service, &refused, initialize_request()).await),
                403
            );
        }
    }
}

/// An empty list of origins accepts none: a browser's request with any `Origin` is 403, even
/// with a valid token; one without an `Origin` (not from a browser) is served.
#[tokio::test]
async fn with_no_allowed_origins_every_origin_is_refused() {
    let service = Service::start_configured(MockAsana::start().await, true, |builder| {
        builder.mcp_allowed_origins(Vec::<String>::new())
    })
    .await;
    let (token, id) = service.pat_connector().await;
    let call = || Call::token(&token).connector(&id);
    let (status, answer) = post(&service, &call(), initialize_request()).await;
    assert_eq!(status, 200, "{answer}");
    for origin in [
        "https://evil.example",
        "http://127.0.0.1",
        "http://localhost:3000",
    ] {
        let (status, answer) = post(
            &service,
            &call().header("origin", origin),
            initialize_request(),
        )
        .await;
        assert_eq!(status, 403, "{origin}: {answer}");
    }
    assert_eq!(service.asana.api_requests(), 0);
}

#[tokio::test]
async fn a_read_only_connector_hides_and_refuses_writes() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let (status, connector) = service
        .post(
            "/api/v1/integrations/connectors",
            Some(&token),
            json!({
                "customer_name": "c",
                "connector_type": "Asana",
                "credentials": { "token": service.asana.personal_access_token() },
                "read_only": true,
            }),
        )
        .await;
    assert_eq!(status, 201, "{connector}");
    assert_eq!(connector["read_only"], true);
    let id = connector["id"].as_str().unwrap();
    let client = client(&service, &Call::token(&token).connector(id)).await;

    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(execute_read_only_hint(&tools), Some(true));
    let all = structured_ok(&call_tool(&client, "describe", json!({})).await);
    assert_eq!(all["read_only"], true);
    let effects: Vec<&Value> = all["entities"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["actions"].as_array().unwrap())
        .map(|a| &a["effect"])
        .collect();
    assert!(!effects.is_empty() && effects.iter().all(|e| *e == "read"));

    let delete = || {
        call_execute(
            &client,
            "tasks",
            "delete",
            json!({"task_gid": seed::DRAFT_TASK_GID}),
        )
    };
    assert_eq!(structured_error(&delete().await)["kind"], "read_only");
    assert_eq!(service.asana.api_requests(), 0);
    assert!(service.asana.object(seed::DRAFT_TASK_GID).is_some());
    // Nor does the REST execute send a write, whatever the token.
    let scoped = service.scoped_token(&token, "c").await;
    for caller in [&token, &scoped] {
        let (status, body) = service
            .execute(
                caller,
                id,
                "tasks",
                "delete",
                json!({"task_gid": seed::DRAFT_TASK_GID}),
            )
            .await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(
            error_message(&body),
            format!(
                "tasks.delete changes data in Asana, and connector {id} is read-only: nothing was sent; an application token can PATCH it with \"read_only\": false"
            )
        );
    }
    assert_eq!(service.asana.api_requests(), 0);
    let read = structured_ok(
        &call_execute(
            &client,
            "tasks",
            "get",
            json!({"task_gid": seed::VENUE_TASK_GID}),
        )
        .await,
    );
    assert_eq!(read["data"]["name"], "Book venue");

    // The flag is the connector's: PATCH turns it off (and rejects a non-boolean), and the same
    // client sees it on its next request.
    let path = format!("/api/v1/integrations/connectors/{id}");
    let patch = |body: Value| {
        service.send(
            reqwest::Method::PATCH,
            &path,
            Some(&token),
            Some(body.to_string().into_bytes()),
        )
    };
    let (status, body) = patch(json!({ "read_only": "no" })).await;
    assert_eq!(status, 422, "{body}");
    assert!(error_message(&body).contains("read_only"));
    // The customer's scoped token, which its MCP clients hold, cannot lift the flag.
    let (status, body) = service
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(&scoped),
            Some(json!({ "read_only": false }).to_string().into_bytes()),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["retryable"], false, "{body}");
    let (status, body) = patch(json!({ "read_only": false })).await;
    assert_eq!((status, &body["read_only"]), (200, &json!(false)), "{body}");
    let (_, got) = service.get(&path, Some(&token)).await;
    assert_eq!(got["read_only"], false);
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(execute_read_only_hint(&tools), Some(false));
    structured_ok(&delete().await);
    assert!(service.asana.object(seed::DRAFT_TASK_GID).is_none());

    let lines: Vec<String> = audit(&service, &token).await.iter().map(line).collect();
    assert_eq!(
        lines,
        [
            r#"mcp.execute tasks.delete ["task_gid"] ok 200"#,
            r#"connector.update -.- ["read_only"] ok 200"#,
            r#"mcp.execute tasks.get ["task_gid"] ok 200"#,
            r#"execute tasks.delete ["task_gid"] error 403"#,
            r#"execute tasks.delete ["task_gid"] error 403"#,
            r#"mcp.execute tasks.delete ["task_gid"] error 403"#,
            r#"mcp.describe -.- [] ok 200"#,
            r#"connector.create -.- [] ok 201"#,
        ]
    );
}

#[tokio::test]
async fn an_oauth_connector_refreshes_once_and_a_revoked_grant_asks_for_reauthorization() {
    let service = Service::start().await;
    let (token, id, first_access_token) = service.oauth_connector().await;
    let id = id.as_str();
    let client = client(&service, &Call::token(&token).connector(id)).await;
    let me = || call_execute(&client, "users", "get", json!({"user_gid": "me"}));

    service.asana.expire_access_tokens();
    let calls = (0..CONCURRENT_CALLS).map(|_| me());
    for answer in futures::future::join_all(calls).await {
        assert_eq!(structured_ok(&answer)["data"]["name"], "Greg Sanchez");
    }
    assert_eq!(service.asana.token_requests_for("refresh_token"), 1);
    assert_ne!(
        service.stored_access_token(id).await.unwrap(),
        first_access_token
    );

    service.asana.revoke_all_grants();
    service.asana.expire_access_tokens();
    // The refresh is refused, then the stored status answers without calling Asana.
    for _ in 0..2 {
        let error = structured_error(&me().await);
        assert_eq!(error["needs_reauthorization"], true, "{error}");
        assert_eq!(error["retryable"], false);
        assert!(error["message"].as_str().unwrap().contains(id), "{error}");
    }
    let (_, got) = service
        .get(
            &format!("/api/v1/integrations/connectors/{id}"),
            Some(&token),
        )
        .await;
    assert_eq!(got["status"], "needs_reauthorization");
    let statuses: Vec<u64> = audit(&service, &token)
        .await
        .iter()
        .take(2)
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [409, 409]);
}

/// A tool call whose credentials are sealed under a key this instance lacks is a tool error no
/// retry can fix, audited as the service's 500.
#[tokio::test]
async fn credentials_under_a_missing_key_are_an_error_no_retry_can_fix() {
    let service = Service::start().await;
    let (app_token, id) = service.pat_connector().await;
    let other = service
        .another_instance(integrations::KeyRing::new(
            integrations::EncryptionKey::generate(),
        ))
        .await;
    let scoped = other.scoped_token(&app_token, "c").await;
    let call = Call::token(&scoped).connector(&id);
    let client = client(&other, &call).await;
    let error =
        structured_error(&call_execute(&client, "users", "get", json!({"user_gid": "me"})).await);
    assert_eq!(
        (&error["retryable"], &error["needs_reauthorization"]),
        (&json!(false), &json!(false)),
        "{error}"
    );
    assert_eq!(service.asana.api_requests(), 0);
    let entries = audit(&other, &scoped).await;
    assert_eq!(
        line(&entries[0]),
        r#"mcp.execute users.get ["user_gid"] error 500"#
    );
}

/// A tool call over the application's calls in flight (here one, held by an execute waiting on
/// Asana) is a retryable tool error with status 429 and when to retry, audited as 429; nothing
/// is sent for it.
#[tokio::test]
async fn a_tool_call_over_the_calls_in_flight_is_a_429_to_retry() {
    let service = Service::start_configured(MockAsana::start().await, true, |builder| {
        builder.max_in_flight(1)
    })
    .await;
    let (token, id) = service.pat_connector().await;
    let call = Call::token(&token).connector(&id);
    let client = client(&service, &call).await;
    service.asana.set_latency(Duration::from_millis(600));
    let holding = service.execute_users_get(&token, &id, "me");
    let refused = async {
        let started = std::time::Instant::now();
        while service.asana.api_requests() < 1 {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "no call in flight"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        call_execute(&client, "users", "get", json!({"user_gid": "me"})).await
    };
    let (held, refused) = tokio::join!(holding, refused);
    assert_eq!(held.status(), 200);
    let error = structured_error(&refused);
    assert_eq!(
        (
            &error["status"],
            &error["retryable"],
            &error["needs_reauthorization"]
        ),
        (&json!(429), &json!(true), &json!(false)),
        "{error}"
    );
    assert_eq!(
        error["message"],
        "hosted service POST /mcp (HTTP 429): this application has 1 calls to providers in flight at this instance, the most it may; retry once one has been answered; rate limited, retry after 1s"
    );
    assert_eq!(service.asana.api_requests(), 1);
    let mut lines: Vec<String> = audit(&service, &token).await.iter().map(line).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "connector.create -.- [] ok 201",
            r#"execute users.get ["user_gid"] ok 200"#,
            r#"mcp.execute users.get ["user_gid"] error 429"#
        ]
    );
}
