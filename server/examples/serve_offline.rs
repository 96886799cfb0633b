//! The service, offline: on 127.0.0.1 over the fake Asana of provider-asana-testkit, with a
//! throwaway store directory and one registered application, for tools that exercise the API
//! from outside (`.ci/run` fuzzes it with schemathesis).
//!
//! ```text
//! cargo run -p integrations-server --example serve_offline
//! ```
//!
//! prints, once it listens,
//!
//! ```text
//! url: http://127.0.0.1:PORT
//! client_id: ...
//! client_secret: ...
//! asana_token: ...
//! asana_api: http://127.0.0.1:PORT/api/1.0
//! ```
//!
//! (`asana_token` is a personal access token the fake Asana accepts, for creating connectors;
//! `asana_api` its API base URL, for clients of the fake Asana itself.)
//!
//! and serves until it gets SIGTERM or Ctrl-C; then it finishes the requests in flight and
//! deletes its store.

use std::io::Write;

use integrations::asana::AsanaAppCredentials;
use integrations::{EncryptionKey, KeyRing};
use integrations_server::Server;
use provider_asana_testkit::MockAsana;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    // The service's callback is the app's registered redirect URI, so a consent completes.
    let asana = MockAsana::builder()
        .redirect_uri(format!("{url}/api/v1/oauth/callback"))
        .start()
        .await;
    let mut app = AsanaAppCredentials::default();
    app.authorization_url = asana.authorization_url().parse()?;
    app.token_url = asana.token_url().parse()?;
    app.revocation_url = asana.revocation_url().parse()?;
    app.api_base_url = asana.api_base_url().parse()?;
    app.client_id = Some(asana.client_id().to_string());
    app.client_secret = Some(asana.client_secret().into());
    let store = tempfile::tempdir()?;
    let server = Server::builder()
        .store_dir(store.path())
        .public_url(url.parse()?)
        .encryption_keys(KeyRing::new(EncryptionKey::generate()))
        .asana_app(app)
        .build()
        .await?;
    let created = server
        .admin()
        .create_application("offline", &["http://127.0.0.1".to_string()])
        .await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "url: {url}")?;
    writeln!(out, "client_id: {}", created.application.client_id)?;
    writeln!(
        out,
        "client_secret: {}",
        created.client_secret.expose_secret()
    )?;
    writeln!(out, "asana_token: {}", asana.personal_access_token())?;
    writeln!(out, "asana_api: {}", asana.api_base_url())?;
    out.flush()?;
    drop(out);
    server.serve(listener, shutdown()).await?;
    drop(store);
    Ok(())
}

/// SIGTERM or Ctrl-C.
async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                tokio::signal::ctrl_c().await.ok();
            }
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.ok();
}
