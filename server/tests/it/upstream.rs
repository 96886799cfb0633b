//! Asana's failures as honest answers (429 with Asana's Retry-After, 502, 504), and whose OAuth
//! app refreshes a connector: its own, the application's, or the service's, once for many callers.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Service, error_message};

#[tokio::test]
async fn asanas_rate_limit_is_429_with_its_retry_after() {
    let service = Service::start().await;
    let (token, id) = service.pat_connector().await;
    service.asana.rate_limit_next(1, Some(7));
    let response = service.execute_users_get(&token, &id, "me").await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["retryable"], true);
    assert!(error_message(&body).contains("rate limited"));
}

#[tokio::test]
async fn asana_failing_is_502_and_asana_too_slow_is_504() {
    let service = Service::start().await;
    let (token, id) = service.pat_connector().await;
    service.asana.fail_next(1, 503);
    let (status, body) = service
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["retryable"], true);
    service.asana.set_latency(Duration::from_secs(2));
    let (status, body) = service
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["retryable"], true);
    assert!(error_message(&body).contains("timed out"));
}

/// Each of Asana's refusals is its own answer, and only Asana's own failures say a retry can
/// help: its message comes through, never as the service's fault.
#[tokio::test]
async fn each_of_asanas_refusals_is_its_own_answer() {
    let service = Service::start().await;
    let (token, id) = service.pat_connector().await;
    for (asana, status, retryable, says) in [
        (400, 422, false, "Invalid Request"),
        (402, 422, false, "premium"),
        (403, 403, false, "Forbidden"),
        (404, 404, false, "Not Found"),
        (500, 502, true, "Server Error"),
        (503, 502, true, "Service Unavailable"),
    ] {
        service.asana.fail_next(1, asana);
        let (got, body) = service
            .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
            .await;
        assert_eq!(
            (got, &body["retryable"], &body["source"]),
            (status, &json!(retryable), &json!("provider")),
            "{asana}: {body}"
        );
        assert_eq!(body.get("outcome_unknown"), None, "{asana}: {body}");
        assert!(error_message(&body).contains(says), "{asana}: {body}");
    }
    // The service's own 404 (a connector it does not know) says so.
    let (got, body) = service
        .execute(
            &token,
            "no-such-connector",
            "users",
            "get",
            json!({ "user_gid": "me" }),
        )
        .await;
    assert_eq!((got, &body["source"]), (404, &json!("service")), "{body}");
    // The faults are spent: the same call now succeeds.
    let (got, body) = service
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(got, 200, "{body}");
}

/// A write Asana failed on may have been applied: the answer says so and is not retryable, and
/// the hosted client reads it as an unknown outcome.
#[tokio::test]
async fn a_write_asana_failed_on_is_an_unknown_outcome_not_a_retry() {
    let service = Service::start().await;
    let (token, id) = service.pat_connector().await;
    service.asana.fail_next(1, 500);
    let (got, body) = service
        .execute(
            &token,
            &id,
            "tasks",
            "create",
            json!({ "name": "once", "workspace": "1" }),
        )
        .await;
    assert_eq!(
        (
            got,
            &body["retryable"],
            &body["outcome_unknown"],
            &body["source"]
        ),
        (502, &json!(false), &json!(true), &json!("provider")),
        "{body}"
    );
}

#[tokio::test]
async fn an_oauth_connector_refreshes_with_its_own_client() {
    let service = Service::start_with(false, 64 * 1024).await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let id = service.own_client_connector(&token).await;
    let (status, body) = service
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(service.asana.token_requests_for("refresh_token"), 1);
    // What the refresh answered is what is stored: Asana takes it.
    let stored = service.stored_access_token(&id).await.unwrap();
    let me = reqwest::Client::new()
        .get(format!("{}/users/me", service.asana.api_base_url()))
        .bearer_auth(&stored)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn without_a_client_the_applications_own_app_refreshes() {
    let service = Service::start_with(false, 64 * 1024).await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    service
        .admin
        .set_oauth_app(
            &app.application.id,
            "Asana",
            service.asana.client_id(),
            service.asana.client_secret().into(),
        )
        .await
        .unwrap();
    let issued = service.asana.issue_tokens("default");
    let connector = service
        .connector(
            &token,
            "c",
            json!({ "refresh_token": issued.refresh_token }),
        )
        .await;
    let id = connector["id"].as_str().unwrap();
    let (status, body) = service
        .execute(&token, id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 200, "{body}");
    let refresh = service
        .asana
        .received_requests()
        .await
        .into_iter()
        .find(|r| r.url.path() == "/-/oauth_token")
        .unwrap();
    let form = String::from_utf8_lossy(&refresh.body).to_string();
    assert!(
        form.contains(&format!("client_id={}", service.asana.client_id())),
        "{form}"
    );
    // The sealed secret is not in the service's database in clear.
    let db = std::fs::read(service.dir.path().join("service.db")).unwrap();
    let secret = service.asana.client_secret().as_bytes();
    assert!(!db.windows(secret.len()).any(|w| w == secret));
}

#[tokio::test]
async fn concurrent_executes_on_an_expired_token_refresh_once() {
    let service = Service::start().await;
    let (token, id, _) = service.oauth_connector().await;
    let (status, _) = service
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 200);
    service.asana.expire_access_tokens();
    let calls =
        (0..8).map(|_| service.execute(&token, &id, "users", "get", json!({ "user_gid": "me" })));
    for (status, body) in futures::future::join_all(calls).await {
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(service.asana.token_requests_for("refresh_token"), 1);
}

#[tokio::test]
async fn an_executes_result_is_the_record_as_asana_wrote_it() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let service = Service::start().await;
    let (token, id) = service.pat_connector().await;
    let record = r#"{"name":"Ann","gid":"42","amount":2.50,"note":"caf\u00e9"}"#;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/42"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(format!(r#"{{"data":{record}}}"#), "application/json"),
        )
        .with_priority(1)
        .mount(service.asana.server())
        .await;
    let response = service.execute_users_get(&token, &id, "42").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        format!(r#"{{"result":{record},"connector_metadata":{{}}}}"#),
        "field order, numbers and escapes as Asana sent them"
    );
}
