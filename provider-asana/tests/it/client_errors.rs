//! Error classes: the `errors[]` envelope, 400/402/403/404, decode errors, bodies over their
//! limit, token-source failures; and that no error text carries the token.

use crate::client_support;

use std::sync::Arc;

use auth_core::ErrorClass;
use client_support::raw::{RawServer, Reply};
use client_support::{CountingTokenSource, client, client_with, settings, settings_at};
use provider_asana::{AsanaClient, AsanaError};
use reqwest::Method;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn assert_no_token(err: &AsanaError) {
    let text = format!("{err} {err:?}");
    assert!(!text.contains("token-1"), "{text}");
}

#[tokio::test]
async fn bad_request_carries_messages_and_help() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/tasks"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"errors": [
            {"message": "workspace: Missing input", "help": "For more information on API status codes and how to handle them, read the docs on errors: https://developers.asana.com/docs/errors"},
            {"message": "name: Too long"}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let err = client
        .tasks()
        .create(&json!({"projects": ["1"]}))
        .await
        .unwrap_err();
    let AsanaError::BadRequest(info) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(info.status, 400);
    assert_eq!(info.method, "POST");
    assert_eq!(info.path, "/api/1.0/tasks");
    assert_eq!(
        info.messages(),
        vec!["workspace: Missing input", "name: Too long"]
    );
    assert!(info.help().unwrap().starts_with("For more information"));
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        "Asana POST /api/1.0/tasks (HTTP 400): workspace: Missing input (help: For more information on API status codes and how to handle them, read the docs on errors: https://developers.asana.com/docs/errors); name: Too long: the request was rejected as invalid; fix its parameters or body"
    );
    assert_no_token(&err);
}

#[tokio::test]
async fn premium_forbidden_and_not_found_are_distinct() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/workspaces/7/tasks/search"))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({"errors": [
            {"message": "Search is only available to premium users."}
        ]})))
        .mount(&server)
        .await;
    for m in ["GET", "POST", "PUT", "DELETE"] {
        Mock::given(method(m))
            .and(wiremock::matchers::path_regex(r"^/api/1\.0/tasks(/1)?$"))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({"errors": [
                {"message": "Forbidden"}
            ]})))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/api/1.0/projects/404"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"errors": [
            {"message": "project: Unknown object: 404"}
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/projects/451"))
        .respond_with(ResponseTemplate::new(451))
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let err = client
        .tasks()
        .search(Some("7"))
        .param("text", "x")
        .page()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AsanaError::PremiumRequired(info) if info.status == 402),
        "{err:?}"
    );
    assert!(err.to_string().contains("premium"));

    let scope = |err: AsanaError| match err {
        AsanaError::Forbidden {
            likely_missing_scope,
            info,
        } => {
            assert_eq!(info.status, 403);
            likely_missing_scope
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        scope(client.tasks().get("1", &[]).await.unwrap_err()).as_deref(),
        Some("tasks:read")
    );
    assert_eq!(
        scope(
            client
                .tasks()
                .create(&json!({"workspace": "1"}))
                .await
                .unwrap_err()
        )
        .as_deref(),
        Some("tasks:write")
    );
    assert_eq!(
        scope(
            client
                .tasks()
                .update("1", &json!({"name": "x"}))
                .await
                .unwrap_err()
        )
        .as_deref(),
        Some("tasks:write")
    );
    let err = client.tasks().delete("1").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("the token probably lacks the `tasks:delete` scope"),
        "{err}"
    );
    assert_eq!(scope(err).as_deref(), Some("tasks:delete"));

    let err = client.projects().get("404", &[]).await.unwrap_err();
    assert!(
        matches!(&err, AsanaError::NotFound(info) if info.messages() == vec!["project: Unknown object: 404"]),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.class(), ErrorClass::Permanent);

    let err = client.projects().get("451", &[]).await.unwrap_err();
    assert!(
        matches!(&err, AsanaError::UnexpectedStatus(info) if info.status == 451 && info.errors.is_empty()),
        "{err:?}"
    );
}

#[tokio::test]
async fn decode_errors_never_echo_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": "access_token=token-1-leaked-secret"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tasks/1"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>token-1</html>"))
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let err = client.get_user("me").await.unwrap_err();
    let AsanaError::Decode {
        status, expected, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 200);
    assert!(expected.ends_with("User>"), "{expected}");
    assert!(!format!("{err} {err:?}").contains("leaked-secret"));
    assert_no_token(&err);

    let err = client
        .request(Method::GET, "/tasks/1", &[], None)
        .await
        .unwrap_err();
    assert!(matches!(err, AsanaError::Decode { .. }), "{err:?}");
    assert_no_token(&err);
}

#[tokio::test]
async fn token_source_failures_keep_their_class_and_send_nothing() {
    let server = MockServer::start().await;
    let tokens = CountingTokenSource::failing("invalid_grant");
    let client: AsanaClient =
        AsanaClient::new(tokens.clone() as Arc<_>, settings(&server)).unwrap();

    let err = client.get_user("me").await.unwrap_err();
    assert!(matches!(err, AsanaError::Auth(_)), "{err:?}");
    assert!(err.needs_reauthorization());
    assert!(err.to_string().starts_with(
        "cannot get an Asana access token: asana: the credentials of `alice` need re-authorization"
    ));
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// An API that refuses with `status` and echoes the `Authorization` header into every text field
/// of its error, behind terminal escape sequences.
struct EchoingApi {
    status: u16,
}

impl wiremock::Respond for EchoingApi {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let authorization = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_string();
        ResponseTemplate::new(self.status)
            .insert_header("Retry-After", "3600")
            .set_body_json(json!({"errors": [{
                "message": format!("\u{1b}]0;pwned\u{7}\u{1b}[2Jbad\r auth: {authorization}"),
                "help": format!("\u{9b}31m{authorization}"),
                "phrase": authorization,
            }]}))
    }
}

