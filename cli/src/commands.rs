//! One function per subcommand (`login` lives in [`crate::login`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use integrations::asana::AsanaSessionExt;
use integrations::asana::connector::{AsanaConnector, EntityInfo, HostedConfig, HostedTarget};
use integrations::asana::{AsanaError, ExecuteError};
use integrations::auth_core::config::ConfigLoader;
use integrations::auth_core::crypto::KEY_ENV;
use integrations::auth_core::provider::registered_providers;
use integrations::{
    AuthError, ConfigSource, CredentialSource, CredentialStatus, Credentials, KeyRing,
    ListedCredential, Method, SecretString, Session, SessionOptions,
};
use integrations_mcp::McpServer;
use serde_json::{Value, json};

use crate::app::{ASANA, App, DEFAULT_REDIRECT_URI, Globals, oauth_app_hint, require_asana};
use crate::args::{
    CatalogArgs, Cli, Command, CredentialsCommand, ExecuteArgs, HttpMethod, LogoutArgs, McpArgs,
    ProviderArg, RequestArgs,
};
use crate::error::{CliError, ExitKind, store_error};
use crate::login::{self, as_declarative, describe_identity, describe_user};
use crate::output::{Output, relative, rfc3339, table, unix_seconds};
use crate::service;

/// Runs the parsed command line.
pub async fn run(cli: Cli, store_from_flag: bool, out: &Output) -> Result<(), CliError> {
    let globals = Globals {
        store: cli.store,
        store_from_flag,
        config: cli.config,
        subject: cli.subject,
    };
    match cli.command {
        Command::Providers => providers(&App::without_store(&globals)?, &globals, out),
        Command::Catalog(args) => catalog(&args, out),
        Command::Mcp(args) => mcp(&App::open(&globals).await?, &args, out).await,
        Command::Login(args) => {
            login::run(&App::open_for(&globals, &args.provider).await?, &args, out).await
        }
        Command::Whoami(args) => {
            whoami(&App::open_for(&globals, &args.provider).await?, &args, out).await
        }
        Command::Token(args) => {
            token(&App::open_for(&globals, &args.provider).await?, &args, out).await
        }
        Command::Execute(args) if args.hosted.is_some() => {
            execute_hosted(&App::without_store(&globals)?, &args, out).await
        }
        Command::Execute(args) => execute(&App::open(&globals).await?, &args, out).await,
        Command::Credentials {
            command: CredentialsCommand::List { provider },
        } => list_credentials(&App::open(&globals).await?, provider.as_deref(), out).await,
        Command::Credentials {
            command: CredentialsCommand::Rotate,
        } => rotate_credentials(&globals, out).await,
        Command::Logout(args) => logout(&App::open(&globals).await?, &args, out).await,
        Command::Request(args) => {
            request(&App::open_for(&globals, &args.provider).await?, &args, out).await
        }
        Command::Serve(args) => service::serve(&globals, &args).await,
        Command::Apps { store, command } => service::apps(&globals, &store, &command, out).await,
    }
}

/// `providers`.
fn providers(app: &App, globals: &Globals, out: &Output) -> Result<(), CliError> {
    let definitions = definition_origins(globals)?;
    let mut documents = Vec::new();
    let mut text = Vec::new();
    for status in app.auth.provider_statuses() {
        // A definition's defaults are its own values, from its file or the built-in set.
        let definition = definitions.get(&status.id).map(String::as_str);
        // The URI `login` would listen on: the configured one, or the CLI's default.
        let redirect = status.oauth2.then(|| {
            app.auth
                .provider(&status.id)
                .ok()
                .and_then(|p| p.oauth2_settings().and_then(|s| s.redirect_uri.clone()))
                .map_or_else(|| DEFAULT_REDIRECT_URI.to_string(), |u| u.to_string())
        });
        let default_redirect =
            status.oauth2 && !status.sources.iter().any(|(f, _)| f == "redirect_uri");
        // What an OAuth app still needs: only the field that is missing when the other is set.
        let oauth = oauth_app_hint(&status.id, &status.sources);
        let sources: serde_json::Map<String, Value> = status
            .sources
            .iter()
            .map(|(field, source)| (field.clone(), json!(source_key(source, definition))))
            .collect();
        documents.push(json!({
            "id": status.id,
            "name": status.display_name,
            "configured": status.oauth2 || status.app_token,
            "oauth2": status.oauth2,
            "app_token": status.app_token,
            "sources": sources,
            "login_redirect_uri": redirect,
            "login_redirect_uri_is_default": default_redirect,
            "missing": (!status.oauth2).then_some(&oauth),
        }));
        // Without an OAuth app a provider is still set up for the tokens `login --with-token`
        // stores: `configured` says whether it has an app or an app-level token.
        let state = match (status.oauth2, status.app_token) {
            (true, false) => "configured (OAuth app)".to_string(),
            (true, true) => "configured (OAuth app, app-level token)".to_string(),
            (false, true) => {
                format!("configured (app-level token); not configured for OAuth: {oauth}")
            }
            (false, false) => format!(
                "not configured for OAuth: {oauth}; stored tokens and `integrations login {} --with-token` work without it",
                status.id
            ),
        };
        text.push(format!("{} ({}): {state}", status.id, status.display_name));
        let mut rows: Vec<Vec<String>> = status
            .sources
            .iter()
            .map(|(field, source)| vec![format!("  {field}"), source_text(source, definition)])
            .collect();
        if default_redirect {
            rows.push(vec![
                "  redirect_uri".into(),
                format!("integrations CLI default ({DEFAULT_REDIRECT_URI})"),
            ]);
        }
        if !rows.is_empty() {
            text.push(table(&["  FIELD", "SOURCE"], &rows));
        }
    }
    if out.is_json() {
        out.json(&json!({ "providers": documents }));
    } else {
        out.line(&text.join("\n"));
    }
    Ok(())
}

