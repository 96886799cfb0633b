//! Each built-in provider's whole life against a fake that answers as the provider documents:
//! the authorize URL, the code exchange, refresh (or its absence), revocation where the provider
//! has it, "who am I", and a raw request.

use std::any::Any;

use auth_core::{AuthError, AuthManager, Credentials, OAuth2Token, OAuthErrorCode};
use base64::Engine;
use provider_declarative::{DeclarativeError, DeclarativeProvider};
use reqwest::Method;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, Request, ResponseTemplate};

use crate::fakes::{
    CLIENT_ID, CLIENT_SECRET, Fake, Rotation, SUBJECT, client_in_form, expire, form, json, log_in,
    query, stored, stored_refresh_token,
};

async fn whoami(auth: &AuthManager, provider: &str) -> provider_declarative::Identity {
    asked_whoami(auth, provider).await.unwrap()
}

async fn asked_whoami(
    auth: &AuthManager,
    provider: &str,
) -> Result<provider_declarative::Identity, DeclarativeError> {
    let session = auth.session(SUBJECT).await.unwrap();
    let provider = auth.provider(provider).unwrap();
    (provider.as_ref() as &dyn Any)
        .downcast_ref::<DeclarativeProvider>()
        .unwrap()
        .whoami(&session)
        .await
}

async fn raw(auth: &AuthManager, provider: &str, method: Method, path: &str) -> serde_json::Value {
    let session = auth.session(SUBJECT).await.unwrap();
    let response = session
        .request(provider)
        .unwrap()
        .method(method)
        .path(path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().unwrap()
}

async fn token(auth: &AuthManager, provider: &str) -> Result<String, AuthError> {
    let session = auth.session(SUBJECT).await.unwrap();
    session
        .token(provider)
        .await
        .map(|t| t.expose_secret().to_string())
}

fn bearer(request: &Request) -> Option<String> {
    request
        .headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(String::from)
}

/// GitHub's token endpoint: form-encoded unless asked for JSON, errors as 200, rotating
/// refresh tokens.
fn github_tokens(rotation: std::sync::Arc<Rotation>) -> impl Fn(&Request) -> ResponseTemplate {
    move |request: &Request| {
        let fields = form(request);
        let answer = if !client_in_form(request) {
            json!({"error": "incorrect_client_credentials", "error_description": "The client_id and/or client_secret passed are incorrect."})
        } else {
            match fields.get("grant_type").map(String::as_str) {
                Some("authorization_code")
                    if fields.get("code").map(String::as_str) == Some("gh-code")
                        && fields.contains_key("code_verifier") =>
                {
                    json!({"access_token": "at-1", "token_type": "bearer", "scope": "read:user,repo",
                        "expires_in": 28800, "refresh_token": "rt-1", "refresh_token_expires_in": 15897600})
                }
                Some("refresh_token") => match rotation.spend(fields.get("refresh_token")) {
                    Some(n) => json!({"access_token": format!("at-{n}"), "token_type": "bearer",
                        "scope": "read:user,repo", "expires_in": 28800,
                        "refresh_token": format!("rt-{n}"), "refresh_token_expires_in": 15897600}),
                    None => {
                        json!({"error": "bad_refresh_token", "error_description": "The refresh token passed is incorrect or expired."})
                    }
                },
                _ => {
                    json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})
                }
            }
        };
        let wants_json = request
            .headers
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"));
        if wants_json {
            return json(200, answer);
        }
        let encoded: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(answer.as_object().unwrap().iter().map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), String::from),
                )
            }))
            .finish();
        ResponseTemplate::new(200).set_body_raw(encoded, "application/x-www-form-urlencoded")
    }
}

/// GitHub's API: a User-Agent is required.
fn github_api(body: serde_json::Value) -> impl Fn(&Request) -> ResponseTemplate {
    move |request: &Request| {
        if !request.headers.contains_key("user-agent") {
            return ResponseTemplate::new(403).set_body_string(
                "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
            );
        }
        match bearer(request) {
            Some(t) if t.starts_with("at-") => json(200, body.clone()),
            _ => json(401, json!({"message": "Bad credentials"})),
        }
    }
}

pub async fn github_fake(rotation: std::sync::Arc<Rotation>) -> Fake {
    let fake = Fake::start("github", Some("/applications/client-1/token"), Some("")).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(github_tokens(rotation))
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(github_api(json!({"id": 583231, "login": "octocat"})))
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user/repos"))
        .respond_with(github_api(json!([{"name": "Hello-World"}])))
        .mount(&fake.server)
        .await;
    fake
}

