//! End to end against the Asana testkit through `AuthManager`, without the facade: the OAuth flow
//! (authorize → consent → exchange → store → session → API), refresh before expiry and on 401,
//! the personal-access-token fallback, `invalid_grant` marking the stored record, revocation,
//! pagination across pages with a cap, and one refresh for many concurrent callers.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use auth_core::config::EnvSource;
use auth_core::{
    AuthError, AuthManager, AuthorizeOptions, CredentialSource, CredentialStatus, CredentialStore,
    MemoryCredentialStore, SecretString, SessionOptions,
};
use futures::TryStreamExt;
use provider_asana::connector::AsanaConnector;
use provider_asana::models::Task;
use provider_asana::{
    AsanaAppCredentials, AsanaAuthProvider, AsanaError, AsanaSessionExt, AsanaUserCredentials,
};
use provider_asana_testkit::{MockAsana, seed};
use serde_json::json;
use url::Url;

const ASANA: &str = "asana";

fn mock_app(mock: &MockAsana) -> AsanaAppCredentials {
    let url = |s: &str| Url::parse(s).unwrap();
    let mut app = AsanaAppCredentials::default();
    app.authorization_url = url(&mock.authorization_url());
    app.token_url = url(&mock.token_url());
    app.revocation_url = url(&mock.revocation_url());
    app.api_base_url = url(&mock.api_base_url());
    app.client_id = Some(mock.client_id().to_string());
    app.client_secret = Some(SecretString::from(mock.client_secret()));
    app.redirect_uri = Some(url(mock.redirect_uri()));
    app
}

fn manager_for(app: AsanaAppCredentials) -> AuthManager {
    AuthManager::builder()
        .env(EnvSource::empty())
        .auto_configure(false)
        .provider(AsanaAuthProvider::new(app).unwrap())
        .build()
        .unwrap()
}

fn manager(mock: &MockAsana) -> AuthManager {
    manager_for(mock_app(mock))
}

fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Runs the OAuth flow for `subject` and stores the credentials.
async fn connect(auth: &AuthManager, mock: &MockAsana, subject: &str) -> AsanaUserCredentials {
    let flow = auth.oauth2(ASANA).unwrap();
    let request = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
    let callback = mock.consent(request.url.as_str()).await.unwrap();
    let code = query_param(&callback, "code").expect("a code");
    let state = query_param(&callback, "state").expect("a state");
    let credentials = flow.exchange(&code, &state, subject).await.unwrap();
    auth.store_credentials(ASANA, subject, &credentials)
        .await
        .unwrap();
    credentials.to_typed().unwrap()
}

async fn stored(auth: &AuthManager, subject: &str) -> AsanaUserCredentials {
    auth.load_credentials(ASANA, subject)
        .await
        .unwrap()
        .expect("stored credentials")
}

/// Brings the stored token of `subject` 20 s closer to its expiry: a 30 s token is then within
/// its refresh margin (half its lifetime), as if it had been in use for 20 s.
async fn age_stored_token(auth: &AuthManager, subject: &str) {
    let mut credentials = stored(auth, subject).await;
    credentials.token.expires_at = Some(SystemTime::now() + Duration::from_secs(10));
    auth.store_credentials(ASANA, subject, &credentials)
        .await
        .unwrap();
}