/// The origin of each provider definition of this configuration (the process environment and
/// `--config`, as the manager reads them), by provider id: a definition file's path, or
/// `built-in:ID`. A definition whose id a provider in code has (Asana) is left out: that
/// provider wins over it.
fn definition_origins(globals: &Globals) -> Result<BTreeMap<String, String>, CliError> {
    let mut loader = ConfigLoader::new();
    if let Some(path) = &globals.config {
        loader = loader.with_file(path);
    }
    let definitions = integrations::declarative::definitions(&loader)
        .map_err(|e| CliError::new(ExitKind::Config, e.to_string()))?;
    let coded = registered_providers();
    Ok(definitions
        .into_iter()
        .filter(|definition| !coded.iter().any(|r| r.id == definition.id))
        .map(|definition| (definition.id, definition.origin))
        .collect())
}

/// `env:ASANA_CLIENT_ID`, `file:/path`, `default`, `code`; for a value a provider definition gives
/// (`definition`, its origin), `definition:/path` or `definition:built-in:ID`.
fn source_key(source: &ConfigSource, definition: Option<&str>) -> String {
    match (source, definition) {
        (ConfigSource::Default, Some(origin)) => format!("definition:{origin}"),
        (ConfigSource::Default, None) => "default".into(),
        (ConfigSource::File(path), _) => format!("file:{path}"),
        (ConfigSource::Env(key), _) => format!("env:{key}"),
        (ConfigSource::Code, _) => "code".into(),
        (other, _) => other.to_string(),
    }
}

/// How `providers` shows where a value came from: a value a provider definition gives
/// (`definition`, its origin) as `the definition in PATH` or `the built-in ID definition`.
fn source_text(source: &ConfigSource, definition: Option<&str>) -> String {
    match (source, definition) {
        (ConfigSource::Default, Some(origin)) => match origin.strip_prefix("built-in:") {
            Some(id) => format!("the built-in {id} definition"),
            None => format!("the definition in {origin}"),
        },
        (other, _) => other.to_string(),
    }
}

/// A session of the subject with only `provider`.
async fn session(app: &App, provider: &str) -> Result<Session, CliError> {
    app.auth
        .session_with(&app.subject, SessionOptions::new().providers([provider]))
        .await
        .map_err(|e| app.hints.auth(e))
}

/// Says on stderr when the app-level token stands in for the subject's own credentials.
fn note_source(app: &App, out: &Output, session: &Session, provider: &str) {
    if session.source(provider) == Some(CredentialSource::AppToken) {
        out.note(&format!(
            "note: {provider}/{} has no stored credentials; using the app-level token ({})",
            app.subject,
            app.origin(provider, "token")
                .map_or_else(|| "configured".to_string(), |o| o.to_string())
        ));
    }
}

/// Registered, Asana, configured: in that order, so that the error says the first thing wrong.
fn require_asana_configured(app: &App, provider: &str, command: &str) -> Result<(), CliError> {
    app.require_registered(provider)?;
    require_asana(provider, command)?;
    app.require_configured(provider)
}

