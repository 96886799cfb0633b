//! Pagination: `limit=100`, following `next_page.offset` lazily, caps, raw lists.

use crate::client_support;

use client_support::client;
use futures::{StreamExt, TryStreamExt};
use provider_asana::AsanaError;
use provider_asana::models::Task;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn tasks(from: usize, n: usize) -> Vec<Value> {
    (from..from + n)
        .map(|i| json!({"gid": i.to_string(), "resource_type": "task", "name": format!("t{i}")}))
        .collect()
}

fn page(from: usize, n: usize, next: Option<&str>) -> ResponseTemplate {
    let next_page = next.map(|offset| {
        json!({
            "offset": offset,
            "path": format!("/projects/1/tasks?limit=100&offset={offset}"),
            "uri": format!("https://app.asana.com/api/1.0/projects/1/tasks?limit=100&offset={offset}")
        })
    });
    ResponseTemplate::new(200)
        .set_body_json(json!({"data": tasks(from, n), "next_page": next_page}))
}

/// Mounts three pages of 100, 100 and 50 tasks, each expected `expected[i]` times.
async fn mount_three_pages(server: &MockServer, expected: [u64; 3]) {
    Mock::given(method("GET"))
        .and(path("/api/1.0/projects/1/tasks"))
        .and(query_param("limit", "100"))
        .and(query_param("opt_fields", "name,completed"))
        .and(query_param_is_missing("offset"))
        .respond_with(page(0, 100, Some("eyJvZmZzZXQiOjEwMH0")))
        .expect(expected[0])
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/projects/1/tasks"))
        .and(query_param("limit", "100"))
        .and(query_param("opt_fields", "name,completed"))
        .and(query_param("offset", "eyJvZmZzZXQiOjEwMH0"))
        .respond_with(page(100, 100, Some("eyJvZmZzZXQiOjIwMH0")))
        .expect(expected[1])
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/projects/1/tasks"))
        .and(query_param("limit", "100"))
        .and(query_param("opt_fields", "name,completed"))
        .and(query_param("offset", "eyJvZmZzZXQiOjIwMH0"))
        .respond_with(page(200, 50, None))
        .expect(expected[2])
        .mount(server)
        .await;
}

#[tokio::test]
async fn stream_follows_offsets_across_three_pages() {
    let server = MockServer::start().await;
    mount_three_pages(&server, [1, 1, 1]).await;
    let (client, _) = client(&server);

    let all: Vec<Task> = client
        .tasks()
        .list_for_project("1")
        .opt_fields(&["name", "completed"])
        .stream()
        .try_collect()
        .await
        .unwrap();

    assert_eq!(all.len(), 250);
    let gids: Vec<String> = all.iter().map(|t| t.gid.clone()).collect();
    let expected: Vec<String> = (0..250).map(|i| i.to_string()).collect();
    assert_eq!(gids, expected);
    let offsets: Vec<Option<String>> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "offset")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert_eq!(
        offsets,
        vec![
            None,
            Some("eyJvZmZzZXQiOjEwMH0".to_string()),
            Some("eyJvZmZzZXQiOjIwMH0".to_string())
        ]
    );
}

