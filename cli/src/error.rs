//! [`CliError`]: one line that says what failed and what to do, and the exit code that goes with
//! it ([`ExitKind`]). Library errors are mapped here from their variants and classes.

use std::fmt;

use integrations::asana::{AsanaError, ExecuteError, ServiceError};
use integrations::auth_core::crypto::{KEY_ENV, OLD_KEYS_ENV};
use integrations::auth_core::redact::strip_controls;
use integrations::declarative::DeclarativeError;
use integrations::{AuthError, ConfigError, ErrorClass, OAuthErrorCode, StoreError};
use integrations_server::{ServerError, ServiceStoreError};

/// `set KEYS in the environment or the [provider] section of INTEGRATIONS_CONFIG`.
pub fn set_hint(provider: &str, keys: &str) -> String {
    format!("set {keys} in the environment or the [{provider}] section of INTEGRATIONS_CONFIG")
}

/// What kind of failure, i.e. which exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// 1: anything else (store, I/O, timeouts waiting for the user).
    Other,
    /// 2: the command line is wrong (clap's own code).
    Usage,
    /// 3: the configuration is missing or invalid.
    Config,
    /// 4: the user must log in (again).
    Auth,
    /// 5: the provider or the network failed or refused.
    Remote,
}

impl ExitKind {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitKind::Other => 1,
            ExitKind::Usage => 2,
            ExitKind::Config => 3,
            ExitKind::Auth => 4,
            ExitKind::Remote => 5,
        }
    }

    /// The `kind` in JSON errors.
    pub fn as_str(self) -> &'static str {
        match self {
            ExitKind::Other => "other",
            ExitKind::Usage => "usage",
            ExitKind::Config => "configuration",
            ExitKind::Auth => "authorization",
            ExitKind::Remote => "remote",
        }
    }
}

/// A failed command: its kind and a one-line message (never a secret, never a control character).
#[derive(Debug)]
pub struct CliError {
    kind: ExitKind,
    message: String,
    retryable: bool,
    /// More members of the JSON error, after the four every error has.
    details: serde_json::Map<String, serde_json::Value>,
}

impl CliError {
    /// An error of `kind`; newlines in `message` are folded so it stays one line, and control
    /// characters and escape sequences (which a provider's text may carry) are removed.
    pub fn new(kind: ExitKind, message: impl Into<String>) -> Self {
        let message: String = message.into();
        let folded = message.split_whitespace().collect::<Vec<_>>().join(" ");
        let message = strip_controls(&folded)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            kind,
            message,
            retryable: false,
            details: serde_json::Map::new(),
        }
    }

    /// Adds `key` to the JSON error (`--json`), beside `kind`, `exit_code`, `message` and
    /// `retryable`; the one-line message is unchanged.
    pub fn detail(mut self, key: &str, value: serde_json::Value) -> Self {
        self.details.insert(key.to_string(), value);
        self
    }

    /// Marks the error as one that retrying later may fix.
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Appends `; {more}` to the message.
    pub fn context(mut self, more: &str) -> Self {
        self.message = format!("{}; {more}", self.message);
        self
    }

    /// The kind (exit code).
    pub fn kind(&self) -> ExitKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `{"error": {"kind", "exit_code", "message", "retryable"}}`, with the [`CliError::detail`]s.
    pub fn to_json(&self) -> serde_json::Value {
        let mut error = serde_json::json!({
            "kind": self.kind.as_str(),
            "exit_code": self.kind.code(),
            "message": self.message,
            "retryable": self.retryable,
        });
        if let Some(members) = error.as_object_mut() {
            members.extend(self.details.clone());
        }
        serde_json::json!({ "error": error })
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Builds the `integrations login ...` command a message tells the user to run.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// `--store` to repeat, when it was given on the command line.
    pub store_flag: Option<String>,
    /// `--config` to repeat, when it was given on the command line.
    pub config_flag: Option<String>,
    /// The providers set up without an OAuth app (for tokens stored by `login --with-token`):
    /// what needs the app fails for them with [`AuthError::OAuthNotConfigured`].
    pub without_oauth_app: Vec<String>,
}

