//! `integrations login`: the OAuth authorization code flow through a loopback redirect listener,
//! or `--with-token` for a personal access token read from standard input (Asana's, or a token
//! for any provider described by a definition: GitHub, HubSpot, ...).
//!
//! OAuth: bind the redirect URI's host and port first (so a busy port fails before anything is
//! shown), build the authorize URL (the library remembers its state and PKCE verifier), print it
//! on a line of its own on stdout, open the browser unless `--no-browser`, and wait (with a
//! spinner, up to `--timeout`) for the redirect. Only a redirect carrying this login's state is
//! taken; its code is exchanged (the library checks the state again and sends the verifier), the
//! credentials are stored under (provider, subject), and the browser tab is told how it went.

use std::any::Any;
use std::io::{IsTerminal, Read};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use integrations::asana::models::User;
use integrations::asana::{
    AsanaAuthProvider, AsanaClient, AsanaError, AsanaUser, AsanaUserCredentials,
};
use integrations::auth_core::AuthProvider;
use integrations::auth_core::config::{ConfigKey, FieldKind};
use integrations::auth_core::crypto::{KEY_ENV, OLD_KEYS_ENV};
use integrations::auth_core::provider::registered_providers;
use integrations::auth_core::redact::Redactor;
use integrations::declarative::{
    API_BASE_URL_FIELD, DeclarativeError, DeclarativeProvider, Identity, USER_ID_FIELD,
};
use integrations::{
    AuthError, AuthorizeOptions, ConfigError, Credentials, OAuth2Flow, OAuth2Token, SecretString,
    SessionOptions, StaticTokenSource,
};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::app::{ASANA, App};
use crate::args::LoginArgs;
use crate::error::{CliError, ExitKind};
use crate::loopback::{Event, Listener, Page, Server};
use crate::output::{Output, rfc3339};
use crate::spinner::Spinner;

/// The longest token `--with-token` reads.
const MAX_TOKEN_BYTES: u64 = 16 * 1024;

/// Runs `login`.
pub async fn run(app: &App, args: &LoginArgs, out: &Output) -> Result<(), CliError> {
    let provider = args.provider.as_str();
    app.require_configured(provider)?;
    if args.with_token {
        return if provider == ASANA {
            with_token(app, out).await
        } else {
            with_token_declarative(app, provider, out).await
        };
    }
    let flow = app.auth.oauth2(provider).map_err(|e| match e {
        AuthError::OAuthNotConfigured { .. } | AuthError::Config(ConfigError::Missing { .. }) => {
            let pat = if takes_token(app, provider) {
                format!(
                    " (with a personal access token instead, run `integrations login {provider} --with-token`)"
                )
            } else {
                String::new()
            };
            CliError::new(
                ExitKind::Config,
                format!(
                    "`integrations login {provider}` needs an OAuth app: {}{pat}",
                    app.oauth_app_hint(provider)
                ),
            )
        }
        other => app.hints.auth(other),
    })?;
    let redirect = app.login_redirect(provider)?;
    let listener = Listener::bind(provider, &redirect.uri).await?;

    let mut options = AuthorizeOptions::for_subject(app.subject.clone());
    let scopes: Vec<&str> = args
        .scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        .collect();
    if !scopes.is_empty() {
        options = options.scopes(scopes);
    }
    if redirect.is_default {
        options = options.redirect_uri(redirect.uri.clone());
    }
    let request = flow
        .authorize(options)
        .await
        .map_err(|e| app.hints.auth(e))?;
    let name = display_name(app, provider);

    if out.is_json() {
        out.json(&json!({ "authorize_url": request.url.as_str() }));
    } else if args.no_browser {
        eprintln!("Open this URL in a browser to log in to {name}:");
        out.line(request.url.as_str());
    } else {
        eprintln!("Opening a browser to log in to {name}. If none opens, visit this URL:");
        out.line(request.url.as_str());
    }
    if !args.no_browser {
        open_browser(request.url.as_str());
    }

    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let waiting = format!("Waiting for {name} to redirect to {}", redirect.uri);
    let spinning = !out.is_json() && Spinner::available();
    if !spinning {
        out.note(&format!("{waiting} (giving up after {}s)...", args.timeout));
    }
    let spinner = Spinner::start(spinning, waiting, deadline);
    let mut server = listener.serve(request.state.clone());
    let outcome = wait(
        app,
        &flow,
        &mut server,
        &Waiting {
            state: &request.state,
            name: &name,
            timeout: args.timeout,
            deadline,
            spinner: &spinner,
            out,
        },
    )
    .await;
    spinner.stop();
    server.shutdown().await;
    let credentials = outcome?;
    let who = Who::of(&credentials);
    report(app, out, provider, &name, &credentials, who);
    Ok(())
}