/// `whoami`.
async fn whoami(app: &App, args: &ProviderArg, out: &Output) -> Result<(), CliError> {
    let provider = args.provider.as_str();
    app.require_registered(provider)?;
    if provider != ASANA {
        return whoami_declarative(app, provider, out).await;
    }
    require_asana_configured(app, provider, "whoami")?;
    let session = session(app, provider).await?;
    let client = session
        .asana()
        .map_err(|e| app.hints.asana(e, &app.subject))?;
    let me = client
        .get_user("me")
        .await
        .map_err(|e| asana_error(app, &session, e))?;
    note_source(app, out, &session, provider);
    let source = session.source(provider).map(CredentialSource::as_str);
    let user = serde_json::to_value(&me)
        .map_err(|e| CliError::new(ExitKind::Other, format!("cannot show the user: {e}")))?;
    if out.is_json() {
        out.json(&json!({
            "provider": provider,
            "subject": app.subject,
            "source": source,
            "user": user,
        }));
        return Ok(());
    }
    let workspaces: Vec<&str> = me
        .workspaces
        .iter()
        .flatten()
        .filter_map(|w| w.name.as_deref())
        .collect();
    let mut lines = vec![format!("{} (gid {})", describe_user(&user), me.gid)];
    if !workspaces.is_empty() {
        lines.push(format!("workspaces: {}", workspaces.join(", ")));
    }
    lines.push(format!(
        "subject `{}`, credentials: {}",
        app.subject,
        source.unwrap_or("none")
    ));
    out.line(&lines.join("\n"));
    Ok(())
}

/// `whoami` for a provider described by a definition: its "who am I" call.
async fn whoami_declarative(app: &App, provider: &str, out: &Output) -> Result<(), CliError> {
    app.require_configured(provider)?;
    let configured = app.auth.provider(provider).map_err(|e| app.hints.auth(e))?;
    let declarative = as_declarative(&configured).ok_or_else(|| {
        CliError::new(
            ExitKind::Usage,
            format!("`whoami` does not know how to ask {provider} who the user is"),
        )
    })?;
    let session = session(app, provider).await?;
    let identity = declarative
        .whoami(&session)
        .await
        .map_err(|e| app.hints.declarative(e, &app.subject))?;
    let source = session.source(provider).map(CredentialSource::as_str);
    if out.is_json() {
        out.json(&json!({
            "provider": provider,
            "subject": app.subject,
            "source": source,
            "user_id": identity.user_id,
            "user": identity.user,
        }));
        return Ok(());
    }
    out.line(&format!(
        "{}\nsubject `{}`, credentials: {}",
        describe_identity(&identity),
        app.subject,
        source.unwrap_or("none")
    ));
    Ok(())
}

/// `request`: the answer's body on stdout (JSON pretty-printed, any other body as received, see
/// [`Output::body`]); a status other than 2xx is a remote error naming it, after the body was
/// printed. With `--json`, a 2xx answer is one document (`provider`, `status`, `headers`,
/// `body`), and any other is one too: the error, carrying the same members.
async fn request(app: &App, args: &RequestArgs, out: &Output) -> Result<(), CliError> {
    let provider = args.provider.as_str();
    app.require_configured(provider)?;
    let body = args
        .data
        .as_deref()
        .map(serde_json::from_str::<Value>)
        .transpose()
        .map_err(|e| {
            CliError::new(
                ExitKind::Usage,
                format!("--data is not valid JSON ({e}): pass a JSON document, e.g. --data '{{\"name\": \"x\"}}'"),
            )
        })?;
    let method = match args.method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Delete => Method::DELETE,
    };
    let session = session(app, provider).await?;
    let mut request = session
        .request(provider)
        .map_err(|e| app.hints.auth(e))?
        .method(method.clone())
        .path(args.path.clone());
    for header in &args.headers {
        let (name, value) = header.split_once(':').ok_or_else(|| {
            CliError::new(
                ExitKind::Usage,
                "--header takes `NAME: VALUE`, e.g. --header 'Accept: application/json'",
            )
        })?;
        request = request.header(name.trim(), value.trim());
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.map_err(|e| app.hints.auth(e))?;
    note_source(app, out, &session, provider);
    let parsed = response.json().ok();
    // The answer as `--json` shows it: `provider`, `status`, `headers` and `body`.
    let answer = || {
        let body = parsed
            .clone()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&response.body).into_owned()));
        let mut answer = serde_json::Map::new();
        answer.insert("provider".into(), json!(provider));
        answer.insert("status".into(), json!(response.status()));
        answer.insert("headers".into(), Value::Object(response.headers_json()));
        answer.insert("body".into(), body);
        answer
    };
    if out.is_json() {
        if response.is_success() {
            out.json(&Value::Object(answer()));
        }
    } else if let Some(value) = &parsed {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| CliError::new(ExitKind::Other, format!("cannot print the answer: {e}")))?;
        out.line(&text);
    } else {
        out.body(&response.body);
    }
    if response.is_success() {
        return Ok(());
    }
    let status = response.status();
    let mut err = CliError::new(
        ExitKind::Remote,
        format!(
            "{provider} answered HTTP {status} to {method} {}",
            args.path
        ),
    )
    .retryable(status == 429 || status >= 500);
    if status == 401 {
        err = err.context(&refused_token(app, &session, provider).await);
    }
    if out.is_json() {
        for (key, value) in answer() {
            err = err.detail(&key, value);
        }
    }
    Err(err)
}

