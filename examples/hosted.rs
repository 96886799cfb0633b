//! Hosted execution, offline: the service `integrations serve` runs, and what an application does
//! with it over HTTP.
//!
//! This starts the Asana testkit and the service (`integrations_server::Server`, as `integrations
//! serve` starts it) on 127.0.0.1, then walks: register an application (`integrations apps
//! create`) → its service token → a connector for a customer, with the customer's token →
//! execute a read and a write → `check` → the customer's connectors → the same read through the
//! library's hosted client, `AsanaConnector::hosted` → delete the connector → stop the service
//! gracefully. A failed step ends it with an error and a non-zero exit code.
//!
//! ```sh
//! cargo run --example hosted
//! ```

use std::error::Error;

use integrations::asana::AsanaAppCredentials;
use integrations::asana::connector::{AsanaConnector, HostedConfig, HostedTarget};
use integrations::{EncryptionKey, KeyRing};
use integrations_server::Server;
use provider_asana_testkit::{MockAsana, seed};
use serde_json::{Value, json};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn check(ok: bool, what: &str) -> Result<()> {
    ok.then_some(())
        .ok_or_else(|| format!("check failed: {what}").into())
}

/// An HTTP call to the service: its status and JSON body.
async fn call(request: reqwest::RequestBuilder) -> Result<(u16, Value)> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

/// How many connectors customer-1 has (`GET /api/v1/integrations/connectors?external_user_id=`).
async fn customer_connectors(http: &reqwest::Client, url: &str, bearer: &str) -> Result<usize> {
    let (status, found) = call(
        http.get(format!("{url}/api/v1/integrations/connectors"))
            .query(&[("external_user_id", "customer-1")])
            .bearer_auth(bearer),
    )
    .await?;
    check(status == 200, "the customer's connectors are listed")?;
    Ok(found["data"].as_array().map_or(0, Vec::len))
}