impl Hints {
    /// `integrations login PROVIDER [--subject S] [--store X] [--config F]`.
    pub fn login(&self, provider: &str, subject: &str) -> String {
        self.command("login", provider, subject, "")
    }

    /// `integrations login PROVIDER [--subject S] --with-token [--store X] [--config F]`.
    pub fn login_with_token(&self, provider: &str, subject: &str) -> String {
        self.command("login", provider, subject, " --with-token")
    }

    /// `integrations logout PROVIDER [--subject S] --local [--store X] [--config F]`.
    pub fn logout_local(&self, provider: &str, subject: &str) -> String {
        self.command("logout", provider, subject, " --local")
    }

    /// `integrations VERB PROVIDER [--subject S]{flags} [--store X] [--config F]`.
    fn command(&self, verb: &str, provider: &str, subject: &str, flags: &str) -> String {
        let mut command = format!("integrations {verb} {}", shell_quote(provider));
        if subject != "default" {
            command.push_str(&format!(" --subject {}", shell_quote(subject)));
        }
        command.push_str(flags);
        command.push_str(&self.global_flags());
        command
    }

    /// ` --store X --config F`, for those given on the command line.
    pub fn global_flags(&self) -> String {
        let mut flags = String::new();
        if let Some(store) = &self.store_flag {
            flags.push_str(&format!(" --store {}", shell_quote(store)));
        }
        if let Some(config) = &self.config_flag {
            flags.push_str(&format!(" --config {}", shell_quote(config)));
        }
        flags
    }

    /// A record stored in plaintext while a key is set: encrypt it with `credentials rotate`, or
    /// delete it with `logout --local`.
    fn unencrypted(&self, provider: &str, subject: &str) -> CliError {
        CliError::new(
            ExitKind::Config,
            format!(
                "credentials for {provider}/{subject} are stored unencrypted although an encryption key is set, so they were not used: if they were stored before the key was set, run `integrations credentials rotate{}`; otherwise someone else put them there: run `{}` and log in again",
                self.global_flags(),
                self.logout_local(provider, subject)
            ),
        )
    }

    /// Why `credentials list` cannot read the record of `provider`/`subject` (`error`), and what
    /// to do about it, on one line.
    pub fn unreadable(&self, provider: &str, subject: &str, error: &AuthError) -> String {
        let delete = format!(
            "delete it with `{}`, then log in again",
            self.logout_local(provider, subject)
        );
        match error {
            AuthError::Store(StoreError::Unencrypted { .. }) => format!(
                "it is stored unencrypted although an encryption key is set, so it is not used: if it was stored before the key was set, run `integrations credentials rotate{}`; otherwise someone else put it there: {delete}",
                self.global_flags()
            ),
            AuthError::CorruptCredentials { reason, .. } => {
                format!("it is damaged ({reason}): {delete}")
            }
            AuthError::Store(StoreError::UnknownKey {
                provider,
                subject,
                key_id,
            }) => format!(
                "{}; otherwise {delete}",
                unknown_key(provider, subject, key_id)
            ),
            other => format!("{other}; {delete}"),
        }
    }