/// The `Authorization` headers of every API request so far, in order.
async fn api_bearers(mock: &MockAsana) -> Vec<String> {
    mock.received_requests()
        .await
        .iter()
        .filter(|r| r.url.path().starts_with("/api/1.0/"))
        .map(|r| {
            r.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The form of the last request to `path`.
async fn last_form(mock: &MockAsana, path: &str) -> Vec<(String, String)> {
    let requests = mock.received_requests().await;
    let request = requests
        .iter()
        .rev()
        .find(|r| r.url.path() == path)
        .expect("a request");
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

fn form_value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn oauth_flow_end_to_end_through_registered_configuration() {
    let mock = MockAsana::start().await;
    // The provider comes from the inventory registration, configured in code.
    let auth = AuthManager::builder()
        .env(EnvSource::empty())
        .auto_configure(false)
        .configure(ASANA, mock.app_config())
        .build()
        .unwrap();
    assert_eq!(auth.provider_ids(), [ASANA]);

    let flow = auth.oauth2(ASANA).unwrap();
    let request = flow.authorize(AuthorizeOptions::unbound()).await.unwrap();
    let url = &request.url;
    assert!(url.as_str().starts_with(&mock.authorization_url()));
    assert_eq!(query_param(url, "response_type").as_deref(), Some("code"));
    assert_eq!(
        query_param(url, "client_id").as_deref(),
        Some(mock.client_id())
    );
    assert_eq!(
        query_param(url, "redirect_uri").as_deref(),
        Some(mock.redirect_uri())
    );
    assert_eq!(
        query_param(url, "state").as_deref(),
        Some(request.state.as_str())
    );
    assert_eq!(
        query_param(url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    let challenge = query_param(url, "code_challenge").unwrap();

    let callback = mock.consent(url.as_str()).await.unwrap();
    assert!(callback.as_str().starts_with(mock.redirect_uri()));
    let code = query_param(&callback, "code").unwrap();
    let state = query_param(&callback, "state").unwrap();
    assert_eq!(state, request.state);

    let credentials = flow.exchange(&code, &state, "user-123").await.unwrap();
    let form = last_form(&mock, "/-/oauth_token").await;
    assert_eq!(form_value(&form, "grant_type"), Some("authorization_code"));
    assert_eq!(form_value(&form, "code"), Some(code.as_str()));
    assert_eq!(form_value(&form, "redirect_uri"), Some(mock.redirect_uri()));
    let verifier = form_value(&form, "code_verifier").expect("the PKCE verifier is sent");
    // RFC 7636 S256: the challenge is base64url(SHA-256(verifier)), without padding.
    use base64::Engine as _;
    use sha2::Digest as _;
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    assert_eq!(expected, challenge);
    assert_eq!(mock.token_requests_for("authorization_code"), 1);

    let typed: AsanaUserCredentials = credentials.to_typed().unwrap();
    assert_eq!(typed.token.token_type, "Bearer");
    assert_eq!(typed.token.expires_in, Some(3600));
    assert!(typed.token.refresh_token.is_some());
    let user = typed.user.clone().unwrap();
    assert_eq!(user.gid.as_deref(), Some(seed::ME_GID));
    assert_eq!(user.id.as_deref(), Some(seed::ME_GID));
    assert_eq!(user.name.as_deref(), Some(seed::ME_NAME));
    assert_eq!(user.email.as_deref(), Some(seed::ME_EMAIL));

    // The state is single use.
    let replay = flow.exchange(&code, &state, "user-123").await.unwrap_err();
    assert!(
        matches!(replay, AuthError::StateReused { .. }),
        "{replay:?}"
    );
    assert_eq!(mock.token_requests(), 1, "a replayed state sends nothing");

    auth.store_credentials(ASANA, "user-123", &credentials)
        .await
        .unwrap();
    let info = auth
        .credential_info(ASANA, "user-123")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.status, CredentialStatus::Active);
    assert!(info.has_refresh_token);

    let session = auth.session("user-123").await.unwrap();
    assert_eq!(session.source(ASANA), Some(CredentialSource::Stored));
    let me = session.asana().unwrap().get_user("me").await.unwrap();
    assert_eq!(me.gid, seed::ME_GID);
    assert_eq!(me.name.as_deref(), Some(seed::ME_NAME));
    assert_eq!(
        api_bearers(&mock).await,
        [format!(
            "Bearer {}",
            typed.token.access_token.expose_secret()
        )]
    );

    // The agent interface over the same session.
    let connector = AsanaConnector::from_session(&session).unwrap();
    let listed = connector
        .execute(
            "tasks",
            "list",
            json!({"project": seed::BACKLOG_PROJECT_GID, "limit": 2, "opt_fields": ["name"]}),
        )
        .await
        .unwrap();
    assert_eq!(
        listed["data"],
        json!([
            {"gid": seed::FIRST_BACKLOG_TASK_GID.to_string(), "name": "Backlog task 001"},
            {"gid": (seed::FIRST_BACKLOG_TASK_GID + 1).to_string(), "name": "Backlog task 002"},
        ])
    );
    assert!(listed["meta"]["next_page"]["offset"].is_string());
    assert_eq!(mock.token_requests_for("refresh_token"), 0);
}

#[tokio::test]
async fn a_token_expiring_within_the_margin_is_refreshed_once_before_the_call() {
    // Tokens live 30 s; 20 s later one is inside its margin, so the first token() call refreshes.
    let mock = MockAsana::builder().token_lifetime(30).start().await;
    let auth = manager(&mock);
    let connected = connect(&auth, &mock, "alice").await;
    assert_eq!(connected.token.expires_in, Some(30));
    age_stored_token(&auth, "alice").await;
    mock.set_token_lifetime(3600);

    let session = auth.session("alice").await.unwrap();
    let client = session.asana().unwrap();
    assert_eq!(client.get_user("me").await.unwrap().gid, seed::ME_GID);
    assert_eq!(client.get_user("me").await.unwrap().gid, seed::ME_GID);

    assert_eq!(mock.token_requests_for("refresh_token"), 1);
    let refreshed = stored(&auth, "alice").await;
    let new_token = refreshed.token.access_token.expose_secret().to_string();
    assert_ne!(new_token, connected.token.access_token.expose_secret());
    assert_eq!(
        refreshed
            .token
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret()),
        connected
            .token
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret()),
        "the refresh token is kept"
    );
    let left = refreshed
        .token
        .expires_at
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(left > Duration::from_secs(3500), "{left:?}");
    assert_eq!(
        refreshed.user.and_then(|u| u.name).as_deref(),
        Some(seed::ME_NAME),
        "the user survives the refresh"
    );
    assert_eq!(
        api_bearers(&mock).await,
        [format!("Bearer {new_token}"), format!("Bearer {new_token}")],
        "the expiring token was never sent"
    );
    let info = auth.credential_info(ASANA, "alice").await.unwrap().unwrap();
    assert_eq!(info.status, CredentialStatus::Active);
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries() {
    let mock = MockAsana::start().await;
    let auth = manager(&mock);
    let connected = connect(&auth, &mock, "alice").await;
    let session = auth.session("alice").await.unwrap();
    let client = session.asana().unwrap();
    client.get_user("me").await.unwrap();

    mock.expire_access_tokens();
    let me = client.get_user("me").await.unwrap();

    assert_eq!(me.gid, seed::ME_GID);
    assert_eq!(mock.token_requests_for("refresh_token"), 1);
    assert_eq!(mock.requests_to("GET", "/api/1.0/users/me"), 3);
    let refreshed = stored(&auth, "alice").await;
    let old = format!("Bearer {}", connected.token.access_token.expose_secret());
    let new = format!("Bearer {}", refreshed.token.access_token.expose_secret());
    assert_ne!(old, new);
    assert_eq!(api_bearers(&mock).await, [old.clone(), old, new]);

    // Another session of the subject picks up the refreshed token.
    let other = auth.session("alice").await.unwrap().asana().unwrap();
    other.get_user("me").await.unwrap();
    assert_eq!(mock.token_requests_for("refresh_token"), 1);
}

#[tokio::test]
async fn asana_with_adds_settings_but_keeps_the_base_url_and_the_limiter() {
    let mock = MockAsana::start().await;
    let mut app = mock_app(&mock);
    app.workspace_gid = Some(seed::WORKSPACE_GID.to_string());
    let auth = manager_for(app);
    let connected = connect(&auth, &mock, "alice").await;
    let session = auth.session("alice").await.unwrap();

    let plain = session.asana().unwrap();
    plain.get_user("me").await.unwrap();
    let elsewhere = Url::parse("https://elsewhere.example/api/1.0").unwrap();
    let client = session
        .asana_with(|mut settings| {
            settings.api_base_url = elsewhere.clone();
            settings.limiter = None;
            settings
                .with_enable_change("new_goal_memberships")
                .with_disable_change("new_user_task_lists")
        })
        .unwrap();
    assert_eq!(client.settings().api_base_url.as_str(), mock.api_base_url());
    assert_eq!(
        client.settings().api_base_url,
        plain.settings().api_base_url
    );
    assert!(Arc::ptr_eq(
        client.settings().limiter.as_ref().unwrap(),
        plain.settings().limiter.as_ref().unwrap()
    ));
    let me = client.get_user("me").await.unwrap();

    assert_eq!(me.gid, seed::ME_GID);
    let bearer = format!("Bearer {}", connected.token.access_token.expose_secret());
    assert_eq!(api_bearers(&mock).await, [bearer.clone(), bearer]);
    let requests = mock.received_requests().await;
    let api: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/api/1.0/users/me")
        .collect();
    let header = |i: usize, name: &str| {
        api[i]
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(header(0, "asana-enable"), None);
    assert_eq!(header(0, "asana-disable"), None);
    assert_eq!(
        header(1, "asana-enable").as_deref(),
        Some("new_goal_memberships")
    );
    assert_eq!(
        header(1, "asana-disable").as_deref(),
        Some("new_user_task_lists")
    );
    // The configured default workspace survives.
    let teams: Vec<_> = client
        .teams()
        .list_for_workspace(None)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert!(!teams.is_empty());
    assert_eq!(
        mock.requests_to(
            "GET",
            &format!("/api/1.0/workspaces/{}/teams", seed::WORKSPACE_GID)
        ),
        1
    );
    let err = session
        .asana_with(|settings| settings.with_enable_change("bad\nname"))
        .unwrap_err();
    assert!(
        matches!(&err, AsanaError::InvalidArgument { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_personal_access_token_stands_in_only_when_allowed() {
    let mock = MockAsana::start().await;
    let mut app = mock_app(&mock);
    app.token = Some(SecretString::from(mock.personal_access_token()));
    let auth = manager_for(app);

    let session = auth.session("nobody").await.unwrap();
    assert_eq!(session.source(ASANA), Some(CredentialSource::AppToken));
    let me = session.asana().unwrap().get_user("me").await.unwrap();
    assert_eq!(me.gid, seed::ME_GID);
    assert_eq!(
        api_bearers(&mock).await,
        [format!("Bearer {}", mock.personal_access_token())]
    );

    let strict = auth
        .session_with("nobody", SessionOptions::new().allow_app_token(false))
        .await
        .unwrap();
    assert_eq!(strict.source(ASANA), None);
    let err = strict.asana().unwrap_err();
    assert!(
        matches!(
            &err,
            AsanaError::Auth(AuthError::NoCredentials {
                fallback_available: true,
                ..
            })
        ),
        "{err:?}"
    );
    let err = AsanaConnector::from_session(&strict).unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");
    assert_eq!(mock.api_requests(), 1);
}

#[tokio::test]
async fn stored_oauth_credentials_win_over_the_personal_access_token() {
    let mock = MockAsana::start().await;
    let mut app = mock_app(&mock);
    app.token = Some(SecretString::from(mock.personal_access_token()));
    let auth = manager_for(app);
    let connected = connect(&auth, &mock, "alice").await;

    let session = auth.session("alice").await.unwrap();
    assert_eq!(session.source(ASANA), Some(CredentialSource::Stored));
    session.asana().unwrap().get_user("me").await.unwrap();

    assert_eq!(
        api_bearers(&mock).await,
        [format!(
            "Bearer {}",
            connected.token.access_token.expose_secret()
        )]
    );
}

#[tokio::test]
async fn invalid_grant_marks_the_stored_record_and_keeps_it() {
    let mock = MockAsana::start().await;
    let auth = manager(&mock);
    let connected = connect(&auth, &mock, "alice").await;
    let session = auth.session("alice").await.unwrap();
    let client = session.asana().unwrap();
    client.get_user("me").await.unwrap();

    mock.revoke_all_grants();
    let err = client.get_user("me").await.unwrap_err();

    assert!(
        matches!(
            &err,
            AsanaError::Auth(AuthError::NeedsReauthorization { reason, .. }) if reason.starts_with("invalid_grant")
        ),
        "{err:?}"
    );
    assert!(err.needs_reauthorization() && !err.is_retryable());
    assert_eq!(mock.token_requests_for("refresh_token"), 1);
    let record = auth
        .store()
        .get(ASANA, "alice")
        .await
        .unwrap()
        .expect("the record is kept")
        .record;
    assert_eq!(record.status, CredentialStatus::NeedsReauthorization);
    assert!(record.lease.is_none(), "the refresh lease is released");
    let kept = stored(&auth, "alice").await;
    assert_eq!(
        kept.token.refresh_token.as_ref().map(|t| t.expose_secret()),
        connected
            .token
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret())
    );

    // Nothing more is sent for this subject, in this session or a new one.
    let (api, tokens) = (mock.api_requests(), mock.token_requests());
    let err = client.get_user("me").await.unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");
    let fresh = auth.session("alice").await.unwrap();
    assert_eq!(fresh.source(ASANA), None);
    let err = fresh.asana().unwrap_err();
    assert!(
        matches!(
            &err,
            AsanaError::Auth(AuthError::NeedsReauthorization { .. })
        ),
        "{err:?}"
    );
    assert_eq!((mock.api_requests(), mock.token_requests()), (api, tokens));

    // Connecting again revives the subject, including the live session's client.
    connect(&auth, &mock, "alice").await;
    let info = auth.credential_info(ASANA, "alice").await.unwrap().unwrap();
    assert_eq!(info.status, CredentialStatus::Active);
    assert_eq!(client.get_user("me").await.unwrap().gid, seed::ME_GID);
}

#[tokio::test]
async fn revoke_credentials_revokes_at_asana_then_deletes() {
    let mock = MockAsana::start().await;
    let auth = manager(&mock);
    let connected = connect(&auth, &mock, "alice").await;
    let session = auth.session("alice").await.unwrap();
    let client = session.asana().unwrap();
    client.get_user("me").await.unwrap();

    assert!(auth.revoke_credentials(ASANA, "alice").await.unwrap());

    assert_eq!(mock.revocations(), 1);
    let form = last_form(&mock, "/-/oauth_revoke").await;
    assert_eq!(
        form_value(&form, "token"),
        connected
            .token
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret())
    );
    assert!(auth.store().get(ASANA, "alice").await.unwrap().is_none());
    assert!(!auth.revoke_credentials(ASANA, "alice").await.unwrap());
    assert_eq!(mock.revocations(), 1);

    // The live session has no credentials left; the old token is dead at Asana too.
    let api = mock.api_requests();
    let err = client.get_user("me").await.unwrap_err();
    assert!(
        matches!(&err, AsanaError::Auth(AuthError::NoCredentials { .. })),
        "{err:?}"
    );
    assert_eq!(mock.api_requests(), api);
    let status = reqwest::Client::new()
        .get(format!("{}/users/me", mock.api_base_url()))
        .bearer_auth(connected.token.access_token.expose_secret())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_typed_stream_pages_through_every_task_and_honours_its_cap() {
    let mock = MockAsana::start().await;
    let auth = manager(&mock);
    connect(&auth, &mock, "alice").await;
    let client = auth.session("alice").await.unwrap().asana().unwrap();
    let path = format!("/api/1.0/projects/{}/tasks", seed::BACKLOG_PROJECT_GID);

    let tasks: Vec<Task> = client
        .tasks()
        .list_for_project(seed::BACKLOG_PROJECT_GID)
        .opt_fields(&["name"])
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(tasks.len(), 250);
    let names: Vec<String> = tasks.iter().map(|t| t.name.clone().unwrap()).collect();
    let expected: Vec<String> = (1..=250).map(|i| format!("Backlog task {i:03}")).collect();
    assert_eq!(names, expected);
    assert_eq!(
        tasks[249].gid,
        (seed::FIRST_BACKLOG_TASK_GID + 249).to_string()
    );
    assert_eq!(mock.requests_to("GET", &path), 3);

    let capped: Vec<Task> = client
        .tasks()
        .list_for_project(seed::BACKLOG_PROJECT_GID)
        .stream()
        .take_items(150)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(capped.len(), 150);
    assert_eq!(
        capped[149].gid,
        (seed::FIRST_BACKLOG_TASK_GID + 149).to_string()
    );
    assert_eq!(mock.requests_to("GET", &path), 5, "two pages for 150 items");

    let small: Vec<Task> = client
        .tasks()
        .list_for_project(seed::BACKLOG_PROJECT_GID)
        .stream()
        .take_items(30)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(small.len(), 30);
    assert_eq!(mock.requests_to("GET", &path), 6, "one page of 30");
    let requests = mock.received_requests().await;
    let last = requests
        .iter()
        .rev()
        .find(|r| r.url.path() == path)
        .unwrap();
    let query: Vec<(String, String)> = last.url.query_pairs().into_owned().collect();
    assert_eq!(query, [("limit".to_string(), "30".to_string())]);
}

async fn all_concurrently(auth: &AuthManager, subject: &str, callers: usize) {
    let mut sessions = Vec::new();
    for _ in 0..callers {
        sessions.push(auth.session(subject).await.unwrap());
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(callers));
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|session| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let client = session.asana()?;
                barrier.wait().await;
                client.get_user("me").await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().gid, seed::ME_GID);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_after_expiry_cause_one_refresh() {
    let mock = MockAsana::builder().token_lifetime(30).start().await;
    let auth = manager(&mock);
    connect(&auth, &mock, "alice").await;
    age_stored_token(&auth, "alice").await;
    mock.set_token_lifetime(3600);

    all_concurrently(&auth, "alice", 100).await;

    assert_eq!(mock.token_requests_for("refresh_token"), 1);
    assert_eq!(mock.requests_to("GET", "/api/1.0/users/me"), 100);
    let token = stored(&auth, "alice").await.token.access_token;
    let bearer = format!("Bearer {}", token.expose_secret());
    assert!(api_bearers(&mock).await.iter().all(|b| *b == bearer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_rejected_with_401_cause_one_refresh() {
    let mock = MockAsana::start().await;
    let auth = manager(&mock);
    connect(&auth, &mock, "alice").await;
    let session = auth.session("alice").await.unwrap();
    session.asana().unwrap().get_user("me").await.unwrap();
    mock.expire_access_tokens();

    all_concurrently(&auth, "alice", 100).await;

    assert_eq!(mock.token_requests_for("refresh_token"), 1);
    let token = stored(&auth, "alice").await.token.access_token;
    let bearer = format!("Bearer {}", token.expose_secret());
    let bearers = api_bearers(&mock).await;
    let retried = bearers.iter().filter(|b| **b == bearer).count();
    assert_eq!(
        retried, 100,
        "every caller succeeded with the one new token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_managers_sharing_a_store_refresh_once() {
    let mock = MockAsana::builder().token_lifetime(30).start().await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
    let process = || {
        AuthManager::builder()
            .env(EnvSource::empty())
            .auto_configure(false)
            .shared_store(store.clone())
            .provider(AsanaAuthProvider::new(mock_app(&mock)).unwrap())
            .build()
            .unwrap()
    };
    let (first, second) = (process(), process());
    connect(&first, &mock, "alice").await;
    age_stored_token(&first, "alice").await;
    mock.set_token_lifetime(3600);

    tokio::join!(
        all_concurrently(&first, "alice", 20),
        all_concurrently(&second, "alice", 20)
    );

    assert_eq!(
        mock.token_requests_for("refresh_token"),
        1,
        "the refresh lease in the shared store lets one process refresh"
    );
    let token = stored(&second, "alice").await.token.access_token;
    let bearer = format!("Bearer {}", token.expose_secret());
    let bearers = api_bearers(&mock).await;
    assert_eq!(bearers.len(), 40);
    assert!(
        bearers.iter().all(|b| *b == bearer),
        "both adopt the one new token"
    );
    let record = store.get(ASANA, "alice").await.unwrap().unwrap().record;
    assert!(record.lease.is_none());
    assert_eq!(record.status, CredentialStatus::Active);
}

#[tokio::test]
async fn connecting_reaches_a_session_opened_on_the_personal_access_token() {
    let mock = MockAsana::start().await;
    let mut app = mock_app(&mock);
    app.token = Some(SecretString::from(mock.personal_access_token()));
    let auth = manager_for(app);
    let session = auth.session("alice").await.unwrap();
    assert_eq!(session.source(ASANA), Some(CredentialSource::AppToken));

    // `store_credentials` promises to make live sessions of the subject use the new credentials.
    let connected = connect(&auth, &mock, "alice").await;
    session.asana().unwrap().get_user("me").await.unwrap();

    assert_eq!(session.source(ASANA), Some(CredentialSource::Stored));
    assert_eq!(
        api_bearers(&mock).await.last().unwrap(),
        &format!("Bearer {}", connected.token.access_token.expose_secret()),
        "alice's own token, not the app's personal access token"
    );
}

#[tokio::test]
async fn reconnecting_reaches_a_session_opened_while_reauthorization_was_needed() {
    let mock = MockAsana::start().await;
    let auth = manager(&mock);
    connect(&auth, &mock, "alice").await;
    mock.revoke_all_grants();
    let first = auth.session("alice").await.unwrap();
    let rejected = first.asana().unwrap().get_user("me").await.unwrap_err();
    assert!(rejected.needs_reauthorization(), "{rejected:?}");
    let waiting = auth.session("alice").await.unwrap();
    let marked = waiting.asana().map(drop).unwrap_err();
    assert!(
        marked.needs_reauthorization(),
        "marked: no usable credentials, {marked:?}"
    );

    connect(&auth, &mock, "alice").await;

    let me = waiting.asana().unwrap().get_user("me").await.unwrap();
    assert_eq!(me.gid, seed::ME_GID);
}
