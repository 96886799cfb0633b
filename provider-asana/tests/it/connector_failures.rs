//! `execute` failures: invalid calls are refused before any request (and never retryable), and API
//! failures arrive classified (retryable, needs re-authorization, HTTP status) in the error and in
//! its `to_json()` form.
//!
//! The retry tests run in real time, with the client's retries shrunk to milliseconds.

use crate::client_support;

use std::time::{Duration, Instant};

use auth_core::{ErrorClass, SecretString};
use client_support::{fast_retry, settings, slow_backoff};
use provider_asana::connector::{AsanaConnector, ExecuteError};
use provider_asana::{AsanaClientSettings, AsanaError};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn connector(server: &MockServer) -> AsanaConnector {
    connector_with(settings(server))
}

fn connector_with(settings: AsanaClientSettings) -> AsanaConnector {
    AsanaConnector::with_token_and_settings(SecretString::from("pat-token"), settings).unwrap()
}

/// The problems of an `InvalidParams` error (panics on any other error).
fn problems(err: &ExecuteError) -> Vec<String> {
    match err {
        ExecuteError::InvalidParams { problems, .. } => problems.clone(),
        other => panic!("expected InvalidParams, got {other:?}"),
    }
}

/// Runs `entity.action` with `params` against a server with no mocks, asserts that nothing reached
/// it and that the error is neither retryable nor a re-authorization, and returns the error.
async fn refused(entity: &str, action: &str, params: Value) -> ExecuteError {
    let server = MockServer::start().await;
    let err = connector(&server)
        .execute(entity, action, params.clone())
        .await
        .expect_err("the call must be refused");
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "{entity}.{action} {params}: nothing may be sent"
    );
    assert!(!err.is_retryable(), "{entity}.{action}: {err}");
    assert!(!err.needs_reauthorization(), "{entity}.{action}: {err}");
    assert_eq!(
        err.class(),
        ErrorClass::Permanent,
        "{entity}.{action}: {err}"
    );
    let json = err.to_json();
    assert_eq!(json["error"]["retryable"], false);
    assert_eq!(json["error"]["needs_reauthorization"], false);
    assert!(json["error"].get("status").is_none(), "{json}");
    err
}

