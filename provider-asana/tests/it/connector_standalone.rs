//! The standalone connector against the Asana testkit: with the testkit's personal access token, and
//! with OAuth credentials that it refreshes by itself (first call, after expiry, after revocation),
//! reporting every refresh to its callback.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use auth_core::{Credentials, SecretString};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use provider_asana::connector::{AsanaConnector, AsanaOAuthConfig, ExecuteError};
use provider_asana::{AsanaAppCredentials, AsanaClientSettings, AsanaError};
use provider_asana_testkit::{MockAsana, seed};
use serde_json::{Value, json};
use url::Url;

fn mock_app(mock: &MockAsana) -> AsanaAppCredentials {
    let url = |s: String| Url::parse(&s).unwrap();
    let mut app = AsanaAppCredentials::default();
    app.authorization_url = url(mock.authorization_url());
    app.token_url = url(mock.token_url());
    app.revocation_url = url(mock.revocation_url());
    app.api_base_url = url(mock.api_base_url());
    app
}

fn pat_connector(mock: &MockAsana) -> AsanaConnector {
    let settings = AsanaClientSettings::new(Url::parse(&mock.api_base_url()).unwrap());
    AsanaConnector::with_token_and_settings(mock.personal_access_token().into(), settings).unwrap()
}

/// The bearer token of the last API request the mock received.
async fn last_bearer(mock: &MockAsana) -> String {
    mock.received_requests()
        .await
        .iter()
        .rev()
        .find(|r| r.url.path().starts_with("/api/1.0/"))
        .and_then(|r| r.headers.get("authorization"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn names(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn personal_access_token_reads_and_writes_through_execute() {
    let mock = MockAsana::start().await;
    let connector = pat_connector(&mock);

    let me = connector
        .execute("users", "get", json!({"user_gid": "me"}))
        .await
        .unwrap();
    assert_eq!(me["data"]["gid"], seed::ME_GID);
    assert_eq!(me["data"]["name"], seed::ME_NAME);
    assert_eq!(me["data"]["email"], seed::ME_EMAIL);
    assert_eq!(
        last_bearer(&mock).await,
        format!("Bearer {}", mock.personal_access_token())
    );

    let launch = connector
        .execute(
            "project_tasks",
            "list",
            json!({"project_gid": seed::LAUNCH_PROJECT_GID, "opt_fields": ["name"]}),
        )
        .await
        .unwrap();
    assert_eq!(
        names(&launch),
        ["Draft announcement", "Book venue", "Send invites"]
    );
    assert_eq!(launch["meta"]["next_page"], Value::Null);

    let created = connector
        .execute(
            "tasks",
            "create",
            json!({"name": "Order cake", "projects": [seed::LAUNCH_PROJECT_GID], "notes": "Chocolate"}),
        )
        .await
        .unwrap();
    let gid = created["data"]["gid"].as_str().unwrap().to_string();
    assert_eq!(gid, seed::FIRST_CREATED_GID.to_string());
    assert_eq!(mock.object(&gid).unwrap()["notes"], "Chocolate");

    let updated = connector
        .execute(
            "tasks",
            "update",
            json!({"task_gid": gid, "completed": true}),
        )
        .await
        .unwrap();
    assert_eq!(updated["data"]["completed"], true);
    assert_eq!(mock.object(&gid).unwrap()["completed"], true);

    let comment = connector
        .execute(
            "task_stories",
            "create",
            json!({"task_gid": gid, "text": "Done & dusted"}),
        )
        .await
        .unwrap();
    assert_eq!(comment["data"]["text"], "Done & dusted");

    let deleted = connector
        .execute("tasks", "delete", json!({"task_gid": gid}))
        .await
        .unwrap();
    assert_eq!(deleted, json!({"data": {}}));
    assert!(mock.object(&gid).is_none());

    let err = connector
        .execute("tasks", "get", json!({"task_gid": gid}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ExecuteError::Api(AsanaError::NotFound(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_client_sends_non_ascii_file_names_url_encoded() {
    use provider_asana::models::AttachmentUpload;
    let asana = MockAsana::start().await;
    let settings = AsanaClientSettings::new(asana.api_base_url().parse().expect("URL"));
    let connector =
        AsanaConnector::with_token_and_settings(asana.personal_access_token().into(), settings)
            .expect("connector");

    let uploaded = connector
        .client()
        .expect("a local connector has a client")
        .attachments()
        .upload(AttachmentUpload::new(
            seed::VENUE_TASK_GID,
            "résumé 1.pdf",
            "application/pdf",
            b"%PDF".to_vec(),
        ))
        .await
        .expect("upload");

    assert_eq!(uploaded.name.as_deref(), Some("résumé 1.pdf"));
    let requests = asana.received_requests().await;
    let body = String::from_utf8_lossy(&requests.last().expect("a request").body).into_owned();
    assert!(
        body.contains(r#"name="file"; filename="r%C3%A9sum%C3%A9%201.pdf""#),
        "{body}"
    );
}

#[tokio::test]
async fn list_pages_follow_meta_next_page_offset() {
    let mock = MockAsana::start().await;
    let connector = pat_connector(&mock);

    let mut names_seen = Vec::new();
    let mut offset: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = json!({"project": seed::BACKLOG_PROJECT_GID, "opt_fields": ["name"]});
        if let Some(offset) = &offset {
            params["offset"] = json!(offset);
        }
        let page = connector.execute("tasks", "list", params).await.unwrap();
        pages += 1;
        names_seen.extend(names(&page));
        match page["meta"]["next_page"]["offset"].as_str() {
            Some(next) => offset = Some(next.to_string()),
            None => {
                assert_eq!(page["meta"]["next_page"], Value::Null);
                break;
            }
        }
    }

    assert_eq!(pages, 3);
    assert_eq!(names_seen.len(), 250);
    let expected: Vec<String> = (1..=250).map(|i| format!("Backlog task {i:03}")).collect();
    assert_eq!(names_seen, expected);
    assert_eq!(mock.requests_to("GET", "/api/1.0/tasks"), 3);
}

type Seen = Arc<Mutex<Vec<Credentials>>>;

fn oauth_config(mock: &MockAsana, refresh_token: &str, seen: &Seen) -> AsanaOAuthConfig {
    let seen = seen.clone();
    AsanaOAuthConfig::new(
        SecretString::from(refresh_token),
        mock.client_id(),
        SecretString::from(mock.client_secret()),
    )
    .with_app(mock_app(mock))
    .on_refresh(move |credentials| seen.lock().unwrap().push(credentials.clone()))
}

fn seen_tokens(seen: &Seen) -> Vec<(String, Option<String>)> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c.token.access_token.expose_secret().to_string(),
                c.token
                    .refresh_token
                    .as_ref()
                    .map(|t| t.expose_secret().to_string()),
            )
        })
        .collect()
}

#[tokio::test]
async fn oauth_connector_refreshes_first_on_expiry_and_reports_each_refresh_once() {
    let mock = MockAsana::start().await;
    let issued = mock.issue_tokens("default");
    let seen: Seen = Arc::default();

    let connector = AsanaConnector::with_oauth(oauth_config(&mock, &issued.refresh_token, &seen))
        .await
        .unwrap();
    assert_eq!(
        mock.token_requests(),
        0,
        "nothing is sent before the first call"
    );

    // First call: no access token was given, so it refreshes first.
    let me = connector
        .execute("users", "get", json!({"user_gid": "me"}))
        .await
        .unwrap();
    assert_eq!(me["data"]["gid"], seed::ME_GID);
    assert_eq!(mock.token_requests_for("refresh_token"), 1);
    assert_eq!(mock.token_requests(), 1);
    let first = seen_tokens(&seen);
    assert_eq!(first.len(), 1, "the callback fired once");
    let (first_access, first_refresh) = first[0].clone();
    assert_ne!(first_access, issued.access_token);
    assert_eq!(
        first_refresh.as_deref(),
        Some(issued.refresh_token.as_str()),
        "Asana sends no new refresh token: the old one is kept"
    );
    {
        let seen = seen.lock().unwrap();
        let expires_at = seen[0].token.expires_at.unwrap();
        let left = expires_at.duration_since(SystemTime::now()).unwrap();
        assert!(
            left > Duration::from_secs(3500) && left <= Duration::from_secs(3600),
            "{left:?}"
        );
    }
    assert_eq!(last_bearer(&mock).await, format!("Bearer {first_access}"));
    assert_eq!(mock.requests_to("GET", "/api/1.0/users/me"), 1);

    // Later calls reuse the token.
    let workspaces = connector
        .execute("workspaces", "list", Value::Null)
        .await
        .unwrap();
    assert_eq!(workspaces["data"].as_array().unwrap().len(), 2);
    assert_eq!(mock.token_requests(), 1);
    assert_eq!(seen_tokens(&seen).len(), 1);
    assert_eq!(last_bearer(&mock).await, format!("Bearer {first_access}"));

    // The token expires at Asana: the 401 forces one refresh and one retry.
    mock.expire_access_tokens();
    let me = connector
        .execute("users", "get", json!({"user_gid": "me"}))
        .await
        .unwrap();
    assert_eq!(me["data"]["gid"], seed::ME_GID);
    assert_eq!(mock.token_requests_for("refresh_token"), 2);
    assert_eq!(
        mock.requests_to("GET", "/api/1.0/users/me"),
        3,
        "ok, then 401 and the retry"
    );
    let after_expiry = seen_tokens(&seen);
    assert_eq!(after_expiry.len(), 2, "the callback fired once more");
    let (second_access, second_refresh) = after_expiry[1].clone();
    assert_ne!(second_access, first_access);
    assert_eq!(second_refresh, first_refresh);
    assert_eq!(last_bearer(&mock).await, format!("Bearer {second_access}"));

    // The user disconnects the app: the grant is gone.
    mock.revoke_all_grants();
    let err = connector
        .execute("users", "get", json!({"user_gid": "me"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ExecuteError::Api(AsanaError::Auth(e)) if e.needs_reauthorization()),
        "{err:?}"
    );
    assert!(err.needs_reauthorization());
    assert!(!err.is_retryable());
    let json = err.to_json();
    assert_eq!(json["error"]["needs_reauthorization"], true);
    assert_eq!(json["error"]["retryable"], false);
    assert_eq!(mock.token_requests_for("refresh_token"), 3);
    assert_eq!(
        seen_tokens(&seen).len(),
        2,
        "no callback for a failed refresh"
    );

    // Nothing more is sent once the grant is known to be dead.
    let (api, tokens) = (mock.api_requests(), mock.token_requests());
    let err = connector
        .execute("workspaces", "list", Value::Null)
        .await
        .unwrap_err();
    assert!(err.needs_reauthorization(), "{err:?}");
    assert_eq!(mock.api_requests(), api);
    assert_eq!(mock.token_requests(), tokens);
}

#[tokio::test]
async fn oauth_connector_uses_a_given_access_token_until_it_is_rejected() {
    let mock = MockAsana::start().await;
    let issued = mock.issue_tokens("default");
    let seen: Seen = Arc::default();
    let config = oauth_config(&mock, &issued.refresh_token, &seen)
        .with_access_token(SecretString::from(issued.access_token.as_str()));

    let connector = AsanaConnector::with_oauth(config).await.unwrap();
    connector
        .execute("users", "get", json!({"user_gid": "me"}))
        .await
        .unwrap();
    assert_eq!(mock.token_requests(), 0);
    assert!(seen_tokens(&seen).is_empty());
    assert_eq!(
        last_bearer(&mock).await,
        format!("Bearer {}", issued.access_token)
    );

    mock.expire_access_tokens();
    connector
        .execute("users", "get", json!({"user_gid": "me"}))
        .await
        .unwrap();
    assert_eq!(mock.token_requests_for("refresh_token"), 1);
    assert_eq!(seen_tokens(&seen).len(), 1);
}

#[tokio::test]
async fn oauth_connector_with_a_revoked_refresh_token_needs_reauthorization_at_once() {
    let mock = MockAsana::start().await;
    let issued = mock.issue_tokens("default");
    mock.revoke_all_grants();
    let seen: Seen = Arc::default();

    let connector = AsanaConnector::with_oauth(oauth_config(&mock, &issued.refresh_token, &seen))
        .await
        .unwrap();
    let err = connector
        .execute("users", "get", json!({"user_gid": "me"}))
        .await
        .unwrap_err();

    assert!(err.needs_reauthorization(), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(mock.token_requests_for("refresh_token"), 1);
    assert_eq!(mock.api_requests(), 0, "no API request without a token");
    assert!(seen_tokens(&seen).is_empty());
}

#[tokio::test]
async fn oauth_connector_refresh_failing_transiently_is_retryable() {
    let mock = MockAsana::start().await;
    let issued = mock.issue_tokens("default");
    mock.fail_next_token_requests(1, 503);
    let seen: Seen = Arc::default();

    let connector = AsanaConnector::with_oauth(oauth_config(&mock, &issued.refresh_token, &seen))
        .await
        .unwrap();
    let err = connector
        .execute("users", "get", json!({"user_gid": "me"}))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(!err.needs_reauthorization());
    assert_eq!(mock.api_requests(), 0);

    // The credentials were kept: the next call refreshes and succeeds.
    let me = connector
        .execute("users", "get", json!({"user_gid": "me"}))
        .await
        .unwrap();
    assert_eq!(me["data"]["gid"], seed::ME_GID);
    assert_eq!(mock.token_requests_for("refresh_token"), 2);
    assert_eq!(seen_tokens(&seen).len(), 1);
}

/// Runs catalog actions and remembers which ones ran.
struct Agent {
    connector: AsanaConnector,
    ran: Mutex<BTreeSet<(String, String)>>,
}

impl Agent {
    fn new(connector: AsanaConnector) -> Self {
        Self {
            connector,
            ran: Mutex::default(),
        }
    }

    async fn run(&self, entity: &str, action: &str, params: Value) -> Result<Value, ExecuteError> {
        self.ran
            .lock()
            .unwrap()
            .insert((entity.to_string(), action.to_string()));
        self.connector.execute(entity, action, params).await
    }

    async fn ok(&self, entity: &str, action: &str, params: Value) -> Value {
        match self.run(entity, action, params.clone()).await {
            Ok(result) => result,
            Err(e) => panic!("{entity}.{action} {params}: {e}"),
        }
    }

    async fn names(&self, entity: &str, params: Value) -> Vec<String> {
        let page = self.ok(entity, "list", params).await;
        assert!(page["meta"].get("next_page").is_some(), "{page}");
        names(&page)
    }
}

#[tokio::test]
async fn every_catalog_action_works_against_the_testkit() {
    let mock = MockAsana::start().await;
    let agent = Agent::new(pat_connector(&mock));
    let acme = seed::WORKSPACE_GID;
    let object = |gid: &str| mock.object(gid).unwrap_or(Value::Null);

    // Workspaces, users, teams.
    assert_eq!(
        agent.names("workspaces", Value::Null).await,
        ["Acme Corp", "Personal Projects"]
    );
    let workspace = agent
        .ok("workspaces", "get", json!({"workspace_gid": acme}))
        .await;
    assert_eq!(workspace["data"]["is_organization"], true);
    assert_eq!(
        agent.names("users", json!({"workspace": acme})).await,
        [seed::ME_NAME, "Ada Lovelace"]
    );
    assert_eq!(
        agent
            .names("users", json!({"team": seed::MARKETING_TEAM_GID}))
            .await,
        [seed::ME_NAME]
    );
    assert_eq!(
        agent.names("users", Value::Null).await,
        [seed::ME_NAME, "Ada Lovelace"]
    );
    let by_email = agent
        .ok("users", "get", json!({"user_gid": seed::ME_EMAIL}))
        .await;
    assert_eq!(by_email["data"]["gid"], seed::ME_GID);
    let users = agent
        .ok(
            "workspace_users",
            "list",
            json!({"workspace_gid": seed::PERSONAL_WORKSPACE_GID}),
        )
        .await;
    assert_eq!(names(&users), [seed::ME_NAME]);
    assert_eq!(users["meta"]["next_page"], Value::Null);
    assert_eq!(
        agent
            .names(
                "team_users",
                json!({"team_gid": seed::ENGINEERING_TEAM_GID})
            )
            .await,
        [seed::ME_NAME, "Ada Lovelace"]
    );
    let team = agent
        .ok(
            "teams",
            "get",
            json!({"team_gid": seed::ENGINEERING_TEAM_GID}),
        )
        .await;
    assert_eq!(team["data"]["name"], "Engineering");
    assert_eq!(
        agent
            .names("workspace_teams", json!({"workspace_gid": acme}))
            .await,
        ["Engineering", "Marketing"]
    );
    assert_eq!(
        agent
            .names(
                "user_teams",
                json!({"user_gid": seed::ADA_GID, "organization": acme})
            )
            .await,
        ["Engineering"]
    );
    let added = agent
        .ok(
            "workspace_memberships",
            "create",
            json!({"workspace_gid": seed::PERSONAL_WORKSPACE_GID, "user": "ada@example.com"}),
        )
        .await;
    assert_eq!(added["data"]["gid"], seed::ADA_GID);
    assert_eq!(
        agent
            .names(
                "workspace_users",
                json!({"workspace_gid": seed::PERSONAL_WORKSPACE_GID})
            )
            .await,
        [seed::ME_NAME, "Ada Lovelace"]
    );

    // Projects.
    assert_eq!(
        agent.names("projects", json!({"workspace": acme})).await,
        ["Backlog", "Launch plan"]
    );
    assert_eq!(
        agent
            .names(
                "team_projects",
                json!({"team_gid": seed::MARKETING_TEAM_GID})
            )
            .await,
        ["Launch plan"]
    );
    assert_eq!(
        agent
            .names(
                "workspace_projects",
                json!({"workspace_gid": seed::PERSONAL_WORKSPACE_GID})
            )
            .await,
        ["Home renovation"]
    );
    let launch = agent
        .ok(
            "projects",
            "get",
            json!({"project_gid": seed::LAUNCH_PROJECT_GID}),
        )
        .await;
    assert_eq!(launch["data"]["name"], "Launch plan");
    let party = agent
        .ok(
            "projects",
            "create",
            json!({"name": "Party", "workspace": acme, "team": seed::MARKETING_TEAM_GID, "notes": "Cake"}),
        )
        .await;
    let party = party["data"]["gid"].as_str().unwrap().to_string();
    assert_eq!(object(&party)["notes"], "Cake");
    agent
        .ok(
            "projects",
            "update",
            json!({"project_gid": party, "archived": true}),
        )
        .await;
    assert_eq!(object(&party)["archived"], true);
    assert_eq!(
        agent
            .names(
                "projects",
                json!({"team": seed::MARKETING_TEAM_GID, "archived": true})
            )
            .await,
        ["Party"]
    );
    agent
        .ok("projects", "delete", json!({"project_gid": party}))
        .await;
    assert_eq!(object(&party), Value::Null);

    // Sections.
    assert_eq!(
        agent
            .names(
                "project_sections",
                json!({"project_gid": seed::LAUNCH_PROJECT_GID})
            )
            .await,
        ["Untitled section"]
    );
    let later = agent
        .ok(
            "project_sections",
            "create",
            json!({"project_gid": seed::LAUNCH_PROJECT_GID, "name": "Later"}),
        )
        .await;
    let later = later["data"]["gid"].as_str().unwrap().to_string();
    agent
        .ok(
            "sections",
            "update",
            json!({"section_gid": later, "name": "Someday"}),
        )
        .await;
    let section = agent
        .ok("sections", "get", json!({"section_gid": later}))
        .await;
    assert_eq!(section["data"]["name"], "Someday");
    agent
        .ok(
            "section_tasks",
            "create",
            json!({"section_gid": later, "task": seed::VENUE_TASK_GID}),
        )
        .await;
    assert_eq!(
        object(seed::VENUE_TASK_GID)["memberships"][0]["section"]["gid"],
        later.as_str()
    );
    assert_eq!(
        agent
            .names("section_tasks", json!({"section_gid": later}))
            .await,
        ["Book venue"]
    );
    assert!(
        agent
            .names(
                "section_tasks",
                json!({"section_gid": later, "completed_since": "now"})
            )
            .await
            .is_empty(),
        "Book venue is completed"
    );
    agent
        .ok(
            "section_tasks",
            "create",
            json!({"section_gid": seed::LAUNCH_SECTION_GID, "task": seed::VENUE_TASK_GID}),
        )
        .await;
    agent
        .ok(
            "sections",
            "move",
            json!({"project_gid": seed::LAUNCH_PROJECT_GID, "section": later,
                   "before_section": seed::LAUNCH_SECTION_GID}),
        )
        .await;
    assert_eq!(
        agent
            .names(
                "project_sections",
                json!({"project_gid": seed::LAUNCH_PROJECT_GID})
            )
            .await,
        ["Someday", "Untitled section"]
    );
    agent
        .ok("sections", "delete", json!({"section_gid": later}))
        .await;
    assert_eq!(object(&later), Value::Null);

    // Tasks and their relations.
    let launch_tasks = ["Draft announcement", "Book venue", "Send invites"];
    assert_eq!(
        agent
            .names("tasks", json!({"project": seed::LAUNCH_PROJECT_GID}))
            .await,
        launch_tasks
    );
    assert_eq!(
        agent
            .names("tasks", json!({"section": seed::LAUNCH_SECTION_GID}))
            .await,
        launch_tasks
    );
    assert_eq!(
        agent
            .names(
                "project_tasks",
                json!({"project_gid": seed::LAUNCH_PROJECT_GID})
            )
            .await,
        launch_tasks
    );
    let mine = agent
        .ok(
            "tasks",
            "list",
            json!({"assignee": "me", "workspace": acme, "limit": 5}),
        )
        .await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 5);
    assert!(mine["meta"]["next_page"]["offset"].is_string());
    let draft = agent
        .ok(
            "tasks",
            "get",
            json!({"task_gid": seed::DRAFT_TASK_GID, "opt_fields": ["name", "notes"]}),
        )
        .await;
    assert_eq!(
        draft,
        json!({"data": {"gid": seed::DRAFT_TASK_GID, "name": "Draft announcement",
                        "notes": "Announce the launch on the blog."}})
    );
    assert_eq!(
        agent
            .names("task_subtasks", json!({"task_gid": seed::DRAFT_TASK_GID}))
            .await,
        ["Write draft", "Review draft"]
    );
    assert_eq!(
        agent
            .names(
                "task_dependencies",
                json!({"task_gid": seed::INVITES_TASK_GID})
            )
            .await,
        ["Draft announcement"]
    );
    assert_eq!(
        agent
            .names("task_dependents", json!({"task_gid": seed::DRAFT_TASK_GID}))
            .await,
        ["Send invites"]
    );
    assert_eq!(
        agent
            .names("task_projects", json!({"task_gid": seed::DRAFT_TASK_GID}))
            .await,
        ["Launch plan"]
    );
    let stories = agent
        .ok(
            "task_stories",
            "list",
            json!({"task_gid": seed::DRAFT_TASK_GID}),
        )
        .await;
    assert_eq!(stories["data"][0]["text"], "Looks good so far.");
    let comment = agent
        .ok(
            "task_stories",
            "create",
            json!({"task_gid": seed::DRAFT_TASK_GID, "html_text": "<body>Ship <b>it</b></body>"}),
        )
        .await;
    assert_eq!(comment["data"]["text"], "Ship it");
    let found = agent
        .ok(
            "workspace_task_search",
            "list",
            json!({"workspace_gid": acme, "text": "announce", "completed": false}),
        )
        .await;
    assert_eq!(names(&found), ["Draft announcement"]);
    assert_eq!(found["meta"]["next_page"], Value::Null);
    let task = agent
        .ok(
            "tasks",
            "create",
            json!({"name": "Print flyers", "projects": [seed::LAUNCH_PROJECT_GID], "assignee": "me"}),
        )
        .await;
    let task = task["data"]["gid"].as_str().unwrap().to_string();
    agent
        .ok(
            "tasks",
            "update",
            json!({"task_gid": task, "due_on": "2024-05-30"}),
        )
        .await;
    assert_eq!(object(&task)["due_on"], "2024-05-30");

    // Task relations: parent, followers, dependencies and dependents, projects, tags.
    let sub = agent
        .ok(
            "task_subtasks",
            "create",
            json!({"task_gid": task, "name": "Pick paper"}),
        )
        .await;
    let sub = sub["data"]["gid"].as_str().unwrap().to_string();
    assert_eq!(object(&sub)["parent"]["gid"], task.as_str());
    let moved = agent
        .ok(
            "task_parent",
            "update",
            json!({"task_gid": sub, "parent": seed::DRAFT_TASK_GID,
                   "insert_after": seed::DRAFT_SUBTASK_GIDS[1]}),
        )
        .await;
    assert_eq!(moved["data"]["parent"]["gid"], seed::DRAFT_TASK_GID);
    assert_eq!(
        agent
            .names("task_subtasks", json!({"task_gid": seed::DRAFT_TASK_GID}))
            .await,
        ["Write draft", "Review draft", "Pick paper"]
    );
    agent
        .ok(
            "task_parent",
            "update",
            json!({"task_gid": sub, "parent": null}),
        )
        .await;
    assert_eq!(object(&sub)["parent"], Value::Null);
    let followed = agent
        .ok(
            "task_followers",
            "create",
            json!({"task_gid": task, "followers": ["me", "ada@example.com"]}),
        )
        .await;
    let followers = |value: &Value| -> Vec<String> {
        value["followers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["gid"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(followers(&followed["data"]), [seed::ME_GID, seed::ADA_GID]);
    agent
        .ok(
            "task_followers",
            "delete",
            json!({"task_gid": task, "followers": [seed::ME_GID]}),
        )
        .await;
    assert_eq!(followers(&object(&task)), [seed::ADA_GID]);
    agent
        .ok(
            "task_dependencies",
            "create",
            json!({"task_gid": task, "dependencies": [seed::DRAFT_TASK_GID, seed::VENUE_TASK_GID]}),
        )
        .await;
    agent
        .ok(
            "task_dependents",
            "create",
            json!({"task_gid": task, "dependents": [sub]}),
        )
        .await;
    assert_eq!(
        agent
            .names("task_dependencies", json!({"task_gid": task}))
            .await,
        ["Draft announcement", "Book venue"]
    );
    assert_eq!(
        agent
            .names("task_dependents", json!({"task_gid": task}))
            .await,
        ["Pick paper"]
    );
    let err = agent
        .run(
            "task_dependencies",
            "create",
            json!({"task_gid": seed::DRAFT_TASK_GID, "dependencies": [task]}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ExecuteError::Api(AsanaError::BadRequest(_))),
        "a cycle is refused: {err:?}"
    );
    agent
        .ok(
            "task_dependencies",
            "delete",
            json!({"task_gid": task, "dependencies": [seed::VENUE_TASK_GID]}),
        )
        .await;
    agent
        .ok(
            "task_dependents",
            "delete",
            json!({"task_gid": task, "dependents": [sub]}),
        )
        .await;
    assert_eq!(
        agent
            .names("task_dependencies", json!({"task_gid": task}))
            .await,
        ["Draft announcement"]
    );
    assert!(
        agent
            .names("task_dependents", json!({"task_gid": task}))
            .await
            .is_empty()
    );
    agent
        .ok(
            "task_projects",
            "create",
            json!({"task_gid": task, "project": seed::BACKLOG_PROJECT_GID,
                   "section": seed::BACKLOG_DOING_SECTION_GID, "insert_before": null}),
        )
        .await;
    let memberships: Vec<(String, String)> = object(&task)["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let gid = |key: &str| m[key]["gid"].as_str().unwrap().to_string();
            (gid("project"), gid("section"))
        })
        .collect();
    assert_eq!(
        memberships,
        [
            (
                seed::LAUNCH_PROJECT_GID.into(),
                seed::LAUNCH_SECTION_GID.into()
            ),
            (
                seed::BACKLOG_PROJECT_GID.into(),
                seed::BACKLOG_DOING_SECTION_GID.into()
            )
        ]
    );
    agent
        .ok(
            "task_projects",
            "delete",
            json!({"task_gid": task, "project": seed::LAUNCH_PROJECT_GID}),
        )
        .await;
    assert_eq!(
        agent
            .names("task_projects", json!({"task_gid": task}))
            .await,
        ["Backlog"]
    );
    assert_eq!(
        agent
            .names("task_tags", json!({"task_gid": seed::DRAFT_TASK_GID}))
            .await,
        ["urgent"]
    );
    agent.ok("tasks", "delete", json!({"task_gid": sub})).await;

    // Comments: read, edit, pin, delete.
    let story = agent
        .ok(
            "stories",
            "get",
            json!({"story_gid": seed::DRAFT_COMMENT_GID}),
        )
        .await;
    assert_eq!(story["data"]["text"], "Looks good so far.");
    let edited = agent
        .ok(
            "stories",
            "update",
            json!({"story_gid": seed::DRAFT_COMMENT_GID, "text": "Looks <great>", "is_pinned": true}),
        )
        .await;
    assert_eq!(
        edited["data"]["html_text"],
        "<body>Looks &lt;great&gt;</body>"
    );
    assert_eq!(object(seed::DRAFT_COMMENT_GID)["is_pinned"], true);
    assert_eq!(object(seed::DRAFT_COMMENT_GID)["text"], "Looks <great>");
    agent
        .ok(
            "stories",
            "delete",
            json!({"story_gid": seed::DRAFT_COMMENT_GID}),
        )
        .await;
    assert_eq!(object(seed::DRAFT_COMMENT_GID), Value::Null);

    // Tags.
    assert_eq!(
        agent
            .names("workspace_tags", json!({"workspace_gid": acme}))
            .await,
        ["urgent", "blocked"]
    );
    let print = agent
        .ok(
            "workspace_tags",
            "create",
            json!({"workspace_gid": acme, "name": "print", "color": "light-blue"}),
        )
        .await;
    let print = print["data"]["gid"].as_str().unwrap().to_string();
    agent
        .ok(
            "tags",
            "update",
            json!({"tag_gid": print, "notes": "Paper things"}),
        )
        .await;
    let tag = agent.ok("tags", "get", json!({"tag_gid": print})).await;
    assert_eq!(tag["data"]["notes"], "Paper things");
    agent
        .ok(
            "task_tags",
            "create",
            json!({"task_gid": task, "tag": print}),
        )
        .await;
    assert_eq!(
        agent.names("tag_tasks", json!({"tag_gid": print})).await,
        ["Print flyers"]
    );
    assert_eq!(
        agent.names("tasks", json!({"tag": print})).await,
        ["Print flyers"]
    );
    agent
        .ok(
            "task_tags",
            "delete",
            json!({"task_gid": task, "tag": print}),
        )
        .await;
    assert!(
        agent
            .names("tag_tasks", json!({"tag_gid": print}))
            .await
            .is_empty()
    );
    agent.ok("tags", "delete", json!({"tag_gid": print})).await;
    assert_eq!(object(&print), Value::Null);
    agent.ok("tasks", "delete", json!({"task_gid": task})).await;
    assert_eq!(object(&task), Value::Null);

    // Attachments.
    assert_eq!(
        agent
            .names("attachments", json!({"parent": seed::DRAFT_TASK_GID}))
            .await,
        [seed::ANNOUNCEMENT_ATTACHMENT_NAME, "Design doc"]
    );
    let linked = agent
        .ok(
            "attachments",
            "create",
            json!({"parent": seed::DRAFT_TASK_GID, "url": "https://docs.example/faq", "name": "FAQ"}),
        )
        .await;
    assert_eq!(linked["data"]["resource_subtype"], "external");
    assert_eq!(linked["data"]["view_url"], "https://docs.example/faq");
    assert_eq!(
        agent
            .names("attachments", json!({"parent": seed::DRAFT_TASK_GID}))
            .await,
        [seed::ANNOUNCEMENT_ATTACHMENT_NAME, "Design doc", "FAQ"]
    );
    let attachment = agent
        .ok(
            "attachments",
            "get",
            json!({"attachment_gid": seed::ANNOUNCEMENT_ATTACHMENT_GID}),
        )
        .await;
    assert_eq!(attachment["data"]["host"], "asana");
    let downloaded = agent
        .ok(
            "attachments",
            "download",
            json!({"attachment_gid": seed::ANNOUNCEMENT_ATTACHMENT_GID}),
        )
        .await;
    assert_eq!(
        downloaded,
        json!({"data": {
            "gid": seed::ANNOUNCEMENT_ATTACHMENT_GID,
            "name": seed::ANNOUNCEMENT_ATTACHMENT_NAME,
            "host": "asana",
            "resource_subtype": "asana",
            "size": seed::ANNOUNCEMENT_ATTACHMENT_CONTENT.len(),
            "content_base64": STANDARD.encode(seed::ANNOUNCEMENT_ATTACHMENT_CONTENT),
        }})
    );
    assert_eq!(
        mock.requests_to(
            "GET",
            &format!(
                "/-/attachments/{}/launch%20notes.txt",
                seed::ANNOUNCEMENT_ATTACHMENT_GID
            )
        ),
        1,
        "downloaded once, from the storage host, and accepted without a token"
    );
    let err = agent
        .run(
            "attachments",
            "download",
            json!({"attachment_gid": seed::DESIGN_DOC_ATTACHMENT_GID}),
        )
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

    let catalog: BTreeSet<(String, String)> = AsanaConnector::catalog()
        .iter()
        .flat_map(|e| {
            e.actions
                .iter()
                .map(|a| (e.entity.to_string(), a.action.to_string()))
        })
        .collect();
    let ran = agent.ran.lock().unwrap().clone();
    let not_modelled: BTreeSet<(String, String)> = catalog.difference(&ran).cloned().collect();
    assert!(ran.is_subset(&catalog), "only catalog actions ran");
    assert_eq!(
        not_modelled.len(),
        105,
        "the story above runs 64 actions; connector_testkit_walk runs every action, these \
         105 included: {not_modelled:?}"
    );
}

#[tokio::test]
async fn the_testkit_storage_host_refuses_tokens_and_bad_signatures() {
    let mock = MockAsana::start().await;
    let attachment = mock.object(seed::ANNOUNCEMENT_ATTACHMENT_GID).unwrap();
    let download_url = attachment["download_url"].as_str().unwrap().to_string();
    assert_eq!(
        download_url,
        format!(
            "{}/-/attachments/{}/launch%20notes.txt?signature=mock-signature-{}",
            mock.uri(),
            seed::ANNOUNCEMENT_ATTACHMENT_GID,
            seed::ANNOUNCEMENT_ATTACHMENT_GID
        )
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let plain = http.get(&download_url).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(
        plain.bytes().await.unwrap().as_ref(),
        seed::ANNOUNCEMENT_ATTACHMENT_CONTENT
    );
    let with_token = http
        .get(&download_url)
        .bearer_auth(mock.personal_access_token())
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), 400);
    let forged = download_url.replace("mock-signature", "forged");
    assert_eq!(http.get(&forged).send().await.unwrap().status(), 403);
    assert_eq!(
        mock.object(seed::DESIGN_DOC_ATTACHMENT_GID).unwrap()["download_url"],
        Value::Null
    );
    assert_eq!(mock.api_requests(), 0, "downloads are not API requests");
}

/// Where `value` breaks `schema`, in the subset of JSON Schema that `entity_schema` uses: `type`
/// (one or a list), `properties`, `required`, `items`, `enum` and `const`.
fn violations(schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(ty) => vec![ty.as_str()],
        Value::Array(types) => types.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let is = |ty: &str| match ty {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => false,
    };
    if !types.is_empty() && !types.iter().any(|ty| is(ty)) {
        out.push(format!("{at}: {value} is not {types:?}"));
        return;
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(value)
    {
        out.push(format!("{at}: {value} is not one of {values:?}"));
    }
    if let Some(expected) = schema.get("const")
        && expected != value
    {
        out.push(format!("{at}: {value} is not {expected}"));
    }
    if let Some(object) = value.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                out.push(format!("{at}: missing required {name}"));
            }
        }
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            if let Some(field) = object.get(name) {
                violations(property, field, &format!("{at}.{name}"), out);
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            violations(items, item, &format!("{at}[{i}]"), out);
        }
    }
}

#[test]
fn the_record_check_finds_wrong_types_missing_fields_and_other_kinds() {
    let schema = AsanaConnector::entity_schema("tasks").unwrap();
    let mut found = Vec::new();
    violations(
        &schema,
        &json!({"resource_type": "project", "completed": "yes", "assignee": {"name": "x"},
                "tags": [{"gid": 1}], "resource_subtype": "epic", "due_on": null}),
        "task",
        &mut found,
    );
    assert_eq!(
        found,
        [
            "task: missing required gid",
            "task.assignee: missing required gid",
            "task.completed: \"yes\" is not [\"boolean\"]",
            "task.resource_subtype: \"epic\" is not one of [String(\"default_task\"), \
             String(\"milestone\"), String(\"approval\"), String(\"custom\")]",
            "task.resource_type: \"project\" is not \"task\"",
            "task.tags[0].gid: 1 is not [\"string\"]",
        ]
    );
}

#[tokio::test]
async fn the_testkits_records_match_their_entity_schemas() {
    let mock = MockAsana::start().await;
    let connector = pat_connector(&mock);
    let gets = [
        ("tasks", json!({"task_gid": seed::DRAFT_TASK_GID})),
        ("tasks", json!({"task_gid": seed::VENUE_TASK_GID})),
        ("projects", json!({"project_gid": seed::LAUNCH_PROJECT_GID})),
        ("projects", json!({"project_gid": seed::HOME_PROJECT_GID})),
        ("users", json!({"user_gid": "me"})),
        (
            "sections",
            json!({"section_gid": seed::BACKLOG_TODO_SECTION_GID}),
        ),
        ("tags", json!({"tag_gid": seed::URGENT_TAG_GID})),
        ("workspaces", json!({"workspace_gid": seed::WORKSPACE_GID})),
        ("teams", json!({"team_gid": seed::ENGINEERING_TEAM_GID})),
        (
            "attachments",
            json!({"attachment_gid": seed::ANNOUNCEMENT_ATTACHMENT_GID}),
        ),
    ];
    let mut checked = BTreeSet::new();
    for (entity, params) in gets {
        let record = connector.execute(entity, "get", params).await.unwrap()["data"].clone();
        let schema = AsanaConnector::entity_schema(entity).unwrap();
        let mut found = Vec::new();
        violations(&schema, &record, entity, &mut found);
        assert!(found.is_empty(), "{record}: {found:#?}");
        assert!(
            record.as_object().unwrap().len() > 3,
            "a full record: {record}"
        );
        checked.insert(entity);
    }
    let stories = connector
        .execute(
            "task_stories",
            "list",
            json!({"task_gid": seed::DRAFT_TASK_GID,
                   "opt_fields": ["text", "html_text", "type", "created_at", "created_by", "target",
                                  "resource_subtype", "is_pinned"]}),
        )
        .await
        .unwrap();
    let story = &stories["data"][0];
    assert_eq!(story["text"], "Looks good so far.");
    let mut found = Vec::new();
    violations(
        &AsanaConnector::entity_schema("stories").unwrap(),
        story,
        "stories",
        &mut found,
    );
    assert!(found.is_empty(), "{story}: {found:#?}");
    checked.insert("stories");
    assert_eq!(checked.len(), 9, "{checked:?}");
}

/// Compiles `schema` as a JSON Schema 2020-12 document, which checks it against the meta-schema.
fn compile_schema(name: &str, schema: Value) -> Result<(), String> {
    let location = format!("urn:integrations:{name}");
    let mut compiler = boon::Compiler::new();
    compiler.set_default_draft(boon::Draft::V2020_12);
    compiler
        .add_resource(&location, schema)
        .and_then(|()| compiler.compile(&location, &mut boon::Schemas::new()))
        .map(|_| ())
        .map_err(|e| format!("{e:#}"))
}

/// Each tool's name reads back, through `tool_call`, as the one catalog action it was made from
/// (entities hold underscores, so a name splits at the catalog's entity, not at the first `_`);
/// a name that is no tool is `None`.
#[test]
fn every_tool_name_reads_back_as_its_action() {
    let catalog: std::collections::BTreeSet<(&str, &str)> = AsanaConnector::catalog()
        .iter()
        .flat_map(|e| e.actions.iter().map(move |a| (e.entity, a.action)))
        .collect();
    let mut read_back = std::collections::BTreeSet::new();
    for tool in AsanaConnector::tool_definitions() {
        let name = tool["name"].as_str().unwrap();
        let (entity, action) = AsanaConnector::tool_call(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(format!("asana_{entity}_{action}"), name);
        read_back.insert((entity, action));
    }
    assert_eq!(read_back, catalog);
    for name in [
        "",
        "asana_",
        "asana_tasks",
        "asana_tasks_",
        "tasks_list",
        "asana_taskz_list",
        "asana_tasks_list_",
    ] {
        assert_eq!(AsanaConnector::tool_call(name), None, "{name}");
    }
}

/// Every schema the catalog publishes is a valid JSON Schema: each action's params, each LLM tool
/// definition's input, each entity's records.
#[test]
fn every_published_schema_is_a_valid_json_schema() {
    let mut published = Vec::new();
    for entity in AsanaConnector::catalog() {
        for action in &entity.actions {
            let name = format!("{}.{}", entity.entity, action.action);
            published.push((format!("{name}.params"), action.params_schema.clone()));
        }
        let records = AsanaConnector::entity_schema(entity.entity).unwrap();
        published.push((format!("{}.records", entity.entity), records));
    }
    for tool in AsanaConnector::tool_definitions() {
        let name = tool["name"].as_str().unwrap().to_string();
        published.push((name, tool["input_schema"].clone()));
    }
    let actions: usize = AsanaConnector::catalog()
        .iter()
        .map(|e| e.actions.len())
        .sum();
    assert!(actions >= 169, "{actions}");
    assert_eq!(AsanaConnector::tool_definitions().len(), actions);
    let invalid: Vec<String> = published
        .into_iter()
        .filter_map(|(name, schema)| compile_schema(&name, schema).err())
        .collect();
    assert!(invalid.is_empty(), "{invalid:#?}");
    assert!(compile_schema("misspelt", json!({"type": "objekt"})).is_err());
    assert!(compile_schema("misplaced", json!({"required": "gid"})).is_err());
}

/// Whether the published schema of `entity.action`'s params accepts `params`.
fn published_schema_accepts(entity: &str, action: &str, params: &Value) -> bool {
    let schema = AsanaConnector::catalog()
        .into_iter()
        .find(|e| e.entity == entity)
        .and_then(|e| e.actions.into_iter().find(|a| a.action == action))
        .expect("in the catalog")
        .params_schema;
    let location = format!("urn:integrations:{entity}.{action}");
    let mut compiler = boon::Compiler::new();
    compiler.set_default_draft(boon::Draft::V2020_12);
    let mut schemas = boon::Schemas::new();
    compiler.add_resource(&location, schema).unwrap();
    let index = compiler.compile(&location, &mut schemas).unwrap();
    schemas.validate(params, index).is_ok()
}

/// The validator and the published schema agree on each of `cases` (entity, action, params,
/// whether they are valid).
fn assert_schema_and_validator_agree(cases: &[(&str, &str, Value, bool)]) {
    for (entity, action, params, valid) in cases {
        let validated = AsanaConnector::validate(entity, action, params);
        assert_eq!(
            (
                validated.is_ok(),
                published_schema_accepts(entity, action, params)
            ),
            (*valid, *valid),
            "{entity}.{action} {params}: {validated:?}"
        );
    }
}

#[test]
fn integers_are_what_json_schema_calls_integers() {
    assert_schema_and_validator_agree(&[
        ("tasks", "list", json!({"project": "1", "limit": 10}), true),
        (
            "tasks",
            "list",
            json!({"project": "1", "limit": 10.0}),
            true,
        ),
        (
            "tasks",
            "list",
            json!({"project": "1", "limit": 10.5}),
            false,
        ),
        (
            "tasks",
            "list",
            json!({"project": "1", "limit": 101.0}),
            false,
        ),
        (
            "time_tracking_entries",
            "update",
            json!({"time_tracking_entry_gid": "1", "duration_minutes": 30.0}),
            true,
        ),
        (
            "time_tracking_entries",
            "update",
            json!({"time_tracking_entry_gid": "1", "duration_minutes": 1e300}),
            true,
        ),
        (
            "time_tracking_entries",
            "update",
            json!({"time_tracking_entry_gid": "1", "duration_minutes": 0.5}),
            false,
        ),
        (
            "batch",
            "submit",
            json!({"actions": [{"relative_path": "/tasks", "method": "get", "options": {"limit": 3.0}}]}),
            true,
        ),
    ]);
}

#[test]
fn an_update_clears_a_text_field_with_an_empty_string_and_nothing_else_is_empty() {
    assert_schema_and_validator_agree(&[
        (
            "tasks",
            "update",
            json!({"task_gid": "1", "notes": ""}),
            true,
        ),
        (
            "projects",
            "update",
            json!({"project_gid": "1", "notes": ""}),
            true,
        ),
        ("tags", "update", json!({"tag_gid": "1", "notes": ""}), true),
        (
            "goals",
            "update",
            json!({"goal_gid": "1", "notes": ""}),
            true,
        ),
        (
            "teams",
            "update",
            json!({"team_gid": "1", "description": ""}),
            true,
        ),
        (
            "custom_fields",
            "update",
            json!({"custom_field_gid": "1", "workspace": "2", "description": ""}),
            true,
        ),
        (
            "tasks",
            "update",
            json!({"task_gid": "1", "name": ""}),
            false,
        ),
        (
            "tasks",
            "update",
            json!({"task_gid": "1", "html_notes": ""}),
            false,
        ),
        (
            "tasks",
            "update",
            json!({"task_gid": "", "notes": "x"}),
            false,
        ),
        (
            "tasks",
            "create",
            json!({"workspace": "1", "notes": ""}),
            false,
        ),
        ("tags", "update", json!({"tag_gid": "1", "name": ""}), false),
    ]);
    let notes = &AsanaConnector::catalog()
        .into_iter()
        .find(|e| e.entity == "tasks")
        .and_then(|e| e.actions.into_iter().find(|a| a.action == "update"))
        .unwrap()
        .params_schema["properties"]["notes"];
    assert_eq!(
        notes,
        &json!({"type": "string", "description": "Plain-text description (\"\" clears it)"})
    );
}
