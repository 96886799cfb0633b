//! The OAuth2 code flow with PKCE, state checks, exchange errors and revocation, against wiremock.
use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::config::EnvSource;
use auth_core::provider::{ClientAuthMethod, OAuth2Settings, RevocationRequest};
use auth_core::{
    AuthError, AuthManager, AuthorizeOptions, ConfigError, ConfigSource, CredentialSource,
    Credentials, MemoryCredentialStore, OAuth2Token, TokenEndpoint, TokenOperation,
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
        .authorize(AuthorizeOptions::unbound().scopes(["read", "write"]))
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

/// Basic client authentication sends the id and secret in the header only, each form-urlencoded
/// first (RFC 6749 §2.3.1), so a `:` in the id cannot shift where the secret starts.
#[tokio::test]
async fn basic_auth_sends_the_form_urlencoded_credentials_in_the_header_only() {
    let cases = [
        (
            "client-1",
            "client-secret-canary",
            "client-1:client-secret-canary",
        ),
        (
            "id:with space",
            "s&e/c+r%t=é",
            "id%3Awith+space:s%26e%2Fc%2Br%25t%3D%C3%A9",
        ),
    ];
    for (client_id, client_secret, pair) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"access_token": "a"})),
            )
            .mount(&server)
            .await;
        let uri = server.uri();
        let mut provider = provider(&uri);
        provider.settings = Some(
            OAuth2Settings::new(
                format!("{uri}/authorize").parse().unwrap(),
                format!("{uri}/token").parse().unwrap(),
                client_id,
            )
            .with_client_secret(client_secret.into())
            .with_redirect_uri("http://127.0.0.1:9999/callback".parse().unwrap())
            .with_client_auth(ClientAuthMethod::BasicAuth),
        );
        let auth = auth_core::AuthManager::builder()
            .env(auth_core::config::EnvSource::empty())
            .auto_configure(false)
            .provider(provider)
            .build()
            .unwrap();
        let flow = auth.oauth2("test").unwrap();
        let request = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
        flow.exchange("c", &request.state, "s").await.unwrap();
        let received = &server.received_requests().await.unwrap()[0];
        let expected = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pair);
        assert_eq!(
            received
                .headers
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap(),
            format!("Basic {expected}")
        );
        assert_eq!(form_value(received, "client_secret"), None);
        assert_eq!(form_value(received, "client_id"), None);
    }
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

    let request = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
    flow.exchange("c", &request.state, "s").await.unwrap();
    let err = flow.exchange("c", &request.state, "s").await.unwrap_err();
    assert!(matches!(err, AuthError::StateReused { .. }), "{err:?}");

    let request = auth
        .oauth2("other")
        .unwrap()
        .authorize(AuthorizeOptions::unbound())
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
        .authorize(AuthorizeOptions::unbound().state("caller-chosen-state"))
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
    let request = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
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
    token_endpoint_answering_once(
        &server,
        ResponseTemplate::new(503).insert_header("Retry-After", "7"),
        ResponseTemplate::new(200).set_body_string("<html>not json</html>"),
    )
    .await;
    let auth = builder(&server.uri()).build().unwrap();
    let flow = auth.oauth2("test").unwrap();
    let request = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
    let err = flow.exchange("c", &request.state, "s").await.unwrap_err();
    assert!(
        matches!(err, AuthError::Transient { retry_after: Some(d), .. } if d == Duration::from_secs(7)),
        "{err:?}"
    );
    let request = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
    let err = flow.exchange("c", &request.state, "s").await.unwrap_err();
    assert!(
        matches!(err, AuthError::InvalidTokenResponse { .. }),
        "{err:?}"
    );
}

/// RFC 6749's `temporarily_unavailable` and `server_error` say the provider failed for now,
/// whatever the status that carries them: transient, as a 503 is. `invalid_request` is not.
#[tokio::test]
async fn error_codes_that_say_the_provider_failed_for_now_are_transient() {
    for (status, code, transient) in [
        (400, "temporarily_unavailable", true),
        (400, "server_error", true),
        (200, "temporarily_unavailable", true),
        (400, "invalid_request", false),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_json(serde_json::json!({ "error": code, "error_description": "d" })),
            )
            .mount(&server)
            .await;
        let auth = builder(&server.uri()).build().unwrap();
        let flow = auth.oauth2("test").unwrap();
        let request = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
        let err = flow.exchange("c", &request.state, "s").await.unwrap_err();
        if transient {
            assert!(
                matches!(&err, AuthError::Transient { detail, .. } if detail == &format!("the provider answered `{code}`")),
                "{status} {code}: {err:?}"
            );
        } else {
            assert!(
                matches!(
                    &err,
                    AuthError::OAuth {
                        code: auth_core::OAuthErrorCode::InvalidRequest,
                        ..
                    }
                ),
                "{status} {code}: {err:?}"
            );
        }
    }
}

#[tokio::test]
async fn unusable_retry_after_from_the_token_endpoint_is_dropped() {
    for value in ["18446744073709551615", "86401", "1e30", "-5", "NaN"] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", value))
            .expect(1)
            .mount(&server)
            .await;
        let auth = builder(&server.uri()).build().unwrap();
        let flow = auth.oauth2("test").unwrap();
        let request = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
        let err = flow.exchange("c", &request.state, "s").await.unwrap_err();
        assert!(
            matches!(
                err,
                AuthError::Transient {
                    retry_after: None,
                    ..
                }
            ),
            "{value}: {err:?}"
        );
    }
}

/// `body` with a `padding` field that brings it to about `size` bytes.
fn padded(mut body: serde_json::Value, size: usize) -> Vec<u8> {
    body["padding"] = "x".repeat(size).into();
    serde_json::to_vec(&body).unwrap()
}