#[tokio::test]
async fn stream_is_lazy_and_stops_at_the_cap() {
    let server = MockServer::start().await;
    // 150 items need the first two pages only.
    mount_three_pages(&server, [1, 1, 0]).await;
    let (client, _) = client(&server);

    let mut stream = client
        .tasks()
        .list_for_project("1")
        .opt_fields(&["name", "completed"])
        .stream()
        .take_items(150);
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.gid, "0");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    let rest: Vec<Task> = stream.try_collect().await.unwrap();
    assert_eq!(rest.len(), 149);
    assert_eq!(rest.last().unwrap().gid, "149");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_cap_below_the_page_size_shrinks_the_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/workspaces/7/projects"))
        .and(query_param("limit", "30"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": tasks(0, 30), "next_page": {"offset": "next"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);
    let projects: Vec<_> = client
        .projects()
        .list_for_workspace(Some("7"))
        .stream()
        .take_items(30)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(projects.len(), 30);

    let none: Vec<_> = client
        .projects()
        .list_for_workspace(Some("7"))
        .stream()
        .take_items(0)
        .try_collect()
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn page_returns_next_page_metadata() {
    let server = MockServer::start().await;
    mount_three_pages(&server, [1, 1, 0]).await;
    let (client, _) = client(&server);

    let first = client
        .tasks()
        .list_for_project("1")
        .opt_fields(&["name", "completed"])
        .page()
        .await
        .unwrap();
    assert_eq!(first.data.len(), 100);
    let next = first.next_page.unwrap();
    assert_eq!(next.offset, "eyJvZmZzZXQiOjEwMH0");
    assert_eq!(
        next.path.as_deref(),
        Some("/projects/1/tasks?limit=100&offset=eyJvZmZzZXQiOjEwMH0")
    );

    let second = client
        .tasks()
        .list_for_project("1")
        .opt_fields(&["name", "completed"])
        .offset(next.offset)
        .page()
        .await
        .unwrap();
    assert_eq!(second.data[0].gid, "100");
    assert_eq!(second.next_page.unwrap().offset, "eyJvZmZzZXQiOjIwMH0");
}

#[tokio::test]
async fn an_error_ends_the_stream_after_the_items_before_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tags/3/tasks"))
        .and(query_param_is_missing("offset"))
        .respond_with(page(0, 100, Some("gone")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tags/3/tasks"))
        .and(query_param("offset", "gone"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{"message": "offset: Your pagination token has expired."}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let items: Vec<Result<Task, AsanaError>> = client.tags().tasks("3").stream().collect().await;
    assert_eq!(items.len(), 101);
    assert!(items[..100].iter().all(Result::is_ok));
    match &items[100] {
        Err(err @ AsanaError::OffsetExpired(info)) => {
            assert_eq!(
                info.messages(),
                vec!["offset: Your pagination token has expired."]
            );
            assert_eq!(
                err.to_string(),
                "Asana GET /api/1.0/tags/3/tasks (HTTP 400): offset: Your pagination token has expired.: the page offset is invalid or has expired; list again from the first page, without `offset`"
            );
            assert!(!err.is_retryable());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_refusal_that_names_offset_is_an_expired_offset_only_when_one_was_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tags/3/tasks"))
        .and(query_param("offset", "two-refusals"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"errors": [
            {"message": "offset: Your pagination token is invalid or has expired"},
            {"message": "opt_fields: Unknown field: nme"}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tags/3/tasks"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{"message": "offset: Your pagination token is invalid or has expired"}]
        })))
        .expect(2)
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let with = client
        .tags()
        .tasks("3")
        .offset("x")
        .page()
        .await
        .unwrap_err();
    assert!(matches!(with, AsanaError::OffsetExpired(_)), "{with:?}");
    let without = client.tags().tasks("3").page().await.unwrap_err();
    assert!(matches!(without, AsanaError::BadRequest(_)), "{without:?}");
    // Another parameter refused beside it: that one is to fix first.
    let both = client
        .tags()
        .tasks("3")
        .offset("two-refusals")
        .page()
        .await
        .unwrap_err();
    assert!(matches!(both, AsanaError::BadRequest(_)), "{both:?}");
}

#[tokio::test]
async fn a_next_page_offset_that_repeats_the_one_sent_ends_the_stream_with_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tags/3/tasks"))
        .and(query_param_is_missing("offset"))
        .respond_with(page(0, 100, Some("stuck")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tags/3/tasks"))
        .and(query_param("offset", "stuck"))
        .respond_with(page(100, 100, Some("stuck")))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let items: Vec<Result<Task, AsanaError>> = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        client.tags().tasks("3").stream().collect(),
    )
    .await
    .expect("the stream ends");
    assert_eq!(items.len(), 201);
    let gids: Vec<String> = items[..200]
        .iter()
        .map(|item| item.as_ref().unwrap().gid.clone())
        .collect();
    let expected: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    assert_eq!(gids, expected);
    match &items[200] {
        Err(err @ AsanaError::PagingLoop { path }) => {
            assert_eq!(path, "/api/1.0/tags/3/tasks");
            assert!(!err.is_retryable());
        }
        other => panic!("{other:?}"),
    }
    server.verify().await;
}

#[tokio::test]
async fn raw_lists_page_and_stream_any_endpoint() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/portfolios"))
        .and(query_param("workspace", "7"))
        .and(query_param("limit", "2"))
        .and(query_param_is_missing("offset"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": tasks(0, 2), "next_page": {"offset": "o2"}})),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/portfolios"))
        .and(query_param("workspace", "7"))
        .and(query_param("limit", "2"))
        .and(query_param("offset", "o2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": tasks(2, 1), "next_page": null})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);

    let page = client
        .request_page("/portfolios", &[("workspace", "7"), ("limit", "2")])
        .await
        .unwrap();
    assert_eq!(page.data.len(), 2);
    assert_eq!(page.next_page.unwrap().offset, "o2");

    let all: Vec<Value> = client
        .list("/portfolios?workspace=7", &[("limit", "2")])
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all, tasks(0, 3));
}

#[tokio::test]
async fn the_compact_stream_asks_for_its_fields_and_decodes_the_testkits_records() {
    use provider_asana::models::{Compact, CreateTask, TaskCompact};
    use provider_asana_testkit::{MockAsana, seed};

    let mock = MockAsana::start().await;
    let settings = client_support::settings_at(&mock.server().uri());
    let connector = provider_asana::AsanaConnector::with_token_and_settings(
        mock.personal_access_token().into(),
        settings,
    )
    .unwrap();
    let client = connector.client().unwrap();
    let created = client
        .tasks()
        .create(&CreateTask {
            name: Some("Order cake".into()),
            projects: Some(vec![seed::LAUNCH_PROJECT_GID.into()]),
            due_on: Some("2026-06-01".into()),
            ..Default::default()
        })
        .await
        .unwrap();

    let tasks: Vec<TaskCompact> = client
        .tasks()
        .list_for_project(seed::LAUNCH_PROJECT_GID)
        .opt_fields(&["notes"])
        .limit(2)
        .compact()
        .stream()
        .try_collect()
        .await
        .unwrap();

    // Built field by field (the models are `#[non_exhaustive]`); every field not set is `None`
    // or empty, and the comparison below is exact.
    let user = |gid: &str, name: &str| {
        let mut user = Compact::default();
        user.gid = gid.into();
        user.resource_type = Some("user".into());
        user.name = Some(name.into());
        Some(Box::new(user))
    };
    let task = |gid: &str, name: &str, completed: bool, due_on: Option<&str>, assignee| {
        let mut task = TaskCompact::default();
        task.gid = gid.into();
        task.resource_type = Some("task".into());
        task.name = Some(name.into());
        task.resource_subtype = Some("default_task".into());
        task.completed = Some(completed);
        task.due_on = due_on.map(Into::into);
        task.assignee = assignee;
        task
    };
    assert_eq!(
        tasks,
        [
            task(
                seed::DRAFT_TASK_GID,
                "Draft announcement",
                false,
                Some("2024-03-01"),
                user(seed::ME_GID, seed::ME_NAME)
            ),
            task(seed::VENUE_TASK_GID, "Book venue", true, None, None),
            task(
                seed::INVITES_TASK_GID,
                "Send invites",
                false,
                None,
                user(seed::ADA_GID, "Ada Lovelace")
            ),
            task(&created.gid, "Order cake", false, Some("2026-06-01"), None),
        ]
    );
    let pages: Vec<_> = mock
        .received_requests()
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "GET")
        .collect();
    assert_eq!(pages.len(), 2);
    for page in &pages {
        let opt_fields: Vec<String> = page
            .url
            .query_pairs()
            .filter(|(key, _)| key == "opt_fields")
            .map(|(_, value)| value.into_owned())
            .collect();
        assert_eq!(opt_fields, [TaskCompact::OPT_FIELDS.join(",")]);
        assert_eq!(
            opt_fields[0],
            "resource_type,name,resource_subtype,created_by,completed,due_on,assignee,assignee.name"
        );
    }
}

/// `.limit(0)` is clamped up to the smallest page Asana serves: the request carries `limit=1`
/// (and only that one `limit`), not `limit=0`, which Asana refuses.
#[tokio::test]
async fn a_zero_limit_asks_for_a_page_of_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/workspaces/7/projects"))
        .and(query_param("limit", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": tasks(0, 1), "next_page": null})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);
    let page = client
        .projects()
        .list_for_workspace(Some("7"))
        .limit(0)
        .page()
        .await
        .unwrap();
    assert_eq!(page.data.len(), 1);
    let received = &server.received_requests().await.unwrap()[0];
    let limits: Vec<String> = received
        .url
        .query_pairs()
        .filter(|(k, _)| k == "limit")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(limits, ["1"]);
}