#[tokio::test]
async fn github_life() {
    let rotation = std::sync::Arc::new(Rotation::new());
    let fake = github_fake(rotation.clone()).await;
    let auth = fake.manager();

    let (url, credentials) = log_in(&auth, "github", "gh-code").await;
    let q = query(&url);
    assert_eq!(url.path(), "/authorize");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["scope"], "read:user");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(credentials.token.scope, ["read:user", "repo"]);
    assert_eq!(
        credentials
            .token
            .refresh_token
            .as_ref()
            .unwrap()
            .expose_secret(),
        "rt-1"
    );
    assert!(credentials.token.refresh_token_expires_at.is_some());

    let flow = auth.oauth2("github").unwrap();
    let step = flow
        .authorize(auth_core::AuthorizeOptions::unbound().scopes(["read:user", "repo"]))
        .await
        .unwrap();
    assert_eq!(
        query(&step.url)["scope"],
        "read:user repo",
        "space-delimited"
    );
    let err = flow
        .exchange("stale-code", &step.state, SUBJECT)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::OAuth { status: 200, code: OAuthErrorCode::InvalidGrant, description: Some(d), .. } if d.contains("incorrect or expired")),
        "{err:?}"
    );

    let me = whoami(&auth, "github").await;
    assert_eq!(me.user_id.as_deref(), Some("583231"));
    assert_eq!(me.user["login"], "octocat");
    let repos = raw(&auth, "github", Method::GET, "/user/repos").await;
    assert_eq!(repos[0]["name"], "Hello-World");

    expire(&auth, "github").await;
    assert_eq!(token(&auth, "github").await.unwrap(), "at-2");
    let after = stored(&auth, "github").await.unwrap();
    assert_eq!(
        after.token.refresh_token.as_ref().unwrap().expose_secret(),
        "rt-2"
    );
    assert_eq!(rotation.refreshes(), 1);

    // A spent refresh token: GitHub answers 200 with bad_refresh_token; the user must log in again.
    let mut spent = after.clone();
    spent.token.refresh_token = Some("rt-1".into());
    spent.token.expires_at =
        Some(std::time::SystemTime::now() - std::time::Duration::from_secs(60));
    auth.store_credentials("github", SUBJECT, &spent)
        .await
        .unwrap();
    let err = token(&auth, "github").await.unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");

    let token_requests: Vec<Request> = fake
        .server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/token")
        .collect();
    assert!(
        token_requests
            .iter()
            .all(|r| r.headers["accept"] == "application/json")
    );

    // Logging out deletes the token at GitHub (the client's Basic auth, the access token in
    // JSON), then locally.
    Mock::given(method("DELETE"))
        .and(path("/applications/client-1/token"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&fake.server)
        .await;
    let held = stored(&auth, "github").await.unwrap();
    assert!(auth.revoke_credentials("github", SUBJECT).await.unwrap());
    assert!(stored(&auth, "github").await.is_none());
    let deleted = fake
        .server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "DELETE")
        .unwrap();
    assert_eq!(
        deleted.headers["authorization"],
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
        )
        .as_str()
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&deleted.body).unwrap(),
        json!({"access_token": held.token.access_token.expose_secret()})
    );
}