#[tokio::test]
async fn token_endpoint_bodies_over_one_mebibyte_are_refused_and_not_retried() {
    let two_mib = 2 * 1024 * 1024;
    let token = padded(
        serde_json::json!({
            "access_token": "access-canary", "token_type": "bearer", "expires_in": 3600,
            "refresh_token": "refresh-canary"
        }),
        two_mib,
    );
    let oauth_error = padded(
        serde_json::json!({"error": "invalid_grant", "error_description": "description-canary"}),
        two_mib,
    );
    let server = MockServer::start().await;
    // The exchange gets a token, the refresh an OAuth error, the revocation an error too.
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(wiremock::matchers::body_string_contains(
            "grant_type=authorization_code",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(token, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(wiremock::matchers::body_string_contains(
            "grant_type=refresh_token",
        ))
        .respond_with(
            ResponseTemplate::new(400).set_body_raw(oauth_error.clone(), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(oauth_error, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let auth = builder(&server.uri()).build().unwrap();
    let flow = auth.oauth2("test").unwrap();
    let request = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();

    let exchanged = flow.exchange("c", &request.state, "s").await.unwrap_err();
    let refreshed = flow
        .refresh(&Credentials::new(valid("at", "rt")))
        .await
        .unwrap_err();
    auth.store_credentials("test", "u", &valid("at", "rt"))
        .await
        .unwrap();
    let revoked = auth.revoke_credentials("test", "u").await.unwrap_err();

    for (err, expected) in [
        (
            &exchanged,
            "the token endpoint's exchange response is larger than 1048576 bytes and was not read",
        ),
        (
            &refreshed,
            "the token endpoint's refresh response is larger than 1048576 bytes and was not read",
        ),
        (
            &revoked,
            "the revocation endpoint's revoke response is larger than 1048576 bytes and was not read",
        ),
    ] {
        assert!(
            matches!(err, AuthError::InvalidTokenResponse { reason, .. } if reason == expected),
            "{err:?}"
        );
        assert!(!err.is_transient(), "{err:?}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains("canary") && !text.contains("xxxx"), "{text}");
    }
    let kept: OAuth2Token = auth.load_credentials("test", "u").await.unwrap().unwrap();
    assert_eq!(kept.access_token.expose_secret(), "at");
    server.verify().await;
}

/// A token endpoint on a bare socket that answers every request with `body` and no
/// `Content-Length` (the body ends when the connection closes), in 64 KiB pieces. Returns its
/// base URI and how many requests it answered.
async fn unsized_token_endpoint(body: Vec<u8>) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = answered.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = body.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
                    .await;
                for piece in body.chunks(64 * 1024) {
                    if stream.write_all(piece).await.is_err() {
                        return;
                    }
                }
                let _ = stream.shutdown().await;
                // Read the rest of the request, so that closing does not reset the connection.
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        }
    });
    (uri, answered)
}

#[tokio::test]
async fn a_token_response_without_a_length_is_cut_at_one_mebibyte() {
    let token = padded(
        serde_json::json!({
            "access_token": "access-canary", "token_type": "bearer", "expires_in": 3600
        }),
        2 * 1024 * 1024,
    );
    let (uri, answered) = unsized_token_endpoint(token).await;
    let auth = builder(&uri).build().unwrap();
    let flow = auth.oauth2("test").unwrap();
    let request = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();

    let err = flow.exchange("c", &request.state, "s").await.unwrap_err();

    assert!(
        matches!(&err, AuthError::InvalidTokenResponse { reason, .. }
            if reason == "the token endpoint's exchange response is larger than 1048576 bytes and was not read"),
        "{err:?}"
    );
    assert_eq!(answered.load(std::sync::atomic::Ordering::SeqCst), 1);
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
async fn a_pasted_token_is_deleted_without_a_revocation_even_where_access_tokens_are_revoked() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let auth = revoking_access_tokens_too(&server.uri());
    let pasted = Credentials::pasted(OAuth2Token::bearer("pasted-personal-token"));
    auth.store_credentials("test", "u", &pasted).await.unwrap();
    let stored: Credentials = auth.load_credentials("test", "u").await.unwrap().unwrap();
    assert!(stored.is_pasted(), "the mark is stored with the token");

    assert!(auth.revoke_credentials("test", "u").await.unwrap());

    assert_eq!(server.received_requests().await.unwrap().len(), 0);
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
    let auth = revoking_access_tokens_too(&server.uri());
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

/// With `RevokeToken::Access`, revoking credentials that also hold a refresh token revokes the
/// access token and names it as one: the request carries `token=access-1` and
/// `token_type_hint=access_token`, not the refresh token's hint.
#[tokio::test]
async fn revoking_the_access_token_hints_access_token_even_with_a_refresh_token() {
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
        .map(|s| s.with_revoke_token(auth_core::provider::RevokeToken::Access));
    let auth = auth_core::AuthManager::builder()
        .env(auth_core::config::EnvSource::empty())
        .auto_configure(false)
        .provider(p)
        .build()
        .unwrap();
    auth.store_credentials("test", "u", &valid("access-1", "refresh-1"))
        .await
        .unwrap();
    assert!(auth.revoke_credentials("test", "u").await.unwrap());
    let received = &server.received_requests().await.unwrap()[0];
    assert_eq!(form_value(received, "token").as_deref(), Some("access-1"));
    assert_eq!(
        form_value(received, "token_type_hint").as_deref(),
        Some("access_token")
    );
}

/// A manager whose provider revokes the refresh token, or the access token when there is none.
fn revoking_access_tokens_too(uri: &str) -> auth_core::AuthManager {
    let mut p = provider(uri);
    p.settings = p
        .settings
        .map(|s| s.with_revoke_token(auth_core::provider::RevokeToken::RefreshOrAccess));
    auth_core::AuthManager::builder()
        .env(auth_core::config::EnvSource::empty())
        .auto_configure(false)
        .provider(p)
        .build()
        .unwrap()
}

/// A manager whose provider revokes with `request` at `{uri}{revocation_path}`.
fn revoking_with(
    uri: &str,
    request: RevocationRequest,
    revocation_path: &str,
    secret: bool,
) -> auth_core::AuthManager {
    let mut p = provider(uri);
    p.settings = p.settings.map(|mut s| {
        if !secret {
            s.client_secret = None;
        }
        s.with_revocation_request(request)
            .with_revocation_url(format!("{uri}{revocation_path}").parse().unwrap())
    });
    auth_core::AuthManager::builder()
        .env(auth_core::config::EnvSource::empty())
        .auto_configure(false)
        .provider(p)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_grant_deletion_sends_the_access_token_with_the_client_s_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/applications/client-1/token"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let request = RevocationRequest::DeleteWithAccessToken;
    let auth = revoking_with(&server.uri(), request, "/applications/client-1/token", true);
    auth.store_credentials("test", "u", &valid("at-canary", "rt-canary"))
        .await
        .unwrap();

    assert!(auth.revoke_credentials("test", "u").await.unwrap());

    let received = &server.received_requests().await.unwrap()[0];
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "client-1:client-secret-canary",
    );
    assert_eq!(
        received.headers["authorization"].to_str().unwrap(),
        format!("Basic {basic}")
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&received.body).unwrap(),
        serde_json::json!({"access_token": "at-canary"})
    );
    assert!(
        auth.load_credentials::<Credentials>("test", "u")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_refused_grant_deletion_keeps_the_credentials_and_names_no_secret() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(422).set_body_json(serde_json::json!({
            "error": "invalid_request", "error_description": "bad token at-canary"
        })))
        .mount(&server)
        .await;
    let request = RevocationRequest::DeleteWithAccessToken;
    let auth = revoking_with(&server.uri(), request, "/grant", true);
    auth.store_credentials("test", "u", &valid("at-canary", "rt-canary"))
        .await
        .unwrap();

    let err = auth.revoke_credentials("test", "u").await.unwrap_err();

    assert!(matches!(&err, AuthError::OAuth { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("at-canary"), "{err:?}");
    let kept: OAuth2Token = auth.load_credentials("test", "u").await.unwrap().unwrap();
    assert_eq!(kept.access_token.expose_secret(), "at-canary");
    // Without the client secret the grant cannot be deleted: nothing is sent, nothing deleted.
    let auth = revoking_with(&server.uri(), request, "/grant", false);
    auth.store_credentials("test", "u", &valid("at-canary", "rt-canary"))
        .await
        .unwrap();
    let err = auth.revoke_credentials("test", "u").await.unwrap_err();
    assert!(
        matches!(&err, AuthError::OAuthNotConfigured { hint, .. } if hint.contains("client secret")),
        "{err:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert!(
        auth.load_credentials::<Credentials>("test", "u")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_refresh_token_deletion_sends_it_as_one_path_segment_and_nothing_else() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/oauth/v1/refresh-tokens/rt%2Fcanary%20x"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let request = RevocationRequest::DeleteRefreshTokenInPath;
    let auth = revoking_with(&server.uri(), request, "/oauth/v1/refresh-tokens/", true);
    auth.store_credentials("test", "u", &valid("at-canary", "rt/canary x"))
        .await
        .unwrap();
    auth.store_credentials("test", "pat", &OAuth2Token::bearer("personal-access-token"))
        .await
        .unwrap();

    assert!(auth.revoke_credentials("test", "u").await.unwrap());
    assert!(
        auth.revoke_credentials("test", "pat").await.unwrap(),
        "nothing to delete remotely"
    );

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    assert!(received[0].body.is_empty());
    assert!(!received[0].headers.contains_key("authorization"));
    for subject in ["u", "pat"] {
        assert!(
            auth.load_credentials::<Credentials>("test", subject)
                .await
                .unwrap()
                .is_none()
        );
    }
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
    let request = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
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

#[tokio::test]
async fn token_endpoint_redirects_are_not_followed() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/token", elsewhere.uri())),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "stolen", "token_type": "bearer"
        })))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let store = Arc::new(MemoryCredentialStore::new());
    let auth = manager_with_store(&server.uri(), store.clone());
    let flow = auth.oauth2("test").unwrap();

    let step = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
    let exchanged = flow.exchange("code", &step.state, "u").await;
    assert!(
        matches!(
            exchanged,
            Err(AuthError::OAuth {
                status: 307,
                operation: TokenOperation::Exchange,
                ..
            })
        ),
        "{exchanged:?}"
    );

    auth.store_credentials("test", "u", &expired("old", "rt"))
        .await
        .unwrap();
    let session = auth.session("u").await.unwrap();
    let refreshed = session.token("test").await;
    assert!(
        matches!(
            refreshed,
            Err(AuthError::OAuth {
                status: 307,
                operation: TokenOperation::Refresh,
                ..
            })
        ),
        "{refreshed:?}"
    );
    let kept: OAuth2Token = auth.load_credentials("test", "u").await.unwrap().unwrap();
    assert_eq!(kept.access_token.expose_secret(), "old");
    assert_eq!(kept.refresh_token.unwrap().expose_secret(), "rt");
}

/// A token endpoint that refuses every request and echoes it: the form body and the
/// `Authorization` header go into `error_description`, with a terminal escape sequence.
struct EchoingEndpoint;

impl Respond for EchoingEndpoint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&req.body);
        let authorization = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none");
        ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_request",
            "error_description": format!("\u{1b}[31mbad\r request: {body} auth={authorization}"),
        }))
    }
}

