//! Bad input: malformed JSON, wrong types, unknown entities and actions, oversized bodies and
//! unusable credentials are each a clear 4xx, and nothing is stored or sent to Asana.

use integrations::CredentialStore;
use serde_json::{Value, json};

use crate::support::{Service, error_message};

/// Asserts that the service holds no connector and no credentials.
async fn nothing_stored(service: &Service, token: &str) {
    let (_, listed) = service
        .get("/api/v1/integrations/connectors", Some(token))
        .await;
    assert_eq!(listed, json!({ "data": [], "next_cursor": null }));
    assert!(
        service
            .credentials()
            .await
            .list(None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn bad_connector_bodies_are_4xx_and_store_nothing() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let pat = service.asana.personal_access_token().to_string();
    let raw = |body: &str| Some(body.as_bytes().to_vec());
    let cases: Vec<(Option<Vec<u8>>, u16, &str)> = vec![
        (raw("{\"customer_name\": "), 400, "not valid JSON"),
        (raw("[1, 2]"), 422, "JSON object"),
        (
            raw(&json!({ "customer_name": 7, "connector_type": "Asana", "credentials": { "token": pat } }).to_string()),
            422,
            "`customer_name` has the wrong type",
        ),
        (
            raw(&json!({ "customer_name": "c", "connector_type": "Trello", "credentials": { "token": pat } }).to_string()),
            422,
            "unknown connector_type",
        ),
        (
            raw(&json!({ "customer_name": "c", "definition_id": "00000000-0000-0000-0000-000000000000", "credentials": { "token": pat } }).to_string()),
            422,
            "unknown definition_id",
        ),
        (
            raw(&json!({ "customer_name": "c", "connector_type": "Asana" }).to_string()),
            422,
            "credentials are required",
        ),
        (
            raw(&json!({ "customer_name": "c", "connector_type": "Asana", "credentials": { "token": 12345 } }).to_string()),
            422,
            "credentials.token must be a non-empty string",
        ),
        (
            raw(&json!({ "customer_name": "c", "connector_type": "Asana", "credentials": { "token": "pat\nX-Injected: 1" } }).to_string()),
            422,
            "credentials.token must be visible ASCII",
        ),
        (
            raw(&json!({ "customer_name": "c", "connector_type": "Asana", "credentials": { "refresh_token": "r t" } }).to_string()),
            422,
            "credentials.refresh_token must be visible ASCII",
        ),
        (
            raw(&json!({ "customer_name": "c", "connector_type": "Asana", "credentials": { "refresh_token": "r", "access_token": "tokén" } }).to_string()),
            422,
            "credentials.access_token must be visible ASCII",
        ),
        (
            raw(&json!({ "customer_name": "c", "connector_type": "Asana", "credentials": { "access_token": "only" } }).to_string()),
            422,
            "credentials must be",
        ),
        (
            raw(&json!({ "customer_name": "c", "connector_type": "Asana", "credentials": { "refresh_token": "r", "client_id": "id" } }).to_string()),
            422,
            "go together",
        ),
        (
            raw(&json!({ "connector_type": "Asana", "credentials": { "token": pat } }).to_string()),
            422,
            "name the customer",
        ),
        (
            raw(&json!({ "customer_name": "a", "external_user_id": "b", "connector_type": "Asana", "credentials": { "token": pat } }).to_string()),
            422,
            "different customers",
        ),
    ];
    for (body, status, needle) in cases {
        let shown = String::from_utf8_lossy(body.as_deref().unwrap_or_default()).to_string();
        let (got, answer) = service
            .send(
                reqwest::Method::POST,
                "/api/v1/integrations/connectors",
                Some(&token),
                body,
            )
            .await;
        assert_eq!(got, status, "{shown}: {answer}");
        let message = error_message(&answer);
        assert!(message.contains(needle), "{shown}: {message}");
    }
    nothing_stored(&service, &token).await;
}

#[tokio::test]
async fn an_oversized_body_is_413_and_stores_nothing() {
    let service = Service::start_with(true, 4 * 1024).await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let body = json!({
        "customer_name": "c",
        "connector_type": "Asana",
        "credentials": { "token": service.asana.personal_access_token() },
        "padding": "x".repeat(8 * 1024),
    });
    let (status, answer) = service
        .post("/api/v1/integrations/connectors", Some(&token), body)
        .await;
    assert_eq!(status, 413, "{answer}");
    assert!(error_message(&answer).contains("larger"));
    nothing_stored(&service, &token).await;
}

#[tokio::test]
async fn an_oauth_connector_with_no_app_to_refresh_it_is_422() {
    let service = Service::start_with(false, 64 * 1024).await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let (status, answer) = service
        .post(
            "/api/v1/integrations/connectors",
            Some(&token),
            json!({ "customer_name": "c", "connector_type": "Asana", "credentials": { "refresh_token": "r" } }),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(error_message(&answer).contains("client_id and client_secret"));
    nothing_stored(&service, &token).await;
}

#[tokio::test]
async fn bad_execute_requests_are_4xx_and_never_reach_asana() {
    let service = Service::start().await;
    let (token, id) = service.pat_connector().await;
    let path = format!("/api/v1/integrations/connectors/{id}/execute");
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({ "entity": "taskz", "action": "list" }),
            400,
            "available entities",
        ),
        (
            json!({ "entity": "tasks", "action": "explode" }),
            400,
            "available actions",
        ),
        (
            json!({ "entity": "tasks", "action": "get", "params": { "task_gid": 5 } }),
            422,
            "allowed params",
        ),
        (
            json!({ "entity": "tasks", "action": "get", "params": { "nope": "x", "task_gid": "1" } }),
            422,
            "unknown param `nope`",
        ),
        (
            json!({ "entity": "tasks", "action": "get", "params": "x" }),
            422,
            "JSON object",
        ),
        (
            json!({ "entity": 1, "action": "get" }),
            422,
            "`entity` has the wrong type",
        ),
        (json!({ "action": "get" }), 422, "misses the field `entity`"),
    ];
    for (body, status, needle) in cases {
        let (got, answer) = service.post(&path, Some(&token), body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        let message = error_message(&answer);
        assert!(message.contains(needle), "{body}: {message}");
    }
    let (got, answer) = service
        .send(
            reqwest::Method::POST,
            &path,
            Some(&token),
            Some(b"{not json".to_vec()),
        )
        .await;
    assert_eq!(got, 400, "{answer}");
    assert_eq!(service.asana.api_requests(), 0);
    let (status, answer) = service.get("/api/v1/no/such/route", Some(&token)).await;
    assert_eq!(status, 404);
    error_message(&answer);
}

#[tokio::test]
async fn a_bad_patch_is_4xx_and_changes_nothing() {
    let service = Service::start().await;
    let (token, id) = service.pat_connector().await;
    let path = format!("/api/v1/integrations/connectors/{id}");
    let before = service.get(&path, Some(&token)).await.1;
    let stored = service.stored_access_token(&id).await;
    for (body, status) in [
        (b"{\"name\": ".to_vec(), 400),
        (json!({ "name": 5 }).to_string().into_bytes(), 422),
        (json!({ "name": "  " }).to_string().into_bytes(), 422),
        (
            json!({ "name": "renamed", "credentials": { "token": false } })
                .to_string()
                .into_bytes(),
            422,
        ),
    ] {
        let (got, answer) = service
            .send(reqwest::Method::PATCH, &path, Some(&token), Some(body))
            .await;
        assert_eq!(got, status, "{answer}");
        error_message(&answer);
    }
    assert_eq!(service.get(&path, Some(&token)).await.1, before);
    assert_eq!(service.stored_access_token(&id).await, stored);
}
