//! Token endpoints that depart from RFC 6749 in ways real providers do, each described by a
//! setting: form-encoded answers, errors in a 200, a token nested in the response, JSON request
//! bodies, provider-specific `invalid_grant` codes, the scope parameter's name, and refresh
//! tokens that expire.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use auth_core::provider::{BodyFormat, OAuth2Settings, RevocationScope};
use auth_core::{
    AuthError, AuthorizeOptions, Credentials, OAuth2Token, OAuthErrorCode, TokenEndpoint,
};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{TestProvider, settings};

fn endpoint(settings: OAuth2Settings) -> TokenEndpoint {
    TokenEndpoint::new(Arc::new(TestProvider {
        id: "quirky",
        settings: Some(settings),
        app_token: None,
    }))
    .unwrap()
}

fn with_refresh(refresh: &str) -> Credentials {
    let mut token = OAuth2Token::bearer("at-0");
    token.refresh_token = Some(refresh.into());
    Credentials::new(token)
}

async fn token_answer(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(answer)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_form_encoded_answer_is_parsed_when_the_settings_say_so() {
    let server = MockServer::start().await;
    token_answer(
        &server,
        ResponseTemplate::new(200).set_body_raw(
            "access_token=at-1&token_type=bearer&scope=repo%2Cgist&expires_in=28800&refresh_token=rt-1&refresh_token_expires_in=15811200",
            "application/x-www-form-urlencoded",
        ),
    )
    .await;
    let form = endpoint(
        settings(&server.uri())
            .with_token_response_format(BodyFormat::Form)
            .with_scope_separator(","),
    );
    let before = SystemTime::now();
    let fresh = form.refresh(&with_refresh("rt-0")).await.unwrap();
    assert_eq!(fresh.token.access_token.expose_secret(), "at-1");
    assert_eq!(fresh.token.refresh_token.unwrap().expose_secret(), "rt-1");
    assert_eq!(fresh.token.scope, ["repo", "gist"]);
    assert_eq!(fresh.token.expires_in, Some(28800));
    let refresh_expiry = fresh.token.refresh_token_expires_at.unwrap();
    assert!(refresh_expiry >= before + Duration::from_secs(15_811_200));
    assert!(refresh_expiry <= SystemTime::now() + Duration::from_secs(15_811_200));

    let json = endpoint(settings(&server.uri()));
    let err = json.refresh(&with_refresh("rt-0")).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::InvalidTokenResponse { reason, .. } if reason == "the body is not JSON"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_error_in_a_200_is_a_refusal_and_provider_codes_can_mean_invalid_grant() {
    let server = MockServer::start().await;
    token_answer(
        &server,
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "error": "bad_refresh_token",
            "error_description": "The refresh token passed is incorrect or expired.",
        })),
    )
    .await;
    let plain = endpoint(settings(&server.uri()));
    let err = plain.refresh(&with_refresh("rt-0")).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::OAuth { status: 200, code: OAuthErrorCode::Other(code), .. } if code == "bad_refresh_token"),
        "{err:?}"
    );
    let aliased = endpoint(settings(&server.uri()).with_invalid_grant_code("bad_refresh_token"));
    let err = aliased.refresh(&with_refresh("rt-0")).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::OAuth { status: 200, code: OAuthErrorCode::InvalidGrant, description: Some(d), .. } if d.contains("incorrect or expired")),
        "{err:?}"
    );
}

