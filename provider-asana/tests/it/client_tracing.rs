//! Request tracing: one span per attempt with method, path and status, never the token or query
//! values. Captured with `CapturedLogs`, which keeps capture reliable while other tests of this
//! binary run concurrently.

use crate::client_support;

use auth_core::testing::CapturedLogs;

use client_support::client;
use reqwest::Method;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn traces_name_method_path_status_and_attempt_but_never_the_token_or_query() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .and(wiremock::matchers::header(
            "authorization",
            "Bearer token-1",
        ))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .and(wiremock::matchers::header(
            "authorization",
            "Bearer token-2",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"gid": "1"}})))
        .mount(&server)
        .await;
    let (client, _) = client(&server);
    let logs = CapturedLogs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber(tracing::Level::TRACE));

    client
        .request(
            Method::GET,
            "/users/me",
            &[("opt_fields", "private-query-value")],
            None,
        )
        .await
        .unwrap();

    let text = logs.text();
    assert!(
        text.contains("asana_request{method=GET path=/api/1.0/users/me"),
        "{text}"
    );
    assert!(
        text.contains("attempt=1") && text.contains("attempt=2"),
        "{text}"
    );
    assert!(
        text.contains("status=401") && text.contains("status=200"),
        "{text}"
    );
    assert!(
        !text.contains("token-1") && !text.contains("token-2"),
        "{text}"
    );
    assert!(!text.contains("private-query-value"), "{text}");
}