/// What a 401 to `request` says of the token, and what to do. The request refreshes the token
/// and retries once only for stored credentials with a refresh token; an app-level token, or
/// stored credentials without a refresh token (`login --with-token`), were sent once.
async fn refused_token(app: &App, session: &Session, provider: &str) -> String {
    let subject = app.subject.as_str();
    let login = app.hints.login(provider, subject);
    if session.source(provider) == Some(CredentialSource::AppToken) {
        let origin = app
            .origin(provider, "token")
            .map_or_else(|| "configured".to_string(), |o| o.to_string());
        return format!(
            "the app-level token ({origin}) was refused and cannot be refreshed: replace it, or connect an account for the subject with `{login}`"
        );
    }
    match app.auth.credential_info(provider, subject).await {
        Ok(Some(info)) if info.has_refresh_token => {
            format!("the token was refused even after a refresh: run `{login}`")
        }
        Ok(Some(_)) => format!(
            "the token was refused and was not refreshed (it has no refresh token): pipe a new one to `{}`, or run `{login}`",
            app.hints.login_with_token(provider, subject)
        ),
        // Gone, or unreadable, since the request: whether it was refreshed is unknown.
        Ok(None) | Err(_) => format!("the token was refused: run `{login}`"),
    }
}

/// `token`: only the token on stdout.
async fn token(app: &App, args: &ProviderArg, out: &Output) -> Result<(), CliError> {
    let provider = args.provider.as_str();
    app.require_configured(provider)?;
    let session = session(app, provider).await?;
    let token = session
        .token(provider)
        .await
        .map_err(|e| app.hints.auth(e))?;
    note_source(app, out, &session, provider);
    if out.is_json() {
        let source = session.source(provider);
        let expires_at = match source {
            Some(CredentialSource::Stored) => app
                .auth
                .credential_info(provider, &app.subject)
                .await
                .map_err(|e| app.hints.auth(e))?
                .and_then(|info| info.expires_at),
            _ => None,
        };
        out.json(&json!({
            "provider": provider,
            "subject": app.subject,
            "source": source.map(CredentialSource::as_str),
            "access_token": token.expose_secret(),
            "expires_at": expires_at.map(rfc3339),
        }));
    } else {
        out.line(token.expose_secret());
    }
    Ok(())
}

/// The env key of the application's client id at a hosted service.
const APP_CLIENT_ID_ENV: &str = "INTEGRATIONS_APP_CLIENT_ID";

/// The env key of the application's client secret at a hosted service.
const APP_CLIENT_SECRET_ENV: &str = "INTEGRATIONS_APP_CLIENT_SECRET";

/// `execute`.
async fn execute(app: &App, args: &ExecuteArgs, out: &Output) -> Result<(), CliError> {
    let provider = args.provider.as_str();
    let params = execute_params(app, args)?;
    app.require_configured(provider)?;
    let session = session(app, provider).await?;
    let connector =
        AsanaConnector::from_session(&session).map_err(|e| app.hints.asana(e, &app.subject))?;
    let result = connector
        .execute(&args.entity, &args.action, params)
        .await
        .map_err(|e| match e {
            ExecuteError::Api(api) => asana_error(app, &session, api),
            other => app.hints.execute(other, &app.subject),
        })?;
    note_source(app, out, &session, provider);
    print_result(out, &result)
}

