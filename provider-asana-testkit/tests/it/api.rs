//! MockAsana's REST API, driven with plain reqwest: authentication, envelopes, pagination, CRUD,
//! validation, and the API knobs and counters.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use provider_asana_testkit::{MockAsana, UNPAGINATED_MAX, seed};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const HELP: &str = "For more information on API status codes and how to handle them, read the docs on errors: https://developers.asana.com/docs/errors";

/// A client of one mock with one bearer token.
struct Api<'a> {
    asana: &'a MockAsana,
    http: reqwest::Client,
    token: String,
}

impl<'a> Api<'a> {
    fn pat(asana: &'a MockAsana) -> Self {
        Api {
            asana,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("reqwest client"),
            token: asana.personal_access_token().to_string(),
        }
    }

    async fn raw(&self, method: Method, url: &str, body: Option<Vec<u8>>) -> reqwest::Response {
        let mut request = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        request.send().await.expect("API request")
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.asana.api_base_url());
        let body = body.map(|b| serde_json::to_vec(&b).expect("JSON body"));
        let response = self.raw(method, &url, body).await;
        let status = response.status();
        (status, response.json().await.expect("JSON response"))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, data: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(json!({ "data": data })))
            .await
    }

    async fn put(&self, path: &str, data: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(json!({ "data": data })))
            .await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }
}

fn error_message(body: &Value) -> &str {
    body["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error envelope: {body}"))
}

fn gids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {body}"))
        .iter()
        .map(|item| item["gid"].as_str().expect("gid").to_string())
        .collect()
}

fn names(body: &Value) -> Vec<&str> {
    body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {body}"))
        .iter()
        .map(|item| item["name"].as_str().expect("name"))
        .collect()
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn backlog_gids(range: std::ops::Range<u64>) -> Vec<String> {
    range
        .map(|i| (seed::FIRST_BACKLOG_TASK_GID + i).to_string())
        .collect()
}

#[tokio::test]
async fn a_personal_access_token_reads_the_user() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let (status, me) = api.get("/users/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        me,
        json!({ "data": {
            "gid": "4673218951",
            "resource_type": "user",
            "name": "Greg Sanchez",
            "email": "gsanchez@example.com",
            "photo": null,
            "workspaces": [
                { "gid": seed::WORKSPACE_GID, "name": "Acme Corp", "resource_type": "workspace" },
                { "gid": seed::PERSONAL_WORKSPACE_GID, "name": "Personal Projects", "resource_type": "workspace" },
            ],
        }})
    );
    let (_, by_gid) = api.get(&format!("/users/{}", seed::ME_GID)).await;
    let (_, by_email) = api.get("/users/gsanchez@example.com").await;
    assert_eq!(by_gid, me);
    assert_eq!(by_email, me);
    let (status, ada) = api.get(&format!("/users/{}", seed::ADA_GID)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ada["data"]["name"], "Ada Lovelace");
}