#[tokio::test]
async fn google_life() {
    let fake = Fake::start("google", Some("/revoke"), Some("")).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(|request: &Request| {
            let fields = form(request);
            if !client_in_form(request) {
                return json(401, json!({"error": "invalid_client", "error_description": "Unauthorized"}));
            }
            match fields.get("grant_type").map(String::as_str) {
                Some("authorization_code") if fields.get("code").map(String::as_str) == Some("g-code") && fields.contains_key("code_verifier") => json(200, json!({
                    "access_token": "ya29.at-1", "expires_in": 3599, "refresh_token": "1//rt-1",
                    "scope": "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
                    "token_type": "Bearer", "id_token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMDk4In0.sig"
                })),
                Some("refresh_token") if fields.get("refresh_token").map(String::as_str) == Some("1//rt-1") => json(200, json!({
                    "access_token": "ya29.at-2", "expires_in": 3599, "scope": "openid https://www.googleapis.com/auth/userinfo.email",
                    "token_type": "Bearer", "id_token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMDk4In0.sig2"
                })),
                _ => json(400, json!({"error": "invalid_grant", "error_description": "Bad Request"})),
            }
        })
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/oauth2/v3/userinfo"))
        .respond_with(|request: &Request| match bearer(request).as_deref() {
            Some("ya29.at-1" | "ya29.at-2") => {
                json(200, json!({"sub": "1098", "email": "alice@example.com"}))
            }
            _ => json(401, json!({"error": "invalid_request"})),
        })
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/drive/v3/about"))
        .respond_with(json(200, json!({"user": {"displayName": "Alice"}})))
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(|request: &Request| match form(request).get("token").map(String::as_str) {
            Some("1//rt-1") => ResponseTemplate::new(200),
            _ => json(400, json!({"error": "invalid_token", "error_description": "Token expired or revoked"})),
        })
        .expect(1)
        .mount(&fake.server)
        .await;
    let auth = fake.manager();

    let (url, credentials) = log_in(&auth, "google", "g-code").await;
    let q = query(&url);
    assert_eq!(q["scope"], "openid email profile");
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["include_granted_scopes"], "true");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(credentials.token.id_token.is_some(), "the id_token is kept");

    // Incremental authorization: more scopes on a later consent.
    let more = auth
        .oauth2("google")
        .unwrap()
        .authorize(
            auth_core::AuthorizeOptions::unbound()
                .scopes(["https://www.googleapis.com/auth/drive.readonly"]),
        )
        .await
        .unwrap();
    assert_eq!(
        query(&more.url)["scope"],
        "https://www.googleapis.com/auth/drive.readonly"
    );
    assert_eq!(query(&more.url)["include_granted_scopes"], "true");

    let me = whoami(&auth, "google").await;
    assert_eq!(me.user_id.as_deref(), Some("1098"));
    let about = raw(&auth, "google", Method::GET, "/drive/v3/about").await;
    assert_eq!(about["user"]["displayName"], "Alice");

    expire(&auth, "google").await;
    assert_eq!(token(&auth, "google").await.unwrap(), "ya29.at-2");
    let after = stored(&auth, "google").await.unwrap();
    assert_eq!(
        after.token.refresh_token.unwrap().expose_secret(),
        "1//rt-1",
        "Google's refresh answer omits the refresh token: the old one is kept"
    );
    assert!(
        after
            .token
            .id_token
            .unwrap()
            .expose_secret()
            .ends_with("sig2")
    );

    assert!(auth.revoke_credentials("google", SUBJECT).await.unwrap());
    assert!(stored(&auth, "google").await.is_none());
}

/// Slack with token rotation on: the exchange nests the user's token under `authed_user` with a
/// refresh token; a refresh answers the user's new token at the top level (`token_type` `user`),
/// rotating the refresh token; a spent one is `ok: false` with `invalid_refresh_token`.
#[tokio::test]
async fn slack_rotates_a_user_token_and_a_spent_refresh_token_asks_for_a_new_login() {
    let rotation = std::sync::Arc::new(Rotation::new());
    let fake = Fake::start("slack", None, Some("/api")).await;
    let spent = rotation.clone();
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(move |request: &Request| {
            let fields = form(request);
            match fields.get("grant_type").map(String::as_str) {
                Some("authorization_code") => json(
                    200,
                    json!({
                        "ok": true, "access_token": "xoxb-bot", "token_type": "bot",
                        "authed_user": {
                            "id": "U1", "scope": "users:read", "access_token": "xoxe.xoxp-1",
                            "token_type": "user", "refresh_token": "rt-1", "expires_in": 43200,
                        },
                    }),
                ),
                _ => match spent.spend(fields.get("refresh_token")) {
                    Some(n) => json(
                        200,
                        json!({
                            "ok": true, "access_token": format!("xoxe.xoxp-{n}"),
                            "refresh_token": format!("rt-{n}"), "token_type": "user",
                            "scope": "users:read", "expires_in": 43200,
                        }),
                    ),
                    None => json(200, json!({"ok": false, "error": "invalid_refresh_token"})),
                },
            }
        })
        .mount(&fake.server)
        .await;
    let auth = fake.manager();
    let (_, credentials) = log_in(&auth, "slack", "slack-code").await;
    assert_eq!(
        credentials.token.access_token.expose_secret(),
        "xoxe.xoxp-1"
    );

    expire(&auth, "slack").await;
    assert_eq!(token(&auth, "slack").await.unwrap(), "xoxe.xoxp-2");
    let after = stored(&auth, "slack").await.unwrap();
    assert_eq!(
        after.token.refresh_token.as_ref().unwrap().expose_secret(),
        "rt-2"
    );
    assert_eq!(credentials.extra["user_id"], "U1");
    assert_eq!(rotation.refreshes(), 1);

    let mut old = after.clone();
    old.token.refresh_token = Some("rt-1".into());
    old.token.expires_at = Some(std::time::SystemTime::now() - std::time::Duration::from_secs(60));
    auth.store_credentials("slack", SUBJECT, &old)
        .await
        .unwrap();
    let err = token(&auth, "slack").await.unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");
}

