//! Secrets never leak: every public type and error of the workspace is formatted with canary
//! secrets, a whole OAuth life (authorize, exchange, store, session, refresh, 401, invalid_grant,
//! transient failures, revoke) runs with TRACE logging captured, and no canary may appear anywhere.

use std::time::{Duration, SystemTime};

use integrations::asana::connector::{AsanaConnector, AsanaOAuthConfig};
use integrations::asana::{
    AsanaAppCredentials, AsanaAuthProvider, AsanaSessionExt, AsanaUserCredentials,
};
use integrations::auth_core::config::{ConfigLoader, EnvSource};
use integrations::auth_core::crypto::{EncryptionKey, KeyRing};
use integrations::auth_core::store::CredentialRecord;
use integrations::auth_core::testing::CapturedLogs;
use integrations::{
    AuthManager, AuthorizeOptions, CredentialStore, Credentials, EncryptedStore,
    MemoryCredentialStore, OAuth2Token, SecretString, SessionOptions, SqliteCredentialStore,
};
use store_file::FileCredentialStore;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CANARY: &str = "CANARY";

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(CANARY), "{what} leaks a secret: {text}");
}

macro_rules! clean {
    ($($value:expr),+ $(,)?) => {
        $( assert_clean(stringify!($value), &format!("{:?}", $value)); )+
    };
}

fn assert_error_clean<E: std::fmt::Display + std::fmt::Debug>(what: &str, error: &E) {
    assert_clean(what, &format!("{error} {error:?}"));
}