#[tokio::test]
async fn unknown_entity_lists_the_entities() {
    let err = refused("taskz", "list", json!({})).await;
    match &err {
        ExecuteError::UnknownEntity { entity, available } => {
            assert_eq!(entity, "taskz");
            assert!(
                available.starts_with("tasks, project_tasks, workspace_task_search, projects"),
                "{available}"
            );
            assert!(
                available.ends_with("webhooks, time_periods, jobs, batch"),
                "{available}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.to_json()["error"]["kind"], "unknown_entity");
}

#[tokio::test]
async fn unknown_action_lists_the_entity_actions() {
    let err = refused("tasks", "archive", json!({})).await;
    assert_eq!(
        err.to_string(),
        "entity `tasks` has no action `archive`; available actions: list, get, create, update, delete"
    );
    assert_eq!(err.to_json()["error"]["kind"], "unknown_action");
    let err = refused("attachments", "update", json!({"attachment_gid": "1"})).await;
    assert!(matches!(
        &err,
        ExecuteError::UnknownAction { available, .. } if available == "list, get, create, download, delete"
    ));
}

#[tokio::test]
async fn unknown_params_are_named() {
    let err = refused(
        "tasks",
        "get",
        json!({"task_gid": "1", "bogus": 1, "opt_field": ["name"]}),
    )
    .await;
    assert_eq!(
        problems(&err),
        ["unknown param `bogus`", "unknown param `opt_field`"]
    );
    assert_eq!(
        err.to_string(),
        "invalid params for tasks.get: unknown param `bogus`; unknown param `opt_field`; \
         allowed params: task_gid (string, required), opt_fields (array of strings), \
         select_fields (array of strings), exclude_fields (array of strings)"
    );
    assert_eq!(err.to_json()["error"]["kind"], "invalid_params");
}

#[tokio::test]
async fn wrong_types_say_what_was_expected() {
    let cases: Vec<(&str, &str, Value, Vec<&str>)> = vec![
        (
            "tasks",
            "update",
            json!({"task_gid": "1", "completed": "yes"}),
            vec!["`completed` must be boolean, got a string"],
        ),
        (
            "tasks",
            "get",
            json!({"task_gid": 12}),
            vec!["`task_gid` must be string, got a number"],
        ),
        (
            "tasks",
            "get",
            json!({"task_gid": ""}),
            vec!["`task_gid` must not be empty"],
        ),
        (
            "tasks",
            "get",
            json!({"task_gid": "1", "opt_fields": ["name", 3]}),
            vec!["`opt_fields` must be array of strings, got an array"],
        ),
        (
            "tasks",
            "get",
            json!({"task_gid": "1", "opt_fields": "name"}),
            vec!["`opt_fields` must be array of strings, got a string"],
        ),
        (
            "tasks",
            "update",
            json!({"task_gid": "1", "custom_fields": "high"}),
            vec!["`custom_fields` must be object, got a string"],
        ),
        (
            "tasks",
            "create",
            json!({"workspace": "1", "name": null}),
            vec!["`name` cannot be null: Asana clears only nullable fields of updates"],
        ),
        (
            "projects",
            "update",
            json!({"project_gid": "1", "archived": null}),
            vec![
                "`archived` cannot be null: Asana clears only nullable fields of updates; leave it out to keep its value",
            ],
        ),
        (
            "projects",
            "update",
            json!({"project_gid": "1", "default_view": "gantt"}),
            vec!["`default_view` must be one of list|board|calendar|timeline, got \"gantt\""],
        ),
        (
            "workspace_task_search",
            "list",
            json!({"workspace_gid": "1", "sort_by": 1}),
            vec![
                "`sort_by` must be one of due_date|created_at|completed_at|likes|modified_at|relevance, got a number",
            ],
        ),
        (
            "projects",
            "list",
            json!({"workspace": "1", "limit": "10"}),
            vec!["`limit` must be integer 1..=100, got a string"],
        ),
        (
            "projects",
            "list",
            json!({"workspace": "1", "limit": 10.5}),
            vec!["`limit` must be integer 1..=100, got a number"],
        ),
        (
            "tasks",
            "list",
            json!([{"project": "1"}]),
            vec![
                "params must be a JSON object, got an array",
                "needs one of: project, or section, or tag, or assignee + workspace",
            ],
        ),
    ];
    for (entity, action, params, expected) in cases {
        let err = refused(entity, action, params.clone()).await;
        assert_eq!(problems(&err), expected, "{entity}.{action} {params}");
    }
}

#[tokio::test]
async fn missing_required_params_are_named() {
    let err = refused("tasks", "get", json!({})).await;
    assert_eq!(problems(&err), ["missing required param `task_gid`"]);
    let err = refused("user_teams", "list", Value::Null).await;
    assert_eq!(
        problems(&err),
        [
            "missing required param `user_gid`",
            "missing required param `organization`"
        ]
    );
    let err = refused("task_tags", "create", json!({"task_gid": "1"})).await;
    assert_eq!(problems(&err), ["missing required param `tag`"]);
    let err = refused("projects", "create", json!({"workspace": "1"})).await;
    assert_eq!(problems(&err), ["missing required param `name`"]);
}

#[tokio::test]
async fn any_of_rules_need_one_complete_group() {
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "tasks",
            "list",
            json!({"assignee": "me"}),
            "needs one of: project, or section, or tag, or assignee + workspace",
        ),
        (
            "tasks",
            "list",
            json!({"workspace": "1", "limit": 10}),
            "needs one of: project, or section, or tag, or assignee + workspace",
        ),
        (
            "tasks",
            "create",
            json!({"name": "Orphan", "tags": ["5"]}),
            "needs one of: workspace, or projects, or parent",
        ),
        (
            "projects",
            "list",
            json!({"archived": false}),
            "needs one of: workspace, or team",
        ),
        (
            "projects",
            "create",
            json!({"name": "Nowhere"}),
            "needs one of: workspace, or team",
        ),
        (
            "sections",
            "move",
            json!({"project_gid": "1", "section": "2"}),
            "needs one of: before_section, or after_section",
        ),
        (
            "task_stories",
            "create",
            json!({"task_gid": "1", "is_pinned": true}),
            "needs one of: text, or html_text",
        ),
    ];
    for (entity, action, params, expected) in cases {
        let err = refused(entity, action, params.clone()).await;
        assert_eq!(problems(&err), [expected], "{entity}.{action} {params}");
    }
}

#[tokio::test]
async fn limit_must_be_between_1_and_100() {
    for (limit, problem) in [
        (0, "`limit` must be between 1 and 100, got 0"),
        (101, "`limit` must be between 1 and 100, got 101"),
        (-5, "`limit` must be between 1 and 100, got -5"),
    ] {
        let err = refused("tasks", "list", json!({"project": "1", "limit": limit})).await;
        assert_eq!(problems(&err), [problem]);
        let err = refused(
            "workspace_task_search",
            "list",
            json!({"workspace_gid": "1", "limit": limit}),
        )
        .await;
        assert_eq!(problems(&err), [problem]);
    }
    for entity in ["workspace_users", "team_users"] {
        let gid = if entity == "team_users" {
            "team_gid"
        } else {
            "workspace_gid"
        };
        let err = refused(entity, "list", json!({gid: "1", "limit": 101})).await;
        assert_eq!(
            problems(&err),
            ["`limit` must be between 1 and 100, got 101"],
            "{entity} page with limit like every other list"
        );
    }
}

/// A task goes before one task or after one, not both; a section combines with either (Asana's
/// spec: the anchor then places the task within the section).
#[tokio::test]
async fn a_task_is_placed_by_one_anchor_at_most() {
    let err = refused(
        "task_projects",
        "create",
        json!({"task_gid": "1", "project": "2", "insert_before": "3", "insert_after": "4", "section": "5"}),
    )
    .await;
    assert_eq!(
        problems(&err),
        ["give only one of: insert_after, insert_before"]
    );
    let err = refused(
        "task_parent",
        "update",
        json!({"task_gid": "1", "parent": "2", "insert_before": "3", "insert_after": "4"}),
    )
    .await;
    assert_eq!(
        problems(&err),
        ["give only one of: insert_after, insert_before"]
    );
}

#[tokio::test]
async fn dot_segments_are_refused_as_gids() {
    for (entity, action, params) in [
        ("tasks", "delete", json!({"task_gid": ".."})),
        ("tasks", "get", json!({"task_gid": "."})),
        ("task_tags", "create", json!({"task_gid": "..", "tag": "5"})),
    ] {
        let err = refused(entity, action, params).await;
        assert_eq!(
            problems(&err),
            ["`task_gid` must be a gid, not a dot segment"]
        );
    }
}

#[tokio::test]
async fn every_problem_is_reported_at_once_in_param_order() {
    let err = refused(
        "tasks",
        "create",
        json!({"name": 1, "completed": "no", "color": "red"}),
    )
    .await;
    assert_eq!(
        problems(&err),
        [
            "unknown param `color`",
            "`completed` must be boolean, got a string",
            "`name` must be string, got a number",
            "needs one of: workspace, or projects, or parent",
        ]
    );
}

fn rate_limited() -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("Retry-After", "0.25")
        .set_body_json(json!({"errors": [{"message": "You have made too many requests recently. Please, be chill."}]}))
}