/// Every form of `secret` an echo could carry: raw, form-urlencoded, percent-encoded, base64.
fn secret_forms(secret: &str) -> Vec<String> {
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    vec![
        secret.to_string(),
        form.clone(),
        form.replace('+', "%20"),
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, secret),
    ]
}

fn assert_redacted(err: &AuthError, secrets: &[&str]) {
    let AuthError::OAuth {
        code, description, ..
    } = err
    else {
        panic!("expected an OAuth error, got {err:?}");
    };
    assert_eq!(code, "invalid_request");
    let description = description.as_deref().expect("the echoed description");
    assert!(description.contains("[REDACTED]"), "{description}");
    assert!(
        description.starts_with("bad request: "),
        "the escape sequence and the carriage return are gone: {description:?}"
    );
    let text = format!("{err} {err:?}");
    for secret in secrets {
        for form in secret_forms(secret) {
            assert!(!text.contains(&form), "`{form}` in {text}");
        }
    }
}

#[tokio::test]
async fn echoed_requests_are_redacted_from_token_endpoint_errors() {
    const CLIENT_SECRET: &str = "client/secret+canary value";
    let server = MockServer::start().await;
    for endpoint in ["/token", "/revoke"] {
        Mock::given(method("POST"))
            .and(path(endpoint))
            .respond_with(EchoingEndpoint)
            .mount(&server)
            .await;
    }
    for client_auth in [ClientAuthMethod::RequestBody, ClientAuthMethod::BasicAuth] {
        let mut p = provider(&server.uri());
        p.settings = p.settings.map(|s| {
            s.with_client_secret(CLIENT_SECRET.into())
                .with_client_auth(client_auth)
        });
        let auth = auth_core::AuthManager::builder()
            .env(auth_core::config::EnvSource::empty())
            .auto_configure(false)
            .provider(p)
            .build()
            .unwrap();
        let flow = auth.oauth2("test").unwrap();

        let request = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
        let err = flow
            .exchange("code-canary-4711", &request.state, "u")
            .await
            .unwrap_err();
        let received = server.received_requests().await.unwrap();
        let verifier = form_value(received.last().unwrap(), "code_verifier").unwrap();
        assert_redacted(&err, &[CLIENT_SECRET, "code-canary-4711", &verifier]);
        if client_auth == ClientAuthMethod::RequestBody {
            let description = format!("{err}");
            assert!(
                description.contains("code=[REDACTED]&")
                    && description.contains("code_verifier=[REDACTED]&")
                    && description.contains("client_secret=[REDACTED] auth=none"),
                "{description}"
            );
        } else {
            assert!(format!("{err}").contains("auth=Basic [REDACTED]"), "{err}");
        }

        let credentials = Credentials::new(valid("access-canary-1", "refresh-canary-1"));
        let err = flow.refresh(&credentials).await.unwrap_err();
        assert_redacted(&err, &[CLIENT_SECRET, "refresh-canary-1"]);
        let err = flow.revoke(&credentials).await.unwrap_err();
        assert_redacted(&err, &[CLIENT_SECRET, "refresh-canary-1"]);
        let access_only = Credentials::new(OAuth2Token::bearer("access-canary-2"));
        let mut p = provider(&server.uri());
        p.settings = p.settings.map(|s| {
            s.with_client_secret(CLIENT_SECRET.into())
                .with_client_auth(client_auth)
                .with_revoke_token(auth_core::provider::RevokeToken::Access)
        });
        let err = auth_core::AuthManager::builder()
            .env(auth_core::config::EnvSource::empty())
            .auto_configure(false)
            .provider(p)
            .build()
            .unwrap()
            .oauth2("test")
            .unwrap()
            .revoke(&access_only)
            .await
            .unwrap_err();
        assert_redacted(&err, &[CLIENT_SECRET, "access-canary-2"]);
    }
}

