//! `execute` for every entity and action of the catalog against exact-request mocks: method, path,
//! query pairs (the default `limit=100` on paginated lists), the
//! `{"data": {...}}` body of writes, the bearer token, and the exact shape returned. Attachments are
//! downloaded from the API server outside the API base path (`/files/...`), standing for the
//! storage host, without the token; a download URL on any other local server is refused.

use crate::client_support;

use std::collections::BTreeSet;

use auth_core::SecretString;
use client_support::raw::{RawServer, Reply};
use client_support::{form_fields, no_retries, settings, settings_at};
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

/// What a generated case's mock answers and the connector returns.
enum Shape {
    /// A page with a `next_page`.
    Page,
    /// A list without paging.
    Items,
    /// One object.
    Object,
    /// `{"data": {}}`.
    Empty,
}

/// One exact request for any action: every optional param set, the query pairs and the
/// `{"data": ...}` body that Asana's spec declares for the operation.
fn exact(
    entity: &'static str,
    action: &'static str,
    params: Value,
    (method, path): (&'static str, &'static str),
    query: &'static [(&'static str, &'static str)],
    body: Option<Value>,
    shape: Shape,
) -> Case {
    let object = json!({"gid": "99", "resource_type": entity, "name": "Object"});
    let items = json!([{"gid": "7", "name": "Only"}]);
    let (response, expected) = match shape {
        Shape::Page => (page_response(), page_result()),
        Shape::Items => (
            json!({ "data": items }),
            json!({"data": items, "meta": {"next_page": null}}),
        ),
        Shape::Object => (json!({ "data": object }), json!({ "data": object })),
        Shape::Empty => (json!({"data": {}}), json!({"data": {}})),
    };
    Case {
        entity,
        action,
        params,
        method,
        path,
        query,
        body,
        status: 200,
        response,
        expected,
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
        // Generated from Asana's spec, one per operation: every param set.
        exact(
            "workspace_custom_fields",
            "list",
            json!({"workspace_gid": "100", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/workspaces/100/custom_fields"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "custom_fields",
            "get",
            json!({"custom_field_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/custom_fields/100"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "custom_fields",
            "create",
            json!({"opt_fields": ["name"], "name": "v1", "enum_options": [{"k": 2}], "id_prefix": "v3", "input_restrictions": ["a4", "b4"], "is_formula_field": true, "date_value": {"k": "v6"}, "enum_value": {"k": "v7"}, "multi_enum_values": [{"k": 8}], "number_value": 1.5, "text_value": "v10", "description": "v11", "precision": 3, "format": "currency", "currency_code": "v14", "custom_label": "v15", "custom_label_position": "prefix", "has_notifications_enabled": true, "workspace": "v18", "owned_by_app": true, "people_value": ["a20", "b20"], "reference_value": ["a21", "b21"], "resource_subtype": "text"}),
            ("POST", "/custom_fields"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"name": "v1", "enum_options": [{"k": 2}], "id_prefix": "v3", "input_restrictions": ["a4", "b4"], "is_formula_field": true, "date_value": {"k": "v6"}, "enum_value": {"k": "v7"}, "multi_enum_values": [{"k": 8}], "number_value": 1.5, "text_value": "v10", "description": "v11", "precision": 3, "format": "currency", "currency_code": "v14", "custom_label": "v15", "custom_label_position": "prefix", "has_notifications_enabled": true, "workspace": "v18", "owned_by_app": true, "people_value": ["a20", "b20"], "reference_value": ["a21", "b21"], "resource_subtype": "text"}}),
            ),
            Shape::Object,
        ),
        exact(
            "custom_fields",
            "update",
            json!({"custom_field_gid": "100", "opt_fields": ["name"], "name": "v1", "enum_options": [{"k": 2}], "id_prefix": "v3", "input_restrictions": ["a4", "b4"], "is_formula_field": true, "date_value": {"k": "v6"}, "enum_value": {"k": "v7"}, "multi_enum_values": [{"k": 8}], "number_value": 1.5, "text_value": "v10", "description": "v11", "precision": 3, "format": "currency", "currency_code": "v14", "custom_label": "v15", "custom_label_position": "prefix", "has_notifications_enabled": true, "workspace": "v18", "owned_by_app": true, "people_value": ["a20", "b20"], "reference_value": ["a21", "b21"]}),
            ("PUT", "/custom_fields/100"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"name": "v1", "enum_options": [{"k": 2}], "id_prefix": "v3", "input_restrictions": ["a4", "b4"], "is_formula_field": true, "date_value": {"k": "v6"}, "enum_value": {"k": "v7"}, "multi_enum_values": [{"k": 8}], "number_value": 1.5, "text_value": "v10", "description": "v11", "precision": 3, "format": "currency", "currency_code": "v14", "custom_label": "v15", "custom_label_position": "prefix", "has_notifications_enabled": true, "workspace": "v18", "owned_by_app": true, "people_value": ["a20", "b20"], "reference_value": ["a21", "b21"]}}),
            ),
            Shape::Object,
        ),
        exact(
            "custom_fields",
            "delete",
            json!({"custom_field_gid": "100"}),
            ("DELETE", "/custom_fields/100"),
            &[],
            None,
            Shape::Empty,
        ),
        exact(
            "custom_field_enum_options",
            "create",
            json!({"custom_field_gid": "100", "opt_fields": ["name"], "name": "v1", "enabled": true, "color": "v3", "insert_before": "v4"}),
            ("POST", "/custom_fields/100/enum_options"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"name": "v1", "enabled": true, "color": "v3", "insert_before": "v4"}}),
            ),
            Shape::Object,
        ),
        exact(
            "custom_field_enum_options",
            "move",
            json!({"custom_field_gid": "100", "opt_fields": ["name"], "enum_option": "v1", "before_enum_option": "v2"}),
            ("POST", "/custom_fields/100/enum_options/insert"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"enum_option": "v1", "before_enum_option": "v2"}})),
            Shape::Object,
        ),
        exact(
            "enum_options",
            "update",
            json!({"enum_option_gid": "100", "opt_fields": ["name"], "name": "v1", "enabled": true, "color": "v3"}),
            ("PUT", "/enum_options/100"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"name": "v1", "enabled": true, "color": "v3"}})),
            Shape::Object,
        ),
        exact(
            "project_custom_field_settings",
            "list",
            json!({"project_gid": "100", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/projects/100/custom_field_settings"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "project_custom_field_settings",
            "create",
            json!({"project_gid": "100", "opt_fields": ["name"], "custom_field": "v1", "is_important": true, "insert_before": "v3"}),
            ("POST", "/projects/100/addCustomFieldSetting"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"custom_field": "v1", "is_important": true, "insert_before": "v3"}}),
            ),
            Shape::Object,
        ),
        exact(
            "project_custom_field_settings",
            "delete",
            json!({"project_gid": "100", "custom_field": "v1"}),
            ("POST", "/projects/100/removeCustomFieldSetting"),
            &[],
            Some(json!({"data": {"custom_field": "v1"}})),
            Shape::Object,
        ),
        exact(
            "portfolio_custom_field_settings",
            "list",
            json!({"portfolio_gid": "100", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/portfolios/100/custom_field_settings"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "portfolio_custom_field_settings",
            "create",
            json!({"portfolio_gid": "100", "custom_field": "v1", "is_important": true, "insert_before": "v3"}),
            ("POST", "/portfolios/100/addCustomFieldSetting"),
            &[],
            Some(
                json!({"data": {"custom_field": "v1", "is_important": true, "insert_before": "v3"}}),
            ),
            Shape::Object,
        ),
        exact(
            "portfolio_custom_field_settings",
            "delete",
            json!({"portfolio_gid": "100", "custom_field": "v1"}),
            ("POST", "/portfolios/100/removeCustomFieldSetting"),
            &[],
            Some(json!({"data": {"custom_field": "v1"}})),
            Shape::Object,
        ),
        exact(
            "task_parent",
            "update",
            json!({"task_gid": "100", "opt_fields": ["name"], "parent": "v1", "insert_before": "v3"}),
            ("POST", "/tasks/100/setParent"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"parent": "v1", "insert_before": "v3"}})),
            Shape::Object,
        ),
        exact(
            "task_followers",
            "create",
            json!({"task_gid": "100", "opt_fields": ["name"], "followers": ["a1", "b1"]}),
            ("POST", "/tasks/100/addFollowers"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"followers": ["a1", "b1"]}})),
            Shape::Object,
        ),
        exact(
            "task_followers",
            "delete",
            json!({"task_gid": "100", "opt_fields": ["name"], "followers": ["a1", "b1"]}),
            ("POST", "/tasks/100/removeFollowers"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"followers": ["a1", "b1"]}})),
            Shape::Object,
        ),
        exact(
            "task_dependencies",
            "create",
            json!({"task_gid": "100", "dependencies": ["a1", "b1"]}),
            ("POST", "/tasks/100/addDependencies"),
            &[],
            Some(json!({"data": {"dependencies": ["a1", "b1"]}})),
            Shape::Object,
        ),
        exact(
            "task_dependencies",
            "delete",
            json!({"task_gid": "100", "dependencies": ["a1", "b1"]}),
            ("POST", "/tasks/100/removeDependencies"),
            &[],
            Some(json!({"data": {"dependencies": ["a1", "b1"]}})),
            Shape::Object,
        ),
        exact(
            "task_dependents",
            "create",
            json!({"task_gid": "100", "dependents": ["a1", "b1"]}),
            ("POST", "/tasks/100/addDependents"),
            &[],
            Some(json!({"data": {"dependents": ["a1", "b1"]}})),
            Shape::Object,
        ),
        exact(
            "task_dependents",
            "delete",
            json!({"task_gid": "100", "dependents": ["a1", "b1"]}),
            ("POST", "/tasks/100/removeDependents"),
            &[],
            Some(json!({"data": {"dependents": ["a1", "b1"]}})),
            Shape::Object,
        ),
        exact(
            "task_projects",
            "create",
            json!({"task_gid": "100", "project": "v1", "insert_before": "v3", "section": "v4"}),
            ("POST", "/tasks/100/addProject"),
            &[],
            Some(json!({"data": {"project": "v1", "insert_before": "v3", "section": "v4"}})),
            Shape::Object,
        ),
        exact(
            "task_projects",
            "delete",
            json!({"task_gid": "100", "project": "v1"}),
            ("POST", "/tasks/100/removeProject"),
            &[],
            Some(json!({"data": {"project": "v1"}})),
            Shape::Object,
        ),
        exact(
            "task_subtasks",
            "create",
            json!({"task_gid": "100", "opt_fields": ["name"], "name": "v1", "resource_subtype": "default_task", "approval_status": "pending", "assignee_status": "today", "completed": true, "due_at": "v8", "due_on": "v9", "external": {"k": "v10"}, "html_notes": "v11", "liked": true, "notes": "v13", "start_at": "v14", "start_on": "v15", "assignee": "v16", "assignee_section": "v17", "custom_fields": {"k": "v18"}, "parent": "v19", "followers": ["a20", "b20"], "projects": ["a21", "b21"], "tags": ["a22", "b22"], "workspace": "v23"}),
            ("POST", "/tasks/100/subtasks"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"name": "v1", "resource_subtype": "default_task", "approval_status": "pending", "assignee_status": "today", "completed": true, "due_at": "v8", "due_on": "v9", "external": {"k": "v10"}, "html_notes": "v11", "liked": true, "notes": "v13", "start_at": "v14", "start_on": "v15", "assignee": "v16", "assignee_section": "v17", "custom_fields": {"k": "v18"}, "parent": "v19", "followers": ["a20", "b20"], "projects": ["a21", "b21"], "tags": ["a22", "b22"], "workspace": "v23"}}),
            ),
            Shape::Object,
        ),
        exact(
            "task_duplicates",
            "create",
            json!({"task_gid": "100", "opt_fields": ["name"], "name": "v1", "include": "v2"}),
            ("POST", "/tasks/100/duplicate"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"name": "v1", "include": "v2"}})),
            Shape::Object,
        ),
        exact(
            "task_tags",
            "list",
            json!({"task_gid": "100", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/tasks/100/tags"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "workspace_task_custom_ids",
            "get",
            json!({"workspace_gid": "100", "custom_id": "101"}),
            ("GET", "/workspaces/100/tasks/custom_id/101"),
            &[],
            None,
            Shape::Object,
        ),
        exact(
            "workspace_typeahead",
            "list",
            json!({"workspace_gid": "100", "resource_type": "actor", "type": "custom_field", "query": "v3", "count": 3, "opt_fields": ["name"]}),
            ("GET", "/workspaces/100/typeahead"),
            &[
                ("resource_type", "actor"),
                ("type", "custom_field"),
                ("query", "v3"),
                ("count", "3"),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Items,
        ),
        exact(
            "status_updates",
            "list",
            json!({"limit": 50, "offset": NEXT_PAGE, "parent": "v1", "created_since": "v2", "opt_fields": ["name"]}),
            ("GET", "/status_updates"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("parent", "v1"),
                ("created_since", "v2"),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "status_updates",
            "get",
            json!({"status_update_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/status_updates/100"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "status_updates",
            "create",
            json!({"limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"], "title": "v1", "text": "v2", "html_text": "v3", "status_type": "on_track", "parent": "v5"}),
            ("POST", "/status_updates"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            Some(
                json!({"data": {"title": "v1", "text": "v2", "html_text": "v3", "status_type": "on_track", "parent": "v5"}}),
            ),
            Shape::Object,
        ),
        exact(
            "status_updates",
            "delete",
            json!({"status_update_gid": "100"}),
            ("DELETE", "/status_updates/100"),
            &[],
            None,
            Shape::Empty,
        ),
        exact(
            "goals",
            "list",
            json!({"portfolio": "v1", "project": "v2", "task": "v3", "is_workspace_level": true, "team": "v5", "workspace": "v6", "time_periods": ["a7", "b7"], "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/goals"),
            &[
                ("portfolio", "v1"),
                ("project", "v2"),
                ("task", "v3"),
                ("is_workspace_level", "true"),
                ("team", "v5"),
                ("workspace", "v6"),
                ("time_periods", "a7,b7"),
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "goals",
            "get",
            json!({"goal_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/goals/100"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "goals",
            "create",
            json!({"opt_fields": ["name"], "name": "v1", "html_notes": "v2", "notes": "v3", "due_on": "v4", "start_on": "v5", "is_workspace_level": true, "liked": true, "team": "v8", "workspace": "v9", "time_period": "v10", "owner": "v11", "followers": ["a12", "b12"]}),
            ("POST", "/goals"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"name": "v1", "html_notes": "v2", "notes": "v3", "due_on": "v4", "start_on": "v5", "is_workspace_level": true, "liked": true, "team": "v8", "workspace": "v9", "time_period": "v10", "owner": "v11", "followers": ["a12", "b12"]}}),
            ),
            Shape::Object,
        ),
        exact(
            "goals",
            "update",
            json!({"goal_gid": "100", "opt_fields": ["name"], "name": "v1", "html_notes": "v2", "notes": "v3", "due_on": "v4", "start_on": "v5", "is_workspace_level": true, "liked": true, "team": "v8", "workspace": "v9", "time_period": "v10", "owner": "v11", "status": "v12", "custom_fields": {"k": "v13"}}),
            ("PUT", "/goals/100"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"name": "v1", "html_notes": "v2", "notes": "v3", "due_on": "v4", "start_on": "v5", "is_workspace_level": true, "liked": true, "team": "v8", "workspace": "v9", "time_period": "v10", "owner": "v11", "status": "v12", "custom_fields": {"k": "v13"}}}),
            ),
            Shape::Object,
        ),
        exact(
            "goals",
            "delete",
            json!({"goal_gid": "100"}),
            ("DELETE", "/goals/100"),
            &[],
            None,
            Shape::Empty,
        ),
        exact(
            "goal_metrics",
            "create",
            json!({"goal_gid": "100", "opt_fields": ["name"], "precision": 3, "unit": "none", "currency_code": "v3", "initial_number_value": 1.5, "target_number_value": 1.5, "current_number_value": 1.5, "progress_source": "manual", "is_custom_weight": true}),
            ("POST", "/goals/100/setMetric"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"precision": 3, "unit": "none", "currency_code": "v3", "initial_number_value": 1.5, "target_number_value": 1.5, "current_number_value": 1.5, "progress_source": "manual", "is_custom_weight": true}}),
            ),
            Shape::Object,
        ),
        exact(
            "goal_metrics",
            "update",
            json!({"goal_gid": "100", "opt_fields": ["name"], "current_number_value": 1.5}),
            ("POST", "/goals/100/setMetricCurrentValue"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"current_number_value": 1.5}})),
            Shape::Object,
        ),
        exact(
            "goal_followers",
            "create",
            json!({"goal_gid": "100", "opt_fields": ["name"], "followers": ["a1", "b1"]}),
            ("POST", "/goals/100/addFollowers"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"followers": ["a1", "b1"]}})),
            Shape::Object,
        ),
        exact(
            "goal_followers",
            "delete",
            json!({"goal_gid": "100", "opt_fields": ["name"], "followers": ["a1", "b1"]}),
            ("POST", "/goals/100/removeFollowers"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"followers": ["a1", "b1"]}})),
            Shape::Object,
        ),
        exact(
            "goal_parent_goals",
            "list",
            json!({"goal_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/goals/100/parentGoals"),
            &[("opt_fields", "name")],
            None,
            Shape::Items,
        ),
        exact(
            "goal_relationships",
            "list",
            json!({"limit": 50, "offset": NEXT_PAGE, "supported_goal": "v1", "resource_subtype": "v2", "opt_fields": ["name"]}),
            ("GET", "/goal_relationships"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("supported_goal", "v1"),
                ("resource_subtype", "v2"),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "goal_relationships",
            "get",
            json!({"goal_relationship_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/goal_relationships/100"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "goal_relationships",
            "update",
            json!({"goal_relationship_gid": "100", "opt_fields": ["name"], "contribution_weight": 1.5}),
            ("PUT", "/goal_relationships/100"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"contribution_weight": 1.5}})),
            Shape::Object,
        ),
        exact(
            "goal_relationships",
            "create",
            json!({"goal_gid": "100", "opt_fields": ["name"], "supporting_resource": "v1", "insert_before": "v2", "contribution_weight": 1.5}),
            ("POST", "/goals/100/addSupportingRelationship"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"supporting_resource": "v1", "insert_before": "v2", "contribution_weight": 1.5}}),
            ),
            Shape::Object,
        ),
        exact(
            "goal_relationships",
            "delete",
            json!({"goal_gid": "100", "supporting_resource": "v1"}),
            ("POST", "/goals/100/removeSupportingRelationship"),
            &[],
            Some(json!({"data": {"supporting_resource": "v1"}})),
            Shape::Object,
        ),
        exact(
            "portfolios",
            "list",
            json!({"limit": 50, "offset": NEXT_PAGE, "workspace": "v1", "owner": "v2", "opt_fields": ["name"]}),
            ("GET", "/portfolios"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("workspace", "v1"),
                ("owner", "v2"),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "portfolios",
            "get",
            json!({"portfolio_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/portfolios/100"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "portfolios",
            "create",
            json!({"opt_fields": ["name"], "name": "v1", "archived": true, "color": "dark-pink", "start_on": "v4", "due_on": "v5", "default_access_level": "admin", "workspace": "v7", "public": true}),
            ("POST", "/portfolios"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"name": "v1", "archived": true, "color": "dark-pink", "start_on": "v4", "due_on": "v5", "default_access_level": "admin", "workspace": "v7", "public": true}}),
            ),
            Shape::Object,
        ),
        exact(
            "portfolios",
            "update",
            json!({"portfolio_gid": "100", "opt_fields": ["name"], "name": "v1", "archived": true, "color": "dark-pink", "start_on": "v4", "due_on": "v5", "default_access_level": "admin", "custom_fields": {"k": "v7"}}),
            ("PUT", "/portfolios/100"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"name": "v1", "archived": true, "color": "dark-pink", "start_on": "v4", "due_on": "v5", "default_access_level": "admin", "custom_fields": {"k": "v7"}}}),
            ),
            Shape::Object,
        ),
        exact(
            "portfolios",
            "delete",
            json!({"portfolio_gid": "100"}),
            ("DELETE", "/portfolios/100"),
            &[],
            None,
            Shape::Empty,
        ),
        exact(
            "portfolio_items",
            "list",
            json!({"portfolio_gid": "100", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/portfolios/100/items"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "portfolio_items",
            "create",
            json!({"portfolio_gid": "100", "item": "v1", "insert_before": "v2"}),
            ("POST", "/portfolios/100/addItem"),
            &[],
            Some(json!({"data": {"item": "v1", "insert_before": "v2"}})),
            Shape::Object,
        ),
        exact(
            "portfolio_items",
            "delete",
            json!({"portfolio_gid": "100", "item": "v1"}),
            ("POST", "/portfolios/100/removeItem"),
            &[],
            Some(json!({"data": {"item": "v1"}})),
            Shape::Object,
        ),
        exact(
            "portfolio_members",
            "create",
            json!({"portfolio_gid": "100", "opt_fields": ["name"], "members": "v1"}),
            ("POST", "/portfolios/100/addMembers"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"members": "v1"}})),
            Shape::Object,
        ),
        exact(
            "portfolio_members",
            "delete",
            json!({"portfolio_gid": "100", "opt_fields": ["name"], "members": "v1"}),
            ("POST", "/portfolios/100/removeMembers"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"members": "v1"}})),
            Shape::Object,
        ),
        exact(
            "portfolio_memberships",
            "list",
            json!({"portfolio_gid": "100", "user": "v1", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/portfolios/100/portfolio_memberships"),
            &[
                ("user", "v1"),
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "task_time_tracking_entries",
            "list",
            json!({"task_gid": "100", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/tasks/100/time_tracking_entries"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "task_time_tracking_entries",
            "create",
            json!({"task_gid": "100", "opt_fields": ["name"], "duration_minutes": 3, "entered_on": "v2", "attributable_to": "v3", "billable_status": "billable", "description": "v5", "categories": ["a6", "b6"]}),
            ("POST", "/tasks/100/time_tracking_entries"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"duration_minutes": 3, "entered_on": "v2", "attributable_to": "v3", "billable_status": "billable", "description": "v5", "categories": ["a6", "b6"]}}),
            ),
            Shape::Object,
        ),
        exact(
            "time_tracking_entries",
            "list",
            json!({"task": "v1", "attributable_to": "v2", "portfolio": "v3", "user": "v4", "workspace": "v5", "entered_on_start_date": "v6", "entered_on_end_date": "v7", "timesheet_approval_status": "v8", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/time_tracking_entries"),
            &[
                ("task", "v1"),
                ("attributable_to", "v2"),
                ("portfolio", "v3"),
                ("user", "v4"),
                ("workspace", "v5"),
                ("entered_on_start_date", "v6"),
                ("entered_on_end_date", "v7"),
                ("timesheet_approval_status", "v8"),
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "time_tracking_entries",
            "get",
            json!({"time_tracking_entry_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/time_tracking_entries/100"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "time_tracking_entries",
            "update",
            json!({"time_tracking_entry_gid": "100", "opt_fields": ["name"], "duration_minutes": 3, "entered_on": "v2", "attributable_to": "v3", "billable_status": "billable", "description": "v5", "categories": ["a6", "b6"]}),
            ("PUT", "/time_tracking_entries/100"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"duration_minutes": 3, "entered_on": "v2", "attributable_to": "v3", "billable_status": "billable", "description": "v5", "categories": ["a6", "b6"]}}),
            ),
            Shape::Object,
        ),
        exact(
            "time_tracking_entries",
            "delete",
            json!({"time_tracking_entry_gid": "100"}),
            ("DELETE", "/time_tracking_entries/100"),
            &[],
            None,
            Shape::Empty,
        ),
        exact(
            "user_task_lists",
            "get",
            json!({"user_task_list_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/user_task_lists/100"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "user_user_task_lists",
            "get",
            json!({"user_gid": "100", "workspace": "v1", "opt_fields": ["name"]}),
            ("GET", "/users/100/user_task_list"),
            &[("workspace", "v1"), ("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "user_task_list_tasks",
            "list",
            json!({"user_task_list_gid": "100", "completed_since": "v1", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/user_task_lists/100/tasks"),
            &[
                ("completed_since", "v1"),
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "memberships",
            "list",
            json!({"parent": "v1", "member": "v2", "resource_subtype": "project_membership", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/memberships"),
            &[
                ("parent", "v1"),
                ("member", "v2"),
                ("resource_subtype", "project_membership"),
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "memberships",
            "get",
            json!({"membership_gid": "100"}),
            ("GET", "/memberships/100"),
            &[],
            None,
            Shape::Object,
        ),
        exact(
            "memberships",
            "create",
            json!({"access_level": "v1", "member": "v2", "parent": "v3", "role": "v4"}),
            ("POST", "/memberships"),
            &[],
            Some(
                json!({"data": {"access_level": "v1", "member": "v2", "parent": "v3", "role": "v4"}}),
            ),
            Shape::Object,
        ),
        exact(
            "memberships",
            "update",
            json!({"membership_gid": "100", "access_level": "v1"}),
            ("PUT", "/memberships/100"),
            &[],
            Some(json!({"data": {"access_level": "v1"}})),
            Shape::Object,
        ),
        exact(
            "memberships",
            "delete",
            json!({"membership_gid": "100"}),
            ("DELETE", "/memberships/100"),
            &[],
            None,
            Shape::Empty,
        ),
        exact(
            "project_memberships",
            "list",
            json!({"project_gid": "100", "user": "v1", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/projects/100/project_memberships"),
            &[
                ("user", "v1"),
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "project_memberships",
            "get",
            json!({"project_membership_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/project_memberships/100"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "project_members",
            "create",
            json!({"project_gid": "100", "opt_fields": ["name"], "members": "v1"}),
            ("POST", "/projects/100/addMembers"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"members": "v1"}})),
            Shape::Object,
        ),
        exact(
            "project_members",
            "delete",
            json!({"project_gid": "100", "opt_fields": ["name"], "members": "v1"}),
            ("POST", "/projects/100/removeMembers"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"members": "v1"}})),
            Shape::Object,
        ),
        exact(
            "project_followers",
            "create",
            json!({"project_gid": "100", "opt_fields": ["name"], "followers": "v1"}),
            ("POST", "/projects/100/addFollowers"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"followers": "v1"}})),
            Shape::Object,
        ),
        exact(
            "project_followers",
            "delete",
            json!({"project_gid": "100", "opt_fields": ["name"], "followers": "v1"}),
            ("POST", "/projects/100/removeFollowers"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"followers": "v1"}})),
            Shape::Object,
        ),
        exact(
            "team_memberships",
            "list",
            json!({"limit": 50, "offset": NEXT_PAGE, "team": "v1", "user": "v2", "workspace": "v3", "opt_fields": ["name"]}),
            ("GET", "/team_memberships"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("team", "v1"),
                ("user", "v2"),
                ("workspace", "v3"),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "team_memberships",
            "get",
            json!({"team_membership_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/team_memberships/100"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "team_team_memberships",
            "list",
            json!({"team_gid": "100", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/teams/100/team_memberships"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "user_team_memberships",
            "list",
            json!({"user_gid": "100", "limit": 50, "offset": NEXT_PAGE, "workspace": "v1", "opt_fields": ["name"]}),
            ("GET", "/users/100/team_memberships"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("workspace", "v1"),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "team_members",
            "create",
            json!({"team_gid": "100", "opt_fields": ["name"], "user": "v1"}),
            ("POST", "/teams/100/addUser"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"user": "v1"}})),
            Shape::Object,
        ),
        exact(
            "team_members",
            "delete",
            json!({"team_gid": "100", "user": "v1"}),
            ("POST", "/teams/100/removeUser"),
            &[],
            Some(json!({"data": {"user": "v1"}})),
            Shape::Object,
        ),
        exact(
            "workspace_memberships",
            "delete",
            json!({"workspace_gid": "100", "user": "v1"}),
            ("POST", "/workspaces/100/removeUser"),
            &[],
            Some(json!({"data": {"user": "v1"}})),
            Shape::Object,
        ),
        exact(
            "workspace_memberships",
            "list",
            json!({"workspace_gid": "100", "user": "v1", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/workspaces/100/workspace_memberships"),
            &[
                ("user", "v1"),
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "workspace_memberships",
            "get",
            json!({"workspace_membership_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/workspace_memberships/100"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "user_workspace_memberships",
            "list",
            json!({"user_gid": "100", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/users/100/workspace_memberships"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "project_duplicates",
            "create",
            json!({"project_gid": "100", "opt_fields": ["name"], "name": "v1", "include": "v2", "schedule_dates": {"k": "v3"}}),
            ("POST", "/projects/100/duplicate"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"name": "v1", "include": "v2", "schedule_dates": {"k": "v3"}}})),
            Shape::Object,
        ),
        exact(
            "project_task_counts",
            "get",
            json!({"project_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/projects/100/task_counts"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "team_projects",
            "create",
            json!({"team_gid": "100", "opt_fields": ["name"], "name": "v1", "archived": true, "color": "dark-pink", "icon": "list", "current_status": {"k": "v5"}, "current_status_update": {"k": "v6"}, "default_view": "list", "due_date": "v8", "due_on": "v9", "html_notes": "v10", "notes": "v11", "public": true, "privacy_setting": "public_to_workspace", "start_on": "v14", "default_access_level": "admin", "minimum_access_level_for_customization": "admin", "minimum_access_level_for_sharing": "admin", "custom_fields": {"k": "v18"}, "followers": "v19", "owner": "v20", "team": "v21", "workspace": "v22"}),
            ("POST", "/teams/100/projects"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"name": "v1", "archived": true, "color": "dark-pink", "icon": "list", "current_status": {"k": "v5"}, "current_status_update": {"k": "v6"}, "default_view": "list", "due_date": "v8", "due_on": "v9", "html_notes": "v10", "notes": "v11", "public": true, "privacy_setting": "public_to_workspace", "start_on": "v14", "default_access_level": "admin", "minimum_access_level_for_customization": "admin", "minimum_access_level_for_sharing": "admin", "custom_fields": {"k": "v18"}, "followers": "v19", "owner": "v20", "team": "v21", "workspace": "v22"}}),
            ),
            Shape::Object,
        ),
        exact(
            "workspace_projects",
            "create",
            json!({"workspace_gid": "100", "opt_fields": ["name"], "name": "v1", "archived": true, "color": "dark-pink", "icon": "list", "current_status": {"k": "v5"}, "current_status_update": {"k": "v6"}, "default_view": "list", "due_date": "v8", "due_on": "v9", "html_notes": "v10", "notes": "v11", "public": true, "privacy_setting": "public_to_workspace", "start_on": "v14", "default_access_level": "admin", "minimum_access_level_for_customization": "admin", "minimum_access_level_for_sharing": "admin", "custom_fields": {"k": "v18"}, "followers": "v19", "owner": "v20", "team": "v21", "workspace": "v22"}),
            ("POST", "/workspaces/100/projects"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"name": "v1", "archived": true, "color": "dark-pink", "icon": "list", "current_status": {"k": "v5"}, "current_status_update": {"k": "v6"}, "default_view": "list", "due_date": "v8", "due_on": "v9", "html_notes": "v10", "notes": "v11", "public": true, "privacy_setting": "public_to_workspace", "start_on": "v14", "default_access_level": "admin", "minimum_access_level_for_customization": "admin", "minimum_access_level_for_sharing": "admin", "custom_fields": {"k": "v18"}, "followers": "v19", "owner": "v20", "team": "v21", "workspace": "v22"}}),
            ),
            Shape::Object,
        ),
        exact(
            "project_templates",
            "list",
            json!({"workspace": "v1", "team": "v2", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/project_templates"),
            &[
                ("workspace", "v1"),
                ("team", "v2"),
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "project_templates",
            "get",
            json!({"project_template_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/project_templates/100"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "project_templates",
            "delete",
            json!({"project_template_gid": "100"}),
            ("DELETE", "/project_templates/100"),
            &[],
            None,
            Shape::Empty,
        ),
        exact(
            "project_templates",
            "create",
            json!({"project_gid": "100", "opt_fields": ["name"], "name": "v1", "team": "v2", "workspace": "v3", "public": true}),
            ("POST", "/projects/100/saveAsTemplate"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"name": "v1", "team": "v2", "workspace": "v3", "public": true}})),
            Shape::Object,
        ),
        exact(
            "team_project_templates",
            "list",
            json!({"team_gid": "100", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/teams/100/project_templates"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "project_template_instances",
            "create",
            json!({"project_template_gid": "100", "opt_fields": ["name"], "name": "v1", "team": "v2", "public": true, "privacy_setting": "public_to_workspace", "is_strict": true, "requested_dates": [{"k": 6}], "requested_roles": [{"k": 7}]}),
            ("POST", "/project_templates/100/instantiateProject"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"name": "v1", "team": "v2", "public": true, "privacy_setting": "public_to_workspace", "is_strict": true, "requested_dates": [{"k": 6}], "requested_roles": [{"k": 7}]}}),
            ),
            Shape::Object,
        ),
        exact(
            "project_statuses",
            "list",
            json!({"project_gid": "100", "limit": 50, "offset": NEXT_PAGE, "opt_fields": ["name"]}),
            ("GET", "/projects/100/project_statuses"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "stories",
            "get",
            json!({"story_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/stories/100"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "stories",
            "update",
            json!({"story_gid": "100", "opt_fields": ["name"], "text": "v1", "html_text": "v2", "is_pinned": true, "sticker_name": "green_checkmark"}),
            ("PUT", "/stories/100"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"text": "v1", "html_text": "v2", "is_pinned": true, "sticker_name": "green_checkmark"}}),
            ),
            Shape::Object,
        ),
        exact(
            "stories",
            "delete",
            json!({"story_gid": "100"}),
            ("DELETE", "/stories/100"),
            &[],
            None,
            Shape::Empty,
        ),
        exact(
            "tags",
            "list",
            json!({"limit": 50, "offset": NEXT_PAGE, "workspace": "v1", "opt_fields": ["name"]}),
            ("GET", "/tags"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("workspace", "v1"),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "tags",
            "create",
            json!({"opt_fields": ["name"], "name": "v1", "color": "dark-pink", "notes": "v3", "followers": ["a4", "b4"], "workspace": "v5"}),
            ("POST", "/tags"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"name": "v1", "color": "dark-pink", "notes": "v3", "followers": ["a4", "b4"], "workspace": "v5"}}),
            ),
            Shape::Object,
        ),
        exact(
            "attachments",
            "delete",
            json!({"attachment_gid": "100"}),
            ("DELETE", "/attachments/100"),
            &[],
            None,
            Shape::Empty,
        ),
        exact(
            "teams",
            "create",
            json!({"opt_fields": ["name"], "name": "v1", "description": "v2", "html_description": "v3", "organization": "v4", "visibility": "secret", "edit_team_name_or_description_access_level": "all_team_members", "edit_team_visibility_or_trash_team_access_level": "all_team_members", "member_invite_management_access_level": "all_team_members", "guest_invite_management_access_level": "all_team_members", "join_request_management_access_level": "all_team_members", "team_member_removal_access_level": "all_team_members", "team_content_management_access_level": "no_restriction", "endorsed": true}),
            ("POST", "/teams"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"name": "v1", "description": "v2", "html_description": "v3", "organization": "v4", "visibility": "secret", "edit_team_name_or_description_access_level": "all_team_members", "edit_team_visibility_or_trash_team_access_level": "all_team_members", "member_invite_management_access_level": "all_team_members", "guest_invite_management_access_level": "all_team_members", "join_request_management_access_level": "all_team_members", "team_member_removal_access_level": "all_team_members", "team_content_management_access_level": "no_restriction", "endorsed": true}}),
            ),
            Shape::Object,
        ),
        exact(
            "teams",
            "update",
            json!({"team_gid": "100", "opt_fields": ["name"], "name": "v1", "description": "v2", "html_description": "v3", "organization": "v4", "visibility": "secret", "edit_team_name_or_description_access_level": "all_team_members", "edit_team_visibility_or_trash_team_access_level": "all_team_members", "member_invite_management_access_level": "all_team_members", "guest_invite_management_access_level": "all_team_members", "join_request_management_access_level": "all_team_members", "team_member_removal_access_level": "all_team_members", "team_content_management_access_level": "no_restriction", "endorsed": true}),
            ("PUT", "/teams/100"),
            &[("opt_fields", "name")],
            Some(
                json!({"data": {"name": "v1", "description": "v2", "html_description": "v3", "organization": "v4", "visibility": "secret", "edit_team_name_or_description_access_level": "all_team_members", "edit_team_visibility_or_trash_team_access_level": "all_team_members", "member_invite_management_access_level": "all_team_members", "guest_invite_management_access_level": "all_team_members", "join_request_management_access_level": "all_team_members", "team_member_removal_access_level": "all_team_members", "team_content_management_access_level": "no_restriction", "endorsed": true}}),
            ),
            Shape::Object,
        ),
        exact(
            "user_favorites",
            "list",
            json!({"user_gid": "100", "limit": 50, "offset": NEXT_PAGE, "resource_type": "portfolio", "workspace": "v2", "opt_fields": ["name"]}),
            ("GET", "/users/100/favorites"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("resource_type", "portfolio"),
                ("workspace", "v2"),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "workspace_users",
            "get",
            json!({"workspace_gid": "100", "user_gid": "101", "opt_fields": ["name"]}),
            ("GET", "/workspaces/100/users/101"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "workspaces",
            "update",
            json!({"workspace_gid": "100", "opt_fields": ["name"], "name": "v1"}),
            ("PUT", "/workspaces/100"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"name": "v1"}})),
            Shape::Object,
        ),
        exact(
            "webhooks",
            "list",
            json!({"limit": 50, "offset": NEXT_PAGE, "workspace": "v1", "resource": "v2", "opt_fields": ["name"]}),
            ("GET", "/webhooks"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("workspace", "v1"),
                ("resource", "v2"),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "webhooks",
            "get",
            json!({"webhook_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/webhooks/100"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "webhooks",
            "create",
            json!({"opt_fields": ["name"], "resource": "v1", "target": "v2", "filters": [{"k": 3}]}),
            ("POST", "/webhooks"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"resource": "v1", "target": "v2", "filters": [{"k": 3}]}})),
            Shape::Object,
        ),
        exact(
            "webhooks",
            "update",
            json!({"webhook_gid": "100", "opt_fields": ["name"], "filters": [{"k": 1}]}),
            ("PUT", "/webhooks/100"),
            &[("opt_fields", "name")],
            Some(json!({"data": {"filters": [{"k": 1}]}})),
            Shape::Object,
        ),
        exact(
            "webhooks",
            "delete",
            json!({"webhook_gid": "100"}),
            ("DELETE", "/webhooks/100"),
            &[],
            None,
            Shape::Empty,
        ),
        exact(
            "time_periods",
            "list",
            json!({"limit": 50, "offset": NEXT_PAGE, "start_on": "v1", "end_on": "v2", "workspace": "v3", "opt_fields": ["name"]}),
            ("GET", "/time_periods"),
            &[
                ("limit", "50"),
                ("offset", NEXT_PAGE),
                ("start_on", "v1"),
                ("end_on", "v2"),
                ("workspace", "v3"),
                ("opt_fields", "name"),
            ],
            None,
            Shape::Page,
        ),
        exact(
            "time_periods",
            "get",
            json!({"time_period_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/time_periods/100"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        exact(
            "jobs",
            "get",
            json!({"job_gid": "100", "opt_fields": ["name"]}),
            ("GET", "/jobs/100"),
            &[("opt_fields", "name")],
            None,
            Shape::Object,
        ),
        Case {
            entity: "batch",
            action: "submit",
            params: json!({"actions": batch_actions()}),
            method: "POST",
            path: "/batch",
            query: &[],
            body: Some(json!({"data": {"actions": batch_actions()}})),
            status: 200,
            response: batch_results(),
            expected: batch_results(),
        },
    ]
}

/// Two batched calls: a read with its query in `data` and paging in `options`, and a write.
fn batch_actions() -> Value {
    json!([
        {"relative_path": "/tasks", "method": "get",
         "data": {"assignee": "me", "workspace": "1337"},
         "options": {"limit": 3, "offset": NEXT_PAGE, "fields": ["name", "completed"]}},
        {"relative_path": "/tasks/123", "method": "put", "data": {"completed": true}},
    ])
}

/// What Asana answers a batch with: one result per call, in order.
fn batch_results() -> Value {
    json!({"data": [
        {"status_code": 200, "headers": {}, "body": {"data": [{"gid": "1", "name": "A"}]}},
        {"status_code": 200, "headers": {}, "body": {"data": {"gid": "123", "completed": true}}},
    ]})
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

/// Mounts the one request `case` must send, answered with its response, expected once (after a
/// reset of everything mounted before).
async fn mount_case(server: &MockServer, case: &Case) {
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
        .mount(server)
        .await;
}

#[tokio::test]
async fn every_action_sends_exactly_one_exact_request_and_returns_its_shape() {
    let server = MockServer::start().await;
    let connector = connector(&server);
    for case in cases() {
        let name = format!("{}.{} {}", case.entity, case.action, case.params);
        mount_case(&server, &case).await;

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

#[tokio::test]
async fn integers_written_with_a_zero_fraction_are_taken_and_sent_as_integers() {
    let server = MockServer::start().await;
    let connector = connector(&server);
    let cases = [
        list(
            "tasks",
            json!({"project": "1", "limit": 10.0}),
            "/tasks",
            &[("project", "1"), ("limit", "10")],
        ),
        write(
            "time_tracking_entries",
            "update",
            json!({"time_tracking_entry_gid": "100", "duration_minutes": 30.0}),
            ("PUT", "/time_tracking_entries/100"),
            &[],
            json!({"duration_minutes": 30}),
        ),
        Case {
            entity: "batch",
            action: "submit",
            params: json!({"actions": [
                {"relative_path": "/tasks", "method": "get", "options": {"limit": 3.0}}
            ]}),
            method: "POST",
            path: "/batch",
            query: &[],
            body: Some(json!({"data": {"actions": [
                {"relative_path": "/tasks", "method": "get", "options": {"limit": 3}}
            ]}})),
            status: 200,
            response: batch_results(),
            expected: batch_results(),
        },
    ];
    for case in cases {
        let name = format!("{}.{} {}", case.entity, case.action, case.params);
        mount_case(&server, &case).await;
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
        server.verify().await;
    }
    let err = connector
        .execute("tasks", "list", json!({"project": "1", "limit": 100.5}))
        .await
        .unwrap_err();
    let ExecuteError::InvalidParams { problems, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(problems, &["`limit` must be integer 1..=100, got a number"]);
    let err = connector
        .execute("tasks", "list", json!({"project": "1", "limit": 101.0}))
        .await
        .unwrap_err();
    let ExecuteError::InvalidParams { problems, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(problems, &["`limit` must be between 1 and 100, got 101.0"]);
}

#[tokio::test]
async fn an_update_sends_an_empty_text_field_to_clear_it() {
    let server = MockServer::start().await;
    let connector = connector(&server);
    let cases = [
        write(
            "tasks",
            "update",
            json!({"task_gid": "12", "notes": ""}),
            ("PUT", "/tasks/12"),
            &[],
            json!({"notes": ""}),
        ),
        write(
            "teams",
            "update",
            json!({"team_gid": "7", "description": ""}),
            ("PUT", "/teams/7"),
            &[],
            json!({"description": ""}),
        ),
    ];
    for case in cases {
        let name = format!("{}.{} {}", case.entity, case.action, case.params);
        mount_case(&server, &case).await;
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
        server.verify().await;
    }
}

#[tokio::test]
async fn execute_json_sends_the_same_request_and_returns_the_same_result_as_text() {
    let server = MockServer::start().await;
    let connector = connector(&server);
    for case in cases() {
        let name = format!("{}.{} {}", case.entity, case.action, case.params);
        mount_case(&server, &case).await;

        let result = match connector
            .execute_json(case.entity, case.action, case.params.clone())
            .await
        {
            Ok(result) => result,
            Err(e) => panic!(
                "{name}: {e}\nreceived:\n{}",
                describe_received(&server).await
            ),
        };
        let data: Value = serde_json::from_str(result.data.get()).unwrap();
        assert_eq!(data, case.expected["data"], "{name}");
        let meta = case.expected.get("meta").cloned().unwrap_or(json!({}));
        assert_eq!(Value::Object(result.meta), meta, "{name}");
        server.verify().await;
    }
}

/// Answers `GET /users/{gid}` with `body`, byte for byte.
async fn answer_user_get(server: &MockServer, gid: &str, body: impl Into<Vec<u8>>) {
    Mock::given(method("GET"))
        .and(path(format!("/api/1.0/users/{gid}")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.into(), "application/json"))
        .mount(server)
        .await;
}

#[tokio::test]
async fn execute_json_hands_a_record_over_as_asana_wrote_it_and_shapes_or_caps_it_as_execute_does()
{
    let server = MockServer::start().await;
    let record = r#"{"name":"Ann","gid":"1","custom":{"b":1,"a":2.50,"s":"\u00e9"}}"#;
    answer_user_get(&server, "1", format!(r#"{{"data":{record},"extra":[1]}}"#)).await;
    let connector = connector(&server);
    let get = json!({"user_gid": "1"});

    let text = connector
        .execute_json("users", "get", get.clone())
        .await
        .unwrap();
    assert_eq!(
        text.data.get(),
        record,
        "field order, number and escape as sent"
    );
    assert!(text.meta.is_empty());

    let shaped = connector
        .execute_json(
            "users",
            "get",
            json!({"user_gid": "1", "select_fields": ["name", "custom"]}),
        )
        .await
        .unwrap();
    let value = connector
        .execute(
            "users",
            "get",
            json!({"user_gid": "1", "select_fields": ["name", "custom"]}),
        )
        .await
        .unwrap();
    assert_eq!(shaped.data.get(), value["data"].to_string());
    assert_eq!(
        shaped.data.get(),
        r#"{"custom":{"a":2.5,"b":1,"s":"é"},"gid":"1","name":"Ann"}"#
    );

    // Over the cap: the same error, with the length `execute` measures (compact, as a `Value`
    // writes it), not the text's.
    let small = connector.clone().with_max_result_chars(40);
    let by_text = small
        .execute_json("users", "get", get.clone())
        .await
        .unwrap_err();
    let by_value = small.execute("users", "get", get).await.unwrap_err();
    assert!(
        matches!(
            by_text,
            ExecuteError::ResultTooLarge {
                chars: 66,
                max: 40,
                ..
            }
        ),
        "{by_text:?}"
    );
    assert_eq!(by_text.to_string(), by_value.to_string());

    // An answer without a body has no data: `null`, as `execute`'s.
    Mock::given(method("DELETE"))
        .and(path("/api/1.0/tasks/9"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let delete = json!({"task_gid": "9"});
    let deleted = connector
        .execute_json("tasks", "delete", delete.clone())
        .await
        .unwrap();
    assert_eq!(deleted.data.get(), "null");
    let value = connector.execute("tasks", "delete", delete).await.unwrap();
    assert_eq!(value, json!({"data": null}));

    // `data` as `execute` finds it: the last of two, none in an answer that is not an object.
    for (gid, answer, data) in [
        (
            "7",
            r#"{"data":1,"x":[{}],"data":{"gid":"7"}}"#,
            r#"{"gid":"7"}"#,
        ),
        ("8", r#"[{"data":{"gid":"8"}}]"#, "null"),
        ("9", r#""data""#, "null"),
        // serde_json's raw-value token: a `Value` read takes the object for the text it holds.
        (
            "10",
            r#"{"data":{"$serde_json::private::RawValue":"[1, {\"b\":2,\"a\":1}]"}}"#,
            r#"[1,{"a":1,"b":2}]"#,
        ),
        (
            "11",
            r#"{"$serde_json::private::Raw\u0056alue":"{\"data\":{\"gid\":\"11\"}}"}"#,
            r#"{"gid":"11"}"#,
        ),
    ] {
        answer_user_get(&server, gid, answer).await;
        let params = json!({ "user_gid": gid });
        let text = connector
            .execute_json("users", "get", params.clone())
            .await
            .unwrap();
        assert_eq!(text.data.get(), data, "{answer}");
        let value = connector.execute("users", "get", params).await.unwrap();
        assert_eq!(value["data"].to_string(), data, "{answer}");
    }
}

#[tokio::test]
async fn execute_json_refuses_every_answer_execute_refuses_with_the_same_error() {
    let server = MockServer::start().await;
    let deep = format!("{}1{}", "[".repeat(130), "]".repeat(130));
    let answers: [(&str, Vec<u8>); 8] = [
        (
            "raw-value token over text that is not JSON",
            br#"{"data":{"$serde_json::private::RawValue":"not json"}}"#.to_vec(),
        ),
        (
            "raw-value token with a second key",
            br#"{"$serde_json::private::RawValue":"{}","data":{}}"#.to_vec(),
        ),
        ("lone surrogate", br#"{"data":{"n":"\ud800"}}"#.to_vec()),
        ("number out of range", br#"{"data":{"x":1e400}}"#.to_vec()),
        ("too deep", format!(r#"{{"data":{deep}}}"#).into_bytes()),
        (
            "bad UTF-8 beside data",
            b"{\"x\":\"\xff\",\"data\":{}}".to_vec(),
        ),
        (
            "bad number beside data",
            br#"{"meta":{"x":-1e400},"data":{}}"#.to_vec(),
        ),
        ("truncated", br#"{"data":{"gid":"#.to_vec()),
    ];
    let connector = connector(&server);
    for (n, (what, body)) in answers.into_iter().enumerate() {
        let gid = n.to_string();
        answer_user_get(&server, &gid, body).await;
        let params = json!({ "user_gid": gid });
        let by_text = connector
            .execute_json("users", "get", params.clone())
            .await
            .unwrap_err();
        let by_value = connector
            .execute("users", "get", params.clone())
            .await
            .unwrap_err();
        assert!(
            matches!(&by_text, ExecuteError::Api(AsanaError::Decode { expected, .. }) if *expected == "serde_json::value::Value"),
            "{what}: {by_text:?}"
        );
        assert_eq!(by_text.to_string(), by_value.to_string(), "{what}");
        // The same when the answer is long enough for the cap to measure it.
        let small = connector.clone().with_max_result_chars(10);
        let by_text = small
            .execute_json("users", "get", params)
            .await
            .unwrap_err();
        assert_eq!(
            by_text.to_string(),
            by_value.to_string(),
            "{what}, measured"
        );
    }
}

#[tokio::test]
async fn batch_sends_ten_actions_in_one_request_and_refuses_an_eleventh_before_sending() {
    let server = MockServer::start().await;
    let connector = connector(&server);
    let ten: Vec<Value> = (1..=10)
        .map(|i| json!({"relative_path": format!("/tasks/{i}"), "method": "get"}))
        .collect();
    let results: Vec<Value> = (1..=10)
        .map(|i| json!({"status_code": 200, "body": {"data": {"gid": i.to_string()}}}))
        .collect();
    Mock::given(method("POST"))
        .and(path("/api/1.0/batch"))
        .and(ExactQuery::new(&[]))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"data": {"actions": ten}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": results })))
        .expect(1)
        .mount(&server)
        .await;

    let result = connector
        .execute("batch", "submit", json!({ "actions": ten }))
        .await
        .unwrap();
    assert_eq!(result, json!({ "data": results }));

    let mut eleven = ten.clone();
    eleven.push(json!({"relative_path": "/tasks/11", "method": "get"}));
    let err = connector
        .execute("batch", "submit", json!({ "actions": eleven }))
        .await
        .unwrap_err();
    let ExecuteError::InvalidParams { problems, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        problems,
        &["`actions` must hold 1 to 10 actions, got 11: split the calls into batches of 10"]
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

/// Every operation of Asana's OpenAPI spec (`defs/asana_oas.yaml` in Asana/openapi), as
/// `METHOD /path`.
const SPEC_OPERATIONS: &[&str] = &[
    "GET /access_requests",
    "POST /access_requests",
    "POST /access_requests/{access_request_gid}/approve",
    "POST /access_requests/{access_request_gid}/reject",
    "GET /workspaces/{workspace_gid}/agents",
    "GET /agents/{agent_gid}",
    "GET /allocations/{allocation_gid}",
    "PUT /allocations/{allocation_gid}",
    "DELETE /allocations/{allocation_gid}",
    "GET /allocations",
    "POST /allocations",
    "GET /attachments/{attachment_gid}",
    "DELETE /attachments/{attachment_gid}",
    "GET /attachments",
    "POST /attachments",
    "GET /workspaces/{workspace_gid}/audit_log_events",
    "POST /batch",
    "GET /budgets",
    "POST /budgets",
    "GET /budgets/{budget_gid}",
    "PUT /budgets/{budget_gid}",
    "DELETE /budgets/{budget_gid}",
    "GET /projects/{project_gid}/custom_field_settings",
    "GET /portfolios/{portfolio_gid}/custom_field_settings",
    "GET /goals/{goal_gid}/custom_field_settings",
    "GET /teams/{team_gid}/custom_field_settings",
    "POST /custom_fields",
    "GET /custom_fields/{custom_field_gid}",
    "PUT /custom_fields/{custom_field_gid}",
    "DELETE /custom_fields/{custom_field_gid}",
    "GET /workspaces/{workspace_gid}/custom_fields",
    "POST /custom_fields/{custom_field_gid}/enum_options",
    "POST /custom_fields/{custom_field_gid}/enum_options/insert",
    "PUT /enum_options/{enum_option_gid}",
    "GET /custom_types",
    "GET /custom_types/{custom_type_gid}",
    "GET /events",
    "POST /exports/graph",
    "POST /exports/resource",
    "GET /goal_relationships/{goal_relationship_gid}",
    "PUT /goal_relationships/{goal_relationship_gid}",
    "GET /goal_relationships",
    "POST /goals/{goal_gid}/addSupportingRelationship",
    "POST /goals/{goal_gid}/removeSupportingRelationship",
    "GET /goals/{goal_gid}",
    "PUT /goals/{goal_gid}",
    "DELETE /goals/{goal_gid}",
    "GET /goals",
    "POST /goals",
    "POST /goals/{goal_gid}/setMetric",
    "POST /goals/{goal_gid}/setMetricCurrentValue",
    "POST /goals/{goal_gid}/addFollowers",
    "POST /goals/{goal_gid}/removeFollowers",
    "GET /goals/{goal_gid}/parentGoals",
    "POST /goals/{goal_gid}/addCustomFieldSetting",
    "POST /goals/{goal_gid}/removeCustomFieldSetting",
    "GET /jobs/{job_gid}",
    "GET /memberships",
    "POST /memberships",
    "GET /memberships/{membership_gid}",
    "PUT /memberships/{membership_gid}",
    "DELETE /memberships/{membership_gid}",
    "GET /ooo_entries/{ooo_entry_gid}",
    "PUT /ooo_entries/{ooo_entry_gid}",
    "DELETE /ooo_entries/{ooo_entry_gid}",
    "GET /ooo_entries",
    "POST /ooo_entries",
    "POST /organization_exports",
    "GET /organization_exports/{organization_export_gid}",
    "GET /portfolio_memberships",
    "GET /portfolio_memberships/{portfolio_membership_gid}",
    "GET /portfolios/{portfolio_gid}/portfolio_memberships",
    "GET /portfolios",
    "POST /portfolios",
    "GET /portfolios/{portfolio_gid}",
    "PUT /portfolios/{portfolio_gid}",
    "DELETE /portfolios/{portfolio_gid}",
    "GET /portfolios/{portfolio_gid}/items",
    "POST /portfolios/{portfolio_gid}/addItem",
    "POST /portfolios/{portfolio_gid}/removeItem",
    "POST /portfolios/{portfolio_gid}/addCustomFieldSetting",
    "POST /portfolios/{portfolio_gid}/removeCustomFieldSetting",
    "POST /portfolios/{portfolio_gid}/addMembers",
    "POST /portfolios/{portfolio_gid}/removeMembers",
    "POST /portfolios/{portfolio_gid}/duplicate",
    "GET /project_briefs/{project_brief_gid}",
    "PUT /project_briefs/{project_brief_gid}",
    "DELETE /project_briefs/{project_brief_gid}",
    "POST /projects/{project_gid}/project_briefs",
    "GET /project_memberships/{project_membership_gid}",
    "GET /projects/{project_gid}/project_memberships",
    "GET /project_portfolio_settings/{project_portfolio_setting_gid}",
    "PUT /project_portfolio_settings/{project_portfolio_setting_gid}",
    "GET /projects/{project_gid}/project_portfolio_settings",
    "GET /portfolios/{portfolio_gid}/project_portfolio_settings",
    "GET /project_statuses/{project_status_gid}",
    "DELETE /project_statuses/{project_status_gid}",
    "GET /projects/{project_gid}/project_statuses",
    "POST /projects/{project_gid}/project_statuses",
    "GET /project_templates/{project_template_gid}",
    "DELETE /project_templates/{project_template_gid}",
    "GET /project_templates",
    "GET /teams/{team_gid}/project_templates",
    "POST /project_templates/{project_template_gid}/instantiateProject",
    "GET /projects",
    "POST /projects",
    "GET /projects/{project_gid}",
    "PUT /projects/{project_gid}",
    "DELETE /projects/{project_gid}",
    "POST /projects/{project_gid}/duplicate",
    "GET /tasks/{task_gid}/projects",
    "GET /teams/{team_gid}/projects",
    "POST /teams/{team_gid}/projects",
    "GET /workspaces/{workspace_gid}/projects",
    "POST /workspaces/{workspace_gid}/projects",
    "GET /workspaces/{workspace_gid}/projects/search",
    "POST /projects/{project_gid}/addCustomFieldSetting",
    "POST /projects/{project_gid}/removeCustomFieldSetting",
    "GET /projects/{project_gid}/task_counts",
    "POST /projects/{project_gid}/addMembers",
    "POST /projects/{project_gid}/removeMembers",
    "POST /projects/{project_gid}/addFollowers",
    "POST /projects/{project_gid}/removeFollowers",
    "POST /projects/{project_gid}/saveAsTemplate",
    "GET /rates",
    "POST /rates",
    "GET /rates/{rate_gid}",
    "PUT /rates/{rate_gid}",
    "DELETE /rates/{rate_gid}",
    "GET /reactions",
    "GET /roles",
    "POST /roles",
    "GET /roles/{role_gid}",
    "PUT /roles/{role_gid}",
    "DELETE /roles/{role_gid}",
    "POST /rule_triggers/{rule_trigger_gid}/run",
    "GET /sections/{section_gid}",
    "PUT /sections/{section_gid}",
    "DELETE /sections/{section_gid}",
    "GET /projects/{project_gid}/sections",
    "POST /projects/{project_gid}/sections",
    "POST /sections/{section_gid}/addTask",
    "POST /projects/{project_gid}/sections/insert",
    "GET /status_updates/{status_update_gid}",
    "DELETE /status_updates/{status_update_gid}",
    "GET /status_updates",
    "POST /status_updates",
    "GET /stories/{story_gid}",
    "PUT /stories/{story_gid}",
    "DELETE /stories/{story_gid}",
    "GET /tasks/{task_gid}/stories",
    "POST /tasks/{task_gid}/stories",
    "GET /goals/{goal_gid}/stories",
    "POST /goals/{goal_gid}/stories",
    "GET /tags",
    "POST /tags",
    "GET /tags/{tag_gid}",
    "PUT /tags/{tag_gid}",
    "DELETE /tags/{tag_gid}",
    "GET /tasks/{task_gid}/tags",
    "GET /workspaces/{workspace_gid}/tags",
    "POST /workspaces/{workspace_gid}/tags",
    "GET /task_templates",
    "GET /task_templates/{task_template_gid}",
    "DELETE /task_templates/{task_template_gid}",
    "POST /task_templates/{task_template_gid}/instantiateTask",
    "GET /tasks",
    "POST /tasks",
    "GET /tasks/{task_gid}",
    "PUT /tasks/{task_gid}",
    "DELETE /tasks/{task_gid}",
    "POST /tasks/{task_gid}/duplicate",
    "GET /projects/{project_gid}/tasks",
    "GET /sections/{section_gid}/tasks",
    "GET /tags/{tag_gid}/tasks",
    "GET /user_task_lists/{user_task_list_gid}/tasks",
    "GET /tasks/{task_gid}/subtasks",
    "POST /tasks/{task_gid}/subtasks",
    "POST /tasks/{task_gid}/setParent",
    "GET /tasks/{task_gid}/dependencies",
    "POST /tasks/{task_gid}/addDependencies",
    "POST /tasks/{task_gid}/removeDependencies",
    "GET /tasks/{task_gid}/dependents",
    "POST /tasks/{task_gid}/addDependents",
    "POST /tasks/{task_gid}/removeDependents",
    "POST /tasks/{task_gid}/addProject",
    "POST /tasks/{task_gid}/removeProject",
    "POST /tasks/{task_gid}/addTag",
    "POST /tasks/{task_gid}/removeTag",
    "POST /tasks/{task_gid}/addFollowers",
    "POST /tasks/{task_gid}/removeFollowers",
    "GET /workspaces/{workspace_gid}/tasks/custom_id/{custom_id}",
    "GET /workspaces/{workspace_gid}/tasks/search",
    "GET /team_memberships/{team_membership_gid}",
    "GET /team_memberships",
    "GET /teams/{team_gid}/team_memberships",
    "GET /users/{user_gid}/team_memberships",
    "POST /teams",
    "GET /teams/{team_gid}",
    "PUT /teams/{team_gid}",
    "GET /workspaces/{workspace_gid}/teams",
    "GET /users/{user_gid}/teams",
    "POST /teams/{team_gid}/addUser",
    "POST /teams/{team_gid}/removeUser",
    "GET /time_periods/{time_period_gid}",
    "GET /time_periods",
    "GET /time_tracking_categories/{time_tracking_category_gid}",
    "PUT /time_tracking_categories/{time_tracking_category_gid}",
    "DELETE /time_tracking_categories/{time_tracking_category_gid}",
    "GET /time_tracking_categories/{time_tracking_category_gid}/time_tracking_entries",
    "GET /time_tracking_categories",
    "POST /time_tracking_categories",
    "GET /tasks/{task_gid}/time_tracking_entries",
    "POST /tasks/{task_gid}/time_tracking_entries",
    "GET /time_tracking_entries/{time_tracking_entry_gid}",
    "PUT /time_tracking_entries/{time_tracking_entry_gid}",
    "DELETE /time_tracking_entries/{time_tracking_entry_gid}",
    "GET /time_tracking_entries",
    "GET /timesheet_approval_statuses/{timesheet_approval_status_gid}",
    "PUT /timesheet_approval_statuses/{timesheet_approval_status_gid}",
    "GET /timesheet_approval_statuses",
    "POST /timesheet_approval_statuses",
    "GET /workspaces/{workspace_gid}/typeahead",
    "GET /user_task_lists/{user_task_list_gid}",
    "GET /users/{user_gid}/user_task_list",
    "GET /users",
    "GET /users/{user_gid}",
    "PUT /users/{user_gid}",
    "GET /users/{user_gid}/favorites",
    "GET /teams/{team_gid}/users",
    "GET /workspaces/{workspace_gid}/users",
    "GET /workspaces/{workspace_gid}/users/{user_gid}",
    "PUT /workspaces/{workspace_gid}/users/{user_gid}",
    "GET /webhooks",
    "POST /webhooks",
    "GET /webhooks/{webhook_gid}",
    "PUT /webhooks/{webhook_gid}",
    "DELETE /webhooks/{webhook_gid}",
    "GET /workspace_memberships/{workspace_membership_gid}",
    "GET /users/{user_gid}/workspace_memberships",
    "GET /workspaces/{workspace_gid}/workspace_memberships",
    "GET /workspaces",
    "GET /workspaces/{workspace_gid}",
    "PUT /workspaces/{workspace_gid}",
    "POST /workspaces/{workspace_gid}/addUser",
    "POST /workspaces/{workspace_gid}/removeUser",
    "GET /workspaces/{workspace_gid}/events",
];

#[test]
fn every_endpoint_is_a_spec_operation_and_at_least_125_are_reachable() {
    let spec: BTreeSet<&str> = SPEC_OPERATIONS.iter().copied().collect();
    assert_eq!(spec.len(), 247);
    let mut reached = BTreeSet::new();
    for entity in AsanaConnector::catalog() {
        for action in &entity.actions {
            for endpoint in &action.endpoints {
                assert!(
                    spec.contains(endpoint.as_str()),
                    "{}.{}: {endpoint} is not in Asana's spec",
                    entity.entity,
                    action.action
                );
                reached.insert(endpoint.clone());
            }
        }
    }
    assert!(reached.len() >= 125, "{}", reached.len());
    assert_eq!(reached.len(), 166, "48 before this catalog grew");
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
    // 74 entities with 169 actions between them (as listed in the catalog's own unit test).
    assert_eq!(catalog.len(), 169);
    assert_eq!(
        catalog
            .iter()
            .map(|(e, _)| e)
            .collect::<BTreeSet<_>>()
            .len(),
        74
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

/// The requests `server` received under `/files/`, the stand-in storage host.
async fn downloads(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().starts_with("/files/"))
        .collect()
}

#[tokio::test]
async fn download_fetches_metadata_then_the_file_without_the_token() {
    let api = MockServer::start().await;
    let download_url = format!("{}/files/77/report.pdf?X-Amz-Signature=abc", api.uri());
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
        .mount(&api)
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
    assert_eq!(api.received_requests().await.unwrap().len(), 2);
    let downloads = downloads(&api).await;
    assert_eq!(downloads.len(), 1);
    assert!(
        downloads[0].headers.keys().all(|h| h != "authorization"),
        "the token never goes to the storage host"
    );
    api.verify().await;
}

#[tokio::test]
async fn download_reports_the_real_size_when_the_metadata_lacks_it() {
    let api = MockServer::start().await;
    mount_metadata(
        &api,
        json!({"gid": "77", "name": "a.bin", "download_url": format!("{}/files/a.bin", api.uri()),
               "host": "asana"}),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/files/a.bin"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![0u8, 255, 1]))
        .expect(1)
        .mount(&api)
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
    mount_metadata(
        &api,
        json!({"gid": "77", "name": "big.iso", "download_url": format!("{}/files/big.iso", api.uri()),
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
    assert!(downloads(&api).await.is_empty());
}

/// Attachment 77, `a.bin`, whose metadata says 300 bytes, and its file of 300 `x` under the API
/// base, which must be fetched `fetched` times.
async fn attachment_of_300_bytes(api: &MockServer, fetched: u64) {
    mount_metadata(
        api,
        json!({"gid": "77", "name": "a.bin", "download_url": format!("{}/files/a.bin", api.uri()),
               "size": 300}),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/files/a.bin"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 300]))
        .expect(fetched)
        .mount(api)
        .await;
}

/// A download is not held to the result cap (it has its own limit): a 300-byte file, 400
/// characters of base64, comes back whole from a connector whose results are capped at 100
/// characters.
#[tokio::test]
async fn download_is_not_held_to_the_result_cap() {
    let api = MockServer::start().await;
    attachment_of_300_bytes(&api, 1).await;

    let result = connector(&api)
        .with_max_result_chars(100)
        .execute("attachments", "download", json!({"attachment_gid": "77"}))
        .await
        .unwrap();

    assert_eq!(
        result,
        json!({"data": {"gid": "77", "name": "a.bin", "size": 300,
                        "content_base64": "eHh4".repeat(100)}})
    );
}

/// The client's `max_download_bytes` setting lowers the connector's download limit: with 100
/// bytes, an attachment whose metadata says 300 bytes is refused with `TooLarge` naming the
/// attachment and that limit of 100, and the file is never fetched.
#[tokio::test]
async fn download_refuses_files_over_the_clients_download_limit_before_fetching_them() {
    let api = MockServer::start().await;
    attachment_of_300_bytes(&api, 0).await;

    let err = AsanaConnector::with_token_and_settings(
        SecretString::from(TOKEN),
        settings(&api).with_max_download_bytes(100),
    )
    .unwrap()
    .execute("attachments", "download", json!({"attachment_gid": "77"}))
    .await
    .unwrap_err();

    assert!(
        matches!(&err, ExecuteError::TooLarge { gid, max: 100 } if gid == "77"),
        "{err:?}"
    );
    assert!(downloads(&api).await.is_empty());
}

#[tokio::test]
async fn download_stops_reading_at_the_limit_when_the_metadata_understates_the_size() {
    // The API announces a small file; the file announces 10 GiB, sends a few bytes and then
    // trickles: the download is refused from its Content-Length, not read until it times out.
    let server = RawServer::start(|head| {
        if head.starts_with("GET /api/1.0/attachments/77?") {
            let download_url = format!(
                "http://{}/files/77/huge.bin",
                head.lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(name, _)| name.eq_ignore_ascii_case("host"))
                    .map(|(_, value)| value.trim())
                    .expect("a host header")
            );
            Reply::full(
                "200 OK",
                "application/json",
                json!({"data": {"gid": "77", "name": "huge.bin", "size": 5,
                                "download_url": download_url}})
                .to_string()
                .into_bytes(),
            )
        } else {
            Reply::dribble(10 << 30, std::time::Duration::from_millis(100))
        }
    })
    .await;
    let agent = AsanaConnector::with_token_and_settings(
        SecretString::from(TOKEN),
        settings_at(&server.uri).with_timeout(std::time::Duration::from_secs(5)),
    )
    .unwrap();

    let started = std::time::Instant::now();
    let err = agent
        .execute("attachments", "download", json!({"attachment_gid": "77"}))
        .await
        .unwrap_err();

    assert!(
        matches!(&err, ExecuteError::TooLarge { gid, max } if gid == "77" && *max == MAX_DOWNLOAD_BYTES),
        "{err:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(requests[1].starts_with("GET /files/77/huge.bin "));
}

#[tokio::test]
async fn download_refuses_a_url_on_another_local_server_and_sends_it_nothing() {
    let api = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"internal".to_vec()))
        .expect(0)
        .mount(&elsewhere)
        .await;
    mount_metadata(
        &api,
        json!({"gid": "77", "name": "a.txt", "download_url": format!("{}/files/a.txt", elsewhere.uri())}),
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
    assert!(!err.is_retryable());
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
    api.verify().await;
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
        mount_metadata(
            &api,
            json!({"gid": "77", "name": "a.txt", "download_url": format!("{}/files/a.txt", api.uri())}),
        )
        .await;
        Mock::given(method("GET"))
            .and(path("/files/a.txt"))
            .respond_with(ResponseTemplate::new(status))
            .expect(1)
            .mount(&api)
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
        api.verify().await;
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
async fn tasks_by_tag_take_the_output_control_of_every_read() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tags/5/tasks"))
        .and(ExactQuery::new(&[
            ("opt_fields", "name,notes"),
            ("limit", "100"),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"gid": "1", "resource_type": "task", "name": "A", "notes": "n"}],
            "next_page": null
        })))
        .expect(1)
        .mount(&server)
        .await;

    let page = connector(&server)
        .execute(
            "tasks",
            "list",
            json!({"tag": "5", "select_fields": ["name", "notes"], "exclude_fields": ["notes"]}),
        )
        .await
        .unwrap();

    assert_eq!(
        page,
        json!({"data": [{"gid": "1", "name": "A"}], "meta": {"next_page": null}})
    );
    server.verify().await;
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
    .with_retry(no_retries());
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

/// `docs/catalog.md`: every entity and action with its endpoints, description and params.
fn catalog_markdown() -> String {
    let catalog = AsanaConnector::catalog();
    let actions: usize = catalog.iter().map(|e| e.actions.len()).sum();
    let mut out = format!(
        "# Asana catalog\n\n\
         Every action `AsanaConnector::execute(entity, action, params)` runs, {actions} actions over \
         {} entities. Reads also take `select_fields` and `exclude_fields`. Generated from the \
         catalog by `cargo test -p provider-asana --test it docs_catalog_md` with \
         `UPDATE_CATALOG_DOC=1`; a test fails when this file and the catalog differ.\n",
        catalog.len()
    );
    for entity in &catalog {
        out.push_str(&format!(
            "\n## {}\n\n| action | endpoint | description | params |\n|---|---|---|---|\n",
            entity.entity
        ));
        for action in &entity.actions {
            let required: Vec<&str> = action.params_schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let params: Vec<String> = action.params_schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(name, _)| *name != "select_fields" && *name != "exclude_fields")
                .map(|(name, _)| {
                    if required.contains(&name.as_str()) {
                        format!("**{name}**")
                    } else {
                        name.clone()
                    }
                })
                .collect();
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                action.action,
                action
                    .endpoints
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                action.description.replace('|', "\\|"),
                params.join(", ")
            ));
        }
    }
    out.push_str("\nRequired params are in bold.\n");
    out
}

#[test]
fn docs_catalog_md_lists_every_action() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/catalog.md");
    let expected = catalog_markdown();
    if std::env::var_os("UPDATE_CATALOG_DOC").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        found == expected,
        "docs/catalog.md is out of step with the catalog; regenerate it with \
         UPDATE_CATALOG_DOC=1 cargo test -p provider-asana --test it docs_catalog_md"
    );
}

/// Matches requests that carry no header named `x-injected`.
struct NotInjected;

impl Match for NotInjected {
    fn matches(&self, request: &Request) -> bool {
        !request.headers.contains_key("x-injected")
    }
}

#[tokio::test]
async fn crlf_in_params_is_encoded_never_a_header_or_a_new_line() {
    let hostile = "1\r\nX-Injected: yes";
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tasks/1%0D%0AX-Injected%3A%20yes"))
        .and(NotInjected)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"gid": "1"}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/tasks"))
        .and(ExactQuery::new(&[("project", hostile), ("limit", "100")]))
        .and(NotInjected)
        .respond_with(ResponseTemplate::new(200).set_body_json(page_response()))
        .expect(1)
        .mount(&server)
        .await;
    let connector = connector(&server);

    connector
        .execute("tasks", "get", json!({"task_gid": hostile}))
        .await
        .unwrap();
    connector
        .execute("tasks", "list", json!({"project": hostile}))
        .await
        .unwrap();

    for request in server.received_requests().await.unwrap() {
        let target = request.url.as_str();
        assert!(!target.contains('\r') && !target.contains('\n'), "{target}");
    }
}

/// A list answer short enough in bytes for the cap (`{"data":[]}`, 11 bytes, under a cap of 20
/// characters) is still measured as the result `execute` builds from it, which adds the
/// `meta` of the page and is longer: 37 characters, refused with `ResultTooLarge`.
#[tokio::test]
async fn a_short_answer_is_measured_as_the_result_it_makes() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/1.0/workspaces"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(b"{\"data\":[]}".to_vec(), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = connector(&server)
        .with_max_result_chars(20)
        .execute("workspaces", "list", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ExecuteError::ResultTooLarge { entity, action, chars: 37, max: 20, .. }
            if entity == "workspaces" && action == "list"),
        "{err:?}"
    );
}