fn unavailable() -> ResponseTemplate {
    ResponseTemplate::new(503)
        .set_body_json(json!({"errors": [{"message": "Service Unavailable"}]}))
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn rate_limit_exhausting_the_wait_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(rate_limited())
        .mount(&server)
        .await;

    let started = Instant::now();
    let err = connector_with(settings(&server).with_retry(fast_retry()))
        .execute("users", "get", json!({"user_gid": "me"}))
        .await
        .unwrap_err();

    // The budget is 500 ms: two waits of 250 ms, then the third 429 is returned.
    assert_eq!(requests(&server).await, 3);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(500) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert!(
        matches!(&err, ExecuteError::Api(AsanaError::RateLimited { retry_after: Some(d), waited, .. })
            if *d == Duration::from_millis(250) && *waited == Duration::from_millis(500)),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(!err.needs_reauthorization());
    assert_eq!(err.class(), ErrorClass::Transient);
    let json = err.to_json();
    assert_eq!(
        json,
        json!({"error": {
            "kind": "api",
            "message": err.to_string(),
            "retryable": true,
            "needs_reauthorization": false,
            "status": 429,
        }})
    );
    assert!(err.to_string().contains("rate limited by Asana"), "{err}");
}

#[tokio::test]
async fn server_error_on_get_is_retried_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tasks/12"))
        .respond_with(unavailable())
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tasks/12"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"gid": "12"}})))
        .with_priority(2)
        .mount(&server)
        .await;

    let result = connector_with(settings(&server).with_retry(fast_retry()))
        .execute("tasks", "get", json!({"task_gid": "12"}))
        .await
        .unwrap();

    assert_eq!(result, json!({"data": {"gid": "12"}}));
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn server_error_on_a_create_is_sent_once_and_not_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/tasks"))
        .respond_with(unavailable())
        .mount(&server)
        .await;

    // A retry would first back off for at least 5 s.
    let started = Instant::now();
    let err = connector_with(settings(&server).with_retry(slow_backoff()))
        .execute("tasks", "create", json!({"name": "Once", "workspace": "1"}))
        .await
        .unwrap_err();

    assert_eq!(requests(&server).await, 1, "a POST is never replayed");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(&err, ExecuteError::Api(AsanaError::OutcomeUnknown { cause })
            if matches!(&**cause, AsanaError::Server(info) if info.status == 503)),
        "{err:?}"
    );
    // Asana may have created the task: repeating the call could create a second one.
    assert!(!err.is_retryable());
    assert!(err.outcome_unknown());
    assert_eq!(
        err.to_json(),
        json!({"error": {
            "kind": "api",
            "message": "Asana POST /api/1.0/tasks (HTTP 503): Service Unavailable: Asana server error; the request may have been applied all the same, so it was not retried: check whether it took effect (read the object back) before repeating it, or it may be applied twice",
            "retryable": false,
            "needs_reauthorization": false,
            "status": 503,
            "outcome_unknown": true,
        }})
    );
}

