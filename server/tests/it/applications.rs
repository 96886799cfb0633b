//! Applications: service tokens for the right client secret only, scoped tokens, rotation and
//! deletion through `Admin`, and the health endpoints (readiness with a key that does not open
//! the stored credentials too).

use integrations::{EncryptionKey, KeyRing};
use provider_asana_testkit::MockAsana;
use serde_json::json;

use crate::support::{Logs, Service, error_message};

#[tokio::test]
async fn the_right_client_secret_gets_a_bearer_token_that_authenticates() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let (status, body) = service
        .token_request(
            &app.application.client_id,
            app.client_secret.expose_secret(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(
        body["organization_id"],
        app.application.organization_id.as_str()
    );
    let token = body["access_token"].as_str().unwrap();
    let (status, body) = service
        .get("/api/v1/integrations/connectors", Some(token))
        .await;
    assert_eq!(
        (status, body),
        (200, json!({ "data": [], "next_cursor": null }))
    );
}

#[tokio::test]
async fn a_wrong_secret_or_an_unknown_client_is_401_and_says_nothing_more() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let wrong_secret = service
        .token_request(&app.application.client_id, "wrong")
        .await;
    let unknown_client = service.token_request("no-such-client", "wrong").await;
    assert_eq!(wrong_secret.0, 401);
    assert_eq!(wrong_secret, unknown_client, "both answers are the same");
    assert_eq!(error_message(&wrong_secret.1), "invalid client credentials");
}

#[tokio::test]
async fn missing_bad_and_forged_tokens_are_401() {
    let service = Service::start().await;
    for token in [None, Some("forged-token"), Some("")] {
        let (status, body) = service.get("/api/v1/integrations/connectors", token).await;
        assert_eq!(status, 401, "{token:?}");
        assert!(error_message(&body).contains("service token"));
    }
}

