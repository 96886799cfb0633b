//! No secret in any answer or audit entry: canary secrets (the OAuth client secret, the tokens,
//! the application's client secret) are sent through every endpoint and never come back, and are
//! not in the service's files in clear.

use integrations::{EncryptionKey, KeyRing};
use provider_asana_testkit::MockAsana;
use serde_json::{Value, json};

use crate::support::{Logs, Service, error_message};

const CLIENT_SECRET: &str = "canary-oauth-client-secret-5f1e";

#[tokio::test]
async fn canary_secrets_never_come_back() {
    let logs = Logs::default();
    let capture = logs.capture_at(tracing::Level::TRACE);
    let asana = MockAsana::builder()
        .client_secret(CLIENT_SECRET)
        .start()
        .await;
    let service = Service::start_on(asana, false, 64 * 1024).await;
    let asana = &service.asana;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let scoped = service.scoped_token(&token, "c").await;
    let issued = asana.issue_tokens("default");
    let canaries = [
        scoped.clone(),
        CLIENT_SECRET.to_string(),
        issued.access_token.clone(),
        issued.refresh_token.clone(),
        asana.personal_access_token().to_string(),
        app.client_secret.expose_secret().to_string(),
        token.clone(),
    ];
    let mut answers: Vec<Value> = Vec::new();
    let oauth = json!({
        "access_token": issued.access_token,
        "refresh_token": issued.refresh_token,
        "client_id": asana.client_id(),
        "client_secret": CLIENT_SECRET,
    });
    let created = service.connector(&token, "c", oauth.clone()).await;
    let id = created["id"].as_str().unwrap().to_string();
    answers.push(created);
    let pat = service
        .connector(
            &token,
            "c",
            json!({ "token": asana.personal_access_token() }),
        )
        .await;
    answers.push(pat);
    answers.push(
        service
            .get("/api/v1/integrations/connectors", Some(&token))
            .await
            .1,
    );
    answers.push(
        service
            .get(
                &format!("/api/v1/integrations/connectors/{id}"),
                Some(&token),
            )
            .await
            .1,
    );
    answers.push(
        service
            .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
            .await
            .1,
    );
    answers.push(
        service
            .execute(&token, &id, "*", "check", Value::Null)
            .await
            .1,
    );
    // Secrets in the wrong places are refused without being echoed.
    for body in [
        json!({ "customer_name": "c", "connector_type": "Asana", "credentials": CLIENT_SECRET }),
        json!({ "customer_name": "c", "connector_type": "Asana", "credentials": { "token": [CLIENT_SECRET] } }),
        json!({ "customer_name": [CLIENT_SECRET], "connector_type": "Asana" }),
        json!({ "customer_name": "c", "connector_type": CLIENT_SECRET, "credentials": { "token": "t" } }),
    ] {
        let (status, answer) = service
            .post("/api/v1/integrations/connectors", Some(&token), body)
            .await;
        assert_eq!(status, 422, "{answer}");
        answers.push(answer);
    }
    let (status, answer) = service
        .send(
            reqwest::Method::POST,
            "/api/v1/integrations/connectors",
            Some(&token),
            Some(format!("{{\"credentials\": {{\"token\": \"{CLIENT_SECRET}").into_bytes()),
        )
        .await;
    assert_eq!(status, 400);
    answers.push(answer);
    answers.push(
        service
            .token_request(&app.application.client_id, CLIENT_SECRET)
            .await
            .1,
    );
    // A rejected grant's error, then a reconnect and a delete.
    asana.revoke_all_grants();
    asana.expire_access_tokens();
    answers.push(
        service
            .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
            .await
            .1,
    );
    answers.push(
        service
            .send(
                reqwest::Method::PATCH,
                &format!("/api/v1/integrations/connectors/{id}"),
                Some(&token),
                Some(json!({ "credentials": oauth }).to_string().into_bytes()),
            )
            .await
            .1,
    );
    answers.push(
        service
            .send(
                reqwest::Method::DELETE,
                &format!("/api/v1/integrations/connectors/{id}"),
                Some(&token),
                None,
            )
            .await
            .1,
    );
    answers.push(service.get("/api/v1/audit", Some(&token)).await.1);
    // Tokens revoked one by one and by customer, a wrong token among them.
    let revoke = "/api/v1/account/applications/token/revoke";
    for (caller, body) in [
        (&scoped, json!({ "token": CLIENT_SECRET })),
        (&token, json!({ "token": scoped })),
        (&token, json!({ "customer_name": "c" })),
    ] {
        let (status, answer) = service.post(revoke, Some(caller), body).await;
        assert_eq!(status, 200, "{answer}");
        answers.push(answer);
    }

    let text = answers
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    for canary in &canaries {
        assert!(
            !text.contains(canary.as_str()),
            "an answer contains a secret: {text}"
        );
    }
    drop(capture);
    let logged = logs.text();
    assert!(
        logged.contains("TRACE") && logged.contains("/api/v1/account/applications/token/revoke"),
        "the requests' lines were captured: {logged}"
    );
    for canary in &canaries {
        assert!(
            !logged.contains(canary.as_str()),
            "a log line contains a secret: {logged}"
        );
    }
    for file in ["service.db", "credentials.db"] {
        let mut bytes = std::fs::read(service.dir.path().join(file)).unwrap();
        if let Ok(wal) = std::fs::read(service.dir.path().join(format!("{file}-wal"))) {
            bytes.extend(wal);
        }
        for canary in &canaries {
            assert!(
                !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
                "{file} holds a secret in clear"
            );
        }
    }
}

