//! The catalog as LLM tool definitions, then one tool call executed.
//!
//! Offline it runs against the Asana testkit with its personal access token; with
//! `ASANA_ACCESS_TOKEN` set, against the real Asana.
//!
//! ```sh
//! cargo run --example agent_tools
//! ```

use integrations::SecretString;
use integrations::asana::AsanaClientSettings;
use integrations::asana::connector::AsanaConnector;
use provider_asana_testkit::{MockAsana, seed};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tools = AsanaConnector::tool_definitions();
    println!(
        "{} tools; the first one, as an LLM receives it:",
        tools.len()
    );
    println!("{}", serde_json::to_string_pretty(&tools[0])?);

    // What a model would answer with: a tool name and arguments.
    let call = serde_json::json!({"name": "asana_tasks_list", "arguments": {"project": seed::BACKLOG_PROJECT_GID, "limit": 2}});

    let _mock;
    let connector = match std::env::var("ASANA_ACCESS_TOKEN") {
        Ok(token) if !token.is_empty() => AsanaConnector::with_token(SecretString::from(token))?,
        _ => {
            let mock = MockAsana::start().await;
            let settings = AsanaClientSettings::new(mock.api_base_url().parse()?);
            let connector = AsanaConnector::with_token_and_settings(
                mock.personal_access_token().into(),
                settings,
            )?;
            _mock = mock;
            connector
        }
    };
    let name = call["name"].as_str().unwrap_or_default();
    let (entity, action) = name
        .strip_prefix("asana_")
        .and_then(|rest| rest.rsplit_once('_'))
        .ok_or("not an Asana tool name")?;
    match connector
        .execute(entity, action, call["arguments"].clone())
        .await
    {
        Ok(result) => println!("{name} → {}", serde_json::to_string_pretty(&result)?),
        Err(e) => {
            // What the model gets back on failure: machine-readable, with whether to retry.
            println!("{name} failed → {}", e.to_json());
            return Err(e.into());
        }
    }
    let invalid = connector
        .execute("tasks", "list", serde_json::json!({"limit": 1000}))
        .await
        .unwrap_err();
    println!(
        "a bad call is refused before any request → {}",
        invalid.to_json()
    );
    Ok(())
}
