//! Tenancy: every connector endpoint tried with another application's token and with another
//! customer's scoped token answers 404 and changes nothing; expired tokens are 401.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::support::{Service, error_message};

/// Every connector endpoint on connector `id`: (method, path, body).
fn endpoints(id: &str) -> Vec<(reqwest::Method, String, Option<Value>)> {
    vec![
        (
            reqwest::Method::GET,
            format!("/api/v1/integrations/connectors/{id}"),
            None,
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/v1/integrations/connectors/{id}"),
            Some(json!({ "name": "taken over", "credentials": { "token": "attacker" } })),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/integrations/connectors/{id}"),
            None,
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/integrations/connectors/{id}/execute"),
            Some(json!({ "entity": "users", "action": "get", "params": { "user_gid": "me" } })),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/connectors/sources/{id}/execute"),
            Some(json!({ "entity": "*", "action": "check", "params": null })),
        ),
    ]
}

#[tokio::test]
async fn other_applications_and_other_customers_get_404_and_change_nothing() {
    let service = Service::start().await;
    let owner = service.application("owner").await;
    let other = service.application("other").await;
    let owner_token = service.app_token(&owner).await;
    let other_token = service.app_token(&other).await;
    let pat = service.asana.personal_access_token().to_string();
    let connector = service
        .connector(&owner_token, "customer-1", json!({ "token": pat }))
        .await;
    let id = connector["id"].as_str().unwrap();
    let other_customer = service.scoped_token(&owner_token, "customer-2").await;
    let api_requests = service.asana.api_requests();

    for token in [&other_token, &other_customer] {
        for (method, path, body) in endpoints(id) {
            let body = body.map(|b| b.to_string().into_bytes());
            let (status, answer) = service.send(method.clone(), &path, Some(token), body).await;
            assert_eq!(status, 404, "{method} {path}: {answer}");
            assert_eq!(error_message(&answer), "connector not found");
        }
        let (status, listed) = service
            .get(
                "/api/v1/integrations/connectors?customer_name=customer-1",
                Some(token),
            )
            .await;
        assert_eq!(
            (status, listed),
            (200, json!({ "data": [], "next_cursor": null }))
        );
        let (status, _) = service
            .post(
                "/api/v1/integrations/connectors",
                Some(token),
                json!({ "customer_name": "customer-1", "connector_type": "Asana", "credentials": { "token": "x" } }),
            )
            .await;
        if token == &other_customer {
            assert_eq!(status, 404, "a scoped token creates only for its customer");
        } else {
            assert_eq!(status, 201, "another application has its own customer-1");
        }
    }
    assert_eq!(
        service.asana.api_requests(),
        api_requests,
        "nothing reached Asana"
    );

    // The owner still sees it unchanged; the customer's own scoped token sees it too.
    let (status, got) = service
        .get(
            &format!("/api/v1/integrations/connectors/{id}"),
            Some(&owner_token),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(got["name"], connector["name"]);
    let own_customer = service.scoped_token(&owner_token, "customer-1").await;
    let (status, listed) = service
        .get("/api/v1/integrations/connectors", Some(&own_customer))
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["data"][0]["id"], id);
    let (status, body) = service
        .execute(
            &own_customer,
            id,
            "users",
            "get",
            json!({ "user_gid": "me" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_expired_service_token_is_401() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    // Age the token in the service's store, as time passing would.
    let db = rusqlite::Connection::open(service.dir.path().join("service.db")).unwrap();
    let past = SystemTime::now() - Duration::from_secs(1);
    let past_ms = past
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    db.execute("UPDATE tokens SET expires_ms = ?1", [past_ms])
        .unwrap();
    let (status, body) = service
        .get("/api/v1/integrations/connectors", Some(&token))
        .await;
    assert_eq!(status, 401);
    assert!(error_message(&body).contains("expired"));
}
