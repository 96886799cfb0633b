//! The hosted connector against wiremock playing the service: the exact requests (paths, JSON
//! bodies, bearer), the token cache (one fetch for concurrent calls, renewal after `expires_in`, one
//! renewal and one retry on a 401), the cached lookup, the reshaped results, `check`, and each
//! error status's class, with no secret in any error or Debug output.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use auth_core::SecretString;
use provider_asana::connector::{
    AsanaConnector, ExecuteError, HostedConfig, HostedTarget, UnhealthyReason,
};
use provider_asana::{AsanaError, ServiceError};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CLIENT_ID: &str = "app-client-id";
const SECRET: &str = "canary-app-secret-7f3e";
const TOKEN_PATH: &str = "/api/v1/account/applications/token";
const LOOKUP_PATH: &str = "/api/v1/integrations/connectors";
const CONNECTOR: &str = "conn-1";
const EXECUTE_PATH: &str = "/api/v1/integrations/connectors/conn-1/execute";

/// Answers the token endpoint with `canary-token-1`, `canary-token-2`, ... living `expires_in`.
struct Tokens {
    issued: Arc<AtomicUsize>,
    expires_in: u64,
}

impl Respond for Tokens {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200)
            .set_body_json(json!({
                "access_token": format!("canary-token-{n}"),
                "token_type": "bearer",
                "expires_in": self.expires_in,
                "organization_id": "org-1",
            }))
            .set_delay(Duration::from_millis(50))
    }
}

/// A service with a token endpoint that checks the application's credentials.
async fn service(expires_in: u64) -> (MockServer, Arc<AtomicUsize>) {
    let server = MockServer::start().await;
    let issued = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_json(
            json!({"client_id": CLIENT_ID, "client_secret": SECRET}),
        ))
        .respond_with(Tokens {
            issued: issued.clone(),
            expires_in,
        })
        .mount(&server)
        .await;
    (server, issued)
}

/// The customer `acme` has `ids` as Asana connectors.
async fn mount_lookup(server: &MockServer, ids: &[&str]) {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "name": "Asana", "customer_name": "acme", "connector_type": "Asana", "status": "active"}))
        .collect();
    Mock::given(method("GET"))
        .and(path(LOOKUP_PATH))
        .and(query_param("customer_name", "acme"))
        .and(query_param("connector_type", "Asana"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": data })))
        .mount(server)
        .await;
}

async fn mount_execute(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(EXECUTE_PATH))
        .respond_with(answer)
        .mount(server)
        .await;
}

fn config(server: &MockServer, target: HostedTarget) -> HostedConfig {
    HostedConfig::new(
        server.uri().parse().expect("URL"),
        CLIENT_ID,
        SecretString::from(SECRET),
        target,
    )
}

fn for_customer(server: &MockServer) -> AsanaConnector {
    AsanaConnector::hosted(config(server, HostedTarget::Customer("acme".into()))).expect("config")
}

fn for_connector(server: &MockServer) -> AsanaConnector {
    AsanaConnector::hosted(config(server, HostedTarget::Connector(CONNECTOR.into())))
        .expect("config")
}

fn tasks_answer() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "result": [{"gid": "1", "name": "a"}],
        "connector_metadata": {"next_page": null},
    }))
}

/// The requests the service received on `path`.
async fn received(server: &MockServer, on: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("recording")
        .into_iter()
        .filter(|r| r.url.path() == on)
        .collect()
}

fn bearer(request: &Request) -> String {
    request.headers["authorization"]
        .to_str()
        .expect("ASCII")
        .to_string()
}

/// The `Authorization` of each execute the service received, in order.
async fn execute_bearers(server: &MockServer) -> Vec<String> {
    received(server, EXECUTE_PATH)
        .await
        .iter()
        .map(bearer)
        .collect()
}

/// `tasks.get` of task 1 on `connector`, which must fail.
async fn failed_get(connector: &AsanaConnector) -> ExecuteError {
    connector
        .execute("tasks", "get", json!({"task_gid": "1"}))
        .await
        .expect_err("the call fails")
}