async fn token_server() -> MockServer {
    let server = MockServer::start().await;
    let token = |access: &str| {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": access, "token_type": "bearer", "expires_in": 3600,
            "refresh_token": "CANARY-refresh", "id_token": "CANARY-id-token",
            "data": {"id": 1, "gid": "1", "name": "Greg", "email": "greg@example.com"}
        }))
    };
    Mock::given(method("POST"))
        .and(path("/-/oauth_token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(token("CANARY-access-1"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/-/oauth_token"))
        .and(body_string_contains("CANARY-revoked"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_grant", "error_description": "The refresh token is revoked."
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/-/oauth_token"))
        .and(body_string_contains("CANARY-flaky"))
        .respond_with(ResponseTemplate::new(503).set_body_string("CANARY-in-a-body"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/-/oauth_token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(token("CANARY-access-2"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/-/oauth_revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .and(wiremock::matchers::header(
            "authorization",
            "Bearer CANARY-access-1",
        ))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"errors": [{"message": "The bearer token has expired."}]}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"data": {"gid": "1", "name": "Greg"}})),
        )
        .mount(&server)
        .await;
    // An API that answers a credential, in its body and a header.
    Mock::given(method("POST"))
        .and(path("/api/1.0/keys"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("x-new-key", "CANARY-header-key")
                .set_body_json(serde_json::json!({"data": {"key": "CANARY-body-key"}})),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn no_public_type_error_or_log_line_contains_a_secret() {
    let logs = CapturedLogs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber(tracing::Level::TRACE));

    let server = token_server().await;
    let uri = server.uri();
    let app = [
        ("authorization_url", format!("{uri}/-/oauth_authorize")),
        ("token_url", format!("{uri}/-/oauth_token")),
        ("revocation_url", format!("{uri}/-/oauth_revoke")),
        ("api_base_url", format!("{uri}/api/1.0")),
        ("client_id", "client-id".to_string()),
        ("client_secret", "CANARY-client-secret".to_string()),
        ("redirect_uri", "http://127.0.0.1:8765/callback".to_string()),
        ("token", "CANARY-personal-access-token".to_string()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let key = EncryptionKey::from_bytes([7; 32]);
    let ring = KeyRing::new(key.clone());
    let store = SqliteCredentialStore::builder(dir.path().join("c.db"))
        .key_ring(ring.clone())
        .open()
        .await
        .unwrap();
    let file_store = FileCredentialStore::builder(dir.path().join("c.json"))
        .key_ring(ring.clone())
        .open()
        .await
        .unwrap();
    clean!(key, ring, store, file_store, key.to_base64());

    let auth = AuthManager::builder()
        .env(EnvSource::from_pairs([(
            "ASANA_CLIENT_SECRET",
            "CANARY-env-secret",
        )]))
        .store(store.clone())
        .configure("asana", app.clone())
        .build()
        .unwrap();
    clean!(
        auth,
        auth.provider_statuses(),
        auth.provider("asana").unwrap()
    );

    // The whole OAuth life.
    let flow = auth.oauth2("asana").unwrap();
    let step = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
    clean!(flow, step);
    let credentials = flow.exchange("code", &step.state, "alice").await.unwrap();
    assert_eq!(
        credentials.token.access_token.expose_secret(),
        "CANARY-access-1",
        "the test must use canaries"
    );
    let typed: AsanaUserCredentials = credentials.to_typed().unwrap();
    clean!(
        credentials,
        typed,
        credentials.token,
        credentials.token.access_token,
        credentials.to_payload()
    );
    auth.store_credentials("asana", "alice", &credentials)
        .await
        .unwrap();
    let stored = store.get("asana", "alice").await.unwrap().unwrap();
    clean!(
        stored,
        stored.record,
        auth.list_credentials(None).await.unwrap()
    );
    // A record read beneath the encryption layer (as the service's join reads it), opened.
    let opener = store.opener();
    let sealed = store.inner().get("asana", "alice").await.unwrap().unwrap();
    clean!(opener, sealed, opener.open(sealed.clone()).unwrap());

    let session = auth.session("alice").await.unwrap();
    let source = session.token_source("asana").unwrap();
    let client = session.asana().unwrap();
    clean!(
        session,
        source,
        client,
        SessionOptions::new().with_credentials("asana", &typed)
    );
    // The API answers 401 to the first token: invalidate, refresh, retry.
    let me = client.get_user("me").await.unwrap();
    clean!(me);
    let answered = session
        .request("asana")
        .unwrap()
        .method(reqwest::Method::POST)
        .path("/keys")
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 201);
    clean!(answered);
    assert_eq!(
        source.token().await.unwrap().expose_secret(),
        "CANARY-access-2"
    );

    // Errors with secrets all around them.
    let err = flow
        .exchange("CANARY-code", "CANARY-state", "alice")
        .await
        .unwrap_err();
    assert_error_clean("unknown state", &err);
    let mut revoked = OAuth2Token::bearer("CANARY-old");
    revoked.refresh_token = Some("CANARY-revoked".into());
    revoked.expires_at = Some(SystemTime::now() - Duration::from_secs(1));
    auth.store_credentials("asana", "bob", &revoked)
        .await
        .unwrap();
    let err = auth
        .session("bob")
        .await
        .unwrap()
        .token("asana")
        .await
        .unwrap_err();
    assert!(err.needs_reauthorization());
    assert_error_clean("invalid_grant", &err);
    let mut flaky = revoked.clone();
    flaky.refresh_token = Some("CANARY-flaky".into());
    auth.store_credentials("asana", "carol", &flaky)
        .await
        .unwrap();
    let err = auth
        .session("carol")
        .await
        .unwrap()
        .token("asana")
        .await
        .unwrap_err();
    assert!(err.is_transient());
    assert_error_clean("transient", &err);
    let err = client
        .request(
            reqwest::Method::GET,
            "https://evil.example/CANARY",
            &[],
            None,
        )
        .await
        .unwrap_err();
    assert_error_clean("off-origin", &err);
    let err = AuthManager::builder()
        .env(EnvSource::from_pairs([
            ("ASANA_CLIENT_SECRET", "CANARY-x"),
            ("ASANA_TOKEN_URL", "http://evil.example/CANARY?x=CANARY"),
        ]))
        .build()
        .unwrap_err();
    assert_error_clean("config", &err);
    let wrong_ring = KeyRing::new(EncryptionKey::from_bytes([9; 32]));
    let err = match SqliteCredentialStore::builder(dir.path().join("c.db"))
        .key_ring(wrong_ring)
        .open()
        .await
    {
        Err(e) => e,
        Ok(store) => store.get("asana", "alice").await.unwrap_err(),
    };
    assert_error_clean("wrong key", &err);
    let err = EncryptedStore::new(
        MemoryCredentialStore::new(),
        KeyRing::new(EncryptionKey::from_bytes([9; 32])),
    )
    .opener()
    .open(sealed)
    .unwrap_err();
    assert_error_clean("wrong key, opening a record read beneath", &err);
    let err = EncryptionKey::from_base64("CANARY-not-base64").unwrap_err();
    assert_error_clean("bad key", &err);
    let err = AsanaConnector::from_session(&session)
        .unwrap()
        .execute(
            "tasks",
            "get",
            serde_json::json!({"task_gid": 1, "x": "CANARY"}),
        )
        .await
        .unwrap_err();
    assert_error_clean("execute validation", &err);
    assert_clean("execute error json", &err.to_json().to_string());

    // Configuration and connector types.
    let config = ConfigLoader::new()
        .with_env(EnvSource::from_pairs([
            ("ASANA_CLIENT_ID", "id"),
            ("ASANA_CLIENT_SECRET", "CANARY-s"),
            ("ASANA_ACCESS_TOKEN", "CANARY-t"),
        ]))
        .load("asana", integrations::asana::FIELDS)
        .unwrap();
    let app_credentials = AsanaAppCredentials::from_config(&config);
    let provider = AsanaAuthProvider::from_config(config.clone()).unwrap();
    let oauth = AsanaOAuthConfig::new("CANARY-r".into(), "id", "CANARY-cs".into())
        .with_access_token("CANARY-a".into());
    clean!(
        config,
        app_credentials,
        provider,
        oauth,
        SecretString::from("CANARY"),
        Credentials::new(OAuth2Token::bearer("CANARY"))
    );
    // A key in an endpoint's query or fragment is never printed; user information is refused.
    let gateway = ConfigLoader::new()
        .with_env(EnvSource::from_pairs([
            ("ASANA_CLIENT_ID", "id"),
            ("ASANA_CLIENT_SECRET", "CANARY-s"),
            (
                "ASANA_TOKEN_URL",
                "https://gw.example.com/-/oauth_token?subscription-key=CANARY-key#CANARY",
            ),
        ]))
        .load("asana", integrations::asana::FIELDS)
        .unwrap();
    let gateway_credentials = AsanaAppCredentials::from_config(&gateway);
    let gateway_provider = AsanaAuthProvider::from_config(gateway.clone()).unwrap();
    assert_eq!(
        gateway_credentials.token_url.query(),
        Some("subscription-key=CANARY-key"),
        "sent as configured"
    );
    clean!(gateway, gateway_credentials, gateway_provider);
    let refused = ConfigLoader::new()
        .with_env(EnvSource::from_pairs([(
            "ASANA_TOKEN_URL",
            "https://gw:CANARY@gw.example.com/-/oauth_token",
        )]))
        .load("asana", integrations::asana::FIELDS)
        .unwrap_err();
    assert!(
        matches!(&refused, integrations::ConfigError::Invalid { field, .. } if field == "token_url"),
        "{refused:?}"
    );
    assert_error_clean("a URL with user information", &refused);
    // Settings built in code print their base URL's key and a header's value as neither.
    let mut client_settings = integrations::asana::AsanaClientSettings::default();
    client_settings.api_base_url = "https://gw:CANARY@gw.example.com/api/1.0?key=CANARY"
        .parse()
        .unwrap();
    let api_settings = integrations::auth_core::provider::ApiSettings::new(
        "https://api.example.com/v1?k=CANARY#CANARY"
            .parse()
            .unwrap(),
    )
    .with_header("X-Api-Key", "CANARY");
    clean!(client_settings, api_settings);
    // A webhook's handshake secret.
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        integrations::asana::webhooks::HOOK_SECRET_HEADER,
        reqwest::header::HeaderValue::from_static("CANARY-hook-secret"),
    );
    clean!(integrations::asana::webhooks::handshake_secret(&headers));
    clean!(CredentialRecord::new(
        "p",
        "s",
        Credentials::new(OAuth2Token::bearer("CANARY")).to_payload()
    ));

    assert!(auth.revoke_credentials("asana", "alice").await.unwrap());
    drop(_guard);
    let logs = logs.text();
    assert!(
        logs.contains("oauth2.exchange") && logs.contains("access token refreshed"),
        "logs were captured:\n{logs}"
    );
    assert_clean("TRACE logs", &logs);
}
