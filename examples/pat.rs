//! A personal access token only: no OAuth app, no stored credentials.
//!
//! With `ASANA_ACCESS_TOKEN` set it reads the real Asana; otherwise the testkit's token against
//! the local testkit. The session reports that the app-level token stood in for the subject.
//!
//! ```sh
//! cargo run --example pat
//! ```

use integrations::asana::AsanaSessionExt;
use integrations::{AuthManager, EnvSource};
use provider_asana_testkit::MockAsana;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _mock;
    let auth = match std::env::var("ASANA_ACCESS_TOKEN") {
        // The real Asana: configuration comes from the process environment (ASANA_* keys).
        Ok(token) if !token.is_empty() => AuthManager::builder().build()?,
        _ => {
            let mock = MockAsana::start().await;
            let auth = AuthManager::builder()
                .env(EnvSource::empty())
                .configure(
                    "asana",
                    [
                        ("token", mock.personal_access_token().to_string()),
                        ("api_base_url", mock.api_base_url()),
                    ],
                )
                .build()?;
            println!("No ASANA_ACCESS_TOKEN: using the testkit at {}", mock.uri());
            _mock = mock;
            auth
        }
    };
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
    for workspace in client.workspaces().list().page().await?.data {
        println!(
            "workspace: {} ({})",
            workspace.name.as_deref().unwrap_or("?"),
            workspace.gid
        );
    }
    Ok(())
}