/// `tasks.create` of one task on `connector`, which must fail.
async fn failed_create(connector: &AsanaConnector) -> ExecuteError {
    connector
        .execute(
            "tasks",
            "create",
            json!({"workspace": "1", "name": "Written once"}),
        )
        .await
        .expect_err("the call fails")
}

/// The service error behind `err`.
fn service_error(err: &ExecuteError) -> &ServiceError {
    match err {
        ExecuteError::Api(AsanaError::Service(e)) => e,
        other => panic!("not a service error: {other:?}"),
    }
}

fn error_answer(status: u16, message: &str, retryable: bool) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "message": message,
        "errors": [{"message": message}],
        "retryable": retryable,
    }))
}

#[tokio::test]
async fn twenty_concurrent_executes_fetch_one_token_and_look_up_once() {
    let (server, issued) = service(900).await;
    mount_lookup(&server, &[CONNECTOR]).await;
    mount_execute(&server, tasks_answer()).await;
    let connector = for_customer(&server);

    let calls = (0..20).map(|_| {
        let connector = connector.clone();
        tokio::spawn(async move {
            connector
                .execute("tasks", "list", json!({"project": "12"}))
                .await
        })
    });
    for call in futures::future::join_all(calls).await {
        call.expect("task").expect("execute");
    }

    assert_eq!(issued.load(Ordering::SeqCst), 1);
    assert_eq!(received(&server, TOKEN_PATH).await.len(), 1);
    let lookups = received(&server, LOOKUP_PATH).await;
    assert_eq!(lookups.len(), 1, "the lookup is cached");
    assert_eq!(
        lookups[0].url.query(),
        Some("customer_name=acme&connector_type=Asana")
    );
    assert_eq!(bearer(&lookups[0]), "Bearer canary-token-1");
    let executes = received(&server, EXECUTE_PATH).await;
    assert_eq!(executes.len(), 20);
    for request in &executes {
        assert_eq!(bearer(request), "Bearer canary-token-1");
        assert_eq!(
            request.body_json::<Value>().expect("JSON"),
            json!({"entity": "tasks", "action": "list", "params": {"project": "12"}})
        );
    }
}