/// Maps an error of a call to Asana made with `session`. When Asana rejected the app-level token
/// (the subject has no stored credentials), the message says to replace that token: logging the
/// subject in is not what the user tried to use.
fn asana_error(app: &App, session: &Session, e: AsanaError) -> CliError {
    match e {
        AsanaError::Unauthorized { info, .. }
            if session.source(ASANA) == Some(CredentialSource::AppToken) =>
        {
            let origin = app
                .origin(ASANA, "token")
                .map(|o| format!(" from {o}"))
                .unwrap_or_default();
            CliError::new(
                ExitKind::Auth,
                format!(
                    "{info}: the app-level token{origin} (used because {ASANA}/{} has no stored credentials) was rejected: replace it with a valid personal access token",
                    app.subject
                ),
            )
        }
        other => app.hints.asana(other, &app.subject),
    }
}

/// `execute --hosted URL`: the same action through a hosted service, as the application of
/// `INTEGRATIONS_APP_CLIENT_ID` and `INTEGRATIONS_APP_CLIENT_SECRET`.
async fn execute_hosted(app: &App, args: &ExecuteArgs, out: &Output) -> Result<(), CliError> {
    let params = execute_params(app, args)?;
    let connector = hosted_connector(args)?;
    let result = connector
        .execute(&args.entity, &args.action, params)
        .await
        .map_err(|e| app.hints.execute(e, &app.subject))?;
    print_result(out, &result)
}

/// The hosted connector that `--hosted`, `--customer` or `--connector` and the environment name.
fn hosted_connector(args: &ExecuteArgs) -> Result<AsanaConnector, CliError> {
    let env = |key: &str| {
        std::env::var(key)
            .ok()
            .filter(|value| !value.is_empty())
            .ok_or_else(|| {
                CliError::new(
                    ExitKind::Config,
                    format!(
                        "{key} is not set: `execute --hosted` runs as an application of the service; set {APP_CLIENT_ID_ENV} and {APP_CLIENT_SECRET_ENV} to the client_id and client_secret that `integrations apps create` printed"
                    ),
                )
            })
    };
    let target = match (&args.customer, &args.connector) {
        (Some(customer), _) => HostedTarget::Customer(customer.clone()),
        (None, Some(connector)) => HostedTarget::Connector(connector.clone()),
        (None, None) => {
            return Err(CliError::new(
                ExitKind::Usage,
                "--hosted needs --customer NAME or --connector ID",
            ));
        }
    };
    let Some(url) = args.hosted.clone() else {
        return Err(CliError::new(ExitKind::Usage, "--hosted URL is missing"));
    };
    let config = HostedConfig::new(
        url,
        env(APP_CLIENT_ID_ENV)?,
        SecretString::from(env(APP_CLIENT_SECRET_ENV)?),
        target,
    );
    AsanaConnector::hosted(config).map_err(|e| match e {
        AsanaError::InvalidUrl { .. } | AsanaError::InvalidArgument { .. } => CliError::new(
            ExitKind::Usage,
            format!("{e}; check --hosted, --customer and --connector"),
        ),
        other => CliError::new(ExitKind::Other, other.to_string()),
    })
}

/// The params of `execute`, checked against the catalog: bad entities, actions and params are
/// usage errors whatever the credentials, and nothing is sent.
fn execute_params(app: &App, args: &ExecuteArgs) -> Result<Value, CliError> {
    let provider = args.provider.as_str();
    app.require_registered(provider)?;
    require_asana(provider, "execute")?;
    let params: Value = serde_json::from_str(&args.params).map_err(|e| {
        CliError::new(
            ExitKind::Usage,
            format!(
                "--params is not valid JSON ({e}): pass a JSON object, e.g. --params '{{\"project\": \"1201\"}}'"
            ),
        )
    })?;
    AsanaConnector::validate(&args.entity, &args.action, &params)
        .map_err(|e| app.hints.execute(e, &app.subject))?;
    Ok(params)
}

/// Prints an action's result: JSON with `--json`, pretty JSON otherwise.
fn print_result(out: &Output, result: &Value) -> Result<(), CliError> {
    if out.is_json() {
        out.json(result);
    } else {
        let pretty = serde_json::to_string_pretty(result)
            .map_err(|e| CliError::new(ExitKind::Other, format!("cannot print the result: {e}")))?;
        out.line(&pretty);
    }
    Ok(())
}

