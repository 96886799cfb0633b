//! Opening the credential store (`--store`, `INTEGRATIONS_STORE`, or the platform default) and
//! building the `AuthManager` from the process environment and the configuration file, as the
//! library reads them; the checks commands share (is the provider registered, configured, does
//! `login` have a loopback redirect URI).

use std::path::PathBuf;
use std::sync::Arc;

use integrations::auth_core::redact::without_passwords;
use integrations::{
    AuthError, AuthManager, ConfigError, ConfigSource, CredentialStore, FileCredentialStore,
    SqliteCredentialStore,
};
use url::{Host, Url};

use crate::error::{CliError, ExitKind, Hints, set_hint, store_error};

/// The redirect URI `login` uses when none is configured. Register it with your OAuth app.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:8765/callback";

/// The only provider with `execute`, `catalog` and `mcp` so far. It is set up even without
/// configuration; `login --with-token` takes a token for it and for every provider described by
/// a definition (GitHub, HubSpot, ...), which [`App::open_for`] sets up the same way.
pub const ASANA: &str = "asana";

/// Where credentials are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// `sqlite:PATH`.
    Sqlite(PathBuf),
    /// `file:PATH`.
    File(PathBuf),
}

impl StoreSpec {
    /// Parses `sqlite:PATH` or `file:PATH`.
    pub fn parse(spec: &str) -> Option<Self> {
        let (kind, path) = spec.split_once(':')?;
        if path.is_empty() {
            return None;
        }
        match kind {
            "sqlite" => Some(StoreSpec::Sqlite(PathBuf::from(path))),
            "file" => Some(StoreSpec::File(PathBuf::from(path))),
            _ => None,
        }
    }

    /// SQLite in the platform's data directory: `<data dir>/integrations/credentials.db`.
    pub fn platform_default() -> Result<Self, CliError> {
        let dir = dirs::data_dir().ok_or_else(|| {
            CliError::new(
                ExitKind::Config,
                "cannot find the platform's data directory (is HOME set?): pass --store sqlite:PATH or set INTEGRATIONS_STORE",
            )
        })?;
        Ok(StoreSpec::Sqlite(
            dir.join("integrations").join("credentials.db"),
        ))
    }

    /// Opens the store (encrypted when `INTEGRATIONS_ENCRYPTION_KEY` is set); also says whether
    /// it encrypts.
    pub async fn open(&self) -> Result<(Arc<dyn CredentialStore>, bool), CliError> {
        Ok(match self {
            StoreSpec::Sqlite(path) => {
                let store = SqliteCredentialStore::open(path)
                    .await
                    .map_err(store_error)?;
                let encrypted = store.is_encrypted();
                (Arc::new(store), encrypted)
            }
            StoreSpec::File(path) => {
                let store = FileCredentialStore::open(path).await.map_err(store_error)?;
                let encrypted = store.is_encrypted();
                (Arc::new(store), encrypted)
            }
        })
    }

    /// Opens the store and re-encrypts every record under its primary key; returns how many were
    /// rewritten.
    pub async fn rotate(&self) -> Result<usize, CliError> {
        match self {
            StoreSpec::Sqlite(path) => SqliteCredentialStore::open(path)
                .await
                .map_err(store_error)?
                .rotate()
                .await
                .map_err(store_error),
            StoreSpec::File(path) => FileCredentialStore::open(path)
                .await
                .map_err(store_error)?
                .rotate()
                .await
                .map_err(store_error),
        }
    }
}