#[tokio::test]
async fn server_error_on_an_idempotent_post_is_sent_once_and_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/tasks/7/removeTag"))
        .respond_with(unavailable())
        .mount(&server)
        .await;

    let err = connector_with(settings(&server).with_retry(slow_backoff()))
        .execute("task_tags", "delete", json!({"task_gid": "7", "tag": "9"}))
        .await
        .unwrap_err();

    assert_eq!(requests(&server).await, 1, "a POST is never replayed");
    // Removing a tag twice removes it once: the call may be repeated.
    assert!(
        matches!(&err, ExecuteError::Api(AsanaError::Server(info)) if info.status == 503),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(!err.outcome_unknown());
    let json = err.to_json();
    assert_eq!(json["error"]["retryable"], true);
    assert!(json["error"].get("outcome_unknown").is_none(), "{json}");
}

#[tokio::test]
async fn premium_required_is_not_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/workspaces/1/tasks/search"))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({"errors": [
            {"message": "Search is only available to premium users.", "help": "Upgrade"}
        ]})))
        .expect(1)
        .mount(&server)
        .await;

    let err = connector(&server)
        .execute(
            "workspace_task_search",
            "list",
            json!({"workspace_gid": "1", "text": "x"}),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(&err, ExecuteError::Api(AsanaError::PremiumRequired(_))),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(!err.needs_reauthorization());
    assert_eq!(
        err.to_json(),
        json!({"error": {
            "kind": "api",
            "message": "Asana GET /api/1.0/workspaces/1/tasks/search (HTTP 402): Search is only available to premium users. (help: Upgrade): this feature needs a premium Asana workspace",
            "retryable": false,
            "needs_reauthorization": false,
            "status": 402,
        }})
    );
}

#[tokio::test]
async fn unauthorized_with_a_token_that_cannot_be_refreshed_needs_reauthorization() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/users/me"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"errors": [{"message": "Not Authorized"}]})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let err = connector(&server)
        .execute("users", "get", json!({"user_gid": "me"}))
        .await
        .unwrap_err();

    assert!(
        matches!(
            &err,
            ExecuteError::Api(AsanaError::Unauthorized {
                refreshed: false,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.needs_reauthorization());
    assert_eq!(err.class(), ErrorClass::NeedsReauthorization);
    assert!(!err.is_retryable());
    let json = err.to_json();
    assert_eq!(json["error"]["needs_reauthorization"], true);
    assert_eq!(json["error"]["retryable"], false);
    assert_eq!(json["error"]["status"], 401);
    assert_eq!(json["error"]["kind"], "api");
}

#[tokio::test]
async fn not_found_and_forbidden_are_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/api/1.0/tasks/404"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"errors": [{"message": "task: Unknown object"}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/1.0/tasks/403"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(json!({"errors": [{"message": "Forbidden"}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let connector = connector(&server);

    let err = connector
        .execute("tasks", "delete", json!({"task_gid": "404"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ExecuteError::Api(AsanaError::NotFound(_))),
        "{err:?}"
    );
    assert!(!err.is_retryable() && !err.needs_reauthorization());
    assert_eq!(err.to_json()["error"]["status"], 404);

    let err = connector
        .execute("tasks", "update", json!({"task_gid": "403", "name": "x"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ExecuteError::Api(AsanaError::Forbidden { likely_missing_scope: Some(scope), .. }) if scope == "tasks:write"),
        "{err:?}"
    );
    assert!(!err.is_retryable() && !err.needs_reauthorization());
    assert_eq!(err.to_json()["error"]["status"], 403);
    server.verify().await;
}

#[test]
fn every_action_refuses_missing_required_params_and_unknown_ones() {
    for entity in AsanaConnector::catalog() {
        for action in &entity.actions {
            let required: Vec<String> = action.params_schema["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|name| format!("missing required param `{}`", name.as_str().unwrap()))
                .collect();
            let err = AsanaConnector::validate(entity.entity, action.action, &json!({"bogus": 1}))
                .expect_err("refused before any request");
            let found = problems(&err);
            assert_eq!(
                found[0], "unknown param `bogus`",
                "{}.{}",
                entity.entity, action.action
            );
            for problem in &required {
                assert!(
                    found.contains(problem),
                    "{}.{}: {found:?}",
                    entity.entity,
                    action.action
                );
            }
        }
    }
}
