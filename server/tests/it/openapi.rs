//! The OpenAPI document: an OpenAPI 3.1 specification that lists exactly the routes the router
//! serves, with the bearer scheme, and the error schema on every error answer.

use serde_json::Value;

use crate::support::Service;

/// Every route the router serves.
const ROUTES: [(&str, &str); 24] = [
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/integrations/connectors"),
    ("GET", "/api/v1/integrations/connectors/{id}"),
    ("GET", "/api/v1/oauth/callback"),
    (
        "GET",
        "/api/v1/oauth/credentials/connector_type/{connector_type}",
    ),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/readyz"),
    ("DELETE", "/api/v1/integrations/connectors/{id}"),
    (
        "DELETE",
        "/api/v1/oauth/credentials/connector_type/{connector_type}",
    ),
    ("PATCH", "/api/v1/integrations/connectors/{id}"),
    ("POST", "/api/v1/account/applications/scoped-token"),
    ("POST", "/api/v1/account/applications/token"),
    ("POST", "/api/v1/account/applications/token/revoke"),
    ("POST", "/api/v1/connectors/sources/{id}/execute"),
    ("POST", "/api/v1/connectors/instances/{id}/execute"),
    ("POST", "/api/v1/applications/token"),
    ("GET", "/api/v1/connectors/instances_for_user"),
    ("POST", "/api/v1/integrations/connectors"),
    ("POST", "/api/v1/integrations/connectors/oauth/initiate"),
    ("POST", "/api/v1/integrations/connectors/{id}/execute"),
    ("PUT", "/api/v1/oauth/credentials"),
    ("POST", "/v1/integrations/connectors"),
];

async fn document(service: &Service) -> (String, Value) {
    let (status, content_type, text) = service.get_text("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    let value = serde_json::from_str(&text).unwrap();
    (text, value)
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_lists_exactly_the_routes_the_router_serves() {
    let service = Service::start().await;
    let (text, _) = document(&service).await;
    let spec = oas3::from_json(&text).expect("an OpenAPI 3.1 document");
    assert_eq!(spec.validate_version().unwrap().to_string(), "3.1.0");
    let mut documented: Vec<(String, String)> = spec
        .operations()
        .map(|(path, method, _)| (method.to_string(), path))
        .collect();
    documented.sort();
    let mut expected: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    expected.sort();
    assert_eq!(documented, expected);
    let mut ids: Vec<&str> = spec
        .operations()
        .filter_map(|(_, _, operation)| operation.operation_id.as_deref())
        .collect();
    ids.sort_unstable();
    let count = ids.len();
    ids.dedup();
    assert_eq!(
        (ids.len(), count),
        (ROUTES.len(), ROUTES.len()),
        "unique ids"
    );

    // Each documented route is served: neither the fallback's 404 nor 405.
    for (method, path) in &expected {
        let path = path
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{connector_type}", "Asana");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let body = (method != reqwest::Method::GET).then(|| b"{}".to_vec());
        let (status, answer) = service.send(method.clone(), &path, None, body).await;
        assert_ne!(status, 405, "{method} {path}");
        assert_ne!(answer["message"], "no such route", "{method} {path}");
    }
}

#[tokio::test]
async fn every_error_answer_is_documented_with_the_error_schema_and_tokens_with_bearer() {
    let service = Service::start().await;
    let (_, doc) = document(&service).await;
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        serde_json::json!({
            "type": "http",
            "scheme": "bearer",
            "description": "A service token from POST /api/v1/account/applications/token (or a scoped token)",
        })
    );
    assert_eq!(
        doc["components"]["schemas"]["Error"]["required"],
        serde_json::json!(["message", "errors", "retryable", "source"])
    );
    let error_ref = serde_json::json!({ "$ref": "#/components/schemas/Error" });
    let mut secured = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            for (status, response) in responses {
                if status.as_str() >= "400" {
                    assert_eq!(
                        response["content"]["application/json"]["schema"], error_ref,
                        "{method} {path} {status}"
                    );
                }
            }
            let has = |status: &str| responses.contains_key(status);
            assert!(has("504"), "{method} {path}");
            if operation.get("security").is_some() {
                secured += 1;
                assert_eq!(operation["security"], serde_json::json!([{ "bearer": [] }]));
                assert!(has("401") && has("429"), "{method} {path}");
            }
            if has("429") {
                assert_eq!(
                    responses["429"]["headers"]["Retry-After"]["schema"]["type"], "integer",
                    "{method} {path}"
                );
            }
            if operation.get("requestBody").is_some() {
                assert!(has("400") && has("413") && has("422"), "{method} {path}");
            }
        }
    }
    assert_eq!(
        secured, 17,
        "every route but token, callback, health, metrics and this"
    );
    for (path, own) in [
        ("/api/v1/integrations/connectors", "CreateRequest"),
        ("/v1/integrations/connectors", "CreateRequest"),
        (
            "/api/v1/integrations/connectors/oauth/initiate",
            "InitiateRequest",
        ),
    ] {
        assert_eq!(
            doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"],
            serde_json::json!({ "allOf": [
                { "$ref": "#/components/schemas/NewConnector" },
                { "$ref": format!("#/components/schemas/{own}") },
            ] }),
            "{path}"
        );
    }
    let links =
        &doc["paths"]["/api/v1/integrations/connectors"]["post"]["responses"]["201"]["links"];
    for operation_id in ["read", "update", "remove", "execute"] {
        assert_eq!(
            links[operation_id],
            serde_json::json!({
                "operationId": operation_id,
                "parameters": { "id": "$response.body#/id" },
            })
        );
    }
    let execute = &doc["paths"]["/api/v1/integrations/connectors/{id}/execute"]["post"];
    let mut statuses: Vec<&String> = execute["responses"].as_object().unwrap().keys().collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            "200", "400", "401", "403", "404", "409", "413", "422", "429", "500", "502", "503",
            "504"
        ]
    );
}

