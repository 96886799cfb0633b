//! A small axum web app running the OAuth dance for many users, one subject each.
//!
//! Routes: `GET /connect?user=NAME` sends the user to Asana's consent page; `GET /callback` checks
//! the state, exchanges the code and stores the credentials under that user; `GET /me?user=NAME`
//! calls Asana as that user.
//!
//! Offline demo: the app starts on 127.0.0.1 next to the Asana testkit, then three simulated
//! browsers connect three users and the app calls Asana as each of them.
//!
//! ```sh
//! cargo run --example web_app
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use integrations::asana::AsanaSessionExt;
use integrations::{AuthManager, AuthorizeOptions, EnvSource, MemoryCredentialStore};
use provider_asana_testkit::MockAsana;

#[derive(Clone)]
struct App {
    auth: AuthManager,
    /// Which user each pending state belongs to (the state itself is checked by the library).
    pending: Arc<Mutex<HashMap<String, String>>>,
}

fn error(status: StatusCode, message: impl ToString) -> Response {
    (status, message.to_string()).into_response()
}

async fn connect(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(user) = q.get("user").filter(|u| !u.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "?user= is required");
    };
    let flow = match app.auth.oauth2("asana") {
        Ok(flow) => flow,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    match flow.authorize(AuthorizeOptions::default()).await {
        Ok(step) => {
            app.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(step.state.clone(), user.clone());
            Redirect::to(step.url.as_str()).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn callback(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Response {
    let (Some(code), Some(state)) = (q.get("code"), q.get("state")) else {
        return error(StatusCode::BAD_REQUEST, "the callback needs code and state");
    };
    let Some(user) = app
        .pending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(state)
    else {
        return error(StatusCode::BAD_REQUEST, "unknown or already used state");
    };
    let flow = match app.auth.oauth2("asana") {
        Ok(flow) => flow,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    match flow.exchange(code, state, &user).await {
        Ok(credentials) => match app
            .auth
            .store_credentials("asana", &user, &credentials)
            .await
        {
            Ok(_) => format!("connected {user}").into_response(),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        },
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

async fn me(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(user) = q.get("user") else {
        return error(StatusCode::BAD_REQUEST, "?user= is required");
    };
    let session = match app.auth.session(user).await {
        Ok(session) => session,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let client = match session.asana() {
        Ok(client) => client,
        Err(e) => return error(StatusCode::UNAUTHORIZED, e),
    };
    match client.users().get("me", &["name", "email"]).await {
        Ok(me) => {
            Json(serde_json::json!({"user": user, "asana_name": me.name, "asana_email": me.email}))
                .into_response()
        }
        Err(e) => error(StatusCode::BAD_GATEWAY, e),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let mock = MockAsana::builder()
        .redirect_uri(format!("{base}/callback"))
        .start()
        .await;
    let auth = AuthManager::builder()
        .env(EnvSource::empty())
        .store(MemoryCredentialStore::new())
        .configure("asana", mock.app_config())
        .build()?;
    let app = App {
        auth: auth.clone(),
        pending: Arc::default(),
    };
    let router = Router::new()
        .route("/connect", get(connect))
        .route("/callback", get(callback))
        .route("/me", get(me))
        .with_state(app);
    tokio::spawn(async move { axum::serve(listener, router).await });
    println!("web app on {base}, Asana testkit on {}", mock.uri());

    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    for user in ["alice", "bob", "carol"] {
        let to_asana = browser
            .get(format!("{base}/connect?user={user}"))
            .send()
            .await?;
        let consent = to_asana
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .ok_or("no redirect")?
            .to_string();
        let back = mock.consent(&consent).await?;
        let connected = browser
            .get(back.as_str())
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let me: serde_json::Value = browser
            .get(format!("{base}/me?user={user}"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        println!("{connected}: GET /me → {me}");
    }
    let stored = auth.list_credentials(Some("asana")).await?;
    println!(
        "{} users connected, one subject each: {:?}",
        stored.len(),
        stored.iter().map(|c| &c.subject).collect::<Vec<_>>()
    );
    if stored.len() != 3 {
        return Err("expected three connected users".into());
    }
    Ok(())
}
