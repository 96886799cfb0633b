//! `execute` for every entity and action of the catalog against exact-request mocks: method, path,
//! query pairs (the default `limit=100` on paginated lists), the
//! `{"data": {...}}` body of writes, the bearer token, and the exact shape returned. Attachments are
//! downloaded from a second server standing for the storage host, without the token.

mod client_support;

use std::collections::BTreeSet;

use auth_core::SecretString;
use client_support::{form_fields, settings};
use provider_asana::connector::{AsanaConnector, ExecuteError, MAX_DOWNLOAD_BYTES};
use provider_asana::{AsanaClientSettings, AsanaError};
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "pat-token";

/// Matches when the request's query pairs are exactly these (in any order).
struct ExactQuery(Vec<(String, String)>);

impl ExactQuery {
    fn new(pairs: &[(&str, &str)]) -> Self {
        let mut pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        pairs.sort();
        Self(pairs)
    }
}

impl Match for ExactQuery {
    fn matches(&self, request: &Request) -> bool {
        let mut got: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        got.sort();
        got == self.0
    }
}

/// Matches requests without a body and without a `Content-Type`.
struct NoBody;

impl Match for NoBody {
    fn matches(&self, request: &Request) -> bool {
        request.body.is_empty() && !request.headers.contains_key("content-type")
    }
}