#[tokio::main]
async fn main() -> Result<()> {
    let asana = MockAsana::start().await;
    println!(
        "Running the hosted service against the Asana testkit on {} (nothing leaves this machine).",
        asana.uri()
    );

    // The service, as `integrations serve --store DIR` runs it, with Asana's URLs pointed at the
    // testkit (the command line reads them from ASANA_API_BASE_URL and friends).
    let mut app = AsanaAppCredentials::default();
    app.api_base_url = asana.api_base_url().parse()?;
    app.token_url = asana.token_url().parse()?;
    app.revocation_url = asana.revocation_url().parse()?;
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = Server::builder()
        .store_dir(dir.path())
        .encryption_keys(KeyRing::new(EncryptionKey::generate()))
        .public_url(url.parse()?)
        .asana_app(app)
        .build()
        .await?;
    let admin = server.admin();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    println!(
        " 1. serve: listening on {url}, store {}",
        dir.path().display()
    );

    let created = admin
        .create_application("acme", &["https://app.acme.example".to_string()])
        .await?;
    let client_id = created.application.client_id.clone();
    let client_secret = created.client_secret.clone();
    println!(
        " 2. apps create acme: client_id {client_id}, client_secret shown once (the service keeps its hash)"
    );

    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let (status, token) = call(
        http.post(format!("{url}/api/v1/account/applications/token"))
            .json(&json!({"client_id": client_id, "client_secret": client_secret.expose_secret()})),
    )
    .await?;
    check(status == 200, "a service token")?;
    let bearer = token["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    println!(
        " 3. POST /api/v1/account/applications/token: a {} token for {}s",
        token["token_type"].as_str().unwrap_or("?"),
        token["expires_in"]
    );

    let (status, connector) = call(
        http.post(format!("{url}/api/v1/integrations/connectors"))
            .bearer_auth(&bearer)
            .json(&json!({
                "external_user_id": "customer-1",
                "connector_type": "Asana",
                "name": "Customer 1's Asana",
                "credentials": {"token": asana.personal_access_token()},
            })),
    )
    .await?;
    check(status == 201, "the connector is created")?;
    let id = connector["id"].as_str().unwrap_or_default().to_string();
    println!(
        " 4. POST /api/v1/integrations/connectors: {id} for {}, status {} (the token is stored encrypted, never answered)",
        connector["customer_name"].as_str().unwrap_or("?"),
        connector["status"].as_str().unwrap_or("?")
    );

    let execute = format!("{url}/api/v1/integrations/connectors/{id}/execute");
    let (status, listed) = call(http.post(&execute).bearer_auth(&bearer).json(&json!({
        "entity": "tasks",
        "action": "list",
        "params": {"project": seed::BACKLOG_PROJECT_GID, "limit": 3, "opt_fields": ["name"]},
    })))
    .await?;
    check(status == 200, "the read succeeds")?;
    let names: Vec<&str> = listed["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|task| task["name"].as_str())
        .collect();
    println!(
        " 5. execute tasks.list (read): {names:?}, next page offset {}",
        listed["connector_metadata"]["next_page"]["offset"]
            .as_str()
            .unwrap_or("none")
    );
    check(names.len() == 3, "three tasks")?;

    let (status, written) = call(http.post(&execute).bearer_auth(&bearer).json(&json!({
        "entity": "tasks",
        "action": "create",
        "params": {"workspace": seed::WORKSPACE_GID, "name": "Written through the service"},
    })))
    .await?;
    check(status == 200, "the write succeeds")?;
    let gid = written["result"]["gid"].as_str().unwrap_or_default();
    let in_asana = asana
        .object(gid)
        .and_then(|task| task["name"].as_str().map(String::from));
    println!(
        " 6. execute tasks.create (write): task {gid}, in Asana as {:?}",
        in_asana.as_deref().unwrap_or("nothing")
    );
    check(
        in_asana.as_deref() == Some("Written through the service"),
        "the task is in Asana",
    )?;

    let (status, health) = call(
        http.post(&execute)
            .bearer_auth(&bearer)
            .json(&json!({"entity": "*", "action": "check", "params": null})),
    )
    .await?;
    check(
        status == 200 && health["result"]["status"] == "healthy",
        "the connector is healthy",
    )?;
    println!(
        " 7. check: {} (checked with {}.{})",
        health["result"]["status"].as_str().unwrap_or("?"),
        health["result"]["checked_entity"].as_str().unwrap_or("?"),
        health["result"]["checked_action"].as_str().unwrap_or("?")
    );

    let count = customer_connectors(&http, &url, &bearer).await?;
    check(count == 1, "one connector for customer-1")?;
    println!(
        " 8. GET /api/v1/integrations/connectors?external_user_id=customer-1: {count} connector"
    );

    // The library's hosted client: the same execute and check as a local connector, through the
    // service, as the application.
    let hosted = AsanaConnector::hosted(HostedConfig::new(
        url.parse()?,
        client_id.clone(),
        client_secret.clone(),
        HostedTarget::Customer("customer-1".into()),
    ))?;
    let me = hosted
        .execute("users", "get", json!({"user_gid": "me"}))
        .await?;
    let health = hosted.check().await;
    println!(
        " 9. AsanaConnector::hosted(..).execute(\"users\", \"get\"): {}; check: healthy = {}",
        me["data"]["name"].as_str().unwrap_or("?"),
        health.healthy
    );
    check(
        me["data"]["name"] == seed::ME_NAME && health.healthy,
        "the hosted client reads through the service",
    )?;

    let (status, _) = call(
        http.delete(format!("{url}/api/v1/integrations/connectors/{id}"))
            .bearer_auth(&bearer),
    )
    .await?;
    check(status == 200, "the connector is deleted")?;
    let left = customer_connectors(&http, &url, &bearer).await?;
    check(left == 0, "no connector left")?;
    println!(
        "10. DELETE /api/v1/integrations/connectors/{id}: deleted, {left} left for customer-1"
    );

    let _ = stop.send(());
    serving.await??;
    println!(
        "11. stop: the service finished its requests and stopped (SIGTERM does this for `integrations serve`)."
    );
    println!("Done: every step succeeded.");
    Ok(())
}