#[tokio::test]
async fn echoed_bearer_tokens_and_escape_sequences_never_reach_an_error() {
    const TOKENS: [&str; 2] = ["2/echo+token/1=", "2/echo+token/2="];
    let server = MockServer::start().await;
    for (route, status) in [
        ("/api/1.0/tasks/400", 400),
        ("/api/1.0/tasks/401", 401),
        ("/api/1.0/tasks/429", 429),
        ("/api/1.0/tasks", 500),
        ("/api/1.0/events", 412),
    ] {
        Mock::given(path(route))
            .respond_with(EchoingApi { status })
            .mount(&server)
            .await;
    }
    let client = AsanaClient::new(CountingTokenSource::new(&TOKENS), settings(&server)).unwrap();

    let errors = [
        client.tasks().get("400", &[]).await.unwrap_err(),
        client.tasks().get("401", &[]).await.unwrap_err(),
        client.tasks().get("429", &[]).await.unwrap_err(),
        client
            .request(Method::POST, "/tasks", &[], Some(json!({"name": "x"})))
            .await
            .unwrap_err(),
        client.events().get("1", None).await.unwrap_err(),
    ];
    let statuses: Vec<Option<u16>> = errors.iter().map(AsanaError::status).collect();
    assert_eq!(
        statuses,
        [Some(400), Some(401), Some(429), Some(500), Some(412)]
    );
    for err in &errors {
        let info = err.api_info().expect("an API error");
        assert_eq!(info.messages(), ["bad auth: Bearer [REDACTED]"], "{err:?}");
        assert_eq!(info.help(), Some("Bearer [REDACTED]"), "{err:?}");
        assert_eq!(info.phrase(), Some("Bearer [REDACTED]"), "{err:?}");
        let text = format!("{err} {err:?}");
        for token in TOKENS {
            assert!(!text.contains(token), "{text}");
        }
        assert!(
            !text.chars().any(|c| c.is_control()) && !text.contains("pwned"),
            "{text:?}"
        );
    }
}

/// A JSON object of exactly `size` bytes.
fn json_of_size(size: usize) -> Vec<u8> {
    let mut body = br#"{"data": {"gid": "1", "notes": ""}}"#.to_vec();
    let padding = size - body.len();
    body.splice(
        body.len() - 3..body.len() - 3,
        std::iter::repeat_n(b'x', padding),
    );
    body
}

#[tokio::test]
async fn a_response_over_the_configured_limit_is_refused_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tasks/1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(json_of_size(1024), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tasks/2"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(json_of_size(1025), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_with(settings(&server).with_max_response_bytes(1024));

    let at_the_limit = client.tasks().get("1", &[]).await.unwrap();
    assert_eq!(at_the_limit.gid, "1");
    let err = client.tasks().get("2", &[]).await.unwrap_err();
    assert!(
        matches!(
            &err,
            AsanaError::ResponseTooLarge { method, path, status: 200, limit: 1024 }
                if method == "GET" && path == "/api/1.0/tasks/2"
        ),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(err.status(), Some(200));
    assert!(!format!("{err} {err:?}").contains("xxx"));
    server.verify().await;
}

#[tokio::test]
async fn an_error_body_over_one_mebibyte_is_refused_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tasks/1"))
        .respond_with(ResponseTemplate::new(503).set_body_raw(
            json!({"errors": [{"message": "x".repeat(2 * 1024 * 1024)}]}).to_string(),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let err = client.tasks().get("1", &[]).await.unwrap_err();
    assert!(
        matches!(
            &err,
            AsanaError::ResponseTooLarge {
                status: 503,
                limit: 1_048_576,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("xxx"));
    server.verify().await;
}

#[tokio::test]
async fn a_body_without_a_length_is_cut_at_the_limit_while_it_streams() {
    // 4 MiB of JSON whitespace in 64 KiB pieces, the end marked only by closing the connection.
    let server = RawServer::start(|_| Reply::without_length(64, 64 * 1024)).await;
    let (client, _) = client_with(settings_at(&server.uri).with_max_response_bytes(256 * 1024));

    let err = client.get_user("me").await.unwrap_err();
    assert!(
        matches!(
            &err,
            AsanaError::ResponseTooLarge {
                status: 200,
                limit: 262_144,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.connections(), 1, "not retried");
}

#[tokio::test]
async fn a_token_that_is_not_a_header_value_is_a_permanent_invalid_request() {
    let server = MockServer::start().await;
    let tokens = Arc::new(auth_core::StaticTokenSource::new(
        "asana",
        "alice",
        "pat-canary\n".into(),
    ));
    let client = AsanaClient::new(tokens, settings(&server)).unwrap();

    let err = client.get_user("me").await.unwrap_err();
    assert!(
        matches!(&err, AsanaError::InvalidRequest { method, path, .. }
            if method == "GET" && path == "/api/1.0/users/me"),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        "Asana GET /api/1.0/users/me: the request could not be built, so nothing was sent: the access token is not a valid HTTP header value (it holds a line break or another character a header cannot carry): check the token that was configured"
    );
    let download = client
        .attachments()
        .download_from(&format!("{}/api/1.0/files/1", server.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(&download, AsanaError::InvalidRequest { method, path, .. }
            if method == "GET" && path == "/api/1.0/files/1"),
        "{download:?}"
    );
    assert!(!download.is_retryable());
    for err in [&err, &download] {
        let text = format!("{err} {err:?}");
        assert!(!text.contains("pat-canary"), "{text}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}