/// `mcp`: an MCP server on stdio until the client disconnects. Nothing but the protocol goes to
/// stdout.
async fn mcp(app: &App, args: &McpArgs, out: &Output) -> Result<(), CliError> {
    let provider = args.provider.as_str();
    require_asana_configured(app, provider, "mcp")?;
    let session = session(app, provider).await?;
    let connector =
        AsanaConnector::from_session(&session).map_err(|e| app.hints.asana(e, &app.subject))?;
    let server = McpServer::builder()
        .read_only(args.read_only)
        .tools(&args.tools)
        .build(Arc::new(connector))
        .map_err(|e| CliError::new(ExitKind::Usage, format!("--tools: {e}")))?;
    note_source(app, out, &session, provider);
    server
        .serve_stdio()
        .await
        .map_err(|e| CliError::new(ExitKind::Other, e.to_string()))
}

/// `catalog`.
fn catalog(args: &CatalogArgs, out: &Output) -> Result<(), CliError> {
    require_asana(&args.provider, "catalog")?;
    let catalog = AsanaConnector::catalog();
    let selected: Vec<&EntityInfo> = match &args.entity {
        Some(entity) => {
            let info = catalog.iter().find(|e| e.entity == entity).ok_or_else(|| {
                let available = catalog
                    .iter()
                    .map(|e| e.entity)
                    .collect::<Vec<_>>()
                    .join(", ");
                CliError::new(
                    ExitKind::Usage,
                    format!("unknown entity `{entity}`; available entities: {available}"),
                )
            })?;
            vec![info]
        }
        None => catalog.iter().collect(),
    };
    if out.is_json() {
        let value = serde_json::to_value(&selected).map_err(|e| {
            CliError::new(ExitKind::Other, format!("cannot print the catalog: {e}"))
        })?;
        out.json(&json!({ "provider": ASANA, "entities": value }));
        return Ok(());
    }
    let mut lines = Vec::new();
    for info in &selected {
        lines.push(info.entity.to_string());
        for action in &info.actions {
            lines.push(format!("  {:<9} {}", action.action, action.description));
            if args.entity.is_some() {
                lines.extend(param_lines(&action.params_schema));
            }
        }
    }
    if args.entity.is_none() {
        lines.push(String::new());
        lines.push(
            "Params of an entity's actions: integrations catalog asana ENTITY; run one: integrations execute asana ENTITY ACTION --params JSON".into(),
        );
    }
    out.line(&lines.join("\n"));
    Ok(())
}

/// `      name (string, required): description` for each property of a params schema.
fn param_lines(schema: &Value) -> Vec<String> {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let Some(properties) = schema["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let ty = match (&property["type"], property["enum"].as_array()) {
                (_, Some(values)) => values
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("|"),
                (Value::String(ty), None) if ty == "array" => {
                    format!(
                        "array of {}",
                        property["items"]["type"].as_str().unwrap_or("values")
                    )
                }
                (Value::String(ty), None) => ty.clone(),
                _ => "any".into(),
            };
            let required = if required.contains(&name.as_str()) {
                ", required"
            } else {
                ""
            };
            let description = property["description"].as_str().unwrap_or_default();
            format!("      {name} ({ty}{required}): {description}")
        })
        .collect()
}