/// What [`wait`] needs besides the flow and the server.
struct Waiting<'a> {
    state: &'a str,
    name: &'a str,
    timeout: u64,
    deadline: Instant,
    spinner: &'a Spinner,
    out: &'a Output,
}

/// Waits for this login's redirect, exchanges its code and stores the credentials.
async fn wait(
    app: &App,
    flow: &OAuth2Flow,
    server: &mut Server,
    w: &Waiting<'_>,
) -> Result<Credentials, CliError> {
    let provider = flow.provider();
    let login = app.hints.login(provider, &app.subject);
    loop {
        let event = match tokio::time::timeout_at(w.deadline, server.next()).await {
            Err(_) => {
                return Err(CliError::new(
                    ExitKind::Other,
                    format!(
                        "no redirect from {} within {}s: run `{login}` again (with --timeout SECONDS to wait longer)",
                        w.name, w.timeout
                    ),
                ));
            }
            Ok(None) => {
                return Err(CliError::new(
                    ExitKind::Other,
                    format!("the redirect listener stopped unexpectedly: run `{login}` again"),
                ));
            }
            Ok(Some(event)) => event,
        };
        match event {
            Event::Ignored { reason } => {
                if !w.out.is_json() {
                    w.spinner.note(&format!(
                        "note: ignored a request to the redirect URI: {reason}"
                    ));
                }
            }
            Event::Denied {
                error,
                description,
                reply,
            } => {
                // The provider's words, for the tab and the terminal: printable, no secret.
                let secrets = client_secret_redactor(app, provider);
                let error = secrets.clean(&error, 64);
                let detail = description.map_or_else(
                    || error.clone(),
                    |d| format!("{error}: {}", secrets.clean(&d, 300)),
                );
                let _ = reply.send(Page::failure(
                    StatusCode::FORBIDDEN,
                    "Access was not granted",
                    format!(
                        "{} answered: {detail}. Nothing was stored; you can close this tab.",
                        w.name
                    ),
                ));
                return Err(CliError::new(
                    ExitKind::Auth,
                    format!(
                        "{} did not grant access ({detail}): run `{login}` again and approve the request",
                        w.name
                    ),
                ));
            }
            Event::Code { code, reply } => {
                let outcome = exchange(app, flow, &code, w.state).await;
                let page = match &outcome {
                    Ok(credentials) => Page::success(
                        format!("Logged in to {}", w.name),
                        format!(
                            "{}You can close this tab and return to the terminal.",
                            user_of(credentials)
                                .map(|u| format!("Connected as {}. ", describe_user(&u)))
                                .unwrap_or_default()
                        ),
                    ),
                    Err(e) => Page::failure(
                        StatusCode::BAD_GATEWAY,
                        "Login failed",
                        format!("{}. See the terminal.", e.message()),
                    ),
                };
                let _ = reply.send(page);
                return outcome;
            }
        }
    }
}

/// A redactor of `provider`'s client secret, for text the provider sends back.
fn client_secret_redactor(app: &App, provider: &str) -> Redactor {
    let secret = app.auth.provider(provider).ok().and_then(|p| {
        p.oauth2_settings()
            .and_then(|settings| settings.client_secret.clone())
    });
    secret.map_or_else(Redactor::new, |secret| Redactor::new().with_secret(&secret))
}

/// Exchanges the code (the library checks the state and sends the PKCE verifier) and stores the
/// credentials under (provider, subject). When they cannot be stored, the grant they hold is
/// given back where that ends no other login's tokens: nothing could use it.
async fn exchange(
    app: &App,
    flow: &OAuth2Flow,
    code: &str,
    state: &str,
) -> Result<Credentials, CliError> {
    let credentials = flow
        .exchange(code, state, &app.subject)
        .await
        .map_err(|e| app.hints.auth(e))?;
    if let Err(e) = app
        .auth
        .store_credentials(flow.provider(), &app.subject, &credentials)
        .await
    {
        let endpoint = flow.endpoint();
        if endpoint.revokes_only_its_tokens()
            && let Err(revoking) = endpoint.revoke(&credentials).await
        {
            tracing::warn!(error = %revoking, "the grant that could not be stored was not revoked");
        }
        return Err(app.hints.auth(e));
    }
    Ok(credentials)
}