#[tokio::test]
async fn the_documented_range_of_audit_limit_is_the_enforced_one() {
    let service = Service::start().await;
    let (_, doc) = document(&service).await;
    let limit = doc["paths"]["/api/v1/audit"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(
        (&limit["schema"]["minimum"], &limit["schema"]["maximum"]),
        (&serde_json::json!(1), &serde_json::json!(1000))
    );
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    for (limit, status) in [(0, 422), (1, 200), (1000, 200), (1001, 422)] {
        let (answer, _) = service
            .get(&format!("/api/v1/audit?limit={limit}"), Some(&token))
            .await;
        assert_eq!(answer, status, "limit={limit}");
    }
}

#[tokio::test]
async fn a_method_a_path_does_not_take_is_405_in_the_error_shape_with_allow() {
    let service = Service::start().await;
    for (method, path, allow) in [
        ("DELETE", "/api/v1/account/applications/token", "POST"),
        ("PUT", "/api/v1/openapi.json", "GET,HEAD"),
    ] {
        let response = service
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", service.url),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert!(crate::support::error_message(&body).contains("does not take this method"));
    }
}

#[tokio::test]
async fn the_consent_flow_s_secret_id_is_documented_on_the_callback_and_on_create() {
    let service = Service::start().await;
    let (_, doc) = document(&service).await;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["CreateRequest"]["properties"]["server_side_oauth_secret_id"]["type"],
        serde_json::json!(["string", "null"])
    );
    let create = &doc["paths"]["/api/v1/integrations/connectors"]["post"]["responses"];
    let refused = create["422"]["description"].as_str().unwrap();
    assert!(
        refused.contains("server_side_oauth_secret_id") && refused.contains("new consent flow"),
        "{refused}"
    );
    let redirected =
        doc["paths"]["/api/v1/oauth/callback"]["get"]["responses"]["303"]["description"]
            .as_str()
            .unwrap();
    assert!(redirected.contains("secret_id=S"), "{redirected}");
}