/// Matches requests that do not carry this header.
struct WithoutHeader(&'static str);

impl Match for WithoutHeader {
    fn matches(&self, request: &Request) -> bool {
        !request.headers.contains_key(self.0)
    }
}

fn connector(api: &MockServer) -> AsanaConnector {
    AsanaConnector::with_token_and_settings(SecretString::from(TOKEN), settings(api)).unwrap()
}

/// One `execute` call, the one request it must send, and what it must return.
struct Case {
    entity: &'static str,
    action: &'static str,
    params: Value,
    method: &'static str,
    path: &'static str,
    query: &'static [(&'static str, &'static str)],
    body: Option<Value>,
    status: u16,
    response: Value,
    expected: Value,
}

const NEXT_PAGE: &str = "eyJvZmZzZXQiOjEwMH0";

fn page_response() -> Value {
    json!({
        "data": [{"gid": "1", "resource_type": "task", "name": "First"}, {"gid": "2", "name": "Second"}],
        "next_page": {
            "offset": NEXT_PAGE,
            "path": "/x?limit=100&offset=eyJvZmZzZXQiOjEwMH0",
            "uri": "https://app.asana.com/api/1.0/x?limit=100&offset=eyJvZmZzZXQiOjEwMH0"
        }
    })
}

fn page_result() -> Value {
    json!({
        "data": [{"gid": "1", "resource_type": "task", "name": "First"}, {"gid": "2", "name": "Second"}],
        "meta": {"next_page": {
            "offset": NEXT_PAGE,
            "path": "/x?limit=100&offset=eyJvZmZzZXQiOjEwMH0",
            "uri": "https://app.asana.com/api/1.0/x?limit=100&offset=eyJvZmZzZXQiOjEwMH0"
        }}
    })
}

/// A paginated list: GET `path` with `query`, answered with a page that has a `next_page`.
fn list(
    entity: &'static str,
    params: Value,
    path: &'static str,
    query: &'static [(&'static str, &'static str)],
) -> Case {
    Case {
        entity,
        action: "list",
        params,
        method: "GET",
        path,
        query,
        body: None,
        status: 200,
        response: page_response(),
        expected: page_result(),
    }
}

/// A list answered without `next_page` (unpaged, or offset-only): `meta.next_page` is null.
fn last_page(
    entity: &'static str,
    params: Value,
    path: &'static str,
    query: &'static [(&'static str, &'static str)],
) -> Case {
    let items = json!([{"gid": "7", "name": "Only"}]);
    Case {
        entity,
        action: "list",
        params,
        method: "GET",
        path,
        query,
        body: None,
        status: 200,
        response: json!({ "data": items }),
        expected: json!({"data": items, "meta": {"next_page": null}}),
    }
}

fn get(
    entity: &'static str,
    params: Value,
    path: &'static str,
    query: &'static [(&'static str, &'static str)],
) -> Case {
    let object = json!({"gid": "12", "name": "Object", "nested": {"gid": "3"}});
    Case {
        entity,
        action: "get",
        params,
        method: "GET",
        path,
        query,
        body: None,
        status: 200,
        response: json!({ "data": object }),
        expected: json!({ "data": object }),
    }
}

/// A write (POST or PUT) with its exact `{"data": ...}` body, answered with an object.
fn write(
    entity: &'static str,
    action: &'static str,
    params: Value,
    (method, path): (&'static str, &'static str),
    query: &'static [(&'static str, &'static str)],
    data: Value,
) -> Case {
    let object = json!({"gid": "99", "resource_type": entity, "name": "Written"});
    Case {
        entity,
        action,
        params,
        method,
        path,
        query,
        body: Some(json!({ "data": data })),
        status: if method == "POST" { 201 } else { 200 },
        response: json!({ "data": object }),
        expected: json!({ "data": object }),
    }
}

/// A POST to an action endpoint (`addTag`, `addTask` ...), which Asana answers with `{"data": {}}`.
fn post_action(
    entity: &'static str,
    action: &'static str,
    params: Value,
    path: &'static str,
    data: Value,
) -> Case {
    Case {
        entity,
        action,
        params,
        method: "POST",
        path,
        query: &[],
        body: Some(json!({ "data": data })),
        status: 200,
        response: json!({"data": {}}),
        expected: json!({"data": {}}),
    }
}

fn delete(entity: &'static str, params: Value, path: &'static str) -> Case {
    Case {
        entity,
        action: "delete",
        params,
        method: "DELETE",
        path,
        query: &[],
        body: None,
        status: 200,
        response: json!({"data": {}}),
        expected: json!({"data": {}}),
    }
}

/// Every catalog action except the multipart `attachments.create` and `attachments.download`
/// (tested below, the latter with its storage host).
fn cases() -> Vec<Case> {
    vec![
        // tasks
        list(
            "tasks",
            json!({"project": "11", "completed_since": "now", "opt_fields": ["name", "assignee.name"]}),
            "/tasks",
            &[
                ("project", "11"),
                ("completed_since", "now"),
                ("opt_fields", "name,assignee.name"),
                ("limit", "100"),
            ],
        ),
        list(
            "tasks",
            json!({"assignee": "me", "workspace": "1", "modified_since": "2024-01-01T00:00:00Z",
                   "limit": 5, "offset": NEXT_PAGE}),
            "/tasks",
            &[
                ("assignee", "me"),
                ("workspace", "1"),
                ("modified_since", "2024-01-01T00:00:00Z"),
                ("limit", "5"),
                ("offset", NEXT_PAGE),
            ],
        ),
        list(
            "tasks",
            json!({"section": "41"}),
            "/tasks",
            &[("section", "41"), ("limit", "100")],
        ),
        list(
            "tasks",
            json!({"tag": "5", "opt_fields": ["name"], "limit": 10, "offset": NEXT_PAGE}),
            "/tags/5/tasks",
            &[
                ("opt_fields", "name"),
                ("limit", "10"),
                ("offset", NEXT_PAGE),
            ],
        ),
        get(
            "tasks",
            json!({"task_gid": "12", "opt_fields": ["name"]}),
            "/tasks/12",
            &[("opt_fields", "name")],
        ),
        write(
            "tasks",
            "create",
            json!({"name": "Write", "notes": "n", "html_notes": "<body>n</body>", "assignee": "me",
                   "due_on": "2024-05-01", "start_on": "2024-04-01", "completed": false,
                   "custom_fields": {"555": "high", "556": 3}, "projects": ["11", "13"],
                   "tags": ["5"], "followers": ["ada@example.com"]}),
            ("POST", "/tasks"),
            &[],
            json!({"name": "Write", "notes": "n", "html_notes": "<body>n</body>", "assignee": "me",
                   "due_on": "2024-05-01", "start_on": "2024-04-01", "completed": false,
                   "custom_fields": {"555": "high", "556": 3}, "projects": ["11", "13"],
                   "tags": ["5"], "followers": ["ada@example.com"]}),
        ),
        write(
            "tasks",
            "create",
            json!({"name": "Sub", "parent": "12", "due_at": "2024-05-01T10:00:00Z"}),
            ("POST", "/tasks"),
            &[],
            json!({"name": "Sub", "parent": "12", "due_at": "2024-05-01T10:00:00Z"}),
        ),
        write(
            "tasks",
            "create",
            json!({"name": "Loose", "workspace": "1"}),
            ("POST", "/tasks"),
            &[],
            json!({"name": "Loose", "workspace": "1"}),
        ),
        write(
            "tasks",
            "update",
            json!({"task_gid": "12", "completed": true, "name": "Renamed", "opt_fields": ["completed", "name"]}),
            ("PUT", "/tasks/12"),
            &[("opt_fields", "completed,name")],
            json!({"completed": true, "name": "Renamed"}),
        ),
        write(
            "tasks",
            "update",
            json!({"task_gid": "12", "assignee": null, "due_on": null, "due_at": null,
                   "start_on": null, "start_at": null, "resource_subtype": "milestone",
                   "approval_status": "approved"}),
            ("PUT", "/tasks/12"),
            &[],
            json!({"assignee": null, "due_on": null, "due_at": null, "start_on": null,
                   "start_at": null, "resource_subtype": "milestone", "approval_status": "approved"}),
        ),
        delete("tasks", json!({"task_gid": "12"}), "/tasks/12"),
        list(
            "project_tasks",
            json!({"project_gid": "11", "completed_since": "2024-01-01T00:00:00Z"}),
            "/projects/11/tasks",
            &[
                ("completed_since", "2024-01-01T00:00:00Z"),
                ("limit", "100"),
            ],
        ),
        last_page(
            "workspace_task_search",
            json!({"workspace_gid": "1", "text": "launch", "assignee.any": "me", "projects.any": "11,13",
                   "sections.any": "41", "tags.any": "5", "completed": false,
                   "modified_at.after": "2024-01-01T00:00:00Z", "sort_by": "modified_at",
                   "sort_ascending": true, "opt_fields": ["name"], "limit": 20}),
            "/workspaces/1/tasks/search",
            &[
                ("text", "launch"),
                ("assignee.any", "me"),
                ("projects.any", "11,13"),
                ("sections.any", "41"),
                ("tags.any", "5"),
                ("completed", "false"),
                ("modified_at.after", "2024-01-01T00:00:00Z"),
                ("sort_by", "modified_at"),
                ("sort_ascending", "true"),
                ("opt_fields", "name"),
                ("limit", "20"),
            ],
        ),
        last_page(
            "workspace_task_search",
            json!({"workspace_gid": "1", "text": "launch"}),
            "/workspaces/1/tasks/search",
            &[("text", "launch")],
        ),
        last_page(
            "workspace_task_search",
            json!({"workspace_gid": "1", "assignee_any": "me", "projects_any": "11", "sections_any": "41",
                   "tags_any": "5", "teams.any": "2", "followers_any": "3",
                   "created_at.after": "2024-01-01T00:00:00Z", "created_at_before": "2024-02-01T00:00:00Z",
                   "modified_at_after": "2024-01-02T00:00:00Z", "modified_at.before": "2024-02-02T00:00:00Z",
                   "due_on_after": "2024-03-01", "due_on.before": "2024-04-01",
                   "resource_subtype": "milestone", "sort_by": "relevance"}),
            "/workspaces/1/tasks/search",
            &[
                ("assignee.any", "me"),
                ("projects.any", "11"),
                ("sections.any", "41"),
                ("tags.any", "5"),
                ("teams.any", "2"),
                ("followers.any", "3"),
                ("created_at.after", "2024-01-01T00:00:00Z"),
                ("created_at.before", "2024-02-01T00:00:00Z"),
                ("modified_at.after", "2024-01-02T00:00:00Z"),
                ("modified_at.before", "2024-02-02T00:00:00Z"),
                ("due_on.after", "2024-03-01"),
                ("due_on.before", "2024-04-01"),
                ("resource_subtype", "milestone"),
                ("sort_by", "relevance"),
            ],
        ),
        // projects
        list(
            "projects",
            json!({"workspace": "1", "archived": false}),
            "/projects",
            &[("workspace", "1"), ("archived", "false"), ("limit", "100")],
        ),
        list(
            "projects",
            json!({"team": "2"}),
            "/projects",
            &[("team", "2"), ("limit", "100")],
        ),
        get(
            "projects",
            json!({"project_gid": "11"}),
            "/projects/11",
            &[],
        ),
        write(
            "projects",
            "create",
            json!({"name": "Launch", "workspace": "1", "team": "2", "notes": "n", "color": "light-green",
                   "due_on": "2024-06-01", "start_on": "2024-05-01", "default_view": "board"}),
            ("POST", "/projects"),
            &[],
            json!({"name": "Launch", "workspace": "1", "team": "2", "notes": "n", "color": "light-green",
                   "due_on": "2024-06-01", "start_on": "2024-05-01", "default_view": "board"}),
        ),
        write(
            "projects",
            "update",
            json!({"project_gid": "11", "archived": true, "name": "Old", "default_view": "timeline"}),
            ("PUT", "/projects/11"),
            &[],
            json!({"archived": true, "name": "Old", "default_view": "timeline"}),
        ),
        write(
            "projects",
            "update",
            json!({"project_gid": "11", "color": null, "due_on": null, "start_on": null}),
            ("PUT", "/projects/11"),
            &[],
            json!({"color": null, "due_on": null, "start_on": null}),
        ),
        delete("projects", json!({"project_gid": "11"}), "/projects/11"),
        list(
            "task_projects",
            json!({"task_gid": "12"}),
            "/tasks/12/projects",
            &[("limit", "100")],
        ),
        list(
            "team_projects",
            json!({"team_gid": "2", "archived": true, "limit": 10, "offset": NEXT_PAGE}),
            "/teams/2/projects",
            &[("archived", "true"), ("limit", "10"), ("offset", NEXT_PAGE)],
        ),
        list(
            "workspace_projects",
            json!({"workspace_gid": "1", "opt_fields": ["name", "team.name"]}),
            "/workspaces/1/projects",
            &[("opt_fields", "name,team.name"), ("limit", "100")],
        ),
        // workspaces, users, teams
        list(
            "workspaces",
            Value::Null,
            "/workspaces",
            &[("limit", "100")],
        ),
        get(
            "workspaces",
            json!({"workspace_gid": "1", "opt_fields": ["name", "is_organization"]}),
            "/workspaces/1",
            &[("opt_fields", "name,is_organization")],
        ),
        list(
            "users",
            json!({"workspace": "1"}),
            "/users",
            &[("workspace", "1"), ("limit", "100")],
        ),
        list("users", Value::Null, "/users", &[("limit", "100")]),
        get("users", json!({"user_gid": "me"}), "/users/me", &[]),
        get(
            "users",
            json!({"user_gid": "gsanchez@example.com", "opt_fields": ["email"]}),
            "/users/gsanchez%40example.com",
            &[("opt_fields", "email")],
        ),
        list(
            "workspace_users",
            json!({"workspace_gid": "1", "opt_fields": ["email"]}),
            "/users",
            &[
                ("workspace", "1"),
                ("opt_fields", "email"),
                ("limit", "100"),
            ],
        ),
        list(
            "team_users",
            json!({"team_gid": "2", "limit": 20, "offset": NEXT_PAGE}),
            "/users",
            &[("team", "2"), ("limit", "20"), ("offset", NEXT_PAGE)],
        ),
        get("teams", json!({"team_gid": "2"}), "/teams/2", &[]),
        list(
            "workspace_teams",
            json!({"workspace_gid": "1"}),
            "/workspaces/1/teams",
            &[("limit", "100")],
        ),
        list(
            "user_teams",
            json!({"user_gid": "me", "organization": "1"}),
            "/users/me/teams",
            &[("organization", "1"), ("limit", "100")],
        ),
        // attachments
        list(
            "attachments",
            json!({"parent": "12"}),
            "/attachments",
            &[("parent", "12"), ("limit", "100")],
        ),
        get(
            "attachments",
            json!({"attachment_gid": "77", "opt_fields": ["name", "download_url"]}),
            "/attachments/77",
            &[("opt_fields", "name,download_url")],
        ),
        // tags
        list(
            "workspace_tags",
            json!({"workspace_gid": "1", "limit": 50}),
            "/workspaces/1/tags",
            &[("limit", "50")],
        ),
        write(
            "workspace_tags",
            "create",
            json!({"workspace_gid": "1", "name": "urgent", "color": "dark-red", "notes": "n"}),
            ("POST", "/workspaces/1/tags"),
            &[],
            json!({"name": "urgent", "color": "dark-red", "notes": "n"}),
        ),
        get("tags", json!({"tag_gid": "5"}), "/tags/5", &[]),
        write(
            "tags",
            "update",
            json!({"tag_gid": "5", "name": "later", "color": "light-blue", "notes": "n"}),
            ("PUT", "/tags/5"),
            &[],
            json!({"name": "later", "color": "light-blue", "notes": "n"}),
        ),
        delete("tags", json!({"tag_gid": "5"}), "/tags/5"),
        list(
            "tag_tasks",
            json!({"tag_gid": "5"}),
            "/tags/5/tasks",
            &[("limit", "100")],
        ),
        // sections
        list(
            "project_sections",
            json!({"project_gid": "11"}),
            "/projects/11/sections",
            &[("limit", "100")],
        ),
        write(
            "project_sections",
            "create",
            json!({"project_gid": "11", "name": "Doing", "insert_after": "41"}),
            ("POST", "/projects/11/sections"),
            &[],
            json!({"name": "Doing", "insert_after": "41"}),
        ),
        get(
            "sections",
            json!({"section_gid": "41", "opt_fields": ["name"]}),
            "/sections/41",
            &[("opt_fields", "name")],
        ),
        write(
            "sections",
            "update",
            json!({"section_gid": "41", "name": "Done", "opt_fields": ["name"]}),
            ("PUT", "/sections/41"),
            &[("opt_fields", "name")],
            json!({"name": "Done"}),
        ),
        post_action(
            "sections",
            "move",
            json!({"project_gid": "11", "section": "41", "before_section": "42"}),
            "/projects/11/sections/insert",
            json!({"section": "41", "before_section": "42"}),
        ),
        delete("sections", json!({"section_gid": "41"}), "/sections/41"),
        list(
            "section_tasks",
            json!({"section_gid": "41", "completed_since": "now"}),
            "/sections/41/tasks",
            &[("completed_since", "now"), ("limit", "100")],
        ),
        post_action(
            "section_tasks",
            "create",
            json!({"section_gid": "41", "task": "12", "insert_before": "13"}),
            "/sections/41/addTask",
            json!({"task": "12", "insert_before": "13"}),
        ),
        // task relations
        list(
            "task_subtasks",
            json!({"task_gid": "12"}),
            "/tasks/12/subtasks",
            &[("limit", "100")],
        ),
        list(
            "task_dependencies",
            json!({"task_gid": "12"}),
            "/tasks/12/dependencies",
            &[("limit", "100")],
        ),
        list(
            "task_dependents",
            json!({"task_gid": "12", "opt_fields": ["name"]}),
            "/tasks/12/dependents",
            &[("opt_fields", "name"), ("limit", "100")],
        ),
        list(
            "task_stories",
            json!({"task_gid": "12"}),
            "/tasks/12/stories",
            &[("limit", "100")],
        ),
        write(
            "task_stories",
            "create",
            json!({"task_gid": "12", "html_text": "<body>Hi <b>all</b></body>", "is_pinned": true}),
            ("POST", "/tasks/12/stories"),
            &[],
            json!({"html_text": "<body>Hi <b>all</b></body>", "is_pinned": true}),
        ),
        write(
            "task_stories",
            "create",
            json!({"task_gid": "12", "text": "Looks good"}),
            ("POST", "/tasks/12/stories"),
            &[],
            json!({"text": "Looks good"}),
        ),
        post_action(
            "task_tags",
            "create",
            json!({"task_gid": "12", "tag": "5"}),
            "/tasks/12/addTag",
            json!({"tag": "5"}),
        ),
        post_action(
            "task_tags",
            "delete",
            json!({"task_gid": "12", "tag": "5"}),
            "/tasks/12/removeTag",
            json!({"tag": "5"}),
        ),
        write(
            "workspace_memberships",
            "create",
            json!({"workspace_gid": "1", "user": "ada@example.com"}),
            ("POST", "/workspaces/1/addUser"),
            &[],
            json!({"user": "ada@example.com"}),
        ),
    ]
}

async fn describe_received(server: &MockServer) -> String {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r.method,
                r.url,
                String::from_utf8_lossy(&r.body)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn every_action_sends_exactly_one_exact_request_and_returns_its_shape() {
    let server = MockServer::start().await;
    let connector = connector(&server);
    for case in cases() {
        let name = format!("{}.{} {}", case.entity, case.action, case.params);
        server.reset().await;
        let full_path = format!("/api/1.0{}", case.path);
        let mock = Mock::given(method(case.method))
            .and(path(full_path.as_str()))
            .and(ExactQuery::new(case.query))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(header("accept", "application/json"));
        let mock = match &case.body {
            Some(body) => mock
                .and(header("content-type", "application/json"))
                .and(body_json(body)),
            None => mock.and(NoBody),
        };
        mock.respond_with(ResponseTemplate::new(case.status).set_body_json(&case.response))
            .expect(1)
            .mount(&server)
            .await;

        let result = connector
            .execute(case.entity, case.action, case.params.clone())
            .await;

        let result = match result {
            Ok(result) => result,
            Err(e) => panic!(
                "{name}: {e}\nreceived:\n{}",
                describe_received(&server).await
            ),
        };
        assert_eq!(result, case.expected, "{name}");
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "{name}: exactly one request"
        );
        server.verify().await;
    }
}

#[test]
fn the_cases_cover_every_catalog_action() {
    let catalog: BTreeSet<(String, String)> = AsanaConnector::catalog()
        .iter()
        .flat_map(|e| {
            e.actions
                .iter()
                .map(|a| (e.entity.to_string(), a.action.to_string()))
        })
        .collect();
    let mut covered: BTreeSet<(String, String)> = cases()
        .iter()
        .map(|c| (c.entity.to_string(), c.action.to_string()))
        .collect();
    covered.insert(("attachments".into(), "create".into()));
    covered.insert(("attachments".into(), "download".into()));
    // 27 entities with 50 actions between them (as listed in the catalog's own unit test).
    assert_eq!(catalog.len(), 50);
    assert_eq!(
        catalog
            .iter()
            .map(|(e, _)| e)
            .collect::<BTreeSet<_>>()
            .len(),
        27
    );
    assert_eq!(covered, catalog);
}

#[tokio::test]
async fn create_attaches_a_link_as_multipart_fields() {
    let api = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/1.0/attachments"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "gid": "78", "resource_type": "attachment", "resource_subtype": "external",
            "name": "Brief", "view_url": "https://docs.example/brief", "download_url": null
        }})))
        .expect(1)
        .mount(&api)
        .await;

    let result = connector(&api)
        .execute(
            "attachments",
            "create",
            json!({"parent": "12", "url": "https://docs.example/brief", "name": "Brief"}),
        )
        .await
        .unwrap();

    assert_eq!(
        result,
        json!({"data": {"gid": "78", "resource_type": "attachment", "resource_subtype": "external",
                        "name": "Brief", "view_url": "https://docs.example/brief",
                        "download_url": null}}),
        "the response's data, as Asana sent it"
    );
    let requests = api.received_requests().await.unwrap();
    assert_eq!(
        form_fields(&requests[0].body),
        [
            ("parent".to_string(), "12".to_string()),
            ("resource_subtype".to_string(), "external".to_string()),
            ("url".to_string(), "https://docs.example/brief".to_string()),
            ("name".to_string(), "Brief".to_string()),
        ]
    );
    let err = connector(&api)
        .execute(
            "attachments",
            "create",
            json!({"parent": "12", "url": "file:///etc/passwd", "name": "Brief"}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ExecuteError::Api(AsanaError::InvalidArgument { name: "url", .. })
        ),
        "{err:?}"
    );
    api.verify().await;
}