#[tokio::test]
async fn errors_elsewhere_in_the_body_are_found_through_pointers() {
    let server = MockServer::start().await;
    token_answer(
        &server,
        ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "status": "BAD_REFRESH_TOKEN",
            "message": "missing or unknown refresh token",
        })),
    )
    .await;
    let plain = endpoint(settings(&server.uri()));
    let err = plain.refresh(&with_refresh("rt-0")).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::OAuth { status: 400, code: OAuthErrorCode::Other(code), description: None, .. } if code == "http_400"),
        "{err:?}"
    );
    let pointed = endpoint(
        settings(&server.uri())
            .with_error_pointers("/status", "/message")
            .with_invalid_grant_code("BAD_REFRESH_TOKEN"),
    );
    let err = pointed.refresh(&with_refresh("rt-0")).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::OAuth { status: 400, code: OAuthErrorCode::InvalidGrant, description: Some(d), .. } if d == "missing or unknown refresh token"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_nested_token_is_lifted_and_the_other_fields_kept() {
    let server = MockServer::start().await;
    token_answer(
        &server,
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "ok": true,
            "access_token": "xoxb-bot-token",
            "token_type": "bot",
            "scope": "commands",
            "team": {"id": "T1"},
            "authed_user": {"id": "U1", "scope": "search:read,chat:write", "access_token": "xoxp-user-token", "token_type": "user"}
        })),
    )
    .await;
    let nested = endpoint(
        settings(&server.uri())
            .with_token_pointer("/authed_user")
            .with_scope_separator(","),
    );
    let credentials = nested.exchange("code-1", None, None, &[]).await.unwrap();
    let token = &credentials.token;
    assert_eq!(token.access_token.expose_secret(), "xoxp-user-token");
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.scope, ["search:read", "chat:write"]);
    assert_eq!(token.raw["id"], "U1");
    assert_eq!(token.raw["team"]["id"], "T1");
    assert!(!serde_json::to_string(&token.raw).unwrap().contains("xoxb"));

    let missing = endpoint(settings(&server.uri()).with_token_pointer("/authed_bot"));
    let err = missing
        .exchange("code-1", None, None, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::InvalidTokenResponse { reason, .. } if reason.contains("/authed_bot")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_json_request_body_carries_the_grant() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header("content-type", "application/json"))
        .and(body_json(serde_json::json!({
            "grant_type": "authorization_code",
            "code": "code-1",
            "redirect_uri": "http://127.0.0.1:9999/callback",
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"access_token": "at-1", "token_type": "bearer"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let json = endpoint(
        settings(&server.uri())
            .with_token_request_format(BodyFormat::Json)
            .with_client_auth(auth_core::provider::ClientAuthMethod::BasicAuth),
    );
    let redirect: url::Url = "http://127.0.0.1:9999/callback".parse().unwrap();
    let credentials = json
        .exchange("code-1", Some(&redirect), None, &[])
        .await
        .unwrap();
    assert_eq!(credentials.token.access_token.expose_secret(), "at-1");
}

#[tokio::test]
async fn a_revocation_refused_in_a_200_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"ok": false, "error": "invalid_auth"})),
        )
        .mount(&server)
        .await;
    let err = endpoint(settings(&server.uri()))
        .revoke(&with_refresh("rt-0"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::OAuth { status: 200, code: OAuthErrorCode::Other(code), .. } if code == "invalid_auth"),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_scope_parameter_can_be_renamed() {
    let auth = auth_core::AuthManager::builder()
        .env(auth_core::config::EnvSource::empty())
        .auto_configure(false)
        .provider(TestProvider {
            id: "quirky",
            settings: Some(settings("https://quirky.example").with_scope_param("user_scope")),
            app_token: None,
        })
        .build()
        .unwrap();
    let step = auth
        .oauth2("quirky")
        .unwrap()
        .authorize(AuthorizeOptions::unbound().scopes(["search:read"]))
        .await
        .unwrap();
    let pairs: Vec<(String, String)> = step.url.query_pairs().into_owned().collect();
    assert!(
        pairs.contains(&("user_scope".into(), "search:read".into())),
        "{pairs:?}"
    );
    assert!(!pairs.iter().any(|(k, _)| k == "scope"), "{pairs:?}");
}

#[test]
fn a_refresh_token_expiry_survives_storage_and_a_refresh_that_keeps_it() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    let token = OAuth2Token::from_response(
        serde_json::json!({"access_token": "at", "refresh_token": "rt", "refresh_token_expires_in": 600}),
        " ",
        now,
    )
    .unwrap();
    let expiry = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600);
    assert_eq!(token.refresh_token_expires_at, Some(expiry));
    let stored: OAuth2Token =
        serde_json::from_value(serde_json::to_value(&token).unwrap()).unwrap();
    assert_eq!(stored.refresh_token_expires_at, Some(expiry));
    let provider = TestProvider {
        id: "quirky",
        settings: None,
        app_token: None,
    };
    let merged = auth_core::AuthProvider::merge_refreshed(
        &provider,
        &Credentials::new(stored),
        OAuth2Token::bearer("at-2"),
    );
    assert_eq!(merged.token.refresh_token_expires_at, Some(expiry));
    let err = OAuth2Token::from_response(
        serde_json::json!({"access_token": "at", "refresh_token_expires_in": "soon"}),
        " ",
        now,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "`refresh_token_expires_in` is not a non-negative number of seconds"
    );
}

/// Whether revoking ends only the tokens sent follows the provider's revocation scope; a
/// provider that says nothing may end the whole grant.
#[test]
fn a_revocation_ends_only_its_tokens_where_the_provider_says_so() {
    let uri = "https://auth.example";
    assert!(!endpoint(settings(uri)).revokes_only_its_tokens());
    assert!(
        !endpoint(settings(uri).with_revocation_scope(RevocationScope::Grant))
            .revokes_only_its_tokens()
    );
    assert!(
        endpoint(settings(uri).with_revocation_scope(RevocationScope::Token))
            .revokes_only_its_tokens()
    );
}