#[tokio::test]
async fn slack_life() {
    let fake = Fake::start("slack", Some("/api/auth.revoke"), Some("/api")).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(|request: &Request| {
            let fields = form(request);
            if fields.get("code").map(String::as_str) != Some("slack-code") || !client_in_form(request) {
                return json(200, json!({"ok": false, "error": "invalid_code"}));
            }
            json(200, json!({
                "ok": true, "app_id": "A1", "access_token": "xoxb-bot", "token_type": "bot",
                "scope": "commands", "bot_user_id": "B1", "team": {"id": "T1", "name": "Acme"},
                "authed_user": {"id": "U1", "scope": "users:read", "access_token": "xoxp-user", "token_type": "user"}
            }))
        })
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/auth.test"))
        .respond_with(|request: &Request| match bearer(request).as_deref() {
            Some("xoxp-user") => json(
                200,
                json!({"ok": true, "user_id": "U1", "team_id": "T1", "user": "alice"}),
            ),
            Some("xoxp-busy") => json(200, json!({"ok": false, "error": "ratelimited"})),
            Some("xoxp-echoed") => json(
                200,
                json!({"ok": false, "error": "no such token: xoxp-echoed"}),
            ),
            _ => json(200, json!({"ok": false, "error": "invalid_auth"})),
        })
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/users.list"))
        .and(header("authorization", "Bearer xoxp-user"))
        .respond_with(json(200, json!({"ok": true, "members": [{"id": "U1"}]})))
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/auth.revoke"))
        .respond_with(
            |request: &Request| match form(request).get("token").map(String::as_str) {
                Some("xoxp-user") => json(200, json!({"ok": true, "revoked": true})),
                Some("xoxp-outage") => json(200, json!({"ok": false, "error": "internal_error"})),
                _ => json(200, json!({"ok": false, "error": "invalid_auth"})),
            },
        )
        .expect(3)
        .mount(&fake.server)
        .await;
    let auth = fake.manager();

    let flow = auth.oauth2("slack").unwrap();
    let step = flow
        .authorize(auth_core::AuthorizeOptions::unbound())
        .await
        .unwrap();
    let err = flow
        .exchange("wrong", &step.state, SUBJECT)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::OAuth { status: 200, code: OAuthErrorCode::Other(c), .. } if c == "invalid_code"),
        "{err:?}"
    );

    let (url, credentials) = log_in(&auth, "slack", "slack-code").await;
    let q = query(&url);
    assert_eq!(q["user_scope"], "users:read");
    assert!(!q.contains_key("scope") && !q.contains_key("code_challenge"));
    assert_eq!(credentials.token.access_token.expose_secret(), "xoxp-user");
    assert_eq!(credentials.extra["user_id"], "U1");
    assert_eq!(credentials.token.raw["team"]["id"], "T1");
    assert!(
        !serde_json::to_string(&credentials)
            .unwrap()
            .contains("xoxb-bot")
    );

    let me = whoami(&auth, "slack").await;
    assert_eq!(me.user_id.as_deref(), Some("U1"));
    let users = raw(&auth, "slack", Method::GET, "/users.list").await;
    assert_eq!(users["members"][0]["id"], "U1");

    // No refresh token (token rotation off): nothing to refresh.
    assert!(credentials.token.refresh_token.is_none());
    let err = auth
        .endpoint("slack")
        .unwrap()
        .refresh(&credentials)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::NoRefreshToken { provider } if provider == "slack"),
        "{err:?}"
    );

    // `ok: false` to "who am I": a listed code rejects the token, any other is a refusal.
    for (token, rejected) in [("xoxp-busy", false), ("xoxp-other", true)] {
        let mut other = credentials.clone();
        other.token.access_token = token.into();
        auth.store_credentials("slack", SUBJECT, &other)
            .await
            .unwrap();
        let err = asked_whoami(&auth, "slack").await.unwrap_err();
        assert_eq!(err.rejects_token(), rejected, "{err:?}");
        let expected = if rejected {
            "slack: the API rejected the token in the \"who am I\" call (invalid_auth)"
        } else {
            "slack: the API refused the \"who am I\" call (ratelimited)"
        };
        assert_eq!(err.to_string(), expected);
    }
    // A code that is no listed code, echoing the token, does not carry it.
    let mut echoed = credentials.clone();
    echoed.token.access_token = "xoxp-echoed".into();
    auth.store_credentials("slack", SUBJECT, &echoed)
        .await
        .unwrap();
    let err = asked_whoami(&auth, "slack").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "slack: the API refused the \"who am I\" call (no such token: [REDACTED])"
    );
    assert!(!format!("{err:?}").contains("xoxp-echoed"), "{err:?}");

    // Revocation refused with ok: false keeps the credentials; then a real revocation.
    let mut wrong = credentials.clone();
    wrong.token.access_token = "xoxp-other".into();
    auth.store_credentials("slack", SUBJECT, &wrong)
        .await
        .unwrap();
    let err = auth.revoke_credentials("slack", SUBJECT).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::OAuth { status: 200, code: OAuthErrorCode::Other(c), .. } if c == "invalid_auth"),
        "{err:?}"
    );
    assert!(stored(&auth, "slack").await.is_some());
    // Slack failing for now (`ok: false`, `internal_error`) is worth a retry, not a refusal.
    wrong.token.access_token = "xoxp-outage".into();
    auth.store_credentials("slack", SUBJECT, &wrong)
        .await
        .unwrap();
    let err = auth.revoke_credentials("slack", SUBJECT).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::Transient { detail, .. } if detail == "the provider answered `internal_error`"),
        "{err:?}"
    );
    assert!(stored(&auth, "slack").await.is_some());
    auth.store_credentials("slack", SUBJECT, &credentials)
        .await
        .unwrap();
    assert!(auth.revoke_credentials("slack", SUBJECT).await.unwrap());
    assert!(stored(&auth, "slack").await.is_none());
}