#[tokio::test]
async fn a_callback_landing_on_another_instance_finds_its_state_in_the_shared_store() {
    use auth_core::{CredentialStore, StoredPendingStates};
    let server = MockServer::start().await;
    let challenge = Arc::new(Mutex::new(None));
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(PkceChecker {
            challenge: challenge.clone(),
        })
        .mount(&server)
        .await;
    let shared: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
    let instance = || {
        builder(&server.uri())
            .shared_store(shared.clone())
            .pending_states(StoredPendingStates::new(
                shared.clone(),
                Duration::from_secs(600),
            ))
            .build()
            .unwrap()
    };
    let (first, second) = (instance(), instance());
    let step = first
        .oauth2("test")
        .unwrap()
        .authorize(AuthorizeOptions::unbound().scopes(["read"]))
        .await
        .unwrap();
    let query: std::collections::HashMap<String, String> =
        step.url.query_pairs().into_owned().collect();
    *challenge.lock().unwrap() = Some(query["code_challenge"].clone());

    // The PKCE checker accepts the code only with the verifier of the first instance's challenge.
    let flow = second.oauth2("test").unwrap();
    flow.exchange("good-code", &step.state, "user-1")
        .await
        .unwrap();
    let received = server.received_requests().await.unwrap();
    assert_eq!(
        form_value(&received[0], "redirect_uri").as_deref(),
        Some("http://127.0.0.1:9999/callback")
    );
    let replay = first
        .oauth2("test")
        .unwrap()
        .exchange("good-code", &step.state, "user-1")
        .await
        .unwrap_err();
    assert!(
        matches!(replay, AuthError::StateReused { .. }),
        "{replay:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    // The pending state is no credential: listings do not show it, and keep no verifier.
    assert!(first.list_credentials(None).await.unwrap().is_empty());
    assert!(first.list_credentials_each(None).await.unwrap().is_empty());
    let records = shared.list(None).await.unwrap();
    assert_eq!(records.len(), 1);
    let tombstone = String::from_utf8(records[0].record.payload.expose_bytes().to_vec()).unwrap();
    assert!(!tombstone.contains("verifier") && !tombstone.contains(&step.state));

    let expiring = builder(&server.uri())
        .pending_states(StoredPendingStates::new(shared.clone(), Duration::ZERO))
        .build()
        .unwrap();
    let flow = expiring.oauth2("test").unwrap();
    let step = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
    let err = flow.exchange("c", &step.state, "u").await.unwrap_err();
    assert!(matches!(err, AuthError::StateExpired { .. }), "{err:?}");
    let err = flow.exchange("c", "never-issued", "u").await.unwrap_err();
    assert!(matches!(err, AuthError::UnknownState { .. }), "{err:?}");
}

#[tokio::test]
async fn oauth_errors_name_the_endpoint_and_the_request_that_was_refused() {
    use auth_core::{OAuthErrorCode, TokenOperation};
    let server = MockServer::start().await;
    for endpoint in ["/token", "/revoke"] {
        Mock::given(method("POST"))
            .and(path(endpoint))
            .respond_with(ResponseTemplate::new(400).set_body_json(
                serde_json::json!({"error": "unsupported_token_type", "error_description": "no"}),
            ))
            .mount(&server)
            .await;
    }
    let auth = builder(&server.uri()).build().unwrap();
    let flow = auth.oauth2("test").unwrap();
    let credentials = Credentials::new(valid("access-canary", "refresh-canary"));
    let revoke = flow.revoke(&credentials).await.unwrap_err();
    assert!(
        matches!(&revoke, AuthError::OAuth { operation: TokenOperation::Revoke, code: OAuthErrorCode::Other(code), .. } if code == "unsupported_token_type"),
        "{revoke:?}"
    );
    assert_eq!(
        revoke.to_string(),
        "test: the revocation endpoint refused the revoke request (HTTP 400, unsupported_token_type): no"
    );
    let refresh = flow.refresh(&credentials).await.unwrap_err();
    assert_eq!(
        refresh.to_string(),
        "test: the token endpoint refused the refresh request (HTTP 400, unsupported_token_type): no"
    );
}

#[tokio::test]
async fn a_token_response_without_scope_grants_the_requested_scopes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"access_token": "a", "token_type": "bearer", "expires_in": 3600}),
        ))
        .mount(&server)
        .await;
    let mut p = provider(&server.uri());
    p.settings = p
        .settings
        .map(|s| s.with_default_scopes(vec!["default:read".into()]));
    let auth = auth_core::AuthManager::builder()
        .env(auth_core::config::EnvSource::empty())
        .auto_configure(false)
        .provider(p)
        .build()
        .unwrap();
    let flow = auth.oauth2("test").unwrap();
    let step = flow
        .authorize(AuthorizeOptions::unbound().scopes(["tasks:read", "users:read"]))
        .await
        .unwrap();
    let credentials = flow.exchange("c", &step.state, "u").await.unwrap();
    assert_eq!(credentials.token.scope, ["tasks:read", "users:read"]);
    auth.store_credentials("test", "u", &credentials)
        .await
        .unwrap();
    let info = auth.credential_info("test", "u").await.unwrap().unwrap();
    assert_eq!(info.scopes, ["tasks:read", "users:read"]);

    let step = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
    let credentials = flow.exchange("c", &step.state, "u").await.unwrap();
    assert_eq!(credentials.token.scope, ["default:read"]);
}