/// A valid service token counts only under the `Bearer` scheme (in any case): sent as
/// `Basic` or under another scheme it is 401, as no token is.
#[tokio::test]
async fn a_valid_token_under_another_scheme_than_bearer_is_401() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let send = |authorization: String| {
        service
            .http
            .get(format!("{}/api/v1/integrations/connectors", service.url))
            .header("authorization", authorization)
            .send()
    };
    for scheme in ["Basic", "Token", "Bearer:"] {
        let answer = send(format!("{scheme} {token}")).await.unwrap();
        assert_eq!(answer.status(), 401, "{scheme}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert!(error_message(&body).contains("service token"), "{body}");
    }
    for scheme in ["Bearer", "bearer"] {
        let answer = send(format!("{scheme} {token}")).await.unwrap();
        assert_eq!(answer.status(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn rotating_the_secret_retires_the_old_secret_and_its_tokens() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let old_token = service.app_token(&app).await;
    let rotated = service
        .admin
        .rotate_secret(&app.application.id)
        .await
        .unwrap();
    assert_ne!(
        rotated.client_secret.expose_secret(),
        app.client_secret.expose_secret()
    );
    let (status, _) = service
        .get("/api/v1/integrations/connectors", Some(&old_token))
        .await;
    assert_eq!(status, 401, "the old token stopped working");
    let (status, _) = service
        .token_request(
            &app.application.client_id,
            app.client_secret.expose_secret(),
        )
        .await;
    assert_eq!(status, 401, "the old secret stopped working");
    let new_token = service.app_token(&rotated).await;
    let (status, _) = service
        .get("/api/v1/integrations/connectors", Some(&new_token))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn applications_are_listed_without_secrets_and_deleted_with_their_tokens() {
    let service = Service::start().await;
    let first = service.application("first").await;
    let second = service.application("second").await;
    let listed = service.admin.list_applications().await.unwrap();
    assert_eq!(
        listed.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["first", "second"]
    );
    assert_eq!(listed[0].redirect_origins, ["https://app.example.com"]);
    assert!(!format!("{listed:?}").contains(first.client_secret.expose_secret()));
    let token = service.app_token(&second).await;
    service
        .admin
        .delete_application(&second.application.id)
        .await
        .unwrap();
    let (status, _) = service
        .get("/api/v1/integrations/connectors", Some(&token))
        .await;
    assert_eq!(status, 401);
    let listed = service.admin.list_applications().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(matches!(
        service
            .admin
            .delete_application(&second.application.id)
            .await,
        Err(integrations_server::ServerError::UnknownApplication { .. })
    ));
}

#[tokio::test]
async fn a_scoped_token_needs_one_customer_and_an_application_token() {
    let service = Service::start().await;
    let app = service.application("acme").await;
    let token = service.app_token(&app).await;
    let (status, body) = service
        .post(
            "/api/v1/account/applications/scoped-token",
            Some(&token),
            json!({ "workspace_name": "customer-1" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["expires_in"], 3600);
    let scoped = body["token"].as_str().unwrap();
    let (status, _) = service
        .post(
            "/api/v1/account/applications/scoped-token",
            Some(scoped),
            json!({ "workspace_name": "customer-2" }),
        )
        .await;
    assert_eq!(status, 403, "a scoped token cannot mint another");
    let (status, body) = service
        .post(
            "/api/v1/account/applications/scoped-token",
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(error_message(&body).contains("external_user_id"));
    let (status, _) = service
        .post(
            "/api/v1/account/applications/scoped-token",
            None,
            json!({ "customer_name": "customer-1" }),
        )
        .await;
    assert_eq!(status, 401);
}

const REVOKE: &str = "/api/v1/account/applications/token/revoke";

/// Whether `token` is accepted: it lists its application's connectors.
async fn accepted(service: &Service, token: &str) -> bool {
    let (status, _) = service
        .get("/api/v1/integrations/connectors", Some(token))
        .await;
    status == 200
}

/// An application token revokes any of its application's tokens, a scoped token only those of
/// its own customer (itself included), neither another application's; a revoked token is 401 at
/// once, and revoking it again says `revoked: false`.
#[tokio::test]
async fn a_token_is_revoked_by_its_application_or_its_own_customer_only() {
    let service = Service::start().await;
    let acme = service.application("acme").await;
    let other = service.application("other").await;
    let app_token = service.app_token(&acme).await;
    let spare_app_token = service.app_token(&acme).await;
    let alice = service.scoped_token(&app_token, "alice").await;
    let alice_again = service.scoped_token(&app_token, "alice").await;
    let bob = service.scoped_token(&app_token, "bob").await;
    let other_token = service.app_token(&other).await;
    let revoke = |caller: &str, token: &str| {
        let (caller, token) = (caller.to_string(), token.to_string());
        let service = &service;
        async move {
            let (status, body) = service
                .post(REVOKE, Some(&caller), json!({ "token": token }))
                .await;
            assert_eq!(status, 200, "{body}");
            body["revoked"].as_bool().unwrap()
        }
    };

    assert!(
        !revoke(&other_token, &alice).await,
        "another application's token"
    );
    assert!(!revoke(&bob, &alice).await, "another customer's token");
    assert!(
        !revoke(&alice, &spare_app_token).await,
        "an application token, by a scoped one"
    );
    for token in [&alice, &bob, &spare_app_token] {
        assert!(accepted(&service, token).await, "untouched");
    }
    assert!(revoke(&alice, &alice_again).await, "the same customer's");
    assert!(revoke(&alice, &alice).await, "itself");
    assert!(
        revoke(&app_token, &bob).await,
        "a scoped token, by its application"
    );
    assert!(
        revoke(&app_token, &spare_app_token).await,
        "another token of its application"
    );
    for token in [&alice, &alice_again, &bob, &spare_app_token] {
        assert!(!accepted(&service, token).await, "revoked");
    }
    assert!(!revoke(&app_token, &bob).await, "revoked already");
    assert!(accepted(&service, &app_token).await);
    assert!(accepted(&service, &other_token).await);

    let (status, _) = service.post(REVOKE, None, json!({ "token": bob })).await;
    assert_eq!(status, 401);
    let (status, _) = service.post(REVOKE, Some(&app_token), json!({})).await;
    assert_eq!(status, 422, "no token named");
    let (status, body) = service
        .post(REVOKE, Some(&app_token), json!({ "token": app_token }))
        .await;
    assert_eq!(
        (status, body),
        (200, json!({ "revoked": true, "count": 1 }))
    );
}

/// Naming a customer revokes every token scoped to it, and only those: with the application's
/// token any customer's, with a scoped token its own customer's (itself too) and no other (403);
/// a token and a customer together, or neither, is 422.
#[tokio::test]
async fn a_customer_s_tokens_are_revoked_together_by_its_application_or_its_own_token() {
    let service = Service::start().await;
    let acme = service.application("acme").await;
    let other = service.application("other").await;
    let app_token = service.app_token(&acme).await;
    let alice = service.scoped_token(&app_token, "alice").await;
    let alice_again = service.scoped_token(&app_token, "alice").await;
    let bob = service.scoped_token(&app_token, "bob").await;
    let bob_again = service.scoped_token(&app_token, "bob").await;
    let other_app_token = service.app_token(&other).await;
    let other_alice = service.scoped_token(&other_app_token, "alice").await;
    let revoke = |caller: &str, body: serde_json::Value| {
        let caller = caller.to_string();
        let service = &service;
        async move { service.post(REVOKE, Some(&caller), body).await }
    };

    let (status, body) = revoke(&alice, json!({ "customer_name": "bob" })).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = revoke(&app_token, json!({ "token": bob, "customer_name": "bob" })).await;
    assert_eq!(status, 422, "{body}");
    for token in [&alice, &alice_again, &bob, &bob_again] {
        assert!(accepted(&service, token).await, "untouched by a refusal");
    }

    let (status, body) = revoke(&app_token, json!({ "workspace_name": "alice" })).await;
    assert_eq!(
        (status, body),
        (200, json!({ "revoked": true, "count": 2 }))
    );
    assert!(
        !accepted(&service, &alice).await && !accepted(&service, &alice_again).await,
        "revoked"
    );
    for token in [&bob, &bob_again, &app_token, &other_alice, &other_app_token] {
        assert!(
            accepted(&service, token).await,
            "another customer's or application's"
        );
    }

    let (status, body) = revoke(&bob, json!({ "customer_name": "bob" })).await;
    assert_eq!(
        (status, body),
        (200, json!({ "revoked": true, "count": 2 }))
    );
    assert!(
        !accepted(&service, &bob).await && !accepted(&service, &bob_again).await,
        "itself too"
    );

    let (status, body) = revoke(&app_token, json!({ "customer_name": "bob" })).await;
    assert_eq!(
        (status, body),
        (200, json!({ "revoked": false, "count": 0 }))
    );
    assert!(accepted(&service, &app_token).await && accepted(&service, &other_alice).await);
}

/// An application holds at most `max_service_tokens` tokens, of which scoped tokens take all but
/// a tenth (at least one): one more is 429 with `Retry-After` until the first expires (the
/// token lifetime, to the second), while an application token still fits in what scoped tokens
/// may not take, and another application gets its own; revoked tokens make room.
#[tokio::test]
async fn an_application_past_its_bound_of_tokens_is_429_until_one_is_revoked() {
    let service = Service::start_configured(MockAsana::start().await, true, |builder| {
        builder.max_service_tokens(4)
    })
    .await;
    let acme = service.application("acme").await;
    let app_token = service.app_token(&acme).await;
    let alice = service.scoped_token(&app_token, "alice").await;
    service.scoped_token(&app_token, "bob").await;
    let refused = |response: reqwest::Response, start: &'static str| async move {
        assert_eq!(response.status(), 429);
        let wait: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (3590..=3601).contains(&wait),
            "until the first expires: {wait}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["retryable"], true);
        assert!(error_message(&body).starts_with(start), "{body}");
    };
    let scoped = || {
        service
            .http
            .post(format!(
                "{}/api/v1/account/applications/scoped-token",
                service.url
            ))
            .bearer_auth(&app_token)
            .json(&json!({ "external_user_id": "carol" }))
            .send()
    };
    let scoped_full = "the application holds 3 service tokens or more, and scoped tokens are issued only below that (of the 4 this service keeps for one, a tenth stays for application tokens): reuse a token";
    refused(scoped().await.unwrap(), scoped_full).await;
    let spare = service.app_token(&acme).await;
    let app = service
        .http
        .post(format!("{}/api/v1/account/applications/token", service.url))
        .json(&json!({
            "client_id": acme.application.client_id,
            "client_secret": acme.client_secret.expose_secret(),
        }))
        .send()
        .await
        .unwrap();
    let app_full =
        "the application holds 4 service tokens, the most this service keeps for one: reuse";
    refused(app, app_full).await;
    let other = service.application("other").await;
    service.app_token(&other).await;

    for token in [&alice, &spare] {
        let (status, body) = service
            .post(REVOKE, Some(&app_token), json!({ "token": token }))
            .await;
        assert_eq!(
            (status, body),
            (200, json!({ "revoked": true, "count": 1 }))
        );
    }
    let (status, body) = service
        .post(
            "/api/v1/account/applications/scoped-token",
            Some(&app_token),
            json!({ "external_user_id": "carol" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let service = Service::start().await;
    assert_eq!(
        service.get("/healthz", None).await,
        (200, json!({ "status": "ok" }))
    );
    assert_eq!(
        service.get("/readyz", None).await,
        (200, json!({ "status": "ready" }))
    );
}

/// Started with a key that opens no stored credential (another key, or one that only shares
/// the right one's id), the service is not ready: 503, not retryable, naming the setting; the
/// error is logged once per instance, never the key. Before anything is stored, any key is
/// ready; the key the credentials were stored with, kept as an old key beside a new one, is
/// ready too.
#[tokio::test]
async fn readiness_says_when_the_encryption_key_opens_no_stored_credential() {
    let logs = Logs::default();
    let _capture = logs.capture();
    let key = EncryptionKey::generate();
    let keys = KeyRing::new(key.clone());
    let service = Service::start_configured(MockAsana::start().await, true, |builder| {
        builder.encryption_keys(keys)
    })
    .await;
    let wrong = EncryptionKey::generate();
    let shown = wrong.to_base64().expose_secret().to_string();
    let early = service.another_instance(KeyRing::new(wrong.clone())).await;
    let ready = (200, json!({ "status": "ready" }));
    assert_eq!(
        early.get("/readyz", None).await,
        ready,
        "nothing stored yet"
    );

    let (token, id) = service.pat_connector().await;
    let message = "the encryption key does not match the stored credentials: set INTEGRATIONS_ENCRYPTION_KEY to the key they were stored with (a key being replaced goes in INTEGRATIONS_ENCRYPTION_OLD_KEYS)";
    let not_ready = (
        503,
        json!({ "message": message, "errors": [{ "message": message }], "retryable": false, "source": "service" }),
    );
    let late = service.another_instance(KeyRing::new(wrong)).await;
    for instance in [&late, &late, &early] {
        assert_eq!(instance.get("/readyz", None).await, not_ready);
    }
    let (status, body) = late
        .get(
            &format!("/api/v1/integrations/connectors/{id}"),
            Some(&token),
        )
        .await;
    assert_eq!((status, &body["retryable"]), (500, &json!(false)), "{body}");
    let same_id = EncryptionKey::generate().with_id(key.id()).unwrap();
    let impostor = service.another_instance(KeyRing::new(same_id)).await;
    assert_eq!(impostor.get("/readyz", None).await, not_ready);

    let rotated = KeyRing::new(EncryptionKey::generate()).with_old_key(key);
    let rotated = service.another_instance(rotated).await;
    assert_eq!(rotated.get("/readyz", None).await, ready);
    assert_eq!(service.get("/readyz", None).await, ready);

    let logged = logs.text();
    let errors: Vec<&str> = logged
        .lines()
        .filter(|line| line.contains(" ERROR ") && line.contains(message))
        .collect();
    assert_eq!(
        errors.len(),
        3,
        "once per instance that cannot open them:\n{logged}"
    );
    assert!(
        errors.iter().all(|line| line
            .contains("/readyz answers 503 until the service is restarted with the right key")),
        "{logged}"
    );
    assert!(!logged.contains(&shown), "the key is never logged");
}

#[tokio::test]
async fn the_service_refuses_to_start_without_a_key_with_a_short_token_life_an_empty_pool_one_token_or_plain_http()
 {
    let dir = tempfile::tempdir().unwrap();
    // Without INTEGRATIONS_ENCRYPTION_KEY in the environment, the builder finds no key.
    let built = integrations_server::Server::builder()
        .store_dir(dir.path())
        .build()
        .await;
    if std::env::var_os("INTEGRATIONS_ENCRYPTION_KEY").is_none() {
        assert!(matches!(
            built,
            Err(integrations_server::ServerError::NoEncryptionKey)
        ));
    }
    let built = integrations_server::Server::builder()
        .store_dir(dir.path())
        .insecure_no_encryption()
        .token_ttl(std::time::Duration::from_secs(60))
        .build()
        .await;
    assert!(matches!(
        built,
        Err(integrations_server::ServerError::InvalidConfig {
            field: "token_ttl",
            ..
        })
    ));
    let built = integrations_server::Server::builder()
        .store_dir(dir.path())
        .insecure_no_encryption()
        .postgres_pool_size(0)
        .build()
        .await;
    assert!(matches!(
        built,
        Err(integrations_server::ServerError::InvalidConfig {
            field: "postgres_pool_size",
            ..
        })
    ));
    let built = integrations_server::Server::builder()
        .store_dir(dir.path())
        .insecure_no_encryption()
        .max_service_tokens(1)
        .build()
        .await;
    assert!(matches!(
        built,
        Err(integrations_server::ServerError::InvalidConfig {
            field: "max_service_tokens",
            ..
        })
    ));
    let mut plain = integrations::asana::AsanaAppCredentials::default();
    plain.token_url = "http://asana.example.net/-/oauth_token".parse().unwrap();
    let built = integrations_server::Server::builder()
        .store_dir(dir.path())
        .insecure_no_encryption()
        .asana_app(plain)
        .build()
        .await;
    match built {
        Err(integrations_server::ServerError::InvalidConfig { field, reason }) => {
            assert_eq!(field, "asana_app");
            assert_eq!(
                reason,
                "asana: `token_url` must be an https URL (http is only allowed for 127.0.0.1, ::1 and localhost); got http://asana.example.net from code"
            );
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    let public_url_refused = |url: &'static str| {
        let dir = dir.path().to_path_buf();
        async move {
            let built = integrations_server::Server::builder()
                .store_dir(dir)
                .insecure_no_encryption()
                .public_url(url.parse().unwrap())
                .build()
                .await;
            match built {
                Err(integrations_server::ServerError::InvalidConfig { field, reason }) => {
                    assert_eq!(field, "public_url", "{url}");
                    reason
                }
                other => panic!("{url}: {:?}", other.map(|_| ())),
            }
        }
    };
    assert_eq!(
        public_url_refused("http://integrations.example.com/").await,
        "`http://integrations.example.com` must be https (plain http only on 127.0.0.1, ::1 or localhost): consent flows send providers' authorization codes to it"
    );
    for public_url in [
        "https://ops:CANARY@integrations.example.com/",
        "https://integrations.example.com/?key=CANARY",
        "https://integrations.example.com/#CANARY",
    ] {
        let builder =
            integrations_server::Server::builder().public_url(public_url.parse().unwrap());
        let shown = format!("{builder:?}");
        assert!(
            shown.contains("https://integrations.example.com/") && !shown.contains("CANARY"),
            "{shown}"
        );
        assert_eq!(
            public_url_refused(public_url).await,
            "`https://integrations.example.com` must have no user information, query or fragment: the service's paths are added to it, and it is logged"
        );
    }
    // A client id without its secret: the service's app goes unused, as before; the service
    // starts.
    let mut half = integrations::asana::AsanaAppCredentials::default();
    half.client_id = Some("id-without-secret".into());
    assert!(
        integrations_server::Server::builder()
            .store_dir(dir.path())
            .insecure_no_encryption()
            .asana_app(half)
            .public_url("http://127.0.0.1:8080/".parse().unwrap())
            .build()
            .await
            .is_ok()
    );
    assert!(
        integrations_server::Server::builder()
            .store_dir(dir.path())
            .insecure_no_encryption()
            .build()
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn deleting_an_application_deletes_its_connectors_and_their_credentials() {
    use integrations::CredentialStore;

    let service = Service::start().await;
    let app = service.application("acme").await;
    let kept = service.application("kept").await;
    let token = service.app_token(&app).await;
    let kept_token = service.app_token(&kept).await;
    let pat = service.asana.personal_access_token().to_string();
    service
        .connector(&token, "c", json!({ "token": pat }))
        .await;
    service
        .connector(
            &token,
            "c",
            json!({ "refresh_token": "r", "client_id": "id", "client_secret": "secret" }),
        )
        .await;
    let survivor = service
        .connector(&kept_token, "c", json!({ "token": pat }))
        .await;
    assert_eq!(
        service.credentials().await.list(None).await.unwrap().len(),
        4
    );
    service
        .admin
        .delete_application(&app.application.id)
        .await
        .unwrap();
    let left = service.credentials().await.list(None).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].record.subject, survivor["id"].as_str().unwrap());
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_then_stops_listening() {
    let mut service = Service::start().await;
    let (token, id) = service.pat_connector().await;
    service
        .asana
        .set_latency(std::time::Duration::from_millis(400));
    let in_flight = tokio::spawn(
        service
            .http
            .post(format!(
                "{}/api/v1/integrations/connectors/{id}/execute",
                service.url
            ))
            .bearer_auth(&token)
            .json(&json!({ "entity": "users", "action": "get", "params": { "user_gid": "me" } }))
            .send(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    service.stop().await.unwrap();
    let answer = in_flight.await.unwrap().unwrap();
    assert_eq!(answer.status(), 200, "the request in flight was answered");
    assert!(
        service
            .http
            .get(format!("{}/healthz", service.url))
            .send()
            .await
            .is_err(),
        "no longer listening"
    );
}