/// `login asana --with-token`: reads the token, checks it with `GET /users/me`, stores it.
async fn with_token(app: &App, out: &Output) -> Result<(), CliError> {
    let token = read_token(ASANA, out).await?;
    let provider = app.auth.provider(ASANA).map_err(|e| app.hints.auth(e))?;
    let asana = (provider.as_ref() as &dyn Any)
        .downcast_ref::<AsanaAuthProvider>()
        .ok_or_else(|| {
            CliError::new(
                ExitKind::Other,
                "the configured asana provider is not the built-in Asana provider",
            )
        })?;
    let source = StaticTokenSource::new(ASANA, app.subject.clone(), token.clone());
    let client = AsanaClient::new(Arc::new(source), asana.client_settings(None))
        .map_err(|e| app.hints.asana(e, &app.subject))?;
    let me: User = client.get_user("me").await.map_err(|e| match e {
        AsanaError::Unauthorized { .. } => rejected_token("Asana", "HTTP 401"),
        other => app.hints.asana(other, &app.subject),
    })?;
    let mut credentials = AsanaUserCredentials::from_personal_access_token(token);
    let mut user = AsanaUser::default();
    user.gid = Some(me.gid.clone());
    user.name = me.name.clone();
    user.email = me.email.clone();
    credentials.user = Some(user);
    app.auth
        .store_credentials(ASANA, &app.subject, &credentials)
        .await
        .map_err(|e| app.hints.auth(e))?;
    let generic = Credentials::from_typed(&credentials).map_err(|_| {
        CliError::new(
            ExitKind::Other,
            "the stored credentials cannot be described",
        )
    })?;
    let who = Who::of(&generic);
    report(app, out, ASANA, &display_name(app, ASANA), &generic, who);
    Ok(())
}

/// `login PROVIDER --with-token` for a provider described by a definition: reads the token,
/// checks it with the definition's "who am I" call (when it has one), and stores it as
/// credentials with no refresh token and no expiry.
async fn with_token_declarative(app: &App, provider: &str, out: &Output) -> Result<(), CliError> {
    let configured = app.auth.provider(provider).map_err(|e| app.hints.auth(e))?;
    let declarative = as_declarative(&configured).ok_or_else(|| {
        CliError::new(
            ExitKind::Usage,
            format!(
                "`login --with-token` supports asana and the providers described by a definition, not `{provider}`"
            ),
        )
    })?;
    let definition = declarative.definition();
    // A per-user API base URL comes with an OAuth token answer; a bare token needs it configured.
    if definition.api_base_pointer.is_some()
        && configured.api(&Map::new()).is_none()
        && let Some(config) = configured.config()
    {
        let missing = AuthError::Config(config.missing(&ConfigKey::url(API_BASE_URL_FIELD)));
        return Err(app.hints.auth(missing).context(
            "a token read from standard input comes without the API base URL an OAuth login receives",
        ));
    }
    let name = configured.display_name().to_string();
    let token = read_token(provider, out).await?;
    // A pasted token is no grant of the OAuth app the provider may also have configured:
    // `logout` deletes it without asking the provider to revoke it.
    let mut credentials = Credentials::pasted(OAuth2Token::bearer(token));
    let who = if definition.whoami.is_some() {
        let options = SessionOptions::new()
            .providers([provider])
            .allow_app_token(false)
            .with_credentials(provider, &credentials);
        let session = app
            .auth
            .session_with(&app.subject, options)
            .await
            .map_err(|e| app.hints.auth(e))?;
        let identity = declarative.whoami(&session).await.map_err(|e| {
            if e.rejects_token() {
                let why = match &e {
                    DeclarativeError::TokenRejected { code, .. } => format!("`{code}`"),
                    _ => "HTTP 401".to_string(),
                };
                rejected_token(&name, &why)
            } else {
                app.hints.declarative(e, &app.subject)
            }
        })?;
        if let Some(id) = &identity.user_id {
            credentials
                .extra
                .insert(USER_ID_FIELD.into(), Value::String(id.clone()));
        }
        Some(Who {
            name: describe_identity(&identity),
            user: identity.user,
        })
    } else {
        out.note(&format!(
            "note: the {provider} definition has no \"who am I\" call, so the token is stored without a check"
        ));
        None
    };
    app.auth
        .store_credentials(provider, &app.subject, &credentials)
        .await
        .map_err(|e| app.hints.auth(e))?;
    report(app, out, provider, &name, &credentials, who);
    Ok(())
}

/// Whether `login PROVIDER --with-token` takes a token for `provider`: Asana, and every provider
/// described by a definition.
fn takes_token(app: &App, provider: &str) -> bool {
    provider == ASANA
        || app
            .auth
            .provider(provider)
            .is_ok_and(|p| as_declarative(&p).is_some())
}

