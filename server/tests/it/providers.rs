//! Connectors of declarative providers (GitHub, Google): created with a token or OAuth tokens, or
//! through the consent flow, against wiremock fakes of the providers; `proxy.request` and
//! `*.check` on them; what they refuse, who may see them, and what never shows.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use integrations::asana::AsanaAppCredentials;
use integrations::{EncryptionKey, EnvSource, KeyRing};
use integrations_mcp::testing::{list_tools_request, post_raw};
use integrations_server::ServerBuilder;
use provider_asana_testkit::MockAsana;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{Service, error_message, mark_needs_reauthorization, tracked_expiry};

const PAT: &str = "ghp-canary-4f1d";

/// A service whose providers' URLs point at `fake` (`GITHUB_*` and `GOOGLE_*` keys) plus `extra`
/// keys, told it is reached at its own address.
async fn start(fake: &MockServer, extra: &[(&str, String)]) -> Service {
    start_built(fake, extra, |builder| builder).await
}

/// As [`start`], with `configure` applied to the builder last.
async fn start_built(
    fake: &MockServer,
    extra: &[(&str, String)],
    configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
) -> Service {
    let mut env = vec![
        ("GITHUB_API_BASE_URL".to_string(), fake.uri()),
        (
            "GITHUB_AUTHORIZATION_URL".to_string(),
            format!("{}/login/oauth/authorize", fake.uri()),
        ),
        (
            "GITHUB_TOKEN_URL".to_string(),
            format!("{}/login/oauth/access_token", fake.uri()),
        ),
        ("GOOGLE_API_BASE_URL".to_string(), fake.uri()),
        (
            "GOOGLE_TOKEN_URL".to_string(),
            format!("{}/token", fake.uri()),
        ),
        (
            "GOOGLE_REVOCATION_URL".to_string(),
            format!("{}/revoke", fake.uri()),
        ),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public: Url = format!("http://{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let asana = MockAsana::start().await;
    Service::serve_built(
        asana,
        AsanaAppCredentials::default(),
        listener,
        move |builder| {
            configure(
                builder
                    .provider_env(EnvSource::from_pairs(env))
                    .public_url(public),
            )
        },
    )
    .await
}

/// GitHub's `/user`: 200 for [`PAT`], 401 for any other token.
async fn github_user(fake: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/user"))
        .and(header("authorization", format!("Bearer {PAT}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "login": "octocat", "id": 1 })),
        )
        .mount(fake)
        .await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({ "message": "Bad credentials" })),
        )
        .with_priority(10)
        .mount(fake)
        .await;
}

/// A new application's token and its GitHub connector for customer `c` with `token`.
async fn github_connector(svc: &Service, token: &str) -> (String, Value) {
    let app_token = app_token(svc).await;
    let body = json!({
        "customer_name": "c", "connector_type": "github",
        "credentials": { "token": token },
    });
    let (status, connector) = create(svc, &app_token, body).await;
    assert_eq!(status, 201, "{connector}");
    (app_token, connector)
}

/// A new application's token.
async fn app_token(svc: &Service) -> String {
    let app = svc.application("acme").await;
    svc.app_token(&app).await
}

/// `POST /api/v1/integrations/connectors` with `body`.
async fn create(svc: &Service, token: &str, body: Value) -> (u16, Value) {
    svc.post("/api/v1/integrations/connectors", Some(token), body)
        .await
}

/// `DELETE path`; the status.
async fn delete(svc: &Service, token: &str, path: &str) -> u16 {
    svc.send(reqwest::Method::DELETE, path, Some(token), None)
        .await
        .0
}

/// The consent URL of `oauth/initiate` for customer `c` and `connector_type`.
async fn consent_url(svc: &Service, token: &str, connector_type: &str) -> Url {
    let (status, body) = svc
        .post(
            "/api/v1/integrations/connectors/oauth/initiate",
            Some(token),
            json!({
                "customer_name": "c", "connector_type": connector_type,
                "redirect_url": "https://app.example.com/done",
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["consent_url"].as_str().unwrap().parse().unwrap()
}

/// Lands on the service's callback with `code` and `state`, as the provider's redirect does;
/// where the service sends the user on.
async fn land(svc: &Service, code: &str, state: &str) -> Url {
    let landed = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
        .get(format!(
            "{}/api/v1/oauth/callback?code={code}&state={state}",
            svc.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status().as_u16(), 303);
    landed.headers()["location"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A service (as [`start`]) whose OAuth app for `id` (upper case) is `client_id`.
async fn start_with_app(
    fake: &MockServer,
    id: &str,
    client_id: &str,
    extra: &[(&str, String)],
) -> Service {
    let client_id_key = format!("{id}_CLIENT_ID");
    let secret_key = format!("{id}_CLIENT_SECRET");
    let mut env = vec![
        (client_id_key.as_str(), client_id.to_string()),
        (secret_key.as_str(), "service-secret".to_string()),
    ];
    env.extend(extra.iter().cloned());
    start(fake, &env).await
}

/// A URL's query as a map.
fn query_of(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// A form body as a map.
fn form_of(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// `*.check` on a connector.
async fn check(svc: &Service, token: &str, id: &str) -> (u16, Value) {
    svc.execute(token, id, "*", "check", Value::Null).await
}

fn proxy(method: &str, path: &str) -> Value {
    json!({ "method": method, "path": path })
}

fn header_of<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_github_token_connector_sends_get_user_with_github_s_headers_to_github_only() {
    let fake = MockServer::start().await;
    github_user(&fake).await;
    let svc = start(&fake, &[]).await;
    let (token, connector) = github_connector(&svc, PAT).await;
    assert_eq!(connector["connector_type"], "GitHub");
    assert_eq!(connector["definition_id"], "github");
    assert_eq!(connector["status"], "active");
    let id = connector["id"].as_str().unwrap();

    let (status, body) = svc
        .execute(&token, id, "proxy", "request", proxy("GET", "/user"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], json!({ "login": "octocat", "id": 1 }));
    assert_eq!(body["connector_metadata"]["status"], 200);
    assert_eq!(
        body["connector_metadata"]["headers"]["content-type"],
        "application/json"
    );
    let received = fake.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let sent = &received[0];
    assert_eq!(sent.url.path(), "/user");
    assert_eq!(
        header_of(sent, "authorization"),
        Some(format!("Bearer {PAT}").as_str())
    );
    assert_eq!(header_of(sent, "user-agent"), Some("integrations"));
    assert_eq!(
        header_of(sent, "accept"),
        Some("application/vnd.github+json")
    );
    assert!(svc.asana.received_requests().await.is_empty());

    // A grant the store marks rejected: 409, naming no other provider.
    mark_needs_reauthorization(&svc.credentials().await, "github", id).await;
    let (status, body) = svc
        .execute(&token, id, "proxy", "request", proxy("GET", "/user"))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        error_message(&body),
        format!(
            "connector {id} needs re-authorization: its grant was revoked or expired at the provider; reconnect it with PATCH /api/v1/integrations/connectors/{id} and new credentials, or through the consent flow (POST /api/v1/integrations/connectors/oauth/initiate)"
        )
    );
    assert_eq!(fake.received_requests().await.unwrap().len(), 1);
}

/// A raw request's body that is not UTF-8 text (a file) is answered in base64, said by
/// `body_encoding`: escaped as text, a body of control bytes took six times its size. Text
/// stays text.
#[tokio::test]
async fn a_binary_body_is_answered_in_base64_and_text_as_text() {
    use base64::prelude::BASE64_STANDARD;

    let fake = MockServer::start().await;
    let file: Vec<u8> = (0..300_000u32).map(|n| (n % 251) as u8).collect();
    Mock::given(method("GET"))
        .and(path("/repos/o/r/contents/blob.bin"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/octet-stream")
                .set_body_bytes(file.clone()),
        )
        .mount(&fake)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/contents/notes.txt"))
        .respond_with(ResponseTemplate::new(200).set_body_string("two\nlines é"))
        .mount(&fake)
        .await;
    let svc = start(&fake, &[]).await;
    let (token, connector) = github_connector(&svc, PAT).await;
    let id = connector["id"].as_str().unwrap();

    let answer = svc
        .http
        .post(format!(
            "{}/api/v1/integrations/connectors/{id}/execute",
            svc.url
        ))
        .bearer_auth(&token)
        .json(&json!({ "entity": "proxy", "action": "request",
            "params": proxy("GET", "/repos/o/r/contents/blob.bin") }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.unwrap();
    assert!(text.len() < 400_000 + 1_000, "{} bytes", text.len());
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["connector_metadata"]["body_encoding"], "base64");
    let decoded = BASE64_STANDARD
        .decode(body["result"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, file);

    let (status, body) = svc
        .execute(
            &token,
            id,
            "proxy",
            "request",
            proxy("GET", "/repos/o/r/contents/notes.txt"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], "two\nlines é");
    assert!(body["connector_metadata"].get("body_encoding").is_none());
}

/// A service whose GitHub answers `/repos/o/r/contents/big.json` with 12 MiB of JSON, as
/// `configure` sets it up; its token, its GitHub connector, and a connection that asked for
/// that answer and reads none of it, once the service has sent the call.
async fn an_unread_big_answer(
    fake: &MockServer,
    configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
) -> (Service, String, String, tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;

    Mock::given(method("GET"))
        .and(path("/repos/o/r/contents/big.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(format!("\"{}\"", "a".repeat(12 << 20)), "application/json"),
        )
        .mount(fake)
        .await;
    github_user(fake).await;
    let svc = start_built(fake, &[], configure).await;
    let (token, connector) = github_connector(&svc, PAT).await;
    let id = connector["id"].as_str().unwrap().to_string();
    let body = json!({ "entity": "proxy", "action": "request",
        "params": proxy("GET", "/repos/o/r/contents/big.json") })
    .to_string();
    let mut unread = tokio::net::TcpStream::connect(svc.url.trim_start_matches("http://"))
        .await
        .unwrap();
    unread
        .write_all(
            format!(
                "POST /api/v1/integrations/connectors/{id}/execute HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    while fake.received_requests().await.unwrap().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(5), "no call sent");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    (svc, token, id, unread)
}

/// An execute stays counted in the application's calls in flight while its answer waits for a
/// client that does not read it, and stops counting once that client is gone: with one call
/// allowed, another execute is refused meanwhile (429), and goes through afterwards.
#[tokio::test]
async fn an_answer_nobody_reads_keeps_its_call_in_flight_until_the_client_leaves() {
    let fake = MockServer::start().await;
    let (svc, token, id, unread) = an_unread_big_answer(&fake, |b| b.max_in_flight(1)).await;
    let (status, refused) = svc
        .execute(&token, &id, "proxy", "request", proxy("GET", "/user"))
        .await;
    assert_eq!(status, 429, "{refused}");

    drop(unread);
    let started = std::time::Instant::now();
    loop {
        let (status, body) = svc
            .execute(&token, &id, "proxy", "request", proxy("GET", "/user"))
            .await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 429, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still counted after its client left"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A shutdown waits for the answers in flight no longer than the request timeout: a connection
/// whose client does not read its answer is closed then.
#[tokio::test]
async fn a_shutdown_closes_connections_whose_answers_are_not_read_after_the_request_timeout() {
    use tokio::io::AsyncReadExt;

    let fake = MockServer::start().await;
    let (mut svc, _, _, mut unread) =
        an_unread_big_answer(&fake, |b| b.request_timeout(Duration::from_secs(1))).await;
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(10), svc.stop())
        .await
        .expect("the shutdown ends")
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // The connection is closed: reading drains what was sent, then ends.
    let mut buffer = vec![0u8; 1 << 20];
    let read_all = async {
        let mut total = 0;
        loop {
            match unread.read(&mut buffer).await {
                Ok(0) | Err(_) => return total,
                Ok(n) => total += n,
            }
        }
    };
    let total = tokio::time::timeout(Duration::from_secs(5), read_all)
        .await
        .expect("the connection was closed");
    assert!(total < 12 << 20, "{total} bytes: the answer was cut short");
}

/// A read-only connector of a provider without a catalog sends only GETs through
/// `proxy.request`: a raw request says what it does by its method alone.
#[tokio::test]
async fn a_read_only_github_connector_sends_gets_only() {
    let fake = MockServer::start().await;
    github_user(&fake).await;
    let svc = start(&fake, &[]).await;
    let token = app_token(&svc).await;
    let (status, connector) = create(
        &svc,
        &token,
        json!({
            "customer_name": "c", "connector_type": "github", "read_only": true,
            "credentials": { "token": PAT },
        }),
    )
    .await;
    assert_eq!(status, 201, "{connector}");
    let id = connector["id"].as_str().unwrap();
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let (status, body) = svc
            .execute(&token, id, "proxy", "request", proxy(method, "/user/repos"))
            .await;
        assert_eq!(status, 403, "{method}: {body}");
        assert_eq!(
            error_message(&body),
            format!(
                "connector {id} is read-only: proxy.request sends only GET requests through it; nothing was sent; an application token can PATCH it with \"read_only\": false"
            )
        );
    }
    assert!(fake.received_requests().await.unwrap().is_empty());
    let (status, body) = svc
        .execute(&token, id, "proxy", "request", proxy("GET", "/user"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["login"], "octocat");
}

/// Slack's Web API takes any method's arguments in a GET's query, writes too: a read-only Slack
/// connector sends GETs only to the methods its definition lists as reads.
#[tokio::test]
async fn a_read_only_slack_connector_sends_gets_to_reading_methods_only() {
    let fake = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/conversations.list"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true, "channels": []})))
        .expect(1)
        .mount(&fake)
        .await;
    let svc = start(&fake, &[("SLACK_API_BASE_URL", fake.uri())]).await;
    let token = app_token(&svc).await;
    let (status, connector) = create(
        &svc,
        &token,
        json!({
            "customer_name": "c", "connector_type": "slack", "read_only": true,
            "credentials": { "token": PAT },
        }),
    )
    .await;
    assert_eq!(status, 201, "{connector}");
    let id = connector["id"].as_str().unwrap();
    for (verb, at) in [
        ("GET", "/chat.postMessage"),
        ("GET", "/auth.revoke"),
        ("GET", "/chat.postMessage%3F.list"),
        ("POST", "/conversations.list"),
    ] {
        let (status, body) = svc
            .execute(&token, id, "proxy", "request", proxy(verb, at))
            .await;
        assert_eq!(status, 403, "{verb} {at}: {body}");
        assert_eq!(
            error_message(&body),
            format!(
                "connector {id} is read-only: proxy.request sends only GET requests to the paths that only read (the provider's definition lists them) through it; nothing was sent; an application token can PATCH it with \"read_only\": false"
            )
        );
    }
    assert!(fake.received_requests().await.unwrap().is_empty());
    let (status, body) = svc
        .execute(
            &token,
            id,
            "proxy",
            "request",
            proxy("GET", "/conversations.list"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], json!({"ok": true, "channels": []}));
}

#[tokio::test]
async fn proxy_request_headers_replace_github_s_and_the_answer_s_headers_come_back() {
    let fake = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user/repos"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    "<https://api.github.com/user/repos?page=2>; rel=\"next\"",
                )
                .insert_header("x-ratelimit-remaining", "4999")
                .insert_header("set-cookie", "logged_in=cookie-canary")
                .set_body_json(json!([{ "name": "Hello-World" }])),
        )
        .expect(1)
        .mount(&fake)
        .await;
    let svc = start(&fake, &[]).await;
    let (token, connector) = github_connector(&svc, PAT).await;
    let id = connector["id"].as_str().unwrap();
    let params = json!({
        "method": "GET", "path": "/user/repos",
        "headers": { "Accept": "application/vnd.github.raw+json", "If-None-Match": "\"etag-1\"" },
    });
    let (status, body) = svc.execute(&token, id, "proxy", "request", params).await;
    assert_eq!(status, 200, "{body}");
    let headers = &body["connector_metadata"]["headers"];
    assert_eq!(
        headers["link"],
        "<https://api.github.com/user/repos?page=2>; rel=\"next\""
    );
    assert_eq!(headers["x-ratelimit-remaining"], "4999");
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers.get("set-cookie").is_none(), "{headers}");
    let sent = &fake.received_requests().await.unwrap()[0];
    assert_eq!(sent.headers.get_all("accept").iter().count(), 1);
    assert_eq!(
        header_of(sent, "accept"),
        Some("application/vnd.github.raw+json")
    );
    assert_eq!(header_of(sent, "if-none-match"), Some("\"etag-1\""));
    assert_eq!(
        header_of(sent, "authorization"),
        Some(format!("Bearer {PAT}").as_str())
    );

    // The connector's credentials and the request's framing are not the caller's to set; a
    // header's value is a string. Nothing more is sent, and no value is echoed.
    for (headers, expected) in [
        (json!({ "Authorization": "Bearer value-canary" }), 400),
        (json!({ "cookie": "value-canary" }), 400),
        (json!({ "Host": "value-canary.example" }), 400),
        (json!({ "X-Count": 1 }), 422),
    ] {
        let params = json!({ "method": "GET", "path": "/user/repos", "headers": headers });
        let (status, body) = svc.execute(&token, id, "proxy", "request", params).await;
        assert_eq!(status, expected, "{headers}: {body}");
        assert!(!body.to_string().contains("value-canary"), "{body}");
    }
    assert_eq!(fake.received_requests().await.unwrap().len(), 1);
    let (_, audit) = svc.get("/api/v1/audit?limit=5", Some(&token)).await;
    let newest_ok = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["status"] == 200 && e["operation"] == "execute")
        .unwrap();
    assert_eq!(
        newest_ok["param_names"],
        json!([
            "method GET",
            "path /user/repos",
            "headers.accept",
            "headers.if-none-match"
        ])
    );
}

#[tokio::test]
async fn a_path_that_leaves_github_s_api_is_400_and_nothing_is_sent() {
    let fake = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    github_user(&fake).await;
    let svc = start(&fake, &[]).await;
    let (token, connector) = github_connector(&svc, PAT).await;
    let id = connector["id"].as_str().unwrap();
    for path in [
        "/../user".to_string(),
        "/repos/%2e%2e/user".to_string(),
        format!("{}/user", elsewhere.uri()),
        format!("//{}/user", elsewhere.address()),
        "user".to_string(),
    ] {
        let (status, body) = svc
            .execute(&token, id, "proxy", "request", proxy("GET", &path))
            .await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(!error_message(&body).contains(PAT));
    }
    assert!(fake.received_requests().await.unwrap().is_empty());
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn only_proxy_request_and_check_are_offered_and_bad_params_are_422() {
    let fake = MockServer::start().await;
    let svc = start(&fake, &[]).await;
    let (token, connector) = github_connector(&svc, PAT).await;
    let id = connector["id"].as_str().unwrap();
    for (entity, action) in [("tasks", "list"), ("proxy", "get"), ("*", "request")] {
        let (status, body) = svc.execute(&token, id, entity, action, json!({})).await;
        assert_eq!(status, 400, "{entity}.{action}: {body}");
        let message = error_message(&body);
        assert!(
            message.contains("\"proxy\"") && message.contains("\"check\""),
            "{message}"
        );
    }
    let (status, body) = svc
        .execute(
            &token,
            id,
            "proxy",
            "request",
            json!({ "method": "TRACE", "path": "/user" }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(fake.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn check_runs_github_s_who_am_i_and_answers_healthy_or_unhealthy() {
    let fake = MockServer::start().await;
    github_user(&fake).await;
    let svc = start(&fake, &[]).await;
    let (token, good) = github_connector(&svc, PAT).await;
    let bad = json!({
        "customer_name": "c", "connector_type": "GitHub",
        "credentials": { "token": "revoked-token" },
    });
    let (_, bad) = create(&svc, &token, bad).await;

    let (status, healthy) = check(&svc, &token, good["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{healthy}");
    assert_eq!(healthy["result"]["status"], "healthy");
    assert_eq!(healthy["result"]["error"], Value::Null);
    assert_eq!(healthy["result"]["checked_request"], "GET /user");

    let (status, unhealthy) = check(&svc, &token, bad["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{unhealthy}");
    assert_eq!(unhealthy["result"]["status"], "unhealthy");
    assert!(
        unhealthy["result"]["error"]
            .as_str()
            .unwrap()
            .contains("401")
    );
}

#[tokio::test]
async fn another_application_or_customer_gets_404_for_a_github_connector() {
    let fake = MockServer::start().await;
    github_user(&fake).await;
    let svc = start(&fake, &[]).await;
    let (token, connector) = github_connector(&svc, PAT).await;
    let id = connector["id"].as_str().unwrap();
    let stranger = svc.application("other").await;
    let stranger = svc.app_token(&stranger).await;
    let other_customer = svc.scoped_token(&token, "someone-else").await;
    for who in [&stranger, &other_customer] {
        let (status, body) = svc
            .execute(who, id, "proxy", "request", proxy("GET", "/user"))
            .await;
        assert_eq!(status, 404, "{body}");
        let (status, _) = svc
            .get(&format!("/api/v1/integrations/connectors/{id}"), Some(who))
            .await;
        assert_eq!(status, 404);
    }
    assert!(fake.received_requests().await.unwrap().is_empty());
    let own = svc.scoped_token(&token, "c").await;
    let (status, _) = svc
        .execute(&own, id, "proxy", "request", proxy("GET", "/user"))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn no_secret_body_or_query_value_shows_in_answers_or_the_audit() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/octo/hello/issues"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "number": 7 })))
        .mount(&fake)
        .await;
    let svc = start(&fake, &[]).await;
    let (token, connector) = github_connector(&svc, PAT).await;
    let id = connector["id"].as_str().unwrap();
    let (status, created) = svc
        .execute(
            &token,
            id,
            "proxy",
            "request",
            json!({
                "method": "POST", "path": "/repos/octo/hello/issues",
                "query": { "note": "query-canary" }, "body": { "title": "body-canary" },
            }),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["connector_metadata"]["status"], 201);
    let sent = &fake.received_requests().await.unwrap()[0];
    assert_eq!(sent.url.query(), Some("note=query-canary"));
    assert_eq!(
        serde_json::from_slice::<Value>(&sent.body).unwrap(),
        json!({ "title": "body-canary" })
    );

    let (_, read) = svc
        .get(
            &format!("/api/v1/integrations/connectors/{id}"),
            Some(&token),
        )
        .await;
    let (status, audit) = svc.get("/api/v1/audit", Some(&token)).await;
    assert_eq!(status, 200);
    let execute = &audit["data"][0];
    assert_eq!(execute["operation"], "execute");
    assert_eq!(
        execute["param_names"],
        json!([
            "method POST",
            "path /repos/octo/hello/issues",
            "query.note",
            "body"
        ])
    );
    for answer in [&connector, &created, &read, &audit] {
        let text = answer.to_string();
        for canary in [PAT, "query-canary", "body-canary"] {
            assert!(!text.contains(canary), "{canary} in {text}");
        }
    }
}

#[tokio::test]
async fn a_google_connector_with_an_expired_token_refreshes_once_then_sends_the_request() {
    let fake = MockServer::start().await;
    google_userinfo(&fake).await;
    let svc = start(&fake, &[]).await;
    let token = app_token(&svc).await;
    let connector = google_connector_with_own_client(&svc, &token).await;
    assert_eq!(connector["auth_type"], "oauth");
    let id = connector["id"].as_str().unwrap();
    for _ in 0..2 {
        let (status, body) = svc
            .execute(
                &token,
                id,
                "proxy",
                "request",
                proxy("GET", "/oauth2/v3/userinfo"),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"]["sub"], "42");
    }
    let received = fake.received_requests().await.unwrap();
    let refreshes: Vec<&Request> = received
        .iter()
        .filter(|r| r.url.path() == "/token")
        .collect();
    assert_eq!(refreshes.len(), 1, "one refresh for two requests");
    let form = form_of(refreshes[0]);
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "1//refresh-canary");
    assert_eq!(form["client_id"], "own-client");
    assert_eq!(received.len(), 3);
    assert_eq!(received[0].url.path(), "/token");
    let (status, _, metrics) = svc.get_text("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics
            .lines()
            .any(|line| line == "integrations_token_refreshes_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_consent_flow_creates_a_github_connector_with_the_service_s_github_app() {
    let fake = MockServer::start().await;
    github_user(&fake).await;
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": PAT, "token_type": "bearer", "scope": "read:user",
        })))
        .mount(&fake)
        .await;
    let svc = start_with_app(&fake, "GITHUB", "service-github-app", &[]).await;
    let token = app_token(&svc).await;
    let consent = consent_url(&svc, &token, "github").await;
    assert_eq!(consent.path(), "/login/oauth/authorize");
    let params = query_of(&consent);
    assert_eq!(params["client_id"], "service-github-app");
    assert_eq!(params["scope"], "read:user");
    let callback = format!("{}/api/v1/oauth/callback", svc.url);
    assert_eq!(params["redirect_uri"], callback);

    let back = land(&svc, "code-1", &params["state"]).await;
    assert_eq!(back.path(), "/done");
    let back = query_of(&back);
    let id = &back["connector_id"];

    let (status, connector) = svc
        .get(
            &format!("/api/v1/integrations/connectors/{id}"),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(connector["connector_type"], "GitHub");
    assert_eq!(connector["auth_type"], "oauth");
    let (status, body) = svc
        .execute(&token, id, "proxy", "request", proxy("GET", "/user"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["login"], "octocat");
    let exchange = fake
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/login/oauth/access_token")
        .unwrap();
    let form = form_of(&exchange);
    assert_eq!(form["code"], "code-1");
    assert_eq!(form["redirect_uri"], callback);
    assert!(form.contains_key("code_verifier"));
}

/// A consent flow whose token has an expiry but comes with no refresh token leaves nothing for
/// the background refresher: the expiry is kept with the credentials, but not tracked, as there
/// is nothing to refresh it with.
#[tokio::test]
async fn an_expiring_token_without_a_refresh_token_is_not_tracked_for_the_refresher() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": PAT, "token_type": "bearer", "scope": "read:user",
            "expires_in": 28_800,
        })))
        .mount(&fake)
        .await;
    let svc = start_with_app(&fake, "GITHUB", "service-github-app", &[]).await;
    let token = app_token(&svc).await;
    let consent = consent_url(&svc, &token, "github").await;
    let back = land(&svc, "code-1", &query_of(&consent)["state"]).await;
    let id = query_of(&back)["connector_id"].clone();

    use integrations::CredentialStore;
    let stored = svc
        .credentials()
        .await
        .get("github", &id)
        .await
        .unwrap()
        .expect("stored credentials");
    let credentials = integrations::Credentials::from_payload(&stored.record.payload).unwrap();
    assert!(credentials.token.refresh_token.is_none());
    assert!(credentials.token.expires_at.is_some(), "the expiry is kept");
    assert_eq!(tracked_expiry(svc.dir.path(), &id), None);
}

/// GitHub answering after the service's upstream timeout: `proxy.request` is 504, retryable
/// (GitHub too slow, not GitHub failing).
#[tokio::test]
async fn a_proxy_request_past_the_upstream_timeout_is_a_retryable_504() {
    let fake = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "login": "octocat", "id": 1 }))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&fake)
        .await;
    let svc = start(&fake, &[]).await;
    let (token, connector) = github_connector(&svc, PAT).await;
    let id = connector["id"].as_str().unwrap();
    let (status, body) = svc
        .execute(&token, id, "proxy", "request", proxy("GET", "/user"))
        .await;
    assert_eq!((status, &body["retryable"]), (504, &json!(true)), "{body}");
    assert!(error_message(&body).contains("timed out"), "{body}");
}

/// Runs a consent flow of `provider` (upper case in the service's keys) whose connector cannot
/// be kept: the application is deleted while the fake's token endpoint (`token_path`) delays the
/// exchange, which answers `token`. Checks that the user lands on `server_error`; answers every
/// request the fake received.
async fn a_consent_flow_that_cannot_keep_its_grant(
    fake: &MockServer,
    provider: &str,
    token_path: &str,
    token: Value,
    extra: &[(&str, String)],
) -> Vec<Request> {
    Mock::given(method("POST"))
        .and(path(token_path))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token)
                .set_delay(Duration::from_secs(1)),
        )
        .mount(fake)
        .await;
    let svc = start_with_app(fake, provider, "service-app", extra).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    let consent = consent_url(&svc, &token, &provider.to_ascii_lowercase()).await;
    let deleted = async {
        let waited = std::time::Instant::now();
        while fake.received_requests().await.unwrap().is_empty() {
            assert!(waited.elapsed() < Duration::from_secs(10), "no exchange");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        svc.admin
            .delete_application(&app.application.id)
            .await
            .unwrap();
    };
    let state = query_of(&consent)["state"].clone();
    let (back, ()) = tokio::join!(land(&svc, "code-1", &state), deleted);
    assert_eq!(query_of(&back)["error"], "server_error");
    fake.received_requests().await.unwrap()
}

/// A GitHub consent flow whose connector cannot be kept gives back the token it was granted,
/// and that token only (`DELETE /applications/{client_id}/token`, the client's Basic auth, the
/// token in JSON): `/grant` would end the account's other connectors too.
#[tokio::test]
async fn a_failed_github_consent_flow_revokes_its_token_only() {
    let fake = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&fake)
        .await;
    let revocation = format!("{}/applications/{{client_id}}/token", fake.uri());
    let token = json!({ "access_token": PAT, "token_type": "bearer", "scope": "read:user" });
    let received = a_consent_flow_that_cannot_keep_its_grant(
        &fake,
        "GITHUB",
        "/login/oauth/access_token",
        token,
        &[("GITHUB_REVOCATION_URL", revocation)],
    )
    .await;
    let calls: Vec<String> = received
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        calls,
        [
            "POST /login/oauth/access_token",
            "DELETE /applications/service-app/token"
        ]
    );
    let revoked = &received[1];
    let basic = base64::engine::general_purpose::STANDARD.encode("service-app:service-secret");
    assert_eq!(
        header_of(revoked, "authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&revoked.body).unwrap(),
        json!({ "access_token": PAT })
    );
}

/// A Google consent flow whose connector cannot be kept revokes nothing: Google's revocation
/// may end the account's whole grant to the app, which other connectors of the same account may
/// hold.
#[tokio::test]
async fn a_failed_google_consent_flow_leaves_the_account_s_grant() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&fake)
        .await;
    let token = json!({
        "access_token": "ya29-fresh", "refresh_token": "1//refresh-canary",
        "expires_in": 3600, "token_type": "Bearer",
    });
    let received =
        a_consent_flow_that_cannot_keep_its_grant(&fake, "GOOGLE", "/token", token, &[]).await;
    let calls: Vec<&str> = received.iter().map(|r| r.url.path()).collect();
    assert_eq!(calls, ["/token"], "the exchange only: no revocation");
}

/// The refresh of a Google connector: 200 with a new access token, or a revocation: 200.
/// Google's fake: its token endpoint answers `ya29-fresh`, which its userinfo takes.
async fn google_userinfo(fake: &MockServer) {
    google_token_endpoints(fake).await;
    Mock::given(method("GET"))
        .and(path("/oauth2/v3/userinfo"))
        .and(header("authorization", "Bearer ya29-fresh"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "sub": "42" })))
        .mount(fake)
        .await;
}

/// A Google connector of customer `c` with a refresh token only (so due at once) and its own
/// OAuth client.
async fn google_connector_with_own_client(svc: &Service, token: &str) -> Value {
    let (status, connector) = create(
        svc,
        token,
        json!({
            "customer_name": "c", "connector_type": "google",
            "credentials": {
                "refresh_token": "1//refresh-canary",
                "client_id": "own-client", "client_secret": "own-secret-canary",
            },
        }),
    )
    .await;
    assert_eq!(status, 201, "{connector}");
    connector
}

async fn google_token_endpoints(fake: &MockServer) {
    for (at, body) in [
        (
            "/token",
            json!({ "access_token": "ya29-fresh", "expires_in": 3600, "token_type": "Bearer" }),
        ),
        ("/revoke", json!({})),
    ] {
        Mock::given(method("POST"))
            .and(path(at))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(fake)
            .await;
    }
}

#[tokio::test]
async fn an_application_s_own_apps_serve_its_github_consent_and_its_google_refreshes() {
    let fake = MockServer::start().await;
    google_token_endpoints(&fake).await;
    let svc = start(&fake, &[]).await;
    let token = app_token(&svc).await;
    let google = json!({
        "customer_name": "c", "connector_type": "Google",
        "credentials": { "refresh_token": "1//r" },
    });
    let (status, body) = create(&svc, &token, google.clone()).await;
    assert_eq!(status, 422, "no app for Google anywhere: {body}");
    assert!(error_message(&body).contains("PUT /api/v1/oauth/credentials"));

    for (kind, client_id) in [("github", "byo-github"), ("google", "byo-google")] {
        let (status, body) = svc
            .send(
                reqwest::Method::PUT,
                "/api/v1/oauth/credentials",
                Some(&token),
                Some(
                    json!({
                        "connector_type": kind,
                        "configuration": { "client_id": client_id, "client_secret": "byo-secret-canary" },
                    })
                    .to_string()
                    .into_bytes(),
                ),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["configuration"]["client_id"], client_id);
        assert!(!body.to_string().contains("byo-secret-canary"));
    }

    let consent = consent_url(&svc, &token, "GitHub").await;
    assert_eq!(query_of(&consent)["client_id"], "byo-github");

    let (status, connector) = create(&svc, &token, google).await;
    assert_eq!(status, 201, "{connector}");
    let id = connector["id"].as_str().unwrap();
    let (status, body) = check(&svc, &token, id).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["result"]["status"], "unhealthy",
        "userinfo is not faked"
    );
    let refresh = &fake.received_requests().await.unwrap()[0];
    assert_eq!(refresh.url.path(), "/token");
    let form = form_of(refresh);
    assert_eq!(form["client_id"], "byo-google");
    assert_eq!(form["client_secret"], "byo-secret-canary");

    let app_path = "/api/v1/oauth/credentials/connector_type/github";
    assert_eq!(delete(&svc, &token, app_path).await, 200);
    assert_eq!(delete(&svc, &token, app_path).await, 404);
}

/// A Google connector of customer `c` with its own OAuth client (so that deleting it revokes its
/// grant), holding the refresh token `1//to-revoke`: its id.
async fn own_client_google_connector(svc: &Service, token: &str) -> String {
    let (status, connector) = create(
        svc,
        token,
        json!({
            "customer_name": "c", "connector_type": "google",
            "credentials": {
                "access_token": "ya29-current", "refresh_token": "1//to-revoke",
                "client_id": "own-client", "client_secret": "own-secret",
            },
        }),
    )
    .await;
    assert_eq!(status, 201, "{connector}");
    connector["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn deleting_a_google_connector_revokes_its_grant_and_its_credentials() {
    let fake = MockServer::start().await;
    google_token_endpoints(&fake).await;
    let svc = start_with_app(&fake, "GOOGLE", "service-app", &[]).await;
    let token = app_token(&svc).await;
    let id = &own_client_google_connector(&svc, &token).await;
    let connector_path = format!("/api/v1/integrations/connectors/{id}");
    assert_eq!(delete(&svc, &token, &connector_path).await, 200);
    let received = fake.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].url.path(), "/revoke");
    assert_eq!(form_of(&received[0])["token"], "1//to-revoke");
    use integrations::CredentialStore;
    assert!(
        svc.credentials()
            .await
            .get("google", id)
            .await
            .unwrap()
            .is_none()
    );
    let (status, _) = svc
        .get(
            &format!("/api/v1/integrations/connectors/{id}"),
            Some(&token),
        )
        .await;
    assert_eq!(status, 404);

    // Through the service's app, which other connectors of the account (in any application)
    // share, Google's revocation would end their grant too: it is left, the credentials deleted.
    let (status, shared) = create(
        &svc,
        &token,
        json!({
            "customer_name": "c", "connector_type": "google",
            "credentials": { "access_token": "ya29-shared", "refresh_token": "1//kept" },
        }),
    )
    .await;
    assert_eq!(status, 201, "{shared}");
    let id = shared["id"].as_str().unwrap();
    let connector_path = format!("/api/v1/integrations/connectors/{id}");
    assert_eq!(delete(&svc, &token, &connector_path).await, 200);
    assert_eq!(
        fake.received_requests().await.unwrap().len(),
        1,
        "no second revocation"
    );
    assert!(
        svc.credentials()
            .await
            .get("google", id)
            .await
            .unwrap()
            .is_none()
    );
}

