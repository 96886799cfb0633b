//! A small axum web app running the OAuth dance for many users, one subject each.
//!
//! Routes: `GET /connect?user=NAME` logs the browser in as NAME (a `user` cookie standing in for a
//! real app's signed login session) and sends it to Asana's consent page, the state bound to that
//! user; `GET /callback` takes the user from the session, never from the query, checks the state
//! (issued to that user), exchanges the code and stores the credentials under that user;
//! `GET /me?user=NAME` calls Asana as that user.
//!
//! Offline demo: the app starts on 127.0.0.1 next to the Asana testkit, then three simulated
//! browsers connect three users and the app calls Asana as each of them; last, a callback link
//! another user started is refused in the first user's browser (login CSRF).
//!
//! ```sh
//! cargo run --example web_app
//! ```

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use integrations::asana::AsanaSessionExt;
use integrations::{AuthManager, AuthorizeOptions, EnvSource, MemoryCredentialStore};
use provider_asana_testkit::MockAsana;

#[derive(Clone)]
struct App {
    auth: AuthManager,
}

/// The logged-in user of a request: the `user` cookie `/connect` set.
fn session_user(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("user="))
        .filter(|user| !user.is_empty())
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
    // The state is bound to the user: only this user's callback can redeem it.
    match flow
        .authorize(AuthorizeOptions::for_subject(user.clone()))
        .await
    {
        Ok(step) => (
            [(
                header::SET_COOKIE,
                format!("user={user}; Path=/; HttpOnly; SameSite=Lax"),
            )],
            Redirect::to(step.url.as_str()),
        )
            .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn callback(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (Some(code), Some(state)) = (q.get("code"), q.get("state")) else {
        return error(StatusCode::BAD_REQUEST, "the callback needs code and state");
    };
    let Some(user) = session_user(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "log in first: /connect?user=NAME");
    };
    let flow = match app.auth.oauth2("asana") {
        Ok(flow) => flow,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    match flow.exchange(code, state, user).await {
        Ok(credentials) => match app
            .auth
            .store_credentials("asana", user, &credentials)
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

/// Logs `browser` in as `user` through `/connect`: its session cookie and Asana's consent URL.
async fn connect_as(
    browser: &reqwest::Client,
    base: &str,
    user: &str,
) -> Result<(String, String), Box<dyn std::error::Error>> {
    let to_asana = browser
        .get(format!("{base}/connect?user={user}"))
        .send()
        .await?;
    let header_of = |name: header::HeaderName| {
        to_asana
            .headers()
            .get(&name)
            .and_then(|v| v.to_str().ok())
            .ok_or(format!("/connect answered no {name}"))
    };
    let session = header_of(header::SET_COOKIE)?
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    let consent = header_of(header::LOCATION)?.to_string();
    Ok((session, consent))
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
    let app = App { auth: auth.clone() };
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
    let mut sessions = HashMap::new();
    for user in ["alice", "bob", "carol"] {
        let (session, consent) = connect_as(&browser, &base, user).await?;
        let back = mock.consent(&consent).await?;
        let connected = browser
            .get(back.as_str())
            .header(header::COOKIE, &session)
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
        sessions.insert(user, session);
    }
    // Mallory starts a flow and gets Alice to open its callback link: refused, as the state was
    // issued to Mallory, and Alice's connection is left as it was.
    let (_, consent) = connect_as(&browser, &base, "mallory").await?;
    let trap = mock.consent(&consent).await?;
    let refused = browser
        .get(trap.as_str())
        .header(header::COOKIE, &sessions["alice"])
        .send()
        .await?;
    let status = refused.status();
    println!(
        "mallory's callback opened by alice: {status} {}",
        refused.text().await?
    );
    if status != StatusCode::BAD_REQUEST {
        return Err("a callback started by another user must be refused".into());
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