/// A token and revocation endpoint that accepts one client authentication method only, as the
/// client `client-1` with the secret `client-secret-canary`, and refuses any other with
/// `invalid_client`.
struct AcceptsOnly(ClientAuthMethod);

impl Respond for AcceptsOnly {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let basic = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "client-1:client-secret-canary",
        );
        let header = req
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string());
        let (id, secret) = (
            form_value(req, "client_id"),
            form_value(req, "client_secret"),
        );
        let authenticated = match self.0 {
            ClientAuthMethod::BasicAuth => {
                header == Some(format!("Basic {basic}")) && id.is_none() && secret.is_none()
            }
            ClientAuthMethod::RequestBody => {
                header.is_none()
                    && id.as_deref() == Some("client-1")
                    && secret.as_deref() == Some("client-secret-canary")
            }
            ClientAuthMethod::None => {
                header.is_none() && id.as_deref() == Some("client-1") && secret.is_none()
            }
            other => panic!("{other:?}"),
        };
        if !authenticated {
            return ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"error": "invalid_client"}));
        }
        if req.url.path() == "/revoke" {
            return ResponseTemplate::new(200);
        }
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "access-canary", "token_type": "bearer", "expires_in": 3600, "refresh_token": "refresh-canary"
        }))
    }
}

#[tokio::test]
async fn each_client_authentication_method_is_used_for_token_and_revocation_requests() {
    for accepted in ClientAuthMethod::ALL {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(AcceptsOnly(accepted))
            .mount(&server)
            .await;
        for used in ClientAuthMethod::ALL {
            let mut p = provider(&server.uri());
            p.settings = p.settings.map(|s| s.with_client_auth(used));
            let auth = auth_core::AuthManager::builder()
                .env(auth_core::config::EnvSource::empty())
                .auto_configure(false)
                .provider(p)
                .build()
                .unwrap();
            let flow = auth.oauth2("test").unwrap();
            let step = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
            let exchanged = flow.exchange("code-canary", &step.state, "u").await;
            let credentials = Credentials::new(valid("access-canary-1", "refresh-canary-1"));
            let refreshed = flow.refresh(&credentials).await;
            let revoked = flow.revoke(&credentials).await;
            let context = format!("server accepts {accepted}, client uses {used}");
            if used == accepted {
                assert!(exchanged.is_ok(), "{context}: {exchanged:?}");
                assert!(refreshed.is_ok(), "{context}: {refreshed:?}");
                assert!(revoked.is_ok(), "{context}: {revoked:?}");
            } else {
                for err in [
                    exchanged.map(|_| ()).unwrap_err(),
                    refreshed.map(|_| ()).unwrap_err(),
                    revoked.unwrap_err(),
                ] {
                    assert!(
                        matches!(&err, AuthError::OAuth { status: 401, code, .. } if *code == auth_core::OAuthErrorCode::InvalidClient),
                        "{context}: {err:?}"
                    );
                }
            }
        }
    }
}