/// Mounts the attachment's metadata on the API server, pointing at `download_url`.
async fn mount_metadata(api: &MockServer, metadata: Value) {
    Mock::given(method("GET"))
        .and(path("/api/1.0/attachments/77"))
        .and(ExactQuery::new(&[(
            "opt_fields",
            "name,download_url,size,host,resource_subtype",
        )]))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": metadata })))
        .expect(1)
        .mount(api)
        .await;
}

#[tokio::test]
async fn download_fetches_metadata_then_the_file_without_the_token() {
    let api = MockServer::start().await;
    let storage = MockServer::start().await;
    let download_url = format!("{}/files/77/report.pdf?X-Amz-Signature=abc", storage.uri());
    mount_metadata(
        &api,
        json!({"gid": "77", "resource_type": "attachment", "name": "report.pdf",
               "download_url": download_url, "size": 11, "host": "asana",
               "resource_subtype": "asana"}),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/files/77/report.pdf"))
        .and(ExactQuery::new(&[("X-Amz-Signature", "abc")]))
        .and(WithoutHeader("authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"hello world".to_vec()))
        .expect(1)
        .mount(&storage)
        .await;

    let result = connector(&api)
        .execute("attachments", "download", json!({"attachment_gid": "77"}))
        .await
        .unwrap();

    assert_eq!(
        result,
        json!({"data": {"gid": "77", "resource_type": "attachment", "name": "report.pdf",
                        "size": 11, "host": "asana", "resource_subtype": "asana",
                        "content_base64": "aGVsbG8gd29ybGQ="}})
    );
    assert_eq!(api.received_requests().await.unwrap().len(), 1);
    let downloads = storage.received_requests().await.unwrap();
    assert_eq!(downloads.len(), 1);
    assert!(
        downloads[0].headers.keys().all(|h| h != "authorization"),
        "the token never goes to the storage host"
    );
    api.verify().await;
    storage.verify().await;
}

#[tokio::test]
async fn download_reports_the_real_size_when_the_metadata_lacks_it() {
    let api = MockServer::start().await;
    let storage = MockServer::start().await;
    mount_metadata(
        &api,
        json!({"gid": "77", "name": "a.bin", "download_url": format!("{}/a.bin", storage.uri()),
               "host": "asana"}),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/a.bin"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![0u8, 255, 1]))
        .expect(1)
        .mount(&storage)
        .await;

    let result = connector(&api)
        .execute("attachments", "download", json!({"attachment_gid": "77"}))
        .await
        .unwrap();

    assert_eq!(
        result,
        json!({"data": {"gid": "77", "name": "a.bin", "host": "asana", "size": 3,
                        "content_base64": "AP8B"}})
    );
}

#[tokio::test]
async fn download_refuses_files_over_the_limit_before_fetching_them() {
    let api = MockServer::start().await;
    let storage = MockServer::start().await;
    mount_metadata(
        &api,
        json!({"gid": "77", "name": "big.iso", "download_url": format!("{}/big.iso", storage.uri()),
               "size": MAX_DOWNLOAD_BYTES + 1, "host": "asana"}),
    )
    .await;

    let err = connector(&api)
        .execute("attachments", "download", json!({"attachment_gid": "77"}))
        .await
        .unwrap_err();

    assert!(
        matches!(&err, ExecuteError::TooLarge { gid, max } if gid == "77" && *max == MAX_DOWNLOAD_BYTES),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(err.to_json()["error"]["kind"], "too_large");
    assert!(storage.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn download_of_an_externally_hosted_file_says_so() {
    let api = MockServer::start().await;
    mount_metadata(
        &api,
        json!({"gid": "77", "name": "Design doc", "download_url": null, "host": "gdrive"}),
    )
    .await;

    let err = connector(&api)
        .execute("attachments", "download", json!({"attachment_gid": "77"}))
        .await
        .unwrap_err();

    assert!(
        matches!(
            &err,
            ExecuteError::Api(AsanaError::InvalidArgument {
                name: "attachment",
                ..
            })
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable() && !err.needs_reauthorization());
}

#[tokio::test]
async fn download_refuses_a_plain_http_url_off_loopback() {
    let api = MockServer::start().await;
    mount_metadata(
        &api,
        json!({"gid": "77", "name": "a.txt", "download_url": "http://storage.example.com/a.txt"}),
    )
    .await;

    let err = connector(&api)
        .execute("attachments", "download", json!({"attachment_gid": "77"}))
        .await
        .unwrap_err();

    assert!(
        matches!(
            &err,
            ExecuteError::Api(AsanaError::InvalidUrl {
                what: "attachment download",
                ..
            })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn download_failures_at_the_storage_host_are_classified() {
    for (status, retryable) in [(403u16, false), (503, true)] {
        let api = MockServer::start().await;
        let storage = MockServer::start().await;
        mount_metadata(
            &api,
            json!({"gid": "77", "name": "a.txt", "download_url": format!("{}/a.txt", storage.uri())}),
        )
        .await;
        Mock::given(method("GET"))
            .and(path("/a.txt"))
            .respond_with(ResponseTemplate::new(status))
            .expect(1)
            .mount(&storage)
            .await;

        let err = connector(&api)
            .execute("attachments", "download", json!({"attachment_gid": "77"}))
            .await
            .unwrap_err();

        assert!(
            matches!(&err, ExecuteError::Api(AsanaError::Download { status: s, host }) if *s == status && host == "127.0.0.1"),
            "{err:?}"
        );
        assert_eq!(err.is_retryable(), retryable, "{status}");
        assert_eq!(err.to_json()["error"]["status"], status);
        storage.verify().await;
    }
}

#[tokio::test]
async fn path_params_are_one_encoded_segment() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tasks/a%2F..%2Fb%3Fx%3D1%20y"))
        .and(ExactQuery::new(&[]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"gid": "1"}})))
        .expect(1)
        .mount(&server)
        .await;

    let result = connector(&server)
        .execute("tasks", "get", json!({"task_gid": "a/../b?x=1 y"}))
        .await
        .unwrap();

    assert_eq!(result, json!({"data": {"gid": "1"}}));
}

#[tokio::test]
async fn an_empty_opt_fields_list_sends_no_opt_fields() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tasks/12"))
        .and(ExactQuery::new(&[]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"gid": "12"}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/projects/11/tasks"))
        .and(ExactQuery::new(&[("limit", "100")]))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [], "next_page": null})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let connector = connector(&server);

    let task = connector
        .execute("tasks", "get", json!({"task_gid": "12", "opt_fields": []}))
        .await
        .unwrap();
    let tasks = connector
        .execute(
            "project_tasks",
            "list",
            json!({"project_gid": "11", "opt_fields": []}),
        )
        .await
        .unwrap();

    assert_eq!(task, json!({"data": {"gid": "12"}}));
    assert_eq!(tasks, json!({"data": [], "meta": {"next_page": null}}));
    server.verify().await;
}

#[tokio::test]
async fn a_base_url_with_a_trailing_slash_gives_the_same_paths() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/workspaces"))
        .and(ExactQuery::new(&[("limit", "100")]))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [], "next_page": null})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let settings =
        AsanaClientSettings::new(Url::parse(&format!("{}/api/1.0/", server.uri())).unwrap());
    let connector =
        AsanaConnector::with_token_and_settings(SecretString::from(TOKEN), settings).unwrap();

    let result = connector
        .execute("workspaces", "list", json!({}))
        .await
        .unwrap();

    assert_eq!(result, json!({"data": [], "meta": {"next_page": null}}));
}

#[tokio::test]
async fn select_fields_become_opt_fields_and_both_controls_trim_the_records() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/projects/11/tasks"))
        .and(ExactQuery::new(&[
            ("opt_fields", "notes,name,assignee.name"),
            ("limit", "100"),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"gid": "1", "resource_type": "task", "name": "A", "notes": "n",
                      "assignee": {"gid": "9", "name": "Ada"}}],
            "next_page": null
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tasks/1"))
        .and(ExactQuery::new(&[]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"gid": "1", "name": "A", "notes": "long", "assignee": {"gid": "9", "email": "a@x"}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let connector = connector(&server);

    let page = connector
        .execute(
            "project_tasks",
            "list",
            json!({"project_gid": "11", "opt_fields": ["notes"],
                   "select_fields": ["name", "assignee.name"], "exclude_fields": ["notes"]}),
        )
        .await
        .unwrap();
    let task = connector
        .execute(
            "tasks",
            "get",
            json!({"task_gid": "1", "exclude_fields": ["notes", "assignee.email"]}),
        )
        .await
        .unwrap();

    assert_eq!(
        page,
        json!({"data": [{"gid": "1", "name": "A", "assignee": {"gid": "9", "name": "Ada"}}],
               "meta": {"next_page": null}})
    );
    assert_eq!(
        task,
        json!({"data": {"gid": "1", "name": "A", "assignee": {"gid": "9"}}})
    );
    server.verify().await;
    let err = connector
        .execute(
            "tasks",
            "create",
            json!({"workspace": "1", "select_fields": ["name"]}),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown param `select_fields`"),
        "writes take no output control: {err}"
    );
}

#[tokio::test]
async fn results_over_the_cap_are_refused_with_advice_instead_of_truncated() {
    let server = MockServer::start().await;
    let notes = "x".repeat(100_000);
    Mock::given(method("GET"))
        .and(path("/api/1.0/tasks/1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"gid": "1", "name": "A", "notes": notes}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/workspaces"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"gid": "1", "name": "Acme Corp"}, {"gid": "2", "name": "Personal"}],
            "next_page": null
        })))
        .mount(&server)
        .await;

    let err = connector(&server)
        .execute("tasks", "get", json!({"task_gid": "1"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ExecuteError::ResultTooLarge { chars, max: 100_000, .. } if *chars > 100_000),
        "{err:?}"
    );
    assert_eq!(
        err.to_json()["error"]["kind"],
        "result_too_large",
        "{}",
        err.to_json()
    );
    assert!(!err.is_retryable());
    assert!(
        err.to_string()
            .ends_with("ask for fewer fields with `select_fields` or `exclude_fields`"),
        "{err}"
    );
    let narrowed = connector(&server)
        .execute(
            "tasks",
            "get",
            json!({"task_gid": "1", "exclude_fields": ["notes"]}),
        )
        .await
        .unwrap();
    assert_eq!(narrowed, json!({"data": {"gid": "1", "name": "A"}}));

    let small = connector(&server).with_max_result_chars(60);
    let err = small
        .execute("workspaces", "list", Value::Null)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the result of workspaces.list is 97 characters, over the limit of 60; ask for fewer \
         records with a smaller `limit` (and page on with `offset`), or fewer fields with \
         `select_fields` or `exclude_fields`"
    );
    let fits = small
        .execute("workspaces", "list", json!({"exclude_fields": ["name"]}))
        .await
        .unwrap();
    assert_eq!(
        fits,
        json!({"data": [{"gid": "1"}, {"gid": "2"}], "meta": {"next_page": null}})
    );
}