/// Credentials sealed under a key this instance lacks are the service's own failure (500, not
/// retryable, the store's location not in the answer), not Asana's (502), nor the connector's
/// health in a check.
#[tokio::test]
async fn credentials_under_a_missing_key_are_a_500_no_retry_can_fix() {
    let svc = Service::start().await;
    let (token, id) = svc.pat_connector().await;
    let (status, _) = svc
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 200);
    let other = svc
        .another_instance(KeyRing::new(EncryptionKey::generate()))
        .await;
    let (status, body) = other
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!((status, &body["retryable"]), (500, &json!(false)), "{body}");
    let message = error_message(&body);
    assert!(
        !message.contains(&svc.dir.path().display().to_string()),
        "{message}"
    );
    assert!(!message.contains("Asana"), "{message}");
    // Nor is it the connector's health: the check cannot be made.
    let (status, body) = other.execute(&token, &id, "*", "check", json!({})).await;
    assert_eq!((status, &body["retryable"]), (500, &json!(false)), "{body}");
    assert!(!body.to_string().contains("encrypted with key"), "{body}");
}

/// A PostgreSQL URL's password, in its user info or as libpq's `password` parameter (any case),
/// is never shown by the location or by a builder holding it.
#[test]
fn a_store_url_s_password_is_never_formatted() {
    for url in [
        "postgres://app:canary-pg-password@db.internal/app",
        "postgres://app@db.internal/app?password=canary-pg-password",
        "postgresql://app@db.internal/app?sslmode=require&PASSWORD=canary-pg-password",
        "postgres://app@db.internal/app?sslkey=k.pem&sslpassword=canary-pg-password",
        // No password to a URL parser; a PostgreSQL client sends one.
        "postgres://app:/canary-pg-password@db.internal/app",
        "postgres://app:123/canary-pg-password@db.internal/app",
        "postgres://app:?canary-pg-password@db.internal/app",
        "postgres://app:#canary-pg-password@db.internal/app",
    ] {
        let location: integrations_server::StoreLocation = url.parse().unwrap();
        let builder = integrations_server::Server::builder().store(location.clone());
        let shown = format!("{location} {location:?} {builder:?}");
        assert!(!shown.contains("canary-pg-password"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }
}