/// The global options every command shares.
#[derive(Debug, Clone)]
pub struct Globals {
    /// `--store` or `INTEGRATIONS_STORE`.
    pub store: Option<String>,
    /// Whether `store` came from the command line (then hints repeat it).
    pub store_from_flag: bool,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--subject`.
    pub subject: String,
}

impl Globals {
    /// The login hints for this command line.
    pub fn hints(&self) -> Hints {
        Hints {
            store_flag: self.store.clone().filter(|_| self.store_from_flag),
            config_flag: self.config.as_ref().map(|p| p.display().to_string()),
            without_oauth_app: Vec::new(),
        }
    }

    /// The store `--store` or `INTEGRATIONS_STORE` names, or the platform default.
    pub fn store_spec(&self) -> Result<StoreSpec, CliError> {
        match &self.store {
            Some(spec) => StoreSpec::parse(spec).ok_or_else(|| {
                let source = if self.store_from_flag {
                    "--store"
                } else {
                    "INTEGRATIONS_STORE"
                };
                CliError::new(
                    ExitKind::Config,
                    format!(
                        "{source} is `{}`: use sqlite:PATH or file:PATH, e.g. sqlite:./credentials.db",
                        without_passwords(spec)
                    ),
                )
            }),
            None => StoreSpec::platform_default(),
        }
    }
}

/// A configured manager over the chosen store, with the hints for error messages.
#[derive(Debug)]
pub struct App {
    /// The manager.
    pub auth: AuthManager,
    /// Builds `integrations login ...` hints.
    pub hints: Hints,
    /// `--subject`.
    pub subject: String,
    /// Whether the store encrypts payloads at rest.
    pub encrypted: bool,
}

/// Where a redirect URI comes from.
#[derive(Debug, Clone)]
pub struct Redirect {
    /// The URI.
    pub uri: Url,
    /// Where it was configured, if the manager recorded it.
    pub origin: Option<ConfigSource>,
    /// Whether it is [`DEFAULT_REDIRECT_URI`] because none is configured (then `login` passes it
    /// to the authorization request itself).
    pub is_default: bool,
}

impl App {
    /// Opens the store and builds the manager.
    pub async fn open(globals: &Globals) -> Result<Self, CliError> {
        let (store, encrypted) = globals.store_spec()?.open().await?;
        Self::build(globals, Some(store), encrypted, None)
    }

    /// Opens the store and builds the manager with `provider` set up even without an OAuth app,
    /// or with an incomplete one (a client id without its secret), as Asana always is: a token
    /// stored by `login --with-token` then serves `whoami`, `token` and `request`, and an OAuth
    /// login or a refresh says which keys to set. Configuration the provider cannot do without
    /// (a value that makes an invalid URL) fails here, naming the keys. An unregistered
    /// `provider` is a usage error.
    pub async fn open_for(globals: &Globals, provider: &str) -> Result<Self, CliError> {
        let (store, encrypted) = globals.store_spec()?.open().await?;
        Self::build(globals, Some(store), encrypted, Some(provider))
    }

    /// Builds the manager over an in-memory store (for commands that store nothing).
    pub fn without_store(globals: &Globals) -> Result<Self, CliError> {
        Self::build(globals, None, false, None)
    }

    fn build(
        globals: &Globals,
        store: Option<Arc<dyn CredentialStore>>,
        encrypted: bool,
        provider: Option<&str>,
    ) -> Result<Self, CliError> {
        let mut hints = globals.hints();
        // Asana is set up even without configuration or with an incomplete OAuth app, so that
        // credentials stored by `login --with-token` work on their own; OAuth errors still say
        // which keys to set.
        let mut builder = AuthManager::builder().enable(ASANA);
        if let Some(provider) = provider.filter(|p| *p != ASANA) {
            builder = builder.enable(provider);
        }
        if let Some(path) = &globals.config {
            builder = builder.config_file(path);
        }
        if let Some(store) = store {
            builder = builder.shared_store(store);
        }
        let auth = builder.build().map_err(|e| match e {
            AuthError::Config(ConfigError::UnknownProvider {
                provider,
                registered,
            }) => unknown_provider(&provider, &registered),
            other => hints.auth(other),
        })?;
        hints.without_oauth_app = auth
            .provider_ids()
            .into_iter()
            .filter(|id| {
                auth.provider(id)
                    .is_ok_and(|provider| provider.oauth2_settings().is_none())
            })
            .collect();
        Ok(Self {
            auth,
            hints,
            subject: globals.subject.clone(),
            encrypted,
        })
    }

    /// The store, e.g. `sqlite:/home/me/.local/share/integrations/credentials.db`.
    pub fn store(&self) -> String {
        self.auth.store().describe()
    }

    /// Fails unless `provider` is registered (usage) and configured (configuration).
    pub fn require_configured(&self, provider: &str) -> Result<(), CliError> {
        // A configured provider is registered: the statuses of the others (which make the
        // manager parse the built-in provider definitions) are only needed for an error.
        if self.auth.provider_ids().iter().any(|id| id == provider) {
            return Ok(());
        }
        self.require_registered(provider)?;
        Err(CliError::new(
            ExitKind::Config,
            format!(
                "{provider} is not configured: {}; see `integrations providers`",
                setup_hint(provider)
            ),
        ))
    }

    /// Fails (usage) unless `provider` is registered.
    pub fn require_registered(&self, provider: &str) -> Result<(), CliError> {
        let statuses = self.auth.provider_statuses();
        if statuses.iter().any(|s| s.id == provider) {
            return Ok(());
        }
        let known: Vec<&str> = statuses.iter().map(|s| s.id.as_str()).collect();
        Err(unknown_provider(provider, &known.join(", ")))
    }

    /// Where `field` of `provider` was configured, if it was.
    pub fn origin(&self, provider: &str, field: &str) -> Option<ConfigSource> {
        self.sources(provider)
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, source)| source.clone())
    }

    /// Where each configured value of `provider` came from.
    fn sources(&self, provider: &str) -> &[(String, ConfigSource)] {
        self.auth
            .provider_statuses()
            .iter()
            .find(|s| s.id == provider)
            .map_or(&[], |status| &status.sources)
    }

    /// What to set for `provider`'s OAuth app ([`oauth_app_hint`]).
    pub fn oauth_app_hint(&self, provider: &str) -> String {
        oauth_app_hint(provider, self.sources(provider))
    }

    /// The redirect URI `login` listens on: the configured one, or [`DEFAULT_REDIRECT_URI`].
    /// Fails (configuration) unless it is plain http on a loopback host.
    pub fn login_redirect(&self, provider: &str) -> Result<Redirect, CliError> {
        let configured = self
            .auth
            .provider(provider)
            .map_err(|e| self.hints.auth(e))?
            .oauth2_settings()
            .and_then(|s| s.redirect_uri.clone());
        let redirect = match configured {
            Some(uri) => Redirect {
                uri,
                origin: self.origin(provider, "redirect_uri"),
                is_default: false,
            },
            None => Redirect {
                uri: default_redirect(),
                origin: None,
                is_default: true,
            },
        };
        if is_loopback_http(&redirect.uri) {
            return Ok(redirect);
        }
        let origin = redirect
            .origin
            .as_ref()
            .map_or_else(|| "the configuration".to_string(), ToString::to_string);
        Err(CliError::new(
            ExitKind::Config,
            format!(
                "the redirect URI {} (from {origin}) is not a loopback http URI: `integrations login` receives the redirect itself, so set {}_REDIRECT_URI to http://127.0.0.1:PORT/PATH or http://localhost:PORT/PATH registered with your app, or unset it to use {DEFAULT_REDIRECT_URI}",
                redirect.uri,
                provider.to_ascii_uppercase()
            ),
        ))
    }
}

/// [`DEFAULT_REDIRECT_URI`], parsed.
pub fn default_redirect() -> Url {
    Url::parse(DEFAULT_REDIRECT_URI).expect("the default redirect URI is a valid URL")
}

/// `http://` on 127.0.0.1, localhost or [::1], with no fragment.
pub fn is_loopback_http(uri: &Url) -> bool {
    let loopback = match uri.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    uri.scheme() == "http" && loopback && uri.fragment().is_none()
}

/// What to set to configure `provider`.
pub fn setup_hint(provider: &str) -> String {
    if provider == ASANA {
        "set ASANA_CLIENT_ID and ASANA_CLIENT_SECRET (an OAuth app), or ASANA_ACCESS_TOKEN (a personal access token), in the environment or the [asana] section of INTEGRATIONS_CONFIG".to_string()
    } else {
        let prefix = provider.to_ascii_uppercase();
        set_hint(
            provider,
            &format!("{prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET"),
        )
    }
}

/// What to set for `provider`'s OAuth app, given the sources of its configured values: its
/// client id and secret, or only the one missing when the other is set (and where that one came
/// from).
pub fn oauth_app_hint(provider: &str, sources: &[(String, ConfigSource)]) -> String {
    let prefix = provider.to_ascii_uppercase();
    let source = |field: &str| {
        sources
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, source)| source)
    };
    match (source("client_id"), source("client_secret")) {
        (Some(origin), None) => format!(
            "its client id is set ({origin}) but not its secret: {}",
            set_hint(provider, &format!("{prefix}_CLIENT_SECRET"))
        ),
        (None, Some(origin)) => format!(
            "its client secret is set ({origin}) but not its id: {}",
            set_hint(provider, &format!("{prefix}_CLIENT_ID"))
        ),
        _ => set_hint(
            provider,
            &format!("{prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET"),
        ),
    }
}