/// `provider` as a provider described by a definition, if it is one.
pub fn as_declarative(provider: &Arc<dyn AuthProvider>) -> Option<&DeclarativeProvider> {
    (provider.as_ref() as &dyn Any).downcast_ref::<DeclarativeProvider>()
}

/// The provider (by its display name) rejected the token read from standard input, `why` (its
/// 401, or the error code its API gives a token it does not accept).
fn rejected_token(name: &str, why: &str) -> CliError {
    CliError::new(
        ExitKind::Auth,
        format!(
            "{name} rejected the token read from standard input ({why}); nothing was stored: check that it is a valid personal access token"
        ),
    )
}

/// Reads one token from standard input (a prompt when it is a terminal).
async fn read_token(provider: &str, out: &Output) -> Result<SecretString, CliError> {
    let interactive = std::io::stdin().is_terminal();
    if interactive && !out.is_json() {
        eprintln!("Paste the personal access token, then press Enter (it will be visible):");
    }
    let read = tokio::task::spawn_blocking(move || {
        let mut text = String::new();
        let stdin = std::io::stdin();
        if interactive {
            stdin.read_line(&mut text).map(|_| text)
        } else {
            stdin
                .lock()
                .take(MAX_TOKEN_BYTES)
                .read_to_string(&mut text)
                .map(|_| text)
        }
    })
    .await
    .map_err(|e| {
        CliError::new(
            ExitKind::Other,
            format!("reading standard input failed: {e}"),
        )
    })?
    .map_err(|e| {
        CliError::new(
            ExitKind::Usage,
            format!("cannot read the token from standard input: {e}"),
        )
    })?;
    let token = read.trim();
    let example = format!(
        "pipe it in, e.g. `printf %s \"$TOKEN\" | integrations login {provider} --with-token`"
    );
    if token.is_empty() {
        return Err(CliError::new(
            ExitKind::Usage,
            format!("no token on standard input: {example}"),
        ));
    }
    if token.chars().any(char::is_whitespace) {
        return Err(CliError::new(
            ExitKind::Usage,
            format!(
                "standard input holds more than one word; it must hold only the token: {example}"
            ),
        ));
    }
    Ok(SecretString::from(token))
}

/// The provider's display name, e.g. `Asana`.
fn display_name(app: &App, provider: &str) -> String {
    app.auth
        .provider(provider)
        .map_or_else(|_| provider.to_string(), |p| p.display_name().to_string())
}

/// The user the provider said the token belongs to (Asana: `user` in the credentials).
fn user_of(credentials: &Credentials) -> Option<Value> {
    credentials
        .extra
        .get("user")
        .filter(|u| u.is_object())
        .cloned()
}

/// `Greg Sanchez <gsanchez@example.com>`, or the gid.
pub fn describe_user(user: &Value) -> String {
    let name = user["name"].as_str();
    let email = user["email"].as_str();
    match (name, email) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        (Some(name), None) => name.to_string(),
        (None, Some(email)) => email.to_string(),
        (None, None) => user["gid"].as_str().map_or_else(
            || "an unnamed user".to_string(),
            |gid| format!("user {gid}"),
        ),
    }
}

/// `octocat (id 583231)`: the user's name (or login, or email) and id, as a declarative
/// provider's "who am I" call answered.
pub fn describe_identity(identity: &Identity) -> String {
    let who = ["name", "displayName", "login", "email", "user"]
        .iter()
        .find_map(|key| identity.user[key].as_str())
        .unwrap_or("the user");
    let id = identity
        .user_id
        .as_ref()
        .map(|id| format!(" (id {id})"))
        .unwrap_or_default();
    format!("{who}{id}")
}

/// Who logged in, as the provider described them.
struct Who {
    /// The provider's description of the user (`user` in `--json` output).
    user: Value,
    /// How the text output names them.
    name: String,
}

impl Who {
    /// The user the credentials carry (Asana's), if any.
    fn of(credentials: &Credentials) -> Option<Self> {
        user_of(credentials).map(|user| Self {
            name: describe_user(&user),
            user,
        })
    }
}

