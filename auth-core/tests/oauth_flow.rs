//! The OAuth2 code flow with PKCE, state checks, exchange errors and revocation, against wiremock.
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::provider::ClientAuthMethod;
use auth_core::{
    AuthError, AuthorizeOptions, CredentialSource, Credentials, MemoryCredentialStore, OAuth2Token,
};
use common::*;
use sha2::Digest;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A token endpoint that accepts one code only with the verifier whose S256 challenge it was given.
struct PkceChecker {
    challenge: Arc<Mutex<Option<String>>>,
}

impl Respond for PkceChecker {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let verifier = form_value(req, "code_verifier").unwrap_or_default();
        let computed = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            sha2::Sha256::digest(verifier.as_bytes()),
        );
        let expected = self.challenge.lock().unwrap().clone();
        if Some(computed) != expected || form_value(req, "code").as_deref() != Some("good-code") {
            return ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error": "invalid_grant", "error_description": "The code is invalid or the verifier does not match."
            }));
        }
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "access-canary", "token_type": "bearer", "expires_in": "3600",
            "refresh_token": "refresh-canary", "scope": "read write", "data": {"id": 1, "gid": "1"}
        }))
    }
}

#[tokio::test]
async fn full_code_flow_with_pkce_then_session() {
    let server = MockServer::start().await;
    let challenge = Arc::new(Mutex::new(None));
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(PkceChecker {
            challenge: challenge.clone(),
        })
        .expect(1)
        .mount(&server)
        .await;
    let auth = builder(&server.uri()).build().unwrap();
    let flow = auth.oauth2("test").unwrap();

    let request = flow
        .authorize(AuthorizeOptions::default().scopes(["read", "write"]))
        .await
        .unwrap();
    let query: std::collections::HashMap<String, String> =
        request.url.query_pairs().into_owned().collect();
    assert_eq!(request.url.path(), "/authorize");
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], "client-1");
    assert_eq!(query["redirect_uri"], "http://127.0.0.1:9999/callback");
    assert_eq!(query["scope"], "read write");
    assert_eq!(query["state"], request.state);
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(request.state.len() >= 43, "state must be unpredictable");
    *challenge.lock().unwrap() = Some(query["code_challenge"].clone());

    let credentials = flow
        .exchange("good-code", &request.state, "user-123")
        .await
        .unwrap();
    assert_eq!(stored_access(&credentials), "access-canary");
    assert_eq!(credentials.token.scope, ["read", "write"]);
    assert_eq!(credentials.token.expires_in, Some(3600));

    let received = &server.received_requests().await.unwrap()[0];
    let body = form(received);
    let keys: Vec<&str> = body.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "grant_type",
            "code",
            "redirect_uri",
            "code_verifier",
            "client_id",
            "client_secret"
        ]
    );
    assert_eq!(
        form_value(received, "grant_type").as_deref(),
        Some("authorization_code")
    );
    assert_eq!(
        form_value(received, "redirect_uri").as_deref(),
        Some("http://127.0.0.1:9999/callback")
    );
    assert_eq!(
        form_value(received, "client_secret").as_deref(),
        Some("client-secret-canary")
    );

    auth.store_credentials("test", "user-123", &credentials)
        .await
        .unwrap();
    let session = auth.session("user-123").await.unwrap();
    assert_eq!(
        session.token("test").await.unwrap().expose_secret(),
        "access-canary"
    );
    assert_eq!(session.source("test"), Some(CredentialSource::Stored));
}

#[tokio::test]
async fn basic_auth_sends_credentials_in_the_header_only() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"access_token": "a"})),
        )
        .mount(&server)
        .await;
    let mut provider = provider(&server.uri());
    provider.settings = provider
        .settings
        .map(|s| s.with_client_auth(ClientAuthMethod::BasicAuth));
    let auth = auth_core::AuthManager::builder()
        .env(auth_core::config::EnvSource::empty())
        .auto_configure(false)
        .provider(provider)
        .build()
        .unwrap();
    let flow = auth.oauth2("test").unwrap();
    let request = flow.authorize(AuthorizeOptions::default()).await.unwrap();
    flow.exchange("c", &request.state, "s").await.unwrap();
    let received = &server.received_requests().await.unwrap()[0];
    let header = received
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    let expected = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "client-1:client-secret-canary",
    );
    assert_eq!(header, format!("Basic {expected}"));
    assert_eq!(form_value(received, "client_secret"), None);
    assert_eq!(form_value(received, "client_id"), None);
}