/// `provider` is not registered (usage); `registered` lists the ids that are.
fn unknown_provider(provider: &str, registered: &str) -> CliError {
    CliError::new(
        ExitKind::Usage,
        format!("unknown provider `{provider}`; registered providers: {registered}"),
    )
}

/// Fails (usage) unless `provider` is Asana: `command` is Asana-only so far.
pub fn require_asana(provider: &str, command: &str) -> Result<(), CliError> {
    if provider == ASANA {
        Ok(())
    } else {
        Err(CliError::new(
            ExitKind::Usage,
            format!("`{command}` supports the asana provider only, not `{provider}`"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_specs() {
        assert_eq!(
            StoreSpec::parse("sqlite:/tmp/c.db"),
            Some(StoreSpec::Sqlite("/tmp/c.db".into()))
        );
        assert_eq!(
            StoreSpec::parse("file:c:/creds.json"),
            Some(StoreSpec::File("c:/creds.json".into()))
        );
        assert_eq!(StoreSpec::parse("sqlite:"), None);
        assert_eq!(StoreSpec::parse("postgres://x"), None);
        assert_eq!(StoreSpec::parse("credentials.db"), None);
    }

    #[test]
    fn only_loopback_http_redirects_can_be_listened_on() {
        for ok in [
            "http://127.0.0.1:8765/callback",
            "http://localhost:9000/oauth/cb",
            "http://[::1]:8080/",
            "http://127.0.0.2:80/x",
        ] {
            assert!(is_loopback_http(&Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:8765/callback",
            "http://app.example.com/callback",
            "https://app.example.com/callback",
            "http://10.0.0.1/callback",
            "http://localhost:8765/callback#frag",
        ] {
            assert!(!is_loopback_http(&Url::parse(bad).unwrap()), "{bad}");
        }
        assert!(is_loopback_http(&default_redirect()));
    }
}
