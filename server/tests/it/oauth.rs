//! The consent flow (`oauth/initiate`, Asana's consent page played by MockAsana, the callback)
//! and applications' own OAuth apps (`oauth/credentials`).

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integrations::CredentialStore;
use integrations_server::{ApplicationCredentials, Server};
use provider_asana_testkit::MockAsana;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use crate::support::{Logs, Service, asana_app, error_message};

/// Where the application sends its users back to: on its registered origin.
const RETURN_TO: &str = "https://app.example.com/connected?from=asana";
/// The application's own Asana app, in the tests that bring one.
const BYO_ID: &str = "byo-client-id";
const BYO_SECRET: &str = "CANARY-byo-client-secret";
/// The service's own Asana app when an application brings its own.
const SERVICE_ID: &str = "service-client-id";

/// Whose Asana apps a test service has.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Apps {
    /// The service's app is the mock's.
    Service,
    /// The mock's app is the one applications bring ([`BYO_ID`]); the service's app is another
    /// one ([`SERVICE_ID`]).
    Byo,
    /// The service has no app.
    None,
}

/// A service reached at its own address, whose callback Asana (the mock) has registered.
async fn start_with(apps: Apps) -> Service {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public: Url = format!("http://{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let mut asana = MockAsana::builder().redirect_uri(callback_of(&public));
    if apps == Apps::Byo {
        asana = asana.client_id(BYO_ID).client_secret(BYO_SECRET);
    }
    let asana = asana.start().await;
    let mut app = asana_app(&asana, apps == Apps::Service);
    if apps == Apps::Byo {
        app.client_id = Some(SERVICE_ID.into());
        app.client_secret = Some("service-client-secret".into());
    }
    Service::serve(asana, app, 64 * 1024, listener, Some(public)).await
}

/// A service whose app is the mock's ([`Apps::Service`]), or one whose applications bring theirs
/// ([`Apps::Byo`]).
async fn start(byo: bool) -> Service {
    start_with(if byo { Apps::Byo } else { Apps::Service }).await
}

fn callback_of(public: &Url) -> String {
    format!("{}api/v1/oauth/callback", public.as_str())
}

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A URL's query as a map.
fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// `oauth/initiate` for customer `c` back to `redirect_url`.
async fn initiate(svc: &Service, token: &str, redirect_url: &str) -> (u16, Value) {
    svc.post(
        "/api/v1/integrations/connectors/oauth/initiate",
        Some(token),
        json!({
            "customer_name": "c",
            "connector_type": "Asana",
            "redirect_url": redirect_url,
            "name": "Asana of c",
        }),
    )
    .await
}

/// The consent URL of a successful `initiate`.
async fn consent_url(svc: &Service, token: &str) -> Url {
    let (status, body) = initiate(svc, token, RETURN_TO).await;
    assert_eq!(status, 200, "{body}");
    body["consent_url"].as_str().unwrap().parse().unwrap()
}

/// Sends the user's browser to `callback` (Asana's redirect), on the instance at `base` instead
/// of the one the callback names when given; the status, where it redirects to, and the body.
async fn land(callback: &Url, base: Option<&str>) -> (u16, Option<Url>, Value) {
    let mut url = callback.clone();
    if let Some(base) = base {
        let base: Url = base.parse().unwrap();
        url.set_port(base.port()).unwrap();
    }
    let response = browser().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let text = response.text().await.unwrap();
    (
        status,
        location,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// The forms of the token requests the mock received, in order.
async fn token_requests(asana: &MockAsana) -> Vec<HashMap<String, String>> {
    asana
        .received_requests()
        .await
        .into_iter()
        .filter(|r| r.url.path() == "/-/oauth_token")
        .map(|r| url::form_urlencoded::parse(&r.body).into_owned().collect())
        .collect()
}

/// A refresh at the mock's token endpoint with `refresh_token` and the mock's client: the status
/// and the answer.
async fn refresh_with(asana: &MockAsana, refresh_token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(asana.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", asana.client_id()),
            ("client_secret", asana.client_secret()),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// How many consent flows are pending in the service's store.
fn pending_states(svc: &Service) -> i64 {
    rusqlite::Connection::open(svc.dir.path().join("service.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM oauth_states", [], |r| r.get(0))
        .unwrap()
}

/// The application's connectors.
async fn connectors(svc: &Service, token: &str) -> Vec<Value> {
    let (status, body) = svc
        .get("/api/v1/integrations/connectors", Some(token))
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

/// Asserts a redirect back to [`RETURN_TO`] (its own query kept) and returns the added pairs.
fn returned(location: Option<Url>) -> HashMap<String, String> {
    let location = location.expect("a redirect");
    assert_eq!(
        &location[..url::Position::AfterPath],
        "https://app.example.com/connected"
    );
    let mut pairs = query(&location);
    assert_eq!(pairs.remove("from").as_deref(), Some("asana"));
    pairs
}

#[tokio::test]
async fn the_consent_flow_creates_a_connector_that_executes() {
    let svc = start(false).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;

    let consent = consent_url(&svc, &token).await;
    assert_eq!(
        &consent[..url::Position::AfterPath],
        svc.asana.authorization_url()
    );
    let params = query(&consent);
    let callback = format!("{}/api/v1/oauth/callback", svc.url);
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], svc.asana.client_id());
    assert_eq!(params["redirect_uri"], callback);
    assert_eq!(params["scope"], "default");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["state"].len(), 43);
    assert_eq!(pending_states(&svc), 1);

    let landing = svc.asana.consent(consent.as_str()).await.unwrap();
    let code = query(&landing)["code"].clone();
    let (status, location, _) = land(&landing, None).await;
    assert_eq!(status, 303);
    let back = returned(location);
    let id = back["connector_id"].clone();
    assert_eq!(back["secret_id"].len(), 43, "{back:?}");
    assert_eq!(back.len(), 2, "{back:?}");
    assert_eq!(pending_states(&svc), 0, "the state is taken");

    let requests = token_requests(&svc.asana).await;
    assert_eq!(requests.len(), 1);
    let exchange = &requests[0];
    assert_eq!(exchange["grant_type"], "authorization_code");
    assert_eq!(exchange["code"], code);
    assert_eq!(exchange["redirect_uri"], callback);
    assert_eq!(exchange["client_id"], svc.asana.client_id());
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(exchange["code_verifier"].as_bytes())),
        params["code_challenge"]
    );

    let (status, connector) = svc
        .get(
            &format!("/api/v1/integrations/connectors/{id}"),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{connector}");
    assert_eq!(connector["name"], "Asana of c");
    assert_eq!(connector["customer_name"], "c");
    assert_eq!(connector["auth_type"], "oauth");
    assert_eq!(connector["status"], "active");
    assert!(svc.stored_access_token(&id).await.is_some());

    let (status, me) = svc
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["result"]["name"], "Greg Sanchez");

    let (_, audit) = svc.get("/api/v1/audit", Some(&token)).await;
    let created: Vec<&Value> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operation"] == "connector.create")
        .collect();
    assert_eq!(created.len(), 1, "{audit}");
    assert_eq!(created[0]["connector_id"], id.as_str());
    assert_eq!(created[0]["customer_name"], "c");
}

#[tokio::test]
async fn the_callback_completes_on_another_instance_with_another_public_url() {
    let svc = start(false).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    let consent = consent_url(&svc, &token).await;
    let landing = svc.asana.consent(consent.as_str()).await.unwrap();

    // A second instance over the same store, reached at another URL.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = format!("http://{}", listener.local_addr().unwrap());
    let server = Server::builder()
        .store_dir(svc.dir.path())
        .encryption_keys(svc.keys.clone())
        .asana_app(asana_app(&svc.asana, true))
        .public_url("https://elsewhere.example.net/".parse().unwrap())
        .build()
        .await
        .unwrap();
    let served = tokio::spawn(server.serve(listener, std::future::pending()));

    let (status, location, _) = land(&landing, Some(&other)).await;
    assert_eq!(status, 303);
    let id = returned(location)["connector_id"].clone();
    let requests = token_requests(&svc.asana).await;
    assert_eq!(
        requests[0]["redirect_uri"],
        format!("{}/api/v1/oauth/callback", svc.url),
        "the redirect_uri sent with the authorization, not the second instance's"
    );
    let (status, me) = svc
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 200, "{me}");
    served.abort();
}

#[tokio::test]
async fn a_replayed_state_is_refused_and_creates_nothing_more() {
    let svc = start(false).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    let consent = consent_url(&svc, &token).await;
    let landing = svc.asana.consent(consent.as_str()).await.unwrap();
    let (status, _, _) = land(&landing, None).await;
    assert_eq!(status, 303);

    let (status, location, body) = land(&landing, None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(location, None);
    assert!(error_message(&body).contains("OAuth state"));
    assert_eq!(connectors(&svc, &token).await.len(), 1);
    assert_eq!(token_requests(&svc.asana).await.len(), 1);
}

#[tokio::test]
async fn concurrent_callbacks_of_one_state_create_one_connector() {
    let svc = start(false).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    let consent = consent_url(&svc, &token).await;
    let landing = svc.asana.consent(consent.as_str()).await.unwrap();
    let answers = futures::future::join_all((0..4).map(|_| land(&landing, None))).await;
    let mut statuses: Vec<u16> = answers.iter().map(|(status, _, _)| *status).collect();
    statuses.sort();
    assert_eq!(statuses, [303, 400, 400, 400]);
    assert_eq!(connectors(&svc, &token).await.len(), 1);
}

#[tokio::test]
async fn an_expired_state_is_refused_and_nothing_is_stored() {
    let svc = start(false).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    let consent = consent_url(&svc, &token).await;
    let landing = svc.asana.consent(consent.as_str()).await.unwrap();
    rusqlite::Connection::open(svc.dir.path().join("service.db"))
        .unwrap()
        .execute("UPDATE oauth_states SET expires_ms = 0", [])
        .unwrap();
    let (status, location, body) = land(&landing, None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(location, None);
    assert!(connectors(&svc, &token).await.is_empty());
    assert!(token_requests(&svc.asana).await.is_empty());
}

#[tokio::test]
async fn a_forged_or_missing_state_is_refused_and_nothing_is_stored() {
    let svc = start(false).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    consent_url(&svc, &token).await;
    let base = format!("{}/api/v1/oauth/callback", svc.url);
    for query in [
        "?code=mock_code_x&state=forged-state",
        "?code=mock_code_x",
        "?code=mock_code_x&state=",
        "?error=access_denied&state=forged-state",
    ] {
        let (status, location, body) = land(&format!("{base}{query}").parse().unwrap(), None).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(location, None);
        error_message(&body);
    }
    assert!(connectors(&svc, &token).await.is_empty());
    assert!(token_requests(&svc.asana).await.is_empty());
    assert_eq!(pending_states(&svc), 1, "the real flow is still pending");
}

#[tokio::test]
async fn a_redirect_url_off_the_registered_origins_is_refused_and_nothing_is_stored() {
    let svc = start(false).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    for redirect_url in [
        "https://evil.example.com/connected",
        "https://app.example.com:8443/connected",
        "http://app.example.com/connected",
        "https://app.example.com.evil.example.com/connected",
        "javascript:alert(1)",
        "/connected",
        "",
    ] {
        let (status, body) = initiate(&svc, &token, redirect_url).await;
        assert_eq!(status, 422, "{redirect_url}: {body}");
        assert!(error_message(&body).contains("redirect_url"));
    }
    for body in [
        json!({ "customer_name": "c", "connector_type": "Asana" }),
        json!({ "customer_name": "c", "connector_type": "Asana", "redirect_url": ["canary"] }),
        json!({ "customer_name": "c", "connector_type": "Jira", "redirect_url": RETURN_TO }),
        json!({ "connector_type": "Asana", "redirect_url": RETURN_TO }),
    ] {
        let (status, answer) = svc
            .post(
                "/api/v1/integrations/connectors/oauth/initiate",
                Some(&token),
                body.clone(),
            )
            .await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert!(!error_message(&answer).contains("canary"));
    }
    let (status, _) = svc
        .post(
            "/api/v1/integrations/connectors/oauth/initiate",
            None,
            json!({ "customer_name": "c", "connector_type": "Asana", "redirect_url": RETURN_TO }),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(pending_states(&svc), 0);
    let (status, _) = initiate(&svc, &token, "https://app.example.com/elsewhere").await;
    assert_eq!(status, 200, "any path on a registered origin");
}

/// A consent of a new application's customer `c` whose callback is on its way, its code
/// exchange answered by the mock after `latency`, once the mock has that exchange: the
/// application, its token, and the callback's outcome to await.
async fn a_callback_waiting_on_its_exchange(
    svc: &Service,
    latency: Duration,
) -> (
    ApplicationCredentials,
    String,
    tokio::task::JoinHandle<(u16, Option<Url>, Value)>,
) {
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    let consent = consent_url(svc, &token).await;
    let landing = svc.asana.consent(consent.as_str()).await.unwrap();
    svc.asana.set_latency(latency);
    let landed = tokio::spawn(async move { land(&landing, None).await });
    let waited = std::time::Instant::now();
    while svc.asana.token_requests_for("authorization_code") == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "the callback never traded its code"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (app, token, landed)
}

/// A consent whose connector cannot be kept for now (another process holds the service
/// database's write lock past the busy timeout while the code is exchanged) gives its grant
/// back and sends the user on with `temporarily_unavailable`: starting again will do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consent_whose_connector_cannot_be_kept_for_now_says_start_again() {
    let svc = start(false).await;
    let (_, token, landed) =
        a_callback_waiting_on_its_exchange(&svc, Duration::from_millis(500)).await;
    let lock = rusqlite::Connection::open(svc.dir.path().join("service.db")).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (status, location, _) = landed.await.unwrap();
    lock.execute_batch("ROLLBACK").unwrap();
    assert_eq!(status, 303);
    assert_eq!(
        returned(location),
        HashMap::from([("error".to_string(), "temporarily_unavailable".to_string())])
    );
    svc.asana.set_latency(Duration::ZERO);
    assert!(connectors(&svc, &token).await.is_empty());
    assert_eq!(svc.asana.revocations(), 1, "the grant was given back");
}

#[tokio::test]
async fn a_denied_consent_or_a_failed_exchange_returns_an_error_code_and_stores_nothing() {
    let svc = start(false).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;

    svc.asana.deny_next_authorizations(1);
    let consent = consent_url(&svc, &token).await;
    let landing = svc.asana.consent(consent.as_str()).await.unwrap();
    assert_eq!(query(&landing)["error"], "access_denied");
    let (status, location, _) = land(&landing, None).await;
    assert_eq!(status, 303);
    assert_eq!(
        returned(location),
        HashMap::from([("error".to_string(), "access_denied".to_string())])
    );

    let consent = consent_url(&svc, &token).await;
    let landing = svc.asana.consent(consent.as_str()).await.unwrap();
    svc.asana.expire_authorization_codes();
    let (status, location, _) = land(&landing, None).await;
    assert_eq!(status, 303);
    assert_eq!(
        returned(location),
        HashMap::from([("error".to_string(), "exchange_failed".to_string())])
    );

    // A token endpoint that fails (a 503): the user may start again at once.
    let consent = consent_url(&svc, &token).await;
    let landing = svc.asana.consent(consent.as_str()).await.unwrap();
    svc.asana.fail_next_token_requests(1, 503);
    let (status, location, _) = land(&landing, None).await;
    assert_eq!(status, 303);
    assert_eq!(
        returned(location),
        HashMap::from([("error".to_string(), "temporarily_unavailable".to_string())])
    );

    assert!(connectors(&svc, &token).await.is_empty());
    assert_eq!(pending_states(&svc), 0, "the states are used up");
    let credentials = svc.credentials().await;
    assert!(credentials.list(Some("asana")).await.unwrap().is_empty());
}

/// The application is deleted while the callback trades its code: no connector can hold the
/// grant, so its credentials are not kept and the grant is given back to Asana.
#[tokio::test]
async fn a_grant_no_connector_can_hold_is_revoked() {
    let svc = start(false).await;
    // The mock answers after a second: the application is deleted while the callback waits.
    let (app, _, landed) = a_callback_waiting_on_its_exchange(&svc, Duration::from_secs(1)).await;
    svc.admin
        .delete_application(&app.application.id)
        .await
        .unwrap();
    let (status, location, _) = landed.await.unwrap();
    assert_eq!(status, 303);
    assert_eq!(
        returned(location),
        HashMap::from([("error".to_string(), "server_error".to_string())])
    );
    let issued = token_requests(&svc.asana).await;
    let revoked: Vec<HashMap<String, String>> = svc
        .asana
        .received_requests()
        .await
        .into_iter()
        .filter(|r| r.url.path() == "/-/oauth_revoke")
        .map(|r| url::form_urlencoded::parse(&r.body).into_owned().collect())
        .collect();
    assert_eq!(issued.len(), 1);
    assert_eq!(revoked.len(), 1, "the grant is revoked once");
    assert_eq!(revoked[0]["token_type_hint"], "refresh_token");
    svc.asana.set_latency(Duration::ZERO);
    // The token sent is the grant's refresh token, revoked (not unknown) now.
    let (status, refreshed) = refresh_with(&svc.asana, &revoked[0]["token"]).await;
    assert_eq!(
        (status, &refreshed["error"], &refreshed["error_description"]),
        (
            400,
            &json!("invalid_grant"),
            &json!("the refresh token has been revoked")
        ),
        "{refreshed}"
    );
    let credentials = svc.credentials().await;
    assert!(credentials.list(None).await.unwrap().is_empty());
}

/// The browser leaves while the callback trades its code: the flow still ends with the
/// connector holding the grant, not with a grant (or credentials) that nothing holds.
#[tokio::test]
async fn a_consent_flow_completes_when_the_browser_leaves_during_the_exchange() {
    let svc = start(false).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    let consent = consent_url(&svc, &token).await;
    let landing = svc.asana.consent(consent.as_str()).await.unwrap();
    svc.asana.set_latency(Duration::from_millis(500));
    let left = browser()
        .get(landing)
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(left.unwrap_err().is_timeout(), "the browser gave up first");
    let waited = std::time::Instant::now();
    let listed = loop {
        let listed = connectors(&svc, &token).await;
        if !listed.is_empty() {
            break listed;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "no connector holds the grant"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    svc.asana.set_latency(Duration::ZERO);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "active");
    let id = listed[0]["id"].as_str().unwrap();
    let (status, body) = svc
        .execute(&token, id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(token_requests(&svc.asana).await.len(), 1);
}

#[tokio::test]
async fn a_scoped_token_starts_consent_flows_for_its_own_customer_only() {
    let svc = start(false).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    let scoped = svc.scoped_token(&token, "c").await;
    let (status, body) = svc
        .post(
            "/api/v1/integrations/connectors/oauth/initiate",
            Some(&scoped),
            json!({ "customer_name": "d", "connector_type": "Asana", "redirect_url": RETURN_TO }),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(pending_states(&svc), 0);
    let (status, body) = svc
        .post(
            "/api/v1/integrations/connectors/oauth/initiate",
            Some(&scoped),
            json!({ "connector_type": "Asana", "redirect_url": RETURN_TO }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let landing = svc
        .asana
        .consent(body["consent_url"].as_str().unwrap())
        .await
        .unwrap();
    let (_, location, _) = land(&landing, None).await;
    let id = returned(location)["connector_id"].clone();
    let (status, connector) = svc
        .get(
            &format!("/api/v1/integrations/connectors/{id}"),
            Some(&scoped),
        )
        .await;
    assert_eq!(status, 200, "{connector}");
    assert_eq!(connector["customer_name"], "c");
}

#[tokio::test]
async fn without_any_asana_app_a_consent_flow_is_422() {
    let svc = start_with(Apps::None).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    let (status, body) = initiate(&svc, &token, RETURN_TO).await;
    assert_eq!(status, 422, "{body}");
    assert!(error_message(&body).contains("PUT /api/v1/oauth/credentials"));
    assert_eq!(pending_states(&svc), 0);
}

#[tokio::test]
async fn without_a_public_url_the_service_runs_no_consent_flows() {
    let svc = Service::start().await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    let (status, body) = initiate(&svc, &token, RETURN_TO).await;
    assert_eq!(status, 501, "{body}");
    assert!(error_message(&body).contains("--public-url"));
    assert_eq!(pending_states(&svc), 0);
}

/// After a move to a new key, `Admin::reencrypt` re-seals under it what the old key sealed: the
/// connector's credentials, the application's own OAuth app and a pending consent flow's PKCE
/// verifier. An instance with the new key alone then runs all three. Without the old key it
/// changes nothing; a second run has nothing left to do.
#[tokio::test]
async fn reencrypting_moves_every_sealed_value_to_the_new_key() {
    use integrations::{EncryptionKey, KeyRing};
    use integrations_server::{ServerError, ServiceStoreError};

    let svc = start(true).await;
    let public: Url = svc.url.parse().unwrap();
    let (old, new) = (EncryptionKey::generate(), EncryptionKey::generate());
    let first = svc
        .another_instance_configured(KeyRing::new(old.clone()), |b| b.public_url(public))
        .await;
    let app = first.application("acme").await;
    let token = first.app_token(&app).await;
    let (status, body) = set_byo(&first, &token, BYO_SECRET).await;
    assert_eq!(status, 200, "{body}");
    let consent = consent_url(&first, &token).await;
    let landing = svc.asana.consent(consent.as_str()).await.unwrap();
    let (status, location, _) = land(&landing, Some(&first.url)).await;
    assert_eq!(status, 303);
    let id = returned(location)["connector_id"].clone();
    let pending = consent_url(&first, &token).await;
    let pending = svc.asana.consent(pending.as_str()).await.unwrap();

    let without_old = svc.another_instance(KeyRing::new(new.clone())).await;
    match without_old.admin.reencrypt().await {
        Err(ServerError::Store(ServiceStoreError::UnknownKey { what, key_id })) => {
            assert_eq!(
                (what.as_str(), key_id.as_str()),
                ("an application's OAuth client secret", old.id())
            );
        }
        other => panic!("{other:?}"),
    }

    let both = svc
        .another_instance(KeyRing::new(new.clone()).with_old_key(old.clone()))
        .await;
    let done = both.admin.reencrypt().await.unwrap();
    assert_eq!(
        (done.credentials, done.oauth_apps, done.consent_flows),
        (1, 1, 1)
    );
    let again = both.admin.reencrypt().await.unwrap();
    assert_eq!(
        (again.credentials, again.oauth_apps, again.consent_flows),
        (0, 0, 0)
    );

    let only_new = svc
        .another_instance_configured(KeyRing::new(new), |b| {
            b.public_url("https://elsewhere.example.net/".parse().unwrap())
        })
        .await;
    assert_eq!(
        only_new.get("/readyz", None).await,
        (200, json!({ "status": "ready" }))
    );
    svc.asana.expire_access_tokens();
    let (status, me) = only_new
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 200, "{me}");
    let (status, location, _) = land(&pending, Some(&only_new.url)).await;
    assert_eq!(
        status, 303,
        "the pending flow completes with the new key alone"
    );
    let created = returned(location)["connector_id"].clone();
    assert_ne!(created, id);
    let grants: Vec<(String, String)> = token_requests(&svc.asana)
        .await
        .iter()
        .map(|r| (r["grant_type"].clone(), r["client_id"].clone()))
        .collect();
    assert_eq!(
        grants[1..],
        [
            ("refresh_token".to_string(), BYO_ID.to_string()),
            ("authorization_code".to_string(), BYO_ID.to_string()),
        ]
    );
}

/// `PUT /api/v1/oauth/credentials` with the application's own app.
async fn set_byo(svc: &Service, token: &str, client_secret: &str) -> (u16, Value) {
    svc.send(
        reqwest::Method::PUT,
        "/api/v1/oauth/credentials",
        Some(token),
        Some(
            json!({
                "connector_type": "Asana",
                "configuration": { "client_id": BYO_ID, "client_secret": client_secret },
            })
            .to_string()
            .into_bytes(),
        ),
    )
    .await
}

const BYO_PATH: &str = "/api/v1/oauth/credentials/connector_type/asana";

/// A service that runs consent flows only through applications' own OAuth apps refuses one
/// that would go through its own (422, saying what to set), and runs it once the application
/// has set its own.
#[tokio::test]
async fn without_service_app_consent_a_flow_needs_the_application_s_own_app() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public: Url = format!("http://{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let asana = MockAsana::builder()
        .redirect_uri(callback_of(&public))
        .client_id(BYO_ID)
        .client_secret(BYO_SECRET)
        .start()
        .await;
    let mut app = asana_app(&asana, false);
    app.client_id = Some(SERVICE_ID.into());
    app.client_secret = Some("service-client-secret".into());
    let svc = Service::serve_built(asana, app, listener, move |b| {
        b.public_url(public).service_app_consent(false)
    })
    .await;
    let application = svc.application("acme").await;
    let token = svc.app_token(&application).await;
    let (status, body) = initiate(&svc, &token, RETURN_TO).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        error_message(&body),
        "this service runs consent flows only through each application's own OAuth app, and this application has none for Asana: set it with PUT /api/v1/oauth/credentials"
    );
    assert_eq!(pending_states(&svc), 0);

    let (status, body) = set_byo(&svc, &token, BYO_SECRET).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(query(&consent_url(&svc, &token).await)["client_id"], BYO_ID);
}

#[tokio::test]
async fn an_application_s_own_app_exchanges_and_refreshes_and_its_removal_falls_back() {
    let svc = start(true).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    assert_eq!(
        query(&consent_url(&svc, &token).await)["client_id"],
        SERVICE_ID
    );

    for (body, expected) in [
        (
            json!({ "connector_type": "Asana", "configuration": { "client_id": BYO_ID, "client_secret": " " } }),
            422,
        ),
        (
            json!({ "connector_type": "Jira", "configuration": { "client_id": BYO_ID, "client_secret": BYO_SECRET } }),
            422,
        ),
        (json!({ "connector_type": "Asana" }), 422),
    ] {
        let (status, answer) = svc
            .send(
                reqwest::Method::PUT,
                "/api/v1/oauth/credentials",
                Some(&token),
                Some(body.to_string().into_bytes()),
            )
            .await;
        assert_eq!(status, expected, "{body}: {answer}");
        assert!(!answer.to_string().contains("CANARY"));
    }
    let (status, _) = svc.get(BYO_PATH, Some(&token)).await;
    assert_eq!(status, 404, "nothing was set");

    let (status, body) = set_byo(&svc, &token, BYO_SECRET).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["connector_type"], "Asana");
    assert_eq!(body["configuration"], json!({ "client_id": BYO_ID }));

    let consent = consent_url(&svc, &token).await;
    assert_eq!(query(&consent)["client_id"], BYO_ID);
    let landing = svc.asana.consent(consent.as_str()).await.unwrap();
    let (status, location, _) = land(&landing, None).await;
    assert_eq!(status, 303);
    let id = returned(location)["connector_id"].clone();

    svc.asana.expire_access_tokens();
    let (status, me) = svc
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 200, "{me}");
    let requests = token_requests(&svc.asana).await;
    let grants: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r["grant_type"].as_str(), r["client_id"].as_str()))
        .collect();
    assert_eq!(
        grants,
        [("authorization_code", BYO_ID), ("refresh_token", BYO_ID)]
    );

    let (status, body) = svc
        .send(reqwest::Method::DELETE, BYO_PATH, Some(&token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["configuration"], json!({ "client_id": BYO_ID }));
    let (status, _) = svc.get(BYO_PATH, Some(&token)).await;
    assert_eq!(status, 404);
    let (status, _) = svc
        .send(reqwest::Method::DELETE, BYO_PATH, Some(&token), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        query(&consent_url(&svc, &token).await)["client_id"],
        SERVICE_ID,
        "the service's app again"
    );

    // The connector made with the removed app cannot refresh, but it can still be deleted (its
    // grant cannot be revoked without the app's secret: no revocation is sent).
    let connector_path = format!("/api/v1/integrations/connectors/{id}");
    let (status, body) = svc.get(&connector_path, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let revocations = svc.asana.revocations();
    let (status, body) = svc
        .send(reqwest::Method::DELETE, &connector_path, Some(&token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(svc.asana.revocations(), revocations);
    let (status, _) = svc.get(&connector_path, Some(&token)).await;
    assert_eq!(status, 404);
    use integrations::CredentialStore;
    assert!(
        svc.credentials()
            .await
            .get("asana", &id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn another_application_cannot_see_or_delete_an_own_app_and_no_answer_holds_its_secret() {
    let svc = start(true).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    let other = svc.application("other").await;
    let other_token = svc.app_token(&other).await;
    let scoped = svc.scoped_token(&token, "c").await;

    let mut answers = Vec::new();
    let (status, body) = set_byo(&svc, &token, BYO_SECRET).await;
    assert_eq!(status, 200);
    answers.push(body);
    for bearer in [&other_token, &scoped] {
        for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
            let (status, body) = svc.send(method.clone(), BYO_PATH, Some(bearer), None).await;
            assert_eq!(status, 404, "{method} {body}");
            answers.push(body);
        }
    }
    let (status, body) = set_byo(&svc, &scoped, "CANARY-scoped-secret").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = svc.get(BYO_PATH, Some(&token)).await;
    assert_eq!(status, 200, "still there: {body}");
    assert_eq!(body["configuration"]["client_id"], BYO_ID);
    answers.push(body);

    // The other application's flows do not use it.
    assert_eq!(
        query(&consent_url(&svc, &other_token).await)["client_id"],
        SERVICE_ID
    );

    let consent = consent_url(&svc, &token).await;
    answers.push(Value::String(consent.to_string()));
    let landing = svc.asana.consent(consent.as_str()).await.unwrap();
    let (_, location, _) = land(&landing, None).await;
    let id = returned(location)["connector_id"].clone();
    let (_, connector) = svc
        .get(
            &format!("/api/v1/integrations/connectors/{id}"),
            Some(&token),
        )
        .await;
    answers.push(connector);
    for bearer in [&token, &other_token] {
        let (_, audit) = svc.get("/api/v1/audit?limit=100", Some(bearer)).await;
        answers.push(audit);
    }
    let (status, body) = svc
        .send(reqwest::Method::DELETE, BYO_PATH, Some(&token), None)
        .await;
    assert_eq!(status, 200);
    answers.push(body);

    let (_, audit) = svc.get("/api/v1/audit?limit=100", Some(&token)).await;
    let operations: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["operation"].as_str())
        .filter(|op| op.starts_with("oauth_app."))
        .collect();
    assert_eq!(operations, ["oauth_app.delete", "oauth_app.set"]);
    answers.push(audit);

    for answer in &answers {
        assert!(!answer.to_string().contains("CANARY"), "{answer}");
    }
    for file in ["service.db", "service.db-wal"] {
        let bytes = std::fs::read(svc.dir.path().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(6).any(|w| w == b"CANARY"),
            "{file} holds the secret in clear"
        );
    }
}

/// A completed consent flow of customer `c` (named "Asana of c"): the pairs the callback added
/// to the redirect.
async fn consented(svc: &Service, token: &str) -> HashMap<String, String> {
    let consent = consent_url(svc, token).await;
    let landing = svc.asana.consent(consent.as_str()).await.unwrap();
    let (status, location, body) = land(&landing, None).await;
    assert_eq!(status, 303, "{body}");
    returned(location)
}

/// `POST path` creating a connector from a consent flow's `secret_id`, with `fields` added to
/// the body (`{external_user_id: "c", connector_type: "Asana"}` unless `fields` replaces them).
async fn claim_at(
    svc: &Service,
    path: &str,
    token: &str,
    secret_id: Value,
    fields: Value,
) -> (u16, Value) {
    let mut body = json!({
        "external_user_id": "c",
        "connector_type": "Asana",
        "server_side_oauth_secret_id": secret_id,
    });
    for (key, value) in fields.as_object().unwrap() {
        if value.is_null() {
            body.as_object_mut().unwrap().remove(key);
        } else {
            body[key] = value.clone();
        }
    }
    svc.post(path, Some(token), body).await
}

async fn claim(svc: &Service, token: &str, secret_id: &str, fields: Value) -> (u16, Value) {
    claim_at(
        svc,
        "/api/v1/integrations/connectors",
        token,
        json!(secret_id),
        fields,
    )
    .await
}

/// Asserts the answer to a claim that may not succeed: 422 telling to start a new consent flow.
fn unclaimable(status: u16, body: &Value, case: &str) {
    assert_eq!(status, 422, "{case}: {body}");
    assert!(
        error_message(body).contains("start a new consent flow"),
        "{case}: {body}"
    );
}

/// The connector as the application reads it.
async fn connector(svc: &Service, token: &str, id: &str) -> Value {
    let (status, body) = svc
        .get(
            &format!("/api/v1/integrations/connectors/{id}"),
            Some(token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn the_older_client_flow_claims_the_consent_flow_s_connector_once_with_its_secret_id() {
    // The process's subscriber (set once, by this test only): every log line of every thread
    // from now on reaches `logs`, whichever test's service wrote it.
    let logs = Logs::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer({
                let logs = logs.clone();
                move || logs.clone()
            })
            .finish(),
    )
    .expect("no other test sets the process's subscriber");
    let svc = start(false).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    let back = consented(&svc, &token).await;
    let (id, secret_id) = (back["connector_id"].clone(), back["secret_id"].clone());
    assert_eq!(secret_id.len(), 43, "32 random bytes, base64url");
    let mut answers = Vec::new();

    let (status, created) = claim(&svc, &token, &secret_id, json!({ "name": "Renamed" })).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["id"],
        id.as_str(),
        "the flow's connector, not a new one"
    );
    assert_eq!(created["name"], "Renamed");
    assert_eq!(created["customer_name"], "c");
    assert_eq!(created["connector_type"], "Asana");
    assert_eq!(created["auth_type"], "oauth");
    assert_eq!(created["status"], "active");
    assert_eq!(created["read_only"], false);
    answers.push(created);
    let read = connector(&svc, &token, &id).await;
    assert_eq!(read["name"], "Renamed", "the name is stored");
    answers.push(read);

    let (status, me) = svc
        .execute(&token, &id, "users", "get", json!({ "user_gid": "me" }))
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["result"]["name"], "Greg Sanchez");
    let listed = connectors(&svc, &token).await;
    assert_eq!(listed.len(), 1, "one consent, one connector: {listed:?}");
    assert_eq!(listed[0]["id"], id.as_str());

    let (status, again) = claim(&svc, &token, &secret_id, json!({})).await;
    unclaimable(status, &again, "a second claim");
    answers.push(again);
    assert_eq!(connector(&svc, &token, &id).await["name"], "Renamed");

    let (_, audit) = svc.get("/api/v1/audit?limit=100", Some(&token)).await;
    let created: Vec<&Value> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operation"] == "connector.create")
        .collect();
    assert_eq!(created.len(), 2, "the callback's and the claim's: {audit}");
    assert!(created.iter().all(|e| e["connector_id"] == id.as_str()));
    assert_eq!(
        created[0]["param_names"],
        json!(["server_side_oauth_secret_id", "name"])
    );
    assert_eq!(created[0]["status"], 201);
    answers.push(audit);

    let text = answers.iter().map(Value::to_string).collect::<String>();
    assert!(!text.contains(&secret_id), "an answer holds the secret id");
    let logged = logs.text();
    assert!(
        logged.contains("authorization URL issued"),
        "the flow's logs are captured: {logged}"
    );
    assert!(
        !logged.contains(&secret_id),
        "a log line holds the secret id"
    );
    for file in ["service.db", "service.db-wal"] {
        let bytes = std::fs::read(svc.dir.path().join(file)).unwrap_or_default();
        assert!(
            !bytes
                .windows(secret_id.len())
                .any(|w| w == secret_id.as_bytes()),
            "{file} holds the secret id in clear"
        );
    }
}

#[tokio::test]
async fn a_secret_id_serves_only_its_application_customer_and_type_and_bad_claims_change_nothing() {
    let svc = start(false).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;
    let other = svc.application("other").await;
    let other_token = svc.app_token(&other).await;
    let scoped_d = svc.scoped_token(&token, "d").await;
    let scoped_c = svc.scoped_token(&token, "c").await;
    let back = consented(&svc, &token).await;
    let (id, secret_id) = (back["connector_id"].clone(), back["secret_id"].clone());
    let before = connector(&svc, &token, &id).await;

    let name = json!({ "name": "Stolen" });
    for (case, bearer, fields) in [
        ("another application's token", &other_token, name.clone()),
        (
            "another customer's scoped token",
            &scoped_d,
            json!({ "external_user_id": null, "name": "Stolen" }),
        ),
        (
            "another customer's scoped token naming its customer",
            &scoped_d,
            json!({ "external_user_id": "d", "name": "Stolen" }),
        ),
        (
            "another customer",
            &token,
            json!({ "external_user_id": "d", "read_only": true }),
        ),
        (
            "another connector type",
            &token,
            json!({ "connector_type": "GitHub", "name": "Stolen" }),
        ),
    ] {
        let (status, body) = claim(&svc, bearer, &secret_id, fields).await;
        unclaimable(status, &body, case);
        assert!(!body.to_string().contains(&secret_id), "{case}: {body}");
    }
    for (case, secret) in [
        ("an unknown secret id", "x".repeat(43)),
        ("empty", String::new()),
    ] {
        let (status, body) = claim(&svc, &token, &secret, json!({})).await;
        unclaimable(status, &body, case);
    }
    // A scoped token naming another customer is refused as any create of it is.
    let (status, body) = claim(&svc, &scoped_d, &secret_id, name.clone()).await;
    assert_eq!(status, 404, "{body}");
    for (case, secret) in [
        ("a number", json!(42)),
        ("an object", json!({ "secret_id": secret_id })),
        ("an array", json!([secret_id])),
    ] {
        let (status, body) = claim_at(
            &svc,
            "/api/v1/integrations/connectors",
            &token,
            secret,
            json!({}),
        )
        .await;
        assert_eq!(status, 422, "{case}: {body}");
        let message = error_message(&body);
        assert!(
            message.contains("server_side_oauth_secret_id"),
            "{case}: {message}"
        );
        assert!(!message.contains(&secret_id), "{case}: {message}");
    }
    let (status, body) = claim(
        &svc,
        &token,
        &secret_id,
        json!({ "credentials": { "token": svc.asana.personal_access_token() } }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(error_message(&body).contains("not both"));

    assert_eq!(connector(&svc, &token, &id).await, before, "unchanged");
    assert_eq!(connectors(&svc, &token).await.len(), 1);
    assert!(connectors(&svc, &other_token).await.is_empty());

    // Its own customer's scoped token still claims it, through SDK 0.19's path.
    let (status, created) = claim_at(
        &svc,
        "/v1/integrations/connectors",
        &scoped_c,
        json!(secret_id),
        json!({ "external_user_id": null, "read_only": true }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], id.as_str());
    assert_eq!(created["read_only"], true);
    assert_eq!(created["name"], "Asana of c", "no name given: the flow's");
    assert_eq!(connectors(&svc, &token).await.len(), 1);
}

#[tokio::test]
async fn an_expired_secret_id_or_one_whose_connector_is_gone_is_refused() {
    let svc = start(false).await;
    let app = svc.application("acme").await;
    let token = svc.app_token(&app).await;

    let back = consented(&svc, &token).await;
    let (id, secret_id) = (back["connector_id"].clone(), back["secret_id"].clone());
    let before = connector(&svc, &token, &id).await;
    let expired = rusqlite::Connection::open(svc.dir.path().join("service.db"))
        .unwrap()
        .execute("UPDATE oauth_secrets SET expires_ms = 1", [])
        .unwrap();
    assert_eq!(expired, 1);
    let (status, body) = claim(&svc, &token, &secret_id, json!({ "name": "Late" })).await;
    unclaimable(status, &body, "expired");
    assert_eq!(connector(&svc, &token, &id).await, before, "unchanged");

    let back = consented(&svc, &token).await;
    let (id, secret_id) = (back["connector_id"].clone(), back["secret_id"].clone());
    let (status, body) = svc
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/integrations/connectors/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = claim(&svc, &token, &secret_id, json!({})).await;
    unclaimable(status, &body, "the connector was deleted");
    assert_eq!(
        connectors(&svc, &token).await.len(),
        1,
        "the first flow's only"
    );
}