#[tokio::test]
async fn bad_states_are_refused_with_distinct_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"access_token": "a"})),
        )
        .mount(&server)
        .await;
    let other = TestProvider {
        id: "other",
        settings: Some(settings(&server.uri())),
        app_token: None,
    };
    let auth = builder(&server.uri()).provider(other).build().unwrap();
    let flow = auth.oauth2("test").unwrap();

    let err = flow.exchange("c", "never-issued", "s").await.unwrap_err();
    assert!(matches!(err, AuthError::UnknownState { .. }), "{err:?}");

    let request = flow.authorize(AuthorizeOptions::default()).await.unwrap();
    flow.exchange("c", &request.state, "s").await.unwrap();
    let err = flow.exchange("c", &request.state, "s").await.unwrap_err();
    assert!(matches!(err, AuthError::StateReused { .. }), "{err:?}");

    let request = auth
        .oauth2("other")
        .unwrap()
        .authorize(AuthorizeOptions::default())
        .await
        .unwrap();
    let err = flow.exchange("c", &request.state, "s").await.unwrap_err();
    assert!(
        matches!(err, AuthError::StateProviderMismatch { ref issued_for, .. } if issued_for == "other"),
        "{err:?}"
    );

    let expiring = builder(&server.uri())
        .state_ttl(Duration::ZERO)
        .build()
        .unwrap();
    let flow = expiring.oauth2("test").unwrap();
    let request = flow
        .authorize(AuthorizeOptions::default().state("caller-chosen-state"))
        .await
        .unwrap();
    assert_eq!(request.state, "caller-chosen-state");
    let err = flow.exchange("c", &request.state, "s").await.unwrap_err();
    assert!(matches!(err, AuthError::StateExpired { .. }), "{err:?}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "bad states must not reach the token endpoint"
    );
}

#[tokio::test]
async fn wrong_code_returns_the_providers_error_text_and_no_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_grant", "error_description": "The `code` is invalid or expired."
        })))
        .mount(&server)
        .await;
    let auth = builder(&server.uri()).build().unwrap();
    let flow = auth.oauth2("test").unwrap();
    let request = flow.authorize(AuthorizeOptions::default()).await.unwrap();
    let err = flow
        .exchange("wrong-code", &request.state, "user-1")
        .await
        .unwrap_err();
    match &err {
        AuthError::OAuth {
            status,
            code,
            description,
            ..
        } => {
            assert_eq!(*status, 400);
            assert_eq!(code, "invalid_grant");
            assert_eq!(
                description.as_deref(),
                Some("The `code` is invalid or expired.")
            );
        }
        other => panic!("expected OAuth error, got {other:?}"),
    }
    let text = format!("{err} {err:?}");
    assert!(text.contains("The `code` is invalid or expired."));
    assert!(
        !text.contains("client-secret-canary") && !text.contains("wrong-code"),
        "{text}"
    );
}