    /// Maps an [`AuthError`].
    pub fn auth(&self, e: AuthError) -> CliError {
        let e = match e {
            AuthError::Store(StoreError::Unencrypted { provider, subject }) => {
                return self.unencrypted(&provider, &subject);
            }
            AuthError::Store(store) => return store_error(store),
            other => other,
        };
        match &e {
            AuthError::NoCredentials {
                provider, subject, ..
            } => CliError::new(
                ExitKind::Auth,
                format!(
                    "no credentials for {provider}/{subject}: run `{}`",
                    self.login(provider, subject)
                ),
            ),
            AuthError::NeedsReauthorization {
                provider,
                subject,
                reason,
            } => CliError::new(
                ExitKind::Auth,
                format!(
                    "the credentials of {provider}/{subject} need re-authorization ({reason}): run `{}`",
                    self.login(provider, subject)
                ),
            ),
            AuthError::Unauthorized {
                provider,
                subject,
                reason,
            } => CliError::new(
                ExitKind::Auth,
                format!(
                    "{provider} rejected the access token of {subject} and it cannot be refreshed ({reason}): run `{}`",
                    self.login(provider, subject)
                ),
            ),
            AuthError::CorruptCredentials {
                provider,
                subject,
                reason,
            } => CliError::new(
                ExitKind::Auth,
                format!(
                    "the stored credentials of {provider}/{subject} are damaged ({reason}) and cannot be used: run `{}` to replace them, or `{}` to delete them",
                    self.login(provider, subject),
                    self.logout_local(provider, subject)
                ),
            ),
            AuthError::RefreshNotSaved { .. } => {
                CliError::new(ExitKind::Other, e.to_string()).retryable(true)
            }
            AuthError::InvalidCredentials {
                provider, subject, ..
            } => CliError::new(
                ExitKind::Auth,
                format!("{e}: run `{}`", self.login(provider, subject)),
            ),
            AuthError::ApiRequest { .. } => CliError::new(ExitKind::Usage, e.to_string()),
            AuthError::Config(ConfigError::Missing {
                provider,
                field,
                env_keys,
            }) => {
                let set = if env_keys.is_empty() {
                    format!("set `{field}` in the [{provider}] section of INTEGRATIONS_CONFIG")
                } else {
                    set_hint(provider, &env_keys.join(" or "))
                };
                let message = if matches!(field.as_str(), "client_id" | "client_secret") {
                    format!(
                        "{provider}: the OAuth app has no `{field}`, which an OAuth login and a token refresh need: {set}"
                    )
                } else {
                    format!("{provider}: missing `{field}`: {set}")
                };
                CliError::new(ExitKind::Config, message)
            }
            AuthError::OAuthNotConfigured { provider, .. }
                if self.without_oauth_app.contains(provider) =>
            {
                let prefix = provider.to_ascii_uppercase();
                CliError::new(
                    ExitKind::Config,
                    format!(
                        "{provider}: the OAuth app is not configured, and an OAuth login and a token refresh need it: {}",
                        set_hint(
                            provider,
                            &format!("{prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET")
                        )
                    ),
                )
            }
            AuthError::Config(_)
            | AuthError::UnknownProvider { .. }
            | AuthError::OAuthNotConfigured { .. } => {
                CliError::new(ExitKind::Config, e.to_string())
            }
            AuthError::OAuth {
                provider,
                code: OAuthErrorCode::InvalidClient | OAuthErrorCode::UnauthorizedClient,
                ..
            } => {
                let prefix = provider.to_ascii_uppercase();
                CliError::new(
                    ExitKind::Config,
                    format!(
                        "{e}: check {prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET (and that the app allows this redirect URI)"
                    ),
                )
            }
            AuthError::OAuth { .. } | AuthError::InvalidTokenResponse { .. } => {
                CliError::new(ExitKind::Remote, e.to_string())
            }
            _ => match e.class() {
                ErrorClass::Transient => {
                    CliError::new(ExitKind::Remote, e.to_string()).retryable(true)
                }
                ErrorClass::NeedsReauthorization => CliError::new(ExitKind::Auth, e.to_string()),
                _ => CliError::new(ExitKind::Other, e.to_string()),
            },
        }
    }

    /// Maps an [`AsanaError`] for (provider, subject).
    pub fn asana(&self, e: AsanaError, subject: &str) -> CliError {
        match e {
            AsanaError::Auth(auth) => self.auth(auth),
            AsanaError::Unauthorized { .. } => CliError::new(
                ExitKind::Auth,
                format!("{e}: run `{}`", self.login("asana", subject)),
            ),
            AsanaError::InvalidUrl { .. } => {
                CliError::new(ExitKind::Config, format!("{e}; check ASANA_API_BASE_URL"))
            }
            AsanaError::InvalidArgument { .. } | AsanaError::MissingWorkspace { .. } => {
                CliError::new(ExitKind::Usage, e.to_string())
            }
            AsanaError::OffOrigin { .. } | AsanaError::HttpClient(_) => {
                CliError::new(ExitKind::Other, e.to_string())
            }
            AsanaError::Service(service) => service_error(service),
            other => {
                let retryable = other.is_retryable();
                CliError::new(ExitKind::Remote, other.to_string()).retryable(retryable)
            }
        }
    }