/// Login CSRF: a victim opens an attacker's callback link. A state bound to a subject is
/// redeemed for that subject only; another subject's exchange is refused before the token
/// endpoint is asked, never names the subject the state is bound to, and consumes the state.
/// States bound to no subject are redeemed for anyone. The same in memory and in a shared store.
#[tokio::test]
async fn a_state_bound_to_a_subject_is_refused_for_another_and_consumed() {
    use auth_core::{ErrorClass, StoredPendingStates};
    let server = MockServer::start().await;
    let in_memory = builder(&server.uri()).build().unwrap();
    let shared = Arc::new(MemoryCredentialStore::new());
    let in_store = builder(&server.uri())
        .pending_states(StoredPendingStates::new(shared, Duration::from_secs(600)))
        .build()
        .unwrap();
    for auth in [in_memory, in_store] {
        server.reset().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"access_token": "a"})),
            )
            .mount(&server)
            .await;
        let flow = auth.oauth2("test").unwrap();

        let attackers = flow
            .authorize(AuthorizeOptions::for_subject("mallory"))
            .await
            .unwrap();
        let err = flow
            .exchange("code-1", &attackers.state, "alice")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AuthError::StateSubjectMismatch { provider, subject }
                if provider == "test" && subject == "alice"),
            "{err:?}"
        );
        assert_eq!(err.class(), ErrorClass::Permanent);
        let text = format!("{err} {err:?}");
        assert!(!text.contains("mallory"), "{text}");
        assert!(server.received_requests().await.unwrap().is_empty());
        let err = flow
            .exchange("code-1", &attackers.state, "mallory")
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::StateReused { .. }), "{err:?}");
        assert!(server.received_requests().await.unwrap().is_empty());

        let own = flow
            .authorize(AuthorizeOptions::for_subject("alice"))
            .await
            .unwrap();
        flow.exchange("code-2", &own.state, "alice").await.unwrap();
        let unbound = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
        flow.exchange("code-3", &unbound.state, "anyone")
            .await
            .unwrap();
        let codes: Vec<Option<String>> = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| form_value(r, "code"))
            .collect();
        assert_eq!(codes, [Some("code-2".into()), Some("code-3".into())]);
    }
}

/// The S256 challenge sent on the consent URL of `step`.
fn challenge_of(step: &auth_core::AuthorizationRequest) -> String {
    step.url
        .query_pairs()
        .find(|(k, _)| k == "code_challenge")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

/// A token endpoint that fails for now gives no tokens and may not have spent the code: the state
/// is put back, so retrying the same callback succeeds with the same code and verifier, in
/// memory and in a shared store alike. A refusal spends it.
#[tokio::test]
async fn a_transient_exchange_failure_puts_the_state_back_for_a_retry() {
    use auth_core::{CredentialStore, StoredPendingStates, TokenOperation};
    let server = MockServer::start().await;
    let shared = Arc::new(MemoryCredentialStore::new());
    let in_memory = builder(&server.uri()).build().unwrap();
    let in_store = builder(&server.uri())
        .pending_states(StoredPendingStates::new(
            shared.clone(),
            Duration::from_secs(600),
        ))
        .build()
        .unwrap();
    for (auth, stored) in [(in_memory, false), (in_store, true)] {
        server.reset().await;
        token_endpoint_answering_once(
            &server,
            ResponseTemplate::new(503),
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"access_token": "a"})),
        )
        .await;
        let flow = auth.oauth2("test").unwrap();
        let step = flow
            .authorize(AuthorizeOptions::for_subject("alice"))
            .await
            .unwrap();

        let err = flow
            .exchange("code-1", &step.state, "alice")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AuthError::Transient { provider, operation: TokenOperation::Exchange, detail, retry_after: None }
                if provider == "test" && detail == "HTTP 503"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "test: transient failure during exchange at the token endpoint (HTTP 503); no tokens were received; retry the exchange later"
        );
        if stored {
            let records = shared.list(None).await.unwrap();
            let payload: serde_json::Value =
                serde_json::from_slice(records[0].record.payload.expose_bytes()).unwrap();
            assert_eq!(payload["used"], false, "{payload}");
            assert_eq!(payload["subject"], "alice", "{payload}");
            assert!(payload["verifier"].is_string(), "{payload}");
        }

        let credentials = flow.exchange("code-1", &step.state, "alice").await.unwrap();
        assert_eq!(stored_access(&credentials), "a");
        let received = server.received_requests().await.unwrap();
        assert_eq!(received.len(), 2);
        for request in &received {
            assert_eq!(form_value(request, "code").as_deref(), Some("code-1"));
            let verifier = form_value(request, "code_verifier").unwrap();
            assert_eq!(
                base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    sha2::Sha256::digest(verifier.as_bytes()),
                ),
                challenge_of(&step)
            );
        }
        let err = flow
            .exchange("code-1", &step.state, "alice")
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::StateReused { .. }), "{err:?}");

        server.reset().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(
                ResponseTemplate::new(400)
                    .set_body_json(serde_json::json!({"error": "invalid_grant"})),
            )
            .mount(&server)
            .await;
        let step = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
        let err = flow.exchange("code-2", &step.state, "u").await.unwrap_err();
        assert!(matches!(err, AuthError::OAuth { .. }), "{err:?}");
        let err = flow.exchange("code-2", &step.state, "u").await.unwrap_err();
        assert!(matches!(err, AuthError::StateReused { .. }), "{err:?}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }
}

/// A 408 (request timeout) from the token endpoint at the code exchange is transient, as a 5xx
/// is: the exchange fails with `AuthError::Transient` for the exchange, the state is put back,
/// and a second exchange with the same state succeeds.
#[tokio::test]
async fn a_408_at_the_exchange_is_transient_and_the_state_can_be_retried() {
    let server = MockServer::start().await;
    token_endpoint_answering_once(
        &server,
        ResponseTemplate::new(408),
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "at", "token_type": "bearer"
        })),
    )
    .await;
    let auth = builder(&server.uri()).build().unwrap();
    let flow = auth.oauth2("test").unwrap();
    let step = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
    let err = flow.exchange("code", &step.state, "u").await.unwrap_err();
    assert!(
        matches!(&err, AuthError::Transient { provider, operation: TokenOperation::Exchange, detail, .. }
            if provider == "test" && detail == "HTTP 408"),
        "{err:?}"
    );
    let credentials = flow.exchange("code", &step.state, "u").await.unwrap();
    assert_eq!(stored_access(&credentials), "at");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// Pending states that cannot put a state back (the trait's default): a transient exchange