#[tokio::test]
async fn notion_life() {
    let fake = Fake::start("notion", None, Some("/v1")).await;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header("authorization", basic.as_str()))
        .and(header("content-type", "application/json"))
        .respond_with(|request: &Request| {
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
            if body["grant_type"] != "authorization_code" || body["code"] != "notion-code" {
                return json(
                    400,
                    json!({"error": "invalid_grant", "error_description": "Invalid code."}),
                );
            }
            json(
                200,
                json!({
                    "access_token": "secret_notion", "token_type": "bearer", "bot_id": "bot-1",
                    "workspace_id": "ws-1", "workspace_name": "Acme", "workspace_icon": null,
                    "owner": {"type": "user", "user": {"object": "user", "id": "u-1"}},
                    "duplicated_template_id": null
                }),
            )
        })
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/users/me"))
        .respond_with(|request: &Request| {
            if !request.headers.contains_key("notion-version") {
                return json(400, json!({"object": "error", "code": "missing_version"}));
            }
            json(
                200,
                json!({
                    "object": "user", "id": "bot-1", "type": "bot", "name": "Acme bot",
                    "bot": {
                        "owner": {"type": "user", "user": {"object": "user", "id": "u-1"}},
                        "workspace_name": "Acme"
                    }
                }),
            )
        })
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/search"))
        .and(header("notion-version", "2022-06-28"))
        .respond_with(json(200, json!({"object": "list", "results": []})))
        .mount(&fake.server)
        .await;
    let auth = fake.manager();

    let (url, credentials) = log_in(&auth, "notion", "notion-code").await;
    let q = query(&url);
    assert_eq!(q["owner"], "user");
    assert!(!q.contains_key("code_challenge"));
    assert_eq!(credentials.extra["user_id"], "u-1");
    assert_eq!(credentials.token.raw["workspace_id"], "ws-1");
    assert_eq!(credentials.token.raw["bot_id"], "bot-1");
    assert!(credentials.token.refresh_token.is_none() && credentials.token.expires_at.is_none());

    // The user who installed it, as the token answer says, not the bot.
    let me = whoami(&auth, "notion").await;
    assert_eq!(me.user_id.as_deref(), Some("u-1"));
    let search = raw(&auth, "notion", Method::POST, "/search").await;
    assert_eq!(search["object"], "list");

    // No refresh token, no expiry: the token is used as it is; no revocation endpoint.
    assert_eq!(token(&auth, "notion").await.unwrap(), "secret_notion");
    assert!(auth.revoke_credentials("notion", SUBJECT).await.unwrap());
    assert!(stored(&auth, "notion").await.is_none());
}

/// Microsoft's token endpoint: rotating refresh tokens, `invalid_grant` for a spent one.
pub fn microsoft_tokens(
    rotation: std::sync::Arc<Rotation>,
) -> impl Fn(&Request) -> ResponseTemplate {
    move |request: &Request| {
        let fields = form(request);
        if !client_in_form(request) {
            return json(
                401,
                json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}),
            );
        }
        match fields.get("grant_type").map(String::as_str) {
            Some("authorization_code")
                if fields.get("code").map(String::as_str) == Some("ms-code") =>
            {
                json(
                    200,
                    json!({
                        "token_type": "Bearer", "scope": "openid profile offline_access User.Read",
                        "expires_in": 3599, "ext_expires_in": 3599, "access_token": "at-1", "refresh_token": "rt-1",
                        "id_token": "eyJ0eXAiOiJKV1QifQ.e30.sig"
                    }),
                )
            }
            Some("refresh_token") => match rotation.spend(fields.get("refresh_token")) {
                Some(n) => json(
                    200,
                    json!({
                        "token_type": "Bearer", "scope": "openid profile offline_access User.Read",
                        "expires_in": 3599, "access_token": format!("at-{n}"), "refresh_token": format!("rt-{n}")
                    }),
                ),
                None => json(
                    400,
                    json!({"error": "invalid_grant", "error_description": "AADSTS70000: The provided value for the 'refresh_token' is not valid.", "error_codes": [70000]}),
                ),
            },
            _ => json(
                400,
                json!({"error": "invalid_grant", "error_description": "AADSTS70008: The provided authorization code has expired."}),
            ),
        }
    }
}

