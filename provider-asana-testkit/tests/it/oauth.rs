//! MockAsana's OAuth endpoints, driven with plain reqwest: authorize, code exchange with PKCE,
//! refresh, revocation, token expiry and the token-endpoint knobs.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use provider_asana_testkit::{ConsentError, MockAsana, seed};
use reqwest::{Response, StatusCode, Url};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const EXPIRED: &str = "The bearer token has expired. If you have a refresh token, please use it to request a new bearer token, otherwise allow the user to re-authenticate.";
const VERIFIER: &str = "a-verifier-of-at-least-forty-three-characters-0123456789";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The authorization URL a correct client builds, with `overrides` replacing or (with an empty
/// value) removing parameters.
fn authorize_url(asana: &MockAsana, overrides: &[(&str, &str)]) -> Url {
    let challenge = challenge(VERIFIER);
    let mut params: Vec<(&str, &str)> = vec![
        ("client_id", asana.client_id()),
        ("redirect_uri", asana.redirect_uri()),
        ("response_type", "code"),
        ("state", "st@te 1&2"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("scope", "default"),
    ];
    for (name, value) in overrides {
        params.retain(|(n, _)| n != name);
        if !value.is_empty() {
            params.push((name, value));
        }
    }
    Url::parse_with_params(&asana.authorization_url(), &params).expect("authorization URL")
}

fn query(url: &Url) -> Vec<(String, String)> {
    url.query_pairs().into_owned().collect()
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// Sends an authorization request and returns the redirect target.
async fn redirect_of(url: Url) -> Url {
    let response = http().get(url).send().await.expect("authorize request");
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"]
        .to_str()
        .expect("ASCII location");
    Url::parse(location).expect("location URL")
}

async fn code(asana: &MockAsana) -> String {
    let callback = redirect_of(authorize_url(asana, &[])).await;
    param(&callback, "code").expect("code in callback")
}

async fn token_request(asana: &MockAsana, form: &[(&str, &str)]) -> Response {
    http()
        .post(asana.token_url())
        .form(form)
        .send()
        .await
        .expect("token request")
}

async fn exchange(asana: &MockAsana, code: &str, verifier: &str) -> Response {
    token_request(
        asana,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", asana.client_id()),
            ("client_secret", asana.client_secret()),
            ("redirect_uri", asana.redirect_uri()),
            ("code", code),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn refresh(asana: &MockAsana, refresh_token: &str) -> Response {
    token_request(
        asana,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", asana.client_id()),
            ("client_secret", asana.client_secret()),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// Exchanges a fresh code; returns (access token, refresh token).
async fn tokens(asana: &MockAsana) -> (String, String) {
    let code = code(asana).await;
    let body: Value = exchange(asana, &code, VERIFIER)
        .await
        .json()
        .await
        .expect("JSON");
    (
        body["access_token"].as_str().expect("access").to_string(),
        body["refresh_token"].as_str().expect("refresh").to_string(),
    )
}

async fn me_status(asana: &MockAsana, token: &str) -> (StatusCode, Value) {
    let response = http()
        .get(format!("{}/users/me", asana.api_base_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("API request");
    let status = response.status();
    (status, response.json().await.expect("JSON"))
}

async fn oauth_error(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.expect("JSON error");
    assert!(body["error_description"].is_string(), "{body}");
    (status, body["error"].as_str().expect("error").to_string())
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn authorize_redirects_to_the_registered_uri_with_code_and_unchanged_state() {
    let asana = MockAsana::start().await;
    let callback = redirect_of(authorize_url(&asana, &[])).await;
    assert_eq!(
        callback.as_str().split('?').next(),
        Some("http://127.0.0.1:8765/callback")
    );
    let pairs = query(&callback);
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    assert_eq!(pairs[0].0, "code");
    assert!(!pairs[0].1.is_empty());
    assert_eq!(pairs[1], ("state".to_string(), "st@te 1&2".to_string()));
    assert_eq!(asana.authorizations(), 1);
    assert_eq!(asana.requests_to("GET", "/-/oauth_authorize"), 1);
}

#[tokio::test]
async fn authorize_refuses_unknown_clients_and_unregistered_redirects_without_redirecting() {
    let asana = MockAsana::start().await;
    for overrides in [
        [("client_id", "someone-else")],
        [("client_id", "")],
        [("redirect_uri", "http://127.0.0.1:8765/callback/")],
        [("redirect_uri", "https://evil.example/callback")],
        [("redirect_uri", "")],
    ] {
        let response = http()
            .get(authorize_url(&asana, &overrides))
            .send()
            .await
            .expect("authorize");
        assert!(
            response.headers().get("location").is_none(),
            "{overrides:?}"
        );
        let (status, error) = oauth_error(response).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{overrides:?}"
        );
    }
}

#[tokio::test]
async fn authorize_errors_after_the_redirect_checks_go_back_to_the_client() {
    let asana = MockAsana::start().await;
    let no_state = redirect_of(authorize_url(&asana, &[("state", "")])).await;
    assert_eq!(
        param(&no_state, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(param(&no_state, "state"), None);
    assert_eq!(param(&no_state, "code"), None);

    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge_method", "")], "invalid_request"),
        (
            &[("code_challenge", ""), ("code_challenge_method", "")],
            "invalid_request",
        ),
    ];
    for (overrides, expected) in cases {
        let callback = redirect_of(authorize_url(&asana, overrides)).await;
        assert_eq!(
            param(&callback, "error").as_deref(),
            Some(expected),
            "{overrides:?}"
        );
        assert_eq!(
            param(&callback, "state").as_deref(),
            Some("st@te 1&2"),
            "{overrides:?}"
        );
        assert_eq!(param(&callback, "code"), None, "{overrides:?}");
    }
}

#[tokio::test]
async fn pkce_can_be_made_optional_and_a_verifier_without_challenge_is_refused() {
    let asana = MockAsana::builder().require_pkce(false).start().await;
    let plain = [("code_challenge", ""), ("code_challenge_method", "")];
    let callback = redirect_of(authorize_url(&asana, &plain)).await;
    let code = param(&callback, "code").expect("code without PKCE");
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", asana.client_id()),
        ("client_secret", asana.client_secret()),
        ("redirect_uri", asana.redirect_uri()),
        ("code", code.as_str()),
    ];
    assert_eq!(token_request(&asana, &form).await.status(), StatusCode::OK);

    let callback = redirect_of(authorize_url(&asana, &plain)).await;
    let code = param(&callback, "code").expect("code without PKCE");
    let (status, error) = oauth_error(exchange(&asana, &code, VERIFIER).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
}

#[tokio::test]
async fn a_queued_denial_redirects_with_access_denied_once() {
    let asana = MockAsana::start().await;
    asana.deny_next_authorizations(1);
    let denied = redirect_of(authorize_url(&asana, &[])).await;
    assert_eq!(param(&denied, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&denied, "state").as_deref(), Some("st@te 1&2"));
    let granted = redirect_of(authorize_url(&asana, &[])).await;
    assert!(param(&granted, "code").is_some());
}

#[tokio::test]
async fn code_exchange_returns_asanas_exact_token_shape() {
    let asana = MockAsana::start().await;
    let code = code(&asana).await;
    let response = exchange(&asana, &code, VERIFIER).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        keys(&body),
        BTreeSet::from([
            "access_token",
            "data",
            "expires_in",
            "refresh_token",
            "token_type"
        ])
    );
    assert_eq!(body["expires_in"], json!(3600));
    assert_eq!(body["token_type"], json!("bearer"));
    assert_eq!(
        body["data"],
        json!({
            "id": 4673218951_u64,
            "gid": "4673218951",
            "name": "Greg Sanchez",
            "email": "gsanchez@example.com",
        })
    );
    let access = body["access_token"].as_str().expect("access token");
    let refresh = body["refresh_token"].as_str().expect("refresh token");
    assert!(!access.is_empty() && !refresh.is_empty() && access != refresh);
    let (status, me) = me_status(&asana, access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["data"]["gid"], seed::ME_GID);
    assert_eq!(asana.token_requests(), 1);
    assert_eq!(asana.token_requests_for("authorization_code"), 1);
    assert_eq!(asana.token_requests_for("refresh_token"), 0);
}

#[tokio::test]
async fn a_wrong_verifier_gives_invalid_grant_and_burns_the_code() {
    let asana = MockAsana::start().await;
    let code = code(&asana).await;
    let wrong = exchange(
        &asana,
        &code,
        "another-verifier-of-at-least-forty-three-chars",
    )
    .await;
    let (status, error) = oauth_error(wrong).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let (status, error) = oauth_error(exchange(&asana, &code, VERIFIER).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
}

#[tokio::test]
async fn a_code_works_once() {
    let asana = MockAsana::start().await;
    let code = code(&asana).await;
    assert_eq!(
        exchange(&asana, &code, VERIFIER).await.status(),
        StatusCode::OK
    );
    let (status, error) = oauth_error(exchange(&asana, &code, VERIFIER).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let (status, error) = oauth_error(exchange(&asana, "never-issued", VERIFIER).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
}

#[tokio::test]
async fn code_exchange_checks_redirect_uri_expiry_and_required_parameters() {
    let asana = MockAsana::start().await;
    let code_a = code(&asana).await;
    let other_redirect = token_request(
        &asana,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", asana.client_id()),
            ("client_secret", asana.client_secret()),
            ("redirect_uri", "http://127.0.0.1:8765/other"),
            ("code", &code_a),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    let (status, error) = oauth_error(other_redirect).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );

    let code_b = code(&asana).await;
    let no_verifier = token_request(
        &asana,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", asana.client_id()),
            ("client_secret", asana.client_secret()),
            ("redirect_uri", asana.redirect_uri()),
            ("code", &code_b),
        ],
    )
    .await;
    let (status, error) = oauth_error(no_verifier).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    // The missing verifier did not burn the code; expiring it does.
    asana.expire_authorization_codes();
    let (status, error) = oauth_error(exchange(&asana, &code_b, VERIFIER).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );

    let no_code = token_request(
        &asana,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", asana.client_id()),
            ("client_secret", asana.client_secret()),
            ("redirect_uri", asana.redirect_uri()),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    let (status, error) = oauth_error(no_code).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
}

#[tokio::test]
async fn client_authentication_by_body_or_basic() {
    let asana = MockAsana::start().await;
    let code_a = code(&asana).await;
    let wrong_secret = token_request(
        &asana,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", asana.client_id()),
            ("client_secret", "wrong"),
            ("redirect_uri", asana.redirect_uri()),
            ("code", &code_a),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    let (status, error) = oauth_error(wrong_secret).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );

    let no_credentials = token_request(
        &asana,
        &[
            ("grant_type", "authorization_code"),
            ("redirect_uri", asana.redirect_uri()),
            ("code", &code_a),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    let (status, error) = oauth_error(no_credentials).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );

    // Client authentication failed before the code was looked at, so it still works, via Basic.
    let basic = STANDARD.encode(format!("{}:{}", asana.client_id(), asana.client_secret()));
    let response = http()
        .post(asana.token_url())
        .header("authorization", format!("Basic {basic}"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("redirect_uri", asana.redirect_uri()),
            ("code", &code_a),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), StatusCode::OK);

    let bad_basic = http()
        .post(asana.token_url())
        .header("authorization", "Basic !!!")
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .expect("token request");
    assert_eq!(
        bad_basic.headers()["www-authenticate"],
        "Basic realm=\"asana\""
    );
    let (status, error) = oauth_error(bad_basic).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
}

#[tokio::test]
async fn malformed_token_requests_get_oauth_errors() {
    let asana = MockAsana::start().await;
    let unsupported = token_request(
        &asana,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", asana.client_id()),
            ("client_secret", asana.client_secret()),
        ],
    )
    .await;
    let (status, error) = oauth_error(unsupported).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "unsupported_grant_type")
    );

    let missing = token_request(&asana, &[("client_id", asana.client_id())]).await;
    let (status, error) = oauth_error(missing).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    let json_body = http()
        .post(asana.token_url())
        .json(&json!({ "grant_type": "refresh_token" }))
        .send()
        .await
        .expect("token request");
    let (status, error) = oauth_error(json_body).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    let garbage = http()
        .post(asana.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff, 0xfe, b'%', b'z', b'&', b'='])
        .send()
        .await
        .expect("token request");
    let (status, error) = oauth_error(garbage).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    let twice = http()
        .post(asana.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=refresh_token&grant_type=authorization_code")
        .send()
        .await
        .expect("token request");
    let (status, error) = oauth_error(twice).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    let get = http()
        .get(asana.token_url())
        .send()
        .await
        .expect("token request");
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(asana.token_requests(), 6);
    assert_eq!(asana.token_requests_for("refresh_token"), 1);
    assert_eq!(asana.token_requests_for("client_credentials"), 1);
}

#[tokio::test]
async fn refresh_returns_a_new_access_token_and_no_refresh_token() {
    let asana = MockAsana::start().await;
    let (access, refresh_token) = tokens(&asana).await;
    let response = refresh(&asana, &refresh_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        keys(&body),
        BTreeSet::from(["access_token", "data", "expires_in", "token_type"])
    );
    assert_eq!(body["expires_in"], json!(3600));
    assert_eq!(body["token_type"], json!("bearer"));
    assert_eq!(body["data"]["id"], json!(4673218951_u64));
    let fresh = body["access_token"].as_str().expect("access token");
    assert_ne!(fresh, access);
    assert_eq!(me_status(&asana, fresh).await.0, StatusCode::OK);
    assert_eq!(me_status(&asana, &access).await.0, StatusCode::OK);
    // The refresh token is long-lived: it works again.
    assert_eq!(
        refresh(&asana, &refresh_token).await.status(),
        StatusCode::OK
    );
    assert_eq!(asana.token_requests_for("refresh_token"), 2);
    assert_eq!(asana.token_requests(), 3);

    let (status, error) = oauth_error(refresh(&asana, "not-a-refresh-token").await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
}

#[tokio::test]
async fn revoke_kills_the_grant_and_its_access_tokens() {
    let asana = MockAsana::start().await;
    let (access, refresh_token) = tokens(&asana).await;
    let (other_access, other_refresh) = tokens(&asana).await;
    let revoke = |token: String| {
        let asana = &asana;
        async move {
            http()
                .post(asana.revocation_url())
                .form(&[
                    ("client_id", asana.client_id()),
                    ("client_secret", asana.client_secret()),
                    ("token", token.as_str()),
                ])
                .send()
                .await
                .expect("revoke request")
        }
    };
    let given_access = revoke(access.clone()).await;
    let (status, error) = oauth_error(given_access).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "unsupported_token_type")
    );
    assert_eq!(revoke(refresh_token.clone()).await.status(), StatusCode::OK);
    let (status, error) = oauth_error(refresh(&asana, &refresh_token).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let (status, body) = me_status(&asana, &access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({ "errors": [{ "message": "Not Authorized" }] }));
    // Revoking again, or revoking something unknown, is fine.
    assert_eq!(revoke(refresh_token).await.status(), StatusCode::OK);
    assert_eq!(revoke("unknown".into()).await.status(), StatusCode::OK);
    // The other grant is untouched.
    assert_eq!(me_status(&asana, &other_access).await.0, StatusCode::OK);
    assert_eq!(
        refresh(&asana, &other_refresh).await.status(),
        StatusCode::OK
    );

    let missing_token = http()
        .post(asana.revocation_url())
        .form(&[
            ("client_id", asana.client_id()),
            ("client_secret", asana.client_secret()),
        ])
        .send()
        .await
        .expect("revoke request");
    let (status, error) = oauth_error(missing_token).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let wrong_client = http()
        .post(asana.revocation_url())
        .form(&[
            ("client_id", asana.client_id()),
            ("client_secret", "wrong"),
            ("token", other_refresh.as_str()),
        ])
        .send()
        .await
        .expect("revoke request");
    let (status, error) = oauth_error(wrong_client).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    assert_eq!(
        refresh(&asana, &other_refresh).await.status(),
        StatusCode::OK
    );
    assert_eq!(asana.revocations(), 6);
}

#[tokio::test]
async fn expired_access_tokens_get_asanas_exact_401_and_refresh_recovers() {
    let asana = MockAsana::start().await;
    let (access, refresh_token) = tokens(&asana).await;
    asana.expire_access_tokens();
    let (status, body) = me_status(&asana, &access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({ "errors": [{ "message": EXPIRED }] }));
    let fresh: Value = refresh(&asana, &refresh_token)
        .await
        .json()
        .await
        .expect("JSON");
    let fresh = fresh["access_token"].as_str().expect("access token");
    assert_eq!(me_status(&asana, fresh).await.0, StatusCode::OK);
    // The personal access token never expires.
    assert_eq!(
        me_status(&asana, asana.personal_access_token()).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn token_lifetime_sets_expires_in_and_real_expiry() {
    let asana = MockAsana::builder().token_lifetime(0).start().await;
    let code = code(&asana).await;
    let body: Value = exchange(&asana, &code, VERIFIER)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(body["expires_in"], json!(0));
    let access = body["access_token"].as_str().expect("access token");
    let (status, error) = me_status(&asana, access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["errors"][0]["message"], EXPIRED);

    asana.set_token_lifetime(120);
    let refresh_token = body["refresh_token"].as_str().expect("refresh token");
    let body: Value = refresh(&asana, refresh_token)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(body["expires_in"], json!(120));
    let access = body["access_token"].as_str().expect("access token");
    assert_eq!(me_status(&asana, access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn revoke_all_grants_turns_refresh_into_invalid_grant() {
    let asana = MockAsana::start().await;
    let (access, refresh_token) = tokens(&asana).await;
    let issued = asana.issue_tokens("default");
    asana.revoke_all_grants();
    for token in [&refresh_token, &issued.refresh_token] {
        let (status, error) = oauth_error(refresh(&asana, token).await).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_grant")
        );
    }
    assert_eq!(me_status(&asana, &access).await.0, StatusCode::UNAUTHORIZED);
    // New consents work again.
    let (fresh, _) = tokens(&asana).await;
    assert_eq!(me_status(&asana, &fresh).await.0, StatusCode::OK);
}

#[tokio::test]
async fn injected_token_endpoint_failures_come_first_and_still_count() {
    let asana = MockAsana::start().await;
    let (_, refresh_token) = tokens(&asana).await;
    asana.fail_next_token_requests(2, 503);
    for _ in 0..2 {
        let (status, error) = oauth_error(refresh(&asana, &refresh_token).await).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
        );
    }
    assert_eq!(
        refresh(&asana, &refresh_token).await.status(),
        StatusCode::OK
    );
    asana.fail_next_token_requests(1, 500);
    let (status, error) = oauth_error(refresh(&asana, &refresh_token).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
    );
    assert_eq!(asana.token_requests(), 5);
    assert_eq!(asana.token_requests_for("refresh_token"), 4);
    assert_eq!(asana.requests_to("post", "/-/oauth_token"), 5);
}

#[tokio::test]
async fn openid_scope_adds_an_id_token() {
    let asana = MockAsana::start().await;
    let callback = redirect_of(authorize_url(&asana, &[("scope", "openid email default")])).await;
    let code = param(&callback, "code").expect("code");
    let body: Value = exchange(&asana, &code, VERIFIER)
        .await
        .json()
        .await
        .expect("JSON");
    let id_token = body["id_token"].as_str().expect("id_token");
    let claims = id_token.split('.').nth(1).expect("JWT payload");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("base64url")).expect("JSON");
    assert_eq!(claims["sub"], seed::ME_GID);
    assert_eq!(claims["aud"], asana.client_id());
    assert_eq!(claims["email"], seed::ME_EMAIL);
}

#[tokio::test]
async fn issue_tokens_skips_the_dance() {
    let asana = MockAsana::start().await;
    let issued = asana.issue_tokens("default");
    assert_eq!(issued.expires_in, 3600);
    assert_eq!(
        me_status(&asana, &issued.access_token).await.0,
        StatusCode::OK
    );
    assert_eq!(
        refresh(&asana, &issued.refresh_token).await.status(),
        StatusCode::OK
    );
    assert_eq!(asana.token_requests(), 1);
}

#[tokio::test]
async fn consent_plays_the_browser() {
    let asana = MockAsana::builder()
        .redirect_uri("http://localhost:9999/cb?app=1")
        .client_id("my-client")
        .start()
        .await;
    let callback = asana
        .consent(authorize_url(&asana, &[]).as_str())
        .await
        .expect("callback");
    assert_eq!(callback.path(), "/cb");
    assert_eq!(param(&callback, "app").as_deref(), Some("1"));
    assert_eq!(param(&callback, "state").as_deref(), Some("st@te 1&2"));
    let code = param(&callback, "code").expect("code");
    assert_eq!(
        exchange(&asana, &code, VERIFIER).await.status(),
        StatusCode::OK
    );

    let rejected = asana
        .consent(authorize_url(&asana, &[("client_id", "other")]).as_str())
        .await;
    assert!(
        matches!(rejected, Err(ConsentError::Rejected { status: 400, .. })),
        "{rejected:?}"
    );
    let foreign = asana
        .consent("https://app.asana.com/-/oauth_authorize?client_id=x")
        .await;
    assert!(
        matches!(foreign, Err(ConsentError::NotThisMock { .. })),
        "{foreign:?}"
    );
    assert_eq!(asana.authorizations(), 2);
}

#[tokio::test]
async fn app_config_names_every_endpoint() {
    let asana = MockAsana::start().await;
    let uri = asana.uri();
    assert!(uri.starts_with("http://127.0.0.1:"), "{uri}");
    assert_eq!(
        asana.app_config(),
        vec![
            ("authorization_url", format!("{uri}/-/oauth_authorize")),
            ("token_url", format!("{uri}/-/oauth_token")),
            ("revocation_url", format!("{uri}/-/oauth_revoke")),
            ("api_base_url", format!("{uri}/api/1.0")),
            ("client_id", asana.client_id().to_string()),
            ("client_secret", asana.client_secret().to_string()),
            ("redirect_uri", "http://127.0.0.1:8765/callback".to_string()),
        ]
    );
}