/// A service whose Google revocation endpoint answers after 500 ms, an own-client Google
/// connector on it, and an application token; a DELETE of the connector whose client gives up
/// after 100 ms, during the revocation, has been sent.
async fn a_deletion_left_during_the_revocation() -> (MockServer, Service, String, String) {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({}))
                .set_delay(Duration::from_millis(500)),
        )
        .mount(&fake)
        .await;
    let svc = start_with_app(&fake, "GOOGLE", "service-app", &[]).await;
    let token = app_token(&svc).await;
    let id = own_client_google_connector(&svc, &token).await;
    let left = svc
        .http
        .delete(format!("{}/api/v1/integrations/connectors/{id}", svc.url))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(left.unwrap_err().is_timeout(), "the client gave up first");
    (fake, svc, token, id)
}

/// The client leaves while the provider answers the revocation: the deletion still ends with
/// the connector and its credentials gone, not with a connector listed as active whose grant
/// was revoked.
#[tokio::test]
async fn a_deletion_completes_when_the_client_leaves_during_the_revocation() {
    let (fake, svc, token, id) = a_deletion_left_during_the_revocation().await;
    let connector_path = format!("/api/v1/integrations/connectors/{id}");
    let waited = std::time::Instant::now();
    while svc.get(&connector_path, Some(&token)).await.0 != 404 {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "the connector is still listed after its grant was revoked"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    use integrations::CredentialStore;
    assert!(
        svc.credentials()
            .await
            .get("google", &id)
            .await
            .unwrap()
            .is_none()
    );
    let received = fake.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(form_of(&received[0])["token"], "1//to-revoke");
}

/// A shutdown right after the client left a deletion during the revocation: `serve` returns
/// only once the deletion has ended, so that nothing is left half done when the process exits.
#[tokio::test]
async fn a_shutdown_waits_for_a_deletion_whose_client_left() {
    let (fake, mut svc, _, id) = a_deletion_left_during_the_revocation().await;
    svc.stop().await.unwrap();
    use integrations::CredentialStore;
    assert!(
        svc.credentials()
            .await
            .get("google", &id)
            .await
            .unwrap()
            .is_none(),
        "the credentials were deleted before serve returned"
    );
    let rows: i64 = rusqlite::Connection::open(svc.dir.path().join("service.db"))
        .unwrap()
        .query_row(
            "SELECT count(*) FROM connectors WHERE id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 0, "the row was deleted before serve returned");
    assert_eq!(fake.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_provider_from_the_service_s_own_definition_file_gets_connectors() {
    let fake = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/me"))
        .and(header("authorization", "Bearer acme-token"))
        .respond_with(ResponseTemplate::new(200).set_body_string("plain text"))
        .mount(&fake)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acme.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[providers]]
id = "acme"
display_name = "Acme"
authorization_url = "https://acme.example/oauth/authorize"
token_url = "https://acme.example/oauth/token"
api_base_url = "{}/v2"
"#,
            fake.uri()
        ),
    )
    .unwrap();
    let svc = start(
        &fake,
        &[("INTEGRATIONS_PROVIDERS", file.display().to_string())],
    )
    .await;
    let token = app_token(&svc).await;
    let (status, connector) = create(
        &svc,
        &token,
        json!({ "customer_name": "c", "definition_id": "ACME", "credentials": { "token": "acme-token" } }),
    )
    .await;
    assert_eq!(status, 201, "{connector}");
    assert_eq!(connector["connector_type"], "Acme");
    let id = connector["id"].as_str().unwrap();
    let (status, body) = svc
        .execute(&token, id, "proxy", "request", proxy("get", "/me"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], "plain text");
    let (status, body) = svc
        .execute(&token, id, "proxy", "request", proxy("GET", "/../v1/me"))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = check(&svc, &token, id).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["status"], "healthy", "no who-am-i: a token");
    let (status, listed) = svc
        .get(
            "/api/v1/integrations/connectors?connector_type=acme",
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(fake.received_requests().await.unwrap().len(), 1);
}

/// Deleting an application deletes its connectors' credentials also under a provider that is
/// no longer configured (its definition file was removed since the connector was created).
#[tokio::test]
async fn deleting_an_application_deletes_credentials_of_a_provider_no_longer_configured() {
    use integrations::CredentialStore;

    let fake = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acme.toml");
    std::fs::write(
        &file,
        "[[providers]]\nid = \"acme\"\ndisplay_name = \"Acme\"\nauthorization_url = \"https://acme.example/a\"\ntoken_url = \"https://acme.example/t\"\napi_base_url = \"https://api.acme.example\"\n",
    )
    .unwrap();
    let svc = start(
        &fake,
        &[("INTEGRATIONS_PROVIDERS", file.display().to_string())],
    )
    .await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    let (status, connector) = create(
        &svc,
        &token,
        json!({ "customer_name": "c", "connector_type": "acme", "credentials": { "token": "acme-token" } }),
    )
    .await;
    assert_eq!(status, 201, "{connector}");
    let id = connector["id"].as_str().unwrap();
    let credentials = svc.credentials().await;
    assert!(credentials.get("acme", id).await.unwrap().is_some());

    let without_acme = svc
        .another_instance_configured(svc.keys.clone(), |b| {
            b.provider_env(EnvSource::from_pairs(Vec::<(String, String)>::new()))
        })
        .await;
    without_acme
        .admin
        .delete_application(&app.application.id)
        .await
        .unwrap();
    assert!(credentials.get("acme", id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_broken_definition_file_stops_the_service_naming_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(
        &file,
        "[[providers]]\nid = \"broken\"\ndisplay_name = \"Broken\"\nauthorization_url = \"https://b.example/a\"\napi_base_url = \"https://api.b.example\"\n",
    )
    .unwrap();
    let error = integrations_server::Server::builder()
        .store_dir(dir.path().join("store"))
        .insecure_no_encryption()
        .provider_env(EnvSource::from_pairs([(
            "INTEGRATIONS_PROVIDERS",
            file.display().to_string(),
        )]))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            integrations_server::ServerError::ProviderDefinitions(_)
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("broken.toml") && message.contains("token_url"),
        "{message}"
    );
}

#[tokio::test]
async fn concurrent_requests_on_an_expired_google_connector_share_one_refresh() {
    let fake = MockServer::start().await;
    google_token_endpoints(&fake).await;
    Mock::given(method("GET"))
        .and(path("/drive/v3/files"))
        .and(header("authorization", "Bearer ya29-fresh"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "files": [] })))
        .mount(&fake)
        .await;
    let svc = start_with_app(&fake, "GOOGLE", "service-google-app", &[]).await;
    let token = app_token(&svc).await;
    let body = json!({
        "customer_name": "c", "connector_type": "google",
        "credentials": { "access_token": "ya29-stale", "refresh_token": "1//r" },
    });
    let (status, connector) = create(&svc, &token, body).await;
    assert_eq!(status, 201, "{connector}");
    let id = connector["id"].as_str().unwrap();
    // The stale token is refused: each request refreshes only through the shared cell.
    Mock::given(method("GET"))
        .and(path("/drive/v3/files"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(10)
        .mount(&fake)
        .await;
    let answers = futures::future::join_all((0..5).map(|_| {
        svc.execute(
            &token,
            id,
            "proxy",
            "request",
            proxy("GET", "/drive/v3/files"),
        )
    }))
    .await;
    for (status, body) in answers {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["connector_metadata"]["status"], 200, "{body}");
    }
    let received = fake.received_requests().await.unwrap();
    let refreshes: Vec<&Request> = received
        .iter()
        .filter(|r| r.url.path() == "/token")
        .collect();
    assert_eq!(refreshes.len(), 1);
    assert_eq!(form_of(refreshes[0])["client_id"], "service-google-app");
}

#[tokio::test]
async fn a_rejected_token_is_answered_with_the_provider_s_401() {
    let fake = MockServer::start().await;
    github_user(&fake).await;
    let svc = start(&fake, &[]).await;
    let (token, connector) = github_connector(&svc, "revoked-token").await;
    let id = connector["id"].as_str().unwrap();
    let (status, body) = svc
        .execute(&token, id, "proxy", "request", proxy("GET", "/user"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["connector_metadata"]["status"], 401);
    assert_eq!(body["result"]["message"], "Bad credentials");
}

#[tokio::test]
async fn the_consent_flow_works_for_a_provider_without_pkce() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "secret_notion", "token_type": "bearer",
            "bot_id": "b1", "workspace_id": "w1", "owner": { "user": { "id": "u1" } },
        })))
        .mount(&fake)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/users/me"))
        .and(header("authorization", "Bearer secret_notion"))
        .and(header("notion-version", "2022-06-28"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "u1" })))
        .mount(&fake)
        .await;
    let svc = start_with_app(
        &fake,
        "NOTION",
        "notion-app",
        &[
            (
                "NOTION_AUTHORIZATION_URL",
                format!("{}/v1/oauth/authorize", fake.uri()),
            ),
            ("NOTION_TOKEN_URL", format!("{}/v1/oauth/token", fake.uri())),
            ("NOTION_API_BASE_URL", format!("{}/v1", fake.uri())),
        ],
    )
    .await;
    let token = app_token(&svc).await;
    let consent = query_of(&consent_url(&svc, &token, "notion").await);
    assert!(!consent.contains_key("code_challenge"));
    assert_eq!(consent["owner"], "user");
    let back = land(&svc, "n-code", &consent["state"]).await;
    let id = query_of(&back)["connector_id"].clone();
    let exchange = &fake.received_requests().await.unwrap()[0];
    let sent: Value = serde_json::from_slice(&exchange.body).unwrap();
    assert_eq!(sent["code"], "n-code");
    assert!(sent.get("code_verifier").is_none());
    assert!(
        header_of(exchange, "authorization")
            .unwrap()
            .starts_with("Basic ")
    );
    let (status, body) = svc.execute(&token, &id, "*", "check", Value::Null).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["status"], "healthy", "{body}");
}