pub async fn microsoft_fake(rotation: std::sync::Arc<Rotation>) -> Fake {
    let fake = Fake::start("microsoft", None, Some("/v1.0")).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(microsoft_tokens(rotation))
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me"))
        .respond_with(|request: &Request| match bearer(request) {
            Some(t) if t.starts_with("at-") => json(
                200,
                json!({"id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "displayName": "Alice"}),
            ),
            _ => json(
                401,
                json!({"error": {"code": "InvalidAuthenticationToken"}}),
            ),
        })
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me/messages"))
        .respond_with(json(200, json!({"value": []})))
        .mount(&fake.server)
        .await;
    fake
}

#[tokio::test]
async fn microsoft_life() {
    let rotation = std::sync::Arc::new(Rotation::new());
    let fake = microsoft_fake(rotation.clone()).await;
    let auth = fake.manager();

    let (url, credentials) = log_in(&auth, "microsoft", "ms-code").await;
    let q = query(&url);
    assert_eq!(q["scope"], "openid profile offline_access User.Read");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(credentials.token.id_token.is_some());

    let me = whoami(&auth, "microsoft").await;
    assert_eq!(
        me.user_id.as_deref(),
        Some("87d349ed-44d7-43e1-9a83-5f2406dee5bd")
    );
    let messages = raw(&auth, "microsoft", Method::GET, "/me/messages").await;
    assert_eq!(messages["value"], json!([]));

    expire(&auth, "microsoft").await;
    assert_eq!(token(&auth, "microsoft").await.unwrap(), "at-2");
    let after = stored(&auth, "microsoft").await.unwrap();
    assert_eq!(after.token.refresh_token.unwrap().expose_secret(), "rt-2");

    // Replaying the spent rt-1 is invalid_grant: re-authorization, the record kept and marked.
    let mut spent = credentials.clone();
    spent.token.expires_at =
        Some(std::time::SystemTime::now() - std::time::Duration::from_secs(60));
    auth.store_credentials("microsoft", SUBJECT, &spent)
        .await
        .unwrap();
    let err = token(&auth, "microsoft").await.unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");
    let info = auth
        .credential_info("microsoft", SUBJECT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        info.status,
        auth_core::CredentialStatus::NeedsReauthorization
    );
    assert_eq!(rotation.refreshes(), 1);

    // No revocation endpoint.
    assert!(auth.revoke_credentials("microsoft", SUBJECT).await.unwrap());
    assert_eq!(
        fake.server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path().contains("revoke"))
            .count(),
        0
    );
}

#[tokio::test]
async fn linear_life() {
    let fake = Fake::start("linear", Some("/oauth/revoke"), Some("")).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(|request: &Request| {
            let fields = form(request);
            match fields.get("grant_type").map(String::as_str) {
                Some("authorization_code") if fields.get("code").map(String::as_str) == Some("lin-code") && client_in_form(request) => json(200, json!({
                    "access_token": "lin_oauth_1", "token_type": "Bearer", "expires_in": 86399,
                    "scope": "read,write", "refresh_token": "lin_rt_1"
                })),
                Some("refresh_token") if fields.get("refresh_token").map(String::as_str) == Some("lin_rt_1") => json(200, json!({
                    "access_token": "lin_oauth_2", "token_type": "Bearer", "expires_in": 86399,
                    "scope": "read,write", "refresh_token": "lin_rt_2"
                })),
                _ => json(400, json!({"error": "invalid_grant"})),
            }
        })
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .respond_with(|request: &Request| {
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
            let viewer = body["query"].as_str().is_some_and(|q| q.contains("viewer"));
            match (bearer(request).as_deref(), viewer) {
                (Some("lin_oauth_1" | "lin_oauth_2"), true) => json(
                    200,
                    json!({"data": {"viewer": {"id": "lin-user-1", "name": "Alice"}}}),
                ),
                (Some("lin_oauth_1" | "lin_oauth_2"), false) => {
                    json(200, json!({"data": {"teams": {"nodes": []}}}))
                }
                _ => json(
                    401,
                    json!({"errors": [{"message": "Authentication required"}]}),
                ),
            }
        })
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/revoke"))
        .respond_with(
            |request: &Request| match form(request).get("token").map(String::as_str) {
                Some("lin_rt_2") => ResponseTemplate::new(200),
                _ => ResponseTemplate::new(400),
            },
        )
        .expect(1)
        .mount(&fake.server)
        .await;
    let auth = fake.manager();

    let (url, credentials) = log_in(&auth, "linear", "lin-code").await;
    assert_eq!(query(&url)["scope"], "read");
    assert_eq!(credentials.token.scope, ["read", "write"]);
    let me = whoami(&auth, "linear").await;
    assert_eq!(me.user_id.as_deref(), Some("lin-user-1"));
    let session = auth.session(SUBJECT).await.unwrap();
    let teams = session
        .request("linear")
        .unwrap()
        .method(Method::POST)
        .path("/graphql")
        .json(json!({"query": "{ teams { nodes { id } } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(teams.json().unwrap()["data"]["teams"]["nodes"], json!([]));

    expire(&auth, "linear").await;
    assert_eq!(token(&auth, "linear").await.unwrap(), "lin_oauth_2");
    assert!(auth.revoke_credentials("linear", SUBJECT).await.unwrap());
    assert!(stored(&auth, "linear").await.is_none());
}

#[tokio::test]
async fn a_linear_personal_key_goes_bare_and_is_deleted_without_a_revocation() {
    let fake = Fake::start("linear", Some("/oauth/revoke"), Some("")).await;
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .and(header("authorization", "lin_api_personal"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"viewer": {"id": "lin-user-1", "name": "Alice"}}})),
        )
        .expect(1)
        .mount(&fake.server)
        .await;
    let auth = fake.manager();
    let pasted = Credentials::pasted(OAuth2Token::bearer("lin_api_personal"));
    auth.store_credentials("linear", SUBJECT, &pasted)
        .await
        .unwrap();

    let me = whoami(&auth, "linear").await;
    assert_eq!(me.user_id.as_deref(), Some("lin-user-1"));
    assert!(auth.revoke_credentials("linear", SUBJECT).await.unwrap());

    assert!(stored(&auth, "linear").await.is_none());
    let paths: Vec<String> = fake
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(paths, ["/graphql"], "no revocation was asked for");
}

#[tokio::test]
async fn hubspot_life() {
    let fake = Fake::start("hubspot", Some("/oauth/v1/refresh-tokens"), Some("")).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(|request: &Request| {
            let fields = form(request);
            if !client_in_form(request) {
                return json(400, json!({"status": "BAD_CLIENT_ID", "message": "missing or unknown client id"}));
            }
            match fields.get("grant_type").map(String::as_str) {
                Some("authorization_code") if fields.get("code").map(String::as_str) == Some("hs-code") => json(200, json!({
                    "token_type": "bearer", "refresh_token": "hs-rt", "access_token": "hs-at-1", "expires_in": 1800
                })),
                Some("refresh_token") if fields.get("refresh_token").map(String::as_str) == Some("hs-rt") => json(200, json!({
                    "token_type": "bearer", "refresh_token": "hs-rt", "access_token": "hs-at-2", "expires_in": 1800
                })),
                Some("refresh_token") => json(400, json!({"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token", "correlationId": "c-1"})),
                _ => json(400, json!({"status": "BAD_AUTH_CODE", "message": "missing or unknown auth code", "correlationId": "c-2"})),
            }
        })
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/account-info/v3/details"))
        .respond_with(|request: &Request| match bearer(request) {
            Some(t) if t.starts_with("hs-at-") => {
                json(200, json!({"portalId": 62515, "timeZone": "US/Eastern"}))
            }
            _ => json(
                401,
                json!({"status": "error", "category": "INVALID_AUTHENTICATION"}),
            ),
        })
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(json(200, json!({"results": [{"id": "51"}]})))
        .mount(&fake.server)
        .await;
    let auth = fake.manager();

    let flow = auth.oauth2("hubspot").unwrap();
    let step = flow
        .authorize(auth_core::AuthorizeOptions::unbound())
        .await
        .unwrap();
    let err = flow
        .exchange("stale", &step.state, SUBJECT)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::OAuth { status: 400, code: OAuthErrorCode::InvalidGrant, description: Some(d), .. } if d == "missing or unknown auth code"),
        "{err:?}"
    );

    let (url, credentials) = log_in(&auth, "hubspot", "hs-code").await;
    let q = query(&url);
    assert_eq!(q["scope"], "oauth");
    assert!(!q.contains_key("code_challenge"));
    let me = whoami(&auth, "hubspot").await;
    assert_eq!(me.user_id.as_deref(), Some("62515"));
    let contacts = raw(&auth, "hubspot", Method::GET, "/crm/v3/objects/contacts").await;
    assert_eq!(contacts["results"][0]["id"], "51");

    expire(&auth, "hubspot").await;
    assert_eq!(token(&auth, "hubspot").await.unwrap(), "hs-at-2");
    assert_eq!(stored_refresh_token(&auth, "hubspot").await, "hs-rt");
    // A refresh token HubSpot no longer knows: re-authorization.
    let mut unknown = credentials.clone();
    unknown.token.refresh_token = Some("hs-rt-revoked".into());
    unknown.token.expires_at =
        Some(std::time::SystemTime::now() - std::time::Duration::from_secs(60));
    auth.store_credentials("hubspot", SUBJECT, &unknown)
        .await
        .unwrap();
    let err = token(&auth, "hubspot").await.unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");
    // Logging out deletes the refresh token at HubSpot (in the path), then locally.
    Mock::given(method("DELETE"))
        .and(path("/oauth/v1/refresh-tokens/hs-rt-revoked"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&fake.server)
        .await;
    assert!(auth.revoke_credentials("hubspot", SUBJECT).await.unwrap());
    assert!(stored(&auth, "hubspot").await.is_none());
}