/// failure spent the state, and the error says to start again rather than to retry.
#[tokio::test]
async fn a_transient_exchange_failure_that_cannot_keep_the_state_says_to_start_again() {
    use auth_core::pending::{PendingState, PendingStateStore};
    use auth_core::{ErrorClass, MemoryPendingStates};

    #[derive(Debug)]
    struct NoRestore(MemoryPendingStates);

    #[async_trait::async_trait]
    impl PendingStateStore for NoRestore {
        async fn insert(&self, state: &str, pending: PendingState) -> Result<(), AuthError> {
            self.0.insert(state, pending).await
        }
        async fn take(&self, provider: &str, state: &str) -> Result<PendingState, AuthError> {
            self.0.take(provider, state).await
        }
    }

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(502))
        .expect(1)
        .mount(&server)
        .await;
    let auth = builder(&server.uri())
        .pending_states(NoRestore(MemoryPendingStates::new(Duration::from_secs(
            600,
        ))))
        .build()
        .unwrap();
    let flow = auth.oauth2("test").unwrap();
    let step = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
    let err = flow.exchange("c", &step.state, "u").await.unwrap_err();
    assert!(
        matches!(&err, AuthError::ExchangeNotRetryable { provider, detail, reason }
            if provider == "test" && detail == "HTTP 502"
                && reason == "the pending-state store does not put states back"),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(
        err.to_string().ends_with("start the authorization again"),
        "{err}"
    );
    let err = flow.exchange("c", &step.state, "u").await.unwrap_err();
    assert!(matches!(err, AuthError::StateReused { .. }), "{err:?}");
    server.verify().await;
}

/// A blank scope separator joins the consent URL's scopes with a space, as token responses'
/// scopes are split on whitespace (and commas) for it; other separators join as they are.
#[tokio::test]
async fn a_blank_scope_separator_joins_scopes_with_a_space() {
    for (separator, expected) in [
        ("", "read write"),
        ("\t", "read write"),
        (",", "read,write"),
    ] {
        let mut p = provider("http://127.0.0.1:9");
        p.settings = p.settings.map(|s| s.with_scope_separator(separator));
        let auth = auth_core::AuthManager::builder()
            .env(auth_core::config::EnvSource::empty())
            .auto_configure(false)
            .provider(p)
            .build()
            .unwrap();
        let step = auth
            .oauth2("test")
            .unwrap()
            .authorize(AuthorizeOptions::unbound().scopes(["read", "write"]))
            .await
            .unwrap();
        let scope = step
            .url
            .query_pairs()
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.into_owned());
        assert_eq!(scope.as_deref(), Some(expected), "separator {separator:?}");
    }
}

/// An extra authorize parameter that repeats one the flow sets itself (the scope parameter by
/// its configured name) is refused, from the call or the provider's settings, and no state is
/// issued; other parameters are sent after the flow's own.
#[tokio::test]
async fn extra_authorize_params_cannot_repeat_the_flows_own() {
    let manager = |settings: fn(OAuth2Settings) -> OAuth2Settings| {
        let mut p = provider("http://127.0.0.1:9");
        p.settings = p.settings.map(settings);
        auth_core::AuthManager::builder()
            .env(auth_core::config::EnvSource::empty())
            .auto_configure(false)
            .provider(p)
            .build()
            .unwrap()
    };
    let renamed = manager(|s| s.with_scope_param("scopes"));
    let flow = renamed.oauth2("test").unwrap();
    for param in [
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
        "scopes",
    ] {
        let err = flow
            .authorize(
                AuthorizeOptions::unbound()
                    .state(format!("state-{param}"))
                    .param(param, "x"),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AuthError::ReservedAuthorizeParam { provider, param: p }
                if provider == "test" && p == param),
            "{param}: {err:?}"
        );
        let never_issued = flow
            .exchange("c", &format!("state-{param}"), "u")
            .await
            .unwrap_err();
        assert!(
            matches!(never_issued, AuthError::UnknownState { .. }),
            "{never_issued:?}"
        );
    }
    let step = flow
        .authorize(
            AuthorizeOptions::unbound()
                .param("scope", "x")
                .param("prompt", "consent"),
        )
        .await
        .unwrap();
    let names: Vec<String> = step
        .url
        .query_pairs()
        .map(|(k, _)| k.into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "response_type",
            "client_id",
            "redirect_uri",
            "state",
            "code_challenge",
            "code_challenge_method",
            "scope",
            "prompt"
        ]
    );

    let configured = manager(|s| s.with_authorize_param("state", "fixed"));
    let err = configured
        .oauth2("test")
        .unwrap()
        .authorize(AuthorizeOptions::unbound())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::ReservedAuthorizeParam { param, .. } if param == "state"),
        "{err:?}"
    );
}

/// A caller-chosen state that is pending already is refused as such, in memory and in a shared
/// store, and the pending one is left as it was.
#[tokio::test]
async fn a_state_pending_already_is_refused_and_the_first_kept() {
    use auth_core::StoredPendingStates;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"access_token": "a"})),
        )
        .mount(&server)
        .await;
    let in_memory = builder(&server.uri()).build().unwrap();
    let in_store = builder(&server.uri())
        .pending_states(StoredPendingStates::new(
            Arc::new(MemoryCredentialStore::new()),
            Duration::from_secs(600),
        ))
        .build()
        .unwrap();
    for auth in [in_memory, in_store] {
        let flow = auth.oauth2("test").unwrap();
        flow.authorize(AuthorizeOptions::for_subject("alice").state("fixed"))
            .await
            .unwrap();
        let err = flow
            .authorize(AuthorizeOptions::for_subject("bob").state("fixed"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AuthError::StateAlreadyPending { provider } if provider == "test"),
            "{err:?}"
        );
        flow.exchange("c", "fixed", "alice").await.unwrap();
    }
}