#[tokio::test]
async fn mcp_refuses_a_github_connector_with_400_naming_proxy_request() {
    let fake = MockServer::start().await;
    let svc = start(&fake, &[]).await;
    let (token, connector) = github_connector(&svc, PAT).await;
    let id = connector["id"].as_str().unwrap();
    let (status, body) = post_raw(
        &format!("{}/mcp?connector_id={id}", svc.url),
        &list_tools_request(),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        error_message(&body),
        "a GitHub connector has no catalog, so no MCP tools: /mcp serves Asana connectors; send its requests with execute and proxy.request"
    );
    assert!(fake.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_background_refresher_renews_a_google_token_read_under_google() {
    let fake = MockServer::start().await;
    google_userinfo(&fake).await;
    let svc = start_built(&fake, &[], |builder| {
        builder.refresh_ahead(Duration::from_secs(300), Duration::from_millis(50))
    })
    .await;
    let token = app_token(&svc).await;
    let connector = google_connector_with_own_client(&svc, &token).await;
    let id = connector["id"].as_str().unwrap();
    let tracked = || tracked_expiry(svc.dir.path(), id);
    let expected = std::time::SystemTime::now() + Duration::from_secs(3600);
    let expected = expected
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let started = std::time::Instant::now();
    loop {
        if tracked().is_some_and(|ms| (expected - ms).abs() < 5_000) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the refresher did not renew the token: {:?}",
            tracked()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refreshes = || async {
        fake.received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/token")
            .count()
    };
    assert_eq!(refreshes().await, 1, "refreshed ahead of use, once");
    let (status, body) = svc
        .execute(
            &token,
            id,
            "proxy",
            "request",
            proxy("GET", "/oauth2/v3/userinfo"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["sub"], "42");
    assert_eq!(refreshes().await, 1, "the request found the fresh token");
}

/// A raw request (or a check) whose credentials are sealed under a key this instance lacks is the
/// service's own failure (500, not retryable), not GitHub's (502) nor the connector's health;
/// nothing is sent.
#[tokio::test]
async fn a_proxy_request_with_credentials_under_a_missing_key_is_a_500() {
    let fake = MockServer::start().await;
    github_user(&fake).await;
    let svc = start(&fake, &[]).await;
    let (token, connector) = github_connector(&svc, PAT).await;
    let id = connector["id"].as_str().unwrap();
    let other = svc
        .another_instance(KeyRing::new(EncryptionKey::generate()))
        .await;
    let (status, body) = other
        .execute(&token, id, "proxy", "request", proxy("GET", "/user"))
        .await;
    assert_eq!((status, &body["retryable"]), (500, &json!(false)), "{body}");
    assert!(!error_message(&body).contains("GitHub"), "{body}");
    let (status, body) = check(&other, &token, id).await;
    assert_eq!((status, &body["retryable"]), (500, &json!(false)), "{body}");
    assert!(!body.to_string().contains("encrypted with key"), "{body}");
    assert!(fake.received_requests().await.unwrap().is_empty());
}