#[tokio::test]
async fn check_says_healthy_or_why_not() {
    use provider_asana::{Health, UnhealthyReason};
    let server = MockServer::start().await;
    let me = || {
        Mock::given(method("GET"))
            .and(path("/api/1.0/users/me"))
            .and(ExactQuery::new(&[("opt_fields", "name")]))
    };
    me().respond_with(
        ResponseTemplate::new(200)
            .set_body_json(json!({"data": {"gid": "4673218951", "name": "Greg Sanchez"}})),
    )
    .up_to_n_times(1)
    .mount(&server)
    .await;
    me().respond_with(
        ResponseTemplate::new(401)
            .set_body_json(json!({"errors": [{"message": "The bearer token has expired."}]})),
    )
    .up_to_n_times(1)
    .mount(&server)
    .await;
    me().respond_with(
        ResponseTemplate::new(403).set_body_json(json!({"errors": [{"message": "Forbidden"}]})),
    )
    .up_to_n_times(1)
    .mount(&server)
    .await;
    let connector = connector(&server);

    let healthy = connector.check().await;
    assert!(healthy.healthy && healthy.reason.is_none(), "{healthy:?}");
    assert_eq!(
        healthy.message,
        "connected to Asana as Greg Sanchez (user 4673218951)"
    );
    let expired = connector.check().await;
    assert_eq!(
        (expired.healthy, expired.reason),
        (false, Some(UnhealthyReason::Reauthorize))
    );
    let forbidden = connector.check().await;
    assert_eq!(forbidden.reason, Some(UnhealthyReason::MissingScope));
    assert_eq!(
        serde_json::to_value(&forbidden).unwrap()["reason"],
        "missing_scope"
    );

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        port
    };
    let settings = AsanaClientSettings::new(
        Url::parse(&format!("http://127.0.0.1:{closed}/api/1.0")).unwrap(),
    )
    .with_max_retries(0);
    let offline = AsanaConnector::with_token_and_settings(SecretString::from(TOKEN), settings)
        .unwrap()
        .check()
        .await;
    assert!(
        matches!(
            offline,
            Health {
                healthy: false,
                reason: Some(UnhealthyReason::Unavailable),
                ..
            }
        ),
        "{offline:?}"
    );
}