#[tokio::test]
async fn requests_without_a_known_bearer_token_get_not_authorized() {
    let asana = MockAsana::start().await;
    let url = format!("{}/users/me", asana.api_base_url());
    let http = reqwest::Client::new();
    let cases = [
        None,
        Some("Bearer ".to_string()),
        Some("Bearer not-a-token".to_string()),
        Some(format!("Basic {}", asana.personal_access_token())),
    ];
    for header in cases {
        let mut request = http.get(&url).timeout(Duration::from_secs(10));
        if let Some(header) = &header {
            request = request.header("authorization", header);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header:?}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(
            body,
            json!({ "errors": [{ "message": "Not Authorized" }] }),
            "{header:?}"
        );
    }
    // The scheme is case-insensitive.
    let response = http
        .get(&url)
        .timeout(Duration::from_secs(10))
        .header(
            "authorization",
            format!("bearer {}", asana.personal_access_token()),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn pagination_crosses_three_pages_and_ends_with_null() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let first_path = format!("/projects/{}/tasks?limit=100", seed::BACKLOG_PROJECT_GID);
    let (status, page1) = api.get(&first_path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(gids(&page1), backlog_gids(0..100));
    assert_eq!(
        page1["data"][0],
        json!({
            "gid": seed::FIRST_BACKLOG_TASK_GID.to_string(),
            "name": "Backlog task 001",
            "resource_type": "task",
            "resource_subtype": "default_task",
        })
    );
    let next = &page1["next_page"];
    assert_eq!(keys(next), BTreeSet::from(["offset", "path", "uri"]));
    let offset = next["offset"].as_str().expect("offset");
    assert_eq!(
        next["path"],
        format!(
            "/projects/{}/tasks?limit=100&offset={offset}",
            seed::BACKLOG_PROJECT_GID
        )
    );
    assert_eq!(
        next["uri"],
        format!(
            "{}{}",
            asana.api_base_url(),
            next["path"].as_str().expect("path")
        )
    );

    let (_, page2) = api.get(next["path"].as_str().expect("path")).await;
    assert_eq!(gids(&page2), backlog_gids(100..200));
    let uri = page2["next_page"]["uri"].as_str().expect("uri");
    let response = api.raw(Method::GET, uri, None).await;
    let page3: Value = response.json().await.expect("JSON");
    assert_eq!(gids(&page3), backlog_gids(200..250));
    assert_eq!(page3["next_page"], Value::Null);
    assert!(page3.as_object().expect("object").contains_key("next_page"));

    // Without `limit`: everything (up to the cut below), and no next_page at all.
    let (_, all) = api
        .get(&format!("/projects/{}/tasks", seed::BACKLOG_PROJECT_GID))
        .await;
    assert_eq!(gids(&all), backlog_gids(0..250));
    assert_eq!(keys(&all), BTreeSet::from(["data"]));

    // The same through GET /tasks?project=, whose next_page keeps the filter.
    let (_, first) = api
        .get(&format!(
            "/tasks?project={}&limit=40",
            seed::BACKLOG_PROJECT_GID
        ))
        .await;
    let path = first["next_page"]["path"].as_str().expect("path");
    assert!(
        path.starts_with(&format!(
            "/tasks?project={}&limit=40&offset=",
            seed::BACKLOG_PROJECT_GID
        )),
        "{path}"
    );
    let (_, second) = api.get(path).await;
    assert_eq!(gids(&second), backlog_gids(40..80));
    assert_eq!(
        asana.requests_to(
            "GET",
            &format!("/api/1.0/projects/{}/tasks", seed::BACKLOG_PROJECT_GID)
        ),
        4
    );
}

#[tokio::test]
async fn builder_sizes_the_backlog() {
    let asana = MockAsana::builder().tasks_per_project(3).start().await;
    let api = Api::pat(&asana);
    let (_, page) = api
        .get(&format!(
            "/projects/{}/tasks?limit=2",
            seed::BACKLOG_PROJECT_GID
        ))
        .await;
    assert_eq!(gids(&page), backlog_gids(0..2));
    let (_, last) = api
        .get(page["next_page"]["path"].as_str().expect("path"))
        .await;
    assert_eq!(gids(&last), backlog_gids(2..3));
    assert_eq!(last["next_page"], Value::Null);
}

/// Without `limit`, a list stops at `UNPAGINATED_MAX` items, with no `next_page` to say so, as
/// Asana cuts an unpaginated list; with `limit` every item can be reached.
#[tokio::test]
async fn an_unpaginated_list_is_cut() {
    let asana = MockAsana::builder().tasks_per_project(1500).start().await;
    let api = Api::pat(&asana);
    let tasks = format!("/projects/{}/tasks", seed::BACKLOG_PROJECT_GID);
    let (status, all) = api.get(&tasks).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(gids(&all), backlog_gids(0..UNPAGINATED_MAX as u64));
    assert_eq!(keys(&all), BTreeSet::from(["data"]));
    let (_, page) = api.get(&format!("{tasks}?limit=100")).await;
    let mut seen = gids(&page).len();
    let mut next = page["next_page"]["path"].as_str().map(str::to_string);
    while let Some(path) = next {
        let (_, page) = api.get(&path).await;
        seen += gids(&page).len();
        next = page["next_page"]["path"].as_str().map(str::to_string);
    }
    assert_eq!(seen, 1500);
}

#[tokio::test]
async fn bad_limits_and_offsets_are_400s() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let base = format!("/projects/{}/tasks", seed::BACKLOG_PROJECT_GID);
    for query in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "limit=-1",
        "limit=5&offset=garbage",
    ] {
        let (status, body) = api.get(&format!("{base}?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["errors"][0]["help"], HELP, "{query}");
    }
    // An offset issued for another list is refused.
    let (_, workspaces) = api.get("/workspaces?limit=1").await;
    let offset = workspaces["next_page"]["offset"].as_str().expect("offset");
    let (status, body) = api.get(&format!("{base}?limit=5&offset={offset}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_message(&body).starts_with("offset:"), "{body}");
    let (status, _) = api.get("/workspaces?limit=100").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn task_crud_persists() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let (status, created) = api
        .post(
            "/tasks",
            json!({
                "name": "Write tests",
                "notes": "All of them.",
                "projects": [seed::LAUNCH_PROJECT_GID],
                "assignee": "me",
                "due_on": "2024-06-01",
                "tags": [seed::BLOCKED_TAG_GID],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let task = &created["data"];
    let gid = task["gid"].as_str().expect("gid").to_string();
    assert_eq!(gid, seed::FIRST_CREATED_GID.to_string());
    assert_eq!(task["resource_type"], "task");
    assert_eq!(task["name"], "Write tests");
    assert_eq!(task["notes"], "All of them.");
    assert_eq!(task["completed"], false);
    assert_eq!(task["completed_at"], Value::Null);
    assert_eq!(task["assignee"]["gid"], seed::ME_GID);
    assert_eq!(task["workspace"]["gid"], seed::WORKSPACE_GID);
    assert_eq!(task["due_on"], "2024-06-01");
    assert_eq!(
        task["projects"],
        json!([{ "gid": seed::LAUNCH_PROJECT_GID, "name": "Launch plan", "resource_type": "project" }])
    );
    assert_eq!(
        task["memberships"][0]["section"]["gid"],
        seed::LAUNCH_SECTION_GID
    );
    assert_eq!(task["tags"][0]["gid"], seed::BLOCKED_TAG_GID);

    let (status, fetched) = api.get(&format!("/tasks/{gid}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);

    let (status, updated) = api
        .put(
            &format!("/tasks/{gid}"),
            json!({ "name": "Write more tests", "completed": true, "assignee": null, "unknown_field": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["data"]["name"], "Write more tests");
    assert_eq!(updated["data"]["completed"], true);
    assert!(updated["data"]["completed_at"].is_string());
    assert_eq!(updated["data"]["assignee"], Value::Null);
    assert_eq!(updated["data"]["notes"], "All of them.");
    let (_, fetched) = api.get(&format!("/tasks/{gid}")).await;
    assert_eq!(fetched, updated);
    assert_eq!(asana.object(&gid), Some(updated["data"].clone()));

    let (_, in_project) = api
        .get(&format!("/projects/{}/tasks", seed::LAUNCH_PROJECT_GID))
        .await;
    assert_eq!(
        names(&in_project),
        [
            "Draft announcement",
            "Book venue",
            "Send invites",
            "Write more tests"
        ]
    );
    let (_, tagged) = api
        .get(&format!("/tags/{}/tasks", seed::BLOCKED_TAG_GID))
        .await;
    assert_eq!(gids(&tagged), [gid.as_str()]);

    let (status, deleted) = api.delete(&format!("/tasks/{gid}")).await;
    assert_eq!((status, deleted), (StatusCode::OK, json!({ "data": {} })));
    let (status, missing) = api.get(&format!("/tasks/{gid}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        error_message(&missing).starts_with(&format!("{gid}: Unknown object")),
        "{missing}"
    );
    assert_eq!(missing["errors"][0]["help"], HELP);
    assert_eq!(asana.object(&gid), None);
    let (status, _) = api
        .put(&format!("/tasks/{gid}"), json!({ "name": "x" }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.delete(&format!("/tasks/{gid}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn missing_required_parameters_are_400_envelopes() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let (status, body) = api.post("/tasks", json!({ "name": "Orphan" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "errors": [{
            "message": "You should specify one of workspace, parent, projects",
            "help": HELP,
        }]})
    );
    let filter_message = "Must specify exactly one of project, tag, section, user task list, or assignee + workspace";
    for query in [
        String::new(),
        format!("?workspace={}", seed::WORKSPACE_GID),
        "?assignee=me".to_string(),
        format!(
            "?project={}&tag={}",
            seed::LAUNCH_PROJECT_GID,
            seed::URGENT_TAG_GID
        ),
    ] {
        let (status, body) = api.get(&format!("/tasks{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(error_message(&body), filter_message, "{query}");
    }
    let (status, _) = api.get("/projects").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api.get("/tags").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api.post("/tags", json!({ "name": "x" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = api
        .post("/tasks", json!({ "name": "x", "projects": ["1234567890"] }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_message(&body), "projects: Unknown object: 1234567890");
}

#[tokio::test]
async fn malformed_bodies_and_paths_get_envelopes_not_panics() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let url = format!("{}/tasks", asana.api_base_url());
    for body in [
        b"not json".to_vec(),
        Vec::new(),
        b"[1,2]".to_vec(),
        b"{\"name\":\"no data key\"}".to_vec(),
        b"{\"data\":[]}".to_vec(),
        vec![0xff, 0x00, 0xfe],
    ] {
        let response = api.raw(Method::POST, &url, Some(body.clone())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body:?}");
        let envelope: Value = response.json().await.expect("JSON envelope");
        assert_eq!(envelope["errors"][0]["help"], HELP, "{body:?}");
    }
    let wrong_types = [
        json!({ "workspace": seed::WORKSPACE_GID, "name": 5 }),
        json!({ "workspace": seed::WORKSPACE_GID, "completed": "yes" }),
        json!({ "workspace": seed::WORKSPACE_GID, "due_on": "June 1st" }),
        json!({ "workspace": seed::WORKSPACE_GID, "assignee": "nobody@example.com" }),
        json!({ "workspace": seed::WORKSPACE_GID, "projects": [seed::HOME_PROJECT_GID] }),
        json!({ "workspace": {"gid": seed::WORKSPACE_GID} }),
    ];
    for data in wrong_types {
        let (status, body) = api.post("/tasks", data.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{data} -> {body}");
    }
    let (status, body) = api.get("/tasks/not-a-gid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_message(&body), "task: Not a recognized ID: not-a-gid");
    for (method, path) in [
        (Method::GET, "/nothing/here"),
        (Method::PATCH, "/tasks"),
        (Method::DELETE, "/workspaces"),
        (Method::GET, ""),
    ] {
        let (status, body) = api.call(method.clone(), path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(error_message(&body), "No matching route for request");
    }
    assert_eq!(
        asana
            .object(seed::DRAFT_TASK_GID)
            .map(|t| t["name"].clone()),
        Some(json!("Draft announcement"))
    );
}

#[tokio::test]
async fn workspaces_teams_and_projects() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let (_, workspaces) = api.get("/workspaces").await;
    assert_eq!(
        workspaces,
        json!({ "data": [
            { "gid": seed::WORKSPACE_GID, "name": "Acme Corp", "resource_type": "workspace" },
            { "gid": seed::PERSONAL_WORKSPACE_GID, "name": "Personal Projects", "resource_type": "workspace" },
        ]})
    );
    let (_, acme) = api
        .get(&format!("/workspaces/{}", seed::WORKSPACE_GID))
        .await;
    assert_eq!(acme["data"]["is_organization"], true);
    let (_, teams) = api
        .get(&format!("/workspaces/{}/teams", seed::WORKSPACE_GID))
        .await;
    assert_eq!(names(&teams), ["Engineering", "Marketing"]);
    let (_, team) = api
        .get(&format!("/teams/{}", seed::ENGINEERING_TEAM_GID))
        .await;
    assert_eq!(team["data"]["organization"]["gid"], seed::WORKSPACE_GID);
    let (_, projects) = api
        .get(&format!("/projects?workspace={}", seed::WORKSPACE_GID))
        .await;
    assert_eq!(names(&projects), ["Backlog", "Launch plan"]);
    let (_, same) = api
        .get(&format!("/workspaces/{}/projects", seed::WORKSPACE_GID))
        .await;
    assert_eq!(same, projects);
    let (_, by_team) = api
        .get(&format!("/teams/{}/projects", seed::MARKETING_TEAM_GID))
        .await;
    assert_eq!(names(&by_team), ["Launch plan"]);

    // A project in an organization needs a team.
    let (status, _) = api
        .post(
            "/projects",
            json!({ "name": "X", "workspace": seed::WORKSPACE_GID }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, created) = api
        .post(
            "/projects",
            json!({ "name": "Q3 goals", "team": seed::ENGINEERING_TEAM_GID, "notes": "n" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let project = created["data"]["gid"].as_str().expect("gid").to_string();
    assert_eq!(created["data"]["workspace"]["gid"], seed::WORKSPACE_GID);
    assert_eq!(created["data"]["owner"]["gid"], seed::ME_GID);
    let (_, sections) = api.get(&format!("/projects/{project}/sections")).await;
    assert_eq!(names(&sections), ["Untitled section"]);
    let (status, updated) = api
        .put(
            &format!("/projects/{project}"),
            json!({ "archived": true, "color": "light-green" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["data"]["archived"], true);
    assert_eq!(updated["data"]["name"], "Q3 goals");
    let (_, archived) = api
        .get(&format!(
            "/projects?workspace={}&archived=true",
            seed::WORKSPACE_GID
        ))
        .await;
    assert_eq!(gids(&archived), [project.as_str()]);
    let (_, personal) = api
        .post(
            "/projects",
            json!({ "name": "Garden", "workspace": seed::PERSONAL_WORKSPACE_GID }),
        )
        .await;
    assert_eq!(personal["data"]["team"], Value::Null);
    let (status, _) = api.delete(&format!("/projects/{project}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api.get(&format!("/projects/{project}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let section = gids(&sections).remove(0);
    assert_eq!(asana.object(&section), None);
}

#[tokio::test]
async fn sections_hold_tasks_and_must_be_empty_to_go() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let (_, sections) = api
        .get(&format!("/projects/{}/sections", seed::BACKLOG_PROJECT_GID))
        .await;
    assert_eq!(names(&sections), ["To do", "In progress", "Done"]);
    let (_, done) = api
        .get(&format!(
            "/sections/{}/tasks",
            seed::BACKLOG_DONE_SECTION_GID
        ))
        .await;
    assert_eq!(done["data"].as_array().expect("list").len(), 50);
    let (_, same) = api
        .get(&format!(
            "/tasks?section={}",
            seed::BACKLOG_DONE_SECTION_GID
        ))
        .await;
    assert_eq!(same, done);
    let (status, _) = api
        .delete(&format!("/sections/{}", seed::BACKLOG_DONE_SECTION_GID))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api
        .delete(&format!("/sections/{}", seed::HOME_SECTION_GID))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the last section stays");

    let (status, created) = api
        .post(
            &format!("/projects/{}/sections", seed::BACKLOG_PROJECT_GID),
            json!({ "name": "Later" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["data"]["project"]["gid"], seed::BACKLOG_PROJECT_GID);
    let section = created["data"]["gid"].as_str().expect("gid").to_string();
    let (_, renamed) = api
        .put(
            &format!("/sections/{section}"),
            json!({ "name": "Someday" }),
        )
        .await;
    assert_eq!(renamed["data"]["name"], "Someday");
    let (_, fetched) = api.get(&format!("/sections/{section}")).await;
    assert_eq!(fetched["data"]["name"], "Someday");
    let (status, _) = api
        .post(
            &format!("/projects/{}/sections", seed::BACKLOG_PROJECT_GID),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = api.delete(&format!("/sections/{section}")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "data": {} })));
}

#[tokio::test]
async fn task_filters_subtasks_and_stories() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let (_, mine) = api
        .get(&format!(
            "/tasks?assignee=me&workspace={}",
            seed::WORKSPACE_GID
        ))
        .await;
    // 125 even Backlog tasks, Draft announcement and its two subtasks.
    assert_eq!(mine["data"].as_array().expect("list").len(), 128);
    let (_, open) = api
        .get(&format!(
            "/projects/{}/tasks?completed_since=now",
            seed::BACKLOG_PROJECT_GID
        ))
        .await;
    assert_eq!(open["data"].as_array().expect("list").len(), 200);
    let (_, urgent) = api
        .get(&format!("/tasks?tag={}", seed::URGENT_TAG_GID))
        .await;
    assert_eq!(gids(&urgent), [seed::DRAFT_TASK_GID]);

    let subtasks_path = format!("/tasks/{}/subtasks", seed::DRAFT_TASK_GID);
    let (status, subtask) = api.post(&subtasks_path, json!({ "name": "Publish" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(subtask["data"]["parent"]["gid"], seed::DRAFT_TASK_GID);
    assert_eq!(subtask["data"]["workspace"]["gid"], seed::WORKSPACE_GID);
    assert_eq!(subtask["data"]["projects"], json!([]));
    let (_, subtasks) = api.get(&subtasks_path).await;
    assert_eq!(names(&subtasks), ["Write draft", "Review draft", "Publish"]);
    let (_, draft) = api.get(&format!("/tasks/{}", seed::DRAFT_TASK_GID)).await;
    assert_eq!(draft["data"]["num_subtasks"], 3);

    let stories_path = format!("/tasks/{}/stories", seed::DRAFT_TASK_GID);
    let (status, story) = api
        .post(&stories_path, json!({ "text": "Ship it <now> & then" }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(story["data"]["text"], "Ship it <now> & then");
    assert_eq!(
        story["data"]["html_text"],
        "<body>Ship it &lt;now&gt; &amp; then</body>"
    );
    assert_eq!(story["data"]["created_by"]["gid"], seed::ME_GID);
    assert_eq!(story["data"]["target"]["gid"], seed::DRAFT_TASK_GID);
    let (_, stories) = api.get(&stories_path).await;
    let texts: Vec<&str> = stories["data"]
        .as_array()
        .expect("list")
        .iter()
        .map(|s| s["text"].as_str().expect("text"))
        .collect();
    assert_eq!(texts, ["Looks good so far.", "Ship it <now> & then"]);
    let (status, _) = api.post(&stories_path, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Deleting the parent takes its subtasks and stories along.
    let (status, _) = api
        .delete(&format!("/tasks/{}", seed::DRAFT_TASK_GID))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(asana.object(seed::DRAFT_SUBTASK_GIDS[0]), None);
    assert_eq!(asana.object(seed::DRAFT_COMMENT_GID), None);
}

#[tokio::test]
async fn tags_crud() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let tags_path = format!("/workspaces/{}/tags", seed::WORKSPACE_GID);
    let (_, tags) = api.get(&tags_path).await;
    assert_eq!(names(&tags), ["urgent", "blocked"]);
    let (status, created) = api
        .post(&tags_path, json!({ "name": "later", "color": "dark-blue" }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let tag = created["data"]["gid"].as_str().expect("gid").to_string();
    assert_eq!(created["data"]["workspace"]["gid"], seed::WORKSPACE_GID);
    let (_, via_query) = api
        .get(&format!("/tags?workspace={}", seed::WORKSPACE_GID))
        .await;
    assert_eq!(names(&via_query), ["urgent", "blocked", "later"]);
    let (status, other) = api
        .post(
            "/tags",
            json!({ "name": "home", "workspace": seed::PERSONAL_WORKSPACE_GID }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        other["data"]["workspace"]["gid"],
        seed::PERSONAL_WORKSPACE_GID
    );
    let (_, renamed) = api
        .put(
            &format!("/tags/{tag}"),
            json!({ "name": "eventually", "color": null }),
        )
        .await;
    assert_eq!(renamed["data"]["name"], "eventually");
    assert_eq!(renamed["data"]["color"], Value::Null);
    let (_, fetched) = api.get(&format!("/tags/{tag}")).await;
    assert_eq!(fetched, renamed);

    let (status, _) = api.delete(&format!("/tags/{}", seed::URGENT_TAG_GID)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, draft) = api.get(&format!("/tasks/{}", seed::DRAFT_TASK_GID)).await;
    assert_eq!(draft["data"]["tags"], json!([]));
    let (status, _) = api
        .get(&format!("/tags/{}/tasks", seed::URGENT_TAG_GID))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

impl Api<'_> {
    async fn post_form(&self, form: reqwest::multipart::Form) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/attachments", self.asana.api_base_url()))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .expect("API request");
        let status = response.status();
        (status, response.json().await.expect("JSON response"))
    }
}

#[tokio::test]
async fn attachments_upload_a_file_or_attach_a_link() {
    use reqwest::multipart::{Form, Part};
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let file = || {
        Part::bytes(b"row 1: Ada\r\n--not a boundary\r\n".to_vec())
            .file_name("Q1; \"seat\" plan.txt")
            .mime_str("text/plain")
            .expect("MIME type")
    };

    let (status, uploaded) = api
        .post_form(
            Form::new()
                .text("parent", seed::VENUE_TASK_GID)
                .part("file", file()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{uploaded}");
    assert_eq!(uploaded["data"]["name"], "Q1; \"seat\" plan.txt");
    assert_eq!(uploaded["data"]["host"], "asana");
    assert_eq!(uploaded["data"]["parent"]["gid"], seed::VENUE_TASK_GID);
    let download_url = uploaded["data"]["download_url"]
        .as_str()
        .expect("download_url");
    let content = api
        .http
        .get(download_url)
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("content");
    assert_eq!(&content[..], b"row 1: Ada\r\n--not a boundary\r\n");

    let (status, linked) = api
        .post_form(
            Form::new()
                .text("parent", seed::VENUE_TASK_GID)
                .text("resource_subtype", "external")
                .text("url", "https://docs.example/venue")
                .text("name", "Venue contract"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{linked}");
    assert_eq!(linked["data"]["name"], "Venue contract");
    assert_eq!(linked["data"]["resource_subtype"], "external");
    assert_eq!(linked["data"]["view_url"], "https://docs.example/venue");
    assert_eq!(linked["data"]["download_url"], Value::Null);

    let (status, on_project) = api
        .post_form(
            Form::new()
                .text("parent", seed::LAUNCH_PROJECT_GID)
                .text("resource_subtype", "external")
                .text("url", "https://docs.example/launch")
                .text("name", "Launch plan"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{on_project}");
    assert_eq!(
        on_project["data"]["parent"]["gid"],
        seed::LAUNCH_PROJECT_GID
    );
    assert_eq!(on_project["data"]["parent"]["resource_type"], "project");
    let (_, listed) = api
        .get(&format!("/attachments?parent={}", seed::LAUNCH_PROJECT_GID))
        .await;
    assert_eq!(names(&listed), ["Launch plan"]);

    // Header names and the media type in any case, and a quoted boundary.
    let raw = |content_type: &str, body: &str| {
        api.http
            .post(format!("{}/attachments", asana.api_base_url()))
            .bearer_auth(&api.token)
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
    };
    let body = format!(
        "--XyZ\r\nCONTENT-DISPOSITION: Form-Data; Name=\"parent\"\r\n\r\n{}\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nA\r\n--XyZ--\r\n",
        seed::VENUE_TASK_GID
    );
    let response = raw("Multipart/Form-Data; Boundary=\"XyZ\"", &body)
        .await
        .expect("API request");
    assert_eq!(response.status(), StatusCode::OK);
    let unclosed = body.replace("\r\n--XyZ--\r\n", "");
    let response = raw("multipart/form-data; boundary=XyZ", &unclosed)
        .await
        .expect("API request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let refused: [(Form, StatusCode, &str); 4] = [
        (
            Form::new().part("file", file()),
            StatusCode::BAD_REQUEST,
            "parent: Missing input",
        ),
        (
            Form::new()
                .text("parent", "1234567890")
                .part("file", file()),
            StatusCode::BAD_REQUEST,
            "parent: Unknown object: 1234567890",
        ),
        (
            Form::new()
                .text("parent", seed::VENUE_TASK_GID)
                .text("resource_subtype", "external")
                .text("name", "No link"),
            StatusCode::BAD_REQUEST,
            "url: Missing input",
        ),
        (
            Form::new().text("parent", seed::VENUE_TASK_GID),
            StatusCode::BAD_REQUEST,
            "file: Missing input",
        ),
    ];
    for (form, expected_status, expected_message) in refused {
        let (status, body) = api.post_form(form).await;
        assert_eq!(status, expected_status, "{body}");
        assert_eq!(error_message(&body), expected_message);
    }
    let (status, body) = api
        .post("/attachments", json!({ "parent": seed::VENUE_TASK_GID }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_message(&body),
        "The request must be multipart/form-data"
    );

    let (_, listed) = api
        .get(&format!("/attachments?parent={}", seed::VENUE_TASK_GID))
        .await;
    assert_eq!(
        names(&listed),
        ["Q1; \"seat\" plan.txt", "Venue contract", "a.txt"]
    );
    assert_eq!(
        gids(&listed)[..2],
        [
            uploaded["data"]["gid"].as_str().expect("gid"),
            linked["data"]["gid"].as_str().expect("gid"),
        ]
    );
}

#[tokio::test]
async fn opt_fields_keeps_gid_and_the_named_fields() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let (_, task) = api
        .get(&format!(
            "/tasks/{}?opt_fields=name,assignee.name,due_on",
            seed::DRAFT_TASK_GID
        ))
        .await;
    assert_eq!(
        task,
        json!({ "data": {
            "gid": seed::DRAFT_TASK_GID,
            "name": "Draft announcement",
            "assignee": { "gid": seed::ME_GID, "name": "Greg Sanchez", "resource_type": "user" },
            "due_on": "2024-03-01",
        }})
    );
    let (_, list) = api
        .get(&format!(
            "/projects/{}/tasks?opt_fields=completed&limit=1",
            seed::LAUNCH_PROJECT_GID
        ))
        .await;
    assert_eq!(
        list["data"],
        json!([{ "gid": seed::DRAFT_TASK_GID, "completed": false }])
    );
    assert!(
        list["next_page"]["path"]
            .as_str()
            .expect("path")
            .contains("opt_fields=completed")
    );
}

#[tokio::test]
async fn injected_failures_queue_in_order_and_come_before_authentication() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    asana.fail_next(2, 500);
    asana.rate_limit_next(1, Some(7));
    asana.rate_limit_next(1, None);
    asana.fail_next(1, 503);

    for _ in 0..2 {
        let (status, body) = api.get("/users/me").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body,
            json!({ "errors": [{
                "message": "Server Error",
                "help": HELP,
                "phrase": "6 sad squid snuggle softly",
            }]})
        );
    }
    let url = format!("{}/users/me", asana.api_base_url());
    // No token at all: the fault still answers first.
    let limited = reqwest::Client::new()
        .get(&url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("request");
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "7");
    let body: Value = limited.json().await.expect("JSON");
    assert_eq!(
        error_message(&body),
        "You have made too many requests recently. Please, be chill."
    );
    let limited = api.raw(Method::GET, &url, None).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().get("retry-after").is_none());
    let (status, body) = api.get("/users/me").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_message(&body), "Service Unavailable");
    assert!(body["errors"][0].get("phrase").is_none());
    let (status, _) = api.get("/users/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(asana.api_requests(), 6);
    assert_eq!(asana.requests_to("GET", "/api/1.0/users/me"), 6);
}

#[tokio::test]
async fn latency_slows_every_response_until_turned_off() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    asana.set_latency(Duration::from_millis(600));
    let started = Instant::now();
    let (status, _) = api.get("/users/me").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(asana.token_url())
        .timeout(Duration::from_secs(10))
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );

    asana.set_latency(Duration::ZERO);
    let started = Instant::now();
    api.get("/users/me").await;
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );

    let slow = MockAsana::builder()
        .latency(Duration::from_millis(200))
        .start()
        .await;
    let started = Instant::now();
    let (status, _) = Api::pat(&slow).get("/workspaces").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn counters_and_recorded_requests() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    api.get("/workspaces?limit=1").await;
    api.get("/workspaces").await;
    api.post(
        "/tasks",
        json!({ "name": "Counted", "workspace": seed::PERSONAL_WORKSPACE_GID }),
    )
    .await;
    assert_eq!(asana.api_requests(), 3);
    assert_eq!(asana.requests_to("GET", "/api/1.0/workspaces"), 2);
    assert_eq!(asana.requests_to("get", "/api/1.0/workspaces?limit=1"), 2);
    assert_eq!(asana.requests_to("POST", "/api/1.0/tasks"), 1);
    assert_eq!(asana.requests_to("GET", "/api/1.0/tasks"), 0);
    assert_eq!(asana.token_requests(), 0);
    assert_eq!(asana.revocations(), 0);
    assert_eq!(asana.authorizations(), 0);
    let recorded = asana.received_requests().await;
    assert_eq!(recorded.len(), 3);
    let body: Value = serde_json::from_slice(&recorded[2].body).expect("JSON body");
    assert_eq!(
        body,
        json!({ "data": { "name": "Counted", "workspace": seed::PERSONAL_WORKSPACE_GID } })
    );
    assert_eq!(
        recorded[0].headers["authorization"],
        format!("Bearer {}", asana.personal_access_token()).as_str()
    );
}

#[tokio::test]
async fn sections_move_before_or_after_another_section_of_the_project() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let insert = format!("/projects/{}/sections/insert", seed::BACKLOG_PROJECT_GID);
    let order = || async {
        let (_, sections) = api
            .get(&format!("/projects/{}/sections", seed::BACKLOG_PROJECT_GID))
            .await;
        names(&sections)
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
    };

    let (status, body) = api
        .post(
            &insert,
            json!({"section": seed::BACKLOG_DONE_SECTION_GID,
                   "before_section": seed::BACKLOG_TODO_SECTION_GID}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"data": {}})));
    assert_eq!(order().await, ["Done", "To do", "In progress"]);
    api.post(
        &insert,
        json!({"section": seed::BACKLOG_DONE_SECTION_GID,
               "after_section": seed::BACKLOG_DOING_SECTION_GID}),
    )
    .await;
    assert_eq!(order().await, ["To do", "In progress", "Done"]);

    for (data, message) in [
        (
            json!({"section": seed::BACKLOG_DONE_SECTION_GID}),
            "One of before_section or after_section is required",
        ),
        (
            json!({"section": seed::BACKLOG_DONE_SECTION_GID,
                   "after_section": seed::LAUNCH_SECTION_GID}),
            "after_section: Sections cannot be moved between projects",
        ),
        (
            json!({"before_section": seed::BACKLOG_DONE_SECTION_GID}),
            "section: Missing input",
        ),
    ] {
        let (status, body) = api.post(&insert, data.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{data}");
        assert_eq!(error_message(&body), message, "{data}");
    }
}

#[tokio::test]
async fn users_without_workspace_or_team_are_those_sharing_a_workspace() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let (status, users) = api.get("/users").await;
    assert_eq!(status, StatusCode::OK, "{users}");
    assert_eq!(names(&users), [seed::ME_NAME, "Ada Lovelace"]);
    let (_, users) = api
        .get(&format!(
            "/users?workspace={}&team={}&limit=1",
            seed::WORKSPACE_GID,
            seed::ENGINEERING_TEAM_GID
        ))
        .await;
    assert_eq!(names(&users), [seed::ME_NAME]);
    assert!(users["next_page"]["offset"].is_string(), "{users}");
}

#[tokio::test]
async fn records_are_read_back_changed_and_gone_after_delete() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let (status, created) = api
        .post(
            "/goals",
            json!({"name": "Grow", "workspace": seed::WORKSPACE_GID, "team": seed::MARKETING_TEAM_GID}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let gid = created["data"]["gid"].as_str().unwrap().to_string();
    assert_eq!(created["data"]["resource_type"], "goal");
    assert_eq!(created["data"]["team"]["name"], "Marketing");
    let (status, read) = api.get(&format!("/goals/{gid}")).await;
    assert_eq!((status, &read), (StatusCode::OK, &created));
    let (status, _) = api
        .put(&format!("/goals/{gid}"), json!({"name": "Grow more"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(asana.object(&gid).unwrap()["name"], "Grow more");
    let (status, listed) = api
        .get(&format!("/goals?team={}", seed::MARKETING_TEAM_GID))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        names(&listed),
        ["Ship the launch", "Book the venue", "Grow more"]
    );
    let (status, _) = api.delete(&format!("/goals/{gid}")).await;
    assert_eq!(status, 200);
    let (status, gone) = api.get(&format!("/goals/{gid}")).await;
    assert_eq!(status, 404);
    assert_eq!(
        error_message(&gone),
        format!(
            "{gid}: Unknown object. The resource may have been deleted or may not be visible to the requester."
        )
    );
    let (status, refused) = api
        .post("/goals", json!({"name": "Nowhere", "workspace": "999"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_message(&refused), "workspace: Unknown object: 999");
}

#[tokio::test]
async fn enum_options_keep_their_order_and_move() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let field = format!("/custom_fields/{}", seed::CUSTOM_FIELD_GID);
    let (status, medium) = api
        .post(
            &format!("{field}/enum_options"),
            json!({"name": "Medium", "insert_after": seed::ENUM_OPTION_GIDS[0]}),
        )
        .await;
    assert_eq!(status, 201, "{medium}");
    let options = |body: &Value| -> Vec<String> {
        body["data"]["enum_options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(options(&api.get(&field).await.1), ["High", "Medium", "Low"]);
    let (status, _) = api
        .post(
            &format!("{field}/enum_options/insert"),
            json!({"enum_option": seed::ENUM_OPTION_GIDS[1], "before_enum_option": seed::ENUM_OPTION_GIDS[0]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(options(&api.get(&field).await.1), ["Low", "High", "Medium"]);
}

#[tokio::test]
async fn team_membership_follows_add_and_remove_user() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let team = format!("/teams/{}", seed::MARKETING_TEAM_GID);
    let (status, added) = api
        .post(&format!("{team}/addUser"), json!({"user": seed::ADA_GID}))
        .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["data"]["resource_type"], "team_membership");
    let (_, members) = api.get(&format!("{team}/team_memberships")).await;
    assert_eq!(members["data"].as_array().unwrap().len(), 2);
    let (_, users) = api
        .get(&format!("/users?team={}", seed::MARKETING_TEAM_GID))
        .await;
    assert_eq!(names(&users), [seed::ME_NAME, "Ada Lovelace"]);
    let (status, _) = api
        .post(
            &format!("{team}/removeUser"),
            json!({"user": seed::ADA_GID}),
        )
        .await;
    assert_eq!(status, 200);
    let membership = added["data"]["gid"].as_str().unwrap();
    assert_eq!(
        api.get(&format!("/team_memberships/{membership}")).await.0,
        404
    );
    let (_, users) = api
        .get(&format!("/users?team={}", seed::MARKETING_TEAM_GID))
        .await;
    assert_eq!(names(&users), [seed::ME_NAME]);
}

#[tokio::test]
async fn batch_runs_each_call_as_if_sent_alone() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let (status, body) = api
        .post(
            "/batch",
            json!({"actions": [
                {"relative_path": format!("/tasks/{}", seed::DRAFT_TASK_GID), "method": "put", "data": {"name": "Batched"}},
                {"relative_path": format!("/tasks/{}", seed::DRAFT_TASK_GID), "method": "get", "options": {"fields": ["name"]}},
                {"relative_path": "/tasks/1", "method": "get"},
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["status_code"], 200);
    assert_eq!(
        body["data"][1]["body"],
        json!({"data": {"gid": seed::DRAFT_TASK_GID, "name": "Batched"}})
    );
    assert_eq!(body["data"][2]["status_code"], 404);
    assert_eq!(asana.api_requests(), 1, "one request to the API");
}

#[tokio::test]
async fn insert_before_and_insert_after_together_are_refused() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let (status, body) = api
        .post(
            &format!("/projects/{}/sections", seed::BACKLOG_PROJECT_GID),
            json!({
                "name": "Both",
                "insert_before": seed::BACKLOG_TODO_SECTION_GID,
                "insert_after": seed::BACKLOG_DONE_SECTION_GID,
            }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error_message(&body),
        "insert_before: Cannot be provided together with insert_after"
    );
    let (status, _) = api
        .post(
            &format!("/projects/{}/sections", seed::BACKLOG_PROJECT_GID),
            json!({"name": "One", "insert_after": seed::BACKLOG_DONE_SECTION_GID}),
        )
        .await;
    assert_eq!(status, 201);
}

const SYNC_INVALID: &str = "Sync token invalid or too old. If you are attempting to keep resources in sync, you must fetch the full dataset for this query now and use the new sync token for the next sync.";

/// The 412 of `GET /events` without a valid token: exactly Asana's body; answers its fresh token.
async fn sync_reset(api: &Api<'_>, query: &str) -> String {
    let (status, body) = api.get(&format!("/events?{query}")).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{query}: {body}");
    let sync = body["sync"]
        .as_str()
        .expect("a fresh sync token")
        .to_string();
    assert!(!sync.is_empty());
    assert_eq!(
        body,
        json!({ "errors": [{ "message": SYNC_INVALID }], "sync": sync })
    );
    sync
}

/// A 200 of `GET /events` for `resource` since `sync`: its events (each with an Asana-shaped
/// `created_at`, dropped here so the rest compares exactly), its next token and `has_more`.
async fn poll(api: &Api<'_>, resource: &str, sync: &str) -> (Vec<Value>, String, bool) {
    let (status, body) = api
        .get(&format!("/events?resource={resource}&sync={sync}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(keys(&body), BTreeSet::from(["data", "sync", "has_more"]));
    let events = body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {body}"))
        .iter()
        .map(|event| {
            let mut event = event.clone();
            let created_at = event
                .as_object_mut()
                .and_then(|event| event.remove("created_at"))
                .unwrap_or_else(|| panic!("no created_at: {event}"));
            let created_at = created_at.as_str().expect("created_at is a string");
            assert_eq!(created_at.len(), "2024-01-15T09:00:00.000Z".len());
            assert!(created_at.ends_with('Z') && created_at.as_bytes()[10] == b'T');
            event
        })
        .collect();
    let next = body["sync"].as_str().expect("sync").to_string();
    let has_more = body["has_more"].as_bool().expect("has_more");
    (events, next, has_more)
}

/// An event as the mock logs it for Greg Sanchez, without its `created_at`.
fn task_event(action: &str, task: &str, name: &str, parent: Value) -> Value {
    json!({
        "user": { "gid": seed::ME_GID, "name": "Greg Sanchez", "resource_type": "user" },
        "type": "task",
        "action": action,
        "resource": { "gid": task, "name": name, "resource_type": "task" },
        "parent": parent,
    })
}

fn project_ref(gid: &str, name: &str) -> Value {
    json!({ "gid": gid, "name": name, "resource_type": "project" })
}

#[tokio::test]
async fn events_start_with_a_412_and_a_fresh_sync_token() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let launch = seed::LAUNCH_PROJECT_GID;
    let sync = sync_reset(&api, &format!("resource={launch}")).await;
    for wrong in [
        "not-a-token".to_string(),
        String::new(),
        sync_reset(&api, &format!("resource={}", seed::BACKLOG_PROJECT_GID)).await,
    ] {
        let again = sync_reset(&api, &format!("resource={launch}&sync={wrong}")).await;
        assert_eq!(again, sync, "a fresh token marks the end of the log");
    }
    let (status, body) = api
        .get(&format!("/events?resource={launch}&sync={sync}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({ "data": [], "sync": sync, "has_more": false }),
        "nothing happened since"
    );
}

#[tokio::test]
async fn events_follow_a_tasks_life_in_its_project_only() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let launch = seed::LAUNCH_PROJECT_GID;
    let backlog = seed::BACKLOG_PROJECT_GID;
    let launch_sync = sync_reset(&api, &format!("resource={launch}")).await;
    let backlog_sync = sync_reset(&api, &format!("resource={backlog}")).await;

    let (_, created) = api
        .post(
            "/tasks",
            json!({ "name": "Write tests", "projects": [launch] }),
        )
        .await;
    let task = created["data"]["gid"].as_str().expect("gid").to_string();
    let (_, elsewhere) = api
        .post(
            "/tasks",
            json!({ "name": "Elsewhere", "projects": [backlog] }),
        )
        .await;
    let other = elsewhere["data"]["gid"].as_str().expect("gid").to_string();
    let (status, _) = api
        .put(
            &format!("/tasks/{task}"),
            json!({ "name": "Write more tests" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api.delete(&format!("/tasks/{task}")).await;
    assert_eq!(status, StatusCode::OK);

    let (events, next, has_more) = poll(&api, launch, &launch_sync).await;
    assert_eq!(
        events,
        [
            task_event(
                "added",
                &task,
                "Write tests",
                project_ref(launch, "Launch plan")
            ),
            task_event("changed", &task, "Write more tests", Value::Null),
            task_event("deleted", &task, "Write more tests", Value::Null),
        ]
    );
    assert!(!has_more);
    assert_eq!(poll(&api, launch, &next).await, (Vec::new(), next, false));

    let (events, _, has_more) = poll(&api, backlog, &backlog_sync).await;
    assert_eq!(
        events,
        [task_event(
            "added",
            &other,
            "Elsewhere",
            project_ref(backlog, "Backlog")
        )]
    );
    assert!(!has_more);
}

#[tokio::test]
async fn events_of_a_task_cover_its_relations_and_subtasks() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let launch = seed::LAUNCH_PROJECT_GID;
    let draft = seed::DRAFT_TASK_GID;
    let backlog_task = seed::FIRST_BACKLOG_TASK_GID.to_string();
    let launch_sync = sync_reset(&api, &format!("resource={launch}")).await;
    let draft_sync = sync_reset(&api, &format!("resource={draft}")).await;

    let (status, _) = api
        .post(
            &format!("/tasks/{backlog_task}/addProject"),
            json!({ "project": launch }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api
        .post(
            &format!("/tasks/{backlog_task}/addTag"),
            json!({ "tag": seed::URGENT_TAG_GID }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api
        .post(
            &format!("/tasks/{backlog_task}/removeProject"),
            json!({ "project": launch }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, subtask) = api
        .post(
            &format!("/tasks/{draft}/subtasks"),
            json!({ "name": "Proofread" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let subtask = subtask["data"]["gid"].as_str().expect("gid").to_string();
    let (status, _) = api
        .post(
            &format!("/tasks/{draft}/addFollowers"),
            json!({ "followers": [seed::ADA_GID] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let moved = "Backlog task 001";
    let (events, _, _) = poll(&api, launch, &launch_sync).await;
    assert_eq!(
        events,
        [
            task_event(
                "added",
                &backlog_task,
                moved,
                project_ref(launch, "Launch plan")
            ),
            task_event("changed", &backlog_task, moved, Value::Null),
            task_event(
                "removed",
                &backlog_task,
                moved,
                project_ref(launch, "Launch plan")
            ),
            task_event("changed", draft, "Draft announcement", Value::Null),
        ],
        "the subtask is in no project"
    );
    let (events, _, _) = poll(&api, draft, &draft_sync).await;
    let parent = json!({ "gid": draft, "name": "Draft announcement", "resource_type": "task" });
    assert_eq!(
        events,
        [
            task_event("added", &subtask, "Proofread", parent),
            task_event("changed", draft, "Draft announcement", Value::Null),
        ]
    );
}

#[tokio::test]
async fn more_than_a_hundred_events_come_in_pages() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let task = seed::VENUE_TASK_GID;
    let sync = sync_reset(&api, &format!("resource={task}")).await;
    let renames: Vec<String> = (0..105).map(|i| format!("Venue {i:03}")).collect();
    for name in &renames {
        let (status, _) = api
            .put(&format!("/tasks/{task}"), json!({ "name": name }))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let changed = |names: &[String]| -> Vec<Value> {
        names
            .iter()
            .map(|name| task_event("changed", task, name, Value::Null))
            .collect()
    };

    let (first, sync, has_more) = poll(&api, task, &sync).await;
    assert_eq!(first, changed(&renames[..100]));
    assert!(has_more);
    let (rest, sync, has_more) = poll(&api, task, &sync).await;
    assert_eq!(rest, changed(&renames[100..]));
    assert!(!has_more);
    assert_eq!(poll(&api, task, &sync).await, (Vec::new(), sync, false));
}

#[tokio::test]
async fn expired_sync_tokens_get_a_412_with_a_fresh_token() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let task = seed::VENUE_TASK_GID;
    let old = sync_reset(&api, &format!("resource={task}")).await;
    let (status, _) = api
        .put(&format!("/tasks/{task}"), json!({ "name": "Missed" }))
        .await;
    assert_eq!(status, StatusCode::OK);

    asana.expire_sync_tokens();
    let fresh = sync_reset(&api, &format!("resource={task}&sync={old}")).await;
    assert_ne!(fresh, old);
    assert_eq!(
        poll(&api, task, &fresh).await,
        (Vec::new(), fresh.clone(), false),
        "what happened before the reset is not delivered"
    );
    let (status, _) = api
        .put(&format!("/tasks/{task}"), json!({ "name": "Seen" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (events, _, has_more) = poll(&api, task, &fresh).await;
    assert_eq!(events, [task_event("changed", task, "Seen", Value::Null)]);
    assert!(!has_more);
}

#[tokio::test]
async fn events_need_a_known_resource() {
    let asana = MockAsana::start().await;
    let api = Api::pat(&asana);
    let (status, body) = api.get("/events").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "errors": [{ "message": "resource: Missing input", "help": HELP }] })
    );
    let (status, body) = api.get("/events?resource=1234567890&sync=x").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({ "errors": [{
            "message": "1234567890: Unknown object. The resource may have been deleted or may not be visible to the requester.",
            "help": HELP,
        }]})
    );
    let (status, body) = api.get("/events?resource=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_message(&body), "resource: Not a recognized ID: abc");
}

/// A task that has spent its cooperative budget (as one that awaited hundreds of finished tasks
/// has) can still drop a mock: wiremock's own drop blocks on a tokio lock and, on such a task,
/// spins forever. Run on a thread of its own, watched, so that a regression fails rather than
/// hangs the suite.
#[test]
fn a_mock_dropped_by_a_task_out_of_budget_goes() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let asana = MockAsana::start().await;
            while tokio::task::coop::has_budget_remaining() {
                tokio::task::coop::consume_budget().await;
            }
            drop(asana);
        });
        let _ = done.send(());
    });
    finished
        .recv_timeout(Duration::from_secs(10))
        .expect("the mock was dropped");
}
