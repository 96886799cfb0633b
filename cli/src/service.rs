//! The hosted-execution service: `serve` runs it until SIGTERM or Ctrl-C, `apps` manages its
//! applications directly in its store (no HTTP).

use std::future::Future;
use std::time::Duration;

use integrations::asana::{self, AsanaAppCredentials};
use integrations::auth_core::config::ConfigLoader;
use integrations::auth_core::redact::{shown_url, without_passwords};
use integrations::{EnvSource, KeyRing};
use integrations_server::{
    Admin, Application, ApplicationCredentials, Server, ServerBuilder, ServerError, StoreLocation,
};
use serde_json::{Value, json};
use url::Url;

use crate::app::Globals;
use crate::args::{AppsCommand, ServeArgs, ServiceStoreArgs};
use crate::error::{CliError, ExitKind, server_error, store_error, with_same_store};
use crate::output::{Output, rfc3339, table};

/// The service's store, as `--store` names it (a directory or a `postgres://` URL) or the
/// platform default directory.
struct Store {
    location: StoreLocation,
    /// For messages: the location without a password.
    shown: String,
    /// Whether `--store` named it (then a suggested command says to repeat it).
    flag: bool,
}

impl Store {
    /// `--store DIR|URL`, or `<data dir>/integrations/service`. `from_command_line` says whether
    /// `args.store` came from the command line: clap also fills it with the value of
    /// `INTEGRATIONS_STORE`, which names the command line's store, not the service's, and is
    /// ignored here.
    fn from_args(args: &ServiceStoreArgs, from_command_line: bool) -> Result<Self, CliError> {
        let named = args.store.as_deref().filter(|_| from_command_line);
        if let Some(store) = named
            && let Some(scheme) = foreign_scheme(store)
        {
            return Err(CliError::new(
                ExitKind::Usage,
                format!(
                    "--store is `{}`: `serve` and `apps` keep the service's data in a directory or a postgres:// database, not in a {scheme}: store{}; pass a directory (./NAME for a name with a colon) or a postgres:// URL",
                    without_userinfo(store),
                    if matches!(scheme.as_str(), "sqlite" | "file") {
                        " (sqlite:PATH and file:PATH name the credential store of the other commands)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let location = match named {
            Some(store) => store.parse::<StoreLocation>().map_err(|e| {
                CliError::new(
                    ExitKind::Usage,
                    format!("--store: {e}: the directory of the service's data, or a postgres:// URL"),
                )
            })?,
            None => StoreLocation::Directory(
                dirs::data_dir()
                    .ok_or_else(|| {
                        CliError::new(
                            ExitKind::Config,
                            "cannot find the platform's data directory (is HOME set?): pass --store DIR",
                        )
                    })?
                    .join("integrations")
                    .join("service"),
            ),
        };
        let shown = location.to_string();
        Ok(Self {
            location,
            shown,
            flag: named.is_some(),
        })
    }

    /// A builder over this store with the key of `INTEGRATIONS_ENCRYPTION_KEY`; without
    /// one, plaintext if `allow_plaintext`, else an error that says how to make a key. Also says
    /// whether credentials are encrypted.
    fn builder(&self, allow_plaintext: bool) -> Result<(ServerBuilder, bool), CliError> {
        let builder = Server::builder().store(self.location.clone());
        match KeyRing::from_env().map_err(store_error)? {
            Some(keys) => Ok((builder.encryption_keys(keys), true)),
            None if allow_plaintext => Ok((builder.insecure_no_encryption(), false)),
            None => Err(self.error(ServerError::NoEncryptionKey)),
        }
    }

    /// The operator's operations over this store. They read no credentials (deleting an
    /// application deletes its connectors' records unread), so they need no key.
    async fn admin(&self) -> Result<Admin, CliError> {
        let (builder, _) = self.builder(true)?;
        let server = builder.build().await.map_err(|e| self.error(e))?;
        Ok(server.admin())
    }

    fn error(&self, e: ServerError) -> CliError {
        server_error(e, &self.shown, self.flag)
    }
}

/// The scheme of `store` when it starts like a URL (`scheme:`, RFC 3986's letters, two at least
/// so that a Windows drive such as `C:` stays a directory) but is no `postgres://` or
/// `postgresql://` URL: a value such as `sqlite:./svc.db` or `mysql://...` that the service would
/// otherwise take for a directory and create, colon and all.
fn foreign_scheme(store: &str) -> Option<String> {
    let store = store.trim();
    let (scheme, rest) = store.split_once(':')?;
    let url_like = scheme.len() >= 2
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let scheme = scheme.to_ascii_lowercase();
    let postgres = matches!(scheme.as_str(), "postgres" | "postgresql") && rest.starts_with("//");
    (url_like && !postgres).then_some(scheme)
}

/// `store` fit to be echoed: the user information of a `scheme://userinfo@host` URL (a name and
/// password, or a token) replaced by `***`, and the value of every `password=` hidden too.
fn without_userinfo(store: &str) -> String {
    let store = store
        .split_once("://")
        .and_then(|(scheme, rest)| {
            let (_, host) = rest.rsplit_once('@')?;
            Some(format!("{scheme}://***@{host}"))
        })
        .unwrap_or_else(|| store.to_string());
    without_passwords(&store)
}

/// `serve`: listens on `--listen`, serves until SIGTERM or Ctrl-C, then finishes the requests in
/// flight and returns.
pub async fn serve(globals: &Globals, args: &ServeArgs) -> Result<(), CliError> {
    let service = Store::from_args(&args.store, globals.store_from_flag)?;
    let (mut builder, encrypted) = service.builder(args.insecure_no_encryption)?;
    if let Some(size) = args.pool_size {
        if !matches!(service.location, StoreLocation::Postgres(_)) {
            return Err(CliError::new(
                ExitKind::Usage,
                format!(
                    "--pool-size applies to a postgres:// store; {} is a directory of SQLite files",
                    service.shown
                ),
            ));
        }
        builder = builder.postgres_pool_size(size.into());
    }
    if let Some(days) = args.audit_retention_days {
        let retention = (days > 0).then(|| Duration::from_secs(u64::from(days) * 86_400));
        builder = builder.audit_retention(retention);
    }
    if let Some(max) = args.max_in_flight {
        builder = builder.max_in_flight(max);
    }
    if let Some(max) = args.max_service_tokens {
        builder = builder.max_service_tokens(max);
    }
    if args.no_service_app_consent {
        builder = builder.service_app_consent(false);
    }
    let asana = asana_app(globals)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| {
            let kind = match e.kind() {
                std::io::ErrorKind::InvalidInput => ExitKind::Usage,
                _ => ExitKind::Other,
            };
            CliError::new(
                kind,
                format!(
                    "cannot listen on {}: {e}; pass another --listen HOST:PORT",
                    args.listen
                ),
            )
        })?;
    let address = listener.local_addr().map_err(|e| {
        CliError::new(
            ExitKind::Other,
            format!("cannot read the address listened on: {e}"),
        )
    })?;
    let public_url = match &args.public_url {
        Some(url) => Some(checked_public_url(url)?),
        // No client reaches the service at the unspecified address: a consent flow would send
        // the customer back to http://0.0.0.0:PORT/. Without a public URL it is refused, with
        // an answer that names --public-url.
        None if address.ip().is_unspecified() => {
            let mcp = if args.mcp_allowed_hosts.is_empty() {
                " and /mcp accepts loopback Host names only"
            } else {
                ""
            };
            tracing::warn!(
                "integrations serve: listening on all addresses ({address}) without --public-url: consent flows are refused (501){mcp}; pass --public-url with the URL clients and providers reach the service at"
            );
            None
        }
        None => Some(Url::parse(&format!("http://{address}")).map_err(|e| {
            CliError::new(
                ExitKind::Usage,
                format!("http://{address} is not a URL ({e}); pass --public-url URL"),
            )
        })?),
    };
    if let Some(url) = &public_url {
        builder = builder.public_url(url.clone());
    }
    if !args.mcp_allowed_hosts.is_empty() {
        builder = builder.mcp_allowed_hosts(args.mcp_allowed_hosts.iter().cloned());
    }
    if !args.mcp_allowed_origins.is_empty() {
        builder = builder.mcp_allowed_origins(args.mcp_allowed_origins.iter().cloned());
    }
    let server = providers_of(globals, builder)
        .asana_app(asana)
        .build()
        .await
        .map_err(|e| service.error(e))?;
    let shutdown = shutdown_signal().map_err(|e| {
        CliError::new(
            ExitKind::Other,
            format!("cannot listen for SIGTERM and Ctrl-C: {e}"),
        )
    })?;
    tracing::info!(
        "integrations serve: listening on http://{address} (public URL {}, store {}, credentials {})",
        public_url.as_ref().map_or("none", Url::as_str),
        service.shown,
        if encrypted {
            "encrypted"
        } else {
            "not encrypted"
        }
    );
    server
        .serve(listener, shutdown)
        .await
        .map_err(|e| service.error(e))?;
    tracing::info!("integrations serve: stopped");
    Ok(())
}

/// The service's Asana app and URLs, from the environment and `--config` (or
/// `INTEGRATIONS_CONFIG`), layered as for every command.
fn asana_app(globals: &Globals) -> Result<AsanaAppCredentials, CliError> {
    let mut loader = ConfigLoader::new();
    if let Some(path) = &globals.config {
        loader = loader.with_file(path);
    }
    let config = loader
        .load(asana::PROVIDER_ID, asana::FIELDS)
        .map_err(|e| CliError::new(ExitKind::Config, e.to_string()))?;
    Ok(AsanaAppCredentials::from_config(&config))
}

/// The declarative providers from the same configuration as every command's: the process
/// environment (`{ID}_*` keys, `INTEGRATIONS_PROVIDERS`) and `--config` (else
/// `INTEGRATIONS_CONFIG`), its `[id]` sections and its `providers` list of definition files.
fn providers_of(globals: &Globals, builder: ServerBuilder) -> ServerBuilder {
    let builder = builder.provider_env(EnvSource::process());
    match &globals.config {
        Some(path) => builder.provider_config_file(path),
        None => builder,
    }
}

/// `--public-url`: http(s) with a host.
fn checked_public_url(url: &Url) -> Result<Url, CliError> {
    if matches!(url.scheme(), "http" | "https") && url.host().is_some() {
        Ok(url.clone())
    } else {
        Err(CliError::new(
            ExitKind::Usage,
            format!(
                "--public-url is `{}`: pass the http(s) URL the service is reached at, e.g. https://integrations.example.com",
                shown_url(url)
            ),
        ))
    }
}

/// Completes on the first SIGTERM or Ctrl-C. The handlers are installed before this returns, so
/// a signal that comes once the service says it is listening is never lost.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            let which = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "Ctrl-C",
            };
            tracing::info!(
                "integrations serve: {which}: no new connections; finishing the requests in flight"
            );
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!(
                "integrations serve: Ctrl-C: no new connections; finishing the requests in flight"
            );
        })
    }
}