#[tokio::test]
async fn token_endpoint_5xx_and_garbage_are_classified() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>not json</html>"))
        .mount(&server)
        .await;
    let auth = builder(&server.uri()).build().unwrap();
    let flow = auth.oauth2("test").unwrap();
    let request = flow.authorize(AuthorizeOptions::default()).await.unwrap();
    let err = flow.exchange("c", &request.state, "s").await.unwrap_err();
    assert!(
        matches!(err, AuthError::Transient { retry_after: Some(d), .. } if d == Duration::from_secs(7)),
        "{err:?}"
    );
    let request = flow.authorize(AuthorizeOptions::default()).await.unwrap();
    let err = flow.exchange("c", &request.state, "s").await.unwrap_err();
    assert!(
        matches!(err, AuthError::InvalidTokenResponse { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn revoke_sends_the_refresh_token_then_deletes_locally() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let store = Arc::new(MemoryCredentialStore::new());
    let auth = manager_with_store(&server.uri(), store.clone());
    auth.store_credentials("test", "u", &valid("at", "rt"))
        .await
        .unwrap();
    assert!(auth.revoke_credentials("test", "u").await.unwrap());
    let received = &server.received_requests().await.unwrap()[0];
    assert_eq!(form_value(received, "token").as_deref(), Some("rt"));
    assert_eq!(
        form_value(received, "token_type_hint").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(
        form_value(received, "client_id").as_deref(),
        Some("client-1")
    );
    assert!(
        auth.load_credentials::<Credentials>("test", "u")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn failed_revocation_keeps_the_credentials() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let auth = builder(&server.uri()).build().unwrap();
    auth.store_credentials("test", "u", &valid("at", "rt"))
        .await
        .unwrap();
    let err = auth.revoke_credentials("test", "u").await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    let kept: OAuth2Token = auth.load_credentials("test", "u").await.unwrap().unwrap();
    assert_eq!(kept.access_token.expose_secret(), "at");
}

#[tokio::test]
async fn credentials_without_a_refresh_token_have_no_grant_to_revoke() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(400))
        .expect(0)
        .mount(&server)
        .await;
    let auth = builder(&server.uri()).build().unwrap();
    auth.store_credentials("test", "u", &OAuth2Token::bearer("personal-access-token"))
        .await
        .unwrap();
    assert!(
        auth.revoke_credentials("test", "u").await.unwrap(),
        "deleted locally"
    );
    assert!(
        auth.load_credentials::<Credentials>("test", "u")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn refresh_or_access_revokes_the_access_token_when_there_is_no_refresh_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let mut p = provider(&server.uri());
    p.settings = p
        .settings
        .map(|s| s.with_revoke_token(auth_core::provider::RevokeToken::RefreshOrAccess));
    let auth = auth_core::AuthManager::builder()
        .env(auth_core::config::EnvSource::empty())
        .auto_configure(false)
        .provider(p)
        .build()
        .unwrap();
    auth.store_credentials("test", "u", &OAuth2Token::bearer("access-only"))
        .await
        .unwrap();
    assert!(auth.revoke_credentials("test", "u").await.unwrap());
    let received = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        form_value(received, "token").as_deref(),
        Some("access-only")
    );
    assert_eq!(
        form_value(received, "token_type_hint").as_deref(),
        Some("access_token")
    );
}

/// Exchanges a code against a token endpoint that answers `body`.
async fn exchange_answered_with(
    body: serde_json::Value,
) -> (auth_core::AuthManager, Result<Credentials, AuthError>) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    let auth = builder(&server.uri()).build().unwrap();
    let flow = auth.oauth2("test").unwrap();
    let request = flow.authorize(AuthorizeOptions::default()).await.unwrap();
    let result = flow.exchange("code", &request.state, "u").await;
    (auth, result)
}

#[tokio::test]
async fn huge_expires_in_is_clamped_at_exchange() {
    let year = auth_core::token::MAX_TOKEN_LIFETIME;
    for lifetime in [
        serde_json::json!(1e30),
        serde_json::json!(18_446_744_073_709_551_615u64),
        serde_json::json!("9223372036854775807"),
    ] {
        let before = std::time::SystemTime::now();
        let (auth, result) = exchange_answered_with(serde_json::json!({
            "access_token": "at", "token_type": "bearer", "refresh_token": "rt", "expires_in": lifetime
        }))
        .await;
        let credentials = result.unwrap();
        assert_eq!(
            credentials.token.expires_in,
            Some(year.as_secs()),
            "{lifetime}"
        );
        let expires_at = credentials.token.expires_at.unwrap();
        assert!(expires_at >= before + year && expires_at <= std::time::SystemTime::now() + year);
        auth.store_credentials("test", "u", &credentials)
            .await
            .unwrap();
        let session = auth.session("u").await.unwrap();
        assert_eq!(session.token("test").await.unwrap().expose_secret(), "at");
    }
}

#[tokio::test]
async fn unusable_expiries_and_token_types_are_invalid_token_responses() {
    for (body, reason) in [
        (
            serde_json::json!({"access_token": "at", "expires_in": -86_400}),
            "`expires_in` is not a non-negative number of seconds",
        ),
        (
            serde_json::json!({"access_token": "at", "expires_in": "NaN"}),
            "`expires_in` is not a non-negative number of seconds",
        ),
        (
            serde_json::json!({"access_token": "at", "token_type": "mac", "mac_key": "k"}),
            "`token_type` is not `Bearer`, the only type of token this client can send",
        ),
        (
            serde_json::json!({"access_token": "at", "refresh_token": 73_737}),
            "field `refresh_token` has an unexpected type or value",
        ),
    ] {
        let (_, result) = exchange_answered_with(body).await;
        let err = result.unwrap_err();
        match &err {
            AuthError::InvalidTokenResponse {
                provider,
                reason: r,
            } => {
                assert_eq!((provider.as_str(), r.as_str()), ("test", reason));
            }
            other => panic!("expected InvalidTokenResponse, got {other:?}"),
        }
        let text = err.to_string();
        for value in ["86400", "NaN", "mac", "73737"] {
            assert!(!text.contains(value), "{text}");
        }
    }
}