/// Credentials without a refresh token cannot be refreshed: said so, with nothing sent.
#[tokio::test]
async fn refreshing_credentials_without_a_refresh_token_sends_nothing() {
    let server = MockServer::start().await;
    let auth = builder(&server.uri()).build().unwrap();
    let flow = auth.oauth2("test").unwrap();
    let err = flow
        .refresh(&Credentials::new(OAuth2Token::bearer("access-1")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::NoRefreshToken { provider } if provider == "test"),
        "{err:?}"
    );
    assert!(err.needs_reauthorization());
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// A config file's section for a provider given in code is read as that provider's, and a
/// section naming nothing fails the build.
#[test]
fn a_section_for_a_provider_given_in_code_is_known_and_a_stray_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "[test]\n").unwrap();
    assert!(
        builder("http://127.0.0.1:1")
            .config_file(&file)
            .build()
            .is_ok()
    );
    std::fs::write(&file, "[test]\n[tset]\n").unwrap();
    match builder("http://127.0.0.1:1").config_file(&file).build() {
        Err(AuthError::Config(auth_core::ConfigError::UnknownSection { key, known, .. })) => {
            assert_eq!((key.as_str(), known.as_str()), ("tset", "test"));
        }
        other => panic!("{other:?}"),
    }
}

/// OAuth2 URLs set in code are checked as configuration checks those it reads: a manager with a
/// provider whose authorization, token or revocation URL is plain http off loopback, or whose
/// redirect URI is, does not build, so no client secret or code is ever sent in clear. Loopback
/// http and private-use redirect schemes are accepted.
#[tokio::test]
async fn plain_http_endpoints_set_in_code_are_refused() {
    let secure = settings("https://auth.example.com");
    let mut cases = Vec::new();
    let mut s = secure.clone();
    s.authorization_url = "http://auth.example.com/authorize".parse().unwrap();
    cases.push(("authorization_url", s));
    let mut s = secure.clone();
    s.token_url = "http://192.0.2.2:8080/token?x=secret".parse().unwrap();
    cases.push(("token_url", s));
    let mut s = secure.clone();
    s.revocation_url = Some("ftp://auth.example.com/revoke".parse().unwrap());
    cases.push(("revocation_url", s));
    let mut s = secure.clone();
    s.redirect_uri = Some("http://app.example.com/callback".parse().unwrap());
    cases.push(("redirect_uri", s));
    for (field, settings) in cases {
        let url = match field {
            "authorization_url" => "http://auth.example.com",
            "token_url" => "http://192.0.2.2:8080",
            "revocation_url" => "ftp://auth.example.com",
            _ => "http://app.example.com",
        };
        let provider = || TestProvider {
            id: "test",
            settings: Some(settings.clone()),
            app_token: None,
        };
        let built = AuthManager::builder()
            .env(EnvSource::empty())
            .auto_configure(false)
            .provider(provider())
            .build();
        match built {
            Err(AuthError::Config(ConfigError::InsecureUrl {
                provider,
                field: refused,
                url: shown,
                origin: ConfigSource::Code,
            })) => {
                assert_eq!(
                    (provider.as_str(), refused.as_str(), shown.as_str()),
                    ("test", field, url)
                );
            }
            other => panic!("{field}: {other:?}"),
        }
        let endpoint =
            TokenEndpoint::with_http_client(Arc::new(provider()), reqwest::Client::new());
        assert!(
            matches!(
                endpoint,
                Err(AuthError::Config(ConfigError::InsecureUrl { .. }))
            ),
            "{field}"
        );
    }
    // Nor a redirect URI given for one authorization.
    let auth = builder("https://auth.example.com").build().unwrap();
    let overridden = auth
        .oauth2("test")
        .unwrap()
        .authorize(
            AuthorizeOptions::unbound().redirect_uri("http://app.example.com/cb".parse().unwrap()),
        )
        .await;
    assert!(
        matches!(
            &overridden,
            Err(AuthError::Config(ConfigError::InsecureUrl { field, .. })) if field == "redirect_uri"
        ),
        "{overridden:?}"
    );
    let mut local = settings("http://127.0.0.1:8080");
    local.redirect_uri = Some("com.example.app:/callback".parse().unwrap());
    assert!(
        TokenEndpoint::new(Arc::new(TestProvider {
            id: "test",
            settings: Some(local),
            app_token: None,
        }))
        .is_ok()
    );
}

/// A blank subject, or credentials with nothing to send, are refused and nothing is stored; a
/// refresh token alone (its access token to come) is stored.
#[tokio::test]
async fn credentials_with_a_blank_subject_or_no_token_are_refused() {
    use auth_core::CredentialStore;

    let store = Arc::new(MemoryCredentialStore::new());
    let auth = manager_with_store("https://auth.example.com", store.clone());
    let blank = |at: &str, rt: Option<&str>| {
        let mut token = OAuth2Token::bearer(at);
        token.refresh_token = rt.map(Into::into);
        token
    };
    for (subject, credentials, reason) in [
        (
            " ",
            valid("at", "rt"),
            "the subject is blank: credentials are stored under a subject (a user, a team, an agent), so name one",
        ),
        (
            "u",
            blank("", None),
            "they hold neither an access token nor a refresh token",
        ),
        (
            "u",
            blank(" ", Some("")),
            "they hold neither an access token nor a refresh token",
        ),
    ] {
        match auth.store_credentials("test", subject, &credentials).await {
            Err(AuthError::InvalidCredentials {
                provider,
                subject: refused,
                reason: why,
            }) => assert_eq!(
                (provider.as_str(), refused.as_str(), why.as_str()),
                ("test", subject, reason)
            ),
            other => panic!("{subject:?}: {other:?}"),
        }
    }
    assert!(store.list(None).await.unwrap().is_empty(), "nothing stored");
    auth.store_credentials("test", "u", &blank("", Some("rt")))
        .await
        .unwrap();
    let stored = auth
        .load_credentials::<OAuth2Token>("test", "u")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.expires_at,
        Some(std::time::UNIX_EPOCH),
        "stored as expired, so that its first use refreshes"
    );
}