/// `credentials list`: never a secret. A record that cannot be read (corrupt, tampered with, or
/// encrypted with another key) is listed with the status `unreadable` (and, in JSON, a `reason`),
/// with a warning on stderr that says how to remove it; the others are listed as usual, and the
/// exit code stays 0.
async fn list_credentials(app: &App, provider: Option<&str>, out: &Output) -> Result<(), CliError> {
    let listed = app
        .auth
        .list_credentials_each(provider)
        .await
        .map_err(|e| app.hints.auth(e))?;
    let now = SystemTime::now();
    let status_of = |status: CredentialStatus, expired: bool, refreshable: bool| match status {
        CredentialStatus::NeedsReauthorization => "needs re-authorization",
        _ if expired && refreshable => "active (token expired; refreshes on next use)",
        _ if expired => "expired",
        _ => "active",
    };
    // Why a record cannot be read and what to do, on one printable line (the error names no
    // value from it).
    let reason = |provider: &str, subject: &str, error: &AuthError| {
        CliError::new(
            ExitKind::Other,
            app.hints.unreadable(provider, subject, error),
        )
        .message()
        .to_string()
    };
    if out.is_json() {
        let items: Vec<Value> = listed
            .iter()
            .filter_map(|entry| match entry {
                ListedCredential::Readable(info) => {
                    let expired = info.expires_at.is_some_and(|at| at <= now);
                    Some(json!({
                        "provider": info.provider,
                        "subject": info.subject,
                        "source": CredentialSource::Stored.as_str(),
                        "status": info.status.as_str(),
                        "expired": expired,
                        "expires_at": info.expires_at.map(rfc3339),
                        "expires_at_unix": info.expires_at.map(unix_seconds),
                        "has_refresh_token": info.has_refresh_token,
                        "scopes": info.scopes,
                        "updated_at": rfc3339(info.updated_at),
                        "version": info.version,
                    }))
                }
                ListedCredential::Unreadable {
                    provider,
                    subject,
                    error,
                } => Some(json!({
                    "provider": provider,
                    "subject": subject,
                    "source": CredentialSource::Stored.as_str(),
                    "status": UNREADABLE,
                    "reason": reason(provider, subject, error),
                })),
                _ => None,
            })
            .collect();
        out.json(&json!({
            "store": app.store(),
            "encrypted": app.encrypted,
            "credentials": items,
        }));
        return Ok(());
    }
    let encryption = if app.encrypted {
        "encrypted at rest"
    } else {
        "not encrypted: set INTEGRATIONS_ENCRYPTION_KEY (base64 of 32 random bytes) to encrypt them"
    };
    if listed.is_empty() {
        out.line(&format!(
            "No stored credentials in {} ({encryption}).",
            app.store()
        ));
        return Ok(());
    }
    let mut warnings = Vec::new();
    let rows: Vec<Vec<String>> = listed
        .iter()
        .filter_map(|entry| match entry {
            ListedCredential::Readable(info) => {
                let expired = info.expires_at.is_some_and(|at| at <= now);
                Some(vec![
                    info.provider.clone(),
                    info.subject.clone(),
                    CredentialSource::Stored.as_str().to_string(),
                    status_of(info.status, expired, info.has_refresh_token).to_string(),
                    info.expires_at.map_or_else(
                        || "never".to_string(),
                        |at| format!("{} ({})", rfc3339(at), relative(at, now)),
                    ),
                    if info.has_refresh_token { "yes" } else { "no" }.to_string(),
                    info.scopes.join(" "),
                ])
            }
            ListedCredential::Unreadable {
                provider,
                subject,
                error,
            } => {
                warnings.push(format!(
                    "warning: {provider}/{subject} cannot be read: {}",
                    reason(provider, subject, error)
                ));
                Some(vec![
                    provider.clone(),
                    subject.clone(),
                    CredentialSource::Stored.as_str().to_string(),
                    UNREADABLE.to_string(),
                    "-".to_string(),
                    "-".to_string(),
                    String::new(),
                ])
            }
            _ => None,
        })
        .collect();
    out.note(&format!("Credentials in {} ({encryption}):", app.store()));
    out.line(&table(
        &[
            "PROVIDER", "SUBJECT", "SOURCE", "STATUS", "EXPIRES", "REFRESH", "SCOPES",
        ],
        &rows,
    ));
    for warning in warnings {
        out.note(&warning);
    }
    Ok(())
}

/// The status of a record `credentials list` cannot read.
const UNREADABLE: &str = "unreadable";

/// `credentials rotate`: every record re-encrypted under the primary key.
async fn rotate_credentials(globals: &Globals, out: &Output) -> Result<(), CliError> {
    let store = globals.store_spec()?;
    if KeyRing::from_env().map_err(store_error)?.is_none() {
        return Err(CliError::new(
            ExitKind::Config,
            format!(
                "no encryption key is set, so there is nothing to encrypt the stored credentials under: set {KEY_ENV} to base64 of 32 random bytes (make one with `openssl rand -base64 32`, and keep it: credentials encrypted under it cannot be read without it), then run `integrations credentials rotate{}` again",
                globals.hints().global_flags()
            ),
        ));
    }
    let rewritten = store.rotate().await?;
    if out.is_json() {
        out.json(&json!({ "rewritten": rewritten }));
    } else {
        out.line(&format!(
            "{rewritten} record(s) re-encrypted under the primary key"
        ));
    }
    Ok(())
}

