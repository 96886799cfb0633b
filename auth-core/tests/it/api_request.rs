//! `Session::request`: the token goes only below the API base URL, with the provider's headers;
//! a 401 refreshes once and retries once.

use auth_core::config::EnvSource;
use auth_core::provider::{ApiSettings, OAuth2Settings};
use auth_core::{AuthError, AuthManager, AuthProvider};
use reqwest::Method;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{settings, valid};

#[derive(Debug)]
struct WithApi {
    settings: OAuth2Settings,
    api: ApiSettings,
}

#[async_trait::async_trait]
impl AuthProvider for WithApi {
    fn id(&self) -> &str {
        "test"
    }
    fn oauth2_settings(&self) -> Option<&OAuth2Settings> {
        Some(&self.settings)
    }
    fn api(&self, _: &serde_json::Map<String, serde_json::Value>) -> Option<ApiSettings> {
        Some(self.api.clone())
    }
}

fn manager(server: &MockServer) -> AuthManager {
    AuthManager::builder()
        .env(EnvSource::empty())
        .auto_configure(false)
        .provider(WithApi {
            settings: settings(&server.uri()),
            api: ApiSettings::new(format!("{}/api/v1", server.uri()).parse().unwrap())
                .with_header("User-Agent", "integrations-test"),
        })
        .build()
        .unwrap()
}

/// A manager over `server` and a session of alice, whose stored access token is `access`.
async fn alice(server: &MockServer, access: &str) -> (AuthManager, auth_core::Session) {
    let auth = manager(server);
    auth.store_credentials("test", "alice", &valid(access, "rt-1"))
        .await
        .unwrap();
    let session = auth.session("alice").await.unwrap();
    (auth, session)
}