/// `apps ...` over the service's store `store`.
pub async fn apps(
    globals: &Globals,
    store: &ServiceStoreArgs,
    command: &AppsCommand,
    out: &Output,
) -> Result<(), CliError> {
    let service = Store::from_args(store, globals.store_from_flag)?;
    match command {
        AppsCommand::Create {
            name,
            redirect_origins,
        } => {
            let created = service
                .admin()
                .await?
                .create_application(name, redirect_origins)
                .await
                .map_err(|e| service.error(e))?;
            print_credentials(out, &created);
            out.note(&format!(
                "Application `{}` created in {}. Keep the client secret now: the service stores only its hash, so it cannot be shown again; `integrations apps rotate-secret {}`{} replaces it.",
                created.application.name,
                service.shown,
                created.application.id,
                with_same_store(service.flag)
            ));
            Ok(())
        }
        AppsCommand::List => {
            let listed = service
                .admin()
                .await?
                .list_applications()
                .await
                .map_err(|e| service.error(e))?;
            print_list(out, &service, &listed);
            Ok(())
        }
        AppsCommand::RotateSecret { id } => {
            let rotated = service
                .admin()
                .await?
                .rotate_secret(id)
                .await
                .map_err(|e| service.error(e))?;
            print_credentials(out, &rotated);
            out.note(&format!(
                "New client secret for `{}`: the old one and the service tokens issued with it no longer work. Keep it now: it cannot be shown again.",
                rotated.application.name
            ));
            Ok(())
        }
        AppsCommand::Reencrypt => {
            let (builder, encrypted) = service.builder(true)?;
            if !encrypted {
                return Err(CliError::new(
                    ExitKind::Config,
                    format!(
                        "no encryption key is set, so there is nothing to re-encrypt under: set INTEGRATIONS_ENCRYPTION_KEY to the new key and INTEGRATIONS_ENCRYPTION_OLD_KEYS to the old one(s), then run `integrations apps reencrypt`{} again",
                        with_same_store(service.flag)
                    ),
                ));
            }
            let done = builder
                .build()
                .await
                .map_err(|e| service.error(e))?
                .admin()
                .reencrypt()
                .await
                .map_err(|e| service.error(e))?;
            if out.is_json() {
                out.json(&json!({
                    "credentials": done.credentials,
                    "oauth_apps": done.oauth_apps,
                    "consent_flows": done.consent_flows,
                }));
            } else {
                out.line(&format!(
                    "Re-encrypted under the primary key in {}: {} credential record(s), {} OAuth client secret(s), {} pending consent flow(s).",
                    service.shown, done.credentials, done.oauth_apps, done.consent_flows
                ));
            }
            Ok(())
        }
        AppsCommand::RevokeTokens { id, customer } => {
            let revoked = service
                .admin()
                .await?
                .revoke_customer_tokens(id, customer)
                .await
                .map_err(|e| service.error(e))?;
            if out.is_json() {
                out.json(&json!({
                    "id": id,
                    "customer": customer.trim(),
                    "revoked": revoked > 0,
                    "count": revoked,
                }));
            } else {
                out.line(&format!(
                    "Revoked {revoked} service token(s) of customer `{}` in application {id}.",
                    customer.trim()
                ));
            }
            Ok(())
        }
        AppsCommand::Delete { id } => {
            service
                .admin()
                .await?
                .delete_application(id)
                .await
                .map_err(|e| service.error(e))?;
            if out.is_json() {
                out.json(&json!({ "id": id, "deleted": true }));
            } else {
                out.line(&format!(
                    "Deleted application {id} with its service tokens, connectors and their credentials."
                ));
            }
            Ok(())
        }
    }
}