    /// Maps a declarative provider's [`DeclarativeError`] for `subject`: a token the provider
    /// rejected is an authorization error that names the login to run.
    pub fn declarative(&self, e: DeclarativeError, subject: &str) -> CliError {
        match e {
            DeclarativeError::Auth(auth) => self.auth(auth),
            DeclarativeError::NoWhoami { .. } => CliError::new(ExitKind::Usage, e.to_string()),
            DeclarativeError::Status { ref provider, .. }
            | DeclarativeError::TokenRejected { ref provider, .. }
                if e.rejects_token() =>
            {
                CliError::new(
                    ExitKind::Auth,
                    format!("{e}: run `{}`", self.login(provider, subject)),
                )
            }
            other => CliError::new(ExitKind::Remote, other.to_string()),
        }
    }

    /// Maps an [`ExecuteError`].
    pub fn execute(&self, e: ExecuteError, subject: &str) -> CliError {
        match e {
            ExecuteError::Api(api) => self.asana(api, subject),
            e @ (ExecuteError::UnknownEntity { .. }
            | ExecuteError::UnknownAction { .. }
            | ExecuteError::InvalidParams { .. }) => CliError::new(
                ExitKind::Usage,
                format!("{e} (see `integrations catalog asana`)"),
            ),
            other => CliError::new(ExitKind::Other, other.to_string()),
        }
    }
}

/// Maps a hosted service's [`ServiceError`] (`execute --hosted`).
fn service_error(e: ServiceError) -> CliError {
    let message = e.to_string();
    match e {
        ServiceError::AppCredentials { .. } => CliError::new(
            ExitKind::Config,
            format!(
                "{message}; check INTEGRATIONS_APP_CLIENT_ID and INTEGRATIONS_APP_CLIENT_SECRET"
            ),
        ),
        ServiceError::NoConnector { .. } => CliError::new(ExitKind::Auth, message),
        ServiceError::SeveralConnectors { .. } => {
            CliError::new(ExitKind::Usage, format!("{message} with --connector ID"))
        }
        ServiceError::ConnectorNotFound { .. } => CliError::new(ExitKind::Usage, message),
        other => match other.class() {
            ErrorClass::NeedsReauthorization => CliError::new(ExitKind::Auth, message),
            ErrorClass::Transient => CliError::new(ExitKind::Remote, message).retryable(true),
            _ => CliError::new(ExitKind::Remote, message),
        },
    }
}

/// How to get a key for the hosted service, or run it without one.
pub const SERVICE_KEY_HINT: &str = "set INTEGRATIONS_ENCRYPTION_KEY to base64 of 32 random bytes (make one with `openssl rand -base64 32`, and keep it: credentials stored under it cannot be read without it), or pass --insecure-no-encryption to store connector credentials in plaintext (tests and demos only)";

/// What follows an `apps` command a message suggests: ` (with the same --store)` when `--store`
/// named the service's store, else nothing. The store is never repeated itself: it is shown
/// without its password, so a command that echoed it could not reach the database.
pub fn with_same_store(store_flag: bool) -> &'static str {
    if store_flag {
        " (with the same --store)"
    } else {
        ""
    }
}

/// Maps a [`ServerError`] of the hosted service (`serve`, `apps`) over the store shown as
/// `store_dir`; `store_flag` says whether `--store` named it.
pub fn server_error(e: ServerError, store_dir: &str, store_flag: bool) -> CliError {
    match e {
        ServerError::NoEncryptionKey => CliError::new(
            ExitKind::Config,
            format!(
                "no encryption key for the service's connector credentials: {SERVICE_KEY_HINT}"
            ),
        ),
        ServerError::InvalidConfig { .. } => CliError::new(ExitKind::Config, e.to_string()),
        ServerError::ProviderDefinitions(definitions) => {
            CliError::new(ExitKind::Config, definitions.to_string())
        }
        ServerError::InvalidArgument { .. } => CliError::new(ExitKind::Usage, e.to_string()),
        ServerError::UnknownApplication { id } => CliError::new(
            ExitKind::Usage,
            format!(
                "no application with id `{id}` in {store_dir}; list them with `integrations apps list`{}",
                with_same_store(store_flag)
            ),
        ),
        ServerError::Credentials(store) => store_error(store),
        ServerError::Store(ServiceStoreError::UnknownKey { what, key_id }) => CliError::new(
            ExitKind::Config,
            format!(
                "the service store holds {what} sealed under key `{key_id}`, which is not configured: add that key to {OLD_KEYS_ENV}"
            ),
        ),
        other => CliError::new(ExitKind::Other, other.to_string()),
    }
}