#[tokio::test]
async fn salesforce_life() {
    let fake = Fake::start("salesforce", Some("/services/oauth2/revoke"), None).await;
    let instance = format!("{}/na1", fake.uri());
    let answer = {
        let instance = instance.clone();
        move |request: &Request| {
            let fields = form(request);
            if !client_in_form(request) {
                return json(
                    400,
                    json!({"error": "invalid_client_id", "error_description": "client identifier invalid"}),
                );
            }
            match fields.get("grant_type").map(String::as_str) {
                Some("authorization_code")
                    if fields.get("code").map(String::as_str) == Some("sf-code") =>
                {
                    json(
                        200,
                        json!({
                            "access_token": "00D!at-1", "refresh_token": "5Aep-rt", "signature": "sig",
                            "scope": "refresh_token api", "instance_url": instance,
                            "id": "https://login.salesforce.com/id/00Dx/005x", "token_type": "Bearer", "issued_at": "1700000000000"
                        }),
                    )
                }
                Some("refresh_token")
                    if fields.get("refresh_token").map(String::as_str) == Some("5Aep-rt") =>
                {
                    json(
                        200,
                        json!({
                            "access_token": "00D!at-2", "signature": "sig", "scope": "refresh_token api",
                            "instance_url": instance, "id": "https://login.salesforce.com/id/00Dx/005x",
                            "token_type": "Bearer", "issued_at": "1700000360000"
                        }),
                    )
                }
                _ => json(
                    400,
                    json!({"error": "invalid_grant", "error_description": "expired access/refresh token"}),
                ),
            }
        }
    };
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(answer)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/na1/services/oauth2/userinfo"))
        .respond_with(|request: &Request| match bearer(request).as_deref() {
            Some("00D!at-1" | "00D!at-2") => {
                json(200, json!({"user_id": "005x", "organization_id": "00Dx"}))
            }
            _ => json(401, json!([{"errorCode": "INVALID_SESSION_ID"}])),
        })
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/na1/services/data/v59.0/sobjects"))
        .respond_with(|request: &Request| match bearer(request).as_deref() {
            Some("00D!at-2") => json(200, json!({"sobjects": [{"name": "Account"}]})),
            _ => json(401, json!([{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])),
        })
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/revoke"))
        .respond_with(
            |request: &Request| match form(request).get("token").map(String::as_str) {
                Some("5Aep-rt") => ResponseTemplate::new(200),
                _ => json(400, json!({"error": "unsupported_token_type"})),
            },
        )
        .expect(1)
        .mount(&fake.server)
        .await;
    let auth = fake.manager();

    let (url, credentials) = log_in(&auth, "salesforce", "sf-code").await;
    assert_eq!(query(&url)["scope"], "api refresh_token");
    assert_eq!(credentials.extra["api_base_url"], format!("{instance}"));
    assert!(
        credentials.token.expires_at.is_none(),
        "Salesforce sends no expires_in"
    );

    let me = whoami(&auth, "salesforce").await;
    assert_eq!(me.user_id.as_deref(), Some("005x"));
    // The session expired at Salesforce: the 401 refreshes once, and the request is retried.
    let objects = raw(
        &auth,
        "salesforce",
        Method::GET,
        "/services/data/v59.0/sobjects",
    )
    .await;
    assert_eq!(objects["sobjects"][0]["name"], "Account");
    let after = stored(&auth, "salesforce").await.unwrap();
    assert_eq!(after.token.access_token.expose_secret(), "00D!at-2");
    assert_eq!(
        after.token.refresh_token.unwrap().expose_secret(),
        "5Aep-rt"
    );
    assert_eq!(after.extra["api_base_url"], format!("{instance}"));

    assert!(
        auth.revoke_credentials("salesforce", SUBJECT)
            .await
            .unwrap()
    );
    assert!(stored(&auth, "salesforce").await.is_none());
}