/// An application as JSON (never a secret).
fn application_json(application: &Application) -> Value {
    json!({
        "id": application.id,
        "name": application.name,
        "organization_id": application.organization_id,
        "client_id": application.client_id,
        "redirect_origins": application.redirect_origins,
        "created_at": rfc3339(application.created_at),
    })
}

/// `id`, `client_id` and `client_secret` lines, or the application as JSON with its
/// `client_secret`.
fn print_credentials(out: &Output, created: &ApplicationCredentials) {
    let application = &created.application;
    let secret = created.client_secret.expose_secret();
    if out.is_json() {
        let mut document = application_json(application);
        document["client_secret"] = json!(secret);
        out.json(&document);
    } else {
        out.line(&format!(
            "id: {}\nclient_id: {}\nclient_secret: {secret}",
            application.id, application.client_id
        ));
    }
}

/// `apps list`.
fn print_list(out: &Output, service: &Store, listed: &[Application]) {
    if out.is_json() {
        out.json(&json!({
            "store": service.shown,
            "applications": listed.iter().map(application_json).collect::<Vec<_>>(),
        }));
        return;
    }
    if listed.is_empty() {
        out.line(&format!(
            "No applications in {}; create one with `integrations apps create NAME`{}.",
            service.shown,
            with_same_store(service.flag)
        ));
        return;
    }
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|application| {
            vec![
                application.id.clone(),
                application.name.clone(),
                application.client_id.clone(),
                rfc3339(application.created_at),
                application.redirect_origins.join(" "),
            ]
        })
        .collect();
    out.line(&table(
        &["ID", "NAME", "CLIENT_ID", "CREATED", "REDIRECT_ORIGINS"],
        &rows,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_http_origins() {
        let ok = Url::parse("https://integrations.example.com/base").unwrap();
        assert_eq!(checked_public_url(&ok).unwrap(), ok);
        for bad in ["ftp://example.com", "mailto:ops@example.com"] {
            let e = checked_public_url(&Url::parse(bad).unwrap()).unwrap_err();
            assert_eq!(e.kind(), ExitKind::Usage, "{bad}");
        }
    }

    #[test]
    fn the_store_is_a_directory_a_postgres_url_or_the_platform_default() {
        let args = |store: Option<&str>| ServiceStoreArgs {
            store: store.map(String::from),
        };
        let service = Store::from_args(&args(Some("/srv/integrations")), true).unwrap();
        assert_eq!(
            service.location,
            StoreLocation::Directory("/srv/integrations".into())
        );
        assert_eq!(service.shown, "/srv/integrations");
        assert!(service.flag);
        let url = "postgres://svc:hunter2@db.example.com:5432/integrations";
        let database = Store::from_args(&args(Some(url)), true).unwrap();
        assert_eq!(database.location, StoreLocation::Postgres(url.into()));
        assert_eq!(
            database.shown,
            "postgres://svc:***@db.example.com:5432/integrations"
        );
        let e = Store::from_args(&args(Some(" ")), true).err().unwrap();
        assert_eq!(e.kind(), ExitKind::Usage);
        if let Some(data) = dirs::data_dir() {
            let default = StoreLocation::Directory(data.join("integrations").join("service"));
            let unnamed = Store::from_args(&args(None), false).unwrap();
            assert_eq!((unnamed.location, unnamed.flag), (default.clone(), false));
            // INTEGRATIONS_STORE, which clap copies into the arguments, is not the service's.
            let from_env = Store::from_args(&args(Some("sqlite:/home/me/c.db")), false).unwrap();
            assert_eq!((from_env.location, from_env.flag), (default, false));
        }
        let windows = Store::from_args(&args(Some(r"C:\srv\integrations")), true).unwrap();
        assert_eq!(
            windows.location,
            StoreLocation::Directory(r"C:\srv\integrations".into())
        );
        let upper = Store::from_args(&args(Some("PostgreSQL://db/x")), true).unwrap();
        assert_eq!(
            upper.location,
            StoreLocation::Postgres("PostgreSQL://db/x".into())
        );
    }

    #[test]
    fn a_store_named_like_a_url_of_another_kind_is_refused_without_its_userinfo() {
        let refused = |store: &str| {
            let args = ServiceStoreArgs {
                store: Some(store.into()),
            };
            let e = Store::from_args(&args, true).err().expect("refused");
            assert_eq!(e.kind(), ExitKind::Usage, "{store}");
            e.message().to_string()
        };
        assert_eq!(
            refused("sqlite:./svc.db"),
            "--store is `sqlite:./svc.db`: `serve` and `apps` keep the service's data in a directory or a postgres:// database, not in a sqlite: store (sqlite:PATH and file:PATH name the credential store of the other commands); pass a directory (./NAME for a name with a colon) or a postgres:// URL"
        );
        assert_eq!(
            refused("mysql://svc:hunter2@db/x"),
            "--store is `mysql://***@db/x`: `serve` and `apps` keep the service's data in a directory or a postgres:// database, not in a mysql: store; pass a directory (./NAME for a name with a colon) or a postgres:// URL"
        );
        assert!(refused("https://ghp_token@example.com/x").contains("`https://***@example.com/x`"));
        assert!(refused("File:/tmp/c.json").contains("not in a file: store"));
        assert!(refused("postgres:db").contains("not in a postgres: store"));
        for kept in ["./sqlite:x", "/srv/a:b", "svc", "C:/srv"] {
            let args = ServiceStoreArgs {
                store: Some(kept.into()),
            };
            assert!(Store::from_args(&args, true).is_ok(), "{kept}");
        }
    }
}
