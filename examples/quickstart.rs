//! The whole life of a connection, offline.
//!
//! With no `ASANA_ACCESS_TOKEN` in the environment this starts the Asana testkit on 127.0.0.1 and
//! walks: authorize URL → consent (followed over HTTP) → exchange with state and PKCE → stored in
//! SQLite → session → `get_user("me")` → workspaces and a project's tasks across pages → the token
//! expires → automatic refresh → `execute("tasks", "list", ...)` → revoke. Any failed step exits
//! non-zero.
//!
//! With `ASANA_ACCESS_TOKEN` set it talks to the real Asana: who am I, my workspaces, a few tasks.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

use std::error::Error;
use std::process::ExitCode;

use futures::TryStreamExt;
use integrations::asana::connector::AsanaConnector;
use integrations::asana::{AsanaSessionExt, AsanaUserCredentials};
use integrations::{AuthManager, AuthorizeOptions, EnvSource, SqliteCredentialStore};
use provider_asana_testkit::MockAsana;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

#[tokio::main]
async fn main() -> ExitCode {
    let outcome = match std::env::var("ASANA_ACCESS_TOKEN") {
        Ok(token) if !token.is_empty() => real_asana().await,
        _ => offline().await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(ok: bool, what: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

async fn offline() -> Result<()> {
    let mock = MockAsana::builder().tasks_per_project(250).start().await;
    println!(
        "No ASANA_ACCESS_TOKEN set: running against the Asana testkit on {} (nothing leaves this machine).",
        mock.uri()
    );

    let dir = tempfile::tempdir()?;
    let db = dir.path().join("credentials.db");
    let auth = AuthManager::builder()
        .env(EnvSource::empty())
        .store(
            SqliteCredentialStore::builder(&db)
                .unencrypted()
                .open()
                .await?,
        )
        .configure("asana", mock.app_config())
        .build()?;
    let subject = "user-123";

    let flow = auth.oauth2("asana")?;
    let step = flow
        .authorize(AuthorizeOptions::for_subject(subject).scopes(["default"]))
        .await?;
    println!(" 1. authorize: {}", step.url);

    let callback = mock.consent(step.url.as_str()).await?;
    let param = |name: &str| {
        callback
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let (code, state) = (
        param("code").ok_or("no code in the callback")?,
        param("state").ok_or("no state")?,
    );
    println!(
        " 2. consent: Asana redirected to {}?code=…&state=…",
        callback.as_str().split('?').next().unwrap_or_default()
    );

    let credentials = flow.exchange(&code, &state, subject).await?;
    let typed: AsanaUserCredentials = credentials.to_typed()?;
    println!(
        " 3. exchange: state checked, PKCE verifier sent; {} token for {} expiring in {}s, with a refresh token: {}",
        typed.token.token_type,
        typed
            .user
            .as_ref()
            .and_then(|u| u.name.as_deref())
            .unwrap_or("?"),
        typed.token.expires_in.unwrap_or_default(),
        typed.token.refresh_token.is_some(),
    );

    auth.store_credentials("asana", subject, &credentials)
        .await?;
    println!(
        " 4. stored in SQLite at {} ({} credential(s))",
        db.display(),
        auth.list_credentials(None).await?.len()
    );

    let session = auth.session(subject).await?;
    let source = session
        .source("asana")
        .ok_or("no Asana binding in the session")?;
    println!(" 5. session for {subject}: token source = {source}");

    let client = session.asana()?;
    let me = client.get_user("me").await?;
    println!(
        " 6. get_user(\"me\"): {} <{}>",
        me.name.as_deref().unwrap_or("?"),
        me.email.as_deref().unwrap_or("?")
    );

    let workspaces = client.workspaces().list().page().await?;
    let names: Vec<&str> = workspaces
        .data
        .iter()
        .filter_map(|w| w.name.as_deref())
        .collect();
    println!(" 7. workspaces: {}", names.join(", "));
    let workspace = workspaces.data.first().ok_or("no workspace")?;
    let projects = client
        .projects()
        .list_for_workspace(Some(&workspace.gid))
        .page()
        .await?;
    let project = projects
        .data
        .iter()
        .find(|p| p.name.as_deref() == Some("Backlog"))
        .or(projects.data.first())
        .ok_or("no project")?;
    let pages_before = mock.requests_to("GET", &format!("/api/1.0/projects/{}/tasks", project.gid));
    let tasks: Vec<_> = client
        .tasks()
        .list_for_project(&project.gid)
        .stream()
        .try_collect()
        .await?;
    let pages =
        mock.requests_to("GET", &format!("/api/1.0/projects/{}/tasks", project.gid)) - pages_before;
    println!(
        "    project {:?}: {} tasks streamed across {pages} pages of 100",
        project.name.as_deref().unwrap_or("?"),
        tasks.len()
    );
    check(tasks.len() == 250 && pages == 3, "250 tasks over 3 pages")?;

    mock.expire_access_tokens();
    println!(
        " 8. the access token expires (Asana now answers 401 \"The bearer token has expired…\")"
    );

    let refreshes = mock.token_requests_for("refresh_token");
    let again = client.get_user("me").await?;
    let refreshed = mock.token_requests_for("refresh_token") - refreshes;
    println!(
        " 9. automatic refresh: 401 → {refreshed} refresh → retried → still {}",
        again.name.as_deref().unwrap_or("?")
    );
    check(refreshed == 1, "exactly one refresh")?;

    let connector = AsanaConnector::from_session(&session)?;
    let listed = connector
        .execute(
            "tasks",
            "list",
            serde_json::json!({"project": project.gid, "limit": 3, "opt_fields": ["name"]}),
        )
        .await?;
    let first: Vec<&str> = listed["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    println!(
        "10. execute(\"tasks\", \"list\"): {:?}, next_page offset {}",
        first,
        listed["meta"]["next_page"]["offset"]
            .as_str()
            .unwrap_or("none")
    );
    check(first.len() == 3, "three tasks from execute")?;

    let revoked = auth.revoke_credentials("asana", subject).await?;
    println!(
        "11. revoke: revoked at Asana ({} revocation) and deleted locally: {revoked}; {} credential(s) left",
        mock.revocations(),
        auth.list_credentials(None).await?.len()
    );
    check(revoked && mock.revocations() == 1, "revoked")?;
    println!("Done: every step succeeded.");
    Ok(())
}

async fn real_asana() -> Result<()> {
    println!("ASANA_ACCESS_TOKEN is set: talking to the real Asana.");
    let auth = AuthManager::builder().build()?;
    let session = auth.session("default").await?;
    println!(
        "token source: {}",
        session.source("asana").ok_or("Asana is not configured")?
    );
    let client = session.asana()?;
    let me = client.users().get("me", &["name", "email"]).await?;
    println!(
        "me: {} <{}>",
        me.name.as_deref().unwrap_or("?"),
        me.email.as_deref().unwrap_or("?")
    );
    let workspaces = client.workspaces().list().page().await?;
    for workspace in &workspaces.data {
        println!(
            "workspace {} ({})",
            workspace.name.as_deref().unwrap_or("?"),
            workspace.gid
        );
    }
    if let Some(workspace) = workspaces.data.first() {
        let tasks = client
            .tasks()
            .list_for_assignee("me", Some(&workspace.gid))
            .limit(5)
            .page()
            .await?;
        for task in &tasks.data {
            println!("  task {}", task.name.as_deref().unwrap_or("?"));
        }
    }
    Ok(())
}