/// The token endpoint, which must be asked exactly once and answers `at-new`.
async fn refreshes_once_to_at_new(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "at-new", "token_type": "bearer", "expires_in": 3600
        })))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries_once_with_the_required_headers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/items"))
        .and(header("authorization", "Bearer at-old"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/items"))
        .and(header("authorization", "Bearer at-new"))
        .and(header("user-agent", "integrations-test"))
        .and(body_json(serde_json::json!({"name": "x"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": 7})))
        .expect(1)
        .mount(&server)
        .await;
    refreshes_once_to_at_new(&server).await;
    let (auth, session) = alice(&server, "at-old").await;
    let response = session
        .request("test")
        .unwrap()
        .method(Method::POST)
        .path("/items")
        .json(serde_json::json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.json().unwrap(), serde_json::json!({"id": 7}));
    let stored = auth
        .load_credentials::<auth_core::Credentials>("test", "alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.token.access_token.expose_secret(), "at-new");
}

#[tokio::test]
async fn a_second_401_is_the_answer_not_a_loop() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/me"))
        .respond_with(ResponseTemplate::new(401).set_body_string("nope"))
        .expect(2)
        .mount(&server)
        .await;
    refreshes_once_to_at_new(&server).await;
    let (_auth, session) = alice(&server, "at-old").await;
    let response = session
        .request("test")
        .unwrap()
        .path("/me")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.body, b"nope");
}

#[tokio::test]
async fn paths_that_leave_the_api_are_refused_before_anything_is_sent() {
    let server = MockServer::start().await;
    let (_auth, session) = alice(&server, "at-1").await;
    for bad in [
        "https://evil.example/steal",
        "//evil.example/steal",
        "/../../token",
        "/%2e%2e/admin",
        "me",
    ] {
        let err = session
            .request("test")
            .unwrap()
            .path(bad)
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(err, AuthError::ApiRequest { .. }),
            "{bad}: {err:?}"
        );
        assert!(!err.to_string().contains("at-1"), "{err}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// A stored token that cannot travel in a header (a newline from a hand-edited file) is a
/// permanent error before anything is sent, never a transport failure to retry.
#[tokio::test]
async fn a_token_that_is_no_header_value_is_refused_before_anything_is_sent() {
    let server = MockServer::start().await;
    let (_auth, session) = alice(&server, "at-1\nX-Injected: 1").await;
    let err = session
        .request("test")
        .unwrap()
        .path("/me")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::ApiRequest { reason, .. } if reason == "the token is not a valid header value (visible ASCII only)"),
        "{err:?}"
    );
    assert_eq!(err.class(), auth_core::ErrorClass::Permanent);
    assert!(!err.to_string().contains("at-1"), "{err}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_caller_s_headers_go_out_and_the_answer_s_headers_come_back() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/items"))
        .and(header("authorization", "Bearer at-1"))
        .and(header("user-agent", "integrations-test-2"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", "<https://next.example/?page=2>; rel=\"next\"")
                .insert_header("set-cookie", "session=cookie-canary")
                .set_body_json(serde_json::json!([])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (_auth, session) = alice(&server, "at-1").await;
    let response = session
        .request("test")
        .unwrap()
        .path("/items")
        .header("User-Agent", "integrations-test-2")
        .header("If-None-Match", "\"v1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.header("Link"),
        Some("<https://next.example/?page=2>; rel=\"next\"")
    );
    assert_eq!(response.header("set-cookie"), None);
    assert_eq!(response.content_type(), Some("application/json"));
    assert_eq!(
        response.headers_json()["link"],
        "<https://next.example/?page=2>; rel=\"next\""
    );
    assert!(!response.headers_json().contains_key("set-cookie"));
    assert!(!format!("{response:?}").contains("cookie-canary"));
    // The provider's User-Agent was replaced, not sent beside the caller's.
    let received = &server.received_requests().await.unwrap()[0];
    assert_eq!(received.headers.get_all("user-agent").iter().count(), 1);
}

#[tokio::test]
async fn credential_and_framing_headers_and_invalid_ones_are_refused_before_sending() {
    let server = MockServer::start().await;
    let (_auth, session) = alice(&server, "at-1").await;
    for (name, value, reason) in [
        (
            "Authorization",
            "Bearer value-canary",
            "the request header `authorization` is the client's own and cannot be set",
        ),
        (
            "Cookie",
            "value-canary",
            "the request header `cookie` is the client's own and cannot be set",
        ),
        (
            "Content-Length",
            "1",
            "the request header `content-length` is the client's own and cannot be set",
        ),
        (
            "X-Bad Name",
            "value-canary",
            "a request header has an invalid name",
        ),
        (
            "X-Value",
            "value-canary\r\nX-Injected: 1",
            "the request header `x-value` has an invalid value (visible ASCII only)",
        ),
    ] {
        let err = session
            .request("test")
            .unwrap()
            .path("/items")
            .header(name, value)
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AuthError::ApiRequest { reason: r, .. } if r == reason),
            "{name}: {err:?}"
        );
        assert!(!format!("{err} {err:?}").contains("value-canary"));
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_token_with_a_bare_prefix_goes_without_the_bearer_scheme_and_others_with_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 1})))
        .expect(2)
        .mount(&server)
        .await;
    let auth = AuthManager::builder()
        .env(EnvSource::empty())
        .auto_configure(false)
        .provider(WithApi {
            settings: settings(&server.uri()),
            api: ApiSettings::new(format!("{}/api/v1", server.uri()).parse().unwrap())
                .with_bare_token_prefix("")
                .with_bare_token_prefix("key_"),
        })
        .build()
        .unwrap();
    for (subject, token) in [("alice", "key_123"), ("bob", "at-oauth")] {
        auth.store_credentials("test", subject, &valid(token, "rt-1"))
            .await
            .unwrap();
        let session = auth.session(subject).await.unwrap();
        let response = session.request("test").unwrap().path("/me").send().await;
        assert_eq!(response.unwrap().status, 200, "{subject}");
    }
    let sent: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["authorization"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(sent, ["key_123", "Bearer at-oauth"]);
}

/// A provider whose API base URL is plain http off loopback gets no token: the request is
/// refused before anything is sent.
#[tokio::test]
async fn no_token_is_sent_to_a_plain_http_api() {
    let server = MockServer::start().await;
    let auth = AuthManager::builder()
        .env(EnvSource::empty())
        .auto_configure(false)
        .provider(WithApi {
            settings: settings(&server.uri()),
            api: ApiSettings::new("http://api.example.com/v1".parse().unwrap()),
        })
        .build()
        .unwrap();
    auth.store_credentials("test", "alice", &valid("at-canary", "rt-1"))
        .await
        .unwrap();
    let session = auth.session("alice").await.unwrap();
    let refused = session.request("test").unwrap().path("/items").send().await;
    match refused {
        Err(AuthError::ApiRequest { provider, reason }) => assert_eq!(
            (provider.as_str(), reason.as_str()),
            (
                "test",
                "the API base URL is not https (plain http only on 127.0.0.1, ::1 or localhost), so the token is not sent there"
            )
        ),
        other => panic!("{other:?}"),
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}