/// Maps a [`StoreError`]: key problems are configuration, the rest is local trouble. It is
/// `retryable` when auth-core classes it as transient (a concurrent write, a lock held past the
/// store's timeout, an I/O failure).
pub fn store_error(e: StoreError) -> CliError {
    let error = match &e {
        StoreError::UnknownKey {
            provider,
            subject,
            key_id,
        } => CliError::new(ExitKind::Config, unknown_key(provider, subject, key_id)),
        StoreError::MissingKey { .. }
        | StoreError::InvalidKey { .. }
        | StoreError::Decrypt { .. } => CliError::new(ExitKind::Config, e.to_string()),
        StoreError::Unencrypted { provider, subject } => {
            Hints::default().unencrypted(provider, subject)
        }
        StoreError::VersionMismatch { .. } => {
            CliError::new(ExitKind::Other, format!("{e}; run the command again"))
        }
        other => CliError::new(ExitKind::Other, other.to_string()),
    };
    let retryable = AuthError::Store(e).is_transient();
    error.retryable(retryable)
}

/// A record encrypted under a key that is not configured, in the command line's words: the
/// variables that configure keys (the library's message speaks of the builder too).
fn unknown_key(provider: &str, subject: &str, key_id: &str) -> String {
    format!(
        "credentials for {provider}/{subject} are encrypted with key `{key_id}`, which is not configured: set {KEY_ENV} to that key, or add it to {OLD_KEYS_ENV}"
    )
}