/// `logout`: revoke at the provider (when there is a grant to revoke), then delete locally.
/// `--local` only deletes, by key, without reading the credentials: it works on a damaged record
/// too, and on one of a provider that is no longer registered.
async fn logout(app: &App, args: &LogoutArgs, out: &Output) -> Result<(), CliError> {
    let provider = args.provider.as_str();
    let subject = app.subject.as_str();
    if args.local {
        let deleted = app
            .auth
            .delete_credentials(provider, subject)
            .await
            .map_err(|e| app.hints.auth(e))?;
        if deleted {
            report_logout(out, provider, subject, Some("--local"));
        } else {
            report_nothing_stored(app, out, provider, subject);
        }
        return Ok(());
    }
    app.require_registered(provider)?;
    let stored = app
        .auth
        .load_credentials::<Credentials>(provider, subject)
        .await
        .map_err(|e| app.hints.auth(e))?;
    let Some(credentials) = stored else {
        report_nothing_stored(app, out, provider, subject);
        return Ok(());
    };
    let local_only = app.hints.logout_local(provider, subject);
    let settings = app
        .auth
        .provider(provider)
        .ok()
        .and_then(|p| p.oauth2_settings().cloned());
    let pasted = credentials.is_pasted();
    let revokes = !pasted
        && settings
            .as_ref()
            .is_some_and(|s| s.revoked_token(&credentials.token).is_some());
    let skip_reason = if revokes {
        None
    } else if pasted {
        Some(
            "the token was stored by `login --with-token` and is no grant of an OAuth app (revoke it in the provider's developer settings)"
                .to_string(),
        )
    } else if settings.is_none()
        && (credentials.token.refresh_token.is_some()
            || provider != integrations::asana::PROVIDER_ID)
    {
        // A grant (Asana's is its refresh token; elsewhere an access token alone may be one, a
        // GitHub OAuth app's), but no OAuth app to revoke it with: deleting it would leave it
        // valid at the provider, unknown to the user.
        return Err(CliError::new(
            ExitKind::Config,
            format!(
                "cannot revoke the grant of {provider}/{subject}: the {provider} OAuth app is not configured, so nothing was deleted; {}, or run `{local_only}` to delete the credentials without revoking them",
                app.oauth_app_hint(provider)
            ),
        ));
    } else if credentials.token.refresh_token.is_none() {
        Some(
            "the credentials have no grant to revoke (a personal access token is revoked in the provider's developer settings)"
                .to_string(),
        )
    } else {
        Some(format!("{provider} has no revocation endpoint configured"))
    };
    match &skip_reason {
        None => {
            app.auth
                .revoke_credentials(provider, subject)
                .await
                .map_err(|e| {
                    app.hints.auth(e).context(&format!(
                        "the credentials were kept: retry, or run `{local_only}` to delete them without revoking"
                    ))
                })?;
        }
        Some(_) => {
            app.auth
                .delete_credentials(provider, subject)
                .await
                .map_err(|e| app.hints.auth(e))?;
        }
    }
    report_logout(out, provider, subject, skip_reason.as_deref());
    Ok(())
}

/// What `logout` did: revoked and deleted, or only deleted (and why not revoked).
fn report_logout(out: &Output, provider: &str, subject: &str, skip_reason: Option<&str>) {
    if out.is_json() {
        out.json(&json!({
            "provider": provider,
            "subject": subject,
            "logged_out": true,
            "revoked": skip_reason.is_none(),
            "reason": skip_reason,
        }));
    } else {
        let what = match skip_reason {
            None => {
                format!("the grant was revoked at {provider} and the stored credentials deleted")
            }
            Some(reason) => format!("the stored credentials were deleted; not revoked: {reason}"),
        };
        out.line(&format!("Logged out {provider}/{subject}: {what}."));
    }
}

/// `logout` found nothing to do.
fn report_nothing_stored(app: &App, out: &Output, provider: &str, subject: &str) {
    if out.is_json() {
        out.json(&json!({
            "provider": provider,
            "subject": subject,
            "logged_out": false,
            "revoked": false,
            "reason": "no stored credentials",
        }));
    } else {
        out.line(&format!(
            "No stored credentials for {provider}/{subject} in {}; nothing to do.",
            app.store()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_listed_with_types_and_required_marks() {
        let schema = json!({
            "type": "object",
            "properties": {
                "task_gid": {"type": "string", "description": "The task"},
                "opt_fields": {"type": "array", "items": {"type": "string"}, "description": "Fields"},
                "sort_by": {"type": "string", "enum": ["due_date", "likes"], "description": "Order"}
            },
            "required": ["task_gid"]
        });
        let lines = param_lines(&schema);
        assert!(lines.contains(&"      task_gid (string, required): The task".to_string()));
        assert!(lines.contains(&"      opt_fields (array of string): Fields".to_string()));
        assert!(lines.contains(&"      sort_by (due_date|likes): Order".to_string()));
    }
}