#[tokio::test]
async fn the_token_is_renewed_after_expires_in() {
    let (server, issued) = service(1).await;
    mount_execute(&server, tasks_answer()).await;
    let connector = for_connector(&server);

    connector
        .execute("tasks", "list", json!({"project": "12"}))
        .await
        .expect("first");
    connector
        .execute("tasks", "list", json!({"project": "12"}))
        .await
        .expect("second, within expires_in");
    assert_eq!(issued.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    connector
        .execute("tasks", "list", json!({"project": "12"}))
        .await
        .expect("third, after expires_in");

    assert_eq!(issued.load(Ordering::SeqCst), 2);
    let bearers = execute_bearers(&server).await;
    assert_eq!(
        bearers,
        [
            "Bearer canary-token-1",
            "Bearer canary-token-1",
            "Bearer canary-token-2"
        ]
    );
    assert!(
        received(&server, LOOKUP_PATH).await.is_empty(),
        "a connector id needs no lookup"
    );
}

/// A service token is renewed a tenth of its life before it expires, not at its expiry: a
/// token living 2 s is renewed by a call made 1.8 s after the first call ended, past its
/// renewal time (1.8 s after its fetch began) and, unless the first call took over 200 ms,
/// before its expiry. Two tokens are issued, and the second call carries the new one.
#[tokio::test]
async fn the_token_is_renewed_a_margin_before_it_expires() {
    let (server, issued) = service(2).await;
    mount_execute(&server, tasks_answer()).await;
    let connector = for_connector(&server);

    connector
        .execute("tasks", "list", json!({"project": "12"}))
        .await
        .expect("first");
    let ended = std::time::Instant::now();
    tokio::time::sleep_until((ended + Duration::from_millis(1800)).into()).await;
    connector
        .execute("tasks", "list", json!({"project": "12"}))
        .await
        .expect("second, within the margin");

    assert_eq!(issued.load(Ordering::SeqCst), 2);
    let bearers = execute_bearers(&server).await;
    assert_eq!(bearers, ["Bearer canary-token-1", "Bearer canary-token-2"]);
}

#[tokio::test]
async fn a_401_renews_the_token_once_and_retries_once() {
    let (server, issued) = service(900).await;
    Mock::given(method("POST"))
        .and(path(EXECUTE_PATH))
        .and(header("authorization", "Bearer canary-token-1"))
        .respond_with(error_answer(401, "token expired", false))
        .mount(&server)
        .await;
    mount_execute(&server, tasks_answer()).await;
    let connector = for_connector(&server);

    let result = connector
        .execute("tasks", "list", json!({"project": "12"}))
        .await
        .expect("the retry succeeds");

    assert_eq!(result["data"], json!([{"gid": "1", "name": "a"}]));
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    let bearers = execute_bearers(&server).await;
    assert_eq!(bearers, ["Bearer canary-token-1", "Bearer canary-token-2"]);
}

#[tokio::test]
async fn a_second_401_is_an_error_without_a_third_try() {
    let (server, issued) = service(900).await;
    mount_execute(&server, error_answer(401, "token expired", false)).await;
    let connector = for_connector(&server);

    let err = failed_get(&connector).await;

    assert!(
        matches!(
            service_error(&err),
            ServiceError::Status { status: 401, .. }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable() && !err.needs_reauthorization());
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    assert_eq!(received(&server, EXECUTE_PATH).await.len(), 2);
}

#[tokio::test]
async fn list_and_get_results_take_the_librarys_shape() {
    let (server, _) = service(900).await;
    Mock::given(method("POST"))
        .and(path(EXECUTE_PATH))
        .and(body_json(
            json!({"entity": "tasks", "action": "list", "params": {"project": "12", "limit": 2}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "result": [{"gid": "1", "name": "a"}, {"gid": "2", "name": "b"}],
            "connector_metadata": {"next_page": {"offset": "eyJ", "path": "/tasks?offset=eyJ"}},
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(EXECUTE_PATH))
        .and(body_json(
            json!({"entity": "tasks", "action": "get", "params": {"task_gid": "1"}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "result": {"gid": "1", "name": "a", "completed": false},
            "connector_metadata": {},
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(EXECUTE_PATH))
        .and(body_json(
            json!({"entity": "users", "action": "list", "params": {}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": []})))
        .mount(&server)
        .await;
    let connector = for_connector(&server);

    let list = connector
        .execute("tasks", "list", json!({"project": "12", "limit": 2}))
        .await
        .expect("list");
    assert_eq!(
        list,
        json!({
            "data": [{"gid": "1", "name": "a"}, {"gid": "2", "name": "b"}],
            "meta": {"next_page": {"offset": "eyJ", "path": "/tasks?offset=eyJ"}},
        })
    );
    let get = connector
        .execute("tasks", "get", json!({"task_gid": "1"}))
        .await
        .expect("get");
    assert_eq!(
        get,
        json!({"data": {"gid": "1", "name": "a", "completed": false}})
    );
    let users = connector
        .execute("users", "list", Value::Null)
        .await
        .expect("null params");
    assert_eq!(users, json!({"data": [], "meta": {"next_page": null}}));

    // The same results as text, `meta` beside them.
    let list = connector
        .execute_json("tasks", "list", json!({"project": "12", "limit": 2}))
        .await
        .expect("list as text");
    assert_eq!(
        list.data.get(),
        r#"[{"gid":"1","name":"a"},{"gid":"2","name":"b"}]"#
    );
    assert_eq!(
        Value::Object(list.meta),
        json!({"next_page": {"offset": "eyJ", "path": "/tasks?offset=eyJ"}})
    );
    let get = connector
        .execute_json("tasks", "get", json!({"task_gid": "1"}))
        .await
        .expect("get as text");
    assert_eq!(
        get.data.get(),
        r#"{"completed":false,"gid":"1","name":"a"}"#
    );
    assert!(get.meta.is_empty(), "{:?}", get.meta);
}

#[tokio::test]
async fn check_maps_healthy_and_unhealthy() {
    let (server, _) = service(900).await;
    let check = json!({"entity": "*", "action": "check", "params": {}});
    Mock::given(method("POST"))
        .and(path(EXECUTE_PATH))
        .and(body_json(check.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "result": {"status": "healthy", "error": null, "checked_entity": "users", "checked_action": "get"},
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(EXECUTE_PATH))
        .and(body_json(check))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "result": {"status": "unhealthy", "error": "Asana rejected the token", "checked_entity": "users", "checked_action": "get"},
        })))
        .mount(&server)
        .await;
    let connector = for_connector(&server);

    let healthy = connector.check().await;
    assert!(healthy.healthy, "{healthy:?}");
    assert_eq!(healthy.reason, None);
    assert_eq!(healthy.message, "connector conn-1 is healthy");
    let unhealthy = connector.check().await;
    assert!(!unhealthy.healthy);
    assert_eq!(unhealthy.reason, Some(UnhealthyReason::Failed));
    assert_eq!(
        unhealthy.message,
        "connector conn-1 is unhealthy: Asana rejected the token"
    );
}

#[tokio::test]
async fn a_failing_check_call_keeps_the_error_class() {
    let (server, _) = service(900).await;
    mount_execute(&server, error_answer(409, "needs reauthorization", false)).await;
    let health = for_connector(&server).check().await;
    assert!(!health.healthy);
    assert_eq!(health.reason, Some(UnhealthyReason::Reauthorize));

    let (server, _) = service(900).await;
    mount_execute(&server, error_answer(503, "upstream down", true)).await;
    let health = for_connector(&server).check().await;
    assert_eq!(health.reason, Some(UnhealthyReason::Unavailable));
}

#[tokio::test]
async fn each_error_status_has_its_class() {
    // (status, retryable flag, Retry-After) -> (retryable, needs reauthorization): the service's
    // flag decides; without one (a proxy's answer), 429 and 5xx are retryable.
    type Case = (u16, Option<bool>, Option<&'static str>, bool, bool);
    let cases: [Case; 9] = [
        (409, Some(false), None, false, true),
        (429, Some(true), Some("7"), true, false),
        (429, None, Some("7"), true, false),
        (502, Some(true), None, true, false),
        (504, None, None, true, false),
        (403, Some(false), None, false, false),
        (503, Some(true), Some("3"), true, false),
        (500, Some(false), None, false, false),
        (500, None, None, true, false),
    ];
    for (status, flag, retry_after, retryable, reauthorize) in cases {
        let (server, _) = service(900).await;
        let mut answer = match flag {
            Some(flag) => error_answer(status, "the service says no", flag),
            None => ResponseTemplate::new(status)
                .set_body_json(json!({ "message": "the proxy says no" })),
        };
        if let Some(seconds) = retry_after {
            answer = answer.insert_header("retry-after", seconds);
        }
        mount_execute(&server, answer).await;
        let err = failed_get(&for_connector(&server)).await;
        assert!(
            matches!(service_error(&err), ServiceError::Status { status: s, .. } if *s == status),
            "{err:?}"
        );
        let ExecuteError::Api(api) = &err else {
            unreachable!("a service error is an API error");
        };
        assert_eq!(
            (err.is_retryable(), err.needs_reauthorization()),
            (retryable, reauthorize),
            "{status}"
        );
        // Only a failure of the service that may pass says to retry; one that will not ends
        // with the service's own message.
        assert_eq!(
            err.to_string().ends_with("; retry later"),
            status >= 500 && retryable,
            "{status}: {err}"
        );
        if status == 500 && flag == Some(false) {
            assert!(
                err.to_string().ends_with("(HTTP 500): the service says no"),
                "{err}"
            );
        }
        assert_eq!(api.status(), Some(status));
        assert_eq!(
            api.retry_after(),
            retry_after.map(|s| Duration::from_secs(s.parse().unwrap())),
            "{status}"
        );
        assert_eq!(err.to_json()["error"]["status"], status, "{status}");
    }
}

#[tokio::test]
async fn a_400_or_422_of_the_service_is_invalid_params() {
    for status in [400, 422] {
        let (server, _) = service(900).await;
        mount_execute(
            &server,
            ResponseTemplate::new(status).set_body_json(json!({
                "message": "invalid params",
                "errors": [{"message": "unknown param `colour`"}, {"message": "missing `name`"}],
                "retryable": false,
            })),
        )
        .await;
        let err = failed_get(&for_connector(&server)).await;
        let ExecuteError::InvalidParams {
            entity,
            action,
            problems,
            allowed,
        } = &err
        else {
            panic!("{status}: {err:?}");
        };
        assert_eq!((entity.as_str(), action.as_str()), ("tasks", "get"));
        assert_eq!(problems, &["unknown param `colour`", "missing `name`"]);
        assert!(allowed.contains("task_gid (string, required)"), "{allowed}");
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn a_404_is_connector_not_found_and_the_lookup_is_repeated() {
    let (server, _) = service(900).await;
    mount_lookup(&server, &[CONNECTOR]).await;
    mount_execute(&server, error_answer(404, "connector not found", false)).await;
    let connector = for_customer(&server);

    for _ in 0..2 {
        let err = failed_get(&connector).await;
        assert!(
            matches!(service_error(&err), ServiceError::ConnectorNotFound { connector, .. } if connector == CONNECTOR),
            "{err:?}"
        );
        assert!(!err.is_retryable());
    }
    assert_eq!(
        received(&server, LOOKUP_PATH).await.len(),
        2,
        "a vanished connector is looked up again"
    );
}

/// A 404 the service passes on from Asana (`source: provider`) is a record Asana does not have:
/// the connector stays known and is not looked up again.
#[tokio::test]
async fn asanas_404_passed_on_is_not_a_missing_connector() {
    let (server, _) = service(900).await;
    mount_lookup(&server, &[CONNECTOR]).await;
    mount_execute(
        &server,
        ResponseTemplate::new(404).set_body_json(json!({
            "message": "Asana answered 404: Not Found",
            "errors": [{"message": "Asana answered 404: Not Found"}],
            "retryable": false,
            "source": "provider",
        })),
    )
    .await;
    let connector = for_customer(&server);

    for _ in 0..2 {
        let err = failed_get(&connector).await;
        assert!(
            matches!(
                service_error(&err),
                ServiceError::Status {
                    status: 404,
                    from_provider: true,
                    outcome_unknown: false,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!err.is_retryable());
    }
    assert_eq!(received(&server, LOOKUP_PATH).await.len(), 1);
}

/// An answer the service marks `outcome_unknown` (Asana failed on a write that may have been
/// applied) is an unknown outcome, though not retryable.
#[tokio::test]
async fn a_write_the_service_says_may_have_run_is_an_unknown_outcome() {
    let (server, _) = service(900).await;
    mount_execute(
        &server,
        ResponseTemplate::new(502).set_body_json(json!({
            "message": "Asana failed",
            "errors": [{"message": "Asana failed"}],
            "retryable": false,
            "source": "provider",
            "outcome_unknown": true,
        })),
    )
    .await;
    let err = failed_create(&for_connector(&server)).await;
    assert_eq!(
        (err.outcome_unknown(), err.is_retryable()),
        (true, false),
        "{err:?}"
    );
}

#[tokio::test]
async fn no_connector_or_several_say_what_to_do() {
    let (server, _) = service(900).await;
    mount_lookup(&server, &[]).await;
    let err = failed_get(&for_customer(&server)).await;
    assert!(
        matches!(service_error(&err), ServiceError::NoConnector { customer, .. } if customer == "acme"),
        "{err:?}"
    );
    assert!(err.to_string().contains("create one"), "{err}");
    assert!(received(&server, EXECUTE_PATH).await.is_empty());

    let (server, _) = service(900).await;
    mount_lookup(&server, &["conn-a", "conn-b"]).await;
    let err = failed_get(&for_customer(&server)).await;
    assert!(
        matches!(service_error(&err), ServiceError::SeveralConnectors { ids, .. } if ids == &["conn-a", "conn-b"]),
        "{err:?}"
    );
    assert!(err.to_string().contains("give the connector id"), "{err}");
}

#[tokio::test]
async fn wrong_application_credentials_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(error_answer(401, "invalid client credentials", false))
        .mount(&server)
        .await;
    let err = failed_get(&for_connector(&server)).await;
    assert!(
        matches!(
            service_error(&err),
            ServiceError::AppCredentials { status: 401, .. }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(received(&server, TOKEN_PATH).await.len(), 1);
    assert!(received(&server, EXECUTE_PATH).await.is_empty());
}

#[tokio::test]
async fn invalid_params_send_nothing() {
    let (server, _) = service(900).await;
    mount_execute(&server, tasks_answer()).await;
    let connector = for_customer(&server);

    let err = connector
        .execute("tasks", "create", json!({"colour": "red"}))
        .await
        .unwrap_err();
    assert!(matches!(err, ExecuteError::InvalidParams { .. }), "{err:?}");
    let err = connector
        .execute("taskz", "list", json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, ExecuteError::UnknownEntity { .. }), "{err:?}");

    assert!(
        server
            .received_requests()
            .await
            .expect("recording")
            .is_empty()
    );
}

/// A service that answers executes after 5 s, and a connector to it that waits 300 ms.
async fn slow_service() -> (MockServer, AsanaConnector) {
    let (server, _) = service(900).await;
    mount_execute(&server, tasks_answer().set_delay(Duration::from_secs(5))).await;
    let connector = AsanaConnector::hosted(
        config(&server, HostedTarget::Connector(CONNECTOR.into()))
            .with_timeout(Duration::from_millis(300)),
    )
    .expect("config");
    (server, connector)
}

#[tokio::test]
async fn a_slow_service_times_out_as_retryable() {
    let (_server, connector) = slow_service().await;
    let err = failed_get(&connector).await;
    assert!(
        matches!(service_error(&err), ServiceError::Timeout { .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

/// A write whose call to the service timed out may have run there: it is reported as an unknown
/// outcome, not retryable, while an idempotent action (a read, a tag's removal) keeps the
/// retryable timeout.
#[tokio::test]
async fn a_write_that_timed_out_at_the_service_is_an_unknown_outcome() {
    let (_server, connector) = slow_service().await;
    let err = failed_create(&connector).await;
    match &err {
        ExecuteError::Api(AsanaError::OutcomeUnknown { cause }) => assert!(
            matches!(**cause, AsanaError::Service(ServiceError::Timeout { .. })),
            "{cause:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(err.outcome_unknown() && !err.is_retryable(), "{err:?}");
    assert!(
        err.to_string()
            .contains("timed out after 300ms; the request may have been applied"),
        "{err}"
    );
    let removal = connector
        .execute("task_tags", "delete", json!({"task_gid": "1", "tag": "2"}))
        .await
        .expect_err("the call fails");
    assert!(
        matches!(service_error(&removal), ServiceError::Timeout { .. }) && removal.is_retryable(),
        "{removal:?}"
    );
}

/// A gateway's "retry" after a write may have run (a 504 of the service's deadline, a proxy's
/// 502) is an unknown outcome too; a 503, the service refusing work, stays retryable.
#[tokio::test]
async fn a_write_a_gateway_gave_up_on_is_an_unknown_outcome() {
    for (status, unknown) in [(504, true), (502, true), (500, true), (503, false)] {
        let (server, _) = service(900).await;
        mount_execute(&server, error_answer(status, "gave up", true)).await;
        let connector =
            AsanaConnector::hosted(config(&server, HostedTarget::Connector(CONNECTOR.into())))
                .expect("config");
        let err = failed_create(&connector).await;
        assert_eq!(
            (err.outcome_unknown(), err.is_retryable()),
            (unknown, !unknown),
            "{status}: {err:?}"
        );
        if unknown {
            assert!(
                err.to_string().contains(&format!(
                    "(HTTP {status}): gave up; the request may have been applied"
                )),
                "{err}"
            );
        }
    }
}

#[tokio::test]
async fn a_connection_that_never_opens_times_out_after_the_connect_timeout() {
    // A listener whose backlog is full and that never accepts: the kernel drops further SYNs,
    // so a connection to it never opens. Connections are made until one does not open.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let address = listener.local_addr().unwrap();
    let mut backlog = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(address),
        )
        .await
        {
            Ok(Ok(stream)) => backlog.push(stream),
            _ => break,
        }
    }
    let config = HostedConfig::new(
        format!("http://{address}").parse().unwrap(),
        CLIENT_ID,
        SecretString::from(SECRET),
        HostedTarget::Connector(CONNECTOR.into()),
    )
    .with_timeout(Duration::from_secs(30));
    let connector = AsanaConnector::hosted(config).expect("config");

    let started = std::time::Instant::now();
    let err = failed_get(&connector).await;
    let took = started.elapsed();
    assert!(
        matches!(service_error(&err), ServiceError::Timeout { timeout, .. } if *timeout == Duration::from_secs(10)),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("timed out after 10000ms; retry later"),
        "{err}"
    );
    assert!(err.is_retryable());
    assert!(
        (Duration::from_secs(10)..Duration::from_secs(20)).contains(&took),
        "{took:?}"
    );
    drop(listener);
}

#[tokio::test]
async fn no_secret_in_errors_or_debug_output() {
    let (server, _) = service(900).await;
    // A service that echoes what it received: the bearer and the application's secret.
    let echoed = format!("bad call with Bearer canary-token-1 and client_secret={SECRET}");
    mount_execute(
        &server,
        ResponseTemplate::new(500).set_body_json(json!({
            "message": echoed,
            "errors": [{"message": echoed}],
            "retryable": true,
        })),
    )
    .await;
    let connector = for_connector(&server);
    let debug = format!("{connector:?}");
    assert!(debug.contains(CLIENT_ID), "{debug}");

    let err = failed_get(&connector).await;
    let texts = [
        debug,
        err.to_string(),
        format!("{err:?}"),
        err.to_json().to_string(),
        format!(
            "{:?}",
            config(&server, HostedTarget::Customer("acme".into()))
        ),
    ];
    for text in texts {
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("canary-token-1"), "{text}");
    }
    assert!(err.to_string().contains("[REDACTED]"), "{err}");
}

#[tokio::test]
async fn redirects_are_not_followed_so_the_bearer_stays_with_the_service() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(tasks_answer())
        .mount(&elsewhere)
        .await;
    let (server, _) = service(900).await;
    mount_execute(
        &server,
        ResponseTemplate::new(307)
            .insert_header("location", format!("{}/steal", elsewhere.uri()).as_str()),
    )
    .await;

    let err = failed_get(&for_connector(&server)).await;

    assert!(
        matches!(
            service_error(&err),
            ServiceError::Status { status: 307, .. }
        ),
        "{err:?}"
    );
    assert!(
        elsewhere
            .received_requests()
            .await
            .expect("recording")
            .is_empty()
    );
}

#[tokio::test]
async fn an_answer_of_another_shape_is_an_invalid_answer() {
    let (server, _) = service(900).await;
    Mock::given(method("GET"))
        .and(path(LOOKUP_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"connectors": []})))
        .mount(&server)
        .await;
    let err = failed_get(&for_customer(&server)).await;
    assert!(
        matches!(service_error(&err), ServiceError::InvalidAnswer { reason, .. } if reason == "no `data` array"),
        "{err:?}"
    );

    let (server, _) = service(900).await;
    mount_execute(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({"data": {"gid": "1"}})),
    )
    .await;
    let err = failed_get(&for_connector(&server)).await;
    assert!(
        matches!(service_error(&err), ServiceError::InvalidAnswer { reason, .. } if reason == "no `result`"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn select_fields_and_the_result_cap_apply_as_for_a_local_connector() {
    let (server, _) = service(900).await;
    mount_execute(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({
            "result": [{"gid": "1", "name": "a", "notes": "long notes"}],
            "connector_metadata": {"next_page": null},
        })),
    )
    .await;
    let connector = for_connector(&server);

    let selected = connector
        .execute(
            "tasks",
            "list",
            json!({"project": "12", "select_fields": ["name"]}),
        )
        .await
        .expect("list");
    assert_eq!(
        selected,
        json!({"data": [{"gid": "1", "name": "a"}], "meta": {"next_page": null}})
    );

    let err = connector
        .with_max_result_chars(20)
        .execute("tasks", "list", json!({"project": "12"}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ExecuteError::ResultTooLarge { max: 20, .. }),
        "{err:?}"
    );
}