/// Quotes `s` for a POSIX shell when it holds anything but safe characters.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,:/@+=%".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn no_credentials_says_which_login_to_run() {
        let hints = Hints::default();
        let e = hints.auth(AuthError::NoCredentials {
            provider: "asana".into(),
            subject: "alice".into(),
            fallback_available: false,
        });
        assert_eq!(e.kind(), ExitKind::Auth);
        assert_eq!(
            e.message(),
            "no credentials for asana/alice: run `integrations login asana --subject alice`"
        );
        let hints = Hints {
            store_flag: Some("sqlite:/tmp/my creds.db".into()),
            ..Hints::default()
        };
        assert_eq!(
            hints.login("asana", "default"),
            "integrations login asana --store 'sqlite:/tmp/my creds.db'"
        );
        assert_eq!(hints.login("asana", "o'neil").matches("'\\''").count(), 1);
    }

    #[test]
    fn classes_map_to_exit_codes() {
        let hints = Hints::default();
        let transient = hints.auth(AuthError::Transient {
            provider: "asana".into(),
            operation: integrations::auth_core::TokenOperation::Refresh,
            detail: "HTTP 503".into(),
            retry_after: None,
        });
        assert_eq!(
            (
                transient.kind().code(),
                &transient.to_json()["error"]["retryable"]
            ),
            (5, &serde_json::Value::Bool(true))
        );
        let reauth = hints.auth(AuthError::NeedsReauthorization {
            provider: "asana".into(),
            subject: "default".into(),
            reason: "invalid_grant".into(),
        });
        assert_eq!(reauth.kind().code(), 4);
        assert!(
            reauth.message().ends_with("run `integrations login asana`"),
            "{}",
            reauth.message()
        );
        let client = hints.auth(AuthError::OAuth {
            provider: "asana".into(),
            operation: integrations::auth_core::TokenOperation::Exchange,
            status: 401,
            code: "invalid_client".into(),
            description: None,
        });
        assert_eq!(client.kind(), ExitKind::Config);
        assert!(client.message().contains("ASANA_CLIENT_ID"));
        let state = hints.auth(AuthError::StateExpired {
            provider: "asana".into(),
            ttl: Duration::from_secs(600),
        });
        assert_eq!(state.kind(), ExitKind::Other);
        let key = store_error(StoreError::MissingKey {
            provider: "asana".into(),
            subject: "default".into(),
        });
        assert_eq!(key.kind(), ExitKind::Config);
    }

    #[test]
    fn store_errors_are_retryable_when_auth_core_classes_them_transient() {
        let timed_out = StoreError::Io {
            store: "sqlite",
            location: "/tmp/c.db".into(),
            source: std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "database is locked: another connection held the database lock for longer than the busy timeout; retry later",
            ),
        };
        assert_eq!(
            store_error(timed_out).to_json(),
            serde_json::json!({"error": {
                "kind": "other",
                "exit_code": 1,
                "message": "sqlite store at /tmp/c.db: database is locked: another connection held the database lock for longer than the busy timeout; retry later",
                "retryable": true,
            }})
        );
        let conflict = store_error(StoreError::VersionMismatch {
            provider: "asana".into(),
            subject: "alice".into(),
            expected: 1,
            found: Some(2),
        });
        assert_eq!(
            conflict.to_json(),
            serde_json::json!({"error": {
                "kind": "other",
                "exit_code": 1,
                "message": "credentials for asana/alice changed concurrently (expected version 1, found 2); run the command again",
                "retryable": true,
            }})
        );
        let corrupt = store_error(StoreError::Corrupt {
            store: "file",
            location: "/tmp/c.json".into(),
            reason: "not valid JSON".into(),
        });
        assert_eq!(
            (corrupt.kind(), &corrupt.to_json()["error"]["retryable"]),
            (ExitKind::Other, &serde_json::Value::Bool(false))
        );
        let backend = store_error(StoreError::Backend {
            store: "sqlite",
            message: "disk I/O error".into(),
        });
        assert_eq!(backend.to_json()["error"]["retryable"], false);
        let key = store_error(StoreError::MissingKey {
            provider: "asana".into(),
            subject: "alice".into(),
        });
        assert_eq!(
            (key.kind(), &key.to_json()["error"]["retryable"]),
            (ExitKind::Config, &serde_json::Value::Bool(false))
        );
        let through_auth = Hints::default().auth(AuthError::Store(StoreError::Io {
            store: "file",
            location: "/tmp/c.json".into(),
            source: std::io::Error::new(std::io::ErrorKind::TimedOut, "lock held"),
        }));
        assert_eq!(through_auth.to_json()["error"]["retryable"], true);
    }

    #[test]
    fn apps_hints_say_the_same_store_and_never_echo_it() {
        let shown = "postgres://svc:***@db.example.com:5432/integrations";
        let e = server_error(
            ServerError::UnknownApplication { id: "nope".into() },
            shown,
            true,
        );
        assert_eq!(e.kind(), ExitKind::Usage);
        assert_eq!(
            e.message(),
            "no application with id `nope` in postgres://svc:***@db.example.com:5432/integrations; list them with `integrations apps list` (with the same --store)"
        );
        let e = server_error(
            ServerError::UnknownApplication { id: "nope".into() },
            "/home/me/.local/share/integrations/service",
            false,
        );
        assert_eq!(
            e.message(),
            "no application with id `nope` in /home/me/.local/share/integrations/service; list them with `integrations apps list`"
        );
    }

    #[test]
    fn messages_are_one_line_and_json_has_the_code() {
        let e = CliError::new(ExitKind::Remote, "first\nsecond  line").retryable(true);
        assert_eq!(e.message(), "first second line");
        assert_eq!(
            e.to_json(),
            serde_json::json!({"error": {"kind": "remote", "exit_code": 5, "message": "first second line", "retryable": true}})
        );
        let e = CliError::new(
            ExitKind::Remote,
            "red \u{1b}[31mtext\u{1b}[0m \u{1b}]0;title\u{7} \r\nend\u{9b}2J",
        );
        assert_eq!(e.message(), "red text end");
        let e = CliError::new(ExitKind::Remote, "HTTP 404").detail("status", 404.into());
        assert_eq!(
            e.to_json(),
            serde_json::json!({"error": {"kind": "remote", "exit_code": 5, "message": "HTTP 404", "retryable": false, "status": 404}})
        );
        assert_eq!(e.message(), "HTTP 404");
    }
}