/// Prints who logged in and what was stored; warns (once, on stderr) when the store keeps the
/// credentials in clear.
fn report(
    app: &App,
    out: &Output,
    provider: &str,
    name: &str,
    credentials: &Credentials,
    who: Option<Who>,
) {
    let token = &credentials.token;
    if !app.encrypted {
        out.note(&format!(
            "warning: the credentials are stored unencrypted in {}; set {KEY_ENV} (base64 of 32 random bytes) to encrypt them at rest",
            app.store()
        ));
    }
    if out.is_json() {
        out.json(&json!({
            "provider": provider,
            "subject": app.subject,
            "user": who.map(|w| w.user),
            "scopes": token.scope,
            "expires_at": token.expires_at.map(rfc3339),
            "has_refresh_token": token.refresh_token.is_some(),
            "store": app.store(),
        }));
        return;
    }
    let who = who.map(|w| format!(" as {}", w.name)).unwrap_or_default();
    out.line(&format!(
        "Logged in to {name}{who} (subject `{}`); credentials stored in {}",
        app.subject,
        app.store()
    ));
}

/// Opens `url` in the default browser; failures are ignored (the URL was printed).
fn open_browser(url: &str) {
    let mut command = browser_command(std::env::consts::OS, url);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Reap the opener on a thread of its own: it may take a moment, and nothing waits for it.
    std::thread::spawn(move || {
        if let Err(e) = command.status() {
            tracing::info!(error = %e, "could not start a browser");
        }
    });
}

/// The command that opens `url` on `os` (as named by [`std::env::consts::OS`]), with the URL
/// as one argument of its own, and without the secrets of this process's environment
/// ([`is_secret_env`]): the opener and the browser it starts have no use for them.
fn browser_command(os: &str, url: &str) -> Command {
    let mut command = match os {
        "macos" => Command::new("open"),
        "windows" => {
            // Not `cmd /C start`: cmd would treat the `&` between query parameters as a separator.
            let mut c = Command::new("rundll32");
            c.arg("url.dll,FileProtocolHandler");
            c
        }
        _ => Command::new("xdg-open"),
    };
    command.arg(url);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_secret_env) {
            command.env_remove(&name);
        }
    }
    command
}

/// The env keys of every registered provider's secret fields, and the encryption keys.
fn known_secret_env() -> Vec<&'static str> {
    let mut names = vec![KEY_ENV, OLD_KEYS_ENV];
    for registration in registered_providers() {
        for field in registration.fields {
            if field.kind == FieldKind::Secret {
                names.extend(field.env_keys);
            }
        }
    }
    names
}

/// Whether an env key names a secret: one of [`known_secret_env`], or named like a secret, a
/// token, a password or an API key of any provider (but not `XDG_ACTIVATION_TOKEN`, which lets
/// the browser take the focus).
fn is_secret_env(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let secret_like = ["_SECRET", "_TOKEN", "_PASSWORD", "_API_KEY"]
        .iter()
        .any(|suffix| upper.ends_with(suffix));
    (secret_like && upper != "XDG_ACTIVATION_TOKEN")
        || upper.starts_with("INTEGRATIONS_ENCRYPTION_")
        || known_secret_env().contains(&upper.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_os_opens_the_url_as_one_argument() {
        let url = "https://app.asana.com/-/oauth_authorize?client_id=1&state=a%20b&scope=c";
        for (os, program, args) in [
            ("macos", "open", vec![url]),
            (
                "windows",
                "rundll32",
                vec!["url.dll,FileProtocolHandler", url],
            ),
            ("linux", "xdg-open", vec![url]),
            ("freebsd", "xdg-open", vec![url]),
        ] {
            let command = browser_command(os, url);
            assert_eq!(command.get_program(), program, "{os}");
            assert_eq!(command.get_args().collect::<Vec<_>>(), args, "{os}");
        }
    }

    #[test]
    fn secrets_are_recognised_by_name() {
        for secret in [
            "ASANA_CLIENT_SECRET",
            "ASANA_ACCESS_TOKEN",
            "ASANA_PERSONAL_ACCESS_TOKEN",
            "ASANA_TOKEN",
            "INTEGRATIONS_ENCRYPTION_KEY",
            "INTEGRATIONS_ENCRYPTION_OLD_KEYS",
            "github_client_secret",
            "SLACK_REFRESH_TOKEN",
            "OPENAI_API_KEY",
            "DB_PASSWORD",
        ] {
            assert!(is_secret_env(secret), "{secret}");
        }
        for kept in [
            "PATH",
            "HOME",
            "DISPLAY",
            "WAYLAND_DISPLAY",
            "DBUS_SESSION_BUS_ADDRESS",
            "XDG_ACTIVATION_TOKEN",
            "BROWSER",
            "ASANA_CLIENT_ID",
            "ASANA_TOKEN_URL",
        ] {
            assert!(!is_secret_env(kept), "{kept}");
        }
    }
}
